import COpenBLAS
import Foundation
import Tessera
import TesseraDiffusion

/// `tessera bench diffusion`, PyTorch rows: one UNet2DModel forward (the benchmark U-Net, random
/// weights) on 2 threads against diffusers' UNet2DModel on PyTorch CPU with the same weights and
/// input (bench/diffusion/unet_peer.py from the pinned venv of bench/diffusion/setup-venv, kept
/// warm in a second process), alternated round by round; medians with min–max, the median of the
/// per-round ratios, the load average, and the relative error of Tessera's output vs diffusers'.
func runDiffusionTorchBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    guard let root = benchRepositoryRoot(marker: "bench/diffusion/unet_peer.py"),
          let python = benchPeerPython(setup: root + "/bench/diffusion/setup-venv", note: out.note) else {
        out.note("diffusion: the PyTorch peer is unavailable (bench/diffusion/setup-venv failed); skipped the torch rows")
        return
    }
    let threads = 2
    let pool = try ThreadPool(threads: threads)
    // the pool's 2 workers split the convolutions' row chunks and call SGEMM inside them: BLAS threads
    // on top oversubscribe the cores (TESSERA_BENCH_BLAS_THREADS overrides the default 1)
    let blas = Int(ProcessInfo.processInfo.environment["TESSERA_BENCH_BLAS_THREADS"] ?? "") ?? 1
    openblas_set_num_threads(Int32(max(1, blas)))
    let m = try UNetModel(config: .benchmarkMedium, seed: 1)
    m.pool = pool
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tsr-bench-unet-\(getpid())").path
    try m.save(directory: dir)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let timestep = 500
    for side in ctx.quick ? [32] : [32, 128] {
        let x = try Latent.gaussian(channels: m.config.inChannels, height: side, width: side, seed: 7)
        let input = dir + "/x\(side).f32"
        try x.data.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: input))
        let load0 = benchLoadAverage()
        guard let peer = PeerLineProcess(executable: python, args: [root + "/bench/diffusion/unet_peer.py", dir, input,
                                                                    "\(x.channels)", "\(side)", "\(side)", "\(timestep)", "\(threads)"],
                                         note: out.note) else { continue }
        defer { peer.close() }
        let ours0 = try m.predict(x, timestep: timestep, classLabel: nil)
        var err = Double.nan
        if let d = FileManager.default.contents(atPath: input + ".out"), d.count == ours0.count * 4 {
            let ref = d.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            var num = 0.0, den = 0.0
            for (a, b) in zip(ours0.data, ref) { num += Double(a - b) * Double(a - b); den += Double(b) * Double(b) }
            err = (num / den).squareRoot()
        }
        let reps = side >= 128 ? 2 : 10, rounds = ctx.quick ? 3 : 9
        let res = try alternateRounds(with: peer, rounds: rounds, perRound: reps) {
            var ts: [Double] = []
            for _ in 0..<reps { let t = benchNow(); _ = try m.predict(x, timestep: timestep, classLabel: nil); ts.append(benchNow() - t) }
            return summarize(ts).median
        }
        guard let (so, st, sr) = res else { out.note("diffusion: the PyTorch peer stopped answering at \(side)"); continue }
        var rec = BenchRecord(name: "unet forward \(side)x\(side) \(m.parameterCount / 1000)k params \(threads) threads vs pytorch",
                              unit: "s", ours: so.median, baselineName: "diffusers UNet2DModel on torch CPU, \(threads) threads",
                              baseline: st.median, speedup: st.median / so.median, threads: threads,
                              extra: ["target_speedup": 1.5, "min": so.min, "max": so.max, "baseline_min": st.min,
                                      "baseline_max": st.max, "ratio_median": sr.median, "ratio_min": sr.min,
                                      "ratio_max": sr.max, "rounds": Double(sr.samples.count), "calls_per_round": Double(reps),
                                      "rel_error_vs_diffusers": err, "blas_threads": Double(max(1, blas)), "loadavg": load0, "loadavg_end": benchLoadAverage()])
        rec.notes["peer"] = "torch \(peer.hello["torch"] ?? "?"), diffusers \(peer.hello["diffusers"] ?? "?")"
        out.emit(rec)
        if ProcessInfo.processInfo.environment["TESSERA_BENCH_DIFFUSION_PROFILE"] != nil {
            try profileForward(m, x, timestep: timestep, calls: reps, side: side, out: out)
        }
    }
    openblas_set_num_threads(Int32(ctx.threads))
}

/// Where one forward's time goes (TESSERA_BENCH_DIFFUSION_PROFILE=1): per-op-kind seconds per call
/// and GFLOP/s over `calls` profiled forwards, as notes.
private func profileForward(_ m: UNetModel, _ x: Latent, timestep: Int, calls: Int, side: Int, out: BenchOutput) throws {
    let prof = UNetProfile()
    m.profile = prof
    defer { m.profile = nil }
    let t0 = benchNow()
    for _ in 0..<calls { _ = try m.predict(x, timestep: timestep, classLabel: nil) }
    let wall = (benchNow() - t0) / Double(calls)
    var line = "diffusion profile \(side)x\(side): \(String(format: "%.2f", wall * 1e3)) ms/call;"
    for k in UNetProfile.Kind.allCases where prof.seconds(k) > 0 {
        let s = prof.seconds(k) / Double(prof.calls)
        line += String(format: " %@ %.2f ms (%.0f%%, %.1f GFLOP/s)", k.rawValue, s * 1e3, 100 * s / wall,
                       prof.flops(k) / prof.seconds(k) / 1e9)
    }
    out.note(line)
}
