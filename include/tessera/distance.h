/*
 * tessera/distance.h — dissimilarity kernels for clustering: all distances from one point
 * to n points (the on-demand column of CLARANS / FastCLARANS and CLARA), the loss changes
 * of the original PAM SWAP for one candidate against every medoid, and the k-means
 * nearest-centre assignment (direct, blocked over points; no GEMM at small d and k).
 *
 * Numerics: every path (scalar, AVX2, AVX-512) performs the same IEEE operations in the
 * same order for every output, so all paths give the same bits (no fused multiply-add).
 * The column kernels reproduce, bit for bit, the float64 reference formulas of
 * TesseraCluster's `DistanceMetric.distance` (sums over the features in order, in double).
 */
#ifndef TESSERA_DISTANCE_H
#define TESSERA_DISTANCE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Metrics of the column kernels; the values equal those of tsr_cluster_metric. Append-only. */
typedef enum tsr_distance_kind {
    TSR_DISTANCE_EUCLIDEAN = 1,    /**< √Σ(x_t − y_t)² */
    TSR_DISTANCE_SQEUCLIDEAN = 2,  /**< Σ(x_t − y_t)² */
    TSR_DISTANCE_MANHATTAN = 3,    /**< Σ|x_t − y_t| */
    TSR_DISTANCE_COSINE = 4        /**< 1 − x·y / √(‖x‖²‖y‖²), clamped to [0, 2]; 0 if a norm is 0 */
} tsr_distance_kind;

/**
 * Distances from the point y (d values) to the n points stored transposed in xt: feature t
 * of point j is xt[t*ldxt + j] (ldxt >= n). out[j] (n doubles) = dist(x_j, y), each feature
 * difference and product formed in double and summed over t = 0..d−1 in order.
 * Errors: TSR_EINVAL (NULL pointers, n < 0, d < 1, ldxt < n, an unknown metric).
 * n == 0 does nothing. Single-threaded; safe to call from several threads at once.
 */
TSR_API tsr_status tsr_distance_column_f32(tsr_distance_kind metric, int64_t n, int64_t d, const float *xt,
                                           int64_t ldxt, const float *y, double *out);
/** As tsr_distance_column_f32 with double data. */
TSR_API tsr_status tsr_distance_column_f64(tsr_distance_kind metric, int64_t n, int64_t d, const double *xt,
                                           int64_t ldxt, const double *y, double *out);

/**
 * PAM SWAP (Kaufman & Rousseeuw) loss changes of one candidate o against every medoid slot.
 * row[j] = d(j, o) for the n points; near[j] (in 0..k−1), near_d[j] and seco_d[j] are the
 * slot and distance of each point's nearest medoid and the distance of its second nearest.
 * out[m] (k doubles) = Σ_j δ_j(m) with δ_j(m) = min(row[j], seco_d[j]) − near_d[j] when
 * near[j] == m, else min(row[j] − near_d[j], 0) (differences in double). The sum runs over
 * 16 interleaved partial sums (point j into sum j mod 16, in order) added pairwise at the end,
 * so the result does not depend on the ISA. Errors: TSR_EINVAL (NULL pointers, n < 0,
 * k < 1, a near slot outside 0..k−1 is not checked: the caller's cache guarantees it).
 */
TSR_API tsr_status tsr_pam_swap_deltas_f32(int64_t n, const float *row, const int32_t *near, const float *near_d,
                                           const float *seco_d, int64_t k, double *out);
/** As tsr_pam_swap_deltas_f32 with double distances. */
TSR_API tsr_status tsr_pam_swap_deltas_f64(int64_t n, const double *row, const int32_t *near, const double *near_d,
                                           const double *seco_d, int64_t k, double *out);

/**
 * k-means assignment: labels[i] = argmin over c < k of cnorm[c] − 2·(x_i · c_c) for the m rows
 * of x (row i at x + i*ldx, ldx >= d), centres c (k × d, stride d) and cnorm[c] = ‖c_c‖²
 * (the caller's). The dot product is a chain of fused multiply-adds over t = 0..d−1 in order
 * (fmaf on every path, so every ISA gives the same bits); ties go to the lowest c.
 * Errors: TSR_EINVAL (NULL pointers, m < 0, d < 1, k < 1, ldx < d), TSR_ENOMEM.
 * Single-threaded; safe to call from several threads at once.
 */
TSR_API tsr_status tsr_kmeans_assign_f32(int64_t m, int64_t d, const float *x, int64_t ldx, int64_t k,
                                         const float *centers, const float *cnorm, int64_t *labels);
/** As tsr_kmeans_assign_f32 in double (fma). */
TSR_API tsr_status tsr_kmeans_assign_f64(int64_t m, int64_t d, const double *x, int64_t ldx, int64_t k,
                                         const double *centers, const double *cnorm, int64_t *labels);

/**
 * One Lloyd step over m rows (one accumulation chunk), fused: labels[i] as tsr_kmeans_assign_f32
 * (the same bits), *inertia = Σ_i e_i added in row order from 0, with
 * e_i = Σ_t ((double)x_it − (double)c_{labels[i],t})² over t in order, and, when sums is not
 * NULL, sums[c*d + t] += (double)x_it and counts[c] += 1 for c = labels[i], in row order (the
 * caller zeroes them first). x: row i at x + i*ldx (ldx >= d); xt: the same m rows transposed,
 * feature t of row i at xt[t*ldxt + i] (ldxt >= m; the assignment reads it in place).
 * Every ISA gives the same bits. Errors: TSR_EINVAL (NULL pointers, m < 0, d < 1, k < 1,
 * ldx < d, ldxt < m, only one of sums and counts), TSR_ENOMEM.
 * Single-threaded; safe to call from several threads at once on separate outputs.
 */
TSR_API tsr_status tsr_kmeans_chunk_f32(int64_t m, int64_t d, const float *x, int64_t ldx, const float *xt,
                                        int64_t ldxt, int64_t k, const float *centers, const float *cnorm,
                                        int64_t *labels, double *inertia, double *sums, int64_t *counts);
/** As tsr_kmeans_chunk_f32 with double data (the assignment as tsr_kmeans_assign_f64). */
TSR_API tsr_status tsr_kmeans_chunk_f64(int64_t m, int64_t d, const double *x, int64_t ldx, const double *xt,
                                        int64_t ldxt, int64_t k, const double *centers, const double *cnorm,
                                        int64_t *labels, double *inertia, double *sums, int64_t *counts);

/**
 * The assignment half of tsr_kmeans_chunk_f32, row by row: labels[i] as tsr_kmeans_assign_f32
 * (the same bits) and err[i] = e_i = Σ_t ((double)x_it − (double)c_{labels[i],t})² over t in
 * order, the term tsr_kmeans_chunk_f32 adds into its inertia. Arguments as tsr_kmeans_chunk_f32
 * (xt: the same m rows transposed, read in place), err: m doubles. With tsr_kmeans_accumulate_f32
 * over a chunk's rows afterwards, the rows of one chunk can be labelled by several threads (any
 * split) and still give the chunk kernel's bits. Every ISA gives the same bits.
 * Errors: TSR_EINVAL (NULL pointers, m < 0, d < 1, k < 1, ldx < d, ldxt < m), TSR_ENOMEM.
 * Single-threaded; safe to call from several threads at once on separate outputs.
 */
TSR_API tsr_status tsr_kmeans_label_f32(int64_t m, int64_t d, const float *x, int64_t ldx, const float *xt,
                                        int64_t ldxt, int64_t k, const float *centers, const float *cnorm,
                                        int64_t *labels, double *err);
/** As tsr_kmeans_label_f32 with double data (the chunk kernel's f64 labels and errors). */
TSR_API tsr_status tsr_kmeans_label_f64(int64_t m, int64_t d, const double *x, int64_t ldx, const double *xt,
                                        int64_t ldxt, int64_t k, const double *centers, const double *cnorm,
                                        int64_t *labels, double *err);

/**
 * The accumulation half of tsr_kmeans_chunk_f32 for given labels: *inertia = Σ_i err[i] added in
 * row order from 0 and, when sums is not NULL, sums[c*d + t] += (double)x_it and counts[c] += 1
 * for c = labels[i], in row order (the caller zeroes them first). After tsr_kmeans_label_f32 on
 * the same m rows, the results have the bits of tsr_kmeans_chunk_f32 over those rows. x: row i at
 * x + i*ldx (ldx >= d; may be NULL without sums). Errors: TSR_EINVAL (NULL pointers, m < 0,
 * d < 1, k < 1, ldx < d, only one of sums and counts, a label outside 0..k−1; nothing is written
 * then). Single-threaded.
 */
TSR_API tsr_status tsr_kmeans_accumulate_f32(int64_t m, int64_t d, const float *x, int64_t ldx, int64_t k,
                                             const int64_t *labels, const double *err, double *inertia,
                                             double *sums, int64_t *counts);
/** As tsr_kmeans_accumulate_f32 with double data. */
TSR_API tsr_status tsr_kmeans_accumulate_f64(int64_t m, int64_t d, const double *x, int64_t ldx, int64_t k,
                                             const int64_t *labels, const double *err, double *inertia,
                                             double *sums, int64_t *counts);

/**
 * Rows i0 <= i < i1 of the full n × n distance matrix of n points: out[(i − i0)*ldo + j] =
 * dist(x_i, x_j) for every j < n. The points are given twice: row-major (point i at
 * x + i*ldx, ldx >= d) and transposed (feature t of point j at xt[t*ldxt + j], ldxt >= n).
 * In float, features in order: Euclidean and squared Euclidean s = fmaf(v, v, s) with
 * v = x_jt − x_it (Euclidean then sqrtf), Manhattan s = s + |v|. Since the operations are
 * symmetric in the two points, d(i, j) and d(j, i) have the same bits and d(i, i) = 0; every
 * ISA gives the same bits. The rows are written with streaming (non-temporal) stores, fenced
 * before the return. Cosine is not offered (TSR_EINVAL). Errors: TSR_EINVAL (NULL pointers,
 * n < 0, d < 1, ldxt < n, ldx < d, ldo < n, not 0 <= i0 <= i1 <= n, metric not 1..3).
 * Single-threaded; call it on disjoint row ranges from several threads to fill a matrix.
 */
TSR_API tsr_status tsr_distance_rows_f32(tsr_distance_kind metric, int64_t n, int64_t d, const float *xt,
                                         int64_t ldxt, const float *x, int64_t ldx, int64_t i0, int64_t i1,
                                         float *out, int64_t ldo);
/** As tsr_distance_rows_f32 in double (fma, sqrt). */
TSR_API tsr_status tsr_distance_rows_f64(tsr_distance_kind metric, int64_t n, int64_t d, const double *xt,
                                         int64_t ldxt, const double *x, int64_t ldx, int64_t i0, int64_t i1,
                                         double *out, int64_t ldo);

/**
 * The distance matrix by symmetric row blocks: for i0 <= i < i1 and every j >= i0, dist(x_i, x_j)
 * into out[i*ldo + j] and into out[j*ldo + i] (out is the whole n × n matrix, row 0 first):
 * rows i0..i1 from column i0 on, and their mirror, columns i0..i1 of the rows below. Calls for
 * consecutive ranges covering 0..n fill the whole matrix, each entry written once; calls for
 * disjoint ranges write disjoint entries, so they may run at once. Every entry has the bits of
 * tsr_distance_rows_f32 (the same per-pair formula; every ISA the same bits); each pair in the
 * block is computed once and stored twice, half the arithmetic of whole rows (the AVX-512 path
 * transposes 16 × 16 blocks in registers). Streaming stores where a row segment is aligned,
 * fenced before the return. Arguments and errors as tsr_distance_rows_f32, plus TSR_ENOMEM (a
 * d × 16 scratch). Single-threaded.
 */
TSR_API tsr_status tsr_distance_symmetric_f32(tsr_distance_kind metric, int64_t n, int64_t d, const float *xt,
                                              int64_t ldxt, const float *x, int64_t ldx, int64_t i0, int64_t i1,
                                              float *out, int64_t ldo);
/** As tsr_distance_symmetric_f32 in double (fma, sqrt). */
TSR_API tsr_status tsr_distance_symmetric_f64(tsr_distance_kind metric, int64_t n, int64_t d, const double *xt,
                                              int64_t ldxt, const double *x, int64_t ldx, int64_t i0, int64_t i1,
                                              double *out, int64_t ldo);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_DISTANCE_H */
