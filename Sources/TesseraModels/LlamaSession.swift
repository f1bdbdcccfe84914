#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One conversation with a model: the KV cache, the tokens it holds, and preallocated
/// buffers for forward passes of up to `maxBatch` tokens (no allocation per token).
///
/// Not thread-safe: use a session from one task at a time.
public final class LlamaSession: @unchecked Sendable {
    // @unchecked: single-owner mutable state; `Generator` serialises access.

    /// The model this session runs; sessions share it.
    public let model: LlamaModel
    /// Keys and values of `tokens`, every layer (f32, `maxContext` = the context length).
    public let cache: KVCache
    /// Tokens whose keys/values are in the cache, in order.
    public private(set) var tokens: [Int] = []
    /// Largest number of tokens one forward pass takes (longer prompts run in chunks).
    public let maxBatch: Int
    /// Largest number of logit rows one forward pass returns.
    public let maxLogitRows: Int
    /// Time breakdown of the forward passes so far.
    public var profile = ForwardProfile()

    // qkv: the fused q/k/v projection rows `[q | k | v]`; gu: the fused `[gate | up]` rows.
    private let x, xn, q, k, v, att, tmp, gate, gu, logits, rope, qkv: UnsafeMutablePointer<Float>
    private let sizes: [Int]
    /// The attention kernel's split-decode scratch: grows with the context, never per token.
    private let attentionWorkspace = AttentionWorkspace()

    init(model: LlamaModel, capacity: Int, maxBatch: Int = 64, maxLogitRows: Int = 33) throws(TesseraError) {
        let c = model.config
        guard capacity >= 1, capacity <= 1 << 20 else {
            throw .invalidArgument("context length \(capacity) must be in 1...\(1 << 20)")
        }
        self.model = model
        self.maxBatch = maxBatch
        self.maxLogitRows = maxLogitRows
        cache = try KVCache(layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim, maxContext: capacity)
        let d = c.embeddingLength, qd = c.heads * c.headDim, kvd = c.kvHeads * c.headDim, f = c.feedForwardLength
        let s = [maxBatch * d, maxBatch * d, maxBatch * qd, maxBatch * kvd, maxBatch * kvd, maxBatch * qd,
                 maxBatch * max(d, qd), maxBatch * f, maxBatch * 2 * f, maxLogitRows * c.vocabularySize,
                 maxBatch * c.ropeDimensions, maxBatch * (qd + 2 * kvd)]
        sizes = s
        // sizes come from the file's hyperparameters: allocation failures throw
        var b = [UnsafeMutablePointer<Float>]()
        do {
            for n in s {
                let p = try FallibleAllocation.elements(n, of: Float.self, "LlamaSession buffer of \(n) floats")
                p.initialize(repeating: 0, count: n)
                b.append(p)
            }
        } catch {
            for p in b { FallibleAllocation.free(p) }
            throw error
        }
        x = b[0]; xn = b[1]; q = b[2]; k = b[3]; v = b[4]; att = b[5]
        tmp = b[6]; gate = b[7]; gu = b[8]; logits = b[9]; rope = b[10]; qkv = b[11]
    }

    deinit {
        for p in [x, xn, q, k, v, att, tmp, gate, gu, logits, rope, qkv] { FallibleAllocation.free(p) }
    }

    /// Entries per row of logits (the model's vocabulary).
    public var vocabularySize: Int { model.config.vocabularySize }
    /// Positions still free in the cache.
    public var remainingContext: Int { cache.maxContext - cache.count }

    /// Forgets the conversation.
    public func reset() {
        cache.reset()
        tokens.removeAll(keepingCapacity: true)
    }

    /// Drops the tokens after the first `count` (used to roll back rejected drafts).
    public func truncate(to count: Int) {
        let n = max(0, min(count, tokens.count))
        truncateCache(to: n)
        tokens.removeSubrange(n...)
    }

    /// Drops cached positions from `n` on (`n >= 0`, which the cache never refuses).
    private func truncateCache(to n: Int) {
        do { try cache.truncate(to: n) } catch { preconditionFailure("KVCache.truncate(to: \(n)): \(error)") }
    }

    /// Which logit rows a forward pass returns.
    public enum LogitRows: Sendable { case none, last, all }

    /// Runs `newTokens` through the model after the cached ones and returns their logits
    /// (`.last`: one row; `.all`: one row per token, at most `maxLogitRows` tokens).
    /// Longer inputs run in chunks of `maxBatch`. The returned buffer is valid until the next
    /// call. Throws if the context would overflow or a token id is out of range.
    @discardableResult
    public func forward(_ newTokens: [Int], logits which: LogitRows = .last) throws(TesseraError) -> [[Float]] {
        var rows = [[Float]]()
        try forward(newTokens, logits: which) { (ptr: UnsafeBufferPointer<Float>, n: Int) in
            let vsz = vocabularySize
            for r in 0..<n { rows.append(Array(UnsafeBufferPointer(rebasing: ptr[(r * vsz)..<((r + 1) * vsz)]))) }
        }
        return rows
    }

    /// As `forward(_:logits:)` but hands the logits (row-major, `rows × vocabularySize`) to
    /// `body` without copying.
    public func forward(_ newTokens: [Int], logits which: LogitRows,
                        _ body: (UnsafeBufferPointer<Float>, Int) throws(TesseraError) -> Void) throws(TesseraError) {
        guard !newTokens.isEmpty else { throw .invalidArgument("forward: no tokens") }
        guard newTokens.count <= remainingContext else {
            throw .outOfRange("forward: \(newTokens.count) tokens do not fit in the remaining context (\(remainingContext) of \(cache.maxContext) positions)")
        }
        if which == .all && newTokens.count > maxLogitRows {
            throw .invalidArgument("forward: logits for \(newTokens.count) rows requested, at most \(maxLogitRows)")
        }
        let vsz = vocabularySize
        for t in newTokens where t < 0 || t >= vsz {
            throw .invalidArgument("forward: token id \(t) is not in 0..<\(vsz)")
        }
        var start = 0
        while start < newTokens.count {
            let n = min(maxBatch, newTokens.count - start)
            let isLast = start + n == newTokens.count
            try runChunk(newTokens[start..<(start + n)],
                         logitRows: isLast ? which : .none)
            start += n
        }
        profile.forwards += 1
        switch which {
        case .none: try body(UnsafeBufferPointer(start: logits, count: 0), 0)
        case .last: try body(UnsafeBufferPointer(start: logits, count: vsz), 1)
        case .all: try body(UnsafeBufferPointer(start: logits, count: vsz * newTokens.count), newTokens.count)
        }
    }

    /// One chunk through every layer; on an error the cache is rolled back to where it was.
    private func runChunk(_ chunk: ArraySlice<Int>, logitRows: LogitRows) throws(TesseraError) {
        let start = cache.count
        do {
            try runLayers(chunk, start: start, logitRows: logitRows)
        } catch {
            truncateCache(to: start)
            throw error
        }
        tokens.append(contentsOf: chunk)
    }

    private func runLayers(_ chunk: ArraySlice<Int>, start: Int, logitRows: LogitRows) throws(TesseraError) {
        let m = model, c = m.config
        let t = chunk.count
        let d = c.embeddingLength, hd = c.headDim, heads = c.heads, kvh = c.kvHeads
        let qd = heads * hd, kvd = kvh * hd, f = c.feedForwardLength, qkvd = qd + 2 * kvd
        var t0 = monotonicSeconds()
        var tProj = 0.0, tAtt = 0.0

        for (i, tok) in chunk.enumerated() { m.embedding.dequantizeRow(tok, into: x + i * d) }
        // RoPE angles of this chunk's positions
        let half = c.ropeDimensions / 2
        for i in 0..<t {
            let pos = Double(start + i) / Double(c.ropeScale)
            for j in 0..<half {
                let th = pos * m.inverseFrequencies[j]
                rope[i * c.ropeDimensions + 2 * j] = Float(cos(th))
                rope[i * c.ropeDimensions + 2 * j + 1] = Float(sin(th))
            }
        }

        @inline(__always) func timed(_ acc: inout Double, _ body: () throws(TesseraError) -> Void) throws(TesseraError) {
            let a = monotonicSeconds()
            try body()
            acc += monotonicSeconds() - a
        }

        for (l, blk) in m.blocks.enumerated() {
            rmsNorm(x, blk.attnNorm, rows: t, dim: d, eps: c.rmsEpsilon, into: xn)
            try timed(&tProj) { () throws(TesseraError) in try blk.qkv.apply(xn, rows: t, into: qkv, ldy: qkvd) }
            // one row: q, k, v are already contiguous slices of it; several rows: split them out
            let (q, k, v) = t == 1 ? (qkv, qkv + qd, qkv + qd + kvd) : (self.q, self.k, self.v)
            if t > 1 {
                for i in 0..<t {
                    let r = qkv + i * qkvd
                    q.advanced(by: i * qd).update(from: r, count: qd)
                    k.advanced(by: i * kvd).update(from: r + qd, count: kvd)
                    v.advanced(by: i * kvd).update(from: r + qd + kvd, count: kvd)
                }
            }
            applyRoPE(q, rows: t, heads: heads, headDim: hd, ropeDims: c.ropeDimensions)
            applyRoPE(k, rows: t, heads: kvh, headDim: hd, ropeDims: c.ropeDimensions)
            try cache.append(layer: l, keys: UnsafeBufferPointer(start: k, count: t * kvd),
                             values: UnsafeBufferPointer(start: v, count: t * kvd), tokens: t)
            try timed(&tAtt) { () throws(TesseraError) in
                try m.attention.apply(q: q, tokens: t, start: start, heads: heads, cache: cache, layer: l,
                                      workspace: attentionWorkspace, into: att)
            }
            try timed(&tProj) { () throws(TesseraError) in try blk.o.apply(att, rows: t, into: tmp) }
            for i in 0..<(t * d) { x[i] += tmp[i] }
            rmsNorm(x, blk.ffnNorm, rows: t, dim: d, eps: c.rmsEpsilon, into: xn)
            try timed(&tProj) { () throws(TesseraError) in try blk.gateUp.apply(xn, rows: t, into: gu, ldy: 2 * f) }
            for i in 0..<t {
                let g = gu + i * 2 * f
                // vectorised C kernel; the scalar expf loop cost ≈ 6 % of a decoded token
                try Elementwise.swiGLU(gate: g, up: g + f, into: gate + i * f, count: f)
            }
            try timed(&tProj) { () throws(TesseraError) in try blk.down.apply(gate, rows: t, into: tmp) }
            for i in 0..<(t * d) { x[i] += tmp[i] }
        }

        switch logitRows {
        case .none: break
        case .last:
            rmsNorm(x + (t - 1) * d, m.outputNorm, rows: 1, dim: d, eps: c.rmsEpsilon, into: xn)
            try timed(&tProj) { () throws(TesseraError) in try m.output.apply(xn, rows: 1, into: logits) }
        case .all:
            rmsNorm(x, m.outputNorm, rows: t, dim: d, eps: c.rmsEpsilon, into: xn)
            try timed(&tProj) { () throws(TesseraError) in try m.output.apply(xn, rows: t, into: logits) }
        }
        let total = monotonicSeconds() - t0
        t0 = 0
        profile.projections += tProj
        profile.attention += tAtt
        profile.rest += max(0, total - tProj - tAtt)
        profile.tokens += t
    }

    /// y = x / sqrt(mean(x²) + eps) * w, per row; f32 with a fixed reduction order.
    private func rmsNorm(_ src: UnsafePointer<Float>, _ w: [Float], rows: Int, dim: Int, eps: Float,
                         into dst: UnsafeMutablePointer<Float>) {
        w.withUnsafeBufferPointer { wb in
            for r in 0..<rows {
                let a = src + r * dim, o = dst + r * dim
                let ss = dotF32(a, a, dim)
                let scale = 1 / (ss / Float(dim) + eps).squareRoot()
                for i in 0..<dim { o[i] = a[i] * scale * wb[i] }
            }
        }
    }

    /// Rotates adjacent pairs (x[2j], x[2j+1]) of the first `ropeDims` of every head
    /// (ggml's "normal" RoPE, which Llama GGUF files are converted for).
    private func applyRoPE(_ p: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim: Int, ropeDims: Int) {
        for i in 0..<rows {
            let cs = rope + i * ropeDims
            for h in 0..<heads {
                let v = p + (i * heads + h) * headDim
                for j in 0..<(ropeDims / 2) {
                    let c = cs[2 * j], s = cs[2 * j + 1]
                    let a = v[2 * j], b = v[2 * j + 1]
                    v[2 * j] = a * c - b * s
                    v[2 * j + 1] = a * s + b * c
                }
            }
        }
    }
}
