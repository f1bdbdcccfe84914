/*
 * pool_sum.c — the C ABI in use: topology, ISA, a parallel sum on the default pool.
 * Build: cc pool_sum.c $(pkg-config --cflags --libs tessera) -o pool_sum
 */
#include <stdio.h>
#include <stdlib.h>

#include <tessera.h>

typedef struct { const double *x; double partial[256]; } sum_ctx;

static void sum_range(void *ctx, int64_t begin, int64_t end, int32_t worker) {
    sum_ctx *c = ctx;
    double s = 0;
    for (int64_t i = begin; i < end; i++) s += c->x[i];
    c->partial[worker] = s;  /* static schedule: one range per worker */
}

int main(void) {
    tsr_topology_info topo = {.size = sizeof topo};
    if (tsr_topology_info_get(&topo) != TSR_OK) { fprintf(stderr, "%s\n", tsr_last_error()); return 1; }
    printf("Tessera %s: %d core(s), ISA %s, topology from %s\n", tsr_version_string(), topo.cores,
           tsr_isa_name(tsr_isa_active()), topo.source);

    const int64_t n = 10 * 1000 * 1000;
    double *x = tsr_malloc((size_t)n * sizeof *x);
    if (!x) { fprintf(stderr, "%s\n", tsr_last_error()); return 1; }
    for (int64_t i = 0; i < n; i++) x[i] = 1.0 / (double)(i + 1);

    sum_ctx ctx = {.x = x};
    tsr_pool_t *pool;
    if (tsr_pool_default(&pool) != TSR_OK || tsr_pool_num_threads(pool) > 256) return 1;
    tsr_status st = tsr_parallel_for(pool, n, 0, TSR_SCHEDULE_STATIC, sum_range, &ctx);
    if (st != TSR_OK) { fprintf(stderr, "%s: %s\n", tsr_status_string(st), tsr_last_error()); return 1; }
    double total = 0;
    for (int w = 0; w < tsr_pool_num_threads(pool); w++) total += ctx.partial[w];
    printf("harmonic sum H(%lld) = %.12f on %d worker(s)\n", (long long)n, total, tsr_pool_num_threads(pool));

    /* errors are values, with a message naming the argument */
    st = tsr_parallel_for(pool, -5, 0, TSR_SCHEDULE_STATIC, sum_range, &ctx);
    printf("bad call -> %s (%s)\n", tsr_status_string(st), tsr_last_error());
    tsr_free(x);
    /* H(n) = ln n + gamma + 1/(2n) - ...: check the parallel result */
    double expect = 16.695311365859855;  /* H(10^7) */
    return (total > expect - 1e-9 && total < expect + 1e-9 && st == TSR_EINVAL) ? 0 : 1;
}
