/// The tensor element type code of a GGUF file (ggml's `enum ggml_type`; numbers are the
/// on-disk codes).
///
/// This is the file's vocabulary, not a compute format: every code can be *read* (so a file
/// is described and walked completely, whatever types it holds). What Tessera computes with
/// is `Tessera.QuantFormat`; ``quantFormat`` is the one mapping between the two (the C
/// library's table), and block layouts and names of the mapped codes come from it. Only the
/// codes Tessera does not compute keep their layout here, to size their tensors.
public struct GGMLType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The on-disk code (ggml's `enum ggml_type` value).
    public let rawValue: UInt32
    /// The type of any code, known or not (an unknown code is described as "type N").
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// IEEE float, 4 bytes (`QuantFormat.f32`).
    public static let f32 = GGMLType(rawValue: 0)
    /// IEEE half, 2 bytes (`QuantFormat.f16`).
    public static let f16 = GGMLType(rawValue: 1)
    /// 32 weights in 18 bytes: f16 scale, 4-bit quants (`QuantFormat.q4_0`).
    public static let q4_0 = GGMLType(rawValue: 2)
    /// 32 weights in 20 bytes: f16 scale and minimum, 4-bit quants (`QuantFormat.q4_1`).
    public static let q4_1 = GGMLType(rawValue: 3)
    /// 32 weights in 22 bytes: f16 scale, 5-bit quants (`QuantFormat.q5_0`).
    public static let q5_0 = GGMLType(rawValue: 6)
    /// 32 weights in 24 bytes: f16 scale and minimum, 5-bit quants (`QuantFormat.q5_1`).
    public static let q5_1 = GGMLType(rawValue: 7)
    /// 32 weights in 34 bytes: f16 scale, int8 quants (`QuantFormat.q8_0`).
    public static let q8_0 = GGMLType(rawValue: 8)
    /// 32 weights in 36 bytes, 8-bit with a block sum; read past, not computed.
    public static let q8_1 = GGMLType(rawValue: 9)
    /// K-quant, 256 weights in 84 bytes (2-bit with minimums; `QuantFormat.q2_K`).
    public static let q2_K = GGMLType(rawValue: 10)
    /// K-quant, 256 weights in 110 bytes (3-bit; `QuantFormat.q3_K`).
    public static let q3_K = GGMLType(rawValue: 11)
    /// K-quant, 256 weights in 144 bytes (4-bit with minimums; `QuantFormat.q4_K`).
    public static let q4_K = GGMLType(rawValue: 12)
    /// K-quant, 256 weights in 176 bytes (5-bit with minimums; `QuantFormat.q5_K`).
    public static let q5_K = GGMLType(rawValue: 13)
    /// K-quant, 256 weights in 210 bytes (6-bit; `QuantFormat.q6_K`).
    public static let q6_K = GGMLType(rawValue: 14)
    /// K-quant, 256 weights in 292 bytes (8-bit, for activations); read past, not computed.
    public static let q8_K = GGMLType(rawValue: 15)
    /// Non-linear 4-bit, 32 weights in 18 bytes (`QuantFormat.iq4_nl`).
    public static let iq4_nl = GGMLType(rawValue: 20)
    /// 8-bit integer tensor; read past, not computed.
    public static let i8 = GGMLType(rawValue: 24)
    /// 16-bit integer tensor; read past, not computed.
    public static let i16 = GGMLType(rawValue: 25)
    /// 32-bit integer tensor; read past, not computed.
    public static let i32 = GGMLType(rawValue: 26)
    /// 64-bit integer tensor; read past, not computed.
    public static let i64 = GGMLType(rawValue: 27)
    /// IEEE double, 8 bytes; read past, not computed.
    public static let f64 = GGMLType(rawValue: 28)
    /// bfloat16, 2 bytes (`QuantFormat.bf16`).
    public static let bf16 = GGMLType(rawValue: 30)

    /// The format Tessera computes this type with, or nil for a type it does not implement
    /// (Q8_1, Q8_K, the IQ types but IQ4_NL, integer tensors, ...). The only place GGUF type codes
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
        case 9: return (32, 36)
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
        case 9: return "Q8_1"
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

    /// The type's `name`.
    public var description: String { name }

    /// Bytes of one row of `count` elements, or nil if `count` is not a whole number of blocks
    /// or the layout is unknown. Overflow-checked.
    public func rowBytes(_ count: Int) -> Int? {
        guard let (e, b) = blockLayout, count >= 0, count % e == 0 else { return nil }
        let (r, o) = (count / e).multipliedReportingOverflow(by: b)
        return o ? nil : r
    }
}
