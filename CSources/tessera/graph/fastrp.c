/*
 * fastrp.c — FastRP node embeddings (Chen et al., CIKM 2019), formulas in
 * include/tessera/graph.h. R is exactly tsr_rp with (D = n, d = dim, kind,
 * s, seed), so a caller can rebuild every entry with tsr_rp_entry.
 *
 * Every step is row-parallel over fixed chunks and every reduction (row norms,
 * column statistics) runs in a fixed order, so embeddings are bit-identical for
 * any thread count; the one-shot tsr_fastrp_embed and the cached
 * create/compute/combine path give the same bits too.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "graph_internal.h"

#define FRP_ROWS_PER_CHUNK 1024
#define FRP_STAT_ROWS 4096
#define FRP_HUGE_BYTES ((size_t)2 << 20)

void tsr_fastrp_params_default(tsr_fastrp_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->dim = 128;
    p->q = 4;
    p->weights[0] = 1.0;
    p->weights[1] = 1.0;
    p->weights[2] = 7.81;
    p->weights[3] = 45.28;
    p->beta = -0.628;
    p->s = TSR_RP_S_AUTO;
    p->projection = TSR_RP_SPARSE;
    p->seed = 42;
    p->matrix = TSR_GRAPH_TRANSITION;
    p->normalize_rows = 0;
    p->standardize = 1;
}

struct tsr_fastrp {
    const tsr_graph_t *g;
    tsr_fastrp_params p;
    float *N[TSR_FASTRP_MAX_ITER];
    int32_t done;
};

static tsr_status check_params(const char *fn, const tsr_graph_t *g, const tsr_fastrp_params *in,
                               tsr_fastrp_params *p) {
    if (!g) return tsr_error(TSR_EINVAL, "%s: argument 'g' is NULL", fn);
    tsr_fastrp_params_default(p);
    if (in) {
        if (in->size < sizeof(tsr_fastrp_params))
            return tsr_error(TSR_EINVAL, "%s: params->size is %u, expected %zu", fn, in->size, sizeof(tsr_fastrp_params));
        *p = *in;
    }
    if (p->dim < 1) return tsr_error(TSR_EINVAL, "%s: dim must be >= 1 (got %d)", fn, p->dim);
    if (p->q < 1 || p->q > TSR_FASTRP_MAX_ITER)
        return tsr_error(TSR_EINVAL, "%s: q must be in 1..%d (got %d)", fn, TSR_FASTRP_MAX_ITER, p->q);
    for (int i = 0; i < p->q; i++)
        if (!isfinite(p->weights[i]))
            return tsr_error(TSR_EINVAL, "%s: weights[%d] is not finite", fn, i);
    if (!isfinite(p->beta)) return tsr_error(TSR_EINVAL, "%s: beta is not finite", fn);
    if (!isfinite(p->s) || (p->s != TSR_RP_S_AUTO && p->s < 1.0))
        return tsr_error(TSR_EINVAL, "%s: s must be >= 1 or TSR_RP_S_AUTO (got %g)", fn, p->s);
    if ((int)p->projection < 0 || p->projection >= TSR_RP_KIND_COUNT)
        return tsr_error(TSR_EINVAL, "%s: invalid projection %d", fn, (int)p->projection);
    if ((int)p->matrix < 0 || p->matrix >= TSR_GRAPH_MATRIX_COUNT)
        return tsr_error(TSR_EINVAL, "%s: invalid matrix %d", fn, (int)p->matrix);
    if ((p->normalize_rows != 0 && p->normalize_rows != 1) || (p->standardize != 0 && p->standardize != 1))
        return tsr_error(TSR_EINVAL, "%s: normalize_rows and standardize must be 0 or 1", fn);
    int64_t t;
    if (tsr_mul_i64(g->n, p->dim, &t) || tsr_mul_i64(t, 4, &t))
        return tsr_error(TSR_ERANGE, "%s: n × dim overflows", fn);
    return TSR_OK;
}

/* An n × d float buffer. Large ones are 2 MiB-aligned and advised for transparent huge pages:
 * first-touch faults on 4 KiB pages of fresh n × d buffers cost as much as a SpMM pass. */
static float *alloc_nd(const tsr_graph_t *g, int32_t d) {
    size_t bytes = (size_t)g->n * (size_t)d * sizeof(float);
    if (bytes < FRP_HUGE_BYTES) return tsr_malloc(bytes);
    float *p = tsr_malloc_aligned(bytes, FRP_HUGE_BYTES);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, (bytes + 4095) & ~(size_t)4095, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    return p;
}

/* ---- N1 = M · L · R, from the sparse rows of R ------------------------------------ */

/*
 * R has about d/s nonzeros per row (0.13 for n = 10^6, d = 128), so N1 is computed from
 * R's CSR instead of a dense L·R: row i of N1 applies, in CSR order, the same add (or fmaf
 * with the edge weight) per nonzero as the dense product would, then × 1/deg — the terms
 * the dense product adds are exact zeros, so the result is the same.
 */
typedef struct first_ctx {
    const tsr_graph_t *g;
    int32_t d;
    int transition;
    const int64_t *ip;      /* R's CSR */
    const int32_t *ix;
    const float *lv;        /* R entries × deg^β of their row, as float */
    float *n1;
} first_ctx;

static void first_rows(void *vc, int64_t begin, int64_t end, int32_t worker) {
    first_ctx *c = vc;
    const tsr_graph_t *g = c->g;
    for (int64_t i = begin; i < end; i++) {
        float *row = c->n1 + i * c->d;
        memset(row, 0, (size_t)c->d * sizeof(float));
        for (int64_t p = g->indptr[i]; p < g->indptr[i + 1]; p++) {
            int32_t j = g->indices[p];
            for (int64_t e = c->ip[j]; e < c->ip[j + 1]; e++) {
                float *t = row + c->ix[e];
                *t = g->weights ? fmaf(g->weights[p], c->lv[e], *t) : *t + c->lv[e];
            }
        }
        if (c->transition) {
            const float sc = g->inv_degree[i];
            for (int32_t k = 0; k < c->d; k++) row[k] = row[k] * sc;
        }
    }
}

typedef struct scale_ctx {
    const tsr_graph_t *g;
    double beta;
    const int64_t *ip;
    const double *v;
    float *lv;
} scale_ctx;

static void scale_rows(void *vc, int64_t begin, int64_t end, int32_t worker) {
    scale_ctx *c = vc;
    for (int64_t j = begin; j < end; j++) {
        double deg = c->g->degree[j];
        /* zero-degree nodes: deg^β would be inf for β < 0; they take factor 1 */
        double L = deg != 0 ? pow(fabs(deg), c->beta) : 1.0;
        for (int64_t e = c->ip[j]; e < c->ip[j + 1]; e++) c->lv[e] = (float)(c->v[e] * L);
    }
}

static tsr_status fastrp_first(tsr_pool_t *pool, const tsr_graph_t *g, const tsr_fastrp_params *p, float *n1) {
    tsr_rp_params rpp;
    tsr_rp_params_default(&rpp);
    rpp.kind = p->projection;
    rpp.s = p->s;
    rpp.seed = p->seed;
    tsr_rp_t *rp;
    TSR_TRY(tsr_rp_create(g->n, p->dim, &rpp, &rp));
    tsr_status st = tsr_rp_materialize(pool, rp);
    first_ctx c = {.g = g, .d = p->dim, .transition = p->matrix == TSR_GRAPH_TRANSITION, .n1 = n1};
    scale_ctx sc = {.g = g, .beta = p->beta};
    int64_t nnz = 0;
    float *lv = NULL;
    if (st == TSR_OK) st = tsr_rp_csr(rp, &c.ip, &c.ix, NULL, &sc.v, &nnz);
    if (st == TSR_OK && !(lv = tsr_malloc((size_t)nnz * sizeof(float) + 1)))
        st = tsr_error(TSR_ENOMEM, "fastrp: out of memory for R");
    sc.ip = c.ip;
    sc.lv = lv;
    c.lv = lv;
    if (st == TSR_OK) st = tsr_parallel_for(pool, g->n, FRP_ROWS_PER_CHUNK, TSR_SCHEDULE_DYNAMIC, scale_rows, &sc);
    if (st == TSR_OK) st = tsr_parallel_for(pool, g->n, FRP_ROWS_PER_CHUNK, TSR_SCHEDULE_DYNAMIC, first_rows, &c);
    tsr_free(lv);
    tsr_rp_destroy(rp);
    return st;
}

/* ---- combination: out = Σ αᵢ · rownorm?(Nᵢ), then column standardisation ------------- */

typedef struct comb_ctx {
    const float *const *N;
    const double *w;
    int32_t count, d, normalize, first, accumulate;
    graph_fma_row_fn fma_row;
    float *out;
    int64_t ldo;
} comb_ctx;

/* o[k] = fmaf(c, v[k], o[k]), c = (float)(w / ||v||) (or w without normalisation): one term of the sum */
static inline void combine_term(float *o, const float *v, int32_t d, double w, int normalize, graph_fma_row_fn fma_row) {
    double inv = 1.0;
    if (normalize) {
        double ss = 0;
        for (int32_t k = 0; k < d; k++) ss += (double)v[k] * v[k];
        inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
    }
    fma_row((float)(w * inv), v, o, d);
}

/* out[r,k] = fmaf(cᵢ, Nᵢ[r,k], out[r,k]) for i in order, cᵢ = (float)(αᵢ / ||Nᵢ[r,:]||) */
static void combine_rows(void *vc, int64_t begin, int64_t end, int32_t worker) {
    comb_ctx *c = vc;
    const int32_t d = c->d;
    for (int64_t r = begin; r < end; r++) {
        float *o = c->out + r * c->ldo;
        if (!c->accumulate) memset(o, 0, (size_t)d * sizeof(float));
        for (int32_t i = 0; i < c->count; i++)
            combine_term(o, c->N[i] + r * d, d, c->w[c->first + i], c->normalize, c->fma_row);
    }
}

/* ---- N₁ as a sparse matrix --------------------------------------------------------- */

/*
 * With a very sparse R, N₁ = M·L·R has only ~deg·d/s nonzeros per row (~2.6 of 128 on a
 * 10⁶-node graph of mean degree 20), so N₂ = M·N₁ gathers them instead of whole dense rows
 * (each stored entry of M read 512 bytes of N₁). Kept: every entry whose bits are not +0 —
 * adding +0 (or fmaf with a finite weight and +0) to an accumulator that started at +0 leaves it
 * unchanged (such a sum is never -0), so the sparse product gives the dense one's bits.
 */
typedef struct sparse_nd {
    int64_t *ptr;   /* n + 1 */
    uint8_t *k8;    /* column when d <= 256, else NULL */
    int32_t *k32;   /* column when d > 256 */
    float *v;
} sparse_nd;

static inline int frp_kept(const float *x) {
    uint32_t b;
    memcpy(&b, x, sizeof b);
    return b != 0;
}

typedef struct sp_ctx {
    const float *x;
    int32_t d;
    int64_t n;
    sparse_nd *sp;
    int pass;       /* 0: count per chunk of rows, 1: fill */
    int64_t *chunk_nnz;
} sp_ctx;

static void sparse_chunks(void *vc, int64_t begin, int64_t end, int32_t worker) {
    sp_ctx *c = vc;
    const int32_t d = c->d;
    for (int64_t ch = begin; ch < end; ch++) {
        int64_t r0 = ch * GRAPH_ROWS_PER_CHUNK, r1 = r0 + GRAPH_ROWS_PER_CHUNK < c->n ? r0 + GRAPH_ROWS_PER_CHUNK : c->n;
        if (c->pass == 0) {
            int64_t cnt = 0;
            for (int64_t r = r0; r < r1; r++)
                for (int32_t k = 0; k < d; k++) cnt += frp_kept(c->x + r * d + k);
            c->chunk_nnz[ch] = cnt;
            continue;
        }
        int64_t o = c->chunk_nnz[ch];
        for (int64_t r = r0; r < r1; r++) {
            c->sp->ptr[r] = o;
            for (int32_t k = 0; k < d; k++)
                if (frp_kept(c->x + r * d + k)) {
                    if (c->sp->k8) c->sp->k8[o] = (uint8_t)k;
                    else c->sp->k32[o] = k;
                    c->sp->v[o++] = c->x[r * d + k];
                }
        }
        if (r1 == c->n) c->sp->ptr[c->n] = o;
    }
}

/* N₁'s nonzeros (sp->ptr NULL and TSR_OK when they are more than 1/8 of n·d: the dense product is then used) */
static tsr_status sparse_build(tsr_pool_t *pool, const tsr_graph_t *g, const float *x, int32_t d, sparse_nd *sp) {
    memset(sp, 0, sizeof *sp);
    int64_t chunks = (g->n + GRAPH_ROWS_PER_CHUNK - 1) / GRAPH_ROWS_PER_CHUNK;
    int64_t *cn = tsr_malloc((size_t)chunks * sizeof(int64_t));
    if (!cn) return tsr_error(TSR_ENOMEM, "tsr_fastrp_embed: out of memory");
    sp_ctx c = {.x = x, .d = d, .n = g->n, .sp = sp, .pass = 0, .chunk_nnz = cn};
    tsr_status st = tsr_parallel_for(pool, chunks, 1, TSR_SCHEDULE_DYNAMIC, sparse_chunks, &c);
    int64_t nnz = 0;
    for (int64_t ch = 0; ch < chunks && st == TSR_OK; ch++) { int64_t t = cn[ch]; cn[ch] = nnz; nnz += t; }
    if (st != TSR_OK || (double)nnz * 8 > (double)g->n * d) { tsr_free(cn); return st; }
    sp->ptr = tsr_malloc(((size_t)g->n + 1) * sizeof(int64_t));
    if (d <= 256) sp->k8 = tsr_malloc((size_t)nnz + 1);
    else sp->k32 = tsr_malloc((size_t)nnz * sizeof(int32_t) + 1);
    sp->v = tsr_malloc((size_t)nnz * sizeof(float) + 1);
    if (!sp->ptr || (!sp->k8 && !sp->k32) || !sp->v) {
        tsr_free(cn);
        tsr_free(sp->ptr); tsr_free(sp->k8); tsr_free(sp->k32); tsr_free(sp->v);
        memset(sp, 0, sizeof *sp);
        return TSR_OK; /* no room: the dense product */
    }
    c.pass = 1;
    st = tsr_parallel_for(pool, chunks, 1, TSR_SCHEDULE_DYNAMIC, sparse_chunks, &c);
    tsr_free(cn);
    return st;
}

static void sparse_free(sparse_nd *sp) {
    tsr_free(sp->ptr); tsr_free(sp->k8); tsr_free(sp->k32); tsr_free(sp->v);
    memset(sp, 0, sizeof *sp);
}

/* Rows [r0, r1) of Y = M·X with X sparse: per column the dense kernel's operations in CSR order
 * (add, or fmaf with the weight), skipping the +0 terms, then × 1/deg. y points at row r0. */
static void spmm_sparse_rows(const tsr_graph_t *g, int transition, int32_t d, const sparse_nd *sp, float *y,
                             int64_t r0, int64_t r1) {
    const int64_t *ip = g->indptr;
    const int32_t *ix = g->indices;
    const float *wt = g->weights;
    for (int64_t i = r0; i < r1; i++) {
        float *acc = y + (i - r0) * d;
        memset(acc, 0, (size_t)d * sizeof(float));
        for (int64_t p = ip[i]; p < ip[i + 1]; p++) {
            if (p + 8 < ip[i + 1]) __builtin_prefetch(sp->ptr + ix[p + 8]);
            if (p + 4 < ip[i + 1]) __builtin_prefetch(sp->v + sp->ptr[ix[p + 4]]);
            const int32_t j = ix[p];
            const int64_t e0 = sp->ptr[j], e1 = sp->ptr[j + 1];
            if (wt) {
                const float w = wt[p];
                for (int64_t e = e0; e < e1; e++) {
                    const int32_t k = sp->k8 ? sp->k8[e] : sp->k32[e];
                    acc[k] = fmaf(w, sp->v[e], acc[k]);
                }
            } else {
                for (int64_t e = e0; e < e1; e++) acc[sp->k8 ? sp->k8[e] : sp->k32[e]] += sp->v[e];
            }
        }
        if (transition) {
            const float sc = g->inv_degree[i];
            for (int32_t k = 0; k < d; k++) acc[k] = acc[k] * sc;
        }
    }
}

/* One power i >= 2 fused with its term of the sum: per block of GRAPH_ROWS_PER_CHUNK rows, Nᵢ = M·Nᵢ₋₁
 * (the SpMM kernel) and at once out += cᵢ·Nᵢ on the rows still in cache — the same operations
 * as tsr_graph_spmm_f32 followed by combine_rows. The last power is never stored: its blocks go to
 * per-worker scratch. */
typedef struct step_ctx {
    const tsr_graph_t *g;
    graph_spmm_fn spmm;
    graph_fma_row_fn fma_row;
    int transition, normalize;
    int32_t d;
    double w;
    const float *x;     /* Nᵢ₋₁ */
    const sparse_nd *sp; /* Nᵢ₋₁ sparse, or NULL */
    float *y;           /* Nᵢ, or NULL: scratch */
    float *scratch;     /* per worker GRAPH_ROWS_PER_CHUNK × d */
    int nested;
    float *out;
    int64_t ldo;
} step_ctx;

static void step_chunks(void *vc, int64_t begin, int64_t end, int32_t worker) {
    step_ctx *c = vc;
    const int32_t d = c->d;
    for (int64_t ch = begin; ch < end; ch++) {
        int64_t r0 = ch * GRAPH_ROWS_PER_CHUNK, r1 = r0 + GRAPH_ROWS_PER_CHUNK < c->g->n ? r0 + GRAPH_ROWS_PER_CHUNK : c->g->n;
        float *yb = c->y ? c->y + r0 * d : c->scratch + (size_t)(c->nested ? 0 : worker) * GRAPH_ROWS_PER_CHUNK * d;
        if (c->sp) spmm_sparse_rows(c->g, c->transition, d, c->sp, yb, r0, r1);
        else c->spmm(c->g, c->transition, d, c->x, d, yb, d, r0, r1);
        for (int64_t r = r0; r < r1; r++)
            combine_term(c->out + r * c->ldo, yb + (r - r0) * d, d, c->w, c->normalize, c->fma_row);
    }
}

static tsr_status fastrp_step_fused(tsr_pool_t *pool, const tsr_graph_t *g, const tsr_fastrp_params *p, int32_t i,
                                    const float *x, const sparse_nd *sp, float *y, float *out, int64_t ldo) {
    int nested = tsr_pool_is_in_worker();
    int32_t nt = nested ? 1 : tsr_pool_num_threads(pool);
    if (nt < 1) nt = 1;
    float *scratch = NULL;
    if (!y && !(scratch = tsr_malloc((size_t)nt * GRAPH_ROWS_PER_CHUNK * p->dim * sizeof(float))))
        return tsr_error(TSR_ENOMEM, "tsr_fastrp_embed: out of memory for the per-worker scratch");
    step_ctx c = {.g = g, .spmm = graph_kernels_active()->spmm_rows, .fma_row = graph_kernels_active()->fma_row,
                  .transition = p->matrix == TSR_GRAPH_TRANSITION, .normalize = p->normalize_rows, .d = p->dim,
                  .w = p->weights[i], .x = x, .sp = sp, .y = y, .scratch = scratch, .nested = nested, .out = out, .ldo = ldo};
    tsr_status st = tsr_parallel_for(pool, (g->n + GRAPH_ROWS_PER_CHUNK - 1) / GRAPH_ROWS_PER_CHUNK, 1,
                                     TSR_SCHEDULE_DYNAMIC, step_chunks, &c);
    tsr_free(scratch);
    return st;
}

typedef struct stat_ctx {
    float *out;
    int64_t ldo, n;
    int32_t d;
    double *part;   /* chunks × d */
    const double *mean;
    const double *scale;
    int pass;       /* 0 sums, 1 centred squares, 2 apply */
} stat_ctx;

static void stat_chunks(void *vc, int64_t begin, int64_t end, int32_t worker) {
    stat_ctx *c = vc;
    for (int64_t ch = begin; ch < end; ch++) {
        int64_t r0 = ch * FRP_STAT_ROWS, r1 = r0 + FRP_STAT_ROWS < c->n ? r0 + FRP_STAT_ROWS : c->n;
        double *pp = c->part + ch * c->d;
        if (c->pass < 2) memset(pp, 0, (size_t)c->d * sizeof(double));
        for (int64_t r = r0; r < r1; r++) {
            float *o = c->out + r * c->ldo;
            if (c->pass == 0)
                for (int32_t k = 0; k < c->d; k++) pp[k] += o[k];
            else if (c->pass == 1)
                for (int32_t k = 0; k < c->d; k++) { double t = o[k] - c->mean[k]; pp[k] += t * t; }
            else
                for (int32_t k = 0; k < c->d; k++) o[k] = (float)((o[k] - c->mean[k]) * c->scale[k]);
        }
    }
}

/* Mean 0 and variance 1 per column (population variance, as sklearn's scale);
 * a column with (numerically) zero spread is only centred. */
static tsr_status standardize(tsr_pool_t *pool, float *out, int64_t ldo, int64_t n, int32_t d) {
    int64_t chunks = (n + FRP_STAT_ROWS - 1) / FRP_STAT_ROWS;
    double *part = tsr_malloc((size_t)chunks * d * sizeof(double));
    double *mean = tsr_malloc((size_t)d * sizeof(double)), *scale = tsr_malloc((size_t)d * sizeof(double));
    tsr_status st = TSR_OK;
    if (!part || !mean || !scale) { st = tsr_error(TSR_ENOMEM, "fastrp: out of memory"); goto done; }
    stat_ctx c = {.out = out, .ldo = ldo, .n = n, .d = d, .part = part, .mean = mean, .scale = scale};
    for (c.pass = 0; c.pass < 3 && st == TSR_OK; c.pass++) {
        st = tsr_parallel_for(pool, chunks, 1, TSR_SCHEDULE_DYNAMIC, stat_chunks, &c);
        if (c.pass == 2) break;
        for (int32_t k = 0; k < d; k++) {
            double s = 0;
            for (int64_t ch = 0; ch < chunks; ch++) s += part[ch * d + k];
            if (c.pass == 0) mean[k] = s / (double)n;
            else {
                double sd = sqrt(s / (double)n);
                scale[k] = sd < 10 * DBL_EPSILON * (fabs(mean[k]) > 1 ? fabs(mean[k]) : 1) ? 1.0 : 1.0 / sd;
            }
        }
    }
done:
    tsr_free(part);
    tsr_free(mean);
    tsr_free(scale);
    return st;
}

/* ---- one-shot ------------------------------------------------------------------------ */

tsr_status tsr_fastrp_embed(tsr_pool_t *pool, const tsr_graph_t *g, const tsr_fastrp_params *params, float *out,
                            int64_t ldo) {
    tsr_fastrp_params p;
    TSR_TRY(check_params("tsr_fastrp_embed", g, params, &p));
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(ldo >= p.dim, "tsr_fastrp_embed: ldo (%lld) must be >= dim (%d)", (long long)ldo, p.dim);
    int64_t t;
    if (tsr_mul_i64(g->n, ldo, &t) || tsr_mul_i64(t, 4, &t))
        return tsr_error(TSR_ERANGE, "tsr_fastrp_embed: n × ldo overflows");
    TSR_TRY(tsr_check_alloc("tsr_fastrp_embed", "2 buffers of n x dim floats", 8.0 * (double)g->n * p.dim));
    float *cur = alloc_nd(g, p.dim), *next = p.q > 2 ? alloc_nd(g, p.dim) : NULL;  /* Nᵢ₋₁ and Nᵢ */
    tsr_status st = TSR_OK;
    if (!cur || (p.q > 2 && !next)) { st = tsr_error(TSR_ENOMEM, "tsr_fastrp_embed: out of memory for 2 × %lld × %d floats",
                                        (long long)g->n, p.dim); goto done; }
    /* N₁ (sparse R), then each further power fused with its term of the sum; the last is not stored */
    st = fastrp_first(pool, g, &p, cur);
    if (st == TSR_OK) {
        const float *N1 = cur;
        comb_ctx c = {.N = &N1, .w = p.weights, .count = 1, .d = p.dim, .normalize = p.normalize_rows,
                      .first = 0, .accumulate = 0, .fma_row = graph_kernels_active()->fma_row, .out = out, .ldo = ldo};
        st = tsr_parallel_for(pool, g->n, FRP_ROWS_PER_CHUNK, TSR_SCHEDULE_DYNAMIC, combine_rows, &c);
    }
    sparse_nd sp = {0};
    if (st == TSR_OK && p.q > 1) st = sparse_build(pool, g, cur, p.dim, &sp);
    for (int32_t i = 1; i < p.q && st == TSR_OK; i++) {
        st = fastrp_step_fused(pool, g, &p, i, cur, i == 1 && sp.ptr ? &sp : NULL, i + 1 < p.q ? next : NULL, out, ldo);
        float *tmp = cur; cur = next; next = tmp;
    }
    sparse_free(&sp);
    if (st == TSR_OK && p.standardize) st = standardize(pool, out, ldo, g->n, p.dim);
done:
    tsr_free(cur);
    tsr_free(next);
    return st;
}

/* ---- cached --------------------------------------------------------------------------- */

tsr_status tsr_fastrp_create(const tsr_graph_t *g, const tsr_fastrp_params *params, tsr_fastrp_t **out) {
    TSR_CHECK_NULL(out);
    *out = NULL;
    tsr_fastrp_params p;
    TSR_TRY(check_params("tsr_fastrp_create", g, params, &p));
    TSR_TRY(tsr_check_alloc("tsr_fastrp_create", "the cache of q x n x dim floats", 4.0 * p.q * (double)g->n * p.dim));
    tsr_fastrp_t *fr = tsr_calloc(1, sizeof *fr);
    if (!fr) return tsr_error(TSR_ENOMEM, "tsr_fastrp_create: out of memory");
    fr->g = g;
    fr->p = p;
    *out = fr;
    return TSR_OK;
}

void tsr_fastrp_destroy(tsr_fastrp_t *fr) {
    if (!fr) return;
    for (int i = 0; i < TSR_FASTRP_MAX_ITER; i++) tsr_free(fr->N[i]);
    tsr_free(fr);
}

int32_t tsr_fastrp_steps_done(const tsr_fastrp_t *fr) { return fr ? fr->done : -1; }

tsr_status tsr_fastrp_step(tsr_pool_t *pool, tsr_fastrp_t *fr) {
    TSR_CHECK_NULL(fr);
    if (fr->done >= fr->p.q)
        return tsr_error(TSR_ESTATE, "tsr_fastrp_step: all %d iterations are computed", fr->p.q);
    const tsr_graph_t *g = fr->g;
    float *dst = alloc_nd(g, fr->p.dim);
    if (!dst) return tsr_error(TSR_ENOMEM, "tsr_fastrp_step: out of memory for %lld × %d floats", (long long)g->n,
                               fr->p.dim);
    tsr_status st;
    if (fr->done == 0) {
        st = fastrp_first(pool, g, &fr->p, dst);
    } else {
        st = tsr_graph_spmm_f32(pool, g, fr->p.matrix, fr->p.dim, fr->N[fr->done - 1], fr->p.dim, dst, fr->p.dim);
    }
    if (st != TSR_OK) { tsr_free(dst); return st; }
    fr->N[fr->done++] = dst;
    return TSR_OK;
}

tsr_status tsr_fastrp_compute(tsr_pool_t *pool, tsr_fastrp_t *fr) {
    TSR_CHECK_NULL(fr);
    while (fr->done < fr->p.q) TSR_TRY(tsr_fastrp_step(pool, fr));
    return TSR_OK;
}

tsr_status tsr_fastrp_iteration(const tsr_fastrp_t *fr, int32_t i, const float **data) {
    TSR_CHECK_NULL(fr);
    TSR_CHECK_NULL(data);
    if (i < 1 || i > fr->done)
        return tsr_error(TSR_ERANGE, "tsr_fastrp_iteration: iteration %d is not computed (1..%d available)", i,
                         fr->done);
    *data = fr->N[i - 1];
    return TSR_OK;
}

tsr_status tsr_fastrp_combine(tsr_pool_t *pool, const tsr_fastrp_t *fr, const double *weights, int32_t count,
                              int32_t normalize_rows, int32_t standardize_cols, float *out, int64_t ldo) {
    TSR_CHECK_NULL(fr);
    TSR_CHECK_NULL(weights);
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(count >= 1 && count <= TSR_FASTRP_MAX_ITER, "tsr_fastrp_combine: count must be in 1..%d (got %d)",
                  TSR_FASTRP_MAX_ITER, count);
    for (int32_t i = 0; i < count; i++)
        TSR_CHECK_ARG(isfinite(weights[i]), "tsr_fastrp_combine: weights[%d] is not finite", i);
    TSR_CHECK_ARG(ldo >= fr->p.dim, "tsr_fastrp_combine: ldo (%lld) must be >= dim (%d)", (long long)ldo, fr->p.dim);
    if (count > fr->done)
        return tsr_error(TSR_ESTATE, "tsr_fastrp_combine: %d weights but only %d iterations computed", count, fr->done);
    comb_ctx c = {.N = (const float *const *)fr->N, .w = weights, .count = count, .d = fr->p.dim,
                  .normalize = normalize_rows != 0, .first = 0, .accumulate = 0, .fma_row = graph_kernels_active()->fma_row,
                  .out = out, .ldo = ldo};
    TSR_TRY(tsr_parallel_for(pool, fr->g->n, FRP_ROWS_PER_CHUNK, TSR_SCHEDULE_DYNAMIC, combine_rows, &c));
    if (standardize_cols) TSR_TRY(standardize(pool, out, ldo, fr->g->n, fr->p.dim));
    return TSR_OK;
}
