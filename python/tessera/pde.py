"""Spectral PDE solvers on periodic NumPy fields: TesseraPDE through include/tessera/pde.h
(libTesseraCABI.so), bit for bit the Swift solvers' results.

A field is a float64 array of 1 to 3 axes (C order) sampled on a uniform periodic grid: point i of
axis a sits at i·L_a/n_a, with the lengths L (default 2π per axis). Any layout or dtype that
converts to float64 is accepted (a copy is made where needed); the result is a new C-order
float64 array of the same shape. `effort` is FFTW's planning: 'estimate' (default; the same bits
every run), 'measure' or 'patient' (trial runs; may pick another algorithm).
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import _lib
from ._arrays import check_float, ptr
from ._lib import c_double, c_int32, c_int64, c_void_p

__all__ = ["poisson", "heat", "burgers", "advection_diffusion", "grid"]

EFFORTS = {"estimate": 0, "measure": 1, "patient": 2}


def _pl():
    cl = _lib.cluster_lib()
    if not getattr(cl, "_pde_typed", False):
        s = lambda name, *a: _lib._sig(name, c_int32, *a, target=cl)  # noqa: E731
        s("tsr_pde_poisson_f64", c_int32, c_void_p, c_void_p, c_int32, c_void_p, c_void_p)
        s("tsr_pde_heat_f64", c_int32, c_void_p, c_void_p, c_int32, c_double, c_double, c_void_p, c_void_p)
        s("tsr_pde_burgers1d_f64", c_int64, c_double, c_int32, c_double, c_double, c_double, c_void_p, c_void_p)
        s("tsr_pde_advection_diffusion_f64", c_int32, c_void_p, c_void_p, c_int32, c_double, c_double, c_double,
          c_void_p, c_void_p, c_void_p)
        _lib._sig("tsr_pde_last_error", ctypes.c_char_p, target=cl)
        cl._pde_typed = True
    return cl


def _check(status):
    _lib.check(status, _pl().tsr_pde_last_error)


def _field(u, name, ndims=(1, 2, 3)):
    if hasattr(u, "tocsr"):
        raise TypeError(f"{name} must be a dense array, got a sparse matrix")
    a = np.asarray(u)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.ndim not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} axes, got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    return np.ascontiguousarray(a, dtype=np.float64)


def _grid(shape, lengths):
    shp = np.asarray(shape, dtype=np.int64)
    if lengths is None:
        return shp, None
    if np.isscalar(lengths):
        lengths = [lengths] * len(shape)
    lens = np.asarray(lengths, dtype=np.float64)
    if lens.shape != (len(shape),):
        raise ValueError(f"lengths must hold one length per axis ({len(shape)}), got {lengths!r}")
    return shp, lens


def _effort(effort):
    if effort not in EFFORTS:
        raise ValueError(f"effort must be one of {sorted(EFFORTS)}, got {effort!r}")
    return EFFORTS[effort]


def grid(shape, lengths=None):
    """The coordinate arrays (np.meshgrid, 'ij' indexing) of the periodic grid the solvers assume."""
    shape = tuple(int(n) for n in shape)
    lens = [2 * np.pi] * len(shape) if lengths is None else list(np.broadcast_to(lengths, (len(shape),)))
    axes = [np.arange(n) * (L / n) for n, L in zip(shape, lens)]
    return np.meshgrid(*axes, indexing="ij")


def poisson(f, *, lengths=None, effort="estimate"):
    """u with ∇²u = f − mean(f) on the periodic box and mean(u) = 0 (spectrally exact)."""
    f = _field(f, "f")
    shp, lens = _grid(f.shape, lengths)
    u = np.empty_like(f)
    _check(_pl().tsr_pde_poisson_f64(f.ndim, ptr(shp), None if lens is None else ptr(lens), _effort(effort), ptr(f),
                                     ptr(u)))
    return u


def heat(u0, t, *, diffusivity=1.0, lengths=None, effort="estimate"):
    """u(t) of u_t = κ∇²u from u0, exact in time (e^{−κ|k|²t} per Fourier mode)."""
    u0 = _field(u0, "u0")
    t = check_float(t, "t", low=0)
    kappa = check_float(diffusivity, "diffusivity", low=0)
    shp, lens = _grid(u0.shape, lengths)
    u = np.empty_like(u0)
    _check(_pl().tsr_pde_heat_f64(u0.ndim, ptr(shp), None if lens is None else ptr(lens), _effort(effort), kappa, t,
                                  ptr(u0), ptr(u)))
    return u


def burgers(u0, t, *, dt, viscosity, length=2 * np.pi, effort="estimate"):
    """u(t) of viscous Burgers u_t + u·u_x = ν·u_xx on a periodic interval (pseudo-spectral, 2/3
    rule, integrating-factor RK4 with steps ≤ dt). RuntimeError if dt breaks the CFL limit."""
    u0 = _field(u0, "u0", ndims=(1,))
    t = check_float(t, "t", low=0)
    dt = check_float(dt, "dt", low=0, low_open=True)
    nu = check_float(viscosity, "viscosity", low=0)
    length = check_float(length, "length", low=0, low_open=True)
    u = np.empty_like(u0)
    _check(_pl().tsr_pde_burgers1d_f64(u0.shape[0], length, _effort(effort), nu, t, dt, ptr(u0), ptr(u)))
    return u


def advection_diffusion(c0, velocity, t, *, dt, diffusivity, lengths=None, effort="estimate"):
    """c(t) of c_t + v·∇c = κ∇²c on a periodic 2-D/3-D box with a steady velocity: `velocity` holds
    one component per axis, shape (ndim, *c0.shape) (or a sequence of ndim fields). IF-RK4 with
    steps ≤ dt; RuntimeError if dt breaks the CFL limit."""
    c0 = _field(c0, "c0", ndims=(2, 3))
    v = _field(np.stack([np.asarray(c) for c in velocity]) if not isinstance(velocity, np.ndarray) else velocity,
               "velocity", ndims=(3, 4))
    if v.shape != (c0.ndim, *c0.shape):
        raise ValueError(f"velocity must have shape {(c0.ndim, *c0.shape)}, got {v.shape}")
    t = check_float(t, "t", low=0)
    dt = check_float(dt, "dt", low=0, low_open=True)
    kappa = check_float(diffusivity, "diffusivity", low=0)
    shp, lens = _grid(c0.shape, lengths)
    c = np.empty_like(c0)
    _check(_pl().tsr_pde_advection_diffusion_f64(c0.ndim, ptr(shp), None if lens is None else ptr(lens),
                                                 _effort(effort), kappa, t, dt, ptr(c0), ptr(v), ptr(c)))
    return c
