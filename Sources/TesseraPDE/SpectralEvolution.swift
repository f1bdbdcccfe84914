// Integrating-factor RK4 for u_t = L u + N(u) on a periodic box, with L diagonal in Fourier
// space (L_k = −ν|k|²): used by Burgers (1-D) and passive-scalar advection–diffusion (2-D/3-D).
// NavierStokes2D uses the same scheme with its stages fused for speed.

import Foundation

/// Integrating-factor RK4 stepping of a spectral state (see the file comment).
final class IFRK4 {
    let box: SpectralBox
    let state: AlignedDoubles
    private let a, b, c, d, st: AlignedDoubles
    private let eHalf: AlignedDoubles
    private var eDt = -1.0
    let diffusivity: Double

    init(box: SpectralBox, diffusivity: Double) throws(TesseraError) {
        self.box = box
        self.diffusivity = diffusivity
        let ns = 2 * box.complexCount
        state = try AlignedDoubles(count: ns)
        a = try AlignedDoubles(count: ns); b = try AlignedDoubles(count: ns)
        c = try AlignedDoubles(count: ns); d = try AlignedDoubles(count: ns)
        st = try AlignedDoubles(count: ns)
        eHalf = try AlignedDoubles(count: box.complexCount)
    }

    /// One step; `n(s, out)` writes N(s) (spectral) into out.
    func step(dt: Double, _ n: (AlignedDoubles, AlignedDoubles) -> Void) {
        if dt != eDt {
            let k2 = box.k2.pointer, e = eHalf.pointer, nu = diffusivity
            for j in 0..<box.complexCount { e[j] = exp(-nu * k2[j] * dt / 2) }
            eDt = dt
        }
        let e = eHalf.pointer, w = state.pointer, pa = a.pointer, pb = b.pointer, pc = c.pointer, pd = d.pointer, s = st.pointer
        let m = box.complexCount, h = dt / 2
        n(state, a)
        for j in 0..<m { for q in 0..<2 { let i = 2 * j + q; s[i] = e[j] * (w[i] + h * pa[i]) } }
        n(st, b)
        for j in 0..<m { for q in 0..<2 { let i = 2 * j + q; s[i] = e[j] * w[i] + h * pb[i] } }
        n(st, c)
        for j in 0..<m { for q in 0..<2 { let i = 2 * j + q; s[i] = e[j] * e[j] * w[i] + dt * e[j] * pc[i] } }
        n(st, d)
        for j in 0..<m { let E = e[j], E2 = E * E
            for q in 0..<2 { let i = 2 * j + q; w[i] = E2 * w[i] + dt / 6 * (E2 * pa[i] + 2 * E * (pb[i] + pc[i]) + pd[i]) } }
    }
}

/// Viscous Burgers equation u_t + u·u_x = ν·u_xx on a 1-D periodic interval: pseudo-spectral
/// (conservative form −(u²/2)_x, 2/3 rule), integrating-factor RK4.
public final class Burgers1D: @unchecked Sendable {
    /// The spectral discretisation.
    public let box: SpectralBox
    /// Viscosity ν.
    public let viscosity: Double
    /// Simulated time.
    public private(set) var time = 0.0
    let integ: IFRK4
    let tmp: AlignedDoubles, real: AlignedDoubles
    /// max|u| of the state before the last step (for the CFL check).
    public private(set) var maxVelocity = 0.0

    /// Errors: `.invalidArgument` for a non-1-D/non-periodic grid, ν < 0, non-finite u₀.
    public init(initial u: Field<Double>, viscosity: Double, effort: FFTEffort = .measure) throws(TesseraError) {
        guard u.grid.dimensions == 1 else { throw .invalidArgument("Burgers1D: grid must be 1-D (got \(u.grid.shape))") }
        guard viscosity >= 0, viscosity.isFinite else { throw .invalidArgument("Burgers1D: viscosity \(viscosity) must be ≥ 0") }
        try u.requireFinite("Burgers1D initial data")
        box = try SpectralBox(grid: u.grid, effort: effort)
        self.viscosity = viscosity
        integ = try IFRK4(box: box, diffusivity: viscosity)
        tmp = try box.spectrumBuffer()
        real = try box.realBuffer()
        box.forward(u, into: integ.state, scratch: real)
        maxVelocity = u.maxAbs
    }

    func nonlinear(_ s: AlignedDoubles, _ out: AlignedDoubles) {
        tmp.copy(from: s)
        box.fft.inverse(tmp.pointer, real.pointer)
        var m = 0.0
        for i in 0..<box.realCount { let u = real.pointer[i]; m = Swift.max(m, abs(u)); real.pointer[i] = 0.5 * u * u }
        box.fft.forward(real.pointer, out.pointer)
        let k = box.kd[0], keep = box.keep.pointer, o = out.pointer
        for j in 0..<box.complexCount {
            let re = o[2 * j], im = o[2 * j + 1], kk = k[j] * keep[j]
            o[2 * j] = kk * im; o[2 * j + 1] = -kk * re     // −i·k·z
        }
        if s === integ.state { maxVelocity = m }
    }

    /// Advances to time t with steps of at most dt. Errors: `.invalidState` when dt breaks the
    /// advective CFL limit (dt·max|u|/dx ≤ 1) or the solution stops being finite.
    public func advance(to t: Double, dt: Double) throws(TesseraError) {
        _ = try advance(to: t, dt: dt, control: nil)
    }

    /// `advance`, with `control()` after every step: false stops early (returns false).
    func advance(to t: Double, dt: Double, control: (() -> Bool)?) throws(TesseraError) -> Bool {
        guard dt > 0, dt.isFinite, t.isFinite else { throw .invalidArgument("Burgers1D: dt \(dt) and t \(t) must be positive/finite") }
        let dx = box.grid.spacing(0)
        while time < t - 1e-14 * Swift.max(1, t) {
            let h = Swift.min(dt, t - time)
            guard h * maxVelocity / dx <= 1 else {
                throw .invalidState(String(format: "Burgers1D: dt = %.4g gives CFL %.3g > 1 (max|u| = %.4g, dx = %.4g)", h, h * maxVelocity / dx, maxVelocity, dx))
            }
            integ.step(dt: h) { s, o in nonlinear(s, o) }
            time += h
            guard maxVelocity.isFinite else { throw .invalidState("Burgers1D: blow-up near t = \(time)") }
            if let control, !control() { return false }
        }
        return true
    }

    /// The current solution.
    public func solution() throws(TesseraError) -> Field<Double> { try box.field(from: integ.state, scratch: tmp) }
}

/// Passive-scalar advection–diffusion c_t + u·∇c = κ∇²c on a periodic 2-D or 3-D box with a
/// given steady, divergence-free velocity (one field per axis, C order: [v_y, v_x] in 2-D).
/// Pseudo-spectral with the 2/3 rule; integrating-factor RK4.
public final class AdvectionDiffusion: @unchecked Sendable {
    /// The spectral discretisation.
    public let box: SpectralBox
    /// Diffusivity κ.
    public let diffusivity: Double
    /// Simulated time.
    public private(set) var time = 0.0
    let integ: IFRK4
    let velocity: [AlignedDoubles]
    let grad: AlignedDoubles, gradReal: AlignedDoubles, acc: AlignedDoubles
    let maxSpeedOverDx: Double

    /// Errors: `.invalidArgument` for mismatched grids/velocity count, κ < 0, non-finite data.
    public init(initial c: Field<Double>, velocity v: [Field<Double>], diffusivity: Double,
                effort: FFTEffort = .measure) throws(TesseraError) {
        let g = c.grid
        guard g.dimensions >= 2, v.count == g.dimensions, v.allSatisfy({ $0.grid.shape == g.shape }) else {
            throw .invalidArgument("AdvectionDiffusion: need one velocity field per axis on grid \(g.shape)")
        }
        guard diffusivity >= 0, diffusivity.isFinite else { throw .invalidArgument("AdvectionDiffusion: diffusivity \(diffusivity) must be ≥ 0") }
        try c.requireFinite("AdvectionDiffusion initial scalar")
        for f in v { try f.requireFinite("AdvectionDiffusion velocity") }
        box = try SpectralBox(grid: g, effort: effort)
        self.diffusivity = diffusivity
        integ = try IFRK4(box: box, diffusivity: diffusivity)
        velocity = try v.map { (f) throws(TesseraError) -> AlignedDoubles in
            let a = try AlignedDoubles(count: g.count)
            f.withUnsafeBufferPointer { p in a.pointer.update(from: p.baseAddress!, count: g.count) }
            return a
        }
        maxSpeedOverDx = (0..<g.dimensions).map { v[$0].maxAbs / g.spacing($0) }.reduce(0, +)
        grad = try box.spectrumBuffer(); gradReal = try box.realBuffer(); acc = try box.realBuffer()
        box.forward(c, into: integ.state, scratch: acc)
    }

    func nonlinear(_ s: AlignedDoubles, _ out: AlignedDoubles) {
        acc.zero()
        let n = box.realCount
        for a in 0..<box.grid.dimensions {
            let sp = s.pointer, gp = grad.pointer
            for j in 0..<box.complexCount {
                let k = box.kd[a][box.axisIndex(j, a)]
                gp[2 * j] = -k * sp[2 * j + 1]; gp[2 * j + 1] = k * sp[2 * j]
            }
            box.fft.inverseUnscaled(gp, gradReal.pointer)
            let vp = velocity[a].pointer, r = gradReal.pointer, ap = acc.pointer, sc = 1 / Double(n)
            for i in 0..<n { ap[i] += vp[i] * r[i] * sc }
        }
        box.fft.forward(acc.pointer, out.pointer)
        let keep = box.keep.pointer, o = out.pointer
        for j in 0..<box.complexCount { o[2 * j] *= -keep[j]; o[2 * j + 1] *= -keep[j] }
    }

    /// Advances to time t with steps of at most dt. Errors: `.invalidState` if dt breaks the
    /// CFL limit dt·Σ|u_a|/dx_a ≤ 1.
    public func advance(to t: Double, dt: Double) throws(TesseraError) {
        _ = try advance(to: t, dt: dt, control: nil)
    }

    /// `advance`, with `control()` after every step: false stops early (returns false).
    func advance(to t: Double, dt: Double, control: (() -> Bool)?) throws(TesseraError) -> Bool {
        guard dt > 0, dt.isFinite, t.isFinite else { throw .invalidArgument("AdvectionDiffusion: dt \(dt), t \(t) must be positive/finite") }
        guard dt * maxSpeedOverDx <= 1 else {
            throw .invalidState(String(format: "AdvectionDiffusion: dt = %.4g gives CFL %.3g > 1", dt, dt * maxSpeedOverDx))
        }
        while time < t - 1e-14 * Swift.max(1, t) {
            let h = Swift.min(dt, t - time)
            integ.step(dt: h) { s, o in nonlinear(s, o) }
            time += h
            if let control, !control() { return false }
        }
        return true
    }

    /// The current concentration.
    public func solution() throws(TesseraError) -> Field<Double> { try box.field(from: integ.state, scratch: grad) }
}
