// Physics residual of 2-D incompressible flow in vorticity form on the fine periodic grid, for
// training learned NeuralStagger solvers of decaying turbulence without solver labels.
//
//   ω_t + u·∇ω = ν∇²ω,  u = ∂ψ/∂y, v = −∂ψ/∂x, ∇²ψ = −ω          (the operators of NavierStokes2D)
//
// One step is the implicit midpoint rule (Crank–Nicolson for the viscous term) with the
// pseudo-spectral, 2/3-dealiased advection N(ω) = P[u·ω_x + v·ω_y]:
//
//   R(ω₀, ω₁) = ω₁ − ω₀ + Δt·[N(ω_m) − ν∇²ω_m],  ω_m = (ω₀ + ω₁)/2.
//
// Its gradient needs the adjoint of N's Jacobian at ω_m. Every operator is a Fourier multiplier
// M(k) with M(−k) = conj M(k) (the dealiasing P removes the Nyquist modes), so Mᵀ = conj M:
//   Jᵀr = −A_u(ω_x q) − A_v(ω_y q) − D_x(u q) − D_y(v q),  q = P r,
// with A_u = i k_y/|k|²·P, A_v = −i k_x/|k|²·P, D = i k·P.

import Foundation

/// Implicit-midpoint residual of the 2-D vorticity equation (pseudo-spectral, 2/3 rule) on a
/// periodic square grid; its zero is one implicit-midpoint step of the fine discretisation.
public final class NS2DMidpointResidual: StepResidual, @unchecked Sendable {
    /// The fine periodic 2-D grid.
    public let grid: Grid
    /// Kinematic viscosity ν.
    public let viscosity: Double
    /// Time step Δt.
    public let dt: Double
    let fft: RealFFT
    let n: Int, nc: Int, ncx: Int
    let kx: [Double], ky: [Double], k2: [Double], keep: [Double]
    let lock = NSLock()   // the scratch buffers below are per instance
    let specA, specB, realA: AlignedDoubles

    /// Errors: `.invalidArgument` for a grid that is not 2-D, square-celled and periodic, ν < 0
    /// or Δt ≤ 0; FFTW errors.
    public init(grid: Grid, viscosity: Double, dt: Double) throws(TesseraError) {
        guard grid.dimensions == 2, grid.isPeriodic, grid.shape[0] == grid.shape[1], grid.shape[0] >= 4 else {
            throw .invalidArgument("NS2DMidpointResidual: a square 2-D periodic grid of at least 4² is needed (got \(grid))")
        }
        guard viscosity >= 0, viscosity.isFinite, dt > 0, dt.isFinite else {
            throw .invalidArgument("NS2DMidpointResidual: viscosity \(viscosity) must be ≥ 0 and dt \(dt) positive")
        }
        self.grid = grid; self.viscosity = viscosity; self.dt = dt
        n = grid.shape[0]; ncx = n / 2 + 1; nc = n * ncx
        fft = try RealFFT.plan(shape: [n, n], threads: 1, effort: .estimate)
        let sy = 2 * Double.pi / grid.lengths[0], sx = 2 * Double.pi / grid.lengths[1]
        let nn = grid.shape[0]
        let m: (Int) -> Int = { i in i <= nn / 2 ? i : i - nn }
        var kx = [Double](repeating: 0, count: nc), ky = kx, k2 = kx, keep = kx
        for iy in 0..<n { for ix in 0..<ncx {
            let j = iy * ncx + ix, my = m(iy), mx = ix
            kx[j] = sx * Double(mx); ky[j] = sy * Double(my)
            k2[j] = kx[j] * kx[j] + ky[j] * ky[j]
            keep[j] = (3 * abs(my) < n && 3 * mx < n) ? 1 : 0
        } }
        (self.kx, self.ky, self.k2, self.keep) = (kx, ky, k2, keep)
        specA = try AlignedDoubles(count: 2 * nc); specB = try AlignedDoubles(count: 2 * nc)
        realA = try AlignedDoubles(count: n * n)
    }

    /// Spectrum of a real field.
    func spectrum(_ f: [Double]) -> [Double] {
        realA.pointer.update(from: f, count: n * n)
        fft.forward(realA.pointer, specA.pointer)
        return Array(UnsafeBufferPointer(start: specA.pointer, count: 2 * nc))
    }

    /// The real field of `multiplier(j)·ŝ` (multiplier (re, im) per half-spectrum mode).
    func apply(_ s: [Double], _ multiplier: (Int) -> (Double, Double)) -> [Double] {
        let b = specB.pointer
        for j in 0..<nc {
            let (mr, mi) = multiplier(j), re = s[2 * j], im = s[2 * j + 1]
            b[2 * j] = mr * re - mi * im; b[2 * j + 1] = mr * im + mi * re
        }
        fft.inverse(b, realA.pointer)
        return Array(UnsafeBufferPointer(start: realA.pointer, count: n * n))
    }

    /// Velocities and vorticity gradient (u, v, ω_x, ω_y) of ω, all from the dealiased spectrum.
    func fields(_ w: [Double]) -> (u: [Double], v: [Double], wx: [Double], wy: [Double]) {
        let s = spectrum(w)
        let inv: (Int) -> Double = { j in self.k2[j] == 0 ? 0 : self.keep[j] / self.k2[j] }
        return (apply(s) { j in (0, self.ky[j] * inv(j)) }, apply(s) { j in (0, -self.kx[j] * inv(j)) },
                apply(s) { j in (0, self.kx[j] * self.keep[j]) }, apply(s) { j in (0, self.ky[j] * self.keep[j]) })
    }

    /// ∇²f (spectral, all modes).
    func laplacian(_ f: [Double]) -> [Double] { apply(spectrum(f)) { j in (-self.k2[j], 0) } }

    /// The dealiased advection N(ω) = P[u·ω_x + v·ω_y].
    public func advection(_ w: [Double]) -> [Double] {
        lock.lock(); defer { lock.unlock() }
        return advectionLocked(w)
    }

    func advectionLocked(_ w: [Double]) -> [Double] {
        let f = fields(w)
        var p = [Double](repeating: 0, count: n * n)
        for i in p.indices { p[i] = f.u[i] * f.wx[i] + f.v[i] * f.wy[i] }
        return apply(spectrum(p)) { j in (self.keep[j], 0) }
    }

    /// The residual R(ω₀, ω₁).
    public func residual(u0: [Double], u1: [Double]) -> [Double] {
        lock.lock(); defer { lock.unlock() }
        return residualLocked(u0, u1)
    }

    func residualLocked(_ w0: [Double], _ w1: [Double]) -> [Double] {
        let wm = zip(w0, w1).map { 0.5 * ($0 + $1) }
        let adv = advectionLocked(wm), lap = laplacian(wm)
        var r = [Double](repeating: 0, count: n * n)
        for i in r.indices { r[i] = w1[i] - w0[i] + dt * (adv[i] - viscosity * lap[i]) }
        return r
    }

    /// mean R² and its gradient (2/count)·(∂R/∂ω₁)ᵀR = (2/count)·[R + (Δt/2)(JᵀR − ν∇²R)].
    public func lossAndGradient(u0: [Double], u1: [Double]) -> (loss: Double, gradient: [Double]) {
        let (l, _, g1) = lossAndGradients(u0: u0, u1: u1)
        return (l, g1)
    }

    /// mean R² and its gradients w.r.t. ω₀, (2/count)·[−R + (Δt/2)(JᵀR − ν∇²R)] (ω_m depends on
    /// ω₀ as on ω₁), and w.r.t. ω₁.
    public func lossAndGradients(u0: [Double], u1: [Double]) -> (loss: Double, gradient0: [Double], gradient1: [Double]) {
        lock.lock(); defer { lock.unlock() }
        let cnt = Double(n * n)
        let r = residualLocked(u0, u1)
        let (g0, g1) = adjointLocked(u0, u1, r.map { 2 * $0 / cnt })
        return (r.reduce(0) { $0 + $1 * $1 } / cnt, g0, g1)
    }

    /// ((∂R/∂ω₀)ᵀv, (∂R/∂ω₁)ᵀv) = (−v + x, v + x), x = (Δt/2)(Jᵀv − ν∇²v) at ω_m.
    public func adjoint(u0: [Double], u1: [Double], v: [Double]) -> (gradient0: [Double], gradient1: [Double]) {
        lock.lock(); defer { lock.unlock() }
        return adjointLocked(u0, u1, v)
    }

    func adjointLocked(_ u0: [Double], _ u1: [Double], _ r: [Double]) -> (gradient0: [Double], gradient1: [Double]) {
        let wm = zip(u0, u1).map { 0.5 * ($0 + $1) }
        let jtr = jacobianTransposeLocked(wm, r), lapR = laplacian(r)
        var g0 = [Double](repeating: 0, count: n * n), g1 = g0
        for i in g1.indices {
            let x = 0.5 * dt * (jtr[i] - viscosity * lapR[i])
            g1[i] = r[i] + x; g0[i] = x - r[i]
        }
        return (g0, g1)
    }

    /// Jᵀr, J = ∂N/∂ω at ω (the transposed Jacobian of the dealiased advection; see the file comment).
    func jacobianTransposeLocked(_ w: [Double], _ r: [Double]) -> [Double] {
        let f = fields(w)
        // q = P r; the four products, then the adjoint multipliers summed in one spectrum
        let q = apply(spectrum(r)) { j in (self.keep[j], 0) }
        let inv: (Int) -> Double = { j in self.k2[j] == 0 ? 0 : self.keep[j] / self.k2[j] }
        let a = spectrum(zip(f.wx, q).map(*)), b = spectrum(zip(f.wy, q).map(*))
        let c = spectrum(zip(f.u, q).map(*)), d = spectrum(zip(f.v, q).map(*))
        var sum = [Double](repeating: 0, count: 2 * nc)
        for j in 0..<nc {
            // −[A_u a + A_v b + D_x c + D_y d], each multiplier purely imaginary: i·m·z = (−m·im, m·re)
            let mu = ky[j] * inv(j), mv = -kx[j] * inv(j), mx = kx[j] * keep[j], my = ky[j] * keep[j]
            let im = mu * a[2 * j + 1] + mv * b[2 * j + 1] + mx * c[2 * j + 1] + my * d[2 * j + 1]
            let re = mu * a[2 * j] + mv * b[2 * j] + mx * c[2 * j] + my * d[2 * j]
            sum[2 * j] = im; sum[2 * j + 1] = -re
        }
        return apply(sum) { _ in (1, 0) }
    }
}
