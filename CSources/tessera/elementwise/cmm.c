/* Convolution product c = bias + a·b (tsr_conv_matmul_f32): argument checks and the kernel
 * selector (tsr_kernels.h); the kernels are in cmm_<isa>.c. */
#include "tessera/elementwise.h"
#include "cmm_internal.h"

static void cmm_overlay(void *dst, const void *src) {
    cmm_kernels *d = dst;
    const cmm_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, matmul);
}

static const void *const cmm_overrides[] = {
#if TSR_X86
    &tsr_cmm_kernels_avx2, &tsr_cmm_kernels_avx512,
#endif
    NULL};
static cmm_kernels cmm_tables[TSR_ISA_COUNT];
static tsr_kernel_registry cmm_registry =
    TSR_KERNEL_REGISTRY("conv_matmul", cmm_kernels, &tsr_cmm_kernels_ref, cmm_overrides, cmm_overlay, cmm_tables);

tsr_status tsr_conv_matmul_f32(const float *a, int64_t lda, const float *b, int64_t ldb, const float *bias, float *c,
                               int64_t ldc, int64_t m, int64_t n, int64_t k) {
    TSR_CHECK_ARG(m >= 0 && n >= 0 && k >= 0, "tsr_conv_matmul_f32: m, n and k must be >= 0 (got %lld, %lld, %lld)",
                  (long long)m, (long long)n, (long long)k);
    TSR_CHECK_ARG(lda >= k && ldb >= n && ldc >= n, "tsr_conv_matmul_f32: leading dimensions must be >= the row lengths");
    TSR_CHECK_ARG((m <= 1 || lda <= INT64_MAX / m) && (k <= 1 || ldb <= INT64_MAX / k) && (m <= 1 || ldc <= INT64_MAX / m),
                  "tsr_conv_matmul_f32: sizes overflow");
    if (m == 0 || n == 0) return TSR_OK;
    TSR_CHECK_NULL(c);
    if (k > 0) {
        TSR_CHECK_NULL(a);
        TSR_CHECK_NULL(b);
    }
    const cmm_kernels *K = tsr_kernels_select(&cmm_registry, tsr_isa_active());
    K->matmul(a, lda, b, ldb, bias, c, ldc, m, n, k);
    return TSR_OK;
}
