extension KMedoids {
    /// The point of least total distance (BUILD's first medoid; the exact optimum for k = 1).
    /// Parallel over candidates; ties go to the lowest index.
    static func buildFirst<S: ClusterScalar>(_ matrix: DistanceMatrix<S>, pool: ThreadPool) -> Int {
        let n = matrix.count, d = matrix.pointer
        var sums = [Double](repeating: 0, count: n)
        sums.withUnsafeMutableBufferPointer { sb in
            let sp = sb.baseAddress!
            pool.parallelFor(0..<n, schedule: .dynamic(chunk: 32)) { r, _ in
                for i in r {
                    let row = d + i * n
                    var s = 0.0
                    for j in 0..<n { s += row[j].double }
                    sp[i] = s
                }
            }
        }
        var best = 0
        for i in 1..<n where sums[i] < sums[best] { best = i }
        return best
    }

    /// PAM BUILD: k greedy additions, each the candidate with the largest loss reduction
    /// `Σ_j min(d(j,i) − D_j, 0)`; candidates are scored in parallel, each score is a
    /// sequential sum, and the lowest index wins ties, so the result is the same for any
    /// thread count. When no candidate lowers the loss (fewer than k distinct points) the
    /// best zero-gain point is still added, so k medoids are always returned.
    static func build<S: ClusterScalar>(_ matrix: DistanceMatrix<S>, k: Int, pool: ThreadPool) -> [Int] {
        let n = matrix.count, d = matrix.pointer
        var medoids = [buildFirst(matrix, pool: pool)]
        var isMedoid = [Bool](repeating: false, count: n)
        isMedoid[medoids[0]] = true
        // D_j: distance to the nearest chosen medoid
        var near = [S](repeating: 0, count: n)
        for j in 0..<n { near[j] = d[medoids[0] * n + j] }
        var gains = [Double](repeating: 0, count: n)
        while medoids.count < k {
            near.withUnsafeBufferPointer { nb in
                isMedoid.withUnsafeBufferPointer { mb in
                    gains.withUnsafeMutableBufferPointer { gb in
                        let np = nb.baseAddress!, gp = gb.baseAddress!
                        pool.parallelFor(0..<n, schedule: .dynamic(chunk: 16)) { r, _ in
                            for i in r {
                                if mb[i] { gp[i] = .infinity; continue }
                                let row = d + i * n
                                var g = 0.0
                                for j in 0..<n {
                                    let v = row[j], dj = np[j]
                                    if v < dj { g += v.double - dj.double }
                                }
                                gp[i] = g
                            }
                        }
                    }
                }
            }
            var best = -1
            for i in 0..<n where !isMedoid[i] && (best < 0 || gains[i] < gains[best]) { best = i }
            medoids.append(best)
            isMedoid[best] = true
            let row = d + best * n
            for j in 0..<n where row[j] < near[j] { near[j] = row[j] }
        }
        return medoids
    }

    /// LAB (linear approximative BUILD, Schubert & Rousseeuw 2021): each of the k steps draws
    /// 10 + ⌈√n⌉ non-medoids and adds the one that best lowers the loss of that sample.
    /// O(k·(10+√n)²) distance reads plus O(nk) bookkeeping.
    static func lab<S: ClusterScalar>(_ matrix: DistanceMatrix<S>, k: Int, rng: inout ClusterRandom) -> [Int] {
        let n = matrix.count, d = matrix.pointer
        let sampleSize = min(n, 10 + Int(Double(n).squareRoot().rounded(.up)))
        var medoids = [Int]()
        var isMedoid = [Bool](repeating: false, count: n)
        var near = [Double](repeating: .infinity, count: n)
        while medoids.count < k {
            // sample among the non-medoids
            let free = n - medoids.count
            let picks = rng.sample(min(sampleSize, free), from: free)
            var candidates = [Int]()
            candidates.reserveCapacity(picks.count)
            if medoids.isEmpty {
                candidates = picks
            } else {
                // map the t-th free index to a point (the free points in increasing order)
                var freeList = [Int]()
                freeList.reserveCapacity(free)
                for i in 0..<n where !isMedoid[i] { freeList.append(i) }
                candidates = picks.map { freeList[$0] }
            }
            var best = candidates[0]
            var bestGain = Double.infinity
            for c in candidates {
                let row = d + c * n
                var g = 0.0
                for j in candidates {
                    let v = row[j].double
                    if near[j].isInfinite { g += v } else if v < near[j] { g += v - near[j] }
                }
                if g < bestGain { bestGain = g; best = c }
            }
            medoids.append(best)
            isMedoid[best] = true
            let row = d + best * n
            for j in 0..<n { near[j] = min(near[j], row[j].double) }
        }
        return medoids
    }
}
