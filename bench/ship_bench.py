#!/usr/bin/env python3
"""`skylog ship` of a 1,000,000-line file to a local `skylog serve`: events/s, CPU seconds per
event and peak RSS of the shipper (issue 6's targets: <= 0.5 us CPU per event, RSS <= 16 MiB).

    python3 bench/ship_bench.py build/bench [LINES]

The lines are JSON events like the library writes (~130 bytes). The server runs with
--auth none but the shipper still signs every request (SigV4 hashes the whole body), as it
would against AWS. CPU and RSS are the shipper's own (getrusage of the child), not the server's.
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

build = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
lines = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
skylog = os.path.join(build, "skylog")

with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "in.jsonl")
    t0 = int(time.time() * 1000)
    with open(path, "w") as f:
        for i in range(lines):
            f.write(json.dumps({"timestamp": t0 + i // 1000, "level": "INFO", "logger": "bench",
                                "message": "user_login", "user": "alice", "id": i,
                                "ms": 1.5}) + "\n")
    srv = subprocess.Popen([skylog, "serve", "--port", "0", "--data", os.path.join(d, "data"),
                            "--auth", "none"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True)
    try:
        url = srv.stdout.readline().strip()
        env = dict(os.environ, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                   AWS_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        p = subprocess.run([skylog, "ship", "-q", "--endpoint", url, "--group", "/bench/ship",
                            "--stream", "s", path], env=env)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        srv.terminate()
        srv.wait()
    if p.returncode != 0:
        sys.exit(f"ship failed with {p.returncode}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"| ship | {lines:,} lines | {lines / wall / 1e6:.2f} M ev/s wall ({wall:.2f} s, "
          f"server-bound) | {cpu:.2f} s CPU = {cpu / lines * 1e6:.2f} us/event | "
          f"peak RSS {after.ru_maxrss / 1024:.1f} MiB |")
