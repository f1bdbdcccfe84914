// What a learned ns2d step could reach at best: the rollout error of the schemes a loss targets
// (the zero of its residual, solved directly — a "perfect learner"), and of the coarse solvers,
// against the fine reference of `compareNS2DRollout` (NavierStokes2D, IF-RK4, adaptive CFL 0.5).

import Foundation

/// A one-step scheme rolled out against the fine ns2d reference by `NS2DCeiling`.
public enum NS2DCeilingScheme: Sendable, Equatable, CustomStringConvertible {
    /// The zero of `NS2DMidpointResidual` at Δt/T, T chained steps per learned step (what a
    /// perfect learner of the midpoint loss with T temporal sub-steps predicts).
    case midpoint(temporal: Int)
    /// The zero of `NS2DIntegratingFactorResidual` with m sub-steps per Δt: m fixed IF-RK4 steps.
    case integratingFactor(substeps: Int)
    /// NavierStokes2D (IF-RK4, adaptive CFL 0.5) on the n/s grid from the spectrally truncated
    /// field, zero-padded back to n: a bare coarse spectral solver.
    case coarseSpectral(factor: Int)
    /// Each of the s² staggered coarse fields advanced alone by the coarse spectral solver and
    /// unstaggered: the `coarseSpectral` base step of `LearnedStagger` with a zero correction.
    case staggeredBase(factor: Int)
    /// The same with the coarse modes above the coarse solvers' 2/3 band kept (the
    /// `coarseSpectralPersistent` base step with a zero correction).
    case staggeredPersistentBase(factor: Int)

    /// A short label.
    public var description: String {
        switch self {
        case .midpoint(let t): return "midpoint zero, T=\(t)"
        case .integratingFactor(let m): return "IF-RK4 zero, m=\(m)"
        case .coarseSpectral(let s): return "coarse spectral n/\(s)"
        case .staggeredBase(let s): return "staggered coarse base s=\(s)"
        case .staggeredPersistentBase(let s): return "staggered persistent base s=\(s)"
        }
    }
}

/// Rollout errors of a scheme against the fine reference.
public struct NS2DCeilingCurve: Sendable {
    /// The scheme.
    public var scheme: NS2DCeilingScheme
    /// Relative L2 error after each learned step (1…steps).
    public var relativeL2: [Double]
    /// Worst ratio of the shell energy spectra (either way) over 1 ≤ k < n/3 at the end.
    public var worstSpectrumRatio: Double
    /// Wall seconds of the scheme's rollout.
    public var seconds: Double
    /// Learned steps before the error first exceeds `threshold` (all of them if never).
    public func stepsWithin(_ threshold: Double) -> Int { relativeL2.firstIndex { $0 > threshold } ?? relativeL2.count }
}

/// The rollout-error ceiling of ns2d learned steps (see the file comment).
public enum NS2DCeiling {
    /// The fine reference of `compareNS2DRollout` after every learned step of Δt (1…steps).
    public static func reference(_ w0: Field<Double>, viscosity: Double, dt: Double, steps: Int) throws(TesseraError) -> [Field<Double>] {
        let fine = try NavierStokes2D(vorticity: w0, options: NS2DOptions(viscosity: viscosity), effort: .estimate)
        var out: [Field<Double>] = []
        for s in 0..<steps {
            try fine.advance(to: dt * Double(s + 1))
            out.append(try fine.vorticity())
        }
        return out
    }

    /// Rolls `scheme` out from w0 for `reference.count` steps of Δt and compares it with
    /// `reference` (from `reference(_:viscosity:dt:steps:)`). Errors: `.invalidArgument` for a
    /// non-square grid, a factor that does not divide n, an empty reference; a solver's errors.
    public static func curve(_ scheme: NS2DCeilingScheme, from w0: Field<Double>, viscosity: Double, dt: Double,
                             reference: [Field<Double>]) throws(TesseraError) -> NS2DCeilingCurve {
        let g = w0.grid, n = g.shape[0]
        guard g.dimensions == 2, g.shape[1] == n, !reference.isEmpty else {
            throw .invalidArgument("NS2DCeiling: a square 2-D field and a non-empty reference are needed")
        }
        var fields: [Field<Double>] = []
        let t0 = Date()
        switch scheme {
        case .midpoint(let tt):
            guard tt >= 1 else { throw .invalidArgument("NS2DCeiling: T = \(tt) must be ≥ 1") }
            let r = try NS2DMidpointResidual(grid: g, viscosity: viscosity, dt: dt / Double(tt))
            var w = w0.toArray()
            for _ in reference { for _ in 0..<tt { w = try r.solve(u0: w).field }; fields.append(try Field(grid: g, values: w)) }
        case .integratingFactor(let m):
            let r = try NS2DIntegratingFactorResidual(grid: g, viscosity: viscosity, dt: dt, substeps: m)
            var w = w0.toArray()
            for _ in reference { w = r.advance(w); fields.append(try Field(grid: g, values: w)) }
        case .coarseSpectral(let s):
            guard s >= 1, n % s == 0 else { throw .invalidArgument("NS2DCeiling: factor \(s) must divide n = \(n)") }
            let cg = try Grid(shape: [n / s, n / s], lengths: g.lengths)
            let ns = try NavierStokes2D(vorticity: try resample(w0, to: cg), options: NS2DOptions(viscosity: viscosity), effort: .estimate)
            for k in reference.indices { try ns.advance(to: dt * Double(k + 1)); fields.append(try resample(try ns.vorticity(), to: g)) }
        case .staggeredBase(let s), .staggeredPersistentBase(let s):
            guard s >= 1, n % s == 0 else { throw .invalidArgument("NS2DCeiling: factor \(s) must divide n = \(n)") }
            // every learned step: each coarse field alone through the coarse solver over Δt
            var parts = try Stagger.decompose(w0, factors: [s, s])
            let keep = scheme == .staggeredPersistentBase(factor: s)
            for _ in reference.indices {
                parts = try parts.map { (p) throws(TesseraError) in
                    let ns = try NavierStokes2D(vorticity: p, options: NS2DOptions(viscosity: viscosity), effort: .estimate)
                    let start = try ns.vorticity()
                    try ns.advance(to: dt)
                    let end = try ns.vorticity()
                    guard keep else { return end }
                    let (a, b, c) = (p.toArray(), start.toArray(), end.toArray())
                    return try Field(grid: p.grid, values: (0..<a.count).map { a[$0] - b[$0] + c[$0] })
                }
                fields.append(try Stagger.recompose(parts, factors: [s, s], grid: g))
            }
        }
        let seconds = Date().timeIntervalSince(t0)
        // a scheme past its stability limit (IF-RK4 with m = 1 at 128², Δt = 0.05) goes NaN: its
        // error is infinite from then on (NaN would compare as "within" any threshold)
        let rel = zip(fields, reference).map { (f, r) in
            let e = relativeL2(f, r)
            return e.isFinite ? e : .infinity
        }
        let opts = NS2DOptions(viscosity: viscosity)
        guard fields.last!.toArray().allSatisfy(\.isFinite) else {
            return NS2DCeilingCurve(scheme: scheme, relativeL2: rel, worstSpectrumRatio: .infinity, seconds: seconds)
        }
        let a = try NavierStokes2D(vorticity: fields.last!, options: opts, effort: .estimate).energySpectrum()
        let b = try NavierStokes2D(vorticity: reference.last!, options: opts, effort: .estimate).energySpectrum()
        return NS2DCeilingCurve(scheme: scheme, relativeL2: rel, worstSpectrumRatio: worstSpectrumRatio(a, b, n: n), seconds: seconds)
    }

    /// max over the shells 1 ≤ k < n/3 of max(a/b, b/a) (infinite where one is empty).
    public static func worstSpectrumRatio(_ a: [Double], _ b: [Double], n: Int) -> Double {
        var worst = 1.0
        for k in 1..<max(2, n / 3) where k < b.count {
            let x = k < a.count ? a[k] : 0, y = b[k]
            worst = max(worst, x > 0 && y > 0 ? max(x / y, y / x) : .infinity)
        }
        return worst
    }

    /// A periodic field resampled spectrally to another square grid of the same box: modes
    /// |k| < m/2 of the smaller grid (m points) kept, the rest dropped (or zero-padded).
    public static func resample(_ f: Field<Double>, to g: Grid) throws(TesseraError) -> Field<Double> {
        let n = f.grid.shape[0], m = g.shape[0], lo = min(n, m)
        guard f.grid.dimensions == 2, g.dimensions == 2, f.grid.shape[1] == n, g.shape[1] == m else {
            throw .invalidArgument("NS2DCeiling.resample: square 2-D grids are needed")
        }
        let fa = try RealFFT.plan(shape: [n, n], threads: 1, effort: .estimate), fb = try RealFFT.plan(shape: [m, m], threads: 1, effort: .estimate)
        let ra = try AlignedDoubles(count: n * n), sa = try AlignedDoubles(count: n * (n / 2 + 1) * 2)
        let rb = try AlignedDoubles(count: m * m), sb = try AlignedDoubles(count: m * (m / 2 + 1) * 2)
        ra.pointer.update(from: f.toArray(), count: n * n)
        fa.forward(ra.pointer, sa.pointer)
        sb.pointer.initialize(repeating: 0, count: m * (m / 2 + 1) * 2)
        let scale = Double(m * m) / Double(n * n), wrap: (Int, Int) -> Int = { i, len in i <= len / 2 ? i : i - len }
        for iy in 0..<m {
            let ky = wrap(iy, m)
            guard 2 * abs(ky) < lo else { continue }
            let sy = ky >= 0 ? ky : ky + n
            for ix in 0..<(m / 2 + 1) where 2 * ix < lo {
                let d = 2 * (iy * (m / 2 + 1) + ix), s = 2 * (sy * (n / 2 + 1) + ix)
                sb.pointer[d] = sa.pointer[s] * scale; sb.pointer[d + 1] = sa.pointer[s + 1] * scale
            }
        }
        fb.inverse(sb.pointer, rb.pointer)
        return try Field(grid: g, values: Array(UnsafeBufferPointer(start: rb.pointer, count: m * m)))
    }
}
