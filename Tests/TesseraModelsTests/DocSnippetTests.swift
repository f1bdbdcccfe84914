import Foundation
import Testing
import TesseraTestSupport
import TesseraModels

// The snippets of Sources/TesseraModels/TesseraModels.docc, compiled here and run on the
// tiny model the tests write (scripts/check-doc-snippets checks that they stay the same).

func complete(modelPath: String) throws -> String {
    let model = try LlamaModel(path: modelPath)
    let generator = try Generator(model: model, contextLength: 256)
    let result = try generator.generate(prompt: "The capital of France is",
                                        options: GenerationOptions(maxTokens: 8))
    return result.text
}

func open(modelPath: String) async throws -> LlamaModel {
    try await LlamaModel.load(path: modelPath, progress: { report in
        print(report)                       // "model load (tensors read, then build): 57/292"
    })
}

@Suite("TesseraModels DocC snippets")
struct DocSnippetTests {
    @Test func snippetsRunOnATinyModel() async throws {
        let (bytes, _) = try TinyModelSpec().build()
        let path = try temporaryFile(bytes, name: "doc-snippet")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = try blocking { try complete(modelPath: path) }
        #expect(!text.isEmpty)
        let model = try await open(modelPath: path)
        #expect(model.config.layers == 2)
    }
}
