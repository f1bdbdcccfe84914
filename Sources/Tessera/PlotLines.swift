// LinePlot: data series as lines and/or markers in a Chart (linear or logarithmic axes), with
// a legend naming each series.

/// One data series of a line plot.
public struct PlotSeries: Sendable {
    /// Points joined by straight segments, discs at the points, or both.
    public enum Style: Sendable, Equatable { case line, markers, lineAndMarkers }
    /// Legend name; empty: no legend row.
    public var name: String
    /// x values, as many as `y`; non-finite points (and ≤ 0 on a logarithmic axis) are skipped.
    public var x: [Double]
    /// y values, as many as `x`.
    public var y: [Double]
    /// Colour of the line and markers.
    public var color: RGBColor
    /// Line, markers, or both.
    public var style: Style
    /// Line width in pixels.
    public var lineWidth = 2.0
    /// Marker disc radius in pixels.
    public var markerRadius = 3.5

    /// A series named `name` through the points (x[i], y[i]).
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
    /// Title above the plot; empty: none.
    public var title: String
    /// A second, lighter line under the title; nil: none.
    public var subtitle: String?
    /// Horizontal axis: caption, scale, and range (nil: from the data with a 5 % margin).
    public var xAxis: PlotAxis
    /// Vertical axis: caption, scale, and range (nil: from the data with a 5 % margin).
    public var yAxis: PlotAxis
    /// Width of the data area in pixels (16 ... 8192).
    public var plotWidth = 560
    /// Height of the data area in pixels (16 ... 8192).
    public var plotHeight = 360
    /// Font scale of all text, 1 ... 8 (2: capitals 14 pixels tall).
    public var textScale = 2
    /// Draw a legend of the named series.
    public var showLegend = true

    /// A line plot with the given title and axes.
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
