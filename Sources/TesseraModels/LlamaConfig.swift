/// Hyperparameters of a Llama-family model (llama, mistral, qwen2, qwen3, gemma3: see
/// `ModelArchitecture`), read from GGUF metadata (`<arch>.*` keys) and validated before
/// anything is allocated.
public struct LlamaConfig: Sendable, Equatable {
    /// `general.architecture`, e.g. "llama".
    public var architecture: String
    /// The family's traits (`ModelArchitecture.known[architecture]`).
    public var family: ModelArchitecture
    /// Transformer blocks.
    public var layers: Int
    /// Model width d.
    public var embeddingLength: Int
    /// Width of the feed-forward layer.
    public var feedForwardLength: Int
    /// Query heads.
    public var heads: Int
    /// Key/value heads (fewer than `heads` for grouped-query attention).
    public var kvHeads: Int
    /// Dimensions per head.
    public var headDim: Int
    /// Tokens in the vocabulary (rows of the embedding).
    public var vocabularySize: Int
    /// The training context length.
    public var contextLength: Int
    /// ε of the RMS norms.
    public var rmsEpsilon: Float
    /// RoPE base θ.
    public var ropeBase: Float
    /// Dimensions of each head that RoPE rotates (the rest pass through).
    public var ropeDimensions: Int
    /// Linear RoPE scaling factor (positions are divided by it); 1 = none.
    public var ropeScale: Float
    /// `general.name`, or "unnamed" if absent.
    public var name: String
    /// Keys a query of a local layer sees, itself included (`<arch>.attention.sliding_window`);
    /// nil: every layer attends to the whole causal prefix.
    public var slidingWindow: Int?
    /// Per layer: does it attend through `slidingWindow` (local) rather than to everything
    /// before it (global)? All false without a window.
    public var localLayers: [Bool]
    /// RoPE base θ of local layers (`ropeBase` unless the family has its own).
    public var localRopeBase: Float
    /// Linear RoPE scaling of local layers (Gemma 3 scales only its global layers).
    public var localRopeScale: Float
    /// Multiplies q·k before the softmax (1/√headDim, or the family's rule).
    public var attentionScale: Float

    /// The hyperparameters of a GGUF model. Errors: `.malformedInput` / `.unsupported` naming the missing or unusable key.
    public init(gguf: GGUFFile) throws(TesseraError) {
        guard let arch = try gguf.string("general.architecture") else {
            throw .malformedInput("GGUF has no general.architecture")
        }
        let family = try ModelArchitecture.named(arch)
        func req(_ k: String) throws(TesseraError) -> Int {
            guard let v = try gguf.int("\(arch).\(k)") else { throw .malformedInput("GGUF is missing \(arch).\(k)") }
            return v
        }
        architecture = arch
        self.family = family
        name = (try? gguf.string("general.name")) ?? "unnamed"
        layers = try req("block_count")
        embeddingLength = try req("embedding_length")
        feedForwardLength = try req("feed_forward_length")
        heads = try req("attention.head_count")
        kvHeads = try gguf.int("\(arch).attention.head_count_kv") ?? heads
        contextLength = try gguf.int("\(arch).context_length") ?? 2048
        rmsEpsilon = Float(try gguf.double("\(arch).attention.layer_norm_rms_epsilon") ?? 1e-5)
        ropeBase = Float(try gguf.double("\(arch).rope.freq_base") ?? 10_000)
        guard heads > 0, embeddingLength > 0 else {
            throw .malformedInput("\(arch).attention.head_count (\(heads)) and embedding_length (\(embeddingLength)) must be positive")
        }
        headDim = try gguf.int("\(arch).attention.key_length") ?? (embeddingLength / heads)
        if let vl = try gguf.int("\(arch).attention.value_length"), vl != headDim {
            throw .unsupported("\(arch).attention.value_length = \(vl) differs from key_length = \(headDim) (not supported)")
        }
        ropeDimensions = try gguf.int("\(arch).rope.dimension_count") ?? headDim
        ropeScale = 1
        if let type = try gguf.string("\(arch).rope.scaling.type"), type == "linear",
           let f = try gguf.double("\(arch).rope.scaling.factor"), f > 0 {
            ropeScale = Float(f)
        }
        let tokens = gguf["tokenizer.ggml.tokens"]?.arrayValue?.count
        vocabularySize = try gguf.int("\(arch).vocab_size") ?? tokens ?? 0
        // local/global layers: the window, and which layers use it
        let window = try gguf.int("\(arch).attention.sliding_window")
        localLayers = [Bool](repeating: false, count: max(0, min(layers, 1024)))
        localRopeBase = ropeBase
        localRopeScale = ropeScale
        switch family.windowing {
        case .never:
            slidingWindow = nil
        case .everyLayer:
            slidingWindow = window
            if window != nil { localLayers = localLayers.map { _ in true } }
        case .pattern(let period):
            guard let window else { throw .malformedInput("GGUF is missing \(arch).attention.sliding_window (\(arch) has local layers)") }
            slidingWindow = window
            let key = "\(arch).attention.sliding_window_pattern"
            if let flags = gguf[key]?.arrayValue {
                guard flags.count == localLayers.count else {
                    throw .malformedInput("\(key) has \(flags.count) entries for \(layers) layers")
                }
                localLayers = try flags.enumerated().map { (i, v) throws(TesseraError) -> Bool in
                    if let b = v.boolValue { return b }
                    if let n = v.intValue { return n != 0 }
                    throw .malformedInput("\(key)[\(i)] is \(v), not a bool")
                }
            } else {
                let p = try gguf.int(key) ?? period
                guard (0...1024).contains(p) else { throw .malformedInput("\(key) = \(p) is out of range 0...1024") }
                // llama.cpp's rule: period 0 makes every layer local
                localLayers = localLayers.indices.map { p == 0 || $0 % p < p - 1 }
            }
            localRopeBase = Float(try gguf.double("\(arch).rope.freq_base_swa") ?? Double(family.localRopeBase ?? ropeBase))
            localRopeScale = 1
        }
        attentionScale = LlamaConfig.attentionScale(family: family, layers: layers, embeddingLength: embeddingLength,
                                                    heads: heads, headDim: headDim)
        try validate()
    }

    /// 1/√headDim; Gemma 3 27B (62 layers) scales by 1/√(d/heads) instead, as its reference
    /// implementation (`query_pre_attn_scalar`) and llama.cpp do.
    static func attentionScale(family: ModelArchitecture, layers: Int, embeddingLength: Int, heads: Int, headDim: Int) -> Float {
        if family.name == "gemma3", layers == 62, heads > 0 {
            return 1 / Float(embeddingLength / heads).squareRoot()
        }
        return 1 / Float(max(headDim, 1)).squareRoot()
    }

    /// A configuration built in code (tests, synthetic models).
    public init(layers: Int, embeddingLength: Int, feedForwardLength: Int, heads: Int, kvHeads: Int,
                vocabularySize: Int, contextLength: Int = 2048, rmsEpsilon: Float = 1e-5,
                ropeBase: Float = 10_000, headDim: Int? = nil, ropeDimensions: Int? = nil) throws(TesseraError) {
        architecture = "llama"
        family = ModelArchitecture.known["llama"]!
        name = "synthetic"
        self.layers = layers
        self.embeddingLength = embeddingLength
        self.feedForwardLength = feedForwardLength
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim ?? (heads > 0 ? embeddingLength / heads : 0)
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.rmsEpsilon = rmsEpsilon
        self.ropeBase = ropeBase
        self.ropeDimensions = ropeDimensions ?? self.headDim
        self.ropeScale = 1
        slidingWindow = nil
        localLayers = [Bool](repeating: false, count: max(0, min(layers, 1024)))
        localRopeBase = ropeBase
        localRopeScale = 1
        attentionScale = 1 / Float(max(self.headDim, 1)).squareRoot()
        try validate()
    }

    func validate() throws(TesseraError) {
        func bad(_ s: String) -> TesseraError { .malformedInput("model hyperparameters: \(s)") }
        guard layers >= 1, layers <= 1024 else { throw bad("block_count = \(layers) is out of range") }
        guard embeddingLength >= 1, embeddingLength <= 1 << 16 else { throw bad("embedding_length = \(embeddingLength) is out of range") }
        guard feedForwardLength >= 1, feedForwardLength <= 1 << 18 else { throw bad("feed_forward_length = \(feedForwardLength) is out of range") }
        guard heads >= 1, heads <= 1024, kvHeads >= 1, kvHeads <= heads, heads % kvHeads == 0 else {
            throw bad("head_count = \(heads), head_count_kv = \(kvHeads): need 1 <= kv <= heads and heads % kv == 0")
        }
        guard headDim >= 2, headDim % 2 == 0, headDim <= 1024 else { throw bad("head dimension \(headDim) must be even and in 2...1024") }
        guard ropeDimensions >= 2, ropeDimensions <= headDim, ropeDimensions % 2 == 0 else {
            throw bad("rope.dimension_count = \(ropeDimensions) must be even and <= head dimension \(headDim)")
        }
        guard vocabularySize >= 1, vocabularySize <= 1 << 22 else { throw bad("vocab_size = \(vocabularySize) is out of range") }
        guard contextLength >= 1 else { throw bad("context_length = \(contextLength) must be positive") }
        guard rmsEpsilon.isFinite, rmsEpsilon > 0, ropeBase.isFinite, ropeBase > 0 else {
            throw bad("rms epsilon (\(rmsEpsilon)) and rope base (\(ropeBase)) must be positive")
        }
        guard localRopeBase.isFinite, localRopeBase > 0, ropeScale.isFinite, ropeScale > 0,
              localRopeScale.isFinite, localRopeScale > 0 else {
            throw bad("local rope base (\(localRopeBase)) and rope scales (\(ropeScale), \(localRopeScale)) must be positive")
        }
        if let w = slidingWindow {
            guard w >= 1, w <= 1 << 24 else { throw bad("sliding_window = \(w) must be in 1...\(1 << 24)") }
        }
        guard localLayers.count == layers else { throw bad("\(localLayers.count) local/global flags for \(layers) layers") }
        guard attentionScale.isFinite, attentionScale > 0 else { throw bad("attention scale \(attentionScale) must be positive") }
    }

    /// Multiply-accumulates of the weight projections per token (attention excluded).
    public var projectionMACsPerToken: Int {
        let d = embeddingLength, f = feedForwardLength
        let perLayer = d * heads * headDim + 2 * d * kvHeads * headDim + heads * headDim * d + 3 * d * f
        return layers * perLayer + d * vocabularySize
    }
}
