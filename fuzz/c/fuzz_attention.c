/*
 * fuzz_attention.c — attention descriptors: shapes, head counts, dtypes, scale, causal
 * flag, sliding windows (INT64_MAX included), bitset and bias masks, strides (zero =
 * broadcast, padded, raw) and extents, through tsr_attn_desc_check, tsr_attn_plan_create,
 * tsr_attn_workspace_size and, for small problems, tsr_attention on every ISA level.
 *
 * Input: [batch][q_heads][kv_heads][q_len][kv_len][head_dim] (fz_i64 each),
 *        [q,k,v,o dtype bytes][scale byte (+fz_f32)][causal][window_left fz_i64]
 *        [window_right fz_i64][has_bitset][has_bias][want_lse][workspace mode],
 *        7 x [stride mode][extent mode] (+ their values) for q,k,v,o,lse,bits,bias,
 *        then data bytes for Q, K, V, bias and the bitset.
 *
 * Properties:
 *   - check, plan_create and workspace_size agree; a failure has a message; an accepted
 *     descriptor has strides >= 0 and every touched element inside its extent;
 *   - (small problems) every output row matches a float64 reference of the documented
 *     semantics (bottom-right causal mask, windows, bitset, bias, GQA head mapping),
 *     rows with no visible key are O = 0 and LSE = -inf, outputs are finite, and no
 *     element outside the O / LSE maps is written;
 *   - a window that hides no key (window_left >= kv_len - 1, window_right >= q_len - 1,
 *     up to INT64_MAX) gives the same bits as no window (-1), and causal = 1 the same
 *     bits as window_right = 0;
 *   - a plan gives the same bits as tsr_attention;
 *   - batch invariance: the last query row computed alone (q_len = 1, same keys) gives
 *     the same bits as inside the q_len-row call.
 */
#include "fuzz_common.h"

#define MAX_ELEMS (1 << 16)
#define MAX_BITS (1 << 20)
#define MAX_WORK ((int64_t)1 << 16)

typedef __int128 i128;

static const tsr_dtype dtype_table[9] = {TSR_DTYPE_F32, TSR_DTYPE_BF16, TSR_DTYPE_F16, TSR_DTYPE_F32, TSR_DTYPE_F32,
                                         TSR_DTYPE_BF16, TSR_DTYPE_F16, TSR_DTYPE_I8, (tsr_dtype)99};

static int dt_ok(tsr_dtype t) { return t == TSR_DTYPE_F32 || t == TSR_DTYPE_BF16 || t == TSR_DTYPE_F16; }

/* Elements (or bits) a [B][H][R][C] walk of l touches: the documented extent rule. */
static i128 clamp100(i128 v) {
    const i128 lim = (i128)1 << 100;  /* far beyond any int64 offset; keeps the sum in range */
    return v > lim ? lim : v < -lim ? -lim : v;
}
static i128 span_of(const tsr_attn_layout *l, int64_t b, int64_t h, int64_t r, int64_t cols) {
    return clamp100(((i128)b - 1) * l->stride_batch) + clamp100(((i128)h - 1) * l->stride_head) +
           clamp100(((i128)r - 1) * l->stride_row) + cols;
}

static float load_elem(const void *base, tsr_dtype dt, int64_t i) {
    if (dt == TSR_DTYPE_F32) return ((const float *)base)[i];
    uint16_t v = ((const uint16_t *)base)[i];
    return dt == TSR_DTYPE_BF16 ? tsr_bf16_to_f32(v) : tsr_f16_to_f32(v);
}

static void store_elem(void *base, tsr_dtype dt, int64_t i, float v) {
    if (dt == TSR_DTYPE_F32) ((float *)base)[i] = v;
    else ((uint16_t *)base)[i] = dt == TSR_DTYPE_BF16 ? tsr_f32_to_bf16(v) : tsr_f32_to_f16(v);
}

typedef struct shape_ctx {
    int64_t B, Hq, Hk, Lq, Lk, D;
} shape_ctx;

/* Clamps to int64 (the harness's own strides for absurd shapes: validation refuses them). */
static int64_t sat64(i128 v) { return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : (int64_t)v; }

/* Reads one layout's stride and extent modes. `out` = an output layout (kept free of
 * broadcast strides unless raw mode picks them). */
static void read_layout(fz_in *in, tsr_attn_layout *l, int64_t heads, int64_t rows, int64_t cols, int64_t B, int out) {
    uint8_t sm = fz_u8(in) % 8, em = fz_u8(in) % 8;
    if (sm == 4 || (sm == 5 && out)) {  /* padded */
        int64_t p1 = fz_u8(in) % 4, p2 = fz_u8(in) % 4, p3 = fz_u8(in) % 4;
        l->stride_row = sat64((i128)cols + p1);
        l->stride_head = sat64((i128)rows * l->stride_row + p2);
        l->stride_batch = sat64((i128)heads * l->stride_head + p3);
    } else if (sm == 5) {  /* broadcast over heads and/or batch */
        uint8_t which = fz_u8(in);
        if (which & 1) l->stride_head = 0;
        if (which & 2) l->stride_batch = 0;
        if (which & 4) l->stride_row = 0;
    } else if (sm == 6) {  /* raw, anything */
        l->stride_batch = fz_i64(in);
        l->stride_head = fz_i64(in);
        l->stride_row = fz_i64(in);
    }
    i128 sp = span_of(l, B, heads, rows, cols);
    if (em == 4) l->extent = sp >= 0 && sp <= INT64_MAX ? (int64_t)sp : 0;
    else if (em == 5) l->extent = sp >= 2 && sp <= INT64_MAX ? (int64_t)sp - 1 : 0;  /* one short: must be refused */
    else if (em == 6) l->extent = sp >= 0 && sp <= INT64_MAX - 8 ? (int64_t)sp + fz_u8(in) % 8 : 0;
    else if (em == 7) l->extent = fz_i64(in);
    else l->extent = 0;
}

typedef struct bufs {
    void *q, *k, *v, *o;
    float *lse, *bias;
    uint64_t *bits;
    int64_t nq, nk, nv, no, nlse, nbias, nbits;  /* elements (bits for nbits) */
} bufs;

/* Runs tsr_attention (or a plan) into fresh O / LSE buffers with sentinels. */
static tsr_status run(const tsr_attn_desc *d, const bufs *b, void *o, float *lse, int use_plan, int wsmode) {
    const size_t osz = tsr_dtype_size(d->o_dtype);
    memset(o, 0xEE, (size_t)b->no * osz);
    for (int64_t i = 0; i < b->nlse; i++) lse[i] = -12345.0f;
    tsr_attn_args a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.q = b->q; a.k = b->k; a.v = b->v; a.o = o;
    a.lse = d->want_lse ? lse : NULL;
    a.mask_bits = d->has_bitset ? b->bits : NULL;
    a.bias = d->has_bias ? b->bias : NULL;
    size_t wsz = 0;
    void *ws = NULL;
    if (wsmode) {
        tsr_status s = tsr_attn_workspace_size(NULL, d, &wsz);
        FZ_CHECK(s == TSR_OK, "workspace_size of a valid descriptor: %s", tsr_status_string(s));
        if (wsmode == 2) wsz /= 2;  /* too small: the call must allocate its own */
        ws = malloc(wsz ? wsz : 1);
        a.workspace = ws;
        a.workspace_bytes = wsz;
    }
    tsr_status st;
    if (use_plan) {
        tsr_attn_plan_t *p = NULL;
        st = tsr_attn_plan_create(d, &p);
        if (st == TSR_OK) {
            char desc[512];
            FZ_CHECK(tsr_attn_plan_describe(p, desc, sizeof desc) == TSR_OK && memchr(desc, 0, sizeof desc), "describe");
            st = tsr_attn_plan_execute(NULL, p, &a);
        }
        tsr_attn_plan_destroy(p);
    } else {
        st = tsr_attention(NULL, d, &a);
    }
    free(ws);
    return st;
}

/* Float64 reference for query (b, h, i); returns 0 for a row with no visible key. */
static int reference_row(const tsr_attn_desc *d, const bufs *bf, int64_t b, int64_t h, int64_t i, double *o, double *lse,
                         double *zmax_out, double *vmax_out) {
    const int64_t D = d->head_dim, g = d->q_heads / d->kv_heads, kvh = h / g;
    const double scale = d->scale != 0.0f ? (double)d->scale : 1.0 / sqrt((double)D);
    const i128 diag = (i128)i + d->kv_len - d->q_len;
    double m = -INFINITY, zmax = 0, vmax = 0;
    double *z = malloc(sizeof(double) * (size_t)d->kv_len);
    int any = 0;
    for (int64_t c = 0; c < d->kv_len; c++) {
        int vis = 1;
        if (d->causal && (i128)c > diag) vis = 0;
        if (d->window_left >= 0 && (i128)c < diag - d->window_left) vis = 0;
        if (d->window_right >= 0 && (i128)c > diag + d->window_right) vis = 0;
        if (vis && d->has_bitset) {
            int64_t bit = b * d->bits.stride_batch + h * d->bits.stride_head + i * d->bits.stride_row + c;
            vis = (int)((bf->bits[bit >> 6] >> (bit & 63)) & 1u);
        }
        if (!vis) { z[c] = NAN; continue; }
        double dot = 0;
        for (int64_t e = 0; e < D; e++)
            dot += (double)load_elem(bf->q, d->q_dtype, b * d->q.stride_batch + h * d->q.stride_head + i * d->q.stride_row + e) *
                   (double)load_elem(bf->k, d->k_dtype, b * d->k.stride_batch + kvh * d->k.stride_head + c * d->k.stride_row + e);
        z[c] = scale * dot;
        if (d->has_bias) z[c] += bf->bias[b * d->bias.stride_batch + h * d->bias.stride_head + i * d->bias.stride_row + c];
        if (z[c] > m) m = z[c];
        if (fabs(z[c]) > zmax) zmax = fabs(z[c]);
        any = 1;
    }
    if (!any) { free(z); return 0; }
    double L = 0;
    for (int64_t e = 0; e < D; e++) o[e] = 0;
    for (int64_t c = 0; c < d->kv_len; c++) {
        if (z[c] != z[c]) continue;
        double p = exp(z[c] - m);
        L += p;
        for (int64_t e = 0; e < D; e++) {
            double v = load_elem(bf->v, d->v_dtype, b * d->v.stride_batch + kvh * d->v.stride_head + c * d->v.stride_row + e);
            o[e] += p * v;
            if (fabs(v) > vmax) vmax = fabs(v);
        }
    }
    for (int64_t e = 0; e < D; e++) o[e] /= L;
    *lse = m + log(L);
    *zmax_out = zmax;
    *vmax_out = vmax;
    free(z);
    return 1;
}

typedef struct refs {
    double *o, *lse, *zmax, *vmax;  /* per row (b, h, i): O[D], LSE, max |z|, max |v| */
    uint8_t *vis;
} refs;

static void compute_refs(const tsr_attn_desc *d, const bufs *bf, refs *r) {
    const int64_t rows = d->batch * d->q_heads * d->q_len, D = d->head_dim;
    r->o = malloc(sizeof(double) * (size_t)(rows * D));
    r->lse = malloc(sizeof(double) * (size_t)rows);
    r->zmax = malloc(sizeof(double) * (size_t)rows);
    r->vmax = malloc(sizeof(double) * (size_t)rows);
    r->vis = malloc((size_t)rows);
    int64_t row = 0;
    for (int64_t b = 0; b < d->batch; b++)
        for (int64_t h = 0; h < d->q_heads; h++)
            for (int64_t i = 0; i < d->q_len; i++, row++)
                r->vis[row] = (uint8_t)reference_row(d, bf, b, h, i, r->o + row * D, &r->lse[row], &r->zmax[row], &r->vmax[row]);
}

static void free_refs(refs *r) { free(r->o); free(r->lse); free(r->zmax); free(r->vmax); free(r->vis); }

static void compare_with_reference(const tsr_attn_desc *d, const bufs *bf, const refs *R, const void *o, const float *lse,
                                   const uint8_t *omap, const uint8_t *lmap, const char *isa) {
    const int64_t D = d->head_dim;
    const double out_rel = d->o_dtype == TSR_DTYPE_BF16 ? 8e-3 : d->o_dtype == TSR_DTYPE_F16 ? 1e-3 : 0.0;
    int64_t row = 0;
    for (int64_t b = 0; b < d->batch; b++)
        for (int64_t h = 0; h < d->q_heads; h++)
            for (int64_t i = 0; i < d->q_len; i++, row++) {
                const double *ref = R->o + row * D, rl = R->lse[row], zmax = R->zmax[row], vmax = R->vmax[row];
                const int vis = R->vis[row];
                const int64_t ob = b * d->o.stride_batch + h * d->o.stride_head + i * d->o.stride_row;
                const double tol = vmax * (2e-5 + 2e-6 * zmax + out_rel) + 1e-6;
                for (int64_t e = 0; e < D; e++) {
                    const double got = load_elem(o, d->o_dtype, ob + e);
                    if (!vis) {
                        FZ_CHECK(got == 0.0, "%s: row (%lld,%lld,%lld) sees no key but O[%lld] = %g", isa, (long long)b,
                                 (long long)h, (long long)i, (long long)e, got);
                    } else {
                        FZ_CHECK(isfinite(got) && fabs(got - ref[e]) <= tol,
                                 "%s: O(%lld,%lld,%lld)[%lld] = %.9g, reference %.9g (tol %.3g; causal %d window %lld/%lld "
                                 "q_len %lld kv_len %lld)",
                                 isa, (long long)b, (long long)h, (long long)i, (long long)e, got, ref[e], tol, d->causal,
                                 (long long)d->window_left, (long long)d->window_right, (long long)d->q_len,
                                 (long long)d->kv_len);
                    }
                }
                if (d->want_lse) {
                    const double got = lse[b * d->lse.stride_batch + h * d->lse.stride_head + i * d->lse.stride_row];
                    if (!vis) FZ_CHECK(got == -INFINITY, "%s: row (%lld,%lld,%lld) sees no key but LSE = %g", isa,
                                       (long long)b, (long long)h, (long long)i, got);
                    else FZ_CHECK(isfinite(got) && fabs(got - rl) <= 1e-4 * (1 + fabs(rl)) + 4e-6 * zmax,
                                  "%s: LSE(%lld,%lld,%lld) = %.9g, reference %.9g", isa, (long long)b, (long long)h,
                                  (long long)i, got, rl);
                }
            }
    /* nothing outside the maps was written */
    const size_t osz = tsr_dtype_size(d->o_dtype);
    for (int64_t e = 0; e < bf->no; e++)
        if (!omap[e]) {
            const uint8_t *p = (const uint8_t *)o + (size_t)e * osz;
            for (size_t q = 0; q < osz; q++) FZ_CHECK(p[q] == 0xEE, "%s: O element %lld outside the O map was written", isa, (long long)e);
        }
    if (d->want_lse)
        for (int64_t e = 0; e < bf->nlse; e++)
            if (!lmap[e]) FZ_CHECK(lse[e] == -12345.0f, "%s: LSE element %lld outside the map was written", isa, (long long)e);
}

/* Marks the elements of an output map; returns 0 if two (b,h,i,e) share one element. */
static int mark_map(uint8_t *map, int64_t n, const tsr_attn_layout *l, int64_t B, int64_t H, int64_t R, int64_t C) {
    memset(map, 0, (size_t)n);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < R; i++)
                for (int64_t e = 0; e < C; e++) {
                    int64_t at = b * l->stride_batch + h * l->stride_head + i * l->stride_row + e;
                    if (map[at]) return 0;
                    map[at] = 1;
                }
    return 1;
}

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = fz_make(data, size);
    shape_ctx s;
    s.B = fz_i64(&in); s.Hq = fz_i64(&in); s.Hk = fz_i64(&in);
    s.Lq = fz_i64(&in); s.Lk = fz_i64(&in); s.D = fz_i64(&in);
    tsr_attn_desc d;
    FZ_CHECK(tsr_attn_desc_init(&d, s.B, s.Hq, s.Hk, s.Lq, s.Lk, s.D) == TSR_OK, "desc_init");
    d.q_dtype = dtype_table[fz_u8(&in) % 9];
    d.k_dtype = dtype_table[fz_u8(&in) % 9];
    d.v_dtype = dtype_table[fz_u8(&in) % 9];
    d.o_dtype = dtype_table[fz_u8(&in) % 9];
    uint8_t sc = fz_u8(&in);
    int runnable = 1;
    if (sc == 0) d.scale = 0.0f;
    else if (sc == 1) { d.scale = fz_f32(&in); runnable = isfinite(d.scale) && fabsf(d.scale) <= 16.0f; }
    else d.scale = (float)sc / 64.0f;
    uint8_t cz = fz_u8(&in) % 4;
    d.causal = cz == 3 ? 2 : cz & 1;
    d.window_left = fz_i64(&in);
    d.window_right = fz_i64(&in);
    uint8_t f1 = fz_u8(&in), f2 = fz_u8(&in), f3 = fz_u8(&in);
    d.has_bitset = f1 % 8 == 7 ? 2 : f1 & 1;
    d.has_bias = f2 % 8 == 7 ? 2 : f2 & 1;
    d.want_lse = f3 % 8 == 7 ? 2 : f3 & 1;
    const uint8_t wsmode = fz_u8(&in) % 3;
    read_layout(&in, &d.q, s.Hq, s.Lq, s.D, s.B, 0);
    read_layout(&in, &d.k, s.Hk, s.Lk, s.D, s.B, 0);
    read_layout(&in, &d.v, s.Hk, s.Lk, s.D, s.B, 0);
    read_layout(&in, &d.o, s.Hq, s.Lq, s.D, s.B, 1);
    read_layout(&in, &d.lse, s.Hq, s.Lq, 1, s.B, 1);
    read_layout(&in, &d.bits, s.Hq, s.Lq, s.Lk, s.B, 0);
    read_layout(&in, &d.bias, s.Hq, s.Lq, s.Lk, s.B, 0);

    const tsr_status st = tsr_attn_desc_check(&d);
    FZ_CHECK_ERROR(st);
    tsr_attn_plan_t *plan = NULL;
    tsr_status ps = tsr_attn_plan_create(&d, &plan);
    FZ_CHECK(ps == st || (st == TSR_OK && ps == TSR_ENOMEM), "check %s but plan_create %s", tsr_status_string(st),
             tsr_status_string(ps));
    tsr_attn_plan_destroy(plan);
    size_t wsz = 0;
    tsr_status ws = tsr_attn_workspace_size(NULL, &d, &wsz);
    FZ_CHECK(ws == st || (st == TSR_OK && ws == TSR_ERANGE), "check %s but workspace_size %s", tsr_status_string(st),
             tsr_status_string(ws));
    if (st != TSR_OK) return 0;

    /* what an accepted descriptor must satisfy */
    FZ_CHECK(s.B >= 1 && s.Hq >= 1 && s.Hk >= 1 && s.Lq >= 1 && s.Lk >= 1 && s.D >= 1 && s.D <= TSR_ATTN_MAX_HEAD_DIM &&
                 s.Hq % s.Hk == 0,
             "accepted shape B %lld Hq %lld Hk %lld Lq %lld Lk %lld D %lld", (long long)s.B, (long long)s.Hq,
             (long long)s.Hk, (long long)s.Lq, (long long)s.Lk, (long long)s.D);
    FZ_CHECK(dt_ok(d.q_dtype) && dt_ok(d.k_dtype) && dt_ok(d.v_dtype) && dt_ok(d.o_dtype), "accepted a bad dtype");
    FZ_CHECK(isfinite(d.scale), "accepted scale %g", (double)d.scale);
    FZ_CHECK(d.causal <= 1 && d.has_bitset <= 1 && d.has_bias <= 1 && d.want_lse <= 1, "accepted a flag that is not 0/1");
    FZ_CHECK(d.window_left >= -1 && d.window_right >= -1, "accepted window %lld/%lld", (long long)d.window_left,
             (long long)d.window_right);
    struct { const char *name; const tsr_attn_layout *l; int64_t h, r, c; int used; } L[7] = {
        {"q", &d.q, s.Hq, s.Lq, s.D, 1}, {"k", &d.k, s.Hk, s.Lk, s.D, 1}, {"v", &d.v, s.Hk, s.Lk, s.D, 1},
        {"o", &d.o, s.Hq, s.Lq, s.D, 1}, {"lse", &d.lse, s.Hq, s.Lq, 1, d.want_lse},
        {"bits", &d.bits, s.Hq, s.Lq, s.Lk, d.has_bitset}, {"bias", &d.bias, s.Hq, s.Lq, s.Lk, d.has_bias}};
    i128 spans[7];
    for (int j = 0; j < 7; j++) {
        spans[j] = span_of(L[j].l, s.B, L[j].h, L[j].r, L[j].c);
        if (!L[j].used) continue;
        FZ_CHECK(L[j].l->stride_batch >= 0 && L[j].l->stride_head >= 0 && L[j].l->stride_row >= 0 && L[j].l->extent >= 0,
                 "accepted a negative stride or extent in layout %s", L[j].name);
        FZ_CHECK(L[j].l->extent == 0 || spans[j] <= L[j].l->extent,
                 "layout %s reaches element %lld but its extent %lld was accepted", L[j].name, (long long)(spans[j] - 1),
                 (long long)L[j].l->extent);
    }

    /* small enough to run? */
    if (!runnable || s.B > MAX_WORK || s.Hq > MAX_WORK || s.Lq > MAX_WORK || s.Lk > MAX_WORK) return 0;
    i128 work = (i128)s.B * s.Hq * s.Lq * s.Lk * s.D;  /* each factor <= 2^16 here: no overflow */
    if (work > MAX_WORK) return 0;
    for (int j = 0; j < 5; j++)
        if (L[j].used && spans[j] > MAX_ELEMS) return 0;
    if (d.has_bitset && spans[5] > MAX_BITS) return 0;
    if (d.has_bias && spans[6] > MAX_ELEMS) return 0;

    bufs b;
    memset(&b, 0, sizeof b);
    b.nq = (int64_t)spans[0]; b.nk = (int64_t)spans[1]; b.nv = (int64_t)spans[2]; b.no = (int64_t)spans[3];
    b.nlse = d.want_lse ? (int64_t)spans[4] : 0;
    b.nbits = d.has_bitset ? (int64_t)spans[5] : 0;
    b.nbias = d.has_bias ? (int64_t)spans[6] : 0;
    b.q = malloc((size_t)b.nq * tsr_dtype_size(d.q_dtype));
    b.k = malloc((size_t)b.nk * tsr_dtype_size(d.k_dtype));
    b.v = malloc((size_t)b.nv * tsr_dtype_size(d.v_dtype));
    b.bias = malloc(sizeof(float) * (size_t)(b.nbias ? b.nbias : 1));
    const int64_t words = (b.nbits + 63) / 64;
    b.bits = malloc(sizeof(uint64_t) * (size_t)(words ? words : 1));
    for (int64_t i = 0; i < b.nq; i++) store_elem(b.q, d.q_dtype, i, (float)(int8_t)fz_u8(&in) / 32.0f);
    for (int64_t i = 0; i < b.nk; i++) store_elem(b.k, d.k_dtype, i, (float)(int8_t)fz_u8(&in) / 32.0f);
    for (int64_t i = 0; i < b.nv; i++) store_elem(b.v, d.v_dtype, i, fz_fill_f32(&in, (size_t)i));
    for (int64_t i = 0; i < b.nbias; i++) b.bias[i] = (float)(int8_t)fz_u8(&in) / 16.0f;
    for (int64_t i = 0; i < words; i++) b.bits[i] = fz_left(&in) ? fz_raw(&in, 8) : 0x5555555555555555ull * (uint64_t)(i + 1);

    const size_t osz = tsr_dtype_size(d.o_dtype);
    void *o = malloc((size_t)b.no * osz), *o2 = malloc((size_t)b.no * osz);
    float *lse = malloc(sizeof(float) * (size_t)(b.nlse ? b.nlse : 1)), *lse2 = malloc(sizeof(float) * (size_t)(b.nlse ? b.nlse : 1));
    uint8_t *omap = malloc((size_t)b.no), *lmap = malloc((size_t)(b.nlse ? b.nlse : 1));
    int distinct = mark_map(omap, b.no, &d.o, s.B, s.Hq, s.Lq, s.D);
    if (d.want_lse) distinct &= mark_map(lmap, b.nlse, &d.lse, s.B, s.Hq, s.Lq, 1);

    tsr_isa isas[TSR_ISA_COUNT];
    const int nisa = fz_isa_list(isas);
    refs R;
    memset(&R, 0, sizeof R);
    if (distinct) compute_refs(&d, &b, &R);
    for (int ii = 0; ii < nisa; ii++) {
        FZ_CHECK(tsr_isa_force(isas[ii]) == TSR_OK, "force");
        tsr_status rs = run(&d, &b, o, lse, 0, wsmode);
        FZ_CHECK(rs == TSR_OK, "tsr_attention on %s: %s", tsr_isa_name(isas[ii]), tsr_status_string(rs));
        /* outputs whose rows share elements have no single right answer: only crashes count */
        if (distinct) compare_with_reference(&d, &b, &R, o, lse, omap, lmap, tsr_isa_name(isas[ii]));
    }
    if (distinct) free_refs(&R);
    /* o / lse hold the result on the highest ISA: equivalent descriptors give the same bits */
    if (distinct) {
        const size_t obytes = (size_t)b.no * osz, lbytes = sizeof(float) * (size_t)b.nlse;
        /* window_left >= kv_len - 1 and window_right >= q_len - 1 hide no key (attention.h) */
        tsr_attn_desc e = d;
        int changed = 0;
        if (e.window_left >= 0 && e.window_left >= d.kv_len - 1) { e.window_left = -1; changed = 1; }
        if (e.window_right >= 0 && e.window_right >= d.q_len - 1) { e.window_right = -1; changed = 1; }
        if (changed) {
            FZ_CHECK(run(&e, &b, o2, lse2, 0, 0) == TSR_OK, "run with unbounded windows");
            FZ_CHECK(memcmp(o, o2, obytes) == 0 && memcmp(lse, lse2, lbytes) == 0,
                     "window %lld/%lld (q_len %lld, kv_len %lld: hides no key) differs from no window (-1)",
                     (long long)d.window_left, (long long)d.window_right, (long long)d.q_len, (long long)d.kv_len);
        }
        if (d.causal && d.window_right == -1) {
            e = d;
            e.causal = 0;
            e.window_right = 0;
            FZ_CHECK(run(&e, &b, o2, lse2, 0, 0) == TSR_OK, "run with window_right 0");
            FZ_CHECK(memcmp(o, o2, obytes) == 0 && memcmp(lse, lse2, lbytes) == 0, "causal differs from window_right = 0");
        }
        FZ_CHECK(run(&d, &b, o2, lse2, 1, wsmode) == TSR_OK, "plan execute");
        FZ_CHECK(memcmp(o, o2, obytes) == 0 && memcmp(lse, lse2, lbytes) == 0, "plan differs from tsr_attention");

        /* the last query row alone, over the same keys */
        const int64_t last = d.q_len - 1;
        const int64_t bitoff = d.has_bitset ? last * d.bits.stride_row : 0;
        if (d.q_len > 1 && bitoff % 64 == 0) {
            tsr_attn_desc one = d;
            one.q_len = 1;
            one.q.extent = one.o.extent = one.lse.extent = one.bits.extent = one.bias.extent = 0;
            bufs b1 = b;
            b1.q = (char *)b.q + (size_t)(last * d.q.stride_row) * tsr_dtype_size(d.q_dtype);
            b1.bias = b.bias + (d.has_bias ? last * d.bias.stride_row : 0);
            b1.bits = b.bits + bitoff / 64;
            FZ_CHECK(run(&one, &b1, o2, lse2, 0, 0) == TSR_OK, "q_len = 1 run");
            for (int64_t bb = 0; bb < d.batch; bb++)
                for (int64_t h = 0; h < d.q_heads; h++) {
                    const int64_t at = bb * d.o.stride_batch + h * d.o.stride_head;
                    FZ_CHECK(memcmp((char *)o + (size_t)(at + last * d.o.stride_row) * osz, (char *)o2 + (size_t)at * osz,
                                    (size_t)d.head_dim * osz) == 0,
                             "batch invariance: query row %lld of a q_len = %lld call differs from the same row alone "
                             "(batch %lld head %lld)",
                             (long long)last, (long long)d.q_len, (long long)bb, (long long)h);
                    if (d.want_lse) {
                        const int64_t la = bb * d.lse.stride_batch + h * d.lse.stride_head;
                        FZ_CHECK(fz_same_f32(lse[la + last * d.lse.stride_row], lse2[la]), "batch invariance of LSE");
                    }
                }
        }
    }
    tsr_isa_force(tsr_isa_supported());
    free(b.q); free(b.k); free(b.v); free(b.bias); free(b.bits);
    free(o); free(o2); free(lse); free(lse2); free(omap); free(lmap);
    return 0;
}
