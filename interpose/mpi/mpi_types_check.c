/*
 * mpi_types_check.c — an ordinary MPI program (no Tessera in it) that moves every
 * datatype family through MPI_Send/Recv, Isend/Irecv + Waitall, Sendrecv and
 * MPI_Pack/Unpack, checks the received bytes against a plain loop, and prints one
 * hash per family and call. Run it with and without LD_PRELOAD=libtessera_mpi.so:
 * the outputs must be identical (mk/datatype.mk does that).  Needs 2 ranks.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t fnv(const void *p, size_t n) {
    const unsigned char *c = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

typedef struct family { const char *name; MPI_Datatype t; int count; size_t span; } family;

static int nfam;
static family fams[32];

static void add(const char *name, MPI_Datatype t, int count, size_t span) {
    MPI_Type_commit(&t);
    fams[nfam++] = (family){name, t, count, span};
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size != 2) {
        if (rank == 0) fprintf(stderr, "mpi_types_check: run with 2 ranks\n");
        MPI_Finalize();
        return 2;
    }
    MPI_Datatype t, u, w;
    /* 2-D vectors with 4, 8, 64-byte blocks */
    MPI_Type_vector(1000, 1, 3, MPI_INT, &t); add("vector-4B", t, 2, 3 * 4 * 1000 * 2);
    MPI_Type_vector(500, 1, 4, MPI_DOUBLE, &t); add("vector-8B", t, 3, 4 * 8 * 500 * 3);
    MPI_Type_vector(100, 8, 10, MPI_DOUBLE, &t); add("vector-64B", t, 1, 10 * 8 * 100);
    /* 3-D faces of a 24^3 double grid, halo 1 and 3 */
    int sz[3] = {24, 24, 24};
    for (int h = 1; h <= 3; h += 2)
        for (int ax = 0; ax < 3; ax++) {
            int sub[3] = {24, 24, 24}, st[3] = {0, 0, 0};
            sub[ax] = h; st[ax] = h;
            MPI_Type_create_subarray(3, sz, sub, st, MPI_ORDER_C, MPI_DOUBLE, &t);
            static char names[6][32];
            char *nm = names[(h / 2) * 3 + ax];
            snprintf(nm, 32, "face-%c-h%d", "xyz"[ax], h);
            add(nm, t, 1, 24 * 24 * 24 * 8);
        }
    /* Fortran order subarray */
    int fsz[2] = {30, 20}, fsub[2] = {7, 9}, fst[2] = {3, 5};
    MPI_Type_create_subarray(2, fsz, fsub, fst, MPI_ORDER_FORTRAN, MPI_FLOAT, &t); add("subarray-fortran", t, 2, 30 * 20 * 4 * 2);
    /* nested vector / hvector / contiguous */
    MPI_Type_contiguous(3, MPI_FLOAT, &u);
    MPI_Type_vector(5, 2, 4, u, &w);
    MPI_Type_create_hvector(6, 1, 1000, w, &t);
    MPI_Type_free(&u); MPI_Type_free(&w);
    add("nested-3level", t, 2, 6000 * 2 + 1000);
    /* negative hvector stride: start in the middle of the buffer */
    MPI_Type_create_hvector(50, 2, -24, MPI_INT, &t); add("hvector-negative", t, 1, 0);
    /* indexed with 100 random blocks */
    int bl[100], dis[100], at = 0;
    srand(7);
    for (int i = 0; i < 100; i++) { bl[i] = 2 + rand() % 15; dis[i] = at + 1 + rand() % 16; at = dis[i] + bl[i]; }
    MPI_Type_indexed(100, bl, dis, MPI_FLOAT, &t); add("indexed-100", t, 2, (size_t)at * 4 * 2 + 64);
    /* struct {int, double[3], char} resized to 40 bytes */
    int sbl[3] = {1, 3, 1};
    MPI_Aint sd[3] = {0, 8, 32};
    MPI_Datatype sts[3] = {MPI_INT, MPI_DOUBLE, MPI_CHAR};
    MPI_Type_create_struct(3, sbl, sd, sts, &u);
    MPI_Type_create_resized(u, 0, 40, &t);
    MPI_Type_free(&u);
    add("struct-resized", t, 1000, 40 * 1000);
    /* a pair type with holes: must fall back to MPI and still work */
    MPI_Type_contiguous(10, MPI_DOUBLE_INT, &t); add("double-int-pairs", t, 3, 16 * 10 * 3);

    int fails = 0;
    for (int f = 0; f < nfam; f++) {
        family *F = &fams[f];
        MPI_Aint lb, ext, tlb, text;
        MPI_Type_get_extent(F->t, &lb, &ext);
        MPI_Type_get_true_extent(F->t, &tlb, &text);
        /* buffer covering every byte touched, element 0 placed at `base` */
        int64_t lo = tlb < 0 ? tlb : 0, hi = tlb + text + (int64_t)(F->count - 1) * ext;
        if (lo > tlb + (int64_t)(F->count - 1) * ext) lo = tlb + (int64_t)(F->count - 1) * ext;
        size_t span = (size_t)(hi - lo) + 64;
        if (span < F->span) span = F->span;
        unsigned char *src = malloc(span), *dst = malloc(span), *ref = malloc(span);
        for (size_t i = 0; i < span; i++) src[i] = (unsigned char)(i * 131 + 7);
        void *sbase = src - lo, *dbase = dst - lo;
        int psize;
        MPI_Pack_size(F->count, F->t, MPI_COMM_WORLD, &psize);
        unsigned char *packed = malloc((size_t)psize + 1);
        int pos = 0;
        MPI_Pack(sbase, F->count, F->t, packed, psize, &pos, MPI_COMM_WORLD);
        uint64_t hp = fnv(packed, (size_t)pos);
        /* reference: unpack what MPI_Pack produced into a zeroed buffer */
        memset(ref, 0, span);
        int upos = 0;
        MPI_Unpack(packed, pos, &upos, ref - lo, F->count, F->t, MPI_COMM_WORLD);
        uint64_t hu = fnv(ref, span);
        const char *how[3] = {"send/recv", "isend/irecv", "sendrecv"};
        for (int m = 0; m < 3; m++) {
            memset(dst, 0, span);
            if (m == 0) {
                if (rank == 0) MPI_Send(sbase, F->count, F->t, 1, f, MPI_COMM_WORLD);
                else MPI_Recv(dbase, F->count, F->t, 0, f, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            } else if (m == 1) {
                MPI_Request r[2];
                MPI_Irecv(dbase, F->count, F->t, 1 - rank, f, MPI_COMM_WORLD, &r[0]);
                MPI_Isend(sbase, F->count, F->t, 1 - rank, f, MPI_COMM_WORLD, &r[1]);
                MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
            } else {
                MPI_Status st;
                MPI_Sendrecv(sbase, F->count, F->t, 1 - rank, f, dbase, F->count, F->t, 1 - rank, f, MPI_COMM_WORLD, &st);
                int cnt = -1;
                MPI_Get_count(&st, F->t, &cnt);
                if (cnt != F->count) { printf("FAIL %s %s: MPI_Get_count %d != %d\n", F->name, how[m], cnt, F->count); fails++; }
            }
            if (rank == 1) {
                int ok = memcmp(dst, ref, span) == 0;
                if (!ok) fails++;
                printf("%-20s %-12s recv=%016llx %s\n", F->name, how[m], (unsigned long long)fnv(dst, span), ok ? "ok" : "MISMATCH");
            }
        }
        if (rank == 1) printf("%-20s %-12s pack=%016llx unpack=%016llx bytes=%d\n", F->name, "pack", (unsigned long long)hp,
                              (unsigned long long)hu, pos);
        free(src); free(dst); free(ref); free(packed);
        MPI_Type_free(&F->t);
    }
    int all = 0;
    MPI_Allreduce(&fails, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 1) printf("%s: %d families, %d failures\n", all ? "FAILED" : "PASSED", nfam, all);
    MPI_Finalize();
    return all ? 1 : 0;
}
