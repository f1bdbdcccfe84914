// The exact probability-flow solution for a Gaussian-field prior: the analytic answer that
// deterministic samplers (DDIM with η = 0, Euler, Heun) approximate, to compare samples with.

extension GaussianFieldPrior {
    /// The end point x₀ of the probability-flow ODE started from `noise` at ᾱ = `alphaBar`.
    /// Each unitary-DFT mode k is Gaussian with variance v_k(t) = ᾱ_t·S_k + 1 − ᾱ_t at every
    /// time, and the flow scales it by √(v_k(t)/v_k(T)): x₀,k = √(S_k / (ᾱ_T·S_k + 1 − ᾱ_T))·x_T,k.
    /// `DiffusionSampler` starts from `Latent.gaussian(..., seed:)` at its first timestep, so with
    /// that noise and `schedule.alphaBar(first timestep)` this is the sample an exact ODE solver
    /// would return for the seed. Errors: `.invalidArgument` for a noise of another shape or
    /// ᾱ outside (0, 1].
    public func flowSolution(from noise: Latent, alphaBar: Double) throws(TesseraError) -> Latent {
        guard noise.channels == channels, noise.height == height, noise.width == width else {
            throw .invalidArgument("flowSolution: noise is \(noise.shapeDescription), the prior is \(channels)x\(height)x\(width)")
        }
        guard alphaBar > 0, alphaBar <= 1 else { throw .invalidArgument("flowSolution: ᾱ = \(alphaBar) must be in (0, 1]") }
        let fft = FFT2D(height: height, width: width)
        let n = height * width, wc = width / 2 + 1
        var out = noise
        var field = [Double](repeating: 0, count: n)
        var spec = [Double](repeating: 0, count: 2 * height * wc)
        for c in 0..<channels {
            for i in 0..<n { field[i] = Double(noise.data[c * n + i]) }
            fft.forward(field, &spec)
            for i in 0..<(height * wc) {
                let s = grid[i]
                let gain = (s / (alphaBar * s + 1 - alphaBar)).squareRoot() / Double(n)
                spec[2 * i] *= gain; spec[2 * i + 1] *= gain
            }
            fft.backward(&spec, &field)
            for i in 0..<n { out.data[c * n + i] = Float(field[i]) }
        }
        return out
    }
}

extension SamplerKind {
    /// Whether the sampler integrates the probability-flow ODE (DDIM with η = 0, Euler, Heun):
    /// then each seed's sample approximates `GaussianFieldPrior.flowSolution` of its noise; the
    /// stochastic samplers (DDPM, DDIM with η > 0) only match it in distribution.
    public var followsProbabilityFlow: Bool {
        switch self {
        case .ddim(let eta): return eta == 0
        case .euler, .heun: return true
        case .ddpm: return false
        }
    }
}
