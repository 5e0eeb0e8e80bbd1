"""`skylog alarm put|put-composite|describe|history|delete|set-state` against `skylog serve`
(evaluated through its test hook at chosen times, so nothing depends on timing) and against
moto's CloudWatch (an emulator written without skylog): what the commands send is what the
API accepts, and what they print is what the service holds."""

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


class AlarmCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls, extra_args=["--alarm-interval", "0"],
                                         env={"SKYLOG_SERVE_TEST_HOOKS": "1"})

    def setUp(self):
        self.p = f"{uuid.uuid4().hex[:6]}-"
        self.ns = f"AlarmCli/{uuid.uuid4().hex[:6]}"
        self.t0 = (int(time.time()) // 60 - 20) * 60

    def sky(self, *args, check=True):
        return sh.run_skylog(self, *args, server=self.srv, check=check)

    def table(self, *args):
        return list(csv.DictReader(io.StringIO(self.sky("alarm", *args, "-o", "csv").stdout)))

    def evaluate(self, at_s):
        r = sh.raw_request(self.srv, "POST", f"/_skylog/evaluate-alarms?at={int(at_s * 1000)}")
        self.assertEqual(r.status, 200, r)

    def test_alarm_lifecycle_through_the_cli(self):
        p, t0 = self.p, self.t0
        self.sky("alarm", "put", p + "errors", "-n", self.ns, "-m", "Errors", "-s", "Sum",
                 "-p", "60", "-t", "10", "-c", ">", "--evaluation-periods", "2",
                 "--datapoints-to-alarm", "1", "--alarm-action", "arn:aws:sns:us-east-1:1:ops",
                 "--description", "too many errors")
        self.sky("alarm", "put", p + "latency", "-n", self.ns, "-m", "Latency", "-s", "p90",
                 "-p", "60", "-t", "100", "-c", ">=", "-d", "Endpoint=/login")
        self.sky("alarm", "put-composite", p + "unhealthy", "--rule",
                 f"ALARM({p}errors) AND ALARM({p}latency)")
        # What was put, read back with the AWS CLI (an independent reader).
        out = sh.aws(self, self.srv, "cloudwatch", "describe-alarms", "--alarm-names",
                     p + "errors", p + "latency")
        by = {a["AlarmName"]: a for a in out["MetricAlarms"]}
        self.assertEqual((by[p + "errors"]["ComparisonOperator"], by[p + "errors"]["Threshold"],
                          by[p + "errors"]["DatapointsToAlarm"],
                          by[p + "errors"]["AlarmActions"],
                          by[p + "errors"]["AlarmDescription"]),
                         ("GreaterThanThreshold", 10.0, 1, ["arn:aws:sns:us-east-1:1:ops"],
                          "too many errors"))
        self.assertEqual((by[p + "latency"]["ExtendedStatistic"],
                          by[p + "latency"]["ComparisonOperator"],
                          by[p + "latency"]["Dimensions"]),
                         ("p90", "GreaterThanOrEqualToThreshold",
                          [{"Name": "Endpoint", "Value": "/login"}]))

        # Data: errors sum 12 in minute 0 (> 10), latency values 1..200 (p90 = 180 >= 100).
        for v in (5, 7):
            self.sky("metrics", "put", "-n", self.ns, "-m", "Errors", "--value", str(v),
                     "--timestamp", str((t0 + 10) * 1000))
        self.sky("metrics", "put", "-n", self.ns, "-m", "Latency", "-d", "Endpoint=/login",
                 *sum((["--value", str(v)] for v in range(1, 151)), []),
                 "--timestamp", str((t0 + 20) * 1000))
        self.sky("metrics", "put", "-n", self.ns, "-m", "Latency", "-d", "Endpoint=/login",
                 *sum((["--value", str(v)] for v in range(151, 201)), []),
                 "--timestamp", str((t0 + 20) * 1000))
        self.evaluate(t0 + 60)
        rows = {r["NAME"]: r for r in self.table("describe", "--type", "all", "--prefix", p)}
        self.assertEqual({n[len(p):]: r["STATE"] for n, r in rows.items()},
                         {"errors": "ALARM", "latency": "ALARM", "unhealthy": "ALARM"})
        self.assertEqual(rows[p + "unhealthy"]["TYPE"], "composite")
        self.assertIn("1 out of the last 2 datapoints", rows[p + "errors"]["REASON"])
        # Default type: metric alarms only.
        self.assertEqual(sorted(r["NAME"] for r in self.table("describe", "--prefix", p)),
                         [p + "errors", p + "latency"])

        self.sky("alarm", "set-state", p + "latency", "--state", "OK", "--reason", "by hand",
                 "--reason-data", '{"ticket": 7}')
        self.assertEqual([r["NAME"] for r in self.table("describe", "--state", "OK",
                                                        "--prefix", p)], [p + "latency"])
        self.evaluate(t0 + 60)                # the next evaluation decides again
        self.assertEqual([r["STATE"] for r in self.table("describe", p + "latency")], ["ALARM"])

        hist = json.loads(self.sky("alarm", "history", p + "errors", "-o", "json").stdout)
        self.assertEqual(sorted(h["HistoryItemType"] for h in hist),
                         ["Action", "ConfigurationUpdate", "StateUpdate"])
        rows = self.table("history", p + "latency", "--item-type", "StateUpdate")
        self.assertEqual([r["SUMMARY"] for r in rows],
                         ["Alarm updated from OK to ALARM", "Alarm updated from ALARM to OK",
                          "Alarm updated from INSUFFICIENT_DATA to ALARM"])
        self.assertEqual(len(self.table("history", p + "latency", "--limit", "2")), 2)

        self.sky("alarm", "delete", p + "unhealthy", p + "errors")
        self.assertEqual([r["NAME"] for r in self.table("describe", "--type", "all",
                                                        "--prefix", p)], [p + "latency"])
        # DeleteAlarms as the API reference says: names that do not exist are ignored, the
        # others deleted (server/alarms.c)
        self.sky("alarm", "delete", p + "nope")
        self.assertEqual([r["NAME"] for r in self.table("describe", "--type", "all",
                                                        "--prefix", p)], [p + "latency"])

    def test_usage_errors_send_nothing(self):
        p = self.p
        base = ["alarm", "put", p + "x", "-n", self.ns, "-m", "M", "-s", "Sum", "-p", "60",
                "-t", "1", "-c", ">"]
        bad = [
            base[:3],                                                  # nothing but the name
            [a if a != "60" else "45" for a in base],                  # period
            [a if a != ">" else "=>" for a in base],                   # comparison
            [a if a != "Sum" else "Median" for a in base],             # statistic
            base + ["--datapoints-to-alarm", "3"],                     # > evaluation periods
            base + ["--alarm-action", "sns-topic"],                    # not an ARN
            base + ["--alarm-action", "arn:a"] * 6,                    # 6 actions
            base + ["--rule", "ALARM(a)"],                             # not for put
            ["alarm", "put-composite", p + "c"],                       # no rule
            ["alarm", "set-state", p + "x", "--state", "BROKEN", "--reason", "r"],
            ["alarm", "set-state", p + "x", "--state", "OK", "--reason", "r", "--reason-data",
             "{no"],
            ["alarm", "describe", p + "a", "--prefix", p],
            ["alarm", "delete"],
            ["alarm", "frobnicate"],
        ]
        for args in bad:
            r = self.sky(*args, check=False)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn("skylog alarm", r.stderr)
        self.assertEqual(self.table("describe", "--type", "all", "--prefix", p), [])


@unittest.skipIf(ThreadedMotoServer is None, "moto server not installed")
class AlarmCliMoto(unittest.TestCase):
    def setUp(self):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.moto.start()
        self.addCleanup(self.moto.stop)
        self.url = f"http://127.0.0.1:{port}"

    def test_put_describe_set_state_delete(self):
        env = {**sh.aws_env(None, "testing", "testing"), "AWS_REGION": "us-east-1"}
        run = lambda *a, check=True: sh.run_skylog(self, "alarm", *a, "--endpoint", self.url,
                                                   env=env, check=check)
        run("put", "cpu", "-n", "MotoNs", "-m", "CPU", "-s", "Average", "-p", "300", "-t", "80",
            "-c", ">=", "--evaluation-periods", "2", "-d", "Host=a")
        run("set-state", "cpu", "--state", "ALARM", "--reason", "test")
        rows = list(csv.DictReader(io.StringIO(run("describe", "-o", "csv").stdout)))
        self.assertEqual([(r["NAME"], r["STATE"]) for r in rows], [("cpu", "ALARM")])
        doc = json.loads(run("describe", "cpu", "-o", "json").stdout)
        a, = doc["MetricAlarms"]
        self.assertEqual((a["Period"], a["EvaluationPeriods"], a["Threshold"],
                          a["ComparisonOperator"]),
                         (300, 2, 80.0, "GreaterThanOrEqualToThreshold"))
        run("delete", "cpu")
        self.assertEqual(json.loads(run("describe", "-o", "json").stdout)["MetricAlarms"], [])


if __name__ == "__main__":
    unittest.main()
