import Foundation
import Testing
@testable import TesseraModels

/// A small SentencePiece-style vocabulary written as GGUF: `<unk>`, `<s>`, `</s>`, the 256 byte
/// tokens, the letters of a few words with `▁`, random-scored multi-letter pieces, a user-defined
/// `<table>` and `\n\n`, and Gemma-like control tokens.
struct TinySentencePiece {
    var addSpacePrefix = true
    var addBOS = true
    var addEOS = false
    var seed: UInt64 = 5

    static let words = ["the", "then", "there", "hello", "world", "in", "inner", "winter", "lower", "tower", "other"]

    func pieces() -> (tokens: [String], types: [Int], scores: [Float]) {
        var rng = TestRNG(seed)
        var tokens = ["<unk>", "<s>", "</s>"], types = [2, 3, 3]
        var scores: [Float] = [0, 0, 0]
        for b in 0..<256 {
            tokens.append(String(format: "<0x%02X>", b)); types.append(6); scores.append(0)
        }
        var seen = Set(tokens)
        func add(_ t: String, _ type: Int = 1) {
            guard seen.insert(t).inserted else { return }
            tokens.append(t); types.append(type); scores.append(type == 1 ? -Float(rng.int(1000)) / 10 : 0)
        }
        for w in TinySentencePiece.words {
            let s = Array("\u{2581}" + w)
            for c in s { add(String(c)) }
            // every substring of 2+ characters, so merges can go many ways
            for i in 0..<s.count { for j in stride(from: i + 2, through: s.count, by: 1) { add(String(s[i..<j])) } }
        }
        add("<table>", 4)
        add("\n\n", 4)
        add("<start_of_turn>", 3)
        add("<end_of_turn>", 3)
        return (tokens, types, scores)
    }

    func gguf() -> [UInt8] {
        let (tokens, types, scores) = pieces()
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("tokenizer.ggml.model", .string("llama"))
        w.set("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(.int32, types.map { .int32(Int32($0)) }))
        w.set("tokenizer.ggml.scores", .array(.float32, scores.map { .float32($0) }))
        w.set("tokenizer.ggml.unknown_token_id", .uint32(0))
        w.set("tokenizer.ggml.bos_token_id", .uint32(1))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        w.set("tokenizer.ggml.add_bos_token", .bool(addBOS))
        w.set("tokenizer.ggml.add_eos_token", .bool(addEOS))
        w.set("tokenizer.ggml.add_space_prefix", .bool(addSpacePrefix))
        return w.serialize()
    }

    func tokenizer() throws -> Tokenizer { try Tokenizer(gguf: GGUFFile(bytes: gguf())) }
}

/// The score-driven merge written the slow, obvious way (rescan every adjacent pair after each
/// merge): the reference the heap-based encoder must agree with.
func naiveSentencePiece(_ text: String, tokens: [String], scores: [Float], spacePrefix: Bool) -> [Int] {
    var ids = [[UInt8]: Int]()
    for (i, t) in tokens.enumerated() where ids[Array(t.utf8)] == nil { ids[Array(t.utf8)] = i }
    let escaped = (spacePrefix ? "\u{2581}" : "") + String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == " " ? "\u{2581}" : $0 }))
    var sym: [[UInt8]] = escaped.unicodeScalars.map { Array(String($0).utf8) }
    while sym.count > 1 {
        var best: (score: Float, at: Int)? = nil
        for k in 0..<(sym.count - 1) {
            if let id = ids[sym[k] + sym[k + 1]], best == nil || scores[id] > best!.score { best = (scores[id], k) }
        }
        guard let b = best else { break }
        sym[b.at] += sym[b.at + 1]
        sym.remove(at: b.at + 1)
    }
    var out = [Int]()
    for s in sym {
        if let id = ids[s] { out.append(id) } else { for byte in s { out.append(ids[Array(String(format: "<0x%02X>", byte).utf8)]!) } }
    }
    return out
}

@Suite("TesseraModels SentencePiece tokenizer (no download)")
struct SentencePieceTokenizerTests {
    /// Random text over the vocabulary's letters, spaces and characters outside it.
    static func randomText(_ rng: inout TestRNG) -> String {
        let alphabet = Array("thernowilda  ") + ["é", "漢", "🙂", "\t", "q"]
        return String((0..<(1 + rng.int(30))).map { _ in alphabet[rng.int(alphabet.count)] })
    }

    @Test(arguments: [true, false])
    func heapEncoderMatchesNaiveMerge(spacePrefix: Bool) throws {
        let spec = TinySentencePiece(addSpacePrefix: spacePrefix, addBOS: false)
        let t = try spec.tokenizer()
        let (tokens, _, scores) = spec.pieces()
        var rng = TestRNG(3)
        for _ in 0..<300 {
            let s = SentencePieceTokenizerTests.randomText(&rng)
            #expect(t.encode(s) == naiveSentencePiece(s, tokens: tokens, scores: scores, spacePrefix: spacePrefix), "\(s.debugDescription)")
        }
        for w in TinySentencePiece.words {
            #expect(t.encode(w) == naiveSentencePiece(w, tokens: tokens, scores: scores, spacePrefix: spacePrefix))
        }
    }

    @Test func roundTripsAndByteFallback() throws {
        let t = try TinySentencePiece().tokenizer()
        var rng = TestRNG(9)
        for _ in 0..<200 {
            let s = SentencePieceTokenizerTests.randomText(&rng)
            let ids = t.encode(s, addBOS: false)
            #expect(t.decode(ids) == s, "\(s.debugDescription)")
            var d = StreamingDetokenizer(tokenizer: t, skipSpecial: false)
            #expect(ids.map { d.append($0) }.joined() + d.finish() == s)
        }
        // the space prefix is the encoder's: gone from a decoded text (also after BOS), kept in a
        // continuation (generated tokens after a prompt)
        let withBOS = t.encode("the world")
        #expect(withBOS.first == 1 && t.decode(withBOS, skipSpecial: true) == "the world")
        var cont = StreamingDetokenizer(tokenizer: t, atTextStart: false)
        #expect(t.encode("the", addBOS: false).map { cont.append($0) }.joined() == " the")
        // a character outside the vocabulary is its UTF-8 bytes
        let ids = t.encode("漢", addBOS: false)
        #expect(ids.map { t.tokens[$0] }.suffix(3) == ["<0xE6>", "<0xBC>", "<0xA2>"])
        // canonically equivalent spellings stay distinct: e + U+0301 is not the piece é
        #expect(t.encode("e\u{301}", addBOS: false) != t.encode("\u{E9}", addBOS: false))
    }

    @Test func metadataFlags() throws {
        let t = try TinySentencePiece(addSpacePrefix: true, addBOS: true, addEOS: true).tokenizer()
        #expect(t.model == .sentencePiece && t.addBOS && t.addEOS && t.unknownToken == 0)
        let ids = t.encode("the")
        #expect(ids.first == 1 && ids.last == 2)
        #expect(t.tokens[ids[1]].hasPrefix("\u{2581}"))
        #expect(t.encode("the", addBOS: false, addEOS: false) == Array(ids.dropFirst().dropLast()))
        let n = try TinySentencePiece(addSpacePrefix: false, addBOS: false).tokenizer()
        #expect(!n.tokens[n.encode("the")[0]].hasPrefix("\u{2581}"))
    }

    @Test func specialAndUserDefinedTokens() throws {
        let t = try TinySentencePiece(addSpacePrefix: false, addBOS: false).tokenizer()
        let sot = try #require(t.id(of: "<start_of_turn>")), table = try #require(t.id(of: "<table>"))
        let nn = try #require(t.id(of: "\n\n"))
        let ids = t.encode("<start_of_turn>the<table>x\n\nthe")
        #expect(ids.first == sot && ids.contains(table) && ids.contains(nn))
        // user-defined tokens are recognised even without special parsing; control tokens are not
        let plain = t.encode("<start_of_turn>the<table>", parseSpecial: false)
        #expect(!plain.contains(sot) && plain.last == table)
        #expect(t.decode(ids, skipSpecial: true) == "the<table>x\n\nthe")
    }

    @Test func partitionTakesLongestTokensFirst() throws {
        // "ab" and "bcd" overlap in "abcd": the longer token wins wherever it occurs
        let tokens = ["<unk>", "a", "b", "c", "d", "ab", "bcd"]
        let t = try Tokenizer(model: .sentencePiece, tokens: tokens, types: [2, 1, 1, 1, 1, 4, 4], merges: nil,
                              scores: nil, preTokenizer: nil, bos: nil, eos: nil, unknown: 0, addBOS: false, addSpacePrefix: false)
        #expect(t.encode("abcd").map { tokens[$0] } == ["a", "bcd"])
        #expect(t.encode("abab").map { tokens[$0] } == ["ab", "ab"])
    }

    @Test func refusesBadMetadata() throws {
        var w = GGUFWriter()
        w.set("tokenizer.ggml.model", .string("wordpiece-xyz"))
        w.set("tokenizer.ggml.tokens", .array(.string, [.string("a")]))
        #expect {
            try Tokenizer(gguf: GGUFFile(bytes: w.serialize()))
        } throws: { ($0 as? TesseraError)?.message.contains("wordpiece-xyz") == true }
        w.set("tokenizer.ggml.model", .string("llama"))
        w.set("tokenizer.ggml.scores", .array(.float32, [.float32(0), .float32(1)]))
        #expect {
            try Tokenizer(gguf: GGUFFile(bytes: w.serialize()))
        } throws: { ($0 as? TesseraError)?.message.contains("scores") == true }
        w.set("tokenizer.ggml.scores", .array(.float32, [.float32(0)]))
        w.set("tokenizer.ggml.bos_token_id", .uint32(7))
        #expect {
            try Tokenizer(gguf: GGUFFile(bytes: w.serialize()))
        } throws: { ($0 as? TesseraError)?.message.contains("bos_token_id = 7") == true }
        w.set("tokenizer.ggml.bos_token_id", .uint32(0))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("mystery-pre"))
        #expect {
            try Tokenizer(gguf: GGUFFile(bytes: w.serialize()))
        } throws: { ($0 as? TesseraError)?.message.contains("mystery-pre") == true }
    }

    @Test func gemmaChatTemplate() throws {
        let t = try TinySentencePiece().tokenizer()
        let g = ChatTemplate(template: "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ role }}\n", tokenizer: t)
        #expect(g.style == .gemma && g.prefix == "<s>")
        let text = g.render([.system("Be brief."), .user(" hi "), .assistant("hello"), .user("more")])
        #expect(text == "<s><start_of_turn>user\nBe brief.\n\nhi<end_of_turn>\n<start_of_turn>model\nhello<end_of_turn>\n"
                + "<start_of_turn>user\nmore<end_of_turn>\n<start_of_turn>model\n")
        // without a template the vocabulary decides
        #expect(ChatTemplate(template: nil, tokenizer: t).style == .gemma)
        #expect(t.endOfGenerationTokens.contains(t.id(of: "<end_of_turn>")!))
    }
}

@Suite("TesseraModels Gemma 3 tokenizer")
struct GemmaTokenizerTests {
    @Test func readsTheTokenizerAndTemplateFromMetadataOnly() throws {
        let path = try #require(GemmaModel.path, "Gemma 3 270M could not be fetched (scripts/fetch-model gemma3-270m)")
        let file = try GGUFFile(path: path)
        let t = try Tokenizer(gguf: file)
        #expect(t.model == .sentencePiece && t.vocabularySize == 262_144)
        #expect(t.addBOS && !t.addSpacePrefix && t.bosToken == t.id(of: "<bos>"))
        let template = ChatTemplate(gguf: file, tokenizer: t)
        #expect(template.style == .gemma && template.prefix == "<bos>")
        let eot = try #require(t.id(of: "<end_of_turn>"))
        #expect(t.endOfGenerationTokens.contains(eot) && t.endOfGenerationTokens.contains(t.eosToken!))
        let ids = t.encode(template.render([.user("Hello!")]), addBOS: false)
        #expect(Array(ids.prefix(3)) == [t.bosToken!, t.id(of: "<start_of_turn>")!, t.id(of: "user")!])
        #expect(t.decode(ids) == template.render([.user("Hello!")]))
    }
}
