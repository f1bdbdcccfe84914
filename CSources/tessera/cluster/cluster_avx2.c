/* AVX2 override of the clustering kernels: cluster_kernels.h compiled for AVX2. x86 only. */
#include "cluster_kernels.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX2 CK_INLINE void ck_vsqrt_avx2(double *v, int64_t n) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) _mm256_storeu_pd(v + j, _mm256_sqrt_pd(_mm256_loadu_pd(v + j)));
    for (; j < n; j++) _mm_store_sd(v + j, _mm_sqrt_sd(_mm_setzero_pd(), _mm_load_sd(v + j)));
}

/* Plain stores up to a 32-byte boundary, then streaming stores, then a plain tail. */
TSR_TARGET_AVX2 CK_INLINE void ck_stream_f32_avx2(float *dst, const float *src, int64_t w) {
    int64_t j = 0;
    for (; j < w && ((uintptr_t)(dst + j) & 31); j++) dst[j] = src[j];
    for (; j + 8 <= w; j += 8) {
        __m256 v = _mm256_loadu_ps(src + j);
        _mm256_stream_ps(dst + j, v);
    }
    for (; j < w; j++) dst[j] = src[j];
}
TSR_TARGET_AVX2 CK_INLINE void ck_stream_f64_avx2(double *dst, const double *src, int64_t w) {
    int64_t j = 0;
    for (; j < w && ((uintptr_t)(dst + j) & 31); j++) dst[j] = src[j];
    for (; j + 4 <= w; j += 4) {
        __m256d v = _mm256_loadu_pd(src + j);
        _mm256_stream_pd(dst + j, v);
    }
    for (; j < w; j++) dst[j] = src[j];
}
TSR_TARGET_AVX2 CK_INLINE void ck_fence_avx2(void) { _mm_sfence(); }

/* out[l] = row[bi[l]] for the CK_ROWS lanes: a permute within 8 centres, else a gather (row has
 * CK_KPAD(k) readable values). */
TSR_TARGET_AVX2 CK_INLINE void ck_lanes_f32_avx2(const float *row, int64_t k, const int32_t *bi, float *out) {
    for (int h = 0; h < CK_ROWS; h += 8) {
        const __m256i idx = _mm256_loadu_si256((const __m256i *)(bi + h));
        const __m256 v = k <= 8 ? _mm256_permutevar8x32_ps(_mm256_loadu_ps(row), idx) : _mm256_i32gather_ps(row, idx, 4);
        _mm256_storeu_ps(out + h, v);
    }
}
TSR_TARGET_AVX2 CK_INLINE void ck_lanes_f64_avx2(const double *row, int64_t k, const int64_t *bi, double *out) {
    for (int h = 0; h < CK_ROWS; h += 4)
        _mm256_storeu_pd(out + h, _mm256_i64gather_pd(row, _mm256_loadu_si256((const __m256i *)(bi + h)), 8));
}

/* One square root (the scalar SSE instruction: no errno, the same bits as sqrtf / sqrt). */
TSR_TARGET_AVX2 CK_INLINE float ck_sqrtf1_avx2(float v) { return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(v))); }
TSR_TARGET_AVX2 CK_INLINE double ck_sqrt1_avx2(double v) { return _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(v))); }

#define CK_ABS256_PS(v) _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v)
#define CK_ABS256_PD(v) _mm256_andnot_pd(_mm256_set1_pd(-0.0), v)
CK_ROWS_VEC(float, f32, avx2, TSR_TARGET_AVX2, __m256, 8, _mm256_loadu_ps, _mm256_store_ps, _mm256_set1_ps,
            _mm256_setzero_ps, _mm256_sub_ps, _mm256_fmadd_ps, _mm256_add_ps, CK_ABS256_PS, _mm256_sqrt_ps, fmaf, fabsf,
            ck_sqrtf1_avx2)
CK_ROWS_VEC(double, f64, avx2, TSR_TARGET_AVX2, __m256d, 4, _mm256_loadu_pd, _mm256_store_pd, _mm256_set1_pd,
            _mm256_setzero_pd, _mm256_sub_pd, _mm256_fmadd_pd, _mm256_add_pd, CK_ABS256_PD, _mm256_sqrt_pd, fma, fabs,
            ck_sqrt1_avx2)

/* a centre's sums: the generic loop (cluster_kmeans.h) */
#define ck_add_row_f32_avx2 ck_add_row_f32
#define ck_add_row_f64_avx2 ck_add_row_f64
/* the k-means block: the generic one (cluster_kmeans.h) */
#define ck_kmeans_block_f32_avx2 ck_kmeans_block_generic_f32_avx2
#define ck_kmeans_block_f64_avx2 ck_kmeans_block_generic_f64_avx2
/* the symmetric block: the rows' tiles, each also stored transposed from L1 (cluster_rows.h) */
#define ck_sym_f32_avx2 ck_sym_generic_f32_avx2
#define ck_sym_f64_avx2 ck_sym_generic_f64_avx2
CK_INSTANTIATE(avx2, TSR_TARGET_AVX2)
const cluster_kernels tsr_cluster_kernels_avx2 = CK_TABLE(avx2, TSR_ISA_AVX2);
#endif
