// Chart: the frame every plot shares. A title (wrapped to the picture's width), a framed data
// area whose content a closure draws (clipped to the area), ticked and captioned axes below and
// left of it, and optionally a colour bar and a legend to its right. The layout is computed from
// the sizes of the texts, so long tick labels or captions never overlap the data.

/// A titled plot frame with axes, optional colour bar and legend, around drawn content.
public struct Chart: Sendable {
    /// Title above the plot, wrapped to the picture's width; empty: none.
    public var title: String
    /// A second, lighter line under the title (parameters of the run, say).
    public var subtitle: String?
    /// Horizontal axis; `render` requires its range.
    public var xAxis: PlotAxis
    /// Vertical axis; `render` requires its range.
    public var yAxis: PlotAxis
    /// Colour bar right of the data area; nil: none.
    public var colorBar: ColorBar?
    /// Legend rows right of the data area (and of the colour bar); rows that do not fit are
    /// summed up in a last "… n more" row.
    public var legend: [LegendEntry] = []
    /// Bold heading over the legend; nil: none.
    public var legendTitle: String?
    /// Size of the data area in pixels (the picture adds the margins).
    public var plotWidth: Int
    /// Height of the data area in pixels (16 ... 8192, as `plotWidth`).
    public var plotHeight: Int
    /// Light grid lines at the labelled ticks, under the content.
    public var showGrid = true
    /// Font scale of all text (2: capitals 14 pixels tall).
    public var textScale = 2

    /// A chart with a `plotWidth × plotHeight` data area; set the axes' ranges before `render`.
    public init(title: String, xAxis: PlotAxis, yAxis: PlotAxis, plotWidth: Int = 560, plotHeight: Int = 560) {
        self.title = title
        self.xAxis = xAxis
        self.yAxis = yAxis
        self.plotWidth = plotWidth
        self.plotHeight = plotHeight
    }

    static let pad = 14

    /// Renders the chart; `content` draws into the data area (a white `plotWidth × plotHeight`
    /// picture, grid lines already drawn) using the area's data-to-pixel mapping.
    /// Errors: `.invalidArgument` when an axis has no range, a range is empty, non-finite or
    /// (logarithmic) not positive, or the sizes are out of 16 ... 8192 pixels / scale 1 ... 8.
    public func render(_ content: (inout RasterImage, PlotArea) -> Void) throws(TesseraError) -> RasterImage {
        guard let xr = xAxis.range, let yr = yAxis.range else {
            throw .invalidArgument("chart '\(title)': both axes need a range")
        }
        try xAxis.validate(xr, name: "x")
        try yAxis.validate(yr, name: "y")
        guard (16...8192).contains(plotWidth), (16...8192).contains(plotHeight) else {
            throw .invalidArgument("chart: data area \(plotWidth)×\(plotHeight) must be 16 ... 8192 pixels per side")
        }
        guard (1...8).contains(textScale) else { throw .invalidArgument("chart: text scale \(textScale) must be in 1 ... 8") }
        if let cb = colorBar {
            guard cb.range.lowerBound.isFinite, cb.range.upperBound.isFinite, cb.range.upperBound > cb.range.lowerBound else {
                throw .invalidArgument("chart: colour bar range \(cb.range) must be finite and non-empty")
            }
        }
        let s = textScale, pad = Chart.pad
        let lineH = PlotText.lineHeight(scale: s), capH = PlotText.capHeight(scale: s)
        let xMarks = AxisPainter.marks(xAxis, range: xr, length: plotWidth,
                                       extent: { PlotFont.width(of: $0, scale: s) }, minGap: 4 * s).labelled
        let firstHalf = xMarks.first.map { PlotFont.width(of: $0.label, scale: s) / 2 - $0.offset } ?? 0
        let lastHalf = xMarks.last.map { PlotFont.width(of: $0.label, scale: s) / 2 - (plotWidth - 1 - $0.offset) } ?? 0

        let yCaption = yAxis.label.isEmpty ? 0 : lineH + 8
        let left = Swift.max(pad + yCaption + AxisPainter.labelWidth(yAxis, range: yr, scale: s)
                             + AxisPainter.labelGap + AxisPainter.tickLength, pad + firstHalf) + 1
        let entries = LegendPainter.fitting(legend, title: legendTitle, height: plotHeight, scale: s)
        let side = (colorBar?.width(scale: s) ?? 0) + LegendPainter.width(entries, title: legendTitle, scale: s)
        let right = 1 + Swift.max(pad + lastHalf, side + pad)
        let width = left + plotWidth + right

        let titleLines = title.isEmpty ? [] : PlotText.wrap(title, maxWidth: width - 2 * pad, scale: s)
        let subLines = subtitle.map { PlotText.wrap($0, maxWidth: width - 2 * pad, scale: s) } ?? []
        let top = pad + (titleLines.count + subLines.count) * lineH + capH / 2 + 10
        let bottom = 1 + AxisPainter.tickLength + AxisPainter.labelGap + capH
            + (xAxis.label.isEmpty ? 0 : 12 + lineH) + pad
        var img = try RasterImage(width: width, height: top + plotHeight + bottom)

        var row = pad
        for l in titleLines {
            img.drawText(l, x: width / 2, y: row, scale: s, align: .center, bold: true)
            row += lineH
        }
        for l in subLines {
            img.drawText(l, x: width / 2, y: row, scale: s, color: PlotStyle.muted, align: .center)
            row += lineH
        }

        let area = PlotArea(width: plotWidth, height: plotHeight, xAxis: xAxis, x: xr, yAxis: yAxis, y: yr)
        var panel = try RasterImage(width: plotWidth, height: plotHeight)
        if showGrid { AxisPainter.drawGrid(&panel, area: area) }
        content(&panel, area)
        img.draw(panel, x: left, y: top)
        img.strokeRect(x: left - 1, y: top - 1, width: plotWidth + 2, height: plotHeight + 2, color: PlotStyle.axis)

        let below = AxisPainter.drawBottom(&img, axis: xAxis, range: xr, x: left, y: top + plotHeight, length: plotWidth, scale: s)
        AxisPainter.drawLeft(&img, axis: yAxis, range: yr, x: left - 1, y: top, length: plotHeight, scale: s)
        if !xAxis.label.isEmpty {
            img.drawText(xAxis.label, x: left + plotWidth / 2, y: below + 12, scale: s, align: .center)
        }
        if !yAxis.label.isEmpty {
            img.drawText(yAxis.label, x: pad, y: top + plotHeight / 2, scale: s, align: .center, rotated: true)
        }
        var sideX = left + plotWidth + 1
        if let cb = colorBar {
            cb.draw(&img, x: sideX, y: top, height: plotHeight, scale: s)
            sideX += cb.width(scale: s)
        }
        LegendPainter.draw(&img, entries: entries, title: legendTitle, x: sideX, y: top, scale: s)
        return img
    }
}
