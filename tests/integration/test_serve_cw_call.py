"""sky_cloudwatch_call() (the public API's generic CloudWatch metrics call) against `skylog
serve`, through tests/tools/sky_cw_call: a PutMetricData body of 10 KiB or more goes out
gzip-compressed (as botocore sends it), serve inflates it (its -v line shows both sizes), and
the datapoints read back are exactly the ones sent; a smaller body goes out as it is. Serve's
limit on what a gzip body inflates to is applied while inflating (413, nothing stored)."""

import gzip
import json
import os
import subprocess
import time
import unittest

import skyharness as sh

TOOL = os.path.join(os.environ.get("SKYLOG_BUILD_DIR", ""), "tests", "tools", "sky_cw_call")


@unittest.skipIf(not os.path.exists(TOOL), f"{TOOL} not built")
class CloudWatchCallGzip(unittest.TestCase):
    def setUp(self):
        self.srv = sh.start_server(self)

    def call(self, op, body):
        p = subprocess.run([TOOL, self.srv.url, op], input=json.dumps(body).encode(),
                           capture_output=True, env=sh.aws_env(self.srv),
                           timeout=120 * sh.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout)["answer"]

    def log_lines(self, op):
        return [line for line in self.srv.stderr_text().splitlines() if f" {op} -> " in line]

    def test_a_large_put_metric_data_is_gzipped_and_stored_whole(self):
        t = (int(time.time()) // 60 - 5) * 60
        datums = [{"MetricName": "Latency", "Timestamp": t + i % 60, "Value": i * 0.5,
                   "Dimensions": [{"Name": "Host", "Value": f"host-{i % 3}"}],
                   "Unit": "Milliseconds"} for i in range(300)]
        body = {"Namespace": "Gz", "MetricData": datums}
        self.assertGreaterEqual(len(json.dumps(body)), 10 * 1024)
        self.call("PutMetricData", body)
        line, = self.log_lines("PutMetricData")
        self.assertRegex(line, r"-> 200 gzip=\d+->\d+$")
        sent, inflated = map(int, line.rsplit("gzip=", 1)[1].split("->"))
        self.assertLess(sent, inflated)
        for host in range(3):
            values = [d["Value"] for d in datums
                      if d["Dimensions"][0]["Value"] == f"host-{host}"]
            got = self.call("GetMetricStatistics", {
                "Namespace": "Gz", "MetricName": "Latency", "StartTime": t - 60,
                "EndTime": t + 120, "Period": 3600, "Statistics": ["Sum", "SampleCount"],
                "Dimensions": [{"Name": "Host", "Value": f"host-{host}"}]})
            dp, = got["Datapoints"]
            self.assertEqual((dp["Sum"], dp["SampleCount"]), (sum(values), len(values)))
        # Small bodies go out as they are.
        self.assertNotIn("gzip=", self.log_lines("GetMetricStatistics")[0])
        self.call("PutMetricData", {"Namespace": "Gz", "MetricData": datums[:5]})
        self.assertNotIn("gzip=", self.log_lines("PutMetricData")[1])

    def test_inflating_stops_at_the_limit(self):
        # 9 MiB that compress to a few KiB: refused once inflating passes 8 MiB.
        bomb = gzip.compress(b'{"Namespace":"Gz","MetricData":[' + b" " * (9 << 20) + b"]}")
        self.assertLess(len(bomb), 64 * 1024)
        r = sh.raw_request(self.srv, "POST", "/", bomb, {
            "Content-Type": "application/x-amz-json-1.0", "Content-Encoding": "gzip",
            "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData"})
        self.assertEqual(r.status, 413, r)
        self.assertIn("once decompressed", r.body.decode())
        r = sh.raw_request(self.srv, "POST", "/", gzip.compress(b"{}")[:-4], {
            "Content-Type": "application/x-amz-json-1.0", "Content-Encoding": "gzip",
            "X-Amz-Target": "GraniteServiceVersion20100801.ListMetrics"})
        self.assertEqual(r.status, 400, r)   # truncated gzip: a clear error, not a crash


if __name__ == "__main__":
    unittest.main()
