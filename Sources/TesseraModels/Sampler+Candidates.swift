#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// `Sampler.distribution` computed fast and bit-identically: the same candidates, order,
/// probabilities and therefore the same drawn tokens for the same seed (what `Sampler.sample`
/// and `Sampler.verify` use). The reference builds an array of (id, logit) tuples of every
/// token within e^-24 of the best and sorts it with a closure, several milliseconds per token
/// for a 49152-token vocabulary. Here the candidates are packed into 64-bit keys (logit order in
/// the high half, id in the low half: descending logit, ties by ascending id, exactly the
/// reference's order), min-p drops tokens before sorting (its survivors are a prefix of the
/// sorted order, so the kept set is the same), and a stable radix sort orders what is left.
/// Non-finite logits fall back to the reference.
struct CandidateDistribution: Sendable {
    private var scaled: [Float] = []
    private var keys: [UInt64] = []
    private var spare: [UInt64] = []

    /// The candidate distribution of `o` over `logits` (see `Sampler.distribution`).
    mutating func distribution(_ o: SamplingOptions, _ logits: UnsafeBufferPointer<Float>,
                               history: ArraySlice<Int>) -> [(id: Int, p: Double)] {
        if o.isGreedy { return Sampler.reference(o, logits, history: history) }
        let n = logits.count
        if n == 0 { return Sampler.reference(o, logits, history: history) }
        // penalised, temperature-scaled logits (the reference's `penalize(l) * invT`)
        let invT = 1 / o.temperature
        if scaled.count != n { scaled = [Float](repeating: 0, count: n) }
        var mx = -Float.infinity
        var finite = true
        scaled.withUnsafeMutableBufferPointer { s in
            // one multiply per logit, as the reference's `l * invT` (the same bits in SIMD lanes)
            let src = UnsafeRawPointer(logits.baseAddress!), dst = UnsafeMutableRawPointer(s.baseAddress!)
            let vT = SIMD16<Float>(repeating: invT)
            var vmax = SIMD16<Float>(repeating: -.infinity)
            var bad = SIMDMask<SIMD16<Int32>>(repeating: false)
            var i = 0
            while i + 16 <= n {
                let v = src.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self) * vT
                dst.storeBytes(of: v, toByteOffset: 4 * i, as: SIMD16<Float>.self)
                bad .|= (v - v) .!= 0          // inf or NaN
                vmax.replace(with: v, where: v .> vmax)
                i += 16
            }
            mx = vmax.max()
            finite = !any(bad)
            while i < n {
                let v = logits[i] * invT
                s[i] = v
                if !v.isFinite { finite = false }
                mx = max(mx, v)
                i += 1
            }
            // the repetition penalty on the recent tokens: `penalize(l) * invT` for those
            if o.repetitionPenalty != 1, o.repetitionWindow > 0 {
                for id in Set(history.suffix(o.repetitionWindow)) where id >= 0 && id < n {
                    let l = logits[id]
                    let v = (l > 0 ? l / o.repetitionPenalty : l * o.repetitionPenalty) * invT
                    s[id] = v
                    if !v.isFinite { finite = false }
                }
            }
        }
        if finite && o.repetitionPenalty != 1 {
            // a penalty may lower the maximum (or raise another logit above it)
            mx = scaled.withUnsafeBufferPointer { s in Self.maximum(s) }
        }
        guard finite, mx.isFinite else { return Sampler.reference(o, logits, history: history) }

        // candidates: within 24 of the best and, with min-p, at least minP times the best's
        // probability (the best's is exp(0) = 1, so the reference's cut is exactly Double(minP))
        let floor = mx - 24
        let cut = Double(o.minP)
        // exp is monotonic: only a difference within 1e-6 of log(cut) needs exp to decide
        let logCut = o.minP > 0 ? log(cut) : -Double.infinity
        // a conservative single-precision bound below which no logit can pass (the exact tests
        // run on the 16-lane blocks that hold one above it): with min-p, most blocks hold none
        let below = o.minP > 0 ? max(floor, mx + Float(logCut) - 1e-3) : floor
        keys.removeAll(keepingCapacity: true)
        scaled.withUnsafeBufferPointer { s in
            let raw = UnsafeRawPointer(s.baseAddress!)
            let vb = SIMD16<Float>(repeating: below)
            var block = 0
            while block < n {
                let end = min(block + 16, n)
                if end - block == 16 && !any(raw.loadUnaligned(fromByteOffset: 4 * block, as: SIMD16<Float>.self) .>= vb) {
                    block = end
                    continue
                }
                for i in block..<end where s[i] >= floor {
                    if o.minP > 0 {
                        let d = Double(s[i] - mx)
                        if d < logCut - 1e-6 { continue }
                        if d < logCut + 1e-6 && exp(d) < cut { continue }
                    }
                    keys.append(Self.key(s[i], i))
                }
                block = end
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

    /// The largest of finite values (one SIMD pass).
    static func maximum(_ s: UnsafeBufferPointer<Float>) -> Float {
        let raw = UnsafeRawPointer(s.baseAddress!)
        var vmax = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= s.count {
            let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
            vmax.replace(with: v, where: v .> vmax)
            i += 16
        }
        var mx = vmax.max()
        while i < s.count { mx = max(mx, s[i]); i += 1 }
        return mx
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
