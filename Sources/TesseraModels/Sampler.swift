#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the next token is chosen from the logits.
public struct SamplingOptions: Sendable, Equatable {
    /// 0 = greedy (argmax, ties to the lowest id); otherwise logits are divided by it.
    public var temperature: Float = 0
    /// Keep only the `topK` most likely tokens (0 = off).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches `topP` (1 = off).
    public var topP: Float = 1
    /// Drop tokens less likely than `minP` × the most likely one (0 = off).
    public var minP: Float = 0
    /// Divide positive (multiply negative) logits of recently seen tokens by this (1 = off).
    public var repetitionPenalty: Float = 1
    /// How many recent tokens the repetition penalty looks at.
    public var repetitionWindow: Int = 64
    /// Seed of the random generator (same seed, same options, same model -> same text).
    public var seed: UInt64 = 0

    /// Options with these settings (the defaults: greedy).
    public init(temperature: Float = 0, topK: Int = 0, topP: Float = 1, minP: Float = 0,
                repetitionPenalty: Float = 1, repetitionWindow: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.repetitionWindow = repetitionWindow
        self.seed = seed
    }

    /// Greedy decoding (argmax).
    public static let greedy = SamplingOptions()

    /// Whether tokens are chosen by argmax.
    public var isGreedy: Bool { temperature <= 0 }

    func validate() throws(TesseraError) {
        guard temperature.isFinite, temperature >= 0 else { throw .invalidArgument("temperature \(temperature) must be >= 0") }
        guard topK >= 0 else { throw .invalidArgument("topK \(topK) must be >= 0") }
        guard topP > 0, topP <= 1 else { throw .invalidArgument("topP \(topP) must be in (0, 1]") }
        guard minP >= 0, minP < 1 else { throw .invalidArgument("minP \(minP) must be in [0, 1)") }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw .invalidArgument("repetitionPenalty \(repetitionPenalty) must be > 0")
        }
        guard repetitionWindow >= 0 else { throw .invalidArgument("repetitionWindow must be >= 0") }
    }
}

/// xoshiro256** seeded through splitmix64: small, fast, reproducible on every platform.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    /// The generator for `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = SeededRandom.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = SeededRandom.rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// Picks tokens from logits according to `SamplingOptions`.
public struct Sampler: Sendable {
    /// How tokens are chosen.
    public let options: SamplingOptions
    /// The random state (advanced by every sampled token).
    public var random: SeededRandom
    /// Scratch of the fast candidate path that `sample` and `verify` use.
    private var candidates = CandidateDistribution()

    /// A sampler for `options`. Errors: `.invalidArgument` for a value out of its range.
    public init(options: SamplingOptions) throws(TesseraError) {
        try options.validate()
        self.options = options
        random = SeededRandom(seed: options.seed)
    }

    /// Index of the largest value (ties: the lowest index; NaN never wins); 0 for an empty
    /// buffer or one of NaNs only. One vectorised pass for the maximum, then a scan for its
    /// first index (a greedy token costs microseconds, not a scalar loop over the vocabulary).
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int {
        guard let base = logits.baseAddress else { return 0 }
        let n = logits.count
        let raw = UnsafeRawPointer(base)
        var best = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= n {
            let v = raw.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
            // NaN lanes compare false: they keep the running maximum
            best.replace(with: v, where: v .> best)
            i += 16
        }
        var mx = best.max()
        while i < n { if logits[i] > mx { mx = logits[i] }; i += 1 }
        // the first index holding the maximum (with -inf as the maximum: the first non-NaN one)
        let target = SIMD16<Float>(repeating: mx)
        var j = 0
        while j + 16 <= n {
            if any(raw.loadUnaligned(fromByteOffset: 4 * j, as: SIMD16<Float>.self) .== target) { break }
            j += 16
        }
        while j < n { if logits[j] == mx { return j }; j += 1 }
        return 0
    }

    /// The candidate distribution after penalty, temperature, top-k, min-p and top-p:
    /// (token, probability) sorted by decreasing probability, summing to 1.
    /// For greedy options: the single argmax with probability 1.
    ///
    /// This is the reference (a sort of every candidate); `sample` and `verify` use a faster
    /// computation of the same distribution, bit for bit.
    public func distribution(_ logits: UnsafeBufferPointer<Float>, history: ArraySlice<Int>) -> [(id: Int, p: Double)] {
        Sampler.reference(options, logits, history: history)
    }

    /// `distribution` for `options`.
    static func reference(_ options: SamplingOptions, _ logits: UnsafeBufferPointer<Float>,
                          history: ArraySlice<Int>) -> [(id: Int, p: Double)] {
        let seen: Set<Int> = options.repetitionPenalty != 1 && options.repetitionWindow > 0
            ? Set(history.suffix(options.repetitionWindow)) : []
        /// The penalised logit of `id` given the recent history.
        @inline(__always) func penalize(_ l: Float, _ id: Int, _ seen: Set<Int>) -> Float {
            guard options.repetitionPenalty != 1, seen.contains(id) else { return l }
            return l > 0 ? l / options.repetitionPenalty : l * options.repetitionPenalty
        }
        if options.isGreedy {
            if seen.isEmpty { return [(Sampler.argmax(logits), 1)] }
            var best = -Float.infinity, at = 0
            for i in 0..<logits.count {
                let l = penalize(logits[i], i, seen)
                if l > best { best = l; at = i }
            }
            return [(at, 1)]
        }
        let invT = 1 / options.temperature
        var mx = -Float.infinity
        for i in 0..<logits.count { mx = max(mx, penalize(logits[i], i, seen) * invT) }
        // tokens more than e^-24 below the best cannot matter to any of the filters below
        var cand = [(id: Int, l: Float)]()
        for i in 0..<logits.count {
            let l = penalize(logits[i], i, seen) * invT
            if l >= mx - 24 { cand.append((i, l)) }
        }
        cand.sort { $0.l > $1.l || ($0.l == $1.l && $0.id < $1.id) }
        if options.topK > 0 && cand.count > options.topK { cand.removeSubrange(options.topK...) }
        var probs = cand.map { (id: $0.id, p: exp(Double($0.l - mx))) }
        var total = probs.reduce(0) { $0 + $1.p }
        if options.minP > 0, let top = probs.first?.p {
            let cut = top * Double(options.minP)
            probs = probs.filter { $0.p >= cut }
            total = probs.reduce(0) { $0 + $1.p }
        }
        if options.topP < 1 {
            var acc = 0.0, keep = probs.count
            for (i, e) in probs.enumerated() {
                acc += e.p / total
                if acc >= Double(options.topP) { keep = i + 1; break }
            }
            probs.removeSubrange(keep...)
            total = probs.reduce(0) { $0 + $1.p }
        }
        return probs.map { ($0.id, $0.p / total) }
    }

    /// Draws from a distribution returned by `distribution`.
    public mutating func draw(_ dist: [(id: Int, p: Double)]) -> Int {
        if dist.count == 1 { return dist[0].id }
        let u = random.nextUnit()
        var acc = 0.0
        for e in dist {
            acc += e.p
            if u < acc { return e.id }
        }
        return dist.last?.id ?? 0
    }

    /// The next token: the argmax, or a draw from `distribution` (computed by the fast
    /// candidate path, the same bits as the reference).
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, history: ArraySlice<Int>) -> Int {
        if options.isGreedy && options.repetitionPenalty == 1 { return Sampler.argmax(logits) }
        return draw(candidates.distribution(options, logits, history: history))
    }

    /// Speculative step with a deterministic draft token: accepts `draft` with probability
    /// p(draft) and otherwise draws from p with `draft` removed — exactly the distribution
    /// `sample` would give (for greedy: accept iff draft is the argmax). Returns the token
    /// and whether it is the draft.
    public mutating func verify(_ logits: UnsafeBufferPointer<Float>, history: ArraySlice<Int>, draft: Int) -> (token: Int, accepted: Bool) {
        if options.isGreedy {
            let t = sample(logits, history: history)
            return (t, t == draft)
        }
        let dist = candidates.distribution(options, logits, history: history)
        let pd = dist.first(where: { $0.id == draft })?.p ?? 0
        if pd > 0 && random.nextUnit() < pd { return (draft, true) }
        let rest = dist.filter { $0.id != draft }
        let z = rest.reduce(0) { $0 + $1.p }
        guard z > 0 else { return (draft, true) }
        return (draw(rest.map { ($0.id, $0.p / z) }), false)
    }
}
