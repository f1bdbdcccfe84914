import ArgumentParser
import Foundation
import Tessera
import TesseraCLICore
import TesseraCluster
import TesseraDistributed

/// `tessera cluster --distributed`: k-means (Lloyd; rows split over the ranks, centre sums
/// combined in the one-process order) and CLARA / FastCLARA (samples on ranks). Every rank reads
/// the input (the same file: checked); rank 0 writes the same labels file, plot and summary as
/// `tessera cluster`. --check: the one-process fit on rank 0 and one JSON line comparing them.
struct ClusterRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Cluster the rows of a CSV or .npy file on MPI ranks: kmeans, clara, fastclara.",
        discussion: """
        k-means starts from k rows: --init-medoids FILE, or k distinct rows drawn from --seed \
        (what `tessera cluster --initialization random` draws, so both give the same clustering). \
        CLARA draws the same samples as `tessera cluster --method clara` and gives its result.
        """)

    @OptionGroup var options: ClusterOptions

    func validate() throws { try options.validate(distributedRun: true) }

    func run() throws {
        let o = options
        MPIJob.run("cluster", inputFiles: [o.input, o.initMedoids].compactMap { $0 }) { world in
            let t0 = Date()
            let pool = try o.threads.map { try ThreadPool(threads: $0) } ?? ThreadPool.shared
            let (data, origin) = try o.loadData()
            if world.rank == 0 { standardError("read \(origin): \(data.rows) rows x \(data.cols) columns (every rank)") }
            let given = try o.initialMedoids()
            if let given, let bad = given.first(where: { $0 >= data.rows }) {
                throw ValidationError("--init-medoids: row \(bad) is outside the data's \(data.rows) rows")
            }
            if o.method.lowercased() == "kmeans" {
                if o.usesFloat { try kMeans(Float.self, world, data, given, pool, t0) } else { try kMeans(Double.self, world, data, given, pool, t0) }
            } else {
                if o.usesFloat { try clara(Float.self, world, data, pool, t0) } else { try clara(Double.self, world, data, pool, t0) }
            }
        }
    }

    private func kMeans<S: ClusterScalar & MPIElement>(_: S.Type, _ world: Communicator, _ data: Matrix<Double>, _ given: [Int]?,
                                                       _ pool: ThreadPool, _ t0: Date) throws {
        let o = options
        let n = data.rows, d = data.cols
        let k = o.k ?? given!.count
        guard k >= 1, k <= n else { throw ValidationError("--k \(k) must be in 1...\(n) (the number of points)") }
        if given == nil && o.initialization == nil && world.rank == 0 {
            standardError("note: --distributed k-means starts from \(k) rows drawn from --seed \(o.seed) (as --initialization random)")
        }
        let starts = given ?? ClusterData.randomRows(n: n, k: k, seed: o.seed)
        let initial = try ClusterData.rows(data, starts)
        let x = try Matrix<S>(rows: n, cols: d, elements: data.toArray().map { S($0) })
        let part = DistributedKMeans.partition(rows: n, ranks: world.size)[world.rank]
        let local = try Matrix<S>(rows: part.count, cols: d,
                                  elements: Array(x.toArray()[(part.lowerBound * d)..<(part.upperBound * d)]))
        let reduction = KMeansReduction(rawValue: o.reduction ?? "ordered") ?? .ordered
        let t1 = MPI.wallTime()
        let r = try DistributedKMeans.fit(local, k: k, communicator: world, initialization: .centers(initial),
                                          reduction: reduction, maxIterations: o.maxIter, seed: o.seed, pool: pool)
        let seconds = try world.allreduce(MPI.wallTime() - t1, op: .max)
        let labels = try world.allgatherVariable(r.labels).values
        guard world.rank == 0 else { return }
        var report = ClusterReport(method: "kmeans", n: n)
        report.labels = labels
        report.add("k", "\(k)")
        report.add("inertia", String(format: "%.6f", r.inertia))
        report.add("iterations", "\(r.iterations)")
        report.add("converged", "\(r.converged)")
        report.add("seconds", String(format: "%.4f", seconds))
        report.add("ranks", "\(world.size) (\(reduction.rawValue) reduction)")
        if !r.converged { standardError(ClusterReport.maxIterationNote(o.maxIter, "the centres were still moving")) }
        try report.finish(data: data, options: o, startedAt: t0)
        if o.flags.check {
            let single = try KMeans.fit(x, k: k, options: KMeansOptions(initialization: .centers(initial), maxIterations: o.maxIter, seed: o.seed))
            CheckLine.emit(world, ["check": "kmeans", "reduction": reduction.rawValue, "shape": "\(n)x\(d) k=\(k)",
                                   "centers_bitwise": r.centers.toArray() == single.centers.toArray(),
                                   "centers_max_diff": maxAbsDiff(r.centers.toArray().map { $0.double }, single.centers.toArray().map { $0.double }),
                                   "labels_equal": labels == single.labels, "inertia": r.inertia,
                                   "inertia_rel_diff": abs(r.inertia - single.inertia) / single.inertia,
                                   "iterations": r.iterations, "single_iterations": single.iterations,
                                   "fingerprint": fingerprint(r.centers.toArray()), "seconds": seconds])
        }
    }

    private func clara<S: ClusterScalar>(_: S.Type, _ world: Communicator, _ data: Matrix<Double>, _ pool: ThreadPool, _ t0: Date) throws {
        let o = options
        let m = o.method.lowercased()
        let k = o.k!
        let x = try Matrix<S>(rows: data.rows, cols: data.cols, elements: data.toArray().map { S($0) })
        let source = try DataDissimilarity(x, metric: o.distanceMetric)
        let co = SampledKMedoids.CLARAOptions(samples: o.samples ?? 5, sampleSize: o.sampleSize, fast: m == "fastclara",
                                              maxIterations: o.maxIter, seed: o.seed, pool: pool)
        try world.barrier()
        let t1 = MPI.wallTime()
        let r = try DistributedCLARA.fit(source, k: k, options: co, communicator: world)
        let seconds = try world.allreduce(MPI.wallTime() - t1, op: .max)
        guard world.rank == 0 else { return }
        var report = ClusterReport(method: m, n: data.rows)
        report.labels = r.labels
        report.medoids = r.medoids
        report.add("k", "\(k)")
        report.add("metric", o.distanceMetric.rawValue)
        report.add("loss", String(format: "%.6f", r.loss))
        report.add("swaps", "\(r.swaps)")
        report.add("seconds", String(format: "%.4f", seconds))
        report.add("ranks", "\(world.size) (samples on ranks)")
        if k >= 2 {
            report.add("medoid_silhouette", String(format: "%.4f", try Silhouette.medoidSilhouette(source, medoids: r.medoids).mean))
        }
        try report.finish(data: data, options: o, startedAt: t0)
        if o.flags.check {
            let t2 = MPI.wallTime()
            let single = try SampledKMedoids.clara(source, k: k, options: co)
            CheckLine.emit(world, ["check": "clara", "shape": "\(data.rows)x\(data.cols) k=\(k)", "samples": co.samples, "fast": co.fast,
                                   "loss": r.loss, "medoids": r.medoids, "fingerprint": fingerprint(r.labels), "seconds": seconds,
                                   "single_seconds": MPI.wallTime() - t2, "medoids_equal": single.medoids == r.medoids,
                                   "labels_equal": single.labels == r.labels, "loss_bitwise": single.loss == r.loss])
        }
    }
}
