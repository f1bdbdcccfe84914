/// The keys and values of every layer for up to `capacity` positions, preallocated once.
///
/// Layout per layer: K and V are `[kvHeads][capacity][headDim]` f32 (each head's keys are
/// contiguous, the layout attention streams). `count` is the number of valid positions;
/// rolling back (after rejected speculative drafts) is just lowering `count`, because
/// positions are written in order and later writes overwrite the dead rows.
public final class KVCache: @unchecked Sendable {
    // @unchecked: owned by one session; never shared between concurrent forwards.
    public let layers: Int
    public let kvHeads: Int
    public let headDim: Int
    public let capacity: Int
    /// Valid positions (tokens whose K/V are stored).
    public internal(set) var count = 0

    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    let layerStride: Int
    let headStride: Int

    public init(layers: Int, kvHeads: Int, headDim: Int, capacity: Int) throws(TesseraError) {
        guard layers > 0, kvHeads > 0, headDim > 0, capacity > 0 else {
            throw .invalidArgument("KVCache: layers, kvHeads, headDim and capacity must be positive")
        }
        let (hs, o1) = capacity.multipliedReportingOverflow(by: headDim)
        let (ls, o2) = hs.multipliedReportingOverflow(by: kvHeads)
        let (total, o3) = ls.multipliedReportingOverflow(by: layers)
        guard !o1, !o2, !o3, total <= (1 << 34) else {
            throw .outOfRange("KVCache: \(layers)x\(kvHeads)x\(capacity)x\(headDim) floats is too large")
        }
        self.layers = layers
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.capacity = capacity
        headStride = hs
        layerStride = ls
        keys = try FallibleAllocation.elements(total, of: Float.self, "KVCache keys (\(capacity) positions)")
        do { values = try FallibleAllocation.elements(total, of: Float.self, "KVCache values (\(capacity) positions)") }
        catch { FallibleAllocation.free(keys); throw error }
        keys.initialize(repeating: 0, count: total)
        values.initialize(repeating: 0, count: total)
    }

    deinit {
        FallibleAllocation.free(keys)
        FallibleAllocation.free(values)
        workspace?.deallocate()
    }

    private var workspace: UnsafeMutableRawPointer?
    private var workspaceBytes = 0

    /// Scratch for the attention kernel's split-decode schedule; grows (rarely), never per token.
    func attentionWorkspace(bytes: Int) -> UnsafeMutableRawPointer? {
        if bytes <= 0 { return nil }
        if bytes > workspaceBytes {
            workspace?.deallocate()
            let n = max(bytes, 2 * workspaceBytes)
            workspace = .allocate(byteCount: n, alignment: 64)
            workspaceBytes = n
        }
        return workspace
    }

    /// Bytes held by the cache.
    public var byteCount: Int { 2 * layers * layerStride * MemoryLayout<Float>.size }

    /// Forgets everything (a new conversation).
    public func reset() { count = 0 }

    /// Drops positions `newCount...` (rollback after rejected drafts).
    public func truncate(to newCount: Int) {
        count = max(0, min(count, newCount))
    }

    @inline(__always) func key(layer: Int, head: Int, position: Int) -> UnsafeMutablePointer<Float> {
        keys + layer * layerStride + head * headStride + position * headDim
    }

    @inline(__always) func value(layer: Int, head: Int, position: Int) -> UnsafeMutablePointer<Float> {
        values + layer * layerStride + head * headStride + position * headDim
    }

    /// Stores `t` tokens' K and V (`[t][kvHeads*headDim]`) at positions `start..<start+t`.
    func store(layer: Int, start: Int, tokens t: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>) {
        let w = kvHeads * headDim
        for i in 0..<t {
            for h in 0..<kvHeads {
                key(layer: layer, head: h, position: start + i).update(from: k + i * w + h * headDim, count: headDim)
                value(layer: layer, head: h, position: start + i).update(from: v + i * w + h * headDim, count: headDim)
            }
        }
    }
}

/// Causal grouped-query attention over the KV cache for a block of `t` query tokens at
/// positions `start..<start+t` (their K/V already stored). Batch-invariant: each query's
/// result depends only on its own q and the keys `0...position`.
protocol AttentionOperator: Sendable {
    /// `q`: `[t][heads*headDim]`; `out`: `[t][heads*headDim]`.
    func apply(q: UnsafePointer<Float>, tokens t: Int, start: Int, heads: Int,
               cache: KVCache, layer: Int, into out: UnsafeMutablePointer<Float>)
}

/// Reference attention: for each (query, head), scores in f32, softmax with the row max
/// subtracted, weighted sum of V — always over keys in position order.
struct ReferenceAttention: AttentionOperator {
    let pool: ThreadPool

    func apply(q: UnsafePointer<Float>, tokens t: Int, start: Int, heads: Int,
               cache: KVCache, layer: Int, into out: UnsafeMutablePointer<Float>) {
        let hd = cache.headDim
        let group = heads / cache.kvHeads
        let scale = 1 / Float(hd).squareRoot()
        let capacity = cache.capacity
        pool.parallelFor(0..<(t * heads), schedule: .dynamic(chunk: 1)) { items, worker in
            guard let raw = pool.scratch(worker: worker, bytes: (capacity + hd) * MemoryLayout<Float>.size) else { return }
            let scores = raw.assumingMemoryBound(to: Float.self)
            let acc = scores + capacity
            for item in items {
                let i = item / heads, h = item % heads
                let kvh = h / group
                let pos = start + i
                let qv = q + i * heads * hd + h * hd
                var mx = -Float.infinity
                for j in 0...pos {
                    let s = dotF32(qv, cache.key(layer: layer, head: kvh, position: j), hd) * scale
                    scores[j] = s
                    mx = max(mx, s)
                }
                var sum: Float = 0
                for j in 0...pos {
                    let e = expf(scores[j] - mx)
                    scores[j] = e
                    sum += e
                }
                for d in 0..<hd { acc[d] = 0 }
                for j in 0...pos {
                    let p = scores[j]
                    let vv = cache.value(layer: layer, head: kvh, position: j)
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
