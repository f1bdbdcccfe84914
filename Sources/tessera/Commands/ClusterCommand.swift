import ArgumentParser
import Foundation
import TesseraCLICore
import TesseraCluster

/// `tessera cluster data.csv --k 10 --method fasterpam [--metric cosine] [--out labels.csv] [--plot p.png]`
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Cluster the rows of a CSV or .npy file (k-medoids, CLARA/CLARANS, k-means, GMM, PPP), in one process or on MPI ranks (--distributed).",
        discussion: """
        Methods: pam, fastpam1, fastpam2, fasterpam, alternating (full distance matrix: n² numbers, \
        stated before it is computed); clara, fastclara, clarans, fastclarans (distances on demand, \
        no n² memory); kmeans, hamerly, gmm, gmm-diag (Euclidean, on the data); ppp (k-means + GMM, \
        chooses k itself — give --k-max instead of --k). With --precomputed the input is a square \
        dissimilarity matrix. Options a method would ignore are refused. Progress goes to stderr; \
        the summary (medoid indices included) to stdout. --distributed runs kmeans, clara and \
        fastclara on MPI ranks with the same options and outputs.
        """)

    @OptionGroup var options: ClusterOptions

    func validate() throws { try options.validate(distributedRun: false) }

    func run() throws {
        let o = options
        let pool = try o.threads.map { try ThreadPool(threads: $0) } ?? ThreadPool.shared
        let t0 = Date()
        let (data, origin) = try o.loadData()
        let n = data.rows
        standardError("read \(origin): \(n) rows x \(data.cols) columns")
        let m = o.method.lowercased()
        let given = try o.initialMedoids()
        if let given, let bad = given.first(where: { $0 >= n }) {
            throw ValidationError("--init-medoids: row \(bad) is outside the data's \(n) rows")
        }
        var report = ClusterReport(method: m, n: n)
        switch o.family {
        case .medoids:
            if o.usesFloat {
                try runKMedoids(Float.self, data, given, pool, &report)
            } else {
                try runKMedoids(Double.self, data, given, pool, &report)
            }
        case .sampled:
            if o.usesFloat {
                try runSampled(Float.self, data, pool, &report)
            } else {
                try runSampled(Double.self, data, pool, &report)
            }
        case .kMeans:
            if o.usesFloat {
                try runKMeans(Float.self, data, given, pool, &report)
            } else {
                try runKMeans(Double.self, data, given, pool, &report)
            }
        case .mixture:
            let k = o.k!
            func fit<S: ClusterScalar>(_ x: Matrix<S>) throws -> ([Int], GaussianMixture) {
                let g = try GaussianMixture.fit(x, components: k, options: .init(
                    covariance: m == "gmm" ? .full : .diagonal, maxIterations: o.maxIter, seed: o.seed, pool: pool))
                return (try g.predict(x), g)
            }
            let (labels, g) = o.usesFloat ? try fit(try converted(data, to: Float.self)) : try fit(data)
            report.labels = labels
            report.add("k", "\(k)")
            report.add("log_likelihood", String(format: "%.6f", g.logLikelihood))
            report.add("bic", String(format: "%.3f", g.bic))
            report.add("iterations", "\(g.iterations)")
            report.add("converged", "\(g.converged)")
            if !g.converged { standardError(ClusterReport.maxIterationNote(o.maxIter, "EM still improving the log-likelihood")) }
        case .ppp:
            let kMax = o.kMax ?? 10
            func fit<S: ClusterScalar>(_ x: Matrix<S>) throws -> ([Int], Int, Double, Double, [PPP.Candidate]) {
                let r = try PPP.fit(x, options: .init(kRange: 1...kMax, restarts: o.nInit ?? 5, pool: pool))
                return (r.labels, r.k, r.kMeans.inertia, r.mixture.bic, r.candidates)
            }
            let (labels, k, inertia, bic, candidates) = o.usesFloat ? try fit(try converted(data, to: Float.self)) : try fit(data)
            report.labels = labels
            for c in candidates {
                standardError(String(format: "  k=%2d  BIC %.2f  agreement %.3f  inertia %.4g", c.k, c.bic, c.agreement, c.inertia))
            }
            report.add("k", "\(k)")
            report.add("inertia", String(format: "%.6f", inertia))
            report.add("bic", String(format: "%.3f", bic))
        }
        try report.finish(data: o.precomputed ? nil : data, options: o, startedAt: t0)
    }

    /// PAM, FastPAM1/2, FasterPAM, Alternating on the full distance matrix in S.
    private func runKMedoids<S: ClusterScalar>(_: S.Type, _ data: Matrix<Double>, _ given: [Int]?, _ pool: ThreadPool,
                                               _ report: inout ClusterReport) throws {
        let o = options
        let n = data.rows
        let k = o.k ?? given!.count
        guard let km = KMedoidsMethod(rawValue: o.method.lowercased()) else { throw ValidationError("unknown method \(o.method)") }
        let x = try converted(data, to: S.self)
        let matrix: DistanceMatrix<S>
        if o.precomputed {
            matrix = try DistanceMatrix(x)
        } else {
            let bytes = try DistanceMatrix<S>.bytesRequired(count: n)
            standardError(String(format: "distance matrix: %d x %d %@ distances (%@), %.1f MB", n, n, o.distanceMetric.rawValue,
                                 S.self == Float.self ? "f32" : "f64", Double(bytes) / 1e6))
            let t = Date()
            matrix = try DistanceMatrix(data: x, metric: o.distanceMetric, pool: pool)
            standardError(String(format: "  computed in %.3f s", Date().timeIntervalSince(t)))
        }
        var ini: KMedoidsInitialization? = nil
        switch o.initialization {
        case "build": ini = .build
        case "lab": ini = .lab
        case "random": ini = .random
        default: ini = given.map { .medoids($0) }
        }
        let last = LastIteration()
        let r = try KMedoids.fit(matrix, k: k, options: .init(
            method: km, initialization: ini, maxIterations: o.maxIter, seed: o.seed, pool: pool,
            progress: { p in
                standardError(String(format: "  iteration %d: %d swaps, loss %.6g", p.iteration, p.swaps, p.loss))
                last.swapsBefore = last.swaps
                last.iteration = p.iteration; last.swaps = p.swaps
            }))
        let stoppedEarly = k > 1 && r.iterations == o.maxIter && (o.maxIter == 0 || (last.iteration == o.maxIter && last.swaps > last.swapsBefore))
        report.labels = r.labels
        report.medoids = r.medoids
        report.add("k", "\(k)")
        report.add("metric", o.distanceMetric.rawValue)
        report.add("precision", S.self == Float.self ? "f32" : "f64")
        report.add("loss", String(format: "%.6f", r.loss))
        report.add("initial_loss", String(format: "%.6f", r.initialLoss))
        report.add("iterations", "\(r.iterations)")
        report.add("swaps", "\(r.swaps)")
        report.add("converged", "\(!stoppedEarly)")
        report.add("seconds", String(format: "%.4f", r.seconds))
        if stoppedEarly {
            standardError(o.maxIter == 0 ? "note: --max-iter 0: no swap iterations ran; the medoids are the initial ones"
                                         : ClusterReport.maxIterationNote(o.maxIter, "its last iteration still swapped medoids"))
        }
        if n >= 2 && k >= 2 {
            let ms = try Silhouette.medoidSilhouette(matrix, medoids: r.medoids)
            report.add("medoid_silhouette", String(format: "%.4f", ms.mean))
        }
        if o.silhouette {
            report.add("silhouette", String(format: "%.4f", try Silhouette.silhouette(matrix, labels: r.labels, pool: pool).mean))
        }
    }

    /// CLARA / CLARANS, distances on demand in S.
    private func runSampled<S: ClusterScalar>(_: S.Type, _ data: Matrix<Double>, _ pool: ThreadPool, _ report: inout ClusterReport) throws {
        let o = options
        let m = o.method.lowercased()
        let k = o.k!
        let src = try DataDissimilarity(try converted(data, to: S.self), metric: o.distanceMetric)
        let r: KMedoidsResult
        if m.hasSuffix("clara") {
            r = try SampledKMedoids.clara(src, k: k, options: .init(samples: o.samples ?? 5, sampleSize: o.sampleSize, fast: m == "fastclara",
                                                                    maxIterations: o.maxIter, seed: o.seed, pool: pool))
        } else {
            r = try SampledKMedoids.clarans(src, k: k, options: .init(fast: m == "fastclarans", seed: o.seed, pool: pool))
        }
        report.labels = r.labels
        report.medoids = r.medoids
        report.add("k", "\(k)")
        report.add("metric", o.distanceMetric.rawValue)
        report.add("loss", String(format: "%.6f", r.loss))
        report.add("swaps", "\(r.swaps)")
        report.add("seconds", String(format: "%.4f", r.seconds))
        if k >= 2 {
            report.add("medoid_silhouette", String(format: "%.4f", try Silhouette.medoidSilhouette(src, medoids: r.medoids).mean))
        }
    }

    /// k-means (Lloyd or Hamerly) in S.
    private func runKMeans<S: ClusterScalar>(_: S.Type, _ data: Matrix<Double>, _ given: [Int]?, _ pool: ThreadPool,
                                             _ report: inout ClusterReport) throws {
        let o = options
        let k = o.k ?? given!.count
        let initialization: KMeansInitialization
        if let given {
            initialization = .centers(try ClusterData.rows(data, given))
        } else {
            initialization = o.initialization == "random" ? .random : .kMeansPlusPlus
        }
        let r = try KMeans.fit(try converted(data, to: S.self), k: k, options: .init(
            algorithm: o.method.lowercased() == "hamerly" ? .hamerly : .lloyd, initialization: initialization, nInit: o.nInit ?? 1,
            maxIterations: o.maxIter, seed: o.seed, pool: pool))
        report.labels = r.labels
        report.add("k", "\(k)")
        report.add("inertia", String(format: "%.6f", r.inertia))
        report.add("iterations", "\(r.iterations)")
        report.add("converged", "\(r.converged)")
        report.add("seconds", String(format: "%.4f", r.seconds))
        if !r.converged { standardError(ClusterReport.maxIterationNote(o.maxIter, "the centres were still moving")) }
    }
}

/// The last progress report of a k-medoids run: the iteration limit stopped the method when its
/// last allowed iteration still changed the medoids (every method reports an iteration that swapped;
/// FasterPAM reports every iteration, with the running swap count).
private final class LastIteration: @unchecked Sendable {
    var iteration = 0, swaps = 0, swapsBefore = 0
}

/// `data` in element type S.
func converted<S: ClusterScalar>(_ data: Matrix<Double>, to: S.Type) throws -> Matrix<S> {
    if let same = data as? Matrix<S> { return same }
    return try Matrix<S>(rows: data.rows, cols: data.cols, elements: data.toArray().map { S($0) })
}
