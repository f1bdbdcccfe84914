// Weight files of a learned NeuralStagger model: a directory with `config.json` (the
// `LearnedStaggerConfig`) and `model.safetensors` (F32; tensors `net<j>.<layer path>.weight`
// of shape [cout, cin, k, k] and `.bias` of shape [cout]). Loading checks every tensor's
// presence, shape and finiteness and refuses unknown tensors.

import Foundation

extension LearnedStagger where T == Float {
    /// File names inside a model directory.
    public static var configFile: String { "config.json" }
    /// File names inside a model directory.
    public static var weightsFile: String { "model.safetensors" }

    /// All tensors of all networks, named as in the weight file.
    public var namedTensors: [(name: String, shape: [Int], values: [Float])] {
        var out: [(name: String, shape: [Int], values: [Float])] = []
        for (j, net) in nets.enumerated() {
            for c in net.convolutions {
                out.append((name: "net\(j).\(c.name).weight", shape: [c.outChannels, c.inChannels, c.kernel, c.kernel],
                            values: Array(net.parameters[c.weightOffset..<(c.weightOffset + c.weightCount)])))
                out.append((name: "net\(j).\(c.name).bias", shape: [c.outChannels],
                            values: Array(net.parameters[c.biasOffset..<(c.biasOffset + c.outChannels)])))
            }
        }
        return out
    }

    /// Writes `config.json` and `model.safetensors` into `directory` (created if needed).
    /// Errors: `.io` if a file cannot be written, `.invalidState` for non-finite weights.
    public func save(to directory: String) throws(TesseraError) {
        for (j, n) in nets.enumerated() where n.parameters.contains(where: { !$0.isFinite }) {
            throw .invalidState("LearnedStagger.save: network \(j) has non-finite weights")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(config).write(to: URL(fileURLWithPath: directory + "/" + Self.configFile))
        } catch { throw .io("LearnedStagger.save: \(directory): \(error.localizedDescription)") }
        let data = try SafeTensorsFile.serialize(namedTensors, metadata: ["format": "tessera-neuralstagger"])
        do { try data.write(to: URL(fileURLWithPath: directory + "/" + Self.weightsFile)) }
        catch { throw .io("LearnedStagger.save: \(directory)/\(Self.weightsFile): \(error.localizedDescription)") }
    }

    /// Reads a model saved by `save(to:)`. Errors: `.io` for a missing file, `.malformedInput`
    /// for a bad config or weight file, `.invalidArgument` naming a missing, extra, wrongly
    /// shaped or non-finite tensor.
    public init(contentsOf directory: String) throws(TesseraError) {
        let cfg: LearnedStaggerConfig
        let cdata: Data
        do { cdata = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + Self.configFile)) }
        catch { throw .io("LearnedStagger: cannot read \(directory)/\(Self.configFile): \(error.localizedDescription)") }
        do { cfg = try JSONDecoder().decode(LearnedStaggerConfig.self, from: cdata) }
        catch { throw .malformedInput("LearnedStagger: \(directory)/\(Self.configFile) is not a model config: \(error)") }
        let file = try SafeTensorsFile(contentsOf: directory + "/" + Self.weightsFile)
        try self.init(config: cfg, weights: file)
    }

    /// A model of `config` with the tensors of `weights` (checked as in `init(contentsOf:)`).
    public init(config: LearnedStaggerConfig, weights file: SafeTensorsFile) throws(TesseraError) {
        try config.validate()
        // every tensor present and shaped as the config says before the networks are allocated:
        // the file then holds as many values as they need, whatever sizes the config asks for
        let convolutions = try ConvNet<Float>.layout(config.layers).convolutions
        let count = config.sharing == .separate ? config.subtasks : 1
        for j in 0..<count {
            for c in convolutions {
                for (suffix, shape) in [("weight", [c.outChannels, c.inChannels, c.kernel, c.kernel]), ("bias", [c.outChannels])] {
                    let name = "net\(j).\(c.name).\(suffix)"
                    guard let e = file.entries[name] else { throw .invalidArgument("LearnedStagger: weight file lacks tensor '\(name)'") }
                    guard e.shape == shape else {
                        throw .invalidArgument("LearnedStagger: tensor '\(name)' has shape \(e.shape), the config needs \(shape)")
                    }
                }
            }
        }
        var model = try LearnedStagger<Float>(config: config, seed: 0)
        var used = Set<String>()
        for j in model.nets.indices {
            var p = model.nets[j].parameters
            for c in model.nets[j].convolutions {
                for (suffix, off) in [("weight", c.weightOffset), ("bias", c.biasOffset)] {
                    let name = "net\(j).\(c.name).\(suffix)"
                    let v = try file.floats(name)
                    if let bad = v.firstIndex(where: { !$0.isFinite }) {
                        throw .invalidArgument("LearnedStagger: tensor '\(name)' has a non-finite value (\(v[bad])) at \(bad)")
                    }
                    for i in 0..<v.count { p[off + i] = v[i] }
                    used.insert(name)
                }
            }
            model.nets[j].parameters = p
        }
        if let extra = file.entries.keys.sorted().first(where: { !used.contains($0) }) {
            throw .invalidArgument("LearnedStagger: weight file has tensor '\(extra)' that the config (\(config.sharing), width \(config.width), \(config.blocks) blocks) does not use")
        }
        self = model
    }
}
