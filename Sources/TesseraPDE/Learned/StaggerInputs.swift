// What the sub-task networks read: the coarse fields themselves, or the staggered parts of the
// FINE 5-point Laplacian of the field (times h², dimensionless), applied once or twice. With a
// derivative input and a linear network without biases the correction is N(h²Lu) (or N(h⁴L²u)):
// it vanishes like |k|² (|k|⁴) at long waves by construction. The exact correction of the heat
// equation's coarse base step is O(|k|⁴) there, and the longest waves are the ones a decaying
// rollout's end error is made of: whatever the optimiser's noise does to the network, it cannot
// reach the mean and reaches k = 1 only scaled by (kh)² (≈ 2.4e-3 at 128²).

/// The operator applied to the field before it enters the networks.
public enum StaggerInputs: String, Sendable, Codable, CaseIterable {
    /// The coarse fields themselves.
    case field
    /// h²·L u, L the fine periodic 5-point Laplacian (the correction then vanishes like |k|²).
    case laplacian
    /// h⁴·L² u (the correction vanishes like |k|⁴, the order of the heat base step's error).
    case bilaplacian
    /// h²·L B u, B the centred fine box filter of width s (odd s; s + 1 with half-weight ends for
    /// even s) on both axes: its symbol vanishes at every alias j·n/s (j ≢ 0 mod s) and is small
    /// around them, so the correction cannot reach the modes constant on every coarse grid (they
    /// keep the base step's gain, exactly 1 for the coarse explicit step) and reaches their
    /// neighbourhoods only scaled down (~30× at s = 4, 128²): whatever Adam's steps do to the
    /// weights, those modes cannot be amplified much — the instability of `.laplacian` at s = 4.
    /// Long waves still enter like |k|² (B ≈ 1 there).
    case aliasFilteredLaplacian

    /// How many times the fine Laplacian is applied.
    var order: Int {
        switch self {
        case .field: return 0
        case .laplacian: return 1
        case .bilaplacian: return 2
        case .aliasFilteredLaplacian: return 1
        }
    }
}

extension LearnedStagger {
    /// The networks' input fields for a batch of s² coarse fields of side `hc` (`coarse[b][k]`):
    /// `coarse` itself for `.field`, else the staggered parts of (h²L)^order of the fine field
    /// they form (alias-filtered first for `.aliasFilteredLaplacian`). Linear in the field, so scale equivariance is kept.
    /// The fine passes run by rows on `pool` (every value computed as serially: same bits).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func features(_ coarse: [[[T]]], side hc: Int, pool: ThreadPool? = nil) -> [[[T]]] {
        let order = (config.inputs ?? .field).order
        guard order > 0 else { return coarse }
        let s = config.factor, m = s * hc
        let next = (0..<m).map { ($0 + 1) % m }, prev = (0..<m).map { ($0 + m - 1) % m }
        return coarse.map { parts in
            var u = [Double](repeating: 0, count: m * m), v = u
            for k in 0..<(s * s) {
                let (oy, ox) = (k / s, k % s)
                for y in 0..<hc { for x in 0..<hc { u[(oy + s * y) * m + ox + s * x] = Double(parts[k][y * hc + x]) } }
            }
            if config.inputs == .aliasFilteredLaplacian { Self.aliasFilter(&u, &v, m, s, pool: pool) }
            for _ in 0..<order {
                u.withUnsafeBufferPointer { up in v.withUnsafeMutableBufferPointer { vp in
                    let (a, o) = (up.baseAddress!, vp.baseAddress!)
                    Self.byRows(m, pool: pool) { y in
                        let n = a + next[y] * m, p = a + prev[y] * m, row = a + y * m, out = o + y * m
                        for x in 0..<m { out[x] = n[x] + p[x] + row[next[x]] + row[prev[x]] - 4 * row[x] }
                    }
                } }
                swap(&u, &v)
            }
            return (0..<(s * s)).map { k in
                let (oy, ox) = (k / s, k % s)
                return (0..<(hc * hc)).map { i in T(u[(oy + s * (i / hc)) * m + ox + s * (i % hc)]) }
            }
        }
    }

    /// `body(y)` for every row y in 0..<m: split over `pool`'s workers when it has several.
    static func byRows(_ m: Int, pool: ThreadPool?, _ body: (Int) -> Void) {
        if let pool, pool.threadCount > 1 {
            pool.parallelFor(0..<m, schedule: .static) { r, _ in for y in r { body(y) } }
        } else {
            for y in 0..<m { body(y) }
        }
    }

    /// The alias filter's taps (width s + 1 with half-weight ends for even s, s for odd s).
    static func aliasFilterWeights(_ s: Int) -> [Double] {
        if s % 2 == 1 { return [Double](repeating: 1 / Double(s), count: s) }
        var w = [Double](repeating: 1 / Double(s), count: s + 1)
        w[0] /= 2; w[s] /= 2
        return w
    }

    /// u ← B u in place (v scratch): the alias filter on both axes of an m×m periodic field,
    /// by rows on `pool`.
    static func aliasFilter(_ u: inout [Double], _ v: inout [Double], _ m: Int, _ s: Int, pool: ThreadPool? = nil) {
        let w = aliasFilterWeights(s), r = (w.count - 1) / 2
        let shift = (0..<w.count).map { j in (0..<m).map { x in (x + j - r + m) % m } }
        u.withUnsafeBufferPointer { up in v.withUnsafeMutableBufferPointer { vp in
            let (a, o) = (up.baseAddress!, vp.baseAddress!)
            byRows(m, pool: pool) { y in
                for x in 0..<m {
                    var acc = 0.0
                    for j in 0..<w.count { acc += w[j] * a[y * m + shift[j][x]] }
                    o[y * m + x] = acc
                }
            }
        } }
        v.withUnsafeBufferPointer { vp in u.withUnsafeMutableBufferPointer { up in
            let (a, o) = (vp.baseAddress!, up.baseAddress!)
            byRows(m, pool: pool) { y in
                for x in 0..<m {
                    var acc = 0.0
                    for j in 0..<w.count { acc += w[j] * a[shift[j][y] * m + x] }
                    o[y * m + x] = acc
                }
            }
        } }
    }
}
