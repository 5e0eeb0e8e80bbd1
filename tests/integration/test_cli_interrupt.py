"""A command that reads a list page by page, stopped by SIGINT or SIGTERM between two pages:
it asks for no further page, exits 128+N with one line saying so, and prints nothing it cannot
print whole. groups, streams and tail print each page as it comes (whole lines: the handler only
sets a flag); metrics list and alarm describe print one table at the end, so they print none (a
table of part of the pages would look complete).

Nothing here is timed: the fake endpoint holds the second page until the test has seen the
command's request for it and the signal has been taken (the kernel's pending mask, read in
/proc), and the command must not ask for a third page although the second one offers it.
"""

import json
import signal
import subprocess
import threading
import unittest

import skyharness as sh
from awsfakes import FakeServer, fake_aws_setup


wait_for = sh.wait_for


# op -> (the list's member, one item of page n, the token's name)
PAGES = {
    "DescribeLogGroups": ("logGroups", lambda n: {"logGroupName": f"/page{n}/g",
                                                 "storedBytes": n}, "nextToken"),
    "DescribeLogStreams": ("logStreams", lambda n: {"logStreamName": f"page{n}-s",
                                                   "lastEventTimestamp": 1700000000000},
                           "nextToken"),
    "FilterLogEvents": ("events", lambda n: {"logStreamName": "s", "timestamp": 1700000000000 + n,
                                             "message": f"event of page {n}",
                                             "eventId": str(n)}, "nextToken"),
    "ListMetrics": ("Metrics", lambda n: {"Namespace": "Int", "MetricName": f"page{n}",
                                          "Dimensions": []}, "NextToken"),
    "DescribeAlarms": ("MetricAlarms", lambda n: {"AlarmName": f"page{n}", "StateValue": "OK",
                                                  "StateReason": "r"}, "NextToken"),
}


class PagedInterrupt(unittest.TestCase):
    def setUp(self):
        fake_aws_setup(self, "skycliint.")

    def run_held(self, args, sig, handler, held, release, what):
        """Runs skylog args against an endpoint answering with handler, which sets `held` when
        it holds the request the signal must come during, until `release` is set; sends `sig`
        then, and releases the request once the signal was taken. Returns (rc, out, err)."""
        with FakeServer(handler) as srv:
            proc = subprocess.Popen([sh.skylog_bin(), *args, "--endpoint", srv.url],
                                    env=self.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            self.addCleanup(lambda: proc.poll() is None and proc.kill())
            try:
                wait_for(lambda: held.is_set() or proc.poll() is not None, what)
                if not held.is_set():
                    self.fail(f"exited before {what}: {proc.communicate()}")
                proc.send_signal(sig)
                wait_for(lambda: sh.signal_taken(proc, sig), "the signal taken")
            finally:
                release.set()
            out, err = proc.communicate(timeout=60 * sh.timeout_scale())
        return proc.returncode, out, err

    def run_paged(self, args, sig):
        """Runs skylog args against an endpoint whose every answer offers another page; the
        second page is held until `sig` was sent and taken. Returns (rc, out, err, the
        operations requested)."""
        asked = []
        second_asked, release = threading.Event(), threading.Event()

        def handler(req):
            target = req.headers.get("x-amz-target", "")
            op = target.rsplit(".", 1)[-1]
            if op not in PAGES:
                return 400, {}, json.dumps({"__type": "UnknownOperationException"})
            asked.append(op)
            n = len(asked)
            if n == 2:
                second_asked.set()
                release.wait(120)
            member, item, token = PAGES[op]
            body = {member: [item(n)], token: f"token{n + 1}"}
            ctype = "application/x-amz-json-1.0" if op in ("ListMetrics", "DescribeAlarms") \
                else "application/x-amz-json-1.1"
            return 200, {"Content-Type": ctype}, json.dumps(body)

        rc, out, err = self.run_held(args, sig, handler, second_asked, release,
                                     "the second page")
        return rc, out, err, asked

    def test_streamed_lists_keep_their_whole_lines(self):
        cases = [(["groups"], "groups", "DescribeLogGroups", ["/page1/g", "/page2/g"]),
                 (["streams", "/int/g"], "streams", "DescribeLogStreams",
                  ["page1-s", "page2-s"]),
                 (["tail", "/int/g", "--since", "1700000000000", "--output", "raw"], "tail",
                  "FilterLogEvents", ["event of page 1", "event of page 2"])]
        for args, name, op, want in cases:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with self.subTest(cmd=name, sig=sig.name):
                    rc, out, err, asked = self.run_paged(args, sig)
                    self.assertEqual(rc, 128 + sig, err)
                    self.assertEqual(asked, [op, op])  # the third page was not asked for
                    lines = out.splitlines()
                    self.assertEqual(len(lines), 2, out)
                    for line, item in zip(lines, want):
                        self.assertIn(item, line)
                    self.assertTrue(out.endswith("\n"))
                    self.assertEqual(err, f"skylog {name}: interrupted by {sig.name}\n")

    def test_tables_are_not_printed_from_part_of_the_pages(self):
        cases = [(["metrics", "list", "--namespace", "Int"], "metrics", "ListMetrics"),
                 (["alarm", "describe"], "alarm", "DescribeAlarms"),
                 (["metrics", "list", "--namespace", "Int", "--output", "json"], "metrics",
                  "ListMetrics")]
        for args, name, op in cases:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with self.subTest(args=args, sig=sig.name):
                    rc, out, err, asked = self.run_paged(args, sig)
                    self.assertEqual(rc, 128 + sig, err)
                    self.assertEqual(asked, [op, op])
                    self.assertEqual(out, "")
                    self.assertEqual(err, f"skylog {name}: interrupted by {sig.name}\n")

    def test_query_is_stopped_and_prints_no_rows(self):
        # The query runs; its first GetQueryResults is held until the signal was taken, then
        # says Running with a row so far. The command stops the query (StopQuery), prints no
        # row of it (the results of part of a scan would look complete) and exits 128+N with,
        # last, the line every interrupted command prints.
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig.name):
                asked = []
                polled, release = threading.Event(), threading.Event()

                def handler(req):
                    op = req.headers.get("x-amz-target", "").rsplit(".", 1)[-1]
                    asked.append(op)
                    ctype = {"Content-Type": "application/x-amz-json-1.1"}
                    if op == "StartQuery":
                        return 200, ctype, json.dumps({"queryId": "q-int"})
                    if op == "StopQuery":
                        return 200, ctype, json.dumps({"success": True})
                    if op != "GetQueryResults":
                        return 400, ctype, json.dumps({"__type": "UnknownOperationException"})
                    status = "Cancelled" if "StopQuery" in asked else "Running"
                    if status == "Running" and not polled.is_set():
                        polled.set()
                        release.wait(120)
                    return 200, ctype, json.dumps({
                        "status": status,
                        "results": [[{"field": "@message", "value": "a row so far"}]],
                        "statistics": {"recordsMatched": 1, "recordsScanned": 1,
                                       "bytesScanned": 10}})

                rc, out, err = self.run_held(["query", "--group", "/int/g", "fields @message"],
                                             sig, handler, polled, release,
                                             "the first GetQueryResults")
                self.assertEqual(rc, 128 + sig, err)
                self.assertIn("StopQuery", asked)
                self.assertEqual(out, "")
                self.assertTrue(err.endswith(f"skylog query: interrupted by {sig.name}\n"), err)


class EveryCommandAccountedFor(unittest.TestCase):
    """docs/CLI.md, "Exit status": which commands take SIGINT and SIGTERM themselves (128+N and
    one line, nothing partial) and which keep the default action. A command added to `skylog`
    must be put in one of the sets below, with a test if it takes them."""

    # command -> the tests that show it ends with 128+N (or, tail --follow, 0)
    TAKE_SIGNALS = {
        "ship": "test_ship_interrupt",
        "tail": "test_cli_interrupt, test_cli_stop_early",
        "groups": "test_cli_interrupt, test_cli_stop_early",
        "streams": "test_cli_interrupt, test_cli_stop_early",
        "query": "test_cli_interrupt, test_cli_stop_early",
        "metrics": "test_cli_interrupt, test_cli_stop_early",
        "alarm": "test_cli_interrupt, test_cli_stop_early",
        "audit": "test_audit (FILE), test_cli_stop_early (--group)",
    }
    SERVES = {"serve"}  # stops on the signal and exits 0 (skylog serve --help)
    BOUNDED = {"config", "version", "help"}  # no AWS, bounded input, print at the end

    def test_every_command_is_in_one_set(self):
        p = subprocess.run([sh.skylog_bin(), "--help"], capture_output=True, text=True,
                           timeout=60)
        block = p.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0]
        listed = {line.split()[0] for line in block.splitlines()}
        sets = [set(self.TAKE_SIGNALS), self.SERVES, self.BOUNDED]
        self.assertEqual(listed, set().union(*sets))
        self.assertEqual(sum(map(len, sets)), len(listed))  # each in exactly one


if __name__ == "__main__":
    unittest.main()
