internal import CTessera

/// Dissimilarity kernels of the clustering algorithms (`include/tessera/distance.h`):
/// vectorised over points with run-time ISA dispatch, on the calling thread, and the same
/// bits on every ISA (no fused multiply-add; sums in a fixed order).
public enum DissimilarityKernels {
    /// The metrics of `distanceColumn`
    /// (raw values as `tsr_distance_kind`).
    public enum Metric: Int32, Sendable {
        /// √Σ(x_t − y_t)²
        case euclidean = 1
        /// Σ(x_t − y_t)²
        case squaredEuclidean = 2
        /// Σ|x_t − y_t|
        case manhattan = 3
        /// 1 − x·y / √(‖x‖²‖y‖²), clamped to [0, 2]; 0 when a norm is 0
        case cosine = 4
    }

    /// Distances from the point `query` (`dimension` values) to the `count` points stored
    /// transposed in `xt` (feature t of point j at `xt[t·stride + j]`, `stride ≥ count`), into
    /// `out[0..<count]`. Every difference, product and sum is formed in `Double`, features in
    /// order — exactly the per-pair float64 formula. Errors: `.invalidArgument` for bad sizes.
    public static func distanceColumn(_ metric: Metric, count: Int, dimension: Int, transposed xt: UnsafePointer<Float>,
                                      stride: Int, query: UnsafePointer<Float>,
                                      into out: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try check(tsr_distance_column_f32(tsr_distance_kind(UInt32(metric.rawValue)), Int64(count), Int64(dimension),
                                          xt, Int64(stride), query, out))
    }

    /// `distanceColumn` on `Double` data.
    public static func distanceColumn(_ metric: Metric, count: Int, dimension: Int, transposed xt: UnsafePointer<Double>,
                                      stride: Int, query: UnsafePointer<Double>,
                                      into out: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try check(tsr_distance_column_f64(tsr_distance_kind(UInt32(metric.rawValue)), Int64(count), Int64(dimension),
                                          xt, Int64(stride), query, out))
    }

    /// The original PAM SWAP loss change of one candidate `o` against each of `slots` medoid
    /// slots: `out[m] = Σ_j δ_j(m)`, `δ_j(m) = min(row[j], second[j]) − near[j]` for the points
    /// whose nearest slot is m, else `min(row[j] − near[j], 0)`, with `row[j] = d(j, o)`.
    /// Sixteen interleaved partial sums (point j into sum j mod 16) are added pairwise, so
    /// the result is the same on every ISA and thread count. Errors: `.invalidArgument`.
    public static func pamSwapDeltas(count n: Int, row: UnsafePointer<Float>, nearestSlot: UnsafePointer<Int32>,
                                     nearest: UnsafePointer<Float>, second: UnsafePointer<Float>, slots k: Int,
                                     into out: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try check(tsr_pam_swap_deltas_f32(Int64(n), row, nearestSlot, nearest, second, Int64(k), out))
    }

    /// `pamSwapDeltas` with `Double` distances.
    public static func pamSwapDeltas(count n: Int, row: UnsafePointer<Double>, nearestSlot: UnsafePointer<Int32>,
                                     nearest: UnsafePointer<Double>, second: UnsafePointer<Double>, slots k: Int,
                                     into out: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try check(tsr_pam_swap_deltas_f64(Int64(n), row, nearestSlot, nearest, second, Int64(k), out))
    }

    /// k-means nearest centre of `rows` rows of `x` (row i at `x + i·ldx`): `labels[i]` =
    /// argmin over c < `centers` of `cnorm[c] − 2·(x_i · c_c)`, the dot product a chain of fused
    /// multiply-adds over the features in order (the same bits on every ISA), ties to the lowest
    /// c. `c`: the centres (k × d, stride d); `cnorm[c]`: their squared norms. No GEMM: blocks
    /// of 16 rows against 4 centres at a time, fast at small d and k.
    /// Errors: `.invalidArgument` for bad sizes, `.outOfMemory`.
    public static func kmeansAssign(rows m: Int, dimension d: Int, x: UnsafePointer<Float>, ldx: Int, centers k: Int,
                                    c: UnsafePointer<Float>, cnorm: UnsafePointer<Float>,
                                    labels: UnsafeMutablePointer<Int>) throws(TesseraError) {
        try labels.withMemoryRebound(to: Int64.self, capacity: m) { (lp) throws(TesseraError) in
            try check(tsr_kmeans_assign_f32(Int64(m), Int64(d), x, Int64(ldx), Int64(k), c, cnorm, lp))
        }
    }

    /// `kmeansAssign` in `Double` (fma chains).
    public static func kmeansAssign(rows m: Int, dimension d: Int, x: UnsafePointer<Double>, ldx: Int, centers k: Int,
                                    c: UnsafePointer<Double>, cnorm: UnsafePointer<Double>,
                                    labels: UnsafeMutablePointer<Int>) throws(TesseraError) {
        try labels.withMemoryRebound(to: Int64.self, capacity: m) { (lp) throws(TesseraError) in
            try check(tsr_kmeans_assign_f64(Int64(m), Int64(d), x, Int64(ldx), Int64(k), c, cnorm, lp))
        }
    }
    /// One fused Lloyd step over `rows` rows (one accumulation chunk): `labels` as
    /// `kmeansAssign` (the same bits), `inertia` = Σ_i Σ_t (x_it − c_{label,t})² in `Double`
    /// (features in order, rows in order), and — when `sums` is given — `sums[c·d + t] += x_it`
    /// and `counts[c] += 1` for each row's centre, in row order (the caller zeroes them).
    /// `x`: row i at `x + i·ldx`; `xt`: the same rows transposed (feature t of row i at
    /// `xt[t·ldxt + i]`, `ldxt ≥ rows`). Errors: `.invalidArgument` for bad sizes, `.outOfMemory`.
    public static func kmeansChunk(rows m: Int, dimension d: Int, x: UnsafePointer<Float>, ldx: Int,
                                   transposed xt: UnsafePointer<Float>, ldxt: Int, centers k: Int,
                                   c: UnsafePointer<Float>, cnorm: UnsafePointer<Float>,
                                   labels: UnsafeMutablePointer<Int>, sums: UnsafeMutablePointer<Double>?,
                                   counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double {
        var inertia = 0.0
        try labels.withMemoryRebound(to: Int64.self, capacity: m) { (lp) throws(TesseraError) in
            let cp = counts.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Int64.self) }
            try check(tsr_kmeans_chunk_f32(Int64(m), Int64(d), x, Int64(ldx), xt, Int64(ldxt), Int64(k), c, cnorm, lp,
                                           &inertia, sums, cp))
        }
        return inertia
    }

    /// `kmeansChunk` on `Double` data.
    public static func kmeansChunk(rows m: Int, dimension d: Int, x: UnsafePointer<Double>, ldx: Int,
                                   transposed xt: UnsafePointer<Double>, ldxt: Int, centers k: Int,
                                   c: UnsafePointer<Double>, cnorm: UnsafePointer<Double>,
                                   labels: UnsafeMutablePointer<Int>, sums: UnsafeMutablePointer<Double>?,
                                   counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double {
        var inertia = 0.0
        try labels.withMemoryRebound(to: Int64.self, capacity: m) { (lp) throws(TesseraError) in
            let cp = counts.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Int64.self) }
            try check(tsr_kmeans_chunk_f64(Int64(m), Int64(d), x, Int64(ldx), xt, Int64(ldxt), Int64(k), c, cnorm, lp,
                                           &inertia, sums, cp))
        }
        return inertia
    }

    /// The assignment half of `kmeansChunk`, row by row: `labels` as `kmeansChunk` (the same
    /// bits) and `errors[i]` = Σ_t (x_it − c_{label,t})² in `Double` (features in order), the term
    /// `kmeansChunk` adds into its inertia. Followed by `kmeansAccumulate` over one chunk's rows,
    /// the rows of the chunk may be labelled in pieces by several threads and still give the
    /// chunk kernel's bits. Arguments as `kmeansChunk`; `errors`: `rows` values.
    /// Errors: `.invalidArgument` for bad sizes, `.outOfMemory`.
    public static func kmeansLabel(rows m: Int, dimension d: Int, x: UnsafePointer<Float>, ldx: Int,
                                   transposed xt: UnsafePointer<Float>, ldxt: Int, centers k: Int,
                                   c: UnsafePointer<Float>, cnorm: UnsafePointer<Float>,
                                   labels: UnsafeMutablePointer<Int>, errors: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try labels.withMemoryRebound(to: Int64.self, capacity: m) { (lp) throws(TesseraError) in
            try check(tsr_kmeans_label_f32(Int64(m), Int64(d), x, Int64(ldx), xt, Int64(ldxt), Int64(k), c, cnorm, lp, errors))
        }
    }

    /// `kmeansLabel` on `Double` data.
    public static func kmeansLabel(rows m: Int, dimension d: Int, x: UnsafePointer<Double>, ldx: Int,
                                   transposed xt: UnsafePointer<Double>, ldxt: Int, centers k: Int,
                                   c: UnsafePointer<Double>, cnorm: UnsafePointer<Double>,
                                   labels: UnsafeMutablePointer<Int>, errors: UnsafeMutablePointer<Double>) throws(TesseraError) {
        try labels.withMemoryRebound(to: Int64.self, capacity: m) { (lp) throws(TesseraError) in
            try check(tsr_kmeans_label_f64(Int64(m), Int64(d), x, Int64(ldx), xt, Int64(ldxt), Int64(k), c, cnorm, lp, errors))
        }
    }

    /// The accumulation half of `kmeansChunk` for given labels: returns Σ_i `errors[i]` (rows in
    /// order) and, when `sums` is given, adds `x_it` into `sums[label·d + t]` and 1 into
    /// `counts[label]` in row order (the caller zeroes them). After `kmeansLabel` on the same
    /// rows, the bits of `kmeansChunk`. Errors: `.invalidArgument` for bad sizes or a label
    /// outside `0..<centers` (nothing written).
    public static func kmeansAccumulate(rows m: Int, dimension d: Int, x: UnsafePointer<Float>, ldx: Int, centers k: Int,
                                        labels: UnsafePointer<Int>, errors: UnsafePointer<Double>,
                                        sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double {
        var inertia = 0.0
        try labels.withMemoryRebound(to: Int64.self, capacity: m) { (lp) throws(TesseraError) in
            let cp = counts.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Int64.self) }
            try check(tsr_kmeans_accumulate_f32(Int64(m), Int64(d), x, Int64(ldx), Int64(k), lp, errors, &inertia, sums, cp))
        }
        return inertia
    }

    /// `kmeansAccumulate` on `Double` data.
    public static func kmeansAccumulate(rows m: Int, dimension d: Int, x: UnsafePointer<Double>, ldx: Int, centers k: Int,
                                        labels: UnsafePointer<Int>, errors: UnsafePointer<Double>,
                                        sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double {
        var inertia = 0.0
        try labels.withMemoryRebound(to: Int64.self, capacity: m) { (lp) throws(TesseraError) in
            let cp = counts.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Int64.self) }
            try check(tsr_kmeans_accumulate_f64(Int64(m), Int64(d), x, Int64(ldx), Int64(k), lp, errors, &inertia, sums, cp))
        }
        return inertia
    }

    /// Rows `rows` of the full `count × count` distance matrix of `count` points (Euclidean,
    /// squared Euclidean or Manhattan; not cosine) into `out` (row i at `out + (i − rows.lowerBound)·ldo`),
    /// with streaming stores. The points come row-major (`x`, stride `ldx`) and transposed
    /// (`xt`, feature t of point j at `xt[t·ldxt + j]`). In `Float`, features in order,
    /// `s = fma(v, v, s)` (or `s + |v|`): d(i, j) and d(j, i) get the same bits, d(i, i) = 0,
    /// and every ISA the same bits. Errors: `.invalidArgument` for bad sizes or cosine.
    public static func distanceRows(_ metric: Metric, count n: Int, dimension d: Int, transposed xt: UnsafePointer<Float>,
                                    ldxt: Int, x: UnsafePointer<Float>, ldx: Int, rows: Range<Int>,
                                    into out: UnsafeMutablePointer<Float>, ldo: Int) throws(TesseraError) {
        try check(tsr_distance_rows_f32(tsr_distance_kind(UInt32(metric.rawValue)), Int64(n), Int64(d), xt, Int64(ldxt),
                                        x, Int64(ldx), Int64(rows.lowerBound), Int64(rows.upperBound), out, Int64(ldo)))
    }

    /// `distanceRows` in `Double`.
    public static func distanceRows(_ metric: Metric, count n: Int, dimension d: Int, transposed xt: UnsafePointer<Double>,
                                    ldxt: Int, x: UnsafePointer<Double>, ldx: Int, rows: Range<Int>,
                                    into out: UnsafeMutablePointer<Double>, ldo: Int) throws(TesseraError) {
        try check(tsr_distance_rows_f64(tsr_distance_kind(UInt32(metric.rawValue)), Int64(n), Int64(d), xt, Int64(ldxt),
                                        x, Int64(ldx), Int64(rows.lowerBound), Int64(rows.upperBound), out, Int64(ldo)))
    }

    /// The whole matrix by symmetric row blocks: for `i` in `rows` and every `j >= rows.lowerBound`,
    /// d(i, j) into `out[i·ldo + j]` and `out[j·ldo + i]` (`out` is the whole `count × count`
    /// matrix). Calls for consecutive ranges covering `0..<count` fill it, each entry once, and
    /// calls for disjoint ranges may run at once. Every entry has the bits of `distanceRows`
    /// (and every ISA the same); each pair is computed once and stored twice. Errors as
    /// `distanceRows`, and `.outOfMemory` for a `dimension × 16` scratch.
    public static func distanceSymmetric(_ metric: Metric, count n: Int, dimension d: Int,
                                         transposed xt: UnsafePointer<Float>, ldxt: Int, x: UnsafePointer<Float>,
                                         ldx: Int, rows: Range<Int>, into out: UnsafeMutablePointer<Float>,
                                         ldo: Int) throws(TesseraError) {
        try check(tsr_distance_symmetric_f32(tsr_distance_kind(UInt32(metric.rawValue)), Int64(n), Int64(d), xt,
                                             Int64(ldxt), x, Int64(ldx), Int64(rows.lowerBound), Int64(rows.upperBound),
                                             out, Int64(ldo)))
    }

    /// `distanceSymmetric` in `Double`.
    public static func distanceSymmetric(_ metric: Metric, count n: Int, dimension d: Int,
                                         transposed xt: UnsafePointer<Double>, ldxt: Int, x: UnsafePointer<Double>,
                                         ldx: Int, rows: Range<Int>, into out: UnsafeMutablePointer<Double>,
                                         ldo: Int) throws(TesseraError) {
        try check(tsr_distance_symmetric_f64(tsr_distance_kind(UInt32(metric.rawValue)), Int64(n), Int64(d), xt,
                                             Int64(ldxt), x, Int64(ldx), Int64(rows.lowerBound), Int64(rows.upperBound),
                                             out, Int64(ldo)))
    }
}
