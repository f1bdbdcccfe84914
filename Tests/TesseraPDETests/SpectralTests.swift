import Foundation
import Testing
@testable import TesseraPDE

@Suite("Spectral solvers (FFTW) against analytic solutions")
struct SpectralTests {
    @Test func poissonManufactured2DAnd3D() throws {
        // u = sin(x)cos(2y) + cos(3x+y): ∇²u = −5 sin x cos 2y − 10 cos(3x+y)
        let g = try Grid.periodic(48)
        let f = try Field<Double>(grid: g) { c in -5 * sin(c[1]) * cos(2 * c[0]) - 10 * cos(3 * c[1] + c[0]) }
        let exact = try Field<Double>(grid: g) { c in sin(c[1]) * cos(2 * c[0]) + cos(3 * c[1] + c[0]) }
        let u = try SpectralPoisson(grid: g, effort: .estimate).solve(f)
        #expect(try u.maxDifference(exact) < 1e-12)
        let g3 = try Grid(shape: [12, 16, 20], lengths: [2, 4, 2 * .pi])
        // u = sin(πz)·cos(πy/2)·sin(2x): ∇²u = −(π² + π²/4 + 4)u
        let lap = -(Double.pi * Double.pi * 1.25 + 4)
        let u3 = try Field<Double>(grid: g3) { c in sin(.pi * c[0]) * cos(.pi * c[1] / 2) * sin(2 * c[2]) }
        var f3 = u3
        f3.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= lap } }
        #expect(try SpectralPoisson(grid: g3, effort: .estimate).solve(f3).maxDifference(u3) < 1e-12)
    }

    @Test func heatDecaysFourierModesExactly() throws {
        let g = try Grid.periodic(32)
        let u0 = try Field<Double>(grid: g) { c in sin(3 * c[1]) + 0.5 * cos(2 * c[0] + c[1]) }
        let nu = 0.1, t = 0.7
        let u = try SpectralHeat(grid: g, diffusivity: nu, effort: .estimate).advance(u0, by: t)
        let exact = try Field<Double>(grid: g) { c in exp(-9 * nu * t) * sin(3 * c[1]) + 0.5 * exp(-5 * nu * t) * cos(2 * c[0] + c[1]) }
        #expect(try u.maxDifference(exact) < 1e-13)
        #expect(throws: TesseraError.self) { try SpectralHeat(grid: g, diffusivity: -1) }
        #expect(throws: TesseraError.self) { try SpectralHeat(grid: g, diffusivity: 1, effort: .estimate).advance(u0, by: .nan) }
    }

    @Test func taylorGreenMatchesAnalyticDecay() throws {
        let g = try Grid.periodic(64)
        let nu = 0.05
        var o = NS2DOptions(viscosity: nu)
        o.maxDt = 0.02
        let ns = try NavierStokes2D(vorticity: try NavierStokes2D.taylorGreen(grid: g), options: o, effort: .estimate)
        try ns.advance(to: 2.0)
        let exact = try Field<Double>(grid: g) { c in 2 * sin(c[1]) * sin(c[0]) * exp(-2 * nu * 2.0) }
        let err = try ns.vorticity().maxDifference(exact)
        #expect(err <= 1e-10, "Taylor–Green error \(err)")
        let d = ns.diagnostics  // u = sin x cos y: E = ½⟨u²+v²⟩ = ¼ e^{−4νt}
        #expect(abs(d.energy - 0.25 * exp(-4 * nu * 2.0)) < 1e-12)
        let (u, _) = try ns.velocity()
        let ue = try Field<Double>(grid: g) { c in sin(c[1]) * cos(c[0]) * exp(-2 * nu * 2.0) }
        #expect(try u.maxDifference(ue) < 1e-10)
    }

    @Test func turbulenceEnergyFollowsEnstrophyBudget() throws {
        // Without forcing, dE/dt = −2νZ exactly for the dealiased Galerkin system.
        let g = try Grid.periodic(64)
        let nu = 2e-3
        var o = NS2DOptions(viscosity: nu)
        o.cfl = 0.3
        let ns = try NavierStokes2D(vorticity: try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 6, seed: 7),
                                    options: o, effort: .estimate)
        let e0 = ns.diagnostics.energy
        var integral = 0.0, zPrev = ns.diagnostics.enstrophy, pPrev = ns.diagnostics.palinstrophy, zIntegral = 0.0
        let z0 = zPrev
        for _ in 0..<150 {
            let dt = try ns.step()
            let d = ns.diagnostics
            integral += dt * (zPrev + d.enstrophy) / 2
            zIntegral += dt * (pPrev + d.palinstrophy) / 2
            zPrev = d.enstrophy; pPrev = d.palinstrophy
        }
        let e1 = ns.diagnostics.energy
        let predicted = -2 * nu * integral
        #expect(e1 < e0)
        #expect(abs((e1 - e0) - predicted) < 2e-3 * abs(predicted), "ΔE \(e1 - e0) vs −2ν∫Z \(predicted)")
        let z1 = ns.diagnostics.enstrophy
        #expect(abs((z1 - z0) + 2 * nu * zIntegral) < 2e-2 * abs(2 * nu * zIntegral))
        let spectrum = ns.energySpectrum()
        #expect(abs(spectrum.reduce(0, +) - e1) < 1e-12 * e1 + 1e-15)
    }

    @Test func nsRejectsBadInput() throws {
        let g = try Grid.periodic(16)
        var w = try NavierStokes2D.taylorGreen(grid: g)
        var o = NS2DOptions(viscosity: 0.01)
        o.fixedDt = 5  // CFL ≫ 1
        let ns = try NavierStokes2D(vorticity: w, options: o, effort: .estimate)
        #expect(throws: TesseraError.self) { try ns.step() }
        #expect(throws: TesseraError.self) { try NavierStokes2D(vorticity: w, options: NS2DOptions(viscosity: -1)) }
        w.withUnsafeMutableBufferPointer { $0[5] = .nan }
        #expect(throws: TesseraError.self) { try NavierStokes2D(vorticity: w, options: NS2DOptions(viscosity: 0.1)) }
        let dg = try Grid(shape: [8, 8], boundaries: [.dirichlet(0), .periodic])
        #expect(throws: TesseraError.self) { try SpectralPoisson(grid: dg) }
        // blow-up is stopped with a diagnostic, not carried on as NaN
        var inviscid = NS2DOptions(viscosity: 0)
        inviscid.fixedDt = 0.2
        inviscid.cflLimit = 100
        let wild = try NavierStokes2D(vorticity: try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 4, energy: 50),
                                      options: inviscid, effort: .estimate)
        var thrown = false
        for _ in 0..<400 { do { try wild.step() } catch { thrown = true; break } }
        #expect(thrown)
        #expect(try wild.vorticity().firstNonFinite == nil)
        // a finite but huge field: its CFL step would take ~1e19 steps to reach t = 1; refused
        var huge = try NavierStokes2D.taylorGreen(grid: g)
        huge.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= 1e20 } }
        let fast = try NavierStokes2D(vorticity: huge, options: NS2DOptions(viscosity: 0.01), effort: .estimate)
        #expect(throws: TesseraError.self) { try fast.advance(to: 1) }
        #expect(fast.steps == 0)
    }

    @Test func burgersMatchesColeHopf() throws {
        // u0 = sin x: φ0 = exp(cos x / 2ν), φ(t) = heat flow of φ0, u = −2ν φ_x/φ.
        let n = 256, nu = 0.1, t = 0.5
        let g = try Grid(shape: [n])
        let b = try Burgers1D(initial: try Field(grid: g) { c in sin(c[0]) }, viscosity: nu, effort: .estimate)
        try b.advance(to: t, dt: 1e-3)
        let u = try b.solution()
        // reference: φ̂ by FFT of φ0, exact heat decay, φ_x spectrally
        let phi0 = try Field<Double>(grid: g) { c in exp((cos(c[0]) - 1) / (2 * nu)) }
        let phi = try SpectralHeat(grid: g, diffusivity: nu, effort: .estimate).advance(phi0, by: t)
        let p = phi.toArray()
        var ref = [Double](repeating: 0, count: n)
        // φ_x by the spectral derivative via the modes of φ (direct DFT, n = 256 is small)
        for i in 0..<n {
            var dphi = 0.0
            for m in 1..<(n / 2) {
                var re = 0.0, im = 0.0
                for j in 0..<n { let a = -2 * Double.pi * Double(m * j) / Double(n); re += p[j] * cos(a); im += p[j] * sin(a) }
                let x = 2 * Double.pi * Double(i) / Double(n)
                // contribution of modes ±m to φ_x: 2·Re(i·m·ĉ_m·e^{imx})/n
                dphi += 2 * Double(m) * (-im * cos(Double(m) * x) - re * sin(Double(m) * x)) / Double(n)
                _ = x
            }
            ref[i] = -2 * nu * dphi / p[i]
            if i > 4 { break }  // a few points suffice for the O(n³) direct reference
        }
        let ua = u.toArray()
        for i in 0...5 { #expect(abs(ua[i] - ref[i]) < 1e-8, "x_\(i): \(ua[i]) vs \(ref[i])") }
        #expect(throws: TesseraError.self) { try b.advance(to: 1, dt: 10) }  // CFL
    }

    @Test func advectionDiffusionOfTranslatingMode() throws {
        let g = try Grid.periodic(32)
        let U = 1.0, V = 0.5, kappa = 0.02, t = 1.0
        let c0 = try Field<Double>(grid: g) { c in sin(c[1] + 2 * c[0]) }
        let vy = try Field<Double>(grid: g) { _ in V }, vx = try Field<Double>(grid: g) { _ in U }
        let solver = try AdvectionDiffusion(initial: c0, velocity: [vy, vx], diffusivity: kappa, effort: .estimate)
        try solver.advance(to: t, dt: 0.01)
        let exact = try Field<Double>(grid: g) { c in sin((c[1] - U * t) + 2 * (c[0] - V * t)) * exp(-5 * kappa * t) }
        let err = try solver.solution().maxDifference(exact)
        #expect(err < 1e-8, "error \(err)")  // RK4 phase error ~ (ω·dt)⁴·ω·t/120
    }

    @Test func fftPlansAreCachedAndWisdomRoundTrips() throws {
        let a = try RealFFT.plan(shape: [32, 32], threads: 1, effort: .estimate)
        let b = try RealFFT.plan(shape: [32, 32], threads: 1, effort: .estimate)
        #expect(a === b)
        #expect(a.complexShape == [32, 17])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tsr-wisdom-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try FFTWisdom.save(to: path)
        try FFTWisdom.load(from: path)
        #expect(throws: TesseraError.self) { try FFTWisdom.load(from: "/nonexistent/wisdom") }
        #expect(throws: TesseraError.self) { try RealFFT.plan(shape: [0, 4]) }
    }
}
