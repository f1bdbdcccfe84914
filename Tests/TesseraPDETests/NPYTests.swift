import Foundation
import Testing
import TesseraTestSupport
@testable import Tessera

@Suite("NPY read/write and fuzzing")
struct NPYTests {
    /// A file as NumPy writes it: np.save('a.npy', np.arange(6, dtype='<i4').reshape(2, 3)).
    static let numpyBytes: [UInt8] = {
        var h = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }"
        h += String(repeating: " ", count: 128 - 10 - h.utf8.count - 1) + "\n"
        var b: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.utf8.count), 0] + Array(h.utf8)
        for v: Int32 in 0..<6 { withUnsafeBytes(of: v.littleEndian) { b += $0 } }
        return b
    }()

    @Test func readsNumPyFile() throws {
        let a = try NPYArray(npyData: Self.numpyBytes)
        #expect(a.shape == [2, 3] && a.scalarType == .int32)
        #expect(try a.elements(as: Int32.self) == [0, 1, 2, 3, 4, 5])
        #expect(a.doubles() == [0, 1, 2, 3, 4, 5])
        #expect(throws: TesseraError.self) { try a.elements(as: Double.self) }
        #expect(a.encoded() == Self.numpyBytes)  // byte-identical to NumPy's own layout
    }

    @Test func roundTripsEveryTypeAndShape() throws {
        let vals: [Double] = (0..<24).map { Double($0) * 0.5 - 3 }
        for shape in [[24], [4, 6], [2, 3, 4], [1, 1, 24], [0, 3], []] {
            let n = shape.reduce(1, *)
            let a = try NPYArray(shape: shape, elements: Array(vals.prefix(n)))
            let enc = a.encoded()
            #expect(enc.count % 64 == (n * 8) % 64)  // data start 64-aligned
            let b = try NPYArray(npyData: enc)
            #expect(b == a)
            #expect(try b.elements(as: Double.self) == Array(vals.prefix(n)))
        }
        let f = try NPYArray(shape: [3], elements: [Float(1.5), -2, 3])
        #expect(try NPYArray(npyData: f.encoded()).elements(as: Float.self) == [1.5, -2, 3])
        let u = try NPYArray(shape: [2], elements: [UInt8(7), 255])
        #expect(String(decoding: u.encoded()[10..<40], as: UTF8.self).contains("'|u1'"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tsr-npy-\(UUID().uuidString).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try f.write(to: path)
        #expect(try NPYArray(contentsOf: path) == f)
    }

    @Test func bigEndianFortranVersion2AndHalf() throws {
        func file(_ header: String, _ data: [UInt8], version: UInt8 = 1) -> [UInt8] {
            let h = Array(header.utf8) + [0x0A]
            var b: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
            if version == 1 { b += [UInt8(h.count & 255), UInt8(h.count >> 8)] }
            else { b += [UInt8(h.count & 255), UInt8(h.count >> 8), 0, 0] }
            return b + h + data
        }
        let be = file("{'descr':'>i2','fortran_order':False,'shape':(2,)}", [0x01, 0x02, 0xFF, 0xFE])
        #expect(try NPYArray(npyData: be).elements(as: Int16.self) == [0x0102, -2])
        // Fortran order 2×3: memory holds columns [0,3],[1,4],[2,5]
        let fo = file("{\"shape\": (2, 3), \"fortran_order\": True, \"descr\": \"|u1\"}", [0, 3, 1, 4, 2, 5], version: 2)
        #expect(try NPYArray(npyData: fo).elements(as: UInt8.self) == [0, 1, 2, 3, 4, 5])
        let half = file("{'descr':'<f2','fortran_order':False,'shape':(3,)}", [0x00, 0x3C, 0x00, 0xC0, 0x00, 0x35])
        #expect(try NPYArray(npyData: half).doubles() == [1, -2, 0.3125])
    }

    @Test func malformedHeadersThrow() {
        func file(_ header: String, data: Int = 8) -> [UInt8] {
            let h = Array(header.utf8)
            return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(h.count & 255), UInt8(h.count >> 8)] + h
                + [UInt8](repeating: 0, count: data)
        }
        let bad: [[UInt8]] = [
            [], [0x93, 0x4E], Array("NOTNUMPY0123".utf8),
            [0x93] + Array("NUMPY".utf8) + [9, 0, 0, 0],                                  // version 9
            [0x93] + Array("NUMPY".utf8) + [1, 0, 0xFF, 0xFF] + [0x7B],                    // header past end
            file("{'descr': '<f8', 'fortran_order': False}"),                             // no shape
            file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}"),     // extra key
            file("{'descr': '<c16', 'fortran_order': False, 'shape': (1,)}"),             // complex
            file("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}"),               // object
            file("{'descr': '|f8', 'fortran_order': False, 'shape': (1,)}"),              // no byte order
            file("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,)}"),
            file("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}"),
            file("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}"),             // short data
            file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", data: 9),    // long data
            file("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
            file("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296)}"),
            file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)} junk"),
            file("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,)}"),
            file("{'descr': '<f8, 'fortran_order': False, 'shape': (1,)}"),
            file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,"),
        ]
        for (i, b) in bad.enumerated() {
            #expect(throws: TesseraError.self, "case \(i)") { try NPYArray(npyData: b) }
        }
    }

    @Test func fuzzedFilesNeverTrap() throws {
        var rng = SplitMix(seed: 42)
        let good = try NPYArray(shape: [3, 5], elements: (0..<15).map(Double.init)).encoded()
        var accepted = 0
        for _ in 0..<3000 {
            var b = good
            let kind = rng.next() % 4
            if kind == 0 {  // flip a few bytes in the header
                for _ in 0..<(1 + Int(rng.next() % 4)) { b[Int(rng.next() % 128)] = UInt8(truncatingIfNeeded: rng.next()) }
            } else if kind == 1 {  // truncate
                b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
            } else if kind == 2 {  // random printable header chars
                for j in 10..<Int(10 + rng.next() % 60) { b[j] = UInt8(32 + rng.next() % 95) }
            } else {  // pure noise after the magic
                b = Array(b.prefix(8)) + (0..<Int(rng.next() % 200)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            if let a = try? NPYArray(npyData: b) {
                accepted += 1
                #expect(a.bytes.count == a.count * a.scalarType.size)
            }
        }
        #expect(accepted < 3000)
    }
}

/// Deterministic test RNG (TesseraTestSupport's splitmix64) with a uniform draw.
struct SplitMix {
    var mix: SplitMix64
    init(seed: UInt64) { mix = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { mix.next() }
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
}
