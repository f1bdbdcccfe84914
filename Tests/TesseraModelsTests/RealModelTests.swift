import Foundation
import Testing
import TesseraTestSupport
@testable import TesseraModels

/// The reference model (SmolLM2-135M-Instruct Q4_1), fetched once by scripts/fetch-model.
enum ReferenceModel {
    static let path: String? = FetchedModel.path()

    static let model: LlamaModel? = path.flatMap { try? LlamaModel(path: $0) }

    static func require() throws -> LlamaModel {
        guard let m = model else {
            throw TesseraError.io("the reference model could not be fetched (scripts/fetch-model needs pip and PyPI access)")
        }
        return m
    }

    static let expectations: [(text: String, ids: [Int])] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Resources/tokenizer_expectations.json")
        guard let data = try? Data(contentsOf: url),
              let arr = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return arr.map { ($0["text"] as! String, ($0["ids"] as! [Any]).map { ($0 as! NSNumber).intValue }) }
    }()
}

@Suite("TesseraModels SmolLM2", .serialized)
struct RealModelTests {
    @Test func loadsWithExpectedHyperparameters() throws {
        let m = try ReferenceModel.require()
        let c = m.config
        #expect(c.layers == 30 && c.embeddingLength == 576 && c.heads == 9 && c.kvHeads == 3)
        #expect(c.headDim == 64 && c.feedForwardLength == 1536 && c.vocabularySize == 49152)
        #expect(c.ropeBase == 100_000)
        #expect(m.tokenizer.preTokenizer == .gpt2Digits)
        #expect(m.chatTemplate.style == .chatML)
        #expect(m.chatTemplate.defaultSystemPrompt?.contains("SmolLM") == true)
        #expect(m.tokenizer.endOfGenerationTokens.contains(2))
    }

    /// Resident model memory (packed kernels + file pages still mapped + vectors) within 1.1×
    /// the file: no stacked q/k/v or gate/up copies are kept, the file's pages are released.
    @Test func residentMemoryWithinBound() throws {
        let m = try ReferenceModel.require()
        _ = try m.makeSession(contextLength: 16).forward([1, 2, 3], logits: .last)
        let ratio = Double(m.residentBytes) / Double(m.file.fileSize)
        print("\(m.config.name): resident \(m.residentBytes) bytes = \(ratio) × the file (\(m.file.fileSize) bytes); file pages still mapped \(m.file.residentMappedBytes)")
        #expect(ratio <= 1.1, "resident \(m.residentBytes) bytes = \(ratio) × the file (mapped pages \(m.file.residentMappedBytes), packed per token \(m.streamedBytesPerToken))")
    }

    @Test func tokenizerMatchesReferenceIDs() throws {
        let tok = try ReferenceModel.require().tokenizer
        #expect(ReferenceModel.expectations.count >= 10)
        for (text, ids) in ReferenceModel.expectations {
            #expect(tok.encode(text) == ids, "encoding of \(text.debugDescription)")
            #expect(tok.decode(ids) == text, "decoding of \(text.debugDescription)")
        }
    }

    @Test func tokenizerRoundTripsRandomUnicode() throws {
        let tok = try ReferenceModel.require().tokenizer
        var rng = TestRNG(11)
        let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0xA0...0x24F, 0x370...0x3FF, 0x400...0x4FF, 0x4E00...0x4FFF,
                                            0x1F300...0x1F64F, 0x9...0xD, 0x3040...0x30FF]
        for _ in 0..<60 {
            var s = String.UnicodeScalarView()
            for _ in 0..<(1 + rng.int(40)) {
                let pool = pools[rng.int(pools.count)]
                if let u = Unicode.Scalar(pool.lowerBound + UInt32(rng.int(Int(pool.upperBound - pool.lowerBound + 1)))) {
                    s.append(u)
                }
            }
            let text = String(s)
            let ids = tok.encode(text, parseSpecial: false)
            #expect(tok.decode(ids) == text, "round trip of \(text.debugDescription)")
            // streaming decode gives the same text
            var d = StreamingDetokenizer(tokenizer: tok, skipSpecial: false)
            var streamed = ""
            for id in ids { streamed += d.append(id) }
            streamed += d.finish()
            #expect(streamed == text)
        }
    }

    @Test func greedyContinuationIsDeterministicAndSensible() throws {
        let m = try ReferenceModel.require()
        let g = try Generator(model: m, contextLength: 128)
        let o = GenerationOptions(maxTokens: 6)
        let a = try g.generate(prompt: "The capital of France is", options: o)
        let b = try g.generate(prompt: "The capital of France is", options: o)
        #expect(a.tokens == b.tokens)
        #expect(a.text.contains("Paris"), "continuation: \(a.text.debugDescription)")
        let chat = try g.respond(to: [.user("What is the capital of France? Answer in one word.")], options: GenerationOptions(maxTokens: 8))
        #expect(chat.text.contains("Paris"), "chat reply: \(chat.text.debugDescription)")
    }

    /// The first generated token's logits against a float64 forward on the dequantized weights.
    @Test func firstTokenLogitsAgreeWithFloat64Forward() throws {
        let m = try ReferenceModel.require()
        let tokens = m.tokenizer.encode("The capital")
        let s = try m.makeSession(contextLength: 32)
        let got = try s.forward(tokens, logits: .last)[0]
        var weights = [String: [Float]]()
        for t in m.file.tensors {
            weights[t.name] = try m.file.withTensorBytes(t) { (b) throws(TesseraError) in
                try Quantizer.dequantize(b, type: t.type, rowLength: t.rowLength)
            }
        }
        let c = m.config
        let want = referenceForward(tokens, weights: weights, layers: c.layers, dim: c.embeddingLength,
                                    ffn: c.feedForwardLength, heads: c.heads, kvHeads: c.kvHeads,
                                    ropeBase: Double(c.ropeBase), eps: Double(c.rmsEpsilon), vocab: c.vocabularySize,
                                    logitsFor: [tokens.count - 1]).last!
        // Tessera's qgemm quantizes activations to int8 blocks (as ggml does): a few percent
        let err = TinyModelTests.maxRelativeError(got, want)
        #expect(err < 0.08, "relative logit error \(err)")
        // the same top token
        let top = want.indices.max { want[$0] < want[$1] }!
        #expect(got.indices.max { got[$0] < got[$1] }! == top)
    }

    @Test func speculativeDecodingIsLossless() throws {
        let m = try ReferenceModel.require()
        let prompts = [
            "Repeat exactly: the quick brown fox jumps over the lazy dog. The quick brown fox",
            "Copy this list: apples, pears, plums, apples, pears, plums, apples,",
            "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n\ndef mul(a, b):",
        ]
        for p in prompts {
            let plain = try Generator(model: m, contextLength: 256)
            let spec = try Generator(model: m, contextLength: 256)
            var o = GenerationOptions(maxTokens: 16, stopTokens: [])
            let a = try plain.generate(prompt: p, options: o)
            o.speculative = SpeculativeOptions()
            let b = try spec.generate(prompt: p, options: o)
            #expect(a.tokens == b.tokens, "prompt \(p.debugDescription)")
        }
    }
}

@Suite("TesseraModels tokenizer (no download)")
struct TinyTokenizerTests {
    static func tokenizer(pre: PreTokenizerKind = .gpt2Digits) throws -> Tokenizer {
        let (tokens, types, merges) = TinyModelSpec.vocabulary()
        return try Tokenizer(model: .bytePairGPT2, tokens: tokens, types: types, merges: merges, scores: nil,
                             preTokenizer: pre, bos: 1, eos: 2, addBOS: false, addSpacePrefix: false)
    }

    @Test func appliesMergesAndSpecials() throws {
        let t = try TinyTokenizerTests.tokenizer()
        let the = try #require(t.id(of: "Ġthe"))
        #expect(t.encode("a the") == [t.id(of: "a")!, the])
        #expect(t.encode("<|im_start|>x") == [1, t.id(of: "x")!])
        #expect(t.encode("<|im_start|>x", parseSpecial: false).count == 13)
        #expect(t.decode([1, t.id(of: "x")!], skipSpecial: true) == "x")
    }

    @Test(arguments: PreTokenizerKind.allCases)
    func preTokenizerSplits(kind: PreTokenizerKind) {
        let pre = PreTokenizer(kind: kind)
        func split(_ s: String) -> [String] {
            let sc = Array(s.unicodeScalars)
            return pre.split(sc).map { String(String.UnicodeScalarView(sc[$0])) }
        }
        switch kind {
        case .gpt2:
            #expect(split("Hello world  it's 123!") == ["Hello", " world", " ", " it", "'s", " 123", "!"])
        case .gpt2Digits:
            #expect(split("Hello world  it's 123!") == ["Hello", " world", " ", " it", "'s", " ", "1", "2", "3", "!"])
        case .llama3:
            #expect(split("Hello world  IT'S 12345!\n\nok") == ["Hello", " world", " ", " IT", "'S", " ", "123", "45", "!\n\n", "ok"])
        case .qwen2:
            #expect(split("Hello world  IT'S 12345!\n\nok") == ["Hello", " world", " ", " IT", "'S", " ", "1", "2", "3", "4", "5", "!\n\n", "ok"])
        }
        // the pieces always cover the input exactly
        let s = "a\t b  \n\n c 12 ,. 漢字 🙂 x"
        #expect(split(s).joined() == s)
    }

    @Test func chatTemplates() throws {
        let t = try TinyTokenizerTests.tokenizer()
        let chatml = ChatTemplate(template: "<|im_start|>system\nBe nice.<|im_end|>\n{% for m in messages %}", tokenizer: t)
        #expect(chatml.style == .chatML)
        #expect(chatml.render([.user("hi")]) == "<|im_start|>system\nBe nice.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
        let l3 = ChatTemplate(template: "<|start_header_id|>{{ role }}<|end_header_id|>", tokenizer: nil)
        #expect(l3.render([.user("hi")], addGenerationPrompt: false) == "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>")
    }

    @Test func streamingDetokenizerHoldsPartialCharacters() throws {
        let t = try TinyTokenizerTests.tokenizer()
        let ids = t.encode("é🙂")   // multi-byte characters become several byte tokens
        #expect(ids.count == 6)
        var d = StreamingDetokenizer(tokenizer: t)
        var pieces = [String]()
        for id in ids { pieces.append(d.append(id)) }
        #expect(pieces == ["", "é", "", "", "", "🙂"])
    }
}
