"""The service client against moto's server, an emulator written independently of skylog:
awsJson 1.1 calls to CloudWatch Logs (create, put, read back, a typed error) and an awsQuery call
to CloudWatch metrics. Skips when moto (with its server extras) is not installed.

moto runs in-process (ThreadedMotoServer) on 127.0.0.1 and a port picked by the OS; each test
stops it.
"""
import json
import logging
import os
import shutil
import socket
import tempfile
import time
import unittest

from awsfakes import TOOL, base_env, run_tool

try:
    from moto.server import ThreadedMotoServer
except Exception:  # pragma: no cover - moto or flask absent
    ThreadedMotoServer = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipIf(ThreadedMotoServer is None, "moto server not installed: moto tests skipped")
@unittest.skipIf(not os.path.exists(TOOL), f"{TOOL} not built: moto tests skipped")
class Moto(unittest.TestCase):
    def setUp(self):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request lines
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="skymoto.")
        self.env = base_env(self.tmp)
        self.env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                        AWS_REGION="us-east-1")

    def tearDown(self):
        self.server.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def call(self, target, body, service="logs", query=False):
        args = ["call", "--endpoint", self.url, "--service", service, "--body", json.dumps(body)
                if not query else body]
        args += ["--query"] if query else ["--target", target]
        rc, objs, text = run_tool(args, self.env)
        self.assertEqual(len(objs), 1, text)
        return objs[0]

    def test_logs_round_trip(self):
        o = self.call("Logs_20140328.CreateLogGroup", {"logGroupName": "/skylog/moto"})
        self.assertEqual(o["status"], "ok", o)
        o = self.call("Logs_20140328.CreateLogStream",
                      {"logGroupName": "/skylog/moto", "logStreamName": "s1"})
        self.assertEqual(o["status"], "ok", o)
        now = int(time.time() * 1000)
        events = [{"timestamp": now + i, "message": f"event {i} \u00e9"} for i in range(3)]
        o = self.call("Logs_20140328.PutLogEvents", {"logGroupName": "/skylog/moto",
                                                     "logStreamName": "s1", "logEvents": events})
        self.assertEqual(o["status"], "ok", o)
        o = self.call("Logs_20140328.GetLogEvents", {"logGroupName": "/skylog/moto",
                                                     "logStreamName": "s1", "startFromHead": True})
        self.assertEqual(o["status"], "ok", o)
        got = [e["message"] for e in json.loads(o["body"])["events"]]
        self.assertEqual(got, [e["message"] for e in events])
        # a typed, non-retryable service error
        o = self.call("Logs_20140328.CreateLogGroup", {"logGroupName": "/skylog/moto"})
        self.assertEqual(o["code"], "ResourceAlreadyExistsException", o)
        self.assertEqual(o["status"], "remote service error")
        self.assertEqual(o["attempts"], 1)
        self.assertFalse(o["retryable"])

    def test_metrics_query_protocol(self):
        body = ("Action=PutMetricData&Version=2010-08-01&Namespace=Skylog"
                "&MetricData.member.1.MetricName=requests&MetricData.member.1.Value=3"
                "&MetricData.member.1.Unit=Count")
        o = self.call(None, body, service="monitoring", query=True)
        self.assertEqual(o["status"], "ok", o)
        o = self.call(None, "Action=ListMetrics&Version=2010-08-01&Namespace=Skylog",
                      service="monitoring", query=True)
        self.assertEqual(o["status"], "ok", o)
        self.assertIn("<MetricName>requests</MetricName>", o["body"])


if __name__ == "__main__":
    unittest.main()
