/// k-medoids clustering on an arbitrary dissimilarity matrix: PAM, FastPAM1, FastPAM2,
/// FasterPAM and Alternating (Schubert & Rousseeuw, SISAP 2019; Information Systems 2021).
public enum KMedoidsMethod: String, CaseIterable, Sendable {
    /// BUILD + the original SWAP: every (medoid, non-medoid) pair each iteration, O(k(n−k)²).
    case pam
    /// Same swaps and loss as PAM (ties broken identically), O(n²) per iteration.
    case fastPAM1 = "fastpam1"
    /// Up to k swaps per iteration, the best candidate of every medoid slot.
    case fastPAM2 = "fastpam2"
    /// Eager swaps: any improving swap is taken at once; random initialisation is enough.
    case fasterPAM = "fasterpam"
    /// k-means style: assign, then the medoid of each cluster; clearly worse loss.
    case alternating
}

/// How the first k medoids are chosen.
public enum KMedoidsInitialization: Sendable, Equatable {
    /// PAM BUILD: greedy, O(n²k), parallel over candidates.
    case build
    /// Linear approximative BUILD: each step looks at a random sample of 10 + ⌈√n⌉ points.
    case lab
    /// k distinct points, uniformly at random (from `seed`).
    case random
    /// These points (k distinct indices in 0..<n).
    case medoids([Int])
}

/// Progress of a long k-medoids run (one call per outer iteration).
public struct KMedoidsProgress: Sendable {
    /// The outer iteration just finished (from 1).
    public var iteration: Int
    /// Swaps made so far.
    public var swaps: Int
    /// The loss after this iteration.
    public var loss: Double
}

/// Options of ``KMedoids/fit(_:k:options:)``.
public struct KMedoidsOptions: Sendable {
    /// The swap strategy (FasterPAM by default).
    public var method: KMedoidsMethod
    /// nil: BUILD for PAM, FastPAM1/2 and Alternating; random for FasterPAM.
    public var initialization: KMedoidsInitialization?
    /// Outer iterations (PAM/FastPAM1: swaps; FastPAM2: batches; FasterPAM: passes over the data).
    public var maxIterations: Int
    /// Seed of random initialisation, LAB and FasterPAM's shuffle.
    public var seed: UInt64
    /// FasterPAM: process candidates in a random order from `seed` (as `rand_fasterpam`).
    public var shuffle: Bool
    /// FastPAM2: a later swap of an iteration is taken if its recomputed gain is at least
    /// (1 − fastTolerance) of the gain found in the pass (1: any improving swap).
    public var fastTolerance: Double
    /// nil: the shared pool.
    public var pool: ThreadPool?
    /// Called after each outer iteration that goes on, on the calling thread (the `async` fit reports `ProgressReport`s instead).
    public var progress: (@Sendable (KMedoidsProgress) -> Void)?

    /// Options with the defaults of FasterPAM: random initialisation, 100 iterations.
    public init(method: KMedoidsMethod = .fasterPAM, initialization: KMedoidsInitialization? = nil,
                maxIterations: Int = 100, seed: UInt64 = 0, shuffle: Bool = false, fastTolerance: Double = 1,
                pool: ThreadPool? = nil, progress: (@Sendable (KMedoidsProgress) -> Void)? = nil) {
        self.method = method
        self.initialization = initialization
        self.maxIterations = maxIterations
        self.seed = seed
        self.shuffle = shuffle
        self.fastTolerance = fastTolerance
        self.pool = pool
        self.progress = progress
    }
}

/// The outcome of a k-medoids run.
public struct KMedoidsResult: Sendable, Equatable {
    /// Indices of the k medoids; `labels[i]` is a position in this array.
    public var medoids: [Int]
    /// Cluster (medoid slot) of every point.
    public var labels: [Int]
    /// Total deviation Σ d(i, nearest medoid).
    public var loss: Double
    /// Loss right after initialisation.
    public var initialLoss: Double
    /// Outer iterations run.
    public var iterations: Int
    /// Swaps made (Alternating: medoid changes).
    public var swaps: Int
    /// Wall time of initialisation and of the whole run, seconds.
    public var initializationSeconds: Double
    /// Wall time of the whole run, seconds.
    public var seconds: Double

    /// Equal medoids, labels, loss, iterations and swaps (timings are ignored).
    public static func == (a: Self, b: Self) -> Bool {
        a.medoids == b.medoids && a.labels == b.labels && a.loss == b.loss && a.iterations == b.iterations && a.swaps == b.swaps
    }
}

/// k-medoids on a distance matrix: ``fit(_:k:options:)`` and ``assign(_:medoids:)``.
public enum KMedoids {
    /// Clusters the n objects of `matrix` around k medoids.
    ///
    /// Errors: k ≤ 0 or k > n, bad initial medoids (out of range, repeated, wrong count),
    /// maxIterations < 0, fastTolerance outside [0, 1].
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func fit<S: ClusterScalar>(_ matrix: DistanceMatrix<S>, k: Int,
                                             options: KMedoidsOptions = KMedoidsOptions()) throws(TesseraError) -> KMedoidsResult {
        let progress = options.progress
        return try fit(matrix, k: k, options: options, control: { progress?($0); return true })!
    }

    /// The fit, with `control` called after every outer iteration that goes on (instead of
    /// `options.progress`); when it returns false the fit stops and returns nil.
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    static func fit<S: ClusterScalar>(_ matrix: DistanceMatrix<S>, k: Int, options: KMedoidsOptions,
                                      control outer: @escaping (KMedoidsProgress) -> Bool) throws(TesseraError) -> KMedoidsResult? {
        var stopped = false
        let control: (KMedoidsProgress) -> Bool = { p in
            if outer(p) { return true }
            stopped = true
            return false
        }
        let n = matrix.count
        guard k >= 1 else { throw .invalidArgument("KMedoids: k must be >= 1 (got \(k))") }
        guard k <= n else { throw .invalidArgument("KMedoids: k = \(k) exceeds the number of objects n = \(n)") }
        guard options.maxIterations >= 0 else {
            throw .invalidArgument("KMedoids: maxIterations must be >= 0 (got \(options.maxIterations))")
        }
        guard options.fastTolerance >= 0, options.fastTolerance <= 1 else {
            throw .invalidArgument("KMedoids: fastTolerance must be in [0, 1] (got \(options.fastTolerance))")
        }
        let pool = options.pool ?? .shared
        let t0 = clusterNow()
        let initialization = options.initialization ?? (options.method == .fasterPAM ? .random : .build)
        if case .medoids(let m) = initialization { try validateMedoids(m, k: k, n: n) }

        if k == 1 {
            // the exact optimum: the point of least total distance
            let m = buildFirst(matrix, pool: pool)
            let loss = rowSum(matrix, m)
            var start = m
            if case .medoids(let given) = initialization { start = given[0] }
            let t = clusterNow() - t0
            return KMedoidsResult(medoids: [m], labels: [Int](repeating: 0, count: n), loss: loss,
                                  initialLoss: rowSum(matrix, start), iterations: 1, swaps: start == m ? 0 : 1,
                                  initializationSeconds: 0, seconds: t)
        }

        var rng = ClusterRandom(seed: options.seed)
        let initial: [Int]
        switch initialization {
        case .build: initial = build(matrix, k: k, pool: pool)
        case .lab: initial = lab(matrix, k: k, rng: &rng)
        case .random: initial = rng.sample(k, from: n)
        case .medoids(let m): initial = m
        }
        let state = MedoidState(matrix: matrix, medoids: initial, pool: pool)
        let initialLoss = state.loss
        let tInit = clusterNow() - t0
        var iterations = 0, swaps = 0
        switch options.method {
        case .pam: (iterations, swaps) = pamSwap(state, maxIterations: options.maxIterations, control: control)
        case .fastPAM1: (iterations, swaps) = fastPAM1(state, maxIterations: options.maxIterations, control: control)
        case .fastPAM2:
            (iterations, swaps) = fastPAM2(state, maxIterations: options.maxIterations, tolerance: options.fastTolerance,
                                           control: control)
        case .fasterPAM:
            let order = options.shuffle ? rng.permutation(n) : Array(0..<n)
            (iterations, swaps) = fasterPAM(state, order: order, maxIterations: options.maxIterations, control: control)
        case .alternating:
            (iterations, swaps) = alternating(state, maxIterations: options.maxIterations, control: control)
        }
        if stopped { return nil }
        return KMedoidsResult(medoids: state.medoids, labels: state.labels, loss: state.loss, initialLoss: initialLoss,
                              iterations: iterations, swaps: swaps, initializationSeconds: tInit,
                              seconds: clusterNow() - t0)
    }

    /// The loss (total deviation) of a medoid set, and the labels (nearest medoid slot, lowest slot on ties).
    @_specialize(where S == Float)
    @_specialize(where S == Double)
    public static func assign<S: ClusterScalar>(_ matrix: DistanceMatrix<S>, medoids: [Int]) throws(TesseraError) -> (labels: [Int], loss: Double) {
        try validateMedoids(medoids, k: medoids.count, n: matrix.count)
        var labels = [Int](repeating: 0, count: matrix.count)
        var loss = 0.0
        for j in 0..<matrix.count {
            var best = 0
            var bd = medoids[0] == j ? 0 : matrix.distance(j, medoids[0])
            for m in 1..<medoids.count {
                let v = medoids[m] == j ? 0 : matrix.distance(j, medoids[m])
                if v < bd || (medoids[m] == j && medoids[best] != j) { bd = v; best = m }
            }
            labels[j] = best
            loss += bd
        }
        return (labels, loss)
    }

    static func validateMedoids(_ m: [Int], k: Int, n: Int) throws(TesseraError) {
        guard m.count == k else { throw .invalidArgument("KMedoids: \(m.count) initial medoids given for k = \(k)") }
        guard !m.isEmpty else { throw .invalidArgument("KMedoids: no medoids given") }
        var seen = Set<Int>()
        for i in m {
            guard i >= 0, i < n else { throw .invalidArgument("KMedoids: medoid index \(i) is not in 0..<\(n)") }
            guard seen.insert(i).inserted else { throw .invalidArgument("KMedoids: medoid \(i) is given twice") }
        }
    }

    static func rowSum<S: ClusterScalar>(_ d: DistanceMatrix<S>, _ i: Int) -> Double {
        let row = d.pointer + i * d.count
        var s = 0.0
        for j in 0..<d.count { s += row[j].double }
        return s
    }

    /// Improvement threshold: a swap must lower the loss by more than this (guards against
    /// swaps that only shuffle rounding noise, and against float cycling).
    @inline(__always) static func threshold(_ loss: Double) -> Double { -1e-12 * loss }
}

@inline(__always) func clusterNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

#if canImport(Glibc)
import Glibc
#endif
