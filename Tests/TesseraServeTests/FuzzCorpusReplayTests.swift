// `make test` replays the request fuzzer's corpus (fuzz/corpus/swift-serve-request/: one byte
// choosing the endpoint and the chat template, then a request body) through what the server
// reads before generating: a 4xx APIError or a call that fits the context, never a trap.
import Foundation
import Testing
import TesseraModels
import TesseraTestSupport
@testable import TesseraServe

@Suite("Fuzz corpus replay: request bodies")
struct RequestCorpusReplayTests {
    @Test func everyBodyIsAnsweredOrRefusedWithA4xx() throws {
        let context = 48
        let models = try TinyVocabulary.servedModels(context: context)
        let files = try fuzzCorpus("swift-serve-request")
        #expect(files.count >= 9)
        var accepted = 0
        for (name, data) in files {
            guard let mode = data.first else { continue }
            do {
                let f = RequestFields(object: try JSON.object(Data(data.dropFirst())))
                let model = models[Int(mode >> 2) % models.count]
                switch mode & 3 {
                case 0, 1:
                    let r = try CompletionCall(f, chat: mode & 3 == 0, model: model).request
                    #expect(!r.prompt.isEmpty && r.prompt.count + r.maxTokens <= context, "\(name)")
                    #expect(r.prompt.allSatisfy { (0..<model.tokenizer.vocabularySize).contains($0) }, "\(name)")
                case 2: _ = try ServeServer.tokenized(f, served: model, modelID: model.id)
                default: _ = try ServeServer.detokenized(f, served: model)
                }
                accepted += 1
            } catch {
                // the do block throws only APIError (typed throws): every refusal is one, with a 4xx
                #expect((400..<500).contains(error.status.code), "\(name): \(error.status)")
            }
        }
        #expect(accepted >= 5)
    }
}
