// Figures: several finished pictures (charts, grids) arranged in rows under one title.

/// Multi-panel layout: rows of pictures, each row centred, under an optional bold title.
public enum PlotFigure {
    /// Arranges `rows` of pictures (top row first; a row's pictures left to right, top-aligned),
    /// `gap` pixels apart, each row centred in the widest row's width, under `title` (wrapped).
    /// Errors: `.invalidArgument` for no pictures, a negative gap or a scale outside 1 ... 8.
    public static func compose(title: String?, rows: [[RasterImage]], gap: Int = 16, textScale: Int = 2) throws(TesseraError) -> RasterImage {
        let rows = rows.filter { !$0.isEmpty }
        guard !rows.isEmpty else { throw .invalidArgument("figure: no panels") }
        guard gap >= 0, gap <= 1024, (1...8).contains(textScale) else {
            throw .invalidArgument("figure: gap \(gap) or text scale \(textScale) out of range")
        }
        let rowWidths = rows.map { r in r.map(\.width).reduce(0, +) + gap * (r.count - 1) }
        let rowHeights = rows.map { r in r.map(\.height).max() ?? 0 }
        let pad = Chart.pad
        let width = (rowWidths.max() ?? 0) + 2 * pad
        let lineH = PlotText.lineHeight(scale: textScale)
        let lines = title.map { PlotText.wrap($0, maxWidth: width - 2 * pad, scale: textScale) } ?? []
        let top = lines.isEmpty ? pad : pad + lines.count * lineH + 6
        let height = top + rowHeights.reduce(0, +) + gap * (rows.count - 1) + pad
        var img = try RasterImage(width: width, height: height)
        var y = pad
        for l in lines {
            img.drawText(l, x: width / 2, y: y, scale: textScale, align: .center, bold: true)
            y += lineH
        }
        y = top
        for (k, r) in rows.enumerated() {
            var x = (width - rowWidths[k]) / 2
            for p in r {
                img.draw(p, x: x, y: y)
                x += p.width + gap
            }
            y += rowHeights[k] + gap
        }
        return img
    }
}
