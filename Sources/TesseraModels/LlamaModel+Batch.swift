import Foundation

/// One sequence's part of a batched forward pass (`LlamaModel.forward(batch:)`): the session
/// to advance, the tokens to run after its cached ones (a prefill chunk or one decode token),
/// and which logit rows it wants back.
public struct BatchEntry: @unchecked Sendable {
    // @unchecked: LlamaSession is single-owner mutable state; the caller owns the entry's session.

    /// The sequence to advance; its cache receives the keys/values of `tokens`.
    public let session: LlamaSession
    /// Token ids to run after the session's cached tokens (at least one).
    public let tokens: [Int]
    /// Which logit rows this entry gets back (`.none`, the last token's, or every token's).
    public let logits: LlamaSession.LogitRows

    /// An entry advancing `session` by `tokens`, returning the `logits` rows it asks for.
    public init(session: LlamaSession, tokens: [Int], logits: LlamaSession.LogitRows = .last) {
        self.session = session
        self.tokens = tokens
        self.logits = logits
    }
}

/// One sequence's rows inside one forward step.
struct StepSlice {
    /// Index of the entry in the batch.
    let entry: Int
    let session: LlamaSession
    let tokens: ArraySlice<Int>
    /// Cache position of the first token.
    let start: Int
    /// First row of the slice among the step's rows.
    let row: Int
    /// Logit rows this step produces for the slice (`.last` only where the step ends the entry).
    let logits: LlamaSession.LogitRows
    /// First logit row of the slice in the workspace.
    let logitRow: Int

    var logitCount: Int {
        switch logits {
        case .none: return 0
        case .last: return 1
        case .all: return tokens.count
        }
    }
}

extension LlamaModel {
    /// Advances several sessions in one forward pass: every projection (q/k/v, o, gate/up,
    /// down, output) runs once over the rows of all entries together (an M-row quantized
    /// product costs little more at M = 16 than at M = 1), RoPE at each row's own position,
    /// attention per sequence on its own KV cache. Returns, per entry, the logit rows it asked
    /// for (`.none`: none, `.last`: one, `.all`: one per token).
    ///
    /// Each entry's logits and cache are bit-identical to running its session alone with
    /// `session.forward(entry.tokens, logits: entry.logits)` — whatever the other entries are
    /// (prefill chunks or single decode tokens), their order, and the batch size — because
    /// every kernel is batch-invariant. Entries run in the order given; more rows than the
    /// workspace holds run in several steps.
    ///
    /// Uses a workspace the model keeps for such calls (or a fresh one when another call holds
    /// it); a caller running one step after another passes its own with
    /// `forward(batch:workspace:)`. Errors (nothing runs): `.invalidArgument` for an empty
    /// batch or entry, a session of another model or listed twice, a token id out of range;
    /// `.outOfRange` when an entry does not fit its session's remaining context. An error
    /// while running rolls every session back to where it was.
    public func forward(batch: [BatchEntry]) throws(TesseraError) -> [[[Float]]] {
        let ws = try workspaceCache.take(model: self, rows: batch.reduce(0) { $0 + $1.tokens.count },
                                         logitRows: batch.reduce(0) { $0 + Self.logitCount($1) })
        defer { workspaceCache.give(ws) }
        return try forward(batch: batch, workspace: ws)
    }

    /// As `forward(batch:)` on the caller's `workspace` (made for this model; one call at a
    /// time). Steps hold at most `workspace.rows` token rows and `workspace.logitRows` logit rows.
    public func forward(batch: [BatchEntry], workspace: ForwardWorkspace) throws(TesseraError) -> [[[Float]]] {
        var out = [[[Float]]](repeating: [], count: batch.count)
        let vsz = config.vocabularySize
        try runBatch(batch, workspace: workspace) { entry, ptr, rows in
            for r in 0..<rows {
                out[entry].append(Array(UnsafeBufferPointer(start: ptr + r * vsz, count: vsz)))
            }
        }
        return out
    }

    /// As `forward(batch:workspace:)` without copying the logits: `body(entry, rows, count)`
    /// receives `count` rows (row-major, `vocabularySize` each) of entry `entry`, valid only
    /// during the call. An entry's rows come in order; an `.all` entry longer than a step gets
    /// several calls. For a server sampling many sequences per step (no per-row arrays).
    public func forward(batch: [BatchEntry], workspace: ForwardWorkspace,
                        logits body: (Int, UnsafeBufferPointer<Float>, Int) -> Void) throws(TesseraError) {
        let vsz = config.vocabularySize
        try runBatch(batch, workspace: workspace) { entry, ptr, rows in
            body(entry, UnsafeBufferPointer(start: ptr, count: rows * vsz), rows)
        }
    }

    /// Runs a batch that fits one step of `workspace` (at most `workspace.rows` tokens and
    /// `workspace.logitRows` logit rows in all) and returns, per entry, its logit rows as one
    /// row-major buffer inside the workspace (empty for `.none`), valid until the workspace is
    /// used again. For a server that samples every sequence of a step, in parallel, without
    /// copying rows. Errors as `forward(batch:workspace:)`, plus `.invalidArgument` when the
    /// batch does not fit one step.
    public func forwardStep(batch: [BatchEntry], workspace: ForwardWorkspace) throws(TesseraError) -> [UnsafeBufferPointer<Float>] {
        let rows = batch.reduce(0) { $0 + $1.tokens.count }, logitRows = batch.reduce(0) { $0 + Self.logitCount($1) }
        guard rows <= workspace.rows, logitRows <= workspace.logitRows else {
            throw .invalidArgument("forwardStep: \(rows) tokens and \(logitRows) logit rows do not fit one step of the workspace (\(workspace.rows), \(workspace.logitRows))")
        }
        let vsz = config.vocabularySize
        var out = [UnsafeBufferPointer<Float>](repeating: UnsafeBufferPointer(start: nil, count: 0), count: batch.count)
        try runBatch(batch, workspace: workspace) { entry, ptr, rows in
            out[entry] = UnsafeBufferPointer(start: ptr, count: rows * vsz)
        }
        return out
    }

    static func logitCount(_ e: BatchEntry) -> Int {
        switch e.logits {
        case .none: return 0
        case .last: return 1
        case .all: return e.tokens.count
        }
    }

    /// Validates `batch`, runs it step by step and hands each step's logit rows of each entry
    /// to `deliver(entry, rows pointer, row count)` (valid until the next step).
    func runBatch(_ batch: [BatchEntry], workspace ws: ForwardWorkspace,
                  deliver: (Int, UnsafePointer<Float>, Int) -> Void) throws(TesseraError) {
        guard !batch.isEmpty else { throw .invalidArgument("forward(batch:): no entries") }
        guard ws.modelID == ObjectIdentifier(self) else {
            throw .invalidArgument("forward(batch:): the workspace was made for another model")
        }
        let vsz = config.vocabularySize
        var seen = Set<ObjectIdentifier>()
        for (i, e) in batch.enumerated() {
            let s = e.session
            guard s.model === self else { throw .invalidArgument("forward(batch:): entry \(i)'s session belongs to another model") }
            guard seen.insert(ObjectIdentifier(s)).inserted else {
                throw .invalidArgument("forward(batch:): entry \(i)'s session appears twice in the batch")
            }
            guard !e.tokens.isEmpty else { throw .invalidArgument("forward: no tokens (entry \(i))") }
            guard e.tokens.count <= s.remainingContext else {
                throw .outOfRange("forward: \(e.tokens.count) tokens do not fit in the remaining context (\(s.remainingContext) of \(s.cache.maxContext) positions)")
            }
            for t in e.tokens where t < 0 || t >= vsz {
                throw .invalidArgument("forward: token id \(t) is not in 0..<\(vsz)")
            }
        }
        let initial = batch.map { $0.session.cache.count }
        var offsets = [Int](repeating: 0, count: batch.count)
        var next = 0
        do {
            while next < batch.count {
                let slices = Self.planStep(batch, offsets: &offsets, next: &next, rows: ws.rows, logitRows: ws.logitRows)
                try runStep(slices, workspace: ws)
                for s in slices where s.logitCount > 0 {
                    deliver(s.entry, ws.logits + s.logitRow * vsz, s.logitCount)
                }
            }
        } catch {
            for (i, e) in batch.enumerated() { e.session.rollBack(to: initial[i]) }
            throw error
        }
        for e in batch { e.session.profile.forwards += 1 }
    }

    /// The next step: entries in order from `next`, as many tokens as fit `rows` and whose
    /// logits fit `logitRows`; advances `offsets` and `next`. Always takes at least one token.
    static func planStep(_ batch: [BatchEntry], offsets: inout [Int], next: inout Int,
                         rows: Int, logitRows: Int) -> [StepSlice] {
        var slices = [StepSlice]()
        var used = 0, usedLogits = 0
        var e = next
        while e < batch.count, used < rows {
            let entry = batch[e]
            let remaining = entry.tokens.count - offsets[e]
            var take = min(remaining, rows - used)
            var which = LlamaSession.LogitRows.none
            switch entry.logits {
            case .none: break
            case .all:
                take = min(take, logitRows - usedLogits)
                which = .all
            case .last:
                if take == remaining {
                    if usedLogits < logitRows { which = .last } else { take = remaining - 1 }
                }
            }
            if take <= 0 { break }
            let lo = offsets[e]
            let slice = StepSlice(entry: e, session: entry.session, tokens: entry.tokens[lo..<(lo + take)],
                                  start: entry.session.cache.count, row: used, logits: which, logitRow: usedLogits)
            slices.append(slice)
            used += take
            usedLogits += slice.logitCount
            offsets[e] += take
            if offsets[e] < entry.tokens.count { break }   // the step is full
            e += 1
        }
        next = e
        return slices
    }
}

/// The model's spare workspace for `forward(batch:)` calls without one: taken by one call at
/// a time (a concurrent call makes its own), replaced when a call needs more rows.
final class WorkspaceCache: @unchecked Sendable {
    // @unchecked: `spare` is guarded by `lock`.
    private let lock = NSLock()
    private var spare: ForwardWorkspace?

    /// Largest workspace kept (rows); bigger batches run in steps of this many rows.
    static let maxRows = 512
    /// Largest number of logit rows kept.
    static let maxLogitRows = 64

    func take(model: LlamaModel, rows: Int, logitRows: Int) throws(TesseraError) -> ForwardWorkspace {
        let r = min(max(rows, 1), Self.maxRows)
        let l = min(max(logitRows, 1), Self.maxLogitRows, r)
        lock.lock()
        let ws = spare
        spare = nil
        lock.unlock()
        if let ws, ws.rows >= r, ws.logitRows >= l { return ws }
        return try ForwardWorkspace(model: model, rows: max(r, ws?.rows ?? 0), logitRows: max(l, ws?.logitRows ?? 0))
    }

    func give(_ ws: ForwardWorkspace) {
        lock.lock()
        if spare == nil || spare!.rows < ws.rows { spare = ws }
        lock.unlock()
    }
}

extension LlamaSession {
    /// Makes the first `count` cached tokens of this session those of `donor` (another session
    /// of the same model), copying the donor's keys and values instead of recomputing them: a
    /// server whose requests share a system prompt prefills it once, whichever slot a request
    /// lands in. What this session already shares with the donor's first `count` tokens is
    /// kept; everything after is dropped. The copy is exact: a prefix's K/V rows do not depend
    /// on how (or beside what) they were computed, so the session continues bit for bit as if
    /// it had run the prefix itself. Returns the tokens copied.
    ///
    /// Errors (nothing changes but the drop of positions after the shared part):
    /// `.invalidArgument` for a session of another model, the session itself, or a `count`
    /// outside `0...donor.tokens.count` or a donor whose cache is stored in another type
    /// (`KVCache.appendRows` copies the rows as they are); `.outOfRange` when `count` exceeds
    /// this session's context.
    @discardableResult
    public func adoptPrefix(of donor: LlamaSession, count n: Int) throws(TesseraError) -> Int {
        guard donor !== self else { throw .invalidArgument("adoptPrefix: the donor is this session") }
        guard donor.model === model else { throw .invalidArgument("adoptPrefix: the donor runs another model") }
        guard n >= 0, n <= donor.tokens.count else {
            throw .invalidArgument("adoptPrefix: count \(n) is not in 0...\(donor.tokens.count) (the donor's tokens)")
        }
        guard n <= cache.maxContext else { throw .outOfRange("adoptPrefix: \(n) tokens exceed the context (\(cache.maxContext))") }
        guard cache.storage == donor.cache.storage else {
            throw .invalidArgument("adoptPrefix: the donor's K/V cache is \(donor.cache.storage.name), this session's \(cache.storage.name)")
        }
        var kept = 0
        let limit = min(n, tokens.count)
        while kept < limit && tokens[kept] == donor.tokens[kept] { kept += 1 }
        rollBack(to: kept)
        let m = n - kept
        guard m > 0 else { return 0 }
        do {
            // the donor's rows as stored (f32, f16 or bf16): what this session would have stored
            try cache.appendRows(of: donor.cache, from: kept, count: m)
        } catch {
            rollBack(to: kept)
            throw error
        }
        commit(donor.tokens[kept..<n])
        return m
    }
}
