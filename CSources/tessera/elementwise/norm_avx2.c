/* AVX2 override of the normalisation kernels (two 8-lane accumulators = NORM_LANES; the
 * affine tail through a stack copy). */
#include <string.h>

#include "norm_internal.h"

#if TSR_X86
#include <immintrin.h>

#include "tsr_vexp.h"

TSR_TARGET_AVX2 static void sums_avx2(const float *x, int64_t n, double *sum, double *sumsq) {
    double s = 0, s2 = 0;
    for (int64_t c0 = 0; c0 < n; c0 += NORM_CHUNK) {
        const int64_t m = n - c0 < NORM_CHUNK ? n - c0 : NORM_CHUNK;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, q0 = a0, q1 = a0;
        int64_t i = 0;
        for (; i + 16 <= m; i += 16) {
            const __m256 v0 = _mm256_loadu_ps(x + c0 + i), v1 = _mm256_loadu_ps(x + c0 + i + 8);
            a0 = _mm256_add_ps(a0, v0);
            a1 = _mm256_add_ps(a1, v1);
            q0 = _mm256_fmadd_ps(v0, v0, q0);
            q1 = _mm256_fmadd_ps(v1, v1, q1);
        }
        float la[NORM_LANES], lq[NORM_LANES];
        _mm256_storeu_ps(la, a0);
        _mm256_storeu_ps(la + 8, a1);
        _mm256_storeu_ps(lq, q0);
        _mm256_storeu_ps(lq + 8, q1);
        norm_tail_and_reduce(x + c0 + i, m - i, la, lq, &s, &s2);
    }
    *sum = s;
    *sumsq = s2;
}

TSR_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 affine8(__m256 x, __m256 sc, __m256 sh, int act) {
    const __m256 v = _mm256_fmadd_ps(x, sc, sh);
    if (!act) return v;
    const __m256 e = tsr_exp_256(_mm256_sub_ps(_mm256_setzero_ps(), v));
    return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

TSR_TARGET_AVX2 static void affine_avx2(const float *x, float *out, int64_t n, float scale, float shift, int act) {
    const __m256 sc = _mm256_set1_ps(scale), sh = _mm256_set1_ps(shift);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, affine8(_mm256_loadu_ps(x + i), sc, sh, act));
    if (i < n) {
        float t[8] = {0};
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(t, affine8(_mm256_loadu_ps(t), sc, sh, act));
        memcpy(out + i, t, (size_t)(n - i) * sizeof(float));
    }
}

TSR_TARGET_AVX2 static void rms_avx2(const float *x, const float *w, float *out, int64_t n, float eps) {
    __m256 q0 = _mm256_setzero_ps(), q1 = q0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
        q0 = _mm256_fmadd_ps(v0, v0, q0);
        q1 = _mm256_fmadd_ps(v1, v1, q1);
    }
    float lq[NORM_LANES];
    _mm256_storeu_ps(lq, q0);
    _mm256_storeu_ps(lq + 8, q1);
    const float sc = rms_scale(rms_sumsq_tail(lq, x + i, n - i), n, eps);
    const __m256 vs = _mm256_set1_ps(sc);
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        _mm256_storeu_ps(out + k, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + k), vs), _mm256_loadu_ps(w + k)));
    for (; k < n; k++) out[k] = (x[k] * sc) * w[k];
}

const norm_kernels tsr_norm_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .sums = sums_avx2,
    .affine = affine_avx2,
    .rms = rms_avx2,
};
#endif
