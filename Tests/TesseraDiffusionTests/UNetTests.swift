import Testing
import Foundation
@testable import TesseraDiffusion

/// An independent float64 reference of diffusers' UNet2DModel forward, written from the layer
/// definitions (direct convolution loops, two-pass GroupNorm, softmax attention), reading the
/// model's weights by their diffusers names.
struct ReferenceUNet {
    let m: UNetModel
    typealias T = [Double]   // c × h × w
    struct A { var c: Int; var h: Int; var w: Int; var d: [Double] }

    func p(_ name: String) -> [Double] {
        let s = m.specs.first { $0.name == name }!
        return (0..<s.count).map { Double(m.blob[s.offset + $0]) }
    }
    func has(_ name: String) -> Bool { m.specs.contains { $0.name == name } }

    func conv(_ x: A, _ name: String, stride: Int = 1, k: Int = 3) -> A {
        let w = p(name + ".weight"), b = p(name + ".bias")
        let cout = b.count, pad = k / 2
        let oh = x.h / stride, ow = x.w / stride
        var o = A(c: cout, h: oh, w: ow, d: [Double](repeating: 0, count: cout * oh * ow))
        for co in 0..<cout { for y in 0..<oh { for xx in 0..<ow {
            var s = b[co]
            for ci in 0..<x.c { for ky in 0..<k { for kx in 0..<k {
                let iy = y * stride + ky - pad, ix = xx * stride + kx - pad
                if iy < 0 || iy >= x.h || ix < 0 || ix >= x.w { continue }
                s += w[((co * x.c + ci) * k + ky) * k + kx] * x.d[(ci * x.h + iy) * x.w + ix]
            } } }
            o.d[(co * oh + y) * ow + xx] = s
        } } }
        return o
    }
    func gn(_ x: A, _ name: String, groups: Int, eps: Double) -> A {
        let g = p(name + ".weight"), b = p(name + ".bias")
        var o = x
        let cpg = x.c / groups, n = cpg * x.h * x.w
        for gi in 0..<groups {
            let vals = x.d[(gi * n)..<((gi + 1) * n)]
            let mean = vals.reduce(0, +) / Double(n)
            let v = vals.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
            for c in (gi * cpg)..<((gi + 1) * cpg) { for j in 0..<(x.h * x.w) {
                let i = c * x.h * x.w + j
                o.d[i] = (x.d[i] - mean) / (v + eps).squareRoot() * g[c] + b[c]
            } }
        }
        return o
    }
    func silu(_ x: A) -> A { var o = x; o.d = x.d.map { $0 / (1 + exp(-$0)) }; return o }
    func silu(_ v: [Double]) -> [Double] { v.map { $0 / (1 + exp(-$0)) } }
    func linear(_ v: [Double], _ name: String) -> [Double] {
        let w = p(name + ".weight"), b = p(name + ".bias")
        var out = b
        for o in 0..<b.count { var s = 0.0; for i in 0..<v.count { s += w[o * v.count + i] * v[i] }; out[o] += s }
        return out
    }
    func resnet(_ x: A, _ name: String, _ temb: [Double], scale: Double = 1) -> A {
        let cfg = m.config
        var h = silu(gn(x, name + ".norm1", groups: cfg.normNumGroups, eps: cfg.normEps))
        h = conv(h, name + ".conv1")
        let t = linear(silu(temb), name + ".time_emb_proj")
        if cfg.resnetTimeScaleShift == "scale_shift" {
            h = gn(h, name + ".norm2", groups: cfg.normNumGroups, eps: cfg.normEps)
            for c in 0..<h.c { for j in 0..<(h.h * h.w) { let i = c * h.h * h.w + j; h.d[i] = h.d[i] * (1 + t[c]) + t[h.c + c] } }
            h = silu(h)
        } else {
            for c in 0..<h.c { for j in 0..<(h.h * h.w) { h.d[c * h.h * h.w + j] += t[c] } }
            h = silu(gn(h, name + ".norm2", groups: cfg.normNumGroups, eps: cfg.normEps))
        }
        h = conv(h, name + ".conv2")
        let sc = has(name + ".conv_shortcut.weight") ? conv(x, name + ".conv_shortcut", k: 1) : x
        var o = h
        for i in o.d.indices { o.d[i] = (sc.d[i] + h.d[i]) / scale }
        return o
    }
    /// diffusers' Attention: GroupNorm first unless `groups` is nil (norm_num_groups=None).
    func attention(_ x: A, _ name: String, groups: Int?, scale: Double = 1) -> A {
        let n = x.h * x.w, c = x.c
        let hd = m.config.attentionHeadDim ?? c, heads = c / hd
        let g = groups.map { gn(x, name + ".group_norm", groups: $0, eps: m.config.normEps) } ?? x
        func tok(_ i: Int) -> [Double] { (0..<c).map { g.d[$0 * n + i] } }
        let toks = (0..<n).map(tok)
        let q = toks.map { linear($0, name + ".to_q") }, k = toks.map { linear($0, name + ".to_k") }
        let v = toks.map { linear($0, name + ".to_v") }
        var o = x
        for i in 0..<n {
            var att = [Double](repeating: 0, count: heads * hd)
            for h in 0..<heads {
                var s = [Double](repeating: 0, count: n)
                for j in 0..<n { var acc = 0.0; for d in 0..<hd { acc += q[i][h * hd + d] * k[j][h * hd + d] }; s[j] = acc / Double(hd).squareRoot() }
                let mx = s.max()!
                var z = 0.0
                for j in 0..<n { s[j] = exp(s[j] - mx); z += s[j] }
                for d in 0..<hd { var acc = 0.0; for j in 0..<n { acc += s[j] / z * v[j][h * hd + d] }; att[h * hd + d] = acc }
            }
            let out = linear(att, name + ".to_out.0")
            for ch in 0..<c { o.d[ch * n + i] = (out[ch] + x.d[ch * n + i]) / scale }
        }
        return o
    }

    func forward(_ x: Latent, t: Int, label: Int? = nil) -> [Double] {
        let cfg = m.config, C = cfg.blockOutChannels, L = cfg.layersPerBlock
        let half = C[0] / 2
        var e = [Double](repeating: 0, count: C[0])
        for i in 0..<half {
            let a = Double(t) * exp(-log(10000.0) * Double(i) / (Double(half) - cfg.freqShift))
            e[i] = cfg.flipSinToCos ? cos(a) : sin(a); e[half + i] = cfg.flipSinToCos ? sin(a) : cos(a)
        }
        var temb = linear(silu(linear(e, "time_embedding.linear_1")), "time_embedding.linear_2")
        if let label {
            let ce = p("class_embedding.weight"); for i in temb.indices { temb[i] += ce[label * temb.count + i] }
        }
        var h = A(c: x.channels, h: x.height, w: x.width, d: x.data.map(Double.init))
        if cfg.centerInputSample { h.d = h.d.map { 2 * $0 - 1 } }
        h = conv(h, "conv_in")
        var skips = [h]
        for i in 0..<C.count {
            for j in 0..<L {
                h = resnet(h, "down_blocks.\(i).resnets.\(j)", temb)
                if cfg.downBlockTypes[i] == .attnDown { h = attention(h, "down_blocks.\(i).attentions.\(j)", groups: cfg.normNumGroups) }
                skips.append(h)
            }
            if i < C.count - 1 { h = conv(h, "down_blocks.\(i).downsamplers.0.conv", stride: 2); skips.append(h) }
        }
        h = resnet(h, "mid_block.resnets.0", temb, scale: cfg.midBlockScaleFactor)
        h = attention(h, "mid_block.attentions.0",   // diffusers' UNetMidBlock2D rule for attn_groups
                      groups: cfg.attnNormNumGroups ?? (cfg.resnetTimeScaleShift == "default" ? cfg.normNumGroups : nil),
                      scale: cfg.midBlockScaleFactor)
        h = resnet(h, "mid_block.resnets.1", temb, scale: cfg.midBlockScaleFactor)
        for i in 0..<C.count {
            for j in 0...L {
                let s = skips.removeLast()
                h = A(c: h.c + s.c, h: h.h, w: h.w, d: h.d + s.d)
                h = resnet(h, "up_blocks.\(i).resnets.\(j)", temb)
                if cfg.upBlockTypes[i] == .attnUp { h = attention(h, "up_blocks.\(i).attentions.\(j)", groups: cfg.normNumGroups) }
            }
            if i < C.count - 1 {
                var u = A(c: h.c, h: 2 * h.h, w: 2 * h.w, d: [Double](repeating: 0, count: h.c * 4 * h.h * h.w))
                for c in 0..<h.c { for y in 0..<u.h { for xx in 0..<u.w { u.d[(c * u.h + y) * u.w + xx] = h.d[(c * h.h + y / 2) * h.w + xx / 2] } } }
                h = conv(u, "up_blocks.\(i).upsamplers.0.conv")
            }
        }
        h = conv(silu(gn(h, "conv_norm_out", groups: cfg.normNumGroups, eps: cfg.normEps)), "conv_out")
        return h.d
    }
}

@Suite("UNet2DModel and patch parallelism")
struct UNetTests {
    static func tinyConfig() -> UNetConfig {
        var c = UNetConfig.small(channels: [8, 16], attentionLevels: [1], layersPerBlock: 1, inChannels: 3, groups: 4, headDim: 8)
        c.attentionHeadDim = 8
        return c
    }

    func relErr(_ a: [Float], _ b: [Double]) -> Double {
        var n = 0.0, d = 0.0
        for i in a.indices { n += (Double(a[i]) - b[i]) * (Double(a[i]) - b[i]); d += b[i] * b[i] }
        return (n / d).squareRoot()
    }

    @Test func forwardMatchesFloat64Reference() throws {
        for (variant, cfg) in [("default", Self.tinyConfig()), ("scale_shift+classes+center", {
            var c = Self.tinyConfig(); c.resnetTimeScaleShift = "scale_shift"; c.numClassEmbeds = 3
            c.centerInputSample = true; c.flipSinToCos = false; c.freqShift = 1; c.midBlockScaleFactor = 1.4142
            c.downBlockTypes = [.attnDown, .down]; c.upBlockTypes = [.up, .attnUp]; c.layersPerBlock = 2
            return c }())] {
            let m = try UNetModel(config: cfg, seed: 11)
            let x = try Latent.gaussian(channels: 3, height: 8, width: 8, seed: 2)
            let label: Int? = cfg.numClassEmbeds == nil ? nil : 2
            let out = try m.predict(x, timestep: 417, classLabel: label)
            let ref = ReferenceUNet(m: m).forward(x, t: 417, label: label)
            let e = relErr(out.data, ref)
            #expect(e < 1e-5, "\(variant): relative error \(e)")
        }
    }

    /// diffusers builds the mid block's attention without a GroupNorm under "scale_shift" when
    /// attn_norm_num_groups is unset; such a model folder once failed to load ("missing tensor
    /// mid_block.attentions.0.group_norm.weight").
    @Test func scaleShiftMidBlockAttentionHasNoGroupNorm() throws {
        var c = Self.tinyConfig(); c.resnetTimeScaleShift = "scale_shift"
        let m = try UNetModel(config: c, seed: 4)
        #expect(!m.parameterNames.contains("mid_block.attentions.0.group_norm.weight"))
        #expect(m.parameterNames.contains("down_blocks.1.attentions.0.group_norm.weight"))
        c.attnNormNumGroups = 4
        #expect(try UNetModel(config: c, seed: 4).parameterNames.contains("mid_block.attentions.0.group_norm.weight"))
    }

    @Test func synchronousPatchesEqualTheUnsplitModel() throws {
        let cfg = UNetConfig.small(channels: [16, 32, 32], attentionLevels: [1, 2], layersPerBlock: 1, groups: 4, headDim: 8)
        let m = try UNetModel(config: cfg, seed: 3)
        let x = try Latent.gaussian(channels: 3, height: 32, width: 16, seed: 5)
        let ref = try m.predict(x, timestep: 700, classLabel: nil)
        for P in [2, 4, 8] {
            let pp = try PatchParallelDenoiser(base: m, patches: P, mode: .synchronous)
            pp.beginSampling()
            let out = try pp.predict(x, timestep: 700, classLabel: nil)
            let e = try DiffusionMetrics.relativeError(out, ref)
            #expect(e <= 1e-5, "P=\(P): relative error \(e)")
            #expect(pp.callBytes.first!.bytes > 0)
        }
    }

    @Test func staleModesApproachSynchronousAsWarmupGrows() throws {
        let cfg = UNetConfig.small(channels: [16, 32], attentionLevels: [1], layersPerBlock: 1, groups: 4, headDim: 8)
        let m = try UNetModel(config: cfg, seed: 4)
        let schedule = try NoiseSchedule(.linear)
        let sampler = DiffusionSampler(schedule: schedule)
        let opts = SamplerOptions(kind: .ddim(eta: 0), steps: 8, seed: 1)
        let sync = try sampler.sample(try PatchParallelDenoiser(base: m, patches: 2, mode: .synchronous), height: 16, width: 16, options: opts)
        let unsplit = try sampler.sample(m, height: 16, width: 16, options: opts)
        #expect(try DiffusionMetrics.relativeError(sync, unsplit) < 1e-4)
        for make in [{ (w: Int) in PatchMode.distriFusion(warmupSteps: w) }, { (w: Int) in PatchMode.pcpp(portion: 0.3, warmupSteps: w) }] {
            var errs: [Double] = []
            for w in [1, 4, 8] {
                let d = try PatchParallelDenoiser(base: m, patches: 2, mode: make(w))
                let s = try sampler.sample(d, height: 16, width: 16, options: opts)
                errs.append(try DiffusionMetrics.relativeError(s, sync))
            }
            #expect(errs[0] > 0, "\(errs)")
            #expect(errs[1] <= errs[0] && errs[2] <= errs[1], "errors vs warm-up \(errs)")
            #expect(errs[2] < 1e-4, "all-warm-up run equals synchronous: \(errs)")
        }
    }

    @Test func pcppExchangesFewerBytesThanDistriFusion() throws {
        let cfg = UNetConfig.small(channels: [16, 32], attentionLevels: [0, 1], layersPerBlock: 1, groups: 4, headDim: 8)
        let m = try UNetModel(config: cfg, seed: 4)
        let x = try Latent.gaussian(channels: 3, height: 32, width: 32, seed: 5)
        var bytes: [Double] = []
        for mode in [PatchMode.distriFusion(warmupSteps: 1), .pcpp(portion: 0.3, warmupSteps: 1), .asg(warmupSteps: 1)] {
            let d = try PatchParallelDenoiser(base: m, patches: 4, mode: mode)
            d.beginSampling()
            for t in [900, 800, 700] { _ = try d.predict(x, timestep: t, classLabel: nil) }
            bytes.append(d.bytesPerStepAfterWarmup)
        }
        #expect(bytes[1] < 0.6 * bytes[0], "pcpp \(bytes[1]) vs distrifusion \(bytes[0])")
        #expect(bytes[2] < bytes[1])
    }

    @Test func modelFolderRoundTripsAndBadWeightsAreNamed() throws {
        var cfg = Self.tinyConfig(); cfg.numClassEmbeds = 2
        let m = try UNetModel(config: cfg, seed: 8)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tsr-unet-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try m.save(directory: dir)
        let back = try UNetModel.load(directory: dir)
        #expect(back.config == m.config)
        let x = try Latent.gaussian(channels: 3, height: 8, width: 8, seed: 1)
        #expect(try back.predict(x, timestep: 10, classLabel: 1) == m.predict(x, timestep: 10, classLabel: 1))
        // a tensor with the wrong shape, and a missing one
        let file = try SafeTensorsFile(contentsOf: dir + "/diffusion_pytorch_model.safetensors")
        var tensors = try file.entries.keys.sorted().map { (name: $0, shape: file.entries[$0]!.shape, values: try file.floats($0)) }
        let i = tensors.firstIndex { $0.name == "conv_in.bias" }!
        tensors[i] = (name: "conv_in.bias", shape: [4], values: [0, 0, 0, 0])
        do { _ = try UNetModel(config: cfg, weights: SafeTensorsFile(data: SafeTensorsFile.serialize(tensors))); Issue.record("accepted bad shape") }
        catch { let msg = "\(error)"; #expect(msg.contains("conv_in.bias") && msg.contains("[4]") && msg.contains("[8]")) }
        tensors.remove(at: i)
        do { _ = try UNetModel(config: cfg, weights: SafeTensorsFile(data: SafeTensorsFile.serialize(tensors))); Issue.record("accepted missing") }
        catch { let msg = "\(error)"; #expect(msg.contains("conv_in.bias")) }
        // config errors
        var json = String(decoding: cfg.jsonData(), as: UTF8.self)
        json = json.replacingOccurrences(of: "AttnDownBlock2D", with: "CrossAttnDownBlock2D")
        do { _ = try UNetConfig(json: Data(json.utf8)); Issue.record("accepted bad block") }
        catch { let msg = "\(error)"; #expect(msg.contains("CrossAttnDownBlock2D")) }
        // sizes
        #expect(throws: TesseraError.self) { _ = try m.predict(try Latent.gaussian(channels: 3, height: 7, width: 8, seed: 1), timestep: 1, classLabel: 0) }
        let pp = try PatchParallelDenoiser(base: m, patches: 3, mode: .synchronous)
        #expect(throws: TesseraError.self) { _ = try pp.predict(x, timestep: 1, classLabel: 0) }
        let big = try PatchParallelDenoiser(base: m, patches: 16, mode: .synchronous)
        #expect(throws: TesseraError.self) { _ = try big.predict(x, timestep: 1, classLabel: 0) }
        #expect(throws: TesseraError.self) { _ = try m.predict(x, timestep: 1, classLabel: 5) }
    }

    /// A 300-byte config.json naming [8192, 8192] channels beside a small weight file once made
    /// `UNetModel.load` allocate 73.6 GB before comparing a single weight shape.
    @Test func oversizedConfigIsRefusedBeforeAllocating() throws {
        let small = try UNetModel(config: Self.tinyConfig(), seed: 3)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tsr-unet-big-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try small.save(directory: dir)
        var big = Self.tinyConfig(); big.blockOutChannels = [8192, 8192]; big.normNumGroups = 32
        try big.jsonData().write(to: URL(fileURLWithPath: dir + "/config.json"))
        // the peak address-space size: an allocation of the config's parameters would raise it by GBs
        func peakBytes() throws -> Int {
            let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmPeak:") })
            return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])) * 1024
        }
        let before = try peakBytes()
        do { _ = try UNetModel.load(directory: dir); Issue.record("accepted a config the weights do not match") }
        catch { #expect("\(error)".contains("model weights:"), "\(error)") }
        let grown = try peakBytes() - before
        #expect(grown < 1 << 30, "refusing the config raised the peak address space by \(grown) bytes: parameters were allocated first")
    }

    @Test func safetensorsReaderRejectsHostileFiles() throws {
        let good = try SafeTensorsFile.serialize([(name: "a", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), (name: "b", shape: [1], values: [7])])
        let f = try SafeTensorsFile(data: good)
        #expect(try f.floats("a") == [1, 2, 3, 4, 5, 6])
        // every truncation is rejected or (if the data is intact) read — never a crash
        for n in 0..<good.count {
            _ = try? SafeTensorsFile(data: good.prefix(n)).floats("a")
        }
        // random byte flips (deterministic fuzz)
        var rng = GaussianRNG(seed: 99)
        for _ in 0..<3000 {
            var d = good
            for _ in 0..<(1 + Int(rng.uniform() * 4)) {
                let i = Int(rng.uniform() * Double(d.count))
                d[d.startIndex + i] = UInt8(Int(rng.uniform() * 256) & 255)
            }
            if let g = try? SafeTensorsFile(data: d) { for k in g.entries.keys { _ = try? g.floats(k) } }
        }
        func file(_ header: String, data: Int = 16) -> Data {
            var d = Data(); var n = UInt64(header.utf8.count).littleEndian
            withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }; d.append(Data(header.utf8)); d.append(Data(count: data)); return d
        }
        let bad = [
            #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,32]}}"#,        // past the end
            #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[8,4]}}"#,         // reversed
            #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#,        // size mismatch
            #"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#,        // negative dim
            #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, // overlap
            #"{"a":{"dtype":"I4","shape":[2],"data_offsets":[0,8]}}"#,          // dtype
            #"[1,2,3]"#, #"{"a":5}"#, "not json",
            #"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}"#,
        ]
        for h in bad { #expect(throws: TesseraError.self, "\(h)") { _ = try SafeTensorsFile(data: file(h)) } }
        var huge = Data(repeating: 0xff, count: 8); huge.append(Data(count: 8))
        #expect(throws: TesseraError.self) { _ = try SafeTensorsFile(data: huge) }
        #expect(try SafeTensorsFile(data: file(#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#)).floats("a") == [0, 0])
        #expect(halfToFloat(0x3c00) == 1 && halfToFloat(0xc000) == -2 && halfToFloat(0x0001) == Float(5.9604645e-08))
    }

    @Test func fieldPatchModesMatchTheTruthSpectrum() throws {
        let schedule = try NoiseSchedule(.linear)
        let prior = try GaussianFieldPrior(channels: 1, height: 32, width: 32, spectrum: .powerLaw(exponent: 2.5, cutoff: 0.05))
        let g = try GaussianFieldDenoiser(prior: prior, schedule: schedule)
        let sampler = DiffusionSampler(schedule: schedule)
        let o = SamplerOptions(kind: .ddim(eta: 0), steps: 30, seed: 1)
        let unsplit = try sampler.samples(g, count: 8, height: 32, width: 32, options: o)
        let e0 = try SpectrumComparison(samples: unsplit, prior: prior).rmsLogError
        let sync = try PatchParallelDenoiser(base: g, patches: 4, mode: .synchronous)
        let s = try sampler.samples(sync, count: 8, height: 32, width: 32, options: o)
        for k in 0..<8 { #expect(s[k] == unsplit[k]) }
        for mode in [PatchMode.distriFusion(warmupSteps: 4), .pcpp(portion: 0.3, warmupSteps: 4), .asg(warmupSteps: 4)] {
            let d = try PatchParallelDenoiser(base: g, patches: 4, mode: mode)
            let ss = try sampler.samples(d, count: 8, height: 32, width: 32, options: o)
            let e = try SpectrumComparison(samples: ss, prior: prior).rmsLogError
            #expect(e.isFinite && e < 10 * max(e0, 0.05), "\(mode): spectrum error \(e) vs unsplit \(e0)")
        }
    }
}
