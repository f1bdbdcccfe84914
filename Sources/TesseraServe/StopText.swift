import TesseraModels

/// Turns a request's tokens into text pieces: complete UTF-8 characters only, holding back a
/// tail that could still grow into a stop string, and cutting the text where one appears.
struct StopText {
    private var detok: StreamingDetokenizer
    private let stops: [String]
    private var pending = ""
    /// All text released so far.
    private(set) var text = ""

    init(tokenizer: Tokenizer, stops: [String]) {
        detok = StreamingDetokenizer(tokenizer: tokenizer, skipSpecial: true)
        self.stops = stops.filter { !$0.isEmpty }
    }

    /// Adds a token; returns the text that can be released now and whether a stop string ended it.
    mutating func push(_ id: Int) -> (text: String, stopped: Bool) {
        pending += detok.append(id)
        for s in stops {
            if let r = pending.range(of: s) {
                return (release(String(pending[..<r.lowerBound]), keep: ""), true)
            }
        }
        // hold back the longest tail that is a prefix of some stop string
        var hold = 0
        for s in stops {
            var k = min(s.count, pending.count)
            while k > hold {
                if pending.hasSuffix(s.prefix(k)) { hold = k; break }
                k -= 1
            }
        }
        let cut = pending.index(pending.endIndex, offsetBy: -hold)
        return (release(String(pending[..<cut]), keep: String(pending[cut...])), false)
    }

    /// Releases what is held back (the generation ended without a stop string).
    mutating func finish() -> String {
        release(pending + detok.finish(), keep: "")
    }

    private mutating func release(_ out: String, keep: String) -> String {
        pending = keep
        text += out
        return out
    }
}
