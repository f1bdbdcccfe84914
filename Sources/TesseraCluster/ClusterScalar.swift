internal import COpenBLAS

/// The element types clustering works on: `Float` and `Double`.
///
/// Distances, data and centres are stored in the element type; losses, inertias and
/// log-likelihoods are always accumulated in `Double` (an `f32` sum over 10⁸ distances
/// would lose digits that decide swaps).
public protocol ClusterScalar: BinaryFloatingPoint, TensorElement where Self.RawSignificand: FixedWidthInteger {
    /// `C = alpha·A·Bᵀ + beta·C` with row-major `A` (m×k, lda), `B` (n×k, ldb), `C` (m×n, ldc),
    /// through OpenBLAS (`sgemm`/`dgemm`).
    static func gemmABt(m: Int, n: Int, k: Int, alpha: Self, a: UnsafePointer<Self>, lda: Int,
                        b: UnsafePointer<Self>, ldb: Int, beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    /// Square root in this type.
    static func squareRoot(_ x: Self) -> Self
    /// The value as `Double` (a concrete conversion: the generic `Double(_:)` is slow in hot loops).
    var double: Double { get }
    /// All distances from `query` to `count` points stored transposed (feature t of point j
    /// at `xt[t·stride + j]`), in `Double`, bit for bit `DistanceMetric.distance`
    /// (`DissimilarityKernels.distanceColumn`).
    static func distanceColumn(_ metric: DissimilarityKernels.Metric, count: Int, dimension: Int,
                               transposed xt: UnsafePointer<Self>, stride: Int, query: UnsafePointer<Self>,
                               into out: UnsafeMutablePointer<Double>) throws(TesseraError)
    /// The original PAM SWAP loss change of one candidate for each of `slots` medoid slots
    /// (`DissimilarityKernels.pamSwapDeltas`).
    static func pamSwapDeltas(count: Int, row: UnsafePointer<Self>, nearestSlot: UnsafePointer<Int32>,
                              nearest: UnsafePointer<Self>, second: UnsafePointer<Self>, slots: Int,
                              into out: UnsafeMutablePointer<Double>) throws(TesseraError)
    /// k-means nearest centre of each row (`DissimilarityKernels.kmeansAssign`).
    static func kmeansAssign(rows: Int, dimension: Int, x: UnsafePointer<Self>, ldx: Int, centers: Int,
                             c: UnsafePointer<Self>, cnorm: UnsafePointer<Self>,
                             labels: UnsafeMutablePointer<Int>) throws(TesseraError)
    /// One fused Lloyd chunk: labels, inertia, centre sums (`DissimilarityKernels.kmeansChunk`).
    static func kmeansChunk(rows: Int, dimension: Int, x: UnsafePointer<Self>, ldx: Int, transposed: UnsafePointer<Self>,
                            ldxt: Int, centers: Int, c: UnsafePointer<Self>, cnorm: UnsafePointer<Self>,
                            labels: UnsafeMutablePointer<Int>, sums: UnsafeMutablePointer<Double>?,
                            counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double
    /// A chunk's labels with per-row errors (`DissimilarityKernels.kmeansLabel`).
    static func kmeansLabel(rows: Int, dimension: Int, x: UnsafePointer<Self>, ldx: Int, transposed: UnsafePointer<Self>,
                            ldxt: Int, centers: Int, c: UnsafePointer<Self>, cnorm: UnsafePointer<Self>,
                            labels: UnsafeMutablePointer<Int>, errors: UnsafeMutablePointer<Double>) throws(TesseraError)
    /// A chunk's inertia and centre sums from its labels (`DissimilarityKernels.kmeansAccumulate`).
    static func kmeansAccumulate(rows: Int, dimension: Int, x: UnsafePointer<Self>, ldx: Int, centers: Int,
                                 labels: UnsafePointer<Int>, errors: UnsafePointer<Double>,
                                 sums: UnsafeMutablePointer<Double>?, counts: UnsafeMutablePointer<Int>?) throws(TesseraError) -> Double
    /// Rows of the full distance matrix, direct and streamed (`DissimilarityKernels.distanceRows`).
    static func distanceRows(_ metric: DissimilarityKernels.Metric, count: Int, dimension: Int,
                             transposed: UnsafePointer<Self>, ldxt: Int, x: UnsafePointer<Self>, ldx: Int,
                             rows: Range<Int>, into out: UnsafeMutablePointer<Self>, ldo: Int) throws(TesseraError)
    /// Symmetric row blocks of the distance matrix (`DissimilarityKernels.distanceSymmetric`).
    static func distanceSymmetric(_ metric: DissimilarityKernels.Metric, count: Int, dimension: Int,
                                  transposed: UnsafePointer<Self>, ldxt: Int, x: UnsafePointer<Self>, ldx: Int,
                                  rows: Range<Int>, into out: UnsafeMutablePointer<Self>, ldo: Int) throws(TesseraError)
}

extension Float: ClusterScalar {
    /// `C = alpha·A·Bᵀ + beta·C` in single precision (`cblas_sgemm`).
    public static func gemmABt(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                               b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
    /// The square root in single precision.
    @inline(__always) public static func squareRoot(_ x: Float) -> Float { x.squareRoot() }
    /// The value widened to `Double` (exact).
    @inline(__always) public var double: Double { Double(self) }
}

extension Double: ClusterScalar {
    /// `C = alpha·A·Bᵀ + beta·C` in double precision (`cblas_dgemm`).
    public static func gemmABt(m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                               b: UnsafePointer<Double>, ldb: Int, beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(m), blasint(n), blasint(k),
                    alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
    /// The square root in double precision.
    @inline(__always) public static func squareRoot(_ x: Double) -> Double { x.squareRoot() }
    /// The value itself.
    @inline(__always) public var double: Double { self }
}
