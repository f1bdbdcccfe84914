import Foundation
import Testing
import Tessera

@Suite("FastRP")
struct FastRPTests {
    /// Stochastic block model: node i in block i % blocks.
    private func sbm(n: Int, blocks: Int, inDegree: Double, outDegree: Double, seed: UInt64) throws -> Graph {
        var s = seed
        func next() -> Int { s = s &* 6364136223846793005 &+ 1442695040888963407; return Int(s >> 33) }
        var src: [Int] = [], dst: [Int] = []
        let mIn = Int(Double(n) * inDegree / 2), mOut = Int(Double(n) * outDegree / 2), per = n / blocks
        for e in 0..<(mIn + mOut) {
            let u = next() % n
            var b = u % blocks
            if e >= mIn { b = (b + 1 + next() % (blocks - 1)) % blocks }
            src.append(u)
            dst.append((next() % per) * blocks + b)
        }
        return try Graph(sources: src, targets: dst, options: .init(nodeCount: n))
    }

    @Test func graphBuildsAndMultiplies() throws {
        let g = try Graph(edges: [(0, 1), (1, 2), (2, 0), (1, 0)], options: .init(nodeCount: 4))
        #expect(g.nodeCount == 4 && g.entryCount == 6 && !g.isWeighted && !g.isDirected)
        #expect(g.degrees() == [2, 2, 2, 0])
        #expect(try g.neighbors(of: 1).map(\.node) == [0, 2])
        let x = try Matrix<Float>(rows: 4, cols: 2, elements: [1, 0, 0, 1, 2, 2, 5, 5])
        let y = try g.multiply(x, by: .adjacency)
        #expect(y.row(0) == [2, 3] && y.row(3) == [0, 0])
        let t = try g.multiply(x)
        #expect(t.row(0) == [1, 1.5])
        let text = try Graph(edgeListText: "# c\n0 1 2.5\n1 2 1\n")
        #expect(text.isWeighted && text.degrees() == [2.5, 3.5, 1])
    }

    @Test func edgeListErrorsNameTheLine() throws {
        do {
            _ = try Graph(edgeListText: "0 1\n1 2\n1 x\n")
            Issue.record("expected an error")
        } catch let e {
            guard case .malformedInput(let m) = e else { Issue.record("wrong error \(e)"); return }
            #expect(m.contains("line 3"))
        }
        #expect(throws: TesseraError.self) { try Graph(edgeListText: "") }
        #expect(throws: TesseraError.self) { try Graph(sources: [0, -1], targets: [1, 2]) }
        #expect(throws: TesseraError.self) { try Graph(sources: [0], targets: [1], weights: [.nan]) }
        #expect(throws: TesseraError.self) { try Graph(contentsOf: "/nonexistent/edges.txt") }
    }

    @Test func sbmBlocksAreRecoverable() throws {
        let n = 4000, blocks = 10
        let g = try sbm(n: n, blocks: blocks, inDegree: 12, outDegree: 4, seed: 7)
        let fr = try FastRP(graph: g)
        var seen: [Int] = []
        try fr.compute { done, total in seen.append(done); #expect(total == 4) }
        #expect(seen == [1, 2, 3, 4])
        let e = try fr.embeddings()
        // nearest centroid on half the nodes, scored on the other half
        let d = e.cols
        var cent = [[Double]](repeating: [Double](repeating: 0, count: d), count: blocks)
        for i in 0..<n where (i / blocks) % 2 == 0 {
            let r = e.row(i).map(Double.init)
            let nn = (r.reduce(0) { $0 + $1 * $1 }).squareRoot()
            for k in 0..<d { cent[i % blocks][k] += r[k] / max(nn, 1e-30) }
        }
        var right = 0, total = 0
        for i in 0..<n where (i / blocks) % 2 == 1 {
            let r = e.row(i).map(Double.init)
            let best = (0..<blocks).max { a, b in
                let sa = zip(r, cent[a]).reduce(0) { $0 + $1.0 * $1.1 } / (cent[a].reduce(0) { $0 + $1 * $1 }).squareRoot()
                let sb = zip(r, cent[b]).reduce(0) { $0 + $1.0 * $1.1 } / (cent[b].reduce(0) { $0 + $1 * $1 }).squareRoot()
                return sa < sb
            }!
            if best == i % blocks { right += 1 }
            total += 1
        }
        let f1 = Double(right) / Double(total)
        #expect(f1 >= 0.95, "micro-F1 \(f1)")
        // one-shot, reweighting and thread counts agree bit for bit
        #expect(try FastRP.embed(graph: g, pool: ThreadPool(threads: 1)) == e)
        var p = FastRP.Parameters()
        p.weights = [0, 0, 1, 8]
        p.normalizeRows = true
        #expect(try FastRP.embed(graph: g, parameters: p, pool: ThreadPool(threads: 3))
                == fr.embeddings(weights: [0, 0, 1, 8], normalizeRows: true))
    }

    @Test func badParametersThrow() throws {
        let g = try Graph(edges: [(0, 1), (1, 2)])
        var p = FastRP.Parameters()
        p.dimension = 0
        #expect(throws: TesseraError.self) { try FastRP(graph: g, parameters: p) }
        p = FastRP.Parameters()
        p.weights = []
        #expect(throws: TesseraError.self) { try FastRP.embed(graph: g, parameters: p) }
        p = FastRP.Parameters()
        p.sparsity = 0.5
        #expect(throws: TesseraError.self) { try FastRP.embed(graph: g, parameters: p) }
        p = FastRP.Parameters()
        p.beta = .nan
        #expect(throws: TesseraError.self) { try FastRP.embed(graph: g, parameters: p) }
        let fr = try FastRP(graph: g)
        #expect(throws: TesseraError.self) { try fr.embeddings(weights: [1, 2, 3, 4, 5]) }
    }
}
