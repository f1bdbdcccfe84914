import ArgumentParser
import Foundation
import Tessera
import TesseraPDE

/// `tessera pde poisson` and `tessera pde poisson --distributed`.
public struct PoissonOptions: ParsableArguments {
    /// Options with their defaults (ArgumentParser fills them from the command line).
    public init() {}

    /// The grid: points per axis, dimensions, boundary conditions.
    @OptionGroup public var grid: FDGridOptions

    /// Relative residual tolerance (> 0) of the CG solve.
    @Option(parsing: .unconditional, help: "Relative residual tolerance of the CG solve.")
    public var tol = 1e-10

    /// Output directory for poisson_fd.npy (float64, the grid's shape) and poisson_fd.png.
    @Option(help: "Output directory: poisson_fd.npy (float64, the grid's shape) and poisson_fd.png.")
    public var out = "run"

    /// Decomposition and halo transfer of a distributed run.
    @OptionGroup(title: "Distributed runs") public var mpi: FDDistributedOptions

    /// `--distributed` and `--check`.
    @OptionGroup public var flags: DistributedFlags

    /// Checks `tol` and the distributed options; throws `ValidationError`.
    public func validate(distributedRun: Bool) throws {
        guard tol > 0, tol.isFinite else { throw ValidationError("--tol must be positive (got \(tol))") }
        try mpi.validate(distributedRun: distributedRun, dimensions: grid.dimensions)
        try flags.validate(distributedRun: distributedRun)
    }
}

/// A Poisson problem ∇²u = f with a known solution on [0, 1]^D: u = c + Π φₐ(xₐ), axis a
/// (C order) with wavenumber mₐ = a + 1: sin(mₐπx) on a Dirichlet axis (zero on its ends, so u
/// takes the Dirichlet value c there), cos(mₐπx) on a Neumann axis (zero slope), sin(2mₐπx) on a
/// periodic axis; f = −(Σ kₐ²)·Π φₐ. In 2-D with Dirichlet 0 this is sin(πy)·sin(2πx), f = −5π²u.
public struct PoissonProblem {
    /// The grid on [0, 1]^D with its boundary conditions.
    public let grid: Grid
    /// The right-hand side f on `grid`.
    public let rhs: Field<Double>
    /// The exact solution, when the boundary values allow one of this form (every Dirichlet
    /// axis with the same value).
    public let exact: Field<Double>?
    /// No Dirichlet axis: u is defined up to a constant (compare after removing the means).
    public let singular: Bool

    /// The manufactured problem on `g`. Throws what building a `Field` throws.
    public init(grid g: Grid) throws {
        grid = g
        let pi = Double.pi
        let ks = g.boundaries.enumerated().map { a, b -> Double in
            let m = Double(a + 1)
            return b == .periodic ? 2 * m * pi : m * pi
        }
        let k2 = ks.reduce(0) { $0 + $1 * $1 }
        func phi(_ c: [Double]) -> Double {
            var p = 1.0
            for (a, b) in g.boundaries.enumerated() {
                switch b {
                case .dirichlet, .periodic: p *= sin(ks[a] * c[a])
                case .neumann: p *= cos(ks[a] * c[a])
                }
            }
            return p
        }
        rhs = try Field<Double>(grid: g) { c in -k2 * phi(c) }
        let values = g.boundaries.compactMap { b -> Double? in if case .dirichlet(let v) = b { return v }; return nil }
        singular = values.isEmpty
        if values.allSatisfy({ $0 == values.first }) {
            let c = values.first ?? 0
            exact = try Field<Double>(grid: g) { x in c + phi(x) }
        } else {
            exact = nil
        }
    }

    /// Max |u − exact| (means removed for a singular problem); nil without an exact solution.
    public func maxError(_ u: Field<Double>) throws -> Double? {
        guard let exact else { return nil }
        guard singular else { return try u.maxDifference(exact) }
        let a = u.toArray(), b = exact.toArray()
        let ma = a.reduce(0, +) / Double(a.count), mb = b.reduce(0, +) / Double(b.count)
        var m = 0.0
        for i in 0..<a.count { m = max(m, abs((a[i] - ma) - (b[i] - mb))) }
        return m
    }
}

/// What `pde poisson` writes, single-process or distributed: `out/poisson_fd.npy` and `.png`,
/// and one summary line on stdout.
public enum PoissonOutput {
    /// Writes `out/poisson_fd.npy` and `out/poisson_fd.png` (creating `out`) and prints the
    /// summary line: CG `iterations`, final relative `residual`, max error when an exact solution
    /// exists, wall `seconds` and where it ran.
    public static func write(_ u: Field<Double>, problem: PoissonProblem, options o: PoissonOptions, iterations: Int,
                             residual: Double, seconds: Double, ranOn: String) throws {
        try makeDirectory(o.out)
        try u.save(npy: "\(o.out)/poisson_fd.npy")
        let shape = u.grid.shape.map(String.init).joined(separator: "×")
        try fieldPicture(u, title: "Poisson ∇²u = f: finite-difference solution (PCG on tiles)",
                         subtitle: "\(shape) grid, boundaries \(o.grid.bc), manufactured right-hand side",
                         valueLabel: "u", colormap: .tide, range: .symmetric).writePNG(to: "\(o.out)/poisson_fd.png")
        let error = try problem.maxError(u).map { String(format: "max error %.3e (O(h²))", $0) } ?? "no exact solution (Dirichlet values differ)"
        print(String(format: "FD %@ [%@]: %d CG iterations, residual %.2e, %@, %.3f s on %@; wrote %@/poisson_fd.png and .npy",
                     shape, o.grid.bc, iterations, residual, error, seconds, ranOn, o.out))
    }
}
