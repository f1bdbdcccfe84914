/// Options of speculative decoding by prompt lookup (n-gram drafts from the context).
public struct SpeculativeOptions: Sendable, Equatable {
    /// Longest and shortest suffix matched against the context. The longest match wins
    /// (the most recent one among equally long matches); a match of `maxNgram` tokens stops
    /// the search early.
    public var maxNgram: Int = 8
    /// Shortest suffix matched.
    public var minNgram: Int = 1
    /// Draft length bounds. With `adaptive` (the default) each pass drafts the number of tokens
    /// that maximises expected tokens per second, from the pass cost measured as a function of
    /// its row count and the acceptance measured for matches of the same length (possibly no
    /// draft, when a plain pass is expected to be faster); otherwise always `initialDraft`.
    public var maxDraft: Int = 16
    /// Shortest draft.
    public var minDraft: Int = 2
    /// Draft length before any measurement (and always, without `adaptive`).
    public var initialDraft: Int = 8
    /// Choose each draft's length from measured costs and acceptance.
    public var adaptive: Bool = true

    /// Options with these bounds.
    public init(maxNgram: Int = 8, minNgram: Int = 1, maxDraft: Int = 16, minDraft: Int = 2,
                initialDraft: Int = 8, adaptive: Bool = true) {
        self.maxNgram = maxNgram
        self.minNgram = minNgram
        self.maxDraft = maxDraft
        self.minDraft = minDraft
        self.initialDraft = initialDraft
        self.adaptive = adaptive
    }

    func validate(maxRows: Int) throws(TesseraError) {
        guard minNgram >= 1, maxNgram >= minNgram, maxNgram <= 64 else {
            throw .invalidArgument("speculative n-gram sizes \(minNgram)...\(maxNgram) must satisfy 1 <= min <= max <= 64")
        }
        guard minDraft >= 1, maxDraft >= minDraft, maxDraft < maxRows else {
            throw .invalidArgument("speculative draft lengths \(minDraft)...\(maxDraft) must satisfy 1 <= min <= max < \(maxRows)")
        }
        guard initialDraft >= minDraft, initialDraft <= maxDraft else {
            throw .invalidArgument("initial draft length \(initialDraft) must be in \(minDraft)...\(maxDraft)")
        }
    }
}

/// Prompt-lookup drafting (ALGORITHMS.md §9b): find the earlier place in the context whose
/// preceding tokens match the longest suffix of the context, and propose the tokens that
/// followed it.
public enum PromptLookup {
    /// A match: the continuation starts at `start`; `length` tokens before it equal the
    /// context's last `length` tokens.
    public struct Match: Sendable, Equatable {
        /// Position of the first continuation token.
        public var start: Int
        /// Tokens matched before it.
        public var length: Int
    }

    /// The longest suffix match of `context` (1 ≤ length ≤ maxNgram; the most recent of equally
    /// long ones), or nil when even the last token does not recur.
    public static func longestSuffixMatch(_ context: [Int], maxNgram: Int) -> Match? {
        let n = context.count
        guard n >= 2, maxNgram >= 1 else { return nil }
        return context.withUnsafeBufferPointer { c -> Match? in
            let last = c[n - 1]
            var best: Match? = nil
            // j: where the continuation starts (the token before it matches the last token);
            // scanned from the most recent, so the first match of a given length is kept
            var j = n - 1
            while j >= 1 {
                if c[j - 1] == last {
                    var len = 1
                    while len < maxNgram && j - 1 - len >= 0 && c[j - 1 - len] == c[n - 1 - len] { len += 1 }
                    if len > (best?.length ?? 0) {
                        best = Match(start: j, length: len)
                        if len == maxNgram { break }
                    }
                }
                j -= 1
            }
            return best
        }
    }

    /// Up to `count` draft tokens continuing `context`, or [] when no suffix of at least
    /// `minNgram` tokens recurs. A continuation that runs into the end of the context goes on
    /// with the draft itself (a repeating pattern is extended periodically).
    public static func draft(_ context: [Int], maxNgram: Int, minNgram: Int, count: Int) -> [Int] {
        guard count > 0, let m = longestSuffixMatch(context, maxNgram: maxNgram), m.length >= minNgram else { return [] }
        return draft(context, match: m, count: count)
    }

    /// `count` tokens continuing `match` (found in this `context`).
    public static func draft(_ context: [Int], match m: Match, count: Int) -> [Int] {
        guard count > 0, m.start >= 1, m.start < context.count else { return [] }
        var out = [Int]()
        out.reserveCapacity(count)
        let n = context.count
        for i in 0..<count {
            let idx = m.start + i
            out.append(idx < n ? context[idx] : out[idx - n])
        }
        return out
    }
}
