/*
 * The reference table of the qgemm microkernels. They perform exactly the operations of the
 * SIMD kernels, lane by lane (exact int32 group sums, then t = (float)isum · d_a and
 * acc = fma(t, scale, acc) in K order; for two-level plans the integer super-block fold and
 * tsr_qsuper_step), so every ISA path gives the same bits.
 */
#include <math.h>

#include "quant_internal.h"

static void qact_scalar(const float *x, int64_t k, int32_t group, int32_t ablock, int8_t *q, tsr_qact_meta *meta) {
    const int32_t gpb = ablock / group;
    for (int64_t b0 = 0, gi = 0; b0 < k; b0 += ablock, gi += gpb) {
        float amax = 0.0f;
        int bad = 0;
        for (int j = 0; j < ablock; j++) {
            const float a = fabsf(x[b0 + j]);
            bad |= !(a <= 3.40282347e38f);  /* NaN or Inf */
            amax = a > amax ? a : amax;
        }
        if (bad) {
            memset(q + b0, 0, (size_t)ablock);
            for (int32_t j = 0; j < gpb; j++) meta[gi + j] = (tsr_qact_meta){.d = NAN, .sum = 0, .dsum = NAN};
            continue;
        }
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        if (TSR_UNLIKELY(isinf(id))) { d = 0.0f; id = 0.0f; }  /* amax < 127/FLT_MAX: a zero block */
        for (int32_t jg = 0; jg < gpb; jg++) {
            const int64_t g0 = b0 + (int64_t)jg * group;
            int32_t sum = 0;
            for (int j = 0; j < group; j++) {
                int v = (int)nearbyintf(x[g0 + j] * id);
                v = v > 127 ? 127 : v < -128 ? -128 : v;
                q[g0 + j] = (int8_t)v;
                sum += v;
            }
            meta[gi + jg] = (tsr_qact_meta){.d = d, .sum = sum, .dsum = d * (float)sum};
        }
    }
}

/* Σ u·a over the g weights of row r of record rec against the activations ag (exact int32). */
static int32_t group_dot(const tsr_qkernel_desc *d, const uint8_t *rec, int r, const int8_t *ag) {
    const int g = d->group;
    int32_t isum = 0;
    if (d->bits == 4) {
        for (int j = 0; j < g / 8; j++) {
            const uint8_t *w = rec + 64 * j + 4 * r;
            int hc0 = 0, hs0 = 0, hc1 = 0, hs1 = 0, hm = (1 << d->hbits) - 1;
            if (d->hbits) { tsr_qhplane_field(d, j, 0, &hc0, &hs0); tsr_qhplane_field(d, j, 1, &hc1, &hs1); }
            for (int i = 0; i < 4; i++) {
                int u0 = w[i] & 15, u1 = w[i] >> 4;
                if (d->lut) { u0 = d->lut[u0]; u1 = d->lut[u1]; }
                if (d->hbits) {
                    u0 |= ((rec[8 * g + 64 * hc0 + 4 * r + i] >> hs0) & hm) << 4;
                    u1 |= ((rec[8 * g + 64 * hc1 + 4 * r + i] >> hs1) & hm) << 4;
                }
                isum += u0 * ag[8 * j + i] + u1 * ag[8 * j + 4 + i];
            }
        }
    } else {
        for (int j = 0; j < g / 4; j++) {
            const uint8_t *w = rec + 64 * j + 4 * r;
            for (int i = 0; i < 4; i++) isum += w[i] * ag[4 * j + i];
        }
    }
    return isum;
}

/* Single-level layouts: per group t = (float)(isum − z·Σa) · d_a, acc = fma(t, s, acc)
 * (+ fma(mn, d_a·Σa, acc) with minimums). */
static void qrow_single(const tsr_qkernel_desc *d, const uint8_t *panel, const int8_t *a, const tsr_qact_meta *am,
                        float *acc) {
    const int g = d->group, ng = d->ngroups;
    const uint8_t *rec = panel;
    for (int gi = 0; gi < ng; gi++, rec += d->rec_bytes) {
        const uint8_t *sc = rec + d->wbytes, *ex = sc + TSR_QP * (d->scale_f32 ? 4 : 2);
        for (int r = 0; r < TSR_QP; r++) {
            const int32_t z = d->zkind == TSR_QZ_ROW ? ex[r] : d->zconst;
            const int32_t isum = group_dot(d, rec, r, a + (int64_t)gi * g) - z * am[gi].sum;
            const float s = d->scale_f32 ? tsr_ldf(sc + 4 * r) : tsr_f16_to_f32(tsr_ld16(sc + 2 * r));
            const float t = (float)isum * am[gi].d;
            acc[r] = fmaf(t, s, acc[r]);
            if (d->has_min) {
                const float mn = d->scale_f32 ? tsr_ldf(ex + 4 * r) : tsr_f16_to_f32(tsr_ld16(ex + 2 * r));
                acc[r] = fmaf(mn, am[gi].dsum, acc[r]);
            }
        }
    }
}

/* Two-level (K-quant) layouts, per 256-element super-block: the integer fold
 * isum = Σ_j sc_j·(dot_j − z·Σa_j) and msum = Σ_j m_j·Σa_j (tsr_qfold bounds), then
 * tsr_qsuper_step. */
static void qrow_two_level(const tsr_qkernel_desc *d, const uint8_t *panel, const int8_t *a, const tsr_qact_meta *am,
                           float *acc) {
    const int g = d->group, gps = d->gps;
    for (int b = 0; b < d->ngroups / gps; b++) {
        const uint8_t *sup = panel + d->super_off + (size_t)b * d->super_bytes;
        for (int r = 0; r < TSR_QP; r++) {
            int32_t isum = 0, msum = 0;
            for (int j = 0; j < gps; j++) {
                const int gi = b * gps + j;
                const uint8_t *rec = panel + (size_t)gi * d->rec_bytes;
                const int32_t dot = group_dot(d, rec, r, a + (int64_t)gi * g) - am[gi].zsum;
                isum += (int32_t)(int8_t)rec[d->wbytes + r] * dot;
                if (d->has_min) msum += (int32_t)rec[d->wbytes + TSR_QP + r] * am[gi].sum;
            }
            const float dd = tsr_f16_to_f32(tsr_ld16(sup + 2 * r));
            const float nmin = d->has_min ? tsr_f16_to_f32(tsr_ld16(sup + 2 * TSR_QP + 2 * r)) : 0.0f;
            acc[r] = tsr_qsuper_step(isum, msum, dd, nmin, d->has_min, am[b * gps].d, acc[r]);
        }
    }
}

static void qpanel_scalar(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt, const int8_t *act,
                          int64_t act_stride, const tsr_qact_meta *meta, float *y, int64_t ldy,
                          const float *bias, int32_t nvalid) {
    for (int64_t m = 0; m < mt; m++) {
        float acc[TSR_QP] = {0};
        if (d->two_level) qrow_two_level(d, panel, act + m * act_stride, meta + m * d->ngroups, acc);
        else qrow_single(d, panel, act + m * act_stride, meta + m * d->ngroups, acc);
        for (int r = 0; r < nvalid; r++) y[m * ldy + r] = bias ? acc[r] + bias[r] : acc[r];
    }
}

static inline float fpanel_load(int32_t ftype, const uint8_t *p, size_t idx) {
    if (ftype == TSR_QF_F32) return tsr_ldf(p + 4 * idx);
    if (ftype == TSR_QF_F16) return tsr_f16_to_f32(tsr_ld16(p + 2 * idx));
    return tsr_bf16_to_f32(tsr_ld16(p + 2 * idx));
}

static void fpanel_scalar(int32_t ftype, const uint8_t *panel, int64_t k, int64_t mt, const float *x, int64_t ldx,
                          float *y, int64_t ldy, const float *bias, int32_t nvalid) {
    for (int64_t m = 0; m < mt; m++) {
        float acc[TSR_QP] = {0};
        const float *xm = x + m * ldx;
        for (int64_t kk = 0; kk < k; kk++)
            for (int r = 0; r < TSR_QP; r++)
                acc[r] = fmaf(fpanel_load(ftype, panel, (size_t)kk * TSR_QP + r), xm[kk], acc[r]);
        for (int r = 0; r < nvalid; r++) y[m * ldy + r] = bias ? acc[r] + bias[r] : acc[r];
    }
}

const tsr_qgemm_kernels tsr_qgemm_kernels_ref = {
    .head = {"scalar", TSR_ISA_SCALAR, NULL},
    .int_name = "scalar-int8",
    .float_name = "scalar-f32",
    .int_isa = TSR_ISA_SCALAR,
    .float_isa = TSR_ISA_SCALAR,
    .act = qact_scalar,
    .qpanel = qpanel_scalar,
    .qpanel_m1x2 = NULL,
    .fpanel = fpanel_scalar,
};
