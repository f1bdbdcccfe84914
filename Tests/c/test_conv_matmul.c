/*
 * test_conv_matmul.c — tsr_conv_matmul_f32 (the convolution product without packing): equals a
 * float64 product within float rounding on ragged shapes (rows not a multiple of 6, columns not
 * of 16, k = 0, strided leading dimensions, no bias); the same bits on every ISA and for any
 * split of the rows and columns into separate calls; the bad input.
 */
#include "tsr_test.h"

typedef struct {
    const float *a, *b, *bias;
    int m, n, k, lda, ldb, ldc;
} cmm_case;

static void fill(float *x, int n, unsigned long long *s) {
    for (int i = 0; i < n; i++) x[i] = (float)tsr_test_uniform(s);
}

TSR_TEST(test_conv_matmul_matches_float64) {
    const int shapes[][3] = {{1, 1, 1}, {6, 64, 9}, {7, 65, 33}, {13, 16, 200}, {256, 17, 576}, {5, 130, 0}, {12, 3, 64}};
    unsigned long long s = 5;
    for (size_t q = 0; q < sizeof shapes / sizeof shapes[0]; q++) {
        const int m = shapes[q][0], n = shapes[q][1], k = shapes[q][2];
        const int lda = k + 3, ldb = n + 5, ldc = n + 2;
        float *a = malloc(((size_t)m * lda + 1) * sizeof(float)), *b = malloc(((size_t)(k ? k : 1) * ldb) * sizeof(float));
        float *bias = malloc((size_t)m * sizeof(float)), *c = malloc((size_t)m * ldc * sizeof(float));
        fill(a, m * lda + 1, &s); fill(b, (k ? k : 1) * ldb, &s); fill(bias, m, &s);
        for (int withBias = 0; withBias < 2; withBias++)
            TSR_FOR_EACH_ISA(isa) {
                for (int i = 0; i < m * ldc; i++) c[i] = 12345.0f;
                CHECK_OK(tsr_conv_matmul_f32(a, lda, b, ldb, withBias ? bias : NULL, c, ldc, m, n, k));
                double worst = 0;
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double r = withBias ? bias[i] : 0, mag = fabs(r);
                        for (int p = 0; p < k; p++) {
                            r += (double)a[i * lda + p] * b[p * ldb + j];
                            mag += fabs((double)a[i * lda + p] * b[p * ldb + j]);
                        }
                        const double e = fabs(c[i * ldc + j] - r) / (mag + 1e-30);
                        if (e > worst) worst = e;
                    }
                    for (int j = n; j < ldc; j++) CHECK_MSG(c[i * ldc + j] == 12345.0f, "wrote past column n");
                }
                CHECK_MSG(worst < 2e-7 * (k + 2), "isa %s shape %zu bias %d: worst %.3g", tsr_isa_name(isa), q, withBias, worst);
            }
        free(a); free(b); free(bias); free(c);
    }
}

static void cmm_run(void *vc, void *out) {
    const cmm_case *k = vc;
    CHECK_OK(tsr_conv_matmul_f32(k->a, k->lda, k->b, k->ldb, k->bias, out, k->ldc, k->m, k->n, k->k));
}

/* The same product as three calls: rows [0, m1) whole, then rows [m1, m) in two column halves. */
static void cmm_split_run(void *vc, void *out) {
    const cmm_case *k = vc;
    float *c = out;
    const int m1 = k->m / 3, n1 = k->n / 2 + 1 < k->n ? k->n / 2 + 1 : k->n;
    CHECK_OK(tsr_conv_matmul_f32(k->a, k->lda, k->b, k->ldb, k->bias, c, k->ldc, m1, k->n, k->k));
    CHECK_OK(tsr_conv_matmul_f32(k->a + m1 * k->lda, k->lda, k->b, k->ldb, k->bias + m1, c + m1 * k->ldc, k->ldc,
                                 k->m - m1, n1, k->k));
    CHECK_OK(tsr_conv_matmul_f32(k->a + m1 * k->lda, k->lda, k->b + n1, k->ldb, k->bias + m1, c + m1 * k->ldc + n1, k->ldc,
                                 k->m - m1, k->n - n1, k->k));
}

TSR_TEST(test_conv_matmul_same_bits_every_isa_and_split) {
    enum { M = 29, N = 150, K = 77 };
    float *a = malloc(M * K * sizeof(float)), *b = malloc(K * N * sizeof(float)), bias[M];
    unsigned long long s = 9;
    for (int i = 0; i < M * K; i++) a[i] = (float)(i % 11 == 0 ? 1e3 * tsr_test_uniform(&s) : tsr_test_uniform(&s));
    for (int i = 0; i < K * N; i++) b[i] = (float)(i % 5 == 0 ? 1e-3 * tsr_test_uniform(&s) : tsr_test_uniform(&s));
    for (int i = 0; i < M; i++) bias[i] = (float)tsr_test_uniform(&s);
    for (int n = 1; n <= N; n += n < 20 ? 1 : 13) {
        cmm_case k = {a, b, bias, M, n, K, K, N, n};
        char what[48];
        snprintf(what, sizeof what, "conv matmul n=%d", n);
        tsr_test_each_isa_same_bits(what, (size_t)M * n * sizeof(float), cmm_run, &k);
        float *whole = calloc((size_t)M * n, sizeof(float)), *split = calloc((size_t)M * n, sizeof(float));
        cmm_run(&k, whole);
        cmm_split_run(&k, split);
        CHECK_MSG(memcmp(whole, split, (size_t)M * n * sizeof(float)) == 0, "n=%d: a split call differs", n);
        free(whole); free(split);
    }
    free(a); free(b);
}

TSR_TEST(test_conv_matmul_bad_input) {
    float a[64] = {0}, b[64] = {0}, c[64];
    CHECK_STATUS(tsr_conv_matmul_f32(a, 4, b, 4, NULL, c, 4, -1, 4, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_conv_matmul_f32(a, 4, b, 4, NULL, c, 4, 4, -1, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_conv_matmul_f32(a, 4, b, 4, NULL, c, 4, 4, 4, -1), TSR_EINVAL);
    CHECK_STATUS(tsr_conv_matmul_f32(a, 3, b, 4, NULL, c, 4, 4, 4, 4), TSR_EINVAL);  /* lda < k */
    CHECK_STATUS(tsr_conv_matmul_f32(a, 4, b, 3, NULL, c, 4, 4, 4, 4), TSR_EINVAL);  /* ldb < n */
    CHECK_STATUS(tsr_conv_matmul_f32(a, 4, b, 4, NULL, c, 3, 4, 4, 4), TSR_EINVAL);  /* ldc < n */
    CHECK_STATUS(tsr_conv_matmul_f32(NULL, 4, b, 4, NULL, c, 4, 4, 4, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_conv_matmul_f32(a, 4, NULL, 4, NULL, c, 4, 4, 4, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_conv_matmul_f32(a, 4, b, 4, NULL, NULL, 4, 4, 4, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_conv_matmul_f32(a, INT64_MAX / 2, b, 4, NULL, c, 4, 4, 4, 4), TSR_EINVAL);
    CHECK_OK(tsr_conv_matmul_f32(NULL, 0, NULL, 0, NULL, NULL, 0, 0, 0, 0));
    CHECK_OK(tsr_conv_matmul_f32(NULL, 0, NULL, 4, NULL, c, 4, 4, 4, 0));  /* k = 0: c = 0 */
    CHECK_MSG(c[0] == 0.0f && c[15] == 0.0f, "k = 0 must give zeros");
}

int main(void) {
    RUN(test_conv_matmul_matches_float64);
    RUN(test_conv_matmul_same_bits_every_isa_and_split);
    RUN(test_conv_matmul_bad_input);
    return tsr_test_summary();
}
