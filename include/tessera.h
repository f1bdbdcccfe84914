/*
 * tessera.h — the umbrella header of Tessera's C ABI.
 *
 * Tessera is a library of parallel numerics kernels for CPUs: attention tiles,
 * quantized GEMV/GEMM, MPI-style datatype packing, sparse random projection,
 * all on a core-pinned thread pool with run-time AVX-512/AVX2/scalar dispatch.
 *
 *     #include <tessera.h>
 *     tsr_pool_t *pool;
 *     if (tsr_pool_default(&pool) != TSR_OK) fprintf(stderr, "%s\n", tsr_last_error());
 *
 * Conventions (every header):
 *   - functions are tsr_<object>_<action>, types tsr_..._t or plain structs with a
 *     leading `size` field, macros and enum values TSR_...; enums are append-only;
 *   - fallible functions return tsr_status and explain failures in tsr_last_error();
 *   - arrays are pointer + dimensions + strides in elements; the caller owns buffers;
 *   - kernels take a tsr_pool_t * first; NULL means the process-wide default pool;
 *   - costly setup follows plan / execute / destroy; execute is thread-safe.
 * Build: pkg-config --cflags --libs tessera
 */
#ifndef TESSERA_H
#define TESSERA_H

#include "tessera/core.h"
#include "tessera/pool.h"
#include "tessera/attention.h"
#include "tessera/probe.h"
#include "tessera/quant.h"
#include "tessera/datatype.h"
#include "tessera/randproj.h"
#include "tessera/graph.h"
#include "tessera/elementwise.h"
#include "tessera/distance.h"

#endif /* TESSERA_H */
