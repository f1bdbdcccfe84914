/* Normalisation kernels (GroupNorm / LayerNorm building blocks): argument checks and the
 * kernel selector (tsr_kernels.h). */
#include <float.h>

#include "tessera/elementwise.h"
#include "norm_internal.h"

static void norm_overlay(void *dst, const void *src) {
    norm_kernels *d = dst;
    const norm_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, sums);
    TSR_KERNEL_INHERIT(d, o, affine);
    TSR_KERNEL_INHERIT(d, o, rms);
}

static const void *const norm_overrides[] = {
#if TSR_X86
    &tsr_norm_kernels_avx2, &tsr_norm_kernels_avx512,
#endif
    NULL};
static norm_kernels norm_tables[TSR_ISA_COUNT];
static tsr_kernel_registry norm_registry =
    TSR_KERNEL_REGISTRY("norm", norm_kernels, &tsr_norm_kernels_ref, norm_overrides, norm_overlay, norm_tables);

tsr_status tsr_block_sums_f32(const float *x, int64_t blocks, int64_t len, double *sum, double *sumsq) {
    TSR_CHECK_ARG(blocks >= 0 && len >= 0, "tsr_block_sums_f32: blocks and len must be >= 0 (got %lld, %lld)",
                  (long long)blocks, (long long)len);
    TSR_CHECK_ARG(len == 0 || blocks <= INT64_MAX / len, "tsr_block_sums_f32: blocks x len overflows");
    if (blocks == 0) return TSR_OK;
    TSR_CHECK_NULL(sum);
    TSR_CHECK_NULL(sumsq);
    if (len > 0) TSR_CHECK_NULL(x);
    const norm_kernels *K = tsr_kernels_select(&norm_registry, tsr_isa_active());
    for (int64_t b = 0; b < blocks; b++) {
        if (len == 0) {
            sum[b] = 0;
            sumsq[b] = 0;
        } else {
            K->sums(x + b * len, len, sum + b, sumsq + b);
        }
    }
    return TSR_OK;
}

tsr_status tsr_channel_affine_f32(const float *x, float *out, int64_t channels, int64_t plane, const float *scale,
                                  const float *shift, tsr_activation act) {
    TSR_CHECK_ARG(channels >= 0 && plane >= 0, "tsr_channel_affine_f32: channels and plane must be >= 0 (got %lld, %lld)",
                  (long long)channels, (long long)plane);
    TSR_CHECK_ARG(plane == 0 || channels <= INT64_MAX / plane, "tsr_channel_affine_f32: channels x plane overflows");
    TSR_CHECK_ARG(act == TSR_ACT_IDENTITY || act == TSR_ACT_SILU, "tsr_channel_affine_f32: unknown activation %d",
                  (int)act);
    if (channels == 0 || plane == 0) return TSR_OK;
    TSR_CHECK_NULL(x);
    TSR_CHECK_NULL(out);
    TSR_CHECK_NULL(scale);
    TSR_CHECK_NULL(shift);
    const norm_kernels *K = tsr_kernels_select(&norm_registry, tsr_isa_active());
    for (int64_t c = 0; c < channels; c++)
        K->affine(x + c * plane, out + c * plane, plane, scale[c], shift[c], act == TSR_ACT_SILU);
    return TSR_OK;
}

tsr_status tsr_rms_norm_f32(const float *x, const float *w, float *out, int64_t rows, int64_t dim, float eps) {
    TSR_CHECK_ARG(rows >= 0 && dim >= 0, "tsr_rms_norm_f32: rows and dim must be >= 0 (got %lld, %lld)",
                  (long long)rows, (long long)dim);
    TSR_CHECK_ARG(dim == 0 || rows <= INT64_MAX / dim, "tsr_rms_norm_f32: rows x dim overflows");
    TSR_CHECK_ARG(eps >= 0.0f && eps <= FLT_MAX, "tsr_rms_norm_f32: eps must be finite and >= 0 (got %g)", (double)eps);
    if (rows == 0 || dim == 0) return TSR_OK;
    TSR_CHECK_NULL(x);
    TSR_CHECK_NULL(w);
    TSR_CHECK_NULL(out);
    const norm_kernels *K = tsr_kernels_select(&norm_registry, tsr_isa_active());
    for (int64_t r = 0; r < rows; r++) K->rms(x + r * dim, w, out + r * dim, dim, eps);
    return TSR_OK;
}
