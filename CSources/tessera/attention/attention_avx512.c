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

TSR_TARGET_AVX512 static void pack_kt_512(float *kt, int ldkt, const void *k, tsr_dtype dt, int64_t kstride,
                                          int n, int npad, int d) {
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

const attn_kernels tsr_attn_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .qk_mr = 4, .qk_nr = 64,
    .pv_mr = 4, .pv_nr = 64,
    .pack_kt = pack_kt_512,
    .pack_rows = pack_rows_512,
    .qk = qk_512,
    .softmax = softmax_512,
    .pv = pv_512,
};
#endif
