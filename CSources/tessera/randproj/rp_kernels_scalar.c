/*
 * rp_kernels_scalar.c — the reference table: the portable instantiation of rp_kernels.h
 * (every slot; the path of TESSERA_ISA=scalar).
 */
#include "rp_kernels.h"

RP_INSTANTIATE(scalar, )
const rp_kernels rp_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .sparse_row = rp_sparse_row_scalar,
    .tile_f32 = rp_tile_f32_scalar,
    .tile_f64 = rp_tile_f64_scalar,
    .gemm_f32 = rp_gemm_f32_scalar,
    .gemm_f64 = rp_gemm_f64_scalar,
};
