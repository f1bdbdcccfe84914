import Testing
@testable import TesseraCluster

@Suite("KMeans, GaussianMixture, PPP")
struct PartitioningTests {
    @Test("k-means: inertia never increases; Lloyd and Hamerly agree; recovers blobs")
    func kmeans() throws {
        let (x, truth) = try blobs(5, perBlob: 80, dim: 3, spread: 1.5, separation: 3, seed: 1)
        for seed in 0..<4 as Range<UInt64> {
            let r = try KMeans.fit(x, k: 5, options: .init(initialization: .random, tolerance: 0, seed: seed))
            for (a, b) in zip(r.inertiaHistory, r.inertiaHistory.dropFirst()) { #expect(b <= a * (1 + 1e-12)) }
            #expect(r.inertia <= r.inertiaHistory.last! * (1 + 1e-12))
            let h = try KMeans.fit(x, k: 5, options: .init(algorithm: .hamerly, initialization: .random, tolerance: 0, seed: seed))
            #expect(h.labels == r.labels)
            #expect(abs(h.inertia - r.inertia) <= 1e-9 * r.inertia)
        }
        // well separated: k-means++ with a few restarts finds the blobs exactly
        let (y, t2) = try blobs(4, perBlob: 50, dim: 2, seed: 2)
        let r = try KMeans.fit(y, k: 4, options: .init(nInit: 4, seed: 7))
        #expect(adjustedAgreement(r.labels, t2) == 1)
        #expect(try KMeans.predict(y, centers: r.centers) == r.labels)
        _ = truth
    }

    @Test("k-means: same result on 1 and 3 threads; given centres; Float data")
    func kmeansDeterminism() throws {
        let (x, _) = try blobs(6, perBlob: 1500, dim: 4, spread: 2, separation: 2, seed: 3)   // 9000 points, several chunks
        let xf = try Matrix<Float>(rows: x.rows, cols: x.cols, elements: x.toArray().map { Float($0) })
        let a = try KMeans.fit(xf, k: 6, options: .init(seed: 5, pool: try ThreadPool(threads: 1)))
        let b = try KMeans.fit(xf, k: 6, options: .init(seed: 5, pool: try ThreadPool(threads: 3)))
        #expect(a.labels == b.labels && a.inertia == b.inertia && a.centers == b.centers)
        let c = try KMeans.fit(xf, k: 6, options: .init(initialization: .centers((0..<6).map { i in xf.row(i * 1500).map(Double.init) }),
                                                        maxIterations: 3, tolerance: 0))
        #expect(c.iterations <= 3)
    }

    @Test("k-means: a step split in pieces over threads (few chunks, large d·k) gives the bits of one thread")
    func kmeansSplitStep() throws {
        // n·k·d = 5000·64·64 is above the inline threshold and two chunks are fewer than 4 per
        // thread: 512-row pieces on both threads, then each chunk's accumulation in row order
        let (x, _) = try blobs(8, perBlob: 625, dim: 64, spread: 2, separation: 3, seed: 9)
        let xf = try Matrix<Float>(rows: x.rows, cols: x.cols, elements: x.toArray().map { Float($0) })
        let start = (0..<64).map { i in x.row(i * 78) }
        for pool in [try ThreadPool(threads: 2), try ThreadPool(threads: 3)] {
            let opts = KMeansOptions(initialization: .centers(start), maxIterations: 3, tolerance: 0, pool: pool)
            let one = KMeansOptions(initialization: .centers(start), maxIterations: 3, tolerance: 0, pool: try ThreadPool(threads: 1))
            let a = try KMeans.fit(xf, k: 64, options: one), b = try KMeans.fit(xf, k: 64, options: opts)
            #expect(a.labels == b.labels && a.inertia.bitPattern == b.inertia.bitPattern && a.centers == b.centers)
            #expect(a.inertiaHistory.map(\.bitPattern) == b.inertiaHistory.map(\.bitPattern))
            let c = try KMeans.fit(x, k: 64, options: one), e = try KMeans.fit(x, k: 64, options: opts)
            #expect(c.labels == e.labels && c.inertia.bitPattern == e.inertia.bitPattern && c.centers == e.centers)
        }
    }

    @Test("k-means: the step plan splits twice (the first step untimed), tries the caller third, then follows the faster latest step")
    func kmeansStepPlan() {
        var p = StepPlan(splittable: true)
        #expect(!p.inline)                    // split first
        p.record(9.0); #expect(!p.inline)     // the first step (waking the workers) is no sample
        p.record(1.0); #expect(p.inline)      // then the other way once
        p.record(0.5); #expect(p.inline)      // inline was faster
        p.record(2.0); #expect(!p.inline)     // inline slowed down below the latest split
        for _ in 5..<16 { p.record(3.0) }      // both latest 3.0: ties stay split
        #expect(!p.inline)
        p.record(3.0); #expect(p.inline)      // every 16th step tries the other way
        var small = StepPlan(splittable: false)
        small.record(1.0); small.record(9.0)
        #expect(small.inline)                 // below the threshold: always on the caller
    }

    @Test("k-means bad input")
    func kmeansBad() throws {
        let x = try Matrix<Double>(rows: 3, cols: 2, elements: [0, 0, 1, 1, 2, 2])
        #expect(throws: TesseraError.self) { try KMeans.fit(x, k: 0) }
        #expect(throws: TesseraError.self) { try KMeans.fit(x, k: 4) }
        #expect(throws: TesseraError.self) { try KMeans.fit(x, k: 2, options: .init(nInit: 0)) }
        #expect(throws: TesseraError.self) { try KMeans.fit(x, k: 2, options: .init(initialization: .centers([[0, 0]]))) }
        let bad = try Matrix<Double>(rows: 2, cols: 1, elements: [0, .infinity])
        #expect(throws: TesseraError.self) { try KMeans.fit(bad, k: 1) }
        // duplicates and k = 1 work
        let dup = try Matrix<Double>(rows: 4, cols: 1, elements: [1, 1, 1, 1])
        #expect(try KMeans.fit(dup, k: 1).inertia == 0)
        #expect(try KMeans.fit(dup, k: 2).inertia == 0)
    }

    @Test("GMM: log-likelihood never decreases; full and diagonal; predict", arguments: CovarianceType.allCases)
    func gmm(covariance: CovarianceType) throws {
        let (x, truth) = try blobs(3, perBlob: 100, dim: 2, spread: 1.2, separation: 8, seed: 4)
        let g = try GaussianMixture.fit(x, components: 3, options: .init(covariance: covariance, tolerance: 1e-10,
                                                                         regularization: 0, seed: 1))
        for (a, b) in zip(g.logLikelihoodHistory, g.logLikelihoodHistory.dropFirst()) {
            #expect(b >= a - 1e-9 * abs(a), "\(covariance): \(a) → \(b)")
        }
        #expect(g.logLikelihoodHistory.count >= 2)
        let p = try g.predictProbabilities(x)
        for i in 0..<x.rows { #expect(abs((0..<3).map { p[i, $0] }.reduce(0, +) - 1) < 1e-9) }
        #expect(adjustedAgreement(try g.predict(x), truth) > 0.9)
        let per = try g.scoreSamples(x)
        #expect(abs(per.reduce(0, +) / Double(x.rows) - g.logLikelihood) < 1e-6 * abs(g.logLikelihood))
        #expect(g.bic.isFinite)
        #expect(throws: TesseraError.self) { try GaussianMixture.fit(x, components: 0) }
        #expect(throws: TesseraError.self) { try GaussianMixture.fit(x, components: 2, options: .init(initialization: .labels([0]))) }
    }

    @Test("PPP recovers the number of well-separated blobs", arguments: [3, 4, 5, 6, 7, 8])
    func ppp(blobCount: Int) throws {
        let (x, truth) = try blobs(blobCount, perBlob: 40, dim: 2, spread: 0.4, separation: 4, seed: UInt64(blobCount))
        let r = try PPP.fit(x, options: .init(kRange: 1...10, restarts: 3))
        #expect(r.k == blobCount, "candidates: \(r.candidates.map { ($0.k, Int($0.bic), $0.agreement) })")
        #expect(adjustedAgreement(r.labels, truth) == 1)
    }
}

@Suite("CLARA, CLARANS, silhouettes")
struct SampledTests {
    @Test("CLARA and CLARANS find the blobs without the full matrix; same result for any thread count")
    func sampled() throws {
        let (x, truth) = try blobs(4, perBlob: 150, dim: 2, seed: 9)
        let src = try DataDissimilarity(x)
        let full = try DistanceMatrix(data: x)
        let exact = try KMedoids.fit(full, k: 4, options: .init(method: .fasterPAM, seed: 1))
        for fast in [false, true] {
            let c1 = try SampledKMedoids.clara(src, k: 4, options: .init(fast: fast, seed: 3, pool: try ThreadPool(threads: 1)))
            let c3 = try SampledKMedoids.clara(src, k: 4, options: .init(fast: fast, seed: 3, pool: try ThreadPool(threads: 3)))
            #expect(c1 == c3)
            #expect(adjustedAgreement(c1.labels, truth) == 1)
            #expect(c1.loss <= exact.loss * 1.15)
            #expect(abs(lossOf(full, c1.medoids) - c1.loss) < 1e-6 * c1.loss)
            let r1 = try SampledKMedoids.clarans(src, k: 4, options: .init(fast: fast, seed: 3, pool: try ThreadPool(threads: 1)))
            let r2 = try SampledKMedoids.clarans(src, k: 4, options: .init(fast: fast, seed: 3, pool: try ThreadPool(threads: 2)))
            #expect(r1 == r2)
            #expect(r1.loss <= exact.loss * 1.15, "fast \(fast): \(r1.loss) vs \(exact.loss)")
            #expect(abs(lossOf(full, r1.medoids) - r1.loss) < 1e-6 * r1.loss)
        }
        let kept = try SampledKMedoids.clara(src, k: 4, options: .init(keepMedoids: true, seed: 3))
        #expect(adjustedAgreement(kept.labels, truth) == 1)
        #expect(throws: TesseraError.self) { try SampledKMedoids.clara(src, k: 0) }
        #expect(throws: TesseraError.self) { try SampledKMedoids.clarans(src, k: 601) }
    }

    /// The same distances behind a plain `Dissimilarity` (the generic, one-call-per-pair path).
    struct Opaque<S: ClusterScalar>: Dissimilarity {
        let inner: DataDissimilarity<S>
        var count: Int { inner.count }
        func distance(_ i: Int, _ j: Int) -> Double { inner.distance(i, j) }
    }

    @Test("FastCLARANS on Euclidean data (squared columns, lazy square roots) makes the search of the plain distances")
    func squaredColumnsSameSearch() throws {
        let (x, _) = try blobs(6, perBlob: 60, dim: 3, spread: 2.5, separation: 4, seed: 21)   // overlapping: many swaps
        let xf = try Matrix(rows: x.rows, cols: x.cols, elements: x.toArray().map { Float($0) })
        let one = try ThreadPool(threads: 1)
        for k in [1, 2, 9] {
            let opts = SampledKMedoids.CLARANSOptions(fast: true, seed: 4, pool: one)
            let d = try DataDissimilarity(x), f = try DataDissimilarity(xf)
            let a = try SampledKMedoids.clarans(d, k: k, options: opts), b = try SampledKMedoids.clarans(Opaque(inner: d), k: k, options: opts)
            #expect(a.medoids == b.medoids && a.loss == b.loss && a.swaps == b.swaps && a.labels == b.labels, "Double k \(k)")
            let c = try SampledKMedoids.clarans(f, k: k, options: opts), e = try SampledKMedoids.clarans(Opaque(inner: f), k: k, options: opts)
            #expect(c.medoids == e.medoids && c.loss == e.loss && c.swaps == e.swaps && c.labels == e.labels, "Float k \(k)")
            #expect(k == 1 || a.swaps > 0)
        }
    }

    @Test("silhouette by hand, and medoid silhouette")
    func silhouette() throws {
        // points 0, 1 | 10: a(0)=1, b(0)=10 → s=0.9; a(1)=1, b(1)=9 → 8/9; singleton → 0
        let d = try DistanceMatrix<Double>(condensed: [1, 10, 9])
        let s = try Silhouette.silhouette(d, labels: [0, 0, 1])
        #expect(abs(s.values[0] - 0.9) < 1e-12 && abs(s.values[1] - 8.0 / 9) < 1e-12 && s.values[2] == 0)
        #expect(abs(s.perCluster[0] - (0.9 + 8.0 / 9) / 2) < 1e-12)
        // medoids 0 and 2: s(1) = 1 − 1/9
        let m = try Silhouette.medoidSilhouette(d, medoids: [0, 2])
        #expect(m.values == [1, 1 - 1.0 / 9, 1])
        #expect(throws: TesseraError.self) { try Silhouette.silhouette(d, labels: [0, 1]) }
        #expect(throws: TesseraError.self) { try Silhouette.medoidSilhouette(d, medoids: [0]) }
    }
}

/// 1 when the two labelings are the same partition (up to renaming), else the fraction of
/// points whose label maps consistently.
func adjustedAgreement(_ a: [Int], _ b: [Int]) -> Double {
    var map = [Int: [Int: Int]]()
    for (x, y) in zip(a, b) { map[x, default: [:]][y, default: 0] += 1 }
    var good = 0
    var used = Set<Int>()
    for (_, counts) in map {
        let (y, c) = counts.max { $0.value < $1.value }!
        if !used.contains(y) { good += c; used.insert(y) }
    }
    return Double(good) / Double(a.count)
}
