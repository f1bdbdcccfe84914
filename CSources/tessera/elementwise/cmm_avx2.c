/* Convolution product kernel, AVX2 path: blocks of 6 rows × 16 columns (12 accumulators), the
 * weights broadcast straight from their rows; the column tail under a mask. */
#include "cmm_internal.h"

#if TSR_X86
#include <immintrin.h>

#define MR 6
#define NV 2 /* vectors of 8 columns */

TSR_TARGET_AVX2 static inline __attribute__((always_inline)) void
block256(const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias, float *c, int64_t ldc, int mr,
         int nv, __m256i last, int64_t k) {
    __m256 acc[MR][NV];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm256_set1_ps(bias ? bias[r] : 0.0f);
    for (int64_t p = 0; p < k; p++) {
        const float *bp = b + p * ldb;
        __m256 bv[NV];
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm256_maskload_ps(bp + 8 * v, last) : _mm256_loadu_ps(bp + 8 * v);
        for (int r = 0; r < mr; r++) {
            const __m256 av = _mm256_broadcast_ss(a + r * lda + p);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) {
            if (v == nv - 1) _mm256_maskstore_ps(c + r * ldc + 8 * v, last, acc[r][v]);
            else _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);
        }
}

TSR_TARGET_AVX2 static void matmul_avx2(const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias,
                                        float *c, int64_t ldc, int64_t m, int64_t n, int64_t k) {
    for (int64_t j0 = 0; j0 < n; j0 += 8 * NV) {
        const int64_t nr = n - j0 < 8 * NV ? n - j0 : 8 * NV;
        const int nv = (int)((nr + 7) / 8), tail = (int)(nr - 8 * (nv - 1));
        const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (int64_t i0 = 0; i0 < m; i0 += MR) {
            const int mr = m - i0 < MR ? (int)(m - i0) : MR;
            const float *ai = a + i0 * lda, *bi = bias ? bias + i0 : NULL;
            float *ci = c + i0 * ldc + j0;
#define B256(R, V) block256(ai, lda, b + j0, ldb, bi, ci, ldc, R, V, last, k)
#define BY_NV(R) if (nv == 1) B256(R, 1); else B256(R, 2);
            CMM_BY_MR(mr, BY_NV)
#undef BY_NV
#undef B256
        }
    }
}

const cmm_kernels tsr_cmm_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .matmul = matmul_avx2,
};
#endif
