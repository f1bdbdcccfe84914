/* Winograd F(2×2, 3×3) row transforms, avx2 path: winograd_body.h compiled for this ISA. */
#include "winograd_internal.h"

#if TSR_X86
#define WG_TARGET TSR_TARGET_AVX2
#define WG_NAME(x) x##_avx2
#include "winograd_body.h"

const wg_kernels tsr_wg_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .input_row = input_row_avx2,
    .output_row = output_row_avx2,
};
#endif
