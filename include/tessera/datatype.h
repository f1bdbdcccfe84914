/*
 * tessera/datatype.h — MPI-style derived datatypes: constructors, commit
 * (canonicalisation to strided blocks / merged segment lists), and fast
 * pack / unpack with MPI_Pack semantics.
 *
 * A datatype describes a set of bytes relative to a base address, in a fixed
 * order (the "type map", as in MPI): packing copies those bytes, in that order,
 * into a contiguous buffer; unpacking scatters them back.
 *
 *     tsr_datatype_t *dbl, *face;
 *     tsr_datatype_named(TSR_TYPE_DOUBLE, &dbl);
 *     int64_t sizes[3] = {256, 256, 256}, sub[3] = {256, 256, 1}, st[3] = {0, 0, 0};
 *     tsr_datatype_subarray(3, sizes, sub, st, TSR_ORDER_C, dbl, &face);
 *     tsr_datatype_commit(face);
 *     int64_t pos = 0;
 *     tsr_datatype_pack(NULL, grid, 1, face, buf, bufsize, &pos);
 *     tsr_datatype_destroy(face); tsr_datatype_destroy(dbl);
 *
 * Handles and lifetime
 *   - Every constructor returns a NEW handle with one reference, owned by the
 *     caller; release it with tsr_datatype_destroy. A type used to build another
 *     stays alive (internally referenced) as long as that one does, so the
 *     building blocks may be destroyed right after construction, as in MPI.
 *   - Named types are handles too (tsr_datatype_named returns a new reference).
 *   - Every function validates its handle: a destroyed handle (or any pointer that is
 *     not a live datatype) gives TSR_EINVAL / TSR_ESTATE, never a crash.
 *   - A committed type is immutable; pack / unpack / queries on it are
 *     thread-safe. Constructors and destroy are thread-safe too.
 *
 * Canonical form (what commit computes; see docs/datatype.md)
 *   start + sum_k i_k * stride_k + body,  0 <= i_k < count_k,  k = 0 (outer) .. ndims-1 (inner)
 *   where the body is one dense block of `block_bytes` bytes (kind STRIDED) or a
 *   list of (offset, length) segments (kind SEGMENTS). Commit flattens the nesting
 *   into streams, then repeats to a fixed point: drop count-1 streams, fold a
 *   stream over a dense block of matching length into a bigger block, merge
 *   streams whose strides chain, coalesce touching segments, and turn periodic
 *   segment lists back into a stream over one period. Two types that describe
 *   the same bytes in the same order get the same canonical form. Streams are
 *   never reordered by stride: that would permute the packed stream, which MPI
 *   fixes by the type map.
 *
 * Counts and displacements are int64_t; all size products are overflow-checked
 * (TSR_ERANGE). Displacements and strides may be negative.
 */
#ifndef TESSERA_DATATYPE_H
#define TESSERA_DATATYPE_H

#include "core.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_datatype tsr_datatype_t;

/** Named (predefined) types. Append-only. */
typedef enum tsr_named_type {
    TSR_TYPE_BYTE = 0,            /**< 1 byte, untyped */
    TSR_TYPE_CHAR = 1,            /**< char */
    TSR_TYPE_INT8 = 2,
    TSR_TYPE_INT16 = 3,
    TSR_TYPE_INT32 = 4,
    TSR_TYPE_INT64 = 5,
    TSR_TYPE_UINT8 = 6,
    TSR_TYPE_UINT16 = 7,
    TSR_TYPE_UINT32 = 8,
    TSR_TYPE_UINT64 = 9,
    TSR_TYPE_FLOAT = 10,
    TSR_TYPE_DOUBLE = 11,
    TSR_TYPE_COMPLEX_FLOAT = 12,  /**< 2 x float, 8 bytes */
    TSR_TYPE_COMPLEX_DOUBLE = 13, /**< 2 x double, 16 bytes */
    TSR_TYPE_BOOL = 14,           /**< C _Bool, 1 byte */
    TSR_TYPE_NAMED_COUNT
} tsr_named_type;

/** Array order for tsr_datatype_subarray. Append-only. */
typedef enum tsr_order {
    TSR_ORDER_C = 0,        /**< row-major: the last dimension varies fastest */
    TSR_ORDER_FORTRAN = 1,  /**< column-major: the first dimension varies fastest */
    TSR_ORDER_COUNT
} tsr_order;

/** How a type was built (tsr_datatype_combiner). Append-only. */
typedef enum tsr_combiner {
    TSR_COMBINER_NAMED = 0,
    TSR_COMBINER_CONTIGUOUS = 1,
    TSR_COMBINER_VECTOR = 2,
    TSR_COMBINER_HVECTOR = 3,
    TSR_COMBINER_INDEXED = 4,
    TSR_COMBINER_HINDEXED = 5,
    TSR_COMBINER_INDEXED_BLOCK = 6,
    TSR_COMBINER_HINDEXED_BLOCK = 7,
    TSR_COMBINER_STRUCT = 8,
    TSR_COMBINER_SUBARRAY = 9,
    TSR_COMBINER_RESIZED = 10,
    TSR_COMBINER_DUP = 11,
    TSR_COMBINER_COUNT
} tsr_combiner;

/* ---- constructors ---------------------------------------------------------------
 * All constructors: `out` receives a new handle (refcount 1) or is left untouched
 * on error. Errors: TSR_EINVAL (NULL out/old/arrays with count > 0, negative
 * count or block length, destroyed or invalid handle, bad enum), TSR_ERANGE (a
 * size, extent, true extent or displacement overflows int64 — every type has
 * size, extent and true extent representable in int64 —, or the type would
 * nest more than 1024 constructors deep), TSR_ENOMEM. The message names the
 * constructor and the values. `old` need not be committed (as in MPI).
 * Blocks of zero size (count or blocklen 0, or an empty child) cost nothing
 * when packing, however many of them a type lists.
 */

/** A predefined type. TSR_EINVAL for a value outside tsr_named_type. */
TSR_API tsr_status tsr_datatype_named(tsr_named_type kind, tsr_datatype_t **out);

/** `count` copies of `old`, each `extent(old)` after the previous. count >= 0. */
TSR_API tsr_status tsr_datatype_contiguous(int64_t count, tsr_datatype_t *old, tsr_datatype_t **out);

/** `count` blocks of `blocklen` olds, block i starting at i*stride*extent(old). */
TSR_API tsr_status tsr_datatype_vector(int64_t count, int64_t blocklen, int64_t stride,
                                       tsr_datatype_t *old, tsr_datatype_t **out);

/** Like vector, but `stride_bytes` is in bytes (may be negative). */
TSR_API tsr_status tsr_datatype_hvector(int64_t count, int64_t blocklen, int64_t stride_bytes,
                                        tsr_datatype_t *old, tsr_datatype_t **out);

/** Block i: blocklens[i] olds at displs[i]*extent(old). Arrays of `count` entries. */
TSR_API tsr_status tsr_datatype_indexed(int64_t count, const int64_t *blocklens, const int64_t *displs,
                                        tsr_datatype_t *old, tsr_datatype_t **out);

/** Block i: blocklens[i] olds at displs_bytes[i] bytes. */
TSR_API tsr_status tsr_datatype_hindexed(int64_t count, const int64_t *blocklens,
                                         const int64_t *displs_bytes, tsr_datatype_t *old,
                                         tsr_datatype_t **out);

/** Block i: `blocklen` olds at displs[i]*extent(old). */
TSR_API tsr_status tsr_datatype_indexed_block(int64_t count, int64_t blocklen, const int64_t *displs,
                                              tsr_datatype_t *old, tsr_datatype_t **out);

/** Block i: `blocklen` olds at displs_bytes[i] bytes. */
TSR_API tsr_status tsr_datatype_hindexed_block(int64_t count, int64_t blocklen,
                                               const int64_t *displs_bytes, tsr_datatype_t *old,
                                               tsr_datatype_t **out);

/**
 * Block i: blocklens[i] copies of types[i] at displs_bytes[i] bytes. The
 * extent follows MPI: [min lb, max ub] of the blocks, with no alignment
 * padding added (use tsr_datatype_resized to set the C struct size).
 */
TSR_API tsr_status tsr_datatype_struct(int64_t count, const int64_t *blocklens,
                                       const int64_t *displs_bytes, tsr_datatype_t *const *types,
                                       tsr_datatype_t **out);

/**
 * An ndims-dimensional sub-block of an array of `sizes` olds: subsizes[i]
 * elements from starts[i] in dimension i. Each array has ndims entries,
 * 1 <= ndims <= 32; 1 <= subsizes[i] <= sizes[i]; 0 <= starts[i] <=
 * sizes[i]-subsizes[i] (else TSR_EINVAL, naming the dimension). The extent is
 * that of the whole array (as MPI_Type_create_subarray).
 */
TSR_API tsr_status tsr_datatype_subarray(int32_t ndims, const int64_t *sizes, const int64_t *subsizes,
                                         const int64_t *starts, tsr_order order, tsr_datatype_t *old,
                                         tsr_datatype_t **out);

/** `old` with lower bound `lb` and extent `extent` (bytes; extent may be 0 or negative as in MPI). */
TSR_API tsr_status tsr_datatype_resized(tsr_datatype_t *old, int64_t lb, int64_t extent,
                                        tsr_datatype_t **out);

/** A new handle for the same type (committed if `old` is). */
TSR_API tsr_status tsr_datatype_dup(tsr_datatype_t *old, tsr_datatype_t **out);

/* ---- commit and destroy ----------------------------------------------------------- */

/**
 * Computes the canonical form and chooses the pack kernel. Needed before
 * pack / unpack / canonical queries; committing twice is a no-op.
 * Errors: TSR_EINVAL (bad handle), TSR_ENOMEM.
 */
TSR_API tsr_status tsr_datatype_commit(tsr_datatype_t *type);

/**
 * Releases the caller's reference (MPI_Type_free). The handle must not be used
 * afterwards; types built from it keep it alive internally. NULL-safe; a second
 * destroy of the same handle is detected and refused (TSR_EINVAL) while the
 * object is still alive.
 */
TSR_API tsr_status tsr_datatype_destroy(tsr_datatype_t *type);
/** Deprecated name of tsr_datatype_destroy (docs/CONVENTIONS.md: free is for memory). */
TSR_DEPRECATED(TSR_API tsr_status tsr_datatype_free(tsr_datatype_t *type), "use tsr_datatype_destroy");

/** 1 if `type` is a live handle (not destroyed), else 0. NULL-safe. */
TSR_API int32_t tsr_datatype_is_valid(const tsr_datatype_t *type);

/* ---- queries (committed or not) ------------------------------------------------------- */

/** Bytes of data in one element (what pack writes per element). */
TSR_API tsr_status tsr_datatype_size(const tsr_datatype_t *type, int64_t *size);

/** Lower bound and extent (MPI_Type_get_extent); either pointer may be NULL. */
TSR_API tsr_status tsr_datatype_extent(const tsr_datatype_t *type, int64_t *lb, int64_t *extent);

/** True lower bound and true extent: the span of the bytes actually touched. */
TSR_API tsr_status tsr_datatype_true_extent(const tsr_datatype_t *type, int64_t *true_lb,
                                            int64_t *true_extent);

/** How the type was built. */
TSR_API tsr_status tsr_datatype_combiner(const tsr_datatype_t *type, tsr_combiner *out);

/** 1 if committed, 0 if not; TSR_EINVAL for a bad handle. */
TSR_API tsr_status tsr_datatype_is_committed(const tsr_datatype_t *type, int32_t *committed);

/* ---- canonical form (committed types) ---------------------------------------------- */

/** Kind of canonical form. Append-only. */
typedef enum tsr_canon_kind {
    TSR_CANON_EMPTY = 0,     /**< no bytes (size 0) */
    TSR_CANON_STRIDED = 1,   /**< streams over one dense block (ndims 0 = one contiguous block) */
    TSR_CANON_SEGMENTS = 2,  /**< streams over a list of (offset, length) segments */
    TSR_CANON_GENERAL = 3,   /**< too many segments to list (or a type tree too costly to flatten): packed by walking the type tree */
    TSR_CANON_COUNT
} tsr_canon_kind;

/** Most stream dimensions reported in tsr_canon_info (a type may have more: see ndims). */
#define TSR_CANON_MAX_DIMS 16

/**
 * Summary of the canonical form of ONE element. `size` must be set to
 * sizeof(tsr_canon_info) by the caller. counts/strides are listed outer first.
 */
typedef struct tsr_canon_info {
    uint32_t size;
    tsr_canon_kind kind;
    int64_t start;                         /**< byte offset of the first byte packed */
    int64_t block_bytes;                   /**< STRIDED: bytes per dense block */
    int32_t ndims;                         /**< stream dimensions */
    int64_t counts[TSR_CANON_MAX_DIMS];    /**< first min(ndims, 16) streams, outer first */
    int64_t strides[TSR_CANON_MAX_DIMS];   /**< bytes */
    int64_t n_segments;                    /**< SEGMENTS: segments of the body */
    int64_t type_size;                     /**< tsr_datatype_size */
    int64_t lb, extent;                    /**< tsr_datatype_extent */
    int64_t true_lb, true_extent;
} tsr_canon_info;

/** Fills `info` (info->size must be set) for a committed type (TSR_ESTATE if not committed). */
TSR_API tsr_status tsr_datatype_canon_info_get(const tsr_datatype_t *type, tsr_canon_info *info);
/** Deprecated name of tsr_datatype_canon_info_get (docs/CONVENTIONS.md). */
TSR_DEPRECATED(TSR_API tsr_status tsr_datatype_canonical(const tsr_datatype_t *type, tsr_canon_info *info),
               "use tsr_datatype_canon_info_get");

/**
 * Copies up to `max` body segments (offset relative to `start`, length) of a
 * SEGMENTS type into offsets/lengths and their total count to *count.
 * For STRIDED types the body is one segment (0, block_bytes).
 */
TSR_API tsr_status tsr_datatype_segments(const tsr_datatype_t *type, int64_t *offsets, int64_t *lengths,
                                         int64_t max, int64_t *count);

/**
 * 1 in *equal if the two committed types have the same canonical form, the
 * same size and the same extent (so pack gives the same bytes for any incount).
 */
TSR_API tsr_status tsr_datatype_has_same_layout(const tsr_datatype_t *a, const tsr_datatype_t *b,
                                                int32_t *equal);
/** Deprecated name of tsr_datatype_has_same_layout (docs/CONVENTIONS.md: predicates). */
TSR_DEPRECATED(TSR_API tsr_status tsr_datatype_same_layout(const tsr_datatype_t *a, const tsr_datatype_t *b,
                                                           int32_t *equal),
               "use tsr_datatype_has_same_layout");

/**
 * Writes a readable description into `buf` (NUL-terminated, truncated to
 * `cap` bytes; buf may be NULL when cap is 0) and the full length without NUL to
 * *needed (may be NULL). Example:
 *   "strided start=8 block=8B dims=[65536 x 2048B] size=524288 extent=134217728 lb=0 kernel=gather8"
 * Uncommitted types describe their constructor tree only.
 */
TSR_API tsr_status tsr_datatype_describe(const tsr_datatype_t *type, char *buf, size_t cap,
                                         size_t *needed);

/* ---- pack / unpack (committed types) -------------------------------------------------
 * Element i of `incount` lies at base + i*extent. The packed stream is the
 * bytes of element 0 in type-map order, then element 1, ...
 * Large messages are split over the pool's workers (pool NULL = default pool): from
 * 256 KiB packed when the elements span at least 16x their packed bytes (sparse data
 * such as a 3-D face), from 4 MiB otherwise (environment TESSERA_DATATYPE_SPLIT_BYTES;
 * 0 = from 256 KiB); smaller ones run on the calling thread. Results do not depend on
 * the thread count. The buffers must not overlap.
 */

/** Bytes needed to pack `incount` elements (MPI_Pack_size, exact). */
TSR_API tsr_status tsr_datatype_pack_size(int64_t incount, const tsr_datatype_t *type, int64_t *size);

/**
 * MPI_Pack: packs `incount` elements from `inbuf` into outbuf[*position ..],
 * advances *position. Errors: TSR_EINVAL (NULL buffers with incount > 0,
 * incount < 0, *position < 0, outsize < 0, bad handle), TSR_ESTATE (not
 * committed), TSR_ERANGE (outsize - *position too small: nothing is written;
 * or the `incount` elements, one extent apart, span more than int64 bytes).
 */
TSR_API tsr_status tsr_datatype_pack(tsr_pool_t *pool, const void *inbuf, int64_t incount,
                                     const tsr_datatype_t *type, void *outbuf, int64_t outsize,
                                     int64_t *position);

/**
 * MPI_Unpack: reads inbuf[*position ..] (insize bytes in all) into `outcount`
 * elements at `outbuf`, advances *position. Same errors as pack (TSR_ERANGE if
 * fewer than the needed bytes remain).
 */
TSR_API tsr_status tsr_datatype_unpack(tsr_pool_t *pool, const void *inbuf, int64_t insize,
                                       int64_t *position, void *outbuf, int64_t outcount,
                                       const tsr_datatype_t *type);

/**
 * Partial pack: writes bytes [first, first + nbytes) of the packed stream of
 * `incount` elements to `out` (out[0] is stream byte `first`). Concatenated
 * partial packs equal the full pack. TSR_ERANGE if the range passes the end.
 */
TSR_API tsr_status tsr_datatype_pack_range(tsr_pool_t *pool, const void *inbuf, int64_t incount,
                                           const tsr_datatype_t *type, int64_t first, int64_t nbytes,
                                           void *out);

/** Partial unpack: stream bytes [first, first + nbytes), given in `in`, into `outbuf`. */
TSR_API tsr_status tsr_datatype_unpack_range(tsr_pool_t *pool, const void *in, int64_t first,
                                             int64_t nbytes, void *outbuf, int64_t outcount,
                                             const tsr_datatype_t *type);

/**
 * The reference packer: walks the constructor tree one named element at a
 * time, with no canonicalisation and no threads. Same contract as
 * tsr_datatype_pack. Slow on purpose; the oracle behind TESSERA_ISA=scalar
 * tests and the "naive" baseline of `tessera bench datatype`.
 */
TSR_API tsr_status tsr_datatype_pack_naive(const void *inbuf, int64_t incount, const tsr_datatype_t *type,
                                           void *outbuf, int64_t outsize, int64_t *position);

/** Reference unpacker (see tsr_datatype_pack_naive). */
TSR_API tsr_status tsr_datatype_unpack_naive(const void *inbuf, int64_t insize, int64_t *position,
                                             void *outbuf, int64_t outcount, const tsr_datatype_t *type);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_DATATYPE_H */
