import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraDistributed

/// Worker of `tessera bench distributed`: ring attention time on P ranks (the bench runs the
/// single-process attention itself); causal: contiguous blocks and the zig-zag layout
/// interleaved in the same run. One JSON line per layout from rank 0.
struct BenchAttentionRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-attention", abstract: "Bench worker: ring attention time.")

    @Option(parsing: .unconditional, help: "Heads.") var heads = 4
    @Option(parsing: .unconditional, help: "Sequence length.") var seq = 2048
    @Option(parsing: .unconditional, help: "Head dimension.") var dim = 64
    @Flag(help: "Causal mask.") var causal = false
    @Option(parsing: .unconditional, help: "Timed repeats.") var repeats = 5
    @Option(parsing: .unconditional, help: "Threads per rank.") var threads = 1

    func validate() throws {
        guard heads >= 1, seq >= 1, dim >= 1, repeats >= 1, threads >= 1 else { throw ValidationError("sizes, --repeats and --threads must be >= 1") }
    }

    func run() throws {
        MPIJob.run("bench-attention") { world in
            var rng = SplitMix(seed: 3)
            func tensor(_ shape: [Int]) throws -> Tensor<Float> {
                try Tensor(shape: shape, elements: (0..<shape.reduce(1, *)).map { _ in Float(rng.next() * 2 - 1) })
            }
            let q = try tensor([1, heads, seq, dim]), k = try tensor([1, heads, seq, dim]), v = try tensor([1, heads, seq, dim])
            let pool = try ThreadPool(threads: threads)
            let layouts: [SequenceLayout] = causal ? [.contiguous, .zigzag] : [.contiguous]
            var inputs: [(Tensor<Float>, Tensor<Float>, Tensor<Float>)] = []
            for l in layouts {
                func mine(_ t: Tensor<Float>) throws -> Tensor<Float> { try RingAttention.local(t, ranks: world.size, rank: world.rank, layout: l) }
                inputs.append((try mine(q), try mine(k), try mine(v)))
                _ = try RingAttention(communicator: world, causal: causal, layout: l, pool: pool)
                    .forward(query: inputs.last!.0, key: inputs.last!.1, value: inputs.last!.2)
            }
            var samples = [[Double]](repeating: [], count: layouts.count), busy = [[Double]](repeating: [], count: layouts.count)
            for _ in 0..<repeats {
                for (i, l) in layouts.enumerated() {
                    try world.barrier()
                    let t0 = MPI.wallTime()
                    _ = try RingAttention(communicator: world, causal: causal, layout: l, pool: pool)
                        .forward(query: inputs[i].0, key: inputs[i].1, value: inputs[i].2)
                    let mineT = MPI.wallTime() - t0
                    samples[i].append(try world.allreduce(mineT, op: .max))
                    busy[i].append(try world.allreduce(mineT, op: .min))
                }
            }
            for (i, l) in layouts.enumerated() {
                let st = stats(samples[i])
                CheckLine.emit(world, ["case": "ring attention", "seq": seq, "heads": heads, "dim": dim, "causal": causal, "layout": l.rawValue,
                                       "seconds": st.median, "min": st.min, "max": st.max, "fastest_rank_seconds": stats(busy[i]).median])
            }
        }
    }
}
