/*
 * CPU feature detection (CPUID + XCR0) and the process-wide ISA choice.
 * A feature counts only if the OS saves its register state: AVX needs XCR0 bits
 * 1-2 (SSE, AVX), AVX-512 also bits 5-7 (opmask, ZMM_Hi256, Hi16_ZMM), AMX bits 17-18.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tsr_internal.h"

#if TSR_X86
#include <cpuid.h>

static void cpuid_count(unsigned leaf, unsigned sub, unsigned r[4]) {
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
}

static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void detect(tsr_cpu_features *f) {
    unsigned r[4];
    __cpuid(0, r[0], r[1], r[2], r[3]);
    unsigned max_leaf = r[0];
    memcpy(f->vendor, &r[1], 4); memcpy(f->vendor + 4, &r[3], 4); memcpy(f->vendor + 8, &r[2], 4);
    f->vendor[12] = '\0';

    cpuid_count(1, 0, r);
    unsigned ecx1 = r[2];
    int osxsave = (ecx1 >> 27) & 1;
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    int os_avx = (xcr0 & 0x6) == 0x6;
    int os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
    int os_amx = (xcr0 & 0x60000) == 0x60000;

    f->sse42 = (ecx1 >> 20) & 1;
    f->avx = os_avx && ((ecx1 >> 28) & 1);
    f->fma = f->avx && ((ecx1 >> 12) & 1);
    f->f16c = f->avx && ((ecx1 >> 29) & 1);
    if (max_leaf >= 7) {
        cpuid_count(7, 0, r);
        unsigned ebx7 = r[1], ecx7 = r[2], edx7 = r[3];
        f->avx2 = f->avx && ((ebx7 >> 5) & 1);
        f->avx512f = os_avx512 && ((ebx7 >> 16) & 1);
        f->avx512dq = f->avx512f && ((ebx7 >> 17) & 1);
        f->avx512bw = f->avx512f && ((ebx7 >> 30) & 1);
        f->avx512vl = f->avx512f && ((ebx7 >> 31) & 1);
        f->avx512_vnni = f->avx512f && ((ecx7 >> 11) & 1);
        f->avx512_fp16 = f->avx512f && ((edx7 >> 23) & 1);
        f->amx_bf16 = os_amx && ((edx7 >> 22) & 1);
        f->amx_tile = os_amx && ((edx7 >> 24) & 1);
        f->amx_int8 = os_amx && ((edx7 >> 25) & 1);
        cpuid_count(7, 1, r);
        f->avx_vnni = f->avx && ((r[0] >> 4) & 1);
        f->avx512_bf16 = f->avx512f && ((r[0] >> 5) & 1);
    }
    __cpuid(0x80000000u, r[0], r[1], r[2], r[3]);
    if (r[0] >= 0x80000004u) {
        unsigned b[12];
        for (unsigned i = 0; i < 3; i++) __cpuid(0x80000002u + i, b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]);
        memcpy(f->brand, b, 48);
        f->brand[48] = '\0';
        /* trim leading spaces some CPUs put there */
        char *s = f->brand;
        while (*s == ' ') s++;
        memmove(f->brand, s, strlen(s) + 1);
    }
}
#else
static void detect(tsr_cpu_features *f) {
    strcpy(f->vendor, "unknown");
    strcpy(f->brand, "non-x86 CPU (scalar kernels)");
}
#endif

static tsr_cpu_features tsr_cpu_cached;
static pthread_once_t tsr_cpu_once = PTHREAD_ONCE_INIT;
static _Atomic int tsr_isa_current = -1;

static tsr_isa supported_from(const tsr_cpu_features *f) {
    if (f->avx512f && f->avx512bw && f->avx512dq && f->avx512vl && f->avx2 && f->fma && f->f16c)
        return TSR_ISA_AVX512;
    if (f->avx2 && f->fma && f->f16c) return TSR_ISA_AVX2;
    return TSR_ISA_SCALAR;
}

static void cpu_init(void) {
    memset(&tsr_cpu_cached, 0, sizeof tsr_cpu_cached);
    tsr_cpu_cached.size = sizeof tsr_cpu_cached;
    detect(&tsr_cpu_cached);
    tsr_isa isa = supported_from(&tsr_cpu_cached);
    const char *env = tsr_getenv("TESSERA_ISA");
    tsr_isa want;
    if (env && tsr_isa_parse(env, &want) == TSR_OK && want < isa) isa = want;
    /* An unknown or higher TESSERA_ISA is ignored: the supported level stays. */
    if (tsr_getenv("TESSERA_ISA_DEBUG"))
        fprintf(stderr, "tessera: ISA %s (supported %s, TESSERA_ISA=%s)\n", tsr_isa_name(isa),
                tsr_isa_name(supported_from(&tsr_cpu_cached)), env ? env : "unset");
    atomic_store(&tsr_isa_current, (int)isa);
}

const tsr_cpu_features *tsr_cpu(void) {
    pthread_once(&tsr_cpu_once, cpu_init);
    return &tsr_cpu_cached;
}

tsr_status tsr_cpu_features_get(tsr_cpu_features *out) {
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(out->size >= sizeof(tsr_cpu_features),
                  "tsr_cpu_features_get: out->size is %u, expected %zu (set it to sizeof(tsr_cpu_features))",
                  out->size, sizeof(tsr_cpu_features));
    *out = *tsr_cpu();
    return TSR_OK;
}

tsr_isa tsr_isa_supported(void) { return supported_from(tsr_cpu()); }

tsr_isa tsr_isa_active(void) {
    int v = atomic_load_explicit(&tsr_isa_current, memory_order_relaxed);
    if (TSR_UNLIKELY(v < 0)) {
        tsr_cpu();
        v = atomic_load(&tsr_isa_current);
    }
    return (tsr_isa)v;
}

tsr_status tsr_isa_force(tsr_isa isa) {
    TSR_CHECK_ARG((int)isa >= 0 && isa < TSR_ISA_COUNT, "tsr_isa_force: invalid isa %d", (int)isa);
    tsr_isa sup = tsr_isa_supported();
    if (isa > sup)
        return tsr_error(TSR_EUNSUPPORTED, "tsr_isa_force: %s is not supported here (highest: %s)",
                         tsr_isa_name(isa), tsr_isa_name(sup));
    atomic_store(&tsr_isa_current, (int)isa);
    return TSR_OK;
}

const char *tsr_isa_name(tsr_isa isa) {
    switch (isa) {
    case TSR_ISA_SCALAR: return "scalar";
    case TSR_ISA_AVX2: return "avx2";
    case TSR_ISA_AVX512: return "avx512";
    default: return "invalid";
    }
}

tsr_status tsr_isa_parse(const char *name, tsr_isa *out) {
    TSR_CHECK_NULL(name);
    TSR_CHECK_NULL(out);
    char low[16];
    size_t n = strlen(name);
    if (n >= sizeof low) n = sizeof low - 1;
    for (size_t i = 0; i < n; i++) low[i] = (char)tolower((unsigned char)name[i]);
    low[n] = '\0';
    for (int i = 0; i < TSR_ISA_COUNT; i++)
        if (strcmp(low, tsr_isa_name((tsr_isa)i)) == 0) { *out = (tsr_isa)i; return TSR_OK; }
    return tsr_error(TSR_EINVAL, "tsr_isa_parse: unknown ISA '%s' (use scalar, avx2 or avx512)", name);
}
