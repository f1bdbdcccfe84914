/* norm_internal.h — the normalisation microkernel table (block sums, per-channel affine +
 * activation). Not public. */
#ifndef TSR_NORM_INTERNAL_H
#define TSR_NORM_INTERNAL_H

#include "tsr_kernels.h"

/* RMSNorm's tail must round the product before adding it (the bit contract): no contraction
 * (GCC with -std=c11 does not contract; clang honours the pragma). */
#pragma STDC FP_CONTRACT OFF

/* Elements per chunk of the sums: each chunk is summed in float over NORM_LANES interleaved
 * lanes (lane j takes the elements i ≡ j mod NORM_LANES of the chunk), then the lanes are
 * added in order into double. Every path follows this order, so all give the same bits. */
#define NORM_CHUNK 1024
#define NORM_LANES 16

/* The table (docs/KERNELS.md): one call per contiguous block, the driver (norm.c) checks the
 * arguments. All paths give the same bits. */
typedef struct norm_kernels {
    tsr_kernel_head head;
    /* *sum = Σ x[i], *sumsq = Σ x[i]² over i < n (n >= 1), in the order of NORM_CHUNK */
    void (*sums)(const float *x, int64_t n, double *sum, double *sumsq);
    /* out[i] = act(fma(x[i], scale, shift)) for i < n (n >= 1); act 0 identity, 1 SiLU
     * v / (1 + e^(0 − v)) with the e^x of core/tsr_vexp.h */
    void (*affine)(const float *x, float *out, int64_t n, float scale, float shift, int act);
    /* one row of RMSNorm (tsr_rms_norm_f32): out[i] = (x[i]·s)·w[i], s = 1/sqrt(Σx²/n + eps),
     * Σx² in the order of rms_sumsq_tail (n >= 1; out may be x) */
    void (*rms)(const float *x, const float *w, float *out, int64_t n, float eps);
} norm_kernels;

/* RMSNorm's sum of squares after the vector part: the NORM_LANES lanes `q` (lane j holds the
 * fused x·x of the elements i ≡ j mod NORM_LANES below the last whole group) added in lane
 * order from −0, then the m remaining elements one by one, each product rounded before its
 * addition (FP_CONTRACT is off in this header's users: no fusing). The order of the Swift
 * reference it replaced (SIMD16 addProduct, then sum(), then a scalar tail). */
static inline float rms_sumsq_tail(const float *q, const float *x, int64_t m) {
    float s = -0.0f;
    for (int j = 0; j < NORM_LANES; j++) s += q[j];
    for (int64_t i = 0; i < m; i++) {
        const float p = x[i] * x[i];
        s += p;
    }
    return s;
}

/* The row's scale from its sum of squares, as every path computes it. */
static inline float rms_scale(float sumsq, int64_t n, float eps) {
    return 1.0f / __builtin_sqrtf(sumsq / (float)n + eps);
}

/* The lanes of one chunk's last m % NORM_LANES elements (starting at lane 0), added one by
 * one as a vector path would; then the lanes into the double totals, in lane order. */
static inline void norm_tail_and_reduce(const float *x, int64_t m, float *a, float *q, double *s, double *s2) {
    for (int64_t i = 0; i < m; i++) {
        a[i] += x[i];
        q[i] = __builtin_fmaf(x[i], x[i], q[i]);
    }
    for (int j = 0; j < NORM_LANES; j++) {
        *s += (double)a[j];
        *s2 += (double)q[j];
    }
}

/* The reference table (norm_scalar.c) and the overrides (norm_<isa>.c). */
TSR_INTERNAL extern const norm_kernels tsr_norm_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const norm_kernels tsr_norm_kernels_avx2;
TSR_INTERNAL extern const norm_kernels tsr_norm_kernels_avx512;
#endif

#endif /* TSR_NORM_INTERNAL_H */
