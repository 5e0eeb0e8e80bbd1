"""The generic HTTP batch sink and the OTLP/HTTP logs exporter (src/sinks/http_batch.c, otlp.c)
against a local receiver that checks every payload field by field, with faults: 5xx, 429 with
Retry-After, connections reset after the whole request was read, 413, 400 and 401.

The promise checked every time: each event is delivered once, or counted. Delivered means: in a
2xx-answered request. A request whose connection was reset after it was read may have been
stored; the sink resends it with the same X-Skylog-Batch id and counts it `ambiguous`, so after
dropping repeated batch ids every event is there exactly once, and received == sent_events +
Σ dropped.

The driver is tests/tools/sky_http_tool.c (an async pipeline, N events "ev" with fields i, s,
f, b, z, u; even ones inside a span)."""
import gzip
import json
import os
import subprocess
import threading
import time
import unittest

import awsfakes
import otlp_wire
import skyharness as sh

TOOL = os.path.join(os.environ.get("SKYLOG_BUILD_DIR", ""), "tests", "tools", "sky_http_tool")
S_VALUE = 'q"uo\nte \u00e9'
U_MAX = 18446744073709551615


class Receiver:
    """A FakeServer whose answers follow a script (one entry per request, then 200)."""

    def __init__(self, script=()):
        self.script = list(script)
        self.lock = threading.Lock()
        self.times = []
        self.answered = []  # (status or "reset", request)
        self.server = awsfakes.FakeServer(self.handle)

    def handle(self, req):
        with self.lock:
            self.times.append(time.monotonic())
            ans = self.script.pop(0) if self.script else 200
            self.answered.append((ans, req))
        if ans == "reset":
            return "reset"
        if isinstance(ans, tuple):  # (status, headers)
            return (ans[0], ans[1], b"")
        return (ans, {"Content-Type": "application/json"}, b"{}")

    def delivered(self):
        """The bodies of 2xx-answered requests, decompressed, with their batch ids."""
        out = []
        for ans, req in self.answered:
            if ans == 200:
                body = req.body
                if req.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                out.append((req.headers.get("x-skylog-batch"), body, req))
        return out


def run_tool(test, kind, url, n, *opts):
    if not os.path.exists(TOOL):
        raise unittest.SkipTest("sky_http_tool not built")
    p = subprocess.run([TOOL, kind, url, str(n), "max_backoff_ms=100", *opts],
                       capture_output=True, text=True, timeout=300 * sh.timeout_scale())
    test.assertEqual(p.returncode, 0, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


def dedup(delivered):
    seen, out = set(), []
    for bid, body, req in delivered:
        if bid in seen:
            continue
        seen.add(bid)
        out.append((bid, body, req))
    return out


class Accounting:
    def check(self, st, n, delivered_events):
        self.assertEqual(st["flush"], "ok", st)
        self.assertEqual(st["received"], n)
        dropped = sum(v for k, v in st.items() if k.startswith("dropped_"))
        self.assertEqual(st["sent_events"] + st["queued_events"] + dropped, n, st)
        self.assertEqual(st["sent_events"], len(delivered_events), st)


class TestGenericHttp(unittest.TestCase, Accounting):
    def events(self, rec, body_kind="logs"):
        evs = []
        for bid, body, req in dedup(rec.delivered()):
            self.assertIsNotNone(bid)
            text = body.decode("utf-8")
            if body_kind == "ndjson":
                self.assertEqual(req.headers["content-type"], "application/x-ndjson")
                self.assertTrue(text.endswith("\n"))
                evs += [json.loads(line) for line in text.splitlines()]
            else:
                self.assertEqual(req.headers["content-type"], "application/json")
                doc = json.loads(text)
                if body_kind == "logs":
                    self.assertEqual(list(doc.keys()), ["logs"])
                    doc = doc["logs"]
                self.assertIsInstance(doc, list)
                evs += doc
        return evs

    def check_events(self, evs, n):
        self.assertEqual(sorted(e["i"] for e in evs), list(range(n)))  # each once
        for e in evs:
            self.assertEqual(e["message"], "ev")
            self.assertEqual(e["level"], "INFO")
            self.assertEqual(e["logger"], "tool")
            self.assertEqual(e["s"], S_VALUE)
            self.assertEqual(e["f"], e["i"] + 0.5)
            self.assertIs(e["b"], e["i"] % 2 == 0)
            self.assertIsNone(e["z"])
            self.assertEqual(e["u"], U_MAX)
            self.assertEqual(e["e"], "ENOENT: No such file or directory")
            self.assertEqual(e["d"], 1.5)
            self.assertEqual(e["nan"], "NaN")
            self.assertEqual(e["t"], "2023-11-14T22:13:20.123Z")
            if e["i"] % 2 == 0:
                self.assertRegex(e["trace_id"], "^[0-9a-f]{32}$")
                self.assertRegex(e["span_id"], "^[0-9a-f]{16}$")
            else:
                self.assertNotIn("trace_id", e)

    def test_bodies_and_auth(self):
        for kind in ("logs", "array", "ndjson"):
            with self.subTest(kind=kind), Receiver() as rec:
                st, _ = run_tool(self, "http", rec.url + "/ingest", 250, f"body={kind}",
                                 "batch_size=100", "api_key=k-123", "gzip=1")
                evs = self.events(rec, kind)
                self.check_events(evs, 250)
                self.check(st, 250, evs)
                self.assertEqual(st["retries"], 0)
                for _, _, req in rec.delivered():
                    self.assertEqual(req.path, "/ingest")
                    self.assertEqual(req.headers["x-api-key"], "k-123")
                    self.assertEqual(req.headers["content-encoding"], "gzip")
                # batch_size bounds every request
                self.assertGreaterEqual(len(rec.delivered()), 3)
        with Receiver() as rec:
            st, _ = run_tool(self, "http", rec.url, 5, "bearer_token=tok-9")
            self.assertEqual(rec.delivered()[0][2].headers["authorization"], "Bearer tok-9")
            self.assertNotIn("x-api-key", rec.delivered()[0][2].headers)

    def test_faults_every_event_once_or_counted(self):
        script = [500, "reset", (429, {"Retry-After": "0"}), 503, "reset", 502]
        with Receiver(script) as rec:
            st, _ = run_tool(self, "http", rec.url, 400, "batch_size=50")
            evs = self.events(rec)
            self.check_events(evs, 400)
            self.check(st, 400, evs)
            self.assertEqual(st["retries"], 6)
            self.assertEqual(st["throttles"], 1)
            # a reset after the whole request was read: it may have been stored
            self.assertEqual(st["ambiguous"], 2)
            # every retry resends the same batch (same id, same bytes)
            by_id = {}
            for ans, req in rec.answered:
                by_id.setdefault(req.headers["x-skylog-batch"], set()).add(req.body)
            self.assertTrue(all(len(b) == 1 for b in by_id.values()))

    def test_retry_after_is_honoured(self):
        with Receiver([(503, {"Retry-After": "1"})]) as rec:
            st, _ = run_tool(self, "http", rec.url, 3)
            self.check(st, 3, self.events(rec))
            self.assertEqual(st["throttles"], 1)
            # max_backoff_ms=100: only the Retry-After can explain a second between them
            self.assertGreaterEqual(rec.times[1] - rec.times[0], 1.0)

    def test_rejected_and_split_are_counted(self):
        with Receiver([400]) as rec:
            st, err = run_tool(self, "http", rec.url, 10, "batch_size=10")
            self.assertEqual(st["dropped_rejected"], 10)
            self.check(st, 10, self.events(rec))
            self.assertIn("HTTP 400", err)
        with Receiver([413]) as rec:
            st, _ = run_tool(self, "http", rec.url, 10, "batch_size=10")
            self.assertEqual(st["splits"], 1)
            evs = self.events(rec)
            self.check_events(evs, 10)
            self.check(st, 10, evs)
            self.assertLessEqual(max(len(json.loads(b)["logs"]) for _, b, _ in rec.delivered()), 5)

    def test_too_large_is_counted(self):
        with Receiver() as rec:
            st, _ = run_tool(self, "http", rec.url, 21, "big=1", "max_event_bytes=1000")
            evs = self.events(rec)
            self.assertEqual(st["dropped_too_large"], 3)  # i = 3, 10, 17
            self.check(st, 21, evs)
            self.assertNotIn(3, [e["i"] for e in evs])

    def test_full_queue_refuses_and_counts(self):
        # the endpoint is down: the queue keeps what it accepted, refuses the rest, counts both
        with Receiver([503] * 1000) as rec:
            st, err = run_tool(self, "http", rec.url, 50, "max_queue_size=10", "flush_ms=300")
            self.assertEqual(st["received"], 50)
            self.assertEqual(st["queued_events"], 10)
            self.assertEqual(st["dropped_queue_full"], 40)
            self.assertEqual(st["sent_events"], 0)
            self.assertIn("10 events could not be delivered before close", err)

    def test_credentials_refused_are_kept(self):
        # 401 keeps the events (an operator may fix the key), says so once, retries slowly;
        # what close cannot deliver is counted undelivered
        with Receiver([401] * 1000) as rec:
            st, err = run_tool(self, "http", rec.url, 4, "flush_ms=500")
            self.assertEqual(st["flush"], "timed out", st)
            self.assertEqual(st["received"], 4)
            self.assertEqual(st["queued_events"], 4)
            self.assertEqual(st["last_status"], 401)
            self.assertEqual(sum(v for k, v in st.items() if k.startswith("dropped_")), 0)
            self.assertEqual(err.count("refused our credentials"), 1)
            self.assertIn("4 events could not be delivered before close", err)
            # backing off: exponential from 100 ms, so a handful of tries in 2.5 s, not a storm
            self.assertLess(len(rec.answered), 20)


class TestOtlp(unittest.TestCase, Accounting):
    def records(self, rec, protobuf=False):
        """The records of every delivered batch; a protobuf body is read by otlp_wire, an
        independent decoder, into the dict its JSON encoding would be, and checked the same."""
        out = []
        for bid, body, req in dedup(rec.delivered()):
            self.assertEqual(req.path, "/v1/logs")
            self.assertEqual(req.headers["content-type"],
                             "application/x-protobuf" if protobuf else "application/json")
            doc = otlp_wire.decode_logs(body) if protobuf else json.loads(body)
            self.assertEqual(list(doc.keys()), ["resourceLogs"])
            self.assertEqual(len(doc["resourceLogs"]), 1)
            rl = doc["resourceLogs"][0]
            attrs = {a["key"]: a["value"] for a in rl["resource"]["attributes"]}
            self.assertEqual(attrs["service.name"], {"stringValue": "checkout"})
            self.assertIn("stringValue", attrs["host.name"])
            self.assertEqual(attrs["deployment.environment"], {"stringValue": "test"})
            self.assertEqual(attrs["team"], {"stringValue": "a,b"})  # percent-decoded
            self.assertEqual(len(rl["scopeLogs"]), 1)
            self.assertEqual(rl["scopeLogs"][0]["scope"]["name"], "skylog")
            self.assertRegex(rl["scopeLogs"][0]["scope"]["version"], r"^[0-9]+\.[0-9]+\.[0-9]+")
            out += rl["scopeLogs"][0]["logRecords"]
        return out

    def check_record(self, r, big=False):
        self.assertRegex(r["timeUnixNano"], r"^[0-9]{19}$")
        self.assertRegex(r["observedTimeUnixNano"], r"^[0-9]{19}$")
        self.assertEqual(r["severityNumber"], 9)
        self.assertEqual(r["severityText"], "INFO")
        self.assertEqual(r["body"], {"stringValue": "ev"})
        a = {x["key"]: x["value"] for x in r["attributes"]}
        self.assertEqual(len(a), len(r["attributes"]))  # keys distinct
        i = int(a["i"]["intValue"])
        if big and i % 7 == 3:  # sky_http_tool big=1
            self.assertEqual(len(a["s"]["stringValue"]), 2000)
        else:
            self.assertEqual(a["s"], {"stringValue": S_VALUE})
        self.assertEqual(a["f"], {"doubleValue": i + 0.5})
        self.assertEqual(a["b"], {"boolValue": i % 2 == 0})
        self.assertEqual(a["z"], {})
        self.assertEqual(a["u"], {"stringValue": str(U_MAX)})  # above int64
        self.assertEqual(a["e"], {"stringValue": "ENOENT: No such file or directory"})
        self.assertEqual(a["d"], {"doubleValue": 1.5})
        self.assertEqual(a["nan"], {"doubleValue": "NaN"})  # proto3 JSON's spelling
        self.assertEqual(a["t"], {"stringValue": "2023-11-14T22:13:20.123Z"})
        self.assertEqual(a["logger.name"], {"stringValue": "tool"})
        self.assertTrue(a["code.filepath"]["stringValue"].endswith("sky_http_tool.c"))
        self.assertRegex(a["code.lineno"]["intValue"], "^[0-9]+$")
        if i % 2 == 0:
            self.assertRegex(r["traceId"], "^[0-9a-f]{32}$")
            self.assertRegex(r["spanId"], "^[0-9a-f]{16}$")
            self.assertNotIn("trace_id", a)  # moved to the record's own fields
            self.assertNotIn("span_id", a)
        else:
            self.assertNotIn("traceId", r)
        return i

    def test_headers_option_and_environment(self):
        with Receiver() as rec:
            st, _ = run_tool(self, "otlp", rec.url, 2, "service_name=checkout",
                             "headers=X-Tenant=acme, Authorization=Basic%20dXNlcjpwdw==")
            req = rec.delivered()[0][2]
            self.assertEqual(req.headers["x-tenant"], "acme")
            self.assertEqual(req.headers["authorization"], "Basic dXNlcjpwdw==")
        with Receiver() as rec:  # OTEL_EXPORTER_OTLP_HEADERS when the option is not set
            env = {**os.environ, "OTEL_EXPORTER_OTLP_HEADERS": "x-honeycomb-team=k%3D1"}
            p = subprocess.run([TOOL, "otlp", rec.url, "1", "service_name=checkout"],
                               capture_output=True, text=True, env=env,
                               timeout=120 * sh.timeout_scale())
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(rec.delivered()[0][2].headers["x-honeycomb-team"], "k=1")
        for bad, why in (("Bad Name=1", "a character HTTP does not allow"),
                         ("Content-Type=text/plain", "set by the sink"),
                         ("X-A=1%0d%0aX-B: 2", "control character")):
            p = subprocess.run([TOOL, "http", "http://127.0.0.1:9/", "1", "headers=" + bad],
                               capture_output=True, text=True, timeout=60 * sh.timeout_scale())
            self.assertEqual(p.returncode, 1, bad)
            self.assertIn(why, p.stderr)

    def test_records_field_by_field_with_faults(self):
        script = [503, "reset", (429, {"Retry-After": "0"})]
        with Receiver(script) as rec:
            st, _ = run_tool(self, "otlp", rec.url, 120, "batch_size=40",
                             "service_name=checkout", "bearer_token=otlp-tok")
            recs = self.records(rec)
            self.assertEqual(sorted(self.check_record(r) for r in recs), list(range(120)))
            self.check(st, 120, recs)
            self.assertEqual(st["retries"], 3)
            self.assertEqual(st["ambiguous"], 1)
            for _, _, req in rec.delivered():
                self.assertEqual(req.headers["authorization"], "Bearer otlp-tok")

    def test_protobuf_records_field_by_field_with_faults(self):
        """The same content as the JSON encoding, as protobuf (big=1: records over 128 bytes
        and batches whose lengths take several varint bytes; gzip on top)."""
        script = [503, "reset", (429, {"Retry-After": "0"})]
        with Receiver(script) as rec:
            st, _ = run_tool(self, "otlp", rec.url, 120, "batch_size=40", "big=1", "gzip=1",
                             "service_name=checkout", "protocol=http/protobuf")
            recs = self.records(rec, protobuf=True)
            self.assertEqual(sorted(self.check_record(r, big=True) for r in recs),
                             list(range(120)))
            self.check(st, 120, recs)
            self.assertEqual(st["ambiguous"], 1)

    def test_protobuf_split_batches_stay_whole_messages(self):
        """A 413 halves the batch: each half is framed again with its own lengths."""
        with Receiver([413]) as rec:
            st, _ = run_tool(self, "otlp", rec.url, 10, "batch_size=10", "service_name=checkout",
                             "protocol=http/protobuf")
            self.assertEqual(st["splits"], 1)
            recs = self.records(rec, protobuf=True)
            self.assertEqual(sorted(self.check_record(r) for r in recs), list(range(10)))
            self.check(st, 10, recs)
            self.assertEqual(sorted(len(otlp_wire.decode_logs(b)["resourceLogs"][0]["scopeLogs"][0]
                                        ["logRecords"]) for _, b, _ in rec.delivered()), [5, 5])

    def test_protocol_from_environment(self):
        """OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, when the option
        is not set; grpc or a typo is refused at creation with the variable's name."""
        for env, pb in (({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, True),
                        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                          "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json"}, False),
                        ({}, False)):
            with Receiver() as rec:
                full = {k: v for k, v in os.environ.items() if "OTLP_" not in k}
                p = subprocess.run([TOOL, "otlp", rec.url, "2", "service_name=checkout"],
                                   capture_output=True, text=True, env={**full, **env},
                                   timeout=120 * sh.timeout_scale())
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(len(self.records(rec, protobuf=pb)), 2, env)
        for env in ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
                    {"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/proto"}):
            p = subprocess.run([TOOL, "otlp", "http://127.0.0.1:9/", "1"], capture_output=True,
                               text=True, env={**os.environ, **env},
                               timeout=60 * sh.timeout_scale())
            self.assertEqual(p.returncode, 1)
            self.assertIn(next(iter(env)) + "=", p.stderr)
            self.assertIn("http/protobuf or http/json", p.stderr)
        p = subprocess.run([TOOL, "otlp", "http://127.0.0.1:9/", "1", "protocol=bogus"],
                           capture_output=True, text=True, timeout=60 * sh.timeout_scale())
        self.assertEqual(p.returncode, 1)
        self.assertIn("unknown protocol", p.stderr)


def pb_names(rec):
    """The bodies of the protobuf records a Receiver was sent."""
    return [r["body"]["stringValue"] for _, b, _ in rec.delivered()
            for r in otlp_wire.decode_logs(b)["resourceLogs"][0]["scopeLogs"][0]["logRecords"]]


class TestRegistry(unittest.TestCase):
    """Both sinks from a YAML file and from SKYLOG_* variables, like every other sink."""

    def example(self, name):
        exe = os.path.join(os.environ.get("SKYLOG_BUILD_DIR", ""), name)
        if not os.path.exists(exe):
            self.skipTest(name + " not built")
        return exe

    def env(self, **extra):
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("SKYLOG_") and not k.startswith("OTEL_")}
        base["ASAN_OPTIONS"] = "detect_leaks=0"
        return {**base, **extra}

    def test_yaml(self):
        exe = self.example("example_config")
        import tempfile
        with Receiver() as http_rec, Receiver() as otlp_rec, tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.yaml")
            with open(path, "w") as f:
                f.write("sinks:\n"
                        f"  - http: {{ url: '{http_rec.url}/in', body: ndjson, api_key: k7 }}\n"
                        f"  - otlp: {{ endpoint: '{otlp_rec.url}', service_name: shop }}\n")
            p = subprocess.run([exe, path], capture_output=True, text=True, env=self.env(),
                               timeout=120 * sh.timeout_scale())
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = [json.loads(l) for _, b, _ in http_rec.delivered() for l in b.splitlines()]
            self.assertIn("order_placed", [e["message"] for e in lines])
            self.assertEqual(http_rec.delivered()[0][2].headers["x-api-key"], "k7")
            names = [r["body"]["stringValue"] for _, b, _ in otlp_rec.delivered()
                     for r in json.loads(b)["resourceLogs"][0]["scopeLogs"][0]["logRecords"]]
            self.assertIn("order_placed", names)

    def run_example(self, argv, **env):
        return subprocess.run(argv, capture_output=True, text=True, env=self.env(**env),
                              timeout=120 * sh.timeout_scale())

    def test_protocol_from_yaml_and_env(self):
        """`protocol: http/protobuf` (docs/TRACING.md's YAML) and SKYLOG_OTLP__PROTOCOL."""
        exe = self.example("example_config")
        import tempfile
        with Receiver() as rec, tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s.yaml")
            with open(path, "w") as f:
                f.write("sinks:\n"
                        f"  - otlp: {{ endpoint: '{rec.url}', service_name: shop, "
                        "protocol: http/protobuf }\n")
            p = self.run_example([exe, path])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(rec.delivered()[0][2].headers["content-type"],
                             "application/x-protobuf")
            self.assertIn("order_placed", pb_names(rec))
        exe = self.example("example_basic")
        with Receiver() as rec:
            p = self.run_example([exe], SKYLOG_OTLP__ENDPOINT=rec.url, SKYLOG_CONSOLE="off",
                                 SKYLOG_OTLP__PROTOCOL="http/protobuf")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("user_login", pb_names(rec))
        p = self.run_example([exe], SKYLOG_OTLP__ENDPOINT="http://127.0.0.1:9",
                             SKYLOG_OTLP__PROTOCOL="grpc")
        self.assertEqual(p.returncode, 1)
        self.assertIn("http/json, http/protobuf", p.stderr)

    def test_env(self):
        exe = self.example("example_basic")
        with Receiver() as rec:
            p = subprocess.run([exe], capture_output=True, text=True,
                               env=self.env(SKYLOG_HTTP__URL=rec.url, SKYLOG_HTTP__BODY="array",
                                            SKYLOG_CONSOLE="off"),
                               timeout=120 * sh.timeout_scale())
            self.assertEqual(p.returncode, 0, p.stderr)
            evs = [e for _, b, _ in rec.delivered() for e in json.loads(b)]
            self.assertIn("user_login", [e["message"] for e in evs])
            p = subprocess.run([exe], capture_output=True, text=True,
                               env=self.env(SKYLOG_HTTP__URL="ftp://x"),
                               timeout=120 * sh.timeout_scale())
            self.assertEqual(p.returncode, 1)
            self.assertIn("http: url must be an http:// or https:// URL", p.stderr)


def _enter(self):
    self.server.__enter__()
    self.url = self.server.url
    return self


def _exit(self, *exc):
    return self.server.__exit__(*exc)


Receiver.__enter__ = _enter
Receiver.__exit__ = _exit

if __name__ == "__main__":
    unittest.main()
