import Testing
import Tessera
@testable import TesseraCluster

/// The vectorised paths of the k-medoids family give the results of the per-pair code:
/// the distance column of a data source is bit for bit `distance(j, o)`, CLARANS on data runs
/// the same search as through a plain `Dissimilarity`, and PAM's all-slot kernel scores swaps
/// as the textbook per-pair sum does.
@Suite("k-medoids fast paths")
struct FastPathTests {
    /// A source seen only through the protocol (one call per pair: the reference path).
    struct Opaque<D: Dissimilarity>: Dissimilarity {
        let inner: D
        var count: Int { inner.count }
        func distance(_ i: Int, _ j: Int) -> Double { inner.distance(i, j) }
    }

    /// At the active ISA only: forcing the process-wide ISA here would switch it under the
    /// bitwise tests of other targets running in the same process (attention's bits depend on
    /// the ISA). Every ISA is checked by Tests/c/test_distance.c under the cross-ISA runner.
    @Test("distance column of data equals distance(j, o) bit for bit, every metric, Float and Double")
    func columnBits() throws {
        let (x, _) = try blobs(3, perBlob: 23, dim: 5, spread: 2, separation: 4, seed: 4)
        let xf = try Matrix<Float>(rows: x.rows, cols: x.cols, elements: x.toArray().map { Float($0) })
        for metric in DistanceMetric.allCases {
            try check(DataDissimilarity(x, metric: metric))
            try check(DataDissimilarity(xf, metric: metric))
        }
        func check<S>(_ src: DataDissimilarity<S>) {
            let cols = TransposedDataColumns(src)
            let out = UnsafeMutablePointer<Double>.allocate(capacity: src.count)
            defer { out.deallocate() }
            for o in [0, 1, 37, src.count - 1] {
                cols.column(o, into: out)
                for j in 0..<src.count {
                    #expect(out[j].bitPattern == src.distance(j, o).bitPattern, "\(src.metric) o \(o) j \(j)")
                    #expect(cols.distance(j, o).bitPattern == src.distance(j, o).bitPattern)
                }
            }
        }
    }

    @Test("CLARANS and FastCLARANS on data make the same search as through the protocol")
    func claransSameSearch() throws {
        let (xd, _) = try blobs(6, perBlob: 40, dim: 4, spread: 1.5, separation: 5, seed: 12)
        let x = try Matrix<Float>(rows: xd.rows, cols: xd.cols, elements: xd.toArray().map { Float($0) })
        for metric in [DistanceMetric.euclidean, .manhattan, .cosine] {
            let src = try DataDissimilarity(x, metric: metric)
            for fast in [false, true] {
                let opts = SampledKMedoids.CLARANSOptions(fast: fast, seed: 5, pool: try ThreadPool(threads: 2))
                let a = try SampledKMedoids.clarans(src, k: 6, options: opts)
                let b = try SampledKMedoids.clarans(Opaque(inner: src), k: 6, options: opts)
                #expect(a.medoids == b.medoids)
                #expect(a.labels == b.labels)
                #expect(a.loss.bitPattern == b.loss.bitPattern)
                #expect(a.swaps == b.swaps)
                // the stored matrix (Double, same per-pair values) runs the same search too
                let m = try DistanceMatrix<Double>(count: x.rows) { i, j in src.distance(i, j) }
                let c = try SampledKMedoids.clarans(m, k: 6, options: opts)
                #expect(c.medoids == a.medoids)
                #expect(c.loss.bitPattern == a.loss.bitPattern)
            }
        }
    }

    @Test("CLARANS and FastCLARANS reach a loss close to FasterPAM's on blobs (k = 12, n = 600)")
    func claransQuality() throws {
        let (x, _) = try blobs(12, perBlob: 50, dim: 3, spread: 1, separation: 6, seed: 21)
        let full = try DistanceMatrix(data: x)
        let exact = try KMedoids.fit(full, k: 12, options: .init(method: .fasterPAM, seed: 2))
        for fast in [false, true] {
            for seed in 0..<3 as Range<UInt64> {
                let r = try SampledKMedoids.clarans(try DataDissimilarity(x), k: 12, options: .init(fast: fast, seed: seed))
                // the randomised searches stop at a local optimum: FastCLARANS (all k removals per
                // candidate) within 10 %, the original (one random pair per try) within 20 %
                #expect(r.loss <= exact.loss * (fast ? 1.10 : 1.20), "fast \(fast) seed \(seed): \(r.loss) vs FasterPAM \(exact.loss)")
                #expect(abs(lossOf(full, r.medoids) - r.loss) < 1e-5 * r.loss)
            }
        }
    }

    @Test("PAM's all-slot kernel equals the per-pair PAM delta; PAM and FastPAM1 make the same swaps")
    func pamKernel() throws {
        let full = try randomFloatMatrix(n: 157, dim: 3, seed: 8)
        var rng = ClusterRandom(seed: 4)
        let start = rng.sample(9, from: 157)
        let state = MedoidState(matrix: full, medoids: start, pool: try ThreadPool(threads: 1))
        let arrays = PAMCacheArrays(state)
        let out = UnsafeMutablePointer<Double>.allocate(capacity: 9)
        defer { out.deallocate() }
        for o in 0..<157 where !state.isMedoid[o] {
            arrays.deltas(for: o, into: out)
            for m in 0..<9 {
                let want = state.pairDelta(slot: m, candidate: o)
                #expect(abs(out[m] - want) <= 1e-9 * (abs(want) + 1), "o \(o) m \(m): \(out[m]) vs \(want)")
            }
        }
        let pam = try KMedoids.fit(full, k: 9, options: .init(method: .pam, initialization: .medoids(start), pool: try ThreadPool(threads: 2)))
        let fp1 = try KMedoids.fit(full, k: 9, options: .init(method: .fastPAM1, initialization: .medoids(start), pool: try ThreadPool(threads: 1)))
        #expect(pam.medoids == fp1.medoids)
        #expect(pam.loss == fp1.loss)
        #expect(pam.swaps == fp1.swaps)
        let pam1 = try KMedoids.fit(full, k: 9, options: .init(method: .pam, initialization: .medoids(start), pool: try ThreadPool(threads: 1)))
        #expect(pam1 == pam)
    }
}
