// Validation of a learned heat model against the fine solver (FDHeat, Crank–Nicolson: the
// discretisation the loss is the residual of) and the exact spectral solution. Solver data is
// used here only, never in training.

import Foundation

/// A learned rollout compared with the fine solver.
public struct StaggerRolloutComparison: Sendable {
    /// ‖learned − fine‖₂/‖fine‖₂ after each step (index 0: after step 1).
    public var relativeL2: [Double] = []
    /// ‖learned − exact‖₂/‖exact‖₂ after the last step (exact heat flow of the initial field).
    public var relativeL2VsExact = 0.0
    /// ‖u₀ − fine‖₂/‖fine‖₂ after the last step: the error of not moving at all (persistence).
    public var persistenceL2 = 0.0
    /// Wall seconds of the learned rollout and of the fine solver.
    public var learnedSeconds = 0.0, fineSeconds = 0.0
    /// Fine solver steps per learned step (the model's temporal sub-steps T).
    public var fineStepsPerStep = 1
    /// ‖FDHeat CN taking the learned step TΔt − fine reference‖₂/‖fine reference‖₂ after each
    /// learned step: the fine discretisation itself with the large step (a control).
    public var sameStepRelativeL2: [Double] = []
    /// Learned, fine and exact fields after the last step.
    public var learned: Field<Double>, fine: Field<Double>, exact: Field<Double>
    /// The largest relative L2 error over the rollout (every learned step).
    public var maxRelativeL2: Double { relativeL2.max() ?? .nan }
}

/// ‖a − b‖₂/‖b‖₂.
public func relativeL2(_ a: Field<Double>, _ b: Field<Double>) -> Double {
    let x = a.toArray(), y = b.toArray()
    var num = 0.0, den = 0.0
    for i in 0..<min(x.count, y.count) { num += (x[i] - y[i]) * (x[i] - y[i]); den += y[i] * y[i] }
    return den > 0 ? (num / den).squareRoot() : num.squareRoot()
}

extension LearnedStagger where T == Float {
    /// Rolls the model forward `steps` learned steps of TΔt from `u0` (sub-tasks in parallel on
    /// `pool`) and the fine reference `FDHeat(.crankNicolson)` with Δt over the same time (T
    /// fine steps per learned step), timing both; also FDHeat CN taking TΔt itself.
    /// Errors: as `rollout` and `FDHeat`.
    public func compareHeatRollout(_ u0: Field<Double>, steps: Int, pool: ThreadPool? = nil) throws -> StaggerRolloutComparison {
        guard config.equation == "heat" else { throw TesseraError.invalidArgument("compareHeatRollout: not a heat model") }
        let k = config.temporalSteps, fdt = config.dt
        let timed = try FDHeat(initial: u0, diffusivity: config.diffusivity, dt: fdt, scheme: .crankNicolson,
                               pool: pool ?? .shared)
        let t1 = Date()
        try timed.advance(steps: steps * k, tolerance: 1e-12)
        let fineSeconds = Date().timeIntervalSince(t1)
        var fineFields: [Field<Double>] = [], same: [Double] = []
        let fine = try FDHeat(initial: u0, diffusivity: config.diffusivity, dt: fdt, scheme: .crankNicolson,
                              pool: pool ?? .shared)
        let big = try FDHeat(initial: u0, diffusivity: config.diffusivity, dt: config.learnedStep, scheme: .crankNicolson,
                             pool: pool ?? .shared)
        for _ in 0..<steps {
            try fine.advance(steps: k, tolerance: 1e-12)
            fineFields.append(try fine.solution())
            try big.advance(steps: 1, tolerance: 1e-12)
            same.append(relativeL2(try big.solution(), fineFields[fineFields.count - 1]))
        }
        let t0 = Date()
        let learned = try rollout(u0, steps: steps, pool: pool)
        let learnedSeconds = Date().timeIntervalSince(t0)
        var rel: [Double] = []
        _ = try rollout(u0, steps: steps, pool: pool) { s, f in rel.append(relativeL2(f, fineFields[s - 1])) }
        let exact = try SpectralHeat(grid: u0.grid, diffusivity: config.diffusivity, effort: .estimate)
            .advance(u0, by: config.learnedStep * Double(steps))
        let last = fineFields.last ?? u0
        var c = StaggerRolloutComparison(learned: learned, fine: last, exact: exact)
        c.relativeL2 = rel
        c.sameStepRelativeL2 = same
        c.fineStepsPerStep = k
        c.relativeL2VsExact = relativeL2(learned, exact)
        c.persistenceL2 = relativeL2(u0, last)
        c.learnedSeconds = learnedSeconds
        c.fineSeconds = fineSeconds
        return c
    }
}

/// A learned vorticity rollout compared with the fine spectral solver (`NavierStokes2D`).
public struct StaggerNS2DComparison: Sendable {
    /// ‖learned − fine‖₂/‖fine‖₂ after each learned step (index 0: after step 1).
    public var relativeL2: [Double] = []
    /// Shell energy spectra E(k) (k = 0, 1, …) of the learned and the fine field after the last step.
    public var learnedSpectrum: [Double] = [], fineSpectrum: [Double] = []
    /// max over the resolved shells 1 ≤ k < n/3 of max(E_learned/E_fine, E_fine/E_learned).
    public var worstSpectrumRatio = 0.0
    /// ‖ω₀ − fine‖₂/‖fine‖₂ after the last step (not moving at all).
    public var persistenceL2 = 0.0
    /// Wall seconds of the learned rollout and of the fine solver over the same time; fine steps taken.
    public var learnedSeconds = 0.0, fineSeconds = 0.0, fineSteps = 0
    /// Learned and fine vorticity after the last step.
    public var learned: Field<Double>, fine: Field<Double>
}

extension LearnedStagger where T == Float {
    /// Rolls an ns2d model `steps` learned steps of TΔt from `w0` and `NavierStokes2D` (IF-RK4, CFL 0.5
    /// adaptive, the same viscosity) over the same time, comparing after every step; also the
    /// energy spectra at the end. Errors: as `rollout` and `NavierStokes2D`.
    public func compareNS2DRollout(_ w0: Field<Double>, steps: Int, pool: ThreadPool? = nil) throws -> StaggerNS2DComparison {
        guard config.equation == "ns2d" else { throw TesseraError.invalidArgument("compareNS2DRollout: not an ns2d model") }
        guard steps >= 1 else { throw TesseraError.invalidArgument("compareNS2DRollout: steps \(steps) must be ≥ 1") }
        let opts = NS2DOptions(viscosity: config.diffusivity)
        let timed = try NavierStokes2D(vorticity: w0, options: opts, effort: .estimate)
        let t1 = Date()
        try timed.advance(to: config.learnedStep * Double(steps))
        let fineSeconds = Date().timeIntervalSince(t1)
        let fine = try NavierStokes2D(vorticity: w0, options: opts, effort: .estimate)
        var fineFields: [Field<Double>] = []
        for s in 1...steps {
            try fine.advance(to: config.learnedStep * Double(s))
            fineFields.append(try fine.vorticity())
        }
        let t0 = Date()
        let learned = try rollout(w0, steps: steps, pool: pool)
        let learnedSeconds = Date().timeIntervalSince(t0)
        var rel: [Double] = []
        _ = try rollout(w0, steps: steps, pool: pool) { s, f in rel.append(relativeL2(f, fineFields[s - 1])) }
        var c = StaggerNS2DComparison(learned: learned, fine: fineFields[steps - 1])
        c.relativeL2 = rel
        c.persistenceL2 = relativeL2(w0, fineFields[steps - 1])
        c.learnedSeconds = learnedSeconds; c.fineSeconds = fineSeconds; c.fineSteps = timed.steps
        c.fineSpectrum = fine.energySpectrum()
        c.learnedSpectrum = try NavierStokes2D(vorticity: learned, options: opts, effort: .estimate).energySpectrum()
        c.worstSpectrumRatio = NS2DCeiling.worstSpectrumRatio(c.learnedSpectrum, c.fineSpectrum, n: config.n)
        return c
    }
}

/// How one learned step acts on one Fourier mode (heat): the unstaggered step is shift-invariant
/// by s only, so a mode k comes back as g·(itself) plus its aliases k + j·n/s (`leak`).
public struct StaggerModeResponse: Sendable {
    /// Wavenumbers (integers on the model's domain).
    public var kx: Int, ky: Int
    /// Amplitude of the mode itself after one learned step, per unit input: the real part of
    /// the complex gain (cos input projected on cos, sin on sin, averaged).
    public var gain: Double
    /// Its imaginary part (a phase shift: cos input projected on sin, minus sin on cos, halved;
    /// zero for a symmetric stencil).
    public var rotation: Double
    /// exp(−κ|k|²·TΔt): the exact heat flow over the learned step.
    public var exact: Double
    /// The fine discretisation's factor: T Crank–Nicolson steps of the 5-point Laplacian.
    public var fineCN: Double
    /// ‖output − (its projection on the mode)‖/‖output‖: the part moved to other modes (aliases).
    public var leak: Double
    /// |(g/fineCN)^N − 1| after N = `steps` learned steps, g = gain + i·rotation, signed as
    /// |g|^N − fineCN^N (negative: the mode decays too fast): that mode's relative rollout error
    /// against the fine solver, phase included, leak ignored.
    public func rolloutError(steps: Int) -> Double {
        let n = Double(steps), r = pow((gain * gain + rotation * rotation).squareRoot() / fineCN, n)
        let th = n * atan2(rotation, gain)
        let e = ((r * cos(th) - 1) * (r * cos(th) - 1) + r * sin(th) * r * sin(th)).squareRoot()
        return r < 1 ? -e : e
    }
}

extension LearnedStagger where T == Float {
    /// Pushes single Fourier modes cos(k·x), sin(k·x) through one learned step and measures the
    /// per-mode gain against the exact flow and the fine CN scheme (heat): which modes a rollout's
    /// error comes from. Errors: `.invalidArgument` for a non-heat model or |k| ≥ n/2.
    public func modeResponse(_ modes: [(Int, Int)], pool: ThreadPool? = nil) throws -> [StaggerModeResponse] {
        guard config.equation == "heat" else { throw TesseraError.invalidArgument("modeResponse: not a heat model") }
        let n = config.n, grid = try config.grid(), w = 2 * Double.pi / config.length, h = config.length / Double(n)
        let ws = try makeWorkspaces(batch: 1)
        return try modes.map { (kx, ky) in
            guard abs(kx) < n / 2, abs(ky) < n / 2, kx != 0 || ky != 0 else {
                throw TesseraError.invalidArgument("modeResponse: mode (\(kx), \(ky)) must be non-zero and below n/2 = \(n / 2)")
            }
            var gains: [Double] = [], turns: [Double] = [], leaks: [Double] = []
            for phase in [0.0, Double.pi / 2] {
                // v: the input (cos, then sin), q: its quadrature partner (sin, then −cos)
                let arg = (0..<(n * n)).map { i in w * (Double(kx * (i % n)) + Double(ky * (i / n))) * h - phase }
                let v = arg.map { cos($0) }, q = arg.map { sin($0) }
                let (c, sc) = try split(try Field(grid: grid, values: v))
                let u1 = try join(try step(coarse: [c], pool: pool, workspaces: ws)[0], scale: sc, grid: grid).toArray()
                var dv = 0.0, dq = 0.0, vv = 0.0, qq = 0.0, uu = 0.0
                for i in 0..<(n * n) { dv += u1[i] * v[i]; dq += u1[i] * q[i]; vv += v[i] * v[i]; qq += q[i] * q[i]; uu += u1[i] * u1[i] }
                let (a, b) = (dv / vv, qq > 0 ? dq / qq : 0)
                var res = 0.0
                for i in 0..<(n * n) { let e = u1[i] - a * v[i] - b * q[i]; res += e * e }
                gains.append(a); turns.append(b); leaks.append(uu > 0 ? (res / uu).squareRoot() : 0)
            }
            let k2 = Double(kx * kx + ky * ky) * w * w
            let lam = -4 / (h * h) * (pow(sin(Double(kx) * w * h / 2), 2) + pow(sin(Double(ky) * w * h / 2), 2))
            let a = config.diffusivity * config.dt * lam / 2
            let cn = pow((1 + a) / (1 - a), Double(config.temporalSteps))
            return StaggerModeResponse(kx: kx, ky: ky, gain: (gains[0] + gains[1]) / 2, rotation: (turns[0] + turns[1]) / 2,
                                       exact: exp(-config.diffusivity * k2 * config.learnedStep), fineCN: cn,
                                       leak: max(leaks[0], leaks[1]))
        }
    }
}
