import Foundation
import TesseraModels

/// What one request asks the engine to generate.
public struct GenerationRequest: Sendable {
    /// Prompt token ids (chat template already applied for chat requests).
    public var prompt: [Int]
    /// Most tokens to generate (the engine caps it by the context left after the prompt).
    public var maxTokens: Int
    /// Temperature, top-k, top-p, min-p, repetition penalty and the seed of this request's own RNG.
    public var sampling: SamplingOptions
    /// OpenAI's presence penalty: subtracted once from the logit of every token generated so far.
    public var presencePenalty: Float
    /// OpenAI's frequency penalty: subtracted per occurrence of every token generated so far.
    public var frequencyPenalty: Float
    /// Generation stops before any of these texts (which are not returned).
    public var stop: [String]
    /// Token ids that end the generation (nil: the model's end-of-generation tokens).
    public var stopTokens: Set<Int>?
    /// nil: no log-probabilities; k: the chosen token's and the k most likely ones' (0...20).
    public var topLogprobs: Int?
    /// Prompt-lookup speculative decoding for this request (lossless: same distribution).
    public var speculative: Bool

    /// A request with these settings (defaults: greedy, no penalties, no stop strings).
    public init(prompt: [Int], maxTokens: Int, sampling: SamplingOptions = SamplingOptions(),
                presencePenalty: Float = 0, frequencyPenalty: Float = 0, stop: [String] = [],
                stopTokens: Set<Int>? = nil, topLogprobs: Int? = nil, speculative: Bool = false) {
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.stop = stop
        self.stopTokens = stopTokens
        self.topLogprobs = topLogprobs
        self.speculative = speculative
    }
}

/// Why a generation ended (OpenAI's `finish_reason`, plus the engine's own cases).
public enum FinishReason: String, Sendable {
    /// A stop string or an end-of-generation token.
    case stop
    /// `max_tokens` (or the context) reached.
    case length
    /// The client went away or the request was cancelled.
    case cancelled
    /// The model failed on this sequence (the message is in `Completion.error`).
    case error
}

/// One generated token as the client sees it.
public struct TokenPiece: Sendable {
    /// The token id.
    public var id: Int
    /// Text released with this token (may be empty: an incomplete character or a possible stop string is held back).
    public var text: String
    /// Log-probabilities, when the request asked for them.
    public var logprob: TokenLogprob?
}

/// The end of one request.
public struct Completion: Sendable {
    /// Why it ended.
    public var reason: FinishReason
    /// Prompt tokens.
    public var promptTokens: Int
    /// Prompt tokens whose keys/values were reused from the slot's cache.
    public var cachedTokens: Int
    /// Generated tokens (all of them, also those whose text a stop string cut).
    public var completionTokens: Int
    /// The generated token ids.
    public var tokens: [Int]
    /// The whole generated text (cut before a stop string).
    public var text: String
    /// The tail text released at the end (not yet sent as a token piece).
    public var tail: String
    /// `maxTokens` after capping by the context.
    public var maxTokens: Int
    /// The error message when `reason == .error`.
    public var error: String?
}

/// What the engine reports for a request, in order: tokens, then one `finished`.
public enum EngineEvent: Sendable {
    /// A token was generated.
    case token(TokenPiece)
    /// The request ended; no event follows.
    case finished(Completion)
}

/// Why the engine refused a request before queueing it.
public enum SubmitError: Error, Sendable, Equatable {
    /// The waiting queue is full; try again after about `retryAfter` seconds.
    case queueFull(retryAfter: Int)
    /// The prompt leaves no room for a generated token in one slot's context.
    case promptTooLong(promptTokens: Int, context: Int)
    /// The prompt has no tokens, or a token id outside the vocabulary.
    case invalidPrompt(String)
    /// The sampling options are out of range.
    case invalidSampling(String)
    /// The engine was shut down.
    case shutDown
}

/// Sizes of the engine.
public struct EngineOptions: Sendable {
    /// Slots (sequences decoding at once); each holds a K/V cache of `context` positions.
    public var parallel: Int = 4
    /// Context length of every slot (prompt + generated tokens).
    public var context: Int = 2048
    /// Tokens one step may run: one per decoding sequence, the rest for prefill chunks
    /// (Dynamic SplitFuse). Raised to at least `parallel + 16`.
    public var stepTokens: Int = 128
    /// Requests that may wait for a slot; more are refused with `queueFull`.
    public var maxQueue: Int = 64
    /// After a step, how long the engine waits at most for the streamed responses' writers to
    /// write the step's tokens before it starts the next forward (0: not at all), so that they
    /// do not take cores from the forward's workers (see `WriterPacing`). Default 2 ms, or
    /// `TESSERA_SERVE_PACE_US` microseconds.
    public var writerPaceSeconds: Double = EngineOptions.defaultWriterPace
    /// Element type of every slot's K/V cache (nil: the model's `kvCache`, from
    /// `ModelOptions.kvCache`). f16 and bf16 halve the cache's memory and the bytes a step's
    /// attention reads; a request's tokens still do not depend on the others (all slots share
    /// the type, and each row's bits are its one-sequence computation's in that type).
    public var kvCache: AttentionStorage? = nil

    /// Options with these sizes.
    public init(parallel: Int = 4, context: Int = 2048, stepTokens: Int = 128, maxQueue: Int = 64,
                kvCache: AttentionStorage? = nil) {
        self.parallel = parallel
        self.context = context
        self.stepTokens = stepTokens
        self.maxQueue = maxQueue
        self.kvCache = kvCache
    }

    static let defaultWriterPace: Double = {
        guard let v = ProcessInfo.processInfo.environment["TESSERA_SERVE_PACE_US"], let us = Double(v), us >= 0, us <= 1e6 else {
            return 0.002
        }
        return us * 1e-6
    }()
}
