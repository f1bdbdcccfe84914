/*
 * dt_canon.c — commit: flatten a type tree into streams over a body of segments
 * and simplify to a fixed point (after TEMPI, ALGORITHMS.md §3a, but keeping the
 * MPI type-map order: streams are never swapped).
 *
 * Form:  start + sum_k i_k * str[k] + body,  body = segments (off[j], len[j]), off[0] = 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dt_internal.h"

/* Expanding a stream over a segment list whose instances touch: only below this size. */
#define DT_TOUCH_EXPAND_MAX 65536
/* Subtree forms of at most this many segments are remembered for the rest of a commit. */
#define DT_MEMO_MAX_SEGS 64
/*
 * Work one commit may do (segments moved or compared, 64 per subtree built; about a
 * second) before it gives up flattening: the type is then TSR_CANON_GENERAL.
 */
#define DT_WORK_BUDGET (1ll << 28)
#define DT_WORK_PER_BUILD 64

typedef struct form {
    int general, empty;
    int64_t start;
    int32_t nd, capd;
    int64_t *cnt, *str;   /* outer first */
    int64_t nseg, caps;
    int64_t *off, *len;
} form;

static void form_free(form *f) {
    free(f->cnt); free(f->str); free(f->off); free(f->len);
    memset(f, 0, sizeof *f);
}

static int reserve_dims(form *f, int32_t n) {
    if (n <= f->capd) return 1;
    int32_t c = f->capd ? f->capd * 2 : 8;
    while (c < n) c *= 2;
    int64_t *a = realloc(f->cnt, (size_t)c * sizeof *a);
    if (!a) return 0;
    f->cnt = a;
    int64_t *b = realloc(f->str, (size_t)c * sizeof *b);
    if (!b) return 0;
    f->str = b;
    f->capd = c;
    return 1;
}

static int reserve_segs(form *f, int64_t n) {
    if (n <= f->caps) return 1;
    int64_t c = f->caps ? f->caps * 2 : 8;
    while (c < n) c *= 2;
    int64_t *a = realloc(f->off, (size_t)c * sizeof *a);
    if (!a) return 0;
    f->off = a;
    int64_t *b = realloc(f->len, (size_t)c * sizeof *b);
    if (!b) return 0;
    f->len = b;
    f->caps = c;
    return 1;
}

static int form_dense(form *f, int64_t bytes) {
    memset(f, 0, sizeof *f);
    if (bytes == 0) { f->empty = 1; return 1; }
    if (!reserve_segs(f, 1)) return 0;
    f->nseg = 1; f->off[0] = 0; f->len[0] = bytes;
    return 1;
}

static int prepend_stream(form *f, int64_t count, int64_t stride) {
    if (f->empty || f->general) return 1;
    if (count == 0) { f->empty = 1; return 1; }
    if (!reserve_dims(f, f->nd + 1)) return 0;
    memmove(f->cnt + 1, f->cnt, (size_t)f->nd * sizeof *f->cnt);
    memmove(f->str + 1, f->str, (size_t)f->nd * sizeof *f->str);
    f->cnt[0] = count; f->str[0] = stride;
    f->nd++;
    return 1;
}

/* Appends one segment (absolute offset) to a list, merging with the last if they touch. */
static int push_seg(form *f, int64_t off, int64_t len) {
    if (len == 0) return 1;
    if (f->nseg > 0 && f->off[f->nseg - 1] + f->len[f->nseg - 1] == off) {
        f->len[f->nseg - 1] += len;
        return 1;
    }
    if (!reserve_segs(f, f->nseg + 1)) return 0;
    f->off[f->nseg] = off; f->len[f->nseg] = len;
    f->nseg++;
    return 1;
}

/* Segments produced by expanding `f` (with extra outer stream (n, step)), or -1 if over the cap. */
static int64_t expanded_count(const form *f, int64_t n, int64_t step_unused) {
    (void)step_unused;
    int64_t total = f->nseg;
    if (f->nd > 63) return -1;
    if (tsr_mul_i64(total, n, &total)) return -1;
    for (int32_t k = 0; k < f->nd; k++)
        if (tsr_mul_i64(total, f->cnt[k], &total) || total > DT_MAX_SEGMENTS) return -1;
    return total > DT_MAX_SEGMENTS ? -1 : total;
}

/* Appends every segment of `n` instances of f at base + i*step (type-map order) to dst. */
static int expand_into(form *dst, const form *f, int64_t base, int64_t n, int64_t step) {
    int64_t idx[64];
    for (int64_t r = 0; r < n; r++) {
        int64_t b = base + r * step + f->start;
        for (int32_t k = 0; k < f->nd; k++) idx[k] = 0;
        for (;;) {
            int64_t o = b;
            for (int32_t k = 0; k < f->nd; k++) o += idx[k] * f->str[k];
            for (int64_t j = 0; j < f->nseg; j++)
                if (!push_seg(dst, o + f->off[j], f->len[j])) return 0;
            int32_t k = f->nd - 1;
            while (k >= 0 && ++idx[k] == f->cnt[k]) { idx[k] = 0; k--; }
            if (k < 0) break;
        }
    }
    return 1;
}

/* Smallest period p < nseg of the segment list (lengths equal, offsets shifted by one d), or 0. */
static int64_t find_period(const form *f, int64_t *d_out, int64_t *work) {
    int64_t n = f->nseg;
    *work += n / 2;
    for (int64_t p = 1; p <= n / 2; p++) {
        if (n % p) continue;
        int64_t d = f->off[p] - f->off[0], i = 0;
        while (i + p < n && f->len[i + p] == f->len[i] && f->off[i + p] - f->off[i] == d) i++;
        *work += i;
        if (i + p == n) { *d_out = d; return p; }
    }
    return 0;
}

/* Simplifies to a fixed point; past the work budget the form becomes general. */
static int simplify(form *f, int64_t *work) {
    if (f->general) return 1;
    for (int changed = 1; changed && !f->empty;) {
        changed = 0;
        *work += f->nseg + f->nd;
        if (*work > DT_WORK_BUDGET) { f->general = 1; return 1; }
        if (f->nseg == 0) { f->empty = 1; break; }
        for (int32_t k = 0; k < f->nd; k++)
            if (f->cnt[k] == 0) { f->empty = 1; return 1; }
        /* coalesce touching segments (in type-map order) */
        int64_t w = 0;
        for (int64_t i = 1; i < f->nseg; i++) {
            if (f->off[w] + f->len[w] == f->off[i]) { f->len[w] += f->len[i]; changed = 1; }
            else { w++; f->off[w] = f->off[i]; f->len[w] = f->len[i]; }
        }
        f->nseg = w + 1;
        /* normalise the body to start at 0 */
        if (f->off[0] != 0) {
            int64_t o = f->off[0];
            f->start += o;
            for (int64_t i = 0; i < f->nseg; i++) f->off[i] -= o;
        }
        /* elision: drop count-1 streams */
        int32_t nd = 0;
        for (int32_t k = 0; k < f->nd; k++)
            if (f->cnt[k] != 1) { f->cnt[nd] = f->cnt[k]; f->str[nd] = f->str[k]; nd++; }
        if (nd != f->nd) { f->nd = nd; changed = 1; }
        /* dense fold: innermost stream over one block of matching length */
        if (f->nseg == 1 && f->nd > 0 && f->str[f->nd - 1] == f->len[0]) {
            f->len[0] *= f->cnt[f->nd - 1];
            f->nd--;
            changed = 1;
            continue;
        }
        /* flatten: outer stride == inner count * inner stride */
        for (int32_t k = 0; k + 1 < f->nd; k++) {
            int64_t span;
            if (!tsr_mul_i64(f->cnt[k + 1], f->str[k + 1], &span) && f->str[k] == span) {
                f->cnt[k + 1] *= f->cnt[k];
                memmove(f->cnt + k, f->cnt + k + 1, (size_t)(f->nd - k - 1) * sizeof *f->cnt);
                memmove(f->str + k, f->str + k + 1, (size_t)(f->nd - k - 1) * sizeof *f->str);
                f->nd--;
                changed = 1;
                break;
            }
        }
        if (changed) continue;
        if (f->nseg > 1) {
            /* periodic segment list -> stream over one period */
            int64_t d, p = find_period(f, &d, work);
            if (p > 0) {
                if (!reserve_dims(f, f->nd + 1)) return 0;
                f->cnt[f->nd] = f->nseg / p;
                f->str[f->nd] = d;
                f->nd++;
                f->nseg = p;
                changed = 1;
                continue;
            }
            /* instances of the innermost stream touch: expand it so the joins coalesce */
            if (f->nd > 0 && f->str[f->nd - 1] == f->off[f->nseg - 1] + f->len[f->nseg - 1]) {
                int64_t c = f->cnt[f->nd - 1], s = f->str[f->nd - 1], tot;
                if (!tsr_mul_i64(c, f->nseg, &tot) && tot <= DT_TOUCH_EXPAND_MAX) {
                    form body = {0};
                    body.nseg = f->nseg; body.off = f->off; body.len = f->len;
                    form out = {0};
                    if (!expand_into(&out, &body, 0, c, s)) { form_free(&out); return 0; }
                    *work += tot;
                    free(f->off); free(f->len);
                    f->off = out.off; f->len = out.len; f->nseg = out.nseg; f->caps = out.caps;
                    f->nd--;
                    changed = 1;
                }
            }
        }
    }
    return 1;
}

static int form_copy(form *dst, const form *src) {
    memset(dst, 0, sizeof *dst);
    if (!reserve_dims(dst, src->nd) || !reserve_segs(dst, src->nseg)) { form_free(dst); return 0; }
    dst->general = src->general; dst->empty = src->empty; dst->start = src->start;
    dst->nd = src->nd; dst->nseg = src->nseg;
    if (src->nd) {
        memcpy(dst->cnt, src->cnt, (size_t)src->nd * sizeof *dst->cnt);
        memcpy(dst->str, src->str, (size_t)src->nd * sizeof *dst->str);
    }
    if (src->nseg) {
        memcpy(dst->off, src->off, (size_t)src->nseg * sizeof *dst->off);
        memcpy(dst->len, src->len, (size_t)src->nseg * sizeof *dst->len);
    }
    return 1;
}

/*
 * The small forms built so far in one commit, by type. A type tree is a DAG: a subtree
 * reused along k nested pairs of blocks lies on 2^k paths, and is built once, not 2^k
 * times. Large forms are not kept (they cannot double 2^k times without passing
 * DT_MAX_SEGMENTS); `work` bounds the commit in every case (DT_WORK_BUDGET).
 */
typedef struct memo {
    const tsr_datatype_t **key;
    form *val;
    int64_t cap, n, work;
} memo;

static int64_t memo_slot(const memo *m, const tsr_datatype_t *t) {
    uint64_t h = (uint64_t)(uintptr_t)t * 0x9E3779B97F4A7C15ull;
    int64_t i = (int64_t)(h >> 17) & (m->cap - 1);
    while (m->key[i] && m->key[i] != t) i = (i + 1) & (m->cap - 1);
    return i;
}

static const form *memo_find(const memo *m, const tsr_datatype_t *t) {
    if (!m->cap) return NULL;
    int64_t i = memo_slot(m, t);
    return m->key[i] ? &m->val[i] : NULL;
}

/* Remembers a copy of f (best effort: out of memory only skips it). */
static void memo_put(memo *m, const tsr_datatype_t *t, const form *f) {
    static const form general = {.general = 1};
    if (f->general) f = &general;  /* its lists are of no use */
    if (f->nseg > DT_MEMO_MAX_SEGS) return;
    if ((m->n + 1) * 2 > m->cap) {
        memo g = {0};
        g.cap = m->cap ? m->cap * 2 : 64;
        g.key = calloc((size_t)g.cap, sizeof *g.key);
        g.val = calloc((size_t)g.cap, sizeof *g.val);
        if (!g.key || !g.val) { free(g.key); free(g.val); return; }
        for (int64_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                int64_t j = memo_slot(&g, m->key[i]);
                g.key[j] = m->key[i];
                g.val[j] = m->val[i];
            }
        free(m->key); free(m->val);
        g.n = m->n; g.work = m->work;
        *m = g;
    }
    int64_t i = memo_slot(m, t);
    if (m->key[i] || !form_copy(&m->val[i], f)) return;
    m->key[i] = t;
    m->n++;
}

static void memo_free(memo *m) {
    for (int64_t i = 0; i < m->cap; i++)
        if (m->key[i]) form_free(&m->val[i]);
    free(m->key); free(m->val);
}

static int build_node(const tsr_datatype_t *t, form *f, memo *m);

/* Builds the simplified form of one element of t. Returns 0 on out-of-memory. */
static int build(const tsr_datatype_t *t, form *f, memo *m) {
    memset(f, 0, sizeof *f);
    if (t->size == 0) { f->empty = 1; return 1; }
    if (t->comb == TSR_COMBINER_NAMED) return form_dense(f, t->size);
    const form *hit = memo_find(m, t);
    if (hit) return form_copy(f, hit);
    m->work += DT_WORK_PER_BUILD;
    if (m->work > DT_WORK_BUDGET) { f->general = 1; return 1; }
    if (!build_node(t, f, m)) return 0;
    memo_put(m, t, f);
    return 1;
}

static int build_node(const tsr_datatype_t *t, form *f, memo *m) {
    const tsr_datatype_t *c = t->nchild ? t->children[0] : NULL;
    switch (t->comb) {
    case TSR_COMBINER_RESIZED:
    case TSR_COMBINER_DUP: return build(c, f, m);
    case TSR_COMBINER_CONTIGUOUS:
    case TSR_COMBINER_VECTOR:
    case TSR_COMBINER_HVECTOR: {
        if (!build(c, f, m)) return 0;
        int64_t sb = t->comb == TSR_COMBINER_VECTOR ? t->stride * c->extent : t->stride;
        if (!prepend_stream(f, t->blocklen, c->extent) || !prepend_stream(f, t->count, sb)) return 0;
        return simplify(f, &m->work);
    }
    case TSR_COMBINER_SUBARRAY: {
        if (!build(c, f, m)) return 0;
        int64_t acc = c->extent, extra = 0;
        for (int k = 0; k < t->ndims; k++) {
            int i = t->order == TSR_ORDER_C ? t->ndims - 1 - k : k;
            if (!prepend_stream(f, t->subsizes[i], acc)) return 0;
            extra += t->starts[i] * acc;
            acc *= t->sizes[i];
        }
        f->start += extra;
        return simplify(f, &m->work);
    }
    default: break;
    }
    /* indexed family and struct: a list of segments */
    int bytes = t->comb == TSR_COMBINER_HINDEXED || t->comb == TSR_COMBINER_HINDEXED_BLOCK ||
                t->comb == TSR_COMBINER_STRUCT;
    form child = {0};
    const tsr_datatype_t *built_for = NULL;
    int64_t total = 0;
    int ok = 1;
    /* only the blocks that hold data: a type may list billions of empty ones */
    for (int64_t k = 0; k < dt_nfilled(t) && ok; k++) {
        int64_t i = dt_filled(t, k);
        const tsr_datatype_t *ci = t->comb == TSR_COMBINER_STRUCT ? t->children[i] : c;
        int64_t bl = t->blocklens ? t->blocklens[i] : t->blocklen;
        if (ci != built_for) {
            form_free(&child);
            if (!build(ci, &child, m)) { ok = 0; break; }
            built_for = ci;
        }
        if (child.general) { f->general = 1; break; }
        if (child.empty) continue;
        int64_t n = expanded_count(&child, bl, ci->extent);
        if (n < 0 || tsr_add_i64(total, n, &total) || total > DT_MAX_SEGMENTS) { f->general = 1; break; }
        int64_t d = bytes ? t->displs[i] : t->displs[i] * ci->extent;
        ok = expand_into(f, &child, d, bl, ci->extent);
        m->work += n;
    }
    form_free(&child);
    if (!ok) return 0;
    if (f->general) { free(f->off); free(f->len); f->off = f->len = NULL; f->nseg = 0; return 1; }
    if (f->nseg == 0) { f->empty = 1; return 1; }
    return simplify(f, &m->work);
}

void dt_canon_free(dt_canon *c) {
    free(c->counts); free(c->strides); free(c->seg_off); free(c->seg_len); free(c->seg_prefix);
    memset(c, 0, sizeof *c);
}

tsr_status dt_canonicalize(tsr_datatype_t *t) {
    form f;
    memo m = {0};
    int ok = build(t, &f, &m);
    memo_free(&m);
    if (!ok) { form_free(&f); return tsr_error(TSR_ENOMEM, "tsr_datatype_commit: out of memory"); }
    dt_canon *c = &t->canon;
    memset(c, 0, sizeof *c);
    if (!f.general && !f.empty && f.nd > 63) f.general = 1;  /* the pack engine keeps dims on the stack */
    if (f.general) {
        c->kind = TSR_CANON_GENERAL;
        snprintf(t->kernel_name, sizeof t->kernel_name, "typemap-walk");
    } else if (f.empty) {
        c->kind = TSR_CANON_EMPTY;
        snprintf(t->kernel_name, sizeof t->kernel_name, "none");
    } else {
        c->kind = f.nseg == 1 ? TSR_CANON_STRIDED : TSR_CANON_SEGMENTS;
        c->start = f.start;
        c->nd = f.nd;
        c->nseg = f.nseg;
        c->counts = malloc((size_t)(f.nd + 1) * sizeof(int64_t));
        c->strides = malloc((size_t)(f.nd + 1) * sizeof(int64_t));
        c->seg_off = malloc((size_t)f.nseg * sizeof(int64_t));
        c->seg_len = malloc((size_t)f.nseg * sizeof(int64_t));
        c->seg_prefix = malloc((size_t)(f.nseg + 1) * sizeof(int64_t));
        if (!c->counts || !c->strides || !c->seg_off || !c->seg_len || !c->seg_prefix) {
            dt_canon_free(c);
            form_free(&f);
            return tsr_error(TSR_ENOMEM, "tsr_datatype_commit: out of memory");
        }
        if (f.nd) {
            memcpy(c->counts, f.cnt, (size_t)f.nd * sizeof(int64_t));
            memcpy(c->strides, f.str, (size_t)f.nd * sizeof(int64_t));
        }
        memcpy(c->seg_off, f.off, (size_t)f.nseg * sizeof(int64_t));
        memcpy(c->seg_len, f.len, (size_t)f.nseg * sizeof(int64_t));
        c->seg_prefix[0] = 0;
        for (int64_t j = 0; j < f.nseg; j++) {
            c->seg_prefix[j + 1] = c->seg_prefix[j] + f.len[j];
            if (f.len[j] > c->max_seg) c->max_seg = f.len[j];
        }
        c->body_bytes = c->seg_prefix[f.nseg];
        if (c->kind == TSR_CANON_STRIDED)
            snprintf(t->kernel_name, sizeof t->kernel_name, f.nd == 0 ? "contiguous" : "strided%lldB-%dd",
                     (long long)f.len[0], (int)f.nd);
        else
            snprintf(t->kernel_name, sizeof t->kernel_name, "%s-%dd",
                     c->max_seg <= 64 ? "segments-small" : "segments", (int)f.nd);
    }
    form_free(&f);
    return TSR_OK;
}

/* ---- queries on the canonical form ----------------------------------------------------------------- */

tsr_status tsr_datatype_canon_info_get(const tsr_datatype_t *type, tsr_canon_info *info) {
    TSR_TRY(dt_check_committed(type, __func__, "type"));
    TSR_CHECK_NULL(info);
    if (info->size < sizeof *info)
        return tsr_error(TSR_EINVAL, "tsr_datatype_canon_info_get: info->size %u < sizeof(tsr_canon_info) %zu",
                         info->size, sizeof *info);
    const dt_canon *c = &type->canon;
    memset(info, 0, sizeof *info);
    info->size = sizeof *info;
    info->kind = c->kind;
    info->start = c->start;
    info->block_bytes = c->kind == TSR_CANON_STRIDED ? c->seg_len[0] : 0;
    info->ndims = c->nd;
    for (int32_t k = 0; k < c->nd && k < TSR_CANON_MAX_DIMS; k++) {
        info->counts[k] = c->counts[k];
        info->strides[k] = c->strides[k];
    }
    info->n_segments = c->kind == TSR_CANON_STRIDED || c->kind == TSR_CANON_SEGMENTS ? c->nseg : 0;
    info->type_size = type->size;
    info->lb = type->lb;
    info->extent = type->extent;
    info->true_lb = type->true_lb;
    info->true_extent = type->true_ub - type->true_lb;
    return TSR_OK;
}

tsr_status tsr_datatype_canonical(const tsr_datatype_t *type, tsr_canon_info *info) {
    return tsr_datatype_canon_info_get(type, info);
}

tsr_status tsr_datatype_segments(const tsr_datatype_t *type, int64_t *offsets, int64_t *lengths, int64_t max,
                                 int64_t *count) {
    TSR_TRY(dt_check_committed(type, __func__, "type"));
    TSR_CHECK_NULL(count);
    if (max < 0) return tsr_error(TSR_EINVAL, "tsr_datatype_segments: max must be >= 0 (got %lld)", (long long)max);
    if (max > 0 && (!offsets || !lengths))
        return tsr_error(TSR_EINVAL, "tsr_datatype_segments: offsets/lengths NULL with max %lld", (long long)max);
    const dt_canon *c = &type->canon;
    int64_t n = (c->kind == TSR_CANON_STRIDED || c->kind == TSR_CANON_SEGMENTS) ? c->nseg : 0;
    for (int64_t j = 0; j < n && j < max; j++) { offsets[j] = c->seg_off[j]; lengths[j] = c->seg_len[j]; }
    *count = n;
    return TSR_OK;
}

tsr_status tsr_datatype_has_same_layout(const tsr_datatype_t *a, const tsr_datatype_t *b, int32_t *equal) {
    TSR_TRY(dt_check_committed(a, __func__, "a"));
    TSR_TRY(dt_check_committed(b, __func__, "b"));
    TSR_CHECK_NULL(equal);
    const dt_canon *x = &a->canon, *y = &b->canon;
    int eq = a->size == b->size && a->extent == b->extent && x->kind == y->kind;
    if (eq && x->kind == TSR_CANON_GENERAL) eq = a == b;
    if (eq && (x->kind == TSR_CANON_STRIDED || x->kind == TSR_CANON_SEGMENTS)) {
        eq = x->start == y->start && x->nd == y->nd && x->nseg == y->nseg;
        for (int32_t k = 0; eq && k < x->nd; k++) eq = x->counts[k] == y->counts[k] && x->strides[k] == y->strides[k];
        for (int64_t j = 0; eq && j < x->nseg; j++) eq = x->seg_off[j] == y->seg_off[j] && x->seg_len[j] == y->seg_len[j];
    }
    *equal = eq ? 1 : 0;
    return TSR_OK;
}

tsr_status tsr_datatype_same_layout(const tsr_datatype_t *a, const tsr_datatype_t *b, int32_t *equal) {
    return tsr_datatype_has_same_layout(a, b, equal);
}

size_t dt_canon_describe(const tsr_datatype_t *t, char *buf, size_t cap) {
    size_t len = 0;
#define OUT(...)                                                                     \
    do {                                                                             \
        int n_ = snprintf(len < cap ? buf + len : NULL, len < cap ? cap - len : 0, __VA_ARGS__); \
        if (n_ > 0) len += (size_t)n_;                                               \
    } while (0)
    const dt_canon *c = &t->canon;
    switch (c->kind) {
    case TSR_CANON_EMPTY: OUT("empty"); break;
    case TSR_CANON_GENERAL: OUT("general (more than %lld segments, or too costly to flatten)", (long long)DT_MAX_SEGMENTS); break;
    case TSR_CANON_STRIDED: OUT("strided start=%lld block=%lldB", (long long)c->start, (long long)c->seg_len[0]); break;
    case TSR_CANON_SEGMENTS: {
        OUT("segments start=%lld n=%lld [", (long long)c->start, (long long)c->nseg);
        for (int64_t j = 0; j < c->nseg && j < 6; j++)
            OUT("%s(%lld,%lld)", j ? " " : "", (long long)c->seg_off[j], (long long)c->seg_len[j]);
        OUT("%s]", c->nseg > 6 ? " ..." : "");
        break;
    }
    default: break;
    }
    if (c->kind == TSR_CANON_STRIDED || c->kind == TSR_CANON_SEGMENTS) {
        OUT(" dims=[");
        for (int32_t k = 0; k < c->nd; k++) OUT("%s%lld x %lldB", k ? ", " : "", (long long)c->counts[k], (long long)c->strides[k]);
        OUT("]");
    }
    OUT(" size=%lld extent=%lld lb=%lld true_lb=%lld true_extent=%lld kernel=%s", (long long)t->size,
        (long long)t->extent, (long long)t->lb, (long long)t->true_lb, (long long)(t->true_ub - t->true_lb),
        t->kernel_name);
#undef OUT
    return len;
}
