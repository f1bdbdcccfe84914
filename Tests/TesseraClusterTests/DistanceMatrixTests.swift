import Testing
import Tessera
@testable import TesseraCluster

@Suite("DistanceMatrix")
struct DistanceMatrixTests {
    @Test("from data matches a float64 reference, exactly symmetric, zero diagonal", arguments: DistanceMetric.allCases)
    func fromData(metric: DistanceMetric) throws {
        var rng = ClusterRandom(seed: 3)
        let n = 300, dim = 7   // more than one 256-tile
        let xs = (0..<(n * dim)).map { _ in Float(rng.normal()) + 0.5 }
        let x = try Matrix(rows: n, cols: dim, elements: xs)
        let d = try DistanceMatrix(data: x, metric: metric)
        var maxErr = 0.0
        xs.withUnsafeBufferPointer { p in
            for i in 0..<n {
                #expect(d[i, i] == 0)
                for j in 0..<n {
                    #expect(d[i, j] == d[j, i])
                    if i != j {
                        let ref = metric.distance(p.baseAddress! + i * dim, p.baseAddress! + j * dim, dimension: dim)
                        maxErr = max(maxErr, abs(Double(d[i, j]) - ref) / max(1, ref))
                    }
                }
            }
        }
        #expect(maxErr < 2e-4, "\(metric): relative error \(maxErr)")
        // the on-demand source agrees
        let src = try DataDissimilarity(x, metric: metric)
        #expect(abs(src.distance(3, 290) - Double(d[3, 290])) < 2e-4 * max(1, src.distance(3, 290)))
        // recompute in place gives the same bits
        let before = d.row(17)
        try d.recompute(from: x, metric: metric, pool: try ThreadPool(threads: 1))
        #expect(d.row(17) == before)
    }

    @Test("symmetric blocks (Float, d >= 16; rows aligned or not) give the bits of whole rows",
          arguments: [DistanceMetric.euclidean, .squaredEuclidean, .manhattan], [320, 328, 333])
    func symmetricBlocks(metric: DistanceMetric, n: Int) throws {
        var rng = ClusterRandom(seed: 5)
        let dim = 24   // the symmetric form on AVX-512 (whole rows elsewhere: the same bits)
        let xs = (0..<(n * dim)).map { _ in Float(rng.normal()) }
        let x = try Matrix(rows: n, cols: dim, elements: xs)
        let d = try DistanceMatrix(data: x, metric: metric, pool: try ThreadPool(threads: 2))
        let kind: DissimilarityKernels.Metric = metric == .euclidean ? .euclidean
            : metric == .squaredEuclidean ? .squaredEuclidean : .manhattan
        var xt = [Float](repeating: 0, count: n * dim)
        for i in 0..<n { for t in 0..<dim { xt[t * n + i] = xs[i * dim + t] } }
        var want = [Float](repeating: .nan, count: n * n)
        try xs.withUnsafeBufferPointer { xp in
            try xt.withUnsafeBufferPointer { tp in
                try want.withUnsafeMutableBufferPointer { wp in
                    try DissimilarityKernels.distanceRows(kind, count: n, dimension: dim, transposed: tp.baseAddress!, ldxt: n,
                                                          x: xp.baseAddress!, ldx: dim, rows: 0..<n, into: wp.baseAddress!, ldo: n)
                }
            }
        }
        var mismatches = 0
        d.withUnsafeBufferPointer { b in
            for k in 0..<(n * n) where b[k].bitPattern != want[k].bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0, "\(metric) n \(n): \(mismatches) entries differ from whole rows")
    }

    @Test("precomputed full and condensed input; closure input")
    func precomputed() throws {
        let full: [Double] = [0, 1, 2,
                              1, 0, 3,
                              2, 3, 0]
        let a = try DistanceMatrix(full: full, count: 3)
        let b = try DistanceMatrix<Double>(condensed: [1, 2, 3])
        let c = try DistanceMatrix<Double>(count: 3) { i, j in full[i * 3 + j] }
        let m = try DistanceMatrix(try Matrix(rows: 3, cols: 3, elements: full))
        for i in 0..<3 { #expect(a.row(i) == b.row(i) && a.row(i) == c.row(i) && a.row(i) == m.row(i)) }
        #expect(try DistanceMatrix<Float>.bytesRequired(count: 10_000) == 400_000_000)
    }

    @Test("bad matrices are rejected")
    func bad() throws {
        #expect(throws: TesseraError.self) { try DistanceMatrix<Double>(full: [0, 1, 1], count: 2) }        // not square
        #expect(throws: TesseraError.self) { try DistanceMatrix<Double>(full: [0, 1, 2, 0], count: 2) }     // asymmetric
        #expect(throws: TesseraError.self) { try DistanceMatrix<Double>(full: [0, .nan, .nan, 0], count: 2) }
        #expect(throws: TesseraError.self) { try DistanceMatrix<Double>(full: [0, .infinity, .infinity, 0], count: 2) }
        #expect(throws: TesseraError.self) { try DistanceMatrix<Double>(full: [1, 1, 1, 0], count: 2) }     // diagonal
        #expect(throws: TesseraError.self) { try DistanceMatrix<Double>(full: [0, -1, -1, 0], count: 2) }   // negative
        #expect(throws: TesseraError.self) { try DistanceMatrix<Double>(full: [], count: 0) }
        #expect(throws: TesseraError.self) { try DistanceMatrix<Double>(condensed: [1, 2]) }
        #expect(throws: TesseraError.self) { try DistanceMatrix(try Matrix<Double>(rows: 2, cols: 3, repeating: 0)) }
        #expect(throws: TesseraError.self) { try DistanceMatrix<Double>(count: 3) { _, _ in .nan } }
        // within tolerance is accepted, and mirrored exactly
        let m = try DistanceMatrix<Double>(full: [0, 1, 1 + 1e-9, 0], count: 2)
        #expect(m[1, 0] == 1)
        let nanData = try Matrix<Float>(rows: 2, cols: 2, elements: [1, .nan, 0, 1])
        do {
            _ = try DistanceMatrix(data: nanData)
            Issue.record("NaN accepted")
        } catch { #expect(error.message.contains("row 0, column 1")) }
        let zeroRow = try Matrix<Float>(rows: 2, cols: 2, elements: [0, 0, 1, 1])
        #expect(throws: TesseraError.self) { try DistanceMatrix(data: zeroRow, metric: .cosine) }
        #expect(throws: TesseraError.self) { try DistanceMatrix(data: try Matrix<Float>(rows: 0, cols: 2)) }
    }
}
