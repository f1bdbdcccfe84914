/*
 * tessera/attention.h — scaled dot-product attention on CPUs: FlashAttention-2 style
 * tiled prefill, Lean-Attention style split decode, and the LSE merge.
 *
 * What it computes, per batch b, query head h and query row i:
 *
 *     z[i][c] = scale * (Q[b,h,i,:] . K[b,g(h),c,:]) + bias[b,h,i,c]      (c visible)
 *     O[b,h,i,:]  = sum_c softmax_c(z[i][.]) * V[b,g(h),c,:]
 *     LSE[b,h,i]  = ln sum_c exp(z[i][c])              (natural log, scale included)
 *
 * with g(h) = h / (q_heads / kv_heads) (grouped-query / multi-query attention: K and V
 * are read in place, never copied per query head). The q_len × kv_len score matrix is
 * never materialised: keys are processed in tiles with an online softmax.
 *
 * Visibility (the mask) of key c to query row i, with off = kv_len - q_len
 * (bottom-right alignment: the last query row is aligned with the last key, as in a KV
 * cache during chunked prefill and decode):
 *   - causal:        c <= i + off
 *   - window_left L: c >= i + off - L          (L = -1: unbounded)
 *   - window_right R: c <= i + off + R         (R = -1: unbounded; causal is R = 0)
 *     Any L, R up to INT64_MAX is valid: L >= kv_len - 1 and R >= q_len - 1 hide no key
 *     and are the same as -1 (same bits; plans store and describe them as -1).
 *   - bitset:        bit (i, c) of the boolean mask is 1 (tree attention)
 *   - bias:          an additive f32 term (ALiBi, relative positions, soft masks)
 * All given conditions apply together. A row with no visible key gets O = 0 and
 * LSE = -inf (never NaN).
 *
 * Layout: every tensor is [batch][heads][rows][head_dim] addressed by element strides
 * for batch, head and row; head_dim is contiguous (stride 1). A KV cache allocated for
 * max_context rows is passed as it is: kv_len rows are read, row stride = head_dim (or
 * whatever the cache uses), head stride = max_context * row stride.
 *
 *      K (one kv head)          row stride
 *      +----------------------+  |
 *      | key 0: d0 d1 .. dD-1 |  v
 *      | key 1: ...           |
 *      | ...   (kv_len rows)  |
 *      | unused up to max_ctx |
 *      +----------------------+
 *
 * Numerics and reproducibility (docs/attention.md, "Batch invariance"):
 *   - Accumulation in f32; Q, K, V in f32, bf16 or f16 (each independently); O in f32,
 *     bf16 or f16; LSE in f32.
 *   - Keys are cut into tiles at fixed absolute positions (multiples of the tile width
 *     chosen from the L1 size and head_dim) and into "KV chunks" of TSR_ATTN_KV_CHUNK
 *     keys. Inside a chunk the online softmax walks the tiles in order; chunk results
 *     are merged in key order. The result of a query row therefore depends only on the
 *     row, its visible keys and the ISA: for finite inputs it is bit-for-bit the same
 *     whatever q_len (q_len = k versus q_len = 1 over the same keys), batch size,
 *     head count, thread count, or whether the split-decode or the prefill schedule ran.
 *   - NaN or Inf in Q, K, V or bias propagate into the affected rows (documented, never
 *     a crash); the bit-for-bit guarantees above hold for finite inputs.
 *   - TESSERA_ISA / tsr_isa_force select scalar, AVX2 or AVX-512 kernels per call.
 *
 * Threads: work is spread over the pool (NULL = default pool): prefill over
 * (batch, head, query tile); decode (few query rows, long KV) over
 * (batch, kv head, KV chunk), each chunk computed once for all query heads of a
 * GQA group, then merged.
 */
#ifndef TESSERA_ATTENTION_H
#define TESSERA_ATTENTION_H

#include "core.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Largest supported head_dim. */
#define TSR_ATTN_MAX_HEAD_DIM 256
/** Keys per KV chunk: the unit of split decode and of the fixed merge order. */
#define TSR_ATTN_KV_CHUNK 1024

/**
 * Memory layout of one tensor: element strides of the batch, head and row axes
 * (head_dim is contiguous), and the number of elements the buffer holds.
 * `extent` = 0 means "not checked"; otherwise every element the call touches must lie
 * in [0, extent) from the data pointer, or the call fails with TSR_ERANGE.
 * Strides must be >= 0 (0 broadcasts, e.g. one bias for all heads).
 */
typedef struct tsr_attn_layout {
    int64_t stride_batch;
    int64_t stride_head;
    int64_t stride_row;
    int64_t extent;
} tsr_attn_layout;

/**
 * Describes one attention problem. Set `size = sizeof(tsr_attn_desc)` and start from
 * tsr_attn_desc_init(), which fills contiguous layouts for the given shape.
 */
typedef struct tsr_attn_desc {
    uint32_t size;
    int64_t batch;          /**< >= 1 */
    int64_t q_heads;        /**< >= 1, a multiple of kv_heads */
    int64_t kv_heads;       /**< >= 1 */
    int64_t q_len;          /**< query rows, >= 1 */
    int64_t kv_len;         /**< keys, >= 1 */
    int64_t head_dim;       /**< 1 .. TSR_ATTN_MAX_HEAD_DIM (same for Q, K and V) */
    tsr_dtype q_dtype;      /**< F32, BF16 or F16 */
    tsr_dtype k_dtype;      /**< F32, BF16 or F16 */
    tsr_dtype v_dtype;      /**< F32, BF16 or F16 */
    tsr_dtype o_dtype;      /**< F32, BF16 or F16 */
    float scale;            /**< multiplies Q.K; 0 means 1/sqrt(head_dim); must be finite */
    int32_t causal;         /**< 1: bottom-right causal mask (key c visible iff c <= i + kv_len - q_len) */
    int64_t window_left;    /**< sliding window: keys c < i + off - window_left hidden; -1 = none
                                 (>= kv_len - 1, up to INT64_MAX, also hides nothing) */
    int64_t window_right;   /**< keys c > i + off + window_right hidden; -1 = none
                                 (>= q_len - 1, up to INT64_MAX, also hides nothing) */
    int32_t has_bitset;     /**< 1: args.mask_bits is a boolean mask (1 = visible) */
    int32_t has_bias;       /**< 1: args.bias is an additive f32 term */
    int32_t want_lse;       /**< 1: args.lse receives the per-row log-sum-exp */
    tsr_attn_layout q;      /**< [batch][q_heads][q_len][head_dim] */
    tsr_attn_layout k;      /**< [batch][kv_heads][kv_len][head_dim] */
    tsr_attn_layout v;      /**< [batch][kv_heads][kv_len][head_dim] */
    tsr_attn_layout o;      /**< [batch][q_heads][q_len][head_dim] */
    tsr_attn_layout lse;    /**< [batch][q_heads][q_len] (stride_row is the element stride) */
    /** Bitset [batch][q_heads][q_len][kv_len] in BITS: bit index
     *  b*stride_batch + h*stride_head + i*stride_row + c of the uint64_t words, bit k of
     *  word w being index 64*w + k. Strides 0 broadcast (one q_len × kv_len mask for all
     *  heads is stride_batch = stride_head = 0, stride_row = kv_len). extent is in bits. */
    tsr_attn_layout bits;
    /** Bias [batch][q_heads][q_len][kv_len] in f32 elements; the key axis is contiguous. */
    tsr_attn_layout bias;
} tsr_attn_desc;

/**
 * Fills `desc` for a dense problem: f32 everywhere, scale 0 (1/sqrt(head_dim)), no mask,
 * no LSE, contiguous [b][h][row][d] layouts for Q, K, V, O and [b][h][row] for LSE,
 * extents 0 (unchecked). Sets desc->size. Callers then adjust fields.
 * TSR_EINVAL if desc is NULL; shapes are validated later, by the calls that use them
 * (a contiguous stride that would overflow int64, e.g. of a q_len × kv_len mask for huge
 * lengths, is set to INT64_MAX, which tsr_attn_desc_check refuses with TSR_ERANGE).
 */
TSR_API tsr_status tsr_attn_desc_init(tsr_attn_desc *desc, int64_t batch, int64_t q_heads,
                                      int64_t kv_heads, int64_t q_len, int64_t kv_len,
                                      int64_t head_dim);

/** Buffers of one call. Set `size = sizeof(tsr_attn_args)`; unused pointers NULL. */
typedef struct tsr_attn_args {
    uint32_t size;
    const void *q;              /**< desc->q_dtype elements */
    const void *k;              /**< desc->k_dtype elements */
    const void *v;              /**< desc->v_dtype elements */
    void *o;                    /**< desc->o_dtype elements; written for every row */
    float *lse;                 /**< required iff desc->want_lse */
    const uint64_t *mask_bits;  /**< required iff desc->has_bitset */
    const float *bias;          /**< required iff desc->has_bias */
    void *workspace;            /**< optional; see tsr_attn_workspace_size. NULL: allocated per call */
    size_t workspace_bytes;
} tsr_attn_args;

/**
 * Checks a descriptor without running anything: sizes >= 1, head counts (q_heads a
 * multiple of kv_heads, at most 2^24), q_len <= 2^32, kv_len <= 2^40, head_dim <= 256,
 * dtypes, finite scale, window values >= -1 (any larger value is valid), strides >= 0,
 * every touched element inside the given extents, products without overflow
 * (batch × q_heads × q_len, and every layout's largest offset, must fit in int64).
 * TSR_EINVAL (a field out of its range) / TSR_ERANGE (an extent exceeded, a product
 * overflows) with a message naming the field.
 */
TSR_API tsr_status tsr_attn_desc_check(const tsr_attn_desc *desc);

/**
 * Bytes of workspace the split-decode schedule needs for `desc` on `pool` (NULL =
 * default pool); 0 when the call would use the prefill schedule, which needs only
 * the pool's per-worker scratch. Passing at least this much as args.workspace
 * avoids the per-call allocation. The figure is ceil(kv_len / TSR_ATTN_KV_CHUNK) ×
 * batch × q_heads × q_len × (head_dim + 2) × 4 bytes.
 */
TSR_API tsr_status tsr_attn_workspace_size(tsr_pool_t *pool, const tsr_attn_desc *desc,
                                           size_t *bytes);

/**
 * Runs attention on `pool` (NULL = default pool): writes O (and LSE if desc->want_lse).
 * The ISA is read from tsr_isa_active() at each call. Thread-safe for concurrent calls
 * on different output buffers (calls on one pool are serialised by the pool).
 * Errors: TSR_EINVAL (NULL desc/args/required buffer, bad field; nothing written),
 * TSR_ERANGE (a stride reaches outside an extent, size overflow), TSR_ENOMEM.
 */
TSR_API tsr_status tsr_attention(tsr_pool_t *pool, const tsr_attn_desc *desc,
                                 const tsr_attn_args *args);

/* ---- many sequences, each on its own keys, in one call --------------------------- */

/** One sequence of tsr_attention_batch: its lengths and buffers. */
typedef struct tsr_attn_seq {
    int64_t q_len;      /**< query rows, >= 1 */
    int64_t kv_len;     /**< keys, >= 1 (e.g. the tokens in the sequence's KV cache) */
    const void *q;      /**< desc->q_dtype elements, laid out as desc->q */
    const void *k;      /**< desc->k_dtype elements, laid out as desc->k */
    const void *v;      /**< desc->v_dtype elements, laid out as desc->v */
    void *o;            /**< desc->o_dtype elements, laid out as desc->o; written for every row */
    float *lse;         /**< required iff desc->want_lse; laid out as desc->lse */
} tsr_attn_seq;

/**
 * Runs `n_seqs` independent attention problems that share one descriptor — every field but
 * q_len and kv_len, which each sequence gives — in ONE pool region: the decode step of a
 * server batching many sequences, each on its own KV cache, where one tsr_attention call per
 * sequence would cost more in dispatch and checks than its few query rows cost in work.
 *
 * Sequence s computes exactly what tsr_attention(pool, desc', args') computes, with desc'
 * = desc but q_len/kv_len = seqs[s].q_len/kv_len and args' = seqs[s]'s buffers, bit for
 * bit (the same tiles, chunk states and fold order): its rows do not depend on the other
 * sequences, their number or order, or the thread count. Layout strides and extents of
 * `desc` apply to every sequence's buffers (extent 0: unchecked).
 *
 * Work is spread over (sequence, kv head, row block of the GQA group's query rows); each
 * task walks its sequence's KV chunks in order, so no workspace is needed. (For one sequence
 * over a very long context, tsr_attention's split schedule spreads the chunks over the
 * workers instead.)
 *
 * Errors (nothing written): TSR_EINVAL for NULL desc/seqs, n_seqs outside 1 .. 2^24,
 * desc->batch != 1, a bitset or bias mask (their shapes are per sequence), a sequence with a
 * NULL buffer (or lse when want_lse) or a field tsr_attn_desc_check refuses (the message
 * names the sequence); TSR_ERANGE as tsr_attn_desc_check; TSR_ENOMEM.
 */
TSR_API tsr_status tsr_attention_batch(tsr_pool_t *pool, const tsr_attn_desc *desc, int64_t n_seqs,
                                       const tsr_attn_seq *seqs);

/* ---- plans: validate and choose tiles once, execute many times ------------------ */

typedef struct tsr_attn_plan tsr_attn_plan_t;

/**
 * Creates a plan for `desc` (copied): validates it, fixes the ISA (tsr_isa_active() now),
 * the tile sizes (from tsr_topology_info_get cache sizes) and the schedule.
 * Errors as tsr_attn_desc_check, plus TSR_ENOMEM.
 */
TSR_API tsr_status tsr_attn_plan_create(const tsr_attn_desc *desc, tsr_attn_plan_t **out);

/** Executes a plan with new buffers. Thread-safe (the plan is read-only). */
TSR_API tsr_status tsr_attn_plan_execute(tsr_pool_t *pool, const tsr_attn_plan_t *plan,
                                         const tsr_attn_args *args);

/**
 * Describes a plan in one line ("isa=avx512 q_tile=64 kv_tile=128 chunk=1024 ...")
 * into buf (always NUL-terminated when cap > 0). TSR_EINVAL for NULL plan/buf.
 */
TSR_API tsr_status tsr_attn_plan_describe(const tsr_attn_plan_t *plan, char *buf, size_t cap);

/** Frees a plan. NULL-safe. */
TSR_API void tsr_attn_plan_destroy(tsr_attn_plan_t *plan);

/* ---- the LSE merge ---------------------------------------------------------------- */

/**
 * Merges partial attention results over DISJOINT key sets into the result over their
 * union (the associative combine of Lean Attention / ring attention):
 *
 *     LSE = ln sum_p exp(lse_p)          O = sum_p exp(lse_p - LSE) * O_p
 *
 * `rows` rows of `head_dim` f32 values each. Part p has outputs o_parts[p] (row r at
 * o_parts[p] + r * o_row_stride) and lse_parts[p][r]. Parts whose lse is -inf (no
 * visible key) contribute nothing; if every part is -inf the row gets O = 0 and
 * LSE = -inf. Parts are folded in the given order, so the result is deterministic.
 * o_out / lse_out may alias o_parts[0] / lse_parts[0] (in-place merge), not others.
 * Runs on `pool` (NULL = default) over rows.
 * Errors: TSR_EINVAL (NULL pointers, rows < 1, n_parts < 1, head_dim out of 1..65536,
 * o_row_stride < head_dim), TSR_ERANGE (overflow).
 */
TSR_API tsr_status tsr_attn_merge(tsr_pool_t *pool, int64_t n_parts, int64_t rows,
                                  int64_t head_dim, const float *const *o_parts,
                                  const float *const *lse_parts, int64_t o_row_stride,
                                  float *o_out, float *lse_out);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_ATTENTION_H */
