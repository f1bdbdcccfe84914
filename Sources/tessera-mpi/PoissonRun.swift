import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraDistributed
import TesseraPDE

/// `tessera pde poisson --distributed`: PCG on a Cartesian split of the grid (halos between
/// neighbour ranks, dot products by allreduce); the same problem, files and summary as
/// `tessera pde poisson`. --check: FDPoisson on rank 0 with the same tiles (bitwise) and with one
/// tile (relative difference).
struct PoissonRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poisson",
        abstract: "Poisson ∇²u = f by finite differences and PCG on a Cartesian split of the grid over the ranks.")

    @OptionGroup var options: PoissonOptions

    func validate() throws { try options.validate(distributedRun: true) }

    func run() throws {
        let o = options
        MPIJob.run("pde poisson") { world in
            let problem = try PoissonProblem(grid: try o.grid.grid())
            let grid = problem.grid
            let transfer = HaloTransfer(rawValue: o.mpi.transfer ?? "packed") ?? .packed
            let dg = try DistributedGrid(grid: grid, communicator: world,
                                         dims: try parseDecomposition(o.mpi.decomposition, dimensions: grid.dimensions),
                                         transfer: transfer)
            let solver = try DistributedPoisson(on: dg)
            try world.barrier()
            let t0 = MPI.wallTime()
            let (sol, rep) = try solver.solve(problem.rhs, tolerance: o.tol)
            let seconds = try world.allreduce(MPI.wallTime() - t0, op: .max)
            guard world.rank == 0 else { return }
            let tiles = dg.cartesian.dims
            try PoissonOutput.write(sol, problem: problem, options: o, iterations: rep.iterations, residual: rep.relativeResidual,
                                    seconds: seconds, ranOn: ranksDescription(world, "decomposition \(tiles), \(transfer.rawValue) halos"))
            if o.flags.check {
                let ref = try FDPoisson(grid: grid, tiles: tiles).solve(problem.rhs, tolerance: o.tol)
                let one = try FDPoisson(grid: grid, tiles: [Int](repeating: 1, count: grid.dimensions)).solve(problem.rhs, tolerance: o.tol)
                let scale = max(one.solution.maxAbs, 1e-300)
                CheckLine.emit(world, ["check": "poisson", "grid": grid.description, "decomposition": "\(tiles)",
                                       "iterations": rep.iterations, "single_iterations": ref.report.iterations,
                                       "residual": rep.relativeResidual, "converged": rep.converged,
                                       "bitwise_vs_single_same_tiles": sol.toArray() == ref.solution.toArray(),
                                       "rel_diff_vs_single_one_tile": maxAbsDiff(sol.toArray(), one.solution.toArray()) / scale,
                                       "fingerprint": fingerprint(sol.toArray()), "seconds": seconds])
            }
        }
    }
}
