"""OTLP's partial success end to end: the library's OTLP sink (src/sinks/otlp.c) sends log
records `skylog serve` does not store (stamped outside CloudWatch's window: serve's clock is
moved 15 days ahead by its test hook, so events stamped now are too old), serve answers 200 with
partialSuccess (server/ingest.c), and the sink counts exactly those records as
`partial_rejected`, not `sent_events`, without sending them again, in both encodings. A serve
on the real clock stores them all and the counter stays 0. The parser's own cases (malformed,
huge, empty answers) are tests/unit/test_otlp_partial.c."""
import json
import os
import subprocess
import unittest

import skyharness as sh

TOOL = os.path.join(os.environ.get("SKYLOG_BUILD_DIR", ""), "tests", "tools", "sky_http_tool")
TOKEN = "ps-token"
N = 12
DAY_MS = 24 * 3600 * 1000


def tool(test, url, group, proto):
    if not os.path.exists(TOOL):
        raise unittest.SkipTest("sky_http_tool not built")
    env = {k: v for k, v in os.environ.items() if "OTEL_" not in k}
    p = subprocess.run([TOOL, "otlp", url, str(N), "max_backoff_ms=100", "signals=logs",
                        f"protocol={proto}", f"bearer_token={TOKEN}",
                        f"headers=x-aws-log-group={group},x-aws-log-stream=s"],
                       capture_output=True, text=True, env=env, timeout=300 * sh.timeout_scale())
    test.assertEqual(p.returncode, 0, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


class Base(unittest.TestCase):
    OFFSET_MS = 0

    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(
            cls, auth="sigv4", bearer_token=TOKEN,
            env={"SKYLOG_SERVE_TEST_HOOKS": "1",
                 "SKYLOG_SERVE_TEST_CLOCK_OFFSET_MS": str(cls.OFFSET_MS)})

    def stored(self, group):
        # serve checks SigV4's skew on the real clock: its moved one is for events only
        logs = sh.boto3_client(self, self.srv, "logs")
        out = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)
        return len(out["events"])


class TestServeRejects(Base):
    OFFSET_MS = 15 * DAY_MS  # serve's now is 15 days ahead: the sink's events are too old

    def test_rejected_records_are_counted(self):
        for proto in ("http/json", "http/protobuf"):
            with self.subTest(proto=proto):
                group = "partial-" + proto.split("/")[1]
                st, err = tool(self, self.srv.url, group, proto)
                self.assertEqual(self.stored(group), 0)  # serve kept none of them...
                self.assertEqual(st["partial_rejected"], N, st)  # ...and the sink counts each
                self.assertEqual(st["sent_events"], 0, st)
                self.assertEqual((st["retries"], st["received"]), (0, N), st)  # never resent
                self.assertGreaterEqual(st["requests"], 1)
                self.assertIn("14 days", err)  # said, with serve's reason
                self.assertIn("rejected", err)


class TestServeStores(Base):
    def test_nothing_rejected(self):
        st, err = tool(self, self.srv.url, "kept", "http/protobuf")
        self.assertEqual(self.stored("kept"), N)
        self.assertEqual((st["partial_rejected"], st["sent_events"]), (0, N), st)
        self.assertNotIn("rejected", err)


if __name__ == "__main__":
    unittest.main()
