/// Byte-pair merging of one pre-token: repeatedly merge the adjacent pair of lowest rank (the
/// leftmost of equal ranks) until no pair has a merge rule.
///
/// Short pre-tokens (nearly all of them) take the direct scan. Long ones — a run of letters,
/// digits or symbols with no break, which a client can send by the megabyte — take a min-heap
/// of candidate pairs over a linked list of symbols: O(n log n) where the scan is O(n²) (a
/// 40 000-letter word took 13 s; a 1 MiB request body would have held a server for hours).
/// Both give the same merges: the heap pops the least (rank, left position), and positions keep
/// the symbols' order.
enum BytePairMerge {
    /// Above this many symbols the heap is used.
    static let heapThreshold = 48

    /// The merged symbols of `symbols` under `rules` ((left << 32 | right) → (rank, merged id)).
    static func merge(_ symbols: [Int32], rules: [UInt64: (rank: Int32, id: Int32)],
                      heapAbove threshold: Int = heapThreshold) -> [Int32] {
        symbols.count > threshold && symbols.count < 1 << 32 ? heap(symbols, rules) : scan(symbols, rules)
    }

    @inline(__always)
    static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }

    /// The direct O(n²) scan (the reference).
    static func scan(_ symbols: [Int32], _ rules: [UInt64: (rank: Int32, id: Int32)]) -> [Int32] {
        var sym = symbols
        while sym.count > 1 {
            var best = Int32.max, at = -1, merged: Int32 = 0
            for k in 0..<(sym.count - 1) {
                if let m = rules[key(sym[k], sym[k + 1])], m.rank < best { best = m.rank; at = k; merged = m.id }
            }
            if at < 0 { break }
            sym[at] = merged
            sym.remove(at: at + 1)
        }
        return sym
    }

    /// The heap over a doubly linked list. A heap entry is (rank << 32 | left position); it is
    /// stale when the pair now at that position has another rule (or is gone), and then skipped.
    static func heap(_ symbols: [Int32], _ rules: [UInt64: (rank: Int32, id: Int32)]) -> [Int32] {
        let n = symbols.count
        var id = symbols
        var prev = (0..<n).map { Int32($0) - 1 }, next = (0..<n).map { $0 + 1 < n ? Int32($0 + 1) : -1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = BinaryHeap<PairCandidate>()
        func candidate(_ i: Int) {
            let j = Int(next[i])
            if j >= 0, let m = rules[key(id[i], id[j])] { heap.push(PairCandidate(key: UInt64(UInt32(m.rank)) << 32 | UInt64(i))) }
        }
        for i in 0..<(n - 1) { candidate(i) }
        while let top = heap.pop()?.key {
            let i = Int(top & 0xFFFF_FFFF), rank = Int32(top >> 32)
            guard alive[i], next[i] >= 0 else { continue }
            let j = Int(next[i])
            guard let m = rules[key(id[i], id[j])], m.rank == rank else { continue }
            id[i] = m.id
            alive[j] = false
            next[i] = next[j]
            if next[j] >= 0 { prev[Int(next[j])] = Int32(i) }
            if prev[i] >= 0 { candidate(Int(prev[i])) }
            candidate(i)
        }
        var out: [Int32] = []
        var i = 0   // the first symbol is never merged away (a merge keeps its left symbol)
        while i >= 0 { out.append(id[i]); i = Int(next[i]) }
        return out
    }
}

/// A candidate merge: (rank << 32 | left position), least first.
struct PairCandidate: HeapOrdered {
    let key: UInt64
    @inline(__always) func precedes(_ o: PairCandidate) -> Bool { key < o.key }
}
