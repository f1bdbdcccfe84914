/*
 * qgemm plans: creation (repack once), description, workspace, the kernel selector, and
 * execution (activation quantization, then the panel kernels in parallel over row panels).
 */
#include <pthread.h>
#include <stdatomic.h>
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

/* Per-thread buffers (quant_internal.h): a block of 64 header bytes holding the capacity, then the
 * buffer; freed by the key's destructor when the thread exits. */
static pthread_key_t tls_keys[TSR_QTLS_SLOTS];
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_ok;

static void tls_init(void) {
    tls_ok = 1;
    for (int i = 0; i < TSR_QTLS_SLOTS; i++) tls_ok &= pthread_key_create(&tls_keys[i], tsr_free) == 0;
}

void *tsr_qthread_buffer(int slot, size_t bytes) {
    pthread_once(&tls_once, tls_init);
    if (!tls_ok || slot < 0 || slot >= TSR_QTLS_SLOTS || bytes > SIZE_MAX - 64) return NULL;
    uint8_t *b = pthread_getspecific(tls_keys[slot]);
    if (b && *(size_t *)(void *)b >= bytes) return b + 64;
    if (b) {
        (void)pthread_setspecific(tls_keys[slot], NULL);
        tsr_free(b);
    }
    b = tsr_malloc_aligned(bytes + 64, 64);
    if (!b) return NULL;
    *(size_t *)(void *)b = bytes;
    if (pthread_setspecific(tls_keys[slot], b) != 0) {
        tsr_free(b);
        return NULL;
    }
    return b + 64;
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
    if (o->qpanel) { d->qpanel = o->qpanel; d->qpanel_x2 = o->qpanel_x2; d->int_name = o->int_name; d->int_isa = o->head.isa; }
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

/* M > 8: the panels split into one contiguous part per worker, each taken chunk by chunk from its
 * cursor; a worker done with its own part takes chunks of the others' (see tsr_qgemm_execute). */
#define TSR_QPARTS_MAX 64
typedef struct {
    _Alignas(64) _Atomic int64_t next;
    int64_t end;
} part_cursor;

/* Each worker quantizes the activation rows itself into its own buffer when they are at most this
 * many bytes (and m·k is small enough to quantize serially, as below). */
#define TSR_QACT_PRIVATE_MAX ((size_t)256 << 10)

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
    /* M > 8 */
    part_cursor *parts;
    int32_t nparts;
    int32_t private_act;   /* 1: every worker quantizes into its TSR_QTLS_ACT buffer (act_bytes) */
    size_t act_bytes;
    int64_t chunk;
} exec_ctx;

/* act and meta inside a workspace of tsr_qgemm_workspace_size bytes */
static void set_act(exec_ctx *c, void *ws) {
    uint8_t *base = (uint8_t *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
    c->act = (int8_t *)base;
    c->meta = (tsr_qact_meta *)(void *)(base + (size_t)c->m * (size_t)tsr_qact_stride(c->p->k));
}

/* Requests the first TSR_QPF_BYTES of a run of panels at once, not miss by miss: the kernels
 * prefetch TSR_QPF_BYTES ahead of the record they read. */
static void prefetch_run(const tsr_qgemm_plan_t *p, int64_t p0, int64_t p1) {
    const uint8_t *first = p->packed + (size_t)p0 * p->panel_bytes;
    const size_t run = (size_t)(p1 - p0) * p->panel_bytes, n = run < TSR_QPF_BYTES ? run : TSR_QPF_BYTES;
    for (size_t o = 0; o < n; o += 64) __builtin_prefetch(first + o, 0, 2);
}

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
    if (c->m <= 8) prefetch_run(p, p0, p1);
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
    if (c->K->qpanel_x2 && !p->is_float && c->m > 8) {
        for (; pi + 1 < p1; pi += 2) {
            const int64_t row0 = pi * TSR_QP;
            const int32_t nvb = (int32_t)(p->n - row0 - TSR_QP < TSR_QP ? p->n - row0 - TSR_QP : TSR_QP);
            c->K->qpanel_x2(&p->d, p->packed + (size_t)pi * p->panel_bytes, p->packed + (size_t)(pi + 1) * p->panel_bytes,
                            c->m, c->act, tsr_qact_stride(p->k), c->meta, c->y + row0, c->ldy,
                            c->bias ? c->bias + row0 : NULL, nvb);
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

/* M > 8, one call per worker: its own copy of the activation rows where private_act (a copy
 * made and read by one core costs no cross-core traffic, while the caller's rows would have to
 * be written past the other cores' copies of the last call and then fetched by them), then
 * its own part of the panels, then chunks of the other parts. A worker without a buffer takes
 * no panels; the caller (worker 0, whose buffer exists before the region) then does them. */
static void panel_worker(void *vctx, int32_t w, int32_t nw) {
    const exec_ctx *c = vctx;
    exec_ctx mine = *c;
    const part_cursor *own = &c->parts[w % c->nparts];
    prefetch_run(c->p, atomic_load_explicit(&own->next, memory_order_relaxed), own->end); /* the first weights arrive while the rows are quantized */
    if (c->private_act) {
        void *buf = tsr_qthread_buffer(TSR_QTLS_ACT, c->act_bytes);
        if (!buf) return;
        set_act(&mine, buf);
        act_rows(&mine, 0, c->m, w);
    }
    for (int32_t i = 0; i < c->nparts; i++) {
        part_cursor *pc = &c->parts[(w + i) % c->nparts];
        int64_t b;
        while ((b = atomic_fetch_add_explicit(&pc->next, c->chunk, memory_order_relaxed)) < pc->end)
            panel_rows(&mine, b, b + c->chunk < pc->end ? b + c->chunk : pc->end, w);
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
    exec_ctx c = {plan, kernels(), m, x, ldx, bias, y, ldy, NULL, NULL, NULL, 0, 0, 0, 0};
    tsr_pool_t *pl = pool;
    if (!pl) TSR_TRY(tsr_pool_default(&pl));
    const int32_t nt = tsr_pool_num_threads(pl);
    /* Small M streams the weights once: each worker takes long contiguous runs of panels so its
     * prefetch stream stays unbroken — but not one run per worker: on a shared box a worker that
     * loses its core for a while would leave the other waiting at the join (the Gemma 3 output
     * head, 178 MB at M = 1 under load: medians 8–15 ms with one run per worker, 6.7–9 ms with
     * runs of 32 panels). Larger M is compute bound (float plans here; integer plans at M > 8
     * take the parts below): small chunks balance it — a worker that
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
    uint8_t *ws = workspace;
    if (ws)
        TSR_CHECK_ARG(workspace_bytes >= need, "tsr_qgemm_execute: workspace of %zu bytes is smaller than the %zu needed for m = %lld",
                      workspace_bytes, need, (long long)m);
    const int serial_act = m * plan->k <= 65536 || nt <= 1;
    part_cursor parts[TSR_QPARTS_MAX];
    if (m > 8) {
        /*
         * Compute-bound M: one contiguous part of the panels per worker, taken in chunks of an
         * eighth of it, then chunks of the others' parts. A worker streams its own weights in
         * order (its prefetches run ahead inside its own part, and across calls of one plan
         * the same panels come back to the same core), and a worker that starts late or loses
         * its core is relieved a chunk at a time. Dynamic chunks of npanels/(16·threads) before:
         * the two workers' chunks interleaved, so each prefetched into the other's panels and
         * started every chunk cold. SmolLM2-135M's decode projections at M = 16 (Q4_1 and its
         * Q8_0 head, 2 threads, weights beyond the L3 as in a model; bench/quant/qgemm_step.c):
         * see docs/quant.md, "M = 16, round 9".
         */
        const int64_t np = nw < TSR_QPARTS_MAX ? nw : TSR_QPARTS_MAX;
        const int64_t base = plan->npanels / np, extra = plan->npanels % np;
        int64_t at = 0;
        for (int64_t i = 0; i < np; i++) {
            const int64_t len = base + (i < extra ? 1 : 0);
            atomic_init(&parts[i].next, at);
            parts[i].end = at + len;
            at += len;
        }
        c.parts = parts;
        c.nparts = (int32_t)np;
        c.chunk = (base + (extra ? 1 : 0) + 7) / 8;
        c.chunk = c.chunk < 1 ? 1 : c.chunk;
        c.act_bytes = need;
        c.private_act = serial_act && need <= TSR_QACT_PRIVATE_MAX && tsr_qthread_buffer(TSR_QTLS_ACT, need) != NULL;
        if (c.private_act) return tsr_pool_run(pl, panel_worker, &c);
    }
    pthread_mutex_t *lock = NULL;
    if (!ws) {
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
    set_act(&c, ws);
    tsr_status st = TSR_OK;
    if (serial_act) act_rows(&c, 0, m, 0);
    else st = tsr_parallel_for(pl, m, 1, TSR_SCHEDULE_DYNAMIC, act_rows, &c);
    if (st == TSR_OK)
        st = m > 8 ? tsr_pool_run(pl, panel_worker, &c)
                   : tsr_parallel_for(pl, plan->npanels, chunk, TSR_SCHEDULE_DYNAMIC, panel_rows, &c);
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
