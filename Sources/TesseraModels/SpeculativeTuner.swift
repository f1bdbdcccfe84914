/// Chooses the draft length of each speculative pass from measured costs: the time of a
/// forward pass as a function of its row count (fitted online, t(r) ≈ a + b·(r − 1)) and the
/// per-token acceptance probability p of drafts, kept separately by how long the suffix match
/// behind the draft was (1, 2–3, 4–7, 8+ tokens: longer matches are more often right).
/// With k drafts a pass yields E(k) = (1 − p^(k+1)) / (1 − p) tokens on average, so the tuner
/// picks the k that maximises E(k) / t(k + 1), or no draft at all when a plain 1-row pass wins.
struct SpeculativeTuner {
    // least-squares sums of (rows − 1, seconds) over recent passes (exponentially forgotten)
    private var sw = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
    // acceptance counts per match-length bucket (successes, trials), forgotten geometrically
    private var hits = [Double](repeating: 1, count: 4)
    private var trials = [Double](repeating: 2, count: 4)
    /// Cost slope used until two different row counts have been timed (extra row / first row).
    var priorSlope = 0.15

    static func bucket(matchLength: Int) -> Int {
        matchLength >= 8 ? 3 : matchLength >= 4 ? 2 : matchLength >= 2 ? 1 : 0
    }

    /// Records the time of one forward pass of `rows` rows.
    mutating func recordPass(rows: Int, seconds: Double) {
        guard seconds > 0, seconds.isFinite else { return }
        let decay = 0.97
        sw *= decay; sx *= decay; sy *= decay; sxx *= decay; sxy *= decay
        let x = Double(rows - 1)
        sw += 1; sx += x; sy += seconds; sxx += x * x; sxy += x * seconds
    }

    /// Records a verified draft: `accepted` of `drafted` tokens were right.
    mutating func recordDraft(matchLength: Int, drafted: Int, accepted: Int) {
        let b = SpeculativeTuner.bucket(matchLength: matchLength)
        let decay = 0.9
        hits[b] *= decay; trials[b] *= decay
        hits[b] += Double(accepted)
        trials[b] += Double(accepted < drafted ? accepted + 1 : accepted)
    }

    /// A bucket that gets no drafts drifts back towards p = 1/2, so it is tried again later.
    mutating func recordSkipped(matchLength: Int) {
        let b = SpeculativeTuner.bucket(matchLength: matchLength)
        hits[b] = 0.98 * hits[b] + 0.02 * 1
        trials[b] = 0.98 * trials[b] + 0.02 * 2
    }

    func acceptance(matchLength: Int) -> Double {
        let b = SpeculativeTuner.bucket(matchLength: matchLength)
        return min(max(hits[b] / trials[b], 0), 0.999)
    }

    /// Fitted (seconds of a 1-row pass, extra seconds per row).
    var cost: (first: Double, perRow: Double) {
        let det = sw * sxx - sx * sx
        if sw >= 2, det > 1e-9 * max(sw * sxx, 1e-30) {
            let b = (sw * sxy - sx * sy) / det
            let a = (sy - b * sx) / sw
            if a > 0 && b >= 0 { return (a, b) }
        }
        let a = sw > 0 ? sy / sw / (1 + priorSlope * (sx / max(sw, 1e-30))) : 1
        return (a, a * priorSlope)
    }

    /// The best number of drafts in `minDraft...maxDraft` (0: run a plain pass instead).
    func draftLength(matchLength: Int, minDraft: Int, maxDraft: Int) -> Int {
        guard maxDraft >= minDraft, maxDraft >= 1 else { return 0 }
        let p = acceptance(matchLength: matchLength)
        let (a, b) = cost
        var best = 0
        var bestRate = 1 / a
        var e = 1.0, pk = 1.0
        for k in 1...maxDraft {
            pk *= p
            e += pk
            let rate = e / (a + b * Double(k))
            if k >= minDraft && rate > bestRate * 1.0001 { best = k; bestRate = rate }
        }
        return best
    }
}
