/*
 * test_geglu.c — tsr_geglu_tanh_f32 (Gemma's GeGLU with tanh-GELU) against a float64
 * reference from the definition ½g(1 + tanh(√(2/π)(g + 0.044715g³)))·u (libm tanh/exp), on
 * every ISA; the same bits on the scalar, AVX2 and AVX-512 paths (gates over the
 * whole range incl. the clamps, tails of every length), independence from n, offset and
 * in-place use, special values, and the bad input.
 */
#include "tsr_test.h"

/* ½(1 + tanh(a)) written as 1 / (1 + e^(−2a)): 1 + tanh(a) cancels for negative gates
 * (tanh → −1) even in float64; checked against the tanh form where that is exact enough. */
static double ref_geglu(float g, float u) {
    const double x = g, a = 0.79788456080286535588 * (x + 0.044715 * x * x * x);
    const double r = x / (1.0 + exp(-2.0 * a)) * (double)u;
    if (x > -2.0) {
        const double t = 0.5 * x * (1.0 + tanh(a)) * (double)u;
        if (!(fabs(t - r) <= 1e-12 * fabs(r) + 1e-300)) printf("  reference forms disagree at g %.9g\n", x);
    }
    return r;
}

TSR_TEST(test_geglu_matches_float64) {
    const int64_t lens[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 2048, 4099};
    float *g = malloc(4100 * sizeof(float)), *u = malloc(4100 * sizeof(float)), *o = malloc(4101 * sizeof(float));
    unsigned long long s = 17;
    TSR_FOR_EACH_ISA(isa) {
        double worst = 0;
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int64_t n = lens[li];
            for (int64_t i = 0; i < n; i++) {
                /* mostly |g| < 8 (Gemma's gates), some out to ±40 (both clamps of e^z) */
                const double r = tsr_test_uniform(&s);
                g[i] = (float)(i % 7 == 0 ? 40.0 * r : 8.0 * r);
                u[i] = (float)(3.0 * tsr_test_uniform(&s));
            }
            CHECK_OK(tsr_geglu_tanh_f32(g, u, o + 1, n));  /* unaligned output start */
            for (int64_t i = 0; i < n; i++) {
                const double want = ref_geglu(g[i], u[i]);
                const double err = fabs(o[1 + i] - want);
                /* |g| <= 10: a few ulp, plus the rounding of the e^z argument z = −2a (f32, so
                 * e^z carries |z|·ulp of relative error); beyond, the exact value is below
                 * 1e-36·|u| in magnitude (or equals g·u to the last bit) */
                const double x = g[i], z = 2.0 * 0.79788456080286535588 * fabs(x + 0.044715 * x * x * x);
                const double tol = fabs(g[i]) <= 10.0f ? 1.2e-7 * (4.0 + z) * fabs(want) + 1e-38
                                                       : 1e-36 * fabs(u[i]) + 1e-6 * fabs(want);
                if (fabs(g[i]) <= 10.0f && fabs(want) > 1e-30 && err / fabs(want) > worst) worst = err / fabs(want);
                if (!(err <= tol)) {
                    CHECK_MSG(0, "isa %s n %lld i %lld: g %.9g u %.9g -> %.9g, want %.9g", tsr_isa_name(isa),
                              (long long)n, (long long)i, g[i], u[i], o[1 + i], want);
                    break;
                }
            }
        }
        printf("  %s: worst relative error (|g| <= 10, e^z arguments up to 88) %.3g\n", tsr_isa_name(isa), worst);
    }
    free(g); free(u); free(o);
}

typedef struct { const float *g, *u; int64_t n; } geglu_case;

static void geglu_run(void *vc, void *out) {
    const geglu_case *c = vc;
    CHECK_OK(tsr_geglu_tanh_f32(c->g, c->u, out, c->n));
}

TSR_TEST(test_geglu_same_bits_every_isa) {
    enum { N = 4099 };
    float *g = malloc(N * sizeof(float)), *u = malloc(N * sizeof(float));
    unsigned long long s = 23;
    for (int i = 0; i < N; i++) {
        const double r = tsr_test_uniform(&s);
        /* every range: tiny, Gemma-sized, both clamps of e^z, exact zeros */
        g[i] = (float)(i % 5 == 0 ? 100.0 * r : i % 5 == 1 ? 1e-3 * r : i % 97 == 0 ? 0.0 : 9.0 * r);
        u[i] = (float)(4.0 * tsr_test_uniform(&s));
    }
    for (int64_t n = 1; n <= N; n += n < 40 ? 1 : 1021) {
        geglu_case c = {g, u, n};
        char what[32];
        snprintf(what, sizeof what, "geglu n %lld", (long long)n);
        tsr_test_each_isa_same_bits(what, sizeof(float) * (size_t)n, geglu_run, &c);
    }
    free(g); free(u);
}

TSR_TEST(test_geglu_independent_of_length_and_in_place) {
    tsr_test_gated_offsets_and_in_place(tsr_geglu_tanh_f32, 29);
}

TSR_TEST(test_geglu_special_values) {
    const float g[6] = {0.0f, NAN, 1.0f, -200.0f, 200.0f, -0.0f}, u[6] = {5.0f, 1.0f, NAN, 1.0f, 2.0f, 1.0f};
    float o[6];
    TSR_FOR_EACH_ISA(isa) {
        CHECK_OK(tsr_geglu_tanh_f32(g, u, o, 6));
        CHECK(o[0] == 0.0f);
        CHECK(isnan(o[1]));
        CHECK(isnan(o[2]));
        CHECK(fabsf(o[3]) < 1e-30f);  /* GELU(−200) ≈ 0 */
        CHECK(o[4] == 400.0f);        /* GELU(200) = 200 in f32 */
        CHECK(o[5] == 0.0f);
    }
}

TSR_TEST(test_geglu_bad_input) {
    float a[4] = {0}, b[4] = {0}, c[4];
    CHECK_STATUS(tsr_geglu_tanh_f32(a, b, c, -1), TSR_EINVAL);
    CHECK_STATUS(tsr_geglu_tanh_f32(NULL, b, c, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_geglu_tanh_f32(a, NULL, c, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_geglu_tanh_f32(a, b, NULL, 4), TSR_EINVAL);
    CHECK_OK(tsr_geglu_tanh_f32(NULL, NULL, NULL, 0));
}

int main(void) {
    RUN(test_geglu_matches_float64);
    RUN(test_geglu_same_bits_every_isa);
    RUN(test_geglu_independent_of_length_and_in_place);
    RUN(test_geglu_special_values);
    RUN(test_geglu_bad_input);
    return tsr_test_summary();
}
