import Foundation
internal import COpenBLAS

/// A channel-major activation block: `c × rows × w` floats, 64-byte aligned, owned.
/// With a `recycler`, the memory comes from it and goes back to it on release.
final class Activation: @unchecked Sendable {
    let c: Int, rows: Int, w: Int
    let p: UnsafeMutablePointer<Float>
    private let recycler: BufferRecycler?
    var count: Int { c * rows * w }
    var plane: Int { rows * w }
    init(c: Int, rows: Int, w: Int, recycler: BufferRecycler? = nil) {
        self.c = c; self.rows = rows; self.w = w
        self.recycler = recycler
        let bytes = max(1, c * rows * w) * 4
        let raw = recycler?.take(bytes: bytes) ?? UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        p = raw.bindMemory(to: Float.self, capacity: max(1, c * rows * w))
    }
    deinit {
        if let recycler { recycler.give(UnsafeMutableRawPointer(p), bytes: max(1, count) * 4) }
        else { UnsafeMutableRawPointer(p).deallocate() }
    }
}

/// Per-call scratch that grows on demand (one per patch task; never shared between threads).
final class Scratch: @unchecked Sendable {
    private var raw: UnsafeMutableRawPointer? = nil
    private var bytes = 0
    func floats(_ n: Int) -> UnsafeMutablePointer<Float> {
        if n * 4 > bytes {
            raw?.deallocate()
            bytes = max(n * 4, bytes * 3 / 2)
            raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        }
        return raw!.bindMemory(to: Float.self, capacity: n)
    }
    deinit { raw?.deallocate() }
}

enum Kernels {
    /// C[m×n] (ldc) = A[m×k] · B[k×n] (+ beta·C), row-major, through OpenBLAS.
    @inline(__always)
    static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// C[m×n] (ldc) = bias[i] + A[m×k] · B[k×n], row-major, through Tessera's convolution product
    /// (`Elementwise.convMatmul`: the weights `a` read in place, no packing; each element one fma
    /// chain, so the same bits whatever the split over threads).
    @inline(__always)
    static func convGemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                         bias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int) {
        mustSucceed { () throws(TesseraError) in
            try Elementwise.convMatmul(a, lda: lda, b, ldb: ldb, bias: bias, into: c, ldc: ldc, m: m, n: n, k: k)
        }
    }

    /// 3×3 convolution, padding 1, stride 1 or 2, on a row patch: `top`/`bottom` are the rows just
    /// above/below the patch (`cin × w` each) or nil for zeros (image border or no exchange).
    /// im2col over chunks of output rows, then SGEMM with K = 9·cin. Output `cout × orows × ow`.
    /// The work is split over the pool's threads (`externalThreads`: 1 inside a pool task) in
    /// balanced row chunks; an image too small for that is split over output channels instead.
    /// With `filters` (the Winograd-transformed weights, made on demand) a stride-1 convolution
    /// large enough to pay for the transforms runs as Winograd F(2×2, 3×3) instead.
    static func conv3x3(input x: Activation, top: UnsafePointer<Float>?, bottom: UnsafePointer<Float>?,
                        stride s: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, cout: Int,
                        out: Activation, pool: ThreadPool, scratch: [Scratch],
                        winograd filters: (() -> UnsafePointer<Float>)? = nil) {
        let cin = x.c, ow = out.w, orows = out.rows
        let kdim = cin * 9
        let opix = orows * ow
        let T = max(1, pool.externalThreads)
        if let filters, s == 1, usesWinograd(cin: cin, pixels: opix, threads: T) {
            return conv3x3Winograd(input: x, top: top, bottom: bottom, filters: filters(), bias: bias, cout: cout,
                                   out: out, pool: pool, scratch: scratch)
        }
        if T > 1 && opix <= 256 && cout >= 32 * T {
            // a small image: every worker builds the whole column matrix (cheap next to its share of
            // the product) and multiplies its block of output channels
            let per = (cout / T + 7) / 8 * 8
            pool.parallelFor(0..<T, schedule: .static) { range, worker in
                let cols = scratch[min(worker, scratch.count - 1)].floats(kdim * opix)
                im2col(x, top: top, bottom: bottom, stride: s, rows: 0..<orows, ow: ow, into: cols)
                for t in range {
                    let co0 = min(cout, t * per), co1 = min(cout, co0 + per)
                    if co0 == co1 { continue }
                    convGemm(m: co1 - co0, n: opix, k: kdim, a: weight + co0 * kdim, lda: kdim, b: cols, ldb: opix,
                             bias: bias + co0, c: out.p + co0 * opix, ldc: opix)
                }
            }
            return
        }
        // chunks of output rows: the column buffer stays ~2 MiB, at least one row, and the chunk
        // count is a multiple of the thread count (balanced)
        var rowsPerChunk = max(1, min(orows, (1 << 19) / max(1, kdim * ow)))
        let chunks = ((orows + rowsPerChunk - 1) / rowsPerChunk + T - 1) / T * T
        rowsPerChunk = max(1, (orows + chunks - 1) / chunks)
        let nChunks = (orows + rowsPerChunk - 1) / rowsPerChunk
        pool.parallelFor(0..<nChunks, schedule: .dynamic(chunk: 1)) { range, worker in
            // per-call, per-worker column buffer (pool scratch is not safe when several
            // application threads share the pool)
            let cols = scratch[min(worker, scratch.count - 1)].floats(kdim * rowsPerChunk * ow)
            for chunk in range {
                let r0 = chunk * rowsPerChunk, r1 = min(orows, r0 + rowsPerChunk)
                let npix = (r1 - r0) * ow
                im2col(x, top: top, bottom: bottom, stride: s, rows: r0..<r1, ow: ow, into: cols)
                let c = out.p + r0 * ow
                convGemm(m: cout, n: npix, k: kdim, a: weight, lda: kdim, b: cols, ldb: npix, bias: bias, c: c, ldc: opix)
            }
        }
    }

    /// Whether a stride-1 3×3 convolution runs as Winograd F(2×2, 3×3): enough input channels to
    /// amortise the transforms, and ≥ 16 tiles (64 output pixels) per thread, so the 16 products
    /// are not too narrow for SGEMM.
    static func usesWinograd(cin: Int, pixels: Int, threads: Int) -> Bool {
        cin >= 16 && pixels >= 64 * threads
    }

    /// 3×3, stride-1, padding-1 convolution as Winograd F(2×2, 3×3): per chunk of tile rows the
    /// input transform (16 planes `[cin × tiles]`), 16 SGEMMs with the transformed filters
    /// `[cout × cin]`, and the output transform with the bias. Chunks as in `conv3x3`: ~4 MiB of
    /// transformed data each, a multiple of the thread count.
    static func conv3x3Winograd(input x: Activation, top: UnsafePointer<Float>?, bottom: UnsafePointer<Float>?,
                                filters u: UnsafePointer<Float>, bias: UnsafePointer<Float>, cout: Int,
                                out: Activation, pool: ThreadPool, scratch: [Scratch]) {
        let cin = x.c, rows = x.rows, w = x.w
        let tw = (w + 1) / 2, th = (rows + 1) / 2
        let T = max(1, pool.externalThreads)
        var perChunk = max(1, min(th, (1 << 20) / max(1, 16 * (cin + cout) * tw)))
        let chunks = ((th + perChunk - 1) / perChunk + T - 1) / T * T
        perChunk = max(1, (th + chunks - 1) / chunks)
        let nChunks = (th + perChunk - 1) / perChunk
        pool.parallelFor(0..<nChunks, schedule: .dynamic(chunk: 1)) { range, worker in
            for chunk in range {
                let tiles = (chunk * perChunk)..<min(th, (chunk + 1) * perChunk)
                let nt = tiles.count * tw
                let v = scratch[min(worker, scratch.count - 1)].floats(16 * (cin + cout) * nt), m = v + 16 * cin * nt
                mustSucceed { () throws(TesseraError) in
                    try WinogradF2x3.input(x.p, channels: cin, rows: rows, width: w, top: top, bottom: bottom,
                                           tileRows: tiles, into: v)
                }
                for e in 0..<16 {
                    convGemm(m: cout, n: nt, k: cin, a: u + e * cout * cin, lda: cin, b: v + e * cin * nt, ldb: nt,
                             bias: nil, c: m + e * cout * nt, ldc: nt)
                }
                mustSucceed { () throws(TesseraError) in
                    try WinogradF2x3.output(m, channels: cout, rows: rows, width: w, tileRows: tiles, bias: bias, into: out.p)
                }
            }
        }
    }

    /// The column matrix of output rows `rows` of a 3×3, padding-1 convolution: `[cin·9 × npix]`,
    /// row `ci·9 + ky·3 + kx` holding input `(ci, r·s + ky − 1, xo·s + kx − 1)` for each output
    /// pixel `(r, xo)` (zero outside the image; `top`/`bottom` stand for rows −1 and `x.rows`).
    static func im2col(_ x: Activation, top: UnsafePointer<Float>?, bottom: UnsafePointer<Float>?, stride s: Int,
                       rows: Range<Int>, ow: Int, into cols: UnsafeMutablePointer<Float>) {
        let w = x.w, npix = rows.count * ow
        for ci in 0..<x.c {
            let plane = x.p + ci * x.plane
            for ky in 0..<3 {
                for r in rows {
                    let y = r * s + ky - 1
                    let src: UnsafePointer<Float>? = y < 0 ? top.map { $0 + ci * w }
                        : (y >= x.rows ? bottom.map { $0 + ci * w } : UnsafePointer(plane + y * w))
                    for kx in 0..<3 {
                        let dst = cols + (ci * 9 + ky * 3 + kx) * npix + (r - rows.lowerBound) * ow
                        guard let src else { dst.update(repeating: 0, count: ow); continue }
                        if s == 1 {
                            switch kx {
                            case 0: dst[0] = 0; (dst + 1).update(from: src, count: w - 1)
                            case 1: dst.update(from: src, count: w)
                            default: dst.update(from: src + 1, count: w - 1); dst[w - 1] = 0
                            }
                        } else {
                            for xo in 0..<ow {
                                let xi = xo * s + kx - 1
                                dst[xo] = (xi >= 0 && xi < w) ? src[xi] : 0
                            }
                        }
                    }
                }
            }
        }
    }

    /// 1×1 convolution / per-pixel linear map: out[cout × n] = W[cout × cin] · x[cin × n] + b.
    /// With a `pool` and several threads (`externalThreads`), the pixels (or, for few pixels, the
    /// output channels) are split over them; each element is the same dot product either way.
    static func conv1x1(input x: UnsafePointer<Float>, cin: Int, n: Int, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, cout: Int, out: UnsafeMutablePointer<Float>, pool: ThreadPool? = nil) {
        let T = pool.map { max(1, $0.externalThreads) } ?? 1
        func block(pixels: Range<Int>, channels: Range<Int>) {
            if pixels.isEmpty || channels.isEmpty { return }
            let c = out + channels.lowerBound * n + pixels.lowerBound
            convGemm(m: channels.count, n: pixels.count, k: cin, a: weight + channels.lowerBound * cin, lda: cin,
                     b: x + pixels.lowerBound, ldb: n, bias: bias.map { $0 + channels.lowerBound }, c: c, ldc: n)
        }
        // split only products worth a fork-join (≥ ~4 MFLOP per thread)
        guard let pool, T > 1, n * cout * cin >= (1 << 21) * T else { return block(pixels: 0..<n, channels: 0..<cout) }
        let byPixels = n >= 64 * T
        let total = byPixels ? n : cout
        let per = ((total + T - 1) / T + 15) / 16 * 16
        pool.parallelFor(0..<T, schedule: .static) { range, _ in
            for t in range {
                let part = min(total, t * per)..<min(total, (t + 1) * per)
                if byPixels { block(pixels: part, channels: 0..<cout) } else { block(pixels: 0..<n, channels: part) }
            }
        }
    }

    /// Splits `0..<count` into one contiguous part per thread of `pool` (`externalThreads`) and runs
    /// `body` on each (inline when there is one thread or under 2¹⁸ elements of `work`: a fork-join
    /// costs more than that on a loaded machine).
    static func splitOver(_ pool: ThreadPool?, count: Int, work: Int, _ body: (Range<Int>) -> Void) {
        let T = min(count, pool.map { max(1, $0.externalThreads) } ?? 1)
        guard let pool, T > 1, work >= 1 << 18 else { return body(0..<count) }
        pool.parallelFor(0..<T, schedule: .static) { range, _ in
            for t in range { body((t * count / T)..<((t + 1) * count / T)) }
        }
    }

    /// Per-group (Σx, Σx²) over a channel-major block (a group is `c / groups` whole planes, so
    /// contiguous); result [sum_0..G-1, sumsq_0..G-1]. Vectorised C (`Elementwise.blockSums`):
    /// the same bits on every ISA and for a group whatever the others hold.
    static func groupSums(_ x: Activation, groups: Int, pool: ThreadPool? = nil) -> [Double] {
        var out = [Double](repeating: 0, count: 2 * groups)
        let len = x.c / groups * x.plane
        out.withUnsafeMutableBufferPointer { o in
            let sums = o.baseAddress!
            splitOver(pool, count: groups, work: x.count) { gs in
                mustSucceed { () throws(TesseraError) in
                    try Elementwise.blockSums(x.p + gs.lowerBound * len, blocks: gs.count, length: len,
                                              sums: sums + gs.lowerBound, sumsOfSquares: sums + groups + gs.lowerBound)
                }
            }
        }
        return out
    }

    /// y = (x − mean_g)·rstd_g·γ_c + β_c, then optionally SiLU; mean/var per group given. The
    /// per-channel scale and shift are formed in Double, then one fused pass in vectorised C
    /// (`Elementwise.channelAffine`), split over `pool`'s threads by channel. `out` may be `x`.
    static func groupNormApply(_ x: Activation, out: Activation, groups: Int, mean: [Double], variance: [Double],
                               eps: Double, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, silu: Bool,
                               pool: ThreadPool? = nil) {
        let cpg = x.c / groups
        var sc = [Float](repeating: 0, count: 2 * x.c)
        for c in 0..<x.c {
            let g = c / cpg
            let rstd = 1 / (max(variance[g], 0) + eps).squareRoot()
            sc[c] = Float(Double(gamma[c]) * rstd)
            sc[x.c + c] = Float(Double(beta[c]) - mean[g] * Double(gamma[c]) * rstd)
        }
        sc.withUnsafeBufferPointer { s in
            let scale = s.baseAddress!
            splitOver(pool, count: x.c, work: x.count * (silu ? 8 : 1)) { cs in
                mustSucceed { () throws(TesseraError) in
                    try Elementwise.channelAffine(x.p + cs.lowerBound * x.plane, into: out.p + cs.lowerBound * x.plane,
                                                  channels: cs.count, plane: x.plane, scale: scale + cs.lowerBound,
                                                  shift: scale + x.c + cs.lowerBound, silu: silu)
                }
            }
        }
    }

    /// In-place SiLU over `n` floats (the vectorised kernel with scale 1, shift 0).
    static func silu(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        let unit: [Float] = [1, 0]   // scale, shift
        unit.withUnsafeBufferPointer { p in
            mustSucceed { () throws(TesseraError) in
                try Elementwise.channelAffine(x, into: x, channels: 1, plane: n, scale: p.baseAddress!,
                                              shift: p.baseAddress! + 1, silu: true)
            }
        }
    }

    /// Runs a kernel call whose arguments the caller has already made valid (sizes from the
    /// network's own shapes, non-nil buffers): a failure there is a bug, so it stops the process.
    static func mustSucceed(_ body: () throws(TesseraError) -> Void) {
        do { try body() } catch { preconditionFailure("TesseraDiffusion kernel call failed: \(error)") }
    }

    /// `dst[j][i] = src[i·ld + j]` for an `rows × cols` row-major `src` with row stride `ld`
    /// (default `cols`), blocked for the caches.
    static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int? = nil, into dst: UnsafeMutablePointer<Float>) {
        let b = 32, ld = ld ?? cols
        var i0 = 0
        while i0 < rows {
            let i1 = min(i0 + b, rows)
            var j0 = 0
            while j0 < cols {
                let j1 = min(j0 + b, cols)
                for i in i0..<i1 { for j in j0..<j1 { dst[j * rows + i] = src[i * ld + j] } }
                j0 = j1
            }
            i0 = i1
        }
    }

    /// The same attention as `attention(...)`, on Tessera's tiled kernel (`Attention.apply`:
    /// online softmax, AVX-512/AVX2 by run-time dispatch): Q, K, V are transposed to token-major
    /// [tokens × inner] (heads are column blocks of `headDim`, which the layouts' strides
    /// express), and O back. Runs on `pool` — inline when called from inside one of its tasks.
    /// Returns false (nothing written) if the kernel refuses the shape; callers then fall back.
    static func tiledAttention(q: UnsafePointer<Float>, nq: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               nk: Int, heads: Int, headDim dh: Int, out o: UnsafeMutablePointer<Float>,
                               scratch: Scratch, pool: ThreadPool) -> Bool {
        let inner = heads * dh
        let base = scratch.floats(inner * (2 * nq + 2 * nk))
        let qt = base, kt = base + inner * nq, vt = kt + inner * nk, ot = vt + inner * nk
        // the three transposes side by side on the pool's threads (each a few MB at 1024 tokens)
        let qkv = [(q, nq, qt), (k, nk, kt), (v, nk, vt)]
        splitOver(pool, count: 3, work: inner * (nq + 2 * nk)) { parts in
            for j in parts { transpose(qkv[j].0, rows: inner, cols: qkv[j].1, into: qkv[j].2) }
        }
        let shape = AttentionShape(queryHeads: heads, queryLength: nq, kvLength: nk, headDim: dh)
        do {
            try Attention(pool: pool).apply(
                shape, query: qt, queryLayout: .tokenMajor(rows: nq, heads: heads, headDim: dh),
                key: kt, value: vt, keyValueLayout: .tokenMajor(rows: nk, heads: heads, headDim: dh),
                output: ot, outputLayout: .tokenMajor(rows: nq, heads: heads, headDim: dh))
        } catch {
            return false
        }
        // back to channel-major, the channels split over the threads
        splitOver(pool, count: inner, work: inner * nq) { cs in
            transpose(ot + cs.lowerBound, rows: nq, cols: cs.count, ld: inner, into: o + cs.lowerBound * nq)
        }
        return true
    }

    /// Softmax attention of queries `q` [dh-major per head: inner × nq] against keys/values
    /// [inner × nk]; output o [inner × nq]. Heads are row blocks of `headDim`. Queries are processed in
    /// chunks so the score block stays small.
    static func attention(q: UnsafePointer<Float>, nq: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, nk: Int,
                          heads: Int, headDim dh: Int, out o: UnsafeMutablePointer<Float>, scratch: Scratch) {
        let chunk = max(1, min(nq, (1 << 20) / max(1, nk)))
        let s = scratch.floats(chunk * nk)
        let scale = Float(1 / Double(dh).squareRoot())
        for h in 0..<heads {
            let qh = q + h * dh * nq, kh = k + h * dh * nk, vh = v + h * dh * nk, oh = o + h * dh * nq
            var c0 = 0
            while c0 < nq {
                let m = min(chunk, nq - c0)
                gemm(transA: true, m: m, n: nk, k: dh, a: qh + c0, lda: nq, b: kh, ldb: nk, c: s, ldc: nk, alpha: scale)
                for r in 0..<m {
                    let row = s + r * nk
                    var mx = -Float.infinity
                    for j in 0..<nk { mx = max(mx, row[j]) }
                    var sum: Float = 0
                    for j in 0..<nk { let e = expf(row[j] - mx); row[j] = e; sum += e }
                    let inv = 1 / sum
                    for j in 0..<nk { row[j] *= inv }
                }
                gemm(transB: true, m: dh, n: m, k: nk, a: vh, lda: nk, b: s, ldb: nk, c: oh + c0, ldc: nq)
                c0 += m
            }
        }
    }
}

/// The Winograd-transformed 3×3 filters of a model (`16·cout·cin` floats per convolution), keyed by
/// the weight's offset in the parameter blob and made on first use; thread-safe.
final class WinogradFilterCache: @unchecked Sendable {
    private let lock = NSLock()
    private var filters: [Int: UnsafeMutablePointer<Float>] = [:]

    /// The transformed filters of the `cout × cin × 3 × 3` weight at `weight` (blob offset `key`).
    func filters(key: Int, weight: UnsafePointer<Float>, cout: Int, cin: Int) -> UnsafePointer<Float> {
        lock.lock()
        defer { lock.unlock() }
        if let u = filters[key] { return UnsafePointer(u) }
        let u = UnsafeMutablePointer<Float>.allocate(capacity: 16 * cout * cin)
        Kernels.mustSucceed { () throws(TesseraError) in try WinogradF2x3.filters(weight, cout: cout, cin: cin, into: u) }
        filters[key] = u
        return UnsafePointer(u)
    }

    deinit { for u in filters.values { u.deallocate() } }
}
