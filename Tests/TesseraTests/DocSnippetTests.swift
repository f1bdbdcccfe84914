import Testing
import Tessera

// The snippets of Sources/Tessera/Tessera.docc, compiled and run here
// (scripts/check-doc-snippets checks that they stay the same).

func embed(_ graph: Graph) async throws -> Matrix<Float> {
    try await FastRP.embed(graph: graph, progress: { report in
        print(report)                                   // "FastRP iterations: 2/4"
    })
}

@Suite("Tessera DocC snippets")
struct DocSnippetTests {
    @Test func overview() throws {
        // a 256 x 512 weight matrix, quantized to 4.5 bits per weight, times a vector
        let weights = try Matrix<Float>(rows: 256, cols: 512,
                                        elements: (0..<(256 * 512)).map { Float($0 % 17 - 8) / 8 })
        let q4 = try QuantizedMatrix(quantizing: weights, format: .q4_0)
        let y = try q4.multiply(vector: [Float](repeating: 1, count: 512))      // 256 values

        // sparse random projection of 100 points from 512 to 64 dimensions
        let projection = try RandomProjection(inputDimension: 512, outputDimension: 64, seed: 7)
        let points = try Matrix<Float>(rows: 100, cols: 512, repeating: 0.5)
        let reduced = try projection.transform(points)                            // 100 x 64

        // causal attention over [batch, heads, length, headDim] tensors
        let q = try Tensor<Float>(shape: [1, 4, 16, 32], elements: (0..<2048).map { Float($0 % 7) / 7 })
        let out = try Attention(mask: .causal)(query: q, key: q, value: q)        // [1, 4, 16, 32]
        #expect(y.count == 256)
        #expect(reduced.rows == 100 && reduced.cols == 64)
        #expect(out.shape == [1, 4, 16, 32])
    }

    @Test func asyncEmbedding() async throws {
        let graph = try Graph(edges: [(0, 1), (1, 2), (2, 0), (2, 3)], options: .init(nodeCount: 4))
        let e = try await embed(graph)
        #expect(e.rows == 4)
    }
}
