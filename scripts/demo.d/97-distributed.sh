# TesseraDistributed on MPI: the same work on 2–4 ranks under mpirun, each checked against the
# single-process result of the same run (bitwise where the arithmetic order is the same):
# the MPI binding self-test, ring attention (causal, zig-zag layout), distributed k-means and
# CLARA, explicit heat and CG Poisson on a Cartesian split with subarray halos, the diffusion
# patch exchange and U-Net patches on ranks (DistriFusion / PCPP) — started through `tessera <command> --distributed` (which execs tessera-mpi).
BIN_DIR="$(dirname "$TESSERA_BIN")"
MPI_BIN="$BIN_DIR/tessera-mpi"
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$MPI_BIN" ]; then
    echo "distributed: needs mpirun (scripts/bootstrap) and tessera-mpi (swift build -c release); skipped"
    exit 0
fi
run() { timeout 120 mpirun --allow-run-as-root --oversubscribe "$@"; }
run -np 2 "$MPI_BIN" selftest
run -np 4 "$TESSERA_BIN" attention ring --distributed --seq 384 --heads 4 --dim 64 --causal --layout zigzag
run -np 2 "$TESSERA_BIN" cluster --method kmeans --distributed --n 40000 --d 8 --k 8
run -np 3 "$TESSERA_BIN" cluster --method clara --distributed --n 20000 --d 4 --k 6 --samples 6
run -np 2 "$TESSERA_BIN" pde heat --distributed --n 512 --steps 50
run -np 4 "$TESSERA_BIN" pde poisson --distributed --n 96 --dims 2,2 --bc neumann
run -np 4 "$MPI_BIN" patch-exchange
run -np 2 "$TESSERA_BIN" diffuse --distributed --mode pcpp --size 32 --calls 4
