// `make test` replays the Swift fuzzers' corpora (fuzz/corpus/swift-*/: seeds and a reproducer
// of every finding) through the parsers: each file must parse into a consistent value or throw
// a TesseraError — never trap. The campaigns themselves are `make fuzz` (fuzz/README.md).
import Foundation
import Testing
import TesseraTestSupport
@testable import Tessera

@Suite("Fuzz corpus replay: .npy")
struct NPYCorpusReplayTests {
    @Test func everyFileParsesConsistentlyOrThrows() throws {
        let files = try fuzzCorpus("swift-npy")
        #expect(files.count >= 5)
        for (name, bytes) in files {
            guard let a = try? NPYArray(npyData: bytes) else { continue }
            #expect(a.shape.allSatisfy { $0 >= 0 } && a.count == a.shape.reduce(1, *), "\(name)")
            #expect(a.bytes.count == a.count * a.scalarType.size, "\(name)")
            #expect(try NPYArray(npyData: a.encoded()) == a, "\(name): encoded() does not read back")
        }
        // the reproducers are refused
        for (name, bytes) in files where name.hasPrefix("shape-") {
            #expect(throws: TesseraError.self, "\(name)") { _ = try NPYArray(npyData: bytes) }
        }
    }
}
