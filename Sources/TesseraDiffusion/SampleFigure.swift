// SampleFigure: diffusion samples drawn for people to judge. Rows of samples (a reference, the
// unsplit sampler, a patch-parallel mode, ...; one seed per column) on one colour scale, and for
// a Gaussian-field prior the rows' radially averaged power spectra against the true spectrum.

import Foundation

/// A titled figure of sample rows, with a spectrum panel when the prior is known.
public struct SampleFigure {
    /// Title above the figure.
    public var title: String
    /// A second, lighter line under the title; nil: none.
    public var subtitle: String?
    /// (row name, samples); all samples have one shape.
    public var rows: [(label: String, samples: [Latent])] = []
    /// Column headings (e.g. "seed 0").
    public var columnLabels: [String] = []
    /// The prior the samples should follow: adds the power-spectrum panel.
    public var prior: GaussianFieldPrior?
    /// Caption of the shared colour bar: the quantity shown.
    public var valueLabel = "sample value"

    /// An empty figure titled `title`; add `rows`, then `render`.
    public init(title: String) { self.title = title }

    /// Errors: `.invalidArgument` for no rows, empty rows or samples of different shapes.
    public func render() throws(TesseraError) -> RasterImage {
        guard let first = rows.first?.samples.first else { throw .invalidArgument("sample figure: no samples") }
        for r in rows {
            guard !r.samples.isEmpty else { throw .invalidArgument("sample figure: row '\(r.label)' is empty") }
            for s in r.samples where s.channels != first.channels || s.height != first.height || s.width != first.width {
                throw .invalidArgument("sample figure: sample \(s.shapeDescription) in row '\(r.label)' differs from \(first.shapeDescription)")
            }
        }
        let (h, w) = (first.height, first.width), n = h * w
        var grid = ImageGridPlot(title: title)
        grid.subtitle = subtitle
        grid.rowLabels = rows.map(\.label)
        grid.columnLabels = columnLabels
        grid.valueLabel = first.channels == 1 ? valueLabel : "\(valueLabel), channel 0 of \(first.channels)"
        grid.cellScale = max(1, min(4, 200 / max(h, w)))
        grid.rowLabelWidth = 260
        let samplesPicture = try grid.render(rows.map { $0.samples.map { Array($0.data[0..<n]) } }, rows: h, cols: w)
        guard let prior else { return samplesPicture }

        let truthSpectrum = try SpectrumComparison(samples: rows[0].samples, prior: prior).truth
        let bins = truthSpectrum.count
        let freq = (1...bins).map { Double($0) / Double(min(h, w)) }
        var series = [PlotSeries("true spectrum of the prior", x: freq, y: truthSpectrum, color: PlotStyle.ink)]
        series[0].lineWidth = 2.5
        for (k, r) in rows.enumerated() {
            let m = try SpectrumComparison(samples: r.samples, prior: prior)
            guard m.measured.count == bins else { continue }
            var s = PlotSeries(r.label.replacingOccurrences(of: "\n", with: " ")
                                + String(format: " (RMS log error %.3f)", m.rmsLogError),
                               x: freq, y: m.measured, color: CategoricalPalette.color(k), style: .lineAndMarkers)
            s.lineWidth = 1.5
            s.markerRadius = 2.5
            series.append(s)
        }
        var lp = LinePlot(title: "Radially averaged power spectrum of the samples in each row",
                          xAxis: PlotAxis("spatial frequency (cycles/pixel)", scale: .logarithmic),
                          yAxis: PlotAxis("power per mode", scale: .logarithmic))
        lp.subtitle = String(format: "%d samples per row; sampling noise alone gives an RMS log error of about %.3f",
                             rows[0].samples.count, try SpectrumComparison(samples: rows[0].samples, prior: prior).expectedSamplingError)
        lp.plotWidth = 520
        lp.plotHeight = 300
        let spectrumPicture = try lp.render(series)
        return try PlotFigure.compose(title: nil, rows: [[samplesPicture], [spectrumPicture]], gap: 8)
    }
}
