/*
 * tsr_test.h — a minimal test harness for Tessera's C tests.
 *
 *   TSR_TEST(name) { CHECK(x == 1); CHECK_NEAR(a, b, 1e-6); CHECK_STATUS(call, TSR_EINVAL); }
 *   int main(void) { RUN(name); return tsr_test_summary(); }
 *
 * Each program prints "N passed, N failed" as its last line and exits non-zero
 * on any failure. TSR_TEST_QUICK=1 (set under sanitizers) asks tests to use
 * smaller sizes via tsr_test_quick().
 *
 * Every ISA path (the one cross-ISA runner; DESIGN.md: tests run every path the machine
 * supports and compare them):
 *
 *   TSR_FOR_EACH_ISA(isa) { ... }          the body once per supported ISA level, scalar (the
 *                                          reference) first, with tsr_isa_force(isa) in effect
 *   CHECK_SAME_BITS(ref, got, bytes, ...)  bit-for-bit equality, naming the first differing byte
 *   tsr_test_each_isa_same_bits(what, bytes, run, ctx)
 *                                          runs run(ctx, out) once per ISA into a zeroed buffer
 *                                          of `bytes` and checks every path's bytes equal the
 *                                          scalar reference's (for kernels that promise the same
 *                                          bits on every ISA: qgemm, datatype, randproj, graph)
 *
 * RUN() restores the ISA level that was active before each test, so a test that leaves
 * the loop early (break, return) leaves nothing forced behind.
 */
#ifndef TSR_TEST_H
#define TSR_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera.h"

static int tsr_test_passed_ = 0, tsr_test_failed_ = 0, tsr_test_case_failed_ = 0;

#define TSR_TEST(name) static void name(void)

#define RUN(name)                                                        \
    do {                                                                 \
        tsr_test_case_failed_ = 0;                                       \
        tsr_isa tsr_run_isa_ = tsr_isa_active();                         \
        name();                                                          \
        tsr_isa_force(tsr_run_isa_);                                     \
        if (tsr_test_case_failed_) { tsr_test_failed_++; printf("FAIL %s\n", #name); } \
        else { tsr_test_passed_++; printf("ok   %s\n", #name); }         \
        fflush(stdout);                                                  \
    } while (0)

#define CHECK(cond)                                                      \
    do {                                                                 \
        if (!(cond)) {                                                   \
            printf("  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            tsr_test_case_failed_ = 1;                                   \
        }                                                                \
    } while (0)

#define CHECK_MSG(cond, ...)                                             \
    do {                                                                 \
        if (!(cond)) {                                                   \
            printf("  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            printf(__VA_ARGS__); printf("\n");                           \
            tsr_test_case_failed_ = 1;                                   \
        }                                                                \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                            \
    do {                                                                 \
        double tsr_a_ = (double)(a), tsr_b_ = (double)(b);               \
        if (!(fabs(tsr_a_ - tsr_b_) <= (tol))) {                         \
            printf("  %s:%d: |%s - %s| = |%.9g - %.9g| > %g\n", __FILE__, __LINE__, \
                   #a, #b, tsr_a_, tsr_b_, (double)(tol));               \
            tsr_test_case_failed_ = 1;                                   \
        }                                                                \
    } while (0)

/* Checks a call's status and, for errors, that tsr_last_error() says something. */
#define CHECK_STATUS(call, expected)                                     \
    do {                                                                 \
        tsr_status tsr_s_ = (call);                                      \
        if (tsr_s_ != (expected)) {                                      \
            printf("  %s:%d: %s returned %s, expected %s (%s)\n", __FILE__, __LINE__, #call, \
                   tsr_status_string(tsr_s_), tsr_status_string(expected), tsr_last_error()); \
            tsr_test_case_failed_ = 1;                                   \
        } else if ((expected) != TSR_OK && tsr_last_error()[0] == '\0') { \
            printf("  %s:%d: %s gave no error message\n", __FILE__, __LINE__, #call); \
            tsr_test_case_failed_ = 1;                                   \
        }                                                                \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, TSR_OK)

/* ---- every ISA path ------------------------------------------------------------ */

/* Forces the next level of a TSR_FOR_EACH_ISA loop; past the last one, restores `saved`. */
static inline int tsr_test_isa_step_(tsr_isa isa, tsr_isa saved) {
    if (isa <= tsr_isa_supported() && tsr_isa_force(isa) == TSR_OK) return 1;
    tsr_isa_force(saved);
    return 0;
}

#define TSR_FOR_EACH_ISA(isa)                                                              \
    for (tsr_isa isa = TSR_ISA_SCALAR, tsr_isa_saved_ = tsr_isa_active();                \
         tsr_test_isa_step_(isa, tsr_isa_saved_); isa = (tsr_isa)(isa + 1))

/* 1 if the bytes are equal; else 0 and the first differing offset in *at. */
static inline int tsr_test_same_bits_(const void *a, const void *b, size_t bytes, size_t *at) {
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    for (size_t i = 0; i < bytes; i++)
        if (x[i] != y[i]) { *at = i; return 0; }
    return 1;
}

#define CHECK_SAME_BITS(ref, got, bytes, ...)                            \
    do {                                                                 \
        size_t tsr_at_ = 0;                                              \
        if (!tsr_test_same_bits_((ref), (got), (bytes), &tsr_at_)) {     \
            printf("  %s:%d: bits differ at byte %zu of %zu: ", __FILE__, __LINE__, \
                   tsr_at_, (size_t)(bytes));                            \
            printf(__VA_ARGS__); printf("\n");                           \
            tsr_test_case_failed_ = 1;                                   \
        }                                                                \
    } while (0)

/* The body of a cross-ISA comparison: computes into `out` (zeroed, `bytes` long). */
typedef void (*tsr_test_isa_body)(void *ctx, void *out);

/* Runs `run` once per supported ISA and checks each output equals the scalar one bit for
 * bit (failures name `what`, the ISA and the byte). Returns 1 if all agree. */
static inline int tsr_test_each_isa_same_bits(const char *what, size_t bytes, tsr_test_isa_body run, void *ctx) {
    unsigned char *ref = (unsigned char *)calloc(bytes ? bytes : 1, 1);
    unsigned char *out = (unsigned char *)calloc(bytes ? bytes : 1, 1);
    int ok = ref && out;
    if (!ok) { printf("  %s: out of memory\n", what); tsr_test_case_failed_ = 1; }
    if (ok) TSR_FOR_EACH_ISA(isa) {
        unsigned char *dst = isa == TSR_ISA_SCALAR ? ref : out;
        memset(dst, 0, bytes);
        run(ctx, dst);
        size_t at = 0;
        if (isa != TSR_ISA_SCALAR && !tsr_test_same_bits_(ref, out, bytes, &at)) {
            printf("  %s: %s differs from scalar at byte %zu of %zu\n", what, tsr_isa_name(isa), at, bytes);
            tsr_test_case_failed_ = 1;
            ok = 0;
        }
    }
    free(ref);
    free(out);
    return ok;
}

static inline int tsr_test_quick(void) {
    const char *q = getenv("TSR_TEST_QUICK");
    return q && q[0] && q[0] != '0';
}

/* Deterministic xorshift generator for test data. */
static inline unsigned long long tsr_test_rng_next(unsigned long long *s) {
    unsigned long long x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}
/* Uniform in [-1, 1). */
static inline float tsr_test_uniform(unsigned long long *s) {
    return (float)((double)(tsr_test_rng_next(s) >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* An unbound pool of n workers (NULL on failure), for tests that compare thread counts. */
static inline tsr_pool_t *tsr_test_pool(int32_t n) {
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    p.n_threads = n;
    p.bind = TSR_BIND_NONE;
    tsr_pool_t *pool = NULL;
    return tsr_pool_create(&p, &pool) == TSR_OK ? pool : NULL;
}

/* A gated activation out[i] = f(gate[i], up[i]) (SwiGLU, GeGLU): on every ISA, a call at any
 * offset and length gives the elements of the full call, and in place on either input the
 * same bits. */
typedef tsr_status (*tsr_test_gated_fn)(const float *gate, const float *up, float *out, int64_t n);
static inline void tsr_test_gated_offsets_and_in_place(tsr_test_gated_fn fn, unsigned long long seed) {
    float g[64], u[64], full[64], part[64], inplace[64];
    unsigned long long s = seed;
    for (int i = 0; i < 64; i++) { g[i] = (float)(8 * tsr_test_uniform(&s)); u[i] = (float)tsr_test_uniform(&s); }
    TSR_FOR_EACH_ISA(isa) {
        CHECK_OK(fn(g, u, full, 64));
        for (int off = 0; off < 20; off++) {
            CHECK_OK(fn(g + off, u + off, part, 64 - off - off / 3));
            for (int i = 0; i < 64 - off - off / 3; i++) CHECK(part[i] == full[off + i]);
        }
        memcpy(inplace, g, sizeof g);
        CHECK_OK(fn(inplace, u, inplace, 64));
        CHECK(memcmp(inplace, full, sizeof full) == 0);
        memcpy(inplace, u, sizeof u);
        CHECK_OK(fn(g, inplace, inplace, 64));
        CHECK(memcmp(inplace, full, sizeof full) == 0);
    }
}

static inline int tsr_test_summary(void) {
    printf("%d passed, %d failed\n", tsr_test_passed_, tsr_test_failed_);
    return tsr_test_failed_ ? 1 : 0;
}

#endif /* TSR_TEST_H */
