import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraDistributed

/// `tessera attention --distributed`: ring attention, each rank holding a slice of the sequence
/// (--layout), K/V blocks passed around the ring and partial results merged by their LSE; rank
/// 0 writes the same output file as `tessera attention`. --check: single-process attention and
/// the per-block reference (bitwise) on every rank, one JSON line from rank 0.
struct AttentionRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Ring attention with the sequence split over the ranks.")

    @OptionGroup var options: AttentionOptions

    // tests: a throw between posting the ring's transfers and waiting for them
    @Option(help: .hidden) var injectFaultStep: Int?
    @Option(help: .hidden) var injectFaultRank: Int?

    func validate() throws { try options.validate(distributedRun: true) }

    func run() throws {
        let o = options
        let faultStep = injectFaultStep, faultRank = injectFaultRank
        MPIJob.run("attention") { world in
            if let step = faultStep, faultRank.map({ $0 == world.rank }) ?? true {
                RingAttention.injectedFault = { (s: Int) throws(TesseraError) in
                    if s == step { throw .invalidState("injected fault at ring step \(s) on rank \(world.rank)") }
                }
            }
            let (q, k, v) = try o.inputs()
            let layout = SequenceLayout(rawValue: o.layout ?? "contiguous") ?? .contiguous
            func mine(_ t: Tensor<Float>) throws -> Tensor<Float> { try RingAttention.local(t, ranks: world.size, rank: world.rank, layout: layout) }
            let ring = RingAttention(communicator: world, causal: o.causal, layout: layout)
            let (lq, lk, lv) = (try mine(q), try mine(k), try mine(v))
            try world.barrier()
            let t0 = MPI.wallTime()
            let local = try ring.forward(query: lq, key: lk, value: lv)
            let seconds = try world.allreduce(MPI.wallTime() - t0, op: .max)
            let full = try ring.allgatherSequence(local.output)
            var bitwise = true
            if o.flags.check {
                let ref = try ring.reference(query: q, key: k, value: v, ranks: world.size, rank: world.rank)
                let same = local.output.toArray() == ref.output.toArray() && local.lse.toArray() == ref.lse.toArray()
                bitwise = try world.allreduce(same ? 0 : 1, op: .max) == 0
            }
            let fullLSE = o.flags.check ? try ring.allgatherSequence(local.lse) : nil
            guard world.rank == 0 else { return }
            try AttentionOutput.write(full, options: o, seconds: seconds, ranOn: ranksDescription(world, "\(layout.rawValue) layout"))
            if o.flags.check, let fullLSE {
                let single = try Attention(mask: o.causal ? .causal : .none).forward(query: q, key: k, value: v)
                CheckLine.emit(world, ["check": "attention", "shape": "\(o.batch)x\(o.heads)x\(o.seq)x\(o.dim)", "causal": o.causal,
                                       "layout": layout.rawValue,
                                       "max_diff_vs_single": maxAbsDiff(full.toArray(), single.output.toArray()),
                                       "lse_max_diff_vs_single": maxAbsDiff(fullLSE.toArray(), single.lse.toArray()),
                                       "bitwise_vs_blockwise_single": bitwise, "fingerprint": fingerprint(full.toArray()),
                                       "seconds": seconds])
            }
        }
    }
}
