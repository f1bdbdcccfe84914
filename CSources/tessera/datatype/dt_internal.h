/*
 * dt_internal.h — datatype objects, canonical forms and pack kernels (not public).
 */
#ifndef TSR_DT_INTERNAL_H
#define TSR_DT_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "tsr_kernels.h"

#define DT_MAGIC 0x7473725f64747970ull /* "tsr_dtyp" */

/* Above this many body segments commit gives up listing them (TSR_CANON_GENERAL). */
#define DT_MAX_SEGMENTS (1ll << 22)

/* Deepest constructor nesting accepted: every walker recurses once per level. */
#define DT_MAX_DEPTH 1024

/* The canonical form of one element (see datatype.h). */
typedef struct dt_canon {
    tsr_canon_kind kind;
    int64_t start;
    int32_t nd;            /* streams, outer first */
    int64_t *counts, *strides;
    int64_t nseg;          /* body segments (1 for STRIDED) */
    int64_t *seg_off;      /* relative to start; seg_off[0] == 0 */
    int64_t *seg_len;
    int64_t *seg_prefix;   /* nseg + 1 prefix sums of seg_len */
    int64_t body_bytes;    /* sum of seg_len */
    int64_t max_seg;       /* longest segment */
} dt_canon;

struct tsr_datatype {
    uint64_t magic;
    _Atomic int64_t refs;   /* the user's reference (until freed) + one per parent type */
    _Atomic int user_freed; /* the user's handle was freed */
    int immortal;           /* named types: static, never destroyed */
    tsr_combiner comb;
    tsr_named_type named;
    /* constructor arguments */
    int64_t count, blocklen, stride;         /* contiguous, vector, hvector, *_block (stride in bytes for h-types) */
    int64_t *blocklens, *displs;             /* indexed families and struct (displs in bytes for h*, struct) */
    int64_t nfilled;                         /* indexed/struct: blocks that hold data (blocklen and child size > 0) */
    int64_t *filled;                         /* their indices in order, or NULL when every block holds data */
    int32_t depth;                           /* nesting: 0 for named types */
    int64_t nchild;
    struct tsr_datatype **children;          /* 1 except struct */
    int32_t ndims;                           /* subarray */
    int64_t *sizes, *subsizes, *starts;
    tsr_order order;
    /* derived bounds */
    int64_t size, lb, extent, true_lb, true_ub;
    /* commit */
    _Atomic int committed;
    dt_canon canon;
    char kernel_name[32];
};

/* Block k of the data-holding blocks of an indexed/struct type (k < dt_nfilled(t)). */
static inline int64_t dt_nfilled(const tsr_datatype_t *t) { return t->filled ? t->nfilled : t->count; }
static inline int64_t dt_filled(const tsr_datatype_t *t, int64_t k) { return t->filled ? t->filled[k] : k; }

/* Registry of live handles (every public entry point validates its handle). */
TSR_INTERNAL int dt_registry_contains(const tsr_datatype_t *t);
/* Looks a handle up: TSR_EINVAL with a message naming `fn`/`arg` if it is not live. */
TSR_INTERNAL tsr_status dt_check(const tsr_datatype_t *t, const char *fn, const char *arg);
/* Same, and also requires a committed type (TSR_ESTATE). */
TSR_INTERNAL tsr_status dt_check_committed(const tsr_datatype_t *t, const char *fn, const char *arg);

/* Computes t->canon (called under the commit lock). */
TSR_INTERNAL tsr_status dt_canonicalize(tsr_datatype_t *t);
TSR_INTERNAL void dt_canon_free(dt_canon *c);
/* Writes the canonical form of a committed type (describe). Returns chars that would be written. */
TSR_INTERNAL size_t dt_canon_describe(const tsr_datatype_t *t, char *buf, size_t cap);

/* Naive type-map walkers (reference; also the TSR_CANON_GENERAL path). dir 0 = pack, 1 = unpack. */
TSR_INTERNAL void dt_naive_walk(const tsr_datatype_t *t, char *base, int64_t incount, char *stream, int dir);
/* Walks only stream bytes [first, first+n) (GENERAL types, partial ranges). */
TSR_INTERNAL void dt_naive_walk_range(const tsr_datatype_t *t, char *base, int64_t incount, char *stream,
                                      int64_t first, int64_t n, int dir);

/* ---- kernels (dt_kernels*.c) ---- */

/* Copies m blocks of B bytes: pack: dst[i*B] <- src[i*s]; unpack: src[i*s] <- dst[i*B]. */
typedef void (*dt_strided_fn)(char *packed, char *mem, int64_t B, int64_t s, int64_t m);
/* Copies m instances of a segment body: instance i at mem + i*s, segment j at off[j], len[j]. */
typedef void (*dt_segments_fn)(char *packed, char *mem, int64_t s, int64_t m, const int64_t *off,
                               const int64_t *len, int64_t nseg, int64_t body_bytes);

/* The pack microkernel table (docs/KERNELS.md). The driver (dt_pack.c) walks the outer
 * streams of the canonical form and the parallel split; a kernel moves m instances of the
 * innermost stream. Every path moves the same bytes to the same places. */
typedef struct dt_kernels {
    tsr_kernel_head head;
    dt_strided_fn pack_strided, unpack_strided;
    dt_segments_fn pack_segments, unpack_segments;  /* for bodies whose segments are all <= 64 bytes */
} dt_kernels;

/* Kernel runs that pack at least this many bytes write the packed stream with streaming
 * (non-temporal) stores where a kernel has full 64-byte stores (AVX-512 lanes, qword permute,
 * 8-byte gathers): such a destination would not stay in the caches, and skipping the fetch of
 * each destination line saves a quarter to a third of the memory traffic. A quarter of the L3
 * (8 MiB on the 32 MiB Zen 4 L3; 8 MiB when unknown); TESSERA_DATATYPE_STREAM_BYTES=N sets N
 * bytes, 0 turns streaming off. Only runs of at least DT_STREAM_MIN_RUN bytes ask. */
#define DT_STREAM_MIN_RUN (64 * 1024)
TSR_INTERNAL int64_t dt_stream_min_bytes(void);

/* The reference table (dt_kernels_scalar.c) and the overrides (dt_kernels_<isa>.c). */
TSR_INTERNAL extern const dt_kernels dt_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const dt_kernels dt_kernels_avx2;
TSR_INTERNAL extern const dt_kernels dt_kernels_avx512;
#endif

#endif /* TSR_DT_INTERNAL_H */
