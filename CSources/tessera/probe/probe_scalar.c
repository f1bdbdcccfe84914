/* Scalar peak loops (portable reference): independent FMA / multiply-add chains. */
#include <math.h>

#include "probe_internal.h"

double tsr_peak_f32_scalar(int64_t iters) {
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

double tsr_peak_int8_scalar(int64_t iters) {
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
