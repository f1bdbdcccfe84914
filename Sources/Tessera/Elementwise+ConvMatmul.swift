internal import CTessera

extension Elementwise {
    /// Convolution product without packing (`include/tessera/elementwise.h`, `tsr_conv_matmul_f32`):
    /// `c[i·ldc + j] = bias[i] + Σ_p a[i·lda + p]·b[p·ldb + j]` for `i < m`, `j < n`, each element
    /// one chain of fused multiply-adds from `bias[i]` (0 when nil) in `p` order. `a` holds a
    /// convolution's weights (`m` output channels × `k`), read in place once per 64 columns of
    /// `b` (im2col columns, pixels or Winograd tiles): a weight matrix times a small feature map
    /// streams once, where a packing SGEMM copies it first. The same bits on every ISA and for
    /// any split of the rows or columns between calls (and so between threads). On the calling thread.
    /// Errors: `.invalidArgument` for negative sizes or leading dimensions below the row lengths.
    public static func convMatmul(_ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                                  bias: UnsafePointer<Float>?, into c: UnsafeMutablePointer<Float>, ldc: Int,
                                  m: Int, n: Int, k: Int) throws(TesseraError) {
        try check(tsr_conv_matmul_f32(a, Int64(lda), b, Int64(ldb), bias, c, Int64(ldc), Int64(m), Int64(n), Int64(k)))
    }
}
