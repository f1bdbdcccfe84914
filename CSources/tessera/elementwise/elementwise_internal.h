/* elementwise_internal.h — the element-wise microkernel table. Not public. */
#ifndef TSR_ELEMENTWISE_INTERNAL_H
#define TSR_ELEMENTWISE_INTERNAL_H

#include "tsr_kernels.h"

/* The element-wise microkernel table (docs/KERNELS.md): one call per row, the driver
 * (elementwise.c) checks the arguments. The paths differ in the last bits (vector exp vs
 * libm expf); each is deterministic. */
typedef struct ew_kernels {
    tsr_kernel_head head;
    /* out[i] = gate[i] / (1 + e^−gate[i]) · up[i] for i < n (n >= 1; the arguments are checked) */
    void (*swiglu)(const float *gate, const float *up, float *out, int64_t n);
    /* out[i] = g / (1 + e^z) · up[i], z = g·(TSR_GEGLU_C1 + TSR_GEGLU_C2·g²): the same IEEE
     * operations on every path (bit-identical) */
    void (*geglu)(const float *gate, const float *up, float *out, int64_t n);
} ew_kernels;

/* z = g·(C1 + C2·g²) = −2√(2/π)(g + 0.044715g³), so ½(1 + tanh(√(2/π)(g + 0.044715g³))) = 1/(1 + e^z). */
#define TSR_GEGLU_C1 (-1.5957691216057308f)
#define TSR_GEGLU_C2 (-0.07135481627159f)

/* e^x with exactly the operations of tsr_exp_256/tsr_exp_512 (core/tsr_vexp.h), in scalar
 * fused multiply-adds: the scalar paths' e^x, bit-identical to the SIMD ones. */
TSR_INTERNAL float tsr_ew_exp_like_simd(float x);

/* The reference table (elementwise_scalar.c) and the overrides (elementwise_<isa>.c). */
TSR_INTERNAL extern const ew_kernels tsr_ew_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const ew_kernels tsr_ew_kernels_avx2;
TSR_INTERNAL extern const ew_kernels tsr_ew_kernels_avx512;
#endif

#endif /* TSR_ELEMENTWISE_INTERNAL_H */
