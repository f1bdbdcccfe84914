/// Sampling-based k-medoids that never needs the n² matrix: CLARA / FastCLARA and
/// CLARANS / FastCLARANS, on any `Dissimilarity` (distances computed on demand).
public enum SampledKMedoids {
    /// Options of ``SampledKMedoids/clara(_:k:options:)``.
    public struct CLARAOptions: Sendable {
        /// Number of samples (processed in parallel; each has its own random stream).
        public var samples: Int
        /// nil: 40 + 2k (CLARA) or 80 + 4k (FastCLARA), at most n.
        public var sampleSize: Int?
        /// FastCLARA: larger samples, FastPAM2 instead of PAM on each sample.
        public var fast: Bool
        /// Put the best medoids so far into every later sample (makes the samples sequential).
        public var keepMedoids: Bool
        /// Outer iterations of the k-medoids run on each sample.
        public var maxIterations: Int
        /// Seed of the samples (sample i draws from its own stream of this seed).
        public var seed: UInt64
        /// nil: the shared pool.
        public var pool: ThreadPool?
        /// Options with the defaults of FastCLARA: 5 samples of 80 + 4k points.
        public init(samples: Int = 5, sampleSize: Int? = nil, fast: Bool = true, keepMedoids: Bool = false,
                    maxIterations: Int = 100, seed: UInt64 = 0, pool: ThreadPool? = nil) {
            self.samples = samples; self.sampleSize = sampleSize; self.fast = fast; self.keepMedoids = keepMedoids
            self.maxIterations = maxIterations; self.seed = seed; self.pool = pool
        }
    }

    /// Options of ``SampledKMedoids/clarans(_:k:options:)``.
    public struct CLARANSOptions: Sendable {
        /// Restarts from random medoids (run in parallel).
        public var restarts: Int
        /// Failed neighbours in a row before a restart ends; nil: 0.0125·k·(n−k) (CLARANS) or
        /// 2·0.0125·(n−k) (FastCLARANS), at least 1.
        public var maxNeighbors: Int?
        /// FastCLARANS: sample only the new point and score all k removals at once.
        public var fast: Bool
        /// Seed of the restarts (restart i draws from its own stream of this seed).
        public var seed: UInt64
        /// nil: the shared pool.
        public var pool: ThreadPool?
        /// Options with the defaults of FastCLARANS: 2 restarts.
        public init(restarts: Int = 2, maxNeighbors: Int? = nil, fast: Bool = true, seed: UInt64 = 0, pool: ThreadPool? = nil) {
            self.restarts = restarts; self.maxNeighbors = maxNeighbors; self.fast = fast; self.seed = seed; self.pool = pool
        }
    }

    /// CLARA's sample size for `k` clusters of `n` points after checking the arguments
    /// (shared with the distributed CLARA of TesseraDistributed).
    package static func claraSampleSize(n: Int, k: Int, options: CLARAOptions) throws(TesseraError) -> Int {
        guard k >= 1, k <= n else { throw .invalidArgument("CLARA: k must be in 1...\(n) (got \(k))") }
        guard options.samples >= 1 else { throw .invalidArgument("CLARA: samples must be >= 1") }
        let size = min(n, options.sampleSize ?? (options.fast ? 80 + 4 * k : 40 + 2 * k))
        guard size >= k else { throw .invalidArgument("CLARA: sampleSize \(size) is smaller than k = \(k)") }
        return size
    }

    /// Sample `s` of CLARA: `size` points drawn from stream s+1 of the seed (after `keep`),
    /// k-medoids on them, judged by the loss over all n points. Deterministic for any pool, so
    /// samples may run anywhere (threads here, ranks in TesseraDistributed) with the same result.
    package static func claraSample(_ source: some Dissimilarity, k: Int, size: Int, options: CLARAOptions, sample s: Int,
                                    keep: [Int], pool: ThreadPool) throws(TesseraError) -> (medoids: [Int], loss: Double) {
        let n = source.count
        var rng = ClusterRandom(seed: options.seed, stream: UInt64(s) + 1)
        var idx = keep
        var inSample = Set(keep)
        for i in rng.sample(n, from: n) where idx.count < size && !inSample.contains(i) {
            idx.append(i); inSample.insert(i)
            if idx.count == size { break }
        }
        let sub = try DistanceMatrix<Double>(count: idx.count, pool: pool) { a, b in source.distance(idx[a], idx[b]) }
        let r = try KMedoids.fit(sub, k: k, options: .init(method: options.fast ? .fastPAM2 : .pam, initialization: .build,
                                                          maxIterations: options.maxIterations, pool: pool))
        let medoids = r.medoids.map { idx[$0] }
        return (medoids, assignAll(source, medoids: medoids, pool: pool).loss)
    }

    /// CLARA / FastCLARA: k-medoids on random samples, each judged by the loss on all n points.
    public static func clara(_ source: some Dissimilarity, k: Int, options: CLARAOptions = CLARAOptions()) throws(TesseraError) -> KMedoidsResult {
        let size = try claraSampleSize(n: source.count, k: k, options: options)
        let pool = options.pool ?? .shared
        let t0 = clusterNow()

        func runSample(_ s: Int, keep: [Int]) throws(TesseraError) -> (medoids: [Int], loss: Double) {
            try claraSample(source, k: k, size: size, options: options, sample: s, keep: keep, pool: pool)
        }

        var results = [(medoids: [Int], loss: Double)?](repeating: nil, count: options.samples)
        if options.keepMedoids {
            var best: [Int] = [], bestLoss = Double.infinity
            for s in 0..<options.samples {
                let r = try runSample(s, keep: best)
                results[s] = r
                if r.loss < bestLoss { bestLoss = r.loss; best = r.medoids }
            }
        } else {
            var firstError: TesseraError?
            let lock = ErrorLock()
            results.withUnsafeMutableBufferPointer { rb in
                let rp = rb.baseAddress!
                pool.parallelFor(0..<options.samples, schedule: .dynamic(chunk: 1)) { r, _ in
                    for s in r {
                        do throws(TesseraError) { rp[s] = try runSample(s, keep: []) } catch {
                            lock.with { if firstError == nil { firstError = error } }
                        }
                    }
                }
            }
            if let firstError { throw firstError }
        }
        var best = 0
        for s in 1..<options.samples where results[s]!.loss < results[best]!.loss { best = s }
        let medoids = results[best]!.medoids
        let (labels, loss) = assignAll(source, medoids: medoids, pool: pool)
        return KMedoidsResult(medoids: medoids, labels: labels, loss: loss, initialLoss: loss, iterations: options.samples,
                              swaps: 0, initializationSeconds: 0, seconds: clusterNow() - t0)
    }

    /// CLARANS / FastCLARANS: randomised swap search from random medoids, restarted
    /// `restarts` times (in parallel); the lowest loss wins.
    public static func clarans(_ source: some Dissimilarity, k: Int, options: CLARANSOptions = CLARANSOptions()) throws(TesseraError) -> KMedoidsResult {
        let n = source.count
        guard k >= 1, k <= n else { throw .invalidArgument("CLARANS: k must be in 1...\(n) (got \(k))") }
        guard options.restarts >= 1 else { throw .invalidArgument("CLARANS: restarts must be >= 1") }
        if let m = options.maxNeighbors, m < 1 { throw .invalidArgument("CLARANS: maxNeighbors must be >= 1") }
        let pool = options.pool ?? .shared
        let t0 = clusterNow()
        let maxNeighbors = options.maxNeighbors ?? max(1, Int((options.fast ? 2 * 0.0125 * Double(n - k)
                                                                          : 0.0125 * Double(k) * Double(n - k)).rounded(.up)))
        // concrete column sources, so the search is specialised for each (no generic calls per distance)
        func run<C: DistanceColumns>(_ c: C) -> CLARANSOutcome {
            claransRestarts(c, k: k, restarts: options.restarts, fast: options.fast, maxNeighbors: maxNeighbors,
                            seed: options.seed, pool: pool)
        }
        let st: CLARANSOutcome
        if let s = source as? DataDissimilarity<Float> { st = run(TransposedDataColumns(s)) }
        else if let s = source as? DataDissimilarity<Double> { st = run(TransposedDataColumns(s)) }
        else if let s = source as? DistanceMatrix<Float> { st = run(MatrixColumns(matrix: s)) }
        else if let s = source as? DistanceMatrix<Double> { st = run(MatrixColumns(matrix: s)) }
        else { st = run(PairwiseColumns(source: source)) }
        return KMedoidsResult(medoids: st.medoids, labels: st.labels, loss: st.loss, initialLoss: st.initialLoss,
                              iterations: options.restarts, swaps: st.swaps, initializationSeconds: 0, seconds: clusterNow() - t0)
    }

    /// The CLARANS restarts on one column source (in parallel); the lowest loss wins, ties
    /// to the lowest restart.
    @_specialize(where C == TransposedDataColumns<Float>)
    @_specialize(where C == TransposedDataColumns<Double>)
    @_specialize(where C == MatrixColumns<Float>)
    @_specialize(where C == MatrixColumns<Double>)
    static func claransRestarts<C: DistanceColumns>(_ columns: C, k: Int, restarts: Int, fast: Bool, maxNeighbors: Int,
                                                    seed: UInt64, pool: ThreadPool) -> CLARANSOutcome {
        let n = columns.count
        var results = [CLARANSSearch<C>?](repeating: nil, count: restarts)
        results.withUnsafeMutableBufferPointer { rb in
            let rp = rb.baseAddress!
            pool.parallelFor(0..<restarts, schedule: .dynamic(chunk: 1)) { r, _ in
                for s in r {
                    var rng = ClusterRandom(seed: seed, stream: UInt64(s) + 1)
                    let state = CLARANSSearch(columns, medoids: rng.sample(k, from: n))
                    state.search(fast: fast, maxNeighbors: maxNeighbors, rng: &rng)
                    rp[s] = state
                }
            }
        }
        var best = 0
        for s in 1..<restarts where results[s]!.loss < results[best]!.loss { best = s }
        let st = results[best]!
        return CLARANSOutcome(medoids: st.medoids, labels: st.labels, loss: st.loss, initialLoss: st.initialLoss, swaps: st.swaps)
    }

    /// The winning restart of CLARANS.
    struct CLARANSOutcome {
        var medoids: [Int], labels: [Int]
        var loss: Double, initialLoss: Double
        var swaps: Int
    }

    /// Rows per loss chunk of `assignAll` (the loss is the in-order sum of the chunk sums).
    package static let assignChunk = 1024

    /// Nearest medoid of every point (a medoid is its own nearest) and the loss; chunked sums.
    package static func assignAll(_ source: some Dissimilarity, medoids: [Int], pool: ThreadPool) -> (labels: [Int], loss: Double) {
        let r = assignChunks(source, medoids: medoids, chunks: 0..<((source.count + assignChunk - 1) / assignChunk), pool: pool)
        return (r.labels, r.parts.reduce(0, +))
    }

    /// `assignAll` for the rows of chunks `chunks` only: their labels (in row order) and each
    /// chunk's loss sum; the loss of all rows is the in-order sum of every chunk's part.
    package static func assignChunks(_ source: some Dissimilarity, medoids: [Int], chunks: Range<Int>,
                                     pool: ThreadPool) -> (labels: [Int], parts: [Double]) {
        let n = source.count
        let chunk = assignChunk
        let first = chunks.lowerBound * chunk
        let rows = max(0, min(n, chunks.upperBound * chunk) - first)
        guard rows > 0 else { return ([], []) }
        var labels = [Int](repeating: 0, count: rows)
        var parts = [Double](repeating: 0, count: chunks.count)
        labels.withUnsafeMutableBufferPointer { lb in
            parts.withUnsafeMutableBufferPointer { pb in
                let lp = lb.baseAddress!, pp = pb.baseAddress!
                pool.parallelFor(0..<chunks.count, schedule: .dynamic(chunk: 1)) { r, _ in
                    for c in r {
                        let ch = chunks.lowerBound + c
                        var s = 0.0
                        for j in (ch * chunk)..<min(n, (ch + 1) * chunk) {
                            var best = 0, bd = Double.infinity
                            for (m, x) in medoids.enumerated() {
                                if x == j { best = m; bd = 0; break }
                                let v = source.distance(j, x)
                                if v < bd { bd = v; best = m }
                            }
                            lp[j - first] = best
                            s += bd
                        }
                        pp[c] = s
                    }
                }
            }
        }
        return (labels, parts)
    }

    /// The result CLARA reports for the chosen medoids (for the distributed CLARA).
    package static func claraResult(medoids: [Int], labels: [Int], loss: Double, samples: Int, seconds: Double) -> KMedoidsResult {
        KMedoidsResult(medoids: medoids, labels: labels, loss: loss, initialLoss: loss, iterations: samples,
                       swaps: 0, initializationSeconds: 0, seconds: seconds)
    }
}

/// A mutex for collecting errors from parallel workers.
final class ErrorLock: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func with(_ body: () -> Void) { pthread_mutex_lock(&m); body(); pthread_mutex_unlock(&m) }
}

#if canImport(Glibc)
import Glibc
#endif
