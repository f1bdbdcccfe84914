/*
 * qgemm_step — the projections of one decode step of a small model, timed per shape: every
 * layer's fused q/k/v, o, fused gate/up and down plans (distinct packed copies, as a model holds
 * them) and the output head, called in model order at M rows, on a pool of T threads. Prints per
 * shape the time per step, GOP/s and the fraction of the int8 VNNI floor (T × the one-thread
 * peak measured in the same run), and the whole projection step.
 *     qgemm_step [smollm2|gemma] [threads] [M,M,...] [reps]
 * smollm2: SmolLM2-135M (30 layers, d 576, ffn 1536, 9 heads / 3 KV heads of 64; Q4_1, Q8_0 head).
 * gemma:   Gemma 3 270M Q4_K_M (18 layers, d 640, ffn 2048, 4 heads / 1 KV head of 256; q/k/v and
 *          gate/up Q5_0 as the file's majority, o Q4_K, down Q6_K, tied Q8_0 head 262144).
 * Build and run: `make bench-qgemm-step` (QSTEP_ARGS="smollm2 2 1,16 15").
 *
 * QSTEP_BETWEEN=1: what a model's forward does between two projections, as conditions rotated
 * step by step within the run (so the shared machine's drift falls on all of them alike), each
 * reported as the projections' time per step (median, min-max):
 *   back to back  - nothing between calls (the default timing above);
 *   rows rewritten - the call's input and output rows rewritten first by a row-split region on
 *                    the pool (as the forward's norms and residual adds leave them: half in
 *                    the other core's cache, modified);
 *   2 MiB read    - 2 MiB of other memory read first, split over the pool (as a 16-stream
 *                    step's attention reads the sequences' K/V between projections);
 *   scalar gap    - 100 us of scalar work on the caller first, the workers waiting.
 * (The per-shape lines that follow then mix the four conditions; give reps >= 4.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera.h"

typedef struct {
    const char *name;
    tsr_quant_format fmt;
    int64_t n, k;
    int per_layer;  /* 1: one plan per layer; 0: once per step (the head) */
} shape;

#include "bench_peak.h"

#define MAXS 5
#define MAXREP 64

/* ---- QSTEP_BETWEEN conditions */
enum { BETWEEN_NONE, BETWEEN_REWRITE, BETWEEN_READ, BETWEEN_GAP, BETWEEN_COUNT };
static const char *between_name[BETWEEN_COUNT] = {"back to back", "rows rewritten", "2 MiB read", "scalar gap"};

typedef struct {
    float *x, *y;
    int64_t kx, ky;
    const float *other;  /* BETWEEN_READ: the memory read, `other_n` floats */
    int64_t other_n;
    float bump;
    volatile float sink[64];
} between_ctx;

static void rewrite_rows(void *ctx, int64_t b, int64_t e, int32_t w) {
    (void)w;
    between_ctx *c = ctx;
    for (int64_t i = b * c->kx; i < e * c->kx; i++) c->x[i] = c->x[i] * 0.999f + c->bump;
    for (int64_t i = b * c->ky; i < e * c->ky; i++) c->y[i] = c->bump;
}

static void read_other(void *ctx, int64_t b, int64_t e, int32_t w) {
    between_ctx *c = ctx;
    float acc = 0;
    for (int64_t i = b * c->other_n / 64; i < e * c->other_n / 64; i += 16) acc += c->other[i];
    c->sink[w & 63] = acc;
}

static void scalar_gap(double us) {
    const double g0 = now();
    while (now() - g0 < us * 1e-6) {}
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "smollm2";
    const int threads = argc > 2 ? atoi(argv[2]) : 2;
    const char *mlist = argc > 3 ? argv[3] : "1,16";
    int reps = argc > 4 ? atoi(argv[4]) : 15;
    reps = reps < 1 ? 1 : reps > MAXREP ? MAXREP : reps;
    shape sh[MAXS];
    int layers, ns = 5;
    if (!strcmp(model, "gemma")) {
        layers = 18;
        sh[0] = (shape){"qkv Q5_0", TSR_QUANT_Q5_0, 1024 + 2 * 256, 640, 1};
        sh[1] = (shape){"o Q4_K", TSR_QUANT_Q4_K, 640, 1024, 1};
        sh[2] = (shape){"gate/up Q5_0", TSR_QUANT_Q5_0, 2 * 2048, 640, 1};
        sh[3] = (shape){"down Q6_K", TSR_QUANT_Q6_K, 640, 2048, 1};
        sh[4] = (shape){"head Q8_0", TSR_QUANT_Q8_0, 262144, 640, 0};
    } else {
        layers = 30;
        sh[0] = (shape){"qkv Q4_1", TSR_QUANT_Q4_1, 576 + 2 * 192, 576, 1};
        sh[1] = (shape){"o Q4_1", TSR_QUANT_Q4_1, 576, 576, 1};
        sh[2] = (shape){"gate/up Q4_1", TSR_QUANT_Q4_1, 2 * 1536, 576, 1};
        sh[3] = (shape){"down Q4_1", TSR_QUANT_Q4_1, 576, 1536, 1};
        sh[4] = (shape){"head Q8_0", TSR_QUANT_Q8_0, 49152, 576, 0};
    }
    tsr_pool_params pp;
    tsr_pool_params_default(&pp);
    pp.n_threads = 1;
    tsr_pool_t *one, *pool;
    if (tsr_pool_create(&pp, &one) != TSR_OK) return 1;
    pp.n_threads = threads;
    if (tsr_pool_create(&pp, &pool) != TSR_OK) return 1;
    const double peak = int8_peak(one);
    if (peak <= 0) return 1;
    printf("%s, %d thread(s); int8 vnni peak %.1f GOP/s per core, floor at %.1f GOP/s\n", model, threads, peak / 1e9,
           threads * peak / 1e9);

    /* one quantized source per shape, one plan per layer from it (distinct packed copies) */
    tsr_qgemm_plan_t *plans[MAXS][64];
    /* QSTEP_COPIES=c: c distinct copies per layer shape, reused round robin (1: weights hot) */
    const int copies = getenv("QSTEP_COPIES") ? atoi(getenv("QSTEP_COPIES")) : 64;
    int64_t kmax = 0, nmax = 0;
    srand(1);
    for (int s = 0; s < ns; s++) {
        const int64_t n = sh[s].n, k = sh[s].k;
        kmax = k > kmax ? k : kmax;
        nmax = n > nmax ? n : nmax;
        float *w = malloc(sizeof(float) * (size_t)(n * k));
        for (int64_t i = 0; i < n * k; i++) w[i] = ((float)rand() / RAND_MAX - 0.5f) * 0.1f;
        size_t rb;
        if (tsr_quant_row_bytes(sh[s].fmt, k, &rb) != TSR_OK) return 1;
        void *q = malloc(rb * (size_t)n);
        if (tsr_quantize(pool, sh[s].fmt, w, n, k, k, q, rb * (size_t)n, NULL) != TSR_OK) { printf("%s\n", tsr_last_error()); return 1; }
        tsr_quant_matrix qm = {sizeof qm, sh[s].fmt, n, k, q, 0, rb * (size_t)n};
        for (int l = 0; l < (sh[s].per_layer ? layers : 1) && l < (copies < 1 ? 1 : copies); l++)
            if (tsr_qgemm_plan_create(pool, &qm, NULL, &plans[s][l]) != TSR_OK) { printf("%s\n", tsr_last_error()); return 1; }
        free(q);
        free(w);
    }
    const int ncopy = copies < 1 ? 1 : copies > layers ? layers : copies;
    const int64_t mmax = 64;
    float *x = malloc(sizeof(float) * (size_t)(mmax * kmax)), *y = malloc(sizeof(float) * (size_t)(mmax * nmax));
    for (int64_t i = 0; i < mmax * kmax; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;

    const int between = getenv("QSTEP_BETWEEN") ? atoi(getenv("QSTEP_BETWEEN")) : 0;
    const int64_t other_n = (2 << 20) / (int64_t)sizeof(float), other_sets = 32;  /* 64 MiB walked in 2 MiB reads */
    float *other = between ? malloc(sizeof(float) * (size_t)(other_n * other_sets)) : NULL;
    if (between && !other) return 1;
    for (int64_t i = 0; between && i < other_n * other_sets; i++) other[i] = (float)(i & 1023);
    int64_t other_next = 0;

    char buf[256];
    snprintf(buf, sizeof buf, "%s", mlist);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const int64_t m = atoll(tok);
        if (m < 1 || m > mmax) continue;
        static double t[MAXS][MAXREP], tot[MAXREP], cond[BETWEEN_COUNT][MAXREP];
        int cond_n[BETWEEN_COUNT] = {0};
        for (int r = -2; r < reps; r++) {
            double ts[MAXS] = {0};
            const int c = between ? (r + 2) % BETWEEN_COUNT : BETWEEN_NONE;
            const double s0 = now();
            for (int l = 0; l < layers; l++)
                for (int s = 0; s < ns; s++) {
                    if (!sh[s].per_layer) continue;
                    between_ctx bc = {.x = x, .y = y, .kx = sh[s].k, .ky = sh[s].n, .bump = 1e-3f * (float)(l + s)};
                    if (c == BETWEEN_REWRITE) tsr_parallel_for(pool, m, 1, TSR_SCHEDULE_STATIC, rewrite_rows, &bc);
                    if (c == BETWEEN_READ) {
                        bc.other = other + other_next * other_n;
                        bc.other_n = other_n;
                        other_next = (other_next + 1) % other_sets;
                        tsr_parallel_for(pool, 64, 1, TSR_SCHEDULE_STATIC, read_other, &bc);
                    }
                    if (c == BETWEEN_GAP) scalar_gap(100);
                    const double t0 = now();
                    tsr_qgemm_execute(pool, plans[s][l % ncopy], m, x, sh[s].k, NULL, y, sh[s].n, NULL, 0);
                    ts[s] += now() - t0;
                }
            for (int s = 0; s < ns; s++) {
                if (sh[s].per_layer) continue;
                const double t0 = now();
                tsr_qgemm_execute(pool, plans[s][0], m, x, sh[s].k, NULL, y, sh[s].n, NULL, 0);
                ts[s] += now() - t0;
            }
            if (r < 0) continue;
            double proj = 0;
            for (int q = 0; q < ns; q++) proj += ts[q];
            cond[c][cond_n[c]++] = proj;
            tot[r] = now() - s0;
            for (int s = 0; s < ns; s++) t[s][r] = ts[s];
        }
        if (between) {
            printf("M = %lld, projections per step by what ran between the calls (rotated step by step)\n", (long long)m);
            for (int q = 0; q < BETWEEN_COUNT; q++) {
                if (cond_n[q] == 0) continue;  /* fewer steps than conditions */
                qsort(cond[q], (size_t)cond_n[q], sizeof(double), cmp);
                printf("  %-15s %7.3f ms (%.3f-%.3f, %d steps)\n", between_name[q], cond[q][cond_n[q] / 2] * 1e3,
                       cond[q][0] * 1e3, cond[q][cond_n[q] - 1] * 1e3, cond_n[q]);
            }
        }
        printf("M = %lld (median of %d steps; min in brackets)\n", (long long)m, reps);
        double ops_all = 0;
        for (int s = 0; s < ns; s++) {
            const int cnt = sh[s].per_layer ? layers : 1;
            const double ops = 2.0 * (double)m * (double)sh[s].n * (double)sh[s].k * cnt;
            ops_all += ops;
            qsort(t[s], (size_t)reps, sizeof(double), cmp);
            const double med = t[s][reps / 2];
            printf("  %-13s %5lldx%-5lld x%-2d %7.3f ms (%7.3f)  %6.1f GOP/s  %.2f of the floor  %5.1f us/call\n", sh[s].name,
                   (long long)sh[s].n, (long long)sh[s].k, cnt, med * 1e3, t[s][0] * 1e3, ops / med / 1e9,
                   ops / (threads * peak) / med, med / cnt * 1e6);
        }
        qsort(tot, (size_t)reps, sizeof(double), cmp);
        printf("  %-13s %23s %7.3f ms (%7.3f)  %6.1f GOP/s  %.2f of the floor\n", "step", "", tot[reps / 2] * 1e3,
               tot[0] * 1e3, ops_all / tot[reps / 2] / 1e9, ops_all / (threads * peak) / tot[reps / 2]);
    }
    for (int s = 0; s < ns; s++)
        for (int l = 0; l < (sh[s].per_layer ? ncopy : 1); l++) tsr_qgemm_plan_destroy(plans[s][l]);
    tsr_pool_destroy(pool);
    tsr_pool_destroy(one);
    free(other);
    free(x);
    free(y);
    return 0;
}
