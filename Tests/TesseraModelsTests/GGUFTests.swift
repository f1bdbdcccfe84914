import Foundation
import Testing
@testable import TesseraModels

@Suite("TesseraModels GGUF")
struct GGUFTests {
    static func sampleImage(alignment: Int = 32) throws -> [UInt8] {
        var w = GGUFWriter(alignment: alignment)
        w.set("general.architecture", .string("llama"))
        w.set("u8", .uint8(200)); w.set("i8", .int8(-5)); w.set("u16", .uint16(60000)); w.set("i16", .int16(-300))
        w.set("u32", .uint32(4_000_000_000)); w.set("i32", .int32(-70000)); w.set("f32", .float32(1.5))
        w.set("bool", .bool(true)); w.set("str", .string("héllo ✓"))
        w.set("u64", .uint64(1 << 40)); w.set("i64", .int64(-(1 << 40))); w.set("f64", .float64(-2.25))
        w.set("arr", .array(.int32, [.int32(1), .int32(-2), .int32(3)]))
        w.set("empty", .array(.string, []))
        w.set("nested", .array(.array, [.array(.string, [.string("a"), .string("b")]), .array(.string, [])]))
        var rng = TestRNG(7)
        for (i, t) in GGMLType.supported.enumerated() {
            let k = t.blockLayout!.elements == 256 ? 256 : 64
            try w.addTensor(name: "t\(i)", shape: [k, 3], type: t, values: (0..<(3 * k)).map { _ in rng.uniform() })
        }
        return w.serialize()
    }

    @Test func roundTripsEveryValueTypeAndTensor() throws {
        for alignment in [32, 64] {
            let image = try GGUFTests.sampleImage(alignment: alignment)
            let f = try GGUFFile(bytes: image)
            #expect(f.version == 3)
            #expect(f.alignment == alignment)
            #expect(f["u8"] == .uint8(200))
            #expect(f["i8"] == .int8(-5))
            #expect(f["u16"] == .uint16(60000))
            #expect(f["i16"] == .int16(-300))
            #expect(f["u32"] == .uint32(4_000_000_000))
            #expect(f["i32"] == .int32(-70000))
            #expect(f["f32"] == .float32(1.5))
            #expect(f["bool"] == .bool(true))
            #expect(f["str"] == .string("héllo ✓"))
            #expect(f["u64"] == .uint64(1 << 40))
            #expect(f["i64"] == .int64(-(1 << 40)))
            #expect(f["f64"] == .float64(-2.25))
            #expect(try f.intArray("arr") == [1, -2, 3])
            #expect(f["empty"] == .array(.string, []))
            #expect(f["nested"] == .array(.array, [.array(.string, [.string("a"), .string("b")]), .array(.string, [])]))
            #expect(f.metadataKeys.first == "general.architecture")
            #expect(f.tensors.count == GGMLType.supported.count)
            for (i, t) in GGMLType.supported.enumerated() {
                let info = try #require(f.tensor(named: "t\(i)"))
                #expect(info.type == t)
                #expect(info.offset % alignment == 0)
                #expect((f.dataOffset + info.offset) % alignment == 0)
                #expect(info.rowCount == 3)
            }
            // through a file and mmap too
            let path = try temporaryFile(image, name: "roundtrip")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let g = try GGUFFile(path: path)
            #expect(g.metadata == f.metadata)
            #expect(g.tensors == f.tensors)
        }
    }

    /// GGUF type codes meet Tessera's formats in one place (`GGMLType.quantFormat`, the C table).
    @Test func typeCodesMapToQuantFormatsOnce() {
        #expect(GGMLType.supported == [.f32, .f16, .bf16, .q4_0, .q4_1, .q8_0, .q6_K,
                                       .q5_0, .q5_1, .q4_K, .q5_K, .q3_K, .q2_K, .iq4_nl])
        for t in GGMLType.supported {
            let f = t.quantFormat!
            #expect(GGMLType(f) == t)
            #expect(t.blockLayout! == (f.blockElements, f.blockBytes))
            #expect(t.isSupported)
        }
        #expect(GGMLType.q6_K.name == "Q6_K" && GGMLType.bf16.name == "BF16" && GGMLType.q4_K.name == "Q4_K")
        // read past, not computed: a layout to size the tensor, no format
        for t in [GGMLType.q8_1, .q8_K, .i32] {
            #expect(t.quantFormat == nil && !t.isSupported && t.blockLayout != nil)
        }
        #expect(GGMLType(rawValue: 99).blockLayout == nil)
        #expect(GGMLType(QuantFormat.q4g128f16) == nil)  // Tessera-only format: no GGUF code
    }

    @Test func quantizerRoundTripErrorIsBounded() throws {
        var rng = TestRNG(3)
        let v = (0..<(4 * 256)).map { _ in rng.uniform() }
        // max error relative to the block range: 4-bit ~1/15, 6-bit ~1/63, 8-bit ~1/254, halves
        let bound: [GGMLType: Float] = [.f32: 0, .f16: 1e-3, .bf16: 8e-3, .q4_0: 0.15, .q4_1: 0.07, .q8_0: 0.01, .q6_K: 0.05,
                                        .q5_0: 0.07, .q5_1: 0.04, .q4_K: 0.1, .q5_K: 0.06, .q3_K: 0.3, .q2_K: 0.4,
                                        .iq4_nl: 0.13]
        for t in GGMLType.supported {
            let enc = try Quantizer.quantize(v, rowLength: 256, to: t)
            #expect(enc.count == 4 * t.rowBytes(256)!)
            let dec = try enc.withUnsafeBytes { try Quantizer.dequantize($0, type: t, rowLength: 256) }
            let err = zip(v, dec).map { abs($0 - $1) }.max()!
            #expect(err <= bound[t]!, "\(t): max error \(err)")
        }
    }

    /// The encoder once trapped on rows of subnormals (1/scale = inf converted to Int) and wrote
    /// infinite fp16 scales for huge values; now: a zero block, or a thrown error.
    @Test func quantizerEdgeCasesNeverTrap() throws {
        for t in GGMLType.supported where t != .f32 {
            let sub = [Float](repeating: .leastNonzeroMagnitude * 3, count: 256)
            let enc = try Quantizer.quantize(sub, rowLength: 256, to: t)
            let dec = try enc.withUnsafeBytes { try Quantizer.dequantize($0, type: t, rowLength: 256) }
            #expect(dec.allSatisfy { $0.isFinite && abs($0) <= 1e-30 }, "\(t)")
            var huge = [Float](repeating: 1, count: 256); huge[5] = 3e38
            do {
                let e = try Quantizer.quantize(huge, rowLength: 256, to: t)
                let d = try e.withUnsafeBytes { try Quantizer.dequantize($0, type: t, rowLength: 256) }
                #expect(t == .bf16 && d.allSatisfy(\.isFinite), "\(t) accepted a value its scale cannot hold")
            } catch { #expect("\(error)".contains("row 0"), "\(t): \(error)") }
            var nan = [Float](repeating: 1, count: 256); nan[7] = .nan
            #expect(throws: TesseraError.self, "\(t)") { _ = try Quantizer.quantize(nan, rowLength: 256, to: t) }
        }
    }

    @Test func decodesHandBuiltBlocks() throws {
        // Q4_0: d = 0.5, byte i = (lo = i % 16, hi = 15 - i % 16) -> x_i = 0.5 (lo - 8), x_{i+16} = 0.5 (hi - 8)
        var q40: [UInt8] = [0x00, 0x38]   // fp16 0.5
        for i in 0..<16 { q40.append(UInt8(i % 16) | UInt8(15 - i % 16) << 4) }
        let a = try q40.withUnsafeBytes { try Quantizer.dequantize($0, type: .q4_0, rowLength: 32) }
        for i in 0..<16 {
            #expect(a[i] == 0.5 * Float(i - 8))
            #expect(a[i + 16] == 0.5 * Float(15 - i - 8))
        }
        // Q4_1: d = 2, m = -1 -> x = 2 nib - 1
        var q41: [UInt8] = [0x00, 0x40, 0x00, 0xBC]
        for i in 0..<16 { q41.append(UInt8(i) | UInt8(i) << 4) }
        let b = try q41.withUnsafeBytes { try Quantizer.dequantize($0, type: .q4_1, rowLength: 32) }
        for i in 0..<16 { #expect(b[i] == 2 * Float(i) - 1 && b[i + 16] == b[i]) }
        // Q8_0: d = 0.25, q = i - 16
        var q80: [UInt8] = [0x00, 0x34]
        for i in 0..<32 { q80.append(UInt8(bitPattern: Int8(i - 16))) }
        let c = try q80.withUnsafeBytes { try Quantizer.dequantize($0, type: .q8_0, rowLength: 32) }
        for i in 0..<32 { #expect(c[i] == 0.25 * Float(i - 16)) }
        // Q6_K: every L = 33 (q = 1), scales[j] = j + 1, d = 1 -> x_i = (i/16 + 1)
        var q6 = [UInt8](repeating: 0, count: 210)
        for l in 0..<128 { q6[l] = 0x11 }            // low nibbles of 33 = 1
        for l in 0..<64 { q6[128 + l] = 0b1010_1010 } // high 2 bits of 33 = 2
        for j in 0..<16 { q6[192 + j] = UInt8(j + 1) }
        q6[208] = 0x00; q6[209] = 0x3C               // fp16 1.0
        let d = try q6.withUnsafeBytes { try Quantizer.dequantize($0, type: .q6_K, rowLength: 256) }
        for i in 0..<256 { #expect(d[i] == Float(i / 16 + 1)) }
    }

    func expectRejected(_ bytes: [UInt8], _ fragment: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try GGUFFile(bytes: bytes)
            Issue.record("accepted a bad file", sourceLocation: sourceLocation)
        } catch {
            if let fragment {
                #expect(error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test func rejectsBadHeaders() throws {
        let good = try GGUFTests.sampleImage()
        var bad = good; bad[0] = UInt8(ascii: "X")
        expectRejected(bad, "not a GGUF file")
        bad = good; bad[4] = 1
        expectRejected(bad, "version 1")
        bad = good; bad[4] = 9
        expectRejected(bad, "unknown version 9")
        expectRejected([], "truncated")
        expectRejected(Array(good.prefix(10)))
        // huge tensor count / metadata count
        bad = good; for i in 8..<16 { bad[i] = 0xFF }
        expectRejected(bad, "tensor count")
        bad = good; for i in 16..<24 { bad[i] = 0x7F }
        expectRejected(bad, "metadata count")
    }

    /// A minimal header + one metadata entry whose bytes we write by hand.
    static func handMade(_ body: [UInt8], tensors: UInt64 = 0, kvs: UInt64 = 1) -> [UInt8] {
        var out: [UInt8] = Array("GGUF".utf8)
        withUnsafeBytes(of: UInt32(3).littleEndian) { out += $0 }
        withUnsafeBytes(of: tensors.littleEndian) { out += $0 }
        withUnsafeBytes(of: kvs.littleEndian) { out += $0 }
        return out + body + [UInt8](repeating: 0, count: 64)
    }
    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

    @Test func rejectsHostileMetadata() {
        typealias G = GGUFTests
        // absurd string length
        expectRejected(G.handMade(G.le(UInt64(1) << 60) + Array("key".utf8)), "larger than the file allows")
        // unknown value type
        expectRejected(G.handMade(G.str("k") + G.le(UInt32(99))), "unknown metadata value type 99")
        // array with an absurd count (no allocation of that size may happen)
        expectRejected(G.handMade(G.str("k") + G.le(UInt32(9)) + G.le(UInt32(4)) + G.le(UInt64(1) << 40)), "larger than the file allows")
        expectRejected(G.handMade(G.str("k") + G.le(UInt32(9)) + G.le(UInt32(10)) + G.le(UInt64(50))), "claims 50 elements")
        // unknown array element type
        expectRejected(G.handMade(G.str("k") + G.le(UInt32(9)) + G.le(UInt32(77)) + G.le(UInt64(1))), "unknown array element type")
        // bool that is not 0/1
        expectRejected(G.handMade(G.str("k") + G.le(UInt32(7)) + [5]), "bool value")
        // duplicate key
        let kv = G.str("k") + G.le(UInt32(0)) + [1]
        expectRejected(G.handMade(kv + kv, kvs: 2), "duplicate metadata key")
        // deeply nested arrays
        var nest = G.str("k") + G.le(UInt32(9))
        for _ in 0..<20 { nest += G.le(UInt32(9)) + G.le(UInt64(1)) }
        expectRejected(G.handMade(nest), "nested deeper")
        // bad alignment value
        expectRejected(G.handMade(G.str("general.alignment") + G.le(UInt32(4)) + G.le(UInt32(48))), "power of two")
    }

    /// A bool array element that is not 0/1 is refused like a bool value.
    @Test func rejectsBadBoolArrayElement() {
        typealias G = GGUFTests
        expectRejected(G.handMade(G.str("k") + G.le(UInt32(9)) + G.le(UInt32(7)) + G.le(UInt64(3)) + [1, 0, 2]), "bool element 2")
    }

    /// Arrays of every scalar type decode element by element as written.
    @Test func scalarArraysRoundTripCompactly() throws {
        let samples: [GGUFValue] = [.uint8(250), .int8(-7), .uint16(65000), .int16(-32000), .uint32(4_000_000_001),
                                    .int32(-5), .float32(-0.5), .bool(true), .uint64(1 << 63), .int64(-3), .float64(1e300)]
        var w = GGUFWriter()
        for v in samples { w.set("a\(v.type)", .array(v.type, [v, v, v])) }
        let f = try GGUFFile(bytes: w.serialize())
        for v in samples {
            let a = try #require(f["a\(v.type)"]?.arrayValue)
            #expect(a.elementType == v.type)
            #expect(Array(a) == [v, v, v])
        }
    }

    /// Metadata memory stays O(file size): a 64 MB file holding one uint8 array of 64 M elements
    /// once asked for 24 bytes per element (1.5 GB; 3.84 GB for the fuzzer's 160 MB file).
    @Test func largeScalarArrayCostsAboutItsFileBytes() throws {
        typealias G = GGUFTests
        let n = 64 << 20
        var image = [UInt8](); image.reserveCapacity(n + 128)
        image += G.le(UInt32(0x4655_4747)) + G.le(UInt32(3)) + G.le(UInt64(0)) + G.le(UInt64(1))
        image += G.str("big") + G.le(UInt32(9)) + G.le(UInt32(0)) + G.le(UInt64(n))
        image += [UInt8](repeating: 7, count: n) + [UInt8](repeating: 0, count: 64)   // + room for the aligned data section
        let path = try temporaryFile(image, name: "bigarray")
        defer { try? FileManager.default.removeItem(atPath: path) }
        image = []
        // anonymous resident memory (the mapped file's own pages are RssFile, not counted)
        func anonBytes() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") })
            return try #require(Int(line.split(separator: " ")[1])) * 1024
        }
        let before = try anonBytes()
        let f = try GGUFFile(path: path)
        let grown = try anonBytes() - before
        let a = try #require(f["big"]?.arrayValue)
        #expect(a.count == n)
        #expect(a[n - 1] == .uint8(7))
        #expect(grown < 3 * n, "opening a \(n)-byte array grew the heap by \(grown) bytes")
    }

    @Test func rejectsHostileTensorTables() throws {
        typealias G = GGUFTests
        func table(dims: [UInt64], type: UInt32, offset: UInt64) -> [UInt8] {
            G.handMade(G.str("w") + G.le(UInt32(dims.count)) + dims.flatMap { G.le($0) } + G.le(type) + G.le(offset), tensors: 1, kvs: 0)
        }
        expectRejected(table(dims: [32, 4], type: 8, offset: 1 << 40), "beyond the end of the file")
        expectRejected(table(dims: [32, 4], type: 8, offset: 7), "not a multiple of the alignment")
        expectRejected(table(dims: [33], type: 8, offset: 0), "not a multiple")
        expectRejected(table(dims: [1, 1, 1, 1, 1], type: 0, offset: 0), "dimensions")
        expectRejected(table(dims: [0], type: 0, offset: 0), "out of range")
        expectRejected(table(dims: [1 << 31, 1 << 31], type: 0, offset: 0), "out of range")
        expectRejected(table(dims: [32, 1_000_000], type: 8, offset: 0), "beyond the end of the file")
        do {
            _ = try GGUFFile(bytes: table(dims: [32], type: 123, offset: 0))
            Issue.record("unknown tensor type accepted")
        } catch {
            #expect(error.message.contains("unknown element type 123"))
            if case .unsupported = error {} else { Issue.record("expected .unsupported, got \(error)") }
        }
        // overlapping tensors and duplicate names
        var w = GGUFWriter()
        try w.addTensor(name: "a", shape: [32], type: .f32, values: [Float](repeating: 1, count: 32))
        try w.addTensor(name: "b", shape: [32], type: .f32, values: [Float](repeating: 2, count: 32))
        var image = w.serialize()
        // tensor "b"'s offset field: find it (second offset = 128) and point it into "a"
        let bName = G.str("b")
        let at = try #require(image.indices.first { image[$0..<min($0 + bName.count, image.count)].elementsEqual(bName) })
        let offsetAt = at + bName.count + 4 + 8 + 4
        image.replaceSubrange(offsetAt..<(offsetAt + 8), with: G.le(UInt64(96)))
        expectRejected(image, "overlap")
    }

    @Test func truncatedAndMutatedFilesNeverCrash() throws {
        let good = try GGUFTests.sampleImage()
        // every truncation point in the header/table, then a stride through the data
        var cuts = Array(0..<min(good.count, 2048))
        cuts += stride(from: 2048, to: good.count, by: 97)
        for n in cuts {
            expectRejected(Array(good.prefix(n)))
        }
        // random byte mutations: must either parse or throw, never crash or hang
        var rng = TestRNG(99)
        var accepted = 0
        for _ in 0..<1500 {
            var m = good
            for _ in 0..<(1 + rng.int(4)) {
                let pos = rng.int(min(m.count, 1800))
                m[pos] = rng.int(3) == 0 ? 0xFF : UInt8(truncatingIfNeeded: rng.next())
            }
            if (try? GGUFFile(bytes: m)) != nil { accepted += 1 }
        }
        #expect(accepted < 1500)
    }
}
