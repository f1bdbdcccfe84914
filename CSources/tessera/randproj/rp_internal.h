/*
 * rp_internal.h — the counter-based generator behind R[j, k], the plan and the
 * materialised-matrix layouts, and the kernel table. Not public.
 *
 * Generator: a per-row key  rk(j) = fmix64(seedkey + j·φ64)  (fmix64 is the
 * MurmurHash3 finaliser, a bijection; φ64 is odd, so rows get distinct keys),
 * then per entry 32 bits  h(j,k) = fmix32(fmix32(lo(rk) ^ k·φ32) + hi(rk)).
 * Sparse: h < t → +scale, t <= h < 2t → −scale, else 0, with t = round(2^32/(2s)).
 * Gaussian: 64 bits g = fmix64(rk + (k+1)·C), two 32-bit uniforms, Box–Muller.
 * Everything is integer arithmetic on (seed, j, k), so any thread and any ISA
 * gets the same entry.
 */
#ifndef TSR_RP_INTERNAL_H
#define TSR_RP_INTERNAL_H

#include <math.h>

#include "tsr_kernels.h"
#include "tessera/randproj.h"

static inline uint64_t rp_fmix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}
static inline uint32_t rp_fmix32(uint32_t h) {
    h ^= h >> 16; h *= 0x85ebca6bu;
    h ^= h >> 13; h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}
static inline uint64_t rp_seed_key(uint64_t seed) { return rp_fmix64(seed ^ 0x5851f42d4c957f2dULL); }
static inline uint64_t rp_row_key(uint64_t seedkey, uint64_t row) {
    return rp_fmix64(seedkey + row * 0x9e3779b97f4a7c15ULL);
}
static inline uint32_t rp_entry_bits(uint64_t rk, uint32_t k) {
    uint32_t h = rp_fmix32((uint32_t)rk ^ (k * 0x9e3779b9u));
    return rp_fmix32(h + (uint32_t)(rk >> 32));
}
/** Sparse entry sign: +1, -1 or 0. `t` = per-sign threshold (uint64 so 2t = 2^32 fits). */
static inline int rp_sparse_sign(uint64_t rk, uint32_t k, uint64_t t) {
    uint64_t h = rp_entry_bits(rk, k);
    return h < t ? 1 : (h < 2 * t ? -1 : 0);
}
/** Standard normal entry (before the 1/sqrt(d) scale). */
static inline double rp_gauss(uint64_t rk, uint32_t k) {
    uint64_t g = rp_fmix64(rk + ((uint64_t)k + 1) * 0xd6e8feb86659fd93ULL);
    double u1 = ((double)(g >> 32) + 0.5) * (1.0 / 4294967296.0);
    double u2 = ((double)(g & 0xffffffffu) + 0.5) * (1.0 / 4294967296.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/** R in memory. Rows are input dimensions j, columns output dimensions k. */
typedef struct rp_matrix {
    int64_t D;
    int32_t d;
    int64_t nnz;
    /* CSR over rows j (k ascending); values are the real entries */
    int64_t *row_ptr;     /* D + 1 */
    int32_t *row_k;       /* nnz */
    float *row_v32;       /* nnz */
    double *row_v64;      /* nnz */
    /* sparse kinds only: CSC (entries of output column k, j ascending) with sign masks */
    int64_t *col_ptr;     /* d + 1 */
    int32_t *col_j;       /* nnz */
    uint32_t *col_sign;   /* nnz: 0 or 0x80000000 (XOR into a float) */
    uint64_t *col_sign64; /* nnz: 0 or 1<<63 (XOR into a double) */
    /* sparse kinds with d <= RP_SLOT_MAX_D and few entries per row (rp_slots_wanted): the
     * entries of row j packed in one word for CSR inputs (RP_SLOT_* below), else NULL */
    uint64_t *slots;      /* D */
    int64_t bytes;
} rp_matrix;

struct tsr_rp {
    int64_t D;
    int32_t d;
    tsr_rp_kind kind;
    double s;
    double scale;          /* sqrt(s/d) sparse, 1/sqrt(d) Gaussian */
    uint64_t seed, seedkey;
    uint64_t t;            /* sparse threshold per sign */
    rp_matrix *mat;        /* materialised R or NULL */
};

/**
 * Builds R (need_csc: also the column structure for dense inputs). TSR_ERANGE for
 * D >= INT32_MAX, TSR_ENOMEM (messages naming `fn`) when R would need more than half of
 * the physical memory: checked on the expected size before any work, then on the exact one.
 */
TSR_INTERNAL tsr_status rp_matrix_build(tsr_pool_t *pool, const tsr_rp_t *rp, int need_csc, const char *fn,
                                        rp_matrix **out);
/** 1 if rp_matrix_build would accept R of the expected size. */
TSR_INTERNAL int rp_matrix_fits(const tsr_rp_t *rp, int need_csc);
TSR_INTERNAL void rp_matrix_free(rp_matrix *m);

/*
 * Slots: row j of a very sparse R (about d/s < 1 entries) as four 16-bit codes in one word, so
 * that a CSR input reads one word per stored entry and adds without a branch on the row's
 * length (a branch that depends on a load missing the cache costs the whole miss when it is
 * mispredicted). Code c: bits 3.. the column k, bit 1 set for an entry, bit 0 set for a
 * negative one, so c & 3 indexes {+0, +0, +v, -v}. All four codes are added: an absent one names
 * a column spread over [0, d) and adds +0, which leaves any sum that started at +0 unchanged
 * (such a sum is never -0) — the spread keeps these dummy adds off one address. Bit 2 of code 3
 * (RP_SLOT_MORE) says the row has more than four entries (the rest: its row CSR from the fifth).
 */
#define RP_SLOT_PREFETCH 12 /* stored entries ahead whose slot words are prefetched */
#define RP_SLOT_MAX_D 8192
#define RP_SLOT_MORE 4u
/** Expected stored entries per row of a sparse R: d/s (t is the threshold per sign out of 2^32). */
static inline double rp_slot_entries_expected(const tsr_rp_t *rp) {
    return (double)rp->d * 2.0 * (double)rp->t / 4294967296.0;
}
/** 1 when a sparse R of these dimensions gets slots (d <= RP_SLOT_MAX_D, at most 2 entries per row expected). */
static inline int rp_slots_wanted(const tsr_rp_t *rp) {
    return rp->kind == TSR_RP_SPARSE && rp->d <= RP_SLOT_MAX_D && rp_slot_entries_expected(rp) <= 2.0;
}

/* Rows in one block of the dense sparse-R kernel (one AVX-512 f32 register). */
#define RP_TILE 16
/* Input dimensions per cache block of the transposed tile. */
#define RP_JBLOCK 4096

/** The random-projection microkernel table (docs/KERNELS.md; bodies in rp_kernels.h,
 *  the reference table in rp_kernels_scalar.c, overrides in rp_kernels_<isa>.c). The drivers
 *  (rp_plan.c, rp_transform.c) cut the work into fixed blocks of rows and call a kernel per
 *  block: same operations in the same order on every path, so the same bits. */
typedef struct rp_kernels {
    tsr_kernel_head head;
    /* column indices of row rk's sparse entries over k in [0, d) to ks, ±1 to sg (if non-NULL); returns count */
    int32_t (*sparse_row)(uint64_t rk, int32_t d, uint64_t t, int32_t *ks, int8_t *sg);
    /* dense X tile (<= RP_TILE rows) × sparse R; xt: RP_JBLOCK*RP_TILE, acc: d*RP_TILE, cur: d;
     * returns nonzero when the tile's X held NaN or ±inf (found as it is transposed) */
    int (*tile_f32)(const rp_matrix *m, float scale, int64_t rows, const float *x, int64_t ldx, float *y,
                     int64_t ldy, float *xt, float *acc, int64_t *cur);
    int (*tile_f64)(const rp_matrix *m, double scale, int64_t rows, const double *x, int64_t ldx, double *y,
                     int64_t ldy, double *xt, double *acc, int64_t *cur);
    /* dense X rows (<= RP_G_ROWS) × dense R (D × d row-major); acc: rows*d */
    void (*gemm_f32)(const float *R, int64_t D, int32_t d, int64_t rows, const float *x, int64_t ldx, float *y,
                     int64_t ldy, float *acc);
    void (*gemm_f64)(const double *R, int64_t D, int32_t d, int64_t rows, const double *x, int64_t ldx,
                     double *y, int64_t ldy, double *acc);
} rp_kernels;

TSR_INTERNAL extern const rp_kernels rp_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const rp_kernels rp_kernels_avx2;
TSR_INTERNAL extern const rp_kernels rp_kernels_avx512;
#endif
/** The table of tsr_isa_active() (the selector, in rp_plan.c; read on every call). */
TSR_INTERNAL const rp_kernels *rp_kernels_active(void);

/* Rows per block and input dimensions per block of the dense (Gaussian) kernel. */
#define RP_G_ROWS 32
#define RP_G_JBLOCK 256

#endif /* TSR_RP_INTERNAL_H */
