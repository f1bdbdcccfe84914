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
// Causal attention with contiguous blocks is unbalanced (rank P−1 sees all P key blocks, rank 0
// one). The zig-zag layout cuts the sequence into 2P chunks and gives rank r chunks r and
// 2P−1−r, so every rank's queries see the same number of (chunk × chunk) tiles:
//
//   chunks:   0   1   2   3   4   5   6   7        (P = 4)
//   rank:     0   1   2   3   3   2   1   0
//   visible key tiles of rank r: (r + ½) + (2P−1−r + ½) = 2P  (the diagonal tiles count ½)
//
// Partials are merged in key-chunk order (0, 1, ..., P−1), not arrival order, so the result
// has the same bits as one process computing the per-block partials and merging them in that
// order (`RingAttention.reference`), and agrees with unsplit attention to f32 rounding.

import Foundation
import Tessera

/// How the global sequence is split over the ranks.
public enum SequenceLayout: String, Sendable, CaseIterable {
    /// rank r holds positions `partition(length, ranks)[r]` (one block)
    case contiguous
    /// rank r holds chunks r and 2P−1−r of `partition(length, 2·ranks)`: equal causal work
    case zigzag
}

/// Sequence-parallel attention across the ranks of a communicator.
public struct RingAttention: Sendable {
    /// The ranks the sequence is split over.
    public let communicator: Communicator
    /// Causal self-attention over the global sequence (queries and keys split the same way).
    public var causal: Bool
    /// Multiplies the scores; nil = 1/sqrt(headDim).
    public var scale: Float?
    /// The pool of this rank's attention kernels.
    public var pool: ThreadPool
    /// How queries and keys are split over the ranks (`.zigzag` balances causal work).
    public var layout: SequenceLayout

    /// Tests only: called on every ring step between posting the transfers and waiting for
    /// them (a throw there must leave no transfer writing freed memory).
    nonisolated(unsafe) package static var injectedFault: ((Int) throws(TesseraError) -> Void)?

    /// Ring attention over `communicator`'s ranks.
    public init(communicator: Communicator, causal: Bool = false, scale: Float? = nil, layout: SequenceLayout = .contiguous,
                pool: ThreadPool = .shared) {
        self.communicator = communicator
        self.causal = causal
        self.scale = scale
        self.layout = layout
        self.pool = pool
    }

    /// The global positions rank `rank` holds under `layout`, as (chunk index, range) pairs in
    /// local order (contiguous: one chunk of P; zig-zag: chunks r and 2P−1−r of 2P).
    public static func chunks(length: Int, ranks: Int, rank: Int, layout: SequenceLayout) -> [(index: Int, range: Range<Int>)] {
        switch layout {
        case .contiguous:
            return [(rank, partition(length: length, ranks: ranks)[rank])]
        case .zigzag:
            let c = partition(length: length, ranks: 2 * ranks)
            return [(rank, c[rank]), (2 * ranks - 1 - rank, c[2 * ranks - 1 - rank])]
        }
    }

    /// This rank's part of a full `[B, H, S, D]` tensor under `layout` (its chunks concatenated).
    public static func local(_ t: Tensor<Float>, ranks: Int, rank: Int, layout: SequenceLayout) throws(TesseraError) -> Tensor<Float> {
        guard t.rank == 4 else { throw .invalidArgument("RingAttention.local: expected [B, H, S, D], got \(t.shape)") }
        var parts: [Tensor<Float>] = []
        for c in chunks(length: t.shape[2], ranks: ranks, rank: rank, layout: layout) { parts.append(try slice(t, c.range)) }
        return try concatSequence(parts)
    }

    /// Concatenates `[B, H, S_i, D]` (or `[B, H, S_i]`) tensors along the sequence axis.
    static func concatSequence(_ parts: [Tensor<Float>]) throws(TesseraError) -> Tensor<Float> {
        if parts.count == 1 { return parts[0] }
        let first = parts[0]
        let d = first.rank == 4 ? first.shape[3] : 1
        let (b, h) = (first.shape[0], first.shape[1])
        let total = parts.reduce(0) { $0 + $1.shape[2] }
        var shape = [b, h, total]
        if first.rank == 4 { shape.append(d) }
        var out = try Tensor<Float>(shape: shape)
        out.withUnsafeMutableBufferPointer { dst in
            var pos = 0
            for t in parts {
                let len = t.shape[2]
                t.withUnsafeBufferPointer { src in
                    for bh in 0..<(b * h) {
                        (dst.baseAddress! + (bh * total + pos) * d).update(from: src.baseAddress! + bh * len * d, count: len * d)
                    }
                }
                pos += len
            }
        }
        return out
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
        let (b, hq, hkv, d) = (key.shape[0], query.shape[1], key.shape[1], key.shape[3])
        // every rank agrees on the shapes and options first, so the checks after it fail on
        // every rank together, before any transfer; then every rank learns each block's length
        try comm.agree("RingAttention", [
            Agreed("batch", b), Agreed("query heads", hq), Agreed("key/value heads", hkv), Agreed("head dimension", d),
            Agreed("query batch", query.shape[0]), Agreed("query head dimension", query.shape[3]), Agreed("causal", causal),
            Agreed("scale", scale.map { Double($0) } ?? .nan), Agreed("layout", layout.rawValue),
        ])
        guard query.shape[0] == b, query.shape[3] == d, hkv >= 1, hq % hkv == 0 else {
            throw .invalidArgument("RingAttention: query \(query.shape) and key \(key.shape) need the same batch and headDim, and query heads a multiple of key/value heads (grouped-query attention)")
        }
        let all = try comm.allgather([Int64(key.shape[2]), Int64(query.shape[2])])
        let kvLen = (0..<p).map { Int(all[2 * $0]) }
        if causal {
            for q in 0..<p where all[2 * q] != all[2 * q + 1] {
                throw .invalidArgument("RingAttention: causal attention needs each rank's query and key blocks of equal length (rank \(q): \(all[2 * q + 1]) queries, \(all[2 * q]) keys)")
            }
        }
        // the chunks of every rank (zig-zag: the split of the global length into 2P chunks)
        let total = kvLen.reduce(0, +)
        func keyChunks(_ j: Int) -> [(index: Int, range: Range<Int>)] {
            layout == .contiguous ? [(j, 0..<kvLen[j])]
                : RingAttention.chunks(length: total, ranks: p, rank: j, layout: .zigzag).map { c in (c.index, c.range) }
        }
        if layout == .zigzag {
            for q in 0..<p {
                let c = RingAttention.chunks(length: total, ranks: p, rank: q, layout: .zigzag)
                guard all[2 * q] == all[2 * q + 1], Int(all[2 * q]) == c[0].range.count + c[1].range.count,
                      !c[0].range.isEmpty, !c[1].range.isEmpty else {
                    throw .invalidArgument("RingAttention: the zig-zag layout needs rank \(q) to hold chunks \(c[0].index) and \(c[1].index) of the \(total) positions split in \(2 * p) (\(c[0].range.count) + \(c[1].range.count) queries and keys; it has \(all[2 * q + 1]) queries, \(all[2 * q]) keys; at least \(2 * p) positions)")
                }
            }
        }
        // local offsets of this rank's chunks, and its query chunks
        func localRanges(_ cs: [(index: Int, range: Range<Int>)]) -> [(index: Int, range: Range<Int>)] {
            var off = 0
            return cs.map { c in defer { off += c.range.count }; return (c.index, off..<(off + c.range.count)) }
        }
        let myQueryChunks: [(index: Int, range: Range<Int>)] = layout == .contiguous ? [(r, 0..<query.shape[2])] : localRanges(keyChunks(r))
        let queryParts: [Tensor<Float>]
        if myQueryChunks.count == 1 { queryParts = [query] } else {
            var qp: [Tensor<Float>] = []
            for c in myQueryChunks { qp.append(try RingAttention.slice(query, c.range)) }
            queryParts = qp
        }
        let next = (r + 1) % p, prev = (r + p - 1) % p
        var curK = key, curV = value
        var partials = [[(block: Int, out: Tensor<Float>, lse: Tensor<Float>)]](repeating: [], count: myQueryChunks.count)
        for s in 0..<p {
            let block = (r - s + p) % p
            // start moving the block on while this one is used; the scope completes (or, on a
            // throw, cancels) the transfers before their buffers can be released
            let incoming = try comm.withRequests { (scope) throws(TesseraError) -> (key: Tensor<Float>, value: Tensor<Float>)? in
                var incoming: (key: Tensor<Float>, value: Tensor<Float>)?
                if s + 1 < p {
                    let from = (r - s - 1 + 2 * p) % p, tag = 2 * (s % 8000)
                    let shape = [b, hkv, kvLen[from], d]
                    let nk = try comm.irecv(shape: shape, of: Float.self, from: prev, tag: tag + 1, in: scope).tensor
                    let nv = try comm.irecv(shape: shape, of: Float.self, from: prev, tag: tag + 2, in: scope).tensor
                    try comm.isend(curK, to: next, tag: tag + 1, in: scope)
                    try comm.isend(curV, to: next, tag: tag + 2, in: scope)
                    incoming = (nk, nv)
                }
                try RingAttention.injectedFault?(s)
                let kcs = localRanges(keyChunks(block))
                for (qi, qc) in myQueryChunks.enumerated() {
                    for kc in kcs where !kc.range.isEmpty {
                        let vis = visibility(query: qc.index, key: kc.index)
                        guard vis != .hidden else { continue }
                        let (ks, vs) = kcs.count == 1 ? (curK, curV)
                            : (try RingAttention.slice(curK, kc.range), try RingAttention.slice(curV, kc.range))
                        let part = try attention(vis).forward(query: queryParts[qi], key: ks, value: vs)
                        partials[qi].append((kc.index, part.output, part.lse))
                    }
                }
                return incoming
            }
            if let incoming { curK = incoming.key; curV = incoming.value }
        }
        var outs: [Tensor<Float>] = [], lses: [Tensor<Float>] = []
        for (qi, q) in queryParts.enumerated() {
            let m = try RingAttention.merge(partials[qi], queryShape: q.shape, pool: pool)
            outs.append(m.output); lses.append(m.lse)
        }
        return (try RingAttention.concatSequence(outs), try RingAttention.concatSequence(lses))
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

    /// One process computing what the ring computes for rank `r`'s queries: the partials
    /// against each key chunk of the same split, merged in chunk order (bitwise equal to
    /// `forward` on rank r of `ranks`). Full tensors `[B, H, S, D]`.
    public func reference(query: Tensor<Float>, key: Tensor<Float>, value: Tensor<Float>, ranks: Int, rank r: Int)
        throws(TesseraError) -> (output: Tensor<Float>, lse: Tensor<Float>)
    {
        let nChunks = layout == .contiguous ? ranks : 2 * ranks
        let qChunks = RingAttention.chunks(length: query.shape[2], ranks: ranks, rank: r, layout: layout)
        let kAll = RingAttention.partition(length: key.shape[2], ranks: nChunks)
        var outs: [Tensor<Float>] = [], lses: [Tensor<Float>] = []
        for qc in qChunks {
            let q = try RingAttention.slice(query, qc.range)
            var parts: [(block: Int, out: Tensor<Float>, lse: Tensor<Float>)] = []
            for j in 0..<nChunks {
                let vis = visibility(query: qc.index, key: j)
                guard vis != .hidden, !kAll[j].isEmpty else { continue }
                let part = try attention(vis).forward(query: q, key: try RingAttention.slice(key, kAll[j]),
                                                      value: try RingAttention.slice(value, kAll[j]))
                parts.append((j, part.output, part.lse))
            }
            let m = try RingAttention.merge(parts, queryShape: q.shape, pool: pool)
            outs.append(m.output); lses.append(m.lse)
        }
        return (try RingAttention.concatSequence(outs), try RingAttention.concatSequence(lses))
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

    /// Gathers every rank's `[B, H, S_r, D]` (or `[B, H, S_r]`) part into the full tensor in
    /// global sequence order on all ranks (contiguous: blocks in rank order; zig-zag: each
    /// rank's two chunks put back in their places).
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
        // global position of each rank's local rows
        var starts: [[(local: Int, global: Int, count: Int)]] = []
        for q in 0..<lens.count {
            if layout == .contiguous {
                starts.append([(0, lens[0..<q].reduce(0, +), lens[q])])
            } else {
                var off = 0
                starts.append(RingAttention.chunks(length: total, ranks: lens.count, rank: q, layout: .zigzag).map { c in
                    defer { off += c.range.count }; return (off, c.range.lowerBound, c.range.count)
                })
            }
        }
        var out = try Tensor<Float>(shape: shape)
        out.withUnsafeMutableBufferPointer { dst in
            var off = 0
            for (q, len) in lens.enumerated() {
                for seg in starts[q] {
                    for bh in 0..<(b * h) {
                        for i in 0..<(seg.count * d) {
                            dst[(bh * total + seg.global) * d + i] = flat[off + (bh * len + seg.local) * d + i]
                        }
                    }
                }
                off += counts[q]
            }
        }
        return out
    }
}
