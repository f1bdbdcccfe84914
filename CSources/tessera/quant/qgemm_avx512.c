/*
 * AVX-512 overrides of the qgemm microkernels: int8 activation quantization, the VNNI integer panel
 * kernel (vpdpbusd: unsigned weights × signed activations) and the f32 FMA panel
 * kernel for F32/F16/BF16 weights. Same arithmetic as qgemm_scalar.c, lane by lane.
 */
#include "quant_internal.h"

#if TSR_X86
#include <immintrin.h>
#include <math.h>

#include "qgemm_epilogue512.h"

#define AVX512 TSR_TARGET_AVX512VNNI
#define INLINE static inline __attribute__((always_inline)) TSR_TARGET_AVX512VNNI

AVX512 static void qact_avx512(const float *x, int64_t k, int32_t group, int32_t ablock, int8_t *q,
                               tsr_qact_meta *meta) {
    const __m512 absmask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
    const __m512 fmax = _mm512_set1_ps(3.40282347e38f);
    const int32_t gpb = ablock / group;
    for (int64_t b0 = 0, gi = 0; b0 < k; b0 += ablock, gi += gpb) {
        __m512 amax = _mm512_setzero_ps();
        __mmask16 bad = 0;
        for (int j = 0; j < ablock; j += 16) {
            const __m512 a = _mm512_and_ps(_mm512_loadu_ps(x + b0 + j), absmask);
            bad |= _mm512_cmp_ps_mask(a, fmax, _CMP_NLE_UQ);  /* NaN or > FLT_MAX */
            amax = _mm512_max_ps(amax, a);
        }
        if (bad) {
            memset(q + b0, 0, (size_t)ablock);
            for (int32_t j = 0; j < gpb; j++) meta[gi + j] = (tsr_qact_meta){.d = NAN, .sum = 0, .dsum = NAN};
            continue;
        }
        const float am = _mm512_reduce_max_ps(amax);
        float d = am / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        if (TSR_UNLIKELY(isinf(id))) { d = 0.0f; id = 0.0f; }  /* amax < 127/FLT_MAX: a zero block */
        const __m512 vid = _mm512_set1_ps(id);
        for (int32_t jg = 0; jg < gpb; jg++) {
            const int64_t g0 = b0 + (int64_t)jg * group;
            __m512i vsum = _mm512_setzero_si512();
            for (int j = 0; j < group; j += 16) {
                __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + g0 + j), vid));
                v = _mm512_max_epi32(_mm512_min_epi32(v, _mm512_set1_epi32(127)), _mm512_set1_epi32(-128));
                _mm_storeu_si128((__m128i *)(void *)(q + g0 + j), _mm512_cvtepi32_epi8(v));
                vsum = _mm512_add_epi32(vsum, v);
            }
            const int32_t sum = _mm512_reduce_add_epi32(vsum);
            meta[gi + jg] = (tsr_qact_meta){.d = d, .sum = sum, .dsum = d * (float)sum};
        }
    }
}

INLINE __m512i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* Nibble chunk j of record `rec` as bytes: lo pairs with activations 8j..8j+3, hi with 8j+4..8j+7.
 * BITS 4: the nibbles; 5: with the high plane (u = nibble | h << 4); 6: indexing the plan's codes. */
INLINE void qunpack_chunk(const tsr_qkernel_desc *d, const uint8_t *rec, int j, const int BITS, __m512i m4, __m512i lut,
                          __m512i *lo, __m512i *hi) {
    const __m512i w = _mm512_loadu_si512((const void *)(rec + 64 * j));
    __m512i l = _mm512_and_si512(w, m4), h = _mm512_and_si512(_mm512_srli_epi16(w, 4), m4);
    if (BITS == 5) {
        l = _mm512_or_si512(l, tsr_qhplane512(d, rec, j, 0));
        h = _mm512_or_si512(h, tsr_qhplane512(d, rec, j, 1));
    }
    if (BITS == 6) {
        l = _mm512_shuffle_epi8(lut, l);
        h = _mm512_shuffle_epi8(lut, h);
    }
    *lo = l;
    *hi = h;
}

/* One tile of MT activation rows against one panel. BITS and MT are constants; G and EPI as in
 * qslab_tile (0 / -1: read from the plan); TWO: a two-level plan (the super-block fold). */
INLINE void qtile_g(const tsr_qkernel_desc *d, const uint8_t *panel, const int MT, const int BITS, const int G,
                    const int EPI, const int TWO, const int8_t *act, int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy,
                    const float *bias, int32_t nvalid) {
    const int g = G ? G : d->group, ng = d->ngroups;
    const int epi = EPI >= 0 ? EPI : tsr_qepi_flags(d);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i lut = BITS == 6 ? tsr_qlut512(d) : m4;
    __m512 acc[8];
    __m512i isb[8];
    TSR_UNROLL for (int m = 0; m < MT; m++) acc[m] = _mm512_setzero_ps();
    for (int m = 0; TWO && m < MT; m++) isb[m] = _mm512_setzero_si512();
    const uint8_t *rec = panel;
    for (int gi = 0; gi < ng; gi++, rec += d->rec_bytes) {
        const int8_t *ag = act + (int64_t)gi * g;
        TSR_QPREFETCH_RECORD(rec, d->rec_bytes);
        __m512i is[8], is2 = _mm512_setzero_si512();
        TSR_UNROLL for (int m = 0; m < MT; m++) is[m] = _mm512_setzero_si512();
        if (BITS == 4 || BITS == 5 || BITS == 6) {
            for (int j = 0; j < g / 8; j++) {
                __m512i lo, hi;
                qunpack_chunk(d, rec, j, BITS, m4, lut, &lo, &hi);
                if (MT == 1) {  /* two chains: integer sums are exact, order does not matter */
                    is[0] = _mm512_dpbusd_epi32(is[0], lo, bcast4(ag + 8 * j));
                    is2 = _mm512_dpbusd_epi32(is2, hi, bcast4(ag + 8 * j + 4));
                } else {
                    TSR_UNROLL for (int m = 0; m < MT; m++) {
                        is[m] = _mm512_dpbusd_epi32(is[m], lo, bcast4(ag + m * as + 8 * j));
                        is[m] = _mm512_dpbusd_epi32(is[m], hi, bcast4(ag + m * as + 8 * j + 4));
                    }
                }
            }
        } else {
            for (int j = 0; j < g / 4; j++) {
                const __m512i w = _mm512_loadu_si512((const void *)(rec + 64 * j));
                if (MT == 1) {
                    if (j & 1) is2 = _mm512_dpbusd_epi32(is2, w, bcast4(ag + 4 * j));
                    else is[0] = _mm512_dpbusd_epi32(is[0], w, bcast4(ag + 4 * j));
                } else {
                    TSR_UNROLL for (int m = 0; m < MT; m++) is[m] = _mm512_dpbusd_epi32(is[m], w, bcast4(ag + m * as + 4 * j));
                }
            }
        }
        if (MT == 1) is[0] = _mm512_add_epi32(is[0], is2);
        if (TWO) {  /* the integer super-block fold */
            tsr_qtwo_group512(d, panel, gi, MT, epi & 2, is, meta, isb, acc);
            continue;
        }
        __m512 s, mn;
        __m512i zv;
        tsr_qgroup_scales512(d, rec, &s, &mn, &zv);
        tsr_qepilogue512_rows_f(s, mn, zv, MT, epi & 1, epi & 2, is, meta + gi, ng, acc);
    }
    const __mmask16 km = (__mmask16)((1u << nvalid) - 1u);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(km, bias) : _mm512_setzero_ps();
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        const __m512 r = bias ? _mm512_add_ps(acc[m], b) : acc[m];
        _mm512_mask_storeu_ps(y + m * ldy, km, r);
    }
}

INLINE void qtile(const tsr_qkernel_desc *d, const uint8_t *panel, const int MT, const int BITS,
                  const int8_t *act, int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy,
                  const float *bias, int32_t nvalid) {
    if (MT == 8 && BITS == 8 && d->group == 32 && tsr_qepi_flags(d) == 0)  /* Q8_0 at M > 8 */
        qtile_g(d, panel, 8, 8, 32, 0, 0, act, as, meta, y, ldy, bias, nvalid);
    else if (d->two_level)
        qtile_g(d, panel, MT, BITS, 0, -1, 1, act, as, meta, y, ldy, bias, nvalid);
    else
        qtile_g(d, panel, MT, BITS, 0, -1, 0, act, as, meta, y, ldy, bias, nvalid);
}

/*
 * One activation row (M = 1) against two panels at once: the activation broadcasts are
 * loaded once for both and the two panels' dependency chains interleave. Per panel it runs
 * exactly qtile's MT = 1 operations (two integer chains, one epilogue per group), so the
 * bits are the same as two qtile calls.
 */
INLINE void qtile1x2(const tsr_qkernel_desc *d, const uint8_t *pa, const uint8_t *pb, const int BITS,
                     const int8_t *act, const tsr_qact_meta *meta, float *ya, float *yb, int32_t nva, int32_t nvb) {
    const int g = d->group, ng = d->ngroups;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i lut = BITS == 6 ? tsr_qlut512(d) : m4;
    __m512 acca = _mm512_setzero_ps(), accb = _mm512_setzero_ps();
    __m512i isa = _mm512_setzero_si512(), isbb = isa;
    const uint8_t *ra = pa, *rb = pb;
    for (int gi = 0; gi < ng; gi++, ra += d->rec_bytes, rb += d->rec_bytes) {
        const int8_t *ag = act + (int64_t)gi * g;
        TSR_QPREFETCH_RECORD(ra, d->rec_bytes);
        TSR_QPREFETCH_RECORD(rb, d->rec_bytes);
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, b0 = a0, b1 = a0;
        if (BITS == 4 || BITS == 5 || BITS == 6) {
            for (int j = 0; j < g / 8; j++) {
                const __m512i x0 = bcast4(ag + 8 * j), x1 = bcast4(ag + 8 * j + 4);
                __m512i la, ha, lb, hb;
                qunpack_chunk(d, ra, j, BITS, m4, lut, &la, &ha);
                qunpack_chunk(d, rb, j, BITS, m4, lut, &lb, &hb);
                a0 = _mm512_dpbusd_epi32(a0, la, x0);
                a1 = _mm512_dpbusd_epi32(a1, ha, x1);
                b0 = _mm512_dpbusd_epi32(b0, lb, x0);
                b1 = _mm512_dpbusd_epi32(b1, hb, x1);
            }
        } else {
            for (int j = 0; j < g / 4; j++) {
                const __m512i x = bcast4(ag + 4 * j);
                const __m512i wa = _mm512_loadu_si512((const void *)(ra + 64 * j));
                const __m512i wb = _mm512_loadu_si512((const void *)(rb + 64 * j));
                if (j & 1) { a1 = _mm512_dpbusd_epi32(a1, wa, x); b1 = _mm512_dpbusd_epi32(b1, wb, x); }
                else { a0 = _mm512_dpbusd_epi32(a0, wa, x); b0 = _mm512_dpbusd_epi32(b0, wb, x); }
            }
        }
        const __m512i sa = _mm512_add_epi32(a0, a1), sb = _mm512_add_epi32(b0, b1);
        if (d->two_level) {
            tsr_qtwo_group512(d, pa, gi, 1, d->has_min, &sa, meta, &isa, &acca);
            tsr_qtwo_group512(d, pb, gi, 1, d->has_min, &sb, meta, &isbb, &accb);
            continue;
        }
        tsr_qepilogue512(d, ra, 1, &sa, meta + gi, ng, &acca);
        tsr_qepilogue512(d, rb, 1, &sb, meta + gi, ng, &accb);
    }
    _mm512_mask_storeu_ps(ya, (__mmask16)((1u << nva) - 1u), acca);
    _mm512_mask_storeu_ps(yb, (__mmask16)((1u << nvb) - 1u), accb);
}

AVX512 static void qpanel_m1x2_avx512vnni(const tsr_qkernel_desc *d, const uint8_t *pa, const uint8_t *pb,
                                          const int8_t *act, const tsr_qact_meta *meta, float *ya, float *yb,
                                          int32_t nva, int32_t nvb) {
    if (d->bits == 4 && d->lut) qtile1x2(d, pa, pb, 6, act, meta, ya, yb, nva, nvb);
    else if (d->bits == 4 && d->hbits) qtile1x2(d, pa, pb, 5, act, meta, ya, yb, nva, nvb);
    else if (d->bits == 4) qtile1x2(d, pa, pb, 4, act, meta, ya, yb, nva, nvb);
    else qtile1x2(d, pa, pb, 8, act, meta, ya, yb, nva, nvb);
}

/*
 * M > 16 (K-quants: M > 8) on 4-bit layouts (nibbles, with a high plane, or indexing a code table): qtile
 * unpacks every record once per 8-row tile of activations — for Q5_0 13 vector operations
 * per 64-byte chunk against its 16 vpdpbusd, plus the super-block scale products of K-quants
 * per group and tile, all on the pipes vpdpbusd needs. Here a slab of a panel's groups is
 * unpacked once (one byte per weight, in the 8-bit record order: nibble chunk j's low codes
 * pair with activations 8j..8j+3, its high codes with 8j+4..8j+7) and each group's weight
 * scales computed once; then every tile runs the 8-bit inner loop over the slab. The integer
 * sums are exact and the float step is the same operations on the same values in the same
 * order (the accumulators cross slab boundaries through y as exact f32 stores and loads),
 * so the bits are qtile's — and the M = 1 path's.
 */
/* Unpacked weights per slab: K = 4096 of a 16-row panel (128 groups of 32, 256 of 16), so at the
 * common model widths a tile runs its rows over the whole K in one pass, as the 8-bit kernel does:
 * long sequential activation streams, accumulators in registers, no y round trip per slab. The
 * slab lives in L2, as the 8-bit kernel's records do. Measured against slabs of 12 KiB (the
 * L1-resident choice before) and 32 KiB, one thread, 4096², M = 128: 12 KiB 14.2–14.4 ms,
 * 32 KiB 14.4, 64 KiB 13.2–13.6, 128 KiB 13.6 for Q4_0, same ordering on the other formats
 * (docs/quant.md). The 112 KiB buffer is allocated once per thread (not on the stack: a thread
 * may have a 128 KiB stack); without it a 12 KiB slab on the stack does the same operations. */
#define QSLAB_BYTES 65536
#define QSLAB_GROUPS 256
#define QSLAB_SMALL_BYTES 12288
#define QSLAB_SMALL_GROUPS 48

/* A group's weight scales (tsr_qgroup_scales512); two-level plans instead: s = the super-block's d,
 * mn = its −dmin, zv = the int8 sub-scales as int32, and at even groups mp = the sub-minimum pair. */
typedef struct {
    __m512 s, mn;
    __m512i zv, mp;
} qslab_scales;
#define QSLAB_MPS ((int)(2 * sizeof(qslab_scales) / sizeof(__m512i))) /* stride of the pairs, in __m512i */

/* Unpacks groups [g0, g1) of `panel` into `u` (16·g bytes per group) and their scales. */
INLINE void qslab_unpack(const tsr_qkernel_desc *d, const uint8_t *panel, int g0, int g1, const int BITS,
                         uint8_t *u, qslab_scales *sc) {
    const int g = d->group;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i lut = BITS == 6 ? tsr_qlut512(d) : m4;
    for (int gi = g0; gi < g1; gi++) {
        const uint8_t *rec = panel + (size_t)gi * d->rec_bytes;
        uint8_t *ug = u + (size_t)(gi - g0) * 16 * (size_t)g;
        TSR_QPREFETCH_RECORD(rec, d->rec_bytes);
        for (int j = 0; BITS == 8 && j < g / 4; j++)  /* 8-bit records: the same order, aligned */
            _mm512_store_si512((void *)(ug + 64 * j), _mm512_loadu_si512((const void *)(rec + 64 * j)));
        for (int j = 0; BITS != 8 && j < g / 8; j++) {
            __m512i lo, hi;
            qunpack_chunk(d, rec, j, BITS == 8 ? 4 : BITS, m4, lut, &lo, &hi);
            if (d->sc_in_codes) {  /* sc·u: both bytes of a 16-bit word stay < 256, so vpmullw is exact */
                const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(rec + d->wbytes)));
                const __m512i scw = _mm512_or_si512(v, _mm512_slli_epi32(v, 16));
                lo = _mm512_mullo_epi16(lo, scw);
                hi = _mm512_mullo_epi16(hi, scw);
            }
            _mm512_store_si512((void *)(ug + 128 * j), lo);
            _mm512_store_si512((void *)(ug + 128 * j + 64), hi);
        }
        qslab_scales *c = sc + (gi - g0);
        if (d->two_level) {
            tsr_qsuper_scales512(d, tsr_qsuper(d, panel, gi), &c->s, &c->mn);
            c->zv = tsr_qsubscale512(d, rec);
            c->mp = d->has_min && (gi % 2) == 0 ? tsr_qsubmin_pair512(d, rec) : _mm512_setzero_si512();
        } else {
            tsr_qgroup_scales512(d, rec, &c->s, &c->mn, &c->zv);
        }
    }
}

/* MT activation rows against groups [g0, g1) of an unpacked slab: accumulators start at zero
 * (first slab) or from y, and go back to y (with the bias after the last slab). G: the group
 * size as a constant (0: d->group at run time); EPI: tsr_qepi_flags as a constant (-1: read
 * from the plan); TWO: 0 single-level, 1 two-level (fold per group), 2 two-level with the
 * sub-scales in the slab's codes (d->sc_in_codes: the group sums add up to isum, no vpmulld). With both constant the group's 8-bit loop unrolls whole and the float step
 * has no branch: the same operations in the same order, so the same bits. */
INLINE void qslab_tile(const tsr_qkernel_desc *d, const uint8_t *u, const qslab_scales *sc, int g0, int g1,
                       const int MT, const int G, const int EPI, const int TWO, const int8_t *act, int64_t as,
                       const tsr_qact_meta *meta, float *y, int64_t ldy, int first, int last, const float *bias,
                       int32_t nvalid) {
    const int g = G ? G : d->group, ng = d->ngroups, gps = 256 / g;
    const int epi = EPI >= 0 ? EPI : tsr_qepi_flags(d);
    const __mmask16 km = (__mmask16)((1u << nvalid) - 1u);
    __m512 acc[8];
    __m512i isb[8];
    TSR_UNROLL for (int m = 0; m < MT; m++) isb[m] = _mm512_setzero_si512();
    TSR_UNROLL for (int m = 0; m < MT; m++) acc[m] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(km, y + m * ldy);
    for (int gi = g0; gi < g1; gi++) {
        const int8_t *ag = act + (int64_t)gi * g;
        const uint8_t *ug = u + (size_t)(gi - g0) * 16 * (size_t)g;
        __m512i is[8];
        TSR_UNROLL for (int m = 0; m < MT; m++) is[m] = _mm512_setzero_si512();
        for (int j = 0; j < g / 4; j++) {
            const __m512i w = _mm512_load_si512((const void *)(ug + 64 * j));
            TSR_UNROLL for (int m = 0; m < MT; m++) is[m] = _mm512_dpbusd_epi32(is[m], w, bcast4(ag + m * as + 4 * j));
        }
        const qslab_scales *c = sc + (gi - g0);
        if (TWO == 2) {  /* sub-scales in the codes: the group sums add up to isum (a new chain per
                          * group, as vpdpbusd's latency wants, summed by vpaddd) */
            const int j = gi % gps;
            TSR_UNROLL for (int m = 0; m < MT; m++) isb[m] = j == 0 ? is[m] : _mm512_add_epi32(isb[m], is[m]);
            if (j == gps - 1)
                tsr_qsuper512(c[-j].s, c[-j].mn, &c[-j].mp, QSLAB_MPS, gps / 2, MT, epi & 2, isb, meta + gi - j, ng, acc);
        } else if (TWO) {  /* the integer super-block fold (slabs start at super-block boundaries) */
            const int j = gi % gps;
            tsr_qfold512(c->zv, MT, j == 0, is, meta + gi, ng, isb);
            if (j == gps - 1)
                tsr_qsuper512(c[-j].s, c[-j].mn, &c[-j].mp, QSLAB_MPS, gps / 2, MT, epi & 2, isb, meta + gi - j, ng, acc);
        } else {
            tsr_qepilogue512_rows_f(c->s, c->mn, c->zv, MT, epi & 1, epi & 2, is, meta + gi, ng, acc);
        }
    }
    const __m512 b = last && bias ? _mm512_maskz_loadu_ps(km, bias) : _mm512_setzero_ps();
    TSR_UNROLL for (int m = 0; m < MT; m++) _mm512_mask_storeu_ps(y + m * ldy, km, last && bias ? _mm512_add_ps(acc[m], b) : acc[m]);
}

/* The full 8-row tile, specialised on the common group sizes and epilogue flags. */
INLINE void qslab_tile8(const tsr_qkernel_desc *d, const uint8_t *u, const qslab_scales *sc, int g0, int g1,
                        const int8_t *act, int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy, int first,
                        int last, const float *bias, int32_t nvalid) {
#define QSLAB8(G, E) qslab_tile(d, u, sc, g0, g1, 8, G, E, 0, act, as, meta, y, ldy, first, last, bias, nvalid)
#define QSLAB8T(G, E) qslab_tile(d, u, sc, g0, g1, 8, G, E, 1, act, as, meta, y, ldy, first, last, bias, nvalid)
    const int epi = tsr_qepi_flags(d);
    if (d->two_level && d->group == 32 && epi == 2) QSLAB8T(32, 2);       /* Q4_K, Q5_K */
    else if (d->two_level && d->group == 16 && epi == 0) QSLAB8T(16, 0);  /* Q6_K, Q3_K */
    else if (d->sc_in_codes && d->group == 16 && epi == 2) qslab_tile(d, u, sc, g0, g1, 8, 16, 2, 2, act, as, meta, y, ldy, first, last, bias, nvalid);  /* Q2_K */
    else if (d->two_level && d->group == 16 && epi == 2) QSLAB8T(16, 2);
    else if (d->two_level) QSLAB8T(0, -1);
    else if (d->group == 32 && epi == 0) QSLAB8(32, 0);
    else if (d->group == 32 && epi == 2) QSLAB8(32, 2);
    else if (d->group == 16 && epi == 0) QSLAB8(16, 0);
    else if (d->group == 16 && epi == 2) QSLAB8(16, 2);
    else QSLAB8(0, -1);
#undef QSLAB8
#undef QSLAB8T
}

#define QSLAB_CASES                                                                                         \
    switch (t) {                                                                                            \
    case 8: qslab_tile8(d, u, sc, g0, g1, a, as, mm, yy, ldy, first, last, bias, nvalid); break;            \
    case 7: qslab_tile(d, u, sc, g0, g1, 7, 0, -1, d->two_level ? 1 + d->sc_in_codes : 0, a, as, mm, yy, ldy, first, last, bias, nvalid); break;   \
    case 6: qslab_tile(d, u, sc, g0, g1, 6, 0, -1, d->two_level ? 1 + d->sc_in_codes : 0, a, as, mm, yy, ldy, first, last, bias, nvalid); break;   \
    case 5: qslab_tile(d, u, sc, g0, g1, 5, 0, -1, d->two_level ? 1 + d->sc_in_codes : 0, a, as, mm, yy, ldy, first, last, bias, nvalid); break;   \
    case 4: qslab_tile(d, u, sc, g0, g1, 4, 0, -1, d->two_level ? 1 + d->sc_in_codes : 0, a, as, mm, yy, ldy, first, last, bias, nvalid); break;   \
    case 3: qslab_tile(d, u, sc, g0, g1, 3, 0, -1, d->two_level ? 1 + d->sc_in_codes : 0, a, as, mm, yy, ldy, first, last, bias, nvalid); break;   \
    case 2: qslab_tile(d, u, sc, g0, g1, 2, 0, -1, d->two_level ? 1 + d->sc_in_codes : 0, a, as, mm, yy, ldy, first, last, bias, nvalid); break;   \
    default: qslab_tile(d, u, sc, g0, g1, 1, 0, -1, d->two_level ? 1 + d->sc_in_codes : 0, a, as, mm, yy, ldy, first, last, bias, nvalid); break;  \
    }

/* A 4-bit-layout panel against mt > 8 activation rows, slab by slab (see above), with slabs of up
 * to `bytes` unpacked weights and `maxg` groups in u / sc. The slab size changes no bit. */
AVX512 static void qpanel_slabs_in(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt, const int8_t *act,
                                   int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy, const float *bias,
                                   int32_t nvalid, uint8_t *u, qslab_scales *sc, int bytes, int maxg) {
    const int ng = d->ngroups, per = 16 * d->group;
    int gs = bytes / per;
    gs = gs < 1 ? 1 : gs > maxg ? maxg : gs;
    if (d->two_level) gs -= gs % d->gps;  /* whole super-blocks (both buffers hold at least 3) */
    for (int g0 = 0; g0 < ng; g0 += gs) {
        const int g1 = g0 + gs < ng ? g0 + gs : ng, first = g0 == 0, last = g1 == ng;
        if (d->lut) qslab_unpack(d, panel, g0, g1, 6, u, sc);
        else if (d->hbits) qslab_unpack(d, panel, g0, g1, 5, u, sc);
        else qslab_unpack(d, panel, g0, g1, 4, u, sc);
        for (int64_t m0 = 0; m0 < mt; m0 += 8) {
            const int t = (int)(mt - m0 < 8 ? mt - m0 : 8);
            const int8_t *a = act + m0 * as;
            const tsr_qact_meta *mm = meta + m0 * ng;
            float *yy = y + m0 * ldy;
            QSLAB_CASES
        }
    }
}

/* The calling thread's slab buffer (tsr_qthread_buffer). */
typedef struct {
    _Alignas(64) uint8_t u[QSLAB_BYTES];
    qslab_scales sc[QSLAB_GROUPS];
} qslab_buffer;

AVX512 static void qpanel_slabs(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt, const int8_t *act,
                                int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy, const float *bias,
                                int32_t nvalid) {
    qslab_buffer *b = tsr_qthread_buffer(TSR_QTLS_SLAB, sizeof(qslab_buffer));
    if (b) {
        qpanel_slabs_in(d, panel, mt, act, as, meta, y, ldy, bias, nvalid, b->u, b->sc, QSLAB_BYTES, QSLAB_GROUPS);
        return;
    }
    _Alignas(64) uint8_t u[QSLAB_SMALL_BYTES];
    qslab_scales sc[QSLAB_SMALL_GROUPS];
    qpanel_slabs_in(d, panel, mt, act, as, meta, y, ldy, bias, nvalid, u, sc, QSLAB_SMALL_BYTES, QSLAB_SMALL_GROUPS);
}

/*
 * Two panels at once (tsr_qkernel_x2_fn) from slabs: 4-bit layouts and Q8_0 at M ≥ 17, K-quants
 * at M ≥ 9. On the Intel Ice Lake server core about one 512-bit or broadcast load issues per
 * cycle beside two vpdpbusd (`make bench-vnni-ports`, the load rows), so qslab_tile's 8 rows ×
 * 1 panel — a broadcast per vpdpbusd and a weight load per 8 — is bound by its loads at ≈ 0.44
 * of the int8 peak before the float step. Six rows × two panels share each broadcast between
 * the panels: 8 loads per 12 vpdpbusd. 12 integer + 12 float accumulators, two weights and a
 * broadcast fill 27 of the 32 registers; two-level plans also keep super-block sums, so they
 * take 4 rows (6 loads per 8). Per panel every row runs qslab_tile's operations in the same
 * order (exact group sums, the fold and float steps in group order, y between slabs), so the
 * bits are the one-panel kernel's.
 */
INLINE void qslab_tile_x2(const tsr_qkernel_desc *d, const uint8_t *ua, const uint8_t *ub, const qslab_scales *sa,
                          const qslab_scales *sb, int g0, int g1, const int MT, const int G, const int EPI,
                          const int TWO, const int8_t *act, int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy, int first,
                          int last, const float *bias, int32_t nvb) {
    const int g = G ? G : d->group, ng = d->ngroups, gps = 256 / g;
    const int epi = EPI >= 0 ? EPI : tsr_qepi_flags(d);
    const __mmask16 kb = (__mmask16)((1u << nvb) - 1u);
    __m512 acca[6], accb[6];
    __m512i sba[6], sbb[6];  /* two-level: the super-block sums */
    TSR_UNROLL for (int m = 0; m < MT; m++) sba[m] = sbb[m] = _mm512_setzero_si512();
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        acca[m] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(y + m * ldy);
        accb[m] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(kb, y + m * ldy + TSR_QP);
    }
    for (int gi = g0; gi < g1; gi++) {
        const int8_t *ag = act + (int64_t)gi * g;
        const size_t off = (size_t)(gi - g0) * 16 * (size_t)g;
        __m512i isa[6], isb[6];
        TSR_UNROLL for (int m = 0; m < MT; m++) isa[m] = isb[m] = _mm512_setzero_si512();
        for (int j = 0; j < g / 4; j++) {
            const __m512i wa = _mm512_load_si512((const void *)(ua + off + 64 * j));
            const __m512i wb = _mm512_load_si512((const void *)(ub + off + 64 * j));
            TSR_UNROLL for (int m = 0; m < MT; m++) {
                const __m512i a = bcast4(ag + m * as + 4 * j);
                isa[m] = _mm512_dpbusd_epi32(isa[m], wa, a);
                isb[m] = _mm512_dpbusd_epi32(isb[m], wb, a);
            }
        }
        if (TWO) {  /* as qslab_tile: the super-block fold (slabs start at super-block boundaries) */
            const qslab_scales *ca = sa + (gi - g0), *cb = sb + (gi - g0);
            const int j = gi % gps;
            if (TWO == 2) {
                TSR_UNROLL for (int m = 0; m < MT; m++) {
                    sba[m] = j == 0 ? isa[m] : _mm512_add_epi32(sba[m], isa[m]);
                    sbb[m] = j == 0 ? isb[m] : _mm512_add_epi32(sbb[m], isb[m]);
                }
            } else {
                tsr_qfold512(ca->zv, MT, j == 0, isa, meta + gi, ng, sba);
                tsr_qfold512(cb->zv, MT, j == 0, isb, meta + gi, ng, sbb);
            }
            if (j == gps - 1) {
                tsr_qsuper512(ca[-j].s, ca[-j].mn, &ca[-j].mp, QSLAB_MPS, gps / 2, MT, epi & 2, sba, meta + gi - j, ng, acca);
                tsr_qsuper512(cb[-j].s, cb[-j].mn, &cb[-j].mp, QSLAB_MPS, gps / 2, MT, epi & 2, sbb, meta + gi - j, ng, accb);
            }
        } else {
            const qslab_scales *ca = sa + (gi - g0), *cb = sb + (gi - g0);
            tsr_qepilogue512_rows_x2(ca->s, ca->mn, ca->zv, cb->s, cb->mn, cb->zv, MT, epi & 1, epi & 2, isa, isb,
                                     meta + gi, ng, acca, accb);
        }
    }
    const int bz = last && bias != NULL;
    const __m512 ba = bz ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    const __m512 bb = bz ? _mm512_maskz_loadu_ps(kb, bias + TSR_QP) : _mm512_setzero_ps();
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        _mm512_storeu_ps(y + m * ldy, bz ? _mm512_add_ps(acca[m], ba) : acca[m]);
        _mm512_mask_storeu_ps(y + m * ldy + TSR_QP, kb, bz ? _mm512_add_ps(accb[m], bb) : accb[m]);
    }
}

/* Rows [0, mt) of a pair of unpacked slabs, 6 at a time, specialised as qslab_tile8 is. */
INLINE void qslab_rows_x2(const tsr_qkernel_desc *d, const uint8_t *ua, const uint8_t *ub, const qslab_scales *sa,
                          const qslab_scales *sb, int g0, int g1, int64_t mt, const int8_t *act, int64_t as,
                          const tsr_qact_meta *meta, float *y, int64_t ldy, int first, int last, const float *bias,
                          int32_t nvb, const int G, const int EPI, const int TWO) {
    const int rt = TWO ? 4 : 6;  /* two-level tiles also hold 2·4 super-block sums */
    for (int64_t m0 = 0; m0 < mt; m0 += rt) {
        const int t = (int)(mt - m0 < rt ? mt - m0 : rt);
        const int8_t *a = act + m0 * as;
        const tsr_qact_meta *mm = meta + m0 * d->ngroups;
        float *yy = y + m0 * ldy;
#define QX2(T) qslab_tile_x2(d, ua, ub, sa, sb, g0, g1, T, G, EPI, TWO, a, as, mm, yy, ldy, first, last, bias, nvb)
        switch (t) {
        case 6: if (!TWO) QX2(6); break;
        case 5: if (!TWO) QX2(5); break;
        case 4: QX2(4); break;
        case 3: QX2(3); break;
        case 2: QX2(2); break;
        default: QX2(1); break;
        }
#undef QX2
    }
}

/*
 * M = 9–16 on single-level 4-bit layouts (the batched decode step): too few row tiles to pay for
 * a slab, so the nibbles are unpacked in registers as qtile_g does, for two panels at once, and
 * each activation broadcast feeds both (4 rows × 2 panels: 6 loads per 16 vpdpbusd, against 17
 * for 8 rows × 1 panel). Per panel the operations are qtile_g's, in its order: the same bits.
 */
INLINE void qtile_x2(const tsr_qkernel_desc *d, const uint8_t *pa, const uint8_t *pb, const int MT, const int BITS,
                     const int G, const int EPI, const int8_t *act, int64_t as, const tsr_qact_meta *meta, float *y,
                     int64_t ldy, const float *bias, int32_t nvb) {
    const int g = G ? G : d->group, ng = d->ngroups;
    const int epi = EPI >= 0 ? EPI : tsr_qepi_flags(d);
    const __mmask16 kb = (__mmask16)((1u << nvb) - 1u);
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i lut = BITS == 6 ? tsr_qlut512(d) : m4;
    __m512 acca[4], accb[4];
    TSR_UNROLL for (int m = 0; m < MT; m++) acca[m] = accb[m] = _mm512_setzero_ps();
    const uint8_t *ra = pa, *rb = pb;
    for (int gi = 0; gi < ng; gi++, ra += d->rec_bytes, rb += d->rec_bytes) {
        const int8_t *ag = act + (int64_t)gi * g;
        TSR_QPREFETCH_RECORD(ra, d->rec_bytes);
        TSR_QPREFETCH_RECORD(rb, d->rec_bytes);
        __m512i isa[4], isb[4];
        TSR_UNROLL for (int m = 0; m < MT; m++) isa[m] = isb[m] = _mm512_setzero_si512();
        TSR_NO_UNROLL for (int j = 0; j < g / 8; j++) {
            __m512i la, ha, lb, hb;
            qunpack_chunk(d, ra, j, BITS, m4, lut, &la, &ha);
            qunpack_chunk(d, rb, j, BITS, m4, lut, &lb, &hb);
            TSR_UNROLL for (int m = 0; m < MT; m++) {
                const __m512i x0 = bcast4(ag + m * as + 8 * j), x1 = bcast4(ag + m * as + 8 * j + 4);
                isa[m] = _mm512_dpbusd_epi32(isa[m], la, x0);
                isb[m] = _mm512_dpbusd_epi32(isb[m], lb, x0);
                isa[m] = _mm512_dpbusd_epi32(isa[m], ha, x1);
                isb[m] = _mm512_dpbusd_epi32(isb[m], hb, x1);
            }
        }
        __m512 s, mn;
        __m512i zv;
        tsr_qgroup_scales512(d, ra, &s, &mn, &zv);
        tsr_qepilogue512_rows_f(s, mn, zv, MT, epi & 1, epi & 2, isa, meta + gi, ng, acca);
        tsr_qgroup_scales512(d, rb, &s, &mn, &zv);
        tsr_qepilogue512_rows_f(s, mn, zv, MT, epi & 1, epi & 2, isb, meta + gi, ng, accb);
    }
    const __m512 ba = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
    const __m512 bb = bias ? _mm512_maskz_loadu_ps(kb, bias + TSR_QP) : _mm512_setzero_ps();
    TSR_UNROLL for (int m = 0; m < MT; m++) {
        _mm512_storeu_ps(y + m * ldy, bias ? _mm512_add_ps(acca[m], ba) : acca[m]);
        _mm512_mask_storeu_ps(y + m * ldy + TSR_QP, kb, bias ? _mm512_add_ps(accb[m], bb) : accb[m]);
    }
}

/* Rows [0, mt) of a panel pair, 4 at a time, unpacking in registers (BITS as in qtile_g). */
INLINE void qtile_rows_x2(const tsr_qkernel_desc *d, const uint8_t *pa, const uint8_t *pb, int64_t mt, const int BITS,
                          const int G, const int EPI, const int8_t *act, int64_t as, const tsr_qact_meta *meta,
                          float *y, int64_t ldy, const float *bias, int32_t nvb) {
    for (int64_t m0 = 0; m0 < mt; m0 += 4) {
        const int t = (int)(mt - m0 < 4 ? mt - m0 : 4);
        const int8_t *a = act + m0 * as;
        const tsr_qact_meta *mm = meta + m0 * d->ngroups;
        float *yy = y + m0 * ldy;
#define QT2(T) qtile_x2(d, pa, pb, T, BITS, G, EPI, a, as, mm, yy, ldy, bias, nvb)
        switch (t) {
        case 4: QT2(4); break;
        case 3: QT2(3); break;
        case 2: QT2(2); break;
        default: QT2(1); break;
        }
#undef QT2
    }
}

AVX512 static void qtile_pairs_avx512vnni(const tsr_qkernel_desc *d, const uint8_t *pa, const uint8_t *pb, int64_t mt,
                                          const int8_t *act, int64_t as, const tsr_qact_meta *meta, float *y,
                                          int64_t ldy, const float *bias, int32_t nvb) {
    const int epi = tsr_qepi_flags(d), bits = d->lut ? 6 : d->hbits ? 5 : 4;
#define QTR(B, G, E) qtile_rows_x2(d, pa, pb, mt, B, G, E, act, as, meta, y, ldy, bias, nvb)
    if (bits == 4 && d->group == 32 && epi == 0) QTR(4, 32, 0);       /* Q4_0 */
    else if (bits == 4 && d->group == 32 && epi == 2) QTR(4, 32, 2);  /* Q4_1 */
    else if (bits == 5 && d->group == 32 && epi == 0) QTR(5, 32, 0);  /* Q5_0 */
    else if (bits == 6 && d->group == 32 && epi == 0) QTR(6, 32, 0);  /* IQ4_NL */
    else if (bits == 6) QTR(6, 0, -1);
    else if (bits == 5) QTR(5, 0, -1);
    else QTR(4, 0, -1);
#undef QTR
}

AVX512 static void qkernel_x2_avx512vnni(const tsr_qkernel_desc *d, const uint8_t *pa, const uint8_t *pb, int64_t mt,
                                         const int8_t *act, int64_t as, const tsr_qact_meta *meta, float *y,
                                         int64_t ldy, const float *bias, int32_t nvb) {
    const int q8 = d->bits == 8 && !d->two_level && !d->hbits && !d->lut && !d->sc_in_codes;
    /* Q8_0 at M ≤ 16 keeps qtile_g: in registers its 544-byte records' split loads cost what
     * the shared broadcasts save (SmolLM2's head 13 % slower, Gemma's 7 % faster, 2 threads). */
    if (mt < 17 && d->bits == 4 && !d->two_level && !d->sc_in_codes) {
        qtile_pairs_avx512vnni(d, pa, pb, mt, act, as, meta, y, ldy, bias, nvb);
        return;
    }
    qslab_buffer *b = tsr_qthread_buffer(TSR_QTLS_SLAB, sizeof(qslab_buffer));
    if (!b || mt < (d->two_level ? 9 : 17) || (d->bits != 4 && !q8) || 16 * d->group > QSLAB_SMALL_BYTES) {
        tsr_qkernel_avx512vnni(d, pa, mt, act, as, meta, y, ldy, bias, TSR_QP);
        tsr_qkernel_avx512vnni(d, pb, mt, act, as, meta, y + TSR_QP, ldy, bias ? bias + TSR_QP : NULL, nvb);
        return;
    }
    /* The thread's slab buffer in two halves, one per panel (the slab size changes no bit). */
    const int ng = d->ngroups, per = 16 * d->group, half = QSLAB_BYTES / 2;
    int gs = half / per;
    gs = gs < 1 ? 1 : gs > QSLAB_GROUPS / 2 ? QSLAB_GROUPS / 2 : gs;
    if (d->two_level) gs -= gs % d->gps;  /* whole super-blocks (a half holds at least 8) */
    uint8_t *ua = b->u, *ub = b->u + half;
    qslab_scales *sa = b->sc, *sb = b->sc + QSLAB_GROUPS / 2;
    const int epi = tsr_qepi_flags(d);
    for (int g0 = 0; g0 < ng; g0 += gs) {
        const int g1 = g0 + gs < ng ? g0 + gs : ng, first = g0 == 0, last = g1 == ng;
        const int bits = q8 ? 8 : d->lut ? 6 : d->hbits ? 5 : 4;
        if (bits == 8) { qslab_unpack(d, pa, g0, g1, 8, ua, sa); qslab_unpack(d, pb, g0, g1, 8, ub, sb); }
        else if (bits == 6) { qslab_unpack(d, pa, g0, g1, 6, ua, sa); qslab_unpack(d, pb, g0, g1, 6, ub, sb); }
        else if (bits == 5) { qslab_unpack(d, pa, g0, g1, 5, ua, sa); qslab_unpack(d, pb, g0, g1, 5, ub, sb); }
        else { qslab_unpack(d, pa, g0, g1, 4, ua, sa); qslab_unpack(d, pb, g0, g1, 4, ub, sb); }
#define QROWS(G, E, T) qslab_rows_x2(d, ua, ub, sa, sb, g0, g1, mt, act, as, meta, y, ldy, first, last, bias, nvb, G, E, T)
        if (d->two_level && d->group == 32 && epi == 2) QROWS(32, 2, 1);       /* Q4_K, Q5_K */
        else if (d->two_level && d->group == 16 && epi == 0) QROWS(16, 0, 1);  /* Q6_K, Q3_K */
        else if (d->sc_in_codes && d->group == 16 && epi == 2) QROWS(16, 2, 2); /* Q2_K */
        else if (d->two_level) QROWS(0, -1, 1 + d->sc_in_codes);
        else if (d->group == 32 && epi == 0) QROWS(32, 0, 0);
        else if (d->group == 32 && epi == 2) QROWS(32, 2, 0);
        else QROWS(0, -1, 0);
#undef QROWS
    }
}

#define QTILE_CASES(BITS)                                                                                   \
    switch (t) {                                                                                            \
    case 8: qtile(d, panel, 8, BITS, a, as, mm, yy, ldy, bias, nvalid); break;                            \
    case 7: qtile(d, panel, 7, BITS, a, as, mm, yy, ldy, bias, nvalid); break;                            \
    case 6: qtile(d, panel, 6, BITS, a, as, mm, yy, ldy, bias, nvalid); break;                            \
    case 5: qtile(d, panel, 5, BITS, a, as, mm, yy, ldy, bias, nvalid); break;                            \
    case 4: qtile(d, panel, 4, BITS, a, as, mm, yy, ldy, bias, nvalid); break;                            \
    case 3: qtile(d, panel, 3, BITS, a, as, mm, yy, ldy, bias, nvalid); break;                            \
    case 2: qtile(d, panel, 2, BITS, a, as, mm, yy, ldy, bias, nvalid); break;                            \
    default: qtile(d, panel, 1, BITS, a, as, mm, yy, ldy, bias, nvalid); break;                           \
    }

AVX512 void tsr_qkernel_avx512vnni(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt, const int8_t *act,
                                   int64_t as, const tsr_qact_meta *meta, float *y, int64_t ldy,
                                   const float *bias, int32_t nvalid) {
    /* Slabs pay off once enough row tiles share one unpacking: single-level formats from M = 17,
     * two-level (K-quants) from M = 9. Below that the tile unpacks in registers (the nibble
     * unpacking runs beside vpdpbusd) and saves the slab's stores and reloads. One thread, hot,
     * best of 7×51 calls, slab → in registers: Q4_1 3072×576 M = 9 134 → 115 µs, M = 12 164 → 139,
     * M = 16 202 → 184, M = 24 288 → 276, M = 32 374 → 368; at M = 16 (2048×640 / 640×2048) Q4_0
     * 141 → 127, Q5_0 176 → 160, IQ4_NL 141 → 123, Q5_1 186 → 173, but Q6_K 185 → 191, Q3_K
     * 157 → 161, Q2_K 152 → 189, and Q5_0 at M = 32 296 → 319. Same bits either way. */
    const int slab_from = d->two_level ? 9 : 17;
    if (mt >= slab_from && d->bits == 4 && 16 * d->group <= QSLAB_SMALL_BYTES) {
        qpanel_slabs(d, panel, mt, act, as, meta, y, ldy, bias, nvalid);
        return;
    }
    for (int64_t m0 = 0; m0 < mt; m0 += 8) {
        const int t = (int)(mt - m0 < 8 ? mt - m0 : 8);
        const int8_t *a = act + m0 * as;
        const tsr_qact_meta *mm = meta + m0 * d->ngroups;
        float *yy = y + m0 * ldy;
        if (d->bits == 4 && d->lut) { QTILE_CASES(6) } else if (d->bits == 4 && d->hbits) { QTILE_CASES(5) } else if (d->bits == 4) { QTILE_CASES(4) } else { QTILE_CASES(8) }
    }
}

/* ---- float weights --------------------------------------------------------------- */

INLINE __m512 fload(int32_t ftype, const uint8_t *p) {
    if (ftype == TSR_QF_F32) return _mm512_loadu_ps((const float *)(const void *)p);
    const __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)p);
    if (ftype == TSR_QF_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

INLINE void ftile(int32_t ftype, const uint8_t *panel, int64_t k, const int MT, const float *x, int64_t ldx,
                  float *y, int64_t ldy, const float *bias, int32_t nvalid) {
    const size_t step = (size_t)TSR_QP * (ftype == TSR_QF_F32 ? 4 : 2);
    __m512 acc[8];
    TSR_UNROLL for (int m = 0; m < MT; m++) acc[m] = _mm512_setzero_ps();
    for (int64_t kk = 0; kk < k; kk++) {
        const __m512 w = fload(ftype, panel + (size_t)kk * step);
        TSR_UNROLL for (int m = 0; m < MT; m++) acc[m] = _mm512_fmadd_ps(w, _mm512_set1_ps(x[m * ldx + kk]), acc[m]);
    }
    const __mmask16 km = (__mmask16)((1u << nvalid) - 1u);
    const __m512 b = bias ? _mm512_maskz_loadu_ps(km, bias) : _mm512_setzero_ps();
    TSR_UNROLL for (int m = 0; m < MT; m++) _mm512_mask_storeu_ps(y + m * ldy, km, bias ? _mm512_add_ps(acc[m], b) : acc[m]);
}

AVX512 static void fpanel_avx512(int32_t ftype, const uint8_t *panel, int64_t k, int64_t mt, const float *x,
                                 int64_t ldx, float *y, int64_t ldy, const float *bias, int32_t nvalid) {
    for (int64_t m0 = 0; m0 < mt; m0 += 8) {
        const int t = (int)(mt - m0 < 8 ? mt - m0 : 8);
        const float *xx = x + m0 * ldx;
        float *yy = y + m0 * ldy;
        switch (t) {
        case 8: ftile(ftype, panel, k, 8, xx, ldx, yy, ldy, bias, nvalid); break;
        case 7: ftile(ftype, panel, k, 7, xx, ldx, yy, ldy, bias, nvalid); break;
        case 6: ftile(ftype, panel, k, 6, xx, ldx, yy, ldy, bias, nvalid); break;
        case 5: ftile(ftype, panel, k, 5, xx, ldx, yy, ldy, bias, nvalid); break;
        case 4: ftile(ftype, panel, k, 4, xx, ldx, yy, ldy, bias, nvalid); break;
        case 3: ftile(ftype, panel, k, 3, xx, ldx, yy, ldy, bias, nvalid); break;
        case 2: ftile(ftype, panel, k, 2, xx, ldx, yy, ldy, bias, nvalid); break;
        default: ftile(ftype, panel, k, 1, xx, ldx, yy, ldy, bias, nvalid); break;
        }
    }
}

static int has_vnni(void) { return tsr_cpu()->avx512_vnni; }

/* Overrides: the float panel at AVX-512; the integer path needs VNNI (without it, AVX-512
 * machines keep the AVX2 integer path). */
const tsr_qgemm_kernels tsr_qgemm_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .float_name = "avx512-f32fma",
    .fpanel = fpanel_avx512,
};

const tsr_qgemm_kernels tsr_qgemm_kernels_avx512vnni = {
    .head = {"avx512vnni", TSR_ISA_AVX512, has_vnni},
    .int_name = "avx512vnni-int8",
    .act = qact_avx512,
    .qpanel = tsr_qkernel_avx512vnni,
    .qpanel_m1x2 = qpanel_m1x2_avx512vnni,
    .qpanel_x2 = qkernel_x2_avx512vnni,
};
#endif
