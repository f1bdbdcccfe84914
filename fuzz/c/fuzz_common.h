/*
 * fuzz_common.h — what every Tessera fuzz target shares: a reader that turns the
 * fuzzer's bytes into values (small numbers most of the time, the extremes that
 * validation code must survive — INT64_MAX, 2^32, subnormals, 3e38 — on purpose),
 * and FZ_CHECK, which reports a broken property and aborts so that libFuzzer and
 * the replay driver count it as a crash.
 *
 * Encoding of one value (fuzz/gen_seeds.py writes the same encoding):
 *   fz_i64:  byte b < 0xC0        -> b - 16            (-16 .. 175)
 *            0xC0 <= b < 0xE0     -> fz_special_i64[b - 0xC0]
 *            b >= 0xE0            -> the next 8 bytes, little endian
 *   fz_f32:  byte b < 0x80        -> (b - 64) / 8      (-8 .. 7.875)
 *            0x80 <= b < 0xA0     -> fz_special_f32[b - 0x80]
 *            b >= 0xA0            -> the next 4 bytes, little endian IEEE bits
 * Past the end of the input every read returns 0 (or 0.0f).
 */
#ifndef TSR_FUZZ_COMMON_H
#define TSR_FUZZ_COMMON_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera.h"

typedef struct fz_in {
    const uint8_t *p;
    size_t n, pos;
} fz_in;

static inline fz_in fz_make(const uint8_t *data, size_t size) {
    fz_in in = {data, size, 0};
    return in;
}

static inline int fz_left(const fz_in *in) { return in->pos < in->n; }

static inline uint8_t fz_u8(fz_in *in) { return in->pos < in->n ? in->p[in->pos++] : 0; }

static inline uint64_t fz_raw(fz_in *in, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)fz_u8(in) << (8 * i);
    return v;
}

/* Values the validation code has to get right. Keep in sync with gen_seeds.py. */
static const int64_t fz_special_i64[32] = {
    0, 1, -1, 2,
    INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
    INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN, (int64_t)1 << 32,
    ((int64_t)1 << 32) + 1, -((int64_t)1 << 32), (int64_t)1 << 40, (int64_t)1 << 53,
    (int64_t)1 << 60, ((int64_t)1 << 60) - 4, (int64_t)1 << 62, -((int64_t)1 << 62),
    INT64_MAX / 2, INT64_MAX / 3, 255, 256,
    1023, 1024, 1025, 4096,
    65535, 65536, (int64_t)1 << 20, (int64_t)1 << 30,
};

static const float fz_special_f32[32] = {
    0.0f, -0.0f, 1.0f, -1.0f,
    1e-40f, -1e-40f, 1.4e-45f, 1e-38f,
    1e7f, -1e7f, 6e5f, -6e5f,
    3e38f, -3e38f, FLT_MAX, -FLT_MAX,
    65504.0f, 65520.0f, -65520.0f, 1e-5f,
    1e-8f, 6e-8f, NAN, INFINITY,
    -INFINITY, 0.5f, 1e30f, 1e-30f,
    127.0f, 128.0f, 16777216.0f, 1e4f,
};

static inline int64_t fz_i64(fz_in *in) {
    uint8_t b = fz_u8(in);
    if (b < 0xC0) return (int64_t)b - 16;
    if (b < 0xE0) return fz_special_i64[b - 0xC0];
    return (int64_t)fz_raw(in, 8);
}

/* A value in [0, n) (n > 0). */
static inline uint32_t fz_below(fz_in *in, uint32_t n) { return (uint32_t)(fz_u8(in) % n); }

static inline float fz_f32(fz_in *in) {
    uint8_t b = fz_u8(in);
    if (b < 0x80) return (float)((int)b - 64) / 8.0f;
    if (b < 0xA0) return fz_special_f32[b - 0x80];
    uint32_t bits = (uint32_t)fz_raw(in, 4);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* A finite value of moderate size (|x| <= 8), for data the kernels multiply. */
static inline float fz_small_f32(fz_in *in) { return (float)((int)fz_u8(in) - 128) / 16.0f; }

/* Deterministic filler when the input has run out: data still varies with the index. */
static inline float fz_fill_f32(fz_in *in, size_t i) {
    if (fz_left(in)) return fz_small_f32(in);
    uint32_t h = (uint32_t)(i * 2654435761u);
    return (float)((int)(h >> 24) - 128) / 32.0f;
}

/* ---- reporting ------------------------------------------------------------------------- */

#define FZ_CHECK(cond, ...)                                                          \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "\nfuzz check failed: %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fprintf(stderr, "\n  last Tessera error: %s\n", tsr_last_error());      \
            fflush(stderr);                                                          \
            abort();                                                                 \
        }                                                                            \
    } while (0)

/* Every failing call must say why (DESIGN.md: tsr_last_error names the argument). */
#define FZ_CHECK_ERROR(st)                                                           \
    FZ_CHECK((st) == TSR_OK || ((int)(st) > 0 && (int)(st) < TSR_STATUS_COUNT &&     \
                                tsr_last_error()[0] != '\0'),                        \
             "status %d (%s) without a message", (int)(st), tsr_status_string(st))

/* Bit equality of floats where two NaNs (any payload) count as equal. */
static inline int fz_same_f32(float a, float b) {
    if (a != a && b != b) return 1;
    uint32_t x, y;
    memcpy(&x, &a, 4);
    memcpy(&y, &b, 4);
    return x == y;
}

/* ---- environment --------------------------------------------------------------------
 * Two workers (so the pool's hand-off runs under ASan) that sleep at once instead of
 * spinning (the fuzzer shares two cores with everything else). Either can be
 * overridden from the environment. */
static inline void fz_setup_env(void) {
    setenv("TESSERA_NUM_THREADS", "2", 0);
    setenv("TESSERA_SPIN_US", "0", 0);
    setenv("TESSERA_BIND", "none", 0);
}

/* Every ISA level this machine supports, lowest first; returns the count. */
static inline int fz_isa_list(tsr_isa *out) {
    int n = 0;
    for (int i = 0; i <= (int)tsr_isa_supported() && i < TSR_ISA_COUNT; i++) out[n++] = (tsr_isa)i;
    return n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_DEFINE_INIT                                                               \
    int LLVMFuzzerInitialize(int *argc, char ***argv) {                              \
        (void)argc; (void)argv;                                                      \
        fz_setup_env();                                                              \
        return 0;                                                                    \
    }

#endif /* TSR_FUZZ_COMMON_H */
