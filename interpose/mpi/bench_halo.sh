#!/usr/bin/env bash
# bench_halo.sh — `make bench-mpi`, second half: the unmodified halo3d program with and without
# LD_PRELOAD=libtessera_mpi.so, alternated in rounds (plain, preload, plain, ...), for
#   z-split 1 ghost layer (8-byte runs), z-split 3 layers (24-byte runs), x-split (contiguous slabs).
# Each launch reports the median exchange time of its iterations (max over ranks); per case this
# prints one JSON line: medians over rounds with min-max, speedup = median of the per-round
# ratios (plain / preload) with min-max, the load average at start and end, identical checksums.
#   usage: bench_halo.sh BUILD_DIR [rounds=5] [N=256] [iterations=20] [ranks=2]
set -euo pipefail
build=$1; rounds=${2:-5}; N=${3:-256}; iters=${4:-20}; np=${5:-2}
run=(mpirun --allow-run-as-root --oversubscribe -np "$np")
lib=$(cd "$build/lib" && pwd)/libtessera_mpi.so
prog=$build/mpi/halo3d
med() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for cfg in "1 z" "3 z" "1 x"; do
    set -- $cfg; L=$1; split=$2
    load0=$(cut -d' ' -f1 /proc/loadavg)
    plain=(); pre=(); ratio=(); same=true
    for ((r = 0; r < rounds; r++)); do
        a=$("${run[@]}" "$prog" "$N" "$iters" "$L" "$split" | tail -1)
        b=$("${run[@]}" -x LD_PRELOAD="$lib" "$prog" "$N" "$iters" "$L" "$split" | tail -1)
        ta=$(sed -E 's/.*median ([0-9.]+) ms.*/\1/' <<<"$a"); tb=$(sed -E 's/.*median ([0-9.]+) ms.*/\1/' <<<"$b")
        [ "${a##*checksum }" = "${b##*checksum }" ] || same=false
        plain+=("$ta"); pre+=("$tb"); ratio+=("$(awk -v x="$ta" -v y="$tb" 'BEGIN {print x / y}')")
    done
    p=$(printf '%s\n' "${plain[@]}" | med); q=$(printf '%s\n' "${pre[@]}" | med); s=$(printf '%s\n' "${ratio[@]}" | med)
    mm() { printf '%s\n' "$@" | sort -g | sed -n '1p;$p' | paste -sd' '; }
    read -r pmin pmax <<<"$(mm "${plain[@]}")"; read -r qmin qmax <<<"$(mm "${pre[@]}")"; read -r smin smax <<<"$(mm "${ratio[@]}")"
    kind=$([ "$split" = x ] && echo "contiguous slabs" || echo "$((8 * L))-byte runs")
    printf '{"case": "halo3d %d^3 f64 np=%d split %s layers=%d (%s) drop-in", "unit": "ms", "ours": %s, "ours_min": %s, "ours_max": %s, "baseline_name": "openmpi_derived_subarray_sendrecv", "baseline": %s, "baseline_min": %s, "baseline_max": %s, "speedup": %s, "speedup_min": %s, "speedup_max": %s, "rounds": %d, "iterations": %d, "loadavg_start": %s, "loadavg_end": %s, "identical_checksums": %s}\n' \
        "$N" "$np" "$split" "$L" "$kind" "$q" "$qmin" "$qmax" "$p" "$pmin" "$pmax" "$s" "$smin" "$smax" "$rounds" "$iters" \
        "$load0" "$(cut -d' ' -f1 /proc/loadavg)" "$same"
done
