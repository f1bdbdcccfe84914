// `make test` replays the GGUF fuzzer's corpus (fuzz/corpus/swift-gguf/) through GGUFFile and
// what the runner reads first (typed metadata, every tensor byte, LlamaConfig, Tokenizer):
// a consistent file or a TesseraError, never a trap or an out-of-bounds read.
import Foundation
import Testing
import TesseraTestSupport
@testable import TesseraModels

@Suite("Fuzz corpus replay: GGUF")
struct GGUFCorpusReplayTests {
    @Test func everyFileParsesConsistentlyOrThrows() throws {
        let files = try fuzzCorpus("swift-gguf")
        #expect(files.count >= 3)
        var accepted = 0
        for (name, bytes) in files {
            guard let f = try? GGUFFile(bytes: bytes) else { continue }
            accepted += 1
            #expect(f.tensors.count == f.tensorIndex.count, "\(name)")
            for key in f.metadataKeys {
                _ = f[key]?.description
                _ = try? f.stringArray(key); _ = try? f.intArray(key); _ = try? f.floatArray(key)
            }
            for t in f.tensors {
                #expect(t.offset >= 0 && t.offset + t.byteCount <= f.fileSize - f.dataOffset, "\(name): tensor \(t.name)")
                _ = f.withTensorBytes(t) { $0.reduce(UInt8(0)) { $0 &+ $1 } }   // every byte read
            }
            if let config = try? LlamaConfig(gguf: f) { _ = config }
            if let tok = try? Tokenizer(gguf: f) {
                let ids = tok.encode("Hello, ab a! 12 ünï\u{1F600}", addBOS: true)
                #expect(ids.allSatisfy { $0 >= 0 && $0 < tok.vocabularySize }, "\(name)")
                _ = tok.decode(ids)
            }
        }
        #expect(accepted >= 1)
    }
}
