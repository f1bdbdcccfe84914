/*
 * AVX2 + FMA override of the attention microkernels (8 f32 lanes; contract in
 * attention_internal.h): QK^T in register blocks of 4 rows x 24 keys with lanes over
 * keys, P.V in 4 rows x 24 columns with lanes over head_dim. Fills every slot.
 */
#include <math.h>
#include <string.h>

#include "attention_internal.h"

#if TSR_X86
#include <immintrin.h>

#include "tsr_vexp.h"

#define AI __attribute__((always_inline)) inline


/* 8 elements of a row from element e, cnt (<= 8) valid, as f32. */
TSR_TARGET_AVX2 static AI __m256 load8(const void *src, tsr_dtype dt, int64_t e, int cnt) {
    if (cnt < 8) {
        float tmp[8] = {0};
        for (int i = 0; i < cnt; i++) tmp[i] = attn_load1(src, dt, e + i);
        return _mm256_loadu_ps(tmp);
    }
    switch (dt) {
    case TSR_DTYPE_BF16: {
        __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)src + e));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    case TSR_DTYPE_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)src + e)));
    default:
        return _mm256_loadu_ps((const float *)src + e);
    }
}

TSR_TARGET_AVX2 static AI void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i + 0] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[4 + k] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

TSR_TARGET_AVX2 static void pack_kt_256(float *kt, int ldkt, const void *k, tsr_dtype dt, int64_t kstride,
                                        int n, int npad, int d) {
    const size_t es = tsr_dtype_size(dt);
    for (int j0 = 0; j0 < npad; j0 += 8) {
        for (int d0 = 0; d0 < d; d0 += 8) {
            int dc = d - d0 < 8 ? d - d0 : 8;
            __m256 r[8];
            for (int i = 0; i < 8; i++) {
                int j = j0 + i;
                const char *row = (const char *)k + (size_t)j * kstride * es;
                if ((d0 * es) % 64 == 0) _mm_prefetch(row + (size_t)ATTN_PF_ROWS * kstride * es + (size_t)d0 * es, ATTN_PF_HINT);
                r[i] = j < n ? load8(row, dt, d0, dc) : _mm256_setzero_ps();
            }
            transpose8(r);
            for (int t = 0; t < dc; t++) _mm256_store_ps(kt + (size_t)(d0 + t) * ldkt + j0, r[t]);
        }
    }
}

TSR_TARGET_AVX2 static void pack_rows_256(float *dst, int ldd, const void *src, tsr_dtype dt, int64_t sstride,
                                          int n, int d, float mul) {
    const size_t es = tsr_dtype_size(dt);
    const int dp = attn_round16(d);
    const __m256 vm = _mm256_set1_ps(mul);
    for (int j = 0; j < n; j++) {
        const char *row = (const char *)src + (size_t)j * sstride * es;
        float *o = dst + (size_t)j * ldd;
        for (int e = 0; e < dp; e += 8) {
            if ((e * es) % 64 == 0) _mm_prefetch(row + (size_t)ATTN_PF_ROWS * sstride * es + (size_t)e * es, ATTN_PF_HINT);
            __m256 x = e < d ? load8(row, dt, e, d - e) : _mm256_setzero_ps();
            if (mul != 1.0f) x = _mm256_mul_ps(x, vm);
            _mm256_store_ps(o + e, x);
        }
    }
}

TSR_TARGET_AVX2 static AI void qk_block(float *s, int lds, const float *q, int ldq, const float *kt, int ldkt,
                                        int d, const int NR, const int NV) {
    __m256 acc[4][3];
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm256_setzero_ps();
    for (int dd = 0; dd < d; dd++) {
        const float *kr = kt + (size_t)dd * ldkt;
        __m256 kv[3];
        for (int v = 0; v < NV; v++) kv[v] = _mm256_load_ps(kr + 8 * v);
        for (int r = 0; r < NR; r++) {
            __m256 qb = _mm256_broadcast_ss(q + (size_t)r * ldq + dd);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(qb, kv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int v = 0; v < NV; v++) _mm256_store_ps(s + (size_t)r * lds + 8 * v, acc[r][v]);
}

/* One qk_mr x qk_nr block (m <= 4 rows, nc <= 24 keys): the register block with constant
 * shape for full row blocks, single rows for the edge. */
TSR_TARGET_AVX2 static void qk_256(float *s, int lds, const float *q, int ldq, const float *kt, int ldkt,
                                   int m, int nc, int d) {
    const int nv = nc / 8;
    if (m == 4) {
        switch (nv) {
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
        case 3: qk_block(sr, lds, qr, ldq, kt, ldkt, d, 1, 3); break;
        case 2: qk_block(sr, lds, qr, ldq, kt, ldkt, d, 1, 2); break;
        default: qk_block(sr, lds, qr, ldq, kt, ldkt, d, 1, 1); break;
        }
    }
}

TSR_TARGET_AVX2 static AI __m256 tail_mask8(int cnt) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), idx));
}

TSR_TARGET_AVX2 static AI float hmax8(__m256 v) {
    __m128 x = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_max_ps(x, _mm_movehl_ps(x, x));
    x = _mm_max_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

TSR_TARGET_AVX2 static AI float hsum8(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

TSR_TARGET_AVX2 static void softmax_256(float *s, int lds, int rows, int n, int npad, float *m, float *l,
                                        float *alpha) {
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (int r = 0; r < rows; r++) {
        float *sr = s + (size_t)r * lds;
        __m256 vmax = ninf;
        for (int j = 0; j < npad; j += 8) {
            __m256 x = _mm256_blendv_ps(ninf, _mm256_load_ps(sr + j), tail_mask8(n - j));
            vmax = _mm256_max_ps(x, vmax);
        }
        float mx = hmax8(vmax);
        float mn = m[r] > mx ? m[r] : mx;
        if (mn == -INFINITY) {
            int nan = 0;
            for (int j = 0; j < n; j++) nan |= sr[j] != sr[j];
            if (!nan) {
                alpha[r] = 1.0f;
                for (int j = 0; j < npad; j += 8) _mm256_store_ps(sr + j, _mm256_setzero_ps());
                continue;
            }
            mn = NAN;  /* NaN scores: make the row NaN, not empty */
        }
        alpha[r] = m[r] == -INFINITY ? 0.0f : exp2f(m[r] - mn);
        const __m256 vm = _mm256_set1_ps(mn);
        __m256 sum = _mm256_setzero_ps();
        for (int j = 0; j < npad; j += 8) {
            __m256 x = _mm256_blendv_ps(ninf, _mm256_load_ps(sr + j), tail_mask8(n - j));
            __m256 p = tsr_exp2_256(_mm256_sub_ps(x, vm));
            _mm256_store_ps(sr + j, p);
            sum = _mm256_add_ps(sum, p);
        }
        l[r] = l[r] * alpha[r] + hsum8(sum);
        m[r] = mn;
    }
}

TSR_TARGET_AVX2 static AI void pv_block(float *acc, int ldacc, const float *p, int ldp, const float *v, int ldv,
                                        const float *alpha, int n, const int NR, const int NV) {
    __m256 a[4][3];
    for (int r = 0; r < NR; r++) {
        __m256 al = _mm256_set1_ps(alpha[r]);
        for (int c = 0; c < NV; c++) a[r][c] = _mm256_mul_ps(_mm256_load_ps(acc + (size_t)r * ldacc + 8 * c), al);
    }
    for (int j = 0; j < n; j++) {
        const float *vr = v + (size_t)j * ldv;
        __m256 vv[3];
        for (int c = 0; c < NV; c++) {
            _mm_prefetch((const char *)(vr + (size_t)ATTN_PF_ROWS * ldv + 8 * c), ATTN_PF_HINT);
            vv[c] = _mm256_loadu_ps(vr + 8 * c);  /* v may be the caller's rows */
        }
        for (int r = 0; r < NR; r++) {
            __m256 pb = _mm256_broadcast_ss(p + (size_t)r * ldp + j);
            for (int c = 0; c < NV; c++) a[r][c] = _mm256_fmadd_ps(pb, vv[c], a[r][c]);
        }
    }
    for (int r = 0; r < NR; r++)
        for (int c = 0; c < NV; c++) _mm256_store_ps(acc + (size_t)r * ldacc + 8 * c, a[r][c]);
}

/* One pv_mr x pv_nr block (m <= 4 rows, nc <= 24 columns), shaped like qk. */
TSR_TARGET_AVX2 static void pv_256(float *acc, int ldacc, const float *p, int ldp, const float *v, int ldv,
                                   const float *alpha, int m, int n, int nc) {
    const int nv = nc / 8;
    if (m == 4) {
        switch (nv) {
        case 3: pv_block(acc, ldacc, p, ldp, v, ldv, alpha, n, 4, 3); break;
        case 2: pv_block(acc, ldacc, p, ldp, v, ldv, alpha, n, 4, 2); break;
        default: pv_block(acc, ldacc, p, ldp, v, ldv, alpha, n, 4, 1); break;
        }
        return;
    }
    for (int r = 0; r < m; r++) {
        switch (nv) {
        case 3: pv_block(acc + (size_t)r * ldacc, ldacc, p + (size_t)r * ldp, ldp, v, ldv, alpha + r, n, 1, 3); break;
        case 2: pv_block(acc + (size_t)r * ldacc, ldacc, p + (size_t)r * ldp, ldp, v, ldv, alpha + r, n, 1, 2); break;
        default: pv_block(acc + (size_t)r * ldacc, ldacc, p + (size_t)r * ldp, ldp, v, ldv, alpha + r, n, 1, 1); break;
        }
    }
}

const attn_kernels tsr_attn_kernels_avx2 = {
    .head = {"avx2", TSR_ISA_AVX2, NULL},
    .qk_mr = 4, .qk_nr = 24,
    .pv_mr = 4, .pv_nr = 24,
    .pack_kt = pack_kt_256,
    .pack_rows = pack_rows_256,
    .qk = qk_256,
    .softmax = softmax_256,
    .pv = pv_256,
};
#endif
