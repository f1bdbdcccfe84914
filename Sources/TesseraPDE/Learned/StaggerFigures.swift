// Pictures of learned NeuralStagger runs: the training loss curve and a rollout beside the
// fine solver.

import Foundation

extension StaggerTrainingReport {
    /// The loss after each step on a logarithmic axis. Errors: `.invalidArgument` with no steps.
    public func lossCurve(title: String) throws(TesseraError) -> RasterImage {
        guard !losses.isEmpty else { throw .invalidArgument("loss curve: no training steps") }
        var p = LinePlot(title: title, xAxis: PlotAxis("Adam step"),
                         yAxis: PlotAxis("fine residual loss (mean R², fields at RMS 1)", scale: .logarithmic))
        p.subtitle = String(format: "%d steps, batch %d, %.1f s (%@)", steps, batchSize, seconds, stopReason)
        p.showLegend = false
        return try p.render([PlotSeries("", x: losses.indices.map { Double($0 + 1) }, y: losses, color: PlotStyle.ink)])
    }
}

extension StaggerRolloutComparison {
    /// One picture: initial field, learned rollout, fine solver, and their difference × `amplify`.
    public func figure(initial u0: Field<Double>, title: String, subtitle: String, amplify: Double = 100) throws(TesseraError) -> RasterImage {
        try rolloutFigure(u0, learned, fine, title: title, subtitle: subtitle, amplify: amplify, valueLabel: "u (dimensionless)")
    }
}

extension StaggerNS2DComparison {
    /// One picture: initial vorticity, learned rollout, fine spectral solver, difference × `amplify`.
    public func figure(initial w0: Field<Double>, title: String, subtitle: String, amplify: Double = 10) throws(TesseraError) -> RasterImage {
        try rolloutFigure(w0, learned, fine, title: title, subtitle: subtitle, amplify: amplify, valueLabel: "vorticity ω (dimensionless)")
    }
}

/// Initial field, learned, fine and (learned − fine) × amplify side by side on one colour scale.
func rolloutFigure(_ u0: Field<Double>, _ learned: Field<Double>, _ fine: Field<Double>, title: String, subtitle: String,
                   amplify: Double, valueLabel: String) throws(TesseraError) -> RasterImage {
    let n0 = u0.grid.shape[0], n1 = u0.grid.shape[1]
    let l = learned.toArray(), f = fine.toArray()
    var g = ImageGridPlot(title: title)
    g.subtitle = subtitle + String(format: "; columns: initial field, learned staggered rollout, fine solver, (learned - fine) x %g", amplify)
    g.columnLabels = ["initial", "learned", "fine", String(format: "diff x%g", amplify)]
    g.valueLabel = valueLabel
    g.colormap = .tide
    g.range = .symmetric
    g.cellScale = max(1, min(3, 256 / max(n0, n1)))
    g.xLabel = "x, y (grid point)"
    let cells: [[Float]] = [u0.toArray().map(Float.init), l.map(Float.init), f.map(Float.init),
                            zip(l, f).map { Float(($0 - $1) * amplify) }]
    return try g.render([cells], rows: n0, cols: n1)
}
