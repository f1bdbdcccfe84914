/// A mixture rebuilt from its parameters (for the C ABI of TesseraCABI: a fitted model comes
/// back from a caller as weights, means and covariances, and predicts as the fitted one did).
extension GaussianMixture {
    /// The mixture with these k weights, k × d means and k covariances (d·d row-major for
    /// `.full`, d for `.diagonal`). The Cholesky factors are computed as the fit computes them,
    /// so `predict`, `predictProbabilities` and `scoreSamples` give the fitted model's bits.
    /// Errors: inconsistent sizes, non-finite values, weights that are not positive, a covariance
    /// that is not positive definite.
    package init(weights: [Double], means: [[Double]], covariances: [[Double]], covariance: CovarianceType) throws(TesseraError) {
        let k = weights.count
        guard k >= 1 else { throw .invalidArgument("GaussianMixture: at least one component is needed") }
        guard means.count == k, covariances.count == k else {
            throw .invalidArgument("GaussianMixture: \(k) weights but \(means.count) means and \(covariances.count) covariances")
        }
        let d = means[0].count
        guard d >= 1, means.allSatisfy({ $0.count == d }) else {
            throw .invalidArgument("GaussianMixture: the means must be k rows of the same length d >= 1")
        }
        let size = covariance == .full ? d * d : d
        guard covariances.allSatisfy({ $0.count == size }) else {
            throw .invalidArgument("GaussianMixture: each covariance must hold \(size) values for '\(covariance.rawValue)'")
        }
        guard weights.allSatisfy({ $0 > 0 && $0.isFinite }) else {   // a fit may give 1 + ulp
            throw .invalidArgument("GaussianMixture: weights must be positive and finite")
        }
        guard means.allSatisfy({ $0.allSatisfy(\.isFinite) }), covariances.allSatisfy({ $0.allSatisfy(\.isFinite) }) else {
            throw .invalidArgument("GaussianMixture: means and covariances must be finite")
        }
        self.init(components: k, dimension: d, covarianceType: covariance, weights: weights, means: means,
                  covariances: covariances)
        try factorize()
    }
}
