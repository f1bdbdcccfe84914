#!/usr/bin/env bash
# Diffusion: exact Gaussian-field prior sampled with PCPP patch parallelism (P=4), compared with the
# unsplit sampler (speed-up, bytes/step, PSNR, spectrum error), then a random-weight U-Net with DistriFusion.
set -euo pipefail
OUT="${TESSERA_DEMO_OUT:-/tmp/tessera-demo}"
mkdir -p "$OUT"
"$TESSERA_BIN" diffuse --gaussian-field --size 64 --patches 4 --mode pcpp --steps 20 --samples 4 \
    --out "$OUT/diffusion-field-pcpp.png"
"$TESSERA_BIN" diffuse --random-unet small --size 64 --patches 2 --mode distrifusion --warmup 2 --steps 6 \
    --samples 1 --out "$OUT/diffusion-unet-distrifusion.png"
