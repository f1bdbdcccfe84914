/* Winograd F(2×2, 3×3) row transforms, scalar path: winograd_body.h compiled for this ISA. */
#include "winograd_internal.h"

#define WG_TARGET 
#define WG_NAME(x) x##_scalar
#include "winograd_body.h"

const wg_kernels tsr_wg_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .input_row = input_row_scalar,
    .output_row = output_row_scalar,
};
