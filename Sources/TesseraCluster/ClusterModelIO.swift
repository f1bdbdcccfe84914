import Foundation

// Saving and loading fitted cluster models: one small JSON document per model.
//
//   k-means                                   k-medoids
//   {                                         {
//     "format" : "tessera.kmeans",              "format" : "tessera.kmedoids",
//     "version" : 1,                            "version" : 1,
//     "scalar" : "float32",                     "scalar" : "float64",
//     "k" : 3,                                  "k" : 2,
//     "dimension" : 2,                          "metric" : "euclidean",   ("precomputed": no rows)
//     "centers" : [[0.5, 1], [4, 4], ...],      "dimension" : 2,          (absent if precomputed)
//     "inertia" : 12.25                         "medoidIndices" : [17, 4],
//   }                                           "medoids" : [[0, 1], [5, 5]],  (absent if precomputed)
//                                               "loss" : 3.5
//                                             }
//
// Numbers are written as the shortest decimal that reads back to the same Double, so a
// round trip is exact (Float values widen to Double exactly). "inertia" and "loss" are
// optional. Loading checks everything: format and version, the scalar type, k and the
// dimension against the arrays, finite numbers, values of a float32 file that are exact
// Floats, distinct non-negative medoid indices, a known metric.

/// The version written by this library; loading accepts versions 1...`clusterModelFormatVersion`.
public let clusterModelFormatVersion = 1

private struct KMeansFile: Codable {
    var format: String
    var version: Int
    var scalar: String
    var k: Int
    var dimension: Int
    var centers: [[Double]]
    var inertia: Double?
}

private struct KMedoidsFile: Codable {
    var format: String
    var version: Int
    var scalar: String
    var k: Int
    var metric: String
    var dimension: Int?
    var medoidIndices: [Int]
    var medoids: [[Double]]?
    var loss: Double?
}

private func scalarName<S: ClusterScalar>(_: S.Type) -> String { MemoryLayout<S>.size == 4 ? "float32" : "float64" }

private func encode<T: Encodable>(_ value: T, what: String) throws(TesseraError) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    do { return try encoder.encode(value) } catch {
        throw .invalidArgument("\(what): cannot encode the model: \(error)")
    }
}

private func decode<T: Decodable>(_: T.Type, from data: Data, what: String) throws(TesseraError) -> T {
    do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the document" : String(p.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let c):
            let at = c.codingPath.isEmpty ? "" : " in \(path(c))"
            throw .malformedInput("\(what): missing field '\(key.stringValue)'\(at)")
        case .typeMismatch(let type, let c):
            throw .malformedInput("\(what): \(path(c)) is not \(type == Double.self ? "a number" : "\(type)")")
        case .valueNotFound(_, let c):
            throw .malformedInput("\(what): \(path(c)) is null")
        case .dataCorrupted(let c):
            throw .malformedInput("\(what): not valid JSON or a bad value at \(path(c)): \(c.debugDescription)")
        @unknown default:
            throw .malformedInput("\(what): \(error)")
        }
    } catch {
        throw .malformedInput("\(what): \(error)")
    }
}

private func checkHeader(format: String, version: Int, scalar: String, expected: String,
                         into s: String, what: String) throws(TesseraError) {
    guard format == expected else {
        throw .malformedInput("\(what): format is '\(format)', expected '\(expected)'")
    }
    guard version >= 1 else { throw .malformedInput("\(what): version \(version) is not valid") }
    guard version <= clusterModelFormatVersion else {
        throw .unsupported("\(what): version \(version) is newer than this library reads (\(clusterModelFormatVersion))")
    }
    guard scalar == "float32" || scalar == "float64" else {
        throw .malformedInput("\(what): scalar is '\(scalar)', expected 'float32' or 'float64'")
    }
    if scalar == "float64" && s == "float32" {
        throw .invalidArgument("\(what): the file holds float64 values; load it as a Double model (float64 to float32 would round)")
    }
}

/// Rows of `d` numbers as a k × d matrix; every value finite and, for a float32 file, an exact Float.
private func rows<S: ClusterScalar>(_ r: [[Double]], k: Int, d: Int, float32: Bool, field: String,
                                    what: String) throws(TesseraError) -> Matrix<S> {
    guard r.count == k else { throw .malformedInput("\(what): \(field) has \(r.count) rows, k is \(k)") }
    var flat = [S]()
    flat.reserveCapacity(k * d)
    for (i, row) in r.enumerated() {
        guard row.count == d else {
            throw .malformedInput("\(what): \(field)[\(i)] has \(row.count) values, dimension is \(d)")
        }
        for (j, v) in row.enumerated() {
            guard v.isFinite else { throw .malformedInput("\(what): \(field)[\(i)][\(j)] is \(v)") }
            if float32 {
                let f = Float(v)
                guard f.isFinite, Double(f) == v else {
                    throw .malformedInput("\(what): \(field)[\(i)][\(j)] = \(v) is not a float32 value, but the file says scalar float32")
                }
            }
            flat.append(S(v))
        }
    }
    return try Matrix(rows: k, cols: d, elements: flat)
}

private func readFile(_ path: String, what: String) throws(TesseraError) -> Data {
    guard let data = FileManager.default.contents(atPath: path) else { throw .io("\(what): cannot read '\(path)'") }
    return data
}

private func writeFile(_ data: Data, to path: String, what: String) throws(TesseraError) {
    do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
        throw .io("\(what): cannot write '\(path)': \(error.localizedDescription)")
    }
}

extension KMeansModel {
    /// The model as a JSON document (UTF-8):
    ///
    /// ```json
    /// { "format": "tessera.kmeans", "version": 1, "scalar": "float32",
    ///   "k": 2, "dimension": 3, "centers": [[0, 1, 2], [5, 5, 5]], "inertia": 12.25 }
    /// ```
    ///
    /// `scalar` is `float32` or `float64`; `centers` has k rows of `dimension` numbers, written
    /// so that they read back exactly; `inertia` is optional.
    public func encoded() throws(TesseraError) -> Data {
        let c = centers
        let file = KMeansFile(format: "tessera.kmeans", version: clusterModelFormatVersion, scalar: scalarName(Scalar.self),
                              k: k, dimension: dimension,
                              centers: (0..<c.rows).map { c.row($0).map { Double($0) } }, inertia: inertia)
        return try encode(file, what: "KMeansModel")
    }

    /// Reads a model from ``encoded()``'s JSON. Errors: `.malformedInput` naming the field that
    /// is missing, of the wrong type, inconsistent with k or the dimension, or not finite;
    /// `.unsupported` for a newer version; `.invalidArgument` for float64 values loaded as `Float`.
    public init(jsonData: Data) throws(TesseraError) {
        let what = "KMeansModel"
        let f = try decode(KMeansFile.self, from: jsonData, what: what)
        try checkHeader(format: f.format, version: f.version, scalar: f.scalar, expected: "tessera.kmeans",
                        into: scalarName(Scalar.self), what: what)
        guard f.k >= 1 else { throw .malformedInput("\(what): k must be >= 1 (got \(f.k))") }
        guard f.dimension >= 1 else { throw .malformedInput("\(what): dimension must be >= 1 (got \(f.dimension))") }
        let c: Matrix<Scalar> = try rows(f.centers, k: f.k, d: f.dimension, float32: f.scalar == "float32",
                                         field: "centers", what: what)
        if let i = f.inertia, !(i.isFinite && i >= 0) {
            throw .malformedInput("\(what): inertia must be finite and >= 0 (got \(i))")
        }
        try self.init(centers: c, inertia: f.inertia)
    }

    /// Writes ``encoded()`` to `path` (atomically). Errors: `.io` if the file cannot be written.
    public func write(to path: String) throws(TesseraError) {
        try writeFile(try encoded(), to: path, what: "KMeansModel")
    }

    /// Reads a model written by ``write(to:)``. Errors: `.io` if unreadable, else as ``init(jsonData:)``.
    public init(contentsOf path: String) throws(TesseraError) {
        try self.init(jsonData: try readFile(path, what: "KMeansModel"))
    }
}

extension KMedoidsModel {
    /// The model as a JSON document (UTF-8):
    ///
    /// ```json
    /// { "format": "tessera.kmedoids", "version": 1, "scalar": "float64", "k": 2,
    ///   "metric": "euclidean", "dimension": 2, "medoidIndices": [17, 4],
    ///   "medoids": [[0, 1], [5, 5]], "loss": 3.5 }
    /// ```
    ///
    /// `metric` is a ``DistanceMetric`` raw value, or `precomputed` for a model without rows
    /// (then `dimension` and `medoids` are absent); `loss` is optional.
    public func encoded() throws(TesseraError) -> Data {
        let rowsOut = medoids.map { m in (0..<m.rows).map { m.row($0).map { Double($0) } } }
        let file = KMedoidsFile(format: "tessera.kmedoids", version: clusterModelFormatVersion,
                                scalar: scalarName(Scalar.self), k: k, metric: metric?.rawValue ?? "precomputed",
                                dimension: dimension, medoidIndices: medoidIndices, medoids: rowsOut, loss: loss)
        return try encode(file, what: "KMedoidsModel")
    }

    /// Reads a model from ``encoded()``'s JSON. Errors: `.malformedInput` naming what is
    /// missing or inconsistent (k against the indices and rows, the dimension, an unknown
    /// metric, rows given for `precomputed`, repeated or negative indices, NaN/Inf);
    /// `.unsupported` for a newer version; `.invalidArgument` for float64 values loaded as `Float`.
    public init(jsonData: Data) throws(TesseraError) {
        let what = "KMedoidsModel"
        let f = try decode(KMedoidsFile.self, from: jsonData, what: what)
        try checkHeader(format: f.format, version: f.version, scalar: f.scalar, expected: "tessera.kmedoids",
                        into: scalarName(Scalar.self), what: what)
        guard f.k >= 1 else { throw .malformedInput("\(what): k must be >= 1 (got \(f.k))") }
        guard f.medoidIndices.count == f.k else {
            throw .malformedInput("\(what): \(f.medoidIndices.count) medoid indices, k is \(f.k)")
        }
        if let loss = f.loss, !(loss.isFinite && loss >= 0) {
            throw .malformedInput("\(what): loss must be finite and >= 0 (got \(loss))")
        }
        var metric: DistanceMetric?
        var medoidRows: Matrix<Scalar>?
        if f.metric == "precomputed" {
            guard f.medoids == nil, f.dimension == nil else {
                throw .malformedInput("\(what): a precomputed model has no 'medoids' or 'dimension'")
            }
        } else {
            guard let m = DistanceMetric(rawValue: f.metric) else {
                let known = (DistanceMetric.allCases.map(\.rawValue) + ["precomputed"]).joined(separator: ", ")
                throw .malformedInput("\(what): unknown metric '\(f.metric)' (known: \(known))")
            }
            guard let d = f.dimension else { throw .malformedInput("\(what): missing field 'dimension'") }
            guard d >= 1 else { throw .malformedInput("\(what): dimension must be >= 1 (got \(d))") }
            guard let r = f.medoids else { throw .malformedInput("\(what): missing field 'medoids'") }
            metric = m
            medoidRows = try rows(r, k: f.k, d: d, float32: f.scalar == "float32", field: "medoids", what: what)
        }
        do {
            try self.init(medoidIndices: f.medoidIndices, medoids: medoidRows, metric: metric, loss: f.loss)
        } catch {
            throw .malformedInput(error.message)
        }
    }

    /// Writes ``encoded()`` to `path` (atomically). Errors: `.io` if the file cannot be written.
    public func write(to path: String) throws(TesseraError) {
        try writeFile(try encoded(), to: path, what: "KMedoidsModel")
    }

    /// Reads a model written by ``write(to:)``. Errors: `.io` if unreadable, else as ``init(jsonData:)``.
    public init(contentsOf path: String) throws(TesseraError) {
        try self.init(jsonData: try readFile(path, what: "KMedoidsModel"))
    }
}
