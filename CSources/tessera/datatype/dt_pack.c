/*
 * dt_pack.c — pack / unpack engine: a per-call plan over the canonical form
 * (incount becomes the outermost stream), a serial packer for any byte range of
 * the packed stream, and the parallel split over the pool.
 */
#include <stdlib.h>
#include <string.h>

#include "dt_internal.h"

#define DT_MAXD 66

/* Below this many packed bytes a call stays on the calling thread. */
#define DT_PAR_MIN_BYTES (256 * 1024)
/* A dense pack (its elements span less than DT_PAR_SPARSE x its packed bytes) moves its
 * bytes at cache speed, a few tens of microseconds per MiB: waking a second worker costs
 * about as much (12-77 us after an idle gap on the 2-core Zen 4 box, more when its core is
 * busy), and while the host runs that box's two vCPUs apart (a cache-line round trip of
 * 0.5-1.1 us instead of 0.2 us) the worker fetches every line the caller touched last (the
 * destination of the previous pack, a buffer the send just read) at 15-24 GB/s instead of
 * ~90 GB/s (`make probe-pack-split`, docs/datatype.md round 9). 1 MiB packs of 1..1024-byte blocks
 * measured slower on the 2-worker pool than on one thread in every run. Dense packs split
 * from this many packed bytes (environment
 * TESSERA_DATATYPE_SPLIT_BYTES overrides it); sparse ones (a 3-D face: one cache line and
 * half a page per 8-byte block) are bound by misses and page walks, which two workers
 * overlap, and split from DT_PAR_MIN_BYTES. */
#define DT_PAR_DENSE_MIN_BYTES (4 * 1024 * 1024)
#define DT_PAR_SPARSE 16

static int64_t dense_split_bytes(void) {
    const char *v = tsr_getenv("TESSERA_DATATYPE_SPLIT_BYTES");
    if (!v || !*v) return DT_PAR_DENSE_MIN_BYTES;
    char *end;
    long long x = strtoll(v, &end, 10);
    return (*end == '\0' && x >= 0) ? (int64_t)x : DT_PAR_DENSE_MIN_BYTES;
}

int64_t dt_stream_min_bytes(void) {
    const char *v = tsr_getenv("TESSERA_DATATYPE_STREAM_BYTES");
    if (v) {
        char *end;
        long long x = strtoll(v, &end, 10);
        if (*end == '\0' && x >= 0) return x == 0 ? INT64_MAX : (int64_t)x;
    }
    static int64_t cached;  /* 0 until computed; every thread computes the same value */
    int64_t c = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (!c) {
        /* hwloc's L3 of one package (sysconf reports 320 MiB for the 32 MiB L3 of the Zen 4 VM) */
        tsr_topology_info ti = {.size = sizeof ti};
        const int64_t l3 = tsr_topology_info_get(&ti) == TSR_OK ? ti.l3_bytes : 0;
        c = l3 > 0 ? l3 / 4 : (int64_t)8 << 20;
        if (c < DT_STREAM_MIN_RUN) c = DT_STREAM_MIN_RUN;
        __atomic_store_n(&cached, c, __ATOMIC_RELAXED);
    }
    return c;
}

/* Whether `incount` elements span at least DT_PAR_SPARSE times their packed bytes. */
static int is_sparse(const tsr_datatype_t *t, int64_t incount) {
    double ext = t->extent < 0 ? -(double)t->extent : (double)t->extent;
    double span = ext * (double)(incount - 1) + (double)(t->true_ub - t->true_lb);
    return span >= (double)DT_PAR_SPARSE * (double)t->size * (double)incount;
}

/* The kernel selector (tsr_kernels.h): reference table, then the overrides per level. */
static void dt_overlay(void *dst, const void *src) {
    dt_kernels *d = dst;
    const dt_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, pack_strided);
    TSR_KERNEL_INHERIT(d, o, unpack_strided);
    TSR_KERNEL_INHERIT(d, o, pack_segments);
    TSR_KERNEL_INHERIT(d, o, unpack_segments);
}

static const void *const dt_overrides[] = {
#if TSR_X86
    &dt_kernels_avx2, &dt_kernels_avx512,
#endif
    NULL};
static dt_kernels dt_tables[TSR_ISA_COUNT];
static tsr_kernel_registry dt_registry =
    TSR_KERNEL_REGISTRY("datatype", dt_kernels, &dt_kernels_ref, dt_overrides, dt_overlay, dt_tables);

typedef struct plan {
    int strided;                 /* 1: one block of B bytes per instance */
    char *base;                  /* memory of element 0 + canonical start */
    int32_t nd;                  /* >= 1 (a dummy (1, 0) dim when nothing else) */
    int64_t cnt[DT_MAXD], str[DT_MAXD];
    int64_t B;                   /* bytes per instance (block or body) */
    const int64_t *off, *len, *prefix;
    int64_t nseg, max_seg;
    const dt_kernels *k;
    int dir;                     /* 0 pack, 1 unpack */
} plan;

static void make_plan(plan *p, const tsr_datatype_t *t, char *mem, int64_t incount, int dir) {
    const dt_canon *c = &t->canon;
    p->strided = c->kind == TSR_CANON_STRIDED;
    p->base = mem + c->start;
    p->B = c->body_bytes;
    p->off = c->seg_off;
    p->len = c->seg_len;
    p->prefix = c->seg_prefix;
    p->nseg = c->nseg;
    p->max_seg = c->max_seg;
    p->k = tsr_kernels_select(&dt_registry, tsr_isa_active());
    p->dir = dir;
    int32_t nd = 0;
    if (incount != 1) { p->cnt[nd] = incount; p->str[nd] = t->extent; nd++; }
    for (int32_t k = 0; k < c->nd; k++) { p->cnt[nd] = c->counts[k]; p->str[nd] = c->strides[k]; nd++; }
    /* the incount stream may chain with the type's streams or fold into its block */
    for (int changed = 1; changed;) {
        changed = 0;
        if (p->strided && nd > 0 && p->str[nd - 1] == p->B) {
            p->B *= p->cnt[nd - 1];
            nd--;
            changed = 1;
            continue;
        }
        for (int32_t k = 0; k + 1 < nd; k++) {
            int64_t span;
            if (!tsr_mul_i64(p->cnt[k + 1], p->str[k + 1], &span) && p->str[k] == span) {
                p->cnt[k + 1] *= p->cnt[k];
                memmove(p->cnt + k, p->cnt + k + 1, (size_t)(nd - k - 1) * sizeof(int64_t));
                memmove(p->str + k, p->str + k + 1, (size_t)(nd - k - 1) * sizeof(int64_t));
                nd--;
                changed = 1;
                break;
            }
        }
    }
    if (nd == 0) { p->cnt[0] = 1; p->str[0] = 0; nd = 1; }
    p->nd = nd;
}

static inline void mov(const plan *p, char *packed, char *mem, int64_t n) {
    if (p->dir == 0) memcpy(packed, mem, (size_t)n);
    else memcpy(mem, packed, (size_t)n);
}

/* Moves bytes [r, r+n) of one segment-list instance at mem. */
static void segments_partial(const plan *p, char *packed, char *mem, int64_t r, int64_t n) {
    /* the segment holding byte r: binary search in prefix */
    int64_t lo = 0, hi = p->nseg - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (p->prefix[mid] <= r) lo = mid; else hi = mid - 1;
    }
    for (int64_t j = lo; j < p->nseg && n > 0; j++) {
        int64_t in = r - p->prefix[j];
        int64_t take = p->len[j] - in;
        if (take > n) take = n;
        mov(p, packed, mem + p->off[j] + in, take);
        packed += take;
        n -= take;
        r += take;
    }
}

static void segments_full(const plan *p, char *packed, char *mem, int64_t s, int64_t m) {
    if (p->max_seg <= 64) {
        (p->dir == 0 ? p->k->pack_segments : p->k->unpack_segments)(packed, mem, s, m, p->off, p->len, p->nseg, p->B);
        return;
    }
    for (int64_t i = 0; i < m; i++, mem += s)
        for (int64_t j = 0; j < p->nseg; j++) {
            mov(p, packed, mem + p->off[j], p->len[j]);
            packed += p->len[j];
        }
}

/* Serial: moves packed-stream bytes [first, first + n) (instances of B bytes over the dims). */
static void run_range(const plan *p, char *packed, int64_t first, int64_t n) {
    if (n <= 0) return;
    const int32_t nd = p->nd, in = nd - 1;
    int64_t q = first / p->B, r = first % p->B;
    int64_t idx[DT_MAXD];
    for (int32_t k = nd - 1; k >= 0; k--) { idx[k] = q % p->cnt[k]; q /= p->cnt[k]; }
    char *mem = p->base;
    for (int32_t k = 0; k < nd; k++) mem += idx[k] * p->str[k];
    const int64_t m = p->cnt[in], s = p->str[in];
#define ADVANCE(steps)                                                             \
    do {                                                                           \
        idx[in] += (steps);                                                        \
        mem += (steps) * s;                                                        \
        if (idx[in] == m) {                                                        \
            int32_t k_ = in;                                                       \
            while (k_ > 0 && idx[k_] == p->cnt[k_]) { idx[k_] = 0; idx[--k_]++; }  \
            mem = p->base;                                                         \
            for (int32_t j_ = 0; j_ < nd; j_++) mem += idx[j_] * p->str[j_];       \
        }                                                                          \
    } while (0)
    if (r) {
        int64_t take = p->B - r < n ? p->B - r : n;
        if (p->strided) mov(p, packed, mem + r, take);
        else segments_partial(p, packed, mem, r, take);
        packed += take;
        n -= take;
        if (n == 0) return;
        ADVANCE(1);
    }
    while (n >= p->B) {
        int64_t run = m - idx[in], full = n / p->B;
        if (run > full) run = full;
        if (p->strided) {
            if (run == 1 || s == p->B) mov(p, packed, mem, run * p->B);
            else (p->dir == 0 ? p->k->pack_strided : p->k->unpack_strided)(packed, mem, p->B, s, run);
        } else {
            segments_full(p, packed, mem, s, run);
        }
        packed += run * p->B;
        n -= run * p->B;
        ADVANCE(run);
    }
    if (n > 0) {
        if (p->strided) mov(p, packed, mem, n);
        else segments_partial(p, packed, mem, 0, n);
    }
#undef ADVANCE
}

typedef struct par_ctx {
    const plan *p;
    const tsr_datatype_t *t;
    char *mem, *packed;
    int64_t incount, first, n, chunk;
    int general;
} par_ctx;

static void par_body(void *vctx, int64_t begin, int64_t end, int32_t worker) {
    (void)worker;
    const par_ctx *c = vctx;
    for (int64_t i = begin; i < end; i++) {
        int64_t a = i * c->chunk, b = a + c->chunk;
        if (b > c->n) b = c->n;
        if (c->general) dt_naive_walk_range(c->t, c->mem, c->incount, c->packed + a, c->first + a, b - a, c->p->dir);
        else run_range(c->p, c->packed + a, c->first + a, b - a);
    }
}

/* Moves stream bytes [first, first+n) between `packed` (holding those bytes) and memory. */
static tsr_status execute(tsr_pool_t *pool, const tsr_datatype_t *t, char *mem, int64_t incount, char *packed,
                          int64_t first, int64_t n, int dir) {
    if (n == 0 || t->canon.kind == TSR_CANON_EMPTY) return TSR_OK;
    plan p;
    int general = t->canon.kind == TSR_CANON_GENERAL;
    if (!general) make_plan(&p, t, mem, incount, dir);
    else p.dir = dir;
    int split = n >= DT_PAR_MIN_BYTES && !tsr_pool_is_in_worker();
    if (split && n < dense_split_bytes() && !is_sparse(t, incount)) split = 0;
    int32_t nt = split ? tsr_pool_num_threads(pool) : 1;
    if (nt <= 1) {
        if (general) dt_naive_walk_range(t, mem, incount, packed, first, n, dir);
        else run_range(&p, packed, first, n);
        return TSR_OK;
    }
    /* contiguous pieces of the packed stream, one per worker, cache-line aligned cuts */
    int64_t chunk = (n + nt - 1) / nt;
    chunk = (chunk + 63) & ~(int64_t)63;
    par_ctx c = {&p, t, mem, packed, incount, first, n, chunk, general};
    int64_t nchunks = (n + chunk - 1) / chunk;
    return tsr_parallel_for(pool, nchunks, 1, TSR_SCHEDULE_STATIC, par_body, &c);
}

/* ---- public entry points ------------------------------------------------------------------------ */

tsr_status tsr_datatype_pack_size(int64_t incount, const tsr_datatype_t *type, int64_t *size) {
    TSR_TRY(dt_check(type, __func__, "type"));
    TSR_CHECK_NULL(size);
    if (incount < 0) return tsr_error(TSR_EINVAL, "tsr_datatype_pack_size: incount must be >= 0 (got %lld)", (long long)incount);
    if (tsr_mul_i64(incount, type->size, size))
        return tsr_error(TSR_ERANGE, "tsr_datatype_pack_size: %lld x %lld bytes overflows", (long long)incount, (long long)type->size);
    return TSR_OK;
}

/* TSR_ERANGE if `count` elements, element i at i*extent, touch bytes whose offsets overflow int64. */
static tsr_status check_span(const char *fn, int64_t count, const tsr_datatype_t *type) {
    int64_t last, lo, hi;
    if (count <= 1 || type->size == 0) return TSR_OK;
    if (tsr_mul_i64(count - 1, type->extent, &last) || tsr_add_i64(last, type->true_lb, &lo) ||
        tsr_add_i64(last, type->true_ub, &hi))
        return tsr_error(TSR_ERANGE, "%s: %lld elements of extent %lld span more than int64 bytes", fn, (long long)count,
                         (long long)type->extent);
    return TSR_OK;
}

/* Validates the common arguments; returns the packed bytes of incount elements in *bytes. */
static tsr_status check_common(const char *fn, const void *membuf, int64_t count, const tsr_datatype_t *type,
                               const void *packbuf, int64_t packsize, const int64_t *position, int64_t *bytes) {
    TSR_TRY(dt_check_committed(type, fn, "type"));
    if (count < 0) return tsr_error(TSR_EINVAL, "%s: count must be >= 0 (got %lld)", fn, (long long)count);
    if (!position) return tsr_error(TSR_EINVAL, "%s: argument 'position' is NULL", fn);
    if (*position < 0) return tsr_error(TSR_EINVAL, "%s: *position must be >= 0 (got %lld)", fn, (long long)*position);
    if (packsize < 0) return tsr_error(TSR_EINVAL, "%s: buffer size must be >= 0 (got %lld)", fn, (long long)packsize);
    if (tsr_mul_i64(count, type->size, bytes))
        return tsr_error(TSR_ERANGE, "%s: %lld x %lld bytes overflows", fn, (long long)count, (long long)type->size);
    TSR_TRY(check_span(fn, count, type));
    if (*bytes > 0 && !membuf) return tsr_error(TSR_EINVAL, "%s: data buffer is NULL with %lld bytes to move", fn, (long long)*bytes);
    if (*bytes > 0 && !packbuf) return tsr_error(TSR_EINVAL, "%s: packed buffer is NULL with %lld bytes to move", fn, (long long)*bytes);
    if (*position > packsize || *bytes > packsize - *position)
        return tsr_error(TSR_ERANGE, "%s: %lld bytes at position %lld do not fit in a buffer of %lld bytes", fn,
                         (long long)*bytes, (long long)*position, (long long)packsize);
    return TSR_OK;
}

tsr_status tsr_datatype_pack(tsr_pool_t *pool, const void *inbuf, int64_t incount, const tsr_datatype_t *type,
                             void *outbuf, int64_t outsize, int64_t *position) {
    int64_t bytes = 0;
    TSR_TRY(check_common(__func__, inbuf, incount, type, outbuf, outsize, position, &bytes));
    if (bytes == 0) return TSR_OK;
    TSR_TRY(execute(pool, type, (char *)inbuf, incount, (char *)outbuf + *position, 0, bytes, 0));
    *position += bytes;
    return TSR_OK;
}

tsr_status tsr_datatype_unpack(tsr_pool_t *pool, const void *inbuf, int64_t insize, int64_t *position, void *outbuf,
                               int64_t outcount, const tsr_datatype_t *type) {
    int64_t bytes = 0;
    TSR_TRY(check_common(__func__, outbuf, outcount, type, inbuf, insize, position, &bytes));
    if (bytes == 0) return TSR_OK;
    TSR_TRY(execute(pool, type, (char *)outbuf, outcount, (char *)inbuf + *position, 0, bytes, 1));
    *position += bytes;
    return TSR_OK;
}

static tsr_status check_range(const char *fn, const void *membuf, int64_t count, const tsr_datatype_t *type,
                              const void *part, int64_t first, int64_t nbytes) {
    TSR_TRY(dt_check_committed(type, fn, "type"));
    if (count < 0) return tsr_error(TSR_EINVAL, "%s: count must be >= 0 (got %lld)", fn, (long long)count);
    if (first < 0 || nbytes < 0)
        return tsr_error(TSR_EINVAL, "%s: first (%lld) and nbytes (%lld) must be >= 0", fn, (long long)first, (long long)nbytes);
    int64_t total;
    if (tsr_mul_i64(count, type->size, &total))
        return tsr_error(TSR_ERANGE, "%s: %lld x %lld bytes overflows", fn, (long long)count, (long long)type->size);
    TSR_TRY(check_span(fn, count, type));
    if (first > total || nbytes > total - first)
        return tsr_error(TSR_ERANGE, "%s: range [%lld, %lld + %lld) passes the end of the %lld-byte packed stream", fn,
                         (long long)first, (long long)first, (long long)nbytes, (long long)total);
    if (nbytes > 0 && (!membuf || !part)) return tsr_error(TSR_EINVAL, "%s: NULL buffer with %lld bytes to move", fn, (long long)nbytes);
    return TSR_OK;
}

tsr_status tsr_datatype_pack_range(tsr_pool_t *pool, const void *inbuf, int64_t incount, const tsr_datatype_t *type,
                                   int64_t first, int64_t nbytes, void *out) {
    TSR_TRY(check_range(__func__, inbuf, incount, type, out, first, nbytes));
    return execute(pool, type, (char *)inbuf, incount, (char *)out, first, nbytes, 0);
}

tsr_status tsr_datatype_unpack_range(tsr_pool_t *pool, const void *in, int64_t first, int64_t nbytes, void *outbuf,
                                     int64_t outcount, const tsr_datatype_t *type) {
    TSR_TRY(check_range(__func__, outbuf, outcount, type, in, first, nbytes));
    return execute(pool, type, (char *)outbuf, outcount, (char *)in, first, nbytes, 1);
}

tsr_status tsr_datatype_pack_naive(const void *inbuf, int64_t incount, const tsr_datatype_t *type, void *outbuf,
                                   int64_t outsize, int64_t *position) {
    int64_t bytes = 0;
    TSR_TRY(check_common(__func__, inbuf, incount, type, outbuf, outsize, position, &bytes));
    dt_naive_walk(type, (char *)inbuf, incount, (char *)outbuf + *position, 0);
    *position += bytes;
    return TSR_OK;
}

tsr_status tsr_datatype_unpack_naive(const void *inbuf, int64_t insize, int64_t *position, void *outbuf,
                                     int64_t outcount, const tsr_datatype_t *type) {
    int64_t bytes = 0;
    TSR_TRY(check_common(__func__, outbuf, outcount, type, inbuf, insize, position, &bytes));
    dt_naive_walk(type, (char *)outbuf, outcount, (char *)inbuf + *position, 1);
    *position += bytes;
    return TSR_OK;
}
