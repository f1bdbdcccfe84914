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

/*
 * One tile of up to RP_TILE rows of a dense f32 X against sparse R (CSC with
 * sign masks). X is transposed block by block into xt[j][RP_TILE] so that each
 * nonzero of R is one contiguous RP_TILE-wide add; acc[k][RP_TILE] sums
 * ±x[r, j] in ascending j; y = scale · acc.
 */
/* xt[j][r] = x[r][jb + j] for j < nj, r < RP_TILE (rows >= `rows` zero): the portable transpose. */
RP_INLINE void rp_transpose_f32_generic(float *restrict xt, const float *x, int64_t ldx, int64_t rows, int64_t jb,
                                        int64_t nj) {
    if (rows < RP_TILE) memset(xt, 0, (size_t)nj * RP_TILE * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx + jb;
        for (int64_t j = 0; j < nj; j++) xt[j * RP_TILE + r] = xr[j];
    }
}

typedef void (*rp_transpose_f32_fn)(float *xt, const float *x, int64_t ldx, int64_t rows, int64_t jb, int64_t nj);

RP_INLINE void rp_tile_f32_body(const rp_matrix *m, float scale, int64_t rows, const float *x, int64_t ldx,
                                float *y, int64_t ldy, float *restrict xt, float *restrict acc,
                                int64_t *restrict cur, rp_transpose_f32_fn transpose) {
    const int32_t d = m->d;
    const int64_t D = m->D;
    const int32_t *restrict cj = m->col_j;
    const uint32_t *restrict cs = m->col_sign;
    memset(acc, 0, (size_t)d * RP_TILE * sizeof(float));
    memcpy(cur, m->col_ptr, (size_t)d * sizeof(int64_t));
    for (int64_t jb = 0; jb < D; jb += RP_JBLOCK) {
        int64_t je = jb + RP_JBLOCK < D ? jb + RP_JBLOCK : D;
        int64_t nj = je - jb;
        transpose(xt, x, ldx, rows, jb, nj);
        for (int32_t k = 0; k < d; k++) {
            int64_t e = cur[k], end = m->col_ptr[k + 1];
            float af[RP_TILE];
            memcpy(af, acc + (size_t)k * RP_TILE, sizeof af);
            for (; e < end && cj[e] < je; e++) {
                const float *v = xt + (size_t)(cj[e] - jb) * RP_TILE;
                uint32_t sgn = cs[e];
                for (int r = 0; r < RP_TILE; r++) {
                    uint32_t b;
                    memcpy(&b, v + r, 4);
                    b ^= sgn;
                    float fv;
                    memcpy(&fv, &b, 4);
                    af[r] += fv;
                }
            }
            memcpy(acc + (size_t)k * RP_TILE, af, sizeof af);
            cur[k] = e;
        }
    }
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * ldy;
        for (int32_t k = 0; k < d; k++) yr[k] = scale * acc[(size_t)k * RP_TILE + r];
    }
}

/* Same for f64 (tile of RP_TILE rows, sign masks on the high bit of a double). */
RP_INLINE void rp_tile_f64_body(const rp_matrix *m, double scale, int64_t rows, const double *x, int64_t ldx,
                                double *y, int64_t ldy, double *restrict xt, double *restrict acc,
                                int64_t *restrict cur) {
    const int32_t d = m->d;
    const int64_t D = m->D;
    const int32_t *restrict cj = m->col_j;
    const uint64_t *restrict cs = m->col_sign64;
    memset(acc, 0, (size_t)d * RP_TILE * sizeof(double));
    memcpy(cur, m->col_ptr, (size_t)d * sizeof(int64_t));
    for (int64_t jb = 0; jb < D; jb += RP_JBLOCK) {
        int64_t je = jb + RP_JBLOCK < D ? jb + RP_JBLOCK : D;
        int64_t nj = je - jb;
        if (rows < RP_TILE) memset(xt, 0, (size_t)nj * RP_TILE * sizeof(double));
        for (int64_t r = 0; r < rows; r++) {
            const double *xr = x + r * ldx + jb;
            for (int64_t j = 0; j < nj; j++) xt[j * RP_TILE + r] = xr[j];
        }
        for (int32_t k = 0; k < d; k++) {
            int64_t e = cur[k], end = m->col_ptr[k + 1];
            double af[RP_TILE];
            memcpy(af, acc + (size_t)k * RP_TILE, sizeof af);
            for (; e < end && cj[e] < je; e++) {
                const double *v = xt + (size_t)(cj[e] - jb) * RP_TILE;
                uint64_t sgn = cs[e];
                for (int r = 0; r < RP_TILE; r++) {
                    uint64_t b;
                    memcpy(&b, v + r, 8);
                    b ^= sgn;
                    double fv;
                    memcpy(&fv, &b, 8);
                    af[r] += fv;
                }
            }
            memcpy(acc + (size_t)k * RP_TILE, af, sizeof af);
            cur[k] = e;
        }
    }
    for (int64_t r = 0; r < rows; r++) {
        double *yr = y + r * ldy;
        for (int32_t k = 0; k < d; k++) yr[k] = scale * acc[(size_t)k * RP_TILE + r];
    }
}

/*
 * Dense R (D × d, row-major = the row CSR of a Gaussian R): y[r, :] =
 * Σ_j x[r, j] · R[j, :], fused multiply-add in ascending j. acc: rows*d scratch.
 */
RP_INLINE void rp_gemm_f32_body(const float *restrict R, int64_t D, int32_t d, int64_t rows, const float *x,
                                int64_t ldx, float *y, int64_t ldy, float *restrict acc) {
    memset(acc, 0, (size_t)rows * d * sizeof(float));
    for (int64_t jb = 0; jb < D; jb += RP_G_JBLOCK) {
        int64_t je = jb + RP_G_JBLOCK < D ? jb + RP_G_JBLOCK : D;
        for (int64_t r = 0; r < rows; r++) {
            float *restrict a = acc + (size_t)r * d;
            const float *xr = x + r * ldx;
            for (int64_t j = jb; j < je; j++) {
                float xv = xr[j];
                const float *restrict Rj = R + (size_t)j * d;
                for (int32_t k = 0; k < d; k++) a[k] = fmaf(xv, Rj[k], a[k]);
            }
        }
    }
    for (int64_t r = 0; r < rows; r++) memcpy(y + r * ldy, acc + (size_t)r * d, (size_t)d * sizeof(float));
}

RP_INLINE void rp_gemm_f64_body(const double *restrict R, int64_t D, int32_t d, int64_t rows, const double *x,
                                int64_t ldx, double *y, int64_t ldy, double *restrict acc) {
    memset(acc, 0, (size_t)rows * d * sizeof(double));
    for (int64_t jb = 0; jb < D; jb += RP_G_JBLOCK) {
        int64_t je = jb + RP_G_JBLOCK < D ? jb + RP_G_JBLOCK : D;
        for (int64_t r = 0; r < rows; r++) {
            double *restrict a = acc + (size_t)r * d;
            const double *xr = x + r * ldx;
            for (int64_t j = jb; j < je; j++) {
                double xv = xr[j];
                const double *restrict Rj = R + (size_t)j * d;
                for (int32_t k = 0; k < d; k++) a[k] = fma(xv, Rj[k], a[k]);
            }
        }
    }
    for (int64_t r = 0; r < rows; r++) memcpy(y + r * ldy, acc + (size_t)r * d, (size_t)d * sizeof(double));
}

/* Defines rp_<kernel>_SUFFIX wrappers, compiled with the function attribute ATTR. */
#define RP_INSTANTIATE(SUFFIX, ATTR)                                                                      \
    ATTR __attribute__((unused)) static int32_t rp_sparse_row_##SUFFIX(uint64_t rk, int32_t d, uint64_t t, int32_t *ks, int8_t *sg) { \
        return rp_sparse_row_body(rk, d, t, ks, sg);                                                      \
    }                                                                                                     \
    ATTR __attribute__((unused)) static void rp_tile_f32_##SUFFIX(const rp_matrix *m, float scale, int64_t rows, const float *x,    \
                                          int64_t ldx, float *y, int64_t ldy, float *xt, float *acc,       \
                                          int64_t *cur) {                                                 \
        rp_tile_f32_body(m, scale, rows, x, ldx, y, ldy, xt, acc, cur, rp_transpose_f32_generic);         \
    }                                                                                                     \
    ATTR __attribute__((unused)) static void rp_tile_f64_##SUFFIX(const rp_matrix *m, double scale, int64_t rows, const double *x,  \
                                          int64_t ldx, double *y, int64_t ldy, double *xt, double *acc,    \
                                          int64_t *cur) {                                                 \
        rp_tile_f64_body(m, scale, rows, x, ldx, y, ldy, xt, acc, cur);                                   \
    }                                                                                                     \
    ATTR __attribute__((unused)) static void rp_gemm_f32_##SUFFIX(const float *R, int64_t D, int32_t d, int64_t rows, const float *x, \
                                          int64_t ldx, float *y, int64_t ldy, float *acc) {               \
        rp_gemm_f32_body(R, D, d, rows, x, ldx, y, ldy, acc);                                             \
    }                                                                                                     \
    ATTR __attribute__((unused)) static void rp_gemm_f64_##SUFFIX(const double *R, int64_t D, int32_t d, int64_t rows,              \
                                          const double *x, int64_t ldx, double *y, int64_t ldy,           \
                                          double *acc) {                                                  \
        rp_gemm_f64_body(R, D, d, rows, x, ldx, y, ldy, acc);                                             \
    }

#endif /* TSR_RP_KERNELS_H */
