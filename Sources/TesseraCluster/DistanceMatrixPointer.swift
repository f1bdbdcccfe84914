/// A distance matrix copied from a caller's buffer (for the C ABI of TesseraCABI, which gets
/// raw pointers and must not make a second n² copy through `Matrix`).
extension DistanceMatrix {
    /// Copies the full n × n matrix at `pointer` (row i at `pointer + i * rowStride`), with the
    /// checks of `init(full:count:)`: finite, >= 0, zero diagonal, symmetric within `symmetryTolerance`.
    package convenience init(copying pointer: UnsafePointer<Scalar>, count n: Int, rowStride: Int,
                             symmetryTolerance: Double = 1e-6) throws(TesseraError) {
        guard n >= 1 else { throw .invalidArgument("DistanceMatrix: count must be >= 1 (got \(n))") }
        guard rowStride >= n else { throw .invalidArgument("DistanceMatrix: rowStride \(rowStride) is smaller than n = \(n)") }
        try self.init(uninitializedCount: n)
        try Self.fillFromFull(pointer, n: n, rowStride: rowStride, tolerance: symmetryTolerance, into: self.pointer)
    }
}
