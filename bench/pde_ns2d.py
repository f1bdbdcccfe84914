#!/usr/bin/env python3
"""NumPy/SciPy peer of Tessera's NavierStokes2D step (same scheme: vorticity form, 2/3 rule,
integrating-factor RK4, 4 inverse + 1 forward real FFT per stage). Used by `tessera bench pde`.

The transforms are scipy.fft's rfft2/irfft2 with `workers` threads (the bench passes its own
thread count, 2 on the reference box), so the peer uses every core the Tessera side uses; the
pointwise NumPy work in between is NumPy's (single-threaded) and reuses preallocated arrays.

usage:
  pde_ns2d.py N STEPS [WORKERS]          one JSON line {"n", "workers", "seconds_per_step", "enstrophy", ...}
  pde_ns2d.py N serve [WORKERS]          warm up, print {"ready": true, ...}; then for every line "K" on
                                         stdin take K steps and print {"seconds": [per-step times]};
                                         an empty line or EOF ends it (the bench alternates rounds with it)
Run it with the bench's pinned environment (bench/pde/setup-venv prints its python)."""
import json, sys, time

import numpy as np
import scipy
import scipy.fft as sfft


class NS2D:
    def __init__(self, n, workers, nu=1e-4, dt=1e-3, seed=1):
        self.n, self.workers, self.dt = n, workers, dt
        k = sfft.fftfreq(n, 1.0 / n)
        kx = sfft.rfftfreq(n, 1.0 / n)
        KY, KX = np.meshgrid(k, kx, indexing="ij")
        KXd, KYd = KX.copy(), KY.copy()
        KXd[:, -1] = 0          # Nyquist of first derivatives set to 0 (as Tessera)
        KYd[n // 2, :] = 0
        K2 = KX ** 2 + KY ** 2
        self.keep = ((np.abs(KY) < n / 3) & (np.abs(KX) < n / 3)).astype(np.float64)
        inv = np.where(K2 > 0, 1.0 / np.where(K2 > 0, K2, 1), 0.0)
        # i·k and i·k/k² as complex multipliers, precomputed once
        self.iKX, self.iKY = 1j * KXd, 1j * KYd
        self.iKYinv, self.miKXinv = 1j * KYd * inv, -1j * KXd * inv
        self.E = np.exp(-nu * K2 * dt / 2)
        self.E2 = self.E * self.E
        rng = np.random.default_rng(seed)
        self.w = sfft.rfft2(rng.standard_normal((n, n)), workers=workers) * self.keep
        self.tmp = np.empty_like(self.w)

    def N(self, s):
        n, wk = self.n, self.workers
        np.multiply(self.iKYinv, s, out=self.tmp)
        u = sfft.irfft2(self.tmp, s=(n, n), workers=wk)
        np.multiply(self.miKXinv, s, out=self.tmp)
        v = sfft.irfft2(self.tmp, s=(n, n), workers=wk)
        np.multiply(self.iKX, s, out=self.tmp)
        wx = sfft.irfft2(self.tmp, s=(n, n), workers=wk)
        np.multiply(self.iKY, s, out=self.tmp)
        wy = sfft.irfft2(self.tmp, s=(n, n), workers=wk)
        np.multiply(u, wx, out=u)
        np.multiply(v, wy, out=v)
        np.add(u, v, out=u)
        out = sfft.rfft2(u, workers=wk, overwrite_x=True)
        out *= self.keep
        np.negative(out, out=out)
        return out

    def step(self):
        w, E, E2, dt = self.w, self.E, self.E2, self.dt
        a = self.N(w)
        b = self.N(E * (w + dt / 2 * a))
        c = self.N(E * w + dt / 2 * b)
        d = self.N(E2 * w + dt * E * c)
        self.w = E2 * w + dt / 6 * (E2 * a + 2 * E * (b + c) + d)

    def timed(self, k):
        out = []
        for _ in range(k):
            t0 = time.perf_counter()
            self.step()
            out.append(time.perf_counter() - t0)
        return out


def main():
    n = int(sys.argv[1])
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    sim = NS2D(n, workers)
    sim.step()  # warm-up (scipy.fft plan cache)
    info = {"n": n, "workers": workers, "numpy": np.__version__, "scipy": scipy.__version__}
    if sys.argv[2] == "serve":
        print(json.dumps(dict(info, ready=True)), flush=True)
        for line in sys.stdin:
            if not line.strip():
                break
            print(json.dumps({"seconds": sim.timed(int(line))}), flush=True)
        return
    times = sim.timed(int(sys.argv[2]))
    print(json.dumps(dict(info, seconds_per_step=float(np.median(times)),
                          enstrophy=float(np.sum(np.abs(sim.w) ** 2)))))


if __name__ == "__main__":
    main()
