/*
 * tessera/core.h — status codes, errors, versions, data types, CPU features,
 * ISA dispatch and aligned memory. Every other Tessera header includes this one.
 *
 * Error model (the same for every public function):
 *   - A function that can fail returns tsr_status. TSR_OK (0) is success.
 *   - On failure, tsr_last_error() returns a thread-local sentence naming the
 *     function, the argument and the offending value. It stays valid until the
 *     next failing Tessera call on the same thread.
 *   - Tessera never aborts, exits or prints on user input.
 */
#ifndef TESSERA_CORE_H
#define TESSERA_CORE_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(TSR_BUILD_SHARED)
#  define TSR_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#  define TSR_API __attribute__((visibility("default")))
#else
#  define TSR_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define TSR_DEPRECATED(decl, hint) decl __attribute__((deprecated(hint)))
#else
#  define TSR_DEPRECATED(decl, hint) decl
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions ----------------------------------------------------------- */

#define TSR_VERSION_MAJOR 0
#define TSR_VERSION_MINOR 1
#define TSR_VERSION_PATCH 0
/** Compile-time API version, 0xMMmmpp. Compare with tsr_version() at run time. */
#define TSR_API_VERSION ((TSR_VERSION_MAJOR << 16) | (TSR_VERSION_MINOR << 8) | TSR_VERSION_PATCH)

/** Run-time version of the loaded library, 0xMMmmpp. */
TSR_API uint32_t tsr_version(void);
/** Run-time version as "MAJOR.MINOR.PATCH". Static storage; never NULL. */
TSR_API const char *tsr_version_string(void);


/* ---- status and errors ---------------------------------------------------- */

/** Result of every fallible call. Append-only: values are never renumbered. */
typedef enum tsr_status {
    TSR_OK = 0,
    TSR_EINVAL = 1,        /**< invalid argument: NULL pointer, bad enum, bad shape, bad stride */
    TSR_ENOMEM = 2,        /**< allocation failed */
    TSR_ERANGE = 3,        /**< a size or product of sizes overflows, or an index is out of range */
    TSR_EFORMAT = 4,       /**< malformed input file or byte stream */
    TSR_EUNSUPPORTED = 5,  /**< valid request that this build or CPU cannot serve */
    TSR_EIO = 6,           /**< file or OS error (errno is in the message) */
    TSR_ESTATE = 7,        /**< object in the wrong state for the call (e.g. type not committed) */
    TSR_EINTERNAL = 8,     /**< broken internal invariant: a bug in Tessera, please report */
    TSR_STATUS_COUNT
} tsr_status;

/** Short constant name of a status ("TSR_EINVAL: invalid argument"). Never NULL. */
TSR_API const char *tsr_status_string(tsr_status status);
/** Detail of the last failure on this thread ("" if none). Never NULL. */
TSR_API const char *tsr_last_error(void);
/** Clears this thread's last-error text. */
TSR_API void tsr_last_error_clear(void);
/** Deprecated name of tsr_last_error_clear (docs/CONVENTIONS.md). */
TSR_DEPRECATED(TSR_API void tsr_clear_error(void), "use tsr_last_error_clear");

/** How the loaded library was compiled. */
typedef struct tsr_build_info {
    uint32_t size;          /**< sizeof(tsr_build_info), set by the caller */
    int32_t optimized;      /**< 1 if compiled with optimisation (-O1 or higher), 0 at -O0 */
    const char *compiler;   /**< compiler name and version (static storage) */
} tsr_build_info;

/**
 * Fills `out` (set out->size first). A SwiftPM client's debug build compiles the C kernels at
 * -O0 — 40–150× slower — and SwiftPM allows no per-package flags for versioned dependencies:
 * `optimized == 0` lets callers warn (build with `-c release`, or `swift build -Xcc -O2`).
 * Errors: TSR_EINVAL for NULL or a size smaller than the first release of this struct.
 */
TSR_API tsr_status tsr_build_info_get(tsr_build_info *out);

/* ---- element types ------------------------------------------------------ */

/** Element types used by kernels. Append-only. */
typedef enum tsr_dtype {
    TSR_DTYPE_F32 = 0,
    TSR_DTYPE_F64 = 1,
    TSR_DTYPE_F16 = 2,
    TSR_DTYPE_BF16 = 3,
    TSR_DTYPE_I8 = 4,
    TSR_DTYPE_U8 = 5,
    TSR_DTYPE_I32 = 6,
    TSR_DTYPE_I64 = 7,
    TSR_DTYPE_COUNT
} tsr_dtype;

/** Bytes per element of `dtype`, or 0 for an invalid value. */
TSR_API size_t tsr_dtype_size(tsr_dtype dtype);
/** Name of `dtype` ("f32", "bf16", ...), or "invalid". Never NULL. */
TSR_API const char *tsr_dtype_name(tsr_dtype dtype);

/** IEEE half and bfloat16 conversions (round to nearest even; NaN preserved). */
TSR_API float tsr_f16_to_f32(uint16_t h);
TSR_API uint16_t tsr_f32_to_f16(float f);
TSR_API float tsr_bf16_to_f32(uint16_t b);
TSR_API uint16_t tsr_f32_to_bf16(float f);

/* ---- CPU features and ISA dispatch ------------------------------------------ */

/** Kernel instruction-set levels, lowest first. Append-only. */
typedef enum tsr_isa {
    TSR_ISA_SCALAR = 0,  /**< portable C reference; always available */
    TSR_ISA_AVX2 = 1,    /**< AVX2 + FMA (+ F16C) */
    TSR_ISA_AVX512 = 2,  /**< AVX-512 F/BW/DQ/VL; VNNI and BF16 used where the features say so */
    TSR_ISA_COUNT
} tsr_isa;

/**
 * What the CPU and the OS support. Each flag is 1 only if CPUID reports the
 * instructions AND XCR0 shows the OS saves the register state they need.
 * `size` must be set to sizeof(tsr_cpu_features) by the caller.
 */
typedef struct tsr_cpu_features {
    uint32_t size;
    int32_t sse42, avx, avx2, fma, f16c;
    int32_t avx512f, avx512bw, avx512dq, avx512vl, avx512_vnni, avx512_bf16, avx512_fp16;
    int32_t avx_vnni, amx_tile, amx_int8, amx_bf16;
    char vendor[16];      /**< "GenuineIntel", "AuthenticAMD", ... */
    char brand[64];       /**< processor brand string */
} tsr_cpu_features;

/** Fills `out` (out->size must be set). TSR_EINVAL if out is NULL or size is too small. */
TSR_API tsr_status tsr_cpu_features_get(tsr_cpu_features *out);

/** Highest ISA level this CPU and OS support. */
TSR_API tsr_isa tsr_isa_supported(void);

/**
 * ISA level the kernels use now: the supported level, lowered by the environment
 * variable TESSERA_ISA=scalar|avx2|avx512 (read once, on first use) or by
 * tsr_isa_force(). Kernels read it on every call (one atomic load), so a forced
 * change takes effect at the next call.
 */
TSR_API tsr_isa tsr_isa_active(void);

/**
 * Forces kernels to use `isa` (for tests that compare every path, or to work
 * around a bug). TSR_EUNSUPPORTED if the CPU lacks it, TSR_EINVAL if not an ISA.
 * Thread-safe; affects the whole process.
 */
TSR_API tsr_status tsr_isa_force(tsr_isa isa);

/** "scalar", "avx2", "avx512", or "invalid". Never NULL. */
TSR_API const char *tsr_isa_name(tsr_isa isa);

/** Parses "scalar"/"avx2"/"avx512" (case-insensitive). TSR_EINVAL for anything else. */
TSR_API tsr_status tsr_isa_parse(const char *name, tsr_isa *out);

/* ---- aligned memory --------------------------------------------------------- */

/** Alignment of tsr_malloc, in bytes (one AVX-512 register, one cache line). */
#define TSR_ALIGNMENT 64

/**
 * Allocates `bytes` aligned to TSR_ALIGNMENT. Returns NULL (and sets
 * tsr_last_error) on failure; tsr_malloc(0) returns a unique non-NULL pointer.
 * One request may claim at most half of the machine's physical memory: Linux overcommits,
 * so a larger request would "succeed" and the process be killed when the pages are
 * touched; it fails here instead (TSR_ENOMEM, naming both sizes). Free with tsr_free.
 */
TSR_API void *tsr_malloc(size_t bytes);
/** Like tsr_malloc, zero-filled; `count * size` is overflow-checked. */
TSR_API void *tsr_calloc(size_t count, size_t size);
/** Allocates with a power-of-two `alignment` >= sizeof(void*). NULL on failure. */
TSR_API void *tsr_malloc_aligned(size_t bytes, size_t alignment);
/** Frees memory from tsr_malloc/tsr_calloc/tsr_malloc_aligned. NULL-safe. */
TSR_API void tsr_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_CORE_H */
