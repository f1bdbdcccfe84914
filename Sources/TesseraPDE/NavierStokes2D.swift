// 2-D incompressible Navier–Stokes in vorticity–streamfunction form on a periodic box:
//
//   ω_t + u·∇ω = ν∇²ω − αω + F,   ∇²ψ = −ω,   u = ∂ψ/∂y,  v = −∂ψ/∂x
//
// Pseudo-spectral: derivatives in Fourier space, the product u·∇ω in physical space with the
// 2/3 rule (inputs and output truncated to |m| < n/3 per axis), time stepping by the
// integrating-factor RK4 scheme (Lawson): the linear part −νk² − α is integrated exactly,
// RK4 handles the nonlinear term. Per step: 4 stages × (2 inverse + 2 forward) = 16 real FFTs
// (Basdevant's form of u·∇ω, see `evaluate`), each pruned to the 2/3 band (BandFFT2D).
// The step is CFL-adaptive (dt = cfl·min(dx, dy)/max|u|, capped by maxDt) unless fixed.

import Foundation

/// Settings of a `NavierStokes2D` run.
public struct NS2DOptions: Sendable {
    /// Kinematic viscosity ν ≥ 0.
    public var viscosity: Double
    /// Target CFL number of the adaptive step (IF-RK4 is stable to about 2.8/π ≈ 0.9 on the
    /// advective term; 0.5 leaves a margin).
    public var cfl: Double = 0.5
    /// Largest step the adaptive rule may take.
    public var maxDt: Double = 0.05
    /// A fixed step instead of the adaptive one (checked against `cflLimit` at each step).
    public var fixedDt: Double? = nil
    /// Linear drag α ≥ 0 (removes energy at large scales in forced runs).
    public var drag: Double = 0
    /// Steady forcing F(x, y) of the vorticity equation, on the solver's grid.
    public var forcing: Field<Double>? = nil
    /// CFL number above which a step is refused as unstable.
    public var cflLimit: Double = 0.9

    /// Options with viscosity ν and the defaults for the rest (adaptive steps, CFL 0.5).
    public init(viscosity: Double) { self.viscosity = viscosity }
}

/// Diagnostics of a 2-D flow (domain means).
public struct NS2DDiagnostics: Sendable {
    /// E = ½⟨|u|²⟩.
    public var energy: Double
    /// Z = ½⟨ω²⟩.
    public var enstrophy: Double
    /// P = ½⟨|∇ω|²⟩ (dZ/dt = −2νP without forcing or drag).
    public var palinstrophy: Double
    /// max |u| over the grid at the last evaluation.
    public var maxVelocity: Double
}

/// A 2-D Navier–Stokes solver (see the file comment for the scheme).
public final class NavierStokes2D: @unchecked Sendable {
    /// The spectral discretisation (grid, FFT plans, wavenumbers).
    public let box: SpectralBox
    /// The options the solver was made with.
    public let options: NS2DOptions
    /// Simulated time.
    public private(set) var time = 0.0
    /// Steps taken.
    public private(set) var steps = 0
    /// The last step size taken.
    public private(set) var lastDt = 0.0

    var w: AlignedDoubles                         // ω̂, the state
    var ka: AlignedDoubles                        // N(ω̂), the first stage's nonlinear term
    let kb, kc: AlignedDoubles                    // stage nonlinear terms
    var kd: AlignedDoubles
    var stage: AlignedDoubles                     // the next state (swapped with w after a step)
    let uh, vh: AlignedDoubles                    // spectral work for one evaluation
    let ur, vr: AlignedDoubles                    // physical work
    let bandFFT: BandFFT2D                        // transforms pruned to the 2/3-rule band
    let force: AlignedDoubles?
    let eHalf: AlignedDoubles                      // e^{L dt/2}
    private var eHalfDt = -1.0
    private var maxU = 0.0, maxV = 0.0
    let nx: Int, ny: Int, ncx: Int

    /// Errors: `.invalidArgument` for a non-2-D or non-periodic grid, ν < 0, non-finite
    /// initial vorticity, bad options (cfl ∉ (0, cflLimit], maxDt ≤ 0, forcing on another grid).
    public init(vorticity: Field<Double>, options: NS2DOptions, effort: FFTEffort = .measure) throws(TesseraError) {
        let g = vorticity.grid
        guard g.dimensions == 2 else { throw .invalidArgument("NavierStokes2D: grid must be 2-D (got \(g.shape))") }
        guard options.viscosity >= 0, options.viscosity.isFinite else {
            throw .invalidArgument("NavierStokes2D: viscosity \(options.viscosity) must be ≥ 0 and finite")
        }
        guard options.cfl > 0, options.cfl <= options.cflLimit, options.maxDt > 0, options.drag >= 0 else {
            throw .invalidArgument("NavierStokes2D: need 0 < cfl (\(options.cfl)) ≤ cflLimit (\(options.cflLimit)), maxDt > 0, drag ≥ 0")
        }
        if let dt = options.fixedDt, !(dt > 0 && dt.isFinite) {
            throw .invalidArgument("NavierStokes2D: fixedDt \(dt) must be positive")
        }
        try vorticity.requireFinite("NavierStokes2D initial vorticity")
        box = try SpectralBox(grid: g, effort: effort)
        self.options = options
        ny = g.shape[0]; nx = g.shape[1]; ncx = nx / 2 + 1
        let ns = 2 * box.complexCount, nr = box.realCount
        w = try AlignedDoubles(count: ns)
        ka = try AlignedDoubles(count: ns); kb = try AlignedDoubles(count: ns)
        kc = try AlignedDoubles(count: ns); kd = try AlignedDoubles(count: ns)
        stage = try AlignedDoubles(count: ns)
        uh = try AlignedDoubles(count: ns); vh = try AlignedDoubles(count: ns)
        ur = try AlignedDoubles(count: nr); vr = try AlignedDoubles(count: nr)
        bandFFT = try BandFFT2D.plan(ny: ny, nx: nx, effort: effort)
        eHalf = try AlignedDoubles(count: box.complexCount)
        if let f = options.forcing {
            guard f.grid.shape == g.shape else {
                throw .invalidArgument("NavierStokes2D: forcing shape \(f.grid.shape) != grid \(g.shape)")
            }
            try f.requireFinite("NavierStokes2D forcing")
            let fh = try AlignedDoubles(count: ns)
            box.forward(f, into: fh, scratch: ur)
            let keep = box.keep.pointer
            for j in 0..<box.complexCount { fh.pointer[2 * j] *= keep[j]; fh.pointer[2 * j + 1] *= keep[j] }
            force = fh
        } else {
            force = nil
        }
        box.forward(vorticity, into: w, scratch: ur)
        let keep = box.keep.pointer
        for j in 0..<box.complexCount { w.pointer[2 * j] *= keep[j]; w.pointer[2 * j + 1] *= keep[j] }
        evaluate(.state(w), into: ka)  // velocities for the first CFL estimate
    }

    /// The spectral state `velocities`/`evaluate` work on: a stored one, or an IF-RK4 stage
    /// formed on the fly from ω̂ and the stage terms (`next`: the step's result, also stored in `stage`).
    enum StageInput: Equatable {
        case state(AlignedDoubles), stage2, stage3, stage4, next
        static func == (l: StageInput, r: StageInput) -> Bool {
            switch (l, r) {
            case (.state(let a), .state(let b)): return a === b
            case (.stage2, .stage2), (.stage3, .stage3), (.stage4, .stage4), (.next, .next): return true
            default: return false
            }
        }
    }

    /// The velocities (u, v) of the spectral state `input`, unnormalised (N·u, N·v for N grid
    /// points), into `ur`, `vr` (destroys `uh`, `vh`).
    func velocities(_ input: StageInput) {
        let kx = box.kd[1], ky = box.kd[0], k2 = box.k2.pointer
        let u = uh.pointer, v = vh.pointer
        let ncx = ncx, band = bandFFT.band
        // the IF-RK4 stage states, formed here rather than in a pass of their own
        // (h = dt/2, E = e^{L·dt/2}; a…d the stage nonlinear terms)
        let e = eHalf.pointer, wp = w.pointer, a = ka.pointer, b = kb.pointer, c = kc.pointer, d = kd.pointer
        let st = stage.pointer, dt = eHalfDt, h = dt / 2, s6 = dt / 6
        let sp: UnsafeMutablePointer<Double>?
        if case .state(let given) = input { sp = given.pointer } else { sp = nil }
        @inline(__always) func value(_ i: Int, _ E: Double) -> Double {
            switch input {
            case .state: return sp![i]
            case .stage2: return E * (wp[i] + h * a[i])
            case .stage3: return E * wp[i] + h * b[i]
            case .stage4: return E * E * wp[i] + dt * E * c[i]
            case .next:
                let E2 = E * E
                let x = E2 * wp[i] + s6 * (E2 * a[i] + 2 * E * (b[i] + c[i]) + d[i])
                st[i] = x
                return x
            }
        }
        let storeNext = input == .next
        box.forRows { rows in
            for iy in rows {
                let kyv = ky[iy], row = iy * ncx
                for ix in 0..<band {
                    let j = row + ix, E = e[j]
                    let re = value(2 * j, E), im = value(2 * j + 1, E)
                    let q = k2[j] == 0 ? 0 : 1 / k2[j]
                    let pr = re * q, pi = im * q          // ψ̂ = ω̂/k²
                    let kxv = kx[ix]
                    // i·k·z = (−k·im, k·re)
                    u[2 * j] = -kyv * pi; u[2 * j + 1] = kyv * pr      // u = ψ_y
                    v[2 * j] = kxv * pi; v[2 * j + 1] = -kxv * pr      // v = −ψ_x
                }
                // outside the band (zero after the 2/3 rule): the pruned inverse needs zeros
                (u + 2 * (row + band)).update(repeating: 0, count: 2 * (ncx - band))
                (v + 2 * (row + band)).update(repeating: 0, count: 2 * (ncx - band))
                if storeNext { (st + 2 * (row + band)).update(repeating: 0, count: 2 * (ncx - band)) }
            }
        }
        bandFFT.inverseUnscaled(u, ur.pointer)
        bandFFT.inverseUnscaled(v, vr.pointer)
    }

    /// The nonlinear term −(u·∇ω)^ (dealiased) + F̂ of the spectral state `s`, into `out`.
    /// Also records max|u|, max|v| of the state.
    ///
    /// u·∇ω is evaluated in Basdevant's form for 2-D incompressible flow,
    /// u·∇ω = (∂xx − ∂yy)(uv) + ∂xy(v² − u²) (the curl of ∇·(u⊗u)): two inverse transforms
    /// (u, v) and two forward ones (uv, v² − u²) instead of 4 + 1, with the same dealiased result
    /// to round-off (the identity holds exactly for the band-limited, divergence-free fields).
    func evaluate(_ input: StageInput, into out: AlignedDoubles) {
        velocities(input)
        let n = box.realCount
        let scale = 1 / (Double(n) * Double(n))
        let pu = ur.pointer, pv = vr.pointer
        let nx = nx
        let workers = box.pool.threadCount
        var mu = [Double](repeating: 0, count: workers * 2)
        mu.withUnsafeMutableBufferPointer { m in
            let mp = m.baseAddress!
            box.pool.parallelFor(0..<ny, schedule: .static) { rows, worker in
                var a = 0.0, b = 0.0
                for i in (rows.lowerBound * nx)..<(rows.upperBound * nx) {
                    let uu = pu[i], vv = pv[i]
                    a = Swift.max(a, abs(uu)); b = Swift.max(b, abs(vv))
                    pu[i] = uu * vv * scale
                    pv[i] = (vv * vv - uu * uu) * scale
                }
                mp[2 * worker] = Swift.max(mp[2 * worker], a)
                mp[2 * worker + 1] = Swift.max(mp[2 * worker + 1], b)
            }
        }
        maxU = (0..<workers).map { mu[2 * $0] }.max()! / Double(n)
        maxV = (0..<workers).map { mu[2 * $0 + 1] }.max()! / Double(n)
        bandFFT.forwardBand(pu, out.pointer)      // (uv)^
        bandFFT.forwardBand(pv, uh.pointer)       // (v² − u²)^
        let kx = box.kd[1], ky = box.kd[0]
        let keep = box.keep.pointer, o = out.pointer, bq = uh.pointer, f = force?.pointer
        let ncx = ncx, band = bandFFT.band
        box.forRows { rows in
            for iy in rows {
                let kyv = ky[iy], row = iy * ncx
                for ix in 0..<band {
                    let j = row + ix, kxv = kx[ix]
                    let ca = (kyv * kyv - kxv * kxv) * keep[j], cb = kxv * kyv * keep[j]
                    // −[(ky² − kx²)·(uv)^ − kx·ky·(v² − u²)^]
                    o[2 * j] = cb * bq[2 * j] - ca * o[2 * j]
                    o[2 * j + 1] = cb * bq[2 * j + 1] - ca * o[2 * j + 1]
                }
                (o + 2 * (row + band)).update(repeating: 0, count: 2 * (ncx - band))
                if let f {
                    for j in row..<(row + ncx) { o[2 * j] += f[2 * j]; o[2 * j + 1] += f[2 * j + 1] }
                }
            }
        }
    }

    /// The CFL number a step dt would have at the current velocities.
    public func cflNumber(dt: Double) -> Double {
        let dx = box.grid.spacing(1), dy = box.grid.spacing(0)
        return dt * (maxU / dx + maxV / dy)
    }

    /// The step the adaptive rule (or `fixedDt`) chooses now.
    public var nextDt: Double {
        if let dt = options.fixedDt { return dt }
        let dx = box.grid.spacing(1), dy = box.grid.spacing(0)
        let rate = maxU / dx + maxV / dy
        return rate > 0 ? Swift.min(options.maxDt, options.cfl / rate) : options.maxDt
    }

    /// Takes one IF-RK4 step and returns its dt. Errors: `.invalidState` if the fixed step
    /// exceeds the CFL limit, or the solution blew up (non-finite or growing past every bound)
    /// — the state is then left at the last good step.
    @discardableResult
    public func step() throws(TesseraError) -> Double {
        try step(dt: nextDt)
    }

    /// Takes one step of a given size (see `step()`).
    @discardableResult
    public func step(dt: Double) throws(TesseraError) -> Double {
        guard dt > 0, dt.isFinite else { throw .invalidArgument("NavierStokes2D: step \(dt) must be positive") }
        let c = cflNumber(dt: dt)
        guard c <= options.cflLimit else {
            throw .invalidState(String(format: "NavierStokes2D: step dt = %.4g gives CFL %.3g > limit %.3g (max|u| = %.4g); use a smaller dt or the adaptive step", dt, c, options.cflLimit, Swift.max(maxU, maxV)))
        }
        if dt != eHalfDt {
            let k2 = box.k2.pointer, e = eHalf.pointer, nu = options.viscosity, al = options.drag
            box.forChunks(box.complexCount) { r in for j in r { e[j] = exp((-nu * k2[j] - al) * dt / 2) } }
            eHalfDt = dt
        }
        // a = N(ω) — already evaluated at the end of the previous step (or in init)
        evaluate(.stage2, into: kb)
        evaluate(.stage3, into: kc)
        evaluate(.stage4, into: kd)
        evaluate(.next, into: kd)  // the new state into `stage`; N of it: next step's `a`, and its velocities
        let bad = !(maxU.isFinite && maxV.isFinite) || maxU > 1e150
        if bad {
            evaluate(.state(w), into: ka)  // restore velocities of the last good state
            throw .invalidState(String(format: "NavierStokes2D: blow-up at step %d (t = %.6g, dt = %.4g): the velocity is no longer finite; reduce cfl/maxDt or raise the viscosity/resolution", steps + 1, time + dt, dt))
        }
        swap(&w, &stage)
        swap(&ka, &kd)
        time += dt
        steps += 1
        lastDt = dt
        return dt
    }

    /// Steps until `time ≥ t` (the last step is shortened to land on t exactly unless fixed).
    public func advance(to t: Double, progress: ((NavierStokes2D) -> Void)? = nil) throws(TesseraError) {
        _ = try advance(to: t) { progress?(self); return true }
    }

    /// The most adaptive steps one `advance` may need: a velocity so large that its CFL step is
    /// below (t − time) / 10⁸ is refused instead of stepped for days.
    static let maxAdvanceSteps = 1e8

    /// `advance`, with `control()` after every step: false stops early (returns false).
    func advance(to t: Double, control: () -> Bool) throws(TesseraError) -> Bool {
        while time < t - 1e-14 * Swift.max(1, abs(t)) {
            if options.fixedDt == nil, (t - time) / nextDt > Self.maxAdvanceSteps {
                throw .invalidState(String(format: "NavierStokes2D: reaching t = %.6g from t = %.6g needs over %.0e steps at the CFL step dt = %.4g (max|u| = %.4g): the velocity is too large for this grid", t, time, Self.maxAdvanceSteps, nextDt, Swift.max(maxU, maxV)))
            }
            if options.fixedDt == nil, nextDt > t - time {
                try step(dt: t - time)
            } else {
                try step()
            }
            if !control() { return false }
        }
        return true
    }

    // MARK: state out

    /// The current vorticity ω.
    public func vorticity() throws(TesseraError) -> Field<Double> { try box.field(from: w, scratch: stage) }

    /// The current velocity (u, v).
    public func velocity() throws(TesseraError) -> (u: Field<Double>, v: Field<Double>) {
        velocities(.state(w))  // ur/vr: unscaled velocities
        var u = try Field<Double>(grid: box.grid), v = try Field<Double>(grid: box.grid)
        let s = 1 / Double(box.realCount)
        u.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = ur.pointer[i] * s } }
        v.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] = vr.pointer[i] * s } }
        return (u, v)
    }

    /// Energy, enstrophy, palinstrophy of the current state.
    public var diagnostics: NS2DDiagnostics {
        let e = box.spectralSum(w) { a, k2 in k2 == 0 ? 0 : a / k2 } / 2
        let z = box.spectralSum(w) { a, _ in a } / 2
        let p = box.spectralSum(w) { a, k2 in a * k2 } / 2
        return NS2DDiagnostics(energy: e, enstrophy: z, palinstrophy: p, maxVelocity: Swift.max(maxU, maxV))
    }

    /// Shell-summed energy spectrum E(k), k = 0, 1, … in units of the box's fundamental
    /// wavenumber (Σ_k E(k) = energy).
    public func energySpectrum() -> [Double] {
        let l = box.grid.lengths, n2 = Double(box.realCount) * Double(box.realCount)
        let k0 = 2 * Double.pi / Swift.min(l[0], l[1])
        var shells = [Double](repeating: 0, count: Swift.max(nx, ny) + 1)
        for j in 0..<box.complexCount {
            let k2 = box.k2.pointer[j]
            guard k2 > 0 else { continue }
            let re = w.pointer[2 * j], im = w.pointer[2 * j + 1]
            let s = Int((k2.squareRoot() / k0).rounded())
            if s < shells.count { shells[s] += box.weight.pointer[j] * (re * re + im * im) / k2 / n2 / 2 }
        }
        while shells.count > 1 && shells.last == 0 { shells.removeLast() }
        return shells
    }

    // MARK: initial conditions

    /// Taylor–Green vortex ω = 2k·sin(kx)·sin(ky) (u = sin kx cos ky, v = −cos kx sin ky),
    /// an exact solution decaying as e^{−2νk²t}.
    public static func taylorGreen(grid: Grid, k: Double = 1) throws(TesseraError) -> Field<Double> {
        try Field(grid: grid) { c in 2 * k * sin(k * c[1]) * sin(k * c[0]) }
    }

    /// Random vorticity with energy spectrum ∝ k⁴·exp(−2(k/k₀)²) (a standard start for decaying
    /// 2-D turbulence), random phases from `seed`, scaled to energy `energy`.
    public static func randomTurbulence(grid: Grid, peakWavenumber k0: Double = 8, energy: Double = 0.5,
                                        seed: UInt64 = 1) throws(TesseraError) -> Field<Double> {
        let box = try SpectralBox(grid: grid, effort: .estimate)
        let spec = try box.spectrumBuffer(), real = try box.realBuffer()
        var s = seed &+ 0x9E37_79B9_7F4A_7C15
        func rnd() -> Double {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Double(s >> 11) * 0x1p-53
        }
        let kmin = 2 * Double.pi / grid.lengths.min()!
        for j in 0..<box.complexCount {
            let k2 = box.k2.pointer[j]
            let phase = 2 * Double.pi * rnd()
            guard k2 > 0, box.keep.pointer[j] > 0 else { continue }
            let kk = k2.squareRoot() / kmin
            // |ω̂|² ∝ k²·E(k)/k (shell density 1/k in 2-D): amplitude ∝ sqrt(k·E(k))
            let amp = (kk * pow(kk, 4) * exp(-2 * (kk / k0) * (kk / k0))).squareRoot()
            spec.pointer[2 * j] = amp * cos(phase)
            spec.pointer[2 * j + 1] = amp * sin(phase)
        }
        var f = try box.field(from: spec)   // the c2r makes the spectrum Hermitian
        box.forward(f, into: spec, scratch: real)
        let e = box.spectralSum(spec) { a, k2 in k2 == 0 ? 0 : a / k2 } / 2
        let scale = e > 0 ? (energy / e).squareRoot() : 0
        f.withUnsafeMutableBufferPointer { p in for i in 0..<p.count { p[i] *= scale } }
        return f
    }
}
