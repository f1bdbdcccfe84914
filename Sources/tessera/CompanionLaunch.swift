// Companion executables. The tessera CLI neither links MPI nor carries the benchmarks:
//
//   mpirun -np N tessera <command> --distributed ...   execs `tessera-mpi <command> --distributed ...`
//   tessera bench <area> ...                          execs `tessera-bench <area> ...`
//
// Both replace this process (execv: same process, so mpirun's environment and connections
// hold) with the executable that sits beside `tessera`, passing the same arguments.
// tessera-mpi parses the same option types as tessera (TesseraCLICore), so
// `tessera X --distributed` accepts exactly the options of `tessera X`. A missing companion is a
// clear error naming the path, exit status 2.

import Foundation

enum CompanionLaunch {
    /// A companion executable `name` beside this one (`environment` names a variable that overrides it).
    static func siblingBinary(_ name: String, override environment: String) -> String {
        if let p = ProcessInfo.processInfo.environment[environment], !p.isEmpty { return p }
        var exe = CommandLine.arguments[0]
        // argv[0] may be a bare name found on PATH: the kernel's link is exact
        if let real = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { exe = real }
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Execs `bin` with `arguments` (argv[0] = bin); never returns.
    static func exec(_ bin: String, _ arguments: [String], missing: String) -> Never {
        guard FileManager.default.isExecutableFile(atPath: bin) else {
            FileHandle.standardError.write(Data("tessera: \(missing.replacingOccurrences(of: "$BIN", with: bin))\n".utf8))
            exit(2)
        }
        var cargs: [UnsafeMutablePointer<CChar>?] = ([bin] + arguments).map { strdup($0) }
        cargs.append(nil)
        execv(bin, &cargs)
        let err = String(cString: strerror(errno))
        FileHandle.standardError.write(Data("tessera: could not start \(bin): \(err)\n".utf8))
        exit(2)
    }

    /// Execs tessera-mpi when `--distributed` is among the arguments, tessera-bench for
    /// `tessera bench ...`; returns otherwise.
    static func execIfRequested() {
        let argv = Array(CommandLine.arguments.dropFirst())
        if argv.first == "bench" {
            exec(siblingBinary("tessera-bench", override: "TESSERA_BENCH_BIN"), Array(argv.dropFirst()), missing: """
                `tessera bench` runs the benchmark executable, but $BIN is missing.
                Build it with `swift build -c release --product tessera-bench` so it sits beside tessera, or point TESSERA_BENCH_BIN at it.
                """)
        }
        guard argv.contains("--distributed") else { return }
        let forms = [["pde", "heat"], ["pde", "poisson"], ["cluster"], ["attention"], ["diffuse"]]
        guard forms.contains(where: { argv.starts(with: $0) }) else {
            let command = argv.prefix(while: { !$0.hasPrefix("-") }).prefix(2).joined(separator: " ")
            FileHandle.standardError.write(Data("""
                Error: `tessera \(command)` has no distributed form; --distributed applies to \(forms.map { $0.joined(separator: " ") }.joined(separator: ", ")).

                """.utf8))
            exit(64)
        }
        exec(siblingBinary("tessera-mpi", override: "TESSERA_MPI_BIN"), argv, missing: """
            --distributed runs the MPI companion executable, but $BIN is missing.
            Build it with `swift build --product tessera-mpi` (needs OpenMPI: scripts/bootstrap) so it sits beside tessera,
            or point TESSERA_MPI_BIN at it; then: mpirun -np N tessera <command> --distributed ...
            """)
    }
}
