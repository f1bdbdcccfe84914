import COpenBLAS
import Foundation
import Tessera
import TesseraDiffusion

/// `tessera bench diffusion`: patch-parallel sampling speed and quality (U-Net with random weights),
/// the convolution rate against SGEMM, and Gaussian-field spectrum quality of every patch mode.
func runDiffusionBench(_ ctx: BenchContext) throws {
    // TESSERA_BENCH_DIFFUSION_CASE=torch runs only the forward-vs-PyTorch rows, =patch only the U-Net sampling rows
    let only = ProcessInfo.processInfo.environment["TESSERA_BENCH_DIFFUSION_CASE"] ?? ""
    if only == "torch" { return try runDiffusionTorchBench(ctx) }
    let out = ctx.output
    let quick = ctx.quick
    let one = try ThreadPool(threads: 1)
    let two = try ThreadPool(threads: 2)

    // 1. conv 3×3 (im2col + SGEMM) rate vs SGEMM of the same shape, one core
    if only != "patch" {
        openblas_set_num_threads(1)
        let cin = 64, cout = 64, side = quick ? 64 : 256
        let flops = 2.0 * Double(cout * cin * 9 * side * side)
        let a = [Float](repeating: 0.01, count: cout * cin * 9)
        let b = [Float](repeating: 0.02, count: cin * 9 * side * side)
        var c = [Float](repeating: 0, count: cout * side * side)
        let convRun = try DiffusionKernelProbe(cin: cin, cout: cout, height: side, width: side)
        let t = measurePairs(repeats: quick ? 3 : 7, warmup: 1, ours: { convRun.run(pool: one) }, baseline: {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(cout), Int32(side * side), Int32(cin * 9), 1,
                        a, Int32(cin * 9), b, Int32(side * side), 0, &c, Int32(side * side))
        })
        let ours = flops / t.ours.median / 1e9, sg = flops / t.baseline.median / 1e9
        out.emit(BenchRecord(name: "conv3x3 \(cin)->\(cout) \(side)x\(side) 1 core hot", unit: "s", ours: t.ours.median,
                             baselineName: "openblas_sgemm_same_flops", baseline: t.baseline.median,
                             limitName: "sgemm_gflops_1core", limit: sg, fraction: ours / sg, threads: 1,
                             extra: ["gflops": ours, "sgemm_gflops": sg, "min": t.ours.min, "max": t.ours.max]))
    }

    // 2. U-Net sampling: patch modes on 2 workers (one core each) vs the unsplit model on one core.
    // Every sampling run is timed per denoiser call (`CallTimer`): the speed-up is that of the calls
    // after warm-up (the steady state of a long run), so a 3-step run (1 warm-up + 2 stale calls) per
    // mode measures it and keeps the full bench within a few minutes on 2 cores. PSNR is of the 3-step sample.
    do {
        let side = quick ? 64 : 256
        let cfg: UNetConfig = quick ? .small(channels: [32, 64], attentionLevels: [1], layersPerBlock: 1, groups: 8, headDim: 32)
                                    : .benchmarkMedium
        let m = try UNetModel(config: cfg, seed: 1)
        let steps = 3, warm = 1
        let sched = try NoiseSchedule(.linear)
        let sampler = DiffusionSampler(schedule: sched)
        let opts = SamplerOptions(kind: .ddim(eta: 0), steps: steps, seed: 3)
        out.note("diffusion: U-Net \(m.parameterCount / 1000)k parameters at \(side)x\(side), \(steps) DDIM steps, warm-up \(warm); per-call times after warm-up")
        let sgemm1 = sgemmRate(threads: 1)
        // alternated rounds: each round samples unsplit on one core (the baseline) and every patch
        // mode on 2 workers × 1 core, the baseline first in even rounds and last in odd ones; the
        // speed-up of a mode is the median over rounds of (baseline call / mode call) of that round
        let rounds = max(1, Int(ProcessInfo.processInfo.environment["TESSERA_BENCH_DIFFUSION_ROUNDS"] ?? "") ?? (quick ? 1 : 3))
        let modes: [(String, PatchMode)] = [("sync", .synchronous), ("distrifusion", .distriFusion(warmupSteps: warm)),
                                            ("pcpp", .pcpp(portion: 0.3, warmupSteps: warm)), ("asg", .asg(warmupSteps: warm))]
        let prof = UNetProfile()
        var reference: Latent? = nil
        var baseCalls: [Double] = [], modeCalls = [[Double]](repeating: [], count: modes.count)
        var samples = [Latent?](repeating: nil, count: modes.count), bytesPerStep = [Double](repeating: 0, count: modes.count)
        let load0 = benchLoadAverage()
        // the baseline's op-kind profile: one untimed run of its own (the profiler's clock reads
        // would slow a timed round and flatter the speed-ups)
        openblas_set_num_threads(1); m.pool = one
        m.profile = prof
        let profTimer = CallTimer(m)
        reference = try sampler.sample(profTimer, height: side, width: side, options: opts)
        m.profile = nil
        func runBaseline() throws {
            openblas_set_num_threads(1); m.pool = one
            let timer = CallTimer(m)
            _ = try sampler.sample(timer, height: side, width: side, options: opts)
            baseCalls.append(timer.median(from: 0))
        }
        func runModes() throws {
            for (j, (name, mode)) in modes.enumerated() {
                let pp = try PatchParallelDenoiser(base: m, patches: 2, mode: mode, pool: two)
                pp.unetSchedule = sched
                openblas_set_num_threads(1)
                let timer = CallTimer(pp)
                let x = try sampler.sample(timer, height: side, width: side, options: opts)
                if samples[j] == nil { samples[j] = x; bytesPerStep[j] = pp.bytesPerStepAfterWarmup }
                modeCalls[j].append(timer.median(from: name == "sync" ? 0 : warm))
            }
        }
        for r in 0..<rounds {
            if r % 2 == 0 { try runBaseline(); try runModes() } else { try runModes(); try runBaseline() }
        }
        let load1 = benchLoadAverage()
        let base = summarize(baseCalls), baseCall = base.median, profCall = profTimer.median(from: 0)
        for k in UNetProfile.Kind.allCases where prof.seconds(k) > 0 {
            let gf = prof.flops(k) / prof.seconds(k) / 1e9
            let hasRate = k == .conv3x3 || k == .conv1x1 || k == .attention
            out.emit(BenchRecord(name: "unet \(side)x\(side) unsplit 1 core: \(k.rawValue) per call", unit: "s",
                                 ours: prof.seconds(k) / Double(prof.calls), baselineName: "whole_call", baseline: profCall,
                                 speedup: nil,
                                 limitName: hasRate ? "sgemm_gflops_1core" : nil, limit: hasRate ? sgemm1 : nil,
                                 fraction: hasRate ? gf / sgemm1 : nil, threads: 1,
                                 extra: ["share_of_call": prof.seconds(k) / Double(prof.calls) / profCall, "gflops": gf]))
        }
        let syncBytes = bytesPerStep[0], dfBytes = bytesPerStep[1]
        for (j, (name, _)) in modes.enumerated() {
            guard let sample = samples[j], let reference else { continue }
            let t = summarize(modeCalls[j]), ratio = summarize(zip(baseCalls, modeCalls[j]).map { $0 / $1 })
            let bytes = bytesPerStep[j]
            let psnr = try DiffusionMetrics.psnr(sample, reference)
            let maxe = try DiffusionMetrics.maxAbsError(sample, reference)
            var extra: [String: Double] = ["bytes_per_step": bytes, "psnr_vs_sync_db": psnr.isFinite ? psnr : 999,
                                           "max_error_vs_sync": maxe, "params": Double(m.parameterCount),
                                           "min": t.min, "max": t.max, "baseline_min": base.min, "baseline_max": base.max,
                                           "ratio_median": ratio.median, "ratio_min": ratio.min, "ratio_max": ratio.max,
                                           "rounds": Double(rounds), "loadavg": load0, "loadavg_end": load1,
                                           "target_speedup": 1.6, "parallel_efficiency": ratio.median / 2]
            if name == "pcpp" && dfBytes > 0 { extra["bytes_vs_distrifusion"] = bytes / dfBytes }
            if name != "sync" && syncBytes > 0 { extra["bytes_vs_sync"] = bytes / syncBytes }
            out.emit(BenchRecord(name: "unet \(side)x\(side) \(name) P=2 (1 core/worker) per call", unit: "s",
                                 ours: t.median, baselineName: "unsplit_1worker_1core", baseline: baseCall,
                                 speedup: ratio.median, limitName: "2x_ideal", limit: 2, fraction: ratio.median / 2,
                                 threads: 2, extra: extra))
        }
        // the one-machine comparison: unsplit on both cores (pool + multithreaded BLAS) vs one core
        openblas_set_num_threads(2); m.pool = two
        let t2 = CallTimer(m)
        _ = try sampler.sample(t2, height: side, width: side, options: opts)
        out.emit(BenchRecord(name: "unet \(side)x\(side) unsplit 2 cores (pool + BLAS threads) per call", unit: "s",
                             ours: t2.median(from: 0), baselineName: "unsplit_1worker_1core", baseline: baseCall,
                             threads: 2, extra: ["min": t2.times.min() ?? 0, "max": t2.times.max() ?? 0]))
        m.pool = .shared
        openblas_set_num_threads(Int32(ctx.threads))
    }

    // 3. Gaussian-field prior: spectrum error of each mode vs the unsplit sampler (distribution level)
    if only != "patch" {
        let side = quick ? 32 : 64, n = quick ? 8 : 24, P = 4
        let sched = try NoiseSchedule(.linear)
        let prior = try GaussianFieldPrior(channels: 1, height: side, width: side)
        let g = try GaussianFieldDenoiser(prior: prior, schedule: sched)
        let sampler = DiffusionSampler(schedule: sched)
        let opts = SamplerOptions(kind: .ddim(eta: 0), steps: 20, seed: 100)
        var t0 = benchNow()
        let ref = try sampler.samples(g, count: n, height: side, width: side, options: opts)
        let tRef = benchNow() - t0
        let e0 = try SpectrumComparison(samples: ref, prior: prior)
        for (name, mode) in [("sync", PatchMode.synchronous), ("distrifusion", .distriFusion(warmupSteps: 4)),
                             ("pcpp", .pcpp(portion: 0.3, warmupSteps: 4)), ("asg", .asg(warmupSteps: 4))] {
            let pp = try PatchParallelDenoiser(base: g, patches: P, mode: mode, pool: two)
            t0 = benchNow()
            let s = try sampler.samples(pp, count: n, height: side, width: side, options: opts)
            let t = benchNow() - t0
            let e = try SpectrumComparison(samples: s, prior: prior)
            var psnr = 0.0
            for k in 0..<n { let p = try DiffusionMetrics.psnr(s[k], ref[k]); psnr += (p.isFinite ? p : 999) / Double(n) }
            out.emit(BenchRecord(name: "gaussian-field \(side)x\(side) \(name) P=\(P) spectrum (\(n) samples)", unit: "rms_log_spectrum_error",
                                 ours: e.rmsLogError, baselineName: "unsplit_sampler", baseline: e0.rmsLogError,
                                 speedup: e0.rmsLogError / max(e.rmsLogError, 1e-12),
                                 limitName: "2x_unsplit_error", limit: 2 * e0.rmsLogError,
                                 fraction: e.rmsLogError / (2 * e0.rmsLogError), threads: 2,
                                 extra: ["sampling_error": e.expectedSamplingError, "psnr_vs_sync_db": psnr,
                                         "bytes_per_step": pp.bytesPerStepAfterWarmup, "time_s": t, "unsplit_time_s": tRef]))
        }
    }

    // 4. one forward vs diffusers on PyTorch CPU, 2 threads (DiffusionTorchBench.swift)
    if only != "patch" { try runDiffusionTorchBench(ctx) }
}

/// Single-core SGEMM rate (GFLOP/s) at a conv-like shape, measured now (the "SGEMM rate in the same run").
private func sgemmRate(threads: Int32) -> Double {
    openblas_set_num_threads(threads)
    let m = 256, n = 4096, k = 1152
    let a = [Float](repeating: 0.01, count: m * k), b = [Float](repeating: 0.02, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    var best = Double.infinity
    for _ in 0..<4 {
        let t0 = benchNow()
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(n), 0, &c, Int32(n))
        best = min(best, benchNow() - t0)
    }
    return 2.0 * Double(m * n * k) / best / 1e9
}

/// Wraps a denoiser and records the wall time of each `predict` call of a sampling run.
private final class CallTimer: Denoiser {
    let base: Denoiser
    private(set) var times: [Double] = []
    init(_ base: Denoiser) { self.base = base }
    var predictionType: PredictionType { base.predictionType }
    var channels: Int { base.channels }
    func validate(height: Int, width: Int) throws(TesseraError) { try base.validate(height: height, width: width) }
    func beginSampling() { times = []; base.beginSampling() }
    func predict(_ x: Latent, timestep: Int, classLabel: Int?) throws(TesseraError) -> Latent {
        let t0 = benchNow()
        let o = try base.predict(x, timestep: timestep, classLabel: classLabel)
        times.append(benchNow() - t0)
        return o
    }
    /// Median of the call times from call `first` on.
    func median(from first: Int) -> Double {
        let t = Array(times.dropFirst(min(first, max(0, times.count - 1)))).sorted()
        return t.isEmpty ? 0 : (t.count % 2 == 1 ? t[t.count / 2] : 0.5 * (t[t.count / 2 - 1] + t[t.count / 2]))
    }
}
