// `mpirun -np N tessera <command> --distributed ...`: the tessera CLI does not link MPI. When it
// sees `--distributed` it replaces itself (execv, same process, so mpirun's environment and
// connections hold) with the `tessera-mpi` executable that sits beside it, passing the same
// arguments; tessera-mpi understands tessera's command words (pde heat|poisson, cluster
// --method kmeans|clara, attention, diffuse). Without mpirun, tessera-mpi runs as one rank and
// says so.

import Foundation

enum DistributedLaunch {
    /// The tessera-mpi executable beside this one ($TESSERA_MPI_BIN overrides).
    static func siblingBinary() -> String {
        if let p = ProcessInfo.processInfo.environment["TESSERA_MPI_BIN"], !p.isEmpty { return p }
        var exe = CommandLine.arguments[0]
        // argv[0] may be a bare name found on PATH: the kernel's link is exact
        if let real = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { exe = real }
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("tessera-mpi").path
    }

    /// Execs tessera-mpi when `--distributed` is among the arguments; returns otherwise.
    /// A missing or failing exec is a clear error and exit status 2.
    static func execIfRequested() {
        let argv = CommandLine.arguments
        guard argv.dropFirst().contains("--distributed") else { return }
        let bin = siblingBinary()
        guard FileManager.default.isExecutableFile(atPath: bin) else {
            FileHandle.standardError.write(Data("""
                tessera: --distributed runs the MPI companion executable, but \(bin) is missing.
                Build it with `swift build --product tessera-mpi` (needs OpenMPI: scripts/bootstrap) so it sits beside tessera,
                or point TESSERA_MPI_BIN at it; then: mpirun -np N tessera <command> --distributed ...

                """.utf8))
            exit(2)
        }
        var cargs: [UnsafeMutablePointer<CChar>?] = ([bin] + argv.dropFirst()).map { strdup($0) }
        cargs.append(nil)
        execv(bin, &cargs)
        let err = String(cString: strerror(errno))
        FileHandle.standardError.write(Data("tessera: could not start \(bin): \(err)\n".utf8))
        exit(2)
    }
}

// The hook: the command's entry point looks for --distributed before ArgumentParser parses.
extension TesseraCLI {
    static func main() {
        DistributedLaunch.execIfRequested()
        main(nil)
    }
}
