/*
 * AVX-512 override of the attention microkernels (16 f32 lanes; contract in
 * attention_internal.h). QK^T: 4 rows x 64 keys register blocks, lanes over keys,
 * head_dim walked in order (one FMA chain per score). P.V: 4 rows x 64 columns, lanes
 * over head_dim, keys walked in order. Fills every slot.
 */
#include <math.h>

#include "attention_internal.h"

#if TSR_X86
#include <immintrin.h>

#include "tsr_vexp.h"

#define AI __attribute__((always_inline)) inline


/* 16 elements of row `src` (dtype dt) starting at element e, `cnt` (<= 16) valid, as f32. */
TSR_TARGET_AVX512 static AI __m512 load16(const void *src, tsr_dtype dt, int64_t e, int cnt) {
    __mmask16 m = cnt >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << cnt) - 1u);
    switch (dt) {
    case TSR_DTYPE_BF16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)src + e);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    case TSR_DTYPE_F16: {
        __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)src + e);
        return _mm512_cvtph_ps(h);
    }
    default:
        return _mm512_maskz_loadu_ps(m, (const float *)src + e);
    }
}

TSR_TARGET_AVX512 static AI void transpose16(__m512 r[16]) {
    __m512 t[16], u[16], v[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i + 0] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
        v[k] = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88);
        v[4 + k] = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
        v[8 + k] = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
        v[12 + k] = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm512_shuffle_f32x4(v[k], v[8 + k], 0x88);
        r[4 + k] = _mm512_shuffle_f32x4(v[4 + k], v[12 + k], 0x88);
        r[8 + k] = _mm512_shuffle_f32x4(v[k], v[8 + k], 0xDD);
        r[12 + k] = _mm512_shuffle_f32x4(v[4 + k], v[12 + k], 0xDD);
    }
}

/* bf16 K: the 16 x 16 transpose runs on bf16 PAIRS (one dword = dims 2t, 2t+1 of a key) before
 * widening, so one transpose moves 32 dims of 16 keys: half the shuffles of widening first, and
 * no vpmovzxwd. Widening a pair is one shift (even dim) and one mask (odd dim), both exact, so
 * kt holds the same f32 values as the generic path. */
TSR_TARGET_AVX512 static void pack_kt_bf16_512(float *kt, int ldkt, const uint16_t *k, int64_t kstride, int n,
                                               int npad, int d) {
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    for (int j0 = 0; j0 < npad; j0 += 16) {
        for (int d0 = 0; d0 < d; d0 += 32) {
            const int dc = d - d0 < 32 ? d - d0 : 32;
            const __mmask32 mk = dc >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << dc) - 1u);
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                const int j = j0 + i;
                const uint16_t *row = k + (size_t)j * kstride + d0;
                _mm_prefetch((const char *)(row + (size_t)ATTN_PF_ROWS * kstride), ATTN_PF_HINT);
                r[i] = j < n ? _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(mk, row)) : _mm512_setzero_ps();
            }
            transpose16(r);
            for (int t = 0; 2 * t < dc; t++) {
                const __m512i w = _mm512_castps_si512(r[t]);
                _mm512_store_ps(kt + (size_t)(d0 + 2 * t) * ldkt + j0, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
                if (2 * t + 1 < dc)
                    _mm512_store_ps(kt + (size_t)(d0 + 2 * t + 1) * ldkt + j0,
                                    _mm512_castsi512_ps(_mm512_and_si512(w, hi)));
            }
        }
    }
}

TSR_TARGET_AVX512 static void pack_kt_512(float *kt, int ldkt, const void *k, tsr_dtype dt, int64_t kstride,
                                          int n, int npad, int d) {
    if (dt == TSR_DTYPE_BF16) {
        pack_kt_bf16_512(kt, ldkt, k, kstride, n, npad, d);
        return;
    }
    const size_t es = tsr_dtype_size(dt);
    for (int j0 = 0; j0 < npad; j0 += 16) {
        for (int d0 = 0; d0 < d; d0 += 16) {
            int dc = d - d0 < 16 ? d - d0 : 16;
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                int j = j0 + i;
                const char *row = (const char *)k + (size_t)j * kstride * es;
                _mm_prefetch(row + (size_t)ATTN_PF_ROWS * kstride * es + (size_t)d0 * es, ATTN_PF_HINT);
                r[i] = j < n ? load16(row, dt, d0, dc) : _mm512_setzero_ps();
            }
            transpose16(r);
            for (int t = 0; t < dc; t++) _mm512_store_ps(kt + (size_t)(d0 + t) * ldkt + j0, r[t]);
        }
    }
}

TSR_TARGET_AVX512 static void pack_rows_512(float *dst, int ldd, const void *src, tsr_dtype dt, int64_t sstride,
                                            int n, int d, float mul) {
    const size_t es = tsr_dtype_size(dt);
    const __m512 vm = _mm512_set1_ps(mul);
    for (int j = 0; j < n; j++) {
        const char *row = (const char *)src + (size_t)j * sstride * es;
        float *o = dst + (size_t)j * ldd;
        for (int e = 0; e < d; e += 16) {
            _mm_prefetch(row + (size_t)ATTN_PF_ROWS * sstride * es + (size_t)e * es, ATTN_PF_HINT);
            __m512 x = load16(row, dt, e, d - e);
            if (mul != 1.0f) x = _mm512_mul_ps(x, vm);
            _mm512_store_ps(o + e, x);
        }
    }
}

TSR_TARGET_AVX512 static AI void qk_block(float *s, int lds, const float *q, int ldq, const float *kt, int ldkt,
                                          int d, const int NR, const int NV) {
    __m512 acc[4][4];
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (int dd = 0; dd < d; dd++) {
        const float *kr = kt + (size_t)dd * ldkt;
        __m512 kv[4];
        for (int v = 0; v < NV; v++) kv[v] = _mm512_load_ps(kr + 16 * v);
        for (int r = 0; r < NR; r++) {
            __m512 qb = _mm512_set1_ps(q[(size_t)r * ldq + dd]);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(qb, kv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < NV; v++) _mm512_store_ps(s + (size_t)r * lds + 16 * v, acc[r][v]);
}

/*
 * Fused pack + QK^T for the few rows of a decode step (qk_rows): 16 keys are loaded and
 * transposed in registers (bf16 as pairs, widened exactly; f16 widened exactly by vcvtph2ps
 * as they are loaded; f32 as they are) and consumed by the
 * FMAs at once, so no K^T tile is written and read back (the tile of 64 keys x 128 dims is as big
 * as Zen 4's L1). NG groups of 16 keys run side by side so that MR x NG independent FMA chains
 * (4 or more) hide the FMA latency; each score is still one chain over dd in order from +0, as in qk_block,
 * and padding keys (n <= j < npad) are zero rows: the same bits as pack_kt + qk.
 */
TSR_TARGET_AVX512 static AI void qk_rows_pass(float *s, int lds, const float *q, int ldq, const char *k, tsr_dtype dt,
                                              int64_t rowb, int j0, int n, int ng, int d, const int MR, const int NG) {
    const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
    const int bf16 = dt == TSR_DTYPE_BF16, es = dt == TSR_DTYPE_F32 ? 4 : 2;
    const int W = bf16 ? 32 : 16;  /* dims per transpose */
    __m512 acc[4][4];
    for (int r = 0; r < MR; r++)
        for (int g = 0; g < NG; g++) acc[r][g] = _mm512_setzero_ps();
    for (int d0 = 0; d0 < d; d0 += W) {
        const int dc = d - d0 < W ? d - d0 : W;
        for (int g = 0; g < NG; g++) {
            if (g >= ng) break;
            __m512 t[16];
            for (int i = 0; i < 16; i++) {
                const int j = j0 + 16 * g + i;
                const char *row = k + (int64_t)j * rowb;
                _mm_prefetch(row + (int64_t)ATTN_PF_ROWS * rowb + es * d0, ATTN_PF_HINT);
                if (j >= n) t[i] = _mm512_setzero_ps();
                else if (bf16)
                    t[i] = _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(
                        dc >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << dc) - 1u), (const uint16_t *)row + d0));
                else
                    t[i] = load16(row, dt, d0, dc);  /* f32 as is, f16 widened (exact) */
            }
            transpose16(t);
            if (bf16) {
                for (int u = 0; 2 * u < dc; u++) {
                    const __m512i w = _mm512_castps_si512(t[u]);
                    const __m512 lo = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
                    for (int r = 0; r < MR; r++)
                        acc[r][g] = _mm512_fmadd_ps(_mm512_set1_ps(q[(size_t)r * ldq + d0 + 2 * u]), lo, acc[r][g]);
                    if (2 * u + 1 < dc) {
                        const __m512 od = _mm512_castsi512_ps(_mm512_and_si512(w, hi));
                        for (int r = 0; r < MR; r++)
                            acc[r][g] = _mm512_fmadd_ps(_mm512_set1_ps(q[(size_t)r * ldq + d0 + 2 * u + 1]), od, acc[r][g]);
                    }
                }
            } else {
                for (int u = 0; u < dc; u++)
                    for (int r = 0; r < MR; r++)
                        acc[r][g] = _mm512_fmadd_ps(_mm512_set1_ps(q[(size_t)r * ldq + d0 + u]), t[u], acc[r][g]);
            }
        }
    }
    for (int r = 0; r < MR; r++)
        for (int g = 0; g < NG; g++)
            if (g < ng) _mm512_store_ps(s + (size_t)r * lds + j0 + 16 * g, acc[r][g]);
}

TSR_TARGET_AVX512 static AI void qk_rows_shape(float *s, int lds, const float *q, int ldq, const char *k, tsr_dtype dt,
                                               int64_t rowb, int n, int npad, int d, const int MR, const int NG) {
    for (int j0 = 0; j0 < npad; j0 += 16 * NG) {
        const int ng = (npad - j0) / 16 < NG ? (npad - j0) / 16 : NG;
        qk_rows_pass(s, lds, q, ldq, k, dt, rowb, j0, n, ng, d, MR, NG);
    }
}

TSR_TARGET_AVX512 static void qk_rows_512(float *s, int lds, const float *q, int ldq, const void *k, tsr_dtype dt,
                                          int64_t kstride, int m, int n, int npad, int d) {
    const int64_t rowb = kstride * (int64_t)tsr_dtype_size(dt);
    const char *kb = k;
    switch (m) {
    /* 4 rows: 4 chains already cover the FMA latency, and one key group keeps the 16
     * transposed rows and the accumulators in registers (2.5 % faster than 2 groups, hot) */
    case 4: qk_rows_shape(s, lds, q, ldq, kb, dt, rowb, n, npad, d, 4, 1); break;
    case 3: qk_rows_shape(s, lds, q, ldq, kb, dt, rowb, n, npad, d, 3, 2); break;
    case 2: qk_rows_shape(s, lds, q, ldq, kb, dt, rowb, n, npad, d, 2, 2); break;
    default: qk_rows_shape(s, lds, q, ldq, kb, dt, rowb, n, npad, d, 1, 4); break;
    }
}

/* One qk_mr x qk_nr block (m <= 4 rows, nc <= 64 keys): the register block with constant
 * shape for full row blocks, single rows for the edge. */
TSR_TARGET_AVX512 static void qk_512(float *s, int lds, const float *q, int ldq, const float *kt, int ldkt,
                                     int m, int nc, int d) {
    const int nv = nc / 16;
    if (m == 4) {
        switch (nv) {
        case 4: qk_block(s, lds, q, ldq, kt, ldkt, d, 4, 4); break;
        case 3: qk_block(s, lds, q, ldq, kt, ldkt, d, 4, 3); break;
        case 2: qk_block(s, lds, q, ldq, kt, ldkt, d, 4, 2); break;
        default: qk_block(s, lds, q, ldq, kt, ldkt, d, 4, 1); break;
        }
        return;
    }
    for (int r = 0; r < m; r++) {
        float *sr = s + (size_t)r * lds;
        const float *qr = q + (size_t)r * ldq;
        switch (nv) {
        case 4: qk_block(sr, lds, qr, ldq, kt, ldkt, d, 1, 4); break;
        case 3: qk_block(sr, lds, qr, ldq, kt, ldkt, d, 1, 3); break;
        case 2: qk_block(sr, lds, qr, ldq, kt, ldkt, d, 1, 2); break;
        default: qk_block(sr, lds, qr, ldq, kt, ldkt, d, 1, 1); break;
        }
    }
}

TSR_TARGET_AVX512 static void softmax_512(float *s, int lds, int rows, int n, int npad, float *m, float *l,
                                          float *alpha) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int r = 0; r < rows; r++) {
        float *sr = s + (size_t)r * lds;
        __m512 vmax = ninf;
        for (int j = 0; j < npad; j += 16) {
            int cnt = n - j;
            __mmask16 mk = cnt >= 16 ? (__mmask16)0xFFFF : cnt <= 0 ? 0 : (__mmask16)((1u << cnt) - 1u);
            vmax = _mm512_max_ps(_mm512_mask_load_ps(ninf, mk, sr + j), vmax);
        }
        float mx = _mm512_reduce_max_ps(vmax);
        float mn = m[r] > mx ? m[r] : mx;
        if (mn == -INFINITY) {
            /* no visible key yet: unless a NaN is hiding behind the -inf max, the row stays empty */
            int nan = 0;
            for (int j = 0; j < n; j++) nan |= sr[j] != sr[j];
            if (!nan) {
                alpha[r] = 1.0f;
                for (int j = 0; j < npad; j += 16) _mm512_store_ps(sr + j, _mm512_setzero_ps());
                continue;
            }
            mn = NAN;  /* NaN scores: make the row NaN, not empty */
        }
        alpha[r] = m[r] == -INFINITY ? 0.0f : exp2f(m[r] - mn);
        const __m512 vm = _mm512_set1_ps(mn);
        __m512 sum = _mm512_setzero_ps();
        for (int j = 0; j < npad; j += 16) {
            int cnt = n - j;
            __mmask16 mk = cnt >= 16 ? (__mmask16)0xFFFF : cnt <= 0 ? 0 : (__mmask16)((1u << cnt) - 1u);
            __m512 x = _mm512_mask_load_ps(ninf, mk, sr + j);
            __m512 p = tsr_exp2_512(_mm512_sub_ps(x, vm));
            _mm512_store_ps(sr + j, p);
            sum = _mm512_add_ps(sum, p);
        }
        l[r] = l[r] * alpha[r] + _mm512_reduce_add_ps(sum);
        m[r] = mn;
    }
}

TSR_TARGET_AVX512 static AI void pv_block(float *acc, int ldacc, const float *p, int ldp, const float *v, int ldv,
                                          const float *alpha, int n, const int NR, const int NV) {
    __m512 a[4][4];
    for (int r = 0; r < NR; r++) {
        __m512 al = _mm512_set1_ps(alpha[r]);
        for (int c = 0; c < NV; c++) a[r][c] = _mm512_mul_ps(_mm512_load_ps(acc + (size_t)r * ldacc + 16 * c), al);
    }
    for (int j = 0; j < n; j++) {
        const float *vr = v + (size_t)j * ldv;
        __m512 vv[4];
        for (int c = 0; c < NV; c++) {
            _mm_prefetch((const char *)(vr + (size_t)ATTN_PF_ROWS * ldv + 16 * c), ATTN_PF_HINT);
            vv[c] = _mm512_loadu_ps(vr + 16 * c);  /* v may be the caller's rows */
        }
        for (int r = 0; r < NR; r++) {
            __m512 pb = _mm512_set1_ps(p[(size_t)r * ldp + j]);
            for (int c = 0; c < NV; c++) a[r][c] = _mm512_fmadd_ps(pb, vv[c], a[r][c]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NV; c++) _mm512_store_ps(acc + (size_t)r * ldacc + 16 * c, a[r][c]);
}

/* One pv_mr x pv_nr block (m <= 4 rows, nc <= 64 columns), shaped like qk. */
TSR_TARGET_AVX512 static void pv_512(float *acc, int ldacc, const float *p, int ldp, const float *v, int ldv,
                                     const float *alpha, int m, int n, int nc) {
    const int nv = nc / 16;
    if (m == 4) {
        switch (nv) {
        case 4: pv_block(acc, ldacc, p, ldp, v, ldv, alpha, n, 4, 4); break;
        case 3: pv_block(acc, ldacc, p, ldp, v, ldv, alpha, n, 4, 3); break;
        case 2: pv_block(acc, ldacc, p, ldp, v, ldv, alpha, n, 4, 2); break;
        default: pv_block(acc, ldacc, p, ldp, v, ldv, alpha, n, 4, 1); break;
        }
        return;
    }
    for (int r = 0; r < m; r++) {
        switch (nv) {
        case 4: pv_block(acc + (size_t)r * ldacc, ldacc, p + (size_t)r * ldp, ldp, v, ldv, alpha + r, n, 1, 4); break;
        case 3: pv_block(acc + (size_t)r * ldacc, ldacc, p + (size_t)r * ldp, ldp, v, ldv, alpha + r, n, 1, 3); break;
        case 2: pv_block(acc + (size_t)r * ldacc, ldacc, p + (size_t)r * ldp, ldp, v, ldv, alpha + r, n, 1, 2); break;
        default: pv_block(acc + (size_t)r * ldacc, ldacc, p + (size_t)r * ldp, ldp, v, ldv, alpha + r, n, 1, 1); break;
        }
    }
}

/*
 * P.V with bf16 V rows read in place. 32 bf16 columns (one zmm) widen with two unpacks against
 * zero, which leave the columns permuted: the "lo" vector holds columns 8L+k and the "hi" vector
 * columns 8L+4+k (L = 128-bit lane, k < 4). The accumulators are permuted the same way on load
 * and back on store, so each column still gets alpha * acc and then one FMA per key in key
 * order: the same bits as pack_rows + pv_512, without writing and re-reading an f32 V tile.
 */
TSR_TARGET_AVX512 static AI void pv_bf16_block(float *acc, int ldacc, const float *p, int ldp, const uint16_t *v,
                                               int ldv, const float *alpha, int n, const int NR, const int NV) {
    const __m512i lo_idx = _mm512_set_epi32(27, 26, 25, 24, 19, 18, 17, 16, 11, 10, 9, 8, 3, 2, 1, 0);
    const __m512i hi_idx = _mm512_set_epi32(31, 30, 29, 28, 23, 22, 21, 20, 15, 14, 13, 12, 7, 6, 5, 4);
    const __m512i inv0 = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3, 2, 1, 0);
    const __m512i inv1 = _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24, 11, 10, 9, 8);
    const int NP = NV / 2;  /* column pairs held permuted; an odd last vector stays in order */
    const __m512i zero = _mm512_setzero_si512();
    __m512 a[4][4];
    for (int r = 0; r < NR; r++) {
        const __m512 al = _mm512_set1_ps(alpha[r]);
        const float *ar = acc + (size_t)r * ldacc;
        for (int c = 0; c < NP; c++) {
            __m512 n0 = _mm512_load_ps(ar + 32 * c), n1 = _mm512_load_ps(ar + 32 * c + 16);
            a[r][2 * c] = _mm512_mul_ps(_mm512_permutex2var_ps(n0, lo_idx, n1), al);
            a[r][2 * c + 1] = _mm512_mul_ps(_mm512_permutex2var_ps(n0, hi_idx, n1), al);
        }
        if (NV & 1) a[r][NV - 1] = _mm512_mul_ps(_mm512_load_ps(ar + 16 * (NV - 1)), al);
    }
    for (int j = 0; j < n; j++) {
        const uint16_t *vr = v + (size_t)j * ldv;
        __m512 vv[4];
        for (int c = 0; c < NP; c++) {
            _mm_prefetch((const char *)(vr + (size_t)ATTN_PF_ROWS * ldv + 32 * c), ATTN_PF_HINT);
            const __m512i x = _mm512_loadu_si512(vr + 32 * c);
            vv[2 * c] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, x));
            vv[2 * c + 1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, x));
        }
        if (NV & 1) {
            _mm_prefetch((const char *)(vr + (size_t)ATTN_PF_ROWS * ldv + 16 * (NV - 1)), ATTN_PF_HINT);
            const __m256i h = _mm256_loadu_si256((const __m256i *)(vr + 16 * (NV - 1)));
            vv[NV - 1] = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
        }
        for (int r = 0; r < NR; r++) {
            const __m512 pb = _mm512_set1_ps(p[(size_t)r * ldp + j]);
            for (int c = 0; c < NV; c++) a[r][c] = _mm512_fmadd_ps(pb, vv[c], a[r][c]);
        }
    }
    for (int r = 0; r < NR; r++) {
        float *ar = acc + (size_t)r * ldacc;
        for (int c = 0; c < NP; c++) {
            _mm512_store_ps(ar + 32 * c, _mm512_permutex2var_ps(a[r][2 * c], inv0, a[r][2 * c + 1]));
            _mm512_store_ps(ar + 32 * c + 16, _mm512_permutex2var_ps(a[r][2 * c], inv1, a[r][2 * c + 1]));
        }
        if (NV & 1) _mm512_store_ps(ar + 16 * (NV - 1), a[r][NV - 1]);
    }
}

/* P.V with f16 V rows read in place: 16 columns widen exactly with one vcvtph2ps, in column
 * order, so each column gets alpha * acc and then one FMA per key in key order: the same bits
 * as pack_rows + pv_512, without writing and re-reading an f32 V tile. */
TSR_TARGET_AVX512 static AI void pv_f16_block(float *acc, int ldacc, const float *p, int ldp, const uint16_t *v,
                                              int ldv, const float *alpha, int n, const int NR, const int NV) {
    __m512 a[4][4];
    for (int r = 0; r < NR; r++) {
        __m512 al = _mm512_set1_ps(alpha[r]);
        for (int c = 0; c < NV; c++) a[r][c] = _mm512_mul_ps(_mm512_load_ps(acc + (size_t)r * ldacc + 16 * c), al);
    }
    for (int j = 0; j < n; j++) {
        const uint16_t *vr = v + (size_t)j * ldv;
        __m512 vv[4];
        for (int c = 0; c < NV; c++) {
            if (!(c & 1)) _mm_prefetch((const char *)(vr + (size_t)ATTN_PF_ROWS * ldv + 16 * c), ATTN_PF_HINT);
            vv[c] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(vr + 16 * c)));
        }
        for (int r = 0; r < NR; r++) {
            __m512 pb = _mm512_set1_ps(p[(size_t)r * ldp + j]);
            for (int c = 0; c < NV; c++) a[r][c] = _mm512_fmadd_ps(pb, vv[c], a[r][c]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NV; c++) _mm512_store_ps(acc + (size_t)r * ldacc + 16 * c, a[r][c]);
}

/* One pv_mr x pv_nr block of half V rows read in place, shaped like pv_512: f16 (F16 = 1,
 * contract of pv_f16) or bf16 (contract of pv_bf16); F16 is a constant in both callers. */
TSR_TARGET_AVX512 static AI void pv_half_block(float *acc, int ldacc, const float *p, int ldp, const uint16_t *v,
                                               int ldv, const float *alpha, int n, const int NR, const int NV,
                                               const int F16) {
    if (F16) pv_f16_block(acc, ldacc, p, ldp, v, ldv, alpha, n, NR, NV);
    else pv_bf16_block(acc, ldacc, p, ldp, v, ldv, alpha, n, NR, NV);
}

TSR_TARGET_AVX512 static AI void pv_half_512(float *acc, int ldacc, const float *p, int ldp, const uint16_t *v,
                                             int ldv, const float *alpha, int m, int n, int nc, const int F16) {
    const int nv = nc / 16;
    const int mr = m == 4 ? 4 : 1;
    for (int r = 0; r < m; r += mr) {
        float *ar = acc + (size_t)r * ldacc;
        const float *pr = p + (size_t)r * ldp;
        if (mr == 4) {
            switch (nv) {
            case 4: pv_half_block(ar, ldacc, pr, ldp, v, ldv, alpha + r, n, 4, 4, F16); break;
            case 3: pv_half_block(ar, ldacc, pr, ldp, v, ldv, alpha + r, n, 4, 3, F16); break;
            case 2: pv_half_block(ar, ldacc, pr, ldp, v, ldv, alpha + r, n, 4, 2, F16); break;
            default: pv_half_block(ar, ldacc, pr, ldp, v, ldv, alpha + r, n, 4, 1, F16); break;
            }
        } else {
            switch (nv) {
            case 4: pv_half_block(ar, ldacc, pr, ldp, v, ldv, alpha + r, n, 1, 4, F16); break;
            case 3: pv_half_block(ar, ldacc, pr, ldp, v, ldv, alpha + r, n, 1, 3, F16); break;
            case 2: pv_half_block(ar, ldacc, pr, ldp, v, ldv, alpha + r, n, 1, 2, F16); break;
            default: pv_half_block(ar, ldacc, pr, ldp, v, ldv, alpha + r, n, 1, 1, F16); break;
            }
        }
    }
}

TSR_TARGET_AVX512 static void pv_bf16_512(float *acc, int ldacc, const float *p, int ldp, const uint16_t *v, int ldv,
                                          const float *alpha, int m, int n, int nc) {
    pv_half_512(acc, ldacc, p, ldp, v, ldv, alpha, m, n, nc, 0);
}

TSR_TARGET_AVX512 static void pv_f16_512(float *acc, int ldacc, const float *p, int ldp, const uint16_t *v, int ldv,
                                         const float *alpha, int m, int n, int nc) {
    pv_half_512(acc, ldacc, p, ldp, v, ldv, alpha, m, n, nc, 1);
}

const attn_kernels tsr_attn_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .qk_mr = 4, .qk_nr = 64,
    .pv_mr = 4, .pv_nr = 64,
    .pack_kt = pack_kt_512,
    .pack_rows = pack_rows_512,
    .qk = qk_512,
    .qk_rows = qk_rows_512,
    .softmax = softmax_512,
    .pv = pv_512,
    .pv_bf16 = pv_bf16_512,
    .pv_f16 = pv_f16_512,
};
#endif
