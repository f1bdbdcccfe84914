/*
 * halo3d.c — an ordinary MPI program: a 3-D halo exchange of an N^3 double grid
 * (C order, z fastest) with L ghost layers, periodic neighbours, faces as
 * MPI_Type_create_subarray types sent with MPI_Sendrecv.
 *   split z  (default): 2 ranks along z (the worst case: every z-face is one 8L-byte run
 *            per row), or along z and y over 4 ranks (2 x 2);
 *   split x: ranks along x (the slowest axis): every face is one contiguous slab.
 * Prints the time per exchange (median and min-max over iterations, each the max over
 * ranks) and a checksum of the ghost layers, which must not change with
 * LD_PRELOAD=libtessera_mpi.so.
 *   usage: halo3d [N=256] [iterations=20] [layers=1] [z|x]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A face of L layers along `axis` starting at `at`, the other axes from `lo` for `len`. */
static MPI_Datatype face(const int sizes[3], int axis, int at, int L, const int lo[3], const int len[3]) {
    int sub[3], st[3];
    for (int d = 0; d < 3; d++) { sub[d] = len[d]; st[d] = lo[d]; }
    sub[axis] = L;
    st[axis] = at;
    MPI_Datatype t;
    MPI_Type_create_subarray(3, (int *)sizes, sub, st, MPI_ORDER_C, MPI_DOUBLE, &t);
    MPI_Type_commit(&t);
    return t;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, np;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    int N = argc > 1 ? atoi(argv[1]) : 256, iters = argc > 2 ? atoi(argv[2]) : 20, L = argc > 3 ? atoi(argv[3]) : 1;
    int xsplit = argc > 4 && strcmp(argv[4], "x") == 0;
    /* ranks along the split axis (p1) and, for z splits over 4+ ranks, along y (p2) */
    int p1 = xsplit ? np : (np >= 2 ? 2 : 1), p2 = np / p1;
    if (p1 * p2 != np || N % p1 || N % p2 || L < 1 || L > N / p1 || iters < 1 || iters > 10000) {
        if (rank == 0) fprintf(stderr, "halo3d: np must be 1, 2 or an even count dividing N; 1 <= layers <= N/np\n");
        MPI_Finalize();
        return 2;
    }
    int c1 = rank % p1, c2 = rank / p1;
    int n1 = N / p1, n2 = N / p2;
    /* local interior: x-split {n1, N, N}; z-split {N, n2, n1}; ghosts only along split axes */
    int axis1 = xsplit ? 0 : 2, axis2 = 1;
    int inner[3] = {N, N, N};
    inner[axis1] = n1;
    if (p2 > 1) inner[axis2] = n2;
    int sizes[3] = {inner[0], inner[1], inner[2]}, lo[3] = {0, 0, 0};
    sizes[axis1] += 2 * L;
    lo[axis1] = L;
    if (p2 > 1) { sizes[axis2] += 2 * L; lo[axis2] = L; }
    size_t cells = (size_t)sizes[0] * sizes[1] * sizes[2];
    double *g = malloc(cells * sizeof(double));
    for (size_t i = 0; i < cells; i++) g[i] = rank * 1e9 + (double)i;
    /* send the first/last L interior layers, receive into the ghosts */
    MPI_Datatype s_lo = face(sizes, axis1, L, L, lo, inner), s_hi = face(sizes, axis1, inner[axis1], L, lo, inner);
    MPI_Datatype r_lo = face(sizes, axis1, 0, L, lo, inner), r_hi = face(sizes, axis1, inner[axis1] + L, L, lo, inner);
    MPI_Datatype ys_lo = MPI_DATATYPE_NULL, ys_hi = MPI_DATATYPE_NULL, yr_lo = MPI_DATATYPE_NULL, yr_hi = MPI_DATATYPE_NULL;
    if (p2 > 1) {
        ys_lo = face(sizes, axis2, L, L, lo, inner); ys_hi = face(sizes, axis2, inner[axis2], L, lo, inner);
        yr_lo = face(sizes, axis2, 0, L, lo, inner); yr_hi = face(sizes, axis2, inner[axis2] + L, L, lo, inner);
    }
    int l1 = c2 * p1 + (c1 + p1 - 1) % p1, h1 = c2 * p1 + (c1 + 1) % p1;
    int l2 = ((c2 + p2 - 1) % p2) * p1 + c1, h2 = ((c2 + 1) % p2) * p1 + c1;
    double *ts = malloc(sizeof(double) * (size_t)iters);
    for (int it = 0; it < iters + 2; it++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Sendrecv(g, 1, s_hi, h1, 1, g, 1, r_lo, l1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Sendrecv(g, 1, s_lo, l1, 2, g, 1, r_hi, h1, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (p2 > 1) {
            MPI_Sendrecv(g, 1, ys_hi, h2, 3, g, 1, yr_lo, l2, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Sendrecv(g, 1, ys_lo, l2, 4, g, 1, yr_hi, h2, 4, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        double t = MPI_Wtime() - t0, tmax;
        MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (it >= 2) ts[it - 2] = tmax;
    }
    /* checksum of every ghost cell (cells outside the interior box) */
    double sum = 0;
    for (int x = 0; x < sizes[0]; x++)
        for (int y = 0; y < sizes[1]; y++)
            for (int z = 0; z < sizes[2]; z++) {
                int c[3] = {x, y, z}, ghost = 0;
                for (int d = 0; d < 3; d++) ghost |= c[d] < lo[d] || c[d] >= lo[d] + inner[d];
                if (ghost) sum += g[((size_t)x * sizes[1] + y) * sizes[2] + z];
            }
    double tot;
    MPI_Reduce(&sum, &tot, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    qsort(ts, (size_t)iters, sizeof *ts, cmpd);
    if (rank == 0)
        printf("halo3d N=%d np=%d split %s%d x y%d layers=%d: exchange median %.3f ms (min %.3f, max %.3f), checksum %.17g\n",
               N, np, xsplit ? "x" : "z", p1, p2, L, ts[iters / 2] * 1e3, ts[0] * 1e3, ts[iters - 1] * 1e3, tot);
    free(ts);
    free(g);
    MPI_Finalize();
    return 0;
}
