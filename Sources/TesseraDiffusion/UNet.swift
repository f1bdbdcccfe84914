import Foundation
internal import COpenBLAS

/// A diffusers `UNet2DModel` (DownBlock2D / AttnDownBlock2D / UNetMidBlock2D / UpBlock2D / AttnUpBlock2D,
/// ResNet blocks with GroupNorm + SiLU + 3×3 convs + timestep embedding, self-attention blocks,
/// strided-conv downsampling, nearest ×2 + conv upsampling), run on the CPU with OpenBLAS SGEMM
/// (convolutions as im2col + SGEMM, attention as SGEMM + softmax).
///
/// Inside, the network is a flat list of ops over named activations. The same list runs unsplit
/// (one patch) or over P row patches with a `PatchPolicy` saying, for each op that needs other
/// patches' data (3×3-conv halos, GroupNorm statistics, attention K/V), whether it is fresh, stale
/// (previous call), partial (PCPP) or absent.
public final class UNetModel: Denoiser, @unchecked Sendable {
    /// The architecture.
    public let config: UNetConfig
    /// What the network predicts (from the config; may be overridden).
    public var predictionType: PredictionType
    /// Input channels.
    public var channels: Int { config.inChannels }
    /// The pool used for an unsplit forward (convolution chunks run on it). Patch runs use one task per patch.
    public var pool: ThreadPool = .shared
    /// When set, every forward adds its per-op-kind times and flops here (`tessera bench diffusion`).
    public var profile: UNetProfile? = nil

    struct ParamSpec { let name: String; let shape: [Int]; let offset: Int; let kind: Kind
        enum Kind { case weight(fanIn: Int), bias, gamma, beta, embedding }
        var count: Int { shape.reduce(1, *) } }
    let specs: [ParamSpec]
    let blob: UnsafeMutablePointer<Float>
    let blobCount: Int
    let ops: [Op]
    let lastUse: [Int: Int]
    /// conv3 ops followed by the time-embedding add on their output (a resnet's conv1): op index →
    /// projection, added into the convolution's bias instead (the addTemb op after it is skipped).
    let tembIntoBias: [Int: Int]
    let tembProjections: [(w: Int, b: Int, out: Int)]
    let timeLinear1: (w: Int, b: Int), timeLinear2: (w: Int, b: Int)
    let classEmbedding: Int?
    let bufferCount: Int
    let slotCount: Int
    /// Winograd-transformed 3×3 filters, made on first use (the weights never change after init).
    let winogradFilters = WinogradFilterCache()
    /// Activation buffers and scratch recycled between calls.
    let buffers = BufferRecycler()

    /// Number of parameters.
    public var parameterCount: Int { blobCount }
    /// The names of the parameter tensors, in diffusers' naming, in build order.
    public var parameterNames: [String] { specs.map(\.name) }

    // MARK: construction

    /// A model with weights drawn deterministically from `seed` (fan-in scaled normals): for tests and benchmarks.
    public convenience init(config: UNetConfig, seed: UInt64) throws(TesseraError) {
        try self.init(config: config) { spec, dst in
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for b in spec.name.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            var rng = GaussianRNG(seed: seed ^ h)
            let n = spec.count
            switch spec.kind {
            case .weight(let fanIn):
                let s = 1 / Double(max(1, fanIn)).squareRoot()
                for i in 0..<n { dst[i] = Float(rng.next() * s) }
            case .bias: for i in 0..<n { dst[i] = Float(0.02 * rng.next()) }
            case .gamma: for i in 0..<n { dst[i] = Float(1 + 0.1 * rng.next()) }
            case .beta: for i in 0..<n { dst[i] = Float(0.1 * rng.next()) }
            case .embedding: for i in 0..<n { dst[i] = Float(rng.next()) }
            }
        }
    }

    /// A model with weights from a safetensors file (diffusers names; the deprecated attention names
    /// query/key/value/proj_attn are accepted too). Missing or mis-shaped tensors are named in the
    /// error — found before any parameter memory is allocated, so a config that does not match
    /// the file (say `block_out_channels [8192, 8192]` beside a small file) costs nothing.
    public convenience init(config: UNetConfig, weights: SafeTensorsFile) throws(TesseraError) {
        func tensorName(_ spec: ParamSpec) throws(TesseraError) -> String {
            let aliases = [spec.name, spec.name.replacingOccurrences(of: ".to_q.", with: ".query.")
                .replacingOccurrences(of: ".to_k.", with: ".key.").replacingOccurrences(of: ".to_v.", with: ".value.")
                .replacingOccurrences(of: ".to_out.0.", with: ".proj_attn.")]
            guard let name = aliases.first(where: { weights.entries[$0] != nil }), let e = weights.entries[name] else {
                throw .invalidArgument("model weights: missing tensor '\(spec.name)' (shape \(spec.shape))")
            }
            var shape = e.shape
            if spec.shape.count == 2 && shape.count == 4 && shape[2] == 1 && shape[3] == 1 { shape = Array(shape.prefix(2)) }
            guard shape == spec.shape else {
                throw .invalidArgument("model weights: tensor '\(name)' has shape \(e.shape), the config needs \(spec.shape)")
            }
            return name
        }
        var names: [String: String] = [:]
        var failure: TesseraError? = nil
        try self.init(config: config, check: { (specs) throws(TesseraError) in
            for spec in specs { names[spec.name] = try tensorName(spec) }
        }, fill: { spec, dst in
            if failure != nil { return }
            do {
                let v = try weights.floats(names[spec.name]!)
                v.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: v.count) }
            } catch let e as TesseraError { failure = e } catch { failure = .internalError("\(error)") }
        })
        if let failure { throw failure }
    }

    /// Loads a diffusers model folder: `config.json` + `diffusion_pytorch_model.safetensors`
    /// (or the `unet/` subfolder of a pipeline folder).
    public static func load(directory: String) throws(TesseraError) -> UNetModel {
        var dir = directory
        let fm = FileManager.default
        if !fm.fileExists(atPath: dir + "/config.json") && fm.fileExists(atPath: dir + "/unet/config.json") { dir += "/unet" }
        guard let cfg = fm.contents(atPath: dir + "/config.json") else { throw .io("model: cannot read \(dir)/config.json") }
        let config = try UNetConfig(json: cfg)
        let path = dir + "/diffusion_pytorch_model.safetensors"
        guard fm.fileExists(atPath: path) else { throw .io("model: \(path) not found (only safetensors weights are read)") }
        let m = try UNetModel(config: config, weights: try SafeTensorsFile(contentsOf: path))
        if let sc = fm.contents(atPath: directory + "/scheduler/scheduler_config.json"),
           let d = try? JSONSerialization.jsonObject(with: sc) as? [String: Any],
           let p = d["prediction_type"] as? String, let pt = PredictionType(rawValue: p) {
            m.predictionType = pt
        }
        return m
    }

    /// Writes `config.json` and `diffusion_pytorch_model.safetensors` into `directory` (created if needed).
    public func save(directory: String) throws(TesseraError) {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        catch { throw .io("model: cannot create \(directory): \(error.localizedDescription)") }
        let tensors = specs.map { s in (name: s.name, shape: s.shape, values: Array(UnsafeBufferPointer(start: blob + s.offset, count: s.count))) }
        let data = try SafeTensorsFile.serialize(tensors, metadata: ["format": "pt"])
        do {
            try config.jsonData().write(to: URL(fileURLWithPath: directory + "/config.json"))
            try data.write(to: URL(fileURLWithPath: directory + "/diffusion_pytorch_model.safetensors"))
        } catch { throw .io("model: cannot write into \(directory): \(error.localizedDescription)") }
    }

    /// Builds the op list and parameter table, lets `check` refuse the table before any
    /// parameter memory is allocated, then allocates (fallibly) and fills every parameter.
    init(config: UNetConfig, check: ([ParamSpec]) throws(TesseraError) -> Void = { _ in },
         fill: (ParamSpec, UnsafeMutablePointer<Float>) -> Void) throws(TesseraError) {
        try config.validate()
        guard config.outChannels == config.inChannels else {
            throw .unsupported("UNet: out_channels (\(config.outChannels)) must equal in_channels (\(config.inChannels)) for sampling")
        }
        self.config = config
        self.predictionType = config.predictionType
        let b = Builder(config: config)
        b.build()
        specs = b.specs; ops = b.ops; blobCount = b.total
        tembProjections = b.tembProjs; timeLinear1 = b.t1; timeLinear2 = b.t2; classEmbedding = b.classEmb
        bufferCount = b.nextBuf; slotCount = b.nextKey
        var lu: [Int: Int] = [:]
        for (i, op) in ops.enumerated() { for r in op.reads { lu[r] = i } }
        lastUse = lu
        var fused: [Int: Int] = [:]
        for i in ops.indices.dropLast() {
            if case .conv3(_, let d, _, _, _, _, _, _) = ops[i], case .addTemb(let b, let proj) = ops[i + 1], b == d { fused[i] = proj }
        }
        tembIntoBias = fused
        try check(specs)
        let (bytes, overflow) = max(1, b.total).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, let raw = malloc(bytes) else {
            throw .outOfMemory("UNet: cannot allocate \(b.total) parameters (\(bytes) bytes) for this config")
        }
        blob = raw.bindMemory(to: Float.self, capacity: max(1, b.total))
        for s in specs { fill(s, blob + s.offset) }
    }

    deinit { free(blob) }

    /// Checks that `height × width` halves cleanly through every down block.
    public func validate(height: Int, width: Int) throws(TesseraError) {
        try validate(height: height, width: width, patches: 1)
    }

    func validate(height: Int, width: Int, patches: Int) throws(TesseraError) {
        let f = config.downsamplingFactor
        guard height >= 1, width >= 1, height <= 16384, width <= 16384 else {
            throw .invalidArgument("UNet: image size \(height)x\(width) must be in 1...16384")
        }
        guard patches >= 1 else { throw .invalidArgument("UNet: patches must be positive (got \(patches))") }
        guard patches <= height else { throw .invalidArgument("UNet: \(patches) patches for \(height) rows: more patches than rows") }
        guard width % f == 0, height % (f * patches) == 0 else {
            throw .invalidArgument("UNet: image \(height)x\(width) must have width divisible by the downsampling factor \(f) and height by \(f)×\(patches) patches = \(f * patches)")
        }
    }

    /// The network output for `x` at `timestep` (class-conditioned when the model has class embeddings).
    public func predict(_ x: Latent, timestep: Int, classLabel: Int?) throws(TesseraError) -> Latent {
        try execute(x, timestep: timestep, classLabel: classLabel, patches: 1, policy: .synchronous, exchange: nil, pool: pool)
    }

    // MARK: ops

    enum Op {
        case center(buf: Int)
        case conv3(src: Int, dst: Int, w: Int, b: Int, cin: Int, cout: Int, stride: Int, key: Int)
        case conv1(src: Int, dst: Int, w: Int, b: Int, cin: Int, cout: Int)
        case gn(src: Int, dst: Int, gamma: Int, beta: Int, groups: Int, eps: Double, silu: Bool, key: Int)
        case addTemb(buf: Int, proj: Int)
        case scaleShift(buf: Int, proj: Int)
        case silu(buf: Int)
        case add(a: Int, b: Int, dst: Int, scale: Float)
        case concat(a: Int, b: Int, dst: Int)
        case upsample(src: Int, dst: Int)
        case attn(src: Int, residual: Int, dst: Int, q: (Int, Int), k: (Int, Int), v: (Int, Int), o: (Int, Int),
                  heads: Int, headDim: Int, rescale: Float, key: Int)
        case output(src: Int)

        var reads: [Int] {
            switch self {
            case .center(let b), .addTemb(let b, _), .scaleShift(let b, _), .silu(let b): return [b]
            case .conv3(let s, _, _, _, _, _, _, _), .conv1(let s, _, _, _, _, _), .gn(let s, _, _, _, _, _, _, _),
                 .upsample(let s, _), .output(let s): return [s]
            case .add(let a, let b, _, _), .concat(let a, let b, _): return [a, b]
            case .attn(let s, let r, _, _, _, _, _, _, _, _, _): return [s, r]
            }
        }
        /// Needs other patches' data (has a publish phase).
        var crossPatch: Bool {
            switch self { case .conv3, .gn, .attn: return true; default: return false }
        }
    }

    final class Builder {
        let config: UNetConfig
        var specs: [ParamSpec] = []
        var total = 0
        var ops: [Op] = []
        var nextBuf = 1
        var nextKey = 0
        var tembProjs: [(w: Int, b: Int, out: Int)] = []
        var t1 = (w: 0, b: 0), t2 = (w: 0, b: 0)
        var classEmb: Int? = nil
        init(config: UNetConfig) { self.config = config }

        func param(_ name: String, _ shape: [Int], _ kind: ParamSpec.Kind) -> Int {
            let s = ParamSpec(name: name, shape: shape, offset: total, kind: kind)
            specs.append(s); total += s.count
            return s.offset
        }
        func buf() -> Int { nextBuf += 1; return nextBuf - 1 }
        func key() -> Int { nextKey += 1; return nextKey - 1 }

        func conv3(_ name: String, _ src: Int, _ cin: Int, _ cout: Int, stride: Int = 1) -> Int {
            let w = param(name + ".weight", [cout, cin, 3, 3], .weight(fanIn: cin * 9))
            let b = param(name + ".bias", [cout], .bias)
            let d = buf()
            ops.append(.conv3(src: src, dst: d, w: w, b: b, cin: cin, cout: cout, stride: stride, key: key()))
            return d
        }
        func conv1(_ name: String, _ src: Int, _ cin: Int, _ cout: Int) -> Int {
            let w = param(name + ".weight", [cout, cin, 1, 1], .weight(fanIn: cin))
            let b = param(name + ".bias", [cout], .bias)
            let d = buf()
            ops.append(.conv1(src: src, dst: d, w: w, b: b, cin: cin, cout: cout))
            return d
        }
        func gn(_ name: String, _ src: Int, _ c: Int, groups: Int, silu: Bool) -> Int {
            let g = param(name + ".weight", [c], .gamma), b = param(name + ".bias", [c], .beta)
            let d = buf()
            ops.append(.gn(src: src, dst: d, gamma: g, beta: b, groups: groups, eps: config.normEps, silu: silu, key: key()))
            return d
        }
        func linear(_ name: String, _ inDim: Int, _ outDim: Int) -> (Int, Int) {
            (param(name + ".weight", [outDim, inDim], .weight(fanIn: inDim)), param(name + ".bias", [outDim], .bias))
        }
        func resnet(_ name: String, _ x: Int, _ cin: Int, _ cout: Int, outScale: Double = 1) -> Int {
            let g = config.normNumGroups
            var h = gn(name + ".norm1", x, cin, groups: g, silu: true)
            h = conv3(name + ".conv1", h, cin, cout)
            let shift = config.resnetTimeScaleShift == "scale_shift"
            let (pw, pb) = linear(name + ".time_emb_proj", config.timeEmbedDim, shift ? 2 * cout : cout)
            tembProjs.append((w: pw, b: pb, out: shift ? 2 * cout : cout))
            let proj = tembProjs.count - 1
            if shift {
                h = gn(name + ".norm2", h, cout, groups: g, silu: false)
                ops.append(.scaleShift(buf: h, proj: proj)); ops.append(.silu(buf: h))
            } else {
                ops.append(.addTemb(buf: h, proj: proj))
                h = gn(name + ".norm2", h, cout, groups: g, silu: true)
            }
            h = conv3(name + ".conv2", h, cout, cout)
            let sc = cin != cout ? conv1(name + ".conv_shortcut", x, cin, cout) : x
            let d = buf()
            ops.append(.add(a: sc, b: h, dst: d, scale: Float(1 / outScale)))
            return d
        }
        /// Self-attention on `x`; `groups` nil: no GroupNorm before it (diffusers' mid block
        /// with resnet_time_scale_shift "scale_shift" and no attn_norm_num_groups).
        func attention(_ name: String, _ x: Int, _ c: Int, groups: Int?, rescale: Double = 1) -> Int {
            let hd = config.attentionHeadDim ?? c
            let heads = c / hd
            let n = groups.map { gn(name + ".group_norm", x, c, groups: $0, silu: false) } ?? x
            let q = linear(name + ".to_q", c, heads * hd), k = linear(name + ".to_k", c, heads * hd)
            let v = linear(name + ".to_v", c, heads * hd), o = linear(name + ".to_out.0", heads * hd, c)
            let d = buf()
            ops.append(.attn(src: n, residual: x, dst: d, q: q, k: k, v: v, o: o, heads: heads, headDim: hd,
                             rescale: Float(rescale), key: key()))
            return d
        }

        func build() {
            let C = config.blockOutChannels, L = config.layersPerBlock, nb = C.count
            let c0 = C[0], temb = config.timeEmbedDim
            let l1 = linear("time_embedding.linear_1", c0, temb); t1 = (l1.0, l1.1)
            let l2 = linear("time_embedding.linear_2", temb, temb); t2 = (l2.0, l2.1)
            if let n = config.numClassEmbeds { classEmb = param("class_embedding.weight", [n, temb], .embedding) }
            if config.centerInputSample { ops.append(.center(buf: 0)) }
            var h = conv3("conv_in", 0, config.inChannels, c0)
            var skips: [(buf: Int, c: Int)] = [(h, c0)]
            var cout = c0
            for i in 0..<nb {
                let cin = cout; cout = C[i]
                for j in 0..<L {
                    h = resnet("down_blocks.\(i).resnets.\(j)", h, j == 0 ? cin : cout, cout)
                    if config.downBlockTypes[i] == .attnDown {
                        h = attention("down_blocks.\(i).attentions.\(j)", h, cout, groups: config.normNumGroups)
                    }
                    skips.append((h, cout))
                }
                if i < nb - 1 {
                    h = conv3("down_blocks.\(i).downsamplers.0.conv", h, cout, cout, stride: 2)
                    skips.append((h, cout))
                }
            }
            let cl = C[nb - 1]
            if config.hasMidBlock {
                let ms = config.midBlockScaleFactor
                h = resnet("mid_block.resnets.0", h, cl, cl, outScale: ms)
                if config.addAttention {
                    h = attention("mid_block.attentions.0", h, cl, groups: config.midBlockAttentionGroups, rescale: ms)
                }
                h = resnet("mid_block.resnets.1", h, cl, cl, outScale: ms)
            }
            let rev = Array(C.reversed())
            var outC = rev[0]
            var curC = cl
            for i in 0..<nb {
                outC = rev[i]
                for j in 0...L {
                    let s = skips.removeLast()
                    let cat = buf()
                    ops.append(.concat(a: h, b: s.buf, dst: cat))
                    h = resnet("up_blocks.\(i).resnets.\(j)", cat, curC + s.c, outC)
                    curC = outC
                    if config.upBlockTypes[i] == .attnUp {
                        h = attention("up_blocks.\(i).attentions.\(j)", h, outC, groups: config.normNumGroups)
                    }
                }
                if i < nb - 1 {
                    let u = buf()
                    ops.append(.upsample(src: h, dst: u))
                    h = conv3("up_blocks.\(i).upsamplers.0.conv", u, outC, outC)
                }
            }
            h = gn("conv_norm_out", h, c0, groups: config.normNumGroups, silu: true)
            h = conv3("conv_out", h, c0, config.outChannels)
            ops.append(.output(src: h))
        }
    }

    // MARK: time embedding

    /// Per-resnet time-embedding projections for this call (silu(temb) · Wᵀ + b).
    func timeProjections(timestep: Int, classLabel: Int?) throws(TesseraError) -> [[Float]] {
        let c0 = config.blockOutChannels[0], temb = config.timeEmbedDim
        let half = c0 / 2
        var e = [Float](repeating: 0, count: c0)
        for i in 0..<half {
            let f = exp(-log(10000.0) * Double(i) / (Double(half) - config.freqShift))
            let a = Double(timestep) * f
            if config.flipSinToCos { e[i] = Float(cos(a)); e[half + i] = Float(sin(a)) }
            else { e[i] = Float(sin(a)); e[half + i] = Float(cos(a)) }
        }
        func lin(_ x: [Float], _ w: Int, _ b: Int, _ outDim: Int) -> [Float] {
            var y = Array(UnsafeBufferPointer(start: blob + b, count: outDim))
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outDim), Int32(x.count), 1, blob + w, Int32(x.count), x, 1, 1, &y, 1)
            return y
        }
        var t = lin(e, timeLinear1.w, timeLinear1.b, temb)
        for i in t.indices { t[i] = t[i] / (1 + expf(-t[i])) }
        t = lin(t, timeLinear2.w, timeLinear2.b, temb)
        if let ce = classEmbedding, let n = config.numClassEmbeds {
            guard let label = classLabel else { throw .invalidArgument("UNet: this model is class-conditional (\(n) classes): give a class label") }
            guard label >= 0, label < n else { throw .invalidArgument("UNet: class label \(label) out of range 0..<\(n)") }
            for i in 0..<temb { t[i] += blob[ce + label * temb + i] }
        } else if let label = classLabel {
            throw .invalidArgument("UNet: class label \(label) given to a model without class embeddings")
        }
        for i in t.indices { t[i] = t[i] / (1 + expf(-t[i])) }
        return tembProjections.map { lin(t, $0.w, $0.b, $0.out) }
    }
}
