// Finite-difference solvers on tiled grids: the operator A = α·I − β·∇²_h (second-order
// 5-point / 7-point Laplacian), applied tile by tile on the pool after a halo exchange;
// preconditioned conjugate gradients for A·u = b; explicit and Crank–Nicolson heat steps;
// Poisson ∇²u = f with Dirichlet / Neumann / periodic boundaries.
//
// Boundary values: a Dirichlet boundary node contributes β·g/h² to the right-hand side of
// its neighbour (the operator itself uses ghost 0), so A stays symmetric positive
// (semi-)definite and CG applies. Without any Dirichlet axis the Poisson operator is
// singular: the right-hand side is projected to zero mean and the zero-mean solution is
// returned.

import Foundation

/// Preconditioner of the CG solves.
public enum FDPreconditioner: String, Sendable, CaseIterable {
    case none
    /// Diagonal (Jacobi) scaling by the exact diagonal of A (which differs from the interior
    /// value next to Neumann walls). On a constant-coefficient Laplacian this is nearly a
    /// scalar scaling: it barely changes the iteration count (measured in the bench).
    case jacobi
}

/// Result of a CG solve.
public struct FDSolveReport: Sendable {
    public var iterations: Int
    /// ‖b − A·u‖₂ / ‖b‖₂ at exit.
    public var relativeResidual: Double
    public var converged: Bool
}

/// A(u) = α·u − β·∇²_h u on a tiled grid.
final class FDOperator {
    let tg: TiledGrid
    let alpha: Double, beta: Double
    let invh2: [Double]
    init(tg: TiledGrid, alpha: Double, beta: Double) {
        self.tg = tg; self.alpha = alpha; self.beta = beta
        invh2 = tg.h.enumerated().map { tg.halo[$0.offset] == 0 ? 0 : 1 / ($0.element * $0.element) }
    }

    var coefficients: FDCoefficients { FDCoefficients(alpha: alpha, beta: beta, invh2: invh2, threeD: tg.halo[0] != 0) }

    /// q = A p on tile ti (halos of p filled); returns p·q over the tile interior (row sums
    /// added in row order).
    func apply(_ ti: Int, _ p: UnsafeMutablePointer<Double>, _ q: UnsafeMutablePointer<Double>) -> Double {
        let t = tg.tiles[ti]
        let k = coefficients
        let hz = tg.halo[0]
        var dot = 0.0
        for z in hz..<(hz + t.size[0]) {
            for y in 1...t.size[1] {
                dot += FDStencil.applyRow(p, q, row: t.index(z, y, 0), x0: 1, x1: t.size[2] + 1,
                                          sy: t.local[2], sz: t.local[1] * t.local[2], k)
            }
        }
        return dot
    }

    /// The diagonal of A at every interior point of tile ti (Neumann walls reduce it).
    func diagonal(_ ti: Int, into dg: UnsafeMutablePointer<Double>) {
        let t = tg.tiles[ti]
        FDStencil.diagonal(origin: t.origin, size: t.size, local: t.local, halo: tg.halo, dims: tg.dims, bcs: tg.bcs,
                           alpha: alpha, beta: beta, invh2: invh2, into: dg)
    }

    /// Adds β·g/h² for each Dirichlet boundary node next to an interior point into b.
    func addBoundaryValues(_ b: [AlignedDoubles]) {
        for ti in 0..<tg.tiles.count {
            for bf in tg.boundaryFaces[ti] {
                guard case .dirichlet(let g) = bf.boundary, g != 0 else { continue }
                let t = tg.tiles[ti], a = bf.axis
                let inner = bf.high ? t.size[a] + tg.halo[a] - 1 : tg.halo[a]
                var lo = tg.halo, hi = (0..<3).map { tg.halo[$0] + t.size[$0] }
                lo[a] = inner; hi[a] = inner + 1
                for z in lo[0]..<hi[0] { for y in lo[1]..<hi[1] { for x in lo[2]..<hi[2] {
                    b[ti].pointer[t.index(z, y, x)] += beta * invh2[a] * g
                } } }
            }
        }
    }

    /// Interior iteration helper: body(flat local index) for tile ti.
    @inline(__always) func forInterior(_ ti: Int, _ body: (Int) -> Void) {
        let t = tg.tiles[ti], hz = tg.halo[0]
        for z in hz..<(hz + t.size[0]) { for y in 1...t.size[1] {
            let row = t.index(z, y, 0)
            for x in 1...t.size[2] { body(row + x) }
        } }
    }
}

/// Preconditioned conjugate gradients on a tiled grid: the shared recurrence
/// (ConjugateGradient) over the tiles, halos from TiledGrid's exchange, partial sums in tile
/// order.
final class TiledCG {
    let op: FDOperator
    let x, r, p, q, z, dinv: [AlignedDoubles]
    let cg: ConjugateGradient

    init(op: FDOperator, preconditioner: FDPreconditioner, singular: Bool) throws(TesseraError) {
        self.op = op
        let tg = op.tg
        let x = try tg.makeVector(), r = try tg.makeVector(), p = try tg.makeVector()
        let q = try tg.makeVector(), z = try tg.makeVector(), dinv = try tg.makeVector()
        self.x = x; self.r = r; self.p = p; self.q = q; self.z = z; self.dinv = dinv
        tg.forTiles { ti in
            op.diagonal(ti, into: dinv[ti].pointer)
            op.forInterior(ti) { i in dinv[ti].pointer[i] = 1 / dinv[ti].pointer[i] }
        }
        let parts = tg.tiles.indices.map { ti in
            let t = tg.tiles[ti], hz = tg.halo[0]
            var rows: [Int] = []
            for zz in hz..<(hz + t.size[0]) { for y in 1...t.size[1] { rows.append(t.index(zz, y, 0)) } }
            return CGPart(x: x[ti].pointer, r: r[ti].pointer, p: p[ti].pointer, q: q[ti].pointer, z: z[ti].pointer,
                          dinv: dinv[ti].pointer, rows: rows, rowLength: t.size[2])
        }
        let env = CGEnvironment(
            forParts: { body in tg.forTiles(body) },
            apply: { (v: CGOperand) throws(TesseraError) -> [Double] in
                let vs = v == .x ? x : p
                tg.exchangeHalos(vs, dirichletValues: false)
                var dots = [Double](repeating: 0, count: tg.tiles.count)
                dots.withUnsafeMutableBufferPointer { b in
                    let base = b.baseAddress!
                    tg.forTiles { ti in base[ti] = op.apply(ti, vs[ti].pointer, q[ti].pointer) }
                }
                return dots
            },
            sum: { (partials: [Double], width: Int) throws(TesseraError) -> [Double] in
                var out = [Double](repeating: 0, count: width)
                for ti in 0..<(partials.count / width) { for j in 0..<width { out[j] += partials[ti * width + j] } }
                return out
            })
        cg = ConjugateGradient(parts: parts, environment: env, preconditioner: preconditioner, singular: singular,
                               pointCount: tg.grid.count)
    }

    /// Solves A x = b (b in r on entry, x holds the initial guess). Returns the report.
    func solve(tolerance: Double, maxIterations: Int) throws(TesseraError) -> FDSolveReport {
        try cg.solve(tolerance: tolerance, maxIterations: maxIterations)
    }
}

/// Poisson ∇²u = f by second-order finite differences and PCG on a tiled grid.
public final class FDPoisson: @unchecked Sendable {
    public let tiled: TiledGrid
    let cg: TiledCG

    /// Errors: see `TiledGrid.init`.
    public init(grid: Grid, tiles: [Int]? = nil, halo: HaloMethod = .datatype,
                preconditioner: FDPreconditioner = .jacobi, pool: ThreadPool = .shared) throws(TesseraError) {
        tiled = try TiledGrid(grid: grid, tiles: tiles, halo: halo, pool: pool)
        let singular = !grid.boundaries.contains { if case .dirichlet = $0 { return true }; return false }
        cg = try TiledCG(op: FDOperator(tg: tiled, alpha: 0, beta: 1), preconditioner: preconditioner, singular: singular)
    }

    /// Solves ∇²u = f (u = boundary value on Dirichlet sides, ∂u/∂n = 0 on Neumann sides).
    /// Errors: `.invalidArgument` for a grid mismatch, non-finite f or tolerance ≤ 0.
    public func solve(_ f: Field<Double>, tolerance: Double = 1e-10, maxIterations: Int? = nil)
        throws(TesseraError) -> (solution: Field<Double>, report: FDSolveReport) {
        guard f.grid.shape == tiled.grid.shape else {
            throw .invalidArgument("FDPoisson: field shape \(f.grid.shape) != grid \(tiled.grid.shape)")
        }
        guard tolerance > 0, tolerance.isFinite else { throw .invalidArgument("FDPoisson: tolerance \(tolerance) must be positive") }
        try f.requireFinite("FDPoisson right-hand side")
        // A = −∇²: b = −f + boundary terms
        tiled.scatter(f, into: cg.r)
        tiled.forTiles { ti in cg.op.forInterior(ti) { cg.r[ti].pointer[$0] = -cg.r[ti].pointer[$0] } }
        cg.op.addBoundaryValues(cg.r)
        tiled.forTiles { ti in cg.x[ti].zero() }
        let rep = try cg.solve(tolerance: tolerance, maxIterations: maxIterations ?? 10 * tiled.grid.count)
        return (try tiled.gather(cg.x), rep)
    }

    /// One CG iteration's streamed bytes per grid point (for bandwidth figures): matvec reads p
    /// and writes q; the update pass reads x, r, p, q, (1/diag) and writes x, r, z; the
    /// direction pass reads z, p and writes p.
    public static let bytesPerPointPerIteration = 8.0 * (2 + 8 + 3)
}

/// Time-stepping scheme of `FDHeat`.
public enum FDHeatScheme: String, Sendable, CaseIterable {
    /// Forward Euler: stable for ν·dt·Σ 1/h² ≤ ½ (checked before running).
    case explicit
    /// Crank–Nicolson (unconditionally stable, second order in time), solved by PCG each step.
    case crankNicolson
}

/// Heat equation u_t = ν∇²u by finite differences on a tiled grid.
public final class FDHeat: @unchecked Sendable {
    public let tiled: TiledGrid
    public let diffusivity: Double
    public let dt: Double
    public let scheme: FDHeatScheme
    let lap: FDOperator      // −∇² (α 0, β 1)
    var u, w: [AlignedDoubles]
    let cg: TiledCG?
    public private(set) var time = 0.0

    /// The largest stable explicit step ν·dt·Σ 1/h² = ½.
    public static func explicitLimit(grid: Grid, diffusivity: Double) -> Double {
        0.5 / (diffusivity * (0..<grid.dimensions).map { 1 / (grid.spacing($0) * grid.spacing($0)) }.reduce(0, +))
    }

    /// Errors: `.invalidArgument` for ν ≤ 0, dt ≤ 0, non-finite u₀, a grid mismatch, or an
    /// explicit dt above the stability limit (the limit is stated in the message).
    public init(initial u0: Field<Double>, diffusivity: Double, dt: Double, scheme: FDHeatScheme = .explicit,
                tiles: [Int]? = nil, halo: HaloMethod = .datatype, pool: ThreadPool = .shared) throws(TesseraError) {
        guard diffusivity > 0, diffusivity.isFinite, dt > 0, dt.isFinite else {
            throw .invalidArgument("FDHeat: diffusivity \(diffusivity) and dt \(dt) must be positive and finite")
        }
        try u0.requireFinite("FDHeat initial data")
        if scheme == .explicit {
            let limit = FDHeat.explicitLimit(grid: u0.grid, diffusivity: diffusivity)
            guard dt <= limit * (1 + 1e-12) else {
                throw .invalidArgument(String(format: "FDHeat: explicit dt = %.4g exceeds the stability limit dt ≤ 1/(2ν·Σ1/h²) = %.4g; use a smaller dt or .crankNicolson", dt, limit))
            }
        }
        tiled = try TiledGrid(grid: u0.grid, tiles: tiles, halo: halo, pool: pool)
        self.diffusivity = diffusivity
        self.dt = dt
        self.scheme = scheme
        lap = FDOperator(tg: tiled, alpha: 0, beta: 1)
        u = try tiled.makeVector(); w = try tiled.makeVector()
        cg = scheme == .crankNicolson
            ? try TiledCG(op: FDOperator(tg: tiled, alpha: 1, beta: diffusivity * dt / 2), preconditioner: .jacobi, singular: false)
            : nil
        tiled.scatter(u0, into: u)
    }

    /// Takes `steps` steps. Errors: `.invalidState` if the solution stops being finite or a CN
    /// solve does not converge.
    public func advance(steps: Int, tolerance: Double = 1e-12) throws(TesseraError) {
        guard steps >= 0 else { throw .invalidArgument("FDHeat: steps \(steps) must be ≥ 0") }
        for _ in 0..<steps {
            tiled.exchangeHalos(u, dirichletValues: true)
            switch scheme {
            case .explicit:
                // w = u − c·(−∇²u) in one pass per row (FDStencil.heatRow), then u and w swap
                let c = diffusivity * dt
                let k = lap.coefficients, hz = tiled.halo[0]
                let (us, ws) = (u, w)
                tiled.forTiles { ti in
                    let t = tiled.tiles[ti]
                    for z in hz..<(hz + t.size[0]) {
                        for y in 1...t.size[1] {
                            FDStencil.heatRow(us[ti].pointer, ws[ti].pointer, row: t.index(z, y, 0), x0: 1, x1: t.size[2] + 1,
                                              sy: t.local[2], sz: t.local[1] * t.local[2], k, c: c)
                        }
                    }
                }
                swap(&u, &w)
            case .crankNicolson:
                let cg = cg!, c = diffusivity * dt / 2
                tiled.forTiles { ti in
                    _ = lap.apply(ti, u[ti].pointer, w[ti].pointer)
                    let up = u[ti].pointer, wp = w[ti].pointer, rp = cg.r[ti].pointer, xp = cg.x[ti].pointer
                    lap.forInterior(ti) { i in rp[i] = up[i] - c * wp[i]; xp[i] = up[i] }
                }
                // Dirichlet values enter twice: once through the ghosts above (time n), once
                // for time n+1 through the right-hand side.
                cg.op.addBoundaryValues(cg.r)
                let rep = try cg.solve(tolerance: tolerance, maxIterations: 10_000)
                guard rep.converged || rep.relativeResidual < 1e-8 else {
                    throw .invalidState("FDHeat: Crank–Nicolson solve did not converge (residual \(rep.relativeResidual)) at t = \(time)")
                }
                tiled.forTiles { ti in
                    let up = u[ti].pointer, xp = cg.x[ti].pointer
                    lap.forInterior(ti) { i in up[i] = xp[i] }
                }
            }
            time += dt
        }
        let bad = tiled.sumOverTiles { ti in var b = 0.0; lap.forInterior(ti) { if !u[ti].pointer[$0].isFinite { b = 1 } }; return b }
        guard bad == 0 else { throw .invalidState("FDHeat: solution is no longer finite at t = \(time)") }
    }

    /// The current solution.
    public func solution() throws(TesseraError) -> Field<Double> { try tiled.gather(u) }
}
