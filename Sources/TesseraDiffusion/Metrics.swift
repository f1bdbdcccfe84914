import Foundation

/// Quality measures used by the patch-parallel runs and benchmarks.
public enum DiffusionMetrics {
    /// Peak signal-to-noise ratio in dB of `x` against `reference`, with peak = the reference's
    /// max − min (data range). +∞ when identical.
    public static func psnr(_ x: Latent, _ reference: Latent) throws(TesseraError) -> Double {
        try sameShape(x, reference)
        var lo = Double.infinity, hi = -Double.infinity, se = 0.0
        for j in 0..<x.count {
            let r = Double(reference.data[j]); lo = min(lo, r); hi = max(hi, r)
            let d = Double(x.data[j]) - r; se += d * d
        }
        let mse = se / Double(x.count)
        if mse == 0 { return .infinity }
        let peak = max(hi - lo, 1e-30)
        return 10 * log10(peak * peak / mse)
    }

    /// max |x − reference|.
    public static func maxAbsError(_ x: Latent, _ reference: Latent) throws(TesseraError) -> Double {
        try sameShape(x, reference)
        var m = 0.0
        for j in 0..<x.count { m = max(m, abs(Double(x.data[j]) - Double(reference.data[j]))) }
        return m
    }

    /// ‖x − reference‖₂ / ‖reference‖₂.
    public static func relativeError(_ x: Latent, _ reference: Latent) throws(TesseraError) -> Double {
        try sameShape(x, reference)
        var n = 0.0, d = 0.0
        for j in 0..<x.count {
            let r = Double(reference.data[j]); let e = Double(x.data[j]) - r
            n += e * e; d += r * r
        }
        return d == 0 ? n.squareRoot() : (n / d).squareRoot()
    }

    static func sameShape(_ a: Latent, _ b: Latent) throws(TesseraError) {
        guard a.channels == b.channels, a.height == b.height, a.width == b.width else {
            throw .invalidArgument("metrics: shapes differ (\(a.shapeDescription) vs \(b.shapeDescription))")
        }
    }
}

/// Radially averaged power spectrum of a batch of samples compared with a Gaussian-field prior's
/// true spectrum: a distribution-level quality measure (seams and blur show up as spectral errors).
public struct SpectrumComparison: Sendable {
    /// Radial bin b holds unitary-DFT modes with round(f · min(H, W)) = b, for b = 1 ... min(H,W)/2.
    public let measured: [Double]
    /// The prior's true spectrum in the same bins.
    public let truth: [Double]
    /// Independent complex modes averaged in each bin (samples × modes / 2 for Hermitian pairs).
    public let modeCounts: [Double]
    /// RMS over bins of ln(measured/truth).
    public let rmsLogError: Double
    /// The RMS log error expected from sampling alone: √(mean over bins of 1/modeCount).
    public let expectedSamplingError: Double

    /// Compares the spectrum of `samples` (all of the prior's shape) with `prior`'s.
    /// Errors: `.invalidArgument` for no samples or a sample of another shape.
    public init(samples: [Latent], prior: GaussianFieldPrior) throws(TesseraError) {
        guard let first = samples.first else { throw .invalidArgument("spectrum: no samples") }
        for s in samples where s.channels != prior.channels || s.height != prior.height || s.width != prior.width {
            throw .invalidArgument("spectrum: sample \(s.shapeDescription) does not match the prior \(prior.channels)x\(prior.height)x\(prior.width)")
        }
        let H = first.height, W = first.width, wc = W / 2 + 1, n = H * W
        let nb = min(H, W) / 2
        let fft = FFT2D(height: H, width: W)
        var pw = [Double](repeating: 0, count: nb + 1), tr = pw, cnt = pw
        var field = [Double](repeating: 0, count: n)
        var spec = [Double](repeating: 0, count: 2 * H * wc)
        var bins = [Int](repeating: -1, count: H * wc), weights = [Double](repeating: 0, count: H * wc)
        for ky in 0..<H { for kx in 0..<wc {
            let b = Int((fft.frequency(ky, kx) * Double(min(H, W))).rounded())
            if b >= 1 && b <= nb {
                bins[ky * wc + kx] = b
                weights[ky * wc + kx] = (kx == 0 || kx == W / 2) ? 1 : 2   // full-grid multiplicity
            }
        } }
        var nsets = 0
        for s in samples {
            for c in 0..<s.channels {
                for i in 0..<n { field[i] = Double(s.data[c * n + i]) }
                fft.forward(field, &spec)
                for i in 0..<(H * wc) where bins[i] >= 0 {
                    let p = (spec[2 * i] * spec[2 * i] + spec[2 * i + 1] * spec[2 * i + 1]) / Double(n)
                    pw[bins[i]] += weights[i] * p
                    cnt[bins[i]] += weights[i]
                }
                nsets += 1
            }
        }
        var tr2 = tr
        for i in 0..<(H * wc) where bins[i] >= 0 {
            tr[bins[i]] += weights[i] * prior.grid[i]; tr2[bins[i]] += weights[i] * prior.grid[i] * prior.grid[i]
        }
        let modesPerSet = cnt.map { $0 / Double(nsets) }
        var m: [Double] = [], t: [Double] = [], mc: [Double] = []
        var se = 0.0, ee = 0.0
        for b in 1...max(1, nb) where cnt[b] > 0 {
            let mv = pw[b] / cnt[b], tv = tr[b] / modesPerSet[b]
            m.append(mv); t.append(tv)
            // Hermitian pairs carry the same value; modes of unequal power in one bin count as
            // (Σ S)² / Σ S² independent ones (the bin mean's relative variance is Σ S² / (Σ S)²)
            let indep = tr2[b] > 0 ? Double(nsets) * tr[b] * tr[b] / tr2[b] / 2 : cnt[b] / 2
            mc.append(indep)
            let l = log(mv / tv); se += l * l; ee += 1 / indep
        }
        measured = m; truth = t; modeCounts = mc
        rmsLogError = (se / Double(max(1, m.count))).squareRoot()
        expectedSamplingError = (ee / Double(max(1, m.count))).squareRoot()
    }
}
