/* Per-ISA register-only loops of the peak probes. Each returns the operations executed. */
#ifndef TSR_PROBE_INTERNAL_H
#define TSR_PROBE_INTERNAL_H
#include "tsr_internal.h"

#define TSR_PROBE_MAX_WORKERS 1024

TSR_INTERNAL double tsr_peak_f32_scalar(int64_t iters);
TSR_INTERNAL double tsr_peak_f32_avx2(int64_t iters);
TSR_INTERNAL double tsr_peak_f32_avx512(int64_t iters);
TSR_INTERNAL double tsr_peak_int8_scalar(int64_t iters);
TSR_INTERNAL double tsr_peak_int8_avx2(int64_t iters);
TSR_INTERNAL double tsr_peak_int8_avx512vnni(int64_t iters);
TSR_INTERNAL double tsr_stream_read_avx2(const double *a, int64_t lo, int64_t hi);
#endif
