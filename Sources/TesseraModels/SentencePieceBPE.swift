/// SentencePiece-style BPE (`tokenizer.ggml.model = "llama"`): the text (spaces already `▁`) is
/// split into UTF-8 characters; then, repeatedly, the adjacent pair whose concatenation is the
/// highest-scoring vocabulary entry is merged (ties: the leftmost pair). Pieces that are not
/// tokens (characters outside the vocabulary) fall back to their `<0xXX>` byte tokens.
///
/// The candidate pairs live in a max-heap, so a text of n characters takes O(n log n) merges and
/// lookups; a pair invalidated by an earlier merge is recognised by its length and skipped.
extension Tokenizer {
    func sentencePiece(utf8 text: [UInt8], into out: inout [Int]) {
        if text.isEmpty { return }
        // symbols: one per UTF-8 character, linked in text order
        var start = [Int](), length = [Int]()
        start.reserveCapacity(text.count)
        length.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            let b = text[i]
            let n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
            let m = min(n, text.count - i)
            start.append(i)
            length.append(m)
            i += m
        }
        let count = start.count
        var prev = (0..<count).map { $0 - 1 }
        var next = (0..<count).map { $0 + 1 < count ? $0 + 1 : -1 }

        func pieceID(_ from: Int, _ to: Int) -> Int? {
            tokenIDs[Array(text[from..<to])]
        }
        var heap = BinaryHeap<Bigram>()
        func consider(_ l: Int, _ r: Int) {
            guard l >= 0, r >= 0 else { return }
            let end = start[r] + length[r]
            guard let id = pieceID(start[l], end) else { return }
            heap.push(Bigram(score: scores[id], left: l, right: r, size: end - start[l]))
        }
        for k in 1..<count { consider(k - 1, k) }
        while let bg = heap.pop() {
            let l = bg.left, r = bg.right
            if length[l] == 0 || length[r] == 0 || length[l] + length[r] != bg.size { continue }
            length[l] += length[r]
            length[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { prev[next[r]] = l }
            consider(prev[l], l)
            consider(l, next[l])
        }
        var k = 0
        while k >= 0 {
            if let id = pieceID(start[k], start[k] + length[k]) {
                out.append(id)
            } else {
                for b in text[start[k]..<(start[k] + length[k])] where byteTokens[Int(b)] >= 0 {
                    out.append(Int(byteTokens[Int(b)]))
                }
            }
            k = next[k]
        }
    }
}

/// A candidate merge of symbols `left` and `right` (`size` bytes together) scored by its token.
struct Bigram: HeapOrdered {
    let score: Float
    let left: Int
    let right: Int
    let size: Int

    /// Higher score first; equal scores: the leftmost pair first.
    @inline(__always) func precedes(_ o: Bigram) -> Bool {
        score > o.score || (score == o.score && left < o.left)
    }
}
