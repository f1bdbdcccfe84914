import Foundation
import Testing
@testable import TesseraServe
import TesseraModels

/// Shared prompt prefixes across slots: a system prompt's K/V, computed in one slot, are copied
/// into another slot instead of recomputed — and the tokens stay exactly those of a solo run.
@Suite("TesseraServe shared prefixes (SmolLM2)", .serialized)
struct PrefixSharingTests {
    static func prompts(_ model: LlamaModel) -> (system: Int, a: [Int], b: [Int]) {
        let system = "You are a careful assistant. You answer in short, plain sentences, you never invent facts, "
            + "and when a question is unclear you say what you would need to know. Keep every answer under fifty words."
        let tok = model.tokenizer
        let render = { (q: String) in
            tok.encode(model.chatTemplate.render([.system(system), .user(q)]), addBOS: false, parseSpecial: true)
        }
        let a = render("Why is the sky blue?"), b = render("How do bees make honey?")
        var shared = 0
        while shared < min(a.count, b.count) && a[shared] == b[shared] { shared += 1 }
        return (shared, a, b)
    }

    @Test("adoptPrefix: a session continued from a copied prefix gives the logits of one that ran it all")
    func adoptPrefixIsExact() throws {
        let model = try ServeModel.require()
        let (shared, a, b) = Self.prompts(model)
        #expect(shared > 40, "the two prompts share only \(shared) tokens")
        let donor = try model.makeSession(contextLength: 256)
        _ = try donor.forward(a, logits: .none)
        // the reference runs all of B itself (the prefix in one chunk, then the rest with every row's logits)
        let fresh = try model.makeSession(contextLength: 256)
        _ = try fresh.forward(Array(b[..<shared]), logits: .none)
        let whole = try fresh.forward(Array(b[shared...]), logits: .all)
        // the receiver already holds a stale, partly matching conversation: it is replaced
        let receiver = try model.makeSession(contextLength: 256)
        _ = try receiver.forward(Array(b.prefix(5)) + [7, 8, 9], logits: .none)
        let copied = try receiver.adoptPrefix(of: donor, count: shared)
        #expect(copied == shared - 5)
        #expect(Array(receiver.tokens) == Array(b.prefix(shared)))
        let rest = try receiver.forward(Array(b[shared...]), logits: .all)
        #expect(rest.count == b.count - shared && rest == whole)
        // bad input throws and leaves the donor alone
        #expect(throws: TesseraError.self) { try receiver.adoptPrefix(of: receiver, count: 1) }
        #expect(throws: TesseraError.self) { try receiver.adoptPrefix(of: donor, count: a.count + 1) }
        #expect(throws: TesseraError.self) { try receiver.adoptPrefix(of: donor, count: -1) }
        #expect(Array(donor.tokens) == a)
    }

    @Test("a request whose system prompt another slot holds copies it, and its tokens equal its solo run")
    func engineCopiesSharedPrefix() async throws {
        let model = try ServeModel.require()
        let (shared, a, b) = Self.prompts(model)
        let ra = GenerationRequest(prompt: a, maxTokens: 40, stopTokens: [])
        let rb = GenerationRequest(prompt: b, maxTokens: 12, stopTokens: [])
        // solo references, each on an engine of its own (no cache reuse at all)
        var alone: [[Int]] = []
        for r in [ra, rb] {
            let e = try ServeEngine(model: model, options: EngineOptions(parallel: 1, context: 256, stepTokens: 32))
            alone.append(try await runToEnd(e, r).tokens)
            e.shutdown()
        }
        let engine = try ServeEngine(model: model, options: EngineOptions(parallel: 2, context: 512, stepTokens: 32))
        defer { engine.shutdown() }
        // A takes a slot and runs (far longer than B, so it still holds its slot however this task
        // is scheduled); once it decodes, B arrives and lands in the other, empty slot
        let (idA, eventsA) = try engine.submit(GenerationRequest(prompt: a, maxTokens: 400, stopTokens: []))
        var tokensA: [Int] = []
        var doneB: (tokens: [Int], logprobs: [TokenLogprob], done: Completion)? = nil
        for await e in eventsA {
            if case .token(let t) = e {
                tokensA.append(t.id)
                if tokensA.count == 1 { doneB = try await runToEnd(engine, rb) }
                if tokensA.count == ra.maxTokens { engine.cancel(idA) }
            }
        }
        let b2 = try #require(doneB)
        #expect(Array(tokensA.prefix(ra.maxTokens)) == alone[0])
        #expect(b2.tokens == alone[1])
        #expect(b2.done.cachedTokens == shared, "B reused \(b2.done.cachedTokens) of the \(shared) shared tokens")
        #expect(engine.metrics.exposition().contains("tessera_prompt_tokens_copied_total \(shared)"))
    }
}
