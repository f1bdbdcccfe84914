import TesseraModels

/// Log-probabilities of a chosen token and the most likely alternatives at its position.
public struct TokenLogprob: Sendable, Equatable {
    /// The chosen token's id.
    public var id: Int
    /// Its log-probability under the model's distribution (log-softmax of the raw logits).
    public var logprob: Double
    /// The `topLogprobs` most likely tokens at this position, most likely first.
    public var top: [(id: Int, logprob: Double)]

    /// Same token, same log-probability bits, same alternatives in the same order.
    public static func == (a: TokenLogprob, b: TokenLogprob) -> Bool {
        a.id == b.id && a.logprob == b.logprob && a.top.map(\.id) == b.top.map(\.id)
            && a.top.map(\.logprob) == b.top.map(\.logprob)
    }
}

/// One request's token chooser: the model's `Sampler` (temperature, top-k, top-p, min-p,
/// repetition penalty, its own seeded random state) plus OpenAI's presence and frequency
/// penalties, applied to a private copy of the logits. Owning its RNG makes a seeded request's
/// tokens independent of what else runs in the batch. Without those penalties it draws exactly
/// what `Sampler` draws (and so `tessera generate`) for the same seed.
struct RequestSampler {
    var sampler: Sampler
    let presencePenalty: Float
    let frequencyPenalty: Float
    /// Counts of the generated tokens (what OpenAI's penalties look at).
    private var counts: [Int: Int] = [:]
    private var scratch: [Float] = []

    init(options: SamplingOptions, presencePenalty: Float, frequencyPenalty: Float) throws(TesseraError) {
        sampler = try Sampler(options: options)
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
    }

    private var penalised: Bool { !counts.isEmpty && (presencePenalty != 0 || frequencyPenalty != 0) }

    /// The next token from `logits`; `history` is prompt + generated (repetition penalty).
    /// The same token `Sampler.sample` gives for the same state.
    mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: ArraySlice<Int>) -> Int {
        withAdjusted(logits) { s, l in s.sample(l, history: history) }
    }

    /// Speculative verification of `draft`, with the same penalties: `Sampler.verify`
    /// (accept with probability p(draft), else draw from p without the draft).
    mutating func verify(_ logits: UnsafeBufferPointer<Float>, history: ArraySlice<Int>, draft: Int) -> (token: Int, accepted: Bool) {
        withAdjusted(logits) { s, l in s.verify(l, history: history, draft: draft) }
    }

    /// Records a token as generated (it now counts for the presence/frequency penalties).
    mutating func record(_ id: Int) { counts[id, default: 0] += 1 }

    private mutating func withAdjusted<R>(_ logits: UnsafeBufferPointer<Float>,
                                          _ body: (inout Sampler, UnsafeBufferPointer<Float>) -> R) -> R {
        if !penalised { return body(&sampler, logits) }
        var buffer: [Float] = []
        swap(&buffer, &scratch)
        defer { swap(&buffer, &scratch) }
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: logits)
        for (id, n) in counts where id < buffer.count {
            buffer[id] -= presencePenalty + frequencyPenalty * Float(n)
        }
        return buffer.withUnsafeBufferPointer { body(&sampler, $0) }
    }

    /// Log-probabilities of `id` and of the `top` most likely tokens (log-softmax in f64 of the raw logits).
    static func logprobs(_ logits: UnsafeBufferPointer<Float>, chosen id: Int, top: Int) -> TokenLogprob {
        var mx = -Float.infinity
        for l in logits where l > mx { mx = l }
        var sum = 0.0
        for l in logits { sum += _exp(Double(l - mx)) }
        let lse = Double(mx) + _log(sum)
        var best: [(id: Int, logprob: Double)] = []
        if top > 0 {
            // partial selection: keep the `top` largest (ties: lower id first)
            var heap: [(Int, Float)] = []
            for (i, l) in logits.enumerated() {
                if heap.count < top { heap.append((i, l)); heap.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }; continue }
                if l > heap[top - 1].1 {
                    heap[top - 1] = (i, l)
                    heap.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
                }
            }
            best = heap.map { ($0.0, Double($0.1) - lse) }
        }
        return TokenLogprob(id: id, logprob: Double(logits[id]) - lse, top: best)
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
#else
import Darwin
@inline(__always) private func _exp(_ x: Double) -> Double { Darwin.exp(x) }
@inline(__always) private func _log(_ x: Double) -> Double { Darwin.log(x) }
#endif
