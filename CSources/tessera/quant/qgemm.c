/*
 * qgemm plans: creation (repack once), description, workspace, the kernel selector, and
 * execution (activation quantization, then the panel kernels in parallel over row panels).
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>

#include "quant_internal.h"


void tsr_qgemm_params_default(tsr_qgemm_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
}

/*
 * The packed weights. A large plan is streamed once per M = 1 call (a model's output head,
 * 178 MB for Gemma 3): on 4 KiB pages every page is a TLB miss that the prefetches cannot
 * hide, so plans of TSR_QHUGE_BYTES or more are 2 MiB aligned and advised to use transparent
 * huge pages (a hint: where the kernel declines, the plan works the same). Gemma 3's output
 * head at M = 1, 2 threads, 2-core Zen 4: medians 7.8–9.5 ms → 6.5–6.6 ms with huge pages.
 */
#define TSR_QHUGE_BYTES ((size_t)4 << 20)
static uint8_t *alloc_packed(size_t bytes) {
    if (bytes < TSR_QHUGE_BYTES) return tsr_malloc(bytes);
    uint8_t *p = tsr_malloc_aligned(bytes, (size_t)2 << 20);
#ifdef MADV_HUGEPAGE
    if (p) (void)madvise(p, (bytes + 4095) & ~(size_t)4095, MADV_HUGEPAGE); /* advice only */
#endif
    return p;
}

tsr_status tsr_qgemm_plan_create(tsr_pool_t *pool, const tsr_quant_matrix *w, const tsr_qgemm_params *params,
                                 tsr_qgemm_plan_t **out) {
    TSR_CHECK_NULL(out);
    *out = NULL;
    TSR_TRY(tsr_quant_matrix_check(w));
    if (params) {
        TSR_CHECK_ARG(params->size >= sizeof(tsr_qgemm_params),
                      "tsr_qgemm_plan_create: params->size is %u, expected %zu", params->size, sizeof(tsr_qgemm_params));
        TSR_CHECK_ARG(params->flags == 0, "tsr_qgemm_plan_create: params->flags must be 0 (got %d)", params->flags);
    }
    TSR_CHECK_ARG(w->k <= INT32_MAX / 2, "tsr_qgemm_plan_create: k = %lld is too large", (long long)w->k);
    tsr_qgemm_plan_t *p = tsr_calloc(1, sizeof *p);
    if (!p) return tsr_error(TSR_ENOMEM, "tsr_qgemm_plan_create: out of memory");
    p->format = w->format;
    p->n = w->n;
    p->k = w->k;
    p->npanels = (w->n + TSR_QP - 1) / TSR_QP;
    tsr_qgemm_layout(w->format, w->k, &p->d, &p->ftype);
    p->is_float = p->ftype >= 0;
    size_t rb;
    tsr_status st = tsr_quant_row_bytes(w->format, w->k, &rb);
    if (st == TSR_OK && tsr_mul_size(rb, (size_t)w->n, &p->source_bytes))
        st = tsr_error(TSR_ERANGE, "tsr_qgemm_plan_create: n·row_bytes overflows");
    if (st == TSR_OK) {
        if (p->is_float) {
            const size_t es = p->ftype == TSR_QF_F32 ? 4 : 2;
            if (tsr_mul_size((size_t)w->k, TSR_QP * es, &p->panel_bytes))
                st = tsr_error(TSR_ERANGE, "tsr_qgemm_plan_create: panel size overflows");
        } else {
            p->panel_bytes = p->d.panel_bytes;
        }
    }
    if (st == TSR_OK && tsr_mul_size(p->panel_bytes, (size_t)p->npanels, &p->packed_bytes))
        st = tsr_error(TSR_ERANGE, "tsr_qgemm_plan_create: packed size overflows");
    if (st == TSR_OK) {
        p->packed = alloc_packed(p->packed_bytes);
        p->lock = tsr_malloc(sizeof(pthread_mutex_t));
        if (!p->packed || !p->lock) st = tsr_error(TSR_ENOMEM, "tsr_qgemm_plan_create: cannot allocate %zu bytes of packed weights", p->packed_bytes);
        else pthread_mutex_init((pthread_mutex_t *)p->lock, NULL);
    }
    if (st == TSR_OK) st = tsr_qgemm_pack(pool, w, &p->d, p->ftype, p->panel_bytes, p->npanels, p->packed);
    if (st != TSR_OK) {
        if (p->lock && p->packed) pthread_mutex_destroy((pthread_mutex_t *)p->lock);
        tsr_free(p->lock);
        tsr_free(p->packed);
        tsr_free(p);
        return st;
    }
    *out = p;
    return TSR_OK;
}

void tsr_qgemm_plan_destroy(tsr_qgemm_plan_t *plan) {
    if (!plan) return;
    pthread_mutex_destroy((pthread_mutex_t *)plan->lock);
    tsr_free(plan->lock);
    tsr_free(plan->scratch);
    tsr_free(plan->packed);
    tsr_free(plan);
}

/* The kernel selector (tsr_kernels.h): reference table, then the overrides per level. */
static void qgemm_overlay(void *dst, const void *src) {
    tsr_qgemm_kernels *d = dst;
    const tsr_qgemm_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, act);
    TSR_KERNEL_INHERIT(d, o, qpanel_m1x2);
    if (o->qpanel) { d->qpanel = o->qpanel; d->int_name = o->int_name; d->int_isa = o->head.isa; }
    if (o->fpanel) { d->fpanel = o->fpanel; d->float_name = o->float_name; d->float_isa = o->head.isa; }
}

static const void *const qgemm_overrides[] = {
#if TSR_X86
    &tsr_qgemm_kernels_avx2, &tsr_qgemm_kernels_avx512, &tsr_qgemm_kernels_avx512vnni, &tsr_qgemm_kernels_amx,
#endif
    NULL};
static tsr_qgemm_kernels qgemm_tables[TSR_ISA_COUNT];
static tsr_kernel_registry qgemm_registry = TSR_KERNEL_REGISTRY("qgemm", tsr_qgemm_kernels, &tsr_qgemm_kernels_ref,
                                                                qgemm_overrides, qgemm_overlay, qgemm_tables);

static const tsr_qgemm_kernels *kernels(void) { return tsr_kernels_select(&qgemm_registry, tsr_isa_active()); }

tsr_status tsr_qgemm_plan_info_get(const tsr_qgemm_plan_t *plan, tsr_qgemm_plan_info *out) {
    TSR_CHECK_NULL(plan);
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(out->size >= sizeof(tsr_qgemm_plan_info), "tsr_qgemm_plan_info_get: out->size is %u, expected %zu",
                  out->size, sizeof(tsr_qgemm_plan_info));
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->format = plan->format;
    out->n = plan->n;
    out->k = plan->k;
    out->source_bytes = plan->source_bytes;
    out->packed_bytes = plan->packed_bytes;
    out->panel_rows = TSR_QP;
    out->group = plan->is_float ? 1 : plan->d.group;
    out->act_block = plan->is_float ? 0 : tsr_qact_block(&plan->d);
    const tsr_qgemm_kernels *K = kernels();
    out->isa = plan->is_float ? K->float_isa : K->int_isa;
    if (plan->is_float) snprintf(out->kernel, sizeof out->kernel, "%s", K->float_name);
    else snprintf(out->kernel, sizeof out->kernel, "%s-u%d", K->int_name, plan->d.bits + plan->d.hbits);
    return TSR_OK;
}

static size_t act_row_bytes(const tsr_qgemm_plan_t *p) {
    return (size_t)tsr_qact_stride(p->k) + (size_t)p->d.ngroups * sizeof(tsr_qact_meta);
}

tsr_status tsr_qgemm_workspace_size(const tsr_qgemm_plan_t *plan, int64_t m, size_t *out) {
    TSR_CHECK_NULL(plan);
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(m > 0, "tsr_qgemm_workspace_size: m must be > 0 (got %lld)", (long long)m);
    if (plan->is_float) { *out = 0; return TSR_OK; }
    if (tsr_mul_size(act_row_bytes(plan), (size_t)m, out) || tsr_add_size(*out, 64, out))
        return tsr_error(TSR_ERANGE, "tsr_qgemm_workspace_size: m = %lld overflows", (long long)m);
    return TSR_OK;
}

typedef struct {
    const tsr_qgemm_plan_t *p;
    const tsr_qgemm_kernels *K;
    int64_t m;
    const float *x;
    int64_t ldx;
    const float *bias;
    float *y;
    int64_t ldy;
    int8_t *act;
    tsr_qact_meta *meta;
} exec_ctx;

static void act_rows(void *vctx, int64_t r0, int64_t r1, int32_t worker) {
    exec_ctx *c = vctx;
    const int64_t as = tsr_qact_stride(c->p->k);
    const tsr_qkernel_desc *d = &c->p->d;
    const int32_t ng = d->ngroups, z = d->zconst;
    for (int64_t r = r0; r < r1; r++) {
        tsr_qact_meta *meta = c->meta + r * ng;
        c->K->act(c->x + r * c->ldx, c->p->k, d->group, tsr_qact_block(d), c->act + r * as, meta);
        for (int32_t g = 0; g < ng; g++) meta[g].zsum = z * meta[g].sum;
        for (int32_t g = 0; d->two_level && g + 1 < ng; g += 2)
            meta[g].spair = (int32_t)(((uint32_t)meta[g].sum & 0xffffu) | ((uint32_t)meta[g + 1].sum << 16));
    }
}

static void panel_rows(void *vctx, int64_t p0, int64_t p1, int32_t worker) {
    exec_ctx *c = vctx;
    const tsr_qgemm_plan_t *p = c->p;
    if (c->m <= 8) {
        /* The kernels prefetch TSR_QPF_BYTES ahead of the record they read; request the
         * first TSR_QPF_BYTES of this worker's run here, all at once, not miss by miss. */
        const uint8_t *first = p->packed + (size_t)p0 * p->panel_bytes;
        const size_t run = (size_t)(p1 - p0) * p->panel_bytes, n = run < TSR_QPF_BYTES ? run : TSR_QPF_BYTES;
        for (size_t o = 0; o < n; o += 64) __builtin_prefetch(first + o, 0, 2);
    }
    int64_t pi = p0;
    if (c->K->qpanel_m1x2 && !p->is_float && c->m == 1 && !c->bias) {
        for (; pi + 1 < p1; pi += 2) {
            const int64_t row0 = pi * TSR_QP;
            const int32_t nvb = (int32_t)(p->n - row0 - TSR_QP < TSR_QP ? p->n - row0 - TSR_QP : TSR_QP);
            c->K->qpanel_m1x2(&p->d, p->packed + (size_t)pi * p->panel_bytes,
                              p->packed + (size_t)(pi + 1) * p->panel_bytes, c->act, c->meta,
                              c->y + row0, c->y + row0 + TSR_QP, TSR_QP, nvb);
        }
    }
    for (; pi < p1; pi++) {
        const int64_t row0 = pi * TSR_QP;
        const int32_t nvalid = (int32_t)(p->n - row0 < TSR_QP ? p->n - row0 : TSR_QP);
        const uint8_t *panel = p->packed + (size_t)pi * p->panel_bytes;
        const float *bias = c->bias ? c->bias + row0 : NULL;
        if (p->is_float)
            c->K->fpanel(p->ftype, panel, p->k, c->m, c->x, c->ldx, c->y + row0, c->ldy, bias, nvalid);
        else
            c->K->qpanel(&p->d, panel, c->m, c->act, tsr_qact_stride(p->k), c->meta, c->y + row0, c->ldy, bias, nvalid);
    }
}

tsr_status tsr_qgemm_execute(tsr_pool_t *pool, const tsr_qgemm_plan_t *plan, int64_t m, const float *x, int64_t ldx,
                             const float *bias, float *y, int64_t ldy, void *workspace, size_t workspace_bytes) {
    TSR_CHECK_NULL(plan);
    TSR_CHECK_NULL(x);
    TSR_CHECK_NULL(y);
    TSR_CHECK_ARG(m > 0, "tsr_qgemm_execute: m must be > 0 (got %lld)", (long long)m);
    TSR_CHECK_ARG(ldx >= plan->k, "tsr_qgemm_execute: ldx = %lld is smaller than k = %lld", (long long)ldx, (long long)plan->k);
    TSR_CHECK_ARG(ldy >= plan->n, "tsr_qgemm_execute: ldy = %lld is smaller than n = %lld", (long long)ldy, (long long)plan->n);
    int64_t tmp;
    if (tsr_mul_i64(m - 1, ldx, &tmp) || tsr_add_i64(tmp, plan->k, &tmp) || tsr_mul_i64(m - 1, ldy, &tmp) ||
        tsr_add_i64(tmp, plan->n, &tmp))
        return tsr_error(TSR_ERANGE, "tsr_qgemm_execute: m·ld overflows");
    exec_ctx c = {plan, kernels(), m, x, ldx, bias, y, ldy, NULL, NULL};
    tsr_pool_t *pl = pool;
    if (!pl) TSR_TRY(tsr_pool_default(&pl));
    const int32_t nt = tsr_pool_num_threads(pl);
    /* Small M streams the weights once: each worker takes long contiguous runs of panels so its
     * prefetch stream stays unbroken — but not one run per worker: on a shared box a worker that
     * loses its core for a while would leave the other waiting at the join (the Gemma 3 output
     * head, 178 MB at M = 1 under load: medians 8–15 ms with one run per worker, 6.7–9 ms with
     * runs of 32 panels). Larger M is compute bound: small chunks balance it — a worker that
     * starts late or loses its core leaves the other at most one chunk to wait for. With a
     * quarter of each worker's share per chunk that could be ~0.4 ms at M = 64 (Gemma 3
     * gate/up: 256 panels of ~13 µs, chunks of 32, estimated); a sixteenth bounds it by
     * 8 panels, and the atomic per chunk stays negligible. */
    const int64_t nw = nt > 0 ? nt : 1;
    int64_t chunk;
    if (m <= 8) {
        const int64_t share = (plan->npanels + nw - 1) / nw;
        chunk = share < 32 ? share : 32;
    } else {
        chunk = (plan->npanels + 16 * nw - 1) / (16 * nw);
    }
    chunk = chunk < 1 ? 1 : chunk;
    if (plan->is_float)
        return tsr_parallel_for(pl, plan->npanels, chunk, TSR_SCHEDULE_DYNAMIC, panel_rows, &c);

    size_t need;
    TSR_TRY(tsr_qgemm_workspace_size(plan, m, &need));
    pthread_mutex_t *lock = NULL;
    uint8_t *ws = workspace;
    if (ws) {
        TSR_CHECK_ARG(workspace_bytes >= need, "tsr_qgemm_execute: workspace of %zu bytes is smaller than the %zu needed for m = %lld",
                      workspace_bytes, need, (long long)m);
    } else {
        tsr_qgemm_plan_t *mp = (tsr_qgemm_plan_t *)plan;  /* scratch is the plan's only mutable part */
        lock = (pthread_mutex_t *)mp->lock;
        pthread_mutex_lock(lock);
        if (mp->scratch_bytes < need) {
            tsr_free(mp->scratch);
            mp->scratch = tsr_malloc(need);
            mp->scratch_bytes = mp->scratch ? need : 0;
            if (!mp->scratch) {
                pthread_mutex_unlock(lock);
                return tsr_error(TSR_ENOMEM, "tsr_qgemm_execute: cannot allocate %zu bytes of activation scratch", need);
            }
        }
        ws = mp->scratch;
    }
    uint8_t *base = (uint8_t *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    c.act = (int8_t *)base;
    c.meta = (tsr_qact_meta *)(void *)(base + (size_t)m * (size_t)tsr_qact_stride(plan->k));
    tsr_status st = TSR_OK;
    if (m * plan->k <= 65536 || nt <= 1) act_rows(&c, 0, m, 0);
    else st = tsr_parallel_for(pl, m, 1, TSR_SCHEDULE_DYNAMIC, act_rows, &c);
    if (st == TSR_OK) st = tsr_parallel_for(pl, plan->npanels, chunk, TSR_SCHEDULE_DYNAMIC, panel_rows, &c);
    if (lock) pthread_mutex_unlock(lock);
    return st;
}

tsr_status tsr_qgemm(tsr_pool_t *pool, const tsr_quant_matrix *w, int64_t m, const float *x, int64_t ldx,
                     const float *bias, float *y, int64_t ldy) {
    TSR_CHECK_NULL(x);
    TSR_CHECK_NULL(y);
    TSR_CHECK_ARG(m > 0, "tsr_qgemm: m must be > 0 (got %lld)", (long long)m);
    tsr_qgemm_plan_t *plan;
    TSR_TRY(tsr_qgemm_plan_create(pool, w, NULL, &plan));
    tsr_status st = tsr_qgemm_execute(pool, plan, m, x, ldx, bias, y, ldy, NULL, 0);
    tsr_qgemm_plan_destroy(plan);
    return st;
}
