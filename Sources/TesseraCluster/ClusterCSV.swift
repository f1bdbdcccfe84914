#if canImport(Glibc)
import Glibc
#endif

/// Reading numeric CSV tables and writing labels, for the `tessera cluster` command.
///
/// Accepted: comma-, semicolon- or tab-separated numbers, one row per line; an optional
/// header line (detected when its first cell is not a number); blank lines and lines starting
/// with `#` are skipped. Rejected with the line and column named: ragged rows, non-numeric
/// cells, NaN/Inf.
public enum ClusterCSV {
    /// Parses CSV text into an n × d matrix; also returns the header names if there was one.
    public static func parse(_ text: String) throws(TesseraError) -> (matrix: Matrix<Double>, header: [String]?) {
        var values = [Double]()
        var cols = -1
        var header: [String]?
        var rows = 0
        var lineNo = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNo += 1
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.trimmingCharacters(in: " \t")
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let sep: Character = line.contains(",") ? "," : (line.contains(";") ? ";" : "\t")
            let cells = line.split(separator: sep, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: " \t\"") }
            if rows == 0 && header == nil && cols < 0 && Double(cells[0]) == nil {
                header = cells
                cols = cells.count
                continue
            }
            if cols < 0 { cols = cells.count }
            guard cells.count == cols else {
                throw .malformedInput("CSV line \(lineNo): \(cells.count) columns, expected \(cols) (ragged rows)")
            }
            for (c, cell) in cells.enumerated() {
                guard let v = Double(cell) else {
                    throw .malformedInput("CSV line \(lineNo), column \(c + 1): '\(cell)' is not a number")
                }
                guard v.isFinite else {
                    throw .malformedInput("CSV line \(lineNo), column \(c + 1): \(cell) is not finite")
                }
                values.append(v)
            }
            rows += 1
        }
        guard rows > 0 else { throw .malformedInput("CSV: no data rows") }
        return (try Matrix(rows: rows, cols: cols, elements: values), header)
    }

    /// Reads and parses a CSV file.
    public static func read(path: String) throws(TesseraError) -> (matrix: Matrix<Double>, header: [String]?) {
        guard let f = fopen(path, "rb") else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        var bytes = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = fread(&buf, 1, buf.count, f)
            if got > 0 { bytes.append(contentsOf: buf[0..<got]) }
            if got < buf.count { break }
        }
        if ferror(f) != 0 { throw .io("error reading \(path)") }
        return try parse(String(decoding: bytes, as: UTF8.self))
    }

    /// Writes one label per line (with a `label` header), or `index,label,medoid` columns when
    /// medoids are given.
    public static func writeLabels(_ labels: [Int], medoids: [Int]? = nil, path: String) throws(TesseraError) {
        var s = medoids == nil ? "label\n" : "index,label,medoid\n"
        for (i, l) in labels.enumerated() {
            if let medoids { s += "\(i),\(l),\(medoids[l])\n" } else { s += "\(l)\n" }
        }
        guard let f = fopen(path, "wb") else { throw .io("cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { fclose(f) }
        let bytes = Array(s.utf8)
        guard fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw .io("short write to \(path)") }
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self[...]
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}

/// The first two principal components of a data set (for 2-D pictures of a clustering).
public enum PrincipalComponents {
    /// Projects the rows of `data` onto its two leading principal axes (power iteration with
    /// deflation on the d × d covariance; deterministic). For d = 1 the second coordinate is 0.
    public static func project2D<S: ClusterScalar>(_ data: Matrix<S>) -> (x: [Double], y: [Double]) {
        let n = data.rows, d = data.cols
        let a = data.toArray().map { Double($0) }
        var mean = [Double](repeating: 0, count: d)
        for i in 0..<n { for t in 0..<d { mean[t] += a[i * d + t] } }
        for t in 0..<d { mean[t] /= Double(max(n, 1)) }
        var cov = [Double](repeating: 0, count: d * d)
        for i in 0..<n {
            for p in 0..<d {
                let vp = a[i * d + p] - mean[p]
                for q in p..<d { cov[p * d + q] += vp * (a[i * d + q] - mean[q]) }
            }
        }
        for p in 0..<d { for q in p..<d { cov[q * d + p] = cov[p * d + q] } }
        // power iteration, kept orthogonal to `against` (Gram–Schmidt every step)
        func leading(_ m: [Double], against: [Double]? = nil) -> [Double] {
            var v = (0..<d).map { 1.0 + Double($0) * 1e-3 }
            func orth(_ w: inout [Double]) {
                guard let u = against else { return }
                var dot = 0.0
                for t in 0..<d { dot += w[t] * u[t] }
                for t in 0..<d { w[t] -= dot * u[t] }
            }
            orth(&v)
            for _ in 0..<300 {
                var w = [Double](repeating: 0, count: d)
                for p in 0..<d { for q in 0..<d { w[p] += m[p * d + q] * v[q] } }
                orth(&w)
                let norm = w.map { $0 * $0 }.reduce(0, +).squareRoot()
                if norm == 0 { return v.map { _ in 0 } }
                v = w.map { $0 / norm }
            }
            return v
        }
        let v1 = leading(cov)
        let v2 = d > 1 ? leading(cov, against: v1) : [0]
        var xs = [Double](repeating: 0, count: n), ys = xs
        for i in 0..<n {
            for t in 0..<d {
                let c = a[i * d + t] - mean[t]
                xs[i] += c * v1[t]
                ys[i] += c * v2[t]
            }
        }
        return (xs, ys)
    }
}
