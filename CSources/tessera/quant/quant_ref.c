/*
 * Reference (scalar) quantizers and dequantizers for every format, and the public
 * tsr_quantize / tsr_dequantize / tsr_quant_row_dot_f64. These are the oracles the
 * optimised paths and the tests are checked against.
 */
#include <float.h>
#include <math.h>

#include "quant_internal.h"

/*
 * Extreme blocks (the inputs are finite: tsr_quantize refuses NaN/Inf first).
 *   - A block whose scale d is so small that 1/d overflows (all values subnormal, or
 *     nearly: d below 1/FLT_MAX) is stored the way an all-zero block is: scale 0, every quant
 *     at the zero code (Q4_1 keeps its minimum, which is then ±0). Without this, x·(1/d)
 *     is ±inf or NaN and its conversion to int is undefined. Blocks whose 1/d is finite
 *     are untouched (ggml's bytes; a scale that rounds to fp16 ±0 stays as it was).
 *   - A block whose scale (or Q4_1 minimum, or F16/BF16 value) does not fit its type, or
 *     whose largest code times the scale overflows f32, makes the block quantizer return
 *     1 (nothing usable written); tsr_quantize then fails with TSR_ERANGE.
 * These checks run once per block, outside the per-element loops.
 */

/* 1 if the half (the scale as stored) is inf or NaN. */
static inline int f16_overflows(uint16_t h) { return (h & 0x7c00u) == 0x7c00u; }

/* ---- GGUF blocks ------------------------------------------------------------ */

static int q4_0_block(const float *x, uint8_t *b) {
    float amax = 0.0f, vmax = 0.0f;  /* vmax: the value of largest magnitude, with its sign */
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
    float d = vmax / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id)) { d = -0.0f; id = 0.0f; }  /* as an all-zero block: d = 0 / -8 */
    const uint16_t hd = tsr_f32_to_f16(d);
    if (f16_overflows(hd)) return 1;
    tsr_st16(b, hd);
    for (int j = 0; j < 16; j++) {
        int q0 = (int)(int8_t)(x[j] * id + 8.5f), q1 = (int)(int8_t)(x[j + 16] * id + 8.5f);
        q0 = q0 > 15 ? 15 : q0;
        q1 = q1 > 15 ? 15 : q1;
        b[2 + j] = (uint8_t)(q0 | (q1 << 4));
    }
    return 0;
}

static int q4_1_block(const float *x, uint8_t *b) {
    float mn = x[0], mx = x[0];
    for (int j = 1; j < 32; j++) { mn = x[j] < mn ? x[j] : mn; mx = x[j] > mx ? x[j] : mx; }
    float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id)) { d = 0.0f; id = 0.0f; }  /* a zero block; its |mn| < 2^-101 is stored as ±0 */
    const uint16_t hd = tsr_f32_to_f16(d), hm = tsr_f32_to_f16(mn);  /* mx - mn = inf: hd = inf */
    if (f16_overflows(hd) || f16_overflows(hm)) return 1;
    tsr_st16(b, hd);
    tsr_st16(b + 2, hm);
    for (int j = 0; j < 16; j++) {
        int q0 = (int)(int8_t)((x[j] - mn) * id + 0.5f), q1 = (int)(int8_t)((x[j + 16] - mn) * id + 0.5f);
        q0 = q0 > 15 ? 15 : q0;
        q1 = q1 > 15 ? 15 : q1;
        b[4 + j] = (uint8_t)(q0 | (q1 << 4));
    }
    return 0;
}

static int q8_0_block(const float *x, uint8_t *b) {
    float amax = 0.0f;
    for (int j = 0; j < 32; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id)) { d = 0.0f; id = 0.0f; }  /* as an all-zero block */
    const uint16_t hd = tsr_f32_to_f16(d);
    if (f16_overflows(hd)) return 1;
    tsr_st16(b, hd);
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    return 0;
}

/* Best signed scale for 16 values on levels -32..31: a few candidates around
 * vmax/-32, each refined by least squares on its own rounding. */
static float q6_sub_scale(const float *x) {
    float amax = 0.0f, vmax = 0.0f;
    for (int j = 0; j < 16; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
    if (amax == 0.0f) return 0.0f;
    float best_s = vmax / -32.0f;
    double best_err = INFINITY;
    for (int t = -8; t <= 8; t++) {
        const float s0 = vmax / (-32.0f + 0.25f * (float)t);
        if (s0 == 0.0f) continue;  /* vmax a few subnormal ulps: x / s0 would be inf or NaN */
        double sxq = 0.0, sqq = 0.0;
        int q[16];
        for (int j = 0; j < 16; j++) {
            int v = (int)nearbyintf(x[j] / s0);
            q[j] = v < -32 ? -32 : v > 31 ? 31 : v;
            sxq += (double)x[j] * q[j];
            sqq += (double)q[j] * q[j];
        }
        if (sqq == 0.0) continue;
        const float s = (float)(sxq / sqq);
        double err = 0.0;
        for (int j = 0; j < 16; j++) { double e = x[j] - (double)s * q[j]; err += e * e; }
        if (err < best_err) { best_err = err; best_s = s; }
    }
    return best_s;
}

static int q6_k_block(const float *x, uint8_t *b) {
    float sc[16], smax = 0.0f, samax = 0.0f;
    for (int i = 0; i < 16; i++) {
        sc[i] = q6_sub_scale(x + 16 * i);
        if (fabsf(sc[i]) > samax) { samax = fabsf(sc[i]); smax = sc[i]; }
    }
    uint8_t L[256];
    memset(b, 0, 210);
    const float d0 = smax / -128.0f, id = samax != 0.0f ? 1.0f / d0 : 0.0f;
    if (samax == 0.0f || isinf(id)) {  /* all-zero block, or 1/d0 overflows: the same bytes */
        memset(L, 32, sizeof L);
    } else {
        const uint16_t hd = tsr_f32_to_f16(d0);
        if (f16_overflows(hd)) return 1;
        tsr_st16(b + 208, hd);
        const float d = tsr_f16_to_f32(hd);
        for (int i = 0; i < 16; i++) {
            int s = (int)nearbyintf(sc[i] * id);
            s = s > 127 ? 127 : s < -128 ? -128 : s;
            b[192 + i] = (uint8_t)(int8_t)s;
            const float ds = d * (float)s;
            for (int j = 0; j < 16; j++) {
                int v = ds != 0.0f ? (int)nearbyintf(x[16 * i + j] / ds) : 0;
                v = v < -32 ? -32 : v > 31 ? 31 : v;
                L[16 * i + j] = (uint8_t)(v + 32);
            }
        }
    }
    for (int h = 0; h < 2; h++) {
        uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        const uint8_t *Lh = L + 128 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((Lh[l] & 15) | ((Lh[l + 64] & 15) << 4));
            ql[l + 32] = (uint8_t)((Lh[l + 32] & 15) | ((Lh[l + 96] & 15) << 4));
            qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                              ((Lh[l + 96] >> 4) << 6));
        }
    }
    return 0;
}

/* Unpacks the 6-bit values L[256] of a Q6_K block. */
static void q6_k_unpack(const uint8_t *b, uint8_t *L) {
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
        uint8_t *Lh = L + 128 * h;
        for (int l = 0; l < 32; l++) {
            Lh[l] = (uint8_t)((ql[l] & 15) | ((qh[l] & 3) << 4));
            Lh[l + 32] = (uint8_t)((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4));
            Lh[l + 64] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
            Lh[l + 96] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
        }
    }
}

/* ---- Tessera group formats --------------------------------------------------- */

static float round_scale(float d, int scale_bytes) {
    return scale_bytes == 2 ? tsr_f16_to_f32(tsr_f32_to_f16(d)) : d;
}
static void store_scale(uint8_t *b, float d, int scale_bytes) {
    if (scale_bytes == 2) tsr_st16(b, tsr_f32_to_f16(d)); else tsr_stf(b, d);
}
static float load_scale(const uint8_t *b, int scale_bytes) {
    return scale_bytes == 2 ? tsr_f16_to_f32(tsr_ld16(b)) : tsr_ldf(b);
}

static int q4g_block(const tsr_qfmt *f, const float *x, uint8_t *b) {
    const int g = f->group, sb = f->scale_bytes;
    uint8_t *qs = b + sb + f->zero_point;
    int z;
    float d, id;
    if (f->zero_point) {  /* asymmetric over [min(x,0), max(x,0)] so that 0 is exact */
        float mn = 0.0f, mx = 0.0f;
        for (int j = 0; j < g; j++) { mn = x[j] < mn ? x[j] : mn; mx = x[j] > mx ? x[j] : mx; }
        d = round_scale((mx - mn) / 15.0f, sb);  /* mx - mn = inf: d = inf, refused below */
        id = d != 0.0f ? 1.0f / d : 0.0f;
        if (isinf(id)) { d = 0.0f; id = 0.0f; }  /* as an all-zero block */
        if (!(d * 15.0f <= FLT_MAX)) return 1;    /* |q - z| <= 15 */
        z = d != 0.0f ? (int)nearbyintf(-mn / d) : 8;
        z = z < 0 ? 0 : z > 15 ? 15 : z;
        b[sb] = (uint8_t)z;
    } else {  /* symmetric: the value of largest magnitude maps to -8 */
        float amax = 0.0f, vmax = 0.0f;
        for (int j = 0; j < g; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
        d = round_scale(vmax / -8.0f, sb);
        id = d != 0.0f ? 1.0f / d : 0.0f;
        if (isinf(id)) { d = -0.0f; id = 0.0f; }  /* as an all-zero block: d = 0 / -8 */
        if (!(fabsf(d) * 8.0f <= FLT_MAX)) return 1;  /* |q - 8| <= 8 */
        z = 8;
    }
    store_scale(b, d, sb);
    for (int j = 0; j < g; j += 2) {
        int q0 = (int)nearbyintf(x[j] * id) + z, q1 = (int)nearbyintf(x[j + 1] * id) + z;
        q0 = q0 < 0 ? 0 : q0 > 15 ? 15 : q0;
        q1 = q1 < 0 ? 0 : q1 > 15 ? 15 : q1;
        qs[j / 2] = (uint8_t)(q0 | (q1 << 4));
    }
    return 0;
}

static int q8g_block(const tsr_qfmt *f, const float *x, uint8_t *b) {
    const int g = f->group, sb = f->scale_bytes;
    float amax = 0.0f;
    for (int j = 0; j < g; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    float d = round_scale(amax / 127.0f, sb), id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id)) { d = 0.0f; id = 0.0f; }  /* as an all-zero block */
    if (!(d * 127.0f <= FLT_MAX)) return 1;    /* |q| <= 127 */
    store_scale(b, d, sb);
    for (int j = 0; j < g; j++) {
        int q = (int)nearbyintf(x[j] * id);
        q = q < -127 ? -127 : q > 127 ? 127 : q;
        b[sb + j] = (uint8_t)(int8_t)q;
    }
    return 0;
}

/* ---- row-level dispatch ------------------------------------------------------- */

int64_t tsr_qrow_quantize(tsr_quant_format fmt, const float *x, int64_t k, uint8_t *dst) {
    const tsr_qfmt *f = tsr_qfmt_get(fmt);
    const int64_t nb = k / f->block_elems;
    for (int64_t i = 0; i < nb; i++) {
        const float *xb = x + i * f->block_elems;
        uint8_t *b = dst + i * f->block_bytes;
        int over = 0;
        switch (fmt) {
        case TSR_QUANT_F32: tsr_stf(b, xb[0]); break;
        case TSR_QUANT_F16: {
            const uint16_t h = tsr_f32_to_f16(xb[0]);
            over = f16_overflows(h);
            tsr_st16(b, h);
            break;
        }
        case TSR_QUANT_BF16: {
            const uint16_t h = tsr_f32_to_bf16(xb[0]);
            over = (h & 0x7f80u) == 0x7f80u;
            tsr_st16(b, h);
            break;
        }
        case TSR_QUANT_Q4_0: over = q4_0_block(xb, b); break;
        case TSR_QUANT_Q4_1: over = q4_1_block(xb, b); break;
        case TSR_QUANT_Q8_0: over = q8_0_block(xb, b); break;
        case TSR_QUANT_Q6_K: over = q6_k_block(xb, b); break;
        default:
            if (tsr_qfmt_is_ggml_ext(fmt)) { over = tsr_qggml_quantize_block(fmt, xb, b); break; }
            over = f->weight_bits == 4 ? q4g_block(f, xb, b) : q8g_block(f, xb, b);
            break;
        }
        if (over) return i;
    }
    return -1;
}

void tsr_qrow_dequantize(tsr_quant_format fmt, const uint8_t *src, int64_t k, float *y) {
    const tsr_qfmt *f = tsr_qfmt_get(fmt);
    const int64_t nb = k / f->block_elems;
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *b = src + i * f->block_bytes;
        float *yb = y + i * f->block_elems;
        switch (fmt) {
        case TSR_QUANT_F32: yb[0] = tsr_ldf(b); break;
        case TSR_QUANT_F16: yb[0] = tsr_f16_to_f32(tsr_ld16(b)); break;
        case TSR_QUANT_BF16: yb[0] = tsr_bf16_to_f32(tsr_ld16(b)); break;
        case TSR_QUANT_Q4_0: {
            const float d = tsr_f16_to_f32(tsr_ld16(b));
            for (int j = 0; j < 16; j++) {
                yb[j] = d * (float)((b[2 + j] & 15) - 8);
                yb[j + 16] = d * (float)((b[2 + j] >> 4) - 8);
            }
            break;
        }
        case TSR_QUANT_Q4_1: {
            const float d = tsr_f16_to_f32(tsr_ld16(b)), m = tsr_f16_to_f32(tsr_ld16(b + 2));
            for (int j = 0; j < 16; j++) {
                yb[j] = d * (float)(b[4 + j] & 15) + m;
                yb[j + 16] = d * (float)(b[4 + j] >> 4) + m;
            }
            break;
        }
        case TSR_QUANT_Q8_0: {
            const float d = tsr_f16_to_f32(tsr_ld16(b));
            for (int j = 0; j < 32; j++) yb[j] = d * (float)(int8_t)b[2 + j];
            break;
        }
        case TSR_QUANT_Q6_K: {
            uint8_t L[256];
            q6_k_unpack(b, L);
            const float d = tsr_f16_to_f32(tsr_ld16(b + 208));
            for (int j = 0; j < 256; j++) yb[j] = d * (float)(int8_t)b[192 + j / 16] * (float)(L[j] - 32);
            break;
        }
        default: {
            if (tsr_qfmt_is_ggml_ext(fmt)) { tsr_qggml_dequantize_block(fmt, b, yb); break; }
            const int g = f->group, sb = f->scale_bytes;
            const float d = load_scale(b, sb);
            if (f->weight_bits == 4) {
                const int z = f->zero_point ? b[sb] : 8;
                const uint8_t *qs = b + sb + f->zero_point;
                for (int j = 0; j < g; j += 2) {
                    yb[j] = d * (float)((qs[j / 2] & 15) - z);
                    yb[j + 1] = d * (float)((qs[j / 2] >> 4) - z);
                }
            } else {
                for (int j = 0; j < g; j++) yb[j] = d * (float)(int8_t)b[sb + j];
            }
            break;
        }
        }
    }
}

/* ---- public quantize / dequantize --------------------------------------------- */

typedef struct {
    tsr_quant_format fmt;
    const float *src;
    int64_t k, ld;
    uint8_t *dst;
    size_t row_bytes;
    int64_t *bad;          /* per row, or -1: first non-finite column (check pass), first
                              block whose scale overflows (quantize pass) */
    double *row_stats;     /* per row: max err, sum err², max |x|, sum x² */
    int32_t pass;          /* 0 = check, 1 = quantize */
} quant_ctx;

static void quant_rows(void *vctx, int64_t r0, int64_t r1, int32_t worker) {
    quant_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = c->src + r * c->ld;
        if (c->pass == 0) {
            c->bad[r] = -1;
            for (int64_t j = 0; j < c->k; j++)
                if (!isfinite(x[j])) { c->bad[r] = j; break; }
            continue;
        }
        uint8_t *row = c->dst + (size_t)r * c->row_bytes;
        c->bad[r] = tsr_qrow_quantize(c->fmt, x, c->k, row);
        if (c->row_stats && c->bad[r] < 0) {
            /* block by block on the stack: no scratch shared with other pools */
            const tsr_qfmt *f = tsr_qfmt_get(c->fmt);
            float tmp[256];
            double me = 0, se = 0, mx = 0, sx = 0;
            for (int64_t b = 0; b < c->k / f->block_elems; b++) {
                tsr_qrow_dequantize(c->fmt, row + b * f->block_bytes, f->block_elems, tmp);
                const float *xb = x + b * f->block_elems;
                for (int j = 0; j < f->block_elems; j++) {
                    const double e = fabs((double)xb[j] - (double)tmp[j]), a = fabs((double)xb[j]);
                    me = e > me ? e : me;
                    se += e * e;
                    mx = a > mx ? a : mx;
                    sx += a * a;
                }
            }
            c->row_stats[4 * r] = me;
            c->row_stats[4 * r + 1] = se;
            c->row_stats[4 * r + 2] = mx;
            c->row_stats[4 * r + 3] = sx;
        }
    }
}

/* TSR_ERANGE naming block `blk` of row `r` (x = the row) whose scale or value overflows. */
static tsr_status range_error(tsr_quant_format format, const tsr_qfmt *f, const float *x, int64_t r,
                              int64_t blk) {
    const int64_t c0 = blk * f->block_elems, c1 = c0 + f->block_elems - 1;
    if (f->is_float)
        return tsr_error(TSR_ERANGE, "tsr_quantize: row %lld, block %lld (column %lld): %g overflows %s "
                         "(largest finite %s)", (long long)r, (long long)blk, (long long)c0, (double)x[c0],
                         f->name, format == TSR_QUANT_F16 ? "65504" : "3.3895e38");
    float mn = x[c0], mx = x[c0];
    for (int64_t j = c0; j <= c1; j++) { mn = x[j] < mn ? x[j] : mn; mx = x[j] > mx ? x[j] : mx; }
    return tsr_error(TSR_ERANGE, "tsr_quantize: row %lld, block %lld (columns %lld...%lld): values in [%g, %g] "
                     "are too large for %s: its %s would overflow (dequantizing to inf)",
                     (long long)r, (long long)blk, (long long)c0, (long long)c1, (double)mn, (double)mx, f->name,
                     f->scale_bytes == 4 ? "f32 scale times the largest code"
                     : f->has_min        ? "fp16 scale or minimum (at most 65504)"
                                         : "fp16 scale (at most 65504)");
}

tsr_status tsr_quantize(tsr_pool_t *pool, tsr_quant_format format, const float *src, int64_t n,
                        int64_t k, int64_t ld, void *dst, size_t dst_bytes, tsr_quant_stats *stats) {
    TSR_CHECK_NULL(src);
    TSR_CHECK_NULL(dst);
    const tsr_qfmt *f = tsr_qfmt_get(format);
    TSR_CHECK_ARG(f != NULL, "tsr_quantize: unknown format %d", (int)format);
    TSR_CHECK_ARG(n > 0, "tsr_quantize: n (rows) must be > 0 (got %lld)", (long long)n);
    TSR_CHECK_ARG(k > 0, "tsr_quantize: k (columns) must be > 0 (got %lld)", (long long)k);
    TSR_CHECK_ARG(k % f->block_elems == 0, "tsr_quantize: k = %lld is not a multiple of the %s block size %d",
                  (long long)k, f->name, f->block_elems);
    TSR_CHECK_ARG(ld >= k, "tsr_quantize: ld = %lld is smaller than k = %lld", (long long)ld, (long long)k);
    if (stats)
        TSR_CHECK_ARG(stats->size >= sizeof(tsr_quant_stats),
                      "tsr_quantize: stats->size is %u, expected %zu", stats->size, sizeof(tsr_quant_stats));
    size_t rb, total;
    TSR_TRY(tsr_quant_row_bytes(format, k, &rb));
    if (tsr_mul_size(rb, (size_t)n, &total)) return tsr_error(TSR_ERANGE, "tsr_quantize: n·row_bytes overflows");
    TSR_CHECK_ARG(dst_bytes >= total, "tsr_quantize: dst_bytes = %zu, but %lld rows of %s need %zu",
                  dst_bytes, (long long)n, f->name, total);
    int64_t tmp;
    if (tsr_mul_i64(n - 1, ld, &tmp) || tsr_add_i64(tmp, k, &tmp))
        return tsr_error(TSR_ERANGE, "tsr_quantize: n·ld overflows");

    quant_ctx c = {format, src, k, ld, dst, rb, NULL, NULL, 0};
    c.bad = tsr_malloc((size_t)n * sizeof(int64_t));
    if (!c.bad) return tsr_error(TSR_ENOMEM, "tsr_quantize: out of memory");
    tsr_status st = tsr_parallel_for(pool, n, 0, TSR_SCHEDULE_DYNAMIC, quant_rows, &c);
    if (st != TSR_OK) { tsr_free(c.bad); return st; }
    for (int64_t r = 0; r < n; r++)
        if (c.bad[r] >= 0) {
            const float v = src[r * ld + c.bad[r]];
            int64_t col = c.bad[r];
            tsr_free(c.bad);
            return tsr_error(TSR_EINVAL, "tsr_quantize: non-finite weight %g at row %lld, column %lld "
                             "(NaN/Inf cannot be quantized)", (double)v, (long long)r, (long long)col);
        }
    if (stats) {
        c.row_stats = tsr_malloc((size_t)n * 4 * sizeof(double));
        if (!c.row_stats) { tsr_free(c.bad); return tsr_error(TSR_ENOMEM, "tsr_quantize: out of memory"); }
    }
    c.pass = 1;
    st = tsr_parallel_for(pool, n, 0, TSR_SCHEDULE_DYNAMIC, quant_rows, &c);
    for (int64_t r = 0; st == TSR_OK && r < n; r++)  /* the first overflowing block, in row order */
        if (c.bad[r] >= 0) {
            st = range_error(format, f, src + r * ld, r, c.bad[r]);
            memset(dst, 0, total);  /* no partial result */
        }
    tsr_free(c.bad);
    if (st == TSR_OK && stats) {
        double me = 0, se = 0, mx = 0, sx = 0;
        for (int64_t r = 0; r < n; r++) {  /* fixed order: independent of the thread count */
            me = c.row_stats[4 * r] > me ? c.row_stats[4 * r] : me;
            se += c.row_stats[4 * r + 1];
            mx = c.row_stats[4 * r + 2] > mx ? c.row_stats[4 * r + 2] : mx;
            sx += c.row_stats[4 * r + 3];
        }
        const double cnt = (double)n * (double)k;
        stats->max_abs_error = me;
        stats->rms_error = sqrt(se / cnt);
        stats->max_abs_value = mx;
        stats->rms_value = sqrt(sx / cnt);
    }
    tsr_free(c.row_stats);
    return st;
}

typedef struct {
    const tsr_quant_matrix *w;
    size_t stride;
    float *dst;
    int64_t ld;
} dequant_ctx;

static void dequant_rows(void *vctx, int64_t r0, int64_t r1, int32_t worker) {
    dequant_ctx *c = vctx;
    for (int64_t r = r0; r < r1; r++)
        tsr_qrow_dequantize(c->w->format, (const uint8_t *)c->w->data + (size_t)r * c->stride, c->w->k,
                            c->dst + r * c->ld);
}

tsr_status tsr_dequantize(tsr_pool_t *pool, const tsr_quant_matrix *w, float *dst, int64_t ld) {
    TSR_TRY(tsr_quant_matrix_check(w));
    TSR_CHECK_NULL(dst);
    TSR_CHECK_ARG(ld >= w->k, "tsr_dequantize: ld = %lld is smaller than k = %lld", (long long)ld, (long long)w->k);
    int64_t tmp;
    if (tsr_mul_i64(w->n - 1, ld, &tmp) || tsr_add_i64(tmp, w->k, &tmp))
        return tsr_error(TSR_ERANGE, "tsr_dequantize: n·ld overflows");
    size_t rb;
    TSR_TRY(tsr_quant_row_bytes(w->format, w->k, &rb));
    dequant_ctx c = {w, w->row_stride ? w->row_stride : rb, dst, ld};
    return tsr_parallel_for(pool, w->n, 0, TSR_SCHEDULE_DYNAMIC, dequant_rows, &c);
}

tsr_status tsr_quant_row_dot_f64(tsr_quant_format format, const void *row, int64_t k, const float *x,
                                 double *out) {
    TSR_CHECK_NULL(row);
    TSR_CHECK_NULL(x);
    TSR_CHECK_NULL(out);
    size_t rb;
    TSR_TRY(tsr_quant_row_bytes(format, k, &rb));
    const tsr_qfmt *f = tsr_qfmt_get(format);
    float tmp[256];
    double acc = 0.0;
    for (int64_t b = 0; b < k / f->block_elems; b++) {
        tsr_qrow_dequantize(format, (const uint8_t *)row + b * f->block_bytes, f->block_elems, tmp);
        for (int j = 0; j < f->block_elems; j++) acc += (double)tmp[j] * (double)x[b * f->block_elems + j];
    }
    *out = acc;
    return TSR_OK;
}
