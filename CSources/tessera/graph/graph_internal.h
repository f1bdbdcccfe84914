/*
 * graph_internal.h — the CSR graph object and the graph microkernel table. Not public.
 */
#ifndef TSR_GRAPH_INTERNAL_H
#define TSR_GRAPH_INTERNAL_H

#include "tsr_kernels.h"
#include "tessera/graph.h"

struct tsr_graph {
    int64_t n;
    int64_t nnz;
    int64_t *indptr;   /* n + 1 */
    int32_t *indices;  /* nnz, ascending per row */
    float *weights;    /* nnz, or NULL when unweighted */
    double *degree;    /* n: row sums */
    float *inv_degree; /* n: 1/degree as float, 0 for zero degree (transition matrix rows) */
    int directed;
};

/** Rows per work item of the SpMM drivers: fixed, so the split never depends on the thread count. */
#define GRAPH_ROWS_PER_CHUNK 256

/** Largest node count (indices are int32). */
#define TSR_GRAPH_MAX_NODES ((int64_t)INT32_MAX)

/** An inferred node count must be <= 2 * edges + this (graph.h, num_nodes). */
#define TSR_GRAPH_INFERRED_SLACK 1024

/**
 * Builds a graph from edge arrays; `what(e)` names edge e in messages (NULL:
 * "edge e"). Ids are already known to be >= 0 when `checked` is set.
 */
TSR_INTERNAL tsr_status graph_build(int64_t m, const int64_t *src, const int64_t *dst, const float *w,
                                    const tsr_graph_params *p, const char *fn, tsr_graph_t **out);

/** Rows [r0, r1) of Y = M·X (see tsr_graph_spmm_f32); `y` points at row r0 of Y. */
typedef void (*graph_spmm_fn)(const tsr_graph_t *g, int transition, int64_t cols, const float *x, int64_t ldx,
                              float *y, int64_t ldy, int64_t r0, int64_t r1);

/** o[k] = fmaf(c, v[k], o[k]) for k < d. */
typedef void (*graph_fma_row_fn)(float c, const float *v, float *o, int64_t d);

/* The graph microkernel table (docs/KERNELS.md). The drivers cut the rows into fixed
 * blocks (graph_spmm.c: 256 rows per task; fastrp.c: one row per call of fma_row);
 * entries are taken in CSR order with the same operations on every path (same bits). */
typedef struct graph_kernels {
    tsr_kernel_head head;
    graph_spmm_fn spmm_rows;     /* a block of rows of Y = M·X */
    graph_fma_row_fn fma_row;    /* FastRP's weighted sum of one row */
} graph_kernels;

/* The reference table (graph_spmm_scalar.c) and the overrides (graph_spmm_<isa>.c). */
TSR_INTERNAL extern const graph_kernels graph_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const graph_kernels graph_kernels_avx2;
TSR_INTERNAL extern const graph_kernels graph_kernels_avx512;
#endif
/** The table of tsr_isa_active() (the selector, in graph_spmm.c). */
TSR_INTERNAL const graph_kernels *graph_kernels_active(void);

#endif /* TSR_GRAPH_INTERNAL_H */
