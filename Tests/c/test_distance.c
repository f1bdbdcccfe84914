/*
 * test_distance.c — the clustering kernels of tessera/distance.h: the distance column
 * (every metric, f32 and f64, lengths around every block and vector width, a row stride
 * larger than n) against a float64 reference computed per pair in the documented order
 * (bit for bit), the PAM SWAP deltas against a float64 sum within rounding and against
 * exact integer sums, the k-means assignment against the documented fmaf chain (ties to the
 * lowest centre), the same bits on every ISA, and the bad input.
 */
#include "tsr_test.h"

/* The documented per-pair formula, in double, features in order. */
static double ref_dist(int metric, const double *x, const double *y, int64_t d) {
    double s = 0, xx = 0, yy = 0;
    for (int64_t t = 0; t < d; t++) {
        const double a = x[t], b = y[t];
        if (metric == TSR_DISTANCE_COSINE) {
            const double ab = a * b, aa = a * a, bb = b * b;
            s = s + ab; xx = xx + aa; yy = yy + bb;
        } else if (metric == TSR_DISTANCE_MANHATTAN) {
            s = s + fabs(a - b);
        } else {
            const double v = a - b, vv = v * v;
            s = s + vv;
        }
    }
    if (metric == TSR_DISTANCE_EUCLIDEAN) return sqrt(s);
    if (metric == TSR_DISTANCE_COSINE) {
        const double den = sqrt(xx * yy);
        double v = 1 - s / den;
        v = v >= 0 ? v : 0;
        v = v < 2 ? v : 2;
        return den > 0 ? v : 0;
    }
    return s;
}

typedef struct column_case {
    int metric, f64;
    int64_t n, d, ld;
    const float *xt32;
    const double *xt64, *y64;
    const float *y32;
} column_case;

static void run_column(void *ctx, void *out) {
    const column_case *c = ctx;
    if (c->f64) CHECK_OK(tsr_distance_column_f64(c->metric, c->n, c->d, c->xt64, c->ld, c->y64, out));
    else CHECK_OK(tsr_distance_column_f32(c->metric, c->n, c->d, c->xt32, c->ld, c->y32, out));
}

TSR_TEST(test_column_matches_pairwise_reference_on_every_isa) {
    const int64_t ns[] = {1, 7, 16, 31, 32, 33, 65, 100, 257};
    const int64_t ds[] = {1, 3, 8, 17};
    unsigned long long s = 11;
    for (int metric = TSR_DISTANCE_EUCLIDEAN; metric <= TSR_DISTANCE_COSINE; metric++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++) {
                const int64_t n = ns[ni], d = ds[di], ld = n + 5;
                float *xt32 = malloc((size_t)(ld * d) * sizeof(float)), y32[17];
                double *xt64 = malloc((size_t)(ld * d) * sizeof(double)), y64[17];
                double *out = malloc((size_t)n * sizeof(double));
                for (int64_t i = 0; i < ld * d; i++) {
                    xt32[i] = (float)(4 * tsr_test_uniform(&s));
                    xt64[i] = 4 * tsr_test_uniform(&s);
                }
                for (int64_t t = 0; t < d; t++) { y32[t] = (float)(4 * tsr_test_uniform(&s)); y64[t] = 4 * tsr_test_uniform(&s); }
                if (metric == TSR_DISTANCE_COSINE) { y32[0] = y64[0] = 1; }  /* no zero query */
                for (int f64 = 0; f64 <= 1; f64++) {
                    column_case c = {metric, f64, n, d, ld, xt32, xt64, y64, y32};
                    TSR_FOR_EACH_ISA(isa) {
                        run_column(&c, out);
                        for (int64_t j = 0; j < n; j++) {
                            double x[17], y[17];
                            for (int64_t t = 0; t < d; t++) {
                                x[t] = f64 ? xt64[t * ld + j] : (double)xt32[t * ld + j];
                                y[t] = f64 ? y64[t] : (double)y32[t];
                            }
                            const double want = ref_dist(metric, x, y, d);
                            CHECK_SAME_BITS(&want, &out[j], sizeof want, "%s metric %d f64 %d n %lld d %lld point %lld",
                                            tsr_isa_name(isa), metric, f64, (long long)n, (long long)d, (long long)j);
                        }
                    }
                    tsr_test_each_isa_same_bits("distance column", (size_t)n * sizeof(double), run_column, &c);
                }
                free(xt32); free(xt64); free(out);
            }
}

TSR_TEST(test_column_cosine_zero_row_is_zero) {
    const float xt[2] = {0, 3}, y[1] = {2};   /* d = 1: point 0 is all zeros */
    double out[2];
    TSR_FOR_EACH_ISA(isa) {
        CHECK_OK(tsr_distance_column_f32(TSR_DISTANCE_COSINE, 2, 1, xt, 2, y, out));
        CHECK(out[0] == 0);
        CHECK(out[1] == 0);   /* same direction */
    }
}

typedef struct pam_case {
    int f64;
    int64_t n, k;
    const float *row32, *nd32, *sd32;
    const double *row64, *nd64, *sd64;
    const int32_t *near;
} pam_case;

static void run_pam(void *ctx, void *out) {
    const pam_case *c = ctx;
    if (c->f64) CHECK_OK(tsr_pam_swap_deltas_f64(c->n, c->row64, c->near, c->nd64, c->sd64, c->k, out));
    else CHECK_OK(tsr_pam_swap_deltas_f32(c->n, c->row32, c->near, c->nd32, c->sd32, c->k, out));
}

/* Random caches with near_d <= seco_d; `integer` makes every value a small integer, so any
 * summation order is exact and the kernel must equal the sequential sum exactly. */
static void pam_data(unsigned long long *s, int64_t n, int64_t k, int integer, float *row32, float *nd32, float *sd32,
                     double *row64, double *nd64, double *sd64, int32_t *near) {
    for (int64_t j = 0; j < n; j++) {
        double a = 10 * tsr_test_uniform(s) + 10, b = 10 * tsr_test_uniform(s) + 10, r = 15 * tsr_test_uniform(s) + 15;
        if (integer) { a = floor(a); b = floor(b); r = floor(r); }
        if (a > b) { const double t = a; a = b; b = t; }
        nd64[j] = a; sd64[j] = b; row64[j] = r;
        nd32[j] = (float)a; sd32[j] = (float)b; row32[j] = (float)r;
        near[j] = (int32_t)(tsr_test_rng_next(s) % (unsigned long long)k);
    }
}

TSR_TEST(test_pam_deltas_match_sequential_sum_on_every_isa) {
    const int64_t ns[] = {0, 1, 15, 16, 17, 100, 1003};
    const int64_t ks[] = {1, 3, 10};
    unsigned long long s = 5;
    for (int integer = 0; integer <= 1; integer++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
                const int64_t n = ns[ni], k = ks[ki], nn = n ? n : 1;
                float *r32 = malloc((size_t)nn * sizeof(float)), *n32 = malloc((size_t)nn * sizeof(float)),
                      *s32 = malloc((size_t)nn * sizeof(float));
                double *r64 = malloc((size_t)nn * sizeof(double)), *n64 = malloc((size_t)nn * sizeof(double)),
                       *s64 = malloc((size_t)nn * sizeof(double)), out[10];
                int32_t *near = malloc((size_t)nn * sizeof(int32_t));
                pam_data(&s, n, k, integer, r32, n32, s32, r64, n64, s64, near);
                for (int f64 = 0; f64 <= 1; f64++) {
                    pam_case c = {f64, n, k, r32, n32, s32, r64, n64, s64, near};
                    run_pam(&c, out);
                    for (int64_t m = 0; m < k; m++) {
                        double want = 0;   /* the textbook sequential sum in double */
                        for (int64_t j = 0; j < n; j++) {
                            const double row = f64 ? r64[j] : r32[j], nd = f64 ? n64[j] : n32[j], sd = f64 ? s64[j] : s32[j];
                            want += near[j] == m ? fmin(row, sd) - nd : fmin(row - nd, 0);
                        }
                        if (integer) CHECK_MSG(out[m] == want, "n %lld k %lld m %lld: %.17g vs %.17g", (long long)n, (long long)k, (long long)m, out[m], want);
                        else CHECK_NEAR(out[m], want, 1e-12 * (fabs(want) + 30 * (double)n));
                    }
                    tsr_test_each_isa_same_bits("pam deltas", (size_t)k * sizeof(double), run_pam, &c);
                }
                free(r32); free(n32); free(s32); free(r64); free(n64); free(s64); free(near);
            }
}

typedef struct assign_case {
    int64_t m, d, ldx, k;
    const float *x, *c, *cn;
} assign_case;

static void run_assign(void *ctx, void *out) {
    const assign_case *a = ctx;
    CHECK_OK(tsr_kmeans_assign_f32(a->m, a->d, a->x, a->ldx, a->k, a->c, a->cn, out));
}

TSR_TEST(test_kmeans_assign_matches_fma_reference_on_every_isa) {
    const int64_t ms[] = {1, 15, 16, 17, 100};
    const int64_t ds[] = {1, 3, 8, 20};
    const int64_t ks[] = {1, 3, 4, 5, 10, 33};
    unsigned long long s = 3;
    for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
        for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++)
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
                const int64_t m = ms[mi], d = ds[di], k = ks[ki], ldx = d + 2;
                float *x = malloc((size_t)(m * ldx) * sizeof(float)), *c = malloc((size_t)(k * d) * sizeof(float));
                float *cn = malloc((size_t)k * sizeof(float));
                double *cd = malloc((size_t)(k * d) * sizeof(double));
                int64_t *lab = malloc((size_t)m * sizeof(int64_t));
                for (int64_t i = 0; i < m * ldx; i++) x[i] = 5 * tsr_test_uniform(&s);
                for (int64_t i = 0; i < k * d; i++) { c[i] = 5 * tsr_test_uniform(&s); cd[i] = c[i]; }
                if (k > 2) memcpy(c + 2 * d, c, (size_t)d * sizeof(float));   /* a duplicate centre: ties to the lowest */
                for (int64_t cc = 0; cc < k; cc++) {
                    float acc = 0;
                    for (int64_t t = 0; t < d; t++) acc = acc + c[cc * d + t] * c[cc * d + t];
                    cn[cc] = acc;
                }
                assign_case a = {m, d, ldx, k, x, c, cn};
                run_assign(&a, lab);
                for (int64_t i = 0; i < m; i++) {
                    /* the documented float formula, fmaf chain in feature order, first lowest */
                    int64_t want = 0;
                    float bv = INFINITY;
                    for (int64_t cc = 0; cc < k; cc++) {
                        float dot = 0;
                        for (int64_t t = 0; t < d; t++) dot = fmaf(x[i * ldx + t], c[cc * d + t], dot);
                        const float v = cn[cc] - 2 * dot;
                        if (v < bv) { bv = v; want = cc; }
                    }
                    CHECK_MSG(lab[i] == want, "m %lld d %lld k %lld row %lld: %lld vs %lld", (long long)m, (long long)d,
                              (long long)k, (long long)i, (long long)lab[i], (long long)want);
                    CHECK(k <= 2 || lab[i] != 2);
                }
                tsr_test_each_isa_same_bits("kmeans assign", (size_t)m * sizeof(int64_t), run_assign, &a);
                free(x); free(c); free(cn); free(cd); free(lab);
            }
}

TSR_TEST(test_bad_input_is_refused) {
    float x[4] = {0}, y[2] = {0};
    double out[4];
    int32_t near[2] = {0, 0};
    CHECK_STATUS(tsr_distance_column_f32(0, 2, 2, x, 2, y, out), TSR_EINVAL);
    CHECK_STATUS(tsr_distance_column_f32(5, 2, 2, x, 2, y, out), TSR_EINVAL);
    CHECK_STATUS(tsr_distance_column_f32(TSR_DISTANCE_EUCLIDEAN, -1, 2, x, 2, y, out), TSR_EINVAL);
    CHECK_STATUS(tsr_distance_column_f32(TSR_DISTANCE_EUCLIDEAN, 2, 0, x, 2, y, out), TSR_EINVAL);
    CHECK_STATUS(tsr_distance_column_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, x, 1, y, out), TSR_EINVAL);
    CHECK_STATUS(tsr_distance_column_f64(TSR_DISTANCE_EUCLIDEAN, 2, 2, NULL, 2, NULL, out), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "tsr_distance_column_f64") != NULL);
    CHECK_OK(tsr_distance_column_f32(TSR_DISTANCE_EUCLIDEAN, 0, 2, NULL, 0, NULL, NULL));
    CHECK_STATUS(tsr_pam_swap_deltas_f32(2, x, near, x, x, 0, out), TSR_EINVAL);
    CHECK_STATUS(tsr_pam_swap_deltas_f32(-1, x, near, x, x, 1, out), TSR_EINVAL);
    CHECK_STATUS(tsr_pam_swap_deltas_f32(2, x, NULL, x, x, 1, out), TSR_EINVAL);
    CHECK_STATUS(tsr_pam_swap_deltas_f64(2, NULL, near, NULL, NULL, 1, out), TSR_EINVAL);
    CHECK_STATUS(tsr_pam_swap_deltas_f64(2, (double *)out, near, (double *)out, (double *)out, 1, NULL), TSR_EINVAL);
    int64_t lab[2];
    CHECK_STATUS(tsr_kmeans_assign_f32(2, 2, x, 1, 1, x, x, lab), TSR_EINVAL);
    CHECK_STATUS(tsr_kmeans_assign_f32(2, 2, x, 2, 0, x, x, lab), TSR_EINVAL);
    CHECK_STATUS(tsr_kmeans_assign_f32(2, 0, x, 2, 1, x, x, lab), TSR_EINVAL);
    CHECK_STATUS(tsr_kmeans_assign_f32(-1, 2, x, 2, 1, x, x, lab), TSR_EINVAL);
    CHECK_STATUS(tsr_kmeans_assign_f64(2, 2, out, 2, 1, NULL, out, lab), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "tsr_kmeans_assign_f64") != NULL);
    CHECK_OK(tsr_kmeans_assign_f32(0, 2, NULL, 2, 1, NULL, NULL, NULL));
}

int main(void) {
    RUN(test_column_matches_pairwise_reference_on_every_isa);
    RUN(test_column_cosine_zero_row_is_zero);
    RUN(test_pam_deltas_match_sequential_sum_on_every_isa);
    RUN(test_kmeans_assign_matches_fma_reference_on_every_isa);
    RUN(test_bad_input_is_refused);
    return tsr_test_summary();
}
