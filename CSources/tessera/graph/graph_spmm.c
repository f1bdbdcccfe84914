/*
 * graph_spmm.c — the parallel driver of Y = M·X (M = S or D⁻¹S) and the graph kernel selector.
 */
#include "graph_internal.h"

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
    c->fn(c->g, c->transition, c->cols, c->x, c->ldx, c->y + r0 * c->ldy, c->ldy, r0, r1);
}

/* The kernel selector (tsr_kernels.h): reference table, then the overrides per level. */
static void graph_overlay(void *dst, const void *src) {
    graph_kernels *d = dst;
    const graph_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, spmm_rows);
    TSR_KERNEL_INHERIT(d, o, fma_row);
}

static const void *const graph_overrides[] = {
#if TSR_X86
    &graph_kernels_avx2, &graph_kernels_avx512,
#endif
    NULL};
static graph_kernels graph_tables[TSR_ISA_COUNT];
static tsr_kernel_registry graph_registry =
    TSR_KERNEL_REGISTRY("graph", graph_kernels, &graph_kernels_ref, graph_overrides, graph_overlay, graph_tables);

const graph_kernels *graph_kernels_active(void) { return tsr_kernels_select(&graph_registry, tsr_isa_active()); }

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
    spmm_ctx c = {.g = g, .fn = graph_kernels_active()->spmm_rows, .transition = matrix == TSR_GRAPH_TRANSITION, .cols = cols,
                  .x = x, .ldx = ldx, .y = y, .ldy = ldy};
    int64_t chunks = (g->n + GRAPH_ROWS_PER_CHUNK - 1) / GRAPH_ROWS_PER_CHUNK;
    return tsr_parallel_for(pool, chunks, 1, TSR_SCHEDULE_DYNAMIC, spmm_chunks, &c);
}
