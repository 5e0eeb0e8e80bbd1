"""`skylog tail` next to `aws logs tail`: the group as an argument, --filter-pattern and --format,
text lines 'TIMESTAMP STREAM MESSAGE' on a pipe, JSON with --output json; split events joined
back; pretty output's colour rules, dates and level alignment; clear usage errors.
"""

import json
import os
import re
import shutil
import subprocess
import time
import unittest

import skyharness
from awsfakes import FakeServer

DAY = 24 * 3600 * 1000


def tail(srv, *args, env=None):
    e = skyharness.aws_env(srv)
    e.update(env or {})
    return subprocess.run([skyharness.skylog_bin(), "tail", "--endpoint", srv.url, *args],
                          capture_output=True, text=True, env=e, timeout=120)


def put(test, srv, group, stream, events):
    logs = skyharness.boto3_client(test, srv, "logs")
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": t, "message": m} for t, m in events])


class TailCli(unittest.TestCase):
    def test_split_event_reassembled(self):
        srv = skyharness.start_server(self)
        # > 256 KiB, multi-byte characters across the cuts, JSON so it has a field to check
        big = json.dumps({"message": "big", "blob": "é€x" * 50000 + "end"}, ensure_ascii=False)
        self.assertGreater(len(big.encode()), 256 * 1024)
        p = subprocess.run([skyharness.skylog_bin(), "ship", "--endpoint", srv.url, "--group",
                            "/tail/split", "--stream", "s", "--max-event-bytes", "262144",
                            "--oversize", "split"], input="before\n" + big + "\nafter\n",
                           capture_output=True, text=True, env=skyharness.aws_env(srv),
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = tail(srv, "/tail/split", "--since", "1h", "--output", "raw")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "before\n" + big + "\nafter\n")
        p = tail(srv, "/tail/split", "--since", "1h", "--output", "json")
        msgs = [json.loads(l)["message"] for l in p.stdout.splitlines()]
        self.assertEqual(msgs, ["before", big, "after"])
        # --no-reassemble shows the pieces as stored
        p = tail(srv, "/tail/split", "--since", "1h", "--output", "raw", "--no-reassemble")
        parts = p.stdout.splitlines()[1:-1]
        self.assertGreaterEqual(len(parts), 2)
        n = len(parts)
        for i, part in enumerate(parts, 1):
            self.assertTrue(part.startswith(f"[part {i}/{n}] "), part[:30])
        self.assertEqual("".join(x.split("] ", 1)[1] for x in parts), big)

    def test_incomplete_parts_are_shown_as_they_are(self):
        srv = skyharness.start_server(self)
        now = skyharness.now_ms()
        put(self, srv, "/tail/parts", "s", [(now, "[part 1/3] a"), (now, "[part 2/3] b"),
                                            (now + 1, "plain"), (now + 2, "[part 1/2] c"),
                                            (now + 2, "[part 2/2] d")])
        p = tail(srv, "/tail/parts", "--since", "1h", "--output", "raw")
        self.assertEqual(p.stdout.splitlines(), ["[part 1/3] a", "[part 2/3] b", "plain", "cd"])

    def test_reassembly_holds_a_bounded_amount(self):
        """Parts come from whoever writes to the group: a run of more than 10,000 parts, or of
        more than 64 MiB, is shown piece by piece instead of held without end; a run within
        both is still joined, after one that was not."""
        now = skyharness.now_ms()
        mib = "y" * (1 << 20)
        runs = {
            # 10,002 parts: the 10,001st would pass 10,000 held
            "/tail/many": [f"[part {i}/10002] x" for i in range(1, 10003)],
            # 70 parts of 1 MiB: the 65th would pass 64 MiB held (pages under 16 MiB each)
            "/tail/big": [f"[part {i}/70] {mib}" for i in range(1, 71)],
        }
        for runs_msgs in runs.values():
            runs_msgs += ["[part 1/3] a", "[part 2/3] b", "[part 3/3] c"]
        per_page = {"/tail/many": 5000, "/tail/big": 12}

        def answer(req):
            body = json.loads(req.body or b"{}")
            msgs = runs.get(body.get("logGroupName"))
            if msgs is None or not req.headers.get("x-amz-target", "").endswith("FilterLogEvents"):
                return 400, {}, json.dumps({"__type": "ResourceNotFoundException",
                                            "message": "no"})
            at = int(body.get("nextToken") or 0)
            n = per_page[body["logGroupName"]]
            page = {"events": [{"logStreamName": "s", "timestamp": now, "message": m,
                                "eventId": str(k)} for k, m in enumerate(msgs[at:at + n], at)]}
            if at + n < len(msgs):
                page["nextToken"] = str(at + n)
            return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(page)

        with FakeServer(answer) as fake:
            env = skyharness.aws_env()
            env.update({"AWS_ENDPOINT_URL": fake.url, "AWS_REGION": "us-east-1"})
            for group, msgs in runs.items():
                p = subprocess.run([skyharness.skylog_bin(), "tail", group, "--since", "1h",
                                    "--output", "raw"], capture_output=True, env=env,
                                   timeout=300)
                self.assertEqual(p.returncode, 0, p.stderr[-2000:])
                lines = p.stdout.decode().splitlines()
                self.assertEqual(lines[:-1], msgs[:-3], group)  # every piece, as it came
                self.assertEqual(lines[-1], "abc", group)

    def test_aws_style_arguments_and_text_output(self):
        srv = skyharness.start_server(self)
        now = skyharness.now_ms()
        put(self, srv, "/tail/aws", "web-1", [(now - 1000, "GET / 200"), (now, "ERROR boom")])
        # positional group, piped: aws's detailed format
        p = tail(srv, "/tail/aws")
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 web-1 GET / 200$")
        t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now / 1000))
        self.assertEqual(lines[1], f"{t}.{now % 1000:03d}000+00:00 web-1 ERROR boom")
        p = tail(srv, "/tail/aws", "--filter-pattern", "ERROR", "--format", "short")
        self.assertEqual(p.stdout, f"{t} ERROR boom\n")
        p = tail(srv, "/tail/aws", "--format", "json")
        self.assertEqual([json.loads(l)["message"] for l in p.stdout.splitlines()],
                         ["GET / 200", "ERROR boom"])
        p = tail(srv, "--group", "/tail/aws", "--format", "detailed", "--limit", "1")
        self.assertIn(" web-1 GET / 200", p.stdout)

    def test_pretty_output(self):
        srv = skyharness.start_server(self)
        now = skyharness.now_ms()
        ev = lambda lv: json.dumps({"timestamp": "x", "level": lv, "logger": "app",
                                    "message": "m", "err": "ENOENT: No such file or directory"})
        put(self, srv, "/tail/pretty", "s", [(now - 2 * DAY, ev("INFO"))])
        put(self, srv, "/tail/pretty", "t", [(now, ev("CRITICAL")), (now, "bell \x1b[31m")])
        p = tail(srv, "/tail/pretty", "--since", "3d", "--output", "pretty")
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 3, p.stdout)
        self.assertNotIn("\x1b", p.stdout)  # piped: no colour, and no escape from the data
        self.assertIn("\\u001b[31m", lines[2])
        # the range spans days: every timestamp has its date
        self.assertRegex(lines[0], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} s INFO ")
        # CRITICAL is as wide as the column: what follows it starts where it does for INFO
        self.assertEqual(lines[0].index("[app]"), lines[1].index("[app]"))
        self.assertIn('err="ENOENT: No such file or directory"', lines[1])
        before = skyharness.now_ms()
        p = tail(srv, "/tail/pretty", "--since", "1h", "--output", "pretty")
        after = skyharness.now_ms()
        # within an hour after midnight UTC the last hour spans two days, and the dates are
        # shown (as above): the time alone only when the range cannot have crossed one
        same_day = (before - 3600 * 1000) // DAY == after // DAY
        date = "" if same_day else r"(\d{4}-\d\d-\d\d )?"
        self.assertRegex(p.stdout.splitlines()[0],
                         "^" + date + r"\d\d:\d\d:\d\d\.\d{3} t CRITICAL \[app\]")
        p = tail(srv, "/tail/pretty", "--since", "1h", "--output", "pretty", "--color", "always")
        self.assertIn("\x1b[1;41;97mCRITICAL\x1b[0m", p.stdout)

    def test_colour_on_a_terminal_only_and_no_color(self):
        if not shutil.which("script"):
            self.skipTest("script(1) is not installed (util-linux)")
        srv = skyharness.start_server(self)
        put(self, srv, "/tail/tty", "s", [(skyharness.now_ms(), '{"level":"ERROR","message":"m"}')])
        cmd = " ".join([skyharness.skylog_bin(), "tail", "--endpoint", srv.url, "/tail/tty"])
        for no_color, coloured in (("", True), ("1", False)):
            env = skyharness.aws_env(srv)
            env["NO_COLOR"] = no_color
            p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True,
                               text=True, env=env, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout)
            self.assertIn("ERROR", p.stdout)
            self.assertEqual("\x1b[31mERROR" in p.stdout, coloured, repr(p.stdout))

    def test_usage_errors(self):
        srv = skyharness.start_server(self)
        p = tail(srv)
        self.assertEqual(p.returncode, 2)
        self.assertIn("a log group is required: skylog tail GROUP", p.stderr)
        p = tail(srv, "/g", "extra")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unexpected argument 'extra'", p.stderr)
        p = tail(srv, "/g", "--fllow")
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown option '--fllow'; did you mean '--follow'?", p.stderr)
        p = tail(srv, "/g", "--format", "fancy")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--format: expected pretty, text (or detailed), short, json or raw", p.stderr)


if __name__ == "__main__":
    unittest.main()
