/// A GGUF metadata array, stored compactly.
///
/// Arrays of numbers and bools keep their little-endian bytes as they are in the file (1–8 bytes
/// per element), strings are Swift strings, nested arrays are arrays: a parsed file's metadata
/// costs a small multiple of the file's own bytes, never a boxed `GGUFValue` (24 bytes) per
/// element. Elements are decoded on access.
public struct GGUFArray: Sendable, Equatable, RandomAccessCollection, CustomStringConvertible {
    /// The type of every element.
    public let elementType: GGUFValueType

    enum Storage: Sendable, Equatable {
        /// Scalars of `elementType`, little-endian, `elementType.scalarSize` bytes each.
        case scalars([UInt8])
        case strings([String])
        case arrays([GGUFArray])
    }
    let storage: Storage

    init(elementType: GGUFValueType, storage: Storage) {
        self.elementType = elementType
        self.storage = storage
    }

    /// An array of `elementType` holding `values`. Every value must be of `elementType`
    /// (a mismatch is a programming error and traps).
    public init(_ elementType: GGUFValueType, _ values: [GGUFValue]) {
        self.elementType = elementType
        for v in values {
            precondition(v.type == elementType, "GGUFArray: a \(v.type) value in an array of \(elementType)")
        }
        switch elementType {
        case .string: storage = .strings(values.map { $0.stringValue! })
        case .array: storage = .arrays(values.map { if case .array(let a) = $0 { return a } else { fatalError() } })
        default:
            var bytes = [UInt8]()
            bytes.reserveCapacity(values.count * elementType.scalarSize)
            for v in values { v.appendScalarBytes(to: &bytes) }
            storage = .scalars(bytes)
        }
    }

    /// 0.
    public var startIndex: Int { 0 }
    /// The number of elements.
    public var endIndex: Int {
        switch storage {
        case .scalars(let b): return b.count / elementType.scalarSize
        case .strings(let s): return s.count
        case .arrays(let a): return a.count
        }
    }

    /// Element i, decoded (traps outside `0..<count`, as arrays do).
    public subscript(i: Int) -> GGUFValue {
        switch storage {
        case .strings(let s): return .string(s[i])
        case .arrays(let a): return .array(a[i])
        case .scalars(let b):
            precondition(i >= 0 && i < count, "GGUFArray index \(i) out of range 0..<\(count)")
            return b.withUnsafeBytes { GGUFValue.decodeScalar(elementType, from: $0.baseAddress! + i * elementType.scalarSize) }
        }
    }

    /// The elements as strings (nil unless this is an array of strings), without boxing each.
    public var strings: [String]? { if case .strings(let s) = storage { return s } else { return nil } }

    /// The element type and count, e.g. "[string x 49152]".
    public var description: String { "[\(elementType) x \(count)]" }
}

extension GGUFValueType {
    /// Bytes of one scalar of this type (0 for strings and arrays).
    var scalarSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return 0
        }
    }
}

extension GGUFValue {
    /// An array value built from elements (see `GGUFArray.init(_:_:)`).
    public static func array(_ elementType: GGUFValueType, _ values: [GGUFValue]) -> GGUFValue {
        .array(GGUFArray(elementType, values))
    }

    /// Decodes one little-endian scalar of `type` (not string or array) at `p`.
    static func decodeScalar(_ type: GGUFValueType, from p: UnsafeRawPointer) -> GGUFValue {
        func load<T: FixedWidthInteger>(_: T.Type) -> T { T(littleEndian: p.loadUnaligned(as: T.self)) }
        switch type {
        case .uint8: return .uint8(load(UInt8.self))
        case .int8: return .int8(load(Int8.self))
        case .uint16: return .uint16(load(UInt16.self))
        case .int16: return .int16(load(Int16.self))
        case .uint32: return .uint32(load(UInt32.self))
        case .int32: return .int32(load(Int32.self))
        case .float32: return .float32(Float(bitPattern: load(UInt32.self)))
        case .bool: return .bool(load(UInt8.self) != 0)
        case .uint64: return .uint64(load(UInt64.self))
        case .int64: return .int64(load(Int64.self))
        case .float64: return .float64(Double(bitPattern: load(UInt64.self)))
        case .string, .array: preconditionFailure("decodeScalar: \(type) is not a scalar type")
        }
    }

    /// Appends the little-endian encoding of a scalar value (not string or array).
    func appendScalarBytes(to out: inout [UInt8]) {
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        switch self {
        case .uint8(let x): out.append(x)
        case .int8(let x): put(x)
        case .uint16(let x): put(x)
        case .int16(let x): put(x)
        case .uint32(let x): put(x)
        case .int32(let x): put(x)
        case .float32(let x): put(x.bitPattern)
        case .bool(let x): out.append(x ? 1 : 0)
        case .uint64(let x): put(x)
        case .int64(let x): put(x)
        case .float64(let x): put(x.bitPattern)
        case .string, .array: preconditionFailure("appendScalarBytes: \(type) is not a scalar type")
        }
    }
}
