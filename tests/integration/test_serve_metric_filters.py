"""Metric filters in `skylog serve` (issue 15), driven by the AWS CLI: put, describe, test and
delete; matching events published as metrics at ingestion (a literal value and a default
value, a $.field value with dimensions from JSON fields), read back with get-metric-statistics
and compared with sums computed here from the events; the validation errors CloudWatch gives."""

import datetime
import json
import time
import unittest
import uuid

import skyharness as sh
from test_serve_logs import split_space_fields


def epoch(t):
    """A timestamp as the AWS CLI prints it (epoch seconds, or ISO-8601) in epoch seconds."""
    if isinstance(t, (int, float)):
        return float(t)
    return datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class MetricFilters(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls)

    def setUp(self):
        self.group = f"/mf/{uuid.uuid4().hex[:8]}"
        self.ns = f"MF/{uuid.uuid4().hex[:8]}"
        self.logs("create-log-group", "--log-group-name", self.group)
        self.logs("create-log-stream", "--log-group-name", self.group, "--log-stream-name", "s")

    def logs(self, *args, **kw):
        return sh.aws(self, self.srv, "logs", *args, **kw)

    def put_events(self, events, stream="s"):
        self.logs("put-log-events", "--log-group-name", self.group, "--log-stream-name", stream,
                  "--log-events", json.dumps([{"timestamp": t, "message": m} for t, m in events]))

    def stats(self, name, dims=(), period=60, start=None, end=None):
        now = time.time()
        out = sh.aws(self, self.srv, "cloudwatch", "get-metric-statistics", "--namespace",
                     self.ns, "--metric-name", name, "--start-time",
                     iso(start if start is not None else now - 3600), "--end-time",
                     iso(end if end is not None else now + 600), "--period", str(period),
                     "--statistics", "Sum", "SampleCount", "Maximum",
                     *(["--dimensions", *[f"Name={k},Value={v}" for k, v in dims]]
                       if dims else []))
        return sorted((epoch(d["Timestamp"]), d["Sum"], d["SampleCount"], d["Maximum"])
                      for d in out["Datapoints"])

    def test_count_with_default_value_and_a_field_value_with_dimensions(self):
        self.logs("put-metric-filter", "--log-group-name", self.group, "--filter-name",
                  "errors", "--filter-pattern", '{ $.level = "ERROR" }',
                  "--metric-transformations",
                  f"metricName=ErrorCount,metricNamespace={self.ns},metricValue=1,"
                  "defaultValue=0,unit=Count")
        self.logs("put-metric-filter", "--log-group-name", self.group, "--filter-name",
                  "latency", "--filter-pattern", "{ $.latency >= 0 }",
                  "--metric-transformations", json.dumps([{
                      "metricName": "Latency", "metricNamespace": self.ns,
                      "metricValue": "$.latency", "unit": "Milliseconds",
                      "dimensions": {"Endpoint": "$.endpoint"}}]))
        out = self.logs("describe-metric-filters", "--log-group-name", self.group)
        self.assertEqual([f["filterName"] for f in out["metricFilters"]], ["errors", "latency"])
        f = out["metricFilters"][0]
        self.assertEqual(f["filterPattern"], '{ $.level = "ERROR" }')
        self.assertEqual(f["logGroupName"], self.group)
        self.assertEqual(f["metricTransformations"], [{
            "metricName": "ErrorCount", "metricNamespace": self.ns, "metricValue": "1",
            "defaultValue": 0.0, "unit": "Count"}])
        self.assertIsInstance(f["creationTime"], int)
        groups = self.logs("describe-log-groups", "--log-group-name-prefix", self.group)
        self.assertEqual(groups["logGroups"][0]["metricFilterCount"], 2)

        # Two whole minutes in the past: the first has errors, the second none.
        m0 = (int(time.time()) // 60 - 10) * 60
        events = [
            (m0 * 1000 + 1000, {"level": "ERROR", "endpoint": "/a", "latency": 120}),
            (m0 * 1000 + 2000, {"level": "INFO", "endpoint": "/a", "latency": 30}),
            (m0 * 1000 + 3000, {"level": "ERROR", "endpoint": "/b", "latency": 7.5}),
            (m0 * 1000 + 4000, {"level": "ERROR", "endpoint": "/b"}),          # no latency
            (m0 * 1000 + 5000, {"level": "INFO", "latency": 99}),             # no endpoint
            ((m0 + 60) * 1000 + 500, {"level": "INFO", "endpoint": "/a", "latency": 10}),
            ((m0 + 60) * 1000 + 900, "plain text line"),
        ]
        self.put_events([(t, json.dumps(m) if isinstance(m, dict) else m) for t, m in events])

        # Computed here from the events, not by the server.
        errors_in = lambda lo, hi: sum(1 for t, m in events if lo <= t < hi and
                                       isinstance(m, dict) and m.get("level") == "ERROR")
        got = self.stats("ErrorCount", start=m0 - 60, end=m0 + 180)
        self.assertEqual([(ts, s, n) for ts, s, n, _ in got],
                         [(m0, errors_in(m0 * 1000, (m0 + 60) * 1000), 3.0),
                          (m0 + 60, 0.0, 1.0)])  # the default value, once for the minute
        for ep in ("/a", "/b"):
            vals = [m["latency"] for t, m in events if isinstance(m, dict)
                    and m.get("endpoint") == ep and "latency" in m]
            got = self.stats("Latency", dims=[("Endpoint", ep)], period=3600,
                             start=m0 - 60, end=m0 + 3540)
            self.assertEqual([(s, n, mx) for _, s, n, mx in got],
                             [(sum(vals), float(len(vals)), max(vals))], ep)
        out = sh.aws(self, self.srv, "cloudwatch", "list-metrics", "--namespace", self.ns,
                     "--metric-name", "Latency")
        self.assertEqual(sorted(m["Dimensions"][0]["Value"] for m in out["Metrics"]),
                         ["/a", "/b"])

        # Deleted: later events publish nothing more.
        self.logs("delete-metric-filter", "--log-group-name", self.group, "--filter-name",
                  "errors")
        before = self.stats("ErrorCount", period=3600, start=m0 - 60, end=m0 + 3540)
        self.put_events([((m0 + 120) * 1000, json.dumps({"level": "ERROR"}))])
        self.assertEqual(self.stats("ErrorCount", period=3600, start=m0 - 60, end=m0 + 3540),
                         before)
        self.logs("delete-metric-filter", "--log-group-name", self.group, "--filter-name",
                  "errors", expect_error="ResourceNotFoundException")
        out = self.logs("describe-metric-filters", "--log-group-name", self.group)
        self.assertEqual([f["filterName"] for f in out["metricFilters"]], ["latency"])

    def test_term_patterns_and_the_ingestion_endpoint(self):
        self.logs("put-metric-filter", "--log-group-name", self.group, "--filter-name", "t",
                  "--filter-pattern", "?timeout ?refused",
                  "--metric-transformations",
                  f"metricName=NetErrors,metricNamespace={self.ns},metricValue=2")
        now = sh.now_ms()
        lines = ["connect timeout", "ok", "connection refused", "fine"]
        body = "\n".join(json.dumps({"timestamp": now - 10 + i, "message": m})
                         for i, m in enumerate(lines))
        r = sh.raw_request(self.srv, "POST", "/ingest/bulk", body,
                           {"Content-Type": "application/json", "x-aws-log-group": self.group,
                            "x-aws-log-stream": "bulk"})
        self.assertEqual(r.status, 200, r)
        got = self.stats("NetErrors", period=3600)
        self.assertEqual(sum(s for _, s, _, _ in got), 4.0)   # two matches, value 2
        self.assertEqual(sum(n for _, _, n, _ in got), 2.0)

    def test_test_metric_filter(self):
        out = self.logs("test-metric-filter", "--filter-pattern", '{ $.status >= 500 }',
                        "--log-event-messages", '{"status": 503}', '{"status": 200}',
                        "not json", '{"status": 500}')
        self.assertEqual([(m["eventNumber"], m["eventMessage"]) for m in out["matches"]],
                         [(1, '{"status": 503}'), (4, '{"status": 500}')])
        self.assertEqual(out["matches"][0]["extractedValues"], {})
        self.logs("test-metric-filter", "--filter-pattern", "{ $.x = ", "--log-event-messages",
                  "a", expect_error="InvalidParameterException")

    def test_space_delimited_pattern_values_and_dimensions(self):
        # CloudWatch's own example: bytes per status code from an Apache access log.
        self.logs("put-metric-filter", "--log-group-name", self.group, "--filter-name", "bytes",
                  "--filter-pattern",
                  "[ip, id, user, timestamp, request, status_code = 2* || status_code = 4*, "
                  "size]", "--metric-transformations", json.dumps([{
                      "metricName": "Bytes", "metricNamespace": self.ns,
                      "metricValue": "$size", "dimensions": {"Status": "$status_code"}}]))
        m0 = (int(time.time()) // 60 - 10) * 60
        lines = [
            '10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326',
            '10.0.0.2 - alice [10/Oct/2000:13:55:37 -0700] "GET /b HTTP/1.0" 200 100',
            '10.0.0.3 - bob [10/Oct/2000:13:55:38 -0700] "GET /c HTTP/1.0" 404 7',
            '10.0.0.4 - bob [10/Oct/2000:13:55:39 -0700] "GET /d HTTP/1.0" 500 999',
            '10.0.0.5 - bob [10/Oct/2000:13:55:40 -0700] "GET /e HTTP/1.0" 200 -',  # no number
            'not an access line',
        ]
        self.put_events([(m0 * 1000 + i, line) for i, line in enumerate(lines)])
        expect = {}
        for line in lines:
            f = split_space_fields(line)
            if len(f) == 7 and f[5][:1] in "24" and f[5] and f[6].isdigit():
                expect.setdefault(f[5], []).append(float(f[6]))
        self.assertEqual(sorted(expect), ["200", "404"])
        for status, vals in expect.items():
            got = self.stats("Bytes", dims=[("Status", status)], period=3600,
                             start=m0 - 60, end=m0 + 3540)
            self.assertEqual([(s, n, mx) for _, s, n, mx in got],
                             [(sum(vals), float(len(vals)), max(vals))], status)
        self.assertEqual(self.stats("Bytes", dims=[("Status", "500")], period=3600,
                                    start=m0 - 60, end=m0 + 3540), [])

        # TestMetricFilter names what each field took.
        out = self.logs("test-metric-filter", "--filter-pattern",
                        "[ip, ..., status_code = 404, size]", "--log-event-messages", *lines)
        self.assertEqual([m["eventNumber"] for m in out["matches"]], [3])
        f = split_space_fields(lines[2])
        self.assertEqual(out["matches"][0]["extractedValues"],
                         {"$ip": f[0], "$status_code": f[-2], "$size": f[-1]})

        # A value or dimension must name one of the pattern's fields.
        for tr in ({"metricValue": "$bytes"}, {"metricValue": "$.size"},
                   {"metricValue": "1", "dimensions": {"D": "$nope"}}):
            err = self.logs("put-metric-filter", "--log-group-name", self.group,
                            "--filter-name", "bad", "--filter-pattern", "[ip, size]",
                            "--metric-transformations", json.dumps([{
                                "metricName": "M", "metricNamespace": self.ns, **tr}]),
                            expect_error="InvalidParameterException")
            self.assertIn("space-delimited", err)

    def test_errors(self):
        tr = f"metricName=M,metricNamespace={self.ns},metricValue=1"
        put = lambda *a, **kw: self.logs("put-metric-filter", "--filter-name", "f", *a, **kw)
        put("--log-group-name", "/no/such/group", "--filter-pattern", "x",
            "--metric-transformations", tr, expect_error="ResourceNotFoundException")
        err = put("--log-group-name", self.group, "--filter-pattern", "{ $.a = 1 }",
                  "--metric-transformations", json.dumps([{
                      "metricName": "M", "metricNamespace": self.ns, "metricValue": "1",
                      "defaultValue": 0, "dimensions": {"D": "$.d"}}]),
                  expect_error="InvalidParameterException")
        self.assertIn("dimensions and default value are mutually exclusive", err)
        err = put("--log-group-name", self.group, "--filter-pattern", "ERROR",
                  "--metric-transformations", json.dumps([{
                      "metricName": "M", "metricNamespace": self.ns, "metricValue": "1",
                      "dimensions": {"D": "$.d"}}]),
                  expect_error="InvalidParameterException")
        self.assertIn("does not support dimensions", err)
        put("--log-group-name", self.group, "--filter-pattern", "{ $.a = }",
            "--metric-transformations", tr, expect_error="InvalidParameterException")
        put("--log-group-name", self.group, "--filter-pattern", "x",
            "--metric-transformations", f"metricName=M,metricNamespace={self.ns},metricValue=abc",
            expect_error="InvalidParameterException")
        put("--log-group-name", self.group, "--filter-pattern", "x",
            "--metric-transformations", f"metricName=M:1,metricNamespace={self.ns},metricValue=1",
            expect_error="InvalidParameterException")
        self.logs("describe-metric-filters", "--log-group-name", "/no/such/group",
                  expect_error="ResourceNotFoundException")
        # 100 filters per group, then LimitExceededException; replacing one still works.
        for i in range(100):
            r = sh.logs_call(self.srv, "PutMetricFilter", {
                "logGroupName": self.group, "filterName": f"f{i:03}", "filterPattern": "x",
                "metricTransformations": [{"metricName": "M", "metricNamespace": self.ns,
                                           "metricValue": "1"}]})
            self.assertEqual(r.status, 200, r)
        put("--log-group-name", self.group, "--filter-pattern", "x",
            "--metric-transformations", tr, expect_error="LimitExceededException")
        r = sh.logs_call(self.srv, "PutMetricFilter", {
            "logGroupName": self.group, "filterName": "f000", "filterPattern": "y",
            "metricTransformations": [{"metricName": "M", "metricNamespace": self.ns,
                                       "metricValue": "1"}]})
        self.assertEqual(r.status, 200, r)
        r = sh.logs_call(self.srv, "DescribeMetricFilters", {
            "logGroupName": self.group, "filterNamePrefix": "f00", "limit": 5})
        page = r.json
        self.assertEqual([f["filterName"] for f in page["metricFilters"]],
                         [f"f00{i}" for i in range(5)])
        self.assertEqual(page["metricFilters"][0]["filterPattern"], "y")
        r = sh.logs_call(self.srv, "DescribeMetricFilters", {
            "logGroupName": self.group, "filterNamePrefix": "f00", "limit": 5,
            "nextToken": page["nextToken"]})
        self.assertEqual([f["filterName"] for f in r.json["metricFilters"]],
                         [f"f00{i}" for i in range(5, 10)])
        self.assertNotIn("nextToken", r.json)
        # Deleting the group deletes its filters.
        self.logs("delete-log-group", "--log-group-name", self.group)
        self.logs("create-log-group", "--log-group-name", self.group)
        out = self.logs("describe-metric-filters", "--log-group-name", self.group)
        self.assertEqual(out["metricFilters"], [])

    def test_work_is_bounded_and_counted(self):
        # 100 filters of 200 terms: an estimated (bytes x cost) of ~20 MiB per 100 KB event
        # and filter, so one 1 MB batch exceeds the 256 MiB budget within its first event.
        pattern = " ".join(f"w{i:03}" for i in range(200))
        for i in range(100):
            r = sh.logs_call(self.srv, "PutMetricFilter", {
                "logGroupName": self.group, "filterName": f"f{i:03}", "filterPattern": pattern,
                "metricTransformations": [{"metricName": "W", "metricNamespace": self.ns,
                                           "metricValue": "1"}]})
            self.assertEqual(r.status, 200, r)
        now = sh.now_ms()
        events = [{"timestamp": now, "message": "x" * 100000} for _ in range(10)]
        r = sh.logs_call(self.srv, "PutLogEvents", {"logGroupName": self.group,
                                                   "logStreamName": "s", "logEvents": events})
        self.assertEqual(r.status, 200, r)
        r = sh.logs_call(self.srv, "GetLogEvents", {"logGroupName": self.group,
                                                   "logStreamName": "s", "startFromHead": True})
        self.assertEqual(len(r.json["events"]), 10)           # every event stored
        self.assertIn("metric filters: 10 event(s) not evaluated", self.srv.stderr_text())
        r = sh.logs_call(self.srv, "TestMetricFilter", {"filterPattern": "x",
                                                       "logEventMessages": ["x"] * 51})
        self.assertEqual((r.status, r.error_type), (400, "InvalidParameterException"))


if __name__ == "__main__":
    unittest.main()
