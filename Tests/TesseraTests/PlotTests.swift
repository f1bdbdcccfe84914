import Foundation
import Testing
@testable import Tessera

/// Writes `img` to $TESSERA_PLOT_PREVIEW/name.png when that variable names a folder (to look at
/// the pictures the tests draw); does nothing otherwise.
func preview(_ img: RasterImage, _ name: String) {
    guard let dir = ProcessInfo.processInfo.environment["TESSERA_PLOT_PREVIEW"], !dir.isEmpty else { return }
    try? img.writePNG(to: "\(dir)/\(name).png")
}

/// Pixel checks on pictures.
enum Pixels {
    static func isInk(_ p: (r: UInt8, g: UInt8, b: UInt8, a: UInt8)) -> Bool {
        p == (PlotStyle.ink.r, PlotStyle.ink.g, PlotStyle.ink.b, 255)
    }

    /// Rows y0..<y1 × columns x0..<x1 that contain at least one pixel satisfying `pred`:
    /// the bounding box (nil when none).
    static func box(_ img: RasterImage, x: Range<Int>? = nil, y: Range<Int>? = nil,
                    _ pred: ((r: UInt8, g: UInt8, b: UInt8, a: UInt8)) -> Bool) -> (x: ClosedRange<Int>, y: ClosedRange<Int>)? {
        var x0 = Int.max, x1 = -1, y0 = Int.max, y1 = -1
        for yy in y ?? 0..<img.height {
            for xx in x ?? 0..<img.width where pred(img[xx, yy]) {
                x0 = min(x0, xx); x1 = max(x1, xx); y0 = min(y0, yy); y1 = max(y1, yy)
            }
        }
        return x1 < 0 ? nil : (x0...x1, y0...y1)
    }

    /// Whether `text` drawn at `scale` in ink appears pixel for pixel somewhere in the region
    /// (every ink pixel of the text is ink in the picture and every blank pixel of its glyph
    /// boxes is not).
    static func contains(_ img: RasterImage, text: String, scale: Int = 2, bold: Bool = false,
                         x: Range<Int>, y: Range<Int>) -> Bool {
        let w = PlotFont.width(of: text, scale: scale) + (bold ? 1 : 0), h = PlotFont.cellHeight * scale
        guard var t = try? RasterImage(width: w, height: h) else { return false }
        t.drawText(text, x: 0, y: 0, scale: scale, bold: bold)
        let ink = (0..<h).flatMap { yy in (0..<w).map { (xx: $0, yy: yy, on: isInk(t[$0, yy])) } }
        let capRows = PlotFont.capHeight * scale
        for oy in y where oy + capRows <= img.height {
            for ox in x where ox + w <= img.width {
                var ok = true
                for p in ink where p.yy < capRows || p.on {
                    guard oy + p.yy < img.height else { continue }
                    if isInk(img[ox + p.xx, oy + p.yy]) != p.on { ok = false; break }
                }
                if ok { return true }
            }
        }
        return false
    }
}

@Suite("Plots: font, ticks, charts with titles, axes, colour bars and legends")
struct PlotTests {
    @Test func fontCoversASCIIAndDrawsGlyphBits() throws {
        for u in 32...126 {
            let ch = Character(Unicode.Scalar(UInt8(u)))
            #expect(PlotFont.covers(String(ch)), "no glyph for '\(ch)'")
        }
        for d in "0123456789" { #expect(PlotFont.glyph(d).width == 5, "digit \(d) not 5 wide") }
        #expect(!PlotFont.covers("\u{1F600}"))
        #expect(PlotFont.glyph("\u{1F600}") == PlotFont.missing)
        // "H" at scale 1: two full-height stems and a bar in row 3
        var img = try RasterImage(width: 8, height: 10)
        img.drawText("H", x: 1, y: 1, scale: 1)
        for r in 0..<7 {
            #expect(Pixels.isInk(img[1, 1 + r]) && Pixels.isInk(img[5, 1 + r]))
            #expect(Pixels.isInk(img[3, 1 + r]) == (r == 3))
        }
        #expect(PlotFont.width(of: "H", scale: 3) == 15 && PlotFont.width(of: "HH", scale: 1) == 11)
        // rotated text reads bottom to top: the first letter's baseline side ends up on the right
        var rot = try RasterImage(width: 12, height: 20)
        rot.drawText("L", x: 1, y: 18, scale: 1, rotated: true)
        let box = try #require(Pixels.box(rot, Pixels.isInk))
        #expect(box.x == 1...7 && box.y == 14...18)   // 7 rows tall → 7 columns wide, 5 columns wide → 5 rows
        #expect((0..<7).allSatisfy { Pixels.isInk(rot[1 + $0, 18]) })  // L's stem, rotated, along the bottom row
    }

    @Test func wrapKeepsLinesWithinWidth() {
        let t = "Decaying two-dimensional turbulence: vorticity after 300 steps on a 256² periodic grid"
        let lines = PlotText.wrap(t, maxWidth: 300, scale: 2)
        #expect(lines.count >= 3)
        #expect(lines.allSatisfy { PlotFont.width(of: $0, scale: 2) <= 300 })
        #expect(lines.joined(separator: " ") == t)
        #expect(PlotText.wrap("a\nb", maxWidth: 1000, scale: 2) == ["a", "b"])
    }

    @Test func niceTicksAndLabels() {
        #expect(PlotTicks.linear(0, 1, target: 5) == [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
        #expect(PlotTicks.labels(PlotTicks.linear(0, 1, target: 5)) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(PlotTicks.labels(PlotTicks.linear(-3, 7, target: 5)) == ["−2", "0", "2", "4", "6"])
        #expect(PlotTicks.labels([0, 2e-4, 4e-4]) == ["0", "2e-4", "4e-4"])
        #expect(PlotTicks.labels([0, 250_000, 500_000]) == ["0", "2.5e5", "5.0e5"])
        #expect(PlotTicks.labels([0.25, 0.5, 0.75]) == ["0.25", "0.50", "0.75"])
        #expect(PlotTicks.niceStep(0.23) == 0.5 && PlotTicks.niceStep(13) == 20 && PlotTicks.niceStep(1) == 1)
        let log = PlotTicks.logarithmic(0.004, 300)
        #expect(log.major == [0.01, 0.1, 1, 10, 100])
        #expect(log.minor.contains(0.005) && log.minor.contains(200) && !log.minor.contains(400))
        #expect(PlotTicks.logarithmic(0.02, 0.5).major == [0.02, 0.05, 0.1, 0.2, 0.5])
        #expect(PlotTicks.logLabels([0.01, 0.1, 1, 10, 100]) == ["0.01", "0.1", "1", "10", "100"])
        #expect(PlotTicks.logLabels([1e-5, 1e-4, 1e-3]) == ["1e-5", "1e-4", "1e-3"])   // one style per axis
        #expect(PlotTicks.logLabels([1, 1e5]) == ["1e0", "1e5"])
        #expect(PlotTicks.linear(.nan, 1).isEmpty)
    }

    /// A field plot has its title, x tick labels and caption in text, and a colour bar whose
    /// colours run monotonically in lightness from the map's low end (bottom) to its high end.
    @Test func fieldPlotHasTitleAxesAndMonotoneColorBar() throws {
        let rows = 40, cols = 60
        var f = [Double](repeating: 0, count: rows * cols)
        for r in 0..<rows { for c in 0..<cols { f[r * cols + c] = Double(c) / Double(cols - 1) * 3 - 1 } }
        var plot = FieldPlot(title: "Test field", xAxis: PlotAxis("x (m)", range: 0...2), yAxis: PlotAxis("y (m)", range: 0...1),
                             valueLabel: "u (K)", colormap: .aurora)
        plot.plotWidth = 300; plot.plotHeight = 200
        let img = try plot.render(f, rows: rows, cols: cols)
        preview(img, "field")

        // the data area: the largest block of colour-map pixels; the field runs low → high left to right
        let lut = Colormap.aurora.lookupTable
        func isMap(_ p: (r: UInt8, g: UInt8, b: UInt8, a: UInt8)) -> Bool { lut.contains { $0 == (p.r, p.g, p.b) } }
        var runs: [(x0: Int, len: Int)] = []   // runs of colour-map pixels along the middle row
        let midY = img.height / 2
        var x = 0
        while x < img.width {
            if isMap(img[x, midY]) {
                let x0 = x
                while x < img.width && isMap(img[x, midY]) { x += 1 }
                runs.append((x0, x - x0))
            } else { x += 1 }
        }
        let data = try #require(runs.first { $0.len == 300 }, "no 300-pixel data row in \(runs)")
        let bar = try #require(runs.last { $0.len == ColorBar.barWidth }, "no colour bar in \(runs)")
        #expect(bar.x0 > data.x0 + data.len)
        let left = img[data.x0, midY], right = img[data.x0 + 299, midY]
        #expect((left.r, left.g, left.b) == lut[0] && (right.r, right.g, right.b) == lut[255])

        // the colour bar: same height as the data area, lightness increasing upwards, map ends at its ends
        let bx = bar.x0 + bar.len / 2
        var top = midY, bottom = midY
        while top > 0 && isMap(img[bx, top - 1]) { top -= 1 }
        while bottom < img.height - 1 && isMap(img[bx, bottom + 1]) { bottom += 1 }
        #expect(bottom - top + 1 == 200)
        let light = (top...bottom).map { y in OKLab.lightness(r: img[bx, y].r, g: img[bx, y].g, b: img[bx, y].b) }
        #expect(zip(light, light.dropFirst()).allSatisfy { $0 >= $1 }, "colour bar not monotone")
        #expect((img[bx, bottom].r, img[bx, bottom].g, img[bx, bottom].b) == lut[0])
        #expect((img[bx, top].r, img[bx, top].g, img[bx, top].b) == lut[255])

        // title above the data area, centred, in bold glyphs
        let titleBox = try #require(Pixels.box(img, y: 0..<(top - PlotText.capHeight(scale: 2)), Pixels.isInk))
        #expect(titleBox.y.count == PlotText.capHeight(scale: 2))
        #expect(titleBox.x.count == PlotFont.width(of: "Test field", scale: 2) + 1)
        #expect(abs((titleBox.x.lowerBound + titleBox.x.upperBound) / 2 - img.width / 2) <= 2)
        #expect(Pixels.contains(img, text: "Test field", bold: true, x: titleBox.x.lowerBound..<(titleBox.x.lowerBound + 1),
                                y: titleBox.y.lowerBound..<(titleBox.y.lowerBound + 1)))
        // x tick labels 0.0 ... 2.0 and the caption below the data area; colour-bar labels right of the bar
        let below = (bottom + 1)..<img.height
        for label in ["0.0", "0.5", "1.0", "1.5", "2.0", "x (m)"] {
            #expect(Pixels.contains(img, text: label, x: (data.x0 - 40)..<(data.x0 + 320), y: below), "'\(label)' missing")
        }
        #expect(Pixels.contains(img, text: "−1.0", x: (bar.x0 + 20)..<img.width, y: (bottom - 20)..<(bottom + 10)))
        #expect(Pixels.contains(img, text: "2.0", x: (bar.x0 + 20)..<img.width, y: (top - 10)..<bottom))
        // the y caption, turned, left of the tick labels
        #expect(Pixels.box(img, x: 0..<(data.x0 - 40), y: top..<bottom, Pixels.isInk) != nil)
    }

    /// A scatter plot's legend has one swatch per label in exactly that label's colour, beside
    /// (right of) all the points.
    @Test func scatterPlotLegendSwatchesHaveClusterColors() throws {
        var x: [Double] = [], y: [Double] = [], labels: [Int] = []
        for i in 0..<300 {
            let k = i % 3, a = Double(i) * 0.7
            x.append(Double(k) * 4 + cos(a)); y.append(Double(k % 2) * 3 + sin(a)); labels.append(k)
        }
        var sp = ScatterPlot(width: 320, height: 240)
        sp.title = "Three clusters"
        sp.xLabel = "PC 1"; sp.yLabel = "PC 2"
        let img = try sp.render(x: x, y: y, labels: labels, highlighted: [0, 1, 2])
        preview(img, "scatter")
        var swatchBoxes: [(x: ClosedRange<Int>, y: ClosedRange<Int>)] = []
        for k in 0..<3 {
            let c = CategoricalPalette.color(k)
            let exact = { (p: (r: UInt8, g: UInt8, b: UInt8, a: UInt8)) in p == (c.r, c.g, c.b, 255) }
            // medoid markers are drawn opaque too: look right of the data area only
            let b = try #require(Pixels.box(img, x: (img.width * 2 / 3)..<img.width, exact), "no swatch for label \(k)")
            let side = LegendPainter.swatchSize(scale: 2)
            #expect(b.x.count == side && b.y.count == side, "swatch \(k) is \(b)")
            swatchBoxes.append(b)
            #expect(Pixels.contains(img, text: "cluster \(k) (100)", x: b.x.upperBound..<(b.x.upperBound + 30),
                                    y: (b.y.lowerBound - 6)..<(b.y.lowerBound + 6)))
        }
        #expect(swatchBoxes[0].y.lowerBound < swatchBoxes[1].y.lowerBound && swatchBoxes[1].y.lowerBound < swatchBoxes[2].y.lowerBound)
        // points: blended label colours inside the data area, none right of the legend's left edge
        let legendLeft = swatchBoxes.map(\.x.lowerBound).min()!
        let c0 = CategoricalPalette.color(0)
        func blendedLabel0(_ p: (r: UInt8, g: UInt8, b: UInt8, a: UInt8)) -> Bool {
            let d = abs(Int(p.r) - Int(c0.r)) + abs(Int(p.g) - Int(c0.g)) + abs(Int(p.b) - Int(c0.b))
            return d < 60 && d > 0
        }
        let pts = try #require(Pixels.box(img, blendedLabel0))
        #expect(pts.x.upperBound < legendLeft)
        #expect(Pixels.contains(img, text: "PC 1", x: 0..<img.width, y: (img.height - 60)..<img.height))
        #expect(Pixels.contains(img, text: "medoid", x: legendLeft..<img.width, y: 0..<img.height))
        #expect(throws: TesseraError.self) { try sp.render(x: [0, 1], y: [0]) }
        #expect(throws: TesseraError.self) { try sp.render(x: [0, .nan], y: [0, 1]) }
        #expect(throws: TesseraError.self) { try sp.render(x: [0], y: [0], labels: [1, 2]) }
        #expect(throws: TesseraError.self) { try sp.render(x: [0], y: [0], highlighted: [3]) }
        _ = try sp.render(x: [], y: [])  // empty plot is fine
    }

    /// Points land where the axes say: a point at data (0, 0) is drawn at the pixel of the x
    /// tick "0" and the y tick "0"; equal aspect gives equal pixels per unit.
    @Test func scatterPointsSitOnTheirTicks() throws {
        var sp = ScatterPlot(width: 200, height: 200)
        sp.showLegend = false
        sp.pointRadius = 3
        sp.pointOpacity = 1
        let img = try sp.render(x: [-1, 0, 3], y: [-1, 0, 1], labels: [0, 1, 2])
        let c1 = CategoricalPalette.color(1)
        let dot = try #require(Pixels.box(img, { $0 == (c1.r, c1.g, c1.b, 255) }))
        let (cx, cy) = ((dot.x.lowerBound + dot.x.upperBound) / 2, (dot.y.lowerBound + dot.y.upperBound) / 2)
        let (xr, yr) = sp.ranges([-1, 0, 3], [-1, 0, 1])
        #expect(abs((xr.upperBound - xr.lowerBound) - (yr.upperBound - yr.lowerBound)) < 1e-9)  // square area, equal aspect
        // the tick marks for 0: below the frame at column cx, left of the frame at row cy (±1 pixel)
        let axisColor = (PlotStyle.axis.r, PlotStyle.axis.g, PlotStyle.axis.b, UInt8(255))
        func count(_ pts: [(Int, Int)]) -> Int { pts.filter { img[$0.0, $0.1] == axisColor }.count }
        let frameBottom = (img.height / 2..<img.height).max { a, b in
            count((0..<img.width).map { ($0, a) }) < count((0..<img.width).map { ($0, b) })
        }!
        let frameLeft = (0..<img.width / 2).max { a, b in
            count((0..<img.height).map { (a, $0) }) < count((0..<img.height).map { (b, $0) })
        }!
        #expect((cx - 1...cx + 1).contains { img[$0, frameBottom + 3] == axisColor }, "no x tick under the point at \(cx)")
        #expect((cy - 1...cy + 1).contains { img[frameLeft - 3, $0] == axisColor }, "no y tick beside the point at \(cy)")
        #expect(Pixels.contains(img, text: "0", x: (cx - 8)..<(cx + 4), y: (frameBottom + 1)..<(frameBottom + 16)))
    }

    @Test func logLogLinePlot() throws {
        let xs = (0...20).map { pow(10, -2 + Double($0) / 10) }   // 0.01 ... 1
        var lp = LinePlot(title: "Power law", xAxis: PlotAxis("f", scale: .logarithmic),
                          yAxis: PlotAxis("S(f)", scale: .logarithmic))
        lp.plotWidth = 300; lp.plotHeight = 300
        let red: RGBColor = (220, 40, 30)
        let series = PlotSeries("S = f^-3", x: xs, y: xs.map { pow($0, -3) }, color: red)
        let withLegend = try lp.render([series])
        preview(withLegend, "loglog")
        #expect(Pixels.contains(withLegend, text: "S = f^-3", x: 0..<withLegend.width, y: 0..<withLegend.height))
        lp.showLegend = false
        let img = try lp.render([series])
        // a power law is a straight line on log-log axes: its pixels lie on one line
        let on = { (p: (r: UInt8, g: UInt8, b: UInt8, a: UInt8)) in p == (red.r, red.g, red.b, 255) }
        let area = try #require(Pixels.box(img, on))
        var pts: [(Double, Double)] = []
        for y in area.y { for x in area.x where on(img[x, y]) { pts.append((Double(x), Double(y))) } }
        let mx = pts.map(\.0).reduce(0, +) / Double(pts.count), my = pts.map(\.1).reduce(0, +) / Double(pts.count)
        let sxy = pts.map { ($0.0 - mx) * ($0.1 - my) }.reduce(0, +), sxx = pts.map { ($0.0 - mx) * ($0.0 - mx) }.reduce(0, +)
        let syy = pts.map { ($0.1 - my) * ($0.1 - my) }.reduce(0, +)
        #expect(sxy / (sxx * syy).squareRoot() > 0.999)
        for label in ["0.01", "0.1", "1"] {
            #expect(Pixels.contains(img, text: label, x: 0..<img.width, y: (area.y.upperBound)..<img.height), "x tick \(label)")
        }
        #expect(throws: TesseraError.self) { try lp.render([PlotSeries("bad", x: [1, 2], y: [1], color: red)]) }
        #expect(throws: TesseraError.self) { try lp.render([PlotSeries("neg", x: [-1, -2], y: [1, 2], color: red)]) }
    }

    @Test func imageGridAndFigure() throws {
        let n = 8
        let ramp = (0..<(n * n)).map { Float($0 % n) }
        var grid = ImageGridPlot(title: "Grid")
        grid.rowLabels = ["first", "second"]
        grid.columnLabels = ["a", "b"]
        grid.cellScale = 4
        grid.colormap = .gray
        let img = try grid.render([[ramp, ramp], [ramp]], rows: n, cols: n)
        preview(img, "grid")
        // two rows of cells: 32-pixel gray ramps from black to white
        let blackCells = Pixels.box(img, { $0 == (0, 0, 0, 255) })
        #expect(blackCells != nil)
        for label in ["first", "second", "a", "b"] {
            #expect(Pixels.contains(img, text: label, x: 0..<img.width, y: 0..<img.height), "'\(label)' missing")
        }
        #expect(throws: TesseraError.self) { try grid.render([[ramp]], rows: n, cols: n + 1) }
        #expect(throws: TesseraError.self) { try grid.render([], rows: n, cols: n) }

        let a = try RasterImage(width: 50, height: 30, fill: (255, 0, 0, 255)), b = try RasterImage(width: 70, height: 20, fill: (0, 0, 255, 255))
        let fig = try PlotFigure.compose(title: "Both", rows: [[a, b], [b]], gap: 10)
        #expect(fig.width == 50 + 10 + 70 + 2 * Chart.pad)
        #expect(Pixels.contains(fig, text: "Both", bold: true, x: 0..<fig.width, y: 0..<40))
        #expect(Pixels.box(fig, { $0 == (255, 0, 0, 255) })?.x.count == 50)
        #expect(throws: TesseraError.self) { try PlotFigure.compose(title: nil, rows: []) }
    }

    @Test func chartRejectsBadInput() throws {
        var c = Chart(title: "t", xAxis: PlotAxis("x"), yAxis: PlotAxis("y", range: 0...1))
        #expect(throws: TesseraError.self) { try c.render { _, _ in } }   // no x range
        c.xAxis.range = 1...1
        #expect(throws: TesseraError.self) { try c.render { _, _ in } }
        c.xAxis.range = 0...1
        c.yAxis.scale = .logarithmic
        #expect(throws: TesseraError.self) { try c.render { _, _ in } }   // log axis through 0
        c.yAxis.scale = .linear
        c.plotWidth = 4
        #expect(throws: TesseraError.self) { try c.render { _, _ in } }
        c.plotWidth = 100
        c.colorBar = ColorBar(colormap: .aurora, range: 0...Double.infinity)
        #expect(throws: TesseraError.self) { try c.render { _, _ in } }
        c.colorBar = nil
        _ = try c.render { _, _ in }
        #expect(throws: TesseraError.self) { try FieldPlot(title: "f").render([1.0, 2], rows: 2, cols: 2) }
    }
}
