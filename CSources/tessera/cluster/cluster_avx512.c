/* AVX-512 override of the clustering kernels: cluster_kernels.h compiled for AVX-512. x86 only. */
#include "cluster_kernels.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX512 CK_INLINE void ck_vsqrt_avx512(double *v, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) _mm512_storeu_pd(v + j, _mm512_sqrt_pd(_mm512_loadu_pd(v + j)));
    if (j < n) {
        const __mmask8 m = (__mmask8)((1u << (n - j)) - 1u);
        _mm512_mask_storeu_pd(v + j, m, _mm512_sqrt_pd(_mm512_maskz_loadu_pd(m, v + j)));
    }
}

CK_INSTANTIATE(avx512, TSR_TARGET_AVX512)
const cluster_kernels tsr_cluster_kernels_avx512 = CK_TABLE(avx512, TSR_ISA_AVX512);
#endif
