/*
 * graph_spmm.h — the body of the CSR × dense kernel, instantiated per ISA in
 * graph_spmm_{scalar,avx2,avx512}.c. Each row of Y is one worker's: the
 * entries are taken in CSR order, accumulated with fmaf (or + for unweighted
 * graphs) in blocks of GRAPH_CB columns, then multiplied by 1/deg for the
 * transition matrix. Same operations, same order on every ISA.
 */
#ifndef TSR_GRAPH_SPMM_H
#define TSR_GRAPH_SPMM_H

#include <math.h>
#include <string.h>

#include "graph_internal.h"

#define GRAPH_CB 256       /* columns per accumulator block (1 KiB of f32) */
#define GRAPH_PREFETCH 6   /* entries ahead to prefetch */

static inline __attribute__((always_inline)) void graph_spmm_body(const tsr_graph_t *g, int transition, int64_t cols,
                                                                  const float *x, int64_t ldx, float *y, int64_t ldy,
                                                                  int64_t r0, int64_t r1) {
    const int64_t *restrict ip = g->indptr;
    const int32_t *restrict ix = g->indices;
    const float *restrict wt = g->weights;
    float acc[GRAPH_CB] __attribute__((aligned(64)));
    for (int64_t i = r0; i < r1; i++) {
        const int64_t p0 = ip[i], p1 = ip[i + 1];
        float *yr = y + (i - r0) * ldy;
        const float sc = transition ? g->inv_degree[i] : 1.0f;
        for (int64_t c0 = 0; c0 < cols; c0 += GRAPH_CB) {
            const int64_t cb = cols - c0 < GRAPH_CB ? cols - c0 : GRAPH_CB;
            for (int64_t c = 0; c < cb; c++) acc[c] = 0.0f;
            for (int64_t p = p0; p < p1; p++) {
                if (p + GRAPH_PREFETCH < p1) {
                    const char *pf = (const char *)(x + (int64_t)ix[p + GRAPH_PREFETCH] * ldx + c0);
                    for (int64_t b = 0; b < cb * 4; b += 64) __builtin_prefetch(pf + b, 0, 0);
                }
                const float *restrict xr = x + (int64_t)ix[p] * ldx + c0;
                if (wt) {
                    const float w = wt[p];
                    for (int64_t c = 0; c < cb; c++) acc[c] = fmaf(w, xr[c], acc[c]);
                } else {
                    for (int64_t c = 0; c < cb; c++) acc[c] += xr[c];
                }
            }
            if (transition)
                for (int64_t c = 0; c < cb; c++) yr[c0 + c] = acc[c] * sc;
            else
                memcpy(yr + c0, acc, (size_t)cb * sizeof(float));
        }
    }
}

/* o[k] = fmaf(c, v[k], o[k]): FastRP's weighted sum (vectorised per ISA, same bits). */
static inline __attribute__((always_inline)) void graph_fma_row_body(float c, const float *restrict v,
                                                                     float *restrict o, int64_t d) {
    for (int64_t k = 0; k < d; k++) o[k] = fmaf(c, v[k], o[k]);
}

#endif /* TSR_GRAPH_SPMM_H */
