"""End to end: skylog.CloudWatchLogHandler -> `skylog serve` -> read back with boto3.

Needs the `skylog` binary (SKYLOG_BIN, as make test sets it) and tests/integration on
sys.path (skyharness); skipped otherwise.
"""

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import time
import unittest
import uuid

import skylog

try:
    import skyharness
except ImportError:  # run outside make test without the harness
    skyharness = None


def read_all(logs, group, stream):
    out, token = [], None
    while True:
        kw = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        out += r["events"]
        if not r["events"] or r["nextForwardToken"] == token:
            return out
        token = r["nextForwardToken"]


@unittest.skipIf(skyharness is None, "tests/integration (skyharness) is not on sys.path")
class EndToEnd(unittest.TestCase):
    def setUp(self):
        skyharness.skylog_bin()  # skips without a binary
        self.srv = skyharness.start_server(self)
        self.logs = skyharness.boto3_client(self, self.srv, "logs")
        self.group = "/py/" + uuid.uuid4().hex[:8]

    def handler(self, **kw):
        h = skylog.CloudWatchLogHandler(log_group_name=self.group, boto3_client=self.logs, **kw)
        self.addCleanup(h.close)
        log = logging.getLogger("e2e." + uuid.uuid4().hex[:8])
        log.propagate = False
        log.setLevel(logging.DEBUG)
        log.addHandler(h)
        self.addCleanup(log.removeHandler, h)
        return h, log

    def test_exact_and_in_order(self):
        h, log = self.handler(log_stream_name="s1", send_interval=60,
                              log_group_retention_days=7)
        n = 3000
        with skylog.context(request_id="r-1"):
            for i in range(n):
                log.info("event %d \u00e9\u20ac", i, extra={"i": i, "odd": bool(i % 2),
                                                           "f": i / 4, "none": None})
        try:
            1 / 0
        except ZeroDivisionError:
            log.exception("boom")
        self.assertTrue(h.pipeline.flush(60000))
        evs = read_all(self.logs, self.group, "s1")
        self.assertEqual(len(evs), n + 1)
        bodies = [json.loads(e["message"]) for e in evs]
        for i, b in enumerate(bodies[:n]):
            self.assertEqual(b["message"], f"event {i} \u00e9\u20ac")
            self.assertEqual((b["i"], b["odd"], b["f"], b["none"]), (i, bool(i % 2), i / 4, None))
            self.assertEqual(b["request_id"], "r-1")
            self.assertEqual(b["logger"], log.name)
            self.assertEqual(b["level"], "INFO")
            self.assertEqual(b["module"], "test_cloudwatch_e2e")
        self.assertEqual(bodies[n]["level"], "ERROR")
        self.assertIn("ZeroDivisionError: division by zero", bodies[n]["exception"])
        ts = [e["timestamp"] for e in evs]
        self.assertEqual(ts, sorted(ts))
        st = h.pipeline.stats()
        self.assertEqual(st["cloudwatch"]["sent_events"], n + 1)
        self.assertEqual(st["dropped"], 0)
        group = self.logs.describe_log_groups(logGroupNamePrefix=self.group)["logGroups"][0]
        self.assertEqual(group.get("retentionInDays"), 7)

    def test_stream_template(self):
        h, log = self.handler(log_stream_name="{machine_name}-{strftime:%Y}-{process_id}")
        log.warning("w")
        self.assertTrue(h.pipeline.flush(60000))
        streams = self.logs.describe_log_streams(logGroupName=self.group)["logStreams"]
        year = time.strftime("%Y", time.gmtime())
        self.assertEqual([s["logStreamName"] for s in streams],
                         [f"{socket.gethostname()}-{year}-{os.getpid()}"])

    def test_use_queues_false(self):
        h, log = self.handler(log_stream_name="sync", use_queues=False)
        for i in range(10):
            log.info("s%d", i)
        self.assertTrue(h.pipeline.flush(60000))
        self.assertEqual([json.loads(e["message"])["message"]
                          for e in read_all(self.logs, self.group, "sync")],
                         [f"s{i}" for i in range(10)])

    def test_exit_without_close(self):
        env = skyharness.endpoint_env(self.srv)
        code = textwrap.dedent(f"""
            import logging, skylog
            h = skylog.CloudWatchLogHandler(log_group_name={self.group!r},
                                            log_stream_name="exit", send_interval=300)
            logging.getLogger().addHandler(h)
            for i in range(500):
                logging.getLogger("x").warning("x%d", i)
            # the interpreter exits: nothing closed, nothing flushed by hand
        """)
        p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([json.loads(e["message"])["message"]
                          for e in read_all(self.logs, self.group, "exit")],
                         [f"x{i}" for i in range(500)])


if __name__ == "__main__":
    unittest.main()
