/* cluster_internal.h — the clustering microkernel table (docs/KERNELS.md). Not public. */
#ifndef TSR_CLUSTER_INTERNAL_H
#define TSR_CLUSTER_INTERNAL_H

#include "tessera/distance.h"
#include "tsr_kernels.h"

/* The clustering microkernel table. The driver (distance.c) checks the arguments; every slot
 * performs the same IEEE operations in the same order on every ISA (same bits), as its
 * contract in tessera/distance.h states. One call per column or per candidate. */
typedef struct cluster_kernels {
    tsr_kernel_head head;
    /* out[j] = dist(x_j, y), x_j = column j of xt (d × n, stride ldxt); n >= 1, d >= 1 */
    void (*column_f32)(int metric, int64_t n, int64_t d, const float *xt, int64_t ldxt, const float *y, double *out);
    void (*column_f64)(int metric, int64_t n, int64_t d, const double *xt, int64_t ldxt, const double *y,
                       double *out);
    /* out[m] = PAM SWAP loss change of the candidate whose distances are `row`, for m < k */
    void (*pam_deltas_f32)(int64_t n, const float *row, const int32_t *near, const float *near_d,
                           const float *seco_d, int64_t k, double *out);
    void (*pam_deltas_f64)(int64_t n, const double *row, const int32_t *near, const double *near_d,
                           const double *seco_d, int64_t k, double *out);
    /* labels[i] = argmin_c cnorm[c] − 2·fma-chain(x_i · c_c) for i < m; xt: scratch of d × CK_ROWS */
    void (*assign_f32)(int64_t m, int64_t d, const float *x, int64_t ldx, int64_t k, const float *c,
                       const float *cnorm, int64_t *labels, float *xt);
    void (*assign_f64)(int64_t m, int64_t d, const double *x, int64_t ldx, int64_t k, const double *c,
                       const double *cnorm, int64_t *labels, double *xt);
    /* one Lloyd chunk of m rows: labels, *inertia, and (sums != NULL) sums/counts added to;
     * xt: the rows transposed (stride ldxt); scratch: d × (CK_KM_ROWS + CK_KPAD(k)); acc (with
     * sums): k × CK_KM_DPAD(d) doubles, 64-byte aligned */
    void (*kmeans_chunk_f32)(int64_t m, int64_t d, const float *x, int64_t ldx, const float *xt, int64_t ldxt,
                             int64_t k, const float *c, const float *cnorm, int64_t *labels, double *inertia,
                             double *sums, int64_t *counts, float *scratch, double *acc);
    void (*kmeans_chunk_f64)(int64_t m, int64_t d, const double *x, int64_t ldx, const double *xt, int64_t ldxt,
                             int64_t k, const double *c, const double *cnorm, int64_t *labels, double *inertia,
                             double *sums, int64_t *counts, double *scratch, double *acc);
    /* the chunk's assignment half: labels and err[i] = row i's inertia term; scratch as the chunk's */
    void (*kmeans_label_f32)(int64_t m, int64_t d, const float *x, int64_t ldx, const float *xt, int64_t ldxt,
                             int64_t k, const float *c, const float *cnorm, int64_t *labels, double *err,
                             float *scratch);
    void (*kmeans_label_f64)(int64_t m, int64_t d, const double *x, int64_t ldx, const double *xt, int64_t ldxt,
                             int64_t k, const double *c, const double *cnorm, int64_t *labels, double *err,
                             double *scratch);
    /* sums[labels[i]*d + t] += (double)x_it and counts[labels[i]] += 1 for i < m in row order
     * (labels checked by the caller: 0 <= labels[i] < k); acc as the chunk's */
    void (*kmeans_sums_f32)(int64_t m, int64_t d, const float *x, int64_t ldx, int64_t k, const int64_t *labels,
                            double *sums, int64_t *counts, double *acc);
    void (*kmeans_sums_f64)(int64_t m, int64_t d, const double *x, int64_t ldx, int64_t k, const int64_t *labels,
                            double *sums, int64_t *counts, double *acc);
    /* rows i0..i1 of the n × n matrix (not cosine) into out (stride ldo), streaming stores */
    void (*rows_f32)(int metric, int64_t n, int64_t d, const float *xt, int64_t ldxt, const float *x, int64_t ldx,
                     int64_t i0, int64_t i1, float *out, int64_t ldo);
    void (*rows_f64)(int metric, int64_t n, int64_t d, const double *xt, int64_t ldxt, const double *x,
                     int64_t ldx, int64_t i0, int64_t i1, double *out, int64_t ldo);
    /* rows i0..i1 from column i0 on and their mirror into the whole matrix out (stride ldo);
     * scratch: CK_SYM_SCRATCH(d, i1 − i0 rounded up to CK_SYM_B) elements */
    void (*sym_f32)(int metric, int64_t n, int64_t d, const float *xt, int64_t ldxt, const float *x, int64_t ldx,
                    int64_t i0, int64_t i1, float *out, int64_t ldo, float *scratch);
    void (*sym_f64)(int metric, int64_t n, int64_t d, const double *xt, int64_t ldxt, const double *x,
                    int64_t ldx, int64_t i0, int64_t i1, double *out, int64_t ldo, double *scratch);
} cluster_kernels;

/* Rows (and points) of one block of the symmetric kernel. */
#define CK_SYM_B 16
/* Elements of the symmetric kernels' scratch for `rows` rows (a multiple of CK_SYM_B): the rows
 * transposed (d × rows) and the AVX-512 kernel's run state (32 floats per row and per block
 * point, aligned to 64 bytes). */
#define CK_SYM_SCRATCH(d, rows) ((d) * (rows) + 32 * (rows) + 32 * CK_SYM_B + 16)

/* Rows per k-means assignment block (the lanes of the transposed scratch). */
#define CK_ROWS 16
/* Rows per block of the k-means chunk and label kernels (two groups of CK_ROWS lanes). */
#define CK_KM_ROWS (2 * CK_ROWS)
/* Doubles per row of the k-means kernels' aligned copy of the sums (whole 64-byte lines). */
#define CK_KM_DPAD(d) (((d) + 7) / 8 * 8)
/* Centres per feature in the chunk kernel's transposed copy (zero-padded to whole pairs of
 * vectors: the AVX-512 float lookup reads 32-centre tables). */
#define CK_KPAD(k) (((k) + 31) / 32 * 32)

/* The reference table (cluster_scalar.c) and the overrides (cluster_<isa>.c). */
TSR_INTERNAL extern const cluster_kernels tsr_cluster_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const cluster_kernels tsr_cluster_kernels_avx2;
TSR_INTERNAL extern const cluster_kernels tsr_cluster_kernels_avx512;
/* The AVX-512 float symmetric kernel (cluster_sym_avx512.c). */
TSR_INTERNAL void tsr_cluster_sym_f32_avx512(int metric, int64_t n, int64_t d, const float *xt, int64_t ldxt,
                                             const float *x, int64_t ldx, int64_t i0, int64_t i1, float *out,
                                             int64_t ldo, float *scratch);
#endif

#endif /* TSR_CLUSTER_INTERNAL_H */
