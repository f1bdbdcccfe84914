import Tessera

// Uses Tessera as a dependency: the pool, a Matrix, and error handling.
let pool = ThreadPool.shared
print("Tessera \(TesseraVersion.string): \(pool.threadCount) worker(s), ISA \(ISA.active)")

var m = try Matrix<Double>(rows: 1000, cols: 64)
m.withUnsafeMutableBufferPointer { buf in
    let base = buf.baseAddress!
    pool.parallelFor(0..<1000) { rows, _ in
        for i in rows { for j in 0..<64 { base[i * 64 + j] = Double(i + j) } }
    }
}
let total = m.toArray().reduce(0, +)
let expected = Double(64 * (999 * 1000 / 2) + 1000 * (63 * 64 / 2))
print("sum \(total) (expected \(expected))")
guard total == expected else { fatalError("wrong sum") }

do {
    _ = try Matrix<Float>(rows: 2, cols: 2, elements: [1, 2, 3])
} catch {
    print("bad input -> \(error)")
}
