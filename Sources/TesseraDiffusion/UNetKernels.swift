import Foundation
internal import COpenBLAS

/// A channel-major activation block: `c × rows × w` floats, 64-byte aligned, owned.
final class Activation: @unchecked Sendable {
    let c: Int, rows: Int, w: Int
    let p: UnsafeMutablePointer<Float>
    var count: Int { c * rows * w }
    var plane: Int { rows * w }
    init(c: Int, rows: Int, w: Int) {
        self.c = c; self.rows = rows; self.w = w
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, c * rows * w) * 4, alignment: 64)
        p = raw.bindMemory(to: Float.self, capacity: max(1, c * rows * w))
    }
    deinit { UnsafeMutableRawPointer(p).deallocate() }
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

    /// 3×3 convolution, padding 1, stride 1 or 2, on a row patch: `top`/`bottom` are the rows just
    /// above/below the patch (`cin × w` each) or nil for zeros (image border or no exchange).
    /// im2col over chunks of output rows, then SGEMM with K = 9·cin. Output `cout × orows × ow`.
    static func conv3x3(input x: Activation, top: UnsafePointer<Float>?, bottom: UnsafePointer<Float>?,
                        stride s: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, cout: Int,
                        out: Activation, pool: ThreadPool, scratch: [Scratch]) {
        let cin = x.c, rows = x.rows, w = x.w, ow = out.w, orows = out.rows
        let kdim = cin * 9
        // chunk of output rows so the column buffer stays ~2 MiB (L2-sized), at least one row
        let rowsPerChunk = max(1, min(orows, (1 << 19) / max(1, kdim * ow)))
        let nChunks = (orows + rowsPerChunk - 1) / rowsPerChunk
        let opix = orows * ow
        pool.parallelFor(0..<nChunks, schedule: .dynamic(chunk: 1)) { range, worker in
            // per-call, per-worker column buffer (pool scratch is not safe when several
            // application threads share the pool)
            let scratch = scratch[min(worker, scratch.count - 1)].floats(kdim * rowsPerChunk * ow)
            for chunk in range {
                let r0 = chunk * rowsPerChunk, r1 = min(orows, r0 + rowsPerChunk)
                let npix = (r1 - r0) * ow
                for ci in 0..<cin {
                    let plane = x.p + ci * rows * w
                    for ky in 0..<3 {
                        for r in r0..<r1 {
                            let y = r * s + ky - 1
                            let src: UnsafePointer<Float>? = y < 0 ? top.map { $0 + ci * w }
                                : (y >= rows ? bottom.map { $0 + ci * w } : UnsafePointer(plane + y * w))
                            for kx in 0..<3 {
                                let dst = scratch + (ci * 9 + ky * 3 + kx) * npix + (r - r0) * ow
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
                let c = out.p + r0 * ow
                for co in 0..<cout { (c + co * opix).update(repeating: bias[co], count: npix) }
                gemm(m: cout, n: npix, k: kdim, a: weight, lda: kdim, b: scratch, ldb: npix, c: c, ldc: opix, beta: 1)
            }
        }
    }

    /// 1×1 convolution / per-pixel linear map: out[cout × n] = W[cout × cin] · x[cin × n] + b.
    static func conv1x1(input x: UnsafePointer<Float>, cin: Int, n: Int, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, cout: Int, out: UnsafeMutablePointer<Float>) {
        if let bias { for co in 0..<cout { (out + co * n).update(repeating: bias[co], count: n) } }
        gemm(m: cout, n: n, k: cin, a: weight, lda: cin, b: x, ldb: n, c: out, ldc: n, beta: bias == nil ? 0 : 1)
    }

    /// Per-group (Σx, Σx²) in Double over a channel-major block; result [sum_0..G-1, sumsq_0..G-1].
    static func groupSums(_ x: Activation, groups: Int) -> [Double] {
        let cpg = x.c / groups, n = cpg * x.plane
        var out = [Double](repeating: 0, count: 2 * groups)
        for g in 0..<groups {
            let p = x.p + g * n
            var s = 0.0, s2 = 0.0
            var i = 0
            while i < n {
                let e = min(n, i + 1024)
                var fs: Float = 0, fs2: Float = 0
                for j in i..<e { let v = p[j]; fs += v; fs2 += v * v }
                s += Double(fs); s2 += Double(fs2)
                i = e
            }
            out[g] = s; out[groups + g] = s2
        }
        return out
    }

    /// y = (x − mean_g)·rstd_g·γ_c + β_c, then optionally SiLU; mean/var per group given.
    static func groupNormApply(_ x: Activation, out: Activation, groups: Int, mean: [Double], variance: [Double],
                               eps: Double, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, silu: Bool) {
        let cpg = x.c / groups, n = x.plane
        for c in 0..<x.c {
            let g = c / cpg
            let rstd = 1 / (max(variance[g], 0) + eps).squareRoot()
            let sc = Float(Double(gamma[c]) * rstd), sh = Float(Double(beta[c]) - mean[g] * Double(gamma[c]) * rstd)
            let src = x.p + c * n, dst = out.p + c * n
            if silu {
                for j in 0..<n { let v = src[j] * sc + sh; dst[j] = v / (1 + expf(-v)) }
            } else {
                for j in 0..<n { dst[j] = src[j] * sc + sh }
            }
        }
    }

    static func silu(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
        for j in 0..<n { let v = x[j]; x[j] = v / (1 + expf(-v)) }
    }

    /// `dst[j][i] = src[i][j]` for an `rows × cols` row-major `src` (blocked for the caches).
    static func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
        let b = 32
        var i0 = 0
        while i0 < rows {
            let i1 = min(i0 + b, rows)
            var j0 = 0
            while j0 < cols {
                let j1 = min(j0 + b, cols)
                for i in i0..<i1 { for j in j0..<j1 { dst[j * rows + i] = src[i * cols + j] } }
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
        transpose(q, rows: inner, cols: nq, into: qt)
        transpose(k, rows: inner, cols: nk, into: kt)
        transpose(v, rows: inner, cols: nk, into: vt)
        let shape = AttentionShape(queryHeads: heads, queryLength: nq, kvLength: nk, headDim: dh)
        do {
            try Attention(pool: pool).apply(
                shape, query: qt, queryLayout: .tokenMajor(rows: nq, heads: heads, headDim: dh),
                key: kt, value: vt, keyValueLayout: .tokenMajor(rows: nk, heads: heads, headDim: dh),
                output: ot, outputLayout: .tokenMajor(rows: nq, heads: heads, headDim: dh))
        } catch {
            return false
        }
        transpose(ot, rows: nq, cols: inner, into: o)
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
