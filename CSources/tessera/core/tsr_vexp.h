/*
 * tsr_vexp.h — 2^x and e^x on AVX-512 and AVX2 lanes, shared by the attention softmax (2^x)
 * and the element-wise kernels (e^x). x86 only.
 */
#ifndef TSR_VEXP_H
#define TSR_VEXP_H

#include <immintrin.h>

#include "tsr_internal.h"

/* 2^x, 1-2 ulp on the range the softmax uses (x <= 0); exactly 0 for x <= -160 and -inf,
 * exactly 1 for x = 0; NaN propagates. */
TSR_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 tsr_exp2_512(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-160.0f), x);  /* NaN in x is kept (second operand) */
    x = _mm512_min_ps(_mm512_set1_ps(128.0f), x);
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.535336188319500e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.339887440266574e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* 2^x: exactly 0 below -126 and for -inf, exactly 1 at 0, NaN propagates. */
TSR_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 tsr_exp2_256(__m256 x) {
    __m256 xc = _mm256_max_ps(_mm256_set1_ps(-126.0f), x);  /* NaN kept (second operand) */
    xc = _mm256_min_ps(_mm256_set1_ps(127.0f), xc);
    __m256 n = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(xc, n);
    __m256 p = _mm256_set1_ps(1.535336188319500e-4f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.339887440266574e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.618437357674640e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.550332471162809e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.402264791363012e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.931472028550421e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 r = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-126.0f), _CMP_LT_OQ);
    return _mm256_andnot_ps(tiny, r);
}

/*
 * e^x in Cephes' way: n = round(x·log2 e), r = x − n·ln 2 with ln 2 split in two (so r is
 * exact enough that the error does not grow with |x|, unlike 2^(x·log2 e)), e^r by a
 * degree-5 polynomial on |r| ≤ ln2/2, times 2^n. ≤ 2 ulp on the clamped range [−87.3, 88]:
 * smaller x give e^−87.3 ≈ 1.2e−38, larger give e^88 ≈ 1.7e38 (no infinities, no
 * subnormals). NaN propagates.
 */
#define TSR_VEXP_LO (-87.3365f)
#define TSR_VEXP_HI 88.0f
/* y = e^r on |r| ≤ ln2/2: 1 + r + r²·P(r), P of degree 5; one body for both widths. */
#define TSR_VEXP_POLY(fmadd, mul, add, set1, r, y)                                                \
    do {                                                                                          \
        y = fmadd(set1(1.9875691500e-4f), r, set1(1.3981999507e-3f));                             \
        y = fmadd(y, r, set1(8.3334519073e-3f));                                                  \
        y = fmadd(y, r, set1(4.1665795894e-2f));                                                  \
        y = fmadd(y, r, set1(1.6666665459e-1f));                                                  \
        y = fmadd(y, r, set1(5.0000001201e-1f));                                                  \
        y = fmadd(y, mul(r, r), add(r, set1(1.0f)));                                              \
    } while (0)

TSR_TARGET_AVX512 static inline __attribute__((always_inline)) __m512 tsr_exp_512(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(TSR_VEXP_LO), x);  /* NaN kept (second operand) */
    x = _mm512_min_ps(_mm512_set1_ps(TSR_VEXP_HI), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 y;
    TSR_VEXP_POLY(_mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, _mm512_set1_ps, r, y);
    return _mm512_scalef_ps(y, n);
}

TSR_TARGET_AVX2 static inline __attribute__((always_inline)) __m256 tsr_exp_256(__m256 x) {
    x = _mm256_max_ps(_mm256_set1_ps(TSR_VEXP_LO), x);  /* NaN kept (second operand) */
    x = _mm256_min_ps(_mm256_set1_ps(TSR_VEXP_HI), x);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y;
    TSR_VEXP_POLY(_mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_set1_ps, r, y);
    /* n ∈ [−126, 127] on the clamped range: 2^n built in the exponent field */
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

#endif /* TSR_VEXP_H */
