# PDE demo: a short decaying 2-D turbulence run (spectral NS2D) and an FD heat run; PNGs in run/pde/.
set -euo pipefail
out="${TESSERA_DEMO_OUT:-run}/pde"
"$TESSERA_BIN" pde ns2d --n 256 --steps 300 --nu 2e-4 --out "$out"
"$TESSERA_BIN" pde heat --n 128 --steps 200 --out "$out"
echo "last vorticity frame: $out/vorticity_final.png"
