import TesseraModels

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// `Sampler.distribution` computed fast and bit-identically: the same candidates, order,
/// probabilities and therefore the same drawn tokens for the same seed. The reference builds an
/// array of (id, logit) tuples of every token within e^-24 of the best and sorts it with a
/// closure, several milliseconds per token for a 49152-token vocabulary — on the engine thread,
/// once per sequence per step. Here the candidates are packed into 64-bit keys (logit order in
/// the high half, id in the low half: descending logit, ties by ascending id, exactly the
/// reference's order), min-p drops tokens before sorting (its survivors are a prefix of the
/// sorted order, so the kept set is the same), and a stable radix sort orders what is left.
/// Non-finite logits fall back to the reference.
struct CandidateDistribution {
    private var scaled: [Float] = []
    private var keys: [UInt64] = []
    private var spare: [UInt64] = []

    /// The candidate distribution of `options` over `logits` (see `Sampler.distribution`).
    mutating func distribution(_ sampler: Sampler, _ logits: UnsafeBufferPointer<Float>,
                               history: ArraySlice<Int>) -> [(id: Int, p: Double)] {
        let o = sampler.options
        if o.isGreedy { return sampler.distribution(logits, history: history) }
        let n = logits.count
        // penalised, temperature-scaled logits (the reference's `penalize(l) * invT`)
        let invT = 1 / o.temperature
        if scaled.count != n { scaled = [Float](repeating: 0, count: n) }
        var mx = -Float.infinity
        var finite = true
        scaled.withUnsafeMutableBufferPointer { s in
            for i in 0..<n { s[i] = logits[i] }
            if o.repetitionPenalty != 1, o.repetitionWindow > 0 {
                for id in Set(history.suffix(o.repetitionWindow)) where id >= 0 && id < n {
                    let l = s[id]
                    s[id] = l > 0 ? l / o.repetitionPenalty : l * o.repetitionPenalty
                }
            }
            for i in 0..<n {
                let v = s[i] * invT
                s[i] = v
                if !v.isFinite { finite = false }
                mx = max(mx, v)
            }
        }
        guard finite, mx.isFinite else { return sampler.distribution(logits, history: history) }

        // candidates: within 24 of the best and, with min-p, at least minP times the best's
        // probability (the best's is exp(0) = 1, so the reference's cut is exactly Double(minP))
        let floor = mx - 24
        let cut = Double(o.minP)
        // exp is monotonic: only a difference within 1e-6 of log(cut) needs exp to decide
        let logCut = o.minP > 0 ? log(cut) : -Double.infinity
        keys.removeAll(keepingCapacity: true)
        scaled.withUnsafeBufferPointer { s in
            for i in 0..<n where s[i] >= floor {
                if o.minP > 0 {
                    let d = Double(s[i] - mx)
                    if d < logCut - 1e-6 { continue }
                    if d < logCut + 1e-6 && exp(d) < cut { continue }
                }
                keys.append(Self.key(s[i], i))
            }
        }
        radixSortHigh32()
        var count = keys.count
        if o.topK > 0 && count > o.topK { count = o.topK }

        var probs = [(id: Int, p: Double)]()
        probs.reserveCapacity(count)
        var total = 0.0
        scaled.withUnsafeBufferPointer { s in
            for k in keys.prefix(count) {
                let id = Int(k & 0xFFFF_FFFF)
                let p = exp(Double(s[id] - mx))
                probs.append((id, p))
                total += p
            }
        }
        if o.topP < 1 {
            var acc = 0.0, keep = probs.count
            for (i, e) in probs.enumerated() {
                acc += e.p / total
                if acc >= Double(o.topP) { keep = i + 1; break }
            }
            probs.removeSubrange(keep...)
            total = probs.reduce(0) { $0 + $1.p }
        }
        return probs.map { ($0.id, $0.p / total) }
    }

    /// Ascending keys order by descending `l`, then ascending `id` (-0 taken as +0, as `>` does).
    @inline(__always) static func key(_ l: Float, _ id: Int) -> UInt64 {
        let bits = l == 0 ? 0 : l.bitPattern
        let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return UInt64(~ascending) << 32 | UInt64(id)
    }

    /// Stable LSD radix sort of `keys` by their high 32 bits (three 11-bit digits); the keys
    /// arrive in id order, so equal logits stay in ascending id order.
    private mutating func radixSortHigh32() {
        let n = keys.count
        if n < 2 { return }
        if n <= 64 { keys.sort(); return }
        if spare.count < n { spare = [UInt64](repeating: 0, count: n) }
        var count = [Int](repeating: 0, count: 2048)
        keys.withUnsafeMutableBufferPointer { a in
            spare.withUnsafeMutableBufferPointer { b in
                var src = a.baseAddress!, dst = b.baseAddress!
                for shift: UInt64 in [32, 43, 54] {
                    for i in 0..<2048 { count[i] = 0 }
                    for i in 0..<n { count[Int((src[i] >> shift) & 0x7FF)] += 1 }
                    var sum = 0
                    for i in 0..<2048 { let c = count[i]; count[i] = sum; sum += c }
                    for i in 0..<n {
                        let d = Int((src[i] >> shift) & 0x7FF)
                        dst[count[d]] = src[i]
                        count[d] += 1
                    }
                    swap(&src, &dst)
                }
                // three passes: the sorted keys are in `spare`
                if src != a.baseAddress! { a.baseAddress!.update(from: src, count: n) }
            }
        }
    }
}
