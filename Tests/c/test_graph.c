#include <float.h>
/*
 * test_graph.c — CSR graph builder (symmetrisation, duplicates, loops,
 * degrees), the text edge-list parser (targeted bad lines and a fuzzer: every
 * error is TSR_EFORMAT/TSR_ERANGE naming the right line), .npy loading, and
 * the CSR × dense product against a naive float64 reference, bit-identical for
 * pools of 1, 2, 3 threads and every ISA.
 */
#include <stdint.h>
#include <unistd.h>

#include "tsr_test.h"

static tsr_pool_t *pools[3];

static void make_pools(void) {
    for (int i = 0; i < 3; i++) pools[i] = tsr_test_pool(i + 1);
}

/* Row u of g as "v:w v:w ..." for compact comparisons. */
static void row_str(const tsr_graph_t *g, int64_t u, char *buf, size_t cap) {
    const int64_t *ip; const int32_t *ix; const float *w;
    tsr_graph_csr(g, &ip, &ix, &w);
    buf[0] = 0;
    size_t o = 0;
    for (int64_t e = ip[u]; e < ip[u + 1]; e++) {
        if (w) o += (size_t)snprintf(buf + o, cap - o, "%s%d:%g", o ? " " : "", ix[e], w[e]);
        else o += (size_t)snprintf(buf + o, cap - o, "%s%d", o ? " " : "", ix[e]);
    }
}

#define CHECK_ROW(g, u, expect)                                         \
    do {                                                                \
        char b_[512];                                                   \
        row_str(g, u, b_, sizeof b_);                                   \
        CHECK_MSG(strcmp(b_, expect) == 0, "row %d is '%s', expected '%s'", (int)(u), b_, expect); \
    } while (0)

TSR_TEST(test_build_undirected) {
    int64_t src[] = {0, 1, 2, 1, 3, 2, 0};
    int64_t dst[] = {1, 0, 3, 2, 3, 0, 1};
    tsr_graph_t *g = NULL;
    CHECK_OK(tsr_graph_create(7, src, dst, NULL, NULL, &g));
    CHECK(tsr_graph_num_nodes(g) == 4);
    CHECK(tsr_graph_is_weighted(g) == 0 && tsr_graph_is_directed(g) == 0);
    CHECK_ROW(g, 0, "1 2");
    CHECK_ROW(g, 1, "0 2");
    CHECK_ROW(g, 2, "0 1 3");
    CHECK_ROW(g, 3, "2 3");
    CHECK(tsr_graph_num_entries(g) == 9);
    double deg[4];
    CHECK_OK(tsr_graph_degrees(g, deg));
    CHECK(deg[0] == 2 && deg[1] == 2 && deg[2] == 3 && deg[3] == 2);
    tsr_graph_destroy(g);

    /* weighted: duplicates add up (both directions of 0-1 listed: 2 + 3 + 0.5) or take the max */
    float w[] = {2, 3, 1, 4, 5, 6, 0.5f};
    CHECK_OK(tsr_graph_create(7, src, dst, w, NULL, &g));
    CHECK_ROW(g, 0, "1:5.5 2:6");
    CHECK_ROW(g, 1, "0:5.5 2:4");
    CHECK_ROW(g, 3, "2:1 3:5");
    CHECK_OK(tsr_graph_degrees(g, deg));
    CHECK_NEAR(deg[0], 11.5, 0);
    tsr_graph_destroy(g);
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    p.merge = TSR_GRAPH_MERGE_MAX;
    CHECK_OK(tsr_graph_create(7, src, dst, w, &p, &g));
    CHECK_ROW(g, 0, "1:3 2:6");
    tsr_graph_destroy(g);
}

TSR_TEST(test_build_directed_loops_nodes) {
    int64_t src[] = {0, 0, 2, 2, 4};
    int64_t dst[] = {1, 0, 1, 1, 4};
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    p.directed = 1;
    p.num_nodes = 7;
    tsr_graph_t *g = NULL;
    CHECK_OK(tsr_graph_create(5, src, dst, NULL, &p, &g));
    CHECK(tsr_graph_num_nodes(g) == 7 && tsr_graph_is_directed(g));
    CHECK_ROW(g, 0, "0 1");
    CHECK_ROW(g, 1, "");
    CHECK_ROW(g, 2, "1");
    CHECK_ROW(g, 4, "4");
    CHECK_ROW(g, 6, "");
    tsr_graph_destroy(g);
    p.self_loops = TSR_GRAPH_SELF_LOOPS_DROP;
    CHECK_OK(tsr_graph_create(5, src, dst, NULL, &p, &g));
    CHECK_ROW(g, 0, "1");
    CHECK_ROW(g, 4, "");
    CHECK(tsr_graph_num_entries(g) == 2);
    tsr_graph_destroy(g);
    p.self_loops = TSR_GRAPH_SELF_LOOPS_ADD;
    float w[] = {2, 3, 1, 1, 0.25f};
    CHECK_OK(tsr_graph_create(5, src, dst, w, &p, &g));
    CHECK_ROW(g, 0, "0:4 1:2");
    CHECK_ROW(g, 4, "4:1.25");
    CHECK_ROW(g, 6, "6:1");
    CHECK_ROW(g, 2, "1:2 2:1");
    tsr_graph_destroy(g);
    /* only loops, dropped: nothing left */
    int64_t l[] = {3};
    p.self_loops = TSR_GRAPH_SELF_LOOPS_DROP;
    p.num_nodes = 0;
    CHECK_STATUS(tsr_graph_create(1, l, l, NULL, &p, &g), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "empty") != NULL);
}

TSR_TEST(test_build_bad_inputs) {
    tsr_graph_t *g = NULL;
    int64_t src[] = {0, 1, -2}, dst[] = {1, 2, 0};
    CHECK_STATUS(tsr_graph_create(3, src, dst, NULL, NULL, &g), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "edge 2") && strstr(tsr_last_error(), "negative"));
    CHECK(g == NULL);
    src[2] = 5;
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    p.num_nodes = 5;
    CHECK_STATUS(tsr_graph_create(3, src, dst, NULL, &p, &g), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "edge 2") != NULL);
    src[2] = (int64_t)1 << 40;
    CHECK_STATUS(tsr_graph_create(3, src, dst, NULL, NULL, &g), TSR_ERANGE);
    src[2] = 2;
    float w[] = {1, NAN, 1};
    CHECK_STATUS(tsr_graph_create(3, src, dst, w, NULL, &g), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "edge 1") != NULL);
    w[1] = INFINITY;
    CHECK_STATUS(tsr_graph_create(3, src, dst, w, NULL, &g), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_create(0, src, dst, NULL, NULL, &g), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_create(-1, src, dst, NULL, NULL, &g), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_create(3, NULL, dst, NULL, NULL, &g), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_create(3, src, NULL, NULL, NULL, &g), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_create(3, src, dst, NULL, NULL, NULL), TSR_EINVAL);
    p.num_nodes = -4;
    CHECK_STATUS(tsr_graph_create(3, src, dst, NULL, &p, &g), TSR_EINVAL);
    tsr_graph_params_default(&p);
    p.self_loops = (tsr_graph_self_loops)9;
    CHECK_STATUS(tsr_graph_create(3, src, dst, NULL, &p, &g), TSR_EINVAL);
    tsr_graph_params_default(&p);
    p.merge = (tsr_graph_merge)-1;
    CHECK_STATUS(tsr_graph_create(3, src, dst, NULL, &p, &g), TSR_EINVAL);
    tsr_graph_params_default(&p);
    p.size = 2;
    CHECK_STATUS(tsr_graph_create(3, src, dst, NULL, &p, &g), TSR_EINVAL);
    /* zero edges but nodes given: still an empty graph */
    tsr_graph_params_default(&p);
    p.num_nodes = 10;
    CHECK_STATUS(tsr_graph_create(0, NULL, NULL, NULL, &p, &g), TSR_EINVAL);
    tsr_graph_destroy(NULL);
    CHECK(tsr_graph_num_nodes(NULL) == 0);
    CHECK_STATUS(tsr_graph_csr(NULL, NULL, NULL, NULL), TSR_EINVAL);
}

TSR_TEST(test_text_parse) {
    const char *txt =
        "# a comment\n"
        "\n"
        "0 1\t2.5\r\n"
        "   1    2 0.5   # trailing\n"
        "2 0 1e0\n"
        "+3 0 -1\n"
        "# end";
    tsr_graph_t *g = NULL;
    CHECK_OK(tsr_graph_parse_text(txt, strlen(txt), NULL, &g));
    CHECK(tsr_graph_num_nodes(g) == 4 && tsr_graph_is_weighted(g));
    CHECK_ROW(g, 0, "1:2.5 2:1 3:-1");
    CHECK_ROW(g, 2, "0:1 1:0.5");
    tsr_graph_destroy(g);
    const char *uw = "5 6\n6 7\n";
    CHECK_OK(tsr_graph_parse_text(uw, strlen(uw), NULL, &g));
    CHECK(tsr_graph_num_nodes(g) == 8 && !tsr_graph_is_weighted(g));
    tsr_graph_destroy(g);
    /* no trailing newline, only a comment after data */
    const char *nt = "0 1 #x";
    CHECK_OK(tsr_graph_parse_text(nt, strlen(nt), NULL, &g));
    tsr_graph_destroy(g);
}

/* Each bad line, placed at line 4 of an otherwise valid file, must be refused naming line 4. */
TSR_TEST(test_text_bad_lines) {
    const char *bad[] = {"1 x", "1", "1 2 3 4", "-1 2", "1 -2", "1 2 nan", "1 2 inf", "1 2 1e999", "1 2abc",
                         "1 2 3x", "99999999999999999999 1", "1.5 2", "0x1 2", "1 2 --1", "a b"};
    const tsr_status want[] = {TSR_EFORMAT, TSR_EFORMAT, TSR_EFORMAT, TSR_EFORMAT, TSR_EFORMAT,
                               TSR_EFORMAT, TSR_EFORMAT, TSR_EFORMAT, TSR_EFORMAT, TSR_EFORMAT,
                               TSR_EFORMAT, TSR_EFORMAT, TSR_EFORMAT, TSR_EFORMAT, TSR_EFORMAT};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char txt[256];
        /* weighted lines for the weight cases, unweighted otherwise, so only the bad line differs */
        int weighted = strstr(bad[i], "nan") || strstr(bad[i], "inf") || strstr(bad[i], "e999") ||
                       strstr(bad[i], "3x") || strstr(bad[i], "--1");
        snprintf(txt, sizeof txt, weighted ? "# h\n0 1 1\n1 2 1\n%s\n2 3 1\n" : "# h\n0 1\n1 2\n%s\n2 3\n", bad[i]);
        tsr_graph_t *g = NULL;
        tsr_status st = tsr_graph_parse_text(txt, strlen(txt), NULL, &g);
        CHECK_MSG(st == want[i] && strstr(tsr_last_error(), "line 4") != NULL, "'%s': %s (%s)", bad[i],
                  tsr_status_string(st), tsr_last_error());
        CHECK(g == NULL);
    }
    /* column count changes from the first edge line */
    const char *mixed = "0 1\n1 2 3\n";
    tsr_graph_t *g = NULL;
    CHECK_STATUS(tsr_graph_parse_text(mixed, strlen(mixed), NULL, &g), TSR_EFORMAT);
    CHECK(strstr(tsr_last_error(), "line 2") != NULL);
    /* id not below num_nodes: ERANGE naming the line */
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    p.num_nodes = 3;
    const char *big = "0 1\n\n1 3\n";
    CHECK_STATUS(tsr_graph_parse_text(big, strlen(big), &p, &g), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "line 3") != NULL);
    /* empty and comment-only inputs */
    CHECK_STATUS(tsr_graph_parse_text("", 0, NULL, &g), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_parse_text("# x\n\n", 5, NULL, &g), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "empty") != NULL);
    CHECK_STATUS(tsr_graph_parse_text(NULL, 3, NULL, &g), TSR_EINVAL);
}

/* Fuzz: random byte edits of a valid list; the parser must either succeed or
 * return an error; a format error names a line N, and the text before line N
 * parses without a format error (N is the first bad line). */
TSR_TEST(test_text_fuzz) {
    const char *base = "# graph\n0 1 0.5\n1 2 1.5\n2 3 2\n3 0 4\n\n4 5 1 # c\n5 6 7\n";
    const char alphabet[] = "0123456789 \t\n#.-+eEnax";
    unsigned long long s = 4242;
    int iters = tsr_test_quick() ? 2000 : 20000, ok = 0, errs = 0, bad_status = 0, no_line = 0, wrong_line = 0;
    size_t L = strlen(base);
    char buf[128];
    for (int it = 0; it < iters; it++) {
        memcpy(buf, base, L);
        size_t n = L;
        int edits = 1 + (int)(tsr_test_rng_next(&s) % 3);
        for (int e = 0; e < edits; e++) {
            size_t pos = tsr_test_rng_next(&s) % n;
            int op = (int)(tsr_test_rng_next(&s) % 3);
            char c = alphabet[tsr_test_rng_next(&s) % (sizeof alphabet - 1)];
            if (op == 0) buf[pos] = c;
            else if (op == 1 && n < sizeof buf - 1) { memmove(buf + pos + 1, buf + pos, n - pos); buf[pos] = c; n++; }
            else if (n > 1) { memmove(buf + pos, buf + pos + 1, n - pos - 1); n--; }
        }
        tsr_graph_t *g = NULL;
        tsr_status st = tsr_graph_parse_text(buf, n, NULL, &g);
        if (st == TSR_OK) { ok++; tsr_graph_destroy(g); continue; }
        errs++;
        if (st != TSR_EFORMAT && st != TSR_EINVAL && st != TSR_ERANGE) bad_status++;
        if (g) bad_status++;
        const char *lp = strstr(tsr_last_error(), "line ");
        if (st == TSR_EFORMAT && !lp) no_line++;
        if (st == TSR_EFORMAT && lp) {
            long line = atol(lp + 5);
            size_t off = 0;
            for (long l = 1; l < line && off < n; off++)
                if (buf[off] == '\n') l++;
            tsr_graph_t *g2 = NULL;
            tsr_status st2 = tsr_graph_parse_text(buf, off, NULL, &g2);
            if (st2 == TSR_EFORMAT || line < 1) wrong_line++;
            tsr_graph_destroy(g2);
        }
    }
    CHECK_MSG(bad_status == 0 && no_line == 0 && wrong_line == 0, "bad status %d, no line %d, wrong line %d",
              bad_status, no_line, wrong_line);
    CHECK(ok > 0 && errs > 0);
}

TSR_TEST(test_text_file) {
    char path[] = "/tmp/tsr_graph_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *txt = "0 1\n1 2\n2 0\n";
    CHECK(write(fd, txt, strlen(txt)) == (ssize_t)strlen(txt));
    close(fd);
    tsr_graph_t *g = NULL;
    CHECK_OK(tsr_graph_load_text(path, NULL, &g));
    CHECK(tsr_graph_num_entries(g) == 6);
    tsr_graph_destroy(g);
    unlink(path);
    CHECK_STATUS(tsr_graph_load_text("/nonexistent/edges.txt", NULL, &g), TSR_EIO);
    CHECK_STATUS(tsr_graph_load_text(NULL, NULL, &g), TSR_EINVAL);
}

/* Writes a .npy file with a given descr/shape header and raw payload. */
static void write_npy(const char *path, const char *descr, int fortran, const char *shape, const void *data,
                      size_t bytes) {
    char hdr[256];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }", descr,
                     fortran ? "True" : "False", shape);
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    uint16_t hl = (uint16_t)(n + pad + 1);
    pre[8] = hl & 0xff;
    pre[9] = hl >> 8;
    fwrite(pre, 1, 10, f);
    fwrite(hdr, 1, (size_t)n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    if (bytes) fwrite(data, 1, bytes, f);
    fclose(f);
}

TSR_TEST(test_npy) {
    const char *p1 = "/tmp/tsr_graph_e.npy", *p2 = "/tmp/tsr_graph_w.npy";
    int64_t e64[] = {0, 1, 1, 2, 2, 3};  /* C order (3, 2) */
    write_npy(p1, "<i8", 0, "(3, 2)", e64, sizeof e64);
    double w[] = {1.5, 2.5, 3.5};
    write_npy(p2, "<f8", 0, "(3,)", w, sizeof w);
    tsr_graph_t *g = NULL;
    CHECK_OK(tsr_graph_load_npy(p1, p2, NULL, &g));
    CHECK_ROW(g, 1, "0:1.5 2:2.5");
    tsr_graph_destroy(g);
    /* int32, Fortran order: first column (sources) then second */
    int32_t e32[] = {0, 1, 2, 1, 2, 3};
    write_npy(p1, "<i4", 1, "(3, 2)", e32, sizeof e32);
    CHECK_OK(tsr_graph_load_npy(p1, NULL, NULL, &g));
    CHECK_ROW(g, 2, "1 3");
    tsr_graph_destroy(g);
    /* big-endian int32 */
    unsigned char be[24];
    int32_t vals[] = {0, 4, 4, 1, 1, 0};
    for (int i = 0; i < 6; i++) { be[4 * i] = 0; be[4 * i + 1] = 0; be[4 * i + 2] = 0; be[4 * i + 3] = (unsigned char)vals[i]; }
    write_npy(p1, ">i4", 0, "(3, 2)", be, sizeof be);
    CHECK_OK(tsr_graph_load_npy(p1, NULL, NULL, &g));
    CHECK(tsr_graph_num_nodes(g) == 5);
    CHECK_ROW(g, 4, "0 1");
    tsr_graph_destroy(g);
    /* errors */
    write_npy(p1, "<f4", 0, "(3, 2)", e32, sizeof e32);
    CHECK_STATUS(tsr_graph_load_npy(p1, NULL, NULL, &g), TSR_EFORMAT);
    write_npy(p1, "<i4", 0, "(2, 3)", e32, sizeof e32);
    CHECK_STATUS(tsr_graph_load_npy(p1, NULL, NULL, &g), TSR_EFORMAT);
    write_npy(p1, "<i8", 0, "(3, 2)", e64, sizeof e64 - 8);
    CHECK_STATUS(tsr_graph_load_npy(p1, NULL, NULL, &g), TSR_EFORMAT);
    CHECK(strstr(tsr_last_error(), "truncated") != NULL);
    write_npy(p1, "<i8", 0, "(3, 2)", e64, sizeof e64);
    write_npy(p2, "<f8", 0, "(4,)", w, sizeof w);
    CHECK_STATUS(tsr_graph_load_npy(p1, p2, NULL, &g), TSR_EFORMAT);
    FILE *f = fopen(p2, "wb");
    fputs("not numpy at all", f);
    fclose(f);
    CHECK_STATUS(tsr_graph_load_npy(p2, NULL, NULL, &g), TSR_EFORMAT);
    int64_t neg[] = {0, 1, -1, 2};
    write_npy(p1, "<i8", 0, "(2, 2)", neg, sizeof neg);
    CHECK_STATUS(tsr_graph_load_npy(p1, NULL, NULL, &g), TSR_ERANGE);
    CHECK_STATUS(tsr_graph_load_npy("/nonexistent.npy", NULL, NULL, &g), TSR_EIO);
    unlink(p1);
    unlink(p2);
}

/* A random graph with skewed degrees, some isolated nodes, optional weights. */
static tsr_graph_t *random_graph(int64_t n, int64_t m, int weighted, int directed, unsigned long long seed) {
    int64_t *src = malloc(sizeof(int64_t) * m), *dst = malloc(sizeof(int64_t) * m);
    float *w = weighted ? malloc(sizeof(float) * m) : NULL;
    unsigned long long s = seed;
    for (int64_t e = 0; e < m; e++) {
        uint64_t a = tsr_test_rng_next(&s) % (uint64_t)(n - 3), b = tsr_test_rng_next(&s) % (uint64_t)(n - 3);
        if (e % 3 == 0) a = a % 17;  /* hubs */
        src[e] = (int64_t)a;
        dst[e] = (int64_t)b;
        if (w) w[e] = 0.25f + (float)(tsr_test_rng_next(&s) % 8);
    }
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    p.directed = directed;
    p.num_nodes = n;  /* the last 3 nodes are isolated */
    tsr_graph_t *g = NULL;
    if (tsr_graph_create(m, src, dst, w, &p, &g) != TSR_OK) printf("  graph: %s\n", tsr_last_error());
    free(src); free(dst); free(w);
    return g;
}

TSR_TEST(test_spmm_reference_and_determinism) {
    const int64_t n = tsr_test_quick() ? 400 : 3000;
    const int64_t colss[] = {1, 37, 128, 300};
    for (int variant = 0; variant < 3; variant++) {
        tsr_graph_t *g = random_graph(n, n * 6, variant != 0, variant == 2, 7 + variant);
        const int64_t *ip; const int32_t *ix; const float *wt;
        tsr_graph_csr(g, &ip, &ix, &wt);
        double *deg = malloc(sizeof(double) * n);
        tsr_graph_degrees(g, deg);
        for (size_t ci = 0; ci < 4; ci++) {
            int64_t cols = colss[ci], ldx = cols + 3, ldy = cols + 1;
            float *x = malloc(sizeof(float) * n * ldx), *ref = NULL;
            unsigned long long s = 5;
            for (int64_t i = 0; i < n * ldx; i++) x[i] = tsr_test_uniform(&s);
            for (int mat = 0; mat < 2; mat++) {
                ref = NULL;
                TSR_FOR_EACH_ISA(isa) {
                    for (int pi = 0; pi < 3; pi++) {
                        float *y = malloc(sizeof(float) * n * ldy);
                        for (int64_t i = 0; i < n * ldy; i++) y[i] = -9;
                        CHECK_OK(tsr_graph_spmm_f32(pools[pi], g, (tsr_graph_matrix)mat, cols, x, ldx, y, ldy));
                        if (!ref) {
                            ref = y;
                            /* naive float64 reference */
                            double maxerr = 0;
                            int pad = 1;
                            for (int64_t i = 0; i < n; i++) {
                                for (int64_t c = 0; c < cols; c++) {
                                    double acc = 0, mag = 0;
                                    for (int64_t e = ip[i]; e < ip[i + 1]; e++) {
                                        double t = (wt ? wt[e] : 1.0) * x[ix[e] * ldx + c];
                                        acc += t;
                                        mag += fabs(t);
                                    }
                                    double sc = mat == 0 ? (deg[i] != 0 ? 1 / deg[i] : 0) : 1;
                                    double err = fabs(y[i * ldy + c] - acc * sc) / ((mag + 1e-30) * (sc ? sc : 1));
                                    if (err > maxerr) maxerr = err;
                                }
                                pad &= y[i * ldy + cols] == -9;
                            }
                            CHECK_MSG(maxerr < 1e-6, "variant %d cols %lld mat %d err %g", variant, (long long)cols,
                                      mat, maxerr);
                            CHECK(pad);
                        } else {
                            CHECK_SAME_BITS(ref, y, sizeof(float) * n * ldy,
                                            "variant %d cols %lld mat %d isa %s threads %d differs", variant,
                                            (long long)cols, mat, tsr_isa_name(isa), pi + 1);
                            free(y);
                        }
                    }
                }
                free(ref);
            }
            free(x);
        }
        /* isolated nodes have zero rows */
        free(deg);
        tsr_graph_destroy(g);
    }
}

TSR_TEST(test_spmm_bad_inputs) {
    int64_t src[] = {0, 1}, dst[] = {1, 2};
    tsr_graph_t *g = NULL;
    CHECK_OK(tsr_graph_create(2, src, dst, NULL, NULL, &g));
    float x[12], y[12];
    CHECK_STATUS(tsr_graph_spmm_f32(NULL, NULL, TSR_GRAPH_ADJACENCY, 4, x, 4, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_spmm_f32(NULL, g, TSR_GRAPH_ADJACENCY, 0, x, 4, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_spmm_f32(NULL, g, TSR_GRAPH_ADJACENCY, 4, x, 3, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_spmm_f32(NULL, g, TSR_GRAPH_ADJACENCY, 4, x, 4, y, 2), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_spmm_f32(NULL, g, (tsr_graph_matrix)5, 4, x, 4, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_spmm_f32(NULL, g, TSR_GRAPH_ADJACENCY, 4, NULL, 4, y, 4), TSR_EINVAL);
    CHECK_STATUS(tsr_graph_spmm_f32(NULL, g, TSR_GRAPH_ADJACENCY, 4, x, 4, NULL, 4), TSR_EINVAL);
    tsr_graph_destroy(g);
}

/* A shape near 2^60 makes hoff + hlen + bytes wrap: still a format error, never an allocation. */
TSR_TEST(test_npy_huge_shape_is_truncated) {
    const char *p1 = "/tmp/tsr_graph_huge_e.npy", *p2 = "/tmp/tsr_graph_huge_w.npy";
    tsr_graph_t *g = NULL;
    /* (2^61 - 1, 2) int32: 2^64 - 8 bytes, the sum with the header wraps */
    write_npy(p1, "<i4", 0, "(2305843009213693951, 2)", NULL, 0);
    CHECK_STATUS(tsr_graph_load_npy(p1, NULL, NULL, &g), TSR_EFORMAT);
    CHECK(strstr(tsr_last_error(), "truncated") != NULL && g == NULL);
    /* (2^61, 2) int64: the byte count itself overflows */
    write_npy(p1, "<i8", 0, "(2305843009213693952, 2)", NULL, 0);
    CHECK_STATUS(tsr_graph_load_npy(p1, NULL, NULL, &g), TSR_EFORMAT);
    CHECK(strstr(tsr_last_error(), "truncated") != NULL);
    /* weights of (2^62 - 1,) float32 after valid edges */
    int64_t e64[] = {0, 1, 1, 2};
    write_npy(p1, "<i8", 0, "(2, 2)", e64, sizeof e64);
    write_npy(p2, "<f4", 0, "(4611686018427387903,)", NULL, 0);
    CHECK_STATUS(tsr_graph_load_npy(p1, p2, NULL, &g), TSR_EFORMAT);
    CHECK(strstr(tsr_last_error(), "truncated") != NULL);
    unlink(p1);
    unlink(p2);
}

/* An inferred node count follows the input: at most 2 x edges + 1024, unless num_nodes opts in. */
/* Found by fuzzing: summed duplicates stored as ±inf, and 1/degree overflowing float in the
 * transition matrix (inf rows where D^-1 S is finite). Both are refused when building. */
TSR_TEST(test_weights_beyond_float_are_refused) {
    tsr_graph_t *g = NULL;
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    p.directed = 1;
    int64_t src[2] = {0, 0}, dst[2] = {1, 1};
    float big[2] = {-FLT_MAX, -FLT_MAX};
    CHECK_STATUS(tsr_graph_create(2, src, dst, big, &p, &g), TSR_ERANGE);
    CHECK(g == NULL && strstr(tsr_last_error(), "node 0") != NULL);
    p.merge = TSR_GRAPH_MERGE_MAX;   /* the max of finite weights is finite */
    CHECK_OK(tsr_graph_create(2, src, dst, big, &p, &g));
    tsr_graph_destroy(g); g = NULL;
    p.merge = TSR_GRAPH_MERGE_SUM;
    float tiny[1] = {1e-40f};
    CHECK_STATUS(tsr_graph_create(1, src, dst, tiny, &p, &g), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "degree") != NULL);
    float small[1] = {1e-30f};   /* 1/deg = 1e30 fits: kept */
    CHECK_OK(tsr_graph_create(1, src, dst, small, &p, &g));
    tsr_graph_destroy(g);
}

TSR_TEST(test_inferred_node_count_is_bounded) {
    tsr_graph_t *g = NULL;
    const char *big = "16711680 0\n";  /* 11 bytes that asked for 16.7M nodes */
    CHECK_STATUS(tsr_graph_parse_text(big, strlen(big), NULL, &g), TSR_ERANGE);
    CHECK(strstr(tsr_last_error(), "16711680") && strstr(tsr_last_error(), "num_nodes") && g == NULL);
    int64_t src[1] = {16711680}, dst[1] = {0};
    CHECK_STATUS(tsr_graph_create(1, src, dst, NULL, NULL, &g), TSR_ERANGE);
    const char *p1 = "/tmp/tsr_graph_sparse.npy";
    write_npy(p1, "<i8", 0, "(1, 2)", (int64_t[]){16711680, 0}, 16);
    CHECK_STATUS(tsr_graph_load_npy(p1, NULL, NULL, &g), TSR_ERANGE);
    unlink(p1);
    /* the limit for one edge is 2 + 1024 nodes */
    const char *edge = "1025 0\n", *over = "1026 0\n";
    CHECK_OK(tsr_graph_parse_text(edge, strlen(edge), NULL, &g));
    CHECK(tsr_graph_num_nodes(g) == 1026);
    tsr_graph_destroy(g);
    g = NULL;
    CHECK_STATUS(tsr_graph_parse_text(over, strlen(over), NULL, &g), TSR_ERANGE);
    /* opting in with num_nodes */
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    p.num_nodes = 5001;
    const char *sparse = "5000 0\n";
    CHECK_OK(tsr_graph_parse_text(sparse, strlen(sparse), &p, &g));
    CHECK(tsr_graph_num_nodes(g) == 5001 && tsr_graph_num_entries(g) == 2);
    tsr_graph_destroy(g);
    g = NULL;
    /* a num_nodes the machine cannot hold (36 bytes a node) is a clean TSR_ENOMEM, nothing allocated */
    double phys = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (phys > 0 && 36.0 * 2147483647.0 > phys / 2) {
        p.num_nodes = 2147483647;
        CHECK_STATUS(tsr_graph_parse_text(sparse, strlen(sparse), &p, &g), TSR_ENOMEM);
        CHECK(strstr(tsr_last_error(), "tsr_graph_parse_text") && strstr(tsr_last_error(), "memory") && g == NULL);
    }
}

int main(void) {
    make_pools();
    RUN(test_build_undirected);
    RUN(test_build_directed_loops_nodes);
    RUN(test_build_bad_inputs);
    RUN(test_text_parse);
    RUN(test_text_bad_lines);
    RUN(test_text_fuzz);
    RUN(test_text_file);
    RUN(test_npy);
    RUN(test_spmm_reference_and_determinism);
    RUN(test_spmm_bad_inputs);
    RUN(test_npy_huge_shape_is_truncated);
    RUN(test_weights_beyond_float_are_refused);
    RUN(test_inferred_node_count_is_bounded);
    for (int i = 0; i < 3; i++) tsr_pool_destroy(pools[i]);
    return tsr_test_summary();
}
