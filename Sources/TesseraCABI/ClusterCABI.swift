// The C ABI of include/tessera/cluster.h: `@_cdecl` functions over TesseraCluster, built as the
// dynamic library libTesseraCABI.so (product TesseraCABI). The layouts of the parameter and result
// structs below mirror the header field by field (checked by python/tests and the C test of the
// header); the header is the reference. Every entry point validates its pointers and sizes, runs
// the Swift API and maps a TesseraError to a tsr_status plus a thread-local message.
import Tessera
import TesseraCluster
#if canImport(Glibc)
import Glibc
#endif

// MARK: mirrors of the header's structs (same field order and C types)

struct KMedoidsParams {
    var size: UInt32
    var method: Int32
    var initialization: Int32
    var metric: Int32
    var maxIter: Int64
    var seed: UInt64
    var shuffle: Int32
    var fastTolerance: Double
    var threads: Int32
}

struct KMedoidsResultC {
    var size: UInt32
    var loss: Double
    var initialLoss: Double
    var iterations: Int64
    var swaps: Int64
    var seconds: Double
}

struct CLARAParams {
    var size: UInt32
    var metric: Int32
    var samples: Int64
    var sampleSize: Int64
    var fast: Int32
    var maxIter: Int64
    var seed: UInt64
    var threads: Int32
}

struct KMeansParams {
    var size: UInt32
    var algorithm: Int32
    var initialization: Int32
    var nInit: Int64
    var maxIter: Int64
    var tol: Double
    var seed: UInt64
    var threads: Int32
}

struct KMeansResultC {
    var size: UInt32
    var inertia: Double
    var iterations: Int64
    var converged: Int32
    var seconds: Double
}

// MARK: shared checks

/// The pool for `threads` workers (0: nil, the shared pool). Pools are made once per count and
/// kept: creating one per call cost more than a small fit, and they do not bind threads to cores
/// (the caller's thread joins as worker 0; a Python interpreter's thread must not stay pinned).
func pool(_ threads: Int32, _ what: String) throws(TesseraError) -> ThreadPool? {
    guard threads >= 0 else { throw .invalidArgument("\(what): threads must be >= 0 (got \(threads))") }
    if threads == 0 { return nil }
    return try poolCache.pool(Int(threads))
}

private let poolCache = PoolCache()

private final class PoolCache: @unchecked Sendable {
    private var pools: [Int: ThreadPool] = [:]
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }

    func pool(_ n: Int) throws(TesseraError) -> ThreadPool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if let p = pools[n] { return p }
        let p = try ThreadPool(threads: n, binding: .none)
        pools[n] = p
        return p
    }
}

func checkShape(_ what: String, n: Int64, d: Int64, ld: Int64, x: UnsafeRawPointer?) throws(TesseraError) {
    guard x != nil else { throw .invalidArgument("\(what): x is NULL") }
    guard n >= 1 else { throw .invalidArgument("\(what): n must be >= 1 (got \(n))") }
    guard d >= 1 else { throw .invalidArgument("\(what): d must be >= 1 (got \(d))") }
    guard ld >= d else { throw .invalidArgument("\(what): ldx \(ld) is smaller than d = \(d)") }
    let (_, o1) = n.multipliedReportingOverflow(by: ld)
    guard !o1 else { throw .outOfRange("\(what): n x ldx = \(n) x \(ld) overflows") }
}

private func metric(_ m: Int32, _ what: String) throws(TesseraError) -> DistanceMetric? {
    switch m {
    case 0: return nil
    case 1: return .euclidean
    case 2: return .squaredEuclidean
    case 3: return .manhattan
    case 4: return .cosine
    default: throw .invalidArgument("\(what): metric \(m) is not a tsr_cluster_metric (0...4)")
    }
}

/// Copies n × d rows (stride ld) into a Matrix.
func matrix<S: ClusterScalar>(_ x: UnsafePointer<S>, n: Int, d: Int, ld: Int) throws(TesseraError) -> Matrix<S> {
    var m = try Matrix<S>(rows: n, cols: d)
    m.withUnsafeMutableBufferPointer { b in
        let dst = b.baseAddress!
        for i in 0..<n { (dst + i * d).update(from: x + i * ld, count: d) }
    }
    return m
}

private func writeKMedoids(_ r: KMedoidsResult, n: Int, medoids: UnsafeMutablePointer<Int64>?,
                           labels: UnsafeMutablePointer<Int64>?, result: UnsafeMutablePointer<KMedoidsResultC>?) throws(TesseraError) {
    if let medoids { for (i, m) in r.medoids.enumerated() { medoids[i] = Int64(m) } }
    if let labels { for i in 0..<n { labels[i] = Int64(r.labels[i]) } }
    if let result {
        guard result.pointee.size >= UInt32(MemoryLayout<KMedoidsResultC>.size) else {
            throw .invalidArgument("result->size \(result.pointee.size) is smaller than sizeof(tsr_kmedoids_result) = \(MemoryLayout<KMedoidsResultC>.size)")
        }
        result.pointee = KMedoidsResultC(size: result.pointee.size, loss: r.loss, initialLoss: r.initialLoss,
                                         iterations: Int64(r.iterations), swaps: Int64(r.swaps), seconds: r.seconds)
    }
}

// MARK: k-medoids

/// `tsr_kmedoids_params_default`: fills a `tsr_kmedoids_params` with the defaults; NULL-safe.
@_cdecl("tsr_kmedoids_params_default")
public func tsr_kmedoids_params_default(_ p: UnsafeMutableRawPointer?) {
    guard let p else { return }
    p.assumingMemoryBound(to: KMedoidsParams.self).pointee = KMedoidsParams(
        size: UInt32(MemoryLayout<KMedoidsParams>.size), method: 3, initialization: 0, metric: 1, maxIter: 100,
        seed: 0, shuffle: 0, fastTolerance: 1, threads: 0)
}

private func kmedoidsFit<S: ClusterScalar>(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<S>?,
                                           _ ldx: Int64, _ k: Int64, _ initMedoids: UnsafePointer<Int64>?,
                                           _ medoids: UnsafeMutablePointer<Int64>?, _ labels: UnsafeMutablePointer<Int64>?,
                                           _ result: UnsafeMutableRawPointer?) -> Int32 {
    let what = "tsr_kmedoids_fit"
    var p = KMedoidsParams(size: 0, method: 3, initialization: 0, metric: 1, maxIter: 100, seed: 0, shuffle: 0,
                           fastTolerance: 1, threads: 0)
    tsr_kmedoids_params_default(&p)
    if let params {
        let given = params.assumingMemoryBound(to: KMedoidsParams.self).pointee
        guard given.size >= UInt32(MemoryLayout<KMedoidsParams>.size) else {
            return invalid("\(what): params->size \(given.size) is smaller than sizeof(tsr_kmedoids_params) = \(MemoryLayout<KMedoidsParams>.size)")
        }
        p = given
    }
    return guarded { () throws(TesseraError) in
        try checkShape(what, n: n, d: d, ld: ldx, x: x)
        guard k >= 1, k <= n else { throw .invalidArgument("\(what): k must be in 1...\(n) (got \(k))") }
        let method: KMedoidsMethod
        switch p.method {
        case 0: method = .pam
        case 1: method = .fastPAM1
        case 2: method = .fastPAM2
        case 3: method = .fasterPAM
        case 4: method = .alternating
        default: throw .invalidArgument("\(what): method \(p.method) is not a tsr_kmedoids_method (0...4)")
        }
        let initialization: KMedoidsInitialization?
        switch p.initialization {
        case 0: initialization = nil
        case 1: initialization = .build
        case 2: initialization = .lab
        case 3: initialization = .random
        case 4:
            guard let initMedoids else { throw .invalidArgument("\(what): init is TSR_KMEDOIDS_INIT_GIVEN but init_medoids is NULL") }
            initialization = .medoids((0..<Int(k)).map { Int(initMedoids[$0]) })
        default: throw .invalidArgument("\(what): init \(p.initialization) is not a tsr_kmedoids_init (0...4)")
        }
        guard p.maxIter >= 0 else { throw .invalidArgument("\(what): max_iter must be >= 0 (got \(p.maxIter))") }
        let m = try metric(p.metric, what)
        let pool = try pool(p.threads, what)
        let dm: DistanceMatrix<S>
        if m == nil {
            guard d == n else { throw .invalidArgument("\(what): a precomputed dissimilarity matrix must be square (got \(n) x \(d))") }
            dm = try DistanceMatrix<S>.copying(x!, count: Int(n), rowStride: Int(ldx), pool: pool ?? .shared)
        } else {
            dm = try DistanceMatrix<S>(data: try matrix(x!, n: Int(n), d: Int(d), ld: Int(ldx)), metric: m!, pool: pool ?? .shared)
        }
        let options = KMedoidsOptions(method: method, initialization: initialization, maxIterations: Int(p.maxIter),
                                      seed: p.seed, shuffle: p.shuffle != 0, fastTolerance: p.fastTolerance, pool: pool)
        let r = try KMedoids.fit(dm, k: Int(k), options: options)
        try writeKMedoids(r, n: Int(n), medoids: medoids, labels: labels,
                          result: result?.assumingMemoryBound(to: KMedoidsResultC.self))
    }
}

/// `tsr_kmedoids_fit_f64`: k-medoids on the n × d rows of `x` (row stride `ldx`); writes k
/// medoid indices, n labels and the summary (each output may be NULL). Errors as in
/// include/tessera/cluster.h (TSR_EINVAL, TSR_ERANGE, TSR_ENOMEM for the n × n matrix).
@_cdecl("tsr_kmedoids_fit_f64")
public func tsr_kmedoids_fit_f64(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Double>?,
                                 _ ldx: Int64, _ k: Int64, _ initMedoids: UnsafePointer<Int64>?,
                                 _ medoids: UnsafeMutablePointer<Int64>?, _ labels: UnsafeMutablePointer<Int64>?,
                                 _ result: UnsafeMutableRawPointer?) -> Int32 {
    kmedoidsFit(params, n, d, x, ldx, k, initMedoids, medoids, labels, result)
}

/// `tsr_kmedoids_fit_f32`: as `tsr_kmedoids_fit_f64` with float data (distances and the
/// swap search in float).
@_cdecl("tsr_kmedoids_fit_f32")
public func tsr_kmedoids_fit_f32(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Float>?,
                                 _ ldx: Int64, _ k: Int64, _ initMedoids: UnsafePointer<Int64>?,
                                 _ medoids: UnsafeMutablePointer<Int64>?, _ labels: UnsafeMutablePointer<Int64>?,
                                 _ result: UnsafeMutableRawPointer?) -> Int32 {
    kmedoidsFit(params, n, d, x, ldx, k, initMedoids, medoids, labels, result)
}

// MARK: CLARA / CLARANS

/// `tsr_clara_params_default`: fills a `tsr_clara_params` with the defaults; NULL-safe.
@_cdecl("tsr_clara_params_default")
public func tsr_clara_params_default(_ p: UnsafeMutableRawPointer?) {
    guard let p else { return }
    p.assumingMemoryBound(to: CLARAParams.self).pointee = CLARAParams(
        size: UInt32(MemoryLayout<CLARAParams>.size), metric: 1, samples: 0, sampleSize: 0, fast: 1, maxIter: 100,
        seed: 0, threads: 0)
}

private func sampled(_ clarans: Bool, _ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Double>?,
                     _ ldx: Int64, _ k: Int64, _ medoids: UnsafeMutablePointer<Int64>?,
                     _ labels: UnsafeMutablePointer<Int64>?, _ result: UnsafeMutableRawPointer?) -> Int32 {
    let what = clarans ? "tsr_clarans_fit_f64" : "tsr_clara_fit_f64"
    var p = CLARAParams(size: 0, metric: 1, samples: 0, sampleSize: 0, fast: 1, maxIter: 100, seed: 0, threads: 0)
    tsr_clara_params_default(&p)
    if let params {
        let given = params.assumingMemoryBound(to: CLARAParams.self).pointee
        guard given.size >= UInt32(MemoryLayout<CLARAParams>.size) else {
            return invalid("\(what): params->size \(given.size) is smaller than sizeof(tsr_clara_params) = \(MemoryLayout<CLARAParams>.size)")
        }
        p = given
    }
    return guarded { () throws(TesseraError) in
        try checkShape(what, n: n, d: d, ld: ldx, x: x)
        guard k >= 1, k <= n else { throw .invalidArgument("\(what): k must be in 1...\(n) (got \(k))") }
        guard p.samples >= 0, p.sampleSize >= 0, p.maxIter >= 0 else {
            throw .invalidArgument("\(what): samples, sample_size and max_iter must be >= 0")
        }
        let m = try metric(p.metric, what)
        let pool = try pool(p.threads, what)
        let r: KMedoidsResult
        if m == nil {
            guard d == n else { throw .invalidArgument("\(what): a precomputed dissimilarity matrix must be square (got \(n) x \(d))") }
            let dm = try DistanceMatrix<Double>.copying(x!, count: Int(n), rowStride: Int(ldx), pool: pool ?? .shared)
            r = try run(dm)
        } else {
            r = try run(try DataDissimilarity(try matrix(x!, n: Int(n), d: Int(d), ld: Int(ldx)), metric: m!))
        }
        try writeKMedoids(r, n: Int(n), medoids: medoids, labels: labels,
                          result: result?.assumingMemoryBound(to: KMedoidsResultC.self))

        func run(_ source: some Dissimilarity) throws(TesseraError) -> KMedoidsResult {
            if clarans {
                return try SampledKMedoids.clarans(source, k: Int(k), options: .init(
                    restarts: p.samples == 0 ? 2 : Int(p.samples), maxNeighbors: p.sampleSize == 0 ? nil : Int(p.sampleSize),
                    fast: p.fast != 0, seed: p.seed, pool: pool))
            }
            return try SampledKMedoids.clara(source, k: Int(k), options: .init(
                samples: p.samples == 0 ? 5 : Int(p.samples), sampleSize: p.sampleSize == 0 ? nil : Int(p.sampleSize),
                fast: p.fast != 0, maxIterations: Int(p.maxIter), seed: p.seed, pool: pool))
        }
    }
}

/// `tsr_clara_fit_f64`: CLARA, k-medoids on samples with the best medoids over all points;
/// arguments and outputs as `tsr_kmedoids_fit_f64`, without an n × n matrix.
@_cdecl("tsr_clara_fit_f64")
public func tsr_clara_fit_f64(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Double>?,
                              _ ldx: Int64, _ k: Int64, _ medoids: UnsafeMutablePointer<Int64>?,
                              _ labels: UnsafeMutablePointer<Int64>?, _ result: UnsafeMutableRawPointer?) -> Int32 {
    sampled(false, params, n, d, x, ldx, k, medoids, labels, result)
}

/// `tsr_clarans_fit_f64`: CLARANS, a randomised swap search; arguments and outputs as
/// `tsr_clara_fit_f64`.
@_cdecl("tsr_clarans_fit_f64")
public func tsr_clarans_fit_f64(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Double>?,
                                _ ldx: Int64, _ k: Int64, _ medoids: UnsafeMutablePointer<Int64>?,
                                _ labels: UnsafeMutablePointer<Int64>?, _ result: UnsafeMutableRawPointer?) -> Int32 {
    sampled(true, params, n, d, x, ldx, k, medoids, labels, result)
}

// MARK: k-means

/// `tsr_kmeans_params_default`: fills a `tsr_kmeans_params` with the defaults; NULL-safe.
@_cdecl("tsr_kmeans_params_default")
public func tsr_kmeans_params_default(_ p: UnsafeMutableRawPointer?) {
    guard let p else { return }
    p.assumingMemoryBound(to: KMeansParams.self).pointee = KMeansParams(
        size: UInt32(MemoryLayout<KMeansParams>.size), algorithm: 0, initialization: 0, nInit: 1, maxIter: 300,
        tol: 1e-4, seed: 0, threads: 0)
}

private func kmeansFit<S: ClusterScalar>(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<S>?,
                                         _ ldx: Int64, _ k: Int64, _ initCenters: UnsafePointer<Double>?,
                                         _ centers: UnsafeMutablePointer<S>?, _ labels: UnsafeMutablePointer<Int64>?,
                                         _ result: UnsafeMutableRawPointer?) -> Int32 {
    let what = "tsr_kmeans_fit"
    var p = KMeansParams(size: 0, algorithm: 0, initialization: 0, nInit: 1, maxIter: 300, tol: 1e-4, seed: 0, threads: 0)
    tsr_kmeans_params_default(&p)
    if let params {
        let given = params.assumingMemoryBound(to: KMeansParams.self).pointee
        guard given.size >= UInt32(MemoryLayout<KMeansParams>.size) else {
            return invalid("\(what): params->size \(given.size) is smaller than sizeof(tsr_kmeans_params) = \(MemoryLayout<KMeansParams>.size)")
        }
        p = given
    }
    return guarded { () throws(TesseraError) in
        try checkShape(what, n: n, d: d, ld: ldx, x: x)
        guard k >= 1, k <= n else { throw .invalidArgument("\(what): k must be in 1...\(n) (got \(k))") }
        let algorithm: KMeansAlgorithm
        switch p.algorithm {
        case 0: algorithm = .lloyd
        case 1: algorithm = .hamerly
        default: throw .invalidArgument("\(what): algorithm \(p.algorithm) is not a tsr_kmeans_algorithm (0...1)")
        }
        let initialization: KMeansInitialization
        switch p.initialization {
        case 0: initialization = .kMeansPlusPlus
        case 1: initialization = .random
        case 2:
            guard let initCenters else { throw .invalidArgument("\(what): init is TSR_KMEANS_INIT_GIVEN but init_centers is NULL") }
            initialization = .centers((0..<Int(k)).map { i in (0..<Int(d)).map { initCenters[i * Int(d) + $0] } })
        default: throw .invalidArgument("\(what): init \(p.initialization) is not a tsr_kmeans_init (0...2)")
        }
        let pool = try pool(p.threads, what)
        let data = try matrix(x!, n: Int(n), d: Int(d), ld: Int(ldx))
        let r = try KMeans.fit(data, k: Int(k), options: .init(algorithm: algorithm, initialization: initialization,
                                                             nInit: Int(p.nInit), maxIterations: Int(p.maxIter),
                                                             tolerance: p.tol, seed: p.seed, pool: pool))
        if let centers {
            r.centers.withUnsafeBufferPointer { b in
                for i in 0..<Int(k) { (centers + i * Int(d)).update(from: b.baseAddress! + i * r.centers.rowStride, count: Int(d)) }
            }
        }
        if let labels { for i in 0..<Int(n) { labels[i] = Int64(r.labels[i]) } }
        if let result {
            let out = result.assumingMemoryBound(to: KMeansResultC.self)
            guard out.pointee.size >= UInt32(MemoryLayout<KMeansResultC>.size) else {
                throw .invalidArgument("\(what): result->size \(out.pointee.size) is smaller than sizeof(tsr_kmeans_result) = \(MemoryLayout<KMeansResultC>.size)")
            }
            out.pointee = KMeansResultC(size: out.pointee.size, inertia: r.inertia, iterations: Int64(r.iterations),
                                        converged: r.converged ? 1 : 0, seconds: r.seconds)
        }
    }
}

/// `tsr_kmeans_fit_f64`: k-means on the n × d rows of `x` (row stride `ldx`); writes k × d
/// centres (row-major, stride d), n labels and the summary (each output may be NULL).
/// Errors: TSR_EINVAL for bad sizes, k outside 1...n, NaN/inf, bad options or centres.
@_cdecl("tsr_kmeans_fit_f64")
public func tsr_kmeans_fit_f64(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Double>?,
                               _ ldx: Int64, _ k: Int64, _ initCenters: UnsafePointer<Double>?,
                               _ centers: UnsafeMutablePointer<Double>?, _ labels: UnsafeMutablePointer<Int64>?,
                               _ result: UnsafeMutableRawPointer?) -> Int32 {
    kmeansFit(params, n, d, x, ldx, k, initCenters, centers, labels, result)
}

/// `tsr_kmeans_fit_f32`: as `tsr_kmeans_fit_f64` with float data and centres (the initial
/// centres stay double).
@_cdecl("tsr_kmeans_fit_f32")
public func tsr_kmeans_fit_f32(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Float>?,
                               _ ldx: Int64, _ k: Int64, _ initCenters: UnsafePointer<Double>?,
                               _ centers: UnsafeMutablePointer<Float>?, _ labels: UnsafeMutablePointer<Int64>?,
                               _ result: UnsafeMutableRawPointer?) -> Int32 {
    kmeansFit(params, n, d, x, ldx, k, initCenters, centers, labels, result)
}

private func kmeansPredict<S: ClusterScalar>(_ n: Int64, _ d: Int64, _ x: UnsafePointer<S>?, _ ldx: Int64, _ k: Int64,
                                             _ centers: UnsafePointer<S>?, _ labels: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded { () throws(TesseraError) in
        let what = "tsr_kmeans_predict"
        try checkShape(what, n: n, d: d, ld: ldx, x: x)
        guard let centers, let labels else { throw .invalidArgument("\(what): centers or labels is NULL") }
        guard k >= 1 else { throw .invalidArgument("\(what): k must be >= 1 (got \(k))") }
        let data = try matrix(x!, n: Int(n), d: Int(d), ld: Int(ldx))
        let c = try matrix(centers, n: Int(k), d: Int(d), ld: Int(d))
        let l = try KMeans.predict(data, centers: c)
        for i in 0..<Int(n) { labels[i] = Int64(l[i]) }
    }
}

/// `tsr_kmeans_predict_f64`: the nearest of k centres (k × d, stride d) for each of the n
/// rows of `x`, written to `labels`. Errors: TSR_EINVAL.
@_cdecl("tsr_kmeans_predict_f64")
public func tsr_kmeans_predict_f64(_ n: Int64, _ d: Int64, _ x: UnsafePointer<Double>?, _ ldx: Int64, _ k: Int64,
                                   _ centers: UnsafePointer<Double>?, _ labels: UnsafeMutablePointer<Int64>?) -> Int32 {
    kmeansPredict(n, d, x, ldx, k, centers, labels)
}

/// `tsr_kmeans_predict_f32`: as `tsr_kmeans_predict_f64` with float data and centres.
@_cdecl("tsr_kmeans_predict_f32")
public func tsr_kmeans_predict_f32(_ n: Int64, _ d: Int64, _ x: UnsafePointer<Float>?, _ ldx: Int64, _ k: Int64,
                                   _ centers: UnsafePointer<Float>?, _ labels: UnsafeMutablePointer<Int64>?) -> Int32 {
    kmeansPredict(n, d, x, ldx, k, centers, labels)
}
