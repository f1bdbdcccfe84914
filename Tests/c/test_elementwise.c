/*
 * test_elementwise.c — tsr_swiglu_f32 on every ISA against a float64 reference (random
 * gates across the whole range SiLU is used on, lengths around every vector width, tails,
 * unaligned starts, in-place), independence from n and offset, NaN, and the bad input.
 */
#include "tsr_test.h"

static double ref_swiglu(float g, float u) { return (double)g / (1.0 + exp(-(double)g)) * (double)u; }

TSR_TEST(test_swiglu_matches_float64) {
    const int64_t lens[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1536, 4099};
    float *g = malloc(4100 * sizeof(float)), *u = malloc(4100 * sizeof(float)), *o = malloc(4101 * sizeof(float));
    unsigned long long s = 7;
    TSR_FOR_EACH_ISA(isa) {
        double worst = 0;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int64_t n = lens[li];
            for (int64_t i = 0; i < n; i++) {
                /* mostly |g| < 12 (where transformer gates live), some out to ±90 */
                const double r = tsr_test_uniform(&s);
                g[i] = (float)(i % 7 == 0 ? 90.0 * r : 12.0 * r);
                u[i] = (float)(3.0 * tsr_test_uniform(&s));
            }
            /* unaligned output start (o + 1) */
            CHECK_OK(tsr_swiglu_f32(g, u, o + 1, n));
            for (int64_t i = 0; i < n; i++) {
                const double want = ref_swiglu(g[i], u[i]);
                const double err = fabs(o[1 + i] - want) / fmax(fabs(want), 1e-30);
                if (fabs(want) > 1e-30 && err > worst) worst = err;
                if (!(fabs(o[1 + i] - want) <= 6e-7 * fabs(want) + 4e-35)) {
                    CHECK_MSG(0, "isa %s n %lld i %lld: g %.9g u %.9g -> %.9g, want %.9g", tsr_isa_name(isa),
                              (long long)n, (long long)i, g[i], u[i], o[1 + i], want);
                    break;
                }
            }
        }
        printf("  %s: worst relative error %.3g\n", tsr_isa_name(isa), worst);
    }
    free(g); free(u); free(o);
}

TSR_TEST(test_swiglu_independent_of_length_and_in_place) {
    tsr_test_gated_offsets_and_in_place(tsr_swiglu_f32, 11);
}

TSR_TEST(test_swiglu_special_values) {
    const float g[5] = {0.0f, NAN, 1.0f, -200.0f, 200.0f}, u[5] = {5.0f, 1.0f, NAN, 1.0f, 2.0f};
    float o[5];
    TSR_FOR_EACH_ISA(isa) {
        CHECK_OK(tsr_swiglu_f32(g, u, o, 5));
        CHECK(o[0] == 0.0f);
        CHECK(isnan(o[1]));
        CHECK(isnan(o[2]));
        CHECK(fabsf(o[3]) < 1e-30f);   /* SiLU(−200) ≈ −2.7e−85 → 0 in f32 */
        CHECK(o[4] == 400.0f);         /* SiLU(200) = 200 in f32 */
    }
}

TSR_TEST(test_swiglu_bad_input) {
    float a[4] = {0}, b[4] = {0}, c[4];
    CHECK_STATUS(tsr_swiglu_f32(a, b, c, -1), TSR_EINVAL);
    CHECK_STATUS(tsr_swiglu_f32(NULL, b, c, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_swiglu_f32(a, NULL, c, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_swiglu_f32(a, b, NULL, 4), TSR_EINVAL);
    CHECK_OK(tsr_swiglu_f32(NULL, NULL, NULL, 0));
}

int main(void) {
    RUN(test_swiglu_matches_float64);
    RUN(test_swiglu_independent_of_length_and_in_place);
    RUN(test_swiglu_special_values);
    RUN(test_swiglu_bad_input);
    return tsr_test_summary();
}
