// The `tessera` command line, run as users run it: the executable built beside this test
// bundle (a missing executable fails the tests; `swift build` builds it), with the outputs it
// writes checked here.

import Foundation
import Testing
import Tessera
import TesseraTestSupport

typealias Run = ProcessOutput

/// Runs `executable arguments` (stdout and stderr are pipes, so stderr is not a terminal).
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Run {
    try runProcess(executable, arguments, environment: environment, timeout: timeout)
}

func tessera(_ arguments: [String], environment: [String: String] = [:]) throws -> Run {
    try run(try builtExecutable("tessera"), arguments, environment: environment)
}

func scratchDirectory() throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-cli-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

/// 400 points in 2-D around 4 centres (deterministic), as rows.
func blobs() -> [[Double]] {
    var s: UInt64 = 7
    func next() -> Double {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
    let centres: [[Double]] = [[0, 0], [9, 1], [4, 8], [-6, 6]]
    return (0..<400).map { i in centres[i % 4].map { $0 + 2 * next() - 1 } }
}

/// The blobs written as CSV and as a float64 .npy file.
func writeBlobs(_ dir: String) throws -> (csv: String, npy: String) {
    let rows = blobs()
    let csv = "\(dir)/points.csv", npy = "\(dir)/points.npy"
    try ("x,y\n" + rows.map { $0.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n") + "\n")
        .write(toFile: csv, atomically: true, encoding: .utf8)
    try NPYArray(shape: [rows.count, 2], elements: rows.flatMap { $0 }).write(to: npy)
    return (csv, npy)
}

@Suite("tessera CLI")
struct CLITests {
    @Test("--help lists the attention command and --distributed; bench forwards to tessera-bench")
    func help() throws {
        let top = try tessera(["--help"])
        #expect(top.status == 0)
        #expect(top.stdout.contains("attention"), "\(top.stdout)")
        #expect(top.stdout.contains("--distributed"), "\(top.stdout)")
        for command in [["pde", "heat"], ["pde", "poisson"], ["cluster"], ["attention"], ["diffuse"]] {
            let r = try tessera(command + ["--help"])
            #expect(r.status == 0)
            #expect(r.stdout.contains("--distributed"), "\(command): \(r.stdout)")
        }
        _ = try builtExecutable("tessera-bench")
        let bench = try tessera(["bench", "--help"])
        #expect(bench.status == 0, "\(bench.stderr)")
        #expect(bench.stdout.contains("Areas: limits"), "\(bench.stdout)")
        #expect(bench.stdout.contains("docs/BENCHMARKS.md"))
        let noForm = try tessera(["pde", "ns2d", "--distributed"])
        #expect(noForm.status == 64 && noForm.stderr.contains("`tessera pde ns2d` has no distributed form"), "\(noForm.stderr)")
        let missing = try tessera(["bench", "limits"], environment: ["TESSERA_BENCH_BIN": "/nonexistent/tessera-bench"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/nonexistent/tessera-bench is missing"), "\(missing.stderr)")
    }

    @Test("negative option values parse as numbers (--beta -0.64 as --beta=-0.64; out-of-range ones get a range error, not 'Missing value')")
    func negativeValues() throws {
        let dir = try scratchDirectory()
        try "0 1\n1 2\n2 3\n3 0\n0 2\n".write(toFile: "\(dir)/edges.txt", atomically: true, encoding: .utf8)
        let spaced = try tessera(["embed", "\(dir)/edges.txt", "--dim", "8", "--beta", "-0.64", "--weights", "-1,2", "--out", "\(dir)/a.npy"])
        #expect(spaced.status == 0, "\(spaced.stderr)")
        let joined = try tessera(["embed", "\(dir)/edges.txt", "--dim", "8", "--beta=-0.64", "--weights=-1,2", "--out", "\(dir)/b.npy"])
        #expect(joined.status == 0, "\(joined.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a.npy")) == (try Data(contentsOf: URL(fileURLWithPath: "\(dir)/b.npy"))))
        for (args, message) in [
            (["generate", "--prompt", "hi", "--temperature", "-0.5"], "temperature -0.5 must be >= 0"),
            (["pde", "ns2d", "--nu", "-1e-4"], "--nu > 0"),
            (["pde", "heat", "--nu", "-1"], "--nu must be positive"),
            (["cluster", "--k", "-3", "--n", "20"], "--k must be >= 1"),
        ] {
            let r = try tessera(args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
            #expect(!r.stderr.contains("Missing value"), "\(args): \(r.stderr)")
        }
    }

    @Test("an error found while a command runs prints that command's usage, not the top-level one")
    func runTimeErrorUsage() throws {
        let dir = try scratchDirectory()
        let (csv, _) = try writeBlobs(dir)
        try "0 1 2 999\n".write(toFile: "\(dir)/medoids.txt", atomically: true, encoding: .utf8)
        // the index range is known only once the data is read
        let r = try tessera(["cluster", csv, "--init-medoids", "\(dir)/medoids.txt"])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("row 999 is outside the data's 400 rows"), "\(r.stderr)")
        #expect(r.stderr.contains("Usage: tessera cluster"), "\(r.stderr)")
        #expect(r.stderr.contains("See 'tessera cluster --help'"), "\(r.stderr)")
        #expect(!r.stderr.contains("<subcommand>"), "\(r.stderr)")
        let heat = try tessera(["pde", "heat", "--scheme", "implicit"])
        #expect(heat.status == 64 && heat.stderr.contains("See 'tessera pde heat --help'"), "\(heat.stderr)")
    }

    @Test("options checked before expensive work: an unknown name fails before the n² matrix or the model")
    func validatedFirst() throws {
        let dir = try scratchDirectory()
        let (csv, _) = try writeBlobs(dir)
        let r = try tessera(["cluster", csv, "--k", "3", "--method", "pam", "--initialization", "medoids"])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("unknown --initialization 'medoids'"), "\(r.stderr)")
        #expect(!r.stderr.contains("distance matrix"), "computed the matrix first: \(r.stderr)")
        let g = try tessera(["generate", "--prompt", "hi", "--top-p", "2", "--model", "/nonexistent.gguf"])
        #expect(g.status == 64 && g.stderr.contains("topP 2.0 must be in (0, 1]"), "\(g.stderr)")
    }

    @Test("cluster: ppp refuses --k; options a method would ignore are refused")
    func refusals() throws {
        let dir = try scratchDirectory()
        let (csv, _) = try writeBlobs(dir)
        for (args, message) in [
            (["--method", "ppp", "--k", "3"], "--method ppp chooses k itself"),
            (["--method", "kmeans", "--k", "3", "--metric", "cosine"], "--metric applies to the k-medoids and CLARA methods"),
            (["--method", "fasterpam", "--k", "3", "--k-max", "5"], "--k-max applies to --method ppp only"),
            (["--method", "gmm", "--k", "3", "--n-init", "4"], "--n-init applies to k-means and PPP"),
        ] {
            let r = try tessera(["cluster", csv] + args)
            #expect(r.status == 64, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    @Test("cluster reads .npy (by its magic bytes) as well as CSV: the same labels")
    func clusterNPY() throws {
        let dir = try scratchDirectory()
        let (csv, npy) = try writeBlobs(dir)
        let a = try tessera(["cluster", npy, "--k", "4", "--out", "\(dir)/npy.csv"])
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stderr.contains("400 rows x 2 columns"))
        let b = try tessera(["cluster", csv, "--k", "4", "--out", "\(dir)/csv.csv"])
        #expect(b.status == 0, "\(b.stderr)")
        let la = try String(contentsOfFile: "\(dir)/npy.csv", encoding: .utf8)
        #expect(la == (try String(contentsOfFile: "\(dir)/csv.csv", encoding: .utf8)))
        #expect(la.hasPrefix("index,label,medoid\n"))
        // a misnamed .npy is still read as .npy
        try FileManager.default.copyItem(atPath: npy, toPath: "\(dir)/points.dat")
        let c = try tessera(["cluster", "\(dir)/points.dat", "--k", "4", "--out", "\(dir)/dat.csv"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(try String(contentsOfFile: "\(dir)/dat.csv", encoding: .utf8) == la)
    }

    @Test("cluster says when --max-iter stopped it before convergence, and prints the medoid indices")
    func maxIterationsAndMedoids() throws {
        let dir = try scratchDirectory()
        let (_, npy) = try writeBlobs(dir)
        let short = try tessera(["cluster", npy, "--method", "kmeans", "--k", "4", "--max-iter", "1"])
        #expect(short.status == 0, "\(short.stderr)")
        #expect(short.stderr.contains("note: --max-iter 1 stopped the method before convergence"), "\(short.stderr)")
        #expect(short.stdout.contains("converged          false"))
        let long = try tessera(["cluster", npy, "--method", "kmeans", "--k", "4"])
        #expect(!long.stderr.contains("note: --max-iter"), "\(long.stderr)")
        #expect(long.stdout.contains("converged          true"))
        let pam = try tessera(["cluster", npy, "--method", "fasterpam", "--k", "4", "--max-iter", "1"])
        #expect(pam.stderr.contains("note: --max-iter 1 stopped the method before convergence"), "\(pam.stderr)")
        // given medoids, no swaps, double precision: the summary names them
        try "# start\n5, 17\n42 99\n".write(toFile: "\(dir)/medoids.txt", atomically: true, encoding: .utf8)
        let given = try tessera(["cluster", npy, "--method", "pam", "--init-medoids", "\(dir)/medoids.txt", "--max-iter", "0", "--precision", "f64"])
        #expect(given.status == 0, "\(given.stderr)")
        #expect(given.stdout.contains("medoids            5 17 42 99\n"), "\(given.stdout)")
        #expect(given.stdout.contains("precision          f64\n"), "\(given.stdout)")
        #expect(given.stdout.contains("k                  4\n"), "\(given.stdout)")
    }

    @Test("progress bars only when stderr is a terminal: none in a pipe (no carriage returns)")
    func progressOnlyOnTerminal() throws {
        let dir = try scratchDirectory()
        let r = try tessera(["pde", "heat", "--n", "32", "--steps", "60", "--out", dir])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("\r"), "carriage returns in a pipe: \(r.stderr.debugDescription)")
        #expect(!r.stderr.contains("[#"), "\(r.stderr)")
        // on a pseudo-terminal (util-linux `script`, where present) the bar is drawn
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/script") {
            let bin = try builtExecutable("tessera")
            let t = try run("/usr/bin/script", ["-qec", "\(bin) pde heat --n 32 --steps 60 --out \(dir)", "/dev/null"])
            #expect(t.status == 0, "\(t.stderr)")
            #expect(t.stdout.contains("\r["), "no progress bar on a terminal: \(t.stdout.debugDescription)")
        }
    }

    @Test("attention writes its output as .npy; options of --distributed runs are refused without it")
    func attention() throws {
        let dir = try scratchDirectory()
        let r = try tessera(["attention", "--seq", "20", "--heads", "2", "--dim", "8", "--causal", "--out", "\(dir)/o.npy"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try NPYArray(contentsOf: "\(dir)/o.npy").shape == [1, 2, 20, 8])
        let layout = try tessera(["attention", "--layout", "zigzag"])
        #expect(layout.status == 64 && layout.stderr.contains("--layout applies to --distributed runs only"), "\(layout.stderr)")
        let check = try tessera(["pde", "poisson", "--check"])
        #expect(check.status == 64 && check.stderr.contains("add --distributed"), "\(check.stderr)")
    }
}
