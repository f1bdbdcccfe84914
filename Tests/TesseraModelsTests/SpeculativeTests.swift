import Foundation
import Testing
@testable import TesseraModels

/// Speculative decoding must be lossless: for greedy sampling the tokens are exactly those of
/// plain decoding, whatever the drafts (prompt lookup, always right, always wrong, random),
/// draft lengths, stop conditions and context limits.
@Suite("TesseraModels speculative decoding", .serialized)
struct SpeculativeTests {
    static let tiny: LlamaModel = {
        let (bytes, _) = try! TinyModelSpec().build()
        return try! LlamaModel(file: try! GGUFFile(bytes: bytes), options: ModelOptions(backend: .kernels))
    }()

    // ---- drafting

    @Test func longestSuffixWinsOverMoreRecentShorterMatch() {
        //            0  1  2  3  4  5  6  7  8  9 10 11
        let ctx = [5, 1, 2, 3, 9, 8, 3, 7, 7, 1, 2, 3]
        // suffix [1,2,3] occurs at 1...3 (continuation 9); [3] alone recurs later at 6 (continuation 7)
        let m = PromptLookup.longestSuffixMatch(ctx, maxNgram: 8)
        #expect(m == PromptLookup.Match(start: 4, length: 3))
        #expect(PromptLookup.draft(ctx, maxNgram: 8, minNgram: 1, count: 3) == [9, 8, 3])
        // capped at 1 token: the most recent single-token match
        #expect(PromptLookup.longestSuffixMatch(ctx, maxNgram: 1) == PromptLookup.Match(start: 7, length: 1))
        #expect(PromptLookup.draft(ctx, maxNgram: 1, minNgram: 1, count: 2) == [7, 7])
    }

    @Test func mostRecentAmongEquallyLongMatches() {
        let ctx = [4, 6, 10, 4, 6, 11, 4, 6]
        #expect(PromptLookup.longestSuffixMatch(ctx, maxNgram: 8) == PromptLookup.Match(start: 5, length: 2))
        #expect(PromptLookup.draft(ctx, maxNgram: 8, minNgram: 1, count: 1) == [11])
    }

    @Test func continuationRunningIntoThePresentRepeatsPeriodically() {
        let ctx = [1, 2, 3, 1, 2, 3, 1, 2]
        // the most recent longest match of [...,1,2] continues with 3 and then with the draft itself
        #expect(PromptLookup.draft(ctx, maxNgram: 8, minNgram: 1, count: 7) == [3, 1, 2, 3, 1, 2, 3])
        #expect(PromptLookup.draft([7, 7], maxNgram: 4, minNgram: 1, count: 5) == [7, 7, 7, 7, 7])
    }

    @Test func noDraftWithoutARecurringSuffix() {
        #expect(PromptLookup.draft([1, 2, 3, 4], maxNgram: 3, minNgram: 1, count: 4) == [])
        #expect(PromptLookup.draft([1], maxNgram: 3, minNgram: 1, count: 4) == [])
        #expect(PromptLookup.draft([1, 2, 1, 2], maxNgram: 3, minNgram: 1, count: 0) == [])
        // [2] recurs but minNgram 2 needs [x, 2] to recur too
        #expect(PromptLookup.draft([1, 2, 3, 2], maxNgram: 3, minNgram: 2, count: 4) == [])
        #expect(PromptLookup.draft([1, 2, 3, 2], maxNgram: 3, minNgram: 1, count: 4) == [3, 2, 3, 2])
    }

    @Test func badOptionsAreRefused() throws {
        let g = try Generator(model: SpeculativeTests.tiny, contextLength: 64)
        for s in [SpeculativeOptions(maxNgram: 0), SpeculativeOptions(maxNgram: 2, minNgram: 3),
                  SpeculativeOptions(maxDraft: 1000), SpeculativeOptions(minDraft: 0),
                  SpeculativeOptions(maxDraft: 4, initialDraft: 8)] {
            var o = GenerationOptions(maxTokens: 4, stopTokens: [])
            o.speculative = s
            #expect(throws: TesseraError.self) { try g.generate(tokens: [1, 2, 3], options: o) { _ in true } }
        }
    }

    // ---- lossless on the tiny random model

    static func plain(_ prompt: [Int], maxTokens: Int, context: Int = 192, stops: Set<Int> = []) throws -> GenerationResult {
        let g = try Generator(model: tiny, contextLength: context)
        return try g.generate(tokens: prompt, options: GenerationOptions(maxTokens: maxTokens, stopTokens: stops)) { _ in true }
    }

    static func speculative(_ prompt: [Int], maxTokens: Int, context: Int = 192, stops: Set<Int> = [],
                            options: SpeculativeOptions = SpeculativeOptions(),
                            drafts: (([Int], Int) -> [Int])? = nil) throws -> GenerationResult {
        let g = try Generator(model: tiny, contextLength: context)
        g.draftSource = drafts
        var o = GenerationOptions(maxTokens: maxTokens, stopTokens: stops)
        o.speculative = options
        return try g.generate(tokens: prompt, options: o) { _ in true }
    }

    static func repetitivePrompt(_ rng: inout TestRNG) -> [Int] {
        let period = 2 + rng.int(10)
        let base = (0..<period).map { _ in 3 + rng.int(250) }
        var p = [1]
        for _ in 0..<(1 + rng.int(4)) { p += base; if rng.int(2) == 0 { p.append(3 + rng.int(250)) } }
        return p
    }

    @Test func promptLookupEqualsGreedyOnManyPromptsAndOptions() throws {
        var rng = TestRNG(11)
        let optionSets = [SpeculativeOptions(), SpeculativeOptions(maxDraft: 1, minDraft: 1, initialDraft: 1),
                          SpeculativeOptions(maxNgram: 2, maxDraft: 4, initialDraft: 3, adaptive: false),
                          SpeculativeOptions(maxNgram: 16, minNgram: 3, maxDraft: 32, initialDraft: 32)]
        var drafted = 0
        for trial in 0..<12 {
            let prompt = SpeculativeTests.repetitivePrompt(&rng)
            let a = try SpeculativeTests.plain(prompt, maxTokens: 48)
            for (k, s) in optionSets.enumerated() {
                let b = try SpeculativeTests.speculative(prompt, maxTokens: 48, options: s)
                #expect(a.tokens == b.tokens, "trial \(trial), options \(k): speculative output differs")
                #expect(b.stats.stopReason == a.stats.stopReason)
                #expect(b.stats.decodeForwards <= a.stats.decodeForwards)
                drafted += b.stats.draftedTokens
            }
        }
        #expect(drafted > 0)
    }

    @Test func alwaysRightDraftsAreAllAcceptedAndSaveForwards() throws {
        let prompt = [1, 40, 77, 266, 5, 9, 120]
        let a = try SpeculativeTests.plain(prompt, maxTokens: 60)
        let truth = prompt + a.tokens
        let b = try SpeculativeTests.speculative(prompt, maxTokens: 60,
                                                 options: SpeculativeOptions(maxDraft: 16, initialDraft: 16, adaptive: false)) { h, n in
            Array(truth[min(h.count, truth.count)..<min(h.count + n, truth.count)])
        }
        #expect(a.tokens == b.tokens)
        #expect(b.stats.draftedTokens > 0 && b.stats.acceptedDraftTokens == b.stats.draftedTokens)
        // 59 tokens after the first: 17 per pass (16 drafts + the bonus) -> 4 passes
        #expect(b.stats.decodeForwards == 4, "forwards \(b.stats.decodeForwards)")
    }

    @Test func alwaysWrongDraftsAreAllRejectedAndChangeNothing() throws {
        let prompt = [1, 40, 77, 266, 5, 9, 120]
        let a = try SpeculativeTests.plain(prompt, maxTokens: 40)
        let truth = prompt + a.tokens
        let vocab = SpeculativeTests.tiny.config.vocabularySize
        let b = try SpeculativeTests.speculative(prompt, maxTokens: 40) { h, n in
            (0..<n).map { i in h.count + i < truth.count ? (truth[h.count + i] + 1) % vocab : 3 }
        }
        #expect(a.tokens == b.tokens)
        #expect(b.stats.draftedTokens > 0 && b.stats.acceptedDraftTokens == 0)
        #expect(b.stats.decodeForwards == a.stats.decodeForwards)
    }

    @Test func randomAndPartlyRightDraftsEqualGreedy() throws {
        var rng = TestRNG(23)
        let vocab = SpeculativeTests.tiny.config.vocabularySize
        for trial in 0..<6 {
            let prompt = SpeculativeTests.repetitivePrompt(&rng)
            let a = try SpeculativeTests.plain(prompt, maxTokens: 40)
            let truth = prompt + a.tokens
            var r = TestRNG(UInt64(100 + trial))
            let b = try SpeculativeTests.speculative(prompt, maxTokens: 40) { h, n in
                // right for a random number of tokens, then random
                let good = r.int(n + 1)
                return (0..<n).map { i in
                    i < good && h.count + i < truth.count ? truth[h.count + i] : r.int(vocab)
                }
            }
            #expect(a.tokens == b.tokens, "trial \(trial)")
        }
    }

    @Test func stopsAndLimitsMatchPlainDecoding() throws {
        var rng = TestRNG(7)
        let prompt = [1] + Array(repeating: (0..<5).map { _ in 3 + rng.int(250) }, count: 3).flatMap { $0 }
        let right: ([Int], [Int]) -> ([Int], Int) -> [Int] = { prompt, toks in
            let truth = prompt + toks
            return { h, n in Array(truth[min(h.count, truth.count)..<min(h.count + n, truth.count)]) + [5, 6, 7] }
        }
        // maxTokens smaller than the draft, and exactly at a draft boundary
        for maxTokens in [1, 2, 3, 9, 17] {
            let a = try SpeculativeTests.plain(prompt, maxTokens: maxTokens)
            let b = try SpeculativeTests.speculative(prompt, maxTokens: maxTokens, drafts: right(prompt, a.tokens))
            #expect(a.tokens == b.tokens && b.tokens.count == maxTokens, "maxTokens \(maxTokens)")
            #expect(b.stats.stopReason == .maxTokens)
        }
        // the context fills up in the middle of a draft
        for context in [prompt.count + 1, prompt.count + 5, prompt.count + 18] {
            let a = try SpeculativeTests.plain(prompt, maxTokens: 100, context: context)
            let b = try SpeculativeTests.speculative(prompt, maxTokens: 100, context: context, drafts: right(prompt, a.tokens))
            #expect(a.tokens == b.tokens, "context \(context)")
            #expect(a.stats.stopReason == .contextFull && b.stats.stopReason == .contextFull)
        }
        // a stop token inside an accepted draft ends generation there
        let long = try SpeculativeTests.plain(prompt, maxTokens: 30)
        let stop = long.tokens[12]
        let a = try SpeculativeTests.plain(prompt, maxTokens: 30, stops: [stop])
        let b = try SpeculativeTests.speculative(prompt, maxTokens: 30, stops: [stop], drafts: right(prompt, long.tokens))
        #expect(a.tokens == b.tokens && a.stats.stopReason == .endOfTurn && b.stats.stopReason == .endOfTurn)
    }

    @Test func cancellingInsideAnAcceptedDraftStopsAtThatToken() throws {
        let prompt = [1, 40, 77, 266, 5, 9, 120]
        let a = try SpeculativeTests.plain(prompt, maxTokens: 40)
        let truth = prompt + a.tokens
        let g = try Generator(model: SpeculativeTests.tiny, contextLength: 128)
        g.draftSource = { h, n in Array(truth[min(h.count, truth.count)..<min(h.count + n, truth.count)]) }
        var o = GenerationOptions(maxTokens: 40, stopTokens: [])
        o.speculative = SpeculativeOptions(maxDraft: 16, initialDraft: 16, adaptive: false)
        var seen = 0
        let b = try g.generate(tokens: prompt, options: o) { _ in seen += 1; return seen < 7 }
        #expect(b.tokens == Array(a.tokens.prefix(7)))
        #expect(b.stats.stopReason == .cancelled)
        // the session holds exactly the prompt and the tokens fed back (no dead draft rows)
        #expect(Array(g.session.tokens.prefix(prompt.count)) == prompt)
        #expect(g.session.tokens.count <= prompt.count + 7)
        #expect(g.session.cache.count == g.session.tokens.count)
    }

    // ---- the real model (SmolLM2-135M when present)

    @Test(.enabled(if: ReferenceModel.model != nil, "reference model not available"))
    func realModelSpeculativeEqualsGreedyOnChats() throws {
        let m = try ReferenceModel.require()
        let requests = [
            "Rename the variable `total` to `acc` in this code and reply with the code only:\n\ndef f(xs):\n    total = 0\n    for x in xs:\n        total += x * x\n    return total\n",
            "Repeat this sentence three times: the cat sat on the mat.",
            "Correct the spelling: Teh quick brwon fox jumsp over teh lazy dgo.",
        ]
        for r in requests {
            let plain = try Generator(model: m, contextLength: 512)
            let spec = try Generator(model: m, contextLength: 512)
            var o = GenerationOptions(maxTokens: 40)
            let a = try plain.respond(to: [.user(r)], options: o)
            o.speculative = SpeculativeOptions()
            let b = try spec.respond(to: [.user(r)], options: o)
            #expect(a.tokens == b.tokens, "request \(r.debugDescription)")
            #expect(b.stats.decodeForwards <= a.stats.decodeForwards)
        }
    }
}
