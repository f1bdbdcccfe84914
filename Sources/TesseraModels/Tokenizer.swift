import Foundation

/// A tokenizer read from GGUF metadata (`tokenizer.ggml.*`).
///
/// * `gpt2` models: byte-level BPE (`tokens` + `merges`), with the pre-tokenizer of
///   `tokenizer.ggml.pre` (see `PreTokenizerKind`).
/// * `llama` models: SentencePiece-style BPE over `tokens` + `scores` with `▁` for spaces and
///   `<0xXX>` byte fallback.
///
/// Control and user-defined tokens (e.g. `<|im_start|>`) are recognised as whole tokens in the
/// input when `parseSpecial` is true (the default for chat prompts), and are skipped by
/// `decode(_:skipSpecial: true)`.
public struct Tokenizer: Sendable {
    /// Byte-level BPE (GPT-2 style) or SentencePiece-style BPE.
    public enum Model: String, Sendable { case bytePairGPT2 = "gpt2", sentencePiece = "llama" }

    /// llama.cpp token types (`tokenizer.ggml.token_type`).
    public enum TokenType: Int32, Sendable {
        /// Undefined, normal, unknown, control, user-defined, unused and byte tokens.
        case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// The tokenizer model.
    public let model: Model
    /// The pre-tokenizer of a byte-level BPE model (nil for SentencePiece).
    public let preTokenizer: PreTokenizerKind?
    /// Token texts by id.
    public let tokens: [String]
    /// Token types by id.
    public let tokenTypes: [TokenType]
    /// Beginning-of-sequence token, if any.
    public let bosToken: Int?
    /// End-of-sequence token, if any.
    public let eosToken: Int?
    /// Tokens that end a turn (EOS, `<|im_end|>`, `<|eot_id|>`, `<|endoftext|>` ...).
    public let endOfGenerationTokens: Set<Int>
    /// Whether encoding a prompt starts with the BOS token.
    public let addBOS: Bool
    /// Whether encoding a prompt ends with the EOS token (`add_eos_token`, false if absent).
    public let addEOS: Bool
    /// Whether SentencePiece encoding adds a leading space.
    public let addSpacePrefix: Bool
    /// The unknown token (`unknown_token_id`), if any: what a byte without a byte token becomes.
    public let unknownToken: Int?

    /// Token ids by the UTF-8 bytes of their text (not by `String`: Swift compares strings by
    /// canonical equivalence, which would make `e` + U+0301 find the token `é`).
    let tokenIDs: [[UInt8]: Int]
    /// BPE merges: (left id << 32 | right id) -> (rank, merged id).
    let merges: [UInt64: (rank: Int32, id: Int32)]
    let scores: [Float]
    /// For byte-level BPE: token id of each byte's mapped character; for SentencePiece: `<0xXX>` ids.
    let byteTokens: [Int32]
    /// Byte-level decode table: unicode scalar of the mapped alphabet -> byte.
    let byteDecoder: [UInt32: UInt8]
    /// Decoded bytes of every token (precomputed so decoding is a lookup).
    let tokenBytes: [[UInt8]]
    /// The most bytes of text one token stands for; 0 when some byte has no token (it is dropped).
    public let longestTokenBytes: Int
    /// Special tokens matched in the input (see `SpecialTokenMatcher`).
    let specials: SpecialTokenMatcher

    /// Number of tokens.
    public var vocabularySize: Int { tokens.count }

    /// A lower bound on the tokens `encode` gives for any text of `utf8Count` bytes (BOS/EOS not
    /// counted), found without encoding: no token stands for more than the longest token's bytes.
    /// 0 for a vocabulary in which some byte has no token (such bytes are dropped).
    public func fewestTokens(utf8Count: Int) -> Int {
        longestTokenBytes > 0 ? (utf8Count + longestTokenBytes - 1) / longestTokenBytes : 0
    }

    /// Reads the tokenizer of a GGUF file.
    public init(gguf: GGUFFile) throws(TesseraError) {
        guard let modelName = try gguf.string("tokenizer.ggml.model") else {
            throw .malformedInput("GGUF has no tokenizer (tokenizer.ggml.model missing)")
        }
        guard let tokens = try gguf.stringArray("tokenizer.ggml.tokens"), !tokens.isEmpty else {
            throw .malformedInput("GGUF tokenizer has no tokens (tokenizer.ggml.tokens missing or empty)")
        }
        let types = try gguf.intArray("tokenizer.ggml.token_type")
        func optID(_ key: String) throws(TesseraError) -> Int? {
            guard let v = try gguf.int(key) else { return nil }
            guard v >= 0, v < tokens.count else {
                throw .malformedInput("\(key) = \(v) is not a token id (vocabulary has \(tokens.count) tokens)")
            }
            return v
        }
        let bos = try optID("tokenizer.ggml.bos_token_id")
        let eos = try optID("tokenizer.ggml.eos_token_id")
        let eot = try optID("tokenizer.ggml.eot_token_id")
        let eom = try optID("tokenizer.ggml.eom_token_id")
        let unk = try optID("tokenizer.ggml.unknown_token_id")
        switch modelName {
        case "gpt2":
            let pre = try gguf.string("tokenizer.ggml.pre") ?? "default"
            guard let kind = PreTokenizerKind(ggmlPre: pre) else {
                throw .unsupported("tokenizer pre-tokenizer '\(pre)' is not supported (supported: gpt2/default, smollm and other digit-split variants, llama-bpe, qwen2)")
            }
            guard let merges = try gguf.stringArray("tokenizer.ggml.merges") else {
                throw .malformedInput("byte-level BPE tokenizer without tokenizer.ggml.merges")
            }
            try self.init(model: .bytePairGPT2, tokens: tokens, types: types, merges: merges, scores: nil,
                          preTokenizer: kind, bos: bos, eos: eos, unknown: unk, extraEnd: [eot, eom].compactMap { $0 },
                          addBOS: try gguf.bool("tokenizer.ggml.add_bos_token") ?? false,
                          addEOS: try gguf.bool("tokenizer.ggml.add_eos_token") ?? false,
                          addSpacePrefix: try gguf.bool("tokenizer.ggml.add_space_prefix") ?? false)
        case "llama":
            let scores = try gguf.floatArray("tokenizer.ggml.scores")
            try self.init(model: .sentencePiece, tokens: tokens, types: types, merges: nil, scores: scores,
                          preTokenizer: nil, bos: bos, eos: eos, unknown: unk, extraEnd: [eot, eom].compactMap { $0 },
                          addBOS: try gguf.bool("tokenizer.ggml.add_bos_token") ?? true,
                          addEOS: try gguf.bool("tokenizer.ggml.add_eos_token") ?? false,
                          addSpacePrefix: try gguf.bool("tokenizer.ggml.add_space_prefix") ?? true)
        default:
            throw .unsupported("tokenizer model '\(modelName)' is not supported (supported: gpt2, llama)")
        }
    }

    /// Builds a tokenizer from its parts (what the GGUF metadata holds).
    public init(model: Model, tokens: [String], types: [Int]?, merges: [String]?, scores: [Float]?,
                preTokenizer: PreTokenizerKind?, bos: Int?, eos: Int?, unknown: Int? = nil, extraEnd: [Int] = [],
                addBOS: Bool, addEOS: Bool = false, addSpacePrefix: Bool) throws(TesseraError) {
        if let types, types.count != tokens.count {
            throw .malformedInput("tokenizer.ggml.token_type has \(types.count) entries for \(tokens.count) tokens")
        }
        if let scores, scores.count != tokens.count {
            throw .malformedInput("tokenizer.ggml.scores has \(scores.count) entries for \(tokens.count) tokens")
        }
        for (name, v) in [("BOS", bos), ("EOS", eos), ("unknown", unknown)] + extraEnd.map({ ("end", $0) }) {
            if let v, v < 0 || v >= tokens.count {
                throw .malformedInput("\(name) token \(v) is not a token id (vocabulary has \(tokens.count) tokens)")
            }
        }
        self.model = model
        self.tokens = tokens
        self.preTokenizer = preTokenizer
        self.bosToken = bos
        self.eosToken = eos
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.addSpacePrefix = addSpacePrefix
        self.unknownToken = unknown
        var tt = [TokenType]()
        tt.reserveCapacity(tokens.count)
        for i in 0..<tokens.count {
            let raw = types?[i] ?? 1
            tt.append(TokenType(rawValue: Int32(clamping: raw)) ?? .normal)
        }
        tokenTypes = tt
        var byBytes = [[UInt8]: Int](minimumCapacity: tokens.count)
        for (i, t) in tokens.enumerated() where byBytes[Array(t.utf8)] == nil { byBytes[Array(t.utf8)] = i }
        tokenIDs = byBytes
        func ids(_ s: String) -> Int? { byBytes[Array(s.utf8)] }

        // byte-level alphabet of GPT-2: printable bytes map to themselves, the rest to U+0100...
        var byteToChar = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                byteToChar[b] = UInt32(b)
            } else {
                byteToChar[b] = 256 + n
                n += 1
            }
        }
        var dec = [UInt32: UInt8]()
        for b in 0..<256 { dec[byteToChar[b]] = UInt8(b) }
        byteDecoder = dec

        var bt = [Int32](repeating: -1, count: 256)
        var mergeTable = [UInt64: (rank: Int32, id: Int32)]()
        switch model {
        case .bytePairGPT2:
            for b in 0..<256 {
                let s = String(Character(Unicode.Scalar(byteToChar[b])!))
                // a vocabulary may lack bytes that never occur in text (e.g. 0xC0, 0xF5...);
                // such bytes encode as the unknown token, or are dropped without one
                bt[b] = Int32(ids(s) ?? unknown ?? -1)
            }
            mergeTable.reserveCapacity(merges?.count ?? 0)
            for (rank, m) in (merges ?? []).enumerated() {
                // "left right": tokens never contain a plain space in the byte-level alphabet
                guard let sp = m.firstIndex(of: " ") else {
                    throw .malformedInput("tokenizer merge \(rank) '\(m)' has no space separator")
                }
                let l = String(m[..<sp]), r = String(m[m.index(after: sp)...])
                guard let li = ids(l), let ri = ids(r), let mi = ids(l + r) else { continue }
                let key = UInt64(li) << 32 | UInt64(ri)
                if mergeTable[key] == nil { mergeTable[key] = (Int32(rank), Int32(mi)) }
            }
        case .sentencePiece:
            // `<0xAB>`, else the byte itself as a token (llama.cpp's fallback), else the unknown token
            for b in 0..<256 {
                let hex = String(b, radix: 16, uppercase: true)
                let name = "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
                let plain = b < 0x80 ? String(UnicodeScalar(UInt8(b))) : nil
                bt[b] = Int32(ids(name) ?? plain.flatMap { ids($0) } ?? unknown ?? -1)
            }
        }
        byteTokens = bt
        self.merges = mergeTable
        self.scores = scores ?? [Float](repeating: 0, count: tokens.count)

        // decoded bytes per token
        var tb = [[UInt8]]()
        tb.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() {
            switch tt[i] {
            case .control, .unknown, .unused:
                tb.append(Array(t.utf8))   // shown only when skipSpecial is false
            case .byte where model == .sentencePiece:
                // "<0xAB>"
                let hex = t.dropFirst(3).prefix(2)
                tb.append([UInt8(hex, radix: 16) ?? 0x3F])
            case .userDefined:
                tb.append(Array(t.utf8))
            default:
                if model == .bytePairGPT2 {
                    var bytes = [UInt8]()
                    for s in t.unicodeScalars {
                        if let b = dec[s.value] { bytes.append(b) } else { bytes.append(contentsOf: String(s).utf8) }
                    }
                    tb.append(bytes)
                } else {
                    tb.append(Array(t.replacingOccurrences(of: "\u{2581}", with: " ").utf8))
                }
            }
        }
        tokenBytes = tb
        // every byte of a text becomes part of some token (none is dropped) only when each byte has one
        longestTokenBytes = bt.allSatisfy { $0 >= 0 } ? max(1, tb.map(\.count).max() ?? 1) : 0

        specials = SpecialTokenMatcher(tokens: tokens, types: tt)

        var ends = Set<Int>()
        if let eos { ends.insert(eos) }
        for e in extraEnd { ends.insert(e) }
        for name in ["<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "<end_of_turn>", "<|end|>"] {
            if let id = ids(name), tt[id] == .control { ends.insert(id) }
        }
        endOfGenerationTokens = ends
    }

    /// The id of a token string (exact vocabulary entry), or nil.
    public func id(of token: String) -> Int? { tokenIDs[Array(token.utf8)] }

    /// Whether `id` is a control, unknown or unused token (no text when decoding with `skipSpecial`).
    public func isSpecial(_ id: Int) -> Bool {
        guard id >= 0 && id < tokenTypes.count else { return false }
        let t = tokenTypes[id]
        return t == .control || t == .unknown || t == .unused
    }

    // MARK: encode

    /// Encodes `text` to token ids. `addBOS`/`addEOS` nil follow the model's `add_bos_token` /
    /// `add_eos_token`. With `parseSpecial`, control-token texts in the input (`<|im_start|>`,
    /// `<start_of_turn>`) become their single ids; user-defined tokens (Gemma's `<table>`, runs of
    /// spaces or newlines) are always recognised, as llama.cpp and Hugging Face do.
    public func encode(_ text: String, addBOS: Bool? = nil, addEOS: Bool? = nil, parseSpecial: Bool = true) -> [Int] {
        var out = [Int]()
        if (addBOS ?? self.addBOS), let bosToken { out.append(bosToken) }
        let scalars = Array(text.unicodeScalars)
        // SentencePiece: a space is prefixed to the text at the start and after each special token
        var afterSpecial = true
        for fragment in specialPartition(scalars, parseSpecial: parseSpecial) {
            switch fragment {
            case .token(let id):
                out.append(id)
                afterSpecial = true
            case .text(let r):
                encodeSegment(scalars[r], spacePrefix: afterSpecial, into: &out)
                afterSpecial = false
            }
        }
        if (addEOS ?? self.addEOS), let eosToken { out.append(eosToken) }
        return out
    }

    private func encodeSegment(_ seg: ArraySlice<Unicode.Scalar>, spacePrefix: Bool, into out: inout [Int]) {
        switch model {
        case .bytePairGPT2:
            let scalars = Array(seg)
            let pre = PreTokenizer(kind: preTokenizer ?? .gpt2)
            var buf = [UInt8]()
            for r in pre.split(scalars) {
                buf.removeAll(keepingCapacity: true)
                for k in r { buf.append(contentsOf: String(scalars[k]).utf8) }
                bpe(bytes: buf, into: &out)
            }
        case .sentencePiece:
            var bytes = [UInt8]()
            bytes.reserveCapacity(seg.count + 3)
            if spacePrefix && addSpacePrefix { bytes.append(contentsOf: [0xE2, 0x96, 0x81]) }
            for s in seg {
                if s == " " { bytes.append(contentsOf: [0xE2, 0x96, 0x81]) } else { bytes.append(contentsOf: String(s).utf8) }
            }
            sentencePiece(utf8: bytes, into: &out)
        }
    }

    /// Byte-level BPE on one pre-token: start from bytes, repeatedly merge the lowest-ranked pair
    /// (`BytePairMerge`).
    private func bpe(bytes: [UInt8], into out: inout [Int]) {
        if bytes.isEmpty { return }
        var sym = bytes.map { byteTokens[Int($0)] }
        if sym.contains(-1) { sym.removeAll { $0 < 0 } }
        for s in BytePairMerge.merge(sym, rules: merges) { out.append(Int(s)) }
    }

    // MARK: decode

    /// The bytes a token stands for (special tokens: their text).
    public func bytes(of id: Int) -> [UInt8] {
        guard id >= 0 && id < tokenBytes.count else { return [] }
        return tokenBytes[id]
    }

    /// Decodes ids to text (invalid UTF-8 becomes U+FFFD). `skipSpecial` drops control tokens.
    /// SentencePiece with `add_space_prefix`: the space the encoder put in front of the text is
    /// removed from the first token (or the one after a leading BOS), as llama.cpp does.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes = [UInt8]()
        for (n, id) in ids.enumerated() {
            if skipSpecial && isSpecial(id) { continue }
            var b = self.bytes(of: id)
            // SentencePiece: the space prefix added by encode is not part of the text
            let first = n == 0 || (n == 1 && bosToken != nil && ids[0] == bosToken)
            if model == .sentencePiece && addSpacePrefix && first && b.first == 0x20 { b.removeFirst() }
            bytes.append(contentsOf: b)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Turns a stream of tokens into text pieces without splitting multi-byte UTF-8 characters
/// (a character spread over several byte tokens is emitted once it is complete).
public struct StreamingDetokenizer: Sendable {
    let tokenizer: Tokenizer
    let skipSpecial: Bool
    private var pending: [UInt8] = []
    private var first: Bool

    /// A detokenizer for `tokenizer`; special tokens produce no text when `skipSpecial`.
    /// `atTextStart`: the tokens start the text (a SentencePiece space prefix on the first text
    /// token is dropped, as `decode` does); false for a continuation, such as generated tokens
    /// after a prompt, whose first space is real.
    public init(tokenizer: Tokenizer, skipSpecial: Bool = true, atTextStart: Bool = true) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
        self.first = atTextStart
    }

    /// Text that became complete with this token ("" while a character is incomplete).
    public mutating func append(_ id: Int) -> String {
        if skipSpecial && tokenizer.isSpecial(id) { return "" }
        var b = tokenizer.bytes(of: id)
        if tokenizer.model == .sentencePiece && tokenizer.addSpacePrefix && first && b.first == 0x20 { b.removeFirst() }
        first = false
        pending.append(contentsOf: b)
        // emit the longest prefix that ends on a character boundary
        var cut = pending.count
        var k = pending.count - 1
        var back = 0
        while k >= 0 && back < 4 {
            let c = pending[k]
            if c & 0xC0 != 0x80 {   // lead byte or ASCII
                let need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1
                if pending.count - k < need { cut = k }
                break
            }
            k -= 1; back += 1
        }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is left (an incomplete character becomes U+FFFD).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }
}
