/// Options of speculative decoding by prompt lookup (n-gram drafts from the context).
public struct SpeculativeOptions: Sendable, Equatable {
    /// Longest and shortest n-gram matched against the context (longest tried first).
    public var maxNgram: Int = 3
    public var minNgram: Int = 1
    /// Draft length bounds; with `adaptive`, the length grows after fully accepted drafts and
    /// shrinks to what was accepted after a rejection.
    public var maxDraft: Int = 16
    public var minDraft: Int = 2
    public var initialDraft: Int = 8
    public var adaptive: Bool = true

    public init(maxNgram: Int = 3, minNgram: Int = 1, maxDraft: Int = 16, minDraft: Int = 2,
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

/// Prompt-lookup drafting (ALGORITHMS.md §9b): take the last n tokens of the context, find
/// their earliest earlier occurrence, and propose the tokens that followed it.
public enum PromptLookup {
    /// Up to `count` draft tokens continuing `context`, or [] when no n-gram recurs.
    public static func draft(_ context: [Int], maxNgram: Int, minNgram: Int, count: Int) -> [Int] {
        let n = context.count
        guard count > 0, n >= 2 else { return [] }
        var size = min(maxNgram, n - 1)
        while size >= minNgram {
            let tail = n - size
            // earliest start i < tail (the trailing n-gram itself is excluded)
            var i = 0
            while i < tail {
                if context[i] == context[tail] {
                    var ok = true
                    for k in 1..<size where context[i + k] != context[tail + k] { ok = false; break }
                    if ok {
                        let from = i + size
                        let to = min(from + count, n)
                        if from < to { return Array(context[from..<to]) }
                    }
                }
                i += 1
            }
            size -= 1
        }
        return []
    }
}
