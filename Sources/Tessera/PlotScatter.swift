// ScatterPlot: 2-D points coloured by label (e.g. a 2-D projection of clustered data or of
// graph embeddings) in a Chart with a title, captioned axes and a legend naming the labels.

/// Scatter plots of labelled 2-D points.
///
/// Points are antialiased discs inside the chart's data area; the data box (plus 5 % on each
/// side) fills it, with the same scale on both axes when `equalAspect`. y grows upwards. Label
/// colours come from `CategoricalPalette`; a negative label (noise) is gray; highlighted points
/// (e.g. medoids or centres) are drawn last, larger, with a dark ring. The legend lists every
/// label with its point count (as many as fit beside the data area).
public struct ScatterPlot: Sendable {
    /// Title above the plot; empty: none.
    public var title = ""
    /// A second, lighter line under the title; nil: none.
    public var subtitle: String?
    /// Caption of the horizontal axis (name and units).
    public var xLabel = "x"
    /// Caption of the vertical axis (name and units).
    public var yLabel = "y"
    /// Size of the data area in pixels; the picture adds the title, axes and legend around it.
    public var width = 640
    /// Height of the data area in pixels (16 ... 8192, as `width`).
    public var height = 640
    /// Radius of a point's disc in pixels (> 0).
    public var pointRadius = 2.5
    /// Opacity of ordinary points, 0 ... 1 (dense regions stay readable below 1).
    public var pointOpacity = 0.85
    /// Radius of a highlighted point's disc in pixels (> 0), ringed in dark ink.
    public var highlightRadius = 6.0
    /// Same data units per pixel on both axes (the shorter data side gets extra margin).
    public var equalAspect = true
    /// Legend names of labels; a label without one is shown as "`legendPrefix` label".
    public var labelNames: [Int: String] = [:]
    /// Word before the label number in the legend of labels without a name in `labelNames`.
    public var legendPrefix = "cluster"
    /// Bold heading over the legend; nil: none.
    public var legendTitle: String?
    /// Add "(count)" to each legend row.
    public var showCounts = true
    /// Legend name of the highlighted points (no legend row when empty or nothing is highlighted).
    public var highlightName = "medoid"
    /// Draw the legend of labels (and of highlighted points).
    public var showLegend = true
    /// Font scale of all text, 1 ... 8 (2: capitals 14 pixels tall).
    public var textScale = 2

    /// A scatter plot with a `width × height` data area and default styling.
    public init(width: Int = 640, height: Int = 640) {
        self.width = width
        self.height = height
    }

    /// Renders points (x[i], y[i]) with optional labels (same count) and highlighted indices.
    /// Errors: `.invalidArgument` for mismatched counts, a non-finite coordinate (its index is
    /// named), a highlighted index out of range, non-positive radii, or a data area outside
    /// 16 ... 8192 pixels.
    public func render(x: [Double], y: [Double], labels: [Int]? = nil,
                       highlighted: [Int] = []) throws(TesseraError) -> RasterImage {
        guard x.count == y.count else { throw .invalidArgument("scatter: x has \(x.count) points, y has \(y.count)") }
        if let labels, labels.count != x.count {
            throw .invalidArgument("scatter: labels has \(labels.count) entries for \(x.count) points")
        }
        guard pointRadius > 0, pointRadius.isFinite, highlightRadius > 0, highlightRadius.isFinite else {
            throw .invalidArgument("scatter: point radii must be positive and finite")
        }
        for i in x.indices where !(x[i].isFinite && y[i].isFinite) {
            throw .invalidArgument("scatter: point \(i) has a non-finite coordinate (\(x[i]), \(y[i]))")
        }
        for h in highlighted where h < 0 || h >= x.count {
            throw .invalidArgument("scatter: highlighted index \(h) out of range 0..<\(x.count)")
        }
        let (xr, yr) = ranges(x, y)
        var chart = Chart(title: title, xAxis: PlotAxis(xLabel, range: xr), yAxis: PlotAxis(yLabel, range: yr),
                          plotWidth: width, plotHeight: height)
        chart.subtitle = subtitle
        chart.textScale = textScale
        if showLegend { (chart.legend, chart.legendTitle) = (legend(labels, highlighted: highlighted), legendTitle) }
        let isHighlighted = Set(highlighted)
        return try chart.render { img, area in
            for i in x.indices where !isHighlighted.contains(i) {
                img.disc(cx: area.px(x[i]), cy: area.py(y[i]), radius: pointRadius,
                         color: CategoricalPalette.color(labels?[i] ?? 0), opacity: pointOpacity)
            }
            for i in highlighted {
                let (cx, cy) = (area.px(x[i]), area.py(y[i]))
                img.disc(cx: cx, cy: cy, radius: highlightRadius + 1.5, color: PlotStyle.ink, opacity: 1)
                img.disc(cx: cx, cy: cy, radius: highlightRadius, color: CategoricalPalette.color(labels?[i] ?? 0), opacity: 1)
            }
        }
    }

    /// The data box plus 5 % margins, widened on one axis for equal aspect.
    func ranges(_ x: [Double], _ y: [Double]) -> (ClosedRange<Double>, ClosedRange<Double>) {
        var x0 = x.min() ?? 0, x1 = x.max() ?? 1, y0 = y.min() ?? 0, y1 = y.max() ?? 1
        if x1 <= x0 { x0 -= 0.5; x1 += 0.5 }
        if y1 <= y0 { y0 -= 0.5; y1 += 0.5 }
        var mx = 0.05 * (x1 - x0), my = 0.05 * (y1 - y0)
        if equalAspect {
            let perPixel = Swift.max((x1 - x0 + 2 * mx) / Double(width), (y1 - y0 + 2 * my) / Double(height))
            mx = 0.5 * (perPixel * Double(width) - (x1 - x0))
            my = 0.5 * (perPixel * Double(height) - (y1 - y0))
        }
        return ((x0 - mx)...(x1 + mx), (y0 - my)...(y1 + my))
    }

    /// One legend row per label (sorted, noise last) and one for the highlighted points.
    func legend(_ labels: [Int]?, highlighted: [Int]) -> [LegendEntry] {
        guard let labels else { return [] }
        var counts = [Int: Int]()
        for l in labels { counts[max(l, -1), default: 0] += 1 }
        let order = counts.keys.filter { $0 >= 0 }.sorted() + (counts[-1] != nil ? [-1] : [])
        var rows = order.map { l -> LegendEntry in
            let name = labelNames[l] ?? (l < 0 ? "noise" : "\(legendPrefix) \(l)")
            return LegendEntry(showCounts ? "\(name) (\(counts[l]!))" : name, color: CategoricalPalette.color(l), marker: .square)
        }
        if !highlighted.isEmpty && !highlightName.isEmpty {
            rows.append(LegendEntry(highlightName, color: PlotStyle.background, marker: .ring))
        }
        return rows
    }
}
