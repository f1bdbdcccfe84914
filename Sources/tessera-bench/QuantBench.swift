import COpenBLAS
import Foundation
import Tessera

/// `tessera bench quant`: quantized Y = X·Wᵀ against OpenBLAS SGEMV/SGEMM on the same weights
/// dequantized to f32, in the same run (interleaved pairs), with the machine limits measured in
/// this run too: the read-only bandwidth (for M = 1, weights cold) and the int8 dot peak, whose
/// max(bytes ÷ bandwidth, ops ÷ peak) is the roofline floor each case is compared to.
///
/// Cold cases rotate through enough distinct copies of the weights (ours and the baseline's) to
/// exceed 4× the last-level cache reported by the topology; hot cases reuse one copy.
func runQuantBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let pool = ThreadPool.shared
    let threads = pool.threadCount
    let llc = max(Topology.current.l3Bytes, 8 << 20)
    let coldBytes = 4 * llc
    let repeats = ctx.quick ? 5 : 9

    // --- limits of this run: a read-only sum over an array > 2x the L3 (re-measured interleaved
    // with every M = 1 cold case; the best median so far is the limit), and the int8 dot peak
    let probeBytes = min(max(2 * llc, 256 << 20), 1 << 30)
    let bw = try ReadLimit(bytes: probeBytes, pool: pool)
    bw.update(try bw.probe.readBandwidth(pool: pool, passes: ctx.quick ? 3 : 7))
    let readBW = bw.best
    let peakI8 = try (0..<3).map { _ in try MachineProbe.peakInt8(pool: pool, iterations: ctx.quick ? 2_000_000 : 10_000_000) }.max()!
    out.note("quant: read bandwidth \(String(format: "%.1f", readBW / 1e9)) GB/s (\(probeBytes >> 20) MiB array), " +
             "int8 peak \(String(format: "%.0f", peakI8 / 1e9)) GOP/s, \(threads) threads, L3 \(llc >> 20) MiB, " +
             "cold sets >= \(coldBytes >> 20) MiB")

    struct Shape { let n: Int; let k: Int }
    let bigShapes = ctx.quick ? [Shape(n: 4096, k: 4096)]
                              : [Shape(n: 4096, k: 4096), Shape(n: 11008, k: 4096), Shape(n: 4096, k: 11008)]
    let ms = ctx.quick ? [1, 8, 64] : [1, 2, 4, 8, 16, 32, 64, 128]
    let bigFormats: [QuantFormat] = ctx.quick ? [.q4g128f16] : [.q4g128f16, .q4_0, .q8_0]

    for shape in bigShapes {
        for format in bigFormats {
            try benchShape(ctx, n: shape.n, k: shape.k, format: format,
                           ms: format == .q4g128f16 ? ms : [1, 8, 128].filter { ms.contains($0) || !ctx.quick },
                           coldBytes: coldBytes, bw: bw, peakI8: peakI8, repeats: repeats, threads: threads)
        }
    }
    // M = 128 (a prefill chunk) in every integer format, hot: the compute floor ops ÷ int8 peak
    // applies; the per-group float step (g = 16 or 32) is what keeps them below it
    for format in [QuantFormat.q4_0, .q8_0, .q4_1, .q5_0, .q5_1, .iq4_nl, .q4_K, .q5_K, .q6_K, .q3_K, .q2_K] {
        try benchShape(ctx, n: 4096, k: 4096, format: format, ms: [128], coldBytes: 0,
                       bw: bw, peakI8: peakI8, repeats: repeats, threads: threads)
    }
    // SmolLM2-135M shapes, one by one (hot), then a whole decode step over the 210 matrices (cold)
    if !ctx.quick {
        for (n, k) in [(1536, 576), (576, 1536), (576, 576), (192, 576), (49152, 576)] {
            for format in [QuantFormat.q4_1, .q8_0] {
                try benchShape(ctx, n: n, k: k, format: format, ms: [1, 8, 64], coldBytes: n == 49152 ? coldBytes : 0,
                               bw: bw, peakI8: peakI8, repeats: repeats, threads: threads)
            }
        }
    }
    for format in ctx.quick ? [QuantFormat.q8_0] : [QuantFormat.q4_1, .q8_0, .q4_0] {
        try benchDecodeStep(ctx, format: format, coldBytes: coldBytes, bw: bw, repeats: repeats, threads: threads)
    }
    // the same step with one set of weights reused, as a model decodes (fits a large L3)
    if !ctx.quick {
        try benchDecodeStep(ctx, format: .q4_1, coldBytes: 0, bw: bw, repeats: repeats, threads: threads)
    }
}

/// The read-bandwidth limit: a MachineProbe array and the best median rate measured so far.
private final class ReadLimit {
    let probe: MachineProbe
    private(set) var best = 0.0
    init(bytes: Int, pool: ThreadPool) throws { probe = try MachineProbe(count: bytes / 8, pool: pool) }
    func update(_ rate: Double) { best = max(best, rate) }
    func pass() throws { try probe.stream(.read) }
    var passBytes: Double { probe.bytes(.read) }
}

/// A, B, C interleaved (rotating which goes first), `repeats` rounds after `warmup`.
private func measureTriples(repeats: Int, warmup: Int, _ a: () throws -> Void, _ b: () throws -> Void,
                            _ c: () throws -> Void) rethrows -> (TimingSummary, TimingSummary, TimingSummary) {
    for _ in 0..<warmup { try a(); try b(); try c() }
    var ta: [Double] = [], tb: [Double] = [], tc: [Double] = []
    for i in 0..<repeats {
        for j in 0..<3 {
            let which = (i + j) % 3
            let t0 = benchNow()
            if which == 0 { try a() } else if which == 1 { try b() } else { try c() }
            let dt = benchNow() - t0
            if which == 0 { ta.append(dt) } else if which == 1 { tb.append(dt) } else { tc.append(dt) }
        }
    }
    return (summarize(ta), summarize(tb), summarize(tc))
}

/// Deterministic weights in [-1, 1).
private func benchValues(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed &* 0x9E3779B97F4A7C15 | 1
    return (0..<count).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return Float(Double(s >> 11) / Double(1 << 53) * 2 - 1)
    }
}

/// `raw` with byte 0 of every block changed by `copy` (a scale's low bits, or a weight).
private func perturbedBlocks(_ raw: [UInt8], blockBytes: Int, copy: Int) -> [UInt8] {
    var r = raw
    let x = UInt8(truncatingIfNeeded: copy % 255 + 1)
    for i in stride(from: 0, to: r.count, by: blockBytes) { r[i] ^= x & 0x07 == 0 ? 1 : x & 0x07 }
    if blockBytes > 1 { for i in stride(from: 1, to: r.count, by: blockBytes * 8) { r[i] ^= UInt8(truncatingIfNeeded: copy >> 3) & 0x01 } }
    return r
}

/// f32 copies of a matrix in 64-byte aligned buffers.
private final class FloatCopies {
    let count: Int
    let elements: Int
    private var ptrs: [UnsafeMutablePointer<Float>] = []
    init(source: UnsafePointer<Float>, elements: Int, copies: Int) {
        self.count = copies
        self.elements = elements
        for c in 0..<copies {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: elements * 4, alignment: 64)
            let p = raw.bindMemory(to: Float.self, capacity: elements)
            p.update(from: source, count: elements)
            if c > 0 {  // distinct pages per copy (see perturbedBlocks)
                for i in stride(from: 0, to: elements, by: 256) { p[i] = p[i].nextUp }
                for i in stride(from: 0, to: elements, by: 256 * 7) where c % 2 == 0 { p[i] = p[i].nextUp }
                p[(c * 97) % elements] += Float(c) * 1e-7
            }
            ptrs.append(p)
        }
    }
    subscript(i: Int) -> UnsafeMutablePointer<Float> { ptrs[i % count] }
    deinit { for p in ptrs { p.deallocate() } }
}

private func benchShape(_ ctx: BenchContext, n: Int, k: Int, format: QuantFormat, ms: [Int], coldBytes: Int,
                        bw: ReadLimit, peakI8: Double, repeats: Int, threads: Int) throws {
    let out = ctx.output
    let wsrc = try Matrix<Float>(rows: n, cols: k, elements: benchValues(n * k, seed: UInt64(n * 31 + k)))
    let q0 = try QuantizedMatrix(quantizing: wsrc, format: format)
    let wq = try q0.dequantized()  // the baseline multiplies exactly these weights
    let packed = q0.packedBytes
    let f32Bytes = n * k * 4
    let coldOurs = coldBytes > 0 ? max(2, (coldBytes + packed - 1) / packed) : 0
    let coldBase = coldBytes > 0 ? max(2, (coldBytes + f32Bytes - 1) / f32Bytes) : 0
    // Our cold copies: plans repacked from the same storage bytes (each owns its panels).
    // Every copy differs in every page (a hypervisor merging identical pages would otherwise
    // turn "cold" copies back into one hot copy): byte 0 of each block and one float per 1 KiB.
    let (raw, _) = try QuantizedMatrix.quantize(wsrc, to: format)
    var plans: [QuantizedMatrix] = [q0]
    for c in 1..<max(coldOurs, 1) {
        plans.append(try QuantizedMatrix(format: format, rows: n, columns: k,
                                         bytes: perturbedBlocks(raw, blockBytes: format.blockBytes, copy: c)))
    }
    let base = wq.withUnsafeBufferPointer { FloatCopies(source: $0.baseAddress!, elements: n * k, copies: max(coldBase, 1)) }
    out.note("quant: \(format) \(n)x\(k): packed \(packed >> 10) KiB (\(String(format: "%.3f", Double(packed) * 8 / Double(n * k))) bits/weight), " +
             "cold copies \(coldOurs) ours / \(coldBase) f32, kernel \(q0.kernelName)")

    let mmax = ms.max() ?? 1
    let x = benchValues(mmax * k, seed: 99)
    var y = [Float](repeating: 0, count: mmax * n)
    var yb = [Float](repeating: 0, count: mmax * n)

    for cold in coldBytes > 0 ? [true, false] : [false] {
        for m in ms {
            if cold && m > 32 && ctx.quick { continue }
            var io = 0, ib = 0
            let interleaveProbe = cold && m == 1
            var probeT = TimingSummary(median: 0, min: 0, max: 0, samples: [])
            let pair: (ours: TimingSummary, baseline: TimingSummary) = try x.withUnsafeBufferPointer { xp in
                try y.withUnsafeMutableBufferPointer { yp in
                    try yb.withUnsafeMutableBufferPointer { bp in
                        let ours = {
                            let p = cold ? plans[io % plans.count] : plans[0]
                            io += 1
                            try p.multiply(rows: m, x: xp.baseAddress!, xStride: k, into: yp.baseAddress!, yStride: n, pool: .shared)
                        }
                        let baseline = {
                            let w = cold ? base[ib] : base[0]
                            ib += 1
                            if m == 1 {
                                cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), 1, w, Int32(k),
                                            xp.baseAddress!, 1, 0, bp.baseAddress!, 1)
                            } else {
                                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1,
                                            xp.baseAddress!, Int32(k), w, Int32(k), 0, bp.baseAddress!, Int32(n))
                            }
                        }
                        let reps = m >= 64 ? max(3, repeats / 2) : repeats
                        if interleaveProbe {
                            let (a, b, c) = try measureTriples(repeats: reps, warmup: 1, ours, baseline, { try bw.pass() })
                            probeT = c
                            return (a, b)
                        }
                        return try measurePairs(repeats: reps, warmup: 1, ours: ours, baseline: baseline)
                    }
                }
            }
            if interleaveProbe { bw.update(bw.passBytes / probeT.median) }
            try x.withUnsafeBufferPointer { xp in
                try y.withUnsafeMutableBufferPointer { yp in  // the quality check uses copy 0
                    try plans[0].multiply(rows: 1, x: xp.baseAddress!, xStride: k, into: yp.baseAddress!, yStride: n)
                }
            }
            let readBW = bw.best
            let ridge = peakI8 * Double(packed) / (2.0 * Double(n) * Double(k) * readBW)
            // quality: row 0 against float64 on the dequantized weights (kernel error) and on the
            // original f32 weights (format + activation error), relative to max |y|
            var kerr = 0.0, qerr = 0.0, ymax = 0.0
            for r in 0..<n {
                var s = 0.0, s0 = 0.0
                for j in 0..<k {
                    s += Double(wq[r, j]) * Double(x[j])
                    s0 += Double(wsrc[r, j]) * Double(x[j])
                }
                kerr = max(kerr, abs(Double(y[r]) - s))
                qerr = max(qerr, abs(Double(y[r]) - s0))
                ymax = max(ymax, abs(s0))
            }
            let t = pair.ours.median
            let ops = 2.0 * Double(m) * Double(n) * Double(k)
            let floor = max(Double(packed) / readBW, ops / peakI8)
            var rec = BenchRecord(
                name: "qgemm \(format) \(n)x\(k) m=\(m) \(cold ? "cold" : "hot")", unit: "s", ours: t,
                baselineName: m == 1 ? "openblas sgemv f32" : "openblas sgemm f32", baseline: pair.baseline.median,
                threads: threads,
                extra: ["gflops": ops / t / 1e9, "gbs": Double(packed) / t / 1e9, "error": kerr / max(ymax, 1e-30),
                        "error_vs_f32_weights": qerr / max(ymax, 1e-30), "ours_min": pair.ours.min, "ours_max": pair.ours.max,
                        "baseline_min": pair.baseline.min, "baseline_max": pair.baseline.max,
                        "roofline_floor_s": floor, "floor_fraction": floor / t, "ridge_m": ridge,
                        "bits_per_weight": Double(packed) * 8 / Double(n * k)])
            if m == 1 && cold {  // the read-only sum measured interleaved with this case
                let sameTime = bw.passBytes / probeT.median
                rec.limitName = "read_bw_gbs"
                rec.limit = sameTime / 1e9
                rec.fraction = Double(packed) / t / sameTime
                rec.extra["read_bw_best_gbs"] = readBW / 1e9
            } else if cold {
                rec.limitName = "roofline_floor_s"
                rec.limit = floor
                rec.fraction = floor / t
            } else {  // hot: the weights come from cache, so only the compute floor applies
                rec.limitName = "int8_peak_floor_s"
                rec.limit = ops / peakI8
                rec.fraction = ops / peakI8 / t
            }
            rec.notes["kernel"] = plans[0].kernelName
            out.emit(rec)
        }
    }
}

/// One decode step of SmolLM2-135M: the 210 projection matrices (30 layers × q, k, v, o, gate,
/// up, down) at M = 1 one after the other, rotating through enough copies of the whole set to
/// be cold; the baseline runs OpenBLAS SGEMV over the same matrices in f32.
private func benchDecodeStep(_ ctx: BenchContext, format: QuantFormat, coldBytes: Int, bw: ReadLimit,
                             repeats: Int, threads: Int) throws {
    let out = ctx.output
    let layerShapes = [(576, 576), (192, 576), (192, 576), (576, 576), (1536, 576), (1536, 576), (576, 1536)]
    let layers = ctx.quick ? 10 : 30
    // distinct weights per shape kind; copies share values (cache behaviour is what matters)
    var mats: [(q: QuantizedMatrix, f: [Float], raw: [UInt8], n: Int, k: Int)] = []
    for (i, (n, k)) in layerShapes.enumerated() {
        let w = try Matrix<Float>(rows: n, cols: k, elements: benchValues(n * k, seed: UInt64(7 + i)))
        let (raw, _) = try QuantizedMatrix.quantize(w, to: format)
        let q = try QuantizedMatrix(format: format, rows: n, columns: k, bytes: raw)
        mats.append((q, try q.dequantized().toArray(), raw, n, k))
    }
    let setPacked = layers * mats.reduce(0) { $0 + $1.q.packedBytes }
    let setF32 = layers * mats.reduce(0) { $0 + $1.n * $1.k * 4 }
    let copiesOurs = max(1, (coldBytes + setPacked - 1) / setPacked)
    let copiesBase = max(1, (coldBytes + setF32 - 1) / setF32)
    // our matrices: copiesOurs × layers × 7 plans, made from raw storage bytes of each kind
    var plans: [[QuantizedMatrix]] = []
    for _ in 0..<copiesOurs {
        var step: [QuantizedMatrix] = []
        for _ in 0..<layers {
            for m in mats {
                step.append(try QuantizedMatrix(format: format, rows: m.n, columns: m.k,
                                                bytes: perturbedBlocks(m.raw, blockBytes: format.blockBytes,
                                                                       copy: plans.count * 1000 + step.count + 1)))
            }
        }
        plans.append(step)
    }
    var floats: [[UnsafeMutablePointer<Float>]] = []
    for _ in 0..<copiesBase {
        var step: [UnsafeMutablePointer<Float>] = []
        for _ in 0..<layers {
            for m in mats {
                let p = UnsafeMutableRawPointer.allocate(byteCount: m.n * m.k * 4, alignment: 64).bindMemory(to: Float.self, capacity: m.n * m.k)
                m.f.withUnsafeBufferPointer { p.update(from: $0.baseAddress!, count: m.n * m.k) }
                let c = floats.count * 1000 + step.count + 1
                for i in stride(from: c % 256, to: m.n * m.k, by: 256) { p[i] = p[i].nextUp }
                step.append(p)
            }
        }
        floats.append(step)
    }
    defer { for s in floats { for p in s { p.deallocate() } } }
    let x = benchValues(1536, seed: 5)
    var y = [Float](repeating: 0, count: 1536)
    var io = 0, ib = 0
    let (tOurs, tBase, tProbe) = try x.withUnsafeBufferPointer { xp in
        try y.withUnsafeMutableBufferPointer { yp in
            try measureTriples(repeats: repeats, warmup: 1, {
                let step = plans[io % plans.count]
                io += 1
                for q in step {
                    try q.multiply(rows: 1, x: xp.baseAddress!, xStride: q.columns, into: yp.baseAddress!, yStride: q.rows)
                }
            }, {
                let step = floats[ib % floats.count]
                ib += 1
                for (j, w) in step.enumerated() {
                    let m = mats[j % mats.count]
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m.n), Int32(m.k), 1, w, Int32(m.k),
                                xp.baseAddress!, 1, 0, yp.baseAddress!, 1)
                }
            }, { try bw.pass() })
        }
    }
    bw.update(bw.passBytes / tProbe.median)
    let readBW = bw.passBytes / tProbe.median  // measured interleaved with this case
    let pair = (ours: tOurs, baseline: tBase)
    let cold = coldBytes > 0 && copiesOurs * setPacked >= coldBytes
    let t = pair.ours.median
    out.emit(BenchRecord(
        name: "decode step smollm2-135m \(layers * 7) matrices \(format) m=1 \(cold ? "cold" : coldBytes == 0 ? "warm (one set reused)" : "hot")", unit: "s", ours: t,
        baselineName: "openblas sgemv f32", baseline: pair.baseline.median,
        limitName: "read_bw_gbs", limit: readBW / 1e9, fraction: Double(setPacked) / t / readBW, threads: threads,
        extra: ["gbs": Double(setPacked) / t / 1e9, "us_per_matrix": t / Double(layers * 7) * 1e6,
                "set_mib": Double(setPacked) / 1048576, "copies": Double(copiesOurs),
                "ours_min": pair.ours.min, "ours_max": pair.ours.max,
                "baseline_min": pair.baseline.min, "baseline_max": pair.baseline.max,
                "read_bw_best_gbs": bw.best / 1e9],
        notes: ["kernel": plans[0][0].kernelName]))
}
