/*
 * tessera/pool.h — machine topology (hwloc) and the core-pinned fork-join thread pool.
 *
 * Threading contract
 *   - A pool has N workers; the thread that calls tsr_parallel_for / tsr_pool_run
 *     takes part as worker 0, so N-1 OS threads are created.
 *   - Workers 1..N-1 are bound to cores (TESSERA_BIND=core, default), spread over
 *     packages and NUMA nodes (scatter), or left free (none). Worker 0, the calling
 *     thread, is never bound: the pool does not change its caller's affinity, which
 *     the threads and processes the caller starts later would inherit. The binding is made with
 *     hwloc; where hwloc cannot load a topology the pool falls back to
 *     sched_setaffinity over the CPUs of sched_getaffinity and says so in
 *     tsr_topology_info.source.
 *   - Waiting is spin-then-futex: idle workers spin for about TESSERA_SPIN_US
 *     microseconds (default 200) after a region, then sleep on a futex.
 *   - A call made from inside a worker of any pool runs inline on that worker
 *     (no nested parallelism, no oversubscription).
 *   - One region runs at a time per pool: a call from a second application thread
 *     while a region runs waits for it (pools are safe to share, not concurrent) —
 *     also a one-range region or any region of a one-thread pool, which runs on the
 *     caller as worker 0 and so would otherwise share worker 0's scratch.
 *     Use several pools for concurrent regions.
 *   - tsr_pool_create/tsr_pool_destroy are thread-safe; destroying a pool while a
 *     region runs on it, from inside one of its regions, destroying the default pool,
 *     or destroying a pool twice are caller errors, detected and refused (see
 *     tsr_pool_destroy).
 *   - While a multi-worker region runs, OpenBLAS (if loaded in the process) is
 *     set to one thread and restored afterwards; FFTW users should plan with
 *     tsr_pool_external_threads() threads.
 */
#ifndef TESSERA_POOL_H
#define TESSERA_POOL_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- topology ------------------------------------------------------------- */

/** Machine topology. `size` must be set to sizeof(tsr_topology_info) by the caller. */
typedef struct tsr_topology_info {
    uint32_t size;
    int32_t packages;       /**< sockets */
    int32_t numa_nodes;
    int32_t cores;          /**< physical cores usable by this process */
    int32_t pus;            /**< hardware threads (processing units) usable by this process */
    int64_t l1d_bytes;      /**< L1 data cache per core */
    int64_t l2_bytes;       /**< L2 cache per core (or shared size if shared) */
    int64_t l3_bytes;       /**< last-level cache of one package (0 if none) */
    int32_t from_hwloc;     /**< 1 if hwloc loaded the topology, 0 on the fallback path */
    char source[96];        /**< "hwloc 2.9.0" or "sysconf/sched_getaffinity (hwloc unavailable: ...)" */
} tsr_topology_info;

/** Fills `out` (out->size must be set). The topology is loaded once per process. */
TSR_API tsr_status tsr_topology_info_get(tsr_topology_info *out);
/** Deprecated name of tsr_topology_info_get (docs/CONVENTIONS.md). */
TSR_DEPRECATED(TSR_API tsr_status tsr_topology_get(tsr_topology_info *out), "use tsr_topology_info_get");

/** Version string of the hwloc library in use ("2.9.0"), or "none". Never NULL. */
TSR_API const char *tsr_hwloc_version(void);

/* ---- pool ------------------------------------------------------------------ */

typedef struct tsr_pool tsr_pool_t;

/** How workers are bound to the machine. Append-only. */
typedef enum tsr_bind {
    TSR_BIND_CORE = 0,     /**< worker i on core i (in hwloc's logical order) */
    TSR_BIND_SCATTER = 1,  /**< round-robin over packages/NUMA nodes first, then cores */
    TSR_BIND_NONE = 2,     /**< no binding; the OS schedules */
    TSR_BIND_COUNT
} tsr_bind;

/** Pool parameters; start from tsr_pool_params_default(). */
typedef struct tsr_pool_params {
    uint32_t size;          /**< sizeof(tsr_pool_params) */
    int32_t n_threads;      /**< workers incl. the caller; 0 = TESSERA_NUM_THREADS or one per core */
    tsr_bind bind;          /**< default TESSERA_BIND or TSR_BIND_CORE */
    int32_t spin_us;        /**< spin before sleeping; <0 = TESSERA_SPIN_US or 200 */
    size_t scratch_bytes;   /**< initial per-worker scratch (grown on demand) */
} tsr_pool_params;

/** Fills `p` with the defaults (environment applied at create time). NULL-safe. */
TSR_API void tsr_pool_params_default(tsr_pool_params *p);

/**
 * Creates a pool. `params` may be NULL (defaults). n_threads may exceed the core
 * count (workers then share cores; binding wraps around). Errors: TSR_EINVAL
 * (bad params), TSR_ENOMEM, TSR_EIO (thread creation failed).
 */
TSR_API tsr_status tsr_pool_create(const tsr_pool_params *params, tsr_pool_t **out);

/**
 * Joins the workers and frees the pool. NULL-safe (TSR_OK). Refused, the pool left intact
 * and usable:
 *   - TSR_ESTATE for the default pool (tsr_pool_default: the library owns it and
 *     destroys it at exit), when called from inside a region of this pool (on any of its
 *     workers, including the caller as worker 0), or while a region runs on it;
 *   - TSR_EINVAL when `pool` is not a live pool: destroyed already (a second destroy),
 *     or not returned by tsr_pool_create. (Memory of a destroyed pool may be reused by a
 *     later tsr_pool_create, and the stale handle then names that pool: do not keep
 *     handles past their destroy.) Any other call with a destroyed pool is undefined.
 */
TSR_API tsr_status tsr_pool_destroy(tsr_pool_t *pool);

/**
 * The process-wide default pool, created on first use (thread-safe) with the
 * default parameters and destroyed at process exit (atexit). Never destroy it
 * yourself: tsr_pool_destroy refuses it with TSR_ESTATE. Errors: TSR_EINVAL (out NULL),
 * the status of the failed creation (its message repeated), TSR_ESTATE (*out = NULL)
 * when called after the pool was destroyed at exit (e.g. from a later atexit handler).
 */
TSR_API tsr_status tsr_pool_default(tsr_pool_t **out);

/** Number of workers (incl. the calling thread); NULL means the default pool. */
TSR_API int32_t tsr_pool_num_threads(const tsr_pool_t *pool);

/** Index of the calling worker in its pool, or -1 when not inside a region. */
TSR_API int32_t tsr_pool_worker_index(void);

/** 1 if the caller runs inside a worker of any pool (calls will run inline), else 0. */
TSR_API int32_t tsr_pool_is_in_worker(void);
/** Deprecated name of tsr_pool_is_in_worker (docs/CONVENTIONS.md). */
TSR_DEPRECATED(TSR_API int32_t tsr_pool_in_worker(void), "use tsr_pool_is_in_worker");

/**
 * Threads an external threaded library (FFTW, OpenBLAS) should use when called
 * from the current thread: 1 inside a worker, else the pool's thread count.
 */
TSR_API int32_t tsr_pool_external_threads(const tsr_pool_t *pool);

/** Schedules of tsr_parallel_for. Append-only. */
typedef enum tsr_schedule {
    TSR_SCHEDULE_STATIC = 0,   /**< [0,n) cut into one contiguous range per worker */
    TSR_SCHEDULE_DYNAMIC = 1,  /**< chunks of `chunk` taken from a shared atomic counter */
    TSR_SCHEDULE_COUNT
} tsr_schedule;

/** Body of a parallel loop: processes [begin, end) on worker `worker`. */
typedef void (*tsr_range_fn)(void *ctx, int64_t begin, int64_t end, int32_t worker);

/**
 * Runs fn over [0, n) on `pool` (NULL = default pool) and returns when all
 * ranges are done. STATIC gives worker w the w-th of nthreads nearly equal
 * contiguous ranges (chunk ignored); DYNAMIC hands out ranges of `chunk`
 * (chunk <= 0: n / (4 * nthreads), at least 1). n == 0 returns TSR_OK at once.
 * Called from inside a worker, fn(ctx, 0, n, worker) runs inline.
 * Errors: TSR_EINVAL (fn NULL, n < 0, bad schedule).
 */
TSR_API tsr_status tsr_parallel_for(tsr_pool_t *pool, int64_t n, int64_t chunk,
                                    tsr_schedule schedule, tsr_range_fn fn, void *ctx);

/** Body run once per worker by tsr_pool_run. */
typedef void (*tsr_worker_fn)(void *ctx, int32_t worker, int32_t n_workers);

/**
 * Calls fn(ctx, w, N) once on each worker w of the pool (w = 0 on the caller)
 * and waits for all. Inside a worker it runs fn(ctx, 0, 1) inline.
 */
TSR_API tsr_status tsr_pool_run(tsr_pool_t *pool, tsr_worker_fn fn, void *ctx);

/**
 * Per-worker scratch memory owned by the pool, at least `bytes` long and
 * TSR_ALIGNMENT-aligned, valid until the next tsr_pool_scratch call by the same
 * worker or the pool's destruction. Call it from the worker that uses it (inside
 * a region, with its worker index; or with worker 0 outside regions). Grows on
 * demand; contents are not preserved across growth. NULL on ENOMEM or bad index.
 */
TSR_API void *tsr_pool_scratch(tsr_pool_t *pool, int32_t worker, size_t bytes);

/**
 * The CPUs worker `worker` is allowed to run on, read back from the OS
 * (sched_getaffinity of that thread). Writes up to `max` CPU numbers to `cpus`
 * and their count to *count. Worker 0 is the thread that created the pool; it keeps
 * the affinity it had (the pool never binds it, unlike OpenMP's initial thread under
 * OMP_PROC_BIND), and other application threads that later call into the pool keep
 * their own affinity too.
 */
TSR_API tsr_status tsr_pool_worker_affinity(tsr_pool_t *pool, int32_t worker,
                                            int32_t *cpus, int32_t max, int32_t *count);

/** The binding mode the pool uses after applying defaults and the environment. */
TSR_API tsr_bind tsr_pool_bind_mode(const tsr_pool_t *pool);

/** "core", "scatter", "none" or "invalid". Never NULL. */
TSR_API const char *tsr_bind_name(tsr_bind bind);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_POOL_H */
