/*
 * Attention tiles: every kernel path against a float64 naive softmax(scale QK^T + mask) V,
 * over shapes, strides, GQA, masks and dtypes; batch invariance and thread-count
 * independence bit for bit; the LSE merge; bad input.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsr_test.h"

static unsigned long long rng = 0x9E3779B97F4A7C15ull;

static int rand_int(int lo, int hi) { return lo + (int)(tsr_test_rng_next(&rng) % (unsigned long long)(hi - lo + 1)); }

/* ---- typed buffers ------------------------------------------------------------------ */

typedef struct {
    tsr_dtype dt;
    size_t n;
    void *p;
} buf_t;

static buf_t buf_new(tsr_dtype dt, size_t n) {
    buf_t b = {dt, n, tsr_malloc(n * tsr_dtype_size(dt) + 64)};
    memset(b.p, 0, n * tsr_dtype_size(dt));
    return b;
}
static void buf_set(buf_t *b, size_t i, float x) {
    if (b->dt == TSR_DTYPE_F32) ((float *)b->p)[i] = x;
    else if (b->dt == TSR_DTYPE_BF16) ((uint16_t *)b->p)[i] = tsr_f32_to_bf16(x);
    else ((uint16_t *)b->p)[i] = tsr_f32_to_f16(x);
}
static double buf_get(const buf_t *b, size_t i) {
    if (b->dt == TSR_DTYPE_F32) return ((const float *)b->p)[i];
    if (b->dt == TSR_DTYPE_BF16) return tsr_bf16_to_f32(((const uint16_t *)b->p)[i]);
    return tsr_f16_to_f32(((const uint16_t *)b->p)[i]);
}
static void buf_fill(buf_t *b, float amp) {
    for (size_t i = 0; i < b->n; i++) buf_set(b, i, amp * tsr_test_uniform(&rng));
}

/* ---- float64 reference ------------------------------------------------------------- */

static int visible(const tsr_attn_desc *d, const uint64_t *bits, int64_t b, int64_t h, int64_t i, int64_t c) {
    int64_t diag = i + d->kv_len - d->q_len;
    if (d->causal && c > diag) return 0;
    if (d->window_right >= 0 && c > diag + d->window_right) return 0;
    if (d->window_left >= 0 && c < diag - d->window_left) return 0;
    if (d->has_bitset) {
        int64_t bi = b * d->bits.stride_batch + h * d->bits.stride_head + i * d->bits.stride_row + c;
        if (!((bits[bi >> 6] >> (bi & 63)) & 1)) return 0;
    }
    return 1;
}

/* out: o[b][h][i][e] contiguous, lse[b][h][i] */
static void reference(const tsr_attn_desc *d, const buf_t *q, const buf_t *k, const buf_t *v, const uint64_t *bits,
                      const float *bias, double *o, double *lse) {
    double scale = d->scale != 0 ? d->scale : 1.0 / sqrt((double)d->head_dim);
    int64_t D = d->head_dim, group = d->q_heads / d->kv_heads;
    double *z = malloc(sizeof(double) * (size_t)d->kv_len);
    for (int64_t b = 0; b < d->batch; b++)
        for (int64_t h = 0; h < d->q_heads; h++)
            for (int64_t i = 0; i < d->q_len; i++) {
                int64_t kvh = h / group;
                size_t qo = (size_t)(b * d->q.stride_batch + h * d->q.stride_head + i * d->q.stride_row);
                double mx = -INFINITY;
                for (int64_t c = 0; c < d->kv_len; c++) {
                    if (!visible(d, bits, b, h, i, c)) { z[c] = -INFINITY; continue; }
                    size_t ko = (size_t)(b * d->k.stride_batch + kvh * d->k.stride_head + c * d->k.stride_row);
                    double s = 0;
                    for (int64_t e = 0; e < D; e++) s += buf_get(q, qo + e) * buf_get(k, ko + e);
                    s *= scale;
                    if (d->has_bias)
                        s += bias[b * d->bias.stride_batch + h * d->bias.stride_head + i * d->bias.stride_row + c];
                    z[c] = s;
                    if (s > mx) mx = s;
                }
                double *orow = o + ((b * d->q_heads + h) * d->q_len + i) * D;
                for (int64_t e = 0; e < D; e++) orow[e] = 0;
                if (mx == -INFINITY) { lse[(b * d->q_heads + h) * d->q_len + i] = -INFINITY; continue; }
                double sum = 0;
                for (int64_t c = 0; c < d->kv_len; c++) {
                    if (z[c] == -INFINITY) continue;
                    double p = exp(z[c] - mx);
                    sum += p;
                    size_t vo = (size_t)(b * d->v.stride_batch + kvh * d->v.stride_head + c * d->v.stride_row);
                    for (int64_t e = 0; e < D; e++) orow[e] += p * buf_get(v, vo + e);
                }
                for (int64_t e = 0; e < D; e++) orow[e] /= sum;
                lse[(b * d->q_heads + h) * d->q_len + i] = mx + log(sum);
            }
    free(z);
}

/* ---- one randomized case ------------------------------------------------------------ */

typedef struct {
    int64_t B, Hq, Hkv, Sq, Sk, D;
    tsr_dtype qt, kt, vt, ot;
    int causal, wl, wr, bitset, bias, padded, lse;
    float scale;
} case_t;

static const char *dn(tsr_dtype t) { return tsr_dtype_name(t); }

/* Runs the case on every ISA and checks against the reference. Returns max error. */
static double run_case(const case_t *cs, tsr_pool_t *pool) {
    tsr_attn_desc d;
    CHECK_OK(tsr_attn_desc_init(&d, cs->B, cs->Hq, cs->Hkv, cs->Sq, cs->Sk, cs->D));
    d.q_dtype = cs->qt; d.k_dtype = cs->kt; d.v_dtype = cs->vt; d.o_dtype = cs->ot;
    d.causal = cs->causal; d.window_left = cs->wl; d.window_right = cs->wr;
    d.has_bitset = cs->bitset; d.has_bias = cs->bias; d.want_lse = cs->lse; d.scale = cs->scale;
    if (cs->padded) {
        /* KV-cache style: kv rows inside a larger max_context, Q/O with padded rows and
         * heads-interleaved layout [b][row][head][d] */
        int64_t maxctx = cs->Sk + 7, ldk = cs->D + 3;
        d.k.stride_row = ldk; d.k.stride_head = maxctx * ldk; d.k.stride_batch = cs->Hkv * maxctx * ldk;
        d.v.stride_row = cs->D; d.v.stride_head = maxctx * cs->D; d.v.stride_batch = cs->Hkv * maxctx * cs->D + 5;
        d.q.stride_head = cs->D + 1; d.q.stride_row = cs->Hq * (cs->D + 1); d.q.stride_batch = cs->Sq * d.q.stride_row;
        d.o.stride_head = cs->D; d.o.stride_row = cs->Hq * cs->D + 2; d.o.stride_batch = cs->Sq * d.o.stride_row;
    }
    size_t qn = (size_t)((cs->B - 1) * d.q.stride_batch + (cs->Hq - 1) * d.q.stride_head + (cs->Sq - 1) * d.q.stride_row + cs->D);
    size_t kn = (size_t)((cs->B - 1) * d.k.stride_batch + (cs->Hkv - 1) * d.k.stride_head + (cs->Sk - 1) * d.k.stride_row + cs->D);
    size_t vn = (size_t)((cs->B - 1) * d.v.stride_batch + (cs->Hkv - 1) * d.v.stride_head + (cs->Sk - 1) * d.v.stride_row + cs->D);
    size_t on = (size_t)((cs->B - 1) * d.o.stride_batch + (cs->Hq - 1) * d.o.stride_head + (cs->Sq - 1) * d.o.stride_row + cs->D);
    d.q.extent = (int64_t)qn; d.k.extent = (int64_t)kn; d.v.extent = (int64_t)vn; d.o.extent = (int64_t)on;
    buf_t q = buf_new(cs->qt, qn), k = buf_new(cs->kt, kn), v = buf_new(cs->vt, vn), o = buf_new(cs->ot, on);
    buf_fill(&q, 2.0f); buf_fill(&k, 2.0f); buf_fill(&v, 1.0f);
    size_t nrows = (size_t)(cs->B * cs->Hq * cs->Sq);
    size_t nbits = nrows * (size_t)cs->Sk;
    uint64_t *bits = calloc(nbits / 64 + 1, 8);
    float *bias = malloc(sizeof(float) * (nbits + 1));
    for (size_t i = 0; i < nbits; i++) {
        if (tsr_test_rng_next(&rng) % 4 != 0) bits[i >> 6] |= 1ull << (i & 63);
        bias[i] = 3.0f * tsr_test_uniform(&rng);
    }
    float *lse = malloc(sizeof(float) * nrows);
    double *ro = malloc(sizeof(double) * nrows * (size_t)cs->D), *rl = malloc(sizeof(double) * nrows);
    reference(&d, &q, &k, &v, bits, bias, ro, rl);
    double tol = 2e-5;
    if (cs->ot != TSR_DTYPE_F32) tol = cs->ot == TSR_DTYPE_BF16 ? 8e-3 : 1e-3;
    double worst = 0;
    TSR_FOR_EACH_ISA(isa) {
        memset(o.p, 0xFF, on * tsr_dtype_size(cs->ot));
        for (size_t i = 0; i < nrows; i++) lse[i] = 12345.0f;
        tsr_attn_args a = {.size = sizeof a, .q = q.p, .k = k.p, .v = v.p, .o = o.p, .lse = lse,
                           .mask_bits = bits, .bias = bias};
        CHECK_OK(tsr_attention(pool, &d, &a));
        double err = 0, lerr = 0;
        for (int64_t b = 0; b < cs->B; b++)
            for (int64_t h = 0; h < cs->Hq; h++)
                for (int64_t i = 0; i < cs->Sq; i++) {
                    size_t row = (size_t)((b * cs->Hq + h) * cs->Sq + i);
                    size_t oo = (size_t)(b * d.o.stride_batch + h * d.o.stride_head + i * d.o.stride_row);
                    for (int64_t e = 0; e < cs->D; e++) {
                        double x = buf_get(&o, oo + e), r = ro[row * cs->D + e];
                        double df = fabs(x - r);
                        if (!(df <= err)) err = df;  /* NaN sticks */
                    }
                    if (cs->lse) {
                        double x = lse[(b * d.lse.stride_batch + h * d.lse.stride_head + i * d.lse.stride_row)];
                        double r = rl[row];
                        double df = (isinf(r) && x == r) ? 0 : fabs(x - r) / (1 + fabs(r));
                        if (!(df <= lerr)) lerr = df;
                    }
                }
        CHECK_MSG(err <= tol && lerr <= 2e-5,
                  "isa %s B%lld Hq%lld Hkv%lld Sq%lld Sk%lld D%lld %s/%s/%s->%s causal%d win(%d,%d) bits%d bias%d pad%d: "
                  "max |O - ref| = %.3g (tol %.1g), lse rel err %.3g",
                  tsr_isa_name(isa), (long long)cs->B, (long long)cs->Hq, (long long)cs->Hkv, (long long)cs->Sq,
                  (long long)cs->Sk, (long long)cs->D, dn(cs->qt), dn(cs->kt), dn(cs->vt), dn(cs->ot), cs->causal, cs->wl,
                  cs->wr, cs->bitset, cs->bias, cs->padded, err, tol, lerr);
        if (err > worst || err != err) worst = err;
    }
    tsr_free(q.p); tsr_free(k.p); tsr_free(v.p); tsr_free(o.p);
    free(bits); free(bias); free(lse); free(ro); free(rl);
    return worst;
}

static tsr_pool_t *pool2;

TSR_TEST(test_basic_shapes) {
    /* head_dim sweep, odd lengths, no mask and causal */
    int dims[] = {1, 3, 8, 16, 17, 31, 64, 80, 96, 128, 130, 200, 256};
    for (size_t t = 0; t < sizeof dims / sizeof *dims; t++) {
        case_t c = {1, 2, 1, 13, 77, dims[t], TSR_DTYPE_F32, TSR_DTYPE_F32, TSR_DTYPE_F32, TSR_DTYPE_F32,
                    (int)(t & 1), -1, -1, 0, 0, 0, 1, 0};
        run_case(&c, pool2);
    }
}

TSR_TEST(test_random_cases) {
    int n = tsr_test_quick() ? 12 : 60;
    tsr_dtype dts[3] = {TSR_DTYPE_F32, TSR_DTYPE_BF16, TSR_DTYPE_F16};
    for (int t = 0; t < n; t++) {
        case_t c;
        c.Hkv = rand_int(1, 3);
        c.Hq = c.Hkv * rand_int(1, 3);
        c.B = rand_int(1, 2);
        c.Sq = rand_int(1, t % 5 == 0 ? 150 : 40);
        c.Sk = rand_int(1, t % 3 == 0 ? 2600 : 300);
        if (t % 7 == 0) c.Sk = c.Sq + rand_int(0, 5);
        int dchoice[] = {1, 3, 16, 33, 64, 80, 96, 128, 130};
        c.D = dchoice[rand_int(0, 8)];
        c.qt = dts[rand_int(0, 2)]; c.kt = dts[rand_int(0, 2)]; c.vt = dts[rand_int(0, 2)];
        c.ot = t % 4 == 0 ? dts[rand_int(1, 2)] : TSR_DTYPE_F32;
        int mk = t % 6;
        c.causal = mk == 1 || mk == 5 || (mk == 4 && t % 2);
        c.wl = mk == 2 ? rand_int(0, 50) : -1;
        c.wr = mk == 2 ? rand_int(-1, 3) : -1;
        c.bitset = mk == 3 || mk == 5;
        c.bias = mk == 4;
        c.padded = t % 2;
        c.lse = 1;
        c.scale = t % 5 == 1 ? 0.3f : 0.0f;
        /* big shapes are slow in the float64 reference: keep the work bounded */
        while ((double)c.B * c.Hq * c.Sq * c.Sk * c.D > 4e7 * (tsr_test_quick() ? 0.2 : 1)) c.Sk = c.Sk / 2 + 1;
        run_case(&c, pool2);
    }
}

TSR_TEST(test_fully_masked_rows) {
    /* window_right = -1 is "none"; make rows with no key: causal with q_len > kv_len puts
     * the first rows before key 0 */
    case_t c = {1, 2, 2, 20, 8, 32, TSR_DTYPE_F32, TSR_DTYPE_F32, TSR_DTYPE_F32, TSR_DTYPE_F32, 1, -1, -1, 0, 0, 0, 1, 0};
    run_case(&c, pool2);
    tsr_attn_desc d;
    tsr_attn_desc_init(&d, 1, 1, 1, 20, 8, 32);
    d.causal = 1; d.want_lse = 1;
    float *q = calloc(20 * 32, 4), *k = calloc(8 * 32, 4), *v = calloc(8 * 32, 4), *o = malloc(20 * 32 * 4), lse[20];
    for (int i = 0; i < 8 * 32; i++) v[i] = 1.0f;
    TSR_FOR_EACH_ISA(isa) {
        memset(o, 0xFF, 20 * 32 * 4);
        tsr_attn_args a = {.size = sizeof a, .q = q, .k = k, .v = v, .o = o, .lse = lse};
        CHECK_OK(tsr_attention(pool2, &d, &a));
        for (int i = 0; i < 12; i++) {
            CHECK(isinf(lse[i]) && lse[i] < 0);
            for (int e = 0; e < 32; e++) CHECK(o[i * 32 + e] == 0.0f);
        }
        for (int i = 12; i < 20; i++) CHECK_NEAR(o[i * 32], 1.0, 1e-6);
        CHECK_NEAR(lse[19], log(8.0), 1e-6);
    }
    free(q); free(k); free(v); free(o);
}

/* Model-runner shape: KV cache for max_context rows, GQA 9/3, D 64, causal. The rows of a
 * q_len = k call must be bit-identical to k calls with q_len = 1 over the same keys, on
 * every ISA and for 1 and 2 (and 3) threads. */
TSR_TEST(test_batch_invariance) {
    const int64_t maxctx = tsr_test_quick() ? 2600 : 5000, D = 64, Hq = 9, Hkv = 3;
    const int64_t past = maxctx - 80;
    float *kc = malloc(sizeof(float) * Hkv * maxctx * D), *vc = malloc(sizeof(float) * Hkv * maxctx * D);
    for (int64_t i = 0; i < Hkv * maxctx * D; i++) { kc[i] = tsr_test_uniform(&rng); vc[i] = tsr_test_uniform(&rng); }
    /* 1, 2 and 3 workers; 3 only where there are 3 cores (oversubscribed spinning pools are slow) */
    tsr_topology_info topo = {.size = sizeof topo};
    tsr_topology_info_get(&topo);
    const int npools = topo.cores >= 3 ? 3 : 2;
    tsr_pool_t *pools[3] = {NULL, NULL, NULL};
    for (int t = 0; t < npools; t++) {
        tsr_pool_params pp;
        tsr_pool_params_default(&pp);
        pp.n_threads = t + 1;
        CHECK_OK(tsr_pool_create(&pp, &pools[t]));
    }
    int qlens[] = {1, 5, 40, 2, 8};
    const size_t nq = tsr_test_quick() ? 3 : 5;
    TSR_FOR_EACH_ISA(isa) {
        for (size_t qi = 0; qi < nq; qi++) {
            int64_t k = qlens[qi], kv_len = past + k;
            /* queries [b=1][Hq][k][D] contiguous */
            float *q = malloc(sizeof(float) * Hq * k * D), *o = malloc(sizeof(float) * Hq * k * D);
            float *lse = malloc(sizeof(float) * Hq * k);
            for (int64_t i = 0; i < Hq * k * D; i++) q[i] = tsr_test_uniform(&rng);
            tsr_attn_desc d;
            tsr_attn_desc_init(&d, 1, Hq, Hkv, k, kv_len, D);
            d.causal = 1; d.want_lse = 1;
            d.k.stride_head = d.v.stride_head = maxctx * D;
            d.k.stride_batch = d.v.stride_batch = Hkv * maxctx * D;
            tsr_attn_args a = {.size = sizeof a, .q = q, .k = kc, .v = vc, .o = o, .lse = lse};
            CHECK_OK(tsr_attention(pools[1], &d, &a));
            int same = 1, same_threads = 1;
            float *o1 = malloc(sizeof(float) * D), l1;
            for (int t = 0; t < npools; t += 2) {
                float *o2 = malloc(sizeof(float) * Hq * k * D), *l2 = malloc(sizeof(float) * Hq * k);
                tsr_attn_args a2 = a; a2.o = o2; a2.lse = l2;
                CHECK_OK(tsr_attention(pools[t], &d, &a2));
                same_threads &= memcmp(o, o2, sizeof(float) * Hq * k * D) == 0 && memcmp(lse, l2, sizeof(float) * Hq * k) == 0;
                free(o2); free(l2);
            }
            for (int64_t h = 0; h < Hq; h += tsr_test_quick() ? 4 : 1)
                for (int64_t i = 0; i < k; i++) {
                    tsr_attn_desc d1 = d;
                    d1.q_len = 1;
                    d1.kv_len = past + i + 1;
                    d1.q.stride_head = D; d1.o.stride_head = D; d1.lse.stride_head = 1;
                    /* one query head: point at head h, give the call all Hq heads' layout? simpler:
                     * a 1-head view with kv head h/3 */
                    d1.q_heads = 1; d1.kv_heads = 1;
                    const float *kh = kc + (h / 3) * maxctx * D, *vh = vc + (h / 3) * maxctx * D;
                    tsr_attn_args a1 = {.size = sizeof a1, .q = q + (h * k + i) * D, .k = kh, .v = vh, .o = o1, .lse = &l1};
                    CHECK_OK(tsr_attention(pools[(h + i) % npools], &d1, &a1));
                    if (memcmp(o1, o + (h * k + i) * D, sizeof(float) * D) != 0 || l1 != lse[h * k + i]) same = 0;
                }
            CHECK_MSG(same, "isa %s q_len %lld: rows differ from q_len = 1 runs", tsr_isa_name(isa), (long long)k);
            CHECK_MSG(same_threads, "isa %s q_len %lld: result depends on the thread count", tsr_isa_name(isa),
                      (long long)k);
            free(o1); free(q); free(o); free(lse);
        }
    }
    for (int t = 0; t < npools; t++) tsr_pool_destroy(pools[t]);
    free(kc); free(vc);
}

/* Runs one causal problem with K/V of dtype kvt (row stride rs elements) into o / lse. */
static void run_kv(int64_t Hq, int64_t Hkv, int64_t ql, int64_t Sk, int64_t D, int64_t rs, tsr_dtype kvt, const void *k,
                   const void *v, const float *q, float *o, float *lse) {
    tsr_attn_desc d;
    tsr_attn_desc_init(&d, 1, Hq, Hkv, ql, Sk, D);
    d.causal = 1; d.want_lse = 1;
    d.k_dtype = d.v_dtype = kvt;
    d.k.stride_row = d.v.stride_row = rs;
    d.k.stride_head = d.v.stride_head = Sk * rs;
    d.k.stride_batch = d.v.stride_batch = Hkv * Sk * rs;
    tsr_attn_args a = {.size = sizeof a, .q = q, .k = k, .v = v, .o = o, .lse = lse};
    CHECK_OK(tsr_attention(pool2, &d, &a));
}

/* bf16 and f16 K/V are widened exactly, so every ISA must give the same bits as f32 K/V holding
 * the widened values (AVX-512 transposes bf16 pairs in pack_kt, reads bf16 / f16 V rows in place
 * in pv_bf16 / pv_f16 and, for the <= 4 rows of a decode step, computes QK^T straight from the
 * bf16, f16 or f32 K rows in qk_rows; the others convert in pack_kt / pack_rows). And a decode step (q_len 1: 1..4 rows
 * per KV head, the fused path) must give the bits of the same query as the last row of a
 * q_len = 5 call (5..20 rows: the K^T tile path). Head dims cover odd ones, the 16-column edge
 * vectors of pv (48, 80) and dims that are not a multiple of 32; row strides include padding. */
TSR_TEST(test_half_kv_bits) {
    const tsr_dtype halves[2] = {TSR_DTYPE_BF16, TSR_DTYPE_F16};
    const int dims[] = {16, 33, 48, 64, 80, 96, 128, 256};
    const int64_t heads[][2] = {{8, 2}, {3, 1}, {4, 2}, {2, 2}}; /* decode rows per KV head: 4, 3, 2, 1 */
    const size_t nd = tsr_test_quick() ? 5 : sizeof dims / sizeof dims[0];
    for (int hv = 0; hv < 2; hv++)
    TSR_FOR_EACH_ISA(isa) {
        const tsr_dtype ht = halves[hv];
        for (size_t di = 0; di < nd; di++)
            for (int hi = 0; hi < 4; hi++) {
                const int64_t D = dims[di], Hq = heads[hi][0], Hkv = heads[hi][1], Sk = 700 + 13 * hi, QL = 5;
                const int64_t rs = D + (di % 2 ? 0 : 8); /* row stride (elements) */
                const size_t nkv = (size_t)(Hkv * Sk * rs), no = (size_t)(Hq * QL * D);
                buf_t kb = buf_new(ht, nkv), vb = buf_new(ht, nkv);
                buf_t kf = buf_new(TSR_DTYPE_F32, nkv), vf = buf_new(TSR_DTYPE_F32, nkv);
                buf_fill(&kb, 2.0f);
                buf_fill(&vb, 1.0f);
                for (size_t i = 0; i < nkv; i++) {
                    buf_set(&kf, i, (float)buf_get(&kb, i));
                    buf_set(&vf, i, (float)buf_get(&vb, i));
                }
                float *q5 = malloc(sizeof(float) * no), *q1 = malloc(sizeof(float) * Hq * D);
                float *o[4], l[4][40];
                for (int t = 0; t < 4; t++) o[t] = malloc(sizeof(float) * no);
                for (size_t i = 0; i < no; i++) q5[i] = tsr_test_uniform(&rng);
                for (int64_t h = 0; h < Hq; h++) memcpy(q1 + h * D, q5 + (h * QL + QL - 1) * D, sizeof(float) * D);
                run_kv(Hq, Hkv, QL, Sk, D, rs, TSR_DTYPE_F32, kf.p, vf.p, q5, o[0], l[0]);
                run_kv(Hq, Hkv, QL, Sk, D, rs, ht, kb.p, vb.p, q5, o[1], l[1]);
                run_kv(Hq, Hkv, 1, Sk, D, rs, TSR_DTYPE_F32, kf.p, vf.p, q1, o[2], l[2]);
                run_kv(Hq, Hkv, 1, Sk, D, rs, ht, kb.p, vb.p, q1, o[3], l[3]);
                int same5 = memcmp(o[0], o[1], sizeof(float) * no) == 0 && memcmp(l[0], l[1], sizeof(float) * Hq * QL) == 0;
                int same1 = memcmp(o[2], o[3], sizeof(float) * Hq * D) == 0 && memcmp(l[2], l[3], sizeof(float) * Hq) == 0;
                int same_rows = 1;
                for (int64_t h = 0; h < Hq; h++)
                    same_rows &= memcmp(o[3] + h * D, o[1] + (h * QL + QL - 1) * D, sizeof(float) * D) == 0 &&
                                 l[3][h] == l[1][h * QL + QL - 1];
                CHECK_MSG(same5 && same1, "%s isa %s D %lld Hq %lld Hkv %lld: K/V differ from their f32 values (q_len 5: %d, 1: %d)",
                          tsr_dtype_name(ht), tsr_isa_name(isa), (long long)D, (long long)Hq, (long long)Hkv, same5, same1);
                CHECK_MSG(same_rows, "%s isa %s D %lld Hq %lld Hkv %lld: decode rows differ from the last rows of q_len 5",
                          tsr_dtype_name(ht), tsr_isa_name(isa), (long long)D, (long long)Hq, (long long)Hkv);
                free(q5); free(q1);
                for (int t = 0; t < 4; t++) free(o[t]);
                tsr_free(kb.p); tsr_free(vb.p); tsr_free(kf.p); tsr_free(vf.p);
            }
    }
}

/* Merge: split the keys at random points into 1..16 parts, compute each part's (O, LSE),
 * merge in a random order, compare with the unsplit result. */
TSR_TEST(test_merge) {
    const int64_t H = 3, Sq = 5, D = 40;
    int reps = tsr_test_quick() ? 5 : 20;
    for (int rep = 0; rep < reps; rep++) {
        int64_t Sk = rand_int(16, 3000);
        float *q = malloc(sizeof(float) * H * Sq * D), *k = malloc(sizeof(float) * H * Sk * D),
              *v = malloc(sizeof(float) * H * Sk * D);
        for (int64_t i = 0; i < H * Sq * D; i++) q[i] = 2 * tsr_test_uniform(&rng);
        for (int64_t i = 0; i < H * Sk * D; i++) { k[i] = 2 * tsr_test_uniform(&rng); v[i] = tsr_test_uniform(&rng); }
        tsr_attn_desc d;
        tsr_attn_desc_init(&d, 1, H, H, Sq, Sk, D);
        d.want_lse = 1;
        float *o = malloc(sizeof(float) * H * Sq * D), *lse = malloc(sizeof(float) * H * Sq);
        tsr_attn_args a = {.size = sizeof a, .q = q, .k = k, .v = v, .o = o, .lse = lse};
        CHECK_OK(tsr_attention(pool2, &d, &a));
        int np = rand_int(1, 16);
        if (np > Sk) np = (int)Sk;
        int64_t cuts[17];
        cuts[0] = 0; cuts[np] = Sk;
        for (int p = 1; p < np; p++) cuts[p] = rand_int(1, (int)Sk - 1);
        for (int p = 1; p < np; p++)  /* sort; duplicates give empty parts, which we allow as -inf parts */
            for (int s = p + 1; s < np; s++) if (cuts[s] < cuts[p]) { int64_t t = cuts[s]; cuts[s] = cuts[p]; cuts[p] = t; }
        float *po[16], *pl[16];
        int order[16];
        for (int p = 0; p < np; p++) {
            order[p] = p;
            po[p] = malloc(sizeof(float) * H * Sq * D);
            pl[p] = malloc(sizeof(float) * H * Sq);
            int64_t len = cuts[p + 1] - cuts[p];
            if (len == 0) {  /* an empty key range: O = 0, LSE = -inf */
                for (int64_t i = 0; i < H * Sq * D; i++) po[p][i] = 0;
                for (int64_t i = 0; i < H * Sq; i++) pl[p][i] = -INFINITY;
                continue;
            }
            tsr_attn_desc dp = d;
            dp.kv_len = len;
            tsr_attn_args ap = {.size = sizeof ap, .q = q, .k = k + cuts[p] * D, .v = v + cuts[p] * D, .o = po[p], .lse = pl[p]};
            CHECK_OK(tsr_attention(pool2, &dp, &ap));
        }
        for (int p = np - 1; p > 0; p--) { int s = rand_int(0, p); int t = order[p]; order[p] = order[s]; order[s] = t; }
        const float *oo[16], *ll[16];
        for (int p = 0; p < np; p++) { oo[p] = po[order[p]]; ll[p] = pl[order[p]]; }
        float *mo = malloc(sizeof(float) * H * Sq * D), *ml = malloc(sizeof(float) * H * Sq);
        CHECK_OK(tsr_attn_merge(pool2, np, H * Sq, D, oo, ll, D, mo, ml));
        double err = 0, lerr = 0;
        for (int64_t i = 0; i < H * Sq * D; i++) err = fmax(err, fabs(mo[i] - o[i]));
        for (int64_t i = 0; i < H * Sq; i++) lerr = fmax(lerr, fabs(ml[i] - lse[i]));
        CHECK_MSG(err < 3e-6 && lerr < 3e-5, "merge of %d parts (Sk %lld): O err %.3g, LSE err %.3g", np, (long long)Sk, err, lerr);
        /* in place: output aliases part 0 */
        CHECK_OK(tsr_attn_merge(pool2, np, H * Sq, D, oo, ll, D, (float *)oo[0], (float *)ll[0]));
        CHECK(memcmp(oo[0], mo, sizeof(float) * H * Sq * D) == 0);
        for (int p = 0; p < np; p++) { free(po[p]); free(pl[p]); }
        free(q); free(k); free(v); free(o); free(lse); free(mo); free(ml);
    }
    /* all parts empty */
    float o0[4] = {1, 2, 3, 4}, l0[1] = {-INFINITY}, o1[4] = {5, 6, 7, 8}, l1[1] = {-INFINITY}, mo[4], ml[1];
    const float *oo[2] = {o0, o1}, *ll[2] = {l0, l1};
    CHECK_OK(tsr_attn_merge(NULL, 2, 1, 4, oo, ll, 4, mo, ml));
    CHECK(mo[0] == 0 && mo[3] == 0 && isinf(ml[0]) && ml[0] < 0);
    CHECK_STATUS(tsr_attn_merge(NULL, 0, 1, 4, oo, ll, 4, mo, ml), TSR_EINVAL);
    CHECK_STATUS(tsr_attn_merge(NULL, 2, 1, 4, NULL, ll, 4, mo, ml), TSR_EINVAL);
    CHECK_STATUS(tsr_attn_merge(NULL, 2, 1, 4, oo, ll, 3, mo, ml), TSR_EINVAL);
    CHECK_STATUS(tsr_attn_merge(NULL, 2, 0, 4, oo, ll, 4, mo, ml), TSR_EINVAL);
}

TSR_TEST(test_nan_propagates) {
    tsr_attn_desc d;
    tsr_attn_desc_init(&d, 1, 1, 1, 4, 300, 16);
    d.want_lse = 1;
    float *q = malloc(4 * 16 * 4), *k = malloc(300 * 16 * 4), *v = malloc(300 * 16 * 4), o[64], lse[4];
    for (int i = 0; i < 64; i++) q[i] = tsr_test_uniform(&rng);
    for (int i = 0; i < 300 * 16; i++) { k[i] = tsr_test_uniform(&rng); v[i] = tsr_test_uniform(&rng); }
    v[200 * 16 + 3] = NAN;   /* every row sees key 200: column 3 of every row is NaN */
    q[2 * 16 + 5] = NAN;      /* row 2: all scores NaN */
    TSR_FOR_EACH_ISA(isa) {
        tsr_attn_args a = {.size = sizeof a, .q = q, .k = k, .v = v, .o = o, .lse = lse};
        CHECK_OK(tsr_attention(pool2, &d, &a));
        CHECK(isnan(o[3]) && isnan(o[16 + 3]) && !isnan(o[0]) && !isnan(o[16]));
        CHECK(isnan(o[2 * 16]) && isnan(lse[2]));
        k[7] = INFINITY;
        CHECK_OK(tsr_attention(pool2, &d, &a));  /* Inf in K: no crash */
        k[7] = 0.5f;
    }
    free(q); free(k); free(v);
}

TSR_TEST(test_long_decode) {
    /* one query row over 1M bf16 keys (256K under sanitizers): split decode against float64 */
    int64_t Sk = tsr_test_quick() ? (1 << 18) : (1 << 20), D = 16;
    case_t c = {1, 2, 1, 1, Sk, D, TSR_DTYPE_F32, TSR_DTYPE_BF16, TSR_DTYPE_BF16, TSR_DTYPE_F32, 1, -1, -1, 0, 0, 0, 1, 0};
    run_case(&c, pool2);
}

TSR_TEST(test_plan_api) {
    tsr_attn_desc d;
    tsr_attn_desc_init(&d, 1, 4, 2, 33, 2100, 64);
    d.causal = 1;
    tsr_attn_plan_t *plan = NULL;
    CHECK_OK(tsr_attn_plan_create(&d, &plan));
    char desc[512];
    CHECK_OK(tsr_attn_plan_describe(plan, desc, sizeof desc));
    CHECK(strstr(desc, "kv_tile=") != NULL && strstr(desc, "isa=") != NULL);
    float *q = calloc(4 * 33 * 64, 4), *k = calloc(2 * 2100 * 64, 4), *v = calloc(2 * 2100 * 64, 4), *o = malloc(4 * 33 * 64 * 4);
    for (int i = 0; i < 2 * 2100 * 64; i++) v[i] = (float)(i % 7);
    size_t ws = 0;
    d.q_len = 1;
    CHECK_OK(tsr_attn_workspace_size(pool2, &d, &ws));
    CHECK(ws > 0);  /* q_len 1 over 3 chunks: split decode */
    d.q_len = 33;
    void *w = malloc(ws);
    tsr_attn_args a = {.size = sizeof a, .q = q, .k = k, .v = v, .o = o, .workspace = w, .workspace_bytes = ws};
    CHECK_OK(tsr_attn_plan_execute(pool2, plan, &a));
    CHECK_NEAR(o[32 * 64], 3.0, 0.01);  /* uniform attention over keys: mean of i%7 over the keys */
    tsr_attn_plan_destroy(plan);
    tsr_attn_plan_destroy(NULL);
    CHECK_STATUS(tsr_attn_plan_describe(NULL, desc, sizeof desc), TSR_EINVAL);
    free(q); free(k); free(v); free(o); free(w);
}

/* Windows at or past the ends of the key range hide nothing: any value up to INT64_MAX
 * is "unbounded" and gives the bits of window = -1 (no overflow in the band arithmetic,
 * UBSan-clean), on every ISA, for the prefill and the split-decode schedules. */
static void window_vs_unbounded(int64_t Sq, int64_t Sk, int causal, int64_t wl, int64_t wr, int64_t ref_wl,
                                int64_t ref_wr) {
    const int64_t D = 16;
    tsr_attn_desc d;
    tsr_attn_desc_init(&d, 1, 2, 1, Sq, Sk, D);
    d.causal = causal; d.want_lse = 1;
    float *q = malloc(sizeof(float) * 2 * Sq * D), *k = malloc(sizeof(float) * Sk * D), *v = malloc(sizeof(float) * Sk * D);
    float *o1 = malloc(sizeof(float) * 2 * Sq * D), *o2 = malloc(sizeof(float) * 2 * Sq * D);
    float *l1 = malloc(sizeof(float) * 2 * Sq), *l2 = malloc(sizeof(float) * 2 * Sq);
    for (int64_t i = 0; i < 2 * Sq * D; i++) q[i] = tsr_test_uniform(&rng);
    for (int64_t i = 0; i < Sk * D; i++) { k[i] = tsr_test_uniform(&rng); v[i] = tsr_test_uniform(&rng); }
    TSR_FOR_EACH_ISA(isa) {
        d.window_left = ref_wl; d.window_right = ref_wr;
        tsr_attn_args a = {.size = sizeof a, .q = q, .k = k, .v = v, .o = o1, .lse = l1};
        CHECK_OK(tsr_attention(pool2, &d, &a));
        d.window_left = wl; d.window_right = wr;
        a.o = o2; a.lse = l2;
        CHECK_OK(tsr_attention(pool2, &d, &a));
        tsr_attn_plan_t *plan = NULL;
        CHECK_OK(tsr_attn_plan_create(&d, &plan));
        int same = memcmp(o1, o2, sizeof(float) * 2 * Sq * D) == 0 && memcmp(l1, l2, sizeof(float) * 2 * Sq) == 0;
        memset(o2, 0, sizeof(float) * 2 * Sq * D);
        CHECK_OK(tsr_attn_plan_execute(pool2, plan, &a));
        same &= memcmp(o1, o2, sizeof(float) * 2 * Sq * D) == 0;
        tsr_attn_plan_destroy(plan);
        int visible_rows = 0;
        for (int64_t i = 0; i < 2 * Sq; i++) visible_rows += isfinite(l1[i]);
        CHECK_MSG(same && visible_rows > 0,
                  "isa %s Sq %lld Sk %lld causal %d window (%lld, %lld): differs from window (%lld, %lld) "
                  "(o[0] %g vs %g, lse[0] %g vs %g)",
                  tsr_isa_name(isa), (long long)Sq, (long long)Sk, causal, (long long)wl, (long long)wr,
                  (long long)ref_wl, (long long)ref_wr, o2[0], o1[0], l2[0], l1[0]);
    }
    free(q); free(k); free(v); free(o1); free(o2); free(l1); free(l2);
}

TSR_TEST(test_extreme_windows) {
    const int64_t M = INT64_MAX;
    /* prefill (q_len 5), decode over 3 chunks (q_len 1), q_len > kv_len (negative diagonal) */
    const int64_t shapes[3][2] = {{5, 300}, {1, 2100}, {20, 8}};
    for (int s = 0; s < 3; s++) {
        const int64_t Sq = shapes[s][0], Sk = shapes[s][1];
        for (int causal = 0; causal <= 1; causal++) {
            window_vs_unbounded(Sq, Sk, causal, -1, M, -1, -1);
            window_vs_unbounded(Sq, Sk, causal, M, -1, -1, -1);
            window_vs_unbounded(Sq, Sk, causal, M, M, -1, -1);
            window_vs_unbounded(Sq, Sk, causal, M - 1, M - 7, -1, -1);
            window_vs_unbounded(Sq, Sk, causal, Sk, Sq, -1, -1);       /* first values that hide nothing */
            window_vs_unbounded(Sq, Sk, causal, Sk - 1, Sq - 1, -1, -1);
            window_vs_unbounded(Sq, Sk, causal, M, 2, -1, 2);          /* one side huge, the other a real band */
            window_vs_unbounded(Sq, Sk, causal, 3, M, 3, -1);
        }
    }
}

/* Shapes whose products overflow int64 are refused (TSR_ERANGE), never computed with
 * wrapped-around counts. */
TSR_TEST(test_extreme_descriptors) {
    tsr_attn_desc d;
    float q[64], k[64], v[64], o[64];
    for (int i = 0; i < 64; i++) { q[i] = k[i] = v[i] = 1; o[i] = 42; }
    tsr_attn_args a = {.size = sizeof a, .q = q, .k = k, .v = v, .o = o};
    /* a huge batch broadcast over zero strides: batch × heads × rows overflows */
    CHECK_OK(tsr_attn_desc_init(&d, 1, 8, 8, 1, 4, 8));
    d.batch = INT64_MAX / 4;
    d.q.stride_batch = d.k.stride_batch = d.v.stride_batch = d.o.stride_batch = 0;
    CHECK_STATUS(tsr_attn_desc_check(&d), TSR_ERANGE);
    CHECK_STATUS(tsr_attention(NULL, &d, &a), TSR_ERANGE);
    size_t ws = 1;
    CHECK_STATUS(tsr_attn_workspace_size(NULL, &d, &ws), TSR_ERANGE);
    CHECK(ws == 0);
    /* contiguous mask/bias layouts of a huge q_len × kv_len: init must not overflow, and a
     * call that would use them is refused */
    CHECK_OK(tsr_attn_desc_init(&d, 3, 1, 1, 1ll << 31, 1ll << 39, 64));
    CHECK_OK(tsr_attn_desc_init(&d, 1, 1, 1, 1ll << 32, 1ll << 39, 64));
    d.has_bitset = 1;
    CHECK_STATUS(tsr_attn_desc_check(&d), TSR_ERANGE);
    d.has_bitset = 0; d.has_bias = 1;
    CHECK_STATUS(tsr_attn_desc_check(&d), TSR_ERANGE);
    int untouched = 1;
    for (int i = 0; i < 64; i++) untouched &= o[i] == 42;
    CHECK_MSG(untouched, "a refused call wrote to O");
}

TSR_TEST(test_bad_input) {
    tsr_attn_desc d;
    float q[64], k[64], v[64], o[64], lse[4];
    uint64_t bits[4] = {0};
    for (int i = 0; i < 64; i++) { q[i] = k[i] = v[i] = 1; o[i] = 42; }
    tsr_attn_args a = {.size = sizeof a, .q = q, .k = k, .v = v, .o = o};
#define BAD(mod, st)                                          \
    do {                                                      \
        tsr_attn_desc_init(&d, 1, 2, 2, 2, 4, 8);             \
        d.q.extent = d.k.extent = d.v.extent = d.o.extent = 64; \
        tsr_attn_args aa = a;                                 \
        (void)aa;                                             \
        mod;                                                  \
        CHECK_STATUS(tsr_attention(NULL, &d, &aa), st);       \
        if ((st) == TSR_OK)                                   \
            for (int i_ = 0; i_ < 64; i_++) o[i_] = 42;       \
    } while (0)
    BAD((void)0, TSR_OK);
    BAD(d.batch = 0, TSR_EINVAL);
    BAD(d.q_heads = -1, TSR_EINVAL);
    BAD(d.kv_len = 0, TSR_EINVAL);
    BAD(d.q_len = 0, TSR_EINVAL);
    BAD(d.head_dim = 0, TSR_EINVAL);
    BAD(d.head_dim = 257, TSR_EINVAL);
    BAD((d.q_heads = 3, d.kv_heads = 2), TSR_EINVAL);
    BAD(d.kv_heads = 4, TSR_EINVAL);
    BAD(d.q_dtype = TSR_DTYPE_I8, TSR_EINVAL);
    BAD(d.o_dtype = TSR_DTYPE_F64, TSR_EINVAL);
    BAD(d.k_dtype = (tsr_dtype)99, TSR_EINVAL);
    BAD(d.scale = NAN, TSR_EINVAL);
    BAD(d.scale = INFINITY, TSR_EINVAL);
    BAD(d.causal = 2, TSR_EINVAL);
    BAD(d.window_left = -2, TSR_EINVAL);
    BAD(d.k.stride_row = -8, TSR_EINVAL);
    BAD(d.k.extent = 63, TSR_ERANGE);
    BAD(d.v.stride_row = 9, TSR_ERANGE);
    BAD(d.o.stride_head = 100, TSR_ERANGE);
    BAD(d.q.stride_batch = INT64_MAX / 2, TSR_OK);  /* batch 1: the batch stride is never used */
    BAD((d.batch = 2, d.q.stride_batch = INT64_MAX / 2, d.q.extent = 0, d.k.extent = 0, d.v.extent = 0, d.o.extent = 0), TSR_ERANGE);
    BAD(d.o.stride_row = 4, TSR_EINVAL);
    BAD(d.want_lse = 1, TSR_EINVAL);          /* lse NULL */
    BAD((d.want_lse = 1, aa.lse = lse, d.lse.extent = 3), TSR_ERANGE);
    BAD(d.has_bitset = 1, TSR_EINVAL);        /* bits NULL */
    BAD((d.has_bitset = 1, aa.mask_bits = bits, d.bits.extent = 10), TSR_ERANGE);
    BAD(d.has_bias = 1, TSR_EINVAL);
    BAD(aa.q = NULL, TSR_EINVAL);
    BAD(aa.o = NULL, TSR_EINVAL);
    BAD(aa.size = 4, TSR_EINVAL);
    BAD(d.size = 8, TSR_EINVAL);
    int untouched = 1;
    for (int i = 0; i < 64; i++) untouched &= o[i] == 42;
    CHECK_MSG(untouched, "a failing call wrote to O");
    CHECK_STATUS(tsr_attention(NULL, NULL, &a), TSR_EINVAL);
    tsr_attn_desc_init(&d, 1, 2, 2, 2, 4, 8);
    CHECK_STATUS(tsr_attention(NULL, &d, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_attn_desc_init(NULL, 1, 1, 1, 1, 1, 1), TSR_EINVAL);
    tsr_attn_plan_t *p = (tsr_attn_plan_t *)&d;
    d.head_dim = 0;
    CHECK_STATUS(tsr_attn_plan_create(&d, &p), TSR_EINVAL);
    CHECK(p == NULL);
    CHECK_STATUS(tsr_attn_plan_create(&d, NULL), TSR_EINVAL);
    size_t ws;
    CHECK_STATUS(tsr_attn_workspace_size(NULL, &d, &ws), TSR_EINVAL);
#undef BAD
}

int main(void) {
    tsr_pool_params pp;
    tsr_pool_params_default(&pp);
    pp.n_threads = 2;
    if (tsr_pool_create(&pp, &pool2) != TSR_OK) { printf("pool: %s\n", tsr_last_error()); return 1; }
    RUN(test_basic_shapes);
    RUN(test_fully_masked_rows);
    RUN(test_random_cases);
    RUN(test_batch_invariance);
    RUN(test_half_kv_bits);
    RUN(test_merge);
    RUN(test_nan_propagates);
    RUN(test_long_decode);
    RUN(test_plan_api);
    RUN(test_bad_input);
    RUN(test_extreme_windows);
    RUN(test_extreme_descriptors);
    tsr_pool_destroy(pool2);
    return tsr_test_summary();
}
