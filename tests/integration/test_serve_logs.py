"""CloudWatch Logs API of `skylog serve`, driven by the AWS CLI and boto3.

One server per test class (started in setUpClass, stopped by a class cleanup even on failure);
each test uses its own log group names so tests do not see each other's data.
"""

import json
import unittest
import uuid

import skyharness as sh

DAY = 24 * 3600 * 1000


def uniq(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"



def split_space_fields(line):
    """A line's fields as CloudWatch's space-delimited patterns see them, computed here
    independently of the server: runs of spaces separate fields, and "quoted" or [bracketed]
    text is one field without its quotes or brackets (also imported by the metric filter
    tests)."""
    fields, i = [], 0
    while True:
        while i < len(line) and line[i] in " \t":
            i += 1
        if i == len(line):
            return fields
        close = {'"': '"', "[": "]"}.get(line[i])
        if close:
            end = line.find(close, i + 1)
            fields.append(line[i + 1:] if end < 0 else line[i + 1:end])
            i = len(line) if end < 0 else end + 1
        else:
            end = i
            while end < len(line) and line[end] not in " \t":
                end += 1
            fields.append(line[i:end])
            i = end

class ServeLogsBase(unittest.TestCase):
    auth = "none"

    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls, auth=cls.auth)

    def setUp(self):
        self.logs = sh.boto3_client(self, self.srv, "logs")

    def make_stream(self, group=None, stream="s"):
        group = group or uniq("g")
        self.logs.create_log_group(logGroupName=group)
        self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        return group, stream

    def put(self, group, stream, events):
        return self.logs.put_log_events(logGroupName=group, logStreamName=stream,
                                        logEvents=events)

    def assertLogsError(self, resp, code, status=400, text=None):
        self.assertEqual(resp.status, status, resp)
        self.assertEqual(resp.error_type, code, resp)
        self.assertEqual(resp.headers.get("x-amzn-errortype"), code)
        if text:
            self.assertIn(text, resp.json["message"])


class CliTest(ServeLogsBase):
    """Every Logs operation through the AWS CLI, answers and errors."""

    def test_every_operation_through_the_aws_cli(self):
        g = uniq("/cli/group")
        aws = lambda *a, **kw: sh.aws(self, self.srv, "logs", *a, **kw)
        self.assertIsNone(aws("create-log-group", "--log-group-name", g))
        aws("create-log-group", "--log-group-name", g, expect_error="ResourceAlreadyExistsException")
        aws("create-log-stream", "--log-group-name", g, "--log-stream-name", "app/1")
        aws("create-log-stream", "--log-group-name", g, "--log-stream-name", "app/1",
            expect_error="ResourceAlreadyExistsException")
        now = sh.now_ms()
        events = json.dumps([{"timestamp": now - 2, "message": "hello ERROR one"},
                             {"timestamp": now - 1, "message": '{"level":"ERROR","ms":250}'},
                             {"timestamp": now, "message": "bye"}])
        out = aws("put-log-events", "--log-group-name", g, "--log-stream-name", "app/1",
                  "--log-events", events)
        self.assertIn("nextSequenceToken", out)
        self.assertNotIn("rejectedLogEventsInfo", out)

        out = aws("get-log-events", "--log-group-name", g, "--log-stream-name", "app/1",
                  "--start-from-head")
        self.assertEqual([e["message"] for e in out["events"]],
                         ["hello ERROR one", '{"level":"ERROR","ms":250}', "bye"])
        self.assertTrue(out["nextForwardToken"].startswith("f/"))
        self.assertTrue(out["nextBackwardToken"].startswith("b/"))

        out = aws("describe-log-groups", "--log-group-name-prefix", g)
        self.assertEqual([x["logGroupName"] for x in out["logGroups"]], [g])
        self.assertTrue(out["logGroups"][0]["arn"].endswith(f":log-group:{g}:*"))
        out = aws("describe-log-streams", "--log-group-name", g)
        st = out["logStreams"][0]
        self.assertEqual(st["logStreamName"], "app/1")
        self.assertEqual(st["firstEventTimestamp"], now - 2)
        self.assertEqual(st["lastEventTimestamp"], now)

        out = aws("filter-log-events", "--log-group-name", g, "--filter-pattern",
                  '{ $.level = "ERROR" && $.ms > 100 }')
        self.assertEqual([e["message"] for e in out["events"]], ['{"level":"ERROR","ms":250}'])
        out = aws("filter-log-events", "--log-group-name", g, "--filter-pattern", "ERROR")
        self.assertEqual(len(out["events"]), 2)

        aws("put-retention-policy", "--log-group-name", g, "--retention-in-days", "7")
        out = aws("describe-log-groups", "--log-group-name-prefix", g)
        self.assertEqual(out["logGroups"][0]["retentionInDays"], 7)
        aws("put-retention-policy", "--log-group-name", g, "--retention-in-days", "2",
            expect_error="InvalidParameterException")
        aws("delete-retention-policy", "--log-group-name", g)
        out = aws("describe-log-groups", "--log-group-name-prefix", g)
        self.assertNotIn("retentionInDays", out["logGroups"][0])

        aws("delete-log-stream", "--log-group-name", g, "--log-stream-name", "app/1")
        aws("delete-log-stream", "--log-group-name", g, "--log-stream-name", "app/1",
            expect_error="ResourceNotFoundException")
        aws("get-log-events", "--log-group-name", g, "--log-stream-name", "app/1",
            expect_error="ResourceNotFoundException")
        aws("delete-log-group", "--log-group-name", g)
        aws("delete-log-group", "--log-group-name", g, expect_error="ResourceNotFoundException")
        aws("put-log-events", "--log-group-name", g, "--log-stream-name", "x", "--log-events",
            f"timestamp={now},message=m", expect_error="ResourceNotFoundException")


class DescribeTest(ServeLogsBase):
    def test_describe_log_groups_pagination_and_prefix(self):
        base = uniq("pg")
        names = [f"{base}/{i:02d}" for i in range(5)]
        for n in names:
            self.logs.create_log_group(logGroupName=n)
        seen, token = [], None
        while True:
            kw = {"logGroupNamePrefix": base + "/", "limit": 2}
            if token:
                kw["nextToken"] = token
            out = self.logs.describe_log_groups(**kw)
            self.assertLessEqual(len(out["logGroups"]), 2)
            seen += [g["logGroupName"] for g in out["logGroups"]]
            token = out.get("nextToken")
            if not token:
                break
        self.assertEqual(seen, names)
        # The CLI paginates by itself: all five in one answer.
        out = sh.aws(self, self.srv, "logs", "describe-log-groups", "--log-group-name-prefix",
                     base + "/")
        self.assertEqual([g["logGroupName"] for g in out["logGroups"]], names)
        with self.assertRaises(self.logs.exceptions.InvalidParameterException):
            self.logs.describe_log_groups(limit=51)

    def test_describe_members_as_the_api_reference_says(self):
        g = uniq("fid")
        self.logs.create_log_group(logGroupName=g)
        self.logs.create_log_stream(logGroupName=g, logStreamName="empty")
        self.logs.create_log_stream(logGroupName=g, logStreamName="written")
        self.logs.put_log_events(logGroupName=g, logStreamName="written",
                                 logEvents=[{"timestamp": sh.now_ms(), "message": "m"}])
        streams = {s["logStreamName"]: s for s in
                   self.logs.describe_log_streams(logGroupName=g)["logStreams"]}
        self.assertNotIn("uploadSequenceToken", streams["empty"])  # never written: omitted
        self.assertIn("uploadSequenceToken", streams["written"])
        grp, = self.logs.describe_log_groups(logGroupNamePrefix=g)["logGroups"]
        self.assertIs(grp["deletionProtectionEnabled"], False)
        # with logGroupNamePattern only arn, creationTime and logGroupName are included
        grp, = self.logs.describe_log_groups(logGroupNamePattern=g)["logGroups"]
        self.assertEqual(set(grp), {"arn", "creationTime", "logGroupName"})
        # logGroupIdentifiers (names or ARNs) and logGroupClass select
        other = uniq("fid2")
        self.logs.create_log_group(logGroupName=other)
        arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{other}:*"
        got = self.logs.describe_log_groups(logGroupIdentifiers=[g, arn, "nope"])["logGroups"]
        self.assertEqual(sorted(x["logGroupName"] for x in got), sorted([g, other]))
        self.assertEqual(self.logs.describe_log_groups(logGroupClass="DELIVERY")["logGroups"], [])
        self.assertTrue(self.logs.describe_log_groups(logGroupClass="STANDARD")["logGroups"])
        with self.assertRaises(self.logs.exceptions.InvalidParameterException):
            self.logs.describe_log_groups(logGroupIdentifiers=[g], logGroupNamePrefix=g)
        # what this server cannot keep is refused, not stored as something else
        for kw in ({"logGroupClass": "INFREQUENT_ACCESS"}, {"deletionProtectionEnabled": True}):
            with self.assertRaises(self.logs.exceptions.InvalidParameterException):
                self.logs.create_log_group(logGroupName=uniq("fid3"), **kw)
        self.logs.create_log_group(logGroupName=uniq("fid3"), logGroupClass="STANDARD",
                                   deletionProtectionEnabled=False)

    def test_describe_log_streams_order_and_prefix(self):
        g = uniq("ds")
        self.logs.create_log_group(logGroupName=g)
        now = sh.now_ms()
        for i, name in enumerate(["b", "a", "c"]):
            self.logs.create_log_stream(logGroupName=g, logStreamName=name)
            self.put(g, name, [{"timestamp": now - 1000 + i, "message": name}])
        self.logs.create_log_stream(logGroupName=g, logStreamName="a2")
        names = lambda **kw: [s["logStreamName"] for s in
                              self.logs.describe_log_streams(logGroupName=g, **kw)["logStreams"]]
        self.assertEqual(names(), ["a", "a2", "b", "c"])
        self.assertEqual(names(descending=True), ["c", "b", "a2", "a"])
        self.assertEqual(names(logStreamNamePrefix="a"), ["a", "a2"])
        self.assertEqual(names(orderBy="LastEventTime", descending=True)[:3], ["c", "a", "b"])
        out = self.logs.describe_log_streams(logGroupName=g, limit=3)
        self.assertEqual(len(out["logStreams"]), 3)
        out2 = self.logs.describe_log_streams(logGroupName=g, limit=3, nextToken=out["nextToken"])
        self.assertEqual([s["logStreamName"] for s in out2["logStreams"]], ["c"])
        self.assertNotIn("nextToken", out2)
        r = sh.logs_call(self.srv, "DescribeLogStreams",
                         {"logGroupName": g, "orderBy": "LastEventTime",
                          "logStreamNamePrefix": "a"})
        self.assertLogsError(r, "InvalidParameterException", text="LastEventTime")
        r = sh.logs_call(self.srv, "DescribeLogStreams", {"logGroupName": uniq("missing")})
        self.assertLogsError(r, "ResourceNotFoundException")


class GetLogEventsTest(ServeLogsBase):
    def test_tokens_forward_backward_and_end_of_stream(self):
        g, s = self.make_stream()
        now = sh.now_ms()
        self.put(g, s, [{"timestamp": now - 100 + i, "message": f"m{i}"} for i in range(25)])
        get = lambda **kw: self.logs.get_log_events(logGroupName=g, logStreamName=s, **kw)
        msgs = lambda out: [e["message"] for e in out["events"]]

        page = get(startFromHead=True, limit=10)
        self.assertEqual(msgs(page), [f"m{i}" for i in range(10)])
        page = get(nextToken=page["nextForwardToken"], limit=10)
        self.assertEqual(msgs(page), [f"m{i}" for i in range(10, 20)])
        page = get(nextToken=page["nextForwardToken"], limit=10)
        self.assertEqual(msgs(page), [f"m{i}" for i in range(20, 25)])
        end = get(nextToken=page["nextForwardToken"], limit=10)
        self.assertEqual(end["events"], [])
        # At the end, AWS returns the token it was given.
        self.assertEqual(end["nextForwardToken"], page["nextForwardToken"])
        # New events show up from that token (tailing).
        self.put(g, s, [{"timestamp": now, "message": "late"}])
        self.assertEqual(msgs(get(nextToken=end["nextForwardToken"])), ["late"])

        # Default (startFromHead false): the newest events, oldest first.
        tail = get(limit=5)
        self.assertEqual(msgs(tail), ["m21", "m22", "m23", "m24", "late"])
        back = get(nextToken=tail["nextBackwardToken"], limit=5)
        self.assertEqual(msgs(back), [f"m{i}" for i in range(16, 21)])

        # Time range: startTime inclusive, endTime exclusive.
        self.assertEqual(msgs(get(startTime=now - 100 + 3, endTime=now - 100 + 6,
                                  startFromHead=True)), ["m3", "m4", "m5"])
        r = sh.logs_call(self.srv, "GetLogEvents", {"logGroupName": g, "logStreamName": s,
                                                    "nextToken": "garbage"})
        self.assertLogsError(r, "InvalidParameterException")
        r = sh.logs_call(self.srv, "GetLogEvents", {"logGroupName": g, "logStreamName": s,
                                                    "limit": 10001})
        self.assertLogsError(r, "InvalidParameterException")

    def test_tailing_an_empty_stream(self):
        g, s = self.make_stream()
        for head in (False, True):
            out = self.logs.get_log_events(logGroupName=g, logStreamName=s, startFromHead=head)
            self.assertEqual(out["events"], [])
            token = out["nextForwardToken"]
            self.put(g, s, [{"timestamp": sh.now_ms(), "message": f"first {head}"}])
            out = self.logs.get_log_events(logGroupName=g, logStreamName=s, nextToken=token)
            self.assertEqual(out["events"][-1]["message"], f"first {head}")
            g, s = self.make_stream()

    def test_log_group_identifier_arn(self):
        g, s = self.make_stream()
        self.put(g, s, [{"timestamp": sh.now_ms(), "message": "x"}])
        arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{g}:*"
        out = self.logs.get_log_events(logGroupIdentifier=arn, logStreamName=s)
        self.assertEqual(len(out["events"]), 1)


class FilterLogEventsTest(ServeLogsBase):
    def setUp(self):
        super().setUp()
        self.g = uniq("flt")
        self.logs.create_log_group(logGroupName=self.g)
        now = self.now = sh.now_ms()
        lines = {
            "web-1": [(0, "GET /index 200"), (3, "ERROR connection reset by peer"),
                      (6, '{"level":"ERROR","ms":120,"user":{"id":"u-42"},"tags":["a","b"]}')],
            "web-2": [(1, "WARN slow request"), (4, "ERROR timeout"),
                      (7, '{"level":"INFO","ms":80,"user":{"id":"u-7"},"ok":true}')],
            "db-1": [(2, "DEBUG query ok"), (5, '{"level":"ERROR","ms":99.5,"err":null}')],
        }
        for stream, evs in lines.items():
            self.logs.create_log_stream(logGroupName=self.g, logStreamName=stream)
            self.put(self.g, stream, [{"timestamp": now - 1000 + t, "message": m} for t, m in evs])

    def msgs(self, **kw):
        out = self.logs.filter_log_events(logGroupName=self.g, **kw)
        return [e["message"] for e in out["events"]]

    def test_interleaved_in_time_order_with_stream_names(self):
        out = self.logs.filter_log_events(logGroupName=self.g)
        self.assertEqual(len(out["events"]), 8)
        self.assertEqual([e["timestamp"] for e in out["events"]],
                         sorted(e["timestamp"] for e in out["events"]))
        self.assertEqual(out["events"][0]["logStreamName"], "web-1")
        self.assertIn("eventId", out["events"][0])
        self.assertEqual(len(self.msgs(logStreamNames=["web-2"])), 3)
        self.assertEqual(len(self.msgs(logStreamNamePrefix="web")), 6)
        self.assertEqual(self.msgs(startTime=self.now - 1000 + 2, endTime=self.now - 1000 + 3),
                         ["DEBUG query ok", "ERROR connection reset by peer"])

    def test_term_patterns(self):
        self.assertEqual(self.msgs(filterPattern="ERROR timeout"), ["ERROR timeout"])
        self.assertEqual(self.msgs(filterPattern='"connection reset"'),
                         ["ERROR connection reset by peer"])
        self.assertEqual(self.msgs(filterPattern="ERROR -timeout -level"),
                         ["ERROR connection reset by peer"])
        self.assertEqual(self.msgs(filterPattern="?WARN ?DEBUG"),
                         ["WARN slow request", "DEBUG query ok"])
        # Term groups: a ?term starts one, the terms after it join it; one group is enough.
        self.assertEqual(self.msgs(filterPattern="?ERROR timeout ?WARN"),
                         ["WARN slow request", "ERROR timeout"])
        self.assertEqual(self.msgs(filterPattern="GET ?DEBUG -ok ?WARN slow"),
                         ["GET /index 200", "WARN slow request"])
        self.assertEqual(len(self.msgs(filterPattern="")), 8)

    def test_json_patterns(self):
        m = lambda p: self.msgs(filterPattern=p)
        self.assertEqual(len(m('{ $.level = "ERROR" }')), 2)
        self.assertEqual(len(m('{ $.level = "ERROR" && $.ms > 100 }')), 1)
        self.assertEqual(len(m('{ $.level = "ERROR" || $.ms < 90 }')), 3)
        self.assertEqual(len(m('{ ($.ms >= 99.5 && $.ms <= 120) }')), 2)
        self.assertEqual(len(m('{ $.level != "ERROR" }')), 1)
        self.assertEqual(len(m('{ $.user.id = "u-*" }')), 2)
        self.assertEqual(len(m('{ $.user.id = u-4* }')), 1)
        self.assertEqual(len(m('{ $.tags[1] = "b" }')), 1)
        self.assertEqual(len(m('{ $.err IS NULL }')), 1)
        self.assertEqual(len(m('{ $.ok IS TRUE }')), 1)
        self.assertEqual(len(m('{ $.level = "ERROR" && $.user NOT EXISTS }')), 1)
        self.assertEqual(len(m('{ $.ms = 80 }')), 1)
        for bad in ['{ $.level = }', '{ level = "x" }', '{ $.a > "x" }', '[ip, user',
                    '"unterminated', '%(ERROR|WARN)%', 'ERROR %x%', '[a = 1 || b = 2]']:
            r = sh.logs_call(self.srv, "FilterLogEvents",
                             {"logGroupName": self.g, "filterPattern": bad})
            self.assertEqual(r.error_type, "InvalidParameterException", bad)

    def test_space_delimited_patterns(self):
        # Apache access lines: "quoted" and [bracketed] text is one field.
        g = uniq("sp")
        self.logs.create_log_group(logGroupName=g)
        self.logs.create_log_stream(logGroupName=g, logStreamName="a")
        lines = [
            '10.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /a.gif HTTP/1.0" 200 1534',
            '10.0.0.2 - alice [10/Oct/2000:13:25:16 -0700] "GET /b.html HTTP/1.0" 404 2300',
            '10.0.0.3 - bob [10/Oct/2000:13:25:17 -0700] "POST /c HTTP/1.1" 410 90',
            '10.0.0.4 - - [10/Oct/2000:13:25:18 -0700] "GET /d.html HTTP/1.1" 500 5000',
            'a short line',
        ]
        self.put(g, "a", [{"timestamp": self.now - 100 + i, "message": m}
                          for i, m in enumerate(lines)])
        fields = [split_space_fields(line) for line in lines]

        def want(pred):
            return [line for line, f in zip(lines, fields) if pred(f)]

        def got(pattern):
            out = self.logs.filter_log_events(logGroupName=g, filterPattern=pattern)
            return [e["message"] for e in out["events"]]

        seven = lambda f: len(f) == 7
        self.assertEqual(got("[ip, user, username, timestamp, request, status_code, bytes]"),
                         want(seven))
        self.assertEqual(got("[ip, user, ..., status_code = 4*, bytes > 1000]"),
                         want(lambda f: len(f) >= 4 and f[-2].startswith("4")
                              and float(f[-1]) > 1000))
        self.assertEqual(got("[..., status_code = 404 || status_code = 410, bytes]"),
                         want(lambda f: f[-2] in ("404", "410")))
        self.assertEqual(got('[ip, ..., request = "*.html*", ...]'),
                         want(lambda f: any(".html" in x for x in f[1:])))
        self.assertEqual(got("[ip, user, username != -, ...]"),
                         want(lambda f: len(f) >= 3 and f[2] != "-"))
        self.assertEqual(got("[..., code >= 500, size]"),
                         want(lambda f: len(f) >= 2 and f[-2].isdigit() and int(f[-2]) >= 500))
        # The AWS CLI sends the same patterns.
        out = sh.aws(self, self.srv, "logs", "filter-log-events", "--log-group-name", g,
                     "--filter-pattern", "[ip, user, ..., status_code = 4* && status_code != "
                     "404, bytes]")
        self.assertEqual([e["message"] for e in out["events"]], [lines[2]])

    def test_pagination(self):
        seen, token, pages = [], None, 0
        while True:
            kw = {"limit": 3}
            if token:
                kw["nextToken"] = token
            out = self.logs.filter_log_events(logGroupName=self.g, **kw)
            seen += [e["message"] for e in out["events"]]
            pages += 1
            token = out.get("nextToken")
            if not token:
                break
        self.assertEqual(len(seen), 8)
        self.assertEqual(len(set(seen)), 8)
        self.assertEqual(pages, 3)
        # The AWS CLI follows nextToken by itself.
        out = sh.aws(self, self.srv, "logs", "filter-log-events", "--log-group-name", self.g,
                     "--page-size", "2")
        self.assertEqual(len(out["events"]), 8)


class PutLogEventsRulesTest(ServeLogsBase):
    """Every documented PutLogEvents rule, each with a violating request."""

    def call(self, payload):
        return sh.logs_call(self.srv, "PutLogEvents", payload)

    def test_too_many_events(self):
        g, s = self.make_stream()
        now = sh.now_ms()
        r = self.call({"logGroupName": g, "logStreamName": s,
                       "logEvents": [{"timestamp": now, "message": "x"}] * 10001})
        self.assertLogsError(r, "InvalidParameterException", text="10000")
        ok = self.call({"logGroupName": g, "logStreamName": s,
                        "logEvents": [{"timestamp": now, "message": "x"}] * 10000})
        self.assertEqual(ok.status, 200, ok)

    def test_no_events(self):
        g, s = self.make_stream()
        r = self.call({"logGroupName": g, "logStreamName": s, "logEvents": []})
        self.assertLogsError(r, "InvalidParameterException")
        r = self.call({"logGroupName": g, "logStreamName": s})
        self.assertLogsError(r, "InvalidParameterException")

    def test_batch_too_large_counts_utf8_bytes_plus_26(self):
        g, s = self.make_stream()
        now = sh.now_ms()
        # Two events: 2 * (len + 26) bytes. "é" is 2 bytes in UTF-8, so 262,131 of them plus
        # 26 is 524,288 bytes: two fit exactly, one more byte does not.
        exact = "é" * 262131
        r = self.call({"logGroupName": g, "logStreamName": s,
                       "logEvents": [{"timestamp": now, "message": exact}] * 2})
        self.assertEqual(r.status, 200, r)
        r = self.call({"logGroupName": g, "logStreamName": s,
                       "logEvents": [{"timestamp": now, "message": exact},
                                     {"timestamp": now, "message": exact + "x"}]})
        self.assertLogsError(r, "InvalidParameterException", text="1048577")

    def test_event_too_large(self):
        g, s = self.make_stream()
        r = self.call({"logGroupName": g, "logStreamName": s,
                       "logEvents": [{"timestamp": sh.now_ms(), "message": "x" * 1048551}]})
        self.assertLogsError(r, "InvalidParameterException", text="too large")

    def test_event_size_limit_is_a_server_option(self):
        small = sh.start_server(self, extra_args=["--max-event-bytes", "1026"])
        logs = sh.boto3_client(self, small, "logs")
        logs.create_log_group(logGroupName="g")
        logs.create_log_stream(logGroupName="g", logStreamName="s")
        ev = lambda n: {"logGroupName": "g", "logStreamName": "s",
                        "logEvents": [{"timestamp": sh.now_ms(), "message": "x" * n}]}
        self.assertEqual(sh.logs_call(small, "PutLogEvents", ev(1000)).status, 200)
        r = sh.logs_call(small, "PutLogEvents", ev(1001))
        self.assertLogsError(r, "InvalidParameterException", text="too large")

    def test_empty_message(self):
        g, s = self.make_stream()
        r = self.call({"logGroupName": g, "logStreamName": s,
                       "logEvents": [{"timestamp": sh.now_ms(), "message": ""}]})
        self.assertLogsError(r, "InvalidParameterException")

    def test_invalid_utf8_rejected(self):
        g, s = self.make_stream()
        body = ('{"logGroupName": "%s", "logStreamName": "%s", "logEvents": '
                '[{"timestamp": %d, "message": "bad \xff\xfe bytes"}]}'
                % (g, s, sh.now_ms())).encode("latin-1")
        r = self.call(body)
        self.assertEqual(r.status, 400, r)
        self.assertIn(r.error_type, ("SerializationException", "InvalidParameterException"))
        out = self.logs.get_log_events(logGroupName=g, logStreamName=s)
        self.assertEqual(out["events"], [])

    def test_chronological_order(self):
        g, s = self.make_stream()
        now = sh.now_ms()
        with self.assertRaises(self.logs.exceptions.InvalidParameterException) as cm:
            self.put(g, s, [{"timestamp": now, "message": "b"},
                            {"timestamp": now - 1, "message": "a"}])
        self.assertIn("chronological", str(cm.exception))
        # Equal timestamps are in order.
        self.put(g, s, [{"timestamp": now, "message": "a"}, {"timestamp": now, "message": "b"}])

    def test_span_over_24_hours(self):
        g, s = self.make_stream()
        now = sh.now_ms()
        with self.assertRaises(self.logs.exceptions.InvalidParameterException) as cm:
            self.put(g, s, [{"timestamp": now - 3 * DAY, "message": "a"},
                            {"timestamp": now - 2 * DAY + 1, "message": "b"}])
        self.assertIn("24 hours", str(cm.exception))
        self.put(g, s, [{"timestamp": now - 3 * DAY, "message": "a"},
                        {"timestamp": now - 2 * DAY, "message": "b"}])

    def test_names_validated(self):
        g, s = self.make_stream()
        ev = [{"timestamp": sh.now_ms(), "message": "x"}]
        for group, stream in [("bad:name", s), ("a" * 513, s), (g, "has*star"),
                              (g, "has:colon"), (g, "s" * 513), ("", s)]:
            r = self.call({"logGroupName": group, "logStreamName": stream, "logEvents": ev})
            self.assertLogsError(r, "InvalidParameterException")
        r = sh.logs_call(self.srv, "CreateLogGroup", {"logGroupName": "spaces not allowed"})
        self.assertLogsError(r, "InvalidParameterException", text="regular expression")
        ok = sh.logs_call(self.srv, "CreateLogGroup", {"logGroupName": uniq("/a.b-c_d/#e")})
        self.assertEqual(ok.status, 200, ok)

    def test_missing_group_and_stream(self):
        g, s = self.make_stream()
        ev = [{"timestamp": sh.now_ms(), "message": "x"}]
        r = self.call({"logGroupName": uniq("nope"), "logStreamName": s, "logEvents": ev})
        self.assertLogsError(r, "ResourceNotFoundException", text="log group")
        r = self.call({"logGroupName": g, "logStreamName": "nope", "logEvents": ev})
        self.assertLogsError(r, "ResourceNotFoundException", text="log stream")

    def test_too_old_and_too_new_rejected_one_by_one(self):
        g, s = self.make_stream()
        now = sh.now_ms()
        evs = [{"timestamp": now - 15 * DAY, "message": "old0"},
               {"timestamp": now - 15 * DAY + 5, "message": "old1"},
               {"timestamp": now - 3600_000, "message": "ok0"},
               {"timestamp": now, "message": "ok1"},
               {"timestamp": now + 3 * 3600_000, "message": "new0"}]
        # 15 days .. now+3h spans more than 24h, so send old and new in separate calls as a
        # client must; each call must report its rejected range.
        out = self.put(g, s, evs[:2])
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooOldLogEventEndIndex": 2})
        out = self.put(g, s, evs[2:])
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooNewLogEventStartIndex": 2})
        out = self.put(g, s, [{"timestamp": now - 14 * DAY - 60_000, "message": "old2"},
                              {"timestamp": now - 14 * DAY + 3600_000, "message": "ok2"}])
        self.assertEqual(out["rejectedLogEventsInfo"], {"tooOldLogEventEndIndex": 1})
        got = self.logs.get_log_events(logGroupName=g, logStreamName=s, startFromHead=True)
        self.assertEqual([e["message"] for e in got["events"]], ["ok2", "ok0", "ok1"])

    def test_expired_by_retention(self):
        g, s = self.make_stream()
        self.logs.put_retention_policy(logGroupName=g, retentionInDays=1)
        now = sh.now_ms()
        out = self.put(g, s, [{"timestamp": now - DAY - 60_000, "message": "exp0"},
                              {"timestamp": now - DAY - 30_000, "message": "exp1"},
                              {"timestamp": now - 120_000, "message": "ok"}])
        self.assertEqual(out["rejectedLogEventsInfo"], {"expiredLogEventEndIndex": 2})
        got = self.logs.get_log_events(logGroupName=g, logStreamName=s)
        self.assertEqual([e["message"] for e in got["events"]], ["ok"])

    def test_sequence_token_accepted_and_ignored(self):
        g, s = self.make_stream()
        ev = [{"timestamp": sh.now_ms(), "message": "x"}]
        out = self.logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=ev,
                                       sequenceToken="not-a-real-token")
        self.assertIn("nextSequenceToken", out)
        out = self.logs.put_log_events(logGroupName=g, logStreamName=s, logEvents=ev,
                                       sequenceToken="not-a-real-token")
        self.assertIn("nextSequenceToken", out)

    def test_bad_json_and_unknown_operation(self):
        r = sh.logs_call(self.srv, "PutLogEvents", b"{not json")
        self.assertLogsError(r, "SerializationException")
        r = sh.logs_call(self.srv, "DescribeEverything", {})
        self.assertLogsError(r, "UnknownOperationException")
        r = sh.logs_call(self.srv, "PutLogEvents", {"logGroupName": 5})
        self.assertLogsError(r, "SerializationException")


class RetentionTest(ServeLogsBase):
    def test_expired_events_hidden_on_read_not_deleted(self):
        g, s = self.make_stream()
        now = sh.now_ms()
        self.put(g, s, [{"timestamp": now - 3 * DAY, "message": "older"}])
        self.put(g, s, [{"timestamp": now - 1000, "message": "recent"}])
        self.logs.put_retention_policy(logGroupName=g, retentionInDays=1)
        msgs = lambda: [e["message"] for e in self.logs.get_log_events(
            logGroupName=g, logStreamName=s, startFromHead=True)["events"]]
        fmsgs = lambda: [e["message"] for e in
                         self.logs.filter_log_events(logGroupName=g)["events"]]
        self.assertEqual(msgs(), ["recent"])
        self.assertEqual(fmsgs(), ["recent"])
        # A startTime before the retention window does not reach behind it.
        since = now - 4 * DAY
        self.assertEqual([e["message"] for e in self.logs.get_log_events(
            logGroupName=g, logStreamName=s, startTime=since)["events"]], ["recent"])
        self.assertEqual([e["message"] for e in self.logs.filter_log_events(
            logGroupName=g, startTime=since)["events"]], ["recent"])
        self.logs.put_retention_policy(logGroupName=g, retentionInDays=5)
        self.assertEqual(msgs(), ["older", "recent"])
        with self.assertRaises(self.logs.exceptions.InvalidParameterException):
            self.logs.put_retention_policy(logGroupName=g, retentionInDays=4)
        with self.assertRaises(self.logs.exceptions.ResourceNotFoundException):
            self.logs.put_retention_policy(logGroupName=uniq("nope"), retentionInDays=5)


if __name__ == "__main__":
    unittest.main()
