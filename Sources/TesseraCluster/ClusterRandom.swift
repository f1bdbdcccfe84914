/// The deterministic random source of TesseraCluster: xoshiro256** seeded through SplitMix64.
///
/// Every randomised method takes a `seed: UInt64`; the same seed gives the same result on
/// every machine and for every thread count (parallel parts derive their own streams with
/// `ClusterRandom(seed:stream:)`, never from the worker index).
public struct ClusterRandom: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// The generator for `seed`; different `stream`s of one seed give independent sequences.
    public init(seed: UInt64, stream: UInt64 = 0) {
        var x = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15) ^ (stream == 0 ? 0 : 0xD1B5_4A32_D192_ED03)
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&x); s1 = splitmix(&x); s2 = splitmix(&x); s3 = splitmix(&x)
    }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform integer in `0..<bound` (bound > 0), by Lemire's multiply-shift with rejection.
    @inline(__always)
    public mutating func below(_ bound: Int) -> Int {
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Uniform double in [0, 1).
    @inline(__always)
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal deviate (Box–Muller; one of the pair is dropped for simplicity).
    public mutating func normal() -> Double {
        var u = unit()
        while u <= 0 { u = unit() }
        let v = unit()
        return (-2 * _log(u)).squareRoot() * _cos(2 * Double.pi * v)
    }

    /// `count` distinct indices from `0..<n`, uniformly (partial Fisher–Yates on a sparse map).
    public mutating func sample(_ count: Int, from n: Int) -> [Int] {
        precondition(count >= 0 && count <= n)
        var swapped: [Int: Int] = [:]
        var out = [Int]()
        out.reserveCapacity(count)
        for i in 0..<count {
            let j = i + below(n - i)
            let vj = swapped[j] ?? j
            let vi = swapped[i] ?? i
            swapped[j] = vi
            out.append(vj)
        }
        return out
    }

    /// A uniformly random permutation of `0..<n`.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, below(i + 1)) }
        }
        return p
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
@inline(__always) func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#else
import Darwin
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Darwin.cos(x) }
@inline(__always) func _exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
