import Foundation
import TesseraPDE

/// `tessera bench pde`, NS2D rows: one IF-RK4 step at 512² and 1024² against
///  * 16 full (unpruned) real FFTs of the same shape and plan — the transforms the step would
///    need without the 2/3-band pruning (`fraction` > 1 means the step beats that floor), and
///  * the NumPy/SciPy peer of the same scheme (bench/pde_ns2d.py: scipy.fft with as many workers
///    as Tessera has threads), run from the pinned venv bench/pde/setup-venv makes, kept warm in
///    a second process and alternated with Tessera round by round (A B, B A, …).
/// Each round times `steps` steps on each side; the rows report the medians of the per-step
/// times with min–max, the median of the per-round ratios, and the load average before/after.
func runNS2DBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let threads = ThreadPool.shared.threadCount
    var peerPython: String?
    if let root = benchRepositoryRoot(marker: "bench/pde_ns2d.py") {
        peerPython = benchPeerPython(setup: root + "/bench/pde/setup-venv", note: out.note)
        if let py = peerPython { peerPython = py + "\n" + root + "/bench/pde_ns2d.py" }
    } else {
        out.note("pde: bench/pde_ns2d.py not found (run from the repository); the numpy rows are skipped")
    }
    for n in ctx.quick ? [256] : [512, 1024] {
        let g = try Grid.periodic(n)
        var o = NS2DOptions(viscosity: 1e-4)
        o.fixedDt = 1e-3
        o.cflLimit = 100
        let ns = try NavierStokes2D(vorticity: try NavierStokes2D.randomTurbulence(grid: g, seed: 3), options: o)
        let fft = try RealFFT.plan(shape: [n, n])
        let re = try AlignedDoubles(count: fft.realCount), sp = try AlignedDoubles(count: 2 * fft.complexCount)
        for i in 0..<re.count { re.pointer[i] = cos(Double(i)) }
        let reps = ctx.quick ? 3 : 5
        let pair = try measurePairs(repeats: reps, warmup: 1, ours: { try ns.step() }, baseline: {
            for _ in 0..<4 {   // 16 full transforms: 4 × (2 c2r + 2 r2c)
                fft.forward(re.pointer, sp.pointer); fft.forward(re.pointer, sp.pointer)
                for _ in 0..<2 { sp.pointer[0] = 1; fft.inverseUnscaled(sp.pointer, re.pointer) }
            }
        })
        let floor = pair.baseline.median
        out.emit(BenchRecord(name: "ns2d step \(n)x\(n) IF-RK4 (16 band-pruned FFTs)", unit: "s", ours: pair.ours.median,
                             baselineName: "16 full FFTs of the same shape", baseline: floor,
                             limitName: "full_fft_floor_fraction", limit: 1, fraction: floor / pair.ours.median,
                             threads: threads, extra: ["min": pair.ours.min, "max": pair.ours.max, "fft_s": floor / 16]))

        guard let spec = peerPython?.split(separator: "\n").map(String.init), spec.count == 2 else { continue }
        let load0 = benchLoadAverage()
        guard let peer = PeerLineProcess(executable: spec[0], args: [spec[1], "\(n)", "serve", "\(threads)"], note: out.note) else {
            out.note("pde: the NumPy/SciPy peer did not start; skipped the numpy row at \(n)")
            continue
        }
        defer { peer.close() }
        let steps = n >= 1024 ? 3 : 6, rounds = ctx.quick ? 3 : 9
        let res = try alternateRounds(with: peer, rounds: rounds, perRound: steps) {
            var ts: [Double] = []
            for _ in 0..<steps { let t = benchNow(); try ns.step(); ts.append(benchNow() - t) }
            return summarize(ts).median
        }
        guard let (so, st, sr) = res else { out.note("pde: the peer stopped answering at \(n)"); continue }
        var rec = BenchRecord(name: "ns2d step \(n)x\(n) vs numpy/scipy.fft workers=\(threads)", unit: "s", ours: so.median,
                              baselineName: "numpy+scipy.fft (bench/pde_ns2d.py, workers=\(threads))", baseline: st.median,
                              speedup: st.median / so.median, threads: threads,
                              extra: ["target_speedup": 3, "min": so.min, "max": so.max,
                                      "baseline_min": st.min, "baseline_max": st.max,
                                      "ratio_median": sr.median, "ratio_min": sr.min, "ratio_max": sr.max,
                                      "rounds": Double(sr.samples.count), "steps_per_round": Double(steps),
                                      "loadavg": load0, "loadavg_end": benchLoadAverage()])
        rec.notes["peer"] = "numpy \(peer.hello["numpy"] ?? "?"), scipy \(peer.hello["scipy"] ?? "?")"
        out.emit(rec)
    }
}
