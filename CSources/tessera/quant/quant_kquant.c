/*
 * Quantizers of the K-quant super-blocks Q4_K, Q5_K, Q3_K and Q2_K (layouts in
 * tessera/quant.h), following ggml's reference quantizers and their searches (written
 * from the published algorithm, in f32 as ggml computes it):
 *   - make_qkx2_quants: for a sub-block with a minimum, a weighted least-squares fit of
 *     (scale, min) over nstep+1 trial scales around nmax/(max − min);
 *   - make_q3_quants: a signed scale refined by coordinate descent on the weighted error;
 * then the sub-block scales (and minimums) are themselves quantized to 6 (Q2_K: 4) bits
 * against the super-block's fp16 d (and dmin), and every weight is re-rounded against its
 * final scale. Non-finite intermediate values never reach an integer conversion: every
 * rounding goes through qnear, which clamps in float first (NaN → the lowest code).
 */
#include <math.h>

#include "quant_internal.h"

/* round-half-even of v, clamped to [lo, hi]; NaN gives lo. */
static inline int qnear(float v, int lo, int hi) {
    if (!(v > (float)lo)) return lo;
    if (!(v < (float)hi)) return hi;
    return (int)nearbyintf(v);
}

static inline int f16_overflows(uint16_t h) { return (h & 0x7c00u) == 0x7c00u; }

/* 1 if some |x[i]| exceeds `limit`, the largest magnitude the format can represent (fp16 d at
 * most 65504 times the largest sub-block scale and code): such a block is refused before any
 * search runs, so the searches never see x² overflow. */
static int beyond(const float *x, int n, float limit) {
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > limit) return 1;
    return 0;
}

/*
 * ggml's make_qkx2_quants: codes L[n] in 0..nmax, returns the scale and stores the
 * (non-negative) amount subtracted, the_min, so that x ≈ scale·L − the_min.
 */
static float qkx2(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min, uint8_t *Laux,
                  float rmin, float rdelta, int nstep, int use_mad) {
    float mn = x[0], mx = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (mn > 0) mn = 0;
    if (mx == mn) {
        memset(L, 0, (size_t)n);
        *the_min = -mn;
        return 0.0f;
    }
    float iscale = (float)nmax / (mx - mn), scale = 1.0f / iscale, best = 0.0f;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)qnear(iscale * (x[i] - mn), 0, nmax);
        const float diff = scale * L[i] + mn - x[i];
        best += w[i] * (use_mad ? fabsf(diff) : diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (mx - mn);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            const int l = qnear(iscale * (x[i] - mn), 0, nmax);
            Laux[i] = (uint8_t)l;
            sl += w[i] * (float)l;
            sl2 += w[i] * (float)(l * l);
            sxl += w[i] * (float)l * x[i];
        }
        const float D = sum_w * sl2 - sl * sl;
        if (D > 0) {
            float ts = (sum_w * sxl - sum_x * sl) / D, tm = (sl2 * sum_x - sl * sxl) / D;
            if (tm > 0) { tm = 0; ts = sxl / sl2; }
            float err = 0.0f;
            for (int i = 0; i < n; i++) {
                const float diff = ts * Laux[i] + tm - x[i];
                err += w[i] * (use_mad ? fabsf(diff) : diff * diff);
            }
            if (err < best) {
                memcpy(L, Laux, (size_t)n);
                best = err;
                scale = ts;
                mn = tm;
            }
        }
    }
    *the_min = -mn;
    return scale;
}

/* ggml's make_q3_quants with its rmse refinement: codes L[n] in 0..2·nmax−1 (value + nmax). */
static float q3_search(int n, int nmax, const float *x, uint8_t *L) {
    float amax = 0.0f, vmax = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); vmax = x[i]; }
    if (amax < 1e-15f) { memset(L, 0, (size_t)n); return 0.0f; }
    const float iscale = -(float)nmax / vmax;
    float sumlx = 0, suml2 = 0;
    int v[16];
    for (int i = 0; i < n; i++) {
        v[i] = qnear(iscale * x[i], -nmax, nmax - 1);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)v[i];
        suml2 += w * (float)(v[i] * v[i]);
    }
    for (int itry = 0; itry < 5; itry++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)v[i];
            if (slx > 0) {
                float sl2 = suml2 - w * (float)(v[i] * v[i]);
                const int nl = qnear(x[i] * sl2 / slx, -nmax, nmax - 1);
                if (nl != v[i]) {
                    slx += w * x[i] * (float)nl;
                    sl2 += w * (float)(nl * nl);
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        v[i] = nl;
                        sumlx = slx;
                        suml2 = sl2;
                        changed++;
                    }
                }
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (uint8_t)(v[i] + nmax);
    return suml2 > 0 ? sumlx / suml2 : 0.0f;
}

/* Q4_K (nbits 4) and Q5_K (nbits 5). */
static int q45_k_block(int nbits, const float *x, uint8_t *b) {
    const int nmax = (1 << nbits) - 1;
    if (beyond(x, 256, 65504.0f * 63.0f * (float)nmax)) return 1;
    float scales[8], mins[8], w[32], max_scale = 0, max_min = 0;
    uint8_t L[256], Laux[32];
    for (int j = 0; j < 8; j++) {
        float sx2 = 0;
        for (int l = 0; l < 32; l++) sx2 += x[32 * j + l] * x[32 * j + l];
        const float av = sqrtf(sx2 / 32.0f);
        for (int l = 0; l < 32; l++) w[l] = av + fabsf(x[32 * j + l]);
        scales[j] = nbits == 4 ? qkx2(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -1.0f, 0.1f, 20, 0)
                               : qkx2(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -0.5f, 0.1f, 15, 0);
        max_scale = scales[j] > max_scale ? scales[j] : max_scale;
        max_min = mins[j] > max_min ? mins[j] : max_min;
    }
    const float inv_s = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_m = max_min > 0 ? 63.0f / max_min : 0.0f;
    const uint16_t hd = tsr_f32_to_f16(max_scale / 63.0f), hm = tsr_f32_to_f16(max_min / 63.0f);
    if (f16_overflows(hd) || f16_overflows(hm)) return 1;
    if ((hd & 0x7fffu) == 0 && (hm & 0x7fffu) == 0) {  /* scales round to 0: an all-zero block */
        memset(b, 0, nbits == 4 ? 144 : 176);
        return 0;
    }
    uint8_t *s = b + 4;
    memset(s, 0, 12);
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)qnear(inv_s * scales[j], 0, 63);
        lm[j] = (uint8_t)qnear(inv_m * mins[j], 0, 63);
        if (j < 4) {
            s[j] |= ls[j];
            s[j + 4] |= lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 15) | ((lm[j] & 15) << 4));
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
    tsr_st16(b, hd);
    tsr_st16(b + 2, hm);
    const float d = tsr_f16_to_f32(hd), dmin = tsr_f16_to_f32(hm);
    for (int j = 0; j < 8; j++) {
        const float dj = d * (float)ls[j];
        if (dj == 0.0f) continue;
        const float dm = dmin * (float)lm[j];
        for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)qnear((x[32 * j + l] + dm) / dj, 0, nmax);
    }
    uint8_t *qs = b + (nbits == 4 ? 16 : 48), *qh = b + 16;
    if (nbits == 5) memset(qh, 0, 32);
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            const int l1 = L[64 * c + l], l2 = L[64 * c + 32 + l];
            qs[32 * c + l] = (uint8_t)((l1 & 15) | ((l2 & 15) << 4));
            if (nbits == 5) qh[l] |= (uint8_t)(((l1 >> 4) << (2 * c)) | ((l2 >> 4) << (2 * c + 1)));
        }
    }
    return 0;
}

/* Packs 256 2-bit codes in the Q3_K/Q2_K order: qs[32h + l] holds elements 128h + l + 32i
 * in bits 2i. */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++)
            qs[32 * h + l] = (uint8_t)((L[128 * h + l] & 3) | ((L[128 * h + l + 32] & 3) << 2) |
                                       ((L[128 * h + l + 64] & 3) << 4) | ((L[128 * h + l + 96] & 3) << 6));
}

static int q3_k_block(const float *x, uint8_t *b) {
    if (beyond(x, 256, 65504.0f * 32.0f * 4.0f)) return 1;
    float scales[16], amax = 0, max_scale = 0;
    uint8_t L[256];
    for (int j = 0; j < 16; j++) {
        scales[j] = q3_search(16, 4, x + 16 * j, L + 16 * j);
        if (fabsf(scales[j]) > amax) { amax = fabsf(scales[j]); max_scale = scales[j]; }
    }
    memset(b, 0, 110);
    uint8_t *s = b + 96;
    float d = 0.0f;
    if (max_scale != 0.0f) {
        const float iscale = -32.0f / max_scale;
        for (int j = 0; j < 16; j++) {
            const int l = qnear(iscale * scales[j], -32, 31) + 32;
            if (j < 8) s[j] = (uint8_t)(l & 15);
            else s[j - 8] |= (uint8_t)((l & 15) << 4);
            s[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        }
        d = 1.0f / iscale;
    }
    const uint16_t hd = tsr_f32_to_f16(d);
    if (f16_overflows(hd)) return 1;
    tsr_st16(b + 108, hd);
    const float df = tsr_f16_to_f32(hd);
    for (int j = 0; j < 16; j++) {
        const int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4, sc = (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
        const float dj = df * (float)sc;
        if (dj == 0.0f) continue;
        for (int l = 0; l < 16; l++) L[16 * j + l] = (uint8_t)(qnear(x[16 * j + l] / dj, -4, 3) + 4);
    }
    /* the high bit of each code into hmask: element e sets bit (e / 32) of hmask[e % 32] */
    for (int e = 0; e < 256; e++)
        if (L[e] > 3) { b[e % 32] |= (uint8_t)(1u << (e / 32)); L[e] -= 4; }
    pack_2bit(L, b + 32);
    return 0;
}

static int q2_k_block(const float *x, uint8_t *b) {
    if (beyond(x, 256, 65504.0f * 15.0f * 3.0f)) return 1;
    float scales[16], mins[16], w[16], max_scale = 0, max_min = 0;
    uint8_t L[256], Laux[16];
    for (int j = 0; j < 16; j++) {
        for (int l = 0; l < 16; l++) w[l] = fabsf(x[16 * j + l]);
        scales[j] = qkx2(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, 1);
        max_scale = scales[j] > max_scale ? scales[j] : max_scale;
        max_min = mins[j] > max_min ? mins[j] : max_min;
    }
    memset(b, 0, 84);
    float d = 0.0f, dmin = 0.0f;
    if (max_scale > 0) {
        const float is = 15.0f / max_scale;
        for (int j = 0; j < 16; j++) b[j] = (uint8_t)qnear(is * scales[j], 0, 15);
        d = max_scale / 15.0f;
    }
    if (max_min > 0) {
        const float is = 15.0f / max_min;
        for (int j = 0; j < 16; j++) b[j] |= (uint8_t)(qnear(is * mins[j], 0, 15) << 4);
        dmin = max_min / 15.0f;
    }
    const uint16_t hd = tsr_f32_to_f16(d), hm = tsr_f32_to_f16(dmin);
    if (f16_overflows(hd) || f16_overflows(hm)) return 1;
    if ((hd & 0x7fffu) == 0 && (hm & 0x7fffu) == 0) {  /* scales round to 0: an all-zero block */
        memset(b, 0, 84);
        return 0;
    }
    tsr_st16(b + 80, hd);
    tsr_st16(b + 82, hm);
    const float df = tsr_f16_to_f32(hd), dmf = tsr_f16_to_f32(hm);
    for (int j = 0; j < 16; j++) {
        const float dj = df * (float)(b[j] & 15);
        if (dj == 0.0f) continue;
        const float dm = dmf * (float)(b[j] >> 4);
        for (int l = 0; l < 16; l++) L[16 * j + l] = (uint8_t)qnear((x[16 * j + l] + dm) / dj, 0, 3);
    }
    pack_2bit(L, b + 16);
    return 0;
}

int tsr_qkquant_block(tsr_quant_format f, const float *x, uint8_t *b) {
    switch (f) {
    case TSR_QUANT_Q4_K: return q45_k_block(4, x, b);
    case TSR_QUANT_Q5_K: return q45_k_block(5, x, b);
    case TSR_QUANT_Q3_K: return q3_k_block(x, b);
    default: return q2_k_block(x, b);
    }
}
