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

/* One row's run of 16-float segments written in column order (p: where the next one goes). A
 * row that starts a = p mod 16 floats past a cache line gets its segments realigned: each is
 * joined with the carried tail of the one before into the whole line between them, stored with a
 * streaming store, instead of two plain stores straddling two lines (each read for ownership).
 * The run's first and last lines are partial (masked plain stores): the neighbours' runs own the
 * rest. A segment narrower than 16 (w lanes) is the run's last. */
typedef struct sym_run {
    __m512 carry;   /* the last segment (its lanes 16 − a .. w − 1 not yet stored) */
    float *p;       /* the next segment's first column */
    int a, rem;     /* misalignment in floats; carried lanes still to store */
    int started;
} sym_run;

TSR_TARGET_AVX512 SYM_INLINE void sym_run_start(sym_run *r, float *p) {
    r->p = p;
    r->a = (int)(((uintptr_t)p >> 2) & 15);
    r->rem = 0;
    r->started = 0;
}

/* lanes l of the line that begins a floats before the next segment: carry[l + 16 − a] for l < a,
 * then v[l − a] */
TSR_TARGET_AVX512 SYM_INLINE __m512 sym_join(__m512 carry, __m512 v, int a) {
    const __m512i idx = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(16 - a));
    return _mm512_permutex2var_ps(carry, idx, v);
}

TSR_TARGET_AVX512 SYM_INLINE void sym_run_put(sym_run *r, __m512 v, int w) {
    const int a = r->a;
    if (a == 0) {   /* an aligned row: no carry */
        sym_store(r->p, v, (__mmask16)((1u << w) - 1u));
        r->p += 16;
        return;
    }
    if (!r->started) {
        const int head = w < 16 - a ? w : 16 - a;
        _mm512_mask_storeu_ps(r->p, (__mmask16)((1u << head) - 1u), v);
    } else {
        const int take = w < 16 - a ? w : 16 - a;   /* lanes of v in this line */
        const __m512 line = sym_join(r->carry, v, a);
        if (take == 16 - a) _mm512_stream_ps(r->p - a, line);
        else _mm512_mask_storeu_ps(r->p - a, (__mmask16)((1u << (a + take)) - 1u), line);
    }
    r->started = 1;
    r->carry = v;
    r->rem = w > 16 - a ? w - (16 - a) : 0;
    r->p += 16;
}

/* the carried tail of the run's last segment (the run's last, partial line) */
TSR_TARGET_AVX512 SYM_INLINE void sym_run_end(sym_run *r) {
    if (r->rem > 0)
        _mm512_mask_storeu_ps(r->p - r->a, (__mmask16)((1u << r->rem) - 1u), sym_join(r->carry, r->carry, r->a));
    r->rem = 0;
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

/* The kernel's body; `aligned` (a constant): every row starts on a cache line (ldo a multiple of
 * 16, out 64-byte aligned), so segments go straight out and no run state is kept. */
TSR_TARGET_AVX512 SYM_INLINE void sym_body(int aligned, int metric, int64_t n, int64_t d, const float *xt,
                                           int64_t ldxt, const float *x, int64_t ldx, int64_t i0, int64_t i1,
                                           float *out, int64_t ldo, float *scratch) {
    const int manhattan = metric == TSR_DISTANCE_MANHATTAN, root = metric == TSR_DISTANCE_EUCLIDEAN;
    const int64_t nr = (i1 - i0 + CK_SYM_B - 1) / CK_SYM_B * CK_SYM_B;
    /* scratch: the row runs (one per row of the call), the mirror runs (16), then yb */
    sym_run *rows_run = (sym_run *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63), *mirror_run = rows_run + nr;
    float *yb = (float *)(mirror_run + CK_SYM_B);
    /* every 16-row block's rows transposed (a short block repeats its last row; those lanes are not stored) */
    for (int64_t ib = i0; ib < i1; ib += CK_SYM_B) {
        const int64_t rows = i1 - ib < CK_SYM_B ? i1 - ib : CK_SYM_B;
        float *yt = yb + (ib - i0) * d;
        for (int64_t t = 0; t < d; t++)
            for (int r = 0; r < CK_SYM_B; r++) yt[t * CK_SYM_B + r] = x[(ib + (r < rows ? r : rows - 1)) * ldx + t];
    }
    /* row i's run: columns from its block's diagonal (ib) to n */
    if (!aligned)
        for (int64_t i = i0; i < i1; i++) sym_run_start(&rows_run[i - i0], out + i * ldo + (i0 + (i - i0) / CK_SYM_B * CK_SYM_B));
    /* points outer, row blocks inner: the mirror's segments of one point (row j of the matrix)
     * are written one after another, a run of up to (i1 − i0) values instead of 16 */
    for (int64_t j0 = i0; j0 < n; j0 += CK_SYM_B) {
        const int64_t w = n - j0 < CK_SYM_B ? n - j0 : CK_SYM_B;
        const __mmask16 mw = (__mmask16)((1u << w) - 1u);
        const int64_t lm = j0 < i1 ? (i1 - j0 < CK_SYM_B ? i1 - j0 : CK_SYM_B) : 0;   /* points with their own row here */
        if (!aligned)
            for (int64_t l = lm; l < w; l++) sym_run_start(&mirror_run[l], out + (j0 + l) * ldo + i0);
        for (int64_t ib = i0; ib < i1 && ib <= j0; ib += CK_SYM_B) {
            const int64_t rows = i1 - ib < CK_SYM_B ? i1 - ib : CK_SYM_B;
            const __mmask16 mr = (__mmask16)((1u << rows) - 1u);
            __m512 acc[16];
            sym_block(manhattan, d, xt + j0, ldxt, yb + (ib - i0) * d, mw, acc);
            if (root)
                for (int r = 0; r < 16; r++) acc[r] = _mm512_sqrt_ps(acc[r]);
            for (int64_t r = 0; r < rows; r++) {
                if (aligned) sym_store(out + (ib + r) * ldo + j0, acc[r], mw);
                else sym_run_put(&rows_run[ib - i0 + r], acc[r], (int)w);
            }
            /* the mirror: points j0 + l outside this block's rows (all of them once j0 > ib); those
             * with their own row in this call (j0 + l < i1) end their row's lower part here */
            if (j0 + w > ib + rows) {
                sym_transpose16(acc);
                for (int64_t l = j0 == ib ? rows : 0; l < w; l++) {
                    if (aligned || j0 + l < i1) sym_store(out + (j0 + l) * ldo + ib, acc[l], mr);
                    else sym_run_put(&mirror_run[l], acc[l], (int)rows);
                }
            }
        }
        if (!aligned)
            for (int64_t l = lm; l < w; l++) sym_run_end(&mirror_run[l]);
    }
    if (!aligned)
        for (int64_t i = i0; i < i1; i++) sym_run_end(&rows_run[i - i0]);
    _mm_sfence();
}

TSR_TARGET_AVX512 void tsr_cluster_sym_f32_avx512(int metric, int64_t n, int64_t d, const float *xt, int64_t ldxt,
                                                  const float *x, int64_t ldx, int64_t i0, int64_t i1, float *out,
                                                  int64_t ldo, float *scratch) {
    if (ldo % 16 == 0 && ((uintptr_t)out & 63) == 0)
        sym_body(1, metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo, scratch);
    else
        sym_body(0, metric, n, d, xt, ldxt, x, ldx, i0, i1, out, ldo, scratch);
}
#endif
