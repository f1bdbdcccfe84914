#!/usr/bin/env python3
"""NumPy peer of Tessera's NavierStokes2D step (same scheme: vorticity form, 2/3 rule,
integrating-factor RK4, 4 inverse + 1 forward real FFT per stage). Used by `tessera bench pde`.

usage: pde_ns2d.py N STEPS   -> prints one JSON line {"n":..., "seconds_per_step":..., "enstrophy":...}
Installs NumPy with pip on first use if it is missing (bench-only dependency)."""
import json, subprocess, sys, time

try:
    import numpy as np
except ImportError:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "numpy"])
    import numpy as np


def main():
    n, steps = int(sys.argv[1]), int(sys.argv[2])
    nu, dt = 1e-4, 1e-3
    k = np.fft.fftfreq(n, 1.0 / n)
    kx = np.fft.rfftfreq(n, 1.0 / n)
    KY, KX = np.meshgrid(k, kx, indexing="ij")
    KXd, KYd = KX.copy(), KY.copy()
    KXd[:, -1] = 0
    KYd[n // 2, :] = 0
    K2 = KX ** 2 + KY ** 2
    inv = np.where(K2 > 0, 1.0 / np.where(K2 > 0, K2, 1), 0.0)
    keep = (np.abs(KY) < n / 3) & (np.abs(KX) < n / 3)
    rng = np.random.default_rng(1)
    w = np.fft.rfft2(rng.standard_normal((n, n))) * keep
    E = np.exp(-nu * K2 * dt / 2)

    def N(s):
        psi = s * inv
        u = np.fft.irfft2(1j * KYd * psi, s=(n, n))
        v = np.fft.irfft2(-1j * KXd * psi, s=(n, n))
        wx = np.fft.irfft2(1j * KXd * s, s=(n, n))
        wy = np.fft.irfft2(1j * KYd * s, s=(n, n))
        return -np.fft.rfft2(u * wx + v * wy) * keep

    def step(w):
        a = N(w)
        b = N(E * (w + dt / 2 * a))
        c = N(E * w + dt / 2 * b)
        d = N(E * E * w + dt * E * c)
        return E * E * w + dt / 6 * (E * E * a + 2 * E * (b + c) + d)

    w = step(w)  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        w = step(w)
    sec = (time.perf_counter() - t0) / steps
    print(json.dumps({"n": n, "seconds_per_step": sec, "enstrophy": float(np.sum(np.abs(w) ** 2))}))


if __name__ == "__main__":
    main()
