/* AVX2 peak loops: 10 independent 8-lane FMA chains; int8 pairs via maddubs + madd. */
#include "probe_internal.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX2 double tsr_peak_f32_avx2(int64_t iters) {
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, m, c); a1 = _mm256_fmadd_ps(a1, m, c); a2 = _mm256_fmadd_ps(a2, m, c);
        a3 = _mm256_fmadd_ps(a3, m, c); a4 = _mm256_fmadd_ps(a4, m, c); a5 = _mm256_fmadd_ps(a5, m, c);
        a6 = _mm256_fmadd_ps(a6, m, c); a7 = _mm256_fmadd_ps(a7, m, c); a8 = _mm256_fmadd_ps(a8, m, c);
        a9 = _mm256_fmadd_ps(a9, m, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(_mm256_add_ps(a6, a7), _mm256_add_ps(a8, a9))));
    volatile float sink = _mm256_cvtss_f32(s);
    (void)sink;
    return (double)iters * 10 * 8 * 2;
}

TSR_TARGET_AVX2 double tsr_peak_int8_avx2(int64_t iters) {
    __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        __asm__ volatile("" : "+x"(x), "+x"(y));  /* stop the compiler hoisting the products */
    }
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(_mm256_add_epi32(a2, a3), _mm256_add_epi32(a4, a5)));
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return (double)iters * 6 * 32 * 2;
}
#else
double tsr_peak_f32_avx2(int64_t iters) { return tsr_peak_f32_scalar(iters); }
double tsr_peak_int8_avx2(int64_t iters) { return tsr_peak_int8_scalar(iters); }
#endif
