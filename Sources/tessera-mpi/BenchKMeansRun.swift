import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraCluster
import TesseraDistributed

/// Worker of `tessera bench distributed`: distributed k-means time (fixed iterations) on P
/// ranks, synthetic blobs. One JSON line from rank 0.
struct BenchKMeansRun: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-kmeans", abstract: "Bench worker: distributed k-means time.")

    @Option(name: .customLong("n"), parsing: .unconditional, help: "Points.") var points = 200_000
    @Option(name: .customLong("d"), parsing: .unconditional, help: "Dimensions.") var dimensions = 16
    @Option(parsing: .unconditional, help: "Clusters.") var k = 16
    @Option(parsing: .unconditional, help: "Lloyd iterations (no early stop).") var iterations = 10
    @Option(parsing: .unconditional, help: "Timed repeats.") var repeats = 3
    @Option(parsing: .unconditional, help: "Threads per rank.") var threads = 1

    func validate() throws {
        guard points >= 1, dimensions >= 1, k >= 1, k * 7 < points, iterations >= 1, repeats >= 1, threads >= 1 else {
            throw ValidationError("need positive sizes and 7k < n")
        }
    }

    func run() throws {
        MPIJob.run("bench-kmeans") { world in
            let (n, d) = (points, dimensions)
            let all = ClusterData.blobs(n: n, d: d, k: k)
            let part = DistributedKMeans.partition(rows: n, ranks: world.size)[world.rank]
            let local = try Matrix(rows: part.count, cols: d, elements: Array(all[(part.lowerBound * d)..<(part.upperBound * d)]))
            let initial = (0..<k).map { c in Array(all[((c * 7) * d)..<((c * 7 + 1) * d)]) }
            let pool = try ThreadPool(threads: threads)
            var samples: [Double] = []
            for _ in 0..<repeats {
                try world.barrier()
                let t0 = MPI.wallTime()
                _ = try DistributedKMeans.fit(local, k: k, communicator: world, initialization: .centers(initial),
                                              maxIterations: iterations, tolerance: 0, pool: pool)
                samples.append(try world.allreduce(MPI.wallTime() - t0, op: .max))
            }
            let st = stats(samples)
            CheckLine.emit(world, ["case": "kmeans", "n": n, "d": d, "k": k, "iterations": iterations, "seconds": st.median, "min": st.min, "max": st.max])
        }
    }
}
