// Fuzzes loading a learned NeuralStagger model (what `tessera pde stagger-run --model DIR`
// reads): config.json (LearnedStaggerConfig through JSONDecoder and its validation) and
// model.safetensors (every tensor's presence, shape and finiteness). Hostile sizes in the
// config must be refused before anything that large is allocated; an accepted model must
// step a small field to a finite one, or say why not.
//
// Input: a 2-byte little-endian length, that many bytes of config.json, then the safetensors
// bytes (`splitInput`).
import Foundation
import FuzzSupport
import Tessera
import TesseraPDE

func saved(_ cfg: LearnedStaggerConfig, seed: UInt64) throws -> [UInt8] {
    let m = try LearnedStagger<Float>(config: cfg, seed: seed)
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys]
    let weights = try SafeTensorsFile.serialize(m.namedTensors, metadata: ["format": "tessera-neuralstagger"])
    return joinInput(Array(try enc.encode(cfg)), Array(weights))
}

runFuzzer(makeSeeds: { dir in
    var heat = LearnedStaggerConfig(n: 8, factor: 2, dt: 1e-3)
    heat.width = 2; heat.blocks = 1; heat.base = .coarseExplicit
    try writeSeed(dir, "heat-s2-separate", try saved(heat, seed: 3))
    heat.sharing = .equivariant; heat.inputs = .aliasFilteredLaplacian; heat.temporal = 2; heat.biases = false
    try writeSeed(dir, "heat-s2-equivariant-laplacian", try saved(heat, seed: 4))
    var ns = LearnedStaggerConfig(n: 8, factor: 2, dt: 0.05)
    ns.equation = "ns2d"; ns.width = 2; ns.blocks = 1; ns.sharing = .shared; ns.normalization = .fixed(1)
    ns.base = .coarseSpectralPersistent; ns.scheme = .integratingFactor; ns.schemeSubsteps = 2; ns.diffusivity = 1e-3
    try writeSeed(dir, "ns2d-s2-shared", try saved(ns, seed: 5))
    var big = LearnedStaggerConfig(n: 12, factor: 3, dt: 1e-3)
    big.width = 1; big.blocks = 0; big.padding = .zero; big.activation = .relu
    try writeSeed(dir, "heat-s3-no-blocks", try saved(big, seed: 6))
}) { data in
    let (configBytes, weightBytes) = splitInput(data)
    guard let cfg = try? JSONDecoder().decode(LearnedStaggerConfig.self, from: Data(configBytes)),
          let file = try? SafeTensorsFile(data: Data(weightBytes)) else { return }
    let model: LearnedStagger<Float>
    do { model = try LearnedStagger<Float>(config: cfg, weights: file) } catch { fuzzSink("\(error)"); return }
    fuzzCheck(model.nets.count == (cfg.sharing == .separate ? cfg.subtasks : 1), "\(model.nets.count) networks for \(cfg.subtasks) sub-tasks")
    for net in model.nets { fuzzCheck(net.parameters.allSatisfy { $0.isFinite }, "a non-finite weight accepted") }
    guard cfg.n <= 32 else { return }
    do {
        let grid = try cfg.grid()
        let u0 = try Field<Double>(grid: grid) { x in sin(x[0]) * cos(2 * x[1]) + 0.25 }
        let u = try model.rollout(u0, steps: 2)
        fuzzCheck(u.values.toArray().allSatisfy { $0.isFinite }, "a rollout returned a non-finite field")
    } catch { fuzzSink("\(error)") }
}
