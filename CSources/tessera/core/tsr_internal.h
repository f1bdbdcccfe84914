/*
 * tsr_internal.h — helpers shared by every Tessera C source file. Not public.
 *
 *   return tsr_error(TSR_EINVAL, "tsr_foo: n must be > 0 (got %lld)", (long long)n);
 *   TSR_CHECK_ARG(ptr != NULL, "tsr_foo: argument 'x' is NULL");
 *   size_t bytes; if (tsr_mul_size(a, b, &bytes)) return tsr_error(TSR_ERANGE, ...);
 */
#ifndef TSR_INTERNAL_H
#define TSR_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera.h"

#define TSR_INTERNAL __attribute__((visibility("hidden")))

#if defined(__GNUC__) || defined(__clang__)
#  define TSR_LIKELY(x) __builtin_expect(!!(x), 1)
#  define TSR_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define TSR_FORMAT(a, b) __attribute__((format(printf, a, b)))
#else
#  define TSR_LIKELY(x) (x)
#  define TSR_UNLIKELY(x) (x)
#  define TSR_FORMAT(a, b)
#endif

/* Unroll the next loop whole: for the short loops over a tile's rows whose accumulators must
 * stay in registers (arrays like `__m512i is[8]` indexed by the loop). SwiftPM builds the C
 * kernels with clang -O2, whose unroll threshold (150, against 300 at -O3) left some of these
 * loops rolled, the arrays on the stack: the 16-row quantized step ran 1.3-1.4x slower than
 * the same source under gcc -O3 or clang -O3 (docs/quant.md). Same operations, same order:
 * unrolling changes no result. */
#if defined(__clang__)
#  define TSR_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#  define TSR_UNROLL _Pragma("GCC unroll 16")
#else
#  define TSR_UNROLL
#endif

/* Keep the next loop rolled: for a short loop over K chunks whose whole unrolling lets clang
 * hoist every chunk's unpacked weights ahead of the products, more live vectors than registers
 * (the two-panel quantized tile at M = 16 spilled and ran 1.5x slower under clang -O2). */
#if defined(__clang__)
#  define TSR_NO_UNROLL _Pragma("clang loop unroll(disable)")
#elif defined(__GNUC__)
#  define TSR_NO_UNROLL _Pragma("GCC unroll 1")
#else
#  define TSR_NO_UNROLL
#endif

/** Sets the thread-local error text (printf-style) and returns `status`. */
TSR_INTERNAL tsr_status tsr_error(tsr_status status, const char *fmt, ...) TSR_FORMAT(2, 3);
TSR_INTERNAL tsr_status tsr_verror(tsr_status status, const char *fmt, va_list ap);

/** Returns TSR_EINVAL with the message if `cond` is false. */
#define TSR_CHECK_ARG(cond, ...)                                   \
    do {                                                           \
        if (TSR_UNLIKELY(!(cond))) return tsr_error(TSR_EINVAL, __VA_ARGS__); \
    } while (0)

/** Returns TSR_EINVAL naming `ptr` if it is NULL (use inside public functions). */
#define TSR_CHECK_NULL(ptr)                                        \
    do {                                                           \
        if (TSR_UNLIKELY((ptr) == NULL))                           \
            return tsr_error(TSR_EINVAL, "%s: argument '%s' is NULL", __func__, #ptr); \
    } while (0)

/** Propagates a non-OK status. */
#define TSR_TRY(expr)                                              \
    do {                                                           \
        tsr_status tsr_try_s_ = (expr);                            \
        if (tsr_try_s_ != TSR_OK) return tsr_try_s_;               \
    } while (0)

/** Overflow-checked arithmetic: return true on overflow. */
static inline bool tsr_mul_size(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out); }
static inline bool tsr_add_size(size_t a, size_t b, size_t *out) { return __builtin_add_overflow(a, b, out); }
static inline bool tsr_mul_i64(int64_t a, int64_t b, int64_t *out) { return __builtin_mul_overflow(a, b, out); }
static inline bool tsr_add_i64(int64_t a, int64_t b, int64_t *out) { return __builtin_add_overflow(a, b, out); }

/**
 * Memory that sizes from files or arguments may claim: at most half of the machine's
 * physical memory in one request. Linux overcommits, so a larger malloc usually
 * "succeeds" and the process is killed later when the pages are touched (and ASan
 * aborts); such requests are refused up front instead. `bytes` is a double so that
 * estimates need no overflow checks. tsr_alloc_fits answers; tsr_check_alloc returns
 * TSR_ENOMEM with "fn: what needs X GB, more than half of this machine's Y GB".
 */
TSR_INTERNAL bool tsr_alloc_fits(double bytes);
TSR_INTERNAL tsr_status tsr_check_alloc(const char *fn, const char *what, double bytes);

/**
 * Internal invariant check: a failure is a Tessera bug. Prints file/line to
 * stderr and aborts. Never use it on user input.
 */
TSR_INTERNAL void tsr_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));
#define TSR_ASSERT(cond) \
    do { if (TSR_UNLIKELY(!(cond))) tsr_assert_fail(#cond, __FILE__, __LINE__); } while (0)

/** Reads an environment variable once-style helper: returns NULL if unset or empty. */
TSR_INTERNAL const char *tsr_getenv(const char *name);

/* Per-ISA function attributes (no -mavx* flags anywhere: run-time dispatch, see the Makefile's CFLAGS note). */
#if defined(__x86_64__) || defined(__i386__)
#  define TSR_X86 1
#  define TSR_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#  define TSR_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c")))
#  define TSR_TARGET_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")))
#  define TSR_TARGET_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,avx2,fma,f16c")))
#else
#  define TSR_X86 0
#  define TSR_TARGET_AVX2
#  define TSR_TARGET_AVX512
#  define TSR_TARGET_AVX512VNNI
#  define TSR_TARGET_AVX512BF16
#endif

/** Cached features (filled once); cheaper than tsr_cpu_features_get on hot paths. */
TSR_INTERNAL const tsr_cpu_features *tsr_cpu(void);

#endif /* TSR_INTERNAL_H */
