// Finite-difference heat and Poisson solvers of TesseraPDE (FDHeat explicit, FDPoisson with
// Jacobi-preconditioned CG) on a grid split over ranks.
//
// The stencil, the explicit heat row update and the diagonal are TesseraPDE's own kernels
// (FDStencil, package-visible), and the CG recurrence is TesseraPDE's ConjugateGradient (one
// part: this rank's block); the boundary ghosts follow TesseraPDE's FD solvers expression for
// expression, so:
//   - explicit heat gives the same bits as FDHeat on one process for any split;
//   - CG gives the same bits as FDPoisson(tiles: dims) on one process: per-rank dot products
//     are summed in rank order (= TiledGrid's tile order) by `orderedSum`.
// Each step starts the halo exchange, computes the interior points that need no remote halo
// while the faces travel, then finishes the shell.

import Foundation
import Tessera
import TesseraPDE

/// A(u) = α·u − β·∇²_h u on the local block of a distributed grid.
final class DistributedOperator {
    let g: DistributedGrid
    let alpha: Double, beta: Double
    let invh2: [Double]
    init(_ g: DistributedGrid, alpha: Double, beta: Double) {
        self.g = g; self.alpha = alpha; self.beta = beta
        invh2 = g.h.enumerated().map { g.halo[$0.offset] == 0 ? 0 : 1 / ($0.element * $0.element) }
    }

    var coefficients: FDCoefficients { FDCoefficients(alpha: alpha, beta: beta, invh2: invh2, threeD: g.halo[0] != 0) }

    /// q = A p over box [lo, hi), row by row (TesseraPDE's FDStencil row kernel); each row's
    /// p·q goes to rowDots[z·LY + y].
    func apply(_ p: UnsafeMutablePointer<Double>, _ q: UnsafeMutablePointer<Double>, lo: [Int], hi: [Int],
               rowDots: UnsafeMutablePointer<Double>?) {
        guard lo[0] < hi[0], lo[1] < hi[1], lo[2] < hi[2] else { return }
        let sy = g.local[2], sz = g.local[1] * g.local[2]
        let k = coefficients
        let ly = g.local[1]
        let rows = (hi[0] - lo[0]) * (hi[1] - lo[1])
        let ny = hi[1] - lo[1]
        g.pool.parallelFor(0..<rows, schedule: .static) { range, _ in
            for rr in range {
                let z = lo[0] + rr / ny, y = lo[1] + rr % ny
                let d = FDStencil.applyRow(p, q, row: g.index(z, y, 0), x0: lo[2], x1: hi[2], sy: sy, sz: sz, k)
                if let rowDots { rowDots[z * ly + y] += d }
            }
        }
    }

    /// Starts the exchange of p, computes q = A p on the inner box, finishes the exchange and
    /// the shell. Returns p·q summed row by row in row order (TiledGrid's order for the tile).
    func applyOverlapped(_ p: AlignedDoubles, _ q: AlignedDoubles, dirichletValues: Bool,
                         rowDots: UnsafeMutablePointer<Double>) throws(TesseraError) -> Double {
        let nRows = g.local[0] * g.local[1]
        rowDots.update(repeating: 0, count: nRows)
        g.fillBoundaries(p, dirichletValues: dirichletValues)
        let reqs = try g.startExchange(p)
        if g.remoteLow[2] || g.remoteHigh[2] {
            // x is shared with a rank: splitting rows would change each row's dot-product
            // order, so wait for the halos and make one pass per row
            try g.finishExchange(reqs)
            let lo = g.halo, hi = (0..<3).map { g.halo[$0] + g.size3[$0] }
            apply(p.pointer, q.pointer, lo: lo, hi: hi, rowDots: rowDots)
        } else {
            let (inner, shell) = g.regions()
            apply(p.pointer, q.pointer, lo: inner[0], hi: inner[1], rowDots: rowDots)
            try g.finishExchange(reqs)
            for b in shell { apply(p.pointer, q.pointer, lo: b[0], hi: b[1], rowDots: rowDots) }
        }
        var dot = 0.0
        for z in g.halo[0]..<(g.halo[0] + g.size3[0]) { for y in 1...g.size3[1] { dot += rowDots[z * g.local[1] + y] } }
        return dot
    }

    /// Diagonal of A at every interior point (Neumann walls reduce it): TesseraPDE's kernel.
    func diagonal(into dg: UnsafeMutablePointer<Double>) {
        FDStencil.diagonal(origin: g.origin3, size: g.size3, local: g.local, halo: g.halo, dims: g.dims, bcs: g.bcs,
                           alpha: alpha, beta: beta, invh2: invh2, into: dg)
    }

    /// Adds β·g/h² next to each Dirichlet boundary face into b (TiledGrid's face order).
    func addBoundaryValues(_ b: AlignedDoubles) {
        for bf in g.boundaryFaces {
            guard case .dirichlet(let gv) = bf.boundary, gv != 0 else { continue }
            let a = bf.axis
            let inner = bf.high ? g.size3[a] + g.halo[a] - 1 : g.halo[a]
            var lo = g.halo, hi = (0..<3).map { g.halo[$0] + g.size3[$0] }
            lo[a] = inner; hi[a] = inner + 1
            for z in lo[0]..<hi[0] { for y in lo[1]..<hi[1] { for x in lo[2]..<hi[2] {
                b.pointer[g.index(z, y, x)] += beta * invh2[a] * gv
            } } }
        }
    }

    @inline(__always) func forInterior(_ body: (Int) -> Void) {
        let hz = g.halo[0]
        for z in hz..<(hz + g.size3[0]) { for y in 1...g.size3[1] {
            let row = g.index(z, y, 0)
            for x in 1...g.size3[2] { body(row + x) }
        } }
    }
}

/// Heat equation u_t = ν∇²u, explicit (forward Euler) finite differences, on a distributed grid.
public final class DistributedHeat: @unchecked Sendable {
    public let grid: DistributedGrid
    public let diffusivity: Double
    public let dt: Double
    let lap: DistributedOperator
    var u: AlignedDoubles, w: AlignedDoubles
    public private(set) var time = 0.0
    /// Seconds spent waiting for halos after the inner compute, summed over steps.
    public private(set) var exchangeWaitSeconds = 0.0

    /// Every rank passes the same global initial field (each keeps its block). Errors:
    /// ν or dt not positive, dt above the explicit stability limit, non-finite u₀.
    public init(initial u0: Field<Double>, diffusivity: Double, dt: Double, on grid: DistributedGrid) throws(TesseraError) {
        try grid.communicator.agree("DistributedHeat", [Agreed("diffusivity", diffusivity), Agreed("dt", dt),
                                                        Agreed("initial field", digestOf: u0.values.toArray())])
        guard diffusivity > 0, diffusivity.isFinite, dt > 0, dt.isFinite else {
            throw .invalidArgument("DistributedHeat: diffusivity \(diffusivity) and dt \(dt) must be positive and finite")
        }
        let limit = FDHeat.explicitLimit(grid: grid.grid, diffusivity: diffusivity)
        guard dt <= limit * (1 + 1e-12) else {
            throw .invalidArgument(String(format: "DistributedHeat: explicit dt = %.4g exceeds the stability limit %.4g", dt, limit))
        }
        try u0.requireFinite("DistributedHeat initial data")
        self.grid = grid
        self.diffusivity = diffusivity
        self.dt = dt
        lap = DistributedOperator(grid, alpha: 0, beta: 1)
        u = try grid.makeVector(); w = try grid.makeVector()
        try grid.scatter(u0, into: u)
    }

    /// Takes `steps` explicit steps (collective). `overlap` computes the inner points while
    /// the halos travel. Errors: steps differing between ranks, MPI errors; `.invalidState`
    /// if the solution stops being finite.
    public func advance(steps: Int, overlap: Bool = true) throws(TesseraError) {
        try grid.communicator.agree("DistributedHeat.advance", [Agreed("steps", steps), Agreed("overlap", overlap)])
        guard steps >= 0 else { throw .invalidArgument("DistributedHeat: steps \(steps) must be >= 0") }
        let c = diffusivity * dt
        let full = (grid.halo, (0..<3).map { grid.halo[$0] + grid.size3[$0] })
        for _ in 0..<steps {
            let up = u.pointer, wp = w.pointer
            grid.fillBoundaries(u, dirichletValues: true)
            let reqs = try grid.startExchange(u)
            let boxes: (first: [[Int]], later: [[[Int]]])
            if overlap { let r = grid.regions(); boxes = (r.inner, r.shell) } else { boxes = ([full.0, full.1], []) }
            if !overlap { try grid.finishExchange(reqs) }
            step(up, wp, boxes.first[0], boxes.first[1], c)
            if overlap {
                let t0 = MPI.wallTime()
                try grid.finishExchange(reqs)
                exchangeWaitSeconds += MPI.wallTime() - t0
                for b in boxes.later { step(up, wp, b[0], b[1], c) }
            }
            swap(&u, &w)
            time += dt
        }
        var bad = 0
        lap.forInterior { if !u.pointer[$0].isFinite { bad = 1 } }
        let anyBad = try grid.communicator.allreduce(bad, op: .max)
        guard anyBad == 0 else { throw .invalidState("DistributedHeat: solution is no longer finite at t = \(time)") }
    }

    /// w = u − c·(−∇²u) on a box: FDHeat's expressions (the operator value, then the update)
    /// in TesseraPDE's one-pass row kernel (reads u, writes w).
    private func step(_ up: UnsafeMutablePointer<Double>, _ wp: UnsafeMutablePointer<Double>, _ lo: [Int], _ hi: [Int], _ c: Double) {
        guard lo[0] < hi[0], lo[1] < hi[1], lo[2] < hi[2] else { return }
        let g = grid
        let sy = g.local[2], sz = g.local[1] * g.local[2]
        let k = lap.coefficients
        let ny = hi[1] - lo[1]
        g.pool.parallelFor(0..<((hi[0] - lo[0]) * ny), schedule: .static) { range, _ in
            for rr in range {
                FDStencil.heatRow(up, wp, row: g.index(lo[0] + rr / ny, lo[1] + rr % ny, 0), x0: lo[2], x1: hi[2],
                                  sy: sy, sz: sz, k, c: c)
            }
        }
    }

    /// The global solution (on every rank; collective).
    public func solution() throws(TesseraError) -> Field<Double> { try grid.gather(u) }

    /// This rank's block of the solution, row-major over its interior.
    public func localSolution() -> [Double] { grid.interior(u) }
}

/// Result of a distributed CG solve (as TesseraPDE's FDSolveReport).
public struct DistributedSolveReport: Sendable {
    public var iterations: Int
    /// ‖b − A·u‖₂ / ‖b‖₂ at exit.
    public var relativeResidual: Double
    public var converged: Bool
}

/// Poisson ∇²u = f by finite differences and Jacobi-preconditioned CG on a distributed grid.
public final class DistributedPoisson: @unchecked Sendable {
    public let grid: DistributedGrid
    let op: DistributedOperator
    let x, r, p, q, z, dinv: AlignedDoubles
    let rowDots: UnsafeMutablePointer<Double>
    /// TesseraPDE's CG recurrence over this rank's block: halos from the neighbouring ranks
    /// (applyOverlapped), partial sums in rank order (orderedSum, = TiledGrid's tile order).
    let cg: ConjugateGradient

    public init(on grid: DistributedGrid, preconditioner: FDPreconditioner = .jacobi) throws(TesseraError) {
        self.grid = grid
        let op = DistributedOperator(grid, alpha: 0, beta: 1)
        self.op = op
        let singular = !grid.grid.boundaries.contains { if case .dirichlet = $0 { return true }; return false }
        let x = try grid.makeVector(), r = try grid.makeVector(), p = try grid.makeVector()
        let q = try grid.makeVector(), z = try grid.makeVector(), dinv = try grid.makeVector()
        self.x = x; self.r = r; self.p = p; self.q = q; self.z = z; self.dinv = dinv
        let rowDots = UnsafeMutablePointer<Double>.allocate(capacity: grid.local[0] * grid.local[1])
        self.rowDots = rowDots
        op.diagonal(into: dinv.pointer)
        let dp = dinv.pointer
        op.forInterior { i in dp[i] = 1 / dp[i] }
        var rows: [Int] = []
        for zz in grid.halo[0]..<(grid.halo[0] + grid.size3[0]) { for y in 1...grid.size3[1] { rows.append(grid.index(zz, y, 0)) } }
        let part = CGPart(x: x.pointer, r: r.pointer, p: p.pointer, q: q.pointer, z: z.pointer, dinv: dinv.pointer,
                          rows: rows, rowLength: grid.size3[2])
        let communicator = grid.communicator
        let env = CGEnvironment(
            forParts: { body in body(0) },
            apply: { (v: CGOperand) throws(TesseraError) -> [Double] in
                [try op.applyOverlapped(v == .x ? x : p, q, dirichletValues: false, rowDots: rowDots)]
            },
            sum: { (partials: [Double], _: Int) throws(TesseraError) -> [Double] in try communicator.orderedSum(partials) })
        cg = ConjugateGradient(parts: [part], environment: env, preconditioner: preconditioner, singular: singular,
                               pointCount: grid.grid.count)
    }
    deinit { rowDots.deallocate() }

    /// Solves ∇²u = f (collective; every rank passes the same global f). Errors: grid
    /// mismatch, non-finite f, tolerance ≤ 0, MPI errors.
    public func solve(_ f: Field<Double>, tolerance: Double = 1e-10, maxIterations: Int? = nil)
        throws(TesseraError) -> (solution: Field<Double>, report: DistributedSolveReport) {
        try grid.communicator.agree("DistributedPoisson", [Agreed("tolerance", tolerance), Agreed("maxIterations", maxIterations ?? -1),
                                                           Agreed("right-hand side", digestOf: f.values.toArray())])
        guard tolerance > 0, tolerance.isFinite else { throw .invalidArgument("DistributedPoisson: tolerance \(tolerance) must be positive") }
        try f.requireFinite("DistributedPoisson right-hand side")
        try grid.scatter(f, into: r)
        let rp0 = r.pointer
        op.forInterior { rp0[$0] = -rp0[$0] }
        op.addBoundaryValues(r)
        x.zero()
        let rep = try cg.solve(tolerance: tolerance, maxIterations: maxIterations ?? 10 * grid.grid.count)
        return (try grid.gather(x), DistributedSolveReport(iterations: rep.iterations, relativeResidual: rep.relativeResidual,
                                                           converged: rep.converged))
    }
}
