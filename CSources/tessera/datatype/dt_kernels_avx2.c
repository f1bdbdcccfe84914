/*
 * dt_kernels_avx2.c — AVX2 pack kernels: 32-byte moves (two overlapping for 33..64-byte
 * blocks, a loop for wide blocks); smaller blocks use the scalar fixed-size moves.
 */
#include <string.h>

#include "dt_internal.h"

#if TSR_X86
#include <immintrin.h>

#define PFD 16

TSR_TARGET_AVX2 static inline void copy_ge32(char *d, const char *s, int64_t n) {
    int64_t o = 0;
    for (; o + 32 <= n; o += 32) _mm256_storeu_si256((__m256i *)(d + o), _mm256_loadu_si256((const __m256i *)(s + o)));
    if (o < n) _mm256_storeu_si256((__m256i *)(d + n - 32), _mm256_loadu_si256((const __m256i *)(s + n - 32)));
}

TSR_TARGET_AVX2 static void pack_strided(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    if (B < 32) { dt_kernels_scalar()->pack_strided(packed, mem, B, s, m); return; }
    const int pf = s >= 128 || s <= -128;
    for (int64_t i = 0; i < m; i++) {
        if (pf) _mm_prefetch(mem + (i + PFD) * s, _MM_HINT_T0);
        copy_ge32(packed + i * B, mem + i * s, B);
    }
}

TSR_TARGET_AVX2 static void unpack_strided(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    if (B < 32) { dt_kernels_scalar()->unpack_strided(packed, mem, B, s, m); return; }
    const int pf = s >= 128 || s <= -128;
    for (int64_t i = 0; i < m; i++) {
        if (pf) _mm_prefetch(mem + (i + PFD) * s, _MM_HINT_T0);
        copy_ge32(mem + i * s, packed + i * B, B);
    }
}

static const dt_kernels *avx2_table(void);

static void pack_segments(char *packed, char *mem, int64_t s, int64_t m, const int64_t *off, const int64_t *len,
                          int64_t nseg, int64_t body) {
    dt_kernels_scalar()->pack_segments(packed, mem, s, m, off, len, nseg, body);
}

static void unpack_segments(char *packed, char *mem, int64_t s, int64_t m, const int64_t *off, const int64_t *len,
                            int64_t nseg, int64_t body) {
    dt_kernels_scalar()->unpack_segments(packed, mem, s, m, off, len, nseg, body);
}

static const dt_kernels avx2_kernels = {pack_strided, unpack_strided, pack_segments, unpack_segments, "avx2"};

static const dt_kernels *avx2_table(void) { return &avx2_kernels; }

const dt_kernels *dt_kernels_avx2(void) { return avx2_table(); }

#else
const dt_kernels *dt_kernels_avx2(void) { return dt_kernels_scalar(); }
#endif
