/// Turns generated tokens into text pieces: complete UTF-8 characters only, holding back any
/// suffix that could be the start of a stop string, and cutting the text at a stop string —
/// at the earliest one in the text when a token completes several. `tessera generate` and
/// `tessera serve` both stream through it.
public struct TextEmitter: Sendable {
    private var detok: StreamingDetokenizer
    private let stopStrings: [String]
    /// Text released so far.
    public private(set) var text = ""
    private var pending = ""

    /// An emitter for `tokenizer` with `stopStrings` (empty ones are ignored). `atTextStart`:
    /// the tokens start the text, so a SentencePiece space prefix on the first one is dropped
    /// (as `Tokenizer.decode` does); false for tokens that continue a prompt.
    public init(tokenizer: Tokenizer, stopStrings: [String], atTextStart: Bool = false) {
        detok = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true, atTextStart: atTextStart)
        self.stopStrings = stopStrings.filter { !$0.isEmpty }
    }

    /// Adds a token; returns the text that can be released and whether a stop string ended it
    /// (the text before the stop string is released, the stop string and anything after it not).
    public mutating func push(_ id: Int) -> (text: String, stopped: Bool) {
        pending += detok.append(id)
        if stopStrings.isEmpty { return (release(upTo: pending.endIndex), false) }
        // the earliest stop string, not the first one listed: "ab" with stops ["b", "a"] ends before the "a"
        if let cut = stopStrings.compactMap({ pending.range(of: $0)?.lowerBound }).min() {
            let out = release(upTo: cut)
            pending = ""
            return (out, true)
        }
        // hold back the longest suffix that is a prefix of a stop string
        var hold = 0
        for s in stopStrings {
            var k = min(s.count, pending.count)
            while k > hold {
                if pending.hasSuffix(s.prefix(k)) { hold = k; break }
                k -= 1
            }
        }
        return (release(upTo: pending.index(pending.endIndex, offsetBy: -hold)), false)
    }

    /// Releases whatever is held back (the generation ended without a stop string); nil if nothing was.
    public mutating func flushAll() -> String? {
        pending += detok.finish()
        let out = release(upTo: pending.endIndex)
        return out.isEmpty ? nil : out
    }

    /// Releases `pending` up to `end` and keeps the rest.
    private mutating func release(upTo end: String.Index) -> String {
        let out = String(pending[..<end])
        pending = String(pending[end...])
        text += out
        return out
    }
}
