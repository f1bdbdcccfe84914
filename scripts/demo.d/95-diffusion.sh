#!/usr/bin/env bash
# Diffusion on a model whose exact answer is known: a Gaussian random-field prior with its exact
# denoiser, sampled by DDIM with PCPP (P = 4) and DistriFusion (P = 2) patch parallelism and by the
# unsplit sampler, each shown beside the exact probability-flow solution from the same noise, with
# the samples' power spectra against the prior's (speed-up, bytes/step, PSNR, spectrum error printed).
set -euo pipefail
OUT="${TESSERA_DEMO_OUT:-/tmp/tessera-demo}"
mkdir -p "$OUT"
"$TESSERA_BIN" diffuse --gaussian-field --size 64 --patches 4 --mode pcpp --steps 50 --samples 4 \
    --out "$OUT/diffusion-field-pcpp.png"
"$TESSERA_BIN" diffuse --gaussian-field --size 64 --patches 2 --mode distrifusion --warmup 4 --steps 50 \
    --samples 4 --out "$OUT/diffusion-field-distrifusion.png"
