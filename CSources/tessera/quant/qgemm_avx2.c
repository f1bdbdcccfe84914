/*
 * AVX2 override of the qgemm microkernels. A 16-row panel is processed as two 8-row halves (the
 * 32-byte halves of each 64-byte chunk). Integer dots use vpmaddubsw (u8 × s8 → s16
 * pairs) + vpmaddwd: 4-bit weights cannot saturate (2·15·127 per pair); full-range
 * 8-bit weights go through the sign trick on (u − 128). Same lane arithmetic as
 * qgemm_scalar.c, so the results are bit-identical to the other paths.
 */
#include "quant_internal.h"

#if TSR_X86
#include <immintrin.h>

#define AVX2 TSR_TARGET_AVX2
#define INLINE static inline __attribute__((always_inline)) TSR_TARGET_AVX2

INLINE __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* High-plane fields (shifted to bits 4..) completing nibble chunk j's low or high half, rows
 * of half h. Codes stay <= 63, so four vpmaddubsw products still fit int16. */
INLINE __m256i hplane256(const tsr_qkernel_desc *d, const uint8_t *rec, int h, int j, int half) {
    int c, sh;
    tsr_qhplane_field(d, j, half, &c, &sh);
    const __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(rec + 8 * d->group + 64 * c + 32 * h));
    const __m256i v = _mm256_and_si256(_mm256_srl_epi16(w, _mm_cvtsi32_si128(sh)), _mm256_set1_epi8((char)((1 << d->hbits) - 1)));
    return _mm256_slli_epi16(v, 4);
}

/* 8 bytes of row half h at `p` (16 per-row bytes) as int32: signed or unsigned. */
INLINE __m256i ld8_s32(const uint8_t *p, int h) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 8 * h))); }
INLINE __m256i ld8_u32(const uint8_t *p, int h) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p + 8 * h))); }

/* Two-level plans, group gi of row half h with the exact group sums `is` of MT rows: the integer
 * fold isb (+)= (is − z·Σa)·sc, and after the super-block's last group its float step
 * (tsr_qsuper_step lane by lane; msum by vpmaddwd on pairs of groups). `meta`: group 0 of row 0. */
INLINE void qtwo_group256(const tsr_qkernel_desc *d, const uint8_t *panel, int h, int gi, const int MT,
                          const __m256i *is, const tsr_qact_meta *meta, __m256i *isb, __m256 *acc) {
    const int gps = d->gps, j = gi % gps, ng = d->ngroups;
    const size_t rb = d->rec_bytes;
    const uint8_t *rec = panel + (size_t)gi * rb;
    const __m256i scv = ld8_s32(rec + d->wbytes, h);
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        const __m256i p = _mm256_mullo_epi32(_mm256_sub_epi32(is[m], _mm256_set1_epi32(meta[(int64_t)m * ng + gi].zsum)), scv);
        isb[m] = j == 0 ? p : _mm256_add_epi32(isb[m], p);
    }
    if (j != gps - 1) return;
    const uint8_t *r0 = rec - (size_t)(gps - 1) * rb, *sup = tsr_qsuper(d, panel, gi);
    const __m256 dv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(sup + 16 * h)));
    __m256 nminv = _mm256_setzero_ps();
    __m256i mp[8];
    if (d->has_min) {
        nminv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(sup + 2 * TSR_QP + 16 * h)));
        for (int i = 0; i < gps / 2; i++)
            mp[i] = _mm256_or_si256(ld8_u32(r0 + 2 * i * rb + d->wbytes + TSR_QP, h),
                                    _mm256_slli_epi32(ld8_u32(r0 + (2 * i + 1) * rb + d->wbytes + TSR_QP, h), 16));
    }
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        const tsr_qact_meta *am = meta + (int64_t)m * ng + gi - j;
        __m256 v;
        if (d->has_min) {
            __m256i ms = _mm256_setzero_si256();
            for (int i = 0; i < gps / 2; i++) ms = _mm256_add_epi32(ms, _mm256_madd_epi16(mp[i], _mm256_set1_epi32(am[2 * i].spair)));
            v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isb[m]), dv, _mm256_mul_ps(_mm256_cvtepi32_ps(ms), nminv));
        } else {
            v = _mm256_mul_ps(_mm256_cvtepi32_ps(isb[m]), dv);
        }
        acc[m] = _mm256_fmadd_ps(v, _mm256_set1_ps(am->d), acc[m]);
    }
}

/* MT activation rows × one 8-row half (h) of a panel. */
INLINE void qtile(const tsr_qkernel_desc *d, const uint8_t *panel, int h, const int MT, const int KIND,
                  const int8_t *act, int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy,
                  const float *bias, int32_t nvalid) {
    /* KIND: 0 = 4-bit, 1 = 8-bit with u <= 63 (direct), 2 = 8-bit full range (sign trick),
     * 3 = 4-bit indices into the plan's table of full-range codes (vpshufb, then the sign trick) */
    const int g = d->group, ng = d->ngroups;
    const size_t ss = d->scale_f32 ? 4 : 2;
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1), x80 = _mm256_set1_epi8((char)0x80);
    const int32_t zc = KIND >= 2 ? d->zconst - 128 : d->zconst;  /* the sign trick already removed 128·Σa */
    const __m256i lut = KIND == 3 ? _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)d->lut)) : m4;
    __m256 acc[4];
    __m256i isb[4];
    TSR_UNROLL for (int m = 0; m < MT; m++) { acc[m] = _mm256_setzero_ps(); isb[m] = _mm256_setzero_si256(); }
    const uint8_t *rec = panel;
    for (int gi = 0; gi < ng; gi++, rec += d->rec_bytes) {
        const int8_t *ag = act + (int64_t)gi * g;
        if (h == 0) TSR_QPREFETCH_RECORD(rec, d->rec_bytes);  /* the second half reads it from L1 */
        __m256i is[4];
        TSR_UNROLL for (int m = 0; m < MT; m++) is[m] = _mm256_setzero_si256();
        if (KIND == 3) {
            for (int j = 0; j < g / 8; j++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(rec + 64 * j + 32 * h));
                /* u − 128 as int8 (the signed level), |level| <= 127 and sign(a, level) as in KIND 2 */
                const __m256i lo = _mm256_xor_si256(_mm256_shuffle_epi8(lut, _mm256_and_si256(w, m4)), x80);
                const __m256i hi = _mm256_xor_si256(_mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(w, 4), m4)), x80);
                const __m256i la = _mm256_abs_epi8(lo), ha = _mm256_abs_epi8(hi);
                TSR_UNROLL for (int m = 0; m < MT; m++) {
                    const __m256i pl = _mm256_maddubs_epi16(la, _mm256_sign_epi8(bcast4(ag + m * as + 8 * j), lo));
                    const __m256i ph = _mm256_maddubs_epi16(ha, _mm256_sign_epi8(bcast4(ag + m * as + 8 * j + 4), hi));
                    is[m] = _mm256_add_epi32(is[m], _mm256_add_epi32(_mm256_madd_epi16(pl, ones), _mm256_madd_epi16(ph, ones)));
                }
            }
        } else if (KIND == 0) {
            for (int j = 0; j < g / 8; j++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(rec + 64 * j + 32 * h));
                __m256i lo = _mm256_and_si256(w, m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
                if (d->hbits) {  /* the high plane completes the codes: u = nibble | h << 4 (<= 63) */
                    lo = _mm256_or_si256(lo, hplane256(d, rec, h, j, 0));
                    hi = _mm256_or_si256(hi, hplane256(d, rec, h, j, 1));
                }
                TSR_UNROLL for (int m = 0; m < MT; m++) {
                    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(ag + m * as + 8 * j)),
                                                       _mm256_maddubs_epi16(hi, bcast4(ag + m * as + 8 * j + 4)));
                    is[m] = _mm256_add_epi32(is[m], _mm256_madd_epi16(p, ones));
                }
            }
        } else {
            for (int j = 0; j < g / 4; j++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(rec + 64 * j + 32 * h));
                if (KIND == 1) {
                    TSR_UNROLL for (int m = 0; m < MT; m++)
                        is[m] = _mm256_add_epi32(
                            is[m], _mm256_madd_epi16(_mm256_maddubs_epi16(w, bcast4(ag + m * as + 4 * j)), ones));
                } else {
                    const __m256i ws = _mm256_xor_si256(w, x80);  /* u − 128 as int8 */
                    const __m256i wa = _mm256_abs_epi8(ws);
                    TSR_UNROLL for (int m = 0; m < MT; m++) {
                        const __m256i a = _mm256_sign_epi8(bcast4(ag + m * as + 4 * j), ws);
                        is[m] = _mm256_add_epi32(is[m], _mm256_madd_epi16(_mm256_maddubs_epi16(wa, a), ones));
                    }
                }
            }
        }
        if (d->two_level) {  /* the integer super-block fold (quant_internal.h) */
            qtwo_group256(d, panel, h, gi, MT, is, meta, isb, acc);
            continue;
        }
        const uint8_t *sc = rec + d->wbytes, *ex = sc + TSR_QP * ss;
        __m256 s = d->scale_f32 ? _mm256_loadu_ps((const float *)(const void *)(sc + 32 * h))
                                : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(sc + 16 * h)));
        __m256 mn = _mm256_setzero_ps();
        __m256i zv = _mm256_setzero_si256();
        if (d->zkind == TSR_QZ_ROW) zv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(ex + 8 * h)));
        if (d->has_min)
            mn = d->scale_f32 ? _mm256_loadu_ps((const float *)(const void *)(ex + 32 * h))
                              : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(ex + 16 * h)));
        TSR_UNROLL for (int m = 0; m < MT; m++) {
            const tsr_qact_meta *am = meta + (int64_t)m * ng + gi;
            const __m256i corr = d->zkind == TSR_QZ_ROW ? _mm256_mullo_epi32(zv, _mm256_set1_epi32(am->sum))
                                                        : _mm256_set1_epi32(zc * am->sum);
            const __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(is[m], corr)), _mm256_set1_ps(am->d));
            acc[m] = _mm256_fmadd_ps(t, s, acc[m]);
            if (d->has_min) acc[m] = _mm256_fmadd_ps(mn, _mm256_set1_ps(am->dsum), acc[m]);
        }
    }
    const int nv = nvalid - 8 * h;
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        float out[8];
        _mm256_storeu_ps(out, acc[m]);
        for (int r = 0; r < nv && r < 8; r++) y[m * ldy + 8 * h + r] = bias ? out[r] + bias[8 * h + r] : out[r];
    }
}

#define QT(MT, KIND) qtile(d, panel, h, MT, KIND, a, as, mm, yy, ldy, bias, nvalid)
#define QTILE_CASES(KIND)                                                      \
    switch (t) {                                                               \
    case 4: QT(4, KIND); break;                                                \
    case 3: QT(3, KIND); break;                                                \
    case 2: QT(2, KIND); break;                                                \
    default: QT(1, KIND); break;                                               \
    }

AVX2 static void qpanel_avx2(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt, const int8_t *act,
                             int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy, const float *bias,
                             int32_t nvalid) {
    const int kind = d->bits == 4 ? (d->lut ? 3 : 0) : d->u8_max <= 63 ? 1 : 2;
    for (int h = 0; h < 2 && 8 * h < nvalid; h++) {
        for (int64_t m0 = 0; m0 < mt; m0 += 4) {
            const int t = (int)(mt - m0 < 4 ? mt - m0 : 4);
            const int8_t *a = act + m0 * as;
            const tsr_qact_meta *mm = meta + m0 * d->ngroups;
            float *yy = y + m0 * ldy;
            if (kind == 0) { QTILE_CASES(0) } else if (kind == 1) { QTILE_CASES(1) } else if (kind == 2) { QTILE_CASES(2) } else { QTILE_CASES(3) }
        }
    }
}

/* ---- float weights --------------------------------------------------------------- */

INLINE __m256 fload(int32_t ftype, const uint8_t *p) {
    if (ftype == TSR_QF_F32) return _mm256_loadu_ps((const float *)(const void *)p);
    const __m128i hh = _mm_loadu_si128((const __m128i *)(const void *)p);
    if (ftype == TSR_QF_F16) return _mm256_cvtph_ps(hh);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(hh), 16));
}

INLINE void ftile(int32_t ftype, const uint8_t *panel, int h, int64_t k, const int MT, const float *x, int64_t ldx,
                  float *y, int64_t ldy, const float *bias, int32_t nvalid) {
    const size_t es = ftype == TSR_QF_F32 ? 4 : 2, step = (size_t)TSR_QP * es;
    __m256 acc[4];
    TSR_UNROLL for (int m = 0; m < MT; m++) acc[m] = _mm256_setzero_ps();
    const uint8_t *p = panel + 8 * h * es;
    for (int64_t kk = 0; kk < k; kk++) {
        const __m256 w = fload(ftype, p + (size_t)kk * step);
        TSR_UNROLL for (int m = 0; m < MT; m++) acc[m] = _mm256_fmadd_ps(w, _mm256_set1_ps(x[m * ldx + kk]), acc[m]);
    }
    const int nv = nvalid - 8 * h;
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        float out[8];
        _mm256_storeu_ps(out, acc[m]);
        for (int r = 0; r < nv && r < 8; r++) y[m * ldy + 8 * h + r] = bias ? out[r] + bias[8 * h + r] : out[r];
    }
}

AVX2 static void fpanel_avx2(int32_t ftype, const uint8_t *panel, int64_t k, int64_t mt, const float *x, int64_t ldx,
                             float *y, int64_t ldy, const float *bias, int32_t nvalid) {
    for (int h = 0; h < 2 && 8 * h < nvalid; h++) {
        for (int64_t m0 = 0; m0 < mt; m0 += 4) {
            const int t = (int)(mt - m0 < 4 ? mt - m0 : 4);
            const float *xx = x + m0 * ldx;
            float *yy = y + m0 * ldy;
            switch (t) {
            case 4: ftile(ftype, panel, h, k, 4, xx, ldx, yy, ldy, bias, nvalid); break;
            case 3: ftile(ftype, panel, h, k, 3, xx, ldx, yy, ldy, bias, nvalid); break;
            case 2: ftile(ftype, panel, h, k, 2, xx, ldx, yy, ldy, bias, nvalid); break;
            default: ftile(ftype, panel, h, k, 1, xx, ldx, yy, ldy, bias, nvalid); break;
            }
        }
    }
}

/* Override: the integer and float panels; act stays the reference's. */
const tsr_qgemm_kernels tsr_qgemm_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .int_name = "avx2-int8",
    .float_name = "avx2-f32fma",
    .qpanel = qpanel_avx2,
    .fpanel = fpanel_avx2,
};
#endif
