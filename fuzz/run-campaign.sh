#!/usr/bin/env bash
# Time-bounded libFuzzer campaign over several targets.
#   fuzz/run-campaign.sh WORK_DIR SECONDS BINARY...
# Each BINARY (a libFuzzer executable named after its corpus folder, e.g. fuzz_quant or
# swift-gguf) runs for SECONDS on a working copy of fuzz/corpus/<name>/ (WORK_DIR/corpus/<name>,
# so new inputs never touch the tree), with memory limits; a crash is saved under
# WORK_DIR/artifacts/<name>/. Prints executions per target and exits 1 if any target
# crashed (or did not run).
set -u
work=$1; secs=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
RSS_MB=${FUZZ_RSS_MB:-2048}
MALLOC_MB=${FUZZ_MALLOC_MB:-1024}
TIMEOUT=${FUZZ_TIMEOUT:-20}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Swift's crash handler would start swift-backtrace inside libFuzzer's signal handling
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}
mkdir -p "$work/logs"
summary=(); bad=()
for bin in "$@"; do
    name=$(basename "$bin")
    corpus=$work/corpus/$name; arts=$work/artifacts/$name; log=$work/logs/$name.log
    mkdir -p "$corpus" "$arts"
    [ -d "$here/corpus/$name" ] && cp -n "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
    dict=()
    [ -f "$here/dict/$name.dict" ] && dict=(-dict="$here/dict/$name.dict")
    echo "== $name: ${secs}s (rss ${RSS_MB} MB, malloc ${MALLOC_MB} MB, timeout ${TIMEOUT}s per input)"
    "$bin" -max_total_time="$secs" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$MALLOC_MB" -timeout="$TIMEOUT" \
        -print_final_stats=1 -artifact_prefix="$arts/" "${dict[@]}" "$corpus" > "$log" 2>&1
    rc=$?
    runs=$(grep -E '^stat::number_of_executed_units:' "$log" | tail -1 | awk '{print $2}')
    [ -z "$runs" ] && runs=$(grep -E '^Done [0-9]+ runs' "$log" | tail -1 | awk '{print $2}')
    [ -z "$runs" ] && runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
    files=$(ls "$corpus" | wc -l)
    if [ "$rc" -eq 0 ]; then
        summary+=("$(printf '%-20s %10s executions  cov %6s  corpus %5s  ok' "$name" "${runs:-?}" "${cov:-?}" "$files")")
    else
        art=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
        what=$(grep -E '^(SUMMARY|==[0-9]+==ERROR|fuzz check failed|ALARM|.*-timeout|.*out-of-memory)' "$log" | head -3)
        summary+=("$(printf '%-20s %10s executions  cov %6s  corpus %5s  CRASH (exit %d)' "$name" "${runs:-?}" "${cov:-?}" "$files" "$rc")")
        summary+=("    reproducer: ${art:-none written}   log: $log")
        while IFS= read -r l; do [ -n "$l" ] && summary+=("    $l"); done <<< "$what"
        bad+=("$name")
    fi
done
echo
echo "fuzz campaign (${secs}s per target):"
printf '%s\n' "${summary[@]}"
if [ ${#bad[@]} -ne 0 ]; then
    echo "fuzz: ${#bad[@]} target(s) crashed: ${bad[*]} (reproducers under $work/artifacts/)"
    exit 1
fi
echo "fuzz: no crash"
