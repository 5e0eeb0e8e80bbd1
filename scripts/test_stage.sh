#!/usr/bin/env bash
# One stage of `make test`: configure a preset, build it, run its tests, and record one result
# line in build/test-results/STAGE, which `make test` prints in its summary once every stage
# has run (a failing stage does not stop the next one).
#
# Usage: scripts/test_stage.sh STAGE PRESET JOBS [ctest arguments...]
# Result line: "stage STAGE: passed (N tests)", "stage STAGE: failed (F of N tests: names)" or
# "stage STAGE: build failed"; followed by "<passed> <failed>" counts on a second line (a build
# failure counts as one failure). Exit status: 0 only if the stage passed.
set -uo pipefail
stage=$1 preset=$2 jobs=$3
shift 3
cd "$(dirname "$0")/.."
results=build/test-results
mkdir -p "$results"
out=$results/$stage
log=$results/$stage.log

record() { # line passed failed
  printf '%s\n%s %s\n' "$1" "$2" "$3" >"$out"
  if [ -t 1 ]; then printf '\n\033[1m%s\033[0m\n' "$1"; else printf '\n%s\n' "$1"; fi
}

echo "== stage $stage: cmake --preset $preset"
if ! cmake --preset "$preset" >"$log" 2>&1 || ! cmake --build "build/$preset" -j "$jobs" >>"$log" 2>&1; then
  tail -n 60 "$log"
  record "stage $stage: build failed (log: $log)" 0 1
  exit 1
fi

(cd "build/$preset" && ctest -j "$jobs" "$@") 2>&1 | tee -a "$log"
rc=${PIPESTATUS[0]}
# "100% tests passed, 0 tests failed out of 52" (ctest's own summary line)
summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
failed=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$summary")
if [ -z "$summary" ] || [ -z "$total" ]; then
  record "stage $stage: failed (ctest exited $rc without a summary; log: $log)" 0 1
  exit 1
fi
if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]; then
  record "stage $stage: passed ($total tests)" "$total" 0
  exit 0
fi
# the names, from ctest's "The following tests FAILED:" list ("  12 - unit.test_x (Failed)")
names=$(sed -n '/The following tests FAILED:/,$p' "$log" | sed -nE 's/^[[:space:]]*[0-9]+ - ([^ ]+) .*/\1/p' |
  paste -sd, - | sed 's/,/, /g')
[ "$failed" -eq 0 ] && failed=1 # ctest failed without a failing test: count the stage
record "stage $stage: failed ($failed of $total tests: ${names:-see $log})" $((total - failed)) "$failed"
exit 1
