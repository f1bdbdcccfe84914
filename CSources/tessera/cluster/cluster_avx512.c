/* AVX-512 override of the clustering kernels: cluster_kernels.h compiled for AVX-512. x86 only. */
#include "cluster_kernels.h"

#if TSR_X86
CK_INSTANTIATE(avx512, TSR_TARGET_AVX512)
const cluster_kernels tsr_cluster_kernels_avx512 = CK_TABLE(avx512, TSR_ISA_AVX512);
#endif
