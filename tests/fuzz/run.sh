#!/usr/bin/env bash
# Runs every libFuzzer target built in BUILD (the fuzz preset) for SECONDS each, seeded with its
# committed corpus, and reports the crashes. `make fuzz` calls this; see docs/FUZZING.md.
#
#   tests/fuzz/run.sh BUILD [SECONDS] [NAME...]     NAME: config_yaml, aws_profile, ... (all if none)
#
# New inputs go to BUILD/fuzz-work/<name>/ (kept between runs), never into the repository,
# unless FUZZ_SAVE=1: then the corpus found is minimised (-merge=1) into tests/fuzz/corpus/<name>/
# for you to review and commit. Crash, leak and timeout inputs go to BUILD/fuzz-crashes/<name>/.
# Extra libFuzzer flags: FUZZ_ARGS="-max_len=4096 ...". A target may have a dictionary,
# tests/fuzz/<name>.dict. Exit status: 0 if every target ran clean, 1 otherwise.
set -uo pipefail

build=${1:?usage: run.sh BUILD [SECONDS] [NAME...]}
# absolute: targets may chdir (fuzz_common.h's sandbox) before libFuzzer reads its directories
build=$(cd "$build" 2>/dev/null && pwd) || { echo "fuzz: no build directory ${1}" >&2; exit 2; }
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
src=$(cd "$(dirname "$0")" && pwd)
bin="$build/tests/fuzz"
[ -d "$bin" ] || { echo "fuzz: no $bin: build with the fuzz preset first (make fuzz)" >&2; exit 2; }
case "$seconds" in ''|*[!0-9]*) echo "fuzz: FUZZ_SECONDS must be a number of seconds" >&2; exit 2 ;; esac

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in "$bin"/fuzz_*; do
    [ -x "$f" ] && [ -f "$f" ] && names+=("$(basename "$f" | sed 's/^fuzz_//')")
  done
fi
[ ${#names[@]} -gt 0 ] || { echo "fuzz: no targets in $bin" >&2; exit 2; }

failed=()
for name in "${names[@]}"; do
  exe="$bin/fuzz_$name"
  [ -x "$exe" ] || { echo "fuzz: $exe not built" >&2; failed+=("$name (not built)"); continue; }
  seeds="$src/corpus/$name"
  work="$build/fuzz-work/$name"
  crashes="$build/fuzz-crashes/$name"
  mkdir -p "$work" "$crashes"
  dirs=("$work")
  [ -d "$seeds" ] && dirs+=("$seeds")
  dict=()
  [ -f "$src/$name.dict" ] && dict=(-dict="$src/$name.dict")
  log="$build/fuzz-work/$name.log"
  echo "fuzz: $name for ${seconds}s (log: $log)"
  # -timeout: an input that takes 10 s is a finding (unbounded work), not patience's problem.
  # -rss_limit_mb: bounded memory is a promise too; the machine is shared.
  # shellcheck disable=SC2086
  "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${dict[@]}" ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1
  rc=$?
  grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$log" | sed 's/^/  /'
  if [ $rc -ne 0 ]; then
    echo "fuzz: $name FAILED (exit $rc):"
    { grep -E 'ERROR: |runtime error:|SUMMARY:|fuzz_[a-z_]+: ' "$log" || tail -5 "$log"; } |
      head -6 | sed 's/^/  /'
    ls -t "$crashes" | head -3 | sed "s|^|  input: $crashes/|"
    failed+=("$name")
  fi
  if [ "${FUZZ_SAVE:-0}" = 1 ] && [ $rc -eq 0 ]; then
    mkdir -p "$seeds"
    "$exe" -merge=1 "$seeds" "$work" >>"$log" 2>&1 &&
      echo "  corpus merged into $seeds: review and commit it"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}"
  echo "  reproduce: $bin/fuzz_NAME INPUT; then copy INPUT to tests/fuzz/corpus/NAME/ (make test"
  echo "  replays it) and fix the bug (docs/FUZZING.md)"
  exit 1
fi
echo "fuzz: every target ran clean"
