import COpenBLAS
import Foundation
import Tessera

/// `tessera bench attention`: FlashAttention-2 style prefill and split decode against the
/// straightforward OpenBLAS attention (SGEMM QKᵀ, row softmax over the materialised scores,
/// SGEMM PV; SGEMV-like GEMMs for decode), same run, all cores. Limits: the OpenBLAS SGEMM
/// rate (prefill) and the read bandwidth (decode, cold K/V), both measured in this run; each
/// decode round also times one read pass of the probe, and `fraction` is the median of the
/// rounds' (decode rate / read rate of the same round), so a box whose bandwidth drifts
/// (other jobs) does not skew it. `TESSERA_BENCH_ATTENTION_CASE=substring` runs only the
/// cases whose name contains it (e.g. `kv262144`); `TESSERA_BENCH_ATTENTION_ROUNDS` sets the
/// decode rounds (default 9, quick 5).
func runAttentionBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let pool = ThreadPool.shared
    let threads = pool.threadCount
    let one = try ThreadPool(threads: 1, binding: pool.binding)
    let l3 = max(Topology.current.l3Bytes, 8 << 20)

    // ---- limits, measured here
    let n = ctx.quick ? 1024 : 2048
    let ga = [Float](repeating: 0.5, count: n * n), gb = [Float](repeating: 0.25, count: n * n)
    var gc = [Float](repeating: 0, count: n * n)
    let gemm = measure(repeats: 3, warmup: 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, ga, Int32(n), gb, Int32(n), 0, &gc, Int32(n))
    }
    // the limit is the best the library reaches (a shared machine only lowers it)
    let sgemmRate = 2 * pow(Double(n), 3) / gemm.min / 1e9
    let probe = try MachineProbe(count: max(4 * l3 / 8, 64 << 20), pool: pool)
    let readBW = try probe.readBandwidth(pool: pool, passes: ctx.quick ? 3 : 5) / 1e9  // GB/s
    out.note("limits: OpenBLAS SGEMM \(String(format: "%.1f", sgemmRate)) GFLOP/s, read bandwidth \(String(format: "%.1f", readBW)) GB/s, \(threads) threads")

    let env = ProcessInfo.processInfo.environment
    let only = env["TESSERA_BENCH_ATTENTION_CASE"] ?? ""
    let rounds = max(1, Int(env["TESSERA_BENCH_ATTENTION_ROUNDS"] ?? "") ?? (ctx.quick ? 5 : 9))
    let dc = DecodeBenchSetup(readBW: readBW, l3: l3, one: one, probe: probe, pool: pool, rounds: rounds, only: only)

    // ---- prefill
    let heads = 8
    let dims = [64, 128]
    let lengths = ctx.quick ? [512, 2048] : [512, 2048, 4096, 8192]
    for d in dims {
        for s in lengths {
            for causal in [false, true] where only.isEmpty || prefillName(heads: heads, s: s, d: d, causal: causal).contains(only) {
                try prefillCase(ctx, heads: heads, s: s, d: d, causal: causal, sgemmRate: sgemmRate, threads: threads)
            }
        }
    }

    // ---- decode: one query token, 8 query heads, 8 or 2 KV heads
    let kvLens = ctx.quick ? [4096, 32768] : [4096, 32768, 262144]
    for d in dims {
        for hkv in [8, 2] {
            for kv in kvLens {
                try decodeCase(ctx, hq: 8, hkv: hkv, kv: kv, d: d, storage: .float32, setup: dc)
                if kv == kvLens.last! {
                    try decodeCase(ctx, hq: 8, hkv: hkv, kv: kv, d: d, storage: .bfloat16, setup: dc)
                }
            }
        }
    }
}

private func randomFloats(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed | 1
    return (0..<n).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return Float(Double(s >> 11) / Double(1 << 53) * 2 - 1)
    }
}

/// The baseline: per head, S = scale·Q Kᵀ (SGEMM), row softmax (causal rows cut at the
/// diagonal), O = P V (SGEMM). Uses OpenBLAS's own threads.
private func blasAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                           o: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                           heads: Int, group: Int, sq: Int, sk: Int, d: Int, kvHeadStride: Int, causal: Bool)
{
    let scale = 1 / Float(d).squareRoot()
    for h in 0..<heads {
        let kh = k + (h / group) * kvHeadStride, vh = v + (h / group) * kvHeadStride
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(sq), Int32(sk), Int32(d), scale,
                    q + h * sq * d, Int32(d), kh, Int32(d), 0, scores, Int32(sk))
        for i in 0..<sq {
            let row = scores + i * sk
            let lim = causal ? i + sk - sq + 1 : sk
            var m = -Float.infinity
            for j in 0..<lim { m = max(m, row[j]) }
            var sum: Float = 0
            for j in 0..<lim { let p = expf(row[j] - m); row[j] = p; sum += p }
            let inv = 1 / sum
            for j in 0..<lim { row[j] *= inv }
            for j in lim..<sk { row[j] = 0 }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(sq), Int32(d), Int32(sk), 1,
                    scores, Int32(sk), vh, Int32(d), 0, o + h * sq * d, Int32(d))
    }
}

/// max |O - float64 reference| over a few rows of head 0.
private func sampledError(q: [Float], k: UnsafePointer<Float>, v: UnsafePointer<Float>, o: [Float],
                          sq: Int, sk: Int, d: Int, causal: Bool, rows: [Int]) -> Double
{
    var err = 0.0
    let scale = 1 / Double(d).squareRoot()
    for i in rows where i < sq {
        let lim = causal ? i + sk - sq : sk - 1
        var z = [Double](repeating: 0, count: lim + 1)
        for c in 0...lim {
            var s = 0.0
            for e in 0..<d { s += Double(q[i * d + e]) * Double(k[c * d + e]) }
            z[c] = s * scale
        }
        let m = z.max()!
        var sum = 0.0
        var acc = [Double](repeating: 0, count: d)
        for c in 0...lim {
            let p = exp(z[c] - m)
            sum += p
            for e in 0..<d { acc[e] += p * Double(v[c * d + e]) }
        }
        for e in 0..<d { err = max(err, abs(acc[e] / sum - Double(o[i * d + e]))) }
    }
    return err
}

private func prefillName(heads: Int, s: Int, d: Int, causal: Bool) -> String {
    "prefill f32 b1 h\(heads) s\(s) d\(d)\(causal ? " causal" : "")"
}

/// What every decode case shares: the limits measured at the start, the read probe timed in
/// each round, the rounds and the case filter.
private struct DecodeBenchSetup {
    var readBW: Double      // GB/s at the start of the run
    var l3: Int
    var one: ThreadPool
    var probe: MachineProbe
    var pool: ThreadPool
    var rounds: Int
    var only: String
}

/// Rounds of ours and the baseline (alternating which goes first, as measurePairs) followed by
/// one timed `probe` pass, after one warm-up round; probeTimes gets one time per round.
private func measureDecodeRounds(repeats: Int, probeTimes: inout [Double], ours: () throws -> Void,
                                 probe: () throws -> Void, baseline: () throws -> Void) rethrows
    -> (ours: TimingSummary, baseline: TimingSummary)
{
    try ours(); try baseline(); try probe()
    var a: [Double] = [], b: [Double] = []
    for i in 0..<repeats {
        var t = benchNow()
        if i % 2 == 0 {
            try ours(); a.append(benchNow() - t)
            t = benchNow(); try baseline(); b.append(benchNow() - t)
        } else {
            try baseline(); b.append(benchNow() - t)
            t = benchNow(); try ours(); a.append(benchNow() - t)
        }
        t = benchNow(); try probe(); probeTimes.append(benchNow() - t)
    }
    return (summarize(a), summarize(b))
}

private func prefillCase(_ ctx: BenchContext, heads: Int, s: Int, d: Int, causal: Bool, sgemmRate: Double, threads: Int) throws {
    let q = try Tensor(shape: [1, heads, s, d], elements: randomFloats(heads * s * d, seed: 11))
    let k = try Tensor(shape: [1, heads, s, d], elements: randomFloats(heads * s * d, seed: 12))
    let v = try Tensor(shape: [1, heads, s, d], elements: randomFloats(heads * s * d, seed: 13))
    let att = Attention(mask: causal ? .causal : .none)
    var result = try att(query: q, key: k, value: v)
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: s * s)
    defer { scores.deallocate() }
    var blasOut = [Float](repeating: 0, count: heads * s * d)
    let reps = s >= 4096 ? 3 : (ctx.quick ? 3 : 7)
    let (ours, base) = try q.withUnsafeBufferPointer { qp in
        try k.withUnsafeBufferPointer { kp in
            try v.withUnsafeBufferPointer { vp in
                try measurePairs(repeats: reps, warmup: 1,
                    ours: { result = try att(query: q, key: k, value: v) },
                    baseline: {
                        blasOut.withUnsafeMutableBufferPointer { op in
                            blasAttention(q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, o: op.baseAddress!,
                                          scores: scores, heads: heads, group: 1, sq: s, sk: s, d: d, kvHeadStride: s * d, causal: causal)
                        }
                    })
            }
        }
    }
    let flops = 4 * Double(heads) * Double(s) * Double(s) * Double(d) * (causal ? 0.5 : 1)
    let gflops = flops / ours.median / 1e9
    let rows = [0, 1, s / 3, s / 2, s - 1]
    let err = k.withUnsafeBufferPointer { kp in
        v.withUnsafeBufferPointer { vp in
            sampledError(q: Array(q.toArray()[0..<(s * d)]), k: kp.baseAddress!, v: vp.baseAddress!,
                         o: Array(result.toArray()[0..<(s * d)]), sq: s, sk: s, d: d, causal: causal, rows: rows)
        }
    }
    ctx.output.emit(BenchRecord(
        name: prefillName(heads: heads, s: s, d: d, causal: causal), unit: "s", ours: ours.median,
        baselineName: "openblas sgemm+softmax+sgemm (materialised)", baseline: base.median,
        limitName: "sgemm_gflops", limit: sgemmRate, fraction: gflops / sgemmRate, threads: threads,
        extra: ["gflops": gflops, "baseline_gflops": flops / base.median / 1e9, "error": err,
                "ours_min": ours.min, "ours_max": ours.max, "baseline_min": base.min, "baseline_max": base.max,
                "scores_bytes_baseline": Double(s * s * 4)]))
}

private func decodeCase(_ ctx: BenchContext, hq: Int, hkv: Int, kv: Int, d: Int, storage: AttentionStorage,
                        setup: DecodeBenchSetup) throws
{
    let kvBytes = Double(2 * kv * hkv * d * storage.bytes)
    let cold = kvBytes >= Double(4 * setup.l3)
    let st = storage == .float32 ? "f32" : "bf16"
    let name = "decode \(st) kv q1 hq\(hq) hkv\(hkv) d\(d) kv\(kv) \(cold ? "cold" : "hot")"
    if !setup.only.isEmpty && !name.contains(setup.only) { return }
    let one = setup.one
    // Fill the cache with a 4096-token block repeated: softmax over repeated copies of the
    // same keys equals softmax over one copy, so the float64 reference needs one block.
    let block = min(kv, 4096)
    let kb = randomFloats(block * hkv * d, seed: 21), vb = randomFloats(block * hkv * d, seed: 22)
    let cache = try KVCache(layers: 1, kvHeads: hkv, headDim: d, maxContext: kv, storage: storage)
    var filled = 0
    while filled < kv {
        let t = min(block, kv - filled)
        try kb.withUnsafeBufferPointer { k in
            try vb.withUnsafeBufferPointer { v in try cache.append(layer: 0, keys: k, values: v, tokens: t) }
        }
        filled += t
    }
    let q = randomFloats(hq * d, seed: 23)
    var o = [Float](repeating: 0, count: hq * d)
    let att = Attention(mask: .causal)
    let attOne = Attention(mask: .causal, pool: one)
    func run(_ a: Attention) throws {
        try q.withUnsafeBufferPointer { qp in
            try o.withUnsafeMutableBufferPointer { op in
                try cache.attend(layer: 0, query: qp.baseAddress!, queryHeads: hq, queryLength: 1,
                                 output: op.baseAddress!, attention: a)
            }
        }
    }
    // hot cases are still compared with the DRAM read bandwidth, and labelled "hot"
    let group = hq / hkv
    var blasOut = [Float](repeating: 0, count: hq * d)
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: group * kv)
    defer { scores.deallocate() }
    // the baseline reads the f32 cache in place (for bf16 caches: an f32 cache of the same data)
    let f32Cache = storage == .float32 ? cache : try KVCache(layers: 1, kvHeads: hkv, headDim: d, maxContext: kv, storage: .float32)
    if storage != .float32 {
        filled = 0
        while filled < kv {
            let t = min(block, kv - filled)
            try f32Cache.append(layer: 0, keys: Array(kb[0..<(t * hkv * d)]), values: Array(vb[0..<(t * hkv * d)]))
            filled += t
        }
    }
    // query as [Hq][1][D] per kv group: the baseline does one GEMM of `group` rows per kv head
    // rounds of ours / baseline (alternating which goes first) and, for cold caches, one read
    // pass of the probe (hot cases skip it: it would flush the caches they are measured in)
    var probeTimes: [Double] = []
    let (ours, base) = try f32Cache.withUnsafeStorage(layer: 0) { kraw, vraw in
        let kp = kraw.assumingMemoryBound(to: Float.self), vp = vraw.assumingMemoryBound(to: Float.self)
        return try measureDecodeRounds(repeats: setup.rounds, probeTimes: &probeTimes, ours: { try run(att) }, probe: {
            if cold { _ = try setup.probe.stream(.read, pool: setup.pool) }
        }, baseline: {
            q.withUnsafeBufferPointer { qp in
                blasOut.withUnsafeMutableBufferPointer { op in
                    for g in 0..<hkv {
                        blasAttention(q: qp.baseAddress! + g * group * d, k: kp + g * kv * d, v: vp + g * kv * d,
                                      o: op.baseAddress! + g * group * d, scores: scores, heads: 1, group: 1,
                                      sq: group, sk: kv, d: d, kvHeadStride: 0, causal: false)
                    }
                }
            }
        })
    }
    let single = try measure(repeats: ctx.quick ? 3 : 5, warmup: 1) { try run(attOne) }
    let gbs = kvBytes / ours.median / 1e9
    // cold: per round, decode rate / read rate of the probe pass of the same round; hot: the
    // decode rate against the read bandwidth measured at the start of the run
    let probeBytes = setup.probe.bytes(.read)
    let frac = cold ? summarize(zip(ours.samples, probeTimes).map { (t, p) in (kvBytes / t) / (probeBytes / p) })
                    : summarize(ours.samples.map { kvBytes / $0 / 1e9 / setup.readBW })
    let roundBW = cold ? summarize(probeTimes.map { probeBytes / $0 / 1e9 })
                       : TimingSummary(median: setup.readBW, min: setup.readBW, max: setup.readBW, samples: [])
    // float64 reference of head 0 over one block (see above)
    let err = kb.withUnsafeBufferPointer { kp in
        vb.withUnsafeBufferPointer { vp in
            // block rows of kv head 0 are strided by hkv*d in the token-major block
            var k0 = [Float](repeating: 0, count: block * d), v0 = [Float](repeating: 0, count: block * d)
            for t in 0..<block {
                for e in 0..<d { k0[t * d + e] = storage.round(kp[t * hkv * d + e]); v0[t * d + e] = storage.round(vp[t * hkv * d + e]) }
            }
            return sampledError(q: Array(q[0..<d]), k: k0, v: v0, o: Array(o[0..<d]), sq: 1, sk: block, d: d,
                                causal: false, rows: [0])
        }
    }
    ctx.output.emit(BenchRecord(
        name: name, unit: "s", ours: ours.median,
        baselineName: "openblas gemm+softmax+gemm f32 (materialised)", baseline: base.median,
        limitName: "read_gbs", limit: roundBW.median, fraction: frac.median, threads: ThreadPool.shared.threadCount,
        extra: ["gbs": gbs, "kv_bytes": kvBytes, "single_worker_s": single.median,
                "fraction_min": frac.min, "fraction_max": frac.max, "read_gbs_min": roundBW.min,
                "read_gbs_max": roundBW.max, "read_gbs_run_start": setup.readBW, "rounds": Double(ours.samples.count),
                "speedup_vs_1_worker": single.median / ours.median, "error": err,
                "ours_min": ours.min, "ours_max": ours.max]))
}

private extension AttentionStorage {
    /// The value a float takes once stored in this type.
    func round(_ x: Float) -> Float {
        switch self {
        case .float32: return x
        case .bfloat16:
            let b = x.bitPattern
            let r = (b &+ 0x7FFF &+ ((b >> 16) & 1)) & 0xFFFF_0000
            return Float(bitPattern: r)
        case .float16: return Float(Float16(x))
        }
    }
}
