"""HTTP ingestion endpoints of `skylog serve`: /ingest/bulk (ND-JSON) and /v1/logs (OTLP JSON),
with bearer-token and SigV4 authentication."""

import json
import unittest

import skyharness as sh

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
        self.assertIn("kvlistValue", got[1][1])
        r = self.send("/v1/logs", b"\x0a\x00", group="otlp", stream="svc",
                      extra={"Content-Type": "application/x-protobuf"})
        self.assertEqual(r.status, 415)

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
