/*
 * rp_kernels_avx2.c — AVX2 override: rp_kernels.h compiled for AVX2 + FMA (vectorised by
 * the compiler), every slot. x86 only.
 */
#include "rp_kernels.h"

#if TSR_X86
RP_INSTANTIATE(avx2, TSR_TARGET_AVX2)
const rp_kernels rp_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .sparse_row = rp_sparse_row_avx2,
    .tile_f32 = rp_tile_f32_avx2,
    .tile_f64 = rp_tile_f64_avx2,
    .gemm_f32 = rp_gemm_f32_avx2,
    .gemm_f64 = rp_gemm_f64_avx2,
};
#endif
