import ArgumentParser
import Foundation
import TesseraCluster

/// `tessera cluster data.csv --k 10 --method fasterpam [--metric cosine] [--out labels.csv] [--plot p.png]`
struct ClusterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Cluster the rows of a numeric CSV file (k-medoids, CLARA/CLARANS, k-means, GMM, PPP).",
        discussion: """
        Methods: pam, fastpam1, fastpam2, fasterpam, alternating (full distance matrix: n² numbers,
        stated before it is computed); clara, fastclara, clarans, fastclarans (distances on demand,
        no n² memory); kmeans, hamerly, gmm, gmm-diag (Euclidean, on the data); ppp (k-means + GMM,
        chooses k itself — give --k-max instead of --k). With --precomputed the CSV is a square
        dissimilarity matrix. Progress goes to stderr; the summary to stdout.
        """)

    @Argument(help: "CSV file: one point per row (an optional header line is skipped).")
    var input: String

    @Option(name: .customLong("k"), help: "Number of clusters (not for --method ppp).")
    var k: Int?

    @Option(help: "Method (see above).")
    var method = "fasterpam"

    @Option(help: "Dissimilarity for the k-medoids methods: euclidean, sqeuclidean, manhattan, cosine.")
    var metric = "euclidean"

    @Option(help: "k-medoids initialisation: build, lab, random (default: random for fasterpam, build otherwise).")
    var initialization: String?

    @Option(help: "Largest k tried by --method ppp.")
    var kMax = 10

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(help: "Iteration limit.")
    var maxIter = 100

    @Option(help: "Restarts for k-means (nInit).")
    var nInit = 1

    @Option(help: "Worker threads (default: the shared pool, one per core).")
    var threads: Int?

    @Flag(help: "The CSV is a precomputed square dissimilarity matrix.")
    var precomputed = false

    @Option(help: "Write labels (CSV) here.")
    var out: String?

    @Option(help: "Write a PNG scatter plot of the first two principal components, coloured by cluster.")
    var plot: String?

    @Flag(help: "Also report the silhouette (O(n²) distances).")
    var silhouette = false

    func run() throws {
        let pool = try threads.map { try ThreadPool(threads: $0) } ?? ThreadPool.shared
        func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
        let t0 = Date()
        let (data, _) = try ClusterCSV.read(path: input)
        let n = data.rows
        note("read \(input): \(n) rows x \(data.cols) columns")
        guard let metricValue = DistanceMetric(rawValue: metric) else {
            throw ValidationError("unknown metric '\(metric)' (euclidean, sqeuclidean, manhattan, cosine)")
        }
        let m = method.lowercased()
        var labels: [Int] = []
        var medoids: [Int]? = nil
        var highlight: [Int] = []
        var summary: [(String, String)] = [("method", m), ("n", "\(n)")]

        func needK() throws -> Int {
            guard let k else { throw ValidationError("--k is required for --method \(m)") }
            return k
        }

        switch m {
        case "pam", "fastpam1", "fastpam2", "fasterpam", "alternating":
            let k = try needK()
            guard let km = KMedoidsMethod(rawValue: m) else { throw ValidationError("unknown method \(m)") }
            let matrix: DistanceMatrix<Float>
            if precomputed {
                let f = try Matrix<Float>(rows: data.rows, cols: data.cols, elements: data.toArray().map { Float($0) })
                matrix = try DistanceMatrix(f)
            } else {
                let bytes = try DistanceMatrix<Float>.bytesRequired(count: n)
                note(String(format: "distance matrix: %d x %d %@ distances, %.1f MB", n, n, metric, Double(bytes) / 1e6))
                let f = try Matrix<Float>(rows: data.rows, cols: data.cols, elements: data.toArray().map { Float($0) })
                let t = Date()
                matrix = try DistanceMatrix(data: f, metric: metricValue, pool: pool)
                note(String(format: "  computed in %.3f s", Date().timeIntervalSince(t)))
            }
            var ini: KMedoidsInitialization? = nil
            switch initialization {
            case nil: break
            case "build": ini = .build
            case "lab": ini = .lab
            case "random": ini = .random
            case let s?: throw ValidationError("unknown initialisation '\(s)' (build, lab, random)")
            }
            let r = try KMedoids.fit(matrix, k: k, options: .init(
                method: km, initialization: ini, maxIterations: maxIter, seed: seed, pool: pool,
                progress: { p in
                    FileHandle.standardError.write(Data(String(format: "  iteration %d: %d swaps, loss %.6g\n",
                                                               p.iteration, p.swaps, p.loss).utf8))
                }))
            labels = r.labels; medoids = r.medoids; highlight = r.medoids
            summary += [("k", "\(k)"), ("metric", metric), ("loss", String(format: "%.6f", r.loss)),
                        ("initial_loss", String(format: "%.6f", r.initialLoss)), ("iterations", "\(r.iterations)"),
                        ("swaps", "\(r.swaps)"), ("seconds", String(format: "%.4f", r.seconds))]
            if n >= 2 && k >= 2 {
                let ms = try Silhouette.medoidSilhouette(matrix, medoids: r.medoids)
                summary.append(("medoid_silhouette", String(format: "%.4f", ms.mean)))
            }
            if silhouette {
                summary.append(("silhouette", String(format: "%.4f", try Silhouette.silhouette(matrix, labels: r.labels, pool: pool).mean)))
            }
        case "clara", "fastclara", "clarans", "fastclarans":
            let k = try needK()
            let src = try DataDissimilarity(data, metric: metricValue)
            let r: KMedoidsResult
            if m.hasSuffix("clara") {
                r = try SampledKMedoids.clara(src, k: k, options: .init(fast: m == "fastclara", maxIterations: maxIter, seed: seed, pool: pool))
            } else {
                r = try SampledKMedoids.clarans(src, k: k, options: .init(fast: m == "fastclarans", seed: seed, pool: pool))
            }
            labels = r.labels; medoids = r.medoids; highlight = r.medoids
            summary += [("k", "\(k)"), ("metric", metric), ("loss", String(format: "%.6f", r.loss)),
                        ("swaps", "\(r.swaps)"), ("seconds", String(format: "%.4f", r.seconds))]
            if k >= 2 {
                summary.append(("medoid_silhouette", String(format: "%.4f", try Silhouette.medoidSilhouette(src, medoids: r.medoids).mean)))
            }
        case "kmeans", "hamerly":
            let k = try needK()
            let r = try KMeans.fit(data, k: k, options: .init(algorithm: m == "hamerly" ? .hamerly : .lloyd, nInit: nInit,
                                                               maxIterations: maxIter, seed: seed, pool: pool))
            labels = r.labels
            summary += [("k", "\(k)"), ("inertia", String(format: "%.6f", r.inertia)), ("iterations", "\(r.iterations)"),
                        ("converged", "\(r.converged)"), ("seconds", String(format: "%.4f", r.seconds))]
        case "gmm", "gmm-diag":
            let k = try needK()
            let g = try GaussianMixture.fit(data, components: k, options: .init(
                covariance: m == "gmm" ? .full : .diagonal, maxIterations: maxIter, seed: seed, pool: pool))
            labels = try g.predict(data)
            summary += [("k", "\(k)"), ("log_likelihood", String(format: "%.6f", g.logLikelihood)),
                        ("bic", String(format: "%.3f", g.bic)), ("iterations", "\(g.iterations)"), ("converged", "\(g.converged)")]
        case "ppp":
            guard kMax >= 1 else { throw ValidationError("--k-max must be >= 1") }
            let r = try PPP.fit(data, options: .init(kRange: 1...kMax, restarts: max(nInit, 5), pool: pool))
            labels = r.labels
            for c in r.candidates {
                note(String(format: "  k=%2d  BIC %.2f  agreement %.3f  inertia %.4g", c.k, c.bic, c.agreement, c.inertia))
            }
            summary += [("k", "\(r.k)"), ("inertia", String(format: "%.6f", r.kMeans.inertia)),
                        ("bic", String(format: "%.3f", r.mixture.bic))]
        default:
            throw ValidationError("unknown method '\(method)'")
        }
        var sizes = [Int: Int]()
        for l in labels { sizes[l, default: 0] += 1 }
        summary.append(("cluster_sizes", sizes.keys.sorted().map { "\(sizes[$0]!)" }.joined(separator: " ")))
        if let out {
            try ClusterCSV.writeLabels(labels, medoids: medoids, path: out)
            summary.append(("labels", out))
        }
        if let plot {
            guard !precomputed else { throw ValidationError("--plot needs data, not a precomputed matrix") }
            let (x, y) = PrincipalComponents.project2D(data)
            var sp = ScatterPlot(width: 600, height: 600)
            sp.pointRadius = n > 20_000 ? 1.2 : (n > 2_000 ? 1.8 : 3)
            sp.title = "\(m) clustering, k = \(Set(labels).count)\(m == "ppp" ? " (chosen by PPP from 1 ... \(kMax))" : ""): "
                + "the data's first two principal components"
            sp.subtitle = "\(URL(fileURLWithPath: input).lastPathComponent): \(n) points × \(data.cols) columns"
                + (highlight.isEmpty ? "" : ", \(metric) distance; medoids ringed")
            (sp.xLabel, sp.yLabel) = ("PC 1 (data units)", "PC 2 (data units)")
            try sp.render(x: x, y: y, labels: labels, highlighted: highlight).writePNG(to: plot)
            summary.append(("plot", plot))
        }
        summary.append(("total_seconds", String(format: "%.3f", Date().timeIntervalSince(t0))))
        for (key, value) in summary { print("\(key.padding(toLength: 18, withPad: " ", startingAt: 0)) \(value)") }
    }
}
