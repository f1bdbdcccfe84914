/// One CLARANS / FastCLARANS local search: the nearest / second-nearest medoid cache of every
/// point over a `DistanceColumns` source. Each tried neighbour costs one distance column
/// (n distances, vectorised for data sources) and one O(n) pass over the cache; a swap costs
/// O(n) plus an O(k) rescan for the points that lose their second nearest.
final class CLARANSSearch<C: DistanceColumns> {
    let source: C
    let n: Int, k: Int
    var medoids: [Int]
    var isMedoid: [Bool]
    let near: UnsafeMutablePointer<Int>, seco: UnsafeMutablePointer<Int>
    let nearD: UnsafeMutablePointer<Double>, secoD: UnsafeMutablePointer<Double>
    /// secoD² rounded up (≥ the exact square): a squared distance s ≥ secoSq[j] has √s ≥ secoD[j]
    let secoSq: UnsafeMutablePointer<Double>
    let column: UnsafeMutablePointer<Double>
    var loss = 0.0, initialLoss = 0.0
    var swaps = 0

    init(_ source: C, medoids: [Int]) {
        self.source = source
        n = source.count; k = medoids.count
        self.medoids = medoids
        isMedoid = [Bool](repeating: false, count: n)
        for m in medoids { isMedoid[m] = true }
        near = .allocate(capacity: n); seco = .allocate(capacity: n)
        nearD = .allocate(capacity: n); secoD = .allocate(capacity: n); secoSq = .allocate(capacity: n)
        column = .allocate(capacity: n)
        for j in 0..<n { rescan(j) }
        var s = 0.0
        for j in 0..<n { s += nearD[j] }
        loss = s
        initialLoss = loss
    }

    deinit {
        near.deallocate(); seco.deallocate(); nearD.deallocate(); secoD.deallocate(); secoSq.deallocate()
        column.deallocate()
    }

    /// The medoid slot of every point.
    var labels: [Int] { Array(UnsafeBufferPointer(start: near, count: n)) }

    @inline(__always) func dist(_ j: Int, slot m: Int) -> Double { medoids[m] == j ? 0 : source.distance(j, medoids[m]) }

    /// Nearest and second-nearest slot of point j from scratch (a medoid is its own nearest).
    func rescan(_ j: Int) {
        var n1 = -1, n2 = -1, d1 = Double.infinity, d2 = Double.infinity
        for m in 0..<k {
            let v = dist(j, slot: m)
            if v < d1 || (medoids[m] == j && (n1 < 0 || medoids[n1] != j)) { n2 = n1; d2 = d1; n1 = m; d1 = v } else if v < d2 { n2 = m; d2 = v }
        }
        near[j] = n1; nearD[j] = d1; seco[j] = n2; secoD[j] = d2
        secoSq[j] = (d2 * d2).nextUp
    }

    /// Tries random neighbours until `maxNeighbors` fail in a row (FastCLARANS: or every
    /// non-medoid failed); takes the first improving one.
    func search(fast: Bool, maxNeighbors: Int, rng: inout ClusterRandom) {
        guard k < n else { return }
        var failures = 0
        var pool = (0..<n).filter { !isMedoid[$0] }   // FastCLARANS: candidates without repetition
        var drawn = 0
        var ploss = [Double](repeating: 0, count: k)
        while failures < maxNeighbors {
            let o: Int
            if fast {
                if drawn == pool.count { break }   // every non-medoid tried without success
                let t = drawn + rng.below(pool.count - drawn)
                pool.swapAt(drawn, t)
                o = pool[drawn]; drawn += 1
            } else {
                var c = rng.below(n)
                while isMedoid[c] { c = rng.below(n) }
                o = c
            }
            let squared = fast && source.defersRoot
            if squared { source.squaredColumn(o, into: column) } else { source.column(o, into: column) }
            var bestSlot = 0, bestDelta = Double.infinity
            if fast {
                ploss.withUnsafeMutableBufferPointer { pb in
                    let (slot, delta) = squared ? fastDeltaSquared(ploss: pb.baseAddress!) : fastDelta(ploss: pb.baseAddress!)
                    bestSlot = slot; bestDelta = delta
                }
            } else {
                let m = rng.below(k)
                bestSlot = m; bestDelta = pairDelta(slot: m)
            }
            if bestDelta < KMedoids.threshold(loss) {
                if squared { for j in 0..<n { column[j] = column[j].squareRoot() } }
                swap(slot: bestSlot, candidate: o)
                failures = 0
                pool = (0..<n).filter { !isMedoid[$0] }
                drawn = 0
            } else {
                failures += 1
            }
        }
    }

    /// FastPAM1 trick on the current column: every removal at once; the shared part is added
    /// before the argmin (ties to the lowest slot).
    @inline(__always) func fastDelta(ploss: UnsafeMutablePointer<Double>) -> (Int, Double) {
        for m in 0..<k { ploss[m] = 0 }
        var acc = 0.0
        for j in 0..<n {
            let v = column[j], nd = nearD[j], sd = secoD[j], nj = near[j]
            ploss[nj] += sd - nd
            if v < nd {
                acc += v - nd
                ploss[nj] += nd - sd
            } else if v < sd {
                ploss[nj] += v - sd
            }
        }
        var bestSlot = 0, bestDelta = Double.infinity
        for m in 0..<k where ploss[m] + acc < bestDelta { bestDelta = ploss[m] + acc; bestSlot = m }
        return (bestSlot, bestDelta)
    }

    /// `fastDelta` on squared distances (Euclidean data): a point whose squared distance is at
    /// least secoD² (rounded up) has √ ≥ secoD, so it adds only its constant term; the others
    /// take the correctly rounded √ — the same values and the same sums, in the same order, as
    /// `fastDelta` on the distances, without a square root per point.
    @inline(__always) func fastDeltaSquared(ploss: UnsafeMutablePointer<Double>) -> (Int, Double) {
        for m in 0..<k { ploss[m] = 0 }
        var acc = 0.0
        for j in 0..<n {
            let s = column[j], nd = nearD[j], sd = secoD[j], nj = near[j]
            ploss[nj] += sd - nd
            if s < secoSq[j] {
                let v = s.squareRoot()
                if v < nd {
                    acc += v - nd
                    ploss[nj] += nd - sd
                } else if v < sd {
                    ploss[nj] += v - sd
                }
            }
        }
        var bestSlot = 0, bestDelta = Double.infinity
        for m in 0..<k where ploss[m] + acc < bestDelta { bestDelta = ploss[m] + acc; bestSlot = m }
        return (bestSlot, bestDelta)
    }

    /// Loss change of exchanging slot m for the current column's point (PAM's rule, O(n)).
    @inline(__always) func pairDelta(slot m: Int) -> Double {
        var delta = 0.0
        for j in 0..<n {
            let v = column[j]
            if near[j] == m { delta += min(v, secoD[j]) - nearD[j] } else if v < nearD[j] { delta += v - nearD[j] }
        }
        return delta
    }

    /// Replaces slot m by o (whose distances are in `column`) and updates the caches.
    func swap(slot m: Int, candidate o: Int) {
        isMedoid[medoids[m]] = false
        medoids[m] = o
        isMedoid[o] = true
        swaps += 1
        var s = 0.0
        for j in 0..<n {
            let v = column[j]
            if j == o || near[j] == m || seco[j] == m || v < secoD[j] {
                if j == o {
                    if near[j] != m { seco[j] = near[j]; secoD[j] = nearD[j] }
                    near[j] = m; nearD[j] = 0
                } else if near[j] == m {
                    if v < secoD[j] { nearD[j] = v } else { rescan(j) }
                } else if v < nearD[j] {
                    seco[j] = near[j]; secoD[j] = nearD[j]; near[j] = m; nearD[j] = v
                } else if v < secoD[j] {
                    seco[j] = m; secoD[j] = v
                } else {
                    rescan(j)
                }
            }
            secoSq[j] = (secoD[j] * secoD[j]).nextUp
            s += nearD[j]
        }
        loss = s
    }
}
