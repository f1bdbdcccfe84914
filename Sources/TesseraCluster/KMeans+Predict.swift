/// A fitted k-means model: k centres in d dimensions, ready to label new points and to be
/// saved to and loaded from a file (see ``encoded()`` for the format).
///
/// ```swift
/// let fit = try KMeans.fit(training, k: 3)
/// let model = fit.model
/// let labels = try model.predict(newPoints)      // nearest centre of each row
/// try model.write(to: "kmeans.json")
/// let again = try KMeansModel<Double>(contentsOf: "kmeans.json")
/// ```
public struct KMeansModel<Scalar: ClusterScalar>: Sendable, Equatable {
    /// The k × d centres.
    public let centers: Matrix<Scalar>
    /// Σ‖x − centre(x)‖² of the training data, if known.
    public var inertia: Double?

    /// Number of clusters k.
    public var k: Int { centers.rows }
    /// Dimension d of the points.
    public var dimension: Int { centers.cols }

    /// A model from k × d centres. Errors: `.invalidArgument` for no centres, no columns, or
    /// NaN/Inf in a centre or the inertia.
    public init(centers: Matrix<Scalar>, inertia: Double? = nil) throws(TesseraError) {
        guard centers.rows >= 1, centers.cols >= 1 else {
            throw .invalidArgument("KMeansModel: centres must be at least 1 x 1 (got \(centers.rows) x \(centers.cols))")
        }
        try validateData(centers, metric: nil, what: "KMeansModel centres")
        if let inertia, !(inertia.isFinite && inertia >= 0) {
            throw .invalidArgument("KMeansModel: inertia must be finite and >= 0 (got \(inertia))")
        }
        self.centers = centers
        self.inertia = inertia
    }

    /// The nearest centre of each row of `data` (n × d): the same distance computation as the
    /// fit's assignment step, so the labels of the training points equal the fitted labels.
    /// Ties go to the lowest centre index. Errors: `.invalidArgument` for empty data, NaN/Inf,
    /// or a column count other than `dimension`.
    public func predict(_ data: Matrix<Scalar>, pool: ThreadPool = .shared) throws(TesseraError) -> [Int] {
        try KMeans.predict(data, centers: centers, pool: pool)
    }
}

extension KMeansResult {
    /// The fitted model (centres and inertia), for predicting labels of new points and saving.
    public var model: KMeansModel<Scalar> {
        // the fit's centres are finite and at least 1 x 1: this cannot fail
        try! KMeansModel(centers: centers, inertia: inertia)
    }
}

extension KMeans {
    /// The nearest centre of each row of `data` (centres: k × d), on `pool`.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func predict<S: ClusterScalar>(_ data: Matrix<S>, centers: Matrix<S>,
                                                 pool: ThreadPool) throws(TesseraError) -> [Int] {
        try validateData(data, metric: nil, what: "KMeans.predict")
        guard centers.cols == data.cols, centers.rows >= 1 else {
            throw .invalidArgument("KMeans.predict: centres are \(centers.rows) x \(centers.cols), data has \(data.cols) columns")
        }
        let c = centers.toArray()
        var labels = [Int](repeating: 0, count: data.rows)
        _ = assignStep(data, k: centers.rows, centers: c, labels: &labels, sums: nil, counts: nil, pool: pool)
        return labels
    }
}
