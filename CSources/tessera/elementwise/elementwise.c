/* Element-wise kernels: argument checks, run-time ISA dispatch and the scalar path. */
#include <math.h>

#include "tessera/elementwise.h"
#include "elementwise_internal.h"

void tsr_swiglu_scalar(const float *gate, const float *up, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i], u = up[i];
        out[i] = g / (1.0f + expf(-g)) * u;
    }
}

tsr_status tsr_swiglu_f32(const float *gate, const float *up, float *out, int64_t n) {
    TSR_CHECK_ARG(n >= 0, "tsr_swiglu_f32: n must be >= 0 (got %lld)", (long long)n);
    if (n == 0) return TSR_OK;
    TSR_CHECK_NULL(gate);
    TSR_CHECK_NULL(up);
    TSR_CHECK_NULL(out);
    tsr_swiglu_fn fn = tsr_swiglu_scalar;
#if TSR_X86
    const tsr_isa isa = tsr_isa_active();
    if (isa >= TSR_ISA_AVX512) fn = tsr_swiglu_avx512;
    else if (isa >= TSR_ISA_AVX2) fn = tsr_swiglu_avx2;
#endif
    fn(gate, up, out, n);
    return TSR_OK;
}
