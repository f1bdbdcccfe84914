import Foundation
import Testing
@testable import TesseraPDE

/// Held-out model selection and bias-free networks of the learned NeuralStagger heat model.
@Suite("Learned NeuralStagger: held-out selection, bias-free networks")
struct LearnedStaggerSelectionTests {
    func config(biases: Bool) -> LearnedStaggerConfig {
        let n = 16, h = 2 * Double.pi / Double(n)
        var c = LearnedStaggerConfig(n: n, factor: 2, dt: 0.5 * h * h)
        c.width = 4; c.blocks = 1; c.activation = .identity; c.base = .coarseExplicit; c.temporal = 3; c.biases = biases
        return c
    }

    /// With `validationEvery`, the kept parameters are those of the lowest held-out loss: their
    /// loss on the held-out fields (recomputed here independently) is the reported best, which
    /// is never above the untrained model's.
    @Test func keepsTheBestHeldOutParameters() throws {
        var model = try LearnedStagger<Double>(config: config(biases: true), seed: 2)
        var o = StaggerTrainingOptions()
        o.steps = 40; o.batch = 2; o.learningRate = 3e-2; o.maxWavenumber = 3; o.validationEvery = 10; o.validationFields = 3
        o.integralWeight = 0.5
        let untrained = model
        let rep = try model.train(options: o)
        let v0 = try #require(rep.initialValidationLoss), best = try #require(rep.bestValidationLoss), kept = try #require(rep.bestStep)
        #expect(best <= v0 && [0, 10, 20, 30, 40].contains(kept))
        // the held-out fields as `train` draws them (seeded), evaluated again on the kept model
        var held: [[Double]] = []
        for j in 0..<3 {
            held.append(randomSmoothField(n: 16, length: 2 * Double.pi, maxWavenumber: 3, seed: o.seed &* 7_777_777 &+ UInt64(j) &+ 0xABCD))
        }
        var none: [[Double]]? = nil
        let residual = try config(biases: true).residual()
        #expect(try model.loss(held, residual: residual, gradient: &none, integral: 1) == best)
        #expect(try untrained.loss(held, residual: residual, gradient: &none, integral: 1) == v0)
        if kept == 0 { #expect(model.nets.map(\.parameters) == untrained.nets.map(\.parameters)) }
        o.validationEvery = -1
        #expect(throws: TesseraError.self) { _ = try model.train(options: o) }
    }

    /// `biases: false` keeps every bias at exactly zero through training (the trained model is
    /// then exactly scale-equivariant), a weight file with non-zero biases is refused for it,
    /// and configurations without the field load as biased.
    @Test func biasFreeNetworksStayBiasFree() throws {
        var model = try LearnedStagger<Float>(config: config(biases: false), seed: 4)
        var o = StaggerTrainingOptions()
        o.steps = 30; o.batch = 2; o.learningRate = 1e-2; o.maxWavenumber = 3
        let rep = try model.train(options: o)
        #expect(!rep.diverged && rep.steps == 30)
        for net in model.nets {
            for c in net.convolutions { #expect((0..<c.outChannels).allSatisfy { net.parameters[c.biasOffset + $0] == 0 }) }
            let out = net.convolutions.last!
            #expect((0..<out.weightCount).contains { net.parameters[out.weightOffset + $0] != 0 }, "the zero-initialised output layer was trained")
        }
        // with a fixed input scale the networks see the field's own size: the bias-free model's
        // rollout of 10⁻³·u is 10⁻³ × its rollout of u; a trained biased one's is not
        var fixed = config(biases: false)
        fixed.normalization = .fixed(1)
        var biasedModel = try LearnedStagger<Float>(config: { var c = fixed; c.biases = true; return c }(), seed: 4)
        _ = try biasedModel.train(options: o)
        let equivariant = try LearnedStagger<Float>(config: fixed, nets: model.nets)
        let u = randomSmoothField(n: 16, maxWavenumber: 3, seed: 5)
        let g = try fixed.grid()
        func defect(_ m: LearnedStagger<Float>) throws -> Double {
            let a = try m.rollout(try Field<Double>(grid: g, values: u), steps: 2).toArray()
            let b = try m.rollout(try Field<Double>(grid: g, values: u.map { 1e-3 * $0 }), steps: 2).toArray()
            return relErr(a.map { 1e-3 * $0 }, b)
        }
        #expect(try defect(equivariant) < 1e-5)
        #expect(try defect(biasedModel) > 1e-3)
        // a file whose biases are non-zero does not fit a bias-free configuration
        var biased = model.nets
        biased[0].parameters[biased[0].convolutions[0].biasOffset] = 0.5
        #expect(throws: TesseraError.self) { _ = try LearnedStagger<Float>(config: config(biases: false), nets: biased) }
        _ = try LearnedStagger<Float>(config: config(biases: true), nets: biased)
        let json = try JSONEncoder().encode(config(biases: true))
        var dict = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        dict.removeValue(forKey: "biases")
        let old = try JSONDecoder().decode(LearnedStaggerConfig.self, from: try JSONSerialization.data(withJSONObject: dict))
        #expect(old.trainsBiases)
    }

    /// The residual weighting P = (I − c∇²)⁻¹ against its definition: a Fourier mode of
    /// wavenumber (kx, ky) is scaled by 1/(1 + c(kx² + ky²)), a constant is kept; P is symmetric.
    @Test func residualSmootherIsTheInverseHelmholtzMultiplier() throws {
        let n = 12, g = try Grid(shape: [n, n], lengths: [3, 3]), c = 0.2
        let p = try ResidualSmoother(grid: g, c: c)
        let w = 2 * Double.pi / 3
        for (kx, ky) in [(0, 0), (1, 0), (2, 3), (5, 1)] {
            let f = (0..<(n * n)).map { i in cos(w * (Double(kx * (i % n)) + Double(ky * (i / n))) * 3 / Double(n) + 0.4) }
            let want = f.map { $0 / (1 + c * w * w * Double(kx * kx + ky * ky)) }
            #expect(relErr(p.apply(f), want) < 1e-13, "mode (\(kx), \(ky))")
            #expect(relErr(p.apply(f, times: 2), want.map { $0 / (1 + c * w * w * Double(kx * kx + ky * ky)) }) < 1e-13)
        }
        let a = (0..<(n * n)).map { sin(Double($0 * $0 % 17)) }, b = (0..<(n * n)).map { cos(Double($0 % 7)) }
        let ab = zip(p.apply(a), b).reduce(0) { $0 + $1.0 * $1.1 }, ba = zip(a, p.apply(b)).reduce(0) { $0 + $1.0 * $1.1 }
        #expect(abs(ab - ba) < 1e-12 * max(1, abs(ab)))
        #expect(throws: TesseraError.self) { _ = try ResidualSmoother(grid: g, c: -1) }
    }
}
