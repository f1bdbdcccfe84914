import Foundation
import Testing
@testable import TesseraModels

/// How far logits `b` are from `a`: the largest |a - b| and the range of `a`; the RMS of a - b
/// relative to the standard deviation of `a`; the fraction of rows with the same argmax.
private func logitError(_ a: [[Float]], _ b: [[Float]]) -> (maxError: Float, range: Float, relativeRMS: Double, argmaxAgreement: Double) {
    var err: Float = 0, lo = Float.infinity, hi = -Float.infinity, agree = 0
    var se = 0.0, sum = 0.0, sq = 0.0, n = 0.0
    for (x, y) in zip(a, b) {
        for (u, v) in zip(x, y) {
            err = max(err, abs(u - v)); lo = min(lo, u); hi = max(hi, u)
            se += Double(u - v) * Double(u - v); sum += Double(u); sq += Double(u) * Double(u); n += 1
        }
        if x.indices.max(by: { x[$0] < x[$1] }) == y.indices.max(by: { y[$0] < y[$1] }) { agree += 1 }
    }
    let variance = sq / n - (sum / n) * (sum / n)
    return (err, hi - lo, (se / n / variance).squareRoot(), Double(agree) / Double(a.count))
}

/// Mean negative log-likelihood of `tokens[1...]` under the logits of the positions before them.
private func meanNLL(_ logits: [[Float]], _ tokens: [Int]) -> Double {
    var total = 0.0
    for i in 0..<(tokens.count - 1) {
        let row = logits[i].map(Double.init)
        let mx = row.max()!
        let lse = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
        total += lse - row[tokens[i + 1]]
    }
    return total / Double(tokens.count - 1)
}

private func allLogits(_ model: LlamaModel, _ tokens: [Int]) throws -> [[Float]] {
    let s = try model.makeSession(contextLength: 256)
    var rows = [[Float]]()
    for t in tokens { rows += try s.forward([t], logits: .last) }
    return rows
}

@Suite("TesseraModels quantize (no download)")
struct ModelQuantizerTests {
    static func f32Model() throws -> GGUFFile {
        var spec = TinyModelSpec()
        spec.types = [.f32]
        spec.embeddingType = .f32
        return try GGUFFile(bytes: spec.build().bytes)
    }

    @Test func planFollowsThePolicy() throws {
        let f = try ModelQuantizerTests.f32Model()
        for target in [GGMLType.q4_0, .q8_0] {
            for d in try ModelQuantizer.plan(for: f, target: target) {
                let info = try #require(f.tensor(named: d.name))
                if info.shape.count == 1 {
                    #expect(d.target == .f32, "\(d.name) is 1-D and kept")
                } else if d.name == "token_embd.weight" {
                    // tied output: Q6_K below 6.56 bits per weight, the target above
                    #expect(d.target == (target == .q4_0 ? .q6_K : .q8_0))
                } else {
                    #expect(d.target == target, "\(d.name)")
                }
            }
        }
    }

    @Test func requantizedModelLoadsAndStaysClose() throws {
        let f = try ModelQuantizerTests.f32Model()
        let original = try LlamaModel(file: f)
        let tokens = [5, 40, 77, 120, 3, 200, 9, 64, 150, 33, 90, 17]
        let ref = try allLogits(original, tokens)
        var errors = [Float]()
        for target in [GGMLType.f16, .q8_0, .q4_0] {
            let image = try ModelQuantizer.quantize(f, to: target).serialize()
            let q = try GGUFFile(bytes: image)
            #expect(q.metadata["general.file_type"]?.intValue == Int(ModelQuantizer.fileType(target)!))
            #expect(try Tokenizer(gguf: q).tokens == original.tokenizer.tokens)
            let e = logitError(ref, try allLogits(LlamaModel(file: q), tokens))
            errors.append(e.maxError / e.range)
            #expect(e.argmaxAgreement >= (target == .q4_0 ? 0.75 : 1.0), "\(target): argmax agreement \(e.argmaxAgreement)")
        }
        // more bits, less error; Q8_0 within 1 % and Q4_0 within 10 % of the logit range
        #expect(errors[0] <= errors[1] && errors[1] < errors[2], "\(errors)")
        #expect(errors[1] < 0.01 && errors[2] < 0.10, "\(errors)")
    }

    @Test func tensorsOfTheTargetTypeAreCopied() throws {
        let f = try ModelQuantizerTests.f32Model()
        let q8 = try GGUFFile(bytes: ModelQuantizer.quantize(f, to: .q8_0).serialize())
        let again = try ModelQuantizer.quantize(q8, to: .q8_0)
        #expect(try ModelQuantizer.plan(for: q8, target: .q8_0).allSatisfy { $0.copied })
        for t in again.tensors {
            let src = try #require(q8.tensor(named: t.name))
            #expect(q8.withTensorBytes(src) { Array($0) } == t.data, "\(t.name)")
        }
    }

    @Test func refusesWhatItCannotDo() throws {
        let f = try ModelQuantizerTests.f32Model()
        #expect(ModelQuantizer.type(named: "q9_9") == nil)
        #expect(ModelQuantizer.type(named: "Q4_0") == .q4_0 && ModelQuantizer.type(named: "q6_k") == .q6_K)
        // a K type falls back where its 256-blocks do not fit the rows; nothing fits 48
        var fb = GGUFWriter()
        fb.set("general.architecture", .string("llama"))
        try fb.addTensor(name: "blk.0.x.weight", shape: [96, 4], type: .f32, values: [Float](repeating: 0.25, count: 384))
        try fb.addTensor(name: "blk.0.y.weight", shape: [256, 2], type: .f32, values: [Float](repeating: 0.25, count: 512))
        let fbPlan = try ModelQuantizer.plan(for: GGUFFile(bytes: fb.serialize()), target: .q6_K)
        #expect(fbPlan.map(\.target) == [.q8_0, .q6_K] && fbPlan.map(\.fellBack) == [true, false])
        // a type without a quantizer
        #expect {
            try ModelQuantizer.plan(for: f, target: .q8_1)
        } throws: { ($0 as? TesseraError)?.message.contains("Q8_1") == true }
        // rows that are not whole blocks, named with the tensor
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        try w.addTensor(name: "blk.0.odd.weight", shape: [48, 4], type: .f32, values: [Float](repeating: 0.5, count: 192))
        #expect {
            try ModelQuantizer.plan(for: GGUFFile(bytes: w.serialize()), target: .q4_0)
        } throws: { e in
            let m = (e as? TesseraError)?.message ?? ""
            return m.contains("blk.0.odd.weight") && m.contains("48") && m.contains("32")
        }
    }
}

@Suite("TesseraModels quantize Gemma 3 plan")
struct GemmaQuantizePlanTests {
    /// The Gemma 3 270M file was made by llama-quantize as Q4_K_M: planning Q4_K_M on it must
    /// give every tensor the type llama-quantize gave it (Q6_K/Q4_K where rows are whole 256-blocks,
    /// their Q8_0/Q5_0 fallbacks where the 640-long rows are not, Q6_K in the "more bits" layers).
    @Test func q4KMPlanReproducesLlamaQuantize() throws {
        let path = try #require(GemmaModel.path, "Gemma 3 270M could not be fetched (scripts/fetch-model gemma3-270m)")
        let file = try GGUFFile(path: path)
        let plan = try ModelQuantizer.plan(for: file, target: .mix(.q4_K_M))
        #expect(plan.count == file.tensors.count && plan.count > 200)
        for (d, t) in zip(plan, file.tensors) { #expect(d.target == t.type, "\(d.name): planned \(d.target.name), file \(t.type.name)") }
        #expect(Set(plan.map(\.target)) == [.f32, .q4_K, .q5_0, .q6_K, .q8_0])
    }
}

@Suite("TesseraModels quantize SmolLM2", .serialized)
struct RealModelQuantizeTests {
    /// SmolLM2 Q4_1 requantized to F16, Q8_0, Q6_K (nearly lossless) and Q4_0 (a second 4-bit
    /// rounding): each loads, its logits over a fixed text stay close to the source's, its mean
    /// NLL of that text (perplexity-style quality) rises by no more than the bound of its type,
    /// and greedy chat still answers.
    @Test func requantizedSmolLM2() throws {
        let original = try ReferenceModel.require()
        let path = try #require(ReferenceModel.path)
        let src = try GGUFFile(path: path)
        let tokens = original.tokenizer.encode("""
            The capital of France is Paris. The largest planet in the solar system is Jupiter, a gas giant \
            more than three hundred times as heavy as the Earth. Water boils at one hundred degrees Celsius \
            at sea level, and freezes at zero.
            """)
        let ref = try allLogits(original, tokens)
        let refNLL = meanNLL(ref, tokens)
        // The floor: even F16 (the Q4_1 values almost exactly) moves the logits by ~4.5 % RMS of their
        // spread, because the Q4_1 kernels quantize activations to 8 bits and the F16 path does not.
        // Q4_1 -> Q4_0 rounds every weight a second time to 4 bits: the NLL rises ~20 % on this
        // 135M model.
        var nlls = [Double]()
        let cases: [(QuantizeTarget, Double, Double, Double)] = [
            (.type(.f16), 0.95, 0.08, 0.02), (.type(.q8_0), 0.95, 0.1, 0.02), (.type(.q4_0), 0.6, 0.8, 0.3),
            (.mix(.q4_K_M), 0.6, 0.8, 0.3)]
        for (target, agreement, relRMS, nllRise) in cases {
            let out = NSTemporaryDirectory() + "tessera-requant-\(target)-\(UUID().uuidString).gguf"
            defer { try? FileManager.default.removeItem(atPath: out) }
            try ModelQuantizer.quantize(src, to: target).write(to: out)
            let m = try LlamaModel(path: out)
            let e = logitError(ref, try allLogits(m, tokens))
            #expect(e.argmaxAgreement >= agreement, "\(target): argmax agreement \(e.argmaxAgreement)")
            let nll = meanNLL(try allLogits(m, tokens), tokens)
            print("requantized SmolLM2 \(target): max |Δlogit| \(e.maxError) (range \(e.range)), RMS/std \(e.relativeRMS), argmax agreement \(e.argmaxAgreement), mean NLL \(nll) (source \(refNLL))")
            #expect(e.relativeRMS < relRMS, "\(target): RMS error \(e.relativeRMS) of the logits' standard deviation")
            #expect(nll < refNLL * (1 + nllRise), "\(target): mean NLL \(nll), source \(refNLL)")
            nlls.append(nll)
            // greedy text stays sane: the requantized model still knows the answer, as a completion or
            // (135M parameters are fickle: Q4_0's completion says "located at the **capital city**")
            // as a chat reply
            let completion = try Generator(model: m).generate(prompt: "The capital of France is",
                                                              options: GenerationOptions(maxTokens: 8)).text
            let reply = try Generator(model: m).respond(to: [.user("What is the capital of France?")],
                                                        options: GenerationOptions(maxTokens: 12)).text
            #expect(completion.contains("Paris") || reply.contains("Paris"), "\(target): \(completion.debugDescription), \(reply.debugDescription)")
        }
        // plain Q4_0 costs more than Q8_0 (Q4_K_M on SmolLM2 is mostly Q5_0 and Q6_K: its 576-long
        // rows are not whole Q4_K blocks, and on this text it measures as close as Q8_0)
        #expect(nlls[2] > nlls[1], "4-bit costs more than 8-bit: \(nlls)")
        // SmolLM2's 576-long rows are not whole Q6_K blocks and fall back to Q8_0; ffn_down's 1536 are
        let plan = try ModelQuantizer.plan(for: src, target: .q6_K)
        for d in plan where d.source != .f32 {
            let whole = src.tensor(named: d.name)!.rowLength % 256 == 0
            #expect(d.target == (whole ? .q6_K : .q8_0) && d.fellBack == !whole, "\(d.name)")
        }
        #expect(plan.contains { $0.target == .q6_K } && plan.contains { $0.fellBack })
    }
}
