/// What a `BinaryHeap` orders by: `a.precedes(b)` when a must come out before b.
protocol HeapOrdered {
    func precedes(_ other: Self) -> Bool
}

/// A binary heap whose `pop` returns the element that precedes all others (the tokenizers'
/// candidate merges: SentencePiece's best-scoring bigram, byte-level BPE's lowest-ranked pair).
struct BinaryHeap<Element: HeapOrdered> {
    private var a: [Element] = []

    mutating func push(_ x: Element) {
        a.append(x)
        var c = a.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            if !a[c].precedes(a[p]) { break }
            a.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> Element? {
        guard let top = a.first else { return nil }
        let last = a.removeLast()
        if !a.isEmpty {
            a[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var best = p
                if l < a.count && a[l].precedes(a[best]) { best = l }
                if r < a.count && a[r].precedes(a[best]) { best = r }
                if best == p { break }
                a.swapAt(p, best)
                p = best
            }
        }
        return top
    }
}
