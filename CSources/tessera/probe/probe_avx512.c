/* AVX-512 overrides of the probes: 12 independent 16-lane FMA chains; VNNI vpdpbusd for
 * int8 (its own override: it needs VNNI); the STREAM read stays the AVX2 one. */
#include "probe_internal.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX512 static double peak_f32_avx512(int64_t iters) {
    __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    /* distinct starting values: identical chains would be merged into one by the compiler
     * (common subexpressions), and the probe would time one latency-bound chain */
    __m512 a0 = _mm512_set1_ps(1.0f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f),
           a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f),
           a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f),
           a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
    for (int64_t i = 0; i < iters; i++) {
        a0 = _mm512_fmadd_ps(a0, m, c); a1 = _mm512_fmadd_ps(a1, m, c); a2 = _mm512_fmadd_ps(a2, m, c);
        a3 = _mm512_fmadd_ps(a3, m, c); a4 = _mm512_fmadd_ps(a4, m, c); a5 = _mm512_fmadd_ps(a5, m, c);
        a6 = _mm512_fmadd_ps(a6, m, c); a7 = _mm512_fmadd_ps(a7, m, c); a8 = _mm512_fmadd_ps(a8, m, c);
        a9 = _mm512_fmadd_ps(a9, m, c); a10 = _mm512_fmadd_ps(a10, m, c); a11 = _mm512_fmadd_ps(a11, m, c);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)iters * 12 * 16 * 2;
}

TSR_TARGET_AVX512VNNI static double peak_int8_avx512vnni(int64_t iters) {
    __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
    /* distinct starting values, so the compiler cannot merge the chains (see peak_f32_avx512) */
    __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2),
            a3 = _mm512_set1_epi32(3), a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5),
            a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7), a8 = _mm512_set1_epi32(8),
            a9 = _mm512_set1_epi32(9);
    for (int64_t i = 0; i < iters; i++) {
#if defined(__GNUC__) && !defined(__clang__)
        /* gcc (12) gives each _mm512_dpbusd_epi32 chain a register copy per iteration (20
         * vmovdqa per 10 vpdpbusd), which on an Ice Lake core read 260-460 GOP/s instead of
         * ~630: the ten chains as written, in place */
        __asm__("vpdpbusd %[y], %[x], %[a0]\n\tvpdpbusd %[y], %[x], %[a1]\n\t"
                "vpdpbusd %[y], %[x], %[a2]\n\tvpdpbusd %[y], %[x], %[a3]\n\t"
                "vpdpbusd %[y], %[x], %[a4]\n\tvpdpbusd %[y], %[x], %[a5]\n\t"
                "vpdpbusd %[y], %[x], %[a6]\n\tvpdpbusd %[y], %[x], %[a7]\n\t"
                "vpdpbusd %[y], %[x], %[a8]\n\tvpdpbusd %[y], %[x], %[a9]"
                : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [a4] "+v"(a4),
                  [a5] "+v"(a5), [a6] "+v"(a6), [a7] "+v"(a7), [a8] "+v"(a8), [a9] "+v"(a9)
                : [x] "v"(x), [y] "v"(y));
#else
        a0 = _mm512_dpbusd_epi32(a0, x, y); a1 = _mm512_dpbusd_epi32(a1, x, y);
        a2 = _mm512_dpbusd_epi32(a2, x, y); a3 = _mm512_dpbusd_epi32(a3, x, y);
        a4 = _mm512_dpbusd_epi32(a4, x, y); a5 = _mm512_dpbusd_epi32(a5, x, y);
        a6 = _mm512_dpbusd_epi32(a6, x, y); a7 = _mm512_dpbusd_epi32(a7, x, y);
        a8 = _mm512_dpbusd_epi32(a8, x, y); a9 = _mm512_dpbusd_epi32(a9, x, y);
#endif
    }
    __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                                 _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    s = _mm512_add_epi32(s, _mm512_add_epi32(a8, a9));
    volatile int sink = _mm512_reduce_add_epi32(s);
    (void)sink;
    return (double)iters * 10 * 64 * 2;
}
static int has_vnni(void) { return tsr_cpu()->avx512_vnni; }

const probe_kernels tsr_probe_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .peak_f32 = peak_f32_avx512,
};

/* int8 at AVX-512 needs VNNI; without it the AVX2 loop stays. */
const probe_kernels tsr_probe_kernels_avx512vnni = {
    .head = {"avx512vnni", TSR_ISA_AVX512, has_vnni},
    .peak_int8 = peak_int8_avx512vnni,
};
#endif
