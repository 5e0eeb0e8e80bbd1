"""Metrics published by the library (examples/metrics.c) reach `skylog serve` through
PutMetricData and through EMF records in the CloudWatch Logs sink, and read back with the AWS
CLI's get-metric-statistics as exact Sum/SampleCount/Min/Max."""

import json
import math
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
        cls.srv = sh.start_class_server(cls)
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


TOOL = os.path.join(BUILD, "tests", "tools", "sky_metrics_tool")


@unittest.skipUnless(os.path.exists(TOOL), "sky_metrics_tool not built (set SKYLOG_BUILD_DIR)")
class PutMetricDataLimits(unittest.TestCase):
    def tool(self, mode, ns, env):
        p = subprocess.run([TOOL, mode, ns], capture_output=True, text=True, env=env,
                           timeout=300 * sh.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        return [json.loads(l) for l in p.stdout.splitlines()], p.stderr

    def test_requests_split_to_the_limits(self):
        srv = sh.start_server(self)
        ns = f"Limits/{uuid.uuid4().hex[:8]}"
        lines, err = self.tool("limits", ns, sh.endpoint_env(srv))
        st = lines[-1]
        # 2500 small + 100 big counters + the 2000-value histogram: its buckets (64 per binary
        # octave: the exponent and the 6 mantissa bits below it) in datums of <= 150 values
        def bucket(v):
            m, e = math.frexp(v)  # v = m * 2^e, 0.5 <= m < 1
            return (e, int((2 * m - 1) * 64))
        buckets = len({bucket(v) for v in range(1, 2001)})
        self.assertGreater(buckets, 150)
        self.assertEqual(st["datums_sent"], 2500 + 100 + math.ceil(buckets / 150), err)
        # serve refuses a request of more than 1000 datums or 1 MB, as CloudWatch does: none was
        self.assertEqual(st["failed_requests"], 0, err)
        self.assertEqual(st["queued_datums"], 0)
        # 2614 datums need 3 requests by count; the 100 of ~31 KB (3.1 MB) need 4 by size
        self.assertGreaterEqual(st["requests"], 4)
        now = int(time.time())
        small = sh.aws(self, srv, "cloudwatch", "get-metric-statistics", "--namespace", ns,
                       "--metric-name", "Small2499", "--dimensions", "Name=Kind,Value=small",
                       "--start-time", str(now - 3600), "--end-time", str(now + 3600),
                       "--period", "7200", "--statistics", "Sum")
        self.assertEqual(small["Datapoints"][0]["Sum"], 2500)
        spread = sh.aws(self, srv, "cloudwatch", "get-metric-statistics", "--namespace", ns,
                        "--metric-name", "Spread", "--start-time", str(now - 3600),
                        "--end-time", str(now + 3600), "--period", "7200", "--statistics",
                        "SampleCount", "Minimum", "Maximum")["Datapoints"][0]
        self.assertEqual(spread["SampleCount"], 2000)  # the count stays exact past the sketch
        self.assertAlmostEqual(spread["Minimum"], 1, delta=0.01)
        self.assertAlmostEqual(spread["Maximum"], 2000, delta=20)

    def test_outage_keeps_and_counts_everything(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there: connections are refused
        env = sh.aws_env()
        env.update({"AWS_ENDPOINT_URL_CLOUDWATCH": f"http://127.0.0.1:{port}",
                    "AWS_REGION": "us-east-1"})
        lines, err = self.tool("outage", "Outage", env)
        first, second = lines
        self.assertEqual(first["dropped_queue_full"], 3)  # 8 datums, room for 5
        self.assertEqual(first["queued_datums"], 5)
        self.assertGreaterEqual(first["failed_requests"], 1)
        self.assertEqual(first["datums_sent"], 0)
        # the second flush has nothing new but tries the kept request again
        self.assertGreater(second["failed_requests"], first["failed_requests"])
        self.assertEqual(second["queued_datums"], 5)
        self.assertIn("5 datums undelivered at close", err)


if __name__ == "__main__":
    unittest.main()
