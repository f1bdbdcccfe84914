import Foundation
import Testing
import Tessera

@Suite("RandomProjection")
struct RandomProjectionTests {
    private func randomMatrix(_ rows: Int, _ cols: Int, seed: UInt64) throws -> Matrix<Float> {
        var s = seed
        let v: [Float] = (0..<(rows * cols)).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: s >> 11) % 2000) / 1000 - 1
        }
        return try Matrix<Float>(rows: rows, cols: cols, elements: v)
    }

    @Test func entriesAreSparseSignsWithTheRightScale() throws {
        let rp = try RandomProjection(inputDimension: 400, outputDimension: 32, distribution: .sparse(s: 4), seed: 1)
        #expect(rp.sparsity == 4)
        var nonzero = 0
        for j in 0..<400 {
            for k in 0..<32 {
                let v = try rp.entry(row: j, column: k)
                if v != 0 { nonzero += 1; #expect(abs(abs(v) - (4.0 / 32).squareRoot()) < 1e-12) }
            }
        }
        // 12800 entries, p = 1/4: 3200 ± 5 sd (49)
        #expect(abs(nonzero - 3200) < 250)
        #expect(try RandomProjection(inputDimension: 10_000, outputDimension: 8).sparsity == 100)
    }

    @Test func transformMatchesFloat64ReferenceAndCSR() throws {
        let x = try randomMatrix(20, 300, seed: 3)
        for dist in [RandomProjection.Distribution.sparse(), .achlioptas, .gaussian] {
            let rp = try RandomProjection(inputDimension: 300, outputDimension: 24, distribution: dist, seed: 9)
            let y = try rp.transform(x)
            #expect(y.rows == 20 && y.cols == 24)
            var r = [[Double]](repeating: [Double](repeating: 0, count: 24), count: 300)
            for j in 0..<300 { for k in 0..<24 { r[j][k] = try rp.entry(row: j, column: k) } }
            for i in 0..<20 {
                for k in 0..<24 {
                    var ref = 0.0
                    for j in 0..<300 { ref += Double(x[i, j]) * r[j][k] }
                    #expect(abs(Double(y[i, k]) - ref) < 1e-4)
                }
            }
            // the same rows as CSR give the same bits
            var ip: [Int64] = [0], ix: [Int64] = [], vals: [Float] = []
            for i in 0..<20 {
                for j in 0..<300 where x[i, j] != 0 { ix.append(Int64(j)); vals.append(x[i, j]) }
                ip.append(Int64(ix.count))
            }
            let csr = try CSRMatrix(rows: 20, cols: 300, indptr: ip, indices: ix, values: vals)
            let yc = try rp.transform(csr)
            #expect(yc == y)
            // and with 32-bit offsets and columns, read in place
            let csr32 = try CSRMatrix(rows: 20, cols: 300, indptr: ip.map { Int32($0) }, indices: ix.map { Int32($0) },
                                      values: vals)
            #expect(csr32.hasNarrowIndices && !csr.hasNarrowIndices)
            #expect(csr32.indptr == ip && csr32.indices == ix && csr32.nonzeroCount == csr.nonzeroCount)
            #expect(try rp.transform(csr32) == y)
            try rp.materialize()
            #expect(rp.isMaterialized)
            #expect(try rp.transform(x) == y)
        }
    }

    /// The outputs are allocated unzeroed (debug builds fill them with NaN bits): a CSR row
    /// without entries, and every row of a dense input, must still be written in full.
    @Test func everyOutputElementIsWritten() throws {
        #if DEBUG
        // the poison this test relies on
        #expect(try Matrix<Float>(uninitializedRows: 2, cols: 3)[1, 2].isNaN)
        #endif
        let rp = try RandomProjection(inputDimension: 50, outputDimension: 40, seed: 4)
        let csr = try CSRMatrix<Float>(rows: 3, cols: 50, indptr: [0, 0, 2, 2], indices: [3, 7], values: [1, -2])
        let y = try rp.transform(csr)
        #expect(y.row(0) == [Float](repeating: 0, count: 40) && y.row(2) == [Float](repeating: 0, count: 40))
        for k in 0..<40 {
            let ref = try rp.entry(row: 3, column: k) - 2 * rp.entry(row: 7, column: k)
            #expect(abs(Double(y[1, k]) - ref) < 1e-5)
        }
        let z = try rp.transform(try Matrix<Double>(rows: 17, cols: 50))
        #expect(z.rows == 17 && (0..<17).allSatisfy { z.row($0) == [Double](repeating: 0, count: 40) })
    }

    @Test func identicalForAnyThreadCount() throws {
        let x = try randomMatrix(70, 1000, seed: 5)
        let rp = try RandomProjection(inputDimension: 1000, outputDimension: 64)
        let one = try rp.transform(x, pool: ThreadPool(threads: 1))
        let two = try rp.transform(x, pool: ThreadPool(threads: 2))
        let three = try rp.transform(x, pool: ThreadPool(threads: 3))
        #expect(one == two && two == three)
    }

    @Test func badInputsThrow() throws {
        #expect(throws: TesseraError.self) { try RandomProjection(inputDimension: 0, outputDimension: 4) }
        #expect(throws: TesseraError.self) { try RandomProjection(inputDimension: 10, outputDimension: 0) }
        #expect(throws: TesseraError.self) { try RandomProjection(inputDimension: 10, outputDimension: 4, distribution: .sparse(s: 0.5)) }
        #expect(throws: TesseraError.self) { try RandomProjection(inputDimension: 10, outputDimension: 4, distribution: .sparse(s: .nan)) }
        let rp = try RandomProjection(inputDimension: 10, outputDimension: 4)
        #expect(throws: TesseraError.self) { try rp.transform(try Matrix<Float>(rows: 2, cols: 9)) }
        #expect(throws: TesseraError.self) { try rp.entry(row: 10, column: 0) }
        #expect(throws: TesseraError.self) { try CSRMatrix<Float>(rows: 1, cols: 10, indptr: [0, 1], indices: [10], values: [1]) }
        #expect(throws: TesseraError.self) { try CSRMatrix<Float>(rows: 2, cols: 10, indptr: [0, 1], indices: [1], values: [1]) }
        let narrow: (_ indptr: [Int32], _ indices: [Int32]) throws -> CSRMatrix<Float> = {
            try CSRMatrix<Float>(rows: 2, cols: 10, indptr: $0, indices: $1, values: [1, 2])
        }
        #expect(throws: TesseraError.self) { try narrow([0, 1, 2], [3, -1]) }
        #expect(throws: TesseraError.self) { try narrow([0, 2, 1], [3, 4]) }
        #expect(throws: TesseraError.self) { try narrow([0, 1, 3], [3, 4]) }
        #expect(throws: TesseraError.self) { try narrow([0, 1, 2], [3, 10]) }
        #expect(try narrow([0, 1, 2], [3, 9]).rows == 2)
    }
}
