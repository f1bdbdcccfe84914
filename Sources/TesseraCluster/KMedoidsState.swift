/// The per-point cache of the swap-based k-medoids methods and its maintenance.
///
/// For every point j: the slot and distance of its nearest medoid (`near`) and of its second
/// nearest (`seco`). `removal[m] = Σ_{near(j)=m} (seco.d_j − near.d_j)` is the loss of
/// removing medoid slot m (FastPAM1). Losses are summed in `Double` over fixed chunks of
/// points merged in chunk order, so they do not depend on the number of threads.
struct PointCache<S: ClusterScalar> {
    var nearSlot: Int32
    var secoSlot: Int32
    var nearD: S
    var secoD: S
}

/// Points per chunk in every chunked loop (fixed, so sums do not depend on the thread count).
let kmedoidsChunk = 2048

final class MedoidState<S: ClusterScalar> {
    let n: Int
    let k: Int
    let d: UnsafePointer<S>           // n × n, symmetric
    var medoids: [Int]
    var isMedoid: [Bool]
    let cache: UnsafeMutablePointer<PointCache<S>>
    var removal: [Double]
    var loss: Double = 0
    let pool: ThreadPool

    init(matrix: DistanceMatrix<S>, medoids: [Int], pool: ThreadPool) {
        n = matrix.count
        k = medoids.count
        d = UnsafePointer(matrix.pointer)
        self.medoids = medoids
        isMedoid = [Bool](repeating: false, count: n)
        for m in medoids { isMedoid[m] = true }
        cache = .allocate(capacity: n)
        removal = [Double](repeating: 0, count: k)
        self.pool = pool
        assignAll()
        updateRemovalLoss()
    }

    deinit { cache.deallocate() }

    var labels: [Int] { (0..<n).map { Int(cache[$0].nearSlot) } }

    /// Runs `body(chunkIndex, range)` over fixed chunks of points, in parallel when worthwhile.
    @inline(__always)
    func forChunks(_ body: (Int, Range<Int>) -> Void) {
        let chunks = (n + kmedoidsChunk - 1) / kmedoidsChunk
        if chunks == 1 || pool.threadCount == 1 {
            for c in 0..<chunks { body(c, (c * kmedoidsChunk)..<min(n, (c + 1) * kmedoidsChunk)) }
        } else {
            pool.parallelFor(0..<chunks, schedule: .dynamic(chunk: 1)) { r, _ in
                for c in r { body(c, (c * kmedoidsChunk)..<min(n, (c + 1) * kmedoidsChunk)) }
            }
        }
    }

    /// Sums per-chunk partials in chunk order.
    @inline(__always)
    func chunkedSum(_ partial: (Range<Int>) -> Double) -> Double {
        let chunks = (n + kmedoidsChunk - 1) / kmedoidsChunk
        var parts = [Double](repeating: 0, count: chunks)
        parts.withUnsafeMutableBufferPointer { pp in
            let p = pp.baseAddress!
            forChunks { c, r in p[c] = partial(r) }
        }
        var s = 0.0
        for v in parts { s += v }
        return s
    }

    /// Nearest and second-nearest medoid of every point; a medoid is always its own nearest
    /// (duplicates of a medoid then have it as second nearest at distance 0).
    func assignAll() {
        let med = medoids, im = isMedoid, k = self.k, n = self.n, d = self.d, cache = self.cache
        loss = med.withUnsafeBufferPointer { mb in
            chunkedSum { r in
                var s = 0.0
                for j in r {
                    let row = d + j * n
                    var selfSlot = -1
                    if im[j] { for m in 0..<k where mb[m] == j { selfSlot = m; break } }
                    var ni = -1, si = -1
                    var nd = S.infinity, sd = S.infinity
                    for m in 0..<k where m != selfSlot {
                        let v = row[mb[m]]
                        if v < nd {
                            si = ni; sd = nd; ni = m; nd = v
                        } else if v < sd {
                            si = m; sd = v
                        }
                    }
                    if selfSlot >= 0 { si = ni; sd = nd; ni = selfSlot; nd = 0 }
                    cache[j] = PointCache(nearSlot: Int32(ni), secoSlot: Int32(si), nearD: nd, secoD: sd)
                    s += nd.double
                }
                return s
            }
        }
    }

    func updateRemovalLoss() {
        for m in 0..<k { removal[m] = 0 }
        removal.withUnsafeMutableBufferPointer { rb in
            for j in 0..<n {
                let c = cache[j]
                rb[Int(c.nearSlot)] += c.secoD.double - c.nearD.double
            }
        }
    }

    /// FastPAM1: the best slot to exchange for candidate `o` and the loss change (O(n + k)).
    /// `ploss` is caller scratch of k doubles.
    @inline(__always)
    func bestSwap(for o: Int, ploss: UnsafeMutablePointer<Double>) -> (delta: Double, slot: Int) {
        removal.withUnsafeBufferPointer { rb in
            for m in 0..<k { ploss[m] = rb[m] }
        }
        let row = d + o * n
        let cache = self.cache
        var acc = 0.0
        for j in 0..<n {
            let djo = row[j]
            let c = cache[j]
            if djo < c.nearD {
                acc += djo.double - c.nearD.double
                ploss[Int(c.nearSlot)] += c.nearD.double - c.secoD.double
            } else if djo < c.secoD {
                ploss[Int(c.nearSlot)] += djo.double - c.secoD.double
            }
        }
        var best = 0
        var bestV = ploss[0]
        for m in 1..<k where ploss[m] < bestV { bestV = ploss[m]; best = m }
        return (bestV + acc, best)
    }

    /// FastPAM1 pass used by FastPAM2: writes ploss[m] + acc for every slot into `out`.
    @inline(__always)
    func allSwaps(for o: Int, out: UnsafeMutablePointer<Double>) {
        removal.withUnsafeBufferPointer { rb in
            for m in 0..<k { out[m] = rb[m] }
        }
        let row = d + o * n
        var acc = 0.0
        for j in 0..<n {
            let djo = row[j]
            let c = cache[j]
            if djo < c.nearD {
                acc += djo.double - c.nearD.double
                out[Int(c.nearSlot)] += c.nearD.double - c.secoD.double
            } else if djo < c.secoD {
                out[Int(c.nearSlot)] += djo.double - c.secoD.double
            }
        }
        for m in 0..<k { out[m] += acc }
    }

    /// The loss change of replacing slot `m` by `o`, by PAM's rule for one pair (O(n)).
    func pairDelta(slot m: Int, candidate o: Int) -> Double {
        let row = d + o * n
        var delta = 0.0
        for j in 0..<n {
            let c = cache[j]
            let djo = j == o ? S(0) : row[j]
            if Int(c.nearSlot) == m {
                delta += min(djo, c.secoD).double - c.nearD.double
            } else if djo < c.nearD {
                delta += djo.double - c.nearD.double
            }
        }
        return delta
    }

    /// Replaces medoid slot `m` by point `o` and updates the caches; returns the new loss.
    @discardableResult
    func swap(slot m: Int, candidate o: Int) -> Double {
        isMedoid[medoids[m]] = false
        medoids[m] = o
        isMedoid[o] = true
        let n = self.n, k = self.k, d = self.d, cache = self.cache
        let m32 = Int32(m)
        loss = medoids.withUnsafeBufferPointer { mb in
            chunkedSum { r in
                var s = 0.0
                for j in r {
                    var c = cache[j]
                    let row = d + j * n
                    if j == o {
                        // the new medoid is its own nearest
                        if c.nearSlot != m32 { c.secoSlot = c.nearSlot; c.secoD = c.nearD }
                        c.nearSlot = m32; c.nearD = 0
                    } else {
                        let djo = row[o]
                        if c.nearSlot == m32 {
                            if djo < c.secoD {
                                c.nearD = djo
                            } else {
                                c.nearSlot = c.secoSlot; c.nearD = c.secoD
                                Self.rescanSecond(&c, row: row, medoids: mb, k: k, j: j)
                            }
                        } else if djo < c.nearD {
                            c.secoSlot = c.nearSlot; c.secoD = c.nearD
                            c.nearSlot = m32; c.nearD = djo
                        } else if djo < c.secoD {
                            c.secoSlot = m32; c.secoD = djo
                        } else if c.secoSlot == m32 {
                            Self.rescanSecond(&c, row: row, medoids: mb, k: k, j: j)
                        }
                    }
                    cache[j] = c
                    s += c.nearD.double
                }
                return s
            }
        }
        updateRemovalLoss()
        return loss
    }

    /// New second-nearest medoid of a point (any slot but its nearest).
    @inline(__always)
    static func rescanSecond(_ c: inout PointCache<S>, row: UnsafePointer<S>, medoids: UnsafeBufferPointer<Int>, k: Int, j: Int) {
        var si: Int32 = -1
        var sd = S.infinity
        for i in 0..<k where Int32(i) != c.nearSlot {
            let v = medoids[i] == j ? S(0) : row[medoids[i]]
            if v < sd { sd = v; si = Int32(i) }
        }
        c.secoSlot = si; c.secoD = sd
    }
}
