#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds a GGUF (version 3, little-endian) image: metadata in insertion order, then the
/// tensor table, then the aligned tensor data. Used by the tests to write small models, and by
/// anyone who wants to save weights in the format the runner reads.
public struct GGUFWriter: Sendable {
    /// Metadata in the order it was added.
    public private(set) var metadata: [(key: String, value: GGUFValue)] = []
    /// Tensors in the order they were added, with their encoded bytes.
    public private(set) var tensors: [(name: String, shape: [Int], type: GGMLType, data: [UInt8])] = []
    /// Alignment of the tensor data, in bytes.
    public var alignment: Int

    /// An empty file with tensor data aligned to `alignment` bytes.
    public init(alignment: Int = 32) { self.alignment = alignment }

    /// Adds (or replaces) a metadata value.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if let i = metadata.firstIndex(where: { $0.key == key }) {
            metadata[i].value = value
        } else {
            metadata.append((key, value))
        }
    }

    /// Adds a tensor from already-encoded bytes (`shape[0]` is the contiguous row length).
    public mutating func addTensor(name: String, shape: [Int], type: GGMLType, data: [UInt8]) throws(TesseraError) {
        guard !shape.isEmpty, shape.count <= 4, shape.allSatisfy({ $0 > 0 }) else {
            throw .invalidArgument("tensor '\(name)': shape \(shape) must have 1 to 4 positive dimensions")
        }
        guard let rb = type.rowBytes(shape[0]) else {
            throw .invalidArgument("tensor '\(name)': row length \(shape[0]) is not a whole number of \(type) blocks")
        }
        let rows = shape.dropFirst().reduce(1, *)
        guard rb * rows == data.count else {
            throw .invalidArgument("tensor '\(name)': \(data.count) bytes given, \(rb * rows) expected for \(type) \(shape)")
        }
        guard !tensors.contains(where: { $0.name == name }) else {
            throw .invalidArgument("tensor '\(name)' added twice")
        }
        tensors.append((name, shape, type, data))
    }

    /// Adds a tensor from floats (row-major, `shape[0]` contiguous), quantizing to `type`.
    public mutating func addTensor(name: String, shape: [Int], type: GGMLType, values: [Float]) throws(TesseraError) {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }), shape.reduce(1, *) == values.count else {
            throw .invalidArgument("tensor '\(name)': \(values.count) values do not fill shape \(shape)")
        }
        let data = try Quantizer.quantize(values, rowLength: shape[0], to: type)
        try addTensor(name: name, shape: shape, type: type, data: data)
    }

    /// The complete file image.
    public func serialize() -> [UInt8] {
        var out = [UInt8]()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: s.utf8) }
        func value(_ v: GGUFValue) {
            switch v {
            case .string(let s): str(s)
            case .array(let a):
                u32(a.elementType.rawValue)
                u64(UInt64(a.count))
                if case .scalars(let bytes) = a.storage { out.append(contentsOf: bytes) } else { for e in a { value(e) } }
            default: v.appendScalarBytes(to: &out)
            }
        }
        func pad() { while out.count % alignment != 0 { out.append(0) } }

        var meta = metadata
        if alignment != 32, !meta.contains(where: { $0.key == "general.alignment" }) {
            meta.append(("general.alignment", .uint32(UInt32(alignment))))
        }
        u32(0x4655_4747)
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(meta.count))
        for (k, v) in meta {
            str(k)
            u32(v.type.rawValue)
            value(v)
        }
        var offset = 0
        var offsets = [Int]()
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (i, t) in tensors.enumerated() {
            str(t.name)
            u32(UInt32(t.shape.count))
            for d in t.shape { u64(UInt64(d)) }
            u32(t.type.rawValue)
            u64(UInt64(offsets[i]))
        }
        pad()
        for t in tensors {
            out.append(contentsOf: t.data)
            pad()
        }
        return out
    }

    /// Writes the image to `path` (replacing it).
    public func write(to path: String) throws(TesseraError) {
        let bytes = serialize()
        guard let f = fopen(path, "wb") else {
            throw .io("cannot create '\(path)': \(String(cString: strerror(errno)))")
        }
        let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        let closed = fclose(f)
        guard n == bytes.count, closed == 0 else { throw .io("short write to '\(path)'") }
    }
}
