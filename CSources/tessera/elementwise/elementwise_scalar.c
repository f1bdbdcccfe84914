/* The reference table of the element-wise kernels: plain loops, libm expf. */
#include <math.h>

#include "elementwise_internal.h"

static void swiglu_scalar(const float *gate, const float *up, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i], u = up[i];
        out[i] = g / (1.0f + expf(-g)) * u;
    }
}

const ew_kernels tsr_ew_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .swiglu = swiglu_scalar,
};
