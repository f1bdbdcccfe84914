import Foundation

extension UNetModel {
    /// State of one patch during one call.
    final class PatchRun: @unchecked Sendable {
        let index: Int
        var bufs: [Int: Activation] = [:]
        var sums: [Int: [Double]] = [:]                       // GroupNorm local sums by key
        var qkv: [Int: (Activation, Activation, Activation)] = [:]
        let scratch: Scratch
        init(index: Int, scratch: Scratch) { self.index = index; self.scratch = scratch }
    }

    /// Shared, read-only description of one call.
    struct CallContext {
        let patches: Int
        let fullHeight: Int          // image rows at the top level
        let policy: PatchPolicy
        let exchange: PatchExchange?
        let temb: [[Float]]
        let pool: ThreadPool
        let out: UnsafeMutablePointer<Float>
        let outRowsTotal: Int
        let workerScratch: [Scratch]
        /// The previous call published full K/V (it was synchronous): PCPP slices those.
        let previousFull: Bool
        /// Only one patch runs in this process (the exchange moves the output rows).
        let localRun: Bool
    }

    /// Key of the output all-gather in one-patch-per-process runs (layer keys are ≥ 0).
    static let outputKey = -8

    /// Runs the network on `x` split into `patches` row patches under `policy`. With one patch the
    /// ops run on the calling thread (convolutions spread over `pool`); with several, each patch is one
    /// pool task (single-threaded inside), and under a policy that reads fresh data of other patches the
    /// ops run in phases separated by joins (publish → join → compute).
    func execute(_ x: Latent, timestep: Int, classLabel: Int?, patches P: Int, policy: PatchPolicy,
                 exchange: PatchExchange?, pool: ThreadPool, sideTask: (() -> Void)? = nil,
                 localPatch: Int? = nil, previousFull: Bool = true) throws(TesseraError) -> Latent {
        guard x.channels == config.inChannels else {
            throw .invalidArgument("UNet: input has \(x.channels) channels, the model takes \(config.inChannels)")
        }
        try validate(height: x.height, width: x.width, patches: P)
        guard timestep >= 0, timestep < 1_000_000 else { throw .invalidArgument("UNet: timestep \(timestep) out of range") }
        if P > 1 && exchange == nil && policy != .independent {
            throw .invalidArgument("UNet: a patch run needs an exchange")
        }
        let temb = try timeProjections(timestep: timestep, classLabel: classLabel)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: x.count)
        defer { out.deallocate() }
        let workerScratch = buffers.takeScratch(count: max(1, pool.threadCount))
        defer { buffers.giveScratch(workerScratch) }
        let ctx = CallContext(patches: P, fullHeight: x.height, policy: policy, exchange: exchange, temb: temb,
                              pool: pool, out: out, outRowsTotal: x.height,
                              workerScratch: workerScratch,
                              previousFull: previousFull, localRun: localPatch != nil)
        let rows = x.height / P
        if let lp = localPatch, !(lp >= 0 && lp < P) || exchange == nil {
            throw .invalidArgument("UNet: local patch \(lp) needs an exchange and must lie in 0..<\(P)")
        }
        let runs = (localPatch.map { [$0] } ?? Array(0..<P)).map { PatchRun(index: $0, scratch: buffers.takeScratch()) }
        defer { for r in runs { r.bufs = [:]; r.qkv = [:]; buffers.giveScratch(r.scratch) } }
        for r in runs {
            let a = Activation(c: x.channels, rows: rows, w: x.width, recycler: buffers)
            x.data.withUnsafeBufferPointer { src in
                for c in 0..<x.channels {
                    (a.p + c * rows * x.width).update(from: src.baseAddress! + (c * x.height + r.index * rows) * x.width, count: rows * x.width)
                }
            }
            r.bufs[0] = a
        }
        profile?.addCall()
        let publish = self.profile == nil ? self.publish : self.profiledPublish
        let run = self.profile == nil ? self.run : self.profiledRun
        if let lp = localPatch, let ex = exchange {
            // one patch in this process: the exchange delivers the other patches' data (a fresh read
            // waits for its message), then the output rows are all-gathered through it
            for i in ops.indices { publish(i, runs[0], ctx); run(i, runs[0], ctx) }
            sideTask?()
            let H = x.height, W = x.width, C = x.channels
            let mine = UnsafeMutablePointer<Float>.allocate(capacity: C * rows * W)
            defer { mine.deallocate() }
            for c in 0..<C { (mine + c * rows * W).update(from: out + (c * H + lp * rows) * W, count: rows * W) }
            ex.publish(key: Self.outputKey, from: lp, to: .all, bytes: UnsafeRawBufferPointer(start: mine, count: C * rows * W * 4))
            for q in 0..<P where q != lp {
                guard let b = ex.contribution(key: Self.outputKey, of: q, fresh: true), b.count == C * rows * W * 4 else {
                    throw .invalidState("UNet: the exchange delivered no output rows of patch \(q)")
                }
                let f = b.bindMemory(to: Float.self)
                for c in 0..<C { (out + (c * H + q * rows) * W).update(from: f.baseAddress! + c * rows * W, count: rows * W) }
            }
        } else if P == 1 {
            for i in ops.indices { publish(i, runs[0], ctx); run(i, runs[0], ctx) }
            sideTask?()
        } else if !policy.needsBarriers {
            let tasks = P + (sideTask == nil ? 0 : 1)
            pool.parallelFor(0..<tasks, schedule: .dynamic(chunk: 1)) { range, _ in
                for p in range {
                    if p == P { sideTask?(); continue }
                    for i in ops.indices { publish(i, runs[p], ctx); run(i, runs[p], ctx) }
                }
            }
        } else {
            sideTask?()
            var pending: [Int] = []         // ops to run fully in the next phase
            var runFirst: Int? = nil        // an op whose compute phase opens the next phase
            func phase(thenPublish: Int?) {
                pool.parallelFor(0..<P, schedule: .dynamic(chunk: 1)) { range, _ in
                    for p in range {
                        if let f = runFirst { run(f, runs[p], ctx) }
                        for i in pending { publish(i, runs[p], ctx); run(i, runs[p], ctx) }
                        if let t = thenPublish { publish(t, runs[p], ctx) }
                    }
                }
            }
            for i in ops.indices {
                if ops[i].crossPatch {
                    phase(thenPublish: i)
                    pending = []; runFirst = i
                } else { pending.append(i) }
            }
            phase(thenPublish: nil)
        }
        exchange?.finishCall()
        return Latent(uncheckedChannels: x.channels, height: x.height, width: x.width,
                      data: Array(UnsafeBufferPointer(start: out, count: x.count)))
    }

    /// The op kind and its floating-point operations for the profile (shapes read before the op runs).
    private func profileKind(_ i: Int, _ r: PatchRun, publishing: Bool) -> (UNetProfile.Kind, Double) {
        switch ops[i] {
        case .conv3(let src, _, _, _, let cin, let cout, let stride, _):
            if publishing { return (.exchange, 0) }
            let a = r.bufs[src]!
            return (.conv3x3, 2.0 * Double(cout * cin * 9) * Double(a.plane / (stride * stride)))
        case .conv1(let src, _, _, _, let cin, let cout):
            return (.conv1x1, 2.0 * Double(cin * cout) * Double(r.bufs[src]!.plane))
        case .gn: return (.groupNorm, 0)
        case .attn(let src, let res, _, _, _, _, _, let heads, let hd, _, _):
            let a = r.bufs[src]!, inner = Double(heads * hd), n = Double(a.plane)
            if publishing { return (.attention, 3 * 2 * inner * Double(a.c) * n) }   // Q, K, V projections
            let cres = Double(r.bufs[res]!.c)
            // scores and weighted sum against the keys actually used are counted by the kernel
            // call below; here the output projection
            return (.attention, 2 * inner * cres * n)
        case .output: return (.exchange, 0)
        default: return (.elementwise, 0)
        }
    }

    private func profiledPublish(_ i: Int, _ r: PatchRun, _ ctx: CallContext) {
        let (k, f) = profileKind(i, r, publishing: true)
        let t0 = profileNow()
        publish(i, r, ctx)
        profile?.add(k, seconds: profileNow() - t0, flops: f)
    }

    private func profiledRun(_ i: Int, _ r: PatchRun, _ ctx: CallContext) {
        let (k, f) = profileKind(i, r, publishing: false)
        let t0 = profileNow()
        run(i, r, ctx)
        profile?.add(k, seconds: profileNow() - t0, flops: f)
    }

    private func release(_ i: Int, _ r: PatchRun) {
        for b in ops[i].reads where lastUse[b] == i { r.bufs[b] = nil }
    }

    private func kvTokens(_ portion: Double, _ n: Int) -> Int { min(n, max(1, Int(portion * Double(n)))) }

    /// Publish phase: compute what others need from this patch and hand it to the exchange.
    func publish(_ i: Int, _ r: PatchRun, _ ctx: CallContext) {
        let P = ctx.patches
        switch ops[i] {
        case .conv3(let src, _, _, _, _, _, let stride, let key):
            guard P > 1, ctx.policy.halo != .zero, let ex = ctx.exchange else { return }
            let a = r.bufs[src]!
            let row = r.scratch.floats(a.c * a.w)
            // a stride-2 conv on an even patch never reads the row below the patch: only the upper
            // neighbour needs a halo from it (the first row is sent up for stride 1 only)
            if stride == 1 {
                for c in 0..<a.c { (row + c * a.w).update(from: a.p + c * a.plane, count: a.w) }
                ex.publish(key: key * 8, from: r.index, to: .above, bytes: UnsafeRawBufferPointer(start: row, count: a.c * a.w * 4))
            }
            for c in 0..<a.c { (row + c * a.w).update(from: a.p + c * a.plane + (a.rows - 1) * a.w, count: a.w) }
            ex.publish(key: key * 8 + 1, from: r.index, to: .below, bytes: UnsafeRawBufferPointer(start: row, count: a.c * a.w * 4))
        case .gn(let src, _, _, _, let groups, _, _, let key):
            let s = Kernels.groupSums(r.bufs[src]!, groups: groups, pool: ctx.pool)
            r.sums[key] = s
            if P > 1, ctx.policy.norm != .local, let ex = ctx.exchange {
                s.withUnsafeBytes { ex.publish(key: key * 8, from: r.index, to: .all, bytes: $0) }
            }
        case .attn(let src, _, _, let q, let k, let v, _, let heads, let hd, _, let key):
            let a = r.bufs[src]!
            let inner = heads * hd, n = a.plane
            let Q = Activation(c: inner, rows: a.rows, w: a.w, recycler: buffers), K = Activation(c: inner, rows: a.rows, w: a.w, recycler: buffers)
            let V = Activation(c: inner, rows: a.rows, w: a.w, recycler: buffers)
            Kernels.conv1x1(input: a.p, cin: a.c, n: n, weight: blob + q.0, bias: blob + q.1, cout: inner, out: Q.p, pool: ctx.pool)
            Kernels.conv1x1(input: a.p, cin: a.c, n: n, weight: blob + k.0, bias: blob + k.1, cout: inner, out: K.p, pool: ctx.pool)
            Kernels.conv1x1(input: a.p, cin: a.c, n: n, weight: blob + v.0, bias: blob + v.1, cout: inner, out: V.p, pool: ctx.pool)
            r.qkv[key] = (Q, K, V)
            guard P > 1, let ex = ctx.exchange else { return }
            switch ctx.policy.kv {
            case .fresh, .stale:
                ex.publish(key: key * 8, from: r.index, to: .all, bytes: UnsafeRawBufferPointer(start: K.p, count: K.count * 4))
                ex.publish(key: key * 8 + 1, from: r.index, to: .all, bytes: UnsafeRawBufferPointer(start: V.p, count: V.count * 4))
            case .partial(let portion):
                let t = kvTokens(portion, n)
                let buf = r.scratch.floats(inner * t)
                for (part, src, head) in [(2, K, true), (3, K, false), (4, V, true), (5, V, false)] {
                    for c in 0..<inner { (buf + c * t).update(from: src.p + c * n + (head ? 0 : n - t), count: t) }
                    ex.publish(key: key * 8 + part, from: r.index, to: head ? .above : .below,
                               bytes: UnsafeRawBufferPointer(start: buf, count: inner * t * 4))
                }
            case .own: break
            }
        default: break
        }
    }

    /// Compute phase.
    func run(_ i: Int, _ r: PatchRun, _ ctx: CallContext) {
        let P = ctx.patches
        switch ops[i] {
        case .center(let b):
            let a = r.bufs[b]!
            for j in 0..<a.count { a.p[j] = 2 * a.p[j] - 1 }
        case .conv3(let src, let dst, let w, let b, _, let cout, let stride, let key):
            let a = r.bufs[src]!
            let o = Activation(c: cout, rows: a.rows / stride, w: a.w / stride, recycler: buffers)
            var top: UnsafePointer<Float>? = nil, bottom: UnsafePointer<Float>? = nil
            if P > 1, ctx.policy.halo != .zero, let ex = ctx.exchange {
                let fresh = ctx.policy.halo == .fresh
                if r.index > 0 { top = ex.contribution(key: key * 8 + 1, of: r.index - 1, fresh: fresh)?.baseAddress?.assumingMemoryBound(to: Float.self) }
                if r.index + 1 < P && stride == 1 { bottom = ex.contribution(key: key * 8, of: r.index + 1, fresh: fresh)?.baseAddress?.assumingMemoryBound(to: Float.self) }
            }
            let cin = a.c, weight = blob + w, cache = winogradFilters
            var bias = Array(UnsafeBufferPointer(start: blob + b, count: cout))
            if let proj = tembIntoBias[i] {   // the time embedding joins the bias (its addTemb op is skipped)
                let t = ctx.temb[proj]
                for c in 0..<cout { bias[c] += t[c] }
            }
            bias.withUnsafeBufferPointer { bp in
                Kernels.conv3x3(input: a, top: top, bottom: bottom, stride: stride, weight: weight, bias: bp.baseAddress!,
                                cout: cout, out: o, pool: ctx.pool, scratch: ctx.workerScratch,
                                winograd: { cache.filters(key: w, weight: weight, cout: cout, cin: cin) })
            }
            r.bufs[dst] = o
        case .conv1(let src, let dst, let w, let b, let cin, let cout):
            let a = r.bufs[src]!
            let o = Activation(c: cout, rows: a.rows, w: a.w, recycler: buffers)
            Kernels.conv1x1(input: a.p, cin: cin, n: a.plane, weight: blob + w, bias: blob + b, cout: cout, out: o.p, pool: ctx.pool)
            r.bufs[dst] = o
        case .gn(let src, let dst, let gamma, let beta, let groups, let eps, let silu, let key):
            let a = r.bufs[src]!
            let local = r.sums[key]!
            r.sums[key] = nil
            var total = local
            var rowsSeen = a.rows
            if P > 1, ctx.policy.norm != .local, let ex = ctx.exchange {
                let fresh = ctx.policy.norm == .fresh
                var complete = true
                var acc = [Double](repeating: 0, count: local.count)
                for q in 0..<P {
                    if q == r.index { for j in acc.indices { acc[j] += local[j] }; continue }
                    guard let c = ex.contribution(key: key * 8, of: q, fresh: fresh) else { complete = false; break }
                    let d = c.bindMemory(to: Double.self)
                    for j in acc.indices { acc[j] += d[j] }
                }
                if complete { total = acc; rowsSeen = a.rows * P }
            }
            let n = Double(a.c / groups * rowsSeen * a.w)
            let nl = Double(a.c / groups * a.plane)
            var mean = [Double](repeating: 0, count: groups), varc = mean
            for g in 0..<groups {
                mean[g] = total[g] / n
                varc[g] = total[groups + g] / n - mean[g] * mean[g]
                if varc[g] < 0 {   // stale statistics can disagree with fresh ones: fall back to the local variance
                    let lm = local[g] / nl
                    mean[g] = lm; varc[g] = max(0, local[groups + g] / nl - lm * lm)
                }
            }
            let o = Activation(c: a.c, rows: a.rows, w: a.w, recycler: buffers)
            Kernels.groupNormApply(a, out: o, groups: groups, mean: mean, variance: varc, eps: eps,
                                   gamma: blob + gamma, beta: blob + beta, silu: silu, pool: ctx.pool)
            r.bufs[dst] = o
        case .addTemb(let b, let proj):
            if i > 0, tembIntoBias[i - 1] != nil { break }   // added by the convolution before it
            let a = r.bufs[b]!
            let t = ctx.temb[proj]
            Kernels.splitOver(ctx.pool, count: a.c, work: a.count) { cs in
                for c in cs { let v = t[c]; let p = a.p + c * a.plane; for j in 0..<a.plane { p[j] += v } }
            }
        case .scaleShift(let b, let proj):
            let a = r.bufs[b]!
            let t = ctx.temb[proj]
            for c in 0..<a.c {
                let sc = 1 + t[c], sh = t[a.c + c]
                let p = a.p + c * a.plane
                for j in 0..<a.plane { p[j] = p[j] * sc + sh }
            }
        case .silu(let b):
            let a = r.bufs[b]!
            Kernels.silu(a.p, a.count)
        case .add(let x, let y, let dst, let scale):
            let a = r.bufs[x]!, b = r.bufs[y]!
            let o = Activation(c: a.c, rows: a.rows, w: a.w, recycler: buffers)
            Kernels.splitOver(ctx.pool, count: a.count, work: a.count) { js in
                for j in js { o.p[j] = (a.p[j] + b.p[j]) * scale }
            }
            r.bufs[dst] = o
        case .concat(let x, let y, let dst):
            let a = r.bufs[x]!, b = r.bufs[y]!
            let o = Activation(c: a.c + b.c, rows: a.rows, w: a.w, recycler: buffers)
            Kernels.splitOver(ctx.pool, count: o.c, work: o.count) { cs in
                // channels cs of the result: those of a, then those of b
                let ca = max(0, min(a.c, cs.upperBound) - cs.lowerBound)
                if ca > 0 { (o.p + cs.lowerBound * o.plane).update(from: a.p + cs.lowerBound * a.plane, count: ca * a.plane) }
                let b0 = max(cs.lowerBound, a.c)
                if cs.upperBound > b0 {
                    (o.p + b0 * o.plane).update(from: b.p + (b0 - a.c) * b.plane, count: (cs.upperBound - b0) * b.plane)
                }
            }
            r.bufs[dst] = o
        case .upsample(let src, let dst):
            let a = r.bufs[src]!
            let o = Activation(c: a.c, rows: a.rows * 2, w: a.w * 2, recycler: buffers)
            Kernels.splitOver(ctx.pool, count: a.c, work: o.count) { cs in
                for c in cs {
                    for y in 0..<a.rows {
                        let s = a.p + c * a.plane + y * a.w
                        let d0 = o.p + c * o.plane + 2 * y * o.w
                        for x in 0..<a.w { let v = s[x]; d0[2 * x] = v; d0[2 * x + 1] = v }
                        (d0 + o.w).update(from: d0, count: o.w)
                    }
                }
            }
            r.bufs[dst] = o
        case .attn(let src, let residual, let dst, _, _, _, let oproj, let heads, let hd, let rescale, let key):
            let a = r.bufs[src]!, res = r.bufs[residual]!
            let (Q, K, V) = r.qkv[key]!
            r.qkv[key] = nil
            let inner = heads * hd, n = a.plane
            // gather keys/values in token order: [patches above | own | patches below]
            var pieces: [(UnsafePointer<Float>, UnsafePointer<Float>, Int, Int)] = []   // (k, v, tokens, ld)
            let own = (UnsafePointer(K.p), UnsafePointer(V.p), n, n)
            if P == 1 { pieces = [own] } else {
                switch ctx.policy.kv {
                case .own: pieces = [own]
                case .fresh, .stale:
                    let fresh = ctx.policy.kv == .fresh
                    for q in 0..<P {
                        if q == r.index { pieces.append(own); continue }
                        if let kc = ctx.exchange?.contribution(key: key * 8, of: q, fresh: fresh),
                           let vc = ctx.exchange?.contribution(key: key * 8 + 1, of: q, fresh: fresh) {
                            pieces.append((kc.baseAddress!.assumingMemoryBound(to: Float.self),
                                           vc.baseAddress!.assumingMemoryBound(to: Float.self), n, n))
                        }
                    }
                case .partial(let portion):
                    let t = kvTokens(portion, n)
                    func neighbour(_ q: Int, tail: Bool) -> (UnsafePointer<Float>, UnsafePointer<Float>, Int, Int)? {
                        guard q >= 0, q < P, let ex = ctx.exchange else { return nil }
                        if !ctx.previousFull,
                           let kc = ex.contribution(key: key * 8 + (tail ? 3 : 2), of: q, fresh: false),
                           let vc = ex.contribution(key: key * 8 + (tail ? 5 : 4), of: q, fresh: false) {
                            return (kc.baseAddress!.assumingMemoryBound(to: Float.self), vc.baseAddress!.assumingMemoryBound(to: Float.self), t, t)
                        }
                        // previous call was synchronous (warm-up): slice the full K/V it published
                        if let kc = ex.contribution(key: key * 8, of: q, fresh: false),
                           let vc = ex.contribution(key: key * 8 + 1, of: q, fresh: false) {
                            let off = tail ? n - t : 0
                            return (kc.baseAddress!.assumingMemoryBound(to: Float.self) + off,
                                    vc.baseAddress!.assumingMemoryBound(to: Float.self) + off, t, n)
                        }
                        return nil
                    }
                    if let up = neighbour(r.index - 1, tail: true) { pieces.append(up) }
                    pieces.append(own)
                    if let dn = neighbour(r.index + 1, tail: false) { pieces.append(dn) }
                }
            }
            let nk = pieces.reduce(0) { $0 + $1.2 }
            var kp = UnsafePointer(K.p), vp = UnsafePointer(V.p)
            var kcat: Activation? = nil, vcat: Activation? = nil
            if pieces.count > 1 {
                let kc = Activation(c: inner, rows: 1, w: nk, recycler: buffers), vc = Activation(c: inner, rows: 1, w: nk, recycler: buffers)
                var off = 0
                for (pk, pv, t, ld) in pieces {
                    for c in 0..<inner {
                        (kc.p + c * nk + off).update(from: pk + c * ld, count: t)
                        (vc.p + c * nk + off).update(from: pv + c * ld, count: t)
                    }
                    off += t
                }
                kcat = kc; vcat = vc
                kp = UnsafePointer(kc.p); vp = UnsafePointer(vc.p)
            }
            let O = Activation(c: inner, rows: a.rows, w: a.w, recycler: buffers)
            if !Kernels.tiledAttention(q: Q.p, nq: n, k: kp, v: vp, nk: nk, heads: heads, headDim: hd, out: O.p,
                                       scratch: r.scratch, pool: ctx.pool) {
                Kernels.attention(q: Q.p, nq: n, k: kp, v: vp, nk: nk, heads: heads, headDim: hd, out: O.p, scratch: r.scratch)
            }
            let attnFlops: Double = 4.0 * Double(n * nk) * Double(inner)
            profile?.add(.attention, seconds: 0, flops: attnFlops)
            _ = (kcat, vcat)
            let o = Activation(c: res.c, rows: a.rows, w: a.w, recycler: buffers)
            Kernels.conv1x1(input: O.p, cin: inner, n: n, weight: blob + oproj.0, bias: blob + oproj.1, cout: res.c, out: o.p, pool: ctx.pool)
            let inv = 1 / rescale
            for j in 0..<o.count { o.p[j] = (o.p[j] + res.p[j]) * inv }
            r.bufs[dst] = o
        case .output(let src):
            let a = r.bufs[src]!
            let H = ctx.outRowsTotal
            for c in 0..<a.c {
                (ctx.out + (c * H + r.index * a.rows) * a.w).update(from: a.p + c * a.plane, count: a.plane)
            }
            if P > 1, let ex = ctx.exchange, !ctx.localRun {   // the step's output is all-gathered (counted, not copied)
                ex.recordBytes(a.count * 4 * (P - 1))
            }
        }
        release(i, r)
    }

}
