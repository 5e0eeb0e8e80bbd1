"""HTTP ingestion endpoints of `skylog serve`: /ingest/bulk (ND-JSON) and /v1/logs (OTLP JSON
and protobuf), with bearer-token and SigV4 authentication. The OTLP round trip runs skylog's own
OTLP sink (tests/tools/sky_http_tool) against serve in both encodings; the hand-made protobuf
requests come from otlp_wire, written from the .proto files independently of the C code."""

import json
import os
import subprocess
import unittest

import otlp_wire as pw
import skyharness as sh

TOOL = os.path.join(os.environ.get("SKYLOG_BUILD_DIR", ""), "tests", "tools", "sky_http_tool")
S_VALUE = 'q"uo\nte \u00e9'

TOKEN = "s3cret-token"


class IngestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls, auth="sigv4", bearer_token=TOKEN)

    def setUp(self):
        self.logs = sh.boto3_client(self, self.srv, "logs")

    def send(self, path, body, group="ing", stream="s", token=TOKEN, sign=None, extra=None):
        headers = {"Content-Type": "application/json"}
        if group:
            headers["x-aws-log-group"] = group
        if stream:
            headers["x-aws-log-stream"] = stream
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra or {})
        return sh.raw_request(self.srv, "POST", path, body, headers, sign=sign)

    def messages(self, group, stream="s"):
        out = self.logs.get_log_events(logGroupName=group, logStreamName=stream,
                                       startFromHead=True)
        return [(e["timestamp"], e["message"]) for e in out["events"]]

    def test_bulk_ndjson(self):
        now = sh.now_ms()
        body = "\n".join([
            json.dumps({"timestamp": now - 2, "message": "plain line"}),
            "",
            json.dumps({"timestamp": now - 1, "level": "info", "msg": "structured"}),
            json.dumps({"message": {"nested": True}, "timestamp": now}),
        ]) + "\n"
        r = self.send("/ingest/bulk", body, group="bulk")
        self.assertEqual((r.status, r.json), (200, {}), r)
        got = self.messages("bulk")
        self.assertEqual(got[0], (now - 2, "plain line"))
        self.assertEqual(json.loads(got[1][1]), {"timestamp": now - 1, "level": "info",
                                                 "msg": "structured"})
        self.assertEqual(json.loads(got[2][1])["message"], {"nested": True})

    def test_events_outside_the_time_window_are_reported(self):
        """Events CloudWatch would reject for their time (older than 14 days, more than 2 hours
        ahead, at either end of int64) are not stored, and the answer says how many: OTLP's
        partial success in both encodings, rejectedLogEvents for /ingest/bulk. They were
        answered 200 {} and silently lost."""
        now = sh.now_ms()
        old, new = now - 15 * 24 * 3600 * 1000, now + 3 * 3600 * 1000
        body = "\n".join(json.dumps({"timestamp": t, "message": m}) for t, m in
                          [(now, "kept"), (old, "old"), (new, "new"), (2 ** 63 - 1, "max"),
                           (-2 ** 63, "min")])
        r = self.send("/ingest/bulk", body, group="window")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["rejectedLogEvents"], 4)
        self.assertIn("14 days", r.json["message"])
        self.assertEqual(self.messages("window"), [(now, "kept")])
        # nothing rejected: the answer stays {}
        r = self.send("/ingest/bulk", json.dumps({"timestamp": now, "message": "k2"}),
                      group="window")
        self.assertEqual((r.status, r.json), (200, {}))

        def rec(ms, text):
            return {"timeUnixNano": str(ms * 1_000_000), "body": {"stringValue": text}}
        logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [rec(now, "a"), rec(old, "b"),
                                                                rec(new, "c")]}]}]}
        r = self.send("/v1/logs", json.dumps(logs), group="window", stream="otlp")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["partialSuccess"]["rejectedLogRecords"], "2")
        self.assertTrue(r.json["partialSuccess"]["errorMessage"])
        recs = [pw.log_record(now * 1_000_000, "a"), pw.log_record(old * 1_000_000, "b")]
        r = self.protobuf(pw.request(recs), "window", "pb")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "application/x-protobuf")
        got = pw.decode_response(r.body)
        self.assertEqual(got["partialSuccess"]["rejectedLogRecords"], "1")
        self.assertTrue(got["partialSuccess"]["errorMessage"])
        self.assertEqual(self.messages("window", "pb"), [(now, "a")])
        tid, sid = bytes(range(1, 17)), bytes(range(1, 9))
        spans = [pw.span(tid, sid, name="late", start_ns=old * 1_000_000,
                         end_ns=old * 1_000_000 + 1)]
        r = self.send("/v1/traces", pw.traces_request(spans), group="window", stream="tr",
                      extra={"Content-Type": "application/x-protobuf"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(pw.decode_response(r.body, traces=True)["partialSuccess"]
                         ["rejectedSpans"], "1")

    def test_bulk_bad_line_stores_nothing(self):
        now = sh.now_ms()
        body = json.dumps({"timestamp": now, "message": "ok"}) + "\n{broken\n"
        r = self.send("/ingest/bulk", body, group="bulkbad")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.error_type, "SerializationException")
        with self.assertRaises(self.logs.exceptions.ResourceNotFoundException):
            self.messages("bulkbad")

    def test_otlp_json(self):
        now_ns = sh.now_ms() * 1_000_000
        body = {"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{
            "scope": {"name": "t"}, "logRecords": [
                {"timeUnixNano": str(now_ns), "severityText": "INFO",
                 "body": {"stringValue": "otlp hello"}},
                {"observedTimeUnixNano": now_ns + 1_000_000,
                 "body": {"kvlistValue": {"values": [{"key": "k",
                                                      "value": {"intValue": "1"}}]}}},
            ]}]}]}
        r = self.send("/v1/logs", json.dumps(body), group="otlp", stream="svc")
        self.assertEqual((r.status, r.json), (200, {}), r)
        got = self.messages("otlp", "svc")
        self.assertEqual(got[0], (now_ns // 1_000_000, "otlp hello"))
        self.assertEqual(json.loads(got[1][1]), {"k": 1})  # a plain JSON value

    def protobuf(self, body, group, stream="s"):
        return self.send("/v1/logs", body, group=group, stream=stream,
                         extra={"Content-Type": "application/x-protobuf"})

    def test_otlp_protobuf(self):
        now_ns = sh.now_ms() * 1_000_000
        tid, sid = bytes(range(1, 17)), bytes(range(1, 9))
        unknown = (pw.vi(99, 7) + pw.ld(100, b"junk") + pw.tag(101, 5) + b"abcd"
                   + pw.tag(102, 3) + pw.vi(1, 1) + pw.tag(103, 3) + pw.tag(103, 4)
                   + pw.tag(102, 4))  # a varint, bytes, a fixed32 and nested groups, skipped
        recs = [
            pw.log_record(now_ns, "plain", 9, "INFO", extra=unknown),
            pw.log_record(observed_ns=now_ns + 1_000_000, body={"k": [1, "x", None, True]}),
            pw.log_record(now_ns + 2_000_000, "structured", 17, "ERROR",
                          attrs={"i": -5, "f": 0.25, "b": False, "n": None, "by": b"\x00\xff",
                                 "nan": float("nan"), "inf": float("-inf"),
                                 "nest": {"a": {"b": [1, 2]}}},
                          trace_id=tid, span_id=sid),
            pw.log_record(now_ns + 3_000_000, "bad ids", attrs={"x": 1},
                          trace_id=b"\x01" * 15, span_id=b"\x00" * 8),
            pw.log_record(now_ns + 4_000_000),  # nothing to store: skipped
            # a oneof given twice: the last one wins; the body given twice likewise
            pw.log_record(now_ns + 5_000_000, extra=pw.ld(5, pw.ld(1, "first") + pw.vi(3, 42))
                          + pw.ld(5, pw.ld(1, "second"))),
        ]
        body = pw.request(recs, resource={"service.name": "svc"}, scope=("lib", "1.2"))
        r = self.protobuf(body, "otlppb")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "application/x-protobuf")
        self.assertEqual(r.body, b"")  # an empty ExportLogsServiceResponse
        got = self.messages("otlppb")
        ms = now_ns // 1_000_000
        self.assertEqual([t for t, _ in got], [ms, ms + 1, ms + 2, ms + 3, ms + 5])
        self.assertEqual(got[0][1], "plain")
        self.assertEqual(json.loads(got[1][1]), {"k": [1, "x", None, True]})
        self.assertEqual(json.loads(got[2][1]), {
            "body": "structured", "severityText": "ERROR", "severityNumber": 17,
            "traceId": tid.hex(), "spanId": sid.hex(),
            "attributes": {"i": -5, "f": 0.25, "b": False, "n": None, "by": "AP8=",
                           "nan": "NaN", "inf": "-Infinity", "nest": {"a": {"b": [1, 2]}}},
            "resource": {"service.name": "svc"}, "scope": {"name": "lib", "version": "1.2"}})
        self.assertEqual(json.loads(got[3][1]), {  # invalid ids are no ids (OTLP)
            "body": "bad ids", "attributes": {"x": 1}, "resource": {"service.name": "svc"},
            "scope": {"name": "lib", "version": "1.2"}})
        self.assertEqual(got[4][1], "second")

        # the wire order of a message's fields does not matter: resource after the records
        sl = pw.ld(2, pw.log_record(now_ns, "late resource", attrs={"a": "b"})) + pw.ld(1, pw.ld(1, "s"))
        body = pw.ld(1, pw.ld(2, sl) + pw.ld(1, pw.ld(1, pw.key_value("service.name", "late"))))
        self.assertEqual(self.protobuf(body, "otlppb", "order").status, 200)
        self.assertEqual(json.loads(self.messages("otlppb", "order")[0][1]), {
            "body": "late resource", "attributes": {"a": "b"},
            "resource": {"service.name": "late"}, "scope": {"name": "s"}})

    def test_otlp_json_and_protobuf_store_the_same(self):
        now_ns = sh.now_ms() * 1_000_000
        attrs = {"i": 7, "s": "x", "f": 1.5, "b": True, "l": [1, {"k": "v"}]}
        jattrs = [{"key": "i", "value": {"intValue": "7"}}, {"key": "s", "value": {"stringValue": "x"}},
                  {"key": "f", "value": {"doubleValue": 1.5}}, {"key": "b", "value": {"boolValue": True}},
                  {"key": "l", "value": {"arrayValue": {"values": [{"intValue": "1"}, {
                      "kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}]}}}]
        doc = {"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "svc"}}]}, "scopeLogs": [{
                "scope": {"name": "lib"}, "logRecords": [{
                    "timeUnixNano": str(now_ns), "severityNumber": 13, "severityText": "WARN",
                    "body": {"stringValue": "same"}, "attributes": jattrs,
                    "traceId": "0102030405060708090A0B0C0D0E0F10", "spanId": "0102030405060708"}]}]}]}
        self.assertEqual(self.send("/v1/logs", json.dumps(doc), group="same", stream="json").status, 200)
        body = pw.request([pw.log_record(now_ns, "same", 13, "WARN", attrs=attrs,
                                         trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)))],
                          resource={"service.name": "svc"}, scope=("lib", ""))
        self.assertEqual(self.protobuf(body, "same", "pb").status, 200)
        j, p = self.messages("same", "json"), self.messages("same", "pb")
        self.assertEqual(j, p)
        self.assertEqual(json.loads(j[0][1])["traceId"], "0102030405060708090a0b0c0d0e0f10")

    def test_otlp_protobuf_malformed_stores_nothing(self):
        now_ns = sh.now_ms() * 1_000_000
        good = pw.log_record(now_ns, "ok")
        deep = "x"
        for _ in range(20):
            deep = [deep]
        cases = {
            "truncated": pw.request([good])[:-1],
            "length past the end": pw.ld(1, b"")[:-1] + b"\x05",
            "wrong wire type": pw.request([good + pw.vi(5, 1)]),
            "not UTF-8": pw.request([pw.log_record(now_ns, "ok", attrs={"k": "v"})
                                     .replace(b"v", b"\xff")]),
            "too deep": pw.request([pw.log_record(now_ns, deep)]),
            "field number 0": pw.request([good + pw.vi(0, 1)]),
            "overlong varint": pw.request([good + pw.tag(99, 0) + b"\xff" * 10 + b"\x01"]),
            "unmatched end group": pw.request([good + pw.tag(99, 4)]),
            "end of another group": pw.request([good + pw.tag(99, 3) + pw.tag(98, 4)]),
        }
        for name, body in cases.items():
            with self.subTest(name):
                r = self.protobuf(body, "pbbad")
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.error_type, "SerializationException")
                self.assertIn("not valid OTLP protobuf", r.json["message"])
        with self.assertRaises(self.logs.exceptions.ResourceNotFoundException):
            self.messages("pbbad")
        # nesting: 16 levels of AnyValue are fine, 17 are not, in both encodings
        def nested(levels):
            v = "x"
            for _ in range(levels - 1):
                v = [v]
            return v
        def nested_json(levels):
            v = {"stringValue": "x"}
            for _ in range(levels - 1):
                v = {"arrayValue": {"values": [v]}}
            return v
        for levels, status in ((16, 200), (17, 400)):
            r = self.protobuf(pw.request([pw.log_record(now_ns, nested(levels))]), f"pbdeep{levels}")
            self.assertEqual(r.status, status, r)
            doc = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
                {"timeUnixNano": str(now_ns), "body": nested_json(levels)}]}]}]}
            r = self.send("/v1/logs", json.dumps(doc), group=f"jsdeep{levels}")
            self.assertEqual(r.status, status, r)
            if status == 400:
                self.assertIn("nested too deep", r.json["message"])
        # values are counted before they are made: 500,001 (empty) array elements are refused
        arr = pw.ld(5, pw.ld(1, b"") * 500_001)
        r = self.protobuf(pw.request([pw.log_record(now_ns, extra=pw.ld(5, arr))]), "pbbad")
        self.assertEqual(r.status, 400, r)
        self.assertIn("more values than one request may hold", r.json["message"])
        r = self.protobuf(pw.request([good] * 10001), "pbbad")
        self.assertEqual((r.status, r.error_type), (400, "InvalidParameterException"), r)
        r = self.protobuf(pw.request([good] * 10000), "pbmax")
        self.assertEqual(r.status, 200, r)

    def test_otlp_round_trip_from_the_sink(self):
        """skylog's OTLP sink -> serve, in both encodings: every field of every event stored."""
        if not os.path.exists(TOOL):
            raise unittest.SkipTest("sky_http_tool not built")
        stored = {}
        for proto in ("http/json", "http/protobuf"):
            group = "rt-" + proto.split("/")[1]
            p = subprocess.run([TOOL, "otlp", self.srv.url, "30", "service_name=checkout",
                                f"protocol={proto}", f"bearer_token={TOKEN}", "batch_size=7",
                                f"headers=x-aws-log-group={group},x-aws-log-stream=s"],
                               capture_output=True, text=True, timeout=300 * sh.timeout_scale())
            self.assertEqual(p.returncode, 0, p.stderr)
            st = json.loads(p.stdout.strip().splitlines()[-1])
            self.assertEqual((st["sent_events"], st["retries"]), (30, 0), st)
            evs = [json.loads(m) for _, m in self.messages(group)]
            self.assertEqual(len(evs), 30)
            for e in evs:
                a = e["attributes"]
                i = a["i"]
                self.assertEqual((e["body"], e["severityText"], e["severityNumber"]), ("ev", "INFO", 9))
                self.assertEqual({k: a[k] for k in ("s", "f", "b", "z", "u", "e", "d", "nan", "t",
                                                     "logger.name")},
                                 {"s": S_VALUE, "f": i + 0.5, "b": i % 2 == 0, "z": None,
                                  "u": "18446744073709551615",
                                  "e": "ENOENT: No such file or directory", "d": 1.5,
                                  "nan": "NaN", "t": "2023-11-14T22:13:20.123Z",
                                  "logger.name": "tool"})
                self.assertTrue(a["code.filepath"].endswith("sky_http_tool.c"))
                self.assertIsInstance(a["code.lineno"], int)
                if i % 2 == 0:
                    self.assertRegex(e["traceId"], "^[0-9a-f]{32}$")
                    self.assertRegex(e["spanId"], "^[0-9a-f]{16}$")
                else:
                    self.assertNotIn("traceId", e)
                self.assertEqual(e["resource"]["service.name"], "checkout")
                self.assertEqual(e["resource"]["team"], "a,b")
                self.assertEqual(e["scope"]["name"], "skylog")
                e.pop("traceId", None), e.pop("spanId", None)
            stored[proto] = sorted(evs, key=lambda e: e["attributes"]["i"])
            self.assertEqual([e["attributes"]["i"] for e in stored[proto]], list(range(30)))
        self.assertEqual(stored["http/json"], stored["http/protobuf"])

    def test_authentication(self):
        body = json.dumps({"timestamp": sh.now_ms(), "message": "x"})
        r = self.send("/ingest/bulk", body, token="wrong")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.error_type, "UnrecognizedClientException")
        r = self.send("/ingest/bulk", body, token=None)
        self.assertEqual(r.error_type, "MissingAuthenticationTokenException")
        r = self.send("/ingest/bulk", body, group="signed", token=None, sign="logs")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(self.messages("signed")), 1)
        r = self.send("/ingest/bulk", body, token=None, sign="logs", extra={})
        self.assertEqual(r.status, 200, r)

    def test_headers_required(self):
        body = json.dumps({"timestamp": sh.now_ms(), "message": "x"})
        r = self.send("/ingest/bulk", body, group=None)
        self.assertEqual((r.status, r.error_type), (400, "InvalidParameterException"))
        r = self.send("/ingest/bulk", body, group="bad:group")
        self.assertEqual((r.status, r.error_type), (400, "InvalidParameterException"))


if __name__ == "__main__":
    unittest.main()
