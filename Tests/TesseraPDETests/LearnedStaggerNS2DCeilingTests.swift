import Foundation
import Testing
import TesseraPDE

/// The IF-RK4 residual of the vorticity equation (its gradients against float64 central
/// differences, its zero against NavierStokes2D's own fixed step), the zero of the midpoint
/// residual, and the spectral resampling of the ceiling.
@Suite("Learned NeuralStagger: ns2d residual ceilings")
struct LearnedStaggerNS2DCeilingTests {

    func norm(_ a: [Double]) -> Double { a.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    /// d(mean R²)/dω₀ and /dω₁ of R = ω₁ − Φ^m(ω₀) against central differences (m = 2, fields
    /// with modes above the 2/3 rule).
    @Test func integratingFactorGradientsMatchFiniteDifferences() throws {
        let g = try Grid.periodic(12)
        let r = try NS2DIntegratingFactorResidual(grid: g, viscosity: 0.05, dt: 0.1, substeps: 2)
        let w0 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 2, energy: 0.5, seed: 3).toArray()
            .enumerated().map { $1 + 0.1 * cos(Double(5 * $0)) }
        let w1 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 3, energy: 0.5, seed: 4).toArray()
            .enumerated().map { $1 + 0.1 * sin(Double(7 * $0)) }
        let (_, g0, g1) = r.lossAndGradients(u0: w0, u1: w1)
        let eps = 1e-6
        var fd0 = [Double](repeating: 0, count: w0.count), fd1 = fd0
        for i in fd0.indices {
            var p = w0, m = w0
            p[i] += eps; m[i] -= eps
            fd0[i] = (r.lossAndGradient(u0: p, u1: w1).loss - r.lossAndGradient(u0: m, u1: w1).loss) / (2 * eps)
            p = w1; m = w1
            p[i] += eps; m[i] -= eps
            fd1[i] = (r.lossAndGradient(u0: w0, u1: p).loss - r.lossAndGradient(u0: w0, u1: m).loss) / (2 * eps)
        }
        #expect(relErr(g0, fd0) <= 1e-5, "dω₀: rel. error \(relErr(g0, fd0))")
        #expect(relErr(g1, fd1) <= 1e-5, "dω₁: rel. error \(relErr(g1, fd1))")
        #expect(relErr(r.lossAndGradient(u0: w0, u1: w1).gradient, g1) == 0)
    }

    /// The residual's zero is NavierStokes2D's own fixed step (another implementation of the
    /// same scheme: Basdevant's form, pruned transforms): m steps of Δt/m agree to round-off.
    @Test func integratingFactorZeroIsTheFineSolversStep() throws {
        let g = try Grid.periodic(32)
        let w0 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 3, energy: 0.5, seed: 5)
        for m in [1, 3] {
            var o = NS2DOptions(viscosity: 0.01); o.fixedDt = 0.04 / Double(m)
            let ns = try NavierStokes2D(vorticity: w0, options: o, effort: .estimate)
            for _ in 0..<m { try ns.step(dt: 0.04 / Double(m)) }
            let want = try ns.vorticity().toArray()
            let r = try NS2DIntegratingFactorResidual(grid: g, viscosity: 0.01, dt: 0.04, substeps: m)
            let got = r.advance(w0.toArray())
            #expect(norm(zip(got, want).map { $0 - $1 }) <= 1e-12 * norm(want), "m = \(m)")
            #expect(norm(r.residual(u0: w0.toArray(), u1: want)) <= 1e-12 * norm(want))
        }
        #expect(throws: TesseraError.self) { try NS2DIntegratingFactorResidual(grid: g, viscosity: 0.01, dt: 0.04, substeps: 0) }
    }

    /// The midpoint residual's zero: R vanishes there, and it is within O(Δt³) of the fine
    /// solver's step (halving Δt cuts the gap ~8×).
    @Test func midpointSolveIsTheResidualsZero() throws {
        let g = try Grid.periodic(32)
        let w0 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 3, energy: 0.5, seed: 6)
        var gaps: [Double] = []
        for dt in [0.04, 0.02] {
            let r = try NS2DMidpointResidual(grid: g, viscosity: 0.01, dt: dt)
            let (w1, it) = try r.solve(u0: w0.toArray())
            #expect(it >= 2 && it < 30)
            #expect(norm(r.residual(u0: w0.toArray(), u1: w1)) <= 1e-10 * norm(w0.toArray()))
            let ns = try NavierStokes2D(vorticity: w0, options: NS2DOptions(viscosity: 0.01), effort: .estimate)
            try ns.advance(to: dt)
            gaps.append(norm(zip(w1, try ns.vorticity().toArray()).map { $0 - $1 }))
        }
        #expect(gaps[1] < gaps[0] / 5, "gap should fall like dt³: \(gaps)")
        let r = try NS2DMidpointResidual(grid: g, viscosity: 0.01, dt: 0.04)
        #expect(throws: TesseraError.self) { try r.solve(u0: [1, 2, 3]) }
        #expect(throws: TesseraError.self) { try r.solve(u0: w0.toArray().map { _ in Double.nan }) }
        #expect(throws: TesseraError.self) { try r.solve(u0: w0.toArray(), maxIterations: 1) }
    }

    /// Spectral resampling: a field band-limited below the coarse Nyquist survives fine → coarse
    /// → fine exactly, and its coarse samples are its point values.
    @Test func resamplingKeepsBandLimitedFields() throws {
        let fine = try Grid.periodic(32), coarse = try Grid.periodic(16)
        let f = try Field<Double>(grid: fine) { c in sin(3 * c[1]) * cos(2 * c[0]) + 0.5 * cos(7 * c[1] - 5 * c[0]) }
        let down = try NS2DCeiling.resample(f, to: coarse), up = try NS2DCeiling.resample(down, to: fine)
        #expect(relativeL2(up, f) < 1e-13)
        let direct = try Field<Double>(grid: coarse) { c in sin(3 * c[1]) * cos(2 * c[0]) + 0.5 * cos(7 * c[1] - 5 * c[0]) }
        #expect(relativeL2(down, direct) < 1e-13)
    }

    /// The ceiling curves on a small case: the IF-RK4 zero at the reference's own step size is
    /// within round-off-amplified error of it, the midpoint zero's error falls with T.
    @Test func ceilingCurvesOrderTheSchemes() throws {
        let g = try Grid.periodic(32), nu = 0.01, dt = 0.02
        let w0 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 3, energy: 0.5, seed: 8)
        let ref = try NS2DCeiling.reference(w0, viscosity: nu, dt: dt, steps: 5)
        let mp1 = try NS2DCeiling.curve(.midpoint(temporal: 1), from: w0, viscosity: nu, dt: dt, reference: ref)
        let mp2 = try NS2DCeiling.curve(.midpoint(temporal: 2), from: w0, viscosity: nu, dt: dt, reference: ref)
        let if1 = try NS2DCeiling.curve(.integratingFactor(substeps: 1), from: w0, viscosity: nu, dt: dt, reference: ref)
        let c2 = try NS2DCeiling.curve(.coarseSpectral(factor: 2), from: w0, viscosity: nu, dt: dt, reference: ref)
        #expect(mp1.relativeL2.count == 5 && mp1.relativeL2[4] < 0.02)
        #expect(mp2.relativeL2[4] < mp1.relativeL2[4] / 3, "\(mp2.relativeL2) vs \(mp1.relativeL2)")
        #expect(if1.relativeL2[4] < mp2.relativeL2[4], "\(if1.relativeL2)")
        #expect(c2.relativeL2[4] > if1.relativeL2[4])
        #expect(mp1.stepsWithin(0.1) == 5)
        #expect(throws: TesseraError.self) { try NS2DCeiling.curve(.coarseSpectral(factor: 3), from: w0, viscosity: nu, dt: dt, reference: ref) }
    }

    /// A scheme past its stability limit goes non-finite: its error then reads infinite (a NaN
    /// would count as "within" any threshold) and so does its spectrum ratio, where building the
    /// spectrum's solver from the NaN field threw before.
    @Test func unstableSchemeReadsInfinite() throws {
        let g = try Grid.periodic(32), nu = 0.01, dt = 2.0
        let w0 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 3, energy: 0.5, seed: 8)
        let ref = try NS2DCeiling.reference(w0, viscosity: nu, dt: dt, steps: 8)
        let c = try NS2DCeiling.curve(.integratingFactor(substeps: 1), from: w0, viscosity: nu, dt: dt, reference: ref)
        #expect(c.relativeL2.last == .infinity && c.worstSpectrumRatio == .infinity, "\(c.relativeL2)")
        #expect(c.stepsWithin(0.1) < 8)
    }

    /// The whole ns2d loss with the IF-RK4 residual (two temporal sub-steps, so the chain's
    /// gradient w.r.t. the predicted start of the second step enters too) against central
    /// differences; the scheme options are refused where they do not apply.
    @Test func wholeLossWithTheIntegratingFactorResidual() throws {
        var cfg = LearnedStaggerConfig(n: 8, factor: 2, dt: 0.05)
        cfg.base = .coarseSpectralPersistent; cfg.temporal = 2
        cfg.equation = "ns2d"; cfg.diffusivity = 0.02; cfg.normalization = .fixed(2)
        cfg.scheme = .integratingFactor; cfg.schemeSubsteps = 2
        cfg.width = 3; cfg.blocks = 1; cfg.activation = .gelu
        var model = try LearnedStagger<Double>(config: cfg, seed: 5)
        for j in model.nets.indices {
            model.nets[j].parameters = model.nets[j].parameters.enumerated().map { $1 + 0.05 * sin(Double($0 + 7 * j)) }
        }
        let residual = try cfg.residual()
        #expect(residual is NS2DIntegratingFactorResidual)
        let g = try cfg.grid()
        let batch = try [NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 2, seed: 1).toArray(),
                         NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 2, seed: 2).toArray()]
        for (j, err) in try lossGradientErrors(model, batch: batch, residual: residual).enumerated() {
            #expect(err <= 1e-5, "net \(j): rel. error \(err)")
        }
        var heat = LearnedStaggerConfig(n: 8, factor: 2, dt: 0.05); heat.scheme = .integratingFactor
        #expect(throws: TesseraError.self) { try heat.validate() }
        var mid = cfg; mid.scheme = .midpoint
        #expect(throws: TesseraError.self) { try mid.validate() }
        var many = cfg; many.schemeSubsteps = 0
        #expect(throws: TesseraError.self) { try many.validate() }
    }
}
