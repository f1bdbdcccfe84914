/*
 * test_datatype.c — datatype constructors, bounds, canonical forms (equivalence),
 * pack/unpack against an independent type-map oracle (random type trees), partial
 * packs, every ISA path, the parallel path, refcounting and bad input.
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tsr_test.h"

/* ---- independent oracle: a mirror of the constructor tree ------------------------------- */

enum { N_NAMED, N_CONTIG, N_VEC, N_HVEC, N_IDX, N_HIDX, N_IDXB, N_HIDXB, N_STRUCT, N_SUB, N_RESIZED, N_DUP };

typedef struct node {
    int kind;
    int named;                 /* tsr_named_type */
    int64_t count, bl, stride; /* stride: elements (vector) or bytes (hvector) */
    int64_t bls[8], displs[8];
    struct node *ch[8];
    int nch;
    int ndims, order;
    int64_t sizes[3], subs[3], starts[3];
    int64_t rlb, rext;
    /* oracle-computed */
    int64_t size, lb, ub;
    tsr_datatype_t *t;
} node;

static const int64_t named_size[] = {1, 1, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 8, 16, 1};

typedef struct leaf { int64_t off, len; } leaf;
typedef struct leaves { leaf *v; int64_t n, cap; } leaves;

static void push_leaf(leaves *L, int64_t off, int64_t len) {
    if (L->n == L->cap) { L->cap = L->cap ? 2 * L->cap : 64; L->v = realloc(L->v, (size_t)L->cap * sizeof *L->v); }
    L->v[L->n].off = off; L->v[L->n].len = len; L->n++;
}

/* Type map of one element at `base`: every named leaf, in order. */
static void typemap(const node *nd, int64_t base, leaves *L) {
    switch (nd->kind) {
    case N_NAMED: push_leaf(L, base, named_size[nd->named]); return;
    case N_CONTIG:
        for (int64_t i = 0; i < nd->count; i++) typemap(nd->ch[0], base + i * (nd->ch[0]->ub - nd->ch[0]->lb), L);
        return;
    case N_VEC: case N_HVEC: {
        int64_t ext = nd->ch[0]->ub - nd->ch[0]->lb;
        int64_t sb = nd->kind == N_VEC ? nd->stride * ext : nd->stride;
        for (int64_t i = 0; i < nd->count; i++)
            for (int64_t j = 0; j < nd->bl; j++) typemap(nd->ch[0], base + i * sb + j * ext, L);
        return;
    }
    case N_IDX: case N_HIDX: case N_IDXB: case N_HIDXB: case N_STRUCT:
        for (int64_t i = 0; i < nd->count; i++) {
            const node *c = nd->kind == N_STRUCT ? nd->ch[i] : nd->ch[0];
            int64_t ext = c->ub - c->lb;
            int64_t bl = (nd->kind == N_IDXB || nd->kind == N_HIDXB) ? nd->bl : nd->bls[i];
            int64_t d = (nd->kind == N_IDX || nd->kind == N_IDXB) ? nd->displs[i] * ext : nd->displs[i];
            for (int64_t j = 0; j < bl; j++) typemap(c, base + d + j * ext, L);
        }
        return;
    case N_SUB: {
        /* element (i0,i1,i2) of the subarray; C order: last index fastest */
        int64_t ext = nd->ch[0]->ub - nd->ch[0]->lb;
        int64_t stride[3], acc = ext;
        for (int k = 0; k < nd->ndims; k++) {
            int i = nd->order == 0 ? nd->ndims - 1 - k : k;
            stride[i] = acc; acc *= nd->sizes[i];
        }
        int64_t idx[3] = {0, 0, 0};
        int64_t total = 1;
        for (int i = 0; i < nd->ndims; i++) total *= nd->subs[i];
        for (int64_t e = 0; e < total; e++) {
            int64_t r = e, off = base;
            /* decompose e with the fastest dimension varying fastest */
            for (int k = 0; k < nd->ndims; k++) {
                int i = nd->order == 0 ? nd->ndims - 1 - k : k;
                idx[i] = r % nd->subs[i]; r /= nd->subs[i];
            }
            for (int i = 0; i < nd->ndims; i++) off += (nd->starts[i] + idx[i]) * stride[i];
            typemap(nd->ch[0], off, L);
        }
        return;
    }
    case N_RESIZED: case N_DUP: typemap(nd->ch[0], base, L); return;
    }
}

/* MPI bounds, computed from the oracle's own rules. */
static void oracle_bounds(node *nd) {
    int any = 0;
    int64_t lb = 0, ub = 0, size = 0;
#define PLACE(c, d)                                                        \
    do {                                                                   \
        int64_t l_ = (d) + (c)->lb, u_ = (d) + (c)->ub;                    \
        if (!any || l_ < lb) lb = l_;                                      \
        if (!any || u_ > ub) ub = u_;                                      \
        any = 1;                                                           \
    } while (0)
    switch (nd->kind) {
    case N_NAMED: nd->size = nd->ub = named_size[nd->named]; nd->lb = 0; return;
    case N_CONTIG: case N_VEC: case N_HVEC: {
        node *c = nd->ch[0];
        int64_t ext = c->ub - c->lb, bl = nd->kind == N_CONTIG ? 1 : nd->bl;
        int64_t sb = nd->kind == N_CONTIG ? ext : nd->kind == N_VEC ? nd->stride * ext : nd->stride;
        for (int64_t i = 0; i < nd->count; i++)
            for (int64_t j = 0; j < bl; j++) PLACE(c, i * sb + j * ext);
        size = nd->count * bl * c->size;
        break;
    }
    case N_IDX: case N_HIDX: case N_IDXB: case N_HIDXB: case N_STRUCT:
        for (int64_t i = 0; i < nd->count; i++) {
            node *c = nd->kind == N_STRUCT ? nd->ch[i] : nd->ch[0];
            int64_t ext = c->ub - c->lb;
            int64_t bl = (nd->kind == N_IDXB || nd->kind == N_HIDXB) ? nd->bl : nd->bls[i];
            int64_t d = (nd->kind == N_IDX || nd->kind == N_IDXB) ? nd->displs[i] * ext : nd->displs[i];
            for (int64_t j = 0; j < bl; j++) PLACE(c, d + j * ext);
            size += bl * c->size;
        }
        break;
    case N_SUB: {
        int64_t n = 1, tot = nd->ch[0]->ub - nd->ch[0]->lb;
        for (int i = 0; i < nd->ndims; i++) { n *= nd->subs[i]; tot *= nd->sizes[i]; }
        nd->size = n * nd->ch[0]->size; nd->lb = 0; nd->ub = tot;
        return;
    }
    case N_RESIZED: nd->size = nd->ch[0]->size; nd->lb = nd->rlb; nd->ub = nd->rlb + nd->rext; return;
    case N_DUP: nd->size = nd->ch[0]->size; nd->lb = nd->ch[0]->lb; nd->ub = nd->ch[0]->ub; return;
    }
#undef PLACE
    nd->size = size; nd->lb = any ? lb : 0; nd->ub = any ? ub : 0;
}

static unsigned long long rng = 0x9E3779B97F4A7C15ull;
static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(tsr_test_rng_next(&rng) % (uint64_t)(hi - lo + 1)); }

/* Builds a random tree (oracle node + library type). Sizes stay small. */
static node *random_node(int depth) {
    node *nd = calloc(1, sizeof *nd);
    int kind = depth <= 1 ? N_NAMED : (int)rnd(0, 11);
    if (depth > 1 && kind == N_NAMED) kind = N_VEC;
    nd->kind = kind;
    tsr_status s = TSR_OK;
    if (kind == N_NAMED) {
        nd->named = (int)rnd(0, TSR_TYPE_NAMED_COUNT - 1);
        s = tsr_datatype_named((tsr_named_type)nd->named, &nd->t);
        oracle_bounds(nd);
        CHECK(s == TSR_OK);
        return nd;
    }
    nd->ch[0] = random_node(depth - 1);
    nd->nch = 1;
    node *c = nd->ch[0];
    int64_t ext = c->ub - c->lb;
    switch (kind) {
    case N_CONTIG: nd->count = rnd(0, 4); s = tsr_datatype_contiguous(nd->count, c->t, &nd->t); break;
    case N_VEC:
        nd->count = rnd(1, 5); nd->bl = rnd(1, 3); nd->stride = rnd(-4, 6);
        s = tsr_datatype_vector(nd->count, nd->bl, nd->stride, c->t, &nd->t);
        break;
    case N_HVEC:
        nd->count = rnd(1, 5); nd->bl = rnd(0, 3); nd->stride = rnd(-3 * (ext + 1), 3 * (ext + 1));
        s = tsr_datatype_hvector(nd->count, nd->bl, nd->stride, c->t, &nd->t);
        break;
    case N_IDX: case N_HIDX: case N_IDXB: case N_HIDXB: {
        nd->count = rnd(0, 5); nd->bl = rnd(0, 3);
        for (int i = 0; i < nd->count; i++) {
            nd->bls[i] = rnd(0, 3);
            nd->displs[i] = (kind == N_IDX || kind == N_IDXB) ? rnd(-3, 8) : rnd(-2 * ext - 4, 8 * ext + 8);
        }
        if (kind == N_IDX) s = tsr_datatype_indexed(nd->count, nd->bls, nd->displs, c->t, &nd->t);
        if (kind == N_HIDX) s = tsr_datatype_hindexed(nd->count, nd->bls, nd->displs, c->t, &nd->t);
        if (kind == N_IDXB) s = tsr_datatype_indexed_block(nd->count, nd->bl, nd->displs, c->t, &nd->t);
        if (kind == N_HIDXB) s = tsr_datatype_hindexed_block(nd->count, nd->bl, nd->displs, c->t, &nd->t);
        break;
    }
    case N_STRUCT: {
        nd->count = rnd(1, 3);
        tsr_datatype_t *ts[8];
        ts[0] = c->t;
        for (int i = 1; i < nd->count; i++) { nd->ch[i] = random_node(depth - 1 > 1 ? rnd(1, depth - 1) : 1); }
        nd->nch = (int)nd->count;
        int64_t at = 0;
        for (int i = 0; i < nd->count; i++) {
            ts[i] = nd->ch[i]->t;
            nd->bls[i] = rnd(0, 2);
            nd->displs[i] = at + rnd(-4, 12);
            at += nd->bls[i] * (nd->ch[i]->ub - nd->ch[i]->lb);
        }
        s = tsr_datatype_struct(nd->count, nd->bls, nd->displs, ts, &nd->t);
        break;
    }
    case N_SUB: {
        nd->ndims = (int)rnd(1, 3); nd->order = (int)rnd(0, 1);
        for (int i = 0; i < nd->ndims; i++) {
            nd->sizes[i] = rnd(1, 5); nd->subs[i] = rnd(1, nd->sizes[i]);
            nd->starts[i] = rnd(0, nd->sizes[i] - nd->subs[i]);
        }
        if (ext <= 0) { /* subarrays of non-positive extents are legal but rare: keep the tree simple */
            nd->kind = N_DUP; s = tsr_datatype_dup(c->t, &nd->t); break;
        }
        s = tsr_datatype_subarray(nd->ndims, nd->sizes, nd->subs, nd->starts, nd->order ? TSR_ORDER_FORTRAN : TSR_ORDER_C,
                                  c->t, &nd->t);
        break;
    }
    case N_RESIZED:
        nd->rlb = rnd(-8, 8); nd->rext = rnd(1, 2 * (ext > 0 ? ext : 1) + 8);
        s = tsr_datatype_resized(c->t, nd->rlb, nd->rext, &nd->t);
        break;
    case N_DUP: s = tsr_datatype_dup(c->t, &nd->t); break;
    }
    CHECK_MSG(s == TSR_OK, "constructor kind %d: %s", kind, tsr_last_error());
    oracle_bounds(nd);
    return nd;
}

static void free_node(node *nd, int free_types_now) {
    for (int i = 0; i < nd->nch; i++) free_node(nd->ch[i], free_types_now);
    if (free_types_now) CHECK_OK(tsr_datatype_destroy(nd->t));
    free(nd);
}

/* Oracle pack of incount elements at mem (mem may point inside a larger buffer). */
static void oracle_pack(const leaves *L, int64_t ext, const char *mem, int64_t incount, char *out) {
    for (int64_t e = 0; e < incount; e++)
        for (int64_t i = 0; i < L->n; i++) {
            memcpy(out, mem + e * ext + L->v[i].off, (size_t)L->v[i].len);
            out += L->v[i].len;
        }
}

static int overlaps(const leaves *L, int64_t ext, int64_t incount) {
    /* quadratic check on small maps: any two leaf byte ranges intersect */
    int64_t n = L->n * incount;
    if (n > 4000) return 1;
    for (int64_t a = 0; a < n; a++)
        for (int64_t b = a + 1; b < n; b++) {
            int64_t oa = L->v[a % L->n].off + (a / L->n) * ext, ob = L->v[b % L->n].off + (b / L->n) * ext;
            if (oa < ob + L->v[b % L->n].len && ob < oa + L->v[a % L->n].len) return 1;
        }
    return 0;
}

static int fuzz_one(int depth, int64_t incount, tsr_pool_t *pool) {
    node *nd = random_node(depth);
    int bad = 0;
    int64_t size, lb, ext, tlb, text;
    CHECK_OK(tsr_datatype_size(nd->t, &size));
    CHECK_OK(tsr_datatype_extent(nd->t, &lb, &ext));
    CHECK_MSG(size == nd->size && lb == nd->lb && ext == nd->ub - nd->lb,
              "bounds: lib size %lld lb %lld ext %lld, oracle %lld %lld %lld", (long long)size, (long long)lb,
              (long long)ext, (long long)nd->size, (long long)nd->lb, (long long)(nd->ub - nd->lb));
    CHECK_OK(tsr_datatype_commit(nd->t));
    leaves L = {0};
    typemap(nd, 0, &L);
    int64_t lsum = 0, lo = 0, hi = 0;
    for (int64_t i = 0; i < L.n; i++) lsum += L.v[i].len;
    CHECK(lsum == size);
    /* buffer spanning every byte touched by incount elements */
    for (int64_t e = 0; e < incount; e++)
        for (int64_t i = 0; i < L.n; i++) {
            int64_t a = e * ext + L.v[i].off, b = a + L.v[i].len;
            if (a < lo) lo = a;
            if (b > hi) hi = b;
        }
    CHECK_OK(tsr_datatype_true_extent(nd->t, &tlb, &text));
    if (L.n > 0) {
        int64_t mn = L.v[0].off, mx = L.v[0].off + L.v[0].len;
        for (int64_t i = 0; i < L.n; i++) {
            if (L.v[i].off < mn) mn = L.v[i].off;
            if (L.v[i].off + L.v[i].len > mx) mx = L.v[i].off + L.v[i].len;
        }
        CHECK_MSG(tlb == mn && text == mx - mn, "true extent lib %lld+%lld oracle %lld+%lld", (long long)tlb,
                  (long long)text, (long long)mn, (long long)(mx - mn));
    }
    int64_t span = hi - lo + 64;
    char *buf = malloc((size_t)span);
    for (int64_t i = 0; i < span; i++) buf[i] = (char)(tsr_test_rng_next(&rng) >> 33);
    char *mem = buf - lo;
    int64_t total = size * incount;
    char *want = malloc((size_t)total + 1), *got = malloc((size_t)total + 1), *naive = malloc((size_t)total + 1);
    oracle_pack(&L, ext, mem, incount, want);
    int64_t pos = 0;
    CHECK_OK(tsr_datatype_pack(pool, mem, incount, nd->t, got, total, &pos));
    CHECK(pos == total);
    if (memcmp(want, got, (size_t)total) != 0) bad = 1;
    pos = 0;
    CHECK_OK(tsr_datatype_pack_naive(mem, incount, nd->t, naive, total, &pos));
    if (memcmp(want, naive, (size_t)total) != 0) bad = 2;
    /* partial packs at random cuts concatenate to the full pack */
    if (total > 0) {
        memset(got, 0, (size_t)total);
        int64_t at = 0;
        while (at < total) {
            int64_t n = rnd(1, total - at < 97 ? total - at : 97);
            CHECK_OK(tsr_datatype_pack_range(pool, mem, incount, nd->t, at, n, got + at));
            at += n;
        }
        if (memcmp(want, got, (size_t)total) != 0) bad = 3;
    }
    /* unpack is the inverse on the covered bytes (when no byte is covered twice) */
    if (!bad && total > 0 && !overlaps(&L, ext, incount)) {
        char *buf2 = malloc((size_t)span), *exp = malloc((size_t)span);
        memset(buf2, 0x5a, (size_t)span);
        memset(exp, 0x5a, (size_t)span);
        /* expected: covered bytes get the data, the rest stays 0x5a */
        const char *p = want;
        for (int64_t e = 0; e < incount; e++)
            for (int64_t i = 0; i < L.n; i++) {
                memcpy(exp - lo + e * ext + L.v[i].off, p, (size_t)L.v[i].len);
                p += L.v[i].len;
            }
        pos = 0;
        CHECK_OK(tsr_datatype_unpack(pool, want, total, &pos, buf2 - lo, incount, nd->t));
        if (memcmp(buf2, exp, (size_t)span) != 0) bad = 4;
        memset(buf2, 0x5a, (size_t)span);
        int64_t at = 0;
        while (at < total) {
            int64_t n = rnd(1, total - at < 61 ? total - at : 61);
            CHECK_OK(tsr_datatype_unpack_range(pool, want + at, at, n, buf2 - lo, incount, nd->t));
            at += n;
        }
        if (memcmp(buf2, exp, (size_t)span) != 0) bad = 5;
        free(buf2);
        free(exp);
    }
    if (bad) {
        char d[512];
        tsr_datatype_describe(nd->t, d, sizeof d, NULL);
        printf("  fuzz mismatch (%d) depth %d incount %lld: %s\n", bad, depth, (long long)incount, d);
    }
    free(want); free(got); free(naive); free(buf); free(L.v);
    /* free in random order relative to the tree: the root first exercises refcounting */
    free_node(nd, 1);
    return bad;
}

TSR_TEST(fuzz_random_trees_every_isa) {
    int rounds = tsr_test_quick() ? 150 : 600;
    int fails = 0;
    TSR_FOR_EACH_ISA(isa) {
        for (int r = 0; r < rounds && fails < 5; r++) fails += fuzz_one((int)rnd(1, 5), rnd(0, 4), NULL) != 0;
    }
    CHECK(fails == 0);
}

TSR_TEST(fuzz_parallel_large) {
    /* incount large enough to take the parallel path (>= 256 KiB) on a 2-worker pool: odd
     * rounds with TESSERA_DATATYPE_SPLIT_BYTES=0 (every such pack split, dense ones too), even
     * rounds with the default rule (dense packs below 4 MiB on the caller, sparse ones split) */
    tsr_pool_params pp;
    tsr_pool_params_default(&pp);
    pp.n_threads = 2;
    tsr_pool_t *pool = NULL;
    CHECK_OK(tsr_pool_create(&pp, &pool));
    int fails = 0;
    int rounds = tsr_test_quick() ? 4 : 12;
    for (int r = 0; r < rounds; r++) {
        if (r & 1) setenv("TESSERA_DATATYPE_SPLIT_BYTES", "0", 1);
        fails += fuzz_one((int)rnd(2, 4), rnd(4000, 20000), pool) != 0;
        unsetenv("TESSERA_DATATYPE_SPLIT_BYTES");
    }
    CHECK(fails == 0);
    tsr_pool_destroy(pool);
}

TSR_TEST(split_rule_sparse_face_and_dense_vector_match_naive) {
    /* the two sides of the split rule on a 2-worker pool, against the naive packer: a 3-D
     * z-face (8-byte blocks 512 bytes apart: sparse, split from 256 KiB) and a dense 1 MiB
     * vector (16-byte blocks at stride 32: on the caller below 4 MiB), pack and unpack */
    tsr_pool_t *pool = tsr_test_pool(2);
    const int64_t n = 64, sizes[3] = {n, n * 8, n}, sub[3] = {n, n * 8, 1}, st[3] = {0, 0, 5};
    tsr_datatype_t *face = NULL, *vec = NULL, *dbl = NULL, *byte = NULL;
    CHECK_OK(tsr_datatype_named(TSR_TYPE_DOUBLE, &dbl));
    CHECK_OK(tsr_datatype_named(TSR_TYPE_BYTE, &byte));
    CHECK_OK(tsr_datatype_subarray(3, sizes, sub, st, TSR_ORDER_C, dbl, &face));
    CHECK_OK(tsr_datatype_vector(65536, 16, 32, byte, &vec));
    tsr_datatype_t *types[2] = {face, vec};
    const int64_t spans[2] = {n * n * 8 * n * 8, 65536 * 32};
    for (int k = 0; k < 2; k++) {
        tsr_datatype_t *t = types[k];
        CHECK_OK(tsr_datatype_commit(t));
        int64_t size = 0;
        CHECK_OK(tsr_datatype_size(t, &size));
        CHECK(size >= 256 * 1024);
        unsigned char *mem = malloc((size_t)spans[k]), *back = calloc(1, (size_t)spans[k]);
        unsigned char *want = malloc((size_t)size), *got = malloc((size_t)size);
        for (int64_t i = 0; i < spans[k]; i++) mem[i] = (unsigned char)(i * 131 + 7 + (i >> 9));
        int64_t p1 = 0, p2 = 0, p3 = 0;
        CHECK_OK(tsr_datatype_pack_naive(mem, 1, t, want, size, &p1));
        CHECK_OK(tsr_datatype_pack(pool, mem, 1, t, got, size, &p2));
        CHECK(p1 == size && p2 == size && memcmp(want, got, (size_t)size) == 0);
        CHECK_OK(tsr_datatype_unpack(pool, got, size, &p3, back, 1, t));
        int64_t q = 0;
        unsigned char *again = malloc((size_t)size);
        CHECK_OK(tsr_datatype_pack_naive(back, 1, t, again, size, &q));
        CHECK(memcmp(again, want, (size_t)size) == 0);
        free(mem); free(back); free(want); free(got); free(again);
    }
    tsr_datatype_destroy(face);
    tsr_datatype_destroy(vec);
    tsr_datatype_destroy(dbl);
    tsr_datatype_destroy(byte);
    tsr_pool_destroy(pool);
}

/* ---- canonical forms -------------------------------------------------------------------------- */

static tsr_datatype_t *T(tsr_named_type k) { tsr_datatype_t *t; tsr_datatype_named(k, &t); return t; }

static void expect_same(tsr_datatype_t *a, tsr_datatype_t *b, const char *what) {
    CHECK_OK(tsr_datatype_commit(a));
    CHECK_OK(tsr_datatype_commit(b));
    int32_t eq = 0;
    CHECK_OK(tsr_datatype_has_same_layout(a, b, &eq));
    if (!eq) {
        char da[400], db[400];
        tsr_datatype_describe(a, da, sizeof da, NULL);
        tsr_datatype_describe(b, db, sizeof db, NULL);
        printf("  %s: not the same layout:\n    %s\n    %s\n", what, da, db);
    }
    CHECK(eq == 1);
}

TSR_TEST(canonical_equivalence) {
    tsr_datatype_t *i32 = T(TSR_TYPE_INT32), *dbl = T(TSR_TYPE_DOUBLE), *a, *b, *c, *d, *e, *f, *g;
    /* dense: contiguous(12) == vector(3, 4, 4) == hvector(2, 6, 48B) */
    tsr_datatype_contiguous(12, dbl, &a);
    tsr_datatype_vector(3, 4, 4, dbl, &b);
    tsr_datatype_hvector(2, 6, 48, dbl, &c);
    expect_same(a, b, "contiguous vs vector");
    expect_same(a, c, "contiguous vs hvector");
    tsr_canon_info ci = {.size = sizeof ci};
    CHECK_OK(tsr_datatype_canon_info_get(a, &ci));
    CHECK(ci.kind == TSR_CANON_STRIDED && ci.ndims == 0 && ci.block_bytes == 96 && ci.start == 0);
    tsr_datatype_destroy(a); tsr_datatype_destroy(b); tsr_datatype_destroy(c);

    /* 2-D strided: vector(4,2,5,int) == hvector == indexed_block == hindexed == struct == resized subarray */
    tsr_datatype_vector(4, 2, 5, i32, &a);
    tsr_datatype_hvector(4, 2, 20, i32, &b);
    int64_t dis[4] = {0, 5, 10, 15}, bl[4] = {2, 2, 2, 2}, hd[4] = {0, 20, 40, 60};
    tsr_datatype_indexed_block(4, 2, dis, i32, &c);
    tsr_datatype_hindexed(4, bl, hd, i32, &d);
    tsr_datatype_t *ts[4] = {i32, i32, i32, i32};
    tsr_datatype_struct(4, bl, hd, ts, &e);
    int64_t sz[2] = {4, 5}, sub[2] = {4, 2}, st[2] = {0, 0};
    tsr_datatype_subarray(2, sz, sub, st, TSR_ORDER_C, i32, &f);
    tsr_datatype_resized(f, 0, 68, &g);
    expect_same(a, b, "vector vs hvector");
    expect_same(a, c, "vector vs indexed_block");
    expect_same(a, d, "vector vs hindexed");
    expect_same(a, e, "vector vs struct");
    expect_same(a, g, "vector vs resized subarray");
    CHECK_OK(tsr_datatype_canon_info_get(a, &ci));
    CHECK(ci.kind == TSR_CANON_STRIDED && ci.ndims == 1 && ci.block_bytes == 8 && ci.counts[0] == 4 && ci.strides[0] == 20);
    int32_t eq = 1;
    CHECK_OK(tsr_datatype_commit(f));
    CHECK_OK(tsr_datatype_has_same_layout(a, f, &eq));
    CHECK(eq == 0); /* same bytes, different extent (80 vs 68): not interchangeable for incount > 1 */
    tsr_datatype_destroy(a); tsr_datatype_destroy(b); tsr_datatype_destroy(c); tsr_datatype_destroy(d);
    tsr_datatype_destroy(e); tsr_datatype_destroy(f); tsr_datatype_destroy(g);

    /* 3-D face: subarray(x-face of 8x6x5 doubles) == hvector(8, 1, 240B, vector(6, 1, 5, double)) */
    int64_t s3[3] = {8, 6, 5}, u3[3] = {8, 6, 1}, o3[3] = {0, 0, 2};
    tsr_datatype_subarray(3, s3, u3, o3, TSR_ORDER_C, dbl, &a);
    tsr_datatype_vector(6, 1, 5, dbl, &b);
    tsr_datatype_hvector(8, 1, 240, b, &c);
    tsr_datatype_resized(c, 0, 8 * 6 * 5 * 8, &d);
    /* shift by the start: 2 doubles */
    int64_t bl1 = 1, d1 = 16;
    tsr_datatype_hindexed(1, &bl1, &d1, d, &e);
    tsr_datatype_resized(e, 0, 8 * 6 * 5 * 8, &f);
    expect_same(a, f, "3-D subarray face vs nested vectors");
    CHECK_OK(tsr_datatype_canon_info_get(a, &ci));
    CHECK(ci.kind == TSR_CANON_STRIDED && ci.ndims == 1 && ci.counts[0] == 48 && ci.strides[0] == 40 && ci.block_bytes == 8 && ci.start == 16);
    tsr_datatype_destroy(a); tsr_datatype_destroy(b); tsr_datatype_destroy(c); tsr_datatype_destroy(d);
    tsr_datatype_destroy(e); tsr_datatype_destroy(f);

    /* Fortran order subarray equals the C-order one with the dimensions reversed */
    int64_t fs[3] = {5, 6, 8}, fu[3] = {1, 6, 8}, fo[3] = {2, 0, 0};
    tsr_datatype_subarray(3, s3, u3, o3, TSR_ORDER_C, dbl, &a);
    tsr_datatype_subarray(3, fs, fu, fo, TSR_ORDER_FORTRAN, dbl, &b);
    expect_same(a, b, "C vs Fortran subarray");
    tsr_datatype_destroy(a); tsr_datatype_destroy(b);

    /* struct {int, double[3], char} resized to 40: contiguous(4) == a 12-block struct resized to 160 */
    tsr_datatype_t *chr = T(TSR_TYPE_CHAR), *s1, *s2;
    int64_t sbl[3] = {1, 3, 1}, sd[3] = {0, 8, 32};
    tsr_datatype_t *st3[3] = {i32, dbl, chr};
    tsr_datatype_struct(3, sbl, sd, st3, &s1);
    tsr_datatype_resized(s1, 0, 40, &s2);
    tsr_datatype_contiguous(4, s2, &a);
    int64_t bl12[12], d12[12];
    tsr_datatype_t *t12[12];
    for (int i = 0; i < 12; i++) { bl12[i] = sbl[i % 3]; d12[i] = sd[i % 3] + 40 * (i / 3); t12[i] = st3[i % 3]; }
    tsr_datatype_struct(12, bl12, d12, t12, &b);
    tsr_datatype_resized(b, 0, 160, &c);
    expect_same(a, c, "contiguous(struct) vs flat struct");
    CHECK_OK(tsr_datatype_canon_info_get(a, &ci));
    CHECK(ci.kind == TSR_CANON_SEGMENTS && ci.n_segments == 2 && ci.ndims == 1 && ci.counts[0] == 4 && ci.strides[0] == 40);
    int64_t so[3], sl[3], ns = 0;
    CHECK_OK(tsr_datatype_segments(a, so, sl, 3, &ns));
    CHECK(ns == 2 && so[0] == 0 && sl[0] == 4 && so[1] == 8 && sl[1] == 25); /* double[3] and char touch */
    tsr_datatype_destroy(s1); tsr_datatype_destroy(s2); tsr_datatype_destroy(a); tsr_datatype_destroy(b); tsr_datatype_destroy(c);

    /* touching segments coalesce: indexed {2 at 0, 3 at 2} == contiguous(5) */
    int64_t ib[2] = {2, 3}, id[2] = {0, 2};
    tsr_datatype_indexed(2, ib, id, i32, &a);
    tsr_datatype_contiguous(5, i32, &b);
    expect_same(a, b, "touching indexed blocks vs contiguous");
    tsr_datatype_destroy(a); tsr_datatype_destroy(b);

    /* type-map order is kept: indexed {1 at 3, 1 at 0} is NOT the sorted list */
    int64_t rb[2] = {1, 1}, rd[2] = {3, 0}, sd2[2] = {0, 3};
    tsr_datatype_indexed(2, rb, rd, i32, &a);
    tsr_datatype_indexed(2, rb, sd2, i32, &b);
    CHECK_OK(tsr_datatype_commit(a));
    CHECK_OK(tsr_datatype_commit(b));
    CHECK_OK(tsr_datatype_has_same_layout(a, b, &eq));
    CHECK(eq == 0);
    CHECK_OK(tsr_datatype_canon_info_get(a, &ci));
    CHECK(ci.kind == TSR_CANON_STRIDED && ci.start == 12 && ci.ndims == 1 && ci.strides[0] == -12);
    tsr_datatype_destroy(a); tsr_datatype_destroy(b);

    /* vector of vector whose strides chain merges into one stream */
    tsr_datatype_vector(3, 1, 2, i32, &a);            /* 3 ints, stride 8B */
    tsr_datatype_hvector(4, 1, 24, a, &b);            /* chained: 12 ints, stride 8B */
    tsr_datatype_vector(12, 1, 2, i32, &c);
    expect_same(b, c, "chained vectors vs one vector");
    tsr_datatype_destroy(a); tsr_datatype_destroy(b); tsr_datatype_destroy(c);
}

TSR_TEST(bounds_and_queries) {
    tsr_datatype_t *i32 = T(TSR_TYPE_INT32), *dbl = T(TSR_TYPE_DOUBLE), *chr = T(TSR_TYPE_CHAR), *a, *b;
    int64_t size, lb, ext, tlb, text;
    tsr_datatype_vector(4, 2, 5, i32, &a);
    tsr_datatype_size(a, &size);
    tsr_datatype_extent(a, &lb, &ext);
    CHECK(size == 32 && lb == 0 && ext == 68);
    tsr_datatype_destroy(a);
    int64_t sbl[3] = {1, 3, 1}, sd[3] = {0, 8, 32};
    tsr_datatype_t *st3[3] = {i32, dbl, chr};
    tsr_datatype_struct(3, sbl, sd, st3, &a);
    tsr_datatype_extent(a, &lb, &ext);
    tsr_datatype_size(a, &size);
    CHECK(size == 29 && lb == 0 && ext == 33);
    tsr_datatype_resized(a, -4, 40, &b);
    tsr_datatype_extent(b, &lb, &ext);
    tsr_datatype_true_extent(b, &tlb, &text);
    CHECK(lb == -4 && ext == 40 && tlb == 0 && text == 33);
    tsr_combiner cb;
    CHECK_OK(tsr_datatype_combiner(b, &cb));
    CHECK(cb == TSR_COMBINER_RESIZED);
    int32_t committed = 1;
    CHECK_OK(tsr_datatype_is_committed(b, &committed));
    CHECK(committed == 0);
    char d[300];
    size_t need = 0;
    CHECK_OK(tsr_datatype_describe(b, d, sizeof d, &need));
    CHECK(strstr(d, "uncommitted") != NULL && strstr(d, "struct") != NULL);
    CHECK_OK(tsr_datatype_commit(b));
    CHECK_OK(tsr_datatype_describe(b, d, sizeof d, &need));
    CHECK(strncmp(d, "segments start=0 n=2 [(0,4) (8,25)]", 35) == 0);
    CHECK(need == strlen(d));
    char small[8];
    CHECK_OK(tsr_datatype_describe(b, small, sizeof small, &need));
    CHECK(strlen(small) == 7 && need > 7);
    /* negative hvector stride: lb moves down */
    tsr_datatype_t *c;
    tsr_datatype_hvector(3, 1, -16, dbl, &c);
    tsr_datatype_extent(c, &lb, &ext);
    CHECK(lb == -32 && ext == 40);
    tsr_datatype_destroy(a); tsr_datatype_destroy(b); tsr_datatype_destroy(c);
}

TSR_TEST(refcount_keeps_children_alive) {
    tsr_datatype_t *dbl = T(TSR_TYPE_DOUBLE), *row, *col, *blk;
    tsr_datatype_contiguous(3, dbl, &row);
    tsr_datatype_hvector(4, 1, 80, row, &col);
    tsr_datatype_destroy(row); /* col keeps it alive */
    CHECK(tsr_datatype_is_valid(row) == 0);
    tsr_datatype_dup(col, &blk);
    tsr_datatype_destroy(col);
    CHECK_OK(tsr_datatype_commit(blk));
    double src[40], out[12];
    for (int i = 0; i < 40; i++) src[i] = i;
    int64_t pos = 0;
    CHECK_OK(tsr_datatype_pack(NULL, src, 1, blk, out, sizeof out, &pos));
    CHECK(pos == 96 && out[0] == 0 && out[3] == 10 && out[11] == 32);
    CHECK_STATUS(tsr_datatype_destroy(col), TSR_EINVAL); /* freed handle, object still alive inside blk */
    CHECK_OK(tsr_datatype_destroy(blk));
    CHECK_STATUS(tsr_datatype_pack(NULL, src, 1, blk, out, sizeof out, &pos), TSR_EINVAL); /* destroyed */
    CHECK_STATUS(tsr_datatype_destroy(blk), TSR_EINVAL);
}

TSR_TEST(bad_input) {
    tsr_datatype_t *dbl = T(TSR_TYPE_DOUBLE), *a = NULL, *b = NULL;
    CHECK_STATUS(tsr_datatype_named((tsr_named_type)99, &a), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_named(TSR_TYPE_INT8, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_contiguous(-1, dbl, &a), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_contiguous(3, NULL, &a), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_vector(3, -1, 2, dbl, &a), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_vector(1ll << 40, 1ll << 40, 1, dbl, &a), TSR_ERANGE);
    CHECK_STATUS(tsr_datatype_hvector(4, 1, INT64_MAX / 2, dbl, &a), TSR_ERANGE);
    CHECK_STATUS(tsr_datatype_resized(dbl, INT64_MAX, 10, &a), TSR_ERANGE);
    int64_t bl[2] = {1, -1}, d[2] = {0, 1};
    CHECK_STATUS(tsr_datatype_indexed(2, bl, d, dbl, &a), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_indexed(2, NULL, d, dbl, &a), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_hindexed_block(2, 1, NULL, dbl, &a), TSR_EINVAL);
    int64_t big[2] = {0, INT64_MAX / 4};
    CHECK_STATUS(tsr_datatype_indexed_block(2, 1, big, dbl, &a), TSR_ERANGE);
    tsr_datatype_t *ts[2] = {dbl, NULL};
    int64_t ok_bl[2] = {1, 1};
    CHECK_STATUS(tsr_datatype_struct(2, ok_bl, d, ts, &a), TSR_EINVAL);
    int64_t sz[2] = {4, 4}, sub[2] = {2, 5}, st[2] = {0, 0}, sub2[2] = {2, 2}, st2[2] = {3, 0};
    CHECK_STATUS(tsr_datatype_subarray(2, sz, sub, st, TSR_ORDER_C, dbl, &a), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_subarray(2, sz, sub2, st2, TSR_ORDER_C, dbl, &a), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_subarray(2, sz, sub2, st, (tsr_order)7, dbl, &a), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_subarray(0, sz, sub2, st, TSR_ORDER_C, dbl, &a), TSR_EINVAL);
    CHECK(a == NULL);
    /* pack errors */
    double src[16] = {0}, out[16];
    int64_t pos = 0;
    CHECK_OK(tsr_datatype_vector(4, 1, 2, dbl, &a));
    CHECK_STATUS(tsr_datatype_pack(NULL, src, 1, a, out, sizeof out, &pos), TSR_ESTATE); /* uncommitted */
    CHECK_OK(tsr_datatype_commit(a));
    CHECK_STATUS(tsr_datatype_pack(NULL, NULL, 1, a, out, sizeof out, &pos), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_pack(NULL, src, 1, a, NULL, sizeof out, &pos), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_pack(NULL, src, -1, a, out, sizeof out, &pos), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_pack(NULL, src, 1, a, out, sizeof out, NULL), TSR_EINVAL);
    CHECK_OK(tsr_datatype_pack(NULL, NULL, 0, a, NULL, 0, &pos)); /* nothing to do */
    /* outsize too small: error, nothing written */
    memset(out, 0x77, sizeof out);
    pos = 8;
    CHECK_STATUS(tsr_datatype_pack(NULL, src, 1, a, out, 39, &pos), TSR_ERANGE);
    CHECK(pos == 8);
    for (size_t i = 0; i < sizeof out; i++) CHECK(((unsigned char *)out)[i] == 0x77);
    pos = -1;
    CHECK_STATUS(tsr_datatype_pack(NULL, src, 1, a, out, sizeof out, &pos), TSR_EINVAL);
    pos = 0;
    CHECK_STATUS(tsr_datatype_unpack(NULL, out, 31, &pos, src, 1, a), TSR_ERANGE);
    CHECK_STATUS(tsr_datatype_pack_range(NULL, src, 1, a, 30, 3, out), TSR_ERANGE);
    CHECK_STATUS(tsr_datatype_pack_range(NULL, src, 1, a, -1, 3, out), TSR_EINVAL);
    int64_t ps;
    CHECK_STATUS(tsr_datatype_pack_size(INT64_MAX / 4, a, &ps), TSR_ERANGE);
    CHECK_OK(tsr_datatype_pack_size(3, a, &ps));
    CHECK(ps == 96);
    tsr_canon_info ci = {.size = 4};
    CHECK_STATUS(tsr_datatype_canon_info_get(a, &ci), TSR_EINVAL);
    CHECK_STATUS(tsr_datatype_describe(a, NULL, 10, NULL), TSR_EINVAL);
    /* a pointer that was never a datatype */
    double junk[32] = {0};
    CHECK_STATUS(tsr_datatype_commit((tsr_datatype_t *)junk), TSR_EINVAL);
    CHECK(tsr_datatype_is_valid((tsr_datatype_t *)junk) == 0);
    CHECK_OK(tsr_datatype_destroy(NULL));
    CHECK_OK(tsr_datatype_destroy(a));
    CHECK_STATUS(tsr_datatype_commit(a), TSR_EINVAL);
    (void)b;
}

TSR_TEST(large_segment_lists_and_empty) {
    /* 1000 random blocks of 8..64 bytes, then an empty type */
    tsr_datatype_t *byte = T(TSR_TYPE_BYTE), *a, *e;
    int64_t bl[1000], d[1000], at = 0;
    for (int i = 0; i < 1000; i++) { bl[i] = rnd(8, 64); d[i] = at + rnd(1, 64); at = d[i] + bl[i]; }
    CHECK_OK(tsr_datatype_hindexed(1000, bl, d, byte, &a));
    CHECK_OK(tsr_datatype_commit(a));
    tsr_canon_info ci = {.size = sizeof ci};
    CHECK_OK(tsr_datatype_canon_info_get(a, &ci));
    CHECK(ci.kind == TSR_CANON_SEGMENTS && ci.n_segments == 1000);
    char *src = malloc((size_t)at * 3), *p1 = malloc((size_t)at * 3), *p2 = malloc((size_t)at * 3);
    for (int64_t i = 0; i < at * 3; i++) src[i] = (char)i;
    int64_t ext, size, q1 = 0, q2 = 0;
    tsr_datatype_extent(a, NULL, &ext);
    tsr_datatype_size(a, &size);
    CHECK_OK(tsr_datatype_pack(NULL, src, 2, a, p1, at * 3, &q1));
    CHECK_OK(tsr_datatype_pack_naive(src, 2, a, p2, at * 3, &q2));
    CHECK(q1 == 2 * size && q2 == q1 && memcmp(p1, p2, (size_t)q1) == 0);
    free(src); free(p1); free(p2);
    CHECK_OK(tsr_datatype_contiguous(0, byte, &e));
    CHECK_OK(tsr_datatype_commit(e));
    CHECK_OK(tsr_datatype_canon_info_get(e, &ci));
    CHECK(ci.kind == TSR_CANON_EMPTY && ci.type_size == 0);
    int64_t pos = 0;
    CHECK_OK(tsr_datatype_pack(NULL, bl, 5, e, d, 0, &pos));
    CHECK(pos == 0);
    tsr_datatype_destroy(a); tsr_datatype_destroy(e);
}

/* Small blocks in shared 64-byte windows and records inside one window (compress kernels). */
TSR_TEST(window_and_record_kernels_match_naive) {
    tsr_datatype_t *byte = T(TSR_TYPE_BYTE), *t;
    static unsigned char src[8192], a[8192], b[8192], back[8192], ref[8192];
    for (int i = 0; i < 8192; i++) src[i] = (unsigned char)(i * 13 + 1);
    TSR_FOR_EACH_ISA(isa) {
        for (int64_t B = 1; B <= 16; B *= 2)
            for (int64_t s = B + 1; s <= 32; s++) {
                int64_t m = 8000 / s - 1;
                CHECK_OK(tsr_datatype_vector(m, B, s, byte, &t));
                CHECK_OK(tsr_datatype_commit(t));
                int64_t p1 = 0, p2 = 0, p3 = 0;
                CHECK_OK(tsr_datatype_pack(NULL, src, 1, t, a, sizeof a, &p1));
                CHECK_OK(tsr_datatype_pack_naive(src, 1, t, b, sizeof b, &p2));
                CHECK(p1 == p2 && memcmp(a, b, (size_t)p1) == 0);
                memset(back, 0, sizeof back);
                memset(ref, 0, sizeof ref);
                CHECK_OK(tsr_datatype_unpack(NULL, a, p1, &p3, back, 1, t));
                p3 = 0;
                CHECK_OK(tsr_datatype_unpack_naive(a, p1, &p3, ref, 1, t));
                CHECK(memcmp(back, ref, sizeof back) == 0);
                tsr_datatype_destroy(t);
            }
        /* records: {int at 0, double[3] at 8, char at 32} resized to 40, and a 64-byte-span record */
        tsr_datatype_t *i32 = T(TSR_TYPE_INT32), *dbl = T(TSR_TYPE_DOUBLE), *chr = T(TSR_TYPE_CHAR), *s1, *rec;
        int64_t sbl[3] = {1, 3, 1}, sd[3] = {0, 8, 32}, bl2[2] = {3, 10}, d2[2] = {1, 54};
        tsr_datatype_t *st3[3] = {i32, dbl, chr};
        for (int v = 0; v < 2; v++) {
            if (v == 0) { tsr_datatype_struct(3, sbl, sd, st3, &s1); tsr_datatype_resized(s1, 0, 40, &rec); }
            else { tsr_datatype_hindexed(2, bl2, d2, byte, &s1); tsr_datatype_resized(s1, 0, 70, &rec); }
            tsr_datatype_commit(rec);
            int64_t p1 = 0, p2 = 0, p3 = 0, n = 100;
            CHECK_OK(tsr_datatype_pack(NULL, src, n, rec, a, sizeof a, &p1));
            CHECK_OK(tsr_datatype_pack_naive(src, n, rec, b, sizeof b, &p2));
            CHECK(p1 == p2 && memcmp(a, b, (size_t)p1) == 0);
            memset(back, 0, sizeof back);
            memset(ref, 0, sizeof ref);
            CHECK_OK(tsr_datatype_unpack(NULL, a, p1, &p3, back, n, rec));
            p3 = 0;
            CHECK_OK(tsr_datatype_unpack_naive(a, p1, &p3, ref, n, rec));
            CHECK(memcmp(back, ref, sizeof back) == 0);
            tsr_datatype_destroy(s1); tsr_datatype_destroy(rec);
        }
    }
}

/*
 * A vector of m blocks of B bytes at stride s whose last block ends at `guard` (an unreadable
 * page): the pack equals the naive walker's (no kernel reads past the type's last byte, or it
 * would fault), and unpacking into poisoned memory writes what the naive walker writes and
 * leaves the gaps poisoned. Skipped (returns) when the vector does not fit in `span` bytes.
 */
static void check_vector_at_guard(char *guard, size_t span, int64_t B, int64_t s, int64_t m) {
    static unsigned char a[16384], b[16384];
    int64_t bytes = (m - 1) * s + B;
    if ((size_t)bytes > span || (size_t)(m * B) > sizeof a) return;
    char *mem = guard - bytes;
    for (int64_t i = 0; i < bytes; i++) mem[i] = (char)(i * 29 + B + s);
    tsr_datatype_t *t;
    CHECK_OK(tsr_datatype_vector(m, B, s, T(TSR_TYPE_BYTE), &t));
    CHECK_OK(tsr_datatype_commit(t));
    int64_t p1 = 0, p2 = 0, p3 = 0;
    CHECK_OK(tsr_datatype_pack(NULL, mem, 1, t, a, sizeof a, &p1));
    CHECK_OK(tsr_datatype_pack_naive(mem, 1, t, b, sizeof b, &p2));
    CHECK(p1 == p2 && p1 == m * B && memcmp(a, b, (size_t)p1) == 0);
    unsigned char *got = malloc((size_t)bytes), *want = malloc((size_t)bytes);
    memset(mem, 0x5a, (size_t)bytes);
    CHECK_OK(tsr_datatype_unpack(NULL, a, p1, &p3, mem, 1, t));
    memcpy(got, mem, (size_t)bytes);
    memset(mem, 0x5a, (size_t)bytes);
    p3 = 0;
    CHECK_OK(tsr_datatype_unpack_naive(a, p1, &p3, mem, 1, t));
    memcpy(want, mem, (size_t)bytes);
    CHECK(memcmp(got, want, (size_t)bytes) == 0);
    free(got); free(want);
    tsr_datatype_destroy(t);
}

/* `pages` readable pages followed by an unreadable one; the guard is at the returned + span. */
static char *guarded_region(size_t pages, size_t *span) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    *span = pages * page;
    char *region = mmap(NULL, *span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED);
    if (region == MAP_FAILED) return NULL;
    CHECK(mprotect(region + *span, page, PROT_NONE) == 0);
    return region;
}

/* 8/16/32-byte blocks at strides that are multiples of 8 (the qword-permute kernels). */
TSR_TEST(qword_permute_kernels_match_naive_and_stay_in_bounds) {
    size_t span;
    char *region = guarded_region(4, &span);
    if (!region) return;
    TSR_FOR_EACH_ISA(isa) {
        for (int64_t B = 8; B <= 32; B *= 2)
            for (int64_t s = B + 8; s <= 136; s += 8)
                for (int64_t m = 1; m <= 70; m += 23) check_vector_at_guard(region + span, span, B, s, m);
    }
    munmap(region, span + (size_t)sysconf(_SC_PAGESIZE));
}

/* 16/32-byte blocks gathered as 128/256-bit lanes into 64-byte stores (AVX-512 pack): odd,
 * far (prefetched) and negative strides, block counts around the 4- and 2-block groups. */
TSR_TEST(lane_gather_kernels_match_naive_at_any_stride) {
    static unsigned char buf[1 << 20], a[1 << 16], b[1 << 16];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 31 + 7);
    const char *mid = (const char *)buf + sizeof buf / 2;
    const int64_t strides[] = {17, 33, 40, 47, 64, 2064, -32, -35, -2064};
    const int64_t counts[] = {1, 2, 3, 4, 5, 7, 63, 64, 250};
    TSR_FOR_EACH_ISA(isa) {
        for (int64_t B = 16; B <= 32; B *= 2)
            for (size_t si = 0; si < sizeof strides / sizeof *strides; si++)
                for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++) {
                    const int64_t s = strides[si], m = counts[ci];
                    if (s > -B && s < B) continue;
                    tsr_datatype_t *t;
                    CHECK_OK(tsr_datatype_hvector(m, B, s, T(TSR_TYPE_BYTE), &t));
                    CHECK_OK(tsr_datatype_commit(t));
                    int64_t p1 = 0, p2 = 0;
                    CHECK_OK(tsr_datatype_pack(NULL, mid, 1, t, a, sizeof a, &p1));
                    CHECK_OK(tsr_datatype_pack_naive(mid, 1, t, b, sizeof b, &p2));
                    CHECK(p1 == p2 && p1 == m * B && memcmp(a, b, (size_t)p1) == 0);
                    tsr_datatype_destroy(t);
                }
    }
}

/* Blocks of 9..64 bytes (two overlapping unmasked moves on AVX-512) at near, odd and far
 * (prefetched) strides. */
TSR_TEST(two_move_blocks_match_naive_and_stay_in_bounds) {
    size_t span;
    char *region = guarded_region(16, &span);
    if (!region) return;
    const int64_t blocks[] = {9, 12, 15, 17, 24, 31, 33, 40, 48, 63, 64};
    const int64_t gaps[] = {0, 1, 7, 72, 200, 2048};
    TSR_FOR_EACH_ISA(isa) {
        for (size_t bi = 0; bi < sizeof blocks / sizeof *blocks; bi++)
            for (size_t gi = 0; gi < sizeof gaps / sizeof *gaps; gi++)
                for (int64_t m = 1; m <= 61; m += 20)
                    check_vector_at_guard(region + span, span, blocks[bi], blocks[bi] + gaps[gi], m);
    }
    munmap(region, span + (size_t)sysconf(_SC_PAGESIZE));
}

/* Streaming stores (runs of >= TESSERA_DATATYPE_STREAM_BYTES packed bytes, here every run of
 * 64 KiB or more): 8/16/32-byte blocks at near, odd, far and negative strides, block counts
 * that leave tails, written at destination offsets 0..72 (so the aligned part starts after a
 * head of single blocks, or never): the same bytes as the naive packer on every ISA, and the
 * bytes around the packed range untouched. */
TSR_TEST(streaming_store_packs_match_naive) {
    setenv("TESSERA_DATATYPE_STREAM_BYTES", "1", 1);
    const int64_t strides[] = {16, 24, 40, 47, 520, -32, -520};
    const int64_t counts[] = {8195, 4099};
    const int64_t offs[] = {0, 8, 16, 24, 72, 1, 13};
    const size_t span = (size_t)16400 * 530 * 2;
    char *buf = malloc(span);
    unsigned char *a = malloc((1 << 18) + 256), *b = malloc((1 << 18) + 256);
    CHECK(buf && a && b);
    if (!buf || !a || !b) { free(buf); free(a); free(b); unsetenv("TESSERA_DATATYPE_STREAM_BYTES"); return; }
    for (size_t i = 0; i < span; i++) buf[i] = (char)(i * 131 + 17);
    const char *mid = buf + span / 2;
    TSR_FOR_EACH_ISA(isa) {
        for (int64_t B = 8; B <= 32; B *= 2)
            for (size_t si = 0; si < sizeof strides / sizeof *strides; si++)
                for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++) {
                    const int64_t s = strides[si], m = counts[ci] * 16 / B;
                    if (s > -B && s < B) continue;
                    tsr_datatype_t *t;
                    CHECK_OK(tsr_datatype_hvector(m, B, s, T(TSR_TYPE_BYTE), &t));
                    CHECK_OK(tsr_datatype_commit(t));
                    for (size_t oi = 0; oi < sizeof offs / sizeof *offs; oi++) {
                        memset(a, 0xa5, (1 << 18) + 256);
                        memset(b, 0xa5, (1 << 18) + 256);
                        int64_t p1 = offs[oi], p2 = offs[oi];
                        CHECK_OK(tsr_datatype_pack(NULL, mid, 1, t, a, (1 << 18) + 256, &p1));
                        CHECK_OK(tsr_datatype_pack_naive(mid, 1, t, b, (1 << 18) + 256, &p2));
                        CHECK(p1 == p2 && p1 == offs[oi] + m * B && memcmp(a, b, (1 << 18) + 256) == 0);
                    }
                    tsr_datatype_destroy(t);
                }
    }
    free(a); free(b);
    /* split over a 2-worker pool (each worker streams its 64-byte-aligned slice, then fences) */
    tsr_pool_params pp;
    tsr_pool_params_default(&pp);
    pp.n_threads = 2;
    tsr_pool_t *pool = NULL;
    CHECK_OK(tsr_pool_create(&pp, &pool));
    setenv("TESSERA_DATATYPE_SPLIT_BYTES", "0", 1);
    const size_t cap = (size_t)20483 * 16 + 256;
    a = malloc(cap);
    b = malloc(cap);
    CHECK(a && b);
    const int64_t far[] = {40, -520};
    TSR_FOR_EACH_ISA(isa) {
        for (int64_t B = 8; B <= 32 && a && b; B *= 2)
            for (size_t si = 0; si < 2; si++) {
                const int64_t s = far[si], m = 20483 * 16 / B;
                if (m * (s < 0 ? -s : s) > (int64_t)(span / 2)) continue;
                tsr_datatype_t *t;
                CHECK_OK(tsr_datatype_hvector(m, B, s, T(TSR_TYPE_BYTE), &t));
                CHECK_OK(tsr_datatype_commit(t));
                for (int64_t off = 0; off <= 24; off += 24) {
                    memset(a, 0xa5, cap);
                    memset(b, 0xa5, cap);
                    int64_t p1 = off, p2 = off;
                    CHECK_OK(tsr_datatype_pack(pool, mid, 1, t, a, (int64_t)cap, &p1));
                    CHECK_OK(tsr_datatype_pack_naive(mid, 1, t, b, (int64_t)cap, &p2));
                    CHECK(p1 == p2 && p1 == off + m * B && memcmp(a, b, cap) == 0);
                }
                tsr_datatype_destroy(t);
            }
    }
    unsetenv("TESSERA_DATATYPE_SPLIT_BYTES");
    tsr_pool_destroy(pool);
    free(buf); free(a); free(b);
    unsetenv("TESSERA_DATATYPE_STREAM_BYTES");
}

/* ---- hardening: empty subtrees, deep DAGs, overflowing bounds --------------------------------- */

static void deadline_hit(int sig) {
    static const char msg[] = "  timed out: a walker ran away\n";
    (void)sig;
    if (write(1, msg, sizeof msg - 1) < 0) {}
    _exit(1);
}

/* Kills the program after `s` seconds: the code under test would otherwise hang (alarm(0) ends it). */
static void deadline(unsigned s) {
    signal(SIGALRM, deadline_hit);
    alarm(s);
}

TSR_TEST(empty_subtrees_cost_nothing) {
    deadline(30);
    tsr_datatype_t *byte = T(TSR_TYPE_BYTE), *dbl = T(TSR_TYPE_DOUBLE), *z, *zz, *s;
    CHECK_OK(tsr_datatype_contiguous(0, byte, &z));                   /* size 0, extent 0 */
    CHECK_OK(tsr_datatype_hvector(1ll << 40, 1ll << 20, 0, z, &zz));  /* 2^60 empty children */
    /* the 24-byte type: a double, 2^40 empty blocks (and 2^31 of zz), two doubles */
    int64_t bl[4] = {1, 1ll << 40, 1ll << 31, 2}, d[4] = {0, 8, 8, 8}, size, ext, pos;
    tsr_datatype_t *ts[4] = {dbl, z, zz, dbl};
    CHECK_OK(tsr_datatype_struct(4, bl, d, ts, &s));
    tsr_datatype_size(s, &size);
    tsr_datatype_extent(s, NULL, &ext);
    CHECK(size == 24 && ext == 24);
    CHECK_OK(tsr_datatype_commit(s));
    double src[3] = {1, 2, 3}, out[3] = {0}, back[3] = {0};
    pos = 0;
    CHECK_OK(tsr_datatype_pack_naive(src, 1, s, out, sizeof out, &pos));
    CHECK(pos == 24 && out[0] == 1 && out[1] == 2 && out[2] == 3);
    pos = 0;
    CHECK_OK(tsr_datatype_unpack_naive(out, sizeof out, &pos, back, 1, s));
    CHECK(back[2] == 3);
    memset(out, 0, sizeof out);
    pos = 0;
    CHECK_OK(tsr_datatype_pack(NULL, src, 1, s, out, sizeof out, &pos));
    CHECK(pos == 24 && out[1] == 2);

    /* a 1-byte struct listing 2^18 empty blocks, 2^16 times in a row: the walk visits 2^16 blocks */
    const int64_t nb = 1 << 18, reps = 1 << 16;
    int64_t *bls = malloc(sizeof(int64_t) * nb), *ds = calloc((size_t)nb, sizeof(int64_t));
    tsr_datatype_t **tts = malloc(sizeof *tts * nb), *one, *row;
    for (int64_t i = 0; i < nb; i++) { bls[i] = 1; tts[i] = z; }
    tts[nb / 2] = byte;
    CHECK_OK(tsr_datatype_struct(nb, bls, ds, tts, &one));
    CHECK_OK(tsr_datatype_contiguous(reps, one, &row));
    CHECK_OK(tsr_datatype_commit(row));
    unsigned char *in = malloc(reps), *p1 = malloc(reps), *p2 = malloc(reps);
    for (int64_t i = 0; i < reps; i++) in[i] = (unsigned char)(i * 7);
    int64_t q1 = 0, q2 = 0;
    CHECK_OK(tsr_datatype_pack(NULL, in, 1, row, p1, reps, &q1));
    CHECK_OK(tsr_datatype_pack_naive(in, 1, row, p2, reps, &q2));
    CHECK(q1 == reps && q2 == reps && memcmp(p1, in, (size_t)reps) == 0 && memcmp(p2, in, (size_t)reps) == 0);
    free(bls); free(ds); free(tts); free(in); free(p1); free(p2);

    /* GENERAL (over 2^22 segments) followed by 2^40 empty blocks: pack walks the tree */
    tsr_datatype_t *h, *g;
    const int64_t hn = (1 << 22) + 1;
    CHECK_OK(tsr_datatype_hvector(hn, 1, 2, byte, &h));
    int64_t gbl[2] = {1, 1ll << 40}, gd[2] = {0, 0};
    tsr_datatype_t *gts[2] = {h, z};
    CHECK_OK(tsr_datatype_struct(2, gbl, gd, gts, &g));
    CHECK_OK(tsr_datatype_commit(g));
    tsr_canon_info ci = {.size = sizeof ci};
    CHECK_OK(tsr_datatype_canon_info_get(g, &ci));
    CHECK(ci.kind == TSR_CANON_GENERAL);
    unsigned char *gsrc = malloc(2 * (size_t)hn), *g1 = malloc((size_t)hn), *g2 = malloc((size_t)hn), tail[100];
    for (int64_t i = 0; i < 2 * hn; i++) gsrc[i] = (unsigned char)(i / 2 + i);
    tsr_pool_t *pool = tsr_test_pool(2);
    q1 = 0; q2 = 0;
    CHECK_OK(tsr_datatype_pack(pool, gsrc, 1, g, g1, hn, &q1));
    CHECK_OK(tsr_datatype_pack_naive(gsrc, 1, g, g2, hn, &q2));
    int same = q1 == hn && q2 == hn;
    for (int64_t i = 0; i < hn && same; i++) same = g1[i] == gsrc[2 * i] && g2[i] == g1[i];
    CHECK(same);
    CHECK_OK(tsr_datatype_pack_range(NULL, gsrc, 1, g, hn - 100, 100, tail));
    CHECK(memcmp(tail, g1 + hn - 100, 100) == 0);
    tsr_pool_destroy(pool);
    free(gsrc); free(g1); free(g2);
    tsr_datatype_destroy(z); tsr_datatype_destroy(zz); tsr_datatype_destroy(s); tsr_datatype_destroy(one);
    tsr_datatype_destroy(row); tsr_datatype_destroy(h); tsr_datatype_destroy(g);
    alarm(0);
}

TSR_TEST(commit_and_describe_are_bounded) {
    deadline(30);
    /* T_k = struct{T_{k-1}, byte, T_{k-1}}: 3 blocks per level but 2^k paths to the bottom */
    tsr_datatype_t *byte = T(TSR_TYPE_BYTE), *t = byte;
    for (int k = 1; k <= 48; k++) {
        int64_t e, bl[3] = {1, 1, 1};
        tsr_datatype_extent(t, NULL, &e);
        int64_t d[3] = {0, e, e + 1};
        tsr_datatype_t *ts[3] = {t, byte, t}, *n = NULL;
        CHECK_OK(tsr_datatype_struct(3, bl, d, ts, &n));
        if (t != byte) tsr_datatype_destroy(t);
        t = n;
    }
    CHECK_OK(tsr_datatype_commit(t));
    tsr_canon_info ci = {.size = sizeof ci};
    CHECK_OK(tsr_datatype_canon_info_get(t, &ci));
    CHECK(ci.type_size == (1ll << 49) - 1);
    CHECK(ci.kind == TSR_CANON_STRIDED && ci.ndims == 0 && ci.block_bytes == ci.type_size);
    unsigned char src[64], out[64];
    for (int i = 0; i < 64; i++) src[i] = (unsigned char)(3 * i + 1);
    CHECK_OK(tsr_datatype_pack_range(NULL, src, 1, t, 0, 64, out));
    CHECK(memcmp(src, out, 64) == 0);
    tsr_datatype_destroy(t);
    /* n - 1 evenly spaced bytes and one more, n = 720720 (240 divisors), under 1022 wrappers:
     * each wrapper would test the 240 candidate periods again; commit stops flattening instead */
    const int64_t n = 720720;
    int64_t xbl[2] = {1, 1}, xd[2] = {0, 2 * n + 5};
    tsr_datatype_t *a, *x, *w = NULL;
    CHECK_OK(tsr_datatype_hvector(n - 1, 1, 2, byte, &a));
    tsr_datatype_t *xt[2] = {a, byte};
    CHECK_OK(tsr_datatype_struct(2, xbl, xd, xt, &x));
    tsr_datatype_destroy(a);
    while (tsr_datatype_contiguous(1, x, &w) == TSR_OK) { tsr_datatype_destroy(x); x = w; }
    CHECK_OK(tsr_datatype_commit(x));
    unsigned char *mem = calloc((size_t)(2 * n + 6), 1), last[3];
    mem[2 * (n - 3)] = 1; mem[2 * (n - 2)] = 2; mem[2 * n + 5] = 3;
    CHECK_OK(tsr_datatype_pack_range(NULL, mem, 1, x, n - 3, 3, last));
    CHECK(last[0] == 1 && last[1] == 2 && last[2] == 3);
    free(mem);
    tsr_datatype_destroy(x);
    /* U_k = struct of 8 copies of U_{k-1}: describe must not spell out 8^k paths */
    tsr_datatype_t *u = byte;
    for (int k = 1; k <= 12; k++) {
        int64_t e, bl[8], d[8];
        tsr_datatype_extent(u, NULL, &e);
        tsr_datatype_t *us[8], *n = NULL;
        for (int i = 0; i < 8; i++) { bl[i] = 1; d[i] = i * e; us[i] = u; }
        CHECK_OK(tsr_datatype_struct(8, bl, d, us, &n));
        if (u != byte) tsr_datatype_destroy(u);
        u = n;
    }
    char buf[128];
    size_t need = 0;
    CHECK_OK(tsr_datatype_describe(u, buf, sizeof buf, &need));
    CHECK_MSG(need < 8192 && strncmp(buf, "uncommitted struct(8: ", 22) == 0, "%zu: %s", need, buf);
    tsr_datatype_destroy(u);
    alarm(0);
}

TSR_TEST(nesting_depth_is_bounded) {
    /* every walker recurses per level: a chain of 100000 types would overflow the stack */
    tsr_datatype_t *i32 = T(TSR_TYPE_INT32), *t = i32;
    tsr_status st = TSR_OK;
    int depth = 0;
    while (st == TSR_OK && depth < 100000) {
        tsr_datatype_t *n = NULL;
        st = depth % 2 ? tsr_datatype_contiguous(1, t, &n) : tsr_datatype_dup(t, &n);
        if (st != TSR_OK) break;
        if (t != i32) tsr_datatype_destroy(t);
        t = n;
        depth++;
    }
    CHECK_MSG(st == TSR_ERANGE && strstr(tsr_last_error(), "deep") != NULL, "depth %d: %s (%s)", depth,
              tsr_status_string(st), tsr_last_error());
    CHECK(depth == 1024);
    int64_t one = 1, zero = 0;
    tsr_datatype_t *n = NULL;
    CHECK_STATUS(tsr_datatype_hindexed(1, &one, &zero, t, &n), TSR_ERANGE);
    CHECK_STATUS(tsr_datatype_resized(t, 0, 4, &n), TSR_ERANGE);
    CHECK(n == NULL);
    /* the deepest type accepted works with every walker */
    CHECK_OK(tsr_datatype_commit(t));
    int32_t v = 42, out = 0;
    int64_t pos = 0;
    CHECK_OK(tsr_datatype_pack_naive(&v, 1, t, &out, 4, &pos));
    CHECK(out == 42);
    char buf[64];
    CHECK_OK(tsr_datatype_describe(t, buf, sizeof buf, NULL));
    tsr_datatype_destroy(t);
    /* the deepest GENERAL type, walked by the pool's workers (2^22 + 1 copies of one byte) */
    tsr_datatype_t *byte = T(TSR_TYPE_BYTE), *h;
    const int64_t hn = (1 << 22) + 1;
    CHECK_OK(tsr_datatype_hvector(hn, 1, 0, byte, &h));
    CHECK_OK(tsr_datatype_struct(1, &one, &zero, &h, &t));
    tsr_datatype_destroy(h);
    for (st = TSR_OK; st == TSR_OK;) {
        st = tsr_datatype_contiguous(1, t, &n);
        if (st == TSR_OK) { tsr_datatype_destroy(t); t = n; }
    }
    CHECK(st == TSR_ERANGE);
    CHECK_OK(tsr_datatype_commit(t));
    tsr_canon_info ci = {.size = sizeof ci};
    CHECK_OK(tsr_datatype_canon_info_get(t, &ci));
    CHECK(ci.kind == TSR_CANON_GENERAL);
    unsigned char b = 0xa5, *packed = malloc((size_t)hn);
    tsr_pool_t *pool = tsr_test_pool(2);
    pos = 0;
    CHECK_OK(tsr_datatype_pack(pool, &b, 1, t, packed, hn, &pos));
    int all = pos == hn;
    for (int64_t i = 0; i < hn && all; i++) all = packed[i] == 0xa5;
    CHECK(all);
    tsr_pool_destroy(pool);
    free(packed);
    tsr_datatype_destroy(t);
}

TSR_TEST(true_extent_must_fit_int64) {
    tsr_datatype_t *byte = T(TSR_TYPE_BYTE), *dbl = T(TSR_TYPE_DOUBLE), *x, *y, *lo, *hi, *w, *w4, *t = NULL;
    const int64_t q = 1ll << 62;
    int64_t one = 1, at, tlb, text;
    /* lo: 8 true bytes at -2^62, hi: at +2^62, both with lb 0 and extent 8 */
    at = -q;
    CHECK_OK(tsr_datatype_hindexed(1, &one, &at, dbl, &x));
    CHECK_OK(tsr_datatype_resized(x, 0, 8, &lo));
    tsr_datatype_destroy(x);
    at = q;
    CHECK_OK(tsr_datatype_hindexed(1, &one, &at, dbl, &x));
    CHECK_OK(tsr_datatype_resized(x, 0, 8, &hi));
    tsr_datatype_destroy(x);
    /* struct: the extent fits, the true extent (from -2^62 - 2^61 to 2^62 + 2^61 + 8) does not */
    int64_t bl2[2] = {1, 1}, d2[2] = {-(q / 2), q / 2};
    tsr_datatype_t *ts[2] = {lo, hi};
    CHECK_STATUS(tsr_datatype_struct(2, bl2, d2, ts, &t), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "tsr_datatype_struct") && strstr(tsr_last_error(), "true extent"));
    if (t) { tsr_datatype_true_extent(t, &tlb, &text); CHECK(text >= 0); tsr_datatype_destroy(t); t = NULL; }
    /* hvector: w spans [-2^62, 8); two copies 2^62 apart span 2^63 + 8 */
    int64_t d0[2] = {0, 0};
    tsr_datatype_t *tw[2] = {lo, dbl};
    CHECK_OK(tsr_datatype_struct(2, bl2, d0, tw, &w));
    CHECK_OK(tsr_datatype_true_extent(w, &tlb, &text));
    CHECK(tlb == -q && text == q + 8);
    CHECK_STATUS(tsr_datatype_hvector(2, 1, q, w, &t), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "tsr_datatype_hvector") && strstr(tsr_last_error(), "true extent"));
    if (t) { tsr_datatype_true_extent(t, &tlb, &text); CHECK(text >= 0); tsr_datatype_destroy(t); t = NULL; }
    /* subarray: w4 spans [-(2^62 + 2^61), 1) with extent 1; corners 2^61 apart overflow */
    at = -(q + q / 2);
    CHECK_OK(tsr_datatype_hindexed(1, &one, &at, byte, &x));
    tsr_datatype_t *tx[2] = {x, byte};
    CHECK_OK(tsr_datatype_struct(2, bl2, d0, tx, &y));
    CHECK_OK(tsr_datatype_resized(y, 0, 1, &w4));
    tsr_datatype_destroy(y);
    int64_t sizes[2] = {2, 1ll << 61}, subs[2] = {2, 1}, starts[2] = {0, 0};
    CHECK_STATUS(tsr_datatype_subarray(2, sizes, subs, starts, TSR_ORDER_C, w4, &t), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "tsr_datatype_subarray") && strstr(tsr_last_error(), "true extent"));
    if (t) { tsr_datatype_true_extent(t, &tlb, &text); CHECK(text >= 0); tsr_datatype_destroy(t); t = NULL; }
    tsr_datatype_destroy(x); tsr_datatype_destroy(lo); tsr_datatype_destroy(hi); tsr_datatype_destroy(w); tsr_datatype_destroy(w4);
    /* pack: elements one extent apart whose span passes int64 are refused, not wrapped */
    tsr_datatype_t *far;
    CHECK_OK(tsr_datatype_resized(dbl, 0, q, &far));
    CHECK_OK(tsr_datatype_commit(far));
    double src[4] = {0}, out[4];
    int64_t pos = 0;
    CHECK_STATUS(tsr_datatype_pack(NULL, src, 4, far, out, sizeof out, &pos), TSR_ERANGE);
    CHECK_STATUS(tsr_datatype_pack_naive(src, 4, far, out, sizeof out, &pos), TSR_ERANGE);
    CHECK_STATUS(tsr_datatype_unpack(NULL, out, sizeof out, &pos, src, 4, far), TSR_ERANGE);
    CHECK_STATUS(tsr_datatype_pack_range(NULL, src, 4, far, 0, 8, out), TSR_ERANGE);
    CHECK(pos == 0);
    tsr_datatype_destroy(far);
}

/*
 * Partial walks of the GENERAL path skip whole children before the range: random trees X
 * inside a GENERAL struct {X, H} (H: 2^22 + 1 one-byte segments, all on one byte); packed
 * ranges inside X's part of each element must match the oracle.
 */
TSR_TEST(fuzz_general_partial_walks) {
    tsr_datatype_t *byte = T(TSR_TYPE_BYTE), *h;
    CHECK_OK(tsr_datatype_hvector((1 << 22) + 1, 1, 0, byte, &h));
    int rounds = tsr_test_quick() ? 60 : 300, fails = 0;
    for (int r = 0; r < rounds && fails < 5; r++) {
        node *nd = random_node((int)rnd(1, 5));
        leaves L = {0};
        typemap(nd, 0, &L);
        if (nd->size == 0) { free_node(nd, 1); free(L.v); continue; }
        int64_t mn = L.v[0].off;
        for (int64_t i = 0; i < L.n; i++) if (L.v[i].off < mn) mn = L.v[i].off;
        int64_t bl[2] = {1, 1}, d[2] = {0, mn}, gext, gsize, incount = rnd(1, 3), lo = 0, hi = 0;
        tsr_datatype_t *ts[2] = {nd->t, h}, *g;
        CHECK_OK(tsr_datatype_struct(2, bl, d, ts, &g));
        CHECK_OK(tsr_datatype_commit(g));
        tsr_canon_info ci = {.size = sizeof ci};
        CHECK_OK(tsr_datatype_canon_info_get(g, &ci));
        CHECK(ci.kind == TSR_CANON_GENERAL);
        tsr_datatype_extent(g, NULL, &gext);
        tsr_datatype_size(g, &gsize);
        for (int64_t e = 0; e < incount; e++)
            for (int64_t i = 0; i < L.n; i++) {
                int64_t a = e * gext + L.v[i].off, b = a + L.v[i].len;
                if (a < lo) lo = a;
                if (b > hi) hi = b;
            }
        char *buf = malloc((size_t)(hi - lo)), *mem = buf - lo;
        for (int64_t i = 0; i < hi - lo; i++) buf[i] = (char)(tsr_test_rng_next(&rng) >> 33);
        char *want = malloc((size_t)(nd->size * incount)), *got = calloc((size_t)(nd->size * incount), 1);
        oracle_pack(&L, gext, mem, incount, want);
        for (int64_t e = 0; e < incount; e++)
            for (int64_t at = 0; at < nd->size;) {
                int64_t n = rnd(1, nd->size - at < 29 ? nd->size - at : 29);
                CHECK_OK(tsr_datatype_pack_range(NULL, mem, incount, g, e * gsize + at, n, got + e * nd->size + at));
                at += n;
            }
        if (memcmp(want, got, (size_t)(nd->size * incount)) != 0) {
            char desc[512];
            tsr_datatype_describe(nd->t, desc, sizeof desc, NULL);
            printf("  partial walk mismatch, incount %lld: %s\n", (long long)incount, desc);
            fails++;
        }
        free(buf); free(want); free(got); free(L.v);
        tsr_datatype_destroy(g);
        free_node(nd, 1);
    }
    tsr_datatype_destroy(h);
    CHECK(fails == 0);
}

int main(void) {
    RUN(bounds_and_queries);
    RUN(canonical_equivalence);
    RUN(refcount_keeps_children_alive);
    RUN(bad_input);
    RUN(large_segment_lists_and_empty);
    RUN(window_and_record_kernels_match_naive);
    RUN(qword_permute_kernels_match_naive_and_stay_in_bounds);
    RUN(two_move_blocks_match_naive_and_stay_in_bounds);
    RUN(streaming_store_packs_match_naive);
    RUN(lane_gather_kernels_match_naive_at_any_stride);
    RUN(fuzz_random_trees_every_isa);
    RUN(fuzz_parallel_large);
    RUN(split_rule_sparse_face_and_dense_vector_match_naive);
    RUN(empty_subtrees_cost_nothing);
    RUN(commit_and_describe_are_bounded);
    RUN(nesting_depth_is_bounded);
    RUN(true_extent_must_fit_int64);
    RUN(fuzz_general_partial_walks);
    return tsr_test_summary();
}
