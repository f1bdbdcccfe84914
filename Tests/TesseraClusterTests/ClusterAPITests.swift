import Foundation
import Synchronization
import Testing
import TesseraTestSupport
@testable import TesseraCluster

func uniformData(n: Int, dim: Int, seed: UInt64) throws -> Matrix<Double> {
    var rng = ClusterRandom(seed: seed)
    return try Matrix(rows: n, cols: dim, elements: (0..<(n * dim)).map { _ in rng.unit() })
}

func bits<S: ClusterScalar>(_ m: Matrix<S>) -> [UInt64] { m.toArray().map { UInt64(truncatingIfNeeded: Double($0).bitPattern) } }

@Suite("Cluster async fits: same bits, progress, cancellation")
struct ClusterAsyncTests {
    @Test("k-means: async equals sync bit for bit; progress monotone and ends at total",
          arguments: [KMeansAlgorithm.lloyd, .hamerly])
    func kMeansAsync(algorithm: KMeansAlgorithm) async throws {
        let (x, _) = try blobs(5, perBlob: 200, dim: 3, spread: 2, seed: 3)
        let options = KMeansOptions(algorithm: algorithm, nInit: 2, maxIterations: 50, seed: 11)
        let sync = try blocking { try KMeans.fit(x, k: 5, options: options) }
        let probe = ProgressProbe()
        let async = try await KMeans.fit(x, k: 5, options: options, progress: probe.handler)
        #expect(bits(async.centers) == bits(sync.centers))
        #expect(async.labels == sync.labels)
        #expect(async.inertia.bitPattern == sync.inertia.bitPattern)
        #expect(async.iterations == sync.iterations)
        #expect(async.inertiaHistory.map(\.bitPattern) == sync.inertiaHistory.map(\.bitPattern))
        probe.checkMonotone(finished: true)
        #expect(probe.all.last?.total == 2 * 50)
        #expect(probe.all.allSatisfy { $0.what == "k-means iterations" })
    }

    @Test("k-means: cancellation stops the fit within an iteration of the request")
    func kMeansCancel() async throws {
        let x = try uniformData(n: 3000, dim: 2, seed: 5)
        let options = KMeansOptions(maxIterations: 300, tolerance: 0, seed: 1)
        let full = try blocking { try KMeans.fit(x, k: 60, options: options) }
        #expect(full.iterations >= 20)   // the uncancelled fit is long
        let probe = ProgressProbe(cancelAt: 3)
        let error = await probe.runCancelled {
            _ = try await KMeans.fit(x, k: 60, options: options, progress: probe.handler)
        }
        #expect(error is CancellationError)
        let done = probe.all.map(\.completed).max() ?? 0
        #expect(done >= 3 && done <= 4, "iterations run after the cancellation request: \(done - 3)")
        #expect(done < full.iterations / 4)
        probe.checkMonotone(finished: false)
    }

    @Test("k-medoids: async equals sync; progress; cancellation", arguments: [KMedoidsMethod.fastPAM1, .alternating])
    func kMedoidsAsync(method: KMedoidsMethod) async throws {
        let d = try randomFloatMatrix(n: 300, dim: 2, seed: 9)
        let options = KMedoidsOptions(method: method, initialization: .random, maxIterations: 200, seed: 4)
        let sync = try blocking { try KMedoids.fit(d, k: 25, options: options) }
        let probe = ProgressProbe()
        let async = try await KMedoids.fit(d, k: 25, options: options, progress: probe.handler)
        #expect(async == sync)
        #expect(async.loss.bitPattern == sync.loss.bitPattern)
        probe.checkMonotone(finished: true)
        #expect(probe.all.last?.total == 200)

        guard method == .fastPAM1 else { return }   // Alternating converges in a few iterations
        #expect(sync.iterations >= 8, "a long enough fit to cancel")
        let cancelling = ProgressProbe(cancelAt: 2)
        let error = await cancelling.runCancelled {
            _ = try await KMedoids.fit(d, k: 25, options: options, progress: cancelling.handler)
        }
        #expect(error is CancellationError)
        let done = cancelling.all.map(\.completed).max() ?? 0
        #expect(done >= 2 && done <= 3)
        #expect(done < sync.iterations)
    }

    @Test("GMM: async equals sync; cancellation stops EM early")
    func gaussianMixtureAsync() async throws {
        let (x, _) = try blobs(3, perBlob: 100, dim: 2, spread: 1.5, seed: 8)
        let options = GaussianMixtureOptions(maxIterations: 40, tolerance: 0, seed: 2)
        let sync = try blocking { try GaussianMixture.fit(x, components: 3, options: options) }
        #expect(sync.iterations == 40)
        let probe = ProgressProbe()
        let async = try await GaussianMixture.fit(x, components: 3, options: options, progress: probe.handler)
        #expect(async.means.flatMap { $0 }.map(\.bitPattern) == sync.means.flatMap { $0 }.map(\.bitPattern))
        #expect(async.logLikelihood.bitPattern == sync.logLikelihood.bitPattern)
        #expect(async.iterations == sync.iterations)
        probe.checkMonotone(finished: true)

        let cancelling = ProgressProbe(cancelAt: 5)
        let error = await cancelling.runCancelled {
            _ = try await GaussianMixture.fit(x, components: 3, options: options, progress: cancelling.handler)
        }
        #expect(error is CancellationError)
        #expect((cancelling.all.map(\.completed).max() ?? 0) <= 6)
    }

    @Test("an already cancelled task runs nothing")
    func preCancelled() async throws {
        let (x, _) = try blobs(2, perBlob: 20, dim: 2, seed: 1)
        let probe = ProgressProbe()
        let t = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await KMeans.fit(x, k: 2, progress: probe.handler)
        }
        await #expect(throws: CancellationError.self) { try await t.value }
        #expect(probe.all.isEmpty)
    }

    @Test("errors of the fit come through unchanged")
    func asyncErrors() async throws {
        let (x, _) = try blobs(2, perBlob: 5, dim: 2, seed: 1)
        await #expect(throws: TesseraError.self) { try await KMeans.fit(x, k: 11) }
    }
}

@Suite("Cluster models: predict, save, load")
struct ClusterModelTests {
    @Test("k-means predict gives the fitted labels on the training points", arguments: [KMeansAlgorithm.lloyd, .hamerly])
    func kMeansPredictTraining(algorithm: KMeansAlgorithm) throws {
        // more than one 4096-row chunk, a stride-padded copy, Float and Double
        let (x, _) = try blobs(7, perBlob: 700, dim: 3, spread: 3, seed: 21)
        let fit = try KMeans.fit(x, k: 7, options: KMeansOptions(algorithm: algorithm, seed: 3))
        #expect(try fit.model.predict(x) == fit.labels)
        #expect(try fit.model.predict(x, pool: ThreadPool(threads: 3)) == fit.labels)
        let xf = try Matrix<Float>(rows: x.rows, cols: x.cols, elements: x.toArray().map { Float($0) })
        let fitF = try KMeans.fit(xf, k: 7, options: KMeansOptions(algorithm: algorithm, seed: 3))
        #expect(try fitF.model.predict(xf) == fitF.labels)
        #expect(try KMeans.predict(xf, centers: fitF.centers) == fitF.labels)
    }

    @Test("k-means predict on new points: nearest centre; bad input")
    func kMeansPredictNew() throws {
        let model = try KMeansModel(centers: try Matrix<Double>([[0, 0], [10, 0], [0, 10]]))
        #expect(try model.predict(try Matrix([[1, 1], [9, -1], [-1, 12], [5, 4.9]])) == [0, 1, 2, 0])
        #expect(throws: TesseraError.self) { try model.predict(try Matrix([[1, 1, 1]])) }
        #expect(throws: TesseraError.self) { try model.predict(try Matrix([[Double.nan, 1]])) }
        #expect(throws: TesseraError.self) { try KMeansModel(centers: try Matrix<Double>([[1, .infinity]])) }
        #expect(throws: TesseraError.self) { try KMeansModel(centers: try Matrix<Double>(rows: 0, cols: 2)) }
    }

    @Test("k-means model: save and load round trip bit for bit (Float and Double)")
    func kMeansRoundTrip() throws {
        let (x, _) = try blobs(4, perBlob: 50, dim: 5, seed: 2)
        let model = try KMeans.fit(x, k: 4).model
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-kmeans-\(UInt32.random(in: 0...UInt32.max)).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.write(to: path)
        let back = try KMeansModel<Double>(contentsOf: path)
        #expect(bits(back.centers) == bits(model.centers))
        #expect(back.inertia?.bitPattern == model.inertia?.bitPattern)
        #expect(back == model)
        #expect(try back.predict(x) == model.predict(x))

        let xf = try Matrix<Float>(rows: x.rows, cols: x.cols, elements: x.toArray().map { Float($0) * 0.1 })
        let mf = try KMeans.fit(xf, k: 4).model
        let backF = try KMeansModel<Float>(jsonData: try mf.encoded())
        #expect(bits(backF.centers) == bits(mf.centers))
        // float32 files widen exactly into a Double model
        let widened = try KMeansModel<Double>(jsonData: try mf.encoded())
        #expect(widened.centers.toArray() == mf.centers.toArray().map { Double($0) })
        let json = String(decoding: try mf.encoded(), as: UTF8.self)
        #expect(json.contains("\"format\" : \"tessera.kmeans\""))
        #expect(json.contains("\"version\" : 1"))
        #expect(json.contains("\"scalar\" : \"float32\""))
    }

    @Test("k-means model: bad files are refused with the reason")
    func kMeansBadFiles() throws {
        func load(_ s: String) throws(TesseraError) -> KMeansModel<Double> { try KMeansModel(jsonData: Data(s.utf8)) }
        func message(_ s: String) -> String {
            do { _ = try load(s); return "" } catch { return error.description }
        }
        let good = #"{"format":"tessera.kmeans","version":1,"scalar":"float64","k":2,"dimension":2,"centers":[[0,1],[2,3]]}"#
        #expect(try load(good).centers.toArray() == [0, 1, 2, 3])
        #expect(message(#"{"format":"tessera.kmeans","version":1,"scalar":"float64","k":2,"dimension":2}"#).contains("missing field 'centers'"))
        #expect(message(good.replacingOccurrences(of: "\"k\":2", with: "\"k\":3")).contains("centers has 2 rows, k is 3"))
        #expect(message(good.replacingOccurrences(of: "\"dimension\":2", with: "\"dimension\":3")).contains("centers[0] has 2 values"))
        #expect(message(good.replacingOccurrences(of: "\"version\":1", with: "\"version\":2")).hasPrefix("unsupported"))
        #expect(message(good.replacingOccurrences(of: "\"version\":1", with: "\"version\":0")).contains("version 0"))
        #expect(message(good.replacingOccurrences(of: "tessera.kmeans", with: "tessera.kmedoids")).contains("format is"))
        #expect(message(good.replacingOccurrences(of: "float64", with: "int8")).contains("scalar is 'int8'"))
        #expect(message(good.replacingOccurrences(of: "[0,1]", with: "[0,\"x\"]")).contains("centers[0][1] is not a number"))
        #expect(message(good.replacingOccurrences(of: "[0,1]", with: "[0,1e999]")).hasPrefix("malformed input"))
        #expect(message(good.replacingOccurrences(of: "\"k\":2", with: "\"k\":0")).contains("k must be >= 1"))
        #expect(message(good.replacingOccurrences(of: "}", with: ",\"inertia\":-1}")).contains("inertia"))
        #expect(message("not json").hasPrefix("malformed input"))
        #expect(message("").hasPrefix("malformed input"))
        // float32 files must hold float32 values; float64 files do not load into Float
        let f32 = good.replacingOccurrences(of: "float64", with: "float32")
        #expect(message(f32.replacingOccurrences(of: "[0,1]", with: "[0,0.1]")).contains("is not a float32 value"))
        #expect(throws: TesseraError.self) { try KMeansModel<Float>(jsonData: Data(good.utf8)) }
        #expect(try KMeansModel<Float>(jsonData: Data(f32.utf8)).centers.toArray() == [0, 1, 2, 3])
        do { _ = try KMeansModel<Double>(contentsOf: "/nonexistent/model.json"); Issue.record("no error") } catch {
            #expect(error == .io("KMeansModel: cannot read '/nonexistent/model.json'"))
        }
    }

    @Test("k-medoids predict: training points get the fitted labels; distances to medoids; precomputed")
    func kMedoidsPredict() throws {
        let (x, _) = try blobs(4, perBlob: 60, dim: 2, spread: 0.5, seed: 6)
        for metric in [DistanceMetric.euclidean, .manhattan, .squaredEuclidean] {
            let d = try DistanceMatrix<Double>(data: x, metric: metric)
            let fit = try KMedoids.fit(d, k: 4)
            let model = try KMedoidsModel(result: fit, data: x, metric: metric)
            #expect(try model.predict(x) == fit.labels)
            #expect(model.medoids?.rows == 4)
            // distances of every point to the medoids, from the matrix the fit used
            let toMedoids = try Matrix<Double>(rows: x.rows, cols: 4,
                                               elements: (0..<x.rows).flatMap { i in fit.medoids.map { d.distance(i, $0) } })
            #expect(try model.predict(distancesToMedoids: toMedoids) == fit.labels)
            let pre = try KMedoidsModel<Double>(result: fit)
            #expect(try pre.predict(distancesToMedoids: toMedoids) == fit.labels)
            #expect(throws: TesseraError.self) { try pre.predict(x) }
        }
        let m = try KMedoidsModel(result: try KMedoids.fit(try DistanceMatrix<Double>(data: x), k: 2), data: x, metric: .euclidean)
        #expect(throws: TesseraError.self) { try m.predict(distancesToMedoids: try Matrix<Double>([[1, 2, 3]])) }
        #expect(throws: TesseraError.self) { try m.predict(distancesToMedoids: try Matrix<Double>([[1, -2]])) }
        #expect(throws: TesseraError.self) { try m.predict(try Matrix<Double>([[1, 2, 3]])) }
        #expect(throws: TesseraError.self) {
            try KMedoidsModel(result: KMedoidsResult(medoids: [0, 999], labels: [], loss: 0, initialLoss: 0, iterations: 0,
                                                     swaps: 0, initializationSeconds: 0, seconds: 0), data: x, metric: .euclidean)
        }
    }

    @Test("k-medoids model: save and load round trip; bad files")
    func kMedoidsRoundTrip() throws {
        let (x, _) = try blobs(3, perBlob: 40, dim: 3, seed: 7)
        let xf = try Matrix<Float>(rows: x.rows, cols: x.cols, elements: x.toArray().map { Float($0) })
        let fit = try KMedoids.fit(try DistanceMatrix<Float>(data: xf, metric: .cosine), k: 3)
        let model = try KMedoidsModel(result: fit, data: xf, metric: .cosine)
        let back = try KMedoidsModel<Float>(jsonData: try model.encoded())
        #expect(back == model)
        #expect(bits(back.medoids!) == bits(model.medoids!))
        #expect(try back.predict(xf) == model.predict(xf))
        let pre = try KMedoidsModel<Double>(result: fit)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-kmedoids-\(UInt32.random(in: 0...UInt32.max)).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try pre.write(to: path)
        let preBack = try KMedoidsModel<Double>(contentsOf: path)
        #expect(preBack == pre)
        #expect(preBack.metric == nil && preBack.medoids == nil && preBack.medoidIndices == fit.medoids)

        func message(_ s: String) -> String {
            do { _ = try KMedoidsModel<Double>(jsonData: Data(s.utf8)); return "" } catch { return error.description }
        }
        let good = #"{"format":"tessera.kmedoids","version":1,"scalar":"float64","k":2,"metric":"manhattan","dimension":2,"medoidIndices":[3,1],"medoids":[[0,1],[2,3]],"loss":4}"#
        #expect(message(good) == "")
        #expect(message(good.replacingOccurrences(of: "manhattan", with: "hamming")).contains("unknown metric 'hamming'"))
        #expect(message(good.replacingOccurrences(of: "[3,1]", with: "[3,3]")).contains("given twice"))
        #expect(message(good.replacingOccurrences(of: "[3,1]", with: "[3,-1]")).contains("negative"))
        #expect(message(good.replacingOccurrences(of: "[3,1]", with: "[3]")).contains("1 medoid indices, k is 2"))
        #expect(message(good.replacingOccurrences(of: ",\"dimension\":2", with: "")).contains("missing field 'dimension'"))
        #expect(message(good.replacingOccurrences(of: "\"manhattan\"", with: "\"precomputed\"")).contains("precomputed model has no"))
        #expect(message(good.replacingOccurrences(of: "\"loss\":4", with: "\"loss\":-4")).contains("loss"))
        #expect(message(good.replacingOccurrences(of: "[2,3]]", with: "[2]]")).contains("medoids[1] has 1 values"))
        #expect(message(#"{"format":"tessera.kmedoids","version":1,"scalar":"float64","k":1,"metric":"precomputed","medoidIndices":[0]}"#) == "")
        // all-zero medoid rows are refused under cosine
        #expect(message(good.replacingOccurrences(of: "manhattan", with: "cosine").replacingOccurrences(of: "[0,1]", with: "[0,0]")).contains("all zeros"))
    }
}
