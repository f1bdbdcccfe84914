// `make test` replays the CSV fuzzer's corpus (fuzz/corpus/swift-csv/) through ClusterCSV.parse:
// a rectangular finite table or a TesseraError, never a trap.
import Foundation
import Testing
@testable import TesseraCluster

@Suite("Fuzz corpus replay: CSV")
struct CSVCorpusReplayTests {
    @Test func everyFileParsesConsistentlyOrThrows() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("fuzz/corpus/swift-csv")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names.count >= 5)
        for name in names {
            let text = String(decoding: try Data(contentsOf: dir.appendingPathComponent(name)), as: UTF8.self)
            guard let (m, header) = try? ClusterCSV.parse(text) else { continue }
            #expect(m.rows >= 1 && m.cols >= 1, "\(name)")
            if let header { #expect(header.count == m.cols, "\(name)") }
            #expect(m.toArray().allSatisfy { $0.isFinite }, "\(name)")
        }
    }
}
