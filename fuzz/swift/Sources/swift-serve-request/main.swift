// Fuzzes what `tessera serve` reads from a request body before any generation runs: the JSON
// object, its typed fields, the completion call (chat messages through each chat template and
// the tokenizer, text or token-id prompts, sampling ranges, stops, the cap by the context), and
// the /tokenize and /detokenize bodies. A bad body must be an APIError (a 4xx naming the field),
// never a trap; an accepted call must fit the context and hold only in-vocabulary ids; a
// /tokenize or /detokenize response, as JSONWriter writes it, must read back (Foundation) as built.
//
// Input: one byte choosing the endpoint (low 2 bits: chat, completions, tokenize, detokenize)
// and the chat template (the next bits), then the request body.
import Foundation
import FuzzSupport
import TesseraModels
@testable import TesseraServe

/// The GGUF fuzzer's seed `tiny-llama-bpe` (a byte-level BPE vocabulary of 12 tokens), which
/// the server's replay test reads too.
func tinyTokenizer() throws -> Tokenizer {
    let seed = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../corpus/swift-gguf/tiny-llama-bpe").standardized
    return try Tokenizer(gguf: try GGUFFile(bytes: [UInt8](try Data(contentsOf: seed))))
}

let context = 48
nonisolated(unsafe) let models: [ServedModel] = {
    let tok = try! tinyTokenizer()
    let templates = [ChatTemplate(style: .chatML, defaultSystemPrompt: "You are a test."), ChatTemplate(style: .llama3, prefix: "<s>"),
                     ChatTemplate(style: .gemma), ChatTemplate(style: .llama2), ChatTemplate(style: .plain)]
    return templates.map { ServedModel(id: "fuzz-tiny", tokenizer: tok, template: $0, context: context, speculativeDefault: false) }
}()

func seed(_ endpoint: UInt8, _ body: String) -> [UInt8] { [endpoint] + Array(body.utf8) }

runFuzzer(makeSeeds: { dir in
    try writeSeed(dir, "chat-basic", seed(0, #"{"model":"fuzz-tiny","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello ab!"}],"max_tokens":8,"temperature":0.7,"top_p":0.9,"top_k":40,"min_p":0.05,"seed":42,"stop":["!","\n"],"stream":true,"stream_options":{"include_usage":true}}"#))
    try writeSeed(dir, "chat-parts-logprobs", seed(4, #"{"model":"fuzz-tiny.gguf","messages":[{"role":"developer","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"assistant"},{"role":"user","content":"12"}],"logprobs":true,"top_logprobs":5,"presence_penalty":-1.5,"frequency_penalty":2,"repetition_penalty":1.1,"n":1,"speculative":true,"unknown_field":{"x":[1,2]}}"#))
    try writeSeed(dir, "completion-text", seed(1, #"{"model":"fuzz-tiny","prompt":"Hello a","max_tokens":100000,"logprobs":3,"ignore_eos":true,"stop":"!","seed":-1}"#))
    try writeSeed(dir, "completion-ids", seed(9, #"{"model":"fuzz-tiny","prompt":[10,5,6,7],"max_completion_tokens":4,"seed":1e300}"#))
    try writeSeed(dir, "completion-long", seed(1, "{\"model\":\"fuzz-tiny\",\"prompt\":\"" + String(repeating: "a b ", count: 40) + "\"}"))
    try writeSeed(dir, "tokenize", seed(2, #"{"content":"<|im_start|>Hello ab\n","add_special":true,"parse_special":false}"#))
    try writeSeed(dir, "detokenize", seed(3, #"{"tokens":[1,3,10,9,15,2]}"#))
    try writeSeed(dir, "wrong-types", seed(0, #"{"model":"fuzz-tiny","messages":[{"role":"user","content":5}],"max_tokens":"8","temperature":true}"#))
    try writeSeed(dir, "not-an-object", seed(1, "[1,2,3]"))
}) { data in
    guard let mode = data.first else { return }
    let fields: RequestFields
    do { fields = RequestFields(object: try JSON.object(Data(data.dropFirst()))) } catch let error as APIError {
        fuzzCheck(error.status.code == 400, "a bad body answered \(error.status)")
        return
    } catch {
        fuzzCheck(false, "a bad body threw \(error), not an APIError")
        return
    }
    let model = models[Int(mode >> 2) % models.count]
    do {
        switch mode & 3 {
        case 0, 1:
            let call = try CompletionCall(fields, chat: mode & 3 == 0, model: model)
            let r = call.request
            fuzzCheck(!r.prompt.isEmpty && r.prompt.count < context, "a prompt of \(r.prompt.count) tokens accepted (context \(context))")
            fuzzCheck(r.maxTokens >= 0 && r.prompt.count + r.maxTokens <= context, "\(r.prompt.count) + \(r.maxTokens) tokens past the context \(context)")
            fuzzCheck(r.prompt.allSatisfy { (0..<model.tokenizer.vocabularySize).contains($0) }, "a prompt id outside the vocabulary")
            fuzzCheck(r.sampling.temperature.isFinite && r.sampling.topP.isFinite && r.sampling.minP.isFinite, "non-finite sampling options")
            // the call's stop strings over its own prompt as if generated: the text ends at the
            // first token after which a stop string appears, cut at the earliest one
            let ids = Array(r.prompt.prefix(32)), tok = model.tokenizer
            var st = TextEmitter(tokenizer: tok, stopStrings: r.stop, atTextStart: true)
            var got = "", stopped = false
            for id in ids {
                let (t, s) = st.push(id)
                got += t
                if s { stopped = true; break }
            }
            if !stopped { got += st.flushAll() ?? "" }
            var want = tok.decode(ids, skipSpecial: true)
            for k in ids.indices {
                let t = tok.decode(Array(ids[...k]), skipSpecial: true)
                if let cut = r.stop.filter({ !$0.isEmpty }).compactMap({ t.range(of: $0)?.lowerBound }).min() { want = String(t[..<cut]); break }
            }
            fuzzCheck(got == want, "stops \(r.stop) over \(ids): streamed \(got.debugDescription), prefixes give \(want.debugDescription)")
            let shaper = ResponseShaper(call: call, modelID: model.id, tokenizer: model.tokenizer, serial: 1)
            fuzzSink(JSON.encode(shaper.chunk(text: "ab")))
            fuzzSink(TextChunkTemplate(shaper).event("a\"\\\n\u{1}é"))
        case 2:
            let o = try ServeServer.tokenized(fields, served: model, modelID: model.id)
            let back = readBack(JSON.encode(o))
            fuzzCheck(back?["tokens"] as? [Int] == o["tokens"] as? [Int], "the /tokenize response does not read back")
        default:
            let o = try ServeServer.detokenized(fields, served: model)
            let back = readBack(JSON.encode(o))
            fuzzCheck(back?["content"] as? String == o["content"] as? String,
                      "the /detokenize response does not read back: \((o["content"] as? String).debugDescription)")
        }
    } catch let error as APIError {
        fuzzCheck((400..<500).contains(error.status.code), "a request answered \(error.status)")
        fuzzSink(JSON.encode(error.body))
    } catch {
        fuzzCheck(false, "a request threw \(error), not an APIError")
    }
}

/// A response as Foundation parses it: JSONWriter's text must say what was written.
func readBack(_ text: [UInt8]) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text))) as? [String: Any]
}
