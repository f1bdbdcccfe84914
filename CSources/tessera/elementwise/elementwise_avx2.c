/* AVX2 override of the element-wise kernels (8 lanes; the tail through a stack copy). */
#include <string.h>

#include "elementwise_internal.h"

#if TSR_X86
#include <immintrin.h>

#include "tsr_vexp.h"

/* SiLU(g)·u = g / (1 + e^−g) · u */
TSR_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 swiglu8(__m256 g, __m256 u) {
    const __m256 e = tsr_exp_256(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

TSR_TARGET_AVX2 static void swiglu_avx2(const float *gate, const float *up, float *out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float g[8] = {0}, u[8] = {0}, o[8];
        memcpy(g, gate + i, (size_t)(n - i) * sizeof(float));
        memcpy(u, up + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(o, swiglu8(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        memcpy(out + i, o, (size_t)(n - i) * sizeof(float));
    }
}

/* g / (1 + e^z) · u, z = g·(C1 + C2·g²) */
TSR_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 geglu8(__m256 g, __m256 u) {
    const __m256 p = _mm256_fmadd_ps(_mm256_mul_ps(g, g), _mm256_set1_ps(TSR_GEGLU_C2), _mm256_set1_ps(TSR_GEGLU_C1));
    const __m256 e = tsr_exp_256(_mm256_mul_ps(g, p));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

TSR_TARGET_AVX2 static void geglu_avx2(const float *gate, const float *up, float *out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, geglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float g[8] = {0}, u[8] = {0}, o[8];
        memcpy(g, gate + i, (size_t)(n - i) * sizeof(float));
        memcpy(u, up + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(o, geglu8(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        memcpy(out + i, o, (size_t)(n - i) * sizeof(float));
    }
}

const ew_kernels tsr_ew_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .swiglu = swiglu_avx2,
    .geglu = geglu_avx2,
};
#endif
