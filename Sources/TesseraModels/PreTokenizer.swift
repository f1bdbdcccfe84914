/// Pre-tokenizers: split text into the pieces BPE runs on, following the split regex of the
/// model's `tokenizer.ggml.pre`. The regexes are implemented by hand (a scan over Unicode
/// scalars) so they behave the same everywhere and need no regex engine:
///
/// * `gpt2` (also `smollm`, `starcoder`, ... with digits split first):
///   `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// * `llama3` (`llama-bpe`):
///   `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
/// * `qwen2` (also `deepseek-r1-qwen`): the Llama-3 split with `\p{N}` (every digit alone)
///   in place of `\p{N}{1,3}`.
public enum PreTokenizerKind: String, Sendable, CaseIterable {
    /// GPT-2 byte-level split.
    case gpt2
    /// GPT-2 split after isolating every digit (`smollm`, `starcoder`, `refact`, ...).
    case gpt2Digits
    /// Llama-3 split (`llama-bpe`): digits in groups of up to three.
    case llama3
    /// Qwen2 split (`qwen2`): the Llama-3 split with single digits.
    case qwen2

    /// The kind for a `tokenizer.ggml.pre` value; nil when unknown.
    public init?(ggmlPre: String) {
        switch ggmlPre {
        case "default", "gpt2", "gpt-2", "olmo", "jais", "phi-2", "mpt", "stablelm2", "poro-chat", "viking":
            self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            self = .gpt2Digits
        case "llama-bpe", "llama3", "dbrx", "smaug-bpe", "falcon3", "pixtral", "tekken":
            self = .llama3
        case "qwen2", "deepseek-r1-qwen":
            self = .qwen2
        default:
            return nil
        }
    }
}

enum CharClass: UInt8 { case letter, number, space, other }

@inline(__always) func charClass(_ s: Unicode.Scalar) -> CharClass {
    if s.value < 128 {
        let v = s.value
        if (v >= 65 && v <= 90) || (v >= 97 && v <= 122) { return .letter }
        if v >= 48 && v <= 57 { return .number }
        if v == 32 || (v >= 9 && v <= 13) { return .space }
        return .other
    }
    let p = s.properties
    if p.isWhitespace { return .space }
    switch p.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
    case .decimalNumber, .letterNumber, .otherNumber: return .number
    default: return .other
    }
}

struct PreTokenizer: Sendable {
    let kind: PreTokenizerKind

    /// Splits `text` into pieces (as ranges into `scalars`).
    func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let classes = scalars.map(charClass)
        var out = [Range<Int>]()
        switch kind {
        case .gpt2:
            gpt2(scalars, classes, 0..<scalars.count, &out)
        case .gpt2Digits:
            // isolate each digit, then the GPT-2 split on the runs between them
            var start = 0
            for i in 0..<scalars.count where classes[i] == .number {
                if start < i { gpt2(scalars, classes, start..<i, &out) }
                out.append(i..<(i + 1))
                start = i + 1
            }
            if start < scalars.count { gpt2(scalars, classes, start..<scalars.count, &out) }
        case .llama3:
            llama3(scalars, classes, maxDigits: 3, &out)
        case .qwen2:
            llama3(scalars, classes, maxDigits: 1, &out)
        }
        return out
    }

    /// Length of an English contraction at `i` (`'s`, `'re`, ...), 0 if none.
    private func contraction(_ s: [Unicode.Scalar], _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard s[i] == "'", i + 1 < end else { return 0 }
        func low(_ c: Unicode.Scalar) -> Unicode.Scalar {
            caseInsensitive && c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c
        }
        let a = low(s[i + 1])
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        if i + 2 < end {
            let b = low(s[i + 2])
            if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        }
        return 0
    }

    private func gpt2(_ s: [Unicode.Scalar], _ c: [CharClass], _ r: Range<Int>, _ out: inout [Range<Int>]) {
        var i = r.lowerBound
        let end = r.upperBound
        while i < end {
            let k = contraction(s, i, end, caseInsensitive: false)
            if k > 0 { out.append(i..<(i + k)); i += k; continue }
            var j = i
            // optional leading space before a letter/number/other run
            var cls = c[i]
            if s[i] == " " && i + 1 < end && c[i + 1] != .space {
                j = i + 1
                cls = c[j]
            }
            if cls != .space {
                while j < end && c[j] == cls { j += 1 }
                out.append(i..<j)
                i = j
                continue
            }
            // whitespace: \s+(?!\S) | \s+
            while j < end && c[j] == .space { j += 1 }
            if j < end && j - i > 1 { j -= 1 }   // leave the last space to prefix the next word
            out.append(i..<j)
            i = j
        }
    }

    private func llama3(_ s: [Unicode.Scalar], _ c: [CharClass], maxDigits: Int, _ out: inout [Range<Int>]) {
        let end = s.count
        @inline(__always) func isNL(_ x: Unicode.Scalar) -> Bool { x == "\r" || x == "\n" }
        var i = 0
        while i < end {
            let k = contraction(s, i, end, caseInsensitive: true)
            if k > 0 { out.append(i..<(i + k)); i += k; continue }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if c[i] == .letter || (!isNL(s[i]) && c[i] != .number && i + 1 < end && c[i + 1] == .letter) {
                var j = c[i] == .letter ? i : i + 1
                while j < end && c[j] == .letter { j += 1 }
                out.append(i..<j); i = j; continue
            }
            // \p{N}{1,maxDigits}
            if c[i] == .number {
                var j = i
                while j < end && j - i < maxDigits && c[j] == .number { j += 1 }
                out.append(i..<j); i = j; continue
            }
            // ' '?[^\s\p{L}\p{N}]+[\r\n]*
            do {
                var j = i
                if s[j] == " " && j + 1 < end && c[j + 1] == .other { j += 1 }
                if c[j] == .other {
                    while j < end && c[j] == .other { j += 1 }
                    while j < end && isNL(s[j]) { j += 1 }
                    out.append(i..<j); i = j; continue
                }
            }
            // whitespace run i..<j
            var j = i
            while j < end && c[j] == .space { j += 1 }
            // \s*[\r\n]+ : up to the last newline of the run
            var lastNL = -1
            for t in i..<j where isNL(s[t]) { lastNL = t }
            if lastNL >= 0 { out.append(i..<(lastNL + 1)); i = lastNL + 1; continue }
            // \s+(?!\S) | \s+
            if j < end && j - i > 1 { j -= 1 }
            out.append(i..<j)
            i = j
        }
    }
}
