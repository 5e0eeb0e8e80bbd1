"""Metrics published by the library (examples/metrics.c) reach `skylog serve` through
PutMetricData and through EMF records in the CloudWatch Logs sink, and read back with the AWS
CLI's get-metric-statistics as exact Sum/SampleCount/Min/Max."""

import json
import os
import subprocess
import time
import unittest
import uuid

import skyharness as sh

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
EXAMPLE = os.path.join(BUILD, "example_metrics")
PER_THREAD = 1000000


@unittest.skipUnless(os.path.exists(EXAMPLE), "example_metrics not built (set SKYLOG_BUILD_DIR)")
class PublishRoundTrip(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.Server()
        cls.addClassCleanup(cls.srv.cleanup)
        cls.srv.start()
        cls.ns = f"Shop/{uuid.uuid4().hex[:8]}"
        group = f"/metrics/{uuid.uuid4().hex[:8]}"
        p = subprocess.run([EXAMPLE, cls.ns, group, str(PER_THREAD)], capture_output=True,
                           text=True, env=sh.endpoint_env(cls.srv),
                           timeout=300 * sh.timeout_scale())
        cls.run_result = p

    def stats(self, ns, name, unit):
        now = int(time.time())
        out = sh.aws(self, self.srv, "cloudwatch", "get-metric-statistics", "--namespace", ns,
                     "--metric-name", name, "--dimensions", "Name=Operation,Value=checkout",
                     "--start-time", str(now - 3600), "--end-time", str(now + 3600),
                     "--period", "7200", "--unit", unit, "--statistics", "Sum", "SampleCount",
                     "Minimum", "Maximum")
        points = out["Datapoints"]
        self.assertEqual(len(points), 1, out)
        return points[0]

    def test_example_sent_every_datum(self):
        p = self.run_result
        self.assertEqual(p.returncode, 0, f"stdout: {p.stdout}\nstderr: {p.stderr}")
        st = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(st["datums_sent"], 4)
        self.assertEqual(st["failed_requests"], 0)

    def check(self, ns):
        req = self.stats(ns, "RequestCount", "Count")
        self.assertEqual(req["Sum"], 4 * PER_THREAD)
        ok = self.stats(ns, "Success", "Count")
        fail = self.stats(ns, "Failure", "Count")
        self.assertEqual(ok["Sum"], 90000)
        self.assertEqual(fail["Sum"], 10000)
        rt = self.stats(ns, "ResponseTime", "Milliseconds")
        self.assertEqual(rt["SampleCount"], 100000)
        self.assertEqual(rt["Sum"], 1000 * sum(range(100)))
        self.assertEqual(rt["Minimum"], 0)
        self.assertEqual(rt["Maximum"], 99)

    def test_put_metric_data_exact(self):
        self.check(self.ns)

    def test_emf_exact(self):
        self.check(self.ns + "/EMF")


if __name__ == "__main__":
    unittest.main()
