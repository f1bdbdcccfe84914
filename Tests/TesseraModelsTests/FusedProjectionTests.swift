import Foundation
import Testing
@testable import TesseraModels

/// q/k/v and gate/up stacked into one matrix each (`ModelOptions.fuseProjections`): same
/// results as separate projections, still batch-invariant, and the fallback for mixed types.
@Suite("TesseraModels fused projections", .serialized)
struct FusedProjectionTests {
    static func load(_ spec: TinyModelSpec, backend: ComputeBackend, fuse: Bool) throws -> (LlamaModel, [String: [Float]]) {
        let (bytes, weights) = try spec.build()
        let model = try LlamaModel(file: try GGUFFile(bytes: bytes),
                                   options: ModelOptions(backend: backend, fuseProjections: fuse))
        return (model, weights)
    }

    static let tokens = [1, 40, 77, 266, 5, 9, 120, 2, 64, 50, 51]

    /// Every projection of a layer in one block type, so q/k/v and gate/up really stack.
    @Test(arguments: [GGMLType.q4_0, .q4_1, .q8_0, .q6_K, .f16], [ComputeBackend.reference, .kernels])
    func fusedMatchesFloat64AndUnfused(type: GGMLType, backend: ComputeBackend) throws {
        var spec = TinyModelSpec()
        spec.types = [type]
        let (fused, weights) = try Self.load(spec, backend: backend, fuse: true)
        let (separate, _) = try Self.load(spec, backend: backend, fuse: false)
        #expect(fused.blocks[0].qkv.weight.outFeatures == spec.dim + 2 * spec.kvHeads * spec.headDim)
        #expect(!(fused.blocks[0].qkv is ConcatLinear) && !(fused.blocks[0].gateUp is ConcatLinear))
        #expect(separate.blocks[0].qkv is ConcatLinear && separate.blocks[0].gateUp is ConcatLinear)
        #expect(fused.weightBytesPerToken == separate.weightBytesPerToken)

        let a = try fused.makeSession(contextLength: 64)
        let b = try separate.makeSession(contextLength: 64)
        let la = try a.forward(Self.tokens, logits: .all)
        let lb = try b.forward(Self.tokens, logits: .all)
        let want = referenceForward(Self.tokens, weights: weights, layers: spec.layers, dim: spec.dim, ffn: spec.ffn,
                                    heads: spec.heads, kvHeads: spec.kvHeads, ropeBase: Double(spec.ropeBase),
                                    eps: Double(spec.eps), vocab: fused.config.vocabularySize)
        let tol = backend == .reference ? 1e-4 : 3e-2
        for t in Self.tokens.indices {
            let err = TinyModelTests.maxRelativeError(la[t], want[t])
            #expect(err < tol, "\(type) \(backend) position \(t): relative error \(err)")
            // each output row is computed from its own weight row and the same activations,
            // so stacking the rows changes no bit
            #expect(la[t] == lb[t], "\(type) \(backend) position \(t): fused and separate projections differ")
        }
    }

    /// A k-row pass equals k one-row passes with fused projections (speculative decoding's
    /// premise); the one-row path reads q/k/v in place, the k-row path splits them out.
    @Test(arguments: [GGMLType.q4_1, .q8_0])
    func fusedBatchInvariance(type: GGMLType) throws {
        var spec = TinyModelSpec()
        spec.types = [type]
        let (model, _) = try Self.load(spec, backend: .kernels, fuse: true)
        let a = try model.makeSession(contextLength: 64)
        let b = try model.makeSession(contextLength: 64)
        try a.forward(Array(Self.tokens[0..<3]), logits: .none)
        let batched = try a.forward(Array(Self.tokens[3...]), logits: .all)
        var single = [[Float]]()
        for t in Self.tokens { single.append(try b.forward([t], logits: .last)[0]) }
        for i in 0..<batched.count {
            #expect(batched[i] == single[3 + i], "\(type) position \(3 + i): batched and single-token forward differ")
        }
    }

    @Test func stackingRefusesMixedTypesAndKeepsRowOrder() throws {
        var spec = TinyModelSpec()
        spec.types = [.q8_0]
        let (model, _) = try Self.load(spec, backend: .reference, fuse: true)
        // mixed block types (the default tiny spec) fall back to one call per part
        let (mixed, _) = try Self.load(TinyModelSpec(), backend: .kernels, fuse: true)
        #expect(mixed.blocks[0].qkv is ConcatLinear)
        let w = model.blocks[0].qkv.weight
        let d = spec.dim, kvd = spec.kvHeads * spec.headDim
        #expect(w.outFeatures == d + 2 * kvd && w.inFeatures == d && w.type == .q8_0)
        // row d (first k row) of the stack is row 0 of attn_k as stored
        let info = model.file.tensor(named: "blk.0.attn_k.weight")!
        let k0 = WeightMatrix(name: "k", type: info.type, inFeatures: d, outFeatures: kvd,
                              data: model.file.tensorPointer(info), owner: model.file)
        var got = [Float](repeating: 0, count: d), want = got
        got.withUnsafeMutableBufferPointer { w.dequantizeRow(d, into: $0.baseAddress!) }
        want.withUnsafeMutableBufferPointer { k0.dequantizeRow(0, into: $0.baseAddress!) }
        #expect(got == want)
        let q4 = WeightMatrix(name: "x", type: .q4_0, inFeatures: d, outFeatures: 1, data: k0.data, owner: nil)
        #expect(WeightMatrix.stacked([k0, q4], name: "mixed") == nil)
    }
}
