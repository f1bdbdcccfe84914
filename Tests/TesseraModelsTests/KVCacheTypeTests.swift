import Foundation
import Testing
@testable import TesseraModels

/// K/V caches stored in f16 or bf16 (`ModelOptions.kvCache`, `makeSession(kvCache:)`): the keys
/// and values are rounded once when stored and read exactly, so a session's logits are those of
/// a float64 forward whose K/V are rounded to the type; batched and solo runs, plain and
/// speculative decoding, and copied prefixes still give the same bits.
@Suite("TesseraModels K/V cache types", .serialized)
struct KVCacheTypeTests {
    /// `x` as the storage type holds it (round to nearest even), in float64.
    static func rounded(_ x: Double, _ storage: AttentionStorage) -> Double {
        let f = Float(x)
        switch storage {
        case .float32: return Double(f)
        case .float16: return Double(Float(Float16(f)))
        case .bfloat16:
            let b = f.bitPattern
            return Double(Float(bitPattern: (b &+ 0x7FFF &+ ((b >> 16) & 1)) & 0xFFFF_0000))
        }
    }

    @Test(arguments: [ComputeBackend.reference, .kernels], [AttentionStorage.float16, .bfloat16])
    func logitsMatchFloat64WithRoundedKV(backend: ComputeBackend, storage: AttentionStorage) throws {
        let spec = TinyModelSpec()
        var options = ModelOptions(backend: backend)
        options.kvCache = storage
        let (bytes, weights) = try spec.build()
        let model = try LlamaModel(file: try GGUFFile(bytes: bytes), options: options)
        #expect(model.kvCache == storage)
        let tokens = [1, 40, 77, 266, 5, 9, 120, 2, 64, 77, 266]
        let session = try model.makeSession(contextLength: 64)
        #expect(session.cache.storage == storage)
        // prefill, then decode steps: both attention paths read the narrow cache
        var logits = try session.forward(Array(tokens.prefix(6)), logits: .all)
        for t in tokens.dropFirst(6) { logits += try session.forward([t], logits: .last) }
        let ref = { (round: Bool) in
            referenceForward(tokens, weights: weights, layers: spec.layers, dim: spec.dim, ffn: spec.ffn, heads: spec.heads,
                             kvHeads: spec.kvHeads, ropeBase: Double(spec.ropeBase), eps: Double(spec.eps),
                             vocab: model.config.vocabularySize, kvRounding: round ? { Self.rounded($0, storage) } : nil)
        }
        let want = ref(true), unrounded = ref(false)
        // the reference operators compute in f32 (error ~1e-6 against float64 on the same K/V);
        // the C kernels quantize activations to int8
        let tol = backend == .reference ? 1e-4 : 3e-2
        var worstRounded = 0.0, worstUnrounded = 0.0
        for t in tokens.indices {
            let err = TinyModelTests.maxRelativeError(logits[t], want[t])
            #expect(err < tol, "\(backend), \(storage), position \(t): relative error \(err) against rounded K/V")
            worstRounded = max(worstRounded, err)
            worstUnrounded = max(worstUnrounded, TinyModelTests.maxRelativeError(logits[t], unrounded[t]))
        }
        if backend == .reference {
            // the rounding is what the model computes: the unrounded reference is farther away
            #expect(worstRounded * 4 < worstUnrounded, "\(storage): \(worstRounded) vs unrounded \(worstUnrounded)")
        }
    }

    /// Layer 0's keys and values do not depend on earlier attention: an f16/bf16 session stores
    /// exactly the f32 session's rows, rounded.
    @Test(arguments: [AttentionStorage.float16, .bfloat16])
    func storedRowsAreTheRoundedF32Rows(storage: AttentionStorage) throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .kernels)
        let tokens = [1, 40, 77, 266, 5, 9, 120]
        let wide = try model.makeSession(contextLength: 32)
        let narrow = try model.makeSession(contextLength: 32, kvCache: storage)
        try wide.forward(tokens, logits: .none)
        try narrow.forward(tokens, logits: .none)
        for values in [false, true] {
            let a = try wide.cache.view(layer: 0, values: values).withUnsafeBufferPointer { Array($0) }
            let b = try narrow.cache.view(layer: 0, values: values).withUnsafeBufferPointer { Array($0) }
            #expect(a.count == b.count && !a.isEmpty)
            #expect(a.map { Float(Self.rounded(Double($0), storage)) } == b, "\(storage), values \(values)")
        }
    }

    /// Batched steps give each sequence its solo bits with narrow caches too (plain causal and
    /// Gemma 3's local/global windows with GQA).
    @Test(arguments: [AttentionStorage.float16, .bfloat16], ["llama", "gemma3"])
    func batchEqualsSoloRuns(storage: AttentionStorage, architecture: String) throws {
        let spec = architecture == "llama" ? TinyModelSpec() : ArchitectureTests.spec(architecture)
        let (model, _) = try TinyModelTests.load(spec, backend: .kernels)
        try BatchForwardTests.checkAgainstSolo(model: model, sequences: 5, steps: 12, seed: 31, kvCache: storage)
    }

    @Test func referenceBackendBatchEqualsSoloWithF16() throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .reference)
        try BatchForwardTests.checkAgainstSolo(model: model, sequences: 3, steps: 8, seed: 5, kvCache: .float16)
    }

    /// Prompt-lookup speculative decoding stays lossless over an f16 cache (verification and
    /// rollback of rejected drafts on the narrow rows).
    @Test func speculativeEqualsPlainWithF16() throws {
        var o = ModelOptions(backend: .kernels)
        o.kvCache = .float16
        let model = try LlamaModel(file: try GGUFFile(bytes: try TinyModelSpec().build().bytes), options: o)
        var rng = TestRNG(17)
        var drafted = 0
        for trial in 0..<6 {
            let prompt = SpeculativeTests.repetitivePrompt(&rng)
            let plain = try Generator(model: model, contextLength: 192)
                .generate(tokens: prompt, options: GenerationOptions(maxTokens: 40, stopTokens: [])) { _ in true }
            var so = GenerationOptions(maxTokens: 40, stopTokens: [])
            so.speculative = SpeculativeOptions()
            let g = try Generator(model: model, contextLength: 192)
            #expect(g.session.cache.storage == .float16)
            let spec = try g.generate(tokens: prompt, options: so) { _ in true }
            #expect(spec.tokens == plain.tokens, "trial \(trial)")
            drafted += spec.stats.draftedTokens
        }
        #expect(drafted > 0)
    }

    /// `adoptPrefix` / `KVCache.appendRows` copy narrow rows as they are: a continued session
    /// gives the logits of one that ran the whole prompt; mixed types and bad ranges are refused.
    @Test func copiedPrefixIsExactAndTypesMustMatch() throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .kernels)
        let prompt = [1, 40, 77, 266, 5, 9, 120, 2, 64, 31, 32, 33]
        let donor = try model.makeSession(contextLength: 64, kvCache: .float16)
        try donor.forward(prompt, logits: .none)
        let fresh = try model.makeSession(contextLength: 64, kvCache: .float16)
        try fresh.forward(Array(prompt.prefix(8)), logits: .none)
        let prefixRows = try BatchForwardTests.cacheContents(fresh)
        let want = try fresh.forward(Array(prompt.dropFirst(8)) + [7, 8], logits: .all)
        let receiver = try model.makeSession(contextLength: 48, kvCache: .float16)
        try receiver.forward([1, 40, 3], logits: .none)
        #expect(try receiver.adoptPrefix(of: donor, count: 8) == 6)
        #expect(try BatchForwardTests.cacheContents(receiver) == prefixRows)
        #expect(try receiver.forward(Array(prompt.dropFirst(8)) + [7, 8], logits: .all) == want)
        // a session of another cache type cannot take f16 rows
        let wide = try model.makeSession(contextLength: 64, kvCache: .float32)
        #expect(throws: TesseraError.self) { try wide.adoptPrefix(of: donor, count: 4) }
        #expect(wide.tokens.isEmpty && wide.cache.count == 0)
        // appendRows: rows the donor does not hold, or that do not fit, change nothing
        let small = try KVCache(layers: donor.cache.layers, kvHeads: donor.cache.kvHeads, headDim: donor.cache.headDim,
                                maxContext: 4, storage: .float16)
        #expect(throws: TesseraError.self) { try small.appendRows(of: donor.cache, from: 0, count: 5) }
        #expect(throws: TesseraError.self) { try small.appendRows(of: donor.cache, from: 10, count: 3) }
        #expect(throws: TesseraError.self) { try small.appendRows(of: donor.cache, from: -1, count: 1) }
        #expect(throws: TesseraError.self) { try small.appendRows(of: small, from: 0, count: 0) }
        #expect(small.count == 0)
        try small.appendRows(of: donor.cache, from: 2, count: 4)
        #expect(small.count == 4)
        for l in 0..<small.layers {
            for values in [false, true] {
                let a = try small.view(layer: l, values: values).withUnsafeBufferPointer { Array($0) }
                let d = try donor.cache.view(layer: l, values: values).withUnsafeBufferPointer { Array($0) }
                let hd = small.headDim, n = donor.cache.count
                for h in 0..<small.kvHeads {
                    #expect(Array(a[(h * 4 * hd)..<((h + 1) * 4 * hd)]) == Array(d[((h * n + 2) * hd)..<((h * n + 6) * hd)]))
                }
            }
        }
    }

    @Test func storageNames() {
        for s in AttentionStorage.allCases { #expect(AttentionStorage(name: s.name) == s) }
        #expect(AttentionStorage(name: "F16") == .float16)
        #expect(AttentionStorage(name: "q8_0") == nil && AttentionStorage(name: "") == nil)
    }
}
