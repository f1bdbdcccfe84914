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

/* MT activation rows × one 8-row half (h) of a panel. */
INLINE void qtile(const tsr_qkernel_desc *d, const uint8_t *panel, int h, const int MT, const int KIND,
                  const int8_t *act, int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy,
                  const float *bias, int32_t nvalid) {
    /* KIND: 0 = 4-bit, 1 = 8-bit with u <= 63 (direct), 2 = 8-bit full range (sign trick) */
    const int g = d->group, ng = d->ngroups;
    const size_t ss = d->scale_f32 ? 4 : 2;
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1), x80 = _mm256_set1_epi8((char)0x80);
    const int32_t zc = KIND == 2 ? d->zconst - 128 : d->zconst;  /* the sign trick already removed 128·Σa */
    __m256 acc[4];
    for (int m = 0; m < MT; m++) acc[m] = _mm256_setzero_ps();
    const uint8_t *rec = panel;
    for (int gi = 0; gi < ng; gi++, rec += d->rec_bytes) {
        const int8_t *ag = act + (int64_t)gi * g;
        if (h == 0) TSR_QPREFETCH_RECORD(rec, d->rec_bytes);  /* the second half reads it from L1 */
        __m256i is[4];
        for (int m = 0; m < MT; m++) is[m] = _mm256_setzero_si256();
        if (KIND == 0) {
            for (int j = 0; j < g / 8; j++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(rec + 64 * j + 32 * h));
                __m256i lo = _mm256_and_si256(w, m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
                if (d->hbits) {  /* the high plane completes the codes: u = nibble | h << 4 (<= 63) */
                    lo = _mm256_or_si256(lo, hplane256(d, rec, h, j, 0));
                    hi = _mm256_or_si256(hi, hplane256(d, rec, h, j, 1));
                }
                for (int m = 0; m < MT; m++) {
                    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(ag + m * as + 8 * j)),
                                                       _mm256_maddubs_epi16(hi, bcast4(ag + m * as + 8 * j + 4)));
                    is[m] = _mm256_add_epi32(is[m], _mm256_madd_epi16(p, ones));
                }
            }
        } else {
            for (int j = 0; j < g / 4; j++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)(const void *)(rec + 64 * j + 32 * h));
                if (KIND == 1) {
                    for (int m = 0; m < MT; m++)
                        is[m] = _mm256_add_epi32(
                            is[m], _mm256_madd_epi16(_mm256_maddubs_epi16(w, bcast4(ag + m * as + 4 * j)), ones));
                } else {
                    const __m256i ws = _mm256_xor_si256(w, x80);  /* u − 128 as int8 */
                    const __m256i wa = _mm256_abs_epi8(ws);
                    for (int m = 0; m < MT; m++) {
                        const __m256i a = _mm256_sign_epi8(bcast4(ag + m * as + 4 * j), ws);
                        is[m] = _mm256_add_epi32(is[m], _mm256_madd_epi16(_mm256_maddubs_epi16(wa, a), ones));
                    }
                }
            }
        }
        const uint8_t *sc = rec + d->wbytes, *ex = sc + TSR_QP * ss;
        __m256 s, mn = _mm256_setzero_ps();
        __m256i zv = _mm256_setzero_si256();
        if (d->two_level) {  /* d·sc and (−dmin)·m: exact products, the bits of the f32 scales */
            const uint8_t *sup = tsr_qsuper(d, panel, gi);
            s = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(sup + 16 * h))),
                              _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(sc + 8 * h)))));
            if (d->has_min)
                mn = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(sup + 32 + 16 * h))),
                                   _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(sc + 16 + 8 * h)))));
        } else {
            s = d->scale_f32 ? _mm256_loadu_ps((const float *)(const void *)(sc + 32 * h))
                             : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(sc + 16 * h)));
            if (d->zkind == TSR_QZ_ROW) zv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(ex + 8 * h)));
            if (d->has_min)
                mn = d->scale_f32 ? _mm256_loadu_ps((const float *)(const void *)(ex + 32 * h))
                                  : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(ex + 16 * h)));
        }
        for (int m = 0; m < MT; m++) {
            const tsr_qact_meta *am = meta + (int64_t)m * ng + gi;
            const __m256i corr = d->zkind == TSR_QZ_ROW ? _mm256_mullo_epi32(zv, _mm256_set1_epi32(am->sum))
                                                        : _mm256_set1_epi32(zc * am->sum);
            const __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(is[m], corr)), _mm256_set1_ps(am->d));
            acc[m] = _mm256_fmadd_ps(t, s, acc[m]);
            if (d->has_min) acc[m] = _mm256_fmadd_ps(mn, _mm256_set1_ps(am->dsum), acc[m]);
        }
    }
    const int nv = nvalid - 8 * h;
    for (int m = 0; m < MT; m++) {
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
    const int kind = d->bits == 4 ? 0 : d->u8_max <= 63 ? 1 : 2;
    for (int h = 0; h < 2 && 8 * h < nvalid; h++) {
        for (int64_t m0 = 0; m0 < mt; m0 += 4) {
            const int t = (int)(mt - m0 < 4 ? mt - m0 : 4);
            const int8_t *a = act + m0 * as;
            const tsr_qact_meta *mm = meta + m0 * d->ngroups;
            float *yy = y + m0 * ldy;
            if (kind == 0) { QTILE_CASES(0) } else if (kind == 1) { QTILE_CASES(1) } else { QTILE_CASES(2) }
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
    for (int m = 0; m < MT; m++) acc[m] = _mm256_setzero_ps();
    const uint8_t *p = panel + 8 * h * es;
    for (int64_t kk = 0; kk < k; kk++) {
        const __m256 w = fload(ftype, p + (size_t)kk * step);
        for (int m = 0; m < MT; m++) acc[m] = _mm256_fmadd_ps(w, _mm256_set1_ps(x[m * ldx + kk]), acc[m]);
    }
    const int nv = nvalid - 8 * h;
    for (int m = 0; m < MT; m++) {
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
