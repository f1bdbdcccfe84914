import Foundation
import Tessera

/// Whether the box is quiet enough for a timed round of `tessera bench llm`: the 1-minute load
/// average (≤ `maxLoad`, TESSERA_BENCH_MAX_LOAD, default 2.5) and a one-pass read-bandwidth probe
/// (≥ `minBandwidthShare` of the best pass seen in this run). Other work shows in one or the
/// other: a busy neighbour raises the load, a memory-heavy one (even at low priority) lowers
/// the probe.
final class BoxGuard {
    let maxLoad: Double
    let minBandwidthShare = 0.7
    private let probe: MachineProbe
    private let pool: ThreadPool
    private(set) var bestBandwidth: Double

    init(probe: MachineProbe, pool: ThreadPool, bandwidth: Double) {
        self.probe = probe
        self.pool = pool
        bestBandwidth = bandwidth
        let env = ProcessInfo.processInfo.environment["TESSERA_BENCH_MAX_LOAD"].flatMap(Double.init)
        maxLoad = env ?? 2.5
    }

    /// The 1-minute load average (/proc/loadavg), or 0 where unreadable.
    static func loadAverage() -> Double {
        guard let s = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return 0 }
        return s.split(separator: " ").first.flatMap { Double($0) } ?? 0
    }

    /// The state now: load, one probe pass (updating the best), and whether that is busy.
    func check() throws -> (load: Double, bandwidth: Double, busy: Bool) {
        let load = BoxGuard.loadAverage()
        let bw = try probe.readBandwidth(pool: pool, passes: 1)
        bestBandwidth = max(bestBandwidth, bw)
        return (load, bw, load > maxLoad || bw < minBandwidthShare * bestBandwidth)
    }
}

/// Times of alternated rounds (ours, then the peer; the next round the peer first), with the
/// busy rounds left out.
struct AlternatedRounds {
    var ours: [Double] = []
    var peer: [Double] = []
    /// Every round's times, busy ones included: used (and flagged) only when no round was clean.
    var allOurs: [Double] = []
    var allPeer: [Double] = []
    /// Load average at the start of every round tried, clean or not.
    var loads: [Double] = []
    /// Rounds refused because the box was busy before or after them.
    var refused = 0
    /// Whether the wanted number of clean rounds was reached.
    var complete: Bool { ours.count >= wanted }
    let wanted: Int

    /// Runs rounds until `wanted` are clean or `3·wanted` were tried. A round is clean when the
    /// box is quiet both before and after it (`BoxGuard.check`); `ours` and `peer` never run at
    /// once (each returns its own timed seconds).
    init(wanted: Int, guard box: BoxGuard, ours runOurs: () throws -> Double, peer runPeer: () throws -> Double) throws {
        self.wanted = wanted
        var tried = 0
        while self.ours.count < wanted && tried < 3 * wanted {
            let before = try box.check()
            loads.append(before.load)
            let oursFirst = tried % 2 == 0
            tried += 1
            var a = 0.0, b = 0.0
            if oursFirst { a = try runOurs(); b = try runPeer() } else { b = try runPeer(); a = try runOurs() }
            let after = try box.check()
            allOurs.append(a)
            allPeer.append(b)
            if before.busy || after.busy { refused += 1; continue }
            self.ours.append(a)
            self.peer.append(b)
        }
    }

    /// Medians over the clean rounds; over all rounds (and `fromBusy`) when none was clean.
    var medians: (ours: Double, peer: Double, fromBusy: Bool) {
        ours.isEmpty ? (summarize(allOurs).median, summarize(allPeer).median, true)
                     : (summarize(ours).median, summarize(peer).median, false)
    }

    /// A suffix for the record's name when the comparison is not a clean one.
    var nameSuffix: String {
        complete ? "" : ours.isEmpty ? " [BUSY BOX: no clean round, medians of busy rounds]"
                                     : " [busy box: \(ours.count) of \(wanted) rounds clean]"
    }

    /// The record fields every comparison carries: clean/refused counts, the loads, the spread.
    func extra(scale: Double) -> [String: Double] {
        let o = summarize(ours.isEmpty ? allOurs : ours), p = summarize(ours.isEmpty ? allPeer : peer)
        return ["clean_rounds": Double(ours.count), "refused_busy_rounds": Double(refused),
                "from_busy_rounds": ours.isEmpty ? 1 : 0,
                "min": o.min * scale, "max": o.max * scale, "baseline_min": p.min * scale, "baseline_max": p.max * scale,
                "load_avg_median": summarize(loads).median, "load_avg_max": loads.max() ?? 0]
    }

    /// The per-round load averages as text (JSON extra fields are numbers only).
    var loadsText: String { loads.map { String(format: "%.2f", $0) }.joined(separator: ",") }
}
