import Testing
@testable import TesseraModels

/// The fast candidate path of `Sampler.sample`/`verify` against the reference
/// `Sampler.distribution`: the same candidates in the same order with the same probability
/// bits, so the same seed draws the same tokens. Random logits with ties, plateaus and signed
/// zeros, every filter alone and together; and the vectorised argmax against a scalar scan.
@Suite("Sampler fast path")
struct SamplerFastPathTests {
    static func logits(_ n: Int, _ rng: inout SeededRandom, spread: Double) -> [Float] {
        (0..<n).map { _ in
            let u = rng.nextUnit()
            switch rng.next() % 16 {
            case 0: return 3.5                       // ties at one value
            case 1: return rng.next() % 2 == 0 ? 0 : -0.0
            default: return Float((u - 0.7) * spread)
            }
        }
    }

    static let optionSets: [SamplingOptions] = [
        SamplingOptions(temperature: 0.8, seed: 1),
        SamplingOptions(temperature: 1.0, topK: 40, seed: 2),
        SamplingOptions(temperature: 0.7, topP: 0.9, seed: 3),
        SamplingOptions(temperature: 1.3, minP: 0.05, seed: 4),
        SamplingOptions(temperature: 0.8, topK: 40, topP: 0.95, minP: 0.02, seed: 5),
        SamplingOptions(temperature: 0.5, topK: 3, topP: 0.5, repetitionPenalty: 1.3, repetitionWindow: 8, seed: 6),
        SamplingOptions(temperature: 2, topK: 100_000, repetitionPenalty: 0.8, seed: 7),
        SamplingOptions(temperature: 0, repetitionPenalty: 1.2, seed: 8),
        SamplingOptions(temperature: 0, seed: 9),
    ]

    @Test("CandidateDistribution equals Sampler.distribution bit for bit")
    func distributionBits() throws {
        var rng = SeededRandom(seed: 42)
        var fast = CandidateDistribution()
        for n in [1, 7, 64, 65, 1000, 49152] {
            for spread in [0.5, 20, 80] {
                let l = Self.logits(n, &rng, spread: spread)
                let history = (0..<12).map { _ in Int(rng.next() % UInt64(n)) }
                for o in Self.optionSets {
                    let s = try Sampler(options: o)
                    let want = l.withUnsafeBufferPointer { s.distribution($0, history: history[...]) }
                    let got = l.withUnsafeBufferPointer { fast.distribution(o, $0, history: history[...]) }
                    #expect(got.map(\.id) == want.map(\.id), "n \(n) spread \(spread) \(o)")
                    #expect(got.map(\.p.bitPattern) == want.map(\.p.bitPattern), "n \(n) spread \(spread) \(o)")
                }
            }
        }
    }

    /// The reference draw: `distribution`, then the inverse-CDF walk with the sampler's RNG.
    static func referenceDraw(_ dist: [(id: Int, p: Double)], _ rng: inout SeededRandom) -> Int {
        if dist.count == 1 { return dist[0].id }
        let u = rng.nextUnit()
        var acc = 0.0
        for e in dist {
            acc += e.p
            if u < acc { return e.id }
        }
        return dist.last?.id ?? 0
    }

    @Test("sample and verify draw the tokens the reference distribution gives with the same seed")
    func sameDraws() throws {
        var rng = SeededRandom(seed: 5)
        for o in Self.optionSets {
            var s = try Sampler(options: o)
            var refRNG = SeededRandom(seed: o.seed)
            var history: [Int] = [1, 2, 3]
            for step in 0..<40 {
                let l = Self.logits(3000, &rng, spread: 12)
                try l.withUnsafeBufferPointer { b in
                    let dist = s.distribution(b, history: history[...])
                    if step % 3 == 2 && !o.isGreedy {
                        let draft = step % 2 == 0 ? dist[0].id : Int(rng.next() % 3000)
                        let got = s.verify(b, history: history[...], draft: draft)
                        // reference verify: accept with p(draft), else draw without the draft
                        let pd = dist.first(where: { $0.id == draft })?.p ?? 0
                        var want = (token: draft, accepted: true)
                        if !(pd > 0 && refRNG.nextUnit() < pd) {
                            let rest = dist.filter { $0.id != draft }
                            let z = rest.reduce(0) { $0 + $1.p }
                            if z > 0 { want = (Self.referenceDraw(rest.map { ($0.id, $0.p / z) }, &refRNG), false) }
                        }
                        try #require(got.token == want.token && got.accepted == want.accepted, "\(o) step \(step)")
                        history.append(want.token)
                    } else {
                        let got = s.sample(b, history: history[...])
                        let want = Self.referenceDraw(dist, &refRNG)
                        try #require(got == want, "\(o) step \(step)")
                        history.append(want)
                    }
                }
            }
        }
    }

    @Test("non-finite logits fall back to the reference")
    func nonFinite() throws {
        var fast = CandidateDistribution()
        let o = SamplingOptions(temperature: 1, seed: 1)
        let s = try Sampler(options: o)
        for l: [Float] in [[1, .infinity, 2], [-.infinity, 0, 1], [.nan, 1, 2]] {
            let want = l.withUnsafeBufferPointer { s.distribution($0, history: []) }
            let got = l.withUnsafeBufferPointer { fast.distribution(o, $0, history: []) }
            #expect(got.map(\.id) == want.map(\.id))
            #expect(got.map(\.p.bitPattern) == want.map(\.p.bitPattern))
        }
    }

    /// The scalar definition: the first index of the largest non-NaN value; 0 when there is none.
    static func scalarArgmax(_ l: [Float]) -> Int {
        var best = -Float.infinity, at = -1
        for i in l.indices where l[i] > best || (at < 0 && !l[i].isNaN) { best = l[i]; at = i }
        return max(at, 0)
    }

    @Test("argmax: first maximum, NaN skipped, -inf and empty buffers, every length and position")
    func argmax() {
        var rng = SeededRandom(seed: 11)
        var cases: [[Float]] = [[], [.nan], [.nan, .nan], [-.infinity], [.nan, -.infinity, -.infinity],
                                [-0.0, 0], [0, -0.0], [1, .nan, 1], [.infinity, .infinity]]
        for n in [1, 15, 16, 17, 31, 32, 33, 100, 49152] {
            for _ in 0..<4 {
                var l = Self.logits(n, &rng, spread: 10)
                if rng.next() % 2 == 0 { l[Int(rng.next() % UInt64(n))] = .nan }
                if rng.next() % 2 == 0 { l[Int(rng.next() % UInt64(n))] = 99 }   // a max at a random position
                cases.append(l)
            }
            cases.append([Float](repeating: 2, count: n))
            var tail = [Float](repeating: -.infinity, count: n)
            tail[n - 1] = 1
            cases.append(tail)
        }
        for l in cases {
            let got = l.withUnsafeBufferPointer { Sampler.argmax($0) }
            #expect(got == Self.scalarArgmax(l), "\(l.count) values")
        }
    }
}
