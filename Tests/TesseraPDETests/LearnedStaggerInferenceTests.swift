import Foundation
import Testing
import TesseraPDE

/// The allocation-free inference path and temporal sub-steps (one network call over T fine steps).
@Suite("Learned NeuralStagger: inference workspaces, temporal sub-steps")
struct LearnedStaggerInferenceTests {
    /// `infer` with a reused workspace gives `forward`'s bits (both paddings, a residual block,
    /// each activation, Float and Double), twice in a row on the same workspace.
    @Test func inferIsBitwiseForward() throws {
        for pad in ConvPadding.allCases {
            for act in NetActivation.allCases {
                let layers: [NetLayer] = [.conv(inChannels: 3, outChannels: 5, kernel: 3),
                                          .residual([.activation(act), .conv(inChannels: 5, outChannels: 5, kernel: 3)]),
                                          .activation(act), .conv(inChannels: 5, outChannels: 2, kernel: 1)]
                let (b, h, w) = (2, 7, 6)
                let f = try ConvNet<Float>(layers: layers, padding: pad, seed: 11)
                let d = try ConvNet<Double>(layers: layers, padding: pad, seed: 11)
                let x = Array(randomSmoothField(n: 16, maxWavenumber: 3, seed: 4).prefix(3 * b * h * w))   // 252 of 256
                let wf = try f.makeWorkspace(batch: b, height: h, width: w), wd = try d.makeWorkspace(batch: b, height: h, width: w)
                for _ in 0..<2 {
                    let xf = x.map { Float($0) }
                    var yf = [Float](repeating: .nan, count: 2 * b * h * w), yd = [Double](repeating: .nan, count: 2 * b * h * w)
                    try xf.withUnsafeBufferPointer { xp in try yf.withUnsafeMutableBufferPointer { yp in
                        try f.infer(xp.baseAddress!, batch: b, height: h, width: w, into: yp.baseAddress!, workspace: wf) } }
                    try x.withUnsafeBufferPointer { xp in try yd.withUnsafeMutableBufferPointer { yp in
                        try d.infer(xp.baseAddress!, batch: b, height: h, width: w, into: yp.baseAddress!, workspace: wd) } }
                    #expect(yf == (try f(xf, batch: b, height: h, width: w)), "\(pad) \(act) Float")
                    #expect(yd == (try d(x, batch: b, height: h, width: w)), "\(pad) \(act) Double")
                }
            }
        }
    }

    /// A workspace of another size is refused with an error, not a crash.
    @Test func wrongWorkspaceIsRefused() throws {
        let net = try ConvNet<Float>(layers: [.conv(inChannels: 1, outChannels: 4, kernel: 3)], padding: .periodic)
        let ws = try net.makeWorkspace(batch: 1, height: 4, width: 4)
        let x = [Float](repeating: 1, count: 25)
        var y = [Float](repeating: 0, count: 100)
        #expect(throws: TesseraError.self) {
            try x.withUnsafeBufferPointer { xp in try y.withUnsafeMutableBufferPointer { yp in
                try net.infer(xp.baseAddress!, batch: 1, height: 5, width: 5, into: yp.baseAddress!, workspace: ws) } }
        }
        #expect(throws: TesseraError.self) { _ = try net.makeWorkspace(batch: 0, height: 4, width: 4) }
        var cfg = LearnedStaggerConfig(n: 16, factor: 2, dt: 0.01)
        cfg.width = 4; cfg.blocks = 1
        let model = try LearnedStagger<Float>(config: cfg)
        let c = try model.split(try Field<Double>(grid: try cfg.grid(), values: randomSmoothField(n: 16, maxWavenumber: 2, seed: 2))).coarse
        #expect(throws: TesseraError.self) { _ = try model.step(coarse: [c], workspaces: try model.makeWorkspaces(batch: 2)) }
        #expect(throws: TesseraError.self) { _ = try model.step(coarse: [c], workspaces: []) }
        // with workspaces and without: the same step
        #expect(try model.step(coarse: [c], workspaces: try model.makeWorkspaces()) == model.step(coarse: [c]))
    }

    /// Temporal sub-steps: one network call covers T = 4 fine CN steps (κΔt/h² = 0.5 each),
    /// trained on the fine residual of the 4 chained steps (with its integral form) from
    /// decayed power-law fields of the rollout's horizon, one equivariant linear network without
    /// biases (600 Adam steps, no solver data): after one step within 2 % of FDHeat CN and 10×
    /// closer than CN taking the large step itself (the residual of one large step would train
    /// towards that); over 6 steps (24 fine steps, t ≈ 1.9, the field decays to 1/15) within
    /// 2.5 % (measured 1.6 %, the base step alone 3.3 %), better than the base step alone, and
    /// far from persistence.
    @Test func temporalSubstepsHeatModel() throws {
        let n = 16, h = 2 * Double.pi / Double(n), k = 4
        var cfg = LearnedStaggerConfig(n: n, factor: 2, dt: 0.5 * h * h)
        cfg.width = 6; cfg.blocks = 1; cfg.activation = .identity; cfg.base = .coarseExplicit; cfg.temporal = k
        cfg.sharing = .equivariant; cfg.biases = false
        var model = try LearnedStagger<Float>(config: cfg, seed: 3)
        var o = StaggerTrainingOptions()
        o.steps = 600; o.batch = 4; o.learningRate = 1e-3; o.integralWeight = 1; o.roughness = 0
        o.decayedHorizon = 6 * cfg.learnedStep; o.validationEvery = 50
        let rep = try model.train(options: o)
        #expect(!rep.diverged)
        let u0 = try Field<Double>(grid: try cfg.grid(), values: randomSmoothField(n: n, maxWavenumber: 3, seed: 999))
        let c = try model.compareHeatRollout(u0, steps: 6)
        var base = model
        base.nets = try model.nets.map { (net) throws(TesseraError) in try net.with(parameters: [Float](repeating: 0, count: net.parameters.count)) }
        let b = try base.compareHeatRollout(u0, steps: 6)
        print("tiny heat K=\(k): rel. L2 \(c.relativeL2), base alone \(b.relativeL2), CN with the large step \(c.sameStepRelativeL2), persistence \(c.persistenceL2), kept step \(rep.bestStep ?? -1)")
        #expect(c.fineStepsPerStep == k && c.sameStepRelativeL2.count == 6)
        #expect(c.relativeL2[0] < 0.02 && c.relativeL2[0] * 10 < c.sameStepRelativeL2[0], "rel. L2 \(c.relativeL2)")
        #expect(c.maxRelativeL2 < 0.025 && c.maxRelativeL2 < 0.75 * b.maxRelativeL2, "rel. L2 \(c.relativeL2), base \(b.relativeL2)")
        #expect(c.relativeL2.last! * 5 < c.persistenceL2)
        // T = 1: CN with "the large step" is the reference itself
        cfg.temporal = 1
        let one = try LearnedStagger<Float>(config: cfg).compareHeatRollout(u0, steps: 2)
        #expect(one.sameStepRelativeL2.allSatisfy { $0 == 0 })
        cfg.temporal = 0
        #expect(throws: TesseraError.self) { _ = try LearnedStagger<Float>(config: cfg) }
    }

    /// d(mean R²)/du₀ of both residuals (needed to chain T sub-steps) against central differences.
    @Test func residualGradientsWithRespectToTheStart() throws {
        let g = try Grid.periodic(12)
        let residuals: [any StepResidual] = [try HeatCNResidual(grid: g, diffusivity: 0.7, dt: 0.3),
                                             try NS2DMidpointResidual(grid: g, viscosity: 0.05, dt: 0.1)]
        let w0 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 2, energy: 0.5, seed: 3).toArray()
            .enumerated().map { $1 + 0.1 * sin(Double(5 * $0)) }
        let w1 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 3, energy: 0.5, seed: 4).toArray()
        for r in residuals {
            let (l, g0, g1) = r.lossAndGradients(u0: w0, u1: w1)
            #expect(l == r.lossAndGradient(u0: w0, u1: w1).loss && g1 == r.lossAndGradient(u0: w0, u1: w1).gradient)
            let eps = 1e-6
            var fd = [Double](repeating: 0, count: w0.count)
            for i in fd.indices {
                var p = w0, m = w0
                p[i] += eps; m[i] -= eps
                fd[i] = (r.lossAndGradient(u0: p, u1: w1).loss - r.lossAndGradient(u0: m, u1: w1).loss) / (2 * eps)
            }
            #expect(relErr(g0, fd) <= 1e-5, "\(type(of: r)): rel. error \(relErr(g0, fd))")
        }
    }

    /// The whole loss with T = 3 chained sub-steps (heat with the coarse explicit base, ns2d with
    /// the coarse spectral base) against central differences in float64, and on 2 workers bitwise
    /// the serial one.
    @Test func wholeTemporalLoss() throws {
        let pool2 = try ThreadPool(threads: 2)
        for eq in ["heat", "ns2d"] {
            var cfg = LearnedStaggerConfig(n: 8, factor: 2, dt: eq == "heat" ? 0.2 : 0.05)
            cfg.width = 3; cfg.blocks = 1; cfg.activation = .gelu; cfg.temporal = 3
            if eq == "ns2d" {
                cfg.equation = "ns2d"; cfg.diffusivity = 0.02; cfg.normalization = .fixed(2); cfg.base = .coarseSpectral
            } else {
                cfg.base = .coarseExplicit
            }
            var model = try LearnedStagger<Double>(config: cfg, seed: 5)
            for j in model.nets.indices {
                model.nets[j].parameters = model.nets[j].parameters.enumerated().map { $1 + 0.05 * sin(Double($0 + 7 * j)) }
            }
            let residual = try cfg.residual(), grid = try cfg.grid()
            let batch = try [NavierStokes2D.randomTurbulence(grid: grid, peakWavenumber: 2, seed: 1).toArray(),
                             NavierStokes2D.randomTurbulence(grid: grid, peakWavenumber: 2, seed: 2).toArray()]
            for (integral, smoothing, decay) in [(0.0, 0.0, 0.0), (0.7, 0.0, 0.0), (0.7, 0.3, 0.0), (0.7, 0.3, 0.2), (0.0, 0.0, 0.5)] {
                let floor = decay > 0.3 ? 0.0 : 0.1
                var grads: [[Double]]? = model.nets.map { [Double](repeating: 0, count: $0.parameters.count) }
                let l = try model.loss(batch, residual: residual, gradient: &grads, integral: integral, smoothing: smoothing, decay: decay, decayFloor: floor)
                var grads2: [[Double]]? = model.nets.map { [Double](repeating: 0, count: $0.parameters.count) }
                #expect(try model.loss(batch, residual: residual, gradient: &grads2, pool: pool2, integral: integral, smoothing: smoothing,
                                       decay: decay, decayFloor: floor) == l)
                #expect(grads2! == grads!)
                for j in model.nets.indices {
                    let fd = try finiteDifferenceGradient(model, net: j, batch: batch, residual: residual, integral: integral,
                                                          smoothing: smoothing, decay: decay, floor: floor)
                    #expect(relErr(grads![j], fd) <= 1e-5, "\(eq) integral \(integral) smoothing \(smoothing) decay \(decay) net \(j): rel. error \(relErr(grads![j], fd))")
                }
            }
            // the integral term is linear in its weight and positive
            var none: [[Double]]? = nil
            let l0 = try model.loss(batch, residual: residual, gradient: &none), l1 = try model.loss(batch, residual: residual, gradient: &none, integral: 1)
            let summed = try model.loss(batch, residual: residual, gradient: &none, integral: 0.25)
            #expect(abs(summed - (l0 + 0.25 * (l1 - l0))) <= 1e-12 * max(1, l1))
            #expect(l1 > l0)
            #expect(throws: TesseraError.self) { _ = try model.loss(batch, residual: residual, gradient: &none, integral: -1) }
            #expect(throws: TesseraError.self) { _ = try model.loss(batch, residual: residual, gradient: &none, decay: -1) }
            #expect(throws: TesseraError.self) { _ = try model.loss(batch, residual: residual, gradient: &none, decay: 1, decayFloor: 2) }
        }
    }
}
