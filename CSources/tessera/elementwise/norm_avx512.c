/* AVX-512 override of the normalisation kernels (16 lanes = NORM_LANES; the affine tail
 * under a mask). */
#include "norm_internal.h"

#if TSR_X86
#include <immintrin.h>

#include "tsr_vexp.h"

TSR_TARGET_AVX512 static void sums_avx512(const float *x, int64_t n, double *sum, double *sumsq) {
    double s = 0, s2 = 0;
    for (int64_t c0 = 0; c0 < n; c0 += NORM_CHUNK) {
        const int64_t m = n - c0 < NORM_CHUNK ? n - c0 : NORM_CHUNK;
        __m512 a = _mm512_setzero_ps(), q = _mm512_setzero_ps();
        int64_t i = 0;
        for (; i + 16 <= m; i += 16) {
            const __m512 v = _mm512_loadu_ps(x + c0 + i);
            a = _mm512_add_ps(a, v);
            q = _mm512_fmadd_ps(v, v, q);
        }
        float la[NORM_LANES], lq[NORM_LANES];
        _mm512_storeu_ps(la, a);
        _mm512_storeu_ps(lq, q);
        norm_tail_and_reduce(x + c0 + i, m - i, la, lq, &s, &s2);
    }
    *sum = s;
    *sumsq = s2;
}

TSR_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 affine16(__m512 x, __m512 sc, __m512 sh, int act) {
    const __m512 v = _mm512_fmadd_ps(x, sc, sh);
    if (!act) return v;
    const __m512 e = tsr_exp_512(_mm512_sub_ps(_mm512_setzero_ps(), v));
    return _mm512_div_ps(v, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

TSR_TARGET_AVX512 static void affine_avx512(const float *x, float *out, int64_t n, float scale, float shift, int act) {
    const __m512 sc = _mm512_set1_ps(scale), sh = _mm512_set1_ps(shift);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(out + i, affine16(_mm512_loadu_ps(x + i), sc, sh, act));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(out + i, m, affine16(_mm512_maskz_loadu_ps(m, x + i), sc, sh, act));
    }
}

TSR_TARGET_AVX512 static void rms_avx512(const float *x, const float *w, float *out, int64_t n, float eps) {
    __m512 q = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 v = _mm512_loadu_ps(x + i);
        q = _mm512_fmadd_ps(v, v, q);
    }
    float lq[NORM_LANES];
    _mm512_storeu_ps(lq, q);
    const float sc = rms_scale(rms_sumsq_tail(lq, x + i, n - i), n, eps);
    const __m512 vs = _mm512_set1_ps(sc);
    int64_t k = 0;
    for (; k + 16 <= n; k += 16)
        _mm512_storeu_ps(out + k, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + k), vs), _mm512_loadu_ps(w + k)));
    if (k < n) {
        const __mmask16 m = (__mmask16)((1u << (n - k)) - 1u);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), vs);
        _mm512_mask_storeu_ps(out + k, m, _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + k)));
    }
}

const norm_kernels tsr_norm_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .sums = sums_avx512,
    .affine = affine_avx512,
    .rms = rms_avx512,
};
#endif
