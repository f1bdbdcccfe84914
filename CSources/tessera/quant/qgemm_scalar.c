/*
 * The reference table of the qgemm microkernels. They perform exactly the operations of the
 * SIMD kernels, lane by lane (exact int32 group sums, then t = (float)isum · d_a and
 * acc = fma(t, scale, acc) in K order), so every ISA path gives the same bits.
 */
#include <math.h>

#include "quant_internal.h"

static void qact_scalar(const float *x, int64_t k, int32_t group, int8_t *q, tsr_qact_meta *meta) {
    for (int64_t g0 = 0, gi = 0; g0 < k; g0 += group, gi++) {
        float amax = 0.0f;
        int bad = 0;
        for (int j = 0; j < group; j++) {
            const float a = fabsf(x[g0 + j]);
            bad |= !(a <= 3.40282347e38f);  /* NaN or Inf */
            amax = a > amax ? a : amax;
        }
        if (bad) {
            memset(q + g0, 0, (size_t)group);
            meta[gi].d = NAN;
            meta[gi].sum = 0;
            meta[gi].dsum = NAN;
            continue;
        }
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        if (TSR_UNLIKELY(isinf(id))) { d = 0.0f; id = 0.0f; }  /* amax < 127/FLT_MAX: a zero group */
        int32_t sum = 0;
        for (int j = 0; j < group; j++) {
            int v = (int)nearbyintf(x[g0 + j] * id);
            v = v > 127 ? 127 : v < -128 ? -128 : v;
            q[g0 + j] = (int8_t)v;
            sum += v;
        }
        meta[gi].d = d;
        meta[gi].sum = sum;
        meta[gi].dsum = d * (float)sum;
    }
}

static void qpanel_scalar(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt, const int8_t *act,
                          int64_t act_stride, const tsr_qact_meta *meta, float *y, int64_t ldy,
                          const float *bias, int32_t nvalid) {
    const int g = d->group, ng = d->ngroups;
    for (int64_t m = 0; m < mt; m++) {
        const int8_t *a = act + m * act_stride;
        const tsr_qact_meta *am = meta + m * ng;
        float acc[TSR_QP] = {0};
        const uint8_t *rec = panel;
        for (int gi = 0; gi < ng; gi++, rec += d->rec_bytes) {
            const int8_t *ag = a + (int64_t)gi * g;
            const uint8_t *sc = rec + d->wbytes, *sup = tsr_qsuper(d, panel, gi);
            const uint8_t *ex = sc + TSR_QP * (d->scale_f32 ? 4 : 2);
            for (int r = 0; r < TSR_QP; r++) {
                int32_t isum = 0;
                if (d->bits == 4) {
                    for (int j = 0; j < g / 8; j++) {
                        const uint8_t *w = rec + 64 * j + 4 * r;
                        int hc0 = 0, hs0 = 0, hc1 = 0, hs1 = 0, hm = (1 << d->hbits) - 1;
                        if (d->hbits) { tsr_qhplane_field(d, j, 0, &hc0, &hs0); tsr_qhplane_field(d, j, 1, &hc1, &hs1); }
                        for (int i = 0; i < 4; i++) {
                            int u0 = w[i] & 15, u1 = w[i] >> 4;
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
                const int32_t z = d->zkind == TSR_QZ_ROW ? ex[r] : d->zconst;
                isum -= z * am[gi].sum;
                float s, mn = 0.0f;
                if (sup) {  /* two levels: d·sc and (−dmin)·m, exact in f32 */
                    s = tsr_f16_to_f32(tsr_ld16(sup + 2 * r)) * (float)(int8_t)sc[r];
                    if (d->has_min) mn = tsr_f16_to_f32(tsr_ld16(sup + 2 * TSR_QP + 2 * r)) * (float)sc[TSR_QP + r];
                } else {
                    s = d->scale_f32 ? tsr_ldf(sc + 4 * r) : tsr_f16_to_f32(tsr_ld16(sc + 2 * r));
                    if (d->has_min) mn = d->scale_f32 ? tsr_ldf(ex + 4 * r) : tsr_f16_to_f32(tsr_ld16(ex + 2 * r));
                }
                const float t = (float)isum * am[gi].d;
                acc[r] = fmaf(t, s, acc[r]);
                if (d->has_min) acc[r] = fmaf(mn, am[gi].dsum, acc[r]);
            }
        }
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
