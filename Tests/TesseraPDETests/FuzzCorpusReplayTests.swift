// `make test` replays the NeuralStagger model fuzzer's corpus (fuzz/corpus/swift-stagger/: a
// 2-byte little-endian length, that many bytes of config.json, then model.safetensors) through
// LearnedStagger's loader: a model whose small rollouts stay finite, or a TesseraError.
import Foundation
import Testing
import Tessera
import TesseraTestSupport
import TesseraPDE

@Suite("Fuzz corpus replay: NeuralStagger model files")
struct StaggerCorpusReplayTests {
    @Test func everyFileLoadsConsistentlyOrThrows() throws {
        let files = try fuzzCorpus("swift-stagger")
        #expect(files.count >= 4)
        var loaded = 0
        for (name, data) in files {
            let (cfg, st) = splitFuzzInput(data)
            guard let config = try? JSONDecoder().decode(LearnedStaggerConfig.self, from: Data(cfg)),
                  let weights = try? SafeTensorsFile(data: Data(st)),
                  let model = try? LearnedStagger<Float>(config: config, weights: weights) else { continue }
            loaded += 1
            #expect(model.nets.allSatisfy { $0.parameters.allSatisfy { $0.isFinite } }, "\(name)")
            guard config.n <= 32 else { continue }
            let u0 = try Field<Double>(grid: try config.grid()) { x in sin(x[0]) * cos(2 * x[1]) + 0.25 }
            if let u = try? model.rollout(u0, steps: 2) { #expect(u.values.toArray().allSatisfy { $0.isFinite }, "\(name)") }
        }
        #expect(loaded >= 4)
    }
}
