# TesseraDistributed on MPI: the same work on 2–4 ranks under mpirun, each checked against the
# single-process result of the same run (bitwise where the arithmetic order is the same):
# the MPI binding self-test, ring attention (causal, zig-zag layout), distributed k-means and
# CLARA, explicit heat and CG Poisson on a Cartesian split with subarray halos, the diffusion
# patch exchange and U-Net patches on ranks (DistriFusion / PCPP) — started through `tessera <command> --distributed`
# (which execs tessera-mpi). Each writes what the one-process command writes (in $TESSERA_DEMO_OUT/distributed);
# --check adds the single-process result and one JSON line comparing the two.
BIN_DIR="$(dirname "$TESSERA_BIN")"
MPI_BIN="$BIN_DIR/tessera-mpi"
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$MPI_BIN" ]; then
    echo "distributed: needs mpirun (scripts/bootstrap) and tessera-mpi (swift build -c release); skipped"
    exit 0
fi
out="${TESSERA_DEMO_OUT:-run}/distributed"
mkdir -p "$out"
run() { timeout 120 mpirun --allow-run-as-root --oversubscribe "$@"; }
run -np 2 "$MPI_BIN" selftest
run -np 4 "$TESSERA_BIN" attention --distributed --check --seq 384 --heads 4 --dim 64 --causal --layout zigzag --out "$out/attention.npy"
run -np 2 "$TESSERA_BIN" cluster --method kmeans --distributed --check --n 40000 --d 8 --k 8 --out "$out/kmeans-labels.csv" --plot "$out/kmeans.png"
run -np 3 "$TESSERA_BIN" cluster --method clara --distributed --check --n 20000 --d 4 --k 6 --samples 6 --out "$out/clara-labels.csv"
run -np 2 "$TESSERA_BIN" pde heat --distributed --check --n 512 --steps 50 --out "$out"
run -np 4 "$TESSERA_BIN" pde poisson --distributed --check --n 96 --decomposition 2,2 --bc neumann --out "$out"
run -np 4 "$MPI_BIN" patch-exchange
run -np 2 "$TESSERA_BIN" diffuse --distributed --check --mode pcpp --random-unet tiny --size 32 --steps 10 --samples 2 --warmup 2 --no-reference --out "$out/samples.png"
