"""Audit chains through CloudWatch: an audit file shipped with `skylog ship` keeps its chain
fields, and `skylog audit verify --group G [--stream S]` checks the chain read back from
`skylog serve` - intact, tampered (a changed entry put into the stream, a deleted one), delivered
twice, and stored out of sequence order (docs/AUDIT.md, "Through CloudWatch")."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import skyharness
from skyharness import run_skylog

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
WRITER = os.path.join(BUILD, "tests", "tools", "sky_audit_writer")
KEY = "CANARY-audit-cw-key-77a1"


class AuditCloudWatch(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(WRITER):
            raise unittest.SkipTest(f"{WRITER} not built")
        self.tmp = tempfile.mkdtemp(prefix="skylog-auditcw-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.srv = skyharness.start_server(self)
        self.logs = skyharness.boto3_client(self, self.srv, "logs")
        self.key = os.path.join(self.tmp, "key")
        with open(self.key, "w") as f:
            f.write(KEY + "\n")
        self.path = os.path.join(self.tmp, "audit.jsonl")
        p = subprocess.run([WRITER, self.path, "200", "1", self.key], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.path) as f:
            self.lines = f.read().splitlines()

    def ship(self, path, stream):
        run_skylog(self, "ship", "--endpoint", self.srv.url, "--group", "/audit", "--stream",
                   stream, "--checkpoint", os.path.join(self.tmp, stream + ".cp"), "--resume",
                   path, env=skyharness.aws_env(self.srv))

    def verify(self, *args):
        p = run_skylog(self, "audit", "verify", "--endpoint", self.srv.url, "--group", "/audit",
                       "--key-file", self.key, *args, env=skyharness.aws_env(self.srv),
                       check=False)
        self.assertNotIn(KEY, p.stdout + p.stderr)
        return p

    def test_shipped_chain_verifies_and_keeps_its_fields(self):
        self.ship(self.path, "a")
        got = self.logs.get_log_events(logGroupName="/audit", logStreamName="a",
                                       startFromHead=True)["events"]
        self.assertEqual([e["message"] for e in got], self.lines)  # byte for byte
        first = json.loads(got[0]["message"])
        self.assertEqual((first["seq"], first["prev"]), (1, "0" * 64))
        self.assertIn("hash", first)
        self.assertIn("hmac", first)
        p = self.verify("--stream", "a")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("/audit a: intact: 200 entries (seq 1..200), 0 duplicate deliveries "
                      "ignored", p.stdout)
        self.assertIn("HMAC verified", p.stdout)
        # without --key-file the HMACs are seen, not checked
        p = run_skylog(self, "audit", "verify", "--endpoint", self.srv.url, "--group", "/audit",
                       env=skyharness.aws_env(self.srv), check=False)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("present, not checked", p.stdout)

    def test_a_changed_entry_put_into_the_stream_is_named(self):
        self.ship(self.path, "a")
        forged = json.loads(self.lines[49])
        forged["i"] = 4242  # a changed copy of entry 50, as another writer could put it
        self.logs.put_log_events(logGroupName="/audit", logStreamName="a", logEvents=[
            {"timestamp": skyharness.now_ms(),
             "message": json.dumps(forged, separators=(",", ":"))}])
        p = self.verify("--stream", "a")
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("/audit a: entry 51 in sequence order", p.stdout)
        self.assertIn("50 entries verified before the break", p.stdout)

    def test_a_deleted_entry_is_named_and_every_stream_is_checked(self):
        self.ship(self.path, "a")
        cut = os.path.join(self.tmp, "cut.jsonl")
        with open(cut, "w") as f:
            f.write("\n".join(self.lines[:99] + self.lines[100:]) + "\n")
        self.ship(cut, "b")
        p = self.verify("--stream", "b")
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("/audit b: entry 100 in sequence order", p.stdout)
        self.assertIn(": deleted: ", p.stdout)
        p = self.verify()  # both streams: a is intact, b is not
        self.assertEqual(p.returncode, 1, p.stdout)
        self.assertIn("/audit a: intact: 200 entries", p.stdout)
        self.assertIn("/audit b: entry 100", p.stdout)

    def test_duplicates_and_time_order_are_not_breaks(self):
        # entries put with times that do not follow their sequence (two threads, one
        # millisecond), and one entry delivered twice
        t = skyharness.now_ms()
        events = [{"timestamp": t + i, "message": m} for i, m in enumerate(self.lines)]
        events[10]["timestamp"], events[11]["timestamp"] = t + 11, t + 10
        events.sort(key=lambda e: e["timestamp"])
        events.insert(30, dict(events[29]))  # the same bytes again
        self.logs.create_log_group(logGroupName="/audit")
        self.logs.create_log_stream(logGroupName="/audit", logStreamName="c")
        self.logs.put_log_events(logGroupName="/audit", logStreamName="c", logEvents=events)
        stored = self.logs.get_log_events(logGroupName="/audit", logStreamName="c",
                                          startFromHead=True)["events"]
        self.assertNotEqual([e["message"] for e in stored][10:12], self.lines[10:12])
        p = self.verify("--stream", "c")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("intact: 200 entries (seq 1..200), 1 duplicate deliveries ignored",
                      p.stdout)

    def test_usage(self):
        p = run_skylog(self, "audit", "verify", "--group", "/audit", self.path, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("a FILE or --group, not both", p.stderr)
        p = run_skylog(self, "audit", "verify", "--group", "/audit", "--strem", "x",
                       check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--stream", p.stderr)


if __name__ == "__main__":
    unittest.main()
