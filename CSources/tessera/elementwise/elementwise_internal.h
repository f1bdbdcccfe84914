/* elementwise_internal.h — per-ISA entry points of the element-wise kernels. */
#ifndef TSR_ELEMENTWISE_INTERNAL_H
#define TSR_ELEMENTWISE_INTERNAL_H

#include "tsr_internal.h"

/* out[i] = gate[i] / (1 + e^−gate[i]) · up[i] for i < n; the arguments are checked. */
typedef void (*tsr_swiglu_fn)(const float *gate, const float *up, float *out, int64_t n);

TSR_INTERNAL void tsr_swiglu_scalar(const float *gate, const float *up, float *out, int64_t n);
#if TSR_X86
TSR_INTERNAL void tsr_swiglu_avx512(const float *gate, const float *up, float *out, int64_t n);
TSR_INTERNAL void tsr_swiglu_avx2(const float *gate, const float *up, float *out, int64_t n);
#endif

#endif /* TSR_ELEMENTWISE_INTERNAL_H */
