#!/usr/bin/env bash
# Clustering: 3,000 points in 2-D from 6 Gaussian blobs; FasterPAM (k = 6) with a PNG scatter
# plot coloured by cluster (medoids ringed), then PPP choosing k by itself.
set -euo pipefail
out="${TESSERA_DEMO_OUT:-run}/cluster"
mkdir -p "$out"
awk 'BEGIN { srand(3); print "x,y";
             split("0 0 9 1 4 8 -6 6 -5 -4 6 -7", c, " ");
             for (i = 0; i < 3000; i++) { b = i % 6;
                 u1 = rand(); u2 = rand(); r = sqrt(-2 * log(u1 + 1e-12));
                 printf "%.4f,%.4f\n", c[2*b+1] + 1.1 * r * cos(6.2831853 * u2), c[2*b+2] + 1.1 * r * sin(6.2831853 * u2) } }' \
    > "$out/blobs.csv"
"$TESSERA_BIN" cluster "$out/blobs.csv" --k 6 --method fasterpam --out "$out/labels.csv" --plot "$out/cluster.png"
"$TESSERA_BIN" cluster "$out/blobs.csv" --method ppp --k-max 10
echo "plot: $out/cluster.png"
