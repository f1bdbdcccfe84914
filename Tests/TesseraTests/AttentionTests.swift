import Foundation
import Testing
@testable import Tessera

extension ISASensitive {
@Suite("Attention")
struct AttentionTests {
    /// Deterministic values in [-1, 1).
    static func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed | 1
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(Double(s >> 11) / Double(1 << 53) * 2 - 1)
        }
    }

    /// float64 softmax(QKᵀ/√d [+ causal]) V for [H, S, D] heads sharing K/V heads by group.
    static func reference(q: [Float], k: [Float], v: [Float], hq: Int, hkv: Int, sq: Int, sk: Int, d: Int,
                          causal: Bool) -> [Double]
    {
        var out = [Double](repeating: 0, count: hq * sq * d)
        let scale = 1 / Double(d).squareRoot()
        for h in 0..<hq {
            let g = h / (hq / hkv)
            for i in 0..<sq {
                let limit = causal ? i + sk - sq : sk - 1
                if limit < 0 { continue }
                var z = [Double](repeating: 0, count: limit + 1)
                for c in 0...limit {
                    var s = 0.0
                    for e in 0..<d { s += Double(q[(h * sq + i) * d + e]) * Double(k[(g * sk + c) * d + e]) }
                    z[c] = s * scale
                }
                let m = z.max()!
                let p = z.map { exp($0 - m) }
                let sum = p.reduce(0, +)
                for c in 0...limit {
                    for e in 0..<d { out[(h * sq + i) * d + e] += p[c] / sum * Double(v[(g * sk + c) * d + e]) }
                }
            }
        }
        return out
    }

    @Test func matchesFloat64ReferenceWithGQA() throws {
        let (hq, hkv, sq, sk, d) = (6, 2, 17, 300, 40)
        let q = Self.values(hq * sq * d, seed: 1), k = Self.values(hkv * sk * d, seed: 2), v = Self.values(hkv * sk * d, seed: 3)
        for causal in [false, true] {
            let att = Attention(mask: causal ? .causal : .none)
            let (o, lse) = try att.forward(query: Tensor(shape: [1, hq, sq, d], elements: q),
                                           key: Tensor(shape: [1, hkv, sk, d], elements: k),
                                           value: Tensor(shape: [1, hkv, sk, d], elements: v))
            let ref = Self.reference(q: q, k: k, v: v, hq: hq, hkv: hkv, sq: sq, sk: sk, d: d, causal: causal)
            let err = zip(o.toArray(), ref).map { abs(Double($0) - $1) }.max()!
            #expect(err < 1e-5)
            #expect(lse.shape == [1, hq, sq])
            #expect(lse.toArray().allSatisfy { $0.isFinite })
        }
    }

    @Test func mergeOfTwoHalvesIsTheWhole() throws {
        let (h, sq, sk, d) = (2, 3, 200, 16)
        let q = Self.values(h * sq * d, seed: 4), k = Self.values(h * sk * d, seed: 5), v = Self.values(h * sk * d, seed: 6)
        func slice(_ x: [Float], _ r: Range<Int>) -> [Float] {
            (0..<h).flatMap { hh in x[(hh * sk + r.lowerBound) * d..<(hh * sk + r.upperBound) * d] }
        }
        let qt = try Tensor(shape: [1, h, sq, d], elements: q)
        let att = Attention()
        let whole = try att.forward(query: qt, key: Tensor(shape: [1, h, sk, d], elements: k),
                                    value: Tensor(shape: [1, h, sk, d], elements: v))
        let a = try att.forward(query: qt, key: Tensor(shape: [1, h, 70, d], elements: slice(k, 0..<70)),
                                value: Tensor(shape: [1, h, 70, d], elements: slice(v, 0..<70)))
        let b = try att.forward(query: qt, key: Tensor(shape: [1, h, 130, d], elements: slice(k, 70..<200)),
                                value: Tensor(shape: [1, h, 130, d], elements: slice(v, 70..<200)))
        let merged = try Attention.merge(outputs: [b.output, a.output], lse: [b.lse, a.lse])
        let err = zip(merged.output.toArray(), whole.output.toArray()).map { abs($0 - $1) }.max()!
        #expect(err < 1e-5)
        let lerr = zip(merged.lse.toArray(), whole.lse.toArray()).map { abs($0 - $1) }.max()!
        #expect(lerr < 1e-4)
    }

    /// The cache's inlined f32 → f16 / bf16 stores give the bits of `tsr_f32_to_f16` /
    /// `tsr_f32_to_bf16` (the C library's) for every kind of value: random bit patterns (normals, subnormals,
    /// infinities, NaNs), the edges of the half range and rounding ties.
    @Test func kvCacheStoresRoundLikeTheCConversions() {
        var s: UInt64 = 0x9E37_79B9_7F4A_7C15
        var xs: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, -65520, 6.1035156e-05, 6.1035152e-05, 5.9604645e-08,
                           2.9802322e-08, .infinity, -.infinity, .nan, Float(bitPattern: 0x7FA0_0001),
                           Float(bitPattern: 0x3F80_1000), Float(bitPattern: 0x3F80_3000), Float(bitPattern: 0x3F80_8000),
                           Float(bitPattern: 0x3F81_8000), Float(bitPattern: 0x477F_EFFF), Float(bitPattern: 0x3880_0000),
                           Float(bitPattern: 0x387F_FFFF), .greatestFiniteMagnitude, .leastNonzeroMagnitude]
        for _ in 0..<200_000 {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            xs.append(Float(bitPattern: UInt32(truncatingIfNeeded: s)))
            // values in the range a cache holds, with low mantissa bits near the rounding point
            xs.append(Float(bitPattern: 0x3000_0000 &+ UInt32(truncatingIfNeeded: s >> 32) % 0x1800_0000))
        }
        var bad16 = 0, bad16b = 0
        for x in xs {
            if KVCache.float16Bits(x) != KVCache.libraryFloat16Bits(x) { bad16 += 1 }
            if KVCache.bfloat16Bits(x) != KVCache.libraryBfloat16Bits(x) { bad16b += 1 }
        }
        #expect(bad16 == 0 && bad16b == 0, "f16: \(bad16), bf16: \(bad16b) of \(xs.count) values differ")
        // whole rows: the vectorised loop (rows of normal values) and the element-by-element
        // one (a row with one special value), at row lengths around the vector widths
        var badRows = 0
        var rs: UInt64 = 12345
        for n in [1, 7, 16, 31, 64, 67, 256] {
            for special in [false, true] {
                for _ in 0..<40 {
                    var row = (0..<n).map { _ -> Float in
                        rs ^= rs << 13; rs ^= rs >> 7; rs ^= rs << 17
                        return Float(bitPattern: 0x3900_0000 &+ UInt32(truncatingIfNeeded: rs) % 0x0E00_0000)
                            * ((rs >> 40) & 1 == 0 ? 1 : -1)
                    }
                    if special { row[Int(rs % UInt64(n))] = xs[Int(rs >> 20) % 25] }
                    var h = [UInt16](repeating: 0, count: n), b = h
                    row.withUnsafeBufferPointer { r in
                        KVCache.float16Row(r.baseAddress!, &h, n)
                        KVCache.bfloat16Row(r.baseAddress!, &b, n)
                    }
                    if h != row.map(KVCache.libraryFloat16Bits) || b != row.map(KVCache.libraryBfloat16Bits) { badRows += 1 }
                }
            }
        }
        #expect(badRows == 0, "\(badRows) rows differ from the C conversions")
    }

    @Test func kvCacheDecodeIsBatchInvariant() throws {
        // model-runner shape: GQA 9/3, head_dim 64, causal, bf16 cache
        let (hq, hkv, d, past, k) = (9, 3, 64, 1500, 5)
        for storage in AttentionStorage.allCases {
            let cache = try KVCache(layers: 2, kvHeads: hkv, headDim: d, maxContext: 2048, storage: storage)
            try cache.append(layer: 1, keys: Self.values((past + k) * hkv * d, seed: 7),
                             values: Self.values((past + k) * hkv * d, seed: 8))
            #expect(cache.length(layer: 1) == past + k)
            let q = Self.values(k * hq * d, seed: 9)
            let all = try cache.attend(layer: 1, query: q, queryHeads: hq)
            // roll back to each prefix (longest first: truncation drops tokens) and decode the
            // last token alone: same bits as its row in the q_len = k call
            for i in stride(from: k - 1, through: 0, by: -1) {
                try cache.truncate(to: past + i + 1)
                let one = try cache.attend(layer: 1, query: Array(q[(i * hq * d)..<((i + 1) * hq * d)]), queryHeads: hq)
                #expect(one == Array(all[(i * hq * d)..<((i + 1) * hq * d)]))
            }
            try cache.truncate(to: past + k)  // never grows
            #expect(cache.length(layer: 1) == past + 1)
            let view = try cache.view(layer: 1)
            #expect(view.shape == [hkv, past + 1, d])
        }
    }

    /// `KVCache.attend(layer:batch:)`: sequences of different lengths (one over two KV chunks,
    /// one with three query rows), each on its own cache, in one call — each gets the bits of
    /// its solo `attend`, in any order, with a sliding window too; bad batches are refused.
    @Test func kvCacheBatchAttendGivesEachSequenceItsSoloBits() throws {
        let (hq, hkv, d, maxContext) = (9, 3, 64, 1600)
        for storage in AttentionStorage.allCases {
            let lengths = [1500, 7, 300, 1]
            let qLens = [1, 1, 3, 1]
            var caches = [KVCache](), queries = [[Float]]()
            for (i, n) in lengths.enumerated() {
                let c = try KVCache(layers: 2, kvHeads: hkv, headDim: d, maxContext: maxContext, storage: storage)
                try c.append(layer: 1, keys: Self.values(n * hkv * d, seed: UInt64(10 + i)),
                             values: Self.values(n * hkv * d, seed: UInt64(20 + i)))
                caches.append(c)
                queries.append(Self.values(qLens[i] * hq * d, seed: UInt64(30 + i)))
            }
            for mask in [AttentionMask.causal, .slidingWindow(left: 99, right: 0)] {
                let attention = Attention(mask: mask)
                let solo = try caches.indices.map { i in
                    try caches[i].attend(layer: 1, query: queries[i], queryHeads: hq, attention: attention)
                }
                var outputs = queries.map { [Float](repeating: .nan, count: $0.count) }
                for order in [[0, 1, 2, 3], [3, 2, 0], [1]] {
                    try withUnsafeBufferPointers(queries) { qs in
                        try withUnsafeMutableBufferPointers(&outputs) { os in
                            let batch = order.map { KVCacheQuery(cache: caches[$0], query: qs[$0], queryLength: qLens[$0], output: os[$0]) }
                            try KVCache.attend(layer: 1, batch: batch, queryHeads: hq, attention: attention)
                        }
                    }
                    for i in order {
                        #expect(outputs[i] == solo[i], "\(storage) \(mask) order \(order): sequence \(i) differs from its solo run")
                    }
                }
            }
            // refused: no sequences, caches of another layout, an empty layer, a bias mask
            let other = try KVCache(layers: 2, kvHeads: hkv, headDim: d, maxContext: 64, storage: storage)
            try other.append(layer: 1, keys: Self.values(hkv * d, seed: 1), values: Self.values(hkv * d, seed: 2))
            var out = [Float](repeating: 0, count: hq * d)
            let q = queries[1]
            try q.withUnsafeBufferPointer { qb in
                try out.withUnsafeMutableBufferPointer { ob in
                    func refused(_ batch: [KVCacheQuery], layer: Int = 1, mask: AttentionMask = .causal) {
                        #expect(throws: TesseraError.self) {
                            try KVCache.attend(layer: layer, batch: batch, queryHeads: hq, attention: Attention(mask: mask))
                        }
                    }
                    let a = KVCacheQuery(cache: caches[1], query: qb.baseAddress!, queryLength: 1, output: ob.baseAddress!)
                    refused([])
                    refused([a, KVCacheQuery(cache: other, query: qb.baseAddress!, queryLength: 1, output: ob.baseAddress!)])
                    refused([a], layer: 0)
                    refused([a], layer: 2)
                    refused([KVCacheQuery(cache: caches[1], query: qb.baseAddress!, queryLength: 0, output: ob.baseAddress!)])
                    refused([a], mask: .bias([Float](repeating: 0, count: 7)))
                }
            }
            #expect(out.allSatisfy { $0 == 0 }, "a refused batch wrote its output")
        }
    }

    @Test func masksAndBadInput() throws {
        let (h, s, d) = (1, 4, 8)
        let q = try Tensor(shape: [1, h, s, d], elements: Self.values(s * d, seed: 10))
        let kv = try Tensor(shape: [1, h, s, d], elements: Self.values(s * d, seed: 11))
        // a boolean mask equal to causal gives the causal result
        let causal = try Attention(mask: .causal)(query: q, key: kv, value: kv)
        let tri = (0..<(s * s)).map { $0 % s <= $0 / s }
        let viaBits = try Attention(mask: .boolean(tri))(query: q, key: kv, value: kv)
        #expect(zip(causal.toArray(), viaBits.toArray()).allSatisfy { abs($0 - $1) < 1e-6 })
        // a sliding window of 0 keys to the left: each row sees only its own key -> O = V row
        let diag = try Attention(mask: .slidingWindow(left: 0, right: 0))(query: q, key: kv, value: kv)
        #expect(zip(diag.toArray(), kv.toArray()).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(throws: TesseraError.self) { try Attention(mask: .boolean([true]))(query: q, key: kv, value: kv) }
        #expect(throws: TesseraError.self) {
            try Attention()(query: q, key: Tensor(shape: [1, 3, s, d]), value: Tensor(shape: [1, 3, s, d]))
        }
        #expect(throws: TesseraError.self) { try KVCache(layers: 1, kvHeads: 1, headDim: 300, maxContext: 4) }
        let cache = try KVCache(layers: 1, kvHeads: 1, headDim: 4, maxContext: 2)
        #expect(throws: TesseraError.self) { try cache.append(layer: 0, keys: [Float](repeating: 0, count: 12), values: [Float](repeating: 0, count: 12)) }
        #expect(throws: TesseraError.self) { try cache.attend(layer: 0, query: [0, 0, 0, 0], queryHeads: 1) }
        #expect(throws: TesseraError.self) { try cache.attend(layer: 3, query: [0, 0, 0, 0], queryHeads: 1) }
    }

    /// `[H][S][D]` head-major <-> `[S][H][D]` token-major.
    static func tokenMajor(_ x: [Float], heads: Int, rows: Int, d: Int) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for h in 0..<heads { for r in 0..<rows { for e in 0..<d { out[(r * heads + h) * d + e] = x[(h * rows + r) * d + e] } } }
        return out
    }

    @Test(arguments: [false, true])
    func rawLayoutsGiveTheTensorFormsBits(causal: Bool) throws {
        // token-major Q/K/V/O (a fused projection's rows), GQA 6/2: same kernel, same bits
        let (hq, hkv, sq, sk, d) = (6, 2, 37, 90, 32)
        let q = Self.values(hq * sq * d, seed: 21), k = Self.values(hkv * sk * d, seed: 22), v = Self.values(hkv * sk * d, seed: 23)
        let att = Attention(mask: causal ? .causal : .none)
        let want = try att(query: Tensor(shape: [1, hq, sq, d], elements: q), key: Tensor(shape: [1, hkv, sk, d], elements: k),
                           value: Tensor(shape: [1, hkv, sk, d], elements: v)).toArray()
        let qt = Self.tokenMajor(q, heads: hq, rows: sq, d: d)
        let kt = Self.tokenMajor(k, heads: hkv, rows: sk, d: d), vt = Self.tokenMajor(v, heads: hkv, rows: sk, d: d)
        var out = [Float](repeating: .nan, count: qt.count)
        let shape = AttentionShape(queryHeads: hq, kvHeads: hkv, queryLength: sq, kvLength: sk, headDim: d)
        try qt.withUnsafeBufferPointer { qp in
            try kt.withUnsafeBufferPointer { kp in
                try vt.withUnsafeBufferPointer { vp in
                    try out.withUnsafeMutableBufferPointer { op in
                        try att.apply(shape, query: qp.baseAddress!, queryLayout: .tokenMajor(rows: sq, heads: hq, headDim: d),
                                      key: kp.baseAddress!, value: vp.baseAddress!,
                                      keyValueLayout: .tokenMajor(rows: sk, heads: hkv, headDim: d),
                                      output: op.baseAddress!, outputLayout: .tokenMajor(rows: sq, heads: hq, headDim: d))
                    }
                }
            }
        }
        #expect(out == Self.tokenMajor(want, heads: hq, rows: sq, d: d))
        // a layout whose extent is too small for the shape is refused, nothing runs
        #expect(throws: TesseraError.self) {
            try qt.withUnsafeBufferPointer { qp in
                try kt.withUnsafeBufferPointer { kp in
                    try out.withUnsafeMutableBufferPointer { op in
                        try att.apply(shape, query: qp.baseAddress!, queryLayout: .tokenMajor(rows: sq - 1, heads: hq, headDim: d),
                                      key: kp.baseAddress!, value: kp.baseAddress!,
                                      keyValueLayout: .tokenMajor(rows: sk, heads: hkv, headDim: d),
                                      output: op.baseAddress!, outputLayout: .tokenMajor(rows: sq, heads: hq, headDim: d))
                    }
                }
            }
        }
    }

    @Test func decodeWithAWorkspaceAllocatesOnceAndKeepsTheBits() throws {
        // long context, one query row: the split-decode schedule, which needs scratch
        let (hq, hkv, d, n) = (8, 2, 64, 3000)
        let cache = try KVCache(layers: 1, kvHeads: hkv, headDim: d, maxContext: n + 8)
        try cache.append(layer: 0, keys: Self.values(n * hkv * d, seed: 31), values: Self.values(n * hkv * d, seed: 32))
        #expect(cache.count == n)
        let q = Self.values(hq * d, seed: 33)
        let plain = try cache.attend(layer: 0, query: q, queryHeads: hq)
        let workspace = AttentionWorkspace()
        var out = [Float](repeating: 0, count: q.count)
        var sizes = [Int]()
        for _ in 0..<3 {
            try q.withUnsafeBufferPointer { (qp) throws(TesseraError) in
                try out.withUnsafeMutableBufferPointer { (op) throws(TesseraError) in
                    try cache.attend(layer: 0, query: qp.baseAddress!, queryHeads: hq, queryLength: 1,
                                     output: op.baseAddress!, workspace: workspace)
                }
            }
            #expect(out == plain)
            sizes.append(workspace.byteCount)
        }
        // few rows over 3 KV chunks: split decode, whose partials (3 chunks × 8 heads × (d + 2)
        // floats) the first call allocates in the workspace and the later ones reuse
        #expect(sizes[0] >= 3 * hq * (d + 2) * 4)
        #expect(sizes.allSatisfy { $0 == sizes[0] })
        #expect(throws: TesseraError.self) { try AttentionWorkspace(byteCount: -1) }
    }

    @Test func swiGLUIsSiLUGateTimesUp() throws {
        let g = Self.values(1000, seed: 41).map { $0 * 12 }, u = Self.values(1000, seed: 42)
        let got = try Elementwise.swiGLU(gate: g, up: u)
        for i in g.indices {
            let want = Double(g[i]) / (1 + exp(-Double(g[i]))) * Double(u[i])
            #expect(abs(Double(got[i]) - want) <= 1e-6 * max(1, abs(want)))
        }
        #expect(throws: TesseraError.self) { try Elementwise.swiGLU(gate: [1, 2], up: [1]) }
    }
}
}

/// Calls `body` with a pointer to each array's elements (all valid during the call).
private func withUnsafeBufferPointers<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) throws -> R) rethrows -> R {
    let copies = arrays.map { a -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(a.count, 1))
        p.initialize(from: a, count: a.count)
        return p
    }
    defer { for (p, a) in zip(copies, arrays) { p.deinitialize(count: a.count); p.deallocate() } }
    return try body(copies.map { UnsafePointer($0) })
}

/// Calls `body` with a mutable pointer to each array's elements; the arrays receive what
/// was written when it returns.
private func withUnsafeMutableBufferPointers<R>(_ arrays: inout [[Float]], _ body: ([UnsafeMutablePointer<Float>]) throws -> R) rethrows -> R {
    let copies = arrays.map { a -> UnsafeMutablePointer<Float> in
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(a.count, 1))
        p.initialize(from: a, count: a.count)
        return p
    }
    defer { for (p, a) in zip(copies, arrays) { p.deinitialize(count: a.count); p.deallocate() } }
    let r = try body(copies)
    for i in arrays.indices { arrays[i] = Array(UnsafeBufferPointer(start: copies[i], count: arrays[i].count)) }
    return r
}
