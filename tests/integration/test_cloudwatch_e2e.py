"""End to end: the library's CloudWatch Logs sink and `skylog ship` against real servers.

- 200,000 events (1 B - 300 KB, unicode, invalid UTF-8) over two streams through a SigV4
  `skylog serve`, read back with the AWS CLI: every event exactly once, in order per stream,
  identical after UTF-8 repair (Python's decode(errors="replace") is the oracle).
- The same (smaller) under --faults with ~30 % of calls failing in mixed ways: nothing lost, in
  order, and any duplicate explained by a request whose answer was lost (counted "ambiguous").
- The same against moto's server, where moto is installed.
- `skylog ship` with too-old, too-new, empty, oversize and 25-hour-span input: counted as
  documented, and the exit status says something was not delivered.

SKYLOG_E2E_EVENTS overrides the 200,000 (for quick local runs).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import skyharness

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
EMIT = os.path.join(BUILD, "tests", "oracle", "cwl_emit")
EVENTS = int(os.environ.get("SKYLOG_E2E_EVENTS", "200000"))


def read_expected(path):
    out = {"a": [], "b": []}
    with open(path) as f:
        for line in f:
            stream, hexmsg = line.rstrip("\n").split(" ", 1)
            out[stream].append(bytes.fromhex(hexmsg).decode("utf-8", "replace"))
    return out


def emit(test, server_url, env, group, count, seed, mode="sync", flush_ms=None):
    tmp = tempfile.mkdtemp(prefix="cwl-emit-")
    expected = os.path.join(tmp, "expected.txt")
    env = dict(env, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=server_url)
    extra = [str(flush_ms)] if flush_ms else []
    p = subprocess.run([EMIT, group, str(count), str(seed), expected, mode, *extra], env=env,
                       capture_output=True, text=True, timeout=1800)
    test.assertEqual(p.returncode, 0, p.stderr[-3000:])
    stats = json.loads(p.stdout.strip().splitlines()[-1])
    exp = read_expected(expected)
    os.unlink(expected)
    os.rmdir(tmp)
    return stats, exp


def greedy_requests(messages, max_bytes=1048576, max_events=10000):
    """Requests needed when every batch is the longest prefix within the PutLogEvents limits
    (sizes counted as AWS does: UTF-8 bytes + 26 per event)."""
    requests, size, count = 0, 0, 0
    for m in messages:
        cost = len(m.encode()) + 26
        if count and (size + cost > max_bytes or count == max_events):
            requests += 1
            size, count = 0, 0
        size += cost
        count += 1
    return requests + (1 if count else 0)


def read_back_cli(test, server, group, stream):
    """All messages of a stream, oldest first, through the AWS CLI (it follows nextToken)."""
    out = skyharness.aws(test, server, "logs", "filter-log-events", "--log-group-name", group,
                         "--log-stream-names", stream, timeout=1800)
    return [e["message"] for e in out.get("events", [])]


def stored_messages(server, group, stream):
    r = skyharness.logs_call(server, "GetLogEvents", {"logGroupName": group,
                                                      "logStreamName": stream,
                                                      "startFromHead": True})
    return [e["message"] for e in r.json.get("events", [])] if r.status == 200 else []


def wait_until(cond, what, timeout=120):
    """Polls cond() until true. The deadline is generous: it is there so that a bug cannot hang
    the suite, never to judge speed."""
    deadline = time.monotonic() + timeout * skyharness.timeout_scale()
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(os.path.exists(EMIT), "cwl_emit not built (set SKYLOG_BUILD_DIR)")
class LibraryToServe(unittest.TestCase):
    def test_events_exactly_once_in_order(self):
        srv = skyharness.start_server(self, auth="sigv4")
        # async pipeline: callers -> ring -> worker -> the sink's queue -> sender. The flush
        # interval is longer than the run, so a batch leaves only when it is full (or at the
        # final flush): the backlog is certain whatever the machine's speed, and so is the fill.
        stats, exp = emit(self, srv.url, skyharness.aws_env(srv), "/e2e/clean", EVENTS, 11,
                          mode="async", flush_ms=3600 * 1000)
        self.assertEqual(stats["flush"], "ok", stats)
        self.assertEqual(stats["sent"], EVENTS, stats)
        self.assertEqual(stats["rejected"] + stats["dropped"], 0, stats)
        for stream in ("a", "b"):
            got = read_back_cli(self, srv, "/e2e/clean", stream)
            self.assertEqual(len(got), len(exp[stream]), f"stream {stream}")
            for i, (g, e) in enumerate(zip(got, exp[stream])):
                if g != e:
                    self.fail(f"stream {stream} event {i}: {g[:80]!r} != {e[:80]!r}")
        # under backlog every batch is as full as the limits allow: exactly the requests of a
        # longest-prefix packing of each stream (1,048,576 bytes as UTF-8 + 26, 10,000 events)
        want = sum(greedy_requests(exp[stream]) for stream in ("a", "b"))
        self.assertEqual(stats["requests"], want, stats)

    def test_faults_lose_nothing(self):
        n = min(EVENTS, 30000)
        srv = skyharness.start_server(
            self, auth="sigv4",
            extra_args=["--faults", "throttle=0.1,error=0.1,reset=0.05,reset_after=0.05",
                        "--seed", "7"])
        stats, exp = emit(self, srv.url, skyharness.aws_env(srv), "/e2e/faults", n, 12)
        self.assertEqual(stats["flush"], "ok", stats)
        self.assertEqual(stats["rejected"] + stats["dropped"], 0, stats)
        self.assertGreater(stats["retries"], 0, "the faults did not happen")
        self.assertGreater(stats["throttles"], 0, stats)
        srv.extra_args = []  # read back from the same data without faults
        srv.restart()
        duplicates = 0
        for stream in ("a", "b"):
            got = read_back_cli(self, srv, "/e2e/faults", stream)
            # every expected event is there, in order; extra copies only next to a retry
            j = 0
            for e in exp[stream]:
                self.assertLess(j, len(got), f"stream {stream}: events missing")
                while got[j] != e:
                    duplicates += 1
                    j += 1
                    self.assertLess(j, len(got), f"stream {stream}: {e[:60]!r} missing")
                j += 1
            duplicates += len(got) - j
        if stats["ambiguous"] == 0:
            self.assertEqual(duplicates, 0)
        else:
            # each ambiguous request can duplicate at most one batch
            self.assertLessEqual(duplicates, stats["ambiguous"] * 10000)

    def test_against_moto(self):
        try:
            import moto  # noqa: F401
            import boto3
        except ImportError:
            self.skipTest("moto/boto3 are not installed")
        port = free_port()
        env = skyharness.aws_env()
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                 str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=env)
        self.addCleanup(lambda: (proc.terminate(), proc.wait(20)))
        url = f"http://127.0.0.1:{port}"

        def listening():
            if proc.poll() is not None:
                self.fail(f"moto.server exited with {proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
                return True
            except OSError:
                return False
        # a Python server that imports boto and Flask first: seconds on a loaded machine
        wait_until(listening, "moto.server listening")
        n = min(EVENTS, 5000)
        stats, exp = emit(self, url, env, "/e2e/moto", n, 13)
        self.assertEqual(stats["sent"], n, stats)
        logs = boto3.client("logs", endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id="x", aws_secret_access_key="y")
        for stream in ("a", "b"):
            got, token = [], None
            while True:
                kw = {"logGroupName": "/e2e/moto", "logStreamName": stream,
                      "startFromHead": True}
                if token:
                    kw["nextToken"] = token
                r = logs.get_log_events(**kw)
                got += [e["message"] for e in r["events"]]
                if not r["events"] or r["nextForwardToken"] == token:
                    break
                token = r["nextForwardToken"]
            self.assertEqual(got, exp[stream])


class Ship(unittest.TestCase):
    def ship(self, srv, *args, input_text=None):
        cmd = [skyharness.skylog_bin(), "ship", "--endpoint", srv.url, *args]
        return subprocess.run(cmd, input=input_text, capture_output=True, text=True,
                              timeout=300, env=skyharness.aws_env(srv))

    def test_limits_and_accounting(self):
        srv = skyharness.start_server(self, auth="sigv4")
        now = skyharness.now_ms()
        day = 24 * 3600 * 1000
        lines = [
            json.dumps({"timestamp": now - 15 * day, "message": "too old"}),
            json.dumps({"timestamp": now + 3 * 3600 * 1000, "message": "too new"}),
            "",
            json.dumps({"time": (now - 25 * 3600 * 1000) / 1000.0, "message": "25 h ago (s)"}),
            json.dumps({"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now / 1000)),
                        "message": "now, ISO"}),
            "x" * 3000,
            "plain text line",
        ]
        p = self.ship(srv, "--group", "/ship/limits", "--stream", "s", "--max-event-bytes",
                      "1026", "--oversize", "truncate", input_text="\n".join(lines) + "\n")
        self.assertEqual(p.returncode, 1, p.stderr)  # two events were rejected
        self.assertIn("6 events read, 4 sent", p.stderr)
        self.assertIn("rejected too_old: 1", p.stderr)
        self.assertIn("rejected too_new: 1", p.stderr)
        self.assertIn("1 empty lines skipped", p.stderr)
        out = skyharness.aws(self, srv, "logs", "get-log-events", "--log-group-name",
                             "/ship/limits", "--log-stream-name", "s", "--start-from-head")
        msgs = [e["message"] for e in out["events"]]
        self.assertEqual(len(msgs), 4)
        # the 25-hour-old event went in its own request (span), oldest first
        self.assertIn("25 h ago", msgs[0])
        truncated = [m for m in msgs if m.startswith("xxx")][0]
        self.assertTrue(truncated.endswith("bytes]"))
        self.assertLessEqual(len(truncated.encode()) + 26, 1026)
        # issue 11: truncation is counted in the summary like drops, with the bytes cut
        kept = len(truncated) - len(truncated[truncated.index("...[truncated"):])
        self.assertTrue(truncated.endswith(f"...[truncated {3000 - kept} bytes]"), truncated)
        self.assertIn(f"truncated: 1 ({3000 - kept} bytes cut)", p.stderr)
        self.assertEqual(out["events"][0]["timestamp"], now - 25 * 3600 * 1000)

    def test_one_refused_event_costs_only_itself(self):
        # issue 11: the server refuses whole requests for events over its own limit (naming
        # none); the shipper does not know that limit: the request is halved until the
        # refused events are alone, the rest delivered in order, the refused counted
        srv = skyharness.start_server(self, auth="sigv4", extra_args=["--max-event-bytes", "1000"])
        lines = ["big " + "y" * 3000 if i in (3, 11) else f"line {i}" for i in range(20)]
        p = self.ship(srv, "--group", "/ship/refused", "--stream", "s",
                      input_text="\n".join(lines) + "\n")
        self.assertEqual(p.returncode, 1, p.stderr)  # two events were not delivered
        self.assertIn("20 events read, 18 sent", p.stderr)
        self.assertIn("rejected invalid: 2", p.stderr)
        self.assertEqual(p.stderr.count("refused one event, the others were delivered"), 2,
                         p.stderr)
        out = skyharness.aws(self, srv, "logs", "get-log-events", "--log-group-name",
                             "/ship/refused", "--log-stream-name", "s", "--start-from-head")
        self.assertEqual([e["message"] for e in out["events"]],
                         [l for l in lines if not l.startswith("big")])

    def test_nul_byte_loses_no_other_line(self):
        # issue 11: `printf 'good 1\nbad \0 nul\ngood 3\n' | skylog ship` lost all three.
        # Whether the endpoint stores \u0000 or refuses it, the good lines are delivered.
        srv = skyharness.start_server(self, auth="sigv4")
        cmd = [skyharness.skylog_bin(), "ship", "--endpoint", srv.url, "--group", "/t/nul",
               "--stream", "s", "-"]
        p = subprocess.run(cmd, input=b"good 1\nbad \0 nul\ngood 3\n", capture_output=True,
                           timeout=300, env=skyharness.aws_env(srv))
        err = p.stderr.decode()
        out = skyharness.aws(self, srv, "logs", "get-log-events", "--log-group-name", "/t/nul",
                             "--log-stream-name", "s", "--start-from-head")
        msgs = [e["message"] for e in out["events"]]
        if len(msgs) == 3:  # stored as sent
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(msgs, ["good 1", "bad \0 nul", "good 3"])
        else:  # refused: only that line, counted and reported
            self.assertEqual(p.returncode, 1, err)
            self.assertEqual(msgs, ["good 1", "good 3"])
            self.assertIn("3 events read, 2 sent", err)
            self.assertIn("rejected invalid: 1", err)
            self.assertIn('message "bad \\u0000 nul"', err)

    def test_split_and_drop_policies(self):
        srv = skyharness.start_server(self)
        big = "é" * 2000 + "\n"  # 4000 bytes
        p = self.ship(srv, "--group", "/ship/split", "--stream", "s", "--max-event-bytes",
                      "1026", "--oversize", "split", input_text=big)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = skyharness.aws(self, srv, "logs", "get-log-events", "--log-group-name",
                             "/ship/split", "--log-stream-name", "s", "--start-from-head")
        parts = [e["message"] for e in out["events"]]
        self.assertGreaterEqual(len(parts), 4)
        body = "".join(m.split("] ", 1)[1] for m in parts)
        self.assertEqual(body, "é" * 2000)  # split on character boundaries, nothing lost
        # the documented marker: "[part I/N] ", I = 1..N
        self.assertEqual([m.split(" ", 2)[:2] for m in parts],
                         [["[part", f"{i}/{len(parts)}]"] for i in range(1, len(parts) + 1)])
        self.assertIn(f"1 events read, {len(parts)} sent", p.stderr)
        self.assertIn(f"split: 1 into {len(parts)} parts", p.stderr)
        p = self.ship(srv, "--group", "/ship/split", "--stream", "d", "--max-event-bytes",
                      "1026", "--oversize", "drop", input_text=big)
        self.assertEqual(p.returncode, 1)
        self.assertIn("dropped oversize: 1", p.stderr)

    def test_lines_across_reads(self):
        """ship reads large chunks and takes lines in place (cli/cmd_ship.c, drain): lines
        across chunk boundaries, one longer than a chunk (256 KiB), CRLF, empty lines and a
        last line without a newline arrive exactly as written, in order."""
        srv = skyharness.start_server(self)
        import random
        rnd = random.Random(5)
        lines = ["%d %s" % (i, "x" * rnd.randrange(0, 300)) for i in range(2000)]
        lines[700] = "long " + "y" * 300000
        lines[5] = "crlf\r"
        lines[6] = ""
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "in.log")
        with open(path, "w") as f:
            f.write("\n".join(lines))  # no newline after the last line
        p = self.ship(srv, "--group", "/ship/reads", "--stream", "s", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        want = [l.rstrip("\r") for l in lines if l]
        self.assertIn(f"{len(want)} events read, {len(want)} sent", p.stderr)
        self.assertIn("1 empty lines skipped", p.stderr)
        self.assertEqual(stored_messages(srv, "/ship/reads", "s"), want)

    def test_pipe_lines_go_as_they_come(self):
        """A line written to a pipe is shipped while the pipe stays open (reading does not
        wait for a full chunk), and the last line without a newline when it closes."""
        srv = skyharness.start_server(self)
        cmd = [skyharness.skylog_bin(), "ship", "--endpoint", srv.url, "--group", "/ship/pipe",
               "--stream", "s", "--flush-interval", "50", "-q", "-"]
        proc = subprocess.Popen(cmd, env=skyharness.aws_env(srv), stdin=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        stored = lambda: stored_messages(srv, "/ship/pipe", "s")
        proc.stdin.write(b"first\n")
        proc.stdin.flush()
        wait_until(lambda: stored() == ["first"], "first")
        proc.stdin.write(b"second\nthird")
        proc.stdin.close()
        self.assertEqual(proc.wait(120 * skyharness.timeout_scale()), 0, proc.stderr.read())
        self.assertEqual(stored(), ["first", "second", "third"])

    def test_files_follow_rotation_and_errors(self):
        srv = skyharness.start_server(self)
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
        path = os.path.join(d, "app.log")
        with open(path, "w") as f:
            f.write("one\ntwo\n")
        cmd = [skyharness.skylog_bin(), "ship", "--endpoint", srv.url, "--group", "/ship/follow",
               "--stream", "s", "--flush-interval", "50", "--follow", "-q", path]
        proc = subprocess.Popen(cmd, env=skyharness.aws_env(srv), stderr=subprocess.PIPE,
                                text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        # each step waits until the shipper has delivered what came before (not a fixed sleep:
        # on a loaded machine it may be late, and truncating unread data would lose it)
        want = ["one", "two"]
        stored = lambda: stored_messages(srv, "/ship/follow", "s")
        wait_until(lambda: stored() == want, "one, two")
        with open(path, "a") as f:
            f.write("three\n")
        want.append("three")
        wait_until(lambda: stored() == want, "three")
        os.rename(path, path + ".1")  # rotation
        with open(path + ".1", "a") as f:
            f.write("four (late write to the rotated file)\n")
        with open(path, "w") as f:
            f.write("five\n")
        want += ["four (late write to the rotated file)", "five"]
        wait_until(lambda: stored() == want, "four, five")
        with open(path, "w") as f:  # truncation
            f.write("six\n")
        want.append("six")
        wait_until(lambda: stored() == want, "six")
        proc.terminate()  # the way --follow stops: exit 143, as for any interrupted ship
        self.assertEqual(proc.wait(60 * skyharness.timeout_scale()), 143, proc.stderr.read())
        out = skyharness.aws(self, srv, "logs", "get-log-events", "--log-group-name",
                             "/ship/follow", "--log-stream-name", "s", "--start-from-head")
        msgs = [e["message"] for e in out["events"]]
        self.assertEqual(msgs, ["one", "two", "three", "four (late write to the rotated file)",
                                "five", "six"])
        # a missing file is an error before anything is sent; bad options exit 2
        p = self.ship(srv, "--group", "/ship/x", os.path.join(d, "missing.log"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("missing.log: No such file or directory", p.stderr)
        p = self.ship(srv, "--group", "bad group!", input_text="x\n")
        self.assertEqual(p.returncode, 2)  # a bad value of a flag, named by it
        self.assertIn("--group: cloudwatch: log_group 'bad group!' is invalid", p.stderr)
        p = self.ship(srv, input_text="x\n")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--group is required", p.stderr)

    def test_ingestion_transports(self):
        srv = skyharness.start_server(self, auth="sigv4", bearer_token="tok-123")
        lines = "".join(f"event {i} é\n" for i in range(500))
        for transport, extra in (("ndjson", []), ("otlp", []),
                                 ("ndjson", ["--bearer-token", "tok-123"]),
                                 ("otlp", ["--bearer-token", "tok-123"])):
            stream = f"{transport}-{'bearer' if extra else 'sigv4'}"
            p = self.ship(srv, "--group", "/ship/ingest", "--stream", stream, "--transport",
                          transport, *extra, input_text=lines)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("500 events read, 500 sent", p.stderr)
            out = skyharness.aws(self, srv, "logs", "filter-log-events", "--log-group-name",
                                 "/ship/ingest", "--log-stream-names", stream)
            self.assertEqual([e["message"] for e in out["events"]],
                             [f"event {i} é" for i in range(500)])
        p = self.ship(srv, "--group", "/ship/ingest", "--transport", "ndjson",
                      "--bearer-token", "wrong", input_text="x\n")
        self.assertEqual(p.returncode, 1)
        # a refused token cannot be fixed by waiting: said once, no 10 s stall
        self.assertIn("UnrecognizedClientException", p.stderr)
        self.assertIn("giving up: the error above cannot be fixed by waiting", p.stderr)
        self.assertIn("dropped undelivered: 1", p.stderr)

    def test_compressed_requests(self):
        srv = skyharness.start_server(self, auth="sigv4")
        lines = "".join(f"compressed {i} " + "x" * 200 + "\n" for i in range(3000))
        p = self.ship(srv, "--group", "/ship/gzip", "--stream", "s", "--compress",
                      input_text=lines)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = skyharness.aws(self, srv, "logs", "filter-log-events", "--log-group-name",
                             "/ship/gzip")
        self.assertEqual([e["message"] for e in out["events"]], lines.splitlines())

    def test_progress_on_a_terminal(self):
        if not shutil.which("script"):
            self.skipTest("script(1) is not installed (util-linux)")
        srv = skyharness.start_server(self)
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", d]))
        path = os.path.join(d, "in.log")
        with open(path, "w") as f:
            f.writelines(f"line {i}\n" for i in range(20000))
        cmd = " ".join([skyharness.skylog_bin(), "ship", "--endpoint", srv.url, "--group",
                        "/ship/tty", path])
        # script(1) gives ship a terminal, so it draws its progress bar there
        p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                           env=skyharness.aws_env(srv), timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("100%", p.stdout)
        self.assertIn("ev/s", p.stdout)
        self.assertIn("20000 events read, 20000 sent", p.stdout)

    def test_terminal_stdin_is_said(self):
        """`skylog ship --group G` with the FILE forgotten reads the terminal: it says so (and
        how to end), rather than look hung. A pipe or a file gets no such line."""
        import pty
        srv = skyharness.start_server(self)
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        proc = subprocess.Popen([skyharness.skylog_bin(), "ship", "--endpoint", srv.url,
                                 "--group", "/ship/terminal"], stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=skyharness.aws_env(srv))
        os.close(slave)
        os.write(master, b"typed by hand\n\x04")  # a line, then Ctrl-D
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("skylog ship: reading lines from the terminal (standard input); end with "
                      "Ctrl-D", err)
        self.assertIn("1 events read, 1 sent", err)
        p = self.ship(srv, "--group", "/ship/terminal", input_text="piped\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("terminal", p.stderr)

    def test_tail_follow(self):
        srv = skyharness.start_server(self)
        p = self.ship(srv, "--group", "/tail/f", "--stream", "s", input_text="before\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        cmd = [skyharness.skylog_bin(), "tail", "--endpoint", srv.url, "--group", "/tail/f",
               "--since", "1h", "--follow", "--output", "raw"]
        out_path = os.path.join(tempfile.mkdtemp(), "out.txt")
        out = open(out_path, "w")
        self.addCleanup(out.close)
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True,
                                env=skyharness.aws_env(srv))
        self.addCleanup(lambda: proc.poll() is None and proc.kill())

        def lines_out():
            out.flush()
            with open(out_path) as f:
                return f.read().splitlines()
        # each round waits until tail has printed what came before (not a fixed sleep)
        want = ["before"]
        wait_until(lambda: len(lines_out()) >= len(want), "the first event")
        for round_ in range(2):
            lines = "".join(f"r{round_}-{i}\n" for i in range(50))
            p = self.ship(srv, "--group", "/tail/f", "--stream", "s", input_text=lines)
            self.assertEqual(p.returncode, 0, p.stderr)
            want += [f"r{round_}-{i}" for i in range(50)]
            wait_until(lambda: len(lines_out()) >= len(want), f"round {round_}")
        proc.terminate()
        proc.wait(30 * skyharness.timeout_scale())
        self.assertEqual(sorted(lines_out()), sorted(want))  # each exactly once

    def test_tail_groups_streams(self):
        srv = skyharness.start_server(self)
        lines = [json.dumps({"level": "INFO", "message": "hello", "n": i}) for i in range(30)]
        lines.append(json.dumps({"level": "ERROR", "message": "boom", "ms": 250}))
        p = self.ship(srv, "--group", "/tail/g", "--stream", "s1",
                      input_text="\n".join(lines) + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        base = [skyharness.skylog_bin()]
        env = skyharness.aws_env(srv)
        run = lambda *a: subprocess.run(base + list(a) + ["--endpoint", srv.url],
                                        capture_output=True, text=True, env=env, timeout=120)
        t = run("tail", "--group", "/tail/g", "--since", "1h", "--output", "json")
        self.assertEqual(t.returncode, 0, t.stderr)
        evs = [json.loads(l) for l in t.stdout.splitlines()]
        self.assertEqual(len(evs), 31)
        self.assertEqual(json.loads(evs[0]["message"])["n"], 0)
        t = run("tail", "--group", "/tail/g", "--since", "1h", "--filter", "{ $.ms > 100 }",
                "--output", "pretty")
        self.assertEqual(t.stdout.count("\n"), 1)
        self.assertIn("ERROR    [root] boom ms=250", t.stdout)
        t = run("tail", "--group", "/tail/g", "--since", "1h", "--limit", "5", "--output", "raw")
        self.assertEqual(t.stdout.count("\n"), 5)
        g = run("groups", "--json")
        self.assertEqual([json.loads(l)["logGroupName"] for l in g.stdout.splitlines()],
                         ["/tail/g"])
        s = run("streams", "--group", "/tail/g")
        self.assertIn("s1", s.stdout)
        bad = run("tail", "--group", "/nope", "--since", "1h")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("ResourceNotFoundException", bad.stderr)
        bad = run("tail", "--group", "/tail/g", "--since", "yesterday-ish")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("cannot read the time", bad.stderr)


if __name__ == "__main__":
    unittest.main()
