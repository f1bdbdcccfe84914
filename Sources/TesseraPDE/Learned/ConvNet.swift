// A small 2-D convolutional network with a hand-written backward pass.
//
// Activations are channel-major blocks `C × (B·H·W)`: channel c of sample b at pixel (y, x) is
// element `c·N + b·H·W + y·W + x`, N = B·H·W, so a whole batch is one GEMM per layer.
// A 3×3 convolution is im2col (9·Cin × N, periodic or zero padding) followed by
// Y = W·col (W: Cout × 9·Cin); its backward is dW += dY·colᵀ, dcol = Wᵀ·dY and col2im
// (the adjoint of im2col: a scatter-add). A 1×1 convolution is Y = W·X. All parameters live in
// one flat vector, so the optimiser and the weight files see one array.

import Foundation

/// How a 3×3 convolution continues the field past its edges.
public enum ConvPadding: String, Sendable, Codable, CaseIterable {
    /// Wrap around (periodic domains).
    case periodic
    /// Zeros outside.
    case zero
}

/// Pointwise non-linearities.
public enum NetActivation: String, Sendable, Codable, CaseIterable {
    /// f(x) = x.
    case identity
    /// f(x) = max(x, 0).
    case relu
    /// f(x) = tanh x.
    case tanh
    /// f(x) = x·Φ(x) in its tanh form, 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))).
    case gelu

    func apply(_ x: Double) -> Double {
        switch self {
        case .identity: return x
        case .relu: return Swift.max(x, 0)
        case .tanh: return Foundation.tanh(x)
        case .gelu:
            let c = 0.7978845608028654
            return 0.5 * x * (1 + Foundation.tanh(c * (x + 0.044715 * x * x * x)))
        }
    }

    func derivative(_ x: Double) -> Double {
        switch self {
        case .identity: return 1
        case .relu: return x > 0 ? 1 : 0
        case .tanh: let t = Foundation.tanh(x); return 1 - t * t
        case .gelu:
            let c = 0.7978845608028654
            let t = Foundation.tanh(c * (x + 0.044715 * x * x * x))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        }
    }
}

/// One layer of a `ConvNet`.
public indirect enum NetLayer: Sendable, Equatable {
    /// A k×k convolution (k = 1 or 3, stride 1, same size) with bias.
    case conv(inChannels: Int, outChannels: Int, kernel: Int)
    /// A pointwise non-linearity.
    case activation(NetActivation)
    /// x + body(x); the body must keep the channel count.
    case residual([NetLayer])
}

/// One convolution's parameters inside the flat vector: weight `[cout, cin, k, k]`, bias `[cout]`.
public struct ConvParameters: Sendable, Equatable {
    /// Name prefix in weight files, e.g. `layers.2.body.0`.
    public let name: String
    /// Channels in, out, and the kernel side.
    public let inChannels: Int, outChannels: Int, kernel: Int
    /// Offsets of the weight and the bias in the flat parameter vector.
    public let weightOffset: Int, biasOffset: Int
    /// Number of weights (cout·cin·k·k).
    public var weightCount: Int { outChannels * inChannels * kernel * kernel }
}

/// A feed-forward convolutional network on 2-D fields (batched), forward and backward.
public struct ConvNet<T: NetScalar>: Sendable {
    /// The layers, in order.
    public let layers: [NetLayer]
    /// Padding of the 3×3 convolutions.
    public let padding: ConvPadding
    /// All parameters, convolution by convolution (weights then bias).
    public var parameters: [T]
    /// Where each convolution's parameters are.
    public let convolutions: [ConvParameters]
    /// Channels of the input and of the output.
    public let inChannels: Int, outChannels: Int
    let plan: [Op]

    enum Op: Sendable {
        case conv(Int)            // index into convolutions
        case act(NetActivation)
        case pushSkip, addSkip
    }

    /// A network with these layers, parameters initialised (He-style, scaled by `gain`) from
    /// `seed`; the last convolution starts at `outputScale` times that. Errors:
    /// `.invalidArgument` for a kernel other than 1 or 3, non-positive channel counts,
    /// consecutive layers whose channel counts disagree, no convolution at all, or more than
    /// `maxParameters` parameters.
    public init(layers: [NetLayer], padding: ConvPadding, seed: UInt64 = 1, gain: Double = 1,
                outputScale: Double = 1) throws(TesseraError) {
        let (convs, plan, offset) = try Self.layout(layers)
        self.layers = layers; self.padding = padding; self.plan = plan; self.convolutions = convs
        inChannels = convs[0].inChannels; outChannels = convs[convs.count - 1].outChannels
        var rng = NetRandom(seed: seed)
        var p = [T](repeating: 0, count: offset)
        for (j, c) in convs.enumerated() {
            let fanIn = Double(c.inChannels * c.kernel * c.kernel)
            let std = gain * (2 / fanIn).squareRoot() * (j == convs.count - 1 ? outputScale : 1)
            for i in 0..<c.weightCount { p[c.weightOffset + i] = T(rng.normal() * std) }
        }
        parameters = p
    }

    /// The most parameters one network may have (2^28: 1 GiB of float32). Sizes beyond it are
    /// refused before anything is allocated (a weight file's config can ask for any size).
    public static var maxParameters: Int { 1 << 28 }

    /// The parameter count of a network of `layers`, checked as `init` checks them, without
    /// allocating the parameters. Errors: as `init`, and `.invalidArgument` over `maxParameters`.
    public static func parameterCount(_ layers: [NetLayer]) throws(TesseraError) -> Int {
        try layout(layers).count
    }

    /// Where each convolution's parameters go, the forward plan, and the parameter count.
    static func layout(_ layers: [NetLayer]) throws(TesseraError) -> (convolutions: [ConvParameters], plan: [Op], count: Int) {
        var convs: [ConvParameters] = [], plan: [Op] = [], offset = 0
        var channels: Int? = nil
        func walk(_ ls: [NetLayer], _ prefix: String) throws(TesseraError) {
            for (i, l) in ls.enumerated() {
                switch l {
                case let .conv(ci, co, k):
                    guard k == 1 || k == 3, ci >= 1, co >= 1 else {
                        throw .invalidArgument("ConvNet: conv \(prefix)\(i) needs kernel 1 or 3 and positive channels (got \(ci)→\(co), k=\(k))")
                    }
                    if let c = channels, c != ci {
                        throw .invalidArgument("ConvNet: conv \(prefix)\(i) takes \(ci) channels but receives \(c)")
                    }
                    // (co·ci·k² + co) in floating point first: hostile channel counts overflow Int
                    guard Double(offset) + Double(co) * (Double(ci) * Double(k * k) + 1) <= Double(maxParameters) else {
                        throw .invalidArgument("ConvNet: conv \(prefix)\(i) (\(ci)→\(co), k=\(k)) takes the network over \(maxParameters) parameters")
                    }
                    let p = ConvParameters(name: "\(prefix)\(i)", inChannels: ci, outChannels: co, kernel: k,
                                           weightOffset: offset, biasOffset: offset + co * ci * k * k)
                    offset = p.biasOffset + co
                    plan.append(.conv(convs.count)); convs.append(p)
                    channels = co
                case .activation(let a): if a != .identity { plan.append(.act(a)) }   // f(x) = x: nothing to do
                case .residual(let body):
                    let before = channels
                    plan.append(.pushSkip)
                    try walk(body, "\(prefix)\(i).body.")
                    guard channels == before else {
                        throw .invalidArgument("ConvNet: residual \(prefix)\(i) changes channels \(before ?? 0)→\(channels ?? 0)")
                    }
                    plan.append(.addSkip)
                }
            }
        }
        try walk(layers, "layers.")
        guard !convs.isEmpty else { throw .invalidArgument("ConvNet: no convolution") }
        return (convs, plan, offset)
    }

    /// A network of the same architecture with `parameters` (count checked). Errors: `.invalidArgument`.
    public func with(parameters p: [T]) throws(TesseraError) -> ConvNet<T> {
        guard p.count == parameters.count else {
            throw .invalidArgument("ConvNet: \(p.count) parameters given, the architecture has \(parameters.count)")
        }
        var n = self; n.parameters = p; return n
    }

    /// Saved inputs of every activation and the im2col columns (the input, for 1×1) of every
    /// convolution of one forward pass, so the backward pass does not rebuild them.
    public struct Tape: Sendable {
        var inputs: [[T]] = []
        /// Batch, height and width of the pass.
        public let batch: Int, height: Int, width: Int
        /// An empty tape; pass it (as non-nil) to `forward` to record a pass.
        public init(batch: Int, height: Int, width: Int) { self.batch = batch; self.height = height; self.width = width }
    }

    /// Runs the network on `x` (`inChannels × batch·height·width`, channel-major). With a
    /// `tape`, records what `backward` needs. Errors: `.invalidArgument` for a size mismatch.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func forward(_ x: [T], batch: Int, height: Int, width: Int, tape: inout Tape?) throws(TesseraError) -> [T] {
        let n = batch * height * width
        guard batch >= 1, height >= 1, width >= 1, x.count == inChannels * n else {
            throw .invalidArgument("ConvNet.forward: input of \(x.count) values for \(inChannels) channels × \(batch)×\(height)×\(width)")
        }
        if tape != nil { tape = Tape(batch: batch, height: height, width: width) }
        var cur = x, skips: [[T]] = []
        for op in plan {
            switch op {
            case .conv(let j):
                let c = convolutions[j]
                let cols = c.kernel == 1 ? cur : im2col(cur, c.inChannels, batch, height, width)
                tape?.inputs.append(cols)
                cur = convForward(c, cols: cols, batch * height * width)
            case .act(let a):
                tape?.inputs.append(cur)
                cur = cur.map { T(a.apply(Double($0))) }
            case .pushSkip: skips.append(cur)
            case .addSkip:
                let s = skips.removeLast()
                for i in cur.indices { cur[i] += s[i] }
            }
        }
        return cur
    }

    /// Inference without a tape.
    public func callAsFunction(_ x: [T], batch: Int, height: Int, width: Int) throws(TesseraError) -> [T] {
        var none: Tape? = nil
        return try forward(x, batch: batch, height: height, width: width, tape: &none)
    }

    /// Back-propagates `dy` (the loss gradient w.r.t. the output) through the pass recorded in
    /// `tape`: adds the parameter gradients to `grad` (as long as `parameters`) and returns the
    /// gradient w.r.t. the input.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    public func backward(_ dy: [T], tape: Tape, grad: inout [T]) -> [T] {
        precondition(grad.count == parameters.count, "ConvNet.backward: gradient buffer of the wrong size")
        let (b, h, w) = (tape.batch, tape.height, tape.width)
        var g = dy, saved = tape.inputs.count, skipGrads: [[T]] = []
        for op in plan.reversed() {
            switch op {
            case .conv(let j):
                saved -= 1
                g = convBackward(convolutions[j], cols: tape.inputs[saved], g, b, h, w, &grad)
            case .act(let a):
                saved -= 1
                let x = tape.inputs[saved]
                for i in g.indices { g[i] *= T(a.derivative(Double(x[i]))) }
            case .addSkip: skipGrads.append(g)
            case .pushSkip:
                let s = skipGrads.removeLast()
                for i in g.indices { g[i] += s[i] }
            }
        }
        return g
    }

    // MARK: convolution kernels

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func convForward(_ c: ConvParameters, cols: [T], _ n: Int) -> [T] {
        let kdim = c.inChannels * c.kernel * c.kernel
        var y = [T](repeating: 0, count: c.outChannels * n)
        parameters.withUnsafeBufferPointer { p in
            y.withUnsafeMutableBufferPointer { yp in
                for o in 0..<c.outChannels {
                    let bias = p[c.biasOffset + o]
                    for i in 0..<n { yp[o * n + i] = bias }
                }
                cols.withUnsafeBufferPointer { xp in
                    T.gemm(transA: false, transB: false, m: c.outChannels, n: n, k: kdim, alpha: 1,
                           a: p.baseAddress! + c.weightOffset, lda: kdim, b: xp.baseAddress!, ldb: n,
                           beta: 1, c: yp.baseAddress!, ldc: n)
                }
            }
        }
        return y
    }

    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func convBackward(_ c: ConvParameters, cols: [T], _ dy: [T], _ b: Int, _ h: Int, _ w: Int, _ grad: inout [T]) -> [T] {
        let n = b * h * w, kdim = c.inChannels * c.kernel * c.kernel
        var dcols = [T](unsafeUninitializedCapacity: kdim * n) { _, k in k = kdim * n }   // beta = 0 below
        parameters.withUnsafeBufferPointer { p in
            grad.withUnsafeMutableBufferPointer { gp in
                dy.withUnsafeBufferPointer { dp in
                    for o in 0..<c.outChannels {
                        var s: T = 0
                        for i in 0..<n { s += dp[o * n + i] }
                        gp[c.biasOffset + o] += s
                    }
                    cols.withUnsafeBufferPointer { xp in
                        T.gemm(transA: false, transB: true, m: c.outChannels, n: kdim, k: n, alpha: 1,
                               a: dp.baseAddress!, lda: n, b: xp.baseAddress!, ldb: n,
                               beta: 1, c: gp.baseAddress! + c.weightOffset, ldc: kdim)
                    }
                    dcols.withUnsafeMutableBufferPointer { dc in
                        T.gemm(transA: true, transB: false, m: kdim, n: n, k: c.outChannels, alpha: 1,
                               a: p.baseAddress! + c.weightOffset, lda: kdim, b: dp.baseAddress!, ldb: n,
                               beta: 0, c: dc.baseAddress!, ldc: n)
                    }
                }
            }
        }
        return c.kernel == 1 ? dcols : col2im(dcols, c.inChannels, b, h, w)
    }

    /// Row (ci·9 + ky·3 + kx) holds channel ci shifted by (ky − 1, kx − 1). Each image row is
    /// a straight copy plus one wrapped (or zero) edge value, so the inner loops do not branch.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func im2col(_ x: [T], _ cin: Int, _ b: Int, _ h: Int, _ w: Int) -> [T] {
        [T](unsafeUninitializedCapacity: cin * 9 * b * h * w) { cp, count in
            x.withUnsafeBufferPointer { xp in im2col(xp.baseAddress!, cin, b, h, w, into: cp.baseAddress!) }
            count = cin * 9 * b * h * w
        }
    }

    /// `im2col` from and into raw buffers (`9·cin × b·h·w` written).
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func im2col(_ xp: UnsafePointer<T>, _ cin: Int, _ b: Int, _ h: Int, _ w: Int, into cp: UnsafeMutablePointer<T>) {
        let hw = h * w, n = b * hw, periodic = padding == .periodic
        for ci in 0..<cin { for ky in 0..<3 { for kx in 0..<3 {
            let row = cp + ((ci * 9 + ky * 3 + kx) * n)
            for bb in 0..<b {
                let src = xp + ci * n + bb * hw
                for y in 0..<h {
                    let d = row + bb * hw + y * w
                    var yy = y + ky - 1
                    if yy < 0 || yy >= h {
                        guard periodic else { d.initialize(repeating: 0, count: w); continue }
                        yy = (yy + h) % h
                    }
                    Self.shiftRow(d, src + yy * w, w, kx - 1, periodic)
                }
            }
        } } }
    }

    /// d[i] = s[i + dx] for dx ∈ {−1, 0, 1}; the one index past an edge wraps or reads zero.
    @inline(__always)
    static func shiftRow(_ d: UnsafeMutablePointer<T>, _ s: UnsafePointer<T>, _ w: Int, _ dx: Int, _ periodic: Bool) {
        switch dx {
        case 0: d.update(from: s, count: w)
        case -1:
            d[0] = periodic ? s[w - 1] : 0
            (d + 1).update(from: s, count: w - 1)
        default:
            d.update(from: s + 1, count: w - 1)
            d[w - 1] = periodic ? s[0] : 0
        }
    }

    /// The adjoint of `im2col`: every column entry is added back to the pixel it was read from.
    @_specialize(where T == Float)
    @_specialize(where T == Double)
    func col2im(_ col: [T], _ cin: Int, _ b: Int, _ h: Int, _ w: Int) -> [T] {
        let hw = h * w, n = b * hw, periodic = padding == .periodic
        var x = [T](repeating: 0, count: cin * n)
        col.withUnsafeBufferPointer { cp in
            x.withUnsafeMutableBufferPointer { xp in
                for ci in 0..<cin { for ky in 0..<3 { for kx in 0..<3 {
                    let row = cp.baseAddress! + ((ci * 9 + ky * 3 + kx) * n)
                    for bb in 0..<b {
                        let dst = xp.baseAddress! + ci * n + bb * hw
                        for y in 0..<h {
                            var yy = y + ky - 1
                            if yy < 0 || yy >= h { guard periodic else { continue }; yy = (yy + h) % h }
                            let s = row + bb * hw + y * w, d = dst + yy * w
                            switch kx {
                            case 1: for i in 0..<w { d[i] += s[i] }
                            case 0:   // d[i − 1] += s[i]
                                for i in 0..<(w - 1) { d[i] += s[i + 1] }
                                if periodic { d[w - 1] += s[0] }
                            default:  // d[i + 1] += s[i]
                                for i in 0..<(w - 1) { d[i + 1] += s[i] }
                                if periodic { d[0] += s[w - 1] }
                            }
                        }
                    }
                } } }
            }
        }
        return x
    }

    /// Multiply–adds of one forward pass per pixel (2 flops each).
    public var macsPerPixel: Int { convolutions.reduce(0) { $0 + $1.weightCount } }
}

/// SplitMix64 with Box–Muller normals (weights, random training fields).
struct NetRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }
    mutating func normal() -> Double {
        let u1 = Swift.max(uniform(), 1e-300), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
