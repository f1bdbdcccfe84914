/* The reference table of the normalisation kernels: plain loops in the order every path
 * follows (norm_internal.h), SiLU with the SIMD paths' e^x written out in scalar. */
#include "elementwise_internal.h"
#include "norm_internal.h"

static void sums_scalar(const float *x, int64_t n, double *sum, double *sumsq) {
    double s = 0, s2 = 0;
    for (int64_t c0 = 0; c0 < n; c0 += NORM_CHUNK) {
        const int64_t m = n - c0 < NORM_CHUNK ? n - c0 : NORM_CHUNK;
        float a[NORM_LANES] = {0}, q[NORM_LANES] = {0};
        int64_t i = 0;
        for (; i + NORM_LANES <= m; i += NORM_LANES)
            for (int j = 0; j < NORM_LANES; j++) {
                const float v = x[c0 + i + j];
                a[j] += v;
                q[j] = __builtin_fmaf(v, v, q[j]);
            }
        norm_tail_and_reduce(x + c0 + i, m - i, a, q, &s, &s2);
    }
    *sum = s;
    *sumsq = s2;
}

static void affine_scalar(const float *x, float *out, int64_t n, float scale, float shift, int act) {
    for (int64_t i = 0; i < n; i++) {
        const float v = __builtin_fmaf(x[i], scale, shift);
        out[i] = act ? v / (1.0f + tsr_ew_exp_like_simd(0.0f - v)) : v;
    }
}

static void rms_scalar(const float *x, const float *w, float *out, int64_t n, float eps) {
    float q[NORM_LANES] = {0};
    int64_t i = 0;
    for (; i + NORM_LANES <= n; i += NORM_LANES)
        for (int j = 0; j < NORM_LANES; j++) q[j] = __builtin_fmaf(x[i + j], x[i + j], q[j]);
    const float sc = rms_scale(rms_sumsq_tail(q, x + i, n - i), n, eps);
    for (int64_t k = 0; k < n; k++) out[k] = (x[k] * sc) * w[k];
}

const norm_kernels tsr_norm_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .sums = sums_scalar,
    .affine = affine_scalar,
    .rms = rms_scalar,
};
