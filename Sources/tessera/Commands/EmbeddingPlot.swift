import ArgumentParser
import Foundation
import TesseraCluster

/// The picture `tessera embed --plot` writes: each node's embedding projected onto the first two
/// principal components of all embeddings (rows L2-normalised first, as the cosine geometry
/// FastRP is used with), coloured by a label per node read from `labelsPath` (e.g. its known
/// community: one integer per line for nodes 0, 1, …; '#' lines are comments).
func writeEmbeddingPlot(_ e: Matrix<Float>, labelsPath: String?, to path: String, graph: String) throws {
    var labels: [Int]? = nil
    if let labelsPath {
        guard let text = try? String(contentsOfFile: labelsPath, encoding: .utf8) else {
            throw ValidationError("cannot read --plot-labels '\(labelsPath)'")
        }
        var l: [Int] = []
        for (i, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            guard let v = Int(t) else { throw ValidationError("--plot-labels '\(labelsPath)' line \(i + 1): '\(t)' is not an integer") }
            l.append(v)
        }
        guard l.count >= e.rows else {
            throw ValidationError("--plot-labels '\(labelsPath)' has \(l.count) labels for \(e.rows) nodes")
        }
        labels = Array(l.prefix(e.rows))
    }
    var unit = [Float]()
    unit.reserveCapacity(e.rows * e.cols)
    for i in 0..<e.rows {
        let r = e.row(i)
        let norm = max(r.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-30)
        unit += r.map { $0 / norm }
    }
    let (x, y) = PrincipalComponents.project2D(try Matrix<Float>(rows: e.rows, cols: e.cols, elements: unit))
    var sp = ScatterPlot(width: 600, height: 600)
    sp.pointRadius = e.rows > 20_000 ? 1.2 : (e.rows > 2_000 ? 1.6 : 2.5)
    sp.pointOpacity = 0.7
    sp.title = "FastRP node embeddings: first two principal components"
    sp.subtitle = "\(URL(fileURLWithPath: graph).lastPathComponent): \(e.rows) nodes, \(e.cols)-dim. embeddings, rows L2-normalised"
        + (labelsPath.map { "; colour: \(URL(fileURLWithPath: $0).lastPathComponent)" } ?? "")
    (sp.xLabel, sp.yLabel) = ("PC 1 (unit-norm embedding)", "PC 2 (unit-norm embedding)")
    sp.legendPrefix = "community"
    try sp.render(x: x, y: y, labels: labels).writePNG(to: path)
}
