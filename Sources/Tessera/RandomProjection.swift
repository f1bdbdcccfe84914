internal import CTessera
import Foundation

/// A sparse matrix in compressed-sparse-row form: row `i` holds `values[p]` at column
/// `indices[p]` for `p` in `indptr[i] ..< indptr[i + 1]`.
///
/// The offsets and columns are kept as given: 64-bit, or 32-bit as SciPy stores them below
/// 2³¹ entries. 32-bit indices are a third less memory to read for `Float` values, and the
/// kernels read them in place; results are the same bits either way.
public struct CSRMatrix<Element: Sendable>: Sendable {
    /// The index arrays as they were given.
    enum Indexing: Sendable {
        case wide(indptr: [Int64], indices: [Int64])
        case narrow(indptr: [Int32], indices: [Int32])
    }

    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let cols: Int
    let indexing: Indexing
    /// Value of each stored entry.
    public let values: [Element]

    /// Checks the shape of the arrays (offsets non-decreasing, columns in range).
    public init(rows: Int, cols: Int, indptr: [Int64], indices: [Int64], values: [Element]) throws(TesseraError) {
        try Self.validate(rows: rows, cols: cols, indptr: indptr, indices: indices, valueCount: values.count)
        self.init(rows: rows, cols: cols, indexing: .wide(indptr: indptr, indices: indices), values: values)
    }

    /// As the 64-bit initialiser, with 32-bit offsets and columns (SciPy's `int32` CSR), kept as they are.
    /// (Disfavoured so that array literals keep choosing the 64-bit initialiser, as before it existed.)
    @_disfavoredOverload
    public init(rows: Int, cols: Int, indptr: [Int32], indices: [Int32], values: [Element]) throws(TesseraError) {
        try Self.validate(rows: rows, cols: cols, indptr: indptr, indices: indices, valueCount: values.count)
        self.init(rows: rows, cols: cols, indexing: .narrow(indptr: indptr, indices: indices), values: values)
    }

    private init(rows: Int, cols: Int, indexing: Indexing, values: [Element]) {
        self.rows = rows
        self.cols = cols
        self.indexing = indexing
        self.values = values
    }

    private static func validate<I: FixedWidthInteger>(rows: Int, cols: Int, indptr: [I], indices: [I],
                                                        valueCount: Int) throws(TesseraError) {
        guard rows >= 0, cols >= 1 else { throw .invalidArgument("CSRMatrix: rows must be >= 0 and cols >= 1") }
        guard indptr.count == rows + 1, indptr.first == 0 else {
            throw .invalidArgument("CSRMatrix: indptr must have rows + 1 = \(rows + 1) entries starting at 0")
        }
        for i in 0..<rows where indptr[i + 1] < indptr[i] {
            throw .invalidArgument("CSRMatrix: indptr decreases at row \(i)")
        }
        guard Int(indptr[rows]) == indices.count, indices.count == valueCount else {
            throw .invalidArgument("CSRMatrix: indptr[rows] = \(indptr[rows]), \(indices.count) indices, \(valueCount) values")
        }
        if let bad = indices.first(where: { $0 < 0 || Int($0) >= cols }) {
            throw .outOfRange("CSRMatrix: column index \(bad) is not in 0..<\(cols)")
        }
    }

    /// Row i's entries are at positions `indptr[i] ..< indptr[i + 1]` of `indices` and `values`
    /// (rows + 1 offsets); a widened copy when the matrix was built from 32-bit indices.
    public var indptr: [Int64] {
        switch indexing {
        case .wide(let p, _): p
        case .narrow(let p, _): p.map(Int64.init)
        }
    }

    /// Column of each stored entry; a widened copy when the matrix was built from 32-bit indices.
    public var indices: [Int64] {
        switch indexing {
        case .wide(_, let c): c
        case .narrow(_, let c): c.map(Int64.init)
        }
    }

    /// Whether the offsets and columns are stored as 32-bit integers.
    public var hasNarrowIndices: Bool {
        if case .narrow = indexing { return true }
        return false
    }

    /// Number of stored entries.
    public var nonzeroCount: Int { values.count }
}

/// A random projection from `inputDimension` (D) to `outputDimension` (d) dimensions,
/// `Y = X · R`, with R defined entry by entry from `(seed, row, column)` so that it never
/// has to be stored and results are bit-identical for any thread count.
///
/// - `.sparse(s:)`: entries `±sqrt(s/d)` with probability `1/(2s)` each, else 0.
///   `s = 1` is a dense ±1 matrix, `s = 3` Achlioptas, `nil` (default) `s = sqrt(D)`:
///   the "very sparse" projection of Li, Hastie and Church.
/// - `.gaussian`: entries `N(0, 1/d)`.
///
/// Transforms generate the part of R they need on each call; `materialize()` keeps R
/// (about `D·d/s` entries) for reuse. Transforms serialise on one plan.
public final class RandomProjection: @unchecked Sendable {
    /// The distribution of the entries of the projection matrix.
    public enum Distribution: Sendable, Equatable {
        /// Entries ±√(s/k) (k: the output dimension) with probability 1/(2s) each, else 0; nil: s = √(input dimension).
        case sparse(s: Double? = nil)
        /// Dense N(0, 1/k) entries.
        case gaussian
        /// Achlioptas' projection (`s = 3`).
        public static let achlioptas = Distribution.sparse(s: 3)
    }

    let handle: OpaquePointer
    private let lock = NSLock()
    /// Dimension d of the input rows.
    public let inputDimension: Int
    /// Dimension k of the projected rows.
    public let outputDimension: Int
    /// The distribution of the matrix entries.
    public let distribution: Distribution
    /// The seed the matrix is generated from (the same matrix for any thread count).
    public let seed: UInt64

    /// A d → k projection. Nothing is generated until used: entries come from the seed on demand.
    /// Errors: `.invalidArgument` for dimensions outside 1...Int32.max or a sparsity below 1.
    public init(inputDimension: Int, outputDimension: Int, distribution: Distribution = .sparse(),
                seed: UInt64 = 42) throws(TesseraError) {
        guard outputDimension >= 1, outputDimension <= Int(Int32.max) else {
            throw .invalidArgument("RandomProjection: outputDimension must be in 1...\(Int32.max) (got \(outputDimension))")
        }
        var p = tsr_rp_params()
        tsr_rp_params_default(&p)
        switch distribution {
        case .sparse(let s):
            p.kind = TSR_RP_SPARSE
            p.s = s ?? TSR_RP_S_AUTO
            if let s, !(s >= 1 && s.isFinite) {
                throw .invalidArgument("RandomProjection: s must be >= 1 (got \(s))")
            }
        case .gaussian:
            p.kind = TSR_RP_GAUSSIAN
        }
        p.seed = seed
        var h: OpaquePointer?
        try check(tsr_rp_create(Int64(inputDimension), Int32(outputDimension), &p, &h))
        handle = h!
        self.inputDimension = inputDimension
        self.outputDimension = outputDimension
        self.distribution = distribution
        self.seed = seed
    }

    deinit { tsr_rp_destroy(handle) }

    private var info: tsr_rp_info {
        var i = tsr_rp_info()
        i.size = UInt32(MemoryLayout<tsr_rp_info>.size)
        _ = tsr_rp_info_get(handle, &i)
        return i
    }

    /// The effective `s` (1 for Gaussian).
    public var sparsity: Double { info.s }
    /// Expected fraction of nonzero entries, `1/s`.
    public var density: Double { info.density }
    /// `|nonzero| = sqrt(s/d)` for sparse, the standard deviation `1/sqrt(d)` for Gaussian.
    public var scale: Double { info.scale }
    /// Whether R is kept in memory.
    public var isMaterialized: Bool { lock.withLock { info.materialized != 0 } }
    /// Stored entries when materialised, else 0.
    public var storedEntries: Int { lock.withLock { Int(info.nnz) } }

    /// The entry `R[row, column]`.
    public func entry(row: Int, column: Int) throws(TesseraError) -> Double {
        guard column >= 0, column < outputDimension else {
            throw .outOfRange("RandomProjection: column \(column) is not in 0..<\(outputDimension)")
        }
        var v = 0.0
        try check(tsr_rp_entry(handle, Int64(row), Int32(column), &v))
        return v
    }

    /// Generates R once and keeps it for later transforms.
    public func materialize(pool: ThreadPool = .shared) throws(TesseraError) {
        lock.lock(); defer { lock.unlock() }
        try check(tsr_rp_materialize(pool.handle, handle))
    }

    /// `X · R` for a dense `n × D` matrix.
    public func transform(_ x: Matrix<Float>, pool: ThreadPool = .shared) throws(TesseraError) -> Matrix<Float> {
        try dense(x, pool: pool, tsr_rp_transform_f32)
    }

    /// `X · R` in double precision.
    public func transform(_ x: Matrix<Double>, pool: ThreadPool = .shared) throws(TesseraError) -> Matrix<Double> {
        try dense(x, pool: pool, tsr_rp_transform_f64)
    }

    /// `X · R` for a sparse X: each stored entry meets only the nonzeros of its row of R;
    /// X is never densified.
    public func transform(_ x: CSRMatrix<Float>, pool: ThreadPool = .shared) throws(TesseraError) -> Matrix<Float> {
        try sparse(x, pool: pool, wide: tsr_rp_transform_csr_f32, narrow: tsr_rp_transform_csr32_f32)
    }

    /// `X · R` for a sparse X in double precision.
    public func transform(_ x: CSRMatrix<Double>, pool: ThreadPool = .shared) throws(TesseraError) -> Matrix<Double> {
        try sparse(x, pool: pool, wide: tsr_rp_transform_csr_f64, narrow: tsr_rp_transform_csr32_f64)
    }

    /// The C entry points of one precision, as Swift sees them.
    private typealias DenseKernel<T> = (OpaquePointer?, OpaquePointer?, Int64, UnsafePointer<T>?, Int64,
                                        UnsafeMutablePointer<T>?, Int64) -> tsr_status
    private typealias SparseKernel<I, T> = (OpaquePointer?, OpaquePointer?, Int64, UnsafePointer<I>?,
                                            UnsafePointer<I>?, UnsafePointer<T>?, UnsafeMutablePointer<T>?,
                                            Int64) -> tsr_status

    private func dense<T>(_ x: Matrix<T>, pool: ThreadPool, _ kernel: DenseKernel<T>) throws(TesseraError) -> Matrix<T> {
        try checkInput(x.cols)
        // the kernel writes every element, streamed out once
        var y = try Matrix<T>(uninitializedRows: x.rows, cols: outputDimension, hugePages: true)
        let ldy = Int64(y.rowStride)
        let status: tsr_status = lock.withLock {
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    kernel(pool.handle, handle, Int64(x.rows), xp.baseAddress, Int64(x.rowStride), yp.baseAddress, ldy)
                }
            }
        }
        try check(status)
        return y
    }

    private func sparse<T>(_ x: CSRMatrix<T>, pool: ThreadPool, wide: SparseKernel<Int64, T>,
                           narrow: SparseKernel<Int32, T>) throws(TesseraError) -> Matrix<T> {
        try checkInput(x.cols)
        // the kernel writes every element, streamed out once
        var y = try Matrix<T>(uninitializedRows: x.rows, cols: outputDimension, hugePages: true)
        let status: tsr_status = lock.withLock {
            switch x.indexing {
            case .wide(let indptr, let indices):
                call(wide, x.rows, indptr, indices, x.values, &y, pool)
            case .narrow(let indptr, let indices):
                call(narrow, x.rows, indptr, indices, x.values, &y, pool)
            }
        }
        try check(status)
        return y
    }

    private func call<I, T>(_ kernel: SparseKernel<I, T>, _ rows: Int, _ indptr: [I], _ indices: [I], _ values: [T],
                            _ y: inout Matrix<T>, _ pool: ThreadPool) -> tsr_status {
        let ldy = Int64(y.rowStride)
        return indptr.withUnsafeBufferPointer { ip in
            indices.withUnsafeBufferPointer { ix in
                values.withUnsafeBufferPointer { v in
                    y.withUnsafeMutableBufferPointer { yp in
                        kernel(pool.handle, handle, Int64(rows), ip.baseAddress, ix.baseAddress, v.baseAddress,
                               yp.baseAddress, ldy)
                    }
                }
            }
        }
    }

    private func checkInput(_ cols: Int) throws(TesseraError) {
        guard cols == inputDimension else {
            throw .invalidArgument("RandomProjection: input has \(cols) columns, the projection expects \(inputDimension)")
        }
    }
}
