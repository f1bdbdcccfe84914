import Foundation
import Testing
import TesseraPDE

/// The vorticity-equation residual of learned NeuralStagger: its gradient against float64
/// central differences, its consistency with the fine spectral solver, and the whole ns2d loss.
@Suite("Learned NeuralStagger: ns2d residual")
struct LearnedStaggerNS2DTests {

    func norm(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// d(mean R²)/dω₁ (with the adjoint of the dealiased advection) against central differences.
    @Test func residualGradientMatchesFiniteDifferences() throws {
        let g = try Grid.periodic(12)
        let r = try NS2DMidpointResidual(grid: g, viscosity: 0.05, dt: 0.1)
        let w0 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 2, energy: 0.5, seed: 3).toArray()
        let w1 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 3, energy: 0.5, seed: 4).toArray()
            .enumerated().map { $1 + 0.1 * sin(Double(7 * $0)) }   // modes above the 2/3 rule too
        let (_, grad) = r.lossAndGradient(u0: w0, u1: w1)
        let eps = 1e-6
        var fd = [Double](repeating: 0, count: w1.count)
        for i in fd.indices {
            var p = w1, m = w1
            p[i] += eps; m[i] -= eps
            fd[i] = (r.lossAndGradient(u0: w0, u1: p).loss - r.lossAndGradient(u0: w0, u1: m).loss) / (2 * eps)
        }
        #expect(relErr(grad, fd) <= 1e-5, "rel. error \(relErr(grad, fd))")
    }

    /// The residual of one step of NavierStokes2D (IF-RK4, another second-or-better scheme) is
    /// O(Δt³) small; a wrong sign or operator in the advection would leave it O(Δt).
    @Test func residualIsSmallOnTheFineSolversStep() throws {
        let g = try Grid.periodic(32)
        let w0 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 3, energy: 0.5, seed: 5)
        var sizes: [Double] = []
        for dt in [0.02, 0.01] {
            let ns = try NavierStokes2D(vorticity: w0, options: NS2DOptions(viscosity: 0.01), effort: .estimate)
            try ns.step(dt: dt)
            let r = try NS2DMidpointResidual(grid: g, viscosity: 0.01, dt: dt)
            let w1 = try ns.vorticity().toArray()
            let res = norm(r.residual(u0: w0.toArray(), u1: w1)), move = norm(zip(w1, w0.toArray()).map { $0 - $1 })
            #expect(res < 1e-3 * move, "dt \(dt): residual \(res) vs change \(move)")
            sizes.append(res)
        }
        #expect(sizes[1] < sizes[0] / 6, "residual should fall like dt³: \(sizes)")
    }

    /// The whole ns2d loss (fixed normalisation, gelu networks, with and without the coarse
    /// spectral base step) against central differences.
    @Test(arguments: [StaggerBase.none, .coarseSpectral]) func wholeNS2DLoss(base: StaggerBase) throws {
        var cfg = LearnedStaggerConfig(n: 8, factor: 2, dt: 0.05)
        cfg.base = base
        cfg.equation = "ns2d"; cfg.diffusivity = 0.02; cfg.normalization = .fixed(2)
        cfg.width = 3; cfg.blocks = 1; cfg.activation = .gelu
        var model = try LearnedStagger<Double>(config: cfg, seed: 5)
        for j in model.nets.indices {
            model.nets[j].parameters = model.nets[j].parameters.enumerated().map { $1 + 0.05 * sin(Double($0 + 7 * j)) }
        }
        let residual = try cfg.residual()
        let g = try cfg.grid()
        let batch = try [NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 2, seed: 1).toArray(),
                         NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 2, seed: 2).toArray()]
        for (j, err) in try lossGradientErrors(model, batch: batch, residual: residual).enumerated() {
            #expect(err <= 1e-5, "net \(j): rel. error \(err)")
        }
    }

    /// ns2d refuses the heat base step and RMS normalisation with a clear error.
    /// An unstable model's own-rollout training inputs (`rolloutInputs`): a step that goes
    /// non-finite keeps the fresh field, instead of handing NaN to the next coarse solve (which
    /// threw out of `train`); training then stops on the NaN loss with its reason.
    @Test func unstableOwnRolloutInputsStopTrainingWithTheReason() throws {
        var cfg = LearnedStaggerConfig(n: 16, factor: 2, dt: 0.05)
        cfg.equation = "ns2d"; cfg.diffusivity = 0.02; cfg.normalization = .fixed(2); cfg.base = .coarseSpectral
        cfg.width = 3; cfg.blocks = 1; cfg.activation = .gelu
        var model = try LearnedStagger<Float>(config: cfg, seed: 5)
        for j in model.nets.indices { model.nets[j].parameters = model.nets[j].parameters.map { $0 * 1e30 } }
        var o = StaggerTrainingOptions(); o.steps = 3; o.batch = 8; o.rolloutInputs = 4; o.patch = 16; o.roughness = 0
        let rep = try model.train(options: o)
        #expect(rep.diverged && rep.stopReason.contains("diverged"))
    }

    @Test func ns2dConfigurationErrors() throws {
        var cfg = LearnedStaggerConfig(n: 16, factor: 2, dt: 0.05)
        cfg.equation = "ns2d"
        #expect(throws: TesseraError.self) { try cfg.validate() }   // rms normalisation
        cfg.normalization = .fixed(3)
        try cfg.validate()
        cfg.base = .coarseExplicit
        #expect(throws: TesseraError.self) { try cfg.validate() }
        cfg.base = .coarseSpectral
        try cfg.validate()
        cfg.equation = "heat"; cfg.normalization = .rms
        #expect(throws: TesseraError.self) { try cfg.validate() }   // a vorticity base for heat
        cfg.base = StaggerBase.none; cfg.equation = "burgers"
        #expect(throws: TesseraError.self) { try cfg.validate() }
    }

    /// With all weights zero an ns2d model with the coarse spectral base is s² independent coarse
    /// NavierStokes2D solves: each sub-field after one step equals the coarse solver's result.
    /// With the persistent base it is that result plus the part of the sub-field above the coarse
    /// 2/3 band, unchanged (the field minus its truncation), which the plain base truncates away.
    @Test(arguments: [StaggerBase.coarseSpectral, .coarseSpectralPersistent]) func coarseSpectralBaseIsTheCoarseSolve(base: StaggerBase) throws {
        var cfg = LearnedStaggerConfig(n: 32, factor: 2, dt: 0.1)
        cfg.equation = "ns2d"; cfg.diffusivity = 0.01; cfg.normalization = .fixed(2); cfg.base = base
        cfg.width = 2; cfg.blocks = 0
        var model = try LearnedStagger<Double>(config: cfg)
        for j in model.nets.indices { model.nets[j].parameters = [Double](repeating: 0, count: model.nets[j].parameters.count) }
        let w0 = try NavierStokes2D.randomTurbulence(grid: try cfg.grid(), peakWavenumber: 4, seed: 8)
        let out = try Stagger.decompose(try model.rollout(w0, steps: 1), factors: [2, 2])
        var highSeen = 0.0
        for (k, part) in try Stagger.decompose(w0, factors: [2, 2]).enumerated() {
            let ns = try NavierStokes2D(vorticity: part, options: NS2DOptions(viscosity: 0.01), effort: .estimate)
            let low = try ns.vorticity().toArray(), w = part.toArray()
            try ns.advance(to: 0.1)
            var want = try ns.vorticity().toArray()
            if base == .coarseSpectralPersistent { want = zip(want, zip(w, low).map { $0 - $1 }).map { $0 + $1 } }
            let got = out[k].toArray()
            #expect(zip(got, want).map { abs($0 - $1) }.max()! < 1e-12 * max(1, want.map(abs).max()!), "sub-field \(k)")
            highSeen = max(highSeen, zip(w, low).map { abs($0 - $1) }.max()!)
        }
        #expect(highSeen > 1e-3, "the test field must have modes above the coarse band")
        var bad = cfg; bad.equation = "heat"; bad.normalization = .rms
        #expect(throws: TesseraError.self) { try bad.validate() }
    }
}
