import ArgumentParser
import Foundation
import Tessera

/// `tessera attention` and `tessera attention --distributed` (ring attention: the sequence is
/// split over the ranks and K/V blocks travel around the ring).
public struct AttentionOptions: ParsableArguments {
    public init() {}

    @Option(parsing: .unconditional, help: "Batch size.")
    public var batch = 1

    @Option(parsing: .unconditional, help: "Query heads.")
    public var heads = 2

    @Option(parsing: .unconditional, help: "Key/value heads (grouped-query attention; default: --heads).")
    public var kvHeads: Int?

    @Option(parsing: .unconditional, help: "Sequence length (queries = keys).")
    public var seq = 96

    @Option(parsing: .unconditional, help: "Head dimension.")
    public var dim = 32

    @Flag(help: "Causal mask (query i sees keys 0...i).")
    public var causal = false

    @Option(help: "Seed of the inputs (Q, K, V uniform in [-1, 1)).")
    public var seed: UInt64 = 7

    @Option(help: "Write the output O (float32 .npy, shape batch × heads × seq × dim) here.")
    public var out: String?

    @Option(help: "With --distributed: which sequence positions a rank holds: contiguous blocks or zigzag (chunks r and 2P−1−r: equal causal work).")
    public var layout: String?

    @OptionGroup public var flags: DistributedFlags

    public var kvHeadCount: Int { kvHeads ?? heads }

    public func validate(distributedRun: Bool) throws {
        for (name, v) in [("--batch", batch), ("--heads", heads), ("--kv-heads", kvHeadCount), ("--seq", seq), ("--dim", dim)] {
            guard v >= 1 else { throw ValidationError("\(name) must be >= 1 (got \(v))") }
        }
        // --heads a multiple of --kv-heads: checked by the attention kernels themselves (cheap, before any work)
        if let layout {
            try refuse(!distributedRun, "--layout applies to --distributed runs only")
            guard ["contiguous", "zigzag"].contains(layout) else { throw ValidationError("--layout must be contiguous or zigzag (got '\(layout)')") }
        }
        try flags.validate(distributedRun: distributedRun)
    }

    /// Q (batch × heads × seq × dim), K and V (batch × kv-heads × seq × dim), the same on every rank.
    public func inputs() throws -> (query: Tensor<Float>, key: Tensor<Float>, value: Tensor<Float>) {
        var rng = SplitMix(seed: seed)
        func tensor(_ shape: [Int]) throws -> Tensor<Float> {
            try Tensor(shape: shape, elements: (0..<shape.reduce(1, *)).map { _ in Float(rng.next() * 2 - 1) })
        }
        let q = try tensor([batch, heads, seq, dim])
        let k = try tensor([batch, kvHeadCount, seq, dim])
        let v = try tensor([batch, kvHeadCount, seq, dim])
        return (q, k, v)
    }
}

/// What `tessera attention` writes, single-process or distributed.
public enum AttentionOutput {
    public static func write(_ output: Tensor<Float>, options o: AttentionOptions, seconds: Double, ranOn: String) throws {
        let shape = "\(o.batch)x\(o.heads)x\(o.seq)x\(o.dim)"
        var line = String(format: "attention %@ (kv heads %d)%@ on %@: %.4f s", shape, o.kvHeadCount, o.causal ? " causal" : "", ranOn, seconds)
        if let out = o.out {
            try NPYArray(shape: output.shape, elements: output.toArray()).write(to: out)
            line += "; wrote \(out)"
        }
        print(line)
    }
}
