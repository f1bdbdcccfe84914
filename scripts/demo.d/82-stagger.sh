# Learned NeuralStagger demo: train 2×2 coarse heat solvers on the fine Crank–Nicolson residual
# (no solver labels, 90 s budget), then roll 50 steps out beside the fine solver in one picture.
set -euo pipefail
out="${TESSERA_DEMO_OUT:-run}/stagger"
"$TESSERA_BIN" pde stagger-train --n 128 --factor 2 --time-budget 90 --steps 100000 --out "$out/model"
"$TESSERA_BIN" pde stagger-run --model "$out/model" --steps 50 --coarse 0 --out "$out"
echo "loss curve: $out/model/loss.png; rollout vs fine solver: $out/compare.png"
