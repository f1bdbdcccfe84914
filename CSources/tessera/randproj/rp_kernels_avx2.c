/*
 * rp_kernels_avx2.c — rp_kernels.h compiled for AVX2 + FMA (vectorised by the
 * compiler). On other architectures TSR_TARGET_AVX2 is empty and this table is
 * never selected.
 */
#include "rp_kernels.h"

RP_INSTANTIATE(avx2, TSR_TARGET_AVX2)
const rp_kernels rp_kernels_avx2 = {"avx2", rp_sparse_row_avx2, rp_tile_f32_avx2, rp_tile_f64_avx2,
                                    rp_gemm_f32_avx2, rp_gemm_f64_avx2};
