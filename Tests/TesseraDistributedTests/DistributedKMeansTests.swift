// Distributed k-means when clusters go empty: the relocation (the farthest rows over all ranks)
// must choose what one process chooses, so the labels, centres and inertia stay those of
// KMeans.fit (bitwise with the ordered reduction).

import Foundation
import Testing
import TesseraTestSupport
import Tessera
import TesseraCLICore
import TesseraCluster
@testable import TesseraDistributed

@Suite("Distributed k-means: empty clusters")
struct DistributedKMeansTests {
    @Test("empty clusters take the farthest rows over all ranks: the labels and centres of single-process KMeans.fit",
          arguments: [("ordered", 2), ("ordered", 3), ("allreduce", 2)])
    func relocation(reduction: String, ranks: Int) throws {
        let dir = try scratchDirectory()
        let n = 10_000, d = 5, k = 7
        var points = ClusterData.blobs(n: n, d: d, k: 4)
        // rows 5000 and 9000 repeat row 0: as initial centres they lose every tie to centre 0, so
        // clusters 1 and 2 are empty after the first step; their farthest rows lie on any rank
        for r in [5000, 9000] { for t in 0..<d { points[r * d + t] = points[t] } }
        let starts = [0, 5000, 9000, 1234, 4321, 6789, 8765]
        try NPYArray(shape: [n, d], elements: points).write(to: "\(dir)/points.npy")
        try starts.map(String.init).joined(separator: "\n").write(toFile: "\(dir)/init.txt", atomically: true, encoding: .utf8)
        let r = try runMPI(ranks, ["cluster", "\(dir)/points.npy", "--method", "kmeans", "--k", "\(k)", "--init-medoids",
                                   "\(dir)/init.txt", "--max-iter", "100", "--reduction", reduction,
                                   "--out", "\(dir)/labels.csv", "--check"])
        #expect(r.status == 0, "\(r.stderr)")
        let x = try Matrix(rows: n, cols: d, elements: points)
        let single = try KMeans.fit(x, k: k, options: KMeansOptions(initialization: .centers(starts.map { x.row($0) }),
                                                                    maxIterations: 100))
        #expect(single.relocatedClusters >= 2, "the case must empty clusters")
        try ClusterCSV.writeLabels(single.labels, path: "\(dir)/expected.csv")
        #expect(try String(contentsOfFile: "\(dir)/labels.csv", encoding: .utf8)
                == (try String(contentsOfFile: "\(dir)/expected.csv", encoding: .utf8)))
        #expect(r.stdout.contains(summaryLine("iterations", "\(single.iterations)")), "\(r.stdout)")
        #expect(bool(r, "labels_equal"), "\(r.json)")
        if reduction == "ordered" {
            #expect(bool(r, "centers_bitwise"), "\(r.json)")
            #expect(r.stdout.contains(summaryLine("inertia", String(format: "%.6f", single.inertia))), "\(r.stdout)")
        } else {
            #expect(num(r, "centers_max_diff") <= 1e-12)
            #expect(num(r, "inertia_rel_diff") <= 1e-12)
        }
    }
}
