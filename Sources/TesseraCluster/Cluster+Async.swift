// `async` variants of the cluster fits: the same computation as the synchronous calls (the
// same bits), run on a thread of their own, with progress reports and task cancellation
// checked after every iteration. Cancellation throws `CancellationError`; every other error is
// the `TesseraError` the synchronous call would throw.

extension KMeans {
    /// Clusters the rows of `data` into k groups without blocking the caller's thread.
    ///
    /// The result equals ``fit(_:k:options:)``'s bit for bit. `progress` gets one report per
    /// Lloyd iteration ("k-means iterations", total `nInit · maxIterations`; a run that
    /// converges early jumps to the end of its share). Cancelling the task stops the fit after
    /// the current iteration and throws `CancellationError`.
    public static func fit<S: ClusterScalar>(_ data: Matrix<S>, k: Int, options: KMeansOptions = KMeansOptions(),
                                             progress: ProgressHandler? = nil) async throws -> KMeansResult<S> {
        let perRun = max(0, options.maxIterations)
        let counter = ProgressCounter(progress, total: max(1, options.nInit) * perRun, what: "k-means iterations")
        return try await runCancellable(name: "KMeans.fit") { flag in
            let result = try fit(data, k: k, options: options) { run, iteration in
                // the previous run's share is complete once a new run reports
                counter.report(run * perRun + iteration)
                return !flag.isCancelled
            }
            guard let result else { throw CancellationError() }
            counter.finish()
            return result
        }
    }
}

extension KMedoids {
    /// Clusters the n objects of `matrix` around k medoids without blocking the caller's thread.
    ///
    /// The result equals ``fit(_:k:options:)``'s (medoids, labels, loss, iterations and swaps).
    /// `progress` gets one report per outer iteration that goes on ("k-medoids iterations",
    /// total `maxIterations`; the last report jumps to the total on convergence); the
    /// `KMedoidsProgress` closure in `options`, if any, is not called. Cancelling the task stops
    /// the fit after the current iteration and throws `CancellationError`.
    public static func fit<S: ClusterScalar>(_ matrix: DistanceMatrix<S>, k: Int,
                                             options: KMedoidsOptions = KMedoidsOptions(),
                                             progress: ProgressHandler? = nil) async throws -> KMedoidsResult {
        let counter = ProgressCounter(progress, total: max(0, options.maxIterations), what: "k-medoids iterations")
        return try await runCancellable(name: "KMedoids.fit") { flag in
            let result = try fit(matrix, k: k, options: options, control: { p in
                counter.report(p.iteration)
                return !flag.isCancelled
            })
            guard let result else { throw CancellationError() }
            counter.finish()
            return result
        }
    }
}

extension GaussianMixture {
    /// Fits k components to the rows of `data` without blocking the caller's thread.
    ///
    /// The model equals ``fit(_:components:options:)``'s bit for bit. `progress` gets one
    /// report per EM iteration ("EM iterations", total `maxIterations`; the last report jumps to
    /// the total on convergence). Cancelling the task stops the fit after the current iteration
    /// (the k-means initialisation runs to its end) and throws `CancellationError`.
    public static func fit<S: ClusterScalar>(_ data: Matrix<S>, components k: Int,
                                             options: GaussianMixtureOptions = GaussianMixtureOptions(),
                                             progress: ProgressHandler? = nil) async throws -> GaussianMixture {
        let counter = ProgressCounter(progress, total: max(0, options.maxIterations), what: "EM iterations")
        return try await runCancellable(name: "GaussianMixture.fit") { flag in
            let result = try fit(data, components: k, options: options) { iteration in
                counter.report(iteration)
                return !flag.isCancelled
            }
            guard let result else { throw CancellationError() }
            counter.finish()
            return result
        }
    }
}
