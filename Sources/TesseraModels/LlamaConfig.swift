/// Hyperparameters of a Llama-family model, read from GGUF metadata (`<arch>.*` keys).
public struct LlamaConfig: Sendable, Equatable {
    /// `general.architecture`, e.g. "llama".
    public var architecture: String
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

    /// The hyperparameters of a GGUF model. Errors: `.malformedInput` / `.unsupported` naming the missing or unusable key.
    public init(gguf: GGUFFile) throws(TesseraError) {
        guard let arch = try gguf.string("general.architecture") else {
            throw .malformedInput("GGUF has no general.architecture")
        }
        guard arch == "llama" || arch == "mistral" else {
            throw .unsupported("architecture '\(arch)' is not supported (supported: llama and models that use its layout, e.g. Mistral, SmolLM, TinyLlama)")
        }
        func req(_ k: String) throws(TesseraError) -> Int {
            guard let v = try gguf.int("\(arch).\(k)") else { throw .malformedInput("GGUF is missing \(arch).\(k)") }
            return v
        }
        architecture = arch
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
        ropeDimensions = try gguf.int("\(arch).rope.dimension_count") ?? headDim
        ropeScale = 1
        if let type = try gguf.string("\(arch).rope.scaling.type"), type == "linear",
           let f = try gguf.double("\(arch).rope.scaling.factor"), f > 0 {
            ropeScale = Float(f)
        }
        let tokens = gguf["tokenizer.ggml.tokens"]?.arrayValue?.count
        vocabularySize = try gguf.int("\(arch).vocab_size") ?? tokens ?? 0
        try validate()
    }

    /// A configuration built in code (tests, synthetic models).
    public init(layers: Int, embeddingLength: Int, feedForwardLength: Int, heads: Int, kvHeads: Int,
                vocabularySize: Int, contextLength: Int = 2048, rmsEpsilon: Float = 1e-5,
                ropeBase: Float = 10_000, headDim: Int? = nil, ropeDimensions: Int? = nil) throws(TesseraError) {
        architecture = "llama"
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
    }

    /// Multiply-accumulates of the weight projections per token (attention excluded).
    public var projectionMACsPerToken: Int {
        let d = embeddingLength, f = feedForwardLength
        let perLayer = d * heads * headDim + 2 * d * kvHeads * headDim + heads * headDim * d + 3 * d * f
        return layers * perLayer + d * vocabularySize
    }
}
