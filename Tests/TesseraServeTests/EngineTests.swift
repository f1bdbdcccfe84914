import Foundation
import Testing
@testable import TesseraServe
import TesseraModels
import TesseraTestSupport

/// The reference model (SmolLM2-135M-Instruct Q4_1), fetched once by scripts/fetch-model.
enum ServeModel {
    static let model: LlamaModel? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        guard let out = try? runProcess(root.appendingPathComponent("scripts/fetch-model").path, [], timeout: 600),
              out.status == 0, let path = out.stdout.split(separator: "\n").last else { return nil }
        return try? LlamaModel(path: path.trimmingCharacters(in: .whitespaces))
    }()

    static func require() throws -> LlamaModel {
        guard let m = model else { throw TesseraError.io("the reference model could not be fetched (scripts/fetch-model)") }
        return m
    }
}

/// Runs one request to its end on `engine`; returns the token ids, log-probabilities and completion.
func runToEnd(_ engine: ServeEngine, _ r: GenerationRequest) async throws -> (tokens: [Int], logprobs: [TokenLogprob], done: Completion) {
    let (_, events) = try engine.submit(r)
    var ids: [Int] = [], lps: [TokenLogprob] = []
    for await e in events {
        switch e {
        case .token(let t):
            ids.append(t.id)
            if let lp = t.logprob { lps.append(lp) }
        case .finished(let c): return (ids, lps, c)
        }
    }
    throw TesseraError.internalError("stream ended without a completion")
}

/// A mix of prompt lengths (some longer than a step's budget: chunked prefill), greedy and
/// seeded-sampled requests, some with penalties, stop tokens off so lengths are fixed.
func mixedRequests(_ model: LlamaModel, count: Int) -> [GenerationRequest] {
    let tok = model.tokenizer
    let topics = ["the sea", "a small robot", "bread", "winter in the mountains", "prime numbers", "an old library",
                  "the moon", "a quiet street", "coffee", "trains", "a garden in spring", "chess"]
    var out: [GenerationRequest] = []
    for i in 0..<count {
        var text = "Write a few sentences about \(topics[i % topics.count])."
        if i % 3 == 1 { text = "You are a helpful assistant who answers briefly. " + text }
        if i % 4 == 2 { text += String(repeating: " Please be concrete and use simple words.", count: 1 + i % 5) }
        let prompt = tok.encode(model.chatTemplate.render([.user(text)]), addBOS: false, parseSpecial: true)
        var s = SamplingOptions()
        if i % 2 == 1 { s = SamplingOptions(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.02, seed: UInt64(1000 + i)) }
        out.append(GenerationRequest(prompt: prompt, maxTokens: 12 + (i * 7) % 17, sampling: s,
                                     presencePenalty: i % 5 == 3 ? 0.5 : 0, frequencyPenalty: i % 5 == 4 ? 0.3 : 0,
                                     stopTokens: [], topLogprobs: i % 3 == 0 ? 3 : nil))
    }
    return out
}

@Suite("TesseraServe engine (SmolLM2)", .serialized)
struct EngineTests {
    @Test("one request alone gives exactly what Generator gives (greedy and seeded)",
          arguments: [AttentionStorage.float32, .float16])
    func soloMatchesGenerator(kvCache: AttentionStorage) async throws {
        let model = try ServeModel.require()
        let engine = try ServeEngine(model: model, options: EngineOptions(parallel: 1, context: 512, stepTokens: 32,
                                                                          kvCache: kvCache))
        defer { engine.shutdown() }
        var generated = 0
        for r in mixedRequests(model, count: 4) where r.presencePenalty == 0 && r.frequencyPenalty == 0 {
            let g = try Generator(model: model, contextLength: 512, kvCache: kvCache)
            var o = GenerationOptions(maxTokens: r.maxTokens, sampling: r.sampling)
            o.stopTokens = []
            let want = try g.generate(tokens: r.prompt, options: o) { _ in true }
            let got = try await runToEnd(engine, r)
            #expect(got.tokens == want.tokens)
            #expect(got.done.reason == .length)
            #expect(got.done.completionTokens == r.maxTokens)
            generated += got.tokens.count
        }
        // every token was drawn in the step's sampling phase (no speculation here), and the
        // profile accounts for the worker's steps (written at the end of the step that
        // finished the last request, just after its completion went out)
        var p = engine.profile
        for _ in 0..<200 where p.sampled < generated {
            try await Task.sleep(nanoseconds: 10_000_000)
            p = engine.profile
        }
        #expect(p.sampled == generated)
        #expect(p.steps >= generated && p.forwardSeconds > 0 && p.sampleSeconds > 0)
    }

    @Test("batch invariance: concurrent requests in any order give the tokens and logprobs of their solo runs",
          arguments: [AttentionStorage.float32, .float16])
    func batchInvariance(kvCache: AttentionStorage) async throws {
        let model = try ServeModel.require()
        let requests = mixedRequests(model, count: 8)
        // solo: one slot, one request at a time (the slot's prefix cache is in play, as in serving)
        let solo = try ServeEngine(model: model, options: EngineOptions(parallel: 1, context: 512, stepTokens: 17,
                                                                        kvCache: kvCache))
        var alone: [(tokens: [Int], logprobs: [TokenLogprob])] = []
        for r in requests {
            let x = try await runToEnd(solo, r)
            alone.append((x.tokens, x.logprobs))
        }
        solo.shutdown()
        // together: several slot counts and step budgets, shuffled arrival orders
        var rng = SeededRandom(seed: 7)
        for (parallel, budget) in [(8, 40), (3, 23)] {
            let engine = try ServeEngine(model: model, options: EngineOptions(parallel: parallel, context: 512, stepTokens: budget,
                                                                              kvCache: kvCache))
            let order = Array(requests.indices).shuffled(using: &rng)
            let results = try await withThrowingTaskGroup(of: (Int, [Int], [TokenLogprob]).self) { group in
                for i in order {
                    let r = requests[i]
                    group.addTask { let x = try await runToEnd(engine, r); return (i, x.tokens, x.logprobs) }
                }
                var out: [Int: ([Int], [TokenLogprob])] = [:]
                for try await (i, t, l) in group { out[i] = (t, l) }
                return out
            }
            engine.shutdown()
            for i in requests.indices {
                #expect(results[i]?.0 == alone[i].tokens, "request \(i), parallel \(parallel), \(kvCache)")
                #expect(results[i]?.1 == alone[i].logprobs, "request \(i) logprobs, parallel \(parallel), \(kvCache)")
            }
        }
    }

    @Test("a cancelled request frees its slot at once; a full queue refuses; an oversize prompt is refused")
    func cancellationAndLimits() async throws {
        let model = try ServeModel.require()
        // A asks for nearly the whole of a long context, so it cannot run to its end before the
        // cancel lands even when this task is starved of the cores (the engine buffers events;
        // with a 200-token request the engine sometimes finished A first in the full parallel run).
        let longEngine = try ServeEngine(model: model, options: EngineOptions(parallel: 1, context: 2048, stepTokens: 32, maxQueue: 1))
        defer { longEngine.shutdown() }
        let engine = try ServeEngine(model: model, options: EngineOptions(parallel: 1, context: 256, stepTokens: 32, maxQueue: 1))
        defer { engine.shutdown() }
        let prompt = model.tokenizer.encode("Count from one to one hundred:", parseSpecial: true)
        let longTokens = 2048 - prompt.count - 8
        let long = GenerationRequest(prompt: prompt, maxTokens: longTokens, stopTokens: [])
        let (idA, eventsA) = try longEngine.submit(long)
        var seen = 0
        var reasonA: FinishReason? = nil
        var eventsB: AsyncStream<EngineEvent>? = nil
        for await e in eventsA {
            if case .token = e {
                seen += 1
                if seen == 1 {
                    // A holds the only slot: B waits in the queue, C finds the queue full
                    eventsB = try longEngine.submit(GenerationRequest(prompt: prompt, maxTokens: 3, stopTokens: [])).events
                    #expect(throws: SubmitError.queueFull(retryAfter: 1)) { try longEngine.submit(GenerationRequest(prompt: prompt, maxTokens: 3)) }
                }
                if seen == 2 { longEngine.cancel(idA) }
            }
            if case .finished(let c) = e { reasonA = c.reason; #expect(c.completionTokens < longTokens) }
        }
        #expect(reasonA == .cancelled)
        var reasonB: FinishReason? = nil, countB = 0
        for await e in try #require(eventsB) {
            if case .token = e { countB += 1 }
            if case .finished(let c) = e { reasonB = c.reason }
        }
        #expect(reasonB == .length && countB == 3)
        #expect(throws: SubmitError.promptTooLong(promptTokens: 300, context: 256)) {
            try engine.submit(GenerationRequest(prompt: Array(repeating: 1, count: 300), maxTokens: 1))
        }
        // max tokens capped by the context
        let near = prompt + Array(repeating: 28, count: 240)
        let capped = try await runToEnd(engine, GenerationRequest(prompt: near, maxTokens: 1000, stopTokens: []))
        #expect(capped.done.maxTokens == 256 - near.count)
        #expect(capped.done.completionTokens == 256 - near.count && capped.done.reason == .length)
    }

    @Test("stop strings cut the text; speculative greedy decoding gives the same tokens")
    func stopAndSpeculative() async throws {
        let model = try ServeModel.require()
        let engine = try ServeEngine(model: model, options: EngineOptions(parallel: 2, context: 512, stepTokens: 64))
        defer { engine.shutdown() }
        let text = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 1, 2, 3, 4, 5, 6, 7, 8,"
        let prompt = model.tokenizer.encode(text, parseSpecial: true)
        let plain = try await runToEnd(engine, GenerationRequest(prompt: prompt, maxTokens: 24, stopTokens: []))
        let spec = try await runToEnd(engine, GenerationRequest(prompt: prompt, maxTokens: 24, stopTokens: [], speculative: true))
        #expect(spec.tokens == plain.tokens)
        #expect(spec.done.text == plain.done.text)
        // stop at the first occurrence of a string that the plain run produced
        let full = plain.done.text
        guard full.count > 6 else { Issue.record("plain run produced too little text: \(full)"); return }
        let stop = String(full.dropFirst(3).prefix(3))
        let cut = try await runToEnd(engine, GenerationRequest(prompt: prompt, maxTokens: 24, stop: [stop], stopTokens: []))
        #expect(cut.done.reason == .stop)
        #expect(cut.done.text == String(full[..<full.range(of: stop)!.lowerBound]))
    }
}
