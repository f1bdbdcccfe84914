import Foundation
import Testing
@testable import TesseraServe
import TesseraModels
import TesseraTestSupport

/// The per-token SSE event built from the pre-serialised template against Foundation's
/// serialisation of the same chunk: parsed back, the two JSON objects are equal, for text with
/// quotes, backslashes, every control character, '/', non-ASCII and the marker-like strings.
@Suite("TesseraServe streamed text chunks")
struct TextChunkTests {
    static func texts() -> [String] {
        var out = ["", "hello", "\"quoted\"", "back\\slash", "a/b", "tab\there", "line\nbreak\r\n", "é 中文 🙂",
                   "\u{2028}\u{2029}", "tessera-text-", "data: {\"x\":1}\n\n", "\\u0000"]
        out.append(String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }))
        var rng = SeededRandom(seed: 7)
        let pool: [Unicode.Scalar] = ["a", "\"", "\\", "/", "\n", "\u{0}", "\u{1f}", "\u{7f}", "é", "\u{10FFFF}", " "]
        for _ in 0..<200 {
            let n = Int(rng.next() % 12)
            out.append(String(String.UnicodeScalarView((0..<n).map { _ in pool[Int(rng.next() % UInt64(pool.count))] })))
        }
        return out
    }

    static func parse(_ bytes: [UInt8]) throws -> NSDictionary {
        let s = String(decoding: bytes, as: UTF8.self)
        #expect(s.hasPrefix("data: ") && s.hasSuffix("\n\n"))
        let json = Data(s.dropFirst(6).dropLast(2).utf8)
        return try #require(try JSONSerialization.jsonObject(with: json) as? NSDictionary)
    }

    @Test("template events equal Foundation's chunk, completions and chat", arguments: [false, true])
    func sameObject(chat: Bool) throws {
        let model = try ServeModel.require()
        let served = ServedModel(id: "m/x\"y", tokenizer: model.tokenizer, template: model.chatTemplate, context: 64,
                                 speculativeDefault: false)
        var body: [String: Any] = ["model": "m/x\"y", "stream": true, "max_tokens": 4]
        if chat { body["messages"] = [["role": "user", "content": "hi"]] } else { body["prompt"] = "hi" }
        let call = try CompletionCall(RequestFields(object: body), chat: chat, model: served)
        let shaper = ResponseShaper(call: call, modelID: served.id, tokenizer: model.tokenizer, serial: 42)
        let template = TextChunkTemplate(shaper)
        for text in Self.texts() {
            let ours = template.event(text)
            let fast = try Self.parse(Array(ours.readableBytesView))
            let reference = try Self.parse(Array("data: ".utf8) + JSON.encode(shaper.chunk(text: text)) + Array("\n\n".utf8))
            #expect(fast == reference, "text \(text.debugDescription)")
        }
    }
}
