import Testing
@testable import TesseraCluster

@Suite("KMeans: empty clusters take the farthest points")
struct KMeansRelocationTests {
    /// Points 0, 1, 2, 10, 11, 30 on a line.
    static let line: [Double] = [0, 1, 2, 10, 11, 30]

    @Test("one empty cluster: it takes the point farthest from its centre; the donor loses it",
          arguments: [KMeansAlgorithm.lloyd, .hamerly])
    func oneEmpty(algorithm: KMeansAlgorithm) throws {
        // centres 1, 100, 10.5: the first step gives 0,1,2 to 1 and 10,11,30 to 10.5; 100 gets
        // nothing. The farthest point is 30 (19.5² from 10.5): it becomes centre 1 alone, and
        // 10.5 keeps 10 and 11 (mean 10.5). Then nothing moves: inertia 1 + 0 + 1 + 2·0.25.
        let x = try Matrix<Double>(rows: 6, cols: 1, elements: Self.line)
        let r = try KMeans.fit(x, k: 3, options: .init(algorithm: algorithm, initialization: .centers([[1], [100], [10.5]]),
                                                       tolerance: 0))
        #expect(r.centers.toArray() == [1, 30, 10.5])
        #expect(r.labels == [0, 0, 0, 2, 2, 1])
        #expect(r.inertia == 2.5)
        #expect(r.relocatedClusters == 1)
        #expect(r.converged)
        // the same in Float
        let xf = try Matrix<Float>(rows: 6, cols: 1, elements: Self.line.map(Float.init))
        let f = try KMeans.fit(xf, k: 3, options: .init(algorithm: algorithm, initialization: .centers([[1], [100], [10.5]]),
                                                        tolerance: 0))
        #expect(f.centers.toArray() == [1, 30, 10.5] && f.labels == r.labels && f.inertia == 2.5)
    }

    @Test("two empty clusters: ascending clusters take the farthest first; equal distances go to the lower row",
          arguments: [KMeansAlgorithm.lloyd, .hamerly])
    func twoEmpty(algorithm: KMeansAlgorithm) throws {
        // centres 1, 100, 10.5, 200: 100 and 200 are empty after the first step. Farthest: 30
        // (to cluster 1), then 0 and 2 tie at distance 1 from centre 1: row 0 goes to cluster 3,
        // and cluster 0 keeps 1 and 2 (mean 1.5). Second step: 0 → 0, 1 and 2 → 1.5, 10 and
        // 11 → 10.5, 30 → 30: inertia 4 · 0.25.
        let x = try Matrix<Double>(rows: 6, cols: 1, elements: Self.line)
        let r = try KMeans.fit(x, k: 4, options: .init(algorithm: algorithm,
                                                       initialization: .centers([[1], [100], [10.5], [200]]), tolerance: 0))
        #expect(r.centers.toArray() == [1.5, 30, 10.5, 0])
        #expect(r.labels == [3, 0, 0, 2, 2, 1])
        #expect(r.inertia == 1)
        #expect(r.relocatedClusters == 2)
    }

    @Test("every point on its centre: nothing to relocate, the empty cluster keeps its centre")
    func nothingToMove() throws {
        let x = try Matrix<Double>(rows: 4, cols: 2, elements: [1, 1, 1, 1, 5, 5, 5, 5])
        let r = try KMeans.fit(x, k: 3, options: .init(initialization: .centers([[1, 1], [5, 5], [1, 1]])))
        #expect(r.centers.toArray() == [1, 1, 5, 5, 1, 1])
        #expect(r.inertia == 0 && r.relocatedClusters == 0)
    }

    @Test("farthestRows: the m largest distances by a full sort, ties to the lower row; a split's candidates merge to the same")
    func farthestRowsProperty() throws {
        var rng = ClusterRandom(seed: 4)
        for trial in 0..<20 {
            let n = 30 + rng.below(300), d = 1 + rng.below(4), k = 2 + rng.below(6)
            // small integers: many equal distances
            let x = try Matrix<Double>(rows: n, cols: d, elements: (0..<(n * d)).map { _ in Double(rng.below(5)) })
            let centers = (0..<(k * d)).map { _ in Double(rng.below(5)) }
            let labels = (0..<n).map { _ in rng.below(k) }
            let m = 1 + rng.below(min(n, 12))
            let pool = try ThreadPool(threads: 1 + trial % 3)
            let got = KMeans.farthestRows(x, centers: centers, labels: labels, count: m, pool: pool)
            // reference: every row's distance, sorted (distance descending, row ascending)
            let dist = (0..<n).map { i in (0..<d).reduce(0.0) { s, t in let v = x[i, t] - centers[labels[i] * d + t]; return s + v * v } }
            let want = (0..<n).sorted { dist[$0] > dist[$1] || (dist[$0] == dist[$1] && $0 < $1) }.prefix(m)
            #expect(got.map(\.row) == Array(want), "trial \(trial)")
            #expect(got.map(\.distance) == want.map { dist[$0] })
            #expect(got.map(\.donor) == want.map { labels[$0] })
            #expect(got.map(\.point) == want.map { x.row($0) })
            // as the distributed k-means: each part's own m candidates (global rows), packed, merged
            let cut = rng.below(n + 1)
            var merged: [Double] = []
            for part in [0..<cut, cut..<n] {
                let sub = try Matrix<Double>(rows: part.count, cols: d, elements: part.flatMap { x.row($0) })
                let c = KMeans.farthestRows(sub, centers: centers, labels: Array(labels[part]), count: m,
                                            rowOffset: part.lowerBound, pool: pool)
                merged += c.flatMap(\.packed)
            }
            let ordered = KMeans.RelocationCandidate.unpack(merged, d: d).sorted { $0.precedes($1) }
            #expect(Array(ordered.prefix(m)) == got)
        }
    }

    @Test("relocation gives the same bits on 1, 2 and 3 threads, split or not (parallel distances, split steps)")
    func threadIndependence() throws {
        // 8200 × 64 (n·d above the inline threshold: the distances run over the pool), 8 blobs,
        // 8 centres in the data and 3 far away: those 3 are empty after the first step
        let (x, _) = try blobs(8, perBlob: 1025, dim: 64, spread: 2, separation: 3, seed: 12)
        let xf = try Matrix<Float>(rows: x.rows, cols: x.cols, elements: x.toArray().map { Float($0) })
        let start = (0..<8).map { i in x.row(i * 1025 + 3) } + (0..<3).map { j in [Double](repeating: 500 + Double(j), count: 64) }
        func fit<S: ClusterScalar>(_ m: Matrix<S>, _ threads: Int) throws -> KMeansResult<S> {
            try KMeans.fit(m, k: 11, options: .init(initialization: .centers(start), maxIterations: 6, tolerance: 0,
                                                    pool: try ThreadPool(threads: threads)))
        }
        let a = try fit(xf, 1)
        #expect(a.relocatedClusters >= 3)
        #expect(a.centers.toArray().allSatisfy { $0 < 400 })   // no centre left far away
        for t in [2, 3] {
            let b = try fit(xf, t)
            #expect(a.labels == b.labels && a.centers == b.centers && a.inertia.bitPattern == b.inertia.bitPattern)
            #expect(a.relocatedClusters == b.relocatedClusters)
        }
        let c = try fit(x, 1), e = try fit(x, 3)
        #expect(c.labels == e.labels && c.centers == e.centers && c.inertia.bitPattern == e.inertia.bitPattern)
    }
}
