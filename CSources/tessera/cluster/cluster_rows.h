/*
 * cluster_rows.h — the distance-matrix rows of cluster_kernels.h (tsr_distance_rows_*):
 * CK_RROWS rows at a time against CK_RCOLS points, computed into a small tile that stays in
 * L1, then written out row by row with streaming stores (the n² output is written once, never
 * read for ownership). Included by cluster_kernels.h only.
 *
 * Per pair, in the element type, features in order: Euclidean and squared Euclidean
 * s = fma(v, v, s) with v = y_t − x_t (then a correctly rounded square root), Manhattan
 * s = s + |v|. (x − y)² = (y − x)² and |x − y| = |y − x| exactly, so d(i, j) and d(j, i) get
 * the same bits and d(i, i) = 0: the matrix is exactly symmetric without a mirror pass.
 *
 * The includer defines, per ISA: ck_rows_vec_f32_ISA / ck_rows_vec_f64_ISA (CK_ROWS_VEC with its
 * intrinsics, or plain loops), ck_stream_f32_ISA / ck_stream_f64_ISA(T *dst, const T *src,
 * int64_t w) storing src[j] to dst[j] for j < w, with streaming stores where aligned; and ck_fence_ISA() ordering those stores before the return.
 */
#ifndef TSR_CLUSTER_ROWS_H
#define TSR_CLUSTER_ROWS_H

/* Rows and points of one tile (CK_RROWS × CK_RCOLS values; the points' features stay in L1). */
#define CK_RROWS 8
#define CK_RCOLS 128

/* The row kernel of one ISA and type with explicit vectors (the includer's intrinsics): o0[j]
 * and o1[j], the distances of point j to y0 and to y1, for j < w. Four vectors of points at a
 * time against both rows: eight independent accumulator chains, and each loaded vector of
 * points used twice (loads, not arithmetic, would bound one row at a time). The last partial
 * block goes point by point with the same scalar operations; `root` takes the (correctly
 * rounded) square roots in registers. y1 may equal y0 (o1 then o0). */
#define CK_ROWS_VEC(T, SFX, ISA, TARGET, VT, LANES, LOAD, STORE, SET1, ZERO, SUB, VFMA, ADD, VABS, VSQRT, FMA, ABS, SQRT) \
    TARGET CK_INLINE void ck_rows_vec_##SFX##_##ISA(int manhattan, int root, int64_t w, int64_t d,        \
                                                   const T *xt, int64_t ldxt, const T *y0, const T *y1,  \
                                                   T *o0, T *o1) {                                       \
        int64_t j = 0;                                                                                  \
        for (; j + 4 * (LANES) <= w; j += 4 * (LANES)) {                                                \
            VT s0 = ZERO(), s1 = ZERO(), s2 = ZERO(), s3 = ZERO();                                      \
            VT u0 = ZERO(), u1 = ZERO(), u2 = ZERO(), u3 = ZERO();                                      \
            const T *r = xt + j;                                                                        \
            if (manhattan) {                                                                            \
                for (int64_t t = 0; t < d; t++, r += ldxt) {                                            \
                    const VT a = SET1(y0[t]), b = SET1(y1[t]);                                          \
                    const VT x0 = LOAD(r), x1 = LOAD(r + (LANES));                                      \
                    const VT x2 = LOAD(r + 2 * (LANES)), x3 = LOAD(r + 3 * (LANES));                    \
                    s0 = ADD(s0, VABS(SUB(x0, a))); u0 = ADD(u0, VABS(SUB(x0, b)));                     \
                    s1 = ADD(s1, VABS(SUB(x1, a))); u1 = ADD(u1, VABS(SUB(x1, b)));                     \
                    s2 = ADD(s2, VABS(SUB(x2, a))); u2 = ADD(u2, VABS(SUB(x2, b)));                     \
                    s3 = ADD(s3, VABS(SUB(x3, a))); u3 = ADD(u3, VABS(SUB(x3, b)));                     \
                }                                                                                       \
            } else {                                                                                    \
                for (int64_t t = 0; t < d; t++, r += ldxt) {                                            \
                    const VT a = SET1(y0[t]), b = SET1(y1[t]);                                          \
                    const VT x0 = LOAD(r), x1 = LOAD(r + (LANES));                                      \
                    const VT x2 = LOAD(r + 2 * (LANES)), x3 = LOAD(r + 3 * (LANES));                    \
                    VT v;                                                                               \
                    v = SUB(x0, a); s0 = VFMA(v, v, s0);                                                \
                    v = SUB(x0, b); u0 = VFMA(v, v, u0);                                                \
                    v = SUB(x1, a); s1 = VFMA(v, v, s1);                                                \
                    v = SUB(x1, b); u1 = VFMA(v, v, u1);                                                \
                    v = SUB(x2, a); s2 = VFMA(v, v, s2);                                                \
                    v = SUB(x2, b); u2 = VFMA(v, v, u2);                                                \
                    v = SUB(x3, a); s3 = VFMA(v, v, s3);                                                \
                    v = SUB(x3, b); u3 = VFMA(v, v, u3);                                                \
                }                                                                                       \
            }                                                                                           \
            if (root) {                                                                                 \
                s0 = VSQRT(s0); s1 = VSQRT(s1); s2 = VSQRT(s2); s3 = VSQRT(s3);                         \
                u0 = VSQRT(u0); u1 = VSQRT(u1); u2 = VSQRT(u2); u3 = VSQRT(u3);                         \
            }                                                                                           \
            STORE(o0 + j, s0); STORE(o0 + j + (LANES), s1);                                             \
            STORE(o0 + j + 2 * (LANES), s2); STORE(o0 + j + 3 * (LANES), s3);                           \
            STORE(o1 + j, u0); STORE(o1 + j + (LANES), u1);                                             \
            STORE(o1 + j + 2 * (LANES), u2); STORE(o1 + j + 3 * (LANES), u3);                           \
        }                                                                                               \
        for (; j < w; j++) {                                                                            \
            T acc0 = 0, acc1 = 0;                                                                       \
            for (int64_t t = 0; t < d; t++) {                                                           \
                const T v0 = xt[t * ldxt + j] - y0[t], v1 = xt[t * ldxt + j] - y1[t];                   \
                acc0 = manhattan ? acc0 + ABS(v0) : FMA(v0, v0, acc0);                                  \
                acc1 = manhattan ? acc1 + ABS(v1) : FMA(v1, v1, acc1);                                  \
            }                                                                                           \
            o0[j] = root ? SQRT(acc0) : acc0;                                                           \
            o1[j] = root ? SQRT(acc1) : acc1;                                                           \
        }                                                                                               \
    }

/* The rows of one ISA and type (the includer defines ck_rows_vec_SFX_ISA, ck_stream_SFX_ISA and
 * ck_fence_ISA). ck_rows_range_ computes rows i0..i1 against points c0..n into out (row i0 at
 * out, point j at column j), unfenced; with mat (the whole matrix, row 0 first) it also writes each
 * tile's points j >= mirror transposed, into mat[j·ldo + i] (plain stores from the L1 tile: the
 * same bits, each pair computed once). ck_rows_ is the whole rows; ck_sym_generic_ the symmetric
 * block (tsr_distance_symmetric_*) of the ISAs without an explicit one. */
#define CK_ROWS_T(T, SFX, ISA, TARGET)                                                                  \
    TARGET static void ck_rows_range_##SFX##_##ISA(int metric, int64_t n, int64_t d, const T *xt,       \
                                                  int64_t ldxt, const T *x, int64_t ldx, int64_t i0,    \
                                                  int64_t i1, int64_t c0, T *out, int64_t ldo, T *mat,  \
                                                  int64_t mirror) {                                     \
        T tile[CK_RROWS * CK_RCOLS] __attribute__((aligned(64)));                                       \
        const int manhattan = metric == TSR_DISTANCE_MANHATTAN, root = metric == TSR_DISTANCE_EUCLIDEAN; \
        for (int64_t ib = i0; ib < i1; ib += CK_RROWS) {                                                \
            const int64_t rows = i1 - ib < CK_RROWS ? i1 - ib : CK_RROWS;                               \
            for (int64_t j0 = c0; j0 < n; j0 += CK_RCOLS) {                                             \
                const int64_t w = n - j0 < CK_RCOLS ? n - j0 : CK_RCOLS;                                \
                for (int64_t r = 0; r < rows; r += 2) {                                                 \
                    const int64_t r1 = r + 1 < rows ? r + 1 : r;                                        \
                    ck_rows_vec_##SFX##_##ISA(manhattan, root, w, d, xt + j0, ldxt, x + (ib + r) * ldx,  \
                                              x + (ib + r1) * ldx, tile + r * CK_RCOLS, tile + r1 * CK_RCOLS); \
                }                                                                                       \
                for (int64_t r = 0; r < rows; r++)                                                      \
                    ck_stream_##SFX##_##ISA(out + (ib - i0 + r) * ldo + j0, tile + r * CK_RCOLS, w);   \
                if (mat)                                                                                \
                    for (int64_t j = j0 > mirror ? j0 : mirror; j < j0 + w; j++)                        \
                        for (int64_t r = 0; r < rows; r++) mat[j * ldo + ib + r] = tile[r * CK_RCOLS + j - j0]; \
            }                                                                                           \
        }                                                                                               \
    }                                                                                                   \
    TARGET static void ck_rows_##SFX##_##ISA(int metric, int64_t n, int64_t d, const T *xt, int64_t ldxt, \
                                            const T *x, int64_t ldx, int64_t i0, int64_t i1, T *out,    \
                                            int64_t ldo) {                                              \
        ck_rows_range_##SFX##_##ISA(metric, n, d, xt, ldxt, x, ldx, i0, i1, 0, out, ldo, NULL, 0);      \
        ck_fence_##ISA();                                                                               \
    }                                                                                                   \
    TARGET static __attribute__((unused)) void ck_sym_generic_##SFX##_##ISA(                            \
        int metric, int64_t n, int64_t d, const T *xt, int64_t ldxt, const T *x, int64_t ldx, int64_t i0, \
        int64_t i1, T *out, int64_t ldo, T *scratch) {                                                  \
        ck_rows_range_##SFX##_##ISA(metric, n, d, xt, ldxt, x, ldx, i0, i1, i0, out + i0 * ldo, ldo, out, i1); \
        ck_fence_##ISA();                                                                               \
    }

#endif /* TSR_CLUSTER_ROWS_H */
