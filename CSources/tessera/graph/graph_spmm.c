/*
 * graph_spmm.c — the parallel driver of Y = M·X (M = S or D⁻¹S).
 */
#include "graph_internal.h"

/* Rows per work item: fixed, so the split never depends on the thread count. */
#define GRAPH_ROWS_PER_CHUNK 256

typedef struct spmm_ctx {
    const tsr_graph_t *g;
    graph_spmm_fn fn;
    int transition;
    int64_t cols;
    const float *x;
    int64_t ldx;
    float *y;
    int64_t ldy;
} spmm_ctx;

static void spmm_chunks(void *vc, int64_t begin, int64_t end, int32_t worker) {
    spmm_ctx *c = vc;
    int64_t r0 = begin * GRAPH_ROWS_PER_CHUNK;
    int64_t r1 = end * GRAPH_ROWS_PER_CHUNK < c->g->n ? end * GRAPH_ROWS_PER_CHUNK : c->g->n;
    c->fn(c->g, c->transition, c->cols, c->x, c->ldx, c->y, c->ldy, r0, r1);
}

static graph_spmm_fn spmm_kernel(void) {
    switch (tsr_isa_active()) {
    case TSR_ISA_AVX512: return graph_spmm_rows_avx512;
    case TSR_ISA_AVX2: return graph_spmm_rows_avx2;
    default: return graph_spmm_rows_scalar;
    }
}

graph_fma_row_fn graph_fma_row_kernel(void) {
    switch (tsr_isa_active()) {
    case TSR_ISA_AVX512: return graph_fma_row_avx512;
    case TSR_ISA_AVX2: return graph_fma_row_avx2;
    default: return graph_fma_row_scalar;
    }
}

tsr_status tsr_graph_spmm_f32(tsr_pool_t *pool, const tsr_graph_t *g, tsr_graph_matrix matrix, int64_t cols,
                              const float *x, int64_t ldx, float *y, int64_t ldy) {
    TSR_CHECK_NULL(g);
    TSR_CHECK_NULL(x);
    TSR_CHECK_NULL(y);
    TSR_CHECK_ARG((int)matrix >= 0 && matrix < TSR_GRAPH_MATRIX_COUNT, "tsr_graph_spmm_f32: invalid matrix %d",
                  (int)matrix);
    TSR_CHECK_ARG(cols >= 1, "tsr_graph_spmm_f32: cols must be >= 1 (got %lld)", (long long)cols);
    TSR_CHECK_ARG(ldx >= cols, "tsr_graph_spmm_f32: ldx (%lld) must be >= cols (%lld)", (long long)ldx,
                  (long long)cols);
    TSR_CHECK_ARG(ldy >= cols, "tsr_graph_spmm_f32: ldy (%lld) must be >= cols (%lld)", (long long)ldy,
                  (long long)cols);
    int64_t t;
    if (tsr_mul_i64(g->n, ldx, &t) || tsr_mul_i64(g->n, ldy, &t) || tsr_mul_i64(t, 4, &t))
        return tsr_error(TSR_ERANGE, "tsr_graph_spmm_f32: n × ld overflows");
    spmm_ctx c = {.g = g, .fn = spmm_kernel(), .transition = matrix == TSR_GRAPH_TRANSITION, .cols = cols,
                  .x = x, .ldx = ldx, .y = y, .ldy = ldy};
    int64_t chunks = (g->n + GRAPH_ROWS_PER_CHUNK - 1) / GRAPH_ROWS_PER_CHUNK;
    return tsr_parallel_for(pool, chunks, 1, TSR_SCHEDULE_DYNAMIC, spmm_chunks, &c);
}
