"""`skylog ship`'s default rule for giving up on a dead endpoint (docs/CLI.md, "When skylog ship
gives up"): 12 attempts in a row failed, the first of them 10 s or more before. Both halves are
needed, and each is shown here without waiting 10 s and without depending on the machine's
speed: ship runs with its test clock (--test-clock FILE, for tests only: the rule reads the time
as the monotonic clock plus the milliseconds in FILE, the sink retries every 20 ms, and ship
says on stderr what it saw at each new number of failures). The endpoint fails every
PutLogEvents and holds one of them unanswered, so the number of failures in a row stays where
the test wants it while ship looks; the test moves the clock, or lets the next attempt fail,
only once ship said what it saw. The rule's arithmetic has its unit test (test_cli_common);
this is the command using it on the sink's own count.
"""
import json
import os
import re
import subprocess
import threading
import unittest

import skyharness as sh
from awsfakes import FakeServer, fake_aws_setup

JSON = {"Content-Type": "application/x-amz-json-1.1"}
HOUR_MS = 3600000
GAVE_UP = re.compile(r"skylog ship: giving up: 12 attempts in a row failed over 36\d\d s")


wait_for = sh.wait_for


class DeadEndpoint:
    """Answers every PutLogEvents 503; attempt n (1-based) in `hold` is held unanswered until
    release(n). Other calls (CreateLogGroup, ...) succeed."""

    def __init__(self, hold):
        self.attempts = 0
        self.held = {n: threading.Event() for n in hold}
        self.go = {n: threading.Event() for n in hold}
        self.lock = threading.Lock()
        self.server = FakeServer(self.handle)

    def handle(self, req):
        if not req.headers.get("x-amz-target", "").endswith(".PutLogEvents"):
            return 200, JSON, "{}"
        with self.lock:
            self.attempts += 1
            n = self.attempts
        if n in self.held:
            self.held[n].set()
            self.go[n].wait(120)
        return 503, JSON, json.dumps({"__type": "ServiceUnavailableException",
                                      "message": "down"})

    def release(self, n):
        self.go[n].set()

    def release_all(self):
        for e in self.go.values():
            e.set()


class ShipGivesUp(unittest.TestCase):
    def setUp(self):
        fake_aws_setup(self, "skygiveup.")
        self.input = os.path.join(self.tmp, "app.log")
        with open(self.input, "w") as f:
            f.write("".join(f"line {i}\n" for i in range(5)))
        self.clock = os.path.join(self.tmp, "clock")

    def set_clock(self, skew_ms):
        tmp = self.clock + ".new"
        with open(tmp, "w") as f:
            f.write(f"{skew_ms}\n")
        os.replace(tmp, self.clock)  # ship reads the old value or the new, never half

    def start(self, endpoint):
        """Starts ship on the input; returns (proc, lines of stderr so far: a list that grows)."""
        proc = subprocess.Popen(
            [sh.skylog_bin(), "ship", "--endpoint", endpoint.server.url, "-g", "/giveup",
             "-s", "s", "--test-clock", self.clock, self.input], env=self.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))
        reader.start()
        self.addCleanup(proc.stderr.close)
        self.addCleanup(reader.join, 60)
        return proc, lines

    def saw(self, lines, failures):
        """The test-clock line ship printed when it first looked at `failures` in a row."""
        head = f"skylog ship: test clock: {failures} attempts failed in a row,"
        wait_for(lambda: any(l.startswith(head) for l in list(lines)),
                 f"ship's look at {failures} failures")
        return next(l for l in list(lines) if l.startswith(head))

    def finish(self, proc, lines, endpoint):
        wait_for(lambda: any(GAVE_UP.match(l) for l in list(lines)), "ship giving up")
        endpoint.release_all()
        proc.wait(timeout=60 * sh.timeout_scale())
        text = "".join(lines)
        if os.environ.get("SKY_SHOW"):
            print(text)
        self.assertEqual(proc.returncode, 1, text)
        self.assertIn("5 events read, 0 sent", text)

    def test_twelve_failures_in_under_ten_seconds_are_not_enough(self):
        # the clock an hour behind: the 12 failures came "now", not over 10 s
        self.set_clock(-HOUR_MS)
        endpoint = DeadEndpoint(hold=[13])
        with endpoint.server:
            proc, lines = self.start(endpoint)
            try:
                wait_for(lambda: endpoint.held[13].is_set() or proc.poll() is not None,
                         "the 13th attempt")
                self.assertIsNone(proc.poll(), "".join(lines))
                self.assertTrue(self.saw(lines, 12).endswith(": not stalled\n"))
                self.assertFalse(any("giving up" in l for l in list(lines)), lines)
                # 10 s and more have passed since the first failure: ship gives up with the
                # 13th attempt still unanswered, so at 12 failures
                self.set_clock(HOUR_MS)
                self.finish(proc, lines, endpoint)
            finally:
                endpoint.release_all()

    def test_ten_seconds_of_failing_need_twelve_failures(self):
        # the clock an hour ahead: every run of failures is "old enough" from its first
        self.set_clock(HOUR_MS)
        endpoint = DeadEndpoint(hold=[12, 13])
        with endpoint.server:
            proc, lines = self.start(endpoint)
            try:
                wait_for(lambda: endpoint.held[12].is_set() or proc.poll() is not None,
                         "the 12th attempt")
                self.assertIsNone(proc.poll(), "".join(lines))
                self.assertTrue(self.saw(lines, 11).endswith(": not stalled\n"))
                self.assertFalse(any("giving up" in l for l in list(lines)), lines)
                endpoint.release(12)  # the 12th fails
                self.assertTrue(self.saw(lines, 12).endswith(": stalled\n"))
                self.finish(proc, lines, endpoint)
            finally:
                endpoint.release_all()


if __name__ == "__main__":
    unittest.main()
