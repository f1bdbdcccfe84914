import Testing
import TesseraTestSupport
@testable import Tessera

@Suite("FastRP async: same bits, progress, cancellation")
struct FastRPAsyncTests {
    static func graph() throws -> Graph {
        var s: UInt64 = 7
        func next() -> Int { s = s &* 6364136223846793005 &+ 1442695040888963407; return Int(s >> 33) }
        let n = 500
        let edges = (0..<3000).map { _ in (next() % n, next() % n) }
        return try Graph(sources: edges.map(\.0), targets: edges.map(\.1), options: .init(nodeCount: n))
    }

    @Test("async compute and embed equal sync; progress per iteration")
    func sameBits() async throws {
        let g = try Self.graph()
        var p = FastRP.Parameters()
        p.dimension = 32
        let sync = try blocking { try FastRP.embed(graph: g, parameters: p) }
        let probe = ProgressProbe()
        let async = try await FastRP.embed(graph: g, parameters: p, progress: probe.handler)
        #expect(async == sync)
        probe.checkMonotone(finished: true)
        #expect(probe.all.map(\.completed) == [1, 2, 3, 4])
    }

    @Test("cancellation after an iteration keeps the cache; a later compute resumes")
    func cancel() async throws {
        let g = try Self.graph()
        var p = FastRP.Parameters()
        p.dimension = 16
        p.weights = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
        let fr = try FastRP(graph: g, parameters: p)
        let probe = ProgressProbe(cancelAt: 2)
        let error = await probe.runCancelled { try await fr.compute(progress: probe.handler) }
        #expect(error is CancellationError)
        #expect(fr.iterationsDone >= 2 && fr.iterationsDone <= 3, "iterations: \(fr.iterationsDone) of 12")
        try await fr.compute()
        #expect(fr.iterationsDone == 12)
        let whole = try FastRP(graph: g, parameters: p)
        #expect(try fr.embeddings() == whole.embeddings())
    }
}
