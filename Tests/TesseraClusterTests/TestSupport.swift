import Testing
@testable import TesseraCluster

/// Integer points in the plane with Manhattan distances: exact sums, many ties.
func integerMatrix(n: Int, seed: UInt64, range: Int = 20) throws -> DistanceMatrix<Double> {
    var rng = ClusterRandom(seed: seed)
    let pts = (0..<n).map { _ in (rng.below(range), rng.below(range)) }
    var full = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for j in 0..<n { full[i * n + j] = Double(abs(pts[i].0 - pts[j].0) + abs(pts[i].1 - pts[j].1)) } }
    return try DistanceMatrix(full: full, count: n)
}

/// Gaussian blobs: `perBlob` points around each of `blobs` centres in `dim` dimensions.
func blobs(_ blobs: Int, perBlob: Int, dim: Int, spread: Double = 0.3, separation: Double = 10,
           seed: UInt64) throws -> (Matrix<Double>, [Int]) {
    var rng = ClusterRandom(seed: seed)
    var centres = [[Double]]()
    // centres at least `separation` apart (rejection sampling in a box)
    while centres.count < blobs {
        let c = (0..<dim).map { _ in rng.unit() * separation * Double(blobs) }
        let ok = centres.allSatisfy { o in zip(o, c).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) >= separation * separation }
        if ok { centres.append(c) }
    }
    var rows = [[Double]](), truth = [Int]()
    for b in 0..<blobs {
        for _ in 0..<perBlob {
            rows.append((0..<dim).map { centres[b][$0] + spread * rng.normal() })
            truth.append(b)
        }
    }
    return (try Matrix(rows), truth)
}

/// Loss of a medoid set by direct evaluation.
func lossOf<S>(_ d: DistanceMatrix<S>, _ medoids: [Int]) -> Double {
    var s = 0.0
    for j in 0..<d.count { s += medoids.map { d.distance(j, $0) }.min()! }
    return s
}

/// The best loss reachable from `medoids` by one swap (recomputed from scratch).
func bestSingleSwap<S>(_ d: DistanceMatrix<S>, _ medoids: [Int]) -> Double {
    var best = Double.infinity
    let set = Set(medoids)
    for m in 0..<medoids.count {
        for o in 0..<d.count where !set.contains(o) {
            var t = medoids; t[m] = o
            best = min(best, lossOf(d, t))
        }
    }
    return best
}

func randomFloatMatrix(n: Int, dim: Int, seed: UInt64) throws -> DistanceMatrix<Float> {
    var rng = ClusterRandom(seed: seed)
    let x = try Matrix(rows: n, cols: dim, elements: (0..<(n * dim)).map { _ in Float(rng.normal()) })
    return try DistanceMatrix(data: x, metric: .euclidean)
}
