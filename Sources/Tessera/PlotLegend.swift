// Legends: a column of swatches with names (clusters, communities, data series), drawn beside
// a plot's data area.

/// How a legend entry's swatch is drawn.
public enum LegendMarker: Sendable, Equatable {
    /// A filled square (categories, clusters).
    case square
    /// A filled disc (scatter points).
    case disc
    /// A filled disc with a dark ring (highlighted points such as medoids).
    case ring
    /// A short line (line-plot series).
    case line
    /// A disc on a short line (series drawn with line and markers).
    case lineAndDisc
    /// No swatch: a note row.
    case none
}

/// One legend row: swatch colour and marker, and its name.
public struct LegendEntry: Sendable {
    /// Name shown right of the swatch.
    public var label: String
    /// Swatch colour.
    public var color: RGBColor
    /// Swatch shape.
    public var marker: LegendMarker

    /// A row naming `label`, with a `marker` swatch in `color`.
    public init(_ label: String, color: RGBColor, marker: LegendMarker = .square) {
        self.label = label
        self.color = color
        self.marker = marker
    }
}

enum LegendPainter {
    static let gap = 22

    static func swatchSize(scale: Int) -> Int { PlotText.capHeight(scale: scale) + 4 }

    /// Entries that fit in `height` pixels (with the title); when some do not, the last row
    /// kept says how many were left out.
    static func fitting(_ entries: [LegendEntry], title: String?, height: Int, scale: Int) -> [LegendEntry] {
        let line = PlotText.lineHeight(scale: scale) + 2
        let rows = Swift.max(1, (height - (title == nil ? 0 : line)) / line)
        guard entries.count > rows else { return entries }
        let kept = Array(entries.prefix(rows - 1))
        return kept + [LegendEntry("… \(entries.count - kept.count) more", color: PlotStyle.muted, marker: .none)]
    }

    /// Width in pixels of the legend column (gap before it included).
    static func width(_ entries: [LegendEntry], title: String?, scale: Int) -> Int {
        guard !entries.isEmpty else { return 0 }
        let names = entries.map { PlotFont.width(of: $0.label, scale: scale) }.max() ?? 0
        let t = title.map { PlotFont.width(of: $0, scale: scale) + 1 } ?? 0
        return gap + Swift.max(swatchSize(scale: scale) * 2 + 8 + names, t)
    }

    /// Draws the legend with its top-left corner (before the gap) at (x, y).
    static func draw(_ img: inout RasterImage, entries: [LegendEntry], title: String?, x: Int, y: Int, scale: Int) {
        let line = PlotText.lineHeight(scale: scale) + 2
        let sw = swatchSize(scale: scale)
        var row = y
        let x0 = x + gap
        if let title {
            img.drawText(title, x: x0, y: row, scale: scale, bold: true)
            row += line
        }
        for e in entries {
            let cy = row + PlotText.capHeight(scale: scale) / 2
            let mid = Double(x0 + sw)
            switch e.marker {
            case .none:
                break
            case .square:
                img.fillRect(x: x0 + sw / 2, y: cy - sw / 2, width: sw, height: sw, color: e.color)
            case .disc:
                img.disc(cx: mid, cy: Double(cy) + 0.5, radius: Double(sw) / 2.5, color: e.color)
            case .ring:
                img.disc(cx: mid, cy: Double(cy) + 0.5, radius: Double(sw) / 2, color: PlotStyle.ink)
                img.disc(cx: mid, cy: Double(cy) + 0.5, radius: Double(sw) / 2 - 2, color: e.color)
            case .line, .lineAndDisc:
                img.polyline([(Double(x0), Double(cy) + 0.5), (Double(x0 + 2 * sw), Double(cy) + 0.5)], color: e.color, lineWidth: 2.5)
                if e.marker == .lineAndDisc { img.disc(cx: mid, cy: Double(cy) + 0.5, radius: 3.5, color: e.color) }
            }
            img.drawText(e.label, x: x0 + 2 * sw + 8, y: row, scale: scale)
            row += line
        }
    }
}
