/// Distance matrices from data, on the pool.
///
/// Euclidean, squared Euclidean and Manhattan use the direct kernel (features in order, one
/// `fma(v, v, s)` or `s + |v|` per feature in the element type), in one of two forms with the same
/// bits. Whole rows (`S.distanceRows`): each task computes 16 rows against every point in L1-sized
/// tiles and writes them once with streaming stores; the formula is symmetric in the two points,
/// so row i and column i get the same bits without a mirror pass and no entry is read back. By
/// symmetric row blocks (`S.distanceSymmetric`): each task takes 256 rows from the diagonal on,
/// each pair once (half the arithmetic), and stores every 16 × 16 block twice, as rows and,
/// transposed in registers, as the mirror's columns. The second form wins where arithmetic
/// dominates: `Float` on AVX-512 and d >= 16 (measured: 1.8× at d = 20, 2.4× at d = 64 on one
/// core); at small d the n² stores are the cost and the scattered mirror segments make it no
/// faster, so whole rows are kept. Rows that do not start on a cache line (n not a multiple of
/// 16) have their segments realigned by the kernel into whole streamed lines; the mirror's runs
/// (256 columns per task) then leave only their two end lines partial (64-row tasks made 40 % of
/// the mirror's lines partial, each read for ownership: n = 5000, d = 20 on one core 16.3 ms
/// with plain segments, 15.1 with realigned ones in 64-row tasks, 11.7 in 256-row tasks).
/// Both keep the documented per-pair formula (no cancellation, unlike the GEMM form). The
/// matrix asks for transparent huge pages (the mirror's 64-byte segments touch every row).
///
/// Cosine goes through GEMM: for a tile of rows I and columns J, `C = X_I·X_Jᵀ` is written by
/// OpenBLAS straight into the output, then fixed up in place while the tile is still in cache
/// (`1 − C / (‖xᵢ‖‖xⱼ‖)`, clamped to [0, 2]). Only tiles with I ≤ J are computed; each is then
/// written transposed into the lower triangle, so the result is exactly symmetric.
extension DistanceMatrix {
    /// Tile edge of the blocked computation (rows and columns).
    static var tile: Int { 256 }

    /// Computes all pairwise distances of the rows of `data` (n × d) under `metric`.
    /// Memory: `DistanceMatrix.bytesRequired(count: n)`. Errors: empty data, NaN/Inf,
    /// zero rows for cosine, allocation failure.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public convenience init(data: Matrix<Scalar>, metric: DistanceMetric = .euclidean,
                            pool: ThreadPool = .shared) throws(TesseraError) {
        try validateData(data, metric: metric, what: "DistanceMatrix")
        try self.init(uninitializedCount: data.rows)
        computeUnchecked(data, metric: metric, pool: pool)
    }

    /// Recomputes this matrix in place from `data` (which must have `count` rows); no allocation.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    public func recompute(from data: Matrix<Scalar>, metric: DistanceMetric = .euclidean,
                          pool: ThreadPool = .shared) throws(TesseraError) {
        guard data.rows == count else {
            throw .invalidArgument("DistanceMatrix.recompute: data has \(data.rows) rows, the matrix is \(count) x \(count)")
        }
        try validateData(data, metric: metric, what: "DistanceMatrix.recompute")
        computeUnchecked(data, metric: metric, pool: pool)
    }

    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func computeUnchecked(_ data: Matrix<Scalar>, metric: DistanceMetric, pool: ThreadPool) {
        guard metric == .cosine else { return computeDirect(data, metric: metric, pool: pool) }
        let n = count, d = data.cols, ld = data.rowStride
        let out = pointer
        let t = Self.tile
        let nb = (n + t - 1) / t
        // upper-triangle tile pairs (bi <= bj), numbered row by row
        var pairs = [(Int, Int)]()
        pairs.reserveCapacity(nb * (nb + 1) / 2)
        for bi in 0..<nb { for bj in bi..<nb { pairs.append((bi, bj)) } }
        data.withUnsafeBufferPointer { xb in
            let x = xb.baseAddress!
            // row norms
            var norms = [Scalar](repeating: 0, count: n)
            norms.withUnsafeMutableBufferPointer { nbuf in
                let np = nbuf.baseAddress!
                pool.parallelFor(0..<n, schedule: .static) { r, _ in
                    for i in r {
                        var s: Scalar = 0
                        for k in 0..<d { let v = x[i * ld + k]; s += v * v }
                        np[i] = Scalar.squareRoot(s)
                    }
                }
            }
            norms.withUnsafeBufferPointer { nbuf in
                let np = nbuf.baseAddress!
                pairs.withUnsafeBufferPointer { pb in
                    pool.parallelFor(0..<pb.count, schedule: .dynamic(chunk: 1)) { r, _ in
                        for q in r {
                            let (bi, bj) = pb[q]
                            Self.computeTile(x: x, ld: ld, d: d, n: n, norms: np,
                                             i0: bi * t, i1: min(n, bi * t + t),
                                             j0: bj * t, j1: min(n, bj * t + t), out: out)
                        }
                    }
                }
            }
        }
    }

    /// Rows per task of the direct kernel: whole rows (16 × n values written per task), or
    /// symmetric blocks (256 rows from the diagonal on, and their mirror).
    static var directRows: Int { 16 }
    static var symmetricRows: Int { 256 }

    /// Whether the symmetric form is the faster one here (see the type's notes).
    static func prefersSymmetric(count n: Int, dimension d: Int) -> Bool {
        Scalar.self == Float.self && ISA.active == .avx512 && d >= 16
    }

    /// Euclidean, squared Euclidean, Manhattan: the direct kernel, whole rows or symmetric blocks.
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    func computeDirect(_ data: Matrix<Scalar>, metric: DistanceMetric, pool: ThreadPool) {
        let n = count, d = data.cols, ld = data.rowStride
        let out = pointer
        let kind: DissimilarityKernels.Metric = metric == .euclidean ? .euclidean
            : metric == .squaredEuclidean ? .squaredEuclidean : .manhattan
        let xt = KMeans.transposedCopy(data)
        defer { xt.deallocate() }
        data.withUnsafeBufferPointer { xb in
            let x = xb.baseAddress!
            // the arguments hold by construction (n, d >= 1, strides n and ld >= d, a metric the
            // kernel offers): only the symmetric form's small scratch can fail, and whole rows
            // (no scratch, the same bits) then follow, after the blocks (they overlap their mirrors)
            var whole = !Self.prefersSymmetric(count: n, dimension: d)
            if !whole {
                let step = Self.symmetricRows, failed = ErrorSlot()
                pool.parallelFor(0..<((n + step - 1) / step), schedule: .dynamic(chunk: 1)) { r, _ in
                    for q in r {
                        let i0 = q * step, i1 = min(n, i0 + step)
                        do {
                            try Scalar.distanceSymmetric(kind, count: n, dimension: d, transposed: UnsafePointer(xt),
                                                         ldxt: n, x: x, ldx: ld, rows: i0..<i1, into: out, ldo: n)
                        } catch { failed.set(i0, 0, 0) }
                    }
                }
                whole = failed.first != nil
            }
            guard whole else { return }
            let step = Self.directRows
            pool.parallelFor(0..<((n + step - 1) / step), schedule: .dynamic(chunk: 1)) { r, _ in
                for q in r {
                    let i0 = q * step, i1 = min(n, i0 + step)
                    try? Scalar.distanceRows(kind, count: n, dimension: d, transposed: UnsafePointer(xt), ldxt: n, x: x,
                                             ldx: ld, rows: i0..<i1, into: out + i0 * n, ldo: n)
                }
            }
        }
    }

    /// One cosine tile [i0, i1) × [j0, j1) of the upper triangle (j0 >= i0), then its mirror.
    static func computeTile(x: UnsafePointer<Scalar>, ld: Int, d: Int, n: Int, norms: UnsafePointer<Scalar>,
                            i0: Int, i1: Int, j0: Int, j1: Int, out: UnsafeMutablePointer<Scalar>) {
        let m = i1 - i0, w = j1 - j0
        let c = out + i0 * n + j0
        Scalar.gemmABt(m: m, n: w, k: d, alpha: 1, a: x + i0 * ld, lda: ld, b: x + j0 * ld, ldb: ld, beta: 0, c: c, ldc: n)
        for i in 0..<m {
            let row = c + i * n
            let ni = norms[i0 + i]
            let nj = norms + j0
            for j in 0..<w { row[j] = min(2, max(0, 1 - row[j] / (ni * nj[j]))) }
        }
        if i0 == j0 {
            // diagonal tile: exact zeros on the diagonal, lower half from the upper half
            for i in 0..<m {
                c[i * n + i] = 0
                for j in 0..<i { c[i * n + j] = c[j * n + i] }
            }
        } else {
            // mirror into tile (J, I), in 16-row strips so writes stay in cache
            let dst = out + j0 * n + i0
            var ii = 0
            while ii < m {
                let iEnd = min(m, ii + 16)
                for j in 0..<w {
                    let drow = dst + j * n
                    for i in ii..<iEnd { drow[i] = c[i * n + j] }
                }
                ii = iEnd
            }
        }
    }
}
