/* Clustering dissimilarity kernels: argument checks and the kernel selector (tsr_kernels.h). */
#include <stdlib.h>

#include "tessera/distance.h"
#include "cluster_internal.h"

static void cluster_overlay(void *dst, const void *src) {
    cluster_kernels *d = dst;
    const cluster_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, column_f32);
    TSR_KERNEL_INHERIT(d, o, column_f64);
    TSR_KERNEL_INHERIT(d, o, pam_deltas_f32);
    TSR_KERNEL_INHERIT(d, o, pam_deltas_f64);
    TSR_KERNEL_INHERIT(d, o, assign_f32);
    TSR_KERNEL_INHERIT(d, o, assign_f64);
    TSR_KERNEL_INHERIT(d, o, kmeans_chunk_f32);
    TSR_KERNEL_INHERIT(d, o, kmeans_chunk_f64);
    TSR_KERNEL_INHERIT(d, o, kmeans_label_f32);
    TSR_KERNEL_INHERIT(d, o, kmeans_label_f64);
    TSR_KERNEL_INHERIT(d, o, kmeans_sums_f32);
    TSR_KERNEL_INHERIT(d, o, kmeans_sums_f64);
    TSR_KERNEL_INHERIT(d, o, rows_f32);
    TSR_KERNEL_INHERIT(d, o, rows_f64);
    TSR_KERNEL_INHERIT(d, o, sym_f32);
    TSR_KERNEL_INHERIT(d, o, sym_f64);
}

static const void *const cluster_overrides[] = {
#if TSR_X86
    &tsr_cluster_kernels_avx2, &tsr_cluster_kernels_avx512,
#endif
    NULL};
static cluster_kernels cluster_tables[TSR_ISA_COUNT];
static tsr_kernel_registry cluster_registry = TSR_KERNEL_REGISTRY(
    "cluster", cluster_kernels, &tsr_cluster_kernels_ref, cluster_overrides, cluster_overlay, cluster_tables);

static const cluster_kernels *kernels(void) { return tsr_kernels_select(&cluster_registry, tsr_isa_active()); }

static tsr_status check_column(const char *fn, tsr_distance_kind metric, int64_t n, int64_t d, const void *xt,
                               int64_t ldxt, const void *y, const double *out) {
    TSR_CHECK_ARG(metric >= TSR_DISTANCE_EUCLIDEAN && metric <= TSR_DISTANCE_COSINE,
                  "%s: unknown metric %d (1 euclidean, 2 sqeuclidean, 3 manhattan, 4 cosine)", fn, (int)metric);
    TSR_CHECK_ARG(n >= 0, "%s: n must be >= 0 (got %lld)", fn, (long long)n);
    TSR_CHECK_ARG(d >= 1, "%s: d must be >= 1 (got %lld)", fn, (long long)d);
    TSR_CHECK_ARG(ldxt >= n, "%s: ldxt %lld is smaller than n = %lld", fn, (long long)ldxt, (long long)n);
    TSR_CHECK_ARG(n == 0 || (xt && y && out), "%s: xt, y and out must not be NULL", fn);
    return TSR_OK;
}

tsr_status tsr_distance_column_f32(tsr_distance_kind metric, int64_t n, int64_t d, const float *xt, int64_t ldxt,
                                   const float *y, double *out) {
    tsr_status s = check_column("tsr_distance_column_f32", metric, n, d, xt, ldxt, y, out);
    if (s != TSR_OK || n == 0) return s;
    kernels()->column_f32((int)metric, n, d, xt, ldxt, y, out);
    return TSR_OK;
}

tsr_status tsr_distance_column_f64(tsr_distance_kind metric, int64_t n, int64_t d, const double *xt, int64_t ldxt,
                                   const double *y, double *out) {
    tsr_status s = check_column("tsr_distance_column_f64", metric, n, d, xt, ldxt, y, out);
    if (s != TSR_OK || n == 0) return s;
    kernels()->column_f64((int)metric, n, d, xt, ldxt, y, out);
    return TSR_OK;
}

static tsr_status check_pam(const char *fn, int64_t n, const void *row, const int32_t *near, const void *nd,
                            const void *sd, int64_t k, const double *out) {
    TSR_CHECK_ARG(n >= 0, "%s: n must be >= 0 (got %lld)", fn, (long long)n);
    TSR_CHECK_ARG(k >= 1, "%s: k must be >= 1 (got %lld)", fn, (long long)k);
    TSR_CHECK_ARG(out != NULL, "%s: out must not be NULL", fn);
    TSR_CHECK_ARG(n == 0 || (row && near && nd && sd), "%s: row, near, near_d and seco_d must not be NULL", fn);
    return TSR_OK;
}

tsr_status tsr_pam_swap_deltas_f32(int64_t n, const float *row, const int32_t *near, const float *near_d,
                                   const float *seco_d, int64_t k, double *out) {
    tsr_status s = check_pam("tsr_pam_swap_deltas_f32", n, row, near, near_d, seco_d, k, out);
    if (s != TSR_OK) return s;
    kernels()->pam_deltas_f32(n, row, near, near_d, seco_d, k, out);
    return TSR_OK;
}

tsr_status tsr_pam_swap_deltas_f64(int64_t n, const double *row, const int32_t *near, const double *near_d,
                                   const double *seco_d, int64_t k, double *out) {
    tsr_status s = check_pam("tsr_pam_swap_deltas_f64", n, row, near, near_d, seco_d, k, out);
    if (s != TSR_OK) return s;
    kernels()->pam_deltas_f64(n, row, near, near_d, seco_d, k, out);
    return TSR_OK;
}

static tsr_status check_assign(const char *fn, int64_t m, int64_t d, const void *x, int64_t ldx, int64_t k,
                               const void *c, const void *cn, const int64_t *labels) {
    TSR_CHECK_ARG(m >= 0, "%s: m must be >= 0 (got %lld)", fn, (long long)m);
    TSR_CHECK_ARG(d >= 1, "%s: d must be >= 1 (got %lld)", fn, (long long)d);
    TSR_CHECK_ARG(k >= 1, "%s: k must be >= 1 (got %lld)", fn, (long long)k);
    TSR_CHECK_ARG(ldx >= d, "%s: ldx %lld is smaller than d = %lld", fn, (long long)ldx, (long long)d);
    TSR_CHECK_ARG(m == 0 || (x && c && cn && labels), "%s: x, centers, cnorm and labels must not be NULL", fn);
    TSR_CHECK_ARG(d <= INT64_MAX / CK_ROWS / 8, "%s: d = %lld is too large", fn, (long long)d);
    return TSR_OK;
}

tsr_status tsr_kmeans_assign_f32(int64_t m, int64_t d, const float *x, int64_t ldx, int64_t k, const float *centers,
                                 const float *cnorm, int64_t *labels) {
    tsr_status s = check_assign("tsr_kmeans_assign_f32", m, d, x, ldx, k, centers, cnorm, labels);
    if (s != TSR_OK || m == 0) return s;
    float *xt = malloc((size_t)d * CK_ROWS * sizeof(float));
    if (!xt) return tsr_error(TSR_ENOMEM, "tsr_kmeans_assign_f32: no memory for %lld x %d scratch", (long long)d, CK_ROWS);
    kernels()->assign_f32(m, d, x, ldx, k, centers, cnorm, labels, xt);
    free(xt);
    return TSR_OK;
}

tsr_status tsr_kmeans_assign_f64(int64_t m, int64_t d, const double *x, int64_t ldx, int64_t k, const double *centers,
                                 const double *cnorm, int64_t *labels) {
    tsr_status s = check_assign("tsr_kmeans_assign_f64", m, d, x, ldx, k, centers, cnorm, labels);
    if (s != TSR_OK || m == 0) return s;
    double *xt = malloc((size_t)d * CK_ROWS * sizeof(double));
    if (!xt) return tsr_error(TSR_ENOMEM, "tsr_kmeans_assign_f64: no memory for %lld x %d scratch", (long long)d, CK_ROWS);
    kernels()->assign_f64(m, d, x, ldx, k, centers, cnorm, labels, xt);
    free(xt);
    return TSR_OK;
}

static tsr_status check_chunk(const char *fn, int64_t m, int64_t d, const void *x, int64_t ldx, const void *xt,
                              int64_t ldxt, int64_t k, const void *c, const void *cn, const int64_t *labels,
                              const double *inertia, const double *sums, const int64_t *counts) {
    tsr_status s = check_assign(fn, m, d, x, ldx, k, c, cn, labels);
    if (s != TSR_OK) return s;
    TSR_CHECK_ARG(ldxt >= m, "%s: ldxt %lld is smaller than m = %lld", fn, (long long)ldxt, (long long)m);
    TSR_CHECK_ARG(inertia != NULL && (m == 0 || xt), "%s: xt and inertia must not be NULL", fn);
    TSR_CHECK_ARG((sums == NULL) == (counts == NULL), "%s: give both sums and counts, or neither", fn);
    return TSR_OK;
}

/* The chunk kernels' scratch (d × (CK_KM_ROWS + CK_KPAD(k)) elements of `elem` bytes) and, with
 * sums, their aligned copy of the sums after it (k × CK_KM_DPAD(d) doubles, 64-byte aligned): one
 * allocation in *scratch (tsr_free), *acc the copy (NULL without sums). */
static tsr_status chunk_scratch(const char *fn, int64_t d, int64_t k, size_t elem, int with_sums, void **scratch,
                                double **acc) {
    *scratch = NULL;
    *acc = NULL;
    TSR_CHECK_ARG(k <= INT32_MAX && d <= INT64_MAX / 8 / (CK_KM_ROWS + CK_KPAD(k)), "%s: k = %lld, d = %lld too large",
                  fn, (long long)k, (long long)d);
    const size_t head = ((size_t)(d * (CK_KM_ROWS + CK_KPAD(k))) * elem + 63) / 64 * 64;
    const size_t bytes = head + (with_sums ? (size_t)k * (size_t)CK_KM_DPAD(d) * sizeof(double) : 0);
    char *p = tsr_malloc(bytes);
    if (!p) return tsr_error(TSR_ENOMEM, "%s: no memory for scratch (d = %lld, k = %lld)", fn, (long long)d, (long long)k);
    *scratch = p;
    if (with_sums) *acc = (double *)(p + head);
    return TSR_OK;
}

#define CK_CHUNK_DRIVER(T, SFX)                                                                              \
    tsr_status tsr_kmeans_chunk_##SFX(int64_t m, int64_t d, const T *x, int64_t ldx, const T *xt, int64_t ldxt, \
                                      int64_t k, const T *centers, const T *cnorm, int64_t *labels,         \
                                      double *inertia, double *sums, int64_t *counts) {                     \
        static const char fn[] = "tsr_kmeans_chunk_" #SFX;                                                  \
        tsr_status s = check_chunk(fn, m, d, x, ldx, xt, ldxt, k, centers, cnorm, labels, inertia, sums, counts); \
        if (s != TSR_OK) return s;                                                                          \
        *inertia = 0;                                                                                       \
        if (m == 0) return TSR_OK;                                                                          \
        void *scratch;                                                                                      \
        double *acc;                                                                                        \
        if ((s = chunk_scratch(fn, d, k, sizeof(T), sums != NULL, &scratch, &acc)) != TSR_OK) return s;     \
        kernels()->kmeans_chunk_##SFX(m, d, x, ldx, xt, ldxt, k, centers, cnorm, labels, inertia, sums, counts, \
                                      scratch, acc);                                                        \
        tsr_free(scratch);                                                                                  \
        return TSR_OK;                                                                                      \
    }

CK_CHUNK_DRIVER(float, f32)
CK_CHUNK_DRIVER(double, f64)

/* The split Lloyd chunk: the labels with per-row errors, then the accumulation of given labels
 * (the kernel table: the same additions in the same order on every ISA). */
#define CK_LABEL_DRIVER(T, SFX)                                                                              \
    tsr_status tsr_kmeans_label_##SFX(int64_t m, int64_t d, const T *x, int64_t ldx, const T *xt, int64_t ldxt, \
                                      int64_t k, const T *centers, const T *cnorm, int64_t *labels, double *err) { \
        static const char fn[] = "tsr_kmeans_label_" #SFX;                                                  \
        tsr_status s = check_assign(fn, m, d, x, ldx, k, centers, cnorm, labels);                           \
        if (s != TSR_OK) return s;                                                                          \
        TSR_CHECK_ARG(ldxt >= m, "%s: ldxt %lld is smaller than m = %lld", fn, (long long)ldxt, (long long)m); \
        TSR_CHECK_ARG(m == 0 || (xt && err), "%s: xt and err must not be NULL", fn);                        \
        if (m == 0) return TSR_OK;                                                                          \
        void *scratch;                                                                                      \
        double *acc;                                                                                        \
        if ((s = chunk_scratch(fn, d, k, sizeof(T), 0, &scratch, &acc)) != TSR_OK) return s;                \
        kernels()->kmeans_label_##SFX(m, d, x, ldx, xt, ldxt, k, centers, cnorm, labels, err, scratch);     \
        tsr_free(scratch);                                                                                  \
        return TSR_OK;                                                                                      \
    }                                                                                                       \
    tsr_status tsr_kmeans_accumulate_##SFX(int64_t m, int64_t d, const T *x, int64_t ldx, int64_t k,       \
                                           const int64_t *labels, const double *err, double *inertia,      \
                                           double *sums, int64_t *counts) {                                \
        static const char fn[] = "tsr_kmeans_accumulate_" #SFX;                                             \
        TSR_CHECK_ARG(m >= 0, "%s: m must be >= 0 (got %lld)", fn, (long long)m);                           \
        TSR_CHECK_ARG(d >= 1, "%s: d must be >= 1 (got %lld)", fn, (long long)d);                           \
        TSR_CHECK_ARG(k >= 1, "%s: k must be >= 1 (got %lld)", fn, (long long)k);                           \
        TSR_CHECK_ARG(ldx >= d, "%s: ldx %lld is smaller than d = %lld", fn, (long long)ldx, (long long)d); \
        TSR_CHECK_ARG(inertia != NULL, "%s: inertia must not be NULL", fn);                                 \
        TSR_CHECK_ARG((sums == NULL) == (counts == NULL), "%s: give both sums and counts, or neither", fn);  \
        TSR_CHECK_ARG(m == 0 || (labels && err && (x || !sums)), "%s: x, labels and err must not be NULL", fn); \
        for (int64_t i = 0; i < m; i++)                                                                     \
            TSR_CHECK_ARG(labels[i] >= 0 && labels[i] < k, "%s: labels[%lld] = %lld outside 0..<%lld", fn,    \
                          (long long)i, (long long)labels[i], (long long)k);                                \
        double *acc = NULL;                                                                                 \
        if (sums && m > 0) {                                                                                \
            TSR_CHECK_ARG(k <= INT32_MAX && d <= INT64_MAX / 8 / k - 8, "%s: k = %lld, d = %lld too large", fn, \
                          (long long)k, (long long)d);                                                      \
            acc = tsr_malloc((size_t)k * (size_t)CK_KM_DPAD(d) * sizeof(double));                           \
            if (!acc) return tsr_error(TSR_ENOMEM, "%s: no memory for the sums' copy (d = %lld, k = %lld)", fn, \
                                       (long long)d, (long long)k);                                         \
        }                                                                                                   \
        double total = 0;                                                                                   \
        for (int64_t i = 0; i < m; i++) total = total + err[i];                                             \
        *inertia = total;                                                                                   \
        if (acc) kernels()->kmeans_sums_##SFX(m, d, x, ldx, k, labels, sums, counts, acc);                  \
        tsr_free(acc);                                                                                      \
        return TSR_OK;                                                                                      \
    }

CK_LABEL_DRIVER(float, f32)
CK_LABEL_DRIVER(double, f64)

static tsr_status check_rows(const char *fn, tsr_distance_kind metric, int64_t n, int64_t d, const void *xt,
                             int64_t ldxt, const void *x, int64_t ldx, int64_t i0, int64_t i1, const void *out,
                             int64_t ldo) {
    TSR_CHECK_ARG(metric >= TSR_DISTANCE_EUCLIDEAN && metric <= TSR_DISTANCE_MANHATTAN,
                  "%s: metric %d not offered (1 euclidean, 2 sqeuclidean, 3 manhattan)", fn, (int)metric);
    TSR_CHECK_ARG(n >= 0, "%s: n must be >= 0 (got %lld)", fn, (long long)n);
    TSR_CHECK_ARG(d >= 1, "%s: d must be >= 1 (got %lld)", fn, (long long)d);
    TSR_CHECK_ARG(ldxt >= n, "%s: ldxt %lld is smaller than n = %lld", fn, (long long)ldxt, (long long)n);
    TSR_CHECK_ARG(ldx >= d, "%s: ldx %lld is smaller than d = %lld", fn, (long long)ldx, (long long)d);
    TSR_CHECK_ARG(ldo >= n, "%s: ldo %lld is smaller than n = %lld", fn, (long long)ldo, (long long)n);
    TSR_CHECK_ARG(i0 >= 0 && i0 <= i1 && i1 <= n, "%s: rows %lld..<%lld outside 0..<%lld", fn, (long long)i0,
                  (long long)i1, (long long)n);
    TSR_CHECK_ARG(i0 == i1 || (xt && x && out), "%s: xt, x and out must not be NULL", fn);
    return TSR_OK;
}

tsr_status tsr_distance_rows_f32(tsr_distance_kind metric, int64_t n, int64_t d, const float *xt, int64_t ldxt,
                                 const float *x, int64_t ldx, int64_t i0, int64_t i1, float *out, int64_t ldo) {
    tsr_status s = check_rows("tsr_distance_rows_f32", metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo);
    if (s != TSR_OK || i0 == i1) return s;
    kernels()->rows_f32((int)metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo);
    return TSR_OK;
}

tsr_status tsr_distance_rows_f64(tsr_distance_kind metric, int64_t n, int64_t d, const double *xt, int64_t ldxt,
                                 const double *x, int64_t ldx, int64_t i0, int64_t i1, double *out, int64_t ldo) {
    tsr_status s = check_rows("tsr_distance_rows_f64", metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo);
    if (s != TSR_OK || i0 == i1) return s;
    kernels()->rows_f64((int)metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo);
    return TSR_OK;
}

tsr_status tsr_distance_symmetric_f32(tsr_distance_kind metric, int64_t n, int64_t d, const float *xt, int64_t ldxt,
                                      const float *x, int64_t ldx, int64_t i0, int64_t i1, float *out, int64_t ldo) {
    tsr_status s = check_rows("tsr_distance_symmetric_f32", metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo);
    if (s != TSR_OK || i0 == i1) return s;
    const int64_t rows = (i1 - i0 + CK_SYM_B - 1) / CK_SYM_B * CK_SYM_B;
    TSR_CHECK_ARG(d <= INT64_MAX / 8 / rows - 64, "tsr_distance_symmetric_f32: d = %lld is too large", (long long)d);
    float *scratch = malloc((size_t)CK_SYM_SCRATCH(d, rows) * sizeof(float));
    if (!scratch) return tsr_error(TSR_ENOMEM, "tsr_distance_symmetric_f32: no memory for %lld x %lld scratch", (long long)d, (long long)rows);
    kernels()->sym_f32((int)metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo, scratch);
    free(scratch);
    return TSR_OK;
}

tsr_status tsr_distance_symmetric_f64(tsr_distance_kind metric, int64_t n, int64_t d, const double *xt, int64_t ldxt,
                                      const double *x, int64_t ldx, int64_t i0, int64_t i1, double *out, int64_t ldo) {
    tsr_status s = check_rows("tsr_distance_symmetric_f64", metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo);
    if (s != TSR_OK || i0 == i1) return s;
    const int64_t rows = (i1 - i0 + CK_SYM_B - 1) / CK_SYM_B * CK_SYM_B;
    TSR_CHECK_ARG(d <= INT64_MAX / 8 / rows - 64, "tsr_distance_symmetric_f64: d = %lld is too large", (long long)d);
    double *scratch = malloc((size_t)CK_SYM_SCRATCH(d, rows) * sizeof(double));
    if (!scratch) return tsr_error(TSR_ENOMEM, "tsr_distance_symmetric_f64: no memory for %lld x %lld scratch", (long long)d, (long long)rows);
    kernels()->sym_f64((int)metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo, scratch);
    free(scratch);
    return TSR_OK;
}
