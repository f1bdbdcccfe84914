/* AVX2 override of the clustering kernels: cluster_kernels.h compiled for AVX2. x86 only. */
#include "cluster_kernels.h"

#if TSR_X86
CK_INSTANTIATE(avx2, TSR_TARGET_AVX2)
const cluster_kernels tsr_cluster_kernels_avx2 = CK_TABLE(avx2, TSR_ISA_AVX2);
#endif
