import TesseraModels

/// One request while the engine holds it: its prompt progress, sampler, text and stream.
final class ServeSequence {
    let id: UInt64
    let request: GenerationRequest
    let sink: EventSink
    let stopTokens: Set<Int>
    /// `request.maxTokens` capped by the context left after the prompt.
    let maxTokens: Int
    let arrival: Double
    var slot = -1
    /// Prompt tokens in the slot's cache (reused prefix + chunks run so far).
    var fed = 0
    var cached = 0
    var generated: [Int] = []
    /// prompt + generated: what the repetition penalty and prompt lookup look at.
    var history: [Int]
    /// The last generated token, fed at the next step.
    var next = -1
    var sampler: RequestSampler
    var text: TextEmitter
    var lastTokenAt = 0.0

    init(id: UInt64, request: GenerationRequest, tokenizer: Tokenizer, context: Int,
         sink: EventSink, now: Double) throws(TesseraError) {
        self.id = id
        self.request = request
        self.sink = sink
        stopTokens = request.stopTokens ?? tokenizer.endOfGenerationTokens
        maxTokens = max(0, min(request.maxTokens, context - request.prompt.count))
        arrival = now
        history = request.prompt
        sampler = try RequestSampler(options: request.sampling, presencePenalty: request.presencePenalty,
                                     frequencyPenalty: request.frequencyPenalty)
        text = TextEmitter(tokenizer: tokenizer, stopStrings: request.stop, atTextStart: true)
        history.reserveCapacity(request.prompt.count + maxTokens)
    }

    var prefilling: Bool { fed < request.prompt.count }
    var remainingPrompt: Int { request.prompt.count - fed }

    func completion(_ reason: FinishReason, tail: String, error: String? = nil) -> Completion {
        Completion(reason: reason, promptTokens: request.prompt.count, cachedTokens: cached,
                   completionTokens: generated.count, tokens: generated, text: text.text, tail: tail,
                   maxTokens: maxTokens, error: error)
    }
}
