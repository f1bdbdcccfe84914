/* AVX2 override of the clustering kernels: cluster_kernels.h compiled for AVX2. x86 only. */
#include "cluster_kernels.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX2 CK_INLINE void ck_vsqrt_avx2(double *v, int64_t n) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) _mm256_storeu_pd(v + j, _mm256_sqrt_pd(_mm256_loadu_pd(v + j)));
    for (; j < n; j++) _mm_store_sd(v + j, _mm_sqrt_sd(_mm_setzero_pd(), _mm_load_sd(v + j)));
}

CK_INSTANTIATE(avx2, TSR_TARGET_AVX2)
const cluster_kernels tsr_cluster_kernels_avx2 = CK_TABLE(avx2, TSR_ISA_AVX2);
#endif
