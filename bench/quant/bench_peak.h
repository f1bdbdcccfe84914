/* The int8 VNNI dot peak of one core, for the quantized-GEMM bench programs in bench/quant. */
#ifndef TESSERA_BENCH_QUANT_PEAK_H
#define TESSERA_BENCH_QUANT_PEAK_H

#include "../bench_clock.h"
#include "tessera.h"

/* Best of three runs of the register-only vpdpbusd probe on `one` (a one-thread pool), in
 * int8 ops per second; 0 when the probe fails. */
static inline double int8_peak(tsr_pool_t *one) {
    double peak = 0;
    for (int i = 0; i < 3; i++) {
        double ops = 0;
        const double t0 = now();
        if (tsr_probe_peak_int8(one, 20000000, &ops) != TSR_OK) return 0;
        const double p = ops / (now() - t0);
        peak = p > peak ? p : peak;
    }
    return peak;
}

#endif
