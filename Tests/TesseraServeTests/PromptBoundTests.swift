import Foundation
import Testing
@testable import TesseraServe
import TesseraModels
import TesseraTestSupport

/// A prompt whose byte count alone shows it cannot fit the context is refused before it is
/// tokenized (a large body is tokenized on one shared thread, so every needless token is a delay
/// for the large bodies behind it). The bound itself — no text encodes to fewer than
/// ⌈bytes ÷ longest token⌉ tokens — is checked against `encode`.
@Suite("TesseraServe prompts over the context by their bytes")
struct PromptBoundTests {
    @Test func byteBoundIsALowerBoundAndRefusesEarly() throws {
        let model = try ServeModel.require()
        let tok = model.tokenizer
        #expect(tok.longestTokenBytes > 1)
        var rng = SeededRandom(seed: 3)
        let words = ["the", " quick", "  ", "\n\n\n", "<|im_start|>", "é", "中文", "1234", "!!", String(repeating: " ", count: 40)]
        var texts = [String(repeating: "a", count: 5000), String(repeating: " ", count: 3000)]
        for _ in 0..<50 { texts.append((0..<Int(rng.next() % 300)).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined()) }
        for t in texts {
            #expect(tok.encode(t, addBOS: false, parseSpecial: true).count >= tok.fewestTokens(utf8Count: t.utf8.count))
        }

        let served = ServedModel(id: "m", tokenizer: tok, template: model.chatTemplate, context: 64, speculativeDefault: false)
        func refusal(_ body: [String: Any], chat: Bool) -> APIError? {
            do { _ = try CompletionCall(RequestFields(object: body), chat: chat, model: served) } catch { return error }
            return nil
        }
        let long = String(repeating: "a", count: 64 * tok.longestTokenBytes + 1)
        for chat in [false, true] {
            let body: [String: Any] = chat ? ["model": "m", "messages": [["role": "user", "content": long]]] : ["model": "m", "prompt": long]
            let e = refusal(body, chat: chat)
            #expect(e?.status.code == 400 && e?.code == "context_length_exceeded", "chat \(chat): \(e?.message ?? "accepted")")
            #expect(e?.message.contains("at least") == true, "chat \(chat): \(e?.message ?? "accepted")")
        }
        // under the byte bound the prompt is tokenized and refused by its real count, as before
        let e = refusal(["model": "m", "prompt": String(repeating: "ab ", count: 100)], chat: false)
        #expect(e?.code == "context_length_exceeded", "\(e?.message ?? "accepted")")
        #expect(e?.message.contains("at least") == false, "\(e?.message ?? "accepted")")
    }
}
