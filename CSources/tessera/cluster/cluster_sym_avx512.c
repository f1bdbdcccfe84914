/*
 * cluster_sym_avx512.c — the AVX-512 float kernel of tsr_distance_symmetric_f32. Rows ib..ib+16
 * against points j0..j0+16 from j0 = ib on (yb: the call's rows transposed per 16-row block,
 * d × round-up(i1 − i0, 16) floats): each 16 × 16 block of pairs once, in 16 registers
 * (register r = row ib + r, lane l = point j0 + l), stored as row segments, then transposed in
 * registers and stored as the mirror's column segments (row j0 + l, columns ib..ib+16). Per pair
 * the operations of cluster_rows.h in the same order (v = x_jt − x_it; s = fma(v, v, s) or
 * s + |v|; the correctly rounded square root), so every entry has the bits of
 * tsr_distance_rows_f32 and of the other ISAs' (generic) symmetric kernel.
 */
#include "cluster_internal.h"

#if TSR_X86
#include <immintrin.h>

#define SYM_INLINE static inline __attribute__((always_inline))

/* In-register transpose of 16 rows of 16 floats: afterwards r[l] holds lane l of every row. */
TSR_TARGET_AVX512 SYM_INLINE void sym_transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int k = 0; k < 16; k += 2) {
        t[k] = _mm512_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm512_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 16; k += 4) {
        r[k] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[k]), _mm512_castps_pd(t[k + 2])));
        r[k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[k]), _mm512_castps_pd(t[k + 2])));
        r[k + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[k + 1]), _mm512_castps_pd(t[k + 3])));
        r[k + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[k + 1]), _mm512_castps_pd(t[k + 3])));
    }
    for (int h = 0; h < 16; h += 8)
        for (int k = 0; k < 4; k++) {
            t[h + k] = _mm512_shuffle_f32x4(r[h + k], r[h + k + 4], 0x88);
            t[h + k + 4] = _mm512_shuffle_f32x4(r[h + k], r[h + k + 4], 0xdd);
        }
    for (int k = 0; k < 8; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
        r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
    }
}

/* A full, 64-byte aligned segment goes out with a streaming store; anything else masked. */
TSR_TARGET_AVX512 SYM_INLINE void sym_store(float *p, __m512 v, __mmask16 m) {
    if (m == 0xffff && !((uintptr_t)p & 63)) _mm512_stream_ps(p, v);
    else _mm512_mask_storeu_ps(p, m, v);
}

/* One feature of the 16 sums: TERM(a, v) adds the term of v = xv − row r's feature to a. */
#define SYM_FEATURE(TERM)                                                                               \
    TERM(a0, 0); TERM(a1, 1); TERM(a2, 2); TERM(a3, 3); TERM(a4, 4); TERM(a5, 5); TERM(a6, 6);       \
    TERM(a7, 7); TERM(a8, 8); TERM(a9, 9); TERM(a10, 10); TERM(a11, 11); TERM(a12, 12); TERM(a13, 13); \
    TERM(a14, 14); TERM(a15, 15)
#define SYM_SQ(a, r) do { const __m512 v = _mm512_sub_ps(xv, _mm512_set1_ps(yb[r])); a = _mm512_fmadd_ps(v, v, a); } while (0)
#define SYM_ABS(a, r) a = _mm512_add_ps(a, _mm512_abs_ps(_mm512_sub_ps(xv, _mm512_set1_ps(yb[r]))))

/* acc[r] lane l = the sum over features of pair (row r of yb, point l of xt); yb: d × 16, the
 * block's rows transposed. Points past the mask load as 0 (their lanes are never stored). The
 * sums live in 16 named registers (an indexed array would be stored back every feature). */
TSR_TARGET_AVX512 SYM_INLINE void sym_block(int manhattan, int64_t d, const float *xt, int64_t ldxt,
                                            const float *yb, __mmask16 mw, __m512 acc[16]) {
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    __m512 a8 = a0, a9 = a0, a10 = a0, a11 = a0, a12 = a0, a13 = a0, a14 = a0, a15 = a0;
    if (manhattan) {
        for (int64_t t = 0; t < d; t++, xt += ldxt, yb += 16) {
            const __m512 xv = _mm512_maskz_loadu_ps(mw, xt);
            SYM_FEATURE(SYM_ABS);
        }
    } else {
        for (int64_t t = 0; t < d; t++, xt += ldxt, yb += 16) {
            const __m512 xv = _mm512_maskz_loadu_ps(mw, xt);
            SYM_FEATURE(SYM_SQ);
        }
    }
    acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3; acc[4] = a4; acc[5] = a5; acc[6] = a6; acc[7] = a7;
    acc[8] = a8; acc[9] = a9; acc[10] = a10; acc[11] = a11; acc[12] = a12; acc[13] = a13; acc[14] = a14; acc[15] = a15;
}

TSR_TARGET_AVX512 void tsr_cluster_sym_f32_avx512(int metric, int64_t n, int64_t d, const float *xt, int64_t ldxt,
                                                  const float *x, int64_t ldx, int64_t i0, int64_t i1, float *out,
                                                  int64_t ldo, float *yb) {
    const int manhattan = metric == TSR_DISTANCE_MANHATTAN, root = metric == TSR_DISTANCE_EUCLIDEAN;
    /* every 16-row block's rows transposed (a short block repeats its last row; those lanes are not stored) */
    for (int64_t ib = i0; ib < i1; ib += CK_SYM_B) {
        const int64_t rows = i1 - ib < CK_SYM_B ? i1 - ib : CK_SYM_B;
        float *yt = yb + (ib - i0) * d;
        for (int64_t t = 0; t < d; t++)
            for (int r = 0; r < CK_SYM_B; r++) yt[t * CK_SYM_B + r] = x[(ib + (r < rows ? r : rows - 1)) * ldx + t];
    }
    /* points outer, row blocks inner: the mirror's segments of one point (row j of the matrix)
     * are written one after another, a run of up to (i1 − i0) values instead of 16 */
    for (int64_t j0 = i0; j0 < n; j0 += CK_SYM_B) {
        const int64_t w = n - j0 < CK_SYM_B ? n - j0 : CK_SYM_B;
        const __mmask16 mw = (__mmask16)((1u << w) - 1u);
        for (int64_t ib = i0; ib < i1 && ib <= j0; ib += CK_SYM_B) {
            const int64_t rows = i1 - ib < CK_SYM_B ? i1 - ib : CK_SYM_B;
            const __mmask16 mr = (__mmask16)((1u << rows) - 1u);
            __m512 acc[16];
            sym_block(manhattan, d, xt + j0, ldxt, yb + (ib - i0) * d, mw, acc);
            if (root)
                for (int r = 0; r < 16; r++) acc[r] = _mm512_sqrt_ps(acc[r]);
            for (int64_t r = 0; r < rows; r++) sym_store(out + (ib + r) * ldo + j0, acc[r], mw);
            /* the mirror: points j0 + l outside this block's rows (all of them once j0 > ib) */
            if (j0 + w > ib + rows) {
                sym_transpose16(acc);
                for (int64_t l = j0 == ib ? rows : 0; l < w; l++) sym_store(out + (j0 + l) * ldo + ib, acc[l], mr);
            }
        }
    }
    _mm_sfence();
}
#endif
