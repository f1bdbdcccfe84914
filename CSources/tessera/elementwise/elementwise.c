/* Element-wise kernels: argument checks and the kernel selector (tsr_kernels.h). */
#include "tessera/elementwise.h"
#include "elementwise_internal.h"

static void ew_overlay(void *dst, const void *src) {
    ew_kernels *d = dst;
    const ew_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, swiglu);
    TSR_KERNEL_INHERIT(d, o, geglu);
}

static const void *const ew_overrides[] = {
#if TSR_X86
    &tsr_ew_kernels_avx2, &tsr_ew_kernels_avx512,
#endif
    NULL};
static ew_kernels ew_tables[TSR_ISA_COUNT];
static tsr_kernel_registry ew_registry =
    TSR_KERNEL_REGISTRY("elementwise", ew_kernels, &tsr_ew_kernels_ref, ew_overrides, ew_overlay, ew_tables);

tsr_status tsr_swiglu_f32(const float *gate, const float *up, float *out, int64_t n) {
    TSR_CHECK_ARG(n >= 0, "tsr_swiglu_f32: n must be >= 0 (got %lld)", (long long)n);
    if (n == 0) return TSR_OK;
    TSR_CHECK_NULL(gate);
    TSR_CHECK_NULL(up);
    TSR_CHECK_NULL(out);
    const ew_kernels *K = tsr_kernels_select(&ew_registry, tsr_isa_active());
    K->swiglu(gate, up, out, n);
    return TSR_OK;
}

tsr_status tsr_geglu_tanh_f32(const float *gate, const float *up, float *out, int64_t n) {
    TSR_CHECK_ARG(n >= 0, "tsr_geglu_tanh_f32: n must be >= 0 (got %lld)", (long long)n);
    if (n == 0) return TSR_OK;
    TSR_CHECK_NULL(gate);
    TSR_CHECK_NULL(up);
    TSR_CHECK_NULL(out);
    const ew_kernels *K = tsr_kernels_select(&ew_registry, tsr_isa_active());
    K->geglu(gate, up, out, n);
    return TSR_OK;
}
