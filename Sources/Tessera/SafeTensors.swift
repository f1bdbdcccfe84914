import Foundation

/// Element types of a safetensors file that Tessera can read (converted to Float on access).
public enum SafeTensorsDType: String, Sendable {
    /// 32-bit, 16-bit (IEEE and bfloat) and 64-bit floats, as safetensors names them.
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    var size: Int { switch self { case .f32: 4; case .f16, .bf16: 2; case .f64: 8 } }
}

/// A reader for the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}`),
/// then the raw little-endian data, offsets relative to the byte after the header.
/// Every offset, shape and size is checked before use: a truncated or hostile file gives
/// `TesseraError.malformedInput`, never a crash.
public struct SafeTensorsFile: Sendable {
    /// One tensor of the file.
    public struct Entry: Sendable, Equatable {
        /// The tensor's name.
        public let name: String
        /// Its element type.
        public let dtype: SafeTensorsDType
        /// Its shape, outer dimension first.
        public let shape: [Int]
        /// Byte range inside the data section.
        public let begin: Int, end: Int
        /// Number of elements.
        public var count: Int { shape.reduce(1, *) }
    }

    /// The tensors by name.
    public let entries: [String: Entry]
    /// The file's `__metadata__` strings.
    public let metadata: [String: String]
    private let bytes: Data
    private let dataStart: Int

    /// Largest JSON header accepted (the format's own readers use 100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// Reads a `.safetensors` file into memory. Errors: `.io` if unreadable, `.malformedInput` for a bad header or offsets.
    ///
    /// Read, not memory-mapped: a mapped file that another process truncates or rewrites while
    /// it is read raises SIGBUS inside Foundation's `Data` (a crash, not an error), and the
    /// tensors are converted to Float arrays right after anyway.
    public init(contentsOf path: String) throws(TesseraError) {
        let d: Data
        do { d = try Data(contentsOf: URL(fileURLWithPath: path)) }
        catch { throw .io("safetensors: cannot read \(path): \(error.localizedDescription)") }
        try self.init(data: d)
    }

    /// Parses `.safetensors` bytes. Errors: `.malformedInput` naming what is wrong.
    public init(data: Data) throws(TesseraError) {
        bytes = data
        guard data.count >= 8 else { throw .malformedInput("safetensors: file is \(data.count) bytes, shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard n >= 2, n <= UInt64(Self.maxHeaderBytes), n <= UInt64(data.count - 8) else {
            throw .malformedInput("safetensors: header length \(n) is invalid for a file of \(data.count) bytes")
        }
        let hlen = Int(n)
        dataStart = 8 + hlen
        let header = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + 8 + hlen))
        guard let obj = try? JSONSerialization.jsonObject(with: header, options: []), let dict = obj as? [String: Any] else {
            throw .malformedInput("safetensors: header is not a JSON object")
        }
        let dataSize = data.count - dataStart
        var out: [String: Entry] = [:]
        var meta: [String: String] = [:]
        var ranges: [(Int, Int, String)] = []
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw .malformedInput("safetensors: __metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw .malformedInput("safetensors: metadata '\(k)' is not a string") }
                    meta[k] = s
                }
                continue
            }
            guard let e = value as? [String: Any] else { throw .malformedInput("safetensors: entry '\(name)' is not an object") }
            guard let ds = e["dtype"] as? String else { throw .malformedInput("safetensors: '\(name)' has no dtype") }
            guard let dtype = SafeTensorsDType(rawValue: ds) else {
                throw .unsupported("safetensors: '\(name)' has dtype \(ds) (supported: F32, F16, BF16, F64)")
            }
            guard let shp = e["shape"] as? [Any], shp.count <= 8 else { throw .malformedInput("safetensors: '\(name)' has no valid shape") }
            var shape: [Int] = []
            var count = 1
            for s in shp {
                guard let num = s as? NSNumber, num.doubleValue == Double(num.int64Value),
                      num.int64Value >= 0, num.int64Value <= Int64(Int32.max) else {
                    throw .malformedInput("safetensors: '\(name)' has a bad dimension \(s)")
                }
                let v = Int(num.int64Value)
                let (c, o) = count.multipliedReportingOverflow(by: v)
                guard !o, c <= 1 << 40 else { throw .malformedInput("safetensors: '\(name)' shape \(shp) overflows") }
                shape.append(v); count = c
            }
            guard let offs = e["data_offsets"] as? [Any], offs.count == 2,
                  let b0 = offs[0] as? NSNumber, let e0 = offs[1] as? NSNumber,
                  b0.int64Value >= 0, e0.int64Value >= b0.int64Value, e0.int64Value <= Int64(dataSize),
                  b0.doubleValue == Double(b0.int64Value), e0.doubleValue == Double(e0.int64Value) else {
                throw .malformedInput("safetensors: '\(name)' has data_offsets outside the \(dataSize)-byte data section")
            }
            let b = Int(b0.int64Value), en = Int(e0.int64Value)
            guard en - b == count * dtype.size else {
                throw .malformedInput("safetensors: '\(name)' spans \(en - b) bytes, its shape \(shape) of \(ds) needs \(count * dtype.size)")
            }
            out[name] = Entry(name: name, dtype: dtype, shape: shape, begin: b, end: en)
            if en > b { ranges.append((b, en, name)) }
        }
        ranges.sort { $0.0 < $1.0 }
        for i in 1..<max(1, ranges.count) where ranges[i].0 < ranges[i - 1].1 {
            throw .malformedInput("safetensors: tensors '\(ranges[i - 1].2)' and '\(ranges[i].2)' overlap")
        }
        entries = out; metadata = meta
    }

    /// The tensor's values as Float (converted from F16/BF16/F64).
    public func floats(_ name: String) throws(TesseraError) -> [Float] {
        guard let e = entries[name] else { throw .invalidArgument("safetensors: no tensor named '\(name)'") }
        let n = e.count
        var out = [Float](repeating: 0, count: n)
        let base = bytes.startIndex + dataStart + e.begin
        bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let p = raw.baseAddress! + (base - bytes.startIndex)
            switch e.dtype {
            case .f32: for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .f64: for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            case .bf16: for i in 0..<n { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            case .f16: for i in 0..<n { out[i] = halfToFloat(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            }
        }
        return out
    }

    /// Serialises named F32 tensors into safetensors bytes (names sorted, data packed in that order).
    public static func serialize(_ tensors: [(name: String, shape: [Int], values: [Float])],
                                 metadata: [String: String] = [:]) throws(TesseraError) -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var off = 0
        let sorted = tensors.sorted { $0.name < $1.name }
        for t in sorted {
            guard t.shape.reduce(1, *) == t.values.count else {
                throw .invalidArgument("safetensors: '\(t.name)' has \(t.values.count) values for shape \(t.shape)")
            }
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [off, off + 4 * t.values.count]] as [String: Any]
            off += 4 * t.values.count
        }
        guard var json = try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]) else {
            throw .internalError("safetensors: cannot encode header")
        }
        while json.count % 8 != 0 { json.append(0x20) }   // pad with spaces (allowed by the format)
        var d = Data(capacity: 8 + json.count + off)
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
        d.append(json)
        for t in sorted { t.values.withUnsafeBytes { d.append(contentsOf: $0) } }
        return d
    }
}

/// IEEE binary16 → Float (handles subnormals, ∞, NaN).
@inline(__always) public func halfToFloat(_ h: UInt16) -> Float {
    let s = UInt32(h >> 15) << 31, e = Int((h >> 10) & 0x1f), m = UInt32(h & 0x3ff)
    if e == 0 {
        if m == 0 { return Float(bitPattern: s) }
        let v = Float(m) * Float(bitPattern: 0x3380_0000)   // m · 2⁻²⁴
        return s != 0 ? -v : v
    }
    if e == 31 { return Float(bitPattern: s | 0x7f80_0000 | (m << 13)) }
    return Float(bitPattern: s | UInt32(e - 15 + 127) << 23 | (m << 13))
}
