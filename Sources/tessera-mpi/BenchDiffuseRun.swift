import ArgumentParser
import Foundation
import Tessera
import TesseraDiffusion
import TesseraDistributed

/// Worker of `tessera bench distributed`: denoiser calls of a random U-Net with its row patches
/// on the ranks (patch p on rank p, MPIPatchExchange), each call's output all-gathered, against
/// the single-process patch-parallel result of the same mode (all patches in one process) on
/// rank 0: times, bytes, and whether the outputs are bitwise equal. One JSON line from rank 0.
struct BenchDiffuseRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-diffuse", abstract: "Bench worker: U-Net patch calls on ranks vs one process.")

    @Option(parsing: .unconditional, help: "Image side.") var size = 32
    @Option(parsing: .unconditional, help: "Denoiser calls.") var calls = 5
    @Option(help: "Patch mode: sync | distrifusion | pcpp[:portion].") var mode = "distrifusion"
    @Option(parsing: .unconditional, help: "Synchronous warm-up calls.") var warmup = 1
    @Option(help: "small or medium random U-Net.") var randomUnet = "small"
    @Option(parsing: .unconditional, help: "Weight seed.") var seed: UInt64 = 4
    @Option(parsing: .unconditional, help: "Threads per rank.") var threads = 1

    func validate() throws {
        guard size >= 1, calls >= 1, warmup >= 0, threads >= 1, ["small", "medium"].contains(randomUnet) else {
            throw ValidationError("need --size, --calls, --threads >= 1, --warmup >= 0, --random-unet small|medium")
        }
    }

    func run() throws {
        // the patch exchange is entered from pool threads (under its own lock)
        MPIJob.run("bench-diffuse", threadLevel: .serialized) { world in try bench(world) }
    }

    private func bench(_ world: Communicator) throws {
        let P = world.size, size = size, calls = calls
        let patchMode = try PatchMode(parsing: mode, warmup: warmup)
        let cfg = randomUnet == "medium"
            ? UNetConfig.small(channels: [32, 64], attentionLevels: [1], layersPerBlock: 1, groups: 8, headDim: 16)
            : UNetConfig.small(channels: [16, 32], attentionLevels: [1], layersPerBlock: 1, groups: 4, headDim: 8)
        let model = try UNetModel(config: cfg, seed: seed)
        let x = try Latent.gaussian(channels: cfg.inChannels, height: size, width: size, seed: 5)
        let timesteps = (0..<calls).map { 900 - 100 * $0 }
        let exchange = try MPIPatchExchange(communicator: world)
        let pool = try ThreadPool(threads: threads)
        let d = try PatchParallelDenoiser(base: model, patches: P, mode: patchMode, pool: pool, exchange: { _ in exchange })
        d.localPatch = world.rank
        d.beginSampling()
        try world.barrier()
        let t0 = MPI.wallTime()
        var outs: [Latent] = []
        for t in timesteps { outs.append(try d.predict(x, timestep: t, classLabel: nil)) }
        let seconds = try world.allreduce(MPI.wallTime() - t0, op: .max)
        let bytes = try world.allreduce(Int64(d.callBytes.reduce(0) { $0 + $1.bytes }), op: .sum)
        exchange.drain()
        // every rank returns the full output: all ranks must agree
        let mine = outs.flatMap(\.data)
        let fp = Array(fingerprint(mine).utf8)
        let rootFP: [UInt8] = try world.broadcast(world.rank == 0 ? fp : nil, root: 0)
        let agree = try world.allreduce(rootFP == fp ? 0 : 1, op: .max) == 0
        if world.rank == 0 {
            let all = try PatchParallelDenoiser(base: model, patches: P, mode: patchMode, pool: pool)
            all.beginSampling()
            let t1 = MPI.wallTime()
            var ref: [Latent] = []
            for t in timesteps { ref.append(try all.predict(x, timestep: t, classLabel: nil)) }
            let singleSeconds = MPI.wallTime() - t1
            let refData = ref.flatMap(\.data)
            var rel = 0.0
            for c in 0..<calls { rel = max(rel, try DiffusionMetrics.relativeError(outs[c], ref[c])) }
            let refBytes = all.callBytes.reduce(0) { $0 + $1.bytes }
            CheckLine.emit(world, ["check": "diffuse", "mode": patchMode.description, "size": size, "calls": calls, "patches": P,
                         "bitwise_vs_single": mine == refData, "max_rel_error_vs_single": rel, "ranks_agree": agree,
                         "bytes": Int(bytes), "single_process_bytes": refBytes, "seconds": seconds,
                         "single_process_seconds": singleSeconds, "wait_seconds_rank0": exchange.waitSeconds,
                         "fingerprint": fingerprint(mine)])
        }
    }
}
