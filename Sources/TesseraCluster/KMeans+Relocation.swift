// Empty-cluster relocation of the Lloyd update (scikit-learn's rule): when an assignment step
// leaves m clusters empty, the m points farthest from their assigned centre each become the
// sole member of one empty cluster, and their clusters (the donors) lose them from their sums
// and counts. Empty clusters take the points in ascending cluster order, farthest point first;
// equal distances go to the lower row index. Labels are left as the step assigned them (the
// next step reassigns), as scikit-learn does.
//
// Every distance is one row's own sum in `Double`, feature order, against the centres of the
// step, so the choice has the same bits on any thread count and for any split of the step,
// and the distributed k-means (TesseraDistributed) makes the same choice from each rank's
// candidates.

extension KMeans {
    /// A row that may take an empty cluster: its squared distance to its assigned centre, its
    /// global row index, that centre (the donor) and its coordinates in `Double`.
    package struct RelocationCandidate: Sendable, Equatable {
        /// Σ_t (x_t − c_t)² against the centre the row was assigned to, in `Double`.
        package var distance: Double
        /// The row's index in the global row order.
        package var row: Int
        /// The cluster the row was assigned to.
        package var donor: Int
        /// The row's coordinates.
        package var point: [Double]

        /// Whether `self` goes before `other`: farther first, then the lower row.
        package func precedes(_ other: RelocationCandidate) -> Bool {
            distance > other.distance || (distance == other.distance && row < other.row)
        }

        /// The candidate as `3 + d` doubles (distance, row, donor, point): one message part.
        package var packed: [Double] { [distance, Double(row), Double(donor)] + point }

        /// The candidates of a concatenation of `packed` records of width 3 + d.
        package static func unpack(_ values: [Double], d: Int) -> [RelocationCandidate] {
            let w = 3 + d
            return stride(from: 0, to: values.count - values.count % w, by: w).map { o in
                RelocationCandidate(distance: values[o], row: Int(values[o + 1]), donor: Int(values[o + 2]),
                                    point: Array(values[(o + 3)..<(o + w)]))
            }
        }
    }

    /// The clusters with no member (`count(c) == 0`), ascending.
    package static func emptyClusters(k: Int, count: (Int) -> Double) -> [Int] {
        (0..<k).filter { count($0) == 0 }
    }

    /// The `m` rows of `data` farthest from their assigned centre (`labels`, `centers` k·d of the
    /// step), farthest first, equal distances by row; `rowOffset` is added to the row indices
    /// (the rank's first global row). The distances are computed per row (over the pool when
    /// there are many): the same bits however the rows are shared out.
    package static func farthestRows<S: ClusterScalar>(_ data: Matrix<S>, centers: [S], labels: [Int], count m: Int,
                                                       rowOffset: Int = 0, pool: ThreadPool) -> [RelocationCandidate] {
        let n = data.rows, d = data.cols, ld = data.rowStride
        guard m > 0, n > 0 else { return [] }
        var dist = [Double](repeating: 0, count: n)
        data.withUnsafeBufferPointer { xb in
            centers.withUnsafeBufferPointer { cb in
                labels.withUnsafeBufferPointer { lb in
                    dist.withUnsafeMutableBufferPointer { db in
                        let x = xb.baseAddress!, c = cb.baseAddress!, lab = lb.baseAddress!, out = db.baseAddress!
                        let body = { (r: Range<Int>, _: Int) in
                            for i in r {
                                let xp = x + i * ld, cp = c + lab[i] * d
                                var s = 0.0
                                for t in 0..<d { let v = xp[t].double - cp[t].double; s += v * v }
                                out[i] = s
                            }
                        }
                        if n * d < smallWork || pool.threadCount == 1 { body(0..<n, 0) }
                        else { pool.parallelFor(0..<n, schedule: .static, body) }
                    }
                }
            }
        }
        // the m largest, kept sorted (farthest first); rows arrive in ascending order, so a later
        // row of equal distance never displaces an earlier one
        var top: [Int] = []
        top.reserveCapacity(m + 1)
        for i in 0..<n {
            if top.count == m, dist[i] <= dist[top[m - 1]] { continue }
            var lo = 0, hi = top.count
            while lo < hi { let mid = (lo + hi) / 2; if dist[top[mid]] >= dist[i] { lo = mid + 1 } else { hi = mid } }
            top.insert(i, at: lo)
            if top.count > m { top.removeLast() }
        }
        return data.withUnsafeBufferPointer { xb in
            top.map { i in
                RelocationCandidate(distance: dist[i], row: rowOffset + i, donor: labels[i],
                                    point: (0..<d).map { xb[i * ld + $0].double })
            }
        }
    }

    /// Gives the empty clusters (`empty`, ascending) the first candidates of `ordered` (sorted by
    /// `precedes`, at least as many): `sums` (k × d) and the counts (through `adjust(cluster, Δ)`)
    /// lose each point from its donor and the empty cluster gets the point alone. Nothing moves when
    /// the farthest distance is 0 (every point on its centre: more clusters than distinct points).
    /// Returns the number of clusters relocated.
    @discardableResult
    package static func relocate(empty: [Int], ordered: [RelocationCandidate], sums: inout [Double], d: Int,
                                 adjust: (Int, Double) -> Void) -> Int {
        guard !empty.isEmpty, let first = ordered.first, first.distance > 0 else { return 0 }
        let moves = min(empty.count, ordered.count)
        for j in 0..<moves {
            let e = empty[j], p = ordered[j]
            for t in 0..<d {
                sums[p.donor * d + t] -= p.point[t]
                sums[e * d + t] = p.point[t]
            }
            adjust(p.donor, -1)
            adjust(e, 1)
        }
        return moves
    }

    /// The single-process relocation after an assignment step: the empty clusters by `counts`,
    /// the farthest rows of the whole data, `sums` and `counts` corrected. Returns the number
    /// of clusters relocated.
    static func relocateEmptyClusters<S: ClusterScalar>(_ data: Matrix<S>, k: Int, centers: [S], labels: [Int],
                                                        sums: inout [Double], counts: inout [Int], pool: ThreadPool) -> Int {
        let empty = emptyClusters(k: k) { Double(counts[$0]) }
        guard !empty.isEmpty else { return 0 }
        let far = farthestRows(data, centers: centers, labels: labels, count: empty.count, pool: pool)
        return relocate(empty: empty, ordered: far, sums: &sums, d: data.cols) { c, delta in counts[c] += Int(delta) }
    }
}
