/* winograd_internal.h — the Winograd F(2×2, 3×3) transform kernels (tsr_winograd_f2x3_*).
 * Not public. The transforms are additions and subtractions only, in one fixed order, so
 * every path gives the same bits; the ISA files compile one body (winograd_body.h) under
 * their target attribute and let the compiler vectorise it. */
#ifndef TSR_WINOGRAD_INTERNAL_H
#define TSR_WINOGRAD_INTERNAL_H

#include "tsr_kernels.h"

/* Tiles per block of the row transforms (the padded rows of a block live on the stack). */
#define WG_BLOCK 64

typedef struct wg_kernels {
    tsr_kernel_head head;
    /* One tile row of one channel: r[j] = input row 2ty − 1 + j (NULL = zeros), `w` columns;
     * writes v[e·vs + tx] = (Bᵀ d B)[e / 4][e % 4] of tile tx < (w + 1) / 2. */
    void (*input_row)(const float *const r[4], int64_t w, float *v, int64_t vs);
    /* One tile row of one channel: m[e·ms + tx] as above after the products; writes
     * out0[x] / out1[x] (x < w) = (Aᵀ M A)[0 / 1][x % 2] + bias; out1 NULL = not written. */
    void (*output_row)(const float *m, int64_t ms, int64_t w, float bias, float *out0, float *out1);
} wg_kernels;

TSR_INTERNAL extern const wg_kernels tsr_wg_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const wg_kernels tsr_wg_kernels_avx2;
TSR_INTERNAL extern const wg_kernels tsr_wg_kernels_avx512;
#endif

#endif /* TSR_WINOGRAD_INTERNAL_H */
