/*
 * qgemm_hash — prints an FNV-1a hash of tsr_qgemm_execute's output bits for every format at a set
 * of shapes (K across one and several 64 KiB slabs, N with a partial panel, M from 1 to 128, with
 * and without bias, 1 and 2 threads). Build it against two libraries and diff the outputs to show
 * that a kernel change keeps every bit: `make qgemm-hash` prints this library's hashes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera.h"

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

int main(void) {
    static const int64_t ks[] = {256, 2048, 4352}, ms[] = {1, 2, 3, 7, 8, 9, 16, 17, 53, 127, 128};
    const int64_t n = 72, mmax = 128;
    for (int nt = 1; nt <= 2; nt++) {
        tsr_pool_params pp;
        tsr_pool_params_default(&pp);
        pp.n_threads = nt;
        tsr_pool_t *pool;
        if (tsr_pool_create(&pp, &pool) != TSR_OK) return 1;
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            const int64_t k = ks[ki];
            float *w = malloc(sizeof(float) * (size_t)(n * k)), *x = malloc(sizeof(float) * (size_t)(mmax * k)),
                  *y = malloc(sizeof(float) * (size_t)(mmax * n)), *bias = malloc(sizeof(float) * (size_t)n);
            srand(7 + (unsigned)k);
            for (int64_t i = 0; i < n * k; i++) w[i] = (float)rand() / RAND_MAX - 0.5f;
            for (int64_t i = 0; i < mmax * k; i++) x[i] = ((float)rand() / RAND_MAX - 0.5f) * (i % 97 == 0 ? 40.0f : 1.0f);
            for (int64_t i = 0; i < n; i++) bias[i] = (float)rand() / RAND_MAX;
            for (int f = TSR_QUANT_Q4_0; f < TSR_QUANT_FORMAT_COUNT; f++) {
                size_t rb;
                if (tsr_quant_row_bytes((tsr_quant_format)f, k, &rb) != TSR_OK) continue;
                void *q = malloc(rb * (size_t)n);
                tsr_qgemm_plan_t *plan = NULL;
                tsr_quant_matrix qm = {sizeof qm, (tsr_quant_format)f, n, k, q, 0, rb * (size_t)n};
                if (tsr_quantize(pool, (tsr_quant_format)f, w, n, k, k, q, rb * (size_t)n, NULL) != TSR_OK ||
                    tsr_qgemm_plan_create(pool, &qm, NULL, &plan) != TSR_OK) {
                    free(q);
                    continue;
                }
                uint64_t h = 1469598103934665603ull;
                for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
                    for (int b = 0; b < 2; b++) {
                        memset(y, 0, sizeof(float) * (size_t)(mmax * n));
                        if (tsr_qgemm_execute(pool, plan, ms[mi], x, k, b ? bias : NULL, y, n, NULL, 0) != TSR_OK) return 2;
                        h = fnv(h, y, sizeof(float) * (size_t)(ms[mi] * n));
                    }
                printf("threads %d k %5lld format %2d  %016llx\n", nt, (long long)k, f, (unsigned long long)h);
                tsr_qgemm_plan_destroy(plan);
                free(q);
            }
            free(w), free(x), free(y), free(bias);
        }
        tsr_pool_destroy(pool);
    }
    return 0;
}
