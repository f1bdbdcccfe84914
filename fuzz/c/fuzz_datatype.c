/*
 * fuzz_datatype.c — derived datatypes: the input is a small program of constructor
 * calls (any argument may be extreme: counts of 2^32, INT64_MAX displacements, negative
 * extents), then the last type built is committed, queried and packed.
 *
 * Properties checked:
 *   - constructors and commit either succeed or fail with a status and a message;
 *   - queries agree with each other (canonical info vs size/extent/true extent);
 *     true_extent >= 0, and a type with data touches at least one byte;
 *   - tsr_datatype_pack equals tsr_datatype_pack_naive byte for byte (same status,
 *     same position, nothing written outside [position, position + size));
 *   - two partial packs (pack_range) concatenate to the full pack;
 *   - unpack equals unpack_naive (for types that do not overlap themselves);
 *   - a dup has the same layout;
 *   - every byte pack reads lies inside [true_lb, true_lb + true_extent) of each
 *     element: the memory given to pack is exactly that span, so ASan reports any
 *     read outside it.
 * Packing runs only for types whose packed size and memory span are small (64 KiB /
 * 4 MiB) and whose offsets stay within 2^40 of the buffer; commit and the queries
 * run on every type.
 *
 * Program encoding: repeated [op byte] [arguments]; op % 14 selects
 *   0 named(kind)  1 contiguous  2 vector  3 hvector  4 indexed  5 hindexed
 *   6 indexed_block  7 hindexed_block  8 struct  9 subarray  10 resized  11 dup
 *   12 destroy a built type  13 commit a built type
 * A type argument is one byte: high bit set (or nothing built yet) = named type
 * (byte % 15), else built type (byte % count). Counts and values use fz_i64.
 * After the program: incount (byte % 4), position (byte % 8), range split (byte).
 */
#include "fuzz_common.h"

#define MAXT 12
#define MAXN 6               /* entries of the array arguments */
#define PACK_MAX (64 << 10)  /* packed bytes */
#define SPAN_MAX (4 << 20)   /* memory bytes */
#define OFF_MAX ((int64_t)1 << 40)

typedef struct prog {
    tsr_datatype_t *t[MAXT];
    int n;
} prog;

static tsr_datatype_t *pick(fz_in *in, prog *p) {
    uint8_t b = fz_u8(in);
    if (p->n == 0 || (b & 0x80)) {
        tsr_datatype_t *nt = NULL;
        tsr_status st = tsr_datatype_named((tsr_named_type)(b % TSR_TYPE_NAMED_COUNT), &nt);
        FZ_CHECK(st == TSR_OK && nt, "named type %d", b % TSR_TYPE_NAMED_COUNT);
        return nt;
    }
    return p->t[(b & 0x7f) % p->n];
}

static void keep(prog *p, tsr_status st, tsr_datatype_t *t) {
    FZ_CHECK_ERROR(st);
    if (st != TSR_OK) return;
    FZ_CHECK(t != NULL && tsr_datatype_is_valid(t), "constructor returned TSR_OK without a live handle");
    if (p->n < MAXT) p->t[p->n++] = t;
    else FZ_CHECK(tsr_datatype_destroy(t) == TSR_OK, "free of a new type");
}

static void run_op(fz_in *in, prog *p) {
    uint8_t op = fz_u8(in) % 14;
    tsr_datatype_t *out = NULL, *old, *types[MAXN];
    int64_t a[40], b[40], c[40];
    tsr_status st;
    memset(a, 0, sizeof a); memset(b, 0, sizeof b); memset(c, 0, sizeof c);
    switch (op) {
    case 0: {
        int kind = (int)fz_i64(in);  /* out-of-range kinds must be refused */
        st = tsr_datatype_named((tsr_named_type)kind, &out);
        if (kind < 0 || kind >= TSR_TYPE_NAMED_COUNT) FZ_CHECK(st == TSR_EINVAL, "named(%d) accepted", kind);
        FZ_CHECK_ERROR(st);
        if (st == TSR_OK) keep(p, st, out);
        return;
    }
    case 1: {
        int64_t count = fz_i64(in);
        old = pick(in, p);
        st = tsr_datatype_contiguous(count, old, &out);
        if (count < 0) FZ_CHECK(st != TSR_OK, "contiguous(%lld) accepted", (long long)count);
        keep(p, st, out);
        return;
    }
    case 2:
    case 3: {
        int64_t count = fz_i64(in), bl = fz_i64(in), stride = fz_i64(in);
        old = pick(in, p);
        st = op == 2 ? tsr_datatype_vector(count, bl, stride, old, &out)
                     : tsr_datatype_hvector(count, bl, stride, old, &out);
        if (count < 0 || bl < 0) FZ_CHECK(st != TSR_OK, "vector with count %lld blocklen %lld accepted",
                                          (long long)count, (long long)bl);
        keep(p, st, out);
        return;
    }
    case 4:
    case 5:
    case 6:
    case 7: {
        int64_t n = fz_u8(in) % (MAXN + 1);
        for (int64_t i = 0; i < n; i++) { a[i] = fz_i64(in); b[i] = fz_i64(in); }
        int64_t bl = fz_i64(in);
        old = pick(in, p);
        if (op == 4) st = tsr_datatype_indexed(n, a, b, old, &out);
        else if (op == 5) st = tsr_datatype_hindexed(n, a, b, old, &out);
        else if (op == 6) st = tsr_datatype_indexed_block(n, bl, b, old, &out);
        else st = tsr_datatype_hindexed_block(n, bl, b, old, &out);
        keep(p, st, out);
        return;
    }
    case 8: {
        int64_t n = fz_u8(in) % (MAXN + 1);
        for (int64_t i = 0; i < n; i++) { a[i] = fz_i64(in); b[i] = fz_i64(in); types[i] = pick(in, p); }
        st = tsr_datatype_struct(n, a, b, types, &out);
        keep(p, st, out);
        return;
    }
    case 9: {
        /* ndims may be out of range (0, 33, -1): the arrays always hold 40 entries */
        static const int32_t dims[8] = {1, 2, 3, 1, 2, 0, 33, -1};
        int32_t nd = dims[fz_u8(in) % 8];
        for (int i = 0; i < 3; i++) { a[i] = fz_i64(in); b[i] = fz_i64(in); c[i] = fz_i64(in); }
        for (int i = 3; i < 40; i++) { a[i] = 1; b[i] = 1; c[i] = 0; }
        tsr_order order = (tsr_order)(fz_u8(in) % 3);  /* 2 is not an order */
        old = pick(in, p);
        st = tsr_datatype_subarray(nd, a, b, c, order, old, &out);
        if (nd < 1 || nd > 32 || order >= TSR_ORDER_COUNT) FZ_CHECK(st != TSR_OK, "subarray ndims %d order %d accepted", nd, (int)order);
        keep(p, st, out);
        return;
    }
    case 10: {
        int64_t lb = fz_i64(in), ext = fz_i64(in);
        old = pick(in, p);
        st = tsr_datatype_resized(old, lb, ext, &out);
        keep(p, st, out);
        return;
    }
    case 11:
        old = pick(in, p);
        st = tsr_datatype_dup(old, &out);
        keep(p, st, out);
        return;
    case 12: {
        if (p->n == 0) return;
        int i = fz_u8(in) % p->n;
        FZ_CHECK(tsr_datatype_destroy(p->t[i]) == TSR_OK, "free of a live type");
        /* a second free of the same handle is refused while something keeps it alive,
         * and is never a crash (the registry catches it) */
        p->t[i] = p->t[--p->n];
        return;
    }
    case 13: {
        if (p->n == 0) return;
        st = tsr_datatype_commit(p->t[fz_u8(in) % p->n]);
        FZ_CHECK_ERROR(st);
        return;
    }
    }
}

/* Signed 128-bit arithmetic for the harness's own bounds (no overflow possible). */
typedef __int128 i128;

static void check_queries(tsr_datatype_t *t, int64_t *size, int64_t *lb, int64_t *extent, int64_t *tlb,
                          int64_t *text) {
    FZ_CHECK(tsr_datatype_size(t, size) == TSR_OK, "size of a live type");
    FZ_CHECK(tsr_datatype_extent(t, lb, extent) == TSR_OK, "extent of a live type");
    FZ_CHECK(tsr_datatype_true_extent(t, tlb, text) == TSR_OK, "true extent of a live type");
    FZ_CHECK(*size >= 0, "size %lld < 0", (long long)*size);
    FZ_CHECK(*text >= 0, "true extent %lld < 0 (true lb %lld): the span overflowed", (long long)*text, (long long)*tlb);
    FZ_CHECK(*size == 0 || *text > 0, "size %lld but true extent 0", (long long)*size);
    FZ_CHECK((i128)*tlb + *text <= INT64_MAX, "true lb %lld + true extent %lld overflows", (long long)*tlb,
             (long long)*text);
    tsr_combiner comb;
    FZ_CHECK(tsr_datatype_combiner(t, &comb) == TSR_OK && (int)comb >= 0 && comb < TSR_COMBINER_COUNT, "combiner");
    size_t needed = 0;
    FZ_CHECK(tsr_datatype_describe(t, NULL, 0, &needed) == TSR_OK, "describe(NULL, 0)");
    char buf[96];
    memset(buf, 'x', sizeof buf);
    size_t needed2 = 0;
    FZ_CHECK(tsr_datatype_describe(t, buf, 64, &needed2) == TSR_OK, "describe");
    FZ_CHECK(memchr(buf, 0, 64) != NULL && buf[64] == 'x', "describe wrote past its 64-byte buffer or left it unterminated");
    FZ_CHECK(strlen(buf) == (needed2 < 64 ? needed2 : 63), "describe length %zu vs needed %zu", strlen(buf), needed2);
}

/* Fills memory with a position-dependent pattern so that misplaced bytes show. */
static void pattern(uint8_t *m, size_t n, uint32_t seed) {
    uint32_t h = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        h = h * 1103515245u + 12345u;
        m[i] = (uint8_t)(h >> 16);
    }
}

static void check_pack(fz_in *in, tsr_datatype_t *t) {
    int64_t size, lb, extent, tlb, text;
    check_queries(t, &size, &lb, &extent, &tlb, &text);
    tsr_status st = tsr_datatype_commit(t);
    FZ_CHECK_ERROR(st);
    if (st != TSR_OK) return;
    int32_t committed = 0;
    FZ_CHECK(tsr_datatype_is_committed(t, &committed) == TSR_OK && committed == 1, "commit did not stick");
    /* the queries do not change with commit */
    int64_t sz2, l2, e2, tl2, te2;
    check_queries(t, &sz2, &l2, &e2, &tl2, &te2);
    FZ_CHECK(sz2 == size && l2 == lb && e2 == extent && tl2 == tlb && te2 == text, "queries changed after commit");

    tsr_canon_info ci;
    memset(&ci, 0, sizeof ci);
    ci.size = sizeof ci;
    FZ_CHECK(tsr_datatype_canon_info_get(t, &ci) == TSR_OK, "canonical of a committed type");
    FZ_CHECK(ci.type_size == size && ci.lb == lb && ci.extent == extent && ci.true_lb == tlb &&
                 ci.true_extent == text,
             "canonical info (size %lld lb %lld extent %lld tlb %lld text %lld) disagrees with the queries "
             "(%lld %lld %lld %lld %lld)",
             (long long)ci.type_size, (long long)ci.lb, (long long)ci.extent, (long long)ci.true_lb,
             (long long)ci.true_extent, (long long)size, (long long)lb, (long long)extent, (long long)tlb,
             (long long)text);
    FZ_CHECK((int)ci.kind >= 0 && ci.kind < TSR_CANON_COUNT, "canonical kind %d", (int)ci.kind);
    FZ_CHECK((size == 0) == (ci.kind == TSR_CANON_EMPTY), "size %lld with canonical kind %d", (long long)size,
             (int)ci.kind);
    int64_t offs[16], lens[16], nseg = -1;
    FZ_CHECK(tsr_datatype_segments(t, offs, lens, 16, &nseg) == TSR_OK && nseg >= 0, "segments");

    tsr_datatype_t *dup = NULL;
    st = tsr_datatype_dup(t, &dup);
    FZ_CHECK_ERROR(st);
    if (st == TSR_OK) {
        int32_t eq = 0;
        tsr_status ls = tsr_datatype_has_same_layout(t, dup, &eq);
        char d1[256] = "", d2[256] = "";
        tsr_datatype_describe(t, d1, sizeof d1, NULL);
        tsr_datatype_describe(dup, d2, sizeof d2, NULL);
        /* GENERAL types (no listed form) compare equal only to themselves: skip those */
        FZ_CHECK(ls == TSR_OK && (eq == 1 || ci.kind == TSR_CANON_GENERAL), "a dup has a different layout (%s, equal %d):\n  type %s\n  dup  %s",
                 tsr_status_string(ls), eq, d1, d2);
        tsr_datatype_destroy(dup);
    }

    const int64_t incount = fz_u8(in) % 4;
    const int64_t pos0 = fz_u8(in) % 8;
    const uint8_t split = fz_u8(in);
    int64_t psize;
    st = tsr_datatype_pack_size(incount, t, &psize);
    FZ_CHECK_ERROR(st);
    if (st != TSR_OK) return;
    FZ_CHECK(psize == incount * size, "pack_size %lld for %lld x %lld", (long long)psize, (long long)incount,
             (long long)size);
    if (psize > PACK_MAX) return;
    /* memory touched: element e covers [e*extent + tlb, e*extent + tlb + text) */
    i128 last = (i128)(incount > 0 ? incount - 1 : 0) * extent;
    i128 lo = (last < 0 ? last : 0) + tlb, hi = (last > 0 ? last : 0) + tlb + text;
    if (size == 0) lo = hi = 0;
    if (hi - lo > SPAN_MAX || lo < -OFF_MAX || hi > OFF_MAX) return;
    size_t span = (size_t)(hi - lo);
    uint8_t *mem = malloc(span ? span : 1);
    pattern(mem, span, (uint32_t)size);
    /* the element base: integer arithmetic, so that no out-of-object pointer is formed here */
    uint8_t *base = (uint8_t *)(uintptr_t)((intptr_t)(uintptr_t)mem - (intptr_t)lo);

    const int64_t outsize = pos0 + psize + 8;
    uint8_t *o1 = malloc((size_t)outsize), *o2 = malloc((size_t)outsize);
    memset(o1, 0xA5, (size_t)outsize);
    memset(o2, 0xA5, (size_t)outsize);
    int64_t p1 = pos0, p2 = pos0;
    tsr_status s1 = tsr_datatype_pack(NULL, base, incount, t, o1, outsize, &p1);
    tsr_status s2 = tsr_datatype_pack_naive(base, incount, t, o2, outsize, &p2);
    FZ_CHECK_ERROR(s1);
    FZ_CHECK(s1 == s2, "pack %s but naive pack %s", tsr_status_string(s1), tsr_status_string(s2));
    if (s1 == TSR_OK) {
        FZ_CHECK(p1 == pos0 + psize && p2 == pos0 + psize, "positions %lld / %lld, expected %lld", (long long)p1,
                 (long long)p2, (long long)(pos0 + psize));
        for (int64_t i = 0; i < outsize; i++) {
            int inside = i >= pos0 && i < pos0 + psize;
            FZ_CHECK(o1[i] == o2[i], "pack and naive pack differ at byte %lld of %lld (incount %lld, size %lld)",
                     (long long)(i - pos0), (long long)psize, (long long)incount, (long long)size);
            FZ_CHECK(inside || o1[i] == 0xA5, "pack wrote byte %lld outside [%lld, %lld)", (long long)i,
                     (long long)pos0, (long long)(pos0 + psize));
        }
        /* two partial packs make the full one */
        if (psize > 0) {
            int64_t cut = (int64_t)split * psize / 255;
            uint8_t *part = malloc((size_t)psize);
            FZ_CHECK(tsr_datatype_pack_range(NULL, base, incount, t, 0, cut, part) == TSR_OK, "pack_range head");
            FZ_CHECK(tsr_datatype_pack_range(NULL, base, incount, t, cut, psize - cut, part + cut) == TSR_OK,
                     "pack_range tail");
            FZ_CHECK(memcmp(part, o1 + pos0, (size_t)psize) == 0, "pack_range [0,%lld)+[%lld,%lld) differs from pack",
                     (long long)cut, (long long)cut, (long long)psize);
            FZ_CHECK(tsr_datatype_pack_range(NULL, base, incount, t, cut, psize - cut + 1, part) == TSR_ERANGE,
                     "pack_range past the end accepted");
            free(part);
        }
        /* unpack: into two copies of the memory, compared with each other; skipped for
         * types whose elements overlap (MPI leaves that undefined) */
        uint8_t *m1 = malloc(span ? span : 1), *m2 = malloc(span ? span : 1);
        memset(m1, 0, span);
        uint8_t *ones = malloc((size_t)(psize ? psize : 1));
        memset(ones, 0xFF, (size_t)psize);
        int64_t q = 0;
        uint8_t *b1 = (uint8_t *)(uintptr_t)((intptr_t)(uintptr_t)m1 - (intptr_t)lo);
        uint8_t *b2 = (uint8_t *)(uintptr_t)((intptr_t)(uintptr_t)m2 - (intptr_t)lo);
        FZ_CHECK(tsr_datatype_unpack_naive(ones, psize, &q, b1, incount, t) == TSR_OK && q == psize, "naive unpack");
        size_t covered = 0;
        for (size_t i = 0; i < span; i++) covered += m1[i] == 0xFF;
        if ((int64_t)covered == psize) {
            memcpy(m1, mem, span);
            memcpy(m2, mem, span);
            pattern(mem, span, 7);  /* fresh bytes to scatter: reuse mem as the stream source */
            int64_t q1 = 0, q2 = 0;
            tsr_status u1 = tsr_datatype_unpack(NULL, mem, psize, &q1, b1, incount, t);
            tsr_status u2 = tsr_datatype_unpack_naive(mem, psize, &q2, b2, incount, t);
            FZ_CHECK(u1 == TSR_OK && u2 == TSR_OK && q1 == psize && q2 == psize, "unpack %s / naive %s",
                     tsr_status_string(u1), tsr_status_string(u2));
            FZ_CHECK(memcmp(m1, m2, span) == 0, "unpack and naive unpack differ");
        }
        free(ones);
        free(m1);
        free(m2);
    }
    /* a buffer one byte short is refused, and nothing is written */
    if (psize > 0) {
        memset(o1, 0xA5, (size_t)outsize);
        int64_t p3 = pos0;
        tsr_status s3 = tsr_datatype_pack(NULL, base, incount, t, o1, pos0 + psize - 1, &p3);
        FZ_CHECK(s3 == TSR_ERANGE && p3 == pos0, "pack into a short buffer: %s", tsr_status_string(s3));
        for (int64_t i = 0; i < outsize; i++) FZ_CHECK(o1[i] == 0xA5, "short pack wrote byte %lld", (long long)i);
    }
    free(o1);
    free(o2);
    free(mem);
}

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = fz_make(data, size);
    prog p = {{0}, 0};
    uint8_t nops = fz_u8(&in) % 16 + 1;
    for (int i = 0; i < nops && fz_left(&in); i++) run_op(&in, &p);
    if (p.n > 0) check_pack(&in, p.t[p.n - 1]);
    if (p.n > 1) check_pack(&in, p.t[0]);
    for (int i = 0; i < p.n; i++) FZ_CHECK(tsr_datatype_destroy(p.t[i]) == TSR_OK, "free");
    return 0;
}
