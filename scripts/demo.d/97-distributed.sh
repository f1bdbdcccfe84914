# TesseraDistributed on MPI: the same work on 2 ranks under mpirun, each checked against the
# single-process result of the same run (bitwise where the arithmetic order is the same):
# the MPI binding self-test, ring attention (causal, 3 ranks), distributed k-means, explicit
# heat and CG Poisson on a Cartesian split with subarray halos.
MPI_BIN="$(dirname "$TESSERA_BIN")/tessera-mpi"
if ! command -v mpirun >/dev/null 2>&1 || [ ! -x "$MPI_BIN" ]; then
    echo "distributed: needs mpirun (scripts/bootstrap) and tessera-mpi (swift build -c release); skipped"
    exit 0
fi
run() { timeout 120 mpirun --allow-run-as-root --oversubscribe "$@"; }
run -np 2 "$MPI_BIN" selftest
run -np 3 "$MPI_BIN" attention --seq 384 --heads 4 --dim 64 --causal
run -np 2 "$MPI_BIN" kmeans --n 40000 --d 8 --k 8
run -np 2 "$MPI_BIN" heat --n 512 --steps 50
run -np 4 "$MPI_BIN" poisson --n 96 --dims 2,2 --bc neumann
