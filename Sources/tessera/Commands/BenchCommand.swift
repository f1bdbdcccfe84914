import ArgumentParser

/// `tessera bench ...` is `tessera-bench ...`: the benchmarks live in their own executable
/// (`Sources/tessera-bench/`). `CompanionLaunch` execs it before this command is parsed; this
/// type lists `bench` in `tessera --help` and runs the same exec if it is reached another way.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark area against its baseline (runs the tessera-bench executable beside tessera).",
        discussion: """
        `tessera bench <area> [--json] [--quick]` execs tessera-bench with the same arguments; \
        `tessera bench --help` lists the areas (limits, cluster, quant, pde, randproj, diffusion, \
        datatype, attention, distributed, llm, all). How the benchmarks measure and the --json \
        fields: docs/BENCHMARKS.md.
        """
    )

    @Argument(parsing: .allUnrecognized, help: "The area and options, passed to tessera-bench.")
    var arguments: [String] = []

    func run() throws {
        CompanionLaunch.exec(CompanionLaunch.siblingBinary("tessera-bench", override: "TESSERA_BENCH_BIN"), arguments,
                             missing: "`tessera bench` runs the benchmark executable, but $BIN is missing.")
    }
}
