import Foundation
import Testing
import TesseraPDE

/// The per-mode diagnosis of a heat model and the rollout-distribution field generator, against
/// analytic references.
@Suite struct LearnedStaggerModeTests {
    /// An untrained model is its base step: explicit 5-point heat sub-steps on each coarse field
    /// alone, whose gain on a mode below the coarse Nyquist limit is (1 − 4ρ(sin²(k_xH/2) +
    /// sin²(k_yH/2)))^sub with no leak to the aliases; the exact and fine-CN columns are the
    /// closed forms.
    @Test func untrainedGainIsTheCoarseExplicitSymbol() throws {
        let n = 32, s = 2, h = 2 * Double.pi / Double(n)
        var cfg = LearnedStaggerConfig(n: n, factor: s, dt: 0.5 * h * h)
        cfg.width = 4; cfg.blocks = 1; cfg.activation = .identity; cfg.base = .coarseExplicit; cfg.biases = false
        let model = try LearnedStagger<Float>(config: cfg, seed: 2)
        // (12, 0) lies above the coarse Nyquist limit n/2s = 8: the coarse stencil sees its
        // alias, but the base step is the same fine stencil (reach s) on every sub-field, so it
        // is shift-invariant by one fine cell too and the mode still goes to itself alone
        let modes = [(1, 0), (3, 2), (5, 5), (7, 1), (12, 0), (11, 9)]
        let r = try model.modeResponse(modes)
        let bigH = h * Double(s), rho = cfg.dt / (bigH * bigH)
        let sub = max(1, Int((rho / 0.2).rounded(.up))), rs = rho / Double(sub)
        for (m, (kx, ky)) in zip(r, modes) {
            let sym = 1 - 4 * rs * (pow(sin(Double(kx) * bigH / 2), 2) + pow(sin(Double(ky) * bigH / 2), 2))
            #expect(abs(m.gain - pow(sym, Double(sub))) <= 1e-6, "(\(kx),\(ky)): \(m.gain) vs \(pow(sym, Double(sub)))")
            #expect(m.leak <= 1e-5 && abs(m.rotation) <= 1e-6)
            let k2 = Double(kx * kx + ky * ky)
            #expect(abs(m.exact - exp(-k2 * cfg.dt)) <= 1e-15)
            let a = -2 * cfg.dt / (h * h) * (pow(sin(Double(kx) * h / 2), 2) + pow(sin(Double(ky) * h / 2), 2))
            #expect(abs(m.fineCN - (1 + a) / (1 - a)) <= 1e-15)
            #expect(abs(m.rolloutError(steps: 3) - (pow(m.gain / m.fineCN, 3) - 1)) <= 1e-9)
        }
        #expect(throws: TesseraError.self) { _ = try model.modeResponse([(0, 0)]) }
        #expect(throws: TesseraError.self) { _ = try model.modeResponse([(16, 0)]) }
    }

    /// A decayed field at time t is the exact heat flow (spectral, independent code) of the same
    /// seed's field at time 0, and its amplitudes follow the power law.
    @Test func decayedFieldIsTheHeatFlowOfThePowerLawField() throws {
        let n = 32, kappa = 0.7, t = 0.05
        let g = try Grid.periodic(n)
        let u0 = try randomDecayedField(n: n, slope: 1, diffusivity: kappa, time: 0, seed: 11)
        let ut = try randomDecayedField(n: n, slope: 1, diffusivity: kappa, time: t, seed: 11)
        let flowed = try SpectralHeat(grid: g, diffusivity: kappa, effort: .estimate).advance(try Field(grid: g, values: u0), by: t)
        #expect(relativeL2(try Field(grid: g, values: ut), flowed) <= 1e-12)
        #expect(abs(u0.reduce(0, +)) <= 1e-12 * Double(n * n))   // no mean
        // other seeds differ; bad arguments throw
        #expect(try randomDecayedField(n: n, slope: 1, diffusivity: kappa, time: 0, seed: 12) != u0)
        #expect(throws: TesseraError.self) { _ = try randomDecayedField(n: 1, slope: 1, diffusivity: 1, time: 0, seed: 1) }
        #expect(throws: TesseraError.self) { _ = try randomDecayedField(n: 8, slope: -1, diffusivity: 1, time: 0, seed: 1) }
        #expect(throws: TesseraError.self) { _ = try randomDecayedField(n: 8, slope: 1, diffusivity: 1, time: .nan, seed: 1) }
    }

    /// `.equivariant` sharing: with random weights the unstaggered step of a linear model still
    /// sends every mode to itself alone (shift-invariant by one fine cell), the s² separate
    /// networks' step does not; and its loss gradient (one network fed s² relabelled inputs)
    /// matches central differences in float64.
    @Test func equivariantSharingHasNoAliasLeak() throws {
        let n = 16, h = 2 * Double.pi / Double(n)
        for s in [2, 4] {
            var cfg = LearnedStaggerConfig(n: n, factor: s, dt: 0.5 * h * h)
            cfg.width = 3; cfg.blocks = 1; cfg.activation = .identity; cfg.base = .coarseExplicit; cfg.biases = false
            cfg.sharing = .equivariant
            var eq = try LearnedStagger<Float>(config: cfg, seed: 4)
            #expect(eq.nets.count == 1)
            eq.nets[0].parameters = eq.nets[0].parameters.enumerated().map { $1 + 0.05 * Float(sin(Double($0))) }
            for c in eq.nets[0].convolutions { for i in 0..<c.outChannels { eq.nets[0].parameters[c.biasOffset + i] = 0 } }
            let modes = [(1, 0), (2, 3), (5, 1), (7, 7)]
            for m in try eq.modeResponse(modes) { #expect(m.leak <= 2e-5, "s \(s) (\(m.kx),\(m.ky)): leak \(m.leak)") }
            cfg.sharing = .separate
            var sep = try LearnedStagger<Float>(config: cfg, seed: 4)
            for j in sep.nets.indices {
                sep.nets[j].parameters = sep.nets[j].parameters.enumerated().map { $1 + 0.05 * Float(sin(Double($0 + 3 * j))) }
                for c in sep.nets[j].convolutions { for i in 0..<c.outChannels { sep.nets[j].parameters[c.biasOffset + i] = 0 } }
            }
            #expect(try sep.modeResponse(modes).contains { $0.leak > 1e-3 })
        }
        var cfg = LearnedStaggerConfig(n: 8, factor: 2, dt: 0.2)
        cfg.width = 3; cfg.blocks = 1; cfg.activation = .gelu; cfg.temporal = 2; cfg.base = .coarseExplicit; cfg.sharing = .equivariant
        var model = try LearnedStagger<Double>(config: cfg, seed: 5)
        model.nets[0].parameters = model.nets[0].parameters.enumerated().map { $1 + 0.05 * sin(Double($0)) }
        let g = try cfg.grid(), residual = try cfg.residual()
        let batch = [try randomDecayedField(n: 8, length: g.lengths[0], slope: 1, diffusivity: 1, time: 0.05, seed: 3)]
        var grads: [[Double]]? = [[Double](repeating: 0, count: model.nets[0].parameters.count)]
        _ = try model.loss(batch, residual: residual, gradient: &grads, integral: 0.5, decay: 0.1, decayFloor: 0.2)
        let fd = try finiteDifferenceGradient(model, net: 0, batch: batch, residual: residual, integral: 0.5, decay: 0.1, floor: 0.2)
        #expect(relErr(grads![0], fd) <= 1e-5, "rel. error \(relErr(grads![0], fd))")
    }
}
