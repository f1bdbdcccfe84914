/*
 * tessera/cluster.h — k-medoids (PAM, FastPAM1, FastPAM2, FasterPAM, Alternating),
 * CLARA, CLARANS, k-means, Gaussian mixtures (EM) and PPP through the C ABI.
 *
 * The algorithms live in Swift (module TesseraCluster); this header is implemented by
 * `@_cdecl` functions of the dynamic library libTesseraCABI.so (SwiftPM product
 * `TesseraCABI`, `swift build -c release --product TesseraCABI`), not by libtessera.so.
 * Link with -lTesseraCABI (it carries its own copy of the C kernels and needs the Swift
 * runtime of the toolchain it was built with). Results are bit-for-bit those of the Swift API
 * (`KMedoids.fit`, `SampledKMedoids.clara/.clarans`, `KMeans.fit`, `GaussianMixture.fit`,
 * `PPP.fit`) on the same data and options.
 *
 * Conventions as everywhere in Tessera: every function returns tsr_status; on failure
 * tsr_cluster_last_error() (NOT tsr_last_error(): this library keeps its own thread-local
 * text) gives the sentence naming the argument and value. Nothing aborts on user input.
 * Inputs are row-major with a row stride in elements (ld >= columns); the caller owns all
 * buffers. Parameter structs carry `size` first (set it to sizeof) so they can grow.
 */
#ifndef TESSERA_CLUSTER_H
#define TESSERA_CLUSTER_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** k-medoids swap strategies (Schubert & Rousseeuw 2019/2021). Append-only. */
typedef enum tsr_kmedoids_method {
    TSR_KMEDOIDS_PAM = 0,          /**< BUILD + original SWAP, O(k(n−k)²) per iteration */
    TSR_KMEDOIDS_FASTPAM1 = 1,     /**< same swaps and loss as PAM, O(n²) per iteration */
    TSR_KMEDOIDS_FASTPAM2 = 2,     /**< up to k swaps per iteration */
    TSR_KMEDOIDS_FASTERPAM = 3,    /**< eager swaps (the default) */
    TSR_KMEDOIDS_ALTERNATING = 4,  /**< k-means style assign / re-centre */
    TSR_KMEDOIDS_METHOD_COUNT
} tsr_kmedoids_method;

/** How the first k medoids are chosen. Append-only. */
typedef enum tsr_kmedoids_init {
    TSR_KMEDOIDS_INIT_DEFAULT = 0,  /**< random for FasterPAM, BUILD otherwise */
    TSR_KMEDOIDS_INIT_BUILD = 1,    /**< PAM BUILD */
    TSR_KMEDOIDS_INIT_LAB = 2,      /**< linear approximative BUILD */
    TSR_KMEDOIDS_INIT_RANDOM = 3,   /**< k distinct points from `seed` */
    TSR_KMEDOIDS_INIT_GIVEN = 4,    /**< the k indices passed as `init_medoids` */
    TSR_KMEDOIDS_INIT_COUNT
} tsr_kmedoids_init;

/** Dissimilarity of two rows, or a precomputed n × n matrix. Append-only. */
typedef enum tsr_cluster_metric {
    TSR_METRIC_PRECOMPUTED = 0,  /**< x is a symmetric n × n dissimilarity matrix (d == n) */
    TSR_METRIC_EUCLIDEAN = 1,
    TSR_METRIC_SQEUCLIDEAN = 2,
    TSR_METRIC_MANHATTAN = 3,
    TSR_METRIC_COSINE = 4,
    TSR_METRIC_COUNT
} tsr_cluster_metric;

/** k-medoids options; start from tsr_kmedoids_params_default(). */
typedef struct tsr_kmedoids_params {
    uint32_t size;              /**< sizeof(tsr_kmedoids_params) */
    tsr_kmedoids_method method; /**< default FASTERPAM */
    tsr_kmedoids_init init;     /**< default TSR_KMEDOIDS_INIT_DEFAULT */
    tsr_cluster_metric metric;  /**< default EUCLIDEAN */
    int64_t max_iter;           /**< outer iterations, >= 0; default 100 */
    uint64_t seed;              /**< default 0 */
    int32_t shuffle;            /**< FasterPAM: visit candidates in a random order; default 0 */
    double fast_tolerance;      /**< FastPAM2, in [0, 1]; default 1 */
    int32_t threads;            /**< 0 = the shared pool; else a pool of this many workers */
} tsr_kmedoids_params;

/** Fills `p` with the defaults. NULL-safe. */
TSR_API void tsr_kmedoids_params_default(tsr_kmedoids_params *p);

/** Summary of a k-medoids (or CLARA/CLARANS) run. */
typedef struct tsr_kmedoids_result {
    uint32_t size;        /**< sizeof(tsr_kmedoids_result), set by the caller */
    double loss;          /**< Σ d(i, nearest medoid) */
    double initial_loss;  /**< loss right after initialisation */
    int64_t iterations;
    int64_t swaps;
    double seconds;       /**< wall time of the whole run */
} tsr_kmedoids_result;

/**
 * k-medoids on the `n` rows of x (n × d, row i at x + i*ldx, ldx >= d), or on the n × n
 * dissimilarity matrix x when params->metric is TSR_METRIC_PRECOMPUTED (d must equal n; the
 * matrix must be finite, >= 0, zero on the diagonal and symmetric within a relative 1e-6 — its
 * upper triangle is used). `init_medoids` (k indices) is read only for TSR_KMEDOIDS_INIT_GIVEN.
 * Writes the k medoid indices to `medoids`, the medoid slot (0..k-1) of every row to `labels`
 * (n values), and the summary to `result` (any of the three may be NULL).
 * Errors: TSR_EINVAL (NULL x, n or d < 1, ld too small, k outside 1..n, a bad enum, NaN or
 * infinity, bad initial medoids, negative max_iter, threads < 0), TSR_ERANGE, TSR_ENOMEM
 * (the n × n matrix is built for non-precomputed metrics: n²·sizeof(element) bytes).
 */
TSR_API tsr_status tsr_kmedoids_fit_f64(const tsr_kmedoids_params *params, int64_t n, int64_t d,
                                        const double *x, int64_t ldx, int64_t k, const int64_t *init_medoids,
                                        int64_t *medoids, int64_t *labels, tsr_kmedoids_result *result);
/** As tsr_kmedoids_fit_f64 with float data (distances and the swap search in float). */
TSR_API tsr_status tsr_kmedoids_fit_f32(const tsr_kmedoids_params *params, int64_t n, int64_t d,
                                        const float *x, int64_t ldx, int64_t k, const int64_t *init_medoids,
                                        int64_t *medoids, int64_t *labels, tsr_kmedoids_result *result);

/** CLARA / CLARANS options; start from tsr_clara_params_default(). */
typedef struct tsr_clara_params {
    uint32_t size;              /**< sizeof(tsr_clara_params) */
    tsr_cluster_metric metric;  /**< default EUCLIDEAN (PRECOMPUTED: x is n × n) */
    int64_t samples;            /**< CLARA: samples drawn; CLARANS: restarts (numlocal); 0 = default (5 and 2) */
    int64_t sample_size;        /**< CLARA: points per sample, 0 = 80 + 4k fast / 40 + 2k (default);
                                     CLARANS: failed neighbours before a restart ends (maxneighbor), 0 = default */
    int32_t fast;               /**< 1 (default): FastCLARA (FastPAM2 on each sample) / FastCLARANS; 0: the originals */
    int64_t max_iter;           /**< CLARA: iterations on each sample; default 100 */
    uint64_t seed;              /**< default 0 */
    int32_t threads;            /**< 0 = the shared pool */
} tsr_clara_params;

/** Fills `p` with the defaults. NULL-safe. */
TSR_API void tsr_clara_params_default(tsr_clara_params *p);

/**
 * CLARA (Kaufman & Rousseeuw): k-medoids on samples, the best medoids over all points.
 * Arguments and outputs as tsr_kmedoids_fit_f64 (no n × n matrix is built for data metrics).
 */
TSR_API tsr_status tsr_clara_fit_f64(const tsr_clara_params *params, int64_t n, int64_t d, const double *x,
                                     int64_t ldx, int64_t k, int64_t *medoids, int64_t *labels,
                                     tsr_kmedoids_result *result);
/** CLARANS (Ng & Han; FastCLARANS by Schubert & Rousseeuw): randomised swap search. As CLARA. */
TSR_API tsr_status tsr_clarans_fit_f64(const tsr_clara_params *params, int64_t n, int64_t d, const double *x,
                                       int64_t ldx, int64_t k, int64_t *medoids, int64_t *labels,
                                       tsr_kmedoids_result *result);

/** k-means iterations. Append-only. */
typedef enum tsr_kmeans_algorithm {
    TSR_KMEANS_LLOYD = 0,    /**< GEMM assignment every iteration */
    TSR_KMEANS_HAMERLY = 1,  /**< same assignments, bounds skip most distances */
    TSR_KMEANS_ALGORITHM_COUNT
} tsr_kmeans_algorithm;

/** k-means initialisation. Append-only. */
typedef enum tsr_kmeans_init {
    TSR_KMEANS_INIT_PLUSPLUS = 0,  /**< greedy k-means++ (as scikit-learn) */
    TSR_KMEANS_INIT_RANDOM = 1,    /**< k distinct rows */
    TSR_KMEANS_INIT_GIVEN = 2,     /**< the k × d centres passed as `init_centers` (row-major, double) */
    TSR_KMEANS_INIT_COUNT
} tsr_kmeans_init;

/** k-means options; start from tsr_kmeans_params_default(). */
typedef struct tsr_kmeans_params {
    uint32_t size;                   /**< sizeof(tsr_kmeans_params) */
    tsr_kmeans_algorithm algorithm;  /**< default LLOYD */
    tsr_kmeans_init init;            /**< default PLUSPLUS */
    int64_t n_init;                  /**< independent runs, >= 1; default 1 */
    int64_t max_iter;                /**< >= 1; default 300 */
    double tol;                      /**< relative to the mean feature variance, >= 0; default 1e-4 */
    uint64_t seed;                   /**< default 0 */
    int32_t threads;                 /**< 0 = the shared pool */
} tsr_kmeans_params;

/** Fills `p` with the defaults. NULL-safe. */
TSR_API void tsr_kmeans_params_default(tsr_kmeans_params *p);

/** Summary of a k-means run. */
typedef struct tsr_kmeans_result {
    uint32_t size;      /**< sizeof(tsr_kmeans_result), set by the caller */
    double inertia;     /**< Σ ||x − centre(x)||² */
    int64_t iterations;
    int32_t converged;  /**< 1 if the tolerance was met before max_iter */
    double seconds;
} tsr_kmeans_result;

/**
 * k-means on the n rows of x (n × d, row stride ldx). Writes k × d centres (row-major,
 * stride d) to `centers`, n labels and the summary (outputs may be NULL).
 * Errors: TSR_EINVAL (NULL x, bad sizes, k outside 1..n, NaN/inf, bad options or centres).
 */
TSR_API tsr_status tsr_kmeans_fit_f64(const tsr_kmeans_params *params, int64_t n, int64_t d, const double *x,
                                      int64_t ldx, int64_t k, const double *init_centers, double *centers,
                                      int64_t *labels, tsr_kmeans_result *result);
/** As tsr_kmeans_fit_f64 with float data and centres (`init_centers` stays double). */
TSR_API tsr_status tsr_kmeans_fit_f32(const tsr_kmeans_params *params, int64_t n, int64_t d, const float *x,
                                      int64_t ldx, int64_t k, const double *init_centers, float *centers,
                                      int64_t *labels, tsr_kmeans_result *result);

/** Nearest centre of each of the n rows of x (centres: k × d, stride d). Errors: TSR_EINVAL. */
TSR_API tsr_status tsr_kmeans_predict_f64(int64_t n, int64_t d, const double *x, int64_t ldx, int64_t k,
                                          const double *centers, int64_t *labels);
TSR_API tsr_status tsr_kmeans_predict_f32(int64_t n, int64_t d, const float *x, int64_t ldx, int64_t k,
                                          const float *centers, int64_t *labels);

/* ---- Gaussian mixtures (EM) ------------------------------------------------------------ */

/** Covariance of each mixture component. Append-only. */
typedef enum tsr_gmm_covariance {
    TSR_GMM_FULL = 0,  /**< a full d × d matrix per component (d·d doubles, row-major) */
    TSR_GMM_DIAG = 1   /**< a diagonal per component (d doubles) */
} tsr_gmm_covariance;

/** How the first M-step's responsibilities are set. Append-only. */
typedef enum tsr_gmm_init {
    TSR_GMM_INIT_KMEANS = 0,  /**< a seeded k-means++ / Lloyd partition */
    TSR_GMM_INIT_LABELS = 1   /**< the caller's partition `init_labels` (n values in 0..k-1) */
} tsr_gmm_init;

/** Mixture options; start from tsr_gmm_params_default() (scikit-learn's defaults). */
typedef struct tsr_gmm_params {
    uint32_t size;                  /**< sizeof(tsr_gmm_params) */
    tsr_gmm_covariance covariance;  /**< default FULL */
    tsr_gmm_init init;              /**< default KMEANS */
    int64_t max_iter;               /**< EM iterations, >= 1; default 100 */
    double tol;                     /**< stop when the mean log-likelihood changes less; default 1e-3 */
    double reg_covar;               /**< added to every covariance diagonal, >= 0; default 1e-6 */
    uint64_t seed;                  /**< seed of the k-means start; default 0 */
    int32_t threads;                /**< 0 = the shared pool; else a pool of this many workers */
} tsr_gmm_params;

/** Fills `p` with the defaults. NULL-safe. */
TSR_API void tsr_gmm_params_default(tsr_gmm_params *p);

/** Summary of a mixture fit. */
typedef struct tsr_gmm_result {
    uint32_t size;            /**< sizeof(tsr_gmm_result), set by the caller */
    double log_likelihood;    /**< mean log-likelihood per sample of the training data */
    double bic;               /**< −2·n·log_likelihood + parameters·ln n (lower is better) */
    int64_t iterations;       /**< EM iterations run */
    int32_t converged;        /**< 1 if the tolerance was met before max_iter */
    int64_t n_parameters;     /**< free parameters of the model */
} tsr_gmm_result;

/**
 * Fits k Gaussian components by EM to the n rows of x (n × d, row stride ldx). Writes the k
 * weights, the k × d means, the k covariances (k·d·d doubles for FULL, k·d for DIAG), the most
 * probable component of each row (n labels) and the summary; every output may be NULL.
 * `init_labels` is read only with TSR_GMM_INIT_LABELS.
 * Errors: TSR_EINVAL (NULL x, bad sizes, k outside 1..n, NaN/inf, bad options or labels, a
 * covariance that stays singular after reg_covar), TSR_ENOMEM.
 */
TSR_API tsr_status tsr_gmm_fit_f64(const tsr_gmm_params *params, int64_t n, int64_t d, const double *x, int64_t ldx,
                                   int64_t k, const int64_t *init_labels, double *weights, double *means,
                                   double *covariances, int64_t *labels, tsr_gmm_result *result);
/** As tsr_gmm_fit_f64 with float data (the model and its outputs stay double). */
TSR_API tsr_status tsr_gmm_fit_f32(const tsr_gmm_params *params, int64_t n, int64_t d, const float *x, int64_t ldx,
                                   int64_t k, const int64_t *init_labels, double *weights, double *means,
                                   double *covariances, int64_t *labels, tsr_gmm_result *result);

/**
 * Evaluates the mixture given by `weights`, `means`, `covariances` (laid out as tsr_gmm_fit_f64
 * writes them, of type `covariance`) on the n rows of x: the most probable component (`labels`,
 * n), the posterior probabilities (`proba`, n × k row-major) and log p(x) (`log_density`, n);
 * outputs may be NULL. The same parameters give the fitted model's bits.
 * Errors: TSR_EINVAL (bad sizes, NaN/inf, weights <= 0, a covariance that is not positive
 * definite).
 */
TSR_API tsr_status tsr_gmm_predict_f64(int64_t n, int64_t d, const double *x, int64_t ldx, int64_t k,
                                       tsr_gmm_covariance covariance, const double *weights, const double *means,
                                       const double *covariances, int64_t *labels, double *proba,
                                       double *log_density);
/** As tsr_gmm_predict_f64 with float data. */
TSR_API tsr_status tsr_gmm_predict_f32(int64_t n, int64_t d, const float *x, int64_t ldx, int64_t k,
                                       tsr_gmm_covariance covariance, const double *weights, const double *means,
                                       const double *covariances, int64_t *labels, double *proba,
                                       double *log_density);

/* ---- PPP: k chosen by k-means partitions validated by a Gaussian mixture --------------- */

/** PPP options; start from tsr_ppp_params_default(). */
typedef struct tsr_ppp_params {
    uint32_t size;                  /**< sizeof(tsr_ppp_params) */
    int64_t k_min;                  /**< smallest k examined, >= 1; default 1 */
    int64_t k_max;                  /**< largest k examined (values above n are skipped); default 10 */
    tsr_gmm_covariance covariance;  /**< of the validating mixtures; default FULL */
    int64_t restarts;               /**< k-means runs per k (seeds 0, 1, …), >= 1; default 5 */
    double min_agreement;           /**< agreement a k needs to be accepted, in [0, 1]; default 0.9 */
    int32_t threads;                /**< 0 = the shared pool; else a pool of this many workers */
} tsr_ppp_params;

/** Fills `p` with the defaults. NULL-safe. */
TSR_API void tsr_ppp_params_default(tsr_ppp_params *p);

/** One examined k. */
typedef struct tsr_ppp_candidate {
    int64_t k;              /**< the number of clusters examined */
    double inertia;         /**< of the best k-means partition */
    double bic;             /**< of the mixture started from it */
    double agreement;       /**< fraction of points whose most probable component is their cluster */
    double log_likelihood;  /**< mean log-likelihood per sample of that mixture */
} tsr_ppp_candidate;

/** The accepted k and its fits. */
typedef struct tsr_ppp_result {
    uint32_t size;          /**< sizeof(tsr_ppp_result), set by the caller */
    int64_t k;              /**< the accepted number of clusters */
    int64_t candidates;     /**< entries written to `candidates` (ks with a usable mixture) */
    double inertia;         /**< of the accepted k-means partition */
    double log_likelihood;  /**< of the accepted mixture */
    double bic;             /**< of the accepted mixture */
} tsr_ppp_result;

/**
 * PPP (after M. Sultan, arXiv 2003.04372; the rule is documented on the Swift `PPP`): for
 * every k in k_min..k_max, the best of `restarts` k-means partitions starts a Gaussian mixture;
 * the accepted k has the lowest BIC among those whose mixture agrees with the partition on at
 * least min_agreement of the points (else the lowest BIC). Writes the n k-means labels, the
 * k × d centres, the accepted mixture's weights/means/covariances (as tsr_gmm_fit_f64), the
 * candidates and the summary; every output may be NULL. Size the outputs for k = k_max
 * (candidates: k_max − k_min + 1 entries).
 * Errors: TSR_EINVAL (bad sizes or options, NaN/inf, no k with a usable mixture), TSR_ENOMEM.
 */
TSR_API tsr_status tsr_ppp_fit_f64(const tsr_ppp_params *params, int64_t n, int64_t d, const double *x, int64_t ldx,
                                   int64_t *labels, double *centers, double *weights, double *means,
                                   double *covariances, tsr_ppp_candidate *candidates, tsr_ppp_result *result);
/** As tsr_ppp_fit_f64 with float data and centres (the mixture stays double). */
TSR_API tsr_status tsr_ppp_fit_f32(const tsr_ppp_params *params, int64_t n, int64_t d, const float *x, int64_t ldx,
                                   int64_t *labels, float *centers, double *weights, double *means,
                                   double *covariances, tsr_ppp_candidate *candidates, tsr_ppp_result *result);

/** Detail of the last failure of a function of this header on this thread ("" if none). Never NULL. */
TSR_API const char *tsr_cluster_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_CLUSTER_H */
