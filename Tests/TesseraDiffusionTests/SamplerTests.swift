import Testing
import Foundation
@testable import TesseraDiffusion

@Suite("Diffusion schedules and samplers")
struct SamplerTests {
    @Test func schedulesAreMonotoneAndMatchClosedForms() throws {
        let lin = try NoiseSchedule(.linear)
        #expect(abs(lin.betas[0] - 1e-4) < 1e-15 && abs(lin.betas[999] - 0.02) < 1e-15)
        // ᾱ_T for DDPM's linear schedule ≈ 4.0358e-5
        #expect(abs(lin.alphasCumprod[999] - 4.0358e-5) / 4.0358e-5 < 1e-3)
        let sl = try NoiseSchedule(.scaledLinear, betaStart: 0.00085, betaEnd: 0.012)
        #expect(abs(sl.betas[0] - 0.00085) < 1e-12 && abs(sl.betas[999] - 0.012) < 1e-12)
        let cs = try NoiseSchedule(.cosine)
        for s in [lin, sl, cs] {
            for i in 1..<s.trainSteps { #expect(s.alphasCumprod[i] < s.alphasCumprod[i - 1]) }
        }
        // cosine: ᾱ(t) = f(t)/f(0) with f(t) = cos²((t/T+s)/(1+s)·π/2) wherever β was not clipped
        func f(_ t: Double) -> Double { let c = cos((t / 1000 + 0.008) / 1.008 * .pi / 2); return c * c }
        #expect(abs(cs.alphasCumprod[499] - f(500) / f(0)) < 1e-12)
    }

    @Test func timestepsAreDistinctAndDescending() throws {
        let s = try NoiseSchedule(.linear)
        for spacing in TimestepSpacing.allCases {
            for n in [1, 7, 50, 1000] {
                let ts = try s.timesteps(n, spacing: spacing)
                #expect(ts.count == n)
                for i in 1..<max(1, ts.count) { #expect(ts[i] < ts[i - 1]) }
                #expect(ts.allSatisfy { $0 >= 0 && $0 < 1000 })
            }
        }
        #expect(throws: TesseraError.self) { _ = try s.timesteps(0) }
        #expect(throws: TesseraError.self) { _ = try s.timesteps(1001) }
        #expect(throws: TesseraError.self) { _ = try NoiseSchedule(.linear, trainSteps: 1) }
        #expect(throws: TesseraError.self) { _ = try NoiseSchedule(.linear, betaStart: 0, betaEnd: 0.02) }
    }

    @Test func gaussianRNGIsReproducibleAndStandard() {
        var a = GaussianRNG(seed: 42), b = GaussianRNG(seed: 42)
        var s = 0.0, s2 = 0.0
        let n = 200_000
        for _ in 0..<n { let x = a.next(); #expect(x == b.next()); s += x; s2 += x * x }
        #expect(abs(s / Double(n)) < 0.01)
        #expect(abs(s2 / Double(n) - 1) < 0.02)
    }

    @Test func priorSamplesMatchTheirSpectrum() throws {
        let prior = try GaussianFieldPrior(channels: 2, height: 32, width: 48, spectrum: .powerLaw(exponent: 3, cutoff: 0.05))
        let samples = (0..<16).map { prior.sample(seed: UInt64($0)) }
        let cmp = try SpectrumComparison(samples: samples, prior: prior)
        #expect(cmp.rmsLogError < 2.5 * cmp.expectedSamplingError, "rms \(cmp.rmsLogError) expected \(cmp.expectedSamplingError)")
        // unit pixel variance
        var v = 0.0, n = 0
        for s in samples { for x in s.data { v += Double(x * x); n += 1 } }
        #expect(abs(v / Double(n) - 1) < 0.15)
    }

    /// Per-frequency variance of deterministic DDIM's output on the exact Gaussian-field denoiser:
    /// every step is linear per DFT mode, x_prev = (√ᾱ' H + √(1−ᾱ')(1 − aH)/s) x_t, H = aS/(a²S + s²).
    func ddimOutputVariance(S: Double, schedule: NoiseSchedule, ts: [Int]) -> Double {
        var v = 1.0
        for i in 0..<ts.count {
            let ab = schedule.alphaBar(Double(ts[i])), abp = i + 1 < ts.count ? schedule.alphaBar(Double(ts[i + 1])) : 1
            let a = ab.squareRoot(), s = (1 - ab).squareRoot()
            let h = a * S / (a * a * S + s * s)
            let c = abp.squareRoot() * h + (1 - abp).squareRoot() * (1 - a * h) / s
            v *= c * c
        }
        return v
    }

    @Test func ddimOnExactDenoiserReproducesThePriorSpectrum() throws {
        let schedule = try NoiseSchedule(.linear)
        let prior = try GaussianFieldPrior(channels: 1, height: 32, width: 32, spectrum: .powerLaw(exponent: 2.5, cutoff: 0.05))
        let den = try GaussianFieldDenoiser(prior: prior, schedule: schedule)
        let sampler = DiffusionSampler(schedule: schedule)
        var o = SamplerOptions(kind: .ddim(eta: 0), steps: 100, seed: 1)
        o.spacing = .trailing
        let samples = try sampler.samples(den, count: 24, height: 32, width: 32, options: o)
        let cmp = try SpectrumComparison(samples: samples, prior: prior)
        // the sampler's own output spectrum, computed exactly per mode (discretisation and the
        // schedule's non-zero terminal SNR included): the samples must match it within sampling error
        let ts = try schedule.timesteps(100, spacing: .trailing)
        let analytic = GaussianFieldPrior(channels: 1, height: 32, width: 32, spectrum: prior.spectrum,
                                          grid: prior.grid.map { ddimOutputVariance(S: $0, schedule: schedule, ts: ts) })
        let cmpA = try SpectrumComparison(samples: samples, prior: analytic)
        #expect(cmpA.rmsLogError < 2 * cmpA.expectedSamplingError, "vs analytic: \(cmpA.rmsLogError), sampling \(cmpA.expectedSamplingError)")
        // and that spectrum is close to the prior's
        #expect(cmp.rmsLogError < 2.5 * cmp.expectedSamplingError + 0.05, "vs truth: \(cmp.rmsLogError)")
    }

    /// Output variance of one DFT mode of prior power S for any sampler with the exact denoiser: every
    /// step is linear per mode (x' = c·x + σ·z), so the variance follows v' = c²v + σ², written out
    /// independently of `DiffusionSampler` (same update formulas, scalar Double).
    func samplerOutputVariance(S: Double, schedule: NoiseSchedule, kind: SamplerKind, ts: [Int]) -> Double {
        let n = ts.count
        func ab(_ i: Int) -> Double { i < n ? schedule.alphaBar(Double(ts[i])) : 1 }
        func h(_ ab: Double) -> Double { let a = ab.squareRoot(), s2 = 1 - ab; return a * S / (ab * S + s2) }  // x̂₀ = h·x_vp
        switch kind {
        case .ddpm, .ddim:
            var v = 1.0
            for i in 0..<n {
                let a = ab(i).squareRoot(), s = (1 - ab(i)).squareRoot(), abp = ab(i + 1)
                let hx = h(ab(i)), he = (1 - a * hx) / s       // x̂₀ = hx·x, ε̂ = he·x
                var c: Double, sig = 0.0
                if case .ddim(let eta) = kind {
                    sig = eta * ((1 - abp) / (1 - ab(i)) * (1 - ab(i) / abp)).squareRoot()
                    c = abp.squareRoot() * hx + max(0, 1 - abp - sig * sig).squareRoot() * he
                } else {
                    let alphaStep = ab(i) / abp, betaStep = 1 - alphaStep
                    c = abp.squareRoot() * betaStep / (1 - ab(i)) * hx + alphaStep.squareRoot() * (1 - abp) / (1 - ab(i))
                    sig = (betaStep * (1 - abp) / (1 - ab(i))).squareRoot()
                }
                v = c * c * v + (i + 1 < n ? sig * sig : 0)
            }
            return v
        case .euler, .heun:
            func sigma(_ ab: Double) -> Double { ((1 - ab) / ab).squareRoot() }
            // d = k·x_ve with k = (1 − h/√(1+σ²))/σ
            func k(_ abv: Double) -> Double { let s = sigma(abv); return (1 - h(abv) / (1 + s * s).squareRoot()) / s }
            let s0 = sigma(ab(0))
            var g = (1 + s0 * s0).squareRoot()     // x_ve = g · x_vp(initial), deterministic ODE
            for i in 0..<n {
                let s = sigma(ab(i)), sn = i + 1 < n ? sigma(ab(i + 1)) : 0, dt = sn - s
                let k0 = k(ab(i))
                if kind == .heun && i + 1 < n && sn > DiffusionSampler.heunMinSigmaRatio * s {
                    let k1 = k(ab(i + 1))
                    g *= 1 + 0.5 * (k0 + k1 * (1 + k0 * dt)) * dt
                } else { g *= 1 + k0 * dt }
            }
            return g * g
        }
    }

    @Test func allSamplersMatchTheirExactOutputSpectrum() throws {
        // Each sampler's exact output spectrum (discretisation included) is computed per mode; the
        // samples must match it within sampling error — the RMS log error of nb bins is ≈ √(χ²_nb/nb)
        // times the expected error, so 2× is beyond the 0.9999 quantile for nb = 16 — and that spectrum
        // must be close to the prior's (a deterministic discretisation check: 80 DDPM steps leave ≤ 0.21 in ln
        // S on the worst mode, DDIM/Euler ≤ 0.12, Heun ≤ 0.05).
        let prior = try GaussianFieldPrior(channels: 1, height: 32, width: 32, spectrum: .powerLaw(exponent: 2, cutoff: 0.05))
        for sk in [BetaSchedule.linear, .cosine] {
            let schedule = try NoiseSchedule(sk)
            let sampler = DiffusionSampler(schedule: schedule)
            for pred in [PredictionType.epsilon, .vPrediction, .sample] {
                let den = try GaussianFieldDenoiser(prior: prior, schedule: schedule, predictionType: pred)
                for kind in [SamplerKind.ddpm, .ddim(eta: 0), .ddim(eta: 0.5), .euler, .heun] {
                    if pred != .epsilon && sk == .cosine && kind != .heun { continue }   // keep the test fast
                    let steps = kind == .heun ? 40 : 80
                    let samples = try sampler.samples(den, count: 24, height: 32, width: 32,
                                                      options: SamplerOptions(kind: kind, steps: steps, seed: 7))
                    let ts = try schedule.timesteps(steps, spacing: .trailing)
                    let exact = GaussianFieldPrior(channels: 1, height: 32, width: 32, spectrum: prior.spectrum,
                                                   grid: prior.grid.map { samplerOutputVariance(S: $0, schedule: schedule, kind: kind, ts: ts) })
                    let cmp = try SpectrumComparison(samples: samples, prior: exact)
                    #expect(cmp.rmsLogError < 2 * cmp.expectedSamplingError,
                            "\(sk) \(kind) \(pred): rms \(cmp.rmsLogError) vs sampling \(cmp.expectedSamplingError)")
                    // discretisation: the exact output spectrum vs the prior, mode by mode
                    var worst = 0.0
                    for (sv, ev) in zip(prior.grid, exact.grid) where sv > 1e-6 { worst = max(worst, abs(log(ev / sv))) }
                    #expect(worst < 0.25, "\(sk) \(kind): output spectrum off the prior by ln \(worst)")
                }
            }
        }
    }

    @Test func heunIsStableOnTheCosineSchedule() throws {
        // σ_max ≈ 2·10⁴ on the cosine schedule: the first step must not leave noise of that size behind
        let schedule = try NoiseSchedule(.cosine)
        let prior = try GaussianFieldPrior(channels: 1, height: 16, width: 16)
        let den = try GaussianFieldDenoiser(prior: prior, schedule: schedule)
        let x = try DiffusionSampler(schedule: schedule).sample(den, height: 16, width: 16,
                                                                 options: SamplerOptions(kind: .heun, steps: 20, seed: 1))
        let peak = x.data.map { abs($0) }.max() ?? .infinity
        #expect(peak.isFinite && peak < 10, "peak \(peak)")
    }

    @Test func epsilonAndVPredictionGiveTheSameSamples() throws {
        let schedule = try NoiseSchedule(.scaledLinear, betaStart: 0.00085, betaEnd: 0.012)
        let prior = try GaussianFieldPrior(channels: 3, height: 16, width: 16)
        let e = try GaussianFieldDenoiser(prior: prior, schedule: schedule, predictionType: .epsilon)
        let v = try GaussianFieldDenoiser(prior: prior, schedule: schedule, predictionType: .vPrediction)
        let sampler = DiffusionSampler(schedule: schedule)
        for kind in [SamplerKind.ddim(eta: 0), .ddpm, .heun] {
            let o = SamplerOptions(kind: kind, steps: 20, seed: 3)
            let a = try sampler.sample(e, height: 16, width: 16, options: o)
            let b = try sampler.sample(v, height: 16, width: 16, options: o)
            #expect(try DiffusionMetrics.maxAbsError(a, b) < 2e-3, "\(kind)")
            // seeded: the same call twice gives identical bits
            #expect(try sampler.sample(e, height: 16, width: 16, options: o) == a)
        }
    }

    @Test func classifierFreeGuidanceCombinesLinearly() throws {
        let schedule = try NoiseSchedule(.linear)
        let base = try GaussianFieldPrior(channels: 1, height: 16, width: 16, spectrum: .powerLaw(exponent: 3, cutoff: 0.05))
        let c0 = try GaussianFieldPrior(channels: 1, height: 16, width: 16, spectrum: .powerLaw(exponent: 1, cutoff: 0.05))
        let c1 = try GaussianFieldPrior(channels: 1, height: 16, width: 16, spectrum: .gaussian(correlationLength: 2))
        let den = try GaussianFieldDenoiser(prior: base, schedule: schedule, classPriors: [c0, c1])
        let sampler = DiffusionSampler(schedule: schedule)
        var o = SamplerOptions(kind: .ddim(eta: 0), steps: 10, seed: 5)
        o.classLabel = 0
        let cond = try sampler.sample(den, height: 16, width: 16, options: o)
        o.guidance = Guidance(scale: 1, classLabel: 0, unconditionalLabel: 1)
        #expect(try sampler.sample(den, height: 16, width: 16, options: o) == cond)
        // one guided step by hand
        let x = try Latent.gaussian(channels: 1, height: 16, width: 16, seed: 9)
        o.guidance = Guidance(scale: 3, classLabel: 0, unconditionalLabel: 1)
        let g = try sampler.guidedOutput(den, x, t: 500, options: o)
        let pc = try den.predict(x, timestep: 500, classLabel: 0), pu = try den.predict(x, timestep: 500, classLabel: 1)
        for j in 0..<g.count { #expect(abs(g.data[j] - (pu.data[j] + 3 * (pc.data[j] - pu.data[j]))) < 1e-5) }
        #expect(throws: TesseraError.self) { _ = try den.predict(x, timestep: 500, classLabel: 2) }
    }

    @Test func posteriorMeanMatchesAFloat64DirectSolve() throws {
        // Tiny field: E[x0|xt] = a Σ (a² Σ + s² I)⁻¹ xt with Σ the circulant covariance built from S.
        let schedule = try NoiseSchedule(.linear)
        let prior = try GaussianFieldPrior(channels: 1, height: 4, width: 6, spectrum: .powerLaw(exponent: 2, cutoff: 0.1))
        let den = try GaussianFieldDenoiser(prior: prior, schedule: schedule, predictionType: .sample)
        let x = try Latent.gaussian(channels: 1, height: 4, width: 6, seed: 1)
        let t = 300, ab = schedule.alphaBar(Double(t)), a = ab.squareRoot(), s2 = 1 - ab
        let n = 24
        // covariance C(d) = (1/N) Σ_k S_k e^{2πi k·d/N}
        var cov = [Double](repeating: 0, count: n * n)
        func S(_ ky: Int, _ kx: Int) -> Double {
            var y = ky, xx = kx
            if xx > 3 { xx = 6 - xx; y = (4 - y) % 4 }
            return prior.grid[y * 4 + xx]
        }
        for p in 0..<n { for q in 0..<n {
            let dy = (p / 6 - q / 6), dx = (p % 6 - q % 6)
            var c = 0.0
            for ky in 0..<4 { for kx in 0..<6 {
                c += S(ky, kx) * cos(2 * .pi * (Double(ky * dy) / 4 + Double(kx * dx) / 6))
            } }
            cov[p * n + q] = c / Double(n)
        } }
        // solve (a² C + s² I) y = xt by Gauss-Jordan, then x0 = a C y
        var m = cov.map { a * a * $0 }
        for i in 0..<n { m[i * n + i] += s2 }
        var y = x.data.map(Double.init)
        for c in 0..<n {
            let piv = m[c * n + c]
            for r in 0..<n where r != c {
                let f = m[r * n + c] / piv
                if f == 0 { continue }
                for k in 0..<n { m[r * n + k] -= f * m[c * n + k] }
                y[r] -= f * y[c]
            }
        }
        for i in 0..<n { y[i] /= m[i * n + i] }
        let out = try den.predict(x, timestep: t, classLabel: nil)
        for p in 0..<n {
            var v = 0.0
            for q in 0..<n { v += a * cov[p * n + q] * y[q] }
            #expect(abs(Double(out.data[p]) - v) < 1e-5)
        }
    }

    @Test func badInputIsRejected() throws {
        let schedule = try NoiseSchedule(.linear)
        let prior = try GaussianFieldPrior(channels: 1, height: 16, width: 16)
        let den = try GaussianFieldDenoiser(prior: prior, schedule: schedule)
        let sampler = DiffusionSampler(schedule: schedule)
        #expect(throws: TesseraError.self) { _ = try sampler.sample(den, height: 16, width: 16, options: SamplerOptions(steps: 0)) }
        #expect(throws: TesseraError.self) { _ = try sampler.sample(den, height: 32, width: 16, options: SamplerOptions(steps: 5)) }
        #expect(throws: TesseraError.self) { _ = try sampler.sample(den, height: 16, width: 16, options: SamplerOptions(kind: .ddim(eta: -1), steps: 5)) }
        #expect(throws: TesseraError.self) { _ = try SamplerKind(parsing: "plms") }
        #expect(try SamplerKind(parsing: "ddim:0.3") == .ddim(eta: 0.3))
        #expect(throws: TesseraError.self) { _ = try GaussianFieldPrior(height: 16, width: 15) }
        #expect(throws: TesseraError.self) { _ = try Latent(channels: 0, height: 1, width: 1) }
        #expect(throws: TesseraError.self) { _ = try Latent(channels: 1, height: 2, width: 2, data: [1, 2, 3]) }
    }
}
