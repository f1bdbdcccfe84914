import Foundation
import Testing
import TesseraModels
import TesseraTestSupport
@testable import TesseraServe

/// Stop strings against a reference that decodes every prefix of the tokens: the text ends at
/// the first token after which some stop string appears, cut at the earliest such string.
@Suite("TesseraServe stop strings")
struct StopTextTests {
    static func streamed(_ tok: Tokenizer, _ ids: [Int], _ stops: [String]) -> (String, Bool) {
        var st = TextEmitter(tokenizer: tok, stopStrings: stops, atTextStart: true)
        var out = ""
        for id in ids {
            let (t, stopped) = st.push(id)
            out += t
            if stopped { return (out, true) }
        }
        return (out + (st.flushAll() ?? ""), false)
    }

    static func reference(_ tok: Tokenizer, _ ids: [Int], _ stops: [String]) -> (String, Bool) {
        let live = stops.filter { !$0.isEmpty }
        for k in ids.indices {
            let t = tok.decode(Array(ids[...k]), skipSpecial: true)
            if let cut = live.compactMap({ t.range(of: $0)?.lowerBound }).min() { return (String(t[..<cut]), true) }
        }
        return (tok.decode(ids, skipSpecial: true), false)
    }

    @Test func oneTokenCompletingTwoStopsEndsAtTheEarlier() throws {
        let tok = try TinyVocabulary.tokenizer()
        let ab = try #require(tok.id(of: "ab")), hello = try #require(tok.id(of: "Hello"))
        let (text, stopped) = Self.streamed(tok, [hello, ab], ["b", "a"])
        #expect(stopped && text == "Hello")
    }

    @Test func randomTokensAndStopsMatchThePrefixReference() throws {
        let tok = try TinyVocabulary.tokenizer()
        let pool = ["a", "b", "ab", "ba", "aab", " a", "Hello", "lo!", "!", "1\n2", "\n", "", "bb", "a b"]
        var rng = SeededRandom(seed: 11)
        var stoppedCount = 0
        for _ in 0..<2000 {
            let ids = (0..<Int(rng.next() % 12)).map { _ in Int(rng.next() % UInt64(tok.vocabularySize)) }
            let stops = (0..<Int(rng.next() % 4)).map { _ in pool[Int(rng.next() % UInt64(pool.count))] }
            let got = Self.streamed(tok, ids, stops), want = Self.reference(tok, ids, stops)
            #expect(got == want, "ids \(ids) stops \(stops)")
            if want.1 { stoppedCount += 1 }
        }
        #expect(stoppedCount > 200)
    }
}
