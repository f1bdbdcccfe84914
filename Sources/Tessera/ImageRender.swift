// Rendering numbers to pictures: 2-D fields as bare colour-mapped rasters (one value per
// block of pixels, no frame or text; `FieldPlot` puts them in a titled chart with a colour bar).

import Foundation

/// How field values map to the colour map's [0, 1].
public enum ColorRange: Sendable, Equatable {
    /// [min, max] of the finite values.
    case automatic
    /// [−m, m] with m = max |value| over the finite values (for diverging maps).
    case symmetric
    /// A fixed [low, high] (values outside are clamped to the end colours).
    case fixed(Double, Double)

    /// The resolved [low, high] for the given finite min/max/max-abs; never an empty interval.
    func resolve(min lo: Double, max hi: Double, maxAbs: Double) -> (Double, Double) {
        var (a, b): (Double, Double)
        switch self {
        case .automatic: (a, b) = (lo, hi)
        case .symmetric: (a, b) = (-maxAbs, maxAbs)
        case .fixed(let l, let h): (a, b) = (l, h)
        }
        if !(a.isFinite && b.isFinite) { (a, b) = (0, 1) }
        if b <= a { (a, b) = (a - 0.5, a + 0.5) }  // constant field: the middle colour
        return (a, b)
    }
}

extension RasterImage {
    /// Renders a 2-D field (row-major, `rows × cols`, row `r` starting at `r * rowStride`) with
    /// a colour map. Field row 0 is the top of the picture unless `flipVertical` (then row 0 is
    /// the bottom, as in a y-up physics plot). Each value becomes a `scale × scale` block.
    /// NaN/∞ values get `Colormap.nanColor`.
    /// Errors: `.invalidArgument` for non-positive sizes or scale, a stride < cols, a buffer
    /// shorter than the described field, or a picture over `maxSide`; for `.fixed(lo, hi)`
    /// with non-finite or reversed bounds.
    public init<T: BinaryFloatingPoint>(field: UnsafeBufferPointer<T>, rows: Int, cols: Int, rowStride: Int? = nil,
                                        colormap: Colormap = .aurora, range: ColorRange = .automatic,
                                        scale: Int = 1, flipVertical: Bool = false) throws(TesseraError) {
        let ld = rowStride ?? cols
        guard scale > 0 else { throw .invalidArgument("field image: scale \(scale) must be positive") }
        let (a, b) = try fieldColorRange(field, rows: rows, cols: cols, rowStride: ld, range: range, what: "field image")
        guard rows <= RasterImage.maxSide / scale, cols <= RasterImage.maxSide / scale else {
            throw .invalidArgument("field image: \(rows)×\(cols) at scale \(scale) exceeds \(RasterImage.maxSide) pixels per side")
        }
        let lut = colormap.lookupTable
        let inv = 255 / (b - a)
        try self.init(width: cols * scale, height: rows * scale)
        let w = width
        pixels.withUnsafeMutableBufferPointer { px in
            for r in 0..<rows {
                let yr = flipVertical ? rows - 1 - r : r
                for c in 0..<cols {
                    let v = Double(field[r * ld + c])
                    let col: (r: UInt8, g: UInt8, b: UInt8)
                    if v.isFinite {
                        col = lut[Int((Swift.min(Swift.max((v - a) * inv, 0), 255)).rounded())]
                    } else {
                        col = Colormap.nanColor
                    }
                    for dy in 0..<scale {
                        var o = 4 * ((yr * scale + dy) * w + c * scale)
                        for _ in 0..<scale {
                            px[o] = col.r; px[o + 1] = col.g; px[o + 2] = col.b; px[o + 3] = 255
                            o += 4
                        }
                    }
                }
            }
        }
    }

    /// Renders a 2-D field held in an array (row-major `rows × cols`). See the buffer form.
    public init<T: BinaryFloatingPoint>(field: [T], rows: Int, cols: Int, colormap: Colormap = .aurora,
                                        range: ColorRange = .automatic, scale: Int = 1,
                                        flipVertical: Bool = false) throws(TesseraError) {
        guard rows > 0, cols > 0, rows.multipliedReportingOverflow(by: cols) == (rows * cols, false),
              field.count == rows * cols else {
            throw .invalidArgument("field image: array has \(field.count) values, expected rows × cols = \(rows) × \(cols)")
        }
        let r: Result<RasterImage, TesseraError> = field.withUnsafeBufferPointer { buf in
            do { return .success(try RasterImage(field: buf, rows: rows, cols: cols, colormap: colormap, range: range,
                                                 scale: scale, flipVertical: flipVertical)) }
            catch let e as TesseraError { return .failure(e) }
            catch { return .failure(.internalError("\(error)")) }
        }
        self = try r.get()
    }

    /// A horizontal colour bar of the map (left = low), e.g. to place under a field picture.
    public static func colorbar(_ colormap: Colormap, width: Int = 256, height: Int = 16) throws(TesseraError) -> RasterImage {
        var img = try RasterImage(width: width, height: height)
        for x in 0..<width {
            let c = colormap.color(at: width == 1 ? 0.5 : Double(x) / Double(width - 1))
            for y in 0..<height { img[x, y] = (c.r, c.g, c.b, 255) }
        }
        return img
    }

    /// This picture with `other` placed below it (widths may differ; the gap is `background`).
    public func stacked(above other: RasterImage, gap: Int = 4,
                        background: (r: UInt8, g: UInt8, b: UInt8, a: UInt8) = (255, 255, 255, 255)) throws(TesseraError) -> RasterImage {
        var out = try RasterImage(width: Swift.max(width, other.width), height: height + gap + other.height, fill: background)
        for y in 0..<height { for x in 0..<width { out[x, y] = self[x, y] } }
        for y in 0..<other.height { for x in 0..<other.width { out[x, height + gap + y] = other[x, y] } }
        return out
    }
}

/// Checks a row-major field (`rows × cols`, row `r` at `r * rowStride`) against its buffer and
/// resolves `range` over its finite values: the value → colour range of a field picture.
/// Errors: `.invalidArgument` for non-positive sizes, a stride < cols, a short buffer, a fixed
/// range that is not finite with low < high (`what` names the caller).
func fieldColorRange<T: BinaryFloatingPoint>(_ field: UnsafeBufferPointer<T>, rows: Int, cols: Int, rowStride ld: Int,
                                             range: ColorRange, what: String) throws(TesseraError) -> (Double, Double) {
    guard rows > 0, cols > 0, ld >= cols else {
        throw .invalidArgument("\(what): rows (\(rows)), cols (\(cols)) must be positive and rowStride (\(ld)) ≥ cols")
    }
    let (need, o1) = (rows - 1).multipliedReportingOverflow(by: ld)
    guard !o1, need + cols <= field.count else {
        throw .invalidArgument("\(what): buffer has \(field.count) values, a \(rows)×\(cols) field with row stride \(ld) needs \(need + cols)")
    }
    if case .fixed(let l, let h) = range, !(l.isFinite && h.isFinite && l < h) {
        throw .invalidArgument("\(what): fixed range [\(l), \(h)] must be finite with low < high")
    }
    var lo = Double.infinity, hi = -Double.infinity
    for r in 0..<rows {
        for c in 0..<cols {
            let v = Double(field[r * ld + c])
            if v.isFinite { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
        }
    }
    return range.resolve(min: lo, max: hi, maxAbs: Swift.max(abs(lo), abs(hi)))
}
