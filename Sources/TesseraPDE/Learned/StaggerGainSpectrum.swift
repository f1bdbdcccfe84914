// Every Fourier mode's one-step gain of a heat model at once: one white-noise probe through one
// learned step, both fields transformed, |Ŷ(k)|/|X̂(k)| per mode. For an equivariant model with
// identity activations and no biases the learned step is a Fourier multiplier (shift-invariant
// and linear), so this is its exact |g(k)| at every wavenumber — the modes that are constant on
// every coarse grid (k ≡ 0 mod n/s) and their mixes included, which `modeResponse`'s short list
// and a smooth rollout never visit. For other models it is the amplification of the probe's
// mode k (what leaks in from elsewhere counts too), still an instability indicator.

import Foundation

/// One learned step's gain on every Fourier mode of the fine grid (`LearnedStagger.gainSpectrum`).
public struct StaggerGainSpectrum: Sendable {
    /// |g(k)| on the half spectrum: `gains[iy·(n/2+1) + ix]`, k_x = ix, k_y = iy (iy > n/2: iy − n).
    public var gains: [Double]
    /// The fine grid's n.
    public var n: Int
    /// The largest gain over every mode but the mean, and its mode (k_x, k_y).
    public var maxGain: Double, maxMode: (kx: Int, ky: Int)
    /// The largest gain over the modes constant on every coarse grid (k_x, k_y ≡ 0 mod n/s, not
    /// both 0): the coarse-mean aliases a coarse base step leaves undamped.
    public var maxAliasGain: Double
    /// The largest gain over the modes above the coarse grids' Nyquist limit (|k_x| or |k_y| ≥ n/(2s)).
    public var maxHighGain: Double
}

extension LearnedStagger {
    /// Every mode's one-step gain of a heat model from one white-noise probe (seeded). Errors:
    /// `.invalidArgument` for a non-heat model; FFTW and step errors.
    public func gainSpectrum(seed: UInt64 = 0x6A1, pool: ThreadPool? = nil) throws(TesseraError) -> StaggerGainSpectrum {
        guard config.equation == "heat" else { throw .invalidArgument("gainSpectrum: not a heat model") }
        let n = config.n, ncx = n / 2 + 1, grid = try config.grid()
        var rng = NetRandom(seed: seed)
        let x = (0..<(n * n)).map { _ in rng.normal() }
        let (c, sc) = try split(try Field(grid: grid, values: x))
        let y = try join(try step(coarse: [c], pool: pool)[0], scale: sc, grid: grid).toArray()
        let fft = try RealFFT.plan(shape: [n, n], threads: 1, effort: .estimate)
        let real = try AlignedDoubles(count: n * n), xs = try AlignedDoubles(count: 2 * n * ncx), ys = try AlignedDoubles(count: 2 * n * ncx)
        for i in 0..<(n * n) { real.pointer[i] = x[i] }
        fft.forward(real.pointer, xs.pointer)
        for i in 0..<(n * n) { real.pointer[i] = y[i] }
        fft.forward(real.pointer, ys.pointer)
        let period = n / config.factor
        var out = StaggerGainSpectrum(gains: [Double](repeating: 0, count: n * ncx), n: n, maxGain: 0, maxMode: (0, 0),
                                      maxAliasGain: 0, maxHighGain: 0)
        for iy in 0..<n {
            let ky = iy <= n / 2 ? iy : iy - n
            for ix in 0..<ncx where ix != 0 || iy != 0 {
                let j = 2 * (iy * ncx + ix)
                let xa = (xs.pointer[j] * xs.pointer[j] + xs.pointer[j + 1] * xs.pointer[j + 1]).squareRoot()
                let ya = (ys.pointer[j] * ys.pointer[j] + ys.pointer[j + 1] * ys.pointer[j + 1]).squareRoot()
                let g = xa > 0 ? ya / xa : 0
                out.gains[iy * ncx + ix] = g
                if g > out.maxGain { out.maxGain = g; out.maxMode = (ix, ky) }
                if ix % period == 0 && iy % period == 0 { out.maxAliasGain = Swift.max(out.maxAliasGain, g) }
                if 2 * config.factor * Swift.max(ix, abs(ky)) >= n { out.maxHighGain = Swift.max(out.maxHighGain, g) }
            }
        }
        return out
    }
}
