/*
 * dt_type.c — datatype handles: registry, constructors with MPI bounds rules,
 * reference counting, queries, and the naive type-map walker.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dt_internal.h"

/* ---- registry of live handles -------------------------------------------------------
 * An open-addressing hash set of pointers under a mutex. Public entry points look
 * their handle up before touching it, so a freed or foreign pointer is reported
 * instead of being dereferenced. */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t *reg_slots;     /* 0 = empty, 1 = tombstone */
static size_t reg_cap, reg_used, reg_live;

static size_t reg_hash(uintptr_t p, size_t cap) {
    uint64_t h = (uint64_t)p * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

static int reg_insert_locked(uintptr_t p);

static int reg_grow_locked(void) {
    size_t ncap = reg_cap ? reg_cap * 2 : 256;
    while (reg_live * 2 >= ncap) ncap *= 2;
    uintptr_t *old = reg_slots;
    size_t ocap = reg_cap;
    uintptr_t *ns = calloc(ncap, sizeof *ns);
    if (!ns) return 0;
    reg_slots = ns; reg_cap = ncap; reg_used = 0; reg_live = 0;
    for (size_t i = 0; i < ocap; i++)
        if (old[i] > 1) reg_insert_locked(old[i]);
    free(old);
    return 1;
}

static int reg_insert_locked(uintptr_t p) {
    if ((reg_used + 1) * 4 >= reg_cap * 3 && !reg_grow_locked()) return 0;
    size_t i = reg_hash(p, reg_cap);
    while (reg_slots[i] > 1) i = (i + 1) & (reg_cap - 1);
    if (reg_slots[i] == 0) reg_used++;
    reg_slots[i] = p;
    reg_live++;
    return 1;
}

static size_t reg_find_locked(uintptr_t p) {
    if (!reg_cap) return (size_t)-1;
    size_t i = reg_hash(p, reg_cap);
    while (reg_slots[i] != 0) {
        if (reg_slots[i] == p) return i;
        i = (i + 1) & (reg_cap - 1);
    }
    return (size_t)-1;
}

static int reg_add(tsr_datatype_t *t) {
    pthread_mutex_lock(&reg_lock);
    int ok = reg_insert_locked((uintptr_t)t);
    pthread_mutex_unlock(&reg_lock);
    return ok;
}

static void reg_remove(tsr_datatype_t *t) {
    pthread_mutex_lock(&reg_lock);
    size_t i = reg_find_locked((uintptr_t)t);
    if (i != (size_t)-1) { reg_slots[i] = 1; reg_live--; }
    pthread_mutex_unlock(&reg_lock);
}

/* Named types are static and immortal. */
static tsr_datatype_t named_types[TSR_TYPE_NAMED_COUNT];
static pthread_once_t named_once = PTHREAD_ONCE_INIT;

static int is_named_ptr(const tsr_datatype_t *t) {
    return (const char *)t >= (const char *)named_types &&
           (const char *)t < (const char *)(named_types + TSR_TYPE_NAMED_COUNT) &&
           ((const char *)t - (const char *)named_types) % sizeof(tsr_datatype_t) == 0;
}

int dt_registry_contains(const tsr_datatype_t *t) {
    if (!t) return 0;
    if (is_named_ptr(t)) return 1;
    pthread_mutex_lock(&reg_lock);
    int found = reg_find_locked((uintptr_t)t) != (size_t)-1;
    pthread_mutex_unlock(&reg_lock);
    return found;
}

tsr_status dt_check(const tsr_datatype_t *t, const char *fn, const char *arg) {
    if (!t) return tsr_error(TSR_EINVAL, "%s: argument '%s' is NULL", fn, arg);
    if (!dt_registry_contains(t) || t->magic != DT_MAGIC)
        return tsr_error(TSR_EINVAL, "%s: '%s' is not a live datatype handle (destroyed or invalid)", fn, arg);
    if (atomic_load_explicit(&t->user_freed, memory_order_acquire))
        return tsr_error(TSR_EINVAL, "%s: '%s' was destroyed (tsr_datatype_destroy)", fn, arg);
    return TSR_OK;
}

tsr_status dt_check_committed(const tsr_datatype_t *t, const char *fn, const char *arg) {
    TSR_TRY(dt_check(t, fn, arg));
    if (!atomic_load_explicit(&t->committed, memory_order_acquire))
        return tsr_error(TSR_ESTATE, "%s: datatype '%s' is not committed (call tsr_datatype_commit)", fn, arg);
    return TSR_OK;
}

/* ---- named types --------------------------------------------------------------------- */

static const int64_t named_sizes[TSR_TYPE_NAMED_COUNT] = {
    [TSR_TYPE_BYTE] = 1, [TSR_TYPE_CHAR] = 1, [TSR_TYPE_INT8] = 1, [TSR_TYPE_INT16] = 2,
    [TSR_TYPE_INT32] = 4, [TSR_TYPE_INT64] = 8, [TSR_TYPE_UINT8] = 1, [TSR_TYPE_UINT16] = 2,
    [TSR_TYPE_UINT32] = 4, [TSR_TYPE_UINT64] = 8, [TSR_TYPE_FLOAT] = 4, [TSR_TYPE_DOUBLE] = 8,
    [TSR_TYPE_COMPLEX_FLOAT] = 8, [TSR_TYPE_COMPLEX_DOUBLE] = 16, [TSR_TYPE_BOOL] = 1,
};

static const char *const named_names[TSR_TYPE_NAMED_COUNT] = {
    "byte", "char", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float", "double", "complex_float", "complex_double", "bool",
};

static int64_t named_prefix[TSR_TYPE_NAMED_COUNT][2];

static void named_init(void) {
    for (int k = 0; k < TSR_TYPE_NAMED_COUNT; k++) {
        tsr_datatype_t *t = &named_types[k];
        t->magic = DT_MAGIC;
        atomic_init(&t->refs, 1);
        atomic_init(&t->user_freed, 0);
        t->immortal = 1;
        t->comb = TSR_COMBINER_NAMED;
        t->named = (tsr_named_type)k;
        t->size = t->extent = t->true_ub = named_sizes[k];
        t->lb = t->true_lb = 0;
        t->nchild = 0;
        /* named types are born committed */
        dt_canon *c = &t->canon;
        static int64_t zero = 0;
        c->kind = TSR_CANON_STRIDED;
        c->start = 0; c->nd = 0;
        c->nseg = 1;
        c->seg_off = &zero;
        c->seg_len = &named_types[k].size;
        c->body_bytes = c->max_seg = t->size;
        named_prefix[k][0] = 0;
        named_prefix[k][1] = t->size;
        c->seg_prefix = named_prefix[k];
        snprintf(t->kernel_name, sizeof t->kernel_name, "contiguous");
        atomic_init(&t->committed, 1);
    }
}

tsr_status tsr_datatype_named(tsr_named_type kind, tsr_datatype_t **out) {
    TSR_CHECK_NULL(out);
    if ((int)kind < 0 || kind >= TSR_TYPE_NAMED_COUNT)
        return tsr_error(TSR_EINVAL, "tsr_datatype_named: kind %d is not a tsr_named_type", (int)kind);
    pthread_once(&named_once, named_init);
    *out = &named_types[kind];
    return TSR_OK;
}

const char *dt_named_name(tsr_named_type k);
const char *dt_named_name(tsr_named_type k) {
    return ((int)k >= 0 && k < TSR_TYPE_NAMED_COUNT) ? named_names[k] : "?";
}

/* ---- construction helpers ---------------------------------------------------------------- */

static tsr_datatype_t *dt_alloc(tsr_combiner comb) {
    tsr_datatype_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->magic = DT_MAGIC;
    atomic_init(&t->refs, 1);
    atomic_init(&t->user_freed, 0);
    atomic_init(&t->committed, 0);
    t->comb = comb;
    return t;
}

static void dt_retain(tsr_datatype_t *t) {
    if (!t->immortal) atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

static void dt_destroy(tsr_datatype_t *t);

static void dt_release(tsr_datatype_t *t) {
    if (!t || t->immortal) return;
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) dt_destroy(t);
}

static void dt_destroy(tsr_datatype_t *t) {
    reg_remove(t);
    for (int64_t i = 0; i < t->nchild; i++) dt_release(t->children[i]);
    free(t->children);
    free(t->blocklens);
    free(t->displs);
    free(t->filled);
    free(t->sizes);
    free(t->subsizes);
    free(t->starts);
    dt_canon_free(&t->canon);
    t->magic = 0;
    free(t);
}

/* Bounds accumulator: min of lower and max of upper bounds over placements. */
typedef struct bounds {
    int any, tany;
    int64_t lb, ub, tlb, tub;
} bounds;

/*
 * Adds `n` placements of `c` at disp0 + j*step (j < n) to the bounds. Returns 0 on
 * overflow. Zero-size children do not contribute to the true bounds.
 */
static int bounds_add(bounds *b, const tsr_datatype_t *c, int64_t disp0, int64_t n, int64_t step) {
    if (n <= 0) return 1;
    int64_t last;
    if (tsr_mul_i64(n - 1, step, &last) || tsr_add_i64(last, disp0, &last)) return 0;
    int64_t dmin = disp0 < last ? disp0 : last, dmax = disp0 < last ? last : disp0;
    /* MPI: lb = min(disp + lb_c), ub = max(disp + ub_c) */
    int64_t ub_c, l2, u2;
    if (tsr_add_i64(c->lb, c->extent, &ub_c) || tsr_add_i64(c->lb, dmin, &l2) || tsr_add_i64(ub_c, dmax, &u2))
        return 0;
    if (!b->any || l2 < b->lb) b->lb = l2;
    if (!b->any || u2 > b->ub) b->ub = u2;
    b->any = 1;
    if (c->size > 0) {
        int64_t tl, tu;
        if (tsr_add_i64(c->true_lb, dmin, &tl) || tsr_add_i64(c->true_ub, dmax, &tu)) return 0;
        if (!b->tany || tl < b->tlb) b->tlb = tl;
        if (!b->tany || tu > b->tub) b->tub = tu;
        b->tany = 1;
    }
    return 1;
}

/* The true extent (true ub - true lb) must fit in int64: tsr_datatype_true_extent returns it. */
static tsr_status true_span_check(const bounds *b, const char *fn) {
    int64_t e;
    if (b->tany && __builtin_sub_overflow(b->tub, b->tlb, &e))
        return tsr_error(TSR_ERANGE, "%s: the true extent of the new type (true lb %lld to true ub %lld) does not fit in int64",
                         fn, (long long)b->tlb, (long long)b->tub);
    return TSR_OK;
}

/* Both the extent (ub - lb) and the true extent must fit in int64. */
static tsr_status bounds_check(const bounds *b, const char *fn) {
    int64_t e;
    if (b->any && __builtin_sub_overflow(b->ub, b->lb, &e))
        return tsr_error(TSR_ERANGE, "%s: the extent of the new type (lb %lld to ub %lld) does not fit in int64", fn,
                         (long long)b->lb, (long long)b->ub);
    return true_span_check(b, fn);
}

static void bounds_apply(tsr_datatype_t *t, const bounds *b) {
    t->lb = b->any ? b->lb : 0;
    t->extent = b->any ? b->ub - b->lb : 0;
    t->true_lb = b->tany ? b->tlb : 0;
    t->true_ub = b->tany ? b->tub : 0;
}

static tsr_status depth_check(int32_t depth, const char *fn) {
    if (depth > DT_MAX_DEPTH)
        return tsr_error(TSR_ERANGE, "%s: the new type would nest %d constructors deep (at most %d)", fn, (int)depth,
                         DT_MAX_DEPTH);
    return TSR_OK;
}

static tsr_status finish(tsr_datatype_t *t, tsr_datatype_t **out, const char *fn) {
    if (!reg_add(t)) {
        dt_destroy(t);
        return tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
    }
    *out = t;
    return TSR_OK;
}

static tsr_status set_single_child(tsr_datatype_t *t, tsr_datatype_t *old) {
    t->children = malloc(sizeof *t->children);
    if (!t->children) return TSR_ENOMEM;
    t->children[0] = old;
    t->nchild = 1;
    t->depth = old->depth + 1;
    dt_retain(old);
    return TSR_OK;
}

static int64_t *dup_i64(const int64_t *a, int64_t n) {
    int64_t *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (p && n > 0) memcpy(p, a, (size_t)n * sizeof *p);
    return p;
}

/* ---- constructors ---------------------------------------------------------------------------- */

/* vector/hvector/contiguous share this: count blocks of blocklen olds, block stride in bytes. */
static tsr_status make_hvector(const char *fn, tsr_combiner comb, int64_t count, int64_t blocklen,
                               int64_t stride_arg, int64_t stride_bytes_known, int stride_in_elems,
                               tsr_datatype_t *old, tsr_datatype_t **out) {
    TSR_CHECK_NULL(out);
    TSR_TRY(dt_check(old, fn, "old"));
    if (count < 0) return tsr_error(TSR_EINVAL, "%s: count must be >= 0 (got %lld)", fn, (long long)count);
    if (blocklen < 0)
        return tsr_error(TSR_EINVAL, "%s: blocklen must be >= 0 (got %lld)", fn, (long long)blocklen);
    int64_t sb = stride_bytes_known;
    if (stride_in_elems && tsr_mul_i64(stride_arg, old->extent, &sb))
        return tsr_error(TSR_ERANGE, "%s: stride %lld x extent %lld of old overflows int64", fn, (long long)stride_arg,
                         (long long)old->extent);
    int64_t n, size;
    if (tsr_mul_i64(count, blocklen, &n) || tsr_mul_i64(n, old->size, &size))
        return tsr_error(TSR_ERANGE, "%s: count %lld x blocklen %lld x size %lld of old overflows int64", fn,
                         (long long)count, (long long)blocklen, (long long)old->size);
    bounds b = {0};
    for (int64_t i = 0; i < (count > 2 ? 2 : count); i++) {
        /* extreme blocks are the first and last (placements are affine in i) */
        int64_t ii = i == 0 ? 0 : count - 1, d;
        if (tsr_mul_i64(ii, sb, &d) || !bounds_add(&b, old, d, blocklen, old->extent))
            return tsr_error(TSR_ERANGE, "%s: block %lld (%lld copies of extent %lld at %lld x %lld bytes) lies beyond int64",
                             fn, (long long)ii, (long long)blocklen, (long long)old->extent, (long long)ii, (long long)sb);
    }
    TSR_TRY(bounds_check(&b, fn));
    TSR_TRY(depth_check(old->depth + 1, fn));
    tsr_datatype_t *t = dt_alloc(comb);
    if (!t) return tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
    t->count = count;
    t->blocklen = blocklen;
    t->stride = comb == TSR_COMBINER_VECTOR ? stride_arg : sb;
    t->size = size;
    bounds_apply(t, &b);
    if (set_single_child(t, old) != TSR_OK) { dt_destroy(t); return tsr_error(TSR_ENOMEM, "%s: out of memory", fn); }
    return finish(t, out, fn);
}

tsr_status tsr_datatype_contiguous(int64_t count, tsr_datatype_t *old, tsr_datatype_t **out) {
    TSR_TRY(dt_check(old, __func__, "old"));
    return make_hvector(__func__, TSR_COMBINER_CONTIGUOUS, count, 1, 0, old->extent, 0, old, out);
}

tsr_status tsr_datatype_vector(int64_t count, int64_t blocklen, int64_t stride, tsr_datatype_t *old,
                               tsr_datatype_t **out) {
    return make_hvector(__func__, TSR_COMBINER_VECTOR, count, blocklen, stride, 0, 1, old, out);
}

tsr_status tsr_datatype_hvector(int64_t count, int64_t blocklen, int64_t stride_bytes, tsr_datatype_t *old,
                                tsr_datatype_t **out) {
    return make_hvector(__func__, TSR_COMBINER_HVECTOR, count, blocklen, stride_bytes, stride_bytes, 0, old, out);
}

/* Lists the blocks of t that hold data, so walkers skip empty ones in O(1) (NULL when all do). */
static int set_filled(tsr_datatype_t *t, int64_t nfilled) {
    t->nfilled = nfilled;
    if (nfilled == t->count) return 1;
    t->filled = malloc((size_t)(nfilled > 0 ? nfilled : 1) * sizeof *t->filled);
    if (!t->filled) return 0;
    for (int64_t i = 0, k = 0; i < t->count; i++) {
        const tsr_datatype_t *c = t->comb == TSR_COMBINER_STRUCT ? t->children[i] : t->children[0];
        if ((t->blocklens ? t->blocklens[i] : t->blocklen) > 0 && c->size > 0) t->filled[k++] = i;
    }
    return 1;
}

/* The indexed family and struct: block i has blocklens[i] (or the common blocklen) copies of
 * types[i] (or old) at displs[i] (bytes if `bytes`, else elements of the old type). */
static tsr_status make_indexed(const char *fn, tsr_combiner comb, int64_t count, const int64_t *blocklens,
                               int64_t common_bl, const int64_t *displs, int bytes,
                               tsr_datatype_t *old, tsr_datatype_t *const *types, tsr_datatype_t **out) {
    TSR_CHECK_NULL(out);
    if (count < 0) return tsr_error(TSR_EINVAL, "%s: count must be >= 0 (got %lld)", fn, (long long)count);
    if (count > 0 && !displs) return tsr_error(TSR_EINVAL, "%s: displacements array is NULL with count %lld", fn, (long long)count);
    if (count > 0 && !blocklens && common_bl < 0 && comb != TSR_COMBINER_INDEXED_BLOCK &&
        comb != TSR_COMBINER_HINDEXED_BLOCK)
        return tsr_error(TSR_EINVAL, "%s: blocklens array is NULL with count %lld", fn, (long long)count);
    int per_block_bl = comb == TSR_COMBINER_INDEXED || comb == TSR_COMBINER_HINDEXED || comb == TSR_COMBINER_STRUCT;
    if (per_block_bl && count > 0 && !blocklens)
        return tsr_error(TSR_EINVAL, "%s: blocklens array is NULL with count %lld", fn, (long long)count);
    if (!per_block_bl && common_bl < 0)
        return tsr_error(TSR_EINVAL, "%s: blocklen must be >= 0 (got %lld)", fn, (long long)common_bl);
    if (comb == TSR_COMBINER_STRUCT) {
        if (count > 0 && !types) return tsr_error(TSR_EINVAL, "%s: types array is NULL with count %lld", fn, (long long)count);
        for (int64_t i = 0; i < count; i++) {
            char arg[40];
            snprintf(arg, sizeof arg, "types[%lld]", (long long)i);
            TSR_TRY(dt_check(types[i], fn, arg));
        }
    } else {
        TSR_TRY(dt_check(old, fn, "old"));
    }
    bounds b = {0};
    int64_t size = 0, nfilled = 0;
    int32_t depth = comb == TSR_COMBINER_STRUCT ? 1 : old->depth + 1;
    for (int64_t i = 0; i < count; i++) {
        int64_t bl = per_block_bl ? blocklens[i] : common_bl;
        if (bl < 0)
            return tsr_error(TSR_EINVAL, "%s: blocklens[%lld] must be >= 0 (got %lld)", fn, (long long)i, (long long)bl);
        const tsr_datatype_t *c = comb == TSR_COMBINER_STRUCT ? types[i] : old;
        int64_t d = displs[i], s;
        if (!bytes && tsr_mul_i64(d, c->extent, &d))
            return tsr_error(TSR_ERANGE, "%s: displs[%lld] = %lld x extent %lld of old overflows int64", fn, (long long)i,
                             (long long)displs[i], (long long)c->extent);
        if (tsr_mul_i64(bl, c->size, &s) || tsr_add_i64(size, s, &size))
            return tsr_error(TSR_ERANGE, "%s: the size overflows int64 at block %lld (%lld copies of size %lld)", fn,
                             (long long)i, (long long)bl, (long long)c->size);
        if (!bounds_add(&b, c, d, bl, c->extent))
            return tsr_error(TSR_ERANGE, "%s: block %lld (%lld copies of extent %lld at %lld bytes) lies beyond int64",
                             fn, (long long)i, (long long)bl, (long long)c->extent, (long long)d);
        if (bl > 0 && c->size > 0) nfilled++;
        if (c->depth + 1 > depth) depth = c->depth + 1;
    }
    TSR_TRY(bounds_check(&b, fn));
    TSR_TRY(depth_check(depth, fn));
    tsr_datatype_t *t = dt_alloc(comb);
    if (!t) return tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
    t->count = count;
    t->blocklen = common_bl;
    t->size = size;
    t->depth = depth;
    bounds_apply(t, &b);
    t->displs = dup_i64(displs, count);
    if (per_block_bl) t->blocklens = dup_i64(blocklens, count);
    int64_t nch = comb == TSR_COMBINER_STRUCT ? count : 1;
    t->children = malloc((size_t)(nch > 0 ? nch : 1) * sizeof *t->children);
    if (!t->displs || (per_block_bl && !t->blocklens) || !t->children) {
        dt_destroy(t);
        return tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
    }
    for (int64_t i = 0; i < nch; i++) {
        t->children[i] = comb == TSR_COMBINER_STRUCT ? types[i] : old;
        dt_retain(t->children[i]);
        t->nchild = i + 1;
    }
    if (!set_filled(t, nfilled)) { dt_destroy(t); return tsr_error(TSR_ENOMEM, "%s: out of memory", fn); }
    return finish(t, out, fn);
}

tsr_status tsr_datatype_indexed(int64_t count, const int64_t *blocklens, const int64_t *displs,
                                tsr_datatype_t *old, tsr_datatype_t **out) {
    return make_indexed(__func__, TSR_COMBINER_INDEXED, count, blocklens, -1, displs, 0, old, NULL, out);
}

tsr_status tsr_datatype_hindexed(int64_t count, const int64_t *blocklens, const int64_t *displs_bytes,
                                 tsr_datatype_t *old, tsr_datatype_t **out) {
    return make_indexed(__func__, TSR_COMBINER_HINDEXED, count, blocklens, -1, displs_bytes, 1, old, NULL, out);
}

tsr_status tsr_datatype_indexed_block(int64_t count, int64_t blocklen, const int64_t *displs,
                                      tsr_datatype_t *old, tsr_datatype_t **out) {
    return make_indexed(__func__, TSR_COMBINER_INDEXED_BLOCK, count, NULL, blocklen, displs, 0, old, NULL, out);
}

tsr_status tsr_datatype_hindexed_block(int64_t count, int64_t blocklen, const int64_t *displs_bytes,
                                       tsr_datatype_t *old, tsr_datatype_t **out) {
    return make_indexed(__func__, TSR_COMBINER_HINDEXED_BLOCK, count, NULL, blocklen, displs_bytes, 1, old, NULL, out);
}

tsr_status tsr_datatype_struct(int64_t count, const int64_t *blocklens, const int64_t *displs_bytes,
                               tsr_datatype_t *const *types, tsr_datatype_t **out) {
    return make_indexed(__func__, TSR_COMBINER_STRUCT, count, blocklens, -1, displs_bytes, 1, NULL, types, out);
}

tsr_status tsr_datatype_subarray(int32_t ndims, const int64_t *sizes, const int64_t *subsizes,
                                 const int64_t *starts, tsr_order order, tsr_datatype_t *old,
                                 tsr_datatype_t **out) {
    const char *fn = __func__;
    TSR_CHECK_NULL(out);
    TSR_CHECK_NULL(sizes);
    TSR_CHECK_NULL(subsizes);
    TSR_CHECK_NULL(starts);
    TSR_TRY(dt_check(old, fn, "old"));
    if (ndims < 1 || ndims > 32) return tsr_error(TSR_EINVAL, "%s: ndims must be in 1..32 (got %d)", fn, ndims);
    if ((int)order < 0 || order >= TSR_ORDER_COUNT)
        return tsr_error(TSR_EINVAL, "%s: order %d is not a tsr_order", fn, (int)order);
    for (int32_t i = 0; i < ndims; i++) {
        if (sizes[i] < 1) return tsr_error(TSR_EINVAL, "%s: sizes[%d] must be >= 1 (got %lld)", fn, i, (long long)sizes[i]);
        if (subsizes[i] < 1 || subsizes[i] > sizes[i])
            return tsr_error(TSR_EINVAL, "%s: subsizes[%d] = %lld must be in 1..sizes[%d] = %lld", fn, i,
                             (long long)subsizes[i], i, (long long)sizes[i]);
        if (starts[i] < 0 || starts[i] > sizes[i] - subsizes[i])
            return tsr_error(TSR_EINVAL, "%s: starts[%d] = %lld must be in 0..sizes-subsizes = %lld", fn, i,
                             (long long)starts[i], (long long)(sizes[i] - subsizes[i]));
    }
    /* strides of each dimension in bytes; dimension `fast` varies fastest */
    int64_t stride[32], acc = old->extent, n = 1, size;
    for (int32_t k = 0; k < ndims; k++) {
        int32_t i = order == TSR_ORDER_C ? ndims - 1 - k : k;
        stride[i] = acc;
        if (tsr_mul_i64(acc, sizes[i], &acc) || tsr_mul_i64(n, subsizes[i], &n))
            return tsr_error(TSR_ERANGE, "%s: the array of sizes[%d] = %lld (and faster dimensions) of extent %lld "
                             "overflows int64", fn, i, (long long)sizes[i], (long long)old->extent);
    }
    if (tsr_mul_i64(n, old->size, &size))
        return tsr_error(TSR_ERANGE, "%s: %lld elements x size %lld of old overflows int64", fn, (long long)n,
                         (long long)old->size);
    /* true bounds: the corner placements of old (strides may be negative if extent < 0) */
    bounds b = {0};
    int64_t dmin = 0, dmax = 0, span;
    for (int32_t i = 0; i < ndims; i++) {
        int64_t a, z;
        if (tsr_mul_i64(starts[i], stride[i], &a) || tsr_mul_i64(starts[i] + subsizes[i] - 1, stride[i], &z) ||
            tsr_add_i64(dmin, a < z ? a : z, &dmin) || tsr_add_i64(dmax, a < z ? z : a, &dmax))
            return tsr_error(TSR_ERANGE, "%s: the sub-block's offset in dimension %d (starts %lld + subsizes %lld at "
                             "%lld bytes) overflows int64", fn, i, (long long)starts[i], (long long)subsizes[i],
                             (long long)stride[i]);
    }
    if (__builtin_sub_overflow(dmax, dmin, &span) || !bounds_add(&b, old, dmin, 2, span))
        return tsr_error(TSR_ERANGE, "%s: the sub-block (from %lld to %lld bytes, old lb %lld extent %lld) lies beyond "
                         "int64", fn, (long long)dmin, (long long)dmax, (long long)old->lb, (long long)old->extent);
    TSR_TRY(true_span_check(&b, fn));
    TSR_TRY(depth_check(old->depth + 1, fn));
    tsr_datatype_t *t = dt_alloc(TSR_COMBINER_SUBARRAY);
    if (!t) return tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
    t->ndims = ndims;
    t->order = order;
    t->size = size;
    /* MPI: the subarray type has the lb and extent of the whole array */
    t->lb = 0;
    t->extent = acc;
    t->true_lb = b.tany ? b.tlb : 0;
    t->true_ub = b.tany ? b.tub : 0;
    t->sizes = dup_i64(sizes, ndims);
    t->subsizes = dup_i64(subsizes, ndims);
    t->starts = dup_i64(starts, ndims);
    if (!t->sizes || !t->subsizes || !t->starts || set_single_child(t, old) != TSR_OK) {
        dt_destroy(t);
        return tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
    }
    return finish(t, out, fn);
}

tsr_status tsr_datatype_resized(tsr_datatype_t *old, int64_t lb, int64_t extent, tsr_datatype_t **out) {
    const char *fn = __func__;
    TSR_CHECK_NULL(out);
    TSR_TRY(dt_check(old, fn, "old"));
    int64_t ub;
    if (tsr_add_i64(lb, extent, &ub))
        return tsr_error(TSR_ERANGE, "%s: lb %lld + extent %lld overflows int64", fn, (long long)lb, (long long)extent);
    TSR_TRY(depth_check(old->depth + 1, fn));
    tsr_datatype_t *t = dt_alloc(TSR_COMBINER_RESIZED);
    if (!t) return tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
    t->size = old->size;
    t->lb = lb;
    t->extent = extent;
    t->true_lb = old->true_lb;
    t->true_ub = old->true_ub;
    if (set_single_child(t, old) != TSR_OK) { dt_destroy(t); return tsr_error(TSR_ENOMEM, "%s: out of memory", fn); }
    return finish(t, out, fn);
}

tsr_status tsr_datatype_dup(tsr_datatype_t *old, tsr_datatype_t **out) {
    const char *fn = __func__;
    TSR_CHECK_NULL(out);
    TSR_TRY(dt_check(old, fn, "old"));
    TSR_TRY(depth_check(old->depth + 1, fn));
    tsr_datatype_t *t = dt_alloc(TSR_COMBINER_DUP);
    if (!t) return tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
    t->size = old->size;
    t->lb = old->lb;
    t->extent = old->extent;
    t->true_lb = old->true_lb;
    t->true_ub = old->true_ub;
    if (set_single_child(t, old) != TSR_OK) { dt_destroy(t); return tsr_error(TSR_ENOMEM, "%s: out of memory", fn); }
    tsr_status s = finish(t, out, fn);
    if (s == TSR_OK && atomic_load(&old->committed)) s = tsr_datatype_commit(t);
    return s;
}

/* ---- commit / free ----------------------------------------------------------------------------- */

static pthread_mutex_t commit_lock = PTHREAD_MUTEX_INITIALIZER;

tsr_status tsr_datatype_commit(tsr_datatype_t *type) {
    TSR_TRY(dt_check(type, __func__, "type"));
    if (atomic_load_explicit(&type->committed, memory_order_acquire)) return TSR_OK;
    pthread_mutex_lock(&commit_lock);
    tsr_status s = TSR_OK;
    if (!atomic_load_explicit(&type->committed, memory_order_acquire)) {
        s = dt_canonicalize(type);
        if (s == TSR_OK) atomic_store_explicit(&type->committed, 1, memory_order_release);
    }
    pthread_mutex_unlock(&commit_lock);
    return s;
}

tsr_status tsr_datatype_destroy(tsr_datatype_t *type) {
    if (!type) return TSR_OK;
    TSR_TRY(dt_check(type, __func__, "type"));
    if (type->immortal) return TSR_OK;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&type->user_freed, &expected, 1))
        return tsr_error(TSR_EINVAL, "tsr_datatype_destroy: 'type' was already destroyed");
    dt_release(type);
    return TSR_OK;
}

tsr_status tsr_datatype_free(tsr_datatype_t *type) { return tsr_datatype_destroy(type); }

int32_t tsr_datatype_is_valid(const tsr_datatype_t *type) {
    if (!type || !dt_registry_contains(type) || type->magic != DT_MAGIC) return 0;
    return atomic_load(&type->user_freed) ? 0 : 1;
}

/* ---- queries --------------------------------------------------------------------------------------- */

tsr_status tsr_datatype_size(const tsr_datatype_t *type, int64_t *size) {
    TSR_TRY(dt_check(type, __func__, "type"));
    TSR_CHECK_NULL(size);
    *size = type->size;
    return TSR_OK;
}

tsr_status tsr_datatype_extent(const tsr_datatype_t *type, int64_t *lb, int64_t *extent) {
    TSR_TRY(dt_check(type, __func__, "type"));
    if (lb) *lb = type->lb;
    if (extent) *extent = type->extent;
    return TSR_OK;
}

tsr_status tsr_datatype_true_extent(const tsr_datatype_t *type, int64_t *true_lb, int64_t *true_extent) {
    TSR_TRY(dt_check(type, __func__, "type"));
    if (true_lb) *true_lb = type->true_lb;
    if (true_extent) *true_extent = type->true_ub - type->true_lb;
    return TSR_OK;
}

tsr_status tsr_datatype_combiner(const tsr_datatype_t *type, tsr_combiner *out) {
    TSR_TRY(dt_check(type, __func__, "type"));
    TSR_CHECK_NULL(out);
    *out = type->comb;
    return TSR_OK;
}

tsr_status tsr_datatype_is_committed(const tsr_datatype_t *type, int32_t *committed) {
    TSR_TRY(dt_check(type, __func__, "type"));
    TSR_CHECK_NULL(committed);
    *committed = atomic_load(&type->committed) ? 1 : 0;
    return TSR_OK;
}

/* ---- describe ------------------------------------------------------------------------------------ */

/* Most tree nodes a description spells out (a small DAG can have billions of paths). */
#define DT_DESCRIBE_MAX_NODES 32

typedef struct sbuf { char *buf; size_t cap, len; int nodes; } sbuf;

static void sb_printf(sbuf *s, const char *fmt, ...) TSR_FORMAT(2, 3);
static void sb_printf(sbuf *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *dst = s->len < s->cap ? s->buf + s->len : NULL;
    size_t room = s->len < s->cap ? s->cap - s->len : 0;
    int n = vsnprintf(dst, room, fmt, ap);
    va_end(ap);
    if (n > 0) s->len += (size_t)n;
}

static const char *comb_names[TSR_COMBINER_COUNT] = {
    "named", "contiguous", "vector", "hvector", "indexed", "hindexed", "indexed_block",
    "hindexed_block", "struct", "subarray", "resized", "dup",
};

static void describe_tree(sbuf *s, const tsr_datatype_t *t, int depth) {
    if (depth > 8 || s->nodes <= 0) { sb_printf(s, "..."); return; }
    s->nodes--;
    switch (t->comb) {
    case TSR_COMBINER_NAMED: sb_printf(s, "%s", named_names[t->named]); return;
    case TSR_COMBINER_CONTIGUOUS: sb_printf(s, "contiguous(%lld, ", (long long)t->count); break;
    case TSR_COMBINER_VECTOR:
        sb_printf(s, "vector(%lld, %lld, %lld, ", (long long)t->count, (long long)t->blocklen, (long long)t->stride);
        break;
    case TSR_COMBINER_HVECTOR:
        sb_printf(s, "hvector(%lld, %lld, %lldB, ", (long long)t->count, (long long)t->blocklen, (long long)t->stride);
        break;
    case TSR_COMBINER_SUBARRAY:
        sb_printf(s, "subarray(%s, [", t->order == TSR_ORDER_C ? "C" : "Fortran");
        for (int i = 0; i < t->ndims; i++)
            sb_printf(s, "%s%lld/%lld@%lld", i ? " " : "", (long long)t->subsizes[i], (long long)t->sizes[i],
                      (long long)t->starts[i]);
        sb_printf(s, "], ");
        break;
    case TSR_COMBINER_RESIZED: sb_printf(s, "resized(lb=%lld, extent=%lld, ", (long long)t->lb, (long long)t->extent); break;
    case TSR_COMBINER_DUP: sb_printf(s, "dup("); break;
    case TSR_COMBINER_STRUCT:
        sb_printf(s, "struct(%lld: ", (long long)t->count);
        for (int64_t i = 0; i < t->count && i < 8; i++) {
            sb_printf(s, "%s%lldx", i ? ", " : "", (long long)t->blocklens[i]);
            describe_tree(s, t->children[i], depth + 1);
            sb_printf(s, "@%lld", (long long)t->displs[i]);
        }
        sb_printf(s, "%s)", t->count > 8 ? ", ..." : "");
        return;
    default:
        sb_printf(s, "%s(%lld blocks, ", comb_names[t->comb], (long long)t->count);
        break;
    }
    describe_tree(s, t->children[0], depth + 1);
    sb_printf(s, ")");
}

tsr_status tsr_datatype_describe(const tsr_datatype_t *type, char *buf, size_t cap, size_t *needed) {
    TSR_TRY(dt_check(type, __func__, "type"));
    if (!buf && cap > 0) return tsr_error(TSR_EINVAL, "tsr_datatype_describe: buf is NULL with cap %zu", cap);
    sbuf s = {buf, cap, 0, DT_DESCRIBE_MAX_NODES};
    if (atomic_load_explicit(&type->committed, memory_order_acquire)) {
        s.len = dt_canon_describe(type, buf, cap);
        sb_printf(&s, " from ");
    } else {
        sb_printf(&s, "uncommitted ");
    }
    describe_tree(&s, type, 0);
    if (cap > 0) buf[s.len < cap ? s.len : cap - 1] = '\0';
    if (needed) *needed = s.len;
    return TSR_OK;
}

/* ---- naive type-map walker ------------------------------------------------------------------------ */

typedef struct walk {
    char *stream;      /* packed stream base (byte `first` of the range is stream[0]) */
    int64_t pos;       /* stream position of the next leaf byte */
    int64_t first, end;/* range of stream bytes to move */
    int dir;
} walk;

static void walk_leaf(walk *w, char *p, int64_t n) {
    int64_t a = w->pos, b = w->pos + n;
    w->pos = b;
    if (b <= w->first || a >= w->end) return;
    int64_t lo = a > w->first ? a : w->first, hi = b < w->end ? b : w->end;
    char *m = p + (lo - a), *q = w->stream + (lo - w->first);
    if (w->dir == 0) memcpy(q, m, (size_t)(hi - lo));
    else memcpy(m, q, (size_t)(hi - lo));
}

static void walk_type(walk *w, const tsr_datatype_t *t, char *base);

/*
 * Walks n copies of c (c->size > 0) at base + k*extent. Copies wholly before the range
 * are skipped in one step and the walk stops at its end, so a partial walk costs what
 * it moves, not what lies before it.
 */
static void walk_run(walk *w, const tsr_datatype_t *c, char *base, int64_t n) {
    int64_t k = w->pos < w->first ? (w->first - w->pos) / c->size : 0;
    if (k > n) k = n;
    w->pos += k * c->size;
    for (; k < n && w->pos < w->end; k++) walk_type(w, c, base + k * c->extent);
}

/* slice[dim]: stream bytes of one index step in dimension `dim` (0 = slowest). */
static void walk_sub(walk *w, const tsr_datatype_t *t, char *base, int dim, const int64_t *stride,
                     const int64_t *slice) {
    int nd = t->ndims;
    int i = t->order == TSR_ORDER_C ? dim : nd - 1 - dim;
    if (dim == nd - 1) { walk_run(w, t->children[0], base + t->starts[i] * stride[i], t->subsizes[i]); return; }
    int64_t k = w->pos < w->first ? (w->first - w->pos) / slice[dim] : 0;
    if (k > t->subsizes[i]) k = t->subsizes[i];
    w->pos += k * slice[dim];
    for (; k < t->subsizes[i] && w->pos < w->end; k++)
        walk_sub(w, t, base + (t->starts[i] + k) * stride[i], dim + 1, stride, slice);
}

static void walk_type(walk *w, const tsr_datatype_t *t, char *base) {
    /* empty subtrees cost nothing, however many empty children they hold */
    if (w->pos >= w->end || t->size == 0) return;
    /* skip whole subtrees that end before the range */
    if (w->pos + t->size <= w->first) { w->pos += t->size; return; }
    const tsr_datatype_t *c = t->nchild ? t->children[0] : NULL;
    switch (t->comb) {
    case TSR_COMBINER_NAMED: walk_leaf(w, base, t->size); break;
    case TSR_COMBINER_CONTIGUOUS:
    case TSR_COMBINER_VECTOR:
    case TSR_COMBINER_HVECTOR: {
        int64_t sb = t->comb == TSR_COMBINER_VECTOR ? t->stride * c->extent : t->stride;
        int64_t run = t->blocklen * c->size;  /* > 0: t->size = count * run */
        int64_t i = w->pos < w->first ? (w->first - w->pos) / run : 0;
        w->pos += i * run;
        for (; i < t->count && w->pos < w->end; i++) walk_run(w, c, base + i * sb, t->blocklen);
        break;
    }
    case TSR_COMBINER_INDEXED:
    case TSR_COMBINER_HINDEXED:
    case TSR_COMBINER_INDEXED_BLOCK:
    case TSR_COMBINER_HINDEXED_BLOCK:
    case TSR_COMBINER_STRUCT: {
        int bytes = t->comb == TSR_COMBINER_HINDEXED || t->comb == TSR_COMBINER_HINDEXED_BLOCK ||
                    t->comb == TSR_COMBINER_STRUCT;
        /* only the blocks that hold data: a type may list billions of empty ones */
        for (int64_t k = 0; k < dt_nfilled(t) && w->pos < w->end; k++) {
            int64_t i = dt_filled(t, k);
            const tsr_datatype_t *ci = t->comb == TSR_COMBINER_STRUCT ? t->children[i] : c;
            int64_t bl = t->blocklens ? t->blocklens[i] : t->blocklen;
            int64_t d = bytes ? t->displs[i] : t->displs[i] * ci->extent;
            walk_run(w, ci, base + d, bl);
        }
        break;
    }
    case TSR_COMBINER_SUBARRAY: {
        int64_t stride[32], slice[32], acc = c->extent, bytes = c->size;
        for (int k = 0; k < t->ndims; k++) {
            int i = t->order == TSR_ORDER_C ? t->ndims - 1 - k : k;
            stride[i] = acc;
            acc *= t->sizes[i];
            slice[t->ndims - 1 - k] = bytes;
            bytes *= t->subsizes[i];
        }
        walk_sub(w, t, base, 0, stride, slice);
        break;
    }
    case TSR_COMBINER_RESIZED:
    case TSR_COMBINER_DUP: walk_type(w, c, base); break;
    default: break;
    }
}

void dt_naive_walk_range(const tsr_datatype_t *t, char *base, int64_t incount, char *stream, int64_t first,
                         int64_t n, int dir) {
    if (n <= 0 || t->size == 0) return;
    walk w = {stream, 0, first, first + n, dir};
    int64_t e0 = first / t->size;
    w.pos = e0 * t->size;
    for (int64_t e = e0; e < incount && w.pos < w.end; e++) walk_type(&w, t, base + e * t->extent);
}

void dt_naive_walk(const tsr_datatype_t *t, char *base, int64_t incount, char *stream, int dir) {
    dt_naive_walk_range(t, base, incount, stream, 0, incount * t->size, dir);
}
