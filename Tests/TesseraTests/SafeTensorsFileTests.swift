import Foundation
import Testing
import Tessera

/// `SafeTensorsFile(contentsOf:)` on a file that something else rewrites while it is read.
@Suite("safetensors: a file rewritten under the reader")
struct SafeTensorsFileTests {
    /// Two tests once wrote and read the same folder at the same time (a shared temporary name):
    /// the file was truncated and rewritten while the other test had it memory-mapped, and the
    /// header read died of SIGBUS inside Foundation's `Data`. Read into memory, a file that
    /// changes under the reader gives its values or a `TesseraError`, never a crash.
    @Test func rewrittenWhileReadGivesValuesOrAnError() throws {
        let values = (0..<16384).map { Float($0) }
        let bytes = try SafeTensorsFile.serialize([(name: "w", shape: [128, 128], values: values)])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tsr-st-\(UUID().uuidString).safetensors").path
        try bytes.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = Thread {
            for _ in 0..<400 {
                // truncate, then write back in two halves: readers see empty, partial and whole files
                guard let h = FileHandle(forWritingAtPath: path) else { return }
                try? h.truncate(atOffset: 0)
                try? h.write(contentsOf: bytes.prefix(bytes.count / 2))
                try? h.write(contentsOf: bytes.dropFirst(bytes.count / 2))
                try? h.close()
            }
        }
        writer.start()
        var whole = 0, refused = 0
        for _ in 0..<400 {
            do {
                let f = try SafeTensorsFile(contentsOf: path)
                #expect(try f.floats("w") == values)
                whole += 1
            } catch {
                refused += 1
            }
        }
        while writer.isExecuting { usleep(1000) }
        #expect(whole + refused == 400)
        #expect(try SafeTensorsFile(contentsOf: path).floats("w") == values)
    }
}
