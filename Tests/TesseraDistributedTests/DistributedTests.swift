// MPI tests. Swift Testing cannot itself run under mpirun, so each test starts
// `mpirun -np N tessera-mpi <command>` (the executable built beside this test bundle), with a
// timeout. The commands that mirror tessera's (pde heat|poisson, cluster, attention, diffuse)
// write their usual output files; the tests read those files and compare them with the
// single-process result computed here, in the test process, from the same options (the
// option types and problem set-up are TesseraCLICore's, the solvers the libraries'). The
// self-checks (selftest, patch-exchange) and the `--check` fields that need MPI in the
// reference (the per-block ring attention) are read from the JSON line rank 0 prints.
// A missing mpirun or tessera-mpi fails the tests with a message (scripts/bootstrap installs
// OpenMPI; `swift build` builds tessera-mpi): they are never skipped.

import ArgumentParser
import Foundation
import Testing
import TesseraTestSupport
import Tessera
import TesseraCLICore
import TesseraCluster
import TesseraDiffusion
@testable import TesseraDistributed
import TesseraPDE

/// mpirun on PATH.
func mpirun() throws -> String {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
        let c = "\(dir)/mpirun"
        if FileManager.default.isExecutableFile(atPath: c) { return c }
    }
    throw TestSupportError("mpirun is not on PATH: install OpenMPI (scripts/bootstrap installs openmpi-bin libopenmpi-dev)")
}

struct RunResult {
    var status: Int32
    var json: [String: Any]
    var stdout: String
    var stderr: String
}

/// Runs tessera-mpi on `ranks` ranks (0 = without mpirun), killing it after `timeout` seconds.
/// With `perRank`, rank r runs with `perRank[r]` instead (MPMD: one `-np 1` block a rank).
func runMPI(_ ranks: Int, _ arguments: [String], timeout: Double = 60, binary: String? = nil,
            environment: [String: String] = [:], perRank: [[String]]? = nil) throws -> RunResult {
    let bin = try binary ?? builtExecutable("tessera-mpi", override: "TESSERA_MPI_BIN")
    let (executable, args): (String, [String])
    if ranks == 0 {
        (executable, args) = (bin, arguments)
    } else if let perRank {
        (executable, args) = (try mpirun(), ["--allow-run-as-root", "--oversubscribe"]
            + perRank.enumerated().flatMap { ($0.offset > 0 ? [":"] : []) + ["-np", "1", bin] + $0.element })
    } else {
        (executable, args) = (try mpirun(), ["--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", bin] + arguments)
    }
    var env = environment
    env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
    let run = try runProcess(executable, args, environment: env, timeout: timeout)
    let line = run.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }).map(String.init) ?? "{}"
    let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
    return RunResult(status: run.status, json: json, stdout: run.stdout, stderr: run.stderr)
}

func bool(_ r: RunResult, _ k: String) -> Bool { r.json[k] as? Bool ?? false }
func num(_ r: RunResult, _ k: String) -> Double { (r.json[k] as? NSNumber)?.doubleValue ?? .infinity }

/// A fresh folder for one run's outputs.
func scratchDirectory() throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-mpi-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// The values of a .npy file written by a run.
func npyValues(_ path: String) throws -> (shape: [Int], values: [Double]) {
    let a = try NPYArray(contentsOf: path)
    return (a.shape, a.doubles())
}

/// One line of the `key value` summary that tessera cluster prints.
func summaryLine(_ key: String, _ value: String) -> String {
    key.padding(toLength: 18, withPad: " ", startingAt: 0) + " " + value + "\n"
}

/// The options a command parses (the command word dropped), for the reference computation.
func parsed<O: ParsableArguments>(_: O.Type, _ arguments: [String]) throws -> O {
    try O.parse(arguments)
}

@Suite("TesseraDistributed (mpirun)", .serialized)
struct DistributedMPITests {
    @Test("mpirun and tessera-mpi are there (the MPI tests fail, not skip, without them)")
    func prerequisites() throws {
        _ = try mpirun()
        _ = try builtExecutable("tessera-mpi", override: "TESSERA_MPI_BIN")
    }

    @Test("MPI binding: collectives, communicators, p2p, datatype families packed and derived, errors", arguments: [2, 3])
    func selftest(ranks: Int) throws {
        let r = try runMPI(ranks, ["selftest"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bool(r, "passed"), "failed checks: \(r.json["failed"] ?? "?") \(r.stderr)")
        #expect(num(r, "ranks") == Double(ranks))
        #expect(r.json["thread_level"] as? String != "MPI_THREAD_SINGLE")
    }

    @Test("without mpirun: one rank, with a note")
    func singleton() throws {
        let r = try runMPI(0, ["selftest"])
        #expect(r.status == 0)
        #expect(bool(r, "passed"))
        #expect(num(r, "ranks") == 1)
        #expect(r.stderr.contains("not started by mpirun"))
    }

    @Test("ring attention writes the single-process attention output (contiguous and zig-zag layouts)", arguments: [
        (2, false, "contiguous"), (3, true, "contiguous"), (2, true, "zigzag"), (4, true, "zigzag"), (3, false, "zigzag"),
    ])
    func ringAttention(ranks: Int, causal: Bool, layout: String) throws {
        let dir = try scratchDirectory()
        let options = ["--seq", "83", "--heads", "4", "--kv-heads", "2", "--dim", "16", "--layout", layout] + (causal ? ["--causal"] : [])
        let r = try runMPI(ranks, ["attention"] + options + ["--out", "\(dir)/o.npy", "--check"])
        #expect(r.status == 0, "\(r.stderr)")
        // the reference, here: the same inputs through single-process attention
        let o = try parsed(AttentionOptions.self, options)
        let (q, k, v) = try o.inputs()
        let single = try Attention(mask: causal ? .causal : .none).forward(query: q, key: k, value: v)
        let (shape, got) = try npyValues("\(dir)/o.npy")
        #expect(shape == [1, 4, 83, 16])
        let want = single.output.toArray()
        #expect(got.count == want.count)
        let diff = zip(got, want).map { abs($0 - Double($1)) }.max() ?? .infinity
        #expect(diff <= 2e-6, "max |ring - single| = \(diff)")
        // per-block merge on each rank against the same merge in one process: needs the ring's own reference (MPI)
        #expect(r.json["layout"] as? String == layout)
        #expect(bool(r, "bitwise_vs_blockwise_single"), "\(r.json)")
    }

    @Test("a throw between posting the ring's transfers and waiting for them: a clean error, no heap corruption", arguments: [
        ["--heads", "3", "--kv-heads", "2"],                                   // the fuzzer's case: caught before any transfer now
        ["--heads", "4", "--kv-heads", "2", "--inject-fault-step", "0"],          // every rank throws after posting
        ["--heads", "4", "--kv-heads", "2", "--inject-fault-step", "1", "--inject-fault-rank", "1"],  // one rank, mid-ring
    ])
    func ringAttentionThrowAfterPost(extra: [String]) throws {
        let r = try runMPI(3, ["attention", "--seq", "64", "--dim", "16"] + extra, timeout: 60)
        #expect(r.status == 1, "exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("error: invalid"), "\(r.stderr)")
        for bad in ["corrupted", "double free", "free():", "Segmentation", "AddressSanitizer", "signal"] {
            #expect(!r.stderr.contains(bad), "\(r.stderr)")
        }
    }

    @Test("ranks started with different options fail together, naming what differs", arguments: [
        (["attention", "--seq", "64"], ["attention", "--seq", "96"], "--seq 96"),
        (["cluster", "--method", "kmeans", "--n", "200", "--k", "3"], ["cluster", "--method", "kmeans", "--n", "100", "--k", "3"], "--n 100"),
        (["cluster", "--method", "clara", "--n", "300", "--d", "2", "--k", "3"], ["cluster", "--method", "clara", "--n", "300", "--d", "3", "--k", "3"], "--d 3"),
    ])
    func disagreeingCommandLines(a: [String], b: [String], named: String) throws {
        let r = try runMPI(2, [], perRank: [a, b])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("ranks disagree on the command line"), "\(r.stderr)")
        #expect(r.stderr.contains(named))
    }

    @Test("the library's own agreement checks (command-line check off): k-means parameters, CLARA data, ring shapes", arguments: [
        (["cluster", "--method", "kmeans", "--n", "400", "--k", "3"], ["cluster", "--method", "kmeans", "--n", "400", "--k", "4"], "DistributedKMeans: ranks disagree on k"),
        (["cluster", "--method", "clara", "--n", "300", "--d", "2", "--k", "3"], ["cluster", "--method", "clara", "--n", "300", "--d", "3", "--k", "3"], "DistributedCLARA: ranks disagree on data"),
        (["attention", "--seq", "64", "--heads", "4"], ["attention", "--seq", "64", "--heads", "2"], "RingAttention: ranks disagree on query heads"),
        (["pde", "heat", "--n", "24", "--steps", "3", "--nu", "0.1"], ["pde", "heat", "--n", "24", "--steps", "3", "--nu", "0.2"], "ranks disagree on diffusivity"),
    ])
    func libraryAgreement(a: [String], b: [String], named: String) throws {
        let r = try runMPI(2, [], environment: ["TESSERA_MPI_SKIP_ARGUMENT_CHECK": "1"], perRank: [a, b])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains(named), "\(r.stderr)")
    }

    @Test("distributed k-means writes the labels of single-process KMeans.fit from the same rows", arguments: [("ordered", 2), ("ordered", 3), ("allreduce", 2)])
    func kmeans(reduction: String, ranks: Int) throws {
        let dir = try scratchDirectory()
        // the data as a file for one case (read by every rank, agreed by digest), synthetic for the others
        let n = 10_000, d = 5, k = 4
        let points = ClusterData.blobs(n: n, d: d, k: k)
        var input: [String] = ["--n", "\(n)", "--d", "\(d)"]
        if ranks == 3 {
            try NPYArray(shape: [n, d], elements: points).write(to: "\(dir)/points.npy")
            input = ["\(dir)/points.npy"]
        }
        let r = try runMPI(ranks, ["cluster"] + input + ["--method", "kmeans", "--k", "\(k)", "--seed", "3", "--reduction", reduction,
                                                          "--out", "\(dir)/labels.csv", "--check"])
        #expect(r.status == 0, "\(r.stderr)")
        // the reference, here: KMeans.fit with --initialization random (the rows --distributed starts from)
        let x = try Matrix(rows: n, cols: d, elements: points)
        let single = try KMeans.fit(x, k: k, options: KMeansOptions(initialization: .random, seed: 3))
        try ClusterCSV.writeLabels(single.labels, path: "\(dir)/expected.csv")
        #expect(try String(contentsOfFile: "\(dir)/labels.csv", encoding: .utf8) == (try String(contentsOfFile: "\(dir)/expected.csv", encoding: .utf8)))
        #expect(r.stdout.contains(summaryLine("iterations", "\(single.iterations)")), "\(r.stdout)")
        if reduction == "ordered" {
            #expect(bool(r, "centers_bitwise"))
            #expect(r.stdout.contains(summaryLine("inertia", String(format: "%.6f", single.inertia))), "\(r.stdout)")
        } else {
            #expect(num(r, "centers_max_diff") <= 1e-12)
            #expect(num(r, "inertia_rel_diff") <= 1e-12)
        }
    }

    @Test("MPIPatchExchange (patch per rank) delivers fresh and one-call-stale contributions byte for byte; bytes as SharedMemoryExchange", arguments: [2, 4])
    func patchExchange(ranks: Int) throws {
        let r = try runMPI(ranks, ["patch-exchange", "--calls", "8", "--warmup", "2", "--timeout", "20"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bool(r, "passed"), "\(r.json) \(r.stderr)")
        #expect(num(r, "wrong") == 0)
    }

    @Test("U-Net patches on ranks write the PNG of the single-process patch-parallel sampling of the same mode, byte for byte", arguments: [
        (2, "sync", 16), (2, "distrifusion", 16), (2, "pcpp", 16), (4, "distrifusion", 32), (4, "pcpp:0.25", 32),
    ])
    func diffuse(ranks: Int, mode: String, size: Int) throws {
        let dir = try scratchDirectory()
        let options = ["--random-unet", "tiny", "--mode", mode, "--size", "\(size)", "--steps", "3", "--samples", "1", "--warmup", "1",
                       "--no-reference"]
        let r = try runMPI(ranks, ["diffuse"] + options + ["--out", "\(dir)/ranks.png", "--check"], timeout: 90)
        #expect(r.status == 0, "\(r.stderr)")
        // the reference, here: all patches in this process
        let o = try parsed(DiffuseOptions.self, options)
        let setup = try DiffuseSetup(o)
        let all = try PatchParallelDenoiser(base: setup.base, patches: ranks, mode: setup.mode)
        all.unetSchedule = setup.schedule
        let (samples, _) = try setup.run(all, o, label: "test", progress: false)
        var one = o
        one.out = "\(dir)/one.png"
        try DiffuseOutput.reference(samples, seconds: 1, patches: ranks, setup: setup, options: one)   // the same figure
        let png = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/ranks.png"))
        #expect(png == (try Data(contentsOf: URL(fileURLWithPath: "\(dir)/one.png"))))
        #expect(bool(r, "bitwise_vs_single"), "\(r.json)")
        #expect(bool(r, "ranks_agree"))
        #expect(num(r, "bytes") == Double(all.callBytes.reduce(0) { $0 + $1.bytes }))
    }

    @Test("distributed CLARA writes the labels and medoids of single-process CLARA with the same seed", arguments: [(2, "clara", 5), (3, "fastclara", 7), (4, "clara", 3)])
    func clara(ranks: Int, method: String, samples: Int) throws {
        let dir = try scratchDirectory()
        let r = try runMPI(ranks, ["cluster", "--method", method, "--n", "3000", "--d", "3", "--k", "4", "--samples", "\(samples)", "--seed", "5",
                                   "--out", "\(dir)/labels.csv"])
        #expect(r.status == 0, "\(r.stderr)")
        let x = try Matrix(rows: 3000, cols: 3, elements: ClusterData.blobs(n: 3000, d: 3, k: 4))
        let single = try SampledKMedoids.clara(try DataDissimilarity(x), k: 4, options: .init(samples: samples, fast: method == "fastclara", seed: 5))
        try ClusterCSV.writeLabels(single.labels, medoids: single.medoids, path: "\(dir)/expected.csv")
        #expect(try String(contentsOfFile: "\(dir)/labels.csv", encoding: .utf8) == (try String(contentsOfFile: "\(dir)/expected.csv", encoding: .utf8)))
        #expect(r.stdout.contains(summaryLine("medoids", single.medoids.map(String.init).joined(separator: " "))), "\(r.stdout)")
        #expect(r.stdout.contains(summaryLine("loss", String(format: "%.6f", single.loss))), "\(r.stdout)")
    }

    @Test("tessera <command> --distributed execs tessera-mpi with the same arguments and writes what tessera <command> writes; a clear error when it is missing")
    func launch() throws {
        let tessera = try builtExecutable("tessera")
        let dir = try scratchDirectory()
        let r = try runMPI(2, ["pde", "heat", "--distributed", "--n", "24", "--steps", "5", "--out", "\(dir)/ranks", "--check"], binary: tessera)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.json["check"] as? String == "heat")
        #expect(bool(r, "bitwise_vs_single"))
        // the one-process command with the same options: the same files
        let one = try runMPI(0, ["pde", "heat", "--n", "24", "--steps", "5", "--out", "\(dir)/one"], binary: tessera)
        #expect(one.status == 0, "\(one.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/ranks/heat_final.npy"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: "\(dir)/one/heat_final.npy"))))
        #expect(FileManager.default.fileExists(atPath: "\(dir)/ranks/heat_final.png"))
        let c = try runMPI(0, ["cluster", "--method", "clara", "--distributed", "--n", "2000", "--k", "3", "--samples", "2", "--check"], binary: tessera)
        #expect(c.status == 0 && bool(c, "labels_equal"))
        #expect(c.stderr.contains("not started by mpirun"))
        // an option of the one-process command that only --distributed uses is refused there, not ignored
        let refused = try runMPI(0, ["pde", "heat", "--decomposition", "2,1"], binary: tessera)
        #expect(refused.status == 64 && refused.stderr.contains("--decomposition applies to --distributed runs only"), "\(refused.stderr)")
        // an option neither knows is refused by both (no more silently ignored options)
        let unknown = try runMPI(0, ["cluster", "--method", "kmeans", "--k", "2", "--n", "50", "--distributed", "--labels", "x.csv"], binary: tessera)
        #expect(unknown.status == 64 && unknown.stderr.contains("--labels"), "\(unknown.stderr)")
        let missing = try runMPI(0, ["pde", "heat", "--distributed"], binary: tessera, environment: ["TESSERA_MPI_BIN": "/nonexistent/tessera-mpi"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/nonexistent/tessera-mpi is missing"))
    }

    @Test("distributed explicit heat writes the FDHeat solution bitwise; one rank writes the same file", arguments: [
        (2, ["--bc", "dirichlet:0.5"]), (3, ["--transfer", "derived", "--bc", "periodic,neumann"]),
        (4, ["--decomposition", "2,2", "--bc", "neumann,dirichlet:1"]), (2, ["--dimensions", "3", "--n", "12", "--bc", "periodic"]),
        // z-split: the 96x96 z-faces travel as their contiguous span (HaloSpan: rows with the
        // x-ghost cells between them, the receiver's own gap bytes put back)
        (2, ["--dimensions", "3", "--n", "96", "--steps", "3", "--bc", "periodic,neumann,dirichlet:1"]),
        // y-split: faces of 96x96 doubles (72 KiB) in 96 runs travel as two pipelined chunks
        // (DistributedGrid.pipelineChunkBytes)
        (2, ["--dimensions", "3", "--n", "96", "--steps", "3", "--decomposition", "1,2,1", "--bc", "neumann,periodic,dirichlet:1"]),
    ])
    func heat(ranks: Int, extra: [String]) throws {
        let dir = try scratchDirectory()
        let options = ["--n", "40", "--steps", "15"] + extra
        let r = try runMPI(ranks, ["pde", "heat"] + options + ["--out", "\(dir)/ranks"])
        #expect(r.status == 0, "\(r.stderr)")
        // the reference, here: FDHeat in this process
        var single = options
        if let i = single.firstIndex(of: "--decomposition") { single.removeSubrange(i...(i + 1)) }
        if let i = single.firstIndex(of: "--transfer") { single.removeSubrange(i...(i + 1)) }
        let o = try parsed(HeatOptions.self, single)
        let (_, u0, dt) = try o.problem()
        let ref = try FDHeat(initial: u0, diffusivity: o.nu, dt: dt)
        try ref.advance(steps: o.steps)
        let (shape, got) = try npyValues("\(dir)/ranks/heat_final.npy")
        #expect(shape == ref.tiled.grid.shape)
        #expect(got == (try ref.solution().toArray()), "distributed heat differs from FDHeat")
        // one rank (no mpirun, no --decomposition): the same bytes
        let one = try runMPI(0, ["pde", "heat"] + single + ["--out", "\(dir)/one"])
        #expect(one.status == 0, "\(one.stderr)")
        let a = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/ranks/heat_final.npy"))
        #expect(a == (try Data(contentsOf: URL(fileURLWithPath: "\(dir)/one/heat_final.npy"))))
    }

    @Test("distributed CG Poisson writes the FDPoisson solution of the same tiles bitwise", arguments: [
        (2, ["--bc", "dirichlet:1", "--decomposition", "2,1"]), (4, ["--decomposition", "2,2", "--bc", "neumann"]),
        (2, ["--dimensions", "3", "--n", "10", "--bc", "dirichlet:1,periodic,neumann", "--transfer", "derived", "--decomposition", "1,2,1"]),
    ])
    func poisson(ranks: Int, extra: [String]) throws {
        let dir = try scratchDirectory()
        let options = ["--n", "32"] + extra
        let r = try runMPI(ranks, ["pde", "poisson"] + options + ["--out", "\(dir)"])
        #expect(r.status == 0, "\(r.stderr)")
        var single = options
        let tiles = try #require(single.firstIndex(of: "--decomposition").map { single[$0 + 1].split(separator: ",").map { Int($0)! } })
        for flag in ["--decomposition", "--transfer"] {
            if let i = single.firstIndex(of: flag) { single.removeSubrange(i...(i + 1)) }
        }
        let o = try parsed(PoissonOptions.self, single)
        let problem = try PoissonProblem(grid: try o.grid.grid())
        let same = try FDPoisson(grid: problem.grid, tiles: tiles).solve(problem.rhs, tolerance: o.tol)
        let one = try FDPoisson(grid: problem.grid, tiles: [Int](repeating: 1, count: problem.grid.dimensions)).solve(problem.rhs, tolerance: o.tol)
        #expect(same.report.converged)
        let (_, got) = try npyValues("\(dir)/poisson_fd.npy")
        #expect(got == same.solution.toArray(), "distributed Poisson differs from FDPoisson with tiles \(tiles)")
        let scale = one.solution.maxAbs
        let rel = zip(got, one.solution.toArray()).map { abs($0 - $1) }.max()! / scale
        // another tiling sums in another order: CG iterates differ by rounding, the solutions by
        // far less than the solve's own tolerance (1e-10 relative residual)
        #expect(rel <= 1e-10, "relative difference to one tile: \(rel)")
        #expect(r.stdout.contains("\(same.report.iterations) CG iterations"), "\(r.stdout)")
    }

    @Test("bad input: a decomposition that does not fit the ranks is an error on every rank, not a hang")
    func badDecomposition() throws {
        let r = try runMPI(2, ["pde", "heat", "--n", "16", "--decomposition", "3,1"], timeout: 30)
        #expect(r.status != 0)
        #expect(r.stderr.contains("do not fit"))
    }

    @Test("options the distributed form cannot honour are refused before MPI starts")
    func refusals() throws {
        let cases: [([String], String)] = [
            (["cluster", "--method", "pam", "--k", "3", "--n", "50"], "no distributed version of --method pam"),
            (["pde", "heat", "--scheme", "crankNicolson"], "explicit scheme only"),
            (["diffuse", "--gaussian-field"], "--gaussian-field runs all patches in one process"),
            (["cluster", "--method", "kmeans", "--k", "3", "--n", "50", "--initialization", "k-means++"], "k-means++ runs in one process only"),
        ]
        for (args, message) in cases {
            let r = try runMPI(0, args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        let patches = try runMPI(2, ["diffuse", "--random-unet", "tiny", "--size", "16", "--steps", "1", "--samples", "1", "--patches", "3"])
        #expect(patches.status == 1 && patches.stderr.contains("--patches 3 with 2 ranks"), "\(patches.stderr)")
    }
}

@Suite("TesseraDistributed (in-process)")
struct DistributedUnitTests {
    @Test("k-means partition follows 4096-row chunks and covers the rows")
    func partition() {
        for (n, p) in [(10_000, 2), (10_000, 3), (100, 4), (50_000, 3)] {
            let parts = DistributedKMeans.partition(rows: n, ranks: p)
            #expect(parts.count == p)
            #expect(parts.first?.lowerBound == 0 && parts.last?.upperBound == n)
            for i in 1..<p { #expect(parts[i].lowerBound == parts[i - 1].upperBound) }
            for r in parts.dropLast() where !r.isEmpty { #expect(r.upperBound % DistributedKMeans.chunk == 0 || r.upperBound == n) }
        }
        let seq = RingAttention.partition(length: 10, ranks: 3)
        #expect(seq == [0..<3, 3..<6, 6..<10])
    }
}
