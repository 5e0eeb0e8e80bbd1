#!/usr/bin/env python3
"""`skylog ship` of realistic log lines to a local HTTPS `skylog serve` (SigV4): CPU per event
and per input byte, peak RSS, requests and batch fill of the shipper, clean and under faults
(issue 13, "Shipping": <= 3 ns CPU per input byte, RSS <= 16 MiB with TLS, fill >= 99 %).

    python3 bench/ship_bench.py [BUILD] [LINES] [--reps N] [--http] [--no-faults]
                                [--faults SPEC] [--compare BUILD2 ...] [--keep FILE]
                                [--profile CMD] [--checkpoint] [--server BUILD] [--floor]

BUILD defaults to build/bench, LINES to 500,000. The input is generated with a fixed seed:
lines of 80-400 bytes (JSON application events full of quotes and escaped JSON inside JSON,
access-log text lines, some UTF-8 text), ~1.5 % multi-KB lines (stack traces), ~1 % with invalid
UTF-8; ~300 bytes a line on average. The server is `skylog serve --tls-cert` with SigV4 auth;
the shipper trusts its self-signed certificate through AWS_CA_BUNDLE. Each configuration runs
--reps times (default 3) and every run is printed; the table row gives the median and range.
--compare runs other build trees too, each repetition of each build right after the others'
(interleaved: on a shared machine, builds measured minutes apart are not comparable); each
build's server is its own.

CPU is the shipper's own user + system time (wait4() of the child: what it cost, whatever else
the machine was doing); RSS is its peak (VmHWM, sampled every 20 ms until it exits). Requests
are the PutLogEvents calls that succeeded, as the shipper's summary line says. Fill = the fewest
requests that could carry the data (Σ UTF-8 bytes + 26 per event, over 1,048,576; 10,000
events) / the requests made. Load is the machine's 1-minute load average (uptime) at the start
and end of the run: on a shared machine, CPU times of runs under different loads differ.

Every run is checked: exit status 0, every line sent, none rejected or dropped, and what the
server stored (its SQLite database, read after it stopped) is exactly the input: each line's
message (invalid UTF-8 replaced as the shipper does: U+FFFD per maximal ill-formed subpart,
as Python's "replace") stored once. A line stored twice is a failure unless the shipper
counted requests with an unknown outcome ("ambiguous": answered by a dropped connection after
the server stored them, the fault reset_after), and then the copies are reported.

The faults are serve's (--faults, server/faults.c): by default 10 % throttling, 10 % 5xx and
5 % connection resets before processing, issue 13's mix; --faults SPEC picks another (e.g.
reset_after=0.05 to see ambiguous requests counted).

--server BUILD runs every build's shipper against BUILD's `skylog serve` (default: each build's
own). An old tree (e.g. wave 1's, whose serve and ship differ) is then measured against the same
server as today's: `--compare /tmp/wave1/build/bench --server build/bench`.

Every run prints a machine reference before and after the measurements, so that figures taken
on different days (this guest's speed varies from day to day) can be put side by side: the rates
of what the shipper's CPU goes to, measured the same way each time - libcrypto's SHA-256 and
AES-128/256-GCM (`openssl speed -evp`, 16 KiB blocks, the best of 2 one-second runs), memcpy
(64 MiB: memory; 256 KiB: caches; the best of 5) and the CPU of sending over loopback TCP in 16 KiB writes (TLS record
sized, as libssl writes) per byte, with the load. The reference is a scale, not a target:
compare a figure with the reference of its own run.

--floor prints, after the table, each build's floor: the CPU per input byte that the work any
shipper of this input must do costs by itself on this machine now - SHA-256 of every request
body (SigV4), AES-256-GCM of it (TLS), sending it over loopback TCP (the reference's rates,
the better of the two), reading the input (256 KiB read()s of the same file), and the start-up
(a one-line ship of the same build, best of 3). The bodies' size is computed from the lines
(their JSON: escaped messages and each event's timestamp). The median clean run minus the
floor is the shipper's own work (lines, UTF-8, queue, batches, escaping) plus what the load
adds: the part a change to skylog can move.

--checkpoint (issue 16) adds, for every build and workload, a run of the same command with
`--checkpoint FILE` (a new file each run), interleaved with the run without it, and checks that
the checkpoint left says the input was read and acknowledged to its end ("complete", the
offset at the input's size, every line acknowledged).
"""
import collections
import json
import hashlib
import sqlite3
import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MAX_BATCH = 1048576


def make_lines(n, seed=1):
    """Realistic lines as bytes (no newline). Deterministic for a seed."""
    rnd = random.Random(seed)
    t0 = int(time.time() * 1000) - 600_000
    paths = ["/v1/orders", "/v1/users/%d", "/api/cart/items", "/health", "/v2/search?q=%s",
             "/static/app.%x.js", "/v1/payments/%d/capture"]
    words = ("alpha beta gamma delta order user cart item payment retry timeout cache miss hit "
             "queue worker shard replica leader follower commit abort").split()
    uas = ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0',
           'curl/8.5.0', 'python-requests/2.31.0', 'Go-http-client/1.1']
    unicode_bits = ["café", "naïve", "Grüße", "日本語のテキスト", "Ωmega", "😀 ok", "Łódź"]

    def text(k):
        return " ".join(rnd.choice(words) for _ in range(k))

    def path():
        p = rnd.choice(paths)
        if "%d" in p:
            p = p % rnd.randrange(1, 10**6)
        elif "%s" in p:
            p = p % rnd.choice(words)
        elif "%x" in p:
            p = p % rnd.randrange(1 << 32)
        return p

    out = []
    for i in range(n):
        ts = t0 + i // 2
        r = rnd.random()
        if r < 0.015:  # a stack trace: multi-KB, JSON with escaped newlines and quotes
            frames = "\n".join(f'  File "/srv/app/{rnd.choice(words)}.py", line {rnd.randrange(999)}, '
                               f'in {rnd.choice(words)}\n    {text(6)}("{rnd.choice(words)}")'
                               for _ in range(rnd.randrange(15, 60)))
            line = ('{"timestamp":%d,"level":"ERROR","logger":"app.worker","message":"unhandled '
                    'exception","exc":"Traceback (most recent call last):\\n%s"}' %
                    (ts, frames.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")))
        elif r < 0.30:  # an access log line (text, quotes)
            line = ('10.%d.%d.%d - - [07/Dec/2026:03:%02d:%02d +0000] "GET %s HTTP/1.1" %d %d '
                    '"https://shop.example.com%s" "%s"' %
                    (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256), rnd.randrange(60),
                     rnd.randrange(60), path(), rnd.choice([200, 200, 200, 304, 404, 500]),
                     rnd.randrange(100, 99999), path(), rnd.choice(uas)))
        elif r < 0.40:  # a short text line from a program's stderr
            line = "%s worker-%d: %s" % (rnd.choice(["INFO", "WARN", "DEBUG"]), rnd.randrange(16),
                                        text(rnd.randrange(10, 30)))
            if rnd.random() < 0.3:
                line += " " + rnd.choice(unicode_bits)
        else:  # a JSON application event, some with JSON inside JSON (quotes everywhere)
            inner = ('{"id":%d,"items":[{"sku":"%s","qty":%d},{"sku":"%s","qty":%d}],"note":"%s"}' %
                     (rnd.randrange(10**9), rnd.choice(words), rnd.randrange(9), rnd.choice(words),
                      rnd.randrange(9), text(rnd.randrange(4, 14))))
            fields = ['"timestamp":%d' % ts, '"level":"%s"' % rnd.choice(["INFO", "INFO", "WARN"]),
                      '"logger":"api.%s"' % rnd.choice(words),
                      '"message":"%s %s"' % (rnd.choice(["GET", "POST", "PUT"]), path()),
                      '"status":%d' % rnd.choice([200, 201, 400, 404, 500]),
                      '"ms":%.3f' % rnd.expovariate(0.05),
                      '"user":"%s"' % rnd.choice(["alice", "bob", "carol@example.com", "Zoë"])]
            if rnd.random() < 0.75:
                fields.append('"request":"%s"' % inner.replace('"', '\\"'))
            if rnd.random() < 0.5:
                fields.append('"ua":"%s"' % rnd.choice(uas))
            line = "{" + ",".join(fields) + "}"
        b = line.encode()
        if rnd.random() < 0.01:  # invalid UTF-8: a stray byte, a truncated sequence
            k = rnd.randrange(len(b) // 2, len(b))  # after the timestamp
            b = b[:k] + rnd.choice([b"\xff", b"\xc3", b"\xe2\x82", b"\x80\x80"]) + b[k:]
        out.append(b)
    return out


def fewest_requests(lines):
    size = sum(len(l.decode("utf-8", "replace").encode()) + 26 for l in lines)
    return max(-(-size // MAX_BATCH), -(-len(lines) // 10000))


def openssl_rate(alg):
    """GB/s of `openssl speed -evp ALG` on 16 KiB blocks (best of 2 one-second runs)."""
    best = 0.0
    for _ in range(2):
        try:
            out = subprocess.run(["openssl", "speed", "-seconds", "1", "-bytes", "16384", "-evp",
                                  alg], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        m = re.search(r"^\S+\s+([\d.]+)k\s*$", out.strip().splitlines()[-1] if out.strip() else "")
        if m:
            best = max(best, float(m.group(1)) * 1000 / 1e9)
    return best or None


def memcpy_rate(n, times):
    """GB/s of copying n bytes between two buffers already faulted in, `times` times in a row
    (best of 5): 64 MiB measures memory, 256 KiB the caches (the shipper's read chunk)."""
    src, dst = bytearray(b"x" * n), bytearray(n)
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(times):
            dst[:] = src
        best = max(best, n * times / (time.perf_counter() - t) / 1e9)
    return best


def loopback_cpu():
    """CPU ns per byte of sending 64 MiB over loopback TCP in 16 KiB writes (the sender's
    thread time; on loopback the receiving softirq runs in the sender's system time, as for the
    shipper). Best of 3."""
    import socket
    import threading
    best = None
    for _ in range(3):
        ls = socket.socket()
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        cs = socket.create_connection(ls.getsockname())
        ss, _ = ls.accept()
        n, chunk = 64 << 20, b"y" * 16384

        def drain():
            buf = bytearray(1 << 20)
            got = 0
            while got < n:
                k = ss.recv_into(buf)
                if not k:
                    break
                got += k
        th = threading.Thread(target=drain)
        th.start()
        t = time.thread_time()
        for _ in range(n // len(chunk)):
            cs.sendall(chunk)
        cpu = time.thread_time() - t
        th.join()
        for s in (cs, ss, ls):
            s.close()
        best = cpu if best is None else min(best, cpu)
    return best / n * 1e9


def read_cpu(path):
    """CPU ns per byte of reading the file in 256 KiB read()s into one buffer, as the shipper
    reads its input (best of 3; the file is in the page cache)."""
    buf = bytearray(256 << 10)
    best = None
    for _ in range(3):
        with open(path, "rb", buffering=0) as f:
            t = time.thread_time()
            n = 0
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                n += k
            cpu = time.thread_time() - t
        best = cpu if best is None else min(best, cpu)
    return best / max(n, 1) * 1e9


def body_bytes(lines):
    """The bytes of the PutLogEvents bodies that carry `lines` (the events' JSON, the requests'
    own few bytes left out): what SigV4 hashes and TLS encrypts and sends."""
    per_event = len('{"timestamp":1234567890123,"message":},')
    return sum(len(json.dumps(l.decode("utf-8", "replace"), ensure_ascii=False).encode()) +
               per_event for l in lines)


def machine_reference(rates=None):
    """One line: the rates this run's figures are to be read against (see the docstring).
    `rates`, a dict, receives them (GB/s; loopback in ns/byte) for floor()."""
    load0 = os.getloadavg()[0]
    r = {alg: openssl_rate(alg) for alg in ("sha256", "aes-128-gcm", "aes-256-gcm")}
    mem, cache, lo = memcpy_rate(64 << 20, 1), memcpy_rate(256 << 10, 200), loopback_cpu()
    if rates is not None:
        rates.update(r, loopback=lo)
    fmt = lambda v: f"{v:.2f}" if v else "n/a"
    return (f"machine reference: SHA-256 {fmt(r['sha256'])} GB/s, AES-128-GCM "
            f"{fmt(r['aes-128-gcm'])} GB/s, AES-256-GCM {fmt(r['aes-256-gcm'])} GB/s (openssl "
            f"speed -evp, 16 KiB), memcpy {mem:.1f} GB/s (64 MiB) {cache:.1f} GB/s (256 KiB), loopback TCP send {lo:.3f} ns CPU/byte "
            f"(16 KiB writes); load {load0:.1f}-{os.getloadavg()[0]:.1f}; {platform_line()}")


def platform_line():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    model = l.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Linux {os.uname().release}, " \
           f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


SUMMARY = re.compile(r"(\d+) events read, (\d+) sent in (\d+) requests \((\d+) retries, "
                     r"(\d+) throttled\), (\d+) rejected, (\d+) dropped")


def digest(b):
    return hashlib.blake2b(b, digest_size=8).digest()


def stored_digests(data):
    """The messages the server stored, as a Counter of digests of their UTF-8 bytes."""
    db = sqlite3.connect(f"file:{os.path.join(data, 'serve.db')}?mode=ro", uri=True)
    try:
        return collections.Counter(digest(m) for (m,) in
                                   db.execute("SELECT CAST(message AS BLOB) FROM events"))
    finally:
        db.close()


def check_stored(expected, stored, ambiguous):
    """'exact', or 'N duplicates (A ambiguous requests)'; exits on a loss or an unexplained
    duplicate."""
    missing = expected - stored
    extra = stored - expected
    if missing:
        sys.exit(f"the server is missing {sum(missing.values())} of the lines")
    dups = sum(extra.values())
    if dups and not ambiguous:
        sys.exit(f"{dups} lines stored twice without an ambiguous request")
    return "exact" if not dups else f"{dups} duplicates ({ambiguous} ambiguous requests)"


def run_once(skylog, d, path, n_lines, input_bytes, fewest, tls, faults, group, expected,
             profile=None, checkpoint=False, server=None):
    data = os.path.join(d, "data-" + group.strip("/").replace("/", "-"))
    args = [server or skylog, "serve", "--port", "0", "--data", data, "--auth", "sigv4",
            "--access-key", "bench", "--secret-key", "benchsecret"]
    if tls:
        args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    if faults:
        args += ["--faults", faults, "--seed", "3"]
    srv = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = srv.stdout.readline().strip()
        if not url:
            sys.exit("serve did not start")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="benchsecret",
                   AWS_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        if tls:
            env["AWS_CA_BUNDLE"] = tls[0]
        cmd = [skylog, "ship", "--endpoint", url, "--group", group, "--stream", "s", path]
        ckpt = os.path.join(d, "ship.ckpt")
        if checkpoint:
            for f in (ckpt, ckpt + ".tmp"):
                if os.path.exists(f):
                    os.unlink(f)
            cmd[2:2] = ["--checkpoint", ckpt]
        if profile:
            cmd = profile.split() + cmd
        errpath = os.path.join(d, "ship.err")
        load0 = os.getloadavg()[0]
        start = time.monotonic()
        pid = os.posix_spawnp(cmd[0], cmd, env, file_actions=[
            (os.POSIX_SPAWN_OPEN, 2, errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)])
        # Peak RSS from VmHWM, the high-water mark of the shipper's own address space, read
        # until it exits: wait4()'s ru_maxrss would report this Python process's peak instead,
        # as the kernel carries the parent's mark into a spawned child across exec.
        hwm = 0
        while True:
            done, status, ru = os.wait4(pid, os.WNOHANG)
            if done:
                break
            try:
                with open(f"/proc/{pid}/status") as f:
                    for l in f:
                        if l.startswith("VmHWM:"):
                            hwm = max(hwm, int(l.split()[1]))
            except OSError:
                pass
            time.sleep(0.02)
        wall = time.monotonic() - start
        load1 = os.getloadavg()[0]
        with open(errpath) as f:
            err = f.read()
        srv.terminate()
        srv.wait()
        rc = os.waitstatus_to_exitcode(status)
        m = SUMMARY.search(err)
        if rc != 0 or not m:
            sys.exit(f"ship failed ({rc}):\n{err[-3000:]}")
        read, sent, requests, retries, throttled, rejected, dropped = map(int, m.groups())
        if read != n_lines or sent != n_lines or rejected or dropped:
            sys.exit(f"ship did not deliver every line exactly:\n{err[-3000:]}")
        am = re.search(r"(\d+) requests had an unknown outcome", err)
        ambiguous = int(am.group(1)) if am else 0
        exact = check_stored(expected, stored_digests(data), ambiguous)
        if checkpoint:
            with open(ckpt) as f:
                cp = json.load(f)
            if not (cp.get("complete") and cp["input"]["offset"] == input_bytes and
                    cp["input"]["line"] == n_lines and cp["events_acknowledged"] == n_lines):
                sys.exit(f"the checkpoint does not say the input was shipped to its end: {cp}")
    finally:
        if srv.poll() is None:
            srv.terminate()
            srv.wait()
        shutil.rmtree(data, ignore_errors=True)
    cpu = ru.ru_utime + ru.ru_stime
    return dict(cpu=cpu, user=ru.ru_utime, sys=ru.ru_stime, wall=wall, rss=hwm / 1024,
                us_ev=cpu / n_lines * 1e6, ns_b=cpu / input_bytes * 1e9, requests=requests,
                retries=retries, throttled=throttled, fill=fewest / requests,
                ambiguous=ambiguous, exact=exact, load=(load0, load1))


def floor(builds, d, lines, path, input_bytes, tls, server, rates0, rates1):
    """{build: (ns per input byte, text)}: what the work every shipper of this input must do
    costs by itself on this machine now - SHA-256 of every body (SigV4's payload hash), AES-GCM
    of every body (TLS 1.3; AES-256-GCM, what `skylog serve` negotiates), sending it over
    loopback TCP, reading the input, and the start-up (a one-line ship of the same build: exec,
    loading libssl and libcrypto, the TLS handshakes, the control calls). The best of the two
    machine references: a lower bound. What a run costs above it is the shipper's own work
    (lines, UTF-8, queue, batches, JSON escaping, the body) and what the load adds."""
    best = lambda k, f: f(v for v in (rates0.get(k), rates1.get(k)) if v)
    sha, aes, lo = best("sha256", max), best("aes-256-gcm", max), best("loopback", min)
    body = body_bytes(lines)
    ratio = body / input_bytes
    rd = read_cpu(path)
    one = os.path.join(d, "one.log")
    with open(one, "wb") as f:
        f.write(lines[0] + b"\n")
    want = collections.Counter([digest(lines[0].decode("utf-8", "replace").encode())])
    out = {}
    for b in builds:
        start = min(run_once(os.path.join(b, "skylog"), d, one, 1, len(lines[0]) + 1, 1, tls, None,
                             f"/bench/one{k}", want, server=server)["cpu"] for k in range(3))
        parts = [("SHA-256", ratio / sha), ("AES-256-GCM", ratio / aes), ("loopback TCP", ratio * lo),
                 ("reading", rd), ("start-up", start / input_bytes * 1e9)]
        total = sum(v for _, v in parts)
        out[b] = (total, f"{total:.2f} ns per input byte = " +
                  " + ".join(f"{name} {v:.2f}" for name, v in parts) +
                  f" (bodies {body:,} bytes, {ratio:.2f}x the input; a one-line ship "
                  f"{start * 1000:.0f} ms of CPU)")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build/bench")
    ap.add_argument("lines", nargs="?", type=int, default=500_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    ap.add_argument("--no-faults", action="store_true", help="skip the run with faults")
    ap.add_argument("--faults", default="throttle=0.1,error=0.1,reset=0.05",
                    help="serve's fault spec for the run with faults (issue 13's mix)")
    ap.add_argument("--compare", nargs="+", default=[], metavar="BUILD",
                    help="other build trees, run interleaved with BUILD")
    ap.add_argument("--keep", help="also write the generated input to this file")
    ap.add_argument("--profile", help="prefix the ship command (e.g. 'perf record -g -o F')")
    ap.add_argument("--checkpoint", action="store_true",
                    help="also run each configuration with --checkpoint FILE, interleaved")
    ap.add_argument("--server", metavar="BUILD",
                    help="every build ships to this build's skylog serve (default: its own)")
    ap.add_argument("--no-reference", action="store_true",
                    help="skip the machine reference (openssl speed, memcpy, loopback TCP)")
    ap.add_argument("--floor", action="store_true",
                    help="also print each build's floor: the CPU per input byte that SHA-256, "
                         "AES-GCM, loopback TCP, reading and start-up alone cost (HTTPS)")
    a = ap.parse_args()
    if a.lines < 1:
        ap.error("lines must be at least 1")
    builds = [a.build] + a.compare
    with tempfile.TemporaryDirectory(prefix="shipbench-") as d:
        lines = make_lines(a.lines)
        path = os.path.join(d, "in.log")
        with open(path, "wb") as f:
            for l in lines:
                f.write(l + b"\n")
        if a.keep:
            shutil.copy(path, a.keep)
        input_bytes = os.path.getsize(path)
        fewest = fewest_requests(lines)
        expected = collections.Counter(digest(l.decode("utf-8", "replace").encode())
                                       for l in lines)
        if not a.http and not shutil.which("openssl"):
            print("ship_bench: no openssl command to make a certificate: plain HTTP",
                  file=sys.stderr)
            a.http = True
        tls = None if a.http else make_cert(d)
        print(f"input: {a.lines:,} lines, {input_bytes:,} bytes ({input_bytes / a.lines:.0f} B/line), "
              f"fewest requests {fewest}; {'HTTP' if a.http else 'HTTPS'}, SigV4", file=sys.stderr)
        server = os.path.join(a.server, "skylog") if a.server else None
        rates0, rates1 = {}, {}
        ref0 = None if a.no_reference else machine_reference(rates0)
        if ref0:
            print(ref0, file=sys.stderr)
        rows = []
        variants = [False, True] if a.checkpoint else [False]
        for faults in ([None] if a.no_faults else [None, a.faults]):
            runs = {(b, c): [] for b in builds for c in variants}
            for r in range(a.reps):
                for b, c in [(b, c) for b in builds for c in variants]:
                    res = run_once(os.path.join(b, "skylog"), d, path, a.lines, input_bytes, fewest,
                                   tls, faults, f"/bench/ship{r}{'f' if faults else ''}{'c' if c else ''}",
                                   expected, a.profile, c, server)
                    runs[(b, c)].append(res)
                    print(f"  {b}{' --checkpoint' if c else ''}: {'faults' if faults else 'clean '} run {r + 1}: cpu {res['cpu']:.2f} s "
                          f"(user {res['user']:.2f}, sys {res['sys']:.2f}), wall {res['wall']:.1f} s, "
                          f"{res['us_ev']:.2f} us/event, {res['ns_b']:.2f} ns/byte, RSS "
                          f"{res['rss']:.1f} MiB, {res['requests']} requests ({res['retries']} retries, "
                          f"{res['throttled']} throttled), fill {res['fill'] * 100:.1f} %, "
                          f"stored: {res['exact']}, load {res['load'][0]:.1f}-{res['load'][1]:.1f}",
                          file=sys.stderr)
            rows += [(b, faults, c, runs[(b, c)]) for b in builds for c in variants]
        ref1 = None if a.no_reference else machine_reference(rates1)
        if ref1:
            print(ref1, file=sys.stderr)
        floors = {}
        if ref0 and not a.http and a.floor:
            floors = floor(builds, d, lines, path, input_bytes, tls, server, rates0, rates1)
        print(f"{'HTTPS' if not a.http else 'HTTP'}, SigV4; server: "
              f"{a.server + '/skylog serve' if a.server else 'each build its own skylog serve'}")
        if ref0:
            print(f"before: {ref0}\nafter:  {ref1}\n")
        print("| build | workload | CPU µs/event | CPU ns/byte | peak RSS MiB | requests (retries) | fill "
              "| stored | load |")
        print("|---|---|---|---|---|---|---|---|---|")
        for build, faults, ckpt, runs in rows:
            med = lambda k: statistics.median(r[k] for r in runs)
            rng = lambda k, f: f"{f % med(k)} ({f % min(r[k] for r in runs)}-{f % max(r[k] for r in runs)})"
            name = (faults if faults else "clean") + (", HTTP" if a.http else ", HTTPS") + \
                (", --checkpoint" if ckpt else "")
            exact = "exact" if all(r["exact"] == "exact" for r in runs) else \
                "; ".join(r["exact"] for r in runs)
            loads = [x for r in runs for x in r["load"]]
            print(f"| {build} | {a.lines:,} lines, {name} | {rng('us_ev', '%.2f')} | {rng('ns_b', '%.2f')} | "
                  f"{rng('rss', '%.1f')} | {med('requests'):.0f} ({med('retries'):.0f}) | "
                  f"{med('fill') * 100:.1f} % | {exact} | {min(loads):.1f}-{max(loads):.1f} |")
        for build, (fl, text) in floors.items():
            clean = [r for b, faults, c, runs in rows if b == build and not faults and not c
                     for r in runs]
            above = (f"; the clean runs' median {statistics.median(r['ns_b'] for r in clean):.2f}"
                     f" is {statistics.median(r['ns_b'] for r in clean) - fl:.2f} above it"
                     if clean else "")
            print(f"\nfloor, {build}: {text}{above}")


if __name__ == "__main__":
    main()
