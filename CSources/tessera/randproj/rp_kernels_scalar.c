/*
 * rp_kernels_scalar.c — the portable instantiation of rp_kernels.h (the
 * reference path, TESSERA_ISA=scalar) and the table selection.
 */
#include "rp_kernels.h"

RP_INSTANTIATE(scalar, )
const rp_kernels rp_kernels_scalar = {"scalar", rp_sparse_row_scalar, rp_tile_f32_scalar, rp_tile_f64_scalar,
                                      rp_gemm_f32_scalar, rp_gemm_f64_scalar};

const rp_kernels *rp_kernels_active(void) {
    switch (tsr_isa_active()) {
    case TSR_ISA_AVX512: return &rp_kernels_avx512;
    case TSR_ISA_AVX2: return &rp_kernels_avx2;
    default: return &rp_kernels_scalar;
    }
}
