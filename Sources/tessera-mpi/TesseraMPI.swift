// tessera-mpi: Tessera on MPI ranks, started under mpirun:
//
//   mpirun -np N tessera-mpi <command> [options]
//   mpirun -np N tessera <command> --distributed [options]     (tessera execs this binary)
//
// pde heat|poisson, cluster, attention and diffuse parse the option types of tessera's commands
// (TesseraCLICore) and write the same outputs; rank 0 writes files and the summary, notes go to
// stderr. --check adds the single-process result computed on rank 0 and prints one JSON line
// comparing the two (the MPI tests read it). selftest and patch-exchange are self-checks of the
// binding (JSON lines); bench-* are the workers of `tessera bench distributed`. Started without
// mpirun, it runs on one rank and says so. One file per command.

import ArgumentParser
import TesseraCLICore

@main
struct TesseraMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera-mpi",
        abstract: "Tessera on MPI ranks: the distributed forms of tessera's commands, MPI self-checks and bench workers.",
        discussion: """
        mpirun -np N tessera-mpi <command> [options] is what mpirun -np N tessera <command> --distributed [options] runs. \
        pde heat, pde poisson, cluster, attention and diffuse take exactly the options of the tessera command and write the \
        same outputs (rank 0 writes them); --check also computes the single-process result on rank 0 and prints one JSON line \
        comparing the two. Every rank must be started with the same command line (checked before any work). Without mpirun: one rank.
        """,
        version: "0.1.0",
        subcommands: [
            PDERun.self, ClusterRun.self, AttentionRun.self, DiffuseRun.self,
            SelftestRun.self, PatchExchangeRun.self,
            BenchHaloRun.self, BenchHeatRun.self, BenchAttentionRun.self, BenchKMeansRun.self, BenchCLARARun.self, BenchDiffuseRun.self,
        ]
    )

    static func main() {
        CommandLineTool.main(TesseraMPI.self)
    }
}

struct PDERun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pde",
        abstract: "Finite-difference PDE solvers on a Cartesian split of the grid over the ranks.",
        subcommands: [HeatRun.self, PoissonRun.self, StaggerRun.self]
    )
}
