import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore

/// `tessera attention`: FlashAttention-2 on seeded random inputs; with --distributed, ring
/// attention with the sequence split over MPI ranks (same inputs, same output file).
struct AttentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Attention on seeded random Q, K, V: FlashAttention-2 in one process, or ring attention on MPI ranks (--distributed).",
        discussion: """
        Q, K and V are uniform in [-1, 1) from --seed, so a run can be repeated and compared: \
        --out writes the output O as a float32 .npy (batch × heads × seq × dim). With \
        --distributed every rank holds a slice of the sequence (--layout contiguous or zigzag) \
        and K/V blocks travel around the ring; the output file is the same up to rounding.
        """)

    @OptionGroup var options: AttentionOptions

    func validate() throws { try options.validate(distributedRun: false) }

    func run() throws {
        let o = options
        let (q, k, v) = try o.inputs()
        let t0 = Date()
        let r = try Attention(mask: o.causal ? .causal : .none).forward(query: q, key: k, value: v)
        try AttentionOutput.write(r.output, options: o, seconds: Date().timeIntervalSince(t0), ranOn: "one process (\(countedNoun(ThreadPool.shared.threadCount, "thread")))")
    }
}
