/* AVX-512 override of the clustering kernels: cluster_kernels.h compiled for AVX-512. x86 only. */
#include "cluster_kernels.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX512 CK_INLINE void ck_vsqrt_avx512(double *v, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) _mm512_storeu_pd(v + j, _mm512_sqrt_pd(_mm512_loadu_pd(v + j)));
    if (j < n) {
        const __mmask8 m = (__mmask8)((1u << (n - j)) - 1u);
        _mm512_mask_storeu_pd(v + j, m, _mm512_sqrt_pd(_mm512_maskz_loadu_pd(m, v + j)));
    }
}

/* Plain stores up to a cache-line boundary, then whole lines with streaming stores, then a
 * plain tail. */
TSR_TARGET_AVX512 CK_INLINE void ck_stream_f32_avx512(float *dst, const float *src, int64_t w) {
    int64_t j = 0;
    for (; j < w && ((uintptr_t)(dst + j) & 63); j++) dst[j] = src[j];
    for (; j + 16 <= w; j += 16) {
        __m512 v = _mm512_loadu_ps(src + j);
        _mm512_stream_ps(dst + j, v);
    }
    for (; j < w; j++) dst[j] = src[j];
}
TSR_TARGET_AVX512 CK_INLINE void ck_stream_f64_avx512(double *dst, const double *src, int64_t w) {
    int64_t j = 0;
    for (; j < w && ((uintptr_t)(dst + j) & 63); j++) dst[j] = src[j];
    for (; j + 8 <= w; j += 8) {
        __m512d v = _mm512_loadu_pd(src + j);
        _mm512_stream_pd(dst + j, v);
    }
    for (; j < w; j++) dst[j] = src[j];
}
TSR_TARGET_AVX512 CK_INLINE void ck_fence_avx512(void) { _mm_sfence(); }

/* lane l = row[idx[l]] for the CK_ROWS lanes (ck_lanes_f32_avx512: out[l] = row[bi[l]]): a one-
 * or two-register permute within 16 / 32 centres (8 / 16 in double), 2 or 4 of them within 128
 * (float), else a gather (row has CK_KPAD(k) readable values). */
TSR_TARGET_AVX512 CK_INLINE __m512 ck_lanes512_f32(const float *row, int64_t k, __m512i idx) {
    __m512 v;
    if (k <= 16) v = _mm512_permutexvar_ps(idx, _mm512_loadu_ps(row));
    else if (k <= 32) v = _mm512_permutex2var_ps(_mm512_loadu_ps(row), idx, _mm512_loadu_ps(row + 16));
    else if (k <= 128) {
        /* 32-centre tables chosen by bits 5 and 6 of the index (a gather costs more) */
        const __mmask16 b5 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(32));
        v = _mm512_mask_blend_ps(b5, _mm512_permutex2var_ps(_mm512_loadu_ps(row), idx, _mm512_loadu_ps(row + 16)),
                                 _mm512_permutex2var_ps(_mm512_loadu_ps(row + 32), idx, _mm512_loadu_ps(row + 48)));
        if (k > 64) {
            const __mmask16 b6 = _mm512_test_epi32_mask(idx, _mm512_set1_epi32(64));
            const __m512 w = _mm512_mask_blend_ps(
                b5, _mm512_permutex2var_ps(_mm512_loadu_ps(row + 64), idx, _mm512_loadu_ps(row + 80)),
                _mm512_permutex2var_ps(_mm512_loadu_ps(row + 96), idx, _mm512_loadu_ps(row + 112)));
            v = _mm512_mask_blend_ps(b6, v, w);
        }
    } else v = _mm512_i32gather_ps(idx, row, 4);
    return v;
}
TSR_TARGET_AVX512 CK_INLINE void ck_lanes_f32_avx512(const float *row, int64_t k, const int32_t *bi, float *out) {
    _mm512_storeu_ps(out, ck_lanes512_f32(row, k, _mm512_loadu_si512(bi)));
}
TSR_TARGET_AVX512 CK_INLINE void ck_lanes_f64_avx512(const double *row, int64_t k, const int64_t *bi, double *out) {
    for (int h = 0; h < CK_ROWS; h += 8) {
        const __m512i idx = _mm512_loadu_si512(bi + h);
        __m512d v;
        if (k <= 8) v = _mm512_permutexvar_pd(idx, _mm512_loadu_pd(row));
        else if (k <= 16) v = _mm512_permutex2var_pd(_mm512_loadu_pd(row), idx, _mm512_loadu_pd(row + 8));
        else v = _mm512_i64gather_pd(idx, row, 8);
        _mm512_storeu_pd(out + h, v);
    }
}

/* One square root (the scalar SSE instruction: no errno, the same bits as sqrtf / sqrt). */
TSR_TARGET_AVX512 CK_INLINE float ck_sqrtf1_avx512(float v) { return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(v))); }
TSR_TARGET_AVX512 CK_INLINE double ck_sqrt1_avx512(double v) { return _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd(v))); }

/* s[t] = s[t] + (double)x[t] for t < d, eight at a time on the aligned, padded row s (its lanes
 * past d add zeros: whole-vector stores and loads, which forward to the next add to the same
 * centre; masked ones do not) */
TSR_TARGET_AVX512 CK_INLINE void ck_add_row_f32_avx512(double *s, const float *x, int64_t d) {
    int64_t t = 0;
    for (; t + 8 <= d; t += 8)
        _mm512_store_pd(s + t, _mm512_add_pd(_mm512_load_pd(s + t), _mm512_cvtps_pd(_mm256_loadu_ps(x + t))));
    if (t < d) {
        const __mmask8 m = (__mmask8)((1u << (d - t)) - 1u);
        _mm512_store_pd(s + t, _mm512_add_pd(_mm512_load_pd(s + t), _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + t))));
    }
}
TSR_TARGET_AVX512 CK_INLINE void ck_add_row_f64_avx512(double *s, const double *x, int64_t d) {
    int64_t t = 0;
    for (; t + 8 <= d; t += 8) _mm512_store_pd(s + t, _mm512_add_pd(_mm512_load_pd(s + t), _mm512_loadu_pd(x + t)));
    if (t < d) {
        const __mmask8 m = (__mmask8)((1u << (d - t)) - 1u);
        _mm512_store_pd(s + t, _mm512_add_pd(_mm512_load_pd(s + t), _mm512_maskz_loadu_pd(m, x + t)));
    }
}

#define CK_ABS512_PS(v) _mm512_abs_ps(v)
#define CK_ABS512_PD(v) _mm512_abs_pd(v)
CK_ROWS_VEC(float, f32, avx512, TSR_TARGET_AVX512, __m512, 16, _mm512_loadu_ps, _mm512_store_ps, _mm512_set1_ps,
            _mm512_setzero_ps, _mm512_sub_ps, _mm512_fmadd_ps, _mm512_add_ps, CK_ABS512_PS, _mm512_sqrt_ps, fmaf, fabsf,
            ck_sqrtf1_avx512)
CK_ROWS_VEC(double, f64, avx512, TSR_TARGET_AVX512, __m512d, 8, _mm512_loadu_pd, _mm512_store_pd, _mm512_set1_pd,
            _mm512_setzero_pd, _mm512_sub_pd, _mm512_fmadd_pd, _mm512_add_pd, CK_ABS512_PD, _mm512_sqrt_pd, fma, fabs,
            ck_sqrt1_avx512)

/* the k-means float block: explicit (cluster_kmeans_avx512.h); in double the generic one */
#include "cluster_kmeans_avx512.h"
#define ck_kmeans_block_f64_avx512 ck_kmeans_block_generic_f64_avx512
/* the symmetric block: the explicit float kernel (cluster_sym_avx512.c), the generic one (tile
 * transposed from L1) in double */
#define ck_sym_f32_avx512 tsr_cluster_sym_f32_avx512
#define ck_sym_f64_avx512 ck_sym_generic_f64_avx512
CK_INSTANTIATE(avx512, TSR_TARGET_AVX512)
const cluster_kernels tsr_cluster_kernels_avx512 = CK_TABLE(avx512, TSR_ISA_AVX512);
#endif
