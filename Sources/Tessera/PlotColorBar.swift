// Colour bars: the colour map of a field picture drawn as a vertical strip, low values at the
// bottom, with value ticks and a caption naming the quantity and its units.

/// A vertical colour bar for a colour-mapped picture.
public struct ColorBar: Sendable {
    /// The colour map drawn, low values at the bottom.
    public var colormap: Colormap
    /// The values mapped to the ends of the colour map (bottom, top).
    public var range: ClosedRange<Double>
    /// Quantity and units, e.g. "vorticity ω (1/s)"; drawn turned, reading upwards.
    public var label: String

    /// A bar showing `colormap` over `range` (finite, non-empty), captioned `label`.
    public init(colormap: Colormap, range: ClosedRange<Double>, label: String = "") {
        self.colormap = colormap
        self.range = range
        self.label = label
    }

    /// Space between the data area and the bar, and the bar's width, in pixels.
    static let gap = 22, barWidth = 20

    /// Width in pixels of the bar with its ticks, labels and caption (gap to the data area included).
    func width(scale: Int) -> Int {
        let ticks = AxisPainter.tickLength + AxisPainter.labelGap + AxisPainter.labelWidth(PlotAxis(range: range), range: range, scale: scale)
        let caption = label.isEmpty ? 0 : 10 + PlotText.lineHeight(scale: scale)
        return ColorBar.gap + ColorBar.barWidth + ticks + caption
    }

    /// Draws the bar, its ticks, labels and caption; (x, y) is the top-left corner of the gap
    /// before the bar, `height` the bar's height (that of the data area beside it).
    func draw(_ img: inout RasterImage, x: Int, y: Int, height: Int, scale: Int) {
        guard height > 1 else { return }
        let bx = x + ColorBar.gap
        for j in 0..<height {
            let c = colormap.color(at: 1 - Double(j) / Double(height - 1))
            img.fillRect(x: bx, y: y + j, width: ColorBar.barWidth, height: 1, color: c)
        }
        img.strokeRect(x: bx - 1, y: y - 1, width: ColorBar.barWidth + 2, height: height + 2, color: PlotStyle.axis)
        let axis = PlotAxis(range: range)
        AxisPainter.drawRight(&img, axis: axis, range: range, x: bx + ColorBar.barWidth, y: y, length: height, scale: scale)
        if !label.isEmpty {
            let lx = bx + ColorBar.barWidth + AxisPainter.tickLength + AxisPainter.labelGap
                + AxisPainter.labelWidth(axis, range: range, scale: scale) + 10
            img.drawText(label, x: lx, y: y + height / 2, scale: scale, align: .center, rotated: true)
        }
    }
}
