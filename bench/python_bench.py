#!/usr/bin/env python3
"""python_bench - the same records through Python logging handlers (issue 18):

  skylog      skylog.CloudWatchLogHandler -> `skylog serve` (PutLogEvents over HTTP)
  watchtower  watchtower.CloudWatchLogHandler -> `skylog serve` (skipped when not installed)
  file-json   logging.FileHandler with a JSON formatter (json.dumps of the same fields)

Each candidate runs in its own process; the record is logger.info("order %d placed", i,
extra={"order_id": i, "user": "ann", "total": 12.5}). Measured in that process:
  app_us      wall time of the logging calls alone, per record (what the application waits)
  app_cpu_us  CPU time of the logging thread during those calls, per record
  proc_cpu_us CPU time of the whole process (every thread: skylog's sender, watchtower's
              queue thread) from the first call to everything delivered, per record
  rss_mib     peak RSS of the process
  delivered   events the endpoint stored (read back from skylog serve), or lines in the file
The endpoint's own CPU is not counted. Needs the skylog package installed in this python
(pip install --no-build-isolation --no-index ./python) and the `skylog` binary.

Usage: python3 bench/python_bench.py --skylog-bin build/release/skylog [--records 200000]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = r'''
import json, logging, os, resource, sys, time
cand, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log = logging.getLogger("bench")
log.propagate = False
log.setLevel(logging.INFO)
if cand == "skylog":
    import skylog
    # structured: skylog's JSON event with the extra fields, the work the figures measured
    h = skylog.CloudWatchLogHandler(log_group_name="/bench/py", log_stream_name="skylog",
                                    send_interval=1, structured=True)
elif cand == "watchtower":
    import boto3, watchtower
    h = watchtower.CloudWatchLogHandler(log_group_name="/bench/py", log_stream_name="watchtower",
                                        send_interval=1, boto3_client=boto3.client("logs"))
else:
    class Json(logging.Formatter):
        def format(self, r):
            d = {"timestamp": self.formatTime(r), "level": r.levelname, "logger": r.name,
                 "message": r.getMessage(), "module": r.module, "func": r.funcName,
                 "line": r.lineno, "order_id": r.order_id, "user": r.user, "total": r.total}
            return json.dumps(d)
    h = logging.FileHandler(out)
    h.setFormatter(Json())
log.addHandler(h)
cpu0 = time.process_time()
t0, c0 = time.perf_counter(), time.thread_time()
for i in range(n):
    log.info("order %d placed", i, extra={"order_id": i, "user": "ann", "total": 12.5})
t1, c1 = time.perf_counter(), time.thread_time()
h.flush()
h.close()
cpu1 = time.process_time()
print(json.dumps({"app_s": t1 - t0, "app_cpu_s": c1 - c0, "proc_cpu_s": cpu1 - cpu0,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
'''


def count_stream(env, url, stream):
    import boto3
    logs = boto3.client("logs", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    n, token = 0, None
    while True:
        kw = {"logGroupName": "/bench/py", "logStreamName": stream, "startFromHead": True,
              "limit": 10000}
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        n += len(r["events"])
        if not r["events"] or r["nextForwardToken"] == token:
            return n
        token = r["nextForwardToken"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skylog-bin", required=True)
    ap.add_argument("--records", type=int, default=200000)
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    import skyharness

    os.environ["SKYLOG_BIN"] = os.path.abspath(a.skylog_bin)
    srv = skyharness.Server(verbose=False)
    srv.start()
    rows = []
    try:
        env = skyharness.endpoint_env(srv)
        with tempfile.TemporaryDirectory() as d:
            for cand in ("skylog", "watchtower", "file-json"):
                if cand == "watchtower":
                    try:
                        import watchtower  # noqa: F401
                    except ImportError:
                        rows.append((cand, None, "skipped: watchtower is not installed"))
                        continue
                out = os.path.join(d, cand + ".jsonl")
                p = subprocess.run([sys.executable, "-c", CHILD, cand, str(a.records), out],
                                   env=env, capture_output=True, text=True, timeout=3600)
                if p.returncode != 0:
                    rows.append((cand, None, "failed: " + p.stderr[-500:]))
                    continue
                m = json.loads(p.stdout.strip().splitlines()[-1])
                if cand == "file-json":
                    with open(out) as f:
                        m["delivered"] = sum(1 for _ in f)
                else:
                    m["delivered"] = count_stream(env, srv.url, cand)
                rows.append((cand, m, ""))
    finally:
        srv.cleanup()
    n = a.records
    print(f"| handler | app wall us/record | app CPU us/record | process CPU us/record "
          f"| peak RSS MiB | delivered of {n} |")
    print("|---|---|---|---|---|---|")
    for cand, m, note in rows:
        if m is None:
            print(f"| {cand} | {note} | | | | |")
            continue
        print(f"| {cand} | {m['app_s'] / n * 1e6:.2f} | {m['app_cpu_s'] / n * 1e6:.2f} "
              f"| {m['proc_cpu_s'] / n * 1e6:.2f} | {m['rss_kib'] / 1024:.1f} "
              f"| {m['delivered']} |")


if __name__ == "__main__":
    main()
