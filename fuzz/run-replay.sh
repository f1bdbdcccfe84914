#!/usr/bin/env bash
# Replays every committed corpus file through its fuzz target (no libFuzzer needed).
#   fuzz/run-replay.sh BUILD_DIR TARGET...
# BUILD_DIR/replay_<target> is run on fuzz/corpus/<target>/ (one forked child per file,
# with a time limit: a crash, a sanitizer report, a failed check or a hang fails that
# file). Prints each failure, a per-target line and the closing line
#   fuzz-replay: N passed, M failed
# and exits 1 if anything failed.
set -u
dir=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
# Sanitizers as the campaign sees them: an allocation over 1 GiB is a finding (a
# library must refuse absurd sizes before allocating), so is RSS over 2 GiB.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:max_allocation_size_mb=1024:hard_rss_limit_mb=2048:print_summary=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
passed=0; failed=0; bad=()
for t in "$@"; do
    bin=$dir/replay_$t
    corpus=$here/corpus/$t
    out=$("$bin" "$corpus" 2>&1); rc=$?
    line=$(echo "$out" | grep -E "^$t: [0-9]+ passed, [0-9]+ failed$" | tail -1)
    p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/'); f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    if [ -z "$line" ]; then
        echo "$out"; echo "   $t: no summary line (the replay driver itself failed)"; f=1; p=0
    elif [ "$rc" -ne 0 ]; then
        echo "$out" | grep -v -E '^ok '   # failures with their sanitizer reports
    else
        echo "   $line"
    fi
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
    [ "$rc" -ne 0 ] && bad+=("$t")
done
echo "fuzz-replay: $passed passed, $failed failed"
if [ ${#bad[@]} -ne 0 ]; then echo "failing targets: ${bad[*]}"; exit 1; fi
