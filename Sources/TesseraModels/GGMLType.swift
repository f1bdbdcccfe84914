/// The tensor element types of GGUF files (ggml's `enum ggml_type`; numbers are the on-disk codes).
///
/// Every code can be *read* (so a file is described completely); `isSupported` says which ones
/// the Llama runner can compute with.
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

    /// (elements per block, bytes per block) for the types whose layout we know; nil otherwise.
    public var blockLayout: (elements: Int, bytes: Int)? {
        switch rawValue {
        case 0: return (1, 4)
        case 1: return (1, 2)
        case 2: return (32, 18)
        case 3: return (32, 20)
        case 6: return (32, 22)
        case 7: return (32, 24)
        case 8: return (32, 34)
        case 9: return (32, 36)
        case 10: return (256, 84)
        case 11: return (256, 110)
        case 12: return (256, 144)
        case 13: return (256, 176)
        case 14: return (256, 210)
        case 15: return (256, 292)
        case 24: return (1, 1)
        case 25: return (1, 2)
        case 26: return (1, 4)
        case 27: return (1, 8)
        case 28: return (1, 8)
        case 30: return (1, 2)
        default: return nil
        }
    }

    /// Whether the runner can compute with this type (dequantize rows, quantized GEMV/GEMM).
    public var isSupported: Bool {
        switch self {
        case .f32, .f16, .bf16, .q4_0, .q4_1, .q8_0, .q6_K: return true
        default: return false
        }
    }

    /// The supported types, in a fixed order (tests walk them all).
    public static let supported: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q8_0, .q6_K]

    public var name: String {
        switch rawValue {
        case 0: return "F32"
        case 1: return "F16"
        case 2: return "Q4_0"
        case 3: return "Q4_1"
        case 6: return "Q5_0"
        case 7: return "Q5_1"
        case 8: return "Q8_0"
        case 9: return "Q8_1"
        case 10: return "Q2_K"
        case 11: return "Q3_K"
        case 12: return "Q4_K"
        case 13: return "Q5_K"
        case 14: return "Q6_K"
        case 15: return "Q8_K"
        case 16...23: return "IQ-type \(rawValue)"
        case 24: return "I8"
        case 25: return "I16"
        case 26: return "I32"
        case 27: return "I64"
        case 28: return "F64"
        case 29: return "IQ1_M"
        case 30: return "BF16"
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
