/// How one transformer family's block differs from Llama's: the table the loader looks
/// `general.architecture` up in (`ModelArchitecture.known`). Every family shares the skeleton
/// `x += Attn(norm(x)); x += FFN(norm(x))` with RMSNorm, RoPE, grouped-query attention and a
/// gated FFN; the traits below are the differences.
public struct ModelArchitecture: Sendable, Equatable {
    /// How RoPE pairs the dimensions of a head.
    public enum RoPEStyle: Sendable, Equatable {
        /// `(x[2j], x[2j+1])` — ggml's "normal" RoPE (Llama GGUF files are converted for it).
        case adjacentPairs
        /// `(x[j], x[j + dims/2])` — ggml's "NeoX" RoPE (Qwen, Gemma).
        case halves
    }

    /// The gate activation of the feed-forward layer: `down(act(gate) ⊙ up)`.
    public enum Activation: Sendable, Equatable {
        /// SiLU, `x / (1 + e^(−x))` (SwiGLU).
        case silu
        /// GELU with the tanh approximation, `½x(1 + tanh(√(2/π)(x + 0.044715x³)))` (GeGLU).
        case geluTanh
    }

    /// Which layers attend through a sliding window when the file gives
    /// `<arch>.attention.sliding_window`.
    public enum Windowing: Sendable, Equatable {
        /// None: the key is ignored (the family runs full causal attention).
        case never
        /// Every layer (Mistral-style).
        case everyLayer
        /// Local layers alternate with global ones: with period p, layer l is local iff
        /// `l % p < p − 1` (the last of every p layers is global). The file may give the
        /// pattern (`<arch>.attention.sliding_window_pattern`: a period or one bool per layer);
        /// `period` is the family's default. The window is required.
        case pattern(period: Int)
    }

    /// The `general.architecture` value.
    public let name: String
    /// RoPE pairing.
    public let ropeStyle: RoPEStyle
    /// q/k/v projections have biases (`attn_q.bias`, `attn_k.bias`, `attn_v.bias`).
    public let qkvBias: Bool
    /// Per-head RMSNorm of q and k before RoPE (`attn_q_norm`, `attn_k_norm`, `head_dim` weights).
    public let qkNorm: Bool
    /// RMSNorm of the attention and FFN outputs before each residual add
    /// (`post_attention_norm`, `post_ffw_norm`).
    public let postNorms: Bool
    /// FFN gate activation.
    public let activation: Activation
    /// Token embeddings are multiplied by √d (Gemma).
    public let scalesEmbedding: Bool
    /// Which layers use the sliding window.
    public let windowing: Windowing
    /// RoPE base of local (windowed) layers when the file gives none (nil: the global base).
    public let localRopeBase: Float?

    /// The families Tessera runs, keyed by `general.architecture`.
    public static let known: [String: ModelArchitecture] = {
        let llama = ModelArchitecture(name: "llama", ropeStyle: .adjacentPairs, qkvBias: false, qkNorm: false,
                                      postNorms: false, activation: .silu, scalesEmbedding: false,
                                      windowing: .everyLayer, localRopeBase: nil)
        var table = [String: ModelArchitecture]()
        for a in [
            llama,
            llama.renamed("mistral"),
            ModelArchitecture(name: "qwen2", ropeStyle: .halves, qkvBias: true, qkNorm: false, postNorms: false,
                              activation: .silu, scalesEmbedding: false, windowing: .never, localRopeBase: nil),
            ModelArchitecture(name: "qwen3", ropeStyle: .halves, qkvBias: false, qkNorm: true, postNorms: false,
                              activation: .silu, scalesEmbedding: false, windowing: .never, localRopeBase: nil),
            ModelArchitecture(name: "gemma3", ropeStyle: .halves, qkvBias: false, qkNorm: true, postNorms: true,
                              activation: .geluTanh, scalesEmbedding: true, windowing: .pattern(period: 6),
                              localRopeBase: 10_000),
        ] { table[a.name] = a }
        return table
    }()

    /// The entry of `name`. Errors: `.unsupported` naming the architecture and the known ones.
    public static func named(_ name: String) throws(TesseraError) -> ModelArchitecture {
        guard let a = known[name] else {
            throw .unsupported("architecture '\(name)' is not supported (supported: \(known.keys.sorted().joined(separator: ", ")))")
        }
        return a
    }

    private func renamed(_ n: String) -> ModelArchitecture {
        ModelArchitecture(name: n, ropeStyle: ropeStyle, qkvBias: qkvBias, qkNorm: qkNorm, postNorms: postNorms,
                          activation: activation, scalesEmbedding: scalesEmbedding, windowing: windowing,
                          localRopeBase: localRopeBase)
    }
}
