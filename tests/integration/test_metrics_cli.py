"""`skylog metrics put|list|get` against `skylog serve` (read back independently with the AWS
CLI) and against moto's CloudWatch (an emulator written without skylog): values, dimensions,
units, the table/CSV/JSON outputs, the sparklines, and limits refused before sending."""

import csv
import io
import json
import logging
import socket
import time
import unittest
import uuid

import skyharness as sh

try:
    from moto.server import ThreadedMotoServer
except Exception:  # pragma: no cover - moto or flask absent
    ThreadedMotoServer = None


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class MetricsCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls)

    def setUp(self):
        self.ns = f"Cli/{uuid.uuid4().hex[:8]}"

    def sky(self, *args, check=True):
        return sh.run_skylog(self, "metrics", *args, server=self.srv, check=check)

    def test_put_then_read_back_with_the_aws_cli_and_with_get(self):
        # Host=a's data at one time in the previous whole hour, so every read below sees it
        # in one period whatever the clock says.
        base = (int(time.time()) // 3600 - 1) * 3600 + 60
        at = str(base * 1000)
        for v in (1, 5, 3):
            self.sky("put", "--namespace", self.ns, "--name", "Latency", "--value", str(v),
                     "--unit", "Milliseconds", "--dimension", "Host=a", "--timestamp", at)
        self.sky("put", "-n", self.ns, "-m", "Latency", "--value", "10", "--value", "20",
                 "--count", "2", "--count", "1", "-u", "Milliseconds", "-d", "Host=a",
                 "--timestamp", at)
        self.sky("put", "-n", self.ns, "-m", "Latency", "--value", "100", "-d", "Host=b")
        now = time.time()
        out = sh.aws(self, self.srv, "cloudwatch", "get-metric-statistics", "--namespace",
                     self.ns, "--metric-name", "Latency", "--dimensions", "Name=Host,Value=a",
                     "--start-time", iso(base - 60), "--end-time", iso(now + 600),
                     "--period", "7200", "--statistics", "Sum", "SampleCount", "Minimum",
                     "Maximum")
        dp, = out["Datapoints"]
        self.assertEqual((dp["Sum"], dp["SampleCount"], dp["Minimum"], dp["Maximum"]),
                         (49.0, 6.0, 1.0, 20.0))
        self.assertEqual(dp["Unit"], "Milliseconds")

        window = ["--since", str((base - 60) * 1000), "--until", str((base + 3000) * 1000)]
        p = self.sky("get", "-n", self.ns, "-m", "Latency", "-d", "Host=a", *window,
                     "--period", "3600", "-s", "Sum", "-s", "SampleCount", "-o", "csv")
        rows = list(csv.reader(io.StringIO(p.stdout)))
        self.assertEqual(rows[0], ["TIMESTAMP", "UNIT", "Sum", "SampleCount"])
        self.assertEqual(sum(float(r[2]) for r in rows[1:]), 49)
        self.assertEqual(sum(float(r[3]) for r in rows[1:]), 6)
        self.assertTrue(all(r[1] == "Milliseconds" for r in rows[1:]))

        # Percentiles (nearest rank) over 1, 5, 3, 10, 10, 20: p50 is 5, p100 is 20.
        p = self.sky("get", "-n", self.ns, "-m", "Latency", "-d", "Host=a", *window,
                     "--period", "3600", "-s", "p50", "-s", "p100", "-o", "csv")
        rows = [r for r in csv.reader(io.StringIO(p.stdout))][1:]
        self.assertEqual([(r[2], r[3]) for r in rows], [("5", "20")])

        p = self.sky("get", "-n", self.ns, "-m", "Latency", "-d", "Host=b", "-o", "json")
        doc = json.loads(p.stdout)
        self.assertEqual(doc["Label"], "Latency")
        dp, = doc["Datapoints"]
        self.assertEqual((dp["Average"], dp["Maximum"], dp["SampleCount"], dp["Unit"]),
                         (100, 100, 1, "None"))
        self.assertRegex(dp["Timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$")

        p = self.sky("list", "--namespace", self.ns, "-o", "csv")
        rows = list(csv.reader(io.StringIO(p.stdout)))
        self.assertEqual(rows, [["NAMESPACE", "METRIC", "DIMENSIONS"],
                                [self.ns, "Latency", "Host=a"], [self.ns, "Latency", "Host=b"]])
        p = self.sky("list", "--namespace", self.ns, "-d", "Host=b", "-o", "json")
        self.assertEqual(json.loads(p.stdout), [{"Namespace": self.ns, "MetricName": "Latency",
                                                 "Dimensions": [{"Name": "Host",
                                                                 "Value": "b"}]}])

    def test_table_and_sparklines(self):
        base = int(time.time()) // 60 * 60 - 300
        for i, v in enumerate((1, 8, 4)):
            self.sky("put", "-n", self.ns, "-m", "Q", "--value", str(v), "--timestamp",
                     str((base + 60 * i) * 1000))
        p = self.sky("get", "-n", self.ns, "-m", "Q", "--since", str((base - 60) * 1000),
                     "--until", str((base + 240) * 1000), "-s", "Maximum", "--chart", "always")
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["TIMESTAMP", "UNIT", "Maximum"])
        self.assertEqual([l.split()[-1] for l in lines[1:4]], ["1", "8", "4"])
        spark = [l for l in lines if l.startswith("Maximum ")]
        self.assertEqual(len(spark), 1, p.stdout)
        # One column per minute from base-60: no data, then lowest, highest, middle, no data.
        bars = spark[0][len("Maximum"):].strip(" ").split("  min")[0]
        self.assertEqual(bars[0], "▁")
        self.assertEqual(bars[1], "█")
        self.assertIn(bars[2], "▃▄▅")
        self.assertIn("min 1 max 8", spark[0])
        # Not a terminal: no chart unless asked.
        p = self.sky("get", "-n", self.ns, "-m", "Q", "--since", "1h", "-s", "Maximum")
        self.assertNotIn("█", p.stdout)

    def test_limits_are_usage_errors_and_nothing_is_sent(self):
        bad = [
            ["put", "-n", self.ns, "-m", "X"],                                   # no value
            ["put", "-n", self.ns, "-m", "X", "--value", "nan"],
            ["put", "-n", self.ns, "-m", "X", "--value", "1", "-u", "Furlongs"],
            ["put", "-n", "AWS/EC2", "-m", "X", "--value", "1"],
            ["put", "-n", self.ns, "-m", "X" * 256, "--value", "1"],
            ["put", "-n", self.ns, "-m", "X", "--value", "1", "--timestamp", "15d"],
            ["put", "-n", self.ns, "-m", "X", "--value", "1", "--count", "1", "--count", "2"],
            ["put", "-n", self.ns, "-m", "X", "--value", "1"] + sum(
                (["-d", f"k{i}=v"] for i in range(31)), []),
            ["put", "-n", self.ns, "-m", "X"] + sum((["--value", "1"] for _ in range(151)), []),
            ["get", "-n", self.ns, "-m", "X", "--since", "3d", "--period", "60"],
            ["get", "-n", self.ns, "-m", "X", "-s", "Median"],
            ["get", "-n", self.ns, "-m", "X", "--period", "15"],
            ["get", "-n", self.ns, "-m", "X", "--period", "90"],
            ["get", "-n", self.ns, "-m", "X", "-o", "yaml"],
            ["list", "--value", "1"],
            ["frobnicate"],
        ]
        for args in bad:
            p = self.sky(*args, check=False)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("skylog metrics", p.stderr)
        p = self.sky("list", "--namespace", self.ns, "-o", "json")
        self.assertEqual(json.loads(p.stdout), [])

    def test_a_service_error_exits_1_with_its_code(self):
        p = self.sky("get", "-n", self.ns, "-m", "X", "--since", "20d", "--period", "86400",
                     "-s", "Sum", check=False)
        # 20 days back is a valid request; serve answers it (empty).
        self.assertEqual(p.returncode, 0, p.stderr)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = f"http://127.0.0.1:{s.getsockname()[1]}"
        p = sh.run_skylog(self, "metrics", "list", "--endpoint", dead, server=self.srv,
                          check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("ListMetrics", p.stderr)


@unittest.skipIf(ThreadedMotoServer is None, "moto server not installed")
class MetricsCliMoto(unittest.TestCase):
    """The same commands against moto's CloudWatch: what they send is what AWS accepts."""

    def setUp(self):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.moto.start()
        self.addCleanup(self.moto.stop)
        self.url = f"http://127.0.0.1:{port}"

    def test_put_list_get(self):
        env = {**sh.aws_env(None, "testing", "testing"), "AWS_REGION": "us-east-1"}
        run = lambda *a: sh.run_skylog(self, "metrics", *a, "--endpoint", self.url, env=env)
        run("put", "-n", "MotoNs", "-m", "Hits", "--value", "3", "-u", "Count", "-d", "Page=/")
        run("put", "-n", "MotoNs", "-m", "Hits", "--value", "4", "-u", "Count", "-d", "Page=/")
        rows = list(csv.reader(io.StringIO(run("list", "-n", "MotoNs", "-o", "csv").stdout)))
        self.assertEqual(rows[1:], [["MotoNs", "Hits", "Page=/"]])
        doc = json.loads(run("get", "-n", "MotoNs", "-m", "Hits", "-d", "Page=/", "--since",
                             "1h", "--period", "3600", "-s", "Sum", "-o", "json").stdout)
        self.assertEqual(sum(d["Sum"] for d in doc["Datapoints"]), 7)


if __name__ == "__main__":
    unittest.main()
