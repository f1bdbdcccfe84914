import Foundation
import Testing
@testable import TesseraModels

/// The heap merge of long pre-tokens against the direct scan (the reference), and a word so
/// long that only an O(n log n) merge finishes it.
@Suite("Byte-pair merging: heap against the direct scan")
struct BytePairMergeTests {
    /// Random rules over a 6-symbol alphabet and the symbols they make, ranks shuffled.
    static func randomRules(_ rng: inout TestRNG) -> [UInt64: (rank: Int32, id: Int32)] {
        var rules: [UInt64: (rank: Int32, id: Int32)] = [:]
        var next: Int32 = 6
        for _ in 0..<60 {
            let a = Int32(rng.int(Int(next))), b = Int32(rng.int(Int(next)))
            let k = BytePairMerge.key(a, b)
            if rules[k] == nil { rules[k] = (rank: Int32(rng.int(1000)), id: next); next += 1 }
        }
        return rules
    }

    @Test func heapGivesTheScansMerges() {
        var rng = TestRNG(5)
        var merged = 0
        for _ in 0..<300 {
            let rules = Self.randomRules(&rng)
            let n = 1 + rng.int(300)
            let symbols = (0..<n).map { _ in Int32(rng.int(rng.int(2) == 0 ? 2 : 6)) }   // runs of few symbols: many equal-rank ties
            let scan = BytePairMerge.scan(symbols, rules)
            #expect(BytePairMerge.merge(symbols, rules: rules, heapAbove: 0) == scan, "\(symbols.count) symbols")
            if scan.count < symbols.count { merged += 1 }
        }
        #expect(merged > 200)
    }

    /// 2¹⁷ equal symbols under rules a a → A, A A → B, …: one symbol, after 131 071 merges.
    /// (The scan needs ~10¹⁰ pair lookups for this; a client can send such a word.)
    @Test func aLongRunMergesToOneSymbol() {
        var rules: [UInt64: (rank: Int32, id: Int32)] = [:]
        for level in 0..<17 { rules[BytePairMerge.key(Int32(level), Int32(level))] = (rank: Int32(level), id: Int32(level + 1)) }
        #expect(BytePairMerge.merge([Int32](repeating: 0, count: 1 << 17), rules: rules) == [17])
        #expect(BytePairMerge.merge([Int32](repeating: 0, count: (1 << 17) + 1), rules: rules) == [17, 0])
    }
}
