/*
 * dt_kernels_avx2.c — AVX2 override of the strided pack microkernels: 32-byte moves (two
 * overlapping for 33..64-byte blocks, a loop for wide blocks); smaller blocks use the
 * portable fixed-size moves, inlined. The segment kernels are the reference's (inherited).
 */
#include "dt_kernels_body.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX2 static inline void copy_ge32(char *d, const char *s, int64_t n) {
    int64_t o = 0;
    for (; o + 32 <= n; o += 32) _mm256_storeu_si256((__m256i *)(d + o), _mm256_loadu_si256((const __m256i *)(s + o)));
    if (o < n) _mm256_storeu_si256((__m256i *)(d + n - 32), _mm256_loadu_si256((const __m256i *)(s + n - 32)));
}

TSR_TARGET_AVX2 static void pack_strided(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    if (B < 32) { dt_pack_strided_body(packed, mem, B, s, m); return; }
    const int pf = s >= 128 || s <= -128;
    for (int64_t i = 0; i < m; i++) {
        if (pf) _mm_prefetch(mem + (i + PFD) * s, _MM_HINT_T1);
        copy_ge32(packed + i * B, mem + i * s, B);
    }
}

TSR_TARGET_AVX2 static void unpack_strided(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    if (B < 32) { dt_unpack_strided_body(packed, mem, B, s, m); return; }
    const int pf = s >= 128 || s <= -128;
    for (int64_t i = 0; i < m; i++) {
        if (pf) _mm_prefetch(mem + (i + PFD) * s, _MM_HINT_T1);
        copy_ge32(mem + i * s, packed + i * B, B);
    }
}

const dt_kernels dt_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .pack_strided = pack_strided,
    .unpack_strided = unpack_strided,
};
#endif
