/* Convolution product kernel, scalar path: one fmaf chain per element (the reference bits). */
#include <math.h>

#include "cmm_internal.h"

static void matmul_scalar(const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias, float *c,
                          int64_t ldc, int64_t m, int64_t n, int64_t k) {
    for (int64_t i = 0; i < m; i++) {
        const float *ai = a + i * lda;
        for (int64_t j = 0; j < n; j++) {
            float s = bias ? bias[i] : 0.0f;
            for (int64_t p = 0; p < k; p++) s = fmaf(ai[p], b[p * ldb + j], s);
            c[i * ldc + j] = s;
        }
    }
}

const cmm_kernels tsr_cmm_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .matmul = matmul_scalar,
};
