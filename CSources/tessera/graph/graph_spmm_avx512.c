/*
 * graph_spmm_avx512.c — AVX-512 override (every slot): the CSR × dense kernel with AVX-512
 * register accumulators: blocks of up
 * to 128 columns live in up to 8 zmm registers across a row's entries (the compiler-vectorised
 * body of graph_spmm.h keeps them in memory). Same operations in the same order as the
 * portable body (add, or fmaf with the weight; then × 1/deg), so the bits are identical.
 */
#include "graph_spmm.h"

#if TSR_X86
#include <immintrin.h>

#define SPMM_BLOCK 128

TSR_TARGET_AVX512 static inline __attribute__((always_inline)) void spmm_block(
    const tsr_graph_t *g, int transition, int64_t i, int64_t c0, int nv, __mmask16 mlast, const float *x,
    int64_t ldx, float *yr) {
    const int64_t p0 = g->indptr[i], p1 = g->indptr[i + 1];
    const int32_t *ix = g->indices;
    const float *wt = g->weights;
    __m512 a[8];
    for (int v = 0; v < 8; v++) a[v] = _mm512_setzero_ps();
    for (int64_t p = p0; p < p1; p++) {
        if (p + GRAPH_PREFETCH < p1) {
            const char *pf = (const char *)(x + (int64_t)ix[p + GRAPH_PREFETCH] * ldx + c0);
            for (int v = 0; v < nv; v++) _mm_prefetch(pf + 64 * v, _MM_HINT_T0);
        }
        const float *xr = x + (int64_t)ix[p] * ldx + c0;
        if (wt) {
            const __m512 w = _mm512_set1_ps(wt[p]);
            for (int v = 0; v < nv; v++)
                a[v] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(v == nv - 1 ? mlast : 0xffff, xr + 16 * v), a[v]);
        } else {
            for (int v = 0; v < nv; v++)
                a[v] = _mm512_add_ps(a[v], _mm512_maskz_loadu_ps(v == nv - 1 ? mlast : 0xffff, xr + 16 * v));
        }
    }
    if (transition) {
        const __m512 sc = _mm512_set1_ps(g->inv_degree[i]);
        for (int v = 0; v < nv; v++) a[v] = _mm512_mul_ps(a[v], sc);
    }
    for (int v = 0; v < nv; v++) _mm512_mask_storeu_ps(yr + c0 + 16 * v, v == nv - 1 ? mlast : 0xffff, a[v]);
}

TSR_TARGET_AVX512 static void spmm_rows_avx512(const tsr_graph_t *g, int transition, int64_t cols, const float *x,
                                               int64_t ldx, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; i++) {
        float *yr = y + (i - r0) * ldy;
        for (int64_t c0 = 0; c0 < cols; c0 += SPMM_BLOCK) {
            int64_t cb = cols - c0 < SPMM_BLOCK ? cols - c0 : SPMM_BLOCK;
            int nv = (int)((cb + 15) / 16);
            __mmask16 mlast = (cb % 16) ? (__mmask16)((1u << (cb % 16)) - 1) : (__mmask16)0xffff;
            /* constant nv per call so that the accumulators stay in registers */
            switch (nv) {
            case 1: spmm_block(g, transition, i, c0, 1, mlast, x, ldx, yr); break;
            case 2: spmm_block(g, transition, i, c0, 2, mlast, x, ldx, yr); break;
            case 3: spmm_block(g, transition, i, c0, 3, mlast, x, ldx, yr); break;
            case 4: spmm_block(g, transition, i, c0, 4, mlast, x, ldx, yr); break;
            case 5: spmm_block(g, transition, i, c0, 5, mlast, x, ldx, yr); break;
            case 6: spmm_block(g, transition, i, c0, 6, mlast, x, ldx, yr); break;
            case 7: spmm_block(g, transition, i, c0, 7, mlast, x, ldx, yr); break;
            default: spmm_block(g, transition, i, c0, 8, mlast, x, ldx, yr); break;
            }
        }
    }
}
TSR_TARGET_AVX512 static void fma_row_avx512(float c, const float *v, float *o, int64_t d) {
    graph_fma_row_body(c, v, o, d);
}

const graph_kernels graph_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .spmm_rows = spmm_rows_avx512,
    .fma_row = fma_row_avx512,
};
#endif
