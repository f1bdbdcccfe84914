/* Convolution product kernel, AVX-512 path: blocks of 6 rows × 64 columns (24 accumulators),
 * the weights a broadcast straight from their rows (no packing: each row of a is read once
 * per 64-column block, so a weight matrix times a few dozen pixels streams it once). */
#include "cmm_internal.h"

#if TSR_X86
#include <immintrin.h>

#define MR 6
#define NV 4 /* vectors of 16 columns */

TSR_TARGET_AVX512 static inline __attribute__((always_inline)) void
block512(const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias, float *c, int64_t ldc, int mr,
         int nv, __mmask16 last, int64_t k) {
    __m512 acc[MR][NV];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_set1_ps(bias ? bias[r] : 0.0f);
    for (int64_t p = 0; p < k; p++) {
        const float *bp = b + p * ldb;
        __m512 bv[NV];
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, bp + 16 * v) : _mm512_loadu_ps(bp + 16 * v);
        for (int r = 0; r < mr; r++) {
            const __m512 av = _mm512_set1_ps(a[r * lda + p]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) {
            if (v == nv - 1) _mm512_mask_storeu_ps(c + r * ldc + 16 * v, last, acc[r][v]);
            else _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
        }
}

TSR_TARGET_AVX512 static void matmul_avx512(const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias,
                                            float *c, int64_t ldc, int64_t m, int64_t n, int64_t k) {
    for (int64_t j0 = 0; j0 < n; j0 += 16 * NV) {
        const int64_t nr = n - j0 < 16 * NV ? n - j0 : 16 * NV;
        const int nv = (int)((nr + 15) / 16);
        const __mmask16 last = (__mmask16)(nr % 16 ? (1u << (nr % 16)) - 1u : 0xFFFFu);
        for (int64_t i0 = 0; i0 < m; i0 += MR) {
            const int mr = m - i0 < MR ? (int)(m - i0) : MR;
            const float *ai = a + i0 * lda, *bi = bias ? bias + i0 : NULL;
            float *ci = c + i0 * ldc + j0;
#define B512(R, V) block512(ai, lda, b + j0, ldb, bi, ci, ldc, R, V, last, k)
#define BY_NV(R) switch (nv) { case 1: B512(R, 1); break; case 2: B512(R, 2); break; case 3: B512(R, 3); break; default: B512(R, 4); }
            CMM_BY_MR(mr, BY_NV)
#undef BY_NV
#undef B512
        }
    }
}

const cmm_kernels tsr_cmm_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .matmul = matmul_avx512,
};
#endif
