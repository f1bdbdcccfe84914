/*
 * tessera/graph.h — CSR graphs (from edge arrays, text edge lists or .npy
 * pairs), the CSR × dense product, and FastRP node embeddings
 * (Chen, Sultan, Tian, Chen, Skiena, CIKM 2019).
 *
 * Graph layout (n nodes, nnz stored directed entries):
 *
 *     indptr  [n+1]   int64   row u = entries indptr[u] .. indptr[u+1]
 *     indices [nnz]   int32   neighbour v, ascending within a row, no duplicates
 *     weights [nnz]   float   edge weight (absent for unweighted graphs: all 1)
 *     degree  [n]     double  weighted out-degree = row sum of weights
 *
 * An undirected graph stores each edge u–v as u→v and v→u (a self-loop once).
 *
 * FastRP (defaults of the reference notebook on BlogCatalog in brackets):
 *     A   = D⁻¹ S (transition matrix) [or S itself: TSR_FASTRP_ADJACENCY]
 *     R   = n × d very sparse random matrix, s = sqrt(n) [TSR_RP_S_AUTO], seed 42
 *     L   = diag(deg^β),  β = −0.628
 *     N₁  = A · L · R,  Nᵢ = A · Nᵢ₋₁  for i = 2..q
 *     E   = Σᵢ αᵢ · rownorm?(Nᵢ),  α = [1, 1, 7.81, 45.28] (q = 4), row L2 normalisation off
 *     E   = standardise(E) column by column (mean 0, variance 1) [on]
 * Zero-degree nodes: their row of A is zero (so their embedding row is zero
 * before standardisation) and deg^β is taken as 1 for them: no inf or NaN.
 * Rows that are zero stay zero under row normalisation; a column with zero
 * variance is only centred.
 */
#ifndef TESSERA_GRAPH_H
#define TESSERA_GRAPH_H

#include "core.h"
#include "pool.h"
#include "randproj.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- graphs ---------------------------------------------------------------- */

/** What to do with self-loops u→u. Append-only. */
typedef enum tsr_graph_self_loops {
    TSR_GRAPH_SELF_LOOPS_KEEP = 0,  /**< keep them as given (default) */
    TSR_GRAPH_SELF_LOOPS_DROP = 1,  /**< remove them */
    TSR_GRAPH_SELF_LOOPS_ADD = 2,   /**< keep them and give every node a loop of weight 1 (merged) */
    TSR_GRAPH_SELF_LOOPS_COUNT
} tsr_graph_self_loops;

/** How duplicate edges are merged. Append-only. */
typedef enum tsr_graph_merge {
    TSR_GRAPH_MERGE_SUM = 0,  /**< weights add up (unweighted graphs: the edge stays 1) (default) */
    TSR_GRAPH_MERGE_MAX = 1,  /**< the largest weight wins (an undirected list that names both directions stays as is) */
    TSR_GRAPH_MERGE_COUNT
} tsr_graph_merge;

/** Graph construction options; start from tsr_graph_params_default(). */
typedef struct tsr_graph_params {
    uint32_t size;                    /**< sizeof(tsr_graph_params) */
    int32_t directed;                 /**< 0 = undirected: symmetrised (default); 1 = directed */
    /**
     * 0 = max id + 1 (default); else ids must be < num_nodes. An inferred count
     * must be at most 2·m + 1024 for m edges (every node of an edge list without
     * gaps appears in some edge, so at most 2·m), else TSR_ERANGE: memory then
     * follows the size of the input, and ids like 16711680 in an 11-byte file do
     * not allocate gigabytes. Set num_nodes for a sparse id space (a sample of a
     * larger graph) or for isolated nodes at the end.
     */
    int64_t num_nodes;
    tsr_graph_self_loops self_loops;  /**< default KEEP */
    tsr_graph_merge merge;            /**< default SUM */
} tsr_graph_params;

/** Fills `p` with the defaults (undirected, inferred n, keep loops, sum). NULL-safe. */
TSR_API void tsr_graph_params_default(tsr_graph_params *p);

typedef struct tsr_graph tsr_graph_t;

/**
 * Builds a graph from `m` edges src[e] → dst[e] with optional `weights`
 * (NULL = unweighted). Ids are 0-based, >= 0, < num_nodes (or < 2^31 − 1 when
 * inferred). Weights must be finite (zero and negative weights are kept).
 * The arrays are copied. Errors: TSR_EINVAL (NULL, m < 0, bad params, no edges
 * left: "empty graph", a NaN/inf weight — naming the edge), TSR_ERANGE (an id
 * negative or out of range — naming the edge; an inferred node count above
 * 2·m + 1024, see num_nodes; duplicate edges whose summed weight leaves float's
 * range; a nonzero weighted degree so close to 0 that 1/degree overflows float,
 * which the transition matrix needs), TSR_ENOMEM (also, before anything is allocated,
 * when the graph would need more than half of the machine's physical memory,
 * about 36 bytes per node and 16 per entry).
 */
TSR_API tsr_status tsr_graph_create(int64_t m, const int64_t *src, const int64_t *dst,
                                    const float *weights, const tsr_graph_params *params,
                                    tsr_graph_t **out);

/**
 * Parses a text edge list from memory: one edge per line, "u v" or "u v w",
 * separated by spaces or tabs; '#' starts a comment (whole line or trailing);
 * blank lines and CRLF endings are fine. All edge lines must have the same
 * number of columns. Errors: TSR_EFORMAT naming the 1-based line and what was
 * wrong (not an integer, negative id, missing/extra column, bad or non-finite
 * weight, id too large), TSR_EINVAL/TSR_ERANGE/TSR_ENOMEM as tsr_graph_create.
 */
TSR_API tsr_status tsr_graph_parse_text(const char *text, size_t len, const tsr_graph_params *params,
                                        tsr_graph_t **out);

/** Reads `path` and parses it as tsr_graph_parse_text. TSR_EIO if it cannot be read. */
TSR_API tsr_status tsr_graph_load_text(const char *path, const tsr_graph_params *params,
                                       tsr_graph_t **out);

/**
 * Reads edges from a NumPy .npy file holding an (m, 2) array of int32 or
 * int64 (either byte order, C or Fortran order), and optional weights from
 * `weights_path` (NULL = unweighted): an (m,) array of float32 or float64.
 * Errors: TSR_EIO, TSR_EFORMAT (bad magic/header, wrong dtype or shape,
 * truncated data: a shape that needs more bytes than the file holds, however
 * large), then as tsr_graph_create.
 */
TSR_API tsr_status tsr_graph_load_npy(const char *path, const char *weights_path,
                                      const tsr_graph_params *params, tsr_graph_t **out);

/** Frees a graph. NULL-safe. */
TSR_API void tsr_graph_destroy(tsr_graph_t *g);

/** Number of nodes (0 for NULL). */
TSR_API int64_t tsr_graph_num_nodes(const tsr_graph_t *g);
/** Number of stored directed entries (an undirected edge counts twice, a loop once); 0 for NULL. */
TSR_API int64_t tsr_graph_num_entries(const tsr_graph_t *g);
/** 1 if the graph carries weights (0 for NULL). */
TSR_API int32_t tsr_graph_is_weighted(const tsr_graph_t *g);
/** 1 if built as directed (0 for NULL). */
TSR_API int32_t tsr_graph_is_directed(const tsr_graph_t *g);

/**
 * Read-only CSR view (layout at the top of this file). `weights` is set to
 * NULL for unweighted graphs. Pointers live as long as the graph. Any output
 * may be NULL. Errors: TSR_EINVAL (NULL g).
 */
TSR_API tsr_status tsr_graph_csr(const tsr_graph_t *g, const int64_t **indptr,
                                 const int32_t **indices, const float **weights);

/** Copies the weighted out-degrees (n doubles) to `out`. Errors: TSR_EINVAL. */
TSR_API tsr_status tsr_graph_degrees(const tsr_graph_t *g, double *out);

/** Which matrix a graph product uses. Append-only. */
typedef enum tsr_graph_matrix {
    TSR_GRAPH_TRANSITION = 0,  /**< A = D⁻¹ S (rows of zero-degree nodes are zero) */
    TSR_GRAPH_ADJACENCY = 1,   /**< S */
    TSR_GRAPH_MATRIX_COUNT
} tsr_graph_matrix;

/**
 * Y = M · X with M = S or D⁻¹S (n × n) and X, Y dense n × `cols`, f32, rows at
 * x + i*ldx and y + i*ldy (ld >= cols). One pass over the CSR: each row of Y
 * is Σ w·X[v,:] over the row's entries in order (fused multiply-add), then
 * scaled by 1/deg for the transition matrix; parallel over fixed blocks of
 * rows, so the result does not depend on the thread count. X and Y must not
 * overlap. Errors: TSR_EINVAL (NULL, cols <= 0, ld too small, bad matrix).
 */
TSR_API tsr_status tsr_graph_spmm_f32(tsr_pool_t *pool, const tsr_graph_t *g, tsr_graph_matrix matrix,
                                      int64_t cols, const float *x, int64_t ldx, float *y, int64_t ldy);

/* ---- FastRP ------------------------------------------------------------------- */

/** Most iteration weights FastRP accepts (q <= this). */
#define TSR_FASTRP_MAX_ITER 16

/** FastRP parameters; start from tsr_fastrp_params_default() (defaults at the top of this file). */
typedef struct tsr_fastrp_params {
    uint32_t size;                        /**< sizeof(tsr_fastrp_params) */
    int32_t dim;                          /**< d, default 128 */
    int32_t q;                            /**< iterations, 1..TSR_FASTRP_MAX_ITER, default 4 */
    double weights[TSR_FASTRP_MAX_ITER];  /**< α₁..α_q, default [1, 1, 7.81, 45.28] */
    double beta;                          /**< degree exponent β, default −0.628 */
    double s;                             /**< sparsity of R, >= 1; TSR_RP_S_AUTO (default) = sqrt(n) */
    tsr_rp_kind projection;               /**< default TSR_RP_SPARSE */
    uint64_t seed;                        /**< default 42 */
    tsr_graph_matrix matrix;              /**< default TSR_GRAPH_TRANSITION */
    int32_t normalize_rows;               /**< L2-normalise each row of every Nᵢ before summing; default 0 */
    int32_t standardize;                  /**< scale columns to mean 0, variance 1; default 1 */
} tsr_fastrp_params;

/** Fills `p` with the defaults. NULL-safe. */
TSR_API void tsr_fastrp_params_default(tsr_fastrp_params *p);

/**
 * One-shot FastRP: writes the n × dim embedding (f32) to out + i*ldo
 * (ldo >= dim). Holds two n × dim buffers besides `out`.
 * Errors: TSR_EINVAL (NULL, dim <= 0, q outside 1..16, s < 1, non-finite
 * weights or β, ld too small), TSR_ERANGE, TSR_ENOMEM (also up front when the
 * two buffers would take more than half of the physical memory).
 */
TSR_API tsr_status tsr_fastrp_embed(tsr_pool_t *pool, const tsr_graph_t *g, const tsr_fastrp_params *params,
                                    float *out, int64_t ldo);

/**
 * Cached FastRP: keeps N₁..N_q (q · n · dim floats) so that the weights,
 * row normalisation and standardisation can be changed without recomputing
 * (the paper's tuning trick). The graph must outlive the object.
 */
typedef struct tsr_fastrp tsr_fastrp_t;

/**
 * Validates `params` (as tsr_fastrp_embed) and allocates the cache object; the
 * q buffers come with the steps. Computes nothing yet. TSR_ENOMEM up front when
 * q · n · dim floats would take more than half of the physical memory.
 */
TSR_API tsr_status tsr_fastrp_create(const tsr_graph_t *g, const tsr_fastrp_params *params,
                                     tsr_fastrp_t **out);
/** Frees the cache. NULL-safe. */
TSR_API void tsr_fastrp_destroy(tsr_fastrp_t *fr);

/**
 * Computes the next iteration Nᵢ (N₁ = A·L·R first). Lets a caller report
 * progress between the q sparse products. TSR_ESTATE when all q are done.
 */
TSR_API tsr_status tsr_fastrp_step(tsr_pool_t *pool, tsr_fastrp_t *fr);
/** Iterations computed so far (0..q); -1 for NULL. */
TSR_API int32_t tsr_fastrp_steps_done(const tsr_fastrp_t *fr);
/** Runs the remaining steps. */
TSR_API tsr_status tsr_fastrp_compute(tsr_pool_t *pool, tsr_fastrp_t *fr);

/**
 * Read-only view of the cached Nᵢ (i = 1..steps_done), n × dim, row stride dim.
 * Errors: TSR_EINVAL (NULL), TSR_ERANGE (i not computed yet).
 */
TSR_API tsr_status tsr_fastrp_iteration(const tsr_fastrp_t *fr, int32_t i, const float **data);

/**
 * Writes Σ αᵢ·rownorm?(Nᵢ) (then standardised if asked) for i = 1..count to
 * out + r*ldo, from the cache. `count` must be <= steps_done.
 * Errors: TSR_EINVAL (NULL, count < 1, non-finite weight, ld too small),
 * TSR_ESTATE (fewer than `count` steps computed).
 */
TSR_API tsr_status tsr_fastrp_combine(tsr_pool_t *pool, const tsr_fastrp_t *fr, const double *weights,
                                      int32_t count, int32_t normalize_rows, int32_t standardize,
                                      float *out, int64_t ldo);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_GRAPH_H */
