// MPI tests. Swift Testing cannot itself run under mpirun, so each test starts
// `mpirun -np N tessera-mpi <command>` (the executable built beside this test bundle), with a
// timeout, and checks the JSON line rank 0 prints: each distributed use against the
// single-process result computed in the same run, and the fingerprint of the result against
// a one-rank run (started without mpirun: the singleton fallback).

import Foundation
import Testing
@testable import TesseraDistributed

/// The tessera-mpi executable next to the test binary (or $TESSERA_MPI_BIN).
func tesseraMPI() -> String? {
    if let p = ProcessInfo.processInfo.environment["TESSERA_MPI_BIN"] { return p }
    var dirs: [URL] = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
    for b in Bundle.allBundles { dirs.append(b.bundleURL.deletingLastPathComponent()) }
    for d in dirs {
        let c = d.appendingPathComponent("tessera-mpi").path
        if FileManager.default.isExecutableFile(atPath: c) { return c }
    }
    return nil
}

struct RunResult {
    var status: Int32
    var json: [String: Any]
    var stderr: String
}

/// Runs tessera-mpi on `ranks` ranks (0 = without mpirun), killing it after `timeout` seconds.
/// With `perRank`, rank r runs with `perRank[r]` instead (MPMD: one `-np 1` block a rank).
func runMPI(_ ranks: Int, _ arguments: [String], timeout: Double = 60, binary: String? = nil,
            environment: [String: String] = [:], perRank: [[String]]? = nil) throws -> RunResult {
    guard let bin = binary ?? tesseraMPI() else { throw TesseraErrorLike("tessera-mpi not built beside the tests; run `swift build` first") }
    let p = Process()
    if ranks == 0 {
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = arguments
    } else if let perRank {
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["mpirun", "--allow-run-as-root", "--oversubscribe"]
            + perRank.enumerated().flatMap { ($0.offset > 0 ? [":"] : []) + ["-np", "1", bin] + $0.element }
    } else {
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", "\(ranks)", bin] + arguments
    }
    var env = ProcessInfo.processInfo.environment
    env["TESSERA_NUM_THREADS"] = "1"
    env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
    for (k, v) in environment { env[k] = v }
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    // read both pipes while it runs (a full pipe would block it)
    nonisolated(unsafe) var outData = Data(), errData = Data()
    let g = DispatchGroup()
    g.enter(); DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); g.leave() }
    g.enter(); DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); g.leave() }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning {
        p.terminate()
        usleep(500_000)
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        g.wait()
        throw TesseraErrorLike("tessera-mpi \(arguments) on \(ranks) ranks did not finish in \(timeout) s (hang)")
    }
    g.wait()
    p.waitUntilExit()
    let text = String(decoding: outData, as: UTF8.self)
    let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }).map(String.init) ?? "{}"
    let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
    return RunResult(status: p.terminationStatus, json: json, stderr: String(decoding: errData, as: UTF8.self))
}

struct TesseraErrorLike: Error, CustomStringConvertible {
    var description: String
    init(_ s: String) { description = s }
}

func bool(_ r: RunResult, _ k: String) -> Bool { r.json[k] as? Bool ?? false }
func num(_ r: RunResult, _ k: String) -> Double { (r.json[k] as? NSNumber)?.doubleValue ?? .infinity }

let mpiAvailable = tesseraMPI() != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/mpirun")

@Suite("TesseraDistributed (mpirun)", .enabled(if: mpiAvailable, "needs mpirun and the tessera-mpi executable"), .serialized)
struct DistributedMPITests {
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

    @Test("ring attention equals single-process attention (contiguous and zig-zag layouts)", arguments: [
        (2, false, "contiguous"), (3, true, "contiguous"), (2, true, "zigzag"), (4, true, "zigzag"), (3, false, "zigzag"),
    ])
    func ringAttention(ranks: Int, causal: Bool, layout: String) throws {
        let args = ["attention", "--seq", "83", "--heads", "4", "--kv-heads", "2", "--dim", "16", "--layout", layout] + (causal ? ["--causal"] : [])
        let r = try runMPI(ranks, args)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.json["layout"] as? String == layout)
        #expect(bool(r, "bitwise_vs_blockwise_single"))
        #expect(num(r, "max_diff_vs_single") <= 2e-6)
        #expect(num(r, "lse_max_diff_vs_single") <= 2e-6)
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
        (["kmeans", "--n", "200", "--k", "3"], ["kmeans", "--n", "100", "--k", "3"], "--n 100"),
        (["clara", "--n", "300", "--d", "2", "--k", "3"], ["clara", "--n", "300", "--d", "3", "--k", "3"], "--d 3"),
    ])
    func disagreeingCommandLines(a: [String], b: [String], named: String) throws {
        let r = try runMPI(2, [], perRank: [a, b])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("ranks disagree on the command line"), "\(r.stderr)")
        #expect(r.stderr.contains(named))
    }

    @Test("the library's own agreement checks (command-line check off): k-means parameters, CLARA data, ring shapes", arguments: [
        (["kmeans", "--n", "400", "--k", "3"], ["kmeans", "--n", "400", "--k", "4"], "DistributedKMeans: ranks disagree on k"),
        (["clara", "--n", "300", "--d", "2", "--k", "3"], ["clara", "--n", "300", "--d", "3", "--k", "3"], "DistributedCLARA: ranks disagree on data"),
        (["attention", "--seq", "64", "--heads", "4"], ["attention", "--seq", "64", "--heads", "2"], "RingAttention: ranks disagree on query heads"),
        (["heat", "--n", "24", "--steps", "3", "--nu", "0.1"], ["heat", "--n", "24", "--steps", "3", "--nu", "0.2"], "ranks disagree on diffusivity"),
    ])
    func libraryAgreement(a: [String], b: [String], named: String) throws {
        let r = try runMPI(2, [], environment: ["TESSERA_MPI_SKIP_ARGUMENT_CHECK": "1"], perRank: [a, b])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains(named), "\(r.stderr)")
    }

    @Test("distributed k-means equals single-process KMeans.fit", arguments: [("ordered", 2), ("ordered", 3), ("allreduce", 2)])
    func kmeans(reduction: String, ranks: Int) throws {
        let r = try runMPI(ranks, ["kmeans", "--n", "10000", "--d", "5", "--k", "4", "--reduction", reduction])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bool(r, "labels_equal"))
        #expect(num(r, "iterations") == num(r, "single_iterations"))
        if reduction == "ordered" {
            #expect(bool(r, "centers_bitwise"))
            #expect(num(r, "inertia_rel_diff") == 0)
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

    @Test("U-Net patches on ranks (MPIPatchExchange) equal the single-process patch-parallel result of the same mode, bitwise", arguments: [
        (2, "sync", 16), (2, "distrifusion", 16), (2, "pcpp", 16), (4, "distrifusion", 32), (4, "pcpp:0.25", 32),
    ])
    func diffuse(ranks: Int, mode: String, size: Int) throws {
        let r = try runMPI(ranks, ["diffuse", "--mode", mode, "--size", "\(size)", "--calls", "4", "--warmup", "1"], timeout: 90)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bool(r, "bitwise_vs_single"), "\(r.json)")
        #expect(bool(r, "ranks_agree"))
        #expect(num(r, "bytes") == num(r, "single_process_bytes"))
    }

    @Test("distributed CLARA equals single-process CLARA with the same seed", arguments: [(2, "clara", 5), (3, "fastclara", 7), (4, "clara", 3)])
    func clara(ranks: Int, method: String, samples: Int) throws {
        let r = try runMPI(ranks, ["cluster", "--method", method, "--n", "3000", "--d", "3", "--k", "4", "--samples", "\(samples)", "--seed", "5"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bool(r, "medoids_equal"))
        #expect(bool(r, "labels_equal"))
        #expect(bool(r, "loss_bitwise"))
    }

    @Test("tessera <command> --distributed execs tessera-mpi with the same arguments; a clear error when it is missing")
    func launch() throws {
        guard let mpiBin = tesseraMPI() else { return }
        let tessera = URL(fileURLWithPath: mpiBin).deletingLastPathComponent().appendingPathComponent("tessera").path
        guard FileManager.default.isExecutableFile(atPath: tessera) else { return }   // the CLI is not built in this run
        let r = try runMPI(2, ["pde", "heat", "--distributed", "--n", "24", "--steps", "5"], binary: tessera)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.json["check"] as? String == "heat")
        #expect(bool(r, "bitwise_vs_single"))
        let c = try runMPI(0, ["cluster", "--method", "clara", "--distributed", "--n", "2000", "--k", "3", "--samples", "2"], binary: tessera)
        #expect(c.status == 0 && bool(c, "labels_equal"))
        #expect(c.stderr.contains("not started by mpirun"))
        let missing = try runMPI(0, ["pde", "heat", "--distributed"], binary: tessera, environment: ["TESSERA_MPI_BIN": "/nonexistent/tessera-mpi"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("is missing"))
    }

    @Test("distributed explicit heat equals FDHeat bitwise", arguments: [
        (2, ["--bc", "dirichlet:0.5"]), (3, ["--transfer", "derived", "--bc", "periodic,neumann"]),
        (4, ["--dims", "2,2", "--bc", "neumann,dirichlet:1"]), (2, ["--dims-grid", "3", "--n", "12", "--bc", "periodic"]),
    ])
    func heat(ranks: Int, extra: [String]) throws {
        let r = try runMPI(ranks, ["heat", "--n", "40", "--steps", "15"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bool(r, "bitwise_vs_single"), "max diff \(num(r, "max_diff_vs_single"))")
        // one rank (no mpirun): no --dims
        var single = extra
        if let i = single.firstIndex(of: "--dims") { single.removeSubrange(i...(i + 1)) }
        let one = try runMPI(0, ["heat", "--n", "40", "--steps", "15"] + single)
        #expect(one.json["fingerprint"] as? String == r.json["fingerprint"] as? String)
    }

    @Test("distributed CG Poisson equals FDPoisson with the same tiles bitwise", arguments: [
        (2, ["--bc", "dirichlet:1"]), (4, ["--dims", "2,2", "--bc", "neumann"]),
        (2, ["--dims-grid", "3", "--n", "10", "--bc", "dirichlet:1,periodic,neumann", "--transfer", "derived"]),
    ])
    func poisson(ranks: Int, extra: [String]) throws {
        let r = try runMPI(ranks, ["poisson", "--n", "32"] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(bool(r, "converged"))
        #expect(bool(r, "bitwise_vs_single_same_tiles"))
        #expect(num(r, "rel_diff_vs_single_one_tile") <= 1e-12)
    }

    @Test("bad input: a decomposition that does not fit the ranks is an error on every rank, not a hang")
    func badDecomposition() throws {
        let r = try runMPI(2, ["heat", "--n", "16", "--dims", "3,1"], timeout: 30)
        #expect(r.status != 0)
        #expect(r.stderr.contains("do not fit"))
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
