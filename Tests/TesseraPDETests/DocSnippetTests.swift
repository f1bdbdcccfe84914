import Foundation
import Testing
import TesseraPDE

// The snippets of Sources/TesseraPDE/TesseraPDE.docc, compiled and run here
// (scripts/check-doc-snippets checks that they stay the same).

func run(_ flow: NavierStokes2D) async throws {
    try await flow.advance(to: 10, progress: { report in
        print(report)                                   // "NavierStokes2D time (‰): 120/1000"
    })
}

@Suite("TesseraPDE DocC snippets")
struct DocSnippetTests {
    @Test func overview() throws {
        // 2-D Navier–Stokes from the Taylor–Green vortex, to t = 0.2
        let grid = try Grid.periodic(32)
        let flow = try NavierStokes2D(vorticity: try NavierStokes2D.taylorGreen(grid: grid),
                                      options: NS2DOptions(viscosity: 0.01), effort: .estimate)
        try flow.advance(to: 0.2)
        let energy = flow.diagnostics.energy

        // Poisson: ∇²u = f on the same grid
        let f = try Field<Double>(grid: grid) { c in -2 * sin(c[0]) * sin(c[1]) }
        let u = try SpectralPoisson(grid: grid, effort: .estimate).solve(f)
        #expect(energy > 0 && flow.time >= 0.2)
        #expect(try u.maxDifference(try Field<Double>(grid: grid) { c in sin(c[0]) * sin(c[1]) }) < 1e-10)
    }

    @Test func asyncRun() async throws {
        var o = NS2DOptions(viscosity: 0.05)
        o.maxDt = 0.5
        let flow = try NavierStokes2D(vorticity: try NavierStokes2D.taylorGreen(grid: try Grid.periodic(16)), options: o, effort: .estimate)
        try await run(flow)
        #expect(flow.time >= 10)
    }
}
