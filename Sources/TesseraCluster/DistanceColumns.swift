import Tessera

/// Every distance from one object at once: the unit of work of CLARANS / FastCLARANS, which
/// score a candidate o against all n points. Specialised sources compute the n distances with
/// the vectorised C kernel (`DissimilarityKernels.distanceColumn`) or read a matrix row, instead
/// of n calls through the `Dissimilarity` protocol; the values are bit for bit those of
/// `distance(j, o)`.
protocol DistanceColumns {
    /// Number of objects n.
    var count: Int { get }
    /// `out[j] = distance(j, o)` for every j < n (`out[o] = 0`).
    func column(_ o: Int, into out: UnsafeMutablePointer<Double>)
    /// The distance of objects i and j (0 for i == j).
    func distance(_ i: Int, _ j: Int) -> Double
    /// Whether `column` is the square root of `squaredColumn` (Euclidean data): a search may
    /// then take square roots only where it needs them (the same bits: √ is correctly rounded).
    var defersRoot: Bool { get }
    /// `out[j]` = the squared distance (when `defersRoot`; else `column`).
    func squaredColumn(_ o: Int, into out: UnsafeMutablePointer<Double>)
}

extension DistanceColumns {
    var defersRoot: Bool { false }
    func squaredColumn(_ o: Int, into out: UnsafeMutablePointer<Double>) { column(o, into: out) }
}

/// Data rows transposed (feature-major, d × n) so the kernel runs over points in SIMD lanes.
final class TransposedDataColumns<S: ClusterScalar>: DistanceColumns {
    let source: DataDissimilarity<S>
    let count: Int, dims: Int
    let metric: DissimilarityKernels.Metric
    let transposed: UnsafeMutablePointer<S>
    let rows: UnsafeMutablePointer<S>   // a dense copy of the rows (stride d): the queries
    let wide: UnsafeMutablePointer<Double>   // the rows in Double (stride d): single distances

    init(_ source: DataDissimilarity<S>) {
        self.source = source
        let n = source.data.rows, d = source.data.cols, ld = source.data.rowStride
        count = n; dims = d
        switch source.metric {
        case .euclidean: metric = .euclidean
        case .squaredEuclidean: metric = .squaredEuclidean
        case .manhattan: metric = .manhattan
        case .cosine: metric = .cosine
        }
        transposed = .allocate(capacity: n * d)
        rows = .allocate(capacity: n * d)
        wide = .allocate(capacity: n * d)
        source.data.withUnsafeBufferPointer { b in
            let x = b.baseAddress!
            for i in 0..<n {
                for t in 0..<d {
                    let v = x[i * ld + t]
                    transposed[t * n + i] = v
                    rows[i * d + t] = v
                    wide[i * d + t] = v.double
                }
            }
        }
    }

    deinit { transposed.deallocate(); rows.deallocate(); wide.deallocate() }

    func column(_ o: Int, into out: UnsafeMutablePointer<Double>) { column(o, metric, into: out) }

    var defersRoot: Bool { metric == .euclidean }

    func squaredColumn(_ o: Int, into out: UnsafeMutablePointer<Double>) {
        column(o, metric == .euclidean ? .squaredEuclidean : metric, into: out)
    }

    func column(_ o: Int, _ kind: DissimilarityKernels.Metric, into out: UnsafeMutablePointer<Double>) {
        // the arguments are valid by construction (n, d >= 1, stride n), so this cannot fail
        try? S.distanceColumn(kind, count: count, dimension: dims, transposed: UnsafePointer(transposed),
                              stride: count, query: UnsafePointer(rows + o * dims), into: out)
        out[o] = 0
    }

    /// `metric.distance` of rows i and j, on their exact `Double` copies (the same bits; a
    /// non-generic call, fast even where this class runs unspecialised).
    func distance(_ i: Int, _ j: Int) -> Double {
        i == j ? 0 : wideDistance(source.metric, UnsafePointer(wide + i * dims), UnsafePointer(wide + j * dims), dims)
    }
}

/// `DistanceMetric.distance` on `Double` rows (non-generic: specialised once, here).
func wideDistance(_ metric: DistanceMetric, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ d: Int) -> Double {
    metric.distance(x, y, dimension: d)
}

/// Rows of a stored matrix, widened to `Double`.
struct MatrixColumns<S: ClusterScalar>: DistanceColumns {
    let matrix: DistanceMatrix<S>
    var count: Int { matrix.count }
    func column(_ o: Int, into out: UnsafeMutablePointer<Double>) {
        let n = matrix.count, row = matrix.pointer + o * n
        for j in 0..<n { out[j] = row[j].double }
    }
    func distance(_ i: Int, _ j: Int) -> Double { matrix.pointer[i * matrix.count + j].double }
}

/// Any `Dissimilarity`, one call per pair.
struct PairwiseColumns<D: Dissimilarity>: DistanceColumns {
    let source: D
    var count: Int { source.count }
    func column(_ o: Int, into out: UnsafeMutablePointer<Double>) {
        for j in 0..<source.count { out[j] = j == o ? 0 : source.distance(j, o) }
    }
    func distance(_ i: Int, _ j: Int) -> Double { source.distance(i, j) }
}
