/*
 * attention_internal.h — the microkernel table of the attention tiles. Not public.
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

#include "tsr_kernels.h"

#define ATTN_LOG2E 1.4426950408889634
#define ATTN_LN2 0.6931471805599453

static inline int attn_round16(int x) { return (x + 15) & ~15; }

/* Software prefetch of the K/V streams: the kernels that read K or V rows from the
 * caller's memory (pack_kt, pack_rows, pv on rows in place) touch the same bytes
 * ATTN_PF_ROWS rows further on (the rest of the tile, then the next tile of the chunk,
 * which follows in memory), into L2 (T1). Cold split decode is a pure read stream and the
 * hardware prefetchers alone left it at a third of the read bandwidth (Zen 4, 2 threads,
 * 256K keys: 217 ms -> 91 ms; an L1 prefetch (T0) gave only 140 ms: it holds one of the
 * core's few L1 miss buffers per line in flight). A prefetch never faults, so running
 * past the buffer is harmless, and it changes no result. */
#ifndef ATTN_PF_HINT
#define ATTN_PF_HINT _MM_HINT_T1
#endif
#ifndef ATTN_PF_ROWS
#define ATTN_PF_ROWS 32
#endif

/*
 * The attention microkernels (docs/KERNELS.md). The driver (attention.c) owns the tile
 * loops: it packs a K^T tile and a V tile, walks the score tile in qk_mr x qk_nr register
 * blocks, runs the online softmax on the rows, then walks the output in pv_mr x pv_nr
 * blocks. A kernel handles the edge blocks it is given (m <= MR rows, nc <= NR columns).
 */
typedef struct attn_kernels {
    tsr_kernel_head head;
    int qk_mr, qk_nr;   /* register block of qk: rows, keys (nr a multiple of 16) */
    int pv_mr, pv_nr;   /* register block of pv: rows, head_dim columns (nr a multiple of 16) */
    /* tile: kt[dd * ldkt + j] = K[j][dd] (converted to f32) for j < n; 0 for n <= j < npad. */
    void (*pack_kt)(float *kt, int ldkt, const void *k, tsr_dtype dt, int64_t kstride,
                    int n, int npad, int d);
    /* tile: dst[j * ldd + e] = src[j][e] * mul (f32) for e < d; 0 for d <= e < round16(d). */
    void (*pack_rows)(float *dst, int ldd, const void *src, tsr_dtype dt, int64_t sstride,
                      int n, int d, float mul);
    /* block: s[r * lds + j] = sum_{dd < d, in order} q[r * ldq + dd] * kt[dd * ldkt + j]
     * (one fused multiply-add chain per score) for r < m <= qk_mr, j < nc <= qk_nr, nc a
     * multiple of 8; kt + j 32-byte aligned. */
    void (*qk)(float *s, int lds, const float *q, int ldq, const float *kt, int ldkt,
               int m, int nc, int d);
    /* optional, paired with this level's qk (the overlay sets both): for m <= qk_mr rows (a
     * decode step), S = Q K^T straight from n K rows of dtype dt (F32, BF16 or F16; row stride
     * kstride elements) over npad columns: exactly the scores pack_kt + the qk blocks give
     * (one FMA chain per score, keys n..npad-1 as zero rows), without the K^T tile. */
    void (*qk_rows)(float *s, int lds, const float *q, int ldq, const void *k, tsr_dtype dt, int64_t kstride,
                    int m, int n, int npad, int d);
    /* rows: online-softmax step on rows of s (columns < n valid, n..npad padding): updates
     * the running max m[r] and sum l[r], writes p = exp2(s - m_new) in place (0 in padding)
     * and alpha[r] = exp2(m_old - m_new) (1 when the row is still empty). */
    void (*softmax)(float *s, int lds, int rows, int n, int npad, float *m, float *l, float *alpha);
    /* block: acc[r][e] = alpha[r] * acc[r][e] + sum_{j < n, in order} p[r][j] * v[j][e]
     * (alpha == 1 may skip the product: x * 1 == x) for r < m <= pv_mr, e < nc <= pv_nr,
     * nc a multiple of 8; acc + e aligned like acc, v rows unaligned. */
    void (*pv)(float *acc, int ldacc, const float *p, int ldp, const float *v, int ldv,
               const float *alpha, int m, int n, int nc);
    /* optional, paired with this level's pv (the overlay sets both): pv with V rows in bf16
     * (ldv in elements), each v[j][e] widened exactly to f32 in registers. The same operations
     * on the same values as pack_rows + pv, hence the same bits, without the f32 V tile.
     * NULL: the driver packs bf16 V with pack_rows. */
    void (*pv_bf16)(float *acc, int ldacc, const float *p, int ldp, const uint16_t *v, int ldv,
                    const float *alpha, int m, int n, int nc);
    /* optional, as pv_bf16 for V rows in IEEE half (f16 K/V caches). NULL: the driver packs
     * f16 V with pack_rows. */
    void (*pv_f16)(float *acc, int ldacc, const float *p, int ldp, const uint16_t *v, int ldv,
                   const float *alpha, int m, int n, int nc);
} attn_kernels;

/* The reference table (attention_scalar.c) and the overrides (attention_<isa>.c). */
TSR_INTERNAL extern const attn_kernels tsr_attn_kernels_ref;
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
