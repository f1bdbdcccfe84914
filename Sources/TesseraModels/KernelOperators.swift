/// A projection on Tessera's quantized GEMV/GEMM (`QuantizedMatrix`): the GGUF weight bytes
/// are repacked once into the kernel's panel layout; every call is one product on the
/// session's rows (M = 1 is the GEMV path of decode, M > 1 the GEMM path of prefill and draft
/// verification), on the model's pool. Batch-invariant by the kernel's contract.
final class KernelLinear: LinearOperator, @unchecked Sendable {
    // @unchecked: the matrix is immutable after creation; products without a workspace
    // serialise on the plan's own scratch.
    let weight: WeightMatrix
    let matrix: QuantizedMatrix
    let pool: ThreadPool

    /// nil when Tessera has no kernel for the weight's block type.
    init?(weight: WeightMatrix, pool: ThreadPool) throws(TesseraError) {
        guard let format = weight.type.quantFormat else { return nil }
        // the bytes are read once, here (the plan keeps its own packed copy)
        matrix = try QuantizedMatrix(format: format, rows: weight.outFeatures, columns: weight.inFeatures,
                                     bytes: UnsafeRawBufferPointer(start: weight.data, count: weight.byteCount),
                                     pool: pool)
        self.weight = weight
        self.pool = pool
    }

    private init(weight: WeightMatrix, matrix: QuantizedMatrix, pool: ThreadPool) {
        self.weight = weight
        self.matrix = matrix
        self.pool = pool
    }

    /// The same plan, its `weight` now describing the whole matrix without keeping the bytes
    /// it was packed from (a stacked copy): data and owner are `mapped`'s (a part in the file).
    func droppingSourceBytes(describedBy mapped: WeightMatrix) -> KernelLinear {
        KernelLinear(weight: WeightMatrix(name: weight.name, type: weight.type, inFeatures: weight.inFeatures,
                                          outFeatures: weight.outFeatures, data: mapped.data, owner: mapped.owner),
                     matrix: matrix, pool: pool)
    }

    /// Bytes of the plan's packed panels: what one call streams (vs `weight.byteCount` as stored).
    var packedBytes: Int { matrix.packedBytes }
    var kernelName: String { matrix.kernelName }

    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>, ldy: Int) throws(TesseraError) {
        try matrix.multiply(rows: m, x: x, xStride: weight.inFeatures, into: y, yStride: ldy, pool: pool)
    }
}

/// Attention on Tessera's tiles (`KVCache.attend`): Q `[t][heads][hd]` against the cache's
/// `[kvHeads][maxContext][hd]` K/V in place, bottom-right causal mask (a sliding window on
/// local layers), on the model's pool, with the session's workspace (no allocation per call).
struct KernelAttention: AttentionOperator {
    let pool: ThreadPool
    /// Plain causal attention with the default scale (the common case, made once).
    let attention: Attention

    init(pool: ThreadPool) {
        self.pool = pool
        attention = Attention(mask: .causal, pool: pool)
    }

    func apply(q: UnsafePointer<Float>, tokens t: Int, start: Int, heads: Int, cache: KVCache, layer: Int,
               scale: Float, window: Int?,
               workspace: AttentionWorkspace, into out: UnsafeMutablePointer<Float>) throws(TesseraError) {
        var a = attention
        a.scale = scale
        if let window { a.mask = .slidingWindow(left: window - 1, right: 0) }
        try cache.attend(layer: layer, query: q, queryHeads: heads, queryLength: t, output: out,
                         attention: a, workspace: workspace)
    }

    /// One `tsr_attention_batch` call for all sequences (same bits as `apply` per sequence)
    /// when their caches share one layout.
    func applyBatch(_ seqs: [KVCacheQuery], heads: Int, layer: Int, scale: Float, window: Int?) throws(TesseraError) -> Bool {
        guard let c0 = seqs.first?.cache else { return true }
        for s in seqs where s.cache.maxContext != c0.maxContext || s.cache.storage != c0.storage
            || s.cache.kvHeads != c0.kvHeads || s.cache.headDim != c0.headDim {
            return false
        }
        var a = attention
        a.scale = scale
        if let window { a.mask = .slidingWindow(left: window - 1, right: 0) }
        try KVCache.attend(layer: layer, batch: seqs, queryHeads: heads, attention: a)
        return true
    }
}

/// The projections on Tessera's quantized GEMV/GEMM when the block type has a kernel;
/// nil means "use the reference".
func makeKernelLinear(_ w: WeightMatrix, pool: ThreadPool) throws(TesseraError) -> (any LinearOperator)? {
    try KernelLinear(weight: w, pool: pool)
}

/// Attention on Tessera's attention tiles.
func makeKernelAttention(pool: ThreadPool) -> (any AttentionOperator)? {
    KernelAttention(pool: pool)
}
