/// A symmetric n × n dissimilarity matrix, stored in full (row-major, 64-byte aligned).
///
/// ```
///            j →
///        ┌ 0    d01  d02 … ┐   row o is contiguous, and by symmetry it is also column o:
///  i ↓   │ d01  0    d12 … │   the swap search streams rows, never columns.
///        └ …               ┘   memory = n² · MemoryLayout<Scalar>.size  (n = 10 000, Float: 400 MB)
/// ```
///
/// The matrix is exactly symmetric with a zero diagonal (precomputed input is checked and
/// its upper triangle is mirrored), non-negative and finite. It is a reference type: n² numbers
/// are never copied behind the caller's back. Reading it from several threads is safe.
public final class DistanceMatrix<Scalar: ClusterScalar>: @unchecked Sendable {
    /// Number of objects n.
    public let count: Int
    let pointer: UnsafeMutablePointer<Scalar>

    /// Bytes a matrix for `count` objects occupies (state it before computing one).
    public static func bytesRequired(count: Int) throws(TesseraError) -> Int {
        guard count >= 0 else { throw .invalidArgument("DistanceMatrix: count must be >= 0 (got \(count))") }
        let (sq, o1) = count.multipliedReportingOverflow(by: count)
        let (bytes, o2) = sq.multipliedReportingOverflow(by: MemoryLayout<Scalar>.stride)
        guard !o1, !o2 else { throw .outOfRange("DistanceMatrix: \(count)² distances overflow the address space") }
        return bytes
    }

    /// An uninitialised matrix (internal: every initialiser fills all n² entries).
    init(uninitializedCount n: Int) throws(TesseraError) {
        guard n >= 1 else { throw .invalidArgument("DistanceMatrix: need at least one object (n = \(n))") }
        let bytes = try Self.bytesRequired(count: n)
        let raw = try FallibleAllocation.bytes(bytes, "DistanceMatrix (\(n) x \(n) distances)")
        count = n
        pointer = raw.bindMemory(to: Scalar.self, capacity: n * n)
        Self.adviseHugePages(raw, bytes: bytes)
    }

    /// Asks for transparent huge pages over the whole pages of a large matrix (advice only: the
    /// symmetric kernel's mirror writes 64-byte segments into every row, one 4 KiB page each).
    static func adviseHugePages(_ raw: UnsafeMutableRawPointer, bytes: Int) {
        #if os(Linux)
        let page = 4096, start = (Int(bitPattern: raw) + page - 1) / page * page
        let end = (Int(bitPattern: raw) + bytes) / page * page
        if bytes >= 1 << 22, end > start, let p = UnsafeMutableRawPointer(bitPattern: start) {
            _ = madvise(p, end - start, MADV_HUGEPAGE)
        }
        #endif
    }

    deinit { FallibleAllocation.free(pointer) }

    /// Distance between objects `i` and `j`.
    @inlinable public subscript(i: Int, j: Int) -> Scalar {
        precondition(i >= 0 && i < count && j >= 0 && j < count, "DistanceMatrix index (\(i), \(j)) out of 0..<\(count)")
        return _element(i * count + j)
    }

    @usableFromInline func _element(_ index: Int) -> Scalar { pointer[index] }

    /// Row `i` (equal to column `i`).
    public func row(_ i: Int) -> [Scalar] {
        precondition(i >= 0 && i < count, "DistanceMatrix row \(i) out of 0..<\(count)")
        return Array(UnsafeBufferPointer(start: pointer + i * count, count: count))
    }

    /// Read-only access to the n² row-major entries.
    public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Scalar>) throws(E) -> R) throws(E) -> R {
        try body(UnsafeBufferPointer(start: pointer, count: count * count))
    }

    // MARK: precomputed input

    /// A matrix from a full, square, row-major array of `count × count` dissimilarities.
    ///
    /// Checks: the element count, finiteness, non-negativity, a zero diagonal, and symmetry
    /// within `symmetryTolerance` (relative: `|d(i,j) − d(j,i)| ≤ tol · max(d(i,j), d(j,i), tiny)`;
    /// default 1e-6). The upper triangle is kept and mirrored, so the stored matrix is exactly
    /// symmetric.
    public convenience init(full elements: [Scalar], count n: Int, symmetryTolerance: Double = 1e-6) throws(TesseraError) {
        guard n >= 1 else { throw .invalidArgument("DistanceMatrix: count must be >= 1 (got \(n))") }
        let (sq, o) = n.multipliedReportingOverflow(by: n)
        guard !o, elements.count == sq else {
            throw .invalidArgument("DistanceMatrix: \(elements.count) values given for a \(n) x \(n) matrix (not square)")
        }
        try self.init(uninitializedCount: n)
        try elements.withUnsafeBufferPointer { (src) throws(TesseraError) in
            try Self.fillFromFull(src.baseAddress!, n: n, rowStride: n, tolerance: symmetryTolerance, into: pointer)
        }
    }

    /// A matrix from a square `Matrix` of dissimilarities (same checks as `init(full:count:)`).
    public convenience init(_ matrix: Matrix<Scalar>, symmetryTolerance: Double = 1e-6) throws(TesseraError) {
        guard matrix.rows == matrix.cols else {
            throw .invalidArgument("DistanceMatrix: a dissimilarity matrix must be square (got \(matrix.rows) x \(matrix.cols))")
        }
        let n = matrix.rows
        guard n >= 1 else { throw .invalidArgument("DistanceMatrix: the matrix is empty (n = 0)") }
        try self.init(uninitializedCount: n)
        let dst = pointer
        try matrix.withUnsafeBufferPointer { (src) throws(TesseraError) in
            try Self.fillFromFull(src.baseAddress!, n: n, rowStride: matrix.rowStride, tolerance: symmetryTolerance, into: dst)
        }
    }

    /// A matrix from the condensed upper triangle (SciPy `pdist` order: d(0,1), d(0,2), …,
    /// d(0,n−1), d(1,2), …), of length n(n−1)/2. Checks finiteness and non-negativity.
    public convenience init(condensed: [Scalar]) throws(TesseraError) {
        let m = condensed.count
        // n(n-1)/2 = m  →  n = (1 + sqrt(1 + 8m)) / 2
        let n = Int(((1.0 + (1.0 + 8.0 * Double(m)).squareRoot()) / 2.0).rounded())
        guard n >= 2, n * (n - 1) / 2 == m else {
            throw .invalidArgument("DistanceMatrix: a condensed matrix has n(n-1)/2 entries; \(m) is not such a number")
        }
        try self.init(uninitializedCount: n)
        var t = 0
        for i in 0..<n {
            pointer[i * n + i] = 0
            for j in (i + 1)..<n {
                let v = condensed[t]
                guard v.isFinite, v >= 0 else {
                    throw .invalidArgument("DistanceMatrix: condensed entry \(t) (objects \(i), \(j)) is \(v); dissimilarities must be finite and >= 0")
                }
                pointer[i * n + j] = v
                pointer[j * n + i] = v
                t += 1
            }
        }
    }

    /// A matrix from a dissimilarity function, evaluated once per pair i < j (in parallel on
    /// `pool`, so `distance` must be safe to call concurrently). Checks finiteness and sign.
    public convenience init(count n: Int, pool: ThreadPool = .shared,
                            distance: (Int, Int) -> Double) throws(TesseraError) {
        try self.init(uninitializedCount: n)
        let p = pointer
        let bad = ErrorSlot()
        pool.parallelFor(0..<n, schedule: .dynamic(chunk: 16)) { rows, _ in
            for i in rows {
                p[i * n + i] = 0
                for j in (i + 1)..<n {
                    let v = distance(i, j)
                    if !(v.isFinite && v >= 0) { bad.set(i, j, v); continue }
                    p[i * n + j] = Scalar(v)
                }
            }
        }
        if let (i, j, v) = bad.first {
            throw .invalidArgument("DistanceMatrix: distance(\(i), \(j)) = \(v); dissimilarities must be finite and >= 0")
        }
        Self.mirrorUpper(p, n: n, pool: pool)
    }

    static func fillFromFull(_ src: UnsafePointer<Scalar>, n: Int, rowStride: Int, tolerance: Double,
                             into dst: UnsafeMutablePointer<Scalar>) throws(TesseraError) {
        guard tolerance >= 0, tolerance.isFinite else {
            throw .invalidArgument("DistanceMatrix: symmetryTolerance must be finite and >= 0 (got \(tolerance))")
        }
        for i in 0..<n {
            let dii = src[i * rowStride + i]
            guard dii == 0 else { throw .invalidArgument("DistanceMatrix: diagonal entry (\(i), \(i)) is \(dii), must be 0") }
            dst[i * n + i] = 0
            for j in (i + 1)..<n {
                let a = src[i * rowStride + j], b = src[j * rowStride + i]
                guard a.isFinite, a >= 0 else {
                    throw .invalidArgument("DistanceMatrix: entry (\(i), \(j)) is \(a); dissimilarities must be finite and >= 0")
                }
                guard b.isFinite, b >= 0 else {
                    throw .invalidArgument("DistanceMatrix: entry (\(j), \(i)) is \(b); dissimilarities must be finite and >= 0")
                }
                let da = Double(a), db = Double(b)
                if abs(da - db) > tolerance * max(da, db, Double.leastNormalMagnitude) {
                    throw .invalidArgument("DistanceMatrix: not symmetric: (\(i), \(j)) = \(a) but (\(j), \(i)) = \(b) (relative tolerance \(tolerance))")
                }
                dst[i * n + j] = a
                dst[j * n + i] = a
            }
        }
    }

    /// Copies the upper triangle onto the lower one in cache-friendly 64 × 64 blocks.
    static func mirrorUpper(_ p: UnsafeMutablePointer<Scalar>, n: Int, pool: ThreadPool) {
        let b = 64
        let nb = (n + b - 1) / b
        pool.parallelFor(0..<nb, schedule: .dynamic(chunk: 1)) { blocks, _ in
            for bi in blocks {
                let i0 = bi * b, i1 = min(n, i0 + b)
                // lower blocks (bj <= bi) of block-row bi take the transposed upper blocks (bj, bi)
                for bj in 0...bi {
                    let j0 = bj * b, j1 = min(n, j0 + b)
                    for i in i0..<i1 {
                        let jEnd = bj == bi ? i : j1
                        var j = j0
                        while j < jEnd { p[i * n + j] = p[j * n + i]; j += 1 }
                    }
                }
            }
        }
    }
}

/// Collects the first bad value seen by parallel workers (for an error message).
final class ErrorSlot: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private(set) var first: (Int, Int, Double)?
    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }
    func set(_ i: Int, _ j: Int, _ v: Double) {
        pthread_mutex_lock(&lock)
        if first == nil || (i, j) < (first!.0, first!.1) { first = (i, j, v) }
        pthread_mutex_unlock(&lock)
    }
}

#if canImport(Glibc)
import Glibc
#endif
