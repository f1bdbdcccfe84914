/*
 * tessera/pde.h — spectral PDE solvers on periodic boxes through the C ABI: Poisson, heat,
 * viscous Burgers (1-D) and passive-scalar advection–diffusion (2-D/3-D).
 *
 * The solvers live in Swift (module TesseraPDE, FFTW underneath); this header is implemented by
 * `@_cdecl` functions of libTesseraCABI.so (as tessera/cluster.h; link with -lTesseraCABI).
 * Results are bit-for-bit those of the Swift API (`SpectralPoisson.solve`, `SpectralHeat.advance`,
 * `Burgers1D`, `AdvectionDiffusion`) with the same FFT planning effort.
 *
 * Fields are contiguous C-order arrays of doubles on a uniform periodic grid of `ndim` axes
 * (1 to 3) with `shape[a]` points and physical length `lengths[a]` (NULL: 2π every axis;
 * point i of axis a sits at i·lengths[a]/shape[a]). Input and output may not overlap.
 * Every function returns tsr_status; on failure tsr_pde_last_error() names the argument.
 * Nothing aborts on user input: NaN/inf fields, bad sizes and CFL violations are errors.
 */
#ifndef TESSERA_PDE_H
#define TESSERA_PDE_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/** FFTW planning effort. ESTIMATE plans are deterministic (the same bits every run); MEASURE and
 *  PATIENT time trial transforms and may pick another algorithm (rounding may then differ). */
typedef enum tsr_pde_effort {
    TSR_PDE_ESTIMATE = 0,
    TSR_PDE_MEASURE = 1,
    TSR_PDE_PATIENT = 2
} tsr_pde_effort;

/**
 * Solves ∇²u = f − mean(f) on the periodic box, spectrally exact; u (same shape) has zero mean.
 * Errors: TSR_EINVAL (ndim outside 1..3, sizes < 1, lengths <= 0, NULL, non-finite f), TSR_ENOMEM.
 */
TSR_API tsr_status tsr_pde_poisson_f64(int32_t ndim, const int64_t *shape, const double *lengths,
                                       tsr_pde_effort effort, const double *f, double *u);

/**
 * The heat equation u_t = κ∇²u advanced exactly from u0 to time t (û_k(t) = e^{−κ|k|²t} û_k(0)).
 * Errors: TSR_EINVAL (as tsr_pde_poisson_f64; κ < 0, t < 0 or non-finite), TSR_ENOMEM.
 */
TSR_API tsr_status tsr_pde_heat_f64(int32_t ndim, const int64_t *shape, const double *lengths, tsr_pde_effort effort,
                                    double diffusivity, double t, const double *u0, double *u);

/**
 * Viscous Burgers u_t + u·u_x = ν·u_xx on a periodic interval of n points and length `length`
 * (0: 2π): pseudo-spectral (2/3 rule), integrating-factor RK4 with steps of at most dt, from u0
 * at time 0 to time t. Errors: TSR_EINVAL (bad sizes, ν < 0, dt <= 0, non-finite u0), TSR_ESTATE
 * (dt breaks the CFL limit dt·max|u|/dx <= 1, or the solution blows up).
 */
TSR_API tsr_status tsr_pde_burgers1d_f64(int64_t n, double length, tsr_pde_effort effort, double viscosity,
                                         double t, double dt, const double *u0, double *u);

/**
 * Passive scalar c_t + v·∇c = κ∇²c on a periodic 2-D or 3-D box with the steady velocity
 * `velocity` (ndim fields one after another, component a along axis a of the shape), from c0
 * at time 0 to time t with IF-RK4 steps of at most dt. Errors: TSR_EINVAL (as above, ndim 1),
 * TSR_ESTATE (dt breaks the CFL limit dt·Σ max|v_a|/dx_a <= 1).
 */
TSR_API tsr_status tsr_pde_advection_diffusion_f64(int32_t ndim, const int64_t *shape, const double *lengths,
                                                   tsr_pde_effort effort, double diffusivity, double t, double dt,
                                                   const double *c0, const double *velocity, double *c);

/** Detail of the last failure of a libTesseraCABI function on this thread ("" if none). Never NULL. */
TSR_API const char *tsr_pde_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_PDE_H */
