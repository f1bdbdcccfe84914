import ArgumentParser
import Foundation
import TesseraDiffusion

/// `tessera diffuse`: sample from a diffusers UNet2DModel folder or the exact Gaussian-field prior,
/// optionally patch-parallel, and report time, speed-up vs one patch, bytes exchanged and quality.
struct DiffusionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffuse",
        abstract: "Diffusion sampling (DDPM/DDIM/Euler/Heun) with DistriFusion / PCPP / ASG patch parallelism.",
        discussion: """
        Runs the chosen patch mode and, from the same seeds, the unsplit model (P = 1, which the \
        synchronous mode equals), then prints wall time, speed-up, bytes exchanged per step, PSNR and \
        max error vs the unsplit result and, for --gaussian-field, the radially averaged power-spectrum \
        error against the prior's true spectrum.
        """)

    @Option(help: "diffusers UNet2DModel folder (config.json + diffusion_pytorch_model.safetensors).") var model: String?
    @Flag(help: "Use the exact denoiser of a Gaussian random-field prior (known true distribution).") var gaussianField = false
    @Option(help: "Random-weight U-Net for trying the machinery: small | medium (ignored with --model).") var randomUnet: String?
    @Option(help: "Image side in pixels.") var size = 256
    @Option(help: "Row patches (workers).") var patches = 2
    @Option(help: "Patch mode: sync | distrifusion | pcpp[:portion] | asg.") var mode = "distrifusion"
    @Option(help: "Synchronous warm-up steps of the stale modes.") var warmup = 4
    @Option(help: "Sampling steps.") var steps = 50
    @Option(help: "Sampler: ddpm | ddim[:eta] | euler | heun.") var sampler = "ddim"
    @Option(help: "Noise schedule: linear | scaled_linear | squaredcos_cap_v2.") var schedule = "linear"
    @Option(help: "Number of samples (seeds seed ... seed+n-1).") var samples = 4
    @Option(help: "First seed.") var seed: UInt64 = 0
    @Option(help: "Output PNG: rows of samples (exact reference for --gaussian-field, unsplit, patch mode) and, for --gaussian-field, their power spectra.") var out = "samples.png"
    @Flag(help: "Skip the unsplit reference run (no speed-up or PSNR).") var noReference = false

    func run() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be positive") }
        guard samples >= 1, samples <= 64 else { throw ValidationError("--samples must be in 1...64") }
        guard let kind = BetaSchedule(rawValue: schedule) else { throw ValidationError("unknown --schedule \(schedule)") }
        let sched = try NoiseSchedule(kind)
        let patchMode = try PatchMode(parsing: mode, warmup: warmup)
        var opts = SamplerOptions(kind: try SamplerKind(parsing: sampler), steps: steps, seed: seed)
        opts.clipSample = false
        let base: Denoiser
        var prior: GaussianFieldPrior? = nil
        if gaussianField {
            let p = try GaussianFieldPrior(channels: 1, height: size, width: size)
            prior = p
            base = try GaussianFieldDenoiser(prior: p, schedule: sched)
        } else if let model {
            base = try UNetModel.load(directory: model)
        } else if let r = randomUnet {
            let cfg: UNetConfig = r == "medium" ? .benchmarkMedium : .small(channels: [32, 64], attentionLevels: [1])
            base = try UNetModel(config: cfg, seed: 1)
        } else {
            throw ValidationError("give --model DIR, --gaussian-field or --random-unet small|medium")
        }
        if let u = base as? UNetModel {
            FileHandle.standardError.write(Data("U-Net: \(u.parameterCount / 1000)k parameters, \(u.config.blockOutChannels)\n".utf8))
        }
        let pp = try PatchParallelDenoiser(base: base, patches: patches, mode: patchMode)
        pp.unetSchedule = sched
        let s = DiffusionSampler(schedule: sched)
        func runAll(_ d: Denoiser, _ label: String) throws -> ([Latent], Double) {
            var bar = ProgressBar(total: steps * samples)
            var done = 0
            let t0 = Date()
            let r = try s.samples(d, count: samples, height: size, width: size, options: opts) { _, _ in
                done += 1; bar.update(done, label)
            }
            return (r, Date().timeIntervalSince(t0))
        }
        let (mine, tMine) = try runAll(pp, "\(patchMode) P=\(patches)")
        let bytes = pp.bytesPerStepAfterWarmup
        print("mode \(patchMode), P=\(patches), \(samples) samples \(size)x\(size), \(steps) \(sampler) steps")
        print(String(format: "  wall time        %.2f s (%.3f s/sample)", tMine, tMine / Double(samples)))
        print(String(format: "  bytes/step       %.3f MB (after warm-up), %.3f MB (all steps)", bytes / 1e6, pp.bytesPerStep / 1e6))
        var figure = SampleFigure(title: "Diffusion samples: \(gaussianField ? "Gaussian random field (exact denoiser)" : model ?? "random-weight U-Net (untrained: noise)")")
        figure.subtitle = "\(steps) \(sampler) steps, \(schedule) schedule, \(size)×\(size); each column one seed, same starting noise in every row"
        figure.columnLabels = (0..<samples).map { "seed \(seed &+ UInt64($0))" }
        figure.prior = prior
        if let prior {
            // the exact probability-flow solution from each seed's noise (what a deterministic sampler approximates)
            let ab = sched.alphaBar(Double(try sched.timesteps(steps, spacing: opts.spacing)[0]))
            let exact = try (0..<samples).map { k throws(TesseraError) in
                try prior.flowSolution(from: .gaussian(channels: 1, height: size, width: size, seed: seed &+ UInt64(k)), alphaBar: ab)
            }
            figure.rows.append((opts.kind.followsProbabilityFlow ? "exact ODE solution\n(analytic reference)"
                                    : "exact ODE solution\n(reference in distribution only)", exact))
            if opts.kind.followsProbabilityFlow {
                var psnr = 0.0
                for k in 0..<samples { psnr += try DiffusionMetrics.psnr(mine[k], exact[k]) / Double(samples) }
                print(String(format: "  vs exact ODE     PSNR %.2f dB (the probability-flow solution from the same noise)", psnr))
            }
        }
        if !noReference {
            let (ref, tRef) = try runAll(base, "unsplit P=1")
            figure.rows.append(("unsplit sampler\n(P\u{00A0}=\u{00A0}1)", ref))
            var psnr = 0.0, maxErr = 0.0
            for k in 0..<samples {
                psnr += try DiffusionMetrics.psnr(mine[k], ref[k]) / Double(samples)
                maxErr = max(maxErr, try DiffusionMetrics.maxAbsError(mine[k], ref[k]))
            }
            print(String(format: "  unsplit time     %.2f s   speed-up %.2fx", tRef, tRef / tMine))
            print(String(format: "  vs synchronous   PSNR %.2f dB, max error %.3g", psnr, maxErr))
            if let prior {
                let e0 = try SpectrumComparison(samples: ref, prior: prior)
                print(String(format: "  spectrum error   unsplit %.4f (sampling noise ~%.4f)", e0.rmsLogError, e0.expectedSamplingError))
            }
        }
        if let prior {
            let e = try SpectrumComparison(samples: mine, prior: prior)
            print(String(format: "  spectrum error   %@ %.4f (RMS log ratio to the true spectrum)", "\(patchMode)", e.rmsLogError))
        }
        figure.rows.append(("\(patchMode)".replacingOccurrences(of: ",", with: ", ") + "\nP\u{00A0}=\u{00A0}\(patches) patches", mine))
        try figure.render().writePNG(to: out)
        print("  wrote \(out)")
    }
}
