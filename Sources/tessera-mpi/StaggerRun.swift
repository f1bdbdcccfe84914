import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraDistributed
import TesseraPDE

/// `tessera-mpi pde stagger`: a learned NeuralStagger rollout with one group of sub-task networks
/// per rank (`DistributedStagger`): the model from `--model` (a `tessera pde stagger-train`
/// directory) or, without it, a freshly initialised seeded heat model (base none, so its networks
/// are not zero: a check of the machinery, not a trained solver). Rank 0 writes the final field
/// (`--out`) and one summary; --check also runs the single-process rollout on rank 0 and prints
/// one JSON line comparing the two (bitwise expected). Both timings follow one untimed warm-up step.
struct StaggerRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagger",
        abstract: "Learned NeuralStagger rollout, one group of sub-task networks per rank.")

    @Option(help: "Model directory (config.json + model.safetensors); default: a fresh seeded heat model.") var model: String?
    @Option(parsing: .unconditional, help: "Without --model: fine grid points per axis.") var n = 32
    @Option(parsing: .unconditional, help: "Without --model: stagger factor s (s² sub-tasks).") var factor = 2
    @Option(parsing: .unconditional, help: "Without --model: hidden channels.") var width = 4
    @Option(parsing: .unconditional, help: "Without --model: temporal sub-steps per network call.") var temporal = 2
    @Option(parsing: .unconditional, help: "Without --model: seed of the weights.") var seed: UInt64 = 1
    @Option(parsing: .unconditional, help: "Learned steps.") var steps = 5
    @Option(parsing: .unconditional, help: "Seed of the initial smooth field (wavenumbers up to n/8).") var fieldSeed: UInt64 = 7
    @Option(help: "Output directory (rank 0 writes stagger_final.npy).") var out: String?
    @Flag(help: "Also run the single-process rollout on rank 0 and print one JSON line comparing the two.") var check = false
    @Option(parsing: .unconditional, help: "Threads per rank (default: TESSERA_NUM_THREADS or one per core).") var threads: Int?

    func validate() throws {
        guard steps >= 0, n >= 4, factor >= 1, width >= 1, temporal >= 1, (threads ?? 1) >= 1 else {
            throw ValidationError("need --steps ≥ 0, --n ≥ 4, --factor ≥ 1, --width ≥ 1, --temporal ≥ 1, --threads ≥ 1")
        }
    }

    func run() throws {
        MPIJob.run("pde stagger", inputFiles: model.map { ["\($0)/config.json", "\($0)/model.safetensors"] } ?? []) { world in
            let m: LearnedStagger<Float>
            if let dir = model {
                m = try LearnedStagger<Float>(contentsOf: dir)
            } else {
                let h = 2 * Double.pi / Double(n)
                var cfg = LearnedStaggerConfig(n: n, factor: factor, dt: 0.5 * h * h)
                cfg.sharing = .equivariant; cfg.width = width; cfg.blocks = 1; cfg.activation = .identity
                cfg.biases = false; cfg.temporal = temporal
                m = try LearnedStagger<Float>(config: cfg, seed: seed)
            }
            let cfg = m.config
            let grid = try cfg.grid()
            let u0 = try Field<Double>(grid: grid, values: randomSmoothField(n: cfg.n, maxWavenumber: max(1, cfg.n / 8), seed: fieldSeed))
            let dist = try DistributedStagger(model: m, communicator: world)
            let pool = try threads.map { try ThreadPool(threads: $0) } ?? .shared
            _ = try dist.rollout(u0, steps: 1, pool: pool)   // warm-up: first-touch of buffers, BLAS start
            try world.barrier()
            let t0 = MPI.wallTime()
            let u = try dist.rollout(u0, steps: steps, pool: pool)
            let seconds = try world.allreduce(MPI.wallTime() - t0, op: .max)
            guard world.rank == 0 else { return }
            if let out {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                try u.save(npy: "\(out)/stagger_final.npy")
            }
            let groups = dist.groups.map { "\($0.first.map(String.init) ?? "-")…\($0.last.map(String.init) ?? "-")" }.joined(separator: " ")
            standardError(String(format: "pde stagger: %@ %d² s=%d, %d steps of %.4g on %@ (sub-task groups %@): %.3f s",
                                 cfg.equation, cfg.n, cfg.factor, steps, cfg.learnedStep, ranksDescription(world), groups, seconds))
            if check {
                _ = try m.rollout(u0, steps: 1, pool: pool)   // the same warm-up
                let t1 = MPI.wallTime()
                let ref = try m.rollout(u0, steps: steps, pool: pool)
                let single = MPI.wallTime() - t1
                CheckLine.emit(world, ["check": "stagger", "n": cfg.n, "factor": cfg.factor, "steps": steps,
                                       "groups": dist.groups.map(\.count),
                                       "bitwise_vs_single": u.toArray() == ref.toArray(),
                                       "max_diff_vs_single": maxAbsDiff(u.toArray(), ref.toArray()),
                                       "fingerprint": fingerprint(u.toArray()), "seconds": seconds, "single_seconds": single])
            }
        }
    }
}
