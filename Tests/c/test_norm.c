/*
 * test_norm.c — tsr_block_sums_f32 and tsr_channel_affine_f32 (GroupNorm's statistics and
 * its fused scale/shift + SiLU) against float64 references from the definitions, on every
 * ISA; the same bits on the scalar, AVX2 and AVX-512 paths (every tail length, chunk
 * boundaries, large values), independence from offset and from the other blocks, in-place
 * use, special values, and the bad input; tsr_rms_norm_f32 against float64 and its documented
 * summation order written out here, the same bits on every ISA and per row.
 */
#include "tsr_test.h"

static double ref_silu(double v) { return v / (1.0 + exp(-v)); }

TSR_TEST(test_block_sums_match_float64) {
    const int64_t lens[] = {1, 7, 15, 16, 17, 100, 1023, 1024, 1025, 3000, 70001};
    enum { MAXN = 70001 };
    float *x = malloc((MAXN + 1) * sizeof(float));
    unsigned long long s = 5;
    TSR_FOR_EACH_ISA(isa) {
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int64_t n = lens[li];
            double want = 0, want2 = 0, abs = 0;
            for (int64_t i = 0; i < n; i++) {
                x[1 + i] = (float)(0.7 + 2.0 * tsr_test_uniform(&s));  /* a mean: cancellation in sumsq - n·mean² */
                want += x[1 + i];
                want2 += (double)x[1 + i] * x[1 + i];
                abs += fabs(x[1 + i]);
            }
            double got = 0, got2 = 0;
            CHECK_OK(tsr_block_sums_f32(x + 1, 1, n, &got, &got2));  /* unaligned start */
            /* float lanes of ≤ 64 elements: ≤ 64 roundings of 2^-24 relative each, then double */
            CHECK_MSG(fabs(got - want) <= 64 * 6e-8 * abs + 1e-30, "isa %s n %lld: sum %.17g want %.17g",
                      tsr_isa_name(isa), (long long)n, got, want);
            CHECK_MSG(fabs(got2 - want2) <= 64 * 6e-8 * want2 + 1e-30, "isa %s n %lld: sumsq %.17g want %.17g",
                      tsr_isa_name(isa), (long long)n, got2, want2);
        }
    }
    free(x);
}

typedef struct { const float *x; int64_t blocks, len; } sums_case;

static void sums_run(void *vc, void *out) {
    const sums_case *c = vc;
    double *o = out;
    CHECK_OK(tsr_block_sums_f32(c->x, c->blocks, c->len, o, o + c->blocks));
}

TSR_TEST(test_block_sums_same_bits_every_isa_and_per_block) {
    enum { N = 9000 };
    float *x = malloc(N * sizeof(float));
    unsigned long long s = 31;
    for (int i = 0; i < N; i++) {
        const double r = tsr_test_uniform(&s);
        x[i] = (float)(i % 13 == 0 ? 1e4 * r : i % 7 == 0 ? -0.0 : 3.0 * r - 1.0);
    }
    for (int64_t len = 1; len <= 2100; len += len < 40 ? 1 : 517) {
        const int64_t blocks = N / len < 4 ? N / len : 4;
        sums_case c = {x, blocks, len};
        char what[48];
        snprintf(what, sizeof what, "block sums len %lld", (long long)len);
        tsr_test_each_isa_same_bits(what, 2 * sizeof(double) * (size_t)blocks, sums_run, &c);
        /* block b alone gives the bits it gives among the others */
        double all[8], one[2];
        CHECK_OK(tsr_block_sums_f32(x, blocks, len, all, all + blocks));
        CHECK_OK(tsr_block_sums_f32(x + (blocks - 1) * len, 1, len, one, one + 1));
        CHECK(memcmp(&all[blocks - 1], &one[0], sizeof(double)) == 0);
        CHECK(memcmp(&all[2 * blocks - 1], &one[1], sizeof(double)) == 0);
    }
    free(x);
}

TSR_TEST(test_channel_affine_matches_float64) {
    enum { C = 3, P = 1037 };
    float *x = malloc(C * P * sizeof(float)), *o = malloc((C * P + 1) * sizeof(float));
    const float sc[C] = {1.5f, -0.25f, 3.0f}, sh[C] = {0.1f, -2.0f, 0.0f};
    unsigned long long s = 9;
    for (int i = 0; i < C * P; i++) x[i] = (float)(i % 11 == 0 ? 40.0 * tsr_test_uniform(&s) : 6.0 * tsr_test_uniform(&s));
    TSR_FOR_EACH_ISA(isa) {
        for (int act = 0; act < 2; act++) {
            CHECK_OK(tsr_channel_affine_f32(x, o + 1, C, P, sc, sh, (tsr_activation)act));
            for (int c = 0; c < C; c++)
                for (int i = 0; i < P; i++) {
                    const float v = fmaf(x[c * P + i], sc[c], sh[c]);  /* the f32 argument, exactly */
                    const double want = act ? ref_silu(v) : v, got = o[1 + c * P + i];
                    /* v ≥ −87: a few ulp; below, e^−v is clamped and the exact value is ~0 */
                    const double tol = v >= -87.0f ? 4 * 1.2e-7 * fabs(want) + 1e-38 : 1e-36 * fabs(v);
                    if (!(fabs(got - want) <= tol)) {
                        CHECK_MSG(0, "isa %s act %d c %d i %d: v %.9g -> %.9g want %.9g", tsr_isa_name(isa), act, c, i,
                                  v, got, want);
                        c = C;
                        break;
                    }
                }
        }
    }
    free(x); free(o);
}

typedef struct { const float *x; int64_t plane; tsr_activation act; } affine_case;

static void affine_run(void *vc, void *out) {
    const affine_case *c = vc;
    const float sc[2] = {1.25f, -3.5f}, sh[2] = {-0.5f, 7.0f};
    CHECK_OK(tsr_channel_affine_f32(c->x, out, 2, c->plane, sc, sh, c->act));
}

TSR_TEST(test_channel_affine_same_bits_every_isa_and_in_place) {
    enum { N = 2 * 2051 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float)), *z = malloc((N + 3) * sizeof(float));
    unsigned long long s = 77;
    for (int i = 0; i < N; i++) {
        const double r = tsr_test_uniform(&s);
        x[i] = (float)(i % 5 == 0 ? 60.0 * r : i % 97 == 0 ? 0.0 : 8.0 * r);
    }
    for (int act = 0; act < 2; act++)
        for (int64_t plane = 1; plane <= N / 2; plane += plane < 40 ? 1 : 503) {
            affine_case c = {x, plane, (tsr_activation)act};
            char what[48];
            snprintf(what, sizeof what, "affine act %d plane %lld", act, (long long)plane);
            tsr_test_each_isa_same_bits(what, 2 * sizeof(float) * (size_t)plane, affine_run, &c);
            /* in place and at an odd offset: the same bits */
            affine_run(&c, y);
            memcpy(z + 3, x, 2 * sizeof(float) * (size_t)plane);
            affine_case d = {z + 3, plane, (tsr_activation)act};
            affine_run(&d, z + 3);
            CHECK(memcmp(y, z + 3, 2 * sizeof(float) * (size_t)plane) == 0);
        }
    free(x); free(y); free(z);
}

/* The documented order of tsr_rms_norm_f32's Σx², written out independently of the library. */
static float rms_sumsq_documented(const float *x, int64_t n) {
    float lane[16] = {0};
    const int64_t whole = n / 16 * 16;
    for (int64_t i = 0; i < whole; i++) lane[i % 16] = fmaf(x[i], x[i], lane[i % 16]);
    volatile float s = -0.0f;  /* volatile: each addition and product rounded on its own */
    for (int j = 0; j < 16; j++) s = s + lane[j];
    for (int64_t i = whole; i < n; i++) {
        volatile float p = x[i] * x[i];
        s = s + p;
    }
    return s;
}

TSR_TEST(test_rms_norm_matches_float64_and_documented_order) {
    const int64_t dims[] = {1, 5, 15, 16, 17, 64, 100, 256, 576, 640, 2051};
    enum { MAXD = 2051, ROWS = 3 };
    float *x = malloc((ROWS * MAXD + 1) * sizeof(float)), *w = malloc(MAXD * sizeof(float));
    float *o = malloc((ROWS * MAXD + 1) * sizeof(float));
    unsigned long long s = 13;
    for (int i = 0; i < MAXD; i++) w[i] = (float)(0.5 + 1.5 * tsr_test_uniform(&s));
    TSR_FOR_EACH_ISA(isa) {
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            const int64_t d = dims[di];
            for (int64_t i = 0; i < ROWS * d; i++)
                x[1 + i] = (float)((i % 9 == 0 ? 30.0 : 2.0) * (tsr_test_uniform(&s) - 0.5));
            const float eps = 1e-6f;
            CHECK_OK(tsr_rms_norm_f32(x + 1, w, o + 1, ROWS, d, eps));  /* unaligned rows */
            for (int r = 0; r < ROWS; r++) {
                const float *xr = x + 1 + r * d, *orow = o + 1 + r * d;
                double ss = 0;
                for (int64_t i = 0; i < d; i++) ss += (double)xr[i] * xr[i];
                const double scale = 1.0 / sqrt(ss / (double)d + eps);
                const float fs = 1.0f / sqrtf(rms_sumsq_documented(xr, d) / (float)d + eps);
                for (int64_t i = 0; i < d; i++) {
                    const double want = xr[i] * scale * w[i];
                    /* Σx² to (d/16 + 16)·2^-24, the scale half that, two products */
                    const double tol = ((double)d / 16 + 20) * 6e-8 * fabs(want) + 1e-37;
                    const float exact = (xr[i] * fs) * w[i];
                    if (!(fabs(orow[i] - want) <= tol) || memcmp(&orow[i], &exact, sizeof(float)) != 0) {
                        CHECK_MSG(0, "isa %s d %lld row %d i %lld: %.9g want %.9g (documented order %.9g)",
                                  tsr_isa_name(isa), (long long)d, r, (long long)i, orow[i], want, exact);
                        r = ROWS;
                        break;
                    }
                }
            }
        }
    }
    free(x); free(w); free(o);
}

typedef struct { const float *x, *w; int64_t rows, dim; } rms_case;

static void rms_run(void *vc, void *out) {
    const rms_case *c = vc;
    CHECK_OK(tsr_rms_norm_f32(c->x, c->w, out, c->rows, c->dim, 1e-5f));
}

TSR_TEST(test_rms_norm_same_bits_every_isa_per_row_and_in_place) {
    enum { N = 4 * 1100 };
    float *x = malloc(N * sizeof(float)), *w = malloc(1100 * sizeof(float));
    float *y = malloc(N * sizeof(float)), *z = malloc((N + 3) * sizeof(float));
    unsigned long long s = 41;
    for (int i = 0; i < N; i++) {
        const double r = tsr_test_uniform(&s);
        x[i] = (float)(i % 13 == 0 ? 1e3 * r : i % 7 == 0 ? -0.0 : 3.0 * r - 1.0);
    }
    for (int i = 0; i < 1100; i++) w[i] = (float)(2.0 * tsr_test_uniform(&s) - 1.0);
    for (int64_t dim = 1; dim <= 1100; dim += dim < 40 ? 1 : 211) {
        rms_case c = {x, w, 4, dim};
        char what[48];
        snprintf(what, sizeof what, "rms norm dim %lld", (long long)dim);
        tsr_test_each_isa_same_bits(what, 4 * sizeof(float) * (size_t)dim, rms_run, &c);
        /* row 3 alone, in place at an odd offset: the bits it has among the others */
        rms_run(&c, y);
        memcpy(z + 3, x + 3 * dim, sizeof(float) * (size_t)dim);
        CHECK_OK(tsr_rms_norm_f32(z + 3, w, z + 3, 1, dim, 1e-5f));
        CHECK(memcmp(y + 3 * dim, z + 3, sizeof(float) * (size_t)dim) == 0);
    }
    free(x); free(w); free(y); free(z);
}

TSR_TEST(test_norm_special_values) {
    const float x[5] = {0.0f, NAN, -200.0f, 200.0f, -0.0f}, one = 1.0f, zero = 0.0f;
    float o[5];
    TSR_FOR_EACH_ISA(isa) {
        CHECK_OK(tsr_channel_affine_f32(x, o, 1, 5, &one, &zero, TSR_ACT_SILU));
        CHECK(o[0] == 0.0f);
        CHECK(isnan(o[1]));
        CHECK(fabsf(o[2]) < 1e-30f);  /* SiLU(−200) ≈ 0 */
        CHECK(o[3] == 200.0f);
        CHECK(o[4] == 0.0f);
        double s1, s2;
        CHECK_OK(tsr_block_sums_f32(x, 1, 5, &s1, &s2));
        CHECK(isnan(s1) && isnan(s2));
        CHECK_OK(tsr_rms_norm_f32(x, &one, o, 5, 1, 1e-6f));  /* five rows of one element */
        CHECK(o[0] == 0.0f && isnan(o[1]) && o[4] == 0.0f);
        CHECK(fabsf(o[2] + 1.0f) < 1e-6f && fabsf(o[3] - 1.0f) < 1e-6f);
        CHECK_OK(tsr_rms_norm_f32(x, x, o, 1, 5, 1e-6f));  /* a NaN anywhere in the row */
        for (int i = 0; i < 5; i++) CHECK(isnan(o[i]));
    }
}

TSR_TEST(test_norm_bad_input) {
    float a[4] = {0}, b[4];
    double s[2], q[2];
    CHECK_STATUS(tsr_block_sums_f32(a, -1, 4, s, q), TSR_EINVAL);
    CHECK_STATUS(tsr_block_sums_f32(a, 1, -4, s, q), TSR_EINVAL);
    CHECK_STATUS(tsr_block_sums_f32(NULL, 1, 4, s, q), TSR_EINVAL);
    CHECK_STATUS(tsr_block_sums_f32(a, 1, 4, NULL, q), TSR_EINVAL);
    CHECK_STATUS(tsr_block_sums_f32(a, 1, 4, s, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_block_sums_f32(a, INT64_MAX / 2, 4, s, q), TSR_EINVAL);
    CHECK_OK(tsr_block_sums_f32(NULL, 0, 4, NULL, NULL));
    CHECK_OK(tsr_block_sums_f32(NULL, 2, 0, s, q));
    CHECK(s[0] == 0 && s[1] == 0 && q[0] == 0 && q[1] == 0);
    CHECK_STATUS(tsr_channel_affine_f32(a, b, -1, 4, a, a, TSR_ACT_SILU), TSR_EINVAL);
    CHECK_STATUS(tsr_channel_affine_f32(a, b, 1, 4, a, a, (tsr_activation)7), TSR_EINVAL);
    CHECK_STATUS(tsr_channel_affine_f32(NULL, b, 1, 4, a, a, TSR_ACT_SILU), TSR_EINVAL);
    CHECK_STATUS(tsr_channel_affine_f32(a, NULL, 1, 4, a, a, TSR_ACT_SILU), TSR_EINVAL);
    CHECK_STATUS(tsr_channel_affine_f32(a, b, 1, 4, NULL, a, TSR_ACT_SILU), TSR_EINVAL);
    CHECK_STATUS(tsr_channel_affine_f32(a, b, 1, 4, a, NULL, TSR_ACT_SILU), TSR_EINVAL);
    CHECK_STATUS(tsr_channel_affine_f32(a, b, INT64_MAX / 2, 4, a, a, TSR_ACT_SILU), TSR_EINVAL);
    CHECK_OK(tsr_channel_affine_f32(NULL, NULL, 0, 4, NULL, NULL, TSR_ACT_SILU));
    CHECK_STATUS(tsr_rms_norm_f32(a, a, b, -1, 4, 1e-6f), TSR_EINVAL);
    CHECK_STATUS(tsr_rms_norm_f32(a, a, b, 1, -4, 1e-6f), TSR_EINVAL);
    CHECK_STATUS(tsr_rms_norm_f32(a, a, b, INT64_MAX / 2, 4, 1e-6f), TSR_EINVAL);
    CHECK_STATUS(tsr_rms_norm_f32(NULL, a, b, 1, 4, 1e-6f), TSR_EINVAL);
    CHECK_STATUS(tsr_rms_norm_f32(a, NULL, b, 1, 4, 1e-6f), TSR_EINVAL);
    CHECK_STATUS(tsr_rms_norm_f32(a, a, NULL, 1, 4, 1e-6f), TSR_EINVAL);
    CHECK_STATUS(tsr_rms_norm_f32(a, a, b, 1, 4, -1e-6f), TSR_EINVAL);
    CHECK_STATUS(tsr_rms_norm_f32(a, a, b, 1, 4, NAN), TSR_EINVAL);
    CHECK_STATUS(tsr_rms_norm_f32(a, a, b, 1, 4, INFINITY), TSR_EINVAL);
    CHECK_OK(tsr_rms_norm_f32(NULL, NULL, NULL, 0, 4, 1e-6f));
    CHECK_OK(tsr_rms_norm_f32(NULL, NULL, NULL, 3, 0, 1e-6f));
}

int main(void) {
    RUN(test_block_sums_match_float64);
    RUN(test_block_sums_same_bits_every_isa_and_per_block);
    RUN(test_channel_affine_matches_float64);
    RUN(test_channel_affine_same_bits_every_isa_and_in_place);
    RUN(test_rms_norm_matches_float64_and_documented_order);
    RUN(test_rms_norm_same_bits_every_isa_per_row_and_in_place);
    RUN(test_norm_special_values);
    RUN(test_norm_bad_input);
    return tsr_test_summary();
}
