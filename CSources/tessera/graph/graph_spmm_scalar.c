/*
 * graph_spmm_scalar.c — the reference table: graph_spmm.h compiled for the baseline (the
 * compiler vectorises the column loops with SSE2). Every slot.
 */
#include "graph_spmm.h"

static void spmm_rows_scalar(const tsr_graph_t *g, int transition, int64_t cols, const float *x, int64_t ldx,
                             float *y, int64_t ldy, int64_t r0, int64_t r1) {
    graph_spmm_body(g, transition, cols, x, ldx, y, ldy, r0, r1);
}

static void fma_row_scalar(float c, const float *v, float *o, int64_t d) { graph_fma_row_body(c, v, o, d); }

const graph_kernels graph_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .spmm_rows = spmm_rows_scalar,
    .fma_row = fma_row_scalar,
};
