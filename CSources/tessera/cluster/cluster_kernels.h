/*
 * cluster_kernels.h — the bodies of the clustering kernels, instantiated once per ISA
 * (CK_INSTANTIATE(suffix, target attribute)) and vectorised by the compiler over points.
 * Every output is computed lane by lane with the same operations in the same order, and no
 * multiply-add is fused (FP_CONTRACT off; GCC builds with -std=c11, which does not contract),
 * so every ISA gives the same bits. The k-means assignment uses explicit fmaf / fma on every
 * path (one rounding per step whatever the ISA; the scalar reference calls libm's).
 */
#ifndef TSR_CLUSTER_KERNELS_H
#define TSR_CLUSTER_KERNELS_H

#include <math.h>

#include "cluster_internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* Points per column block: its partial sums stay in registers across the features. */
#define CK_BLOCK 32
/* Interleaved partial sums of a PAM delta (point j goes to sum j mod CK_LANES). */
#define CK_LANES 16

#define CK_INLINE static inline __attribute__((always_inline))

/* Fixed pairwise reduction of the CK_LANES partial sums. */
CK_INLINE double ck_reduce16(const double *a) {
    double b[8], c[4];
    for (int l = 0; l < 8; l++) b[l] = a[l] + a[l + 8];
    for (int l = 0; l < 4; l++) c[l] = b[l] + b[l + 4];
    return (c[0] + c[2]) + (c[1] + c[3]);
}

/* One column block of `nb` points (nb <= CK_BLOCK; a constant in the full-block call). */
#define CK_COLUMN_BLOCK(T, SFX, ISA, TARGET)                                                            \
    TARGET CK_INLINE void ck_column_block_##SFX##_##ISA(int metric, int64_t nb, int64_t d, const T *xt,  \
                                                     int64_t ldxt, const T *y, double *out) {           \
        double s[CK_BLOCK], xx[CK_BLOCK];                                                               \
        for (int64_t j = 0; j < nb; j++) { s[j] = 0; xx[j] = 0; }                                       \
        if (metric == TSR_DISTANCE_COSINE) {                                                            \
            double yy = 0;                                                                              \
            for (int64_t t = 0; t < d; t++) {                                                           \
                const T *r = xt + t * ldxt;                                                             \
                const double b = (double)y[t];                                                          \
                const double bb = b * b;                                                                \
                yy = yy + bb;                                                                           \
                for (int64_t j = 0; j < nb; j++) {                                                      \
                    const double a = (double)r[j];                                                      \
                    const double ab = a * b, aa = a * a;                                                \
                    s[j] = s[j] + ab;                                                                   \
                    xx[j] = xx[j] + aa;                                                                 \
                }                                                                                       \
            }                                                                                           \
            for (int64_t j = 0; j < nb; j++) {                                                          \
                const double den = sqrt(xx[j] * yy);                                                    \
                double v = 1 - s[j] / den;                                                              \
                v = v >= 0 ? v : 0;                                                                     \
                v = v < 2 ? v : 2;                                                                      \
                out[j] = den > 0 ? v : 0;                                                               \
            }                                                                                           \
        } else if (metric == TSR_DISTANCE_MANHATTAN) {                                                  \
            for (int64_t t = 0; t < d; t++) {                                                           \
                const T *r = xt + t * ldxt;                                                             \
                const double b = (double)y[t];                                                          \
                for (int64_t j = 0; j < nb; j++) s[j] = s[j] + fabs((double)r[j] - b);                  \
            }                                                                                           \
            for (int64_t j = 0; j < nb; j++) out[j] = s[j];                                             \
        } else {                                                                                        \
            for (int64_t t = 0; t < d; t++) {                                                           \
                const T *r = xt + t * ldxt;                                                             \
                const double b = (double)y[t];                                                          \
                for (int64_t j = 0; j < nb; j++) {                                                      \
                    const double v = (double)r[j] - b;                                                  \
                    const double vv = v * v;                                                            \
                    s[j] = s[j] + vv;                                                                   \
                }                                                                                       \
            }                                                                                           \
            for (int64_t j = 0; j < nb; j++) out[j] = s[j];                                             \
            if (metric == TSR_DISTANCE_EUCLIDEAN) ck_vsqrt_##ISA(out, nb);                              \
        }                                                                                               \
    }

/* PAM delta term of point j for slot m (see tsr_pam_swap_deltas_f32). */
#define CK_PAM_TERM(T, row, near, nd, sd, j, m)                                              \
    ((near)[j] == (m) ? (double)((sd)[j] < (row)[j] ? (sd)[j] : (row)[j]) - (double)(nd)[j] \
                      : ((row)[j] < (nd)[j] ? (double)(row)[j] - (double)(nd)[j] : 0.0))

#define CK_INSTANTIATE_T(T, SFX, ISA, TARGET)                                                             \
    CK_COLUMN_BLOCK(T, SFX, ISA, TARGET)                                                                  \
    TARGET static void ck_column_##SFX##_##ISA(int metric, int64_t n, int64_t d, const T *xt, int64_t ldxt, \
                                              const T *y, double *out) {                                  \
        int64_t j0 = 0;                                                                                   \
        for (; j0 + CK_BLOCK <= n; j0 += CK_BLOCK)                                                        \
            ck_column_block_##SFX##_##ISA(metric, CK_BLOCK, d, xt + j0, ldxt, y, out + j0);               \
        if (j0 < n) ck_column_block_##SFX##_##ISA(metric, n - j0, d, xt + j0, ldxt, y, out + j0);         \
    }                                                                                                     \
    TARGET static void ck_pam_deltas_##SFX##_##ISA(int64_t n, const T *row, const int32_t *near,         \
                                                  const T *nd, const T *sd, int64_t k, double *out) {     \
        for (int64_t m = 0; m < k; m++) {                                                                 \
            const int32_t m32 = (int32_t)m;                                                               \
            double acc[CK_LANES];                                                                         \
            for (int l = 0; l < CK_LANES; l++) acc[l] = 0;                                                \
            int64_t j = 0;                                                                                \
            for (; j + CK_LANES <= n; j += CK_LANES)                                                      \
                for (int l = 0; l < CK_LANES; l++) acc[l] = acc[l] + CK_PAM_TERM(T, row, near, nd, sd, j + l, m32); \
            for (int l = 0; j < n; j++, l++) acc[l] = acc[l] + CK_PAM_TERM(T, row, near, nd, sd, j, m32);  \
            out[m] = ck_reduce16(acc);                                                                    \
        }                                                                                                 \
    }

#include "cluster_kmeans.h"
#include "cluster_rows.h"

/* Defines the kernels of one ISA: ck_column_, ck_pam_deltas_, ck_assign_, ck_kmeans_chunk_, ck_kmeans_label_ and
 * ck_rows_{f32,f64}_ISA (and ck_sym_generic_{f32,f64}_ISA; the includer names its table's
 * ck_sym_{f32,f64}_ISA, the generic one or its own). The includer first defines ck_vsqrt_ISA(double *v, int64_t n): v[j] =
 * sqrt(v[j]) in place, with the vector square root of that ISA (IEEE, correctly rounded: the same
 * bits as libm's sqrt; libm's own call is scalar, it may set errno, and costs 3x the whole
 * column), and the streaming helpers of cluster_rows.h. */
#define CK_INSTANTIATE(ISA, TARGET)                        \
    CK_INSTANTIATE_T(float, f32, ISA, TARGET)              \
    CK_INSTANTIATE_T(double, f64, ISA, TARGET)             \
    CK_KMEANS_T(float, f32, ISA, TARGET, int32_t)                 \
    CK_KMEANS_T(double, f64, ISA, TARGET, int64_t)                 \
    CK_ROWS_T(float, f32, ISA, TARGET)                     \
    CK_ROWS_T(double, f64, ISA, TARGET)

#define CK_TABLE(ISA, LEVEL)                                                               \
    {.head = {#ISA, LEVEL, NULL},                                                          \
     .column_f32 = ck_column_f32_##ISA, .column_f64 = ck_column_f64_##ISA,                 \
     .pam_deltas_f32 = ck_pam_deltas_f32_##ISA, .pam_deltas_f64 = ck_pam_deltas_f64_##ISA, \
     .assign_f32 = ck_assign_f32_##ISA, .assign_f64 = ck_assign_f64_##ISA,                 \
     .kmeans_chunk_f32 = ck_kmeans_chunk_f32_##ISA, .kmeans_chunk_f64 = ck_kmeans_chunk_f64_##ISA, \
     .kmeans_label_f32 = ck_kmeans_label_f32_##ISA, .kmeans_label_f64 = ck_kmeans_label_f64_##ISA, \
     .kmeans_sums_f32 = ck_kmeans_sums_f32_##ISA, .kmeans_sums_f64 = ck_kmeans_sums_f64_##ISA,     \
     .rows_f32 = ck_rows_f32_##ISA, .rows_f64 = ck_rows_f64_##ISA,                         \
     .sym_f32 = ck_sym_f32_##ISA, .sym_f64 = ck_sym_f64_##ISA}

#endif /* TSR_CLUSTER_KERNELS_H */
