/* Vectorised, prefetching read-only sum for the STREAM READ probe: a scalar loop is CPU-bound
 * on a shared core (one add per cycle) and would understate the bandwidth limit. */
#include "probe_internal.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX2 double tsr_stream_read_avx2(const double *a, int64_t lo, int64_t hi) {
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
#else
double tsr_stream_read_avx2(const double *a, int64_t lo, int64_t hi) {
    double s = 0;
    for (int64_t i = lo; i < hi; i++) s += a[i];
    return s;
}
#endif
