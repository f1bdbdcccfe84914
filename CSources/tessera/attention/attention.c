/*
 * Attention driver: descriptor checks, plans, the kernel selector, the tile loops around
 * the microkernels (attention_internal.h) and the two schedules.
 *
 *   prefill: tasks (batch, q head, query tile); each walks its KV chunks in key order,
 *            KV tiles inside a chunk with the online softmax (FlashAttention-2 order:
 *            Q tile outer, K/V tiles inner), tiles no row can see skipped.
 *   decode:  tasks (batch, kv head, KV chunk, row block); the rows of a block are all
 *            query heads of a GQA group × the query rows, so K/V is read once per group.
 *            Each task leaves a partial (m, l, acc) per row in the workspace; a second
 *            pass folds the partials of each row in chunk order.
 *
 * Both schedules compute a row's chunk state with the same kernels over the same tiles
 * and fold the chunk states in the same order with the same function, so they agree bit
 * for bit, whatever the row's neighbours, the thread count or the schedule picked.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "attention_internal.h"

struct tsr_attn_plan {
    tsr_attn_desc d;
    const attn_kernels *kern;
    tsr_isa isa;
    int dim, dp;           /* head_dim, head_dim rounded up to 16 */
    int bc;                /* keys per KV tile (divides TSR_ATTN_KV_CHUNK) */
    int br;                /* rows per block (query tile / decode row block) */
    int64_t group;         /* q_heads / kv_heads */
    int64_t n_chunks;      /* ceil(kv_len / TSR_ATTN_KV_CHUNK) */
    float qmul;            /* scale * log2(e): Q is packed pre-multiplied */
    float bias_mul;        /* log2(e) */
};

/* ---- descriptor ------------------------------------------------------------------ */

/* Contiguous [heads][rows][cols] strides. A stride whose product overflows int64 is set
 * to INT64_MAX, which tsr_attn_desc_check refuses (TSR_ERANGE) if the layout is used. */
static void layout_contig(tsr_attn_layout *l, int64_t heads, int64_t rows, int64_t cols) {
    l->stride_row = cols;
    if (tsr_mul_i64(rows, cols, &l->stride_head)) l->stride_head = INT64_MAX;
    if (l->stride_head == INT64_MAX || tsr_mul_i64(heads, l->stride_head, &l->stride_batch))
        l->stride_batch = INT64_MAX;
    l->extent = 0;
}

tsr_status tsr_attn_desc_init(tsr_attn_desc *desc, int64_t batch, int64_t q_heads, int64_t kv_heads,
                              int64_t q_len, int64_t kv_len, int64_t head_dim) {
    TSR_CHECK_NULL(desc);
    memset(desc, 0, sizeof *desc);
    desc->size = sizeof *desc;
    desc->batch = batch;
    desc->q_heads = q_heads;
    desc->kv_heads = kv_heads;
    desc->q_len = q_len;
    desc->kv_len = kv_len;
    desc->head_dim = head_dim;
    desc->q_dtype = desc->k_dtype = desc->v_dtype = desc->o_dtype = TSR_DTYPE_F32;
    desc->window_left = desc->window_right = -1;
    /* products may overflow for absurd shapes; tsr_attn_desc_check catches the strides */
    if (batch > 0 && q_heads > 0 && kv_heads > 0 && q_len > 0 && kv_len > 0 && head_dim > 0 &&
        q_heads < (1ll << 20) && q_len < (1ll << 40) / q_heads && kv_len < (1ll << 40) / kv_heads &&
        head_dim <= TSR_ATTN_MAX_HEAD_DIM) {
        layout_contig(&desc->q, q_heads, q_len, head_dim);
        layout_contig(&desc->o, q_heads, q_len, head_dim);
        layout_contig(&desc->k, kv_heads, kv_len, head_dim);
        layout_contig(&desc->v, kv_heads, kv_len, head_dim);
        layout_contig(&desc->lse, q_heads, q_len, 1);
        layout_contig(&desc->bits, q_heads, q_len, kv_len);
        layout_contig(&desc->bias, q_heads, q_len, kv_len);
    }
    return TSR_OK;
}

static int dtype_ok(tsr_dtype t) {
    return t == TSR_DTYPE_F32 || t == TSR_DTYPE_BF16 || t == TSR_DTYPE_F16;
}

/* Largest element offset + 1 touched by a [B][H][R][C] walk of layout l. */
static tsr_status layout_check(const char *name, const tsr_attn_layout *l, int64_t b, int64_t h,
                               int64_t r, int64_t cols) {
    if (l->stride_batch < 0 || l->stride_head < 0 || l->stride_row < 0 || l->extent < 0)
        return tsr_error(TSR_EINVAL,
                         "tsr_attention: layout '%s' has a negative stride or extent "
                         "(batch %lld, head %lld, row %lld, extent %lld)",
                         name, (long long)l->stride_batch, (long long)l->stride_head,
                         (long long)l->stride_row, (long long)l->extent);
    int64_t a, c, e, span;
    if (tsr_mul_i64(b - 1, l->stride_batch, &a) || tsr_mul_i64(h - 1, l->stride_head, &c) ||
        tsr_mul_i64(r - 1, l->stride_row, &e) || tsr_add_i64(a, c, &span) ||
        tsr_add_i64(span, e, &span) || tsr_add_i64(span, cols, &span))
        return tsr_error(TSR_ERANGE, "tsr_attention: layout '%s': offsets overflow int64", name);
    if (l->extent > 0 && span > l->extent)
        return tsr_error(TSR_ERANGE,
                         "tsr_attention: layout '%s' reaches element %lld but its extent is %lld",
                         name, (long long)(span - 1), (long long)l->extent);
    if (span > (INT64_MAX >> 4))
        return tsr_error(TSR_ERANGE, "tsr_attention: layout '%s' spans %lld elements (too large)",
                         name, (long long)span);
    return TSR_OK;
}

tsr_status tsr_attn_desc_check(const tsr_attn_desc *d) {
    TSR_CHECK_NULL(d);
    TSR_CHECK_ARG(d->size >= sizeof(tsr_attn_desc),
                  "tsr_attention: desc->size is %u, expected %zu (set it to sizeof(tsr_attn_desc))",
                  d->size, sizeof(tsr_attn_desc));
#define POS(f)                                                                                   \
    TSR_CHECK_ARG(d->f >= 1, "tsr_attention: desc->" #f " must be >= 1 (got %lld)", (long long)d->f)
    POS(batch); POS(q_heads); POS(kv_heads); POS(q_len); POS(kv_len); POS(head_dim);
#undef POS
    TSR_CHECK_ARG(d->head_dim <= TSR_ATTN_MAX_HEAD_DIM,
                  "tsr_attention: head_dim %lld exceeds the maximum %d", (long long)d->head_dim,
                  TSR_ATTN_MAX_HEAD_DIM);
    TSR_CHECK_ARG(d->q_heads % d->kv_heads == 0,
                  "tsr_attention: q_heads (%lld) must be a multiple of kv_heads (%lld)",
                  (long long)d->q_heads, (long long)d->kv_heads);
    TSR_CHECK_ARG(d->q_heads <= (1 << 24), "tsr_attention: q_heads %lld is too large",
                  (long long)d->q_heads);
    TSR_CHECK_ARG(d->q_len <= (1ll << 32) && d->kv_len <= (1ll << 40),
                  "tsr_attention: q_len %lld / kv_len %lld too large", (long long)d->q_len,
                  (long long)d->kv_len);
    /* every task count (prefill and decode) is at most batch × q_heads × q_len */
    int64_t rows;
    if (tsr_mul_i64(d->batch, d->q_heads, &rows) || tsr_mul_i64(rows, d->q_len, &rows))
        return tsr_error(TSR_ERANGE,
                         "tsr_attention: batch %lld × q_heads %lld × q_len %lld query rows overflow int64",
                         (long long)d->batch, (long long)d->q_heads, (long long)d->q_len);
    TSR_CHECK_ARG(dtype_ok(d->q_dtype), "tsr_attention: q_dtype %d must be f32, bf16 or f16", (int)d->q_dtype);
    TSR_CHECK_ARG(dtype_ok(d->k_dtype), "tsr_attention: k_dtype %d must be f32, bf16 or f16", (int)d->k_dtype);
    TSR_CHECK_ARG(dtype_ok(d->v_dtype), "tsr_attention: v_dtype %d must be f32, bf16 or f16", (int)d->v_dtype);
    TSR_CHECK_ARG(dtype_ok(d->o_dtype), "tsr_attention: o_dtype %d must be f32, bf16 or f16", (int)d->o_dtype);
    TSR_CHECK_ARG(isfinite(d->scale), "tsr_attention: scale must be finite (got %g)", (double)d->scale);
    TSR_CHECK_ARG(d->causal == 0 || d->causal == 1, "tsr_attention: causal must be 0 or 1 (got %d)", d->causal);
    TSR_CHECK_ARG(d->window_left >= -1, "tsr_attention: window_left must be >= -1 (got %lld)",
                  (long long)d->window_left);
    TSR_CHECK_ARG(d->window_right >= -1, "tsr_attention: window_right must be >= -1 (got %lld)",
                  (long long)d->window_right);
    TSR_CHECK_ARG(d->has_bitset == 0 || d->has_bitset == 1, "tsr_attention: has_bitset must be 0 or 1");
    TSR_CHECK_ARG(d->has_bias == 0 || d->has_bias == 1, "tsr_attention: has_bias must be 0 or 1");
    TSR_CHECK_ARG(d->want_lse == 0 || d->want_lse == 1, "tsr_attention: want_lse must be 0 or 1");
    TSR_TRY(layout_check("q", &d->q, d->batch, d->q_heads, d->q_len, d->head_dim));
    TSR_TRY(layout_check("k", &d->k, d->batch, d->kv_heads, d->kv_len, d->head_dim));
    TSR_TRY(layout_check("v", &d->v, d->batch, d->kv_heads, d->kv_len, d->head_dim));
    TSR_TRY(layout_check("o", &d->o, d->batch, d->q_heads, d->q_len, d->head_dim));
    TSR_CHECK_ARG(d->q_len == 1 || d->o.stride_row >= d->head_dim,
                  "tsr_attention: o.stride_row %lld < head_dim %lld would overlap output rows",
                  (long long)d->o.stride_row, (long long)d->head_dim);
    TSR_CHECK_ARG(d->q_heads == 1 || d->o.stride_head > 0,
                  "tsr_attention: o.stride_head must be > 0 when q_heads > 1");
    if (d->want_lse) TSR_TRY(layout_check("lse", &d->lse, d->batch, d->q_heads, d->q_len, 1));
    if (d->has_bitset) TSR_TRY(layout_check("bits", &d->bits, d->batch, d->q_heads, d->q_len, d->kv_len));
    if (d->has_bias) TSR_TRY(layout_check("bias", &d->bias, d->batch, d->q_heads, d->q_len, d->kv_len));
    return TSR_OK;
}

/* ---- plans ------------------------------------------------------------------------- */

/* The kernel selector (tsr_kernels.h): reference table, then the overrides per level. */
static void attn_overlay(void *dst, const void *src) {
    attn_kernels *d = dst;
    const attn_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, pack_kt);
    TSR_KERNEL_INHERIT(d, o, pack_rows);
    TSR_KERNEL_INHERIT(d, o, softmax);
    if (o->qk) { d->qk = o->qk; d->qk_rows = o->qk_rows; d->qk_mr = o->qk_mr; d->qk_nr = o->qk_nr; }
    if (o->pv) {
        d->pv = o->pv; d->pv_bf16 = o->pv_bf16; d->pv_f16 = o->pv_f16; d->pv_mr = o->pv_mr; d->pv_nr = o->pv_nr;
    }
}

static const void *const attn_overrides[] = {
#if TSR_X86
    &tsr_attn_kernels_avx2, &tsr_attn_kernels_avx512,
#endif
    NULL};
static attn_kernels attn_tables[TSR_ISA_COUNT];
static tsr_kernel_registry attn_registry =
    TSR_KERNEL_REGISTRY("attention", attn_kernels, &tsr_attn_kernels_ref, attn_overrides, attn_overlay, attn_tables);

static const attn_kernels *kernels_for(tsr_isa isa) { return tsr_kernels_select(&attn_registry, isa); }

static void plan_shape(struct tsr_attn_plan *p, const tsr_attn_desc *d);

/* Fills a plan; the KV tile width depends only on head_dim and the L1 size, so that every
 * call on this machine cuts the keys the same way. */
static tsr_status plan_init(struct tsr_attn_plan *p, const tsr_attn_desc *d, tsr_isa isa) {
    TSR_TRY(tsr_attn_desc_check(d));
    memset(p, 0, sizeof *p);
    p->isa = isa;
    p->kern = kernels_for(isa);
    p->dim = (int)d->head_dim;
    p->dp = attn_round16(p->dim);
    tsr_topology_info topo = {.size = sizeof topo};
    int64_t l1 = 48 * 1024, l2 = 1024 * 1024;
    if (tsr_topology_info_get(&topo) == TSR_OK) {
        if (topo.l1d_bytes >= 16 * 1024) l1 = topo.l1d_bytes;
        if (topo.l2_bytes >= 128 * 1024) l2 = topo.l2_bytes;
    }
    /* K^T tile (d x bc) + V tile (bc x dp), f32, in about 3/4 of L1 */
    int bc = 256;
    while (bc > 64 && (int64_t)bc * (p->dim + p->dp) * 4 > l1 * 3 / 4) bc /= 2;
    p->bc = bc;
    /* query tile: Q, two accumulators and the score tile in about 1/4 of L2 */
    int br = 64;
    while (br > 16 && (int64_t)br * (3 * p->dp + bc) * 4 > l2 / 4) br /= 2;
    p->br = br;
    plan_shape(p, d);
    return TSR_OK;
}

/* The shape-dependent part of a plan (desc copy, windows, group, chunks, Q multiplier);
 * the tiles and kernels stay. `d` has passed tsr_attn_desc_check. */
static void plan_shape(struct tsr_attn_plan *p, const tsr_attn_desc *d) {
    memcpy(&p->d, d, sizeof *d);
    p->d.size = sizeof *d;
    /* A window that reaches past every key hides nothing: it is stored as unbounded (-1),
     * so the band arithmetic of row_range stays far from overflow (window values up to
     * INT64_MAX are valid). The band of every row, hence every bit, is unchanged:
     * c >= diag - L hides nothing when diag - L <= 0 for the last row (diag = kv_len - 1),
     * c <= diag + R hides nothing when diag + R >= kv_len - 1 for the first row
     * (diag = kv_len - q_len). */
    if (p->d.window_left >= d->kv_len - 1) p->d.window_left = -1;
    if (p->d.window_right >= d->q_len - 1) p->d.window_right = -1;
    p->group = d->q_heads / d->kv_heads;
    p->n_chunks = (d->kv_len + TSR_ATTN_KV_CHUNK - 1) / TSR_ATTN_KV_CHUNK;
    float scale = d->scale != 0.0f ? d->scale : (float)(1.0 / sqrt((double)d->head_dim));
    p->qmul = (float)((double)scale * ATTN_LOG2E);
    p->bias_mul = (float)ATTN_LOG2E;
}

tsr_status tsr_attn_plan_create(const tsr_attn_desc *desc, tsr_attn_plan_t **out) {
    TSR_CHECK_NULL(out);
    *out = NULL;
    TSR_CHECK_NULL(desc);
    struct tsr_attn_plan tmp;
    TSR_TRY(plan_init(&tmp, desc, tsr_isa_active()));
    struct tsr_attn_plan *p = tsr_malloc(sizeof *p);
    if (!p) return tsr_error(TSR_ENOMEM, "tsr_attn_plan_create: out of memory");
    *p = tmp;
    *out = p;
    return TSR_OK;
}

void tsr_attn_plan_destroy(tsr_attn_plan_t *plan) { tsr_free(plan); }

/* Split decode when the query rows are few and the keys span several chunks, or when
 * the prefill tasks cannot fill the workers. With GQA groups it is used for few query rows
 * even over one chunk: its tasks run a whole group over the keys, so K and V are packed
 * once per KV head instead of once per query head (SmolLM2 decode: 3× less packing). Both
 * schedules give the same bits. */
static int use_split(const struct tsr_attn_plan *p, int32_t nthreads) {
    const int few_rows = p->group * p->d.q_len <= p->br && p->d.q_len <= 16;
    if (p->n_chunks < 2) return few_rows && p->group > 1;
    if (few_rows) return 1;
    int64_t tasks = p->d.batch * p->d.q_heads * ((p->d.q_len + p->br - 1) / p->br);
    return tasks < nthreads && p->d.q_len <= 4 * p->br;
}

static tsr_status split_bytes(const struct tsr_attn_plan *p, size_t *bytes) {
    size_t n = 1;
    if (tsr_mul_size(n, (size_t)p->n_chunks, &n) || tsr_mul_size(n, (size_t)p->d.batch, &n) ||
        tsr_mul_size(n, (size_t)p->d.q_heads, &n) || tsr_mul_size(n, (size_t)p->d.q_len, &n) ||
        tsr_mul_size(n, (size_t)p->dim + 2, &n) || tsr_mul_size(n, sizeof(float), &n))
        return tsr_error(TSR_ERANGE, "tsr_attention: split-decode workspace size overflows");
    *bytes = n;
    return TSR_OK;
}

static tsr_status resolve_pool(tsr_pool_t **pool) {
    if (*pool) return TSR_OK;
    return tsr_pool_default(pool);
}

tsr_status tsr_attn_workspace_size(tsr_pool_t *pool, const tsr_attn_desc *desc, size_t *bytes) {
    TSR_CHECK_NULL(bytes);
    *bytes = 0;
    TSR_CHECK_NULL(desc);
    struct tsr_attn_plan p;
    TSR_TRY(plan_init(&p, desc, tsr_isa_active()));
    TSR_TRY(resolve_pool(&pool));
    if (!use_split(&p, tsr_pool_num_threads(pool))) return TSR_OK;
    return split_bytes(&p, bytes);
}

tsr_status tsr_attn_plan_describe(const tsr_attn_plan_t *plan, char *buf, size_t cap) {
    TSR_CHECK_NULL(plan);
    TSR_CHECK_NULL(buf);
    if (cap == 0) return TSR_OK;
    const tsr_attn_desc *d = &plan->d;
    snprintf(buf, cap,
             "isa=%s q_tile=%d kv_tile=%d kv_chunk=%d chunks=%lld group=%lld shape=[%lld,%lld/%lld,%lld,%lld,d=%lld] "
             "q=%s k=%s v=%s o=%s causal=%d window=(%lld,%lld) bitset=%d bias=%d",
             plan->kern->head.name, plan->br, plan->bc, TSR_ATTN_KV_CHUNK, (long long)plan->n_chunks,
             (long long)plan->group, (long long)d->batch, (long long)d->q_heads, (long long)d->kv_heads,
             (long long)d->q_len, (long long)d->kv_len, (long long)d->head_dim, tsr_dtype_name(d->q_dtype),
             tsr_dtype_name(d->k_dtype), tsr_dtype_name(d->v_dtype), tsr_dtype_name(d->o_dtype), d->causal,
             (long long)d->window_left, (long long)d->window_right, d->has_bitset, d->has_bias);
    return TSR_OK;
}

/* ---- per-worker scratch -------------------------------------------------------------- */

typedef struct {
    float *q, *kt, *v, *s;          /* br x dp, dim x bc, bc x dp, br x bc */
    float *m, *l, *alpha, *acc;     /* chunk state: br, br, br, br x dp */
    float *M, *L, *ACC;             /* folded state: br, br, br x dp */
    int64_t *lo, *hi;               /* visible keys [lo, hi] per row (hi < lo: none) */
    const float **bias;             /* bias row per row (NULL if none) */
    int64_t *bits;                  /* bit offset of key 0 for each row */
} attn_scratch;

static size_t scratch_layout(const struct tsr_attn_plan *p, attn_scratch *s, char *base) {
    size_t off = 0;
#define TAKE(field, type, count)                                                   \
    do {                                                                           \
        if (s) s->field = (type *)(void *)(base + off);                            \
        off += (((size_t)(count) * sizeof(type)) + 63) & ~(size_t)63;              \
    } while (0)
    size_t br = (size_t)p->br, dp = (size_t)p->dp, bc = (size_t)p->bc;
    TAKE(q, float, br * dp);
    TAKE(kt, float, (size_t)p->dim * bc);
    TAKE(v, float, bc * dp);
    TAKE(s, float, br * bc);
    TAKE(m, float, br);
    TAKE(l, float, br);
    TAKE(alpha, float, br);
    TAKE(acc, float, br * dp);
    TAKE(M, float, br);
    TAKE(L, float, br);
    TAKE(ACC, float, br * dp);
    TAKE(lo, int64_t, br);
    TAKE(hi, int64_t, br);
    TAKE(bias, const float *, br);
    TAKE(bits, int64_t, br);
#undef TAKE
    return off;
}

/* ---- the shared row-block machinery ------------------------------------------------ */

typedef struct {
    const struct tsr_attn_plan *p;
    const tsr_attn_args *a;
    tsr_pool_t *pool;
    float *parts;                 /* split decode partials */
    int64_t n_rowblocks;          /* decode: row blocks per (batch, kv head) */
    _Atomic int failed;
} attn_ctx;

/* Visible key range of query row i (bottom-right aligned band). No overflow: |diag| <=
 * 2^41 and plan_init bounds the windows by kv_len and q_len (larger ones become -1). */
static void row_range(const tsr_attn_desc *d, int64_t i, int64_t *lo, int64_t *hi) {
    int64_t diag = i + d->kv_len - d->q_len;
    int64_t l = 0, h = d->kv_len - 1;
    if (d->causal && diag < h) h = diag;
    if (d->window_right >= 0 && diag + d->window_right < h) h = diag + d->window_right;
    if (d->window_left >= 0 && diag - d->window_left > l) l = diag - d->window_left;
    *lo = l;
    *hi = h;
}

static inline const char *elem_ptr(const void *base, tsr_dtype dt, int64_t off) {
    return (const char *)base + off * (int64_t)tsr_dtype_size(dt);
}

/* Sets up row r of a block: packs its Q row (times scale*log2 e), its key range and masks. */
static void block_row(const attn_ctx *c, attn_scratch *s, int r, int64_t b, int64_t h, int64_t i) {
    const struct tsr_attn_plan *p = c->p;
    const tsr_attn_desc *d = &p->d;
    const void *q = elem_ptr(c->a->q, d->q_dtype, b * d->q.stride_batch + h * d->q.stride_head + i * d->q.stride_row);
    p->kern->pack_rows(s->q + (size_t)r * p->dp, p->dp, q, d->q_dtype, 0, 1, p->dim, p->qmul);
    row_range(d, i, &s->lo[r], &s->hi[r]);
    s->bias[r] = d->has_bias ? c->a->bias + b * d->bias.stride_batch + h * d->bias.stride_head + i * d->bias.stride_row
                             : NULL;
    s->bits[r] = d->has_bitset ? b * d->bits.stride_batch + h * d->bits.stride_head + i * d->bits.stride_row : 0;
}

/* The tile loops around the microkernels: S = Q K^T over qk_mr x qk_nr blocks, key
 * blocks outer (each K^T block stays in L1 across the row blocks). */
static inline void tile_qk(const attn_kernels *K, float *s, int lds, const float *q, int ldq, const float *kt,
                           int ldkt, int rows, int npad, int d) {
    const int mr = K->qk_mr, nr = K->qk_nr;
    for (int j0 = 0; j0 < npad; j0 += nr) {
        const int nc = npad - j0 < nr ? npad - j0 : nr;
        for (int r0 = 0; r0 < rows; r0 += mr)
            K->qk(s + (size_t)r0 * lds + j0, lds, q + (size_t)r0 * ldq, ldq, kt + j0, ldkt,
                  rows - r0 < mr ? rows - r0 : mr, nc, d);
    }
}

/* ACC = alpha ACC + P V over pv_mr x pv_nr blocks, column blocks outer. V rows are f32 (vdt
 * F32), or bf16 / f16 read in place by pv_bf16 / pv_f16. */
static inline void tile_pv(const attn_kernels *K, float *acc, int ldacc, const float *p, int ldp, const void *v,
                           tsr_dtype vdt, int ldv, const float *alpha, int rows, int n, int dp) {
    const int mr = K->pv_mr, nr = K->pv_nr;
    for (int e0 = 0; e0 < dp; e0 += nr) {
        const int nc = dp - e0 < nr ? dp - e0 : nr;
        for (int r0 = 0; r0 < rows; r0 += mr) {
            const int m = rows - r0 < mr ? rows - r0 : mr;
            if (vdt == TSR_DTYPE_BF16)
                K->pv_bf16(acc + (size_t)r0 * ldacc + e0, ldacc, p + (size_t)r0 * ldp, ldp, (const uint16_t *)v + e0,
                           ldv, alpha + r0, m, n, nc);
            else if (vdt == TSR_DTYPE_F16)
                K->pv_f16(acc + (size_t)r0 * ldacc + e0, ldacc, p + (size_t)r0 * ldp, ldp, (const uint16_t *)v + e0,
                          ldv, alpha + r0, m, n, nc);
            else
                K->pv(acc + (size_t)r0 * ldacc + e0, ldacc, p + (size_t)r0 * ldp, ldp, (const float *)v + e0, ldv,
                      alpha + r0, m, n, nc);
        }
    }
}

static void state_clear(float *m, float *l, float *acc, int rows, int dp) {
    for (int r = 0; r < rows; r++) { m[r] = -INFINITY; l[r] = 0.0f; }
    memset(acc, 0, (size_t)rows * dp * sizeof(float));
}

/* Runs the rows of a block over the keys of chunk `ch`, from an empty chunk state into
 * s->m/l/acc. kbase/vbase point at key 0 of the block's kv head. */
/* The keys any of the block's rows attends to: [*lo, *hi], or *hi = -1 when none does. */
static void rows_key_range(const attn_scratch *s, int rows, int64_t *lo, int64_t *hi) {
    *lo = INT64_MAX;
    *hi = -1;
    for (int r = 0; r < rows; r++)
        if (s->lo[r] <= s->hi[r]) {
            if (s->lo[r] < *lo) *lo = s->lo[r];
            if (s->hi[r] > *hi) *hi = s->hi[r];
        }
}

static void run_chunk(const attn_ctx *c, attn_scratch *s, int rows, int64_t ch, const void *kbase,
                      const void *vbase) {
    const struct tsr_attn_plan *p = c->p;
    const tsr_attn_desc *d = &p->d;
    const attn_kernels *K = p->kern;
    const int bc = p->bc, dp = p->dp, dim = p->dim;
    state_clear(s->m, s->l, s->acc, rows, dp);
    int64_t lo, hi;
    rows_key_range(s, rows, &lo, &hi);
    int64_t c_begin = ch * TSR_ATTN_KV_CHUNK, c_end = c_begin + TSR_ATTN_KV_CHUNK;
    if (c_end > d->kv_len) c_end = d->kv_len;
    if (hi < c_begin || lo >= c_end) return;                 /* no row sees this chunk */
    int64_t t0 = (lo > c_begin ? lo : c_begin) / bc, t1 = (hi < c_end - 1 ? hi : c_end - 1) / bc;
    const int extra = d->has_bias || d->has_bitset;
    /* pv reads dp = round16(dim) columns of V rows: f32 rows with dim % 16 == 0 are read in
     * place (decode spends ~10 % of its time copying them otherwise); same bits either way */
    const int v_in_place = (d->v_dtype == TSR_DTYPE_F32 || (d->v_dtype == TSR_DTYPE_BF16 && K->pv_bf16) ||
                            (d->v_dtype == TSR_DTYPE_F16 && K->pv_f16)) &&
                           dp == dim && d->v.stride_row <= INT32_MAX;
    const tsr_dtype vdt = v_in_place ? d->v_dtype : TSR_DTYPE_F32;  /* what tile_pv reads */
    /* a decode step's few rows: QK^T straight from the K rows (same bits as pack_kt + qk) */
    const int fused_qk = K->qk_rows && rows <= K->qk_mr;
    for (int64_t t = t0; t <= t1; t++) {
        int64_t k0 = t * bc;
        int n = (int)(d->kv_len - k0 < bc ? d->kv_len - k0 : bc);
        int npad = attn_round16(n);
        const char *krows = elem_ptr(kbase, d->k_dtype, k0 * d->k.stride_row);
        if (!fused_qk)
            K->pack_kt(s->kt, bc, krows, d->k_dtype, d->k.stride_row, n, npad, dim);
        const void *vt = s->v;
        int ldv = dp;
        if (v_in_place) {  /* f32 (or bf16 / f16 for pv_bf16 / pv_f16) rows in the layout pv reads: no copy */
            vt = elem_ptr(vbase, d->v_dtype, k0 * d->v.stride_row);
            ldv = (int)d->v.stride_row;
        } else {
            K->pack_rows(s->v, dp, elem_ptr(vbase, d->v_dtype, k0 * d->v.stride_row), d->v_dtype, d->v.stride_row,
                         n, dim, 1.0f);
        }
        if (fused_qk)
            K->qk_rows(s->s, bc, s->q, dp, krows, d->k_dtype, d->k.stride_row, rows, n, npad, dim);
        else
            tile_qk(K, s->s, bc, s->q, dp, s->kt, bc, rows, npad, dim);
        int full = 1;
        for (int r = 0; r < rows && full; r++)
            if (s->lo[r] > k0 || s->hi[r] < k0 + n - 1) full = 0;
        if (!full || extra) {
            for (int r = 0; r < rows; r++) {
                float *sr = s->s + (size_t)r * bc;
                if (s->bias[r]) {
                    const float *br = s->bias[r] + k0;
                    for (int j = 0; j < n; j++) sr[j] += br[j] * p->bias_mul;
                }
                if (d->has_bitset) {
                    const uint64_t *w = c->a->mask_bits;
                    int64_t b0 = s->bits[r] + k0;
                    for (int j = 0; j < n; j++) {
                        int64_t bi = b0 + j;
                        if (!((w[bi >> 6] >> (bi & 63)) & 1u)) sr[j] = -INFINITY;
                    }
                }
                int64_t jl = s->lo[r] - k0, jh = s->hi[r] - k0;  /* visible columns [jl, jh] */
                if (jh < jl) jl = n, jh = -1;
                for (int j = 0; j < n; j++)
                    if (j < jl || j > jh) sr[j] = -INFINITY;
            }
        }
        K->softmax(s->s, bc, rows, n, npad, s->m, s->l, s->alpha);
        tile_pv(K, s->acc, dp, s->s, bc, vt, vdt, ldv, s->alpha, rows, n, dp);
    }
}

/* Folds one chunk state (m, l, acc[dp]) into the running state (M, L, ACC[dp]). The same
 * code serves both schedules; empty states are exact identities. */
static void fold_row(float *M, float *L, float *ACC, float m, float l, const float *acc, int dim) {
    if (m == -INFINITY) return;
    if (*M == -INFINITY) {
        *M = m;
        *L = l;
        memcpy(ACC, acc, (size_t)dim * sizeof(float));
        return;
    }
    float mn = *M > m ? *M : m;
    if (m != m) mn = m;
    float a = exp2f(*M - mn), b = exp2f(m - mn);
    *L = *L * a + l * b;
    for (int e = 0; e < dim; e++) ACC[e] = ACC[e] * a + acc[e] * b;
    *M = mn;
}

/* Writes the final O row and LSE of query (b, h, i) from a folded state. */
static void finish_row(const attn_ctx *c, int64_t b, int64_t h, int64_t i, float M, float L, const float *ACC) {
    const tsr_attn_desc *d = &c->p->d;
    const int dim = c->p->dim;
    int64_t off = b * d->o.stride_batch + h * d->o.stride_head + i * d->o.stride_row;
    int empty = (M == -INFINITY) || L == 0.0f;
    float inv = empty ? 0.0f : 1.0f / L;
    switch (d->o_dtype) {
    case TSR_DTYPE_F32: {
        float *o = (float *)c->a->o + off;
        for (int e = 0; e < dim; e++) o[e] = empty ? 0.0f : ACC[e] * inv;
        break;
    }
    case TSR_DTYPE_BF16: {
        uint16_t *o = (uint16_t *)c->a->o + off;
        for (int e = 0; e < dim; e++) o[e] = tsr_f32_to_bf16(empty ? 0.0f : ACC[e] * inv);
        break;
    }
    default: {
        uint16_t *o = (uint16_t *)c->a->o + off;
        for (int e = 0; e < dim; e++) o[e] = tsr_f32_to_f16(empty ? 0.0f : ACC[e] * inv);
        break;
    }
    }
    if (d->want_lse) {
        float lse = empty ? -INFINITY : (float)((double)M * ATTN_LN2 + log((double)L));
        c->a->lse[b * d->lse.stride_batch + h * d->lse.stride_head + i * d->lse.stride_row] = lse;
    }
}

static attn_scratch *get_scratch(attn_ctx *c, int32_t worker, attn_scratch *s) {
    size_t bytes = scratch_layout(c->p, NULL, NULL);
    char *base = tsr_pool_scratch(c->pool, worker, bytes);
    if (!base) {
        atomic_store(&c->failed, 1);
        return NULL;
    }
    scratch_layout(c->p, s, base);
    return s;
}

/* The rows of a block (set up by block_row) over every KV chunk their masks reach, in key
 * order, each chunk's state folded into the running one: what a task of the prefill schedule
 * and of tsr_attention_batch does between its block_row and finish_row calls. */
static void walk_chunks(const attn_ctx *c, attn_scratch *s, int rows, const void *kbase, const void *vbase) {
    const int dp = c->p->dp;
    state_clear(s->M, s->L, s->ACC, rows, dp);
    int64_t lo, hi;
    rows_key_range(s, rows, &lo, &hi);
    if (hi < 0) return;
    for (int64_t ch = lo / TSR_ATTN_KV_CHUNK; ch <= hi / TSR_ATTN_KV_CHUNK; ch++) {
        run_chunk(c, s, rows, ch, kbase, vbase);
        for (int r = 0; r < rows; r++)
            fold_row(&s->M[r], &s->L[r], s->ACC + (size_t)r * dp, s->m[r], s->l[r],
                     s->acc + (size_t)r * dp, c->p->dim);
    }
}

/* ---- prefill schedule ------------------------------------------------------------------- */

static void prefill_range(void *ctx, int64_t begin, int64_t end, int32_t worker) {
    attn_ctx *c = ctx;
    const struct tsr_attn_plan *p = c->p;
    const tsr_attn_desc *d = &p->d;
    attn_scratch S, *s = get_scratch(c, worker, &S);
    if (!s) return;
    const int64_t qtiles = (d->q_len + p->br - 1) / p->br;
    const int dp = p->dp;
    for (int64_t task = begin; task < end; task++) {
        int64_t qt = task % qtiles, bh = task / qtiles, h = bh % d->q_heads, b = bh / d->q_heads;
        int64_t kvh = h / p->group;
        int64_t i0 = qt * p->br;
        int rows = (int)(d->q_len - i0 < p->br ? d->q_len - i0 : p->br);
        for (int r = 0; r < rows; r++) block_row(c, s, r, b, h, i0 + r);
        const void *kbase = elem_ptr(c->a->k, d->k_dtype, b * d->k.stride_batch + kvh * d->k.stride_head);
        const void *vbase = elem_ptr(c->a->v, d->v_dtype, b * d->v.stride_batch + kvh * d->v.stride_head);
        walk_chunks(c, s, rows, kbase, vbase);
        for (int r = 0; r < rows; r++) finish_row(c, b, h, i0 + r, s->M[r], s->L[r], s->ACC + (size_t)r * dp);
    }
}

/* ---- split-decode schedule ------------------------------------------------------------- */

/* Decode rows of a (batch, kv head): r = hh * q_len + i for group head hh and query row i.
 * Partial slot of (b, kvh, row, chunk): parts + ((((b*kvh_count + kvh) * R + row) * n_chunks + ch) * (dim+2)). */
static inline float *part_slot(const attn_ctx *c, int64_t b, int64_t kvh, int64_t row, int64_t ch) {
    const struct tsr_attn_plan *p = c->p;
    int64_t R = p->group * p->d.q_len;
    return c->parts + ((((b * p->d.kv_heads + kvh) * R + row) * p->n_chunks + ch) * (p->dim + 2));
}

static void decode_chunk_range(void *ctx, int64_t begin, int64_t end, int32_t worker) {
    attn_ctx *c = ctx;
    const struct tsr_attn_plan *p = c->p;
    const tsr_attn_desc *d = &p->d;
    attn_scratch S, *s = get_scratch(c, worker, &S);
    if (!s) return;
    const int64_t R = p->group * d->q_len;
    const int dp = p->dp;
    for (int64_t task = begin; task < end; task++) {
        /* chunk fastest, so neighbouring tasks stream neighbouring keys */
        int64_t ch = task % p->n_chunks, rest = task / p->n_chunks;
        int64_t rb = rest % c->n_rowblocks, bk = rest / c->n_rowblocks;
        int64_t kvh = bk % d->kv_heads, b = bk / d->kv_heads;
        int64_t r0 = rb * p->br;
        int rows = (int)(R - r0 < p->br ? R - r0 : p->br);
        for (int r = 0; r < rows; r++) {
            int64_t row = r0 + r, hh = row / d->q_len, i = row % d->q_len;
            block_row(c, s, r, b, kvh * p->group + hh, i);
        }
        const void *kbase = elem_ptr(c->a->k, d->k_dtype, b * d->k.stride_batch + kvh * d->k.stride_head);
        const void *vbase = elem_ptr(c->a->v, d->v_dtype, b * d->v.stride_batch + kvh * d->v.stride_head);
        run_chunk(c, s, rows, ch, kbase, vbase);
        if (p->n_chunks == 1) {  /* nothing to wait for: fold (the same code) and finish here */
            for (int r = 0; r < rows; r++) {
                int64_t row = r0 + r, hh = row / d->q_len, i = row % d->q_len;
                float M = -INFINITY, L = 0.0f;
                fold_row(&M, &L, s->ACC, s->m[r], s->l[r], s->acc + (size_t)r * dp, p->dim);
                finish_row(c, b, kvh * p->group + hh, i, M, L, s->ACC);
            }
            continue;
        }
        for (int r = 0; r < rows; r++) {
            float *slot = part_slot(c, b, kvh, r0 + r, ch);
            slot[0] = s->m[r];
            slot[1] = s->l[r];
            memcpy(slot + 2, s->acc + (size_t)r * dp, (size_t)p->dim * sizeof(float));
        }
    }
}

static void decode_fold_range(void *ctx, int64_t begin, int64_t end, int32_t worker) {
    attn_ctx *c = ctx;
    const struct tsr_attn_plan *p = c->p;
    const tsr_attn_desc *d = &p->d;
    attn_scratch S, *s = get_scratch(c, worker, &S);
    if (!s) return;
    const int64_t R = p->group * d->q_len;
    for (int64_t task = begin; task < end; task++) {      /* one task per (b, kvh, row) */
        int64_t row = task % R, bk = task / R, kvh = bk % d->kv_heads, b = bk / d->kv_heads;
        int64_t hh = row / d->q_len, i = row % d->q_len;
        float M = -INFINITY, L = 0.0f;
        for (int64_t ch = 0; ch < p->n_chunks; ch++) {
            const float *slot = part_slot(c, b, kvh, row, ch);
            fold_row(&M, &L, s->ACC, slot[0], slot[1], slot + 2, p->dim);
        }
        finish_row(c, b, kvh * p->group + hh, i, M, L, s->ACC);
    }
}

/* ---- execute ------------------------------------------------------------------------------ */

static tsr_status check_args(const struct tsr_attn_plan *p, const tsr_attn_args *a) {
    TSR_CHECK_NULL(a);
    TSR_CHECK_ARG(a->size >= sizeof(tsr_attn_args),
                  "tsr_attention: args->size is %u, expected %zu (set it to sizeof(tsr_attn_args))",
                  a->size, sizeof(tsr_attn_args));
    TSR_CHECK_ARG(a->q != NULL, "tsr_attention: args->q is NULL");
    TSR_CHECK_ARG(a->k != NULL, "tsr_attention: args->k is NULL");
    TSR_CHECK_ARG(a->v != NULL, "tsr_attention: args->v is NULL");
    TSR_CHECK_ARG(a->o != NULL, "tsr_attention: args->o is NULL");
    TSR_CHECK_ARG(!p->d.want_lse || a->lse != NULL, "tsr_attention: desc->want_lse is set but args->lse is NULL");
    TSR_CHECK_ARG(!p->d.has_bitset || a->mask_bits != NULL,
                  "tsr_attention: desc->has_bitset is set but args->mask_bits is NULL");
    TSR_CHECK_ARG(!p->d.has_bias || a->bias != NULL, "tsr_attention: desc->has_bias is set but args->bias is NULL");
    return TSR_OK;
}

static tsr_status execute(tsr_pool_t *pool, const struct tsr_attn_plan *p, const tsr_attn_args *a) {
    TSR_TRY(check_args(p, a));
    TSR_TRY(resolve_pool(&pool));
    attn_ctx c = {.p = p, .a = a, .pool = pool};
    atomic_init(&c.failed, 0);
    const tsr_attn_desc *d = &p->d;
    int32_t nt = tsr_pool_num_threads(pool);
    tsr_status st;
    if (use_split(p, nt)) {
        size_t need = 0;
        TSR_TRY(split_bytes(p, &need));
        void *own = NULL;
        if (a->workspace && a->workspace_bytes >= need) {
            c.parts = a->workspace;
        } else {
            own = tsr_malloc(need);
            if (!own) return tsr_error(TSR_ENOMEM, "tsr_attention: cannot allocate %zu bytes of workspace", need);
            c.parts = own;
        }
        int64_t R = p->group * d->q_len;
        c.n_rowblocks = (R + p->br - 1) / p->br;
        int64_t tasks = d->batch * d->kv_heads * c.n_rowblocks * p->n_chunks;
        st = tsr_parallel_for(pool, tasks, 1, TSR_SCHEDULE_DYNAMIC, decode_chunk_range, &c);
        if (st == TSR_OK && !atomic_load(&c.failed) && p->n_chunks > 1)
            st = tsr_parallel_for(pool, d->batch * d->kv_heads * R, 0, TSR_SCHEDULE_DYNAMIC, decode_fold_range, &c);
        tsr_free(own);
    } else {
        int64_t tasks = d->batch * d->q_heads * ((d->q_len + p->br - 1) / p->br);
        st = tsr_parallel_for(pool, tasks, 1, TSR_SCHEDULE_DYNAMIC, prefill_range, &c);
    }
    if (st != TSR_OK) return st;
    if (atomic_load(&c.failed)) return tsr_error(TSR_ENOMEM, "tsr_attention: per-worker scratch allocation failed");
    return TSR_OK;
}

tsr_status tsr_attn_plan_execute(tsr_pool_t *pool, const tsr_attn_plan_t *plan, const tsr_attn_args *args) {
    TSR_CHECK_NULL(plan);
    return execute(pool, plan, args);
}

tsr_status tsr_attention(tsr_pool_t *pool, const tsr_attn_desc *desc, const tsr_attn_args *args) {
    TSR_CHECK_NULL(desc);
    TSR_CHECK_NULL(args);
    struct tsr_attn_plan p;
    TSR_TRY(plan_init(&p, desc, tsr_isa_active()));
    return execute(pool, &p, args);
}

/* ---- many sequences in one region ----------------------------------------------------- */

/* One call's sequences: seq s has a plan (the shared tiles, its own lengths), a context
 * (its buffers) and the tasks first[s] ..< first[s + 1]: (kv head, row block) pairs. */
typedef struct {
    struct tsr_attn_plan *plans;
    attn_ctx *ctxs;
    tsr_attn_args *args;
    int64_t *first;   /* n + 1 task offsets */
    int64_t n;
    int64_t ahead;    /* tasks between this one and the one this worker likely runs next */
} attn_batch;

/* The sequence of `task`: the last s with first[s] <= task (sequences without tasks do
 * not occur: each has >= 1). */
static int64_t batch_seq_of(const attn_batch *B, int64_t task) {
    int64_t lo = 0, hi = B->n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if (B->first[mid] <= task) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Bytes of K (and of V) a task prefetches for a later task: a decode step's short caches
 * whole; longer ones only their start (the streaming prefetch of the kernels takes over). */
#define ATTN_BATCH_PREFETCH_BYTES (64 * 1024)

/* Starts loading (into L2) the K and V rows of `task`, which a worker will likely run next:
 * a decode step reads every sequence's cache once, each a short cold stream, and the
 * kernels otherwise wait on its first misses (measured: over half of qk_rows' time at 16
 * sequences). A prefetch changes no result. */
static void batch_prefetch(const attn_batch *B, int64_t task) {
    if (task >= B->first[B->n]) return;
    int64_t s = batch_seq_of(B, task);
    const attn_ctx *c = &B->ctxs[s];
    const struct tsr_attn_plan *p = c->p;
    const tsr_attn_desc *d = &p->d;
    const int64_t R = p->group * d->q_len, nrb = (R + p->br - 1) / p->br;
    const int64_t kvh = (task - B->first[s]) / nrb;
    const void *tensors[2] = {elem_ptr(c->a->k, d->k_dtype, kvh * d->k.stride_head),
                              elem_ptr(c->a->v, d->v_dtype, kvh * d->v.stride_head)};
    const int64_t strides[2] = {d->k.stride_row * (int64_t)tsr_dtype_size(d->k_dtype),
                                d->v.stride_row * (int64_t)tsr_dtype_size(d->v_dtype)};
    const int64_t row_bytes = d->head_dim * (int64_t)tsr_dtype_size(d->k_dtype);
    for (int t = 0; t < 2; t++) {
        const char *base = tensors[t];
        int64_t budget = ATTN_BATCH_PREFETCH_BYTES;
        for (int64_t r = 0; r < d->kv_len && budget > 0; r++, budget -= row_bytes)
            for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(base + r * strides[t] + b, 0, 2);
    }
}

/* A task runs the rows of one row block of one (sequence, kv head) — the GQA group's heads
 * × the sequence's query rows, as a split-decode task — over every KV chunk in key order,
 * folding the chunk states as it goes: the same run_chunk / fold_row / finish_row in the
 * same order as both schedules of tsr_attention, hence the same bits per row. */
static void batch_range(void *ctx, int64_t begin, int64_t end, int32_t worker) {
    const attn_batch *B = ctx;
    int64_t s = batch_seq_of(B, begin);
    attn_scratch S, *sc = NULL;
    for (int64_t task = begin; task < end; task++) {
        while (task >= B->first[s + 1]) s++;
        batch_prefetch(B, task + B->ahead);
        attn_ctx *c = &B->ctxs[s];
        const struct tsr_attn_plan *p = c->p;
        const tsr_attn_desc *d = &p->d;
        if (!sc && !(sc = get_scratch(c, worker, &S))) return;  /* the layout is the same for all */
        const int64_t R = p->group * d->q_len, nrb = (R + p->br - 1) / p->br;
        const int64_t local = task - B->first[s], rb = local % nrb, kvh = local / nrb;
        const int64_t r0 = rb * p->br;
        const int rows = (int)(R - r0 < p->br ? R - r0 : p->br), dp = p->dp;
        for (int r = 0; r < rows; r++) {
            int64_t row = r0 + r;
            block_row(c, sc, r, 0, kvh * p->group + row / d->q_len, row % d->q_len);
        }
        const void *kbase = elem_ptr(c->a->k, d->k_dtype, kvh * d->k.stride_head);
        const void *vbase = elem_ptr(c->a->v, d->v_dtype, kvh * d->v.stride_head);
        walk_chunks(c, sc, rows, kbase, vbase);
        for (int r = 0; r < rows; r++) {
            int64_t row = r0 + r;
            finish_row(c, 0, kvh * p->group + row / d->q_len, row % d->q_len, sc->M[r], sc->L[r],
                       sc->ACC + (size_t)r * dp);
        }
    }
}

/* Checks every sequence and fills B (whose arrays the caller allocated for n). */
static tsr_status batch_prepare(attn_batch *B, tsr_pool_t *pool, const tsr_attn_desc *desc, int64_t n,
                                const tsr_attn_seq *seqs) {
    tsr_attn_desc d = *desc;
    d.q_len = seqs[0].q_len;
    d.kv_len = seqs[0].kv_len;
    struct tsr_attn_plan base;
    TSR_TRY(plan_init(&base, &d, tsr_isa_active()));
    B->first[0] = 0;
    for (int64_t s = 0; s < n; s++) {
        const tsr_attn_seq *q = &seqs[s];
        d.q_len = q->q_len;
        d.kv_len = q->kv_len;
        tsr_status st = tsr_attn_desc_check(&d);
        if (st != TSR_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", tsr_last_error());
            return tsr_error(st, "tsr_attention_batch: sequence %lld: %s", (long long)s, why);
        }
        TSR_CHECK_ARG(q->q && q->k && q->v && q->o,
                      "tsr_attention_batch: sequence %lld has a NULL q, k, v or o", (long long)s);
        TSR_CHECK_ARG(!d.want_lse || q->lse,
                      "tsr_attention_batch: desc->want_lse is set but sequence %lld has no lse", (long long)s);
        B->plans[s] = base;
        plan_shape(&B->plans[s], &d);
        B->args[s] = (tsr_attn_args){.size = sizeof(tsr_attn_args), .q = q->q, .k = q->k, .v = q->v,
                                     .o = q->o, .lse = q->lse};
        B->ctxs[s] = (attn_ctx){.p = &B->plans[s], .a = &B->args[s], .pool = pool};
        atomic_init(&B->ctxs[s].failed, 0);
        const struct tsr_attn_plan *p = &B->plans[s];
        int64_t R = p->group * q->q_len, tasks = d.kv_heads * ((R + p->br - 1) / p->br);
        if (tsr_add_i64(B->first[s], tasks, &B->first[s + 1]))
            return tsr_error(TSR_ERANGE, "tsr_attention_batch: the task count overflows int64");
    }
    return TSR_OK;
}

tsr_status tsr_attention_batch(tsr_pool_t *pool, const tsr_attn_desc *desc, int64_t n_seqs,
                               const tsr_attn_seq *seqs) {
    TSR_CHECK_NULL(desc);
    TSR_CHECK_NULL(seqs);
    TSR_CHECK_ARG(n_seqs >= 1 && n_seqs <= (1ll << 24),
                  "tsr_attention_batch: n_seqs must be in 1 .. 2^24 (got %lld)", (long long)n_seqs);
    TSR_CHECK_ARG(desc->size >= sizeof(tsr_attn_desc),
                  "tsr_attention_batch: desc->size is %u, expected %zu", desc->size, sizeof(tsr_attn_desc));
    TSR_CHECK_ARG(desc->batch == 1, "tsr_attention_batch: desc->batch must be 1 (got %lld)", (long long)desc->batch);
    TSR_CHECK_ARG(!desc->has_bitset && !desc->has_bias,
                  "tsr_attention_batch: bitset and bias masks are not supported (per-sequence shapes)");
    TSR_TRY(resolve_pool(&pool));
    size_t each = sizeof(struct tsr_attn_plan) + sizeof(attn_ctx) + sizeof(tsr_attn_args) + sizeof(int64_t);
    char *mem = tsr_malloc(each * (size_t)n_seqs + sizeof(int64_t));
    if (!mem) return tsr_error(TSR_ENOMEM, "tsr_attention_batch: out of memory for %lld sequences", (long long)n_seqs);
    attn_batch B = {.n = n_seqs};
    B.plans = (struct tsr_attn_plan *)(void *)mem;
    B.ctxs = (attn_ctx *)(void *)(B.plans + n_seqs);
    B.args = (tsr_attn_args *)(void *)(B.ctxs + n_seqs);
    B.first = (int64_t *)(void *)(B.args + n_seqs);
    tsr_status st = batch_prepare(&B, pool, desc, n_seqs, seqs);
    B.ahead = tsr_pool_num_threads(pool);
    if (st == TSR_OK) {   /* the first tasks' rows: each worker's first task, before the region */
        for (int64_t t = 0; t < B.ahead; t++) batch_prefetch(&B, t);
    }
    if (st == TSR_OK) st = tsr_parallel_for(pool, B.first[n_seqs], 1, TSR_SCHEDULE_DYNAMIC, batch_range, &B);
    if (st == TSR_OK)
        for (int64_t s = 0; s < n_seqs; s++)
            if (atomic_load(&B.ctxs[s].failed)) {
                st = tsr_error(TSR_ENOMEM, "tsr_attention_batch: per-worker scratch allocation failed");
                break;
            }
    tsr_free(mem);
    return st;
}
