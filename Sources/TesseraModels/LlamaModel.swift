#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which kernels compute the projections and attention.
public enum ComputeBackend: String, Sendable, CaseIterable {
    /// Tessera's C kernels where they support the block type, the reference elsewhere.
    case kernels
    /// The Swift reference (dequantize + f32 dot products): slow, the test oracle.
    case reference
}

/// Options for loading a model.
public struct ModelOptions: Sendable {
    /// Which kernels compute projections and attention (default: Tessera's C kernels).
    public var backend: ComputeBackend = .kernels
    /// The pool every kernel and parallel region of the model and its sessions runs on — weight
    /// repacking at load, projections, attention, the reference operators (nil: `ThreadPool.shared`).
    public var pool: ThreadPool? = nil
    /// Stack q/k/v and gate/up (projections that share an input) into one matrix each, so
    /// each pair/triple is one kernel call (one activation quantization, one fork-join).
    /// Used only where the parts share a block type. Default on; the environment variable
    /// `TESSERA_LLM_FUSE=0` turns it off (for A/B measurements).
    public var fuseProjections: Bool = ProcessInfoEnv.flag("TESSERA_LLM_FUSE", default: true)
    /// Element type of the sessions' K/V caches (`makeSession` may override it per session):
    /// `.float32`, or `.float16` / `.bfloat16` at half the memory and half the bytes attention
    /// reads per token (keys and values are rounded once when stored; the attention kernels
    /// widen them exactly). Default ``ModelOptions/defaultKVCache``.
    public var kvCache: AttentionStorage = ModelOptions.defaultKVCache
    /// The K/V cache type of `tessera generate`, `tessera serve` and the API when none is
    /// given (docs/serve.md says why this one).
    public static let defaultKVCache: AttentionStorage = .float32
    /// Options with `fuseProjections` from `TESSERA_LLM_FUSE` (on unless set to 0/false/no/off).
    public init(backend: ComputeBackend = .kernels, pool: ThreadPool? = nil) {
        self.backend = backend
        self.pool = pool
    }
    /// Options with `fuseProjections` given explicitly (the environment is not read).
    public init(backend: ComputeBackend = .kernels, pool: ThreadPool? = nil, fuseProjections: Bool) {
        self.backend = backend
        self.pool = pool
        self.fuseProjections = fuseProjections
    }
}

enum ProcessInfoEnv {
    /// "0"/"false"/"no"/"off" → false, any other value → true, unset → `default`.
    static func flag(_ name: String, default d: Bool) -> Bool {
        guard let v = getenv(name) else { return d }
        let s = String(cString: v).lowercased()
        return !["0", "false", "no", "off"].contains(s)
    }
}

/// A Llama-family model loaded from a GGUF file: hyperparameters, tokenizer, chat template and
/// the projections bound to their compute kernels. Immutable and shareable; generation state
/// lives in a `LlamaSession`.
public final class LlamaModel: @unchecked Sendable {
    // @unchecked: immutable after init (the operators are immutable plans over mapped memory).

    /// Hyperparameters read from the GGUF metadata.
    public let config: LlamaConfig
    /// The tokenizer stored in the file.
    public let tokenizer: Tokenizer
    /// The chat template recognised from the file's `tokenizer.chat_template` (or, without one,
    /// from the vocabulary).
    public let chatTemplate: ChatTemplate
    /// The GGUF file; its memory-mapped tensors back the weights, so the model keeps it open.
    public let file: GGUFFile
    /// The kernels the model computes with (`ModelOptions.backend`).
    public let backend: ComputeBackend
    /// Element type of the K/V caches of the sessions `makeSession` makes by default
    /// (`ModelOptions.kvCache`).
    public let kvCache: AttentionStorage
    /// Seconds spent in `init` (mmap, validation, kernel plans).
    public let loadSeconds: Double
    let pool: ThreadPool

    struct Block {
        let attnNorm: [Float]
        let ffnNorm: [Float]
        /// q/k/v side by side: out = heads·hd + 2·kvHeads·hd, each row `[q | k | v]`.
        let qkv: any LinearOperator
        let o: any LinearOperator
        /// gate/up side by side: out = 2·ffn, each row `[gate | up]`.
        let gateUp: any LinearOperator
        let down: any LinearOperator
        /// Which of `ropeTables` rotates this layer's queries and keys.
        let ropeTable: Int
        /// Attends through the sliding window (a local layer).
        let local: Bool
        /// `[q | k | v]` biases (qwen2), added to the fused projection's rows.
        let qkvBias: [Float]?
        /// Per-head RMSNorm weights of q and k (`headDim` each; qwen3, gemma3).
        let qNorm: [Float]?, kNorm: [Float]?
        /// RMSNorm weights of the attention and FFN outputs before the residual adds (gemma3).
        let postAttentionNorm: [Float]?, postFFNNorm: [Float]?
        /// The seven projections as stored in the file (for byte accounting).
        let weights: [WeightMatrix]
    }

    let embedding: WeightMatrix
    let outputNorm: [Float]
    let output: any LinearOperator
    let blocks: [Block]
    let attention: any AttentionOperator
    /// RoPE tables the layers use (one per base/scale: global, and local where it differs):
    /// inverse frequencies (`ropeDimensions/2`, per-dimension factors applied) and the linear
    /// position scale.
    let ropeTables: [(inverseFrequencies: [Double], positionScale: Double)]
    /// The spare workspace of `forward(batch:)` calls made without one.
    let workspaceCache = WorkspaceCache()

    /// Opens `path` (memory-mapped) and builds the model.
    public convenience init(path: String, options: ModelOptions = ModelOptions()) throws(TesseraError) {
        let t0 = monotonicSeconds()
        let file = try GGUFFile(path: path)
        try self.init(file: file, options: options, startedAt: t0)
    }

    /// Builds the model over an already opened file (its load time excludes the opening).
    /// Errors: as `init(path:options:)`, for metadata or tensors the runner cannot use.
    public convenience init(file: GGUFFile, options: ModelOptions = ModelOptions()) throws(TesseraError) {
        try self.init(file: file, options: options, startedAt: monotonicSeconds())
    }

    init(file: GGUFFile, options: ModelOptions, startedAt t0: Double) throws(TesseraError) {
        let config = try LlamaConfig(gguf: file)
        let tokenizer = try Tokenizer(gguf: file)
        guard tokenizer.vocabularySize <= config.vocabularySize || config.vocabularySize == 0 else {
            throw .malformedInput("tokenizer has \(tokenizer.vocabularySize) tokens but the model's vocab_size is \(config.vocabularySize)")
        }
        self.config = config
        self.tokenizer = tokenizer
        self.chatTemplate = ChatTemplate(gguf: file, tokenizer: tokenizer)
        self.file = file
        self.backend = options.backend
        self.kvCache = options.kvCache
        let pool = options.pool ?? ThreadPool.shared
        self.pool = pool

        let d = config.embeddingLength, hd = config.headDim
        func tensor(_ name: String, _ shape: [Int]) throws(TesseraError) -> GGUFTensorInfo {
            guard let t = file.tensor(named: name) else {
                throw .malformedInput("model is missing tensor '\(name)'")
            }
            guard t.shape == shape || (shape.count == 2 && t.shape == [shape[0], shape[1], 1]) else {
                throw .malformedInput("tensor '\(name)' has shape \(t.shape), expected \(shape) from the hyperparameters")
            }
            guard t.type.isSupported else {
                throw .unsupported("tensor '\(name)' has block type \(t.type), not supported (supported: \(GGMLType.supported.map(\.name).joined(separator: ", ")))")
            }
            return t
        }
        func vector(_ name: String, _ n: Int) throws(TesseraError) -> [Float] {
            let t = try tensor(name, [n])
            var out = [Float](repeating: 0, count: n)
            out.withUnsafeMutableBufferPointer { o in
                Quantizer.dequantizeRow(file.tensorPointer(t), type: t.type, count: n, into: o.baseAddress!)
            }
            guard out.allSatisfy({ $0.isFinite }) else { throw .malformedInput("tensor '\(name)' holds non-finite values") }
            return out
        }
        func matrix(_ name: String, in k: Int, out n: Int) throws(TesseraError) -> WeightMatrix {
            let t = try tensor(name, [k, n])
            return WeightMatrix(name: name, type: t.type, inFeatures: k, outFeatures: n,
                                data: file.tensorPointer(t), owner: file)
        }
        let backend = options.backend
        func linear(_ w: WeightMatrix) throws(TesseraError) -> any LinearOperator {
            if backend == .kernels, let fast = try makeKernelLinear(w, pool: pool) { return fast }
            return ReferenceLinear(weight: w, pool: pool)
        }

        let fuse = options.fuseProjections
        func fused(_ parts: [WeightMatrix], name: String) throws(TesseraError) -> any LinearOperator {
            if fuse, let stacked = WeightMatrix.stacked(parts, name: name) {
                // a kernel plan repacks the stacked rows into its own panels: the stacked copy
                // is freed when the plan is made (only the reference keeps reading it)
                if backend == .kernels, let fast = try KernelLinear(weight: stacked, pool: pool) {
                    return fast.droppingSourceBytes(describedBy: parts[0])
                }
                return ReferenceLinear(weight: stacked, pool: pool)
            }
            var ops = [any LinearOperator]()
            for w in parts { ops.append(try linear(w)) }
            return ConcatLinear(parts: ops, name: name)
        }

        embedding = try matrix("token_embd.weight", in: d, out: config.vocabularySize)
        outputNorm = try vector("output_norm.weight", d)
        if file.tensor(named: "output.weight") != nil {
            output = try linear(try matrix("output.weight", in: d, out: config.vocabularySize))
        } else {
            output = try linear(embedding)   // tied embeddings
        }
        // RoPE: the global table, and the local one where its base or scale differs
        var factors: [Float]? = nil
        if file.tensor(named: "rope_freqs.weight") != nil {
            // Llama-3.1 style per-frequency factors: theta_i / factor_i
            factors = try vector("rope_freqs.weight", config.ropeDimensions / 2)
        }
        func ropeTable(base: Float, scale: Float) -> (inverseFrequencies: [Double], positionScale: Double) {
            let rd = config.ropeDimensions
            var inv = (0..<(rd / 2)).map { pow(Double(base), -2.0 * Double($0) / Double(rd)) }
            if let factors { for i in inv.indices where factors[i] > 0 { inv[i] /= Double(factors[i]) } }
            return (inv, Double(scale))
        }
        var tables = [ropeTable(base: config.ropeBase, scale: config.ropeScale)]
        let localDiffers = config.localRopeBase != config.ropeBase || config.localRopeScale != config.ropeScale
        if localDiffers && config.localLayers.contains(true) {
            tables.append(ropeTable(base: config.localRopeBase, scale: config.localRopeScale))
        }
        ropeTables = tables

        let family = config.family
        var blocks = [Block]()
        let qOut = config.heads * hd, kvOut = config.kvHeads * hd, f = config.feedForwardLength
        for l in 0..<config.layers {
            let p = "blk.\(l)."
            let wq = try matrix(p + "attn_q.weight", in: d, out: qOut)
            let wk = try matrix(p + "attn_k.weight", in: d, out: kvOut)
            let wv = try matrix(p + "attn_v.weight", in: d, out: kvOut)
            let wo = try matrix(p + "attn_output.weight", in: qOut, out: d)
            let wg = try matrix(p + "ffn_gate.weight", in: d, out: f)
            let wu = try matrix(p + "ffn_up.weight", in: d, out: f)
            let wd = try matrix(p + "ffn_down.weight", in: f, out: d)
            let local = config.localLayers[l]
            blocks.append(Block(
                attnNorm: try vector(p + "attn_norm.weight", d),
                ffnNorm: try vector(p + "ffn_norm.weight", d),
                qkv: try fused([wq, wk, wv], name: p + "attn_qkv"),
                o: try linear(wo),
                gateUp: try fused([wg, wu], name: p + "ffn_gate_up"),
                down: try linear(wd),
                ropeTable: local && tables.count > 1 ? 1 : 0,
                local: local,
                qkvBias: family.qkvBias
                    ? try vector(p + "attn_q.bias", qOut) + vector(p + "attn_k.bias", kvOut) + vector(p + "attn_v.bias", kvOut)
                    : nil,
                qNorm: family.qkNorm ? try vector(p + "attn_q_norm.weight", hd) : nil,
                kNorm: family.qkNorm ? try vector(p + "attn_k_norm.weight", hd) : nil,
                postAttentionNorm: family.postNorms ? try vector(p + "post_attention_norm.weight", d) : nil,
                postFFNNorm: family.postNorms ? try vector(p + "post_ffw_norm.weight", d) : nil,
                weights: [wq, wk, wv, wo, wg, wu, wd]))
        }
        self.blocks = blocks
        attention = (backend == .kernels ? makeKernelAttention(pool: pool) : nil) ?? ReferenceAttention(pool: pool)
        // Every projection with a kernel holds its own packed copy: drop the file's pages that
        // loading touched, so the weights are not resident twice. Embedding rows (and weights
        // of the reference operators) fault back in from the page cache when read.
        if backend == .kernels { file.releaseResidentPages() }
        loadSeconds = monotonicSeconds() - t0
    }

    /// Bytes of weights one decode step reads (every projection plus one embedding row).
    public var weightBytesPerToken: Int {
        var b = output.weight.byteCount + embedding.rowBytes
        for blk in blocks {
            for w in blk.weights { b += w.byteCount }
        }
        return b
    }

    /// Bytes one decode step streams from the projections as executed (the kernels' packed
    /// panels where a plan holds them, the stored bytes elsewhere) plus one embedding row.
    public var streamedBytesPerToken: Int {
        func bytes(_ op: any LinearOperator) -> Int {
            if let k = op as? KernelLinear { return k.packedBytes }
            if let c = op as? ConcatLinear { return c.parts.reduce(0) { $0 + bytes($1) } }
            return op.weight.byteCount
        }
        var b = bytes(output) + embedding.rowBytes
        for blk in blocks { for op in [blk.qkv, blk.o, blk.gateUp, blk.down] { b += bytes(op) } }
        return b
    }

    /// Bytes the loaded model keeps resident: the kernels' packed weights, the file's pages
    /// now mapped in (embedding rows read so far, weights the reference operators read), and
    /// the norm/bias vectors. The bound is 1.1 × the file size.
    public var residentBytes: Int {
        var b = file.residentMappedBytes
        func packed(_ op: any LinearOperator) -> Int {
            if let k = op as? KernelLinear { return k.packedBytes }
            if let c = op as? ConcatLinear { return c.parts.reduce(0) { $0 + packed($1) } }
            return 0   // the reference reads the mapping (counted above)
        }
        b += packed(output) + 4 * outputNorm.count
        for blk in blocks {
            for op in [blk.qkv, blk.o, blk.gateUp, blk.down] { b += packed(op) }
            let vectors: [[Float]?] = [blk.attnNorm, blk.ffnNorm, blk.qkvBias, blk.qNorm, blk.kNorm,
                                       blk.postAttentionNorm, blk.postFFNNorm]
            b += vectors.reduce(0) { $0 + 4 * ($1?.count ?? 0) }
        }
        return b
    }

    /// Names of the kernels in use ("qgemm avx512vnni-u4", "reference", ...), for reports.
    public var kernelDescription: String {
        var names = Set<String>()
        names.insert(String(describing: type(of: output)))
        for blk in blocks {
            for op in [blk.qkv, blk.o, blk.gateUp, blk.down] { names.insert(String(describing: type(of: op))) }
        }
        names.insert(String(describing: type(of: attention)))
        return names.sorted().joined(separator: ", ")
    }

    /// A new conversation with its own KV cache of `contextLength` positions (default:
    /// the model's context length, capped at 4096), stored as `kvCache` (default: the model's
    /// `kvCache`, from `ModelOptions.kvCache`).
    public func makeSession(contextLength: Int? = nil, kvCache: AttentionStorage? = nil) throws(TesseraError) -> LlamaSession {
        try LlamaSession(model: self, capacity: contextLength ?? min(config.contextLength, 4096),
                         storage: kvCache ?? self.kvCache)
    }
}

@inline(__always) func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Where the time of the forward passes went (seconds, accumulated since the last reset).
public struct ForwardProfile: Sendable, Equatable {
    /// Seconds in the weight projections (q/k/v, o, gate/up, down, output).
    public var projections: Double = 0
    /// Seconds in attention over the KV cache.
    public var attention: Double = 0
    /// Seconds in everything else (norms, RoPE, SwiGLU, residual adds, embedding lookups).
    public var rest: Double = 0
    /// Tokens passed through the model.
    public var tokens: Int = 0
    /// Forward calls (a prompt longer than `maxBatch` is one call of several chunks).
    public var forwards: Int = 0
    /// All zero.
    public init() {}
    /// Seconds of all forward passes.
    public var total: Double { projections + attention + rest }
}
