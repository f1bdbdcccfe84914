import Foundation
internal import CFFTW

/// The power spectrum of a stationary, isotropic Gaussian random field, as a function of the
/// radial frequency f in cycles per pixel (0 ... √2/2). Fields are periodic on the image torus.
public enum PowerSpectrum: Sendable, Equatable {
    /// S(f) ∝ (f² + f₀²)^(−exponent/2): a power law with a low-frequency cutoff f₀ (cycles/pixel).
    case powerLaw(exponent: Double, cutoff: Double)
    /// S(f) ∝ exp(−(f·ℓ)²/2) · ... : smooth field with correlation length ℓ pixels (plus a small white floor).
    case gaussian(correlationLength: Double)

    func value(_ f: Double) -> Double {
        switch self {
        case .powerLaw(let b, let f0): return pow(f * f + f0 * f0, -b / 2)
        case .gaussian(let l):
            let x = 2 * Double.pi * f * l
            return exp(-x * x / 2) + 1e-4
        }
    }

    func validate() throws(TesseraError) {
        switch self {
        case .powerLaw(let b, let f0):
            guard b.isFinite, b >= 0, b <= 8, f0.isFinite, f0 > 0 else {
                throw .invalidArgument("powerLaw spectrum needs 0 <= exponent <= 8 and cutoff > 0 (got \(b), \(f0))")
            }
        case .gaussian(let l):
            guard l.isFinite, l > 0 else { throw .invalidArgument("gaussian spectrum needs correlationLength > 0 (got \(l))") }
        }
    }
}

/// Plans and runs real 2-D FFTs of one size (FFTW, double precision). Plans are created once
/// under a process-wide lock (FFTW's planner is not thread-safe); execution is thread-safe.
final class FFT2D: @unchecked Sendable {
    let h: Int, w: Int
    var wc: Int { w / 2 + 1 }
    private let fwd: OpaquePointer
    private let bwd: OpaquePointer
    nonisolated(unsafe) private static var lock = NSLock()

    init(height: Int, width: Int) {
        h = height; w = width
        let n = height * width, nc = height * (width / 2 + 1)
        let rin = UnsafeMutablePointer<Double>.allocate(capacity: n)
        let cout = UnsafeMutableRawPointer.allocate(byteCount: nc * 16, alignment: 64)
        defer { rin.deallocate(); cout.deallocate() }
        let flags = UInt32(FFTW_ESTIMATE) | UInt32(FFTW_UNALIGNED)
        FFT2D.lock.lock()
        let c = cout.bindMemory(to: fftw_complex.self, capacity: nc)
        fwd = fftw_plan_dft_r2c_2d(Int32(height), Int32(width), rin, c, flags)
        bwd = fftw_plan_dft_c2r_2d(Int32(height), Int32(width), c, rin, flags)
        FFT2D.lock.unlock()
    }
    deinit {
        FFT2D.lock.lock(); fftw_destroy_plan(fwd); fftw_destroy_plan(bwd); FFT2D.lock.unlock()
    }

    /// spectrum (interleaved re/im, h × (w/2+1)) of a real h × w field (unnormalised).
    func forward(_ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>) {
        out.withMemoryRebound(to: fftw_complex.self, capacity: h * wc) { c in
            fftw_execute_dft_r2c(fwd, UnsafeMutablePointer(mutating: x), c)
        }
    }
    /// real field from its half spectrum (unnormalised: the result is scaled by h·w). Destroys `spec`.
    func backward(_ spec: UnsafeMutablePointer<Double>, _ out: UnsafeMutablePointer<Double>) {
        spec.withMemoryRebound(to: fftw_complex.self, capacity: h * wc) { c in
            fftw_execute_dft_c2r(bwd, c, out)
        }
    }

    /// Radial frequency (cycles/pixel) of half-spectrum bin (ky, kx).
    func frequency(_ ky: Int, _ kx: Int) -> Double {
        let fy = Double(ky <= h / 2 ? ky : ky - h) / Double(h)
        let fx = Double(kx) / Double(w)
        return (fx * fx + fy * fy).squareRoot()
    }
}

/// A stationary Gaussian random-field prior on `channels × height × width` images: each channel is an
/// independent periodic field with the given power spectrum, normalised to unit pixel variance.
/// Its unitary-DFT coefficients X_k are independent with E|X_k|² = S_k, so the true distribution of
/// samples, and of every linear statistic of them, is known exactly.
public struct GaussianFieldPrior: Sendable {
    /// Channels, height and width of the images.
    public let channels: Int, height: Int, width: Int
    /// The power spectrum of every channel.
    public let spectrum: PowerSpectrum
    /// S_k on the half-spectrum grid (height × (width/2+1)), mean over the full grid = 1.
    let grid: [Double]

    /// A prior on `channels × height × width` images. Errors: `.invalidArgument` for channels
    /// outside 1...64, sides outside 4...8192, an odd width, or a bad spectrum.
    public init(channels: Int = 1, height: Int, width: Int,
                spectrum: PowerSpectrum = .powerLaw(exponent: 3, cutoff: 0.02)) throws(TesseraError) {
        guard channels >= 1, channels <= 64 else { throw .invalidArgument("GaussianFieldPrior: channels must be in 1...64 (got \(channels))") }
        guard height >= 4, width >= 4, height <= 8192, width <= 8192, width % 2 == 0 else {
            throw .invalidArgument("GaussianFieldPrior: height and width must be in 4...8192 and width even (got \(height)x\(width))")
        }
        try spectrum.validate()
        self.channels = channels; self.height = height; self.width = width; self.spectrum = spectrum
        let wc = width / 2 + 1
        var g = [Double](repeating: 0, count: height * wc)
        var total = 0.0
        for ky in 0..<height {
            let fy = Double(ky <= height / 2 ? ky : ky - height) / Double(height)
            for kx in 0..<wc {
                let fx = Double(kx) / Double(width)
                let s = spectrum.value((fx * fx + fy * fy).squareRoot())
                g[ky * wc + kx] = s
                // full-grid mean: columns 1..w/2-1 stand for two bins each
                total += (kx == 0 || kx == width / 2) ? s : 2 * s
            }
        }
        let mean = total / Double(height * width)
        for i in g.indices { g[i] /= mean }
        grid = g
    }

    init(channels: Int, height: Int, width: Int, spectrum: PowerSpectrum, grid: [Double]) {
        self.channels = channels; self.height = height; self.width = width; self.spectrum = spectrum; self.grid = grid
    }

    /// Exact draws from the prior (seeded).
    public func sample(seed: UInt64) -> Latent {
        let fft = FFT2D(height: height, width: width)
        var rng = GaussianRNG(seed: seed)
        let n = height * width, wc = width / 2 + 1
        var out = [Float](repeating: 0, count: channels * n)
        var field = [Double](repeating: 0, count: n)
        var spec = [Double](repeating: 0, count: 2 * height * wc)
        for c in 0..<channels {
            for i in 0..<n { field[i] = rng.next() }
            fft.forward(field, &spec)
            for i in 0..<(height * wc) { let a = grid[i].squareRoot(); spec[2 * i] *= a; spec[2 * i + 1] *= a }
            fft.backward(&spec, &field)
            let s = 1 / Double(n)
            for i in 0..<n { out[c * n + i] = Float(field[i] * s) }
        }
        return Latent(uncheckedChannels: channels, height: height, width: width, data: out)
    }

    /// The prior of the 2×2 average-pooled field (height/2 × width/2): the exact low-resolution view,
    /// with aliases folded: S_d(k) = ¼ Σ_aliases |A(k')|² S(k'), A the 2×2 box filter's transfer function.
    func pooled() -> GaussianFieldPrior {
        let H = height, W = width, h = H / 2, w = W / 2, wcF = W / 2 + 1, wc = w / 2 + 1
        func fullS(_ ky: Int, _ kx: Int) -> Double {   // any (ky, kx) on the full grid, via Hermitian symmetry
            var y = ((ky % H) + H) % H, x = ((kx % W) + W) % W
            if x > W / 2 { x = W - x; y = (H - y) % H }
            return grid[y * wcF + x]
        }
        func boxGain(_ k: Int, _ n: Int) -> Double {   // |(1 + e^{-2πik/n})/2|²
            let t = Double.pi * Double(k) / Double(n)
            return cos(t) * cos(t)
        }
        var g = [Double](repeating: 0, count: h * wc)
        for ky in 0..<h {
            for kx in 0..<wc {
                var s = 0.0
                for ay in 0..<2 { for ax in 0..<2 {
                    let fy = ky + ay * h, fx = kx + ax * w
                    s += boxGain(fy, H) * boxGain(fx, W) * fullS(fy, fx)
                } }
                g[ky * wc + kx] = 0.25 * s   // D_u = ½ Σ B·X_u over the 4 aliases, so E|D_u|² = ¼ Σ |B|² S
            }
        }
        return GaussianFieldPrior(channels: channels, height: h, width: w, spectrum: spectrum, grid: g)
    }
}

/// The exact denoiser for a `GaussianFieldPrior`: the posterior mean E[x₀ | x_t] = IDFT(H_k · DFT(x_t)) with
/// H_k = a·S_k / (a²·S_k + s²), a = √ᾱ_t, s² = (1 − ᾱ_t)·noiseScale. Optionally class-conditional
/// (one prior per label), for classifier-free guidance tests.
public final class GaussianFieldDenoiser: Denoiser, @unchecked Sendable {
    /// The unconditional prior.
    public let prior: GaussianFieldPrior
    /// One prior per class label (empty: unconditional only).
    public let classPriors: [GaussianFieldPrior]
    /// The noise schedule whose ᾱ_t the posterior uses.
    public let schedule: NoiseSchedule
    /// What `predict` returns (ε, v or x₀).
    public let predictionType: PredictionType
    /// Channels of the prior.
    public var channels: Int { prior.channels }
    /// Variance of the noise relative to the schedule's (¼ for a 2×2-pooled view of the noise).
    let noiseScale: Double
    let fft: FFT2D
    /// Low-resolution view for ASG structure guidance (built on first use).
    lazy var pooledDenoiser: GaussianFieldDenoiser = {
        GaussianFieldDenoiser(prior: prior.pooled(), classPriors: classPriors.map { $0.pooled() },
                              schedule: schedule, predictionType: predictionType, noiseScale: noiseScale / 4)
    }()

    /// The exact denoiser of `prior` under `schedule`. Errors: `.invalidArgument` when a class
    /// prior's shape differs from `prior`'s.
    public init(prior: GaussianFieldPrior, schedule: NoiseSchedule, predictionType: PredictionType = .epsilon,
                classPriors: [GaussianFieldPrior] = []) throws(TesseraError) {
        for (i, p) in classPriors.enumerated() where p.channels != prior.channels || p.height != prior.height || p.width != prior.width {
            throw .invalidArgument("GaussianFieldDenoiser: class prior \(i) is \(p.channels)x\(p.height)x\(p.width), base prior is \(prior.channels)x\(prior.height)x\(prior.width)")
        }
        self.prior = prior; self.classPriors = classPriors; self.schedule = schedule
        self.predictionType = predictionType; self.noiseScale = 1
        fft = FFT2D(height: prior.height, width: prior.width)
    }

    init(prior: GaussianFieldPrior, classPriors: [GaussianFieldPrior], schedule: NoiseSchedule,
         predictionType: PredictionType, noiseScale: Double) {
        self.prior = prior; self.classPriors = classPriors; self.schedule = schedule
        self.predictionType = predictionType; self.noiseScale = noiseScale
        fft = FFT2D(height: prior.height, width: prior.width)
    }

    /// Checks that the latent has the prior's height and width.
    public func validate(height: Int, width: Int) throws(TesseraError) {
        guard height == prior.height, width == prior.width else {
            throw .invalidArgument("GaussianFieldDenoiser: the prior is \(prior.height)x\(prior.width), asked for \(height)x\(width)")
        }
    }

    func priorFor(_ label: Int?) throws(TesseraError) -> GaussianFieldPrior {
        guard let label else { return prior }
        guard label >= 0, label < classPriors.count else {
            throw .invalidArgument("GaussianFieldDenoiser: class label \(label) out of range 0..<\(classPriors.count)")
        }
        return classPriors[label]
    }

    /// The posterior-mean prediction for `x` at `timestep` (under `classLabel`'s prior when given).
    public func predict(_ x: Latent, timestep: Int, classLabel: Int?) throws(TesseraError) -> Latent {
        try checkInput(x, timestep)
        let p = try priorFor(classLabel)
        let x0 = posteriorMean(x, prior: p, alphaBar: schedule.alphaBar(Double(timestep)))
        return output(x, x0: x0, alphaBar: schedule.alphaBar(Double(timestep)))
    }

    func checkInput(_ x: Latent, _ t: Int) throws(TesseraError) {
        guard x.channels == prior.channels, x.height == prior.height, x.width == prior.width else {
            throw .invalidArgument("GaussianFieldDenoiser: input is \(x.shapeDescription), prior is \(prior.channels)x\(prior.height)x\(prior.width)")
        }
        guard t >= 0, t < schedule.trainSteps else {
            throw .invalidArgument("timestep \(t) out of range 0..<\(schedule.trainSteps)")
        }
    }

    /// E[x₀ | x_t] for every channel of `x` (whose rows may be a composite of fresh and stale data).
    func posteriorMean(_ x: Latent, prior p: GaussianFieldPrior, alphaBar ab: Double) -> [Float] {
        let n = x.height * x.width, wc = x.width / 2 + 1
        let a = ab.squareRoot(), s2 = (1 - ab) * noiseScale
        var out = [Float](repeating: 0, count: x.count)
        var field = [Double](repeating: 0, count: n)
        var spec = [Double](repeating: 0, count: 2 * x.height * wc)
        let norm = 1 / Double(n)
        for c in 0..<x.channels {
            for i in 0..<n { field[i] = Double(x.data[c * n + i]) }
            fft.forward(field, &spec)
            for i in 0..<(x.height * wc) {
                let S = p.grid[i]
                let hk = a * S / (a * a * S + s2) * norm
                spec[2 * i] *= hk; spec[2 * i + 1] *= hk
            }
            fft.backward(&spec, &field)
            for i in 0..<n { out[c * n + i] = Float(field[i]) }
        }
        return out
    }

    /// Converts x̂₀ into this denoiser's prediction type (uses the schedule's noise scale, s² = 1 − ᾱ).
    func output(_ x: Latent, x0: [Float], alphaBar ab: Double) -> Latent {
        let a = ab.squareRoot(), s = (1 - ab).squareRoot()
        var o = x
        switch predictionType {
        case .sample: o.data = x0
        case .epsilon:
            for j in 0..<o.count { o.data[j] = Float((Double(x.data[j]) - a * Double(x0[j])) / s) }
        case .vPrediction:
            for j in 0..<o.count {
                let e = (Double(x.data[j]) - a * Double(x0[j])) / s
                o.data[j] = Float(a * e - s * Double(x0[j]))
            }
        }
        return o
    }
}
