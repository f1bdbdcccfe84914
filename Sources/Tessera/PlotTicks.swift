// Tick positions and tick labels: "nice" steps (1, 2 or 5 times a power of ten) on linear axes,
// decades (with 2× and 5× marks when the range is short) on logarithmic ones.

import Foundation

/// Tick positions and labels of plot axes (`PlotAxis` uses them; public for custom drawing).
public enum PlotTicks {
    /// Ticks at multiples of a nice step inside [lo, hi], about `target` of them (at least 2
    /// when the interval is not empty). Returns [] for a non-finite or empty interval.
    public static func linear(_ lo: Double, _ hi: Double, target: Int = 6) -> [Double] {
        guard lo.isFinite, hi.isFinite, hi > lo else { return lo.isFinite && lo == hi ? [lo] : [] }
        let step = niceStep((hi - lo) / Double(max(1, target)))
        var t = (lo / step).rounded(.up)
        var out: [Double] = []
        let eps = 1e-9 * (hi - lo)
        while t * step <= hi + eps, out.count < 1000 {
            let v = t * step
            out.append(abs(v) < 1e-12 * step ? 0 : v)
            t += 1
        }
        if out.count < 2 && target < 12 { return linear(lo, hi, target: target * 2) }
        return out
    }

    /// The smallest of 1, 2, 5 (× 10^k) that is ≥ `raw`.
    public static func niceStep(_ raw: Double) -> Double {
        guard raw.isFinite, raw > 0 else { return 1 }
        let mag = pow(10, (log10(raw)).rounded(.down))
        for m in [1.0, 2, 5, 10] where m * mag >= raw * (1 - 1e-12) { return m * mag }
        return 10 * mag
    }

    /// Ticks of a logarithmic axis over [lo, hi] (both > 0): the labelled majors (decades; with
    /// 2× and 5× added when fewer than 3 decades show) and unlabelled minors (2 ... 9 × 10^k).
    public static func logarithmic(_ lo: Double, _ hi: Double) -> (major: [Double], minor: [Double]) {
        guard lo.isFinite, hi.isFinite, lo > 0, hi > lo else { return ([], []) }
        let k0 = Int(log10(lo).rounded(.down)), k1 = Int(log10(hi).rounded(.up))
        guard k1 - k0 <= 300 else { return ([], []) }
        let inside = { (v: Double) in v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9) }
        let decades = (k0...k1).map { pow(10, Double($0)) }.filter(inside)
        var major = decades, minor: [Double] = []
        let dense = decades.count < 3
        for k in k0...k1 {
            for m in 2...9 {
                let v = Double(m) * pow(10, Double(k))
                guard inside(v) else { continue }
                if dense && (m == 2 || m == 5) { major.append(v) } else { minor.append(v) }
            }
        }
        return (major.sorted(), minor)
    }

    /// Labels for linear ticks (evenly spaced): as many decimals as the ticks need, or
    /// mantissa-e-exponent when the values are very large or very small. Minus is "−".
    public static func labels(_ ticks: [Double]) -> [String] {
        guard !ticks.isEmpty else { return [] }
        let big = ticks.map(abs).max() ?? 0
        if big >= 1e5 || (big > 0 && big < 1e-3) {
            let e = Int(log10(big).rounded(.down))
            let mantissas = ticks.map { $0 / pow(10, Double(e)) }
            let d = decimals(mantissas)
            return zip(ticks, mantissas).map { v, m in v == 0 ? "0" : minus(String(format: "%.\(d)fe%d", m, e)) }
        }
        let d = decimals(ticks)
        return ticks.map { minus(String(format: "%.\(d)f", $0)) }
    }

    /// The fewest decimals (0 ... 9) that write every value exactly (to 1e-6 of the largest
    /// step between them), the same for all so the labels line up.
    static func decimals(_ values: [Double]) -> Int {
        let steps = zip(values, values.dropFirst()).map { abs($1 - $0) }.filter { $0 > 0 }
        let tol = 1e-6 * (steps.max() ?? Swift.max(1, values.map(abs).max() ?? 1))
        for d in 0...9 {
            let p = pow(10, Double(d))
            if values.allSatisfy({ abs(($0 * p).rounded() / p - $0) <= tol }) { return d }
        }
        return 9
    }

    /// Labels of the major ticks of one logarithmic axis: plain decimals when all lie in
    /// [0.001, 10000], else all in 1e-5 style (one style per axis).
    public static func logLabels(_ values: [Double]) -> [String] {
        let plain = values.allSatisfy { $0 >= 1e-3 * (1 - 1e-9) && $0 <= 1e4 * (1 + 1e-9) }
        return values.map { v in
            guard v > 0, v.isFinite else { return "" }
            let e = Int((log10(v) + 1e-9).rounded(.down))
            if plain { return String(format: "%.\(Swift.max(0, -e))f", v) }
            let m = v / pow(10, Double(e))
            return minus(abs(m - m.rounded()) < 1e-6 ? String(format: "%.0fe%d", m, e) : String(format: "%.1fe%d", m, e))
        }
    }

    /// A short label for a value that is not a tick (colour-bar ends, summaries): 3 significant digits.
    public static func shortLabel(_ v: Double) -> String {
        guard v.isFinite else { return "\(v)" }
        let a = abs(v)
        if a != 0 && (a >= 1e5 || a < 1e-3) { return minus(String(format: "%.2e", v)) }
        return minus(String(format: "%.3g", v))
    }

    static func minus(_ s: String) -> String {
        s.hasPrefix("-") ? "−" + s.dropFirst() : s
    }
}
