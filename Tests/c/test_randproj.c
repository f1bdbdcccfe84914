/*
 * test_randproj.c — random projections: entry statistics for every s,
 * Johnson–Lindenstrauss distortion over many seeds, transforms against a
 * float64 reference built from tsr_rp_entry, CSR = dense bit for bit, the packed
 * slots of a very sparse R = the lazy path bit for bit, no
 * densification, determinism over pools of 1, 2, 3 threads and every ISA,
 * and the bad-input cases.
 */
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "tsr_test.h"

static tsr_pool_t *pools[3];

static void make_pools(void) {
    for (int i = 0; i < 3; i++) pools[i] = tsr_test_pool(i + 1);
}

static tsr_rp_t *make(int64_t D, int32_t d, tsr_rp_kind kind, double s, uint64_t seed) {
    tsr_rp_params p;
    tsr_rp_params_default(&p);
    p.kind = kind;
    p.s = s;
    p.seed = seed;
    tsr_rp_t *rp = NULL;
    if (tsr_rp_create(D, d, &p, &rp) != TSR_OK) printf("  create failed: %s\n", tsr_last_error());
    return rp;
}

static void fill(float *x, size_t n, unsigned long long seed) {
    unsigned long long s = seed;
    for (size_t i = 0; i < n; i++) x[i] = tsr_test_uniform(&s);
}

TSR_TEST(test_bad_create) {
    tsr_rp_t *rp = NULL;
    tsr_rp_params p;
    tsr_rp_params_default(&p);
    CHECK_STATUS(tsr_rp_create(10, 4, NULL, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_create(0, 4, NULL, &rp), TSR_EINVAL);
    CHECK(rp == NULL);
    CHECK_STATUS(tsr_rp_create(-5, 4, NULL, &rp), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_create(10, 0, NULL, &rp), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_create(10, -1, NULL, &rp), TSR_EINVAL);
    p.s = 0.5;
    CHECK_STATUS(tsr_rp_create(10, 4, &p, &rp), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "s must be") != NULL);
    p.s = NAN;
    CHECK_STATUS(tsr_rp_create(10, 4, &p, &rp), TSR_EINVAL);
    p.s = INFINITY;
    CHECK_STATUS(tsr_rp_create(10, 4, &p, &rp), TSR_EINVAL);
    p.s = -3;
    CHECK_STATUS(tsr_rp_create(10, 4, &p, &rp), TSR_EINVAL);
    tsr_rp_params_default(&p);
    p.kind = (tsr_rp_kind)7;
    CHECK_STATUS(tsr_rp_create(10, 4, &p, &rp), TSR_EINVAL);
    tsr_rp_params_default(&p);
    p.size = 4;
    CHECK_STATUS(tsr_rp_create(10, 4, &p, &rp), TSR_EINVAL);
    tsr_rp_destroy(NULL);
    /* a Gaussian plan ignores s */
    tsr_rp_params_default(&p);
    p.kind = TSR_RP_GAUSSIAN;
    p.s = 0.1;
    CHECK_OK(tsr_rp_create(10, 4, &p, &rp));
    tsr_rp_destroy(rp);
}

TSR_TEST(test_describe_and_entry_errors) {
    tsr_rp_t *rp = make(10000, 256, TSR_RP_SPARSE, TSR_RP_S_AUTO, 1);
    tsr_rp_info info = {.size = sizeof info};
    CHECK_OK(tsr_rp_info_get(rp, &info));
    CHECK_NEAR(info.s, 100.0, 1e-12);
    CHECK_NEAR(info.scale, sqrt(100.0 / 256), 1e-12);
    CHECK(info.materialized == 0 && info.nnz == 0);
    tsr_rp_info small = {.size = 3};
    CHECK_STATUS(tsr_rp_info_get(rp, &small), TSR_EINVAL);
    double v;
    CHECK_STATUS(tsr_rp_entry(rp, 10000, 0, &v), TSR_ERANGE);
    CHECK_STATUS(tsr_rp_entry(rp, -1, 0, &v), TSR_ERANGE);
    CHECK_STATUS(tsr_rp_entry(rp, 0, 256, &v), TSR_ERANGE);
    CHECK_STATUS(tsr_rp_entry(rp, 0, 0, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_csr(rp, NULL, NULL, NULL, NULL, NULL), TSR_ESTATE);
    tsr_rp_destroy(rp);
}

/* Entries: values exactly {0, ±sqrt(s/d)}, P(nonzero) = 1/s, signs balanced,
 * E r = 0, E r² = 1/d, no correlation between neighbours in k or in j. */
TSR_TEST(test_sparse_entry_statistics) {
    const int64_t D = tsr_test_quick() ? 600 : 2000;
    const int32_t d = 200;
    const double ss[] = {1.0, 3.0, 0.0 /* sqrt(D) */, 7.5, 150.0};
    for (size_t si = 0; si < sizeof ss / sizeof ss[0]; si++) {
        tsr_rp_t *rp = make(D, d, TSR_RP_SPARSE, ss[si], 1234 + si);
        double s = ss[si] == 0 ? sqrt((double)D) : ss[si];
        double a = sqrt(s / d);
        double n = (double)D * d, nz = 0, pos = 0, sum = 0, sum2 = 0, cross_k = 0, cross_j = 0;
        int bad_value = 0;
        double prev_row_first = 0;
        for (int64_t j = 0; j < D; j++) {
            double prev = 0, first = 0;
            for (int32_t k = 0; k < d; k++) {
                double v;
                tsr_rp_entry(rp, j, k, &v);
                if (v != 0 && fabs(fabs(v) - a) > 1e-15) bad_value = 1;
                if (v != 0) nz++;
                if (v > 0) pos++;
                sum += v;
                sum2 += v * v;
                if (k > 0) cross_k += v * prev;
                if (k == 0) first = v;
                prev = v;
            }
            if (j > 0) cross_j += first * prev_row_first;
            prev_row_first = first;
        }
        CHECK(!bad_value);
        double p = 1.0 / s;
        double sd = sqrt(n * p * (1 - p));
        CHECK_MSG(fabs(nz - n * p) <= 5 * sd + 1, "s=%g nz=%g expected %g±%g", s, nz, n * p, sd);
        /* signs: binomial(nz, 1/2) */
        CHECK_MSG(fabs(pos - nz / 2) <= 5 * sqrt(nz / 4) + 1, "s=%g pos=%g of %g", s, pos, nz);
        /* mean of entries: var(r) = 1/d, so sum has sd sqrt(n/d) */
        CHECK_MSG(fabs(sum) <= 5 * sqrt(n / d), "s=%g sum=%g", s, sum);
        /* E r² = 1/d; var(r²) = a⁴ p (1 - p) */
        double m2 = sum2 / n, sd2 = sqrt(a * a * a * a * p * (1 - p) / n);
        CHECK_MSG(fabs(m2 - 1.0 / d) <= 5 * sd2 + 1e-12, "s=%g E r^2=%g expected %g±%g", s, m2, 1.0 / d, sd2);
        /* neighbour products: mean 0, sd (1/d)/sqrt(count) */
        CHECK_MSG(fabs(cross_k) / (D * (d - 1)) <= 5 * (1.0 / d) / sqrt((double)D * (d - 1)), "s=%g cross_k=%g", s,
                  cross_k);
        CHECK_MSG(fabs(cross_j) / (D - 1) <= 6 * (1.0 / d) / sqrt((double)D - 1), "s=%g cross_j=%g", s, cross_j);
        tsr_rp_destroy(rp);
    }
}

TSR_TEST(test_gaussian_entry_statistics) {
    const int64_t D = tsr_test_quick() ? 500 : 2000;
    const int32_t d = 128;
    tsr_rp_t *rp = make(D, d, TSR_RP_GAUSSIAN, 0, 99);
    double n = (double)D * d, sum = 0, sum2 = 0, sum4 = 0, within1 = 0;
    for (int64_t j = 0; j < D; j++)
        for (int32_t k = 0; k < d; k++) {
            double v;
            tsr_rp_entry(rp, j, k, &v);
            double z = v * sqrt((double)d);
            sum += z;
            sum2 += z * z;
            sum4 += z * z * z * z;
            within1 += fabs(z) < 1;
        }
    CHECK_NEAR(sum / n, 0.0, 5 / sqrt(n));
    CHECK_NEAR(sum2 / n, 1.0, 5 * sqrt(2.0 / n));
    CHECK_NEAR(sum4 / n, 3.0, 5 * sqrt(96.0 / n));
    CHECK_NEAR(within1 / n, 0.682689492, 5 * sqrt(0.2166 / n));
    tsr_rp_destroy(rp);
}

TSR_TEST(test_seeds_differ) {
    tsr_rp_t *a = make(1000, 64, TSR_RP_SPARSE, 3, 1), *b = make(1000, 64, TSR_RP_SPARSE, 3, 2);
    tsr_rp_t *a2 = make(1000, 64, TSR_RP_SPARSE, 3, 1);
    int same = 0, total = 0, identical = 1;
    for (int64_t j = 0; j < 1000; j++)
        for (int32_t k = 0; k < 64; k++) {
            double va, vb, va2;
            tsr_rp_entry(a, j, k, &va);
            tsr_rp_entry(b, j, k, &vb);
            tsr_rp_entry(a2, j, k, &va2);
            same += va == vb;
            total++;
            identical &= va == va2;
        }
    CHECK(identical);
    /* P(equal) for s = 3: (2/3)² + 2 (1/6)² = 0.5 */
    CHECK_NEAR((double)same / total, 0.5, 0.02);
    tsr_rp_destroy(a);
    tsr_rp_destroy(b);
    tsr_rp_destroy(a2);
}

/* Johnson–Lindenstrauss: squared-distance ratios ||R(xa - xb)||² / ||xa - xb||²
 * average 1 over many seeds, and with ε from d = 4 ln n / (ε²/2 − ε³/3) the
 * lemma's per-pair tail bound P(|ratio − 1| > ε) <= 2/n² holds for the
 * fraction of pairs (over all seeds) that exceed ε. */
TSR_TEST(test_johnson_lindenstrauss) {
    const int npts = 40, D = tsr_test_quick() ? 800 : 3000, d = 256;
    const int seeds = tsr_test_quick() ? 8 : 40;
    float *x = malloc(sizeof(float) * npts * D), *y = malloc(sizeof(float) * npts * d);
    fill(x, (size_t)npts * D, 77);
    double *dist = malloc(sizeof(double) * npts * npts);
    for (int a = 0; a < npts; a++)
        for (int b = a + 1; b < npts; b++) {
            double dx = 0;
            for (int j = 0; j < D; j++) {
                double t = (double)x[a * D + j] - x[b * D + j];
                dx += t * t;
            }
            dist[a * npts + b] = dx;
        }
    /* epsilon from the JL bound for npts points and d dimensions */
    double eps = 0.05;
    while (eps < 1 && 4 * log((double)npts) / (eps * eps / 2 - eps * eps * eps / 3) > d) eps += 0.001;
    const tsr_rp_kind kinds[] = {TSR_RP_SPARSE, TSR_RP_SPARSE, TSR_RP_SPARSE, TSR_RP_GAUSSIAN};
    const double ss[] = {1, 3, 0, 0};
    for (int ki = 0; ki < 4; ki++) {
        double ratio_sum = 0, ratio_sq = 0, worst = 0;
        long count = 0, beyond = 0;
        for (int sd = 0; sd < seeds; sd++) {
            tsr_rp_t *rp = make(D, d, kinds[ki], ss[ki], 1000 + sd);
            CHECK_OK(tsr_rp_transform_f32(NULL, rp, npts, x, D, y, d));
            for (int a = 0; a < npts; a++)
                for (int b = a + 1; b < npts; b++) {
                    double dx = dist[a * npts + b], dy = 0;
                    for (int k = 0; k < d; k++) {
                        double t = (double)y[a * d + k] - y[b * d + k];
                        dy += t * t;
                    }
                    double r = dy / dx;
                    ratio_sum += r;
                    ratio_sq += (r - 1) * (r - 1);
                    if (fabs(r - 1) > worst) worst = fabs(r - 1);
                    beyond += fabs(r - 1) > eps;
                    count++;
                }
            tsr_rp_destroy(rp);
        }
        double mean = ratio_sum / count;
        /* pairs within one seed are correlated: use the per-seed count for the error bar */
        double sdr = sqrt(ratio_sq / count);
        CHECK_MSG(fabs(mean - 1) <= 4 * sdr / sqrt((double)seeds), "kind %d mean ratio %g (sd %g)", ki, mean, sdr);
        /* variance of the ratio ≈ 2/d (+ a kurtosis term for sparse R) */
        CHECK_MSG(sdr <= 1.3 * sqrt(2.0 / d), "kind %d sd %g vs %g", ki, sdr, sqrt(2.0 / d));
        CHECK_MSG(beyond <= 2.0 / ((double)npts * npts) * count, "kind %d: %ld of %ld pairs beyond JL eps %g (worst %g)",
                  ki, beyond, count, eps, worst);
    }
    free(x);
    free(y);
    free(dist);
}

/* Dense f32/f64 transforms against Y = X·R in float64 from tsr_rp_entry. */
static void check_against_reference(tsr_rp_kind kind, double s, int64_t n, int64_t D, int32_t d, int materialize) {
    tsr_rp_t *rp = make(D, d, kind, s, 5);
    if (materialize) CHECK_OK(tsr_rp_materialize(NULL, rp));
    int64_t ldx = D + 3, ldy = d + 5;
    float *x = malloc(sizeof(float) * n * ldx);
    double *x64 = malloc(sizeof(double) * n * ldx);
    float *y = malloc(sizeof(float) * n * ldy);
    double *y64 = malloc(sizeof(double) * n * ldy);
    double *R = malloc(sizeof(double) * D * d);
    fill(x, (size_t)(n * ldx), 3);
    for (int64_t i = 0; i < n * ldx; i++) x64[i] = x[i];
    for (int64_t i = 0; i < n * ldy; i++) { y[i] = -7.0f; y64[i] = -7.0; }
    for (int64_t j = 0; j < D; j++)
        for (int32_t k = 0; k < d; k++) tsr_rp_entry(rp, j, k, &R[j * d + k]);
    CHECK_OK(tsr_rp_transform_f32(NULL, rp, n, x, ldx, y, ldy));
    CHECK_OK(tsr_rp_transform_f64(NULL, rp, n, x64, ldx, y64, ldy));
    double err32 = 0, err64 = 0;
    int pad_ok = 1;
    for (int64_t i = 0; i < n; i++) {
        for (int32_t k = 0; k < d; k++) {
            double ref = 0, mag = 0;
            for (int64_t j = 0; j < D; j++) {
                ref += x64[i * ldx + j] * R[j * d + k];
                mag += fabs(x64[i * ldx + j] * R[j * d + k]);
            }
            double e32 = fabs(y[i * ldy + k] - ref) / (mag + 1e-30);
            double e64 = fabs(y64[i * ldy + k] - ref) / (mag + 1e-30);
            if (e32 > err32) err32 = e32;
            if (e64 > err64) err64 = e64;
        }
        for (int64_t k = d; k < ldy; k++) pad_ok &= y[i * ldy + k] == -7.0f && y64[i * ldy + k] == -7.0;
    }
    CHECK_MSG(err32 <= 2e-6 * sqrt((double)D), "kind %d s %g f32 rel err %g", kind, s, err32);
    CHECK_MSG(err64 <= 1e-14 * sqrt((double)D), "kind %d s %g f64 rel err %g", kind, s, err64);
    CHECK(pad_ok);
    free(x); free(x64); free(y); free(y64); free(R);
    tsr_rp_destroy(rp);
}

TSR_TEST(test_dense_against_reference) {
    check_against_reference(TSR_RP_SPARSE, 0, 37, 500, 48, 0);
    check_against_reference(TSR_RP_SPARSE, 1, 21, 300, 33, 1);
    check_against_reference(TSR_RP_SPARSE, 3, 16, 257, 17, 0);
    check_against_reference(TSR_RP_GAUSSIAN, 0, 35, 300, 40, 0);
    check_against_reference(TSR_RP_GAUSSIAN, 0, 5, 600, 7, 1);
    /* D spanning several cache blocks of the dense kernel */
    if (!tsr_test_quick()) check_against_reference(TSR_RP_SPARSE, 0, 17, 9000, 24, 1);
}

/* Builds a CSR copy of dense x (sorted columns, zeros dropped). */
static void to_csr(const float *x, int64_t n, int64_t D, int64_t *indptr, int64_t *idx, float *val, double *val64) {
    int64_t p = 0;
    indptr[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < D; j++)
            if (x[i * D + j] != 0) { idx[p] = j; val[p] = x[i * D + j]; val64[p] = val[p]; p++; }
        indptr[i + 1] = p;
    }
}

TSR_TEST(test_csr_equals_dense) {
    const int64_t n = 50, D = 700;
    const int32_t d = 40;
    float *x = calloc((size_t)(n * D), sizeof(float));
    unsigned long long s = 11;
    for (int64_t i = 0; i < n * D; i++)
        if ((tsr_test_rng_next(&s) & 7) == 0) x[i] = tsr_test_uniform(&s);
    int64_t *indptr = malloc(sizeof(int64_t) * (n + 1)), *idx = malloc(sizeof(int64_t) * n * D);
    float *val = malloc(sizeof(float) * n * D);
    double *val64 = malloc(sizeof(double) * n * D), *x64 = malloc(sizeof(double) * n * D);
    for (int64_t i = 0; i < n * D; i++) x64[i] = x[i];
    to_csr(x, n, D, indptr, idx, val, val64);
    const tsr_rp_kind kinds[] = {TSR_RP_SPARSE, TSR_RP_SPARSE, TSR_RP_GAUSSIAN};
    const double ss[] = {0, 3, 0};
    for (int ki = 0; ki < 3; ki++)
        for (int mat = 0; mat < 2; mat++) {
            tsr_rp_t *rp = make(D, d, kinds[ki], ss[ki], 8);
            if (mat) CHECK_OK(tsr_rp_materialize(NULL, rp));
            float *yd = malloc(sizeof(float) * n * d), *yc = malloc(sizeof(float) * n * d);
            double *yd64 = malloc(sizeof(double) * n * d), *yc64 = malloc(sizeof(double) * n * d);
            CHECK_OK(tsr_rp_transform_f32(NULL, rp, n, x, D, yd, d));
            CHECK_OK(tsr_rp_transform_csr_f32(NULL, rp, n, indptr, idx, val, yc, d));
            CHECK_OK(tsr_rp_transform_f64(NULL, rp, n, x64, D, yd64, d));
            CHECK_OK(tsr_rp_transform_csr_f64(NULL, rp, n, indptr, idx, val64, yc64, d));
            int same = 1, same64 = 1;
            for (int64_t i = 0; i < n * d; i++) { same &= yd[i] == yc[i]; same64 &= yd64[i] == yc64[i]; }
            CHECK_MSG(same && same64, "kind %d materialized %d: CSR and dense differ", ki, mat);
            /* a few rows only (a slice with indptr[0] > 0) */
            float *ys = malloc(sizeof(float) * 5 * d);
            CHECK_OK(tsr_rp_transform_csr_f32(NULL, rp, 5, indptr + 10, idx, val, ys, d));
            CHECK(memcmp(ys, yd + 10 * d, sizeof(float) * 5 * d) == 0);
            free(ys);
            free(yd); free(yc); free(yd64); free(yc64);
            tsr_rp_destroy(rp);
        }
    free(x); free(indptr); free(idx); free(val); free(val64); free(x64);
}

/* A CSR input with D = 2^40 columns: never densified, never materialised. */
TSR_TEST(test_csr_huge_dimension) {
    const int64_t D = (int64_t)1 << 40;
    const int32_t d = 64;
    tsr_rp_t *rp = make(D, d, TSR_RP_SPARSE, 0, 3);  /* s = 2^20 */
    tsr_rp_params p;
    tsr_rp_params_default(&p);
    p.s = 3;
    tsr_rp_t *rp3 = NULL;
    CHECK_OK(tsr_rp_create(D, d, &p, &rp3));
    int64_t indptr[3] = {0, 3, 5};
    int64_t idx[5] = {5, (int64_t)1 << 39, D - 1, 17, 123456789012LL};
    float val[5] = {1.0f, -2.0f, 0.5f, 3.0f, 1.5f};
    float y[2 * 64];
    CHECK_OK(tsr_rp_transform_csr_f32(NULL, rp3, 2, indptr, idx, val, y, d));
    double maxerr = 0;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < d; k++) {
            double ref = 0;
            for (int64_t q = indptr[i]; q < indptr[i + 1]; q++) {
                double r;
                tsr_rp_entry(rp3, idx[q], k, &r);
                ref += val[q] * r;
            }
            if (fabs(ref - y[i * d + k]) > maxerr) maxerr = fabs(ref - y[i * d + k]);
        }
    CHECK(maxerr < 1e-5);
    CHECK_STATUS(tsr_rp_materialize(NULL, rp), TSR_ERANGE);
    /* dense input would need D floats per row */
    float xd[4] = {0};
    CHECK_STATUS(tsr_rp_transform_f32(NULL, rp, 1, xd, 4, y, d), TSR_EINVAL);
    tsr_rp_destroy(rp);
    tsr_rp_destroy(rp3);
}

TSR_TEST(test_materialized_csr_view) {
    tsr_rp_t *rp = make(300, 50, TSR_RP_SPARSE, 4, 21);
    CHECK_OK(tsr_rp_materialize(NULL, rp));
    CHECK_OK(tsr_rp_materialize(NULL, rp)); /* idempotent */
    const int64_t *ip; const int32_t *ix; const float *v32; const double *v64; int64_t nnz;
    CHECK_OK(tsr_rp_csr(rp, &ip, &ix, &v32, &v64, &nnz));
    int ok = 1;
    int64_t count = 0;
    for (int64_t j = 0; j < 300; j++) {
        int64_t e = ip[j];
        for (int32_t k = 0; k < 50; k++) {
            double v;
            tsr_rp_entry(rp, j, k, &v);
            if (v != 0) {
                ok &= e < ip[j + 1] && ix[e] == k && v64[e] == v && v32[e] == (float)v;
                e++;
                count++;
            }
        }
        ok &= e == ip[j + 1];
    }
    CHECK(ok);
    CHECK(count == nnz);
    tsr_rp_info info = {.size = sizeof info};
    tsr_rp_info_get(rp, &info);
    CHECK(info.materialized == 1 && info.nnz == nnz && info.bytes > nnz * 8);
    tsr_rp_destroy(rp);
}

/* 32-bit copies of a CSR's indptr (n + 1 entries) and indices (nnz entries). */
static void to_csr32(const int64_t *indptr, const int64_t *idx, int64_t n, int32_t *ip32, int32_t *ix32) {
    for (int64_t i = 0; i <= n; i++) ip32[i] = (int32_t)indptr[i];
    for (int64_t p = 0; p < indptr[n]; p++) ix32[p] = (int32_t)idx[p];
}

/* The packed slots of a very sparse R in memory (rows of R with 0..4 and more than 4 entries)
 * against the lazy path, which generates each row of R per stored entry: the same bits for f32 and
 * f64, 32- and 64-bit indices, with -0, ±inf, NaN and a repeated column among the values; and
 * against a float64 reference from tsr_rp_entry on the finite rows. At s = 32, d = 64 (two
 * entries per row of R expected) every slot adds its four codes; at s = 64 (one expected) codes
 * 2 and 3 are added only for rows with a third entry. */
static void csr_slots_equal_lazy(double s_param) {
    const int64_t n = 40, D = 3000, per = 50;
    const int32_t d = 64;
    int64_t *ip = malloc(sizeof(int64_t) * (n + 1)), *ix = malloc(sizeof(int64_t) * n * per);
    int32_t *ip32 = malloc(sizeof(int32_t) * (n + 1)), *ix32 = malloc(sizeof(int32_t) * n * per);
    float *v = malloc(sizeof(float) * n * per);
    double *v64 = malloc(sizeof(double) * n * per);
    unsigned long long s = 5;
    ip[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t e = 0; e < per; e++) {
            int64_t p = i * per + e;
            ix[p] = (int64_t)(tsr_test_rng_next(&s) % (unsigned long long)D);
            v[p] = tsr_test_uniform(&s) - 0.5f;
        }
        ip[i + 1] = (i + 1) * per;
    }
    /* rows 0..3 carry the special values; row 4 repeats a column */
    v[3] = -0.0f; v[per + 7] = INFINITY; v[2 * per + 1] = -INFINITY; v[3 * per + 9] = NAN;
    ix[4 * per + 1] = ix[4 * per];
    for (int64_t p = 0; p < n * per; p++) { v64[p] = v[p]; ix32[p] = (int32_t)ix[p]; }
    for (int64_t i = 0; i <= n; i++) ip32[i] = (int32_t)ip[i];
    /* d = 64: d/s entries per row of R on average, some rows with more than four */
    tsr_rp_t *mat = make(D, d, TSR_RP_SPARSE, s_param, 77), *lazy = make(D, d, TSR_RP_SPARSE, s_param, 77);
    CHECK_OK(tsr_rp_materialize(NULL, mat));
    const int64_t *rip;
    CHECK_OK(tsr_rp_csr(mat, &rip, NULL, NULL, NULL, NULL));
    int counts[6] = {0};
    for (int64_t j = 0; j < D; j++) counts[rip[j + 1] - rip[j] > 5 ? 5 : rip[j + 1] - rip[j]]++;
    CHECK_MSG(counts[0] && counts[1] && counts[2] && counts[3] && counts[4] && counts[5],
              "rows of R with 0..4 and more entries: %d %d %d %d %d %d", counts[0], counts[1], counts[2],
              counts[3], counts[4], counts[5]);
    float *ym = malloc(sizeof(float) * n * d), *yl = malloc(sizeof(float) * n * d), *y32 = malloc(sizeof(float) * n * d);
    double *ym64 = malloc(sizeof(double) * n * d), *yl64 = malloc(sizeof(double) * n * d);
    for (int pi = 0; pi < 3; pi++) {
        if (!pools[pi]) continue;
        CHECK_OK(tsr_rp_transform_csr_f32(pools[pi], mat, n, ip, ix, v, ym, d));
        CHECK_OK(tsr_rp_transform_csr_f32(pools[pi], lazy, n, ip, ix, v, yl, d));
        CHECK_OK(tsr_rp_transform_csr32_f32(pools[pi], mat, n, ip32, ix32, v, y32, d));
        CHECK_SAME_BITS(ym, yl, sizeof(float) * n * d, "f32 slots vs lazy, %d threads", pi + 1);
        CHECK_SAME_BITS(ym, y32, sizeof(float) * n * d, "f32 slots int32 vs int64, %d threads", pi + 1);
        CHECK_OK(tsr_rp_transform_csr_f64(pools[pi], mat, n, ip, ix, v64, ym64, d));
        CHECK_OK(tsr_rp_transform_csr32_f64(pools[pi], lazy, n, ip32, ix32, v64, yl64, d));
        CHECK_SAME_BITS(ym64, yl64, sizeof(double) * n * d, "f64 slots vs lazy, %d threads", pi + 1);
    }
    tsr_rp_info info = {.size = sizeof info};
    CHECK_OK(tsr_rp_info_get(lazy, &info));
    CHECK(info.materialized == 0);
    /* the special values stay in their own columns: row 0 (-0) and rows >= 4 are finite */
    double maxerr = 0;
    for (int64_t i = 4; i < n; i++)
        for (int32_t k = 0; k < d; k++) {
            double ref = 0;
            for (int64_t p = ip[i]; p < ip[i + 1]; p++) {
                double r;
                CHECK_OK(tsr_rp_entry(mat, ix[p], k, &r));
                ref += v64[p] * r;
            }
            double e = fabs(ym64[i * d + k] - ref);
            if (e > maxerr) maxerr = e;
        }
    CHECK_MSG(maxerr < 1e-12, "f64 against the reference: max error %g", maxerr);
    for (int32_t k = 0; k < d; k++) CHECK(isfinite(ym[k]));
    free(ip); free(ix); free(ip32); free(ix32); free(v); free(v64);
    free(ym); free(yl); free(y32); free(ym64); free(yl64);
    tsr_rp_destroy(mat);
    tsr_rp_destroy(lazy);
}

TSR_TEST(test_csr_slots_equal_lazy) { csr_slots_equal_lazy(32); }
TSR_TEST(test_csr_slots_few_entries_equal_lazy) { csr_slots_equal_lazy(64); }

/* Bit-identical outputs for pools of 1, 2, 3 threads and every ISA the CPU has; the 32-bit-index
 * CSR entry points give the 64-bit ones' bits (f32 and f64). */
TSR_TEST(test_determinism_threads_and_isa) {
    const int64_t n = 45, D = tsr_test_quick() ? 900 : 5000;
    const int32_t d = 72;
    float *x = malloc(sizeof(float) * n * D);
    fill(x, (size_t)(n * D), 9);
    int64_t *indptr = malloc(sizeof(int64_t) * (n + 1)), *idx = malloc(sizeof(int64_t) * n * D);
    float *val = malloc(sizeof(float) * n * D);
    double *val64 = malloc(sizeof(double) * n * D);
    to_csr(x, n, D, indptr, idx, val, val64);
    int32_t *ip32 = malloc(sizeof(int32_t) * (n + 1)), *ix32 = malloc(sizeof(int32_t) * n * D);
    to_csr32(indptr, idx, n, ip32, ix32);
    const tsr_rp_kind kinds[] = {TSR_RP_SPARSE, TSR_RP_SPARSE, TSR_RP_GAUSSIAN};
    const double ss[] = {0, 1, 0};
    for (int ki = 0; ki < 3; ki++) {
        float *ref = NULL, *refc = NULL;
        TSR_FOR_EACH_ISA(isa) {
            for (int pi = 0; pi < 3; pi++) {
                if (!pools[pi]) continue;
                for (int mat = 0; mat < 2; mat++) {
                    tsr_rp_t *rp = make(D, d, kinds[ki], ss[ki], 31);
                    if (mat) CHECK_OK(tsr_rp_materialize(pools[pi], rp));
                    float *y = malloc(sizeof(float) * n * d), *yc = malloc(sizeof(float) * n * d);
                    CHECK_OK(tsr_rp_transform_f32(pools[pi], rp, n, x, D, y, d));
                    CHECK_OK(tsr_rp_transform_csr_f32(pools[pi], rp, n, indptr, idx, val, yc, d));
                    float *y32 = malloc(sizeof(float) * n * d);
                    double *yc64 = malloc(sizeof(double) * n * d), *y3264 = malloc(sizeof(double) * n * d);
                    CHECK_OK(tsr_rp_transform_csr32_f32(pools[pi], rp, n, ip32, ix32, val, y32, d));
                    CHECK_SAME_BITS(yc, y32, sizeof(float) * n * d, "kind %d isa %s threads %d mat %d csr32",
                                    ki, tsr_isa_name(isa), pi + 1, mat);
                    CHECK_OK(tsr_rp_transform_csr_f64(pools[pi], rp, n, indptr, idx, val64, yc64, d));
                    CHECK_OK(tsr_rp_transform_csr32_f64(pools[pi], rp, n, ip32, ix32, val64, y3264, d));
                    CHECK_SAME_BITS(yc64, y3264, sizeof(double) * n * d, "kind %d isa %s threads %d mat %d csr32 f64",
                                    ki, tsr_isa_name(isa), pi + 1, mat);
                    free(y32); free(yc64); free(y3264);
                    if (!ref) { ref = y; refc = yc; }
                    else {
                        CHECK_SAME_BITS(ref, y, sizeof(float) * n * d, "kind %d isa %s threads %d mat %d dense",
                                        ki, tsr_isa_name(isa), pi + 1, mat);
                        CHECK_SAME_BITS(refc, yc, sizeof(float) * n * d, "kind %d isa %s threads %d mat %d csr",
                                        ki, tsr_isa_name(isa), pi + 1, mat);
                        free(y); free(yc);
                    }
                    tsr_rp_destroy(rp);
                }
            }
        }
        free(ref); free(refc);
    }
    free(x); free(indptr); free(idx); free(val); free(val64); free(ip32); free(ix32);
}

TSR_TEST(test_transform_bad_inputs) {
    tsr_rp_t *rp = make(10, 4, TSR_RP_SPARSE, 0, 1);
    float x[40] = {0}, y[40];
    CHECK_STATUS(tsr_rp_transform_f32(NULL, NULL, 1, x, 10, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_f32(NULL, rp, -1, x, 10, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_f32(NULL, rp, 1, NULL, 10, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_f32(NULL, rp, 1, x, 10, NULL, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_f32(NULL, rp, 1, x, 9, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_f32(NULL, rp, 1, x, 10, y, 3), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_f32(NULL, rp, INT64_MAX / 4, x, 10, y, 4), TSR_ERANGE);
    CHECK_OK(tsr_rp_transform_f32(NULL, rp, 0, NULL, 10, NULL, 4));
    int64_t indptr[3] = {0, 2, 1}, idx[2] = {0, 10};
    float v[2] = {1, 1};
    CHECK_STATUS(tsr_rp_transform_csr_f32(NULL, rp, 2, indptr, idx, v, y, 4), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "indptr") != NULL);
    int64_t indptr2[2] = {0, 2};
    CHECK_STATUS(tsr_rp_transform_csr_f32(NULL, rp, 1, indptr2, idx, v, y, 4), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "10") != NULL);
    idx[1] = -1;
    CHECK_STATUS(tsr_rp_transform_csr_f32(NULL, rp, 1, indptr2, idx, v, y, 4), TSR_ERANGE);
    CHECK_STATUS(tsr_rp_transform_csr_f32(NULL, rp, 1, NULL, idx, v, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_csr_f32(NULL, rp, 1, indptr2, NULL, v, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_csr_f32(NULL, rp, 1, indptr2, idx, NULL, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_csr_f32(NULL, rp, 1, indptr2, idx, v, y, 2), TSR_EINVAL);
    int64_t indptr3[2] = {-1, 0};
    CHECK_STATUS(tsr_rp_transform_csr_f32(NULL, rp, 1, indptr3, idx, v, y, 4), TSR_EINVAL);
    /* the 32-bit-index entry points: the same checks */
    int32_t ip32[3] = {0, 2, 1}, ix32[2] = {0, 10}, ip32b[2] = {0, 2}, ip32c[2] = {-1, 0};
    CHECK_STATUS(tsr_rp_transform_csr32_f32(NULL, rp, 2, ip32, ix32, v, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_csr32_f32(NULL, rp, 1, ip32b, ix32, v, y, 4), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "10") != NULL);
    ix32[1] = -1;
    CHECK_STATUS(tsr_rp_transform_csr32_f32(NULL, rp, 1, ip32b, ix32, v, y, 4), TSR_ERANGE);
    CHECK_STATUS(tsr_rp_transform_csr32_f32(NULL, rp, 1, ip32c, ix32, v, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_csr32_f32(NULL, rp, 1, NULL, ix32, v, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_csr32_f32(NULL, rp, 1, ip32b, NULL, v, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_rp_transform_csr32_f64(NULL, rp, 1, ip32b, ix32, NULL, NULL, 4), TSR_EINVAL);
    tsr_rp_destroy(rp);
}

/* The index check runs inside the parallel rows: on any pool it names the first bad position of
 * the whole input (not the first one some worker met), for 64- and 32-bit indices. */
TSR_TEST(test_csr_first_bad_index_any_pool) {
    const int64_t n = 400, D = 50;
    const int32_t d = 8;
    int64_t *indptr = malloc(sizeof(int64_t) * (n + 1)), *idx = malloc(sizeof(int64_t) * n * 3);
    int32_t *ip32 = malloc(sizeof(int32_t) * (n + 1)), *ix32 = malloc(sizeof(int32_t) * n * 3);
    float *val = malloc(sizeof(float) * n * 3), *y = malloc(sizeof(float) * n * d);
    for (int64_t i = 0; i <= n; i++) indptr[i] = 3 * i;
    for (int64_t p = 0; p < 3 * n; p++) { idx[p] = p % D; val[p] = 1; }
    idx[3 * 350 + 2] = D + 7; /* a later row's bad index first: workers may meet it first */
    idx[3 * 123 + 1] = -5;
    to_csr32(indptr, idx, n, ip32, ix32);
    tsr_rp_t *rp = make(D, d, TSR_RP_SPARSE, 0, 3);
    for (int pi = 0; pi < 3; pi++) {
        if (!pools[pi]) continue;
        CHECK_STATUS(tsr_rp_transform_csr_f32(pools[pi], rp, n, indptr, idx, val, y, d), TSR_ERANGE);
        CHECK_MSG(strstr(tsr_last_error(), "-5 at position 370") != NULL, "threads %d: %s", pi + 1, tsr_last_error());
        CHECK_STATUS(tsr_rp_transform_csr32_f32(pools[pi], rp, n, ip32, ix32, val, y, d), TSR_ERANGE);
        CHECK_MSG(strstr(tsr_last_error(), "-5 at position 370") != NULL, "threads %d: %s", pi + 1, tsr_last_error());
    }
    tsr_rp_destroy(rp);
    free(indptr); free(idx); free(ip32); free(ix32); free(val); free(y);
}

/* The _checked transforms: the unchecked bits for finite X on every pool and ISA (sparse and
 * Gaussian R, f32 and f64), and TSR_EINVAL naming the first row with NaN or ±inf otherwise. */
TSR_TEST(test_checked_transform) {
    const int64_t n = 77, D = 300;
    const int32_t d = 24;
    float *x = malloc(sizeof(float) * n * D), *y0 = malloc(sizeof(float) * n * d), *y1 = malloc(sizeof(float) * n * d);
    double *xd = malloc(sizeof(double) * n * D), *z0 = malloc(sizeof(double) * n * d), *z1 = malloc(sizeof(double) * n * d);
    uint64_t s = 7;
    for (int64_t i = 0; i < n * D; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        xd[i] = (double)(int64_t)(s >> 11) / 9007199254740992.0 - 0.5;
        x[i] = (float)xd[i];
    }
    tsr_rp_kind kinds[2] = {TSR_RP_SPARSE, TSR_RP_GAUSSIAN};
    for (int k = 0; k < 2; k++) {
        tsr_rp_t *rp = make(D, d, kinds[k], 0, 3);
        TSR_FOR_EACH_ISA(isa) {
            for (int p = 0; p < 3; p++) {
                CHECK_OK(tsr_rp_transform_f32(pools[p], rp, n, x, D, y0, d));
                CHECK_OK(tsr_rp_transform_checked_f32(pools[p], rp, n, x, D, y1, d));
                CHECK(memcmp(y0, y1, sizeof(float) * n * d) == 0);
                CHECK_OK(tsr_rp_transform_f64(pools[p], rp, n, xd, D, z0, d));
                CHECK_OK(tsr_rp_transform_checked_f64(pools[p], rp, n, xd, D, z1, d));
                CHECK(memcmp(z0, z1, sizeof(double) * n * d) == 0);
            }
            /* bad values in rows 70 and 41 (different blocks): row 41 is named, whatever the pool */
            float keep70 = x[70 * D + 299], keep41 = x[41 * D + 5];
            x[70 * D + 299] = NAN;
            x[41 * D + 5] = -INFINITY;
            for (int p = 0; p < 3; p++) {
                CHECK_STATUS(tsr_rp_transform_checked_f32(pools[p], rp, n, x, D, y1, d), TSR_EINVAL);
                CHECK(strstr(tsr_last_error(), "row 41") != NULL);
            }
            x[70 * D + 299] = keep70;
            x[41 * D + 5] = keep41;
            /* one bad value alone: in a full 16-row tile's vector part or its last columns, or a partial tile */
            const int64_t at[4][2] = {{20, 299}, {3, 150}, {47, 0}, {76, 17}};
            for (int b = 0; b < 4; b++) {
                float keep = x[at[b][0] * D + at[b][1]];
                x[at[b][0] * D + at[b][1]] = b == 1 ? INFINITY : NAN;
                char want[32];
                snprintf(want, sizeof want, "row %lld)", (long long)at[b][0]);
                CHECK_STATUS(tsr_rp_transform_checked_f32(pools[b % 3], rp, n, x, D, y1, d), TSR_EINVAL);
                CHECK_MSG(strstr(tsr_last_error(), want) != NULL, "%s: %s", want, tsr_last_error());
                x[at[b][0] * D + at[b][1]] = keep;
            }
            double kd = xd[12 * D];
            xd[12 * D] = INFINITY;
            CHECK_STATUS(tsr_rp_transform_checked_f64(pools[1], rp, n, xd, D, z1, d), TSR_EINVAL);
            CHECK(strstr(tsr_last_error(), "row 12") != NULL && strstr(tsr_last_error(), "checked_f64") != NULL);
            xd[12 * D] = kd;
        }
        /* the padding between rows (ldx > D) is not read: NaN there is fine */
        float *wide = malloc(sizeof(float) * n * (D + 3));
        for (int64_t i = 0; i < n; i++) {
            memcpy(wide + i * (D + 3), x + i * D, sizeof(float) * D);
            for (int j = 0; j < 3; j++) wide[i * (D + 3) + D + j] = NAN;
        }
        CHECK_OK(tsr_rp_transform_checked_f32(NULL, rp, n, wide, D + 3, y1, d));
        CHECK_OK(tsr_rp_transform_f32(NULL, rp, n, x, D, y0, d));
        CHECK(memcmp(y0, y1, sizeof(float) * n * d) == 0);
        free(wide);
        tsr_rp_destroy(rp);
    }
    free(x); free(y0); free(y1); free(xd); free(z0); free(z1);
}

static void deadline_hit(int sig) {
    static const char msg[] = "  timed out: R was generated instead of refused\n";
    (void)sig;
    if (write(1, msg, sizeof msg - 1) < 0) {}
    _exit(1);
}

/* R too large for the machine is refused at once (TSR_ENOMEM naming the call and sizes), not after
 * D·d hashes and a malloc of terabytes (which ASan turns into an abort). */
TSR_TEST(test_materialize_is_bounded) {
    signal(SIGALRM, deadline_hit);
    alarm(60);
    /* Gaussian 2^24 x 2^22: 2^46 entries of 16 bytes */
    tsr_rp_t *g = make((int64_t)1 << 24, 1 << 22, TSR_RP_GAUSSIAN, 0, 1);
    CHECK_STATUS(tsr_rp_materialize(NULL, g), TSR_ENOMEM);
    CHECK_MSG(strstr(tsr_last_error(), "tsr_rp_materialize") && strstr(tsr_last_error(), "in_dim 16777216") &&
              strstr(tsr_last_error(), "out_dim 4194304"), "%s", tsr_last_error());
    tsr_rp_info info = {.size = sizeof info};
    CHECK_OK(tsr_rp_info_get(g, &info));
    CHECK(info.materialized == 0 && info.bytes < 4096);
    /* a dense transform would build the same R for the call */
    float *x = calloc((size_t)1 << 24, sizeof(float)), *y = malloc(sizeof(float) << 22);
    CHECK_STATUS(tsr_rp_transform_f32(NULL, g, 1, x, (int64_t)1 << 24, y, 1 << 22), TSR_ENOMEM);
    CHECK(strstr(tsr_last_error(), "tsr_rp_transform_f32") != NULL);
    /* a CSR input generates only the rows of R it touches */
    int64_t indptr[2] = {0, 1}, idx[1] = {12345};
    float val[1] = {2.0f};
    CHECK_OK(tsr_rp_transform_csr_f32(NULL, g, 1, indptr, idx, val, y, 1 << 22));
    for (int32_t k = 0; k < (1 << 22); k += 99991) {
        double r;
        tsr_rp_entry(g, 12345, k, &r);
        CHECK_NEAR(y[k], 2.0 * (float)r, 1e-6 * fabs(r) + 1e-12);
    }
    free(x); free(y);
    tsr_rp_destroy(g);
    /* dense ±1 (s = 1), 2^20 x 2^24: refused before hashing 2^44 entries */
    tsr_rp_t *r1 = make((int64_t)1 << 20, 1 << 24, TSR_RP_SPARSE, 1, 1);
    CHECK_STATUS(tsr_rp_materialize(NULL, r1), TSR_ENOMEM);
    CHECK(strstr(tsr_last_error(), "s = 1") != NULL);
    tsr_rp_destroy(r1);
    /* s = 2^45: R is tiny (fits any memory bound) but generating it hashes D·d = 2^50 entries */
    tsr_rp_t *rs = make((int64_t)1 << 25, 1 << 25, TSR_RP_SPARSE, (double)((int64_t)1 << 45), 1);
    CHECK_STATUS(tsr_rp_materialize(NULL, rs), TSR_ERANGE);
    CHECK_MSG(strstr(tsr_last_error(), "hashes") != NULL, "%s", tsr_last_error());
    tsr_rp_destroy(rs);
    alarm(0);
}

int main(void) {
    make_pools();
    RUN(test_bad_create);
    RUN(test_describe_and_entry_errors);
    RUN(test_sparse_entry_statistics);
    RUN(test_gaussian_entry_statistics);
    RUN(test_seeds_differ);
    RUN(test_johnson_lindenstrauss);
    RUN(test_dense_against_reference);
    RUN(test_csr_equals_dense);
    RUN(test_csr_huge_dimension);
    RUN(test_materialized_csr_view);
    RUN(test_csr_first_bad_index_any_pool);
    RUN(test_csr_slots_equal_lazy);
    RUN(test_csr_slots_few_entries_equal_lazy);
    RUN(test_determinism_threads_and_isa);
    RUN(test_transform_bad_inputs);
    RUN(test_checked_transform);
    RUN(test_materialize_is_bounded);
    for (int i = 0; i < 3; i++) tsr_pool_destroy(pools[i]);
    return tsr_test_summary();
}
