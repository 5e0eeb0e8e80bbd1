"""`skylog ship --checkpoint --resume` is exactly once: after SIGKILL at any point, Ctrl-C, a
batch stored without its acknowledgement reaching ship, rotation and truncation under
--follow, the stream holds every line once, in order (docs/CLI.md, "Exactly once").

Nothing here depends on timing: the kill points are wherever the (seeded) random delays land,
and every assertion is on exact contents. The one case a random kill rarely hits - a batch the
service stored whose answer never arrived - is made on purpose by a proxy that forwards one
PutLogEvents to `skylog serve` and withholds the answer.
"""

import http.client
import http.server
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import skyharness
from test_ship_interrupt import open_fifo, read_to_end, wait_for


M64 = (1 << 64) - 1


def _mix(h, w):
    h ^= (w * 0x9FB21C651E98DF25) & M64
    h = (((h << 29) | (h >> 35)) & M64) * 0x94D049BB133111EB & M64
    return h


def _finish(h, b):
    for i in range(0, len(b) - len(b) % 8, 8):
        h = _mix(h, int.from_bytes(b[i:i + 8], "little"))
    if len(b) % 8:
        h = _mix(h, int.from_bytes(b[len(b) - len(b) % 8:].ljust(8, b"\0"), "little"))
    h ^= h >> 32
    h = h * 0xD6E8FEB86659FD93 & M64
    return h ^ (h >> 32)


def ship_hash_v2(b):
    """A checkpoint's anchor hash, version 2 (cli/ship_checkpoint.c)."""
    return _finish(0x243F6A8885A308D3 ^ len(b), b)


def ship_hash(b):
    """Version 3: four chains of 8 bytes over 32-byte steps, then as version 2."""
    k = 0x9FB21C651E98DF25
    lanes = [0x243F6A8885A308D3 ^ len(b), 0x13198A2E03707344, 0xA4093822299F31D0,
             0x082EFA98EC4E6C89]
    n = len(b) - len(b) % 32
    for i in range(0, n, 32):
        for j in range(4):
            x = (lanes[j] ^ int.from_bytes(b[i + 8 * j:i + 8 * j + 8], "little")) * k & M64
            lanes[j] = ((x << 31) | (x >> 33)) & M64
    h = _mix(_mix(_mix(lanes[0], lanes[1]), lanes[2]), lanes[3])
    return _finish(h, b[n:])


class Stored:
    """Reads a stream back through boto3 (faster than the aws CLI for polling)."""

    def __init__(self, test, srv):
        self.logs = skyharness.boto3_client(test, srv, "logs")

    def messages(self, group, stream):
        out, token = [], None
        while True:
            kw = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
            if token:
                kw["nextToken"] = token
            try:
                r = self.logs.get_log_events(**kw)
            except self.logs.exceptions.ResourceNotFoundException:
                return []
            out += [e["message"] for e in r["events"]]
            if not r["events"] or r["nextForwardToken"] == token:
                return out
            token = r["nextForwardToken"]

    def streams(self, group):
        try:
            return [s["logStreamName"] for s in
                    self.logs.describe_log_streams(logGroupName=group)["logStreams"]]
        except self.logs.exceptions.ResourceNotFoundException:
            return []


class WithholdingProxy:
    """Forwards everything to `target`; the `hold_at`-th PutLogEvents that the server accepts
    is stored but its answer withheld, and later ones are neither forwarded nor answered: ship
    sees that batch in flight forever, as when it is killed at that moment."""

    def __init__(self, target_port, hold_at, deny_reads=False):
        self.target_port, self.hold_at, self.deny_reads = target_port, hold_at, deny_reads
        self.sizes = []  # events of each PutLogEvents stored
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.holding = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                put = self.headers.get("X-Amz-Target", "").endswith("PutLogEvents")
                if proxy.deny_reads and self.headers.get("X-Amz-Target", "").endswith(
                        "GetLogEvents"):
                    data = json.dumps({"__type": "AccessDeniedException",
                                       "message": "not authorized: logs:GetLogEvents"}).encode()
                    self.send_response(400)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if put and proxy.holding.is_set():
                    proxy.release.wait()  # after the held one: not forwarded, not answered
                    self.close_connection = True
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.target_port, timeout=60)
                conn.putrequest("POST", self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    conn.putheader(k, v)
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if put and resp.status == 200:
                    with proxy.lock:
                        proxy.sizes.append(len(json.loads(body)["logEvents"]))
                        hold = len(proxy.sizes) == proxy.hold_at
                        if hold:
                            proxy.holding.set()
                    if hold:
                        proxy.release.wait()  # stored, never answered
                        self.close_connection = True
                        return
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class ShipExactlyOnce(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="skyexact-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.dir]))
        self.srv = skyharness.start_server(self)
        self.env = skyharness.aws_env(self.srv)
        self.stored = Stored(self, self.srv)
        self.cp = os.path.join(self.dir, "cp.json")

    def ship_args(self, url, group, *args):
        return [skyharness.skylog_bin(), "ship", "--endpoint", url, "--group", group,
                "--checkpoint", self.cp, "--resume", *args]

    def start(self, url, group, *args):
        proc = subprocess.Popen(self.ship_args(url, group, *args), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def run_ship(self, group, *args, expect=0):
        p = subprocess.run(self.ship_args(self.srv.url, group, *args), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, env=self.env,
                           timeout=300 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, expect, p.stderr)
        return p

    def write_lines(self, path, lines, mode="w"):
        with open(path, mode) as f:
            f.writelines(l + "\n" for l in lines)

    def checkpoint(self):
        with open(self.cp) as f:
            return json.load(f)

    def test_batch_stored_without_acknowledgement_is_not_sent_again(self):
        path = os.path.join(self.dir, "app.log")
        # JSON lines carrying their own time, in order
        now = skyharness.now_ms()
        lines = [json.dumps({"ts": now - 3000 + i, "i": i, "pad": "x" * (i % 17)})
                 for i in range(3000)]
        self.write_lines(path, lines)
        proxy = WithholdingProxy(self.srv.port, hold_at=3)
        self.addCleanup(proxy.stop)
        proc = self.start(proxy.url, "/exact/held", "--stream", "s", "--batch-size", "500",
                          "--flush-interval", "20", path)
        # two batches answered, the third stored but unanswered
        wait_for(lambda: len(proxy.sizes) == 3, "three PutLogEvents")
        acked, held = sum(proxy.sizes[:2]), proxy.sizes[2]
        wait_for(lambda: len(self.stored.messages("/exact/held", "s")) == acked + held,
                 "the third batch stored")
        wait_for(lambda: self.checkpoint()["input"]["line"] == acked, "the checkpoint")
        # killed (unless it gave up already: no answer for 10 s; the state is the same)
        proc.kill()
        proc.wait()
        self.assertEqual(self.checkpoint()["input"]["line"], acked)  # the 3rd is not in it
        p = self.run_ship("/exact/held", "--stream", "s", path)
        self.assertIn(f"{held} events were stored after the checkpoint", p.stderr)
        self.assertIn(f"{held} lines were already stored (settled, not sent again)", p.stderr)
        rest = 3000 - acked - held
        self.assertIn(f"{rest} events read, {rest} sent", p.stderr)
        self.assertEqual(self.stored.messages("/exact/held", "s"), lines)
        c = self.checkpoint()
        self.assertTrue(c["complete"])
        self.assertEqual(c["input"]["line"], 3000)

    def test_reading_denied_ships_at_least_once(self):
        # a role that may write but not read: ship says what it cannot promise and ships
        path = os.path.join(self.dir, "app.log")
        lines = [f"denied {i}" for i in range(50)]
        self.write_lines(path, lines)
        proxy = WithholdingProxy(self.srv.port, hold_at=10 ** 9, deny_reads=True)
        self.addCleanup(proxy.stop)
        p = subprocess.run(self.ship_args(proxy.url, "/exact/denied", "--stream", "d", path),
                           capture_output=True, text=True, env=self.env,
                           timeout=120 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("GetLogEvents is denied", p.stderr)
        self.assertEqual(self.stored.messages("/exact/denied", "d"), lines)
        c = self.checkpoint()
        self.assertTrue(c["complete"])
        self.assertIsNone(c["tail"])

    def test_random_sigkills_then_exact(self):
        rng = random.Random(16)
        path = os.path.join(self.dir, "big.log")
        # lines stamped when read, some repeated (the same text, often the same millisecond)
        lines = ["the same line" if i % 7 == 0 else f"line {i}" for i in range(20000)]
        group = "/exact/kills"
        args = ("--stream", "k", "--batch-size", "700", "--flush-interval", "10", path)
        # Eight runs, each killed: the file grows by a part before each, and with --follow a
        # run never ends by itself, so every kill lands however fast the build is; where it
        # lands (mid-batch, mid-checkpoint, idle) is up to the random delay.
        parts = [lines[i * 2500:(i + 1) * 2500] for i in range(8)]
        for part in parts:
            before = len(self.stored.messages(group, "k"))
            self.write_lines(path, part, mode="a")
            proc = self.start(self.srv.url, group, "--follow", *args)
            # let it store something (so every run makes progress), then kill it anywhere
            wait_for(lambda: len(self.stored.messages(group, "k")) > before or
                     proc.poll() is not None, "progress")
            time.sleep(rng.uniform(0, 0.3))
            self.assertIsNone(proc.poll(), proc.stderr.read() if proc.poll() is not None else "")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self.run_ship(group, *args)
        got = self.stored.messages(group, "k")
        # exact: none lost, none twice, in order
        self.assertEqual(len(got), len(lines))
        self.assertEqual(got, lines)

    def test_ctrl_c_resumes_into_the_same_timestamped_stream(self):
        rfd, wfd = open_fifo(self, os.path.join(self.dir, "fifo"))
        first = [f"first {i}" for i in range(200)]
        # the default stream template has the time in seconds: a rerun resolves another name
        proc = subprocess.Popen(self.ship_args(self.srv.url, "/exact/ctrlc", "--flush-interval",
                                               "20"), stdin=rfd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        os.close(rfd)
        os.write(wfd, ("\n".join(first) + "\n").encode())
        wait_for(lambda: self.stored.streams("/exact/ctrlc") and
                 len(self.stored.messages("/exact/ctrlc",
                                          self.stored.streams("/exact/ctrlc")[0])) == 200,
                 "200 stored")
        stream = self.stored.streams("/exact/ctrlc")[0]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
        self.assertEqual(proc.returncode, 130, err)
        c = self.checkpoint()
        self.assertEqual(c["stream"], stream)
        self.assertIsNone(c["stream_template"])
        time.sleep(1.1)  # the template now expands to another second
        more = [f"more {i}" for i in range(100)]
        p = subprocess.run(self.ship_args(self.srv.url, "/exact/ctrlc"),
                           input="\n".join(first + more) + "\n", capture_output=True,
                           text=True, env=self.env, timeout=120 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.stored.streams("/exact/ctrlc"), [stream])
        self.assertEqual(self.stored.messages("/exact/ctrlc", stream), first + more)

    def test_a_checkpoint_behind_the_stream_is_settled_exactly(self):
        # While lines are read, the checkpoint is rewritten once 10,000 more events are
        # acknowledged or a second has passed (docs/CLI.md), so a run killed while reading may
        # have stored thousands of events its checkpoint does not include. Here reading stops
        # on a full queue behind a batch stored whose answer never comes (the proxy), which
        # is where a kill leaves the most behind; the resume skips exactly those lines.
        path = os.path.join(self.dir, "app.log")
        group, n = "/exact/lag", 40000
        lines = [f"lagging {i}" for i in range(n)]
        self.write_lines(path, lines)
        proxy = WithholdingProxy(self.srv.port, hold_at=15)
        self.addCleanup(proxy.stop)
        args = ("--stream", "p", "--batch-size", "1000", "--flush-interval", "10", path)
        proc = self.start(proxy.url, group, *args)
        wait_for(lambda: len(proxy.sizes) == 15, "15 PutLogEvents", timeout=180)
        # a batch leaves full, or after the 10 ms flush interval when reading is slower (a
        # sanitizer build): what 15 batches hold is what the proxy counted, not 15 x 1000
        held = sum(proxy.sizes)
        wait_for(lambda: len(self.stored.messages(group, "p")) == held, "15 batches stored")
        proc.kill()
        proc.wait()
        behind = held - self.checkpoint()["input"]["line"]
        p = self.run_ship(group, *args)
        self.assertIn(f"{behind} lines were already stored (settled, not sent again)", p.stderr)
        self.assertIn(f"{n - held} events read, {n - held} sent", p.stderr)
        self.assertEqual(self.stored.messages(group, "p"), lines)
        self.assertTrue(self.checkpoint()["complete"])

    def test_a_pipe_that_waits_leaves_the_checkpoint_up_to_date(self):
        # reading waits on a pipe: what is acknowledged meanwhile reaches the checkpoint
        rfd, wfd = open_fifo(self, os.path.join(self.dir, "fifo"))
        group, n = "/exact/pipe", 24000
        lines = [f"piped {i}" for i in range(n)]
        args = ("--stream", "p", "--batch-size", "1000", "--flush-interval", "10")
        proc = subprocess.Popen(self.ship_args(self.srv.url, group, *args), stdin=rfd,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        os.close(rfd)
        os.write(wfd, ("\n".join(lines) + "\n").encode())
        wait_for(lambda: self.checkpoint()["input"]["line"] == n, "the checkpoint at the end",
                 timeout=180)
        self.assertEqual(len(self.stored.messages(group, "p")), n)
        proc.kill()
        proc.wait()
        p = subprocess.run(self.ship_args(self.srv.url, group, *args),
                           input="\n".join(lines) + "\n", capture_output=True, text=True,
                           env=self.env, timeout=120 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("0 events read, 0 sent", p.stderr)
        self.assertEqual(self.stored.messages(group, "p"), lines)

    def test_a_version_2_checkpoint_is_resumed_exactly(self):
        # version 3 changed the anchor's hash; a version 2 checkpoint (written by an earlier
        # skylog) is settled with its own hash, and the run goes on writing version 2
        path = os.path.join(self.dir, "app.log")
        group = "/exact/v2"
        lines = [f"v2 line {i} " + "x" * (i % 70) for i in range(2000)]
        self.write_lines(path, lines[:1000])
        self.run_ship(group, "--stream", "s", path)
        c = self.checkpoint()
        self.assertEqual(c["skylog_ship_checkpoint"], 3)
        by_hash = {format(ship_hash(l.encode()), "016x"): l for l in lines[:1000]}
        self.assertTrue(c["tail"])
        for e in c["tail"]:
            e[1] = format(ship_hash_v2(by_hash[e[1]].encode()), "016x")
        c["skylog_ship_checkpoint"] = 2
        with open(self.cp, "w") as f:
            json.dump(c, f)
        # stored after the checkpoint without it knowing: as a killed run leaves them
        extra = os.path.join(self.dir, "extra.log")
        self.write_lines(extra, lines[1000:1300])
        p = subprocess.run([skyharness.skylog_bin(), "ship", "--endpoint", self.srv.url,
                            "--group", group, "--stream", "s", extra], capture_output=True,
                           text=True, env=self.env, timeout=120 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.write_lines(path, lines)
        p = self.run_ship(group, "--stream", "s", path)
        self.assertIn("300 lines were already stored (settled, not sent again)", p.stderr)
        self.assertIn("700 events read, 700 sent", p.stderr)
        self.assertEqual(self.stored.messages(group, "s"), lines)
        c = self.checkpoint()
        self.assertEqual(c["skylog_ship_checkpoint"], 2)
        self.assertTrue(c["complete"])
        last = lines[-len(c["tail"]):]
        self.assertEqual([e[1] for e in c["tail"]],
                         [format(ship_hash_v2(l.encode()), "016x") for l in last])

    def test_follow_across_rotation_and_truncation_with_kills(self):
        path = os.path.join(self.dir, "app.log")
        group = "/exact/follow"
        expected = [f"a {i}" for i in range(100)]
        self.write_lines(path, expected)
        args = ("--stream", "f", "--flush-interval", "20", "--follow", path)

        def at_end_of_path():
            # the checkpoint is at the end of the file now at `path` (not an earlier run's)
            with open(path, "rb") as f:
                lines = f.read().count(b"\n")
            c = self.checkpoint()["input"]
            return c.get("ino") == os.stat(path).st_ino and c["line"] == lines

        def wait_stored(proc, n):
            # a ship that exited (a refusal) fails here with what it said, not at the bound
            wait_for(lambda: len(self.stored.messages(group, "f")) == n or
                     proc.poll() is not None, f"{n} stored")
            if proc.poll() is not None:
                self.fail(f"ship exited with {proc.returncode}: {proc.stderr.read()}")

        def run_until(n, sig):
            proc = self.start(self.srv.url, group, *args)
            wait_stored(proc, n)
            # The kill comes once this run's checkpoint has reached the end of the file: the
            # truncation below is only seen as one against a checkpoint on this file. (Killed
            # before, the checkpoint is the run before's, on the rotated file: the resume then
            # finds 30 stored events that are no longer lines of any input, and rightly
            # refuses to guess - what happened under TSan on a loaded machine, where "a
            # checkpoint" was satisfied by the previous run's.)
            wait_for(at_end_of_path, "the checkpoint at the end of the file")
            proc.send_signal(sig)
            proc.wait(timeout=60 * skyharness.timeout_scale())
            return proc

        run_until(100, signal.SIGKILL)
        # while ship is down: more lines, then the file is rotated and a new one started
        more = [f"b {i}" for i in range(50)]
        self.write_lines(path, more, "a")
        os.rename(path, path + ".1")
        new = [f"c {i}" for i in range(30)]
        self.write_lines(path, new)
        expected += more + new
        # resumed: the rotated file is finished (found by its inode), then the new one
        run_until(len(expected), signal.SIGKILL)
        # truncated while ship is down: the new content is shipped from its start
        with open(path, "w") as f:
            f.write("d 0\nd 1\n")
        expected += ["d 0", "d 1"]
        proc = self.start(self.srv.url, group, *args)
        wait_stored(proc, len(expected))
        # rotation while it runs, then Ctrl-C, then a resume that finds nothing new
        os.rename(path, path + ".2")
        self.write_lines(path, ["e 0", "e 1", "e 2"])
        expected += ["e 0", "e 1", "e 2"]
        wait_stored(proc, len(expected))
        # the acknowledgement reaches the checkpoint (within a second when idle), so the resume
        # below starts at the end (a checkpoint behind would be settled: stored lines are
        # skipped either way)
        wait_for(at_end_of_path, "the checkpoint at e 2")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
        self.assertEqual(proc.returncode, 130, err)
        self.assertEqual(self.stored.messages(group, "f"), expected)
        p = self.start(self.srv.url, group, *args)
        # following the file at its end (it opens it after its SIGINT handler is in place);
        # anything it would send again is sent, or in flight and flushed by the SIGINT
        wait_for(lambda: read_to_end(p, path), "ship following at the end")
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual(self.stored.messages(group, "f"), expected)

    def test_a_stream_that_does_not_match_is_refused(self):
        path = os.path.join(self.dir, "app.log")
        lines = [f"line {i}" for i in range(100)]
        self.write_lines(path, lines)
        self.run_ship("/exact/other", "--stream", "o", path)
        # the checkpoint is taken back to line 50 (as a kill would leave it), and another
        # writer adds to the stream: its events are not the next lines of the file
        c = self.checkpoint()
        self.stored.logs.put_log_events(logGroupName="/exact/other", logStreamName="o",
                                        logEvents=[{"timestamp": skyharness.now_ms(),
                                                    "message": "someone else"}])
        p = self.run_ship("/exact/other", "--stream", "o", path)  # complete: nothing to do
        self.assertIn("0 events read", p.stderr)
        self.assertIn("1 events stored after the checkpoint are not lines of the input",
                      p.stderr)
        c2 = self.checkpoint()
        self.assertEqual(c2["input"], c["input"])
        # a checkpoint whose anchor is gone from the stream's tail: refused, nothing sent
        c["tail"] = [[1, "0123456789abcdef", 1, 0]]
        c["input"]["offset"], c["input"]["line"], c["complete"] = 0, 0, False
        with open(self.cp, "w") as f:
            json.dump(c, f)
        p = self.run_ship("/exact/other", "--stream", "o", path, expect=1)
        self.assertIn("cannot settle the last batch", p.stderr)
        self.assertEqual(len(self.stored.messages("/exact/other", "o")), 101)
        # a stream that holds, after the anchor, events that are not the file's next lines
        # (the file was rewritten in place)
        c["tail"] = []
        with open(self.cp, "w") as f:
            json.dump(c, f)
        self.write_lines(path, [f"other {i}" for i in range(100)])
        p = self.run_ship("/exact/other", "--stream", "o", path, expect=1)
        self.assertIn("are not the next lines of", p.stderr)
        self.assertIn("Nothing was sent", p.stderr)
        self.assertEqual(len(self.stored.messages("/exact/other", "o")), 101)
        # another stream than the checkpoint's is refused as a usage error
        p = self.run_ship("/exact/other", "--stream", "elsewhere", path, expect=2)
        self.assertIn("the checkpoint is for stream o", p.stderr)


if __name__ == "__main__":
    unittest.main()
