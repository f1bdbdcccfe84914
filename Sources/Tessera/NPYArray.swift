// NPYArray: NumPy's .npy format (versions 1.0, 2.0 and 3.0), read and written.
//
// Layout of a .npy file:
//   bytes 0-5   "\x93NUMPY"
//   byte  6,7   major, minor version (1.0: header length is u16; 2.0/3.0: u32; 3.0: UTF-8 header)
//   then        header length (little-endian), then the header: an ASCII Python dict literal
//               {'descr': '<f8', 'fortran_order': False, 'shape': (64, 64), }
//               padded with spaces and ended by '\n' so that the data start is 64-byte aligned
//   then        the raw array data, prod(shape) × itemsize bytes
// The reader accepts exactly that dict (keys in any order, any Python-literal spacing), in
// little-, big- or no-endian ('<', '>', '|', '=') descriptors of bool, int8…int64, uint8…uint64,
// float16/32/64; big-endian data are byte-swapped to little-endian on load. Anything else
// (bad magic, unknown version, truncated header, unknown keys, object arrays, negative or
// overflowing shapes, short or long data) throws `.malformedInput` — the reader never traps.

import Foundation

/// An n-dimensional array as stored in a `.npy` file: shape, element type and little-endian
/// element bytes in C (row-major) order.
public struct NPYArray: Sendable, Equatable {
    /// Element types of `.npy` files that Tessera reads and writes.
    public enum ScalarType: String, Sendable, CaseIterable {
        /// Boolean and signed integer types (NumPy `b1`, `i1` ... `i8`).
        case bool = "b1", int8 = "i1", int16 = "i2", int32 = "i4", int64 = "i8"
        /// Unsigned integer types (NumPy `u1` ... `u8`).
        case uint8 = "u1", uint16 = "u2", uint32 = "u4", uint64 = "u8"
        /// Floating-point types (NumPy `f2`, `f4`, `f8`).
        case float16 = "f2", float32 = "f4", float64 = "f8"

        /// Bytes per element.
        public var size: Int { Int(rawValue.dropFirst())! }
        /// The NumPy descriptor string written to files ('<f8', '|u1', ...).
        public var descriptor: String { (size == 1 ? "|" : "<") + rawValue }
    }

    /// The array's shape, outer dimension first.
    public let shape: [Int]
    /// The element type stored in the file.
    public let scalarType: ScalarType
    /// Element bytes, little-endian, C order; count = shape.product × scalarType.size.
    public let bytes: [UInt8]

    /// Number of elements (product of the shape; 1 for a 0-d array).
    public var count: Int { shape.reduce(1, *) }

    /// An array from raw little-endian bytes in C order.
    public init(shape: [Int], scalarType: ScalarType, bytes: [UInt8]) throws(TesseraError) {
        let n = try NPYArray.elementCount(shape)
        let (nb, o) = n.multipliedReportingOverflow(by: scalarType.size)
        guard !o, nb == bytes.count else {
            throw .invalidArgument("npy: \(bytes.count) bytes do not hold shape \(shape) of \(scalarType.descriptor)")
        }
        self.shape = shape
        self.scalarType = scalarType
        self.bytes = bytes
    }

    /// An array of elements in C order.
    public init<T: NPYScalar>(shape: [Int], elements: [T]) throws(TesseraError) {
        let n = try NPYArray.elementCount(shape)
        guard n == elements.count else {
            throw .invalidArgument("npy: shape \(shape) holds \(n) elements, got \(elements.count)")
        }
        var b = [UInt8](repeating: 0, count: n * T.npyType.size)
        b.withUnsafeMutableBytes { dst in elements.withUnsafeBytes { src in dst.copyMemory(from: src) } }
        #if _endian(big)
        NPYArray.swapBytes(&b, size: T.npyType.size)
        #endif
        self.shape = shape
        self.scalarType = T.npyType
        self.bytes = b
    }

    static func elementCount(_ shape: [Int]) throws(TesseraError) -> Int {
        var n = 1
        for d in shape {
            guard d >= 0 else { throw .invalidArgument("npy: negative dimension in shape \(shape)") }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            guard !o, m <= Int(Int32.max) * 1024 else { throw .outOfRange("npy: shape \(shape) has too many elements") }
            n = m
        }
        return n
    }

    /// The elements as `T`, which must be the stored type exactly.
    /// Errors: `.invalidArgument` naming both types when they differ.
    public func elements<T: NPYScalar>(as type: T.Type = T.self) throws(TesseraError) -> [T] {
        guard T.npyType == scalarType else {
            throw .invalidArgument("npy: array holds \(scalarType.descriptor) (\(scalarType)), asked for \(T.npyType.descriptor) (\(T.self))")
        }
        var b = bytes
        #if _endian(big)
        NPYArray.swapBytes(&b, size: scalarType.size)
        #endif
        return [T](unsafeUninitializedCapacity: count) { buf, n in
            b.withUnsafeBytes { src in UnsafeMutableRawBufferPointer(buf).copyMemory(from: src) }
            n = count
        }
    }

    /// The elements converted to Double from any numeric type (int64 beyond 2⁵³ rounds).
    public func doubles() -> [Double] {
        let n = count, s = scalarType.size
        var out = [Double](repeating: 0, count: n)
        bytes.withUnsafeBytes { raw in
            func le<U: FixedWidthInteger>(_ i: Int, _: U.Type) -> U {
                U(littleEndian: raw.loadUnaligned(fromByteOffset: i * s, as: U.self))
            }
            for i in 0..<n {
                switch scalarType {
                case .bool: out[i] = raw[i] != 0 ? 1 : 0
                case .int8: out[i] = Double(Int8(bitPattern: raw[i]))
                case .uint8: out[i] = Double(raw[i])
                case .int16: out[i] = Double(le(i, Int16.self))
                case .uint16: out[i] = Double(le(i, UInt16.self))
                case .int32: out[i] = Double(le(i, Int32.self))
                case .uint32: out[i] = Double(le(i, UInt32.self))
                case .int64: out[i] = Double(le(i, Int64.self))
                case .uint64: out[i] = Double(le(i, UInt64.self))
                case .float16: out[i] = Double(Float(halfBits: le(i, UInt16.self)))
                case .float32: out[i] = Double(Float(bitPattern: le(i, UInt32.self)))
                case .float64: out[i] = Double(bitPattern: le(i, UInt64.self))
                }
            }
        }
        return out
    }

    // MARK: encoding

    /// The `.npy` file bytes (version 1.0, or 2.0 when the header exceeds 65535 bytes).
    public func encoded() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(scalarType.descriptor)', 'fortran_order': False, 'shape': \(shapeText), }"
        var version: UInt8 = 1
        var prefix = 10
        if header.utf8.count + 1 + prefix > 65535 { version = 2; prefix = 12 }
        let total = (prefix + header.utf8.count + 1 + 63) / 64 * 64
        header += String(repeating: " ", count: total - prefix - header.utf8.count - 1) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0]
        let hl = header.utf8.count
        if version == 1 {
            out += [UInt8(hl & 0xFF), UInt8(hl >> 8)]
        } else {
            out += [UInt8(hl & 0xFF), UInt8((hl >> 8) & 0xFF), UInt8((hl >> 16) & 0xFF), UInt8(hl >> 24)]
        }
        out += Array(header.utf8)
        out += bytes
        return out
    }

    /// Writes the array as a `.npy` file.
    public func write(to path: String) throws(TesseraError) {
        do { try Data(encoded()).write(to: URL(fileURLWithPath: path)) }
        catch { throw .io("cannot write '\(path)': \(error.localizedDescription)") }
    }

    /// Reads a `.npy` file. Errors: `.io` if unreadable, `.malformedInput` for a bad file.
    public init(contentsOf path: String) throws(TesseraError) {
        guard let d = FileManager.default.contents(atPath: path) else { throw .io("cannot read '\(path)'") }
        try self.init(npyData: [UInt8](d))
    }

    /// Parses `.npy` bytes. Errors: `.malformedInput` naming what is wrong.
    public init(npyData d: [UInt8]) throws(TesseraError) {
        guard d.count >= 10, d[0] == 0x93, Array(d[1..<6]) == Array("NUMPY".utf8) else {
            throw .malformedInput("npy: missing the \\x93NUMPY magic")
        }
        let major = d[6]
        guard major >= 1 && major <= 3 else { throw .malformedInput("npy: unsupported format version \(major).\(d[7])") }
        var start: Int, hlen: Int
        if major == 1 {
            hlen = Int(d[8]) | Int(d[9]) << 8
            start = 10
        } else {
            guard d.count >= 12 else { throw .malformedInput("npy: truncated header length") }
            hlen = Int(d[8]) | Int(d[9]) << 8 | Int(d[10]) << 16 | Int(d[11]) << 24
            start = 12
        }
        guard hlen <= d.count - start else {
            throw .malformedInput("npy: header length \(hlen) runs past the end of the \(d.count)-byte file")
        }
        guard let text = String(validating: d[start..<(start + hlen)], as: UTF8.self),
              major == 3 || text.utf8.allSatisfy({ $0 < 0x80 }) else {
            throw .malformedInput("npy: header is not \(major == 3 ? "UTF-8" : "ASCII")")
        }
        var p = NPYHeaderParser(Array(text.utf8))
        let dict = try p.parseDict()
        guard Set(dict.keys) == ["descr", "fortran_order", "shape"] else {
            throw .malformedInput("npy: header keys \(dict.keys.sorted()) must be exactly descr, fortran_order, shape")
        }
        guard case .string(let descr)? = dict["descr"] else { throw .malformedInput("npy: 'descr' is not a string") }
        guard case .bool(let fortran)? = dict["fortran_order"] else { throw .malformedInput("npy: 'fortran_order' is not True/False") }
        guard case .tuple(let shape)? = dict["shape"] else { throw .malformedInput("npy: 'shape' is not a tuple of integers") }
        guard descr.count >= 2, let order = descr.first, "<>|=".contains(order),
              let st = ScalarType(rawValue: String(descr.dropFirst())) else {
            throw .malformedInput("npy: unsupported dtype '\(descr)' (expected e.g. '<f8', '<f4', '<i4', '|u1')")
        }
        if order == "|" && st.size > 1 { throw .malformedInput("npy: dtype '\(descr)' needs a byte order") }
        let n: Int
        do { n = try NPYArray.elementCount(shape) } catch { throw .malformedInput("npy: bad shape \(shape): \(error.message)") }
        let nb = n * st.size
        let dataStart = start + hlen
        guard d.count - dataStart == nb else {
            throw .malformedInput("npy: shape \(shape) of \(descr) needs \(nb) data bytes, file has \(d.count - dataStart)")
        }
        var b = Array(d[dataStart...])
        if order == ">" && st.size > 1 { NPYArray.swapBytes(&b, size: st.size) }
        #if _endian(big)
        if order == "=" && st.size > 1 { NPYArray.swapBytes(&b, size: st.size) }
        #endif
        if fortran && shape.count > 1 { b = NPYArray.fortranToC(b, shape: shape, size: st.size) }
        self.shape = shape
        self.scalarType = st
        self.bytes = b
    }

    static func swapBytes(_ b: inout [UInt8], size: Int) {
        var i = 0
        while i + size <= b.count { b[i..<(i + size)].reverse(); i += size }
    }

    /// Reorders column-major element bytes to row-major.
    static func fortranToC(_ src: [UInt8], shape: [Int], size: Int) -> [UInt8] {
        let n = shape.reduce(1, *)
        if n == 0 { return src }
        var out = [UInt8](repeating: 0, count: src.count)
        var fstr = [Int](repeating: 1, count: shape.count)
        for k in 1..<shape.count { fstr[k] = fstr[k - 1] * shape[k - 1] }
        var idx = [Int](repeating: 0, count: shape.count)
        for c in 0..<n {
            var f = 0
            for k in 0..<shape.count { f += idx[k] * fstr[k] }
            for j in 0..<size { out[c * size + j] = src[f * size + j] }
            var k = shape.count - 1
            while k >= 0 { idx[k] += 1; if idx[k] < shape[k] { break }; idx[k] = 0; k -= 1 }
        }
        return out
    }
}

/// Element types that map to a `.npy` descriptor.
public protocol NPYScalar { static var npyType: NPYArray.ScalarType { get } }
extension Double: NPYScalar { public static var npyType: NPYArray.ScalarType { .float64 } }
extension Float: NPYScalar { public static var npyType: NPYArray.ScalarType { .float32 } }
extension Int32: NPYScalar { public static var npyType: NPYArray.ScalarType { .int32 } }
extension Int64: NPYScalar { public static var npyType: NPYArray.ScalarType { .int64 } }
extension Int16: NPYScalar { public static var npyType: NPYArray.ScalarType { .int16 } }
extension Int8: NPYScalar { public static var npyType: NPYArray.ScalarType { .int8 } }
extension UInt8: NPYScalar { public static var npyType: NPYArray.ScalarType { .uint8 } }
extension UInt16: NPYScalar { public static var npyType: NPYArray.ScalarType { .uint16 } }
extension UInt32: NPYScalar { public static var npyType: NPYArray.ScalarType { .uint32 } }
extension UInt64: NPYScalar { public static var npyType: NPYArray.ScalarType { .uint64 } }

extension Float {
    /// Float from IEEE-754 binary16 bits (no dependency on the platform's Float16).
    init(halfBits h: UInt16) {
        let sign: UInt32 = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F), man = UInt32(h & 0x3FF)
        if exp == 0 {
            let v = Float(man) * 0x1p-24
            self = sign != 0 ? -v : v
        } else if exp == 31 {
            self = Float(bitPattern: sign | 0x7F80_0000 | (man << 13))
        } else {
            self = Float(bitPattern: sign | UInt32(exp + 112) << 23 | (man << 13))
        }
    }
}

/// A parser for the restricted Python literal of a .npy header.
struct NPYHeaderParser {
    enum Value: Equatable { case string(String), bool(Bool), tuple([Int]) }
    let s: [UInt8]
    var i = 0
    init(_ s: [UInt8]) { self.s = s }

    mutating func skipSpace() { while i < s.count, s[i] == 0x20 || s[i] == 0x0A || s[i] == 0x09 || s[i] == 0x0D { i += 1 } }

    mutating func expect(_ c: UInt8) throws(TesseraError) {
        skipSpace()
        guard i < s.count, s[i] == c else {
            throw .malformedInput("npy: header: expected '\(Character(UnicodeScalar(c)))' at offset \(i)")
        }
        i += 1
    }

    mutating func peek() -> UInt8? { skipSpace(); return i < s.count ? s[i] : nil }

    mutating func parseDict() throws(TesseraError) -> [String: Value] {
        try expect(UInt8(ascii: "{"))
        var out: [String: Value] = [:]
        while true {
            if peek() == UInt8(ascii: "}") { i += 1; break }
            let k = try parseString()
            try expect(UInt8(ascii: ":"))
            guard out[k] == nil else { throw .malformedInput("npy: header: duplicate key '\(k)'") }
            out[k] = try parseValue()
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"))
            break
        }
        skipSpace()
        guard i == s.count else { throw .malformedInput("npy: header: trailing characters after the dict") }
        return out
    }

    mutating func parseString() throws(TesseraError) -> String {
        guard let q = peek(), q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else {
            throw .malformedInput("npy: header: expected a quoted string at offset \(i)")
        }
        i += 1
        let st = i
        while i < s.count, s[i] != q {
            guard s[i] != UInt8(ascii: "\\") else { throw .malformedInput("npy: header: escapes are not supported") }
            i += 1
        }
        guard i < s.count else { throw .malformedInput("npy: header: unterminated string") }
        let str = String(decoding: s[st..<i], as: UTF8.self)
        i += 1
        return str
    }

    mutating func parseValue() throws(TesseraError) -> Value {
        guard let c = peek() else { throw .malformedInput("npy: header: missing value") }
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") { return .string(try parseString()) }
        if c == UInt8(ascii: "(") { return .tuple(try parseTuple()) }
        for (word, v) in [("True", true), ("False", false)] {
            let w = Array(word.utf8)
            if i + w.count <= s.count, Array(s[i..<(i + w.count)]) == w { i += w.count; return .bool(v) }
        }
        throw .malformedInput("npy: header: unexpected value at offset \(i)")
    }

    mutating func parseTuple() throws(TesseraError) -> [Int] {
        try expect(UInt8(ascii: "("))
        var dims: [Int] = []
        while true {
            if peek() == UInt8(ascii: ")") { i += 1; break }
            dims.append(try parseInt())
            if peek() == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: ")"))
            break
        }
        return dims
    }

    mutating func parseInt() throws(TesseraError) -> Int {
        skipSpace()
        var v = 0, any = false
        var neg = false
        if i < s.count, s[i] == UInt8(ascii: "-") { neg = true; i += 1 }
        while i < s.count, s[i] >= 0x30, s[i] <= 0x39 {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(s[i] - 0x30))
            guard !o1, !o2 else { throw .malformedInput("npy: header: dimension overflows") }
            v = a; any = true; i += 1
        }
        if i < s.count, s[i] == UInt8(ascii: "L") { i += 1 }  // Python 2 long suffix
        guard any else { throw .malformedInput("npy: header: expected an integer at offset \(i)") }
        guard !neg else { throw .malformedInput("npy: header: negative dimension -\(v)") }
        return v
    }
}
