import ArgumentParser
import TesseraCLICore

@main
struct TesseraCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera",
        abstract: "Tessera: parallel numerics kernels for CPUs, from the command line.",
        discussion: """
        Tessera runs its kernels on a thread pool pinned to cores (TESSERA_NUM_THREADS, \
        TESSERA_BIND=core|scatter|none) with run-time ISA dispatch (TESSERA_ISA=scalar|avx2|avx512).
        Start with `tessera info`, then `tessera bench limits`.
        pde heat, pde poisson, cluster (kmeans, clara), attention and diffuse also run on MPI ranks, \
        with the same options and outputs: mpirun -np N tessera <command> --distributed ...
        """,
        version: "0.1.0",
        subcommands: [
            InfoCommand.self,
            BenchCommand.self,
            GenerateCommand.self,
            ChatCommand.self,
            ServeCommand.self,
            PDECommand.self,
            DiffusionCommand.self,
            ClusterCommand.self,
            AttentionCommand.self,
            EmbedCommand.self, ProjectCommand.self,
            TokenizeCommand.self, QuantizeCommand.self,
        ]
    )
}

// The entry point: companions first (`--distributed` → tessera-mpi, `bench` → tessera-bench),
// then the commands of this executable.
extension TesseraCLI {
    static func main() {
        CompanionLaunch.execIfRequested()
        CommandLineTool.main(TesseraCLI.self)
    }
}
