// A low-pass weighting of physics residuals: P = (I − c∇²)⁻¹ · (f + (1 − f)·exp(τ∇²)) on a
// periodic square grid (spectral symbol (f + (1 − f)e^{−τ|k|²})/(1 + c|k|²), an exact Fourier
// multiplier). The loss |P R|² has the same minimiser as |R|² (P is invertible) but weights the
// residual's long waves — the ones that survive a heat rollout and set its error — above the
// short ones, which the flow damps anyway. The heat-kernel factor exp(τ∇²) (τ = κ·time) is the
// exact flow over the rest of a rollout: an error made now in mode k is damped by e^{−κk²t}
// before the end, so that is its share of the end error; the floor f keeps every mode trained.

import Foundation

/// P = (I − c∇²)⁻¹·(f + (1 − f)exp(τ∇²)) on a periodic square grid, applied through a real FFT.
struct ResidualSmoother {
    let n: Int, ncx: Int
    let weight: [Double]
    let fft: RealFFT
    let real: AlignedDoubles, spec: AlignedDoubles

    /// Errors: `.invalidArgument` for a grid that is not 2-D, square and periodic, c < 0, τ < 0 or
    /// a floor outside [0, 1]; FFTW errors.
    init(grid: Grid, c: Double, decay tau: Double = 0, floor f: Double = 0) throws(TesseraError) {
        guard grid.dimensions == 2, grid.isPeriodic, grid.shape[0] == grid.shape[1], c >= 0, c.isFinite,
              tau >= 0, tau.isFinite, f >= 0, f <= 1 else {
            throw .invalidArgument("ResidualSmoother: a square 2-D periodic grid, c ≥ 0, τ ≥ 0 and a floor in [0, 1] are needed (got \(grid), c = \(c), τ = \(tau), floor \(f))")
        }
        n = grid.shape[0]; ncx = n / 2 + 1
        let sy = 2 * Double.pi / grid.lengths[0], sx = 2 * Double.pi / grid.lengths[1]
        var w = [Double](repeating: 0, count: n * ncx)
        for iy in 0..<n {
            let ky = sy * Double(iy <= n / 2 ? iy : iy - n)
            for ix in 0..<ncx { let kx = sx * Double(ix); let k2 = kx * kx + ky * ky
                w[iy * ncx + ix] = (tau > 0 ? f + (1 - f) * exp(-tau * k2) : 1) / (1 + c * k2) }
        }
        weight = w
        fft = try RealFFT.plan(shape: [n, n], threads: 1, effort: .estimate)
        real = try AlignedDoubles(count: n * n); spec = try AlignedDoubles(count: 2 * n * ncx)
    }

    /// P applied `times` times to a row-major n×n field.
    func apply(_ f: [Double], times: Int = 1) -> [Double] {
        real.pointer.update(from: f, count: n * n)
        fft.forward(real.pointer, spec.pointer)
        for j in 0..<(n * ncx) {
            var w = 1.0
            for _ in 0..<times { w *= weight[j] }
            spec.pointer[2 * j] *= w; spec.pointer[2 * j + 1] *= w
        }
        fft.inverse(spec.pointer, real.pointer)
        return Array(UnsafeBufferPointer(start: real.pointer, count: n * n))
    }
}
