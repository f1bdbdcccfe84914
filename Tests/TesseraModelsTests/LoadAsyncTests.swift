import Foundation
import Testing
import TesseraTestSupport
@testable import TesseraModels

@Suite("LlamaModel.load async")
struct LoadAsyncTests {
    @Test("loads the same model as init(path:); progress per tensor, then the build")
    func load() async throws {
        let (bytes, _) = try TinyModelSpec().build()
        let path = try temporaryFile(bytes, name: "async-load")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let probe = ProgressProbe()
        let model = try await LlamaModel.load(path: path, options: ModelOptions(backend: .kernels), progress: probe.handler)
        let sync = try blocking { try LlamaModel(path: path, options: ModelOptions(backend: .kernels)) }
        #expect(model.config == sync.config)
        let tokens = [1, 40, 77, 266, 5]
        let a = try model.makeSession(contextLength: 16).forward(tokens, logits: .all)
        let b = try sync.makeSession(contextLength: 16).forward(tokens, logits: .all)
        #expect(a.flatMap { $0 }.map(\.bitPattern) == b.flatMap { $0 }.map(\.bitPattern))
        probe.checkMonotone(finished: true)
        #expect(probe.all.last?.total == model.file.tensors.count + 1)
        #expect(probe.all.count == model.file.tensors.count + 1)

        await #expect(throws: TesseraError.self) { try await LlamaModel.load(path: "/nonexistent/model.gguf") }
        let cancelled = ProgressProbe(cancelAt: 1)
        let error = await cancelled.runCancelled { _ = try await LlamaModel.load(path: path, progress: cancelled.handler) }
        #expect(error is CancellationError)
        #expect(cancelled.done <= 2)
    }
}
