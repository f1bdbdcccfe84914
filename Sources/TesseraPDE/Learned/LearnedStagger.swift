// Learned NeuralStagger (Huang et al., ICML 2023): s×s coarse neural solvers, one per staggered
// sub-field (or one shared network told which sub-field by s² one-hot channels, or by reading
// the fields in the order of their offsets relative to its own: `.equivariant`). Every network
// reads all s² coarse fields as channels and predicts the increment of its own sub-field over
// one step Δt; the s² predictions, unstaggered, are the fine solution. Training minimises the
// residual of the FINE discretisation (a `StepResidual`) on that unstaggered prediction.
//
// Fields enter the networks divided by their RMS (`normalization: .rms`, right for linear
// problems: the model is then exactly scale-equivariant) or by a fixed scale.

import Foundation

/// One network per sub-task, or one shared network with a sub-task embedding (one-hot channels
/// or the relative ordering of its input fields).
public enum StaggerSharing: String, Sendable, Codable, CaseIterable {
    /// s² networks.
    case separate
    /// One network; s² extra one-hot input channels tell it which sub-field it predicts.
    case shared
    /// One network, no extra channels: sub-task (o_y, o_x) reads the s² coarse fields in the
    /// order of their fine offsets *relative to its own* ((o_y + c_y) mod s, (o_x + c_x) mod s,
    /// shifted one coarse cell where the offset wraps). The unstaggered step is then invariant
    /// under a shift of ONE fine cell, as the fine scheme is (not only of s): a Fourier mode goes
    /// to itself alone, never to its aliases k + j·n/s. For the heat equation with identity
    /// activations and no biases the model is then a fine-grid Fourier multiplier.
    case equivariant
}

/// A fixed physics step every sub-task network corrects (the network predicts the rest).
public enum StaggerBase: String, Sendable, Codable, CaseIterable {
    /// None: the network predicts the whole increment.
    case none
    /// Explicit Euler heat steps on each coarse field alone (its own 5-point Laplacian at the
    /// coarse spacing s·h, sub-stepped so that every sub-step has κδt/(s·h)² ≤ 0.2): the cheap
    /// coarse solver of each sub-task; the network learns only its correction towards the fine
    /// Crank–Nicolson step, which is O(k⁴) small at low wavenumbers.
    case coarseExplicit
    /// ns2d: each coarse field advanced alone by `NavierStokes2D` on the coarse grid (IF-RK4,
    /// adaptive CFL 0.5, the same viscosity, 2/3 rule there): the coarse spectral solver of each
    /// sub-task; the network learns its correction towards the fine residual's solution.
    case coarseSpectral
    /// ns2d: `coarseSpectral` for the coarse modes the coarse solver resolves (inside its 2/3
    /// band), while the coarse modes above it — at s = 2 the fine field's modes n/6 … n/3, folded —
    /// persist unchanged instead of being truncated to zero every step (the coarse solver's
    /// truncation is a sharp spectral cut, which a small local convolution cannot undo).
    case coarseSpectralPersistent
}

/// The fine one-step scheme whose residual trains an ns2d model.
public enum StaggerNS2DScheme: String, Sendable, Codable, CaseIterable {
    /// `NS2DMidpointResidual`: implicit midpoint (Crank–Nicolson) of the pseudo-spectral operators.
    case midpoint
    /// `NS2DIntegratingFactorResidual`: R = ω₁ − Φ^m(ω₀), m IF-RK4 steps of Δt/m (the fine
    /// solver's own scheme, fourth order; computed from the input, no stored labels).
    case integratingFactor
}

/// How fields are scaled before they enter the networks.
public enum StaggerNormalization: Sendable, Codable, Equatable {
    /// Each sample divided by its RMS (exact scale equivariance; for linear PDEs).
    case rms
    /// Divided by a fixed scale.
    case fixed(Double)
}

/// Architecture and problem of a learned NeuralStagger model (saved as JSON beside the weights).
public struct LearnedStaggerConfig: Sendable, Codable, Equatable {
    /// "heat" (u_t = κ∇²u, Crank–Nicolson residual) or "ns2d" (2-D vorticity equation,
    /// implicit-midpoint pseudo-spectral residual; `diffusivity` is then the viscosity ν).
    public var equation = "heat"
    /// Fine grid points per axis (square, periodic, side `length`).
    public var n: Int
    /// Side of the periodic square.
    public var length = 2 * Double.pi
    /// Stagger factor s per axis.
    public var factor: Int
    /// Networks per sub-task or shared.
    public var sharing: StaggerSharing = .separate
    /// Hidden channels.
    public var width = 16
    /// Residual blocks (conv 3×3 → activation → conv 3×3) after the lifting conv.
    public var blocks = 2
    /// Non-linearity.
    public var activation: NetActivation = .gelu
    /// Padding of the 3×3 convolutions.
    public var padding: ConvPadding = .periodic
    /// Input scaling.
    public var normalization: StaggerNormalization = .rms
    /// Diffusivity κ (heat).
    public var diffusivity = 1.0
    /// The fine time step Δt of the residual; one network call advances `temporalSteps`·Δt.
    public var dt: Double
    /// The physics step the networks correct (nil, as in configurations saved before this
    /// field existed, means `.none`).
    public var base: StaggerBase? = nil
    /// Temporal sub-steps T (NeuralStagger's temporal decomposition): every network outputs its
    /// coarse field at Δt, 2Δt, …, TΔt, the loss is the mean fine residual of the T chained fine
    /// steps, and one learned step advances TΔt with one network call (nil, as in configurations
    /// saved before this field existed, means 1).
    public var temporal: Int? = nil
    /// Whether the convolutions' biases are trained (nil, as in configurations saved before this
    /// field existed, means yes). With `false` they stay zero: with identity activations every
    /// network is then linear and homogeneous, as the exact correction of a linear equation is —
    /// the model is exactly scale-equivariant, and a decaying field gets no constant offsets
    /// (a bias adds the same correction every step however small the field has become).
    public var biases: Bool? = nil
    /// What the networks read (nil, as in configurations saved before this field existed, means
    /// `.field`): the coarse fields, or the staggered fine Laplacian (heat only) — see
    /// `StaggerInputs`.
    public var inputs: StaggerInputs? = nil

    /// ns2d: the fine scheme of the residual (nil, as in configurations saved before this field
    /// existed, means `.midpoint`).
    public var scheme: StaggerNS2DScheme? = nil
    /// ns2d with `.integratingFactor`: IF-RK4 sub-steps m per Δt (nil means 1).
    public var schemeSubsteps: Int? = nil

    /// A configuration; the remaining fields take their defaults.
    public init(n: Int, factor: Int, dt: Double) { self.n = n; self.factor = factor; self.dt = dt }

    /// Checks sizes and values. Errors: `.invalidArgument` naming the first problem.
    public func validate() throws(TesseraError) {
        guard equation == "heat" || equation == "ns2d" else {
            throw .invalidArgument("LearnedStagger: unknown equation '\(equation)' (heat or ns2d)")
        }
        switch (equation, base ?? .none) {
        case (_, .none), ("heat", .coarseExplicit), ("ns2d", .coarseSpectral), ("ns2d", .coarseSpectralPersistent): break
        default: throw .invalidArgument("LearnedStagger: base \(base?.rawValue ?? "none") does not fit \(equation) (heat: coarseExplicit; ns2d: coarseSpectral or coarseSpectralPersistent; or none)")
        }
        guard (1...64).contains(factor), n % factor == 0, n / factor >= 2 else {
            throw .invalidArgument("LearnedStagger: n = \(n) must be a multiple of the stagger factor \(factor) (and ≥ 2·s; s in 1...64)")
        }
        guard width >= 1, width <= 1024, blocks >= 0, blocks <= 64 else {
            throw .invalidArgument("LearnedStagger: width \(width) must be in 1...1024 and blocks \(blocks) in 0...64")
        }
        guard dt > 0, dt.isFinite, diffusivity > 0, diffusivity.isFinite, length > 0, length.isFinite else {
            throw .invalidArgument("LearnedStagger: dt \(dt), diffusivity \(diffusivity) and length \(length) must be positive")
        }
        guard (1...64).contains(temporalSteps) else {
            throw .invalidArgument("LearnedStagger: temporal sub-steps \(temporalSteps) must be in 1...64")
        }
        if case .fixed(let s) = normalization, !(s > 0 && s.isFinite) {
            throw .invalidArgument("LearnedStagger: fixed normalisation scale \(s) must be positive")
        }
        if equation != "heat", (inputs ?? .field) != .field {
            throw .invalidArgument("LearnedStagger: inputs \(inputs?.rawValue ?? "field") are for the heat equation only (ns2d reads the field)")
        }
        if equation != "ns2d", scheme != nil || schemeSubsteps != nil {
            throw .invalidArgument("LearnedStagger: scheme and schemeSubsteps are for ns2d only")
        }
        if let m = schemeSubsteps, !(1...1024).contains(m) || (scheme ?? .midpoint) != .integratingFactor {
            throw .invalidArgument("LearnedStagger: schemeSubsteps \(m) needs scheme integratingFactor and must be in 1...1024")
        }
        if equation == "ns2d", normalization == .rms {
            throw .invalidArgument("LearnedStagger: ns2d is nonlinear (not scale-equivariant): use a fixed normalisation scale")
        }
        let perNet = try ConvNet<Float>.parameterCount(layers)
        let nets = sharing == .separate ? subtasks : 1
        guard perNet <= ConvNet<Float>.maxParameters / nets else {
            throw .invalidArgument("LearnedStagger: \(nets) networks of \(perNet) parameters are over the \(ConvNet<Float>.maxParameters) a model may have (lower width, blocks or s)")
        }
    }

    /// Whether biases are trained (`biases`, nil meaning true).
    public var trainsBiases: Bool { biases ?? true }
    /// Sub-tasks s².
    public var subtasks: Int { factor * factor }
    /// Temporal sub-steps T (1 when not set).
    public var temporalSteps: Int { temporal ?? 1 }
    /// Simulated time of one learned step, T·Δt.
    public var learnedStep: Double { Double(temporalSteps) * dt }
    /// Coarse points per axis n/s.
    public var coarseN: Int { n / factor }
    /// The fine grid.
    public func grid() throws(TesseraError) -> Grid { try Grid(shape: [n, n], lengths: [length, length]) }
    /// The fine residual the model is trained with (on the model's n×n grid).
    public func residual() throws(TesseraError) -> any StepResidual { try residual(patch: n) }

    /// The fine residual on a periodic m×m patch of the same grid spacing (m divides n).
    public func residual(patch m: Int) throws(TesseraError) -> any StepResidual {
        guard m >= 2 * factor, m <= n, n % m == 0, m % factor == 0 else {
            throw .invalidArgument("LearnedStagger: patch \(m) must divide n = \(n) and be a multiple of s = \(factor)")
        }
        let side = length * Double(m) / Double(n)
        let g = try Grid(shape: [m, m], lengths: [side, side])
        if equation == "ns2d" {
            if scheme == .integratingFactor {
                return try NS2DIntegratingFactorResidual(grid: g, viscosity: diffusivity, dt: dt, substeps: schemeSubsteps ?? 1)
            }
            return try NS2DMidpointResidual(grid: g, viscosity: diffusivity, dt: dt)
        }
        return try HeatCNResidual(grid: g, diffusivity: diffusivity, dt: dt)
    }
    /// Layers of one sub-task network.
    public var layers: [NetLayer] {
        let cin = subtasks * (sharing == .shared ? 2 : 1)
        var l: [NetLayer] = [.conv(inChannels: cin, outChannels: width, kernel: 3)]
        for _ in 0..<blocks {
            l.append(.residual([.activation(activation), .conv(inChannels: width, outChannels: width, kernel: 3),
                                .activation(activation), .conv(inChannels: width, outChannels: width, kernel: 3)]))
        }
        l.append(.activation(activation))
        l.append(.conv(inChannels: width, outChannels: temporalSteps, kernel: 1))
        return l
    }
}

/// A learned NeuralStagger model: the networks of all sub-tasks and their configuration.
public struct LearnedStagger<T: NetScalar>: Sendable {
    /// Architecture and problem.
    public let config: LearnedStaggerConfig
    /// s² networks (`.separate`) or one (`.shared`, `.equivariant`).
    public var nets: [ConvNet<T>]

    /// Freshly initialised networks (seeded). With a base step the output convolution starts at
    /// zero, so an untrained model is exactly its base step (training only adds corrections);
    /// without one it starts at 0.1× its He scale. Errors: as `LearnedStaggerConfig.validate`.
    public init(config: LearnedStaggerConfig, seed: UInt64 = 1) throws(TesseraError) {
        try config.validate()
        self.config = config
        let count = config.sharing == .separate ? config.subtasks : 1
        let outputScale = (config.base ?? .none) == .none ? 0.1 : 0
        var nets: [ConvNet<T>] = []
        for k in 0..<count {
            nets.append(try ConvNet<T>(layers: config.layers, padding: config.padding, seed: seed &+ UInt64(k) &* 7919,
                                       outputScale: outputScale))
        }
        self.nets = nets
    }

    /// A model from existing networks (weights loaded elsewhere). Errors: `.invalidArgument` if
    /// their number or architecture does not match `config`, or if a configuration without
    /// biases comes with non-zero biases.
    public init(config: LearnedStaggerConfig, nets: [ConvNet<T>]) throws(TesseraError) {
        try config.validate()
        let want = config.sharing == .separate ? config.subtasks : 1
        guard nets.count == want, nets.allSatisfy({ $0.layers == config.layers && $0.padding == config.padding }) else {
            throw .invalidArgument("LearnedStagger: need \(want) networks of the configured architecture (got \(nets.count))")
        }
        if !config.trainsBiases, nets.contains(where: { net in net.convolutions.contains { c in (0..<c.outChannels).contains { net.parameters[c.biasOffset + $0] != 0 } } }) {
            throw .invalidArgument("LearnedStagger: the configuration has no biases (biases: false) but the weights have non-zero biases")
        }
        self.config = config; self.nets = nets
    }

    /// Total parameter count.
    public var parameterCount: Int { nets.reduce(0) { $0 + $1.parameters.count } }

    func net(_ k: Int) -> ConvNet<T> { nets[config.sharing == .separate ? k : 0] }

    /// The scale a sample is divided by.
    func scale(_ u: [Double]) -> Double {
        switch config.normalization {
        case .fixed(let s): return s
        case .rms:
            let r = (u.reduce(0) { $0 + $1 * $1 } / Double(max(1, u.count))).squareRoot()
            return r > 0 ? r : 1
        }
    }

    /// Network input `C × (B·h·w)` from the coarse fields of a batch (`coarse[b][k]`, scaled):
    /// s² field channels, then (shared) s² one-hot channels for sub-task `k`; equivariant: the
    /// fields in the order of their offsets relative to sub-task k's.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func input(_ coarse: [[[T]]], subtask k: Int) -> [T] {
        let s2 = config.subtasks, b = coarse.count, hw = coarse[0][0].count, n = b * hw
        if config.sharing == .equivariant {
            let s = config.factor, hc = Int(Double(hw).squareRoot().rounded()), (oy, ox) = (k / s, k % s)
            var x = [T](repeating: 0, count: s2 * n)
            for c in 0..<s2 {
                let (ry, rx) = (oy + c / s, ox + c % s), src = (ry % s) * s + rx % s, (dy, dx) = (ry / s, rx / s)
                for bb in 0..<b {
                    let f = coarse[bb][src]
                    for y in 0..<hc {
                        let row = ((y + dy) % hc) * hc, o = c * n + bb * hw + y * hc
                        for xx in 0..<hc { x[o + xx] = f[row + (xx + dx) % hc] }
                    }
                }
            }
            return x
        }
        var x = [T](repeating: 0, count: (config.sharing == .shared ? 2 * s2 : s2) * n)
        for bb in 0..<b { for c in 0..<s2 { for i in 0..<hw { x[c * n + bb * hw + i] = coarse[bb][c][i] } } }
        if config.sharing == .shared { for i in 0..<n { x[(s2 + k) * n + i] = 1 } }
        return x
    }

    /// Runs `body(k)` for every sub-task k, in parallel on `pool`'s workers (one sub-task per
    /// task, dynamic) when it has more than one thread; the first error is rethrown.
    func forEachSubtask(pool: ThreadPool?, _ body: (Int) throws(TesseraError) -> Void) throws(TesseraError) {
        try forEach(config.subtasks, pool: pool, body)
    }

    /// Runs `body(i)` for i in 0..<count, in parallel on `pool`'s workers (one index per task,
    /// dynamic) when it has more than one thread; the first error (lowest index) is rethrown.
    func forEach(_ count: Int, pool: ThreadPool?, _ body: (Int) throws(TesseraError) -> Void) throws(TesseraError) {
        var errs = [TesseraError?](repeating: nil, count: count)
        if let pool, pool.threadCount > 1, count > 1 {
            errs.withUnsafeMutableBufferPointer { ep in
                let e = ep.baseAddress!
                pool.parallelFor(0..<count, schedule: .dynamic(chunk: 1)) { r, _ in
                    for k in r { do throws(TesseraError) { try body(k) } catch { e[k] = error } }
                }
            }
        } else {
            for k in 0..<count { do throws(TesseraError) { try body(k) } catch { errs[k] = error } }
        }
        if let e = errs.compactMap({ $0 }).first { throw e }
    }

    /// κΔt/(s·h)²: the mesh ratio of one step on a coarse grid.
    var coarseRatio: Double {
        let hc = config.length / Double(config.n) * Double(config.factor)
        return config.diffusivity * config.dt / (hc * hc)
    }

    /// The base step's increments of one periodic hc×hc coarse field after Δt, 2Δt, …, TΔt
    /// (`out[(t−1)·hc² + i]`; zero for `.none`).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func baseIncrements(_ u: UnsafePointer<T>, _ hc: Int, into out: UnsafeMutablePointer<T>) throws(TesseraError) {
        let tt = config.temporalSteps, hw = hc * hc
        switch config.base ?? .none {
        case .none: out.initialize(repeating: 0, count: tt * hw); return
        case .coarseSpectral, .coarseSpectralPersistent: try spectralIncrements(u, hc, into: out); return
        case .coarseExplicit: break
        }
        let rc = coarseRatio, sub = max(1, Int((rc / 0.2).rounded(.up))), r = T(rc / Double(sub))
        let v = UnsafeMutablePointer<T>.allocate(capacity: hw), nv = UnsafeMutablePointer<T>.allocate(capacity: hw)
        defer { v.deallocate(); nv.deallocate() }
        v.update(from: u, count: hw)
        var (a, b) = (v, nv)
        for t in 0..<tt {
            for _ in 0..<sub { Self.explicitSweep(a, into: b, hc, r); swap(&a, &b) }
            for i in 0..<hw { out[t * hw + i] = a[i] - u[i] }
        }
    }

    /// One explicit 5-point heat sub-step on a periodic hc×hc field (no index wrapping inside
    /// a row: the two edge columns are done apart).
    @inline(__always)
    static func explicitSweep(_ v: UnsafeMutablePointer<T>, into nv: UnsafeMutablePointer<T>, _ hc: Int, _ r: T) {
        for y in 0..<hc {
            let row = v + y * hc, up = v + ((y + 1) % hc) * hc, dn = v + ((y + hc - 1) % hc) * hc, o = nv + y * hc
            @inline(__always) func at(_ x: Int, _ xe: Int, _ xw: Int) {
                let c = row[x]
                o[x] = c + r * (up[x] + dn[x] + row[xe] + row[xw] - 4 * c)
            }
            at(0, 1 % hc, hc - 1)
            if hc > 2 { for x in 1..<(hc - 1) { at(x, x + 1, x - 1) } }
            if hc > 1 { at(hc - 1, 0, hc - 2) }
        }
    }

    /// The most CFL steps the coarse spectral base may take for one learned sub-step.
    static var maxBaseSubsteps: Int { 1000 }

    /// The coarse spectral base step (ns2d): NavierStokes2D on the hc×hc coarse grid to Δt, …,
    /// TΔt, in physical units (the fixed input scale undone and reapplied).
    func spectralIncrements(_ u: UnsafePointer<T>, _ hc: Int, into out: UnsafeMutablePointer<T>) throws(TesseraError) {
        var sc = 1.0
        if case .fixed(let f) = config.normalization { sc = f }
        let side = config.length * Double(hc * config.factor) / Double(config.n), hw = hc * hc
        let g = try Grid(shape: [hc, hc], lengths: [side, side])
        let w = try Field<Double>(grid: g, values: (0..<hw).map { Double(u[$0]) * sc })
        let ns = try NavierStokes2D(vorticity: w, options: NS2DOptions(viscosity: config.diffusivity), effort: .estimate)
        // persistent: the increment from the truncated start, so the modes above the band stay
        let start = config.base == .coarseSpectralPersistent ? try ns.vorticity().toArray().map { T($0 / sc) } : nil
        for t in 0..<config.temporalSteps {
            // a few CFL steps per learned step for a field of the training's size; a blown-up
            // field (finite, but huge) would need millions
            var taken = 0
            guard try ns.advance(to: config.dt * Double(t + 1), control: { taken += 1; return taken <= Self.maxBaseSubsteps }) else {
                let big = try ns.vorticity().toArray().map(abs).max() ?? 0
                throw .invalidState("LearnedStagger: the coarse spectral base step needs over \(Self.maxBaseSubsteps) CFL steps for one learned step of Δt = \(config.dt) (max |ω| = \(big)): the field has blown up")
            }
            let w1 = try ns.vorticity()
            w1.withUnsafeBufferPointer { p in
                if let start { for i in 0..<hw { out[t * hw + i] = T(p[i] / sc) - start[i] } }
                else { for i in 0..<hw { out[t * hw + i] = T(p[i] / sc) - u[i] } }
            }
        }
    }

    /// One learned step of every sub-task from scaled coarse fields `coarse[b][k]`; the s²
    /// networks run in parallel on `pool` (one sub-task per task). Returns `next[b][k]`:
    /// the field plus the base step's increment plus the network's correction.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func step(coarse: [[[T]]], pool: ThreadPool? = nil) throws(TesseraError) -> [[[T]]] {
        try step(coarse: coarse, side: config.coarseN, pool: pool, workspaces: nil)
    }

    /// `step` with reusable network buffers (`makeWorkspaces(batch:)`, one per sub-task, for
    /// `coarse.count` samples): a rollout then allocates no per-layer arrays. Same result.
    /// Errors: as `step`; `.invalidArgument` for workspaces of another count or size.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func step(coarse: [[[T]]], pool: ThreadPool? = nil, workspaces: [ConvNet<T>.Workspace]) throws(TesseraError) -> [[[T]]] {
        try step(coarse: coarse, side: config.coarseN, pool: pool, workspaces: workspaces)
    }

    /// One network workspace per sub-task for steps of `batch` samples on the model's coarse grid.
    public func makeWorkspaces(batch: Int = 1) throws(TesseraError) -> [ConvNet<T>.Workspace] {
        try makeWorkspaces(batch: batch, side: config.coarseN)
    }

    func makeWorkspaces(batch: Int, side hc: Int) throws(TesseraError) -> [ConvNet<T>.Workspace] {
        try (0..<config.subtasks).map { (k) throws(TesseraError) in try net(k).makeWorkspace(batch: batch, height: hc, width: hc) }
    }

    /// Subtracts from every block of `size` values (block j at offset j·size of every a[k]) the
    /// mean over that block of all sub-tasks: the networks' correction of the unstaggered field
    /// has zero mean, as the field's mean is conserved by both equations on a periodic domain
    /// (a drifting bias would otherwise dominate a decaying field). Its adjoint is itself.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    static func centre(_ a: inout [[T]], blocks: Int, size: Int) {
        for j in 0..<blocks {
            var sum = 0.0
            for k in a.indices { for i in 0..<size { sum += Double(a[k][j * size + i]) } }
            let m = T(sum / Double(a.count * size))
            for k in a.indices { for i in 0..<size { a[k][j * size + i] -= m } }
        }
    }

    /// The s² coarse fields of a fine field divided by its scale (the networks' units), and the scale.
    /// Errors: `.invalidArgument` for a shape other than the model's, or a non-finite field.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func split(_ u: Field<Double>) throws(TesseraError) -> (coarse: [[T]], scale: Double) {
        guard u.grid.shape == [config.n, config.n] else {
            throw .invalidArgument("LearnedStagger: field of shape \(u.grid.shape), the model is for \(config.n)×\(config.n)")
        }
        try u.requireFinite("LearnedStagger input")
        let sc = scale(u.toArray())
        let parts = try Stagger.decompose(u, factors: [config.factor, config.factor])
        return (parts.map { $0.toArray().map { T($0 / sc) } }, sc)
    }

    /// The fine field on `grid` from s² coarse fields in the networks' units (inverse of `split`).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func join(_ coarse: [[T]], scale sc: Double, grid: Grid) throws(TesseraError) -> Field<Double> {
        let cg = try Grid(shape: [config.coarseN, config.coarseN], lengths: grid.lengths)
        let parts = try coarse.map { (c) throws(TesseraError) in try Field(grid: cg, values: c.map { Double($0) * sc }) }
        return try Stagger.recompose(parts, factors: [config.factor, config.factor], grid: grid)
    }

    /// Advances a fine field by `steps` learned steps (all sub-tasks in parallel on `pool`),
    /// calling `progress(step, field)` after each (if given); the coarse fields stay apart
    /// between steps and are unstaggered when a fine field is needed. With `.rms`
    /// normalisation the scale is fixed from the initial field. Errors: `.invalidArgument` for
    /// a wrong shape, `.invalidState` if the prediction stops being finite (the step is named).
    /// (Pre-specialised: called from other modules as generic code, its finiteness check alone
    /// took ≈ 1 ms of a 128², s = 4 step.)
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func rollout(_ u0: Field<Double>, steps: Int, pool: ThreadPool? = nil,
                        progress: ((Int, Field<Double>) throws -> Void)? = nil) throws -> Field<Double> {
        guard steps >= 0 else { throw TesseraError.invalidArgument("LearnedStagger.rollout: steps \(steps) must be ≥ 0") }
        var (c, sc) = try split(u0)
        let ws = try makeWorkspaces(batch: 1)
        for s in 0..<steps {
            c = try step(coarse: [c], pool: pool, workspaces: ws)[0]
            if c.contains(where: { $0.contains { !$0.isFinite } }) {
                throw TesseraError.invalidState("LearnedStagger.rollout: prediction not finite at step \(s + 1)")
            }
            if let progress { try progress(s + 1, try join(c, scale: sc, grid: u0.grid)) }
        }
        return try join(c, scale: sc, grid: u0.grid)
    }

    /// Sub-field `index` alone after `steps` learned steps: a coarse solution on the n/s grid.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func coarseRollout(_ u0: Field<Double>, steps: Int, index: Int, pool: ThreadPool? = nil) throws -> Field<Double> {
        guard (0..<config.subtasks).contains(index) else {
            throw TesseraError.invalidArgument("LearnedStagger.coarseRollout: index \(index) not in 0..<\(config.subtasks)")
        }
        let fine = try rollout(u0, steps: steps, pool: pool)
        return try Stagger.decompose(fine, factors: [config.factor, config.factor])[index]
    }

    /// Mean fine-residual loss of one step from the batch `u0` (fine fields on the residual's
    /// grid, row-major: the model's n×n or any periodic m×m patch of the same spacing) and, with
    /// `gradient`, its gradient w.r.t. every network's parameters (added, one array per network).
    /// The s² sub-task networks run forward and backward in parallel on `pool`. With T > 1
    /// temporal sub-steps the loss is the mean over the chain's T fine residuals plus
    /// `integral`·mean(ΣR_t)²: the sum of the chain's residuals is the fine scheme's residual in
    /// integral form over the whole learned step (for the heat equation u_T − u₀ minus the
    /// trapezoidal time integral of κLu), and to first order the learned step's end error at low
    /// wavenumbers, which the mean of the single residuals weights only ~1/T² (a slowly drifting
    /// chain costs little step by step). With `smoothing` c > 0 every residual is weighted by
    /// P = (I − c∇²)⁻¹ first (loss of P R: the same minimiser, long waves weighted above short
    /// ones; a heat rollout's error is its surviving long waves'). With `decay` τ > 0 the
    /// weighting also carries the heat kernel exp(τ∇²) above a floor `decayFloor` (τ = κ·time:
    /// a mode's share of a rollout's end error after that much more time). Errors:
    /// `.invalidArgument` for a negative `integral`, `smoothing` or `decay`, or a floor outside [0, 1].
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func loss(_ u0: [[Double]], residual: any StepResidual, gradient: inout [[T]]?,
                     pool: ThreadPool? = nil, integral: Double = 0, smoothing: Double = 0,
                     decay: Double = 0, decayFloor: Double = 0) throws(TesseraError) -> Double {
        let m = residual.grid.shape[0], s = config.factor
        let b = u0.count, s2 = config.subtasks, hc = m / s, hw = hc * hc
        guard integral >= 0, integral.isFinite, smoothing >= 0, smoothing.isFinite, decay >= 0, decay.isFinite,
              decayFloor >= 0, decayFloor <= 1 else {
            throw .invalidArgument("LearnedStagger.loss: integral weight \(integral), smoothing \(smoothing) and decay \(decay) must be ≥ 0, the floor \(decayFloor) in [0, 1]")
        }
        let smoother = smoothing > 0 || decay > 0
            ? try ResidualSmoother(grid: residual.grid, c: smoothing, decay: decay, floor: decayFloor) : nil
        guard residual.grid.shape == [m, m], m % s == 0, b >= 1, u0.allSatisfy({ $0.count == m * m }) else {
            throw .invalidArgument("LearnedStagger.loss: need a batch of \(m)×\(m) fields (m divisible by \(s)) for the residual's grid")
        }
        if let g = gradient {
            guard g.count == nets.count, zip(g, nets).allSatisfy({ $0.count == $1.parameters.count }) else {
                throw .invalidArgument("LearnedStagger.loss: gradient buffers do not match the networks")
            }
        }
        var scales: [Double] = [], coarse: [[[T]]] = []
        for u in u0 {
            let sc = scale(u)
            scales.append(sc)
            var parts = [[T]](repeating: [T](repeating: 0, count: hw), count: s2)
            for k in 0..<s2 {
                let (oy, ox) = (k / s, k % s)
                for y in 0..<hc { for x in 0..<hc { parts[k][y * hc + x] = T(u[(oy + s * y) * m + ox + s * x] / sc) } }
            }
            coarse.append(parts)
        }
        // forward with tapes, sub-tasks in parallel: preds[k] = sub-task k of every sample at
        // every time level (T × b·hw)
        let shared = config.sharing != .separate, record = gradient != nil, tt = config.temporalSteps, nb = b * hw
        let feats = features(coarse, side: hc, pool: pool), plain = shared ? [] : input(feats, subtask: 0)
        var tapes = [ConvNet<T>.Tape?](repeating: nil, count: s2), preds = [[T]](repeating: [], count: s2), based = preds
        try tapes.withUnsafeMutableBufferPointer { (tp) throws(TesseraError) in
          try based.withUnsafeMutableBufferPointer { (bp) throws(TesseraError) in
            try preds.withUnsafeMutableBufferPointer { (pp) throws(TesseraError) in
                let (tb, pb, qb) = (tp.baseAddress!, pp.baseAddress!, bp.baseAddress!)
                try forEachSubtask(pool: pool) { (k) throws(TesseraError) in
                    var tape: ConvNet<T>.Tape? = record ? ConvNet<T>.Tape(batch: b, height: hc, width: hc) : nil
                    let y = try self.net(k).forward(shared ? self.input(feats, subtask: k) : plain,
                                                    batch: b, height: hc, width: hc, tape: &tape)
                    var base = [T](repeating: 0, count: tt * nb), inc = [T](repeating: 0, count: tt * hw)
                    for bb in 0..<b {
                        try coarse[bb][k].withUnsafeBufferPointer { (cp) throws(TesseraError) in
                            try inc.withUnsafeMutableBufferPointer { (ip) throws(TesseraError) in try self.baseIncrements(cp.baseAddress!, hc, into: ip.baseAddress!) }
                            for t in 0..<tt { for i in 0..<hw { base[t * nb + bb * hw + i] = cp[i] + inc[t * hw + i] } }
                        }
                    }
                    tb[k] = tape; pb[k] = y; qb[k] = base
                }
            }
          }
        }
        // zero-mean corrections (`centre`), then field + base + correction
        Self.centre(&preds, blocks: tt * b, size: hw)
        for k in 0..<s2 { for i in 0..<(tt * nb) { preds[k][i] = based[k][i] + preds[k][i] } }
        var total = 0.0
        var dy = [[T]](repeating: [T](repeating: 0, count: tt * nb), count: s2)
        for bb in 0..<b {
            // the residual of the physical fields (nonlinear equations are not scale-equivariant),
            // reported in network units: loss/sc², gradient w.r.t. the network output ·sc/sc²;
            // with T sub-steps the mean over the chain u₀ → u₁ → … → u_T of predicted fields
            let sc = scales[bb], wt = 1 / Double(tt)
            var fields = [u0[bb]], g = [[Double]](repeating: [Double](repeating: 0, count: m * m), count: tt)
            for t in 0..<tt {
                var u1 = [Double](repeating: 0, count: m * m)
                for k in 0..<s2 {
                    let (oy, ox) = (k / s, k % s)
                    for y in 0..<hc { for x in 0..<hc { u1[(oy + s * y) * m + ox + s * x] = Double(preds[k][t * nb + bb * hw + y * hc + x]) * sc } }
                }
                fields.append(u1)
            }
            // residuals R_t of the chain and their sum S (the integral form over TΔt); the loss
            // is mean_t mean R_t² + w·mean S², its gradient w.r.t. R_t is 2/cnt·(R_t/T + w·S)
            let cnt = Double(m * m)
            let raw = (0..<tt).map { residual.residual(u0: fields[$0], u1: fields[$0 + 1]) }
            var sum = [Double](repeating: 0, count: m * m)
            for t in 0..<tt { for i in 0..<(m * m) { sum[i] += raw[t][i] } }
            // with a smoother P the loss is of P R_t and P S, and its gradient w.r.t. R_t is P²(…)
            let rs = smoother.map { p in raw.map { p.apply($0) } } ?? raw, ps = smoother?.apply(sum) ?? sum
            for t in 0..<tt { total += wt * rs[t].reduce(0) { $0 + $1 * $1 } / (cnt * sc * sc * Double(b)) }
            if integral > 0 { total += integral * ps.reduce(0) { $0 + $1 * $1 } / (cnt * sc * sc * Double(b)) }
            for t in 0..<tt {
                var v = (0..<(m * m)).map { 2 / cnt * (wt * rs[t][$0] + integral * ps[$0]) }
                if let p = smoother { v = p.apply(v) }
                let (g0, g1) = residual.adjoint(u0: fields[t], u1: fields[t + 1], v: v)
                for i in 0..<(m * m) { g[t][i] += g1[i] }
                if t > 0 { for i in 0..<(m * m) { g[t - 1][i] += g0[i] } }
            }
            for t in 0..<tt {
                for k in 0..<s2 {
                    let (oy, ox) = (k / s, k % s)
                    for y in 0..<hc { for x in 0..<hc {
                        dy[k][t * nb + bb * hw + y * hc + x] = T(g[t][(oy + s * y) * m + ox + s * x] / (sc * Double(b)))
                    } }
                }
            }
        }
        if var grads = gradient {
            Self.centre(&dy, blocks: tt * b, size: hw)   // the adjoint of centring
            // sub-task k's parameter gradient goes to its own buffer (shared: summed afterwards)
            var parts = shared ? [[T]](repeating: [T](repeating: 0, count: grads[0].count), count: s2) : grads
            parts.withUnsafeMutableBufferPointer { gp in
                let g = gp.baseAddress!
                try? forEachSubtask(pool: pool) { k in _ = self.net(k).backward(dy[k], tape: tapes[k]!, grad: &g[k]) }
            }
            if shared {
                for k in 0..<s2 { for i in grads[0].indices { grads[0][i] += parts[k][i] } }
            } else {
                grads = parts
            }
            gradient = grads
        }
        return total
    }
}
