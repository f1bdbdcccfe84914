/* The reference table of the clustering kernels: cluster_kernels.h without an ISA target. */
#include "cluster_kernels.h"

CK_INLINE void ck_vsqrt_scalar(double *v, int64_t n) {
    for (int64_t j = 0; j < n; j++) v[j] = sqrt(v[j]);
}

CK_INSTANTIATE(scalar, )
const cluster_kernels tsr_cluster_kernels_ref = CK_TABLE(scalar, TSR_ISA_SCALAR);
