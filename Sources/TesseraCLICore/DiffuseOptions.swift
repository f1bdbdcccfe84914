import ArgumentParser
import Foundation
import Tessera
import TesseraDiffusion

/// `tessera diffuse` and `tessera diffuse --distributed` (one row patch of the U-Net per rank).
public struct DiffuseOptions: ParsableArguments {
    /// Options with their defaults (ArgumentParser fills them from the command line).
    public init() {}

    /// A diffusers UNet2DModel folder (config.json + diffusion_pytorch_model.safetensors).
    /// Exactly one of `model`, `gaussianField` and `randomUnet` is given.
    @Option(help: "diffusers UNet2DModel folder (config.json + diffusion_pytorch_model.safetensors).")
    public var model: String?

    /// Use the exact denoiser of a Gaussian random-field prior (one process only).
    @Flag(help: "Use the exact denoiser of a Gaussian random-field prior (known true distribution; one process).")
    public var gaussianField = false

    /// A random-weight U-Net: "tiny", "small" or "medium" (see `randomConfig(_:)`).
    @Option(help: "Random-weight U-Net for trying the machinery: tiny | small | medium (ignored with --model).")
    public var randomUnet: String?

    /// Image side in pixels (>= 1); samples are square.
    @Option(parsing: .unconditional, help: "Image side in pixels.")
    public var size = 256

    /// Row patches (>= 1); nil: 2, or one per rank in a distributed run.
    @Option(parsing: .unconditional, help: "Row patches (default 2; with --distributed: one per rank).")
    public var patches: Int?

    /// Patch mode, as `PatchMode(parsing:warmup:)` reads it: sync, distrifusion, pcpp[:portion]
    /// or asg (asg: one process only).
    @Option(help: "Patch mode: sync | distrifusion | pcpp[:portion] | asg (asg: one process).")
    public var mode = "distrifusion"

    /// Synchronous warm-up steps (>= 0) of the stale modes.
    @Option(parsing: .unconditional, help: "Synchronous warm-up steps of the stale modes.")
    public var warmup = 4

    /// Sampling steps (>= 1).
    @Option(parsing: .unconditional, help: "Sampling steps.")
    public var steps = 50

    /// Sampler, as `SamplerKind(parsing:)` reads it: ddpm, ddim[:eta], euler or heun.
    @Option(help: "Sampler: ddpm | ddim[:eta] | euler | heun.")
    public var sampler = "ddim"

    /// Noise schedule (a `BetaSchedule` raw value): linear, scaled_linear or squaredcos_cap_v2.
    @Option(help: "Noise schedule: linear | scaled_linear | squaredcos_cap_v2.")
    public var schedule = "linear"

    /// Number of samples, 1...64; sample i uses seed `seed + i`.
    @Option(parsing: .unconditional, help: "Number of samples (seeds seed ... seed+n-1).")
    public var samples = 4

    /// Seed of the first sample's starting noise.
    @Option(help: "First seed.")
    public var seed: UInt64 = 0

    /// Path of the output PNG (one row per source, one column per seed).
    @Option(help: "Output PNG: rows of samples (exact reference for --gaussian-field, unsplit, patch mode) and, for --gaussian-field, their power spectra.")
    public var out = "samples.png"

    /// Skip the unsplit reference run (then no speed-up or PSNR is reported).
    @Flag(help: "Skip the unsplit reference run (no speed-up or PSNR).")
    public var noReference = false

    /// `--distributed` and `--check`.
    @OptionGroup public var flags: DistributedFlags

    /// Checks ranges, the schedule, sampler and mode strings and the single model source;
    /// `distributedRun`: tessera-mpi, which refuses `gaussianField` and asg. Throws
    /// `ValidationError` naming the offending option.
    public func validate(distributedRun: Bool) throws {
        guard steps >= 1 else { throw ValidationError("--steps must be positive (got \(steps))") }
        guard samples >= 1, samples <= 64 else { throw ValidationError("--samples must be in 1...64 (got \(samples))") }
        guard size >= 1 else { throw ValidationError("--size must be positive (got \(size))") }
        if let patches { guard patches >= 1 else { throw ValidationError("--patches must be >= 1 (got \(patches))") } }
        guard warmup >= 0 else { throw ValidationError("--warmup must be >= 0 (got \(warmup))") }
        guard BetaSchedule(rawValue: schedule) != nil else { throw ValidationError("unknown --schedule '\(schedule)' (linear, scaled_linear, squaredcos_cap_v2)") }
        do { _ = try SamplerKind(parsing: sampler) } catch { throw ValidationError("--sampler: \(error)") }
        let m: PatchMode
        do { m = try PatchMode(parsing: mode, warmup: warmup) } catch { throw ValidationError("--mode: \(error)") }
        if let r = randomUnet { guard ["tiny", "small", "medium"].contains(r) else { throw ValidationError("--random-unet must be tiny, small or medium (got '\(r)')") } }
        let sources = [model != nil, gaussianField, randomUnet != nil].filter { $0 }.count
        guard sources == 1 else { throw ValidationError(sources == 0 ? "give --model DIR, --gaussian-field or --random-unet tiny|small|medium" : "give one of --model, --gaussian-field and --random-unet") }
        if distributedRun {
            try refuse(gaussianField, "--gaussian-field runs all patches in one process; --distributed needs a U-Net (--model or --random-unet)")
            if case .asg = m { throw ValidationError("--mode asg runs all patches in one process; --distributed runs sync, distrifusion or pcpp") }
        }
        try flags.validate(distributedRun: distributedRun)
    }

    /// The random U-Net configurations of --random-unet.
    public static func randomConfig(_ name: String) -> UNetConfig {
        switch name {
        case "medium": return .benchmarkMedium
        case "tiny": return .small(channels: [16, 32], attentionLevels: [1], layersPerBlock: 1, groups: 4, headDim: 8)
        default: return .small(channels: [32, 64], attentionLevels: [1])
        }
    }
}

/// The model, schedule and sampler of a `diffuse` run (the same on every rank).
public struct DiffuseSetup {
    /// The unsplit denoiser: a U-Net (loaded or random) or the exact Gaussian-field denoiser.
    public let base: Denoiser
    /// The noise schedule of `--schedule`.
    public let schedule: NoiseSchedule
    /// Sampler kind, steps and first seed (`clipSample` off).
    public let sampler: SamplerOptions
    /// The patch mode of `--mode` and `--warmup`.
    public let mode: PatchMode
    /// The Gaussian random-field prior with `--gaussian-field`; nil otherwise.
    public let prior: GaussianFieldPrior?

    /// Builds the setup of validated options: loads the model or draws the random U-Net (seed 1)
    /// and prints its parameter count on stderr. Throws what loading or parsing throws.
    public init(_ o: DiffuseOptions) throws {
        schedule = try NoiseSchedule(BetaSchedule(rawValue: o.schedule) ?? .linear)
        mode = try PatchMode(parsing: o.mode, warmup: o.warmup)
        var opts = SamplerOptions(kind: try SamplerKind(parsing: o.sampler), steps: o.steps, seed: o.seed)
        opts.clipSample = false
        sampler = opts
        if o.gaussianField {
            let p = try GaussianFieldPrior(channels: 1, height: o.size, width: o.size)
            prior = p
            base = try GaussianFieldDenoiser(prior: p, schedule: schedule)
        } else if let dir = o.model {
            prior = nil
            base = try UNetModel.load(directory: dir)
        } else {
            prior = nil
            base = try UNetModel(config: DiffuseOptions.randomConfig(o.randomUnet ?? "small"), seed: 1)
        }
        if let u = base as? UNetModel {
            standardError("U-Net: \(u.parameterCount / 1000)k parameters, \(u.config.blockOutChannels)")
        }
    }

    /// Samples --samples images with `denoiser` (a progress bar on a terminal); returns them and the wall time.
    public func run(_ denoiser: Denoiser, _ o: DiffuseOptions, label: String, progress: Bool = true) throws -> ([Latent], Double) {
        var bar = ProgressBar(total: o.steps * o.samples, enabled: progress && standardErrorIsTerminal)
        var done = 0
        let t0 = Date()
        let r = try DiffusionSampler(schedule: schedule).samples(denoiser, count: o.samples, height: o.size, width: o.size,
                                                                 options: sampler) { _, _ in
            done += 1; bar.update(done, label)
        }
        return (r, Date().timeIntervalSince(t0))
    }
}

/// What `tessera diffuse` prints and writes, single-process or distributed.
public enum DiffuseOutput {
    /// The run's figures (the PNG is written by `reference`, with the rows to compare).
    public static func write(_ mine: [Latent], seconds: Double, patches: Int, ranOn: String, bytesAfterWarmup: Double,
                             bytesAll: Double, setup: DiffuseSetup, options o: DiffuseOptions) throws {
        print("mode \(setup.mode), P=\(patches) (\(ranOn)), \(o.samples) samples \(o.size)x\(o.size), \(o.steps) \(o.sampler) steps")
        print(String(format: "  wall time        %.2f s (%.3f s/sample)", seconds, seconds / Double(o.samples)))
        print(String(format: "  bytes/step       %.3f MB (after warm-up), %.3f MB (all steps)", bytesAfterWarmup / 1e6, bytesAll / 1e6))
    }

    /// The references — the exact probability-flow solution (Gaussian field) and the unsplit
    /// sampler (P = 1, which the synchronous mode equals) — with PSNR, speed-up and spectra,
    /// then the PNG: one row per source, one column per seed, one colour bar.
    public static func reference(_ mine: [Latent], seconds: Double, patches: Int, setup: DiffuseSetup,
                                 options o: DiffuseOptions) throws {
        let what = o.gaussianField ? "Gaussian random field (exact denoiser)" : o.model ?? "random-weight U-Net (untrained: noise)"
        var figure = SampleFigure(title: "Diffusion samples: \(what)")
        figure.subtitle = "\(o.steps) \(o.sampler) steps, \(o.schedule) schedule, \(o.size)×\(o.size); each column one seed, same starting noise in every row"
        figure.columnLabels = (0..<o.samples).map { "seed \(o.seed &+ UInt64($0))" }
        figure.prior = setup.prior
        if let prior = setup.prior {
            // the exact probability-flow solution from each seed's noise (what a deterministic sampler approximates)
            let ab = setup.schedule.alphaBar(Double(try setup.schedule.timesteps(o.steps, spacing: setup.sampler.spacing)[0]))
            let exact = try (0..<o.samples).map { k throws(TesseraError) in
                try prior.flowSolution(from: .gaussian(channels: 1, height: o.size, width: o.size, seed: o.seed &+ UInt64(k)), alphaBar: ab)
            }
            let flow = setup.sampler.kind.followsProbabilityFlow
            figure.rows.append((flow ? "exact ODE solution\n(analytic reference)" : "exact ODE solution\n(reference in distribution only)", exact))
            if flow {
                var psnr = 0.0
                for k in 0..<o.samples { psnr += try DiffusionMetrics.psnr(mine[k], exact[k]) / Double(o.samples) }
                print(String(format: "  vs exact ODE     PSNR %.2f dB (the probability-flow solution from the same noise)", psnr))
            }
        }
        if !o.noReference {
            let (ref, tRef) = try setup.run(setup.base, o, label: "unsplit P=1")
            figure.rows.append(("unsplit sampler\n(P\u{00A0}=\u{00A0}1)", ref))
            var psnr = 0.0, maxErr = 0.0
            for k in 0..<o.samples {
                psnr += try DiffusionMetrics.psnr(mine[k], ref[k]) / Double(o.samples)
                maxErr = max(maxErr, try DiffusionMetrics.maxAbsError(mine[k], ref[k]))
            }
            print(String(format: "  unsplit time     %.2f s   speed-up %.2fx", tRef, tRef / seconds))
            print(String(format: "  vs synchronous   PSNR %.2f dB, max error %.3g", psnr, maxErr))
            if let prior = setup.prior {
                let e0 = try SpectrumComparison(samples: ref, prior: prior)
                print(String(format: "  spectrum error   unsplit %.4f (sampling noise ~%.4f)", e0.rmsLogError, e0.expectedSamplingError))
            }
        }
        if let prior = setup.prior {
            let e = try SpectrumComparison(samples: mine, prior: prior)
            print(String(format: "  spectrum error   %@ %.4f (RMS log ratio to the true spectrum)", "\(setup.mode)", e.rmsLogError))
        }
        figure.rows.append(("\(setup.mode)".replacingOccurrences(of: ",", with: ", ") + "\nP\u{00A0}=\u{00A0}\(patches) patches", mine))
        try figure.render().writePNG(to: o.out)
        print("  wrote \(o.out)")
    }
}
