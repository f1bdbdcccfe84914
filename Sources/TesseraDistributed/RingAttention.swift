// Sequence-parallel ring attention: the sequence is split into one block per rank; each rank
// keeps its query block and passes key/value blocks around the ring (rank r sends to r+1,
// receives from r−1), computing a partial attention (output + log-sum-exp) against each
// block it holds while the next one is in flight, then combines the partials with the LSE
// merge of `Attention.merge`:
//
//   step s:  rank r holds K/V block (r − s) mod P
//            +-------+      K,V      +-------+      K,V      +-------+
//            | rank0 | ------------> | rank1 | ------------> | rank2 | --+
//            +-------+               +-------+               +-------+   |
//                ^---------------------------------------------------- --+
//
//   O_r = merge_j (O_rj, LSE_rj) over the key blocks j the queries of r may see.
//
// Partials are merged in key-block order (0, 1, ..., P−1), not arrival order, so the result
// has the same bits as one process computing the per-block partials and merging them in that
// order (`RingAttention.reference`), and agrees with unsplit attention to f32 rounding.

import Foundation
import Tessera

/// Sequence-parallel attention across the ranks of a communicator.
public struct RingAttention: Sendable {
    public let communicator: Communicator
    /// Causal self-attention over the global sequence (queries and keys split the same way).
    public var causal: Bool
    /// Multiplies the scores; nil = 1/sqrt(headDim).
    public var scale: Float?
    public var pool: ThreadPool

    public init(communicator: Communicator, causal: Bool = false, scale: Float? = nil, pool: ThreadPool = .shared) {
        self.communicator = communicator
        self.causal = causal
        self.scale = scale
        self.pool = pool
    }

    /// The near-equal split of `length` positions over `ranks` blocks: block r is
    /// `r·length/ranks ..< (r+1)·length/ranks`.
    public static func partition(length: Int, ranks: Int) -> [Range<Int>] {
        (0..<ranks).map { r in (r * length / ranks)..<((r + 1) * length / ranks) }
    }

    /// How block `j` of keys looks to query block `r` (self-attention with the same split).
    enum Visibility { case full, diagonal, hidden }
    func visibility(query r: Int, key j: Int) -> Visibility {
        guard causal else { return .full }
        return j < r ? .full : (j == r ? .diagonal : .hidden)
    }

    func attention(_ v: Visibility) -> Attention {
        Attention(scale: scale, mask: v == .diagonal ? .causal : .none, pool: pool)
    }

    /// This rank's attention output `[B, Hq, Sq_r, D]` and LSE `[B, Hq, Sq_r]` for its blocks
    /// `query` `[B, Hq, Sq_r, D]`, `key`/`value` `[B, Hkv, Sk_r, D]`. Every rank calls it
    /// (collective). With `causal`, queries and keys must be split the same way (Sq_r == Sk_r).
    /// Errors: shapes that disagree between ranks (batch, heads, headDim) or with the causal
    /// split, MPI errors.
    public func forward(query: Tensor<Float>, key: Tensor<Float>, value: Tensor<Float>)
        throws(TesseraError) -> (output: Tensor<Float>, lse: Tensor<Float>)
    {
        let comm = communicator, p = comm.size, r = comm.rank
        guard query.rank == 4, key.rank == 4, value.rank == 4, key.shape == value.shape else {
            throw .invalidArgument("RingAttention: query, key, value must be [batch, heads, length, headDim] with key.shape == value.shape")
        }
        let (b, hkv, d) = (key.shape[0], key.shape[1], key.shape[3])
        // every rank learns every block's key length (and checks the other dims agree)
        let mine: [Int64] = [Int64(b), Int64(query.shape[1]), Int64(hkv), Int64(d), Int64(key.shape[2]), Int64(query.shape[2])]
        let all = try comm.allgather(mine)
        for q in 0..<p where Array(all[(6 * q)..<(6 * q + 4)]) != Array(mine[0..<4]) {
            throw .invalidArgument("RingAttention: rank \(q) has [batch, qHeads, kvHeads, headDim] = \(Array(all[(6 * q)..<(6 * q + 4)])), rank \(r) has \(Array(mine[0..<4]))")
        }
        let kvLen = (0..<p).map { Int(all[6 * $0 + 4]) }
        if causal {
            for q in 0..<p where all[6 * q + 4] != all[6 * q + 5] {
                throw .invalidArgument("RingAttention: causal attention needs each rank's query and key blocks of equal length (rank \(q): \(all[6 * q + 5]) queries, \(all[6 * q + 4]) keys)")
            }
        }
        let next = (r + 1) % p, prev = (r + p - 1) % p
        var curK = key, curV = value
        var partials: [(block: Int, out: Tensor<Float>, lse: Tensor<Float>)] = []
        for s in 0..<p {
            let block = (r - s + p) % p
            // start moving the block on while this one is used
            var reqs: [Request] = []
            var nextK: Tensor<Float>?, nextV: Tensor<Float>?
            if s + 1 < p {
                let incoming = (r - s - 1 + 2 * p) % p
                var nk = try Tensor<Float>(shape: [b, hkv, kvLen[incoming], d])
                var nv = try Tensor<Float>(shape: [b, hkv, kvLen[incoming], d])
                try nk.withUnsafeMutableBufferPointer { (kb) throws(TesseraError) in
                    try nv.withUnsafeMutableBufferPointer { (vb) throws(TesseraError) in
                        reqs.append(try comm.irecv(bytes: UnsafeMutableRawBufferPointer(kb), from: prev, tag: 2 * (s % 8000) + 1))
                        reqs.append(try comm.irecv(bytes: UnsafeMutableRawBufferPointer(vb), from: prev, tag: 2 * (s % 8000) + 2))
                    }
                }
                try curK.withUnsafeBufferPointer { (kb) throws(TesseraError) in
                    try curV.withUnsafeBufferPointer { (vb) throws(TesseraError) in
                        reqs.append(try comm.isend(bytes: UnsafeRawBufferPointer(kb), to: next, tag: 2 * (s % 8000) + 1))
                        reqs.append(try comm.isend(bytes: UnsafeRawBufferPointer(vb), to: next, tag: 2 * (s % 8000) + 2))
                    }
                }
                nextK = nk; nextV = nv
            }
            let vis = visibility(query: r, key: block)
            if vis != .hidden && kvLen[block] > 0 {
                let part = try attention(vis).forward(query: query, key: curK, value: curV)
                partials.append((block, part.output, part.lse))
            }
            try Request.waitAll(reqs)
            if let nk = nextK, let nv = nextV { curK = nk; curV = nv }
        }
        return try RingAttention.merge(partials, queryShape: query.shape, pool: pool)
    }

    /// Merges partials in key-block order. No partial (no visible key) gives zeros and −inf.
    static func merge(_ parts: [(block: Int, out: Tensor<Float>, lse: Tensor<Float>)], queryShape: [Int], pool: ThreadPool)
        throws(TesseraError) -> (output: Tensor<Float>, lse: Tensor<Float>)
    {
        let sorted = parts.sorted { $0.block < $1.block }
        if sorted.isEmpty {
            let lse = try Tensor<Float>(shape: Array(queryShape.dropLast()),
                                        elements: [Float](repeating: -.infinity, count: queryShape.dropLast().reduce(1, *)))
            return (try Tensor<Float>(shape: queryShape), lse)
        }
        if sorted.count == 1 { return (sorted[0].out, sorted[0].lse) }
        return try Attention.merge(outputs: sorted.map(\.out), lse: sorted.map(\.lse), pool: pool)
    }

    /// One process computing what the ring computes for query block `r`: the partials
    /// against each key block of the same split, merged in block order (bitwise equal to
    /// `forward` on rank r of `ranks`). Full tensors `[B, H, S, D]`.
    public func reference(query: Tensor<Float>, key: Tensor<Float>, value: Tensor<Float>, ranks: Int, rank r: Int)
        throws(TesseraError) -> (output: Tensor<Float>, lse: Tensor<Float>)
    {
        let qBlocks = RingAttention.partition(length: query.shape[2], ranks: ranks)
        let kBlocks = RingAttention.partition(length: key.shape[2], ranks: ranks)
        let q = try RingAttention.slice(query, qBlocks[r])
        var parts: [(block: Int, out: Tensor<Float>, lse: Tensor<Float>)] = []
        for j in 0..<ranks {
            let vis = visibility(query: r, key: j)
            guard vis != .hidden, !kBlocks[j].isEmpty else { continue }
            let part = try attention(vis).forward(query: q, key: try RingAttention.slice(key, kBlocks[j]),
                                                  value: try RingAttention.slice(value, kBlocks[j]))
            parts.append((j, part.output, part.lse))
        }
        return try RingAttention.merge(parts, queryShape: q.shape, pool: pool)
    }

    /// Positions `range` of axis 2 of a `[B, H, S, D]` tensor.
    public static func slice(_ t: Tensor<Float>, _ range: Range<Int>) throws(TesseraError) -> Tensor<Float> {
        guard t.rank == 4, range.lowerBound >= 0, range.upperBound <= t.shape[2] else {
            throw .invalidArgument("RingAttention.slice: range \(range) outside axis 2 of \(t.shape)")
        }
        let (b, h, s, d) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
        var out = try Tensor<Float>(shape: [b, h, range.count, d])
        t.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for bh in 0..<(b * h) {
                    let from = src.baseAddress! + (bh * s + range.lowerBound) * d
                    (dst.baseAddress! + bh * range.count * d).update(from: from, count: range.count * d)
                }
            }
        }
        return out
    }

    /// Gathers every rank's `[B, H, S_r, D]` block into the full `[B, H, S, D]` tensor on all
    /// ranks (blocks in rank order along axis 2).
    public func allgatherSequence(_ local: Tensor<Float>) throws(TesseraError) -> Tensor<Float> {
        guard local.rank == 4 || local.rank == 3 else {
            throw .invalidArgument("RingAttention.allgatherSequence: expected [B, H, S, D] or [B, H, S], got \(local.shape)")
        }
        let d = local.rank == 4 ? local.shape[3] : 1
        let (b, h) = (local.shape[0], local.shape[1])
        let (flat, counts) = try communicator.allgatherVariable(local.toArray())
        let lens = counts.map { $0 / (b * h * d) }
        let total = lens.reduce(0, +)
        var shape = [b, h, total]
        if local.rank == 4 { shape.append(d) }
        var out = try Tensor<Float>(shape: shape)
        out.withUnsafeMutableBufferPointer { dst in
            var off = 0, pos = 0
            for (q, len) in lens.enumerated() {
                for bh in 0..<(b * h) {
                    for i in 0..<(len * d) { dst[(bh * total + pos) * d + i] = flat[off + bh * len * d + i] }
                }
                off += counts[q]
                pos += len
            }
        }
        return out
    }
}
