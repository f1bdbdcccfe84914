// Fuzzes the diffusion model loader: a diffusers config.json (UNetConfig(json:), validate)
// and a safetensors file (SafeTensorsFile(data:), floats), then the model built from both
// (UNetModel(config:weights:), and UNetModel.load(directory:) from files).
// Input: [config length: 2 bytes LE][config.json][model.safetensors] (splitInput).
// Properties: errors are TesseraErrors; every accepted entry lies in the data section and
// converts to `count` floats; a valid config round-trips through jsonData(); a model is
// only asked for when the config is small (validate() accepts models of many GB).
import Foundation
import FuzzSupport
import TesseraDiffusion

let tmpDir = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-fuzz-unet-\(getpid())").path

func tinyConfig() -> UNetConfig {
    var c = UNetConfig.small(channels: [2], attentionLevels: [0], layersPerBlock: 1, inChannels: 1, groups: 2, headDim: 2)
    c.sampleSize = 8
    return c
}

/// Small enough to build here: the fuzzer's malloc limit is 1 GB.
func small(_ c: UNetConfig) -> Bool {
    c.blockOutChannels.count <= 3 && c.blockOutChannels.allSatisfy { $0 <= 32 } && c.layersPerBlock <= 2 &&
        c.inChannels <= 8 && c.outChannels <= 8 && (c.numClassEmbeds ?? 0) <= 64
}

runFuzzer(makeSeeds: { dir in
    let cfg = tinyConfig()
    let model = try UNetModel(config: cfg, seed: 1)
    try model.save(directory: tmpDir)
    let weights = [UInt8](try Data(contentsOf: URL(fileURLWithPath: tmpDir + "/diffusion_pytorch_model.safetensors")))
    try? FileManager.default.removeItem(atPath: tmpDir)
    try writeSeed(dir, "tiny-unet", joinInput([UInt8](cfg.jsonData()), weights))
    let two = try SafeTensorsFile.serialize([(name: "a", shape: [2, 2], values: [1, 2, 3, 4]),
                                             (name: "b", shape: [3], values: [5, 6, 7])], metadata: ["format": "pt"])
    try writeSeed(dir, "config-and-two-tensors", joinInput([UInt8](cfg.jsonData()), [UInt8](two)))
    // by hand: F16 / BF16 / F64 entries and an empty tensor
    let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},"#
        + #""d":{"dtype":"F64","shape":[1],"data_offsets":[6,14]},"e":{"dtype":"F32","shape":[0],"data_offsets":[14,14]}}"#
    var st = [UInt8]()
    withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { st += $0 }
    st += Array(header.utf8) + [0x00, 0x3C, 0x00, 0xC0, 0x80, 0x3F] + [0, 0, 0, 0, 0, 0, 0xF0, 0x3F]
    try writeSeed(dir, "dtypes", joinInput(Array("{}".utf8), st))
    try writeSeed(dir, "huge-config", joinInput(Array(#"{"block_out_channels":[8192,8192,8192,8192],"layers_per_block":16,"norm_num_groups":32,"in_channels":4096,"out_channels":4096}"#.utf8), [UInt8](two)))
}) { data in
    let (cfgBytes, stBytes) = splitInput(data)
    let weights = try? SafeTensorsFile(data: Data(stBytes))
    if let weights {
        for (name, e) in weights.entries {
            fuzzCheck(e.begin >= 0 && e.begin <= e.end && e.end <= stBytes.count, "entry '\(name)' at \(e.begin)..<\(e.end)")
            let v = try? weights.floats(name)
            fuzzCheck(v?.count == e.count, "floats('\(name)') gave \(v?.count ?? -1) values for \(e.count)")
        }
    }
    guard let config = try? UNetConfig(json: Data(cfgBytes)), (try? config.validate()) != nil else { return }
    let again = try? UNetConfig(json: config.jsonData())
    fuzzCheck(again == config, "config.json does not round-trip through jsonData()")
    guard let weights, small(config) else { return }
    if let model = try? UNetModel(config: config, weights: weights) { fuzzSink(model.parameterCount) }
    if cfgBytes.first == UInt8(ascii: "{") && cfgBytes.count % 4 == 0 {  // now and then through the files
        try? FileManager.default.createDirectory(atPath: tmpDir, withIntermediateDirectories: true)
        try? Data(cfgBytes).write(to: URL(fileURLWithPath: tmpDir + "/config.json"))
        try? Data(stBytes).write(to: URL(fileURLWithPath: tmpDir + "/diffusion_pytorch_model.safetensors"))
        if let model = try? UNetModel.load(directory: tmpDir) { fuzzSink(model.parameterCount) }
    }
}
