/*
 * rp_kernels_avx512.c — AVX-512 override (every slot): rp_kernels.h compiled for AVX-512,
 * a hand-written 16 × 16 transpose for the f32 tile, and a hand-written
 * sparse-row generator: 16 hashes per instruction sequence and a compress-store
 * of the selected column indices (generation of R is D·d hashes).
 */
#include "rp_kernels.h"

#if TSR_X86
#include <immintrin.h>

TSR_TARGET_AVX512 static inline __m512i rp_fmix32_v(__m512i h) {
    h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
    h = _mm512_mullo_epi32(h, _mm512_set1_epi32((int)0x85ebca6bu));
    h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 13));
    h = _mm512_mullo_epi32(h, _mm512_set1_epi32((int)0xc2b2ae35u));
    return _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
}

TSR_TARGET_AVX512 static int32_t rp_sparse_row_avx512_v(uint64_t rk, int32_t d, uint64_t t, int32_t *ks,
                                                         int8_t *sg) {
    const __m512i lo = _mm512_set1_epi32((int)(uint32_t)rk);
    const __m512i hi = _mm512_set1_epi32((int)(uint32_t)(rk >> 32));
    const __m512i gold = _mm512_set1_epi32((int)0x9e3779b9u);
    const __m512i step = _mm512_set1_epi32(16);
    /* 2t may be 2^32 (s = 1): then every entry is nonzero */
    const int all = 2 * t >= 4294967296ULL;
    const __m512i t2 = _mm512_set1_epi32((int)(uint32_t)(all ? 0 : 2 * t));
    const __m512i t1 = _mm512_set1_epi32((int)(uint32_t)t); /* t <= 2^31 */
    __m512i kv = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int32_t c = 0;
    for (int32_t k0 = 0; k0 < d; k0 += 16) {
        __mmask16 valid = d - k0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (d - k0)) - 1);
        __m512i h = rp_fmix32_v(_mm512_xor_si512(lo, _mm512_mullo_epi32(kv, gold)));
        h = rp_fmix32_v(_mm512_add_epi32(h, hi));
        __mmask16 nz = all ? valid : (__mmask16)(_mm512_cmplt_epu32_mask(h, t2) & valid);
        if (nz) {
            _mm512_mask_compressstoreu_epi32(ks + c, nz, kv);
            int cnt = __builtin_popcount(nz);
            if (sg) {
                __mmask16 pos = _mm512_cmplt_epu32_mask(h, t1);
                /* signs of the selected lanes, in lane order */
                uint32_t mm = nz;
                for (int i = 0; mm; i++, mm &= mm - 1) sg[c + i] = (pos >> __builtin_ctz(mm)) & 1 ? 1 : -1;
            }
            c += cnt;
        }
        kv = _mm512_add_epi32(kv, step);
    }
    return c;
}

/* 16 × 16 block transposes (unpack, shuffle, two 128-bit-lane shuffles) for full tiles;
 * the scalar loop for a partial last tile and the last nj % 16 columns. */
TSR_TARGET_AVX512 static inline int rp_transpose_f32_avx512(float *restrict xt, const float *x, int64_t ldx,
                                                             int64_t rows, int64_t jb, int64_t nj) {
    if (rows < RP_TILE) return rp_transpose_generic_f32(xt, x, ldx, rows, jb, nj);
    __mmask16 bad = 0; /* lanes that read NaN or ±inf (fpclass: QNaN 0x01, +inf 0x08, -inf 0x10, SNaN 0x80) */
    int64_t j = 0;
    for (; j + 16 <= nj; j += 16) {
        const float *s = x + jb + j;
        __m512 r[16], t[16], u[16];
        for (int i = 0; i < 16; i++) {
            r[i] = _mm512_loadu_ps(s + i * ldx);
            bad |= _mm512_fpclass_ps_mask(r[i], 0x99);
        }
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
        }
        /* u[4g + c], lane k: rows 4g..4g+3 of column 4k + c */
        for (int g = 0; g < 4; g++) {
            __m512 lo0 = t[4 * g], hi0 = t[4 * g + 1], lo1 = t[4 * g + 2], hi1 = t[4 * g + 3];
            u[4 * g + 0] = _mm512_shuffle_ps(lo0, lo1, _MM_SHUFFLE(1, 0, 1, 0));
            u[4 * g + 1] = _mm512_shuffle_ps(lo0, lo1, _MM_SHUFFLE(3, 2, 3, 2));
            u[4 * g + 2] = _mm512_shuffle_ps(hi0, hi1, _MM_SHUFFLE(1, 0, 1, 0));
            u[4 * g + 3] = _mm512_shuffle_ps(hi0, hi1, _MM_SHUFFLE(3, 2, 3, 2));
        }
        float *o = xt + j * RP_TILE;
        for (int c = 0; c < 4; c++) {
            __m512 v = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), w = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
            __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
            __m512 w2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
            _mm512_storeu_ps(o + (c + 0) * RP_TILE, _mm512_shuffle_f32x4(v, v2, 0x88));
            _mm512_storeu_ps(o + (c + 8) * RP_TILE, _mm512_shuffle_f32x4(v, v2, 0xdd));
            _mm512_storeu_ps(o + (c + 4) * RP_TILE, _mm512_shuffle_f32x4(w, w2, 0x88));
            _mm512_storeu_ps(o + (c + 12) * RP_TILE, _mm512_shuffle_f32x4(w, w2, 0xdd));
        }
    }
    int tail = 0;
    if (j < nj) tail = rp_transpose_generic_f32(xt + j * RP_TILE, x, ldx, RP_TILE, jb + j, nj - j);
    return bad != 0 || tail;
}

TSR_TARGET_AVX512 static int rp_tile_f32_avx512_v(const rp_matrix *m, float scale, int64_t rows, const float *x,
                                                    int64_t ldx, float *y, int64_t ldy, float *xt, float *acc,
                                                    int64_t *cur) {
    return rp_tile_body_f32(m, scale, rows, x, ldx, y, ldy, xt, acc, cur, rp_transpose_f32_avx512);
}

RP_INSTANTIATE(avx512, TSR_TARGET_AVX512)
const rp_kernels rp_kernels_avx512 = {
    .head = {"avx512", TSR_ISA_AVX512, NULL},
    .sparse_row = rp_sparse_row_avx512_v,
    .tile_f32 = rp_tile_f32_avx512_v,
    .tile_f64 = rp_tile_f64_avx512,
    .gemm_f32 = rp_gemm_f32_avx512,
    .gemm_f64 = rp_gemm_f64_avx512,
};
#endif
