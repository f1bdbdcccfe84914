/*
 * Repacking any weight format into the interleaved 16-row panel layout of a qgemm
 * plan (layout in quant_internal.h and docs/quant.md). Runs once per plan.
 */
#include "quant_internal.h"

/* Per-plan layout choice for each source format. */
void tsr_qgemm_layout(tsr_quant_format fmt, int64_t k, tsr_qkernel_desc *d, int32_t *ftype) {
    const tsr_qfmt *f = tsr_qfmt_get(fmt);
    memset(d, 0, sizeof *d);
    *ftype = -1;
    if (f->is_float) {
        *ftype = fmt == TSR_QUANT_F32 ? TSR_QF_F32 : fmt == TSR_QUANT_F16 ? TSR_QF_F16 : TSR_QF_BF16;
        return;
    }
    d->group = f->group;
    d->bits = f->weight_bits == 4 ? 4 : 8;
    d->scale_f32 = f->scale_bytes == 4 || fmt == TSR_QUANT_Q6_K;
    d->zkind = f->zero_point ? TSR_QZ_ROW : TSR_QZ_CONST;
    d->has_min = f->has_min;
    d->u8_max = 255;
    if (fmt == TSR_QUANT_IQ4_NL) d->lut = tsr_iq4nl_codes;
    if (tsr_qfmt_is_ggml_ext(fmt)) tsr_qggml_codes(fmt, &d->bits, &d->hbits, &d->scale_f32, &d->zconst, &d->u8_max);
    else if (fmt == TSR_QUANT_Q4_1) d->zconst = 0;
    else if (fmt == TSR_QUANT_Q6_K) { d->bits = 4; d->hbits = 2; d->zconst = 32; d->u8_max = 63; }
    else if (d->bits == 4) d->zconst = 8;
    else d->zconst = 128;
    d->ngroups = (int32_t)(k / d->group);
    d->wbytes = (size_t)TSR_QP * (size_t)d->group * (size_t)(d->bits + d->hbits) / 8;
    d->two_level = f->block_elems == 256;  /* the K-quants */
    if (d->two_level) {
        d->gps = 256 / d->group;
        d->sc_in_codes = fmt == TSR_QUANT_Q2_K;
        d->rec_bytes = d->wbytes + TSR_QP + (d->has_min ? TSR_QP : 0);
        d->super_bytes = (size_t)TSR_QP * 2 * (d->has_min ? 2 : 1);
        d->super_off = (size_t)d->ngroups * d->rec_bytes;
        d->panel_bytes = d->super_off + (size_t)(d->ngroups / d->gps) * d->super_bytes;
        return;
    }
    d->rec_bytes = d->wbytes + TSR_QP * (d->scale_f32 ? 4 : 2) + (d->zkind == TSR_QZ_ROW ? TSR_QP : 0) +
                   (d->has_min ? TSR_QP * (d->scale_f32 ? 4 : 2) : 0);
    d->panel_bytes = (size_t)d->ngroups * d->rec_bytes;
}

/*
 * Decodes one source row into unsigned values u[k] (the packed meaning), raw scale
 * words (f16 bits or f32 bits) and extras (zero point or f16 min bits) per group.
 */
static void decode_row(tsr_quant_format fmt, const tsr_qkernel_desc *d, const uint8_t *row, int64_t k,
                       uint8_t *u, uint32_t *scale, uint32_t *extra) {
    const tsr_qfmt *f = tsr_qfmt_get(fmt);
    const int64_t nb = k / f->block_elems;
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *blk = row + b * f->block_bytes;
        uint8_t *ub = u + b * f->block_elems;
        if (tsr_qfmt_is_ggml_ext(fmt)) {
            const int64_t gpb = f->block_elems / f->group;
            tsr_qggml_unpack(fmt, blk, ub, scale + b * gpb, extra + b * gpb);
            continue;
        }
        switch (fmt) {
        case TSR_QUANT_Q4_0:
        case TSR_QUANT_Q4_1: {
            const int off = fmt == TSR_QUANT_Q4_0 ? 2 : 4;
            for (int j = 0; j < 16; j++) { ub[j] = blk[off + j] & 15; ub[j + 16] = blk[off + j] >> 4; }
            scale[b] = tsr_ld16(blk);
            if (fmt == TSR_QUANT_Q4_1) extra[b] = tsr_ld16(blk + 2);
            break;
        }
        case TSR_QUANT_Q8_0:
            for (int j = 0; j < 32; j++) ub[j] = (uint8_t)((int8_t)blk[2 + j] + 128);
            scale[b] = tsr_ld16(blk);
            break;
        case TSR_QUANT_Q6_K: {
            /* one Q6_K block = 16 groups of 16 with f32 scale d·sc (exact in f32) */
            const float dd = tsr_f16_to_f32(tsr_ld16(blk + 208));
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
                uint8_t *L = ub + 128 * h;
                for (int l = 0; l < 32; l++) {
                    L[l] = (uint8_t)((ql[l] & 15) | ((qh[l] & 3) << 4));
                    L[l + 32] = (uint8_t)((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4));
                    L[l + 64] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
                    L[l + 96] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
                }
            }
            for (int i = 0; i < 16; i++) {
                const float s = dd * (float)(int8_t)blk[192 + i];
                uint32_t bits;
                memcpy(&bits, &s, 4);
                scale[b * 16 + i] = bits;
            }
            break;
        }
        default: {
            const int g = f->group, sb = f->scale_bytes;
            if (sb == 2) scale[b] = tsr_ld16(blk);
            else memcpy(&scale[b], blk, 4);
            if (f->weight_bits == 4) {
                const uint8_t *qs = blk + sb + f->zero_point;
                for (int j = 0; j < g; j += 2) { ub[j] = qs[j / 2] & 15; ub[j + 1] = qs[j / 2] >> 4; }
                if (f->zero_point) extra[b] = blk[sb];
            } else {
                for (int j = 0; j < g; j++) ub[j] = (uint8_t)((int8_t)blk[sb + j] + 128);
            }
            break;
        }
        }
    }
    (void)d;
}

/* The nibble stored for code u: its low 4 bits, or its index in the plan's table. */
static uint8_t nibble(const tsr_qkernel_desc *d, uint8_t u) {
    if (!d->lut) return u & 15;
    for (uint8_t i = 0; i < 16; i++)
        if (d->lut[i] == u) return i;
    return 0;  /* not reached: decode_row gives table codes */
}

/* Row r's scales of a two-level panel: int8 sub-scales (and u8 sub-minimums) into each record,
 * f16 d (and −dmin) into the super-block table. */
static void pack_subscales(tsr_quant_format fmt, const tsr_qkernel_desc *d, const uint8_t *row, int r, uint8_t *dst) {
    const int32_t bb = tsr_qfmt_get(fmt)->block_bytes;
    for (int64_t b = 0; b < d->ngroups / d->gps; b++) {
        uint16_t dh, nm;
        int8_t sc[16];
        uint8_t m[16];
        tsr_qggml_subscales(fmt, row + b * bb, &dh, &nm, sc, m);
        uint8_t *sup = dst + d->super_off + (size_t)b * d->super_bytes;
        tsr_st16(sup + 2 * r, dh);
        if (d->has_min) tsr_st16(sup + 2 * TSR_QP + 2 * r, nm);
        for (int j = 0; j < d->gps; j++) {
            uint8_t *rec = dst + (size_t)(b * d->gps + j) * d->rec_bytes;
            rec[d->wbytes + r] = (uint8_t)sc[j];
            if (d->has_min) rec[d->wbytes + TSR_QP + r] = m[j];
        }
    }
}

typedef struct {
    const tsr_quant_matrix *w;
    size_t stride;
    const tsr_qkernel_desc *d;
    int32_t ftype;
    size_t panel_bytes;
    uint8_t *packed;
    tsr_pool_t *pool;
    int32_t failed;
} pack_ctx;

static void pack_float_panel(const pack_ctx *c, int64_t p) {
    const tsr_quant_matrix *w = c->w;
    const size_t es = c->ftype == TSR_QF_F32 ? 4 : 2;
    uint8_t *dst = c->packed + (size_t)p * c->panel_bytes;
    memset(dst, 0, c->panel_bytes);
    for (int r = 0; r < TSR_QP; r++) {
        const int64_t row = p * TSR_QP + r;
        if (row >= w->n) break;
        const uint8_t *src = (const uint8_t *)w->data + (size_t)row * c->stride;
        for (int64_t kk = 0; kk < w->k; kk++)
            memcpy(dst + ((size_t)kk * TSR_QP + r) * es, src + (size_t)kk * es, es);
    }
}

static void pack_panels(void *vctx, int64_t p0, int64_t p1, int32_t worker) {
    pack_ctx *c = vctx;
    const tsr_quant_matrix *w = c->w;
    const tsr_qkernel_desc *d = c->d;
    if (c->ftype >= 0) {
        for (int64_t p = p0; p < p1; p++) pack_float_panel(c, p);
        return;
    }
    const int64_t k = w->k, ng = d->ngroups, g = d->group;
    const size_t ss = d->scale_f32 ? 4 : 2;
    /* one allocation per range (plan creation is not a hot path; no scratch shared across pools) */
    uint8_t *u = tsr_malloc((size_t)k + (size_t)ng * 8 + 64);
    if (!u) { __atomic_store_n(&c->failed, 1, __ATOMIC_RELAXED); return; }
    uint32_t *scale = (uint32_t *)(void *)(u + ((k + 63) & ~(int64_t)63));
    uint32_t *extra = scale + ng;
    for (int64_t p = p0; p < p1; p++) {
        uint8_t *dst = c->packed + (size_t)p * c->panel_bytes;
        memset(dst, 0, c->panel_bytes);
        for (int r = 0; r < TSR_QP; r++) {
            const int64_t row = p * TSR_QP + r;
            if (row >= w->n) break;  /* padding rows: zero weights and zero scales */
            memset(extra, 0, (size_t)ng * 4);
            decode_row(w->format, d, (const uint8_t *)w->data + (size_t)row * c->stride, k, u, scale, extra);
            for (int64_t gi = 0; gi < ng; gi++) {
                uint8_t *rec = dst + (size_t)gi * d->rec_bytes;
                const uint8_t *ug = u + gi * g;
                if (d->bits == 4) {
                    for (int64_t j = 0; j < g / 8; j++)
                        for (int i = 0; i < 4; i++)
                            rec[64 * j + 4 * r + i] = (uint8_t)(nibble(d, ug[8 * j + i]) | (nibble(d, ug[8 * j + 4 + i]) << 4));
                    for (int64_t e = 0; d->hbits && e < g; e++) {  /* the high plane */
                        const int fpc = 32 / d->hbits, c = (int)(e / fpc), f = (int)(e % fpc) / 4, i = (int)(e % 4);
                        rec[8 * g + 64 * c + 4 * r + i] |= (uint8_t)((ug[e] >> 4) << (d->hbits * f));
                    }
                } else {
                    for (int64_t j = 0; j < g / 4; j++)
                        for (int i = 0; i < 4; i++) rec[64 * j + 4 * r + i] = ug[4 * j + i];
                }
                if (d->two_level) continue;  /* scales below, per super-block */
                uint8_t *sc = rec + d->wbytes;
                if (ss == 2) tsr_st16(sc + 2 * r, (uint16_t)scale[gi]);
                else memcpy(sc + 4 * r, &scale[gi], 4);
                uint8_t *ex = sc + TSR_QP * ss;
                if (d->zkind == TSR_QZ_ROW) ex[r] = (uint8_t)extra[gi];
                if (d->has_min && ss == 2) tsr_st16(ex + 2 * r, (uint16_t)extra[gi]);
                else if (d->has_min) memcpy(ex + 4 * r, &extra[gi], 4);
            }
            if (d->two_level) pack_subscales(w->format, d, (const uint8_t *)w->data + (size_t)row * c->stride, r, dst);
        }
    }
    tsr_free(u);
}

tsr_status tsr_qgemm_pack(tsr_pool_t *pool, const tsr_quant_matrix *w, const tsr_qkernel_desc *d,
                                       int32_t ftype, size_t panel_bytes, int64_t npanels, uint8_t *packed) {
    size_t rb;
    TSR_TRY(tsr_quant_row_bytes(w->format, w->k, &rb));
    pack_ctx c = {w, w->row_stride ? w->row_stride : rb, d, ftype, panel_bytes, packed, pool, 0};
    TSR_TRY(tsr_parallel_for(pool, npanels, 1, TSR_SCHEDULE_DYNAMIC, pack_panels, &c));
    if (c.failed) return tsr_error(TSR_ENOMEM, "tsr_qgemm_plan_create: out of scratch memory while repacking");
    return TSR_OK;
}

/* Inverse of the packing: x = s·(u − z) (+ min), the same float operations as the
 * storage-format dequantizers, so the result is bit-identical to tsr_dequantize. */
tsr_status tsr_qgemm_plan_dequantize(const tsr_qgemm_plan_t *plan, float *dst, int64_t ld) {
    TSR_CHECK_NULL(plan);
    TSR_CHECK_NULL(dst);
    TSR_CHECK_ARG(ld >= plan->k, "tsr_qgemm_plan_dequantize: ld = %lld is smaller than k = %lld", (long long)ld,
                  (long long)plan->k);
    int64_t tmp;
    if (tsr_mul_i64(plan->n - 1, ld, &tmp) || tsr_add_i64(tmp, plan->k, &tmp))
        return tsr_error(TSR_ERANGE, "tsr_qgemm_plan_dequantize: n·ld overflows");
    const tsr_qkernel_desc *d = &plan->d;
    for (int64_t row = 0; row < plan->n; row++) {
        const int64_t p = row / TSR_QP;
        const int r = (int)(row % TSR_QP);
        const uint8_t *panel = plan->packed + (size_t)p * plan->panel_bytes;
        float *y = dst + row * ld;
        if (plan->is_float) {
            for (int64_t kk = 0; kk < plan->k; kk++) {
                const size_t idx = (size_t)kk * TSR_QP + r;
                y[kk] = plan->ftype == TSR_QF_F32 ? tsr_ldf(panel + 4 * idx)
                      : plan->ftype == TSR_QF_F16 ? tsr_f16_to_f32(tsr_ld16(panel + 2 * idx))
                                                  : tsr_bf16_to_f32(tsr_ld16(panel + 2 * idx));
            }
            continue;
        }
        const int g = d->group;
        for (int gi = 0; gi < d->ngroups; gi++) {
            const uint8_t *rec = panel + (size_t)gi * d->rec_bytes;
            const uint8_t *sc = rec + d->wbytes, *ex = sc + TSR_QP * (d->scale_f32 ? 4 : 2);
            float s, mn = 0.0f;
            const int z = d->zkind == TSR_QZ_ROW ? ex[r] : d->zconst;
            if (d->two_level) {
                const uint8_t *sup = tsr_qsuper(d, panel, gi);
                s = tsr_f16_to_f32(tsr_ld16(sup + 2 * r)) * (float)(int8_t)sc[r];
                if (d->has_min) mn = tsr_f16_to_f32(tsr_ld16(sup + 2 * TSR_QP + 2 * r)) * (float)sc[TSR_QP + r];
            } else {
                s = d->scale_f32 ? tsr_ldf(sc + 4 * r) : tsr_f16_to_f32(tsr_ld16(sc + 2 * r));
                if (d->has_min) mn = d->scale_f32 ? tsr_ldf(ex + 4 * r) : tsr_f16_to_f32(tsr_ld16(ex + 2 * r));
            }
            for (int e = 0; e < g; e++) {
                int u;
                if (d->bits == 4) {
                    const uint8_t b = rec[64 * (e / 8) + 4 * r + (e % 4)];
                    u = (e % 8) < 4 ? (b & 15) : (b >> 4);
                    if (d->lut) u = d->lut[u];
                    if (d->hbits) {
                        const int fpc = 32 / d->hbits, f = (e % fpc) / 4;
                        const uint8_t h = rec[8 * g + 64 * (e / fpc) + 4 * r + (e % 4)];
                        u |= ((h >> (d->hbits * f)) & ((1 << d->hbits) - 1)) << 4;
                    }
                } else {
                    u = rec[64 * (e / 4) + 4 * r + (e % 4)];
                }
                y[(int64_t)gi * g + e] = d->has_min ? s * (float)u + mn : s * (float)(u - z);
            }
        }
    }
    return TSR_OK;
}
