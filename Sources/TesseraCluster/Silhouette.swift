/// Cluster quality: silhouette (Rousseeuw 1987) and medoid silhouette (Lenssen & Schubert 2022).
public struct SilhouetteResult: Sendable {
    /// Per-point values in [−1, 1].
    public var values: [Double]
    /// Mean over all points.
    public var mean: Double
    /// Mean per cluster (NaN for an empty cluster).
    public var perCluster: [Double]
}

/// Silhouette widths of a clustering (quality in [−1, 1], higher is better).
public enum Silhouette {
    /// s(i) = (b − a) / max(a, b), with a the mean distance to the other members of i's cluster
    /// and b the least mean distance to another cluster; s = 0 for singletons. O(n²) distance
    /// reads, parallel over points.
    public static func silhouette(_ source: some Dissimilarity, labels: [Int], pool: ThreadPool = .shared) throws(TesseraError) -> SilhouetteResult {
        let n = source.count
        let k = try checkLabels(labels, n: n)
        var sizes = [Int](repeating: 0, count: k)
        for l in labels { sizes[l] += 1 }
        var values = [Double](repeating: 0, count: n)
        values.withUnsafeMutableBufferPointer { vb in
            let vp = vb.baseAddress!
            pool.parallelFor(0..<n, schedule: .dynamic(chunk: 16)) { r, _ in
                var sums = [Double](repeating: 0, count: k)
                for i in r {
                    for c in 0..<k { sums[c] = 0 }
                    for j in 0..<n where j != i { sums[labels[j]] += source.distance(i, j) }
                    let own = labels[i]
                    if sizes[own] <= 1 { vp[i] = 0; continue }
                    let a = sums[own] / Double(sizes[own] - 1)
                    var b = Double.infinity
                    for c in 0..<k where c != own && sizes[c] > 0 { b = min(b, sums[c] / Double(sizes[c])) }
                    if b.isInfinite { vp[i] = 0; continue }
                    let den = max(a, b)
                    vp[i] = den > 0 ? (b - a) / den : 0
                }
            }
        }
        return summarize(values, labels: labels, k: k)
    }

    /// Medoid silhouette: s(i) = 1 − d(i, nearest medoid) / d(i, second nearest medoid)
    /// (0 when both are 0), with labels = the nearest medoid. O(nk).
    public static func medoidSilhouette(_ source: some Dissimilarity, medoids: [Int]) throws(TesseraError) -> SilhouetteResult {
        let n = source.count
        guard medoids.count >= 2 else { throw .invalidArgument("Silhouette: the medoid silhouette needs k >= 2 medoids") }
        try KMedoids.validateMedoids(medoids, k: medoids.count, n: n)
        var values = [Double](repeating: 0, count: n)
        var labels = [Int](repeating: 0, count: n)
        for i in 0..<n {
            var d1 = Double.infinity, d2 = Double.infinity, b1 = 0
            for (m, x) in medoids.enumerated() {
                let v = x == i ? 0 : source.distance(i, x)
                if v < d1 || (x == i && medoids[b1] != i) { d2 = d1; d1 = v; b1 = m } else if v < d2 { d2 = v }
            }
            labels[i] = b1
            values[i] = d2 > 0 ? 1 - d1 / d2 : 0
        }
        return summarize(values, labels: labels, k: medoids.count)
    }

    static func checkLabels(_ labels: [Int], n: Int) throws(TesseraError) -> Int {
        guard labels.count == n else { throw .invalidArgument("Silhouette: \(labels.count) labels for \(n) objects") }
        guard let mx = labels.max(), labels.allSatisfy({ $0 >= 0 }) else {
            throw .invalidArgument("Silhouette: labels must be >= 0")
        }
        return mx + 1
    }

    static func summarize(_ values: [Double], labels: [Int], k: Int) -> SilhouetteResult {
        var sum = [Double](repeating: 0, count: k), cnt = [Int](repeating: 0, count: k)
        for (i, v) in values.enumerated() { sum[labels[i]] += v; cnt[labels[i]] += 1 }
        let per = (0..<k).map { cnt[$0] > 0 ? sum[$0] / Double(cnt[$0]) : .nan }
        let mean = values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
        return SilhouetteResult(values: values, mean: mean, perCluster: per)
    }
}
