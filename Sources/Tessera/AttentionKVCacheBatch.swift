internal import CTessera

/// One sequence of ``KVCache/attend(layer:batch:queryHeads:attention:)``: its cache (the new
/// tokens' keys and values already appended at the layer) and its `queryLength` query rows
/// in, output rows out, both token-major `[token][head][d]` with `queryHeads × headDim`
/// floats per token.
public struct KVCacheQuery {
    /// The sequence's cache; attention reads all `length(layer:)` keys of the layer.
    public let cache: KVCache
    /// `queryLength × queryHeads × headDim` floats.
    public let query: UnsafePointer<Float>
    /// Query rows (>= 1), the last aligned with the cache's last key.
    public let queryLength: Int
    /// `queryLength × queryHeads × headDim` floats, written.
    public let output: UnsafeMutablePointer<Float>

    /// A sequence reading `query`, writing `output`, over `cache`.
    public init(cache: KVCache, query: UnsafePointer<Float>, queryLength: Int, output: UnsafeMutablePointer<Float>) {
        self.cache = cache
        self.query = query
        self.queryLength = queryLength
        self.output = output
    }
}

extension KVCache {
    /// Attention of several sequences, each over its own cache at `layer`, in one call on
    /// `attention.pool` (`tsr_attention_batch`): the decode step of a server batching many
    /// sequences, where one call per sequence costs more in dispatch than its few rows cost
    /// in work. Each sequence's output is bit-identical to
    /// `entry.cache.attend(layer:query:queryHeads:queryLength:output:attention:)` alone —
    /// whatever the other sequences, their number, order or the thread count.
    ///
    /// The caches must share `kvHeads`, `headDim`, `maxContext` and `storage` (one layout for
    /// all); the mask may be `.none`, `.causal`, `.slidingWindow` or `.all` of those (boolean
    /// and bias masks have per-sequence shapes). Errors (nothing written): `.invalidArgument`
    /// for an empty batch, a layer out of range, caches of different shapes, a query length
    /// < 1, an unsupported mask; `.invalidState` for a cache empty at `layer`.
    public static func attend(layer: Int, batch: [KVCacheQuery], queryHeads: Int,
                              attention: Attention = Attention(mask: .causal)) throws(TesseraError)
    {
        guard let first = batch.first?.cache else { throw .invalidArgument("KVCache.attend(batch:): no sequences") }
        try first.checkLayer(layer)
        for (i, e) in batch.enumerated() {
            let c = e.cache
            guard c.kvHeads == first.kvHeads, c.headDim == first.headDim, c.maxContext == first.maxContext,
                  c.storage == first.storage else {
                throw .invalidArgument("KVCache.attend(batch:): sequence \(i)'s cache differs in kvHeads, headDim, maxContext or storage from sequence 0's")
            }
            guard e.queryLength >= 1 else {
                throw .invalidArgument("KVCache.attend(batch:): sequence \(i) has queryLength \(e.queryLength) (must be >= 1)")
            }
            guard c.length(layer: layer) >= 1 else { throw .invalidState("KVCache.attend(batch:): sequence \(i)'s layer \(layer) is empty") }
        }
        let hd = first.headDim
        var desc = try attention.makeDesc(batch: 1, qHeads: queryHeads, kvHeads: first.kvHeads, qLen: 1, kvLen: 1,
                                          headDim: hd)
        var bits: [UInt64] = [], bias: [Float] = []
        try Attention.apply(attention.mask, to: &desc, bits: &bits, bias: &bias)
        guard desc.has_bitset == 0, desc.has_bias == 0 else {
            throw .invalidArgument("KVCache.attend(batch:): boolean and bias masks are not supported (per-sequence shapes)")
        }
        let row = Int64(queryHeads * hd)
        desc.q.stride_row = row; desc.q.stride_head = Int64(hd); desc.q.stride_batch = 0
        desc.o = desc.q
        let kvHead = Int64(first.maxContext * hd)
        desc.k.stride_row = Int64(hd); desc.k.stride_head = kvHead; desc.k.stride_batch = 0
        desc.k.extent = Int64(first.kvHeads) * kvHead
        desc.v = desc.k
        desc.k_dtype = first.storage.dtype
        desc.v_dtype = first.storage.dtype
        try withUnsafeTemporaryAllocation(of: tsr_attn_seq.self, capacity: batch.count) { (seqs) throws(TesseraError) in
            for (i, e) in batch.enumerated() {
                let (k, v) = e.cache.unsafeStorage(layer: layer)
                seqs[i] = tsr_attn_seq(q_len: Int64(e.queryLength), kv_len: Int64(e.cache.length(layer: layer)),
                                       q: UnsafeRawPointer(e.query), k: k, v: v,
                                       o: UnsafeMutableRawPointer(e.output), lse: nil)
            }
            try check(tsr_attention_batch(attention.pool.handle, &desc, Int64(batch.count), seqs.baseAddress))
        }
        withExtendedLifetime(batch) {}
    }
}
