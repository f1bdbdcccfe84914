/// Probabilistic Partitive Partitioning (after M. Sultan, arXiv 2003.04372): k-means partitions
/// validated by a Gaussian mixture, so that k need not be given.
///
/// The paper's method section was not available; this is the deterministic rule implemented
/// here, in its spirit:
///
/// 1. For every k in `kRange`: k-means (Lloyd, greedy k-means++) with `restarts` fixed
///    seeds 0, 1, …; the partition of least inertia is kept. Fixed seeds make the result a
///    function of the data alone (it does not depend on any user-supplied initial condition).
/// 2. A GMM (full covariances by default) is initialised from that partition and run by EM.
/// 3. The GMM validates the partition by **agreement**: the fraction of points whose most
///    probable component is the k-means cluster they came from.
/// 4. Accepted: the k of lowest BIC among those with agreement ≥ `minAgreement` (default 0.9);
///    if none reaches it, the k of lowest BIC. Ties go to the smaller k.
public enum PPP {
    /// Options of ``PPP/fit(_:options:)``.
    public struct Options: Sendable {
        /// The values of k examined (k above n are skipped).
        public var kRange: ClosedRange<Int>
        /// Covariance type of the validating mixtures.
        public var covariance: CovarianceType
        /// k-means runs per k (seeds 0, 1, …); the least inertia is kept.
        public var restarts: Int
        /// Agreement a k needs to be accepted, in [0, 1].
        public var minAgreement: Double
        /// nil: the shared pool.
        public var pool: ThreadPool?
        /// Options for k in 1...10, full covariances, 5 restarts and agreement 0.9.
        public init(kRange: ClosedRange<Int> = 1...10, covariance: CovarianceType = .full, restarts: Int = 5,
                    minAgreement: Double = 0.9, pool: ThreadPool? = nil) {
            self.kRange = kRange
            self.covariance = covariance
            self.restarts = restarts
            self.minAgreement = minAgreement
            self.pool = pool
        }
    }

    /// One examined k.
    public struct Candidate: Sendable {
        /// The number of clusters examined.
        public var k: Int
        /// Inertia of the best k-means partition.
        public var inertia: Double
        /// BIC of the mixture started from it (lower is better).
        public var bic: Double
        /// Fraction of points whose most probable component is their k-means cluster.
        public var agreement: Double
        /// Mean log-likelihood per sample of the mixture.
        public var logLikelihood: Double
    }

    /// The accepted k with its partition and mixture, and every candidate examined.
    public struct Result<Scalar: ClusterScalar>: Sendable {
        /// The accepted number of clusters.
        public var k: Int
        /// The k-means labels of the accepted partition.
        public var labels: [Int]
        /// The k-means fit of the accepted k.
        public var kMeans: KMeansResult<Scalar>
        /// The mixture that validated it.
        public var mixture: GaussianMixture
        /// Every k examined, in increasing order.
        public var candidates: [Candidate]
    }

    /// Chooses k and clusters the rows of `data`. k values above n are skipped.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func fit<S: ClusterScalar>(_ data: Matrix<S>, options: Options = Options()) throws(TesseraError) -> Result<S> {
        try validateData(data, metric: nil, what: "PPP")
        guard options.kRange.lowerBound >= 1 else { throw .invalidArgument("PPP: kRange must start at 1 or more") }
        guard options.restarts >= 1 else { throw .invalidArgument("PPP: restarts must be >= 1") }
        guard options.minAgreement >= 0, options.minAgreement <= 1 else { throw .invalidArgument("PPP: minAgreement must be in [0, 1]") }
        let ks = options.kRange.filter { $0 <= data.rows }
        guard !ks.isEmpty else { throw .invalidArgument("PPP: every k in \(options.kRange) exceeds n = \(data.rows)") }
        var candidates = [Candidate]()
        var fits = [(KMeansResult<S>, GaussianMixture)]()
        for k in ks {
            let km = try KMeans.fit(data, k: k, options: .init(nInit: options.restarts, seed: 0, pool: options.pool))
            let gmm: GaussianMixture
            do {
                gmm = try GaussianMixture.fit(data, components: k, options: .init(
                    covariance: options.covariance, initialization: .labels(km.labels), pool: options.pool))
            } catch {
                continue   // a singular component: this k is not supported by the data
            }
            let predicted = try gmm.predict(data)
            var agree = 0
            for i in 0..<data.rows where predicted[i] == km.labels[i] { agree += 1 }
            candidates.append(Candidate(k: k, inertia: km.inertia, bic: gmm.bic,
                                        agreement: Double(agree) / Double(data.rows), logLikelihood: gmm.logLikelihood))
            fits.append((km, gmm))
        }
        guard !candidates.isEmpty else { throw .invalidArgument("PPP: no k in \(options.kRange) gave a usable mixture") }
        func pick(_ idx: [Int]) -> Int? {
            idx.min { candidates[$0].bic < candidates[$1].bic || (candidates[$0].bic == candidates[$1].bic && $0 < $1) }
        }
        let confirmed = candidates.indices.filter { candidates[$0].agreement >= options.minAgreement }
        let chosen = pick(confirmed) ?? pick(Array(candidates.indices))!
        return Result(k: candidates[chosen].k, labels: fits[chosen].0.labels, kMeans: fits[chosen].0,
                      mixture: fits[chosen].1, candidates: candidates)
    }
}
