/*
 * csr_slots — the very sparse projection of a CSR input against a materialised R (the slot path,
 * docs/randproj.md): X 100000 × 100000 with 100 stored entries per row (nnz 10⁷) → 256, s = √D,
 * 32-bit indices, output pre-touched, on a pool of T threads. Prints the median, min and max of
 * `reps` calls and a hash of the output's bits: build it against two libraries and alternate
 * the runs to compare them (the hash must match).
 *     csr_slots [threads [reps]]        (make bench-rp-csr [RP_CSR_ARGS="2 15"])
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench_clock.h"
#include "tessera.h"

int main(int argc, char **argv) {
    const int64_t n = 100000, D = 100000, per = 100, w = D / per;
    const int32_t d = 256;
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    int reps = argc > 2 ? atoi(argv[2]) : 15;
    reps = reps < 1 ? 1 : reps > 64 ? 64 : reps;
    int32_t *ip = malloc(sizeof(int32_t) * (size_t)(n + 1)), *ix = malloc(sizeof(int32_t) * (size_t)(n * per));
    float *v = malloc(sizeof(float) * (size_t)(n * per)), *y = malloc(sizeof(float) * (size_t)(n * d));
    if (!ip || !ix || !v || !y) return 1;
    /* one column in each of the row's 100 stripes of width D/100: ascending, in range */
    uint64_t s = 12345;
    for (int64_t i = 0; i < n; i++) {
        ip[i] = (int32_t)(i * per);
        for (int64_t k = 0; k < per; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            ix[i * per + k] = (int32_t)(k * w + (int64_t)((s >> 33) % (uint64_t)w));
            v[i * per + k] = (float)((s >> 40) % 1000) / 500.0f - 1.0f;
        }
    }
    ip[n] = (int32_t)(n * per);
    memset(y, 0, sizeof(float) * (size_t)(n * d));
    tsr_pool_params pp;
    tsr_pool_params_default(&pp);
    pp.n_threads = threads;
    tsr_pool_t *pool;
    tsr_rp_t *rp;
    if (tsr_pool_create(&pp, &pool) != TSR_OK || tsr_rp_create(D, d, NULL, &rp) != TSR_OK ||
        tsr_rp_materialize(pool, rp) != TSR_OK) {
        printf("csr_slots: %s\n", tsr_last_error());
        return 1;
    }
    double t[64];
    for (int r = 0; r < reps; r++) {
        const double t0 = now();
        if (tsr_rp_transform_csr32_f32(pool, rp, n, ip, ix, v, y, d) != TSR_OK) {
            printf("csr_slots: %s\n", tsr_last_error());
            return 1;
        }
        t[r] = now() - t0;
    }
    uint64_t h = 1469598103934665603ULL;  /* FNV-1a over the output's bits */
    for (int64_t i = 0; i < n * d; i++) {
        uint32_t b;
        memcpy(&b, &y[i], 4);
        h = (h ^ b) * 1099511628211ULL;
    }
    qsort(t, (size_t)reps, sizeof(double), cmp);
    printf("csr 100000x100000 nnz 1e7 -> 256, %d thread(s): median %.2f ms (min %.2f, max %.2f) of %d, output hash %016llx\n",
           threads, t[reps / 2] * 1e3, t[0] * 1e3, t[reps - 1] * 1e3, reps, (unsigned long long)h);
    tsr_rp_destroy(rp);
    tsr_pool_destroy(pool);
    free(ip); free(ix); free(v); free(y);
    return 0;
}
