import Foundation

/// How the image is shared out among patch workers.
public enum PatchMode: Sendable, Equatable, CustomStringConvertible {
    /// Fresh halos, GroupNorm statistics and K/V at every layer: equals the unsplit model.
    case synchronous
    /// DistriFusion: `warmupSteps` synchronous calls, then fresh own patch + one-call-stale neighbour
    /// halos, K/V of all other patches and corrected GroupNorm statistics.
    case distriFusion(warmupSteps: Int)
    /// PCPP: as DistriFusion, but attention sees only its own patch and `portion` of each adjacent
    /// patch at the shared border, exchanged with the two neighbours only.
    case pcpp(portion: Double, warmupSteps: Int)
    /// ASG-style: patches run independently (no activation exchange); a low-resolution pass of the
    /// whole image (2×2 average-pooled) supplies the coarse structure of x̂₀, computed concurrently
    /// with the patches and used one call late after `warmupSteps`.
    case asg(warmupSteps: Int)

    /// Synchronous warm-up calls of the stale modes when none is given (4).
    public static let defaultWarmup = 4

    /// The mode as the command line writes it, e.g. "pcpp(portion=0.3,warmup=4)".
    public var description: String {
        switch self {
        case .synchronous: return "synchronous"
        case .distriFusion(let w): return "distrifusion(warmup=\(w))"
        case .pcpp(let p, let w): return "pcpp(portion=\(p),warmup=\(w))"
        case .asg(let w): return "asg(warmup=\(w))"
        }
    }

    /// Parses "sync", "distrifusion", "pcpp", "pcpp:0.3", "asg"; `warmup` applies to the stale modes.
    public init(parsing s: String, warmup: Int = PatchMode.defaultWarmup) throws(TesseraError) {
        let parts = s.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "sync", "synchronous": self = .synchronous
        case "distrifusion", "df": self = .distriFusion(warmupSteps: warmup)
        case "pcpp":
            let p = parts.count > 1 ? Double(parts[1]) : 0.3
            guard let p, p > 0, p <= 1 else { throw .invalidArgument("patch mode: PCPP portion must be in (0, 1] (got '\(s)')") }
            self = .pcpp(portion: p, warmupSteps: warmup)
        case "asg": self = .asg(warmupSteps: warmup)
        default: throw .invalidArgument("patch mode: unknown mode '\(s)' (sync, distrifusion, pcpp[:portion], asg)")
        }
    }

    var warmup: Int {
        switch self {
        case .synchronous: return 0
        case .distriFusion(let w), .pcpp(_, let w), .asg(let w): return w
        }
    }
}

/// A denoiser that runs a `UNetModel` or a `GaussianFieldDenoiser` over P row patches under a
/// `PatchMode`, counting the bytes the patches exchange. Patches are pool tasks (one core each);
/// communication goes through a `PatchExchange` (shared memory here).
public final class PatchParallelDenoiser: Denoiser, @unchecked Sendable {
    /// The denoiser split into patches (a `UNetModel` or a `GaussianFieldDenoiser`).
    public let base: Denoiser
    /// Number of row patches P.
    public let patches: Int
    /// How patches share activations.
    public let mode: PatchMode
    /// The pool the patches run on (one task per patch).
    public let pool: ThreadPool
    /// The base denoiser's prediction type.
    public var predictionType: PredictionType { base.predictionType }
    /// The base denoiser's channels.
    public var channels: Int { base.channels }

    private var exchanges: [Int: PatchExchange] = [:]
    private var calls: [Int: Int] = [:]
    private var previousInput: [Int: Latent] = [:]
    private var lowRes: [Int: [Float]] = [:]
    private let makeExchange: (Int) -> PatchExchange
    private var previousWarm: [Int: Bool] = [:]
    /// One patch per process: when set, `predict` computes only this patch of a U-Net and the
    /// exchange (e.g. TesseraDistributed's MPIPatchExchange, one per rank) supplies the other
    /// patches' halos / K-V / statistics and all-gathers the output rows, so every rank returns the
    /// full output. Every rank must make the same calls. nil (default): all patches in this process.
    /// Modes: synchronous, distriFusion, pcpp (ASG and the Gaussian-field denoiser need all patches).
    public var localPatch: Int? = nil
    /// Bytes exchanged by each call of the current sampling run, and whether that call was a warm-up call.
    public private(set) var callBytes: [(bytes: Int, warmup: Bool)] = []

    /// Splits `base` into `patches` row patches under `mode`; `exchange(P)` makes an exchange among
    /// P patches, once per guidance stream (nil: shared memory). Errors: `.unsupported` for a base
    /// other than `UNetModel` / `GaussianFieldDenoiser`; `.invalidArgument` for patches outside
    /// 1...4096, a PCPP portion outside (0, 1], or negative warm-up steps.
    public init(base: Denoiser, patches: Int, mode: PatchMode, pool: ThreadPool = .shared,
                exchange: ((Int) -> PatchExchange)? = nil) throws(TesseraError) {
        guard base is UNetModel || base is GaussianFieldDenoiser else {
            throw .unsupported("patch parallelism: \(type(of: base)) is not supported (UNetModel, GaussianFieldDenoiser)")
        }
        guard patches >= 1, patches <= 4096 else { throw .invalidArgument("patch parallelism: patches must be in 1...4096 (got \(patches))") }
        if case .pcpp(let p, _) = mode, !(p > 0 && p <= 1) {
            throw .invalidArgument("patch parallelism: PCPP portion must be in (0, 1] (got \(p))")
        }
        guard mode.warmup >= 0 else { throw .invalidArgument("patch parallelism: warm-up steps must be non-negative (got \(mode.warmup))") }
        self.base = base; self.patches = patches; self.mode = mode; self.pool = pool
        makeExchange = exchange ?? { SharedMemoryExchange(patches: $0) }
    }

    /// Checks that the latent splits into `patches` row patches the base denoiser accepts.
    public func validate(height: Int, width: Int) throws(TesseraError) {
        guard patches <= height else {
            throw .invalidArgument("patch parallelism: \(patches) patches for \(height) rows: more patches than rows")
        }
        if let u = base as? UNetModel {
            try u.validate(height: height, width: width, patches: patches)
            if case .asg = mode { try u.validate(height: height / 2, width: width / 2, patches: 1)
                guard height % 2 == 0, width % 2 == 0 else { throw .invalidArgument("ASG needs even image sides (got \(height)x\(width))") }
            }
        } else {
            try base.validate(height: height, width: width)
            guard height % patches == 0 else {
                throw .invalidArgument("patch parallelism: height \(height) is not divisible by \(patches) patches")
            }
            if case .asg = mode, height % 4 != 0 || width % 4 != 0 {
                throw .invalidArgument("ASG needs image sides divisible by 4 (got \(height)x\(width))")
            }
        }
    }

    /// Starts a sampling run: drops the stale activations and byte counts of the previous run.
    public func beginSampling() {
        for (_, e) in exchanges { e.reset() }
        calls = [:]; previousInput = [:]; lowRes = [:]; callBytes = []; previousWarm = [:]
        base.beginSampling()
    }

    /// Mean bytes per call over the calls after warm-up (all calls if none).
    public var bytesPerStepAfterWarmup: Double {
        let post = callBytes.filter { !$0.warmup }
        let s = post.isEmpty ? callBytes : post
        return s.isEmpty ? 0 : Double(s.reduce(0) { $0 + $1.bytes }) / Double(s.count)
    }
    /// Mean bytes per call over the whole run.
    public var bytesPerStep: Double {
        callBytes.isEmpty ? 0 : Double(callBytes.reduce(0) { $0 + $1.bytes }) / Double(callBytes.count)
    }

    /// The base denoiser's output for `x`, computed patch by patch under `mode`.
    public func predict(_ x: Latent, timestep: Int, classLabel: Int?) throws(TesseraError) -> Latent {
        try validate(height: x.height, width: x.width)
        let stream = classLabel ?? -1
        let n = calls[stream, default: 0]
        calls[stream] = n + 1
        let ex: PatchExchange
        if let e = exchanges[stream] { ex = e } else { ex = makeExchange(patches); exchanges[stream] = ex }
        // the first call of a run has no stale data: it is always synchronous
        let warm = n < max(1, mode.warmup)
        let out: Latent
        switch base {
        case let u as UNetModel: out = try predictUNet(u, x, timestep, classLabel, stream, warm, ex)
        case let g as GaussianFieldDenoiser:
            if localPatch != nil { throw .unsupported("patch parallelism: the Gaussian-field denoiser runs all patches in one process (localPatch must be nil)") }
            out = try predictField(g, x, timestep, classLabel, stream, warm, ex)
        default: throw .unsupported("patch parallelism: unsupported denoiser")
        }
        callBytes.append((ex.takeBytesSent(), warm))
        return out
    }

    private func policy(_ warm: Bool) -> PatchPolicy {
        switch mode {
        case .synchronous: return .synchronous
        case .distriFusion: return warm ? .synchronous : .displaced
        case .pcpp(let p, _): return warm ? .synchronous : .pcpp(p)
        case .asg: return .independent
        }
    }

    // MARK: U-Net

    private func predictUNet(_ u: UNetModel, _ x: Latent, _ t: Int, _ label: Int?, _ stream: Int, _ warm: Bool,
                             _ ex: PatchExchange) throws(TesseraError) -> Latent {
        guard case .asg = mode else {
            let prevFull = previousWarm[stream] ?? true
            previousWarm[stream] = warm
            if let lp = localPatch, !(lp >= 0 && lp < patches) {
                throw .invalidArgument("patch parallelism: local patch \(lp) must lie in 0..<\(patches)")
            }
            return try u.execute(x, timestep: t, classLabel: label, patches: patches, policy: policy(warm), exchange: ex, pool: pool,
                                 localPatch: localPatch, previousFull: prevFull)
        }
        if localPatch != nil { throw .unsupported("patch parallelism: ASG runs all patches in one process (localPatch must be nil)") }
        let ab = schedule(of: u, t)
        let small = avgPool2(x)
        var lrError: TesseraError? = nil
        var nextLow: [Float]? = nil
        let lowPass: () -> Void = {
            do {
                let o = try u.execute(small, timestep: t, classLabel: label, patches: 1, policy: .synchronous, exchange: nil, pool: self.pool)
                nextLow = toX0(o, small, ab, u.predictionType)
            } catch { lrError = error as? TesseraError ?? .internalError("\(error)") }
        }
        var low = lowRes[stream]
        let hr: Latent
        if warm || low == nil {
            lowPass()
            if let lrError { throw lrError }
            low = nextLow
            hr = try u.execute(x, timestep: t, classLabel: label, patches: patches, policy: .independent, exchange: ex, pool: pool)
        } else {
            hr = try u.execute(x, timestep: t, classLabel: label, patches: patches, policy: .independent, exchange: ex, pool: pool,
                               sideTask: lowPass)
            if let lrError { throw lrError }
        }
        lowRes[stream] = nextLow
        ex.recordBytes(small.count * 4)   // the low-resolution x̂₀ handed to the patches
        if patches > 1 { ex.recordBytes(x.count * 4 * (patches - 1)) }  // output all-gather
        return mixStructure(hr, x: x, lowX0: low!, alphaBar: ab, type: u.predictionType)
    }

    private func schedule(of u: UNetModel, _ t: Int) -> Double {
        // the U-Net has no schedule of its own; the sampler's is the DDPM default unless set
        (unetSchedule ?? (try! NoiseSchedule(.linear))).alphaBar(Double(t))
    }
    /// Schedule used to convert model outputs to x̂₀ in ASG mixing (set by the caller; default linear DDPM).
    public var unetSchedule: NoiseSchedule? = nil

    // MARK: Gaussian field

    private func predictField(_ g: GaussianFieldDenoiser, _ x: Latent, _ t: Int, _ label: Int?, _ stream: Int,
                              _ warm: Bool, _ ex: PatchExchange) throws(TesseraError) -> Latent {
        try g.checkInput(x, t)
        let prior = try g.priorFor(label)
        let ab = g.schedule.alphaBar(Double(t))
        let P = patches, rows = x.height / P, W = x.width, C = x.channels, H = x.height
        let rowBytes = C * W * 4
        defer { previousInput[stream] = x }
        let pol = policy(warm)
        if pol == .synchronous || P == 1 {
            if P > 1 { ex.recordBytes(2 * (P - 1) * x.count * 4) }   // input and output all-gathers
            return try g.predict(x, timestep: t, classLabel: label)
        }
        let prev = previousInput[stream]
        let isASG: Bool = { if case .asg = mode { return true }; return false }()
        var partial = Array(repeating: [Float](), count: P)
        // per patch: which rows of the composite input come from where
        func composite(_ p: Int) -> Latent {
            var c = x
            for ch in 0..<C {
                for y in 0..<H {
                    let owner = y / rows
                    if owner == p { continue }
                    var keep = false
                    switch pol.kv {
                    case .stale, .fresh: keep = true
                    case .partial(let portion):
                        let k = max(1, Int(portion * Double(rows)))
                        keep = (owner == p - 1 && y >= (p * rows) - k) || (owner == p + 1 && y < (p + 1) * rows + k)
                    case .own: keep = false
                    }
                    let base = (ch * H + y) * W
                    if keep, let prev {
                        for i in 0..<W { c.data[base + i] = prev.data[base + i] }
                    } else {
                        for i in 0..<W { c.data[base + i] = 0 }
                    }
                }
            }
            return c
        }
        var low: [Float]? = lowRes[stream]
        var nextLow: [Float]? = nil
        let lowDen = isASG ? g.pooledDenoiser : nil
        let lowInput = isASG ? avgPool2(x) : nil
        let lowPass = { nextLow = lowDen!.posteriorMean(lowInput!, prior: label == nil ? lowDen!.prior : lowDen!.classPriors[label!], alphaBar: ab) }
        if isASG && (warm || low == nil) { lowPass(); low = nextLow }
        let tasks = P + (isASG && !(warm) && lowRes[stream] != nil ? 1 : 0)
        pool.parallelFor(0..<tasks, schedule: .dynamic(chunk: 1)) { range, _ in
            for p in range {
                if p == P { lowPass(); continue }
                partial[p] = g.posteriorMean(composite(p), prior: prior, alphaBar: ab)
            }
        }
        var x0 = [Float](repeating: 0, count: x.count)
        for p in 0..<P {
            for ch in 0..<C { for y in (p * rows)..<((p + 1) * rows) {
                let b = (ch * H + y) * W
                for i in 0..<W { x0[b + i] = partial[p][b + i] }
            } }
        }
        // bytes: what each patch received
        switch pol.kv {
        case .stale, .fresh: ex.recordBytes((P - 1) * x.count * 4)
        case .partial(let portion):
            let k = max(1, Int(portion * Double(rows)))
            ex.recordBytes(2 * (P - 1) * k * rowBytes)
        case .own: break
        }
        ex.recordBytes((P - 1) * x.count * 4)   // output all-gather
        if isASG {
            lowRes[stream] = nextLow
            ex.recordBytes(lowInput!.count * 4)
            let mixed = mixX0(x0, H: H, W: W, C: C, low: low!)
            return g.output(x, x0: mixed, alphaBar: ab)
        }
        return g.output(x, x0: x0, alphaBar: ab)
    }

    // MARK: structure guidance helpers

    private func mixStructure(_ out: Latent, x: Latent, lowX0: [Float], alphaBar ab: Double, type: PredictionType) -> Latent {
        let x0 = toX0(out, x, ab, type)
        let m = mixX0(x0, H: x.height, W: x.width, C: x.channels, low: lowX0)
        return fromX0(m, x, ab, type)
    }

    /// x̂₀ − U(A x̂₀) + U(low): replace the 2×2-average content by the low-resolution pass.
    private func mixX0(_ x0: [Float], H: Int, W: Int, C: Int, low: [Float]) -> [Float] {
        var m = x0
        let h = H / 2, w = W / 2
        for c in 0..<C { for y in 0..<h { for i in 0..<w {
            let b0 = (c * H + 2 * y) * W + 2 * i, b1 = b0 + W
            let avg = 0.25 * (x0[b0] + x0[b0 + 1] + x0[b1] + x0[b1 + 1])
            let d = low[(c * h + y) * w + i] - avg
            m[b0] += d; m[b0 + 1] += d; m[b1] += d; m[b1 + 1] += d
        } } }
        return m
    }
}

func avgPool2(_ x: Latent) -> Latent {
    let h = x.height / 2, w = x.width / 2
    var d = [Float](repeating: 0, count: x.channels * h * w)
    for c in 0..<x.channels { for y in 0..<h { for i in 0..<w {
        let b0 = (c * x.height + 2 * y) * x.width + 2 * i, b1 = b0 + x.width
        d[(c * h + y) * w + i] = 0.25 * (x.data[b0] + x.data[b0 + 1] + x.data[b1] + x.data[b1 + 1])
    } } }
    return Latent(uncheckedChannels: x.channels, height: h, width: w, data: d)
}

func toX0(_ out: Latent, _ x: Latent, _ ab: Double, _ type: PredictionType) -> [Float] {
    let a = ab.squareRoot(), s = (1 - ab).squareRoot()
    var r = out.data
    for j in 0..<r.count {
        let xt = Double(x.data[j]), m = Double(out.data[j])
        switch type {
        case .epsilon: r[j] = Float((xt - s * m) / a)
        case .vPrediction: r[j] = Float(a * xt - s * m)
        case .sample: r[j] = Float(m)
        }
    }
    return r
}

func fromX0(_ x0: [Float], _ x: Latent, _ ab: Double, _ type: PredictionType) -> Latent {
    let a = ab.squareRoot(), s = (1 - ab).squareRoot()
    var o = x
    for j in 0..<o.count {
        let xt = Double(x.data[j]), z = Double(x0[j])
        let e = (xt - a * z) / s
        switch type {
        case .epsilon: o.data[j] = Float(e)
        case .vPrediction: o.data[j] = Float(a * e - s * z)
        case .sample: o.data[j] = Float(z)
        }
    }
    return o
}
