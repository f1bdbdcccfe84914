/*
 * tessera/elementwise.h — element-wise activation kernels of transformer blocks, vectorised
 * with run-time ISA dispatch (AVX-512, AVX2, scalar). One thread: they are called on rows of
 * a few thousand elements between matrix products, where a fork-join would cost more than
 * the work.
 */
#ifndef TESSERA_ELEMENTWISE_H
#define TESSERA_ELEMENTWISE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * SwiGLU gating: out[i] = SiLU(gate[i]) · up[i] = gate[i] / (1 + e^(−gate[i])) · up[i],
 * for i < n. e^x is a polynomial with ≤ 2 ulp error on the SIMD paths (libm on the scalar
 * one), so results are within a few ulp of the float64 value (gates below −87, where the
 * exact value is ≈ 0, within 4e−35) but not bit-identical across ISAs; for one ISA they do
 * not depend on n or on alignment. `out` may be `gate` or `up` (element i is read before it
 * is written); other overlap is undefined. NaN propagates; infinite gates give unspecified
 * results (NaN or ±∞ on some paths).
 * Errors: TSR_EINVAL (NULL pointer with n > 0, n < 0).
 */
TSR_API tsr_status tsr_swiglu_f32(const float *gate, const float *up, float *out, int64_t n);

/**
 * GeGLU gating with the tanh form of GELU (Gemma's FFN):
 * out[i] = ½g(1 + tanh(√(2/π)(g + 0.044715g³))) · up[i], g = gate[i], for i < n, computed as
 * the equal g / (1 + e^z) · up[i] with z = −2√(2/π)(g + 0.044715g³) (no tanh cancellation
 * for negative g). e^z is the clamped Cephes polynomial (z ∈ [−87.34, 88]; gates below about
 * −10 give |out| < 1e−36·|up|) written with the same IEEE operations (fused multiply-adds,
 * one division) on every path, so the scalar, AVX2 and AVX-512 results are bit-identical and
 * do not depend on n or alignment; within a few ulp of the float64 value plus the |z| ulp
 * that the f32 argument z carries into e^z (relative error ≤ 1.2e−7·(4 + |z|) for |g| ≤ 10). `out` may be `gate` or `up`; other overlap is undefined. NaN
 * propagates; infinite gates give unspecified results.
 * Errors: TSR_EINVAL (NULL pointer with n > 0, n < 0).
 */
TSR_API tsr_status tsr_geglu_tanh_f32(const float *gate, const float *up, float *out, int64_t n);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_ELEMENTWISE_H */
