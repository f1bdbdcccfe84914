import Foundation

/// Anything that predicts the network output for a noisy latent: a U-Net, the exact
/// Gaussian-field denoiser, or a patch-parallel wrapper around one of them.
public protocol Denoiser: AnyObject {
    /// What `predict` returns (ε, v or x₀).
    var predictionType: PredictionType { get }
    /// Channels of the latents it takes and returns.
    var channels: Int { get }
    /// Checks that a `height × width` latent can be denoised (size divisibility etc.).
    func validate(height: Int, width: Int) throws(TesseraError)
    /// Called once at the start of each sampling run (drops per-run state such as stale activations).
    func beginSampling()
    /// The model output for `x` at training timestep `timestep` (0 ..< trainSteps), optionally class-conditioned.
    func predict(_ x: Latent, timestep: Int, classLabel: Int?) throws(TesseraError) -> Latent
}

extension Denoiser {
    /// Does nothing (denoisers without per-run state).
    public func beginSampling() {}
}

/// The sampling algorithm.
public enum SamplerKind: Sendable, Equatable, CustomStringConvertible {
    /// Ancestral DDPM (Ho et al.), on the chosen subsequence of timesteps.
    case ddpm
    /// DDIM (Song et al.): η = 0 deterministic, η = 1 matches DDPM's variance.
    case ddim(eta: Double)
    /// Euler on the probability-flow ODE in σ = √((1−ᾱ)/ᾱ) (Karras et al.).
    case euler
    /// Heun's second-order method on the same ODE (two model calls per step, one on the last).
    case heun

    /// The sampler's name: "ddpm", "ddim", "ddim(eta=…)", "euler" or "heun".
    public var description: String {
        switch self {
        case .ddpm: return "ddpm"
        case .ddim(let e): return e == 0 ? "ddim" : "ddim(eta=\(e))"
        case .euler: return "euler"
        case .heun: return "heun"
        }
    }

    /// Parses "ddpm", "ddim", "ddim:0.5", "euler", "heun".
    public init(parsing s: String) throws(TesseraError) {
        let parts = s.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "ddpm": self = .ddpm
        case "ddim":
            let eta = parts.count > 1 ? Double(parts[1]) : 0
            guard let eta, eta >= 0, eta.isFinite else { throw .invalidArgument("sampler: bad DDIM eta in '\(s)'") }
            self = .ddim(eta: eta)
        case "euler": self = .euler
        case "heun": self = .heun
        default: throw .invalidArgument("sampler: unknown sampler '\(s)' (ddpm, ddim[:eta], euler, heun)")
        }
    }
}

/// Classifier-free guidance: out = uncond + scale · (cond − uncond).
public struct Guidance: Sendable, Equatable {
    /// Guidance scale w (1: the conditional output alone).
    public var scale: Double
    /// The class to sample.
    public var classLabel: Int
    /// The label the model was trained to treat as "no class".
    public var unconditionalLabel: Int
    /// Guidance of scale `scale` toward `classLabel`.
    public init(scale: Double, classLabel: Int, unconditionalLabel: Int) {
        self.scale = scale; self.classLabel = classLabel; self.unconditionalLabel = unconditionalLabel
    }
}

/// Options of one sampling run.
public struct SamplerOptions: Sendable {
    /// The sampling algorithm.
    public var kind: SamplerKind = .ddim(eta: 0)
    /// Number of sampling steps (model calls; Heun makes about twice as many).
    public var steps: Int = 50
    /// Which training timesteps the steps visit.
    public var spacing: TimestepSpacing = .trailing
    /// Seed of the initial noise (and of DDPM's per-step noise).
    public var seed: UInt64 = 0
    /// Class label for class-conditional models (ignored when `guidance` is set).
    public var classLabel: Int? = nil
    /// Classifier-free guidance; nil for none.
    public var guidance: Guidance? = nil
    /// Clamp the predicted x₀ to [−1, 1] (diffusers' clip_sample, used by pixel-space DDPMs).
    public var clipSample: Bool = false
    /// Options of a run of `kind` with `steps` steps from `seed`.
    public init(kind: SamplerKind = .ddim(eta: 0), steps: Int = 50, seed: UInt64 = 0) {
        self.kind = kind; self.steps = steps; self.seed = seed
    }
}

/// Runs DDPM / DDIM / Euler / Heun on a variance-preserving schedule with any `Denoiser`.
/// Seeded: the initial noise and every ancestral noise draw come from `GaussianRNG(seed)`.
public struct DiffusionSampler: Sendable {
    /// The noise schedule the model was trained with.
    public let schedule: NoiseSchedule
    /// A sampler for `schedule`.
    public init(schedule: NoiseSchedule) { self.schedule = schedule }

    /// Heun takes a first-order (Euler) step where σ_next < heunMinSigmaRatio · σ (the ᾱ → 0 end of a schedule).
    public static let heunMinSigmaRatio = 0.05

    /// One sample of shape `channels × height × width` (channels from the denoiser).
    /// `progress(step, steps)` is called after each step.
    public func sample(_ denoiser: Denoiser, height: Int, width: Int, options: SamplerOptions,
                       progress: ((Int, Int) -> Void)? = nil) throws(TesseraError) -> Latent {
        try sample(denoiser, height: height, width: width, options: options) { step, steps in
            progress?(step, steps)
            return true
        }!
    }

    /// The sampling loop, with `control(step, steps)` after each step: false stops it (nil).
    func sample(_ denoiser: Denoiser, height: Int, width: Int, options: SamplerOptions,
                control: (Int, Int) -> Bool) throws(TesseraError) -> Latent? {
        try denoiser.validate(height: height, width: width)
        let ts = try schedule.timesteps(options.steps, spacing: options.spacing)
        if case .ddim(let eta) = options.kind, !(eta >= 0 && eta.isFinite) {
            throw .invalidArgument("sampler: DDIM eta must be finite and non-negative (got \(eta))")
        }
        if let g = options.guidance, !g.scale.isFinite {
            throw .invalidArgument("sampler: guidance scale must be finite (got \(g.scale))")
        }
        var rng = GaussianRNG(seed: options.seed)
        var x = try Latent(channels: denoiser.channels, height: height, width: width)
        rng.fill(&x.data)
        denoiser.beginSampling()
        let n = ts.count

        switch options.kind {
        case .ddpm, .ddim:
            for i in 0..<n {
                let t = ts[i]
                let ab = schedule.alphaBar(Double(t))
                let abPrev = i + 1 < n ? schedule.alphaBar(Double(ts[i + 1])) : 1.0
                let (x0, eps) = try estimate(denoiser, x, t: t, alphaBar: ab, options: options)
                let a0 = abPrev.squareRoot()
                var sigma = 0.0
                if case .ddim(let eta) = options.kind {
                    sigma = eta * ((1 - abPrev) / (1 - ab) * (1 - ab / abPrev)).squareRoot()
                    let ce = max(0, 1 - abPrev - sigma * sigma).squareRoot()
                    for j in 0..<x.count {
                        x.data[j] = Float(a0 * Double(x0[j]) + ce * Double(eps[j]))
                    }
                } else {
                    // DDPM posterior q(x_prev | x_t, x0) between possibly non-adjacent steps
                    let alphaStep = ab / abPrev, betaStep = 1 - alphaStep
                    let cx0 = a0 * betaStep / (1 - ab)
                    let cxt = alphaStep.squareRoot() * (1 - abPrev) / (1 - ab)
                    sigma = (betaStep * (1 - abPrev) / (1 - ab)).squareRoot()
                    for j in 0..<x.count {
                        x.data[j] = Float(cx0 * Double(x0[j]) + cxt * Double(x.data[j]))
                    }
                }
                if sigma > 0 && i + 1 < n {
                    for j in 0..<x.count { x.data[j] += Float(sigma * rng.next()) }
                }
                if !control(i + 1, n) { return nil }
            }
        case .euler, .heun:
            let heun = options.kind == .heun
            func sig(_ ab: Double) -> Double { ((1 - ab) / ab).squareRoot() }
            // x here is the VE variable x_ve = x_vp · √(1+σ²); start from x_vp ~ N(0, I).
            let s0 = sig(schedule.alphaBar(Double(ts[0])))
            let scale0 = Float((1 + s0 * s0).squareRoot())
            for j in 0..<x.count { x.data[j] *= scale0 }
            for i in 0..<n {
                let t = ts[i]
                let ab = schedule.alphaBar(Double(t)); let s = sig(ab)
                let sNext = i + 1 < n ? sig(schedule.alphaBar(Double(ts[i + 1]))) : 0
                let d = try veDerivative(denoiser, x, t: t, alphaBar: ab, sigma: s, options: options)
                let dt = Float(sNext - s)
                // Heun's trapezoid needs d to vary little over the step. Leaving the t → T end of a
                // schedule whose ᾱ → 0 (cosine: σ_max ≈ 2·10⁴) the step spans σ/σ' ≫ 1, x̂₀ changes from
                // ≈ 0 to the signal, and the trapezoid leaves ½·σ_max·(signal share) of the noise behind.
                // Those steps use Euler, which is exact there (x_ve − x̂₀ scales linearly in σ for fixed x̂₀).
                if heun && i + 1 < n && sNext > DiffusionSampler.heunMinSigmaRatio * s {
                    var x2 = x
                    for j in 0..<x.count { x2.data[j] += d[j] * dt }
                    let abN = schedule.alphaBar(Double(ts[i + 1]))
                    let d2 = try veDerivative(denoiser, x2, t: ts[i + 1], alphaBar: abN, sigma: sNext, options: options)
                    for j in 0..<x.count { x.data[j] += 0.5 * (d[j] + d2[j]) * dt }
                } else {
                    for j in 0..<x.count { x.data[j] += d[j] * dt }
                }
                if !control(i + 1, n) { return nil }
            }
        }
        return x
    }

    /// `count` samples with seeds `options.seed + i`.
    public func samples(_ denoiser: Denoiser, count: Int, height: Int, width: Int, options: SamplerOptions,
                        progress: ((Int, Int) -> Void)? = nil) throws(TesseraError) -> [Latent] {
        guard count >= 1 else { throw .invalidArgument("sample count must be positive (got \(count))") }
        var out: [Latent] = []
        for k in 0..<count {
            var o = options; o.seed = options.seed &+ UInt64(k)
            out.append(try sample(denoiser, height: height, width: width, options: o, progress: progress))
        }
        return out
    }

    /// Model output with classifier-free guidance applied (guidance is linear, so it is applied to the raw output).
    func guidedOutput(_ den: Denoiser, _ x: Latent, t: Int, options: SamplerOptions) throws(TesseraError) -> Latent {
        if let g = options.guidance {
            let c = try den.predict(x, timestep: t, classLabel: g.classLabel)
            if g.scale == 1 { return c }
            let u = try den.predict(x, timestep: t, classLabel: g.unconditionalLabel)
            var o = u
            let w = Float(g.scale)
            for j in 0..<o.count { o.data[j] = u.data[j] + w * (c.data[j] - u.data[j]) }
            return o
        }
        return try den.predict(x, timestep: t, classLabel: options.classLabel)
    }

    /// (x̂₀, ε̂) from the model at VP latent x, ᾱ = alphaBar.
    func estimate(_ den: Denoiser, _ x: Latent, t: Int, alphaBar ab: Double,
                  options: SamplerOptions) throws(TesseraError) -> ([Float], [Float]) {
        let out = try guidedOutput(den, x, t: t, options: options)
        guard out.count == x.count else {
            throw .invalidState("denoiser returned \(out.shapeDescription) for input \(x.shapeDescription)")
        }
        let a = ab.squareRoot(), s = (1 - ab).squareRoot()
        var x0 = [Float](repeating: 0, count: x.count)
        var eps = x0
        for j in 0..<x.count {
            let xt = Double(x.data[j]), m = Double(out.data[j])
            var x0j: Double, ej: Double
            switch den.predictionType {
            case .epsilon: ej = m; x0j = (xt - s * m) / a
            case .vPrediction: x0j = a * xt - s * m; ej = s * xt + a * m
            case .sample: x0j = m; ej = (xt - a * m) / max(s, 1e-12)
            }
            if options.clipSample {
                x0j = min(1, max(-1, x0j)); ej = (xt - a * x0j) / max(s, 1e-12)
            }
            x0[j] = Float(x0j); eps[j] = Float(ej)
        }
        return (x0, eps)
    }

    /// dx_ve/dσ = (x_ve − x̂₀)/σ, the model evaluated at x_vp = x_ve / √(1+σ²).
    func veDerivative(_ den: Denoiser, _ xve: Latent, t: Int, alphaBar ab: Double, sigma: Double,
                      options: SamplerOptions) throws(TesseraError) -> [Float] {
        var xvp = xve
        let inv = Float(1 / (1 + sigma * sigma).squareRoot())
        for j in 0..<xvp.count { xvp.data[j] *= inv }
        let (x0, _) = try estimate(den, xvp, t: t, alphaBar: ab, options: options)
        var d = x0
        let is_ = Float(1 / sigma)
        for j in 0..<d.count { d[j] = (xve.data[j] - x0[j]) * is_ }
        return d
    }
}
