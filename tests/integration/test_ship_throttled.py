"""`skylog ship` waits out a service that throttles for longer than its stall limit, and a
dead endpoint while it reads a pipe.

ship gives up when 12 attempts in a row failed over 10 s or more (a dead endpoint would
otherwise hold it; docs/CLI.md), but a throttling answer means the service is there and asks
for patience: it ends such a run, and the sink's backoff after one can exceed 10 s. The fake
endpoint below throttles every PutLogEvents for 14 s of wall-clock time and then accepts them;
ship must deliver every line and exit 0. Before the fix ship gave up 10 s after its last
delivery. Only lower bounds on time are involved: a slower machine makes the throttling phase
no shorter.
"""
import json
import os
import shutil
import tempfile
import time
import unittest

import skyharness as sh
from awsfakes import FakeServer, base_env

THROTTLE_S = 14.0


JSON = {"Content-Type": "application/x-amz-json-1.1"}


def refusal(code, status, message):
    return status, JSON, json.dumps({"__type": "com.amazonaws.logs#" + code, "message": message})


class ShipThrottled(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skythrottle.")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ship(self, lines, failure, timeout):
        """Ships `lines` through standard input (a pipe) to an endpoint whose PutLogEvents answer
        failure(now) while it returns an answer, and store them once it returns None.
        Returns (the finished process, the messages stored)."""
        accepted = []

        def handler(req):
            if not req.headers.get("x-amz-target", "").endswith(".PutLogEvents"):
                return 200, JSON, "{}"
            answer = failure(time.monotonic())
            if answer:
                return answer
            accepted.extend(e["message"] for e in json.loads(req.body)["logEvents"])
            return 200, JSON, '{"nextSequenceToken":"1"}'

        with FakeServer(handler) as srv:
            env = base_env(self.tmp)
            env.update(AWS_ACCESS_KEY_ID="AKIATHROTTLE", AWS_SECRET_ACCESS_KEY="s",
                       AWS_REGION="us-east-1")
            p = sh.run_skylog(self, "ship", "--endpoint", srv.url, "-g", "/throttled", "-s", "s",
                              "-", input="\n".join(lines) + "\n", env=env, check=False,
                              timeout=timeout)
        return p, accepted

    def test_ship_waits_out_long_throttling(self):
        start = []
        throttled = []

        def failure(now):
            if not start:
                start.append(now)
            if now - start[0] < THROTTLE_S:
                throttled.append(now)
                return refusal("ThrottlingException", 400, "Rate exceeded")
            return None

        lines = [f"line {i}" for i in range(5)]
        p, accepted = self.ship(lines, failure, 300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("giving up", p.stderr)
        self.assertEqual(sorted(accepted), sorted(lines))
        # throttled more than once, and nothing accepted before 14 s: longer than the 10 s
        # ship allows a run of failed attempts when nobody answers
        self.assertGreaterEqual(len(throttled), 2, throttled)

    def test_a_pipe_waits_for_a_dead_endpoint_to_come_back(self):
        # Reading a pipe, ship waits for room in its queue however long the endpoint is down
        # (its writer is held back; a file would be given up). The endpoint fails every
        # PutLogEvents until what gives up on a file has happened - 13 failures over 11 s or
        # more - then stores them: every line delivered, exit 0. More lines than ship queues
        # (20,000), so reading waits for room while the endpoint is down.
        fails = []

        def failure(now):
            if len(fails) < 13 or now - fails[0] < 11.0:
                fails.append(now)
                return refusal("ServiceUnavailableException", 503, "down")
            return None

        lines = [f"line {i}" for i in range(30000)]
        p, accepted = self.ship(lines, failure, 600)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.assertNotIn("giving up", p.stderr)
        self.assertEqual(sorted(accepted), sorted(lines))
        self.assertGreaterEqual(len(fails), 13)


if __name__ == "__main__":
    unittest.main()
