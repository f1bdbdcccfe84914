import Foundation

/// Typed reading of a JSON request object: every wrong type or range names its field (400).
/// Fields the server does not know are ignored, as OpenAI does.
struct RequestFields {
    let object: [String: Any]

    func has(_ key: String) -> Bool {
        guard let v = object[key] else { return false }
        return !(v is NSNull)
    }

    private static func isBool(_ v: Any) -> Bool {
        if v is Bool, let n = v as? NSNumber { return String(cString: n.objCType) == "c" || type(of: v) == Bool.self }
        return false
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard has(key) else { return nil }
        guard let s = object[key] as? String else { throw .field(key, "must be a string") }
        return s
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard has(key) else { return nil }
        guard let v = object[key], RequestFields.isBool(v), let b = v as? Bool else { throw .field(key, "must be true or false") }
        return b
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(APIError) -> Int? {
        guard has(key) else { return nil }
        let v = object[key]!
        guard !RequestFields.isBool(v), let n = v as? NSNumber else { throw .field(key, "must be an integer") }
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), d >= -9.2e18, d <= 9.2e18 else { throw .field(key, "must be an integer") }
        let i = n.int64Value
        guard i >= Int64(range.lowerBound), i <= Int64(range.upperBound) else {
            throw .field(key, "\(i) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(i)
    }

    /// An integer of any size (a seed): negative values and values above 2^63 wrap to 64 bits.
    func seed(_ key: String) throws(APIError) -> UInt64? {
        guard has(key) else { return nil }
        let v = object[key]!
        guard !RequestFields.isBool(v), let n = v as? NSNumber, n.doubleValue == n.doubleValue.rounded() else {
            throw .field(key, "must be an integer")
        }
        if n.doubleValue < 0 { return UInt64(bitPattern: n.int64Value) }
        return n.uint64Value
    }

    func number(_ key: String, _ check: (Double) -> Bool, _ rule: String) throws(APIError) -> Double? {
        guard has(key) else { return nil }
        let v = object[key]!
        guard !RequestFields.isBool(v), let n = v as? NSNumber, n.doubleValue.isFinite else { throw .field(key, "must be a number") }
        guard check(n.doubleValue) else { throw .field(key, "\(n.doubleValue) \(rule)") }
        return n.doubleValue
    }

    /// `stop`: a string or an array of strings.
    func stops(_ key: String) throws(APIError) -> [String] {
        guard has(key) else { return [] }
        if let s = object[key] as? String { return [s] }
        guard let a = object[key] as? [Any], a.count <= 16 else { throw .field(key, "must be a string or an array of at most 16 strings") }
        var out: [String] = []
        for e in a {
            guard let s = e as? String else { throw .field(key, "must be a string or an array of strings") }
            out.append(s)
        }
        return out
    }

    func object(_ key: String) throws(APIError) -> RequestFields? {
        guard has(key) else { return nil }
        guard let o = object[key] as? [String: Any] else { throw .field(key, "must be an object") }
        return RequestFields(object: o)
    }
}
