import ArgumentParser
import Foundation
import TesseraPDE

/// Options of `tessera pde stagger-train`: the problem, the networks and the training run.
public struct StaggerTrainOptions: ParsableArguments {
    /// Options with their defaults (ArgumentParser fills them from the command line).
    public init() {}

    /// `heat` or `ns2d` (2-D decaying turbulence in vorticity form).
    @Option(help: "Equation: heat (Crank–Nicolson residual) | ns2d (2-D vorticity, implicit-midpoint spectral residual).") public var equation = "heat"
    /// ns2d: the learned step Δt (heat uses --ratio).
    @Option(parsing: .unconditional, help: "ns2d: learned step dt (heat: use --ratio).") public var dt = 0.05
    /// Fine grid points per axis (periodic square of side 2π).
    @Option(parsing: .unconditional, help: "Fine grid points per axis (periodic square of side 2π).") public var n = 128
    /// Stagger factor s per axis (s² sub-tasks).
    @Option(parsing: .unconditional, help: "Stagger factor s per axis (s² coarse sub-tasks).") public var factor = 2
    /// `separate` (one network per sub-task) or `shared` (one network with a sub-task embedding).
    @Option(help: "separate (one network per sub-task) | shared (one network, one-hot sub-task channels) | equivariant (one network reading the fields in the order of their offsets relative to its own: the step is invariant under a one-cell shift, no alias leak).") public var sharing = "separate"
    /// Hidden channels.
    @Option(parsing: .unconditional, help: "Hidden channels of each network.") public var width = 12
    /// Residual blocks.
    @Option(parsing: .unconditional, help: "Residual blocks (conv3x3-act-conv3x3) per network.") public var blocks = 1
    /// Activation.
    @Option(help: "Activation: identity | relu | tanh | gelu (default: identity for heat, which is linear; gelu for ns2d).") public var activation: String?
    /// The physics step the networks correct (nil: coarseExplicit for heat, coarseSpectral for ns2d).
    @Option(help: "Base step the networks correct: coarseExplicit (heat: each coarse field's own explicit step) | coarseSpectral (ns2d: each coarse field's own spectral solve) | coarseSpectralPersistent (ns2d: the same, the coarse modes above its 2/3 band kept instead of truncated) | none. Default: the equation's.") public var base: String?
    /// Diffusivity κ (heat) or viscosity ν (ns2d); nil: 1 (heat), 1e-3 (ns2d).
    @Option(parsing: .unconditional, help: "Diffusivity κ (heat, default 1) or viscosity ν (ns2d, default 1e-3).") public var diffusivity: Double?
    /// Mesh ratio κΔt/h² of one learned step.
    @Option(parsing: .unconditional, help: "Mesh ratio κ·dt/h² of one learned step (dt follows from it).") public var ratio = 0.5
    /// Adam steps at most.
    @Option(parsing: .unconditional, help: "Adam steps (at most).") public var steps = 3000
    /// Fields per step.
    @Option(parsing: .unconditional, help: "Random training fields per step.") public var batch = 4
    /// Initial learning rate.
    @Option(parsing: .unconditional, help: "Initial learning rate (cosine decay to 1 %).") public var lr = 2e-3
    /// Wall-clock budget in seconds.
    @Option(parsing: .unconditional, help: "Stop training after this many seconds.") public var timeBudget: Double?
    /// Training patch side m (periodic m×m patches of the fine spacing; nil: n).
    @Option(parsing: .unconditional, help: "Train on periodic m×m patches of the fine grid spacing (m divides n; default n: a patch has no longer waves than itself).") public var patch: Int?
    /// Temporal sub-steps T: one network call advances T fine steps (the loss chains T residuals).
    @Option(parsing: .unconditional, help: "Temporal sub-steps T: each network outputs T fine time levels, one call advances T·dt (the loss is the mean fine residual of the T chained steps).") public var temporal = 1
    /// Weight of the chain's integral-form residual (the sum of the T fine residuals).
    @Option(parsing: .unconditional, help: "Weight of the integral-form residual (the sum of the T chained fine residuals: the learned step's end error at low wavenumbers).") public var integral = 1.0
    /// White-noise fraction on half the training fields (nil: 0.05 for heat, 0 for ns2d).
    @Option(parsing: .unconditional, help: "White noise of up to this fraction of a field's RMS on half the training fields (default 0.05 heat, 0 ns2d).") public var roughness: Double?
    /// c of the residual weighting (I − c∇²)⁻¹ (nil: 1/16 for heat, 0 for ns2d).
    @Option(parsing: .unconditional, help: "Weight residuals by (I − c∇²)⁻¹ (long waves first; default 1/16 for heat, 0 for ns2d).") public var smoothing: Double?
    /// Heat: training fields decayed over a random time up to this (nil: 0, Gaussian smooth fields).
    @Option(parsing: .unconditional, help: "Heat: train on power-law fields decayed by the exact heat flow over a random time in [0, T] — the states a rollout over T visits (default: off, smooth Gaussian-spectrum fields).") public var decayedHorizon: Double?
    /// Heat-kernel time of the residual weighting (nil: 0, off).
    @Option(parsing: .unconditional, help: "Weight residuals by the heat kernel over this time too (a mode counts by its share of the error after that much more rollout; floor 1 %).") public var residualDecay: Double?
    /// Held-out physics check every so many steps, keeping the best parameters (0: off).
    @Option(parsing: .unconditional, help: "Every N Adam steps evaluate the physics loss on held-out fields and keep the best parameters, the untrained model included (0: off).") public var validateEvery = 100
    /// Trained biases (nil: off for heat, whose exact correction is linear; on for ns2d).
    @Flag(inversion: .prefixedNo, help: "Train the convolutions' biases (default: no for heat, which is linear; yes for ns2d).") public var biases: Bool?
    /// What the networks read: field | laplacian | bilaplacian (heat).
    @Option(help: "What the networks read: field (the coarse fields) | laplacian | bilaplacian | aliasFilteredLaplacian (heat: the staggered fine Laplacian, once or twice, so the learned correction vanishes like |k|² or |k|⁴ at long waves; the last one of the field box-filtered over s cells first, so the correction cannot reach the modes constant on every coarse grid).") public var inputs = "field"
    /// Amplitude of the alias-shifted copy of every training field (`StaggerTrainingOptions.aliasNoise`; 0: off).
    @Option(parsing: .unconditional, help: "Heat: add this fraction of every training field times a random zero-mean pattern of period s (its spectrum shifted onto the aliases k + j·n/s), so the modes constant on every coarse grid and their neighbourhoods are in the loss (e.g. 0.01; default 0).") public var aliasNoise = 0.0
    /// Reject checkpoints whose one-step gain on any Fourier mode exceeds this (heat; nil: off).
    @Option(parsing: .unconditional, help: "Heat: the held-out check rejects parameters whose one-step gain on any Fourier mode (one white-noise probe) exceeds this (e.g. 1; default off).") public var gainLimit: Double?
    /// ns2d: the residual's fine scheme (`StaggerNS2DScheme`).
    @Option(help: "ns2d: the fine scheme of the residual: midpoint (implicit midpoint, default) | integratingFactor (R = ω₁ − Φ(ω₀), IF-RK4 steps of the fine spectral solver's own scheme).") public var scheme = "midpoint"
    /// ns2d with the integrating-factor scheme: IF-RK4 sub-steps per dt.
    @Option(parsing: .unconditional, help: "ns2d, --scheme integratingFactor: IF-RK4 sub-steps per dt (default 1).") public var schemeSubsteps: Int?
    /// Seed of the weights and fields.
    @Option(parsing: .unconditional, help: "Seed of the initial weights and the random fields.") public var seed: UInt64 = 1

    /// Checks the values; throws `ValidationError`.
    public func validate() throws {
        guard StaggerSharing(rawValue: sharing) != nil else { throw ValidationError("--sharing must be separate, shared or equivariant") }
        guard StaggerBase(rawValue: baseName) != nil else { throw ValidationError("--base must be coarseExplicit, coarseSpectral, coarseSpectralPersistent or none") }
        guard StaggerInputs(rawValue: inputs) != nil else { throw ValidationError("--inputs must be field, laplacian, bilaplacian or aliasFilteredLaplacian") }
        guard StaggerNS2DScheme(rawValue: scheme) != nil else { throw ValidationError("--scheme must be midpoint or integratingFactor") }
        if equation != "ns2d", scheme != "midpoint" || schemeSubsteps != nil { throw ValidationError("--scheme and --scheme-substeps are for --equation ns2d") }
        guard equation == "heat" || equation == "ns2d" else { throw ValidationError("--equation must be heat or ns2d") }
        guard NetActivation(rawValue: activationName) != nil else { throw ValidationError("--activation must be identity, relu, tanh or gelu") }
        guard steps >= 1, batch >= 1, lr > 0, ratio > 0, dt > 0, nu > 0 || (equation == "ns2d" && nu == 0) else {
            throw ValidationError("need --steps ≥ 1, --batch ≥ 1 and positive --lr, --ratio, --dt, --diffusivity")
        }
        if let t = timeBudget, !(t > 0) { throw ValidationError("--time-budget must be positive") }
        guard integral >= 0, integral.isFinite, validateEvery >= 0, (roughness ?? 0) >= 0, (smoothing ?? 0) >= 0,
              (decayedHorizon ?? 0) >= 0, (residualDecay ?? 0) >= 0, aliasNoise >= 0, aliasNoise.isFinite, (gainLimit ?? 1) > 0 else {
            throw ValidationError("--integral, --roughness, --smoothing, --decayed-horizon, --residual-decay, --alias-noise and --validate-every must be ≥ 0, --gain-limit > 0")
        }
        do { try config().validate() } catch { throw ValidationError("\(error)") }
    }

    /// κ or ν with its per-equation default.
    var nu: Double { diffusivity ?? (equation == "ns2d" ? 1e-3 : 1) }
    /// The base step name with its per-equation default.
    var baseName: String { base ?? (equation == "ns2d" ? "coarseSpectral" : "coarseExplicit") }
    /// The activation name with its per-equation default.
    var activationName: String { activation ?? (equation == "ns2d" ? "gelu" : "identity") }

    /// The model configuration these options describe. ns2d: Δt = --dt, no base step, inputs
    /// divided by the vorticity RMS of the standard random initial field (peak wavenumber 4).
    public func config() throws -> LearnedStaggerConfig {
        let h = 2 * Double.pi / Double(n)
        var c = LearnedStaggerConfig(n: n, factor: factor, dt: ratio * h * h / nu)
        c.diffusivity = nu
        c.sharing = StaggerSharing(rawValue: sharing) ?? .separate
        c.activation = NetActivation(rawValue: activationName) ?? .gelu
        c.width = width; c.blocks = blocks
        c.base = StaggerBase(rawValue: baseName) ?? StaggerBase.none
        c.temporal = temporal
        c.biases = biases ?? (equation == "ns2d")
        c.inputs = StaggerInputs(rawValue: inputs) ?? .field
        if equation == "ns2d" {
            c.equation = "ns2d"; c.dt = dt
            c.scheme = StaggerNS2DScheme(rawValue: scheme); c.schemeSubsteps = schemeSubsteps
            let w = try NavierStokes2D.randomTurbulence(grid: try Grid.periodic(n), peakWavenumber: 4, seed: 9).toArray()
            c.normalization = .fixed((w.reduce(0) { $0 + $1 * $1 } / Double(w.count)).squareRoot())
        }
        return c
    }

    /// The training options these options describe.
    public var training: StaggerTrainingOptions {
        var o = StaggerTrainingOptions()
        o.steps = steps; o.batch = batch; o.learningRate = lr; o.timeBudget = timeBudget; o.seed = seed
        o.patch = patch ?? n   // a patch has no waves longer than itself, and those set a heat rollout's error
        if equation == "ns2d" { o.rolloutInputs = 4 }
        o.roughness = roughness ?? (equation == "ns2d" ? 0 : 0.05)
        o.integralWeight = integral; o.validationEvery = validateEvery
        o.residualSmoothing = smoothing ?? (equation == "ns2d" ? 0 : 1.0 / 16)
        o.decayedHorizon = decayedHorizon ?? 0; o.residualDecay = residualDecay ?? 0
        o.aliasNoise = aliasNoise; o.gainLimit = gainLimit
        o.pool = .shared   // sub-task networks on the pool's workers (OpenBLAS set to one thread meanwhile)
        return o
    }
}
