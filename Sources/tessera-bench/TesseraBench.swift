// tessera-bench: the benchmark areas, in their own executable so that the `tessera` CLI does
// not carry them. `tessera bench <area> ...` execs this binary (it sits beside `tessera`) with
// the same arguments.

import ArgumentParser
import Foundation
import Tessera

@main
struct TesseraBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tessera-bench",
        abstract: "Run a benchmark area against its baseline, in the same run (also: `tessera bench`).",
        discussion: """
        Areas: \(benchAreas.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")).
        Each case runs Tessera and its baseline interleaved and reports the median time of each, \
        the speedup (baseline time / Tessera time) and, where a machine limit applies, the \
        fraction of that limit reached. --json prints one JSON object per line; the fields and \
        how the benchmarks measure are described in docs/BENCHMARKS.md.
        """,
        version: "0.1.0"
    )

    @Argument(help: "The area to benchmark, or 'all'.")
    var area: String

    @Flag(help: "One JSON object per line on stdout (progress goes to stderr).")
    var json = false

    @Flag(help: "Smaller sizes and fewer repeats (a smoke run).")
    var quick = false

    func validate() throws {
        if area != "all" && !benchAreas.contains(where: { $0.name == area }) {
            throw ValidationError("unknown area '\(area)'; choose one of: all, \(benchAreas.map(\.name).joined(separator: ", "))")
        }
    }

    func run() throws {
        let out = BenchOutput(json: json)
        let ctx = BenchContext(output: out, quick: quick, threads: ThreadPool.shared.threadCount)
        for a in benchAreas where area == "all" || a.name == area {
            out.note("== bench \(a.name): \(ThreadPool.shared.threadCount) thread(s), ISA \(ISA.active), binding \(ThreadPool.shared.binding.rawValue)")
            try a.run(ctx)
        }
    }
}
