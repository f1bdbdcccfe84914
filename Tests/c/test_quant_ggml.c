/*
 * The later ggml formats against blocks built by hand from the published layouts (the
 * Python oracle test compares every format with the gguf package; these run without it),
 * and non-finite scales read from a file: dequantization and qgemm give the IEEE results
 * for the affected rows only.
 */
#include <float.h>

#include "tsr_test.h"

static void dequant(tsr_quant_format f, const uint8_t *b, int64_t k, float *y) {
    size_t rb = 0;
    CHECK_OK(tsr_quant_row_bytes(f, k, &rb));
    tsr_quant_matrix w = {sizeof w, f, 1, k, b, 0, rb};
    CHECK_OK(tsr_dequantize(NULL, &w, y, k));
}

/* Q5_0: d = 0.5; element j: nibble j % 16 (low nibbles for j < 16), 5th bit = bit j of qh. */
TSR_TEST(q5_0_layout) {
    uint8_t b[22] = {0x00, 0x38};  /* 0.5 */
    const uint32_t qh = 0xA5C3F00Fu;
    memcpy(b + 2, &qh, 4);
    for (int i = 0; i < 16; i++) b[6 + i] = (uint8_t)(i | ((15 - i) << 4));
    float y[32];
    dequant(TSR_QUANT_Q5_0, b, 32, y);
    for (int j = 0; j < 32; j++) {
        const int nib = j < 16 ? j : 15 - (j - 16), q = nib | (int)((qh >> j) & 1) << 4;
        CHECK_NEAR(y[j], 0.5 * (q - 16), 0);
    }
}

/* Q4_K: 6-bit scales and minimums packed in scales[12]; x = d·sc_j·q − dmin·m_j. */
TSR_TEST(q4_k_layout) {
    uint8_t b[144] = {0};
    const uint16_t d = 0x3C00, dmin = 0x3800;  /* 1.0, 0.5 */
    memcpy(b, &d, 2);
    memcpy(b + 2, &dmin, 2);
    int sc[8], m[8];
    for (int j = 0; j < 8; j++) { sc[j] = 7 * j + 13; m[j] = 63 - 5 * j; }  /* values above 15 use the high bits */
    uint8_t *s = b + 4;
    for (int j = 0; j < 4; j++) { s[j] = (uint8_t)sc[j]; s[j + 4] = (uint8_t)m[j]; }
    for (int j = 4; j < 8; j++) {
        s[j + 4] = (uint8_t)((sc[j] & 15) | ((m[j] & 15) << 4));
        s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
        s[j] |= (uint8_t)((m[j] >> 4) << 6);
    }
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) b[16 + 32 * c + l] = (uint8_t)(((l + c) & 15) | (((l * 3 + c) & 15) << 4));
    float y[256];
    dequant(TSR_QUANT_Q4_K, b, 256, y);
    for (int e = 0; e < 256; e++) {
        const int c = e / 64, l = e % 32, hi = (e % 64) >= 32, j = e / 32;
        const int q = hi ? ((l * 3 + c) & 15) : ((l + c) & 15);
        CHECK_NEAR(y[e], 1.0 * sc[j] * q - 0.5 * m[j], 0);
    }
}

/* Q3_K: element e = 128h + 32i + 16t + l takes bits 2i of qs[32h + 16t + l], minus 4 unless
 * bit 4h + i of hmask[16t + l] is set; scale j = 8h + 2i + t, 6 bits minus 32. */
TSR_TEST(q3_k_layout) {
    uint8_t b[110] = {0};
    for (int l = 0; l < 32; l++) b[l] = (uint8_t)(0x5A ^ (l * 37));
    for (int l = 0; l < 64; l++) b[32 + l] = (uint8_t)(l * 29 + 7);
    int sc[16];
    for (int j = 0; j < 16; j++) sc[j] = (j * 11 + 5) & 63;
    uint8_t *s = b + 96;
    for (int j = 0; j < 16; j++) {
        if (j < 8) s[j] |= (uint8_t)(sc[j] & 15);
        else s[j - 8] |= (uint8_t)((sc[j] & 15) << 4);
        s[8 + j % 4] |= (uint8_t)((sc[j] >> 4) << (2 * (j / 4)));
    }
    const uint16_t d = 0x3400;  /* 0.25 */
    memcpy(b + 108, &d, 2);
    float y[256];
    dequant(TSR_QUANT_Q3_K, b, 256, y);
    for (int e = 0; e < 256; e++) {
        const int h = e / 128, i = (e % 128) / 32, t = (e % 32) / 16, l = e % 16;
        const int q = ((b[32 + 32 * h + 16 * t + l] >> (2 * i)) & 3) - ((b[16 * t + l] >> (4 * h + i)) & 1 ? 0 : 4);
        CHECK_NEAR(y[e], 0.25 * (sc[8 * h + 2 * i + t] - 32) * q, 0);
    }
}

/* IQ4_NL: x = d·T[nibble]. */
TSR_TEST(iq4_nl_layout) {
    static const int T[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    uint8_t b[18] = {0x00, 0x40};  /* 2.0 */
    for (int i = 0; i < 16; i++) b[2 + i] = (uint8_t)(i | ((i * 7 & 15) << 4));
    float y[32];
    dequant(TSR_QUANT_IQ4_NL, b, 32, y);
    for (int i = 0; i < 16; i++) {
        CHECK_NEAR(y[i], 2.0 * T[i], 0);
        CHECK_NEAR(y[i + 16], 2.0 * T[i * 7 & 15], 0);
    }
}

/* A file whose block scale is inf or NaN: the row dequantizes to non-finite values, qgemm
 * gives non-finite outputs for that row only, and every other row is untouched. */
TSR_TEST(nonfinite_file_scales) {
    const tsr_quant_format fmts[] = {TSR_QUANT_Q4_K, TSR_QUANT_Q6_K, TSR_QUANT_Q5_0, TSR_QUANT_Q2_K, TSR_QUANT_IQ4_NL};
    const int scale_off[] = {0, 208, 0, 80, 0};
    const int64_t n = 20, k = 512;
    float *x = malloc(sizeof(float) * n * k), *wf = malloc(sizeof(float) * n * k), y[20], y2[20];
    unsigned long long seed = 9;
    for (int64_t i = 0; i < n * k; i++) x[i] = tsr_test_uniform(&seed);
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        size_t rb;
        CHECK_OK(tsr_quant_row_bytes(fmts[fi], k, &rb));
        uint8_t *q = malloc(rb * n);
        CHECK_OK(tsr_quantize(NULL, fmts[fi], x, n, k, k, q, rb * n, NULL));
        tsr_quant_matrix w = {sizeof w, fmts[fi], n, k, q, 0, rb * n};
        tsr_qgemm_plan_t *plan;
        CHECK_OK(tsr_qgemm_plan_create(NULL, &w, NULL, &plan));
        CHECK_OK(tsr_qgemm_execute(NULL, plan, 1, x, k, NULL, y, n, NULL, 0));
        tsr_qgemm_plan_destroy(plan);
        const uint16_t bad[2] = {0x7C00, 0x7E00};  /* +inf, NaN */
        for (int v = 0; v < 2; v++) {
            memcpy(q + 3 * rb + scale_off[fi], &bad[v], 2);  /* row 3, first block */
            CHECK_OK(tsr_dequantize(NULL, &w, wf, k));
            int nonfinite = 0;
            for (int64_t j = 0; j < k; j++) nonfinite |= !isfinite(wf[3 * k + j]);
            CHECK_MSG(nonfinite, "%s: an inf/NaN scale dequantizes to finite values", tsr_quant_format_name(fmts[fi]));
            CHECK_OK(tsr_qgemm_plan_create(NULL, &w, NULL, &plan));
            TSR_FOR_EACH_ISA(isa) {
                CHECK_OK(tsr_qgemm_execute(NULL, plan, 1, x, k, NULL, y2, n, NULL, 0));
                CHECK_MSG(!isfinite(y2[3]), "%s %s: row with a non-finite scale gave %g", tsr_quant_format_name(fmts[fi]),
                          tsr_isa_name(isa), (double)y2[3]);
                int same = 1;
                for (int64_t r = 0; r < n; r++) same &= r == 3 || memcmp(&y[r], &y2[r], sizeof(float)) == 0;
                CHECK_MSG(same, "%s %s: other rows changed", tsr_quant_format_name(fmts[fi]), tsr_isa_name(isa));
            }
            tsr_qgemm_plan_destroy(plan);
        }
        free(q);
    }
    free(x);
    free(wf);
}

/* Truncated data and K that is not a multiple of the super-block are refused. */
TSR_TEST(bad_shapes) {
    uint8_t buf[1024] = {0};
    size_t rb;
    CHECK_STATUS(tsr_quant_row_bytes(TSR_QUANT_Q4_K, 128, &rb), TSR_EINVAL);
    CHECK_STATUS(tsr_quant_row_bytes(TSR_QUANT_Q5_0, 48, &rb), TSR_EINVAL);
    tsr_quant_matrix w = {sizeof w, TSR_QUANT_Q4_K, 4, 256, buf, 0, 4 * 144 - 1};  /* one byte short */
    CHECK_STATUS(tsr_quant_matrix_check(&w), TSR_EINVAL);
    CHECK(strstr(tsr_last_error(), "q4_k") != NULL);
    w.data_bytes = 4 * 144;
    CHECK_OK(tsr_quant_matrix_check(&w));
    w.k = 384;
    CHECK_STATUS(tsr_quant_matrix_check(&w), TSR_EINVAL);
    float x[256] = {0};
    CHECK_STATUS(tsr_quantize(NULL, TSR_QUANT_Q3_K, x, 1, 255, 255, buf, sizeof buf, NULL), TSR_EINVAL);
}

int main(void) {
    RUN(q5_0_layout);
    RUN(q4_k_layout);
    RUN(q3_k_layout);
    RUN(iq4_nl_layout);
    RUN(nonfinite_file_scales);
    RUN(bad_shapes);
    return tsr_test_summary();
}
