/* The reference table of the probes: scalar peak loops (independent multiply-add chains)
 * and a 4-way unrolled STREAM read. */
#include <math.h>

#include "probe_internal.h"

static double peak_f32_scalar(int64_t iters) {
    float a0 = 1.0f, a1 = 1.1f, a2 = 1.2f, a3 = 1.3f, a4 = 1.4f, a5 = 1.5f, a6 = 1.6f, a7 = 1.7f;
    const float m = 0.999999f, c = 1e-7f;
    for (int64_t i = 0; i < iters; i++) {
        a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
        a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
        __asm__ volatile("" : "+r"(i));  /* keep the loop honest */
    }
    volatile float sink = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    (void)sink;
    return (double)iters * 8 * 2;
}

static double peak_int8_scalar(int64_t iters) {
    int32_t acc[8] = {0};
    int8_t x = 3, y = -2;
    for (int64_t i = 0; i < iters; i++) {
        for (int k = 0; k < 8; k++) acc[k] += (int32_t)x * (int32_t)(int8_t)(y + k);
        __asm__ volatile("" : "+r"(i));
    }
    volatile int32_t sink = acc[0] + acc[7];
    (void)sink;
    return (double)iters * 8 * 2;
}

static double stream_read_scalar(const double *a, int64_t lo, int64_t hi) {
    double sum0 = 0, sum1 = 0, sum2 = 0, sum3 = 0;
    int64_t i = lo;
    for (; i + 4 <= hi; i += 4) { sum0 += a[i]; sum1 += a[i + 1]; sum2 += a[i + 2]; sum3 += a[i + 3]; }
    for (; i < hi; i++) sum0 += a[i];
    return (sum0 + sum1) + (sum2 + sum3);
}

const probe_kernels tsr_probe_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .peak_f32 = peak_f32_scalar,
    .peak_int8 = peak_int8_scalar,
    .stream_read = stream_read_scalar,
};
