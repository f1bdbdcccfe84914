import COpenBLAS
import Foundation
import Tessera

/// `tessera bench limits`: the machine limits every other benchmark is compared to, and the
/// pool's own numbers against OpenMP (libgomp) on the same thread count and binding.
///
/// For rows whose unit is a time, speedup = baseline time / our time. For rows whose unit is
/// a rate (GFLOP/s, GB/s), speedup = our rate / baseline rate. Both mean "> 1: Tessera faster".
func runLimitsBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let pool = ThreadPool.shared
    let threads = pool.threadCount
    let one = try ThreadPool(threads: 1, binding: pool.binding)
    let topo = Topology.current
    let repeats = ctx.quick ? 5 : 11

    let ompDesc: String
    do {
        ompDesc = try MachineProbe.openMPInit(binding: pool.binding)
    } catch {
        ompDesc = "unavailable (\(error))"
    }
    out.note("OpenMP baseline: \(ompDesc)")

    // Working set >= 4x the last-level cache (three arrays), at least 768 MiB in all.
    let llc = max(topo.l3Bytes, 8 << 20)
    let elements = max(4 * llc / 24, (768 << 20) / 24)
    out.note("STREAM arrays: 3 x \(elements) doubles = \((3 * elements * 8) >> 20) MiB (L3 \(llc >> 20) MiB): cold")
    let probe = try MachineProbe(count: elements, pool: pool)

    // --- STREAM on the whole pool vs OpenMP, same loop, same threads, same binding
    let hasOMP = !ompDesc.hasPrefix("unavailable")
    for kernel in MachineProbe.StreamKernel.allCases {
        let bytes = probe.bytes(kernel)
        if hasOMP {
            let (ours, omp) = try measurePairs(repeats: repeats, warmup: 1,
                ours: { try probe.stream(kernel, pool: pool) },
                baseline: { try probe.streamOpenMP(kernel, threads: threads) })
            out.emit(BenchRecord(
                name: "stream \(kernel.name) \(threads)t cold", unit: "s", ours: ours.median,
                baselineName: "openmp parallel for (libgomp)", baseline: omp.median,
                limitName: "openmp_\(kernel.name)_gbs", limit: bytes / omp.median / 1e9,
                fraction: omp.median / ours.median, threads: threads,
                extra: ["gbs": bytes / ours.median / 1e9, "gbs_openmp": bytes / omp.median / 1e9,
                        "ours_min": ours.min, "ours_max": ours.max, "baseline_min": omp.min, "baseline_max": omp.max]))
        } else {
            let ours = try measure(repeats: repeats, warmup: 1) { try probe.stream(kernel, pool: pool) }
            out.emit(BenchRecord(name: "stream \(kernel.name) \(threads)t cold", unit: "s", ours: ours.median,
                                 baselineName: "none (OpenMP unavailable)", baseline: .nan, threads: threads,
                                 extra: ["gbs": bytes / ours.median / 1e9]))
        }
    }
    // --- STREAM on one thread (the single-core limit), pool vs OpenMP with one thread
    for kernel in MachineProbe.StreamKernel.allCases where hasOMP {
        let bytes = probe.bytes(kernel)
        let (ours, omp) = try measurePairs(repeats: max(3, repeats / 2), warmup: 1,
            ours: { try probe.stream(kernel, pool: one) },
            baseline: { try probe.streamOpenMP(kernel, threads: 1) })
        out.emit(BenchRecord(
            name: "stream \(kernel.name) 1t cold", unit: "s", ours: ours.median,
            baselineName: "openmp parallel for (libgomp)", baseline: omp.median,
            limitName: "openmp_\(kernel.name)_gbs", limit: bytes / omp.median / 1e9,
            fraction: omp.median / ours.median, threads: 1,
            extra: ["gbs": bytes / ours.median / 1e9, "gbs_openmp": bytes / omp.median / 1e9]))
    }

    // --- fork-join latency of an empty region: pool vs OpenMP
    let batch = ctx.quick ? 2000 : 5000
    var poolNs: [Double] = [], ompNs: [Double] = []
    for round in 0..<(ctx.quick ? 6 : 10) {
        // alternate the order of the two runtimes (A B, B A, ...)
        if round % 2 == 0 || !hasOMP {
            poolNs += try MachineProbe.forkJoin(pool: pool, regions: batch)
            if hasOMP { ompNs += try MachineProbe.forkJoinOpenMP(threads: threads, regions: batch) }
        } else {
            ompNs += try MachineProbe.forkJoinOpenMP(threads: threads, regions: batch)
            poolNs += try MachineProbe.forkJoin(pool: pool, regions: batch)
        }
    }
    let p = summarize(poolNs), o = summarize(ompNs)
    let p99 = { (xs: [Double]) -> Double in xs.isEmpty ? .nan : xs.sorted()[Int(Double(xs.count - 1) * 0.99)] }
    out.emit(BenchRecord(
        name: "fork-join empty region \(threads)t", unit: "ns", ours: p.median,
        baselineName: "openmp parallel (libgomp)", baseline: hasOMP ? o.median : .nan,
        threads: threads, extra: ["ours_p99": p99(poolNs), "baseline_p99": p99(ompNs), "regions": Double(poolNs.count)]))

    // --- OpenBLAS SGEMM at 2048^3 (all threads: called from outside the pool's workers)
    let n = ctx.quick ? 1024 : 2048
    let a = (0..<(n * n)).map { Float(sin(Double($0) * 0.37)) }, b = (0..<(n * n)).map { Float(cos(Double($0) * 0.11)) }
    var c = [Float](repeating: 0, count: n * n)
    let gemm = measure(repeats: ctx.quick ? 3 : 5, warmup: 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
    }
    let gemmRate = 2 * pow(Double(n), 3) / gemm.median / 1e9
    // quality beside speed: max |error| of sampled entries against a float64 dot product
    var gemmError = 0.0
    for i in stride(from: 0, to: n, by: 97) {
        for j in stride(from: 0, to: n, by: 89) {
            var s = 0.0
            for k in 0..<n { s += Double(a[i * n + k]) * Double(b[k * n + j]) }
            gemmError = max(gemmError, abs(s - Double(c[i * n + j])))
        }
    }

    // --- register-only peaks (f32 FMA, int8 dot) on all cores and one
    // A peak is the best the units can do: best of several runs (a shared machine only lowers it).
    let iters = ctx.quick ? 5_000_000 : 20_000_000
    func best(_ f: () throws -> Double) rethrows -> Double { try (0..<5).map { _ in try f() }.max()! / 1e9 }
    let peakF32 = try best { try MachineProbe.peakF32(pool: pool, iterations: iters) }
    let peakF32One = try best { try MachineProbe.peakF32(pool: one, iterations: iters) }
    let peakI8 = try best { try MachineProbe.peakInt8(pool: pool, iterations: iters) }
    let peakI8One = try best { try MachineProbe.peakInt8(pool: one, iterations: iters) }
    out.emit(BenchRecord(name: "openblas sgemm \(n)^3 \(threads)t", unit: "GFLOP/s", ours: gemmRate,
                         baselineName: "f32 fma register peak \(ISA.active)", baseline: peakF32,
                         speedup: gemmRate / peakF32, limitName: "peak_f32_gflops", limit: peakF32,
                         fraction: gemmRate / peakF32, threads: threads, extra: ["seconds": gemm.median, "error": gemmError],
                         notes: ["openblas_core": String(cString: openblas_get_corename())]))
    out.emit(BenchRecord(name: "peak f32 fma \(ISA.active)", unit: "GFLOP/s", ours: peakF32,
                         baselineName: "one thread", baseline: peakF32One, speedup: peakF32 / peakF32One,
                         threads: threads))
    out.emit(BenchRecord(name: "peak int8 dot \(CPUFeatures.current.avx512vnni && ISA.active == .avx512 ? "vnni" : ISA.active.description)",
                         unit: "GOP/s", ours: peakI8, baselineName: "one thread", baseline: peakI8One,
                         speedup: peakI8 / peakI8One, threads: threads))
}
