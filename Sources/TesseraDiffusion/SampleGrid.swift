import Foundation

/// Pictures of samples for PNG output.
public enum SampleGrid {
    /// A row of samples side by side (gap pixels between them). 3-channel latents are shown as RGB
    /// with [−1, 1] mapped to [0, 255]; other channel counts show channel 0 with the aurora colour map
    /// over the common value range of all samples.
    public static func image(_ samples: [Latent], gap: Int = 4, scale: Int = 1) throws(TesseraError) -> RasterImage {
        guard let first = samples.first else { throw .invalidArgument("sample grid: no samples") }
        guard scale >= 1, scale <= 16, gap >= 0, gap <= 256 else { throw .invalidArgument("sample grid: bad scale \(scale) or gap \(gap)") }
        let h = first.height * scale, w = first.width * scale
        let W = samples.count * w + (samples.count - 1) * gap
        var img = try RasterImage(width: W, height: h)
        var lo = Float.infinity, hi = -Float.infinity
        for s in samples { for v in s.data where v.isFinite { lo = min(lo, v); hi = max(hi, v) } }
        if !(hi > lo) { hi = lo + 1 }
        for (k, s) in samples.enumerated() {
            guard s.height == first.height, s.width == first.width else { throw .invalidArgument("sample grid: samples differ in size") }
            let x0 = k * (w + gap)
            for y in 0..<h { for x in 0..<w {
                let sy = y / scale, sx = x / scale
                var rgb: (UInt8, UInt8, UInt8)
                if s.channels == 3 {
                    func q(_ c: Int) -> UInt8 { let v = (s[c, sy, sx] + 1) * 127.5; return UInt8(max(0, min(255, v.isFinite ? v : 0))) }
                    rgb = (q(0), q(1), q(2))
                } else {
                    let t = Double((s[0, sy, sx] - lo) / (hi - lo))
                    let c = Colormap.aurora.color(at: t.isFinite ? t : 0)
                    rgb = (c.r, c.g, c.b)
                }
                let i = 4 * (y * W + x0 + x)
                img.pixels[i] = rgb.0; img.pixels[i + 1] = rgb.1; img.pixels[i + 2] = rgb.2; img.pixels[i + 3] = 255
            } }
        }
        return img
    }
}
