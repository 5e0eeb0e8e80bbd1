#!/usr/bin/env bash
# Runs every benchmark candidate on the workloads of bench/workload.h and prints Markdown tables
# (also saved as <build>/bench-out/results.md). Every run's output file is checked by
# bench_check (line count, each line parsed as JSON, every value as logged); a run that fails
# its check stops the script. Usage: bench/run.sh build/bench
#   BENCH_EVENTS   events per run (default 1000000)
#   BENCH_REPS     repetitions per configuration; the median run is reported (default 3)
#   BENCH_CG       events for the callgrind runs (default 100000; 0 skips callgrind)
#   BENCH_WORKLOADS  (default "lit rt ctx bound scope mix mixn")
set -euo pipefail
B=${1:-build/bench}
EVENTS=${BENCH_EVENTS:-1000000}
REPS=${BENCH_REPS:-3}
CG=${BENCH_CG:-100000}
WORKLOADS=${BENCH_WORKLOADS:-lit rt ctx bound scope mix mixn}
mkdir -p "$B/bench-out"
OUT=$(cd "$B/bench-out" && pwd) # absolute: the callgrind figures are annotated from /
RAW=$OUT/raw.txt
: > "$RAW"
C=$B/bench/bench_c
S=$B/bench/bench_spdlog
K=$B/bench/bench_check
[ -x "$C" ] || { echo "run.sh: $C not built (cmake --preset bench)" >&2; exit 1; }
[ -x "$K" ] || { echo "run.sh: $K not built" >&2; exit 1; }

run() { # cand workload threads mode events
  local bin=$C
  case $1 in spdlog-*) bin=$S ;; esac
  "$bin" "$1" "$2" "$3" "$4" "$5" "$OUT/$1.log" | grep '^RESULT' >> "$RAW"
  if [ "$4" != disabled ]; then
    "$K" "$2" "$5" "$OUT/$1.log" >/dev/null ||
      { echo "run.sh: $1 $2 $3 $4: output check failed" >&2; exit 1; }
    echo "CHECKED $1 $2 $3 $4" >> "$RAW"
  fi
}

echo "bench: workloads {$WORKLOADS} x {1,4} producers x $REPS runs, $EVENTS events each" >&2
for wl in $WORKLOADS; do
  cands=(skylog-async)
  [ -x "$S" ] && cands+=(spdlog-sync)
  if [ "$wl" = lit ]; then
    cands+=(skylog-sync fprintf)
    [ -x "$S" ] && cands+=(spdlog-async)
  fi
  for threads in 1 4; do
    for cand in "${cands[@]}"; do
      for ((r = 0; r < REPS; r++)); do run "$cand" "$wl" "$threads" burst "$EVENTS"; done
      if [ "$cand" = skylog-async ] && [ "$wl" = lit -o "$wl" = rt ]; then
        for ((r = 0; r < REPS; r++)); do run "$cand" "$wl" "$threads" paced "$EVENTS"; done
      fi
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
for ((r = 0; r < REPS; r++)); do run skylog-async lit 1 disabled 100000000; done

# instructions per event, noise-free (valgrind serialises threads)
if [ "$CG" -gt 0 ] && command -v valgrind >/dev/null; then
  cg() { # bin cand workload fn...
    local bin=$1 cand=$2 wl=$3; shift 3
    local prof=$OUT/cg.$cand.$wl
    valgrind --tool=callgrind --callgrind-out-file="$prof" "$bin" "$cand" "$wl" 1 callgrind \
      "$CG" "$OUT/cg.log" >/dev/null 2>&1
    "$K" "$wl" "$CG" "$OUT/cg.log" >/dev/null ||
      { echo "run.sh: callgrind $cand $wl: output check failed" >&2; exit 1; }
    for fn in "$@"; do
      local ir
      # awk reads to the end: exiting early could kill callgrind_annotate with SIGPIPE, which
      # pipefail turns into the end of this script (seen with the large C++ profile of spdlog).
      # Annotated from /, where every file name stays absolute: from the source tree,
      # callgrind_annotate shortens them and its inclusive cost of worker_main then leaves out
      # the code inlined into it from other headers (30 instructions an rt event).
      ir=$(cd / && callgrind_annotate --inclusive=yes "$prof" 2>/dev/null |
           awk -v f=":$fn " '!done && index($0, f) { gsub(",", "", $1); print $1; done = 1 }')
      echo "CG $cand $wl $fn ${ir:-0} $CG" >> "$RAW"
    done
  }
  echo "bench: callgrind runs ($CG events)" >&2
  for wl in $WORKLOADS; do
    cg "$C" skylog-async "$wl" "log_$wl" worker_main
    case $wl in mix | mixn) # the benchmark's own part of log_$wl (bench_c.c: log_mix_drv)
      valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.driver.$wl" "$C" skylog-async "$wl" \
        1 driver "$CG" "$OUT/cg.log" >/dev/null 2>&1
      ir=$(cd / && callgrind_annotate --inclusive=yes "$OUT/cg.driver.$wl" 2>/dev/null |
           awk -v f=":log_${wl}_drv " '!done && index($0, f) { gsub(",", "", $1); print $1; done = 1 }')
      echo "CG driver $wl log_${wl}_drv ${ir:-0} $CG" >> "$RAW" ;;
    esac
    [ -x "$S" ] && cg "$S" spdlog-sync "$wl" \
      "log_$(case $wl in bound | scope) echo ctx ;; mixn) echo mix ;; *) echo "$wl" ;; esac)"
  done
  cg "$C" skylog-sync lit log_lit
  cg "$C" fprintf lit log_fprintf
fi

python3 - "$RAW" "$OUT/results.md" <<'PY'
import sys, statistics
raw, out = sys.argv[1], sys.argv[2]
runs, cg, ring, checked = {}, {}, {}, 0
for line in open(raw):
    f = line.split()
    if f[0] == "RESULT":
        cand, wl, th, mode = f[1], f[2], int(f[3]), f[4]
        runs.setdefault((cand, wl, th, mode), []).append(
            dict(events=int(f[5]), wall=int(f[6]), eps=float(f[7]), p50=float(f[8]),
                 p99=float(f[9]), rss=int(f[10])))
    elif f[0] == "CHECKED":
        checked += 1
    elif f[0] == "RING":
        ring.setdefault((f[1], int(f[2])), []).append(float(f[3]))
    elif f[0] == "CG":
        cg[(f[1], f[2], f[3])] = int(f[4]) / int(f[5])
def med(rs, key):
    rs = sorted(rs, key=lambda r: r[key])
    return rs[len(rs) // 2]
wls = []
for (_, w, _, _) in runs:
    if w not in wls:
        wls.append(w)
L = ["| workload | candidate | producers | end-to-end events/s (burst, until closed) | vs spdlog sync | burst ns/call p50 / p99 | paced ns/call p50 / p99 | peak RSS MiB |",
     "|---|---|---|---|---|---|---|---|"]
for w in wls:
    for th in (1, 4):
        sp = runs.get(("spdlog-sync", w, th, "burst"))
        spe = med(sp, "eps")["eps"] if sp else None
        for (c, w2, th2, mode), rs in runs.items():
            if w2 != w or th2 != th or mode != "burst":
                continue
            bm = med(rs, "eps")
            p = runs.get((c, w, th, "paced"))
            pt = f"{med(p, 'p50')['p50']:.1f} / {med(p, 'p50')['p99']:.1f}" if p else "-"
            ratio = f"{bm['eps'] / spe:.2f}x" if spe and c != "spdlog-sync" else "-"
            rss = max([r["rss"] for r in rs] + [r["rss"] for r in (p or [])]) / 1024
            L.append(f"| {w} | {c} | {th} | {bm['eps']/1e6:.2f} M | {ratio} | {bm['p50']:.1f} / {bm['p99']:.1f} | {pt} | {rss:.1f} |")
L.append("")
L.append(f"Every run's output checked by bench_check: {checked} runs.")
d = runs.get(("skylog-async", "lit", 1, "disabled"))
if d:
    L.append(f"Disabled level (DEBUG call on an INFO logger, 100M calls incl. the benchmark's call): "
             f"{med(d, 'p50')['p50']:.2f} ns/call")
if ring:
    L.append("")
    L.append("| ring alone: reserve + fill + commit of a 192-byte record (median) | ns |")
    L.append("|---|---|")
    for (kind, p), v in sorted(ring.items()):
        L.append(f"| {kind}, {p} producer(s) | {statistics.median(v):.1f} |")
if cg:
    L.append("")
    L.append("| instructions per event (callgrind) | workload | caller | caller net of the benchmark's driver | worker |")
    L.append("|---|---|---|---|---|")
    for (c, w, fn), v in cg.items():
        if fn == "worker_main" or c == "driver":
            continue
        wk = cg.get((c, w, "worker_main"))
        drv = cg.get(("driver", w, f"log_{w}_drv")) if c == "skylog-async" else None
        net = f"{v - drv:.0f} (driver {drv:.0f})" if drv else "-"
        L.append(f"| {c} | {w} | {v:.0f} | {net} | {wk:.0f} |" if wk else f"| {c} | {w} | {v:.0f} | {net} | - |")
text = "\n".join(L) + "\n"
open(out, "w").write(text)
print(text)
PY

# skylog ship of issue 13's 500,000 realistic lines to a local HTTPS skylog serve, clean and
# with faults (bench/ship_bench.py); BENCH_SHIP_LINES=0 skips it
if [ -x "$B/skylog" ] && [ "${BENCH_SHIP_LINES:-500000}" != 0 ]; then
  echo "bench: skylog ship" >&2
  python3 "$(dirname "$0")/ship_bench.py" "$B" "${BENCH_SHIP_LINES:-500000}" --floor | tee "$OUT/ship.md"
fi
