/* AVX2 override of the probes: 10 independent 8-lane FMA chains; int8 pairs via maddubs +
 * madd; a prefetching 8-accumulator STREAM read. */
#include "probe_internal.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX2 static double peak_f32_avx2(int64_t iters) {
    __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    /* distinct starting values: identical chains would be merged into one by the compiler */
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f),
           a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f),
           a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f),
           a9 = _mm256_set1_ps(1.09f);
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

TSR_TARGET_AVX2 static double peak_int8_avx2(int64_t iters) {
    /* six distinct operand pairs: identical products would be computed once (common
     * subexpressions) and the probe would time one product per iteration */
    __m256i x0 = _mm256_set1_epi8(3), x1 = _mm256_set1_epi8(4), x2 = _mm256_set1_epi8(5), x3 = _mm256_set1_epi8(6),
            x4 = _mm256_set1_epi8(7), x5 = _mm256_set1_epi8(8), y = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(x0, y), one));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(x1, y), one));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_maddubs_epi16(x2, y), one));
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_maddubs_epi16(x3, y), one));
        a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(_mm256_maddubs_epi16(x4, y), one));
        a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(_mm256_maddubs_epi16(x5, y), one));
        __asm__ volatile("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5), "+x"(y));  /* no hoisting */
    }
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(_mm256_add_epi32(a2, a3), _mm256_add_epi32(a4, a5)));
    volatile int sink = _mm256_extract_epi32(s, 0);
    (void)sink;
    return (double)iters * 6 * 32 * 2;
}
/* Vectorised, prefetching read-only sum for the STREAM READ probe: a scalar loop is CPU-bound
 * on a shared core (one add per cycle) and would understate the bandwidth limit. */
TSR_TARGET_AVX2 static double stream_read_avx2(const double *a, int64_t lo, int64_t hi) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    int64_t i = lo;
    for (; i + 32 <= hi; i += 32) {
        /* 4 KiB ahead: without it one core keeps too few misses in flight (the hardware
         * prefetchers stop at each page) and the probe measures latency, not bandwidth —
         * kernels that prefetch (qgemm) then read faster than the "limit" */
        for (int o = 0; o < 256; o += 64) _mm_prefetch((const char *)(a + i) + 4096 + o, _MM_HINT_T0);
        s0 = _mm256_add_pd(s0, _mm256_loadu_pd(a + i));
        s1 = _mm256_add_pd(s1, _mm256_loadu_pd(a + i + 4));
        s2 = _mm256_add_pd(s2, _mm256_loadu_pd(a + i + 8));
        s3 = _mm256_add_pd(s3, _mm256_loadu_pd(a + i + 12));
        s4 = _mm256_add_pd(s4, _mm256_loadu_pd(a + i + 16));
        s5 = _mm256_add_pd(s5, _mm256_loadu_pd(a + i + 20));
        s6 = _mm256_add_pd(s6, _mm256_loadu_pd(a + i + 24));
        s7 = _mm256_add_pd(s7, _mm256_loadu_pd(a + i + 28));
    }
    __m256d s = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)),
                              _mm256_add_pd(_mm256_add_pd(s4, s5), _mm256_add_pd(s6, s7)));
    double lanes[4];
    _mm256_storeu_pd(lanes, s);
    double tail = 0;
    for (; i < hi; i++) tail += a[i];
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail;
}
const probe_kernels tsr_probe_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .peak_f32 = peak_f32_avx2,
    .peak_int8 = peak_int8_avx2,
    .stream_read = stream_read_avx2,
};
#endif
