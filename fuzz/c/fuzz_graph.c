/*
 * fuzz_graph.c — graph inputs: text edge lists (tsr_graph_parse_text), NumPy .npy
 * edge and weight files (tsr_graph_load_npy, through a memfd: the loader takes
 * paths), and edge arrays (tsr_graph_create); then the CSR invariants, the sparse
 * product against a reference, and FastRP on small graphs.
 *
 * Input (first byte = mode):
 *   0  text with parameters:  [0][params][text...]
 *   1  .npy edges:            [1][params][len lo][len hi][edges.npy (len bytes)]
 *   2  .npy edges + weights:  as 1, then [weights.npy (the rest)]
 *   3  edge arrays:           [3][params][m][weighted][m x (src, dst[, weight])]
 *   anything else: the whole input is a text edge list with default parameters
 *   (so a plain edge-list file is a valid input as it is).
 *   params = [directed byte % 3][num_nodes fz_i64][self_loops byte % 4][merge byte % 3]
 *   (the last value of each is out of range on purpose).
 *
 * Properties: a failure has a status and a message; a node count inferred from m
 * edges is at most 2·m + 1024 (ids such as 16711680 in an 11-byte file are refused,
 * not allocated); a graph has n >= 1 nodes,
 * indptr from 0 rising to nnz, row indices ascending, unique and < n, finite
 * weights, degrees equal to the row sums; undirected graphs are symmetric;
 * self-loop options hold; num_nodes is respected. Graphs with at most 4096 nodes and
 * 65536 entries: Y = S·X and D^-1·S·X match a float64 reference; FastRP (tiny
 * dimension) gives finite values.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

static void read_params(fz_in *in, tsr_graph_params *p) {
    tsr_graph_params_default(p);
    p->directed = (int32_t)(fz_u8(in) % 3);
    p->num_nodes = fz_i64(in);
    p->self_loops = (tsr_graph_self_loops)(fz_u8(in) % 4);
    p->merge = (tsr_graph_merge)(fz_u8(in) % 3);
    /* A valid num_nodes whose graph (about 36 bytes a node) fits in the machine may be
     * allocated, legitimately: keep those below 2^22 so that the campaign's malloc limit
     * only catches real bugs. Counts beyond physical memory must be refused up front and
     * stay as they are. */
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGE_SIZE);
    double phys = pages > 0 && psz > 0 ? (double)pages * (double)psz : 16e9;
    if (p->num_nodes > (1 << 22) && 36.0 * (double)p->num_nodes <= 1.5 * phys) p->num_nodes &= (1 << 22) - 1;
}

/* Edge lines of a text edge list: lines with something other than blanks before any '#'. */
static int64_t count_edge_lines(const char *t, size_t len) {
    int64_t m = 0;
    int content = 0, comment = 0;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (c == '\n') { m += content; content = comment = 0; continue; }
        if (c == '#') comment = 1;
        if (!comment && c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f') content = 1;
    }
    return m + content;
}

static int params_valid(const tsr_graph_params *p) {
    return p->directed >= 0 && p->directed <= 1 && p->num_nodes >= 0 && p->num_nodes <= INT32_MAX &&
           (int)p->self_loops < TSR_GRAPH_SELF_LOOPS_COUNT && (int)p->merge < TSR_GRAPH_MERGE_COUNT;
}

/* Writes bytes to an anonymous memory file; returns its fd (path /proc/self/fd/N) or -1. */
static int memfile(const uint8_t *b, size_t n) {
    int fd = memfd_create("tessera-fuzz", 0);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, b + off, n - off);
        if (w <= 0) { close(fd); return -1; }
        off += (size_t)w;
    }
    return fd;
}

static int row_has(const int64_t *indptr, const int32_t *idx, int64_t u, int32_t v, int64_t *at) {
    int64_t lo = indptr[u], hi = indptr[u + 1] - 1;
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (idx[mid] == v) { *at = mid; return 1; }
        if (idx[mid] < v) lo = mid + 1; else hi = mid - 1;
    }
    return 0;
}

static void check_graph(fz_in *in, const tsr_graph_t *g, const tsr_graph_params *p, int64_t m) {
    const int64_t n = tsr_graph_num_nodes(g), nnz = tsr_graph_num_entries(g);
    FZ_CHECK(n >= 1 && n <= INT32_MAX, "n = %lld", (long long)n);
    FZ_CHECK(nnz >= 1, "nnz = %lld", (long long)nnz);
    /* an inferred node count follows the input: at most 2·m + 1024 (graph.h) */
    if (m >= 0 && !(p && p->num_nodes > 0))
        FZ_CHECK(n <= 2 * m + 1024, "%lld nodes inferred from %lld edges (at most 2·m + 1024)", (long long)n, (long long)m);
    if (p && p->num_nodes > 0) FZ_CHECK(n == p->num_nodes, "n %lld but num_nodes %lld", (long long)n, (long long)p->num_nodes);
    const int directed = tsr_graph_is_directed(g);
    if (p) FZ_CHECK(directed == p->directed, "directed %d, asked %d", directed, p->directed);
    const int64_t *indptr;
    const int32_t *idx;
    const float *w;
    FZ_CHECK(tsr_graph_csr(g, &indptr, &idx, &w) == TSR_OK, "csr view");
    FZ_CHECK((w != NULL) == (tsr_graph_is_weighted(g) == 1), "weights pointer vs is_weighted");
    FZ_CHECK(indptr[0] == 0 && indptr[n] == nnz, "indptr[0] %lld, indptr[n] %lld, nnz %lld", (long long)indptr[0],
             (long long)indptr[n], (long long)nnz);
    if (n > (1 << 22)) return;  /* the per-node checks below are linear in n: huge sparse graphs stop here */
    double *deg = malloc(sizeof(double) * (size_t)n);
    FZ_CHECK(tsr_graph_degrees(g, deg) == TSR_OK, "degrees");
    for (int64_t u = 0; u < n; u++) {
        FZ_CHECK(indptr[u + 1] >= indptr[u], "indptr falls at row %lld", (long long)u);
        double sum = 0;
        int loop = 0;
        for (int64_t e = indptr[u]; e < indptr[u + 1]; e++) {
            FZ_CHECK(idx[e] >= 0 && idx[e] < n, "row %lld: index %d out of [0, %lld)", (long long)u, idx[e], (long long)n);
            FZ_CHECK(e == indptr[u] || idx[e] > idx[e - 1], "row %lld: indices not strictly ascending", (long long)u);
            if (w) FZ_CHECK(isfinite(w[e]), "row %lld: weight %g", (long long)u, (double)w[e]);
            sum += w ? (double)w[e] : 1.0;
            loop |= idx[e] == u;
            if (!directed && idx[e] != u) {
                int64_t at;
                FZ_CHECK(row_has(indptr, idx, idx[e], (int32_t)u, &at), "undirected graph: %lld->%d without %d->%lld",
                         (long long)u, idx[e], idx[e], (long long)u);
                if (w) FZ_CHECK(w[at] == w[e], "undirected graph: weights %g and %g of %lld<->%d", (double)w[e],
                                (double)w[at], (long long)u, idx[e]);
            }
        }
        FZ_CHECK(fabs(sum - deg[u]) <= 1e-9 * (fabs(sum) + 1e-300) + 1e-300 || sum == deg[u],
                 "degree of %lld: %g, row sum %g", (long long)u, deg[u], sum);
        if (p && p->self_loops == TSR_GRAPH_SELF_LOOPS_DROP) FZ_CHECK(!loop, "self-loop at %lld kept with DROP", (long long)u);
        if (p && p->self_loops == TSR_GRAPH_SELF_LOOPS_ADD) FZ_CHECK(loop, "no self-loop at %lld with ADD", (long long)u);
    }
    if (n > 4096 || nnz > 65536) { free(deg); return; }

    /* Y = M X against float64 */
    const int64_t cols = 1 + fz_u8(in) % 5, ldx = cols + fz_u8(in) % 3, ldy = cols + fz_u8(in) % 3;
    float *x = malloc(sizeof(float) * (size_t)(n * ldx)), *y = malloc(sizeof(float) * (size_t)(n * ldy));
    for (int64_t i = 0; i < n * ldx; i++) x[i] = fz_fill_f32(in, (size_t)i);
    for (int mat = 0; mat < 2; mat++) {
        for (int64_t i = 0; i < n * ldy; i++) y[i] = -99.0f;
        tsr_status st = tsr_graph_spmm_f32(NULL, g, (tsr_graph_matrix)mat, cols, x, ldx, y, ldy);
        FZ_CHECK(st == TSR_OK, "spmm matrix %d: %s", mat, tsr_status_string(st));
        for (int64_t u = 0; u < n; u++) {
            for (int64_t c = 0; c < cols; c++) {
                double ref = 0, mag = 0;
                for (int64_t e = indptr[u]; e < indptr[u + 1]; e++) {
                    double t = (w ? (double)w[e] : 1.0) * x[(int64_t)idx[e] * ldx + c];
                    ref += t;
                    mag += fabs(t);
                }
                if (!(mag < 1e30)) continue;  /* f32 partial sums may overflow: no reference */
                if (mat == TSR_GRAPH_TRANSITION) {
                    ref = deg[u] != 0 ? ref / deg[u] : 0.0;
                    mag = deg[u] != 0 ? mag / fabs(deg[u]) : 0.0;
                    /* a degree whose 1/deg overflows float is refused when the graph is built */
                    FZ_CHECK(deg[u] == 0 || isfinite((float)(1.0 / deg[u])), "node %lld: degree %g kept", (long long)u, deg[u]);
                }
                double got = y[u * ldy + c];
                /* relative to the magnitude of the terms (cancellation) */
                if (isfinite(mag) && mag < 1e30)
                    FZ_CHECK(fabs(got - ref) <= 1e-5 * mag + 1e-30, "spmm matrix %d: y[%lld,%lld] = %.9g, reference %.9g",
                             mat, (long long)u, (long long)c, got, ref);
            }
            for (int64_t c = cols; c < ldy; c++) FZ_CHECK(y[u * ldy + c] == -99.0f, "spmm wrote padding");
        }
    }
    FZ_CHECK(tsr_graph_spmm_f32(NULL, g, TSR_GRAPH_ADJACENCY, cols, x, ldx, y, cols - 1) == TSR_EINVAL,
             "spmm with ldy < cols accepted");
    free(x);
    free(y);

    /* FastRP on small graphs */
    if (n <= 512) {
        tsr_fastrp_params fp;
        tsr_fastrp_params_default(&fp);
        fp.dim = 1 + fz_u8(in) % 8;
        fp.q = 1 + fz_u8(in) % 3;
        fp.beta = fz_u8(in) & 1 ? -0.628 : (double)fz_f32(in);
        fp.matrix = (tsr_graph_matrix)(fz_u8(in) % 2);
        fp.normalize_rows = fz_u8(in) & 1;
        fp.standardize = fz_u8(in) & 1;
        fp.projection = (tsr_rp_kind)(fz_u8(in) % 2);
        float *emb = malloc(sizeof(float) * (size_t)(n * fp.dim));
        tsr_status st = tsr_fastrp_embed(NULL, g, &fp, emb, fp.dim);
        FZ_CHECK_ERROR(st);
        if (!isfinite(fp.beta)) FZ_CHECK(st == TSR_EINVAL, "FastRP with beta %g accepted", fp.beta);
        /* positive, moderate weights and |beta| <= 2 keep every value in range: finite */
        int tame = fabs(fp.beta) <= 2;
        for (int64_t e = 0; w && e < nnz; e++) tame &= w[e] >= 1e-3f && w[e] <= 1e3f;
        if (st == TSR_OK && tame)
            for (int64_t i = 0; i < n * fp.dim; i++) FZ_CHECK(isfinite(emb[i]), "FastRP value %g at %lld", (double)emb[i], (long long)i);
        free(emb);
    }
    free(deg);
}

static void text_case(fz_in *in, const tsr_graph_params *p) {
    const char *text = (const char *)in->p + in->pos;
    size_t len = in->n - in->pos;
    tsr_graph_t *g = NULL;
    tsr_status st = tsr_graph_parse_text(text, len, p, &g);
    FZ_CHECK_ERROR(st);
    if (p && !params_valid(p)) FZ_CHECK(st != TSR_OK, "invalid graph params accepted");
    if (st == TSR_OK) {
        FZ_CHECK(g != NULL, "TSR_OK without a graph");
        fz_in rest = fz_make(in->p, in->n);  /* data for the product: reuse the input bytes */
        check_graph(&rest, g, p, count_edge_lines(text, len));
    } else {
        FZ_CHECK(g == NULL, "a failed parse left a graph");
    }
    tsr_graph_destroy(g);
}

static void npy_case(fz_in *in, const tsr_graph_params *p, int with_weights) {
    size_t len = fz_u8(in);
    len |= (size_t)fz_u8(in) << 8;
    size_t avail = in->n - (in->pos < in->n ? in->pos : in->n);
    if (len > avail) len = avail;
    const uint8_t *edges = in->p + in->pos;
    in->pos += len;
    const uint8_t *wbytes = in->p + (in->pos < in->n ? in->pos : in->n);
    size_t wlen = with_weights ? in->n - (in->pos < in->n ? in->pos : in->n) : 0;
    int fd = memfile(edges, len), wfd = with_weights ? memfile(wbytes, wlen) : -1;
    if (fd < 0 || (with_weights && wfd < 0)) {
        if (fd >= 0) close(fd);
        if (wfd >= 0) close(wfd);
        return;  /* no memfd on this system: nothing to test */
    }
    char path[64], wpath[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    snprintf(wpath, sizeof wpath, "/proc/self/fd/%d", wfd);
    tsr_graph_t *g = NULL;
    tsr_status st = tsr_graph_load_npy(path, with_weights ? wpath : NULL, p, &g);
    FZ_CHECK_ERROR(st);
    if (!params_valid(p)) FZ_CHECK(st != TSR_OK, "invalid graph params accepted");
    if (st == TSR_OK) {
        fz_in rest = fz_make(in->p, in->n);
        check_graph(&rest, g, p, -1);
    }
    tsr_graph_destroy(g);
    close(fd);
    if (wfd >= 0) close(wfd);
}

static void arrays_case(fz_in *in, const tsr_graph_params *p) {
    int64_t m = fz_u8(in) % 33;
    int weighted = fz_u8(in) & 1;
    int64_t src[32], dst[32];
    float wt[32];
    for (int64_t e = 0; e < m; e++) {
        src[e] = fz_i64(in);
        dst[e] = fz_i64(in);
        wt[e] = weighted ? fz_f32(in) : 1.0f;
    }
    tsr_graph_t *g = NULL;
    tsr_status st = tsr_graph_create(m, src, dst, weighted ? wt : NULL, p, &g);
    FZ_CHECK_ERROR(st);
    if (!params_valid(p)) FZ_CHECK(st != TSR_OK, "invalid graph params accepted");
    int bad = 0;
    for (int64_t e = 0; e < m; e++) bad |= src[e] < 0 || dst[e] < 0 || (weighted && !isfinite(wt[e]));
    if (bad) FZ_CHECK(st != TSR_OK, "negative id or non-finite weight accepted");
    if (st == TSR_OK) check_graph(in, g, p, m);
    tsr_graph_destroy(g);
}

FZ_DEFINE_INIT

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_in in = fz_make(data, size);
    if (size == 0) {
        tsr_graph_t *g = NULL;
        FZ_CHECK(tsr_graph_parse_text("", 0, NULL, &g) == TSR_EINVAL && g == NULL, "empty text accepted");
        return 0;
    }
    tsr_graph_params p;
    uint8_t mode = data[0];
    if (mode > 3) {
        text_case(&in, NULL);
        return 0;
    }
    in.pos = 1;
    read_params(&in, &p);
    if (mode == 0) text_case(&in, &p);
    else if (mode == 3) arrays_case(&in, &p);
    else npy_case(&in, &p, mode == 2);
    return 0;
}
