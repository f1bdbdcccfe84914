/*
 * Machine-limit probes: STREAM loops and empty fork-join regions on the Tessera
 * pool, and the same loops inside real OpenMP regions of libgomp (dlopen'ed).
 * The loop bodies are shared, so the two runtimes are compared on equal code.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe_internal.h"

/* The kernel selector (tsr_kernels.h): reference table, then the overrides per level. */
static void probe_overlay(void *dst, const void *src) {
    probe_kernels *d = dst;
    const probe_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, peak_f32);
    TSR_KERNEL_INHERIT(d, o, peak_int8);
    TSR_KERNEL_INHERIT(d, o, stream_read);
}

static const void *const probe_overrides[] = {
#if TSR_X86
    &tsr_probe_kernels_avx2, &tsr_probe_kernels_avx512, &tsr_probe_kernels_avx512vnni,
#endif
    NULL};
static probe_kernels probe_tables[TSR_ISA_COUNT];
static tsr_kernel_registry probe_registry =
    TSR_KERNEL_REGISTRY("probe", probe_kernels, &tsr_probe_kernels_ref, probe_overrides, probe_overlay, probe_tables);

static const probe_kernels *kernels(void) { return tsr_kernels_select(&probe_registry, tsr_isa_active()); }

int64_t tsr_stream_bytes_per_element(tsr_stream_kernel kernel) {
    switch (kernel) {
    case TSR_STREAM_COPY: return 16;
    case TSR_STREAM_TRIAD: return 24;
    case TSR_STREAM_READ: return 8;
    default: return 0;
    }
}

/* The shared loop bodies. noinline keeps them identical for both runtimes. */
__attribute__((noinline)) static double stream_range(tsr_stream_kernel k, double *restrict a, double *restrict b,
                                                     double *restrict c, int64_t lo, int64_t hi, double s) {
    switch (k) {
    case TSR_STREAM_COPY:
        for (int64_t i = lo; i < hi; i++) c[i] = a[i];
        break;
    case TSR_STREAM_TRIAD:
        for (int64_t i = lo; i < hi; i++) a[i] = b[i] + s * c[i];
        break;
    default:
        return kernels()->stream_read(a, lo, hi);
    }
    return 0.0;
}

static void static_range(int64_t n, int32_t w, int32_t nw, int64_t *lo, int64_t *hi) {
    int64_t q = n / nw, r = n % nw;
    *lo = w * q + (w < r ? w : r);
    *hi = *lo + q + (w < r ? 1 : 0);
}

typedef struct {
    tsr_stream_kernel k;
    double *a, *b, *c, s;
    int64_t n;
    double partial[TSR_PROBE_MAX_WORKERS];
} stream_task;

static void stream_worker(void *ctx, int32_t w, int32_t nw) {
    stream_task *t = ctx;
    int64_t lo, hi;
    static_range(t->n, w, nw, &lo, &hi);
    double s = stream_range(t->k, t->a, t->b, t->c, lo, hi, t->s);
    if (w < TSR_PROBE_MAX_WORKERS) t->partial[w] = s;
}

static tsr_status check_stream_args(const char *fn, tsr_stream_kernel k, double *a, double *b, double *c, int64_t n) {
    TSR_CHECK_ARG((int)k >= 0 && k < TSR_STREAM_COUNT, "%s: invalid kernel %d", fn, (int)k);
    TSR_CHECK_ARG(n >= 0, "%s: n must be >= 0 (got %lld)", fn, (long long)n);
    TSR_CHECK_ARG(a != NULL, "%s: argument 'a' is NULL", fn);
    TSR_CHECK_ARG(k == TSR_STREAM_READ || c != NULL, "%s: argument 'c' is NULL", fn);
    TSR_CHECK_ARG(k != TSR_STREAM_TRIAD || b != NULL, "%s: argument 'b' is NULL", fn);
    return TSR_OK;
}

static double sum_partials(const stream_task *t, int32_t nw) {
    double s = 0;
    for (int32_t w = 0; w < nw && w < TSR_PROBE_MAX_WORKERS; w++) s += t->partial[w];
    return s;
}

tsr_status tsr_probe_stream(tsr_pool_t *pool, tsr_stream_kernel kernel, double *a, double *b, double *c,
                            int64_t n, double scalar, double *sum) {
    TSR_TRY(check_stream_args(__func__, kernel, a, b, c, n));
    if (!pool) TSR_TRY(tsr_pool_default(&pool));
    int32_t nw = tsr_pool_num_threads(pool);
    TSR_CHECK_ARG(nw <= TSR_PROBE_MAX_WORKERS, "tsr_probe_stream: pools over %d workers are not supported", TSR_PROBE_MAX_WORKERS);
    stream_task t = {.k = kernel, .a = a, .b = b, .c = c, .s = scalar, .n = n};
    TSR_TRY(tsr_pool_run(pool, stream_worker, &t));
    if (sum) *sum = sum_partials(&t, tsr_pool_is_in_worker() ? 1 : nw);
    return TSR_OK;
}

/* ---- OpenMP through libgomp's ABI (what gcc emits for `#pragma omp parallel`) ---- */

static struct {
    void (*parallel)(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
    int (*thread_num)(void);
    int (*num_threads)(void);
    char desc[160];
    tsr_status status;
    char error[200];
} g_omp;
static pthread_once_t g_omp_once = PTHREAD_ONCE_INIT;
static tsr_bind g_omp_bind = TSR_BIND_CORE;

static void omp_load(void) {
    const char *bind = g_omp_bind == TSR_BIND_NONE ? "false" : (g_omp_bind == TSR_BIND_SCATTER ? "spread" : "true");
    if (g_omp_bind != TSR_BIND_NONE) setenv("OMP_PLACES", "cores", 0);
    setenv("OMP_PROC_BIND", bind, 0);
    void *h = dlopen("libgomp.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        g_omp.status = TSR_EUNSUPPORTED;
        snprintf(g_omp.error, sizeof g_omp.error, "libgomp.so.1 cannot be loaded: %s", dlerror());
        return;
    }
    g_omp.parallel = (void (*)(void (*)(void *), void *, unsigned, unsigned))dlsym(h, "GOMP_parallel");
    g_omp.thread_num = (int (*)(void))dlsym(h, "omp_get_thread_num");
    g_omp.num_threads = (int (*)(void))dlsym(h, "omp_get_num_threads");
    if (!g_omp.parallel || !g_omp.thread_num || !g_omp.num_threads) {
        g_omp.status = TSR_EUNSUPPORTED;
        snprintf(g_omp.error, sizeof g_omp.error, "libgomp.so.1 lacks GOMP_parallel/omp_get_thread_num");
        return;
    }
    snprintf(g_omp.desc, sizeof g_omp.desc, "GNU libgomp (OMP_PROC_BIND=%s OMP_PLACES=%s OMP_WAIT_POLICY=%s)",
             getenv("OMP_PROC_BIND"), getenv("OMP_PLACES") ? getenv("OMP_PLACES") : "unset",
             getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "default");
    g_omp.status = TSR_OK;
}

tsr_status tsr_probe_openmp_init(tsr_bind bind, char *buf, size_t cap) {
    TSR_CHECK_ARG((int)bind >= 0 && bind < TSR_BIND_COUNT, "tsr_probe_openmp_init: invalid bind %d", (int)bind);
    g_omp_bind = bind;
    pthread_once(&g_omp_once, omp_load);
    if (g_omp.status != TSR_OK) return tsr_error(g_omp.status, "tsr_probe_openmp_init: %s", g_omp.error);
    if (buf && cap) snprintf(buf, cap, "%s", g_omp.desc);
    return TSR_OK;
}

static tsr_status omp_ready(const char *fn) {
    pthread_once(&g_omp_once, omp_load);
    if (g_omp.status != TSR_OK) return tsr_error(g_omp.status, "%s: %s", fn, g_omp.error);
    return TSR_OK;
}

static void omp_stream_body(void *ctx) {
    stream_task *t = ctx;
    int32_t w = g_omp.thread_num(), nw = g_omp.num_threads();
    int64_t lo, hi;
    static_range(t->n, w, nw, &lo, &hi);
    double s = stream_range(t->k, t->a, t->b, t->c, lo, hi, t->s);
    if (w < TSR_PROBE_MAX_WORKERS) t->partial[w] = s;
}

tsr_status tsr_probe_stream_openmp(int32_t threads, tsr_stream_kernel kernel, double *a, double *b, double *c,
                                   int64_t n, double scalar, double *sum) {
    TSR_TRY(check_stream_args(__func__, kernel, a, b, c, n));
    TSR_CHECK_ARG(threads >= 1 && threads <= TSR_PROBE_MAX_WORKERS,
                  "tsr_probe_stream_openmp: threads must be in 1...%d (got %d)", TSR_PROBE_MAX_WORKERS, threads);
    TSR_TRY(omp_ready(__func__));
    stream_task t = {.k = kernel, .a = a, .b = b, .c = c, .s = scalar, .n = n};
    g_omp.parallel(omp_stream_body, &t, (unsigned)threads, 0);
    if (sum) *sum = sum_partials(&t, threads);
    return TSR_OK;
}

/* ---- empty fork-join regions ---------------------------------------------------- */

static inline double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void empty_worker(void *ctx, int32_t w, int32_t nw) { (void)ctx; (void)w; (void)nw; }
static void empty_omp(void *ctx) { (void)ctx; }

tsr_status tsr_probe_forkjoin(tsr_pool_t *pool, int64_t regions, double *ns) {
    TSR_CHECK_ARG(regions >= 0, "tsr_probe_forkjoin: regions must be >= 0 (got %lld)", (long long)regions);
    TSR_CHECK_ARG(regions == 0 || ns != NULL, "tsr_probe_forkjoin: argument 'ns' is NULL");
    if (!pool) TSR_TRY(tsr_pool_default(&pool));
    for (int64_t r = 0; r < regions; r++) {
        double t0 = now_ns();
        tsr_pool_run(pool, empty_worker, NULL);
        ns[r] = now_ns() - t0;
    }
    return TSR_OK;
}

tsr_status tsr_probe_forkjoin_openmp(int32_t threads, int64_t regions, double *ns) {
    TSR_CHECK_ARG(regions >= 0, "tsr_probe_forkjoin_openmp: regions must be >= 0 (got %lld)", (long long)regions);
    TSR_CHECK_ARG(regions == 0 || ns != NULL, "tsr_probe_forkjoin_openmp: argument 'ns' is NULL");
    TSR_CHECK_ARG(threads >= 1 && threads <= TSR_PROBE_MAX_WORKERS,
                  "tsr_probe_forkjoin_openmp: threads must be in 1...%d (got %d)", TSR_PROBE_MAX_WORKERS, threads);
    TSR_TRY(omp_ready(__func__));
    for (int64_t r = 0; r < regions; r++) {
        double t0 = now_ns();
        g_omp.parallel(empty_omp, NULL, (unsigned)threads, 0);
        ns[r] = now_ns() - t0;
    }
    return TSR_OK;
}

/* ---- vector peaks ------------------------------------------------------------------ */

typedef struct { int64_t iters; int kind; double ops[TSR_PROBE_MAX_WORKERS]; } peak_task;

static void peak_worker(void *ctx, int32_t w, int32_t nw) {
    peak_task *t = ctx;
    const probe_kernels *K = kernels();
    double ops = t->kind == 0 ? K->peak_f32(t->iters) : K->peak_int8(t->iters);
    if (w < TSR_PROBE_MAX_WORKERS) t->ops[w] = ops;
    (void)nw;
}

static tsr_status run_peak(tsr_pool_t *pool, int64_t iterations, int kind, double *out) {
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(iterations > 0, "peak probe: iterations must be > 0 (got %lld)", (long long)iterations);
    if (!pool) TSR_TRY(tsr_pool_default(&pool));
    peak_task t = {.iters = iterations, .kind = kind};
    TSR_TRY(tsr_pool_run(pool, peak_worker, &t));
    int32_t nw = tsr_pool_is_in_worker() ? 1 : tsr_pool_num_threads(pool);
    double s = 0;
    for (int32_t w = 0; w < nw && w < TSR_PROBE_MAX_WORKERS; w++) s += t.ops[w];
    *out = s;
    return TSR_OK;
}

tsr_status tsr_probe_peak_f32(tsr_pool_t *pool, int64_t iterations, double *flops) {
    return run_peak(pool, iterations, 0, flops);
}

tsr_status tsr_probe_peak_int8(tsr_pool_t *pool, int64_t iterations, double *ops) {
    return run_peak(pool, iterations, 1, ops);
}
