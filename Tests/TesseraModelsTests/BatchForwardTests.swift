import Foundation
import Testing
@testable import TesseraModels

/// `LlamaModel.forward(batch:)`: several sessions advanced in one pass give, entry by entry,
/// the bits of running each session alone — logits, cached keys/values and tokens.
@Suite("TesseraModels batched forward", .serialized)
struct BatchForwardTests {
    /// Cached keys and values of every layer, positions `0..<count` (head by head), as the
    /// bytes of their storage type.
    static func cacheContents(_ s: LlamaSession) throws -> [UInt8] {
        let c = s.cache
        let row = c.headDim * c.storage.bytes
        var out = [UInt8]()
        for l in 0..<c.layers {
            try c.withUnsafeStorage(layer: l) { k, v in
                for base in [k, v] {
                    for h in 0..<c.kvHeads {
                        out += UnsafeRawBufferPointer(start: base + h * c.maxContext * row, count: c.count * row)
                    }
                }
            }
        }
        return out
    }

    /// A random mix of prefill chunks and decode tokens over `n` sequences, run batched (with
    /// `workspace`, or the model's own) and solo, compared after every step.
    static func checkAgainstSolo(model: LlamaModel, sequences n: Int, steps: Int, seed: UInt64,
                                 workspace: ForwardWorkspace? = nil, kvCache: AttentionStorage? = nil) throws {
        var rng = TestRNG(seed)
        let vocab = model.config.vocabularySize
        let batched = try (0..<n).map { _ in try model.makeSession(contextLength: 96, kvCache: kvCache) }
        let solo = try (0..<n).map { _ in try model.makeSession(contextLength: 96, kvCache: kvCache) }
        for step in 0..<steps {
            // a random subset of the sequences, in random order
            var order = Array(0..<n).filter { _ in rng.int(3) != 0 }
            if order.isEmpty { order = [rng.int(n)] }
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(i + 1)) }
            var entries = [BatchEntry]()
            for s in order {
                let len = rng.int(4) == 0 ? 1 + rng.int(12) : 1     // prefill chunk or decode token
                guard batched[s].remainingContext >= len else { continue }
                let toks = (0..<len).map { _ in rng.int(vocab) }
                let which: LlamaSession.LogitRows = [.none, .last, .all][rng.int(3)]
                entries.append(BatchEntry(session: batched[s], tokens: toks, logits: which))
            }
            guard !entries.isEmpty else { continue }
            let got = try workspace.map { try model.forward(batch: entries, workspace: $0) } ?? model.forward(batch: entries)
            #expect(got.count == entries.count)
            for (e, entry) in entries.enumerated() {
                let s = batched.firstIndex { $0 === entry.session }!
                let want = try solo[s].forward(entry.tokens, logits: entry.logits)
                #expect(got[e] == want, "step \(step), sequence \(s) (\(entry.tokens.count) tokens, \(entry.logits)): logits differ from the solo run")
                #expect(batched[s].tokens == solo[s].tokens)
                #expect(try cacheContents(batched[s]) == cacheContents(solo[s]), "step \(step), sequence \(s): cache differs")
            }
        }
    }

    @Test(arguments: [ComputeBackend.kernels, .reference])
    func batchEqualsSoloRuns(backend: ComputeBackend) throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: backend)
        try BatchForwardTests.checkAgainstSolo(model: model, sequences: 5, steps: 12, seed: 7)
    }

    /// Sliding-window layers (Mistral-style on every layer; Gemma 3's local/global mix with
    /// GQA 4/1): the batched decode attention applies each sequence's window as its solo run.
    @Test(arguments: ["mistral", "gemma3"])
    func batchEqualsSoloRunsWithWindows(architecture: String) throws {
        let (model, _) = try TinyModelTests.load(ArchitectureTests.spec(architecture), backend: .kernels)
        try BatchForwardTests.checkAgainstSolo(model: model, sequences: 5, steps: 14, seed: 23)
    }

    /// A workspace of 5 rows and 2 logit rows splits entries across steps; nothing changes.
    @Test func smallWorkspaceSplitsStepsWithoutChangingBits() throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .kernels)
        let ws = try ForwardWorkspace(model: model, rows: 5, logitRows: 2)
        try BatchForwardTests.checkAgainstSolo(model: model, sequences: 4, steps: 10, seed: 11, workspace: ws)
    }

    /// The zero-copy form hands over the same rows as the array form, in order.
    @Test func zeroCopyFormDeliversTheSameRows() throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .kernels)
        let ws = try ForwardWorkspace(model: model, rows: 4, logitRows: 2)
        func batch() throws -> [BatchEntry] {
            [BatchEntry(session: try model.makeSession(contextLength: 16), tokens: [5, 6, 7, 8, 9], logits: .all),
             BatchEntry(session: try model.makeSession(contextLength: 16), tokens: [3], logits: .last)]
        }
        let want = try model.forward(batch: try batch(), workspace: ws)
        var got = [[[Float]]](repeating: [], count: 2)
        let vsz = model.config.vocabularySize
        try model.forward(batch: try batch(), workspace: ws) { e, rows, n in
            for r in 0..<n { got[e].append(Array(rows[(r * vsz)..<((r + 1) * vsz)])) }
        }
        #expect(got == want && want[0].count == 5 && want[1].count == 1)
    }

    @Test func stepPlanCoversEveryTokenOnce() {
        // entries of 7, 1, 3 tokens (.all, .last, .none) in steps of 4 rows / 2 logit rows
        let dummy = [7, 1, 3]
        let (bytes, _) = try! TinyModelSpec().build()
        let model = try! LlamaModel(file: try! GGUFFile(bytes: bytes), options: ModelOptions(backend: .reference))
        let batch = dummy.enumerated().map { i, n in
            BatchEntry(session: try! model.makeSession(contextLength: 16), tokens: Array(0..<n),
                       logits: [LlamaSession.LogitRows.all, .last, .none][i])
        }
        var offsets = [0, 0, 0], next = 0
        var taken = [[Int]](repeating: [], count: 3)
        var logits = [Int](repeating: 0, count: 3)
        while next < batch.count {
            let slices = LlamaModel.planStep(batch, offsets: &offsets, next: &next, rows: 4, logitRows: 2)
            #expect(!slices.isEmpty)
            #expect(slices.reduce(0) { $0 + $1.tokens.count } <= 4)
            #expect(slices.reduce(0) { $0 + $1.logitCount } <= 2)
            for s in slices {
                taken[s.entry] += s.tokens
                logits[s.entry] += s.logitCount
            }
        }
        #expect(taken == batch.map(\.tokens))
        #expect(logits == [7, 1, 0])
    }

    @Test func badBatchesAreRefusedAndRunNothing() throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .kernels)
        let (other, _) = try TinyModelTests.load(TinyModelSpec(), backend: .kernels)
        let a = try model.makeSession(contextLength: 8), b = try model.makeSession(contextLength: 8)
        try a.forward([1, 2], logits: .none)
        func refused(_ batch: [BatchEntry]) {
            #expect(throws: TesseraError.self) { try model.forward(batch: batch) }
            #expect(a.tokens == [1, 2] && a.cache.count == 2 && b.tokens.isEmpty && b.cache.count == 0)
        }
        refused([])
        refused([BatchEntry(session: a, tokens: [3]), BatchEntry(session: a, tokens: [4])])
        refused([BatchEntry(session: b, tokens: [3]), BatchEntry(session: a, tokens: [])])
        refused([BatchEntry(session: b, tokens: [3]), BatchEntry(session: a, tokens: Array(repeating: 5, count: 7))])
        refused([BatchEntry(session: b, tokens: [3]), BatchEntry(session: a, tokens: [100_000])])
        refused([BatchEntry(session: b, tokens: [3]), BatchEntry(session: try other.makeSession(contextLength: 8), tokens: [3])])
        let foreign = try ForwardWorkspace(model: other, rows: 4, logitRows: 1)
        #expect(throws: TesseraError.self) { try model.forward(batch: [BatchEntry(session: b, tokens: [3])], workspace: foreign) }
        #expect(throws: TesseraError.self) { try ForwardWorkspace(model: model, rows: 0, logitRows: 1) }
        #expect(throws: TesseraError.self) { try ForwardWorkspace(model: model, rows: 4, logitRows: 5) }
    }
}
