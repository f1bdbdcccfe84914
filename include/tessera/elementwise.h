/*
 * tessera/elementwise.h — element-wise activation kernels of transformer blocks, vectorised
 * with run-time ISA dispatch (AVX-512, AVX2, scalar). One thread: they are called on rows of
 * a few thousand elements between matrix products, where a fork-join would cost more than
 * the work.
 */
#ifndef TESSERA_ELEMENTWISE_H
#define TESSERA_ELEMENTWISE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * SwiGLU gating: out[i] = SiLU(gate[i]) · up[i] = gate[i] / (1 + e^(−gate[i])) · up[i],
 * for i < n. e^x is a polynomial with ≤ 2 ulp error on the SIMD paths (libm on the scalar
 * one), so results are within a few ulp of the float64 value (gates below −87, where the
 * exact value is ≈ 0, within 4e−35) but not bit-identical across ISAs; for one ISA they do
 * not depend on n or on alignment. `out` may be `gate` or `up` (element i is read before it
 * is written); other overlap is undefined. NaN propagates; infinite gates give unspecified
 * results (NaN or ±∞ on some paths).
 * Errors: TSR_EINVAL (NULL pointer with n > 0, n < 0).
 */
TSR_API tsr_status tsr_swiglu_f32(const float *gate, const float *up, float *out, int64_t n);

/**
 * GeGLU gating with the tanh form of GELU (Gemma's FFN):
 * out[i] = ½g(1 + tanh(√(2/π)(g + 0.044715g³))) · up[i], g = gate[i], for i < n, computed as
 * the equal g / (1 + e^z) · up[i] with z = −2√(2/π)(g + 0.044715g³) (no tanh cancellation
 * for negative g). e^z is the clamped Cephes polynomial (z ∈ [−87.34, 88]; gates below about
 * −10 give |out| < 1e−36·|up|) written with the same IEEE operations (fused multiply-adds,
 * one division) on every path, so the scalar, AVX2 and AVX-512 results are bit-identical and
 * do not depend on n or alignment; within a few ulp of the float64 value plus the |z| ulp
 * that the f32 argument z carries into e^z (relative error ≤ 1.2e−7·(4 + |z|) for |g| ≤ 10). `out` may be `gate` or `up`; other overlap is undefined. NaN
 * propagates; infinite gates give unspecified results.
 * Errors: TSR_EINVAL (NULL pointer with n > 0, n < 0).
 */
TSR_API tsr_status tsr_geglu_tanh_f32(const float *gate, const float *up, float *out, int64_t n);

/** The activation that tsr_channel_affine_f32 applies after its affine map. */
typedef enum tsr_activation {
    TSR_ACT_IDENTITY = 0, /**< none: out = x·scale + shift */
    TSR_ACT_SILU = 1      /**< SiLU (swish): v / (1 + e^(−v)) of v = x·scale + shift */
} tsr_activation;

/**
 * RMS normalisation (Llama/Gemma RMSNorm) of `rows` contiguous rows of `dim` floats:
 * out[r·dim + i] = (x[r·dim + i] · s_r) · w[i], s_r = 1 / sqrt(Σ_i x[r·dim + i]² / dim + eps).
 * Σ x² in float: 16 interleaved lanes (lane j takes the elements i ≡ j mod 16 below the last
 * whole group of 16) by fused multiply-add, the lanes added in lane order starting from −0,
 * then the remaining elements one by one (each product rounded before it is added). Every
 * path performs these IEEE operations, so the scalar, AVX2 and AVX-512 results are
 * bit-identical, and a row depends only on its own contents and w (not on alignment, the
 * other rows or `rows`). Relative error of Σ x² about (dim/16 + 16)·2^−24. `out` may be `x`;
 * other overlap is undefined. NaN/Inf propagate. One thread.
 * Errors: TSR_EINVAL (NULL pointer with work to do, negative rows or dim, rows·dim overflow,
 * eps negative, infinite or NaN).
 */
TSR_API tsr_status tsr_rms_norm_f32(const float *x, const float *w, float *out, int64_t rows, int64_t dim, float eps);

/**
 * Sums for normalisation statistics (GroupNorm, LayerNorm) over `blocks` contiguous blocks of
 * `len` floats: sum[b] = Σ x[b·len + i] and sumsq[b] = Σ x[b·len + i]², i < len. Each block is
 * summed in chunks of 1024 elements, a chunk in float over 16 interleaved lanes (lane j takes
 * the elements ≡ j mod 16; squares by fused multiply-add), its lanes then added in lane order
 * into the double total: so the scalar, AVX2 and AVX-512 results are bit-identical and depend
 * only on the block's contents (not on alignment or the other blocks). Relative error of the
 * sum about 64·2^−24·Σ|x| per chunk. len == 0 gives zeros. NaN/Inf propagate. One thread.
 * Errors: TSR_EINVAL (NULL pointer with work to do, negative blocks or len, blocks·len overflow).
 */
TSR_API tsr_status tsr_block_sums_f32(const float *x, int64_t blocks, int64_t len, double *sum, double *sumsq);

/**
 * Per-channel affine map and activation over `channels` planes of `plane` floats (a
 * channel-major image, e.g. GroupNorm's apply step folded into one scale and shift per
 * channel): out[c·plane + i] = act(fma(x[c·plane + i], scale[c], shift[c])). SiLU is
 * v / (1 + e^(0 − v)) with the clamped polynomial e^x of tsr_geglu_tanh_f32, written with the
 * same IEEE operations on every path: the scalar, AVX2 and AVX-512 results are bit-identical
 * and do not depend on plane or alignment; within a few ulp of the float64 SiLU of the f32 v
 * (v below about −87 gives |out| < 1e−36). `out` may be `x`; other overlap is undefined.
 * NaN propagates. One thread.
 * Errors: TSR_EINVAL (NULL pointer with work to do, negative sizes, channels·plane overflow,
 * unknown act).
 */
TSR_API tsr_status tsr_channel_affine_f32(const float *x, float *out, int64_t channels, int64_t plane,
                                          const float *scale, const float *shift, tsr_activation act);

/**
 * Winograd F(2×2, 3×3) filter transform (Lavin & Gray 2016) of `cout × cin` 3×3 filters
 * g[(co·cin + ci)·9 + ky·3 + kx] (PyTorch's OIHW layout): u[e·cout·cin + co·cin + ci] =
 * (G g Gᵀ)[e / 4][e % 4], e < 16, G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], computed in double and
 * rounded once. With tsr_winograd_f2x3_input_f32 and tsr_winograd_f2x3_output_f32 it makes a
 * 3×3, stride-1, padding-1 convolution (cross-correlation, as in CNNs) from 16 matrix
 * products M[e] = U[e] · V[e] ([cout × cin] · [cin × tiles]): 2.25× fewer multiplications than
 * the direct form, at a rounding error a few times larger (additions of the transforms).
 * Errors: TSR_EINVAL (NULL pointer with work to do, negative sizes, overflow).
 */
TSR_API tsr_status tsr_winograd_f2x3_filter_f32(const float *g, int64_t cout, int64_t cin, float *u);

/**
 * Winograd F(2×2, 3×3) input transform of tile rows [ty0, ty1) of a `channels × rows × width`
 * channel-major image x (plane stride rows·width): tile (ty, tx) covers input rows 2ty − 1 ..
 * 2ty + 2 and columns 2tx − 1 .. 2tx + 2, zero outside the image, except that row −1 is
 * `top[c·width + ·]` and row `rows` is `bottom[c·width + ·]` when given (the halo rows of a row
 * patch; NULL = zeros). Writes v[e·channels·nt + c·nt + (ty − ty0)·tw + tx] = (Bᵀ d B)[e / 4][e % 4]
 * for e < 16, tw = ⌈width / 2⌉, nt = (ty1 − ty0)·tw, Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
 * Additions only, in one order: the scalar, AVX2 and AVX-512 results are bit-identical.
 * 0 <= ty0 <= ty1 <= ⌈rows / 2⌉. One thread.
 * Errors: TSR_EINVAL (NULL x or v with work to do, bad sizes or tile rows, overflow).
 */
TSR_API tsr_status tsr_winograd_f2x3_input_f32(const float *x, int64_t channels, int64_t rows, int64_t width,
                                               const float *top, const float *bottom, int64_t ty0, int64_t ty1,
                                               float *v);

/**
 * Winograd F(2×2, 3×3) output transform: from the products m laid out as the input
 * transform's v (`channels` = output channels), writes output rows 2ty0 .. min(rows, 2ty1) − 1
 * of the `channels × rows × width` image out: (Aᵀ M A) + bias[c] (bias NULL = 0), Aᵀ = [1 1 1 0;
 * 0 1 −1 −1]; the columns and rows past the image of the last tiles are dropped. Additions
 * only, in one order: the same bits on every ISA. One thread.
 * Errors: TSR_EINVAL (NULL m or out with work to do, bad sizes or tile rows, overflow).
 */
TSR_API tsr_status tsr_winograd_f2x3_output_f32(const float *m, int64_t channels, int64_t rows, int64_t width,
                                                int64_t ty0, int64_t ty1, const float *bias, float *out);

/**
 * Convolution product without packing: c[i·ldc + j] = bias[i] + Σ_p a[i·lda + p]·b[p·ldb + j]
 * for i < m, j < n, each element one chain of fused multiply-adds from bias[i] (0 if bias is
 * NULL) in p order. The rows of a (a convolution's weights, `m` output channels × `k`) are read
 * in place, once per 64 columns of b — for the few dozen pixels of a small feature map, or the
 * tiles of a Winograd product, a weight matrix streams once where a packing GEMM copies it
 * first. The scalar, AVX2 and AVX-512 paths give the same bits, and so does any split of the
 * rows or columns between calls. One thread.
 * Errors: TSR_EINVAL (negative sizes, leading dimensions below the row lengths, overflow, NULL
 * pointers with work to do).
 */
TSR_API tsr_status tsr_conv_matmul_f32(const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias,
                                       float *c, int64_t ldc, int64_t m, int64_t n, int64_t k);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_ELEMENTWISE_H */
