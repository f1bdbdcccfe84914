/*
 * cluster_kmeans.h — the k-means kernels of cluster_kernels.h: the nearest-centre assignment
 * (tsr_kmeans_assign_*) and the fused Lloyd chunk (tsr_kmeans_chunk_*: labels, the chunk's
 * inertia and its centre sums in one pass over the rows). Included by cluster_kernels.h only.
 *
 * Rows are processed CK_ROWS at a time, transposed (feature t of lane l at xt[t*ldt + l]): the
 * chunk kernel reads the caller's transposed copy of the data in place, the assignment and the
 * last partial block copy their rows into a zero-padded CK_ROWS-lane scratch. Per lane, the
 * same IEEE operations in the same order whatever the ISA: the labels are argmin_c
 * cn[c] − 2·(fma chain of x·c over t in order), first lowest; the inertia of a row is
 * Σ_t ((double)x_t − (double)c_t)² in feature order, added to the chunk's total in row order;
 * the sums add (double)x_t into the chosen centre's row in row order.
 */
#ifndef TSR_CLUSTER_KMEANS_H
#define TSR_CLUSTER_KMEANS_H

/* Lane l takes centre cc (its values: a[l] and cn[q]) when its value is lower (branch-free, so
 * the lanes vectorise; a NaN never wins, as with `if (v < best)`). Centres go four at a time; the
 * last group is padded with copies of centre k − 1 (q = k − 1), which never win: their value
 * equals one already seen and the comparison is strict. */
#define CK_PICK(T, IDX, a, q, cc)              \
    do {                                       \
        const T v_ = cn[q] - 2 * (a)[l];       \
        const int lt_ = v_ < best[l];          \
        best[l] = lt_ ? v_ : best[l];          \
        bi[l] = lt_ ? (IDX)(cc) : bi[l];       \
    } while (0)

/* Shared by every ISA (inlined into each target's functions); IDX: the lane index type (the
 * element's width, so labels and values share vector lanes). */
#define CK_ASSIGN(T, SFX, FMA, IDX)                                                                          \
    /* nb <= CK_ROWS rows of x into the zero-padded scratch xt[t*CK_ROWS + l] */                        \
    CK_INLINE void ck_transpose_rows_##SFX(int64_t nb, int64_t d, const T *x, int64_t ldx, T *xt) {     \
        for (int64_t l = 0; l < nb; l++)                                                                \
            for (int64_t t = 0; t < d; t++) xt[t * CK_ROWS + l] = x[l * ldx + t];                       \
        for (int64_t l = nb; l < CK_ROWS; l++)                                                          \
            for (int64_t t = 0; t < d; t++) xt[t * CK_ROWS + l] = 0;                                    \
    }                                                                                                   \
    /* bi[l] = the nearest centre of lane l (all CK_ROWS lanes of xt, stride ldt, are read) */          \
    CK_INLINE void ck_assign_lanes_##SFX(int64_t d, const T *xt, int64_t ldt, int64_t k, const T *c,    \
                                         const T *cn, IDX *bi) {                                        \
        T best[CK_ROWS];                                                                                \
        for (int l = 0; l < CK_ROWS; l++) { best[l] = (T)INFINITY; bi[l] = 0; }                         \
        for (int64_t cc = 0; cc < k; cc += 4) {                                                         \
            const int64_t q1 = cc + 1 < k ? cc + 1 : k - 1, q2 = cc + 2 < k ? cc + 2 : k - 1;           \
            const int64_t q3 = cc + 3 < k ? cc + 3 : k - 1;                                             \
            T a0[CK_ROWS], a1[CK_ROWS], a2[CK_ROWS], a3[CK_ROWS];                                       \
            for (int l = 0; l < CK_ROWS; l++) { a0[l] = 0; a1[l] = 0; a2[l] = 0; a3[l] = 0; }           \
            const T *c0 = c + cc * d, *c1 = c + q1 * d, *c2 = c + q2 * d, *c3 = c + q3 * d;             \
            for (int64_t t = 0; t < d; t++) {                                                           \
                const T *xr = xt + t * ldt;                                                             \
                const T v0 = c0[t], v1 = c1[t], v2 = c2[t], v3 = c3[t];                                 \
                for (int l = 0; l < CK_ROWS; l++) {                                                     \
                    a0[l] = FMA(xr[l], v0, a0[l]);                                                      \
                    a1[l] = FMA(xr[l], v1, a1[l]);                                                      \
                    a2[l] = FMA(xr[l], v2, a2[l]);                                                      \
                    a3[l] = FMA(xr[l], v3, a3[l]);                                                      \
                }                                                                                       \
            }                                                                                           \
            for (int l = 0; l < CK_ROWS; l++) {                                                         \
                CK_PICK(T, IDX, a0, cc, cc);                                                            \
                CK_PICK(T, IDX, a1, q1, cc + 1);                                                        \
                CK_PICK(T, IDX, a2, q2, cc + 2);                                                        \
                CK_PICK(T, IDX, a3, q3, cc + 3);                                                        \
            }                                                                                           \
        }                                                                                               \
    }

/* s[t] = s[t] + (double)x[t] for t < d (a centre's sums; s: a row of the aligned copy below, whose
 * padding past d an ISA may add zeros to); ISAs with their own name it ck_add_row_{f32,f64}_ISA,
 * the others alias these */
CK_INLINE void ck_add_row_f32(double *restrict s, const float *restrict x, int64_t d) {
    for (int64_t t = 0; t < d; t++) s[t] = s[t] + (double)x[t];
}
CK_INLINE void ck_add_row_f64(double *restrict s, const double *restrict x, int64_t d) {
    for (int64_t t = 0; t < d; t++) s[t] = s[t] + x[t];
}

/* The sums are added to in a copy with rows of CK_KM_DPAD(d) doubles (acc: 64-byte aligned,
 * k · CK_KM_DPAD(d) doubles), copied in first and back at the end: the same additions in the same
 * order, but no row straddles a cache line (the caller's rows of d doubles do: a store and the
 * next row's load of the same centre then missed store-to-load forwarding, 3x the time at d = 20). */
CK_INLINE double *ck_sums_in(const double *sums, int64_t k, int64_t d, double *acc) {
    const int64_t dp = CK_KM_DPAD(d);
    for (int64_t c = 0; c < k; c++)
        for (int64_t t = 0; t < dp; t++) acc[c * dp + t] = t < d ? sums[c * d + t] : 0;
    return acc;
}
CK_INLINE void ck_sums_out(const double *acc, int64_t k, int64_t d, double *sums) {
    const int64_t dp = CK_KM_DPAD(d);
    for (int64_t c = 0; c < k; c++)
        for (int64_t t = 0; t < d; t++) sums[c * d + t] = acc[c * dp + t];
}

CK_ASSIGN(float, f32, fmaf, int32_t)
CK_ASSIGN(double, f64, fma, int64_t)

/* The k-means kernels of one ISA and element type: ck_assign_, ck_kmeans_chunk_, ck_kmeans_sums_
 * (the chunk's accumulation half for given labels) and
 * ck_kmeans_label_ (the chunk's assignment half: labels and per-row errors). ck_kmeans_block_
 * is one block of nb <= CK_KM_ROWS rows starting at row i0: bi[l] its labels, e[l] its errors
 * Σ_t ((double)x_t − (double)c_t)² in feature order; ct: the centres transposed, kp values per
 * feature; scratch: d × CK_KM_ROWS (the block's rows, transposed, a partial block zero-padded).
 * Each ISA names its ck_kmeans_block_{f32,f64}_ISA: its own, or ck_kmeans_block_generic_ (two
 * groups of CK_ROWS lanes, one after the other). */
#define CK_KMEANS_T(T, SFX, ISA, TARGET, IDX)                                                                \
    TARGET static void ck_assign_##SFX##_##ISA(int64_t m, int64_t d, const T *x, int64_t ldx, int64_t k, \
                                              const T *c, const T *cn, int64_t *labels, T *xt) {          \
        for (int64_t i0 = 0; i0 < m; i0 += CK_ROWS) {                                                   \
            const int64_t nb = m - i0 < CK_ROWS ? m - i0 : CK_ROWS;                                     \
            IDX bi[CK_ROWS];                                                                        \
            ck_transpose_rows_##SFX(nb, d, x + i0 * ldx, ldx, xt);                                      \
            ck_assign_lanes_##SFX(d, xt, CK_ROWS, k, c, cn, bi);                                        \
            for (int64_t l = 0; l < nb; l++) labels[i0 + l] = bi[l];                                    \
        }                                                                                               \
    }                                                                                                   \
    /* the centres transposed, CK_KPAD(k) zero-padded values per feature (for ck_lanes_) */             \
    TARGET CK_INLINE T *ck_kmeans_centres_##SFX##_##ISA(int64_t d, int64_t k, const T *c, T *scratch) {  \
        const int64_t kp = CK_KPAD(k);                                                                  \
        T *ct = scratch + d * CK_KM_ROWS;                                                               \
        for (int64_t t = 0; t < d; t++)                                                                 \
            for (int64_t q = 0; q < kp; q++) ct[t * kp + q] = q < k ? c[q * d + t] : 0;                 \
        return ct;                                                                                      \
    }                                                                                                   \
    /* CK_ROWS lanes: rows i0 .. i0 + nb − 1 (nb <= CK_ROWS) into scratch (d × CK_ROWS), then theirs */ \
    TARGET CK_INLINE void ck_kmeans_lanes_##SFX##_##ISA(int64_t i0, int64_t nb, int64_t d, const T *x,   \
                                                       int64_t ldx, const T *xt, int64_t ldxt, int64_t k, \
                                                       const T *c, const T *cn, const T *ct, T *scratch, \
                                                       IDX *bi, double *e) {                            \
        const int64_t kp = CK_KPAD(k);                                                                  \
        /* the block's lanes copied together (d × CK_ROWS): in place, a row stride that is a multiple \
         * of 512 floats puts every feature in the same L1 sets (n = 4096: 2x slower at d = 20) */     \
        const T *bt = scratch;                                                                          \
        const int64_t ldt = CK_ROWS;                                                                    \
        if (nb < CK_ROWS) ck_transpose_rows_##SFX(nb, d, x + i0 * ldx, ldx, scratch);                   \
        else                                                                                            \
            for (int64_t t = 0; t < d; t++)                                                             \
                for (int l = 0; l < CK_ROWS; l++) scratch[t * CK_ROWS + l] = xt[t * ldxt + i0 + l];     \
        ck_assign_lanes_##SFX(d, bt, ldt, k, c, cn, bi);                                                \
        for (int l = 0; l < CK_ROWS; l++) e[l] = 0;                                                     \
        for (int64_t t = 0; t < d; t++) {                                                               \
            const T *r = bt + t * ldt;                                                                  \
            T cv[CK_ROWS];                                                                              \
            ck_lanes_##SFX##_##ISA(ct + t * kp, k, bi, cv);                                             \
            for (int l = 0; l < CK_ROWS; l++) {                                                         \
                const double v = (double)r[l] - (double)cv[l];                                          \
                const double vv = v * v;                                                                \
                e[l] = e[l] + vv;                                                                       \
            }                                                                                           \
        }                                                                                               \
    }                                                                                                   \
    TARGET CK_INLINE void ck_kmeans_block_generic_##SFX##_##ISA(int64_t i0, int64_t nb, int64_t d, const T *x, \
                                                               int64_t ldx, const T *xt, int64_t ldxt,    \
                                                               int64_t k, const T *c, const T *cn,        \
                                                               const T *ct, T *scratch, IDX *bi, double *e) { \
        for (int64_t h = 0; h < nb; h += CK_ROWS)                                                       \
            ck_kmeans_lanes_##SFX##_##ISA(i0 + h, nb - h < CK_ROWS ? nb - h : CK_ROWS, d, x, ldx, xt, ldxt, k, \
                                          c, cn, ct, scratch + h * d, bi + h, e + h);                   \
    }                                                                                                   \
    TARGET static void ck_kmeans_chunk_##SFX##_##ISA(int64_t m, int64_t d, const T *x, int64_t ldx,      \
                                                    const T *xt, int64_t ldxt, int64_t k, const T *c,   \
                                                    const T *cn, int64_t *labels, double *inertia,      \
                                                    double *sums, int64_t *counts, T *scratch,          \
                                                    double *acc) {                                      \
        const T *ct = ck_kmeans_centres_##SFX##_##ISA(d, k, c, scratch);                                \
        const int64_t dp = CK_KM_DPAD(d);                                                               \
        if (sums) ck_sums_in(sums, k, d, acc);                                                          \
        double total = 0;                                                                               \
        for (int64_t i0 = 0; i0 < m; i0 += CK_KM_ROWS) {                                                \
            const int64_t nb = m - i0 < CK_KM_ROWS ? m - i0 : CK_KM_ROWS;                               \
            IDX bi[CK_KM_ROWS];                                                                         \
            double e[CK_KM_ROWS];                                                                       \
            ck_kmeans_block_##SFX##_##ISA(i0, nb, d, x, ldx, xt, ldxt, k, c, cn, ct, scratch, bi, e);    \
            for (int64_t l = 0; l < nb; l++) { labels[i0 + l] = bi[l]; total = total + e[l]; }          \
            if (sums)                                                                                   \
                for (int64_t l = 0; l < nb; l++) {                                                      \
                    ck_add_row_##SFX##_##ISA(acc + bi[l] * dp, x + (i0 + l) * ldx, d);                  \
                    counts[bi[l]] += 1;                                                                 \
                }                                                                                       \
        }                                                                                               \
        if (sums) ck_sums_out(acc, k, d, sums);                                                         \
        *inertia = total;                                                                               \
    }                                                                                                   \
    TARGET static void ck_kmeans_label_##SFX##_##ISA(int64_t m, int64_t d, const T *x, int64_t ldx,      \
                                                    const T *xt, int64_t ldxt, int64_t k, const T *c,   \
                                                    const T *cn, int64_t *labels, double *err,          \
                                                    T *scratch) {                                       \
        const T *ct = ck_kmeans_centres_##SFX##_##ISA(d, k, c, scratch);                                \
        for (int64_t i0 = 0; i0 < m; i0 += CK_KM_ROWS) {                                                \
            const int64_t nb = m - i0 < CK_KM_ROWS ? m - i0 : CK_KM_ROWS;                               \
            IDX bi[CK_KM_ROWS];                                                                         \
            double e[CK_KM_ROWS];                                                                       \
            ck_kmeans_block_##SFX##_##ISA(i0, nb, d, x, ldx, xt, ldxt, k, c, cn, ct, scratch, bi, e);    \
            for (int64_t l = 0; l < nb; l++) { labels[i0 + l] = bi[l]; err[i0 + l] = e[l]; }            \
        }                                                                                               \
    }                                                                                                   \
    /* the chunk's sums half for given labels (checked by the caller), rows in order; acc as the     \
     * chunk kernel's */                                                                                \
    TARGET static void ck_kmeans_sums_##SFX##_##ISA(int64_t m, int64_t d, const T *x, int64_t ldx,       \
                                                   int64_t k, const int64_t *labels, double *sums,     \
                                                   int64_t *counts, double *acc) {                      \
        const int64_t dp = CK_KM_DPAD(d);                                                               \
        ck_sums_in(sums, k, d, acc);                                                                    \
        for (int64_t i = 0; i < m; i++) {                                                               \
            ck_add_row_##SFX##_##ISA(acc + labels[i] * dp, x + i * ldx, d);                             \
            counts[labels[i]] += 1;                                                                     \
        }                                                                                               \
        ck_sums_out(acc, k, d, sums);                                                                   \
    }

#endif /* TSR_CLUSTER_KMEANS_H */
