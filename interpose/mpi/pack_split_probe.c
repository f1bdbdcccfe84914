/*
 * pack_split_probe.c — why a hot 1 MiB dense pack is not split over two workers
 * (`make probe-pack-split`; docs/datatype.md, round 9). Measures on the machine it runs on:
 *   1. the core-to-core round trip of one cache line between CPU 0 and CPU 1 (ping-pong);
 *   2. one core re-reading a 2 MiB buffer it read last, and CPU 1 reading 2 MiB last written
 *      by CPU 0 (what a worker pays for lines the caller touched last);
 *   3. the 16-byte-block vector (stride 32, 1 MiB packed) packed by the caller alone, and split
 *      in two halves with tsr_pool_run on the default pool, per worker: when worker 1 starts
 *      after the region is published and how long each half takes, in three states:
 *        bench   — the destination was last written by a one-thread pack on the caller (as in
 *                  bench_pack's rounds), worker spinning (regions back to back);
 *        idle    — the same after a 400 us gap (the worker has gone to sleep);
 *        steady  — only split packs, each core re-packing its own half (the best case);
 *        sent    — the same, but the caller reads the packed buffer after each split, as the
 *                  send that follows a pack does.
 * Every packed buffer is compared with tsr_datatype_pack_naive's. Prints one line per figure.
 * Run it alone (under flock /work/bench.lock on a shared machine).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static int pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof s, &s) == 0;
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
/* median, min and max of v[0..n) (sorts v) */
static void stats(double *v, int n, double out[3]) {
    qsort(v, (size_t)n, sizeof *v, cmpd);
    out[0] = v[n / 2];
    out[1] = v[0];
    out[2] = v[n - 1];
}
static volatile uint64_t sink;
static void read_lines(const char *p, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i += 64) s += (unsigned char)p[i];
    sink += s;
}

/* ---- 1. ping-pong ---- */
static _Alignas(64) atomic_int flag;
enum { PINGS = 20000 };
static void *pong(void *arg) {
    (void)arg;
    pin(1);
    for (int i = 0; i < PINGS; i++) {
        while (atomic_load_explicit(&flag, memory_order_acquire) != 2 * i + 1) {}
        atomic_store_explicit(&flag, 2 * i + 2, memory_order_release);
    }
    return NULL;
}
static double ping_pong_ns(void) {
    atomic_store(&flag, 0);
    pthread_t th;
    if (pthread_create(&th, NULL, pong, NULL)) return -1;
    double a = now();
    for (int i = 0; i < PINGS; i++) {
        atomic_store_explicit(&flag, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(&flag, memory_order_acquire) != 2 * i + 2) {}
    }
    double t = now() - a;
    pthread_join(th, NULL);
    return t / PINGS * 1e9;
}

/* ---- 2. reading lines another core wrote ---- */
static char *shared_buf;
static const size_t SHARED = 2u << 20;
static void *read_on_cpu1(void *arg) {
    pin(1);
    double a = now();
    read_lines(shared_buf, SHARED);
    *(double *)arg = now() - a;
    return NULL;
}

/* ---- 3. the split ---- */
static tsr_datatype_t *vec;
static char *src, *dst, *ref;
static const int64_t PACKED = 1 << 20;
typedef struct { double t0, start[2], end[2]; } halves;
static void pack_half(void *ctx, int32_t w, int32_t n) {
    halves *h = ctx;
    h->start[w] = now();
    int64_t a = PACKED / n * w, b = w == n - 1 ? PACKED : a + PACKED / n;
    tsr_datatype_pack_range(NULL, src, 1, vec, a, b - a, dst + a);
    h->end[w] = now();
}
static void spin_for(double s) {
    double t = now();
    while (now() - t < s) {}
}

enum { ROUNDS = 41 };
/* before_one: a one-thread pack into the destination first; gap: idle seconds before the split;
 * check_each: compare every round (the caller reads the packed bytes, as a send would), else
 * only the last round's. */
static int split_state(const char *name, tsr_pool_t *one, int before_one, double gap, int check_each) {
    double one_t[ROUNDS], split_t[ROUNDS], start1[ROUNDS], half0[ROUNDS], half1[ROUNDS];
    for (int r = -3; r < ROUNDS; r++) {
        double t1 = 0;
        if (before_one) {
            int64_t pos = 0;
            double a = now();
            tsr_datatype_pack(one, src, 1, vec, dst, PACKED, &pos);
            t1 = now() - a;
        }
        if (gap > 0) spin_for(gap);
        halves h = {0};
        h.t0 = now();
        tsr_pool_run(NULL, pack_half, &h);
        double e = now();
        if ((check_each || r == ROUNDS - 1) && memcmp(dst, ref, (size_t)PACKED)) {
            printf("%s: packed bytes differ from the naive packer's\n", name);
            return 1;
        }
        if (r < 0) continue;
        one_t[r] = t1;
        split_t[r] = e - h.t0;
        start1[r] = h.start[1] - h.t0;
        half0[r] = h.end[0] - h.start[0];
        half1[r] = h.end[1] - h.start[1];
    }
    double s1[3], s2[3], st[3], h0[3], h1[3];
    stats(one_t, ROUNDS, s1);
    stats(split_t, ROUNDS, s2);
    stats(start1, ROUNDS, st);
    stats(half0, ROUNDS, h0);
    stats(half1, ROUNDS, h1);
    printf("split %-6s one-thread pack %5.1f us | split %5.1f us [%.1f-%.1f] | worker 1 starts +%.1f us [%.1f-%.1f] | "
           "caller's half %.1f us, worker's half %.1f us [%.1f-%.1f]\n",
           name, s1[0] * 1e6, s2[0] * 1e6, s2[1] * 1e6, s2[2] * 1e6, st[0] * 1e6, st[1] * 1e6, st[2] * 1e6, h0[0] * 1e6,
           h1[0] * 1e6, h1[1] * 1e6, h1[2] * 1e6);
    return 0;
}

int main(void) {
    if (!pin(0)) { printf("pack_split_probe: needs CPUs 0 and 1\n"); return 0; }
    printf("loadavg at start: ");
    fflush(stdout);
    if (system("cut -d' ' -f1-3 /proc/loadavg") != 0) printf("?\n");

    double pp[5];
    for (int k = 0; k < 5; k++) pp[k] = ping_pong_ns();
    double pps[3];
    stats(pp, 5, pps);
    printf("cache-line round trip CPU 0 <-> CPU 1: %.0f ns [%.0f-%.0f] (5 runs of %d)\n", pps[0], pps[1], pps[2], PINGS);

    shared_buf = tsr_malloc(SHARED);
    memset(shared_buf, 1, SHARED);
    double own[9], cross[9];
    for (int k = 0; k < 9; k++) {
        pin(0);
        memset(shared_buf, k, SHARED);  /* CPU 0 owns every line, modified */
        read_lines(shared_buf, SHARED);
        double a = now();
        read_lines(shared_buf, SHARED);  /* re-read on the core that wrote it */
        own[k] = now() - a;
        pthread_t th;
        if (pthread_create(&th, NULL, read_on_cpu1, &cross[k])) return 1;
        pthread_join(th, NULL);
    }
    double so[3], sc[3];
    stats(own, 9, so);
    stats(cross, 9, sc);
    printf("2 MiB: CPU 0 re-reads its own lines %.1f us [%.1f-%.1f] (%.0f GB/s); CPU 1 reads them %.1f us [%.1f-%.1f] (%.0f GB/s)\n",
           so[0] * 1e6, so[1] * 1e6, so[2] * 1e6, SHARED / so[0] / 1e9, sc[0] * 1e6, sc[1] * 1e6, sc[2] * 1e6,
           SHARED / sc[0] / 1e9);
    tsr_free(shared_buf);
    pin(0);

    tsr_datatype_t *byte;
    tsr_datatype_named(TSR_TYPE_BYTE, &byte);
    tsr_datatype_vector(PACKED / 16, 16, 32, byte, &vec);
    tsr_datatype_commit(vec);
    src = tsr_malloc((size_t)(2 * PACKED));
    dst = tsr_malloc((size_t)PACKED);
    ref = tsr_malloc((size_t)PACKED);
    for (int64_t i = 0; i < 2 * PACKED; i++) src[i] = (char)(i * 7 + 3);
    memset(dst, 0, (size_t)PACKED);
    int64_t pos = 0;
    tsr_datatype_pack_naive(src, 1, vec, ref, PACKED, &pos);
    tsr_pool_params prm;
    tsr_pool_params_default(&prm);
    prm.n_threads = 1;
    tsr_pool_t *one = NULL;
    if (tsr_pool_create(&prm, &one) != TSR_OK) return 1;
    if (tsr_pool_num_threads(NULL) < 2) { printf("default pool has one thread: no split to probe\n"); return 0; }
    int bad = split_state("bench", one, 1, 0, 1) | split_state("idle", one, 1, 400e-6, 1) |
              split_state("steady", one, 0, 0, 0) | split_state("sent", one, 0, 0, 1);
    tsr_pool_destroy(one);
    tsr_datatype_destroy(vec);
    tsr_free(src);
    tsr_free(dst);
    tsr_free(ref);
    printf("loadavg at end: ");
    fflush(stdout);
    if (system("cut -d' ' -f1-3 /proc/loadavg") != 0) printf("?\n");
    return bad;
}
