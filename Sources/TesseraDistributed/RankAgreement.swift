// Rank agreement: the check every distributed entry point makes before its first transfer.
//
// An MPI program whose ranks are valid one by one but disagree (200 rows on one rank and 100
// on another, 2 columns vs 3, a different sequence length) runs to the end and prints an
// inconsistent result. `Communicator.agree` turns that into the same error on every rank: one
// allgather of a 16-byte record (count, FNV-1a digest of the values) when all agree — the
// usual case — and, only on a mismatch, a second gather to name what differs.

import Tessera

/// One value that every rank must pass equal: a shape, a parameter, or a digest of data.
public struct Agreed: Sendable {
    /// What the value is, for the error message ("rows", "k", …).
    public var name: String
    /// The value as 64 bits (integers as themselves, floats by bit pattern, strings and data by digest).
    public var value: Int64
    /// How the value reads in an error (strings and data show this instead of their digest).
    public var text: String?

    /// An integer.
    public init(_ name: String, _ value: Int) { self.name = name; self.value = Int64(value) }
    /// A 64-bit integer.
    public init(_ name: String, _ value: Int64) { self.name = name; self.value = value }
    /// A flag.
    public init(_ name: String, _ value: Bool) { self.name = name; self.value = value ? 1 : 0 }
    /// Compared bit for bit (so NaN agrees with the same NaN, and -0 differs from +0).
    public init(_ name: String, _ value: Double) { self.name = name; self.value = Int64(bitPattern: value.bitPattern) }
    /// Compared bit for bit (so NaN agrees with the same NaN, and -0 differs from +0).
    public init(_ name: String, _ value: Float) { self.name = name; self.value = Int64(value.bitPattern) }
    /// A string, compared by digest and shown as itself.
    public init(_ name: String, _ value: String) {
        self.name = name; self.value = Int64(bitPattern: Digest.of(Array(value.utf8))); text = value
    }
    /// A digest of `values`' bytes (data that every rank must hold the same copy of).
    public init<T>(_ name: String, digestOf values: [T]) {
        self.name = name
        self.value = values.withUnsafeBytes { Int64(bitPattern: Digest.of($0)) }
        text = "\(values.count) values, digest \(String(UInt64(bitPattern: value), radix: 16))"
    }
}

/// FNV-1a, 64 bits: a fingerprint, not a cryptographic hash.
public enum Digest {
    /// The FNV-1a digest of `bytes`.
    public static func of(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
    /// The FNV-1a digest of `bytes`.
    public static func of(_ bytes: [UInt8]) -> UInt64 { bytes.withUnsafeBytes { of($0) } }
}

extension Communicator {
    /// Checks, collectively, that every rank passes the same `values` (same names, same
    /// order). Throws `.invalidArgument` on every rank otherwise, naming `what`, the first
    /// value that differs and each rank's value of it — before any rank has sent data.
    public func agree(_ what: String, _ values: [Agreed]) throws(TesseraError) {
        var record = values.map(\.value)
        record.append(contentsOf: values.map { Int64(bitPattern: Digest.of(Array($0.name.utf8))) })
        let digest = record.withUnsafeBytes { Int64(bitPattern: Digest.of($0)) }
        let all = try allgather([Int64(values.count), digest])
        if (0..<size).allSatisfy({ all[2 * $0] == all[0] && all[2 * $0 + 1] == all[1] }) { return }
        // a mismatch: every rank saw it, so every rank makes this second collective
        let (vals, counts) = try allgatherVariable(values.map(\.value))
        let offsets = counts.indices.map { counts[0..<$0].reduce(0, +) }
        guard counts.allSatisfy({ $0 == values.count }) else {
            throw .invalidArgument("\(what): ranks pass different numbers of parameters (\(counts)); every rank must make the same call")
        }
        for (i, v) in values.enumerated() {
            let perRank = (0..<size).map { vals[offsets[$0] + i] }
            guard perRank.contains(where: { $0 != perRank[0] }) else { continue }
            // every rank found the same index: one more collective, for the readable values
            let shown: [String]
            if v.text != nil {
                let (bytes, lens) = try allgatherVariable(Array((v.text ?? "").utf8))
                var at = 0
                shown = lens.map { n in defer { at += n }; return "'" + String(decoding: bytes[at..<(at + n)], as: UTF8.self) + "'" }
            } else {
                shown = perRank.map { "\($0)" }
            }
            let list = shown.enumerated().map { "rank \($0.offset): \($0.element)" }.joined(separator: ", ")
            throw .invalidArgument("\(what): ranks disagree on \(v.name) (\(list)); every rank must pass the same value")
        }
        throw .invalidArgument("\(what): ranks disagree on the names of the parameters checked; every rank must make the same call")
    }
}
