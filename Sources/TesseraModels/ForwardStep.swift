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
        let rd = c.ropeDimensions, eps = c.rmsEpsilon
        let x = ws.x, xn = ws.xn, qkv = ws.qkv, att = ws.att, tmp = ws.tmp, gu = ws.gu, gate = ws.gate
        let t0 = monotonicSeconds()
        var tProj = 0.0, tAtt = 0.0

        // every row's token and cache position, so the row-parallel parts need no slice lookup
        let rowToken = ws.rowInfo, rowPosition = ws.rowInfo + ws.rows
        for s in slices {
            for (i, tok) in s.tokens.enumerated() {
                rowToken[s.row + i] = tok
                rowPosition[s.row + i] = s.start + i
            }
        }
        // Between two projections everything is row by row (norms, residual adds, RoPE, the
        // GLU): each such stretch is one row-parallel region (`overRows`), so the pool's other
        // workers compute instead of waiting for the caller at the next projection.
        let scale = c.family.scalesEmbedding ? Float(d).squareRoot() : 1
        try overRows(t) { (rows) throws(TesseraError) in
            for r in rows {
                embedding.dequantizeRow(rowToken[r], into: x + r * d)
                if scale != 1 { for i in 0..<d { x[r * d + i] *= scale } }
                // RoPE angles of the row at its own position, one table per RoPE base
                for (b, table) in ropeTables.enumerated() {
                    let pos = Double(rowPosition[r]) / table.positionScale
                    let cs = ws.rope + (b * ws.rows + r) * rd
                    table.inverseFrequencies.withUnsafeBufferPointer { inv in
                        for j in 0..<(rd / 2) {
                            let th = pos * inv[j]
                            cs[2 * j] = Float(cos(th))
                            cs[2 * j + 1] = Float(sin(th))
                        }
                    }
                }
            }
            if let first = blocks.first { rmsNorm(x, first.attnNorm, rows: rows, dim: d, eps: eps, into: xn) }
        }

        @inline(__always) func timed(_ acc: inout Double, _ body: () throws(TesseraError) -> Void) throws(TesseraError) {
            let a = monotonicSeconds()
            try body()
            acc += monotonicSeconds() - a
        }

        for (l, blk) in blocks.enumerated() {
            try timed(&tProj) { () throws(TesseraError) in try blk.qkv.apply(xn, rows: t, into: qkv, ldy: qkvd) }
            // one row: q, k, v are already contiguous slices of it; several rows: split them out
            let (q, k, v) = t == 1 ? (qkv, qkv + qd, qkv + qd + kvd) : (ws.q, ws.k, ws.v)
            let cs = ws.rope + blk.ropeTable * ws.rows * rd
            try overRows(t) { (rows) throws(TesseraError) in
                if let bias = blk.qkvBias {
                    bias.withUnsafeBufferPointer { b in
                        for i in rows { for j in 0..<qkvd { qkv[i * qkvd + j] += b[j] } }
                    }
                }
                if t > 1 {
                    for i in rows {
                        let r = qkv + i * qkvd
                        q.advanced(by: i * qd).update(from: r, count: qd)
                        k.advanced(by: i * kvd).update(from: r + qd, count: kvd)
                        v.advanced(by: i * kvd).update(from: r + qd + kvd, count: kvd)
                    }
                }
                if let qn = blk.qNorm, let kn = blk.kNorm {
                    // per-head RMSNorm (one "row" per head), in place
                    rmsNorm(q, qn, rows: (rows.lowerBound * heads)..<(rows.upperBound * heads), dim: hd, eps: eps, into: q)
                    rmsNorm(k, kn, rows: (rows.lowerBound * kvh)..<(rows.upperBound * kvh), dim: hd, eps: eps, into: k)
                }
                applyRoPE(q, rows: rows, heads: heads, headDim: hd, ropeDims: rd, table: cs)
                applyRoPE(k, rows: rows, heads: kvh, headDim: hd, ropeDims: rd, table: cs)
            }
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
            try overRows(t) { (rows) throws(TesseraError) in
                if let pn = blk.postAttentionNorm { rmsNorm(tmp, pn, rows: rows, dim: d, eps: eps, into: tmp) }
                addRows(x, tmp, rows: rows, dim: d)
                rmsNorm(x, blk.ffnNorm, rows: rows, dim: d, eps: eps, into: xn)
            }
            try timed(&tProj) { () throws(TesseraError) in try blk.gateUp.apply(xn, rows: t, into: gu, ldy: 2 * f) }
            try overRows(t) { (rows) throws(TesseraError) in
                for i in rows {
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
            }
            try timed(&tProj) { () throws(TesseraError) in try blk.down.apply(gate, rows: t, into: tmp) }
            let next = l + 1 < blocks.count ? blocks[l + 1] : nil
            try overRows(t) { (rows) throws(TesseraError) in
                if let pn = blk.postFFNNorm { rmsNorm(tmp, pn, rows: rows, dim: d, eps: eps, into: tmp) }
                addRows(x, tmp, rows: rows, dim: d)
                // the next layer's input norm while the rows are at hand
                if let next { rmsNorm(x, next.attnNorm, rows: rows, dim: d, eps: eps, into: xn) }
            }
        }

        // the logit rows of every slice, gathered and normed, then one output projection
        var nl = 0
        for s in slices where s.logitCount > 0 {
            let first = s.logits == .last ? s.row + s.tokens.count - 1 : s.row
            rmsNorm(x + first * d, outputNorm, rows: 0..<s.logitCount, dim: d, eps: eps, into: xn + s.logitRow * d)
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

    /// Fewest rows of a part of a row-parallel region (a row's norms, adds and GLU take a few
    /// microseconds; a fork-join about one).
    static let rowsPerPart = 2

    /// Runs `body` over the rows `0..<t` in contiguous parts: on the pool's workers (dynamic,
    /// about eight parts per worker, so a worker that loses its core on a shared machine holds
    /// the others up by one small part, not half the rows) when there are at least two parts
    /// of `rowsPerPart` rows, else inline on the caller (a decode step). The rows are
    /// independent and each is computed the same way wherever it runs, so the bits do not
    /// depend on the split or the thread count. The error of the lowest failing part is thrown.
    private func overRows(_ t: Int, _ body: (Range<Int>) throws(TesseraError) -> Void) throws(TesseraError) {
        let n = min(8 * pool.threadCount, t / Self.rowsPerPart)
        if n <= 1 || pool.threadCount <= 1 {
            try body(0..<t)
            return
        }
        let failures = SliceFailures(count: n)
        pool.parallelFor(0..<n, schedule: .dynamic(chunk: 1)) { parts, _ in
            for p in parts {
                do throws(TesseraError) { try body((p * t / n)..<((p + 1) * t / n)) } catch { failures.set(p, error) }
            }
        }
        if let e = failures.first { throw e }
    }

    /// Attention of every slice on its own cache at `layer` (its K/V already appended). The
    /// one-token slices of decoding sequences run together: one batched attention call (one
    /// pool region, work split over sequences and KV heads; each sequence's bits those of its
    /// solo call), or, for an operator without one, one pool region with a sequence per item
    /// — a region or a full call per sequence would cost more in dispatch and checks than its
    /// one query row costs in work (≈ 10 µs per sequence and layer). A call inside a pool
    /// worker runs inline on it, and attention does not depend on the thread count, so each
    /// slice gets the bits of its solo run. Longer slices (prefill chunks, drafts) run one
    /// after another, each over the pool.
    private func attend(_ slices: [StepSlice], layer l: Int, q: UnsafeMutablePointer<Float>, heads: Int,
                        window: Int?, into att: UnsafeMutablePointer<Float>) throws(TesseraError) {
        let qd = heads * config.headDim, scale = config.attentionScale
        func one(_ s: StepSlice) throws(TesseraError) {
            try attention.apply(q: q + s.row * qd, tokens: s.tokens.count, start: s.start, heads: heads,
                                cache: s.session.cache, layer: l, scale: scale, window: window,
                                workspace: s.session.attentionWorkspace, into: att + s.row * qd)
        }
        let single = slices.filter { $0.tokens.count == 1 }
        let queries = single.count >= 2
            ? single.map { KVCacheQuery(cache: $0.session.cache, query: q + $0.row * qd, queryLength: 1, output: att + $0.row * qd) }
            : []
        if !queries.isEmpty, try attention.applyBatch(queries, heads: heads, layer: l, scale: scale, window: window) {
            for s in slices where s.tokens.count > 1 { try one(s) }
            return
        }
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

    /// y = x / sqrt(mean(x²) + eps) · w for the rows `rows` of `dim` floats (`dst` may be
    /// `src`): `Elementwise.rmsNorm` (C, the same bits on every ISA; the order of the Swift
    /// loop it replaced, which baseline x86-64 Swift compiled to one `fmaf` call per element).
    private func rmsNorm(_ src: UnsafePointer<Float>, _ w: [Float], rows: Range<Int>, dim: Int, eps: Float,
                         into dst: UnsafeMutablePointer<Float>) {
        guard !rows.isEmpty else { return }
        w.withUnsafeBufferPointer { wb in
            // Cannot fail: the sizes are the validated config's and eps was checked positive
            // and finite when the model loaded (LlamaConfig).
            try! Elementwise.rmsNorm(src + rows.lowerBound * dim, weight: wb.baseAddress!,
                                     into: dst + rows.lowerBound * dim, rows: rows.count, dimension: dim, eps: eps)
        }
    }

    /// x += y over the rows `rows` of `dim` floats.
    private func addRows(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, rows: Range<Int>, dim: Int) {
        let lo = rows.lowerBound * dim, hi = rows.upperBound * dim
        let rx = UnsafeMutableRawPointer(x), ry = UnsafeRawPointer(y)
        var i = lo
        while i + 16 <= hi {
            let s = rx.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
                + ry.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
            rx.storeBytes(of: s, toByteOffset: 4 * i, as: SIMD16<Float>.self)
            i += 16
        }
        while i < hi { x[i] += y[i]; i += 1 }
    }

    /// Rotates the pairs of the first `ropeDims` of every head by angle j: adjacent pairs
    /// (x[2j], x[2j+1]) (ggml's "normal" RoPE, which Llama GGUF files are converted for) or
    /// halves (x[j], x[j + ropeDims/2]) (NeoX: Qwen, Gemma); row `i` by the cos/sin pairs at
    /// `table + i·ropeDims`.
    private func applyRoPE(_ p: UnsafeMutablePointer<Float>, rows: Range<Int>, heads: Int, headDim: Int, ropeDims: Int,
                           table: UnsafePointer<Float>) {
        let half = ropeDims / 2
        let (stride, partner) = config.family.ropeStyle == .adjacentPairs ? (2, 1) : (1, half)
        for i in rows {
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

extension LlamaModel {
    /// Seconds of every weight projection of one step at `rows` rows, called back to back in
    /// model order (each layer's q/k/v, o, gate/up, down, then the output head) on the
    /// workspace's buffers as the last step left them: the model's own plans and activations,
    /// without the norms, attention and adds between them. A diagnostic for `tessera bench llm`
    /// (TESSERA_BENCH_BATCH_DECODE), to set beside the projections' share of a real step
    /// (`ForwardProfile.projections`); the workspace's contents are overwritten.
    package func projectionSeconds(rows t: Int, workspace ws: ForwardWorkspace) throws(TesseraError) -> Double {
        guard t >= 1, t <= ws.rows, t <= ws.logitRows else {
            throw .invalidArgument("projectionSeconds: \(t) rows do not fit the workspace (\(ws.rows), \(ws.logitRows))")
        }
        let c = config
        let qkvd = (c.heads + 2 * c.kvHeads) * c.headDim, f = c.feedForwardLength
        let t0 = monotonicSeconds()
        for blk in blocks {
            try blk.qkv.apply(ws.xn, rows: t, into: ws.qkv, ldy: qkvd)
            try blk.o.apply(ws.att, rows: t, into: ws.tmp)
            try blk.gateUp.apply(ws.xn, rows: t, into: ws.gu, ldy: 2 * f)
            try blk.down.apply(ws.gate, rows: t, into: ws.tmp)
        }
        try output.apply(ws.xn, rows: t, into: ws.logits)
        return monotonicSeconds() - t0
    }
}
