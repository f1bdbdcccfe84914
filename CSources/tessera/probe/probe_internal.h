/* probe_internal.h — the probe microkernel table: register-only peak loops and the
 * vectorised STREAM read. Each peak loop returns the operations it executed. Not public. */
#ifndef TSR_PROBE_INTERNAL_H
#define TSR_PROBE_INTERNAL_H
#include "tsr_kernels.h"

#define TSR_PROBE_MAX_WORKERS 1024

/* The probe microkernel table (docs/KERNELS.md); the driver (probe.c) runs one call per
 * worker. Probes measure speed: the paths need not agree bit for bit. */
typedef struct probe_kernels {
    tsr_kernel_head head;
    double (*peak_f32)(int64_t iters);   /* independent FMA chains; returns flops */
    double (*peak_int8)(int64_t iters);  /* int8 multiply-add chains; returns operations */
    double (*stream_read)(const double *a, int64_t lo, int64_t hi);  /* sum of a[lo, hi) */
} probe_kernels;

/* The reference table (probe_scalar.c) and the overrides (probe_<isa>.c). */
TSR_INTERNAL extern const probe_kernels tsr_probe_kernels_ref;
#if TSR_X86
TSR_INTERNAL extern const probe_kernels tsr_probe_kernels_avx2;
TSR_INTERNAL extern const probe_kernels tsr_probe_kernels_avx512;
TSR_INTERNAL extern const probe_kernels tsr_probe_kernels_avx512vnni;
#endif
#endif
