/*
 * The ggml block formats added after the first four: Q5_0, Q5_1, IQ4_NL and the K-quants
 * Q4_K, Q5_K, Q3_K, Q2_K (byte layouts in tessera/quant.h). This file decodes a block
 * into the packed meaning of a qgemm plan (codes u and per-group scale and minimum) —
 * the one definition both the reference dequantizer and the plan repacking use — and
 * holds the quantizers of the 32-element formats. The K-quant quantizers (ggml's
 * scale/min searches) are in quant_kquant.c.
 */
#include <math.h>

#include "quant_internal.h"

/* The IQ4_NL non-linear levels (ggml's kvalues_iq4nl). */
const int8_t tsr_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

void tsr_qggml_codes(tsr_quant_format f, int32_t *bits, int32_t *hbits, int32_t *scale_f32, int32_t *z,
                     int32_t *u8_max) {
    *bits = 8;
    *hbits = 0;
    *scale_f32 = 1;
    *z = 0;
    switch (f) {  /* the 5-bit formats: a nibble plane and a 1-bit plane, no more bits than the file */
    case TSR_QUANT_Q5_0: *bits = 4; *hbits = 1; *scale_f32 = 0; *z = 16; *u8_max = 31; break;
    case TSR_QUANT_Q5_1: *bits = 4; *hbits = 1; *scale_f32 = 0; *u8_max = 31; break;
    case TSR_QUANT_IQ4_NL: *scale_f32 = 0; *z = 128; *u8_max = 255; break;
    case TSR_QUANT_Q4_K: *bits = 4; *u8_max = 15; break;
    case TSR_QUANT_Q5_K: *bits = 4; *hbits = 1; *u8_max = 31; break;
    case TSR_QUANT_Q3_K: *z = 4; *u8_max = 7; break;
    default: *u8_max = 3; break; /* Q2_K */
    }
}

/* Scale sc and min m (6 bits each) of sub-block j of a Q4_K/Q5_K block's scales[12]. */
static inline void k4_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Scale j (0..15, 6 bits, before the −32) of a Q3_K block's scales[12]. */
static inline int k3_scale(const uint8_t *s, int j) {
    const int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
    return lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
}

static inline uint32_t f32_bits(float v) {
    uint32_t b;
    memcpy(&b, &v, 4);
    return b;
}

/* Element e of a 256-block in the Q3_K/Q2_K order: byte index into qs (of 64) and shift. */
static inline void k2_pos(int e, int *byte, int *shift, int *hbyte, int *hbit) {
    const int h = e / 128, i = (e % 128) / 32, t = (e % 32) / 16, l = e % 16;
    *byte = 32 * h + 16 * t + l;
    *shift = 2 * i;
    *hbyte = 16 * t + l;
    *hbit = 4 * h + i;
}

void tsr_qggml_subscales(tsr_quant_format f, const uint8_t *b, uint16_t *d, uint16_t *nmin, int8_t *sc,
                         uint8_t *m) {
    switch (f) {
    case TSR_QUANT_Q4_K:
    case TSR_QUANT_Q5_K:
        *d = tsr_ld16(b);
        *nmin = tsr_ld16(b + 2) ^ 0x8000u;
        for (int j = 0; j < 8; j++) {
            int s, mm;
            k4_scale_min(b + 4, j, &s, &mm);
            sc[j] = (int8_t)s;
            m[j] = (uint8_t)mm;
        }
        break;
    case TSR_QUANT_Q3_K:
        *d = tsr_ld16(b + 108);
        *nmin = 0;
        for (int j = 0; j < 16; j++) { sc[j] = (int8_t)(k3_scale(b + 96, j) - 32); m[j] = 0; }
        break;
    case TSR_QUANT_Q2_K:
        *d = tsr_ld16(b + 80);
        *nmin = tsr_ld16(b + 82) ^ 0x8000u;
        for (int j = 0; j < 16; j++) { sc[j] = (int8_t)(b[j] & 15); m[j] = b[j] >> 4; }
        break;
    default: /* Q6_K */
        *d = tsr_ld16(b + 208);
        *nmin = 0;
        for (int j = 0; j < 16; j++) { sc[j] = (int8_t)b[192 + j]; m[j] = 0; }
        break;
    }
}

/* Group scales and minimums of a K-quant block from its two levels, as f32 bits. */
static void kquant_scales(tsr_quant_format f, const uint8_t *b, uint32_t *scale, uint32_t *mn) {
    uint16_t dh, nm;
    int8_t sc[16];
    uint8_t m[16];
    tsr_qggml_subscales(f, b, &dh, &nm, sc, m);
    const float d = tsr_f16_to_f32(dh), ndmin = tsr_f16_to_f32(nm);
    const int groups = f == TSR_QUANT_Q4_K || f == TSR_QUANT_Q5_K ? 8 : 16;
    for (int j = 0; j < groups; j++) {
        scale[j] = f32_bits(d * (float)sc[j]);
        mn[j] = f32_bits(ndmin * (float)m[j]);
    }
}

void tsr_qggml_unpack(tsr_quant_format f, const uint8_t *b, uint8_t *u, uint32_t *scale, uint32_t *mn) {
    switch (f) {
    case TSR_QUANT_Q5_0:
    case TSR_QUANT_Q5_1: {
        const int off = f == TSR_QUANT_Q5_0 ? 2 : 4;
        uint32_t qh;
        memcpy(&qh, b + off, 4);
        const uint8_t *qs = b + off + 4;
        for (int j = 0; j < 16; j++) {
            u[j] = (uint8_t)((qs[j] & 15) | (((qh >> j) & 1) << 4));
            u[j + 16] = (uint8_t)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        }
        scale[0] = tsr_ld16(b);
        mn[0] = f == TSR_QUANT_Q5_1 ? tsr_ld16(b + 2) : 0;
        break;
    }
    case TSR_QUANT_IQ4_NL:
        for (int j = 0; j < 16; j++) {
            u[j] = (uint8_t)(tsr_iq4nl_values[b[2 + j] & 15] + 128);
            u[j + 16] = (uint8_t)(tsr_iq4nl_values[b[2 + j] >> 4] + 128);
        }
        scale[0] = tsr_ld16(b);
        mn[0] = 0;
        break;
    case TSR_QUANT_Q4_K:
    case TSR_QUANT_Q5_K: {
        const uint8_t *qh = b + 16, *qs = b + (f == TSR_QUANT_Q4_K ? 16 : 48);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                u[64 * c + l] = qs[32 * c + l] & 15;
                u[64 * c + 32 + l] = qs[32 * c + l] >> 4;
                if (f == TSR_QUANT_Q5_K) {
                    u[64 * c + l] |= (uint8_t)(((qh[l] >> (2 * c)) & 1) << 4);
                    u[64 * c + 32 + l] |= (uint8_t)(((qh[l] >> (2 * c + 1)) & 1) << 4);
                }
            }
        }
        kquant_scales(f, b, scale, mn);
        break;
    }
    case TSR_QUANT_Q3_K: {
        for (int e = 0; e < 256; e++) {
            int by, sh, hb, hbit;
            k2_pos(e, &by, &sh, &hb, &hbit);
            /* stored value (q & 3) − (hmask bit ? 0 : 4), as the code u = value + 4 */
            u[e] = (uint8_t)(((b[32 + by] >> sh) & 3) + (((b[hb] >> hbit) & 1) << 2));
        }
        kquant_scales(f, b, scale, mn);
        break;
    }
    default: { /* Q2_K */
        for (int e = 0; e < 256; e++) {
            int by, sh, hb, hbit;
            k2_pos(e, &by, &sh, &hb, &hbit);
            u[e] = (b[16 + by] >> sh) & 3;
        }
        kquant_scales(f, b, scale, mn);
        break;
    }
    }
}

void tsr_qggml_dequantize_block(tsr_quant_format f, const uint8_t *b, float *y) {
    const tsr_qfmt *q = tsr_qfmt_get(f);
    uint8_t u[256];
    uint32_t scale[16], mn[16];
    int32_t bits, hbits, sf32, z, umax;
    tsr_qggml_codes(f, &bits, &hbits, &sf32, &z, &umax);
    tsr_qggml_unpack(f, b, u, scale, mn);
    for (int gi = 0; gi < q->block_elems / q->group; gi++) {
        float s, m = 0.0f;
        if (sf32) {
            memcpy(&s, &scale[gi], 4);
            memcpy(&m, &mn[gi], 4);
        } else {
            s = tsr_f16_to_f32((uint16_t)scale[gi]);
            m = tsr_f16_to_f32((uint16_t)mn[gi]);
        }
        const uint8_t *ug = u + gi * q->group;
        float *yg = y + gi * q->group;
        for (int j = 0; j < q->group; j++)
            yg[j] = q->has_min ? s * (float)ug[j] + m : s * (float)((int)ug[j] - z);
    }
}

/* ---- quantizers of the 32-element formats (ggml's reference quantizers) ---------- */

/* 1 if the half (the scale as stored) is inf or NaN. */
static inline int f16_overflows(uint16_t h) { return (h & 0x7c00u) == 0x7c00u; }

/* Q5_0: the value of largest magnitude maps to −16. Q5_1: [min, max] onto 0..31. */
static int q5_block(tsr_quant_format f, const float *x, uint8_t *b) {
    const int has_min = f == TSR_QUANT_Q5_1;
    float d, id, mn = 0.0f, bias;
    if (has_min) {
        float mx = x[0];
        mn = x[0];
        for (int j = 1; j < 32; j++) { mn = x[j] < mn ? x[j] : mn; mx = x[j] > mx ? x[j] : mx; }
        d = (mx - mn) / 31.0f;
        bias = 0.5f;
    } else {
        float amax = 0.0f, vmax = 0.0f;
        for (int j = 0; j < 32; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
        d = vmax / -16.0f;
        bias = 16.5f;
    }
    id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id)) { d = has_min ? 0.0f : -0.0f; id = 0.0f; }  /* as an all-zero block */
    const uint16_t hd = tsr_f32_to_f16(d), hm = tsr_f32_to_f16(mn);
    if (f16_overflows(hd) || f16_overflows(hm)) return 1;
    tsr_st16(b, hd);
    if (has_min) tsr_st16(b + 2, hm);
    const int off = has_min ? 4 : 2;
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        /* truncation toward zero of a value in [0, 32.5], as ggml's (int8_t) cast */
        int q0 = (int)((x[j] - mn) * id + bias), q1 = (int)((x[j + 16] - mn) * id + bias);
        q0 = q0 < 0 ? 0 : q0 > 31 ? 31 : q0;
        q1 = q1 < 0 ? 0 : q1 > 31 ? 31 : q1;
        b[off + 4 + j] = (uint8_t)((q0 & 15) | ((q1 & 15) << 4));
        qh |= (uint32_t)(q0 >> 4) << j | (uint32_t)(q1 >> 4) << (j + 16);
    }
    memcpy(b + off, &qh, 4);
    return 0;
}

/* Index of the IQ4_NL level nearest to v (ties to the lower level, as ggml). */
static int iq4nl_index(float v) {
    const int8_t *t = tsr_iq4nl_values;
    if (!(v > t[0])) return 0;  /* NaN too */
    if (v >= t[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        const int mid = (lo + hi) / 2;
        if (v < t[mid]) hi = mid; else lo = mid;
    }
    return v - t[hi - 1] < t[hi] - v ? hi - 1 : hi;
}

/* IQ4_NL: ggml's search (weights x², 15 trial scales around max/−127, then the least-squares
 * scale of the best trial). */
static int iq4_nl_block(const float *x, uint8_t *b) {
    float amax = 0.0f, vmax = 0.0f;
    for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); vmax = x[j]; }
    if (amax > 65504.0f * 127.0f) return 1;  /* beyond the fp16 scale times the largest level */
    float d = 0.0f;
    if (amax >= 1e-15f) {
        float id = -127.0f / vmax, sqx = 0.0f, sq2 = 0.0f;
        for (int j = 0; j < 32; j++) {
            const float q = tsr_iq4nl_values[iq4nl_index(id * x[j])], w = x[j] * x[j];
            sqx += w * q * x[j];
            sq2 += w * q * q;
        }
        d = sq2 > 0.0f ? sqx / sq2 : 0.0f;
        float best = d * sqx;
        for (int t = -7; t <= 7; t++) {
            id = ((float)t - 127.0f) / vmax;
            sqx = sq2 = 0.0f;
            for (int j = 0; j < 32; j++) {
                const float q = tsr_iq4nl_values[iq4nl_index(id * x[j])], w = x[j] * x[j];
                sqx += w * q * x[j];
                sq2 += w * q * q;
            }
            if (sq2 > 0.0f && sqx * sqx > best * sq2) { d = sqx / sq2; best = d * sqx; }
        }
    }
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    if (isinf(id) || !isfinite(d)) d = 0.0f;
    const uint16_t hd = tsr_f32_to_f16(d);
    if (f16_overflows(hd)) return 1;
    tsr_st16(b, hd);
    const float idq = d != 0.0f ? id : 0.0f;
    for (int j = 0; j < 16; j++)
        b[2 + j] = (uint8_t)(iq4nl_index(idq * x[j]) | (iq4nl_index(idq * x[j + 16]) << 4));
    return 0;
}

int tsr_qggml_quantize_block(tsr_quant_format f, const float *x, uint8_t *b) {
    switch (f) {
    case TSR_QUANT_Q5_0:
    case TSR_QUANT_Q5_1: return q5_block(f, x, b);
    case TSR_QUANT_IQ4_NL: return iq4_nl_block(x, b);
    default: return tsr_qkquant_block(f, x, b);
    }
}
