/*
 * test_winograd.c — the Winograd F(2×2, 3×3) transforms: filter, input and output transforms
 * with the 16 products between them (a float64 loop here) equal a float64 direct 3×3
 * convolution (padding 1, stride 1) of odd and even sizes, with halo rows above/below and in
 * tile-row chunks; the same bits on the scalar, AVX2 and AVX-512 paths; the bad input.
 */
#include "tsr_test.h"

/* out[co][y][x] = b[co] + Σ g[co][ci][ky][kx]·in(ci, y + ky − 1, x + kx − 1), in(·) zero outside
 * the image except rows −1 / rows from top / bottom (NULL = zero). */
static void ref_conv(const float *x, const float *top, const float *bottom, const float *g, const float *b, int cin,
                     int cout, int rows, int w, double *out) {
    for (int co = 0; co < cout; co++)
        for (int y = 0; y < rows; y++)
            for (int xo = 0; xo < w; xo++) {
                double s = b[co];
                for (int ci = 0; ci < cin; ci++)
                    for (int ky = 0; ky < 3; ky++) {
                        const int yi = y + ky - 1;
                        const float *row = yi < 0 ? (top ? top + ci * w : NULL)
                                         : yi >= rows ? (bottom ? bottom + ci * w : NULL) : x + (ci * rows + yi) * w;
                        if (!row) continue;
                        for (int kx = 0; kx < 3; kx++) {
                            const int xi = xo + kx - 1;
                            if (xi >= 0 && xi < w) s += (double)g[((co * cin + ci) * 3 + ky) * 3 + kx] * row[xi];
                        }
                    }
                out[(co * rows + y) * w + xo] = s;
            }
}

/* The Winograd convolution in tile-row chunks of `chunk`, products in float64 rounded once. */
static void wg_conv(const float *x, const float *top, const float *bottom, const float *g, const float *b, int cin,
                    int cout, int rows, int w, int chunk, float *out) {
    const int tw = (w + 1) / 2, th = (rows + 1) / 2;
    float *u = malloc(16 * (size_t)cout * cin * sizeof(float));
    CHECK_OK(tsr_winograd_f2x3_filter_f32(g, cout, cin, u));
    for (int ty0 = 0; ty0 < th; ty0 += chunk) {
        const int ty1 = ty0 + chunk < th ? ty0 + chunk : th, nt = (ty1 - ty0) * tw;
        float *v = malloc(16 * (size_t)cin * nt * sizeof(float)), *m = malloc(16 * (size_t)cout * nt * sizeof(float));
        CHECK_OK(tsr_winograd_f2x3_input_f32(x, cin, rows, w, top, bottom, ty0, ty1, v));
        for (int e = 0; e < 16; e++)
            for (int co = 0; co < cout; co++)
                for (int t = 0; t < nt; t++) {
                    double s = 0;
                    for (int ci = 0; ci < cin; ci++)
                        s += (double)u[(e * cout + co) * cin + ci] * v[(e * cin + ci) * nt + t];
                    m[(e * cout + co) * nt + t] = (float)s;
                }
        CHECK_OK(tsr_winograd_f2x3_output_f32(m, cout, rows, w, ty0, ty1, b, out));
        free(v); free(m);
    }
    free(u);
}

TSR_TEST(test_winograd_conv_matches_float64_direct) {
    const int shapes[][5] = {{3, 4, 8, 8, 1}, {5, 2, 7, 9, 2}, {8, 8, 16, 16, 3}, {2, 3, 1, 1, 1}, {4, 4, 5, 130, 2}};
    unsigned long long s = 3;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int cin = shapes[k][0], cout = shapes[k][1], rows = shapes[k][2], w = shapes[k][3], chunk = shapes[k][4];
        float *x = malloc((size_t)cin * rows * w * sizeof(float)), *g = malloc((size_t)cout * cin * 9 * sizeof(float));
        float *b = malloc((size_t)cout * sizeof(float)), *top = malloc((size_t)cin * w * sizeof(float));
        float *bot = malloc((size_t)cin * w * sizeof(float)), *out = malloc((size_t)cout * rows * w * sizeof(float));
        double *want = malloc((size_t)cout * rows * w * sizeof(double));
        for (int i = 0; i < cin * rows * w; i++) x[i] = (float)(2.0 * tsr_test_uniform(&s));
        for (int i = 0; i < cin * w; i++) { top[i] = (float)tsr_test_uniform(&s); bot[i] = (float)tsr_test_uniform(&s); }
        for (int i = 0; i < cout * cin * 9; i++) g[i] = (float)(tsr_test_uniform(&s) / 3.0);
        for (int i = 0; i < cout; i++) b[i] = (float)tsr_test_uniform(&s);
        for (int halo = 0; halo < 2; halo++) {
            ref_conv(x, halo ? top : NULL, halo ? bot : NULL, g, b, cin, cout, rows, w, want);
            TSR_FOR_EACH_ISA(isa) {
                wg_conv(x, halo ? top : NULL, halo ? bot : NULL, g, b, cin, cout, rows, w, chunk, out);
                double num = 0, den = 0, worst = 0;
                for (int i = 0; i < cout * rows * w; i++) {
                    num += (out[i] - want[i]) * (out[i] - want[i]);
                    den += want[i] * want[i];
                    if (fabs(out[i] - want[i]) > worst) worst = fabs(out[i] - want[i]);
                }
                /* inputs ~1, 9·cin terms: the float roundings of the transforms and products */
                CHECK_MSG(sqrt(num / den) < 1e-6 && worst < 1e-5 * (1 + cin), "isa %s shape %zu halo %d: rel %.3g max %.3g",
                          tsr_isa_name(isa), k, halo, sqrt(num / den), worst);
                if (halo && isa == TSR_ISA_SCALAR) printf("  shape %zu: relative error %.3g\n", k, sqrt(num / den));
            }
        }
        free(x); free(g); free(b); free(top); free(bot); free(out); free(want);
    }
}

typedef struct { const float *x, *top, *bot, *m; int c, rows, w; } wg_case;

static void wg_input_run(void *vc, void *out) {
    const wg_case *k = vc;
    CHECK_OK(tsr_winograd_f2x3_input_f32(k->x, k->c, k->rows, k->w, k->top, k->bot, 0, (k->rows + 1) / 2, out));
}

static void wg_output_run(void *vc, void *out) {
    const wg_case *k = vc;
    const float bias[3] = {0.5f, -1.25f, 3.0f};
    CHECK_OK(tsr_winograd_f2x3_output_f32(k->m, k->c, k->rows, k->w, 0, (k->rows + 1) / 2, bias, out));
}

TSR_TEST(test_winograd_same_bits_every_isa) {
    enum { C = 3, MAXW = 301, MAXR = 5 };
    float *x = malloc(C * MAXR * MAXW * sizeof(float)), *m = malloc(16 * C * 3 * 151 * sizeof(float));
    float top[C * MAXW], bot[C * MAXW];
    unsigned long long s = 41;
    for (int i = 0; i < C * MAXR * MAXW; i++) x[i] = (float)(i % 9 == 0 ? 1e4 * tsr_test_uniform(&s) : tsr_test_uniform(&s));
    for (int i = 0; i < 16 * C * 3 * 151; i++) m[i] = (float)(i % 7 == 0 ? 1e5 * tsr_test_uniform(&s) : tsr_test_uniform(&s));
    for (int i = 0; i < C * MAXW; i++) { top[i] = (float)tsr_test_uniform(&s); bot[i] = (float)tsr_test_uniform(&s); }
    for (int rows = 1; rows <= MAXR; rows += 2)
        for (int w = 1; w <= MAXW; w += w < 20 ? 1 : 70) {
            wg_case k = {x, top, bot, m, C, rows, w};
            const size_t tiles = (size_t)((rows + 1) / 2) * ((w + 1) / 2);
            char what[48];
            snprintf(what, sizeof what, "winograd input %dx%d", rows, w);
            tsr_test_each_isa_same_bits(what, 16 * C * tiles * sizeof(float), wg_input_run, &k);
            snprintf(what, sizeof what, "winograd output %dx%d", rows, w);
            tsr_test_each_isa_same_bits(what, (size_t)C * rows * w * sizeof(float), wg_output_run, &k);
        }
    free(x); free(m);
}

TSR_TEST(test_winograd_bad_input) {
    float a[64] = {0}, b[1024];
    CHECK_STATUS(tsr_winograd_f2x3_filter_f32(a, -1, 1, b), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_filter_f32(NULL, 1, 1, b), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_filter_f32(a, 1, 1, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_filter_f32(a, INT64_MAX / 4, 4, b), TSR_EINVAL);
    CHECK_OK(tsr_winograd_f2x3_filter_f32(NULL, 0, 5, NULL));
    CHECK_STATUS(tsr_winograd_f2x3_input_f32(a, 1, 4, 4, NULL, NULL, 0, 3, b), TSR_EINVAL);  /* ty1 > 2 */
    CHECK_STATUS(tsr_winograd_f2x3_input_f32(a, 1, 4, 4, NULL, NULL, 2, 1, b), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_input_f32(a, 1, 0, 4, NULL, NULL, 0, 0, b), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_input_f32(a, -1, 4, 4, NULL, NULL, 0, 1, b), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_input_f32(NULL, 1, 4, 4, NULL, NULL, 0, 1, b), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_input_f32(a, 1, 4, 4, NULL, NULL, 0, 1, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_input_f32(a, INT64_MAX / 8, 4, 4, NULL, NULL, 0, 1, b), TSR_EINVAL);
    CHECK_OK(tsr_winograd_f2x3_input_f32(NULL, 1, 4, 4, NULL, NULL, 1, 1, NULL));
    CHECK_STATUS(tsr_winograd_f2x3_output_f32(a, 1, 4, 4, 0, 3, NULL, b), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_output_f32(NULL, 1, 4, 4, 0, 1, NULL, b), TSR_EINVAL);
    CHECK_STATUS(tsr_winograd_f2x3_output_f32(a, 1, 4, 4, 0, 1, NULL, NULL), TSR_EINVAL);
    CHECK_OK(tsr_winograd_f2x3_output_f32(a, 1, 4, 4, 0, 2, NULL, b));
}

int main(void) {
    RUN(test_winograd_conv_matches_float64_direct);
    RUN(test_winograd_same_bits_every_isa);
    RUN(test_winograd_bad_input);
    return tsr_test_summary();
}
