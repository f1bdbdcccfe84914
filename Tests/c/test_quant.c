/*
 * Tests of tessera/quant.h: the traits table, GGUF byte layouts against hand-built
 * blocks, quantize/dequantize round trips, qgemm against a float64 reference on the
 * dequantized weights for every format × ISA, cross-ISA / batch / thread-count
 * bitwise invariance, and the bad-input cases.
 */
#include <float.h>
#include <pthread.h>
#include <stdint.h>

#include "tsr_test.h"

static const tsr_quant_format ALL_FORMATS[] = {
    TSR_QUANT_F32, TSR_QUANT_F16, TSR_QUANT_BF16, TSR_QUANT_Q4_0, TSR_QUANT_Q4_1, TSR_QUANT_Q8_0,
    TSR_QUANT_Q6_K, TSR_QUANT_Q4G32_F16, TSR_QUANT_Q4G64_F16, TSR_QUANT_Q4G128_F16, TSR_QUANT_Q4G32_F16Z,
    TSR_QUANT_Q4G64_F16Z, TSR_QUANT_Q4G128_F16Z, TSR_QUANT_Q4G32_F32, TSR_QUANT_Q4G64_F32, TSR_QUANT_Q4G128_F32,
    TSR_QUANT_Q4G32_F32Z, TSR_QUANT_Q4G64_F32Z, TSR_QUANT_Q4G128_F32Z, TSR_QUANT_Q8G32_F16, TSR_QUANT_Q8G64_F16,
    TSR_QUANT_Q8G128_F16, TSR_QUANT_Q8G32_F32, TSR_QUANT_Q8G64_F32, TSR_QUANT_Q8G128_F32,
    TSR_QUANT_Q5_0, TSR_QUANT_Q5_1, TSR_QUANT_Q4_K, TSR_QUANT_Q5_K, TSR_QUANT_Q3_K, TSR_QUANT_Q2_K,
    TSR_QUANT_IQ4_NL,
};
#define NFORMATS ((int)(sizeof ALL_FORMATS / sizeof ALL_FORMATS[0]))

static tsr_quant_traits traits(tsr_quant_format f) {
    tsr_quant_traits t = {.size = sizeof t};
    tsr_quant_traits_get(f, &t);
    return t;
}

static void fill_uniform(float *x, size_t n, unsigned long long seed) {
    unsigned long long s = seed * 2654435761ULL + 1;
    for (size_t i = 0; i < n; i++) x[i] = tsr_test_uniform(&s);
}

static uint8_t *quantize_new(tsr_quant_format f, const float *x, int64_t n, int64_t k, size_t *bytes) {
    size_t rb;
    if (tsr_quant_row_bytes(f, k, &rb) != TSR_OK) return NULL;
    *bytes = rb * (size_t)n;
    uint8_t *q = malloc(*bytes);
    if (tsr_quantize(NULL, f, x, n, k, k, q, *bytes, NULL) != TSR_OK) { free(q); return NULL; }
    return q;
}

/* ---- traits ---------------------------------------------------------------- */

TSR_TEST(traits_table) {
    /* published GGUF block sizes */
    CHECK(traits(TSR_QUANT_Q4_0).block_bytes == 18 && traits(TSR_QUANT_Q4_0).block_elems == 32);
    CHECK(traits(TSR_QUANT_Q4_1).block_bytes == 20);
    CHECK(traits(TSR_QUANT_Q8_0).block_bytes == 34);
    CHECK(traits(TSR_QUANT_Q6_K).block_bytes == 210 && traits(TSR_QUANT_Q6_K).block_elems == 256);
    CHECK_NEAR(traits(TSR_QUANT_Q6_K).bits_per_weight, 6.5625, 1e-12);
    CHECK(traits(TSR_QUANT_F16).block_bytes == 2 && traits(TSR_QUANT_BF16).block_bytes == 2);
    CHECK(traits(TSR_QUANT_Q4G128_F16).block_bytes == 66);
    CHECK_NEAR(traits(TSR_QUANT_Q4G128_F16).bits_per_weight, 4.125, 1e-12);
    CHECK(traits(TSR_QUANT_Q4G32_F32Z).block_bytes == 21);
    CHECK(traits(TSR_QUANT_Q8G64_F32).block_bytes == 68);
    for (int i = 0; i < NFORMATS; i++) {
        tsr_quant_format f = ALL_FORMATS[i], g;
        CHECK_OK(tsr_quant_format_parse(tsr_quant_format_name(f), &g));
        CHECK(g == f);
        tsr_quant_traits t = traits(f);
        if (t.ggml_type >= 0) {
            CHECK_OK(tsr_quant_format_from_ggml(t.ggml_type, &g));
            CHECK(g == f);
        }
    }
    tsr_quant_format g;
    CHECK_OK(tsr_quant_format_from_ggml(2, &g));
    CHECK(g == TSR_QUANT_Q4_0);
    CHECK_OK(tsr_quant_format_from_ggml(14, &g));
    CHECK(g == TSR_QUANT_Q6_K);
    /* ggml's type ids and block sizes (ggml.h / ggml-common.h) of the later formats */
    const struct { int id; tsr_quant_format f; int elems, bytes; } gg[] = {
        {6, TSR_QUANT_Q5_0, 32, 22},    {7, TSR_QUANT_Q5_1, 32, 24},    {10, TSR_QUANT_Q2_K, 256, 84},
        {11, TSR_QUANT_Q3_K, 256, 110}, {12, TSR_QUANT_Q4_K, 256, 144}, {13, TSR_QUANT_Q5_K, 256, 176},
        {20, TSR_QUANT_IQ4_NL, 32, 18},
    };
    for (size_t i = 0; i < sizeof gg / sizeof gg[0]; i++) {
        CHECK_OK(tsr_quant_format_from_ggml(gg[i].id, &g));
        CHECK(g == gg[i].f);
        CHECK(traits(g).block_elems == gg[i].elems && traits(g).block_bytes == gg[i].bytes);
    }
    CHECK_NEAR(traits(TSR_QUANT_Q4_K).bits_per_weight, 4.5, 1e-12);
    CHECK_STATUS(tsr_quant_format_from_ggml(9, &g), TSR_EUNSUPPORTED);  /* Q8_1 */
    CHECK_STATUS(tsr_quant_format_from_ggml(15, &g), TSR_EUNSUPPORTED); /* Q8_K */
    CHECK_STATUS(tsr_quant_format_from_ggml(16, &g), TSR_EUNSUPPORTED); /* IQ2_XXS */
    CHECK_STATUS(tsr_quant_format_from_ggml(-1, &g), TSR_EINVAL);
    CHECK_STATUS(tsr_quant_format_parse("q3_x", &g), TSR_EINVAL);
    tsr_quant_traits t = {.size = sizeof t};
    CHECK_STATUS(tsr_quant_traits_get((tsr_quant_format)99, &t), TSR_EINVAL);
    CHECK_STATUS(tsr_quant_traits_get((tsr_quant_format)-1, &t), TSR_EINVAL);
    t.size = 4;
    CHECK_STATUS(tsr_quant_traits_get(TSR_QUANT_Q4_0, &t), TSR_EINVAL);
    CHECK(strcmp(tsr_quant_format_name((tsr_quant_format)77), "invalid") == 0);
    size_t rb;
    CHECK_OK(tsr_quant_row_bytes(TSR_QUANT_Q4_0, 4096, &rb));
    CHECK(rb == 128 * 18);
    CHECK_STATUS(tsr_quant_row_bytes(TSR_QUANT_Q4_0, 48, &rb), TSR_EINVAL);
    CHECK_STATUS(tsr_quant_row_bytes(TSR_QUANT_Q6_K, 128, &rb), TSR_EINVAL);
    CHECK_STATUS(tsr_quant_row_bytes(TSR_QUANT_Q4_0, 0, &rb), TSR_EINVAL);
    CHECK_STATUS(tsr_quant_row_bytes(TSR_QUANT_Q4_0, -32, &rb), TSR_EINVAL);
}

/* ---- GGUF layouts from hand-built blocks ------------------------------------- */

static void dequant1(tsr_quant_format f, const uint8_t *blk, int64_t k, float *out) {
    tsr_quant_matrix w = {sizeof w, f, 1, k, blk, 0, 4096};
    tsr_quant_row_bytes(f, k, &w.data_bytes);
    CHECK_OK(tsr_dequantize(NULL, &w, out, k));
}

TSR_TEST(gguf_q4_0_layout) {
    uint8_t b[18];
    b[0] = 0x00; b[1] = 0x38;  /* fp16 0.5, little endian */
    for (int i = 0; i < 16; i++) b[2 + i] = (uint8_t)((i & 15) | ((15 - i) << 4));
    float y[32];
    dequant1(TSR_QUANT_Q4_0, b, 32, y);
    for (int i = 0; i < 16; i++) {
        CHECK_NEAR(y[i], 0.5 * (i - 8), 0);          /* low nibble: element i */
        CHECK_NEAR(y[i + 16], 0.5 * (7 - i), 0);     /* high nibble: element i + 16 */
    }
    /* reference quantizer on x_j = j - 16: d = -16 / -8 = 2, q = min(15, trunc(x/2 + 8.5)) */
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16);
    uint8_t q[18];
    CHECK_OK(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, 1, 32, 32, q, sizeof q, NULL));
    CHECK(q[0] == 0x00 && q[1] == 0x40);  /* fp16 2.0 */
    for (int j = 0; j < 16; j++) {
        int lo = (int)((float)(j - 16) / 2.0f + 8.5f), hi = (int)((float)j / 2.0f + 8.5f);
        hi = hi > 15 ? 15 : hi;
        CHECK(q[2 + j] == (uint8_t)(lo | (hi << 4)));
    }
}

TSR_TEST(gguf_q4_1_layout) {
    uint8_t b[20];
    b[0] = 0x00; b[1] = 0x3c;  /* d = 1.0 */
    b[2] = 0x00; b[3] = 0xc0;  /* m = -2.0 */
    for (int i = 0; i < 16; i++) b[4 + i] = (uint8_t)(i | (((i * 7) & 15) << 4));
    float y[32];
    dequant1(TSR_QUANT_Q4_1, b, 32, y);
    for (int i = 0; i < 16; i++) {
        CHECK_NEAR(y[i], i - 2.0, 0);
        CHECK_NEAR(y[i + 16], ((i * 7) & 15) - 2.0, 0);
    }
}

TSR_TEST(gguf_q8_0_layout) {
    uint8_t b[34];
    b[0] = 0x00; b[1] = 0x34;  /* d = 0.25 */
    for (int i = 0; i < 32; i++) b[2 + i] = (uint8_t)(int8_t)(i * 8 - 128);
    float y[32];
    dequant1(TSR_QUANT_Q8_0, b, 32, y);
    for (int i = 0; i < 32; i++) CHECK_NEAR(y[i], 0.25 * (i * 8 - 128), 0);
}

/* ggml's reference quantizers, written out from the published formulas (ALGORITHMS.md §2d) */
TSR_TEST(gguf_reference_quantizers) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16) / 4.0f + (j == 5 ? 0.01f : 0.0f);
    uint8_t q8[34], q41[20];
    CHECK_OK(tsr_quantize(NULL, TSR_QUANT_Q8_0, x, 1, 32, 32, q8, sizeof q8, NULL));
    const float d8 = 4.0f / 127.0f, id8 = 1.0f / d8;  /* amax = |x_0| = 4 */
    CHECK(q8[0] == (tsr_f32_to_f16(d8) & 0xff) && q8[1] == (tsr_f32_to_f16(d8) >> 8));
    for (int j = 0; j < 32; j++) CHECK(q8[2 + j] == (uint8_t)(int8_t)roundf(x[j] * id8));
    CHECK_OK(tsr_quantize(NULL, TSR_QUANT_Q4_1, x, 1, 32, 32, q41, sizeof q41, NULL));
    const float mn = x[0], d41 = (x[31] - x[0]) / 15.0f, id41 = 1.0f / d41;
    CHECK(tsr_f16_to_f32((uint16_t)(q41[0] | q41[1] << 8)) == tsr_f16_to_f32(tsr_f32_to_f16(d41)));
    CHECK(tsr_f16_to_f32((uint16_t)(q41[2] | q41[3] << 8)) == mn);
    for (int j = 0; j < 16; j++) {
        int lo = (int)((x[j] - mn) * id41 + 0.5f), hi = (int)((x[j + 16] - mn) * id41 + 0.5f);
        lo = lo > 15 ? 15 : lo;
        hi = hi > 15 ? 15 : hi;
        CHECK(q41[4 + j] == (uint8_t)(lo | hi << 4));
    }
}

TSR_TEST(gguf_q6_k_layout) {
    uint8_t b[210];
    memset(b, 0, sizeof b);
    /* half 0, l = 0: ql[0] = 0x21 (L0 low 1, L64 low 2); ql[32] = 0x43 (L32 low 3, L96 low 4);
       qh[0] = 0b11100100: hi2 of L0, L32, L64, L96 = 0, 1, 2, 3 */
    b[0] = 0x21; b[32] = 0x43; b[128] = 0xE4;
    /* half 1, l = 5: ql[64+5] = 0xF0, qh[128+32+5] = 0x03 -> L[133] = 0 | 3<<4 = 48, L[197] = 15 */
    b[64 + 5] = 0xF0; b[160 + 5] = 0x03;
    for (int i = 0; i < 16; i++) b[192 + i] = (uint8_t)(int8_t)(i - 8);  /* scales */
    b[208] = 0x00; b[209] = 0x3c;  /* d = 1.0 */
    float y[256];
    dequant1(TSR_QUANT_Q6_K, b, 256, y);
    int L[256];
    for (int j = 0; j < 256; j++) L[j] = 0;
    L[0] = 1; L[32] = 3 + 16; L[64] = 2 + 32; L[96] = 4 + 48; L[133] = 48; L[197] = 15;
    for (int j = 0; j < 256; j++) CHECK_NEAR(y[j], 1.0 * (j / 16 - 8) * (L[j] - 32), 0);
}

TSR_TEST(tessera_group_layouts) {
    /* q4g32_f16z: d fp16 @0, z @2, qs @3, element 2i low nibble, 2i+1 high */
    uint8_t b[19];
    b[0] = 0x00; b[1] = 0x38;  /* 0.5 */
    b[2] = 3;
    for (int i = 0; i < 16; i++) b[3 + i] = (uint8_t)(i | ((15 - i) << 4));
    float y[32];
    dequant1(TSR_QUANT_Q4G32_F16Z, b, 32, y);
    for (int i = 0; i < 16; i++) {
        CHECK_NEAR(y[2 * i], 0.5 * (i - 3), 0);
        CHECK_NEAR(y[2 * i + 1], 0.5 * (15 - i - 3), 0);
    }
    /* q8g32_f32: d f32 @0, int8 @4 */
    uint8_t c[36];
    float d = 0.125f;
    memcpy(c, &d, 4);
    for (int i = 0; i < 32; i++) c[4 + i] = (uint8_t)(int8_t)(3 * i - 50);
    dequant1(TSR_QUANT_Q8G32_F32, c, 32, y);
    for (int i = 0; i < 32; i++) CHECK_NEAR(y[i], 0.125 * (3 * i - 50), 0);
}

/* ---- round trips -------------------------------------------------------------- */

static double roundtrip_bound(tsr_quant_format f) {
    switch (f) {
    case TSR_QUANT_F32: return 0;
    case TSR_QUANT_F16: return 1.0 / 2048;
    case TSR_QUANT_BF16: return 1.0 / 256;
    case TSR_QUANT_Q4_0: return 1.0 / 8 + 1e-3;   /* the +max end clamps to 7·d */
    case TSR_QUANT_Q4_1: return 2.0 / 30 + 4e-3;  /* half a step of range/15, fp16 d and m */
    case TSR_QUANT_Q8_0: return 1.0 / 254 + 1e-3;
    case TSR_QUANT_Q6_K: return 1.0 / 40;
    case TSR_QUANT_Q5_0: return 1.0 / 16 + 1e-3;   /* the +max end clamps to 15·d */
    case TSR_QUANT_Q5_1: return 1.0 / 31 + 4e-3;
    case TSR_QUANT_IQ4_NL: return 0.125;           /* widest gap of the table, 24·d, halved */
    case TSR_QUANT_Q4_K: return 0.09;              /* sub-block step ~2/15 and 6-bit scales */
    case TSR_QUANT_Q5_K: return 0.06;              /* least squares moves the range ends */
    case TSR_QUANT_Q3_K: return 0.3;               /* levels -4..3: the +end clamps at 3·d */
    case TSR_QUANT_Q2_K: return 0.4;               /* 4 levels over a sub-block's range */
    default: {
        tsr_quant_traits t = traits(f);
        if (t.weight_bits == 8) return 1.0 / 254 + 1e-3;
        return t.has_zero_point ? 2.0 / 15 + 1e-3 : 1.0 / 8 + 1e-3;
    }
    }
}

TSR_TEST(quantize_roundtrip) {
    const int64_t n = 7, k = 512;
    float *x = malloc(sizeof(float) * n * k), *y = malloc(sizeof(float) * n * k);
    fill_uniform(x, (size_t)(n * k), 3);
    for (int i = 0; i < NFORMATS; i++) {
        const tsr_quant_format f = ALL_FORMATS[i];
        size_t rb;
        CHECK_OK(tsr_quant_row_bytes(f, k, &rb));
        uint8_t *q = malloc(rb * n);
        tsr_quant_stats st = {.size = sizeof st};
        CHECK_OK(tsr_quantize(NULL, f, x, n, k, k, q, rb * n, &st));
        tsr_quant_matrix w = {sizeof w, f, n, k, q, 0, rb * n};
        CHECK_OK(tsr_dequantize(NULL, &w, y, k));
        double me = 0, se = 0;
        for (int64_t j = 0; j < n * k; j++) {
            double e = fabs((double)x[j] - y[j]);
            me = e > me ? e : me;
            se += e * e;
        }
        const double bound = roundtrip_bound(f);
        CHECK_MSG(me <= bound, "%s: max error %g > %g", tsr_quant_format_name(f), me, bound);
        CHECK_MSG(fabs(st.max_abs_error - me) <= 1e-12, "%s: stats max %g vs %g", tsr_quant_format_name(f), st.max_abs_error, me);
        CHECK_NEAR(st.rms_error, sqrt(se / (double)(n * k)), 1e-9);
        CHECK(st.max_abs_value <= 1.0 && st.max_abs_value > 0.99);
        /* the RMS error is well below the max bound */
        CHECK_MSG(st.rms_error <= 0.5 * bound + 1e-12, "%s: rms %g", tsr_quant_format_name(f), st.rms_error);
        /* the f64 row dot agrees with the dequantized values */
        double dot, ref = 0;
        CHECK_OK(tsr_quant_row_dot_f64(f, q, k, x, &dot));
        for (int64_t j = 0; j < k; j++) ref += (double)y[j] * x[j];
        CHECK_NEAR(dot, ref, 1e-9 * k);
        free(q);
    }
    /* all-zero rows quantize to exact zeros */
    memset(x, 0, sizeof(float) * k);
    for (int i = 0; i < NFORMATS; i++) {
        size_t rb;
        tsr_quant_row_bytes(ALL_FORMATS[i], k, &rb);
        uint8_t *q = malloc(rb);
        CHECK_OK(tsr_quantize(NULL, ALL_FORMATS[i], x, 1, k, k, q, rb, NULL));
        tsr_quant_matrix w = {sizeof w, ALL_FORMATS[i], 1, k, q, 0, rb};
        CHECK_OK(tsr_dequantize(NULL, &w, y, k));
        int nz = 0;
        for (int64_t j = 0; j < k; j++) nz += y[j] != 0.0f;
        CHECK_MSG(nz == 0, "%s: zeros do not round trip", tsr_quant_format_name(ALL_FORMATS[i]));
        free(q);
    }
    free(x);
    free(y);
}

/* ---- extreme values: subnormal blocks, scales that overflow the format ------------- */

/* Rows of zeros and subnormal values: every integer format stores each block with scale
 * ±0 and every quant at the zero code (the bytes of an all-zero row, but for the sign of
 * the scale and of Q4_1's minimum) and dequantizes to exact zeros; the float formats
 * dequantize to finite values. */
TSR_TEST(quantize_subnormal_rows) {
    const int64_t k = 256, n = 5;
    float *x = malloc(sizeof(float) * n * k), *y = malloc(sizeof(float) * n * k), zero[256] = {0};
    for (int64_t j = 0; j < k; j++) {
        x[j] = 1e-40f * (float)(j % 7 + 1);                          /* positive subnormals */
        x[k + j] = (j % 2 ? -1.0f : 1.0f) * 1e-39f * (float)(j % 5); /* mixed signs and zeros */
        x[2 * k + j] = j % 3 ? 0.0f : 1.4e-45f;                        /* the smallest subnormal */
        x[3 * k + j] = (j % 2 ? -1.0f : 1.0f) * (FLT_MIN * 0.999f);    /* just below FLT_MIN */
        x[4 * k + j] = -1e-41f;                                        /* one negative value */
    }
    for (int i = 0; i < NFORMATS; i++) {
        const tsr_quant_format f = ALL_FORMATS[i];
        const tsr_quant_traits t = traits(f);
        const int integer = t.weight_bits <= 8;
        size_t rb;
        CHECK_OK(tsr_quant_row_bytes(f, k, &rb));
        uint8_t *q = malloc(rb * n), *qz = malloc(rb);
        CHECK_OK(tsr_quantize(NULL, f, zero, 1, k, k, qz, rb, NULL));
        tsr_quant_stats st = {.size = sizeof st};
        CHECK_OK(tsr_quantize(NULL, f, x, n, k, k, q, rb * n, &st));
        tsr_quant_matrix w = {sizeof w, f, n, k, q, 0, rb * n};
        CHECK_OK(tsr_dequantize(NULL, &w, y, k));
        int finite = 1, zeros = 1;
        for (int64_t j = 0; j < n * k; j++) {
            finite &= isfinite(y[j]);
            zeros &= y[j] == 0.0f;
        }
        CHECK_MSG(finite && isfinite(st.max_abs_error), "%s: subnormal rows dequantize to non-finite values", t.name);
        if (!integer) { free(q); free(qz); continue; }
        CHECK_MSG(zeros, "%s: subnormal rows do not dequantize to 0", t.name);
        /* high byte of each float field (d, Q4_1's m): its sign bit may differ (scale ±0) */
        const int bb = t.block_bytes;
        const int hi1 = f == TSR_QUANT_Q6_K ? 209 : t.scale_dtype == TSR_DTYPE_F32 ? 3 : 1;
        const int hi2 = f == TSR_QUANT_Q4_1 || f == TSR_QUANT_Q5_1 ? 3 : hi1;
        int64_t bad_row = -1, bad_blk = -1;
        for (int64_t r = 0; r < n && bad_row < 0; r++)
            for (size_t j = 0; j < rb; j++) {
                const int mask = ((int)(j % bb) == hi1 || (int)(j % bb) == hi2) ? 0x7f : 0xff;
                if ((q[(size_t)r * rb + j] & mask) != (qz[j] & mask)) { bad_row = r; bad_blk = (int64_t)j / t.block_bytes; break; }
            }
        CHECK_MSG(bad_row < 0, "%s: row %lld block %lld of subnormal values is not a zero block (scale 0, zero code)",
                  t.name, (long long)bad_row, (long long)bad_blk);
        free(q); free(qz);
    }
    free(x); free(y);
}

/* Values whose scale overflows the format (fp16 largest 65504; f32 for d·max code) are
 * refused with TSR_ERANGE naming the row and the block, and dst is left zeroed; every value
 * that is accepted dequantizes to finite values. */
TSR_TEST(quantize_scale_overflow) {
    const int64_t k = 512, n = 2;
    const float big[] = {1e5f, 1e7f, 1e9f, 3e38f, -3e38f, FLT_MAX, -FLT_MAX};
    const int nbig = (int)(sizeof big / sizeof big[0]);
    float *x = malloc(sizeof(float) * n * k), *y = malloc(sizeof(float) * n * k);
    for (int i = 0; i < NFORMATS; i++) {
        const tsr_quant_format f = ALL_FORMATS[i];
        const tsr_quant_traits t = traits(f);
        const int be = t.block_elems;
        const int64_t col = be > 1 ? be + 3 : 3, blk = col / be;
        size_t rb;
        CHECK_OK(tsr_quant_row_bytes(f, k, &rb));
        uint8_t *q = malloc(rb * n);
        for (int v = 0; v < nbig; v++)
            for (int pattern = 0; pattern < 3; pattern++) {
                fill_uniform(x, (size_t)(n * k), 61);
                float *xr = x + k;
                if (pattern == 0) xr[col] = big[v];                                 /* one spike */
                if (pattern == 1) { xr[col] = big[v]; xr[col + (be > 1)] = -big[v]; } /* +- spikes: the range */
                if (pattern == 2)                                                   /* a constant block */
                    for (int j = 0; j < be; j++) xr[blk * be + j] = big[v];
                const float a = fabsf(big[v]);
                /* must be refused: the fp16 scale or value overflows */
                int must = 0;
                if (f == TSR_QUANT_F16) must = 1;
                if (f == TSR_QUANT_BF16) must = a >= 3.3961e38f;
                /* Q6_K, Q4_K and Q5_K reach 2.7e8, 6.2e7 and 1.3e8 (two levels of scales) */
                const int wide = f == TSR_QUANT_Q6_K || f == TSR_QUANT_Q4_K || f == TSR_QUANT_Q5_K;
                if (be > 1 && t.scale_dtype == TSR_DTYPE_F16) must = a >= 1e9f || (a >= 1e7f && !wide);
                if (be > 1 && (t.has_zero_point || t.has_min) && pattern == 1 && a >= 3e38f) must = 1;
                memset(q, 0xAB, rb * n);
                tsr_last_error_clear();
                tsr_status st = tsr_quantize(NULL, f, x, n, k, k, q, rb * n, NULL);
                if (st == TSR_OK) {
                    CHECK_MSG(!must, "%s: %g (pattern %d) was accepted but overflows the format", t.name,
                              (double)big[v], pattern);
                    tsr_quant_matrix w = {sizeof w, f, n, k, q, 0, rb * n};
                    CHECK_OK(tsr_dequantize(NULL, &w, y, k));
                    int finite = 1;
                    for (int64_t j = 0; j < n * k; j++) finite &= isfinite(y[j]);
                    CHECK_MSG(finite, "%s: %g (pattern %d) quantized with TSR_OK but dequantizes to inf/NaN",
                              t.name, (double)big[v], pattern);
                    continue;
                }
                char where[64];
                snprintf(where, sizeof where, "row 1, block %lld ", (long long)blk);
                CHECK_MSG(st == TSR_ERANGE && strstr(tsr_last_error(), where) != NULL,
                          "%s: %g (pattern %d): %s, \"%s\" (expected TSR_ERANGE naming \"%s\")", t.name,
                          (double)big[v], pattern, tsr_status_string(st), tsr_last_error(), where);
                int zeroed = 1;
                for (size_t j = 0; j < rb * n; j++) zeroed &= q[j] == 0;
                CHECK_MSG(zeroed, "%s: dst is not zeroed after TSR_ERANGE", t.name);
            }
        free(q);
    }
    free(x); free(y);
}

/* ---- qgemm against float64 -------------------------------------------------------- */

/* |y - ref| bound: activation rounding (d_a/2 per element) + f32 accumulation. */
static int check_gemm(tsr_quant_format f, const float *wf, int64_t n, int64_t k, const float *x, int64_t m,
                      int64_t ldx, const float *bias, const float *y, int64_t ldy) {
    tsr_quant_traits t = traits(f);
    const int ab = t.act_block;
    int bad = 0;
    for (int64_t i = 0; i < m && bad < 3; i++) {
        for (int64_t r = 0; r < n && bad < 3; r++) {
            double ref = bias ? bias[r] : 0.0, mag = 0.0, bound = 0.0;
            for (int64_t j = 0; j < k; j++) {
                ref += (double)wf[r * k + j] * x[i * ldx + j];
                mag += fabs((double)wf[r * k + j] * x[i * ldx + j]);
            }
            if (ab > 0) {
                for (int64_t g0 = 0; g0 < k; g0 += ab) {
                    double amax = 0, sw = 0;
                    for (int j = 0; j < ab; j++) {
                        amax = fmax(amax, fabs(x[i * ldx + g0 + j]));
                        sw += fabs(wf[r * k + g0 + j]);
                    }
                    bound += sw * amax / 127.0 * 0.5 * 1.0001;
                }
            }
            bound += 2e-6 * (mag + 1.0) * (1 + k / 256.0);
            const double got = y[i * ldy + r];
            if (!(fabs(got - ref) <= bound)) {
                printf("  %s m=%lld n=%lld k=%lld: y[%lld,%lld] = %.9g, ref %.9g, bound %.3g\n",
                       tsr_quant_format_name(f), (long long)m, (long long)n, (long long)k, (long long)i,
                       (long long)r, got, ref, bound);
                bad++;
            }
        }
    }
    return bad == 0;
}

/* One ISA's pass of qgemm_all_formats_all_isas: every M against the float reference, then
 * the case the ISAs are compared on (M = 37 with bias: an AMX block and VNNI rows) into out. */
typedef struct {
    tsr_quant_format f;
    const tsr_qgemm_plan_t *plan;
    const float *wf, *x, *bias;
    int64_t n, k, ldx, ldy, mmax;
    const int64_t *ms;
    int nm;
    float *y;
} qgemm_pass;

static void qgemm_every_m(void *vc, void *out) {
    qgemm_pass *c = vc;
    const int64_t n = c->n, ldy = c->ldy;
    for (int mi = 0; mi < c->nm; mi++) {
        const int64_t m = c->ms[mi];
        const float *b = (mi & 1) ? c->bias : NULL;
        for (int64_t j = 0; j < c->mmax * ldy; j++) c->y[j] = -777.0f;
        CHECK_OK(tsr_qgemm_execute(NULL, c->plan, m, c->x, c->ldx, b, c->y, ldy, NULL, 0));
        CHECK_MSG(check_gemm(c->f, c->wf, n, c->k, c->x, m, c->ldx, b, c->y, ldy), "%s isa %s m %lld",
                  tsr_quant_format_name(c->f), tsr_isa_name(tsr_isa_active()), (long long)m);
        /* padding columns of y untouched */
        CHECK(c->y[n] == -777.0f && c->y[(m - 1) * ldy + n + 4] == -777.0f);
    }
    CHECK_OK(tsr_qgemm_execute(NULL, c->plan, 37, c->x, c->ldx, c->bias, out, ldy, NULL, 0));
}

TSR_TEST(qgemm_all_formats_all_isas) {
    const int quick = tsr_test_quick();
    const int64_t n = 37;
    const int64_t ms[] = {1, 2, 3, 8, 9, 17, 64, 256};
    const int nm = quick ? 5 : 8;
    for (int fi = 0; fi < NFORMATS; fi++) {
        const tsr_quant_format f = ALL_FORMATS[fi];
        const int64_t k = traits(f).block_elems >= 256 ? 512 : 384;
        const int64_t ldx = k + 3, ldy = n + 5;
        float *wsrc = malloc(sizeof(float) * n * k), *wf = malloc(sizeof(float) * n * k);
        fill_uniform(wsrc, (size_t)(n * k), 11 + fi);
        size_t bytes = 0;
        uint8_t *q = quantize_new(f, wsrc, n, k, &bytes);
        CHECK(q != NULL);
        if (!q) continue;
        tsr_quant_matrix w = {sizeof w, f, n, k, q, 0, bytes};
        CHECK_OK(tsr_dequantize(NULL, &w, wf, k));
        tsr_qgemm_plan_t *plan = NULL;
        CHECK_OK(tsr_qgemm_plan_create(NULL, &w, NULL, &plan));
        {   /* the plan's weights dequantize to the same bits as the source */
            float *wp = malloc(sizeof(float) * n * k);
            CHECK_OK(tsr_qgemm_plan_dequantize(plan, wp, k));
            CHECK_MSG(memcmp(wp, wf, sizeof(float) * n * k) == 0, "%s: plan dequantize differs", tsr_quant_format_name(f));
            CHECK_STATUS(tsr_qgemm_plan_dequantize(plan, wp, k - 1), TSR_EINVAL);
            free(wp);
        }
        const int64_t mmax = 256;
        float *x = malloc(sizeof(float) * mmax * ldx), *bias = malloc(sizeof(float) * n);
        fill_uniform(x, (size_t)(mmax * ldx), 100 + fi);
        fill_uniform(bias, (size_t)n, 7);
        qgemm_pass pass = {f, plan, wf, x, bias, n, k, ldx, ldy, mmax, ms, nm, malloc(sizeof(float) * mmax * ldy)};
        tsr_test_each_isa_same_bits(tsr_quant_format_name(f), sizeof(float) * 37 * ldy, qgemm_every_m, &pass);
        free(pass.y);
        tsr_qgemm_plan_destroy(plan);
        free(x); free(bias); free(q); free(wsrc); free(wf);
    }
}

/* What a plan holds per weight: no more than the file but for the K-quants with minimums'
 * f16 super-block scales per row (+0.125) and Q3_K/Q2_K/IQ4_NL, kept as 8-bit codes. Two scale
 * levels (int8 sub-scales, f16 d per super-block); 5- and 6-bit codes as a nibble plane plus a
 * 1- or 2-bit plane. */
TSR_TEST(qgemm_plan_bits_per_weight) {
    const struct { tsr_quant_format f; double bpw; } want[] = {
        {TSR_QUANT_Q4_0, 4.5},   {TSR_QUANT_Q8_0, 8.5},    {TSR_QUANT_Q4_K, 4.625}, {TSR_QUANT_Q6_K, 6.5625},
        {TSR_QUANT_Q5_K, 5.625}, {TSR_QUANT_Q3_K, 4.5625}, {TSR_QUANT_Q2_K, 5.125}, {TSR_QUANT_Q5_0, 5.5},
        {TSR_QUANT_Q5_1, 6.0},   {TSR_QUANT_IQ4_NL, 4.5},
    };
    const int64_t n = 32, k = 512;
    float *x = malloc(sizeof(float) * n * k);
    fill_uniform(x, (size_t)(n * k), 4);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t bytes = 0;
        uint8_t *q = quantize_new(want[i].f, x, n, k, &bytes);
        tsr_quant_matrix w = {sizeof w, want[i].f, n, k, q, 0, bytes};
        tsr_qgemm_plan_t *plan;
        CHECK_OK(tsr_qgemm_plan_create(NULL, &w, NULL, &plan));
        tsr_qgemm_plan_info info = {.size = sizeof info};
        CHECK_OK(tsr_qgemm_plan_info_get(plan, &info));
        CHECK(info.source_bytes == bytes);
        CHECK_MSG(8.0 * (double)info.packed_bytes / (double)(n * k) == want[i].bpw, "%s: %g bits/weight in the plan",
                  tsr_quant_format_name(want[i].f), 8.0 * (double)info.packed_bytes / (double)(n * k));
        tsr_qgemm_plan_destroy(plan);
        free(q);
    }
    free(x);
}

/* Row i of an M = k call is bit-for-bit the M = 1 result; results do not depend on threads. */
TSR_TEST(qgemm_batch_and_thread_invariance) {
    const tsr_quant_format fmts[] = {TSR_QUANT_Q4_0, TSR_QUANT_Q4_1, TSR_QUANT_Q8_0, TSR_QUANT_Q6_K,
                                     TSR_QUANT_Q4G128_F16, TSR_QUANT_Q4G64_F32Z, TSR_QUANT_Q8G32_F16, TSR_QUANT_F16,
                                     TSR_QUANT_Q4_K, TSR_QUANT_Q5_0, TSR_QUANT_Q5_K, TSR_QUANT_Q2_K,
                                     TSR_QUANT_IQ4_NL};
    const int64_t n = 333, k = 1024, M = tsr_test_quick() ? 37 : 130;
    tsr_pool_t *pools[3] = {NULL, NULL, NULL};
    const int32_t nthreads[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        tsr_pool_params pp;
        tsr_pool_params_default(&pp);
        pp.n_threads = nthreads[i];
        pp.bind = TSR_BIND_NONE;
        CHECK_OK(tsr_pool_create(&pp, &pools[i]));
    }
    float *wsrc = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * M * k);
    float *yb = malloc(sizeof(float) * M * n), *y1 = malloc(sizeof(float) * n), *yt = malloc(sizeof(float) * M * n);
    float *bias = malloc(sizeof(float) * n);
    fill_uniform(wsrc, (size_t)(n * k), 5);
    fill_uniform(x, (size_t)(M * k), 6);
    fill_uniform(bias, (size_t)n, 8);
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        size_t bytes = 0;
        uint8_t *q = quantize_new(fmts[fi], wsrc, n, k, &bytes);
        tsr_quant_matrix w = {sizeof w, fmts[fi], n, k, q, 0, bytes};
        tsr_qgemm_plan_t *plan;
        CHECK_OK(tsr_qgemm_plan_create(NULL, &w, NULL, &plan));
        TSR_FOR_EACH_ISA(isa) {
            CHECK_OK(tsr_qgemm_execute(pools[1], plan, M, x, k, bias, yb, n, NULL, 0));
            int same = 1;
            for (int64_t i = 0; i < M; i++) {
                CHECK_OK(tsr_qgemm_execute(pools[1], plan, 1, x + i * k, k, bias, y1, n, NULL, 0));
                same &= memcmp(y1, yb + i * n, sizeof(float) * n) == 0;
            }
            CHECK_MSG(same, "%s %s: M=%lld rows differ from M=1", tsr_quant_format_name(fmts[fi]),
                      tsr_isa_name(isa), (long long)M);
            /* without bias M = 1 takes the two-panel path on AVX-512 VNNI (21 panels: a pair
             * left over at the end of a worker's run, a partial last panel) */
            CHECK_OK(tsr_qgemm_execute(pools[1], plan, M, x, k, NULL, yt, n, NULL, 0));
            same = 1;
            for (int64_t i = 0; i < M; i++) {
                CHECK_OK(tsr_qgemm_execute(pools[1], plan, 1, x + i * k, k, NULL, y1, n, NULL, 0));
                same &= memcmp(y1, yt + i * n, sizeof(float) * n) == 0;
            }
            CHECK_MSG(same, "%s %s: M=%lld rows differ from M=1 (no bias)", tsr_quant_format_name(fmts[fi]),
                      tsr_isa_name(isa), (long long)M);
            /* a sub-batch in the middle */
            CHECK_OK(tsr_qgemm_execute(pools[1], plan, 5, x + 3 * k, k, bias, yt, n, NULL, 0));
            CHECK(memcmp(yt, yb + 3 * n, sizeof(float) * 5 * n) == 0);
            for (int p = 0; p < 3; p += 2) {
                CHECK_OK(tsr_qgemm_execute(pools[p], plan, M, x, k, bias, yt, n, NULL, 0));
                CHECK_MSG(memcmp(yt, yb, sizeof(float) * M * n) == 0, "%s %s: %d threads differ",
                          tsr_quant_format_name(fmts[fi]), tsr_isa_name(isa), nthreads[p]);
            }
            /* caller workspace gives the same bits */
            size_t wsb;
            CHECK_OK(tsr_qgemm_workspace_size(plan, M, &wsb));
            void *ws = wsb ? malloc(wsb) : NULL;
            CHECK_OK(tsr_qgemm_execute(NULL, plan, M, x, k, bias, yt, n, ws, wsb));
            CHECK(memcmp(yt, yb, sizeof(float) * M * n) == 0);
            free(ws);
        }
        tsr_qgemm_plan_destroy(plan);
        free(q);
    }
    for (int i = 0; i < 3; i++) tsr_pool_destroy(pools[i]);
    free(wsrc); free(x); free(yb); free(y1); free(yt); free(bias);
}

/* K past one slab of the AVX-512 M > 8 kernel (64 KiB of unpacked weights: K = 4096 of a panel):
 * the accumulators cross the slab boundary through y. Rows of an M = 19 call (two 8-row tiles and
 * a 3-row rest) equal M = 1, on every ISA, and every ISA gives the scalar bits. */
TSR_TEST(qgemm_multi_slab_rows) {
    const tsr_quant_format fmts[] = {TSR_QUANT_Q4_0, TSR_QUANT_Q5_0, TSR_QUANT_IQ4_NL, TSR_QUANT_Q4_K,
                                     TSR_QUANT_Q6_K, TSR_QUANT_Q2_K, TSR_QUANT_Q3_K, TSR_QUANT_Q5_K};
    const int64_t n = 40, k = 4352, M = 19;
    float *wsrc = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * M * k);
    float *ys = malloc(sizeof(float) * M * n), *yb = malloc(sizeof(float) * M * n), *y1 = malloc(sizeof(float) * n);
    fill_uniform(wsrc, (size_t)(n * k), 31);
    fill_uniform(x, (size_t)(M * k), 32);
    const size_t nf = tsr_test_quick() ? 3 : sizeof fmts / sizeof fmts[0];
    for (size_t fi = 0; fi < nf; fi++) {
        size_t bytes = 0;
        uint8_t *q = quantize_new(fmts[fi], wsrc, n, k, &bytes);
        tsr_quant_matrix w = {sizeof w, fmts[fi], n, k, q, 0, bytes};
        tsr_qgemm_plan_t *plan;
        CHECK_OK(tsr_qgemm_plan_create(NULL, &w, NULL, &plan));
        TSR_FOR_EACH_ISA(isa) {
            CHECK_OK(tsr_qgemm_execute(NULL, plan, M, x, k, NULL, yb, n, NULL, 0));
            if (isa == TSR_ISA_SCALAR) memcpy(ys, yb, sizeof(float) * M * n);
            CHECK_MSG(memcmp(ys, yb, sizeof(float) * M * n) == 0, "%s %s: differs from scalar",
                      tsr_quant_format_name(fmts[fi]), tsr_isa_name(isa));
            int same = 1;
            for (int64_t i = 0; i < M; i++) {
                CHECK_OK(tsr_qgemm_execute(NULL, plan, 1, x + i * k, k, NULL, y1, n, NULL, 0));
                same &= memcmp(y1, yb + i * n, sizeof(float) * n) == 0;
            }
            CHECK_MSG(same, "%s %s: M=%lld rows differ from M=1", tsr_quant_format_name(fmts[fi]), tsr_isa_name(isa),
                      (long long)M);
        }
        tsr_qgemm_plan_destroy(plan);
        free(q);
    }
    free(wsrc); free(x); free(ys); free(yb); free(y1);
}

/* GGUF rows read in place: unaligned start, padded row stride. */
TSR_TEST(qgemm_unaligned_strided_source) {
    const tsr_quant_format fmts[] = {TSR_QUANT_Q4_0, TSR_QUANT_Q4_1, TSR_QUANT_Q8_0, TSR_QUANT_Q6_K, TSR_QUANT_BF16,
                                     TSR_QUANT_Q4_K, TSR_QUANT_Q5_0, TSR_QUANT_Q3_K};
    const int64_t n = 19, k = 256, m = 3;
    float *wsrc = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * m * k);
    float *y0 = malloc(sizeof(float) * m * n), *y1 = malloc(sizeof(float) * m * n);
    fill_uniform(wsrc, (size_t)(n * k), 21);
    fill_uniform(x, (size_t)(m * k), 22);
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        size_t bytes = 0, rb;
        uint8_t *q = quantize_new(fmts[fi], wsrc, n, k, &bytes);
        rb = bytes / n;
        const size_t stride = rb + 7;
        uint8_t *buf = malloc(stride * n + 1);
        for (int64_t r = 0; r < n; r++) memcpy(buf + 1 + r * stride, q + r * rb, rb);
        tsr_quant_matrix a = {sizeof a, fmts[fi], n, k, q, 0, bytes};
        tsr_quant_matrix b = {sizeof b, fmts[fi], n, k, buf + 1, stride, stride * (n - 1) + rb};
        CHECK_OK(tsr_qgemm(NULL, &a, m, x, k, NULL, y0, n));
        CHECK_OK(tsr_qgemm(NULL, &b, m, x, k, NULL, y1, n));
        CHECK(memcmp(y0, y1, sizeof(float) * m * n) == 0);
        b.data_bytes -= 1;  /* one byte short */
        CHECK_STATUS(tsr_qgemm(NULL, &b, m, x, k, NULL, y1, n), TSR_EINVAL);
        free(buf);
        free(q);
    }
    free(wsrc); free(x); free(y0); free(y1);
}

TSR_TEST(qgemm_nonfinite_activations) {
    const int64_t n = 20, k = 64, m = 3;
    float w[20 * 64], x[3 * 64], y[3 * 20];
    fill_uniform(w, sizeof w / sizeof w[0], 31);
    fill_uniform(x, sizeof x / sizeof x[0], 32);
    x[64 + 5] = NAN;
    size_t bytes = 0;
    uint8_t *q = quantize_new(TSR_QUANT_Q4_0, w, n, k, &bytes);
    tsr_quant_matrix qm = {sizeof qm, TSR_QUANT_Q4_0, n, k, q, 0, bytes};
    TSR_FOR_EACH_ISA(isa) {
        x[64 + 5] = isa == TSR_ISA_AVX2 ? INFINITY : NAN;
        CHECK_OK(tsr_qgemm(NULL, &qm, m, x, k, NULL, y, n));
        int ok = 1;
        for (int r = 0; r < n; r++) ok &= isfinite(y[r]) && isnan(y[n + r]) && isfinite(y[2 * n + r]);
        CHECK_MSG(ok, "isa %s: a non-finite activation must give NaN in its row only", tsr_isa_name(isa));
    }
    free(q);
}

/* The K-quants' arithmetic contract (docs/quant.md): activations quantized once per 256-element
 * super-block (d_a = max|x|/127, round half to even), then per super-block an exact integer sum
 * times d_a and the weight scales. Checked on every ISA against an independent float64 evaluation
 * of that contract on the dequantized weights, to float rounding only (a bound ~100× tighter than
 * the activation rounding the other tests allow, so per-group activation scales would fail it);
 * a NaN or Inf in one super-block gives NaN in that row only. */
TSR_TEST(qgemm_kquant_superblock_contract) {
    enum { N = 20, K = 768, M = 3 };
    const tsr_quant_format fmts[] = {TSR_QUANT_Q4_K, TSR_QUANT_Q5_K, TSR_QUANT_Q6_K, TSR_QUANT_Q3_K, TSR_QUANT_Q2_K};
    float *w = malloc(sizeof(float) * N * K), *wd = malloc(sizeof(float) * N * K), x[M * K], y[M * N];
    double ref[M * N], mag[M * N];
    fill_uniform(w, (size_t)N * K, 41);
    fill_uniform(x, (size_t)M * K, 42);
    for (int j = 0; j < K; j++) x[j] *= j < 256 ? 1.0f : j < 512 ? 1e-3f : 40.0f; /* super-blocks of unlike scale */
    for (int fi = 0; fi < 5; fi++) {
        const tsr_quant_format f = fmts[fi];
        CHECK(traits(f).act_block == 256);
        size_t bytes = 0;
        uint8_t *q = quantize_new(f, w, N, K, &bytes);
        CHECK(q != NULL);
        if (!q) continue;
        tsr_quant_matrix qm = {sizeof qm, f, N, K, q, 0, bytes};
        CHECK_OK(tsr_dequantize(NULL, &qm, wd, K));
        for (int i = 0; i < M; i++)
            for (int r = 0; r < N; r++) {
                ref[i * N + r] = mag[i * N + r] = 0.0;
                for (int b = 0; b < K / 256; b++) {
                    const float *xb = x + i * K + 256 * b;
                    float amax = 0.0f;
                    for (int j = 0; j < 256; j++) amax = fmaxf(amax, fabsf(xb[j]));
                    const float da = amax / 127.0f, id = 1.0f / da;
                    double dot = 0.0, adot = 0.0;
                    for (int j = 0; j < 256; j++) {
                        const double qa = fmin(127.0, fmax(-128.0, (double)nearbyintf(xb[j] * id)));
                        dot += (double)wd[r * K + 256 * b + j] * qa;
                        adot += fabs((double)wd[r * K + 256 * b + j] * qa);
                    }
                    ref[i * N + r] += (double)da * dot;
                    mag[i * N + r] += (double)da * adot;
                }
            }
        tsr_qgemm_plan_t *plan = NULL;
        CHECK_OK(tsr_qgemm_plan_create(NULL, &qm, NULL, &plan));
        tsr_qgemm_plan_info info = {.size = sizeof info};
        CHECK_OK(tsr_qgemm_plan_info_get(plan, &info));
        CHECK(info.act_block == 256);
        TSR_FOR_EACH_ISA(isa) {
            CHECK_OK(tsr_qgemm_execute(NULL, plan, M, x, K, NULL, y, N, NULL, 0));
            int bad = 0;
            for (int e = 0; e < M * N && bad < 3; e++) {
                const double err = fabs((double)y[e] - ref[e]), bound = 2e-6 * mag[e] + 1e-30;
                if (!(err <= bound)) {
                    printf("  %s isa %s: y[%d] = %.9g, contract %.9g, |err| %.3g > %.3g\n", tsr_quant_format_name(f),
                           tsr_isa_name(isa), e, (double)y[e], ref[e], err, bound);
                    bad++;
                }
            }
            CHECK_MSG(bad == 0, "%s isa %s: not the super-block contract", tsr_quant_format_name(f), tsr_isa_name(isa));
            float xs[M * K];
            memcpy(xs, x, sizeof xs);
            xs[K + 300] = isa == TSR_ISA_AVX2 ? -INFINITY : NAN;  /* row 1, super-block 1 */
            CHECK_OK(tsr_qgemm_execute(NULL, plan, M, xs, K, NULL, y, N, NULL, 0));
            int ok = 1;
            for (int r = 0; r < N; r++) ok &= isfinite(y[r]) && isnan(y[N + r]) && isfinite(y[2 * N + r]);
            CHECK_MSG(ok, "%s isa %s: a non-finite activation must give NaN in its row only", tsr_quant_format_name(f),
                      tsr_isa_name(isa));
        }
        tsr_qgemm_plan_destroy(plan);
        free(q);
    }
    free(w);
    free(wd);
}

/* Activation groups whose int8 scale cannot be inverted (values near or below FLT_MIN)
 * count as zero, on every ISA: such rows give Y = 0 exactly, other rows are untouched. */
TSR_TEST(qgemm_subnormal_activations) {
    const int64_t n = 20, k = 64, m = 3;
    float w[20 * 64], x[3 * 64], y[3 * 20], y0[20];
    fill_uniform(w, sizeof w / sizeof w[0], 33);
    fill_uniform(x, sizeof x / sizeof x[0], 34);
    for (int j = 0; j < k; j++) {
        x[64 + j] = 1e-40f * (float)(j % 5 + 1);
        x[128 + j] = (j % 2 ? -1.0f : 1.0f) * FLT_MIN * (float)(j % 3);
    }
    const tsr_quant_format fmts[] = {TSR_QUANT_Q4_0, TSR_QUANT_Q4_1, TSR_QUANT_Q8G32_F32};
    for (int fi = 0; fi < 3; fi++) {
        size_t bytes = 0;
        uint8_t *q = quantize_new(fmts[fi], w, n, k, &bytes);
        CHECK(q != NULL);
        if (!q) continue;
        tsr_quant_matrix qm = {sizeof qm, fmts[fi], n, k, q, 0, bytes};
        TSR_FOR_EACH_ISA(isa) {
            CHECK_OK(tsr_qgemm(NULL, &qm, m, x, k, NULL, y, n));
            CHECK_OK(tsr_qgemm(NULL, &qm, 1, x, k, NULL, y0, n));
            int ok = memcmp(y, y0, sizeof y0) == 0;
            for (int r = 0; r < n; r++) ok &= isfinite(y[r]) && y[n + r] == 0.0f && y[2 * n + r] == 0.0f;
            CHECK_MSG(ok, "%s isa %s: rows of subnormal activations must give exact zeros (got %g, %g)",
                      tsr_quant_format_name(fmts[fi]), tsr_isa_name(isa), (double)y[n], (double)y[2 * n + 1]);
        }
        free(q);
    }
}

/* Activation blocks of 32 (the single-level GGUF formats) of every kind at many positions of rows
 * 34 blocks long — zeros, subnormals (d = 0), values whose 1/d overflows, ties x·(1/d) = n + 0.5,
 * ±FLT_MAX, NaN and ±Inf (the block's row turns NaN) — give on every ISA the bits of the scalar
 * reference, at M = 16 (the in-register tiles and per-worker activation copies), 9 and 1. */
TSR_TEST(qgemm_act_block_runs) {
    const int64_t n = 40, k = 1024 + 64, m = 16;
    float *w = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * m * k);
    float *ref = malloc(sizeof(float) * m * n), *y = malloc(sizeof(float) * m * n);
    fill_uniform(w, (size_t)(n * k), 41);
    fill_uniform(x, (size_t)(m * k), 42);
    for (int64_t r = 0; r < m; r++) {
        float *xr = x + r * k;
        const int64_t kind = r % 8, b = (r * 5) % (k / 32); /* block 0…33: in a run or in the rest */
        float *xb = xr + b * 32;
        for (int j = 0; j < 32; j++) {
            switch (kind) {
            case 0: xb[j] = 0.0f; break;
            case 1: xb[j] = 1e-40f * (float)(j % 7 - 3); break;
            case 2: xb[j] = FLT_MIN * (float)(j % 5) * 0.25f; break;
            case 3: xb[j] = (float)(j % 2 ? -127 : 127) * (float)(j - 16) / 16.0f + (j % 3 ? 0.5f : 0.0f); break;
            case 4: xb[j] = j == 3 ? FLT_MAX : -FLT_MAX * (float)(j % 4) / 4.0f; break;
            case 5: xb[j] = j == 17 ? NAN : xb[j]; break;
            case 6: xb[j] = j == 31 ? INFINITY : xb[j]; break;
            default: xb[j] = j == 0 ? -INFINITY : xb[j] * 1e30f; break;
            }
        }
        if (kind == 3) xr[(b + 16) % (k / 32) * 32] = 127.0f * 3.0f;  /* a scale that makes the ties exact */
    }
    const tsr_quant_format fmts[] = {TSR_QUANT_Q4_0, TSR_QUANT_Q4_1, TSR_QUANT_Q8_0, TSR_QUANT_Q5_0, TSR_QUANT_Q5_1,
                                     TSR_QUANT_IQ4_NL, TSR_QUANT_Q4G32_F16};
    const int64_t ms[] = {16, 9, 1};
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        size_t bytes = 0;
        uint8_t *q = quantize_new(fmts[fi], w, n, k, &bytes);
        CHECK(q != NULL);
        if (!q) continue;
        tsr_quant_matrix qm = {sizeof qm, fmts[fi], n, k, q, 0, bytes};
        tsr_qgemm_plan_t *plan;
        CHECK_OK(tsr_qgemm_plan_create(NULL, &qm, NULL, &plan));
        for (size_t mi = 0; mi < 3; mi++) {
            TSR_FOR_EACH_ISA(isa) {
                float *out = isa == TSR_ISA_SCALAR ? ref : y;
                for (int64_t r0 = 0; r0 < m; r0 += ms[mi]) {
                    const int64_t mm = m - r0 < ms[mi] ? m - r0 : ms[mi];
                    CHECK_OK(tsr_qgemm_execute(NULL, plan, mm, x + r0 * k, k, NULL, out + r0 * n, n, NULL, 0));
                }
                if (isa == TSR_ISA_SCALAR) continue;
                int ok = 1;
                for (int64_t i = 0; i < m * n; i++)
                    ok &= isnan(ref[i]) ? isnan(y[i]) : memcmp(&ref[i], &y[i], sizeof(float)) == 0;
                CHECK_MSG(ok, "%s isa %s M=%lld: differs from the scalar reference", tsr_quant_format_name(fmts[fi]),
                          tsr_isa_name(isa), (long long)ms[mi]);
            }
            int rows_ok = 1;  /* NaN in the rows holding a NaN or Inf; finite in the others (the ±FLT_MAX
                               * rows may overflow in the products: not checked) */
            for (int64_t r = 0; r < m; r++)
                for (int64_t c = 0; c < n; c++)
                    rows_ok &= r % 8 == 4 || (r % 8 >= 5 ? isnan(ref[r * n + c]) : isfinite(ref[r * n + c]));
            CHECK_MSG(rows_ok, "%s: a non-finite activation must give NaN in its row only", tsr_quant_format_name(fmts[fi]));
        }
        tsr_qgemm_plan_destroy(plan);
        free(q);
    }
    free(w); free(x); free(ref); free(y);
}

/* Concurrent execute on one plan: each thread its own workspace (and one with NULL). */
typedef struct {
    const tsr_qgemm_plan_t *plan;
    const float *x;
    float *y;
    int64_t m, k, n;
    int use_ws;
    tsr_status st;
} conc_arg;

static void *conc_run(void *p) {
    conc_arg *a = p;
    size_t wsb = 0;
    tsr_qgemm_workspace_size(a->plan, a->m, &wsb);
    void *ws = a->use_ws ? malloc(wsb) : NULL;
    a->st = TSR_OK;
    for (int it = 0; it < 20 && a->st == TSR_OK; it++)
        a->st = tsr_qgemm_execute(NULL, a->plan, a->m, a->x, a->k, NULL, a->y, a->n, ws, a->use_ws ? wsb : 0);
    free(ws);
    return NULL;
}

TSR_TEST(qgemm_concurrent_execute) {
    const int64_t n = 100, k = 256, m = 20;
    float *w = malloc(sizeof(float) * n * k), *x = malloc(sizeof(float) * m * k), *ref = malloc(sizeof(float) * m * n);
    fill_uniform(w, (size_t)(n * k), 51);
    fill_uniform(x, (size_t)(m * k), 52);
    size_t bytes = 0;
    uint8_t *q = quantize_new(TSR_QUANT_Q4_1, w, n, k, &bytes);
    tsr_quant_matrix qm = {sizeof qm, TSR_QUANT_Q4_1, n, k, q, 0, bytes};
    tsr_qgemm_plan_t *plan;
    CHECK_OK(tsr_qgemm_plan_create(NULL, &qm, NULL, &plan));
    CHECK_OK(tsr_qgemm_execute(NULL, plan, m, x, k, NULL, ref, n, NULL, 0));
    pthread_t th[4];
    conc_arg args[4];
    float *ys[4];
    for (int i = 0; i < 4; i++) {
        ys[i] = malloc(sizeof(float) * m * n);
        args[i] = (conc_arg){plan, x, ys[i], m, k, n, i != 3, TSR_EINTERNAL};
        pthread_create(&th[i], NULL, conc_run, &args[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(args[i].st == TSR_OK);
        CHECK(memcmp(ys[i], ref, sizeof(float) * m * n) == 0);
        free(ys[i]);
    }
    tsr_qgemm_plan_destroy(plan);
    free(q); free(w); free(x); free(ref);
}

/* ---- bad input ------------------------------------------------------------------- */

TSR_TEST(bad_input) {
    float x[64 * 2], y[64];
    fill_uniform(x, 128, 41);
    uint8_t q[2 * 36];
    memset(q, 0xAB, sizeof q);
    tsr_quant_stats st = {.size = sizeof st};
    /* quantize */
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, 2, 48, 64, q, sizeof q, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, 0, 64, 64, q, sizeof q, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, -1, 64, 64, q, sizeof q, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, 2, 64, 32, q, sizeof q, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, 2, 64, 64, q, 71, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_quantize(NULL, (tsr_quant_format)1234, x, 2, 64, 64, q, sizeof q, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q4_0, NULL, 2, 64, 64, q, sizeof q, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, 2, 64, 64, NULL, sizeof q, NULL), TSR_EINVAL);
    st.size = 3;
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, 2, 64, 64, q, sizeof q, &st), TSR_EINVAL);
    x[64 + 17] = NAN;
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, 2, 64, 64, q, sizeof q, NULL), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "row 1") && strstr(tsr_last_error(), "column 17"));
    x[64 + 17] = -INFINITY;
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q8_0, x, 2, 64, 64, q, sizeof q, NULL), TSR_EINVAL);
    int untouched = 1;
    for (size_t i = 0; i < sizeof q; i++) untouched &= q[i] == 0xAB;
    CHECK_MSG(untouched, "nothing may be written on error");
    x[64 + 17] = 0.5f;
    /* descriptors */
    CHECK_OK(tsr_quantize(NULL, TSR_QUANT_Q4_0, x, 2, 64, 64, q, sizeof q, NULL));
    tsr_quant_matrix w = {sizeof w, TSR_QUANT_Q4_0, 2, 64, q, 0, 72};
    CHECK_OK(tsr_quant_matrix_check(&w));
    tsr_quant_matrix b = w;
    b.k = 48;  CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_EINVAL);
    b = w; b.n = 0;  CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_EINVAL);
    b = w; b.n = -3; CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_EINVAL);
    b = w; b.k = -32; CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_EINVAL);
    b = w; b.data_bytes = 71; CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_EINVAL);
    b = w; b.row_stride = 30; CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_EINVAL);
    b = w; b.format = (tsr_quant_format)99; CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_EINVAL);
    b = w; b.data = NULL; CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_EINVAL);
    b = w; b.size = 8; CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_EINVAL);
    b = w; b.n = INT64_MAX / 2; b.row_stride = SIZE_MAX / 4; CHECK_STATUS(tsr_quant_matrix_check(&b), TSR_ERANGE);
    CHECK_STATUS(tsr_quant_matrix_check(NULL), TSR_EINVAL);
    tsr_qgemm_plan_t *plan = (tsr_qgemm_plan_t *)0x1;
    b = w; b.data_bytes = 10;
    CHECK_STATUS(tsr_qgemm_plan_create(NULL, &b, NULL, &plan), TSR_EINVAL);
    CHECK(plan == NULL);
    CHECK_STATUS(tsr_dequantize(NULL, &b, y, 64), TSR_EINVAL);
    CHECK_STATUS(tsr_dequantize(NULL, &w, y, 63), TSR_EINVAL);
    tsr_qgemm_params pp;
    tsr_qgemm_params_default(&pp);
    pp.flags = 5;
    CHECK_STATUS(tsr_qgemm_plan_create(NULL, &w, &pp, &plan), TSR_EINVAL);
    CHECK_STATUS(tsr_qgemm_plan_create(NULL, &w, NULL, NULL), TSR_EINVAL);
    /* execute */
    CHECK_OK(tsr_qgemm_plan_create(NULL, &w, NULL, &plan));
    float yy[4 * 2];
    CHECK_STATUS(tsr_qgemm_execute(NULL, plan, 0, x, 64, NULL, yy, 2, NULL, 0), TSR_EINVAL);
    CHECK_STATUS(tsr_qgemm_execute(NULL, plan, -1, x, 64, NULL, yy, 2, NULL, 0), TSR_EINVAL);
    CHECK_STATUS(tsr_qgemm_execute(NULL, plan, 1, x, 63, NULL, yy, 2, NULL, 0), TSR_EINVAL);
    CHECK_STATUS(tsr_qgemm_execute(NULL, plan, 1, x, 64, NULL, yy, 1, NULL, 0), TSR_EINVAL);
    CHECK_STATUS(tsr_qgemm_execute(NULL, plan, 1, NULL, 64, NULL, yy, 2, NULL, 0), TSR_EINVAL);
    CHECK_STATUS(tsr_qgemm_execute(NULL, plan, 1, x, 64, NULL, NULL, 2, NULL, 0), TSR_EINVAL);
    CHECK_STATUS(tsr_qgemm_execute(NULL, NULL, 1, x, 64, NULL, yy, 2, NULL, 0), TSR_EINVAL);
    CHECK_STATUS(tsr_qgemm_execute(NULL, plan, INT64_MAX / 2, x, 64, NULL, yy, 2, NULL, 0), TSR_ERANGE);
    char small[16];
    CHECK_STATUS(tsr_qgemm_execute(NULL, plan, 1, x, 64, NULL, yy, 2, small, sizeof small), TSR_EINVAL);
    size_t wsb;
    CHECK_STATUS(tsr_qgemm_workspace_size(plan, 0, &wsb), TSR_EINVAL);
    tsr_qgemm_plan_info info = {.size = sizeof info};
    CHECK_OK(tsr_qgemm_plan_info_get(plan, &info));
    CHECK(info.n == 2 && info.k == 64 && info.panel_rows == 16 && info.act_block == 32 && info.source_bytes == 72);
    CHECK(info.kernel[0] != '\0');
    info.size = 1;
    CHECK_STATUS(tsr_qgemm_plan_info_get(plan, &info), TSR_EINVAL);
    tsr_qgemm_plan_destroy(plan);
    tsr_qgemm_plan_destroy(NULL);
    CHECK_STATUS(tsr_qgemm(NULL, &w, 0, x, 64, NULL, yy, 2), TSR_EINVAL);
    double dot;
    CHECK_STATUS(tsr_quant_row_dot_f64(TSR_QUANT_Q4_0, q, 40, x, &dot), TSR_EINVAL);
}

int main(void) {
    RUN(traits_table);
    RUN(gguf_q4_0_layout);
    RUN(gguf_q4_1_layout);
    RUN(gguf_q8_0_layout);
    RUN(gguf_reference_quantizers);
    RUN(gguf_q6_k_layout);
    RUN(tessera_group_layouts);
    RUN(quantize_roundtrip);
    RUN(quantize_subnormal_rows);
    RUN(quantize_scale_overflow);
    RUN(qgemm_all_formats_all_isas);
    RUN(qgemm_plan_bits_per_weight);
    RUN(qgemm_batch_and_thread_invariance);
    RUN(qgemm_multi_slab_rows);
    RUN(qgemm_unaligned_strided_source);
    RUN(qgemm_nonfinite_activations);
    RUN(qgemm_kquant_superblock_contract);
    RUN(qgemm_subnormal_activations);
    RUN(qgemm_act_block_runs);
    RUN(qgemm_concurrent_execute);
    RUN(bad_input);
    return tsr_test_summary();
}
