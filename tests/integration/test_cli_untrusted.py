"""Untrusted text in every command's output (docs/CLI.md, "Untrusted text in the output").

A fake CloudWatch answers every read the CLI makes (FilterLogEvents, DescribeLogGroups,
DescribeLogStreams, GetLogEvents, StartQuery/GetQueryResults, ListMetrics, GetMetricStatistics,
DescribeAlarms, DescribeAlarmHistory) with one hostile string in every name, message, field
and value: CSI sequences (clear screen, colour), an OSC title ended by BEL, a BEL, a bare CR,
a C1 CSI (U+009B), a right-to-left override, DEL, a tab, a newline, commas and quotes. Then
each output format of tail, groups, streams, query, metrics list/get, alarm describe/history
and audit verify must hold no byte that drives a terminal, show the text escaped for people, give it back
exactly in JSON, and quote it per RFC 4180 in CSV. The service's error messages (JSON and
XML error bodies, with invalid UTF-8) go through the same rule.
"""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import time
import unittest

import skyharness
from awsfakes import FakeServer

EVIL = "A\x1b[2J\x1b[31mB\x1b]0;T\x07C\x07D\rE\u009bF\u202eG,\"H\"\nI\tJ\x7fK"
# for people: one line, every control escaped
SHOWN = 'A\\u001b[2J\\u001b[31mB\\u001b]0;T\\u0007C\\u0007D\\rE\\u009bF\\u202eG,"H"\\nI\\tJ\\u007fK'
# in a CSV field: LF and TAB kept (the field is quoted), the rest escaped as for people
IN_CSV = 'A\\u001b[2J\\u001b[31mB\\u001b]0;T\\u0007C\\u0007D\\rE\\u009bF\\u202eG,"H"\nI\tJ\\u007fK'
NOW = time.time()


def answer(req):
    target = req.headers.get("x-amz-target", "")
    op = target.rsplit(".", 1)[-1]
    body = json.loads(req.body or b"{}")
    if "/err-json" in (body.get("logGroupName"), *body.get("logGroupNames", [])) or \
            body.get("Namespace") == "ErrJson":
        return 400, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
            {"__type": "InvalidParameterException", "message": EVIL})
    if body.get("logGroupName") == "/err-xml":
        return 400, {"Content-Type": "text/xml"}, (
            b"<ErrorResponse><Error><Code>Bad\x1b[31mCode</Code><Message>m\x1b]0;t\x07 \xff\xfe"
            b" \r\n\x1b[2J end</Message></Error></ErrorResponse>")
    if body.get("logGroupName") == "/ts-edge" and op == "FilterLogEvents":
        # times no service keeps, at both ends of int64 and past what ns can hold
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"events": [
            {"logStreamName": "s", "timestamp": t, "message": "m", "eventId": str(i)}
            for i, t in enumerate((2 ** 63 - 1, -2 ** 63, 10 ** 16, -10 ** 16))]})
    ms = int(NOW * 1000)
    event = json.dumps({"level": EVIL, "logger": EVIL, "message": EVIL, EVIL: EVIL, "k": EVIL})
    answers = {
        "FilterLogEvents": {"events": [
            {"logStreamName": EVIL, "timestamp": ms, "message": EVIL, "eventId": "1"},
            {"logStreamName": EVIL, "timestamp": ms, "message": event, "eventId": "2"}]},
        "DescribeLogGroups": {"logGroups": [{"logGroupName": EVIL, "storedBytes": 1}]},
        "DescribeLogStreams": {"logStreams": [{"logStreamName": EVIL,
                                               "lastEventTimestamp": ms}]},
        "GetLogEvents": {"events": [{"timestamp": ms, "message": EVIL}],
                         "nextForwardToken": "t"},
        "StartQuery": {"queryId": "q-1"},
        "GetQueryResults": {"status": "Complete", "results": [
            [{"field": "v", "value": EVIL}, {"field": "@ptr", "value": "p"}]],
            "statistics": {"recordsMatched": 1, "recordsScanned": 1, "bytesScanned": 1}},
        "ListMetrics": {"Metrics": [{"Namespace": EVIL, "MetricName": EVIL,
                                     "Dimensions": [{"Name": EVIL, "Value": EVIL}]}]},
        "GetMetricStatistics": {"Label": EVIL, "Datapoints": [
            {"Timestamp": NOW - 120, "Unit": EVIL, "Sum": 1.0}]},
        "DescribeAlarms": {"MetricAlarms": [{"AlarmName": EVIL, "StateValue": EVIL,
                                             "StateReason": EVIL,
                                             "StateUpdatedTimestamp": NOW}],
                           "CompositeAlarms": []},
        "DescribeAlarmHistory": {"AlarmHistoryItems": [
            {"Timestamp": NOW, "AlarmName": EVIL, "HistoryItemType": EVIL,
             "HistorySummary": EVIL}]},
    }
    if op not in answers:
        return 400, {}, json.dumps({"__type": "UnknownOperationException", "message": op})
    return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(answers[op])


def inert(test, out, allowed=b"\n"):
    """No byte a terminal acts on: C0 controls but `allowed`, DEL, UTF-8 C1 controls and
    bidi marks; and valid UTF-8."""
    for i, b in enumerate(out):
        if (b < 0x20 and bytes([b]) not in allowed) or b == 0x7f:
            test.fail(f"byte {b:#04x} at {i}: {out[max(0, i - 30):i + 30]!r}")
    text = out.decode("utf-8")  # raises on invalid UTF-8
    for ch in text:
        test.assertFalse(0x80 <= ord(ch) <= 0x9f or 0x202a <= ord(ch) <= 0x202e, repr(text))
    return text


class Untrusted(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fake = FakeServer(answer)
        cls.fake.__enter__()
        cls.addClassCleanup(cls.fake.__exit__, None, None, None)

    def run_cli(self, *args, expect=0):
        env = skyharness.aws_env()
        env.update({"AWS_ENDPOINT_URL": self.fake.url, "AWS_REGION": "us-east-1",
                    "ASAN_OPTIONS": "detect_leaks=0"})
        p = subprocess.run([skyharness.skylog_bin(), *args], capture_output=True, env=env,
                           timeout=120)
        self.assertEqual(p.returncode, expect, p.stderr.decode(errors="replace"))
        return p

    def people(self, *args, count=1):
        """A format for people: inert, and the text shown escaped `count` times at least."""
        p = self.run_cli(*args)
        text = inert(self, p.stdout)
        self.assertGreaterEqual(text.count(SHOWN), count, text)
        inert(self, p.stderr)
        return text

    def as_json(self, *args):
        p = self.run_cli(*args)
        text = inert(self, p.stdout)
        self.assertNotIn("\x1b", text)
        return text

    def as_csv(self, *args, rows):
        p = self.run_cli(*args)
        text = inert(self, p.stdout, allowed=b"\n\t")
        got = list(csv.reader(io.StringIO(text, newline="")))
        self.assertEqual(len(got), rows + 1, text)  # the header, one row per record
        self.assertIn(IN_CSV, [f for row in got[1:] for f in row])
        return got

    # ---- tail --------------------------------------------------------------------------------

    def test_tail_every_format(self):
        base = ("tail", "/g", "--since", "1h")
        for fmt in ("pretty", "text", "short"):
            text = self.people(*base, "--output", fmt, count=2 if fmt == "pretty" else 1)
            self.assertEqual(len(text.splitlines()), 2, text)  # one line an event
        # pretty shows the event's level, logger, message, key and value, each escaped
        p = self.run_cli(*base, "--output", "pretty", "--color", "always")
        ours = re.compile(rb"\x1b\[[0-9;]*m")  # the colours tail writes itself
        text = inert(self, ours.sub(b"", p.stdout))
        self.assertGreaterEqual(text.count(SHOWN), 4, text)
        # (the level, logger, message and key; the value is a JSON string, read back exactly)
        line = text.splitlines()[1]
        value, _ = json.JSONDecoder().raw_decode(line, line.index(" k=") + 3)
        self.assertEqual(value, EVIL)
        # json: exact text back, escapes that keep the terminal safe
        text = self.as_json(*base, "--output", "json")
        events = [json.loads(l) for l in text.splitlines()]
        self.assertEqual(events[0]["message"], EVIL)
        self.assertEqual(events[0]["stream"], EVIL)
        self.assertEqual(json.loads(events[1]["message"])[EVIL], EVIL)
        for escaped in ("\\u009B", "\\u202E", "\\u007F", "\\u001B"):  # jansson's spelling
            self.assertIn(escaped, text)
        # raw into a pipe: the bytes as they are, for programs
        p = self.run_cli(*base, "--output", "raw", "--limit", "1")
        self.assertEqual(p.stdout, EVIL.encode() + b"\n")

    def test_tail_times_beyond_what_ns_hold(self):
        # a time is shown from ms as ns: an answer's int64 must not overflow that (UBSan)
        for fmt in ("pretty", "text", "json"):
            p = self.run_cli("tail", "/ts-edge", "--since", "1h", "--output", fmt)
            self.assertEqual(len(p.stdout.splitlines()), 4, p.stdout)
            self.assertNotIn(b"runtime error", p.stderr)

    def test_tail_raw_on_a_terminal_is_escaped(self):
        if not shutil.which("script"):
            self.skipTest("script(1) is not installed (util-linux)")
        env = skyharness.aws_env()
        env.update({"AWS_ENDPOINT_URL": self.fake.url, "AWS_REGION": "us-east-1",
                    "ASAN_OPTIONS": "detect_leaks=0"})
        cmd = " ".join([skyharness.skylog_bin(), "tail", "/g", "--since", "1h", "--output",
                        "raw", "--limit", "1"])
        p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, env=env,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout)
        out = p.stdout.replace(b"\r\n", b"\n")  # the terminal's own line ends
        self.assertEqual(inert(self, out), SHOWN + "\n")

    # ---- groups, streams ---------------------------------------------------------------------

    def test_groups_and_streams(self):
        for cmd in (("groups",), ("streams", "/g")):
            self.people(*cmd)
            text = self.as_json(*cmd, "--json")
            item = json.loads(text)
            self.assertEqual(item.get("logGroupName", item.get("logStreamName")), EVIL)

    # ---- query -------------------------------------------------------------------------------

    def test_query_every_format(self):
        q = ("query", "-g", "/g", "fields v")
        text = self.people(*q)
        self.assertEqual(text.splitlines()[0].rstrip(), "v")
        self.assertEqual(len(text.splitlines()), 3, text)  # header, rule, the row
        rows = [json.loads(l) for l in self.as_json(*q, "-o", "json").splitlines()]
        self.assertEqual(rows, [{"v": EVIL, "@ptr": "p"}])
        got = self.as_csv(*q, "-o", "csv", rows=1)
        self.assertEqual(got, [["v"], [IN_CSV]])

    # ---- metrics -----------------------------------------------------------------------------

    def test_metrics_list_and_get(self):
        self.people("metrics", "list", count=3)
        self.assertEqual(json.loads(self.as_json("metrics", "list", "-o", "json"))[0]
                         ["Dimensions"][0]["Value"], EVIL)
        got = self.as_csv("metrics", "list", "-o", "csv", rows=1)
        self.assertEqual(got[1][:2], [IN_CSV, IN_CSV])
        self.assertEqual(got[1][2], f"{IN_CSV}={IN_CSV}")
        get = ("metrics", "get", "-n", "N", "-m", "M", "--since", "1h", "-s", "Sum")
        self.people(*get, "--chart", "always")
        doc = json.loads(self.as_json(*get, "-o", "json"))
        self.assertEqual(doc["Label"], EVIL)
        self.assertEqual(doc["Datapoints"][0]["Unit"], EVIL)
        got = self.as_csv(*get, "-o", "csv", rows=1)
        self.assertEqual(got[1][1], IN_CSV)

    # ---- alarm -------------------------------------------------------------------------------

    def test_alarm_describe_and_history(self):
        for sub, n in (("describe", 3), ("history", 3)):
            self.people("alarm", sub, count=n)
            self.as_json("alarm", sub, "-o", "json")
            got = self.as_csv("alarm", sub, "-o", "csv", rows=1)
            self.assertEqual(sum(f == IN_CSV for f in got[1]), n)
        doc = json.loads(self.as_json("alarm", "describe", "-o", "json"))
        self.assertEqual(doc["MetricAlarms"][0]["StateReason"], EVIL)

    # ---- audit verify ------------------------------------------------------------------------

    def test_audit_verify_names_the_stream_safely(self):
        """Every stream of the group is verified (names from DescribeLogStreams): the verdict
        line names the stream escaped."""
        p = self.run_cli("audit", "verify", "--group", "/g", expect=1)
        text = inert(self, p.stdout)
        self.assertTrue(text.startswith(f"/g {SHOWN}: entry 1 "), text)
        inert(self, p.stderr)

    # ---- the service's errors ----------------------------------------------------------------

    def test_error_messages_are_escaped(self):
        cases = [("tail", "/err-json", "--since", "1h"), ("streams", "/err-json"),
                 ("query", "-g", "/err-json", "fields v"),
                 ("metrics", "list", "--namespace", "ErrJson")]
        for args in cases:
            p = self.run_cli(*args, expect=1)
            err = inert(self, p.stderr)
            self.assertIn("InvalidParameterException: " + SHOWN, err)
            self.assertEqual(len(err.splitlines()), 1, err)
        # ship: the library's diagnostic and ship's summary both quote the refusal
        env = skyharness.aws_env()
        env.update({"AWS_ENDPOINT_URL": self.fake.url, "AWS_REGION": "us-east-1",
                    "ASAN_OPTIONS": "detect_leaks=0"})
        p = subprocess.run([skyharness.skylog_bin(), "ship", "--group", "/err-json", "--stream",
                            "s"], input=b"line\n", capture_output=True, env=env, timeout=120)
        self.assertEqual(p.returncode, 1, p.stderr)
        err = inert(self, p.stderr)
        self.assertIn("skylog: ERROR: cloudwatch: PutLogEvents rejected 1 events: "
                      "InvalidParameterException (HTTP 400): " + SHOWN + "\n", err)
        self.assertIn("  last error: InvalidParameterException (HTTP 400): " + SHOWN + "\n", err)
        p = self.run_cli("tail", "/err-xml", "--since", "1h", expect=1)
        err = inert(self, p.stderr)
        self.assertIn("Bad\\u001b[31mCode", err)
        self.assertIn("m\\u001b]0;t\\u0007 \\xff\\xfe \\r\\n\\u001b[2J end", err)


if __name__ == "__main__":
    unittest.main()
