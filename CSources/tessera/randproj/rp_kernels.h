/*
 * rp_kernels.h — bodies of the random-projection kernels, written once in
 * plain C and instantiated per ISA: rp_kernels_scalar.c compiles them for the
 * baseline x86-64 (or any CPU), rp_kernels_avx512.c inlines them into
 * functions carrying TSR_TARGET_AVX512 so the compiler vectorises them with
 * AVX-512. Only exact operations (+, −, sign flips) and fmaf/fma appear, with
 * the same order everywhere, so every instantiation gives the same bits.
 */
#ifndef TSR_RP_KERNELS_H
#define TSR_RP_KERNELS_H

#include <math.h>
#include <string.h>

#include "rp_internal.h"

#define RP_INLINE static inline __attribute__((always_inline))

RP_INLINE int32_t rp_sparse_row_body(uint64_t rk, int32_t d, uint64_t t, int32_t *ks, int8_t *sg) {
    int32_t c = 0;
    for (int32_t k = 0; k < d; k++) {
        uint64_t h = rp_entry_bits(rk, (uint32_t)k);
        if (h < 2 * t) {
            ks[c] = k;
            if (sg) sg[c] = h < t ? 1 : -1;
            c++;
        }
    }
    return c;
}

/* rp_transpose_generic_f32/_f64, rp_tile_body_f32/_f64, rp_gemm_body_f32/_f64 */
#define RP_T float
#define RP_U uint32_t
#define RP_SFX f32
#define RP_FMA fmaf
#define RP_SIGNS col_sign
#include "rp_kernels_body.h"
#undef RP_T
#undef RP_U
#undef RP_SFX
#undef RP_FMA
#undef RP_SIGNS

#define RP_T double
#define RP_U uint64_t
#define RP_SFX f64
#define RP_FMA fma
#define RP_SIGNS col_sign64
#include "rp_kernels_body.h"
#undef RP_T
#undef RP_U
#undef RP_SFX
#undef RP_FMA
#undef RP_SIGNS

/* Defines rp_<kernel>_SUFFIX wrappers, compiled with the function attribute ATTR. */
#define RP_INSTANTIATE(SUFFIX, ATTR)                                                                      \
    ATTR __attribute__((unused)) static int32_t rp_sparse_row_##SUFFIX(uint64_t rk, int32_t d, uint64_t t, int32_t *ks, int8_t *sg) { \
        return rp_sparse_row_body(rk, d, t, ks, sg);                                                      \
    }                                                                                                     \
    ATTR __attribute__((unused)) static int rp_tile_f32_##SUFFIX(const rp_matrix *m, float scale, int64_t rows, const float *x,     \
                                          int64_t ldx, float *y, int64_t ldy, float *xt, float *acc,       \
                                          int64_t *cur) {                                                 \
        return rp_tile_body_f32(m, scale, rows, x, ldx, y, ldy, xt, acc, cur, rp_transpose_generic_f32);         \
    }                                                                                                     \
    ATTR __attribute__((unused)) static int rp_tile_f64_##SUFFIX(const rp_matrix *m, double scale, int64_t rows, const double *x,   \
                                          int64_t ldx, double *y, int64_t ldy, double *xt, double *acc,    \
                                          int64_t *cur) {                                                 \
        return rp_tile_body_f64(m, scale, rows, x, ldx, y, ldy, xt, acc, cur, rp_transpose_generic_f64); \
    }                                                                                                     \
    ATTR __attribute__((unused)) static void rp_gemm_f32_##SUFFIX(const float *R, int64_t D, int32_t d, int64_t rows, const float *x, \
                                          int64_t ldx, float *y, int64_t ldy, float *acc) {               \
        rp_gemm_body_f32(R, D, d, rows, x, ldx, y, ldy, acc);                                             \
    }                                                                                                     \
    ATTR __attribute__((unused)) static void rp_gemm_f64_##SUFFIX(const double *R, int64_t D, int32_t d, int64_t rows,              \
                                          const double *x, int64_t ldx, double *y, int64_t ldy,           \
                                          double *acc) {                                                  \
        rp_gemm_body_f64(R, D, d, rows, x, ldx, y, ldy, acc);                                             \
    }

#endif /* TSR_RP_KERNELS_H */
