import Foundation
import TesseraModels
@testable import TesseraServe

/// A byte-level BPE vocabulary of 16 tokens with ChatML specials (the request fuzzer's), for
/// tests that need a tokenizer but no model.
enum TinyVocabulary {
    static let tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "a", "b", "ab", "Ġ", "Ġa", "Hello", "!", "1", "2", "\n", "Ċ"]

    static func tokenizer() throws -> Tokenizer {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(.int32, tokens.indices.map { .int32($0 < 5 ? 3 : 1) }))
        w.set("tokenizer.ggml.merges", .array(.string, [.string("a b"), .string("Ġ a")]))
        w.set("tokenizer.ggml.pre", .string("smollm"))
        w.set("tokenizer.ggml.bos_token_id", .uint32(1))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        return try Tokenizer(gguf: try GGUFFile(bytes: w.serialize()))
    }

    /// The served model of each chat template style, with this vocabulary.
    static func servedModels(context: Int) throws -> [ServedModel] {
        let tok = try tokenizer()
        return [ChatTemplate(style: .chatML, defaultSystemPrompt: "You are a test."), ChatTemplate(style: .llama3, prefix: "<s>"),
                ChatTemplate(style: .gemma), ChatTemplate(style: .llama2), ChatTemplate(style: .plain)].map {
            ServedModel(id: "fuzz-tiny", tokenizer: tok, template: $0, context: context, speculativeDefault: false)
        }
    }
}
