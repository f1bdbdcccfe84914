/* Shared between the pool's files. Not public. */
#ifndef TSR_POOL_INTERNAL_H
#define TSR_POOL_INTERNAL_H

#include <sched.h>

#include "tsr_internal.h"

/* Number of cores the topology reports (>= 1). */
TSR_INTERNAL int32_t tsr_topo_num_cores(void);
/* CPU set of worker w under `bind`; returns 0 when no binding applies. */
TSR_INTERNAL int tsr_topo_worker_cpus(tsr_bind bind, int32_t w, cpu_set_t *out);
/* Binds the calling thread as worker w (hwloc, or sched_setaffinity on the fallback). */
TSR_INTERNAL int tsr_topo_bind_current(tsr_bind bind, int32_t w);

#endif
