/// Entry points of DistanceMatrix specialised for Float and Double, for callers in other modules
/// (TesseraCABI) that hold concrete types: a generic initialiser called across modules runs
/// unspecialised, which made the n² copy of a precomputed matrix ~100 ns per entry.
extension DistanceMatrix {
    /// `init(copying:count:rowStride:symmetryTolerance:pool:)`, specialised (same checks, same result).
    @_specialize(where Scalar == Float)
    @_specialize(where Scalar == Double)
    package static func copying(_ src: UnsafePointer<Scalar>, count n: Int, rowStride ld: Int,
                                pool: ThreadPool) throws(TesseraError) -> DistanceMatrix<Scalar> {
        try DistanceMatrix(copying: src, count: n, rowStride: ld, pool: pool)
    }
}
