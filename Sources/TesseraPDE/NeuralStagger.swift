// NeuralStagger decomposition (Huang et al., ICML 2023; see shared/ALGORITHMS.md §7).
//
// Spatial staggering with factors (s_0, …) of a field of shape (n_0, …): sub-field
// (a_0, …), 0 ≤ a_i < s_i, takes the points (a_0 + s_0·p_0, …): s_0·s_1·… interleaved
// coarse fields of shape (n_0/s_0, …) — pixel-unshuffle / space-to-depth. Sub-fields are
// numbered row-major over the offsets (the last axis' offset varies fastest):
//
//     fine 4×4, s = (2, 2)          sub-field 0 (0,0)   1 (0,1)   2 (1,0)   3 (1,1)
//      A b A b                        A A               b b       c c       D D
//      c D c D                        A A               b b       c c       D D
//      A b A b
//      c D c D
//
// Recomposition (pixel-shuffle) puts every value back where it came from, so
// recompose(decompose(u)) == u bit for bit. A size not divisible by its factor is either an
// error (`.exact`) or padded up to the next multiple in the way the axis' boundary condition
// implies (`.boundaryConsistent`: periodic axes wrap around, Neumann axes repeat the edge
// value — a mirror about the wall — and Dirichlet axes take the boundary value);
// recomposition then crops the padding away.
//
// Temporal staggering with factor s_T splits a sequence of states u_0, u_1, … into s_T
// interleaved sequences (u_i, u_{i+s_T}, …); each is advanced by steps of s_T·dt.

import Foundation

/// What to do with an axis whose size is not a multiple of its stagger factor.
public enum StaggerPadding: Sendable, Equatable {
    /// Refuse (`.invalidArgument`).
    case exact
    /// Pad up to the next multiple consistently with the axis' boundary condition.
    case boundaryConsistent
}

/// Spatial and temporal NeuralStagger decomposition.
public enum Stagger {
    /// The coarse fields of `field` for `factors` (one per axis, C order), numbered row-major
    /// over the offsets. Each coarse grid keeps the fine grid's lengths and boundaries.
    /// Errors: `.invalidArgument` for a factor count ≠ dimensions, a factor < 1, or (with
    /// `.exact`) a size not divisible by its factor.
    public static func decompose<T: PDEScalar>(_ field: Field<T>, factors: [Int],
                                               padding: StaggerPadding = .exact) throws(TesseraError) -> [Field<T>] {
        let g = field.grid
        try validate(g.shape, factors, padding)
        let padded = zip(g.shape, factors).map { ($0 + $1 - 1) / $1 * $1 }
        let coarseShape = zip(padded, factors).map { $0 / $1 }
        let cg = try Grid(shape: coarseShape, lengths: g.lengths, boundaries: g.boundaries)
        let src = field.toArray()
        let s3 = pad3(factors, 1), n3 = pad3(g.shape, 1), c3 = pad3(coarseShape, 1)
        let b3 = pad3(g.boundaries, .periodic)
        let nSub = factors.reduce(1, *)
        var out: [Field<T>] = []
        out.reserveCapacity(nSub)
        for k in 0..<nSub {
            let off = [k / (s3[1] * s3[2]), (k / s3[2]) % s3[1], k % s3[2]]
            var vals = [T](repeating: 0, count: c3.reduce(1, *))
            var o = 0
            for z in 0..<c3[0] { for y in 0..<c3[1] { for x in 0..<c3[2] {
                let fi = [off[0] + s3[0] * z, off[1] + s3[1] * y, off[2] + s3[2] * x]
                vals[o] = sample(src, n3, b3, fi)
                o += 1
            } } }
            out.append(try Field(grid: cg, values: vals))
        }
        return out
    }

    /// The fine field rebuilt from coarse fields (inverse of `decompose`); `grid` is the fine
    /// grid (padding, if any, is cropped). Errors: `.invalidArgument` if the count or shapes of
    /// the coarse fields do not match the factors and grid.
    public static func recompose<T: PDEScalar>(_ coarse: [Field<T>], factors: [Int], grid: Grid) throws(TesseraError) -> Field<T> {
        guard factors.count == grid.dimensions, factors.allSatisfy({ $0 >= 1 }) else {
            throw .invalidArgument("Stagger.recompose: factors \(factors) must be ≥ 1, one per axis of \(grid.shape)")
        }
        let coarseShape = zip(grid.shape, factors).map { ($0 + $1 - 1) / $1 }
        guard coarse.count == factors.reduce(1, *), coarse.allSatisfy({ $0.grid.shape == coarseShape }) else {
            throw .invalidArgument("Stagger.recompose: need \(factors.reduce(1, *)) coarse fields of shape \(coarseShape) (got \(coarse.count): \(coarse.first?.grid.shape ?? []))")
        }
        let s3 = pad3(factors, 1), n3 = pad3(grid.shape, 1), c3 = pad3(coarseShape, 1)
        var vals = [T](repeating: 0, count: grid.count)
        for k in 0..<coarse.count {
            let off = [k / (s3[1] * s3[2]), (k / s3[2]) % s3[1], k % s3[2]]
            coarse[k].withUnsafeBufferPointer { c in
                var o = 0
                for z in 0..<c3[0] { for y in 0..<c3[1] { for x in 0..<c3[2] {
                    let fz = off[0] + s3[0] * z, fy = off[1] + s3[1] * y, fx = off[2] + s3[2] * x
                    if fz < n3[0] && fy < n3[1] && fx < n3[2] { vals[(fz * n3[1] + fy) * n3[2] + fx] = c[o] }
                    o += 1
                } } }
            }
        }
        return try Field(grid: grid, values: vals)
    }

    /// Splits a time sequence into `factor` interleaved sequences (sequence i holds states
    /// i, i + factor, …). Errors: `.invalidArgument` for factor < 1.
    public static func decomposeTime<S>(_ states: [S], factor: Int) throws(TesseraError) -> [[S]] {
        guard factor >= 1 else { throw .invalidArgument("Stagger.decomposeTime: factor \(factor) must be ≥ 1") }
        return (0..<factor).map { i in Array(stride(from: i, to: states.count, by: factor).map { states[$0] }) }
    }

    /// Interleaves sequences back into one (inverse of `decomposeTime`). Errors:
    /// `.invalidArgument` if the lengths are not those a split produces (non-increasing, each
    /// within one of the first).
    public static func recomposeTime<S>(_ seqs: [[S]]) throws(TesseraError) -> [S] {
        guard let n0 = seqs.first?.count else { return [] }
        for i in 1..<Swift.max(1, seqs.count) where seqs[i].count > seqs[i - 1].count || seqs[i].count < n0 - 1 {
            throw .invalidArgument("Stagger.recomposeTime: sequence lengths \(seqs.map(\.count)) are not an interleaved split")
        }
        var out: [S] = []
        for t in 0..<n0 { for s in seqs where t < s.count { out.append(s[t]) } }
        return out
    }

    static func validate(_ shape: [Int], _ factors: [Int], _ padding: StaggerPadding) throws(TesseraError) {
        guard factors.count == shape.count else {
            throw .invalidArgument("Stagger: \(factors.count) factors for a \(shape.count)-D field")
        }
        for (a, (n, s)) in zip(shape, factors).enumerated() {
            guard s >= 1 else { throw .invalidArgument("Stagger: factor \(s) on axis \(a) must be ≥ 1") }
            guard s <= n else { throw .invalidArgument("Stagger: factor \(s) on axis \(a) exceeds its \(n) points") }
            if padding == .exact && n % s != 0 {
                throw .invalidArgument("Stagger: axis \(a) has \(n) points, not divisible by factor \(s) (use padding: .boundaryConsistent)")
            }
        }
    }

    static func pad3<E>(_ v: [E], _ fill: E) -> [E] { [E](repeating: fill, count: 3 - v.count) + v }

    /// Value at fine index fi, continuing past the end of an axis as its boundary implies.
    static func sample<T: PDEScalar>(_ src: [T], _ n: [Int], _ b: [Boundary], _ fi: [Int]) -> T {
        var i = fi
        var dirichlet: Double? = nil
        for a in 0..<3 where i[a] >= n[a] {
            switch b[a] {
            case .periodic: i[a] %= n[a]
            case .neumann: i[a] = Swift.max(0, 2 * n[a] - 1 - i[a])   // mirror about the wall
            case .dirichlet(let v): dirichlet = v; i[a] = n[a] - 1
            }
        }
        if let d = dirichlet { return T(d) }
        return src[(i[0] * n[1] + i[1]) * n[2] + i[2]]
    }
}

/// A solver for one coarse sub-problem of a staggered decomposition. It receives all coarse
/// fields (a learned solver may read its neighbours as channels) and advances the one at
/// `index` by `time`. Classical solvers read only `fields[index]`.
public protocol CoarseSolver: Sendable {
    /// Advances `fields[index]` (one of the coarse fields of a decomposition by `factors`) by `time`.
    func advance(_ fields: [Field<Double>], index: Int, factors: [Int], by time: Double) throws -> Field<Double>
}

/// Exact spectral heat flow on each coarse periodic sub-lattice.
public struct SpectralHeatCoarseSolver: CoarseSolver {
    /// Diffusivity κ.
    public var diffusivity: Double
    /// A solver with diffusivity κ.
    public init(diffusivity: Double) { self.diffusivity = diffusivity }
    /// Exact heat flow of `fields[index]` for `time`.
    public func advance(_ fields: [Field<Double>], index: Int, factors: [Int], by time: Double) throws -> Field<Double> {
        try SpectralHeat(grid: fields[index].grid, diffusivity: diffusivity, effort: .estimate).advance(fields[index], by: time)
    }
}

/// 2-D Navier–Stokes on each coarse periodic sub-lattice.
public struct NS2DCoarseSolver: CoarseSolver {
    /// The options of each coarse solve.
    public var options: NS2DOptions
    /// A solver with these options.
    public init(options: NS2DOptions) { self.options = options }
    /// Navier–Stokes from vorticity `fields[index]` for `time`.
    public func advance(_ fields: [Field<Double>], index: Int, factors: [Int], by time: Double) throws -> Field<Double> {
        let ns = try NavierStokes2D(vorticity: fields[index], options: options, effort: .estimate)
        try ns.advance(to: time)
        return try ns.vorticity()
    }
}

/// Outcome of a staggered run.
public struct StaggeredResult: Sendable {
    /// The reassembled fine-resolution solution.
    public var solution: Field<Double>
    /// Wall time of all coarse solves (run in parallel on the pool).
    public var coarseSeconds: Double
    /// Wall time of the fine reference solve (0 if none was run).
    public var fineSeconds: Double
    /// max |staggered − fine| and ‖staggered − fine‖₂/‖fine‖₂ (nil without a reference).
    public var maxError: Double?
    /// ‖staggered − fine‖₂ / ‖fine‖₂ (nil without a reference).
    public var relativeL2Error: Double?
    /// fineSeconds / coarseSeconds.
    public var speedup: Double? { fineSeconds > 0 && coarseSeconds > 0 ? fineSeconds / coarseSeconds : nil }
}

/// Runs a NeuralStagger decomposition: splits `initial` with `factors`, advances every coarse
/// field by `time` with `solver` in parallel on the pool, reassembles the fine field, and
/// (if `reference` is given) compares it with the fine-resolution solve and times both.
public func runStaggered(initial: Field<Double>, factors: [Int], time: Double, solver: any CoarseSolver,
                         padding: StaggerPadding = .exact, pool: ThreadPool = .shared,
                         reference: ((Field<Double>) throws -> Field<Double>)? = nil) throws -> StaggeredResult {
    guard time >= 0, time.isFinite else { throw TesseraError.invalidArgument("runStaggered: time \(time) must be ≥ 0") }
    try initial.requireFinite("runStaggered initial data")
    let coarse = try Stagger.decompose(initial, factors: factors, padding: padding)
    var results = [Result<Field<Double>, any Error>?](repeating: nil, count: coarse.count)
    let t0 = Date()
    results.withUnsafeMutableBufferPointer { rp in
        let base = rp.baseAddress!
        pool.parallelFor(0..<coarse.count, schedule: .dynamic(chunk: 1)) { r, _ in
            for k in r { base[k] = Result { try solver.advance(coarse, index: k, factors: factors, by: time) } }
        }
    }
    let coarseSeconds = Date().timeIntervalSince(t0)
    let advanced = try results.map { try $0!.get() }
    let fine = try Stagger.recompose(advanced, factors: factors, grid: initial.grid)
    var out = StaggeredResult(solution: fine, coarseSeconds: coarseSeconds, fineSeconds: 0)
    if let reference {
        let t1 = Date()
        let ref = try reference(initial)
        out.fineSeconds = Date().timeIntervalSince(t1)
        out.maxError = try fine.maxDifference(ref)
        let a = fine.toArray(), b = ref.toArray()
        var num = 0.0, den = 0.0
        for i in 0..<a.count { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i] }
        out.relativeL2Error = den > 0 ? (num / den).squareRoot() : num.squareRoot()
    }
    return out
}
