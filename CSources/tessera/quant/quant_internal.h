/*
 * quant_internal.h — shared by the quant sources: traits access, the packed panel
 * layout of a qgemm plan, and the qgemm microkernel table.
 *
 * Packed panel layout (integer formats). Rows are taken 16 at a time (a panel; the
 * last one is padded with zero weights). A panel is K/g group records back to back;
 * a record is
 *     weights  16·g·bits/8 bytes, in 64-byte chunks; chunk j, lane r (bytes 4r..4r+3):
 *                4-bit: byte i = q[r][8j+i] | q[r][8j+4+i] << 4     (g/8 chunks)
 *                8-bit: byte i = u[r][4j+i]                          (g/4 chunks)
 *     scales   16 × f16 or f32 (one per row)
 *     extra    zero points: 16 × u8;  minimums: 16 × the scale type;  else nothing
 * Two-level (K-quant) panels instead hold per record 16 × int8 sub-scales sc (+ 16 × u8
 * sub-minimums m), and after the K/g records a table with one entry per 256-element
 * super-block: 16 × f16 d (+ 16 × f16 −dmin). Kernels fold the group sums with sc and m in
 * integers and apply d and −dmin once per super-block (tsr_qsuper_step).
 *     high plane (hbits = 1 or 2; after the g/8 nibble chunks, g·hbits/32 chunks of 64 B):
 *                chunk c, lane r, byte i, bit field f (bits hbits·f..): h[r][c·32/hbits + 4f + i],
 *                so the field of nibble chunk j's low (high) half is f = (2j (+1)) mod 8/hbits
 *                of chunk (2j (+1))·hbits/8 (tsr_qhplane_field)
 * Weights are unsigned: 4-bit q in 0..15, or with a high plane u = q | h << 4 (Q5_0/Q5_1/Q5_K:
 * 5-bit u, Q6_K: 6-bit L = q + 32); 8-bit u = q + 128 (Q8_0/Q8G).
 * The integer group dot is isum = Σ u·a − z·Σa with z a per-plan constant (8, 128, 32,
 * 0) or the row's zero point. Q6_K is repacked as a 4+2-bit format with g = 16. The newer ggml formats (tsr_qggml_codes): Q4_K
 * 4-bit g = 32, int8 sub-scales sc and u8 sub-minimums m under f16 d, −dmin; Q5_K the same 4+1-bit; Q3_K / Q2_K
 * 4-bit g = 16 (u = q + 4 / q, Q2_K with minimums); Q5_0 / Q5_1 4+1-bit and IQ4_NL
 * 4-bit indices looked up in a 16-entry table (vpshufb), g = 32 with f16 scales (u = q, z 16 /
 * q with f16 minimum / T[q] + 128, z 128).
 * Q6_K is 4+2-bit with g = 16. The K-quants use the two-level scales below.
 *
 * Float formats (F32/F16/BF16): a panel is K rows of 16 elements in the source type.
 */
#ifndef TSR_QUANT_INTERNAL_H
#define TSR_QUANT_INTERNAL_H

#include <math.h>
#include <string.h>

#include "tsr_kernels.h"

#define TSR_QP 16 /* rows per panel */

enum { TSR_QZ_CONST = 0, TSR_QZ_ROW = 1 };

/* Per-format constants used by quantize/dequantize/pack. */
typedef struct tsr_qfmt {
    const char *name;
    int32_t block_elems, block_bytes, weight_bits, group;
    int32_t scale_bytes;    /* 2 (f16) or 4 (f32); 0 for float formats */
    int32_t zero_point;     /* Tessera ...Z formats */
    int32_t has_min;        /* Q4_1, Q5_1, Q4_K, Q5_K, Q2_K */
    int32_t ggml_type;
    int32_t is_float;       /* F32/F16/BF16 */
    int32_t act_block;
} tsr_qfmt;

TSR_INTERNAL const tsr_qfmt *tsr_qfmt_get(tsr_quant_format f); /* NULL if invalid */

/* Reference per-row quantize / dequantize of k elements (k a multiple of the block).
 * x must be finite. tsr_qrow_quantize returns -1, or the index of the first block whose
 * scale (or F16/BF16 value) overflows its type; it stops there, the row then unusable. */
TSR_INTERNAL int64_t tsr_qrow_quantize(tsr_quant_format f, const float *x, int64_t k, uint8_t *dst);
TSR_INTERNAL void tsr_qrow_dequantize(tsr_quant_format f, const uint8_t *src, int64_t k, float *y);

/* The ggml formats of quant_ggml.c / quant_kquant.c (Q5_0 ... IQ4_NL, enum values 25..31). */
static inline int tsr_qfmt_is_ggml_ext(tsr_quant_format f) { return f >= TSR_QUANT_Q5_0 && f <= TSR_QUANT_IQ4_NL; }
TSR_INTERNAL extern const int8_t tsr_iq4nl_values[16];
TSR_INTERNAL extern const uint8_t tsr_iq4nl_codes[16]; /* the levels + 128: IQ4_NL's code u */
/* Plan code layout of such a format: weight bits in the panel (4 or 8; 4 with hbits of high
 * plane), scales (and minimums)
 * f32 (else f16), zero code z (x = s·(u − z), or s·u + mn with a minimum), largest code. */
TSR_INTERNAL void tsr_qggml_codes(tsr_quant_format f, int32_t *bits, int32_t *hbits, int32_t *scale_f32, int32_t *z,
                                  int32_t *u8_max);
/* Decodes one block: codes u[block_elems] and per group (block_elems / group of them) the
 * scale and the additive minimum (0 without one) as f32 bits, or f16 bits where the plan
 * keeps f16 scales. The dequantized value is s·(u − z) or s·u + mn. */
TSR_INTERNAL void tsr_qggml_unpack(tsr_quant_format f, const uint8_t *blk, uint8_t *u, uint32_t *scale,
                                   uint32_t *mn);
TSR_INTERNAL void tsr_qggml_dequantize_block(tsr_quant_format f, const uint8_t *blk, float *y);
/* The two scale levels of a K-quant block (Q2_K..Q6_K): f16 bits of d and of −dmin (0 without
 * minimums) and per sub-block the integer scale sc (signed: Q3_K sc − 32, Q6_K's int8) and
 * minimum m; the group scale is d·sc and the minimum (−dmin)·m, both exact in f32. */
TSR_INTERNAL void tsr_qggml_subscales(tsr_quant_format f, const uint8_t *blk, uint16_t *d, uint16_t *nmin,
                                      int8_t *sc, uint8_t *m);
/* Quantizes one block (x finite); 1 if its scale overflows (nothing usable written). */
TSR_INTERNAL int tsr_qggml_quantize_block(tsr_quant_format f, const float *x, uint8_t *blk);
TSR_INTERNAL int tsr_qkquant_block(tsr_quant_format f, const float *x, uint8_t *blk);

/* Little-endian unaligned loads/stores. */
static inline uint16_t tsr_ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline float tsr_ldf(const uint8_t *p) { float v; memcpy(&v, p, 4); return v; }
static inline void tsr_st16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void tsr_stf(uint8_t *p, float v) { memcpy(p, &v, 4); }

/* ---- packed plan ------------------------------------------------------------ */

/* Quantized activations of one row: int8 q[k] and per-group metadata. The scale d is shared by
 * the groups of one activation block: the group itself, or for two-level (K-quant) plans the
 * 256-element super-block (as llama.cpp's Q8_K), while sum stays per group. */
typedef struct tsr_qact_meta {
    float d;        /* scale of the group's activation block (NaN if it held a non-finite value) */
    int32_t sum;    /* Σ q over the group */
    float dsum;     /* d · (float)sum, for Q4_1 minimums */
    int32_t zsum;   /* z · sum for plans with a constant zero point (filled by execute) */
    int32_t spair;  /* two-level plans, even groups: (sum & 0xffff) | sum[next group] << 16, the
                     * int16 pair vpdpwssd multiplies by two sub-minimums (filled by execute) */
} tsr_qact_meta;

/* What an integer kernel needs to know about the packed layout. */
typedef struct tsr_qkernel_desc {
    int32_t bits;          /* 4 or 8 */
    int32_t hbits;         /* 4-bit layouts: bits of a high plane (0, 1 or 2): u = nibble | h << 4 */
    const uint8_t *lut;    /* 4-bit layouts: u = lut[nibble] (IQ4_NL: its levels + 128), or NULL */
    int32_t group;         /* g: weights per record along K */
    int32_t ngroups;       /* K / g */
    int32_t scale_f32;     /* scales are f32 (else f16) */
    int32_t zkind;         /* TSR_QZ_CONST or TSR_QZ_ROW */
    int32_t zconst;        /* z when zkind == CONST */
    int32_t has_min;       /* minimums follow the scales, in the scale type (f16 or f32) */
    int32_t u8_max;        /* largest stored 8-bit value (63 for Q6_K, 255 otherwise) */
    int32_t two_level;     /* K-quants: int8 sub-scales per record, f16 super-block scales */
    int32_t gps;           /* two_level: groups per super-block (256 / g) */
    int32_t sc_in_codes;   /* two_level, sub-scales >= 0 whose products with the codes fit u8 (Q2_K: 15·3 = 45):
                            * the M > 8 AVX-512 slab may store sc·u and sum a super-block in one chain */
    size_t wbytes;         /* weight bytes per record (the nibble plane, then the high plane) */
    size_t rec_bytes;      /* record bytes */
    size_t super_off;      /* two_level: offset of the super-block table in a panel */
    size_t super_bytes;    /* two_level: bytes of one super-block entry (32, 64 with minimums) */
    size_t panel_bytes;    /* ngroups · rec_bytes (+ the super-block table) */
} tsr_qkernel_desc;

/* The super-block entry of group gi of a two-level panel (16 × f16 d, then 16 × f16 −dmin),
 * or NULL for single-level layouts. */
static inline const uint8_t *tsr_qsuper(const tsr_qkernel_desc *d, const uint8_t *panel, int gi) {
    return d->two_level ? panel + d->super_off + (size_t)(gi / d->gps) * d->super_bytes : NULL;
}

/* Nibble chunk j of a record, low (half 0) or high (half 1) nibbles: the high-plane chunk
 * and the bit shift of the fields that complete its codes. */
static inline void tsr_qhplane_field(const tsr_qkernel_desc *d, int j, int half, int *chunk, int *shift) {
    const int fpc = 8 / d->hbits, idx = 2 * j + half;
    *chunk = idx / fpc;
    *shift = d->hbits * (idx % fpc);
}

/*
 * Two-level (K-quant) plans: the integer super-block fold. Activations carry one scale d_a per
 * 256 elements (tsr_qact_block) and Σa per group; per (activation row, output row, super-block)
 *     isum = Σ_j sc_j · (dot_j − z·Σa_j)      msum = Σ_j m_j · Σa_j      (exact int32)
 * (dot_j = Σ u·a over group j, sc_j the int8 sub-scale, m_j the sub-minimum, z the plan's zero
 * code). Every term fits int32 with room, |a| <= 128 (|Σa_j| <= 128·g):
 *     Q4_K  |dot_j| <= 15·128·32,  sc <= 63, 8 groups:  |isum| <= 3.1e7;  msum <= 63·4096·8 = 2.1e6
 *     Q5_K  |dot_j| <= 31·128·32,  sc <= 63, 8 groups:  |isum| <= 6.4e7;  msum as Q4_K
 *     Q6_K  |dot_j − 32·Σa_j| <= 32·128·16, |sc| <= 128, 16 groups: |isum| <= 1.35e8 (dot_j itself
 *           <= 63·128·16, 32·Σa_j <= 65536)
 *     Q3_K  |dot_j − 4·Σa_j| <= 4·128·16, |sc| <= 32, 16 groups: |isum| <= 4.2e6
 *     Q2_K  dot_j <= 3·128·16, sc <= 15, 16 groups: |isum| <= 1.5e6; msum <= 15·2048·16 = 4.9e5
 * and m_j (<= 63) and Σa_j (<= 4096) both fit int16, so the SIMD kernels may form msum with
 * vpdpwssd on pairs of groups (tsr_qact_meta.spair). Then one float step per super-block, in
 * this order on every path:
 *     with minimums:  w = (float)msum · nmin;  v = fma((float)isum, d, w);  acc = fma(v, d_a, acc)
 *     without:        v = (float)isum · d;                                  acc = fma(v, d_a, acc)
 * with d the row's f16 super-block scale and nmin its −dmin, as f32.
 */
static inline float tsr_qsuper_step(int32_t isum, int32_t msum, float d, float nmin, int has_min, float da,
                                    float acc) {
    float v;
    if (has_min) {
        const float w = (float)msum * nmin;
        v = fmaf((float)isum, d, w);
    } else {
        v = (float)isum * d;
    }
    return fmaf(v, da, acc);
}

/* Float panel element type. */
enum { TSR_QF_F32 = 0, TSR_QF_F16 = 1, TSR_QF_BF16 = 2 };

struct tsr_qgemm_plan {
    tsr_quant_format format;
    int64_t n, k;
    int64_t npanels;
    int32_t is_float;
    int32_t ftype;               /* float formats: TSR_QF_* */
    tsr_qkernel_desc d;          /* integer formats */
    size_t source_bytes;
    size_t packed_bytes;
    size_t panel_bytes;
    uint8_t *packed;             /* npanels · panel_bytes, 64-byte aligned */
    void *scratch;               /* plan-owned activation workspace (NULL workspace calls) */
    size_t scratch_bytes;
    void *lock;                  /* pthread_mutex_t * guarding scratch */
};

/* Quantizes one activation row of k floats: one scale per `ablock` elements (a multiple of
 * `group`, dividing k), Σq per `group`: q (k int8) and meta (k / group entries). A block with a
 * NaN or ±Inf gets q = 0, sum = 0 and d = dsum = NaN in all its groups. */
typedef void (*tsr_qact_fn)(const float *x, int64_t k, int32_t group, int32_t ablock, int8_t *q, tsr_qact_meta *meta);

/* The activation block of a layout: 256 (one scale per super-block) for two-level plans, else g. */
static inline int32_t tsr_qact_block(const tsr_qkernel_desc *d) { return d->two_level ? 256 : d->group; }

/*
 * Integer panel kernel: for rows [m0, m0+mt) of the activations (q at act + m·k_pad,
 * meta at meta + m·ngroups), computes the 16 outputs of panel `panel` and writes
 * `nvalid` of them to y + m·ldy (+ bias). mt is any count; the kernel tiles it.
 */
typedef void (*tsr_qkernel_fn)(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt,
                               const int8_t *act, int64_t act_stride, const tsr_qact_meta *meta,
                               float *y, int64_t ldy, const float *bias, int32_t nvalid);

/* Float panel kernel: y rows [0, mt) of panel with x rows at x + m·ldx. */
typedef void (*tsr_fkernel_fn)(int32_t ftype, const uint8_t *panel, int64_t k, int64_t mt,
                               const float *x, int64_t ldx, float *y, int64_t ldy,
                               const float *bias, int32_t nvalid);

/* M = 1 (no bias) against panels pa and pb: the same bits as two tsr_qkernel_fn calls,
 * with the activation broadcasts shared. */
typedef void (*tsr_qkernel_m1x2_fn)(const tsr_qkernel_desc *d, const uint8_t *pa, const uint8_t *pb,
                                    const int8_t *act, const tsr_qact_meta *meta, float *ya, float *yb,
                                    int32_t nva, int32_t nvb);

/* mt > 8 activation rows against panels pa and pb (next to each other in the output): pa's 16
 * outputs go to y (+ bias), pb's nvb to y + 16 (+ bias + 16). The same bits as two
 * tsr_qkernel_fn calls; a kernel may share each activation broadcast between the panels. */
typedef void (*tsr_qkernel_x2_fn)(const tsr_qkernel_desc *d, const uint8_t *pa, const uint8_t *pb, int64_t mt,
                                  const int8_t *act, int64_t act_stride, const tsr_qact_meta *meta, float *y,
                                  int64_t ldy, const float *bias, int32_t nvb);

/*
 * The qgemm microkernel table (docs/KERNELS.md). The driver (qgemm.c) quantizes the
 * activation rows with `act`, then runs the panel kernels over the 16-row weight panels
 * in parallel; each panel kernel tiles the M activation rows itself (its register block).
 * Every path performs the same operations lane by lane (exact int32 group sums, then
 * t = (float)isum · d_a and acc = fma(t, scale, acc) in K order; two-level plans: exact int32
 * super-block sums, then tsr_qsuper_step), so all give the same bits.
 */
typedef struct tsr_qgemm_kernels {
    tsr_kernel_head head;
    const char *int_name;         /* plan info of the integer path ("avx512vnni-int8"), set with qpanel */
    const char *float_name;       /* plan info of the float path ("avx2-f32fma"), set with fpanel */
    tsr_isa int_isa, float_isa;   /* level of the table that set qpanel / fpanel (the selector fills them) */
    tsr_qact_fn act;              /* one activation row to int8 + group meta; goes with qpanel's ISA */
    tsr_qkernel_fn qpanel;        /* integer panel × mt activation rows */
    tsr_qkernel_m1x2_fn qpanel_m1x2; /* optional (NULL in the reference): M = 1 over two panels */
    tsr_qkernel_x2_fn qpanel_x2;  /* optional, goes with qpanel (a table setting qpanel sets or clears it): M > 8 over two panels */
    tsr_fkernel_fn fpanel;        /* float (F32/F16/BF16) panel × mt rows */
} tsr_qgemm_kernels;

/* The reference table (qgemm_scalar.c) and the overrides, in the order they apply. */
TSR_INTERNAL extern const tsr_qgemm_kernels tsr_qgemm_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const tsr_qgemm_kernels tsr_qgemm_kernels_avx2;        /* qpanel, fpanel */
TSR_INTERNAL extern const tsr_qgemm_kernels tsr_qgemm_kernels_avx512;      /* fpanel */
TSR_INTERNAL extern const tsr_qgemm_kernels tsr_qgemm_kernels_avx512vnni;  /* act, qpanel, qpanel_m1x2 (VNNI) */
TSR_INTERNAL extern const tsr_qgemm_kernels tsr_qgemm_kernels_amx;         /* qpanel (AMX-INT8) */
/* The VNNI panel kernel: the AMX kernel runs the rows left over from its 16-row blocks with it. */
TSR_INTERNAL void tsr_qkernel_avx512vnni(const tsr_qkernel_desc *d, const uint8_t *panel, int64_t mt,
                                         const int8_t *act, int64_t act_stride, const tsr_qact_meta *meta,
                                         float *y, int64_t ldy, const float *bias, int32_t nvalid);
#endif

/* Per-thread buffers of the qgemm driver and kernels (qgemm.c): slot TSR_QTLS_SLAB holds the
 * AVX-512 kernel's unpacked slab, TSR_QTLS_ACT a worker's own copy of the quantized activation
 * rows (M > 8, small M·K). At least `bytes`, 64-byte aligned, kept while the thread lives (freed
 * at its exit) and grown on demand, contents not kept across growth; NULL if it cannot be had,
 * and the caller then takes a path without it. */
enum { TSR_QTLS_SLAB = 0, TSR_QTLS_ACT = 1, TSR_QTLS_SLOTS = 2 };
TSR_INTERNAL void *tsr_qthread_buffer(int slot, size_t bytes);

/* 1 if the AMX-INT8 path may be used (CPU, OS permission, TESSERA_QUANT_AMX != 0). */
TSR_INTERNAL int tsr_qamx_available(void);

/* Plan layout choice and repacking (qgemm_pack.c). */
TSR_INTERNAL void tsr_qgemm_layout(tsr_quant_format fmt, int64_t k, tsr_qkernel_desc *d, int32_t *ftype);
TSR_INTERNAL tsr_status tsr_qgemm_pack(tsr_pool_t *pool, const tsr_quant_matrix *w, const tsr_qkernel_desc *d,
                                       int32_t ftype, size_t panel_bytes, int64_t npanels, uint8_t *packed);

/*
 * Software prefetch distance of the panel kernels, in bytes ahead of the record being read.
 * At M <= 8 a panel kernel streams its weights once; the hardware prefetchers stop at each
 * 4 KiB page and keep too few lines in flight for one core to reach the machine's read
 * bandwidth (`tessera bench quant`, q4g128 4096×4096 M = 1 cold on a 2-core Xeon VM: 15.2
 * GB/s without, 27.0 GB/s with; distance swept 0.5–8 KiB). The prefetches go to L2 (T1), not
 * L1: an L1 prefetch holds one of the core's few L1 miss buffers until its line arrives, so
 * far-ahead L1 prefetches stall the loads behind them. Gemma 3's Q8_0 output head (178 MB,
 * M = 1, 2 threads, 2-core Zen 4, medians of 11, alternated with a read probe of the same
 * size): 4 KiB into L1 7.1–8.2 ms (0.72–0.75 of the probe's rate), 16 KiB into L2 4.6–5.8 ms
 * (0.9–1.2 of it), with the plan's weights on huge pages (qgemm.c) in both. Prefetches past
 * the end of the packed buffer never fault.
 */
#define TSR_QPF_BYTES 16384

/* Prefetches, into L2, the record `bytes` long that lies TSR_QPF_BYTES beyond `rec`. */
#define TSR_QPREFETCH_RECORD(rec, bytes)                                                          \
    do {                                                                                          \
        for (size_t pf_ = 0; pf_ < (bytes); pf_ += 64)                                            \
            __builtin_prefetch((const char *)(rec) + TSR_QPF_BYTES + pf_, 0, 2);                  \
    } while (0)

/* Activation row stride in bytes: k rounded up to 64, plus one line so that rows read
 * together (16-row AMX tiles, 8-row VNNI tiles) do not all map to the same L1 set when k
 * is a multiple of 4096. */
static inline int64_t tsr_qact_stride(int64_t k) { return ((k + 63) & ~(int64_t)63) + 64; }

#endif /* TSR_QUANT_INTERNAL_H */
