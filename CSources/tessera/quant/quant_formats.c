/* The format traits table and descriptor checks of tessera/quant.h. */
#include <strings.h>

#include "quant_internal.h"

/* name, block elems, block bytes, weight bits, group, scale bytes, zp, min, ggml type, float, act block */
static const tsr_qfmt tsr_qfmt_table[TSR_QUANT_FORMAT_COUNT] = {
    [TSR_QUANT_F32] = {"f32", 1, 4, 32, 1, 0, 0, 0, 0, 1, 0},
    [TSR_QUANT_F16] = {"f16", 1, 2, 16, 1, 0, 0, 0, 1, 1, 0},
    [TSR_QUANT_BF16] = {"bf16", 1, 2, 16, 1, 0, 0, 0, 30, 1, 0},
    [TSR_QUANT_Q4_0] = {"q4_0", 32, 18, 4, 32, 2, 0, 0, 2, 0, 32},
    [TSR_QUANT_Q4_1] = {"q4_1", 32, 20, 4, 32, 2, 0, 1, 3, 0, 32},
    [TSR_QUANT_Q8_0] = {"q8_0", 32, 34, 8, 32, 2, 0, 0, 8, 0, 32},
    [TSR_QUANT_Q6_K] = {"q6_k", 256, 210, 6, 16, 2, 0, 0, 14, 0, 256},
    [TSR_QUANT_Q4G32_F16] = {"q4g32_f16", 32, 2 + 16, 4, 32, 2, 0, 0, -1, 0, 32},
    [TSR_QUANT_Q4G64_F16] = {"q4g64_f16", 64, 2 + 32, 4, 64, 2, 0, 0, -1, 0, 64},
    [TSR_QUANT_Q4G128_F16] = {"q4g128_f16", 128, 2 + 64, 4, 128, 2, 0, 0, -1, 0, 128},
    [TSR_QUANT_Q4G32_F16Z] = {"q4g32_f16z", 32, 3 + 16, 4, 32, 2, 1, 0, -1, 0, 32},
    [TSR_QUANT_Q4G64_F16Z] = {"q4g64_f16z", 64, 3 + 32, 4, 64, 2, 1, 0, -1, 0, 64},
    [TSR_QUANT_Q4G128_F16Z] = {"q4g128_f16z", 128, 3 + 64, 4, 128, 2, 1, 0, -1, 0, 128},
    [TSR_QUANT_Q4G32_F32] = {"q4g32_f32", 32, 4 + 16, 4, 32, 4, 0, 0, -1, 0, 32},
    [TSR_QUANT_Q4G64_F32] = {"q4g64_f32", 64, 4 + 32, 4, 64, 4, 0, 0, -1, 0, 64},
    [TSR_QUANT_Q4G128_F32] = {"q4g128_f32", 128, 4 + 64, 4, 128, 4, 0, 0, -1, 0, 128},
    [TSR_QUANT_Q4G32_F32Z] = {"q4g32_f32z", 32, 5 + 16, 4, 32, 4, 1, 0, -1, 0, 32},
    [TSR_QUANT_Q4G64_F32Z] = {"q4g64_f32z", 64, 5 + 32, 4, 64, 4, 1, 0, -1, 0, 64},
    [TSR_QUANT_Q4G128_F32Z] = {"q4g128_f32z", 128, 5 + 64, 4, 128, 4, 1, 0, -1, 0, 128},
    [TSR_QUANT_Q8G32_F16] = {"q8g32_f16", 32, 2 + 32, 8, 32, 2, 0, 0, -1, 0, 32},
    [TSR_QUANT_Q8G64_F16] = {"q8g64_f16", 64, 2 + 64, 8, 64, 2, 0, 0, -1, 0, 64},
    [TSR_QUANT_Q8G128_F16] = {"q8g128_f16", 128, 2 + 128, 8, 128, 2, 0, 0, -1, 0, 128},
    [TSR_QUANT_Q8G32_F32] = {"q8g32_f32", 32, 4 + 32, 8, 32, 4, 0, 0, -1, 0, 32},
    [TSR_QUANT_Q8G64_F32] = {"q8g64_f32", 64, 4 + 64, 8, 64, 4, 0, 0, -1, 0, 64},
    [TSR_QUANT_Q8G128_F32] = {"q8g128_f32", 128, 4 + 128, 8, 128, 4, 0, 0, -1, 0, 128},
    [TSR_QUANT_Q5_0] = {"q5_0", 32, 22, 5, 32, 2, 0, 0, 6, 0, 32},
    [TSR_QUANT_Q5_1] = {"q5_1", 32, 24, 5, 32, 2, 0, 1, 7, 0, 32},
    [TSR_QUANT_Q4_K] = {"q4_k", 256, 144, 4, 32, 2, 0, 1, 12, 0, 256},
    [TSR_QUANT_Q5_K] = {"q5_k", 256, 176, 5, 32, 2, 0, 1, 13, 0, 256},
    [TSR_QUANT_Q3_K] = {"q3_k", 256, 110, 3, 16, 2, 0, 0, 11, 0, 256},
    [TSR_QUANT_Q2_K] = {"q2_k", 256, 84, 2, 16, 2, 0, 1, 10, 0, 256},
    [TSR_QUANT_IQ4_NL] = {"iq4_nl", 32, 18, 4, 32, 2, 0, 0, 20, 0, 32},
};

const tsr_qfmt *tsr_qfmt_get(tsr_quant_format f) {
    if ((int)f < 0 || f >= TSR_QUANT_FORMAT_COUNT) return NULL;
    return &tsr_qfmt_table[f];
}

tsr_status tsr_quant_traits_get(tsr_quant_format format, tsr_quant_traits *out) {
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(out->size >= sizeof(tsr_quant_traits),
                  "tsr_quant_traits_get: out->size is %u, expected %zu (set it to sizeof(tsr_quant_traits))",
                  out->size, sizeof(tsr_quant_traits));
    const tsr_qfmt *q = tsr_qfmt_get(format);
    TSR_CHECK_ARG(q != NULL, "tsr_quant_traits_get: unknown format %d", (int)format);
    uint32_t size = out->size;
    memset(out, 0, sizeof *out);
    out->size = size;
    out->format = format;
    out->name = q->name;
    out->block_elems = q->block_elems;
    out->block_bytes = q->block_bytes;
    out->bits_per_weight = 8.0 * q->block_bytes / q->block_elems;
    out->weight_bits = q->weight_bits;
    out->group_size = q->group;
    out->scale_dtype = q->scale_bytes == 2 ? TSR_DTYPE_F16 : TSR_DTYPE_F32;
    out->has_zero_point = q->zero_point;
    out->has_min = q->has_min;
    out->ggml_type = q->ggml_type;
    out->act_block = q->act_block;
    return TSR_OK;
}

const char *tsr_quant_format_name(tsr_quant_format format) {
    const tsr_qfmt *q = tsr_qfmt_get(format);
    return q ? q->name : "invalid";
}

tsr_status tsr_quant_format_parse(const char *name, tsr_quant_format *out) {
    TSR_CHECK_NULL(name);
    TSR_CHECK_NULL(out);
    for (int f = 0; f < TSR_QUANT_FORMAT_COUNT; f++)
        if (strcasecmp(name, tsr_qfmt_table[f].name) == 0) { *out = (tsr_quant_format)f; return TSR_OK; }
    return tsr_error(TSR_EINVAL, "tsr_quant_format_parse: unknown format name '%s'", name);
}

tsr_status tsr_quant_format_from_ggml(int32_t ggml_type, tsr_quant_format *out) {
    TSR_CHECK_NULL(out);
    TSR_CHECK_ARG(ggml_type >= 0, "tsr_quant_format_from_ggml: negative ggml type %d", ggml_type);
    for (int f = 0; f < TSR_QUANT_FORMAT_COUNT; f++)
        if (tsr_qfmt_table[f].ggml_type == ggml_type) { *out = (tsr_quant_format)f; return TSR_OK; }
    return tsr_error(TSR_EUNSUPPORTED, "tsr_quant_format_from_ggml: ggml type %d is not supported "
                     "(supported: F32 0, F16 1, Q4_0 2, Q4_1 3, Q5_0 6, Q5_1 7, Q8_0 8, Q2_K 10, Q3_K 11, "
                     "Q4_K 12, Q5_K 13, Q6_K 14, IQ4_NL 20, BF16 30)", ggml_type);
}

tsr_status tsr_quant_row_bytes(tsr_quant_format format, int64_t k, size_t *out) {
    TSR_CHECK_NULL(out);
    const tsr_qfmt *q = tsr_qfmt_get(format);
    TSR_CHECK_ARG(q != NULL, "tsr_quant_row_bytes: unknown format %d", (int)format);
    TSR_CHECK_ARG(k > 0, "tsr_quant_row_bytes: k must be > 0 (got %lld)", (long long)k);
    TSR_CHECK_ARG(k % q->block_elems == 0, "tsr_quant_row_bytes: k = %lld is not a multiple of the %s block size %d",
                  (long long)k, q->name, q->block_elems);
    if (tsr_mul_size((size_t)(k / q->block_elems), (size_t)q->block_bytes, out))
        return tsr_error(TSR_ERANGE, "tsr_quant_row_bytes: k = %lld overflows", (long long)k);
    return TSR_OK;
}

tsr_status tsr_quant_matrix_check(const tsr_quant_matrix *w) {
    TSR_CHECK_NULL(w);
    TSR_CHECK_ARG(w->size >= sizeof(tsr_quant_matrix),
                  "tsr_quant_matrix: size is %u, expected %zu (set it to sizeof(tsr_quant_matrix))",
                  w->size, sizeof(tsr_quant_matrix));
    const tsr_qfmt *q = tsr_qfmt_get(w->format);
    TSR_CHECK_ARG(q != NULL, "tsr_quant_matrix: unknown format %d", (int)w->format);
    TSR_CHECK_ARG(w->n > 0, "tsr_quant_matrix: n (rows) must be > 0 (got %lld)", (long long)w->n);
    TSR_CHECK_ARG(w->k > 0, "tsr_quant_matrix: k (columns) must be > 0 (got %lld)", (long long)w->k);
    TSR_CHECK_ARG(w->k % q->block_elems == 0,
                  "tsr_quant_matrix: k = %lld is not a multiple of the %s block size %d",
                  (long long)w->k, q->name, q->block_elems);
    TSR_CHECK_ARG(w->data != NULL, "tsr_quant_matrix: data is NULL");
    size_t rb;
    TSR_TRY(tsr_quant_row_bytes(w->format, w->k, &rb));
    size_t stride = w->row_stride ? w->row_stride : rb;
    TSR_CHECK_ARG(stride >= rb, "tsr_quant_matrix: row_stride %zu is shorter than a row (%zu bytes)", stride, rb);
    size_t need;
    if (tsr_mul_size((size_t)(w->n - 1), stride, &need) || tsr_add_size(need, rb, &need))
        return tsr_error(TSR_ERANGE, "tsr_quant_matrix: n·row_stride overflows");
    TSR_CHECK_ARG(w->data_bytes >= need,
                  "tsr_quant_matrix: buffer of %zu bytes is shorter than the %lld×%lld %s matrix needs (%zu bytes)",
                  w->data_bytes, (long long)w->n, (long long)w->k, q->name, need);
    return TSR_OK;
}
