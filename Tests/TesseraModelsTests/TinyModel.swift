import Foundation
@testable import TesseraModels
import TesseraTestSupport

/// Deterministic test RNG (TesseraTestSupport's splitmix64) with the draws these tests use.
struct TestRNG {
    var mix: SplitMix64
    init(_ seed: UInt64) { mix = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { mix.next() }
    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { Float(Double(next() >> 11) * 0x1p-52 - 1) }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// A tiny random Llama model written as GGUF by the tests: every supported block type is
/// used by some projection, plus a small byte-level BPE vocabulary with ChatML specials.
struct TinyModelSpec {
    var layers = 2
    var dim = 256            // Q6_K rows need multiples of 256
    var ffn = 512
    var heads = 4
    var kvHeads = 2
    var ropeBase: Float = 10_000
    var eps: Float = 1e-5
    var tiedOutput = true
    var context = 256
    /// Block types of (q, k, v, o, gate, up, down) per layer, rotated by the layer index.
    var types: [GGMLType] = [.q4_0, .q4_1, .q8_0, .q6_K, .f16, .bf16, .f32]
    var embeddingType: GGMLType = .q8_0
    var outputType: GGMLType = .q6_K
    var seed: UInt64 = 42
    /// `general.architecture` and the family's extra tensors (biases, q/k norms, post-norms).
    var architecture = "llama"
    /// `attention.key_length` when set (else dim / heads).
    var headDimOverride: Int? = nil
    /// `attention.sliding_window` and `attention.sliding_window_pattern` (a period), if set.
    var slidingWindow: Int? = nil
    var windowPattern: Int? = nil
    /// `rope.freq_base_swa`, if set.
    var localRopeBase: Float? = nil
    /// Range of the random embedding values (Gemma's are scaled by √dim at run time).
    var embeddingScale: Float = 1

    var headDim: Int { headDimOverride ?? dim / heads }
    var family: ModelArchitecture { ModelArchitecture.known[architecture]! }

    /// The family's traits for `referenceForward`, written out independently of the runner.
    var referenceArchitecture: ReferenceArchitecture {
        var r = ReferenceArchitecture()
        r.headDim = headDim
        switch architecture {
        case "qwen2": r.neox = true; r.qkvBias = true
        case "qwen3": r.neox = true; r.qkNorm = true
        case "gemma3":
            r.neox = true; r.qkNorm = true; r.postNorms = true; r.gelu = true; r.scaleEmbedding = true
            let p = windowPattern ?? 6
            r.localLayers = (0..<layers).map { $0 % p < p - 1 }
            r.localRopeBase = Double(localRopeBase ?? 10_000)
            r.window = slidingWindow
        default:
            if slidingWindow != nil { r.localLayers = Array(repeating: true, count: layers); r.window = slidingWindow }
            r.localRopeBase = Double(ropeBase)
        }
        return r
    }

    /// Byte-level vocabulary: the 256 byte characters, a few merges, and ChatML specials.
    static func vocabulary() -> (tokens: [String], types: [Int], merges: [String]) {
        var byteToChar = [Character]()
        var n: UInt32 = 0
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                byteToChar.append(Character(Unicode.Scalar(UInt32(b))!))
            } else {
                byteToChar.append(Character(Unicode.Scalar(256 + n)!))
                n += 1
            }
        }
        var tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        var types = [3, 3, 3]
        for c in byteToChar { tokens.append(String(c)); types.append(1) }
        let merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ th"]
        for m in merges {
            let parts = m.split(separator: " ")
            let t = String(parts[0]) + String(parts[1])
            if !tokens.contains(t) { tokens.append(t); types.append(1) }
        }
        return (tokens, types, merges)
    }

    /// The float weights (before quantization) and the GGUF image.
    func build() throws -> (bytes: [UInt8], weights: [String: [Float]]) {
        var rng = TestRNG(seed)
        let (tokens, ttypes, merges) = TinyModelSpec.vocabulary()
        let vocab = tokens.count
        var w = GGUFWriter()
        let a = architecture
        w.set("general.architecture", .string(a))
        w.set("general.name", .string("tiny-test"))
        w.set("\(a).block_count", .uint32(UInt32(layers)))
        w.set("\(a).context_length", .uint32(UInt32(context)))
        w.set("\(a).embedding_length", .uint32(UInt32(dim)))
        w.set("\(a).feed_forward_length", .uint32(UInt32(ffn)))
        w.set("\(a).attention.head_count", .uint32(UInt32(heads)))
        w.set("\(a).attention.head_count_kv", .uint32(UInt32(kvHeads)))
        w.set("\(a).rope.freq_base", .float32(ropeBase))
        w.set("\(a).attention.layer_norm_rms_epsilon", .float32(eps))
        w.set("\(a).rope.dimension_count", .uint32(UInt32(headDim)))
        w.set("\(a).vocab_size", .uint32(UInt32(vocab)))
        if let h = headDimOverride {
            w.set("\(a).attention.key_length", .uint32(UInt32(h)))
            w.set("\(a).attention.value_length", .uint32(UInt32(h)))
        }
        if let sw = slidingWindow { w.set("\(a).attention.sliding_window", .uint32(UInt32(sw))) }
        if let p = windowPattern { w.set("\(a).attention.sliding_window_pattern", .uint32(UInt32(p))) }
        if let b = localRopeBase { w.set("\(a).rope.freq_base_swa", .float32(b)) }
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("smollm"))
        w.set("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(.int32, ttypes.map { .int32(Int32($0)) }))
        w.set("tokenizer.ggml.merges", .array(.string, merges.map { .string($0) }))
        w.set("tokenizer.ggml.bos_token_id", .uint32(1))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        w.set("tokenizer.ggml.add_bos_token", .bool(false))
        w.set("tokenizer.chat_template", .string("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"))

        var weights = [String: [Float]]()
        func rand(_ n: Int, scale: Float) -> [Float] { (0..<n).map { _ in rng.uniform() * scale } }
        func add(_ name: String, _ shape: [Int], _ type: GGMLType, scale: Float, offset: Float = 0) throws {
            var v = rand(shape.reduce(1, *), scale: scale)
            if offset != 0 { v = v.map { $0 + offset } }
            try w.addTensor(name: name, shape: shape, type: type, values: v)
            // what the model will see: the values after the quantization round trip
            let enc = try Quantizer.quantize(v, rowLength: shape[0], to: type)
            weights[name] = try enc.withUnsafeBytes { try Quantizer.dequantize($0, type: type, rowLength: shape[0]) }
        }
        let hd = headDim
        try add("token_embd.weight", [dim, vocab], embeddingType, scale: embeddingScale)
        try add("output_norm.weight", [dim], .f32, scale: 0.2, offset: 1)
        if !tiedOutput { try add("output.weight", [dim, vocab], outputType, scale: 0.1) }
        for l in 0..<layers {
            let t = (0..<7).map { types[($0 + l) % types.count] }
            let p = "blk.\(l)."
            try add(p + "attn_norm.weight", [dim], .f32, scale: 0.2, offset: 1)
            try add(p + "ffn_norm.weight", [dim], .f32, scale: 0.2, offset: 1)
            let s = 1 / Float(dim).squareRoot() * 1.7
            try add(p + "attn_q.weight", [dim, heads * hd], t[0], scale: s)
            try add(p + "attn_k.weight", [dim, kvHeads * hd], t[1], scale: s)
            try add(p + "attn_v.weight", [dim, kvHeads * hd], t[2], scale: s)
            try add(p + "attn_output.weight", [heads * hd, dim], t[3], scale: s)
            try add(p + "ffn_gate.weight", [dim, ffn], t[4], scale: s)
            try add(p + "ffn_up.weight", [dim, ffn], t[5], scale: s)
            try add(p + "ffn_down.weight", [ffn, dim], t[6], scale: 1 / Float(ffn).squareRoot() * 1.7)
            let f = family
            if f.qkvBias {
                try add(p + "attn_q.bias", [heads * hd], .f32, scale: 0.3)
                try add(p + "attn_k.bias", [kvHeads * hd], .f32, scale: 0.3)
                try add(p + "attn_v.bias", [kvHeads * hd], .f32, scale: 0.3)
            }
            if f.qkNorm {
                try add(p + "attn_q_norm.weight", [hd], .f32, scale: 0.3, offset: 1)
                try add(p + "attn_k_norm.weight", [hd], .f32, scale: 0.3, offset: 1)
            }
            if f.postNorms {
                try add(p + "post_attention_norm.weight", [dim], .f32, scale: 0.2, offset: 1)
                try add(p + "post_ffw_norm.weight", [dim], .f32, scale: 0.2, offset: 1)
            }
        }
        return (w.serialize(), weights)
    }
}

/// Writes bytes to a fresh temporary file and returns its path.
func temporaryFile(_ bytes: [UInt8], name: String = "model") throws -> String {
    let path = NSTemporaryDirectory() + "tessera-\(name)-\(UInt64.random(in: 0...UInt64.max)).gguf"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// What sets a family apart in `referenceForward` (defaults: Llama).
struct ReferenceArchitecture {
    /// Dimensions per head (nil: dim / heads).
    var headDim: Int? = nil
    /// RoPE pairs (x[j], x[j + rd/2]) instead of (x[2j], x[2j+1]).
    var neox = false
    /// q/k/v biases `blk.N.attn_{q,k,v}.bias`.
    var qkvBias = false
    /// Per-head RMSNorm of q and k (`attn_q_norm`, `attn_k_norm`).
    var qkNorm = false
    /// RMSNorm of attention and FFN outputs (`post_attention_norm`, `post_ffw_norm`).
    var postNorms = false
    /// GELU (tanh approximation) gate instead of SiLU.
    var gelu = false
    /// Embeddings times √dim.
    var scaleEmbedding = false
    /// Local layers see the last `window` keys (themselves included) and use `localRopeBase`.
    var localLayers: [Bool] = []
    var window: Int? = nil
    var localRopeBase: Double = 10_000
}

/// A float64 Llama-family forward pass written from the formulas, on already-dequantized
/// weights: returns the logits of every position of `tokens`.
func referenceForward(_ tokens: [Int], weights: [String: [Float]], layers: Int, dim: Int, ffn: Int,
                      heads: Int, kvHeads: Int, ropeBase: Double, eps: Double, vocab: Int,
                      ropeDims: Int? = nil, logitsFor rows: Set<Int>? = nil,
                      architecture arch: ReferenceArchitecture = ReferenceArchitecture(),
                      kvRounding: ((Double) -> Double)? = nil) -> [[Double]] {
    let hd = arch.headDim ?? dim / heads, group = heads / kvHeads, rd = ropeDims ?? hd
    let T = tokens.count
    func W(_ name: String) -> [Double] { weights[name]!.map(Double.init) }
    // y[out] = sum_k W[out*k_in + k] * x[k]
    func matvec(_ w: [Double], _ x: [Double], out: Int) -> [Double] {
        let k = x.count
        var y = [Double](repeating: 0, count: out)
        w.withUnsafeBufferPointer { wb in
            for o in 0..<out {
                var s = 0.0
                for i in 0..<k { s += wb[o * k + i] * x[i] }
                y[o] = s
            }
        }
        return y
    }
    func rms(_ x: [Double], _ g: [Double]) -> [Double] {
        let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
        let s = 1 / (ms + eps).squareRoot()
        return zip(x, g).map { $0 * s * $1 }
    }
    func rope(_ v: inout [Double], pos: Int, nh: Int, base: Double) {
        for h in 0..<nh {
            for j in 0..<(rd / 2) {
                let th = Double(pos) * pow(base, -2.0 * Double(j) / Double(rd))
                let ia = h * hd + (arch.neox ? j : 2 * j), ib = ia + (arch.neox ? rd / 2 : 1)
                let a = v[ia], b = v[ib]
                v[ia] = a * cos(th) - b * sin(th)
                v[ib] = a * sin(th) + b * cos(th)
            }
        }
    }
    // per-head RMSNorm
    func headNorm(_ v: [Double], _ g: [Double], nh: Int) -> [Double] {
        (0..<nh).flatMap { h in rms(Array(v[(h * hd)..<((h + 1) * hd)]), g) }
    }
    let emb = W("token_embd.weight")
    var xs = tokens.map { Array(emb[($0 * dim)..<(($0 + 1) * dim)]) }
    if arch.scaleEmbedding { xs = xs.map { $0.map { $0 * Double(dim).squareRoot() } } }
    for l in 0..<layers {
        let p = "blk.\(l)."
        let local = arch.localLayers.isEmpty ? false : arch.localLayers[l]
        let base = local ? arch.localRopeBase : ropeBase
        let an = W(p + "attn_norm.weight"), fn = W(p + "ffn_norm.weight")
        let wq = W(p + "attn_q.weight"), wk = W(p + "attn_k.weight"), wv = W(p + "attn_v.weight")
        let wo = W(p + "attn_output.weight"), wg = W(p + "ffn_gate.weight"), wu = W(p + "ffn_up.weight")
        let wd = W(p + "ffn_down.weight")
        var Q = [[Double]](), K = [[Double]](), V = [[Double]]()
        for t in 0..<T {
            let xn = rms(xs[t], an)
            var q = matvec(wq, xn, out: heads * hd), k = matvec(wk, xn, out: kvHeads * hd)
            var v = matvec(wv, xn, out: kvHeads * hd)
            if arch.qkvBias {
                q = zip(q, W(p + "attn_q.bias")).map(+)
                k = zip(k, W(p + "attn_k.bias")).map(+)
                v = zip(v, W(p + "attn_v.bias")).map(+)
            }
            if arch.qkNorm {
                q = headNorm(q, W(p + "attn_q_norm.weight"), nh: heads)
                k = headNorm(k, W(p + "attn_k_norm.weight"), nh: kvHeads)
            }
            rope(&q, pos: t, nh: heads, base: base)
            rope(&k, pos: t, nh: kvHeads, base: base)
            // a K/V cache of a narrower type holds the keys and values rounded to it
            if let kvRounding { k = k.map(kvRounding); v = v.map(kvRounding) }
            Q.append(q); K.append(k); V.append(v)
        }
        for t in 0..<T {
            var att = [Double](repeating: 0, count: heads * hd)
            let first = local && arch.window != nil ? max(0, t - arch.window! + 1) : 0
            for h in 0..<heads {
                let g = h / group
                var sc = [Double]()
                for j in first...t {
                    var s = 0.0
                    for d in 0..<hd { s += Q[t][h * hd + d] * K[j][g * hd + d] }
                    sc.append(s / Double(hd).squareRoot())
                }
                let m = sc.max()!
                let e = sc.map { exp($0 - m) }
                let z = e.reduce(0, +)
                for j in first...t {
                    for d in 0..<hd { att[h * hd + d] += e[j - first] / z * V[j][g * hd + d] }
                }
            }
            var o = matvec(wo, att, out: dim)
            if arch.postNorms { o = rms(o, W(p + "post_attention_norm.weight")) }
            for i in 0..<dim { xs[t][i] += o[i] }
            let xn = rms(xs[t], fn)
            let gt = matvec(wg, xn, out: ffn), up = matvec(wu, xn, out: ffn)
            let h = (0..<ffn).map { i -> Double in
                let g = gt[i]
                let act = arch.gelu ? 0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * (g + 0.044715 * g * g * g)))
                                    : g / (1 + exp(-g))
                return act * up[i]
            }
            var dn = matvec(wd, h, out: dim)
            if arch.postNorms { dn = rms(dn, W(p + "post_ffw_norm.weight")) }
            for i in 0..<dim { xs[t][i] += dn[i] }
        }
    }
    let on = W("output_norm.weight")
    let out = weights["output.weight"] != nil ? W("output.weight") : emb
    return (0..<T).map { t in
        if let rows, !rows.contains(t) { return [] }
        return matvec(out, rms(xs[t], on), out: vocab)
    }
}

/// `bytes` (a GGUF image) rewritten through `GGUFWriter` without the keys and tensors named,
/// then with `edit` applied: how the tests make one inconsistency at a time.
func rewrittenGGUF(_ bytes: [UInt8], dropKeys: Set<String> = [], dropTensors: Set<String> = [],
                   _ edit: (inout GGUFWriter) throws -> Void = { _ in }) throws -> [UInt8] {
    let f = try GGUFFile(bytes: bytes)
    var w = GGUFWriter()
    for k in f.metadataKeys where !dropKeys.contains(k) { w.set(k, f[k]!) }
    for t in f.tensors where !dropTensors.contains(t.name) {
        let data = f.withTensorBytes(t) { Array($0) }
        try w.addTensor(name: t.name, shape: t.shape, type: t.type, data: data)
    }
    try edit(&w)
    return w.serialize()
}
