// CLARA with its samples on different ranks. Every rank sees all n points (CLARA draws each
// sample from all of them and judges it by the loss over all of them; the data a rank needs is
// the data set itself, or a function that computes a dissimilarity). Sample s runs on rank
// s mod P with TesseraCluster's own per-sample code (stream s+1 of the seed, k-medoids on the
// sample, loss over all n points), so each sample has the same bits as in one process. The
// (sample, loss, medoids) of all samples are gathered, every rank picks the same best (lowest
// loss, first sample on ties, as single-process CLARA), and the final assignment of all n
// points is split by 1024-row loss chunks across ranks and gathered; its loss is the in-order
// sum of the chunk sums. Result: equal to `SampledKMedoids.clara` with the same options
// (medoids, labels, loss bitwise).
//
//   samples:  0 1 2 3 4 5 6 ...     rank = s mod P     (the costly part: PAM + loss over n)
//   chunks:   [0..<c0) [c0..<c1) ... rank blocks       (final labels, allgathered)

import Foundation
import Tessera
import TesseraCluster

/// CLARA with its samples spread over the ranks: the same medoids as one process, in less time.
public enum DistributedCLARA {
    /// The ranks that run each sample: sample s on rank s mod `ranks`.
    public static func owner(sample s: Int, ranks: Int) -> Int { s % ranks }

    /// A digest of the dissimilarities between up to 256 fixed pseudo-random pairs: every rank
    /// must cluster the same data (a different file, column count or metric changes it).
    static func dataDigest(_ source: some Dissimilarity) -> Agreed {
        let n = source.count
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        var d: [Double] = []
        if n > 0 {
            for _ in 0..<256 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let i = Int((state >> 33) % UInt64(n)), j = Int((state >> 5) % UInt64(n))
                d.append(source.distance(i, j))
            }
        }
        return Agreed("data (dissimilarities of 256 sample pairs)", digestOf: d)
    }

    /// CLARA / FastCLARA over `source` (the same on every rank) with samples spread over the
    /// ranks of `communicator` (collective: every rank calls it with the same k and options).
    /// `options.pool` (or the shared pool) runs each rank's work. Errors: bad k / samples /
    /// sampleSize, `keepMedoids` (sequential samples: use `SampledKMedoids.clara`), data or
    /// options that differ between ranks (all checked on every rank together before any work),
    /// a sample that failed on any rank (reported on every rank), MPI errors.
    public static func fit(_ source: some Dissimilarity, k: Int, options: SampledKMedoids.CLARAOptions = .init(),
                           communicator comm: Communicator) throws(TesseraError) -> KMedoidsResult {
        let n = source.count
        // agree on the data and the options first: the checks after it then fail on every rank
        try comm.agree("DistributedCLARA", [
            Agreed("points", n), Agreed("k", k), Agreed("samples", options.samples), Agreed("sampleSize", options.sampleSize ?? -1),
            Agreed("fast", options.fast), Agreed("keepMedoids", options.keepMedoids), Agreed("maxIterations", options.maxIterations),
            Agreed("seed", Int64(bitPattern: options.seed)), DistributedCLARA.dataDigest(source),
        ])
        let size = try SampledKMedoids.claraSampleSize(n: n, k: k, options: options)
        guard !options.keepMedoids else {
            throw .unsupported("DistributedCLARA: keepMedoids makes every sample wait for the previous one; run SampledKMedoids.clara on one rank")
        }
        let pool = options.pool ?? .shared
        let t0 = MPI.wallTime()
        // this rank's samples: one record [sample, loss, medoid_0 ... medoid_k-1] each, or
        // [-1, failing sample] if one failed (every rank then throws the same error)
        var records: [Double] = []
        var failure: String?
        for s in stride(from: comm.rank, to: options.samples, by: comm.size) {
            do throws(TesseraError) {
                let r = try SampledKMedoids.claraSample(source, k: k, size: size, options: options, sample: s, keep: [], pool: pool)
                records += [Double(s), r.loss] + r.medoids.map(Double.init)
            } catch {
                failure = "\(error)"
                records = [-1, Double(s)]
                break
            }
        }
        let all = try comm.allgatherVariable(records)
        // a failure anywhere: every rank stops here with the same error
        var off = 0
        for q in 0..<comm.size {
            if all.counts[q] == 2 && all.values[off] == -1 {
                throw .invalidState("DistributedCLARA: sample \(Int(all.values[off + 1])) failed on rank \(q)" + (q == comm.rank ? ": \(failure ?? "")" : ""))
            }
            off += all.counts[q]
        }
        var losses = [Double](repeating: .infinity, count: options.samples)
        var medoidsOf = [[Int]](repeating: [], count: options.samples)
        for rec in stride(from: 0, to: all.values.count, by: k + 2) {
            let s = Int(all.values[rec])
            losses[s] = all.values[rec + 1]
            medoidsOf[s] = all.values[(rec + 2)..<(rec + 2 + k)].map { Int($0) }
        }
        var best = 0
        for s in 1..<options.samples where losses[s] < losses[best] { best = s }
        let medoids = medoidsOf[best]
        // final assignment: chunk blocks per rank, gathered in rank (= chunk) order
        let chunks = (n + SampledKMedoids.assignChunk - 1) / SampledKMedoids.assignChunk
        let mine = (comm.rank * chunks / comm.size)..<((comm.rank + 1) * chunks / comm.size)
        let part = SampledKMedoids.assignChunks(source, medoids: medoids, chunks: mine, pool: pool)
        let labels = try comm.allgatherVariable(part.labels.map { Int64($0) }).values.map { Int($0) }
        let parts = try comm.allgatherVariable(part.parts).values
        guard labels.count == n, parts.count == chunks else {
            throw .internalError("DistributedCLARA: gathered \(labels.count) labels and \(parts.count) chunk sums for \(n) points")
        }
        return SampledKMedoids.claraResult(medoids: medoids, labels: labels, loss: parts.reduce(0, +),
                                           samples: options.samples, seconds: MPI.wallTime() - t0)
    }
}
