/*
 * rp_kernels_avx512.c — rp_kernels.h compiled for AVX-512, plus a hand-written
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
#endif

RP_INSTANTIATE(avx512, TSR_TARGET_AVX512)
#if TSR_X86
const rp_kernels rp_kernels_avx512 = {"avx512", rp_sparse_row_avx512_v, rp_tile_f32_avx512, rp_tile_f64_avx512,
                                      rp_gemm_f32_avx512, rp_gemm_f64_avx512};
#else
const rp_kernels rp_kernels_avx512 = {"avx512", rp_sparse_row_avx512, rp_tile_f32_avx512, rp_tile_f64_avx512,
                                      rp_gemm_f32_avx512, rp_gemm_f64_avx512};
#endif
