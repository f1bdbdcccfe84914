import ArgumentParser
import Foundation
import Tessera

/// `tessera attention` and `tessera attention --distributed` (ring attention: the sequence is
/// split over the ranks and K/V blocks travel around the ring).
public struct AttentionOptions: ParsableArguments {
    /// Options with their defaults (ArgumentParser fills them from the command line).
    public init() {}

    /// Batch size B (>= 1).
    @Option(parsing: .unconditional, help: "Batch size.")
    public var batch = 1

    /// Query heads H (>= 1; a multiple of the key/value heads).
    @Option(parsing: .unconditional, help: "Query heads.")
    public var heads = 2

    /// Key/value heads (grouped-query attention); nil: as many as `heads` (see `kvHeadCount`).
    @Option(parsing: .unconditional, help: "Key/value heads (grouped-query attention; default: --heads).")
    public var kvHeads: Int?

    /// Sequence length (>= 1), the same for queries and keys.
    @Option(parsing: .unconditional, help: "Sequence length (queries = keys).")
    public var seq = 96

    /// Head dimension D (>= 1).
    @Option(parsing: .unconditional, help: "Head dimension.")
    public var dim = 32

    /// Causal mask: query i sees keys 0...i.
    @Flag(help: "Causal mask (query i sees keys 0...i).")
    public var causal = false

    /// Seed of the generated Q, K and V (uniform in [-1, 1), see `inputs()`).
    @Option(help: "Seed of the inputs (Q, K, V uniform in [-1, 1)).")
    public var seed: UInt64 = 7

    /// Path of the output O as float32 .npy (batch × heads × seq × dim); nil: not written.
    @Option(help: "Write the output O (float32 .npy, shape batch × heads × seq × dim) here.")
    public var out: String?

    /// Distributed runs only: "contiguous" (one block of positions per rank) or "zigzag" (chunks r
    /// and 2P−1−r, which balances causal work); nil: contiguous.
    @Option(help: "With --distributed: which sequence positions a rank holds: contiguous blocks or zigzag (chunks r and 2P−1−r: equal causal work).")
    public var layout: String?

    /// `--distributed` and `--check`.
    @OptionGroup public var flags: DistributedFlags

    /// The key/value head count in effect: `kvHeads`, or `heads` without it.
    public var kvHeadCount: Int { kvHeads ?? heads }

    /// Checks every size (>= 1) and `--layout`; `distributedRun`: tessera-mpi, where `--layout`
    /// is allowed. Throws `ValidationError` naming the offending option.
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
    /// Prints the one summary line (shape, kv heads, mask, where it ran, `seconds` of wall time)
    /// and writes `output` to `--out` as .npy when given. `ranOn` says where it ran ("one process
    /// (8 threads)", the ranks and layout).
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
