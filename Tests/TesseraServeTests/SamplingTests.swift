import Testing
@testable import TesseraServe
import TesseraModels

/// The server's fast candidate distribution against the model's reference `Sampler`: the same
/// candidates in the same order with the same probability bits, so the same seed draws the same
/// tokens. Random logits with ties, plateaus and signed zeros, every filter alone and together.
@Suite("TesseraServe sampling")
struct SamplingTests {
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
                    let got = l.withUnsafeBufferPointer { fast.distribution(s, $0, history: history[...]) }
                    #expect(got.map(\.id) == want.map(\.id), "n \(n) spread \(spread) \(o)")
                    #expect(got.map(\.p.bitPattern) == want.map(\.p.bitPattern), "n \(n) spread \(spread) \(o)")
                }
            }
        }
    }

    @Test("RequestSampler draws the tokens Sampler draws (sample and speculative verify)")
    func sameDraws() throws {
        var rng = SeededRandom(seed: 5)
        for o in Self.optionSets {
            var ref = try Sampler(options: o)
            var ours = try RequestSampler(options: o, presencePenalty: 0, frequencyPenalty: 0)
            var history: [Int] = [1, 2, 3]
            for step in 0..<40 {
                let l = Self.logits(3000, &rng, spread: 12)
                try l.withUnsafeBufferPointer { b in
                    if step % 3 == 2 {
                        let draft = Int(rng.next() % 3000)
                        let want = ref.verify(b, history: history[...], draft: draft)
                        let got = ours.verify(b, history: history[...], draft: draft)
                        #expect(got.token == want.token && got.accepted == want.accepted, "\(o) step \(step)")
                        history.append(want.token)
                    } else {
                        let want = ref.sample(b, history: history[...])
                        let got = ours.sample(b, history: history[...])
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
        let s = try Sampler(options: SamplingOptions(temperature: 1, seed: 1))
        for l: [Float] in [[1, .infinity, 2], [-.infinity, 0, 1], [.nan, 1, 2]] {
            let want = l.withUnsafeBufferPointer { s.distribution($0, history: []) }
            let got = l.withUnsafeBufferPointer { fast.distribution(s, $0, history: []) }
            #expect(got.map(\.id) == want.map(\.id))
            #expect(got.map(\.p.bitPattern) == want.map(\.p.bitPattern))
        }
    }
}
