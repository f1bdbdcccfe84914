/*
 * tessera/quant.h — quantized weight formats and Y = X·Wᵀ (+ bias) on them.
 *
 * Weights W are N×K (N output features, K input features), stored row by row:
 * each row is K/B blocks of one format (B = block_elems of the format). X is M×K
 * f32, Y is M×N f32. This is the layout of a GGUF tensor with ne0 = K, ne1 = N,
 * so a model runner can point a tsr_quant_matrix straight into a memory-mapped
 * GGUF file (any alignment, any row stride).
 *
 *     tsr_quant_matrix w = { sizeof w, TSR_QUANT_Q4_0, n, k, mmap_ptr + off, 0, bytes_left };
 *     tsr_qgemm_plan_t *plan;
 *     tsr_qgemm_plan_create(NULL, &w, NULL, &plan);           // repacks once
 *     tsr_qgemm_execute(NULL, plan, m, x, k, bias, y, n, NULL, 0);  // many times
 *     tsr_qgemm_plan_destroy(plan);
 *
 * Formats (tsr_quant_format; byte layouts below, "@n" = byte offset in a block):
 *
 *   GGUF / ggml blocks, byte-exact with ggml-common.h (fp16 = IEEE half, little endian;
 *   blocks are packed back to back, 2-byte alignment at best — never cast to wider types):
 *     F32   1 elem, 4 B     IEEE float
 *     F16   1 elem, 2 B     IEEE half
 *     BF16  1 elem, 2 B     bfloat16
 *     Q4_0  32 elems, 18 B  d fp16 @0; qs[16] @2. Byte i: element i in the low nibble,
 *                           element i+16 in the high nibble.        x = d·(nib − 8)
 *     Q4_1  32 elems, 20 B  d fp16 @0, m fp16 @2; qs[16] @4 (nibbles as Q4_0).  x = d·nib + m
 *     Q8_0  32 elems, 34 B  d fp16 @0; qs int8[32] @2.                 x = d·q
 *     Q6_K  256 elems, 210 B  ql[128] @0, qh[64] @128, scales int8[16] @192, d fp16 @208.
 *                           16 sub-blocks of 16; 6-bit L = q + 32 split as in ggml: for each
 *                           half h (128 elems; ql += 64h, qh += 32h), l < 32:
 *                             ql[l]    = lo4(L[l])    | lo4(L[l+64]) << 4
 *                             ql[l+32] = lo4(L[l+32]) | lo4(L[l+96]) << 4
 *                             qh[l]    = hi2(L[l]) | hi2(L[l+32])<<2 | hi2(L[l+64])<<4 | hi2(L[l+96])<<6
 *                           x = d·scales[j/16]·(L_j − 32)
 *     Q5_0  32 elems, 22 B  d fp16 @0; qh u32 LE @2; qs[16] @6. q_j = nibble of qs as Q4_0 | bit j
 *                           of qh << 4 (bit j+16 for element j+16).        x = d·(q − 16)
 *     Q5_1  32 elems, 24 B  d fp16 @0, m fp16 @2; qh u32 @4; qs[16] @8 (as Q5_0).  x = d·q + m
 *     IQ4_NL 32 elems, 18 B d fp16 @0; qs[16] @2 (nibbles as Q4_0).  x = d·T[nib] with the
 *                           non-linear table T = {-127,-104,-83,-65,-49,-35,-22,-10,1,13,25,38,
 *                           53,69,89,113}
 *   K-quants: 256-element super-blocks of sub-blocks; elements 64c..64c+63 (c = 0..3) are
 *   sub-blocks 2c and 2c+1 of 32 (Q4_K/Q5_K); Q3_K/Q2_K use 16 sub-blocks of 16.
 *     Q4_K  256 elems, 144 B  d fp16 @0, dmin fp16 @2, scales[12] @4, qs[128] @16.
 *                           6-bit scale sc_j and min m_j of sub-block j (0..7) from scales s[]:
 *                             j < 4: sc = s[j] & 63, m = s[j+4] & 63;
 *                             j ≥ 4: sc = (s[j+4] & 15) | (s[j−4] >> 6) << 4,
 *                                    m  = (s[j+4] >> 4) | (s[j] >> 6) << 4.
 *                           qs[32c + l]: low nibble = element 64c + l, high = element 64c+32+l.
 *                           x = (d·sc_j)·q − (dmin·m_j)
 *     Q5_K  256 elems, 176 B  d @0, dmin @2, scales[12] @4 (as Q4_K), qh[32] @16, qs[128] @48.
 *                           q = nibble as Q4_K | ((qh[l] >> (2c + hi)) & 1) << 4, hi = 1 for
 *                           the high nibble.                x = (d·sc_j)·q − (dmin·m_j)
 *     Q3_K  256 elems, 110 B  hmask[32] @0, qs[64] @32, scales[12] @96, d fp16 @108.
 *                           16 6-bit scales: sc_j = (j < 8 ? s[j] & 15 : s[j−8] >> 4) |
 *                           ((s[8 + j%4] >> 2(j/4)) & 3) << 4. Element e = 128h + 32i + 16t + l
 *                           (h < 2, i < 4, t < 2, l < 16): q = (qs[32h + 16t + l] >> 2i) & 3,
 *                           minus 4 unless bit 4h+i of hmask[16t + l] is set; sub-block 8h+2i+t.
 *                           x = d·(sc_j − 32)·q
 *     Q2_K  256 elems, 84 B   scales[16] @0, qs[64] @16, d fp16 @80, dmin fp16 @82.
 *                           Element e as in Q3_K: q = (qs[32h + 16t + l] >> 2i) & 3; sub-block
 *                           j = 8h+2i+t.           x = (d·(s[j] & 15))·q − (dmin·(s[j] >> 4))
 *   Non-finite scales read from a file (fp16 inf/NaN) dequantize by IEEE arithmetic (inf,
 *   NaN); qgemm propagates them to the affected outputs.
 *
 *   Tessera group formats (one block = one group of g = 32, 64 or 128 weights along K;
 *   "_F16"/"_F32" is the scale type; "Z" adds a 4-bit zero point, stored in a byte):
 *     Q4G<g>_F16    d fp16 @0; qs[g/2] @2            x = d·(q − 8)
 *     Q4G<g>_F16Z   d fp16 @0; z u8 @2; qs[g/2] @3   x = d·(q − z)   (0 <= z <= 15)
 *     Q4G<g>_F32    d f32 @0;  qs[g/2] @4            x = d·(q − 8)
 *     Q4G<g>_F32Z   d f32 @0;  z u8 @4; qs[g/2] @5   x = d·(q − z)
 *       4-bit q: byte i holds element 2i in its low nibble and 2i+1 in its high nibble.
 *     Q8G<g>_F16    d fp16 @0; qs int8[g] @2         x = d·q
 *     Q8G<g>_F32    d f32 @0;  qs int8[g] @4         x = d·q
 *   These are the interchange (storage) layouts. A qgemm plan repacks any format into the
 *   interleaved 16-row panel layout that the kernels stream (docs/quant.md has the diagram):
 *   per group, 16 rows × g weights as 32-bit lanes of 4 consecutive k (one row per lane),
 *   so a 512-bit load gives one nibble plane per 4 k for 16 rows and AVX-512 VNNI's
 *   vpdpbusd consumes it directly against a broadcast of 4 int8 activations.
 *
 * Arithmetic of qgemm (the same in every ISA path, so scalar, AVX2 and AVX-512 give
 * bit-identical results):
 *   - integer formats: each row of X is quantized on the fly to int8 in blocks of the
 *     format's group (32 for Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/IQ4_NL and the 32-element sub-blocks
 *     of Q4_K/Q5_K, g for Q4G/Q8G, 16 for the 16-element sub-blocks of Q6_K/Q3_K/Q2_K):
 *     d_a = max|x|/127, q_a = round-half-even(x/d_a); the integer dot of each group is
 *     exact (int32) and is scaled and summed over K in f32, in K order: per group
 *     t = (float)(Σ u·q_a − z·Σ q_a) · d_a, acc = fma(t, s, acc), then for formats with a
 *     minimum acc = fma(mn, d_a·(float)Σ q_a, acc), where u is the stored code (Q4_K/Q5_K/
 *     Q2_K: q; Q3_K: q + 4; IQ4_NL: T[nib] + 128), z its zero (Q5_0 16, Q3_K 4, IQ4_NL 128),
 *     s the group scale (K-quants: the f32 product d·sc_j, exact) and mn the group's additive
 *     minimum (Q4_1/Q5_1: m; K-quants: −(dmin·m_j), exact in f32). A group whose
 *     1/d_a overflows (max|x| below 127/FLT_MAX, about 3.7e-37: subnormal values) counts
 *     as zero (d_a = 0, q_a = 0), on every ISA;
 *   - F32/F16/BF16 weights: f32 fused multiply-adds in K order, X kept in f32.
 * Batch invariance: row i of Y depends only on row i of X and on W — never on M, on
 * the other rows, on the thread count or on how rows are split among threads. Row i
 * of an M = k call is bit-for-bit the M = 1 result for that row.
 *
 * Kernels: scalar reference, AVX2 (vpmaddubsw), AVX-512 VNNI (vpdpbusd) and, for blocks of
 * 16 rows of X on CPUs with AMX-INT8, tdpbsud (TESSERA_QUANT_AMX=0 disables it); all give
 * the same bits. TESSERA_ISA=scalar|avx2|avx512 lowers the ISA as everywhere in Tessera.
 *
 * Thread safety: plans are immutable after creation; tsr_qgemm_execute may run
 * concurrently on one plan when each call passes its own workspace (with a NULL
 * workspace the plan's internal scratch is used, and such calls are serialised).
 */
#ifndef TESSERA_QUANT_H
#define TESSERA_QUANT_H

#include "core.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bump when a packed or storage layout changes meaning. */
#define TSR_QUANT_FORMAT_VERSION 1

/** Weight formats. Append-only: values are never renumbered or reused. */
typedef enum tsr_quant_format {
    TSR_QUANT_F32 = 0,
    TSR_QUANT_F16 = 1,
    TSR_QUANT_BF16 = 2,
    TSR_QUANT_Q4_0 = 3,
    TSR_QUANT_Q4_1 = 4,
    TSR_QUANT_Q8_0 = 5,
    TSR_QUANT_Q6_K = 6,
    TSR_QUANT_Q4G32_F16 = 7,
    TSR_QUANT_Q4G64_F16 = 8,
    TSR_QUANT_Q4G128_F16 = 9,
    TSR_QUANT_Q4G32_F16Z = 10,
    TSR_QUANT_Q4G64_F16Z = 11,
    TSR_QUANT_Q4G128_F16Z = 12,
    TSR_QUANT_Q4G32_F32 = 13,
    TSR_QUANT_Q4G64_F32 = 14,
    TSR_QUANT_Q4G128_F32 = 15,
    TSR_QUANT_Q4G32_F32Z = 16,
    TSR_QUANT_Q4G64_F32Z = 17,
    TSR_QUANT_Q4G128_F32Z = 18,
    TSR_QUANT_Q8G32_F16 = 19,
    TSR_QUANT_Q8G64_F16 = 20,
    TSR_QUANT_Q8G128_F16 = 21,
    TSR_QUANT_Q8G32_F32 = 22,
    TSR_QUANT_Q8G64_F32 = 23,
    TSR_QUANT_Q8G128_F32 = 24,
    TSR_QUANT_Q5_0 = 25,
    TSR_QUANT_Q5_1 = 26,
    TSR_QUANT_Q4_K = 27,
    TSR_QUANT_Q5_K = 28,
    TSR_QUANT_Q3_K = 29,
    TSR_QUANT_Q2_K = 30,
    TSR_QUANT_IQ4_NL = 31,
    TSR_QUANT_FORMAT_COUNT
} tsr_quant_format;

/** Static description of a format (the traits table). */
typedef struct tsr_quant_traits {
    uint32_t size;            /**< caller sets sizeof(tsr_quant_traits) */
    tsr_quant_format format;
    const char *name;         /**< "q4_0", "q4g128_f16z", ... (static storage) */
    int32_t block_elems;      /**< weights per block (K must be a multiple) */
    int32_t block_bytes;      /**< bytes per block */
    double bits_per_weight;   /**< 8·block_bytes / block_elems */
    int32_t weight_bits;      /**< 2, 3, 4, 5, 6, 8, 16 or 32 */
    int32_t group_size;       /**< weights sharing one scale (Q6_K/Q3_K/Q2_K: 16) */
    tsr_dtype scale_dtype;    /**< F16 or F32; F32 for float formats (no scale) */
    int32_t has_zero_point;   /**< 1 for the ...Z formats */
    int32_t has_min;          /**< 1 for Q4_1/Q5_1 (x = d·q + m), Q4_K/Q5_K/Q2_K (x = d·q − m) */
    int32_t ggml_type;        /**< ggml_type id (F32 0, F16 1, Q4_0 2, Q4_1 3, Q5_0 6, Q5_1 7,
                                   Q8_0 8, Q2_K 10, Q3_K 11, Q4_K 12, Q5_K 13, Q6_K 14,
                                   IQ4_NL 20, BF16 30), or -1 for Tessera-only formats */
    int32_t act_block;        /**< activation int8 block used by qgemm: elements per activation scale (the
                                   group; 256 for the K-quants Q2_K..Q6_K, as llama.cpp's Q8_K), 0 = f32 activations */
} tsr_quant_traits;

/** Fills `out` (out->size must be set) for `format`. TSR_EINVAL for an unknown format. */
TSR_API tsr_status tsr_quant_traits_get(tsr_quant_format format, tsr_quant_traits *out);

/** Name of `format` ("q4_0", ...) or "invalid". Never NULL. */
TSR_API const char *tsr_quant_format_name(tsr_quant_format format);

/** Parses a format name (case-insensitive, as tsr_quant_format_name prints it). */
TSR_API tsr_status tsr_quant_format_parse(const char *name, tsr_quant_format *out);

/**
 * Maps a ggml/GGUF tensor type id to a format. TSR_EUNSUPPORTED for ggml types
 * Tessera does not implement (e.g. IQ2_XXS), TSR_EINVAL for negative ids.
 */
TSR_API tsr_status tsr_quant_format_from_ggml(int32_t ggml_type, tsr_quant_format *out);

/**
 * Bytes of one row of `k` weights. TSR_EINVAL if k <= 0 or k is not a multiple of
 * the block size; TSR_ERANGE on overflow.
 */
TSR_API tsr_status tsr_quant_row_bytes(tsr_quant_format format, int64_t k, size_t *out);

/**
 * A quantized N×K weight matrix in a caller-owned buffer (e.g. a memory-mapped GGUF
 * file). Plain descriptor: Tessera never frees `data`.
 */
typedef struct tsr_quant_matrix {
    uint32_t size;            /**< sizeof(tsr_quant_matrix) */
    tsr_quant_format format;
    int64_t n;                /**< rows = output features, > 0 */
    int64_t k;                /**< columns = input features, > 0, multiple of block_elems */
    const void *data;         /**< first byte of row 0; any alignment */
    size_t row_stride;        /**< bytes from one row to the next; 0 = row_bytes (packed) */
    size_t data_bytes;        /**< readable bytes at data; must cover (n-1)·stride + row_bytes */
} tsr_quant_matrix;

/** Validates a descriptor (shape, format, stride, buffer length); TSR_OK if usable. */
TSR_API tsr_status tsr_quant_matrix_check(const tsr_quant_matrix *w);

/** Error statistics of a quantization (|x − dequant(quant(x))| over all weights). */
typedef struct tsr_quant_stats {
    uint32_t size;            /**< sizeof(tsr_quant_stats) */
    double max_abs_error;
    double rms_error;
    double max_abs_value;     /**< max |x| of the input, for relative figures */
    double rms_value;         /**< RMS of the input */
} tsr_quant_stats;

/**
 * Quantizes an N×K f32 matrix `src` (row i at src + i·ld, ld >= k) into `dst`, rows
 * packed back to back (row_bytes each; dst_bytes must be >= n·row_bytes). Round to
 * nearest with the format's reference quantizer (GGUF formats follow ggml's reference
 * quantizers, with ggml's searches: Q4_K/Q5_K/Q2_K choose each sub-block's scale and
 * minimum by make_qkx2_quants's weighted least squares, Q3_K by make_q3_quants, Q6_K by
 * make_qx_quants; without an importance matrix). `stats` (may be NULL; size set)
 * receives the round-trip error. Parallel over rows on `pool` (NULL = default).
 *
 * Extreme values. After TSR_OK every weight dequantizes to a finite value:
 *   - a block too small for its scale to be inverted (all values zero or subnormal, or
 *     close: the scale's reciprocal would overflow f32) is stored like an all-zero block:
 *     scale ±0, every quant at the format's zero code (Q4_1's minimum ±0); it dequantizes
 *     to 0;
 *   - a block whose scale overflows its type is refused with TSR_ERANGE, naming the row
 *     and block: fp16 scales hold at most 65504, so max|x| above about 5.2e5 (Q4_0,
 *     Q4G*_F16), 9.8e5 of range or a minimum beyond ±65504 (Q4_1), 9.8e5 of range
 *     (Q4G*_F16Z), 8.3e6 (Q8_0, Q8G*_F16), 1e6 (Q5_0), 2e6 of range (Q5_1), 8.3e6 (IQ4_NL);
 *     K-quants refuse max|x| beyond 65504 × the largest sub-scale × the largest code (Q6_K
 *     2.7e8, Q5_K 1.3e8, Q4_K 6.2e7, Q3_K 8.4e6, Q2_K 2.9e6) and blocks whose fp16 d or dmin
 *     would overflow (e.g. a Q4_K minimum below −4.1e6); f32 scales only near
 *     FLT_MAX; F16 values beyond ±65504 and BF16 values beyond ±3.39e38 likewise. dst is
 *     then zero-filled (no partial result).
 * Errors: TSR_EINVAL (NULL pointers, bad shape/ld/dst_bytes/stats->size, unknown format;
 * a non-finite input, naming the row and column, with nothing written), TSR_ERANGE (the
 * above, or n·ld / n·row_bytes overflow), TSR_ENOMEM.
 */
TSR_API tsr_status tsr_quantize(tsr_pool_t *pool, tsr_quant_format format, const float *src,
                                int64_t n, int64_t k, int64_t ld, void *dst, size_t dst_bytes,
                                tsr_quant_stats *stats);

/**
 * Dequantizes `w` into the f32 matrix dst (row i at dst + i·ld, ld >= w->k).
 * Parallel over rows on `pool`.
 */
TSR_API tsr_status tsr_dequantize(tsr_pool_t *pool, const tsr_quant_matrix *w, float *dst,
                                  int64_t ld);

/**
 * Reference dot product of one weight row (k weights of `format` at `row`, any
 * alignment) with f32 `x`, in float64 on the dequantized weights. For tests and tools.
 */
TSR_API tsr_status tsr_quant_row_dot_f64(tsr_quant_format format, const void *row, int64_t k,
                                         const float *x, double *out);

/* ---- Y = X·Wᵀ + bias --------------------------------------------------------- */

typedef struct tsr_qgemm_plan tsr_qgemm_plan_t;

/** Options for tsr_qgemm_plan_create; start from tsr_qgemm_params_default(). */
typedef struct tsr_qgemm_params {
    uint32_t size;            /**< sizeof(tsr_qgemm_params) */
    int32_t flags;            /**< reserved, 0 */
} tsr_qgemm_params;

/** Fills the defaults. NULL-safe. */
TSR_API void tsr_qgemm_params_default(tsr_qgemm_params *p);

/**
 * Creates a plan for Y = X·Wᵀ + bias with the weights `w`: validates `w` and
 * repacks it once into the interleaved panel layout owned by the plan (`w->data`
 * is not referenced afterwards and may be unmapped). `params` may be NULL.
 * Parallel over row panels on `pool`. Plan creation is thread-safe.
 * Errors: TSR_EINVAL (bad descriptor, short buffer), TSR_ERANGE, TSR_ENOMEM.
 */
TSR_API tsr_status tsr_qgemm_plan_create(tsr_pool_t *pool, const tsr_quant_matrix *w,
                                         const tsr_qgemm_params *params, tsr_qgemm_plan_t **out);

/** Frees a plan. NULL-safe. */
TSR_API void tsr_qgemm_plan_destroy(tsr_qgemm_plan_t *plan);

/** What a plan holds and how it computes. */
typedef struct tsr_qgemm_plan_info {
    uint32_t size;            /**< sizeof(tsr_qgemm_plan_info) */
    tsr_quant_format format;
    int64_t n, k;
    size_t source_bytes;      /**< bytes of the weights in their storage format (n·row_bytes) */
    size_t packed_bytes;      /**< bytes of the plan's packed panels (what execute streams) */
    int32_t panel_rows;       /**< output rows per panel (16) */
    int32_t group;            /**< weights per scale group in the packed layout */
    int32_t act_block;        /**< int8 activation block (elements per activation scale), or 0 for f32 activations */
    tsr_isa isa;              /**< ISA execute would use now (tsr_isa_active and CPU features) */
    char kernel[48];          /**< kernel name, e.g. "avx512vnni+amx-int8-u4", "avx2-int8-u8" */
} tsr_qgemm_plan_info;

/** Describes `plan` (out->size must be set). */
TSR_API tsr_status tsr_qgemm_plan_info_get(const tsr_qgemm_plan_t *plan, tsr_qgemm_plan_info *out);

/**
 * Dequantizes the weights held by `plan` into the f32 N×K matrix dst (row i at
 * dst + i·ld, ld >= k): bit-identical to tsr_dequantize on the source the plan was
 * made from, so a plan over borrowed bytes can still show its weights.
 */
TSR_API tsr_status tsr_qgemm_plan_dequantize(const tsr_qgemm_plan_t *plan, float *dst, int64_t ld);

/** Bytes of workspace tsr_qgemm_execute needs for `m` rows (0 for float formats). */
TSR_API tsr_status tsr_qgemm_workspace_size(const tsr_qgemm_plan_t *plan, int64_t m, size_t *out);

/**
 * Y = X·Wᵀ (+ bias): X is m×k f32 (row i at x + i·ldx, ldx >= k), Y is m×n f32 (row i
 * at y + i·ldy, ldy >= n), bias is n floats or NULL. 1 <= m (any size; m = 1 is GEMV).
 * `workspace` (TSR_ALIGNMENT not required) of at least tsr_qgemm_workspace_size(m)
 * bytes, or NULL to use the plan's own scratch (calls with NULL then serialise on the
 * plan). Parallel over 16-row output panels on `pool` (NULL = default pool); the ISA
 * is read from tsr_isa_active() at every call. Y must not overlap X or bias.
 * Non-finite values in X propagate to the affected rows of Y (NaN).
 * Errors: TSR_EINVAL (NULLs, m <= 0, strides, workspace too small), TSR_ERANGE.
 */
TSR_API tsr_status tsr_qgemm_execute(tsr_pool_t *pool, const tsr_qgemm_plan_t *plan, int64_t m,
                                     const float *x, int64_t ldx, const float *bias, float *y,
                                     int64_t ldy, void *workspace, size_t workspace_bytes);

/**
 * One-shot Y = X·Wᵀ (+ bias): plan, execute, destroy. Convenient, but it repacks `w`
 * at every call: keep a plan for repeated products.
 */
TSR_API tsr_status tsr_qgemm(tsr_pool_t *pool, const tsr_quant_matrix *w, int64_t m,
                             const float *x, int64_t ldx, const float *bias, float *y, int64_t ldy);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_QUANT_H */
