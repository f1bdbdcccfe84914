// Text on pictures with the built-in bitmap font: one line at an anchor point, horizontal or
// turned 90° counter-clockwise (for vertical axis captions), and greedy word wrapping.

/// Where the anchor point lies along the text.
public enum TextAlign: Sendable { case leading, center, trailing }

/// Where the anchor point lies across the text: the top of the capitals, their middle, or the
/// baseline (descenders go below it).
public enum TextVerticalAlign: Sendable { case top, middle, baseline }

/// Colours and sizes shared by all plots.
public enum PlotStyle {
    /// Text and strong lines.
    public static let ink: RGBColor = (30, 30, 30)
    /// Axis frame and ticks.
    public static let axis: RGBColor = (70, 70, 70)
    /// Secondary text (subtitles, notes).
    public static let muted: RGBColor = (105, 105, 105)
    /// Grid lines inside a plot.
    public static let grid: RGBColor = (226, 226, 226)
    /// The picture background.
    public static let background: RGBColor = (255, 255, 255)
}

extension RasterImage {
    /// Draws one line of `text` at font `scale` (each font pixel becomes scale × scale). The
    /// anchor (x, y) is placed by `align` along the text and by `vertical` across it. With
    /// `rotated` the text reads bottom to top (turned 90° counter-clockwise about the anchor),
    /// `vertical: .top` then putting the tops of the letters on the line x = anchor x.
    /// `bold` doubles every stroke one pixel along the text. Clipped to the picture.
    public mutating func drawText(_ text: String, x: Int, y: Int, scale: Int = 2, color: RGBColor = PlotStyle.ink,
                                  align: TextAlign = .leading, vertical: TextVerticalAlign = .top,
                                  bold: Bool = false, rotated: Bool = false) {
        guard scale > 0, !text.isEmpty else { return }
        let w = PlotFont.width(of: text, scale: scale) + (bold ? 1 : 0)
        let u0: Int
        switch align {
        case .leading: u0 = 0
        case .center: u0 = -w / 2
        case .trailing: u0 = -w
        }
        let v0: Int
        switch vertical {
        case .top: v0 = 0
        case .middle: v0 = -(PlotFont.capHeight * scale) / 2
        case .baseline: v0 = -PlotFont.capHeight * scale
        }
        func put(_ u: Int, _ v: Int) {
            let (px, py) = rotated ? (x + v0 + v, y - (u0 + u)) : (x + u0 + u, y + v0 + v)
            guard px >= 0, py >= 0, px < width, py < height else { return }
            self[px, py] = (color.r, color.g, color.b, 255)
        }
        var pen = 0
        for ch in text {
            let g = PlotFont.glyph(ch)
            for r in 0..<PlotFont.cellHeight {
                for c in 0..<g.width where g.isSet(c, r) {
                    for dy in 0..<scale {
                        for dx in 0..<(scale + (bold ? 1 : 0)) { put(pen + c * scale + dx, r * scale + dy) }
                    }
                }
            }
            pen += (g.width + PlotFont.spacing) * scale
        }
    }
}

/// Measuring and wrapping text.
public enum PlotText {
    /// Height of one line of text at `scale` including descenders (what a line occupies).
    public static func lineHeight(scale: Int) -> Int { PlotFont.lineHeight * scale }

    /// Height of capitals at `scale`.
    public static func capHeight(scale: Int) -> Int { PlotFont.capHeight * scale }

    /// `text` broken into lines no wider than `maxWidth` pixels at `scale`: at explicit
    /// newlines, then greedily between words. A single word wider than the limit keeps a line
    /// of its own (it is not cut).
    public static func wrap(_ text: String, maxWidth: Int, scale: Int) -> [String] {
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                let candidate = line.isEmpty ? String(word) : line + " " + word
                if line.isEmpty || PlotFont.width(of: candidate, scale: scale) <= maxWidth {
                    line = candidate
                } else {
                    lines.append(line)
                    line = String(word)
                }
            }
            lines.append(line)
        }
        return lines
    }

    /// The widest of `lines` in pixels at `scale` (0 for none).
    public static func maxWidth(_ lines: [String], scale: Int) -> Int {
        lines.map { PlotFont.width(of: $0, scale: scale) }.max() ?? 0
    }
}
