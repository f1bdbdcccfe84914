/*
 * graph_build.c — CSR graphs from edge arrays: validation, symmetrisation,
 * counting sort by source, per-row sort by target, duplicate merging, degrees.
 *
 * Entries of a row are sorted as 64-bit keys (target << 32 | weight bits), so
 * the merged weights do not depend on the order the edges were given in.
 */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

void tsr_graph_params_default(tsr_graph_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->directed = 0;
    p->num_nodes = 0;
    p->self_loops = TSR_GRAPH_SELF_LOOPS_KEEP;
    p->merge = TSR_GRAPH_MERGE_SUM;
}

static inline uint64_t key_of(int64_t v, float w) {
    uint32_t b;
    memcpy(&b, &w, 4);
    /* order weights by value, so equal (target, weight) keys are interchangeable */
    b = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return ((uint64_t)v << 32) | b;
}
static inline float weight_of(uint64_t key) {
    uint32_t b = (uint32_t)key;
    b = (b & 0x80000000u) ? (b & 0x7fffffffu) : ~b;
    float w;
    memcpy(&w, &b, 4);
    return w;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sort_keys(uint64_t *k, int64_t n) {
    if (n <= 24) {
        for (int64_t i = 1; i < n; i++) {
            uint64_t v = k[i];
            int64_t j = i - 1;
            while (j >= 0 && k[j] > v) { k[j + 1] = k[j]; j--; }
            k[j + 1] = v;
        }
    } else {
        int64_t i = 1;
        while (i < n && k[i - 1] <= k[i]) i++;  /* rows from a sorted CSR (scipy's) are in order already */
        if (i < n) qsort(k, (size_t)n, sizeof *k, cmp_u64);
    }
}

typedef struct sort_ctx {
    const int64_t *start;   /* n + 1 offsets into keys */
    uint64_t *keys;
    int64_t *count;         /* out: merged entries per row */
    tsr_graph_merge merge;
    _Atomic int64_t overflow_row;   /* out: a row whose summed duplicates overflow float, or -1 */
} sort_ctx;

/* Sorts each row's keys and merges duplicates in place (merged weight kept in the key). */
static void sort_rows(void *vc, int64_t begin, int64_t end, int32_t worker) {
    sort_ctx *c = vc;
    for (int64_t u = begin; u < end; u++) {
        uint64_t *k = c->keys + c->start[u];
        int64_t n = c->start[u + 1] - c->start[u];
        sort_keys(k, n);
        int64_t o = 0;
        for (int64_t i = 0; i < n;) {
            uint64_t tgt = k[i] >> 32;
            int64_t j = i + 1;
            while (j < n && (k[j] >> 32) == tgt) j++;
            float w;
            if (j - i == 1) {
                w = weight_of(k[i]);
            } else if (c->merge == TSR_GRAPH_MERGE_MAX) {
                w = weight_of(k[j - 1]);
            } else {
                double sum = 0;  /* ascending weight order: deterministic */
                for (int64_t t = i; t < j; t++) sum += weight_of(k[t]);
                if (fabs(sum) > FLT_MAX) atomic_store(&c->overflow_row, u);   /* refused after the pass */
                w = (float)sum;
            }
            k[o++] = key_of((int64_t)tgt, w);
            i = j;
        }
        c->count[u] = o;
    }
}

typedef struct fill_ctx {
    const int64_t *start;
    const uint64_t *keys;
    tsr_graph_t *g;
} fill_ctx;

static void fill_rows(void *vc, int64_t begin, int64_t end, int32_t worker) {
    fill_ctx *c = vc;
    tsr_graph_t *g = c->g;
    for (int64_t u = begin; u < end; u++) {
        const uint64_t *k = c->keys + c->start[u];
        int64_t o = g->indptr[u], n = g->indptr[u + 1] - o;
        double deg = 0;
        for (int64_t i = 0; i < n; i++) {
            float w = weight_of(k[i]);
            g->indices[o + i] = (int32_t)(k[i] >> 32);
            if (g->weights) g->weights[o + i] = w;
            deg += g->weights ? (double)w : 1.0;
        }
        g->degree[u] = deg;
        g->inv_degree[u] = deg != 0 ? (float)(1.0 / deg) : 0.0f;
    }
}

void tsr_graph_destroy(tsr_graph_t *g) {
    if (!g) return;
    tsr_free(g->indptr);
    tsr_free(g->indices);
    tsr_free(g->weights);
    tsr_free(g->degree);
    tsr_free(g->inv_degree);
    tsr_free(g);
}

/* Most nodes an inferred node count (max id + 1) may give for m edges. */
static int64_t inferred_node_limit(int64_t m) {
    return m > (INT64_MAX - TSR_GRAPH_INFERRED_SLACK) / 2 ? INT64_MAX : 2 * m + TSR_GRAPH_INFERRED_SLACK;
}

tsr_status graph_build(int64_t m, const int64_t *src, const int64_t *dst, const float *w,
                       const tsr_graph_params *params, const char *fn, tsr_graph_t **out) {
    tsr_graph_params p;
    tsr_graph_params_default(&p);
    if (params) {
        if (params->size < sizeof(tsr_graph_params))
            return tsr_error(TSR_EINVAL, "%s: params->size is %u, expected %zu", fn, params->size,
                             sizeof(tsr_graph_params));
        p = *params;
    }
    if (p.num_nodes < 0 || p.num_nodes > TSR_GRAPH_MAX_NODES)
        return tsr_error(TSR_EINVAL, "%s: num_nodes must be in [0, %lld] (got %lld)", fn,
                         (long long)TSR_GRAPH_MAX_NODES, (long long)p.num_nodes);
    if ((int)p.self_loops < 0 || p.self_loops >= TSR_GRAPH_SELF_LOOPS_COUNT)
        return tsr_error(TSR_EINVAL, "%s: invalid self_loops %d", fn, (int)p.self_loops);
    if ((int)p.merge < 0 || p.merge >= TSR_GRAPH_MERGE_COUNT)
        return tsr_error(TSR_EINVAL, "%s: invalid merge %d", fn, (int)p.merge);
    if (p.directed != 0 && p.directed != 1)
        return tsr_error(TSR_EINVAL, "%s: directed must be 0 or 1 (got %d)", fn, p.directed);
    if (m < 0) return tsr_error(TSR_EINVAL, "%s: edge count must be >= 0 (got %lld)", fn, (long long)m);
    if (m > 0 && (!src || !dst)) return tsr_error(TSR_EINVAL, "%s: argument '%s' is NULL", fn, src ? "dst" : "src");

    /* validate ids and weights; find n */
    int64_t limit = p.num_nodes ? p.num_nodes : TSR_GRAPH_MAX_NODES;
    int64_t maxid = -1;
    for (int64_t e = 0; e < m; e++) {
        int64_t u = src[e], v = dst[e];
        if (u < 0 || u >= limit || v < 0 || v >= limit) {
            int64_t bad = (u < 0 || u >= limit) ? u : v;
            return tsr_error(TSR_ERANGE, "%s: edge %lld (%lld -> %lld): node id %lld is %s", fn, (long long)e,
                             (long long)u, (long long)v, (long long)bad,
                             bad < 0 ? "negative" : (p.num_nodes ? "not below num_nodes" : "too large"));
        }
        if (w && !isfinite(w[e]))
            return tsr_error(TSR_EINVAL, "%s: edge %lld (%lld -> %lld) has a non-finite weight", fn, (long long)e,
                             (long long)u, (long long)v);
        if (u > maxid) maxid = u;
        if (v > maxid) maxid = v;
    }
    int64_t n = p.num_nodes ? p.num_nodes : maxid + 1;
    if (n <= 0) return tsr_error(TSR_EINVAL, "%s: empty graph (no edges and no num_nodes)", fn);
    /* an inferred node count may not outgrow the edges that imply it (graph.h) */
    if (!p.num_nodes && n > inferred_node_limit(m))
        return tsr_error(TSR_ERANGE, "%s: the largest node id, %lld, implies %lld nodes for %lld edges (at most "
                         "2 x edges + %d without num_nodes); set num_nodes to allow a sparse id space", fn,
                         (long long)maxid, (long long)n, (long long)m, TSR_GRAPH_INFERRED_SLACK);
    /* n + 1 offsets and counts, indptr, degrees, inverse degrees; at most 2m + n entries (keys, indices, weights) */
    char what[96];
    snprintf(what, sizeof what, "a graph of %lld nodes and %lld edges", (long long)n, (long long)m);
    TSR_TRY(tsr_check_alloc(fn, what, (double)n * 36 + (2.0 * (double)m + (double)n) * 16));

    tsr_status st = TSR_OK;
    tsr_graph_t *g = tsr_calloc(1, sizeof *g);
    int64_t *start = tsr_calloc((size_t)n + 1, sizeof(int64_t));
    int64_t *count = tsr_calloc((size_t)n + 1, sizeof(int64_t));
    uint64_t *keys = NULL;
    if (!g || !start || !count) { st = tsr_error(TSR_ENOMEM, "%s: out of memory", fn); goto done; }
    g->n = n;
    g->directed = p.directed;
    /* count entries per source row */
    for (int64_t e = 0; e < m; e++) {
        int64_t u = src[e], v = dst[e];
        if (u == v) {
            if (p.self_loops != TSR_GRAPH_SELF_LOOPS_DROP) start[u + 1]++;
        } else {
            start[u + 1]++;
            if (!p.directed) start[v + 1]++;
        }
    }
    if (p.self_loops == TSR_GRAPH_SELF_LOOPS_ADD)
        for (int64_t u = 0; u < n; u++) start[u + 1]++;
    for (int64_t u = 0; u < n; u++) start[u + 1] += start[u];
    int64_t total = start[n];
    if (total == 0) { st = tsr_error(TSR_EINVAL, "%s: empty graph (no edges left)", fn); goto done; }
    keys = tsr_malloc((size_t)total * sizeof(uint64_t));
    if (!keys) { st = tsr_error(TSR_ENOMEM, "%s: out of memory for %lld entries", fn, (long long)total); goto done; }
    memcpy(count, start, (size_t)n * sizeof(int64_t)); /* fill cursors */
    for (int64_t e = 0; e < m; e++) {
        int64_t u = src[e], v = dst[e];
        float we = w ? w[e] : 1.0f;
        if (u == v) {
            if (p.self_loops != TSR_GRAPH_SELF_LOOPS_DROP) keys[count[u]++] = key_of(v, we);
        } else {
            keys[count[u]++] = key_of(v, we);
            if (!p.directed) keys[count[v]++] = key_of(u, we);
        }
    }
    if (p.self_loops == TSR_GRAPH_SELF_LOOPS_ADD)
        for (int64_t u = 0; u < n; u++) keys[count[u]++] = key_of(u, 1.0f);

    /* unweighted graphs merge duplicates to a single edge of weight 1 */
    sort_ctx sc = {.start = start, .keys = keys, .count = count, .merge = w ? p.merge : TSR_GRAPH_MERGE_MAX,
                   .overflow_row = -1};
    st = tsr_parallel_for(NULL, n, 1024, TSR_SCHEDULE_DYNAMIC, sort_rows, &sc);
    if (st != TSR_OK) goto done;
    if (atomic_load(&sc.overflow_row) >= 0) {
        st = tsr_error(TSR_ERANGE, "%s: duplicate edges of node %lld sum to a weight beyond float's range "
                       "(merge = sum); scale the weights or use merge = max", fn, (long long)atomic_load(&sc.overflow_row));
        goto done;
    }
    g->indptr = tsr_malloc(((size_t)n + 1) * sizeof(int64_t));
    if (!g->indptr) { st = tsr_error(TSR_ENOMEM, "%s: out of memory", fn); goto done; }
    g->indptr[0] = 0;
    for (int64_t u = 0; u < n; u++) g->indptr[u + 1] = g->indptr[u] + count[u];
    g->nnz = g->indptr[n];
    g->indices = tsr_malloc((size_t)g->nnz * sizeof(int32_t) + 1);
    g->weights = w ? tsr_malloc((size_t)g->nnz * sizeof(float) + 1) : NULL;
    g->degree = tsr_malloc((size_t)n * sizeof(double));
    g->inv_degree = tsr_malloc((size_t)n * sizeof(float));
    if (!g->indices || (w && !g->weights) || !g->degree || !g->inv_degree) {
        st = tsr_error(TSR_ENOMEM, "%s: out of memory", fn);
        goto done;
    }
    fill_ctx fc = {.start = start, .keys = keys, .g = g};
    st = tsr_parallel_for(NULL, n, 1024, TSR_SCHEDULE_DYNAMIC, fill_rows, &fc);
    /* the transition matrix D^-1 S keeps 1/deg in float: a degree below ~2.9e-39 in magnitude
     * (subnormal or cancelling weights) would make its rows infinite */
    for (int64_t u = 0; st == TSR_OK && u < n; u++)
        if (g->degree[u] != 0 && fabs(1.0 / g->degree[u]) > FLT_MAX)
            st = tsr_error(TSR_ERANGE, "%s: node %lld has weighted degree %.3g, too close to 0 for the transition "
                           "matrix (1/degree overflows float); scale the weights", fn, (long long)u, g->degree[u]);
done:
    tsr_free(start);
    tsr_free(count);
    tsr_free(keys);
    if (st != TSR_OK) {
        tsr_graph_destroy(g);
        return st;
    }
    *out = g;
    return TSR_OK;
}

tsr_status tsr_graph_create(int64_t m, const int64_t *src, const int64_t *dst, const float *weights,
                            const tsr_graph_params *params, tsr_graph_t **out) {
    TSR_CHECK_NULL(out);
    *out = NULL;
    return graph_build(m, src, dst, weights, params, "tsr_graph_create", out);
}

int64_t tsr_graph_num_nodes(const tsr_graph_t *g) { return g ? g->n : 0; }
int64_t tsr_graph_num_entries(const tsr_graph_t *g) { return g ? g->nnz : 0; }
int32_t tsr_graph_is_weighted(const tsr_graph_t *g) { return g && g->weights ? 1 : 0; }
int32_t tsr_graph_is_directed(const tsr_graph_t *g) { return g ? g->directed : 0; }

tsr_status tsr_graph_csr(const tsr_graph_t *g, const int64_t **indptr, const int32_t **indices,
                         const float **weights) {
    TSR_CHECK_NULL(g);
    if (indptr) *indptr = g->indptr;
    if (indices) *indices = g->indices;
    if (weights) *weights = g->weights;
    return TSR_OK;
}

tsr_status tsr_graph_degrees(const tsr_graph_t *g, double *out) {
    TSR_CHECK_NULL(g);
    TSR_CHECK_NULL(out);
    memcpy(out, g->degree, (size_t)g->n * sizeof(double));
    return TSR_OK;
}
