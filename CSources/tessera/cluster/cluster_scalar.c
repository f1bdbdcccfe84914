/* The reference table of the clustering kernels: cluster_kernels.h without an ISA target. */
#include "cluster_kernels.h"

CK_INLINE void ck_vsqrt_scalar(double *v, int64_t n) {
    for (int64_t j = 0; j < n; j++) v[j] = sqrt(v[j]);
}

/* Plain stores (the reference has no streaming stores). */
CK_INLINE void ck_stream_f32_scalar(float *dst, const float *src, int64_t w) {
    for (int64_t j = 0; j < w; j++) dst[j] = src[j];
}
CK_INLINE void ck_stream_f64_scalar(double *dst, const double *src, int64_t w) {
    for (int64_t j = 0; j < w; j++) dst[j] = src[j];
}
CK_INLINE void ck_fence_scalar(void) {}

/* o0[j], o1[j] = the distances of point j (of xt) to y0, y1, for j < w: the documented formula,
 * point by point (sqrt is correctly rounded on every path). */
#define CK_ROWS_PLAIN(T, SFX, FMA, ABS, SQRT)                                                             \
    CK_INLINE void ck_rows_vec_##SFX##_scalar(int manhattan, int root, int64_t w, int64_t d, const T *xt,  \
                                               int64_t ldxt, const T *y0, const T *y1, T *o0, T *o1) {     \
        for (int r = 0; r < 2; r++) {                                                                      \
            const T *y = r ? y1 : y0;                                                                      \
            T *out = r ? o1 : o0;                                                                          \
            for (int64_t j = 0; j < w; j++) {                                                              \
                T acc = 0;                                                                                 \
                for (int64_t t = 0; t < d; t++) {                                                          \
                    const T v = xt[t * ldxt + j] - y[t];                                                   \
                    acc = manhattan ? acc + ABS(v) : FMA(v, v, acc);                                       \
                }                                                                                          \
                out[j] = root ? SQRT(acc) : acc;                                                           \
            }                                                                                              \
        }                                                                                                  \
    }
CK_ROWS_PLAIN(float, f32, fmaf, fabsf, sqrtf)
CK_ROWS_PLAIN(double, f64, fma, fabs, sqrt)

/* out[l] = row[bi[l]] for the CK_ROWS lanes. */
CK_INLINE void ck_lanes_f32_scalar(const float *row, int64_t k, const int32_t *bi, float *out) {
    for (int l = 0; l < CK_ROWS; l++) out[l] = row[bi[l]];
}
CK_INLINE void ck_lanes_f64_scalar(const double *row, int64_t k, const int64_t *bi, double *out) {
    for (int l = 0; l < CK_ROWS; l++) out[l] = row[bi[l]];
}

/* a centre's sums: the generic loop (cluster_kmeans.h) */
#define ck_add_row_f32_scalar ck_add_row_f32
#define ck_add_row_f64_scalar ck_add_row_f64
/* the k-means block: the generic one (cluster_kmeans.h) */
#define ck_kmeans_block_f32_scalar ck_kmeans_block_generic_f32_scalar
#define ck_kmeans_block_f64_scalar ck_kmeans_block_generic_f64_scalar
/* the symmetric block: the rows' tiles, each also stored transposed from L1 (cluster_rows.h) */
#define ck_sym_f32_scalar ck_sym_generic_f32_scalar
#define ck_sym_f64_scalar ck_sym_generic_f64_scalar
CK_INSTANTIATE(scalar, )
const cluster_kernels tsr_cluster_kernels_ref = CK_TABLE(scalar, TSR_ISA_SCALAR);
