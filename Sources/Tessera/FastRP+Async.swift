extension FastRP {
    /// Computes the remaining iterations off the caller's thread, honouring task cancellation.
    ///
    /// The same computation as ``compute(pool:progress:)`` (the same bits); `progress` gets one
    /// report per sparse product ("FastRP iterations", total q = `parameters.weights.count`),
    /// on the thread doing the work. Cancellation is checked after each iteration: the
    /// iterations already done stay cached (a later `compute` resumes from them) and this
    /// throws `CancellationError`. Other errors are ``TesseraError``s.
    public func compute(pool: ThreadPool = .shared, progress: ProgressHandler? = nil) async throws {
        let counter = ProgressCounter(progress, total: parameters.weights.count, what: "FastRP iterations")
        try await runCancellable(name: "FastRP") { flag in
            let finished = try self.compute(pool: pool) { done, _ in
                counter.report(done)
                return !flag.isCancelled
            }
            if !finished { throw CancellationError() }
            counter.finish()
        }
    }

    /// ``embed(graph:parameters:pool:)`` for large graphs, from an `async` context: computes
    /// the iterations (reporting progress, honouring cancellation between them) and combines them.
    ///
    /// The result equals the synchronous one bit for bit. It keeps all q iterations in memory
    /// (q · n · d floats) while running, where the one-shot `embed` keeps two.
    public static func embed(graph: Graph, parameters: Parameters = Parameters(), pool: ThreadPool = .shared,
                             progress: ProgressHandler?) async throws -> Matrix<Float> {
        let fastRP = try FastRP(graph: graph, parameters: parameters)
        try await fastRP.compute(pool: pool, progress: progress)
        return try await runCancellable(name: "FastRP combine") { _ in try fastRP.embeddings(pool: pool) }
    }
}
