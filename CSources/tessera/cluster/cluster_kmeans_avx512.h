/*
 * cluster_kmeans_avx512.h — the AVX-512 float block of the k-means kernels (cluster_kmeans.h):
 * labels and per-row errors of CK_KM_ROWS = 32 rows (two groups of 16 lanes), in registers. Included by cluster_avx512.c only
 * (after ck_lanes512_f32, before CK_INSTANTIATE), as ck_kmeans_block_f32_avx512.
 *
 * The generic block (ck_kmeans_block_generic_, compiled by the compiler's vectoriser) kept its
 * four centres' partial dots and the running minimum in stack arrays and padded the last group
 * of centres with copies of centre k − 1: at d = 8, k = 10 about 240 cycles per 16 rows, of
 * which the stores and reloads of its arrays were most. Here the centres go in passes of 4 to 8
 * (as even as k allows; no padding), each pass's dots in registers (the chains of a pass hide
 * the FMA latency), then the running minimum and the labels stay in two registers.
 *
 * Per lane the operations and their order are those of the generic block (and of the scalar
 * reference): dot_c = fma chain of x_t·c_t over t in order from 0; v = cn[c] − (dot + dot);
 * centre c is taken when v < best (ordered, so a NaN never wins), c ascending, so the first
 * lowest wins; e = Σ_t ((double)x_t − (double)c_t)² with the product rounded before the sum
 * (no fused multiply-add), features in order. (dot + dot equals the generic 2·dot bit for bit.)
 */
#ifndef TSR_CLUSTER_KMEANS_AVX512_H
#define TSR_CLUSTER_KMEANS_AVX512_H

/* One pass over centres q0 .. q0 + G − 1 (G a constant 1..8) for the block's two groups of 16
 * lanes (bt: group h's feature t at bt + (h·d + t)·16): their dots, then the strict minimum
 * update in centre order. The two groups interleave: 2G independent FMA chains. */
#define CK_KM512_PASS(G)                                                                                 \
    TSR_TARGET_AVX512 CK_INLINE void ck_km512_pass##G(int64_t d, const float *bt, const float *c,       \
                                                      const float *cn, int64_t q0, __m512 best[2],      \
                                                      __m512i bi[2]) {                                  \
        __m512 a[G], b[G];                                                                              \
        const float *cp = c + q0 * d, *bu = bt + d * CK_ROWS;                                           \
        for (int g = 0; g < G; g++) { a[g] = _mm512_setzero_ps(); b[g] = _mm512_setzero_ps(); }         \
        for (int64_t t = 0; t < d; t++) {                                                               \
            const __m512 xa = _mm512_loadu_ps(bt + t * CK_ROWS), xb = _mm512_loadu_ps(bu + t * CK_ROWS); \
            for (int g = 0; g < G; g++) {                                                               \
                const __m512 cv = _mm512_set1_ps(cp[g * d + t]);                                        \
                a[g] = _mm512_fmadd_ps(xa, cv, a[g]);                                                   \
                b[g] = _mm512_fmadd_ps(xb, cv, b[g]);                                                   \
            }                                                                                           \
        }                                                                                               \
        for (int g = 0; g < G; g++) {                                                                   \
            const __m512 cq = _mm512_set1_ps(cn[q0 + g]);                                               \
            const __m512i q = _mm512_set1_epi32((int32_t)(q0 + g));                                     \
            const __m512 va = _mm512_sub_ps(cq, _mm512_add_ps(a[g], a[g]));                             \
            const __m512 vb = _mm512_sub_ps(cq, _mm512_add_ps(b[g], b[g]));                             \
            const __mmask16 la = _mm512_cmp_ps_mask(va, best[0], _CMP_LT_OQ);                           \
            const __mmask16 lb = _mm512_cmp_ps_mask(vb, best[1], _CMP_LT_OQ);                           \
            best[0] = _mm512_mask_mov_ps(best[0], la, va);                                              \
            best[1] = _mm512_mask_mov_ps(best[1], lb, vb);                                              \
            bi[0] = _mm512_mask_mov_epi32(bi[0], la, q);                                                \
            bi[1] = _mm512_mask_mov_epi32(bi[1], lb, q);                                                \
        }                                                                                               \
    }
CK_KM512_PASS(1)
CK_KM512_PASS(2)
CK_KM512_PASS(3)
CK_KM512_PASS(4)
CK_KM512_PASS(5)
CK_KM512_PASS(6)
CK_KM512_PASS(7)
CK_KM512_PASS(8)

/* The labels of the block's 32 lanes (bi[h]: group h): ⌈k / 8⌉ passes, the first k mod passes one
 * centre longer. */
TSR_TARGET_AVX512 CK_INLINE void ck_km512_labels(int64_t d, const float *bt, int64_t k, const float *c,
                                                 const float *cn, __m512i bi[2]) {
    __m512 best[2] = {_mm512_set1_ps(INFINITY), _mm512_set1_ps(INFINITY)};
    bi[0] = bi[1] = _mm512_setzero_si512();
    const int64_t passes = (k + 7) / 8, base = k / passes, longer = k % passes;
    int64_t q0 = 0;
    for (int64_t p = 0; p < passes; p++) {
        const int64_t g = base + (p < longer);
        switch (g) {
        case 1: ck_km512_pass1(d, bt, c, cn, q0, best, bi); break;
        case 2: ck_km512_pass2(d, bt, c, cn, q0, best, bi); break;
        case 3: ck_km512_pass3(d, bt, c, cn, q0, best, bi); break;
        case 4: ck_km512_pass4(d, bt, c, cn, q0, best, bi); break;
        case 5: ck_km512_pass5(d, bt, c, cn, q0, best, bi); break;
        case 6: ck_km512_pass6(d, bt, c, cn, q0, best, bi); break;
        case 7: ck_km512_pass7(d, bt, c, cn, q0, best, bi); break;
        default: ck_km512_pass8(d, bt, c, cn, q0, best, bi); break;
        }
        q0 += g;
    }
}

/* Adds lane l's (x_t − c_t)² in double to e[0] (lanes 0..7) and e[1] (lanes 8..15). */
TSR_TARGET_AVX512 CK_INLINE void ck_km512_error(__m512 xv, __m512 cv, __m512d e[2]) {
    const __m512d dl = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(xv)),
                                     _mm512_cvtps_pd(_mm512_castps512_ps256(cv)));
    const __m512d dh = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_extractf32x8_ps(xv, 1)),
                                     _mm512_cvtps_pd(_mm512_extractf32x8_ps(cv, 1)));
    e[0] = _mm512_add_pd(e[0], _mm512_mul_pd(dl, dl));
    e[1] = _mm512_add_pd(e[1], _mm512_mul_pd(dh, dh));
}

/* The block of cluster_kmeans.h (same arguments and outputs): rows i0 .. i0 + nb − 1 (nb <= 32)
 * copied transposed into scratch (two groups of d × 16; a partial block zero-padded), bi[l] their
 * labels and e[l] their errors for l < 32 (lanes past nb: those of the zero rows). */
TSR_TARGET_AVX512 CK_INLINE void ck_kmeans_block_f32_avx512(int64_t i0, int64_t nb, int64_t d, const float *x,
                                                           int64_t ldx, const float *xt, int64_t ldxt, int64_t k,
                                                           const float *c, const float *cn, const float *ct,
                                                           float *scratch, int32_t *bi, double *e) {
    const int64_t kp = CK_KPAD(k);
    float *su = scratch + d * CK_ROWS;
    /* the lanes copied together: in place, a row stride that is a multiple of 512 floats puts
     * every feature in the same L1 sets */
    if (nb < CK_KM_ROWS) {
        ck_transpose_rows_f32(nb < CK_ROWS ? nb : CK_ROWS, d, x + i0 * ldx, ldx, scratch);
        ck_transpose_rows_f32(nb > CK_ROWS ? nb - CK_ROWS : 0, d, x + (i0 + CK_ROWS) * ldx, ldx, su);
    } else
        for (int64_t t = 0; t < d; t++) {
            _mm512_storeu_ps(scratch + t * CK_ROWS, _mm512_loadu_ps(xt + t * ldxt + i0));
            _mm512_storeu_ps(su + t * CK_ROWS, _mm512_loadu_ps(xt + t * ldxt + i0 + CK_ROWS));
        }
    __m512i lab[2];
    ck_km512_labels(d, scratch, k, c, cn, lab);
    __m512d ea[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()}, eb[2] = {_mm512_setzero_pd(), _mm512_setzero_pd()};
    for (int64_t t = 0; t < d; t++) {
        ck_km512_error(_mm512_loadu_ps(scratch + t * CK_ROWS), ck_lanes512_f32(ct + t * kp, k, lab[0]), ea);
        ck_km512_error(_mm512_loadu_ps(su + t * CK_ROWS), ck_lanes512_f32(ct + t * kp, k, lab[1]), eb);
    }
    _mm512_storeu_si512(bi, lab[0]);
    _mm512_storeu_si512(bi + CK_ROWS, lab[1]);
    _mm512_storeu_pd(e, ea[0]);
    _mm512_storeu_pd(e + 8, ea[1]);
    _mm512_storeu_pd(e + 16, eb[0]);
    _mm512_storeu_pd(e + 24, eb[1]);
}

#endif /* TSR_CLUSTER_KMEANS_AVX512_H */
