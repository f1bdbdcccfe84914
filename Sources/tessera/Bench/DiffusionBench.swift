import COpenBLAS
import Foundation
import Tessera
import TesseraDiffusion

/// `tessera bench diffusion`: patch-parallel sampling speed and quality (U-Net with random weights),
/// the convolution rate against SGEMM, and Gaussian-field spectrum quality of every patch mode.
func runDiffusionBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let quick = ctx.quick
    let one = try ThreadPool(threads: 1)
    let two = try ThreadPool(threads: 2)

    // 1. conv 3×3 (im2col + SGEMM) rate vs SGEMM of the same shape, one core
    do {
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

    // 2. U-Net sampling: patch modes on 2 workers (one core each) vs the unsplit model on one core
    do {
        let side = quick ? 64 : 256
        let cfg: UNetConfig = quick ? .small(channels: [32, 64], attentionLevels: [1], layersPerBlock: 1, groups: 8, headDim: 32)
                                    : .benchmarkMedium
        let m = try UNetModel(config: cfg, seed: 1)
        let steps = quick ? 3 : 4, warm = 1
        let sched = try NoiseSchedule(.linear)
        let sampler = DiffusionSampler(schedule: sched)
        let opts = SamplerOptions(kind: .ddim(eta: 0), steps: steps, seed: 3)
        out.note("diffusion: U-Net \(m.parameterCount / 1000)k parameters at \(side)x\(side), \(steps) DDIM steps, warm-up \(warm)")
        func unsplit(_ pool: ThreadPool, blas: Int32) throws -> Latent {
            openblas_set_num_threads(blas); m.pool = pool
            return try sampler.sample(m, height: side, width: side, options: opts)
        }
        let reps = quick ? 1 : 2
        var reference: Latent? = nil
        var syncBytes = 0.0, dfBytes = 0.0
        for (name, mode) in [("sync", PatchMode.synchronous), ("distrifusion", .distriFusion(warmupSteps: warm)),
                             ("pcpp", .pcpp(portion: 0.3, warmupSteps: warm)), ("asg", .asg(warmupSteps: warm))] {
            let pp = try PatchParallelDenoiser(base: m, patches: 2, mode: mode, pool: two)
            pp.unetSchedule = sched
            var sample: Latent? = nil
            let t = try measurePairs(repeats: reps, warmup: 0, ours: {
                openblas_set_num_threads(1)
                sample = try sampler.sample(pp, height: side, width: side, options: opts)
            }, baseline: { reference = try unsplit(one, blas: 1) })
            let bytes = pp.bytesPerStepAfterWarmup
            if name == "sync" { syncBytes = bytes }
            if name == "distrifusion" { dfBytes = bytes }
            let psnr = try DiffusionMetrics.psnr(sample!, reference!)
            let maxe = try DiffusionMetrics.maxAbsError(sample!, reference!)
            var extra: [String: Double] = ["bytes_per_step": bytes, "psnr_vs_sync_db": psnr.isFinite ? psnr : 999,
                                           "max_error_vs_sync": maxe, "params": Double(m.parameterCount),
                                           "min": t.ours.min, "max": t.ours.max]
            if name == "pcpp" && dfBytes > 0 { extra["bytes_vs_distrifusion"] = bytes / dfBytes }
            if name != "sync" && syncBytes > 0 { extra["bytes_vs_sync"] = bytes / syncBytes }
            out.emit(BenchRecord(name: "unet \(side)x\(side) \(name) P=2 (1 core/worker) \(steps) steps", unit: "s",
                                 ours: t.ours.median, baselineName: "unsplit_1worker_1core", baseline: t.baseline.median,
                                 threads: 2, extra: extra))
        }
        // the one-machine comparison: unsplit on both cores (pool + multithreaded BLAS) vs one core
        let t2 = try measurePairs(repeats: reps, warmup: 0, ours: { _ = try unsplit(two, blas: 2) },
                                  baseline: { _ = try unsplit(one, blas: 1) })
        out.emit(BenchRecord(name: "unet \(side)x\(side) unsplit 2 cores (pool + BLAS threads) \(steps) steps", unit: "s",
                             ours: t2.ours.median, baselineName: "unsplit_1worker_1core", baseline: t2.baseline.median,
                             threads: 2, extra: ["min": t2.ours.min, "max": t2.ours.max]))
        openblas_set_num_threads(Int32(ctx.threads))
    }

    // 3. Gaussian-field prior: spectrum error of each mode vs the unsplit sampler (distribution level)
    do {
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
}
