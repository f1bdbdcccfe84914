/* Thread pool and topology: coverage of every index, schedules, nesting, scratch,
 * binding read back from the OS, several pools, concurrent callers, bad input. */
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdatomic.h>
#include <string.h>

#include "tsr_test.h"

typedef struct { _Atomic int *hits; _Atomic int calls; } cover_ctx;

static void cover(void *c, int64_t b, int64_t e, int32_t w) {
    cover_ctx *x = c;
    atomic_fetch_add(&x->calls, 1);
    for (int64_t i = b; i < e; i++) atomic_fetch_add(&x->hits[i], 1);
    (void)w;
}

static int each_hit_once(tsr_pool_t *pool, int64_t n, int64_t chunk, tsr_schedule s) {
    _Atomic int *hits = calloc((size_t)n + 1, sizeof *hits);
    cover_ctx c = {hits, 0};
    tsr_status st = tsr_parallel_for(pool, n, chunk, s, cover, &c);
    int ok = st == TSR_OK;
    for (int64_t i = 0; i < n; i++) ok &= hits[i] == 1;
    free(hits);
    return ok;
}

TSR_TEST(test_topology) {
    tsr_topology_info t;
    memset(&t, 0, sizeof t);
    t.size = sizeof t;
    CHECK_OK(tsr_topology_info_get(&t));
    CHECK(t.cores >= 1 && t.pus >= t.cores && t.packages >= 1 && t.numa_nodes >= 1);
    CHECK(t.l1d_bytes >= 4096 && t.l2_bytes >= t.l1d_bytes);
    CHECK(t.source[0] != '\0');
    t.size = 3;
    CHECK_STATUS(tsr_topology_info_get(&t), TSR_EINVAL);
    CHECK_STATUS(tsr_topology_info_get(NULL), TSR_EINVAL);
    CHECK(strlen(tsr_hwloc_version()) >= 3);
    /* make test-no-hwloc: the library was built without hwloc, so the fallback answered */
    if (getenv("TSR_TEST_EXPECT_NO_HWLOC")) {
        CHECK_MSG(strcmp(tsr_hwloc_version(), "none") == 0, "hwloc version '%s'", tsr_hwloc_version());
        t.size = sizeof t;
        CHECK_OK(tsr_topology_info_get(&t));
        CHECK_MSG(t.from_hwloc == 0 && strstr(t.source, "built without hwloc") != NULL, "source '%s'", t.source);
    }
}

TSR_TEST(test_parallel_for_covers_range) {
    for (int nt = 1; nt <= 5; nt++) {
        tsr_pool_params p;
        tsr_pool_params_default(&p);
        p.n_threads = nt;
        tsr_pool_t *pool = NULL;
        CHECK_OK(tsr_pool_create(&p, &pool));
        if (!pool) continue;
        CHECK(tsr_pool_num_threads(pool) == nt);
        int64_t sizes[] = {1, 2, 3, 7, 64, 1000, 4097};
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
            CHECK(each_hit_once(pool, sizes[i], 0, TSR_SCHEDULE_STATIC));
            CHECK(each_hit_once(pool, sizes[i], 0, TSR_SCHEDULE_DYNAMIC));
            CHECK(each_hit_once(pool, sizes[i], 3, TSR_SCHEDULE_DYNAMIC));
            CHECK(each_hit_once(pool, sizes[i], 100000, TSR_SCHEDULE_DYNAMIC));
        }
        CHECK_OK(tsr_pool_destroy(pool));
    }
}

typedef struct { int64_t begin[16], end[16]; } static_ctx;
static void record_static(void *c, int64_t b, int64_t e, int32_t w) {
    static_ctx *x = c;
    x->begin[w] = b;
    x->end[w] = e;
}

TSR_TEST(test_static_schedule_is_contiguous_per_worker) {
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    p.n_threads = 3;
    tsr_pool_t *pool;
    CHECK_OK(tsr_pool_create(&p, &pool));
    static_ctx c;
    memset(&c, 0xff, sizeof c);
    CHECK_OK(tsr_parallel_for(pool, 10, 0, TSR_SCHEDULE_STATIC, record_static, &c));
    /* 10 over 3 workers: [0,4) [4,7) [7,10) */
    CHECK(c.begin[0] == 0 && c.end[0] == 4);
    CHECK(c.begin[1] == 4 && c.end[1] == 7);
    CHECK(c.begin[2] == 7 && c.end[2] == 10);
    tsr_pool_destroy(pool);
}

typedef struct { tsr_pool_t *pool; _Atomic int inner_inline; _Atomic int total; } nest_ctx;
static void inner(void *c, int64_t b, int64_t e, int32_t w) {
    nest_ctx *x = c;
    atomic_fetch_add(&x->total, (int)(e - b));
}
static void outer(void *c, int64_t b, int64_t e, int32_t w) {
    nest_ctx *x = c;
    for (int64_t i = b; i < e; i++) {
        int32_t before = tsr_pool_worker_index();
        tsr_parallel_for(x->pool, 10, 0, TSR_SCHEDULE_STATIC, inner, c);
        if (tsr_pool_is_in_worker() && before == w && tsr_pool_worker_index() == w)
            atomic_fetch_add(&x->inner_inline, 1);
    }
}

TSR_TEST(test_nested_calls_run_inline) {
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    p.n_threads = 3;
    tsr_pool_t *pool;
    CHECK_OK(tsr_pool_create(&p, &pool));
    nest_ctx c = {pool, 0, 0};
    CHECK(tsr_pool_worker_index() == -1 && !tsr_pool_is_in_worker());
    CHECK_OK(tsr_parallel_for(pool, 12, 1, TSR_SCHEDULE_DYNAMIC, outer, &c));
    CHECK(c.total == 120);
    CHECK(c.inner_inline == 12);
    CHECK(tsr_pool_worker_index() == -1);
    CHECK(tsr_pool_external_threads(pool) == 3);
    tsr_pool_destroy(pool);
}

typedef struct { tsr_pool_t *pool; _Atomic int ok; _Atomic int seen[8]; } run_ctx;
static void per_worker(void *c, int32_t w, int32_t n) {
    run_ctx *x = c;
    atomic_fetch_add(&x->seen[w], 1);
    /* scratch: aligned, writable, private */
    unsigned char *s = tsr_pool_scratch(x->pool, w, 1 << 16);
    if (s && ((uintptr_t)s % TSR_ALIGNMENT) == 0) {
        memset(s, w, 1 << 16);
        if (s[12345] == (unsigned char)w && tsr_pool_external_threads(x->pool) == 1) atomic_fetch_add(&x->ok, 1);
    }
    (void)n;
}

TSR_TEST(test_pool_run_and_scratch) {
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    p.n_threads = 4;
    p.scratch_bytes = 1024;
    tsr_pool_t *pool;
    CHECK_OK(tsr_pool_create(&p, &pool));
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.pool = pool;
    for (int rep = 0; rep < 50; rep++) CHECK_OK(tsr_pool_run(pool, per_worker, &c));
    for (int w = 0; w < 4; w++) CHECK(c.seen[w] == 50);
    CHECK(c.ok == 200);
    CHECK(tsr_pool_scratch(pool, 4, 16) == NULL);
    CHECK(tsr_pool_scratch(pool, -1, 16) == NULL);
    tsr_pool_destroy(pool);
}

TSR_TEST(test_binding_read_back) {
    tsr_topology_info t = {.size = sizeof t};
    tsr_topology_info_get(&t);
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    p.bind = TSR_BIND_CORE;
    p.n_threads = t.cores;
    cpu_set_t before, after;
    CHECK(sched_getaffinity(0, sizeof before, &before) == 0);
    tsr_pool_t *pool;
    CHECK_OK(tsr_pool_create(&p, &pool));
    /* the creating thread (worker 0) keeps its affinity: what it starts later inherits it */
    CHECK(sched_getaffinity(0, sizeof after, &after) == 0);
    CHECK_MSG(CPU_EQUAL(&before, &after), "tsr_pool_create changed its caller's affinity (%d -> %d CPUs)",
              CPU_COUNT(&before), CPU_COUNT(&after));
    int32_t first[64];
    for (int w = 0; w < t.cores && w < 64; w++) {
        int32_t cpus[256], count = 0;
        CHECK_OK(tsr_pool_worker_affinity(pool, w, cpus, 256, &count));
        CHECK(count >= 1);
        first[w] = cpus[0];
        for (int v = 0; v < w; v++) CHECK_MSG(first[v] != first[w], "workers %d and %d share CPU %d", v, w, cpus[0]);
    }
    int32_t cnt;
    CHECK_STATUS(tsr_pool_worker_affinity(pool, t.cores, first, 1, &cnt), TSR_EINVAL);
    CHECK_STATUS(tsr_pool_worker_affinity(pool, 0, NULL, 4, &cnt), TSR_EINVAL);
    CHECK_STATUS(tsr_pool_worker_affinity(pool, 0, first, 4, NULL), TSR_EINVAL);
    CHECK(tsr_pool_bind_mode(pool) == TSR_BIND_CORE);
    tsr_pool_destroy(pool);
}

static void record_caller_cpu(void *c, int32_t w, int32_t n) {
    if (w == 0) *(int *)c = sched_getcpu();
    (void)n;
}

/* The scheduler may wake the unbound caller on a worker's core (wake-affine placement), where
 * the two then share one core. A region started there runs the caller's share off the
 * workers' CPUs, and the caller's own mask is back afterwards. */
TSR_TEST(test_caller_on_a_worker_cpu_moves_off_for_the_region) {
    tsr_topology_info t = {.size = sizeof t};
    tsr_topology_info_get(&t);
    cpu_set_t mask;
    CHECK(sched_getaffinity(0, sizeof mask, &mask) == 0);
    if (t.cores < 2 || CPU_COUNT(&mask) < 2) {
        printf("    (one core in this process's mask: nothing to move between)\n");
        return;
    }
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    p.bind = TSR_BIND_CORE;
    p.n_threads = 2;
    tsr_pool_t *pool;
    CHECK_OK(tsr_pool_create(&p, &pool));
    int32_t wcpus[256], count = 0;
    CHECK_OK(tsr_pool_worker_affinity(pool, 1, wcpus, 256, &count));
    CHECK(count >= 1);
    for (int rep = 0; rep < 5; rep++) {
        cpu_set_t on_worker;
        CPU_ZERO(&on_worker);
        CPU_SET(wcpus[0], &on_worker);
        CHECK(sched_setaffinity(0, sizeof on_worker, &on_worker) == 0);  /* migrates now */
        CHECK(sched_setaffinity(0, sizeof mask, &mask) == 0);            /* free again, still there */
        int caller_cpu = -1;
        CHECK_OK(tsr_pool_run(pool, record_caller_cpu, &caller_cpu));
        for (int i = 0; i < count; i++)
            CHECK_MSG(caller_cpu != wcpus[i], "the caller ran its share on worker 1's CPU %d", caller_cpu);
        cpu_set_t after;
        CHECK(sched_getaffinity(0, sizeof after, &after) == 0);
        CHECK_MSG(CPU_EQUAL(&mask, &after), "the region left the caller's mask changed");
    }
    tsr_pool_destroy(pool);
}

typedef struct { tsr_pool_t *pool; int ok; } thread_arg;
static void *hammer(void *a) {
    thread_arg *t = a;
    t->ok = 1;
    for (int i = 0; i < 200; i++) t->ok &= each_hit_once(t->pool, 97, 5, TSR_SCHEDULE_DYNAMIC);
    return NULL;
}

TSR_TEST(test_pools_from_several_threads) {
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    p.n_threads = 2;
    p.bind = TSR_BIND_NONE;
    p.spin_us = 0;  /* force the futex path */
    tsr_pool_t *shared, *other;
    CHECK_OK(tsr_pool_create(&p, &shared));
    CHECK_OK(tsr_pool_create(&p, &other));
    pthread_t th[3];
    thread_arg args[3] = {{shared, 0}, {shared, 0}, {other, 0}};
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, hammer, &args[i]);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) CHECK(args[i].ok);
    CHECK_OK(tsr_pool_destroy(shared));
    CHECK_OK(tsr_pool_destroy(other));
}

static void try_destroy(void *c, int32_t w, int32_t n) {
    if (w == 0) *(tsr_status *)((void **)c)[1] = tsr_pool_destroy((tsr_pool_t *)((void **)c)[0]);
}

TSR_TEST(test_default_pool_and_bad_input) {
    tsr_pool_t *d1, *d2;
    CHECK_OK(tsr_pool_default(&d1));
    CHECK_OK(tsr_pool_default(&d2));
    CHECK(d1 == d2 && d1 != NULL);
    CHECK(each_hit_once(NULL, 1000, 0, TSR_SCHEDULE_STATIC));
    CHECK(tsr_pool_num_threads(NULL) == tsr_pool_num_threads(d1));
    CHECK_STATUS(tsr_pool_default(NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_parallel_for(NULL, 10, 0, TSR_SCHEDULE_STATIC, NULL, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_parallel_for(NULL, -1, 0, TSR_SCHEDULE_STATIC, cover, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_parallel_for(NULL, 10, 0, (tsr_schedule)7, cover, NULL), TSR_EINVAL);
    CHECK_OK(tsr_parallel_for(NULL, 0, 0, TSR_SCHEDULE_STATIC, cover, NULL));
    CHECK_STATUS(tsr_pool_run(NULL, NULL, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_pool_create(NULL, NULL), TSR_EINVAL);
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    tsr_pool_t *pool;
    p.n_threads = -2;
    CHECK_STATUS(tsr_pool_create(&p, &pool), TSR_EINVAL);
    tsr_pool_params_default(&p);
    p.bind = (tsr_bind)12;
    CHECK_STATUS(tsr_pool_create(&p, &pool), TSR_EINVAL);
    tsr_pool_params_default(&p);
    p.size = 2;
    CHECK_STATUS(tsr_pool_create(&p, &pool), TSR_EINVAL);
    CHECK_OK(tsr_pool_destroy(NULL));
    /* destroying a pool from inside its own region is refused */
    tsr_pool_params_default(&p);
    p.n_threads = 2;
    p.bind = TSR_BIND_NONE;
    CHECK_OK(tsr_pool_create(&p, &pool));
    tsr_status inner_status = TSR_OK;
    void *args[2] = {pool, &inner_status};
    CHECK_OK(tsr_pool_run(pool, try_destroy, args));
    CHECK(inner_status == TSR_ESTATE);
    CHECK_OK(tsr_pool_destroy(pool));
    CHECK(strcmp(tsr_bind_name(TSR_BIND_SCATTER), "scatter") == 0);
    CHECK(strcmp(tsr_bind_name((tsr_bind)5), "invalid") == 0);
}

static void destroy_from_each_worker(void *c, int32_t w, int32_t n) {
    tsr_pool_t *pool = ((void **)c)[0];
    tsr_status *st = ((void **)c)[1];
    st[w] = tsr_pool_destroy(pool);
}

static void destroy_default_inside(void *c, int32_t w, int32_t n) {
    tsr_pool_t *d = NULL;
    tsr_pool_default(&d);
    if (w == 0) *(tsr_status *)c = tsr_pool_destroy(d);
}

/* Misuse of tsr_pool_destroy is refused and leaves the pool usable: the default pool
 * (owned by the library, destroyed at exit), a pool destroyed twice, a pool destroyed from
 * any worker of its own region. */
TSR_TEST(test_destroy_misuse) {
    tsr_pool_t *d = NULL, *d2 = NULL;
    CHECK_OK(tsr_pool_default(&d));
    CHECK_STATUS(tsr_pool_destroy(d), TSR_ESTATE);
    CHECK(strstr(tsr_last_error(), "default") != NULL);
    CHECK(each_hit_once(NULL, 1000, 0, TSR_SCHEDULE_DYNAMIC));
    CHECK(each_hit_once(d, 1000, 7, TSR_SCHEDULE_DYNAMIC));
    CHECK_OK(tsr_pool_default(&d2));
    CHECK(d2 == d);
    /* a second destroy of the same handle */
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    p.n_threads = 3;
    p.bind = TSR_BIND_NONE;
    tsr_pool_t *pool = NULL;
    CHECK_OK(tsr_pool_create(&p, &pool));
    CHECK_OK(tsr_pool_destroy(pool));
    CHECK_STATUS(tsr_pool_destroy(pool), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "tsr_pool_destroy") != NULL);
    /* from every worker of its own region (worker 0 is the caller, 1 and 2 pool threads) */
    CHECK_OK(tsr_pool_create(&p, &pool));
    tsr_status st[3] = {TSR_OK, TSR_OK, TSR_OK};
    void *args[2] = {pool, st};
    CHECK_OK(tsr_pool_run(pool, destroy_from_each_worker, args));
    CHECK(st[0] == TSR_ESTATE && st[1] == TSR_ESTATE && st[2] == TSR_ESTATE);
    /* the default pool from inside another pool's region */
    tsr_status inner = TSR_OK;
    CHECK_OK(tsr_pool_run(pool, destroy_default_inside, &inner));
    CHECK(inner == TSR_ESTATE);
    CHECK(each_hit_once(pool, 500, 0, TSR_SCHEDULE_STATIC));
    CHECK_OK(tsr_pool_destroy(pool));
    CHECK(each_hit_once(NULL, 1000, 0, TSR_SCHEDULE_STATIC));
}

TSR_TEST(test_many_empty_regions) {
    /* a stress of the spin/futex hand-off: many tiny regions, alternating spin settings */
    for (int spin = 0; spin <= 1; spin++) {
        tsr_pool_params p;
        tsr_pool_params_default(&p);
        p.n_threads = 3;
        p.bind = TSR_BIND_NONE;
        p.spin_us = spin ? 50 : 0;
        tsr_pool_t *pool;
        CHECK_OK(tsr_pool_create(&p, &pool));
        int ok = 1;
        for (int i = 0; i < (tsr_test_quick() ? 300 : 3000); i++) ok &= each_hit_once(pool, 3, 1, TSR_SCHEDULE_DYNAMIC);
        CHECK(ok);
        tsr_pool_destroy(pool);
    }
}

/* A one-range region (or any region of a one-thread pool) runs on its caller as worker 0:
 * it must still wait for a region in flight, whose worker 0 owns the same scratch. Before
 * the fix the one-range call ran at once and overwrote the running region's scratch (seen
 * as one wrong logit column in the model tests, which share the default pool). */
typedef struct { tsr_pool_t *pool; _Atomic int in_region, other_done, corrupted; } scratch_race;

static void hold_scratch(void *c, int64_t b, int64_t e, int32_t w) {
    scratch_race *r = c;
    if (w != 0) return;
    unsigned char *p = tsr_pool_scratch(r->pool, 0, 4096);
    memset(p, 0xA5, 4096);
    atomic_store(&r->in_region, 1);
    /* give the other thread 100 ms to (wrongly) run beside us */
    for (int i = 0; i < 100 && !atomic_load(&r->other_done); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    for (int i = 0; i < 4096; i++)
        if (p[i] != 0xA5) { atomic_store(&r->corrupted, 1); break; }
    (void)b; (void)e;
}

static void clobber_scratch(void *c, int64_t b, int64_t e, int32_t w) {
    scratch_race *r = c;
    memset(tsr_pool_scratch(r->pool, w, 4096), 0x5A, 4096);
    (void)b; (void)e;
}

static void *one_range_caller(void *c) {
    scratch_race *r = c;
    while (!atomic_load(&r->in_region)) sched_yield();
    tsr_parallel_for(r->pool, 1, 1, TSR_SCHEDULE_STATIC, clobber_scratch, r);
    atomic_store(&r->other_done, 1);
    return NULL;
}

TSR_TEST(test_one_range_region_waits_for_the_running_one) {
    tsr_pool_params p;
    tsr_pool_params_default(&p);
    p.n_threads = 2;
    p.bind = TSR_BIND_NONE;
    tsr_pool_t *pool;
    CHECK_OK(tsr_pool_create(&p, &pool));
    scratch_race r = {.pool = pool};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, one_range_caller, &r) == 0);
    CHECK_OK(tsr_parallel_for(pool, 2, 1, TSR_SCHEDULE_STATIC, hold_scratch, &r));
    pthread_join(t, NULL);
    CHECK_MSG(!atomic_load(&r.corrupted), "a one-range region ran beside the running region and wrote its worker-0 scratch");
    CHECK(atomic_load(&r.other_done));
    tsr_pool_destroy(pool);
}

int main(void) {
    RUN(test_topology);
    RUN(test_parallel_for_covers_range);
    RUN(test_static_schedule_is_contiguous_per_worker);
    RUN(test_nested_calls_run_inline);
    RUN(test_pool_run_and_scratch);
    RUN(test_binding_read_back);
    RUN(test_caller_on_a_worker_cpu_moves_off_for_the_region);
    RUN(test_pools_from_several_threads);
    RUN(test_default_pool_and_bad_input);
    RUN(test_many_empty_regions);
    RUN(test_destroy_misuse);
    RUN(test_one_range_region_waits_for_the_running_one);
    return tsr_test_summary();
}
