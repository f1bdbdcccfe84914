#!/usr/bin/env bash
# Random projection and FastRP: embed a generated stochastic-block-model graph, check that the
# blocks are recoverable from the embedding, and project a dense matrix.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# 20,000 nodes in 10 blocks (node i in block i % 10): ~12 neighbours inside the block, ~4 outside
awk 'BEGIN { srand(7); n = 20000; b = 10; m_in = n * 6; m = n * 8;
             print "# stochastic block model: u v";
             for (e = 0; e < m; e++) { u = int(rand() * n); bl = u % b;
                 if (e >= m_in) bl = (bl + 1 + int(rand() * (b - 1))) % b;
                 print u, int(rand() * (n / b)) * b + bl } }' > "$tmp/sbm.txt"
"$TESSERA_BIN" embed "$tmp/sbm.txt" --dim 128 --out "$tmp/emb.npy"
if python3 -c "import numpy" 2>/dev/null; then
python3 - "$tmp/emb.npy" <<'PY'
import sys, numpy as np
e = np.load(sys.argv[1]); n, b = e.shape[0], 10
e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-30)
lab = np.arange(n) % b; train = (np.arange(n) // b) % 2 == 0
cent = np.stack([e[train & (lab == k)].mean(0) for k in range(b)])
pred = np.argmax(e[~train] @ (cent / np.linalg.norm(cent, axis=1, keepdims=True)).T, axis=1)
print("FastRP on a 20,000-node SBM: nearest-centroid micro-F1 = %.4f (target >= 0.95)" % (pred == lab[~train]).mean())
PY
python3 -c "import numpy as np; np.save('$tmp/x.npy', np.random.default_rng(1).standard_normal((2000, 5000)).astype(np.float32))"
"$TESSERA_BIN" project "$tmp/x.npy" --dim 256 --out "$tmp/y.npy"
python3 - "$tmp/x.npy" "$tmp/y.npy" <<'PY'
import sys, numpy as np
x, y = np.load(sys.argv[1]), np.load(sys.argv[2])
r = (y ** 2).sum(1) / (x ** 2).sum(1)
print("very sparse projection 5000 -> 256: ||Rx||^2/||x||^2 mean %.4f, sd %.4f (theory sd ~ %.4f)" % (r.mean(), r.std(), (2 / 256) ** 0.5))
PY
fi
