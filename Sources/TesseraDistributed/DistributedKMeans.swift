// Data-parallel k-means: each rank holds a contiguous block of rows; every Lloyd iteration
// assigns the local rows (GEMM distances, as TesseraCluster's KMeans), then the ranks combine
// the per-centre sums and counts and all compute the same new centres.
//
// Clusters left empty by a step take the rows farthest from their centres over all ranks, as in
// single-process KMeans (`relocateEmptyClusters`).
//
// Two reductions:
//   .ordered    every rank gets the per-chunk partial sums of all ranks (MPI_Allgatherv) and
//               adds them in global chunk order: with rank blocks on 4096-row chunk
//               boundaries (`partition`) the centres, labels and inertia have the same bits
//               as single-process `KMeans.fit` (TesseraCluster) with the same initial centres.
//   .allreduce  each rank adds its chunks, then one MPI_Allreduce of k·d + k values: O(k·d)
//               per rank whatever n is; equal to single-process up to rounding.

import Foundation
import Tessera
import TesseraCluster

/// How ranks combine per-centre sums.
public enum KMeansReduction: String, Sendable, CaseIterable {
    /// `.ordered`: per-chunk sums gathered and added in the global chunk order (the bits of one
    /// process, for any rank count); `.allreduce`: MPI_Allreduce of each rank's sums (faster, the bits
    /// depend on the rank count).
    case ordered, allreduce
}

/// Initial centres of a distributed fit.
public enum DistributedKMeansInitialization: Sendable {
    /// These k centres (each of length d), the same on every rank.
    case centers([[Double]])
    /// k-means++ (TesseraCluster) on a sample of up to `sampleSize` rows gathered from all
    /// ranks (each rank gives rows in proportion to its share), run on rank 0 and broadcast.
    case sampledKMeansPlusPlus(sampleSize: Int)
}

/// The outcome of a distributed k-means fit, as seen by one rank.
public struct DistributedKMeansResult<Scalar: ClusterScalar>: Sendable {
    /// k × d centres (the same on every rank).
    public var centers: Matrix<Scalar>
    /// Labels of this rank's rows.
    public var labels: [Int]
    /// Global Σ‖x − centre(x)‖².
    public var inertia: Double
    /// Lloyd iterations run.
    public var iterations: Int
    /// Whether the tolerance was met before `maxIterations`.
    public var converged: Bool
    /// Clusters that an assignment step left empty and that were given the point farthest from
    /// its centre over all ranks (summed over the iterations; as single-process `KMeans`).
    public var relocatedClusters: Int
    /// Rows before this rank's first row in the global order.
    public var rowOffset: Int
    /// Rows over all ranks.
    public var totalRows: Int
}

/// Data-parallel k-means: each rank holds a block of rows; centres are shared.
public enum DistributedKMeans {
    /// Rows per accumulation chunk: TesseraCluster's KMeans adds per-centre sums in chunks of
    /// this many rows, then the chunks in order; `.ordered` follows the same order.
    public static let chunk = KMeans.chunk

    /// A split of `rows` rows over `ranks` ranks, each block a whole number of chunks (except
    /// the last rows), as even as chunks allow: rank r gets rows `result[r]`.
    public static func partition(rows: Int, ranks: Int) -> [Range<Int>] {
        let chunks = (rows + chunk - 1) / chunk
        return (0..<ranks).map { r in
            let a = min(rows, (r * chunks / ranks) * chunk), b = min(rows, ((r + 1) * chunks / ranks) * chunk)
            return a..<b
        }
    }

    /// Clusters the union of every rank's rows (`local`: this rank's rows, in global order by
    /// rank) into k groups. Collective: every rank calls it with the same k and options.
    /// Errors (raised on every rank together, never a hang): d, k, options or initial centres
    /// differing between ranks, NaN / Inf in any rank's data, k outside 1...n, bad initial
    /// centres, maxIterations < 1.
    public static func fit<S: ClusterScalar & MPIElement>(
        _ local: Matrix<S>, k: Int, communicator comm: Communicator,
        initialization: DistributedKMeansInitialization, reduction: KMeansReduction = .ordered,
        maxIterations: Int = 300, tolerance: Double = 1e-4, seed: UInt64 = 0, pool: ThreadPool = .shared
    ) throws(TesseraError) -> DistributedKMeansResult<S> {
        let d = local.cols, nLocal = local.rows
        // agree on the parameters, then on shapes and data validity, before any further collective
        let initial: [Agreed]
        switch initialization {
        case .centers(let c): initial = [Agreed("initial centres", digestOf: c.flatMap { $0 } + [Double(c.count)])]
        case .sampledKMeansPlusPlus(let m): initial = [Agreed("k-means++ sample size", m)]
        }
        try comm.agree("DistributedKMeans", [
            Agreed("columns", d), Agreed("k", k), Agreed("maxIterations", maxIterations), Agreed("tolerance", tolerance),
            Agreed("seed", Int64(bitPattern: seed)), Agreed("reduction", reduction.rawValue),
        ] + initial)
        var bad = 0
        local.withUnsafeBufferPointer { b in
            for i in 0..<nLocal where bad == 0 { for t in 0..<d where !b[i * local.rowStride + t].isFinite { bad = 1; break } }
        }
        let info = try comm.allgather([Int64(nLocal), Int64(d), Int64(bad)])
        let counts = (0..<comm.size).map { Int(info[3 * $0]) }
        if let q = (0..<comm.size).first(where: { info[3 * $0 + 2] != 0 }) {
            throw .invalidArgument("DistributedKMeans: rank \(q)'s data contains NaN or infinity")
        }
        let n = counts.reduce(0, +)
        let offset = counts[0..<comm.rank].reduce(0, +)
        guard d >= 1, n >= 1 else { throw .invalidArgument("DistributedKMeans: no data (n = \(n), d = \(d))") }
        guard k >= 1, k <= n else { throw .invalidArgument("DistributedKMeans: k must be in 1...\(n) (got \(k))") }
        guard maxIterations >= 1 else { throw .invalidArgument("DistributedKMeans: maxIterations must be >= 1") }
        guard tolerance >= 0, tolerance.isFinite else { throw .invalidArgument("DistributedKMeans: tolerance must be >= 0") }

        var centers: [S]
        switch initialization {
        case .centers(let c):
            guard c.count == k, c.allSatisfy({ $0.count == d && $0.allSatisfy(\.isFinite) }) else {
                throw .invalidArgument("DistributedKMeans: initial centres must be \(k) rows of \(d) finite values")
            }
            centers = c.flatMap { $0.map { S($0) } }
        case .sampledKMeansPlusPlus(let m):
            guard m >= k else { throw .invalidArgument("DistributedKMeans: sample size \(m) must be >= k = \(k)") }
            centers = try sampleCenters(local, k: k, sampleSize: m, total: n, comm: comm, seed: seed)
        }

        let tol = tolerance * (try meanVariance(local, n: n, comm: comm))
        var labels = [Int](repeating: -1, count: nLocal)
        var oldLabels = labels
        var iterations = 0, converged = false, relocated = 0
        while iterations < maxIterations {
            iterations += 1
            let step = assign(local, rowOffset: offset, k: k, centers: centers, labels: &labels, sums: true, pool: pool)
            var (sums, cnt) = try combine(step, k: k, d: d, reduction: reduction, comm: comm)
            relocated += try relocateEmptyClusters(local, rowOffset: offset, k: k, centers: centers, labels: labels,
                                                   sums: &sums, counts: &cnt, comm: comm, pool: pool)
            let (newCenters, shift) = KMeans.movedCenters(centers, sums: sums, count: { cnt[$0] }, k: k, d: d)
            centers = newCenters
            let changed = try comm.allreduce(labels == oldLabels ? 0 : 1, op: .max)
            if changed == 0 { converged = true; break }
            if shift <= tol { converged = true; break }
            oldLabels = labels
        }
        let last = assign(local, rowOffset: offset, k: k, centers: centers, labels: &labels, sums: false, pool: pool)
        let inertia: Double
        switch reduction {
        case .ordered:
            let all = try comm.allgatherVariable(last.inertia).values
            var s = 0.0
            for v in all { s += v }
            inertia = s
        case .allreduce:
            inertia = try comm.allreduce(last.inertia.reduce(0, +), op: .sum)
        }
        return DistributedKMeansResult(centers: try Matrix(rows: k, cols: d, elements: centers), labels: labels,
                                       inertia: inertia, iterations: iterations, converged: converged,
                                       relocatedClusters: relocated, rowOffset: offset, totalRows: n)
    }

    /// Per-chunk partials of one assignment pass over this rank's rows.
    struct ChunkPartials {
        var inertia: [Double] = []
        var sums: [Double] = []      // chunks × k × d
        var counts: [Double] = []    // chunks × k (doubles so one message carries both)
    }

    /// Assigns the local rows; chunks follow the global 4096-row grid (a chunk cut by a rank
    /// boundary becomes two partials).
    static func assign<S: ClusterScalar>(_ data: Matrix<S>, rowOffset: Int, k: Int, centers: [S], labels: inout [Int],
                                         sums withSums: Bool, pool: ThreadPool) -> ChunkPartials {
        let n = data.rows, d = data.cols, ld = data.rowStride
        // local chunk boundaries on the global grid
        var bounds = [0]
        var g = (rowOffset / chunk + 1) * chunk - rowOffset
        while g < n { bounds.append(g); g += chunk }
        if n > 0 { bounds.append(n) }
        let nChunks = max(0, bounds.count - 1)
        if nChunks == 0 {
            return ChunkPartials(inertia: [], sums: [], counts: [])
        }
        // TesseraCluster's own assignment kernel on the local chunks
        let part = KMeans.assignChunks(data, k: k, centers: centers, labels: &labels, bounds: bounds, withSums: withSums, pool: pool)
        return ChunkPartials(inertia: part.inertia, sums: part.sums, counts: part.counts.map(Double.init))
    }

    /// Single-process `KMeans`' empty-cluster relocation over all ranks: every rank offers its
    /// m rows farthest from their centre (m = the empty clusters, known to all from the global
    /// counts), one MPI_Allgatherv brings every rank the candidates of all, and each rank takes
    /// the m first in the same total order (farther first, then the lower global row): the rows
    /// one process would choose, with the same distance bits, so `sums` and `counts` get the same
    /// corrections in the same order on every rank. Returns the number of clusters relocated.
    static func relocateEmptyClusters<S: ClusterScalar>(_ local: Matrix<S>, rowOffset: Int, k: Int, centers: [S],
                                                        labels: [Int], sums: inout [Double], counts: inout [Double],
                                                        comm: Communicator, pool: ThreadPool) throws(TesseraError) -> Int {
        let empty = KMeans.emptyClusters(k: k) { counts[$0] }
        guard !empty.isEmpty else { return 0 }
        let mine = KMeans.farthestRows(local, centers: centers, labels: labels, count: empty.count, rowOffset: rowOffset,
                                       pool: pool)
        let all = try comm.allgatherVariable(mine.flatMap(\.packed)).values
        var ordered = KMeans.RelocationCandidate.unpack(all, d: local.cols)
        ordered.sort { $0.precedes($1) }
        return KMeans.relocate(empty: empty, ordered: ordered, sums: &sums, d: local.cols) { c, delta in counts[c] += delta }
    }

    /// Global per-centre sums and counts from every rank's chunk partials.
    static func combine(_ p: ChunkPartials, k: Int, d: Int, reduction: KMeansReduction, comm: Communicator)
        throws(TesseraError) -> (sums: [Double], counts: [Double]) {
        let stride = k * d + k
        let chunks = p.inertia.count
        var mine = [Double](repeating: 0, count: chunks * stride)
        for ch in 0..<chunks {
            for i in 0..<(k * d) { mine[ch * stride + i] = p.sums[ch * k * d + i] }
            for c in 0..<k { mine[ch * stride + k * d + c] = p.counts[ch * k + c] }
        }
        var total = [Double](repeating: 0, count: stride)
        switch reduction {
        case .ordered:
            let all = try comm.allgatherVariable(mine).values
            for ch in 0..<(all.count / stride) { for i in 0..<stride { total[i] += all[ch * stride + i] } }
        case .allreduce:
            for ch in 0..<chunks { for i in 0..<stride { total[i] += mine[ch * stride + i] } }
            try comm.allreduce(inPlace: &total, op: .sum)
        }
        return (Array(total[0..<(k * d)]), Array(total[(k * d)...]))
    }

    /// TesseraCluster's tolerance scale (mean feature variance), with its sums taken in the
    /// global row order: the running sums pass from rank to rank (a pipeline of P steps).
    static func meanVariance<S: ClusterScalar>(_ data: Matrix<S>, n: Int, comm: Communicator) throws(TesseraError) -> Double {
        let d = data.cols, ld = data.rowStride
        func fold(_ body: (inout [Double]) -> Void) throws(TesseraError) -> [Double] {
            var acc = [Double](repeating: 0, count: d)
            if comm.rank > 0 { acc = try comm.receive(Double.self, count: d, from: comm.rank - 1, tag: 901) }
            body(&acc)
            if comm.rank + 1 < comm.size { try comm.send(acc, to: comm.rank + 1, tag: 901) }
            var out = acc
            try comm.broadcast(&out, root: comm.size - 1)
            return out
        }
        let sums = try fold { acc in
            data.withUnsafeBufferPointer { b in for t in 0..<d { for i in 0..<data.rows { acc[t] += Double(b[i * ld + t]) } } }
        }
        let means = sums.map { $0 / Double(n) }
        let vars = try fold { acc in
            data.withUnsafeBufferPointer { b in
                for t in 0..<d { for i in 0..<data.rows { let x = Double(b[i * ld + t]) - means[t]; acc[t] += x * x } }
            }
        }
        var total = 0.0
        for t in 0..<d { total += vars[t] / Double(n) }
        return total / Double(d)
    }

    /// k-means++ on a gathered sample (rank 0), broadcast to all.
    static func sampleCenters<S: ClusterScalar & MPIElement>(_ local: Matrix<S>, k: Int, sampleSize m: Int, total n: Int,
                                                             comm: Communicator, seed: UInt64) throws(TesseraError) -> [S] {
        let d = local.cols
        // every rank takes an evenly spaced subset of its rows, in proportion to its share
        let take = min(local.rows, Int((Double(m) * Double(local.rows) / Double(n)).rounded(.up)))
        var rows = [S]()
        rows.reserveCapacity(take * d)
        for j in 0..<take {
            let i = take == 0 ? 0 : j * local.rows / take
            rows.append(contentsOf: local.row(i))
        }
        let gathered = try comm.gather(rows, root: 0)
        var centers = [S](repeating: 0, count: k * d)
        var failure: TesseraError?
        if comm.rank == 0 {
            do {
                let sample = try Matrix(rows: gathered.count / d, cols: d, elements: gathered)
                let r = try KMeans.fit(sample, k: min(k, sample.rows), options: KMeansOptions(seed: seed))
                centers = r.centers.toArray()
            } catch { failure = error }
        }
        // the outcome travels with the centres so every rank fails together
        var flag = [failure == nil ? 0 : 1]
        try comm.broadcast(&flag, root: 0)
        if flag[0] != 0 { throw failure ?? .invalidState("DistributedKMeans: the sample k-means++ on rank 0 failed") }
        try comm.broadcast(&centers, root: 0)
        return centers
    }
}
