/*
 * graph_io.c — edge lists from text ("u v [w]" lines, '#' comments) and from
 * NumPy .npy files. Every text error names its 1-based line.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_internal.h"

/* ---- growable edge arrays ------------------------------------------------------- */

typedef struct edge_buf {
    int64_t *src, *dst;
    float *w;
    int64_t n, cap;
    int weighted;
} edge_buf;

static int edge_push(edge_buf *b, int64_t u, int64_t v, float w) {
    if (b->n == b->cap) {
        int64_t cap = b->cap ? b->cap * 2 : 4096;
        int64_t *s = realloc(b->src, (size_t)cap * sizeof(int64_t));
        if (!s) return -1;
        b->src = s;
        int64_t *d = realloc(b->dst, (size_t)cap * sizeof(int64_t));
        if (!d) return -1;
        b->dst = d;
        if (b->weighted) {
            float *ww = realloc(b->w, (size_t)cap * sizeof(float));
            if (!ww) return -1;
            b->w = ww;
        }
        b->cap = cap;
    }
    b->src[b->n] = u;
    b->dst[b->n] = v;
    if (b->weighted) b->w[b->n] = w;
    b->n++;
    return 0;
}

static void edge_free(edge_buf *b) {
    free(b->src);
    free(b->dst);
    free(b->w);
}

/* ---- text ------------------------------------------------------------------------ */

static inline int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
static inline int is_end(const char *p, const char *e) { return p == e || *p == '\n' || *p == '#'; }

/* A token: the bytes up to the next space, newline, '#' or end. */
static const char *token_end(const char *p, const char *e) {
    while (p < e && !is_space(*p) && *p != '\n' && *p != '#') p++;
    return p;
}

static void token_copy(char *buf, size_t cap, const char *a, const char *b) {
    size_t n = (size_t)(b - a);
    if (n >= cap) n = cap - 4;
    memcpy(buf, a, n);
    if ((size_t)(b - a) >= cap) { memcpy(buf + n, "...", 3); n += 3; }
    buf[n] = 0;
}

/* Parses a node id token; returns 0 or an error message kind. */
static tsr_status parse_id(const char *a, const char *b, int64_t line, int64_t limit, const char *col,
                           int64_t *out) {
    char tok[48];
    const char *p = a;
    if (p < b && *p == '+') p++;
    if (p == b || (*a == '-')) {
        token_copy(tok, sizeof tok, a, b);
        if (*a == '-' && b - a > 1)
            return tsr_error(TSR_EFORMAT, "edge list line %lld: %s node id '%s' is negative", (long long)line, col, tok);
        return tsr_error(TSR_EFORMAT, "edge list line %lld: %s node id '%s' is not a non-negative integer",
                         (long long)line, col, tok);
    }
    int64_t v = 0;
    for (; p < b; p++) {
        if (*p < '0' || *p > '9') {
            token_copy(tok, sizeof tok, a, b);
            return tsr_error(TSR_EFORMAT, "edge list line %lld: %s node id '%s' is not a non-negative integer",
                             (long long)line, col, tok);
        }
        v = v * 10 + (*p - '0');
        if (v >= limit) {
            token_copy(tok, sizeof tok, a, b);
            return tsr_error(limit < TSR_GRAPH_MAX_NODES ? TSR_ERANGE : TSR_EFORMAT,
                             "edge list line %lld: %s node id %s is out of range (must be < %lld)", (long long)line,
                             col, tok, (long long)limit);
        }
    }
    *out = v;
    return TSR_OK;
}

static tsr_status parse_text(const char *text, size_t len, const tsr_graph_params *params, const char *fn,
                             tsr_graph_t **out) {
    int64_t limit = TSR_GRAPH_MAX_NODES;
    if (params && params->size >= sizeof(tsr_graph_params) && params->num_nodes > 0 &&
        params->num_nodes <= TSR_GRAPH_MAX_NODES)
        limit = params->num_nodes;
    edge_buf b = {0};
    int columns = 0; /* 2 or 3, fixed by the first edge line */
    int64_t first_line = 0;
    const char *p = text, *e = text + len;
    tsr_status st = TSR_OK;
    for (int64_t line = 1; p < e; line++) {
        while (p < e && is_space(*p)) p++;
        if (is_end(p, e)) {
            while (p < e && *p != '\n') p++;  /* blank line or comment */
            if (p < e) p++;
            continue;
        }
        const char *tok[4], *tend[4];
        int nt = 0;
        while (!is_end(p, e)) {
            if (nt < 4) { tok[nt] = p; tend[nt] = token_end(p, e); p = tend[nt]; }
            else p = token_end(p, e);
            nt++;
            while (p < e && is_space(*p)) p++;
        }
        while (p < e && *p != '\n') p++;  /* trailing comment */
        if (p < e) p++;
        if (nt < 2) {
            st = tsr_error(TSR_EFORMAT, "edge list line %lld: expected 'u v' or 'u v w', found 1 column", (long long)line);
            goto fail;
        }
        if (nt > 3) {
            st = tsr_error(TSR_EFORMAT, "edge list line %lld: expected 'u v' or 'u v w', found %d columns",
                           (long long)line, nt);
            goto fail;
        }
        if (!columns) {
            columns = nt;
            first_line = line;
            b.weighted = nt == 3;
        } else if (nt != columns) {
            st = tsr_error(TSR_EFORMAT, "edge list line %lld: %d columns, but line %lld has %d", (long long)line, nt,
                           (long long)first_line, columns);
            goto fail;
        }
        int64_t u, v;
        if ((st = parse_id(tok[0], tend[0], line, limit, "first", &u)) != TSR_OK) goto fail;
        if ((st = parse_id(tok[1], tend[1], line, limit, "second", &v)) != TSR_OK) goto fail;
        float w = 1.0f;
        if (nt == 3) {
            char buf[64];
            size_t tl = (size_t)(tend[2] - tok[2]);
            token_copy(buf, sizeof buf, tok[2], tend[2]);
            char *endp = NULL;
            errno = 0;
            double dv = tl < sizeof buf ? strtod(buf, &endp) : 0;
            if (tl >= sizeof buf || endp != buf + tl) {
                st = tsr_error(TSR_EFORMAT, "edge list line %lld: weight '%s' is not a number", (long long)line, buf);
                goto fail;
            }
            if (!isfinite(dv) || !isfinite((float)dv)) {
                st = tsr_error(TSR_EFORMAT, "edge list line %lld: weight '%s' is not finite (in float)", (long long)line,
                               buf);
                goto fail;
            }
            w = (float)dv;
        }
        if (edge_push(&b, u, v, w)) {
            st = tsr_error(TSR_ENOMEM, "%s: out of memory after %lld edges", fn, (long long)b.n);
            goto fail;
        }
    }
    if (b.n == 0) {
        st = tsr_error(TSR_EINVAL, "%s: empty graph (the edge list has no edges)", fn);
        goto fail;
    }
    st = graph_build(b.n, b.src, b.dst, b.weighted ? b.w : NULL, params, fn, out);
fail:
    edge_free(&b);
    return st;
}

tsr_status tsr_graph_parse_text(const char *text, size_t len, const tsr_graph_params *params, tsr_graph_t **out) {
    TSR_CHECK_NULL(out);
    *out = NULL;
    if (len > 0) TSR_CHECK_NULL(text);
    return parse_text(text, len, params, "tsr_graph_parse_text", out);
}

/* Reads a whole file into memory. */
static tsr_status read_file(const char *path, const char *fn, char **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return tsr_error(TSR_EIO, "%s: cannot open '%s': %s", fn, path, strerror(errno));
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) { free(buf); buf = NULL; }
        else buf = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return tsr_error(TSR_ENOMEM, "%s: out of memory reading '%s'", fn, path);
    if (err) { free(buf); return tsr_error(TSR_EIO, "%s: error reading '%s'", fn, path); }
    *data = buf;
    *len = n;
    return TSR_OK;
}

tsr_status tsr_graph_load_text(const char *path, const tsr_graph_params *params, tsr_graph_t **out) {
    TSR_CHECK_NULL(path);
    TSR_CHECK_NULL(out);
    *out = NULL;
    char *data;
    size_t len;
    TSR_TRY(read_file(path, "tsr_graph_load_text", &data, &len));
    tsr_status st = parse_text(data, len, params, "tsr_graph_load_text", out);
    free(data);
    return st;
}

/* ---- .npy ------------------------------------------------------------------------- */

typedef struct npy_array {
    char kind;        /* 'i', 'u', 'f' */
    int size;         /* bytes per element */
    int swap;         /* big-endian data */
    int fortran;
    int ndim;
    int64_t shape[2];
    const unsigned char *data;
} npy_array;

static tsr_status npy_parse(const char *path, const unsigned char *buf, size_t len, npy_array *a) {
    const char *fn = "tsr_graph_load_npy";
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return tsr_error(TSR_EFORMAT, "%s: '%s' is not a .npy file (bad magic)", fn, path);
    int major = buf[6];
    size_t hlen, hoff;
    if (major == 1) { hlen = buf[8] | (size_t)buf[9] << 8; hoff = 10; }
    else if (major == 2 || major == 3) {
        if (len < 12) return tsr_error(TSR_EFORMAT, "%s: '%s': truncated header", fn, path);
        hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        hoff = 12;
    } else return tsr_error(TSR_EFORMAT, "%s: '%s': unsupported .npy version %d", fn, path, major);
    if (hoff + hlen > len) return tsr_error(TSR_EFORMAT, "%s: '%s': truncated header", fn, path);
    char h[4096];
    size_t n = hlen < sizeof h - 1 ? hlen : sizeof h - 1;
    memcpy(h, buf + hoff, n);
    h[n] = 0;
    const char *d = strstr(h, "'descr'");
    const char *fo = strstr(h, "'fortran_order'");
    const char *sh = strstr(h, "'shape'");
    if (!d || !fo || !sh) return tsr_error(TSR_EFORMAT, "%s: '%s': header lacks descr/fortran_order/shape", fn, path);
    d = strchr(d + 7, '\'');
    if (!d || strlen(d) < 4) return tsr_error(TSR_EFORMAT, "%s: '%s': bad descr", fn, path);
    char order = d[1];
    a->kind = d[2];
    a->size = d[3] - '0';
    if (d[4] != '\'' || (order != '<' && order != '>' && order != '|' && order != '='))
        return tsr_error(TSR_EFORMAT, "%s: '%s': unsupported descr", fn, path);
    a->swap = order == '>';
    fo = strchr(fo + 15, ':');
    if (!fo) return tsr_error(TSR_EFORMAT, "%s: '%s': bad fortran_order", fn, path);
    while (*++fo == ' ') {}
    a->fortran = strncmp(fo, "True", 4) == 0;
    sh = strchr(sh + 7, '(');
    if (!sh) return tsr_error(TSR_EFORMAT, "%s: '%s': bad shape", fn, path);
    sh++;
    a->ndim = 0;
    while (*sh && *sh != ')') {
        while (*sh == ' ' || *sh == ',') sh++;
        if (*sh == ')') break;
        char *endp;
        long long v = strtoll(sh, &endp, 10);
        if (endp == sh || v < 0 || a->ndim == 2)
            return tsr_error(TSR_EFORMAT, "%s: '%s': unsupported shape", fn, path);
        a->shape[a->ndim++] = v;
        sh = endp;
    }
    size_t count = 1;
    for (int i = 0; i < a->ndim; i++)
        if (tsr_mul_size(count, (size_t)a->shape[i], &count))
            return tsr_error(TSR_EFORMAT, "%s: '%s': shape overflows", fn, path);
    /* compare with what follows the header (hoff + hlen <= len): a sum could wrap */
    size_t bytes, avail = len - (hoff + hlen);
    if (tsr_mul_size(count, (size_t)(a->size > 0 ? a->size : 1), &bytes) || bytes > avail)
        return tsr_error(TSR_EFORMAT, "%s: '%s': truncated data (the shape holds %zu elements of %d bytes, the file "
                         "%zu bytes after the header)", fn, path, count, a->size, avail);
    a->data = buf + hoff + hlen;
    return TSR_OK;
}

static uint64_t load_bytes(const unsigned char *p, int size, int swap) {
    uint64_t v = 0;
    for (int i = 0; i < size; i++) v |= (uint64_t)p[swap ? size - 1 - i : i] << (8 * i);
    return v;
}

static int64_t npy_int(const npy_array *a, size_t i) {
    uint64_t v = load_bytes(a->data + i * (size_t)a->size, a->size, a->swap);
    if (a->kind == 'u') return v > (uint64_t)INT64_MAX ? -1 : (int64_t)v;
    if (a->size == 4) return (int64_t)(int32_t)(uint32_t)v;
    return (int64_t)v;
}

static double npy_float(const npy_array *a, size_t i) {
    uint64_t v = load_bytes(a->data + i * (size_t)a->size, a->size, a->swap);
    if (a->size == 4) { float f; uint32_t b = (uint32_t)v; memcpy(&f, &b, 4); return f; }
    double dd;
    memcpy(&dd, &v, 8);
    return dd;
}

tsr_status tsr_graph_load_npy(const char *path, const char *weights_path, const tsr_graph_params *params,
                              tsr_graph_t **out) {
    const char *fn = "tsr_graph_load_npy";
    TSR_CHECK_NULL(path);
    TSR_CHECK_NULL(out);
    *out = NULL;
    char *buf = NULL, *wbuf = NULL;
    size_t len, wlen;
    int64_t *src = NULL, *dst = NULL;
    float *w = NULL;
    tsr_status st = read_file(path, fn, &buf, &len);
    if (st != TSR_OK) return st;
    npy_array a, wa;
    if ((st = npy_parse(path, (unsigned char *)buf, len, &a)) != TSR_OK) goto done;
    if ((a.kind != 'i' && a.kind != 'u') || (a.size != 4 && a.size != 8)) {
        st = tsr_error(TSR_EFORMAT, "%s: '%s': edges must be int32 or int64 (found %c%d)", fn, path, a.kind, a.size);
        goto done;
    }
    if (a.ndim != 2 || a.shape[1] != 2) {
        st = tsr_error(TSR_EFORMAT, "%s: '%s': edges must have shape (m, 2)", fn, path);
        goto done;
    }
    int64_t m = a.shape[0];
    src = malloc((size_t)m * sizeof(int64_t) + 1);
    dst = malloc((size_t)m * sizeof(int64_t) + 1);
    if (!src || !dst) { st = tsr_error(TSR_ENOMEM, "%s: out of memory", fn); goto done; }
    for (int64_t e = 0; e < m; e++) {
        src[e] = npy_int(&a, a.fortran ? (size_t)e : (size_t)(2 * e));
        dst[e] = npy_int(&a, a.fortran ? (size_t)(m + e) : (size_t)(2 * e + 1));
    }
    if (weights_path) {
        if ((st = read_file(weights_path, fn, &wbuf, &wlen)) != TSR_OK) goto done;
        if ((st = npy_parse(weights_path, (unsigned char *)wbuf, wlen, &wa)) != TSR_OK) goto done;
        if (wa.kind != 'f' || (wa.size != 4 && wa.size != 8)) {
            st = tsr_error(TSR_EFORMAT, "%s: '%s': weights must be float32 or float64", fn, weights_path);
            goto done;
        }
        if (wa.ndim != 1 || wa.shape[0] != m) {
            st = tsr_error(TSR_EFORMAT, "%s: '%s': weights must have shape (%lld,)", fn, weights_path, (long long)m);
            goto done;
        }
        w = malloc((size_t)m * sizeof(float) + 1);
        if (!w) { st = tsr_error(TSR_ENOMEM, "%s: out of memory", fn); goto done; }
        for (int64_t e = 0; e < m; e++) w[e] = (float)npy_float(&wa, (size_t)e);
    }
    st = graph_build(m, src, dst, w, params, fn, out);
done:
    free(buf);
    free(wbuf);
    free(src);
    free(dst);
    free(w);
    return st;
}
