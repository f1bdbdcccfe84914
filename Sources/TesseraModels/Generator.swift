import Foundation

/// What to generate and when to stop.
public struct GenerationOptions: Sendable {
    /// Tokens to generate at most.
    public var maxTokens: Int = 256
    /// How each token is chosen (greedy by default).
    public var sampling = SamplingOptions()
    /// Generation stops when the text contains one of these (the stop string is not returned).
    public var stopStrings: [String] = []
    /// Tokens that end generation (nil: the tokenizer's end-of-turn tokens, e.g. `<|im_end|>`).
    public var stopTokens: Set<Int>? = nil
    /// Prompt-lookup speculative decoding (nil = off). Lossless: for greedy sampling the
    /// tokens are exactly those of plain decoding; for temperature sampling the distribution
    /// is exactly the same.
    public var speculative: SpeculativeOptions? = nil
    /// Whether special tokens (e.g. `<|im_start|>`) written in the prompt become their ids.
    public var parseSpecialTokens = true

    /// Options with these limits and stops.
    public init(maxTokens: Int = 256, sampling: SamplingOptions = SamplingOptions(), stopStrings: [String] = [],
                stopTokens: Set<Int>? = nil, speculative: SpeculativeOptions? = nil) {
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopStrings = stopStrings
        self.stopTokens = stopTokens
        self.speculative = speculative
    }
}

/// One generated token and the text it completed (may be empty while a UTF-8 character or a
/// possible stop string is pending).
public struct GeneratedToken: Sendable, Equatable {
    /// The token's id.
    public var id: Int
    /// Text completed by this token (may be empty).
    public var text: String
}

/// Why a generation ended.
public enum StopReason: String, Sendable {
    /// The token limit; an end-of-turn token; a stop string; the context is full; the caller stopped the stream.
    case maxTokens, endOfTurn, stopString, contextFull, cancelled
}

/// Figures of one generation.
public struct GenerationStats: Sendable, Equatable {
    /// Tokens in the prompt.
    public var promptTokens = 0
    /// Prompt tokens that were already in the session's cache (not recomputed).
    public var cachedPromptTokens = 0
    /// Tokens generated.
    public var generatedTokens = 0
    /// Wall time of the prompt pass, seconds.
    public var prefillSeconds = 0.0
    /// Wall time of the decode phase, seconds.
    public var decodeSeconds = 0.0
    /// Forward passes of the decode phase (with speculation: fewer than generated tokens).
    public var decodeForwards = 0
    /// Draft tokens proposed by prompt lookup.
    public var draftedTokens = 0
    /// Draft tokens the model accepted.
    public var acceptedDraftTokens = 0
    /// Why generation ended.
    public var stopReason = StopReason.maxTokens

    /// All zero.
    public init() {}

    /// Prompt tokens computed per second of prefill (cached tokens excluded).
    public var promptTokensPerSecond: Double {
        prefillSeconds > 0 ? Double(promptTokens - cachedPromptTokens) / prefillSeconds : 0
    }
    /// Generated tokens per second of the decode phase (the first token comes from prefill).
    public var tokensPerSecond: Double {
        decodeSeconds > 0 ? Double(max(0, generatedTokens - 1)) / decodeSeconds : 0
    }
    /// Fraction of drafted tokens that were accepted.
    public var acceptanceRate: Double { draftedTokens > 0 ? Double(acceptedDraftTokens) / Double(draftedTokens) : 0 }
}

/// The outcome of `Generator.generate`.
public struct GenerationResult: Sendable {
    /// The generated text (without a stop string).
    public var text: String
    /// The generated token ids.
    public var tokens: [Int]
    /// Counts and timings.
    public var stats: GenerationStats
}

/// Events of a generation stream.
public enum GenerationEvent: Sendable {
    /// A generated token and the text it completed.
    case token(GeneratedToken)
    /// The end of the generation, with its figures.
    case finished(GenerationStats)
}

/// Generates text with a model: prefill (chunked, GEMM path), then token-by-token decode
/// (GEMV path) or prompt-lookup speculative decode. Keeps its session between calls, so a
/// follow-up prompt that extends the previous conversation reuses the cached prefix.
///
/// One generation at a time per generator (calls are serialised).
public final class Generator: @unchecked Sendable {
    // @unchecked: all mutable state is behind `lock`.
    /// The model.
    public let model: LlamaModel
    /// The session (KV cache and position) kept between calls.
    public let session: LlamaSession
    private let lock = NSLock()
    /// Test hook: replaces prompt lookup as the draft source (`(prompt + generated, count) ->
    /// draft`; longer drafts are cut). Lets tests feed always-right / always-wrong drafts.
    var draftSource: (([Int], Int) -> [Int])? = nil
    /// Measured pass costs and draft acceptance, kept across generations (see SpeculativeTuner).
    var tuner = SpeculativeTuner()

    /// A generator with a session of `contextLength` tokens (nil: the model's context length)
    /// whose K/V cache is stored as `kvCache` (nil: the model's `kvCache`).
    public init(model: LlamaModel, contextLength: Int? = nil, kvCache: AttentionStorage? = nil) throws(TesseraError) {
        self.model = model
        self.session = try model.makeSession(contextLength: contextLength, kvCache: kvCache)
    }

    /// The model's tokenizer.
    public var tokenizer: Tokenizer { model.tokenizer }

    /// Tokens for a chat conversation (template applied, special tokens parsed).
    public func chatTokens(_ messages: [ChatMessage]) -> [Int] {
        tokenizer.encode(model.chatTemplate.render(messages), addBOS: false, parseSpecial: true)
    }

    /// Generates a continuation of `prompt` (text), calling `onToken` as tokens are produced;
    /// return false from `onToken` to stop.
    @discardableResult
    public func generate(prompt: String, options: GenerationOptions = GenerationOptions(),
                         onToken: (GeneratedToken) -> Bool = { _ in true }) throws(TesseraError) -> GenerationResult {
        let ids = tokenizer.encode(prompt, parseSpecial: options.parseSpecialTokens)
        return try generate(tokens: ids, options: options, onToken: onToken)
    }

    /// Generates the assistant's reply to `messages`.
    @discardableResult
    public func respond(to messages: [ChatMessage], options: GenerationOptions = GenerationOptions(),
                        onToken: (GeneratedToken) -> Bool = { _ in true }) throws(TesseraError) -> GenerationResult {
        try generate(tokens: chatTokens(messages), options: options, onToken: onToken)
    }

    /// Streams the generation as an `AsyncSequence` of events (tokens, then the stats).
    /// Cancelling the consuming task stops generation at the next token.
    public func stream(prompt: String, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<GenerationEvent, Error> {
        let ids = tokenizer.encode(prompt, parseSpecial: options.parseSpecialTokens)
        return stream(tokens: ids, options: options)
    }

    /// Streams the answer to a conversation, formatted by the model's chat template.
    public func stream(messages: [ChatMessage], options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<GenerationEvent, Error> {
        stream(tokens: chatTokens(messages), options: options)
    }

    /// Streams the continuation of prompt `tokens`.
    public func stream(tokens: [Int], options: GenerationOptions) -> AsyncThrowingStream<GenerationEvent, Error> {
        AsyncThrowingStream { continuation in
            let task = Task.detached { [self] in
                do {
                    let r = try self.generate(tokens: tokens, options: options) { tok in
                        if Task.isCancelled { return false }
                        if case .terminated = continuation.yield(.token(tok)) { return false }
                        return true
                    }
                    continuation.yield(.finished(r.stats))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The core loop. `tokens` is the whole prompt; a prefix already in the session's cache is
    /// reused. Prompts that do not leave room for one generated token are refused.
    @discardableResult
    public func generate(tokens prompt: [Int], options: GenerationOptions,
                         onToken: (GeneratedToken) -> Bool) throws(TesseraError) -> GenerationResult {
        lock.lock()
        defer { lock.unlock() }
        guard !prompt.isEmpty else { throw .invalidArgument("generate: empty prompt") }
        guard options.maxTokens >= 0 else { throw .invalidArgument("generate: maxTokens \(options.maxTokens) must be >= 0") }
        guard prompt.count < session.cache.maxContext else {
            throw .outOfRange("prompt of \(prompt.count) tokens does not fit the context of \(session.cache.maxContext) positions (it must leave room for at least one generated token); shorten it or create the generator with a larger contextLength")
        }
        if let spec = options.speculative { try spec.validate(maxRows: session.maxLogitRows) }
        var sampler = try Sampler(options: options.sampling)
        let stops = options.stopTokens ?? tokenizer.endOfGenerationTokens
        var stats = GenerationStats()
        stats.promptTokens = prompt.count

        // reuse the cached prefix (at least the last prompt token is recomputed for its logits)
        var common = 0
        let cached = session.tokens
        while common < min(cached.count, prompt.count - 1) && cached[common] == prompt[common] { common += 1 }
        session.truncate(to: common)
        stats.cachedPromptTokens = common

        var emitter = TextEmitter(tokenizer: tokenizer, stopStrings: options.stopStrings)
        var generated = [Int]()
        var history = prompt   // prompt + generated: repetition penalty and drafting look at it
        var stopped = false

        /// Records one chosen token; false when generation must stop.
        func accept(_ t: Int) -> Bool {
            generated.append(t)
            history.append(t)
            stats.generatedTokens += 1
            if stops.contains(t) { stats.stopReason = .endOfTurn; _ = emitter.flushAll().map { onToken(GeneratedToken(id: t, text: $0)) }; return false }
            let (text, hitStop) = emitter.push(t)
            if !onToken(GeneratedToken(id: t, text: text)) { stats.stopReason = .cancelled; return false }
            if hitStop { stats.stopReason = .stopString; return false }
            if generated.count >= options.maxTokens { stats.stopReason = .maxTokens; return false }
            // room to feed `t` back: counted from the tokens kept, not the cache length, which
            // during a verification pass also holds the draft rows after `t`
            if prompt.count + generated.count > session.cache.maxContext { stats.stopReason = .contextFull; return false }
            return true
        }

        var t0 = monotonicSeconds()
        var next = 0
        try session.forward(Array(prompt[common...]), logits: .last) { (l: UnsafeBufferPointer<Float>, _: Int) in
            next = sampler.sample(l, history: history[...])
        }
        stats.prefillSeconds = monotonicSeconds() - t0
        t0 = monotonicSeconds()
        if options.maxTokens == 0 { stopped = true; stats.stopReason = .maxTokens } else { stopped = !accept(next) }

        while !stopped {
            if let spec = options.speculative {
                let room = min(spec.maxDraft, options.maxTokens - generated.count, session.remainingContext - 1)
                // what to draft from: the test hook, or the longest suffix match in the context
                var matchLength = 0
                var match: PromptLookup.Match? = nil
                if room > 0 {
                    if draftSource != nil { matchLength = 8 } else {
                        match = PromptLookup.longestSuffixMatch(history, maxNgram: spec.maxNgram)
                        if let m = match, m.length >= spec.minNgram { matchLength = m.length } else { match = nil }
                    }
                }
                var count = 0
                if matchLength > 0 {
                    count = spec.adaptive
                        ? tuner.draftLength(matchLength: matchLength, minDraft: min(spec.minDraft, room), maxDraft: room)
                        : min(spec.initialDraft, room)
                    if count == 0 { tuner.recordSkipped(matchLength: matchLength) }
                }
                var draft = [Int]()
                if count > 0 {
                    if let source = draftSource {
                        draft = source(history, count)
                        if draft.count > count { draft.removeSubrange(count...) }
                    } else if let m = match {
                        draft = PromptLookup.draft(history, match: m, count: count)
                    }
                }
                if !draft.isEmpty {
                    let base = session.tokens.count
                    var accepted = 0
                    var correction: Int? = nil
                    let vocab = session.vocabularySize
                    let p0 = monotonicSeconds()
                    try session.forward([next] + draft, logits: .all) { (l: UnsafeBufferPointer<Float>, rows: Int) in
                        for i in 0..<draft.count {
                            let row = UnsafeBufferPointer(rebasing: l[(i * vocab)..<((i + 1) * vocab)])
                            let (tok, ok) = sampler.verify(row, history: history[...], draft: draft[i])
                            if ok {
                                accepted += 1
                                if !accept(tok) { stopped = true; return }
                            } else {
                                correction = tok
                                return
                            }
                        }
                        // every draft accepted: the last row gives a bonus token
                        let row = UnsafeBufferPointer(rebasing: l[(draft.count * vocab)..<((draft.count + 1) * vocab)])
                        correction = sampler.sample(row, history: history[...])
                    }
                    tuner.recordPass(rows: draft.count + 1, seconds: monotonicSeconds() - p0)
                    tuner.recordDraft(matchLength: matchLength, drafted: draft.count, accepted: accepted)
                    stats.decodeForwards += 1
                    stats.draftedTokens += draft.count
                    stats.acceptedDraftTokens += accepted
                    // keep `next` and the accepted drafts; the rest of the cache is dead
                    session.truncate(to: base + 1 + accepted)
                    if stopped { break }
                    guard let c = correction else { break }
                    next = c
                    stopped = !accept(next)
                    continue
                }
            }
            let p0 = monotonicSeconds()
            try session.forward([next], logits: .last) { (l: UnsafeBufferPointer<Float>, _: Int) in
                next = sampler.sample(l, history: history[...])
            }
            if options.speculative != nil { tuner.recordPass(rows: 1, seconds: monotonicSeconds() - p0) }
            stats.decodeForwards += 1
            stopped = !accept(next)
        }
        stats.decodeSeconds = monotonicSeconds() - t0
        if stats.stopReason != .stopString && stats.stopReason != .endOfTurn {
            if let tail = emitter.flushAll(), !tail.isEmpty, let last = generated.last {
                _ = onToken(GeneratedToken(id: last, text: tail))
            }
        }
        return GenerationResult(text: emitter.text, tokens: generated, stats: stats)
    }
}
