/*
 * bench_pack.c — `make bench-mpi`: Tessera's pack vs OpenMPI's own MPI_Pack (linked
 * directly, no interposer), a plain C loop over the blocks and the naive type-map
 * packer, on the type families TEMPI measures, with the memory floor
 *   (cache-line bytes the type touches / read bandwidth) + (packed bytes / write bandwidth)
 * measured in the same process on one core. One JSON object per line (docs/BENCHMARKS.md).
 * Timings are interleaved in rounds (ours, MPI, loop, ours on all cores, ...): medians with
 * min-max, the speed-up as the median of the per-round ratios with their min-max, and the
 * load average beside each case (the machine is shared); a round slowed past 2x by something
 * else running is repeated, not counted (`rounds_repeated`). `speedup` is one worker against
 * MPI_Pack (which has no threads); `speedup_all_cores` is the default pool, which splits packs
 * of >= 256 KiB over its workers (how tsr_datatype_pack(NULL, ...) runs for users). Cases named `cold` that fit in the
 * caches sweep 96 MiB through them before every timed call.
 * Dense cases (the type touches at least half the source's cache lines: vectors, records) also
 * time, in every round and in the same cache state, probes at the case's own size: a read of
 * every source line (one load per 64-byte line: `probe_read_s`), the same over a destination-
 * sized buffer written last round as ours was (`probe_read_dst_s`: what fetching each destination
 * line before writing it costs), a memset of it (`probe_write_s`) and a memcpy of the packed size
 * (`probe_copy_s`). The one-core floor is read + min(read_dst, write): every source line must
 * come in, and every destination line is fetched first or written out without a fetch
 * (`limit`, `limit_name` "read_plus_write_probe_1core"; `fraction` = floor / ours), and
 * `speedup_bound` = MPI_Pack / floor per round is the most any one-core packer could reach
 * against MPI_Pack in that run. Sparse cases (3-D faces) keep the floor from the bandwidths
 * measured at start-up over the lines they touch ("memory_floor_1core").
 *   usage: bench_pack [--quick] [--only SUBSTRING]
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tessera.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmpd);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- one-core bandwidths for the memory floor ---- */
static double read_bw, write_bw;

static void measure_bandwidth(size_t bytes) {
    uint64_t *a = tsr_malloc(bytes);
    memset(a, 1, bytes);
    size_t n = bytes / 8;
    double best_r = 1e30, best_w = 1e30;
    volatile uint64_t sink = 0;
    for (int r = 0; r < 5; r++) {
        double t = now();
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = 0; i < n; i += 4) { s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3]; }
        sink += s0 + s1 + s2 + s3;
        t = now() - t;
        if (t < best_r) best_r = t;
        t = now();
        memset(a, r, bytes);
        t = now() - t;
        if (t < best_w) best_w = t;
    }
    (void)sink;
    read_bw = bytes / best_r;
    write_bw = bytes / best_w;
    tsr_free(a);
}

/* Distinct 64-byte lines touched by `count` elements (walks the canonical form). */
static double lines_touched(tsr_datatype_t *t, int64_t count) {
    tsr_canon_info ci = {.size = sizeof ci};
    tsr_datatype_canon_info_get(t, &ci);
    int64_t nseg = 0;
    tsr_datatype_segments(t, NULL, NULL, 0, &nseg);
    int64_t *off = malloc(sizeof(int64_t) * (size_t)(nseg + 1)), *len = malloc(sizeof(int64_t) * (size_t)(nseg + 1));
    tsr_datatype_segments(t, off, len, nseg, &nseg);
    int nd = ci.ndims + 1;
    int64_t cnt[TSR_CANON_MAX_DIMS + 1], str[TSR_CANON_MAX_DIMS + 1], idx[TSR_CANON_MAX_DIMS + 1] = {0};
    cnt[0] = count; str[0] = ci.extent;
    for (int k = 0; k < ci.ndims; k++) { cnt[k + 1] = ci.counts[k]; str[k + 1] = ci.strides[k]; }
    int64_t lines = 0, last = INT64_MIN;
    for (;;) {
        int64_t base = ci.start;
        for (int k = 0; k < nd; k++) base += idx[k] * str[k];
        for (int64_t j = 0; j < nseg; j++) {
            int64_t a = (base + off[j]) >> 6, b = (base + off[j] + len[j] - 1) >> 6;
            if (a == last) a++;
            if (b >= a) lines += b - a + 1;
            last = b;
        }
        int k = nd - 1;
        while (k >= 0 && ++idx[k] == cnt[k]) { idx[k] = 0; k--; }
        if (k < 0) break;
    }
    free(off); free(len);
    return (double)lines * 64.0;
}

/* ---- in-state probes for dense cases ---- */

/* Reads one 8-byte word of every 64-byte line of [p, p + n): brings each line into the core
 * with as little instruction work as possible. */
static uint64_t probe_read_lines(const char *p, size_t n) {
    uint64_t s0 = 0, s1 = 0;
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        uint64_t a, b;
        memcpy(&a, p + i, 8);
        memcpy(&b, p + i + 64, 8);
        s0 += a;
        s1 += b;
    }
    for (; i < n; i += 64) { uint64_t a; memcpy(&a, p + i, 8); s0 += a; }
    return s0 + s1;
}

static volatile uint64_t probe_sink;

/* ---- a benchmark case ---- */
typedef void (*loop_fn)(const char *src, char *dst, const void *arg);

static tsr_pool_t *pool1;
static int quick;
static const char *only;

/* Evicts the caches: 96 MiB (3x the 32 MiB L3) read and written. */
static char *flush_buf;
static const size_t flush_bytes = 96u << 20;
static void flush_caches(void) {
    if (!flush_buf) { flush_buf = tsr_malloc(flush_bytes); memset(flush_buf, 1, flush_bytes); }
    for (size_t i = 0; i < flush_bytes; i += 64) flush_buf[i]++;
}

static double loadavg1(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) { if (fscanf(f, "%lf", &l) != 1) l = -1; fclose(f); }
    return l;
}

/* hot: 1 hot, 0 cold by size (larger than the caches), 2 cold by flushing before every call */
static void run_case(const char *name, int hot, MPI_Datatype mt, tsr_datatype_t *tt, int count, size_t src_bytes,
                     int64_t src_offset, loop_fn loop, const void *arg) {
    char full[160];
    snprintf(full, sizeof full, "%s %s", name, hot == 1 ? "hot" : "cold");
    if (only && !strstr(full, only)) return;
    const int flush = hot == 2;
    const double load0 = loadavg1();
    int64_t size;
    tsr_datatype_commit(tt);
    tsr_datatype_size(tt, &size);
    int64_t packed = size * count;
    char *src = tsr_malloc(src_bytes), *o1 = tsr_malloc((size_t)packed), *o2 = tsr_malloc((size_t)packed),
         *o3 = tsr_malloc((size_t)packed), *o4 = tsr_malloc((size_t)packed);
    memset(o4, 0, (size_t)packed);
    const double touched = lines_touched(tt, count);
    const int dense = touched >= 0.5 * (double)src_bytes;
    for (size_t i = 0; i < src_bytes; i++) src[i] = (char)(i * 7 + 3);
    const char *base = src + src_offset;
    int reps = quick ? 3 : (hot == 1 ? 41 : hot == 2 ? 15 : 9);
    double t_ours[64], t_mpi[64], t_loop[64], t_all[64], t_naive[64], ratio[64], ratio_all[64];
    double t_rd[64], t_rdd[64], t_wr[64], t_cp[64], t_floor[64], bound[64];
    int nv = 0;
    /* A round in which ours (either pool) or MPI_Pack took over 2x its fastest time so far ran
     * while something else had the core: it is repeated, not counted (at most reps repeats). */
    double best[3] = {1e30, 1e30, 1e30};
    int repeated = 0;
    for (int r = -1; r < reps; r++) {
        int64_t pos = 0;
        int ipos = 0;
        if (flush) flush_caches();
        double a = now();
        tsr_datatype_pack(pool1, base, count, tt, o1, packed, &pos);
        double b = now();
        double pr = 0, pd = 0, pw = 0, pc = 0;
        if (dense) {
            /* the probes, in the state ours just ran in (cold cases: flushed again first) */
            if (flush) flush_caches();
            double q0 = now();
            probe_sink += probe_read_lines(src, src_bytes);
            double q1 = now();
            probe_sink += probe_read_lines(o4, (size_t)packed);
            double q1b = now();
            memset(o4, r & 0xff, (size_t)packed);
            double q2 = now();
            if (flush) flush_caches();
            double q3 = now();
            memcpy(o4, src, (size_t)packed);
            double q4 = now();
            pr = q1 - q0; pd = q1b - q1; pw = q2 - q1b; pc = q4 - q3;
        }
        if (flush) flush_caches();
        double b2 = now();
        MPI_Pack(base, count, mt, o2, (int)packed, &ipos, MPI_COMM_WORLD);
        double c = now();
        if (flush) flush_caches();
        double c2 = now();
        loop(base, o3, arg);
        double d = now();
        pos = 0;
        if (flush) flush_caches();
        double d2 = now();
        tsr_datatype_pack(NULL, base, count, tt, o1, packed, &pos);
        double e = now();
        const double tr[3] = {b - a, c - b2, e - d2};
        int noisy = 0;
        for (int k = 0; k < 3; k++) {
            if (tr[k] > 2 * best[k]) noisy = 1;
            if (tr[k] < best[k]) best[k] = tr[k];
        }
        if (r >= 0 && noisy && repeated < reps) {
            repeated++;
            r--;
            continue;
        }
        if (r >= 0) {
            t_ours[r] = b - a; t_mpi[r] = c - b2; t_loop[r] = d - c2; t_all[r] = e - d2;
            ratio[r] = t_mpi[r] / t_ours[r];
            ratio_all[r] = t_mpi[r] / t_all[r];
            /* every destination line is either fetched before it is written (pd) or written out
             * without a fetch (pw): the floor takes the cheaper of the two */
            t_rd[r] = pr; t_rdd[r] = pd; t_wr[r] = pw; t_cp[r] = pc; t_floor[r] = pr + (pd < pw ? pd : pw);
            bound[r] = dense ? t_mpi[r] / t_floor[r] : 0;
        }
    }
    /* the naive packer is slow: a few runs */
    for (int r = 0; r < (quick ? 1 : 3); r++) {
        int64_t pos = 0;
        double a = now();
        tsr_datatype_pack_naive(base, count, tt, o3, packed, &pos);
        t_naive[nv++] = now() - a;
    }
    int same = memcmp(o1, o2, (size_t)packed) == 0 && memcmp(o1, o3, (size_t)packed) == 0;
    double ours = median(t_ours, reps), mpi = median(t_mpi, reps), lp = median(t_loop, reps), all = median(t_all, reps),
           naive = median(t_naive, nv), sp = median(ratio, reps), sp_all = median(ratio_all, reps);
    /* median() sorted the arrays: [0] and [reps-1] are min and max */
    double floor_s = touched / read_bw + packed / write_bw;
    const char *limit_name = "memory_floor_1core";
    char probes[320] = "";
    if (dense) {
        floor_s = median(t_floor, reps);
        limit_name = "read_plus_write_probe_1core";
        /* median() sorts in place: take each before reading that array's min and max */
        const double rd = median(t_rd, reps), rdd = median(t_rdd, reps), wr = median(t_wr, reps), cp = median(t_cp, reps), bd = median(bound, reps);
        snprintf(probes, sizeof probes,
                 "\"probe_read_s\": %.6e, \"probe_read_dst_s\": %.6e, \"probe_write_s\": %.6e, \"probe_copy_s\": %.6e, \"speedup_bound\": %.3f, "
                 "\"speedup_bound_min\": %.3f, \"speedup_bound_max\": %.3f, ",
                 rd, rdd, wr, cp, bd, bound[0], bound[reps - 1]);
    }
    printf("{\"case\": \"%s\", \"unit\": \"s\", \"ours\": %.6e, \"baseline_name\": \"openmpi_MPI_Pack\", "
           "\"baseline\": %.6e, \"speedup\": %.3f, \"speedup_min\": %.3f, \"speedup_max\": %.3f, "
           "\"ours_min\": %.6e, \"ours_max\": %.6e, \"baseline_min\": %.6e, \"baseline_max\": %.6e, "
           "\"limit_name\": \"%s\", \"limit\": %.6e, %s"
           "\"fraction\": %.3f, \"threads\": 1, \"gbs\": %.3f, \"plain_loop_s\": %.6e, \"speedup_vs_loop\": %.3f, "
           "\"naive_s\": %.6e, \"ours_all_cores_s\": %.6e, \"ours_all_cores_min\": %.6e, \"ours_all_cores_max\": %.6e, "
           "\"speedup_all_cores\": %.3f, \"speedup_all_cores_min\": %.3f, \"speedup_all_cores_max\": %.3f, "
           "\"all_cores_threads\": %d, \"packed_bytes\": %lld, \"rounds\": %d, \"rounds_repeated\": %d, "
           "\"loadavg_start\": %.2f, \"loadavg_end\": %.2f, \"identical_bytes\": %s}\n",
           full, ours, mpi, sp, ratio[0], ratio[reps - 1], t_ours[0], t_ours[reps - 1], t_mpi[0], t_mpi[reps - 1],
           limit_name, floor_s, probes, floor_s / ours, packed / ours / 1e9, lp, lp / ours, naive, all, t_all[0],
           t_all[reps - 1], sp_all, ratio_all[0], ratio_all[reps - 1], tsr_pool_num_threads(NULL), (long long)packed,
           reps, repeated, load0, loadavg1(), same ? "true" : "false");
    fflush(stdout);
    tsr_free(src); tsr_free(o1); tsr_free(o2); tsr_free(o3); tsr_free(o4);
}

/* plain loops */
typedef struct vec_arg { int64_t count, B, stride; } vec_arg;
static void loop_vec(const char *src, char *dst, const void *a) {
    const vec_arg *v = a;
    for (int64_t i = 0; i < v->count; i++) memcpy(dst + i * v->B, src + i * v->stride, (size_t)v->B);
}
typedef struct seg_arg { int64_t n, *off, *len, count, ext; } seg_arg;
static void loop_seg(const char *src, char *dst, const void *a) {
    const seg_arg *s = a;
    for (int64_t e = 0; e < s->count; e++)
        for (int64_t j = 0; j < s->n; j++) {
            memcpy(dst, src + e * s->ext + s->off[j], (size_t)s->len[j]);
            dst += s->len[j];
        }
}
/* the struct family as a programmer would write it: fixed-size copies per record */
static void loop_struct(const char *src, char *dst, const void *a) {
    const seg_arg *s = a;
    for (int64_t e = 0; e < s->count; e++, src += 40, dst += 29) {
        memcpy(dst, src, 4);
        memcpy(dst + 4, src + 8, 24);
        dst[28] = src[32];
    }
}
typedef struct face_arg { int64_t nx, ny, nz, sx, sy, sz, x0, y0, z0; } face_arg;
static void loop_face(const char *src, char *dst, const void *a) {
    const face_arg *f = a;
    const double *g = (const double *)src;
    double *o = (double *)dst;
    for (int64_t x = 0; x < f->sx; x++)
        for (int64_t y = 0; y < f->sy; y++)
            for (int64_t z = 0; z < f->sz; z++)
                *o++ = g[((x + f->x0) * f->ny + (y + f->y0)) * f->nz + (z + f->z0)];
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    }
    tsr_pool_params pp;
    tsr_pool_params_default(&pp);
    pp.n_threads = 1;
    tsr_pool_create(&pp, &pool1);
    measure_bandwidth(quick ? (64u << 20) : (256u << 20));
    fprintf(stderr, "bench_pack: one-core read %.2f GB/s, write %.2f GB/s; all-core runs use %d threads\n",
            read_bw / 1e9, write_bw / 1e9, tsr_pool_num_threads(NULL));
    tsr_datatype_t *tbyte, *tdbl, *tint, *tchar;
    tsr_datatype_named(TSR_TYPE_BYTE, &tbyte);
    tsr_datatype_named(TSR_TYPE_DOUBLE, &tdbl);
    tsr_datatype_named(TSR_TYPE_INT32, &tint);
    tsr_datatype_named(TSR_TYPE_CHAR, &tchar);

    /* 1. 2-D vectors: blocks of B bytes at stride 2B, 1 MiB (hot) and 64 MiB (cold) packed */
    int64_t Bs[7] = {1, 4, 8, 16, 64, 256, 1024};
    for (int hot = 1; hot >= 0; hot--)
        for (int i = 0; i < 7; i++) {
            int64_t B = Bs[i], packed = hot ? (1 << 20) : (quick ? (16 << 20) : (64 << 20)), n = packed / B;
            MPI_Datatype mt;
            tsr_datatype_t *tt;
            MPI_Type_vector((int)n, (int)B, (int)(2 * B), MPI_BYTE, &mt);
            MPI_Type_commit(&mt);
            tsr_datatype_vector(n, B, 2 * B, tbyte, &tt);
            vec_arg va = {n, B, 2 * B};
            char name[96];
            snprintf(name, sizeof name, "vector B=%lld stride=%lld packed=%lldMiB", (long long)B, (long long)(2 * B),
                     (long long)(packed >> 20));
            run_case(name, hot, mt, tt, 1, (size_t)(2 * packed), 0, loop_vec, &va);
            MPI_Type_free(&mt);
            tsr_datatype_destroy(tt);
        }

    /* 2. 3-D faces of an N^3 double grid, halo width 1 and 3 */
    int N = quick ? 128 : 256;
    for (int h = 1; h <= 3; h += 2)
        for (int ax = 0; ax < 3; ax++) {
            int sz[3] = {N, N, N}, sub[3] = {N, N, N}, st[3] = {0, 0, 0};
            sub[ax] = h; st[ax] = h;
            int64_t s64[3] = {N, N, N}, u64[3] = {sub[0], sub[1], sub[2]}, o64[3] = {st[0], st[1], st[2]};
            MPI_Datatype mt;
            tsr_datatype_t *tt;
            MPI_Type_create_subarray(3, sz, sub, st, MPI_ORDER_C, MPI_DOUBLE, &mt);
            MPI_Type_commit(&mt);
            tsr_datatype_subarray(3, s64, u64, o64, TSR_ORDER_C, tdbl, &tt);
            face_arg fa = {N, N, N, sub[0], sub[1], sub[2], st[0], st[1], st[2]};
            char name[96];
            /* axis 2 (fastest) is the worst face: one 8h-byte run per 8N-byte row */
            snprintf(name, sizeof name, "face axis=%d (%s) halo=%d grid=%d^3 doubles", ax,
                     ax == 0 ? "contiguous slab" : ax == 1 ? "rows" : "8B runs", h, N);
            /* repeated packs of one face: its lines (<= 12 MiB) stay in L3, so these are hot;
             * the 8-byte-run face is also measured cold (caches flushed before every call) */
            run_case(name, 1, mt, tt, 1, (size_t)N * N * N * 8, 0, loop_face, &fa);
            if (ax == 2) run_case(name, 2, mt, tt, 1, (size_t)N * N * N * 8, 0, loop_face, &fa);
            MPI_Type_free(&mt);
            tsr_datatype_destroy(tt);
        }

    /* 3. nested vector / hvector / contiguous: contiguous(3 float) -> vector(64, 2, 3) -> hvector(n, 1, 2304B) */
    {
        MPI_Datatype c3, v, mt;
        tsr_datatype_t *tc3, *tv, *tt, *tfl;
        tsr_datatype_named(TSR_TYPE_FLOAT, &tfl);
        int n = quick ? 512 : 2048;
        MPI_Type_contiguous(3, MPI_FLOAT, &c3);
        MPI_Type_vector(64, 2, 3, c3, &v);
        MPI_Type_create_hvector(n, 1, 2304 + 64, v, &mt);
        MPI_Type_commit(&mt);
        tsr_datatype_contiguous(3, tfl, &tc3);
        tsr_datatype_vector(64, 2, 3, tc3, &tv);
        tsr_datatype_hvector(n, 1, 2304 + 64, tv, &tt);
        tsr_datatype_commit(tt);
        int64_t nseg;
        tsr_datatype_segments(tt, NULL, NULL, 0, &nseg);
        tsr_canon_info ci = {.size = sizeof ci};
        tsr_datatype_canon_info_get(tt, &ci);
        /* plain loop: the triple nest */
        static seg_arg sa;
        int64_t *off = malloc(sizeof(int64_t) * 64 * n), *len = malloc(sizeof(int64_t) * 64 * n);
        int64_t k = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 64; j++) { off[k] = (int64_t)i * 2368 + j * 36; len[k] = 24; k++; }
        sa = (seg_arg){k, off, len, 1, 0};
        char name[96];
        snprintf(name, sizeof name, "nested contiguous/vector/hvector 24B blocks x%lld", (long long)k);
        run_case(name, 1, mt, tt, 1, (size_t)n * 2368 + 4096, 0, loop_seg, &sa);
        free(off); free(len);
        MPI_Type_free(&c3); MPI_Type_free(&v); MPI_Type_free(&mt);
        tsr_datatype_destroy(tc3); tsr_datatype_destroy(tv); tsr_datatype_destroy(tt);
    }

    /* 4. indexed: 1000 random blocks of 8..64 bytes (as doubles: 1..8), count to ~1 MiB */
    {
        int bl[1000], dis[1000], at = 0;
        int64_t b64[1000], d64[1000];
        srand(11);
        for (int i = 0; i < 1000; i++) {
            bl[i] = 1 + rand() % 8; dis[i] = at + 1 + rand() % 8; at = dis[i] + bl[i];
            b64[i] = bl[i]; d64[i] = dis[i];
        }
        MPI_Datatype mt;
        tsr_datatype_t *tt;
        MPI_Type_indexed(1000, bl, dis, MPI_DOUBLE, &mt);
        MPI_Type_commit(&mt);
        tsr_datatype_indexed(1000, b64, d64, tdbl, &tt);
        tsr_datatype_commit(tt);
        int64_t size, ext;
        tsr_datatype_size(tt, &size);
        tsr_datatype_extent(tt, NULL, &ext);
        int count = (int)((1 << 20) / size);
        static int64_t off[1000], len[1000];
        for (int i = 0; i < 1000; i++) { off[i] = (int64_t)dis[i] * 8; len[i] = (int64_t)bl[i] * 8; }
        seg_arg sa = {1000, off, len, count, ext};
        char name[96];
        snprintf(name, sizeof name, "indexed 1000 random blocks 8..64B count=%d", count);
        run_case(name, 1, mt, tt, count, (size_t)(ext * count), 0, loop_seg, &sa);
        MPI_Type_free(&mt);
        tsr_datatype_destroy(tt);
    }

    /* 5. struct {int, double[3], char} resized to 40 bytes: 1 MiB (hot) and 1M elements (cold) */
    for (int hot = 1; hot >= 0; hot--) {
        int sbl[3] = {1, 3, 1};
        MPI_Aint sd[3] = {0, 8, 32};
        MPI_Datatype sts[3] = {MPI_INT, MPI_DOUBLE, MPI_CHAR}, s, mt;
        MPI_Type_create_struct(3, sbl, sd, sts, &s);
        MPI_Type_create_resized(s, 0, 40, &mt);
        MPI_Type_commit(&mt);
        int64_t tb[3] = {1, 3, 1}, td[3] = {0, 8, 32};
        tsr_datatype_t *tts[3] = {tint, tdbl, tchar}, *ts, *tt;
        tsr_datatype_struct(3, tb, td, tts, &ts);
        tsr_datatype_resized(ts, 0, 40, &tt);
        int count = hot ? (1 << 20) / 29 : (quick ? (1 << 18) : (1 << 20));
        static int64_t off[3] = {0, 8, 32}, len[3] = {4, 24, 1};
        seg_arg sa = {3, off, len, count, 40};
        char name[96];
        snprintf(name, sizeof name, "struct{int,double[3],char} resized 40B count=%d", count);
        run_case(name, hot, mt, tt, count, (size_t)count * 40, 0, loop_struct, &sa);
        MPI_Type_free(&s); MPI_Type_free(&mt);
        tsr_datatype_destroy(ts); tsr_datatype_destroy(tt);
    }
    tsr_pool_destroy(pool1);
    MPI_Finalize();
    return 0;
}
