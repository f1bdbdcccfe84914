internal import CTessera

/// FastRP node embeddings (Chen, Sultan, Tian, Chen, Skiena — CIKM 2019):
///
///     A = D⁻¹S,  N₁ = A·diag(deg^β)·R,  Nᵢ = A·Nᵢ₋₁,  E = Σ αᵢ·rownorm?(Nᵢ),  E = standardise(E)
///
/// with R a very sparse random projection (`s = sqrt(n)` by default, as the reference
/// implementation's scikit-learn `SparseRandomProjection`). Deterministic: the same bits
/// for any thread count.
///
/// ```swift
/// let g = try Graph(contentsOf: "edges.txt")
/// let fr = try FastRP(graph: g)
/// try fr.compute { done, total in print("\(done)/\(total)") }
/// let e = try fr.embeddings()                       // paper defaults
/// let e2 = try fr.embeddings(weights: [0, 0, 1, 8]) // reweighted without recomputing
/// ```
public final class FastRP: @unchecked Sendable {
    /// Parameters; the defaults are those of the reference notebook (BlogCatalog), with d = 128.
    public struct Parameters: Sendable, Equatable {
        /// Embedding dimension d.
        public var dimension: Int = 128
        /// α₁…α_q; their count is q (1...16).
        public var weights: [Double] = [1, 1, 7.81, 45.28]
        /// Degree exponent β (the reference calls it `alpha`).
        public var beta: Double = -0.628
        /// Sparsity s of R (nil: sqrt(n)).
        public var sparsity: Double? = nil
        /// `.sparse` (default) or `.gaussian` entries in R.
        public var gaussianProjection: Bool = false
        /// Seed of the random projection R.
        public var seed: UInt64 = 42
        /// `.transition` (A = D⁻¹S, default) or `.adjacency` (S).
        public var matrix: Graph.Operator = .transition
        /// L2-normalise each row of every Nᵢ before the weighted sum.
        public var normalizeRows: Bool = false
        /// Standardise the columns of the sum (mean 0, variance 1).
        public var standardize: Bool = true

        /// The default parameters.
        public init() {}

        var c: tsr_fastrp_params {
            var p = tsr_fastrp_params()
            tsr_fastrp_params_default(&p)
            p.dim = Int32(clamping: dimension)
            p.q = Int32(clamping: weights.count)
            withUnsafeMutableBytes(of: &p.weights) { raw in
                let b = raw.bindMemory(to: Double.self)
                for (i, w) in weights.prefix(b.count).enumerated() { b[i] = w }
            }
            p.beta = beta
            p.s = sparsity ?? TSR_RP_S_AUTO
            p.projection = gaussianProjection ? TSR_RP_GAUSSIAN : TSR_RP_SPARSE
            p.seed = seed
            p.matrix = matrix == .transition ? TSR_GRAPH_TRANSITION : TSR_GRAPH_ADJACENCY
            p.normalize_rows = normalizeRows ? 1 : 0
            p.standardize = standardize ? 1 : 0
            return p
        }

        func validate() throws(TesseraError) {
            guard dimension >= 1, dimension <= Int(Int32.max) else {
                throw .invalidArgument("FastRP: dimension must be >= 1 (got \(dimension))")
            }
            guard (1...Int(TSR_FASTRP_MAX_ITER)).contains(weights.count) else {
                throw .invalidArgument("FastRP: 1...\(TSR_FASTRP_MAX_ITER) weights needed (got \(weights.count))")
            }
            if let s = sparsity, !(s >= 1 && s.isFinite) {
                throw .invalidArgument("FastRP: sparsity must be >= 1 (got \(s))")
            }
        }
    }

    /// The graph the embeddings are computed for.
    public let graph: Graph
    /// The parameters the cache was prepared with.
    public let parameters: Parameters
    let handle: OpaquePointer

    /// Prepares the cache of N₁…N_q (q · n · d floats); computes nothing yet.
    public init(graph: Graph, parameters: Parameters = Parameters()) throws(TesseraError) {
        try parameters.validate()
        var p = parameters.c
        var h: OpaquePointer?
        try check(tsr_fastrp_create(graph.handle, &p, &h))
        self.graph = graph
        self.parameters = parameters
        self.handle = h!
    }

    deinit { tsr_fastrp_destroy(handle) }

    /// Iterations computed so far.
    public var iterationsDone: Int { Int(tsr_fastrp_steps_done(handle)) }

    /// Computes the remaining iterations; `progress(done, total)` is called after each
    /// sparse product (on the calling thread).
    public func compute(pool: ThreadPool = .shared, progress: ((Int, Int) -> Void)? = nil) throws(TesseraError) {
        _ = try compute(pool: pool) { done, total in progress?(done, total); return true }
    }

    /// The loop of `compute`: after each sparse product, `step(done, total)` says whether to
    /// go on. Returns false when `step` stopped it before the last iteration.
    func compute(pool: ThreadPool, step: (Int, Int) -> Bool) throws(TesseraError) -> Bool {
        let q = parameters.weights.count
        while iterationsDone < q {
            try check(tsr_fastrp_step(pool.handle, handle))
            if !step(iterationsDone, q) { return iterationsDone >= q }
        }
        return true
    }

    /// Σ αᵢ·rownorm?(Nᵢ), standardised if asked, from the cache (computing what is missing).
    /// `weights` defaults to the parameters' weights and may be shorter (fewer iterations).
    public func embeddings(weights: [Double]? = nil, normalizeRows: Bool? = nil, standardize: Bool? = nil,
                           pool: ThreadPool = .shared) throws(TesseraError) -> Matrix<Float> {
        let w = weights ?? parameters.weights
        guard !w.isEmpty, w.count <= parameters.weights.count else {
            throw .invalidArgument("FastRP.embeddings: 1...\(parameters.weights.count) weights needed (got \(w.count))")
        }
        try compute(pool: pool)
        var out = try Matrix<Float>(uninitializedRows: graph.nodeCount, cols: parameters.dimension)  // the kernel writes every element
        let ld = Int64(out.rowStride)
        let status = w.withUnsafeBufferPointer { wp in
            out.withUnsafeMutableBufferPointer { op in
                tsr_fastrp_combine(pool.handle, handle, wp.baseAddress, Int32(w.count),
                                   (normalizeRows ?? parameters.normalizeRows) ? 1 : 0,
                                   (standardize ?? parameters.standardize) ? 1 : 0, op.baseAddress, ld)
            }
        }
        try check(status)
        return out
    }

    /// Nᵢ (1-based), a copy of the cached iteration.
    public func iteration(_ i: Int) throws(TesseraError) -> Matrix<Float> {
        var data: UnsafePointer<Float>?
        try check(tsr_fastrp_iteration(handle, Int32(clamping: i), &data))
        let n = graph.nodeCount, d = parameters.dimension
        return try Matrix<Float>(rows: n, cols: d, elements: Array(UnsafeBufferPointer(start: data!, count: n * d)))
    }

    /// One-shot embedding with the least memory (two n × d buffers besides the result).
    public static func embed(graph: Graph, parameters: Parameters = Parameters(),
                             pool: ThreadPool = .shared) throws(TesseraError) -> Matrix<Float> {
        try parameters.validate()
        var p = parameters.c
        var out = try Matrix<Float>(uninitializedRows: graph.nodeCount, cols: parameters.dimension)  // the kernel writes every element
        let ld = Int64(out.rowStride)
        let status = out.withUnsafeMutableBufferPointer { op in
            tsr_fastrp_embed(pool.handle, graph.handle, &p, op.baseAddress, ld)
        }
        try check(status)
        return out
    }
}
