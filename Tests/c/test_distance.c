/*
 * test_distance.c — the clustering kernels of tessera/distance.h: the distance column
 * (every metric, f32 and f64, lengths around every block and vector width, a row stride
 * larger than n) against a float64 reference computed per pair in the documented order
 * (bit for bit), the PAM SWAP deltas against a float64 sum within rounding and against
 * exact integer sums, the k-means assignment against the documented fmaf chain (ties to the
 * lowest centre), the fused Lloyd chunk against the assignment and the documented sequential
 * inertia and sums (also split: labels with per-row errors on pieces, then one accumulation),
 * the distance-matrix rows against the documented float / double formula
 * (exactly symmetric, zero diagonal, close to float64), the same bits on every ISA, and the
 * bad input.
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

/* ---- fused Lloyd chunk: labels as tsr_kmeans_assign, inertia and sums in row order */

typedef struct chunk_case {
    int f64;
    int64_t m, d, ldx, ldxt, k;
    const float *x32, *xt32, *c32, *cn32;
    const double *x64, *xt64, *c64, *cn64;
} chunk_case;

/* out: m labels, the inertia, k·d sums, k counts (the bytes compared across ISAs) */
static void run_chunk(void *ctx, void *out) {
    const chunk_case *a = ctx;
    int64_t *lab = out;
    double *inertia = (double *)(lab + a->m), *sums = inertia + 1;
    int64_t *counts = (int64_t *)(sums + a->k * a->d);
    memset(sums, 0, (size_t)(a->k * a->d) * sizeof(double));
    memset(counts, 0, (size_t)a->k * sizeof(int64_t));
    if (a->f64)
        CHECK_OK(tsr_kmeans_chunk_f64(a->m, a->d, a->x64, a->ldx, a->xt64, a->ldxt, a->k, a->c64, a->cn64, lab, inertia,
                                      sums, counts));
    else
        CHECK_OK(tsr_kmeans_chunk_f32(a->m, a->d, a->x32, a->ldx, a->xt32, a->ldxt, a->k, a->c32, a->cn32, lab, inertia,
                                      sums, counts));
}

/* Random points (row-major and transposed) and centres, value = scale·u + shift in float and the
 * same value in double; centre 2 repeats centre 0 when `tie` (equal distances: the lower label
 * wins); the centre norms summed in order. Freed by chunk_case_free. */
static chunk_case chunk_case_make(int f64, int64_t m, int64_t d, int64_t ldx, int64_t ldxt, int64_t k, float scale,
                                  float shift, int tie, unsigned long long *s) {
    float *x32 = malloc((size_t)(m * ldx) * sizeof(float)), *xt32 = malloc((size_t)(d * ldxt) * sizeof(float));
    float *c32 = malloc((size_t)(k * d) * sizeof(float)), *cn32 = malloc((size_t)k * sizeof(float));
    double *x64 = malloc((size_t)(m * ldx) * sizeof(double)), *xt64 = malloc((size_t)(d * ldxt) * sizeof(double));
    double *c64 = malloc((size_t)(k * d) * sizeof(double)), *cn64 = malloc((size_t)k * sizeof(double));
    for (int64_t i = 0; i < m * ldx; i++) { x32[i] = scale * tsr_test_uniform(s) + shift; x64[i] = x32[i]; }
    for (int64_t i = 0; i < m; i++)
        for (int64_t t = 0; t < d; t++) { xt32[t * ldxt + i] = x32[i * ldx + t]; xt64[t * ldxt + i] = x64[i * ldx + t]; }
    for (int64_t i = 0; i < k * d; i++) { c32[i] = scale * tsr_test_uniform(s) + shift; c64[i] = c32[i]; }
    if (tie && k > 2) { memcpy(c32 + 2 * d, c32, (size_t)d * sizeof(float)); memcpy(c64 + 2 * d, c64, (size_t)d * sizeof(double)); }
    for (int64_t cc = 0; cc < k; cc++) {
        float a = 0;
        double b = 0;
        for (int64_t t = 0; t < d; t++) { a = a + c32[cc * d + t] * c32[cc * d + t]; b = b + c64[cc * d + t] * c64[cc * d + t]; }
        cn32[cc] = a; cn64[cc] = b;
    }
    return (chunk_case){f64, m, d, ldx, ldxt, k, x32, xt32, c32, cn32, x64, xt64, c64, cn64};
}

static void chunk_case_free(chunk_case *a) {
    free((void *)a->x32); free((void *)a->xt32); free((void *)a->c32); free((void *)a->cn32);
    free((void *)a->x64); free((void *)a->xt64); free((void *)a->c64); free((void *)a->cn64);
}

TSR_TEST(test_kmeans_chunk_matches_assign_and_sequential_sums_on_every_isa) {
    const int64_t ms[] = {1, 15, 16, 17, 100, 1000};
    const int64_t ds[] = {1, 3, 8, 20};
    const int64_t ks[] = {1, 3, 5, 8, 10, 16, 17, 32, 33, 100};
    unsigned long long s = 7;
    for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
        for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++)
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
                for (int f64 = 0; f64 <= 1; f64++) {
                    const int64_t m = ms[mi], d = ds[di], k = ks[ki], ldx = d + 1, ldxt = m + 5;
                    chunk_case a = chunk_case_make(f64, m, d, ldx, ldxt, k, 5, 0, 1, &s);
                    const float *x32 = a.x32, *c32 = a.c32, *cn32 = a.cn32;
                    const double *x64 = a.x64, *c64 = a.c64, *cn64 = a.cn64;
                    const size_t bytes = (size_t)m * 8 + 8 + (size_t)(k * d) * 8 + (size_t)k * 8;
                    unsigned char *out = malloc(bytes);
                    int64_t *want_lab = malloc((size_t)m * sizeof(int64_t));
                    double *want_sums = calloc((size_t)(k * d), sizeof(double));
                    int64_t *want_counts = calloc((size_t)k, sizeof(int64_t));
                    run_chunk(&a, out);
                    if (f64) CHECK_OK(tsr_kmeans_assign_f64(m, d, x64, ldx, k, c64, cn64, want_lab));
                    else CHECK_OK(tsr_kmeans_assign_f32(m, d, x32, ldx, k, c32, cn32, want_lab));
                    /* the documented sums: per row Σ_t (x − c)² in double, features then rows in order */
                    double want_inertia = 0;
                    for (int64_t i = 0; i < m; i++) {
                        const int64_t c = want_lab[i];
                        double e = 0;
                        for (int64_t t = 0; t < d; t++) {
                            const double xv = f64 ? x64[i * ldx + t] : x32[i * ldx + t];
                            const double cv = f64 ? c64[c * d + t] : c32[c * d + t];
                            const double v = xv - cv, vv = v * v;
                            e = e + vv;
                            want_sums[c * d + t] = want_sums[c * d + t] + xv;
                        }
                        want_inertia = want_inertia + e;
                        want_counts[c] += 1;
                    }
                    const int64_t *lab = (const int64_t *)out;
                    const double *inertia = (const double *)(lab + m);
                    CHECK_SAME_BITS(want_lab, lab, (size_t)m * sizeof(int64_t), "chunk labels m %lld d %lld k %lld f64 %d",
                                    (long long)m, (long long)d, (long long)k, f64);
                    CHECK_MSG(*inertia == want_inertia, "chunk inertia m %lld d %lld k %lld: %.17g vs %.17g", (long long)m,
                              (long long)d, (long long)k, *inertia, want_inertia);
                    CHECK_SAME_BITS(want_sums, inertia + 1, (size_t)(k * d) * sizeof(double), "chunk sums k %lld", (long long)k);
                    CHECK_SAME_BITS(want_counts, inertia + 1 + k * d, (size_t)k * sizeof(int64_t), "chunk counts k %lld", (long long)k);
                    tsr_test_each_isa_same_bits("kmeans chunk", bytes, run_chunk, &a);
                    chunk_case_free(&a);
                    free(out); free(want_lab); free(want_sums); free(want_counts);
                }
}

/* ---- the split chunk: labels with per-row errors on pieces, then one accumulation */

/* run_chunk's layout, from tsr_kmeans_label on the rows cut at m/3 and 2m/3 + 5 (pieces of any
 * length, as threads would take them) and tsr_kmeans_accumulate over the whole chunk */
static void run_split(void *ctx, void *out) {
    const chunk_case *a = ctx;
    int64_t *lab = out;
    double *inertia = (double *)(lab + a->m), *sums = inertia + 1;
    int64_t *counts = (int64_t *)(sums + a->k * a->d);
    double *err = malloc((size_t)a->m * sizeof(double));
    memset(sums, 0, (size_t)(a->k * a->d) * sizeof(double));
    memset(counts, 0, (size_t)a->k * sizeof(int64_t));
    int64_t cut[4] = {0, a->m / 3, 2 * a->m / 3 + 5, a->m};
    if (cut[2] > a->m) cut[2] = a->m;
    for (int p = 0; p < 3; p++) {
        const int64_t r0 = cut[p], r = cut[p + 1] - cut[p];
        if (a->f64)
            CHECK_OK(tsr_kmeans_label_f64(r, a->d, a->x64 + r0 * a->ldx, a->ldx, a->xt64 + r0, a->ldxt, a->k, a->c64,
                                          a->cn64, lab + r0, err + r0));
        else
            CHECK_OK(tsr_kmeans_label_f32(r, a->d, a->x32 + r0 * a->ldx, a->ldx, a->xt32 + r0, a->ldxt, a->k, a->c32,
                                          a->cn32, lab + r0, err + r0));
    }
    if (a->f64) CHECK_OK(tsr_kmeans_accumulate_f64(a->m, a->d, a->x64, a->ldx, a->k, lab, err, inertia, sums, counts));
    else CHECK_OK(tsr_kmeans_accumulate_f32(a->m, a->d, a->x32, a->ldx, a->k, lab, err, inertia, sums, counts));
    free(err);
}

TSR_TEST(test_kmeans_label_and_accumulate_give_the_chunk_bits_on_every_isa) {
    const int64_t ms[] = {1, 17, 100, 1000};
    const int64_t ds[] = {1, 8, 20};
    const int64_t ks[] = {1, 5, 16, 33, 100};
    unsigned long long s = 11;
    for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++)
        for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++)
            for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
                for (int f64 = 0; f64 <= 1; f64++) {
                    const int64_t m = ms[mi], d = ds[di], k = ks[ki], ldx = d + 3, ldxt = m + 2;
                    const size_t bytes = (size_t)m * 8 + 8 + (size_t)(k * d) * 8 + (size_t)k * 8;
                    unsigned char *want = malloc(bytes), *got = malloc(bytes);
                    chunk_case a = chunk_case_make(f64, m, d, ldx, ldxt, k, 4, -1, 0, &s);
                    run_chunk(&a, want);
                    run_split(&a, got);
                    CHECK_SAME_BITS(want, got, bytes, "split chunk m %lld d %lld k %lld f64 %d", (long long)m, (long long)d,
                                    (long long)k, f64);
                    tsr_test_each_isa_same_bits("kmeans split chunk", bytes, run_split, &a);
                    chunk_case_free(&a);
                    free(want); free(got);
                }
}

/* The sums and counts are added to what the caller left in them (the kernels add into an aligned
 * copy of the sums, copied in and back): chunk and accumulate, from non-zero starts, against the
 * documented row-order additions; d = 9 and 13 leave padding in the copy's rows. */
TSR_TEST(test_kmeans_sums_add_to_the_callers_values_on_every_isa) {
    const int64_t ds[] = {1, 8, 9, 13, 20};
    unsigned long long s = 23;
    for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++)
        for (int f64 = 0; f64 <= 1; f64++)
            TSR_FOR_EACH_ISA(isa) {
                const int64_t m = 77, d = ds[di], k = 6, ldx = d + 2, ldxt = m + 1;
                chunk_case a = chunk_case_make(f64, m, d, ldx, ldxt, k, 3, 1, 0, &s);
                int64_t *lab = malloc((size_t)m * sizeof(int64_t)), *counts = malloc((size_t)k * sizeof(int64_t));
                int64_t *want_counts = malloc((size_t)k * sizeof(int64_t));
                double *err = malloc((size_t)m * sizeof(double)), *sums = malloc((size_t)(k * d) * sizeof(double));
                double *want = malloc((size_t)(k * d) * sizeof(double)), inertia;
                for (int pass = 0; pass < 2; pass++) {
                    for (int64_t i = 0; i < k * d; i++) sums[i] = want[i] = 0.25 * (double)(i % 7) - 0.5;
                    for (int64_t c = 0; c < k; c++) counts[c] = want_counts[c] = 3 + c;
                    if (pass == 0 && f64)
                        CHECK_OK(tsr_kmeans_chunk_f64(m, d, a.x64, ldx, a.xt64, ldxt, k, a.c64, a.cn64, lab, &inertia, sums, counts));
                    else if (pass == 0)
                        CHECK_OK(tsr_kmeans_chunk_f32(m, d, a.x32, ldx, a.xt32, ldxt, k, a.c32, a.cn32, lab, &inertia, sums, counts));
                    else if (f64) {
                        CHECK_OK(tsr_kmeans_label_f64(m, d, a.x64, ldx, a.xt64, ldxt, k, a.c64, a.cn64, lab, err));
                        CHECK_OK(tsr_kmeans_accumulate_f64(m, d, a.x64, ldx, k, lab, err, &inertia, sums, counts));
                    } else {
                        CHECK_OK(tsr_kmeans_label_f32(m, d, a.x32, ldx, a.xt32, ldxt, k, a.c32, a.cn32, lab, err));
                        CHECK_OK(tsr_kmeans_accumulate_f32(m, d, a.x32, ldx, k, lab, err, &inertia, sums, counts));
                    }
                    for (int64_t i = 0; i < m; i++) {
                        for (int64_t t = 0; t < d; t++)
                            want[lab[i] * d + t] = want[lab[i] * d + t] + (f64 ? a.x64[i * ldx + t] : (double)a.x32[i * ldx + t]);
                        want_counts[lab[i]] += 1;
                    }
                    CHECK_SAME_BITS(want, sums, (size_t)(k * d) * sizeof(double), "sums from a start, %s d %lld f64 %d pass %d",
                                    tsr_isa_name(isa), (long long)d, f64, pass);
                    CHECK_SAME_BITS(want_counts, counts, (size_t)k * sizeof(int64_t), "counts from a start, d %lld", (long long)d);
                }
                chunk_case_free(&a);
                free(lab); free(counts); free(want_counts); free(err); free(sums); free(want);
            }
}

TSR_TEST(test_kmeans_label_and_accumulate_reject_bad_input) {
    float x[4] = {1, 2, 3, 4}, c[2] = {1, 2}, cn[1] = {5};
    int64_t lab[2] = {0, 0};
    double err[2] = {1, 2}, inertia = -1, sums[2] = {0, 0};
    int64_t counts[1] = {0};
    CHECK_STATUS(tsr_kmeans_label_f32(2, 2, x, 2, x, 1, 1, c, cn, lab, err), TSR_EINVAL);     /* ldxt < m */
    CHECK_STATUS(tsr_kmeans_label_f32(2, 2, x, 2, x, 2, 1, c, cn, lab, NULL), TSR_EINVAL);    /* no err */
    CHECK_STATUS(tsr_kmeans_label_f32(2, 2, x, 1, x, 2, 1, c, cn, lab, err), TSR_EINVAL);     /* ldx < d */
    CHECK(strstr(tsr_last_error(), "tsr_kmeans_label_f32") != NULL);
    CHECK_OK(tsr_kmeans_label_f64(0, 2, NULL, 2, NULL, 0, 1, NULL, NULL, NULL, NULL));
    CHECK_STATUS(tsr_kmeans_accumulate_f32(2, 2, x, 2, 1, lab, err, &inertia, sums, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_kmeans_accumulate_f32(2, 2, x, 2, 1, lab, err, NULL, NULL, NULL), TSR_EINVAL);
    lab[1] = 1;   /* outside 0..<k: refused, nothing written */
    CHECK_STATUS(tsr_kmeans_accumulate_f32(2, 2, x, 2, 1, lab, err, &inertia, sums, counts), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "labels[1]") != NULL);
    CHECK(inertia == -1 && sums[0] == 0 && counts[0] == 0);
    lab[1] = -3;
    CHECK_STATUS(tsr_kmeans_accumulate_f64(2, 2, NULL, 2, 1, lab, err, &inertia, NULL, NULL), TSR_EINVAL);
    lab[1] = 0;
    CHECK_OK(tsr_kmeans_accumulate_f64(2, 2, NULL, 2, 1, lab, err, &inertia, NULL, NULL));   /* inertia only */
    CHECK(inertia == 3);
    CHECK_OK(tsr_kmeans_accumulate_f32(2, 2, x, 2, 1, lab, err, &inertia, sums, counts));
    CHECK(inertia == 3 && sums[0] == 4 && sums[1] == 6 && counts[0] == 2);
}

/* ---- distance-matrix rows: the documented float formula, exactly symmetric */

typedef struct rows_case {
    int metric, f64;
    int64_t n, d, ldo;
    const float *x32, *xt32;
    const double *x64, *xt64;
} rows_case;

/* the whole matrix in two calls (rows 0..n/3 and n/3..n), into out (n × ldo) */
static void run_rows(void *ctx, void *out) {
    const rows_case *c = ctx;
    const int64_t cut = c->n / 3;
    if (c->f64) {
        double *o = out;
        CHECK_OK(tsr_distance_rows_f64(c->metric, c->n, c->d, c->xt64, c->n, c->x64, c->d, 0, cut, o, c->ldo));
        CHECK_OK(tsr_distance_rows_f64(c->metric, c->n, c->d, c->xt64, c->n, c->x64, c->d, cut, c->n, o + cut * c->ldo, c->ldo));
    } else {
        float *o = out;
        CHECK_OK(tsr_distance_rows_f32(c->metric, c->n, c->d, c->xt32, c->n, c->x32, c->d, 0, cut, o, c->ldo));
        CHECK_OK(tsr_distance_rows_f32(c->metric, c->n, c->d, c->xt32, c->n, c->x32, c->d, cut, c->n, o + cut * c->ldo, c->ldo));
    }
}

TSR_TEST(test_distance_rows_match_formula_symmetric_on_every_isa) {
    const int64_t ns[] = {1, 5, 63, 64, 65, 257, 300};
    const int64_t ds[] = {1, 3, 8, 20};
    unsigned long long s = 11;
    for (int metric = TSR_DISTANCE_EUCLIDEAN; metric <= TSR_DISTANCE_MANHATTAN; metric++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++)
                for (int f64 = 0; f64 <= 1; f64++) {
                    const int64_t n = ns[ni], d = ds[di], ldo = n + 3;   /* rows start off every alignment */
                    float *x32 = malloc((size_t)(n * d) * sizeof(float)), *xt32 = malloc((size_t)(n * d) * sizeof(float));
                    double *x64 = malloc((size_t)(n * d) * sizeof(double)), *xt64 = malloc((size_t)(n * d) * sizeof(double));
                    const size_t es = f64 ? sizeof(double) : sizeof(float), bytes = (size_t)(n * ldo) * es;
                    unsigned char *out = calloc(1, bytes);
                    for (int64_t i = 0; i < n * d; i++) { x32[i] = 4 * tsr_test_uniform(&s) - 1; x64[i] = x32[i]; }
                    for (int64_t i = 0; i < n; i++)
                        for (int64_t t = 0; t < d; t++) { xt32[t * n + i] = x32[i * d + t]; xt64[t * n + i] = x64[i * d + t]; }
                    rows_case c = {metric, f64, n, d, ldo, x32, xt32, x64, xt64};
                    run_rows(&c, out);
                    double worst = 0;
                    for (int64_t i = 0; i < n; i++)
                        for (int64_t j = 0; j < n; j++) {
                            double got, want, ref;
                            if (f64) {
                                double acc = 0;
                                for (int64_t t = 0; t < d; t++) {
                                    const double v = x64[j * d + t] - x64[i * d + t];
                                    acc = metric == TSR_DISTANCE_MANHATTAN ? acc + fabs(v) : fma(v, v, acc);
                                }
                                want = metric == TSR_DISTANCE_EUCLIDEAN ? sqrt(acc) : acc;
                                got = ((const double *)out)[i * ldo + j];
                                CHECK(got == ((const double *)out)[j * ldo + i]);
                            } else {
                                float acc = 0;
                                for (int64_t t = 0; t < d; t++) {
                                    const float v = x32[j * d + t] - x32[i * d + t];
                                    acc = metric == TSR_DISTANCE_MANHATTAN ? acc + fabsf(v) : fmaf(v, v, acc);
                                }
                                want = metric == TSR_DISTANCE_EUCLIDEAN ? sqrtf(acc) : acc;
                                got = ((const float *)out)[i * ldo + j];
                                CHECK(got == ((const float *)out)[j * ldo + i]);
                            }
                            if (got != want) {
                                CHECK_MSG(got == want, "rows metric %d f64 %d n %lld d %lld (%lld, %lld): %.9g vs %.9g", metric, f64,
                                          (long long)n, (long long)d, (long long)i, (long long)j, got, want);
                                i = n; break;
                            }
                            if (i == j) CHECK(got == 0);
                            ref = ref_dist(metric, x64 + i * d, x64 + j * d, d);
                            worst = fmax(worst, fabs(got - ref) / fmax(1, ref));
                        }
                    CHECK_MSG(worst < (f64 ? 1e-14 : 1e-5), "rows metric %d f64 %d: relative error %.3g vs float64", metric, f64, worst);
                    tsr_test_each_isa_same_bits("distance rows", bytes, run_rows, &c);
                    free(x32); free(xt32); free(x64); free(xt64); free(out);
                }
}

/* ---- symmetric row blocks: the bits of the whole rows, each entry written once */

/* the whole matrix by symmetric blocks of uneven sizes: 16-row blocks, one of 7 (so later blocks
 * start off the 16-row grid), then blocks of 33 */
static void run_sym(void *ctx, void *out) {
    const rows_case *c = ctx;
    int64_t i0 = 0, k = 0;
    while (i0 < c->n) {
        const int64_t step = k < 2 ? 16 : k == 2 ? 7 : 33;
        const int64_t i1 = i0 + step < c->n ? i0 + step : c->n;
        if (c->f64) CHECK_OK(tsr_distance_symmetric_f64(c->metric, c->n, c->d, c->xt64, c->n, c->x64, c->d, i0, i1, out, c->ldo));
        else CHECK_OK(tsr_distance_symmetric_f32(c->metric, c->n, c->d, c->xt32, c->n, c->x32, c->d, i0, i1, out, c->ldo));
        i0 = i1;
        k++;
    }
}

TSR_TEST(test_distance_symmetric_equals_rows_on_every_isa) {
    const int64_t ns[] = {1, 5, 16, 17, 40, 64, 200, 257, 300};
    const int64_t ds[] = {1, 3, 20};
    unsigned long long s = 23;
    for (int metric = TSR_DISTANCE_EUCLIDEAN; metric <= TSR_DISTANCE_MANHATTAN; metric++)
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
            for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++)
                for (int f64 = 0; f64 <= 1; f64++)
                    for (int pad = 0; pad <= 3; pad += 3) {   /* ldo = n: 64-byte aligned rows when n % 16 == 0 */
                        const int64_t n = ns[ni], d = ds[di], ldo = n + pad;
                        float *x32 = malloc((size_t)(n * d) * sizeof(float)), *xt32 = malloc((size_t)(n * d) * sizeof(float));
                        double *x64 = malloc((size_t)(n * d) * sizeof(double)), *xt64 = malloc((size_t)(n * d) * sizeof(double));
                        const size_t es = f64 ? sizeof(double) : sizeof(float);
                        const size_t bytes = ((size_t)(n * ldo) * es + 63) / 64 * 64;
                        unsigned char *want = aligned_alloc(64, bytes), *got = aligned_alloc(64, bytes);
                        memset(want, 0, bytes);
                        memset(got, 0xff, bytes);   /* NaN: an entry never written shows */
                        for (int64_t i = 0; i < n * d; i++) { x32[i] = 4 * tsr_test_uniform(&s) - 1; x64[i] = x32[i]; }
                        for (int64_t i = 0; i < n; i++)
                            for (int64_t t = 0; t < d; t++) { xt32[t * n + i] = x32[i * d + t]; xt64[t * n + i] = x64[i * d + t]; }
                        rows_case c = {metric, f64, n, d, ldo, x32, xt32, x64, xt64};
                        run_rows(&c, want);
                        run_sym(&c, got);
                        for (int64_t i = 0; i < n; i++)
                            if (memcmp(want + (size_t)(i * ldo) * es, got + (size_t)(i * ldo) * es, (size_t)n * es)) {
                                CHECK_MSG(0, "symmetric metric %d f64 %d n %lld d %lld ldo %lld: row %lld differs from the rows kernel",
                                          metric, f64, (long long)n, (long long)d, (long long)ldo, (long long)i);
                                break;
                            }
                        for (int64_t i = 0; i < n && pad; i++)   /* nothing written past column n */
                            for (size_t b = (size_t)n * es; b < (size_t)ldo * es; b++)
                                if (got[(size_t)(i * ldo) * es + b] != 0xff) {
                                    CHECK_MSG(0, "symmetric f64 %d n %lld: row %lld written past its end", f64, (long long)n, (long long)i);
                                    i = n;
                                    break;
                                }
                        tsr_test_each_isa_same_bits("distance symmetric", (size_t)(n * ldo) * es, run_sym, &c);
                        free(x32); free(xt32); free(x64); free(xt64); free(want); free(got);
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
    double inertia = 1, sums[2];
    int64_t counts[1];
    CHECK_STATUS(tsr_kmeans_chunk_f32(2, 2, x, 2, x, 1, 1, x, x, lab, &inertia, NULL, NULL), TSR_EINVAL);   /* ldxt < m */
    CHECK_STATUS(tsr_kmeans_chunk_f32(2, 2, x, 2, x, 2, 1, x, x, lab, &inertia, sums, NULL), TSR_EINVAL);   /* sums alone */
    CHECK_STATUS(tsr_kmeans_chunk_f32(2, 2, x, 2, x, 2, 1, x, x, lab, NULL, NULL, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_kmeans_chunk_f64(2, 2, out, 2, NULL, 2, 1, out, out, lab, &inertia, NULL, NULL), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "tsr_kmeans_chunk_f64") != NULL);
    CHECK_OK(tsr_kmeans_chunk_f32(0, 2, NULL, 2, NULL, 0, 1, NULL, NULL, NULL, &inertia, sums, counts));
    CHECK(inertia == 0);
    float o[4];
    CHECK_STATUS(tsr_distance_rows_f32(TSR_DISTANCE_COSINE, 2, 2, x, 2, x, 2, 0, 2, o, 2), TSR_EINVAL);
    CHECK_STATUS(tsr_distance_rows_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, x, 1, x, 2, 0, 2, o, 2), TSR_EINVAL);  /* ldxt */
    CHECK_STATUS(tsr_distance_rows_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, x, 2, x, 1, 0, 2, o, 2), TSR_EINVAL);  /* ldx */
    CHECK_STATUS(tsr_distance_rows_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, x, 2, x, 2, 0, 2, o, 1), TSR_EINVAL);  /* ldo */
    CHECK_STATUS(tsr_distance_rows_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, x, 2, x, 2, 1, 3, o, 2), TSR_EINVAL);  /* rows */
    CHECK_STATUS(tsr_distance_rows_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, x, 2, x, 2, 2, 1, o, 2), TSR_EINVAL);
    CHECK_STATUS(tsr_distance_rows_f64(TSR_DISTANCE_MANHATTAN, 2, 2, NULL, 2, NULL, 2, 0, 1, out, 2), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "tsr_distance_rows_f64") != NULL);
    CHECK_OK(tsr_distance_rows_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, NULL, 2, NULL, 2, 1, 1, NULL, 2));
    CHECK_STATUS(tsr_distance_symmetric_f32(TSR_DISTANCE_COSINE, 2, 2, x, 2, x, 2, 0, 2, o, 2), TSR_EINVAL);
    CHECK_STATUS(tsr_distance_symmetric_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, x, 2, x, 2, 0, 2, o, 1), TSR_EINVAL);  /* ldo */
    CHECK_STATUS(tsr_distance_symmetric_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, x, 2, x, 2, 1, 3, o, 2), TSR_EINVAL);  /* rows */
    CHECK_STATUS(tsr_distance_symmetric_f64(TSR_DISTANCE_SQEUCLIDEAN, 2, 2, NULL, 2, NULL, 2, 0, 1, out, 2), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "tsr_distance_symmetric_f64") != NULL);
    CHECK_OK(tsr_distance_symmetric_f32(TSR_DISTANCE_EUCLIDEAN, 2, 2, NULL, 2, NULL, 2, 1, 1, NULL, 2));
}

int main(void) {
    RUN(test_column_matches_pairwise_reference_on_every_isa);
    RUN(test_column_cosine_zero_row_is_zero);
    RUN(test_pam_deltas_match_sequential_sum_on_every_isa);
    RUN(test_kmeans_assign_matches_fma_reference_on_every_isa);
    RUN(test_kmeans_chunk_matches_assign_and_sequential_sums_on_every_isa);
    RUN(test_kmeans_label_and_accumulate_give_the_chunk_bits_on_every_isa);
    RUN(test_kmeans_sums_add_to_the_callers_values_on_every_isa);
    RUN(test_kmeans_label_and_accumulate_reject_bad_input);
    RUN(test_distance_rows_match_formula_symmetric_on_every_isa);
    RUN(test_distance_symmetric_equals_rows_on_every_isa);
    RUN(test_bad_input_is_refused);
    return tsr_test_summary();
}
