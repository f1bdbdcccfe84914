/// A distance matrix copied from a caller's buffer (for the C ABI of TesseraCABI, which gets
/// raw pointers and must not make a second n² copy through `Matrix`).
extension DistanceMatrix {
    /// Copies the full n × n matrix at `pointer` (row i at `pointer + i * rowStride`), with the
    /// checks of `init(full:count:)`: finite, >= 0, zero diagonal, symmetric within `symmetryTolerance`
    /// (the upper triangle is kept and mirrored). The copy and the checks run in parallel over
    /// 64 × 64 tile pairs (row and column reads stay in cache); when a tile finds a problem, the
    /// sequential check of `init(full:count:)` runs again to name the first offending entry.
    package convenience init(copying src: UnsafePointer<Scalar>, count n: Int, rowStride ld: Int,
                             symmetryTolerance tol: Double = 1e-6, pool: ThreadPool = .shared) throws(TesseraError) {
        guard n >= 1 else { throw .invalidArgument("DistanceMatrix: count must be >= 1 (got \(n))") }
        guard ld >= n else { throw .invalidArgument("DistanceMatrix: rowStride \(ld) is smaller than n = \(n)") }
        guard tol >= 0, tol.isFinite else {
            throw .invalidArgument("DistanceMatrix: symmetryTolerance must be finite and >= 0 (got \(tol))")
        }
        try self.init(uninitializedCount: n)
        let dst = pointer
        let b = 64, nb = (n + b - 1) / b
        let bad = ErrorSlot()
        pool.parallelFor(0..<nb, schedule: .dynamic(chunk: 1)) { rows, _ in
            for bi in rows {
                let i0 = bi * b, i1 = min(n, i0 + b)
                for bj in bi..<nb {
                    let j0 = bj * b, j1 = min(n, j0 + b)
                    for i in i0..<i1 {
                        if bi == bj {
                            if src[i * ld + i] != 0 { bad.set(i, i, 0) }
                            dst[i * n + i] = 0
                        }
                        for j in max(j0, i + 1)..<max(j1, i + 1) {
                            let a = src[i * ld + j], c = src[j * ld + i]
                            let da = Double(a), dc = Double(c)
                            if !(a.isFinite && a >= 0 && c.isFinite && c >= 0)
                                || abs(da - dc) > tol * max(da, dc, Double.leastNormalMagnitude) {
                                bad.set(i, j, 0)
                            }
                            dst[i * n + j] = a
                            dst[j * n + i] = a
                        }
                    }
                }
            }
        }
        if bad.first != nil {   // the sequential pass names the first problem in row order
            try Self.fillFromFull(src, n: n, rowStride: ld, tolerance: tol, into: dst)
        }
    }
}
