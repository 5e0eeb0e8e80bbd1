"""`skylog ship` waits out a service that throttles for longer than its stall limit, and a
dead endpoint while it reads a pipe or follows a file.

ship gives up when 12 attempts in a row failed over 10 s or more (a dead endpoint would
otherwise hold it; docs/CLI.md), but a throttling answer means the service is there and asks
for patience: it ends such a run (the sink's backoff after one can exceed 10 s). Counted, not
timed: ship runs with its test clock (--test-clock, test_ship_give_up) an hour ahead, so every
run of failures is "old enough" from its first attempt and only the count of failures in a row
decides; the fake endpoint throttles more attempts than the rule's 12 before it accepts, and
ship must deliver every line and exit 0. Before the fix ship gave up 10 s after its last
delivery.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import skyharness as sh
from awsfakes import FakeServer, base_env

THROTTLED = 15  # attempts throttled before the endpoint accepts: more than the rule's 12
JSON = {"Content-Type": "application/x-amz-json-1.1"}


def refusal(code, status, message):
    return status, JSON, json.dumps({"__type": "com.amazonaws.logs#" + code, "message": message})


class ShipThrottled(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skythrottle.")
        self.env = base_env(self.tmp)
        self.env.update(AWS_ACCESS_KEY_ID="AKIATHROTTLE", AWS_SECRET_ACCESS_KEY="s",
                        AWS_REGION="us-east-1")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def endpoint(self, failure):
        """A fake endpoint whose PutLogEvents answer failure(group, now) while it returns an
        answer, and are stored once it returns None. Returns (the server, {group: messages
        stored})."""
        accepted = {}

        def handler(req):
            if not req.headers.get("x-amz-target", "").endswith(".PutLogEvents"):
                return 200, JSON, "{}"
            body = json.loads(req.body)
            answer = failure(body["logGroupName"], time.monotonic())
            if answer:
                return answer
            accepted.setdefault(body["logGroupName"], []).extend(
                e["message"] for e in body["logEvents"])
            return 200, JSON, '{"nextSequenceToken":"1"}'
        return FakeServer(handler), accepted

    def ship(self, srv, group, lines, *flags):
        clock = os.path.join(self.tmp, "clock")
        with open(clock, "w") as f:
            f.write("3600000\n")  # an hour ahead: the rule's 10 s are always past
        return sh.run_skylog(self, "ship", "--endpoint", srv.url, "-g", group, "-s", "s",
                             "--test-clock", clock, *flags, "-", input="\n".join(lines) + "\n",
                             env=self.env, check=False, timeout=300)

    def test_ship_waits_out_long_throttling(self):
        throttled = []

        def failure(group, now):
            if len(throttled) < THROTTLED:
                throttled.append(now)
                return refusal("ThrottlingException", 400, "Rate exceeded")
            return None

        lines = [f"line {i}" for i in range(5)]
        srv, accepted = self.endpoint(failure)
        with srv:
            p = self.ship(srv, "/throttled", lines)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("giving up", p.stderr)
        self.assertEqual(sorted(accepted["/throttled"]), sorted(lines))
        # every throttled attempt was retried, none counted as a failure: 15 in a row, more
        # than the 12 failures after which ship gives up on a dead endpoint
        self.assertEqual(len(throttled), THROTTLED)
        self.assertIn(f"({THROTTLED} retries, {THROTTLED} throttled)", p.stderr)
        self.assertNotIn("test clock:", p.stderr)  # no failure in a row was ever seen

    def test_a_throttling_answer_ends_a_run_of_failures(self):
        # --give-up-after 2: two failures in a row would end delivery; the endpoint alternates
        # a failure and a throttling answer 6 times, then accepts. Never two failures in a row.
        answers = []

        def failure(group, now):
            if len(answers) < 12:
                answers.append(now)
                return refusal("ServiceUnavailableException", 503, "down") \
                    if len(answers) % 2 else refusal("ThrottlingException", 400, "Rate exceeded")
            return None

        lines = [f"line {i}" for i in range(5)]
        srv, accepted = self.endpoint(failure)
        with srv:
            p = self.ship(srv, "/alternating", lines, "--give-up-after", "2")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("giving up", p.stderr)
        self.assertEqual(sorted(accepted["/alternating"]), sorted(lines))
        self.assertEqual(len(answers), 12)
        self.assertIn("(12 retries, 6 throttled)", p.stderr)

    def test_a_pipe_and_a_followed_file_wait_for_a_dead_endpoint(self):
        # Reading a pipe or following a file, ship waits for room in its queue however long
        # the endpoint is down (a file read once would be given up). For each of the two
        # ships, the endpoint fails every PutLogEvents until what gives up on a file has
        # happened - with --give-up-after 2, 3 failures (the default's 12 over 10 s is the
        # same rule with other numbers: test_cli_common) - then stores them: every line
        # delivered. More lines than ship queues (20,000), so reading waits for room meanwhile.
        fails = {}
        give_up = ["--give-up-after", "2"]

        def failure(group, now):
            f = fails.setdefault(group, [])
            if len(f) < 3:
                f.append(now)
                return refusal("ServiceUnavailableException", 503, "down")
            return None

        lines = [f"line {i}" for i in range(30000)]
        path = os.path.join(self.tmp, "app.log")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        srv, accepted = self.endpoint(failure)
        with srv:
            follower = subprocess.Popen(
                [sh.skylog_bin(), "ship", "--endpoint", srv.url, "-g", "/down/follow", "-s", "s",
                 *give_up, "--follow", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                env=self.env)
            self.addCleanup(lambda: follower.poll() is None and follower.kill())
            p = sh.run_skylog(self, "ship", "--endpoint", srv.url, "-g", "/down/pipe", "-s", "s",
                              *give_up, "-", input="\n".join(lines) + "\n", env=self.env, check=False,
                              timeout=600)
            deadline = time.monotonic() + 600 * sh.timeout_scale()
            while len(accepted.get("/down/follow", [])) < len(lines) and follower.poll() is None:
                self.assertLess(time.monotonic(), deadline, "the followed file not delivered")
                time.sleep(0.2)
            follower.send_signal(signal.SIGINT)
            _, err = follower.communicate(timeout=120 * sh.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.assertNotIn("giving up", p.stderr)
        self.assertEqual(sorted(accepted["/down/pipe"]), sorted(lines))
        self.assertEqual(follower.returncode, 130, err[-3000:])  # --follow ends by a signal
        self.assertNotIn("giving up", err)
        self.assertEqual(sorted(accepted["/down/follow"]), sorted(lines))
        for group in ("/down/pipe", "/down/follow"):
            self.assertGreaterEqual(len(fails[group]), 3)


if __name__ == "__main__":
    unittest.main()
