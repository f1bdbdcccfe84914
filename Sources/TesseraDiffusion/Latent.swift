/// A single image or latent: `channels × height × width` Float values, channel-major
/// (`data[(c * height + y) * width + x]`), the layout of one item of a PyTorch NCHW batch.
public struct Latent: Sendable, Equatable {
    /// Number of channels.
    public let channels: Int
    /// Height in pixels.
    public let height: Int
    /// Width in pixels.
    public let width: Int
    /// The values, channel-major (`(c · height + y) · width + x`).
    public var data: [Float]

    /// A latent filled with `value`. Throws for non-positive or overflowing sizes.
    public init(channels: Int, height: Int, width: Int, repeating value: Float = 0) throws(TesseraError) {
        guard channels > 0, height > 0, width > 0 else {
            throw .invalidArgument("Latent: channels, height and width must be positive (got \(channels)x\(height)x\(width))")
        }
        let (hw, o1) = height.multipliedReportingOverflow(by: width)
        let (n, o2) = hw.multipliedReportingOverflow(by: channels)
        guard !o1, !o2, n <= 1 << 34 else { throw .outOfRange("Latent: \(channels)x\(height)x\(width) is too large") }
        self.channels = channels; self.height = height; self.width = width
        self.data = [Float](repeating: value, count: n)
    }

    /// A latent over existing values; `data.count` must equal `channels * height * width`.
    public init(channels: Int, height: Int, width: Int, data: [Float]) throws(TesseraError) {
        try self.init(channels: channels, height: height, width: width)
        guard data.count == self.data.count else {
            throw .invalidArgument("Latent: data has \(data.count) values, shape \(channels)x\(height)x\(width) needs \(self.data.count)")
        }
        self.data = data
    }

    /// Internal unchecked init for shapes already validated.
    init(uncheckedChannels c: Int, height h: Int, width w: Int, data: [Float]) {
        channels = c; height = h; width = w; self.data = data
    }

    /// Number of values (channels · height · width).
    public var count: Int { data.count }
    /// The shape as "CxHxW".
    public var shapeDescription: String { "\(channels)x\(height)x\(width)" }

    /// The value of channel c at row y, column x.
    public subscript(c: Int, y: Int, x: Int) -> Float {
        get { data[(c * height + y) * width + x] }
        set { data[(c * height + y) * width + x] = newValue }
    }

    /// Standard-normal latent from a seeded generator (reproducible across runs and machines).
    public static func gaussian(channels: Int, height: Int, width: Int, seed: UInt64) throws(TesseraError) -> Latent {
        var l = try Latent(channels: channels, height: height, width: width)
        var rng = GaussianRNG(seed: seed)
        rng.fill(&l.data)
        return l
    }
}

/// Seeded standard-normal generator: SplitMix64 bits, Box–Muller pairs, computed in Double.
/// The stream depends only on the seed, so samples are reproducible on any machine.
public struct GaussianRNG: Sendable {
    private var state: UInt64
    private var spare: Double? = nil

    /// The seed is scrambled through the SplitMix64 finaliser: a plain `seed·γ` start would make the
    /// stream of seed s+1 the stream of seed s shifted by one draw (consecutive seeds → the same noise
    /// shifted by a pixel, i.e. strongly correlated samples).
    public init(seed: UInt64) {
        var z = seed &+ 0x6A09_E667_F3BC_C909
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        state = z ^ (z >> 31)
    }

    @inline(__always) private mutating func nextBits() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    @inline(__always) public mutating func uniform() -> Double {
        (Double(nextBits() >> 11) + 0.5) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// The next standard normal value (Box–Muller, the second value of each pair kept for the next call).
    public mutating func next() -> Double {
        if let s = spare { spare = nil; return s }
        let u1 = uniform(), u2 = uniform()
        let r = (-2.0 * _log(u1)).squareRoot()
        let th = 2.0 * Double.pi * u2
        spare = r * _sin(th)
        return r * _cos(th)
    }

    /// Fills `a` with standard normal values.
    public mutating func fill(_ a: inout [Float]) {
        for i in a.indices { a[i] = Float(next()) }
    }
}

import Foundation
@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _sin(_ x: Double) -> Double { Foundation.sin(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }
