/* Winograd F(2×2, 3×3) convolution transforms: argument checks, the plane loops and the
 * kernel selector (tsr_kernels.h); the row kernels are in winograd_<isa>.c. */
#include "tessera/elementwise.h"
#include "winograd_internal.h"

static void wg_overlay(void *dst, const void *src) {
    wg_kernels *d = dst;
    const wg_kernels *o = src;
    TSR_KERNEL_INHERIT(d, o, input_row);
    TSR_KERNEL_INHERIT(d, o, output_row);
}

static const void *const wg_overrides[] = {
#if TSR_X86
    &tsr_wg_kernels_avx2, &tsr_wg_kernels_avx512,
#endif
    NULL};
static wg_kernels wg_tables[TSR_ISA_COUNT];
static tsr_kernel_registry wg_registry =
    TSR_KERNEL_REGISTRY("winograd", wg_kernels, &tsr_wg_kernels_ref, wg_overrides, wg_overlay, wg_tables);

tsr_status tsr_winograd_f2x3_filter_f32(const float *g, int64_t cout, int64_t cin, float *u) {
    TSR_CHECK_ARG(cout >= 0 && cin >= 0, "tsr_winograd_f2x3_filter_f32: cout and cin must be >= 0");
    TSR_CHECK_ARG(cin == 0 || cout <= INT64_MAX / 16 / cin, "tsr_winograd_f2x3_filter_f32: cout x cin overflows");
    const int64_t n = cout * cin;
    if (n == 0) return TSR_OK;
    TSR_CHECK_NULL(g);
    TSR_CHECK_NULL(u);
    /* G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], U = G g Gᵀ in double, rounded once */
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    for (int64_t k = 0; k < n; k++) {
        const float *gk = g + 9 * k;
        double t[4][3];
        for (int a = 0; a < 4; a++)
            for (int q = 0; q < 3; q++) t[a][q] = G[a][0] * gk[q] + G[a][1] * gk[3 + q] + G[a][2] * gk[6 + q];
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                u[(4 * a + b) * n + k] = (float)(t[a][0] * G[b][0] + t[a][1] * G[b][1] + t[a][2] * G[b][2]);
    }
    return TSR_OK;
}

/* Checks shared by the input and output transforms. */
static tsr_status wg_check_plane(const char *fn, int64_t channels, int64_t rows, int64_t width, int64_t ty0, int64_t ty1) {
    TSR_CHECK_ARG(channels >= 0 && rows >= 1 && width >= 1, "%s: channels >= 0, rows and width >= 1 (got %lld, %lld, %lld)",
                  fn, (long long)channels, (long long)rows, (long long)width);
    TSR_CHECK_ARG(ty0 >= 0 && ty0 <= ty1 && ty1 <= (rows + 1) / 2, "%s: tile rows [%lld, %lld) not within [0, %lld]", fn,
                  (long long)ty0, (long long)ty1, (long long)((rows + 1) / 2));
    TSR_CHECK_ARG(rows <= INT64_MAX / width && (channels == 0 || rows * width <= INT64_MAX / 16 / channels),
                  "%s: channels x rows x width overflows", fn);
    return TSR_OK;
}

tsr_status tsr_winograd_f2x3_input_f32(const float *x, int64_t channels, int64_t rows, int64_t width, const float *top,
                                       const float *bottom, int64_t ty0, int64_t ty1, float *v) {
    const tsr_status st = wg_check_plane(__func__, channels, rows, width, ty0, ty1);
    if (st != TSR_OK) return st;
    if (channels == 0 || ty0 == ty1) return TSR_OK;
    TSR_CHECK_NULL(x);
    TSR_CHECK_NULL(v);
    const wg_kernels *K = tsr_kernels_select(&wg_registry, tsr_isa_active());
    const int64_t tw = (width + 1) / 2, nt = (ty1 - ty0) * tw, vs = channels * nt;
    for (int64_t c = 0; c < channels; c++) {
        const float *plane = x + c * rows * width;
        for (int64_t ty = ty0; ty < ty1; ty++) {
            const float *r[4];
            for (int j = 0; j < 4; j++) {
                const int64_t y = 2 * ty - 1 + j;
                r[j] = y < 0 ? (top ? top + c * width : NULL)
                     : y < rows ? plane + y * width
                     : y == rows && bottom ? bottom + c * width : NULL;
            }
            K->input_row(r, width, v + c * nt + (ty - ty0) * tw, vs);
        }
    }
    return TSR_OK;
}

tsr_status tsr_winograd_f2x3_output_f32(const float *m, int64_t channels, int64_t rows, int64_t width, int64_t ty0,
                                        int64_t ty1, const float *bias, float *out) {
    const tsr_status st = wg_check_plane(__func__, channels, rows, width, ty0, ty1);
    if (st != TSR_OK) return st;
    if (channels == 0 || ty0 == ty1) return TSR_OK;
    TSR_CHECK_NULL(m);
    TSR_CHECK_NULL(out);
    const wg_kernels *K = tsr_kernels_select(&wg_registry, tsr_isa_active());
    const int64_t tw = (width + 1) / 2, nt = (ty1 - ty0) * tw, ms = channels * nt;
    for (int64_t c = 0; c < channels; c++) {
        float *plane = out + c * rows * width;
        for (int64_t ty = ty0; ty < ty1; ty++)
            K->output_row(m + c * nt + (ty - ty0) * tw, ms, width, bias ? bias[c] : 0.0f, plane + 2 * ty * width,
                          2 * ty + 1 < rows ? plane + (2 * ty + 1) * width : NULL);
    }
    return TSR_OK;
}
