import Foundation
import Testing
@testable import TesseraModels

/// The runner on tiny random models written by the tests (no download): every block type,
/// against a float64 forward pass written from the formulas.
@Suite("TesseraModels tiny model", .serialized)
struct TinyModelTests {
    static func load(_ spec: TinyModelSpec, backend: ComputeBackend) throws -> (LlamaModel, [String: [Float]]) {
        let (bytes, weights) = try spec.build()
        let model = try LlamaModel(file: try GGUFFile(bytes: bytes), options: ModelOptions(backend: backend))
        return (model, weights)
    }

    static func maxRelativeError(_ got: [Float], _ want: [Double]) -> Double {
        let scale = max(want.map { abs($0) }.max() ?? 1, 1e-6)
        return zip(got, want).map { abs(Double($0) - $1) }.max()! / scale
    }

    @Test(arguments: [ComputeBackend.reference, .kernels], [true, false])
    func logitsMatchFloat64Reference(backend: ComputeBackend, tied: Bool) throws {
        var spec = TinyModelSpec()
        spec.tiedOutput = tied
        if !tied { spec.embeddingType = .f16; spec.outputType = .q6_K }
        let (model, weights) = try TinyModelTests.load(spec, backend: backend)
        let tokens = [1, 40, 77, 266, 5, 9, 120, 2, 64]
        let session = try model.makeSession(contextLength: 64)
        let logits = try session.forward(tokens, logits: .all)
        let want = referenceForward(tokens, weights: weights, layers: spec.layers, dim: spec.dim, ffn: spec.ffn,
                                    heads: spec.heads, kvHeads: spec.kvHeads, ropeBase: Double(spec.ropeBase),
                                    eps: Double(spec.eps), vocab: model.config.vocabularySize)
        // reference kernels: f32 vs f64 rounding only; C kernels quantize activations to int8
        let tol = backend == .reference ? 1e-4 : 3e-2
        for t in tokens.indices {
            let err = TinyModelTests.maxRelativeError(logits[t], want[t])
            #expect(err < tol, "backend \(backend), tied \(tied), position \(t): relative error \(err)")
        }
    }

    @Test(arguments: [ComputeBackend.reference, .kernels])
    func batchedLogitsEqualOneTokenAtATime(backend: ComputeBackend) throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: backend)
        let tokens = [1, 50, 51, 52, 50, 51, 52, 200, 7, 8, 9, 10, 11]
        let a = try model.makeSession(contextLength: 64)
        let b = try model.makeSession(contextLength: 64)
        // a: 5-token prefill, then an 8-token batch; b: one token at a time
        try a.forward(Array(tokens[0..<5]), logits: .none)
        let batched = try a.forward(Array(tokens[5...]), logits: .all)
        var single = [[Float]]()
        for t in tokens { single.append(try b.forward([t], logits: .last)[0]) }
        for i in 0..<batched.count {
            #expect(batched[i] == single[5 + i], "position \(5 + i) differs between batched and single-token forward")
        }
    }

    /// `ModelOptions.pool` is the pool of every kernel: the projections (plans and products),
    /// attention and the reference operators; results do not depend on its thread count.
    @Test(arguments: [ComputeBackend.kernels, .reference])
    func modelOptionsPoolIsThePoolUsed(backend: ComputeBackend) throws {
        let pool = try ThreadPool(threads: 1, binding: ThreadPool.Binding.none)
        let (bytes, _) = try TinyModelSpec().build()
        let model = try LlamaModel(file: try GGUFFile(bytes: bytes), options: ModelOptions(backend: backend, pool: pool))
        #expect(model.pool === pool)
        func pools(_ op: any LinearOperator) -> [ThreadPool] {
            switch op {
            case let k as KernelLinear: return [k.pool]
            case let r as ReferenceLinear: return [r.pool]
            case let c as ConcatLinear: return c.parts.flatMap(pools)
            default: Issue.record("unexpected operator \(type(of: op))"); return []
            }
        }
        var ops: [any LinearOperator] = [model.output]
        for b in model.blocks { ops += [b.qkv, b.o, b.gateUp, b.down] }
        let used = ops.flatMap(pools)
        #expect(!used.isEmpty && used.allSatisfy { $0 === pool })
        switch model.attention {
        case let k as KernelAttention: #expect(k.attention.pool === pool)
        case let r as ReferenceAttention: #expect(r.pool === pool)
        default: Issue.record("unexpected attention \(type(of: model.attention))")
        }
        if backend == .kernels { #expect(ops.contains { $0 is KernelLinear }) }
        // same logits as on the shared pool
        let (shared, _) = try TinyModelTests.load(TinyModelSpec(), backend: backend)
        let tokens = [1, 40, 77, 266, 5]
        let a = try model.makeSession(contextLength: 32).forward(tokens, logits: .all)
        let b = try shared.makeSession(contextLength: 32).forward(tokens, logits: .all)
        #expect(a == b)
    }

    @Test func speculativeEqualsGreedy() throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .kernels)
        var rng = TestRNG(5)
        for trial in 0..<6 {
            // repetitive prompts so that drafts exist and get partly accepted
            let base = (0..<6).map { _ in 3 + rng.int(200) }
            let prompt = [1] + base + base + base.prefix(3)
            let plain = try Generator(model: model, contextLength: 128)
            let spec = try Generator(model: model, contextLength: 128)
            var o = GenerationOptions(maxTokens: 40, stopTokens: [])
            let a = try plain.generate(tokens: prompt, options: o) { _ in true }
            o.speculative = SpeculativeOptions(maxDraft: 8, initialDraft: 4)
            let b = try spec.generate(tokens: prompt, options: o) { _ in true }
            #expect(a.tokens == b.tokens, "trial \(trial): speculative output differs")
            #expect(b.stats.draftedTokens > 0)
            #expect(b.stats.decodeForwards <= a.stats.decodeForwards)
        }
    }

    @Test func seededSamplingIsReproducibleAndSpeculationKeepsIt() throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .kernels)
        let g = try Generator(model: model, contextLength: 128)
        var o = GenerationOptions(maxTokens: 20, stopTokens: [])
        o.sampling = SamplingOptions(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.01, repetitionPenalty: 1.1, seed: 1234)
        let a = try g.generate(tokens: [1, 10, 20, 30], options: o) { _ in true }
        let b = try g.generate(tokens: [1, 10, 20, 30], options: o) { _ in true }
        #expect(a.tokens == b.tokens)
        #expect(b.stats.cachedPromptTokens == 3)
        o.sampling.seed = 99
        let c = try g.generate(tokens: [1, 10, 20, 30], options: o) { _ in true }
        #expect(c.tokens.count == 20)
    }

    @Test func samplerFilters() throws {
        let logits: [Float] = [0, 1, 2, 3, 10, 9.5, -4]
        try logits.withUnsafeBufferPointer { l in
            var s = try Sampler(options: .greedy)
            #expect(s.sample(l, history: []) == 4)
            var k = try Sampler(options: SamplingOptions(temperature: 1, topK: 2, seed: 1))
            for _ in 0..<50 { #expect([4, 5].contains(k.sample(l, history: []))) }
            let p = try Sampler(options: SamplingOptions(temperature: 1, topP: 0.5))
            #expect(p.distribution(l, history: []).map(\.id) == [4])
            let m = try Sampler(options: SamplingOptions(temperature: 1, minP: 0.5))
            #expect(m.distribution(l, history: []).map(\.id) == [4, 5])
            // repetition penalty turns greedy away from a seen token
            var r = try Sampler(options: SamplingOptions(repetitionPenalty: 2))
            #expect(r.sample(l, history: [4]) == 5)
        }
        #expect(throws: TesseraError.self) { _ = try Sampler(options: SamplingOptions(temperature: -1)) }
        #expect(throws: TesseraError.self) { _ = try Sampler(options: SamplingOptions(topP: 0)) }
    }

    @Test func streamingAndStopStrings() async throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .kernels)
        let g = try Generator(model: model, contextLength: 128)
        var o = GenerationOptions(maxTokens: 12, stopTokens: [])
        let full = try g.generate(prompt: "the the", options: o)
        var streamed = ""
        var finished: GenerationStats?
        for try await e in g.stream(prompt: "the the", options: o) {
            switch e {
            case .token(let t): streamed += t.text
            case .finished(let s): finished = s
            }
        }
        #expect(streamed == full.text)
        #expect(finished?.generatedTokens == 12)
        // a stop string taken from the middle of the text cuts it there
        let chars = Array(full.text)
        if chars.count >= 6 {
            let stop = String(chars[3..<5])
            o.stopStrings = [stop]
            let cut = try g.generate(prompt: "the the", options: o)
            #expect(!cut.text.contains(stop))
            #expect(full.text.hasPrefix(cut.text))
            #expect(cut.stats.stopReason == .stopString)
        }
    }

    @Test func refusesBadInputs() throws {
        let (model, _) = try TinyModelTests.load(TinyModelSpec(), backend: .reference)
        let s = try model.makeSession(contextLength: 8)
        #expect(throws: TesseraError.self) { try s.forward([100_000]) }
        #expect(throws: TesseraError.self) { try s.forward([]) }
        #expect(throws: TesseraError.self) { try s.forward(Array(repeating: 5, count: 9)) }
        let g = try Generator(model: model, contextLength: 8)
        #expect(throws: TesseraError.self) {
            try g.generate(tokens: Array(repeating: 5, count: 8), options: GenerationOptions()) { _ in true }
        }
        // the context fills up: generation stops, it does not fail
        let r = try g.generate(tokens: [1, 2, 3], options: GenerationOptions(maxTokens: 100, stopTokens: [])) { _ in true }
        #expect(r.stats.stopReason == .contextFull)
    }

    @Test func rejectsInconsistentModels() throws {
        func message(_ edit: (inout GGUFWriter) throws -> Void) throws -> TesseraError? {
            let bytes = try rewrittenGGUF(try TinyModelSpec().build().bytes, edit)
            do {
                _ = try LlamaModel(file: try GGUFFile(bytes: bytes), options: ModelOptions(backend: .reference))
                return nil
            } catch { return error }
        }
        let e1 = try message { $0.set("llama.embedding_length", .uint32(512)) }
        #expect(e1?.message.contains("token_embd.weight") == true, "\(String(describing: e1))")
        let e2 = try message { $0.set("general.architecture", .string("gpt-neox")) }
        #expect(e2?.message.contains("gpt-neox") == true)
        let e3 = try message { $0.set("llama.block_count", .uint32(3)) }
        #expect(e3?.message.contains("blk.2.") == true, "\(String(describing: e3))")
        let e4 = try message { $0.set("llama.attention.head_count_kv", .uint32(3)) }
        #expect(e4 != nil)
        // Q8_K: a block type with a known layout but no kernel (it only ever holds activations)
        let e5 = try message { w in
            let vocab = TinyModelSpec.vocabulary().tokens.count
            try w.addTensor(name: "output.weight", shape: [256, vocab], type: GGMLType(rawValue: 15),
                            data: [UInt8](repeating: 0, count: 292 * vocab))
        }
        #expect(e5?.message.contains("Q8_K") == true && e5?.message.contains("output.weight") == true, "\(String(describing: e5))")
    }

    @Test func gqaAndRopeVariants() throws {
        // multi-query attention and partial rotary dims through the same reference check
        var spec = TinyModelSpec()
        spec.layers = 1; spec.heads = 4; spec.kvHeads = 1; spec.ropeBase = 500
        let (model, weights) = try TinyModelTests.load(spec, backend: .kernels)
        let tokens = [3, 4, 5, 6, 7]
        let s = try model.makeSession(contextLength: 16)
        let got = try s.forward(tokens, logits: .all)
        let want = referenceForward(tokens, weights: weights, layers: 1, dim: spec.dim, ffn: spec.ffn, heads: 4, kvHeads: 1,
                                    ropeBase: 500, eps: Double(spec.eps), vocab: model.config.vocabularySize)
        for t in tokens.indices { #expect(TinyModelTests.maxRelativeError(got[t], want[t]) < 3e-2) }
    }
}
