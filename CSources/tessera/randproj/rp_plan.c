/*
 * rp_plan.c — projection plans: parameters, entries, materialisation of R.
 */
#include <stdio.h>
#include <string.h>

#include "rp_internal.h"

void tsr_rp_params_default(tsr_rp_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->kind = TSR_RP_SPARSE;
    p->s = TSR_RP_S_AUTO;
    p->seed = 42;
}

tsr_status tsr_rp_create(int64_t in_dim, int32_t out_dim, const tsr_rp_params *params, tsr_rp_t **out) {
    TSR_CHECK_NULL(out);
    *out = NULL;
    tsr_rp_params p;
    tsr_rp_params_default(&p);
    if (params) {
        TSR_CHECK_ARG(params->size >= sizeof(tsr_rp_params),
                      "tsr_rp_create: params->size is %u, expected %zu", params->size, sizeof(tsr_rp_params));
        p = *params;
    }
    TSR_CHECK_ARG(in_dim >= 1, "tsr_rp_create: in_dim must be >= 1 (got %lld)", (long long)in_dim);
    TSR_CHECK_ARG(out_dim >= 1, "tsr_rp_create: out_dim must be >= 1 (got %d)", out_dim);
    TSR_CHECK_ARG((int)p.kind >= 0 && p.kind < TSR_RP_KIND_COUNT, "tsr_rp_create: invalid kind %d", (int)p.kind);
    double s = 1.0;
    if (p.kind == TSR_RP_SPARSE) {
        TSR_CHECK_ARG(isfinite(p.s) && (p.s == TSR_RP_S_AUTO || p.s >= 1.0),
                      "tsr_rp_create: s must be >= 1 or TSR_RP_S_AUTO (got %g)", p.s);
        s = p.s == TSR_RP_S_AUTO ? sqrt((double)in_dim) : p.s;
        if (s < 1.0) s = 1.0;
    }
    tsr_rp_t *rp = tsr_calloc(1, sizeof *rp);
    if (!rp) return tsr_error(TSR_ENOMEM, "tsr_rp_create: out of memory");
    rp->D = in_dim;
    rp->d = out_dim;
    rp->kind = p.kind;
    rp->s = s;
    rp->scale = p.kind == TSR_RP_SPARSE ? sqrt(s / out_dim) : 1.0 / sqrt((double)out_dim);
    rp->seed = p.seed;
    rp->seedkey = rp_seed_key(p.seed);
    /* per-sign threshold: probability 1/(2s) over 32-bit hashes */
    double t = floor(4294967296.0 / (2.0 * s) + 0.5);
    if (t > 2147483648.0) t = 2147483648.0;
    rp->t = (uint64_t)t;
    *out = rp;
    return TSR_OK;
}

void tsr_rp_destroy(tsr_rp_t *rp) {
    if (!rp) return;
    rp_matrix_free(rp->mat);
    tsr_free(rp);
}

tsr_status tsr_rp_info_get(const tsr_rp_t *rp, tsr_rp_info *out) {
    TSR_CHECK_NULL(rp);
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(out->size >= sizeof(tsr_rp_info), "tsr_rp_info_get: out->size is %u, expected %zu",
                  out->size, sizeof(tsr_rp_info));
    out->in_dim = rp->D;
    out->out_dim = rp->d;
    out->kind = rp->kind;
    out->s = rp->s;
    out->density = 1.0 / rp->s;
    out->scale = rp->scale;
    out->seed = rp->seed;
    out->materialized = rp->mat != NULL;
    out->nnz = rp->mat ? rp->mat->nnz : 0;
    out->bytes = (int64_t)sizeof *rp + (rp->mat ? rp->mat->bytes : 0);
    return TSR_OK;
}

tsr_status tsr_rp_describe(const tsr_rp_t *rp, tsr_rp_info *out) { return tsr_rp_info_get(rp, out); }

tsr_status tsr_rp_entry(const tsr_rp_t *rp, int64_t row, int32_t col, double *value) {
    TSR_CHECK_NULL(rp);
    TSR_CHECK_NULL(value);
    if (row < 0 || row >= rp->D)
        return tsr_error(TSR_ERANGE, "tsr_rp_entry: row %lld is not in [0, %lld)", (long long)row, (long long)rp->D);
    if (col < 0 || col >= rp->d)
        return tsr_error(TSR_ERANGE, "tsr_rp_entry: col %d is not in [0, %d)", col, rp->d);
    uint64_t rk = rp_row_key(rp->seedkey, (uint64_t)row);
    if (rp->kind == TSR_RP_SPARSE)
        *value = rp_sparse_sign(rk, (uint32_t)col, rp->t) * rp->scale;
    else
        *value = rp_gauss(rk, (uint32_t)col) * rp->scale;
    return TSR_OK;
}

/* ---- the kernel selector (tsr_kernels.h) ------------------------------------------- */

static void rp_overlay(void *dst, const void *src) {
    rp_kernels *d = dst;
    const rp_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, sparse_row);
    TSR_KERNEL_INHERIT(d, o, tile_f32);
    TSR_KERNEL_INHERIT(d, o, tile_f64);
    TSR_KERNEL_INHERIT(d, o, gemm_f32);
    TSR_KERNEL_INHERIT(d, o, gemm_f64);
}

static const void *const rp_overrides[] = {
#if TSR_X86
    &rp_kernels_avx2, &rp_kernels_avx512,
#endif
    NULL};
static rp_kernels rp_tables[TSR_ISA_COUNT];
static tsr_kernel_registry rp_registry =
    TSR_KERNEL_REGISTRY("randproj", rp_kernels, &rp_kernels_ref, rp_overrides, rp_overlay, rp_tables);

const rp_kernels *rp_kernels_active(void) { return tsr_kernels_select(&rp_registry, tsr_isa_active()); }

/* ---- materialisation ---------------------------------------------------------- */

void rp_matrix_free(rp_matrix *m) {
    if (!m) return;
    tsr_free(m->row_ptr); tsr_free(m->row_k); tsr_free(m->row_v32); tsr_free(m->row_v64);
    tsr_free(m->col_ptr); tsr_free(m->col_j); tsr_free(m->col_sign); tsr_free(m->col_sign64);
    tsr_free(m->slots);
    tsr_free(m);
}

typedef struct build_ctx {
    const tsr_rp_t *rp;
    rp_matrix *m;
    const rp_kernels *kern;
    int pass;               /* 0: count, 1: fill */
    int32_t *ks;            /* per-worker scratch, d entries each */
    int8_t *sg;
    int nested;
} build_ctx;

/* The slot word of row j (rp_internal.h) from its cnt entries: columns ks, signs sg. */
static uint64_t slot_of(int64_t j, int32_t d, const int32_t *ks, const int8_t *sg, int32_t cnt) {
    uint64_t c[4];
    for (int t = 0; t < 4; t++) {
        if (t < cnt) c[t] = ((uint64_t)ks[t] << 3) | 2u | (sg[t] < 0);
        else /* absent: +0 into a column that differs between rows and between codes 0 and 1 */
            c[t] = (uint64_t)(((uint32_t)j * 0x9e3779b1u + (uint32_t)t * 0x7f4a7c15u) % (uint32_t)d) << 3;
    }
    if (cnt > 4) c[3] |= RP_SLOT_MORE;
    return c[0] | c[1] << 16 | c[2] << 32 | c[3] << 48;
}

static void build_rows(void *vctx, int64_t begin, int64_t end, int32_t worker) {
    build_ctx *c = vctx;
    const tsr_rp_t *rp = c->rp;
    rp_matrix *m = c->m;
    int32_t d = rp->d;
    int w = c->nested ? 0 : worker;
    int32_t *ks = c->ks + (size_t)w * d;
    int8_t *sg = c->sg + (size_t)w * d;
    for (int64_t j = begin; j < end; j++) {
        uint64_t rk = rp_row_key(rp->seedkey, (uint64_t)j);
        if (rp->kind == TSR_RP_GAUSSIAN) {
            if (c->pass == 0) { m->row_ptr[j + 1] = d; continue; }
            int64_t o = m->row_ptr[j];
            for (int32_t k = 0; k < d; k++) {
                double v = rp_gauss(rk, (uint32_t)k) * rp->scale;
                m->row_k[o + k] = k;
                m->row_v64[o + k] = v;
                m->row_v32[o + k] = (float)v;
            }
            continue;
        }
        int32_t cnt = c->kern->sparse_row(rk, d, rp->t, ks, c->pass ? sg : NULL);
        if (c->pass == 0) { m->row_ptr[j + 1] = cnt; continue; }
        int64_t o = m->row_ptr[j];
        TSR_ASSERT(m->row_ptr[j + 1] - o == cnt);
        for (int32_t e = 0; e < cnt; e++) {
            double v = sg[e] * rp->scale;
            m->row_k[o + e] = ks[e];
            m->row_v64[o + e] = v;
            m->row_v32[o + e] = (float)v;
        }
        if (m->slots) m->slots[j] = slot_of(j, d, ks, sg, cnt);
    }
}

/*
 * Bytes of R with `nnz` entries: the CSR over rows (D + 1 offsets; column, f32 and f64
 * value per entry) and, for sparse kinds with need_csc, the CSC (d + 1 offsets; row and
 * two sign masks per entry).
 */
static double matrix_bytes(const tsr_rp_t *rp, double nnz, int need_csc) {
    double b = ((double)rp->D + 1) * 8 + nnz * (4 + 4 + 8);
    if (rp_slots_wanted(rp)) b += (double)rp->D * 8;
    if (need_csc && rp->kind == TSR_RP_SPARSE) b += ((double)rp->d + 1) * 8 + nnz * (4 + 4 + 8);
    return b;
}

/* Expected entries of R: all D·d for Gaussian, D·d·2t/2^32 (about D·d/s) for sparse kinds. */
static double expected_nnz(const tsr_rp_t *rp) {
    double all = (double)rp->D * (double)rp->d;
    return rp->kind == TSR_RP_GAUSSIAN ? all : all * (2.0 * (double)rp->t / 4294967296.0);
}

int rp_matrix_fits(const tsr_rp_t *rp, int need_csc) {
    return rp->D < INT32_MAX && tsr_alloc_fits(matrix_bytes(rp, expected_nnz(rp), need_csc));
}

/* TSR_ENOMEM naming fn, D, d and s when R with `nnz` entries would not fit (tsr_check_alloc). */
static tsr_status check_matrix(const char *fn, const tsr_rp_t *rp, double nnz, int need_csc) {
    char what[128];
    snprintf(what, sizeof what, "R (in_dim %lld x out_dim %d, s = %g, %.3g entries)", (long long)rp->D, rp->d, rp->s,
             nnz);
    return tsr_check_alloc(fn, what, matrix_bytes(rp, nnz, need_csc));
}

tsr_status rp_matrix_build(tsr_pool_t *pool, const tsr_rp_t *rp, int need_csc, const char *fn, rp_matrix **out) {
    *out = NULL;
    if (rp->D >= INT32_MAX)
        return tsr_error(TSR_ERANGE, "%s: cannot materialise R with in_dim %lld rows (limit %d)", fn,
                         (long long)rp->D, INT32_MAX - 1);
    /* refuse before hashing D·d entries when even the expected size cannot fit */
    TSR_TRY(check_matrix(fn, rp, expected_nnz(rp), need_csc));
    /* generating R hashes every one of its D·d entries, however sparse R is: bound the work
     * (2^36 hashes is about a minute on one core) as well as the memory */
    if ((double)rp->D * (double)rp->d > TSR_RP_MAX_GENERATED)
        return tsr_error(TSR_ERANGE, "%s: generating R hashes D x d = %lld x %d entries, more than %.3g; "
                         "transform CSR inputs without materialising (only the rows they use are generated)",
                         fn, (long long)rp->D, rp->d, (double)TSR_RP_MAX_GENERATED);
    int nested = tsr_pool_is_in_worker();
    int32_t nthreads = nested ? 1 : tsr_pool_num_threads(pool);
    if (nthreads < 1) nthreads = 1;
    rp_matrix *m = tsr_calloc(1, sizeof *m);
    build_ctx c = {.rp = rp, .m = m, .kern = rp_kernels_active(), .nested = nested};
    tsr_status st = TSR_OK;
    if (!m) return tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
    m->D = rp->D;
    m->d = rp->d;
    m->row_ptr = tsr_calloc((size_t)rp->D + 1, sizeof(int64_t));
    c.ks = tsr_malloc((size_t)nthreads * rp->d * sizeof(int32_t));
    c.sg = tsr_malloc((size_t)nthreads * rp->d);
    if (!m->row_ptr || !c.ks || !c.sg) { st = tsr_error(TSR_ENOMEM, "%s: out of memory for R", fn); goto fail; }
    /* pass 0 counts each row's entries, pass 1 writes them at the prefix-sum offsets */
    st = tsr_parallel_for(pool, rp->D, 2048, TSR_SCHEDULE_DYNAMIC, build_rows, &c);
    if (st != TSR_OK) goto fail;
    for (int64_t j = 0; j < rp->D; j++) m->row_ptr[j + 1] += m->row_ptr[j];
    m->nnz = m->row_ptr[rp->D];
    if ((st = check_matrix(fn, rp, (double)m->nnz, need_csc)) != TSR_OK) goto fail;
    size_t nz = (size_t)m->nnz;
    m->row_k = tsr_malloc(nz * sizeof(int32_t) + 1);
    m->row_v32 = tsr_malloc(nz * sizeof(float) + 1);
    m->row_v64 = tsr_malloc(nz * sizeof(double) + 1);
    if (rp_slots_wanted(rp)) m->slots = tsr_malloc((size_t)rp->D * sizeof(uint64_t));
    if (!m->row_k || !m->row_v32 || !m->row_v64 || (rp_slots_wanted(rp) && !m->slots)) {
        st = tsr_error(TSR_ENOMEM, "%s: out of memory for R (%lld entries)", fn, (long long)m->nnz);
        goto fail;
    }
    c.pass = 1;
    st = tsr_parallel_for(pool, rp->D, 2048, TSR_SCHEDULE_DYNAMIC, build_rows, &c);
    if (st != TSR_OK) goto fail;
    m->bytes = (int64_t)((rp->D + 1) * 8 + nz * (4 + 4 + 8)) + (m->slots ? (int64_t)rp->D * 8 : 0);
    if (need_csc && rp->kind == TSR_RP_SPARSE) {
        /* transpose by counting sort: entries of column k in ascending j */
        m->col_ptr = tsr_calloc((size_t)rp->d + 1, sizeof(int64_t));
        m->col_j = tsr_malloc(nz * sizeof(int32_t) + 1);
        m->col_sign = tsr_malloc(nz * sizeof(uint32_t) + 1);
        m->col_sign64 = tsr_malloc(nz * sizeof(uint64_t) + 1);
        if (!m->col_ptr || !m->col_j || !m->col_sign || !m->col_sign64) {
            st = tsr_error(TSR_ENOMEM, "%s: out of memory for the transpose of R", fn);
            goto fail;
        }
        for (size_t e = 0; e < nz; e++) m->col_ptr[m->row_k[e] + 1]++;
        for (int32_t k = 0; k < rp->d; k++) m->col_ptr[k + 1] += m->col_ptr[k];
        int64_t *fill = tsr_malloc((size_t)rp->d * sizeof(int64_t));
        if (!fill) { st = tsr_error(TSR_ENOMEM, "%s: out of memory", fn); goto fail; }
        memcpy(fill, m->col_ptr, (size_t)rp->d * sizeof(int64_t));
        for (int64_t j = 0; j < rp->D; j++)
            for (int64_t e = m->row_ptr[j]; e < m->row_ptr[j + 1]; e++) {
                int64_t o = fill[m->row_k[e]]++;
                int neg = m->row_v32[e] < 0;
                m->col_j[o] = (int32_t)j;
                m->col_sign[o] = neg ? 0x80000000u : 0u;
                m->col_sign64[o] = neg ? (1ULL << 63) : 0ULL;
            }
        tsr_free(fill);
        m->bytes += (int64_t)((rp->d + 1) * 8 + nz * (4 + 4 + 8));
    }
    tsr_free(c.ks);
    tsr_free(c.sg);
    *out = m;
    return TSR_OK;
fail:
    tsr_free(c.ks);
    tsr_free(c.sg);
    rp_matrix_free(m);
    return st;
}

tsr_status tsr_rp_materialize(tsr_pool_t *pool, tsr_rp_t *rp) {
    TSR_CHECK_NULL(rp);
    if (rp->mat) return TSR_OK;
    return rp_matrix_build(pool, rp, 1, __func__, &rp->mat);
}

tsr_status tsr_rp_csr(const tsr_rp_t *rp, const int64_t **indptr, const int32_t **indices,
                      const float **values_f32, const double **values_f64, int64_t *nnz) {
    TSR_CHECK_NULL(rp);
    if (!rp->mat) return tsr_error(TSR_ESTATE, "tsr_rp_csr: the plan is not materialised (call tsr_rp_materialize)");
    if (indptr) *indptr = rp->mat->row_ptr;
    if (indices) *indices = rp->mat->row_k;
    if (values_f32) *values_f32 = rp->mat->row_v32;
    if (values_f64) *values_f64 = rp->mat->row_v64;
    if (nnz) *nnz = rp->mat->nnz;
    return TSR_OK;
}
