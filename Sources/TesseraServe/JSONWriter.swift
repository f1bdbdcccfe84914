import Foundation
import NIOCore

/// JSON text (RFC 8259) of the values the API's responses are built from: `[String: Any]`,
/// arrays, `String`, integers, `Double`/`Float`, `Bool`, `NSNull`, and the `NSNumber`s and
/// `NSString`s that `JSONSerialization` parses.
///
/// Why not `JSONSerialization.data(withJSONObject:)`: it bridges every element to an
/// `NSNumber`/`NSString` first, ≈ 3 µs per integer on this project's machines, so a 900 KiB
/// `/tokenize` response (540 000 ids) took it 1.6 s. Here an `[Int]` is written digit by digit
/// and a `Double` as its shortest round-trip decimal (as `JSONSerialization` also writes it).
public enum JSONWriter {
    /// The JSON text of `value`, keys in dictionary order or sorted (by Unicode code points; for
    /// ASCII keys the order `JSONSerialization`'s `.sortedKeys` gives); nil when `value` holds
    /// something JSON cannot say (a non-finite number, a type other than those above).
    public static func encode(_ value: Any, sortedKeys: Bool = false) -> [UInt8]? {
        var b = ByteBuffer()
        guard write(value, into: &b, sortedKeys: sortedKeys) else { return nil }
        return Array(b.readableBytesView)
    }

    /// Appends the JSON text of `value` to `b`; false (with `b` partly written) when `value`
    /// holds something JSON cannot say.
    public static func write(_ value: Any, into b: inout ByteBuffer, sortedKeys: Bool = false) -> Bool {
        // exact native types first: a native Bool is not an Int here, and an [Int] is written
        // without boxing its elements
        switch ObjectIdentifier(type(of: value)) {
        case ObjectIdentifier(String.self): string(value as! String, into: &b); return true
        case ObjectIdentifier(Int.self): integer(value as! Int, into: &b); return true
        case ObjectIdentifier(Bool.self): b.writeStaticString((value as! Bool) ? "true" : "false"); return true
        case ObjectIdentifier(Double.self): return double(value as! Double, into: &b)
        case ObjectIdentifier([Int].self): return integers(value as! [Int], into: &b)
        case ObjectIdentifier([String].self): return strings(value as! [String], into: &b)
        case ObjectIdentifier([String: Any].self): return object(value as! [String: Any], into: &b, sortedKeys: sortedKeys)
        case ObjectIdentifier([Any].self): return array(value as! [Any], into: &b, sortedKeys: sortedKeys)
        default: break
        }
        // then the Foundation objects JSONSerialization parses to (a cast to NSNumber of a Swift
        // collection would bridge all of it first, so the type is asked before the cast)
        if type(of: value) is NSNumber.Type, let n = value as? NSNumber { return number(n, into: &b) }
        if let o = value as? [String: Any] { return object(o, into: &b, sortedKeys: sortedKeys) }
        if let a = value as? [Any] { return array(a, into: &b, sortedKeys: sortedKeys) }
        if let s = value as? String { string(s, into: &b); return true }
        if value is NSNull { b.writeStaticString("null"); return true }
        if let i = value as? any BinaryInteger { b.writeString(String(i)); return true }
        if let f = value as? Float { return double(Double(f), into: &b, shortest: f.description) }
        if let f = value as? any BinaryFloatingPoint { return double(Double(f), into: &b) }
        let m = Mirror(reflecting: value)
        if m.displayStyle == .optional {
            guard let wrapped = m.children.first?.value else { b.writeStaticString("null"); return true }
            return write(wrapped, into: &b, sortedKeys: sortedKeys)
        }
        return false
    }

    /// `text` as the body of a JSON string (quote, backslash and control characters escaped;
    /// everything else, '/' and non-ASCII included, as UTF-8), without the quotes.
    public static func escape(_ text: String, into b: inout ByteBuffer) {
        var text = text
        text.withUTF8 { u in
            var start = 0
            for (i, c) in u.enumerated() where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                if start < i { b.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(u)[start..<i])) }
                start = i + 1
                switch c {
                case UInt8(ascii: "\""): b.writeStaticString("\\\"")
                case UInt8(ascii: "\\"): b.writeStaticString("\\\\")
                case 0x0A: b.writeStaticString("\\n")
                case 0x0D: b.writeStaticString("\\r")
                case 0x09: b.writeStaticString("\\t")
                default:
                    b.writeStaticString("\\u00")
                    b.writeInteger(hexDigits[Int(c >> 4)])
                    b.writeInteger(hexDigits[Int(c & 15)])
                }
            }
            if start < u.count { b.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(u)[start...])) }
        }
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    /// The class `JSONSerialization` parses `true` and `false` to (a subclass of `NSNumber`).
    static let booleanClass = type(of: NSNumber(value: true))

    /// `[e0,e1,...]`, each element written by `element` (false: stop, and false).
    @inline(__always)
    static func list<C: Collection>(_ c: C, into b: inout ByteBuffer,
                                    _ element: (C.Element, inout ByteBuffer) -> Bool) -> Bool {
        b.writeInteger(UInt8(ascii: "["))
        var first = true
        for e in c {
            if !first { b.writeInteger(UInt8(ascii: ",")) }
            first = false
            guard element(e, &b) else { return false }
        }
        b.writeInteger(UInt8(ascii: "]"))
        return true
    }

    static func array(_ a: [Any], into b: inout ByteBuffer, sortedKeys: Bool) -> Bool {
        list(a, into: &b) { e, b in write(e, into: &b, sortedKeys: sortedKeys) }
    }

    static func strings(_ a: [String], into b: inout ByteBuffer) -> Bool {
        list(a, into: &b) { e, b in string(e, into: &b); return true }
    }

    static func string(_ s: String, into b: inout ByteBuffer) {
        b.writeInteger(UInt8(ascii: "\""))
        escape(s, into: &b)
        b.writeInteger(UInt8(ascii: "\""))
    }

    static func object(_ o: [String: Any], into b: inout ByteBuffer, sortedKeys: Bool) -> Bool {
        b.writeInteger(UInt8(ascii: "{"))
        var first = true
        func member(_ k: String, _ v: Any) -> Bool {
            if !first { b.writeInteger(UInt8(ascii: ",")) }
            first = false
            string(k, into: &b)
            b.writeInteger(UInt8(ascii: ":"))
            return write(v, into: &b, sortedKeys: sortedKeys)
        }
        if sortedKeys {
            for k in o.keys.sorted(by: { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) })
            where !member(k, o[k]!) { return false }
        } else {
            for (k, v) in o where !member(k, v) { return false }
        }
        b.writeInteger(UInt8(ascii: "}"))
        return true
    }

    /// Decimal digits of `v` written from the end of a 20-byte scratch (Int.min included).
    static func integer(_ v: Int, into b: inout ByteBuffer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { d in
            var m = v.magnitude, at = 20
            repeat {
                at -= 1
                d[at] = UInt8(ascii: "0") + UInt8(m % 10)
                m /= 10
            } while m > 0
            if v < 0 { at -= 1; d[at] = UInt8(ascii: "-") }
            b.writeBytes(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(d)[at..<20]))
        }
    }

    static func integers(_ a: [Int], into b: inout ByteBuffer) -> Bool {
        b.reserveCapacity(minimumWritableBytes: a.count * 7 + 2)
        return list(a, into: &b) { v, b in integer(v, into: &b); return true }
    }

    /// A finite double as Swift's shortest round-trip decimal (`1.0`, `0.1`, `1e-05`: all JSON
    /// numbers); `shortest` overrides the text (a Float's own shortest form).
    static func double(_ d: Double, into b: inout ByteBuffer, shortest: String? = nil) -> Bool {
        guard d.isFinite else { return false }
        b.writeString(shortest ?? d.description)
        return true
    }

    static func number(_ n: NSNumber, into b: inout ByteBuffer) -> Bool {
        if type(of: n) == booleanClass {
            b.writeStaticString(n.boolValue ? "true" : "false")
            return true
        }
        switch String(cString: n.objCType) {
        case "c", "s", "i", "l", "q", "C", "S", "I": integer(n.intValue, into: &b); return true
        case "L", "Q": b.writeString(String(n.uint64Value)); return true
        case "f": return double(n.doubleValue, into: &b, shortest: n.floatValue.description)
        default: return double(n.doubleValue, into: &b)
        }
    }
}
