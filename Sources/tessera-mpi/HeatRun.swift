import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraDistributed
import TesseraPDE

/// `tessera pde heat --distributed`: explicit heat steps on a Cartesian split of the grid, halos
/// exchanged between neighbour ranks (overlapped with the interior update); the same files and
/// summary as `tessera pde heat`. --check: FDHeat on rank 0, compared bit for bit.
struct HeatRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heat",
        abstract: "Finite-difference heat equation (explicit) on a Cartesian split of the grid over the ranks.")

    @OptionGroup var options: HeatOptions

    func validate() throws { try options.validate(distributedRun: true) }

    func run() throws {
        let o = options
        MPIJob.run("pde heat") { world in
            let (grid, u0, dt) = try o.problem()
            let transfer = HaloTransfer(rawValue: o.mpi.transfer ?? "packed") ?? .packed
            let dg = try DistributedGrid(grid: grid, communicator: world,
                                         dims: try parseDecomposition(o.mpi.decomposition, dimensions: grid.dimensions),
                                         transfer: transfer, pool: ThreadPool.shared)
            let heat = try DistributedHeat(initial: u0, diffusivity: o.nu, dt: dt, on: dg)
            var bar = ProgressBar(total: o.steps, enabled: world.rank == 0 && standardErrorIsTerminal)
            try world.barrier()
            let t0 = MPI.wallTime()
            for s in stride(from: 0, to: o.steps, by: 10) {
                try heat.advance(steps: min(10, o.steps - s), overlap: !o.noOverlap)
                bar.update(min(s + 10, o.steps))
            }
            let seconds = try world.allreduce(MPI.wallTime() - t0, op: .max)
            let sol = try heat.solution()
            guard world.rank == 0 else { return }
            try HeatOutput.write(sol, options: o, dt: dt, seconds: seconds,
                                 ranOn: ranksDescription(world, "decomposition \(dg.cartesian.dims), \(transfer.rawValue) halos"))
            if o.flags.check {
                let ref = try FDHeat(initial: u0, diffusivity: o.nu, dt: dt)
                let t1 = MPI.wallTime()
                try ref.advance(steps: o.steps)
                let singleSeconds = MPI.wallTime() - t1
                let rs = try ref.solution().toArray()
                CheckLine.emit(world, ["check": "heat", "grid": grid.description, "decomposition": "\(dg.cartesian.dims)",
                                       "transfer": transfer.rawValue, "steps": o.steps, "bitwise_vs_single": sol.toArray() == rs,
                                       "max_diff_vs_single": maxAbsDiff(sol.toArray(), rs), "fingerprint": fingerprint(sol.toArray()),
                                       "seconds": seconds, "single_seconds": singleSeconds])
            }
        }
    }
}
