/// A fitted k-medoids model: the k medoids, ready to label new objects and to be saved to and
/// loaded from a file (see ``encoded()`` for the format).
///
/// Fitted on data rows (``init(result:data:metric:)``) the model keeps the medoid rows and
/// the metric, and ``predict(_:pool:)`` labels new rows by their nearest medoid. Fitted on a
/// precomputed dissimilarity (``init(result:)``) it keeps only the medoid indices, and
/// ``predict(distancesToMedoids:)`` labels new objects from their distances to the k medoids.
///
/// ```swift
/// let distances = try DistanceMatrix<Float>(data: points, metric: .manhattan)
/// let fit = try KMedoids.fit(distances, k: 4)
/// let model = try KMedoidsModel(result: fit, data: points, metric: .manhattan)
/// let labels = try model.predict(newPoints)
/// ```
public struct KMedoidsModel<Scalar: ClusterScalar>: Sendable, Equatable {
    /// Indices of the k medoids among the training objects (distinct).
    public let medoidIndices: [Int]
    /// The k × d medoid rows; nil for a model fitted on a precomputed dissimilarity.
    public let medoids: Matrix<Scalar>?
    /// The metric the model was fitted under; nil for a precomputed dissimilarity.
    public let metric: DistanceMetric?
    /// Total deviation of the training data, if known.
    public var loss: Double?

    /// Number of clusters k.
    public var k: Int { medoidIndices.count }
    /// Dimension d of the medoid rows; nil for a precomputed dissimilarity.
    public var dimension: Int? { medoids?.cols }

    /// The model of a fit on data rows: `data` (n × d) is the data the distances were computed
    /// from, under `metric`. Errors: `.invalidArgument` if a medoid index is outside
    /// `0..<data.rows` or repeated, or a medoid row has NaN/Inf (or is all zeros under cosine).
    public init(result: KMedoidsResult, data: Matrix<Scalar>, metric: DistanceMetric) throws(TesseraError) {
        try KMedoids.validateMedoids(result.medoids, k: result.medoids.count, n: data.rows)
        var rows = [Scalar]()
        rows.reserveCapacity(result.medoids.count * data.cols)
        for m in result.medoids { rows += data.row(m) }
        try self.init(medoidIndices: result.medoids,
                      medoids: try Matrix(rows: result.medoids.count, cols: data.cols, elements: rows),
                      metric: metric, loss: result.loss)
    }

    /// The model of a fit on a precomputed dissimilarity: the medoid indices only.
    /// Errors: `.invalidArgument` for no medoids, a negative or repeated index, or a non-finite loss.
    public init(result: KMedoidsResult) throws(TesseraError) {
        try self.init(medoidIndices: result.medoids, medoids: nil, metric: nil, loss: result.loss)
    }

    /// A model from its parts (what ``init(contentsOf:)`` checks a file against): `medoids`
    /// and `metric` both given (k × d rows) or both nil (precomputed).
    /// Errors: `.invalidArgument` naming the first inconsistency.
    public init(medoidIndices: [Int], medoids: Matrix<Scalar>?, metric: DistanceMetric?,
                loss: Double? = nil) throws(TesseraError) {
        guard !medoidIndices.isEmpty else { throw .invalidArgument("KMedoidsModel: no medoids") }
        var seen = Set<Int>()
        for i in medoidIndices {
            guard i >= 0 else { throw .invalidArgument("KMedoidsModel: medoid index \(i) is negative") }
            guard seen.insert(i).inserted else { throw .invalidArgument("KMedoidsModel: medoid \(i) is given twice") }
        }
        guard (medoids == nil) == (metric == nil) else {
            throw .invalidArgument("KMedoidsModel: medoid rows and metric must be given together (or neither, for a precomputed dissimilarity)")
        }
        if let medoids {
            guard medoids.rows == medoidIndices.count else {
                throw .invalidArgument("KMedoidsModel: \(medoids.rows) medoid rows for \(medoidIndices.count) medoid indices")
            }
            try validateData(medoids, metric: metric, what: "KMedoidsModel medoids")
        }
        if let loss, !(loss.isFinite && loss >= 0) {
            throw .invalidArgument("KMedoidsModel: loss must be finite and >= 0 (got \(loss))")
        }
        self.medoidIndices = medoidIndices
        self.medoids = medoids
        self.metric = metric
        self.loss = loss
    }

    /// The nearest medoid (a slot in `0..<k`) of each row of `data` under the fitted metric,
    /// computed in `Double` (``DistanceMetric/distance(_:_:dimension:)``); ties go to the lowest
    /// slot. Errors: `.invalidState` for a model fitted on a precomputed dissimilarity (use
    /// ``predict(distancesToMedoids:)``), `.invalidArgument` for empty data, NaN/Inf, zero
    /// rows under cosine, or a column count other than `dimension`.
    ///
    /// On the training rows this gives the fitted labels, except where two medoids are at
    /// (nearly) the same distance and the fit's distance matrix, computed in `Scalar` through
    /// GEMM, rounded the other way.
    public func predict(_ data: Matrix<Scalar>, pool: ThreadPool = .shared) throws(TesseraError) -> [Int] {
        guard let medoids, let metric else {
            throw .invalidState("KMedoidsModel.predict: the model was fitted on a precomputed dissimilarity; pass the distances to the medoids with predict(distancesToMedoids:)")
        }
        try validateData(data, metric: metric, what: "KMedoidsModel.predict")
        guard data.cols == medoids.cols else {
            throw .invalidArgument("KMedoidsModel.predict: data has \(data.cols) columns, the medoids have \(medoids.cols)")
        }
        let n = data.rows, k = self.k, d = data.cols, ld = data.rowStride, mld = medoids.rowStride
        var labels = [Int](repeating: 0, count: n)
        data.withUnsafeBufferPointer { xb in
            medoids.withUnsafeBufferPointer { mb in
                labels.withUnsafeMutableBufferPointer { lb in
                    let x = xb.baseAddress!, m = mb.baseAddress!, out = lb.baseAddress!
                    pool.parallelFor(0..<n, schedule: .static) { r, _ in
                        for i in r {
                            var best = 0
                            var bd = metric.distance(x + i * ld, m, dimension: d)
                            for s in 1..<k {
                                let v = metric.distance(x + i * ld, m + s * mld, dimension: d)
                                if v < bd { bd = v; best = s }
                            }
                            out[i] = best
                        }
                    }
                }
            }
        }
        return labels
    }

    /// The nearest medoid (a slot in `0..<k`) of each object, from its distances to the k
    /// medoids: row i of `distancesToMedoids` (m × k) holds d(object i, medoid s) in column s.
    /// Ties go to the lowest slot. Works for every model. Errors: `.invalidArgument` for a
    /// column count other than k, no rows, or a NaN, infinite or negative distance.
    public func predict(distancesToMedoids: Matrix<Scalar>) throws(TesseraError) -> [Int] {
        let dm = distancesToMedoids
        guard dm.cols == k else {
            throw .invalidArgument("KMedoidsModel.predict: \(dm.cols) distances per object given for k = \(k) medoids")
        }
        guard dm.rows >= 1 else { throw .invalidArgument("KMedoidsModel.predict: no objects (0 rows)") }
        var labels = [Int](repeating: 0, count: dm.rows)
        try dm.withUnsafeBufferPointer { (b) throws(TesseraError) in
            for i in 0..<dm.rows {
                let row = b.baseAddress! + i * dm.rowStride
                var best = 0
                for s in 0..<k {
                    let v = row[s]
                    guard v.isFinite, v >= 0 else {
                        throw .invalidArgument("KMedoidsModel.predict: distance (\(i), \(s)) is \(v); distances must be finite and >= 0")
                    }
                    if v < row[best] { best = s }
                }
                labels[i] = best
            }
        }
        return labels
    }
}
