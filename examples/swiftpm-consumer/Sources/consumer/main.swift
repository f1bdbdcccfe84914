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

// A kernel call as a client makes it: a 2048×2048 Q4_0 GEMV, best of 20 (one JSON line for
// scripts/consumer-by-version, which compares debug and release builds of this package).
import Foundation
let n = 2048
var w = try Matrix<Float>(rows: n, cols: n)
w.withUnsafeMutableBufferPointer { b in
    var s: UInt64 = 1
    for i in 0..<b.count { s = s &* 6364136223846793005 &+ 1442695040888963407; b[i] = Float(Int64(s >> 40) % 2001 - 1000) / 1000 }
}
let q = try QuantizedMatrix(quantizing: w, format: .q4_0)
let x = (0..<n).map { Float($0 % 7) - 3 }
var best = Double.infinity
for _ in 0..<21 {
    let t0 = DispatchTime.now().uptimeNanoseconds
    _ = try q.multiply(vector: x)
    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
}
print("{\"gemv_q4_0_2048_ms\": \(best * 1e3), \"kernels_optimized\": \(BuildInfo.current.optimized)}")
