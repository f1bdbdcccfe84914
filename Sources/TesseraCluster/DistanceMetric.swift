/// How to measure the dissimilarity of two rows x, y of a data matrix.
public enum DistanceMetric: String, CaseIterable, Sendable {
    /// √Σ(xᵢ − yᵢ)²
    case euclidean
    /// Σ(xᵢ − yᵢ)²
    case squaredEuclidean = "sqeuclidean"
    /// Σ|xᵢ − yᵢ|
    case manhattan
    /// 1 − x·y / (‖x‖‖y‖), in [0, 2]; rows of zero norm are rejected
    case cosine

    /// The distance of two rows in `Double` (the reference used by on-demand sources and tests).
    public func distance<S: ClusterScalar>(_ x: UnsafePointer<S>, _ y: UnsafePointer<S>, dimension d: Int) -> Double {
        switch self {
        case .euclidean, .squaredEuclidean:
            var s = 0.0
            for t in 0..<d { let v = Double(x[t]) - Double(y[t]); s += v * v }
            return self == .euclidean ? s.squareRoot() : s
        case .manhattan:
            var s = 0.0
            for t in 0..<d { s += abs(Double(x[t]) - Double(y[t])) }
            return s
        case .cosine:
            var xy = 0.0, xx = 0.0, yy = 0.0
            for t in 0..<d {
                let a = Double(x[t]), b = Double(y[t])
                xy += a * b; xx += a * a; yy += b * b
            }
            let den = (xx * yy).squareRoot()
            return den > 0 ? min(2, max(0, 1 - xy / den)) : 0
        }
    }
}

/// A source of dissimilarities between `count` objects, evaluated on demand.
///
/// CLARA, CLARANS and the quality measures accept any `Dissimilarity`, so they run without the
/// n² matrix: a `DataDissimilarity` computes distances from the data when asked.
/// `distance` may be called from several threads at once.
public protocol Dissimilarity: Sendable {
    /// Number of objects n; indices run over 0..<n.
    var count: Int { get }
    /// The dissimilarity of objects i and j: symmetric, ≥ 0, finite, 0 for i == j.
    func distance(_ i: Int, _ j: Int) -> Double
}

extension DistanceMatrix: Dissimilarity {
    /// The stored distance of objects i and j, widened to `Double`.
    public func distance(_ i: Int, _ j: Int) -> Double { Double(pointer[i * count + j]) }
}

/// Distances computed from the rows of a data matrix, on demand (no n² memory).
public struct DataDissimilarity<Scalar: ClusterScalar>: Dissimilarity {
    /// The n × d data the distances are computed from.
    public let data: Matrix<Scalar>
    /// The metric applied to pairs of rows.
    public let metric: DistanceMetric
    /// Number of objects: the rows of `data`.
    public var count: Int { data.rows }

    /// Checks the data (n ≥ 1, d ≥ 1, finite; no zero rows for cosine).
    public init(_ data: Matrix<Scalar>, metric: DistanceMetric = .euclidean) throws(TesseraError) {
        try validateData(data, metric: metric, what: "DataDissimilarity")
        self.data = data
        self.metric = metric
    }

    /// The metric's distance of rows i and j, in `Double` (0 for i == j).
    public func distance(_ i: Int, _ j: Int) -> Double {
        if i == j { return 0 }
        return data.withUnsafeBufferPointer { b in
            metric.distance(b.baseAddress! + i * data.rowStride, b.baseAddress! + j * data.rowStride, dimension: data.cols)
        }
    }
}

/// Distances from a function `(i, j) -> d` (must be symmetric, finite, ≥ 0, and thread-safe).
public struct FunctionDissimilarity: Dissimilarity {
    /// Number of objects.
    public let count: Int
    let function: @Sendable (Int, Int) -> Double
    /// Distances from `function` over `count` objects. Errors: `.invalidArgument` for count < 1.
    public init(count: Int, _ function: @escaping @Sendable (Int, Int) -> Double) throws(TesseraError) {
        guard count >= 1 else { throw .invalidArgument("FunctionDissimilarity: count must be >= 1 (got \(count))") }
        self.count = count
        self.function = function
    }
    /// `function(i, j)`, or 0 for i == j.
    public func distance(_ i: Int, _ j: Int) -> Double { i == j ? 0 : function(i, j) }
}

/// Rejects empty data, NaN/Inf, and zero rows under the cosine metric.
@_specialize(where S == Float)
@_specialize(where S == Double)
func validateData<S: ClusterScalar>(_ data: Matrix<S>, metric: DistanceMetric?, what: String) throws(TesseraError) {
    guard data.rows >= 1 else { throw .invalidArgument("\(what): the data has no rows (n = 0)") }
    guard data.cols >= 1 else { throw .invalidArgument("\(what): the data has no columns (d = 0)") }
    let n = data.rows, d = data.cols, ld = data.rowStride
    try data.withUnsafeBufferPointer { (b) throws(TesseraError) in
        let p = b.baseAddress!
        for i in 0..<n {
            // a flag or-ed over the row (no early exit: the loop vectorises), then the first bad
            // value found for the message; the squared norm only where cosine needs it (its
            // serial sum cost 3 cycles per value: 80 µs at n = 5000, d = 20 in every k-means fit)
            var bad: UInt8 = 0
            for t in 0..<d { bad |= p[i * ld + t].isFinite ? 0 : 1 }
            if bad != 0, let t = (0..<d).first(where: { !p[i * ld + $0].isFinite }) {
                throw .invalidArgument("\(what): data row \(i), column \(t) is \(p[i * ld + t]) (NaN and infinity are not allowed)")
            }
            if metric == .cosine {
                var ss = 0.0
                for t in 0..<d { let v = p[i * ld + t]; ss += Double(v) * Double(v) }
                if ss == 0 {
                    throw .invalidArgument("\(what): data row \(i) is all zeros; the cosine distance is undefined for it")
                }
            }
        }
    }
}
