/// The tensor element type code of a GGUF file (ggml's `enum ggml_type`; numbers are the
/// on-disk codes).
///
/// This is the file's vocabulary, not a compute format: every code can be *read* (so a file
/// is described and walked completely, whatever types it holds). What Tessera computes with
/// is `Tessera.QuantFormat`; ``quantFormat`` is the one mapping between the two (the C
/// library's table), and block layouts and names of the mapped codes come from it. Only the
/// codes Tessera does not compute keep their layout here, to size their tensors.
public struct GGMLType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let f32 = GGMLType(rawValue: 0)
    public static let f16 = GGMLType(rawValue: 1)
    public static let q4_0 = GGMLType(rawValue: 2)
    public static let q4_1 = GGMLType(rawValue: 3)
    public static let q5_0 = GGMLType(rawValue: 6)
    public static let q5_1 = GGMLType(rawValue: 7)
    public static let q8_0 = GGMLType(rawValue: 8)
    public static let q8_1 = GGMLType(rawValue: 9)
    public static let q2_K = GGMLType(rawValue: 10)
    public static let q3_K = GGMLType(rawValue: 11)
    public static let q4_K = GGMLType(rawValue: 12)
    public static let q5_K = GGMLType(rawValue: 13)
    public static let q6_K = GGMLType(rawValue: 14)
    public static let q8_K = GGMLType(rawValue: 15)
    public static let i8 = GGMLType(rawValue: 24)
    public static let i16 = GGMLType(rawValue: 25)
    public static let i32 = GGMLType(rawValue: 26)
    public static let i64 = GGMLType(rawValue: 27)
    public static let f64 = GGMLType(rawValue: 28)
    public static let bf16 = GGMLType(rawValue: 30)

    /// The format Tessera computes this type with, or nil for a type it does not implement
    /// (Q5_0, the K-quants but Q6_K, integer tensors, ...). The only place GGUF type codes
    /// meet Tessera's formats.
    public var quantFormat: QuantFormat? { QuantFormat(ggmlType: Int(rawValue)) }

    /// The code of a format that GGUF files can hold, or nil for Tessera-only formats.
    public init?(_ format: QuantFormat) {
        guard let code = format.ggmlType, let raw = UInt32(exactly: code) else { return nil }
        self.init(rawValue: raw)
    }

    /// (elements per block, bytes per block) for the types whose layout is known; nil otherwise.
    public var blockLayout: (elements: Int, bytes: Int)? {
        if let f = quantFormat { return (f.blockElements, f.blockBytes) }
        switch rawValue {  // types Tessera reads past but does not compute
        case 6: return (32, 22)
        case 7: return (32, 24)
        case 9: return (32, 36)
        case 10: return (256, 84)
        case 11: return (256, 110)
        case 12: return (256, 144)
        case 13: return (256, 176)
        case 15: return (256, 292)
        case 24: return (1, 1)
        case 25: return (1, 2)
        case 26: return (1, 4)
        case 27: return (1, 8)
        case 28: return (1, 8)
        default: return nil
        }
    }

    /// Whether the runner can compute with this type (dequantize rows, quantized GEMV/GEMM):
    /// exactly the types with a ``quantFormat``.
    public var isSupported: Bool { quantFormat != nil }

    /// The supported types, in a fixed order (tests walk them all).
    public static let supported: [GGMLType] = QuantFormat.allCases.compactMap { GGMLType($0) }

    /// ggml's name of the type ("Q4_0", "BF16", ...).
    public var name: String {
        if let f = quantFormat { return f.name.uppercased() }
        switch rawValue {
        case 6: return "Q5_0"
        case 7: return "Q5_1"
        case 9: return "Q8_1"
        case 10: return "Q2_K"
        case 11: return "Q3_K"
        case 12: return "Q4_K"
        case 13: return "Q5_K"
        case 15: return "Q8_K"
        case 16...23: return "IQ-type \(rawValue)"
        case 24: return "I8"
        case 25: return "I16"
        case 26: return "I32"
        case 27: return "I64"
        case 28: return "F64"
        case 29: return "IQ1_M"
        default: return "type \(rawValue)"
        }
    }

    public var description: String { name }

    /// Bytes of one row of `count` elements, or nil if `count` is not a whole number of blocks
    /// or the layout is unknown. Overflow-checked.
    public func rowBytes(_ count: Int) -> Int? {
        guard let (e, b) = blockLayout, count >= 0, count % e == 0 else { return nil }
        let (r, o) = (count / e).multipliedReportingOverflow(by: b)
        return o ? nil : r
    }
}
