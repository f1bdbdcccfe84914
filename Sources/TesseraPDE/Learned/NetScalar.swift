// Scalars of the learned solvers: Float (training and inference, SGEMM) and Double (gradient
// checks, DGEMM). The only BLAS entry the networks use is a row-major GEMM.

import Foundation
internal import COpenBLAS

/// A floating-point type the convolutional networks of TesseraPDE run in: `Float` (SGEMM) or
/// `Double` (DGEMM, used by the finite-difference gradient checks).
public protocol NetScalar: PDEScalar {
    /// C[m×n] = alpha·op(A)·op(B) + beta·C, row-major, through OpenBLAS.
    static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                     a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

extension Float: NetScalar {
    /// `cblas_sgemm`, row-major.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}

extension Double: NetScalar {
    /// `cblas_dgemm`, row-major.
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                            a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                            beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}

/// Sets the number of OpenBLAS threads (1 when sub-task networks already run in parallel on a
/// pool's workers, so the two levels of threading do not oversubscribe the cores).
public func setBLASThreads(_ n: Int) { openblas_set_num_threads(Int32(max(1, n))) }

/// The number of OpenBLAS threads.
public var blasThreads: Int { Int(openblas_get_num_threads()) }
