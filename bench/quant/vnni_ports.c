/*
 * vnni_ports — which vector operations compete with vpdpbusd for execution pipes on this core.
 * Loops of independent vpdpbusd zmm chains are timed alone and with extra independent
 * operations per iteration; the ratio to the bare loop says what an extra operation costs:
 * 1.00 — it runs beside vpdpbusd on other pipes; 1.25 (one extra per four vpdpbusd) — each
 * takes a full vpdpbusd slot. This bounds the quantized GEMM's float step (docs/quant.md).
 * The loop must be throughput-bound for the ratios to mean anything: 8 chains are enough on
 * Zen 4 (one vpdpbusd zmm per cycle), not on an Ice Lake server core, which issues two per cycle
 * (ports 0 and 5) at a latency of 5 — there 8 chains wait on latency and hide every extra
 * operation. So the extras are measured on 16 chains; the 8-chain loop is printed beside it
 * (8 chains taking about as long as 16: one pipe; about half: two).
 * On Zen 4 vmulps / vfmadd231ps share vpdpbusd's pipes, vcvtdq2ps / vpsubd / vaddps do not.
 * The load rows time 512-bit and broadcast loads (L1-resident) beside the 16 chains: on the Ice
 * Lake server core about one such load issues per cycle next to two vpdpbusd, so a tile issuing
 * one load per vpdpbusd runs at about half the peak (docs/quant.md, round 16).
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
/* 16 chains: zmm0-7 and zmm14-19, zmm8, zmm9 (the extras write zmm10-13, read zmm21/22) */
#define DP16                                                                                                  \
    DP8 "vpdpbusd %%zmm30, %%zmm31, %%zmm14\n vpdpbusd %%zmm30, %%zmm31, %%zmm15\n"                          \
        "vpdpbusd %%zmm30, %%zmm31, %%zmm16\n vpdpbusd %%zmm30, %%zmm31, %%zmm17\n"                          \
        "vpdpbusd %%zmm30, %%zmm31, %%zmm18\n vpdpbusd %%zmm30, %%zmm31, %%zmm19\n"                          \
        "vpdpbusd %%zmm30, %%zmm31, %%zmm8\n vpdpbusd %%zmm30, %%zmm31, %%zmm9\n"
/* four extra operations per 16 vpdpbusd (the ratio of two per 8) */
#define TWO(op) op " %%zmm21, %%zmm22, %%zmm10\n " op " %%zmm21, %%zmm22, %%zmm11\n"
#define FOUR(op) TWO(op) op " %%zmm21, %%zmm22, %%zmm12\n " op " %%zmm21, %%zmm22, %%zmm13\n"
#define FOUR1(op) op " %%zmm21, %%zmm10\n " op " %%zmm22, %%zmm11\n " op " %%zmm21, %%zmm12\n " op " %%zmm22, %%zmm13\n"
#define FOUR_FMA                                                                                              \
    "vfmadd231ps %%zmm21, %%zmm22, %%zmm10\n vfmadd231ps %%zmm21, %%zmm22, %%zmm11\n"                        \
    "vfmadd231ps %%zmm21, %%zmm22, %%zmm12\n vfmadd231ps %%zmm21, %%zmm22, %%zmm13\n"
#define CLOBBERS                                                                                              \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",   \
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "memory"
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

VARIANT(v_dp8, DP8)
VARIANT(v_dp, DP16)
VARIANT(v_mul, DP16 FOUR("vmulps"))
VARIANT(v_fma, DP16 FOUR_FMA)
VARIANT(v_cvt, DP16 FOUR1("vcvtdq2ps"))
VARIANT(v_add, DP16 FOUR("vaddps"))
VARIANT(v_sub, DP16 FOUR("vpsubd"))
VARIANT(v_and, DP16 FOUR("vpandd"))
VARIANT(v_shuf, DP16 FOUR("vpshufb"))
VARIANT(v_scalef, DP16 FOUR("vscalefps"))
VARIANT(v_mulld, DP16 FOUR("vpmulld"))
VARIANT(v_dpw, DP16 "vpdpwssd %%zmm21, %%zmm22, %%zmm10\n vpdpwssd %%zmm21, %%zmm22, %%zmm11\n"
                     "vpdpwssd %%zmm21, %%zmm22, %%zmm12\n vpdpwssd %%zmm21, %%zmm22, %%zmm13\n")
VARIANT(v_mullw, DP16 FOUR("vpmullw"))
VARIANT(v_sll, DP16 "vpslld $16, %%zmm21, %%zmm10\n vpslld $16, %%zmm22, %%zmm11\n"
                     "vpslld $16, %%zmm21, %%zmm12\n vpslld $16, %%zmm22, %%zmm13\n")
/* the float step of two rows of a group (per row: sub, cvt, mul, fma) */
VARIANT(v_step, DP16 "vpsubd %%zmm21, %%zmm22, %%zmm10\n vcvtdq2ps %%zmm22, %%zmm11\n"
                     "vmulps %%zmm21, %%zmm22, %%zmm12\n vfmadd231ps %%zmm21, %%zmm22, %%zmm13\n"
                     "vpsubd %%zmm22, %%zmm21, %%zmm10\n vcvtdq2ps %%zmm21, %%zmm11\n"
                     "vmulps %%zmm22, %%zmm21, %%zmm12\n vfmadd231ps %%zmm22, %%zmm21, %%zmm13\n")

/* Loads beside vpdpbusd: 512-bit loads (a weight vector) and 4-byte broadcast loads (an activation
 * word), per 16 vpdpbusd; the quantized GEMM's tiles issue one of either per vpdpbusd or fewer. */
static int8_t lbuf[2048] __attribute__((aligned(64)));
#define LOADV(fn, body)                                                                                       \
    __attribute__((target("avx512f,avx512bw,avx512vnni"))) static double fn(void) {                           \
        double best = 1e30;                                                                                   \
        for (int r = 0; r < 7; r++) {                                                                         \
            const uint64_t t0 = __rdtsc();                                                                    \
            for (long i = 0; i < ITERS; i++) __asm__ volatile(body ::"r"(lbuf) : CLOBBERS);                   \
            const double t = (double)(__rdtsc() - t0) / ITERS;                                                \
            best = t < best ? t : best;                                                                       \
        }                                                                                                     \
        return best;                                                                                          \
    }
#define LD4(op, o) op " " #o "(%0), %%zmm10\n " op " " #o "+64(%0), %%zmm11\n " op " " #o "+128(%0), %%zmm12\n " op " " #o "+192(%0), %%zmm13\n"
LOADV(v_ld4, DP16 LD4("vmovdqa64", 0))
LOADV(v_ld8, DP16 LD4("vmovdqa64", 0) LD4("vmovdqa64", 256))
LOADV(v_ld16, DP16 LD4("vmovdqa64", 0) LD4("vmovdqa64", 256) LD4("vmovdqa64", 512) LD4("vmovdqa64", 768))
LOADV(v_bc8, DP16 LD4("vpbroadcastd", 0) LD4("vpbroadcastd", 256))
LOADV(v_bc16, DP16 LD4("vpbroadcastd", 0) LD4("vpbroadcastd", 256) LD4("vpbroadcastd", 512) LD4("vpbroadcastd", 768))

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
        {"16 vpdpbusd", v_dp},         {"+ 4 vmulps", v_mul},       {"+ 4 vfmadd231ps", v_fma},
        {"+ 4 vcvtdq2ps", v_cvt},      {"+ 4 vaddps", v_add},       {"+ 4 vpsubd", v_sub},
        {"+ 4 vpandd", v_and},         {"+ 4 vpshufb", v_shuf},     {"+ 4 vscalefps", v_scalef},
        {"+ 4 vpmulld", v_mulld},      {"+ 4 vpdpwssd", v_dpw},     {"+ 4 vpmullw", v_mullw},
        {"+ 4 vpslld", v_sll},         {"+ two rows' float step (sub, cvt, mul, fma)", v_step},
        {"+ 4 512-bit loads", v_ld4},  {"+ 8 512-bit loads", v_ld8}, {"+ 16 512-bit loads", v_ld16},
        {"+ 8 vpbroadcastd loads", v_bc8}, {"+ 16 vpbroadcastd loads", v_bc16}};
    const double base = v_dp(), eight = v_dp8();
    printf("8 vpdpbusd chains: %.2f TSC ticks per iteration, %.2f of the 16-chain loop's time\n", eight, eight / base);
    printf("%-44s %s\n", "loop", "TSC ticks per iteration (ratio to 16 vpdpbusd)");
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const double t = i ? v[i].fn() : base;
        printf("%-44s %6.2f (%.2f)\n", v[i].name, t, t / base);
    }
    return 0;
}
#else
int main(void) {
    printf("vnni_ports: x86-64 only\n");
    return 0;
}
#endif
