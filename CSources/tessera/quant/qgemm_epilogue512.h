/*
 * qgemm_epilogue512.h — the per-group float step shared by the AVX-512 VNNI and AMX
 * kernels (included by their .c files only): from exact int32 group sums of MT rows to
 * acc += ((float)(isum − z·Σa) · d_a) · scale (+ min·d_a·Σa); and for two-level (K-quant)
 * plans the integer super-block fold and its float step (tsr_qsuper_step). One definition,
 * so all paths perform identical operations and give identical bits.
 */
#ifndef TSR_QGEMM_EPILOGUE512_H
#define TSR_QGEMM_EPILOGUE512_H

#include <immintrin.h>

#include "quant_internal.h"

/* High-plane fields (shifted to bits 4..) completing nibble chunk j's low (half 0) or high
 * (half 1) nibbles of a record with d->hbits > 0: OR them into the nibbles to get u. */
static inline __attribute__((always_inline)) TSR_TARGET_AVX512 __m512i
tsr_qhplane512(const tsr_qkernel_desc *d, const uint8_t *rec, int j, int half) {
    int c, sh;
    tsr_qhplane_field(d, j, half, &c, &sh);
    const __m512i w = _mm512_loadu_si512((const void *)(rec + 8 * d->group + 64 * c));
    const __m512i v = _mm512_and_si512(_mm512_srl_epi16(w, _mm_cvtsi32_si128(sh)), _mm512_set1_epi8((char)((1 << d->hbits) - 1)));
    return _mm512_slli_epi16(v, 4);
}

/* The plan's 16 codes (d->lut) in every 128-bit lane, for vpshufb on nibbles. */
static inline __attribute__((always_inline)) TSR_TARGET_AVX512 __m512i tsr_qlut512(const tsr_qkernel_desc *d) {
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)d->lut));
}

/* The weight side of a single-level group's float step: the 16 rows' scales `s`, minimums `mn`
 * (zero without) and per-row zero points `zv` (zero unless d->zkind == TSR_QZ_ROW) of record `rec`. */
static inline __attribute__((always_inline)) TSR_TARGET_AVX512 void
tsr_qgroup_scales512(const tsr_qkernel_desc *d, const uint8_t *rec, __m512 *s_out, __m512 *mn_out, __m512i *zv_out) {
    const size_t ss = d->scale_f32 ? 4 : 2;
    const uint8_t *sc = rec + d->wbytes, *ex = sc + TSR_QP * ss;
    __m512 mn = _mm512_setzero_ps();
    __m512i zv = _mm512_setzero_si512();
    const __m512 s = d->scale_f32 ? _mm512_loadu_ps((const float *)(const void *)sc)
                                  : _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)sc));
    if (d->zkind == TSR_QZ_ROW) zv = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)ex));
    if (d->has_min)
        mn = d->scale_f32 ? _mm512_loadu_ps((const float *)(const void *)ex)
                          : _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)ex));
    *s_out = s;
    *mn_out = mn;
    *zv_out = zv;
}

/* The activation side of the float step for MT rows, from the group's weight scales:
 * acc += ((float)(isum − z·Σa) · d_a) · s (+ mn·d_a·Σa). `meta` points at group gi of row 0;
 * row m's entry is meta[m·ng]. ZROW / MIN: the plan's per-row zero points and minimums as
 * compile-time flags (tsr_qepi_flags), so a kernel specialised on them has no branch per row. */
static inline __attribute__((always_inline)) TSR_TARGET_AVX512 void
tsr_qepilogue512_rows_f(__m512 s, __m512 mn, __m512i zv, const int MT, const int ZROW, const int MIN,
                        const __m512i *is, const tsr_qact_meta *meta, int64_t ng, __m512 *acc) {
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        const tsr_qact_meta *am = meta + (int64_t)m * ng;
        const __m512i corr = ZROW ? _mm512_mullo_epi32(zv, _mm512_set1_epi32(am->sum)) : _mm512_set1_epi32(am->zsum);
        const __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(is[m], corr)), _mm512_set1_ps(am->d));
        acc[m] = _mm512_fmadd_ps(t, s, acc[m]);
        if (MIN) acc[m] = _mm512_fmadd_ps(mn, _mm512_set1_ps(am->dsum), acc[m]);
    }
}

/* tsr_qepilogue512_rows_f for two panels (a, b) of the same rows: each row's activation terms
 * (z·Σa, d_a, d_a·Σa) are broadcast once for both; per panel the operations are the one-panel
 * step's, in its order. */
static inline __attribute__((always_inline)) TSR_TARGET_AVX512 void
tsr_qepilogue512_rows_x2(__m512 sa, __m512 mna, __m512i zva, __m512 sb, __m512 mnb, __m512i zvb, const int MT,
                         const int ZROW, const int MIN, const __m512i *isa, const __m512i *isb,
                         const tsr_qact_meta *meta, int64_t ng, __m512 *acca, __m512 *accb) {
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        const tsr_qact_meta *am = meta + (int64_t)m * ng;
        const __m512 dv = _mm512_set1_ps(am->d);
        __m512i ca, cb;
        if (ZROW) {
            const __m512i sv = _mm512_set1_epi32(am->sum);
            ca = _mm512_mullo_epi32(zva, sv);
            cb = _mm512_mullo_epi32(zvb, sv);
        } else {
            ca = cb = _mm512_set1_epi32(am->zsum);
        }
        acca[m] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isa[m], ca)), dv), sa, acca[m]);
        accb[m] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(isb[m], cb)), dv), sb, accb[m]);
        if (MIN) {
            const __m512 ds = _mm512_set1_ps(am->dsum);
            acca[m] = _mm512_fmadd_ps(mna, ds, acca[m]);
            accb[m] = _mm512_fmadd_ps(mnb, ds, accb[m]);
        }
    }
}

/* The plan's epilogue flags: bit 0 per-row zero points, bit 1 minimums. */
static inline int tsr_qepi_flags(const tsr_qkernel_desc *d) {
    return (d->zkind == TSR_QZ_ROW ? 1 : 0) | (d->has_min ? 2 : 0);
}

/* tsr_qepilogue512_rows_f with the flags read from the plan at run time. */
static inline __attribute__((always_inline)) TSR_TARGET_AVX512 void
tsr_qepilogue512_rows(const tsr_qkernel_desc *d, __m512 s, __m512 mn, __m512i zv, const int MT, const __m512i *is,
                      const tsr_qact_meta *meta, int64_t ng, __m512 *acc) {
    tsr_qepilogue512_rows_f(s, mn, zv, MT, d->zkind == TSR_QZ_ROW, d->has_min, is, meta, ng, acc);
}

/* The whole float step of one single-level group: weight scales of `rec` (tsr_qgroup_scales512),
 * then the MT rows (tsr_qepilogue512_rows). */
static inline __attribute__((always_inline)) TSR_TARGET_AVX512 void
tsr_qepilogue512(const tsr_qkernel_desc *d, const uint8_t *rec, const int MT, const __m512i *is,
                 const tsr_qact_meta *meta, int64_t ng, __m512 *acc) {
    __m512 s, mn;
    __m512i zv;
    tsr_qgroup_scales512(d, rec, &s, &mn, &zv);
    tsr_qepilogue512_rows(d, s, mn, zv, MT, is, meta, ng, acc);
}

/* ---- two-level (K-quant) plans: the integer super-block fold (quant_internal.h) ---------- */

#define TSR_QINLINE_VNNI static inline __attribute__((always_inline)) TSR_TARGET_AVX512VNNI

/* The 16 rows' int8 sub-scales of record `rec`, as int32. */
TSR_QINLINE_VNNI __m512i tsr_qsubscale512(const tsr_qkernel_desc *d, const uint8_t *rec) {
    return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(rec + d->wbytes)));
}

/* The sub-minimums of record `rec` (group j) and the next one (group j + 1) as int16 pairs:
 * lane r = m_j[r] | m_{j+1}[r] << 16, for vpdpwssd against tsr_qact_meta.spair. */
TSR_QINLINE_VNNI __m512i tsr_qsubmin_pair512(const tsr_qkernel_desc *d, const uint8_t *rec) {
    const __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(rec + d->wbytes + TSR_QP)));
    const __m512i b = _mm512_cvtepu8_epi32(
        _mm_loadu_si128((const __m128i *)(const void *)(rec + d->rec_bytes + d->wbytes + TSR_QP)));
    return _mm512_or_si512(a, _mm512_slli_epi32(b, 16));
}

/* One group folded into the super-block sums of MT rows: isb[m] (+)= (is[m] − z·Σa)·sc (one vpmulld
 * per row). `meta` points at the group of row 0; FIRST: the super-block's first group (isb starts). */
TSR_QINLINE_VNNI void tsr_qfold512(__m512i scv, const int MT, int first, const __m512i *is, const tsr_qact_meta *meta,
                                   int64_t ng, __m512i *isb) {
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        const __m512i p = _mm512_mullo_epi32(_mm512_sub_epi32(is[m], _mm512_set1_epi32(meta[(int64_t)m * ng].zsum)), scv);
        isb[m] = first ? p : _mm512_add_epi32(isb[m], p);
    }
}

/* The super-block's float step for MT rows (tsr_qsuper_step, lane by lane): dv / nminv the rows'
 * d and −dmin, mp[i·mps] the sub-minimum pair of groups 2i, 2i+1 (npairs of them; only with MIN),
 * `meta` the super-block's first group of row 0. msum is formed with one vpdpwssd per pair. */
TSR_QINLINE_VNNI void tsr_qsuper512(__m512 dv, __m512 nminv, const __m512i *mp, int mps, int npairs, const int MT,
                                    const int MIN, const __m512i *isb, const tsr_qact_meta *meta, int64_t ng,
                                    __m512 *acc) {
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        const tsr_qact_meta *am = meta + (int64_t)m * ng;
        __m512 v;
        if (MIN) {
            __m512i ms = _mm512_setzero_si512();
            for (int i = 0; i < npairs; i++) ms = _mm512_dpwssd_epi32(ms, mp[i * mps], _mm512_set1_epi32(am[2 * i].spair));
            v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isb[m]), dv, _mm512_mul_ps(_mm512_cvtepi32_ps(ms), nminv));
        } else {
            v = _mm512_mul_ps(_mm512_cvtepi32_ps(isb[m]), dv);
        }
        acc[m] = _mm512_fmadd_ps(v, _mm512_set1_ps(am->d), acc[m]);
    }
}

/* The rows' d and −dmin (zero without minimums) of the super-block entry `sup`. */
TSR_QINLINE_VNNI void tsr_qsuper_scales512(const tsr_qkernel_desc *d, const uint8_t *sup, __m512 *dv, __m512 *nminv) {
    *dv = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)sup));
    *nminv = d->has_min ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(sup + 32))) : _mm512_setzero_ps();
}

/* Group gi of a two-level panel with the exact group sums `is` of MT rows: folds them into isb
 * and, after the super-block's last group, runs its float step into acc (weights read from the
 * panel's records). `meta` points at group 0 of row 0. */
TSR_QINLINE_VNNI void tsr_qtwo_group512(const tsr_qkernel_desc *d, const uint8_t *panel, int gi, const int MT,
                                        const int MIN, const __m512i *is, const tsr_qact_meta *meta, __m512i *isb,
                                        __m512 *acc) {
    const int gps = d->gps, j = gi % gps;
    const uint8_t *rec = panel + (size_t)gi * d->rec_bytes;
    tsr_qfold512(tsr_qsubscale512(d, rec), MT, j == 0, is, meta + gi, d->ngroups, isb);
    if (j != gps - 1) return;
    const uint8_t *r0 = rec - (size_t)(gps - 1) * d->rec_bytes;
    __m512i mp[8];
    if (MIN)
        for (int i = 0; i < gps / 2; i++) mp[i] = tsr_qsubmin_pair512(d, r0 + (size_t)(2 * i) * d->rec_bytes);
    __m512 dv, nminv;
    tsr_qsuper_scales512(d, tsr_qsuper(d, panel, gi), &dv, &nminv);
    tsr_qsuper512(dv, nminv, mp, 1, gps / 2, MT, MIN, isb, meta + gi - j, d->ngroups, acc);
}

#endif /* TSR_QGEMM_EPILOGUE512_H */
