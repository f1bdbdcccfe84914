/*
 * vnni_ports — which vector operations compete with vpdpbusd for execution pipes on this core.
 * A loop of 8 independent vpdpbusd zmm (the int8 peak: one per cycle) is timed alone and with
 * two or four independent extra operations per iteration; the ratio to the bare loop says what
 * an extra operation costs: 1.00 — it runs beside vpdpbusd on other pipes; 1.25 (two extra) —
 * each takes a full vpdpbusd slot. This bounds the quantized GEMM's float step (docs/quant.md):
 * on Zen 4 vmulps / vfmadd231ps share vpdpbusd's pipes, vcvtdq2ps / vpsubd / vaddps do not.
 *     vnni_ports           (make bench-vnni-ports; x86-64 with AVX-512 VNNI only)
 */
#include <stdint.h>
#include <stdio.h>

#if defined(__x86_64__)
#include <x86intrin.h>

#define ITERS 4000000
#define DP8                                                                                                   \
    "vpdpbusd %%zmm30, %%zmm31, %%zmm0\n vpdpbusd %%zmm30, %%zmm31, %%zmm1\n"                                  \
    "vpdpbusd %%zmm30, %%zmm31, %%zmm2\n vpdpbusd %%zmm30, %%zmm31, %%zmm3\n"                                  \
    "vpdpbusd %%zmm30, %%zmm31, %%zmm4\n vpdpbusd %%zmm30, %%zmm31, %%zmm5\n"                                  \
    "vpdpbusd %%zmm30, %%zmm31, %%zmm6\n vpdpbusd %%zmm30, %%zmm31, %%zmm7\n"
#define TWO(op) op " %%zmm21, %%zmm22, %%zmm10\n " op " %%zmm21, %%zmm22, %%zmm11\n"
#define ONE1(op) op " %%zmm21, %%zmm10\n " op " %%zmm22, %%zmm11\n"
#define CLOBBERS                                                                                              \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", \
        "xmm15", "memory"
/* Best of 7 timings of ITERS iterations, in TSC ticks per iteration. */
#define VARIANT(fn, body)                                                                                     \
    __attribute__((target("avx512f,avx512bw,avx512vnni"))) static double fn(void) {                                   \
        double best = 1e30;                                                                                   \
        for (int r = 0; r < 7; r++) {                                                                         \
            const uint64_t t0 = __rdtsc();                                                                    \
            for (long i = 0; i < ITERS; i++) __asm__ volatile(body ::: CLOBBERS);                             \
            const double t = (double)(__rdtsc() - t0) / ITERS;                                                \
            best = t < best ? t : best;                                                                       \
        }                                                                                                     \
        return best;                                                                                          \
    }

VARIANT(v_dp, DP8)
VARIANT(v_mul, DP8 TWO("vmulps"))
VARIANT(v_fma, DP8 "vfmadd231ps %%zmm21, %%zmm22, %%zmm12\n vfmadd231ps %%zmm21, %%zmm22, %%zmm13\n")
VARIANT(v_cvt, DP8 ONE1("vcvtdq2ps"))
VARIANT(v_add, DP8 TWO("vaddps"))
VARIANT(v_sub, DP8 TWO("vpsubd"))
VARIANT(v_and, DP8 TWO("vpandd"))
VARIANT(v_shuf, DP8 TWO("vpshufb"))
VARIANT(v_scalef, DP8 TWO("vscalefps"))
VARIANT(v_mulld, DP8 TWO("vpmulld"))
VARIANT(v_dpw, DP8 "vpdpwssd %%zmm21, %%zmm22, %%zmm10\n vpdpwssd %%zmm21, %%zmm22, %%zmm11\n")
VARIANT(v_mullw, DP8 TWO("vpmullw"))
VARIANT(v_sll, DP8 "vpslld $16, %%zmm21, %%zmm10\n vpslld $16, %%zmm22, %%zmm11\n")
VARIANT(v_step, DP8 "vpsubd %%zmm21, %%zmm22, %%zmm10\n vcvtdq2ps %%zmm22, %%zmm11\n"
                    "vmulps %%zmm21, %%zmm22, %%zmm14\n vfmadd231ps %%zmm21, %%zmm22, %%zmm12\n")

__attribute__((target("avx512f"))) static void init(void) {
    __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n vpternlogd $0xff, %%zmm31, %%zmm31, %%zmm31\n"
                     "vpxord %%zmm21, %%zmm21, %%zmm21\n vpxord %%zmm22, %%zmm22, %%zmm22\n"
                     "vpxord %%zmm12, %%zmm12, %%zmm12\n vpxord %%zmm13, %%zmm13, %%zmm13\n" ::
                         : "xmm30", "xmm31", "xmm21", "xmm22", "xmm12", "xmm13");
}

int main(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512vnni")) {
        printf("vnni_ports: this CPU has no AVX-512 VNNI\n");
        return 0;
    }
    init();
    const struct { const char *name; double (*fn)(void); } v[] = {
        {"8 vpdpbusd", v_dp},          {"+ 2 vmulps", v_mul},       {"+ 2 vfmadd231ps", v_fma},
        {"+ 2 vcvtdq2ps", v_cvt},      {"+ 2 vaddps", v_add},       {"+ 2 vpsubd", v_sub},
        {"+ 2 vpandd", v_and},         {"+ 2 vpshufb", v_shuf},     {"+ 2 vscalefps", v_scalef},
        {"+ 2 vpmulld", v_mulld},      {"+ 2 vpdpwssd", v_dpw},     {"+ 2 vpmullw", v_mullw},
        {"+ 2 vpslld", v_sll},         {"+ the float step (sub, cvt, mul, fma)", v_step}};
    const double base = v_dp();
    printf("%-40s %s\n", "loop", "TSC ticks per iteration (ratio to 8 vpdpbusd)");
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const double t = i ? v[i].fn() : base;
        printf("%-40s %6.2f (%.2f)\n", v[i].name, t, t / base);
    }
    return 0;
}
#else
int main(void) {
    printf("vnni_ports: x86-64 only\n");
    return 0;
}
#endif
