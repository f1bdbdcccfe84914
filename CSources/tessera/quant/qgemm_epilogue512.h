/*
 * qgemm_epilogue512.h — the per-group float step shared by the AVX-512 VNNI and AMX
 * kernels (included by their .c files only): from exact int32 group sums of MT rows to
 * acc += ((float)(isum − z·Σa) · d_a) · scale (+ min·d_a·Σa). One definition, so both
 * paths perform identical operations and give identical bits.
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

/* The weight side of a group's float step: the 16 rows' scales `s`, minimums `mn` (zero
 * without) and per-row zero points `zv` (zero unless d->zkind == TSR_QZ_ROW) of record `rec`.
 * `sup` is the group's super-block entry (tsr_qsuper) of a two-level panel, else NULL. */
static inline __attribute__((always_inline)) TSR_TARGET_AVX512 void
tsr_qgroup_scales512(const tsr_qkernel_desc *d, const uint8_t *rec, const uint8_t *sup, __m512 *s_out, __m512 *mn_out,
                     __m512i *zv_out) {
    const size_t ss = d->scale_f32 ? 4 : 2;
    const uint8_t *sc = rec + d->wbytes, *ex = sc + TSR_QP * ss;
    __m512 s, mn = _mm512_setzero_ps();
    __m512i zv = _mm512_setzero_si512();
    if (sup) {  /* d·sc and (−dmin)·m: exact products, the bits of the f32 scales */
        s = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)sup)),
                          _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)sc))));
        if (d->has_min)
            mn = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(sup + 32))),
                               _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(sc + 16)))));
    } else {
        s = d->scale_f32 ? _mm512_loadu_ps((const float *)(const void *)sc)
                         : _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)sc));
        if (d->zkind == TSR_QZ_ROW) zv = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)ex));
        if (d->has_min)
            mn = d->scale_f32 ? _mm512_loadu_ps((const float *)(const void *)ex)
                              : _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)ex));
    }
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
    for (int m = 0; m < MT; m++) {
        const tsr_qact_meta *am = meta + (int64_t)m * ng;
        const __m512i corr = ZROW ? _mm512_mullo_epi32(zv, _mm512_set1_epi32(am->sum)) : _mm512_set1_epi32(am->zsum);
        const __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(is[m], corr)), _mm512_set1_ps(am->d));
        acc[m] = _mm512_fmadd_ps(t, s, acc[m]);
        if (MIN) acc[m] = _mm512_fmadd_ps(mn, _mm512_set1_ps(am->dsum), acc[m]);
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

/* The whole float step of one group: weight scales of `rec` (tsr_qgroup_scales512), then
 * the MT rows (tsr_qepilogue512_rows). */
static inline __attribute__((always_inline)) TSR_TARGET_AVX512 void
tsr_qepilogue512(const tsr_qkernel_desc *d, const uint8_t *rec, const uint8_t *sup, const int MT, const __m512i *is,
                 const tsr_qact_meta *meta, int64_t ng, __m512 *acc) {
    __m512 s, mn;
    __m512i zv;
    tsr_qgroup_scales512(d, rec, sup, &s, &mn, &zv);
    tsr_qepilogue512_rows(d, s, mn, zv, MT, is, meta, ng, acc);
}

#endif /* TSR_QGEMM_EPILOGUE512_H */
