/*
 * The LSE merge: partial attention results over disjoint key sets -> the result over
 * their union. LSE = ln sum exp(lse_p), O = sum exp(lse_p - LSE) O_p, folded in the
 * given part order (running max form, so no exp overflows).
 */
#include <math.h>

#include "attention_internal.h"

typedef struct {
    int64_t n_parts, dim, ld;
    const float *const *o;
    const float *const *lse;
    float *o_out, *lse_out;
} merge_ctx;

static void merge_range(void *ctx, int64_t begin, int64_t end, int32_t worker) {
    (void)worker;
    const merge_ctx *c = ctx;
    for (int64_t r = begin; r < end; r++) {
        /* pass 1: the merged LSE (max first, then the sum of exps relative to it) */
        double mx = -INFINITY;
        int nan = 0;
        for (int64_t p = 0; p < c->n_parts; p++) {
            double v = c->lse[p][r];
            if (v != v) nan = 1;
            else if (v > mx) mx = v;
        }
        float *o = c->o_out + r * c->ld;
        if (nan) {
            for (int64_t e = 0; e < c->dim; e++) o[e] = NAN;
            c->lse_out[r] = NAN;
            continue;
        }
        if (mx == -INFINITY) {
            for (int64_t e = 0; e < c->dim; e++) o[e] = 0.0f;
            c->lse_out[r] = -INFINITY;
            continue;
        }
        double sum = 0.0;
        for (int64_t p = 0; p < c->n_parts; p++) sum += exp((double)c->lse[p][r] - mx);
        double lse = mx + log(sum);
        /* pass 2: weights exp(lse_p - LSE); part 0 may alias the output, so it is read
         * before the output row is first written */
        float w0 = (float)exp((double)c->lse[0][r] - lse);
        const float *o0 = c->o[0] + r * c->ld;
        for (int64_t e = 0; e < c->dim; e++) o[e] = w0 == 0.0f ? 0.0f : w0 * o0[e];
        for (int64_t p = 1; p < c->n_parts; p++) {
            float w = (float)exp((double)c->lse[p][r] - lse);
            if (w == 0.0f) continue;
            const float *op = c->o[p] + r * c->ld;
            for (int64_t e = 0; e < c->dim; e++) o[e] += w * op[e];
        }
        c->lse_out[r] = (float)lse;
    }
}

tsr_status tsr_attn_merge(tsr_pool_t *pool, int64_t n_parts, int64_t rows, int64_t head_dim,
                          const float *const *o_parts, const float *const *lse_parts, int64_t o_row_stride,
                          float *o_out, float *lse_out) {
    TSR_CHECK_NULL(o_parts);
    TSR_CHECK_NULL(lse_parts);
    TSR_CHECK_NULL(o_out);
    TSR_CHECK_NULL(lse_out);
    TSR_CHECK_ARG(n_parts >= 1, "tsr_attn_merge: n_parts must be >= 1 (got %lld)", (long long)n_parts);
    TSR_CHECK_ARG(rows >= 1, "tsr_attn_merge: rows must be >= 1 (got %lld)", (long long)rows);
    TSR_CHECK_ARG(head_dim >= 1 && head_dim <= 65536, "tsr_attn_merge: head_dim must be in 1...65536 (got %lld)",
                  (long long)head_dim);
    TSR_CHECK_ARG(o_row_stride >= head_dim, "tsr_attn_merge: o_row_stride %lld < head_dim %lld",
                  (long long)o_row_stride, (long long)head_dim);
    int64_t span;
    if (tsr_mul_i64(rows, o_row_stride, &span))
        return tsr_error(TSR_ERANGE, "tsr_attn_merge: rows * o_row_stride overflows");
    for (int64_t p = 0; p < n_parts; p++)
        if (!o_parts[p] || !lse_parts[p])
            return tsr_error(TSR_EINVAL, "tsr_attn_merge: part %lld has a NULL pointer", (long long)p);
    merge_ctx c = {n_parts, head_dim, o_row_stride, o_parts, lse_parts, o_out, lse_out};
    /* about 4096 floats per chunk; n_parts > 4096 / head_dim gives 1 without forming the product */
    int64_t chunk = n_parts > 4096 / head_dim ? 1 : 4096 / (head_dim * n_parts) + 1;
    return tsr_parallel_for(pool, rows, chunk, TSR_SCHEDULE_DYNAMIC, merge_range, &c);
}
