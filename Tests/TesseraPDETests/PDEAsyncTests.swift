import Foundation
import Testing
import TesseraTestSupport
@testable import TesseraPDE

func fieldBits(_ f: Field<Double>) -> [UInt64] {
    var out = [UInt64]()
    f.withUnsafeBufferPointer { b in out = b.map(\.bitPattern) }
    return out
}

@Suite("PDE async runs: same bits, progress, cancellation")
struct PDEAsyncTests {
    @Test("Navier–Stokes: async advance equals sync; progress in thousandths ends at 1000")
    func navierStokes() async throws {
        let g = try Grid.periodic(32)
        var o = NS2DOptions(viscosity: 0.01)
        o.maxDt = 0.02
        let w0 = try NavierStokes2D.taylorGreen(grid: g)
        let a = try NavierStokes2D(vorticity: w0, options: o, effort: .estimate)
        let b = try NavierStokes2D(vorticity: w0, options: o, effort: .estimate)
        try blocking { try a.advance(to: 0.3) }
        let probe = ProgressProbe()
        try await b.advance(to: 0.3, progress: probe.handler)
        #expect(a.steps == b.steps)
        #expect(fieldBits(try a.vorticity()) == fieldBits(try b.vorticity()))
        probe.checkMonotone(finished: true)
        #expect(probe.all.last?.total == 1000)
    }

    @Test("Navier–Stokes: cancellation stops within a step; the solver keeps its state")
    func navierStokesCancel() async throws {
        let g = try Grid.periodic(32)
        var o = NS2DOptions(viscosity: 0.01)
        o.fixedDt = 0.001
        let ns = try NavierStokes2D(vorticity: try NavierStokes2D.taylorGreen(grid: g), options: o, effort: .estimate)
        // 1000 steps uncancelled; each step is one thousandth
        let probe = ProgressProbe(cancelAt: 5)
        let error = await probe.runCancelled { try await ns.advance(to: 1.0, progress: probe.handler) }
        #expect(error is CancellationError)
        #expect(ns.steps >= 5 && ns.steps <= 7, "steps taken: \(ns.steps) of 1000")
        #expect(abs(ns.time - Double(ns.steps) * 0.001) < 1e-12)
    }

    @Test("Burgers and FD heat: async equals sync")
    func burgersAndHeat() async throws {
        let g = try Grid.periodic(64, dimensions: 1)
        let u0 = try Field<Double>(grid: g) { c in sin(c[0]) }
        let a = try Burgers1D(initial: u0, viscosity: 0.05, effort: .estimate)
        let b = try Burgers1D(initial: u0, viscosity: 0.05, effort: .estimate)
        try blocking { try a.advance(to: 0.5, dt: 0.01) }
        let probe = ProgressProbe()
        try await b.advance(to: 0.5, dt: 0.01, progress: probe.handler)
        #expect(fieldBits(try a.solution()) == fieldBits(try b.solution()))
        probe.checkMonotone(finished: true)
        #expect(probe.all.last?.total == 50)

        let gh = try Grid(shape: [12, 14], lengths: [1, 1], boundaries: [.dirichlet(1), .dirichlet(1)])
        let h0 = try Field<Double>(grid: gh) { c in sin(3 * c[0]) * c[1] }
        let ha = try FDHeat(initial: h0, diffusivity: 0.01, dt: 1e-3)
        let hb = try FDHeat(initial: h0, diffusivity: 0.01, dt: 1e-3)
        try blocking { try ha.advance(steps: 250) }
        let heat = ProgressProbe()
        try await hb.advance(steps: 250, progress: heat.handler)
        #expect(fieldBits(try ha.solution()) == fieldBits(try hb.solution()))
        heat.checkMonotone(finished: true)
        #expect(heat.all.count <= 101)
    }
}
