#!/usr/bin/env python3
"""Python peers for `tessera bench cluster`: the `kmedoids` package (Rust, by the FasterPAM
authors) and scikit-learn, driven over stdin/stdout so the Swift bench can interleave runs
(A B A B ...) with its own in one session.

Protocol: one JSON object per line in, one JSON object per line out.
  {"cmd": "load_matrix", "path": P, "n": N}            float32 n x n, raw little-endian
  {"cmd": "load_data", "path": P, "n": N, "d": D}      float32 n x d, raw
  {"cmd": "fasterpam", "medoids": [...], "n_cpu": T, "seed": S|null, "max_iter": M}
  {"cmd": "pam_build", "k": K}
  {"cmd": "kmeans", "centers": P, "k": K, "max_iter": M}   centres: float32 k x d raw file; replies
                                                       its inertia and, in float64, inertia_f64
  {"cmd": "pdist"}                                     sklearn euclidean_distances on the data
  {"cmd": "pam", "medoids": [...], "max_iter": M}      kmedoids.pam (original SWAP) on the matrix
  {"cmd": "clarans", "k": K, "fast": B, "seed": S}     scikit-clarans CLARANS / FastCLARANS on the data
  {"cmd": "versions"} / {"cmd": "quit"}
Replies carry "seconds" (time of the call alone, perf_counter) and quality figures. `kmeans` and
`pdist` time their second of two calls back to back (the threads of OpenBLAS and libgomp are then
awake, as in a loop of calls), and every reply waits until the process's idle threads stop
spinning (settle), so the Swift side's next run starts on idle cores.
The peers are pip-installed, at the pinned versions below, into the bench's own virtual
environment (build/bench-venv) at the first run, and the script re-runs itself there
(never needed by `make test`).
"""
import json
import os
import subprocess
import sys
import time
import warnings

warnings.filterwarnings("ignore")


# The peers, pinned (the versions the figures in docs/cluster.md were measured with).
PINNED = [("numpy", "numpy==2.4.6"), ("kmedoids", "kmedoids==0.5.5"), ("sklearn", "scikit-learn==1.9.1"),
          ("clarans", "scikit-clarans==0.3.4")]
VENV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "bench-venv")


def in_venv():
    return os.path.realpath(sys.prefix) == os.path.realpath(VENV)


def ensure(packages):
    """Creates build/bench-venv with the pinned peers once, then re-runs this script in it."""
    if not in_venv():
        py = os.path.join(VENV, "bin", "python3")
        if not os.path.exists(py):
            subprocess.run([sys.executable, "-m", "venv", VENV], stdout=sys.stderr, stderr=sys.stderr, check=False)
        if os.path.exists(py):
            os.execv(py, [py, os.path.abspath(__file__)])
    missing = []
    for mod, pkg in packages:
        try:
            __import__(mod)
        except ImportError:
            missing.append(pkg)
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing],
                       stdout=sys.stderr, stderr=sys.stderr, check=False)


ensure(PINNED)

import numpy as np  # noqa: E402
from importlib.metadata import version  # noqa: E402

try:
    import kmedoids  # noqa: E402
except ImportError:
    kmedoids = None
try:
    import sklearn  # noqa: E402
    from sklearn.cluster import KMeans  # noqa: E402
    from sklearn.metrics.pairwise import euclidean_distances  # noqa: E402
except ImportError:
    sklearn = None
try:
    from clarans import CLARANS, FastCLARANS  # noqa: E402
except ImportError:
    CLARANS = FastCLARANS = None

diss = None
data = None


def settle(limit=1.0):
    """Waits until this process's idle worker threads stop using the CPU. After a call, OpenBLAS's
    threads spin for about 2^28 cycles (~90 ms here) and libgomp's for a while before they sleep:
    measured, ~1 core busy for 80-90 ms after `euclidean_distances` and ~2 cores for ~10 ms after
    `KMeans.fit`. A run of the other side started in that window shares a core with them (on a
    2-core box: a 2-thread run then gets one core), so every reply waits for them first."""
    end = time.perf_counter() + limit
    while time.perf_counter() < end:
        c0 = time.process_time()
        time.sleep(0.005)
        if time.process_time() - c0 < 0.0005:
            return


def reply(obj):
    settle()
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        req = json.loads(line)
        cmd = req["cmd"]
        if cmd == "quit":
            reply({"ok": True})
            break
        elif cmd == "versions":
            reply({"numpy": np.__version__,
                   "kmedoids": version("kmedoids") if kmedoids else "missing",
                   "sklearn": sklearn.__version__ if sklearn else "missing",
                   "scikit-clarans": version("scikit-clarans") if CLARANS else "missing",
                   "cpus": os.cpu_count()})
        elif cmd == "load_matrix":
            n = req["n"]
            diss = np.fromfile(req["path"], dtype=np.float32).reshape(n, n)
            reply({"ok": True})
        elif cmd == "load_data":
            data = np.fromfile(req["path"], dtype=np.float32).reshape(req["n"], req["d"])
            reply({"ok": True})
        elif cmd == "fasterpam":
            med = np.array(req["medoids"], dtype=np.uintp)
            seed = req.get("seed")
            t = time.perf_counter()
            r = kmedoids.fasterpam(diss, med, max_iter=req.get("max_iter", 100), init="random",
                                   random_state=seed, n_cpu=req["n_cpu"])
            s = time.perf_counter() - t
            reply({"seconds": s, "loss": float(r.loss), "n_iter": int(r.n_iter), "n_swap": int(r.n_swap),
                   "medoids": [int(x) for x in r.medoids]})
        elif cmd == "pam_build":
            t = time.perf_counter()
            r = kmedoids.pam_build(diss, req["k"])
            s = time.perf_counter() - t
            reply({"seconds": s, "loss": float(r.loss), "medoids": [int(x) for x in r.medoids]})
        elif cmd == "kmeans":
            k = req["k"]
            centers = np.fromfile(req["centers"], dtype=np.float32).reshape(k, data.shape[1])
            km = KMeans(n_clusters=k, init=centers, n_init=1, max_iter=req["max_iter"], tol=0.0,
                        algorithm="lloyd")
            km.fit(data)   # untimed: its threads awake, as the timed fit right after finds them
            t = time.perf_counter()
            km.fit(data)
            s = time.perf_counter() - t
            # its inertia is summed in float32; the same partition's inertia in float64 (its
            # centres and labels) is what ours, summed in float64, is compared with
            x64 = data.astype(np.float64)
            inertia64 = float(((x64 - km.cluster_centers_.astype(np.float64)[km.labels_]) ** 2).sum())
            reply({"seconds": s, "inertia": float(km.inertia_), "inertia_f64": inertia64, "n_iter": int(km.n_iter_)})
        elif cmd == "pam":
            med = np.array(req["medoids"], dtype=np.uintp)
            t = time.perf_counter()
            r = kmedoids.pam(diss, med, max_iter=req.get("max_iter", 100))
            s = time.perf_counter() - t
            reply({"seconds": s, "loss": float(r.loss), "n_iter": int(r.n_iter), "n_swap": int(r.n_swap),
                   "medoids": [int(x) for x in r.medoids]})
        elif cmd == "clarans":
            cls = FastCLARANS if req.get("fast") else CLARANS
            model = cls(n_clusters=req["k"], random_state=req.get("seed", 0))
            t = time.perf_counter()
            model.fit(data)
            s = time.perf_counter() - t
            reply({"seconds": s, "loss": float(model.inertia_), "n_swap": int(getattr(model, "n_swaps_", -1)),
                   "n_eval": int(getattr(model, "n_iter_", -1))})
        elif cmd == "pdist":
            warm = euclidean_distances(data)   # untimed: its threads awake for the timed call
            del warm
            t = time.perf_counter()
            d = euclidean_distances(data)
            s = time.perf_counter() - t
            check = float(d[0, -1])
            del d   # freed before the reply: unmapping it keeps a core busy for a while
            reply({"seconds": s, "check": check})
        else:
            reply({"error": "unknown command " + cmd})
    except Exception as e:  # report, keep serving
        reply({"error": repr(e)})
