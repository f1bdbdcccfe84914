import ArgumentParser
import Foundation
import Tessera
import TesseraPDE

/// Boundary conditions written `dirichlet[:value]`, `neumann` or `periodic`; a comma-separated
/// list gives one per axis (C order: y, x for a 2-D grid), a single entry applies to every axis.
public func parseBoundaries(_ text: String, dimensions: Int) throws -> [Boundary] {
    let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    guard !parts.isEmpty, parts.count == 1 || parts.count == dimensions else {
        throw ValidationError("--bc '\(text)': give one condition, or one per axis (\(dimensions))")
    }
    let bcs = try parts.map { p -> Boundary in
        switch p {
        case "periodic": return .periodic
        case "neumann": return .neumann
        case "dirichlet": return .dirichlet(0)
        default:
            if p.hasPrefix("dirichlet:"), let v = Double(p.dropFirst("dirichlet:".count)), v.isFinite { return .dirichlet(v) }
            throw ValidationError("--bc: '\(p)' is not dirichlet[:value], neumann or periodic")
        }
    }
    return parts.count == 1 ? [Boundary](repeating: bcs[0], count: dimensions) : bcs
}

/// "2,2" → [2, 2] (ranks per axis of a distributed grid).
public func parseDecomposition(_ text: String?, dimensions: Int) throws -> [Int]? {
    guard let text else { return nil }
    let v = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard v.count == dimensions, v.allSatisfy({ ($0 ?? 0) >= 1 }) else {
        throw ValidationError("--decomposition '\(text)': \(dimensions) positive rank counts, comma-separated (one per axis)")
    }
    return v.map { $0! }
}

/// The grid options of the finite-difference commands.
public struct FDGridOptions: ParsableArguments {
    /// Options with their defaults (ArgumentParser fills them from the command line).
    public init() {}

    /// Grid points per axis (>= 2).
    @Option(parsing: .unconditional, help: "Grid points per axis.")
    public var n = 256

    /// Space dimensions: 1, 2 or 3 (the unit interval, square or cube).
    @Option(parsing: .unconditional, help: "Space dimensions: 1, 2 or 3 (the unit interval, square or cube).")
    public var dimensions = 2

    /// Boundary conditions as `parseBoundaries(_:dimensions:)` reads them.
    @Option(help: "Boundary conditions: dirichlet[:value] | neumann | periodic, one for all axes or one per axis (comma-separated, C order: z, y, x).")
    public var bc = "dirichlet:0"

    /// Checks `n`, `dimensions` and `bc`; throws `ValidationError`.
    public func validate() throws {
        guard n >= 2 else { throw ValidationError("--n must be >= 2 (got \(n))") }
        guard (1...3).contains(dimensions) else { throw ValidationError("--dimensions must be 1, 2 or 3 (got \(dimensions))") }
        _ = try parseBoundaries(bc, dimensions: dimensions)
    }

    /// The grid: n points per axis over [0, 1] on every axis.
    public func grid() throws -> Grid {
        try Grid(shape: [Int](repeating: n, count: dimensions), lengths: [Double](repeating: 1, count: dimensions),
                 boundaries: parseBoundaries(bc, dimensions: dimensions))
    }
}

/// Options only a distributed finite-difference run uses.
public struct FDDistributedOptions: ParsableArguments {
    /// Options with their defaults (ArgumentParser fills them from the command line).
    public init() {}

    /// Ranks per axis, comma-separated (see `parseDecomposition(_:dimensions:)`); nil: MPI's
    /// balanced choice. Distributed runs only.
    @Option(help: "With --distributed: ranks per axis, comma-separated (default: MPI's balanced choice).")
    public var decomposition: String?

    /// Halo transfer: "packed" (Tessera datatypes and byte messages) or "derived" (MPI derived
    /// types); nil: packed. Distributed runs only.
    @Option(help: "With --distributed: halo transfer, packed (Tessera datatypes + byte messages) or derived (MPI derived types).")
    public var transfer: String?

    /// Refuses both options outside a distributed run and checks their values against
    /// `dimensions`; throws `ValidationError`.
    public func validate(distributedRun: Bool, dimensions: Int) throws {
        try refuse(!distributedRun && decomposition != nil, "--decomposition applies to --distributed runs only")
        try refuse(!distributedRun && transfer != nil, "--transfer applies to --distributed runs only")
        _ = try parseDecomposition(decomposition, dimensions: dimensions)
        if let t = transfer, !["packed", "derived"].contains(t) { throw ValidationError("--transfer must be packed or derived (got '\(t)')") }
    }
}

/// `tessera pde heat` and `tessera pde heat --distributed`.
public struct HeatOptions: ParsableArguments {
    /// Options with their defaults (ArgumentParser fills them from the command line).
    public init() {}

    /// The grid: points per axis, dimensions, boundary conditions.
    @OptionGroup public var grid: FDGridOptions

    /// Time steps (>= 0).
    @Option(parsing: .unconditional, help: "Time steps.")
    public var steps = 200

    /// Diffusivity ν (> 0).
    @Option(parsing: .unconditional, help: "Diffusivity ν.")
    public var nu = 1.0

    /// "explicit" or "crankNicolson" (an `FDHeatScheme` raw value); distributed runs: explicit.
    @Option(help: "explicit or crankNicolson (--distributed: explicit).")
    public var scheme = "explicit"

    /// Time step (> 0); nil: 0.9 × the explicit stability limit.
    @Option(parsing: .unconditional, help: "Time step (default: 0.9 × the explicit stability limit).")
    public var dt: Double?

    /// Output directory for heat_final.npy (float64, the grid's shape) and heat_final.png.
    @Option(help: "Output directory: heat_final.npy (float64, the grid's shape) and heat_final.png.")
    public var out = "run"

    /// Decomposition and halo transfer of a distributed run.
    @OptionGroup(title: "Distributed runs") public var mpi: FDDistributedOptions

    /// Distributed runs only: exchange halos, then compute (no overlap with interior work).
    @Flag(help: "With --distributed: exchange halos, then compute (no overlap of halo transfers with interior work).")
    public var noOverlap = false

    /// `--distributed` and `--check`.
    @OptionGroup public var flags: DistributedFlags

    /// Checks the combination; `distributedRun`: tessera-mpi (every option of a distributed run is allowed).
    public func validate(distributedRun: Bool) throws {
        guard steps >= 0 else { throw ValidationError("--steps must be >= 0 (got \(steps))") }
        guard nu > 0, nu.isFinite else { throw ValidationError("--nu must be positive (got \(nu))") }
        if let dt { guard dt > 0, dt.isFinite else { throw ValidationError("--dt must be positive (got \(dt))") } }
        guard let s = FDHeatScheme(rawValue: scheme) else { throw ValidationError("--scheme must be explicit or crankNicolson (got '\(scheme)')") }
        try refuse(distributedRun && s != .explicit, "--distributed runs the explicit scheme only (got --scheme \(scheme))")
        try refuse(!distributedRun && noOverlap, "--no-overlap applies to --distributed runs only")
        try mpi.validate(distributedRun: distributedRun, dimensions: grid.dimensions)
        try flags.validate(distributedRun: distributedRun)
    }

    /// The scheme of `scheme` (explicit for an unknown name, which `validate` refuses).
    public var fdScheme: FDHeatScheme { FDHeatScheme(rawValue: scheme) ?? .explicit }

    /// The heat problem: a hot box (u = 1 where every coordinate is within 0.2 of the centre,
    /// 0 elsewhere) on the grid, and the time step.
    public func problem() throws -> (grid: Grid, initial: Field<Double>, dt: Double) {
        let g = try grid.grid()
        let u0 = try Field<Double>(grid: g) { c in c.allSatisfy { abs($0 - 0.5) < 0.2 } ? 1 : 0 }
        return (g, u0, dt ?? 0.9 * FDHeat.explicitLimit(grid: g, diffusivity: nu))
    }
}

/// A titled field picture: 2-D fields get axes in the grid's coordinates and a colour bar
/// (`Field.plot`); 1-D and 3-D (middle slice) fields the plain colour-mapped image.
public func fieldPicture(_ u: Field<Double>, title: String, subtitle: String, valueLabel: String,
                         colormap: Colormap, range: ColorRange) throws -> RasterImage {
    if u.grid.dimensions == 2 {
        return try u.plot(title: title, subtitle: subtitle, valueLabel: valueLabel, colormap: colormap, range: range,
                          xLabel: "x", yLabel: "y")
    }
    return try fieldImage(u, colormap: colormap, range: range)
}

/// The colour-mapped image of a field, `scale` pixels per grid point: a 2-D field as it is,
/// the middle slice (along axis 0) of a 3-D one, a strip for 1-D. No axes or title.
public func fieldImage(_ u: Field<Double>, colormap: Colormap, range: ColorRange, scale: Int = 1) throws -> RasterImage {
    if u.grid.dimensions == 3 {
        return try u.image(colormap: colormap, range: range, scale: scale, sliceAxis: 0, sliceIndex: u.grid.shape[0] / 2)
    }
    return try u.image(colormap: colormap, range: range, scale: u.grid.dimensions == 1 ? max(scale, 1) : scale)
}

/// What `pde heat` writes, single-process or distributed: `out/heat_final.npy` and `.png`, and
/// one summary line on stdout.
public enum HeatOutput {
    /// Writes `out/heat_final.npy` and `out/heat_final.png` (creating `out`) and prints the
    /// summary line; `seconds` is the solve's wall time, `ranOn` where it ran.
    public static func write(_ u: Field<Double>, options o: HeatOptions, dt: Double, seconds: Double, ranOn: String) throws {
        try makeDirectory(o.out)
        try u.save(npy: "\(o.out)/heat_final.npy")
        let values = u.grid.boundaries.compactMap { b -> Double? in if case .dirichlet(let v) = b { return v }; return nil }
        let range: ColorRange = values.allSatisfy { (0...1).contains($0) } ? .fixed(0, 1) : .automatic
        let shape = u.grid.shape.map(String.init).joined(separator: "×")
        try fieldPicture(u, title: String(format: "Heat equation: temperature after %d steps (t = %.3g)", o.steps, Double(o.steps) * dt),
                         subtitle: "finite differences (\(o.scheme)), \(shape) grid, boundaries \(o.grid.bc)",
                         valueLabel: "temperature u", colormap: .ember, range: range).writePNG(to: "\(o.out)/heat_final.png")
        print(String(format: "heat %@ %@ dt=%.3g, %d steps on %@: %.3f s, max u = %.4f; wrote %@/heat_final.png and .npy",
                     shape, o.scheme, dt, o.steps, ranOn, seconds, u.maxAbs, o.out))
    }
}
