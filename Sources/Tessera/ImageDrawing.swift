// Drawing primitives on a RasterImage: rectangles, lines, discs, copies of other pictures.
// Everything clips to the picture; coordinates are pixels, x to the right, y down.

/// An opaque 8-bit sRGB colour.
public typealias RGBColor = (r: UInt8, g: UInt8, b: UInt8)

extension RasterImage {
    /// Fills the rectangle [x, x + w) × [y, y + h) (clipped) with an opaque colour.
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, color c: RGBColor) {
        let x0 = Swift.max(0, x), x1 = Swift.min(width, x + w)
        let y0 = Swift.max(0, y), y1 = Swift.min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        let wd = width
        pixels.withUnsafeMutableBufferPointer { px in
            for yy in y0..<y1 {
                var o = 4 * (yy * wd + x0)
                for _ in x0..<x1 {
                    px[o] = c.r; px[o + 1] = c.g; px[o + 2] = c.b; px[o + 3] = 255
                    o += 4
                }
            }
        }
    }

    /// A one-pixel outline of the rectangle [x, x + w) × [y, y + h) (`thickness` pixels inwards).
    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, color c: RGBColor, thickness t: Int = 1) {
        guard w > 0, h > 0, t > 0 else { return }
        fillRect(x: x, y: y, width: w, height: t, color: c)
        fillRect(x: x, y: y + h - t, width: w, height: t, color: c)
        fillRect(x: x, y: y, width: t, height: h, color: c)
        fillRect(x: x + w - t, y: y, width: t, height: h, color: c)
    }

    /// Copies `other` with its top-left corner at (x, y) (clipped; alpha is copied, not blended).
    public mutating func draw(_ other: RasterImage, x: Int, y: Int) {
        let x0 = Swift.max(0, x), x1 = Swift.min(width, x + other.width)
        let y0 = Swift.max(0, y), y1 = Swift.min(height, y + other.height)
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 {
            let src = 4 * ((yy - y) * other.width + (x0 - x)), dst = 4 * (yy * width + x0)
            pixels.replaceSubrange(dst..<(dst + 4 * (x1 - x0)), with: other.pixels[src..<(src + 4 * (x1 - x0))])
        }
    }

    /// Draws an antialiased filled disc centred at (cx, cy) in pixel coordinates (pixel
    /// (x, y) covers [x, x+1) × [y, y+1)). Parts outside the picture are clipped.
    public mutating func disc(cx: Double, cy: Double, radius: Double, color: RGBColor, opacity: Double = 1) {
        guard radius > 0, cx.isFinite, cy.isFinite else { return }
        let xa = Swift.max(0, Int((cx - radius - 1).rounded(.down))), xb = Swift.min(width - 1, Int((cx + radius + 1).rounded(.up)))
        let ya = Swift.max(0, Int((cy - radius - 1).rounded(.down))), yb = Swift.min(height - 1, Int((cy + radius + 1).rounded(.up)))
        guard xa <= xb, ya <= yb else { return }
        for yy in ya...yb {
            for xx in xa...xb {
                let dx = Double(xx) + 0.5 - cx, dy = Double(yy) + 0.5 - cy
                let cover = Swift.min(Swift.max(radius + 0.5 - (dx * dx + dy * dy).squareRoot(), 0), 1)
                if cover > 0 { blend(x: xx, y: yy, color: color, alpha: cover * opacity) }
            }
        }
    }

    /// Draws an antialiased polyline through `points` (pixel coordinates), `lineWidth` pixels
    /// wide. Overlapping segments do not darken each other: the coverage of the whole line is
    /// gathered first (maximum per pixel) and blended once. Non-finite points break the line.
    public mutating func polyline(_ points: [(x: Double, y: Double)], color: RGBColor, lineWidth: Double = 2,
                                  opacity: Double = 1) {
        guard lineWidth > 0, points.count >= 2 else { return }
        var cover = [Float](repeating: 0, count: width * height)
        var touched: (x0: Int, y0: Int, x1: Int, y1: Int) = (width, height, -1, -1)
        let r = lineWidth / 2
        for k in 1..<points.count {
            let (a, b) = (points[k - 1], points[k])
            guard a.x.isFinite, a.y.isFinite, b.x.isFinite, b.y.isFinite else { continue }
            let xa = Swift.max(0, Int((Swift.min(a.x, b.x) - r - 1).rounded(.down)))
            let xb = Swift.min(width - 1, Int((Swift.max(a.x, b.x) + r + 1).rounded(.up)))
            let ya = Swift.max(0, Int((Swift.min(a.y, b.y) - r - 1).rounded(.down)))
            let yb = Swift.min(height - 1, Int((Swift.max(a.y, b.y) + r + 1).rounded(.up)))
            guard xa <= xb, ya <= yb else { continue }
            touched = (Swift.min(touched.x0, xa), Swift.min(touched.y0, ya), Swift.max(touched.x1, xb), Swift.max(touched.y1, yb))
            let dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy
            for yy in ya...yb {
                for xx in xa...xb {
                    let px = Double(xx) + 0.5, py = Double(yy) + 0.5
                    let t = len2 > 0 ? Swift.min(Swift.max(((px - a.x) * dx + (py - a.y) * dy) / len2, 0), 1) : 0
                    let ex = px - (a.x + t * dx), ey = py - (a.y + t * dy)
                    let c = Float(Swift.min(Swift.max(r + 0.5 - (ex * ex + ey * ey).squareRoot(), 0), 1))
                    let i = yy * width + xx
                    if c > cover[i] { cover[i] = c }
                }
            }
        }
        guard touched.x0 <= touched.x1 else { return }
        for yy in touched.y0...touched.y1 {
            for xx in touched.x0...touched.x1 where cover[yy * width + xx] > 0 {
                blend(x: xx, y: yy, color: color, alpha: Double(cover[yy * width + xx]) * opacity)
            }
        }
    }
}
