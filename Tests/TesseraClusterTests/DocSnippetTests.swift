import Testing
import TesseraCluster

// The snippets of Sources/TesseraCluster/TesseraCluster.docc, compiled and run here
// (scripts/check-doc-snippets checks that they stay the same).

func cluster(_ points: Matrix<Double>) async throws -> KMeansResult<Double> {
    try await KMeans.fit(points, k: 3, progress: { report in
        print(report)                                   // "k-means iterations: 4/300"
    })
}

@Suite("TesseraCluster DocC snippets")
struct DocSnippetTests {
    @Test func overview() throws {
        let points = try Matrix<Double>([[0, 0], [0.2, 0.1], [5, 5], [5.1, 4.8], [9, 0], [8.8, 0.3]])

        // k-means: fit, then label new points with the fitted model and save it
        let fit = try KMeans.fit(points, k: 3, options: KMeansOptions(nInit: 4, seed: 1))
        let model = fit.model
        let labels = try model.predict(try Matrix<Double>([[0.1, 0.0], [5.0, 5.2]]))
        let restored = try KMeansModel<Double>(jsonData: try model.encoded())

        // k-medoids on Manhattan distances, and the model that labels new rows by nearest medoid
        let distances = try DistanceMatrix<Double>(data: points, metric: .manhattan)
        let medoids = try KMedoids.fit(distances, k: 3)
        let medoidModel = try KMedoidsModel(result: medoids, data: points, metric: .manhattan)
        let newLabels = try medoidModel.predict(try Matrix<Double>([[8, 1]]))
        #expect(labels[0] != labels[1])
        #expect(restored == model)
        #expect(medoids.medoids.count == 3)
        #expect(newLabels == [medoids.labels[4]])
        #expect(fit.labels.count == 6)
        _ = medoidModel
    }

    @Test func asyncFit() async throws {
        let points = try Matrix<Double>([[0, 0], [0.2, 0.1], [5, 5], [5.1, 4.8], [9, 0], [8.8, 0.3]])
        #expect(try await cluster(points).labels.count == 6)
    }
}
