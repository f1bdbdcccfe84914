internal import CTessera
import Foundation

/// A graph in compressed-sparse-row form, built from edges: undirected graphs are
/// symmetrised, duplicate edges merged, self-loops kept, dropped or added.
/// Immutable once built; safe to share between threads.
public final class Graph: @unchecked Sendable {
    /// Self-loops in the input: kept as given, dropped, or one of weight 1 added to every node.
    public enum SelfLoops: Sendable { case keep, drop, add }
    /// How repeated edges combine: their weights are summed, or the largest is kept.
    public enum Merge: Sendable { case sum, max }
    /// Which matrix a product uses: `S` or the transition matrix `D⁻¹S`.
    public enum Operator: Sendable { case transition, adjacency }

    /// How edges become a graph.
    public struct Options: Sendable {
        /// Keep edges one-way (true) or add each edge in both directions (false).
        public var directed: Bool
        /// nil: the largest id + 1, which may be at most 2 × edges + 1024 (a file cannot make
        /// Tessera allocate far more than it holds); set it for sparse id spaces.
        public var nodeCount: Int?
        /// What to do with self-loops.
        public var selfLoops: SelfLoops
        /// How to combine repeated edges.
        public var merge: Merge
        /// Options for building a graph; the defaults make an undirected graph with the node count inferred from the edges.
        public init(directed: Bool = false, nodeCount: Int? = nil, selfLoops: SelfLoops = .keep, merge: Merge = .sum) {
            self.directed = directed
            self.nodeCount = nodeCount
            self.selfLoops = selfLoops
            self.merge = merge
        }
        var c: tsr_graph_params {
            var p = tsr_graph_params()
            tsr_graph_params_default(&p)
            p.directed = directed ? 1 : 0
            p.num_nodes = Int64(nodeCount ?? 0)
            switch selfLoops {
            case .keep: p.self_loops = TSR_GRAPH_SELF_LOOPS_KEEP
            case .drop: p.self_loops = TSR_GRAPH_SELF_LOOPS_DROP
            case .add: p.self_loops = TSR_GRAPH_SELF_LOOPS_ADD
            }
            p.merge = merge == .sum ? TSR_GRAPH_MERGE_SUM : TSR_GRAPH_MERGE_MAX
            return p
        }
    }

    let handle: OpaquePointer

    private init(handle: OpaquePointer) { self.handle = handle }

    deinit { tsr_graph_destroy(handle) }

    private static func validate(_ options: Options) throws(TesseraError) {
        if let n = options.nodeCount, n <= 0 {
            throw .invalidArgument("Graph: nodeCount must be >= 1 (got \(n))")
        }
    }

    /// A graph from parallel arrays of sources and targets (0-based ids) and optional weights.
    public convenience init(sources: [Int], targets: [Int], weights: [Float]? = nil,
                            options: Options = Options()) throws(TesseraError) {
        guard sources.count == targets.count else {
            throw .invalidArgument("Graph: \(sources.count) sources but \(targets.count) targets")
        }
        if let weights, weights.count != sources.count {
            throw .invalidArgument("Graph: \(weights.count) weights for \(sources.count) edges")
        }
        try Graph.validate(options)
        var p = options.c
        let s = sources.map { Int64($0) }, t = targets.map { Int64($0) }
        var h: OpaquePointer?
        let status = s.withUnsafeBufferPointer { sp in
            t.withUnsafeBufferPointer { tp in
                if let weights {
                    return weights.withUnsafeBufferPointer { wp in
                        tsr_graph_create(Int64(sources.count), sp.baseAddress, tp.baseAddress, wp.baseAddress, &p, &h)
                    }
                }
                return tsr_graph_create(Int64(sources.count), sp.baseAddress, tp.baseAddress, nil, &p, &h)
            }
        }
        try check(status)
        self.init(handle: h!)
    }

    /// A graph from `(source, target)` pairs.
    public convenience init(edges: [(Int, Int)], weights: [Float]? = nil, options: Options = Options()) throws(TesseraError) {
        try self.init(sources: edges.map(\.0), targets: edges.map(\.1), weights: weights, options: options)
    }

    /// Parses an edge list: `u v` or `u v w` per line, `#` comments. Errors name the line.
    public convenience init(edgeListText text: String, options: Options = Options()) throws(TesseraError) {
        try Graph.validate(options)
        var p = options.c
        var h: OpaquePointer?
        let utf8 = Array(text.utf8)
        let status = utf8.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { tsr_graph_parse_text($0.baseAddress, $0.count, &p, &h) }
        }
        try check(status)
        self.init(handle: h!)
    }

    /// Reads an edge file: a NumPy `.npy` (m, 2) integer array if the name ends in `.npy`
    /// (with optional `weightsPath`, an (m,) float array), else a text edge list.
    public convenience init(contentsOf path: String, weightsPath: String? = nil,
                            options: Options = Options()) throws(TesseraError) {
        try Graph.validate(options)
        var p = options.c
        var h: OpaquePointer?
        if path.hasSuffix(".npy") {
            try check(tsr_graph_load_npy(path, weightsPath, &p, &h))
        } else {
            guard weightsPath == nil else {
                throw .invalidArgument("Graph: weightsPath is only for .npy edge files (text lists carry a third column)")
            }
            try check(tsr_graph_load_text(path, &p, &h))
        }
        self.init(handle: h!)
    }

    /// Nodes, numbered 0..<nodeCount.
    public var nodeCount: Int { Int(tsr_graph_num_nodes(handle)) }
    /// Stored directed entries (an undirected edge counts twice, a loop once).
    public var entryCount: Int { Int(tsr_graph_num_entries(handle)) }
    /// Whether edges carry weights (otherwise every weight is 1).
    public var isWeighted: Bool { tsr_graph_is_weighted(handle) != 0 }
    /// Whether edges were kept one-way.
    public var isDirected: Bool { tsr_graph_is_directed(handle) != 0 }

    /// Weighted out-degrees (row sums).
    public func degrees() -> [Double] {
        var d = [Double](repeating: 0, count: nodeCount)
        d.withUnsafeMutableBufferPointer { _ = tsr_graph_degrees(handle, $0.baseAddress) }
        return d
    }

    /// Neighbours of `node` in ascending order, with their weights (1 for unweighted graphs).
    public func neighbors(of node: Int) throws(TesseraError) -> [(node: Int, weight: Float)] {
        guard node >= 0, node < nodeCount else {
            throw .outOfRange("Graph: node \(node) is not in 0..<\(nodeCount)")
        }
        var ip: UnsafePointer<Int64>?
        var ix: UnsafePointer<Int32>?
        var w: UnsafePointer<Float>?
        try check(tsr_graph_csr(handle, &ip, &ix, &w))
        let a = Int(ip![node]), b = Int(ip![node + 1])
        return (a..<b).map { (Int(ix![$0]), w?[$0] ?? 1) }
    }

    /// `M · X` with `M = D⁻¹S` (`.transition`) or `S` (`.adjacency`); X is `nodeCount × k`.
    public func multiply(_ x: Matrix<Float>, by op: Operator = .transition,
                         pool: ThreadPool = .shared) throws(TesseraError) -> Matrix<Float> {
        guard x.rows == nodeCount else {
            throw .invalidArgument("Graph.multiply: X has \(x.rows) rows, the graph \(nodeCount) nodes")
        }
        guard x.cols >= 1 else { throw .invalidArgument("Graph.multiply: X has no columns") }
        var y = try Matrix<Float>(uninitializedRows: x.rows, cols: x.cols)  // the kernel writes every element
        try multiply(x, by: op, into: &y, pool: pool)
        return y
    }

    /// `Y = M · X` into an existing `nodeCount × X.cols` matrix (no allocation: for repeated products).
    public func multiply(_ x: Matrix<Float>, by op: Operator = .transition, into y: inout Matrix<Float>,
                         pool: ThreadPool = .shared) throws(TesseraError) {
        guard x.rows == nodeCount, y.rows == nodeCount, y.cols == x.cols, x.cols >= 1 else {
            throw .invalidArgument("Graph.multiply: X is \(x.rows) x \(x.cols), Y \(y.rows) x \(y.cols), graph \(nodeCount) nodes")
        }
        let ldy = Int64(y.rowStride)
        let status = x.withUnsafeBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in
                tsr_graph_spmm_f32(pool.handle, handle, op == .transition ? TSR_GRAPH_TRANSITION : TSR_GRAPH_ADJACENCY,
                                   Int64(x.cols), xp.baseAddress, Int64(x.rowStride), yp.baseAddress, ldy)
            }
        }
        try check(status)
    }
}
