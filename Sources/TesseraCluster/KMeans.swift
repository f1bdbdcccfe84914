/// k-means (Lloyd, Hamerly) with k-means++ initialisation, on the rows of an n × d matrix.
public enum KMeansAlgorithm: String, CaseIterable, Sendable {
    /// Every point against every centre each iteration (‖c‖² − 2x·c by a direct blocked kernel,
    /// fused with the inertia and the centre sums in one pass per 4096-row chunk).
    case lloyd
    /// Lloyd's iterations with Hamerly's bounds: the same assignments, most distances skipped.
    case hamerly
}

/// How the first k centres are chosen.
public enum KMeansInitialization: Sendable, Equatable {
    /// Greedy k-means++ (2 + ⌊ln k⌋ trials per centre, as scikit-learn).
    case kMeansPlusPlus
    /// k distinct data points chosen uniformly.
    case random
    /// These k centres (each of length d).
    case centers([[Double]])
}

/// Options of ``KMeans/fit(_:k:options:)``.
public struct KMeansOptions: Sendable {
    /// Lloyd or Hamerly (the same assignments; Hamerly skips most distances).
    public var algorithm: KMeansAlgorithm
    /// How the first centres are chosen (greedy k-means++ by default).
    public var initialization: KMeansInitialization
    /// Independent runs (seeds derived from `seed`); the lowest inertia wins.
    public var nInit: Int
    /// Lloyd iterations per run at most (≥ 1).
    public var maxIterations: Int
    /// Stop when Σ‖Δcentre‖² ≤ tolerance · (mean variance of the features), or when no label
    /// changes (scikit-learn's rule).
    public var tolerance: Double
    /// Seed of the initialisation (run i uses stream i of this seed).
    public var seed: UInt64
    /// nil: the shared pool.
    public var pool: ThreadPool?

    /// Options with scikit-learn's defaults: Lloyd, greedy k-means++, 300 iterations, tolerance 10⁻⁴.
    public init(algorithm: KMeansAlgorithm = .lloyd, initialization: KMeansInitialization = .kMeansPlusPlus,
                nInit: Int = 1, maxIterations: Int = 300, tolerance: Double = 1e-4, seed: UInt64 = 0,
                pool: ThreadPool? = nil) {
        self.algorithm = algorithm
        self.initialization = initialization
        self.nInit = nInit
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.seed = seed
        self.pool = pool
    }
}

/// The outcome of a k-means fit; ``model`` keeps what predicting and saving need.
public struct KMeansResult<Scalar: ClusterScalar>: Sendable {
    /// k × d centres.
    public var centers: Matrix<Scalar>
    /// The centre index of every row of the data.
    public var labels: [Int]
    /// Σ‖x − centre(x)‖² for the final centres and labels.
    public var inertia: Double
    /// Lloyd iterations of the best run.
    public var iterations: Int
    /// Inertia of each iteration's assignment step (Lloyd: non-increasing).
    public var inertiaHistory: [Double]
    /// Whether the best run met the tolerance (or stopped changing labels) before `maxIterations`.
    public var converged: Bool
    /// Clusters of the best run that an assignment step left empty and that were given the point
    /// farthest from its centre (summed over the iterations; scikit-learn's relocation).
    public var relocatedClusters: Int
    /// Wall time of the whole fit (all runs), seconds.
    public var seconds: Double
}

/// k-means on the rows of a data matrix: ``fit(_:k:options:)`` and ``predict(_:centers:)``.
///
/// Clusters that an assignment step leaves empty take the points farthest from their assigned
/// centres, as scikit-learn's k-means does (see ``KMeansResult/relocatedClusters``).
public enum KMeans {
    /// Points per fixed accumulation chunk (inertia and centre sums; the distributed k-means
    /// uses the same grid), and the unit of parallel work of an assignment step.
    package static let chunk = 4096
    /// Below this many multiply-adds (n·k·d; 2¹⁹ ≈ 15 µs on one core) an assignment step runs
    /// on the calling thread: a fork-join would cost about what it saves. `TESSERA_KMEANS_SPLIT_WORK`
    /// (an integer ≥ 0) overrides it: on a box whose other cores are busy, a split step waits
    /// for a descheduled worker (then a larger value keeps more steps on the caller). Until
    /// round 6 it was 2²⁴: splits had measured 3x slower in the cluster bench, which started our
    /// runs while the peer's OpenBLAS/libgomp threads still spun on one of the two cores; with
    /// each side starting on idle cores, split fits of the bench's shapes take 0.6–0.7x the time.
    static let smallWork: Int = {
        if let p = getenv("TESSERA_KMEANS_SPLIT_WORK"), let w = Int(String(cString: p)), w >= 0 { return w }
        return 1 << 19
    }()

    /// Clusters the rows of `data` into k groups.
    /// Errors: k ≤ 0 or k > n, empty data, NaN/Inf, nInit < 1, maxIterations < 1, negative
    /// tolerance, initial centres of the wrong shape.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func fit<S: ClusterScalar>(_ data: Matrix<S>, k: Int,
                                             options: KMeansOptions = KMeansOptions()) throws(TesseraError) -> KMeansResult<S> {
        try fit(data, k: k, options: options, control: nil)!
    }

    /// The fit, with `control(run, iteration)` called after every Lloyd iteration of every run
    /// (run in 0..<nInit, iteration from 1); when it returns false the fit stops and returns nil.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func fit<S: ClusterScalar>(_ data: Matrix<S>, k: Int, options: KMeansOptions,
                                      control: ((Int, Int) -> Bool)?) throws(TesseraError) -> KMeansResult<S>? {
        try validateData(data, metric: nil, what: "KMeans")
        let n = data.rows, d = data.cols
        guard k >= 1, k <= n else { throw .invalidArgument("KMeans: k must be in 1...\(n) (got \(k))") }
        guard options.nInit >= 1 else { throw .invalidArgument("KMeans: nInit must be >= 1 (got \(options.nInit))") }
        guard options.maxIterations >= 1 else { throw .invalidArgument("KMeans: maxIterations must be >= 1") }
        guard options.tolerance >= 0, options.tolerance.isFinite else { throw .invalidArgument("KMeans: tolerance must be >= 0") }
        if case .centers(let c) = options.initialization {
            guard c.count == k, c.allSatisfy({ $0.count == d }) else {
                throw .invalidArgument("KMeans: initial centres must be \(k) rows of \(d) values")
            }
            guard c.allSatisfy({ $0.allSatisfy(\.isFinite) }) else { throw .invalidArgument("KMeans: initial centres contain NaN/Inf") }
        }
        let pool = options.pool ?? .shared
        let t0 = clusterNow()
        let tol = options.tolerance == 0 ? 0 : options.tolerance * meanVariance(data)
        var best: KMeansResult<S>?
        for run in 0..<options.nInit {
            var rng = ClusterRandom(seed: options.seed, stream: UInt64(run))
            let initial: [S]
            switch options.initialization {
            case .kMeansPlusPlus: initial = kMeansPlusPlus(data, k: k, rng: &rng, pool: pool)
            case .random:
                let idx = rng.sample(k, from: n)
                initial = data.withUnsafeBufferPointer { b in idx.flatMap { i in (0..<d).map { b[i * data.rowStride + $0] } } }
            case .centers(let c): initial = c.flatMap { $0.map { S($0) } }
            }
            let runControl: ((Int) -> Bool)? = control.map { c in { c(run, $0) } }
            guard var r = try lloyd(data, k: k, centers: initial, maxIterations: options.maxIterations, tolerance: tol,
                                    hamerly: options.algorithm == .hamerly, pool: pool, control: runControl) else { return nil }
            r.seconds = clusterNow() - t0
            if best == nil || r.inertia < best!.inertia { best = r }
        }
        best!.seconds = clusterNow() - t0
        return best!
    }

    /// The nearest centre of each row of `data` (centres: k × d), on the shared pool.
    /// Errors: `.invalidArgument` for empty data, NaN/Inf, or centres of another width.
    public static func predict<S: ClusterScalar>(_ data: Matrix<S>, centers: Matrix<S>) throws(TesseraError) -> [Int] {
        try predict(data, centers: centers, pool: .shared)
    }

    /// The mean over the features of each feature's variance (population), in `Double`. Rows are
    /// visited in order for every feature at once (the same sums, feature by feature, as a
    /// column-by-column pass, without its strided reads).
    static func meanVariance<S: ClusterScalar>(_ data: Matrix<S>) -> Double {
        let n = data.rows, d = data.cols, ld = data.rowStride
        var mean = [Double](repeating: 0, count: d), v = [Double](repeating: 0, count: d)
        data.withUnsafeBufferPointer { b in
            let x = b.baseAddress!
            mean.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { vv in
                    for i in 0..<n { let r = x + i * ld; for t in 0..<d { m[t] += r[t].double } }
                    for t in 0..<d { m[t] /= Double(n) }
                    for i in 0..<n { let r = x + i * ld; for t in 0..<d { let e = r[t].double - m[t]; vv[t] += e * e } }
                }
            }
        }
        var total = 0.0
        for t in 0..<d { total += v[t] / Double(n) }
        return total / Double(d)
    }

    /// Greedy k-means++: each new centre is the best (lowest potential) of 2 + ⌊ln k⌋ points
    /// drawn with probability ∝ D(x)².
    static func kMeansPlusPlus<S: ClusterScalar>(_ data: Matrix<S>, k: Int, rng: inout ClusterRandom, pool: ThreadPool) -> [S] {
        let n = data.rows, d = data.cols, ld = data.rowStride
        let trials = 2 + Int(_log(Double(k)))
        var centers = [S]()
        centers.reserveCapacity(k * d)
        return data.withUnsafeBufferPointer { xb in
            let x = xb.baseAddress!
            func sqdist(_ i: Int, _ j: Int) -> Double {
                var s = 0.0
                for t in 0..<d { let v = Double(x[i * ld + t]) - Double(x[j * ld + t]); s += v * v }
                return s
            }
            let first = rng.below(n)
            for t in 0..<d { centers.append(x[first * ld + t]) }
            var closest = (0..<n).map { sqdist($0, first) }
            var pot = closest.reduce(0, +)
            var candDist = [Double](repeating: 0, count: trials * n)
            for _ in 1..<k {
                // candidates by inverse CDF of the cumulative D²
                var cumulative = [Double](repeating: 0, count: n)
                var acc = 0.0
                for i in 0..<n { acc += closest[i]; cumulative[i] = acc }
                var cands = [Int]()
                for _ in 0..<trials {
                    let r = rng.unit() * acc
                    var lo = 0, hi = n - 1
                    while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] < r { lo = mid + 1 } else { hi = mid } }
                    cands.append(lo)
                }
                closest.withUnsafeBufferPointer { cb in
                    candDist.withUnsafeMutableBufferPointer { db in
                        let dp = db.baseAddress!
                        pool.parallelFor(0..<n, schedule: .static) { r, _ in
                            for i in r {
                                for (t, c) in cands.enumerated() { dp[t * n + i] = min(cb[i], sqdist(i, c)) }
                            }
                        }
                    }
                }
                var bestT = 0, bestPot = Double.infinity
                for t in 0..<cands.count {
                    var s = 0.0
                    for i in 0..<n { s += candDist[t * n + i] }
                    if s < bestPot { bestPot = s; bestT = t }
                }
                pot = bestPot
                for i in 0..<n { closest[i] = candDist[bestT * n + i] }
                for t in 0..<d { centers.append(x[cands[bestT] * ld + t]) }
            }
            _ = pot
            return centers
        }
    }

    /// Assigns every row to its nearest centre (‖c‖² − 2x·c, the direct blocked kernel),
    /// optionally accumulating per-chunk centre sums (merged in chunk order). Returns the inertia,
    /// computed exactly as Σ‖x − c‖² for the chosen centres.
    static func assignStep<S: ClusterScalar>(_ data: Matrix<S>, k: Int, centers: [S], labels: inout [Int],
                                             sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?,
                                             pool: ThreadPool, transposed: UnsafePointer<S>? = nil,
                                             inline: Bool? = nil) -> Double {
        let n = data.rows, d = data.cols
        let bounds = Array(stride(from: 0, to: n, by: chunk)) + [n]
        let part = assignChunks(data, k: k, centers: centers, labels: &labels, bounds: bounds, withSums: sums != nil,
                                pool: pool, transposed: transposed, inline: inline)
        let nChunks = part.inertia.count
        if let sums, let counts {
            for i in 0..<(k * d) { sums[i] = 0 }
            for c in 0..<k { counts[c] = 0 }
            for ch in 0..<nChunks {
                for i in 0..<(k * d) { sums[i] += part.sums[ch * k * d + i] }
                for c in 0..<k { counts[c] += part.counts[ch * k + c] }
            }
        }
        var total = 0.0
        for v in part.inertia { total += v }
        return total
    }

    /// The Lloyd centre update: each non-empty cluster's centre becomes the mean of its members
    /// (`sums` k × d over `count(c)` members); a cluster still empty after the relocation
    /// (`relocate(empty:ordered:sums:d:adjust:)`) keeps its centre. Returns the new
    /// centres and the summed squared shift. Shared with TesseraDistributed's k-means.
    package static func movedCenters<S: ClusterScalar>(_ centers: [S], sums: [Double], count: (Int) -> Double,
                                                       k: Int, d: Int) -> (centers: [S], shift: Double) {
        var shift = 0.0
        var moved = centers
        for c in 0..<k where count(c) > 0 {
            for t in 0..<d {
                let v = S(sums[c * d + t] / count(c))
                let delta = Double(v) - Double(centers[c * d + t])
                shift += delta * delta
                moved[c * d + t] = v
            }
        }
        return (moved, shift)
    }

    /// The assignment kernel of a Lloyd step over row chunks `bounds[i] ..< bounds[i+1]`: labels
    /// of every row, and per chunk the inertia and (with `withSums`) the per-centre sums (k·d) and
    /// counts (k), fused in one pass per chunk (`S.kmeansChunk`). Chunks are independent and their
    /// order of merging is the caller's, so the distributed k-means of TesseraDistributed (chunks
    /// on the same global 4096-row grid, cut at rank boundaries) gets the same bits per chunk as
    /// one process. `transposed`: the data transposed (feature t of row i at `[t·n + i]`), as
    /// the Lloyd loop keeps it; nil builds it here. `inline`: run on the calling thread (true)
    /// or over the pool (false) whatever the size; nil decides by `smallWork`. The same bits.
    package static func assignChunks<S: ClusterScalar>(_ data: Matrix<S>, k: Int, centers: [S], labels: inout [Int],
                                                       bounds: [Int], withSums: Bool, pool: ThreadPool,
                                                       transposed: UnsafePointer<S>? = nil, inline: Bool? = nil)
        -> (inertia: [Double], sums: [Double], counts: [Int])
    {
        let n = data.rows, d = data.cols, ld = data.rowStride
        let nChunks = max(0, bounds.count - 1)
        var partInertia = [Double](repeating: 0, count: nChunks)
        var chunkSums = [Double](repeating: 0, count: withSums ? nChunks * k * d : 0)
        var chunkCounts = [Int](repeating: 0, count: withSums ? nChunks * k : 0)
        if nChunks == 0 || n == 0 { return (partInertia, chunkSums, chunkCounts) }
        let own = transposed == nil ? transposedCopy(data) : nil
        defer { own?.deallocate() }
        let xt = transposed ?? UnsafePointer(own!)
        var cnorm = [S](repeating: 0, count: k)
        for c in 0..<k { var s: S = 0; for t in 0..<d { s += centers[c * d + t] * centers[c * d + t] }; cnorm[c] = s }
        data.withUnsafeBufferPointer { xb in
            centers.withUnsafeBufferPointer { cb in
                cnorm.withUnsafeBufferPointer { nb in
                    labels.withUnsafeMutableBufferPointer { lb in
                        partInertia.withUnsafeMutableBufferPointer { ib in
                            chunkSums.withUnsafeMutableBufferPointer { sb in
                                chunkCounts.withUnsafeMutableBufferPointer { kb in
                                    let x = xb.baseAddress!, c = cb.baseAddress!, cn = nb.baseAddress!
                                    let lab = lb.baseAddress!, ip = ib.baseAddress!
                                    let sbase = sb.baseAddress, kbase = kb.baseAddress   // not nil even when empty: check withSums
                                    let body = { (r: Range<Int>, _: Int) in
                                        for ch in r {
                                            let b0 = bounds[ch], end = bounds[ch + 1]
                                            let sp = withSums ? sbase! + ch * k * d : nil
                                            let cp = withSums ? kbase! + ch * k : nil
                                            do {
                                                ip[ch] = try S.kmeansChunk(rows: end - b0, dimension: d, x: x + b0 * ld, ldx: ld,
                                                                           transposed: xt + b0, ldxt: n, centers: k, c: c,
                                                                           cnorm: cn, labels: lab + b0, sums: sp, counts: cp)
                                            } catch {
                                                // only its small scratch can fail: the same formulas here
                                                ip[ch] = chunkStep(x + b0 * ld, ld: ld, rows: end - b0, d: d, k: k, c: c,
                                                                   cnorm: cn, labels: lab + b0, sums: sp, counts: cp)
                                            }
                                        }
                                    }
                                    // small work runs on the calling thread: a fork-join would cost more than it
                                    // saves (and waits for descheduled workers on a busy box); larger work in
                                    // pieces smaller than a chunk, so the threads get even shares
                                    let rows = bounds[nChunks] - bounds[0], work = rows * k * d
                                    if inline ?? (work < smallWork) || pool.threadCount == 1 {
                                        body(0..<nChunks, 0)
                                    } else if nChunks >= 4 * pool.threadCount {
                                        pool.parallelFor(0..<nChunks, schedule: .dynamic(chunk: 1), body)
                                    } else {
                                        splitStep(x: x, ld: ld, xt: xt, n: n, d: d, k: k, c: c, cnorm: cn, labels: lab,
                                                  bounds: bounds, inertia: ip, sums: withSums ? sbase : nil,
                                                  counts: withSums ? kbase : nil, pool: pool)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (partInertia, chunkSums, chunkCounts)
    }

    /// Rows per piece of a split assignment step (whole 16-row kernel blocks).
    static let piece = 512

    /// `assignChunks`' work in pieces of `piece` rows for any thread (`S.kmeansLabel`: labels and
    /// each row's error), then each chunk's inertia, sums and counts from them in row order
    /// (`S.kmeansAccumulate`): the bits of the fused chunk kernel, with every thread busy when
    /// there are fewer chunks than threads to share (n = 5000 is a 4096-row and a 904-row chunk).
    static func splitStep<S: ClusterScalar>(x: UnsafePointer<S>, ld: Int, xt: UnsafePointer<S>, n: Int, d: Int, k: Int,
                                            c: UnsafePointer<S>, cnorm: UnsafePointer<S>, labels: UnsafeMutablePointer<Int>,
                                            bounds: [Int], inertia: UnsafeMutablePointer<Double>,
                                            sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?,
                                            pool: ThreadPool) {
        let nChunks = bounds.count - 1
        var pieces: [(Int, Int)] = []
        for ch in 0..<nChunks {
            var r0 = bounds[ch]
            while r0 < bounds[ch + 1] { let r1 = min(bounds[ch + 1], r0 + piece); pieces.append((r0, r1)); r0 = r1 }
        }
        let errors = UnsafeMutablePointer<Double>.allocate(capacity: max(1, n))
        defer { errors.deallocate() }
        pieces.withUnsafeBufferPointer { pb in
            pool.parallelFor(0..<pb.count, schedule: .dynamic(chunk: 1)) { r, _ in
                for q in r {
                    let (r0, r1) = pb[q]
                    do {
                        try S.kmeansLabel(rows: r1 - r0, dimension: d, x: x + r0 * ld, ldx: ld, transposed: xt + r0, ldxt: n,
                                          centers: k, c: c, cnorm: cnorm, labels: labels + r0, errors: errors + r0)
                    } catch {
                        // only its small scratch can fail: the same formulas here
                        for i in r0..<r1 {
                            let best = nearestCentre(x + i * ld, d: d, k: k, c: c, cnorm: cnorm)
                            var e = 0.0
                            for t in 0..<d { let v = x[i * ld + t].double - c[best * d + t].double; e += v * v }
                            labels[i] = best; errors[i] = e
                        }
                    }
                }
            }
        }
        let accumulate = { (r: Range<Int>, _: Int) in
            for ch in r {
                let b0 = bounds[ch], m = bounds[ch + 1] - b0
                let sp = sums.map { $0 + ch * k * d }, cp = counts.map { $0 + ch * k }
                // labels come from the kernel (0..<k): this cannot fail
                inertia[ch] = (try? S.kmeansAccumulate(rows: m, dimension: d, x: x + b0 * ld, ldx: ld, centers: k,
                                                       labels: labels + b0, errors: errors + b0, sums: sp, counts: cp)) ?? .nan
            }
        }
        if nChunks == 1 || (sums == nil && nChunks < 4) { accumulate(0..<nChunks, 0) }
        else { pool.parallelFor(0..<nChunks, schedule: .dynamic(chunk: 1), accumulate) }
    }

    /// The kernel's formulas in Swift for one chunk (the fallback when its scratch cannot be
    /// allocated): labels by `nearestCentre`, inertia Σ_i Σ_t (x − c)² in row and feature order,
    /// sums and counts added in row order.
    static func chunkStep<S: ClusterScalar>(_ x: UnsafePointer<S>, ld: Int, rows: Int, d: Int, k: Int, c: UnsafePointer<S>,
                                            cnorm: UnsafePointer<S>, labels: UnsafeMutablePointer<Int>,
                                            sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?) -> Double {
        var inertia = 0.0
        for p in 0..<rows {
            let xp = x + p * ld
            let best = nearestCentre(xp, d: d, k: k, c: c, cnorm: cnorm)
            labels[p] = best
            var e = 0.0
            for t in 0..<d { let v = xp[t].double - c[best * d + t].double; e += v * v }
            inertia += e
            if let sums, let counts {
                for t in 0..<d { sums[best * d + t] += xp[t].double }
                counts[best] += 1
            }
        }
        return inertia
    }

    /// A transposed copy of the data (feature t of row i at `[t·n + i]`; the caller deallocates).
    static func transposedCopy<S: ClusterScalar>(_ data: Matrix<S>) -> UnsafeMutablePointer<S> {
        let n = data.rows, d = data.cols, ld = data.rowStride
        let xt = UnsafeMutablePointer<S>.allocate(capacity: n * d)
        // 64 rows at a time, feature by feature: contiguous writes from rows still in L1 (row by
        // row, each value went to another line of xt: 7 % of a fit at n = 5000, d = 20)
        data.withUnsafeBufferPointer { b in
            let x = b.baseAddress!
            for i0 in stride(from: 0, to: n, by: 64) {
                let i1 = min(n, i0 + 64)
                for t in 0..<d { for i in i0..<i1 { xt[t * n + i] = x[i * ld + t] } }
            }
        }
        return xt
    }

    /// Lloyd iterations (optionally with Hamerly's bounds) from `centers` (k·d, row-major); after
    /// each assignment step, empty clusters take the farthest points (`relocateEmptyClusters`).
    /// `control(iteration)` after each iteration: false stops and returns nil.
    static func lloyd<S: ClusterScalar>(_ data: Matrix<S>, k: Int, centers start: [S], maxIterations: Int,
                                        tolerance: Double, hamerly: Bool, pool: ThreadPool,
                                        control: ((Int) -> Bool)? = nil) throws(TesseraError) -> KMeansResult<S>? {
        let n = data.rows, d = data.cols
        var centers = start
        // two label buffers swapped at each step (a copy `oldLabels = labels` cost an 8n-byte
        // copy per step when the next step wrote into the shared buffer)
        var labels = [Int](repeating: -1, count: n)
        var oldLabels = [Int](repeating: -1, count: n)
        var sums = [Double](repeating: 0, count: k * d)
        var counts = [Int](repeating: 0, count: k)
        var history = [Double]()
        var iterations = 0
        var converged = false
        var relocated = 0
        let bounds = hamerly ? HamerlyBounds(n: n) : nil
        let xt = transposedCopy(data)
        defer { xt.deallocate() }
        var plan = StepPlan(splittable: n * k * d >= smallWork && pool.threadCount > 1)
        while iterations < maxIterations {
            iterations += 1
            swap(&labels, &oldLabels)
            // Hamerly's bounds start from the previous labels; Lloyd's step writes every label
            if hamerly { labels.withUnsafeMutableBufferPointer { l in oldLabels.withUnsafeBufferPointer { o in
                l.baseAddress!.update(from: o.baseAddress!, count: n) } } }
            let inertia: Double
            let stepStart = clusterNow()
            if let bounds {
                inertia = bounds.assign(data, k: k, centers: centers, labels: &labels, first: iterations == 1, pool: pool)
                computeSums(data, k: k, labels: labels, sums: &sums, counts: &counts)
            } else {
                inertia = sums.withUnsafeMutableBufferPointer { sb in
                    counts.withUnsafeMutableBufferPointer { cb in
                        assignStep(data, k: k, centers: centers, labels: &labels, sums: sb.baseAddress!, counts: cb.baseAddress!,
                                   pool: pool, transposed: xt, inline: plan.inline)
                    }
                }
                plan.record(clusterNow() - stepStart)
            }
            if !hamerly { history.append(inertia) }
            relocated += relocateEmptyClusters(data, k: k, centers: centers, labels: labels, sums: &sums, counts: &counts,
                                               pool: pool)
            let (newCenters, shift) = movedCenters(centers, sums: sums, count: { Double(counts[$0]) }, k: k, d: d)
            bounds?.moved(from: centers, to: newCenters, labels: labels, k: k, d: d)
            centers = newCenters
            if let control, !control(iterations) { return nil }
            if labels == oldLabels { converged = true; break }
            if shift <= tolerance { converged = true; break }
        }
        // final assignment to the final centres (scikit-learn's last E-step)
        let inertia = assignStep(data, k: k, centers: centers, labels: &labels, sums: nil, counts: nil, pool: pool,
                                 transposed: xt, inline: plan.inline)
        if hamerly { history.append(inertia) }
        let cm = try Matrix(rows: k, cols: d, elements: centers)
        return KMeansResult(centers: cm, labels: labels, inertia: inertia, iterations: iterations,
                            inertiaHistory: history, converged: converged, relocatedClusters: relocated, seconds: 0)
    }

    /// The kernel's formula for one row: argmin_c cnorm[c] − 2·(fma chain of x · c_c), first lowest.
    static func nearestCentre<S: ClusterScalar>(_ x: UnsafePointer<S>, d: Int, k: Int, c: UnsafePointer<S>,
                                                cnorm: UnsafePointer<S>) -> Int {
        var best = 0, bv = S.infinity
        for cc in 0..<k {
            var dot: S = 0
            for t in 0..<d { dot.addProduct(x[t], c[cc * d + t]) }
            let v = cnorm[cc] - 2 * dot
            if v < bv { bv = v; best = cc }
        }
        return best
    }

    static func computeSums<S: ClusterScalar>(_ data: Matrix<S>, k: Int, labels: [Int], sums: inout [Double], counts: inout [Int]) {
        let d = data.cols, ld = data.rowStride
        for i in 0..<(k * d) { sums[i] = 0 }
        for c in 0..<k { counts[c] = 0 }
        data.withUnsafeBufferPointer { xb in
            for i in 0..<data.rows {
                let c = labels[i]
                counts[c] += 1
                for t in 0..<d { sums[c * d + t] += Double(xb[i * ld + t]) }
            }
        }
    }
}

/// Where the Lloyd loop runs its next assignment step: on the calling thread or over the pool
/// (the same bits either way). Above `KMeans.smallWork` a step is split by default, but on a box
/// whose other cores are busy a split step waits for a descheduled worker (measured 3–5x the
/// time of a step on the caller, against 0.6x on idle cores). So the loop times its steps: the
/// first two steps are split (the first one not timed), the third runs on the caller, then each
/// step goes the way whose latest step was faster, and every 16th step tries the other way again.
struct StepPlan {
    /// Whether the next step runs on the calling thread.
    private(set) var inline: Bool
    private let adaptive: Bool
    private var latest = (split: Double.infinity, inline: Double.infinity)
    private var steps = 0

    /// `splittable`: the work is above the threshold and the pool has more than one thread.
    init(splittable: Bool) {
        inline = !splittable
        adaptive = splittable
    }

    /// Records the seconds of the step just run and picks the next step's way. The first step
    /// is not a sample: it wakes the workers (asleep after 0.2 ms idle, e.g. between fits) and
    /// brings the data into cache, and judged by it the split lost to the caller for 15 steps.
    mutating func record(_ seconds: Double) {
        guard adaptive else { return }
        steps += 1
        if steps == 1 { return }
        if inline { latest.inline = seconds } else { latest.split = seconds }
        if steps == 2 || steps % 16 == 0 { inline.toggle() } else { inline = latest.inline < latest.split }
    }
}

/// Hamerly's bounds: `upper[i]` ≥ distance to the assigned centre, `lower[i]` ≤ distance to
/// every other centre. A point is re-examined only when its upper bound exceeds
/// max(lower bound, half the distance from its centre to the nearest other centre).
final class HamerlyBounds {
    var upper: [Double]
    var lower: [Double]
    init(n: Int) {
        upper = [Double](repeating: .infinity, count: n)
        lower = [Double](repeating: 0, count: n)
    }

    func assign<S: ClusterScalar>(_ data: Matrix<S>, k: Int, centers: [S], labels: inout [Int], first: Bool,
                                  pool: ThreadPool) -> Double {
        let n = data.rows, d = data.cols, ld = data.rowStride
        // half the distance from each centre to its nearest other centre
        var half = [Double](repeating: .infinity, count: k)
        for a in 0..<k {
            for b in 0..<k where b != a {
                var s = 0.0
                for t in 0..<d { let v = Double(centers[a * d + t]) - Double(centers[b * d + t]); s += v * v }
                half[a] = min(half[a], 0.5 * s.squareRoot())
            }
        }
        data.withUnsafeBufferPointer { xb in
            centers.withUnsafeBufferPointer { cb in
                labels.withUnsafeMutableBufferPointer { lb in
                    upper.withUnsafeMutableBufferPointer { ub in
                        lower.withUnsafeMutableBufferPointer { wb in
                            let x = xb.baseAddress!, c = cb.baseAddress!
                            pool.parallelFor(0..<n, schedule: .dynamic(chunk: 1024)) { r, _ in
                                for i in r {
                                    @inline(__always) func dist(_ cc: Int) -> Double {
                                        var s = 0.0
                                        let xp = x + i * ld, cp = c + cc * d
                                        for t in 0..<d { let v = Double(xp[t]) - Double(cp[t]); s += v * v }
                                        return s.squareRoot()
                                    }
                                    if !first {
                                        let a = lb[i]
                                        let m = max(half[a], wb[i])
                                        if ub[i] <= m { continue }
                                        ub[i] = dist(a)
                                        if ub[i] <= m { continue }
                                    }
                                    var b1 = 0, d1 = Double.infinity, d2 = Double.infinity
                                    for cc in 0..<k {
                                        let v = dist(cc)
                                        if v < d1 { d2 = d1; d1 = v; b1 = cc } else if v < d2 { d2 = v }
                                    }
                                    lb[i] = b1; ub[i] = d1; wb[i] = d2
                                }
                            }
                        }
                    }
                }
            }
        }
        return .nan
    }

    /// Widens the bounds after the centres moved: the upper bound by its centre's move, the
    /// lower bound by the largest move of any other centre.
    func moved<S: ClusterScalar>(from old: [S], to new: [S], labels: [Int], k: Int, d: Int) {
        var move = [Double](repeating: 0, count: k)
        for c in 0..<k {
            var s = 0.0
            for t in 0..<d { let v = Double(new[c * d + t]) - Double(old[c * d + t]); s += v * v }
            move[c] = s.squareRoot()
        }
        var m1 = 0, m1v = 0.0, m2v = 0.0
        for c in 0..<k {
            if move[c] > m1v { m2v = m1v; m1v = move[c]; m1 = c } else if move[c] > m2v { m2v = move[c] }
        }
        for i in 0..<upper.count {
            let a = labels[i]
            upper[i] += move[a]
            lower[i] -= a == m1 ? m2v : m1v
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
