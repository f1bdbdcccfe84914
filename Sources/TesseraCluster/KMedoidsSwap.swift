extension KMedoids {
    /// Scores candidates `cands` in parallel (or inline for one thread), each with a
    /// sequential O(n) sum, so every score is the same whatever the thread count.
    static func scoreCandidates<S>(_ state: MedoidState<S>, _ cands: UnsafeBufferPointer<Int>,
                                   deltas: UnsafeMutablePointer<Double>, slots: UnsafeMutablePointer<Int>,
                                   scratch: UnsafeMutablePointer<Double>, fast: Bool) {
        let k = state.k
        // PAM: the cache as separate arrays for the vectorised all-slots kernel
        let pam = fast ? nil : PAMCacheArrays(state)
        let work = { (q: Int, ploss: UnsafeMutablePointer<Double>) in
            let o = cands[q]
            if fast {
                let r = state.bestSwap(for: o, ploss: ploss)
                deltas[q] = r.delta; slots[q] = r.slot
            } else {
                pam!.deltas(for: o, into: ploss)
                var bd = Double.infinity, bm = 0
                for m in 0..<k where ploss[m] < bd { bd = ploss[m]; bm = m }
                deltas[q] = bd; slots[q] = bm
            }
        }
        if state.pool.threadCount == 1 || cands.count == 1 {
            for q in 0..<cands.count { work(q, scratch) }
        } else {
            state.pool.parallelFor(0..<cands.count, schedule: .dynamic(chunk: 1)) { r, w in
                for q in r { work(q, scratch + w * k) }
            }
        }
    }

    /// PAM SWAP (`fast == false`: the original O(k(n−k)²) search) or FastPAM1 (`fast == true`):
    /// each iteration executes the single best swap; ties go to the lowest candidate index,
    /// then the lowest medoid slot, in both, so both make the same swaps.
    static func bestSwapLoop<S>(_ state: MedoidState<S>, fast: Bool, maxIterations: Int,
                                control: ((KMedoidsProgress) -> Bool)?) -> (Int, Int) {
        let n = state.n, k = state.k
        var deltas = [Double](repeating: 0, count: n)
        var slots = [Int](repeating: 0, count: n)
        var scratch = [Double](repeating: 0, count: state.pool.threadCount * k)
        var iterations = 0, swaps = 0
        while iterations < maxIterations {
            iterations += 1
            let cands = (0..<n).filter { !state.isMedoid[$0] }
            cands.withUnsafeBufferPointer { cb in
                deltas.withUnsafeMutableBufferPointer { db in
                    slots.withUnsafeMutableBufferPointer { sb in
                        scratch.withUnsafeMutableBufferPointer { xb in
                            scoreCandidates(state, cb, deltas: db.baseAddress!, slots: sb.baseAddress!,
                                            scratch: xb.baseAddress!, fast: fast)
                        }
                    }
                }
            }
            var best = -1
            for q in 0..<cands.count where best < 0 || deltas[q] < deltas[best] { best = q }
            guard best >= 0, deltas[best] < threshold(state.loss) else { break }
            state.swap(slot: slots[best], candidate: cands[best])
            swaps += 1
            if let control, !control(KMedoidsProgress(iteration: iterations, swaps: swaps, loss: state.loss)) { break }
        }
        return (iterations, swaps)
    }

    static func pamSwap<S>(_ state: MedoidState<S>, maxIterations: Int,
                           control: ((KMedoidsProgress) -> Bool)?) -> (Int, Int) {
        bestSwapLoop(state, fast: false, maxIterations: maxIterations, control: control)
    }

    static func fastPAM1<S>(_ state: MedoidState<S>, maxIterations: Int,
                            control: ((KMedoidsProgress) -> Bool)?) -> (Int, Int) {
        bestSwapLoop(state, fast: true, maxIterations: maxIterations, control: control)
    }

    /// FastPAM2: one pass finds the best candidate of every medoid slot; the best is swapped,
    /// then the other slots in order of their gain, each re-scored under the new medoids and
    /// taken while it still improves (by at least (1 − tolerance) of its pass gain).
    static func fastPAM2<S>(_ state: MedoidState<S>, maxIterations: Int, tolerance: Double,
                            control: ((KMedoidsProgress) -> Bool)?) -> (Int, Int) {
        let n = state.n, k = state.k
        let block = 64
        var iterations = 0, swaps = 0
        while iterations < maxIterations {
            iterations += 1
            let cands = (0..<n).filter { !state.isMedoid[$0] }
            let nBlocks = (cands.count + block - 1) / block
            // per block of candidates: best (delta, candidate) of every slot; merged in block order
            var blockBest = [Double](repeating: .infinity, count: nBlocks * k)
            var blockCand = [Int](repeating: -1, count: nBlocks * k)
            var scratch = [Double](repeating: 0, count: state.pool.threadCount * k)
            cands.withUnsafeBufferPointer { cb in
                blockBest.withUnsafeMutableBufferPointer { bb in
                    blockCand.withUnsafeMutableBufferPointer { bc in
                        scratch.withUnsafeMutableBufferPointer { xb in
                            let bp = bb.baseAddress!, cp = bc.baseAddress!, xp = xb.baseAddress!
                            state.pool.parallelFor(0..<nBlocks, schedule: .dynamic(chunk: 1)) { r, w in
                                let out = xp + w * k
                                for b in r {
                                    for q in (b * block)..<min(cb.count, (b + 1) * block) {
                                        state.allSwaps(for: cb[q], out: out)
                                        for m in 0..<k where out[m] < bp[b * k + m] {
                                            bp[b * k + m] = out[m]; cp[b * k + m] = cb[q]
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            var bestD = [Double](repeating: .infinity, count: k)
            var bestO = [Int](repeating: -1, count: k)
            for b in 0..<nBlocks {
                for m in 0..<k where blockBest[b * k + m] < bestD[m] {
                    bestD[m] = blockBest[b * k + m]; bestO[m] = blockCand[b * k + m]
                }
            }
            let order = (0..<k).sorted { bestD[$0] < bestD[$1] || (bestD[$0] == bestD[$1] && $0 < $1) }
            guard bestO[order[0]] >= 0, bestD[order[0]] < threshold(state.loss) else { break }
            state.swap(slot: order[0], candidate: bestO[order[0]])
            swaps += 1
            for m in order.dropFirst() {
                guard bestO[m] >= 0, bestD[m] < threshold(state.loss) else { break }
                let o = bestO[m]
                if state.isMedoid[o] { continue }
                let now = state.pairDelta(slot: m, candidate: o)
                if now < threshold(state.loss) && now <= (1 - tolerance) * bestD[m] {
                    state.swap(slot: m, candidate: o)
                    swaps += 1
                }
            }
            if let control, !control(KMedoidsProgress(iteration: iterations, swaps: swaps, loss: state.loss)) { break }
        }
        return (iterations, swaps)
    }

    /// FasterPAM: candidates in `order`; any improving swap is taken at once. A pass stops
    /// when it reaches the candidate of the last swap again (n candidates in a row without a
    /// swap); the loop stops after a pass without swaps or without a lower loss.
    ///
    /// Parallel form: the next few candidates are scored at once (all under the current
    /// medoids) and the first improving one in `order` is swapped; the scores after it are
    /// discarded and scoring resumes behind it. This makes exactly the sequential swaps, so
    /// the result does not depend on the thread count. The batch starts at one candidate per
    /// thread after a swap and doubles while no swap happens.
    static func fasterPAM<S>(_ state: MedoidState<S>, order: [Int], maxIterations: Int,
                             control: ((KMedoidsProgress) -> Bool)?) -> (Int, Int) {
        let n = state.n, k = state.k
        let threads = state.pool.threadCount
        let parallel = threads > 1 && n >= 512
        let maxBatch = parallel ? 16 * threads : 1
        var scratch = [Double](repeating: 0, count: threads * k)
        var cands = [Int](repeating: 0, count: maxBatch)
        var positions = [Int](repeating: 0, count: maxBatch)
        var deltas = [Double](repeating: 0, count: maxBatch)
        var slots = [Int](repeating: 0, count: maxBatch)
        var lastSwap = -1
        var iterations = 0, swaps = 0
        while iterations < maxIterations {
            iterations += 1
            let swapsBefore = swaps, lossBefore = state.loss
            var pos = 0
            var batch = parallel ? threads : 1
            pass: while pos < n {
                // collect the next candidates, stopping at the last swap's candidate
                var count = 0, p = pos, reachedLast = false
                while count < batch && p < n {
                    let o = order[p]
                    if o == lastSwap { reachedLast = true; break }
                    if !state.isMedoid[o] { cands[count] = o; positions[count] = p; count += 1 }
                    p += 1
                }
                if count > 0 {
                    cands.withUnsafeBufferPointer { cb in
                        deltas.withUnsafeMutableBufferPointer { db in
                            slots.withUnsafeMutableBufferPointer { sb in
                                scratch.withUnsafeMutableBufferPointer { xb in
                                    scoreCandidates(state, UnsafeBufferPointer(rebasing: cb[0..<count]),
                                                    deltas: db.baseAddress!, slots: sb.baseAddress!,
                                                    scratch: xb.baseAddress!, fast: true)
                                }
                            }
                        }
                    }
                    let thr = threshold(state.loss)
                    if let q = (0..<count).first(where: { deltas[$0] < thr }) {
                        state.swap(slot: slots[q], candidate: cands[q])
                        swaps += 1
                        lastSwap = cands[q]
                        pos = positions[q] + 1
                        batch = parallel ? threads : 1
                        continue pass
                    }
                }
                if reachedLast { break pass }
                pos = p
                batch = min(batch * 2, maxBatch)
            }
            if let control, !control(KMedoidsProgress(iteration: iterations, swaps: swaps, loss: state.loss)) { break }
            if swaps == swapsBefore || state.loss >= lossBefore { break }
        }
        return (iterations, swaps)
    }

    /// Alternating: assign every point to its nearest medoid, then make each cluster's medoid
    /// the member of least total distance to the other members; repeat until nothing changes.
    static func alternating<S>(_ state: MedoidState<S>, maxIterations: Int,
                               control: ((KMedoidsProgress) -> Bool)?) -> (Int, Int) {
        let n = state.n, k = state.k, d = state.d
        var iterations = 0, changes = 0
        while iterations < maxIterations {
            iterations += 1
            var members = [[Int]](repeating: [], count: k)
            for j in 0..<n { members[Int(state.cache[j].nearSlot)].append(j) }
            var newMedoids = state.medoids
            newMedoids.withUnsafeMutableBufferPointer { nm in
                let nmp = nm.baseAddress!
                state.pool.parallelFor(0..<k, schedule: .dynamic(chunk: 1)) { r, _ in
                    for m in r {
                        let list = members[m]
                        var best = nmp[m]
                        var bestSum = Double.infinity
                        // the current medoid first, so a tie keeps it (guarantees termination)
                        for x in [nmp[m]] + list where x != nmp[m] || bestSum == .infinity {
                            let row = d + x * n
                            var s = 0.0
                            for y in list { s += Double(row[y]) }
                            if s < bestSum { bestSum = s; best = x }
                        }
                        nmp[m] = best
                    }
                }
            }
            var changed = 0
            for m in 0..<k where newMedoids[m] != state.medoids[m] { changed += 1 }
            if changed == 0 { break }
            changes += changed
            state.setMedoids(newMedoids)
            if let control, !control(KMedoidsProgress(iteration: iterations, swaps: changes, loss: state.loss)) { break }
        }
        return (iterations, changes)
    }
}

extension MedoidState {
    /// Replaces all medoids and recomputes the caches.
    func setMedoids(_ m: [Int]) {
        for x in medoids { isMedoid[x] = false }
        medoids = m
        for x in medoids { isMedoid[x] = true }
        assignAll()
        updateRemovalLoss()
    }
}

/// The nearest slot, nearest and second-nearest distance of every point as three arrays, for
/// `DissimilarityKernels.pamSwapDeltas` (the original PAM SWAP, every slot in one call).
final class PAMCacheArrays<S: ClusterScalar> {
    let n: Int, k: Int
    let d: UnsafePointer<S>
    let slot: UnsafeMutablePointer<Int32>
    let nearD: UnsafeMutablePointer<S>, secoD: UnsafeMutablePointer<S>

    init(_ state: MedoidState<S>) {
        n = state.n; k = state.k; d = state.d
        slot = .allocate(capacity: n); nearD = .allocate(capacity: n); secoD = .allocate(capacity: n)
        for j in 0..<n {
            let c = state.cache[j]
            slot[j] = c.nearSlot; nearD[j] = c.nearD; secoD[j] = c.secoD
        }
    }

    deinit { slot.deallocate(); nearD.deallocate(); secoD.deallocate() }

    /// `out[m]` (k values) = the loss change of exchanging slot m for candidate o.
    func deltas(for o: Int, into out: UnsafeMutablePointer<Double>) {
        // sizes are valid by construction (n, k >= 1), so the kernel cannot fail
        try? S.pamSwapDeltas(count: n, row: d + o * n, nearestSlot: slot, nearest: nearD, second: secoD,
                             slots: k, into: out)
    }
}
