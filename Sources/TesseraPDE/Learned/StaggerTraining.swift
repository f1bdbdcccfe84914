// Training of a learned NeuralStagger model with the fine physics residual: random smooth
// initial fields (no solver data), Adam with a cosine learning-rate decay, a wall-clock budget,
// and an early stop (with the reason) when the loss or the gradient stops being finite.

import Foundation

/// Options of `LearnedStagger.train`.
public struct StaggerTrainingOptions: Sendable {
    /// Adam steps (at most).
    public var steps = 2000
    /// Fields per step.
    public var batch = 4
    /// Initial learning rate; it decays along a cosine to `learningRate·finalFraction`.
    public var learningRate = 2e-3
    /// Final learning rate as a fraction of the initial one.
    public var finalFraction = 0.01
    /// Stop after this many seconds (nil: no limit); the schedule follows whichever of steps and
    /// time is further along.
    public var timeBudget: Double? = nil
    /// Seed of the random training fields.
    public var seed: UInt64 = 1
    /// Largest wavenumber of the random fields on the model's domain (nil: n/8, at least 1).
    public var maxWavenumber: Int? = nil
    /// Train on periodic m×m patches of the same grid spacing (nil: the full n×n grid). The
    /// networks are convolutional and the residual is local, so a smaller periodic domain
    /// trains the same operator at (n/m)² less cost; m must divide n and be a multiple of s.
    public var patch: Int? = nil
    /// Half the training fields get white noise of RMS up to this fraction of theirs.
    public var roughness = 0.3
    /// Every training field u gets `aliasNoise`·(u + c)·P added, P a random zero-mean pattern of
    /// period s on both axes with RMS 1, c a random constant of u's RMS (0: none): the field's
    /// own spectrum (and a mean) shifted onto its aliases k + j·n/s, j ≠ 0 — the modes constant on every coarse grid (k ≡ 0 mod n/s) and
    /// their neighbourhoods, which fields decayed by the heat flow hold none of and a coarse base
    /// step leaves (nearly) undamped. Their residuals are then in the loss, so their gains are
    /// trained below 1; meant small (~1e-2), so the copies do not outweigh the smooth fields'
    /// residuals. (White noise spreads the same energy over all n² modes: the ~s² alias lines
    /// get a share too small to train.)
    public var aliasNoise = 0.0
    /// Heat: with a value, the held-out check also rejects parameters whose one-step gain on any
    /// Fourier mode (`gainSpectrum`, one white-noise probe on the model's n×n grid) exceeds it
    /// — the heat flow and its Crank–Nicolson step damp every mode, so a gain above 1 grows
    /// without bound in a rollout. Counted in `unstableChecks`.
    public var gainLimit: Double? = nil
    /// ns2d: peak wavenumbers (on a 2π box) and energies of the random initial vorticity fields.
    public var turbulencePeak: ClosedRange<Double> = 3...6, turbulenceEnergy: ClosedRange<Double> = 0.2...0.6
    /// With this > 0, half the training fields are replaced by the current model's own rollout of
    /// 1…rolloutInputs steps from them (no gradient through it, no solver involved): the
    /// networks then also see the states their rollouts produce.
    public var rolloutInputs = 0
    /// Weight of the chain's integral-form residual (`LearnedStagger.loss(integral:)`; with T
    /// temporal sub-steps it makes the loss measure the learned step's end error).
    public var integralWeight = 0.0
    /// c of the residual weighting P = (I − c∇²)⁻¹ (`LearnedStagger.loss(smoothing:)`; 0: none).
    public var residualSmoothing = 0.0
    /// Time τ of the heat-kernel factor of the residual weighting (`LearnedStagger.loss(decay:)`
    /// gets κ·τ; 0: none): a mode's error counts by its share after τ more of the rollout.
    public var residualDecay = 0.0
    /// Floor of that factor (every mode keeps at least this weight, so none goes untrained).
    public var residualDecayFloor = 0.01
    /// Heat: with this > 0, training fields are `randomDecayedField`s — every wavenumber up to
    /// the grid's limit with amplitude |k|^−`spectrumSlope`, damped by the exact heat flow over a
    /// random time, log-uniform in [TΔt/4, `decayedHorizon`] — the states a rollout of that
    /// horizon visits (an analytic generator, no solver); 0: `randomSmoothField`s.
    public var decayedHorizon = 0.0
    /// Amplitude slope of those fields.
    public var spectrumSlope = 1.0
    /// Every this many Adam steps (0: never) the loss (with the integral term at weight
    /// max(`integralWeight`, 1), which tracks a learned step's end error) is evaluated on
    /// `validationFields` held-out smooth fields of the training distribution without noise —
    /// physics only, no solver — and training ends with the parameters of the lowest such loss,
    /// the untrained model (step 0) included: training never returns a model that is worse on
    /// this measure than where it started.
    public var validationEvery = 0
    /// Held-out fields of that check.
    public var validationFields = 8
    /// With this > 0, that check also rolls the model this many steps from a held-out field with
    /// white noise (RMS 30 % of its own) and rejects parameters whose rollout grows in L2 norm:
    /// the heat flow and the vorticity equation's enstrophy only decay, so growth is an
    /// instability (typically of grid-scale modes, which a one-step loss weighs little).
    public var stabilitySteps = 0
    /// The sub-task networks run forward and backward in parallel on this pool's workers (nil:
    /// one after the other on the caller). Set OpenBLAS to one thread when using it.
    public var pool: ThreadPool? = nil
    /// Options with the defaults.
    public init() {}
}

/// What a training run did.
public struct StaggerTrainingReport: Sendable {
    /// Loss after each step.
    public var losses: [Double] = []
    /// Steps taken.
    public var steps = 0
    /// Wall-clock seconds.
    public var seconds = 0.0
    /// Why training stopped ("steps", "time budget", or the divergence).
    public var stopReason = ""
    /// Whether the stop was a divergence (non-finite loss or gradient).
    public var diverged = false
    /// Training fields per second.
    public var samplesPerSecond: Double { seconds > 0 ? Double(steps) * Double(batchSize) / seconds : 0 }
    /// Fields per step.
    public var batchSize = 0
    /// Convolution flops (forward + backward ≈ 3× forward) per training field.
    public var convFlopsPerSample = 0.0
    /// The held-out physics loss before training, the lowest one seen, and the Adam step whose
    /// parameters were kept (0: the untrained model); nil without `validationEvery`.
    public var initialValidationLoss: Double? = nil, bestValidationLoss: Double? = nil, bestStep: Int? = nil
    /// Checks whose parameters were rejected because the model's own rollout grew
    /// (`stabilitySteps`) or a mode's gain exceeded `gainLimit`.
    public var unstableChecks = 0
    /// The largest one-step mode gain at the last `gainLimit` check (nil without one).
    public var lastMaxGain: Double? = nil
}

/// A random smooth periodic field on an n×n square of side `length`: Fourier modes with
/// |k_x|, |k_y| ≤ kmax, Gaussian amplitudes with a random spectral width in [1, kmax], random
/// phases — the training distribution (it includes the smooth, decayed states of a rollout).
public func randomSmoothField(n: Int, length: Double = 2 * Double.pi, maxWavenumber kmax: Int, seed: UInt64) -> [Double] {
    var rng = NetRandom(seed: seed)
    let width = 1 + rng.uniform() * Double(max(0, kmax - 1))
    let w = 2 * Double.pi / length
    var u = [Double](repeating: 0, count: n * n)
    var cx = [Double](repeating: 0, count: n), sx = cx, cy = cx, sy = cx
    for ky in 0...kmax {
        for y in 0..<n { let a = w * Double(ky) * length * Double(y) / Double(n); cy[y] = cos(a); sy[y] = sin(a) }
        for kx in -kmax...kmax where !(ky == 0 && kx <= 0) {
            let k2 = Double(kx * kx + ky * ky)
            let amp = rng.normal() * exp(-k2 / (2 * width * width))
            let phase = 2 * Double.pi * rng.uniform()
            for x in 0..<n { let a = w * Double(kx) * length * Double(x) / Double(n) + phase; cx[x] = cos(a); sx[x] = sin(a) }
            for y in 0..<n {
                let (c, s) = (amp * cy[y], amp * sy[y])
                for x in 0..<n { u[y * n + x] += c * cx[x] - s * sx[x] }
            }
        }
    }
    return u
}

/// A random periodic field on an n×n square of side `length` as a heat rollout visits it: every
/// Fourier mode 0 < |k| below the grid's Nyquist limit, complex Gaussian amplitude times
/// |k|^−slope·exp(−κ|k|²·time) (the exact heat flow of a power-law field over `time`), built by
/// one inverse real FFT. Errors: `.invalidArgument` for n < 2, negative slope, κ or time; FFTW errors.
public func randomDecayedField(n: Int, length: Double = 2 * Double.pi, slope: Double, diffusivity: Double,
                               time: Double, seed: UInt64) throws(TesseraError) -> [Double] {
    guard n >= 2, length > 0, slope >= 0, slope.isFinite, diffusivity >= 0, time >= 0, time.isFinite else {
        throw .invalidArgument("randomDecayedField: need n ≥ 2, length > 0, slope, κ and time ≥ 0")
    }
    var rng = NetRandom(seed: seed)
    let ncx = n / 2 + 1, w = 2 * Double.pi / length
    let fft = try RealFFT.plan(shape: [n, n], threads: 1, effort: .estimate)
    let spec = try AlignedDoubles(count: 2 * n * ncx), real = try AlignedDoubles(count: n * n)
    spec.zero()
    for iy in 0..<n {
        let ky = iy <= n / 2 ? iy : iy - n
        for ix in 0..<ncx {
            let k2 = Double(ix * ix + ky * ky)
            // below Nyquist on both axes (the Nyquist modes are not a travelling wave)
            guard k2 > 0, ix < n / 2, abs(ky) < n / 2 else { continue }
            let a = pow(k2, -slope / 2) * exp(-diffusivity * w * w * k2 * time)
            spec.pointer[2 * (iy * ncx + ix)] = a * rng.normal(); spec.pointer[2 * (iy * ncx + ix) + 1] = a * rng.normal()
        }
    }
    fft.inverse(spec.pointer, real.pointer)
    return Array(UnsafeBufferPointer(start: real.pointer, count: n * n))
}

extension LearnedStagger {
    /// Trains every network on the fine residual `config.residual()` from random smooth fields;
    /// `progress(step, loss, learningRate)` after each step. A non-finite loss or gradient stops
    /// training (the networks keep the last finite parameters) with `diverged` and the reason.
    public mutating func train(options o: StaggerTrainingOptions,
                               progress: ((Int, Double, Double) -> Void)? = nil) throws(TesseraError) -> StaggerTrainingReport {
        guard o.steps >= 0, o.batch >= 1, o.learningRate > 0, o.learningRate.isFinite, o.finalFraction >= 0 else {
            throw .invalidArgument("LearnedStagger.train: need steps ≥ 0, batch ≥ 1 and a positive learning rate")
        }
        let kmax = o.maxWavenumber ?? max(1, config.n / 8)
        guard kmax >= 1, kmax < config.n / 2 else {
            throw .invalidArgument("LearnedStagger.train: maxWavenumber \(kmax) must be in 1..<\(config.n / 2)")
        }
        let m = o.patch ?? config.n
        guard m >= 2 * config.factor, m <= config.n, config.n % m == 0, m % config.factor == 0 else {
            throw .invalidArgument("LearnedStagger.train: patch \(m) must divide n = \(config.n) and be a multiple of s = \(config.factor)")
        }
        let side = config.length * Double(m) / Double(config.n)
        let residual = try config.residual(patch: m)
        guard o.aliasNoise >= 0, o.aliasNoise.isFinite, o.gainLimit.map({ $0 > 0 }) ?? true else {
            throw .invalidArgument("LearnedStagger.train: aliasNoise must be ≥ 0 and gainLimit > 0")
        }
        guard o.rolloutInputs >= 0, o.turbulencePeak.lowerBound > 0, o.turbulenceEnergy.lowerBound > 0 else {
            throw .invalidArgument("LearnedStagger.train: rolloutInputs ≥ 0 and positive turbulence peaks/energies needed")
        }
        let patchK = max(1, kmax * m / config.n)
        var adams = nets.map { AdamOptimizer(count: $0.parameters.count) }
        var report = StaggerTrainingReport()
        report.batchSize = o.batch
        report.convFlopsPerSample = 6 * Double(nets[0].macsPerPixel * (m / config.factor) * (m / config.factor) * config.subtasks)
        guard o.validationEvery >= 0, o.validationFields >= 1 else {
            throw .invalidArgument("LearnedStagger.train: validationEvery ≥ 0 and validationFields ≥ 1 needed")
        }
        var held: [[Double]] = []
        if o.validationEvery > 0 {
            for j in 0..<o.validationFields {
                var rng = NetRandom(seed: o.seed &* 0x9E37_79B9 &+ UInt64(j) &+ 17)
                held.append(try trainingField(side: m, length: side, maxWavenumber: patchK, options: o, rng: &rng,
                                              seed: o.seed &* 7_777_777 &+ UInt64(j) &+ 0xABCD))
            }
        }
        var none: [[T]]? = nil, best = nets
        var noisy = held.first ?? []
        if o.stabilitySteps > 0, !noisy.isEmpty {
            var rng = NetRandom(seed: o.seed &+ 0x57AB)
            let rms = (noisy.reduce(0) { $0 + $1 * $1 } / Double(noisy.count)).squareRoot()
            for i in noisy.indices { noisy[i] += 0.3 * rms * rng.normal() }
        }
        func validate(_ step: Int) throws(TesseraError) {
            let v = try loss(held, residual: residual, gradient: &none, pool: o.pool, integral: Swift.max(o.integralWeight, 1), smoothing: o.residualSmoothing,
                         decay: config.diffusivity * o.residualDecay, decayFloor: o.residualDecayFloor)
            if report.initialValidationLoss == nil { report.initialValidationLoss = v }
            if o.stabilitySteps > 0, step > 0, try rolloutGrows(noisy, side: m, steps: o.stabilitySteps, pool: o.pool) {
                report.unstableChecks += 1
                return
            }
            if let limit = o.gainLimit, step > 0, config.equation == "heat" {
                let g = try gainSpectrum(pool: o.pool).maxGain
                report.lastMaxGain = g
                if !(g <= limit) { report.unstableChecks += 1; return }
            }
            if v.isFinite, v < report.bestValidationLoss ?? .infinity { report.bestValidationLoss = v; report.bestStep = step; best = nets }
        }
        if !held.isEmpty { try validate(0) }
        let t0 = Date()
        var sample: UInt64 = 0
        report.stopReason = "steps"
        for step in 0..<o.steps {
            let elapsed = Date().timeIntervalSince(t0)
            if let b = o.timeBudget, elapsed >= b { report.stopReason = "time budget"; break }
            let frac = Swift.max(Double(step) / Double(o.steps), o.timeBudget.map { elapsed / $0 } ?? 0)
            let lr = o.learningRate * (o.finalFraction + (1 - o.finalFraction) * 0.5 * (1 + cos(Double.pi * Swift.min(1, frac))))
            var batch: [[Double]] = []
            for _ in 0..<o.batch {
                sample += 1
                var rng = NetRandom(seed: o.seed &+ sample &* 0x5851_F42D)
                var u = try trainingField(side: m, length: side, maxWavenumber: patchK, options: o, rng: &rng,
                                          seed: o.seed &* 1_000_003 &+ sample)
                if o.rolloutInputs > 0 && rng.uniform() < 0.5 {
                    u = try ownRollout(u, side: m, steps: 1 + Int(rng.uniform() * Double(o.rolloutInputs)), pool: o.pool)
                }
                // rough noise on half the fields: every wavenumber up to the grid's Nyquist limit
                // is trained (an untrained high mode may grow step after step in a rollout)
                if o.roughness > 0 && rng.uniform() < 0.5 {
                    let rms = (u.reduce(0) { $0 + $1 * $1 } / Double(u.count)).squareRoot()
                    let eps = o.roughness * rng.uniform() * rms
                    for i in u.indices { u[i] += eps * rng.normal() }
                }
                if o.aliasNoise > 0 { addAliasCopy(&u, side: m, amplitude: o.aliasNoise, rng: &rng) }
                batch.append(u)
            }
            var grads: [[T]]? = nets.map { [T](repeating: 0, count: $0.parameters.count) }
            let l = try loss(batch, residual: residual, gradient: &grads, pool: o.pool, integral: o.integralWeight, smoothing: o.residualSmoothing,
                         decay: config.diffusivity * o.residualDecay, decayFloor: o.residualDecayFloor)
            if !config.trainsBiases {   // held at zero: Adam then never moves them
                for j in nets.indices { for c in nets[j].convolutions { for i in 0..<c.outChannels { grads![j][c.biasOffset + i] = 0 } } }
            }
            guard l.isFinite else {
                report.diverged = true
                report.stopReason = "diverged: loss \(l) at step \(step + 1)"
                break
            }
            let saved = nets
            do {
                for j in nets.indices { try adams[j].update(&nets[j].parameters, gradient: grads![j], learningRate: lr) }
            } catch {
                nets = saved
                report.diverged = true
                report.stopReason = "diverged at step \(step + 1): \(error)"
                break
            }
            report.losses.append(l)
            report.steps = step + 1
            progress?(step + 1, l, lr)
            if !held.isEmpty, (step + 1) % o.validationEvery == 0 { try validate(step + 1) }
        }
        if !held.isEmpty {
            if report.steps % o.validationEvery != 0, !report.diverged { try validate(report.steps) }
            nets = best
        }
        report.seconds = Date().timeIntervalSince(t0)
        return report
    }

    /// One random field of the training distribution on an m×m patch of side `length` (heat:
    /// smooth Gaussian-spectrum field; ns2d: random turbulence of random peak and energy).
    func trainingField(side m: Int, length side: Double, maxWavenumber patchK: Int, options o: StaggerTrainingOptions,
                       rng: inout NetRandom, seed: UInt64) throws(TesseraError) -> [Double] {
        if config.equation == "ns2d" {
            let pk = o.turbulencePeak.lowerBound + rng.uniform() * (o.turbulencePeak.upperBound - o.turbulencePeak.lowerBound)
            let en = o.turbulenceEnergy.lowerBound + rng.uniform() * (o.turbulenceEnergy.upperBound - o.turbulenceEnergy.lowerBound)
            let g = try Grid(shape: [m, m], lengths: [side, side])
            return try NavierStokes2D.randomTurbulence(grid: g, peakWavenumber: pk * side / (2 * Double.pi), energy: en, seed: seed).toArray()
        }
        if o.decayedHorizon > 0 {
            // log-uniform in [TΔt/4, horizon]: the early states, which hold more modes (and set
            // the largest relative errors of a rollout), as often as the late smooth ones
            let tmin = Swift.min(o.decayedHorizon, config.learnedStep / 4)
            return try randomDecayedField(n: m, length: side, slope: o.spectrumSlope, diffusivity: config.diffusivity,
                                          time: tmin * pow(o.decayedHorizon / tmin, rng.uniform()), seed: seed)
        }
        return randomSmoothField(n: m, length: side, maxWavenumber: Swift.min(patchK, m / 2 - 1), seed: seed)
    }

    /// u += a·(u + c)·P with P a random zero-mean pattern of period s (RMS 1), c a random constant: see `aliasNoise`.
    func addAliasCopy(_ u: inout [Double], side m: Int, amplitude a: Double, rng: inout NetRandom) {
        let s = config.factor
        var p = (0..<(s * s)).map { _ in rng.normal() }
        let mean = p.reduce(0, +) / Double(s * s)
        for i in p.indices { p[i] -= mean }
        let rms = (p.reduce(0) { $0 + $1 * $1 } / Double(s * s)).squareRoot()
        guard rms > 0 else { return }
        // plus a random constant, so the pure aliases j·n/s (the copy of the mean) get energy too
        let c = (u.reduce(0) { $0 + $1 * $1 } / Double(max(1, u.count))).squareRoot() * rng.normal()
        for y in 0..<m { for x in 0..<m { u[y * m + x] += a / rms * p[(y % s) * s + x % s] * (u[y * m + x] + c) } }
    }

    /// Whether the model's own rollout of `steps` steps from a fine m×m field ever exceeds the
    /// field's L2 norm (or stops being finite).
    func rolloutGrows(_ u: [Double], side m: Int, steps: Int, pool: ThreadPool?) throws(TesseraError) -> Bool {
        let s = config.factor, hc = m / s, sc = scale(u)
        var c = (0..<config.subtasks).map { k in
            (0..<(hc * hc)).map { i in T(u[(k / s + s * (i / hc)) * m + k % s + s * (i % hc)] / sc) }
        }
        let n0 = c.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) * Double($1) } }
        let ws = try makeWorkspaces(batch: 1, side: hc)
        for _ in 0..<steps {
            c = try step(coarse: [c], side: hc, pool: pool, workspaces: ws)[0]
            let nk = c.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) * Double($1) } }
            if !(nk <= n0 * (1 + 1e-6)) { return true }
        }
        return false
    }

    /// The model's own rollout of `steps` steps from a fine m×m field (training inputs only).
    func ownRollout(_ u: [Double], side m: Int, steps: Int, pool: ThreadPool?) throws(TesseraError) -> [Double] {
        let s = config.factor, hc = m / s, sc = scale(u)
        var c = (0..<config.subtasks).map { k in
            (0..<(hc * hc)).map { i in T(u[(k / s + s * (i / hc)) * m + k % s + s * (i % hc)] / sc) }
        }
        let ws = try makeWorkspaces(batch: 1, side: hc)
        for _ in 0..<steps {
            // an unstable early model: keep the fresh field (checked every step: the next step's
            // coarse spectral base refuses a non-finite or blown-up field with `.invalidState`)
            do { c = try step(coarse: [c], side: hc, pool: pool, workspaces: ws)[0] } catch {
                if case .invalidState = error { return u }
                throw error
            }
            if c.contains(where: { $0.contains { !$0.isFinite } }) { return u }
        }
        var out = u
        for k in 0..<config.subtasks { for i in 0..<(hc * hc) { out[(k / s + s * (i / hc)) * m + k % s + s * (i % hc)] = Double(c[k][i]) * sc } }
        if out.contains(where: { !$0.isFinite }) { return u }   // finite coarse values can still overflow when scaled back
        return out
    }
}
