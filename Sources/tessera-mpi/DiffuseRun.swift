import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraDiffusion
import TesseraDistributed

/// `tessera diffuse --distributed`: the U-Net's row patches on the ranks (patch p on rank p) under
/// the patch mode, halos / GroupNorm statistics / K-V moving through MPIPatchExchange
/// (nonblocking, overlapped with compute), each denoiser call's output all-gathered so every rank
/// steps the sampler identically; rank 0 writes the same PNG and figures as `tessera diffuse`.
/// --check: the same patches in one process on rank 0 (bitwise), one JSON line.
struct DiffuseRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diffuse",
        abstract: "Diffusion sampling with one U-Net row patch per rank (sync, distrifusion, pcpp).")

    @OptionGroup var options: DiffuseOptions

    func validate() throws { try options.validate(distributedRun: true) }

    func run() throws {
        let o = options
        // the patch exchange is entered from pool threads (under its own lock)
        MPIJob.run("diffuse", threadLevel: .serialized, inputFiles: o.model.map { ["\($0)/config.json"] } ?? []) { world in
            let P = world.size
            if let p = o.patches, p != P {
                throw ValidationError("--patches \(p) with \(P) ranks: --distributed computes one patch per rank (leave --patches out, or start \(p) ranks)")
            }
            let setup = try DiffuseSetup(o)
            let exchange = try MPIPatchExchange(communicator: world)
            let d = try PatchParallelDenoiser(base: setup.base, patches: P, mode: setup.mode, exchange: { _ in exchange })
            d.localPatch = world.rank
            d.unetSchedule = setup.schedule
            try world.barrier()
            let t0 = MPI.wallTime()
            let (mine, _) = try setup.run(d, o, label: "\(setup.mode) P=\(P) on ranks", progress: world.rank == 0)
            let seconds = try world.allreduce(MPI.wallTime() - t0, op: .max)
            // bytes of each call of the last sample, summed over the ranks (each counts its own sends)
            let perCall = try world.allreduce(d.callBytes.map { Int64($0.bytes) }, op: .sum)
            let bytes = perCall.reduce(0, +)
            exchange.drain()
            // every rank holds the full samples: all ranks must agree
            let data = mine.flatMap(\.data)
            let fp = Array(fingerprint(data).utf8)
            let rootFP: [UInt8] = try world.broadcast(world.rank == 0 ? fp : nil, root: 0)
            let agree = try world.allreduce(rootFP == fp ? 0 : 1, op: .max) == 0
            guard world.rank == 0 else { return }
            // the figures of PatchParallelDenoiser.bytesPerStep(AfterWarmup), over the ranks
            let calls = zip(perCall, d.callBytes.map(\.warmup))
            let post = calls.filter { !$0.1 }.map(\.0), all = Array(perCall)
            func mean(_ v: [Int64]) -> Double { v.isEmpty ? 0 : Double(v.reduce(0, +)) / Double(v.count) }
            try DiffuseOutput.write(mine, seconds: seconds, patches: P, ranOn: ranksDescription(world),
                                    bytesAfterWarmup: mean(post.isEmpty ? all : post), bytesAll: mean(all), setup: setup, options: o)
            if o.flags.check {
                let all = try PatchParallelDenoiser(base: setup.base, patches: P, mode: setup.mode)
                all.unetSchedule = setup.schedule
                let (ref, singleSeconds) = try setup.run(all, o, label: "one process", progress: false)
                var rel = 0.0
                for s in 0..<o.samples { rel = max(rel, try DiffusionMetrics.relativeError(mine[s], ref[s])) }
                CheckLine.emit(world, ["check": "diffuse", "mode": setup.mode.description, "size": o.size, "samples": o.samples,
                                       "steps": o.steps, "patches": P, "bitwise_vs_single": data == ref.flatMap(\.data),
                                       "max_rel_error_vs_single": rel, "ranks_agree": agree, "bytes": Int(bytes),
                                       "single_process_bytes": all.callBytes.reduce(0) { $0 + $1.bytes }, "seconds": seconds,
                                       "single_process_seconds": singleSeconds, "fingerprint": fingerprint(data)])
            }
            try DiffuseOutput.reference(mine, seconds: seconds, patches: P, setup: setup, options: o)
        }
    }
}
