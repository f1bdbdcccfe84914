// LinePlot: data series as lines and/or markers in a Chart (linear or logarithmic axes), with
// a legend naming each series.

/// One data series of a line plot.
public struct PlotSeries: Sendable {
    public enum Style: Sendable, Equatable { case line, markers, lineAndMarkers }
    public var name: String
    public var x: [Double]
    public var y: [Double]
    public var color: RGBColor
    public var style: Style
    public var lineWidth = 2.0
    public var markerRadius = 3.5

    public init(_ name: String, x: [Double], y: [Double], color: RGBColor, style: Style = .line) {
        self.name = name
        self.x = x
        self.y = y
        self.color = color
        self.style = style
    }
}

/// Line plots of several series; ranges come from the data (all series) unless the axes give them.
/// On a logarithmic axis, points with a value ≤ 0 are left out (a line breaks there).
public struct LinePlot: Sendable {
    public var title: String
    public var subtitle: String?
    public var xAxis: PlotAxis
    public var yAxis: PlotAxis
    public var plotWidth = 560
    public var plotHeight = 360
    public var textScale = 2
    public var showLegend = true

    public init(title: String, xAxis: PlotAxis, yAxis: PlotAxis) {
        self.title = title
        self.xAxis = xAxis
        self.yAxis = yAxis
    }

    /// Errors: `.invalidArgument` for a series whose x and y counts differ, no drawable point
    /// when a range must come from the data, or bad ranges/sizes (see `Chart.render`).
    public func render(_ series: [PlotSeries]) throws(TesseraError) -> RasterImage {
        for s in series where s.x.count != s.y.count {
            throw .invalidArgument("line plot: series '\(s.name)' has \(s.x.count) x and \(s.y.count) y values")
        }
        func usable(_ v: Double, _ a: PlotAxis) -> Bool { v.isFinite && (a.scale == .linear || v > 0) }
        func dataRange(_ values: [Double], _ a: PlotAxis, _ name: String) throws(TesseraError) -> ClosedRange<Double> {
            if let r = a.range { return r }
            let v = values.filter { usable($0, a) }
            guard let lo = v.min(), let hi = v.max() else { throw .invalidArgument("line plot: no drawable \(name) values") }
            if a.scale == .logarithmic { return hi > lo ? (lo / 1.15)...(hi * 1.15) : (lo / 2)...(hi * 2) }
            let m = hi > lo ? 0.05 * (hi - lo) : Swift.max(abs(lo), 1) * 0.5
            return (lo - m)...(hi + m)
        }
        var chart = Chart(title: title, xAxis: xAxis, yAxis: yAxis, plotWidth: plotWidth, plotHeight: plotHeight)
        chart.xAxis.range = try dataRange(series.flatMap(\.x), xAxis, "x")
        chart.yAxis.range = try dataRange(series.flatMap(\.y), yAxis, "y")
        chart.subtitle = subtitle
        chart.textScale = textScale
        if showLegend {
            chart.legend = series.filter { !$0.name.isEmpty }.map { s in
                LegendEntry(s.name, color: s.color, marker: s.style == .line ? .line : s.style == .markers ? .disc : .lineAndDisc)
            }
        }
        let (xa, ya) = (chart.xAxis, chart.yAxis)
        return try chart.render { img, area in
            for s in series {
                let pts: [(x: Double, y: Double)] = s.x.indices.map { i in
                    usable(s.x[i], xa) && usable(s.y[i], ya) ? (area.px(s.x[i]), area.py(s.y[i])) : (.nan, .nan)
                }
                if s.style != .markers { img.polyline(pts, color: s.color, lineWidth: s.lineWidth) }
                if s.style != .line {
                    for p in pts where p.x.isFinite { img.disc(cx: p.x, cy: p.y, radius: s.markerRadius, color: s.color) }
                }
            }
        }
    }
}
