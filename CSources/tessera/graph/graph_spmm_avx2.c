/*
 * graph_spmm_avx2.c — AVX2 override: graph_spmm.h compiled for AVX2 (the compiler
 * vectorises the column loops). Every slot.
 */
#include "graph_spmm.h"

#if TSR_X86
TSR_TARGET_AVX2 static void spmm_rows_avx2(const tsr_graph_t *g, int transition, int64_t cols, const float *x,
                                           int64_t ldx, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    graph_spmm_body(g, transition, cols, x, ldx, y, ldy, r0, r1);
}

TSR_TARGET_AVX2 static void fma_row_avx2(float c, const float *v, float *o, int64_t d) {
    graph_fma_row_body(c, v, o, d);
}

const graph_kernels graph_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .spmm_rows = spmm_rows_avx2,
    .fma_row = fma_row_avx2,
};
#endif
