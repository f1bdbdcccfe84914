/*
 * tessera/probe.h — machine-limit probes: the measurements every benchmark's
 * "fraction of the limit" is taken against (docs/BENCHMARKS.md).
 *
 * Each probe runs one pass of a simple loop; the caller times it (so it can
 * interleave probes with the cases they bound). OpenMP twins run the same loop
 * inside a real OpenMP parallel region of the GNU runtime (libgomp, loaded at
 * run time with dlopen, so Tessera itself does not depend on it): they return
 * TSR_EUNSUPPORTED when libgomp.so.1 cannot be loaded.
 */
#ifndef TESSERA_PROBE_H
#define TESSERA_PROBE_H

#include "core.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** STREAM-style loops over f64 arrays of n elements. Append-only. */
typedef enum tsr_stream_kernel {
    TSR_STREAM_COPY = 0,   /**< c[i] = a[i]                 (16 bytes/element) */
    TSR_STREAM_TRIAD = 1,  /**< a[i] = b[i] + s * c[i]      (24 bytes/element) */
    TSR_STREAM_READ = 2,   /**< sum += a[i] (read-only)     ( 8 bytes/element) */
    TSR_STREAM_COUNT
} tsr_stream_kernel;

/** Bytes moved per element by `kernel` (STREAM's counting: no write-allocate), 0 if invalid. */
TSR_API int64_t tsr_stream_bytes_per_element(tsr_stream_kernel kernel);

/**
 * One pass of `kernel` over [0, n) on `pool` (NULL = default), static schedule
 * (each worker touches the same range every pass, as with first-touch OpenMP).
 * Arrays a, b, c hold n doubles each (c, b unused by READ; b unused by COPY).
 * *sum receives the read sum (READ only; may be NULL otherwise).
 */
TSR_API tsr_status tsr_probe_stream(tsr_pool_t *pool, tsr_stream_kernel kernel, double *a, double *b,
                                    double *c, int64_t n, double scalar, double *sum);

/** The same pass inside an OpenMP `parallel for schedule(static)` region of `threads` threads. */
TSR_API tsr_status tsr_probe_stream_openmp(int32_t threads, tsr_stream_kernel kernel, double *a, double *b,
                                           double *c, int64_t n, double scalar, double *sum);

/**
 * Runs `regions` empty parallel regions back to back on `pool` and writes each
 * region's wall time in nanoseconds to ns[0..regions).
 */
TSR_API tsr_status tsr_probe_forkjoin(tsr_pool_t *pool, int64_t regions, double *ns);

/** The same with empty OpenMP `parallel` regions of `threads` threads. */
TSR_API tsr_status tsr_probe_forkjoin_openmp(int32_t threads, int64_t regions, double *ns);

/**
 * Sets up the OpenMP runtime for the twins above: OMP_PROC_BIND/OMP_PLACES are set
 * from `bind` (core -> true/cores, scatter -> spread/cores, none -> false) unless the
 * environment already sets them, then libgomp is loaded. Call before any OpenMP twin;
 * later calls have no effect. Writes a description of the runtime (text, NUL-terminated,
 * truncated to `cap` bytes) to `buf` (may be NULL).
 */
TSR_API tsr_status tsr_probe_openmp_init(tsr_bind bind, char *buf, size_t cap);

/**
 * Peak rate of the vector units from a register-only loop on every worker of `pool`:
 * f32 FMA (flops = 2 per lane) with the active ISA. `iterations` loop trips per worker;
 * writes the floating-point operations executed to *flops. Time it to get FLOP/s.
 */
TSR_API tsr_status tsr_probe_peak_f32(tsr_pool_t *pool, int64_t iterations, double *flops);

/**
 * Peak int8 dot-product rate (AVX-512 VNNI vpdpbusd, or AVX2 maddubs+madd, or scalar),
 * counting 2 operations per multiply-add of one int8 pair. Writes the operations to *ops.
 */
TSR_API tsr_status tsr_probe_peak_int8(tsr_pool_t *pool, int64_t iterations, double *ops);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_PROBE_H */
