import ArgumentParser
import Foundation
import Tessera
import TesseraCluster

/// The method families of `tessera cluster`: they decide which options apply.
public enum ClusterFamily: Sendable {
    /// k-medoids on the full n × n distance matrix.
    case medoids
    /// CLARA / CLARANS: distances on demand.
    case sampled
    /// k-means (Lloyd's or Hamerly's): centres are means.
    case kMeans
    /// Gaussian mixtures fitted by EM (full or diagonal covariances).
    case mixture
    /// PPP: chooses k itself (up to `--k-max`).
    case ppp

    /// Every `--method` name, lower case, with its family (in the order the help lists them).
    public static let methods: [(String, ClusterFamily)] = [
        ("pam", .medoids), ("fastpam1", .medoids), ("fastpam2", .medoids), ("fasterpam", .medoids), ("alternating", .medoids),
        ("clara", .sampled), ("fastclara", .sampled), ("clarans", .sampled), ("fastclarans", .sampled),
        ("kmeans", .kMeans), ("hamerly", .kMeans), ("gmm", .mixture), ("gmm-diag", .mixture), ("ppp", .ppp),
    ]
    /// The methods `tessera cluster --distributed` runs.
    public static let distributedMethods = ["kmeans", "clara", "fastclara"]

    /// The family of a `--method` name (lower case); nil for an unknown name.
    public init?(method: String) {
        guard let f = Self.methods.first(where: { $0.0 == method })?.1 else { return nil }
        self = f
    }
}

/// `tessera cluster` and `tessera cluster --distributed`.
public struct ClusterOptions: ParsableArguments {
    /// Options with their defaults (ArgumentParser fills them from the command line).
    public init() {}

    /// The data file (CSV or .npy, see `ClusterData.read(path:)`); nil: synthetic blobs of
    /// `points` × `dimensions`.
    @Argument(help: ArgumentHelp("CSV (one point per row; an optional header line is skipped) or .npy (a 2-D (n, d) array of any numeric type) file.",
                                 discussion: "Without it: --n points in --d dimensions from well-separated Gaussian blobs (--k of them, or 6)."))
    public var input: String?

    /// Number of clusters (>= 1); required except for ppp (which refuses it) and with
    /// `initMedoids` (whose count it must then equal).
    @Option(name: .customLong("k"), parsing: .unconditional, help: "Number of clusters (not for --method ppp; with --init-medoids, their count by default).")
    public var k: Int?

    /// The method name (a key of `ClusterFamily.methods`, any case).
    @Option(help: "Method: pam, fastpam1, fastpam2, fasterpam, alternating, clara, fastclara, clarans, fastclarans, kmeans, hamerly, gmm, gmm-diag, ppp.")
    public var method = "fasterpam"

    /// Dissimilarity name (a `DistanceMetric` raw value) for the k-medoids and CLARA families;
    /// nil: Euclidean (see `distanceMetric`).
    @Option(help: "Dissimilarity of the k-medoids and CLARA methods: euclidean (default), sqeuclidean, manhattan, cosine.")
    public var metric: String?

    /// Initialisation: build, lab or random (k-medoids); k-means++ or random (k-means); nil: the
    /// method's default.
    @Option(help: "k-medoids: build, lab or random (default: random for fasterpam, build otherwise); k-means: k-means++ (default) or random (k distinct rows, what --distributed uses).")
    public var initialization: String?

    /// Path of a file of initial row indices (see `initialMedoids()`); excludes `initialization`.
    @Option(help: "File of k row indices (integers separated by commas, blanks or lines; '#' comments): the initial medoids (k-medoids methods) or the rows taken as initial centres (k-means).")
    public var initMedoids: String?

    /// Largest k that ppp tries (>= 1); nil: 10. ppp only.
    @Option(parsing: .unconditional, help: "Largest k tried by --method ppp (default 10).")
    public var kMax: Int?

    /// Random seed of initialisation, sampling and restarts.
    @Option(help: "Random seed.")
    public var seed: UInt64 = 0

    /// Iteration limit (>= 0 for k-medoids, >= 1 otherwise); a note is printed when it stops a
    /// method before convergence.
    @Option(parsing: .unconditional, help: "Iteration limit (a note says when it stopped the method before convergence).")
    public var maxIter = 100

    /// Restarts (>= 1) of k-means (default 1) and ppp (default 5); distributed k-means runs one.
    @Option(parsing: .unconditional, help: "Restarts: k-means (default 1), PPP (default 5).")
    public var nInit: Int?

    /// CLARA samples (>= 1; default 5). clara and fastclara only.
    @Option(parsing: .unconditional, help: "CLARA: number of samples (default 5).")
    public var samples: Int?

    /// Points per CLARA sample (>= 1; default 40 + 2k, fastclara 80 + 4k).
    @Option(parsing: .unconditional, help: "CLARA: points per sample (default 40 + 2k; fastclara 80 + 4k).")
    public var sampleSize: Int?

    /// Worker threads (>= 1); nil: the shared pool, one thread per core.
    @Option(parsing: .unconditional, help: "Worker threads (default: the shared pool, one per core).")
    public var threads: Int?

    /// "f32" or "f64"; nil: f32 for k-medoids (n² distance matrix), f64 otherwise (see `usesFloat`).
    @Option(help: "f32 or f64: the element type of the computation (default: f32 for the n² distance matrix of the k-medoids methods, f64 for the others).")
    public var precision: String?

    /// The input is a square dissimilarity matrix, not points (k-medoids only; needs `input`).
    @Flag(help: "The input is a precomputed square dissimilarity matrix (k-medoids methods).")
    public var precomputed = false

    /// Path of the labels CSV; nil: not written.
    @Option(help: "Write the labels (CSV) here: a 'label' column, or 'index,label,medoid' for the medoid methods.")
    public var out: String?

    /// Path of a PNG scatter plot on the first two principal components; nil: none.
    @Option(help: "Write a PNG scatter plot of the first two principal components, coloured by cluster.")
    public var plot: String?

    /// Also report the silhouette (O(n²) distances; k-medoids only).
    @Flag(help: "Also report the silhouette (O(n²) distances; k-medoids methods).")
    public var silhouette = false

    /// Points of the synthetic data set (>= 1; default 20000); only without `input`.
    @Option(name: .customLong("n"), parsing: .unconditional, help: "Without an input file: points of the synthetic data set (default 20000).")
    public var points: Int?

    /// Dimensions of the synthetic data set (>= 1; default 8); only without `input`.
    @Option(name: .customLong("d"), parsing: .unconditional, help: "Without an input file: dimensions of the synthetic data set (default 8).")
    public var dimensions: Int?

    /// Distributed k-means only: "ordered" (bitwise the one-process result; the default) or
    /// "allreduce".
    @Option(help: "With --distributed k-means: how ranks add their per-centre sums, ordered (bitwise the one-process result, default) or allreduce.")
    public var reduction: String?

    /// `--distributed` and `--check`.
    @OptionGroup public var flags: DistributedFlags

    /// The family of `method` (k-medoids for an unknown name, which `validate` refuses).
    public var family: ClusterFamily { ClusterFamily(method: method.lowercased()) ?? .medoids }

    /// Every check that needs no data: run before any file is read or matrix computed.
    public func validate(distributedRun: Bool) throws {
        let m = method.lowercased()
        guard let family = ClusterFamily(method: m) else {
            throw ValidationError("unknown method '\(method)'; choose one of: \(ClusterFamily.methods.map(\.0).joined(separator: ", "))")
        }
        if let metric {
            guard DistanceMetric(rawValue: metric) != nil else {
                throw ValidationError("unknown metric '\(metric)' (euclidean, sqeuclidean, manhattan, cosine)")
            }
            try refuse(family != .medoids && family != .sampled, "--metric applies to the k-medoids and CLARA methods; \(m) is Euclidean")
        }
        if let initialization {
            switch family {
            case .medoids:
                guard ["build", "lab", "random"].contains(initialization) else {
                    throw ValidationError("unknown --initialization '\(initialization)' for \(m) (build, lab, random; or --init-medoids FILE)")
                }
            case .kMeans:
                guard ["k-means++", "random"].contains(initialization) else {
                    throw ValidationError("unknown --initialization '\(initialization)' for \(m) (k-means++, random; or --init-medoids FILE)")
                }
                try refuse(distributedRun && initialization == "k-means++",
                           "--distributed k-means starts from k random rows (--initialization random) or --init-medoids; k-means++ runs in one process only")
            default:
                throw ValidationError("--initialization applies to the k-medoids and k-means methods, not \(m)")
            }
        }
        if initMedoids != nil {
            try refuse(family != .medoids && family != .kMeans, "--init-medoids applies to the k-medoids and k-means methods, not \(m)")
            try refuse(initialization != nil, "give --init-medoids or --initialization, not both")
            let given = try initialMedoids()!
            if let k, k != given.count {
                throw ValidationError("--k \(k) but \(initMedoids!) holds \(given.count) indices")
            }
        }
        if family == .ppp {
            try refuse(k != nil, "--method ppp chooses k itself: give --k-max (largest k tried) instead of --k")
        } else {
            try refuse(kMax != nil, "--k-max applies to --method ppp only (use --k)")
            guard k != nil || initMedoids != nil else { throw ValidationError("--k is required for --method \(m)") }
        }
        if let k { guard k >= 1 else { throw ValidationError("--k must be >= 1 (got \(k))") } }
        if let kMax { guard kMax >= 1 else { throw ValidationError("--k-max must be >= 1 (got \(kMax))") } }
        if let nInit {
            try refuse(family != .kMeans && family != .ppp, "--n-init applies to k-means and PPP, not \(m)")
            guard nInit >= 1 else { throw ValidationError("--n-init must be >= 1 (got \(nInit))") }
        }
        try refuse((samples != nil || sampleSize != nil) && !(m == "clara" || m == "fastclara"),
                   "--samples and --sample-size apply to clara and fastclara")
        if let samples { guard samples >= 1 else { throw ValidationError("--samples must be >= 1 (got \(samples))") } }
        if let sampleSize { guard sampleSize >= 1 else { throw ValidationError("--sample-size must be >= 1 (got \(sampleSize))") } }
        if let precision { guard ["f32", "f64"].contains(precision) else { throw ValidationError("--precision must be f32 or f64 (got '\(precision)')") } }
        try refuse(precomputed && family != .medoids, "--precomputed applies to the k-medoids methods (pam, fastpam1, fastpam2, fasterpam, alternating)")
        try refuse(precomputed && input == nil, "--precomputed needs an input file (the dissimilarity matrix)")
        try refuse(precomputed && plot != nil, "--plot needs data, not a precomputed matrix")
        try refuse(silhouette && family != .medoids, "--silhouette applies to the k-medoids methods")
        try refuse(input != nil && (points != nil || dimensions != nil), "--n and --d describe the synthetic data set, used without an input file")
        if let points { guard points >= 1 else { throw ValidationError("--n must be >= 1 (got \(points))") } }
        if let dimensions { guard dimensions >= 1 else { throw ValidationError("--d must be >= 1 (got \(dimensions))") } }
        guard maxIter >= (family == .medoids ? 0 : 1) else { throw ValidationError("--max-iter must be >= \(family == .medoids ? 0 : 1) (got \(maxIter))") }
        if let threads { guard threads >= 1 else { throw ValidationError("--threads must be >= 1 (got \(threads))") } }
        if let input { guard FileManager.default.isReadableFile(atPath: input) else { throw ValidationError("cannot read the input file '\(input)'") } }
        if let reduction {
            try refuse(!distributedRun || family != .kMeans, "--reduction applies to --distributed k-means only")
            guard ["ordered", "allreduce"].contains(reduction) else { throw ValidationError("--reduction must be ordered or allreduce (got '\(reduction)')") }
        }
        if distributedRun {
            guard ClusterFamily.distributedMethods.contains(m) else {
                throw ValidationError("no distributed version of --method \(m); --distributed runs \(ClusterFamily.distributedMethods.joined(separator: ", "))")
            }
            try refuse((nInit ?? 1) > 1, "--distributed k-means runs one start (--n-init 1)")
        }
        try flags.validate(distributedRun: distributedRun)
    }

    /// The metric (default Euclidean).
    public var distanceMetric: DistanceMetric { metric.flatMap(DistanceMetric.init(rawValue:)) ?? .euclidean }

    /// Whether the computation runs in Float.
    public var usesFloat: Bool { (precision ?? (family == .medoids ? "f32" : "f64")) == "f32" }

    /// The indices of --init-medoids (nil without it).
    public func initialMedoids() throws -> [Int]? {
        guard let path = initMedoids else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read --init-medoids file '\(path)'")
        }
        var out: [Int] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let body = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for word in body.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" || $0 == ";" }) {
                guard let i = Int(word), i >= 0 else {
                    throw ValidationError("--init-medoids '\(path)': '\(word)' is not a row index (a non-negative integer)")
                }
                out.append(i)
            }
        }
        guard !out.isEmpty else { throw ValidationError("--init-medoids '\(path)' holds no indices") }
        guard Set(out).count == out.count else { throw ValidationError("--init-medoids '\(path)': an index is repeated") }
        return out
    }

    /// The data: the input file (CSV or .npy) or the synthetic blobs.
    public func loadData() throws -> (matrix: Matrix<Double>, origin: String) {
        guard let input else {
            let n = points ?? 20_000, d = dimensions ?? 8
            let m = try Matrix(rows: n, cols: d, elements: ClusterData.blobs(n: n, d: d, k: k ?? 6))
            return (m, "\(n) synthetic points in \(d)-D from \(k ?? 6) blobs")
        }
        let m = try ClusterData.read(path: input)
        return (m, input)
    }
}

/// Reading and generating the points of `tessera cluster`.
public enum ClusterData {
    /// Whether `path` is a .npy file (by its magic bytes, so a misnamed file is still read right).
    public static func isNPY(_ path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return path.hasSuffix(".npy") }
        defer { try? h.close() }
        let magic = h.readData(ofLength: 6)
        return Array(magic) == [0x93] + Array("NUMPY".utf8)
    }

    /// A CSV file (ClusterCSV) or a .npy file: 2-D (n, d), or 1-D (n points of one value); any
    /// numeric dtype; NaN or infinity is refused, naming the element.
    public static func read(path: String) throws -> Matrix<Double> {
        guard isNPY(path) else { return try ClusterCSV.read(path: path).matrix }
        let a = try NPYArray(contentsOf: path)
        guard (1...2).contains(a.shape.count), a.count > 0 else {
            throw ValidationError("'\(path)' must hold a non-empty 1-D or 2-D array (shape \(a.shape))")
        }
        let rows = a.shape[0], cols = a.shape.count == 2 ? a.shape[1] : 1
        let v = a.doubles()
        if let i = v.firstIndex(where: { !$0.isFinite }) {
            throw TesseraError.malformedInput("\(path): element (\(i / cols), \(i % cols)) is \(v[i]); points must be finite")
        }
        return try Matrix(rows: rows, cols: cols, elements: v)
    }

    /// n points in d dimensions around k centres drawn in [0, 20)^d, with uniform noise in
    /// [−0.5, 0.5): well separated, the same on every run and every rank.
    public static func blobs(n: Int, d: Int, k: Int) -> [Double] {
        var rng = SplitMix(seed: 11)
        let centres = (0..<(k * d)).map { _ in rng.next() * 20 }
        var x = [Double](repeating: 0, count: n * d)
        for i in 0..<n { let c = i % k; for t in 0..<d { x[i * d + t] = centres[c * d + t] + rng.next() - 0.5 } }
        return x
    }

    /// The rows `--initialization random` takes as k-means centres: k distinct rows drawn from
    /// the seed, exactly as KMeans' `.random` initialisation draws them (its first start).
    public static func randomRows(n: Int, k: Int, seed: UInt64) -> [Int] {
        var rng = ClusterRandom(seed: seed, stream: 0)
        return rng.sample(k, from: n)
    }

    /// Rows `indices` of `data` as centres.
    public static func rows(_ data: Matrix<Double>, _ indices: [Int]) throws -> [[Double]] {
        guard let bad = indices.first(where: { $0 >= data.rows }) else { return indices.map { data.row($0) } }
        throw ValidationError("--init-medoids: row \(bad) is outside the data's \(data.rows) rows")
    }
}

/// What `tessera cluster` prints and writes, single-process or distributed: the summary
/// (`key value` lines on stdout), the labels file and the plot.
public struct ClusterReport {
    /// `key value` pairs, printed in this order by `finish`.
    public var summary: [(String, String)] = []
    /// The cluster label of each point, in 0..<k.
    public var labels: [Int] = []
    /// The medoids' row indices (medoid methods); nil for the others.
    public var medoids: [Int]? = nil

    /// A report whose summary starts with the method and the point count `n`.
    public init(method: String, n: Int) { summary = [("method", method), ("n", "\(n)")] }

    /// Appends one summary line.
    public mutating func add(_ key: String, _ value: String) { summary.append((key, value)) }

    /// The note printed when --max-iter stopped a method before it converged.
    public static func maxIterationNote(_ maxIter: Int, _ what: String) -> String {
        "note: --max-iter \(maxIter) stopped the method before convergence (\(what)); raise --max-iter to let it finish"
    }

    /// Writes --out and --plot, then prints the summary.
    public mutating func finish(data: Matrix<Double>?, options o: ClusterOptions, startedAt t0: Date) throws {
        var sizes = [Int: Int]()
        for l in labels { sizes[l, default: 0] += 1 }
        if let medoids { add("medoids", medoids.map(String.init).joined(separator: " ")) }
        add("cluster_sizes", sizes.keys.sorted().map { "\(sizes[$0]!)" }.joined(separator: " "))
        if let out = o.out {
            try ClusterCSV.writeLabels(labels, medoids: medoids, path: out)
            add("labels", out)
        }
        if let plot = o.plot, let data {
            let (x, y) = PrincipalComponents.project2D(data)
            var sp = ScatterPlot(width: 600, height: 600)
            let n = data.rows, m = o.method.lowercased()
            sp.pointRadius = n > 20_000 ? 1.2 : (n > 2_000 ? 1.8 : 3)
            sp.title = "\(m) clustering, k = \(Set(labels).count)\(m == "ppp" ? " (chosen by PPP from 1 ... \(o.kMax ?? 10))" : ""): "
                + "the data's first two principal components"
            sp.subtitle = "\(o.input.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "data"): \(n) points × \(data.cols) columns"
                + ((medoids ?? []).isEmpty ? "" : ", \(o.distanceMetric.rawValue) distance; medoids ringed")
            (sp.xLabel, sp.yLabel) = ("PC 1 (data units)", "PC 2 (data units)")
            try sp.render(x: x, y: y, labels: labels, highlighted: medoids ?? []).writePNG(to: plot)
            add("plot", plot)
        }
        add("total_seconds", String(format: "%.3f", Date().timeIntervalSince(t0)))
        for (key, value) in summary { print("\(key.padding(toLength: 18, withPad: " ", startingAt: 0)) \(value)") }
    }
}
