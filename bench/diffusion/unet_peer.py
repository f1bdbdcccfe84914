#!/usr/bin/env python3
"""PyTorch CPU peer of Tessera's UNetModel forward (`tessera bench diffusion`): diffusers'
UNet2DModel loaded from the same model folder (config.json + diffusion_pytorch_model.safetensors
that Tessera wrote), float32, eval mode, torch.inference_mode, `threads` intra-op threads.

usage: unet_peer.py MODEL_DIR INPUT.f32 C H W TIMESTEP THREADS
  reads the input sample (C*H*W little-endian float32), prints {"ready": true, versions…},
  writes diffusers' output for it to INPUT.f32.out (float32), then for every line "K" on stdin
  runs K forwards and prints {"seconds": [per-forward times]}; an empty line or EOF ends it.
Run it with the pinned environment bench/diffusion/setup-venv prints."""
import json, os, sys, time

# The bench process pins its pool threads (TESSERA_BIND=core), and a spawned child inherits the
# spawning thread's CPU mask: without this, torch's threads would share the one core of that
# thread. Widen the mask to every CPU the process may use before torch starts its threads.
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, range(os.cpu_count() or 1))

import numpy as np
import torch
import diffusers
from diffusers import UNet2DModel


def main():
    d, inp, c, h, w, t, threads = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:8])
    torch.set_num_threads(threads)
    model = UNet2DModel.from_pretrained(d, torch_dtype=torch.float32).eval()
    x = torch.from_numpy(np.fromfile(inp, dtype="<f4").reshape(1, c, h, w).copy())
    ts = torch.tensor([t])
    with torch.inference_mode():
        y = model(x, ts).sample
        y.numpy().astype("<f4").tofile(inp + ".out")
        model(x, ts)  # warm-up
        print(json.dumps({"ready": True, "torch": torch.__version__, "diffusers": diffusers.__version__,
                          "threads": torch.get_num_threads(), "cpus": len(os.sched_getaffinity(0))}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                break
            out = []
            for _ in range(int(line)):
                t0 = time.perf_counter()
                model(x, ts)
                out.append(time.perf_counter() - t0)
            print(json.dumps({"seconds": out}), flush=True)


if __name__ == "__main__":
    main()
