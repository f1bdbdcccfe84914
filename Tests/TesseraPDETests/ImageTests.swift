import Foundation
import Testing
@testable import Tessera

@Suite("Images: PNG, colormaps, field rendering")
struct ImageTests {
    @Test func pngRoundTripRGBAndRGBA() throws {
        var img = try RasterImage(width: 7, height: 5)
        for y in 0..<5 { for x in 0..<7 { img[x, y] = (UInt8(x * 30), UInt8(y * 50), UInt8(x ^ y), 255) } }
        let png = try img.pngData()
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(try RasterImage(pngData: png) == img)
        img[3, 2] = (1, 2, 3, 128)  // translucent pixel: written as RGBA
        #expect(try RasterImage(pngData: try img.pngData()) == img)
    }

    @Test func pngFileAndBadInput() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tsr-img-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let img = try RasterImage(width: 3, height: 2, fill: (10, 20, 30, 255))
        try img.writePNG(to: path)
        #expect(try RasterImage(contentsOfPNG: path) == img)
        #expect(throws: TesseraError.self) { try RasterImage(pngData: [1, 2, 3]) }
        var truncated = try img.pngData(); truncated.removeLast(20)
        #expect(throws: TesseraError.self) { try RasterImage(pngData: truncated) }
        #expect(throws: TesseraError.self) { try RasterImage(width: 0, height: 3) }
        #expect(throws: TesseraError.self) { try RasterImage(width: 2, height: 2, rgba: [0, 0]) }
        #expect(throws: TesseraError.self) { try RasterImage(contentsOfPNG: "/nonexistent/x.png") }
    }

    @Test func colormapsArePerceptuallyOrdered() {
        for map in [Colormap.aurora, .ember, .gray] {
            let l = map.lookupTable.map { OKLab.lightness(r: $0.r, g: $0.g, b: $0.b) }
            // strictly increasing lightness, in even steps over 16 entries (8-bit rounding
            // makes single steps jitter)
            let steps = zip(l.dropFirst(), l).map { $0 - $1 }
            #expect(steps.allSatisfy { $0 > 0 }, "\(map) lightness not monotone")
            if map != .gray {
                let mean = 16 * (l.last! - l.first!) / 255
                let wide = stride(from: 0, to: 240, by: 16).map { l[$0 + 16] - l[$0] }
                #expect(wide.allSatisfy { abs($0 - mean) < 0.1 * mean }, "\(map) uneven lightness: \(wide)")
            }
        }
        let tide = Colormap.tide.lookupTable.map { OKLab.lightness(r: $0.r, g: $0.g, b: $0.b) }
        for i in 0..<128 { #expect(abs(tide[i] - tide[255 - i]) < 0.01) }  // symmetric lightness
        #expect(tide[127] > 0.95 && tide[0] < 0.4)
        let blue = Colormap.tide.color(at: 0), red = Colormap.tide.color(at: 1)
        #expect(blue.b > blue.r && red.r > red.b)
        let y = Colormap.aurora.color(at: 1)  // viridis-like ends in yellow
        #expect(y.r > 200 && y.g > 200 && y.b < 120)
        #expect(Colormap.aurora.color(at: .nan) == Colormap.nanColor)
    }

    @Test func fieldRendering() throws {
        let f: [Double] = [0, 1, 2, 3, .nan, 5]  // 2 × 3
        let img = try RasterImage(field: f, rows: 2, cols: 3, colormap: .gray, scale: 2)
        #expect(img.width == 6 && img.height == 4)
        #expect(img[0, 0].r == 0 && img[1, 1].r == 0)
        #expect(img[5, 3].r == 255)  // max value, bottom-right block
        #expect(img[2, 2] == (255, 0, 255, 255))  // NaN
        let flipped = try RasterImage(field: f, rows: 2, cols: 3, colormap: .gray, flipVertical: true)
        #expect(flipped[0, 1].r == 0 && flipped[2, 0].r == 255)
        let sym = try RasterImage(field: [-1.0, 0, 2], rows: 1, cols: 3, colormap: .gray, range: .symmetric)
        #expect(sym[1, 0].r == 128 || sym[1, 0].r == 127)
        let const = try RasterImage(field: [Float](repeating: 3, count: 4), rows: 2, cols: 2)
        #expect(const[0, 0].r == Colormap.aurora.color(at: 0.5).r)
        #expect(throws: TesseraError.self) { try RasterImage(field: f, rows: 4, cols: 2) }
        #expect(throws: TesseraError.self) { try RasterImage(field: f, rows: 2, cols: 3, scale: 0) }
        #expect(throws: TesseraError.self) { try RasterImage(field: f, rows: 2, cols: 3, range: .fixed(1, 1)) }
        #expect(throws: TesseraError.self) { try RasterImage(field: f, rows: 2, cols: 3, scale: 40000) }
        let bar = try RasterImage.colorbar(.ember, width: 64, height: 4)
        let stacked = try img.stacked(above: bar)
        #expect(stacked.width == 64 && stacked.height == 4 + 4 + 4)
    }
}
