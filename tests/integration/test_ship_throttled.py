"""`skylog ship` waits out a service that throttles for longer than its stall limit.

ship gives up when nothing is delivered for 10 s (a dead endpoint or a bad token would
otherwise hold it), but a throttling answer means the service is there and asks for patience:
the sink's backoff after one can exceed 10 s. The fake endpoint below throttles every
PutLogEvents for 14 s of wall-clock time and then accepts them; ship must deliver every line
and exit 0. Before the fix ship gave up 10 s after its last delivery. Only lower bounds on time
are involved: a slower machine makes the throttling phase no shorter.
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


class ShipThrottled(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skythrottle.")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_ship_waits_out_long_throttling(self):
        start = []
        accepted = []
        throttled = []

        def handler(req):
            target = req.headers.get("x-amz-target", "")
            if not target.endswith(".PutLogEvents"):
                return 200, {"Content-Type": "application/x-amz-json-1.1"}, "{}"
            now = time.monotonic()
            if not start:
                start.append(now)
            if now - start[0] < THROTTLE_S:
                throttled.append(now)
                return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
                    {"__type": "com.amazonaws.logs#ThrottlingException",
                     "message": "Rate exceeded"})
            accepted.extend(e["message"] for e in json.loads(req.body)["logEvents"])
            return 200, {"Content-Type": "application/x-amz-json-1.1"}, \
                '{"nextSequenceToken":"1"}'

        lines = [f"line {i}" for i in range(5)]
        with FakeServer(handler) as srv:
            env = base_env(self.tmp)
            env.update(AWS_ACCESS_KEY_ID="AKIATHROTTLE", AWS_SECRET_ACCESS_KEY="s",
                       AWS_REGION="us-east-1")
            p = sh.run_skylog(self, "ship", "--endpoint", srv.url, "-g", "/throttled", "-s", "s",
                              "-", input="\n".join(lines) + "\n", env=env, check=False,
                              timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("giving up", p.stderr)
        self.assertEqual(sorted(accepted), sorted(lines))
        # throttled more than once, and nothing accepted before 14 s: longer than the 10 s
        # ship allows without a delivery when nobody answers
        self.assertGreaterEqual(len(throttled), 2, throttled)


if __name__ == "__main__":
    unittest.main()
