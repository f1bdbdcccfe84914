/*
 * qgemm_m128 — one-thread timing of tsr_qgemm_execute at M rows (default 128) on an N×K matrix
 * (default 4096×4096) in each integer format, hot, against this core's int8 VNNI dot peak (a
 * register-only vpdpbusd loop measured in the same run). Prints ms per call, GOP/s and the
 * fraction of the int8 floor (ops ÷ peak ÷ time). Build and run: `make bench-qgemm`.
 *     qgemm_m128 [M [N [K [reps]]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera.h"


#include "bench_peak.h"

int main(int argc, char **argv) {
    const int64_t m = argc > 1 ? atoll(argv[1]) : 128, n = argc > 2 ? atoll(argv[2]) : 4096,
                  k = argc > 3 ? atoll(argv[3]) : 4096;
    const int reps = argc > 4 ? atoi(argv[4]) : 15;
    tsr_pool_params pp;
    tsr_pool_params_default(&pp);
    pp.n_threads = 1;
    tsr_pool_t *pool;
    if (tsr_pool_create(&pp, &pool) != TSR_OK) return 1;
    const double peak = int8_peak(pool);
    if (peak <= 0) return 1;
    printf("int8 vnni peak, one thread: %.1f GOP/s; M=%lld N=%lld K=%lld\n", peak / 1e9, (long long)m, (long long)n, (long long)k);
    float *w = malloc(sizeof(float) * (size_t)(n * k)), *x = malloc(sizeof(float) * (size_t)(m * k)),
          *y = malloc(sizeof(float) * (size_t)(m * n));
    srand(1);
    for (int64_t i = 0; i < n * k; i++) w[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int64_t i = 0; i < m * k; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
    const tsr_quant_format fmts[] = {TSR_QUANT_Q4_0, TSR_QUANT_Q8_0, TSR_QUANT_Q4_1, TSR_QUANT_Q5_0, TSR_QUANT_Q4_K,
                                     TSR_QUANT_Q5_K, TSR_QUANT_Q6_K, TSR_QUANT_Q3_K, TSR_QUANT_Q2_K, TSR_QUANT_IQ4_NL};
    const char *names[] = {"Q4_0", "Q8_0", "Q4_1", "Q5_0", "Q4_K", "Q5_K", "Q6_K", "Q3_K", "Q2_K", "IQ4_NL"};
    const char *only = getenv("QGEMM_FORMAT");
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        if (only && strcmp(only, names[f])) continue;
        size_t rb;
        if (tsr_quant_row_bytes(fmts[f], k, &rb) != TSR_OK) continue;
        void *q = malloc(rb * (size_t)n);
        if (tsr_quantize(pool, fmts[f], w, n, k, k, q, rb * (size_t)n, NULL) != TSR_OK) { printf("%s: %s\n", names[f], tsr_last_error()); continue; }
        tsr_quant_matrix qm = {sizeof qm, fmts[f], n, k, q, 0, rb * (size_t)n};
        tsr_qgemm_plan_t *plan;
        if (tsr_qgemm_plan_create(pool, &qm, NULL, &plan) != TSR_OK) { printf("%s: %s\n", names[f], tsr_last_error()); continue; }
        double t[64];
        const int r = reps < 64 ? reps : 64;
        for (int i = -1; i < r; i++) {
            const double t0 = now();
            tsr_qgemm_execute(pool, plan, m, x, k, NULL, y, n, NULL, 0);
            if (i >= 0) t[i] = now() - t0;
        }
        qsort(t, (size_t)r, sizeof t[0], cmp);
        const double ops = 2.0 * (double)m * (double)n * (double)k, med = t[r / 2];
        printf("%-7s %8.3f ms (min %.3f)  %6.1f GOP/s  %.2f of the int8 floor\n", names[f], med * 1e3, t[0] * 1e3,
               ops / med / 1e9, ops / peak / med);
        tsr_qgemm_plan_destroy(plan);
        free(q);
    }
    tsr_pool_destroy(pool);
    return 0;
}
