// Fuzzes the GGUF reader (GGUFFile(bytes:)) and what the model runner reads from it first:
// typed metadata, tensor infos and bytes, LlamaConfig and the tokenizer. An accepted file
// must keep every tensor inside the data it holds (its bytes are all read here, so ASan
// sees any overrun); hostile counts, lengths and offsets must give TesseraError.
import FuzzSupport
import TesseraModels

func tinyModel(tokenizer: String) throws -> [UInt8] {
    var w = GGUFWriter()
    w.set("general.architecture", .string("llama"))
    w.set("general.name", .string("fuzz-tiny"))
    w.set("llama.block_count", .uint32(1))
    w.set("llama.embedding_length", .uint32(8))
    w.set("llama.feed_forward_length", .uint32(16))
    w.set("llama.attention.head_count", .uint32(2))
    w.set("llama.attention.head_count_kv", .uint32(1))
    w.set("llama.context_length", .uint32(64))
    w.set("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
    w.set("llama.rope.freq_base", .float32(10000))
    let tokens = ["<unk>", "<s>", "</s>", "a", "b", "ab", "▁", "▁a", "Hello", "!", "1", "2"]
    w.set("tokenizer.ggml.model", .string(tokenizer))
    w.set("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) }))
    w.set("tokenizer.ggml.token_type", .array(.int32, tokens.indices.map { .int32($0 < 3 ? 3 : 1) }))
    if tokenizer == "gpt2" {
        w.set("tokenizer.ggml.merges", .array(.string, [.string("a b")]))
        w.set("tokenizer.ggml.pre", .string("smollm"))
    } else {
        w.set("tokenizer.ggml.scores", .array(.float32, tokens.indices.map { .float32(-Float($0)) }))
    }
    w.set("tokenizer.ggml.bos_token_id", .uint32(1))
    w.set("tokenizer.ggml.eos_token_id", .uint32(2))
    try w.addTensor(name: "token_embd.weight", shape: [8, tokens.count], type: .f32,
                    values: (0..<(8 * tokens.count)).map { Float($0 % 7) / 8 })
    try w.addTensor(name: "blk.0.attn_q.weight", shape: [32, 2], type: .q8_0, values: (0..<64).map { Float($0) / 64 })
    try w.addTensor(name: "output_norm.weight", shape: [8], type: .f16, values: [Float](repeating: 1, count: 8))
    return w.serialize()
}

// (seed names carry no .gguf: the repository ignores *.gguf)
runFuzzer(makeSeeds: { dir in
    try writeSeed(dir, "tiny-llama-spm", try tinyModel(tokenizer: "llama"))
    try writeSeed(dir, "tiny-llama-bpe", try tinyModel(tokenizer: "gpt2"))
    var w = GGUFWriter(alignment: 64)
    w.set("general.architecture", .string("mistral"))
    w.set("nested", .array(.array, [.array(.uint8, [.uint8(1), .uint8(2)]), .array(.bool, [.bool(true)])]))
    w.set("values", .array(.float64, [.float64(1.5), .float64(-2)]))
    w.set("flag", .bool(true))
    try w.addTensor(name: "q4", shape: [32, 1, 1, 1], type: .q4_0, values: (0..<32).map { Float($0) - 16 })
    try writeSeed(dir, "metadata-kinds", w.serialize())
    try writeSeed(dir, "empty", GGUFWriter().serialize())
}) { data in
    guard let f = try? GGUFFile(bytes: [UInt8](data)) else { return }
    fuzzCheck(f.tensors.count == f.tensorIndex.count, "\(f.tensors.count) tensors but \(f.tensorIndex.count) names")
    fuzzCheck(f.dataOffset >= 0 && f.dataOffset <= f.fileSize, "data offset \(f.dataOffset) of a \(f.fileSize)-byte file")
    for key in f.metadataKeys {
        let v = f[key]
        fuzzSink(v?.description)
        fuzzSink(try? f.int(key)); fuzzSink(try? f.double(key)); fuzzSink(try? f.string(key)); fuzzSink(try? f.bool(key))
        fuzzSink(try? f.stringArray(key)); fuzzSink(try? f.intArray(key)); fuzzSink(try? f.floatArray(key))
        if let a = v?.arrayValue {
            for e in a.prefix(64) { fuzzSink(e.description) }
            if let last = a.last { fuzzSink(last) }
        }
    }
    for t in f.tensors {
        fuzzCheck(f.tensor(named: t.name) == t, "tensor '\(t.name)' not found by name")
        fuzzCheck(t.offset >= 0 && t.byteCount >= 0 && t.offset <= f.fileSize - f.dataOffset &&
                  t.byteCount <= f.fileSize - f.dataOffset - t.offset,
                  "tensor '\(t.name)' at \(t.offset) + \(t.byteCount) passes the \(f.fileSize - f.dataOffset)-byte data section")
        fuzzSink(t.elementCount); fuzzSink(t.rowLength); fuzzSink(t.rowCount)
        let sum = f.withTensorBytes(t) { buf in buf.reduce(UInt8(0)) { $0 &+ $1 } }  // reads every byte
        fuzzSink(sum)
    }
    if let cfg = try? LlamaConfig(gguf: f) { fuzzSink(cfg) }
    if let tok = try? Tokenizer(gguf: f) {
        let ids = tok.encode("Hello, ab a! 12 ünï\u{1F600}  \n<s>", addBOS: true)
        for id in ids { fuzzCheck(id >= 0 && id < tok.vocabularySize, "token id \(id) of \(tok.vocabularySize)") }
        fuzzSink(tok.decode(ids))
        fuzzSink(tok.decode([0, tok.vocabularySize - 1], skipSpecial: true))
        // the chat template is recognised from the file's own Jinja text (untrusted too)
        let template = ChatTemplate(gguf: f, tokenizer: tok)
        let text = template.render([.system("Be brief."), .user("Hello ab!"), .assistant("a"), .user("12")])
        fuzzSink(tok.encode(text, addBOS: false, parseSpecial: true))
    }
}
