import COpenBLAS
import Foundation
import Tessera
import TesseraCluster

/// `tessera bench cluster`: FasterPAM against the `kmedoids` package (Rust, by the FasterPAM
/// authors) on the same float32 distance matrix and the same initial medoids (one thread: the
/// same sequential algorithm, so the same loss; all cores: its `par_fasterpam`), FastPAM1 against
/// our original PAM SWAP per iteration, BUILD against `kmedoids.pam_build`, the distance matrix
/// against its roofline floor max(FLOPs ÷ SGEMM rate, bytes ÷ write bandwidth of non-zero
/// data) measured in the same run (and scikit-learn's `euclidean_distances`), and k-means against scikit-learn's
/// `KMeans` (lloyd) from the same initial centres with the same iteration limit.
/// The Python peers run in one long-lived process (bench/cluster/peer.py), interleaved A B A B.
func runClusterBench(_ ctx: BenchContext) throws {
    let out = ctx.output
    let pool = ThreadPool.shared
    let threads = pool.threadCount
    let one = try ThreadPool(threads: 1)
    let repeats = ctx.quick ? 3 : 5
    let cases = ClusterBenchCases()
    let peer = ClusterPeer(note: out.note)
    if let v = peer?.call(["cmd": "versions"]) { out.note("peers: \(v)") } else { out.note("python peers unavailable: baselines are NaN") }
    let tmp = NSTemporaryDirectory() + "tessera-cluster-bench-\(getpid())"
    try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: tmp) }

    // ---- machine limits for the distance matrix, measured now
    let gn = ctx.quick ? 1024 : 2048
    let ga = [Float](repeating: 0.5, count: gn * gn), gb = [Float](repeating: 0.25, count: gn * gn)
    var gc = [Float](repeating: 0, count: gn * gn)
    let gemm = measure(repeats: 3, warmup: 1) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(gn), Int32(gn), Int32(gn), 1, ga, Int32(gn), gb, Int32(gn), 0, &gc, Int32(gn))
    }
    let sgemmRate = 2 * pow(Double(gn), 3) / gemm.median   // FLOP/s

    let sets: [(n: Int, d: Int, blobs: Int)] = ctx.quick ? [(2000, 8, 20)] : [(10_000, 8, 100), (5_000, 20, 50), (8_192, 32, 64)]
    for set in sets {
        let (n, d) = (set.n, set.d)
        let data = try benchBlobs(n: n, d: d, blobs: set.blobs, seed: 1)
        let dataPath = tmp + "/data.f32"
        try writeFloats(data.toArray(), to: dataPath)
        _ = peer?.call(["cmd": "load_data", "path": dataPath, "n": n, "d": d])

        // the matrix cases need the matrix (and the distance row its floor's probes); k-means alone
        // skips them (at n = 10000 the matrix and the write probe's buffer are 400 MB each)
        let needMatrix = cases.has("distance") || cases.has("clarans") || cases.has("fastclarans") || cases.has("fasterpam")
        let matrix = needMatrix ? try DistanceMatrix(data: data, metric: .euclidean, pool: pool) : nil
        if cases.has("distance"), let matrix {
        let (zeroFill, write) = writeProbe(floats: n * n, pool: pool, repeats: repeats)
        let bytes = Double(n * n * 4)
        let writeBW = bytes / write.median
        let flops = Double(n) * Double(n) * Double(d)   // half the pairs, 2 flops per term
        let floor = max(flops / sgemmRate, bytes / writeBW)
        let (dm, dmPeer) = try interleave(repeats: repeats, warm: true, ours: {
            let t = benchNow(); try matrix.recompute(from: data, metric: .euclidean, pool: pool); return benchNow() - t
        }, peer: peer.map { p in { p.seconds(["cmd": "pdist"]) } })
        out.emit(BenchRecord(
            name: "distance matrix euclidean f32 n=\(n) d=\(d) \(threads)t", unit: "s", ours: dm.median,
            baselineName: "sklearn euclidean_distances", baseline: dmPeer.median,
            limitName: "floor max(flops/sgemm, bytes/write_bw)", limit: floor, fraction: floor / dm.median, threads: threads,
            extra: ["ours_min": dm.min, "ours_max": dm.max, "sgemm_gflops": sgemmRate / 1e9, "write_gbs": writeBW / 1e9,
                    "gbs": bytes / dm.median / 1e9, "floor_gemm_s": flops / sgemmRate, "floor_write_s": bytes / writeBW,
                    "write_zero_gbs": bytes / zeroFill.median / 1e9,
                    "loadavg": loadAverage()]))
        }

        // the third shape is there for the distance matrix only (the symmetric form: d >= 16, n % 16 == 0)
        if set.d == 32 { continue }
        if let matrix {
            let matPath = tmp + "/diss.f32"
            try matrix.withUnsafeBufferPointer { b in try writeFloats(Array(b), to: matPath) }
            _ = peer?.call(["cmd": "load_matrix", "path": matPath, "n": n])
        }

        if (cases.has("clarans") || cases.has("fastclarans")) && (n == 10_000 || ctx.quick) {
            try claransRows(ctx, data: data, matrix: matrix!, k: ctx.quick ? 20 : 100, peer: peer, pool: pool,
                            original: cases.has("clarans"))
        }

        for k in [10, 100] {
            var rng = ClusterRandom(seed: 7)
            let start = rng.sample(k, from: n)
            var ourLoss1 = 0.0, peerLoss1 = Double.nan, ourLossT = 0.0, peerLossT = Double.nan
            var ourIter = 0, ourSwaps = 0
            if cases.has("fasterpam") {
            let opts1 = KMedoidsOptions(method: .fasterPAM, initialization: .medoids(start), pool: one)
            let (f1, p1) = try interleave(repeats: repeats, ours: {
                let r = try KMedoids.fit(matrix!, k: k, options: opts1)
                ourLoss1 = r.loss; ourIter = r.iterations; ourSwaps = r.swaps
                return r.seconds
            }, peer: peer.map { p in {
                let r = p.call(["cmd": "fasterpam", "medoids": start, "n_cpu": 1])
                peerLoss1 = (r?["loss"] as? Double) ?? .nan
                return (r?["seconds"] as? Double) ?? .nan
            } })
            out.emit(BenchRecord(
                name: "fasterpam n=\(n) d=\(d) k=\(k) 1t", unit: "s", ours: f1.median,
                baselineName: "kmedoids.fasterpam n_cpu=1 (same start)", baseline: p1.median, threads: 1,
                extra: ["loss": ourLoss1, "baseline_loss": peerLoss1, "error": (ourLoss1 - peerLoss1) / peerLoss1,
                        "iterations": Double(ourIter), "swaps": Double(ourSwaps), "ours_min": f1.min, "ours_max": f1.max]))
            let optsT = KMedoidsOptions(method: .fasterPAM, initialization: .medoids(start), pool: pool)
            let (fT, pT) = try interleave(repeats: repeats, ours: {
                let r = try KMedoids.fit(matrix!, k: k, options: optsT)
                ourLossT = r.loss
                return r.seconds
            }, peer: peer.map { p in {
                let r = p.call(["cmd": "fasterpam", "medoids": start, "n_cpu": threads, "seed": 7])
                peerLossT = (r?["loss"] as? Double) ?? .nan
                return (r?["seconds"] as? Double) ?? .nan
            } })
            out.emit(BenchRecord(
                name: "fasterpam n=\(n) d=\(d) k=\(k) \(threads)t", unit: "s", ours: fT.median,
                baselineName: "kmedoids.par_fasterpam n_cpu=\(threads)", baseline: pT.median, threads: threads,
                extra: ["loss": ourLossT, "baseline_loss": peerLossT, "error": (ourLossT - peerLossT) / peerLossT,
                        "parallel_speedup_vs_ours_1t": f1.median / fT.median, "ours_min": fT.min, "ours_max": fT.max]))
            }
            guard cases.has("kmeans") else { continue }

            // k-means from the same initial centres (k random data rows), same iteration cap, tol = 0;
            // both sides relocate the clusters a step leaves empty (to the farthest points)
            var irng = ClusterRandom(seed: 11)
            let initIdx = irng.sample(k, from: n)
            let centers = initIdx.map { data.row($0).map(Double.init) }
            let cPath = tmp + "/centers.f32"
            try writeFloats(centers.flatMap { $0.map(Float.init) }, to: cPath)
            let maxIter = 30
            var ourInertia = 0.0, peerInertia = Double.nan, peerInertia64 = Double.nan, ourIt = 0, peerIt = 0.0
            var relocated = 0
            let (km, kmPeer) = try interleave(repeats: repeats, warm: true, ours: {
                let t = benchNow()
                let r = try KMeans.fit(data, k: k, options: .init(initialization: .centers(centers), maxIterations: maxIter,
                                                                  tolerance: 0, pool: pool))
                let s = benchNow() - t
                ourInertia = r.inertia; ourIt = r.iterations; relocated = r.relocatedClusters
                return s
            }, peer: peer.map { p in {
                let r = p.call(["cmd": "kmeans", "centers": cPath, "k": k, "max_iter": maxIter])
                peerInertia = (r?["inertia"] as? Double) ?? .nan
                peerInertia64 = (r?["inertia_f64"] as? Double) ?? .nan
                peerIt = (r?["n_iter"] as? Double) ?? .nan
                return (r?["seconds"] as? Double) ?? .nan
            } })
            // the loss of scikit-learn's partition in float64 (its own inertia is a float32 sum)
            let lossError = (ourInertia - peerInertia64) / peerInertia64
            out.emit(BenchRecord(
                name: "kmeans lloyd f32 n=\(n) d=\(d) k=\(k) \(threads)t", unit: "s", ours: km.median,
                baselineName: "sklearn KMeans lloyd (same init, tol=0)", baseline: kmPeer.median, threads: threads,
                extra: ["inertia": ourInertia, "baseline_inertia": peerInertia, "error": (ourInertia - peerInertia) / peerInertia,
                        "baseline_inertia_f64": peerInertia64, "error_f64": lossError,
                        "loss_equal": abs(lossError) <= kmeansLossTolerance && Double(ourIt) == peerIt ? 1 : 0,
                        "relocated_clusters": Double(relocated), "iterations": Double(ourIt), "baseline_iterations": peerIt, "ours_min": km.min, "ours_max": km.max,
                        "baseline_min": kmPeer.min, "baseline_max": kmPeer.max, "loadavg": loadAverage()]))
        }
    }

    // ---- FastPAM1 vs the original PAM SWAP, one iteration at k = 100; BUILD vs kmedoids.pam_build
    guard cases.has("pam") else { peer?.close(); return }
    let nSmall = ctx.quick ? 1000 : 2000, kBig = 100
    let small = try benchBlobs(n: nSmall, d: 8, blobs: 20, seed: 2)
    let sm = try DistanceMatrix(data: small, metric: .euclidean, pool: pool)
    let smPath = tmp + "/small.f32"
    try sm.withUnsafeBufferPointer { b in try writeFloats(Array(b), to: smPath) }
    _ = peer?.call(["cmd": "load_matrix", "path": smPath, "n": nSmall])
    var buildMedoids: [Int] = []
    var ourBuildLoss = 0.0, peerBuildLoss = Double.nan
    let (bOurs, bPeer) = try interleave(repeats: repeats, ours: {
        let r = try KMedoids.fit(sm, k: kBig, options: .init(method: .fastPAM1, initialization: .build, maxIterations: 0, pool: pool))
        buildMedoids = r.medoids; ourBuildLoss = r.loss
        return r.initializationSeconds
    }, peer: peer.map { p in {
        let r = p.call(["cmd": "pam_build", "k": kBig])
        peerBuildLoss = (r?["loss"] as? Double) ?? .nan
        return (r?["seconds"] as? Double) ?? .nan
    } })
    out.emit(BenchRecord(name: "pam build n=\(nSmall) k=\(kBig) \(threads)t", unit: "s", ours: bOurs.median,
                         baselineName: "kmedoids.pam_build", baseline: bPeer.median, threads: threads,
                         extra: ["loss": ourBuildLoss, "baseline_loss": peerBuildLoss, "error": (ourBuildLoss - peerBuildLoss) / peerBuildLoss]))
    var rs = ClusterRandom(seed: 5)
    let randomStart = rs.sample(kBig, from: nSmall)
    var ourPamLoss = 0.0, peerPamLoss = Double.nan, samePam = false, peerMedoids: [Int] = []
    let (pamOurs, pamPeer) = try interleave(repeats: ctx.quick ? 1 : 3, ours: {
        let r = try KMedoids.fit(sm, k: kBig, options: .init(method: .pam, initialization: .medoids(randomStart), maxIterations: 1, pool: one))
        ourPamLoss = r.loss
        samePam = r.medoids.sorted() == peerMedoids.sorted()
        return r.seconds
    }, peer: peer.map { p in {
        let r = p.call(["cmd": "pam", "medoids": randomStart, "max_iter": 1])
        peerPamLoss = (r?["loss"] as? Double) ?? .nan
        peerMedoids = (r?["medoids"] as? [Int]) ?? []
        return (r?["seconds"] as? Double) ?? .nan
    } })
    out.emit(BenchRecord(name: "pam swap, 1 iteration n=\(nSmall) k=\(kBig) 1t", unit: "s", ours: pamOurs.median,
                         baselineName: "kmedoids.pam max_iter=1 (same start)", baseline: pamPeer.median, threads: 1,
                         extra: ["loss": ourPamLoss, "baseline_loss": peerPamLoss, "error": (ourPamLoss - peerPamLoss) / peerPamLoss,
                                 "same_medoids": samePam ? 1 : 0, "ours_min": pamOurs.min, "ours_max": pamOurs.max,
                                 "baseline_min": pamPeer.min, "baseline_max": pamPeer.max, "loadavg": loadAverage()]))
    let (fp1, pam) = try measurePairs(repeats: ctx.quick ? 1 : 3, warmup: 0, ours: {
        _ = try KMedoids.fit(sm, k: kBig, options: .init(method: .fastPAM1, initialization: .medoids(randomStart), maxIterations: 1, pool: one))
    }, baseline: {
        _ = try KMedoids.fit(sm, k: kBig, options: .init(method: .pam, initialization: .medoids(randomStart), maxIterations: 1, pool: one))
    })
    out.emit(BenchRecord(name: "fastpam1 vs pam swap, 1 iteration n=\(nSmall) k=\(kBig) 1t", unit: "s", ours: fp1.median,
                         baselineName: "original PAM SWAP (ours, O(k(n-k)^2))", baseline: pam.median, threads: 1))
    _ = buildMedoids
    peer?.close()
}

/// CLARANS and FastCLARANS with distances on demand (as `tessera cluster` runs them) against
/// scikit-clarans on the same data (its defaults: 2 restarts, the same neighbour budgets), and
/// FastCLARANS on the precomputed matrix (the on-demand goal: within 1.5× of it). Loss beside time.
private func claransRows(_ ctx: BenchContext, data: Matrix<Float>, matrix: DistanceMatrix<Float>, k: Int,
                         peer: ClusterPeer?, pool: ThreadPool, original: Bool) throws {
    let out = ctx.output
    let (n, d) = (data.rows, data.cols)
    let source = try DataDissimilarity(data, metric: .euclidean)
    let repeats = ctx.quick ? 1 : 3
    for fast in original ? [true, false] : [true] {
        let name = fast ? "fastclarans" : "clarans"
        var ourLoss = 0.0, peerLoss = Double.nan, swaps = 0
        let (ours, theirs) = try interleave(repeats: repeats, ours: {
            let r = try SampledKMedoids.clarans(source, k: k, options: .init(fast: fast, seed: 3, pool: pool))
            ourLoss = r.loss; swaps = r.swaps
            return r.seconds
        }, peer: peer.map { p in {
            let r = p.call(["cmd": "clarans", "k": k, "fast": fast, "seed": 3])
            peerLoss = (r?["loss"] as? Double) ?? .nan
            return (r?["seconds"] as? Double) ?? .nan
        } })
        var limitName: String?, limit: Double?, fraction: Double?
        var extra: [String: Double] = ["loss": ourLoss, "baseline_loss": peerLoss, "error": (ourLoss - peerLoss) / peerLoss,
                                       "swaps": Double(swaps), "ours_min": ours.min, "ours_max": ours.max,
                                       "baseline_min": theirs.min, "baseline_max": theirs.max, "loadavg": loadAverage()]
        if fast {
            // the same search on the stored matrix: the on-demand run's floor
            let pre = measure(repeats: repeats, warmup: 0) {
                _ = try? SampledKMedoids.clarans(matrix, k: k, options: .init(fast: true, seed: 3, pool: pool))
            }
            limitName = "ours on the precomputed matrix"; limit = pre.median; fraction = pre.median / ours.median
            extra["precomputed_min"] = pre.min; extra["precomputed_max"] = pre.max
        }
        out.emit(BenchRecord(name: "\(name) on-demand f32 n=\(n) d=\(d) k=\(k) \(pool.threadCount)t", unit: "s", ours: ours.median,
                             baselineName: "scikit-clarans \(fast ? "FastCLARANS" : "CLARANS") (k-medoids++ init, 2 restarts)",
                             baseline: theirs.median, limitName: limitName, limit: limit, fraction: fraction,
                             threads: pool.threadCount, extra: extra))
    }
}

/// The k-means rows' `loss_equal`: our inertia within this relative distance of scikit-learn's
/// partition's inertia in float64, after as many iterations. Float32 data: both sides round
/// the centres to float32 (scikit-learn also sums in float32), so equal partitions differ by
/// about 1e-7 to 1e-6; the partition reached by keeping empty clusters' centres was 27 % above
/// scikit-learn's at n = 5000, d = 20, k = 100 (round 6).
private let kmeansLossTolerance = 1e-5

/// Write bandwidth: a buffer of `floats` floats (faulted in first) filled on the pool with a
/// non-zero byte, and with zeros beside it. A zero fill is not a valid probe here: on this machine
/// memset(0) runs about twice as fast as the same memset with any other byte (and as streaming
/// stores of non-zero data), and a distance matrix is not zeros.
private func writeProbe(floats: Int, pool: ThreadPool, repeats: Int) -> (zero: TimingSummary, write: TimingSummary) {
    let threads = pool.threadCount
    var wbuf = [Float](repeating: 1, count: floats)
    func fill(_ byte: Int32) -> TimingSummary {
        measure(repeats: repeats, warmup: 1) {
            wbuf.withUnsafeMutableBytes { raw in
                let base = raw.baseAddress!, total = raw.count
                pool.parallelFor(0..<threads, schedule: .static) { r, _ in
                    for t in r {
                        let lo = total * t / threads, hi = total * (t + 1) / threads
                        memset(base + lo, byte, hi - lo)
                    }
                }
            }
        }
    }
    return (fill(0), fill(0x3f))
}

/// The 1-minute load average now (the box is shared: recorded beside every row).
private func loadAverage() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
          let first = text.split(separator: " ").first, let v = Double(first) else { return .nan }
    return v
}

/// The case groups `TESSERA_BENCH_CLUSTER_CASES` selects (comma-separated; default all):
/// distance, clarans (both CLARANS rows), fastclarans (FastCLARANS only), fasterpam, kmeans, pam.
private struct ClusterBenchCases {
    let selected: Set<String>?
    init() {
        let v = ProcessInfo.processInfo.environment["TESSERA_BENCH_CLUSTER_CASES"] ?? ""
        selected = v.isEmpty ? nil : Set(v.split(separator: ",").map { String($0) })
    }
    func has(_ name: String) -> Bool { selected?.contains(name) ?? true }
}

/// Interleaves our run and the peer's (A B A B …), one warm-up each; every closure returns
/// its own measured seconds (the peer's excludes the pipe round trip). With `warm`, each timed
/// run of ours follows an untimed one, as the peer's `kmeans` and `pdist` do (their threads awake),
/// and each starts once the other side's threads have stopped spinning (the peer settles before
/// it replies; our pool's workers spin 0.2 ms, so ours waits 1 ms).
private func interleave(repeats: Int, warm: Bool = false, ours: () throws -> Double,
                        peer: (() -> Double)?) throws -> (TimingSummary, TimingSummary) {
    func mine() throws -> Double {
        if warm { _ = try ours() }
        let s = try ours()
        if warm { usleep(1000) }
        return s
    }
    _ = try mine(); _ = peer?()
    var a: [Double] = [], b: [Double] = []
    for i in 0..<repeats {
        if i % 2 == 0 {
            a.append(try mine()); if let peer { b.append(peer()) }
        } else {
            if let peer { b.append(peer()) }; a.append(try mine())
        }
    }
    let sb = b.isEmpty ? TimingSummary(median: .nan, min: .nan, max: .nan, samples: []) : summarize(b)
    return (summarize(a), sb)
}

/// Gaussian blobs (float32), deterministic: centres uniform in a box, unit spread.
private func benchBlobs(n: Int, d: Int, blobs: Int, seed: UInt64) throws -> Matrix<Float> {
    var rng = ClusterRandom(seed: seed)
    let centres = (0..<blobs).map { _ in (0..<d).map { _ in rng.unit() * 20 } }
    var v = [Float]()
    v.reserveCapacity(n * d)
    for i in 0..<n { let c = centres[i % blobs]; for t in 0..<d { v.append(Float(c[t] + rng.normal())) } }
    return try Matrix(rows: n, cols: d, elements: v)
}

private func writeFloats(_ v: [Float], to path: String) throws {
    let data = v.withUnsafeBytes { Data($0) }
    try data.write(to: URL(fileURLWithPath: path))
}

/// The long-lived Python peer process (bench/cluster/peer.py).
final class ClusterPeer {
    let process = Process()
    let input = Pipe(), output = Pipe()
    var buffer = Data()

    init?(note: (String) -> Void) {
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        var script: String?
        for _ in 0..<6 {
            let p = dir.appendingPathComponent("bench/cluster/peer.py").path
            if FileManager.default.fileExists(atPath: p) { script = p; break }
            dir.deleteLastPathComponent()
        }
        guard let script else { note("bench/cluster/peer.py not found (run from the repository)"); return nil }
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        process.standardInput = input
        process.standardOutput = output
        do { try process.run() } catch { note("cannot start python3: \(error)"); return nil }
        guard call(["cmd": "versions"]) != nil else { return nil }
    }

    func call(_ request: [String: Any]) -> [String: Any]? {
        guard process.isRunning, let line = try? JSONSerialization.data(withJSONObject: request) else { return nil }
        input.fileHandleForWriting.write(line + Data("\n".utf8))
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let reply = buffer[buffer.startIndex..<nl]
                buffer = Data(buffer[(nl + 1)...])
                let obj = try? JSONSerialization.jsonObject(with: reply) as? [String: Any]
                if let e = obj?["error"] { FileHandle.standardError.write(Data("peer error: \(e)\n".utf8)); return nil }
                return obj
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }

    func seconds(_ request: [String: Any]) -> Double { (call(request)?["seconds"] as? Double) ?? .nan }

    func close() {
        _ = call(["cmd": "quit"])
        process.waitUntilExit()
    }
}
