#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One conversation with a model: the KV cache, the tokens it holds, and preallocated
/// buffers for forward passes of up to `maxBatch` tokens (no allocation per token).
///
/// Not thread-safe: use a session from one task at a time.
public final class LlamaSession: @unchecked Sendable {
    // @unchecked: single-owner mutable state; `Generator` serialises access.

    /// The model this session runs; sessions share it.
    public let model: LlamaModel
    /// Keys and values of `tokens`, every layer (`maxContext` = the context length; stored as
    /// `LlamaModel.makeSession(contextLength:kvCache:)` asked: f32, f16 or bf16).
    public let cache: KVCache
    /// Tokens whose keys/values are in the cache, in order.
    public private(set) var tokens: [Int] = []
    /// Largest number of tokens one forward pass takes (longer prompts run in chunks).
    public let maxBatch: Int
    /// Largest number of logit rows one forward pass returns.
    public let maxLogitRows: Int
    /// Time breakdown of the forward passes so far.
    public var profile = ForwardProfile()

    /// The session's own forward buffers (`maxBatch` rows, `maxLogitRows` logit rows).
    let workspace: ForwardWorkspace
    /// The attention kernel's split-decode scratch: grows with the context, never per token.
    let attentionWorkspace = AttentionWorkspace()

    init(model: LlamaModel, capacity: Int, storage: AttentionStorage, maxBatch: Int = 64,
         maxLogitRows: Int = 33) throws(TesseraError) {
        let c = model.config
        guard capacity >= 1, capacity <= 1 << 20 else {
            throw .invalidArgument("context length \(capacity) must be in 1...\(1 << 20)")
        }
        self.model = model
        self.maxBatch = maxBatch
        self.maxLogitRows = maxLogitRows
        cache = try KVCache(layers: c.layers, kvHeads: c.kvHeads, headDim: c.headDim, maxContext: capacity, storage: storage)
        // sizes come from the file's hyperparameters: allocation failures throw
        workspace = try ForwardWorkspace(model: model, rows: maxBatch, logitRows: maxLogitRows)
    }

    /// Entries per row of logits (the model's vocabulary).
    public var vocabularySize: Int { model.config.vocabularySize }
    /// Positions still free in the cache.
    public var remainingContext: Int { cache.maxContext - cache.count }

    /// Forgets the conversation.
    public func reset() {
        cache.reset()
        tokens.removeAll(keepingCapacity: true)
    }

    /// Drops the tokens after the first `count` (used to roll back rejected drafts).
    public func truncate(to count: Int) {
        let n = max(0, min(count, tokens.count))
        truncateCache(to: n)
        tokens.removeSubrange(n...)
    }

    /// Drops cached positions from `n` on (`n >= 0`, which the cache never refuses).
    private func truncateCache(to n: Int) {
        do { try cache.truncate(to: n) } catch { preconditionFailure("KVCache.truncate(to: \(n)): \(error)") }
    }

    /// Forgets what a failed forward pass appended: cache and tokens back to `count` positions.
    func rollBack(to count: Int) {
        truncateCache(to: count)
        if tokens.count > count { tokens.removeSubrange(count...) }
    }

    /// Records tokens whose keys/values a forward step appended.
    func commit(_ newTokens: ArraySlice<Int>) { tokens.append(contentsOf: newTokens) }

    /// Which logit rows a forward pass returns.
    public enum LogitRows: Sendable { case none, last, all }

    /// Runs `newTokens` through the model after the cached ones and returns their logits
    /// (`.last`: one row; `.all`: one row per token, at most `maxLogitRows` tokens).
    /// Longer inputs run in chunks of `maxBatch`. The returned buffer is valid until the next
    /// call. Throws if the context would overflow or a token id is out of range.
    @discardableResult
    public func forward(_ newTokens: [Int], logits which: LogitRows = .last) throws(TesseraError) -> [[Float]] {
        var rows = [[Float]]()
        try forward(newTokens, logits: which) { (ptr: UnsafeBufferPointer<Float>, n: Int) in
            let vsz = vocabularySize
            for r in 0..<n { rows.append(Array(UnsafeBufferPointer(rebasing: ptr[(r * vsz)..<((r + 1) * vsz)]))) }
        }
        return rows
    }

    /// As `forward(_:logits:)` but hands the logits (row-major, `rows × vocabularySize`) to
    /// `body` without copying. The one-sequence case of `LlamaModel.forward(batch:)`, on the
    /// session's own workspace (`maxBatch` rows per step).
    public func forward(_ newTokens: [Int], logits which: LogitRows,
                        _ body: (UnsafeBufferPointer<Float>, Int) throws(TesseraError) -> Void) throws(TesseraError) {
        if which == .all && newTokens.count > maxLogitRows {
            throw .invalidArgument("forward: logits for \(newTokens.count) rows requested, at most \(maxLogitRows)")
        }
        // .all fits one step (maxLogitRows <= maxBatch) and .last comes with the last step, so
        // the rows are delivered once and stay in the workspace until the next call
        var got: (UnsafePointer<Float>, Int)? = nil
        try model.runBatch([BatchEntry(session: self, tokens: newTokens, logits: which)], workspace: workspace) { _, p, n in
            got = (p, n)
        }
        if let (p, n) = got {
            try body(UnsafeBufferPointer(start: p, count: n * vocabularySize), n)
        } else {
            try body(UnsafeBufferPointer(start: workspace.logits, count: 0), 0)
        }
    }
}
