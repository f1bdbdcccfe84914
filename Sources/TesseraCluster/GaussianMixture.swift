/// Gaussian mixture models fitted by expectation–maximisation.
public enum CovarianceType: String, CaseIterable, Sendable {
    /// A full d × d covariance per component.
    case full
    /// A diagonal covariance per component.
    case diagonal = "diag"
}

/// How the responsibilities of the first M-step are set.
public enum GaussianMixtureInitialization: Sendable, Equatable {
    /// Responsibilities from a k-means++ / Lloyd partition (seeded).
    case kMeans
    /// Responsibilities from a given partition (labels in 0..<k).
    case labels([Int])
}

/// Options of ``GaussianMixture/fit(_:components:options:)``.
public struct GaussianMixtureOptions: Sendable {
    /// Full or diagonal covariance matrices.
    public var covariance: CovarianceType
    /// The starting partition (k-means by default).
    public var initialization: GaussianMixtureInitialization
    /// EM iterations at most (≥ 1).
    public var maxIterations: Int
    /// Stop when the mean log-likelihood per sample changes by less than this.
    public var tolerance: Double
    /// Added to every covariance diagonal (keeps them positive definite).
    public var regularization: Double
    /// Seed of the k-means initialisation.
    public var seed: UInt64
    /// nil: the shared pool.
    public var pool: ThreadPool?

    /// Options with scikit-learn's defaults: full covariances, 100 iterations, tolerance 10⁻³, regularisation 10⁻⁶.
    public init(covariance: CovarianceType = .full, initialization: GaussianMixtureInitialization = .kMeans,
                maxIterations: Int = 100, tolerance: Double = 1e-3, regularization: Double = 1e-6,
                seed: UInt64 = 0, pool: ThreadPool? = nil) {
        self.covariance = covariance
        self.initialization = initialization
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.regularization = regularization
        self.seed = seed
        self.pool = pool
    }
}

/// A fitted Gaussian mixture: weights, means and covariances of k components in d dimensions.
public struct GaussianMixture: Sendable {
    /// Number of components k.
    public let components: Int
    /// Dimension d of the data.
    public let dimension: Int
    /// Full or diagonal covariances.
    public let covarianceType: CovarianceType
    /// Mixing weights of the k components (sum 1).
    public private(set) var weights: [Double]
    /// k rows of d.
    public private(set) var means: [[Double]]
    /// k entries: d·d row-major (full) or d (diagonal).
    public private(set) var covariances: [[Double]]
    /// Mean log-likelihood per sample of the training data, after the last iteration.
    public private(set) var logLikelihood: Double = -.infinity
    /// Mean log-likelihood after each E-step (non-decreasing up to rounding when regularization is 0).
    public private(set) var logLikelihoodHistory: [Double] = []
    /// EM iterations run.
    public private(set) var iterations = 0
    /// Whether the log-likelihood change fell below the tolerance before `maxIterations`.
    public private(set) var converged = false
    /// Samples the model was fitted on.
    public private(set) var sampleCount = 0
    // Cholesky factors (full) or variances (diagonal), and log-determinants
    var factors: [[Double]] = []
    var logDets: [Double] = []

    /// Free parameters: (k − 1) weights, k·d means, k·d(d+1)/2 (full) or k·d (diagonal) covariances.
    public var parameterCount: Int {
        let cov = covarianceType == .full ? dimension * (dimension + 1) / 2 : dimension
        return components - 1 + components * dimension + components * cov
    }

    /// Bayesian information criterion on the training data: −2·log L + p·ln n (lower is better).
    public var bic: Double { -2 * logLikelihood * Double(sampleCount) + Double(parameterCount) * _log(Double(sampleCount)) }

    /// Fits k components to the rows of `data`.
    /// Errors: k outside 1...n, empty data, NaN/Inf, bad options or labels, a covariance that stays
    /// singular after regularisation.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func fit<S: ClusterScalar>(_ data: Matrix<S>, components k: Int,
                                             options: GaussianMixtureOptions = GaussianMixtureOptions()) throws(TesseraError) -> GaussianMixture {
        try fit(data, components: k, options: options, control: nil)!
    }

    /// The fit, with `control(iteration)` called after every EM iteration that goes on; when it
    /// returns false the fit stops and returns nil.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func fit<S: ClusterScalar>(_ data: Matrix<S>, components k: Int, options: GaussianMixtureOptions,
                                      control: ((Int) -> Bool)?) throws(TesseraError) -> GaussianMixture? {
        try validateData(data, metric: nil, what: "GaussianMixture")
        let n = data.rows, d = data.cols
        guard k >= 1, k <= n else { throw .invalidArgument("GaussianMixture: components must be in 1...\(n) (got \(k))") }
        guard options.maxIterations >= 1 else { throw .invalidArgument("GaussianMixture: maxIterations must be >= 1") }
        guard options.tolerance >= 0, options.regularization >= 0, options.regularization.isFinite else {
            throw .invalidArgument("GaussianMixture: tolerance and regularization must be >= 0")
        }
        let pool = options.pool ?? .shared
        let labels: [Int]
        switch options.initialization {
        case .kMeans:
            labels = try KMeans.fit(data, k: k, options: .init(seed: options.seed, pool: pool)).labels
        case .labels(let l):
            guard l.count == n, l.allSatisfy({ $0 >= 0 && $0 < k }) else {
                throw .invalidArgument("GaussianMixture: initial labels must be \(n) values in 0..<\(k)")
            }
            labels = l
        }
        let x = data.toArray().map { Double($0) }
        var model = GaussianMixture(components: k, dimension: d, covarianceType: options.covariance,
                                    weights: [], means: [], covariances: [])
        model.sampleCount = n
        var resp = [Double](repeating: 0, count: n * k)
        for i in 0..<n { resp[i * k + labels[i]] = 1 }
        try model.mStep(x, resp: resp, n: n, reg: options.regularization)
        var previous = -Double.infinity
        while model.iterations < options.maxIterations {
            model.iterations += 1
            let ll = model.eStep(x, n: n, resp: &resp, pool: pool)
            model.logLikelihoodHistory.append(ll)
            model.logLikelihood = ll
            if abs(ll - previous) < options.tolerance { model.converged = true; break }
            previous = ll
            try model.mStep(x, resp: resp, n: n, reg: options.regularization)
            if let control, !control(model.iterations) { return nil }
        }
        if !model.converged {
            model.logLikelihood = model.eStep(x, n: n, resp: &resp, pool: pool)
        }
        return model
    }

    /// Per-sample log p(x) for the rows of `data`.
    public func scoreSamples<S: ClusterScalar>(_ data: Matrix<S>) throws(TesseraError) -> [Double] {
        try checkShape(data)
        let x = data.toArray().map { Double($0) }
        var out = [Double](repeating: 0, count: data.rows)
        var logp = [Double](repeating: 0, count: components)
        for i in 0..<data.rows {
            for c in 0..<components { logp[c] = logDensity(x, i, c) + _log(weights[c]) }
            out[i] = logSumExp(logp)
        }
        return out
    }

    /// The most probable component of each row.
    public func predict<S: ClusterScalar>(_ data: Matrix<S>) throws(TesseraError) -> [Int] {
        let p = try predictProbabilities(data)
        return (0..<data.rows).map { i in
            var best = 0
            for c in 1..<components where p[i, c] > p[i, best] { best = c }
            return best
        }
    }

    /// Posterior probabilities of the components, n × k.
    public func predictProbabilities<S: ClusterScalar>(_ data: Matrix<S>) throws(TesseraError) -> Matrix<Double> {
        try checkShape(data)
        let x = data.toArray().map { Double($0) }
        var resp = [Double](repeating: 0, count: data.rows * components)
        _ = eStep(x, n: data.rows, resp: &resp, pool: .shared)
        return try Matrix(rows: data.rows, cols: components, elements: resp)
    }

    func checkShape<S: ClusterScalar>(_ data: Matrix<S>) throws(TesseraError) {
        try validateData(data, metric: nil, what: "GaussianMixture")
        guard data.cols == dimension else {
            throw .invalidArgument("GaussianMixture: data has \(data.cols) columns, the model \(dimension)")
        }
    }

    // MARK: EM

    /// log N(x_i | μ_c, Σ_c).
    @inline(__always)
    func logDensity(_ x: [Double], _ i: Int, _ c: Int) -> Double {
        let d = dimension
        let mu = means[c], f = factors[c]
        var maha = 0.0
        if covarianceType == .full {
            // solve L y = x − μ (forward substitution), maha = ‖y‖²
            var y = [Double](repeating: 0, count: d)
            for r in 0..<d {
                var s = x[i * d + r] - mu[r]
                for t in 0..<r { s -= f[r * d + t] * y[t] }
                y[r] = s / f[r * d + r]
                maha += y[r] * y[r]
            }
        } else {
            for r in 0..<d { let v = x[i * d + r] - mu[r]; maha += v * v / f[r] }
        }
        return -0.5 * (Double(d) * _log(2 * Double.pi) + logDets[c] + maha)
    }

    /// Responsibilities and the mean log-likelihood (chunked, merged in order).
    func eStep(_ x: [Double], n: Int, resp: inout [Double], pool: ThreadPool) -> Double {
        let k = components
        let chunk = 1024
        let nChunks = (n + chunk - 1) / chunk
        var parts = [Double](repeating: 0, count: nChunks)
        let logW = weights.map { _log($0) }
        resp.withUnsafeMutableBufferPointer { rb in
            parts.withUnsafeMutableBufferPointer { pb in
                let r = rb.baseAddress!, p = pb.baseAddress!
                pool.parallelFor(0..<nChunks, schedule: .dynamic(chunk: 1)) { range, _ in
                    var logp = [Double](repeating: 0, count: k)
                    for ch in range {
                        var s = 0.0
                        for i in (ch * chunk)..<min(n, (ch + 1) * chunk) {
                            for c in 0..<k { logp[c] = logDensity(x, i, c) + logW[c] }
                            let lse = logSumExp(logp)
                            s += lse
                            for c in 0..<k { r[i * k + c] = _exp(logp[c] - lse) }
                        }
                        p[ch] = s
                    }
                }
            }
        }
        var total = 0.0
        for v in parts { total += v }
        return total / Double(n)
    }

    /// Weights, means and covariances from responsibilities.
    mutating func mStep(_ x: [Double], resp: [Double], n: Int, reg: Double) throws(TesseraError) {
        let k = components, d = dimension
        var nk = [Double](repeating: 0, count: k)
        var mu = [[Double]](repeating: [Double](repeating: 0, count: d), count: k)
        for i in 0..<n {
            for c in 0..<k {
                let r = resp[i * k + c]
                if r == 0 { continue }
                nk[c] += r
                for t in 0..<d { mu[c][t] += r * x[i * d + t] }
            }
        }
        let tiny = 10 * Double.ulpOfOne
        for c in 0..<k {
            nk[c] += tiny
            for t in 0..<d { mu[c][t] /= nk[c] }
        }
        var cov = [[Double]]()
        for c in 0..<k {
            var s = [Double](repeating: 0, count: covarianceType == .full ? d * d : d)
            for i in 0..<n {
                let r = resp[i * k + c]
                if r == 0 { continue }
                if covarianceType == .full {
                    for a in 0..<d {
                        let va = r * (x[i * d + a] - mu[c][a])
                        for b in 0...a { s[a * d + b] += va * (x[i * d + b] - mu[c][b]) }
                    }
                } else {
                    for a in 0..<d { let v = x[i * d + a] - mu[c][a]; s[a] += r * v * v }
                }
            }
            if covarianceType == .full {
                for a in 0..<d {
                    for b in 0...a { s[a * d + b] /= nk[c]; s[b * d + a] = s[a * d + b] }
                    s[a * d + a] += reg
                }
            } else {
                for a in 0..<d { s[a] = s[a] / nk[c] + reg }
            }
            cov.append(s)
        }
        weights = nk.map { $0 / Double(n) }
        means = mu
        covariances = cov
        try factorize()
    }

    mutating func factorize() throws(TesseraError) {
        let d = dimension
        factors = []
        logDets = []
        for (c, s) in covariances.enumerated() {
            if covarianceType == .diagonal {
                guard s.allSatisfy({ $0 > 0 }) else {
                    throw .invalidArgument("GaussianMixture: component \(c) has a zero variance; raise regularization")
                }
                factors.append(s)
                logDets.append(s.reduce(0) { $0 + _log($1) })
                continue
            }
            var l = [Double](repeating: 0, count: d * d)
            var logDet = 0.0
            for j in 0..<d {
                var v = s[j * d + j]
                for t in 0..<j { v -= l[j * d + t] * l[j * d + t] }
                guard v > 0 else {
                    throw .invalidArgument("GaussianMixture: the covariance of component \(c) is singular; raise regularization")
                }
                let ljj = v.squareRoot()
                l[j * d + j] = ljj
                logDet += 2 * _log(ljj)
                for i in (j + 1)..<max(d, j + 1) {
                    var w = s[i * d + j]
                    for t in 0..<j { w -= l[i * d + t] * l[j * d + t] }
                    l[i * d + j] = w / ljj
                }
            }
            factors.append(l)
            logDets.append(logDet)
        }
    }
}

@inline(__always)
func logSumExp(_ v: [Double]) -> Double {
    var m = -Double.infinity
    for x in v where x > m { m = x }
    if m == -.infinity { return m }
    var s = 0.0
    for x in v { s += _exp(x - m) }
    return m + _log(s)
}
