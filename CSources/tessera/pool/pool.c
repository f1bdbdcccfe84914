/*
 * The fork-join thread pool.
 *
 * A region: the caller (worker 0) publishes a task, bumps `generation`, wakes
 * sleeping workers, runs its own share, then waits until `pending` reaches 0.
 * Workers spin on `generation` for spin_us after each region, then sleep on it
 * with a futex. The "sleepers"/"master_waiting" counters use sequentially
 * consistent atomics so a wake-up can never be lost: a worker announces itself
 * before re-checking the word it sleeps on, and the master changes the word
 * before reading the announcement (and symmetrically for the join).
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pool_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

typedef enum { TASK_RANGE, TASK_WORKER } task_kind;

typedef struct {
    _Alignas(64) void *scratch;
    size_t scratch_bytes;
    pid_t tid;
} worker_slot;

struct tsr_pool {
    int32_t n;
    tsr_bind bind;
    int32_t spin_us;
    pthread_t *threads;        /* n - 1 */
    worker_slot *slots;        /* n */
    pthread_mutex_t region_lock;

    /* the task of the current region */
    task_kind kind;
    tsr_range_fn range_fn;
    tsr_worker_fn worker_fn;
    void *ctx;
    int64_t count, chunk;
    tsr_schedule schedule;

    _Alignas(64) _Atomic int64_t next;          /* dynamic schedule counter */
    _Alignas(64) _Atomic uint32_t generation;   /* futex word: region start */
    _Atomic int32_t sleepers;
    _Alignas(64) _Atomic int32_t pending;       /* futex word: workers still in the region */
    _Atomic int32_t master_waiting;
    _Atomic int32_t started;                    /* workers that reached their loop */
    _Atomic int32_t in_region;
    int shutdown;
    int has_worker_cpus;       /* worker_cpus is the union of the CPUs workers 1..n-1 are bound to */
    cpu_set_t worker_cpus;
    int is_default;            /* the process-wide pool: destroyed only at exit */
    tsr_pool_t *live_next;     /* registry of live pools (g_live) */
};

static _Thread_local tsr_pool_t *tl_pool = NULL;
static _Thread_local int32_t tl_worker = -1;

/* Pools returned by tsr_pool_create and not yet destroyed. tsr_pool_destroy looks its
 * argument up here before touching it, so a second destroy (or a pointer that is not a
 * pool) is refused instead of reading freed memory. Only create/destroy take the lock. */
static pthread_mutex_t g_live_lock = PTHREAD_MUTEX_INITIALIZER;
static tsr_pool_t *g_live = NULL;

/* ---- futex and time ---------------------------------------------------------- */

static void futex_wait(volatile void *addr, uint32_t expected) {
    syscall(SYS_futex, (void *)addr, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}
static void futex_wake(volatile void *addr, int n) {
    syscall(SYS_futex, (void *)addr, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}
static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- OpenBLAS thread control (resolved at run time; absent = no-op) ---------- */

static void (*blas_set_threads)(int) = NULL;
static int (*blas_get_threads)(void) = NULL;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void blas_resolve(void) {
    blas_set_threads = (void (*)(int))dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    blas_get_threads = (int (*)(void))dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    if (!blas_get_threads) blas_set_threads = NULL;
}

/* ---- running a share of the task ---------------------------------------------- */

static void run_share(tsr_pool_t *p, int32_t w) {
    if (p->kind == TASK_WORKER) {
        p->worker_fn(p->ctx, w, p->n);
        return;
    }
    if (p->schedule == TSR_SCHEDULE_STATIC) {
        int64_t q = p->count / p->n, r = p->count % p->n;
        int64_t begin = w * q + (w < r ? w : r);
        int64_t end = begin + q + (w < r ? 1 : 0);
        if (begin < end) p->range_fn(p->ctx, begin, end, w);
        return;
    }
    for (;;) {
        int64_t begin = atomic_fetch_add_explicit(&p->next, p->chunk, memory_order_relaxed);
        if (begin >= p->count) break;
        int64_t end = begin + p->chunk < p->count ? begin + p->chunk : p->count;
        p->range_fn(p->ctx, begin, end, w);
    }
}

static void *worker_main(void *arg) {
    tsr_pool_t *p = ((void **)arg)[0];
    int32_t w = (int32_t)(intptr_t)((void **)arg)[1];
    free(arg);
    tsr_topo_bind_current(p->bind, w);
    p->slots[w].tid = (pid_t)syscall(SYS_gettid);
    tl_pool = p;
    tl_worker = w;
    uint32_t seen = atomic_load(&p->generation);
    atomic_fetch_add(&p->started, 1);
    const uint64_t spin_ns = (uint64_t)p->spin_us * 1000u;
    for (;;) {
        uint32_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g == seen) {
            uint64_t t0 = now_ns();
            for (unsigned i = 1;; i++) {
                g = atomic_load_explicit(&p->generation, memory_order_acquire);
                if (g != seen) break;
                cpu_relax();
                if ((i & 63) == 0 && now_ns() - t0 > spin_ns) break;
            }
            while (g == seen) {
                atomic_fetch_add(&p->sleepers, 1);
                g = atomic_load(&p->generation);
                if (g == seen) futex_wait(&p->generation, seen);
                atomic_fetch_sub(&p->sleepers, 1);
                g = atomic_load_explicit(&p->generation, memory_order_acquire);
            }
        }
        seen = g;
        if (p->shutdown) break;
        run_share(p, w);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            if (atomic_load(&p->master_waiting)) futex_wake(&p->pending, 1);
        }
    }
    return NULL;
}

/* The caller (worker 0) is not bound, and the scheduler's wake-affine placement moves it onto
 * the core of the worker that wakes it at the end of a region: then the two share one core,
 * every region waits out the caller's spin (0.2-0.4 ms on the 2-core box) and nothing runs
 * in parallel. If the caller sits on a worker's CPU at region start, it is moved off the
 * workers' CPUs for the region, and its own affinity is restored afterwards. Returns 1 if
 * `saved` must be restored. */
static int caller_off_workers(tsr_pool_t *p, cpu_set_t *saved) {
    if (!p->has_worker_cpus) return 0;
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &p->worker_cpus)) return 0;
    if (pthread_getaffinity_np(pthread_self(), sizeof *saved, saved) != 0) return 0;
    cpu_set_t off;
    CPU_ZERO(&off);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, saved) && !CPU_ISSET(c, &p->worker_cpus)) CPU_SET(c, &off);
    if (CPU_COUNT(&off) == 0) return 0;
    return pthread_setaffinity_np(pthread_self(), sizeof off, &off) == 0;
}

/* Publishes the prepared task, runs worker 0's share, waits for the others. */
static void run_region(tsr_pool_t *p) {
    int blas_saved = 0;
    cpu_set_t caller_saved;
    const int moved = caller_off_workers(p, &caller_saved);
    if (p->n > 1) {
        pthread_once(&blas_once, blas_resolve);
        if (blas_set_threads) {
            blas_saved = blas_get_threads();
            if (blas_saved > 1) blas_set_threads(1); else blas_saved = 0;
        }
    }
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    atomic_store(&p->in_region, 1);
    atomic_fetch_add(&p->generation, 1);  /* seq_cst: publishes the task */
    if (atomic_load(&p->sleepers) > 0) futex_wake(&p->generation, INT_MAX);

    tsr_pool_t *saved_pool = tl_pool;
    int32_t saved_worker = tl_worker;
    tl_pool = p;
    tl_worker = 0;
    run_share(p, 0);
    tl_pool = saved_pool;
    tl_worker = saved_worker;

    const uint64_t spin_ns = (uint64_t)p->spin_us * 1000u;
    if (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) {
        uint64_t t0 = now_ns();
        for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) != 0; i++) {
            cpu_relax();
            if ((i & 63) == 0 && now_ns() - t0 > spin_ns) {
                atomic_store(&p->master_waiting, 1);
                int32_t v;
                while ((v = atomic_load(&p->pending)) != 0) futex_wait(&p->pending, (uint32_t)v);
                atomic_store(&p->master_waiting, 0);
                break;
            }
        }
    }
    atomic_store(&p->in_region, 0);
    if (blas_saved) blas_set_threads(blas_saved);
    if (moved) pthread_setaffinity_np(pthread_self(), sizeof caller_saved, &caller_saved);
}

/* ---- public API ---------------------------------------------------------------- */

static int32_t env_int(const char *name, int32_t fallback, int32_t lo, int32_t hi) {
    const char *v = tsr_getenv(name);
    if (!v) return fallback;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end != '\0' || x < lo || x > hi) return fallback;
    return (int32_t)x;
}

static tsr_bind env_bind(void) {
    const char *v = tsr_getenv("TESSERA_BIND");
    if (!v) return TSR_BIND_CORE;
    for (int b = 0; b < TSR_BIND_COUNT; b++)
        if (strcmp(v, tsr_bind_name((tsr_bind)b)) == 0) return (tsr_bind)b;
    return TSR_BIND_CORE;
}

void tsr_pool_params_default(tsr_pool_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->n_threads = 0;
    p->bind = TSR_BIND_COUNT;  /* "not set": resolved from TESSERA_BIND at create time */
    p->spin_us = -1;
    p->scratch_bytes = 0;
}

const char *tsr_bind_name(tsr_bind bind) {
    switch (bind) {
    case TSR_BIND_CORE: return "core";
    case TSR_BIND_SCATTER: return "scatter";
    case TSR_BIND_NONE: return "none";
    default: return "invalid";
    }
}

#define TSR_POOL_MAX_THREADS 4096

static void pool_free(tsr_pool_t *p, int32_t threads);

tsr_status tsr_pool_create(const tsr_pool_params *params, tsr_pool_t **out) {
    TSR_CHECK_NULL(out);
    *out = NULL;
    tsr_pool_params prm;
    tsr_pool_params_default(&prm);
    if (params) {
        TSR_CHECK_ARG(params->size >= sizeof(tsr_pool_params),
                      "tsr_pool_create: params->size is %u, expected %zu (use tsr_pool_params_default)",
                      params->size, sizeof(tsr_pool_params));
        prm = *params;
    }
    TSR_CHECK_ARG(prm.n_threads >= 0 && prm.n_threads <= TSR_POOL_MAX_THREADS,
                  "tsr_pool_create: n_threads must be in 0...%d (got %d)", TSR_POOL_MAX_THREADS, prm.n_threads);
    TSR_CHECK_ARG((int)prm.bind >= 0 && prm.bind <= TSR_BIND_COUNT,
                  "tsr_pool_create: invalid bind mode %d", (int)prm.bind);
    TSR_CHECK_ARG(prm.spin_us <= 1000000, "tsr_pool_create: spin_us %d is over one second", prm.spin_us);

    int32_t n = prm.n_threads ? prm.n_threads
                              : env_int("TESSERA_NUM_THREADS", tsr_topo_num_cores(), 1, TSR_POOL_MAX_THREADS);
    tsr_pool_t *p = tsr_calloc(1, sizeof *p);
    if (!p) return tsr_error(TSR_ENOMEM, "tsr_pool_create: cannot allocate the pool");
    p->n = n;
    p->bind = prm.bind == TSR_BIND_COUNT ? env_bind() : prm.bind;
    p->spin_us = prm.spin_us >= 0 ? prm.spin_us : env_int("TESSERA_SPIN_US", 200, 0, 1000000);
    p->slots = tsr_calloc((size_t)n, sizeof(worker_slot));
    p->threads = calloc((size_t)(n > 1 ? n - 1 : 1), sizeof(pthread_t));
    if (!p->slots || !p->threads) {
        tsr_free(p->slots); free(p->threads); tsr_free(p);
        return tsr_error(TSR_ENOMEM, "tsr_pool_create: cannot allocate %d worker slots", n);
    }
    pthread_mutex_init(&p->region_lock, NULL);
    /* The creating thread is worker 0 but is never bound: a library must not change its
     * caller's affinity, which every thread and process the caller starts later inherits
     * (bound to core 0, a Python interpreter ran its later threads, and a bench its peer
     * processes, on one core). Workers 1..n-1 are bound to their cores. */
    p->slots[0].tid = (pid_t)syscall(SYS_gettid);
    CPU_ZERO(&p->worker_cpus);
    for (int32_t w = 1; w < n; w++) {
        cpu_set_t set;
        if (tsr_topo_worker_cpus(p->bind, w, &set)) {
            CPU_OR(&p->worker_cpus, &p->worker_cpus, &set);
            p->has_worker_cpus = 1;
        }
    }
    if (prm.scratch_bytes)
        for (int32_t w = 0; w < n; w++)
            if (!tsr_pool_scratch(p, w, prm.scratch_bytes)) {
                pool_free(p, 0);
                return tsr_error(TSR_ENOMEM, "tsr_pool_create: cannot allocate %zu bytes of scratch for worker %d",
                                 prm.scratch_bytes, w);
            }

    for (int32_t w = 1; w < n; w++) {
        void **arg = malloc(2 * sizeof(void *));
        if (!arg) { pool_free(p, w - 1); return tsr_error(TSR_ENOMEM, "tsr_pool_create: out of memory"); }
        arg[0] = p;
        arg[1] = (void *)(intptr_t)w;
        int rc = pthread_create(&p->threads[w - 1], NULL, worker_main, arg);
        if (rc != 0) {
            free(arg);
            pool_free(p, w - 1);  /* shut down the workers made so far */
            return tsr_error(TSR_EIO, "tsr_pool_create: pthread_create for worker %d failed: %s", w, strerror(rc));
        }
    }
    /* wait until every worker recorded its tid (so affinity queries work at once) */
    while (atomic_load(&p->started) < n - 1) sched_yield();
    pthread_mutex_lock(&g_live_lock);
    p->live_next = g_live;
    g_live = p;
    pthread_mutex_unlock(&g_live_lock);
    *out = p;
    return TSR_OK;
}

/* Joins the first `threads` workers (all n - 1 of a complete pool; fewer when create
 * fails half-way) and frees everything. The pool must be idle and out of the registry. */
static void pool_free(tsr_pool_t *p, int32_t threads) {
    pthread_mutex_lock(&p->region_lock);
    /* a worker that has not read `generation` yet would miss the bump below and sleep forever */
    while (atomic_load(&p->started) < threads) sched_yield();
    p->shutdown = 1;
    atomic_fetch_add(&p->generation, 1);
    futex_wake(&p->generation, INT_MAX);
    for (int32_t i = 0; i < threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_unlock(&p->region_lock);
    pthread_mutex_destroy(&p->region_lock);
    for (int32_t w = 0; w < p->n; w++) tsr_free(p->slots[w].scratch);
    tsr_free(p->slots);
    free(p->threads);
    tsr_free(p);
}

tsr_status tsr_pool_destroy(tsr_pool_t *p) {
    if (!p) return TSR_OK;
    /* p is dereferenced only once it is found in the registry */
    pthread_mutex_lock(&g_live_lock);
    tsr_pool_t **link = &g_live;
    while (*link && *link != p) link = &(*link)->live_next;
    tsr_status st = TSR_OK;
    if (!*link)
        st = tsr_error(TSR_EINVAL, "tsr_pool_destroy: %p is not a live pool (destroyed already, or not made "
                       "by tsr_pool_create)", (void *)p);
    else if (p->is_default)
        st = tsr_error(TSR_ESTATE, "tsr_pool_destroy: %p is the default pool (tsr_pool_default), which the "
                       "library owns and destroys at exit", (void *)p);
    else if (tl_pool == p)
        st = tsr_error(TSR_ESTATE, "tsr_pool_destroy: called from inside a region of pool %p (worker %d)",
                       (void *)p, tl_worker);
    else if (atomic_load(&p->in_region))
        st = tsr_error(TSR_ESTATE, "tsr_pool_destroy: pool %p is running a region", (void *)p);
    else
        *link = p->live_next;
    pthread_mutex_unlock(&g_live_lock);
    if (st != TSR_OK) return st;
    pool_free(p, p->n - 1);
    return TSR_OK;
}

/* ---- the default pool ------------------------------------------------------------ */

static _Atomic(tsr_pool_t *) g_default = NULL;
static tsr_status g_default_status = TSR_OK;
static char g_default_error[256];
static pthread_once_t g_default_once = PTHREAD_ONCE_INIT;

/* At exit (skipped when exit is called inside a region, whose workers must not be joined) */
static void destroy_default(void) {
    tsr_pool_t *p = atomic_load(&g_default);
    if (!p || atomic_load(&p->in_region) || tl_pool != NULL) return;
    pthread_mutex_lock(&g_live_lock);
    tsr_pool_t **link = &g_live;
    while (*link && *link != p) link = &(*link)->live_next;
    if (*link) *link = p->live_next;
    pthread_mutex_unlock(&g_live_lock);
    atomic_store(&g_default, NULL);
    pool_free(p, p->n - 1);
}

static void create_default(void) {
    tsr_pool_t *p = NULL;
    g_default_status = tsr_pool_create(NULL, &p);
    if (g_default_status != TSR_OK) {
        strncpy(g_default_error, tsr_last_error(), sizeof g_default_error - 1);
        return;
    }
    p->is_default = 1;  /* before anyone can see it: pthread_once publishes it */
    atomic_store(&g_default, p);
    atexit(destroy_default);
}

tsr_status tsr_pool_default(tsr_pool_t **out) {
    TSR_CHECK_NULL(out);
    pthread_once(&g_default_once, create_default);
    *out = atomic_load(&g_default);
    if (g_default_status != TSR_OK)
        return tsr_error(g_default_status, "tsr_pool_default: %s", g_default_error);
    if (!*out)
        return tsr_error(TSR_ESTATE, "tsr_pool_default: the default pool was destroyed at process exit");
    return TSR_OK;
}

static tsr_status resolve(tsr_pool_t **pool) {
    if (*pool) return TSR_OK;
    return tsr_pool_default(pool);
}

int32_t tsr_pool_num_threads(const tsr_pool_t *pool) {
    tsr_pool_t *p = (tsr_pool_t *)pool;
    if (resolve(&p) != TSR_OK) return 1;
    return p->n;
}

int32_t tsr_pool_worker_index(void) { return tl_pool ? tl_worker : -1; }

int32_t tsr_pool_is_in_worker(void) { return tl_pool != NULL; }

int32_t tsr_pool_in_worker(void) { return tsr_pool_is_in_worker(); }

int32_t tsr_pool_external_threads(const tsr_pool_t *pool) {
    if (tl_pool) return 1;
    return tsr_pool_num_threads(pool);
}

tsr_bind tsr_pool_bind_mode(const tsr_pool_t *pool) {
    tsr_pool_t *p = (tsr_pool_t *)pool;
    if (resolve(&p) != TSR_OK) return TSR_BIND_NONE;
    return p->bind;
}

tsr_status tsr_parallel_for(tsr_pool_t *pool, int64_t n, int64_t chunk, tsr_schedule schedule,
                            tsr_range_fn fn, void *ctx) {
    TSR_CHECK_NULL(fn);
    TSR_CHECK_ARG(n >= 0, "tsr_parallel_for: n must be >= 0 (got %lld)", (long long)n);
    TSR_CHECK_ARG((int)schedule >= 0 && schedule < TSR_SCHEDULE_COUNT,
                  "tsr_parallel_for: invalid schedule %d", (int)schedule);
    if (n == 0) return TSR_OK;
    if (tl_pool) {  /* nested: run inline on this worker */
        fn(ctx, 0, n, tl_worker);
        return TSR_OK;
    }
    TSR_TRY(resolve(&pool));
    if (pool->n == 1 || n == 1) {
        /* on the caller as worker 0 — under the region lock all the same: worker 0's scratch
         * (tsr_pool_scratch) belongs to whichever thread is worker 0 of the running region,
         * and a second thread running "as worker 0" beside it would share that memory */
        pthread_mutex_lock(&pool->region_lock);
        tl_pool = pool; tl_worker = 0;
        fn(ctx, 0, n, 0);
        tl_pool = NULL; tl_worker = -1;
        pthread_mutex_unlock(&pool->region_lock);
        return TSR_OK;
    }
    pthread_mutex_lock(&pool->region_lock);
    pool->kind = TASK_RANGE;
    pool->range_fn = fn;
    pool->ctx = ctx;
    pool->count = n;
    pool->schedule = schedule;
    if (chunk <= 0) {
        chunk = n / (4 * (int64_t)pool->n);
        if (chunk < 1) chunk = 1;
    }
    pool->chunk = chunk;
    run_region(pool);
    pthread_mutex_unlock(&pool->region_lock);
    return TSR_OK;
}

tsr_status tsr_pool_run(tsr_pool_t *pool, tsr_worker_fn fn, void *ctx) {
    TSR_CHECK_NULL(fn);
    if (tl_pool) {
        fn(ctx, 0, 1);
        return TSR_OK;
    }
    TSR_TRY(resolve(&pool));
    if (pool->n == 1) {  /* on the caller, under the region lock (see tsr_parallel_for) */
        pthread_mutex_lock(&pool->region_lock);
        tl_pool = pool; tl_worker = 0;
        fn(ctx, 0, 1);
        tl_pool = NULL; tl_worker = -1;
        pthread_mutex_unlock(&pool->region_lock);
        return TSR_OK;
    }
    pthread_mutex_lock(&pool->region_lock);
    pool->kind = TASK_WORKER;
    pool->worker_fn = fn;
    pool->ctx = ctx;
    run_region(pool);
    pthread_mutex_unlock(&pool->region_lock);
    return TSR_OK;
}

void *tsr_pool_scratch(tsr_pool_t *pool, int32_t worker, size_t bytes) {
    if (resolve(&pool) != TSR_OK) return NULL;
    if (worker < 0 || worker >= pool->n) {
        tsr_error(TSR_EINVAL, "tsr_pool_scratch: worker %d is not in 0...%d", worker, pool->n - 1);
        return NULL;
    }
    worker_slot *s = &pool->slots[worker];
    if (s->scratch_bytes >= bytes && s->scratch) return s->scratch;
    size_t want = bytes < 4096 ? 4096 : bytes;
    void *m = tsr_malloc(want);
    if (!m) return NULL;
    tsr_free(s->scratch);
    s->scratch = m;
    s->scratch_bytes = want;
    return m;
}

tsr_status tsr_pool_worker_affinity(tsr_pool_t *pool, int32_t worker, int32_t *cpus, int32_t max,
                                    int32_t *count) {
    TSR_CHECK_NULL(count);
    TSR_CHECK_ARG(max >= 0, "tsr_pool_worker_affinity: max must be >= 0 (got %d)", max);
    TSR_CHECK_ARG(max == 0 || cpus != NULL, "tsr_pool_worker_affinity: argument 'cpus' is NULL");
    TSR_TRY(resolve(&pool));
    TSR_CHECK_ARG(worker >= 0 && worker < pool->n,
                  "tsr_pool_worker_affinity: worker %d is not in 0...%d", worker, pool->n - 1);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(pool->slots[worker].tid, sizeof set, &set) != 0)
        return tsr_error(TSR_EIO, "tsr_pool_worker_affinity: sched_getaffinity(tid %d): %s",
                         (int)pool->slots[worker].tid, strerror(errno));
    int32_t k = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set)) continue;
        if (k < max) cpus[k] = c;
        k++;
    }
    *count = k;
    return TSR_OK;
}
