/* Winograd F(2×2, 3×3) row transforms, avx512 path: winograd_body.h compiled for this ISA. */
#include "winograd_internal.h"

#if TSR_X86
#define WG_TARGET TSR_TARGET_AVX512
#define WG_NAME(x) x##_avx512
#include "winograd_body.h"

const wg_kernels tsr_wg_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .input_row = input_row_avx512,
    .output_row = output_row_avx512,
};
#endif
