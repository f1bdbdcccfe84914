/*
 * rp_kernels_body.h — the precision-generic bodies of the random-projection
 * kernels. No include guard on purpose: rp_kernels.h includes it once per
 * element type, the way BLAS-style libraries template s/d routines. The
 * includer defines:
 *   RP_T      element type (float | double)
 *   RP_U      unsigned integer of the same width (the sign mask is XORed into its bits)
 *   RP_SFX    name suffix (f32 | f64)
 *   RP_FMA    fused multiply-add of that type (fmaf | fma)
 *   RP_SIGNS  field of rp_matrix holding the sign masks (col_sign | col_sign64)
 * Only exact operations (+, −, sign flips) and RP_FMA appear, in the same order
 * for every ISA instantiation, so every path gives the same bits.
 */
#define RP_NAME2(a, b) a##_##b
#define RP_NAME(a, b) RP_NAME2(a, b)

/* xt[j][r] = x[r][jb + j] for j < nj, r < RP_TILE (rows >= `rows` zero): the portable transpose.
 * Returns nonzero when one of the values read is NaN or ±inf (all exponent bits set: an integer
 * test, so the transform's checked entry points need no second pass over X). */
RP_INLINE int RP_NAME(rp_transpose_generic, RP_SFX)(RP_T *restrict xt, const RP_T *x, int64_t ldx, int64_t rows,
                                                    int64_t jb, int64_t nj) {
    const RP_U expo = sizeof(RP_T) == 4 ? (RP_U)0x7f800000u : (RP_U)0x7ff0000000000000ull;
    RP_U hit = 0;
    if (rows < RP_TILE) memset(xt, 0, (size_t)nj * RP_TILE * sizeof(RP_T));
    for (int64_t r = 0; r < rows; r++) {
        const RP_T *xr = x + r * ldx + jb;
        for (int64_t j = 0; j < nj; j++) {
            RP_U b;
            memcpy(&b, xr + j, sizeof b);
            hit |= (RP_U)((b & expo) == expo);
            xt[j * RP_TILE + r] = xr[j];
        }
    }
    return hit != 0;
}

typedef int (*RP_NAME(rp_transpose_fn, RP_SFX))(RP_T *xt, const RP_T *x, int64_t ldx, int64_t rows, int64_t jb,
                                                int64_t nj);

/*
 * One tile of up to RP_TILE rows of a dense X against sparse R (CSC with sign
 * masks). X is transposed block by block into xt[j][RP_TILE] so that each
 * nonzero of R is one contiguous RP_TILE-wide add; acc[k][RP_TILE] sums
 * ±x[r, j] in ascending j; y = scale · acc. Returns nonzero when X held NaN or ±inf.
 */
RP_INLINE int RP_NAME(rp_tile_body, RP_SFX)(const rp_matrix *m, RP_T scale, int64_t rows, const RP_T *x, int64_t ldx,
                                             RP_T *y, int64_t ldy, RP_T *restrict xt, RP_T *restrict acc,
                                             int64_t *restrict cur, RP_NAME(rp_transpose_fn, RP_SFX) transpose) {
    const int32_t d = m->d;
    const int64_t D = m->D;
    const int32_t *restrict cj = m->col_j;
    const RP_U *restrict cs = m->RP_SIGNS;
    memset(acc, 0, (size_t)d * RP_TILE * sizeof(RP_T));
    memcpy(cur, m->col_ptr, (size_t)d * sizeof(int64_t));
    int bad = 0;
    for (int64_t jb = 0; jb < D; jb += RP_JBLOCK) {
        int64_t je = jb + RP_JBLOCK < D ? jb + RP_JBLOCK : D;
        bad |= transpose(xt, x, ldx, rows, jb, je - jb);
        for (int32_t k = 0; k < d; k++) {
            int64_t e = cur[k], end = m->col_ptr[k + 1];
            RP_T af[RP_TILE];
            memcpy(af, acc + (size_t)k * RP_TILE, sizeof af);
            for (; e < end && cj[e] < je; e++) {
                const RP_T *v = xt + (size_t)(cj[e] - jb) * RP_TILE;
                RP_U sgn = cs[e];
                for (int r = 0; r < RP_TILE; r++) {
                    RP_U b;
                    memcpy(&b, v + r, sizeof b);
                    b ^= sgn;
                    RP_T fv;
                    memcpy(&fv, &b, sizeof fv);
                    af[r] += fv;
                }
            }
            memcpy(acc + (size_t)k * RP_TILE, af, sizeof af);
            cur[k] = e;
        }
    }
    for (int64_t r = 0; r < rows; r++) {
        RP_T *yr = y + r * ldy;
        for (int32_t k = 0; k < d; k++) yr[k] = scale * acc[(size_t)k * RP_TILE + r];
    }
    return bad;
}

/*
 * Dense R (D × d, row-major = the row CSR of a Gaussian R): y[r, :] =
 * Σ_j x[r, j] · R[j, :], fused multiply-add in ascending j. acc: rows*d scratch.
 */
RP_INLINE void RP_NAME(rp_gemm_body, RP_SFX)(const RP_T *restrict R, int64_t D, int32_t d, int64_t rows, const RP_T *x,
                                             int64_t ldx, RP_T *y, int64_t ldy, RP_T *restrict acc) {
    memset(acc, 0, (size_t)rows * d * sizeof(RP_T));
    for (int64_t jb = 0; jb < D; jb += RP_G_JBLOCK) {
        int64_t je = jb + RP_G_JBLOCK < D ? jb + RP_G_JBLOCK : D;
        for (int64_t r = 0; r < rows; r++) {
            RP_T *restrict a = acc + (size_t)r * d;
            const RP_T *xr = x + r * ldx;
            for (int64_t j = jb; j < je; j++) {
                RP_T xv = xr[j];
                const RP_T *restrict Rj = R + (size_t)j * d;
                for (int32_t k = 0; k < d; k++) a[k] = RP_FMA(xv, Rj[k], a[k]);
            }
        }
    }
    for (int64_t r = 0; r < rows; r++) memcpy(y + r * ldy, acc + (size_t)r * d, (size_t)d * sizeof(RP_T));
}

#undef RP_NAME
#undef RP_NAME2
