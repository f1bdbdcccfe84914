#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension LlamaModel {
    /// One forward step over the rows of `slices` (each a run of one session's tokens, rows
    /// back to back in the workspace): every projection is one call over all rows, RoPE uses
    /// each row's own position, attention runs per slice on its session's cache. Appends the
    /// slices' keys/values and tokens to their sessions and leaves their logit rows in
    /// `ws.logits` at each slice's `logitRow`. On an error the slices' caches are rolled back.
    func runStep(_ slices: [StepSlice], workspace ws: ForwardWorkspace) throws(TesseraError) {
        do {
            try runLayers(slices, workspace: ws)
        } catch {
            for s in slices { s.session.rollBack(to: s.start) }
            throw error
        }
        for s in slices { s.session.commit(s.tokens) }
    }

    private func runLayers(_ slices: [StepSlice], workspace ws: ForwardWorkspace) throws(TesseraError) {
        let c = config
        let t = slices.reduce(0) { $0 + $1.tokens.count }
        let d = c.embeddingLength, hd = c.headDim, heads = c.heads, kvh = c.kvHeads
        let qd = heads * hd, kvd = kvh * hd, f = c.feedForwardLength, qkvd = qd + 2 * kvd
        let rd = c.ropeDimensions
        let x = ws.x, xn = ws.xn, qkv = ws.qkv, att = ws.att, tmp = ws.tmp, gu = ws.gu, gate = ws.gate
        let t0 = monotonicSeconds()
        var tProj = 0.0, tAtt = 0.0

        for s in slices {
            for (i, tok) in s.tokens.enumerated() { embedding.dequantizeRow(tok, into: x + (s.row + i) * d) }
        }
        if c.family.scalesEmbedding {
            let scale = Float(d).squareRoot()
            for i in 0..<(t * d) { x[i] *= scale }
        }
        // RoPE angles of every row at its own position, one table per RoPE base
        for (b, table) in ropeTables.enumerated() {
            let inv = table.inverseFrequencies
            for s in slices {
                for i in 0..<s.tokens.count {
                    let pos = Double(s.start + i) / table.positionScale
                    let cs = ws.rope + (b * ws.rows + s.row + i) * rd
                    for j in 0..<(rd / 2) {
                        let th = pos * inv[j]
                        cs[2 * j] = Float(cos(th))
                        cs[2 * j + 1] = Float(sin(th))
                    }
                }
            }
        }

        @inline(__always) func timed(_ acc: inout Double, _ body: () throws(TesseraError) -> Void) throws(TesseraError) {
            let a = monotonicSeconds()
            try body()
            acc += monotonicSeconds() - a
        }

        for (l, blk) in blocks.enumerated() {
            rmsNorm(x, blk.attnNorm, rows: t, dim: d, eps: c.rmsEpsilon, into: xn)
            try timed(&tProj) { () throws(TesseraError) in try blk.qkv.apply(xn, rows: t, into: qkv, ldy: qkvd) }
            if let bias = blk.qkvBias {
                bias.withUnsafeBufferPointer { b in
                    for i in 0..<t { for j in 0..<qkvd { qkv[i * qkvd + j] += b[j] } }
                }
            }
            // one row: q, k, v are already contiguous slices of it; several rows: split them out
            let (q, k, v) = t == 1 ? (qkv, qkv + qd, qkv + qd + kvd) : (ws.q, ws.k, ws.v)
            if t > 1 {
                for i in 0..<t {
                    let r = qkv + i * qkvd
                    q.advanced(by: i * qd).update(from: r, count: qd)
                    k.advanced(by: i * kvd).update(from: r + qd, count: kvd)
                    v.advanced(by: i * kvd).update(from: r + qd + kvd, count: kvd)
                }
            }
            if let qn = blk.qNorm, let kn = blk.kNorm {
                // per-head RMSNorm (one "row" per head), in place
                rmsNorm(q, qn, rows: t * heads, dim: hd, eps: c.rmsEpsilon, into: q)
                rmsNorm(k, kn, rows: t * kvh, dim: hd, eps: c.rmsEpsilon, into: k)
            }
            let cs = ws.rope + blk.ropeTable * ws.rows * rd
            applyRoPE(q, rows: t, heads: heads, headDim: hd, ropeDims: rd, table: cs)
            applyRoPE(k, rows: t, heads: kvh, headDim: hd, ropeDims: rd, table: cs)
            let window = blk.local ? c.slidingWindow : nil
            for s in slices {
                let n = s.tokens.count
                try s.session.cache.append(layer: l, keys: UnsafeBufferPointer(start: k + s.row * kvd, count: n * kvd),
                                           values: UnsafeBufferPointer(start: v + s.row * kvd, count: n * kvd), tokens: n)
            }
            try timed(&tAtt) { () throws(TesseraError) in
                try attend(slices, layer: l, q: q, heads: heads, window: window, into: att)
            }
            try timed(&tProj) { () throws(TesseraError) in try blk.o.apply(att, rows: t, into: tmp) }
            if let pn = blk.postAttentionNorm { rmsNorm(tmp, pn, rows: t, dim: d, eps: c.rmsEpsilon, into: tmp) }
            for i in 0..<(t * d) { x[i] += tmp[i] }
            rmsNorm(x, blk.ffnNorm, rows: t, dim: d, eps: c.rmsEpsilon, into: xn)
            try timed(&tProj) { () throws(TesseraError) in try blk.gateUp.apply(xn, rows: t, into: gu, ldy: 2 * f) }
            for i in 0..<t {
                let g = gu + i * 2 * f
                switch c.family.activation {
                case .silu:
                    // vectorised C kernel; the scalar expf loop cost ≈ 6 % of a decoded token
                    try Elementwise.swiGLU(gate: g, up: g + f, into: gate + i * f, count: f)
                case .geluTanh:
                    // vectorised C kernel, the same bits on every ISA (was a scalar tanhf loop)
                    try Elementwise.geGLUTanh(gate: g, up: g + f, into: gate + i * f, count: f)
                }
            }
            try timed(&tProj) { () throws(TesseraError) in try blk.down.apply(gate, rows: t, into: tmp) }
            if let pn = blk.postFFNNorm { rmsNorm(tmp, pn, rows: t, dim: d, eps: c.rmsEpsilon, into: tmp) }
            for i in 0..<(t * d) { x[i] += tmp[i] }
        }

        // the logit rows of every slice, gathered and normed, then one output projection
        var nl = 0
        for s in slices where s.logitCount > 0 {
            let first = s.logits == .last ? s.row + s.tokens.count - 1 : s.row
            rmsNorm(x + first * d, outputNorm, rows: s.logitCount, dim: d, eps: c.rmsEpsilon, into: xn + s.logitRow * d)
            nl += s.logitCount
        }
        if nl > 0 {
            try timed(&tProj) { () throws(TesseraError) in try output.apply(xn, rows: nl, into: ws.logits) }
        }
        // each session is charged its share of the step by rows
        let total = monotonicSeconds() - t0
        for s in slices {
            let share = Double(s.tokens.count) / Double(t)
            s.session.profile.projections += tProj * share
            s.session.profile.attention += tAtt * share
            s.session.profile.rest += max(0, total - tProj - tAtt) * share
            s.session.profile.tokens += s.tokens.count
        }
    }

    /// Attention of every slice on its own cache at `layer` (its K/V already appended). The
    /// one-token slices of decoding sequences run together in one pool region, one sequence per
    /// item: each sequence's attention is small (one query row), so a region per sequence would
    /// cost more in dispatch than in work. A call inside a pool worker runs inline on it, and
    /// attention does not depend on the thread count, so each slice gets the bits of its solo
    /// run. Longer slices (prefill chunks, drafts) run one after another, each over the pool.
    private func attend(_ slices: [StepSlice], layer l: Int, q: UnsafeMutablePointer<Float>, heads: Int,
                        window: Int?, into att: UnsafeMutablePointer<Float>) throws(TesseraError) {
        let qd = heads * config.headDim, scale = config.attentionScale
        func one(_ s: StepSlice) throws(TesseraError) {
            try attention.apply(q: q + s.row * qd, tokens: s.tokens.count, start: s.start, heads: heads,
                                cache: s.session.cache, layer: l, scale: scale, window: window,
                                workspace: s.session.attentionWorkspace, into: att + s.row * qd)
        }
        let single = slices.filter { $0.tokens.count == 1 }
        if single.count >= 2 && pool.threadCount > 1 {
            let failures = SliceFailures(count: single.count)
            pool.parallelFor(0..<single.count, schedule: .dynamic(chunk: 1)) { items, _ in
                for i in items {
                    do throws(TesseraError) { try one(single[i]) } catch { failures.set(i, error) }
                }
            }
            if let e = failures.first { throw e }
        } else {
            for s in single { try one(s) }
        }
        for s in slices where s.tokens.count > 1 { try one(s) }
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

    /// Rotates the pairs of the first `ropeDims` of every head by angle j: adjacent pairs
    /// (x[2j], x[2j+1]) (ggml's "normal" RoPE, which Llama GGUF files are converted for) or
    /// halves (x[j], x[j + ropeDims/2]) (NeoX: Qwen, Gemma); row `i` by the cos/sin pairs at
    /// `table + i·ropeDims`.
    private func applyRoPE(_ p: UnsafeMutablePointer<Float>, rows: Int, heads: Int, headDim: Int, ropeDims: Int,
                           table: UnsafePointer<Float>) {
        let half = ropeDims / 2
        let (stride, partner) = config.family.ropeStyle == .adjacentPairs ? (2, 1) : (1, half)
        for i in 0..<rows {
            let cs = table + i * ropeDims
            for h in 0..<heads {
                let v = p + (i * heads + h) * headDim
                for j in 0..<half {
                    let c = cs[2 * j], s = cs[2 * j + 1]
                    let ia = stride * j, ib = ia + partner
                    let a = v[ia], b = v[ib]
                    v[ia] = a * c - b * s
                    v[ib] = a * s + b * c
                }
            }
        }
    }
}

/// The errors of a parallel region's items, one slot per item (each written by one worker).
private final class SliceFailures: @unchecked Sendable {
    // @unchecked: workers write disjoint slots; read after the region has returned.
    private let slots: UnsafeMutablePointer<TesseraError?>
    private let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil, count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ i: Int, _ e: TesseraError) { slots[i] = e }

    /// The error of the lowest item that failed.
    var first: TesseraError? { (0..<count).lazy.compactMap { self.slots[$0] }.first }
}
