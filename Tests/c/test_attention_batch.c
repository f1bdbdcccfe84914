/*
 * tsr_attention_batch: many sequences, each on its own KV cache, in one call. Every
 * sequence's rows against a float64 naive softmax(scale QK^T + mask) V, and bit for bit
 * against tsr_attention on that sequence alone (on every ISA, 1 and 2 threads, any order
 * and mix of the other sequences), with K/V caches in f32, f16 and bf16 (the float64 reference
 * reads the values the half types hold); bad input refused with nothing written.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsr_test.h"

static unsigned long long rng = 0x5DEECE66Dull;

static int rand_int(int lo, int hi) { return lo + (int)(tsr_test_rng_next(&rng) % (unsigned long long)(hi - lo + 1)); }

/* A model-like layer: head dim D, Hq query heads over Hkv KV heads, caches of maxctx rows
 * `[Hkv][maxctx][D]` (f32), queries and outputs token-major `[q_len][Hq][D]`. */
enum { D = 64, HQ = 9, HKV = 3, NSEQ = 7 };

typedef struct {
    int64_t q_len, kv_len, maxctx;
    float *k, *v, *q, *o, *lse;
    uint16_t *kh, *vh; /* the caches as stored when kv_dt is f16 / bf16 (k, v: their values) */
} seq_t;

/* Element type of the K/V caches of the sequences made next. */
static tsr_dtype kv_dt = TSR_DTYPE_F32;

static uint16_t to_half(float x) { return kv_dt == TSR_DTYPE_BF16 ? tsr_f32_to_bf16(x) : tsr_f32_to_f16(x); }
static float from_half(uint16_t h) { return kv_dt == TSR_DTYPE_BF16 ? tsr_bf16_to_f32(h) : tsr_f16_to_f32(h); }

static tsr_attn_desc layer_desc(int64_t maxctx, int64_t window) {
    tsr_attn_desc d;
    tsr_attn_desc_init(&d, 1, HQ, HKV, 1, 1, D);
    d.causal = 1;
    d.want_lse = 1;
    if (window > 0) d.window_left = window - 1;
    d.q.stride_row = d.o.stride_row = HQ * D; d.q.stride_head = d.o.stride_head = D;
    d.k.stride_row = d.v.stride_row = D; d.k.stride_head = d.v.stride_head = maxctx * D;
    d.k.extent = d.v.extent = HKV * maxctx * D;
    d.lse.stride_row = HQ; d.lse.stride_head = 1;
    d.k_dtype = d.v_dtype = kv_dt;
    return d;
}

static void seq_new(seq_t *s, int64_t q_len, int64_t kv_len, int64_t maxctx) {
    s->q_len = q_len; s->kv_len = kv_len; s->maxctx = maxctx;
    size_t kvn = (size_t)(HKV * maxctx * D), qn = (size_t)(q_len * HQ * D);
    s->k = malloc(sizeof(float) * kvn); s->v = malloc(sizeof(float) * kvn);
    s->q = malloc(sizeof(float) * qn); s->o = malloc(sizeof(float) * qn);
    s->lse = malloc(sizeof(float) * (size_t)(q_len * HQ));
    for (size_t i = 0; i < kvn; i++) { s->k[i] = (float)tsr_test_uniform(&rng); s->v[i] = (float)tsr_test_uniform(&rng); }
    for (size_t i = 0; i < qn; i++) s->q[i] = (float)(2 * tsr_test_uniform(&rng));
    s->kh = s->vh = NULL;
    if (kv_dt != TSR_DTYPE_F32) {
        s->kh = malloc(sizeof(uint16_t) * kvn); s->vh = malloc(sizeof(uint16_t) * kvn);
        for (size_t i = 0; i < kvn; i++) {
            s->kh[i] = to_half(s->k[i]); s->k[i] = from_half(s->kh[i]);
            s->vh[i] = to_half(s->v[i]); s->v[i] = from_half(s->vh[i]);
        }
    }
}

static void seq_free(seq_t *s) { free(s->k); free(s->v); free(s->q); free(s->o); free(s->lse); free(s->kh); free(s->vh); }

/* The cache as the kernels read it: f32 rows, or the f16 / bf16 ones. */
static const void *seq_k(const seq_t *s) { return s->kh ? (const void *)s->kh : (const void *)s->k; }
static const void *seq_v(const seq_t *s) { return s->vh ? (const void *)s->vh : (const void *)s->v; }

static tsr_attn_seq seq_arg(const seq_t *s) {
    return (tsr_attn_seq){.q_len = s->q_len, .kv_len = s->kv_len, .q = s->q, .k = seq_k(s), .v = seq_v(s), .o = s->o,
                          .lse = s->lse};
}

/* Max |error| of s->o against float64 attention of each query row (position kv_len - q_len + i)
 * over its visible keys (a window of `window` keys, itself included, when > 0). */
static double ref_error(const seq_t *s, int64_t window) {
    double worst = 0, scale = 1.0 / sqrt((double)D);
    double *z = malloc(sizeof(double) * (size_t)s->kv_len);
    for (int64_t i = 0; i < s->q_len; i++)
        for (int64_t h = 0; h < HQ; h++) {
            int64_t pos = s->kv_len - s->q_len + i, first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
            const float *q = s->q + (i * HQ + h) * D;
            const float *kb = s->k + (h / (HQ / HKV)) * s->maxctx * D, *vb = s->v + (h / (HQ / HKV)) * s->maxctx * D;
            double mx = -INFINITY, sum = 0;
            for (int64_t c = first; c <= pos; c++) {
                double dot = 0;
                for (int e = 0; e < D; e++) dot += (double)q[e] * kb[c * D + e];
                z[c] = dot * scale;
                if (z[c] > mx) mx = z[c];
            }
            for (int64_t c = first; c <= pos; c++) sum += exp(z[c] - mx);
            for (int e = 0; e < D; e++) {
                double acc = 0;
                for (int64_t c = first; c <= pos; c++) acc += exp(z[c] - mx) * vb[c * D + e];
                double err = fabs(acc / sum - s->o[(i * HQ + h) * D + e]);
                if (err > worst) worst = err;
            }
            double lerr = fabs(mx + log(sum) - s->lse[i * HQ + h]);
            if (lerr > worst) worst = lerr;
        }
    free(z);
    return worst;
}

/* Sequences of mixed lengths: decode rows (q_len 1) over 1 .. 3 KV chunks, a few draft /
 * prefill blocks (q_len 2 .. 40), in an order shuffled per round. */
static void batch_matches_single_and_reference(void) {
    const int64_t maxctx = tsr_test_quick() ? 2300 : 3200;
    tsr_pool_t *pools[2];
    for (int t = 0; t < 2; t++) {
        tsr_pool_params pp;
        tsr_pool_params_default(&pp);
        pp.n_threads = t + 1;
        CHECK_OK(tsr_pool_create(&pp, &pools[t]));
    }
    const int64_t windows[] = {0, 100};
    for (int wi = 0; wi < 2; wi++) {
        int64_t window = windows[wi];
        seq_t seqs[NSEQ];
        const int64_t qlens[NSEQ] = {1, 1, 1, 5, 1, 40, 1};
        for (int s = 0; s < NSEQ; s++) {
            int64_t kv = s == 1 ? maxctx - 3 : s == 6 ? 1 : rand_int((int)qlens[s], (int)maxctx - 50);
            seq_new(&seqs[s], qlens[s], kv, maxctx);
        }
        tsr_attn_desc d = layer_desc(maxctx, window);
        TSR_FOR_EACH_ISA(isa) {
            /* each sequence alone with tsr_attention: the bits the batch must give */
            float *solo_o[NSEQ], *solo_l[NSEQ];
            for (int s = 0; s < NSEQ; s++) {
                seq_t *q = &seqs[s];
                tsr_attn_desc d1 = d;
                d1.q_len = q->q_len; d1.kv_len = q->kv_len;
                tsr_attn_args a = {.size = sizeof a, .q = q->q, .k = seq_k(q), .v = seq_v(q), .o = q->o, .lse = q->lse};
                CHECK_OK(tsr_attention(pools[1], &d1, &a));
                double err = ref_error(q, window);
                CHECK_MSG(err < 2e-5, "kv %s isa %s seq %d (q_len %lld, kv_len %lld): tsr_attention error %g",
                          tsr_dtype_name(kv_dt), tsr_isa_name(isa), s, (long long)q->q_len, (long long)q->kv_len, err);
                size_t on = (size_t)(q->q_len * HQ * D);
                solo_o[s] = malloc(sizeof(float) * on); solo_l[s] = malloc(sizeof(float) * (size_t)(q->q_len * HQ));
                memcpy(solo_o[s], q->o, sizeof(float) * on);
                memcpy(solo_l[s], q->lse, sizeof(float) * (size_t)(q->q_len * HQ));
            }
            for (int round = 0; round < 4; round++) {
                /* a random subset (>= 1) in a random order */
                int order[NSEQ], n = 0;
                for (int s = 0; s < NSEQ; s++) if (round == 0 || rand_int(0, 2)) order[n++] = s;
                if (n == 0) order[n++] = rand_int(0, NSEQ - 1);
                for (int i = n - 1; i > 0; i--) { int j = rand_int(0, i), t = order[i]; order[i] = order[j]; order[j] = t; }
                tsr_attn_seq args[NSEQ];
                for (int i = 0; i < n; i++) {
                    seq_t *q = &seqs[order[i]];
                    memset(q->o, 0x7f, sizeof(float) * (size_t)(q->q_len * HQ * D));
                    args[i] = seq_arg(q);
                }
                CHECK_OK(tsr_attention_batch(pools[round % 2], &d, n, args));
                for (int i = 0; i < n; i++) {
                    int s = order[i];
                    seq_t *q = &seqs[s];
                    CHECK_SAME_BITS(solo_o[s], q->o, sizeof(float) * (size_t)(q->q_len * HQ * D),
                                    "kv %s isa %s window %lld round %d: seq %d (q_len %lld, kv_len %lld) O differs from its solo run",
                                    tsr_dtype_name(kv_dt), tsr_isa_name(isa), (long long)window, round, s, (long long)q->q_len, (long long)q->kv_len);
                    CHECK_SAME_BITS(solo_l[s], q->lse, sizeof(float) * (size_t)(q->q_len * HQ),
                                    "kv %s isa %s round %d: seq %d LSE differs from its solo run", tsr_dtype_name(kv_dt), tsr_isa_name(isa), round, s);
                }
                if (round == 0)
                    for (int s = 0; s < NSEQ; s++) {
                        double err = ref_error(&seqs[s], window);
                        CHECK_MSG(err < 2e-5, "kv %s isa %s seq %d: batch error %g against float64", tsr_dtype_name(kv_dt), tsr_isa_name(isa), s, err);
                    }
            }
            for (int s = 0; s < NSEQ; s++) { free(solo_o[s]); free(solo_l[s]); }
        }
        for (int s = 0; s < NSEQ; s++) seq_free(&seqs[s]);
    }
    for (int t = 0; t < 2; t++) tsr_pool_destroy(pools[t]);
}

TSR_TEST(test_batch_bad_input) {
    seq_t a, b;
    seq_new(&a, 1, 10, 16);
    seq_new(&b, 1, 12, 16);
    tsr_attn_desc d = layer_desc(16, 0);
    tsr_attn_seq s[2] = {seq_arg(&a), seq_arg(&b)};
    for (int i = 0; i < HQ * D; i++) a.o[i] = b.o[i] = 42;
    CHECK_STATUS(tsr_attention_batch(NULL, NULL, 2, s), TSR_EINVAL);
    CHECK_STATUS(tsr_attention_batch(NULL, &d, 2, NULL), TSR_EINVAL);
    CHECK_STATUS(tsr_attention_batch(NULL, &d, 0, s), TSR_EINVAL);
    CHECK_STATUS(tsr_attention_batch(NULL, &d, -3, s), TSR_EINVAL);
    tsr_attn_desc bad = d;
    bad.batch = 2;
    CHECK_STATUS(tsr_attention_batch(NULL, &bad, 2, s), TSR_EINVAL);
    bad = d;
    bad.has_bias = 1;
    CHECK_STATUS(tsr_attention_batch(NULL, &bad, 2, s), TSR_EINVAL);
    bad = d;
    bad.size = 8;
    CHECK_STATUS(tsr_attention_batch(NULL, &bad, 2, s), TSR_EINVAL);
    /* the second sequence is bad: nothing written to the first either */
    s[1].kv_len = 17;   /* past the cache's extent */
    CHECK_STATUS(tsr_attention_batch(NULL, &d, 2, s), TSR_ERANGE);
    CHECK_MSG(strstr(tsr_last_error(), "sequence 1") != NULL, "message does not name the sequence: %s", tsr_last_error());
    s[1].kv_len = 0;
    CHECK_STATUS(tsr_attention_batch(NULL, &d, 2, s), TSR_EINVAL);
    s[1].kv_len = 12;
    s[1].v = NULL;
    CHECK_STATUS(tsr_attention_batch(NULL, &d, 2, s), TSR_EINVAL);
    s[1] = seq_arg(&b);
    s[1].lse = NULL;
    CHECK_STATUS(tsr_attention_batch(NULL, &d, 2, s), TSR_EINVAL);
    s[1] = seq_arg(&b);
    s[1].q_len = -1;
    CHECK_STATUS(tsr_attention_batch(NULL, &d, 2, s), TSR_EINVAL);
    int untouched = 1;
    for (int i = 0; i < HQ * D; i++) untouched &= a.o[i] == 42 && b.o[i] == 42;
    CHECK_MSG(untouched, "a failing call wrote to O");
    s[1] = seq_arg(&b);
    CHECK_OK(tsr_attention_batch(NULL, &d, 2, s));
    CHECK(ref_error(&a, 0) < 2e-5 && ref_error(&b, 0) < 2e-5);
    seq_free(&a);
    seq_free(&b);
}

TSR_TEST(test_batch_matches_single_and_reference) {
    const tsr_dtype types[3] = {TSR_DTYPE_F32, TSR_DTYPE_F16, TSR_DTYPE_BF16};
    for (int t = 0; t < 3; t++) {
        kv_dt = types[t];
        batch_matches_single_and_reference();
    }
    kv_dt = TSR_DTYPE_F32;
}

int main(void) {
    RUN(test_batch_matches_single_and_reference);
    RUN(test_batch_bad_input);
    return tsr_test_summary();
}
