/* cmm_internal.h — the convolution product kernels (tsr_conv_matmul_f32). Not public. Every
 * element is its own chain of fused multiply-adds from its bias in k order, whatever the
 * blocking: the scalar (fmaf), AVX2 and AVX-512 paths give the same bits, and so does any
 * split of the rows or columns over threads. */
#ifndef TSR_CMM_INTERNAL_H
#define TSR_CMM_INTERNAL_H

#include "tsr_kernels.h"

typedef struct cmm_kernels {
    tsr_kernel_head head;
    /* c[i·ldc + j] = bias[i] (0 if NULL) then += a[i·lda + p]·b[p·ldb + j] for p = 0 .. k − 1
     * (one fma each), for i < m, j < n. */
    void (*matmul)(const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias, float *c,
                   int64_t ldc, int64_t m, int64_t n, int64_t k);
} cmm_kernels;

/* Runs BY_NV(R) with R the compile-time constant equal to mr (1 .. 6, the ISA paths' row block):
 * each (rows, vectors) pair its own inlined copy, so the accumulators stay in registers. */
#define CMM_BY_MR(mr, BY_NV)      \
    switch (mr) {                 \
    case 1: BY_NV(1) break;       \
    case 2: BY_NV(2) break;       \
    case 3: BY_NV(3) break;       \
    case 4: BY_NV(4) break;       \
    case 5: BY_NV(5) break;       \
    default: BY_NV(6) break;      \
    }

TSR_INTERNAL extern const cmm_kernels tsr_cmm_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const cmm_kernels tsr_cmm_kernels_avx2;
TSR_INTERNAL extern const cmm_kernels tsr_cmm_kernels_avx512;
#endif

#endif /* TSR_CMM_INTERNAL_H */
