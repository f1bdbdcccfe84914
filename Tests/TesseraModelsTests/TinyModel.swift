import Foundation
@testable import TesseraModels

/// Deterministic test RNG (splitmix64).
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
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

    var headDim: Int { dim / heads }

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
        w.set("general.architecture", .string("llama"))
        w.set("general.name", .string("tiny-test"))
        w.set("llama.block_count", .uint32(UInt32(layers)))
        w.set("llama.context_length", .uint32(UInt32(context)))
        w.set("llama.embedding_length", .uint32(UInt32(dim)))
        w.set("llama.feed_forward_length", .uint32(UInt32(ffn)))
        w.set("llama.attention.head_count", .uint32(UInt32(heads)))
        w.set("llama.attention.head_count_kv", .uint32(UInt32(kvHeads)))
        w.set("llama.rope.freq_base", .float32(ropeBase))
        w.set("llama.attention.layer_norm_rms_epsilon", .float32(eps))
        w.set("llama.rope.dimension_count", .uint32(UInt32(headDim)))
        w.set("llama.vocab_size", .uint32(UInt32(vocab)))
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
        try add("token_embd.weight", [dim, vocab], embeddingType, scale: 1)
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

/// A float64 Llama forward pass written from the formulas, on already-dequantized weights:
/// returns the logits of every position of `tokens`.
func referenceForward(_ tokens: [Int], weights: [String: [Float]], layers: Int, dim: Int, ffn: Int,
                      heads: Int, kvHeads: Int, ropeBase: Double, eps: Double, vocab: Int,
                      ropeDims: Int? = nil, logitsFor rows: Set<Int>? = nil) -> [[Double]] {
    let hd = dim / heads, group = heads / kvHeads, rd = ropeDims ?? hd
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
    func rope(_ v: inout [Double], pos: Int, nh: Int) {
        for h in 0..<nh {
            for j in 0..<(rd / 2) {
                let th = Double(pos) * pow(ropeBase, -2.0 * Double(j) / Double(rd))
                let a = v[h * hd + 2 * j], b = v[h * hd + 2 * j + 1]
                v[h * hd + 2 * j] = a * cos(th) - b * sin(th)
                v[h * hd + 2 * j + 1] = a * sin(th) + b * cos(th)
            }
        }
    }
    let emb = W("token_embd.weight")
    var xs = tokens.map { Array(emb[($0 * dim)..<(($0 + 1) * dim)]) }
    for l in 0..<layers {
        let p = "blk.\(l)."
        let an = W(p + "attn_norm.weight"), fn = W(p + "ffn_norm.weight")
        let wq = W(p + "attn_q.weight"), wk = W(p + "attn_k.weight"), wv = W(p + "attn_v.weight")
        let wo = W(p + "attn_output.weight"), wg = W(p + "ffn_gate.weight"), wu = W(p + "ffn_up.weight")
        let wd = W(p + "ffn_down.weight")
        var Q = [[Double]](), K = [[Double]](), V = [[Double]]()
        for t in 0..<T {
            let xn = rms(xs[t], an)
            var q = matvec(wq, xn, out: heads * hd), k = matvec(wk, xn, out: kvHeads * hd)
            rope(&q, pos: t, nh: heads)
            rope(&k, pos: t, nh: kvHeads)
            Q.append(q); K.append(k); V.append(matvec(wv, xn, out: kvHeads * hd))
        }
        for t in 0..<T {
            var att = [Double](repeating: 0, count: heads * hd)
            for h in 0..<heads {
                let g = h / group
                var sc = [Double]()
                for j in 0...t {
                    var s = 0.0
                    for d in 0..<hd { s += Q[t][h * hd + d] * K[j][g * hd + d] }
                    sc.append(s / Double(hd).squareRoot())
                }
                let m = sc.max()!
                let e = sc.map { exp($0 - m) }
                let z = e.reduce(0, +)
                for j in 0...t {
                    for d in 0..<hd { att[h * hd + d] += e[j] / z * V[j][g * hd + d] }
                }
            }
            let o = matvec(wo, att, out: dim)
            for i in 0..<dim { xs[t][i] += o[i] }
            let xn = rms(xs[t], fn)
            let gt = matvec(wg, xn, out: ffn), up = matvec(wu, xn, out: ffn)
            let h = (0..<ffn).map { gt[$0] / (1 + exp(-gt[$0])) * up[$0] }
            let dn = matvec(wd, h, out: dim)
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
