import Foundation
import Tessera
import TesseraCLICore
import TesseraDistributed

/// What every command of tessera-mpi does around its work: share the machine's cores between
/// the ranks, start MPI, refuse ranks started with different command lines or input files, and
/// turn an error on any rank into an error exit of the whole job (never a hang).
enum MPIJob {
    /// Runs `body` on every rank of MPI_COMM_WORLD, then finalizes MPI. On an error: the message
    /// (`tessera-mpi <name>: error: ...`) on stderr, MPI_Abort, exit status 1.
    static func run(_ name: String, threadLevel: MPI.ThreadLevel = .funneled, inputFiles: [String] = [],
                    _ body: (Communicator) throws -> Void) {
        // Ranks on one machine share its cores: unless told otherwise, give each rank's pool its
        // share (spinning pools of oversubscribed ranks would fight for the cores).
        let env = ProcessInfo.processInfo.environment
        if env["TESSERA_NUM_THREADS"] == nil, let local = env["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init), local > 1 {
            setenv("TESSERA_NUM_THREADS", "\(max(1, ProcessInfo.processInfo.activeProcessorCount / local))", 1)
        }
        do {
            let world = try MPI.initialize(threadLevel: threadLevel)
            if !MPI.launchedByMPIRun && world.rank == 0 {
                standardError("tessera-mpi: not started by mpirun; running on one rank (use mpirun -np N for more)")
            }
            // ranks started with different options or input files would each run valid work whose
            // results do not fit together: refuse on every rank before any of it
            if env["TESSERA_MPI_SKIP_ARGUMENT_CHECK"] == nil {   // tests of the library's own checks
                let line = CommandLine.arguments.dropFirst().filter { $0 != "--distributed" }.joined(separator: " ")
                let inputs = inputFiles.map { path in
                    (try? Data(contentsOf: URL(fileURLWithPath: path))).map { Agreed("input file \(path)", digestOf: Array($0)) }
                        ?? Agreed("input file \(path)", "missing: \(path)")
                }
                try world.agree("tessera-mpi", [Agreed("the command line", line)] + inputs)
            }
            try body(world)
            try MPI.finalize()
        } catch {
            standardError("tessera-mpi \(name): error: \(error)")
            // one failing rank must not leave the others waiting in a collective
            if MPI.isInitialized && !MPI.isFinalized { MPI.abort(code: 1) }
            exit(1)
        }
    }
}

/// The self-check lines: one JSON object (keys sorted) from rank 0, with the rank count.
enum CheckLine {
    static func emit(_ comm: Communicator, _ fields: [String: Any]) {
        guard comm.rank == 0 else { return }
        var f = fields
        f["ranks"] = comm.size
        for (k, v) in f { if let d = v as? Double, !d.isFinite { f[k] = "\(d)" } }
        let data = try! JSONSerialization.data(withJSONObject: f, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
        fflush(nil)
    }
}

func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    var m = 0.0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double { maxAbsDiff(a.map(Double.init), b.map(Double.init)) }

/// FNV-1a of the bytes: a fingerprint that runs can be compared by.
func fingerprint<T>(_ v: [T]) -> String {
    String(format: "%016llx", v.withUnsafeBytes { Digest.of($0) })
}

/// Median, min, max of samples.
func stats(_ s: [Double]) -> (median: Double, min: Double, max: Double) {
    let t = s.sorted()
    return (t[t.count / 2], t.first!, t.last!)
}

/// "2 ranks" / "3 ranks, decomposition [3, 1]".
func ranksDescription(_ world: Communicator, _ extra: String = "") -> String {
    countedNoun(world.size, "rank") + (extra.isEmpty ? "" : ", " + extra)
}
