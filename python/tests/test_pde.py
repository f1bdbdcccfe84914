"""tessera.pde (TesseraPDE through include/tessera/pde.h) against analytic solutions."""
import numpy as np
import pytest

from tessera import pde


def test_poisson_2d_and_3d_analytic():
    x, y = pde.grid((64, 48), lengths=(2 * np.pi, 4 * np.pi))
    u_exact = np.sin(x) * np.cos(y / 2)
    f = -(1 + 0.25) * u_exact                       # ∇²u
    u = pde.poisson(f, lengths=(2 * np.pi, 4 * np.pi))
    np.testing.assert_allclose(u, u_exact, atol=1e-12)
    x, y, z = pde.grid((16, 16, 16))
    u_exact = np.cos(x) * np.sin(2 * y) * np.cos(3 * z)
    u = pde.poisson(-14 * u_exact + 5.0)            # the mean of f is removed
    np.testing.assert_allclose(u, u_exact, atol=1e-12)
    assert abs(u.mean()) < 1e-14


def test_heat_decays_each_mode_exactly():
    x, y = pde.grid((32, 32))
    u0 = np.sin(x) + 0.5 * np.cos(3 * y)
    u = pde.heat(u0, 0.2, diffusivity=0.7)
    np.testing.assert_allclose(u, np.exp(-0.7 * 0.2) * np.sin(x) + 0.5 * np.exp(-0.7 * 9 * 0.2) * np.cos(3 * y),
                               atol=1e-13)
    np.testing.assert_array_equal(pde.heat(u0, 0.0), pde.heat(u0.tolist(), 0))


def test_burgers_matches_the_cole_hopf_solution():
    # φ = 2 + cos(x)·e^{−νt} solves φ_t = νφ_xx, so u = −2ν φ_x / φ solves viscous Burgers
    nu, t = 0.5, 1.0
    x, = pde.grid((128,))
    exact = lambda s: 2 * nu * np.sin(x) * np.exp(-nu * s) / (2 + np.cos(x) * np.exp(-nu * s))  # noqa: E731
    u = pde.burgers(exact(0), t, dt=1e-3, viscosity=nu)
    np.testing.assert_allclose(u, exact(t), atol=1e-9)


def test_advection_diffusion_translates_and_decays():
    kappa, t, a, b = 0.05, 0.5, 1.0, -0.5
    y, x = pde.grid((64, 64))
    c0 = np.sin(x) + np.cos(y)
    v = np.stack([np.full_like(c0, b), np.full_like(c0, a)])  # [v_y, v_x]: axis order of the shape
    c = pde.advection_diffusion(c0, v, t, dt=0.01, diffusivity=kappa)
    exact = np.exp(-kappa * t) * (np.sin(x - a * t) + np.cos(y - b * t))
    np.testing.assert_allclose(c, exact, atol=1e-9)


def test_any_layout_and_dtype_give_the_same_bits():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(32, 24))
    ref = pde.poisson(f)
    np.testing.assert_array_equal(pde.poisson(np.asfortranarray(f)), ref)
    big = np.zeros((64, 48))
    big[::2, ::2] = f
    np.testing.assert_array_equal(pde.poisson(big[::2, ::2]), ref)
    g = rng.integers(-5, 5, size=(16, 16))
    np.testing.assert_array_equal(pde.poisson(g), pde.poisson(g.astype(np.float64)))


@pytest.mark.parametrize("call, exc, match", [
    (lambda: pde.poisson(np.zeros((2, 2, 2, 2))), ValueError, "axes"),
    (lambda: pde.poisson(np.array([])), ValueError, "axes|empty"),
    (lambda: pde.poisson(np.full((8, 8), np.nan)), ValueError, "finite"),
    (lambda: pde.poisson(np.zeros((8, 8), complex)), TypeError, "real"),
    (lambda: pde.poisson(np.zeros((8, 8)), lengths=(1.0, -1.0)), ValueError, "lengths"),
    (lambda: pde.poisson(np.zeros((8, 8)), lengths=(1.0,)), ValueError, "one length per axis"),
    (lambda: pde.poisson(np.zeros((8, 8)), effort="fast"), ValueError, "effort"),
    (lambda: pde.heat(np.zeros(8), -1.0), ValueError, "t"),
    (lambda: pde.heat(np.zeros(8), 1.0, diffusivity=-1), ValueError, "diffusivity"),
    (lambda: pde.burgers(np.zeros((8, 8)), 1.0, dt=0.1, viscosity=0.1), ValueError, "axes"),
    (lambda: pde.burgers(np.zeros(8), 1.0, dt=0, viscosity=0.1), ValueError, "dt"),
    (lambda: pde.burgers(100 * np.sin(np.arange(64)), 1.0, dt=0.5, viscosity=0.01), RuntimeError, "CFL"),
    (lambda: pde.advection_diffusion(np.zeros((8, 8)), np.zeros((1, 8, 8)), 1.0, dt=0.1, diffusivity=0),
     ValueError, "velocity"),
    (lambda: pde.advection_diffusion(np.zeros((8, 8)), 100 * np.ones((2, 8, 8)), 1.0, dt=0.5, diffusivity=0),
     RuntimeError, "CFL"),
])
def test_bad_input_raises_with_the_message(call, exc, match):
    with pytest.raises(exc, match=match):
        call()

