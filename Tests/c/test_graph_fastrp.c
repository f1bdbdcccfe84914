/*
 * test_graph_fastrp.c — FastRP against a float64 implementation written
 * straight from the paper's formulas (R rebuilt entry by entry with
 * tsr_rp_entry), the cached/reweighting path, determinism over pools of 1, 2,
 * 3 threads and every ISA, zero-degree nodes, bad parameters, and the quality
 * target: on a stochastic block model a nearest-centroid classifier trained on
 * half the nodes predicts the other half's block with micro-F1 >= 0.95.
 */
#include <stdint.h>

#include "tsr_test.h"

static tsr_pool_t *pools[3];

static void make_pools(void) {
    for (int i = 0; i < 3; i++) pools[i] = tsr_test_pool(i + 1);
}

static tsr_graph_t *random_graph(int64_t n, int64_t m, int weighted, int directed, unsigned long long seed) {
    int64_t *src = malloc(sizeof(int64_t) * m), *dst = malloc(sizeof(int64_t) * m);
    float *w = weighted ? malloc(sizeof(float) * m) : NULL;
    unsigned long long s = seed;
    for (int64_t e = 0; e < m; e++) {
        src[e] = (int64_t)(tsr_test_rng_next(&s) % (uint64_t)(n - 4));
        dst[e] = (int64_t)(tsr_test_rng_next(&s) % (uint64_t)(n - 4));
        if (e % 4 == 0) src[e] %= 9;
        if (w) w[e] = 0.5f + (float)(tsr_test_rng_next(&s) % 5);
    }
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    p.directed = directed;
    p.num_nodes = n;  /* 4 isolated nodes at the end */
    tsr_graph_t *g = NULL;
    if (tsr_graph_create(m, src, dst, w, &p, &g) != TSR_OK) printf("  graph: %s\n", tsr_last_error());
    free(src); free(dst); free(w);
    return g;
}

/* FastRP in float64, directly from the formulas (dense matrices, no shortcuts). */
static void fastrp_reference(const tsr_graph_t *g, const tsr_fastrp_params *p, double *E) {
    const int64_t n = tsr_graph_num_nodes(g);
    const int d = p->dim;
    const int64_t *ip; const int32_t *ix; const float *wt;
    tsr_graph_csr(g, &ip, &ix, &wt);
    double *deg = malloc(sizeof(double) * n), *cur = malloc(sizeof(double) * n * d), *nxt = malloc(sizeof(double) * n * d);
    tsr_graph_degrees(g, deg);
    tsr_rp_params rpp;
    tsr_rp_params_default(&rpp);
    rpp.kind = p->projection;
    rpp.s = p->s;
    rpp.seed = p->seed;
    tsr_rp_t *rp;
    tsr_rp_create(n, d, &rpp, &rp);
    for (int64_t j = 0; j < n; j++) {
        double L = deg[j] != 0 ? pow(deg[j], p->beta) : 1.0;
        for (int k = 0; k < d; k++) {
            double r;
            tsr_rp_entry(rp, j, k, &r);
            cur[j * d + k] = r * L;
        }
    }
    tsr_rp_destroy(rp);
    memset(E, 0, sizeof(double) * n * d);
    for (int it = 0; it < p->q; it++) {
        for (int64_t i = 0; i < n; i++) {
            double sc = p->matrix == TSR_GRAPH_TRANSITION ? (deg[i] != 0 ? 1 / deg[i] : 0) : 1;
            for (int k = 0; k < d; k++) {
                double acc = 0;
                for (int64_t e = ip[i]; e < ip[i + 1]; e++) acc += (wt ? wt[e] : 1.0) * cur[ix[e] * d + k];
                nxt[i * d + k] = sc * acc;
            }
        }
        for (int64_t i = 0; i < n; i++) {
            double nn = 0;
            for (int k = 0; k < d; k++) nn += nxt[i * d + k] * nxt[i * d + k];
            double inv = p->normalize_rows ? (nn > 0 ? 1 / sqrt(nn) : 0) : 1;
            for (int k = 0; k < d; k++) E[i * d + k] += p->weights[it] * nxt[i * d + k] * inv;
        }
        double *t = cur; cur = nxt; nxt = t;
    }
    if (p->standardize)
        for (int k = 0; k < d; k++) {
            double mean = 0, var = 0;
            for (int64_t i = 0; i < n; i++) mean += E[i * d + k];
            mean /= n;
            for (int64_t i = 0; i < n; i++) var += (E[i * d + k] - mean) * (E[i * d + k] - mean);
            double sd = sqrt(var / n);
            if (sd == 0) sd = 1;
            for (int64_t i = 0; i < n; i++) E[i * d + k] = (E[i * d + k] - mean) / sd;
        }
    free(deg); free(cur); free(nxt);
}

TSR_TEST(test_against_float64_reference) {
    const int64_t n = 240;
    for (int variant = 0; variant < 5; variant++) {
        tsr_graph_t *g = random_graph(n, 900, variant == 1 || variant == 3, variant == 2, 100 + variant);
        tsr_fastrp_params p;
        tsr_fastrp_params_default(&p);
        p.dim = 24 + variant;
        if (variant == 1) { p.normalize_rows = 1; p.q = 3; p.weights[0] = 0; p.weights[1] = 1; p.weights[2] = 3; }
        if (variant == 2) { p.beta = -1; p.s = 3; }
        if (variant == 3) { p.projection = TSR_RP_GAUSSIAN; p.matrix = TSR_GRAPH_ADJACENCY; p.beta = 0; p.q = 2;
                            p.standardize = 0; p.normalize_rows = 1; }
        if (variant == 4) { p.standardize = 0; p.q = 1; p.weights[0] = 2; }
        int ld = p.dim + 2;
        float *E = malloc(sizeof(float) * n * ld);
        double *R = malloc(sizeof(double) * n * p.dim);
        CHECK_OK(tsr_fastrp_embed(NULL, g, &p, E, ld));
        fastrp_reference(g, &p, R);
        double maxerr = 0, scale = 0;
        int finite = 1;
        for (int64_t i = 0; i < n; i++)
            for (int k = 0; k < p.dim; k++) {
                double r = R[i * p.dim + k];
                if (fabs(r) > scale) scale = fabs(r);
                finite &= isfinite(E[i * ld + k]);
                if (fabs(E[i * ld + k] - r) > maxerr) maxerr = fabs(E[i * ld + k] - r);
            }
        CHECK(finite);
        CHECK_MSG(maxerr <= 2e-5 * (scale > 1 ? scale : 1), "variant %d max error %g (scale %g)", variant, maxerr, scale);
        free(E); free(R);
        tsr_graph_destroy(g);
    }
}

TSR_TEST(test_cached_reweight_and_determinism) {
    const int64_t n = tsr_test_quick() ? 500 : 4000;
    tsr_graph_t *g = random_graph(n, n * 8, 1, 0, 3);
    tsr_fastrp_params p;
    tsr_fastrp_params_default(&p);
    p.dim = 40;
    float *a = malloc(sizeof(float) * n * 40), *b = malloc(sizeof(float) * n * 40);
    CHECK_OK(tsr_fastrp_embed(pools[0], g, &p, a, 40));
    TSR_FOR_EACH_ISA(isa) {
        for (int pi = 0; pi < 3; pi++) {
            CHECK_OK(tsr_fastrp_embed(pools[pi], g, &p, b, 40));
            CHECK_SAME_BITS(a, b, sizeof(float) * n * 40, "isa %s threads %d differ", tsr_isa_name(isa), pi + 1);
        }
    }
    /* cached: step by step, then combine == one-shot */
    tsr_fastrp_t *fr = NULL;
    CHECK_OK(tsr_fastrp_create(g, &p, &fr));
    CHECK(tsr_fastrp_steps_done(fr) == 0);
    const float *view;
    CHECK_STATUS(tsr_fastrp_iteration(fr, 1, &view), TSR_ERANGE);
    CHECK_STATUS(tsr_fastrp_combine(NULL, fr, p.weights, 4, 0, 1, b, 40), TSR_ESTATE);
    for (int i = 0; i < 4; i++) CHECK_OK(tsr_fastrp_step(pools[2], fr));
    CHECK(tsr_fastrp_steps_done(fr) == 4);
    CHECK_STATUS(tsr_fastrp_step(NULL, fr), TSR_ESTATE);
    CHECK_OK(tsr_fastrp_compute(NULL, fr));
    CHECK_OK(tsr_fastrp_iteration(fr, 4, &view));
    CHECK_OK(tsr_fastrp_combine(pools[1], fr, p.weights, 4, 0, 1, b, 40));
    CHECK(memcmp(a, b, sizeof(float) * n * 40) == 0);
    /* reweighting the cache == recomputing with the new weights */
    double w2[3] = {0, 1, 4.5};
    tsr_fastrp_params p2 = p;
    p2.q = 3;
    memcpy(p2.weights, w2, sizeof w2);
    p2.normalize_rows = 1;
    CHECK_OK(tsr_fastrp_embed(NULL, g, &p2, a, 40));
    CHECK_OK(tsr_fastrp_combine(NULL, fr, w2, 3, 1, 1, b, 40));
    CHECK(memcmp(a, b, sizeof(float) * n * 40) == 0);
    double bad[2] = {1, NAN};
    CHECK_STATUS(tsr_fastrp_combine(NULL, fr, bad, 2, 0, 1, b, 40), TSR_EINVAL);
    /* a sparser R (s = 400): N₁ has ~1.6 nonzeros per row, so the one-shot path multiplies by its
     * sparse form; the cached path's dense product gives the same bits (weighted graph) */
    for (int norm = 0; norm < 2; norm++) {
        tsr_fastrp_params p3 = p;
        p3.s = 400;
        p3.normalize_rows = norm;
        tsr_fastrp_t *fr3 = NULL;
        CHECK_OK(tsr_fastrp_embed(pools[1], g, &p3, a, 40));
        CHECK_OK(tsr_fastrp_create(g, &p3, &fr3));
        CHECK_OK(tsr_fastrp_compute(pools[2], fr3));
        CHECK_OK(tsr_fastrp_combine(NULL, fr3, p3.weights, 4, norm, 1, b, 40));
        CHECK_SAME_BITS(a, b, sizeof(float) * n * 40, "s = 400, normalize_rows %d: sparse N1 vs dense", norm);
        tsr_fastrp_destroy(fr3);
    }
    CHECK_STATUS(tsr_fastrp_combine(NULL, fr, w2, 0, 0, 1, b, 40), TSR_EINVAL);
    CHECK_STATUS(tsr_fastrp_combine(NULL, fr, w2, 3, 0, 1, b, 39), TSR_EINVAL);
    tsr_fastrp_destroy(fr);
    free(a); free(b);
    tsr_graph_destroy(g);
}

/* Sinks of a directed graph and isolated nodes: deg 0, β < 0 — no inf or NaN. */
TSR_TEST(test_zero_degree_nodes) {
    int64_t src[] = {0, 1, 2, 0}, dst[] = {1, 2, 3, 3};
    tsr_graph_params gp;
    tsr_graph_params_default(&gp);
    gp.directed = 1;
    gp.num_nodes = 6;
    tsr_graph_t *g = NULL;
    CHECK_OK(tsr_graph_create(4, src, dst, NULL, &gp, &g));
    for (int norm = 0; norm < 2; norm++)
        for (int stdz = 0; stdz < 2; stdz++) {
            tsr_fastrp_params p;
            tsr_fastrp_params_default(&p);
            p.dim = 8;
            p.beta = -1;
            p.normalize_rows = norm;
            p.standardize = stdz;
            float E[6 * 8];
            CHECK_OK(tsr_fastrp_embed(NULL, g, &p, E, 8));
            int finite = 1;
            for (int i = 0; i < 48; i++) finite &= isfinite(E[i]);
            CHECK(finite);
            if (!stdz) for (int k = 0; k < 8; k++) CHECK(E[3 * 8 + k] == 0 && E[5 * 8 + k] == 0);
        }
    tsr_graph_destroy(g);
}

TSR_TEST(test_bad_params) {
    int64_t src[] = {0, 1}, dst[] = {1, 2};
    tsr_graph_t *g = NULL;
    CHECK_OK(tsr_graph_create(2, src, dst, NULL, NULL, &g));
    float E[3 * 128];
    tsr_fastrp_params p;
    tsr_fastrp_params_default(&p);
    CHECK(p.dim == 128 && p.q == 4 && p.weights[3] == 45.28 && p.beta == -0.628 && p.seed == 42);
    CHECK_STATUS(tsr_fastrp_embed(NULL, NULL, &p, E, 128), TSR_EINVAL);
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, NULL, 128), TSR_EINVAL);
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 127), TSR_EINVAL);
    p.dim = 0;
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 128), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "dim") != NULL);
    tsr_fastrp_params_default(&p);
    p.s = 0.5;
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 128), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "s must") != NULL);
    tsr_fastrp_params_default(&p);
    p.q = 0;
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 128), TSR_EINVAL);
    p.q = 17;
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 128), TSR_EINVAL);
    tsr_fastrp_params_default(&p);
    p.weights[2] = NAN;
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 128), TSR_EINVAL);
    tsr_fastrp_params_default(&p);
    p.beta = INFINITY;
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 128), TSR_EINVAL);
    tsr_fastrp_params_default(&p);
    p.projection = (tsr_rp_kind)4;
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 128), TSR_EINVAL);
    tsr_fastrp_params_default(&p);
    p.matrix = (tsr_graph_matrix)4;
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 128), TSR_EINVAL);
    tsr_fastrp_params_default(&p);
    p.size = 8;
    CHECK_STATUS(tsr_fastrp_embed(NULL, g, &p, E, 128), TSR_EINVAL);
    tsr_fastrp_t *fr = NULL;
    CHECK_STATUS(tsr_fastrp_create(g, &p, &fr), TSR_EINVAL);
    CHECK(fr == NULL);
    CHECK_STATUS(tsr_fastrp_create(g, NULL, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_fastrp_step(NULL, NULL), TSR_EINVAL);
    CHECK(tsr_fastrp_steps_done(NULL) == -1);
    tsr_fastrp_destroy(NULL);
    tsr_graph_destroy(g);
}

/* SBM: `blocks` equal blocks, about `din` neighbours inside the block and
 * `dout` outside per node; node i is in block i % blocks. */
static tsr_graph_t *sbm(int64_t n, int blocks, double din, double dout, unsigned long long seed) {
    int64_t m_in = (int64_t)(n * din / 2), m_out = (int64_t)(n * dout / 2), m = m_in + m_out;
    int64_t *src = malloc(sizeof(int64_t) * m), *dst = malloc(sizeof(int64_t) * m);
    unsigned long long s = seed;
    int64_t per = n / blocks;
    for (int64_t e = 0; e < m; e++) {
        int64_t u = (int64_t)(tsr_test_rng_next(&s) % (uint64_t)n);
        int64_t bu = u % blocks, bv = bu;
        if (e >= m_in) bv = (bu + 1 + (int64_t)(tsr_test_rng_next(&s) % (uint64_t)(blocks - 1))) % blocks;
        int64_t v = (int64_t)(tsr_test_rng_next(&s) % (uint64_t)per) * blocks + bv;
        src[e] = u;
        dst[e] = v;
    }
    tsr_graph_t *g = NULL;
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    p.num_nodes = n;
    if (tsr_graph_create(m, src, dst, NULL, &p, &g) != TSR_OK) printf("  sbm: %s\n", tsr_last_error());
    free(src); free(dst);
    return g;
}

/* Nearest centroid (cosine) trained on half the nodes ((i / blocks) even), scored on the other half. */
static double micro_f1(const float *E, int64_t n, int d, int blocks) {
    double *cent = calloc((size_t)blocks * d, sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        if ((i / blocks) % 2) continue;
        double nn = 0;
        for (int k = 0; k < d; k++) nn += (double)E[i * d + k] * E[i * d + k];
        nn = nn > 0 ? 1 / sqrt(nn) : 0;
        for (int k = 0; k < d; k++) cent[(i % blocks) * d + k] += E[i * d + k] * nn;
    }
    int64_t right = 0, total = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((i / blocks) % 2 == 0) continue;
        int best = -1;
        double bs = -1e300;
        for (int b = 0; b < blocks; b++) {
            double dot = 0, cn = 0;
            for (int k = 0; k < d; k++) { dot += E[i * d + k] * cent[b * d + k]; cn += cent[b * d + k] * cent[b * d + k]; }
            double sc = dot / sqrt(cn + 1e-300);
            if (sc > bs) { bs = sc; best = b; }
        }
        right += best == i % blocks;
        total++;
    }
    free(cent);
    return (double)right / total;  /* single-label: micro-F1 = accuracy */
}

TSR_TEST(test_sbm_quality) {
    const int64_t n = tsr_test_quick() ? 3000 : 10000;
    const int blocks = 10;
    tsr_graph_t *g = sbm(n, blocks, 12, 4, 2024);
    tsr_fastrp_params p;
    tsr_fastrp_params_default(&p);
    float *E = malloc(sizeof(float) * n * p.dim);
    CHECK_OK(tsr_fastrp_embed(NULL, g, &p, E, p.dim));
    double f1 = micro_f1(E, n, p.dim, blocks);
    printf("  SBM n=%lld blocks=%d (12 in / 4 out neighbours), defaults: micro-F1 %.4f\n", (long long)n, blocks, f1);
    CHECK_MSG(f1 >= 0.95, "micro-F1 %.4f < 0.95", f1);
    /* the tuning recipe (weights [0, 0, 1, w4], row normalisation) also works */
    p.weights[0] = 0; p.weights[1] = 0; p.weights[2] = 1; p.weights[3] = 8; p.normalize_rows = 1; p.dim = 64;
    CHECK_OK(tsr_fastrp_embed(NULL, g, &p, E, p.dim));
    double f1b = micro_f1(E, n, p.dim, blocks);
    printf("  SBM tuning-recipe weights, d=64: micro-F1 %.4f\n", f1b);
    CHECK_MSG(f1b >= 0.95, "micro-F1 %.4f < 0.95", f1b);
    free(E);
    tsr_graph_destroy(g);
}

/* Buffers the machine cannot hold are refused up front (TSR_ENOMEM), not allocated step by step. */
TSR_TEST(test_cache_larger_than_memory) {
    int64_t src[2] = {0, 1}, dst[2] = {1, 2};
    tsr_graph_t *g = NULL;
    CHECK_OK(tsr_graph_create(2, src, dst, NULL, NULL, &g));
    tsr_fastrp_params p;
    tsr_fastrp_params_default(&p);
    p.dim = INT32_MAX;  /* 4 x 3 x 2^31 x 4 bytes */
    tsr_fastrp_t *fr = NULL;
    CHECK_STATUS(tsr_fastrp_create(g, &p, &fr), TSR_ENOMEM);
    CHECK(fr == NULL && strstr(tsr_last_error(), "tsr_fastrp_create") != NULL);
    tsr_fastrp_destroy(fr);
    tsr_graph_destroy(g);
}

int main(void) {
    make_pools();
    RUN(test_against_float64_reference);
    RUN(test_cached_reweight_and_determinism);
    RUN(test_zero_degree_nodes);
    RUN(test_bad_params);
    RUN(test_sbm_quality);
    RUN(test_cache_larger_than_memory);
    for (int i = 0; i < 3; i++) tsr_pool_destroy(pools[i]);
    return tsr_test_summary();
}
