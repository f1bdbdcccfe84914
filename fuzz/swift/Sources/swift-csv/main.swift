// Fuzzes the clustering CSV reader: ClusterCSV.parse. Accepted tables are rectangular and
// finite; anything else must be a TesseraError naming the line, never a trap.
import FuzzSupport
import TesseraCluster

runFuzzer(makeSeeds: { dir in
    try writeSeed(dir, "header-comma.csv", Array("x,y,z\n1,2,3\n4.5,-6,7e3\n# comment\n\n0,0,0\n".utf8))
    try writeSeed(dir, "semicolon-crlf.csv", Array("1;2\r\n3;4\r\n".utf8))
    try writeSeed(dir, "tabs-quoted.csv", Array("\"a\"\t\"b\"\n1\t2\n3\t\"4\"\n".utf8))
    try writeSeed(dir, "ragged.csv", Array("1,2\n3\n".utf8))
    try writeSeed(dir, "nonfinite.csv", Array("1,nan\n2,inf\n".utf8))
    try writeSeed(dir, "single-column.csv", Array("value\n1\n2\n3\n".utf8))
}) { data in
    let text = String(decoding: data, as: UTF8.self)
    guard let (m, header) = try? ClusterCSV.parse(text) else { return }
    fuzzCheck(m.rows >= 1 && m.cols >= 1, "\(m.rows) x \(m.cols) matrix accepted")
    if let header { fuzzCheck(header.count == m.cols, "header of \(header.count) names for \(m.cols) columns") }
    for i in 0..<m.rows {
        for j in 0..<m.cols { fuzzCheck(m[i, j].isFinite, "non-finite value at \(i), \(j)") }
    }
}
