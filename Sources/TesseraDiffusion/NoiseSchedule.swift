import Foundation

/// How the training noise levels β₁…β_T are laid out (the variance-preserving family of DDPM).
public enum BetaSchedule: String, Sendable, CaseIterable {
    /// β linear from `betaStart` to `betaEnd` (DDPM, Ho et al. 2020).
    case linear
    /// √β linear from √betaStart to √betaEnd, then squared (Stable Diffusion's "scaled_linear").
    case scaledLinear = "scaled_linear"
    /// ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2), s = 0.008, β clipped at 0.999 (Nichol & Dhariwal; "squaredcos_cap_v2").
    case cosine = "squaredcos_cap_v2"
}

/// Which quantity the network predicts.
public enum PredictionType: String, Sendable, CaseIterable {
    /// the noise ε in x_t = √ᾱ x₀ + √(1−ᾱ) ε
    case epsilon
    /// v = √ᾱ ε − √(1−ᾱ) x₀ (Salimans & Ho 2022)
    case vPrediction = "v_prediction"
    /// x₀ itself
    case sample
}

/// Which sampling timesteps are used out of the `trainSteps` training steps.
public enum TimestepSpacing: String, Sendable, CaseIterable {
    /// t_i = round(linspace(T−1, 0, n)) — includes both ends.
    case linspace
    /// t_i = T − 1 − i·T/n (as diffusers "trailing"): starts at the noisiest training step.
    case trailing
    /// t_i = (n−1−i)·(T/n) (diffusers "leading", DDIM's original spacing).
    case leading
}

/// A variance-preserving noise schedule: β_t, α_t = 1 − β_t, ᾱ_t = Π α_s, all in Double.
public struct NoiseSchedule: Sendable, Equatable {
    /// The layout of the βs.
    public let kind: BetaSchedule
    /// Training timesteps T.
    public let trainSteps: Int
    /// β₁…β_T.
    public let betas: [Double]
    /// ᾱ_t = Π_{s ≤ t} (1 − β_s), for t = 1…T.
    public let alphasCumprod: [Double]

    /// A schedule of `trainSteps` βs of the given kind (diffusers' defaults).
    public init(_ kind: BetaSchedule = .linear, trainSteps: Int = 1000,
                betaStart: Double = 0.0001, betaEnd: Double = 0.02) throws(TesseraError) {
        guard trainSteps >= 2, trainSteps <= 100_000 else {
            throw .invalidArgument("NoiseSchedule: trainSteps must be in 2...100000 (got \(trainSteps))")
        }
        guard betaStart > 0, betaEnd > 0, betaStart < 1, betaEnd < 1, betaStart.isFinite, betaEnd.isFinite else {
            throw .invalidArgument("NoiseSchedule: betaStart and betaEnd must lie in (0, 1) (got \(betaStart), \(betaEnd))")
        }
        let T = trainSteps
        var b = [Double](repeating: 0, count: T)
        switch kind {
        case .linear:
            for i in 0..<T { b[i] = betaStart + (betaEnd - betaStart) * Double(i) / Double(T - 1) }
        case .scaledLinear:
            let s0 = betaStart.squareRoot(), s1 = betaEnd.squareRoot()
            for i in 0..<T { let s = s0 + (s1 - s0) * Double(i) / Double(T - 1); b[i] = s * s }
        case .cosine:
            func abar(_ t: Double) -> Double { let c = cos((t + 0.008) / 1.008 * Double.pi / 2); return c * c }
            for i in 0..<T {
                let t1 = Double(i) / Double(T), t2 = Double(i + 1) / Double(T)
                b[i] = min(1 - abar(t2) / abar(t1), 0.999)
            }
        }
        var ac = [Double](repeating: 0, count: T)
        var p = 1.0
        for i in 0..<T { p *= 1 - b[i]; ac[i] = p }
        self.kind = kind; self.trainSteps = T; self.betas = b; self.alphasCumprod = ac
    }

    /// ᾱ at a (possibly fractional) training timestep; t < 0 means "clean" (ᾱ = 1).
    public func alphaBar(_ t: Double) -> Double {
        if t < 0 { return 1 }
        let tc = min(t, Double(trainSteps - 1))
        let i = Int(tc.rounded(.down)), f = tc - Double(i)
        if i + 1 >= trainSteps || f == 0 { return alphasCumprod[i] }
        // interpolate log ᾱ (smooth, exact at integers)
        return exp((1 - f) * log(alphasCumprod[i]) + f * log(alphasCumprod[i + 1]))
    }

    /// The `steps` sampling timesteps, noisiest first, all distinct. Throws if `steps` is not in 1...trainSteps.
    public func timesteps(_ steps: Int, spacing: TimestepSpacing = .trailing) throws(TesseraError) -> [Int] {
        guard steps >= 1 else { throw .invalidArgument("steps must be positive (got \(steps))") }
        guard steps <= trainSteps else {
            throw .invalidArgument("steps (\(steps)) must not exceed the schedule's \(trainSteps) training steps")
        }
        let T = trainSteps
        var ts: [Int]
        switch spacing {
        case .linspace:
            ts = (0..<steps).map { i in steps == 1 ? T - 1 : Int((Double(T - 1) * Double(steps - 1 - i) / Double(steps - 1)).rounded()) }
        case .trailing:
            ts = (0..<steps).map { i in T - 1 - Int((Double(i) * Double(T) / Double(steps)).rounded(.down)) }
        case .leading:
            let r = T / steps
            ts = (0..<steps).map { i in (steps - 1 - i) * r }
        }
        return ts
    }
}
