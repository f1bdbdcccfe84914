/*
 * dt_kernels_body.h — the portable pack bodies (fixed-size copies the compiler turns into
 * single moves), written once: dt_kernels_scalar.c instantiates them as the reference
 * table, and the AVX2 override inlines the strided ones for blocks below its 32-byte moves.
 */
#ifndef TSR_DT_KERNELS_BODY_H
#define TSR_DT_KERNELS_BODY_H

#include <string.h>

#include "dt_internal.h"

/* Prefetch distance, in blocks, for strides that leave the cache line, into L2 (locality 2):
 * far enough ahead to cover a DRAM miss when every block is on its own line (cold faces). */
#define PFD 48

#define STRIDED_PACK(BYTES)                                                     \
    for (int64_t i = 0; i < m; i++) {                                           \
        if (pf) __builtin_prefetch(mem + (i + PFD) * s, 0, 2);                  \
        memcpy(packed + i * (BYTES), mem + i * s, (BYTES));                     \
    }                                                                           \
    return;

#define STRIDED_UNPACK(BYTES)                                                   \
    for (int64_t i = 0; i < m; i++) {                                           \
        if (pf) __builtin_prefetch(mem + (i + PFD) * s, 1, 2);                  \
        memcpy(mem + i * s, packed + i * (BYTES), (BYTES));                     \
    }                                                                           \
    return;

static inline __attribute__((always_inline)) void dt_pack_strided_body(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    const int pf = s >= 128 || s <= -128;
    switch (B) {
    case 1: STRIDED_PACK(1)
    case 2: STRIDED_PACK(2)
    case 4: STRIDED_PACK(4)
    case 8: STRIDED_PACK(8)
    case 12: STRIDED_PACK(12)
    case 16: STRIDED_PACK(16)
    case 24: STRIDED_PACK(24)
    case 32: STRIDED_PACK(32)
    case 64: STRIDED_PACK(64)
    default:
        for (int64_t i = 0; i < m; i++) memcpy(packed + i * B, mem + i * s, (size_t)B);
    }
}

static inline __attribute__((always_inline)) void dt_unpack_strided_body(char *packed, char *mem, int64_t B, int64_t s, int64_t m) {
    const int pf = s >= 128 || s <= -128;
    switch (B) {
    case 1: STRIDED_UNPACK(1)
    case 2: STRIDED_UNPACK(2)
    case 4: STRIDED_UNPACK(4)
    case 8: STRIDED_UNPACK(8)
    case 12: STRIDED_UNPACK(12)
    case 16: STRIDED_UNPACK(16)
    case 24: STRIDED_UNPACK(24)
    case 32: STRIDED_UNPACK(32)
    case 64: STRIDED_UNPACK(64)
    default:
        for (int64_t i = 0; i < m; i++) memcpy(mem + i * s, packed + i * B, (size_t)B);
    }
}

/* Copies n <= 64 bytes with at most two (overlapping) fixed-size moves per size class. */
static inline void copy_le64(char *d, const char *s, int64_t n) {
    if (n >= 32) {
        memcpy(d, s, 32);
        memcpy(d + n - 32, s + n - 32, 32);
    } else if (n >= 16) {
        memcpy(d, s, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n >= 2) {
        memcpy(d, s, 2);
        memcpy(d + n - 2, s + n - 2, 2);
    } else if (n == 1) {
        *d = *s;
    }
}

static inline __attribute__((always_inline)) void dt_pack_segments_body(char *packed, char *mem, int64_t s, int64_t m,
                                                                        const int64_t *off, const int64_t *len,
                                                                        int64_t nseg, int64_t body) {
    for (int64_t i = 0; i < m; i++, mem += s) {
        char *p = packed + i * body;
        for (int64_t j = 0; j < nseg; j++) {
            copy_le64(p, mem + off[j], len[j]);
            p += len[j];
        }
    }
}

static inline __attribute__((always_inline)) void dt_unpack_segments_body(char *packed, char *mem, int64_t s, int64_t m,
                                                                          const int64_t *off, const int64_t *len,
                                                                          int64_t nseg, int64_t body) {
    for (int64_t i = 0; i < m; i++, mem += s) {
        const char *p = packed + i * body;
        for (int64_t j = 0; j < nseg; j++) {
            copy_le64(mem + off[j], p, len[j]);
            p += len[j];
        }
    }
}

#endif /* TSR_DT_KERNELS_BODY_H */
