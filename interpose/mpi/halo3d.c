/*
 * halo3d.c — an ordinary MPI program: a 3-D halo exchange of an N^3 double grid
 * (C order, z fastest), split along z over 2 ranks (the worst case: every z-face is
 * one 8-byte run per row), or along z and y over 4 ranks (2 x 2). Faces are
 * MPI_Type_create_subarray types sent with MPI_Sendrecv; periodic neighbours.
 * Prints the time per exchange (max over ranks) and a checksum of the ghost layers,
 * which must not change with LD_PRELOAD=libtessera_mpi.so.
 *   usage: halo3d [N=256] [iterations=20]
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, np;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &np);
    int N = argc > 1 ? atoi(argv[1]) : 256, iters = argc > 2 ? atoi(argv[2]) : 20;
    int pz = np >= 2 ? 2 : 1, py = np / pz;
    if (pz * py != np || N % pz || N % py) {
        if (rank == 0) fprintf(stderr, "halo3d: np must be 1, 2 or an even count dividing N\n");
        MPI_Finalize();
        return 2;
    }
    int cz = rank % pz, cy = rank / pz;
    int nz = N / pz, ny = N / py, nx = N;
    int gz = nz + 2, gy = py > 1 ? ny + 2 : ny;   /* ghost layers only along split axes */
    size_t cells = (size_t)nx * gy * gz;
    double *g = malloc(cells * sizeof(double));
    for (size_t i = 0; i < cells; i++) g[i] = rank * 1e9 + (double)i;
    int sizes[3] = {nx, gy, gz};
    int oy = py > 1 ? 1 : 0;
    /* z faces: sub {nx, ny, 1} at z = 1 (send low), nz (send high), 0 / nz+1 (ghosts) */
    MPI_Datatype zs_lo, zs_hi, zr_lo, zr_hi, ys_lo, ys_hi, yr_lo, yr_hi;
    int sub_z[3] = {nx, ny, 1};
    int st[3] = {0, oy, 1};
    MPI_Type_create_subarray(3, sizes, sub_z, st, MPI_ORDER_C, MPI_DOUBLE, &zs_lo);
    st[2] = nz; MPI_Type_create_subarray(3, sizes, sub_z, st, MPI_ORDER_C, MPI_DOUBLE, &zs_hi);
    st[2] = 0; MPI_Type_create_subarray(3, sizes, sub_z, st, MPI_ORDER_C, MPI_DOUBLE, &zr_lo);
    st[2] = nz + 1; MPI_Type_create_subarray(3, sizes, sub_z, st, MPI_ORDER_C, MPI_DOUBLE, &zr_hi);
    MPI_Type_commit(&zs_lo); MPI_Type_commit(&zs_hi); MPI_Type_commit(&zr_lo); MPI_Type_commit(&zr_hi);
    if (py > 1) {
        int sub_y[3] = {nx, 1, nz};
        int s2[3] = {0, 1, 1};
        MPI_Type_create_subarray(3, sizes, sub_y, s2, MPI_ORDER_C, MPI_DOUBLE, &ys_lo);
        s2[1] = ny; MPI_Type_create_subarray(3, sizes, sub_y, s2, MPI_ORDER_C, MPI_DOUBLE, &ys_hi);
        s2[1] = 0; MPI_Type_create_subarray(3, sizes, sub_y, s2, MPI_ORDER_C, MPI_DOUBLE, &yr_lo);
        s2[1] = ny + 1; MPI_Type_create_subarray(3, sizes, sub_y, s2, MPI_ORDER_C, MPI_DOUBLE, &yr_hi);
        MPI_Type_commit(&ys_lo); MPI_Type_commit(&ys_hi); MPI_Type_commit(&yr_lo); MPI_Type_commit(&yr_hi);
    }
    int zl = cy * pz + (cz + pz - 1) % pz, zh = cy * pz + (cz + 1) % pz;
    int yl = ((cy + py - 1) % py) * pz + cz, yh = ((cy + 1) % py) * pz + cz;
    double best = 1e30;
    for (int it = 0; it < iters + 2; it++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Sendrecv(g, 1, zs_hi, zh, 1, g, 1, zr_lo, zl, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Sendrecv(g, 1, zs_lo, zl, 2, g, 1, zr_hi, zh, 2, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (py > 1) {
            MPI_Sendrecv(g, 1, ys_hi, yh, 3, g, 1, yr_lo, yl, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Sendrecv(g, 1, ys_lo, yl, 4, g, 1, yr_hi, yh, 4, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        double t = MPI_Wtime() - t0, tmax;
        MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (it >= 2 && tmax < best) best = tmax;
    }
    /* checksum of the ghost layers */
    double sum = 0;
    for (int x = 0; x < nx; x++)
        for (int y = 0; y < gy; y++) {
            sum += g[((size_t)x * gy + y) * gz] + g[((size_t)x * gy + y) * gz + gz - 1];
            if (py > 1 && (y == 0 || y == gy - 1))
                for (int z = 0; z < gz; z++) sum += g[((size_t)x * gy + y) * gz + z];
        }
    double tot;
    MPI_Reduce(&sum, &tot, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("halo3d N=%d np=%d split z%d x y%d: best exchange %.3f ms, checksum %.17g\n", N, np, pz, py, best * 1e3, tot);
    MPI_Finalize();
    return 0;
}
