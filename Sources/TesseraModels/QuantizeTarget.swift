/// llama-quantize's K mixes: the base K type for most weights, more bits where they matter.
///
/// | mix | base | `attn_v` | `ffn_down` | `attn_qkv` |
/// |---|---|---|---|---|
/// | Q4_K_S | Q4_K | Q5_K in layers 0–3 | Q5_K in the first n/8 layers | Q4_K |
/// | Q4_K_M | Q4_K | Q6_K in "more bits" layers | Q6_K in "more bits" layers | Q5_K |
/// | Q5_K_S | Q5_K | Q5_K | Q5_K | Q5_K |
/// | Q5_K_M | Q5_K | Q6_K in "more bits" layers | Q6_K in "more bits" layers | Q5_K |
///
/// "More bits" layers (llama.cpp's `use_more_bits`): the first n/8, the last n/8 and every third
/// in between (`i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2`). The output projection gets Q6_K.
public enum QuantizeMix: String, CaseIterable, Sendable {
    /// Q4_K with Q5_K in the first attention-value and feed-forward-down layers.
    case q4_K_S = "Q4_K_S"
    /// Q4_K with Q6_K attention values and feed-forward downs in the "more bits" layers.
    case q4_K_M = "Q4_K_M"
    /// Q5_K throughout.
    case q5_K_S = "Q5_K_S"
    /// Q5_K with Q6_K attention values and feed-forward downs in the "more bits" layers.
    case q5_K_M = "Q5_K_M"

    /// The type of most weights.
    public var base: GGMLType { self == .q4_K_S || self == .q4_K_M ? .q4_K : .q5_K }

    /// llama.cpp's `general.file_type` of the mix.
    var fileType: UInt32 { [.q4_K_S: 14, .q4_K_M: 15, .q5_K_S: 16, .q5_K_M: 17][self]! }

    /// The type of weight `role` (the name after `blk.N.`) in layer `layer` of `layers`.
    func type(role: String, layer: Int, layers: Int) -> GGMLType {
        let moreBits = layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
        switch (self, role) {
        case (.q4_K_M, "attn_v.weight"), (.q4_K_M, "ffn_down.weight"),
             (.q5_K_M, "attn_v.weight"), (.q5_K_M, "ffn_down.weight"):
            return moreBits ? .q6_K : base
        case (.q4_K_M, "attn_qkv.weight"): return .q5_K
        case (.q4_K_S, "attn_v.weight"): return layer < 4 ? .q5_K : base
        case (.q4_K_S, "ffn_down.weight"): return layer < layers / 8 ? .q5_K : base
        default: return base
        }
    }
}

/// What `tessera quantize --type` asks for: one block type for every weight matrix, or a K mix.
public enum QuantizeTarget: Sendable, Equatable, CustomStringConvertible {
    /// Every weight matrix of this type (with the output and fallback rules).
    case type(GGMLType)
    /// A llama-quantize K mix.
    case mix(QuantizeMix)

    /// The target called `name` (`q4_0`, `Q6_K`, `f16`, `Q4_K_M` ...), case-insensitive; nil if unknown.
    public init?(name: String) {
        if let m = QuantizeMix.allCases.first(where: { $0.rawValue.lowercased() == name.lowercased() }) {
            self = .mix(m)
        } else if let t = ModelQuantizer.type(named: name) {
            self = .type(t)
        } else {
            return nil
        }
    }

    /// Every name `init(name:)` accepts for which Tessera has the quantizers.
    public static var available: [String] {
        ModelQuantizer.targetTypes.map { $0.name.lowercased() }
            + QuantizeMix.allCases.filter { $0.base.isSupported && GGMLType.q6_K.isSupported }.map(\.rawValue)
    }

    /// The type name or the mix name.
    public var description: String {
        switch self {
        case .type(let t): return t.name
        case .mix(let m): return m.rawValue
        }
    }

    /// The type most weights get.
    var base: GGMLType {
        switch self {
        case .type(let t): return t
        case .mix(let m): return m.base
        }
    }

    /// llama.cpp's `general.file_type` of the result (nil where it has none).
    var fileType: UInt32? {
        switch self {
        case .type(let t): return ModelQuantizer.fileType(t)
        case .mix(let m): return m.fileType
        }
    }
}
