import Foundation
import Testing
import TesseraModels
import TesseraTestSupport
@testable import TesseraServe

/// The tokenizer of the GGUF fuzzer's seed `tiny-llama-bpe` (a byte-level BPE vocabulary of 12
/// tokens, one merge), which the request fuzzer also reads: tests that need a tokenizer but no model.
enum TinyVocabulary {
    static func tokenizer() throws -> Tokenizer {
        let seed = try #require(try fuzzCorpus("swift-gguf").first { $0.name == "tiny-llama-bpe" })
        return try Tokenizer(gguf: try GGUFFile(bytes: seed.bytes))
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
