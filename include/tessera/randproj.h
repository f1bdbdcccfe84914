/*
 * tessera/randproj.h — random projections D → d (Gaussian, Achlioptas, very sparse).
 * CSR graphs and FastRP node embeddings, which build on them, are in tessera/graph.h
 * (it includes this header; this header does not include it).
 *
 * The projection matrix R (D × d: one row per input dimension, one column per
 * output dimension) is defined entry by entry by a counter-based generator:
 * R[j, k] is a pure function of (seed, j, k). Nothing has to be stored, any
 * thread may compute any entry, and every transform is bit-identical for any
 * thread count and any order of work.
 *
 *   TSR_RP_SPARSE (Li, Hastie, Church 2006; Achlioptas 2003):
 *       R[j,k] = +sqrt(s/d)  with probability 1/(2s)
 *                 0          with probability 1 - 1/s
 *                -sqrt(s/d)  with probability 1/(2s)
 *     s = 1: dense ±1 (Rademacher); s = 3: Achlioptas; s = sqrt(D) (the default,
 *     TSR_RP_S_AUTO): "very sparse", √D-fold fewer operations; any real s >= 1.
 *   TSR_RP_GAUSSIAN: R[j,k] ~ N(0, 1/d).
 *   Both scalings give E ||x R||² = ||x||² (the scaling of scikit-learn's
 *   SparseRandomProjection / GaussianRandomProjection).
 *
 * Transform: Y (n × d) = X (n × D) · R, X dense (any row stride) or CSR.
 * Without tsr_rp_materialize, each call generates the part of R it needs
 * (O(D·d) hashes, done in parallel) and frees it; after tsr_rp_materialize the
 * plan keeps R as CSR (nnz ≈ D·d/s entries) and reuses it. A CSR input is
 * never densified: each stored x[i, j] meets only the nonzeros of row j of R.
 *
 * Summation order is fixed (ascending j for each output, products then a
 * single multiplication by the scale for sparse kinds; fused multiply-add in
 * ascending j for Gaussian), so the scalar and vector kernels and all thread
 * counts give the same bits.
 *
 *     tsr_rp_params p; tsr_rp_params_default(&p);       // sparse, s = sqrt(D), seed 42
 *     tsr_rp_t *rp; tsr_rp_create(10000, 256, &p, &rp);
 *     tsr_rp_transform_f32(NULL, rp, n, X, 10000, Y, 256); // Y: n × 256
 *     tsr_rp_destroy(rp);
 */
#ifndef TESSERA_RANDPROJ_H
#define TESSERA_RANDPROJ_H

#include "core.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Distribution of the entries of R. Append-only. */
typedef enum tsr_rp_kind {
    TSR_RP_SPARSE = 0,    /**< sqrt(s/d)·{+1, 0, −1} with probabilities {1/2s, 1−1/s, 1/2s} */
    TSR_RP_GAUSSIAN = 1,  /**< N(0, 1/d) */
    TSR_RP_KIND_COUNT
} tsr_rp_kind;

/** `s` value meaning "sqrt(D)" (Li, Hastie and Church's recommendation). */
#define TSR_RP_S_AUTO 0.0
/** `s` of Achlioptas' database-friendly projection. */
#define TSR_RP_S_ACHLIOPTAS 3.0

/** Projection parameters; start from tsr_rp_params_default(). */
typedef struct tsr_rp_params {
    uint32_t size;        /**< sizeof(tsr_rp_params) */
    tsr_rp_kind kind;     /**< default TSR_RP_SPARSE */
    double s;             /**< sparsity for TSR_RP_SPARSE, >= 1; TSR_RP_S_AUTO (0) = sqrt(D) (default) */
    uint64_t seed;        /**< default 42 */
} tsr_rp_params;

/** Fills `p` with the defaults (sparse, s = sqrt(D), seed 42). NULL-safe. */
TSR_API void tsr_rp_params_default(tsr_rp_params *p);

/** Opaque projection plan: D, d, distribution, seed, and optionally R as CSR. */
typedef struct tsr_rp tsr_rp_t;

/**
 * Creates a plan projecting `in_dim` (D >= 1) dimensions to `out_dim` (d >= 1).
 * `params` may be NULL (defaults). Stores no matrix (O(1) memory).
 * Errors: TSR_EINVAL (NULL out, D or d <= 0, bad kind, s < 1 or not finite),
 * TSR_ENOMEM.
 */
TSR_API tsr_status tsr_rp_create(int64_t in_dim, int32_t out_dim, const tsr_rp_params *params,
                                 tsr_rp_t **out);

/** Frees the plan and its materialised matrix. NULL-safe. */
TSR_API void tsr_rp_destroy(tsr_rp_t *rp);

/** Description of a plan. `size` must be set by the caller. */
typedef struct tsr_rp_info {
    uint32_t size;        /**< sizeof(tsr_rp_info) */
    int64_t in_dim;       /**< D */
    int32_t out_dim;      /**< d */
    tsr_rp_kind kind;
    double s;             /**< effective s (1 for Gaussian) */
    double density;       /**< expected fraction of nonzeros, 1/s */
    double scale;         /**< |nonzero| = sqrt(s/d) for sparse; standard deviation 1/sqrt(d) for Gaussian */
    uint64_t seed;
    int32_t materialized; /**< 1 after tsr_rp_materialize */
    int64_t nnz;          /**< stored entries when materialised, else 0 */
    int64_t bytes;        /**< memory held by the plan */
} tsr_rp_info;

/** Fills `out` (out->size must be set) with the plan's description. Errors: TSR_EINVAL
 *  (NULL, size too small). */
TSR_API tsr_status tsr_rp_info_get(const tsr_rp_t *rp, tsr_rp_info *out);
/** Deprecated name of tsr_rp_info_get (docs/CONVENTIONS.md: describe means text). */
TSR_DEPRECATED(TSR_API tsr_status tsr_rp_describe(const tsr_rp_t *rp, tsr_rp_info *out), "use tsr_rp_info_get");

/**
 * The entry R[row, col] (row < D, col < d) as a double, computed from
 * (seed, row, col) alone; equal to the (float-rounded, for f32 transforms)
 * value the transforms use. Errors: TSR_EINVAL (NULL), TSR_ERANGE (index out of range).
 */
TSR_API tsr_status tsr_rp_entry(const tsr_rp_t *rp, int64_t row, int32_t col, double *value);

/**
 * Generates R once and keeps it in the plan as CSR over input rows (and, for
 * dense inputs, its transpose), so later transforms skip the generation.
 * R takes about 32·D·d/s bytes (16·D·d for Gaussian, whose transpose is not
 * kept) plus 8·D. Idempotent. Not thread-safe with respect to transforms on
 * the same plan. Errors: TSR_EINVAL, TSR_ERANGE (D >= INT32_MAX), TSR_ENOMEM,
 * also — before any entry is generated or anything allocated — when R would
 * take more than half of the machine's physical memory (the message gives D,
 * d, s and both sizes): D·d is bounded by the memory, not by a constant.
 * Generating R hashes all D·d entries whatever s is, so D·d is also bounded by
 * TSR_RP_MAX_GENERATED (TSR_ERANGE above it: about a minute of hashing on one core).
 * Without materialisation, CSR inputs never need all of R (see
 * tsr_rp_transform_csr_f32); dense inputs build R for each call, with the same bounds.
 */
#define TSR_RP_MAX_GENERATED 68719476736.0 /* 2^36 hashed entries */
TSR_API tsr_status tsr_rp_materialize(tsr_pool_t *pool, tsr_rp_t *rp);

/**
 * Read-only view of the materialised R as CSR (D rows, d columns):
 * row j holds entries indices[indptr[j] .. indptr[j+1]) with values (f32 and
 * f64 views of the same entries), column indices ascending. Pointers stay
 * valid until tsr_rp_destroy. Any output pointer may be NULL.
 * Errors: TSR_EINVAL (NULL rp), TSR_ESTATE (not materialised).
 */
TSR_API tsr_status tsr_rp_csr(const tsr_rp_t *rp, const int64_t **indptr, const int32_t **indices,
                              const float **values_f32, const double **values_f64, int64_t *nnz);

/**
 * Y = X · R for a dense X: `n` rows of D elements, row i at x + i*ldx
 * (ldx >= D); Y row i at y + i*ldy (ldy >= d). Parallel over blocks of 16 rows
 * on `pool` (NULL = default). n == 0 is a no-op. X and Y must not overlap.
 * A plan that is not materialised builds R for the call (as tsr_rp_materialize).
 * Errors: TSR_EINVAL (NULL, n < 0, ld too small), TSR_ERANGE (size overflow,
 * D >= INT32_MAX), TSR_ENOMEM (also when R or the per-worker scratch, which
 * grows with d, would take more than half of the physical memory).
 */
TSR_API tsr_status tsr_rp_transform_f32(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                        const float *x, int64_t ldx, float *y, int64_t ldy);
/** As tsr_rp_transform_f32, in double precision (entries of R in double). */
TSR_API tsr_status tsr_rp_transform_f64(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                        const double *x, int64_t ldx, double *y, int64_t ldy);

/**
 * As tsr_rp_transform_f32 / _f64, and X must be finite: each block of rows is scanned for NaN
 * and ±inf just before the kernel reads it (from cache, so no extra pass over X in memory).
 * For finite X, Y equals tsr_rp_transform_*'s bit for bit. Errors: as tsr_rp_transform_*, and
 * TSR_EINVAL naming the first row that holds NaN or inf (Y is then unspecified).
 */
TSR_API tsr_status tsr_rp_transform_checked_f32(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                                const float *x, int64_t ldx, float *y, int64_t ldy);
/** As tsr_rp_transform_checked_f32, in double precision. */
TSR_API tsr_status tsr_rp_transform_checked_f64(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                                const double *x, int64_t ldx, double *y, int64_t ldy);

/**
 * Y = X · R for a CSR X with `n` rows: row i holds columns indices[p] with
 * values values[p] for p in [indptr[i], indptr[i+1]); indptr[0] may be > 0
 * (a slice of a larger CSR). Columns must be in [0, D); they need not be sorted
 * (with sorted columns the result equals the dense transform's bit for bit).
 * Duplicates add up. X is never densified: the cost is nnz(X)·d/s.
 * A plan that is not materialised builds R for the call only when D <= nnz(X)
 * and R fits in memory; otherwise each stored entry generates its own row of R,
 * so any D·d works. Y row i at y + i*ldy (ldy >= d), overwritten.
 * Errors: TSR_EINVAL (NULL, n < 0, indptr decreasing, ld too small),
 * TSR_ERANGE (a column index outside [0, D), naming the first such position;
 * Y is then unspecified), TSR_ENOMEM.
 */
TSR_API tsr_status tsr_rp_transform_csr_f32(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                            const int64_t *indptr, const int64_t *indices,
                                            const float *values, float *y, int64_t ldy);
/** As tsr_rp_transform_csr_f32, in double precision. */
TSR_API tsr_status tsr_rp_transform_csr_f64(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                            const int64_t *indptr, const int64_t *indices,
                                            const double *values, double *y, int64_t ldy);

/**
 * As tsr_rp_transform_csr_f32 with 32-bit indptr and indices (scipy's CSR
 * index type below 2^31 stored entries), read in place: the same bits as the
 * 64-bit-index call on the same matrix, the same errors.
 */
TSR_API tsr_status tsr_rp_transform_csr32_f32(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                              const int32_t *indptr, const int32_t *indices,
                                              const float *values, float *y, int64_t ldy);
/** As tsr_rp_transform_csr32_f32, in double precision. */
TSR_API tsr_status tsr_rp_transform_csr32_f64(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                              const int32_t *indptr, const int32_t *indices,
                                              const double *values, double *y, int64_t ldy);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_RANDPROJ_H */
