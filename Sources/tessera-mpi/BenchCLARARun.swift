import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraCluster
import TesseraDistributed

/// Worker of `tessera bench distributed`: distributed CLARA time (samples on ranks), synthetic
/// blobs. One JSON line from rank 0.
struct BenchCLARARun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-clara", abstract: "Bench worker: distributed CLARA time.")

    @Option(name: .customLong("n"), parsing: .unconditional, help: "Points.") var points = 20_000
    @Option(name: .customLong("d"), parsing: .unconditional, help: "Dimensions.") var dimensions = 8
    @Option(parsing: .unconditional, help: "Clusters.") var k = 8
    @Option(parsing: .unconditional, help: "CLARA samples.") var samples = 8
    @Option(parsing: .unconditional, help: "Seed.") var seed: UInt64 = 0
    @Option(parsing: .unconditional, help: "Threads per rank.") var threads = 1

    func validate() throws {
        guard points >= 1, dimensions >= 1, k >= 1, samples >= 1, threads >= 1 else { throw ValidationError("sizes, --samples and --threads must be >= 1") }
    }

    func run() throws {
        MPIJob.run("bench-clara") { world in
            let x = try Matrix(rows: points, cols: dimensions, elements: ClusterData.blobs(n: points, d: dimensions, k: k))
            let source = try DataDissimilarity(x, metric: .euclidean)
            let o = SampledKMedoids.CLARAOptions(samples: samples, fast: false, seed: seed, pool: try ThreadPool(threads: threads))
            try world.barrier()
            let t0 = MPI.wallTime()
            let r = try DistributedCLARA.fit(source, k: k, options: o, communicator: world)
            let seconds = try world.allreduce(MPI.wallTime() - t0, op: .max)
            CheckLine.emit(world, ["case": "clara", "n": points, "d": dimensions, "k": k, "samples": samples, "loss": r.loss, "seconds": seconds])
        }
    }
}
