/*
 * tessera_mpi.c — libtessera_mpi.so, a drop-in interposition library for unmodified
 * MPI programs (LD_PRELOAD=libtessera_mpi.so mpirun ...).
 *
 * It defines MPI_* symbols and forwards to the next definition found with
 * dlsym(RTLD_NEXT) (falling back to dlopen of libmpi), as TEMPI does (ALGORITHMS.md §3d):
 *   - MPI_Type_commit builds the Tessera canonical form from MPI_Type_get_envelope /
 *     get_contents and caches it per handle; MPI_Type_free drops the cache entry;
 *   - MPI_Pack / MPI_Unpack / MPI_Pack_size use Tessera's kernels for cached types;
 *   - MPI_Send / Recv / Isend / Irecv / Sendrecv with a non-contiguous cached type
 *     pack with Tessera, move MPI_BYTEs, and unpack on arrival (Wait/Test family);
 *   - a cached type whose data is one dense block (a contiguous face at any offset) goes
 *     to the real MPI with its own type: no staging copy;
 *   - everything else, and every type it cannot translate (DARRAY, F90, pair types
 *     with holes, sizes past INT_MAX), goes to the real MPI untouched.
 * TESSERA_MPI_DISABLE=1 turns it off; TESSERA_MPI_VERBOSE=1 prints counters at MPI_Finalize.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- real symbols -------------------------------------------------------------------------- */

static void *real_sym(const char *name) {
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        static void *lib;
        if (!lib) lib = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
        if (!lib) lib = dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL);
        if (lib) p = dlsym(lib, name);
    }
    if (!p) {
        fprintf(stderr, "libtessera_mpi: cannot find the real %s\n", name);
        abort(); /* no MPI library underneath: nothing sensible can run */
    }
    return p;
}

#define REAL(name, ret, args)                                                  \
    static ret(*real_##name) args;                                             \
    static inline ret(*get_##name(void)) args {                                \
        if (!real_##name) real_##name = (ret(*) args)real_sym(#name);          \
        return real_##name;                                                    \
    }

REAL(MPI_Type_commit, int, (MPI_Datatype *))
REAL(MPI_Type_free, int, (MPI_Datatype *))
REAL(MPI_Type_get_envelope, int, (MPI_Datatype, int *, int *, int *, int *))
REAL(MPI_Type_get_contents, int, (MPI_Datatype, int, int, int, int *, MPI_Aint *, MPI_Datatype *))
REAL(MPI_Type_size, int, (MPI_Datatype, int *))
REAL(MPI_Type_get_extent, int, (MPI_Datatype, MPI_Aint *, MPI_Aint *))
REAL(MPI_Type_get_true_extent, int, (MPI_Datatype, MPI_Aint *, MPI_Aint *))
REAL(MPI_Pack, int, (const void *, int, MPI_Datatype, void *, int, int *, MPI_Comm))
REAL(MPI_Unpack, int, (const void *, int, int *, void *, int, MPI_Datatype, MPI_Comm))
REAL(MPI_Pack_size, int, (int, MPI_Datatype, MPI_Comm, int *))
REAL(MPI_Send, int, (const void *, int, MPI_Datatype, int, int, MPI_Comm))
REAL(MPI_Recv, int, (void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Status *))
REAL(MPI_Isend, int, (const void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Request *))
REAL(MPI_Irecv, int, (void *, int, MPI_Datatype, int, int, MPI_Comm, MPI_Request *))
REAL(MPI_Sendrecv, int, (const void *, int, MPI_Datatype, int, int, void *, int, MPI_Datatype, int, int, MPI_Comm,
                         MPI_Status *))
REAL(MPI_Wait, int, (MPI_Request *, MPI_Status *))
REAL(MPI_Waitall, int, (int, MPI_Request *, MPI_Status *))
REAL(MPI_Waitany, int, (int, MPI_Request *, int *, MPI_Status *))
REAL(MPI_Test, int, (MPI_Request *, int *, MPI_Status *))
REAL(MPI_Testall, int, (int, MPI_Request *, int *, MPI_Status *))
REAL(MPI_Get_count, int, (const MPI_Status *, MPI_Datatype, int *))
REAL(MPI_Finalize, int, (void))
REAL(MPI_Comm_rank, int, (MPI_Comm, int *))

/*
 * Several ranks share a node: unless the user says otherwise, each rank packs on its
 * own thread and leaves the binding to mpirun (the pool would pin the caller to core 0).
 */
__attribute__((constructor)) static void tessera_mpi_defaults(void) {
    setenv("TESSERA_NUM_THREADS", "1", 0);
    setenv("TESSERA_BIND", "none", 0);
}

/* ---- settings and counters ------------------------------------------------------------------ */

static int disabled = -1, verbose;
static long n_commit, n_cached, n_pack, n_unpack, n_send, n_recv, n_direct;

static int off(void) {
    if (disabled < 0) {
        const char *d = getenv("TESSERA_MPI_DISABLE");
        const char *v = getenv("TESSERA_MPI_VERBOSE");
        verbose = v && v[0] && v[0] != '0';
        disabled = d && d[0] && d[0] != '0';
    }
    return disabled;
}

/* ---- cache: MPI_Datatype -> committed Tessera type (NULL entry: cannot handle) ---------------- */

/* dense: the type's data is one block (canonical STRIDED, no streams); with extent == size,
 * count elements are one block too. Such data the real MPI moves in one copy (or none). */
typedef struct entry { MPI_Datatype key; tsr_datatype_t *t; int dense; int64_t size, extent; struct entry *next; } entry;
static entry *buckets[1024];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t bucket(MPI_Datatype d) { return ((uintptr_t)d >> 4) * 0x9E3779B97F4A7C15ull >> 54; }

static int cache_get(MPI_Datatype d, entry *out) {
    pthread_mutex_lock(&cache_lock);
    entry *e = buckets[bucket(d)];
    while (e && e->key != d) e = e->next;
    if (e) *out = *e;
    pthread_mutex_unlock(&cache_lock);
    return e != NULL && e->t != NULL;
}

static void cache_put(MPI_Datatype d, tsr_datatype_t *t) {
    entry *e = calloc(1, sizeof *e);
    if (!e) { tsr_datatype_destroy(t); return; }
    e->key = d;
    e->t = t;
    if (t) {
        tsr_canon_info ci = {.size = sizeof ci};
        tsr_datatype_canon_info_get(t, &ci);
        e->size = ci.type_size;
        e->extent = ci.extent;
        e->dense = ci.kind == TSR_CANON_EMPTY || (ci.kind == TSR_CANON_STRIDED && ci.ndims == 0);
    }
    pthread_mutex_lock(&cache_lock);
    size_t b = bucket(d);
    /* replace a stale entry for a reused handle */
    for (entry **pp = &buckets[b]; *pp; pp = &(*pp)->next)
        if ((*pp)->key == d) {
            entry *old = *pp;
            *pp = old->next;
            tsr_datatype_destroy(old->t);
            free(old);
            break;
        }
    e->next = buckets[b];
    buckets[b] = e;
    pthread_mutex_unlock(&cache_lock);
}

static void cache_drop(MPI_Datatype d) {
    pthread_mutex_lock(&cache_lock);
    for (entry **pp = &buckets[bucket(d)]; *pp; pp = &(*pp)->next)
        if ((*pp)->key == d) {
            entry *old = *pp;
            *pp = old->next;
            tsr_datatype_destroy(old->t);
            free(old);
            break;
        }
    pthread_mutex_unlock(&cache_lock);
}

/* ---- translation from MPI_Type_get_contents ------------------------------------------------------- */

static tsr_datatype_t *translate(MPI_Datatype d, int depth);

static int is_named(MPI_Datatype d) {
    int ni, na, nd, comb;
    return get_MPI_Type_get_envelope()(d, &ni, &na, &nd, &comb) == MPI_SUCCESS && comb == MPI_COMBINER_NAMED;
}

static tsr_datatype_t *translate_named(MPI_Datatype d) {
    int size;
    MPI_Aint lb, ext, tlb, text;
    if (get_MPI_Type_size()(d, &size) != MPI_SUCCESS || get_MPI_Type_get_extent()(d, &lb, &ext) != MPI_SUCCESS ||
        get_MPI_Type_get_true_extent()(d, &tlb, &text) != MPI_SUCCESS)
        return NULL;
    /* pair types like MPI_DOUBLE_INT have holes: leave them to MPI */
    if (lb != 0 || ext != size || tlb != 0 || text != size || size <= 0) return NULL;
    tsr_datatype_t *byte, *t = NULL;
    tsr_datatype_named(TSR_TYPE_BYTE, &byte);
    if (size == 1) return tsr_datatype_dup(byte, &t) == TSR_OK ? t : NULL;
    return tsr_datatype_contiguous(size, byte, &t) == TSR_OK ? t : NULL;
}

static tsr_datatype_t *translate(MPI_Datatype d, int depth) {
    int ni, na, nd, comb;
    if (depth > 64 || get_MPI_Type_get_envelope()(d, &ni, &na, &nd, &comb) != MPI_SUCCESS) return NULL;
    if (comb == MPI_COMBINER_NAMED) return translate_named(d);
    int *ints = malloc(sizeof(int) * (size_t)(ni + 1));
    MPI_Aint *addrs = malloc(sizeof(MPI_Aint) * (size_t)(na + 1));
    MPI_Datatype *types = malloc(sizeof(MPI_Datatype) * (size_t)(nd + 1));
    int64_t *a64 = malloc(sizeof(int64_t) * (size_t)(ni + na + 1));
    int64_t *b64 = malloc(sizeof(int64_t) * (size_t)(ni + na + 1));
    tsr_datatype_t **kids = calloc((size_t)(nd + 1), sizeof *kids);
    tsr_datatype_t *out = NULL;
    if (!ints || !addrs || !types || !a64 || !b64 || !kids) goto done;
    if (get_MPI_Type_get_contents()(d, ni, na, nd, ints, addrs, types) != MPI_SUCCESS) { nd = 0; goto done; }
    for (int i = 0; i < nd; i++)
        if (!(kids[i] = translate(types[i], depth + 1))) goto done;
    tsr_status s = TSR_EUNSUPPORTED;
    switch (comb) {
    case MPI_COMBINER_DUP: s = tsr_datatype_dup(kids[0], &out); break;
    case MPI_COMBINER_CONTIGUOUS: s = tsr_datatype_contiguous(ints[0], kids[0], &out); break;
    case MPI_COMBINER_VECTOR: s = tsr_datatype_vector(ints[0], ints[1], ints[2], kids[0], &out); break;
    case MPI_COMBINER_HVECTOR: s = tsr_datatype_hvector(ints[0], ints[1], addrs[0], kids[0], &out); break;
    case MPI_COMBINER_INDEXED:
        for (int i = 0; i < ints[0]; i++) { a64[i] = ints[1 + i]; b64[i] = ints[1 + ints[0] + i]; }
        s = tsr_datatype_indexed(ints[0], a64, b64, kids[0], &out);
        break;
    case MPI_COMBINER_HINDEXED:
        for (int i = 0; i < ints[0]; i++) { a64[i] = ints[1 + i]; b64[i] = addrs[i]; }
        s = tsr_datatype_hindexed(ints[0], a64, b64, kids[0], &out);
        break;
    case MPI_COMBINER_INDEXED_BLOCK:
        for (int i = 0; i < ints[0]; i++) b64[i] = ints[2 + i];
        s = tsr_datatype_indexed_block(ints[0], ints[1], b64, kids[0], &out);
        break;
    case MPI_COMBINER_HINDEXED_BLOCK:
        for (int i = 0; i < ints[0]; i++) b64[i] = addrs[i];
        s = tsr_datatype_hindexed_block(ints[0], ints[1], b64, kids[0], &out);
        break;
    case MPI_COMBINER_STRUCT:
        for (int i = 0; i < ints[0]; i++) { a64[i] = ints[1 + i]; b64[i] = addrs[i]; }
        s = tsr_datatype_struct(ints[0], a64, b64, kids, &out);
        break;
    case MPI_COMBINER_SUBARRAY: {
        int n = ints[0];
        int64_t sz[32], sub[32], st[32];
        if (n < 1 || n > 32) break;
        for (int i = 0; i < n; i++) { sz[i] = ints[1 + i]; sub[i] = ints[1 + n + i]; st[i] = ints[1 + 2 * n + i]; }
        tsr_order ord = ints[1 + 3 * n] == MPI_ORDER_FORTRAN ? TSR_ORDER_FORTRAN : TSR_ORDER_C;
        s = tsr_datatype_subarray(n, sz, sub, st, ord, kids[0], &out);
        break;
    }
    case MPI_COMBINER_RESIZED: s = tsr_datatype_resized(kids[0], addrs[0], addrs[1], &out); break;
    default: break; /* DARRAY, F90 types: the real MPI keeps them */
    }
    if (s != TSR_OK) out = NULL;
done:
    for (int i = 0; i < nd; i++) {
        if (kids && kids[i]) tsr_datatype_destroy(kids[i]);
        if (types && !is_named(types[i])) get_MPI_Type_free()(&types[i]);
    }
    free(ints); free(addrs); free(types); free(a64); free(b64); free(kids);
    return out;
}

/* Translates and checks the result against MPI's own size and extent. */
static void cache_type(MPI_Datatype d) {
    n_commit++;
    tsr_datatype_t *t = translate(d, 0);
    if (t && tsr_datatype_commit(t) == TSR_OK) {
        int size;
        MPI_Aint lb, ext;
        int64_t tsize, tlb, text;
        get_MPI_Type_size()(d, &size);
        get_MPI_Type_get_extent()(d, &lb, &ext);
        tsr_datatype_size(t, &tsize);
        tsr_datatype_extent(t, &tlb, &text);
        if (tsize != size || tlb != lb || text != ext) { tsr_datatype_destroy(t); t = NULL; }
    } else if (t) {
        tsr_datatype_destroy(t);
        t = NULL;
    }
    if (t) n_cached++;
    cache_put(d, t);
}

/*
 * The cached Tessera type for (d, count), or 0 to forward the call untouched. Data that is
 * one dense block in memory (a contiguous face: a slab of a C-order grid, any offset) goes
 * straight to the real MPI with the caller's own type: packing it would add a copy that
 * the real MPI does not make.
 */
static int use_tessera(MPI_Datatype d, int count, entry *e) {
    if (off() || count < 0) return 0;
    if (!cache_get(d, e)) return 0;
    if (e->dense && (count <= 1 || e->extent == e->size)) { n_direct++; return 0; }
    return (int64_t)count * e->size <= INT_MAX;
}

/* ---- datatypes ------------------------------------------------------------------------------- */

EXPORT int MPI_Type_commit(MPI_Datatype *type) {
    int rc = get_MPI_Type_commit()(type);
    if (rc == MPI_SUCCESS && !off()) cache_type(*type);
    return rc;
}

EXPORT int MPI_Type_free(MPI_Datatype *type) {
    if (type && !off()) cache_drop(*type);
    return get_MPI_Type_free()(type);
}

EXPORT int MPI_Pack(const void *inbuf, int incount, MPI_Datatype datatype, void *outbuf, int outsize, int *position,
                    MPI_Comm comm) {
    entry e;
    if (position && use_tessera(datatype, incount, &e)) {
        int64_t pos = *position;
        if (tsr_datatype_pack(NULL, inbuf, incount, e.t, outbuf, outsize, &pos) == TSR_OK) {
            *position = (int)pos;
            n_pack++;
            return MPI_SUCCESS;
        }
    }
    return get_MPI_Pack()(inbuf, incount, datatype, outbuf, outsize, position, comm);
}

EXPORT int MPI_Unpack(const void *inbuf, int insize, int *position, void *outbuf, int outcount, MPI_Datatype datatype,
                      MPI_Comm comm) {
    entry e;
    if (position && use_tessera(datatype, outcount, &e)) {
        int64_t pos = *position;
        if (tsr_datatype_unpack(NULL, inbuf, insize, &pos, outbuf, outcount, e.t) == TSR_OK) {
            *position = (int)pos;
            n_unpack++;
            return MPI_SUCCESS;
        }
    }
    return get_MPI_Unpack()(inbuf, insize, position, outbuf, outcount, datatype, comm);
}

EXPORT int MPI_Pack_size(int incount, MPI_Datatype datatype, MPI_Comm comm, int *size) {
    entry e;
    if (size && use_tessera(datatype, incount, &e)) {
        *size = (int)(incount * e.size);
        return MPI_SUCCESS;
    }
    return get_MPI_Pack_size()(incount, datatype, comm, size);
}

/* ---- point-to-point --------------------------------------------------------------------------- */

/* One staging buffer per thread for blocking calls (grow-only). */
static __thread void *stage_buf;
static __thread size_t stage_cap;

static void *stage(size_t bytes) {
    if (bytes <= stage_cap) return stage_buf;
    tsr_free(stage_buf);
    stage_buf = tsr_malloc(bytes ? bytes : 1);
    stage_cap = stage_buf ? bytes : 0;
    return stage_buf;
}

EXPORT int MPI_Send(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm) {
    entry e;
    if (use_tessera(datatype, count, &e)) {
        int64_t bytes = count * e.size, pos = 0;
        void *tmp = stage((size_t)bytes);
        if (tmp && tsr_datatype_pack(NULL, buf, count, e.t, tmp, bytes, &pos) == TSR_OK) {
            n_send++;
            return get_MPI_Send()(tmp, (int)bytes, MPI_BYTE, dest, tag, comm);
        }
    }
    return get_MPI_Send()(buf, count, datatype, dest, tag, comm);
}

/* Unpacks `got` received bytes (possibly fewer than count elements). */
static void unpack_received(const entry *e, const void *tmp, int got, void *buf, int count) {
    if (got <= 0) return;
    tsr_datatype_unpack_range(NULL, tmp, 0, got, buf, count, e->t);
}

EXPORT int MPI_Recv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm, MPI_Status *status) {
    entry e;
    if (use_tessera(datatype, count, &e)) {
        int64_t bytes = count * e.size;
        void *tmp = stage((size_t)bytes);
        if (tmp) {
            MPI_Status st;
            MPI_Status *sp = status == MPI_STATUS_IGNORE ? &st : status;
            int rc = get_MPI_Recv()(tmp, (int)bytes, MPI_BYTE, source, tag, comm, sp);
            if (rc == MPI_SUCCESS) {
                int got = 0;
                get_MPI_Get_count()(sp, MPI_BYTE, &got);
                unpack_received(&e, tmp, got, buf, count);
                n_recv++;
            }
            return rc;
        }
    }
    return get_MPI_Recv()(buf, count, datatype, source, tag, comm, status);
}

/* Pending nonblocking operations with a staging buffer, keyed by request. */
typedef struct pending {
    MPI_Request req;
    void *tmp;
    int is_recv;
    void *buf;
    int count;
    tsr_datatype_t *t;   /* own reference (a dup), so MPI_Type_free before Wait is safe */
    struct pending *next;
} pending;
static pending *pend_head;
static pthread_mutex_t pend_lock = PTHREAD_MUTEX_INITIALIZER;
static int n_pending;

static void pend_add(pending *p) {
    pthread_mutex_lock(&pend_lock);
    p->next = pend_head;
    pend_head = p;
    n_pending++;
    pthread_mutex_unlock(&pend_lock);
}

static pending *pend_take(MPI_Request r) {
    if (r == MPI_REQUEST_NULL) return NULL;
    pthread_mutex_lock(&pend_lock);
    pending *found = NULL;
    if (n_pending)
        for (pending **pp = &pend_head; *pp; pp = &(*pp)->next)
            if ((*pp)->req == r) { found = *pp; *pp = found->next; n_pending--; break; }
    pthread_mutex_unlock(&pend_lock);
    return found;
}

/* Completes a finished pending operation: unpack a receive, release the staging. */
static void pend_finish(pending *p, MPI_Status *st) {
    if (p->is_recv) {
        int got = 0;
        if (st) get_MPI_Get_count()(st, MPI_BYTE, &got);
        entry e = {.t = p->t};
        unpack_received(&e, p->tmp, got, p->buf, p->count);
        n_recv++;
    }
    tsr_free(p->tmp);
    tsr_datatype_destroy(p->t);
    free(p);
}

static pending *pend_new(const entry *e, int count, void *buf, int is_recv) {
    pending *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->tmp = tsr_malloc((size_t)(count * e->size));
    if (!p->tmp || tsr_datatype_dup(e->t, &p->t) != TSR_OK) { tsr_free(p->tmp); free(p); return NULL; }
    p->is_recv = is_recv;
    p->buf = buf;
    p->count = count;
    return p;
}

EXPORT int MPI_Isend(const void *buf, int count, MPI_Datatype datatype, int dest, int tag, MPI_Comm comm,
                     MPI_Request *request) {
    entry e;
    if (request && use_tessera(datatype, count, &e)) {
        pending *p = pend_new(&e, count, NULL, 0);
        int64_t pos = 0;
        if (p && tsr_datatype_pack(NULL, buf, count, e.t, p->tmp, count * e.size, &pos) == TSR_OK) {
            int rc = get_MPI_Isend()(p->tmp, (int)(count * e.size), MPI_BYTE, dest, tag, comm, request);
            if (rc != MPI_SUCCESS) { pend_finish(p, NULL); return rc; }
            p->req = *request;
            pend_add(p);
            n_send++;
            return rc;
        }
        if (p) pend_finish(p, NULL);
    }
    return get_MPI_Isend()(buf, count, datatype, dest, tag, comm, request);
}

EXPORT int MPI_Irecv(void *buf, int count, MPI_Datatype datatype, int source, int tag, MPI_Comm comm,
                     MPI_Request *request) {
    entry e;
    if (request && use_tessera(datatype, count, &e)) {
        pending *p = pend_new(&e, count, buf, 1);
        if (p) {
            int rc = get_MPI_Irecv()(p->tmp, (int)(count * e.size), MPI_BYTE, source, tag, comm, request);
            if (rc != MPI_SUCCESS) { p->is_recv = 0; pend_finish(p, NULL); return rc; }
            p->req = *request;
            pend_add(p);
            return rc;
        }
    }
    return get_MPI_Irecv()(buf, count, datatype, source, tag, comm, request);
}

EXPORT int MPI_Sendrecv(const void *sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag, void *recvbuf,
                        int recvcount, MPI_Datatype recvtype, int source, int recvtag, MPI_Comm comm, MPI_Status *status) {
    entry es, er;
    int ps = use_tessera(sendtype, sendcount, &es), pr = use_tessera(recvtype, recvcount, &er);
    if (!ps && !pr)
        return get_MPI_Sendrecv()(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype, source,
                                  recvtag, comm, status);
    int64_t sb = ps ? sendcount * es.size : 0, rb = pr ? recvcount * er.size : 0;
    void *tmp = stage((size_t)(sb + rb));
    if (!tmp)
        return get_MPI_Sendrecv()(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype, source,
                                  recvtag, comm, status);
    char *sbuf = tmp, *rbuf = (char *)tmp + sb;
    const void *s_ptr = sendbuf;
    int s_cnt = sendcount;
    MPI_Datatype s_type = sendtype;
    if (ps) {
        int64_t pos = 0;
        tsr_datatype_pack(NULL, sendbuf, sendcount, es.t, sbuf, sb, &pos);
        s_ptr = sbuf; s_cnt = (int)sb; s_type = MPI_BYTE;
        n_send++;
    }
    MPI_Status st;
    MPI_Status *sp = status == MPI_STATUS_IGNORE ? &st : status;
    int rc = get_MPI_Sendrecv()(s_ptr, s_cnt, s_type, dest, sendtag, pr ? (void *)rbuf : recvbuf, pr ? (int)rb : recvcount,
                                pr ? MPI_BYTE : recvtype, source, recvtag, comm, sp);
    if (rc == MPI_SUCCESS && pr) {
        int got = 0;
        get_MPI_Get_count()(sp, MPI_BYTE, &got);
        unpack_received(&er, rbuf, got, recvbuf, recvcount);
        n_recv++;
    }
    return rc;
}

/* ---- completion -------------------------------------------------------------------------------- */

EXPORT int MPI_Wait(MPI_Request *request, MPI_Status *status) {
    pending *p = request ? pend_take(*request) : NULL;
    if (!p) return get_MPI_Wait()(request, status);
    MPI_Status st;
    MPI_Status *sp = status == MPI_STATUS_IGNORE ? &st : status;
    int rc = get_MPI_Wait()(request, sp);
    pend_finish(p, sp);
    return rc;
}

EXPORT int MPI_Waitall(int count, MPI_Request requests[], MPI_Status statuses[]) {
    if (count <= 0 || !requests || !n_pending) return get_MPI_Waitall()(count, requests, statuses);
    pending **ps = calloc((size_t)count, sizeof *ps);
    MPI_Status *sts = statuses == MPI_STATUSES_IGNORE ? malloc(sizeof(MPI_Status) * (size_t)count) : statuses;
    if (!ps || !sts) { free(ps); if (sts != statuses) free(sts); return get_MPI_Waitall()(count, requests, statuses); }
    for (int i = 0; i < count; i++) ps[i] = pend_take(requests[i]);
    int rc = get_MPI_Waitall()(count, requests, sts);
    for (int i = 0; i < count; i++)
        if (ps[i]) pend_finish(ps[i], &sts[i]);
    free(ps);
    if (sts != statuses) free(sts);
    return rc;
}

EXPORT int MPI_Waitany(int count, MPI_Request requests[], int *index, MPI_Status *status) {
    if (count <= 0 || !requests || !n_pending) return get_MPI_Waitany()(count, requests, index, status);
    MPI_Request *copy = malloc(sizeof(MPI_Request) * (size_t)count);
    if (!copy) return get_MPI_Waitany()(count, requests, index, status);
    memcpy(copy, requests, sizeof(MPI_Request) * (size_t)count);
    MPI_Status st;
    MPI_Status *sp = status == MPI_STATUS_IGNORE ? &st : status;
    int rc = get_MPI_Waitany()(count, requests, index, sp);
    if (rc == MPI_SUCCESS && index && *index != MPI_UNDEFINED) {
        pending *p = pend_take(copy[*index]);
        if (p) pend_finish(p, sp);
    }
    free(copy);
    return rc;
}

EXPORT int MPI_Test(MPI_Request *request, int *flag, MPI_Status *status) {
    if (!request || !n_pending) return get_MPI_Test()(request, flag, status);
    MPI_Request r = *request;
    MPI_Status st;
    MPI_Status *sp = status == MPI_STATUS_IGNORE ? &st : status;
    int rc = get_MPI_Test()(request, flag, sp);
    if (rc == MPI_SUCCESS && flag && *flag) {
        pending *p = pend_take(r);
        if (p) pend_finish(p, sp);
    }
    return rc;
}

EXPORT int MPI_Testall(int count, MPI_Request requests[], int *flag, MPI_Status statuses[]) {
    if (count <= 0 || !requests || !n_pending) return get_MPI_Testall()(count, requests, flag, statuses);
    MPI_Request *copy = malloc(sizeof(MPI_Request) * (size_t)count);
    MPI_Status *sts = statuses == MPI_STATUSES_IGNORE ? malloc(sizeof(MPI_Status) * (size_t)count) : statuses;
    if (!copy || !sts) { free(copy); if (sts != statuses) free(sts); return get_MPI_Testall()(count, requests, flag, statuses); }
    memcpy(copy, requests, sizeof(MPI_Request) * (size_t)count);
    int rc = get_MPI_Testall()(count, requests, flag, sts);
    if (rc == MPI_SUCCESS && flag && *flag)
        for (int i = 0; i < count; i++) {
            pending *p = pend_take(copy[i]);
            if (p) pend_finish(p, &sts[i]);
        }
    free(copy);
    if (sts != statuses) free(sts);
    return rc;
}

EXPORT int MPI_Finalize(void) {
    if (verbose && !off()) {
        int rank = 0;
        get_MPI_Comm_rank()(MPI_COMM_WORLD, &rank);
        fprintf(stderr,
                "libtessera_mpi[rank %d]: commits %ld (cached %ld), pack %ld, unpack %ld, sends %ld, receives %ld, "
                "dense passed through %ld\n",
                rank, n_commit, n_cached, n_pack, n_unpack, n_send, n_recv, n_direct);
    }
    return get_MPI_Finalize()();
}
