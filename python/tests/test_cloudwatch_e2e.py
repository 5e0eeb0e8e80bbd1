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
import support

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


class FailingEndpoint(unittest.TestCase):
    """An endpoint whose group does not exist and cannot be created now (CreateLogGroup answers
    500): delivery's state in stats(), and max_retries=0 meaning no retries, not the default."""

    def setUp(self):
        self.seen = []
        seen = self.seen
        self.throttle = False  # answer every call with ThrottlingException

        def answer(op):
            seen.append(op)
            if self.throttle:
                status, kind = 400, "ThrottlingException"
            elif op == "PutLogEvents":
                status, kind = 400, "ResourceNotFoundException"
            else:
                status, kind = 500, "ServiceUnavailableException"
            return status, {"__type": kind, "message": "not now"}

        self.url = support.aws_json_server(self, answer)
        # the retry count of a sink given none comes from these: the default (3) is wanted
        for k in ("AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_CONFIG_FILE", "AWS_PROFILE"):
            if k in os.environ:
                self.addCleanup(os.environ.__setitem__, k, os.environ.pop(k))
        os.environ["AWS_CONFIG_FILE"] = os.path.join(os.path.dirname(__file__), "no-such-file")
        self.addCleanup(os.environ.pop, "AWS_CONFIG_FILE")

    def failing(self, until=lambda cw: cw["failures_in_a_row"] >= 1, **kw):
        """A pipeline (self.pipe) whose sink has failed at least once (or until `until`); its
        stats()["cloudwatch"]."""
        pipe = self.pipe = skylog.Pipeline(mode="async", close_timeout_ms=200)
        self.addCleanup(pipe.close)
        pipe.add_cloudwatch(log_group="/py/failing", log_stream="s", region="us-east-1",
                            endpoint=self.url,
                            access_key_id="AKIDEXAMPLE", secret_access_key="secret",
                            flush_interval_ms=10, **kw)
        logger = logging.getLogger("failing." + uuid.uuid4().hex[:8])
        logger.propagate = False
        h = skylog.Handler(pipeline=pipe)
        logger.addHandler(h)
        self.addCleanup(logger.removeHandler, h)
        logger.warning("kept")
        deadline = time.monotonic() + 60
        while True:
            cw = pipe.stats()["cloudwatch"]
            if until(cw):
                return cw
            self.assertLess(time.monotonic(), deadline, f"never failed: {cw} {self.seen}")
            time.sleep(0.01)

    def test_state_while_failing(self):
        before_ms = time.monotonic_ns() // 1000000
        cw = self.failing()
        now_ms = time.monotonic_ns() // 1000000
        # the same clock as time.monotonic_ns(): the first failure was during this test
        self.assertGreaterEqual(cw["failing_since_mono_ms"], before_ms)
        self.assertLessEqual(cw["failing_since_mono_ms"], now_ms)
        self.assertIs(cw["throttled"], False)  # a 500, not a throttling answer
        # a retry is planned (0 only while it is being sent), never before the failure
        if cw["retry_at_mono_ms"]:
            self.assertGreaterEqual(cw["retry_at_mono_ms"], cw["failing_since_mono_ms"])
        self.assertEqual(cw["sent_events"], 0)
        self.assertIn("not now", cw["last_error"])
        # explicit keys: resolved once, never failed, nothing to retry
        self.assertEqual(cw["creds_refreshes"], 1)
        self.assertEqual((cw["creds_failures"], cw["creds_retries"], cw["creds_throttles"]),
                         (0, 0, 0))
        # the event is held for a retry, not dropped
        self.assertEqual((cw["accepted"], cw["sent_events"], cw["ambiguous"]), (1, 0, 0))
        self.assertEqual(sum(cw["dropped"].values()) + sum(cw["rejected"].values()), 0)
        self.assertIs(cw["sender_alive"], True)
        # the sink's entry: the same sink, and its provider's whole counters
        sink, = self.pipe.stats()["sinks"]
        self.assertEqual(sink["name"], "cloudwatch_logs")
        self.assertEqual(sink["cloudwatch"]["accepted"], 1)
        creds = sink["creds"]
        self.assertEqual((creds["refreshes"], creds["failures"], creds["stale_used"],
                          creds["last_error"]), (1, 0, 0, ""))

    def test_throttled(self):
        # throttling answers: counted, the state says so, and it is not a failure in a row
        self.throttle = True
        cw = self.failing(until=lambda cw: cw["throttles"] >= 1 and cw["throttled"])
        self.assertIn("Throttling", cw["last_error"])
        self.assertEqual(cw["failures_in_a_row"], 0)
        self.assertEqual(cw["sent_events"], 0)

    def test_max_retries_zero_is_none(self):
        # each failed attempt at the batch is one retry of the sink's own; the AWS layer's
        # retries of CreateLogGroup come on top: none with max_retries=0
        cw = self.failing(max_retries=0)
        self.assertEqual(cw["retries"], cw["failures_in_a_row"])
        self.assertLessEqual(self.seen.count("CreateLogGroup"), cw["failures_in_a_row"] + 1)

    def test_max_retries_left_out_is_the_default(self):
        cw = self.failing()
        self.assertGreaterEqual(cw["retries"], 4 * cw["failures_in_a_row"])

    def test_max_retries_counts(self):
        cw = self.failing(max_retries=2)
        self.assertGreaterEqual(cw["retries"], 3 * cw["failures_in_a_row"])
        self.assertGreaterEqual(self.seen.count("CreateLogGroup"), 3)

    def test_max_retries_out_of_range(self):
        pipe = skylog.Pipeline(mode="sync")
        self.addCleanup(pipe.close)
        for bad, err in ((-1, "must not be negative"), (101, "max_retries must be 0..100")):
            with self.assertRaisesRegex(ValueError, err):
                pipe.add_cloudwatch(log_group="/g", region="us-east-1", max_retries=bad)


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
        # structured=True: skylog's JSON events (watchtower's text: test_watchtower_parity.py)
        h, log = self.handler(log_stream_name="s1", send_interval=60,
                              log_group_retention_days=7, structured=True)
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
        cw = st["cloudwatch"]
        # delivered: nothing failing, nothing planned; the keys came from the boto3 client
        self.assertEqual((cw["failures_in_a_row"], cw["failing_since_mono_ms"], cw["throttled"],
                          cw["retry_at_mono_ms"]), (0, 0, False, 0))
        self.assertGreaterEqual(cw["creds_refreshes"], 1)
        self.assertEqual((cw["creds_failures"], cw["creds_retries"], cw["creds_throttles"]),
                         (0, 0, 0))
        # every event accepted, sent and counted as AWS counts bytes (UTF-8 + 26 each)
        self.assertEqual((cw["accepted"], cw["queued_events"], cw["queued_bytes"]), (n + 1, 0, 0))
        self.assertEqual(cw["sent_bytes"], sum(len(e["message"].encode()) + 26 for e in evs))
        self.assertEqual((cw["ambiguous"], cw["throttles"], cw["persistent_error"]),
                         (0, 0, False))
        self.assertEqual(sum(cw["dropped"].values()) + sum(cw["rejected"].values()), 0)
        self.assertGreater(cw["last_success_ms"], (time.time() - 600) * 1000)
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
        self.assertEqual([e["message"] for e in read_all(self.logs, self.group, "sync")],
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
        self.assertEqual([e["message"] for e in read_all(self.logs, self.group, "exit")],
                         [f"x{i}" for i in range(500)])


if __name__ == "__main__":
    unittest.main()
