// `make test` replays the CSV fuzzer's corpus (fuzz/corpus/swift-csv/) through ClusterCSV.parse:
// a rectangular finite table or a TesseraError, never a trap.
import Foundation
import Testing
import TesseraTestSupport
@testable import TesseraCluster

@Suite("Fuzz corpus replay: CSV")
struct CSVCorpusReplayTests {
    @Test func everyFileParsesConsistentlyOrThrows() throws {
        let files = try fuzzCorpus("swift-csv")
        #expect(files.count >= 5)
        for (name, bytes) in files {
            let text = String(decoding: bytes, as: UTF8.self)
            guard let (m, header) = try? ClusterCSV.parse(text) else { continue }
            #expect(m.rows >= 1 && m.cols >= 1, "\(name)")
            if let header { #expect(header.count == m.cols, "\(name)") }
            #expect(m.toArray().allSatisfy { $0.isFinite }, "\(name)")
        }
    }
}
