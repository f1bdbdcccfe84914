/* Timing helpers shared by the C bench programs under bench/ (quant, randproj). */
#ifndef TESSERA_BENCH_CLOCK_H
#define TESSERA_BENCH_CLOCK_H

#include <time.h>

/* Monotonic seconds. */
static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* qsort comparator for doubles (ascending), for medians. */
static inline int cmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#endif
