/* Machine-limit probes: results of the STREAM loops, OpenMP twins equal the pool, bad input. */
#include <string.h>

#include "tsr_test.h"

TSR_TEST(test_stream_results) {
    int64_t n = 100003;
    double *a = tsr_malloc(n * 8), *b = tsr_malloc(n * 8), *c = tsr_malloc(n * 8);
    for (int64_t i = 0; i < n; i++) { a[i] = 1; b[i] = (double)i; c[i] = 2; }
    double sum = 0;
    CHECK_OK(tsr_probe_stream(NULL, TSR_STREAM_COPY, a, b, c, n, 0, NULL));
    CHECK(c[n - 1] == 1 && c[0] == 1);
    CHECK_OK(tsr_probe_stream(NULL, TSR_STREAM_TRIAD, a, b, c, n, 3.0, NULL));  /* a = b + 3c = i + 3 */
    CHECK(a[10] == 13 && a[n - 1] == (double)(n - 1) + 3);
    CHECK_OK(tsr_probe_stream(NULL, TSR_STREAM_READ, a, NULL, NULL, n, 0, &sum));
    CHECK_NEAR(sum, (double)n * (n - 1) / 2 + 3.0 * n, 1e-6);
    tsr_status st = tsr_probe_openmp_init(TSR_BIND_NONE, NULL, 0);
    if (st == TSR_OK) {
        double osum = 0;
        CHECK_OK(tsr_probe_stream_openmp(2, TSR_STREAM_READ, a, NULL, NULL, n, 0, &osum));
        CHECK_NEAR(osum, sum, 1e-6);
        double ns[20];
        CHECK_OK(tsr_probe_forkjoin_openmp(2, 20, ns));
        CHECK(ns[19] > 0);
        CHECK_STATUS(tsr_probe_stream_openmp(0, TSR_STREAM_READ, a, NULL, NULL, n, 0, &osum), TSR_EINVAL);
    } else {
        CHECK(st == TSR_EUNSUPPORTED);
    }
    CHECK(tsr_stream_bytes_per_element(TSR_STREAM_TRIAD) == 24);
    CHECK(tsr_stream_bytes_per_element((tsr_stream_kernel)9) == 0);
    CHECK_STATUS(tsr_probe_stream(NULL, (tsr_stream_kernel)9, a, b, c, n, 0, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_probe_stream(NULL, TSR_STREAM_COPY, a, b, NULL, n, 0, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_probe_stream(NULL, TSR_STREAM_TRIAD, a, NULL, c, n, 0, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_probe_stream(NULL, TSR_STREAM_READ, NULL, NULL, NULL, n, 0, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_probe_stream(NULL, TSR_STREAM_READ, a, NULL, NULL, -1, 0, NULL), TSR_EINVAL);
    tsr_free(a); tsr_free(b); tsr_free(c);
}

TSR_TEST(test_forkjoin_and_peaks) {
    double ns[100];
    CHECK_OK(tsr_probe_forkjoin(NULL, 100, ns));
    for (int i = 0; i < 100; i++) CHECK(ns[i] > 0);
    CHECK_STATUS(tsr_probe_forkjoin(NULL, 5, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_probe_forkjoin(NULL, -5, ns), TSR_EINVAL);
    double flops = 0, ops = 0;
    CHECK_OK(tsr_probe_peak_f32(NULL, 1000, &flops));
    CHECK(flops >= 1000.0 * 16);
    CHECK_OK(tsr_probe_peak_int8(NULL, 1000, &ops));
    CHECK(ops >= 1000.0 * 16);
    TSR_FOR_EACH_ISA(isa) {
        CHECK_OK(tsr_probe_peak_f32(NULL, 100, &flops));
        CHECK_OK(tsr_probe_peak_int8(NULL, 100, &ops));
    }
    CHECK_STATUS(tsr_probe_peak_f32(NULL, 0, &flops), TSR_EINVAL);
    CHECK_STATUS(tsr_probe_peak_int8(NULL, 10, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_probe_openmp_init((tsr_bind)7, NULL, 0), TSR_EINVAL);
}

int main(void) {
    RUN(test_stream_results);
    RUN(test_forkjoin_and_peaks);
    return tsr_test_summary();
}
