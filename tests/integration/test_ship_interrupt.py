"""`skylog ship` interrupted: exit 128+signal, one line saying what is safe, a checkpoint that
holds only what the service acknowledged, and a resume that stores the rest with no line lost.

The input comes through a FIFO whose writer keeps it open, so ship is blocked reading when the
signal arrives (the case where `ship app.log && rm app.log` used to delete unsent lines).
Nothing here depends on timing: the test waits for the server to hold what was written before
it signals, and then checks exact contents.
"""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import skyharness
from awsfakes import FakeServer


def stored(test, srv, group, stream):
    msgs, token = [], None
    while True:
        args = ["get-log-events", "--log-group-name", group, "--log-stream-name", stream,
                "--start-from-head"]
        if token:
            args += ["--next-token", token]
        out = skyharness.aws(test, srv, "logs", *args)
        msgs += [e["message"] for e in out["events"]]
        if not out["events"] or out.get("nextForwardToken") == token:
            return msgs
        token = out["nextForwardToken"]


def wait_for(pred, what, timeout=60):
    deadline = time.monotonic() + timeout * skyharness.timeout_scale()
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


signal_taken = skyharness.signal_taken


def read_to_end(proc, path):
    """True when proc has `path` open with its file position at the end: it has read all
    there is (or been placed there by a checkpoint)."""
    real, size = os.path.realpath(path), os.path.getsize(path)
    fds = f"/proc/{proc.pid}/fd"
    try:
        names = os.listdir(fds)
    except FileNotFoundError:
        return False
    for fd in names:
        try:
            if os.readlink(f"{fds}/{fd}") != real:
                continue
            with open(f"/proc/{proc.pid}/fdinfo/{fd}") as f:
                if int(f.readline().split()[1]) == size:  # "pos:\t<offset>"
                    return True
        except (OSError, ValueError, IndexError):
            continue
    return False


def open_fifo(test, path):
    """A FIFO at path, opened both ways: (read end for the child's stdin, write end). The
    write end stays open (closed at cleanup), so the reader waits for more input."""
    os.mkfifo(path)
    rfd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    wfd = os.open(path, os.O_WRONLY)
    os.set_blocking(rfd, True)
    test.addCleanup(lambda: os.close(wfd))
    return rfd, wfd


class ShipInterrupt(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="skyship-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", self.dir]))

    def start_ship(self, srv_url, env, *args, stdin):
        cmd = [skyharness.skylog_bin(), "ship", "--endpoint", srv_url, *args]
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def fifo_ship(self, srv, sig):
        """Feeds 300 lines through a FIFO, waits until they are stored, then `sig`."""
        fifo = os.path.join(self.dir, "in.fifo")
        os.mkfifo(fifo)
        cp = os.path.join(self.dir, "cp.json")
        lines = [f"line {i} é" for i in range(1, 301)]
        group = f"/ship/int{sig}"
        # open the read end first (non-blocking), so opening the write end does not block
        rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        wfd = os.open(fifo, os.O_WRONLY)
        os.set_blocking(rfd, True)
        self.addCleanup(lambda: os.close(wfd))
        proc = self.start_ship(srv.url, skyharness.aws_env(srv), "--group", group, "--stream",
                               "s", "--flush-interval", "50", "--checkpoint", cp, stdin=rfd)
        os.close(rfd)
        os.write(wfd, ("\n".join(lines) + "\n").encode())
        wait_for(lambda: len(stored(self, srv, group, "s")) == 300, "300 lines stored")
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
        return proc.returncode, err, cp, lines, group

    def test_signal_ignored_at_start_stays_ignored(self):
        # A non-interactive shell starts `skylog ship ... &` with SIGINT ignored so that
        # Ctrl-C at the terminal does not stop it: ship keeps it ignored (and still takes
        # SIGTERM, which was not ignored).
        srv = skyharness.start_server(self)
        rfd, wfd = open_fifo(self, os.path.join(self.dir, "bg.fifo"))
        group = "/ship/ignored"
        cmd = [skyharness.skylog_bin(), "ship", "--endpoint", srv.url, "--group", group,
               "--stream", "s", "--flush-interval", "50"]
        proc = subprocess.Popen(cmd, stdin=rfd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=skyharness.aws_env(srv),
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        os.close(rfd)
        os.write(wfd, b"one\n")
        wait_for(lambda: len(stored(self, srv, group, "s")) == 1, "the first line stored")

        def mask(name):
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith(name + ":"):
                        return int(line.split()[1], 16)
            return 0
        self.assertTrue(mask("SigIgn") & (1 << (signal.SIGINT - 1)), "SIGINT no longer ignored")
        self.assertTrue(mask("SigCgt") & (1 << (signal.SIGTERM - 1)), "SIGTERM not caught")
        proc.send_signal(signal.SIGINT)
        os.write(wfd, b"two\n")  # still shipping after the ignored SIGINT
        wait_for(lambda: len(stored(self, srv, group, "s")) == 2, "the second line stored")
        self.assertIsNone(proc.poll())
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
        self.assertEqual(proc.returncode, 143, err)
        self.assertIn("interrupted by SIGTERM", err)
        self.assertEqual(stored(self, srv, group, "s"), ["one", "two"])

    def test_sigint_checkpoint_and_resume(self):
        srv = skyharness.start_server(self)
        rc, err, cp, lines, group = self.fifo_ship(srv, signal.SIGINT)
        self.assertEqual(rc, 130, err)
        line = [l for l in err.splitlines() if "interrupted by SIGINT" in l]
        self.assertEqual(len(line), 1, err)
        # what was sent, what is safe, where reading stopped, how to go on
        nbytes = sum(len(l.encode()) + 1 for l in lines)
        self.assertIn("300 of 300 lines acknowledged", line[0])
        self.assertIn(f"safe up to byte {nbytes} (line 300) of -", line[0])
        self.assertIn(f"reading stopped at byte {nbytes} (line 300) of -", line[0])
        self.assertIn(f"resume with --checkpoint {cp} --resume", line[0])
        with open(cp) as f:
            c = json.load(f)
        self.assertEqual(c["skylog_ship_checkpoint"], 3)
        # the fields docs/CLI.md documents, no more, no fewer
        self.assertEqual(set(c), {"skylog_ship_checkpoint", "group", "stream",
                                  "stream_template", "input", "complete",
                                  "events_acknowledged", "tail"})
        self.assertEqual(c["group"], group)
        self.assertEqual((c["stream"], c["stream_template"]), ("s", "s"))
        # the anchor: the last acknowledged lines, newest last, as [time, hash, events, flags]
        self.assertEqual(len(c["tail"]), 8)
        self.assertEqual([e[2:] for e in c["tail"]], [[1, 0]] * 8)
        self.assertEqual(c["input"], {"path": "-", "offset": nbytes, "line": 300})
        self.assertFalse(c["complete"])
        self.assertFalse(os.path.exists(cp + ".tmp"))
        # The producer replays its whole output plus more: the resume skips what is safe.
        more = [f"line {i} é" for i in range(301, 501)]
        p = subprocess.run([skyharness.skylog_bin(), "ship", "--endpoint", srv.url, "--group",
                            group, "--stream", "s", "--checkpoint", cp, "--resume"],
                           input="\n".join(lines + more) + "\n", capture_output=True,
                           text=True, env=skyharness.aws_env(srv),
                           timeout=120 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("200 events read, 200 sent", p.stderr)
        self.assertEqual(stored(self, srv, group, "s"), lines + more)  # none lost, none twice
        with open(cp) as f:
            c = json.load(f)
        self.assertTrue(c["complete"])
        self.assertEqual(c["input"]["line"], 500)

    def test_second_input_checkpoint_and_resume(self):
        # a file, then standard input (a FIFO): the checkpoint moves on to the second input
        srv = skyharness.start_server(self)
        path = os.path.join(self.dir, "first.log")
        first = [f"first {i}" for i in range(40)] + ["", "first last"]
        with open(path, "w") as f:
            f.write("\n".join(first) + "\n")
        rfd, wfd = open_fifo(self, os.path.join(self.dir, "in.fifo"))
        cp = os.path.join(self.dir, "cp.json")
        proc = self.start_ship(srv.url, skyharness.aws_env(srv), "--group", "/ship/two",
                               "--stream", "s", "--flush-interval", "50", "--checkpoint", cp,
                               path, "-", stdin=rfd)
        os.close(rfd)
        second = [f"second {i}" for i in range(25)]
        os.write(wfd, ("\n".join(second) + "\n").encode())
        wait_for(lambda: len(stored(self, srv, "/ship/two", "s")) == 41 + 25, "66 lines stored")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
        self.assertEqual(proc.returncode, 130, err)
        nbytes = sum(len(l) + 1 for l in second)
        self.assertIn(f"67 of 67 lines acknowledged; safe up to byte {nbytes} (line 25) of -",
                      err)
        with open(cp) as f:
            c = json.load(f)
        self.assertEqual(c["input"], {"path": "-", "offset": nbytes, "line": 25})
        more = [f"second {i}" for i in range(25, 30)]
        p = subprocess.run([skyharness.skylog_bin(), "ship", "--endpoint", srv.url, "--group",
                            "/ship/two", "--stream", "s", "--checkpoint", cp, "--resume", path,
                            "-"], input="\n".join(second + more) + "\n", capture_output=True,
                           text=True, env=skyharness.aws_env(srv),
                           timeout=120 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("5 events read, 5 sent", p.stderr)  # the file was skipped as done
        self.assertEqual(stored(self, srv, "/ship/two", "s"),
                         [l for l in first if l] + second + more)

    def test_sigterm_exits_143(self):
        srv = skyharness.start_server(self)
        rc, err, cp, _, _ = self.fifo_ship(srv, signal.SIGTERM)
        self.assertEqual(rc, 143, err)
        self.assertIn("interrupted by SIGTERM", err)

    def test_unacknowledged_lines_are_not_in_the_checkpoint(self):
        # an endpoint that accepts connections and never answers: nothing is acknowledged
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        self.addCleanup(sock.close)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        path = os.path.join(self.dir, "app.log")
        with open(path, "w") as f:
            f.writelines(f"unsent {i}\n" for i in range(100))
        cp = os.path.join(self.dir, "cp.json")
        env = skyharness.aws_env()
        proc = self.start_ship(url, env, "--group", "/ship/dead", "--flush-interval", "10",
                               "--checkpoint", cp, path, stdin=subprocess.DEVNULL)
        wait_for(lambda: os.path.exists(cp), "the first checkpoint")
        proc.send_signal(signal.SIGINT)
        # the second is sent once the first was taken: two signals, not one pending twice
        wait_for(lambda: signal_taken(proc, signal.SIGINT), "the first SIGINT taken")
        proc.send_signal(signal.SIGINT)  # the second one does not wait for the flush
        _, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
        self.assertEqual(proc.returncode, 130, err)
        self.assertIn("0 of ", err)
        self.assertIn(f"safe up to byte 0 (line 0) of {os.path.realpath(path)}", err)
        with open(cp) as f:
            c = json.load(f)
        self.assertEqual(c["input"]["offset"], 0)
        self.assertEqual(c["input"]["path"], os.path.realpath(path))
        st = os.stat(path)
        self.assertEqual((c["input"]["dev"], c["input"]["ino"]), (st.st_dev, st.st_ino))

    def test_failure_exit_says_what_was_sent(self):
        # a refused connection is retried until ship gives up: exit 1 and the position line
        # (--give-up-after: after 2 attempts, not the default's minute; the rule itself is
        # unit-tested in test_cli_common)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        p = subprocess.run([skyharness.skylog_bin(), "ship", "--endpoint",
                            f"http://127.0.0.1:{port}", "--group", "/ship/refused", "-q",
                            "--give-up-after", "2"],
                           input="a\nb\n", capture_output=True, text=True,
                           env=skyharness.aws_env(), timeout=300 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("2 events read, 0 sent", p.stderr)  # said even with -q
        self.assertIn("incomplete: 0 of 2 lines acknowledged; safe up to byte 0 (line 0)",
                      p.stderr)

    def test_dead_endpoint_while_a_file_is_read(self):
        # more lines than ship's queue holds: reading waits for room that a refused connection
        # never makes, and ship gives up all the same (it used to wait for ever), with the
        # position line; reading stopped before the end, and nothing is claimed as safe
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        path = os.path.join(self.dir, "big.log")
        n = 30000  # ship queues at most 20,000 events
        with open(path, "w") as f:
            f.write("".join(f"line {i}\n" for i in range(n)))
        p = subprocess.run([skyharness.skylog_bin(), "ship", "--endpoint",
                            f"http://127.0.0.1:{port}", "--group", "/ship/dead", "-q",
                            "--give-up-after", "2", path],
                           capture_output=True, text=True, env=skyharness.aws_env(),
                           timeout=300 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 1, p.stderr[-3000:])
        m = re.search(r"giving up: (\d+) attempts in a row failed over \d+ s \(last: NetworkError",
                      p.stderr)
        self.assertTrue(m, p.stderr[-3000:])
        self.assertGreaterEqual(int(m[1]), 2)
        self.assertIn("incomplete (held back where delivery was given up): 0 of ", p.stderr)
        self.assertIn(f"safe up to byte 0 (line 0) of {os.path.realpath(path)}", p.stderr)
        stopped = int(re.search(r"reading stopped at byte \d+ \(line (\d+)\)", p.stderr)[1])
        self.assertLess(stopped, n)

    def test_interrupted_while_delivery_fails_says_what_was_not_delivered(self):
        # every PutLogEvents fails: after SIGINT, ship waits at most its grace for the next
        # attempt (not at all when the sink's backoff ends after it) and says how many events
        # were not delivered, whichever way it stopped waiting
        failed = threading.Event()

        def handler(req):
            if req.headers.get("x-amz-target", "").endswith(".PutLogEvents"):
                failed.set()
                return 503, {}, '{"__type":"ServiceUnavailableException","message":"down"}'
            return 200, {"Content-Type": "application/x-amz-json-1.1"}, "{}"

        rfd, wfd = open_fifo(self, os.path.join(self.dir, "in.fifo"))
        with FakeServer(handler) as srv:
            env = dict(skyharness.aws_env(), AWS_ENDPOINT_URL=srv.url)
            proc = self.start_ship(srv.url, env, "--group", "/ship/failing", "--stream", "s",
                                   "--flush-interval", "10", stdin=rfd)
            os.close(rfd)
            os.write(wfd, b"one\ntwo\n")
            wait_for(failed.is_set, "a failed PutLogEvents")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
        self.assertEqual(proc.returncode, 130, err[-3000:])
        self.assertRegex(err, r"skylog ship: (stopped waiting 5 s after SIGINT|not waiting for "
                              r"the next attempt, due in \d+ s \(after the 5 s allowed after "
                              r"SIGINT\)): 2 events not delivered\n")
        self.assertIn("interrupted by SIGINT: 0 of 2 lines acknowledged", err)

    def test_signal_before_the_handler_is_in_place(self):
        # ship is started with SIGINT (SIGTERM) blocked and signalled at once: the signal waits
        # (a mask is inherited through exec) until ship unblocks it, which it does only with
        # its handler in place, at the start of the command - so however early the signal
        # came, and whatever ship was doing, the outcome is the report and 128+N, never death
        # by the default action, and nothing was read yet
        path = os.path.join(self.dir, "app.log")
        with open(path, "w") as f:
            f.write("one\ntwo\n")
        err = os.path.join(self.dir, "err.txt")
        for sig in (signal.SIGINT, signal.SIGTERM):
            pid = os.posix_spawn(
                skyharness.skylog_bin(),
                [skyharness.skylog_bin(), "ship", "--endpoint", "http://127.0.0.1:9",
                 "--group", "/ship/early", path],
                skyharness.aws_env(),
                file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                              (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                              (os.POSIX_SPAWN_OPEN, 2, err,
                               os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)],
                setsigmask=[signal.SIGINT, signal.SIGTERM])
            os.kill(pid, sig)
            deadline = time.monotonic() + 60 * skyharness.timeout_scale()
            while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    self.fail(f"ship did not stop after {sig.name}")
                time.sleep(0.05)
            with open(err) as f:
                text = f.read()
            self.assertEqual(os.waitstatus_to_exitcode(done[1]), 128 + sig, text)
            self.assertIn("0 events read, 0 sent", text)
            self.assertIn(f"interrupted by {sig.name}: 0 of 0 lines acknowledged; safe up to "
                          f"byte 0 (line 0) of {os.path.realpath(path)}", text)

    def test_start_offset_and_file_resume(self):
        srv = skyharness.start_server(self)
        path = os.path.join(self.dir, "app.log")
        lines = [f"file line {i}" for i in range(50)]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        off = sum(len(l) + 1 for l in lines[:20])

        def ship(*args):
            return subprocess.run([skyharness.skylog_bin(), "ship", "--endpoint", srv.url,
                                   "--group", "/ship/off", "--stream", "s", *args],
                                  capture_output=True, text=True, env=skyharness.aws_env(srv),
                                  timeout=120 * skyharness.timeout_scale())
        p = ship("--start-offset", str(off), path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stored(self, srv, "/ship/off", "s"), lines[20:])
        p = ship("--start-offset", str(off + 1), path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is not at the start of a line", p.stderr)
        # --resume without a checkpoint yet starts at the beginning (first run and reruns alike)
        cp = os.path.join(self.dir, "cp.json")
        p = ship("--checkpoint", cp, "--resume", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("50 events read", p.stderr)
        with open(cp) as f:
            c = json.load(f)
        self.assertTrue(c["complete"])
        self.assertEqual((c["input"]["offset"], c["input"]["line"]),
                         (os.path.getsize(path), 50))
        # a checkpoint for another file (same path, new inode) is refused, not trusted
        os.rename(path, path + ".1")
        with open(path, "w") as f:
            f.write("new\n")
        p = ship("--checkpoint", cp, "--resume", path)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("rotated or replaced", p.stderr)
        # what is not a checkpoint is refused before anything is sent
        bad = os.path.join(self.dir, "bad.json")
        for content in ("{not json", '{"skylog_ship_checkpoint": 99, "input": {}}',
                        "[" * 100000):
            with open(bad, "w") as f:
                f.write(content)
            p = ship("--checkpoint", bad, "--resume", path + ".1")
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("not a skylog ship checkpoint", p.stderr)
        # the finished checkpoint resumes at the end: nothing is sent twice
        p = ship("--checkpoint", cp, "--resume", path + ".1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("0 events read", p.stderr)


if __name__ == "__main__":
    unittest.main()
