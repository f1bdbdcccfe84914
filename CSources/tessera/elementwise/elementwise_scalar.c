/* The reference table of the element-wise kernels: plain loops; SwiGLU with libm expf, GeGLU
 * with the SIMD paths' e^x written out in scalar fused multiply-adds. */
#include <math.h>
#include <string.h>

#include "elementwise_internal.h"

static void swiglu_scalar(const float *gate, const float *up, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i], u = up[i];
        out[i] = g / (1.0f + expf(-g)) * u;
    }
}

/* e^x with exactly the operations of tsr_exp_256/tsr_exp_512 (core/tsr_vexp.h): clamp (NaN
 * kept), n = round-half-even(x·log2 e), r = x − n·ln2 in two fused steps, the same degree-7
 * polynomial by fused multiply-adds, times 2^n built in the exponent field — so the scalar
 * GeGLU has the SIMD paths' bits. */
float tsr_ew_exp_like_simd(float x) {
    if (x == x) {  /* NaN stays NaN; its n would not convert */
        x = x < -87.3365f ? -87.3365f : x;
        x = x > 88.0f ? 88.0f : x;
    } else {
        return x;
    }
    const float n = nearbyintf(x * 1.44269504088896341f);
    float r = fmaf(-n, 0.693359375f, x);
    r = fmaf(-n, -2.12194440e-4f, r);
    float y = fmaf(1.9875691500e-4f, r, 1.3981999507e-3f);
    y = fmaf(y, r, 8.3334519073e-3f);
    y = fmaf(y, r, 4.1665795894e-2f);
    y = fmaf(y, r, 1.6666665459e-1f);
    y = fmaf(y, r, 5.0000001201e-1f);
    y = fmaf(y, r * r, r + 1.0f);
    const uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

static void geglu_scalar(const float *gate, const float *up, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i], u = up[i];
        const float z = g * fmaf(g * g, TSR_GEGLU_C2, TSR_GEGLU_C1);
        out[i] = g / (1.0f + tsr_ew_exp_like_simd(z)) * u;
    }
}

const ew_kernels tsr_ew_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .swiglu = swiglu_scalar,
    .geglu = geglu_scalar,
};
