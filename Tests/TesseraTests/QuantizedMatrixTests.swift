import Testing
import Tessera

@Suite("QuantizedMatrix")
struct QuantizedMatrixTests {
    /// Deterministic values in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Double(s >> 11) / Double(1 << 53) * 2 - 1)
        }
    }

    @Test func formatsAndTraits() throws {
        #expect(QuantFormat.q4_0.blockBytes == 18)
        #expect(QuantFormat.q6_K.blockElements == 256)
        #expect(QuantFormat.q4g128f16.bitsPerWeight == 4.125)
        #expect(QuantFormat(name: "Q8_0") == .q8_0)
        #expect(QuantFormat(name: "nope") == nil)
        #expect(QuantFormat(ggmlType: 3) == .q4_1)
        #expect(QuantFormat(ggmlType: 12) == .q4_K)
        #expect(QuantFormat(ggmlType: 15) == nil)  // Q8_K: not a weight format
        #expect(QuantFormat.q4_K.bitsPerWeight == 4.5 && QuantFormat.iq4_nl.ggmlType == 20)
        #expect(QuantFormat.q4g64f32z.ggmlType == nil)
        for f in QuantFormat.allCases { #expect(QuantFormat(name: f.name) == f) }
        #expect(throws: TesseraError.self) { try QuantFormat.q4_0.rowBytes(columns: 33) }
    }

    @Test(arguments: [QuantFormat.q4_0, .q4_1, .q8_0, .q6_K, .q4g128f16, .q4g32f32z, .q8g64f16, .bf16,
                      .q4_K, .q5_0, .q5_K, .q2_K, .iq4_nl])
    func multiplyMatchesDequantizedReference(format: QuantFormat) throws {
        let n = 21, k = 512, m = 5
        let w = try Matrix<Float>(rows: n, cols: k, elements: Self.values(n * k, seed: 1))
        let q = try QuantizedMatrix(quantizing: w, format: format)
        let err = try #require(q.quantizationError)
        #expect(err.maxAbsError > 0 || format == .f32)
        #expect(err.maxAbsError <= (format == .q2_K ? 0.4 : 0.14))
        #expect(err.rmsError <= err.maxAbsError)
        let wd = try q.dequantized()
        let x = try Matrix<Float>(rows: m, cols: k, elements: Self.values(m * k, seed: 2))
        let bias = Self.values(n, seed: 3)
        let y = try q.multiply(x, bias: bias)
        #expect(y.rows == m && y.cols == n)
        for i in 0..<m {
            for r in 0..<n {
                var ref = Double(bias[r]), mag = 0.0
                for j in 0..<k {
                    ref += Double(wd[r, j]) * Double(x[i, j])
                    mag += abs(Double(wd[r, j]))
                }
                // int8 activations: at most half a step (max|x|/127) per weight
                #expect(abs(Double(y[i, r]) - ref) <= mag * 0.5 / 127 + 1e-4)
            }
        }
        // batch invariance: each row alone gives the same bits
        for i in 0..<m {
            let yi = try q.multiply(vector: x.row(i), bias: bias)
            #expect(yi == y.row(i))
        }
    }

    @Test(arguments: [QuantFormat.q4_K, .q5_0, .q3_K, .q6_K])
    func dequantizeRowMatchesThePlan(format: QuantFormat) throws {
        let n = 3, k = 512
        let w = try Matrix<Float>(rows: n, cols: k, elements: Self.values(n * k, seed: 9))
        let bytes = try QuantizedMatrix.quantize(w, to: format).bytes
        let plan = try QuantizedMatrix(format: format, rows: n, columns: k, bytes: bytes).dequantized()
        let rb = try format.rowBytes(columns: k)
        var row = [Float](repeating: .nan, count: k)
        let base = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 1)
        defer { base.deallocate() }
        base.copyMemory(from: bytes, byteCount: bytes.count)
        for r in 0..<n {
            try format.dequantizeRow(base + r * rb, columns: k, into: &row)
            #expect(row == plan.row(r))
        }
        #expect(throws: TesseraError.self) { try format.dequantizeRow(base, columns: 100, into: &row) }
    }

    @Test func rawGGUFBytesInPlace() throws {
        // one Q4_0 row by hand: d = 0.5, element i low nibble i, element i+16 high nibble 15-i
        var block: [UInt8] = [0x00, 0x38]
        for i in 0..<16 { block.append(UInt8(i | ((15 - i) << 4))) }
        let q = try QuantizedMatrix(format: .q4_0, rows: 1, columns: 32, bytes: block)
        #expect(q.quantizationError == nil)
        let w = try q.dequantized()
        for i in 0..<16 {
            #expect(w[0, i] == 0.5 * Float(i - 8))
            #expect(w[0, i + 16] == 0.5 * Float(7 - i))
        }
        // padded rows, unaligned start, through the pointer initializer
        let rows = 3, stride = 18 + 5
        var buf = [UInt8](repeating: 0, count: 1 + stride * rows)
        for r in 0..<rows { for b in 0..<18 { buf[1 + r * stride + b] = block[b] } }
        let q3 = try buf.withUnsafeBytes { raw in
            try QuantizedMatrix(format: .q4_0, rows: rows, columns: 32,
                                bytes: UnsafeRawBufferPointer(rebasing: raw[1...]), rowStride: stride)
        }
        let w3 = try q3.dequantized()
        for r in 0..<rows { #expect(w3.row(r) == w.row(0)) }
        #expect(q3.storageBytes == 3 * 18)
        #expect(!q3.kernelName.isEmpty)
    }

    @Test func badInputThrows() throws {
        let w = try Matrix<Float>(rows: 2, cols: 48, repeating: 0.5)
        #expect(throws: TesseraError.self) { try QuantizedMatrix(quantizing: w, format: .q4_0) }
        var nan = try Matrix<Float>(rows: 2, cols: 64, repeating: 0.5)
        nan[1, 3] = .nan
        #expect(throws: TesseraError.self) { try QuantizedMatrix(quantizing: nan, format: .q8_0) }
        #expect(throws: TesseraError.self) {
            try QuantizedMatrix(format: .q4_0, rows: 2, columns: 32, bytes: [UInt8](repeating: 0, count: 35))
        }
        #expect(throws: TesseraError.self) {
            try QuantizedMatrix(format: .q4_0, rows: 0, columns: 32, bytes: [UInt8](repeating: 0, count: 18))
        }
        let ok = try QuantizedMatrix(quantizing: try Matrix<Float>(rows: 2, cols: 64, repeating: 0.25), format: .q4_1)
        #expect(throws: TesseraError.self) { try ok.multiply(vector: [Float](repeating: 1, count: 63)) }
        #expect(throws: TesseraError.self) {
            try ok.multiply(vector: [Float](repeating: 1, count: 64), bias: [1, 2, 3])
        }
    }
}
