/* AVX-512 override of the element-wise kernels (16 lanes; the tail under a mask). */
#include "elementwise_internal.h"

#if TSR_X86
#include <immintrin.h>

#include "tsr_vexp.h"

/* SiLU(g)·u = g / (1 + e^−g) · u */
TSR_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 swiglu16(__m512 g, __m512 u) {
    const __m512 e = tsr_exp_512(_mm512_sub_ps(_mm512_setzero_ps(), g));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

TSR_TARGET_AVX512 static void swiglu_avx512(const float *gate, const float *up, float *out, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, swiglu16(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(out + i, m, swiglu16(_mm512_maskz_loadu_ps(m, gate + i), _mm512_maskz_loadu_ps(m, up + i)));
    }
}

/* g / (1 + e^z) · u, z = g·(C1 + C2·g²) */
TSR_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 geglu16(__m512 g, __m512 u) {
    const __m512 p = _mm512_fmadd_ps(_mm512_mul_ps(g, g), _mm512_set1_ps(TSR_GEGLU_C2), _mm512_set1_ps(TSR_GEGLU_C1));
    const __m512 e = tsr_exp_512(_mm512_mul_ps(g, p));
    return _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

TSR_TARGET_AVX512 static void geglu_avx512(const float *gate, const float *up, float *out, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, geglu16(_mm512_loadu_ps(gate + i), _mm512_loadu_ps(up + i)));
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        _mm512_mask_storeu_ps(out + i, m, geglu16(_mm512_maskz_loadu_ps(m, gate + i), _mm512_maskz_loadu_ps(m, up + i)));
    }
}

const ew_kernels tsr_ew_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .swiglu = swiglu_avx512,
    .geglu = geglu_avx512,
};
#endif
