// ImageGridPlot: rows of same-sized 2-D fields (say diffusion samples: one sampler per row, one
// seed per column) on one colour scale, with row names, column headings, pixel coordinates on
// the outer cells (numbers on the left column and the bottom-left cell) and a single colour bar.

/// A titled grid of field pictures sharing one colour map and range.
public struct ImageGridPlot: Sendable {
    /// Title above the grid; empty: none.
    public var title: String
    /// A second, lighter line under the title; nil: none.
    public var subtitle: String?
    /// One name per row, drawn left of it ("\n" breaks lines; long names are wrapped).
    public var rowLabels: [String] = []
    /// One heading per column, drawn above the top row.
    public var columnLabels: [String] = []
    /// Caption of the colour bar: the quantity and its units.
    public var valueLabel = "value"
    /// Colour map shared by every cell.
    public var colormap: Colormap = .aurora
    /// Value range of the colour map, over all cells together.
    public var range: ColorRange = .automatic
    /// Each field value becomes a `cellScale × cellScale` block.
    public var cellScale = 2
    /// Field row 0 at the top of each cell (image convention; the y axis counts downwards).
    public var rowZeroAtTop = true
    /// Caption under the grid (the cells' coordinates), and an optional turned caption left of
    /// the y tick labels (empty by default: it would sit between the row names and the cells).
    public var xLabel = "x, y (pixel)"
    /// Turned caption left of the y tick labels; empty: none.
    public var yLabel = ""
    /// Widest row-name column in pixels before names wrap.
    public var rowLabelWidth = 230
    /// Pixels between neighbouring cells, 0 ... 256.
    public var gap = 10
    /// Font scale of all text, 1 ... 8 (2: capitals 14 pixels tall).
    public var textScale = 2

    /// An empty grid plot titled `title`; set the labels, then `render` the cells.
    public init(title: String) { self.title = title }

    /// Renders `cells[row][column]`, each a row-major `rows × cols` field. Rows may have
    /// different numbers of cells. Errors: `.invalidArgument` for no cells, a cell of the wrong
    /// size, non-positive sizes, a scale outside 1 ... 16, or a picture too large.
    public func render(_ cells: [[[Float]]], rows: Int, cols: Int) throws(TesseraError) -> RasterImage {
        guard rows > 0, cols > 0, (1...16).contains(cellScale), (1...8).contains(textScale), gap >= 0, gap <= 256 else {
            throw .invalidArgument("image grid: bad size \(rows)×\(cols), cell scale \(cellScale), text scale \(textScale) or gap \(gap)")
        }
        let ncols = cells.map(\.count).max() ?? 0
        guard !cells.isEmpty, ncols > 0 else { throw .invalidArgument("image grid: no cells") }
        for (r, row) in cells.enumerated() {
            for (c, v) in row.enumerated() where v.count != rows * cols {
                throw .invalidArgument("image grid: cell (\(r), \(c)) has \(v.count) values, expected \(rows)×\(cols)")
            }
        }
        guard rows * cellScale <= 4096, cols * cellScale <= 4096, cells.count * ncols <= 1024 else {
            throw .invalidArgument("image grid: \(cells.count)×\(ncols) cells of \(rows)×\(cols) at scale \(cellScale) is too large")
        }
        var lo = Double.infinity, hi = -Double.infinity
        for row in cells { for v in row { for x in v where x.isFinite { lo = Swift.min(lo, Double(x)); hi = Swift.max(hi, Double(x)) } } }
        if case .fixed(let l, let h) = range, !(l.isFinite && h.isFinite && l < h) {
            throw .invalidArgument("image grid: fixed range [\(l), \(h)] must be finite with low < high")
        }
        let (a, b) = range.resolve(min: lo, max: hi, maxAbs: Swift.max(abs(lo), abs(hi)))
        let bar = ColorBar(colormap: colormap, range: a...b, label: valueLabel)

        let s = textScale, pad = Chart.pad
        let lineH = PlotText.lineHeight(scale: s), capH = PlotText.capHeight(scale: s)
        let cw = cols * cellScale, ch = rows * cellScale
        var xAxis = PlotAxis(xLabel, range: 0...Double(cols)), yAxis = PlotAxis(yLabel, range: 0...Double(rows))
        xAxis.tickTarget = 4; yAxis.tickTarget = 4
        yAxis.reversed = rowZeroAtTop
        let names = cells.indices.map { r in
            r < rowLabels.count ? PlotText.wrap(rowLabels[r], maxWidth: rowLabelWidth, scale: s) : []
        }
        let namesW = names.map { PlotText.maxWidth($0, scale: s) }.max() ?? 0
        let left = pad + (namesW > 0 ? namesW + 24 : 0) + (yLabel.isEmpty ? 0 : lineH + 10)
            + AxisPainter.labelWidth(yAxis, range: yAxis.range!, scale: s) + AxisPainter.labelGap + AxisPainter.tickLength + 1
        let gridW = ncols * cw + (ncols - 1) * gap, gridH = cells.count * ch + (cells.count - 1) * gap
        let width = left + gridW + 1 + bar.width(scale: s) + pad
        let titleLines = PlotText.wrap(title, maxWidth: width - 2 * pad, scale: s)
        let subLines = subtitle.map { PlotText.wrap($0, maxWidth: width - 2 * pad, scale: s) } ?? []
        let headH = columnLabels.isEmpty ? 0 : lineH + 2
        let top = pad + (titleLines.count + subLines.count) * lineH + 10 + headH
        let bottom = 1 + AxisPainter.tickLength + AxisPainter.labelGap + capH + (xLabel.isEmpty ? 0 : 12 + lineH) + pad
        var img = try RasterImage(width: width, height: top + gridH + bottom)

        var y = pad
        for l in titleLines { img.drawText(l, x: width / 2, y: y, scale: s, align: .center, bold: true); y += lineH }
        for l in subLines { img.drawText(l, x: width / 2, y: y, scale: s, color: PlotStyle.muted, align: .center); y += lineH }
        for (c, name) in columnLabels.prefix(ncols).enumerated() {
            img.drawText(name, x: left + c * (cw + gap) + cw / 2, y: top - headH, scale: s, align: .center)
        }

        let lut = colormap.lookupTable
        let inv = 255 / (b - a)
        for (r, row) in cells.enumerated() {
            let y0 = top + r * (ch + gap)
            for (c, v) in row.enumerated() {
                let x0 = left + c * (cw + gap)
                for j in 0..<ch {
                    let fr = rowZeroAtTop ? j / cellScale : rows - 1 - j / cellScale
                    for i in 0..<cw {
                        let x = Double(v[fr * cols + i / cellScale])
                        let col = x.isFinite ? lut[Int(Swift.min(Swift.max((x - a) * inv, 0), 255).rounded())] : Colormap.nanColor
                        img[x0 + i, y0 + j] = (col.r, col.g, col.b, 255)
                    }
                }
                img.strokeRect(x: x0 - 1, y: y0 - 1, width: cw + 2, height: ch + 2, color: PlotStyle.axis)
                if r == cells.count - 1 || c >= (cells[r + 1].count) {
                    // every cell has the same coordinates: ticks under each bottom cell, numbers under the first
                    AxisPainter.drawBottom(&img, axis: xAxis, range: xAxis.range!, x: x0, y: y0 + ch, length: cw, scale: s,
                                           labels: c == 0)
                }
            }
            AxisPainter.drawLeft(&img, axis: yAxis, range: yAxis.range!, x: left - 1, y: y0, length: ch, scale: s)
            let n = names[r]
            var ty = y0 + ch / 2 - (n.count * lineH - (lineH - capH)) / 2
            for l in n { img.drawText(l, x: pad, y: ty, scale: s); ty += lineH }
        }
        let gridBottom = top + gridH
        if !xLabel.isEmpty {
            let below = gridBottom + 1 + AxisPainter.tickLength + AxisPainter.labelGap + capH
            img.drawText(xLabel, x: left + gridW / 2, y: below + 12, scale: s, align: .center)
        }
        if !yLabel.isEmpty {
            let yx = left - 1 - AxisPainter.tickLength - AxisPainter.labelGap
                - AxisPainter.labelWidth(yAxis, range: yAxis.range!, scale: s) - 10 - lineH
            img.drawText(yLabel, x: yx, y: top + gridH / 2, scale: s, align: .center, rotated: true)
        }
        bar.draw(&img, x: left + gridW + 1, y: top, height: gridH, scale: s)
        return img
    }
}
