import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The value types of GGUF metadata (on-disk codes).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    /// GGUF value types 0–7: integers of 8, 16 and 32 bits, a 32-bit float and a bool.
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    /// GGUF value types 8–12: string, array, 64-bit integers and a 64-bit float.
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Smallest encoded size of one value (used to bound counts before allocating).
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8   // a string is at least its u64 length
        case .array: return 12                              // element type u32 + count u64
        }
    }
}

/// One GGUF metadata value. Arrays keep their element type (so an empty array round-trips),
/// may nest, and are stored compactly (`GGUFArray`).
public enum GGUFValue: Sendable, Equatable, CustomStringConvertible {
    /// Integer values of 8, 16 and 32 bits.
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    /// A float, a bool, a string, 64-bit integers or a double.
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// An array of values of one type.
    case array(GGUFArray)

    /// The value's GGUF type.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }

    /// The value as an integer when it is an integer type that fits `Int` (bools count as 0/1).
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int64(let v): return Int(exactly: v)
        case .bool(let v): return v ? 1 : 0
        default: return nil
        }
    }

    /// The value as a floating-point number when it is numeric.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    /// The string, if the value is one.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The bool, if the value is one.
    public var boolValue: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// The array, if the value is one.
    public var arrayValue: GGUFArray? { if case .array(let a) = self { return a } else { return nil } }

    /// The value as text (arrays by type and count).
    public var description: String {
        switch self {
        case .uint8(let v): return "\(v)"
        case .int8(let v): return "\(v)"
        case .uint16(let v): return "\(v)"
        case .int16(let v): return "\(v)"
        case .uint32(let v): return "\(v)"
        case .int32(let v): return "\(v)"
        case .float32(let v): return "\(v)"
        case .bool(let v): return "\(v)"
        case .string(let s): return s.count > 60 ? "\"\(s.prefix(57))...\"" : "\"\(s)\""
        case .uint64(let v): return "\(v)"
        case .int64(let v): return "\(v)"
        case .float64(let v): return "\(v)"
        case .array(let a): return a.description
        }
    }
}

/// One tensor of a GGUF file: name, shape (ggml order: `shape[0]` is the contiguous row
/// length), element type, and where its bytes are.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. "blk.0.attn_q.weight".
    public let name: String
    /// ggml order: `shape[0]` elements per row (contiguous), then rows, ... (1 to 4 dims).
    public let shape: [Int]
    /// The block type of its elements.
    public let type: GGMLType
    /// Offset of the data from the start of the data section (a multiple of the alignment).
    public let offset: Int
    /// Total bytes of the tensor.
    public let byteCount: Int

    /// Number of elements (the product of the shape).
    public var elementCount: Int { shape.reduce(1, *) }
    /// Elements per row (`shape[0]`).
    public var rowLength: Int { shape[0] }
    /// Number of rows (product of `shape[1...]`).
    public var rowCount: Int { shape.dropFirst().reduce(1, *) }
}

/// A GGUF file (versions 2 and 3), memory-mapped read-only and validated.
///
/// Opening checks every count, length, offset and size against the file before using it, so a
/// truncated, corrupted or hostile file throws `TesseraError.malformedInput` (or `.unsupported`
/// for a valid but unsupported feature) naming what is wrong — it never crashes and never
/// allocates more than the file could describe. Tensor bytes are not copied: `withTensorBytes`
/// hands out the mapped memory, which lives as long as this object.
public final class GGUFFile: @unchecked Sendable {
    // @unchecked: immutable after init; the mapping is read-only and freed only in deinit.

    /// The GGUF format version (2 or 3).
    public let version: Int
    /// Metadata in file order.
    public let metadataKeys: [String]
    /// Metadata values by key.
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Position in `tensors` of each tensor name.
    public let tensorIndex: [String: Int]
    /// Alignment of the tensor data, in bytes (`general.alignment`, default 32).
    public let alignment: Int
    /// Offset of the data section from the start of the file.
    public let dataOffset: Int
    /// Size of the file in bytes.
    public let fileSize: Int
    /// Where the file came from (path, or "<memory>").
    public let source: String

    private let base: UnsafeRawPointer
    private let mappedLength: Int
    private let isMapped: Bool

    /// Opens and validates a GGUF file by memory-mapping it.
    public convenience init(path: String) throws(TesseraError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            throw .io("cannot open GGUF file '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw .io("cannot stat '\(path)': \(String(cString: strerror(errno)))")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .io("'\(path)' is not a regular file") }
        let size = Int(st.st_size)
        guard size >= 24 else {
            throw .malformedInput("GGUF file '\(path)' is \(size) bytes: too short for a GGUF header (24 bytes)")
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw .io("cannot mmap '\(path)' (\(size) bytes): \(String(cString: strerror(errno)))")
        }
        #if canImport(Glibc)
        _ = madvise(p, size, MADV_WILLNEED)
        #endif
        try self.init(base: UnsafeRawPointer(p), count: size, mapped: true, source: path)
    }

    /// Parses a GGUF image held in memory (the bytes are copied into an aligned buffer).
    public convenience init(bytes: [UInt8]) throws(TesseraError) {
        let n = max(bytes.count, 1)
        let p = UnsafeMutableRawPointer.allocate(byteCount: n, alignment: 64)
        bytes.withUnsafeBytes { src in
            if let s = src.baseAddress { p.copyMemory(from: s, byteCount: bytes.count) }
        }
        try self.init(base: UnsafeRawPointer(p), count: bytes.count, mapped: false, source: "<memory>")
    }

    private init(base: UnsafeRawPointer, count: Int, mapped: Bool, source: String) throws(TesseraError) {
        self.base = base
        self.mappedLength = count
        self.isMapped = mapped
        self.source = source
        self.fileSize = count
        var r = GGUFCursor(base: base, count: count, source: source)
        do {
            let parsed = try r.parseAll()
            version = parsed.version
            metadataKeys = parsed.keys
            metadata = parsed.metadata
            tensors = parsed.tensors
            tensorIndex = parsed.index
            alignment = parsed.alignment
            dataOffset = parsed.dataOffset
        } catch {
            GGUFFile.release(base: base, count: count, mapped: mapped)
            throw error
        }
    }

    deinit { GGUFFile.release(base: base, count: mappedLength, mapped: isMapped) }

    private static func release(base: UnsafeRawPointer, count: Int, mapped: Bool) {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    /// Bytes of the file's mapping now resident in this process (its `Rss` in
    /// `/proc/self/smaps`; where that cannot be read, the whole mapping); for an image held in
    /// memory, its whole size.
    public var residentMappedBytes: Int {
        guard isMapped else { return mappedLength }
        // read with stdio: /proc files report size 0, which whole-file readers take literally
        guard let fp = fopen("/proc/self/smaps", "r") else { return mappedLength }
        defer { fclose(fp) }
        let start = UInt(bitPattern: base)
        var inside = false
        var buf: UnsafeMutablePointer<CChar>? = nil
        var cap = 0
        defer { free(buf) }
        while getline(&buf, &cap, fp) > 0, let b = buf {
            let line = Substring(String(cString: b).dropLast())
            if let dash = line.firstIndex(of: "-"), let lo = UInt(line[..<dash], radix: 16),
               let sp = line.firstIndex(of: " "), let hi = UInt(line[line.index(after: dash)..<sp], radix: 16) {
                inside = lo <= start && start < hi
            } else if inside, line.hasPrefix("Rss:") {
                let kb = line.dropFirst(4).split(separator: " ").first.flatMap { Int($0) } ?? 0
                return kb * 1024
            }
        }
        return mappedLength
    }

    /// Drops the mapping's pages from this process (`MADV_DONTNEED`; the mapping stays valid:
    /// what is read again faults back in from the page cache). A model calls it once its
    /// kernels hold repacked copies of the weights, so the file's pages are not kept twice.
    /// No effect on an image held in memory.
    public func releaseResidentPages() {
        guard isMapped else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), mappedLength, MADV_DONTNEED)
    }

    /// The tensor info for `name`, or nil.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// Calls `body` with the mapped bytes of a tensor (valid only inside `body` unless the
    /// caller keeps this `GGUFFile` alive — the runner does).
    public func withTensorBytes<R, E: Error>(_ info: GGUFTensorInfo,
                                            _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base + dataOffset + info.offset, count: info.byteCount))
    }

    /// The raw address of a tensor's bytes; valid while this object lives.
    func tensorPointer(_ info: GGUFTensorInfo) -> UnsafeRawPointer { base + dataOffset + info.offset }

    // MARK: typed metadata access

    /// The metadata value of `key`, if present.
    public subscript(key: String) -> GGUFValue? { metadata[key] }

    /// Integer metadata; throws naming the key when present with a non-integer type.
    public func int(_ key: String) throws(TesseraError) -> Int? {
        guard let v = metadata[key] else { return nil }
        guard let i = v.intValue else {
            throw .malformedInput("GGUF metadata '\(key)' should be an integer, found \(v.type)")
        }
        return i
    }

    /// Floating-point metadata (integers convert); throws naming the key when present with another type.
    public func double(_ key: String) throws(TesseraError) -> Double? {
        guard let v = metadata[key] else { return nil }
        guard let d = v.doubleValue else {
            throw .malformedInput("GGUF metadata '\(key)' should be a number, found \(v.type)")
        }
        return d
    }

    /// String metadata; throws naming the key when present with another type.
    public func string(_ key: String) throws(TesseraError) -> String? {
        guard let v = metadata[key] else { return nil }
        guard let s = v.stringValue else {
            throw .malformedInput("GGUF metadata '\(key)' should be a string, found \(v.type)")
        }
        return s
    }

    /// Boolean metadata; throws naming the key when present with another type.
    public func bool(_ key: String) throws(TesseraError) -> Bool? {
        guard let v = metadata[key] else { return nil }
        if let b = v.boolValue { return b }
        if let i = v.intValue { return i != 0 }
        throw .malformedInput("GGUF metadata '\(key)' should be a bool, found \(v.type)")
    }

    /// An array of strings; throws naming the key when present with another type.
    public func stringArray(_ key: String) throws(TesseraError) -> [String]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(let a) = v, let s = a.strings else {
            throw .malformedInput("GGUF metadata '\(key)' should be an array of strings, found \(v)")
        }
        return s
    }

    /// An array of integers; throws naming the key when present with another type.
    public func intArray(_ key: String) throws(TesseraError) -> [Int]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(let a) = v else {
            throw .malformedInput("GGUF metadata '\(key)' should be an array of integers, found \(v.type)")
        }
        var out = [Int]()
        out.reserveCapacity(a.count)
        for e in a {
            guard let i = e.intValue else {
                throw .malformedInput("GGUF metadata '\(key)' should be an array of integers, found an element of type \(e.type)")
            }
            out.append(i)
        }
        return out
    }

    /// An array of floats; throws naming the key when present with another type.
    public func floatArray(_ key: String) throws(TesseraError) -> [Float]? {
        guard let v = metadata[key] else { return nil }
        guard case .array(let a) = v else {
            throw .malformedInput("GGUF metadata '\(key)' should be an array of numbers, found \(v.type)")
        }
        var out = [Float]()
        out.reserveCapacity(a.count)
        for e in a {
            guard let d = e.doubleValue else {
                throw .malformedInput("GGUF metadata '\(key)' should be an array of numbers, found an element of type \(e.type)")
            }
            out.append(Float(d))
        }
        return out
    }
}

/// Bounds-checked little-endian reader over the file image.
struct GGUFCursor {
    let base: UnsafeRawPointer
    let count: Int
    let source: String
    var pos = 0

    /// Hard limits against hostile files (beyond what the file size already bounds).
    static let maxDims = 4
    static let maxArrayDepth = 8
    static let maxKeyLength = 65_536

    init(base: UnsafeRawPointer, count: Int, source: String) {
        self.base = base
        self.count = count
        self.source = source
    }

    struct Parsed {
        var version: Int
        var keys: [String]
        var metadata: [String: GGUFValue]
        var tensors: [GGUFTensorInfo]
        var index: [String: Int]
        var alignment: Int
        var dataOffset: Int
    }

    func fail(_ what: String) -> TesseraError {
        .malformedInput("GGUF '\(source)': \(what) (at byte \(pos) of \(count))")
    }

    var remaining: Int { count - pos }

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws(TesseraError) {
        if n < 0 || n > remaining {
            throw fail("\(what()) needs \(n) bytes but only \(remaining) remain (truncated file?)")
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(TesseraError) -> T {
        try need(MemoryLayout<T>.size, what())
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: pos, as: T.self))
        pos += MemoryLayout<T>.size
        return v
    }

    /// A u64 length or count as `Int`, bounded by `limit` (derived from the remaining bytes).
    mutating func readCount(_ what: @autoclosure () -> String, limit: Int) throws(TesseraError) -> Int {
        let v = try read(UInt64.self, what())
        guard v <= UInt64(limit) else {
            throw fail("\(what()) = \(v) is larger than the file allows (at most \(limit))")
        }
        return Int(v)
    }

    mutating func readString(_ what: @autoclosure () -> String) throws(TesseraError) -> String {
        let n = try readCount("length of \(what())", limit: remaining - 8)
        try need(n, what())
        let s = String(decoding: UnsafeRawBufferPointer(start: base + pos, count: n), as: UTF8.self)
        pos += n
        return s
    }

    mutating func readValue(_ type: GGUFValueType, key: String, depth: Int) throws(TesseraError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, "value of '\(key)'"))
        case .int8: return .int8(try read(Int8.self, "value of '\(key)'"))
        case .uint16: return .uint16(try read(UInt16.self, "value of '\(key)'"))
        case .int16: return .int16(try read(Int16.self, "value of '\(key)'"))
        case .uint32: return .uint32(try read(UInt32.self, "value of '\(key)'"))
        case .int32: return .int32(try read(Int32.self, "value of '\(key)'"))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, "value of '\(key)'")))
        case .uint64: return .uint64(try read(UInt64.self, "value of '\(key)'"))
        case .int64: return .int64(try read(Int64.self, "value of '\(key)'"))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, "value of '\(key)'")))
        case .bool:
            let b = try read(UInt8.self, "value of '\(key)'")
            guard b <= 1 else { throw fail("bool value of '\(key)' is \(b), not 0 or 1") }
            return .bool(b == 1)
        case .string: return .string(try readString("string value of '\(key)'"))
        case .array:
            guard depth < GGUFCursor.maxArrayDepth else {
                throw fail("arrays nested deeper than \(GGUFCursor.maxArrayDepth) in '\(key)'")
            }
            let rawType = try read(UInt32.self, "array element type of '\(key)'")
            guard let et = GGUFValueType(rawValue: rawType) else {
                throw fail("unknown array element type \(rawType) in '\(key)'")
            }
            let n = try readCount("array length of '\(key)'", limit: remaining - 8)
            // every element takes at least minimumEncodedSize bytes: bound n before reserving
            let (bytes, o) = n.multipliedReportingOverflow(by: et.minimumEncodedSize)
            guard !o, bytes <= remaining else {
                throw fail("array '\(key)' claims \(n) elements of \(et), more than the remaining \(remaining) bytes can hold")
            }
            // stored compactly: scalars as their bytes, so memory stays O(file size)
            switch et {
            case .string:
                var out = [String]()
                out.reserveCapacity(n)
                for i in 0..<n { out.append(try readString("string \(i) of array '\(key)'")) }
                return .array(GGUFArray(elementType: et, storage: .strings(out)))
            case .array:
                var out = [GGUFArray]()
                out.reserveCapacity(n)
                for _ in 0..<n {
                    guard case .array(let a) = try readValue(.array, key: key, depth: depth + 1) else { fatalError("unreachable") }
                    out.append(a)
                }
                return .array(GGUFArray(elementType: et, storage: .arrays(out)))
            default:
                let bytes = Array(UnsafeRawBufferPointer(start: base + pos, count: n * et.scalarSize))
                if et == .bool, let bad = bytes.firstIndex(where: { $0 > 1 }) {
                    throw fail("bool element \(bad) of array '\(key)' is \(bytes[bad]), not 0 or 1")
                }
                pos += bytes.count
                return .array(GGUFArray(elementType: et, storage: .scalars(bytes)))
            }
        }
    }

    mutating func parseAll() throws(TesseraError) -> Parsed {
        let magic = try read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {   // "GGUF" little-endian
            throw .malformedInput("'\(source)' is not a GGUF file (magic 0x\(String(magic, radix: 16)), expected 'GGUF')")
        }
        let version = try read(UInt32.self, "version")
        if version == 0x0200_0000 || version == 0x0300_0000 {
            throw .unsupported("GGUF '\(source)' is big-endian (version \(version.byteSwapped)); only little-endian files are supported")
        }
        guard version == 2 || version == 3 else {
            if version == 1 { throw .unsupported("GGUF version 1 ('\(source)') is not supported (only 2 and 3)") }
            throw .malformedInput("GGUF '\(source)': unknown version \(version) (supported: 2 and 3)")
        }
        // every tensor info takes at least 8 (name len) + 4 (n_dims) + 8 (one dim) + 4 + 8 bytes
        let tensorCount = try readCount("tensor count", limit: (remaining - 8) / 32)
        // every key/value takes at least 8 (key len) + 4 (type) + 1 bytes
        let kvCount = try readCount("metadata count", limit: (remaining) / 13)

        var keys = [String]()
        var metadata = [String: GGUFValue]()
        keys.reserveCapacity(kvCount)
        for i in 0..<kvCount {
            let key = try readString("key of metadata entry \(i)")
            guard !key.isEmpty, key.utf8.count <= GGUFCursor.maxKeyLength else {
                throw fail("metadata entry \(i) has an empty or oversized key")
            }
            guard metadata[key] == nil else { throw fail("duplicate metadata key '\(key)'") }
            let rawType = try read(UInt32.self, "type of '\(key)'")
            guard let t = GGUFValueType(rawValue: rawType) else {
                throw fail("unknown metadata value type \(rawType) for '\(key)'")
            }
            metadata[key] = try readValue(t, key: key, depth: 0)
            keys.append(key)
        }

        var alignment = 32
        if let a = metadata["general.alignment"] {
            guard let v = a.intValue, v > 0, v <= 1 << 20, v & (v - 1) == 0 else {
                throw fail("general.alignment = \(a) is not a power of two between 1 and 2^20")
            }
            alignment = v
        }

        struct Raw { var name: String; var shape: [Int]; var type: GGMLType; var offset: Int; var bytes: Int }
        var raws = [Raw]()
        raws.reserveCapacity(tensorCount)
        var index = [String: Int]()
        for i in 0..<tensorCount {
            let name = try readString("name of tensor \(i)")
            guard !name.isEmpty else { throw fail("tensor \(i) has an empty name") }
            guard index[name] == nil else { throw fail("duplicate tensor name '\(name)'") }
            let nd = try read(UInt32.self, "dimension count of '\(name)'")
            guard nd >= 1, nd <= UInt32(GGUFCursor.maxDims) else {
                throw fail("tensor '\(name)' has \(nd) dimensions (supported: 1 to \(GGUFCursor.maxDims))")
            }
            var shape = [Int]()
            var elements = 1
            for d in 0..<Int(nd) {
                let v = try read(UInt64.self, "dimension \(d) of '\(name)'")
                guard v >= 1, v <= UInt64(Int32.max) else {
                    throw fail("tensor '\(name)' dimension \(d) = \(v) is out of range")
                }
                let (p, o) = elements.multipliedReportingOverflow(by: Int(v))
                guard !o, p <= Int(Int64.max / 8) else { throw fail("tensor '\(name)' element count overflows") }
                elements = p
                shape.append(Int(v))
            }
            let rawType = try read(UInt32.self, "type of '\(name)'")
            let type = GGMLType(rawValue: rawType)
            guard let (be, _) = type.blockLayout else {
                throw .unsupported("GGUF '\(source)': tensor '\(name)' has unknown element type \(rawType)")
            }
            guard shape[0] % be == 0, let rb = type.rowBytes(shape[0]) else {
                throw fail("tensor '\(name)' row length \(shape[0]) is not a multiple of the \(type) block size \(be)")
            }
            let rows = elements / shape[0]
            let (bytes, o) = rb.multipliedReportingOverflow(by: rows)
            guard !o else { throw fail("tensor '\(name)' byte size overflows") }
            let off = try read(UInt64.self, "offset of '\(name)'")
            guard off <= UInt64(count) else {
                throw fail("tensor '\(name)' offset \(off) is beyond the end of the file (\(count) bytes)")
            }
            guard Int(off) % alignment == 0 else {
                throw fail("tensor '\(name)' offset \(off) is not a multiple of the alignment \(alignment)")
            }
            index[name] = i
            raws.append(Raw(name: name, shape: shape, type: type, offset: Int(off), bytes: bytes))
        }
        // data section: aligned end of the tensor infos
        let dataOffset = (pos + alignment - 1) / alignment * alignment
        guard dataOffset <= count else {
            throw fail("data section would start at \(dataOffset), beyond the end of the file")
        }
        let dataBytes = count - dataOffset
        var tensors = [GGUFTensorInfo]()
        tensors.reserveCapacity(raws.count)
        for r in raws {
            let (end, o) = r.offset.addingReportingOverflow(r.bytes)
            guard !o, end <= dataBytes else {
                throw .malformedInput("GGUF '\(source)': tensor '\(r.name)' (\(r.type) \(r.shape), \(r.bytes) bytes at data offset \(r.offset)) extends beyond the end of the file (data section is \(dataBytes) bytes; truncated file?)")
            }
            tensors.append(GGUFTensorInfo(name: r.name, shape: r.shape, type: r.type, offset: r.offset, byteCount: r.bytes))
        }
        // overlapping tensors are a sign of a corrupted table
        let sorted = tensors.sorted { $0.offset < $1.offset }
        for i in sorted.indices.dropFirst() where sorted[i - 1].offset + sorted[i - 1].byteCount > sorted[i].offset {
            throw .malformedInput("GGUF '\(source)': tensors '\(sorted[i - 1].name)' and '\(sorted[i].name)' overlap")
        }
        return Parsed(version: Int(version), keys: keys, metadata: metadata, tensors: tensors,
                      index: index, alignment: alignment, dataOffset: dataOffset)
    }
}
