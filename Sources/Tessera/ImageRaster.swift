// RasterImage: an 8-bit RGBA picture in memory, written and read as PNG through libpng.

import Foundation
internal import CPNG

/// An 8-bit sRGB picture with alpha, rows top to bottom, 4 bytes per pixel (R, G, B, A).
public struct RasterImage: Sendable, Equatable {
    /// Pixels per row, 1 ... `maxSide`.
    public let width: Int
    /// Rows, 1 ... `maxSide`.
    public let height: Int
    /// width × height × 4 bytes, row-major, top row first.
    public var pixels: [UInt8]

    /// Largest side accepted (PNG allows 2³¹−1; this keeps width × height × 4 far from overflow).
    public static let maxSide = 1 << 16

    /// A picture filled with one colour.
    public init(width: Int, height: Int, fill: (r: UInt8, g: UInt8, b: UInt8, a: UInt8) = (255, 255, 255, 255)) throws(TesseraError) {
        try RasterImage.checkSize(width, height)
        self.width = width
        self.height = height
        var px = [UInt8](repeating: 0, count: width * height * 4)
        for i in 0..<(width * height) {
            px[4 * i] = fill.r; px[4 * i + 1] = fill.g; px[4 * i + 2] = fill.b; px[4 * i + 3] = fill.a
        }
        self.pixels = px
    }

    /// A picture from RGBA bytes (width × height × 4 of them).
    public init(width: Int, height: Int, rgba: [UInt8]) throws(TesseraError) {
        try RasterImage.checkSize(width, height)
        guard rgba.count == width * height * 4 else {
            throw .invalidArgument("RasterImage: rgba has \(rgba.count) bytes, expected \(width)×\(height)×4 = \(width * height * 4)")
        }
        self.width = width
        self.height = height
        self.pixels = rgba
    }

    static func checkSize(_ w: Int, _ h: Int) throws(TesseraError) {
        guard w > 0, h > 0 else { throw .invalidArgument("RasterImage: size \(w)×\(h) must be positive") }
        guard w <= maxSide, h <= maxSide else {
            throw .invalidArgument("RasterImage: size \(w)×\(h) exceeds the \(maxSide)-pixel side limit")
        }
    }

    /// The pixel at (x, y) (x to the right, y down). Caller keeps x, y in range.
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8, a: UInt8) {
        get {
            let o = 4 * (y * width + x)
            return (pixels[o], pixels[o + 1], pixels[o + 2], pixels[o + 3])
        }
        set {
            let o = 4 * (y * width + x)
            pixels[o] = newValue.r; pixels[o + 1] = newValue.g; pixels[o + 2] = newValue.b; pixels[o + 3] = newValue.a
        }
    }

    /// Blends colour `c` over pixel (x, y) with opacity `alpha` ∈ [0, 1] (in sRGB space; fine
    /// for antialiased edges). Points outside the picture are ignored.
    public mutating func blend(x: Int, y: Int, color c: (r: UInt8, g: UInt8, b: UInt8), alpha: Double) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        let a = min(alpha, 1)
        let o = 4 * (y * width + x)
        func mix(_ dst: UInt8, _ src: UInt8) -> UInt8 {
            UInt8((Double(dst) * (1 - a) + Double(src) * a).rounded())
        }
        pixels[o] = mix(pixels[o], c.r)
        pixels[o + 1] = mix(pixels[o + 1], c.g)
        pixels[o + 2] = mix(pixels[o + 2], c.b)
        pixels[o + 3] = max(pixels[o + 3], UInt8((a * 255).rounded()))
    }

    // MARK: PNG

    /// The picture encoded as PNG (8-bit RGBA, or RGB when every pixel is opaque).
    public func pngData() throws(TesseraError) -> [UInt8] {
        let opaque = stride(from: 3, to: pixels.count, by: 4).allSatisfy { pixels[$0] == 255 }
        var src = pixels
        var channels: Int32 = 4
        if opaque {
            channels = 3
            src = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<(width * height) {
                src[3 * i] = pixels[4 * i]; src[3 * i + 1] = pixels[4 * i + 1]; src[3 * i + 2] = pixels[4 * i + 2]
            }
        }
        let stride = width * Int(channels)
        var msg = [CChar](repeating: 0, count: 128)
        var size = 0
        let w = UInt32(width), h = UInt32(height)
        var ok = src.withUnsafeBytes { px in
            cpng_encode8(px.baseAddress, w, h, channels, stride, nil, &size, &msg, 128)
        }
        guard ok != 0, size > 0 else { throw .io("PNG encode failed: \(pngMessage(msg))") }
        var out = [UInt8](repeating: 0, count: size)
        ok = src.withUnsafeBytes { px in
            out.withUnsafeMutableBytes { o in
                cpng_encode8(px.baseAddress, w, h, channels, stride, o.baseAddress, &size, &msg, 128)
            }
        }
        guard ok != 0 else { throw .io("PNG encode failed: \(pngMessage(msg))") }
        return Array(out.prefix(size))
    }

    /// Writes the picture as a PNG file (creating or replacing it).
    public func writePNG(to path: String) throws(TesseraError) {
        let bytes = try pngData()
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            throw .io("cannot write PNG '\(path)': \(error.localizedDescription)")
        }
    }

    /// Decodes a PNG of any colour type/bit depth (converted to 8-bit RGBA).
    public init(pngData data: [UInt8]) throws(TesseraError) {
        var msg = [CChar](repeating: 0, count: 128)
        var w: UInt32 = 0, h: UInt32 = 0
        var ok = data.withUnsafeBytes { d in cpng_decode8(d.baseAddress, d.count, 4, nil, &w, &h, &msg, 128) }
        guard ok != 0 else { throw .malformedInput("not a readable PNG: \(pngMessage(msg))") }
        try RasterImage.checkSize(Int(w), Int(h))
        var px = [UInt8](repeating: 0, count: Int(w) * Int(h) * 4)
        ok = data.withUnsafeBytes { d in
            px.withUnsafeMutableBytes { p in cpng_decode8(d.baseAddress, d.count, 4, p.baseAddress, &w, &h, &msg, 128) }
        }
        guard ok != 0 else { throw .malformedInput("not a readable PNG: \(pngMessage(msg))") }
        self.width = Int(w)
        self.height = Int(h)
        self.pixels = px
    }

    /// Reads a PNG file.
    public init(contentsOfPNG path: String) throws(TesseraError) {
        guard let d = FileManager.default.contents(atPath: path) else {
            throw .io("cannot read PNG '\(path)'")
        }
        try self.init(pngData: [UInt8](d))
    }
}

/// The NUL-terminated message libpng left in `buf`.
private func pngMessage(_ buf: [CChar]) -> String {
    let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return bytes.isEmpty ? "libpng gave no message" : String(decoding: bytes, as: UTF8.self)
}

extension RasterImage: CustomStringConvertible {
    /// "RasterImage(W×H)": the size, not the pixels.
    public var description: String { "RasterImage(\(width)×\(height))" }
}
