/*
 * attention_internal.h — the per-ISA kernel table of the attention tiles. Not public.
 *
 * Units: Q rows are packed pre-multiplied by scale * log2(e), so a score tile S is in
 * log2 units and the softmax is p = exp2(s - m). Tiles of keys start at absolute key
 * positions that are multiples of the tile width; `npad` is the key count rounded up to
 * 16. Every kernel computes each row independently of the other rows of its block (the
 * vector lanes run over keys in QK^T and over head_dim in P.V), which is what makes a
 * row's result independent of how many rows are computed with it.
 */
#ifndef TSR_ATTENTION_INTERNAL_H
#define TSR_ATTENTION_INTERNAL_H

#include "tsr_internal.h"

#define ATTN_LOG2E 1.4426950408889634
#define ATTN_LN2 0.6931471805599453

static inline int attn_round16(int x) { return (x + 15) & ~15; }

typedef struct attn_kernels {
    const char *name;
    /* kt[dd * ldkt + j] = K[j][dd] (converted to f32) for j < n; 0 for n <= j < npad. */
    void (*pack_kt)(float *kt, int ldkt, const void *k, tsr_dtype dt, int64_t kstride,
                    int n, int npad, int d);
    /* dst[j * ldd + e] = src[j][e] * mul (f32) for e < d; 0 for d <= e < round16(d). */
    void (*pack_rows)(float *dst, int ldd, const void *src, tsr_dtype dt, int64_t sstride,
                      int n, int d, float mul);
    /* s[r * lds + j] = sum_{dd < d, in order} q[r * ldq + dd] * kt[dd * ldkt + j], j < npad. */
    void (*qk)(float *s, int lds, const float *q, int ldq, const float *kt, int ldkt,
               int rows, int npad, int d);
    /* Online-softmax step on rows of s (columns < n valid, n..npad padding): updates the
     * running max m[r] and sum l[r], writes p = exp2(s - m_new) in place (0 in padding)
     * and alpha[r] = exp2(m_old - m_new) (1 when the row is still empty). */
    void (*softmax)(float *s, int lds, int rows, int n, int npad, float *m, float *l, float *alpha);
    /* acc[r][:dp] = alpha[r] * acc[r][:dp] + sum_{j < n, in order} p[r][j] * v[j][:dp]. */
    void (*pv)(float *acc, int ldacc, const float *p, int ldp, const float *v, int ldv,
               const float *alpha, int rows, int n, int dp);
} attn_kernels;

TSR_INTERNAL extern const attn_kernels tsr_attn_kernels_scalar;
#if TSR_X86
TSR_INTERNAL extern const attn_kernels tsr_attn_kernels_avx2;
TSR_INTERNAL extern const attn_kernels tsr_attn_kernels_avx512;
#endif

/* Scalar element loader shared by the kernels' tails. */
static inline float attn_load1(const void *p, tsr_dtype dt, int64_t i) {
    switch (dt) {
    case TSR_DTYPE_BF16: return tsr_bf16_to_f32(((const uint16_t *)p)[i]);
    case TSR_DTYPE_F16: return tsr_f16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

#endif /* TSR_ATTENTION_INTERNAL_H */
