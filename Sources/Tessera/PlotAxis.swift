// Axes: what an axis shows (caption with units, range, linear or logarithmic), how data maps to
// pixels inside a plot's data area, and the drawing of ticks and tick labels along a side.

import Foundation

/// Linear or base-10 logarithmic axis.
public enum AxisScale: Sendable, Equatable { case linear, logarithmic }

/// One axis of a plot: its caption (name and units, e.g. "x (m)"), its data range (nil: the
/// plot chooses it from the data) and its scale.
public struct PlotAxis: Sendable {
    /// Caption with units, e.g. "x (m)"; empty: none.
    public var label: String
    /// Data range shown; nil: the plot chooses it from the data (a `Chart` requires one).
    public var range: ClosedRange<Double>?
    /// Linear or logarithmic (a logarithmic range must be positive).
    public var scale: AxisScale
    /// About how many labelled ticks a linear axis gets.
    public var tickTarget = 6
    /// Values grow downwards (a vertical axis) or to the left (a horizontal one): image rows.
    public var reversed = false

    /// An axis with caption `label`, optional fixed `range` and `scale`.
    public init(_ label: String = "", range: ClosedRange<Double>? = nil, scale: AxisScale = .linear) {
        self.label = label
        self.range = range
        self.scale = scale
    }

    /// Position of `v` in `range` as a fraction 0 ... 1 (logarithmic axes: in log10 space).
    func fraction(_ v: Double, in r: ClosedRange<Double>) -> Double {
        let f: Double
        switch scale {
        case .linear: f = (v - r.lowerBound) / (r.upperBound - r.lowerBound)
        case .logarithmic: f = log10(v / r.lowerBound) / log10(r.upperBound / r.lowerBound)
        }
        return reversed ? 1 - f : f
    }

    /// Labelled and unlabelled tick values inside `range`.
    func ticks(in r: ClosedRange<Double>) -> (labelled: [(value: Double, label: String)], minor: [Double]) {
        switch scale {
        case .linear:
            let t = PlotTicks.linear(r.lowerBound, r.upperBound, target: tickTarget)
            return (Array(zip(t, PlotTicks.labels(t))).map { ($0.0, $0.1) }, [])
        case .logarithmic:
            let (major, minor) = PlotTicks.logarithmic(r.lowerBound, r.upperBound)
            return (Array(zip(major, PlotTicks.logLabels(major))).map { ($0.0, $0.1) }, minor)
        }
    }

    /// Checks that a resolved range can be drawn on this axis.
    func validate(_ r: ClosedRange<Double>, name: String) throws(TesseraError) {
        guard r.lowerBound.isFinite, r.upperBound.isFinite, r.upperBound > r.lowerBound else {
            throw .invalidArgument("plot: \(name) range \(r) must be finite and non-empty")
        }
        if scale == .logarithmic, r.lowerBound <= 0 {
            throw .invalidArgument("plot: logarithmic \(name) range \(r) must be positive")
        }
    }
}

/// The data area of a plot: `width × height` pixels showing the ranges `x` × `y`
/// (y up). Coordinates are relative to the area's top-left corner.
public struct PlotArea: Sendable {
    /// Width of the data area in pixels.
    public let width: Int
    /// Height of the data area in pixels.
    public let height: Int
    /// The x range the area shows (its lower bound at the left edge unless the axis is reversed).
    public let x: ClosedRange<Double>
    /// The y range the area shows (its lower bound at the bottom edge unless the axis is reversed).
    public let y: ClosedRange<Double>
    let xAxis: PlotAxis
    let yAxis: PlotAxis

    init(width: Int, height: Int, xAxis: PlotAxis, x: ClosedRange<Double>, yAxis: PlotAxis, y: ClosedRange<Double>) {
        self.width = width; self.height = height
        self.x = x; self.y = y; self.xAxis = xAxis; self.yAxis = yAxis
    }

    /// Horizontal pixel coordinate of data value `v` (0 = left edge, `width` = right edge).
    public func px(_ v: Double) -> Double { xAxis.fraction(v, in: x) * Double(width) }

    /// Vertical pixel coordinate of data value `v` (0 = top edge = the top of the y range).
    public func py(_ v: Double) -> Double { (1 - yAxis.fraction(v, in: y)) * Double(height) }
}

/// Draws axis ticks and their labels along one side of a data area.
enum AxisPainter {
    static let tickLength = 6
    static let labelGap = 5

    /// Pixel offsets (from the start of a side `length` pixels long, left or bottom end) of
    /// the labelled ticks, thinned so that labels keep `minGap` pixels apart; and of the minors.
    static func marks(_ axis: PlotAxis, range: ClosedRange<Double>, length: Int, extent: (String) -> Int,
                      minGap: Int) -> (labelled: [(offset: Int, label: String)], unlabelled: [Int]) {
        let (ticks, minor) = axis.ticks(in: range)
        func offset(_ v: Double) -> Int? {
            let f = axis.fraction(v, in: range)
            guard f >= -1e-9, f <= 1 + 1e-9 else { return nil }
            return Swift.min(length - 1, Swift.max(0, Int((f * Double(length)).rounded(.down))))
        }
        let all = ticks.compactMap { t in offset(t.value).map { (offset: $0, label: t.label) } }
        var every = 1
        while every < all.count {
            let kept = stride(from: 0, to: all.count, by: every).map { all[$0] }
            let fits = zip(kept, kept.dropFirst()).allSatisfy { a, b in
                abs(b.offset - a.offset) >= (extent(a.label) + extent(b.label)) / 2 + minGap
            }
            if fits { break }
            every += 1
        }
        var labelled: [(offset: Int, label: String)] = [], skipped: [Int] = []
        for (i, m) in all.enumerated() {
            if i % every == 0 { labelled.append(m) } else { skipped.append(m.offset) }
        }
        return (labelled, skipped + minor.compactMap(offset))
    }

    /// Ticks and labels below a data area whose bottom frame line is row `y`, spanning columns
    /// `x ..< x + length`. Returns the row just below the labels.
    @discardableResult
    static func drawBottom(_ img: inout RasterImage, axis: PlotAxis, range: ClosedRange<Double>, x: Int, y: Int,
                           length: Int, scale: Int, labels: Bool = true) -> Int {
        let m = marks(axis, range: range, length: length, extent: { PlotFont.width(of: $0, scale: scale) }, minGap: 4 * scale)
        for o in m.unlabelled { img.fillRect(x: x + o, y: y + 1, width: 1, height: tickLength / 2, color: PlotStyle.axis) }
        for t in m.labelled {
            img.fillRect(x: x + t.offset, y: y + 1, width: 1, height: tickLength, color: PlotStyle.axis)
            if labels {
                img.drawText(t.label, x: x + t.offset, y: y + 1 + tickLength + labelGap, scale: scale, align: .center)
            }
        }
        return y + 1 + tickLength + (labels ? labelGap + PlotText.capHeight(scale: scale) : 0)
    }

    /// Ticks and labels left of a data area whose left frame line is column `x`, spanning rows
    /// `y ..< y + length` (values grow upwards).
    static func drawLeft(_ img: inout RasterImage, axis: PlotAxis, range: ClosedRange<Double>, x: Int, y: Int,
                         length: Int, scale: Int, labels: Bool = true) {
        let m = marks(axis, range: range, length: length, extent: { _ in PlotText.capHeight(scale: scale) }, minGap: 3 * scale)
        for o in m.unlabelled {
            img.fillRect(x: x - tickLength / 2, y: y + length - 1 - o, width: tickLength / 2, height: 1, color: PlotStyle.axis)
        }
        for t in m.labelled {
            let row = y + length - 1 - t.offset
            img.fillRect(x: x - tickLength, y: row, width: tickLength, height: 1, color: PlotStyle.axis)
            if labels {
                img.drawText(t.label, x: x - tickLength - labelGap, y: row, scale: scale, align: .trailing, vertical: .middle)
            }
        }
    }

    /// Ticks and labels right of a vertical strip whose right frame line is column `x` (for colour bars).
    static func drawRight(_ img: inout RasterImage, axis: PlotAxis, range: ClosedRange<Double>, x: Int, y: Int,
                          length: Int, scale: Int) {
        let m = marks(axis, range: range, length: length, extent: { _ in PlotText.capHeight(scale: scale) }, minGap: 3 * scale)
        for t in m.labelled {
            let row = y + length - 1 - t.offset
            img.fillRect(x: x + 1, y: row, width: tickLength, height: 1, color: PlotStyle.axis)
            img.drawText(t.label, x: x + 1 + tickLength + labelGap, y: row, scale: scale, vertical: .middle)
        }
    }

    /// The widest label that `drawLeft`/`drawRight` would draw, in pixels.
    static func labelWidth(_ axis: PlotAxis, range: ClosedRange<Double>, scale: Int) -> Int {
        axis.ticks(in: range).labelled.map { PlotFont.width(of: $0.label, scale: scale) }.max() ?? 0
    }

    /// Grid lines at the labelled ticks inside a data area (area-local coordinates).
    static func drawGrid(_ img: inout RasterImage, area: PlotArea) {
        let xs = marks(area.xAxis, range: area.x, length: area.width, extent: { _ in 0 }, minGap: 0).labelled
        let ys = marks(area.yAxis, range: area.y, length: area.height, extent: { _ in 0 }, minGap: 0).labelled
        for t in xs { img.fillRect(x: t.offset, y: 0, width: 1, height: area.height, color: PlotStyle.grid) }
        for t in ys { img.fillRect(x: 0, y: area.height - 1 - t.offset, width: area.width, height: 1, color: PlotStyle.grid) }
    }
}
