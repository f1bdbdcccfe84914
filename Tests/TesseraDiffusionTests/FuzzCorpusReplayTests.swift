// `make test` replays the safetensors/config.json fuzzer's corpus (fuzz/corpus/swift-safetensors/:
// a 2-byte little-endian length, that many bytes of config.json, then the safetensors file)
// through SafeTensorsFile, UNetConfig and UNetModel: consistent values or a TesseraError.
import Foundation
import Testing
import TesseraTestSupport
@testable import TesseraDiffusion

@Suite("Fuzz corpus replay: safetensors + config.json")
struct SafeTensorsCorpusReplayTests {
    @Test func everyFileParsesConsistentlyOrThrows() throws {
        let files = try fuzzCorpus("swift-safetensors")
        #expect(files.count >= 3)
        for (name, data) in files {
            let (cfg, st) = splitFuzzInput(data)
            let weights = try? SafeTensorsFile(data: Data(st))
            for (key, e) in weights?.entries ?? [:] {
                #expect(e.begin >= 0 && e.begin <= e.end && e.end <= st.count, "\(name): \(key)")
                #expect((try? weights!.floats(key))?.count == e.count, "\(name): \(key)")
            }
            guard let config = try? UNetConfig(json: Data(cfg)), (try? config.validate()) != nil else { continue }
            #expect(try UNetConfig(json: config.jsonData()) == config, "\(name): config does not round-trip")
            if let weights { _ = try? UNetModel(config: config, weights: weights) }   // checked before allocating
        }
    }
}
