import ArgumentParser
import Foundation
import TesseraCLICore
import Tessera

/// Writes `matrix` as a float32 .npy file atomically (a temporary file renamed into place),
/// so that a failure never leaves a half-written output.
func writeNPYAtomically(_ matrix: Matrix<Float>, to path: String) throws {
    var flat = [Float]()
    flat.reserveCapacity(matrix.rows * matrix.cols)
    for i in 0..<matrix.rows { flat.append(contentsOf: matrix.row(i)) }
    let npy = try NPYArray(shape: [matrix.rows, matrix.cols], elements: flat)
    do {
        try Data(npy.encoded()).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw ValidationError("cannot write '\(path)': \(error.localizedDescription)")
    }
}

/// `tessera embed EDGES --dim 128 --out emb.npy`: FastRP node embeddings.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "FastRP node embeddings of a graph (edge list text 'u v [w]' or an (m, 2) .npy).",
        discussion: """
        A = D⁻¹S, N₁ = A·diag(deg^β)·R with R very sparse (s = sqrt(n)), Nᵢ = A·Nᵢ₋₁, \
        E = Σ αᵢ Nᵢ, then each column standardised. Defaults are the reference notebook's \
        (weights 1,1,7.81,45.28, β = −0.628). Writes an n × dim float32 .npy; row i is node i.
        """
    )

    @Argument(help: "Edge file: text lines 'u v' or 'u v w' ('#' comments), or an (m, 2) integer .npy.")
    var edges: String

    @Option(parsing: .unconditional, help: "Embedding dimension.")
    var dim = 128

    @Option(help: "Output .npy file (n × dim float32).")
    var out: String

    @Option(parsing: .unconditional, help: "Iteration weights α₁,…,α_q (comma-separated; q = their count).")
    var weights = "1,1,7.81,45.28"

    @Option(parsing: .unconditional, help: "Degree exponent β.")
    var beta = -0.628

    @Option(parsing: .unconditional, help: "Sparsity s of the projection (default sqrt(n)).")
    var s: Double?

    @Option(parsing: .unconditional, help: "Random seed.")
    var seed: UInt64 = 42

    @Option(help: "Weights for an .npy edge file: an (m,) float array.")
    var edgeWeights: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Number of nodes (ids 0..<N; nodes without edges get embeddings too).",
                               discussion: "Default: the largest id + 1, which must stay within a small multiple of the edge count; pass --nodes for sparse id spaces."))
    var nodes: Int?

    @Flag(help: "Treat edges as directed (default: undirected, symmetrised).")
    var directed = false

    @Flag(help: "L2-normalise the rows of every iteration before summing.")
    var normalizeRows = false

    @Flag(help: "Skip the final column standardisation.")
    var noStandardize = false

    @Flag(help: "Give every node a self-loop of weight 1.")
    var addSelfLoops = false

    @Option(help: "Also write a PNG: the embeddings' first two principal components, coloured by --plot-labels.")
    var plot: String?

    @Option(help: "Label of each node for --plot colours (e.g. its community): one integer per line, node 0 first.")
    var plotLabels: String?

    func validate() throws {
        guard dim >= 1 else { throw ValidationError("--dim must be >= 1 (got \(dim))") }
        guard beta.isFinite else { throw ValidationError("--beta must be finite (got \(beta))") }
        if let s { guard s >= 1, s.isFinite else { throw ValidationError("--s must be >= 1 (got \(s))") } }
        if let nodes { guard nodes >= 1 else { throw ValidationError("--nodes must be >= 1 (got \(nodes))") } }
        _ = try parsedWeights()
    }

    private func parsedWeights() throws -> [Double] {
        let alphas = weights.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !alphas.isEmpty, alphas.allSatisfy({ $0 != nil && $0!.isFinite }) else {
            throw ValidationError("--weights must be comma-separated finite numbers (got '\(weights)')")
        }
        return alphas.map { $0! }
    }

    func run() throws {
        let alphas = try parsedWeights()
        var p = FastRP.Parameters()
        p.dimension = dim
        p.weights = alphas
        p.beta = beta
        p.sparsity = s
        p.seed = seed
        p.normalizeRows = normalizeRows
        p.standardize = !noStandardize
        let t0 = Date()
        let g: Graph
        do {
            g = try Graph(contentsOf: edges, weightsPath: edgeWeights,
                          options: .init(directed: directed, nodeCount: nodes, selfLoops: addSelfLoops ? .add : .keep))
        } catch {
            // the C message names the C parameter; here it is an option
            if case .outOfRange(let m) = error, m.contains("set num_nodes") {
                throw TesseraError.outOfRange(m.replacingOccurrences(of: "set num_nodes", with: "pass --nodes N"))
            }
            throw error
        }
        let t1 = Date()
        FileHandle.standardError.write(Data(
            "graph: \(g.nodeCount) nodes, \(g.entryCount) entries\(g.isWeighted ? ", weighted" : "") (\(String(format: "%.2f", t1.timeIntervalSince(t0))) s)\n".utf8))
        let fr = try FastRP(graph: g, parameters: p)
        try fr.compute { done, total in
            FileHandle.standardError.write(Data("fastrp: iteration \(done)/\(total)\n".utf8))
        }
        let e = try fr.embeddings()
        let t2 = Date()
        try writeNPYAtomically(e, to: out)
        FileHandle.standardError.write(Data(
            "embedding: \(e.rows) x \(e.cols) in \(String(format: "%.2f", t2.timeIntervalSince(t1))) s -> \(out)\n".utf8))
        if let plot {
            try writeEmbeddingPlot(e, labelsPath: plotLabels, to: plot, graph: edges)
            FileHandle.standardError.write(Data("plot: \(plot)\n".utf8))
        }
    }
}

/// `tessera project INPUT.npy --dim 256 --out out.npy`: random projection of a dense matrix.
struct ProjectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project",
        abstract: "Random projection of an (n, D) .npy matrix to (n, dim) float32 (very sparse by default).",
        discussion: """
        Entries are ±sqrt(s/dim) with probability 1/(2s) each (s = sqrt(D) by default, Li–Hastie–Church), \
        or Gaussian N(0, 1/dim); derived from (seed, row, column), so the result is the same for any \
        thread count.
        """
    )

    @Argument(help: "Input .npy: a 2-D float32 or float64 array (n, D).")
    var input: String

    @Option(parsing: .unconditional, help: "Output dimension.")
    var dim = 256

    @Option(help: "Output .npy file (n × dim float32).")
    var out: String

    @Option(help: "Distribution: sparse (s = sqrt(D) unless --s), achlioptas (s = 3) or gaussian.")
    var kind = "sparse"

    @Option(parsing: .unconditional, help: "Sparsity s for --kind sparse (>= 1).")
    var s: Double?

    @Option(parsing: .unconditional, help: "Random seed.")
    var seed: UInt64 = 42

    func validate() throws {
        guard dim >= 1 else { throw ValidationError("--dim must be >= 1 (got \(dim))") }
        guard ["sparse", "achlioptas", "gaussian"].contains(kind) else {
            throw ValidationError("--kind must be sparse, achlioptas or gaussian (got '\(kind)')")
        }
        if let s { guard s >= 1, s.isFinite else { throw ValidationError("--s must be >= 1 (got \(s))") } }
        try refuse(s != nil && kind != "sparse", "--s is the sparsity of --kind sparse")
    }

    func run() throws {
        let arr = try NPYArray(contentsOf: input)
        guard arr.shape.count == 2, arr.shape[0] >= 1, arr.shape[1] >= 1 else {
            throw ValidationError("'\(input)' must hold a non-empty 2-D array (shape \(arr.shape))")
        }
        let dist: RandomProjection.Distribution
        switch kind {
        case "sparse": dist = .sparse(s: s)
        case "achlioptas": dist = .achlioptas
        case "gaussian": dist = .gaussian
        default: throw ValidationError("--kind must be sparse, achlioptas or gaussian (got '\(kind)')")
        }
        let (n, D) = (arr.shape[0], arr.shape[1])
        let rp = try RandomProjection(inputDimension: D, outputDimension: dim, distribution: dist, seed: seed)
        let t0 = Date()
        let y: Matrix<Float>
        if arr.scalarType == .float32 {
            y = try rp.transform(Matrix<Float>(rows: n, cols: D, elements: arr.elements(as: Float.self)))
        } else {
            let yd = try rp.transform(Matrix<Double>(rows: n, cols: D, elements: arr.doubles()))
            y = try Matrix<Float>(rows: n, cols: dim, elements: yd.toArray().map { Float($0) })
        }
        try writeNPYAtomically(y, to: out)
        FileHandle.standardError.write(Data(
            "projected \(n) x \(D) -> \(dim) (s = \(String(format: "%.3g", rp.sparsity))) in \(String(format: "%.3f", Date().timeIntervalSince(t0))) s -> \(out)\n".utf8))
    }
}
