// The Gaussian-mixture and PPP part of include/tessera/cluster.h: `@_cdecl` functions over
// TesseraCluster's GaussianMixture and PPP. Struct mirrors follow the header field by field.
import Tessera
import TesseraCluster

struct GMMParams {
    var size: UInt32
    var covariance: Int32
    var initialization: Int32
    var maxIter: Int64
    var tol: Double
    var regCovar: Double
    var seed: UInt64
    var threads: Int32
}

struct GMMResultC {
    var size: UInt32
    var logLikelihood: Double
    var bic: Double
    var iterations: Int64
    var converged: Int32
    var parameterCount: Int64
}

struct PPPParams {
    var size: UInt32
    var kMin: Int64
    var kMax: Int64
    var covariance: Int32
    var restarts: Int64
    var minAgreement: Double
    var threads: Int32
}

struct PPPCandidateC {
    var k: Int64
    var inertia: Double
    var bic: Double
    var agreement: Double
    var logLikelihood: Double
}

struct PPPResultC {
    var size: UInt32
    var k: Int64
    var candidates: Int64
    var inertia: Double
    var logLikelihood: Double
    var bic: Double
}

private func covarianceType(_ c: Int32, _ what: String) throws(TesseraError) -> CovarianceType {
    switch c {
    case 0: return .full
    case 1: return .diagonal
    default: throw .invalidArgument("\(what): covariance \(c) is not a tsr_gmm_covariance (0...1)")
    }
}

/// Reads a caller's params struct over `defaults`, checking its `size` field.
private func readParams<P>(_ given: UnsafeRawPointer?, _ defaults: P, _ size: (P) -> UInt32, _ name: String,
                       _ what: String) throws(TesseraError) -> P {
    guard let given else { return defaults }
    let p = given.assumingMemoryBound(to: P.self).pointee
    guard size(p) >= UInt32(MemoryLayout<P>.size) else {
        throw .invalidArgument("\(what): params->size \(size(p)) is smaller than sizeof(\(name)) = \(MemoryLayout<P>.size)")
    }
    return p
}

/// Checks a caller's result struct's `size` field and returns it typed.
private func resultSlot<R>(_ r: UnsafeMutableRawPointer?, _ size: (R) -> UInt32, _ name: String,
                           _ what: String) throws(TesseraError) -> UnsafeMutablePointer<R>? {
    guard let r else { return nil }
    let out = r.assumingMemoryBound(to: R.self)
    guard size(out.pointee) >= UInt32(MemoryLayout<R>.size) else {
        throw .invalidArgument("\(what): result->size \(size(out.pointee)) is smaller than sizeof(\(name)) = \(MemoryLayout<R>.size)")
    }
    return out
}

/// Writes k weights, k × d means and k covariances (d·d or d each) of `m`, each output optional.
private func writeMixture(_ m: GaussianMixture, weights: UnsafeMutablePointer<Double>?,
                          means: UnsafeMutablePointer<Double>?, covariances: UnsafeMutablePointer<Double>?) {
    let k = m.components, d = m.dimension
    let size = m.covarianceType == .full ? d * d : d
    for c in 0..<k {
        weights?[c] = m.weights[c]
        if let means { for t in 0..<d { means[c * d + t] = m.means[c][t] } }
        if let covariances { for t in 0..<size { covariances[c * size + t] = m.covariances[c][t] } }
    }
}

// MARK: Gaussian mixture

/// `tsr_gmm_params_default`: fills a `tsr_gmm_params` with scikit-learn's defaults; NULL-safe.
@_cdecl("tsr_gmm_params_default")
public func tsr_gmm_params_default(_ p: UnsafeMutableRawPointer?) {
    p?.assumingMemoryBound(to: GMMParams.self).pointee = gmmDefaults
}

private let gmmDefaults = GMMParams(size: UInt32(MemoryLayout<GMMParams>.size), covariance: 0, initialization: 0,
                                    maxIter: 100, tol: 1e-3, regCovar: 1e-6, seed: 0, threads: 0)

private func gmmFit<S: ClusterScalar>(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<S>?,
                                      _ ldx: Int64, _ k: Int64, _ initLabels: UnsafePointer<Int64>?,
                                      _ weights: UnsafeMutablePointer<Double>?, _ means: UnsafeMutablePointer<Double>?,
                                      _ covariances: UnsafeMutablePointer<Double>?, _ labels: UnsafeMutablePointer<Int64>?,
                                      _ result: UnsafeMutableRawPointer?) -> Int32 {
    let what = "tsr_gmm_fit"
    return guarded { () throws(TesseraError) in
        let p = try readParams(params, gmmDefaults, \.size, "tsr_gmm_params", what)
        try checkShape(what, n: n, d: d, ld: ldx, x: x)
        guard k >= 1, k <= n else { throw .invalidArgument("\(what): k must be in 1...\(n) (got \(k))") }
        let out = try resultSlot(result, { (r: GMMResultC) in r.size }, "tsr_gmm_result", what)
        let initialization: GaussianMixtureInitialization
        switch p.initialization {
        case 0: initialization = .kMeans
        case 1:
            guard let initLabels else { throw .invalidArgument("\(what): init is TSR_GMM_INIT_LABELS but init_labels is NULL") }
            initialization = .labels((0..<Int(n)).map { Int(truncatingIfNeeded: initLabels[$0]) })
        default: throw .invalidArgument("\(what): init \(p.initialization) is not a tsr_gmm_init (0...1)")
        }
        guard p.maxIter >= 1 else { throw .invalidArgument("\(what): max_iter must be >= 1 (got \(p.maxIter))") }
        let pool = try pool(p.threads, what)
        let data = try matrix(x!, n: Int(n), d: Int(d), ld: Int(ldx))
        let m = try GaussianMixture.fit(data, components: Int(k), options: .init(
            covariance: try covarianceType(p.covariance, what), initialization: initialization,
            maxIterations: Int(p.maxIter), tolerance: p.tol, regularization: p.regCovar, seed: p.seed, pool: pool))
        writeMixture(m, weights: weights, means: means, covariances: covariances)
        if let labels {
            let l = try m.predict(data)
            for i in 0..<Int(n) { labels[i] = Int64(l[i]) }
        }
        out?.pointee = GMMResultC(size: out!.pointee.size, logLikelihood: m.logLikelihood, bic: m.bic,
                                  iterations: Int64(m.iterations), converged: m.converged ? 1 : 0,
                                  parameterCount: Int64(m.parameterCount))
    }
}

/// `tsr_gmm_fit_f64`: a Gaussian mixture of k components fitted by EM to the n × d rows of `x`.
@_cdecl("tsr_gmm_fit_f64")
public func tsr_gmm_fit_f64(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Double>?, _ ldx: Int64,
                            _ k: Int64, _ initLabels: UnsafePointer<Int64>?, _ weights: UnsafeMutablePointer<Double>?,
                            _ means: UnsafeMutablePointer<Double>?, _ covariances: UnsafeMutablePointer<Double>?,
                            _ labels: UnsafeMutablePointer<Int64>?, _ result: UnsafeMutableRawPointer?) -> Int32 {
    gmmFit(params, n, d, x, ldx, k, initLabels, weights, means, covariances, labels, result)
}

/// `tsr_gmm_fit_f32`: as `tsr_gmm_fit_f64` with float data (the model stays double).
@_cdecl("tsr_gmm_fit_f32")
public func tsr_gmm_fit_f32(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Float>?, _ ldx: Int64,
                            _ k: Int64, _ initLabels: UnsafePointer<Int64>?, _ weights: UnsafeMutablePointer<Double>?,
                            _ means: UnsafeMutablePointer<Double>?, _ covariances: UnsafeMutablePointer<Double>?,
                            _ labels: UnsafeMutablePointer<Int64>?, _ result: UnsafeMutableRawPointer?) -> Int32 {
    gmmFit(params, n, d, x, ldx, k, initLabels, weights, means, covariances, labels, result)
}

private func gmmPredict<S: ClusterScalar>(_ n: Int64, _ d: Int64, _ x: UnsafePointer<S>?, _ ldx: Int64, _ k: Int64,
                                          _ covariance: Int32, _ weights: UnsafePointer<Double>?,
                                          _ means: UnsafePointer<Double>?, _ covariances: UnsafePointer<Double>?,
                                          _ labels: UnsafeMutablePointer<Int64>?, _ proba: UnsafeMutablePointer<Double>?,
                                          _ logDensity: UnsafeMutablePointer<Double>?) -> Int32 {
    guarded { () throws(TesseraError) in
        let what = "tsr_gmm_predict"
        try checkShape(what, n: n, d: d, ld: ldx, x: x)
        guard k >= 1 else { throw .invalidArgument("\(what): k must be >= 1 (got \(k))") }
        guard let weights, let means, let covariances else { throw .invalidArgument("\(what): weights, means or covariances is NULL") }
        let type = try covarianceType(covariance, what)
        let K = Int(k), D = Int(d), size = type == .full ? D * D : D
        let (_, o) = Int(k).multipliedReportingOverflow(by: size)
        guard !o else { throw .outOfRange("\(what): k x covariance size overflows") }
        let model = try GaussianMixture(
            weights: Array(UnsafeBufferPointer(start: weights, count: K)),
            means: (0..<K).map { c in Array(UnsafeBufferPointer(start: means + c * D, count: D)) },
            covariances: (0..<K).map { c in Array(UnsafeBufferPointer(start: covariances + c * size, count: size)) },
            covariance: type)
        let data = try matrix(x!, n: Int(n), d: D, ld: Int(ldx))
        if let labels {
            let l = try model.predict(data)
            for i in 0..<Int(n) { labels[i] = Int64(l[i]) }
        }
        if let proba {
            let p = try model.predictProbabilities(data)
            p.withUnsafeBufferPointer { b in
                for i in 0..<Int(n) { (proba + i * K).update(from: b.baseAddress! + i * p.rowStride, count: K) }
            }
        }
        if let logDensity {
            let s = try model.scoreSamples(data)
            for i in 0..<Int(n) { logDensity[i] = s[i] }
        }
    }
}

/// `tsr_gmm_predict_f64`: labels, posteriors and log-densities of n rows under a mixture given
/// by its parameters (as `tsr_gmm_fit_f64` wrote them).
@_cdecl("tsr_gmm_predict_f64")
public func tsr_gmm_predict_f64(_ n: Int64, _ d: Int64, _ x: UnsafePointer<Double>?, _ ldx: Int64, _ k: Int64,
                                _ covariance: Int32, _ weights: UnsafePointer<Double>?, _ means: UnsafePointer<Double>?,
                                _ covariances: UnsafePointer<Double>?, _ labels: UnsafeMutablePointer<Int64>?,
                                _ proba: UnsafeMutablePointer<Double>?, _ logDensity: UnsafeMutablePointer<Double>?) -> Int32 {
    gmmPredict(n, d, x, ldx, k, covariance, weights, means, covariances, labels, proba, logDensity)
}

/// `tsr_gmm_predict_f32`: as `tsr_gmm_predict_f64` with float data.
@_cdecl("tsr_gmm_predict_f32")
public func tsr_gmm_predict_f32(_ n: Int64, _ d: Int64, _ x: UnsafePointer<Float>?, _ ldx: Int64, _ k: Int64,
                                _ covariance: Int32, _ weights: UnsafePointer<Double>?, _ means: UnsafePointer<Double>?,
                                _ covariances: UnsafePointer<Double>?, _ labels: UnsafeMutablePointer<Int64>?,
                                _ proba: UnsafeMutablePointer<Double>?, _ logDensity: UnsafeMutablePointer<Double>?) -> Int32 {
    gmmPredict(n, d, x, ldx, k, covariance, weights, means, covariances, labels, proba, logDensity)
}

// MARK: PPP

private let pppDefaults = PPPParams(size: UInt32(MemoryLayout<PPPParams>.size), kMin: 1, kMax: 10, covariance: 0,
                                    restarts: 5, minAgreement: 0.9, threads: 0)

/// `tsr_ppp_params_default`: fills a `tsr_ppp_params` with the defaults; NULL-safe.
@_cdecl("tsr_ppp_params_default")
public func tsr_ppp_params_default(_ p: UnsafeMutableRawPointer?) {
    p?.assumingMemoryBound(to: PPPParams.self).pointee = pppDefaults
}

private func pppFit<S: ClusterScalar>(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<S>?,
                                      _ ldx: Int64, _ labels: UnsafeMutablePointer<Int64>?,
                                      _ centers: UnsafeMutablePointer<S>?, _ weights: UnsafeMutablePointer<Double>?,
                                      _ means: UnsafeMutablePointer<Double>?, _ covariances: UnsafeMutablePointer<Double>?,
                                      _ candidates: UnsafeMutableRawPointer?, _ result: UnsafeMutableRawPointer?) -> Int32 {
    let what = "tsr_ppp_fit"
    return guarded { () throws(TesseraError) in
        let p = try readParams(params, pppDefaults, \.size, "tsr_ppp_params", what)
        try checkShape(what, n: n, d: d, ld: ldx, x: x)
        guard p.kMin >= 1, p.kMax >= p.kMin, p.kMax <= Int64(Int32.max) else {
            throw .invalidArgument("\(what): need 1 <= k_min <= k_max (got \(p.kMin)...\(p.kMax))")
        }
        guard p.restarts >= 1 else { throw .invalidArgument("\(what): restarts must be >= 1 (got \(p.restarts))") }
        let out = try resultSlot(result, { (r: PPPResultC) in r.size }, "tsr_ppp_result", what)
        let pool = try pool(p.threads, what)
        let data = try matrix(x!, n: Int(n), d: Int(d), ld: Int(ldx))
        let r = try PPP.fit(data, options: .init(kRange: Int(p.kMin)...Int(p.kMax),
                                                 covariance: try covarianceType(p.covariance, what),
                                                 restarts: Int(p.restarts), minAgreement: p.minAgreement, pool: pool))
        if let labels { for i in 0..<Int(n) { labels[i] = Int64(r.labels[i]) } }
        if let centers {
            let c = r.kMeans.centers
            c.withUnsafeBufferPointer { b in
                for i in 0..<r.k { (centers + i * Int(d)).update(from: b.baseAddress! + i * c.rowStride, count: Int(d)) }
            }
        }
        writeMixture(r.mixture, weights: weights, means: means, covariances: covariances)
        if let candidates {
            let cand = candidates.assumingMemoryBound(to: PPPCandidateC.self)
            for (i, c) in r.candidates.enumerated() {
                cand[i] = PPPCandidateC(k: Int64(c.k), inertia: c.inertia, bic: c.bic, agreement: c.agreement,
                                        logLikelihood: c.logLikelihood)
            }
        }
        out?.pointee = PPPResultC(size: out!.pointee.size, k: Int64(r.k), candidates: Int64(r.candidates.count),
                                  inertia: r.kMeans.inertia, logLikelihood: r.mixture.logLikelihood, bic: r.mixture.bic)
    }
}

/// `tsr_ppp_fit_f64`: PPP chooses k in k_min...k_max and clusters the n × d rows of `x`.
@_cdecl("tsr_ppp_fit_f64")
public func tsr_ppp_fit_f64(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Double>?, _ ldx: Int64,
                            _ labels: UnsafeMutablePointer<Int64>?, _ centers: UnsafeMutablePointer<Double>?,
                            _ weights: UnsafeMutablePointer<Double>?, _ means: UnsafeMutablePointer<Double>?,
                            _ covariances: UnsafeMutablePointer<Double>?, _ candidates: UnsafeMutableRawPointer?,
                            _ result: UnsafeMutableRawPointer?) -> Int32 {
    pppFit(params, n, d, x, ldx, labels, centers, weights, means, covariances, candidates, result)
}

/// `tsr_ppp_fit_f32`: as `tsr_ppp_fit_f64` with float data and centres (the mixture stays double).
@_cdecl("tsr_ppp_fit_f32")
public func tsr_ppp_fit_f32(_ params: UnsafeRawPointer?, _ n: Int64, _ d: Int64, _ x: UnsafePointer<Float>?, _ ldx: Int64,
                            _ labels: UnsafeMutablePointer<Int64>?, _ centers: UnsafeMutablePointer<Float>?,
                            _ weights: UnsafeMutablePointer<Double>?, _ means: UnsafeMutablePointer<Double>?,
                            _ covariances: UnsafeMutablePointer<Double>?, _ candidates: UnsafeMutableRawPointer?,
                            _ result: UnsafeMutableRawPointer?) -> Int32 {
    pppFit(params, n, d, x, ldx, labels, centers, weights, means, covariances, candidates, result)
}
