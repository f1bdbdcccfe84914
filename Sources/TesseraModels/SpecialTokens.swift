/// Finds special tokens in text before BPE runs: control tokens (`<|im_start|>`, `<start_of_turn>`,
/// `<bos>`) when special parsing is on, user-defined tokens (Gemma's `<table>`, runs of spaces or
/// newlines) always.
///
/// The partition is llama.cpp's: tokens are tried longest first (ties: lower id first), each one
/// taking its non-overlapping occurrences left to right in the text no longer token has claimed.
/// That differs from leftmost-longest matching only where two special tokens overlap in the text.
struct SpecialTokenMatcher: Sendable {
    /// One piece of the partitioned input: text for BPE (a range of the scalars) or a token id.
    enum Fragment: Equatable { case text(Range<Int>), token(Int) }

    struct Entry: Sendable {
        let text: [Unicode.Scalar]
        let id: Int
        /// Control or unknown: recognised only with `parseSpecial`.
        let control: Bool
    }

    /// Entries in priority order (longest first, then lower id).
    let entries: [Entry]
    /// Entry indices by their first scalar, in priority order.
    let byFirst: [UInt32: [Int32]]

    init(tokens: [String], types: [Tokenizer.TokenType]) {
        var e = [Entry]()
        for (i, t) in tokens.enumerated() where !t.isEmpty {
            switch types[i] {
            case .control, .unknown: e.append(Entry(text: Array(t.unicodeScalars), id: i, control: true))
            case .userDefined: e.append(Entry(text: Array(t.unicodeScalars), id: i, control: false))
            default: break
            }
        }
        e.sort { $0.text.count != $1.text.count ? $0.text.count > $1.text.count : $0.id < $1.id }
        entries = e
        var idx = [UInt32: [Int32]]()
        for (k, x) in e.enumerated() { idx[x.text[0].value, default: []].append(Int32(k)) }
        byFirst = idx
    }

    /// Splits `s` into text ranges and special-token ids, in order.
    func partition(_ s: [Unicode.Scalar], parseSpecial: Bool) -> [Fragment] {
        guard !entries.isEmpty, !s.isEmpty else { return s.isEmpty ? [] : [.text(0..<s.count)] }
        // every occurrence of every eligible token: (priority, position)
        var found = [(rank: Int32, at: Int)]()
        for p in 0..<s.count {
            guard let cands = byFirst[s[p].value] else { continue }
            for k in cands {
                let e = entries[Int(k)]
                if e.control && !parseSpecial { continue }
                if e.text.count > s.count - p { continue }
                var ok = true
                var j = 1
                while j < e.text.count { if s[p + j] != e.text[j] { ok = false; break }; j += 1 }
                if ok { found.append((k, p)) }
            }
        }
        if found.isEmpty { return [.text(0..<s.count)] }
        found.sort { $0.rank != $1.rank ? $0.rank < $1.rank : $0.at < $1.at }
        var claimed = [Bool](repeating: false, count: s.count)
        var taken = [(at: Int, len: Int, id: Int)]()
        for f in found {
            let n = entries[Int(f.rank)].text.count
            if claimed[f.at..<(f.at + n)].contains(true) { continue }
            for q in f.at..<(f.at + n) { claimed[q] = true }
            taken.append((f.at, n, entries[Int(f.rank)].id))
        }
        taken.sort { $0.at < $1.at }
        var out = [Fragment]()
        var pos = 0
        for t in taken {
            if pos < t.at { out.append(.text(pos..<t.at)) }
            out.append(.token(t.id))
            pos = t.at + t.len
        }
        if pos < s.count { out.append(.text(pos..<s.count)) }
        return out
    }
}

extension Tokenizer {
    /// The input split into text ranges and special-token ids (see `SpecialTokenMatcher`).
    func specialPartition(_ s: [Unicode.Scalar], parseSpecial: Bool) -> [SpecialTokenMatcher.Fragment] {
        specials.partition(s, parseSpecial: parseSpecial)
    }
}
