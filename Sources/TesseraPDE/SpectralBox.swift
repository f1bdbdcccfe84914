// SpectralBox: a periodic grid with its cached FFT plans, wavenumbers and 2/3-rule mask.

import Foundation

/// Wavenumbers and transforms of a periodic grid (1-D, 2-D or 3-D).
///
/// Half-spectrum index of mode (i0, …, i_{d−1}): row-major over `fft.complexShape`, the last
/// axis holding i = 0 … n/2. Axis a has wavenumber k = (2π/L_a)·m with m = i for i ≤ n/2
/// and m = i − n above (FFTW's order).
public final class SpectralBox: @unchecked Sendable {
    /// The periodic grid.
    public let grid: Grid
    /// The real-to-complex FFT plan of the grid.
    public let fft: RealFFT
    /// The pool of the pointwise loops.
    public let pool: ThreadPool
    /// Wavenumbers per axis, for second derivatives (Nyquist kept at +n/2).
    let k: [[Double]]
    /// Wavenumbers per axis for first derivatives (Nyquist mode set to 0, so odd derivatives of
    /// real fields stay real).
    let kd: [[Double]]
    /// |k|² per half-spectrum index.
    let k2: AlignedDoubles
    /// 1 where the mode survives the 2/3 rule (|m_a| < n_a/3 on every axis), else 0.
    let keep: AlignedDoubles
    /// Weight of each half-spectrum mode in sums over the full spectrum (2 for the modes whose
    /// conjugate is not stored, 1 for last-axis index 0 and n/2).
    let weight: AlignedDoubles

    /// Real values per field (the grid's point count).
    public var realCount: Int { fft.realCount }
    /// Complex coefficients of the half spectrum.
    public var complexCount: Int { fft.complexCount }
    /// Rows of the half spectrum (all axes but the last) and their length.
    var rows: Int { fft.complexCount / fft.complexShape.last! }
    var rowLength: Int { fft.complexShape.last! }

    /// Errors: `.invalidArgument` if the grid is not periodic on every axis; FFTW errors.
    public init(grid: Grid, effort: FFTEffort = .measure, pool: ThreadPool = .shared) throws(TesseraError) {
        guard grid.isPeriodic else {
            throw .invalidArgument("spectral solvers need a periodic grid (got \(grid.boundaries.map(\.description)))")
        }
        self.grid = grid
        self.pool = pool
        self.fft = try RealFFT.plan(shape: grid.shape, effort: effort)
        var k: [[Double]] = [], kd: [[Double]] = []
        for a in 0..<grid.dimensions {
            let n = grid.shape[a], s = 2 * Double.pi / grid.lengths[a]
            let count = a == grid.dimensions - 1 ? n / 2 + 1 : n
            k.append((0..<count).map { i in s * Double(i <= n / 2 ? i : i - n) })
            kd.append((0..<count).map { i in (n % 2 == 0 && i == n / 2) ? 0 : s * Double(i <= n / 2 ? i : i - n) })
        }
        self.k = k
        self.kd = kd
        let nc = fft.complexCount
        k2 = try AlignedDoubles(count: nc)
        keep = try AlignedDoubles(count: nc)
        weight = try AlignedDoubles(count: nc)
        let cs = fft.complexShape, shape = grid.shape
        var idx = [Int](repeating: 0, count: cs.count)
        for j in 0..<nc {
            var s2 = 0.0, kept = true
            for a in 0..<cs.count {
                s2 += k[a][idx[a]] * k[a][idx[a]]
                let m = idx[a] <= shape[a] / 2 ? idx[a] : shape[a] - idx[a]
                if 3 * m >= shape[a] { kept = false }
            }
            k2.pointer[j] = s2
            keep.pointer[j] = kept ? 1 : 0
            let last = idx[cs.count - 1], nl = shape[cs.count - 1]
            weight.pointer[j] = (last == 0 || (nl % 2 == 0 && last == nl / 2)) ? 1 : 2
            var a = cs.count - 1
            while a >= 0 { idx[a] += 1; if idx[a] < cs[a] { break }; idx[a] = 0; a -= 1 }
        }
    }

    /// New zeroed buffers for a real field and a spectrum.
    public func realBuffer() throws(TesseraError) -> AlignedDoubles { try AlignedDoubles(count: realCount) }
    /// A buffer for one half spectrum (2 · complexCount doubles, interleaved re/im).
    public func spectrumBuffer() throws(TesseraError) -> AlignedDoubles { try AlignedDoubles(count: 2 * complexCount) }

    /// Runs body over half-spectrum rows in parallel: body(row range) (rows = all axes but last).
    func forRows(_ body: (Range<Int>) -> Void) {
        pool.parallelFor(0..<rows, schedule: .static) { r, _ in body(r) }
    }

    /// Runs body over [0, n) in parallel chunks.
    func forChunks(_ n: Int, _ body: (Range<Int>) -> Void) {
        let chunk = 16384
        let parts = (n + chunk - 1) / chunk
        if parts <= 1 { body(0..<n); return }
        pool.parallelFor(0..<parts, schedule: .static) { r, _ in
            body((r.lowerBound * chunk)..<Swift.min(n, r.upperBound * chunk))
        }
    }

    /// Wavenumber of axis `a` for half-spectrum flat index j (derivative flavour if `deriv`).
    @inline(__always) func axisIndex(_ j: Int, _ a: Int) -> Int {
        let cs = fft.complexShape
        var r = j
        for b in stride(from: cs.count - 1, to: a, by: -1) { r /= cs[b] }
        return r % cs[a]
    }

    /// Copies a field into a real buffer and transforms it.
    func forward(_ f: Field<Double>, into spec: AlignedDoubles, scratch: AlignedDoubles) {
        f.withUnsafeBufferPointer { p in scratch.pointer.update(from: p.baseAddress!, count: realCount) }
        fft.forward(scratch.pointer, spec.pointer)
    }

    /// Transforms a spectrum back to a new field (the spectrum is preserved; `scratch` must
    /// hold a spectrum, 2·complexCount doubles, or a temporary one is made).
    func field(from spec: AlignedDoubles, scratch given: AlignedDoubles? = nil) throws(TesseraError) -> Field<Double> {
        let scratch: AlignedDoubles
        if let given, given.count >= 2 * complexCount { scratch = given } else { scratch = try spectrumBuffer() }
        scratch.copy(from: spec)
        var out = try Field<Double>(grid: grid)
        out.withUnsafeMutableBufferPointer { p in fft.inverse(scratch.pointer, p.baseAddress!) }
        return out
    }

    /// Σ over the full spectrum of weight·g(|û|², k²) / N² — Parseval sums (mean of squares).
    func spectralSum(_ spec: AlignedDoubles, _ g: (Double, Double) -> Double) -> Double {
        let n2 = Double(realCount) * Double(realCount)
        var s = 0.0
        for j in 0..<complexCount {
            let re = spec.pointer[2 * j], im = spec.pointer[2 * j + 1]
            s += weight.pointer[j] * g(re * re + im * im, k2.pointer[j])
        }
        return s / n2
    }
}

/// Periodic Poisson solver: ∇²u = f on a 2-D or 3-D (or 1-D) periodic box, spectrally exact.
///
/// The mean of f is removed first (a periodic Poisson problem has a solution only for
/// zero-mean f) and u is returned with zero mean. Plans are made once per shape.
public final class SpectralPoisson: @unchecked Sendable {
    /// The spectral discretisation.
    public let box: SpectralBox
    private let spec: AlignedDoubles, real: AlignedDoubles

    /// A solver on a periodic grid. Errors: `.invalidArgument` for a non-periodic grid.
    public init(grid: Grid, effort: FFTEffort = .measure) throws(TesseraError) {
        box = try SpectralBox(grid: grid, effort: effort)
        spec = try box.spectrumBuffer()
        real = try box.realBuffer()
    }

    /// Solves ∇²u = f − mean(f). Errors: `.invalidArgument` for a grid mismatch or non-finite f.
    public func solve(_ f: Field<Double>) throws(TesseraError) -> Field<Double> {
        guard f.grid.shape == box.grid.shape else {
            throw .invalidArgument("SpectralPoisson: field shape \(f.grid.shape) != solver grid \(box.grid.shape)")
        }
        try f.requireFinite("SpectralPoisson right-hand side")
        box.forward(f, into: spec, scratch: real)
        let k2 = box.k2.pointer, s = spec.pointer
        box.forChunks(box.complexCount) { r in
            for j in r {
                let q = k2[j] == 0 ? 0 : -1 / k2[j]
                s[2 * j] *= q; s[2 * j + 1] *= q
            }
        }
        return try box.field(from: spec)
    }
}

/// Heat / diffusion equation u_t = ν∇²u on a periodic box, advanced exactly in time by the
/// integrating factor: û_k(t) = e^{−ν|k|²t} û_k(0). No time-step restriction.
public final class SpectralHeat: @unchecked Sendable {
    /// The spectral discretisation.
    public let box: SpectralBox
    /// Diffusivity κ.
    public let diffusivity: Double
    private let spec: AlignedDoubles, real: AlignedDoubles

    /// Errors: `.invalidArgument` for a negative or non-finite diffusivity, a non-periodic grid.
    public init(grid: Grid, diffusivity: Double, effort: FFTEffort = .measure) throws(TesseraError) {
        guard diffusivity >= 0, diffusivity.isFinite else {
            throw .invalidArgument("SpectralHeat: diffusivity \(diffusivity) must be ≥ 0 and finite")
        }
        self.diffusivity = diffusivity
        box = try SpectralBox(grid: grid, effort: effort)
        spec = try box.spectrumBuffer()
        real = try box.realBuffer()
    }

    /// u after time t (t ≥ 0).
    public func advance(_ u: Field<Double>, by t: Double) throws(TesseraError) -> Field<Double> {
        guard u.grid.shape == box.grid.shape else {
            throw .invalidArgument("SpectralHeat: field shape \(u.grid.shape) != solver grid \(box.grid.shape)")
        }
        guard t >= 0, t.isFinite else { throw .invalidArgument("SpectralHeat: time \(t) must be ≥ 0 and finite") }
        try u.requireFinite("SpectralHeat initial data")
        box.forward(u, into: spec, scratch: real)
        let k2 = box.k2.pointer, s = spec.pointer, nu = diffusivity
        box.forChunks(box.complexCount) { r in
            for j in r {
                let e = exp(-nu * k2[j] * t)
                s[2 * j] *= e; s[2 * j + 1] *= e
            }
        }
        return try box.field(from: spec)
    }
}
