/// Causal grouped-query attention over the session's KV cache (`Tessera.KVCache`) for a
/// block of `t` query tokens at positions `start..<start+t` (their K/V already appended to
/// `layer`). Batch-invariant: each query's result depends only on its own q and the keys
/// `0...position` (with a window w: the last w of them, `position−w+1...position`).
protocol AttentionOperator: Sendable {
    /// `q`: `[t][heads*headDim]`; `out`: `[t][heads*headDim]`. `scale` multiplies q·k;
    /// `window`: keys each query sees, itself included (nil: all before it). `workspace`: the
    /// session's split-decode scratch, reused from call to call.
    func apply(q: UnsafePointer<Float>, tokens t: Int, start: Int, heads: Int, cache: KVCache, layer: Int,
               scale: Float, window: Int?,
               workspace: AttentionWorkspace, into out: UnsafeMutablePointer<Float>) throws(TesseraError)

    /// Attention of several sequences at `layer`, each over its own cache (its K/V already
    /// appended), in one call: each sequence's output bit-identical to `apply` on it alone.
    /// Returns false (nothing computed) when the operator has no such call or the caches do
    /// not share one layout; the caller then runs `apply` per sequence.
    func applyBatch(_ seqs: [KVCacheQuery], heads: Int, layer: Int, scale: Float, window: Int?) throws(TesseraError) -> Bool
}

extension AttentionOperator {
    func applyBatch(_ seqs: [KVCacheQuery], heads: Int, layer: Int, scale: Float, window: Int?) throws(TesseraError) -> Bool {
        false
    }
}

/// Reference attention: for each (query, head), scores in f32, softmax with the row max
/// subtracted, weighted sum of V — always over keys in position order.
struct ReferenceAttention: AttentionOperator {
    let pool: ThreadPool

    func apply(q: UnsafePointer<Float>, tokens t: Int, start: Int, heads: Int, cache: KVCache, layer: Int,
               scale: Float, window: Int?,
               workspace: AttentionWorkspace, into out: UnsafeMutablePointer<Float>) throws(TesseraError) {
        if cache.storage == .float32 {
            let (keys, values) = cache.unsafeStorage(layer: layer)
            run(q: q, tokens: t, start: start, heads: heads, cache: cache, keys: keys.assumingMemoryBound(to: Float.self),
                values: values.assumingMemoryBound(to: Float.self), rowsPerHead: cache.maxContext, scale: scale,
                window: window, into: out)
            return
        }
        // f16/bf16: widened (exactly) to `[kvHeads][length][headDim]` floats once per call
        let keys = try cache.view(layer: layer), values = try cache.view(layer: layer, values: true)
        keys.withUnsafeBufferPointer { k in
            values.withUnsafeBufferPointer { v in
                run(q: q, tokens: t, start: start, heads: heads, cache: cache, keys: k.baseAddress!, values: v.baseAddress!,
                    rowsPerHead: cache.length(layer: layer), scale: scale, window: window, into: out)
            }
        }
    }

    /// The attention over f32 keys and values laid out `[kvHeads][rowsPerHead][headDim]`.
    private func run(q: UnsafePointer<Float>, tokens t: Int, start: Int, heads: Int, cache: KVCache,
                     keys kBase: UnsafePointer<Float>, values vBase: UnsafePointer<Float>, rowsPerHead capacity: Int,
                     scale: Float, window: Int?, into out: UnsafeMutablePointer<Float>) {
        let hd = cache.headDim
        let group = heads / cache.kvHeads
        @inline(__always) func row(_ base: UnsafePointer<Float>, _ head: Int, _ position: Int) -> UnsafePointer<Float> {
            base + (head * capacity + position) * hd
        }
        pool.parallelFor(0..<(t * heads), schedule: .dynamic(chunk: 1)) { items, worker in
            guard let raw = pool.scratch(worker: worker, bytes: (capacity + hd) * MemoryLayout<Float>.size) else { return }
            let scores = raw.assumingMemoryBound(to: Float.self)
            let acc = scores + capacity
            for item in items {
                let i = item / heads, h = item % heads
                let kvh = h / group
                let pos = start + i
                let first = window.map { max(0, pos - $0 + 1) } ?? 0
                let qv = q + i * heads * hd + h * hd
                var mx = -Float.infinity
                for j in first...pos {
                    let s = dotF32(qv, row(kBase, kvh, j), hd) * scale
                    scores[j] = s
                    mx = max(mx, s)
                }
                var sum: Float = 0
                for j in first...pos {
                    let e = expf(scores[j] - mx)
                    scores[j] = e
                    sum += e
                }
                for d in 0..<hd { acc[d] = 0 }
                for j in first...pos {
                    let p = scores[j]
                    let vv = row(vBase, kvh, j)
                    for d in 0..<hd { acc[d] += p * vv[d] }
                }
                let o = out + i * heads * hd + h * hd
                let inv = 1 / sum
                for d in 0..<hd { o[d] = acc[d] * inv }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
