import Foundation

/// One 3×3 convolution layer on random data, for measuring the convolution rate (benchmarks).
public final class DiffusionKernelProbe: @unchecked Sendable {
    let input: Activation, output: Activation
    let weight: [Float], bias: [Float]
    let cout: Int
    let scratch = (0..<256).map { _ in Scratch() }   // one per worker; empty until used

    /// A `cin → cout` 3×3 convolution on a random `height × width` input. Errors: `.invalidArgument` for a size ≤ 0.
    public init(cin: Int, cout: Int, height: Int, width: Int) throws(TesseraError) {
        guard cin > 0, cout > 0, height > 0, width > 0 else { throw .invalidArgument("probe: sizes must be positive") }
        input = Activation(c: cin, rows: height, w: width)
        output = Activation(c: cout, rows: height, w: width)
        var rng = GaussianRNG(seed: 1)
        for i in 0..<input.count { input.p[i] = Float(rng.next()) }
        var w = [Float](repeating: 0, count: cout * cin * 9); rng.fill(&w)
        weight = w; bias = [Float](repeating: 0.1, count: cout); self.cout = cout
    }

    /// Runs the convolution once on `pool`.
    public func run(pool: ThreadPool) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Kernels.conv3x3(input: input, top: nil, bottom: nil, stride: 1, weight: w.baseAddress!, bias: b.baseAddress!,
                                cout: cout, out: output, pool: pool, scratch: scratch)
            }
        }
    }
}
