#!/usr/bin/env bash
# FastRP picture: a generated stochastic block model (3,000 nodes in 6 communities, node i in
# community i % 6: ~10 neighbours inside its community, ~3 outside), embedded with FastRP; the
# embeddings' first two principal components, coloured by the known community.
set -euo pipefail
out=${TESSERA_DEMO_OUT:-$(mktemp -d)}
mkdir -p "$out"
awk 'BEGIN { srand(11); n = 3000; b = 6; m_in = n * 5; m = n * 6.5;
             print "# stochastic block model: u v (node i in community i % 6)";
             for (e = 0; e < m; e++) { u = int(rand() * n); bl = u % b;
                 if (e >= m_in) bl = (bl + 1 + int(rand() * (b - 1))) % b;
                 print u, int(rand() * (n / b)) * b + bl } }' > "$out/sbm.txt"
awk 'BEGIN { print "# community of node i, one per line"; for (i = 0; i < 3000; i++) print i % 6 }' > "$out/sbm-communities.txt"
"$TESSERA_BIN" embed "$out/sbm.txt" --nodes 3000 --dim 128 --out "$out/sbm-embedding.npy" \
    --plot "$out/embedding.png" --plot-labels "$out/sbm-communities.txt"
