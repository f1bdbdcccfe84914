/*
 * rp_transform.c — Y = X · R for dense and CSR inputs, in parallel over fixed
 * blocks of rows (every row's result is computed by one worker in a fixed
 * order, so the output does not depend on the thread count or the schedule).
 */
#include <stdatomic.h>
#include <string.h>

#include "rp_internal.h"
#if TSR_X86
#include <immintrin.h>
#endif

/* Scratch for all workers of one call, allocated once per call (never in the loops). */
typedef struct rp_scratch {
    char *base;
    size_t per_worker;
    int nested;
} rp_scratch;

static tsr_status scratch_alloc(const char *fn, tsr_pool_t *pool, size_t per_worker, rp_scratch *s) {
    s->nested = tsr_pool_is_in_worker();
    int32_t nt = s->nested ? 1 : tsr_pool_num_threads(pool);
    if (nt < 1) nt = 1;
    s->per_worker = (per_worker + 63) & ~(size_t)63;
    size_t total;
    if (tsr_mul_size(s->per_worker, (size_t)nt, &total))
        return tsr_error(TSR_ERANGE, "%s: scratch size overflows", fn);
    TSR_TRY(tsr_check_alloc(fn, "per-worker scratch (grows with out_dim)", (double)total));
    s->base = tsr_malloc(total);
    if (!s->base) return tsr_error(TSR_ENOMEM, "%s: out of memory for %zu bytes of scratch", fn, total);
    return TSR_OK;
}
static inline char *scratch_of(const rp_scratch *s, int32_t worker) {
    return s->base + (size_t)(s->nested ? 0 : worker) * s->per_worker;
}

/* ---- dense inputs -------------------------------------------------------------- */

typedef struct dense_ctx {
    const tsr_rp_t *rp;
    const rp_matrix *m;
    const rp_kernels *kern;
    int64_t n;
    const void *x;
    int64_t ldx;
    void *y;
    int64_t ldy;
    int f64;
    int check;                  /* the _checked entry points: scan each block for NaN/inf as it is read */
    _Atomic int64_t bad_row;    /* the first row holding NaN/inf found (INT64_MAX: none) */
    rp_scratch scr;
} dense_ctx;

/* The first of `rows` rows (D elements, stride ldx) holding NaN or ±inf, or -1. Integer tests on
 * the exponent bits: vectorised without any FP exception or -ffast-math assumption. */
static int64_t first_nonfinite_rows(const void *x, int64_t ldx, int64_t rows, int64_t D, int f64) {
    for (int64_t r = 0; r < rows; r++) {
        uint32_t hit = 0;
        if (f64) {
            const double *xr = (const double *)x + r * ldx;
            for (int64_t j = 0; j < D; j++) {
                uint64_t b;
                memcpy(&b, xr + j, sizeof b);
                hit |= (b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull;
            }
        } else {
            const float *xr = (const float *)x + r * ldx;
            for (int64_t j = 0; j < D; j++) {
                uint32_t b;
                memcpy(&b, xr + j, sizeof b);
                hit |= (b & 0x7f800000u) == 0x7f800000u;
            }
        }
        if (hit) return r;
    }
    return -1;
}

/* Records the first row of a block holding NaN/inf: the Gaussian kernel scans each block before it
 * reads it (the block then comes from cache); the sparse-R tile kernels report NaN/inf as they
 * transpose, and only then is the block scanned for the row. */
static void check_block(dense_ctx *c, int64_t r0, int64_t rows) {
    size_t es = c->f64 ? 8 : 4;
    int64_t r = first_nonfinite_rows((const char *)c->x + (size_t)(r0 * c->ldx) * es, c->ldx, rows, c->rp->D, c->f64);
    if (r < 0) return;
    int64_t seen = atomic_load_explicit(&c->bad_row, memory_order_relaxed);
    while (r0 + r < seen &&
           !atomic_compare_exchange_weak_explicit(&c->bad_row, &seen, r0 + r, memory_order_relaxed, memory_order_relaxed)) {
    }
}

static void dense_sparse_tiles(void *vc, int64_t begin, int64_t end, int32_t worker) {
    dense_ctx *c = vc;
    int32_t d = c->rp->d;
    size_t es = c->f64 ? 8 : 4;
    char *s = scratch_of(&c->scr, worker);
    void *xt = s;
    void *acc = s + (size_t)RP_JBLOCK * RP_TILE * es;
    int64_t *cur = (int64_t *)(s + (size_t)RP_JBLOCK * RP_TILE * es + (size_t)d * RP_TILE * es);
    for (int64_t t = begin; t < end; t++) {
        int64_t r0 = t * RP_TILE;
        int64_t rows = c->n - r0 < RP_TILE ? c->n - r0 : RP_TILE;
        int bad;
        if (c->f64)
            bad = c->kern->tile_f64(c->m, c->rp->scale, rows, (const double *)c->x + r0 * c->ldx, c->ldx,
                              (double *)c->y + r0 * c->ldy, c->ldy, xt, acc, cur);
        else
            bad = c->kern->tile_f32(c->m, (float)c->rp->scale, rows, (const float *)c->x + r0 * c->ldx, c->ldx,
                                    (float *)c->y + r0 * c->ldy, c->ldy, xt, acc, cur);
        if (bad && c->check) check_block(c, r0, rows); /* which row: rare, so a second look is fine */
    }
}

static void dense_gauss_blocks(void *vc, int64_t begin, int64_t end, int32_t worker) {
    dense_ctx *c = vc;
    void *acc = scratch_of(&c->scr, worker);
    for (int64_t t = begin; t < end; t++) {
        int64_t r0 = t * RP_G_ROWS;
        int64_t rows = c->n - r0 < RP_G_ROWS ? c->n - r0 : RP_G_ROWS;
        if (c->check) check_block(c, r0, rows);
        if (c->f64)
            c->kern->gemm_f64(c->m->row_v64, c->m->D, c->m->d, rows, (const double *)c->x + r0 * c->ldx, c->ldx,
                              (double *)c->y + r0 * c->ldy, c->ldy, acc);
        else
            c->kern->gemm_f32(c->m->row_v32, c->m->D, c->m->d, rows, (const float *)c->x + r0 * c->ldx, c->ldx,
                              (float *)c->y + r0 * c->ldy, c->ldy, acc);
    }
}

static tsr_status check_dense(const char *fn, const tsr_rp_t *rp, int64_t n, const void *x, int64_t ldx,
                              const void *y, int64_t ldy) {
    if (!rp) return tsr_error(TSR_EINVAL, "%s: argument 'rp' is NULL", fn);
    if (n < 0) return tsr_error(TSR_EINVAL, "%s: n must be >= 0 (got %lld)", fn, (long long)n);
    if (n > 0 && !x) return tsr_error(TSR_EINVAL, "%s: argument 'x' is NULL", fn);
    if (n > 0 && !y) return tsr_error(TSR_EINVAL, "%s: argument 'y' is NULL", fn);
    if (ldx < rp->D)
        return tsr_error(TSR_EINVAL, "%s: ldx (%lld) must be >= in_dim (%lld)", fn, (long long)ldx, (long long)rp->D);
    if (ldy < rp->d)
        return tsr_error(TSR_EINVAL, "%s: ldy (%lld) must be >= out_dim (%d)", fn, (long long)ldy, rp->d);
    int64_t tmp;
    if (n > 0 && (tsr_mul_i64(n, ldx, &tmp) || tsr_mul_i64(n, ldy, &tmp) || tsr_mul_i64(tmp, 8, &tmp)))
        return tsr_error(TSR_ERANGE, "%s: n × ld overflows", fn);
    return TSR_OK;
}

static tsr_status dense_transform(const char *fn, tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                  const void *x, int64_t ldx, void *y, int64_t ldy, int f64, int check) {
    TSR_TRY(check_dense(fn, rp, n, x, ldx, y, ldy));
    if (n == 0) return TSR_OK;
    rp_matrix *tmp = NULL;
    const rp_matrix *m = rp->mat;
    if (!m) {
        TSR_TRY(rp_matrix_build(pool, rp, 1, fn, &tmp));
        m = tmp;
    }
    dense_ctx c = {.rp = rp, .m = m, .kern = rp_kernels_active(), .n = n, .x = x, .ldx = ldx, .y = y,
                   .ldy = ldy, .f64 = f64, .check = check};
    atomic_init(&c.bad_row, INT64_MAX);
    size_t es = f64 ? 8 : 4;
    tsr_status st;
    if (rp->kind == TSR_RP_SPARSE) {
        size_t per = (size_t)RP_JBLOCK * RP_TILE * es + (size_t)rp->d * RP_TILE * es + (size_t)rp->d * 8;
        st = scratch_alloc(fn, pool, per, &c.scr);
        if (st == TSR_OK)
            st = tsr_parallel_for(pool, (n + RP_TILE - 1) / RP_TILE, 1, TSR_SCHEDULE_DYNAMIC, dense_sparse_tiles, &c);
    } else {
        st = scratch_alloc(fn, pool, (size_t)RP_G_ROWS * rp->d * es, &c.scr);
        if (st == TSR_OK)
            st = tsr_parallel_for(pool, (n + RP_G_ROWS - 1) / RP_G_ROWS, 1, TSR_SCHEDULE_DYNAMIC,
                                  dense_gauss_blocks, &c);
    }
    tsr_free(c.scr.base);
    rp_matrix_free(tmp);
    int64_t bad = atomic_load(&c.bad_row);
    if (st == TSR_OK && bad != INT64_MAX)
        return tsr_error(TSR_EINVAL, "%s: x contains NaN or infinity (first in row %lld); y is unspecified", fn,
                         (long long)bad);
    return st;
}

tsr_status tsr_rp_transform_f32(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n, const float *x, int64_t ldx,
                                float *y, int64_t ldy) {
    return dense_transform("tsr_rp_transform_f32", pool, rp, n, x, ldx, y, ldy, 0, 0);
}

tsr_status tsr_rp_transform_f64(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n, const double *x, int64_t ldx,
                                double *y, int64_t ldy) {
    return dense_transform("tsr_rp_transform_f64", pool, rp, n, x, ldx, y, ldy, 1, 0);
}

tsr_status tsr_rp_transform_checked_f32(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n, const float *x, int64_t ldx,
                                        float *y, int64_t ldy) {
    return dense_transform("tsr_rp_transform_checked_f32", pool, rp, n, x, ldx, y, ldy, 0, 1);
}

tsr_status tsr_rp_transform_checked_f64(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n, const double *x,
                                        int64_t ldx, double *y, int64_t ldy) {
    return dense_transform("tsr_rp_transform_checked_f64", pool, rp, n, x, ldx, y, ldy, 1, 1);
}

/* ---- CSR inputs ------------------------------------------------------------------ */

typedef struct csr_ctx {
    const tsr_rp_t *rp;
    const rp_matrix *m;      /* NULL: generate rows of R per stored entry */
    const rp_kernels *kern;
    const void *indptr, *indices; /* int64_t, or int32_t when idx32 */
    const void *values;
    void *y;
    int64_t ldy;
    int f64, idx32;
    int stream;              /* large output: streaming stores (store_row_*) */
    _Atomic int64_t bad;     /* smallest position of a column index outside [0, D); INT64_MAX if none */
    rp_scratch scr;          /* per worker: acc (d doubles), then the lazy mode's ks (d int32), sg (d int8) */
} csr_ctx;

/* Outputs of at least this many bytes are written with streaming stores (they would not stay in cache). */
#define RP_STREAM_BYTES (8 << 20)

/* yr[k] = sc · acc[k], k < d; `stream`: non-temporal stores where yr is 16-byte aligned (no read
 * for ownership of lines that are wholly overwritten; the worker fences before it returns). */
static inline void store_row_f32(float *restrict yr, const float *restrict acc, float sc, int32_t d, int stream) {
    int32_t k = 0;
#if TSR_X86
    if (stream && ((uintptr_t)yr & 15) == 0) {
        const __m128 s = _mm_set1_ps(sc);
        for (; k + 4 <= d; k += 4) _mm_stream_ps(yr + k, _mm_mul_ps(s, _mm_loadu_ps(acc + k)));
    }
#endif
    for (; k < d; k++) yr[k] = sc * acc[k];
}
static inline void store_row_f64(double *restrict yr, const double *restrict acc, double sc, int32_t d, int stream) {
    int32_t k = 0;
#if TSR_X86
    if (stream && ((uintptr_t)yr & 15) == 0) {
        const __m128d s = _mm_set1_pd(sc);
        for (; k + 2 <= d; k += 2) _mm_stream_pd(yr + k, _mm_mul_pd(s, _mm_loadu_pd(acc + k)));
    }
#endif
    for (; k < d; k++) yr[k] = sc * acc[k];
}

#define RP_T float
#define RP_SFX f32
#define RP_FMA fmaf
#define RP_ROWV row_v32
#define RP_IDX int64_t
#define RP_ISFX i64
#include "rp_csr_row_body.h"
#undef RP_IDX
#undef RP_ISFX
#define RP_IDX int32_t
#define RP_ISFX i32
#include "rp_csr_row_body.h"
#undef RP_IDX
#undef RP_ISFX
#undef RP_T
#undef RP_SFX
#undef RP_FMA
#undef RP_ROWV

#define RP_T double
#define RP_SFX f64
#define RP_FMA fma
#define RP_ROWV row_v64
#define RP_IDX int64_t
#define RP_ISFX i64
#include "rp_csr_row_body.h"
#undef RP_IDX
#undef RP_ISFX
#define RP_IDX int32_t
#define RP_ISFX i32
#include "rp_csr_row_body.h"
#undef RP_IDX
#undef RP_ISFX
#undef RP_T
#undef RP_SFX
#undef RP_FMA
#undef RP_ROWV

/* Rows [begin, end) of a CSR input; the lazy mode's per-worker scratch holds R's row j as (column, ±1).
 * Every row is processed, so the minimum of the rows' first bad positions is the input's first. */
static void csr_rows(void *vc, int64_t begin, int64_t end, int32_t worker) {
    const csr_ctx *c = vc;
    char *base = scratch_of(&c->scr, worker);
    int32_t *ks = (int32_t *)(base + (size_t)c->rp->d * sizeof(double));
    int8_t *sg = (int8_t *)(ks + c->rp->d);
    int64_t bad = INT64_MAX;
    for (int64_t i = begin; i < end; i++) {
        int64_t b = c->f64 ? (c->idx32 ? csr_row_f64_i32(c, i, ks, sg, base) : csr_row_f64_i64(c, i, ks, sg, base))
                           : (c->idx32 ? csr_row_f32_i32(c, i, ks, sg, base) : csr_row_f32_i64(c, i, ks, sg, base));
        if (b >= 0 && b < bad) bad = b;
    }
#if TSR_X86
    if (c->stream) _mm_sfence(); /* the streaming stores are visible before the pool's barrier */
#endif
    if (bad == INT64_MAX) return;
    csr_ctx *cm = vc;
    int64_t seen = atomic_load_explicit(&cm->bad, memory_order_relaxed);
    while (bad < seen &&
           !atomic_compare_exchange_weak_explicit(&cm->bad, &seen, bad, memory_order_relaxed, memory_order_relaxed)) {
    }
}

static inline int64_t ip_at(const void *indptr, int idx32, int64_t i) {
    return idx32 ? ((const int32_t *)indptr)[i] : ((const int64_t *)indptr)[i];
}

static tsr_status csr_transform(const char *fn, tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n,
                                const void *indptr, const void *indices, int idx32, const void *values, void *y,
                                int64_t ldy, int f64) {
    if (!rp) return tsr_error(TSR_EINVAL, "%s: argument 'rp' is NULL", fn);
    if (n < 0) return tsr_error(TSR_EINVAL, "%s: n must be >= 0 (got %lld)", fn, (long long)n);
    if (n == 0) return TSR_OK;
    if (!indptr) return tsr_error(TSR_EINVAL, "%s: argument 'indptr' is NULL", fn);
    if (!y) return tsr_error(TSR_EINVAL, "%s: argument 'y' is NULL", fn);
    if (ldy < rp->d)
        return tsr_error(TSR_EINVAL, "%s: ldy (%lld) must be >= out_dim (%d)", fn, (long long)ldy, rp->d);
    int64_t tmp;
    if (tsr_mul_i64(n, ldy, &tmp) || tsr_mul_i64(tmp, 8, &tmp))
        return tsr_error(TSR_ERANGE, "%s: n × ldy overflows", fn);
    int64_t ip0 = ip_at(indptr, idx32, 0);
    if (ip0 < 0) return tsr_error(TSR_EINVAL, "%s: indptr[0] is negative (%lld)", fn, (long long)ip0);
    for (int64_t i = 0; i < n; i++) {
        int64_t a = ip_at(indptr, idx32, i), b = ip_at(indptr, idx32, i + 1);
        if (b < a)
            return tsr_error(TSR_EINVAL, "%s: indptr decreases at row %lld (%lld > %lld)", fn, (long long)i,
                             (long long)a, (long long)b);
    }
    int64_t nnz = ip_at(indptr, idx32, n) - ip0;
    if (nnz > 0 && !indices) return tsr_error(TSR_EINVAL, "%s: argument 'indices' is NULL", fn);
    if (nnz > 0 && !values) return tsr_error(TSR_EINVAL, "%s: argument 'values' is NULL", fn);
    csr_ctx c = {.rp = rp, .m = rp->mat, .kern = rp_kernels_active(), .indptr = indptr, .indices = indices,
                 .values = values, .y = y, .ldy = ldy, .f64 = f64, .idx32 = idx32};
    atomic_init(&c.bad, INT64_MAX);
    c.stream = (double)n * (double)ldy * (f64 ? 8 : 4) >= RP_STREAM_BYTES;
    rp_matrix *own = NULL;
    /* Generating all of R costs D·d hashes, generating per stored entry nnz·d:
     * build R for this call when it is cheaper and fits in memory (results are
     * identical either way). */
    if (!c.m && rp->D <= nnz && rp_matrix_fits(rp, 0)) {
        TSR_TRY(rp_matrix_build(pool, rp, 0, fn, &own));
        c.m = own;
    }
    tsr_status st = scratch_alloc(fn, pool, (size_t)rp->d * sizeof(double) + (size_t)rp->d * (sizeof(int32_t) + 1),
                                  &c.scr);
    if (st == TSR_OK) st = tsr_parallel_for(pool, n, 64, TSR_SCHEDULE_DYNAMIC, csr_rows, &c);
    tsr_free(c.scr.base);
    rp_matrix_free(own);
    int64_t bad = atomic_load(&c.bad);
    if (st == TSR_OK && bad != INT64_MAX) {
        int64_t j = idx32 ? ((const int32_t *)indices)[bad] : ((const int64_t *)indices)[bad];
        st = tsr_error(TSR_ERANGE, "%s: column index %lld at position %lld is not in [0, %lld)", fn, (long long)j,
                       (long long)bad, (long long)rp->D);
    }
    return st;
}

tsr_status tsr_rp_transform_csr_f32(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n, const int64_t *indptr,
                                    const int64_t *indices, const float *values, float *y, int64_t ldy) {
    return csr_transform("tsr_rp_transform_csr_f32", pool, rp, n, indptr, indices, 0, values, y, ldy, 0);
}

tsr_status tsr_rp_transform_csr_f64(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n, const int64_t *indptr,
                                    const int64_t *indices, const double *values, double *y, int64_t ldy) {
    return csr_transform("tsr_rp_transform_csr_f64", pool, rp, n, indptr, indices, 0, values, y, ldy, 1);
}

tsr_status tsr_rp_transform_csr32_f32(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n, const int32_t *indptr,
                                      const int32_t *indices, const float *values, float *y, int64_t ldy) {
    return csr_transform("tsr_rp_transform_csr32_f32", pool, rp, n, indptr, indices, 1, values, y, ldy, 0);
}

tsr_status tsr_rp_transform_csr32_f64(tsr_pool_t *pool, const tsr_rp_t *rp, int64_t n, const int32_t *indptr,
                                      const int32_t *indices, const double *values, double *y, int64_t ldy) {
    return csr_transform("tsr_rp_transform_csr32_f64", pool, rp, n, indptr, indices, 1, values, y, ldy, 1);
}
