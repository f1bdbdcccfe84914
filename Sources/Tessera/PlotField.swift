// FieldPlot: a 2-D field as a colour-mapped heat map inside a Chart: title, axes in physical
// or grid coordinates, and a colour bar with the value range and the quantity's name.

/// A heat-map picture of a 2-D field (row-major `rows × cols`).
///
/// The axes' ranges are the extent the field covers: column 0 starts at `xAxis.range.lower`,
/// the last column ends at `.upper` (likewise rows on `yAxis`); without ranges the axes show
/// grid indices. The field is scaled to the data area: enlarged by pixel replication, or reduced
/// by averaging the values that fall in each picture pixel.
public struct FieldPlot: Sendable {
    /// Title above the plot; empty: none.
    public var title: String
    /// A second, lighter line under the title; nil: none.
    public var subtitle: String?
    /// Horizontal axis: caption, and the extent of the columns (nil range: grid indices).
    public var xAxis: PlotAxis
    /// Vertical axis: caption, and the extent of the rows (nil range: grid indices).
    public var yAxis: PlotAxis
    /// Caption of the colour bar: the quantity and its units.
    public var valueLabel: String
    /// Colour map of the values.
    public var colormap: Colormap
    /// The values mapped to the colour map's ends: automatic, symmetric about 0, or fixed.
    public var range: ColorRange
    /// Field row 0 at the bottom of the picture (y up, as in physics plots) or at the top.
    public var rowZeroAtBottom = true
    /// Size of the data area; nil: the field's size times the largest whole factor that keeps
    /// the longer side within `FieldPlot.defaultSide`, or reduced to that side when larger.
    public var plotWidth: Int?
    /// Height of the data area in pixels; nil: chosen as for `plotWidth` (one side given alone
    /// keeps the field's aspect ratio).
    public var plotHeight: Int?
    /// Font scale of all text, 1 ... 8 (2: capitals 14 pixels tall).
    public var textScale = 2

    /// Longer side of the data area chosen when no size is given.
    public static let defaultSide = 560

    /// A field plot; axes default to grid indices, the range to the field's own min and max.
    public init(title: String, xAxis: PlotAxis = PlotAxis("column (grid index)"), yAxis: PlotAxis = PlotAxis("row (grid index)"),
                valueLabel: String = "value", colormap: Colormap = .aurora, range: ColorRange = .automatic) {
        self.title = title
        self.xAxis = xAxis
        self.yAxis = yAxis
        self.valueLabel = valueLabel
        self.colormap = colormap
        self.range = range
    }

    /// Renders the field (row `r` starts at `r * rowStride`). Non-finite values are drawn in
    /// `Colormap.nanColor`. Errors: `.invalidArgument` as for `RasterImage(field:...)`, and for
    /// bad axis ranges or sizes (see `Chart.render`).
    public func render<T: BinaryFloatingPoint>(_ field: UnsafeBufferPointer<T>, rows: Int, cols: Int,
                                               rowStride: Int? = nil) throws(TesseraError) -> RasterImage {
        let ld = rowStride ?? cols
        let (a, b) = try fieldColorRange(field, rows: rows, cols: cols, rowStride: ld, range: range, what: "field plot")
        let (w, h) = dataAreaSize(rows: rows, cols: cols)
        var chart = Chart(title: title, xAxis: xAxis, yAxis: yAxis, plotWidth: w, plotHeight: h)
        chart.xAxis.range = xAxis.range ?? 0...Double(cols)
        chart.yAxis.range = yAxis.range ?? 0...Double(rows)
        chart.subtitle = subtitle
        chart.colorBar = ColorBar(colormap: colormap, range: a...b, label: valueLabel)
        chart.showGrid = false
        chart.textScale = textScale
        let lut = colormap.lookupTable
        let inv = 255 / (b - a)
        let flip = rowZeroAtBottom
        return try chart.render { img, area in
            for j in 0..<area.height {
                // picture row j shows field rows [r0, r1): the block under it (at least one row)
                let jj = flip ? area.height - 1 - j : j
                let r0 = jj * rows / area.height, r1 = Swift.max(r0 + 1, (jj + 1) * rows / area.height)
                for i in 0..<area.width {
                    let c0 = i * cols / area.width, c1 = Swift.max(c0 + 1, (i + 1) * cols / area.width)
                    var sum = 0.0, n = 0
                    for r in r0..<r1 {
                        for c in c0..<c1 {
                            let v = Double(field[r * ld + c])
                            if v.isFinite { sum += v; n += 1 }
                        }
                    }
                    let col = n == 0 ? Colormap.nanColor
                        : lut[Int(Swift.min(Swift.max((sum / Double(n) - a) * inv, 0), 255).rounded())]
                    img[i, j] = (col.r, col.g, col.b, 255)
                }
            }
        }
    }

    /// Renders a field held in an array (row-major `rows × cols`). See the buffer form.
    public func render<T: BinaryFloatingPoint>(_ field: [T], rows: Int, cols: Int) throws(TesseraError) -> RasterImage {
        guard rows > 0, cols > 0, rows.multipliedReportingOverflow(by: cols) == (rows * cols, false),
              field.count == rows * cols else {
            throw .invalidArgument("field plot: array has \(field.count) values, expected rows × cols = \(rows) × \(cols)")
        }
        let r: Result<RasterImage, TesseraError> = field.withUnsafeBufferPointer { buf in
            do { return .success(try render(buf, rows: rows, cols: cols)) }
            catch let e as TesseraError { return .failure(e) }
            catch { return .failure(.internalError("\(error)")) }
        }
        return try r.get()
    }

    /// The data area's size for a `rows × cols` field (see `plotWidth`).
    func dataAreaSize(rows: Int, cols: Int) -> (Int, Int) {
        if let w = plotWidth, let h = plotHeight { return (w, h) }
        let side = FieldPlot.defaultSide, long = Swift.max(rows, cols)
        var w: Int, h: Int
        if long <= side {
            let k = Swift.max(1, side / long)
            (w, h) = (cols * k, rows * k)
        } else {
            (w, h) = (Swift.max(16, cols * side / long), Swift.max(16, rows * side / long))
        }
        if let pw = plotWidth { h = Swift.max(16, h * pw / w); w = pw }
        if let ph = plotHeight { w = Swift.max(16, w * ph / h); h = ph }
        return (Swift.max(16, w), Swift.max(16, h))
    }
}
