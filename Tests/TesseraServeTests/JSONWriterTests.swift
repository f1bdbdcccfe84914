import Foundation
import Testing
import TesseraServe
import TesseraTestSupport

/// `JSONWriter` against Foundation's `JSONSerialization`: its text parses back (by
/// `JSONSerialization`) to the value written, and, where both can say a value exactly (no
/// doubles), it is byte for byte what `JSONSerialization` writes with sorted keys.
@Suite("JSONWriter")
struct JSONWriterTests {
    typealias Rng = SplitMix64

    static let alphabet: [String] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1f}", "\u{7f}",
                                     "é", "中", "😀", "\u{2028}", "{", "]", ":", ","]

    static func string(_ r: inout Rng) -> String {
        String((0..<r.below(12)).map { _ in alphabet[r.below(alphabet.count)] }.joined())
    }

    /// A key: any string, or (`plainKeys`) lowercase ASCII, the keys the API writes. (Sorted keys
    /// are in code-point order here; Foundation's order differs for some punctuation.)
    static func key(_ r: inout Rng, plain: Bool) -> String {
        plain ? String((0..<r.below(6)).map { _ in Character(UnicodeScalar(UInt8(97 + r.below(26)))) }) : string(&r)
    }

    /// A random value of the kinds the server's responses hold; doubles only when `doubles`.
    static func value(_ r: inout Rng, depth: Int, doubles: Bool) -> Any {
        let kinds = depth >= 4 ? 6 : 9
        switch r.below(kinds) {
        case 0: return string(&r)
        case 1: return [Int.min, Int.max, 0, -1, 49151][r.below(5)] &+ (r.below(2) == 0 ? 0 : r.below(1000) - 500)
        case 2: return r.below(2) == 0
        case 3: return NSNull()
        case 4:
            guard doubles else { return r.below(1 << 20) }
            let d = Double(bitPattern: r.next())
            return d.isFinite ? d : [0.1, -2.5e-7, 123456789012.5, 1e300, -0.0][r.below(5)]
        case 5: return (0..<r.below(20)).map { _ in Int(truncatingIfNeeded: r.next()) >> r.below(64) }
        case 6: return (0..<r.below(5)).map { _ in string(&r) }
        case 7: return (0..<r.below(5)).map { _ in value(&r, depth: depth + 1, doubles: doubles) }
        default:
            var o: [String: Any] = [:]
            for _ in 0..<r.below(6) { o[key(&r, plain: !doubles)] = value(&r, depth: depth + 1, doubles: doubles) }
            return o
        }
    }

    /// Whether `parsed` (what JSONSerialization read back) is `original`.
    static func same(_ parsed: Any, _ original: Any) -> Bool {
        switch original {
        case let s as String where type(of: original) == String.self: return (parsed as? String) == s
        case let b as Bool where type(of: original) == Bool.self:
            return type(of: parsed) == type(of: NSNumber(value: true)) && (parsed as! NSNumber).boolValue == b
        case let i as Int where type(of: original) == Int.self: return (parsed as? NSNumber)?.int64Value == Int64(i)
        case let d as Double where type(of: original) == Double.self:
            // Foundation reads some exponents into an NSDecimalNumber whose doubleValue is
            // inexact; its decimal digits are exactly what was read
            guard let n = parsed as? NSNumber,
                  let p = parsed is NSDecimalNumber ? Double(n.stringValue) : n.doubleValue else { return false }
            return p == d && (p != 0 || p.sign == d.sign || parsed is NSDecimalNumber)
        case is NSNull: return parsed is NSNull
        case let a as [Int] where type(of: original) == [Int].self: return same(parsed, a.map { $0 as Any })
        case let a as [String] where type(of: original) == [String].self: return same(parsed, a.map { $0 as Any })
        case let o as [String: Any]:
            guard let p = parsed as? [String: Any], p.count == o.count else { return false }
            return o.allSatisfy { k, v in p[k].map { same($0, v) } ?? false }
        case let a as [Any]:
            guard let p = parsed as? [Any], p.count == a.count else { return false }
            return zip(p, a).allSatisfy { same($0, $1) }
        default: return false
        }
    }

    @Test func randomValuesParseBackToThemselves() throws {
        var r = Rng(seed: 7)
        for i in 0..<600 {
            let v: Any = ["root": Self.value(&r, depth: 0, doubles: true), "n": i]
            let text = try #require(JSONWriter.encode(v), "value \(i)")
            let parsed = try JSONSerialization.jsonObject(with: Data(text), options: [.fragmentsAllowed])
            #expect(Self.same(parsed, v), "value \(i): \(String(decoding: text, as: UTF8.self))")
        }
    }

    @Test func doublesReadBackBitForBit() throws {
        var r = Rng(seed: 3)
        var ds: [Double] = [0, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.1, 1e-5, 123456789012.5]
        while ds.count < 20000 {
            let d = Double(bitPattern: r.next())
            if d.isFinite { ds.append(d) }
        }
        let text = try #require(JSONWriter.encode(ds))
        let back = try JSONDecoder().decode([Double].self, from: Data(text))
        #expect(back.map(\.bitPattern) == ds.map(\.bitPattern))
    }

    @Test func withoutDoublesTheBytesAreJSONSerializations() throws {
        var r = Rng(seed: 11)
        for i in 0..<600 {
            let v: Any = ["root": Self.value(&r, depth: 0, doubles: false), "n": i]
            let ours = try #require(JSONWriter.encode(v, sortedKeys: true))
            let foundation = try JSONSerialization.data(withJSONObject: v, options: [.sortedKeys, .withoutEscapingSlashes])
            #expect(ours == [UInt8](foundation), "value \(i)")
        }
    }

    @Test func parsedObjectsAreWrittenAsTheyWereRead() throws {
        // what JSONSerialization parses (NSNumber booleans, integers, doubles; NSString; NSArray)
        let text = #"{"a":[true,false,1,-7,2.5,1e-05,null,"x\"y"],"b":{"c":[]},"d":18446744073709551615}"#
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
        let again = try #require(JSONWriter.encode(parsed, sortedKeys: true))
        #expect(String(decoding: again, as: UTF8.self)
            == #"{"a":[true,false,1,-7,2.5,1e-05,null,"x\"y"],"b":{"c":[]},"d":18446744073709551615}"#)
    }

    @Test func numbersJSONCannotSayAreRefusedAndTheRestAreExact() throws {
        #expect(JSONWriter.encode(["x": Double.infinity]) == nil)
        #expect(JSONWriter.encode([Double.nan]) == nil)
        #expect(JSONWriter.encode(Float(0.1)).map { String(decoding: $0, as: UTF8.self) } == "0.1")
        #expect(JSONWriter.encode([123456789012.5, 1e300]).map { String(decoding: $0, as: UTF8.self) } == "[123456789012.5,1e+300]")
        #expect(JSONWriter.encode([Int.min, Int.max]).map { String(decoding: $0, as: UTF8.self) }
            == "[-9223372036854775808,9223372036854775807]")
        let missing: String? = nil
        #expect(JSONWriter.encode(["p": missing as Any, "q": Optional("s") as Any], sortedKeys: true)
            .map { String(decoding: $0, as: UTF8.self) } == #"{"p":null,"q":"s"}"#)
    }
}
