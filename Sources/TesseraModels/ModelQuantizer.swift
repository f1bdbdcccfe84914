/// Requantizes a GGUF model (what `tessera quantize` runs), llama-quantize style.
///
/// Policy, tensor by tensor (`plan(for:)`):
/// * 1-D tensors (norm weights, biases) stay as they are: they are tiny and precision-critical.
/// * The output projection (`output.weight`, or `token_embd.weight` when the embedding is tied
///   and doubles as the output) gets Q6_K when the target has fewer bits than Q6_K (Q4_0, Q4_1,
///   any 2–5-bit type) — llama-quantize's rule, the logits are the most sensitive product — and
///   the target otherwise (Q8_0 if its rows are not whole Q6_K blocks).
/// * Every other tensor of two or more dimensions (projections, untied embeddings) gets the target,
///   or, for a K mix (`QuantizeMix`), the mix's type for it.
/// * A tensor whose rows are not whole blocks of its planned 256-element K type falls back as
///   llama-quantize does: Q6_K → Q8_0, Q5_K → Q5_1, Q4_K → Q5_0, Q3_K/Q2_K → IQ4_NL → Q4_0
///   (each only where Tessera has its quantizer, else on to Q8_0).
/// * A tensor already of its planned type is copied byte for byte (no second rounding).
/// * Everything else is dequantized to float and quantized with Tessera's quantizers
///   (`Quantizer.quantize`, ggml's rounding), whatever the source type the runner can read.
/// Metadata is copied, with `general.file_type` set to llama.cpp's file-type number of the target.
/// Refused: a target type without a quantizer, a source tensor type Tessera cannot decode, a row
/// length that is not a whole number of the target's (and its fallback's) blocks, named with the tensor.
public enum ModelQuantizer {
    /// What happens to one tensor.
    public struct Decision: Sendable, Equatable {
        /// The tensor's name.
        public let name: String
        /// Its type in the source file.
        public let source: GGMLType
        /// Its type in the output.
        public let target: GGMLType
        /// Whether `target` is the fallback of a K type whose blocks do not fit the rows.
        public let fellBack: Bool
        /// Copied as is (no requantization).
        public var copied: Bool { source == target }
    }

    /// The types `tessera quantize --type` accepts: those with a quantizer, plus F32.
    public static var targetTypes: [GGMLType] { [.f32] + GGMLType.supported.filter { $0 != .f32 } }

    /// The type of a ggml type name (`q4_0`, `Q6_K`, `f16` ...), case-insensitive; nil if unknown.
    public static func type(named name: String) -> GGMLType? {
        (0..<64).map { GGMLType(rawValue: UInt32($0)) }.first { $0.blockLayout != nil && $0.name.lowercased() == name.lowercased() }
    }

    /// llama.cpp's `general.file_type` for a model mostly of `type` (nil where it has none).
    static func fileType(_ type: GGMLType) -> UInt32? {
        // a plain K type is llama.cpp's "_S" file type of it (Q3_K_S, Q4_K_S, Q5_K_S)
        let table: [GGMLType: UInt32] = [.f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9,
                                         .q2_K: 10, .q3_K: 11, .q4_K: 14, .q5_K: 16, .q6_K: 18, .iq4_nl: 25, .bf16: 32]
        return table[type]
    }

    /// Bits per weight of a block type.
    static func bitsPerWeight(_ type: GGMLType) -> Double {
        guard let (e, b) = type.blockLayout else { return 32 }
        return Double(b * 8) / Double(e)
    }

    /// llama-quantize's fallback chain for a row length that is not whole 256-blocks.
    static func fallbacks(_ type: GGMLType) -> [GGMLType] {
        switch type {
        case .q6_K: return [.q8_0]
        case .q5_K: return [.q5_1, .q8_0]
        case .q4_K: return [.q5_0, .q8_0]
        case .q3_K, .q2_K: return [.iq4_nl, .q4_0]
        default: return []
        }
    }

    /// The type each tensor of `file` gets when quantizing to `target`.
    public static func plan(for file: GGUFFile, target: GGMLType) throws(TesseraError) -> [Decision] {
        try plan(for: file, target: .type(target))
    }

    /// The type each tensor of `file` gets when quantizing to `target` (a type or a K mix).
    public static func plan(for file: GGUFFile, target: QuantizeTarget) throws(TesseraError) -> [Decision] {
        let base = target.base
        for needed in [base] + (target == .type(base) ? [] : [GGMLType.q6_K]) where !needed.isSupported {
            throw .unsupported("cannot quantize to \(target): Tessera has no quantizer for \(needed.name) (available: \(QuantizeTarget.available.joined(separator: ", ")))")
        }
        let tiedOutput = file.tensor(named: "output.weight") == nil
        // layer index of "blk.N.role"; the layer count from the highest index
        func layerRole(_ name: String) -> (Int, String)? {
            let parts = name.split(separator: ".", maxSplits: 2)
            guard parts.count == 3, parts[0] == "blk", let i = Int(parts[1]) else { return nil }
            return (i, String(parts[2]))
        }
        let layers = (file.tensors.compactMap { layerRole($0.name)?.0 }.max() ?? -1) + 1
        var out = [Decision]()
        for t in file.tensors {
            var type = base
            if t.shape.count < 2 {
                type = t.type
            } else if t.name == "output.weight" || (tiedOutput && t.name == "token_embd.weight") {
                if bitsPerWeight(base) < bitsPerWeight(.q6_K) { type = .q6_K }
            } else if case .mix(let m) = target, let (layer, role) = layerRole(t.name) {
                type = m.type(role: role, layer: layer, layers: layers)
            }
            var fellBack = false
            func fits(_ x: GGMLType) -> Bool { x.blockLayout.map { t.rowLength % $0.elements == 0 } ?? false }
            if !fits(type), let f = fallbacks(type).first(where: { $0.isSupported && fits($0) }) {
                type = f
                fellBack = true
            }
            if type != t.type {
                guard t.type.isSupported else {
                    throw .unsupported("tensor '\(t.name)' is \(t.type.name), which Tessera cannot decode to requantize")
                }
                guard fits(type) else {
                    throw .invalidArgument("tensor '\(t.name)' has rows of \(t.rowLength) elements, not a multiple of the \(type.name) block of \(type.blockLayout?.elements ?? 0)")
                }
            }
            out.append(Decision(name: t.name, source: t.type, target: type, fellBack: fellBack))
        }
        return out
    }

    /// The requantized model as a GGUF image builder (metadata copied, tensors in file order).
    /// `progress` is called after each tensor with its decision.
    public static func quantize(_ file: GGUFFile, to target: GGMLType,
                                progress: (Decision) -> Void = { _ in }) throws(TesseraError) -> GGUFWriter {
        try quantize(file, to: .type(target), progress: progress)
    }

    /// As `quantize(_:to:progress:)` for a type or a K mix.
    public static func quantize(_ file: GGUFFile, to target: QuantizeTarget,
                                progress: (Decision) -> Void = { _ in }) throws(TesseraError) -> GGUFWriter {
        let decisions = try plan(for: file, target: target)
        var w = GGUFWriter(alignment: file.alignment)
        for key in file.metadataKeys {
            if let v = file.metadata[key] { w.set(key, v) }
        }
        if let ft = target.fileType { w.set("general.file_type", .uint32(ft)) }
        w.set("general.quantization_version", .uint32(2))
        for (t, d) in zip(file.tensors, decisions) {
            let data: [UInt8] = try file.withTensorBytes(t) { (raw: UnsafeRawBufferPointer) throws(TesseraError) -> [UInt8] in
                if d.copied { return Array(raw) }
                let values = try Quantizer.dequantize(raw, type: t.type, rowLength: t.rowLength)
                return try Quantizer.quantize(values, rowLength: t.rowLength, to: d.target)
            }
            try w.addTensor(name: t.name, shape: t.shape, type: d.target, data: data)
            progress(d)
        }
        return w
    }
}
