import Foundation

/// The `config.json` of a diffusers `UNet2DModel` (the fields Tessera uses; others are ignored).
public struct UNetConfig: Sendable, Equatable {
    /// Down blocks without and with self-attention.
    public enum DownBlock: String, Sendable { case down = "DownBlock2D", attnDown = "AttnDownBlock2D" }
    /// Up blocks without and with self-attention.
    public enum UpBlock: String, Sendable { case up = "UpBlock2D", attnUp = "AttnUpBlock2D" }

    /// The training resolution, if the config gives it.
    public var sampleSize: Int? = nil
    /// Input channels.
    public var inChannels = 3
    /// Output channels.
    public var outChannels = 3
    /// Map the input from [0, 1] to [−1, 1] first.
    public var centerInputSample = false
    /// Order of the timestep embedding halves (cos first when true).
    public var flipSinToCos = true
    /// Frequency shift of the sinusoidal timestep embedding.
    public var freqShift = 0.0
    /// Down blocks, from the input resolution down.
    public var downBlockTypes: [DownBlock] = [.down, .attnDown, .attnDown, .attnDown]
    /// Up blocks, from the lowest resolution up.
    public var upBlockTypes: [UpBlock] = [.attnUp, .attnUp, .attnUp, .up]
    /// Output channels of each resolution level.
    public var blockOutChannels = [224, 448, 672, 896]
    /// ResNet blocks per down block (up blocks have one more).
    public var layersPerBlock = 2
    /// Output scale of the mid block's ResNets.
    public var midBlockScaleFactor = 1.0
    /// Whether the network has a mid block.
    public var hasMidBlock = true
    /// Whether the mid block has self-attention.
    public var addAttention = true
    /// Channels per attention head; nil = one head over all channels.
    public var attentionHeadDim: Int? = 8
    /// Groups of every GroupNorm.
    public var normNumGroups = 32
    /// Groups of the mid block attention's GroupNorm (nil: see `midBlockAttentionGroups`).
    public var attnNormNumGroups: Int? = nil
    /// ε of every GroupNorm.
    public var normEps = 1e-5
    /// "default" adds the time embedding; "scale_shift" uses it as (1 + scale, shift) after norm2.
    public var resnetTimeScaleShift = "default"

    /// GroupNorm groups before the mid block's attention, as diffusers builds it: attn_norm_num_groups,
    /// else norm_num_groups with resnet_time_scale_shift "default" and none (no GroupNorm) with "scale_shift".
    public var midBlockAttentionGroups: Int? {
        attnNormNumGroups ?? (resnetTimeScaleShift == "default" ? normNumGroups : nil)
    }

    /// Class embeddings of a class-conditional model (nil: unconditional).
    public var numClassEmbeds: Int? = nil
    /// What the network predicts.
    public var predictionType: PredictionType = .epsilon

    /// The defaults of diffusers' `UNet2DModel`.
    public init() {}

    /// A small model for tests and benchmarks.
    public static func small(channels: [Int] = [32, 64], attentionLevels: Set<Int> = [1], layersPerBlock: Int = 1,
                             inChannels: Int = 3, groups: Int = 8, headDim: Int? = 16) -> UNetConfig {
        var c = UNetConfig()
        c.inChannels = inChannels; c.outChannels = inChannels
        c.blockOutChannels = channels
        c.downBlockTypes = channels.indices.map { attentionLevels.contains($0) ? .attnDown : .down }
        c.upBlockTypes = channels.indices.reversed().map { attentionLevels.contains($0) ? .attnUp : .up }
        c.layersPerBlock = layersPerBlock
        c.normNumGroups = groups
        c.attentionHeadDim = headDim
        return c
    }

    /// Parses a diffusers config.json. Unsupported block types and options are named in the error.
    public init(json data: Data) throws(TesseraError) {
        guard let obj = try? JSONSerialization.jsonObject(with: data), let d = obj as? [String: Any] else {
            throw .malformedInput("config.json: not a JSON object")
        }
        if let cls = d["_class_name"] as? String, cls != "UNet2DModel" {
            throw .unsupported("config.json: _class_name '\(cls)' is not supported (only UNet2DModel)")
        }
        func int(_ k: String) throws(TesseraError) -> Int? {
            guard let v = d[k], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, n.doubleValue == Double(n.int64Value), n.int64Value >= 0, n.int64Value < 1 << 20 else {
                throw .malformedInput("config.json: '\(k)' must be a non-negative integer (got \(v))")
            }
            return Int(n.int64Value)
        }
        func dbl(_ k: String) throws(TesseraError) -> Double? {
            guard let v = d[k], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber, n.doubleValue.isFinite else { throw .malformedInput("config.json: '\(k)' must be a number (got \(v))") }
            return n.doubleValue
        }
        func bool(_ k: String) throws(TesseraError) -> Bool? {
            guard let v = d[k], !(v is NSNull) else { return nil }
            guard let b = v as? Bool else { throw .malformedInput("config.json: '\(k)' must be true or false") }
            return b
        }
        func str(_ k: String) throws(TesseraError) -> String? {
            guard let v = d[k], !(v is NSNull) else { return nil }
            guard let s = v as? String else { throw .malformedInput("config.json: '\(k)' must be a string") }
            return s
        }
        func strs(_ k: String) throws(TesseraError) -> [String]? {
            guard let v = d[k], !(v is NSNull) else { return nil }
            guard let a = v as? [Any], a.allSatisfy({ $0 is String }) else { throw .malformedInput("config.json: '\(k)' must be a list of strings") }
            return a as? [String]
        }
        sampleSize = try int("sample_size")
        if let v = try int("in_channels") { inChannels = v }
        if let v = try int("out_channels") { outChannels = v }
        if let v = try bool("center_input_sample") { centerInputSample = v }
        if let v = try bool("flip_sin_to_cos") { flipSinToCos = v }
        if let v = try dbl("freq_shift") { freqShift = v }
        if let v = try strs("down_block_types") {
            var out: [DownBlock] = []
            for s in v {
                guard let b = DownBlock(rawValue: s) else { throw .unsupported("config.json: down block type '\(s)' is not supported (DownBlock2D, AttnDownBlock2D)") }
                out.append(b)
            }
            downBlockTypes = out
        }
        if let v = try strs("up_block_types") {
            var out: [UpBlock] = []
            for s in v {
                guard let b = UpBlock(rawValue: s) else { throw .unsupported("config.json: up block type '\(s)' is not supported (UpBlock2D, AttnUpBlock2D)") }
                out.append(b)
            }
            upBlockTypes = out
        }
        if let v = d["block_out_channels"], !(v is NSNull) {
            guard let a = v as? [NSNumber], !a.isEmpty else { throw .malformedInput("config.json: 'block_out_channels' must be a list of integers") }
            blockOutChannels = a.map { Int($0.int64Value) }
        }
        if let v = try int("layers_per_block") { layersPerBlock = v }
        if let v = try dbl("mid_block_scale_factor") { midBlockScaleFactor = v }
        if d.keys.contains("mid_block_type") {
            if let s = try str("mid_block_type") {
                guard s == "UNetMidBlock2D" else { throw .unsupported("config.json: mid block type '\(s)' is not supported (UNetMidBlock2D)") }
            } else { hasMidBlock = false }
        }
        if let v = try bool("add_attention") { addAttention = v }
        if d.keys.contains("attention_head_dim") { attentionHeadDim = try int("attention_head_dim") }
        if let v = try int("norm_num_groups") { normNumGroups = v }
        attnNormNumGroups = try int("attn_norm_num_groups")
        if let v = try dbl("norm_eps") { normEps = v }
        if let v = try str("resnet_time_scale_shift") { resnetTimeScaleShift = v }
        if let v = try str("time_embedding_type"), v != "positional" {
            throw .unsupported("config.json: time_embedding_type '\(v)' is not supported (positional)")
        }
        if let v = try str("act_fn"), v != "silu", v != "swish" { throw .unsupported("config.json: act_fn '\(v)' is not supported (silu)") }
        if let v = try str("downsample_type"), v != "conv" { throw .unsupported("config.json: downsample_type '\(v)' is not supported (conv)") }
        if let v = try str("upsample_type"), v != "conv" { throw .unsupported("config.json: upsample_type '\(v)' is not supported (conv)") }
        if let v = try int("downsample_padding"), v != 1 { throw .unsupported("config.json: downsample_padding \(v) is not supported (1)") }
        if let v = try str("class_embed_type") { throw .unsupported("config.json: class_embed_type '\(v)' is not supported (null with num_class_embeds)") }
        numClassEmbeds = try int("num_class_embeds")
        if let v = try str("prediction_type"), let p = PredictionType(rawValue: v) { predictionType = p }
        try validate()
    }

    /// Checks the structural constraints (channel counts, group divisibility, block list lengths).
    public func validate() throws(TesseraError) {
        guard inChannels >= 1, outChannels >= 1, inChannels <= 4096, outChannels <= 4096 else {
            throw .invalidArgument("UNet config: in/out channels must be in 1...4096 (got \(inChannels), \(outChannels))")
        }
        guard !blockOutChannels.isEmpty, blockOutChannels.allSatisfy({ $0 >= 1 && $0 <= 8192 }) else {
            throw .invalidArgument("UNet config: block_out_channels \(blockOutChannels) must be non-empty, each in 1...8192")
        }
        guard downBlockTypes.count == blockOutChannels.count, upBlockTypes.count == blockOutChannels.count else {
            throw .invalidArgument("UNet config: \(downBlockTypes.count) down and \(upBlockTypes.count) up blocks for \(blockOutChannels.count) block_out_channels")
        }
        guard layersPerBlock >= 1, layersPerBlock <= 16 else { throw .invalidArgument("UNet config: layers_per_block \(layersPerBlock) must be in 1...16") }
        guard normNumGroups >= 1, blockOutChannels.allSatisfy({ $0 % normNumGroups == 0 }) else {
            throw .invalidArgument("UNet config: every block_out_channels \(blockOutChannels) must be divisible by norm_num_groups \(normNumGroups)")
        }
        if let g = attnNormNumGroups, g < 1 || blockOutChannels.last! % g != 0 {
            throw .invalidArgument("UNet config: attn_norm_num_groups \(g) must divide \(blockOutChannels.last!)")
        }
        if let h = attentionHeadDim {
            guard h >= 1 else { throw .invalidArgument("UNet config: attention_head_dim must be positive") }
            for (i, c) in blockOutChannels.enumerated() where c % h != 0 && (downBlockTypes[i] == .attnDown || upBlockTypes[blockOutChannels.count - 1 - i] == .attnUp) {
                throw .invalidArgument("UNet config: attention_head_dim \(h) does not divide block \(i)'s \(c) channels")
            }
        }
        guard resnetTimeScaleShift == "default" || resnetTimeScaleShift == "scale_shift" else {
            throw .unsupported("UNet config: resnet_time_scale_shift '\(resnetTimeScaleShift)' is not supported (default, scale_shift)")
        }
        guard normEps > 0 else { throw .invalidArgument("UNet config: norm_eps must be positive") }
        if let n = numClassEmbeds, n < 1 { throw .invalidArgument("UNet config: num_class_embeds must be positive") }
    }

    /// Each side of the image must be divisible by this (one halving per down block but the last).
    public var downsamplingFactor: Int { 1 << (blockOutChannels.count - 1) }
    /// Width of the timestep embedding (4 × the first level's channels).
    public var timeEmbedDim: Int { blockOutChannels[0] * 4 }

    /// The config as diffusers' JSON (round-trips through `init(json:)`).
    public func jsonData() -> Data {
        var d: [String: Any] = [
            "_class_name": "UNet2DModel", "in_channels": inChannels, "out_channels": outChannels,
            "center_input_sample": centerInputSample, "flip_sin_to_cos": flipSinToCos, "freq_shift": freqShift,
            "down_block_types": downBlockTypes.map(\.rawValue), "up_block_types": upBlockTypes.map(\.rawValue),
            "block_out_channels": blockOutChannels, "layers_per_block": layersPerBlock,
            "mid_block_scale_factor": midBlockScaleFactor, "add_attention": addAttention,
            "attention_head_dim": attentionHeadDim.map { $0 as Any } ?? NSNull(),
            "norm_num_groups": normNumGroups, "norm_eps": normEps, "resnet_time_scale_shift": resnetTimeScaleShift,
            "time_embedding_type": "positional", "act_fn": "silu", "downsample_type": "conv", "upsample_type": "conv",
            "downsample_padding": 1, "prediction_type": predictionType.rawValue,
        ]
        if let s = sampleSize { d["sample_size"] = s }
        if let g = attnNormNumGroups { d["attn_norm_num_groups"] = g }
        if let n = numClassEmbeds { d["num_class_embeds"] = n }
        if !hasMidBlock { d["mid_block_type"] = NSNull() }
        return (try? JSONSerialization.data(withJSONObject: d, options: [.sortedKeys, .prettyPrinted])) ?? Data()
    }
}

extension UNetConfig {
    /// The benchmark U-Net: 4 levels (64, 128, 256, 256 channels), one ResNet per level, self-attention
    /// at the two coarsest levels (64×64 and 32×32 tokens for a 256² image) with 64-channel heads.
    public static var benchmarkMedium: UNetConfig {
        var c = UNetConfig.small(channels: [64, 128, 256, 256], attentionLevels: [2, 3], layersPerBlock: 1,
                                 inChannels: 3, groups: 32, headDim: 64)
        c.sampleSize = 256
        return c
    }
}
