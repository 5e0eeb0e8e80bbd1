#!/usr/bin/env bash
# Runs every benchmark candidate on the same workload and prints a Markdown table (also saved
# as <build>/bench-out/results.md). Usage: bench/run.sh build/bench
#   BENCH_EVENTS   events per run (default 1000000)
#   BENCH_REPS     repetitions per configuration; the median run is reported (default 3)
#   BENCH_CG       events for the callgrind runs (default 100000; 0 skips callgrind)
set -euo pipefail
B=${1:-build/bench}
EVENTS=${BENCH_EVENTS:-1000000}
REPS=${BENCH_REPS:-3}
CG=${BENCH_CG:-100000}
OUT=$B/bench-out
mkdir -p "$OUT"
RAW=$OUT/raw.txt
: > "$RAW"
C=$B/bench/bench_c
S=$B/bench/bench_spdlog
[ -x "$C" ] || { echo "run.sh: $C not built (cmake --preset bench)" >&2; exit 1; }

cands=(skylog-async skylog-sync fprintf)
[ -x "$S" ] && cands+=(spdlog-async spdlog-sync)

run() { # cand threads mode events
  local bin=$C
  case $1 in spdlog-*) bin=$S ;; esac
  "$bin" "$1" "$2" "$3" "$4" "$OUT/$1.log" | grep '^RESULT' >> "$RAW"
}

echo "bench: ${#cands[@]} candidates x {1,2,4} threads x {burst,paced} x $REPS runs, $EVENTS events each" >&2
for threads in 1 2 4; do
  for cand in "${cands[@]}"; do
    for mode in burst paced; do
      for ((r = 0; r < REPS; r++)); do run "$cand" "$threads" "$mode" "$EVENTS"; done
    done
  done
done
# the ring alone (producer cost; SPSC-equivalent vs MPSC with 1, 2, 4 producers)
R=$B/bench/bench_ring
if [ -x "$R" ]; then
  for ((r = 0; r < REPS; r++)); do
    "$R" spsc 1 1000000 >> "$RAW"
    "$R" mpsc 1 1000000 >> "$RAW"
    "$R" mpsc 2 500000 >> "$RAW"
    "$R" mpsc 4 250000 >> "$RAW"
  done
fi
# disabled level: 100M calls of a DEBUG event on an INFO logger
for ((r = 0; r < REPS; r++)); do run skylog-async 1 disabled 100000000; done

# instructions per event, noise-free (valgrind serialises threads)
if [ "$CG" -gt 0 ] && command -v valgrind >/dev/null; then
  cg() { # name bin cand fn...
    local name=$1 bin=$2 cand=$3; shift 3
    valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$name" "$bin" "$cand" 1 callgrind "$CG" \
      "$OUT/cg.$name.log" >/dev/null 2>&1
    for fn in "$@"; do
      local ir
      # awk reads to the end: exiting early could kill callgrind_annotate with SIGPIPE, which
      # pipefail turns into the end of this script (seen with the large C++ profile of spdlog)
      ir=$(callgrind_annotate --inclusive=yes "$OUT/cg.$name" 2>/dev/null |
           awk -v f=":$fn " '!done && index($0, f) { gsub(",", "", $1); print $1; done = 1 }')
      echo "CG $cand $fn ${ir:-0} $CG" >> "$RAW"
    done
  }
  echo "bench: callgrind runs ($CG events)" >&2
  cg async "$C" skylog-async log_one_skylog worker_main
  cg sync "$C" skylog-sync log_one_skylog
  cg fprintf "$C" fprintf log_one_fprintf
  [ -x "$S" ] && cg spdlog "$S" spdlog-sync log_one_spdlog
fi

python3 - "$RAW" "$OUT/results.md" <<'PY'
import sys, statistics, platform, subprocess, os
raw, out = sys.argv[1], sys.argv[2]
runs, cg, ring = {}, {}, {}
for line in open(raw):
    f = line.split()
    if f[0] == "RESULT":
        cand, th, mode = f[1], int(f[2]), f[3]
        runs.setdefault((cand, th, mode), []).append(
            dict(events=int(f[4]), wall=int(f[5]), eps=float(f[6]), p50=float(f[7]),
                 p99=float(f[8]), rss=int(f[9])))
    elif f[0] == "RING":
        ring.setdefault((f[1], int(f[2])), []).append(float(f[3]))
    elif f[0] == "CG":
        cg[(f[1], f[2])] = int(f[3]) / int(f[4])
def median_by(rs, key):
    rs = sorted(rs, key=lambda r: r[key])
    return rs[len(rs) // 2]
cands = []
for (c, _, _) in runs:
    if c not in cands:
        cands.append(c)
L = []
L.append("| candidate | threads | burst ns/call p50 / p99 | paced ns/call p50 / p99 | end-to-end events/s (burst, incl. flush) | peak RSS MiB |")
L.append("|---|---|---|---|---|---|")
for th in (1, 2, 4):
    for c in cands:
        b, p = runs.get((c, th, "burst")), runs.get((c, th, "paced"))
        if not b or not p:
            continue
        bm, pm = median_by(b, "eps"), median_by(p, "p50")
        L.append(f"| {c} | {th} | {bm['p50']:.1f} / {bm['p99']:.1f} | {pm['p50']:.1f} / {pm['p99']:.1f} "
                 f"| {bm['eps']/1e6:.2f} M | {max(bm['rss'], pm['rss'])/1024:.1f} |")
d = runs.get(("skylog-async", 1, "disabled"))
L.append("")
if d:
    L.append(f"Disabled level (DEBUG call on an INFO logger, 100M calls incl. the benchmark's call): "
             f"{median_by(d, 'p50')['p50']:.2f} ns/call")
if ring:
    L.append("")
    L.append("| ring alone: reserve + fill + commit of a 192-byte record (median) | ns |")
    L.append("|---|---|")
    for (kind, p), v in sorted(ring.items()):
        L.append(f"| {kind}, {p} producer(s) | {statistics.median(v):.1f} |")
if cg:
    L.append("")
    L.append("| instructions per event (callgrind) | caller | worker |")
    L.append("|---|---|---|")
    names = {"skylog-async": ("log_one_skylog", "worker_main"), "skylog-sync": ("log_one_skylog", None),
             "fprintf": ("log_one_fprintf", None), "spdlog-sync": ("log_one_spdlog", None)}
    for c, (cf, wf) in names.items():
        if (c, cf) in cg:
            w = f"{cg[(c, wf)]:.0f}" if wf and (c, wf) in cg else "-"
            L.append(f"| {c} | {cg[(c, cf)]:.0f} | {w} |")
text = "\n".join(L) + "\n"
open(out, "w").write(text)
print(text)
PY

# skylog ship of 1,000,000 lines to a local skylog serve (issue 6)
if [ -x "$B/skylog" ]; then
  echo "bench: skylog ship" >&2
  python3 "$(dirname "$0")/ship_bench.py" "$B" "${BENCH_SHIP_LINES:-1000000}" | tee "$OUT/ship.md"
fi
