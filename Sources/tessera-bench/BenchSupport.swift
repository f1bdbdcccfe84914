import Foundation

/// One line of `tessera bench <area> --json` (the contract of docs/BENCHMARKS.md).
struct BenchRecord {
    var name: String                 // `case`: readable, with the shape, and cold/hot where it matters
    var unit: String                 // unit of `ours` and `baseline` (usually "s")
    var ours: Double
    var baselineName: String
    var baseline: Double
    var speedup: Double? = nil       // baseline time / our time; computed from ours/baseline if nil
    var limitName: String? = nil     // e.g. "dram_read_gbs", "sgemm_gflops"
    var limit: Double? = nil
    var fraction: Double? = nil      // our achieved rate / limit
    var threads: Int = 1
    var extra: [String: Double] = [:]      // gflops, gbs, error, min/max, ...
    var notes: [String: String] = [:]

    var jsonLine: String {
        // JSON has no NaN or infinity: a value that is not finite (a peer that did not run, a
        // zero time) is written as null instead of failing the whole line.
        func number(_ v: Double) -> Any { v.isFinite ? v : NSNull() }
        var dict: [String: Any] = [
            "case": name, "unit": unit, "ours": number(ours), "baseline_name": baselineName,
            "baseline": number(baseline), "speedup": number(speedup ?? (ours > 0 ? baseline / ours : 0)),
            "threads": threads,
        ]
        if let limitName { dict["limit_name"] = limitName }
        if let limit { dict["limit"] = number(limit) }
        if let fraction { dict["fraction"] = number(fraction) }
        for (k, v) in extra { dict[k] = v.isFinite ? v : nil }
        for (k, v) in notes { dict[k] = v }
        let data = try! JSONSerialization.data(withJSONObject: dict, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

/// Where bench records go: one JSON object per line, or a readable table.
final class BenchOutput {
    let json: Bool
    private(set) var records: [BenchRecord] = []
    init(json: Bool) { self.json = json }

    func emit(_ r: BenchRecord) {
        records.append(r)
        if json {
            print(r.jsonLine)
        } else {
            var line = "\(r.name.padding(toLength: 44, withPad: " ", startingAt: 0)) "
            line += "ours \(fmt(r.ours)) \(r.unit)  \(r.baselineName) \(fmt(r.baseline)) \(r.unit)"
            let sp = r.speedup ?? (r.ours > 0 ? r.baseline / r.ours : 0)
            line += "  speedup \(String(format: "%.2f", sp))x"
            if let f = r.fraction, let ln = r.limitName { line += "  \(String(format: "%.0f", f * 100))% of \(ln)" }
            print(line)
        }
        fflush(nil)
    }

    /// Progress and commentary go to stderr so that --json stdout stays machine-readable.
    func note(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }

    private func fmt(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1000 || a < 0.001 { return String(format: "%.3e", v) }
        return String(format: "%.4g", v)
    }
}

/// Summary of repeated timings (seconds).
struct TimingSummary {
    var median: Double
    var min: Double
    var max: Double
    var samples: [Double]
}

/// Monotonic time in seconds.
@inline(__always) func benchNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func summarize(_ xs: [Double]) -> TimingSummary {
    let s = xs.sorted()
    let n = s.count
    let med = n == 0 ? 0 : (n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]))
    return TimingSummary(median: med, min: s.first ?? 0, max: s.last ?? 0, samples: xs)
}

/// Times `ours` and `baseline` interleaved (A B A B ...), `repeats` pairs after `warmup`
/// pairs, so machine drift cancels out. Each closure is one timed run.
func measurePairs(repeats: Int = 11, warmup: Int = 2,
                  ours: () throws -> Void, baseline: () throws -> Void) rethrows
    -> (ours: TimingSummary, baseline: TimingSummary)
{
    for _ in 0..<warmup { try ours(); try baseline() }
    var a: [Double] = [], b: [Double] = []
    for i in 0..<repeats {
        // alternate which goes first so neither always runs on a warmer cache
        if i % 2 == 0 {
            var t = benchNow(); try ours(); a.append(benchNow() - t)
            t = benchNow(); try baseline(); b.append(benchNow() - t)
        } else {
            var t = benchNow(); try baseline(); b.append(benchNow() - t)
            t = benchNow(); try ours(); a.append(benchNow() - t)
        }
    }
    return (summarize(a), summarize(b))
}

/// Times one closure `repeats` times after `warmup` runs.
func measure(repeats: Int = 11, warmup: Int = 2, _ body: () throws -> Void) rethrows -> TimingSummary {
    for _ in 0..<warmup { try body() }
    var a: [Double] = []
    for _ in 0..<repeats { let t = benchNow(); try body(); a.append(benchNow() - t) }
    return summarize(a)
}

/// Shared options every area benchmark receives.
struct BenchContext {
    var output: BenchOutput
    var quick: Bool        // smaller sizes / fewer repeats (used by `make test` smoke runs)
    var threads: Int       // workers of the default pool
}
