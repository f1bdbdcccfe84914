import Foundation
import Testing
@testable import TesseraPDE

@Suite("Finite differences on tiled grids")
struct FDTests {
    /// Max error of the Dirichlet (u = sin πx sin πy on [0,1]², boundary 0) or Neumann
    /// (u = cos πx cos πy, zero flux) Poisson solve at n points per axis.
    func poissonError(_ n: Int, neumann: Bool, tiles: [Int]? = nil) throws -> Double {
        let bc: Boundary = neumann ? .neumann : .dirichlet(0)
        let g = try Grid(shape: [n, n], lengths: [1, 1], boundaries: [bc, bc])
        let pi = Double.pi
        let exact = try Field<Double>(grid: g) { c in neumann ? cos(pi * c[0]) * cos(pi * c[1]) : sin(pi * c[0]) * sin(pi * c[1]) }
        var f = exact
        f.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= -2 * pi * pi } }
        let (u, rep) = try FDPoisson(grid: g, tiles: tiles).solve(f, tolerance: 1e-12)
        #expect(rep.converged)
        return try u.maxDifference(exact)
    }

    @Test func poissonConvergesAtSecondOrder() throws {
        for neumann in [false, true] {
            let e = try [16, 32, 64].map { try poissonError($0, neumann: neumann) }
            let order1 = log2(e[0] / e[1]), order2 = log2(e[1] / e[2])
            #expect(order1 > 1.8 && order2 > 1.9, "neumann=\(neumann) errors \(e) orders \(order1) \(order2)")
        }
    }

    @Test func inhomogeneousDirichletAnd3D() throws {
        // u = 1 + x² + y² + z²-ish: harmonic-free check with boundary value 2 and f = 0 → u ≡ 2
        let g = try Grid(shape: [10, 12, 14], lengths: [1, 1, 1], boundaries: [.dirichlet(2), .dirichlet(2), .dirichlet(2)])
        let (u, rep) = try FDPoisson(grid: g, tiles: [2, 1, 3]).solve(try Field(grid: g), tolerance: 1e-13)
        #expect(rep.converged)
        #expect(u.toArray().allSatisfy { abs($0 - 2) < 1e-10 })
        // 3-D manufactured: u = sin πx sin πy sin πz
        let pi = Double.pi
        var errs: [Double] = []
        for n in [12, 24] {
            let g3 = try Grid(shape: [n, n, n], lengths: [1, 1, 1], boundaries: [.dirichlet(0), .dirichlet(0), .dirichlet(0)])
            let ex = try Field<Double>(grid: g3) { c in sin(pi * c[0]) * sin(pi * c[1]) * sin(pi * c[2]) }
            var f = ex
            f.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= -3 * pi * pi } }
            errs.append(try FDPoisson(grid: g3, tiles: [2, 2, 1]).solve(f, tolerance: 1e-12).solution.maxDifference(ex))
        }
        #expect(log2(errs[0] / errs[1]) > 1.8, "3-D errors \(errs)")
    }

    @Test func decomposedSolveEqualsSingleTile() throws {
        for bc in [Boundary.dirichlet(1), .neumann, .periodic] {
            let g = try Grid(shape: [37, 29], lengths: [1, 1.3], boundaries: [bc, bc])
            var f = try Field<Double>(grid: g) { c in sin(7 * c[0]) * cos(3 * c[1]) + c[0] * c[1] }
            if bc != .periodic, case .dirichlet = bc {} else {
                let m = f.toArray().reduce(0, +) / Double(f.count)
                f.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] -= m } }
            }
            let one = try FDPoisson(grid: g, tiles: [1, 1]).solve(f, tolerance: 1e-13).solution
            for tiles in [[2, 1], [1, 3], [3, 2], [5, 4]] {
                for halo in HaloMethod.allCases {
                    let many = try FDPoisson(grid: g, tiles: tiles, halo: halo).solve(f, tolerance: 1e-13).solution
                    let d = try many.maxDifference(one)
                    #expect(d < 1e-10 * Swift.max(1, one.maxAbs), "\(bc) tiles \(tiles) \(halo): \(d)")
                }
            }
        }
    }

    @Test func haloMethodsAgreeBitForBit() throws {
        let g = try Grid(shape: [8, 9, 10], lengths: [1, 1, 1], boundaries: [.periodic, .neumann, .dirichlet(3)])
        let u0 = try Field<Double>(grid: g) { c in c[0] + 10 * c[1] + 100 * c[2] }
        let a = try FDHeat(initial: u0, diffusivity: 0.01, dt: 1e-3, tiles: [2, 3, 2], halo: .datatype)
        let b = try FDHeat(initial: u0, diffusivity: 0.01, dt: 1e-3, tiles: [2, 3, 2], halo: .loop)
        try a.advance(steps: 5); try b.advance(steps: 5)
        #expect(try a.solution().toArray() == b.solution().toArray())
        let c = try FDHeat(initial: u0, diffusivity: 0.01, dt: 1e-3, tiles: [1, 1, 1], halo: .loop)
        try c.advance(steps: 5)
        #expect(try a.solution().toArray() == c.solution().toArray())  // stencil sums do not depend on tiling
    }

    @Test func heatExplicitAndCrankNicolsonDecayModes() throws {
        // periodic box: mode sin(2x)·cos(y) decays as exp(−ν·λ_h·t), λ_h the discrete eigenvalue
        let n = 32, nu = 0.1
        let g = try Grid.periodic(n)
        let h = 2 * Double.pi / Double(n)
        let lam = (4 / (h * h)) * (pow(sin(2 * h / 2), 2) + pow(sin(h / 2), 2))
        let u0 = try Field<Double>(grid: g) { c in sin(2 * c[1]) * cos(c[0]) }
        let limit = FDHeat.explicitLimit(grid: g, diffusivity: nu)
        let dt = 0.5 * limit, steps = 40
        let ex = try FDHeat(initial: u0, diffusivity: nu, dt: dt, tiles: [2, 2])
        try ex.advance(steps: steps)
        let expected = pow(1 - nu * dt * lam, Double(steps))   // forward-Euler amplification
        let exactField = try Field<Double>(grid: g) { c in expected * sin(2 * c[1]) * cos(c[0]) }
        #expect(try ex.solution().maxDifference(exactField) < 1e-12)
        let cn = try FDHeat(initial: u0, diffusivity: nu, dt: 10 * limit, scheme: .crankNicolson, tiles: [3, 1])
        try cn.advance(steps: 4)
        let r = (1 - nu * 10 * limit * lam / 2) / (1 + nu * 10 * limit * lam / 2)
        let cnExact = try Field<Double>(grid: g) { c in pow(r, 4) * sin(2 * c[1]) * cos(c[0]) }
        #expect(try cn.solution().maxDifference(cnExact) < 1e-9)
        // unstable explicit step refused up front, with the limit in the message
        do {
            _ = try FDHeat(initial: u0, diffusivity: nu, dt: 1.01 * limit)
            Issue.record("unstable dt accepted")
        } catch { #expect("\(error)".contains("stability limit")) }
    }

    @Test func heatCrankNicolsonConvergesInTimeAndSpace() throws {
        // Dirichlet 0 on [0,1]²: u = sin πx sin πy e^{−2π²νt}
        let pi = Double.pi, nu = 0.05, T = 0.2
        var errs: [Double] = []
        for n in [15, 31] {
            let g = try Grid(shape: [n, n], lengths: [1, 1], boundaries: [.dirichlet(0), .dirichlet(0)])
            let u0 = try Field<Double>(grid: g) { c in sin(pi * c[0]) * sin(pi * c[1]) }
            let steps = (n + 1) / 2
            let s = try FDHeat(initial: u0, diffusivity: nu, dt: T / Double(steps), scheme: .crankNicolson)
            try s.advance(steps: steps)
            let ex = try Field<Double>(grid: g) { c in sin(pi * c[0]) * sin(pi * c[1]) * exp(-2 * pi * pi * nu * T) }
            errs.append(try s.solution().maxDifference(ex))
        }
        #expect(log2(errs[0] / errs[1]) > 1.8, "CN errors \(errs)")
    }

    @Test func badInput() throws {
        let g1 = try Grid(shape: [16])
        #expect(throws: TesseraError.self) { try FDPoisson(grid: g1) }
        let g = try Grid(shape: [8, 8], boundaries: [.dirichlet(0), .dirichlet(0)])
        #expect(throws: TesseraError.self) { try FDPoisson(grid: g, tiles: [9, 1]) }
        #expect(throws: TesseraError.self) { try FDPoisson(grid: g, tiles: [2]) }
        var f = try Field<Double>(grid: g)
        f.withUnsafeMutableBufferPointer { $0[3] = .infinity }
        #expect(throws: TesseraError.self) { try FDPoisson(grid: g).solve(f) }
        #expect(throws: TesseraError.self) { try Grid(shape: [0, 4]) }
        #expect(throws: TesseraError.self) { try Grid(shape: [4, 4], lengths: [1, -1]) }
        #expect(throws: TesseraError.self) { try Grid(shape: [4, 4], boundaries: [.dirichlet(.nan), .periodic]) }
    }
}

@Suite("NeuralStagger decomposition")
struct StaggerTests {
    @Test func staggerThenUnstaggerIsIdentity() throws {
        var rng = SplitMix(seed: 3)
        let cases: [([Int], [Int])] = [([12], [1]), ([12], [3]), ([12], [12]), ([8, 6], [2, 3]), ([8, 6], [4, 1]),
                                        ([9, 9], [3, 3]), ([4, 6, 8], [2, 3, 4]), ([6, 6, 6], [1, 2, 3]), ([5, 7], [5, 7])]
        for (shape, s) in cases {
            let g = try Grid(shape: shape)
            let f = try Field<Double>(grid: g, values: (0..<g.count).map { _ in rng.uniform() })
            let parts = try Stagger.decompose(f, factors: s)
            #expect(parts.count == s.reduce(1, *))
            #expect(parts[0].grid.shape == zip(shape, s).map { $0 / $1 })
            #expect(try Stagger.recompose(parts, factors: s, grid: g).toArray() == f.toArray(), "\(shape) / \(s)")
        }
        // the offsets: sub-field (a, b) holds points (a + 2p, b + 3q)
        let g = try Grid(shape: [4, 6])
        let f = try Field<Float>(grid: g, values: (0..<24).map(Float.init))
        let parts = try Stagger.decompose(f, factors: [2, 3])
        #expect(parts[4].toArray() == [7, 10, 19, 22])   // offset (1, 1): rows 1, 3; cols 1, 4
    }

    @Test func nonDivisibleSizes() throws {
        let g = try Grid(shape: [7, 5], boundaries: [.neumann, .dirichlet(9)])
        let f = try Field<Double>(grid: g, values: (0..<35).map(Double.init))
        #expect(throws: TesseraError.self) { try Stagger.decompose(f, factors: [2, 2]) }
        #expect(throws: TesseraError.self) { try Stagger.decompose(f, factors: [2]) }
        #expect(throws: TesseraError.self) { try Stagger.decompose(f, factors: [0, 1]) }
        #expect(throws: TesseraError.self) { try Stagger.decompose(f, factors: [8, 1]) }
        let parts = try Stagger.decompose(f, factors: [2, 2], padding: .boundaryConsistent)
        #expect(parts[0].grid.shape == [4, 3])
        #expect(try Stagger.recompose(parts, factors: [2, 2], grid: g).toArray() == f.toArray())
        // padding row 7 mirrors row 6 (Neumann); padding column 5 holds the Dirichlet value
        #expect(parts[2].toArray()[9] == 30)      // offset (1,0): point (7, 0) → mirror of (6, 0) = 30
        #expect(parts[1].toArray()[2] == 9)       // offset (0,1): point (0, 5) → boundary value 9
        #expect(throws: TesseraError.self) { try Stagger.recompose(Array(parts.dropLast()), factors: [2, 2], grid: g) }
    }

    @Test func temporalStaggering() throws {
        for n in 0..<12 { for s in 1...4 {
            let seq = Array(0..<n)
            let parts = try Stagger.decomposeTime(seq, factor: s)
            #expect(parts.count == s)
            #expect(try Stagger.recomposeTime(parts) == seq)
        } }
        #expect(try Stagger.decomposeTime([0, 1, 2, 3, 4], factor: 2) == [[0, 2, 4], [1, 3]])
        #expect(throws: TesseraError.self) { try Stagger.decomposeTime([1], factor: 0) }
        #expect(throws: TesseraError.self) { try Stagger.recomposeTime([[1], [2, 3, 4]]) }
    }

    @Test func staggeredHeatIsExactForBandLimitedData() throws {
        let g = try Grid.periodic(64)
        let u0 = try Field<Double>(grid: g) { c in sin(3 * c[1]) * cos(2 * c[0]) + 0.3 * cos(5 * c[1] - c[0]) }
        let r = try runStaggered(initial: u0, factors: [2, 2], time: 0.4, solver: SpectralHeatCoarseSolver(diffusivity: 0.2)) { u in
            try SpectralHeat(grid: g, diffusivity: 0.2, effort: .estimate).advance(u, by: 0.4)
        }
        #expect(r.maxError! < 1e-13)
        #expect(r.coarseSeconds > 0 && r.fineSeconds > 0)
    }

    @Test func staggeredNavierStokesReportsError() throws {
        let g = try Grid.periodic(64)
        let w0 = try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: 3, seed: 5)
        var o = NS2DOptions(viscosity: 0.01)
        o.cfl = 0.4
        let r = try runStaggered(initial: w0, factors: [2, 2], time: 0.2, solver: NS2DCoarseSolver(options: o)) { w in
            let ns = try NavierStokes2D(vorticity: w, options: o, effort: .estimate)
            try ns.advance(to: 0.2)
            return try ns.vorticity()
        }
        // smooth, large-scale data: the coarse solves track the fine one closely but not exactly
        #expect(r.relativeL2Error! < 0.05, "relative error \(r.relativeL2Error!)")
    }
}
