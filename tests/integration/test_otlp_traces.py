"""OTLP traces: finished spans leave the OTLP sink (src/sinks/otlp.c) as OTLP Spans on
/v1/traces, in both encodings, beside the logs on /v1/logs; and `skylog serve` takes /v1/traces
(server/otlp.c) and stores each span as an event a user can read.

The driver is tests/tools/sky_http_tool.c with spans=1: each even event "ev" i is inside a span
"work" that logs span_finished, and inside it a child span "step" (failed "boom" when
i % 4 == 0, set OK explicitly when i % 8 == 2, else UNSET) under a context field request_id.
Their kinds (sky_span_set_kind) go round all five: work i/2 % 5, step (i/2 + 4) % 5. Protobuf bodies are read by otlp_wire, a strict
decoder written from the .proto files (an unknown field or a wrong wire type fails), and held
to the very checks of the JSON ones. The span's timing is checked against its own log record:
the span_finished LogRecord's time is the span's end, and its duration_ms the end less the
start."""
import json
import os
import subprocess
import unittest

import otlp_wire as pw
import skyharness as sh
from test_http_sinks import Receiver, dedup

TOOL = os.path.join(os.environ.get("SKYLOG_BUILD_DIR", ""), "tests", "tools", "sky_http_tool")
TOKEN = "tr-token"
N = 8  # events: 4 "work" spans (i = 0, 2, 4, 6), each with a "step" child; 2 of those failed


def otlp_kind(k):
    """sky_span_kind (INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER) to trace.proto's SpanKind
    (SPAN_KIND_INTERNAL 1, SERVER 2, CLIENT 3, PRODUCER 4, CONSUMER 5)."""
    return {0: 1, 1: 2, 2: 3, 3: 4, 4: 5}[k]


def step_kind(i):
    return otlp_kind((i // 2 + 4) % 5)


def work_kind(i):
    return otlp_kind(i // 2 % 5)


def tool(test, url, *opts, env=None, check=True):
    if not os.path.exists(TOOL):
        raise unittest.SkipTest("sky_http_tool not built")
    full = {k: v for k, v in os.environ.items() if "OTEL_" not in k}
    full.update(env or {})
    p = subprocess.run([TOOL, "otlp", url, str(N), "max_backoff_ms=100", "spans=1",
                        "service_name=checkout", *opts], capture_output=True, text=True,
                       env=full, timeout=300 * sh.timeout_scale())
    if not check:
        return p
    test.assertEqual(p.returncode, 0, p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


class TestTracesExport(unittest.TestCase):
    def bodies(self, rec, path):
        out = []
        for _, body, req in dedup(rec.delivered()):
            if req.path == path:
                pb = req.headers["content-type"] == "application/x-protobuf"
                if not pb:
                    self.assertEqual(req.headers["content-type"], "application/json")
                out.append((pb, body))
        return out

    def spans(self, rec, protobuf):
        spans = []
        for pb, body in self.bodies(rec, "/v1/traces"):
            self.assertEqual(pb, protobuf)
            doc = pw.decode_traces(body) if pb else json.loads(body)
            self.assertEqual(list(doc.keys()), ["resourceSpans"])
            rs = doc["resourceSpans"][0]
            attrs = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}
            self.assertEqual(attrs["service.name"], {"stringValue": "checkout"})
            self.assertEqual(rs["scopeSpans"][0]["scope"]["name"], "skylog")
            spans += rs["scopeSpans"][0]["spans"]
        return spans

    def span_logs(self, rec, protobuf):
        """span_finished LogRecords by span id."""
        out = {}
        for pb, body in self.bodies(rec, "/v1/logs"):
            doc = pw.decode_logs(body) if pb else json.loads(body)
            for r in doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"]:
                if r["body"] == {"stringValue": "span_finished"}:
                    out[r["spanId"]] = r
        return out

    def check_spans(self, spans, logs=None):
        self.assertEqual(len(spans), N)
        by_id = {s["spanId"]: s for s in spans}
        self.assertEqual(len(by_id), N)  # distinct ids
        works = [s for s in spans if s["name"] == "work"]
        steps = [s for s in spans if s["name"] == "step"]
        self.assertEqual((len(works), len(steps)), (N // 2, N // 2))
        for s in spans:
            self.assertRegex(s["traceId"], "^[0-9a-f]{32}$")
            self.assertRegex(s["spanId"], "^[0-9a-f]{16}$")
            start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
            self.assertGreater(start, 1_600_000_000 * 10**9)
            self.assertLessEqual(start, end)
            a = {x["key"]: x["value"] for x in s["attributes"]}
            self.assertEqual(len(a), len(s["attributes"]))
            self.assertEqual(a["logger.name"], {"stringValue": "tool"})
            self.assertEqual(s["flags"], 1)  # W3C trace flags: sampled, as skylog starts them
            self.assertNotIn("traceState", s)
            for gone in ("span", "duration_ms", "status", "error", "trace_id", "span_id",
                         "parent_span_id", "span_kind", "status_code", "trace_flags",
                         "tracestate"):
                self.assertNotIn(gone, a)  # they became the span's own fields
            if logs is not None:  # the span's own log record says when it ended and how long
                r = logs[s["spanId"]]
                self.assertEqual(r["traceId"], s["traceId"])
                self.assertEqual(int(r["timeUnixNano"]), end)
                la = {x["key"]: x["value"] for x in r["attributes"]}
                self.assertAlmostEqual((end - start) / 1e6, la["duration_ms"]["doubleValue"],
                                       delta=0.001)
        for w in works:
            self.assertNotIn("parentSpanId", w)  # roots
            self.assertNotIn("status", w)        # UNSET
        kinds = set()
        for s in steps:
            parent = by_id[s["parentSpanId"]]
            self.assertEqual(parent["name"], "work")
            self.assertEqual(parent["traceId"], s["traceId"])
            self.assertLessEqual(int(parent["startTimeUnixNano"]), int(s["startTimeUnixNano"]))
            self.assertLessEqual(int(s["endTimeUnixNano"]), int(parent["endTimeUnixNano"]))
            a = {x["key"]: x["value"] for x in s["attributes"]}
            self.assertEqual(a["request_id"], {"stringValue": "req-1"})  # context fields
            i = int(a["i"]["intValue"])
            if i % 4 == 0:
                self.assertEqual(s["status"], {"code": 2, "message": "boom"})
            elif i % 8 == 2:
                self.assertEqual(s["status"], {"code": 1})  # STATUS_CODE_OK: set explicitly
            else:
                self.assertNotIn("status", s)  # UNSET
            self.assertEqual((s["kind"], parent["kind"]), (step_kind(i), work_kind(i)), i)
            kinds |= {s["kind"], parent["kind"]}
        self.assertEqual(kinds, {1, 2, 3, 4, 5})
        self.assertEqual(len({s["traceId"] for s in spans}), N // 2)  # a trace per root

    def check_stats(self, st, logs=True):
        # every event reaches both signals; the traces signal carries the spans and skips the
        # rest, counted, not dropped
        events = N + N  # "ev" events and span_finished events
        self.assertEqual(st["flush"], "ok", st)
        self.assertEqual(st["traces_received"], events, st)
        self.assertEqual(st["traces_sent_events"], N, st)
        self.assertEqual(st["traces_skipped"], N, st)
        self.assertEqual(sum(v for k, v in st.items() if k.startswith("traces_dropped_")), 0, st)
        if logs:
            self.assertEqual((st["received"], st["sent_events"], st["skipped"]), (events, events, 0))

    def test_json_and_protobuf(self):
        for proto in ("http/json", "http/protobuf"):
            with self.subTest(proto), Receiver([503]) as rec:  # a retry on the way
                st = tool(self, rec.url, f"protocol={proto}", "batch_size=3")
                pb = proto == "http/protobuf"
                self.check_spans(self.spans(rec, pb), self.span_logs(rec, pb))
                self.check_stats(st)

    def test_w3c_flags_and_tracestate(self):
        """Spans continuing a caller's traceparent and tracestate (sky_span_begin from the
        parsed headers) are in its trace, children of its span, with its trace flags as
        Span.flags (03: sampled and random, carried as they came) and its tracestate as
        Span.traceState, the children too; both encodings."""
        tid, sid, ts = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "congo=t61,rojo=00f0"
        for proto, flags in (("http/json", "01"), ("http/protobuf", "03")):
            with self.subTest(proto), Receiver() as rec:
                st = tool(self, rec.url, f"protocol={proto}", f"traceparent=00-{tid}-{sid}-{flags}",
                          f"tracestate={ts}")
                self.check_stats(st)
                spans = self.spans(rec, proto == "http/protobuf")
                self.assertEqual(len(spans), N)
                for s in spans:
                    self.assertEqual(s["traceId"], tid)
                    self.assertEqual(s["traceState"], ts)
                    self.assertEqual(s["flags"], int(flags, 16))
                    if s["name"] == "work":
                        self.assertEqual(s["parentSpanId"], sid)  # the caller's span
                    a = {x["key"] for x in s["attributes"]}
                    self.assertFalse(a & {"trace_flags", "tracestate"}, a)

    def test_unsampled_spans_are_not_exported(self):
        """A caller's traceparent with flags 00: the spans are not sampled, so not exported
        (counted skipped, not dropped); their events and span_finished lines are still logs,
        with the trace's ids, and span_finished says trace_flags 00."""
        tid, sid = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
        with Receiver() as rec:
            st = tool(self, rec.url, f"traceparent=00-{tid}-{sid}-00", "tracestate=k=v")
            self.assertEqual(st["flush"], "ok", st)
            self.assertEqual((st["traces_received"], st["traces_sent_events"],
                              st["traces_skipped"]), (N + N, 0, N + N), st)
            self.assertEqual(sum(v for k, v in st.items() if k.startswith("traces_dropped_")), 0)
            self.assertEqual(self.spans(rec, False), [])
            self.assertEqual(st["sent_events"], N + N)  # the logs signal has every event
            finished = self.span_logs(rec, False)
            self.assertEqual(len(finished), N)
            for r in finished.values():
                self.assertEqual(r["traceId"], tid)
                a = {x["key"]: x["value"] for x in r["attributes"]}
                self.assertEqual(a["trace_flags"], {"stringValue": "00"})
                self.assertEqual(a["tracestate"], {"stringValue": "k=v"})

    def test_application_events_named_as_spans_are_not_spans(self):
        """An application's own events named "request" and "span_finished", with the fields
        the library's have (sky_emit without a call site, and sky_info), are log records: the
        traces signal skips them; only the library's spans are exported."""
        for proto in ("http/json", "http/protobuf"):
            with self.subTest(proto), Receiver() as rec:
                st = tool(self, rec.url, "lookalikes=1", f"protocol={proto}")
                odd = N // 2
                events = N + N + 3 * odd
                self.assertEqual((st["traces_received"], st["traces_sent_events"],
                                  st["traces_skipped"]), (events, N, events - N), st)
                self.assertEqual(st["sent_events"], events)
                spans = self.spans(rec, proto == "http/protobuf")
                self.check_spans(spans)
                self.assertFalse({s["name"] for s in spans} - {"work", "step"})

    def test_traces_only_and_logs_only(self):
        with Receiver() as rec:
            st = tool(self, rec.url, "signals=traces", "protocol=http/protobuf")
            self.assertEqual({req.path for _, _, req in rec.delivered()}, {"/v1/traces"})
            self.check_spans(self.spans(rec, True))
            self.check_stats(st, logs=False)
            # sky_http_sink_stats_get gives the only signal's counters
            self.assertEqual((st["received"], st["skipped"]), (N + N, N))
        with Receiver([404] * 100) as rec:  # a collector without a traces pipeline
            p = tool(self, rec.url, "signals=traces", check=False)
            self.assertEqual(p.returncode, 0, p.stderr)
            st = json.loads(p.stdout.strip().splitlines()[-1])
            self.assertEqual(st["traces_dropped_rejected"], N, st)  # counted, and said
            self.assertEqual(st["traces_skipped"], N, st)
            self.assertIn("otlp traces sink: HTTP 404", p.stderr)
        with Receiver() as rec:
            st = tool(self, rec.url, "signals=logs")
            self.assertEqual({req.path for _, _, req in rec.delivered()}, {"/v1/logs"})
            self.assertNotIn("traces_received", st)

    def test_environment(self):
        """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is; OTEL_EXPORTER_OTLP_ENDPOINT gets
        /v1/traces; the _TRACES_ protocol and headers win over the generic ones for traces."""
        with Receiver() as base, Receiver() as other:
            st = tool(self, "-", env={"OTEL_EXPORTER_OTLP_ENDPOINT": base.url,
                                      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": other.url + "/my/spans",
                                      "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
                                      "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-t=1",
                                      "OTEL_EXPORTER_OTLP_HEADERS": "x-g=1"})
            self.check_stats(st)
            self.assertEqual({r.path for _, _, r in base.delivered()}, {"/v1/logs"})
            self.assertEqual({r.path for _, _, r in other.delivered()}, {"/my/spans"})
            for _, body, r in other.delivered():
                self.assertEqual(r.headers["content-type"], "application/x-protobuf")
                self.assertEqual((r.headers.get("x-t"), r.headers.get("x-g")), ("1", None))
                pw.decode_traces(body)
            for _, _, r in base.delivered():
                self.assertEqual(r.headers["content-type"], "application/json")
                self.assertEqual((r.headers.get("x-t"), r.headers.get("x-g")), (None, "1"))
        with Receiver() as rec:  # an endpoint written for logs serves traces too
            st = tool(self, rec.url + "/v1/logs/")
            self.assertEqual({r.path for _, _, r in rec.delivered()}, {"/v1/logs", "/v1/traces"})
        with Receiver() as rec:  # OTEL_TRACES_EXPORTER=none: no traces, and it says so
            p = tool(self, rec.url, env={"OTEL_TRACES_EXPORTER": "none"}, check=False)
            self.assertEqual(p.returncode, 0, p.stderr)
            st = json.loads(p.stdout.strip().splitlines()[-1])
            self.assertEqual({r.path for _, _, r in rec.delivered()}, {"/v1/logs"})
            self.assertNotIn("traces_received", st)
            self.assertEqual(st["sent_events"], N + N)
            self.assertIn("OTEL_TRACES_EXPORTER=none: traces are not exported", p.stderr)
        with Receiver() as rec:  # OTEL_LOGS_EXPORTER=none: spans alone
            p = tool(self, rec.url, env={"OTEL_LOGS_EXPORTER": "none"}, check=False)
            self.assertEqual(p.returncode, 0, p.stderr)
            st = json.loads(p.stdout.strip().splitlines()[-1])
            self.assertEqual({r.path for _, _, r in rec.delivered()}, {"/v1/traces"})
            self.check_spans(self.spans(rec, False))
            self.assertIn("OTEL_LOGS_EXPORTER=none: logs are not exported", p.stderr)
        with Receiver() as rec:  # the sink's signals option wins over the variable
            p = tool(self, rec.url, "signals=logs,traces", env={"OTEL_TRACES_EXPORTER": "none"},
                     check=False)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual({r.path for _, _, r in rec.delivered()}, {"/v1/logs", "/v1/traces"})
            self.assertIn("OTEL_TRACES_EXPORTER=none ignored", p.stderr)
        p = tool(self, "http://127.0.0.1:9", env={"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
                 check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc is not supported", p.stderr)


    def test_from_configuration(self):
        """SKYLOG_OTLP__SIGNALS (the registry's `signals` row): examples/trace_client.c, whose
        call fails, exports its failed span alone."""
        exe = os.path.join(os.environ.get("SKYLOG_BUILD_DIR", ""), "example_trace_client")
        if not os.path.exists(exe):
            self.skipTest("example_trace_client not built")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SKYLOG_") and not k.startswith("OTEL_")}
        env.update(ASAN_OPTIONS="detect_leaks=0", SKYLOG_CONSOLE="off")
        with Receiver() as rec:
            p = subprocess.run([exe, "http://127.0.0.1:9/orders/1"], capture_output=True,
                               text=True, timeout=120 * sh.timeout_scale(),
                               env={**env, "SKYLOG_OTLP__ENDPOINT": rec.url,
                                    "SKYLOG_OTLP__SIGNALS": "traces",
                                    "SKYLOG_OTLP__SERVICE_NAME": "checkout"})
            self.assertEqual(p.returncode, 1, p.stderr)  # the call failed, as meant
            self.assertEqual({r.path for _, _, r in rec.delivered()}, {"/v1/traces"})
            (s,) = self.spans(rec, False)
            self.assertEqual(s["name"], "checkout")
            self.assertEqual(s["status"]["code"], 2)
            self.assertTrue(s["status"]["message"])  # curl's reason
            self.assertNotIn("parentSpanId", s)
        p = subprocess.run([exe, "http://127.0.0.1:9/"], capture_output=True, text=True,
                           timeout=120 * sh.timeout_scale(),
                           env={**env, "SKYLOG_OTLP__SIGNALS": "metrics"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("logs,traces", p.stderr)


    def test_request_spans_across_processes(self):
        """examples/trace_client.c calls examples/trace_server.c (skylog/request.h), both
        exporting traces: the server's request is a SERVER span in the client's trace, a child
        of the client's span, named and described by OpenTelemetry's HTTP conventions; a 404
        is not an error for a server, a failed call is for the client."""
        build = os.environ.get("SKYLOG_BUILD_DIR", "")
        server, client = (os.path.join(build, "example_trace_" + n) for n in ("server", "client"))
        if not (os.path.exists(server) and os.path.exists(client)):
            self.skipTest("trace examples not built")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SKYLOG_") and not k.startswith("OTEL_")}
        with Receiver() as rec:
            env.update(ASAN_OPTIONS="detect_leaks=0", SKYLOG_CONSOLE="off",
                       SKYLOG_OTLP__ENDPOINT=rec.url, SKYLOG_OTLP__SIGNALS="traces",
                       SKYLOG_OTLP__SERVICE_NAME="checkout")
            srv = subprocess.Popen([server, "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, env=env)
            self.addCleanup(lambda: srv.poll() is None and srv.kill())
            line = srv.stdout.readline()
            self.assertTrue(line.startswith("listening on "), line)
            port = int(line.split()[2])
            c = subprocess.run([client, f"http://127.0.0.1:{port}/orders/17"],
                               capture_output=True, text=True, env=env,
                               timeout=120 * sh.timeout_scale())
            self.assertEqual(c.returncode, 0, c.stderr)
            c = subprocess.run([client, f"http://127.0.0.1:{port}/nowhere"],
                               capture_output=True, text=True, env=env,
                               timeout=120 * sh.timeout_scale())
            self.assertEqual(c.returncode, 1, c.stderr)  # a 404
            srv.stdin.close()
            err = srv.stderr.read()
            srv.stdout.close()
            srv.stderr.close()
            self.assertEqual(srv.wait(timeout=60 * sh.timeout_scale()), 0, err)
            spans = self.spans(rec, False)
        clients = [s for s in spans if s["name"] == "checkout"]
        found = [s for s in spans if s["name"] == "GET /orders/{id}"]
        missing = [s for s in spans if s["name"] == "GET"]  # no route for /nowhere
        self.assertEqual((len(clients), len(found), len(missing), len(spans)), (2, 1, 1, 4), spans)
        for srv_span in found + missing:
            a = {x["key"]: x["value"] for x in srv_span["attributes"]}
            parent = [p for p in clients if p["spanId"] == srv_span["parentSpanId"]]
            self.assertEqual(len(parent), 1)  # a child of the client's span...
            self.assertEqual(parent[0]["traceId"], srv_span["traceId"])  # ...in its trace
            self.assertEqual(parent[0]["kind"], 3)  # CLIENT: sky_span_set_kind
            self.assertEqual(srv_span["kind"], 2)  # SERVER
            # one machine, one clock: the server starts after the client (it may end after
            # it: its request ends once the response is sent)
            self.assertGreaterEqual(int(srv_span["startTimeUnixNano"]),
                                    int(parent[0]["startTimeUnixNano"]))
            self.assertEqual(a["http.request.method"], {"stringValue": "GET"})
            self.assertRegex(a["request_id"]["stringValue"], "^[0-9a-f]{32}$")
            for gone in ("method", "path", "endpoint", "status", "duration_ms"):
                self.assertNotIn(gone, a)
            self.assertNotIn("status", srv_span)  # 200 and 404: not a server's error
        a = {x["key"]: x["value"] for x in found[0]["attributes"]}
        self.assertEqual(a["url.path"], {"stringValue": "/orders/17"})
        self.assertEqual(a["http.route"], {"stringValue": "/orders/{id}"})
        self.assertEqual(a["http.response.status_code"], {"intValue": "200"})
        a = {x["key"]: x["value"] for x in missing[0]["attributes"]}
        self.assertEqual(a["http.response.status_code"], {"intValue": "404"})
        self.assertNotIn("http.route", a)


class TestServeTraces(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls, auth="sigv4", bearer_token=TOKEN)

    def setUp(self):
        self.logs = sh.boto3_client(self, self.srv, "logs")

    def events(self, group, stream="s"):
        out = self.logs.get_log_events(logGroupName=group, logStreamName=stream,
                                       startFromHead=True)
        return [(e["timestamp"], json.loads(e["message"])) for e in out["events"]]

    def send(self, body, group, protobuf):
        headers = {"Content-Type": "application/x-protobuf" if protobuf else "application/json",
                   "x-aws-log-group": group, "x-aws-log-stream": "s",
                   "Authorization": f"Bearer {TOKEN}"}
        return sh.raw_request(self.srv, "POST", "/v1/traces", body, headers)

    def test_sink_to_serve(self):
        """A program's spans, through the OTLP sink, visible in serve with their ids, parent and
        timing, in both encodings."""
        for proto in ("http/json", "http/protobuf"):
            group = "spans-" + proto.split("/")[1]
            st = tool(self, self.srv.url, f"protocol={proto}", f"bearer_token={TOKEN}",
                      "signals=traces", f"headers=x-aws-log-group={group},x-aws-log-stream=s")
            self.assertEqual((st["sent_events"], st["skipped"]), (N, N), st)
            evs = self.events(group)
            self.assertEqual(len(evs), N)
            spans = {e["spanId"]: (ts, e) for ts, e in evs}
            for ts, e in evs:
                start, end = int(e["startTimeUnixNano"]), int(e["endTimeUnixNano"])
                self.assertEqual(ts, start // 1_000_000)  # stored at its start
                self.assertAlmostEqual(e["durationMs"], (end - start) / 1e6, delta=1e-6)
                self.assertEqual(e["resource"]["service.name"], "checkout")
                self.assertEqual(e["scope"]["name"], "skylog")
                self.assertEqual(e["attributes"]["logger.name"], "tool")
                self.assertEqual(e["flags"], 1)  # sampled
                self.assertNotIn("traceState", e)
                if e["name"] == "step":
                    _, parent = spans[e["parentSpanId"]]
                    i = e["attributes"]["i"]
                    self.assertEqual((e["kind"], parent["kind"]), (step_kind(i), work_kind(i)))
                    self.assertEqual((parent["name"], parent["traceId"]), ("work", e["traceId"]))
                    self.assertGreaterEqual(start, int(parent["startTimeUnixNano"]))
                    self.assertLessEqual(end, int(parent["endTimeUnixNano"]))
                    self.assertEqual(e["attributes"]["request_id"], "req-1")
                    if i % 4 == 0:
                        self.assertEqual(e["status"], {"code": 2, "message": "boom"})
                    elif i % 8 == 2:
                        self.assertEqual(e["status"], {"code": 1})
                    else:
                        self.assertNotIn("status", e)
                else:
                    self.assertEqual(e["name"], "work")
                    self.assertNotIn("parentSpanId", e)

    def test_hand_made_requests(self):
        """The decoder on requests written by otlp_wire and by hand in JSON: the same stored
        event either way, trace state and flags kept; unknown fields (events, links) skipped."""
        start = sh.now_ms() * 1_000_000
        tid, sid, par = bytes(range(1, 17)), bytes(range(1, 9)), bytes(range(9, 17))
        extra = (pw.ld(11, pw.f64(1, start) + pw.ld(2, "ev"))
                 + pw.ld(13, pw.ld(1, tid) + pw.ld(2, sid)) + pw.vi(99, 1))
        body = pw.traces_request([pw.span(tid, sid, par, "op", 2, start, start + 1_500_000,
                                          {"n": 3, "s": "x"}, (2, "bad"), extra,
                                          trace_state="k=v", flags=0x301)],
                                 resource={"service.name": "svc"}, scope=("lib", "1"))
        self.assertEqual(self.send(body, "hand", True).status, 200)
        doc = {"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "svc"}}]},
            "scopeSpans": [{"scope": {"name": "lib", "version": "1"}, "spans": [{
                "traceId": tid.hex().upper(), "spanId": sid.hex(), "parentSpanId": par.hex(),
                "name": "op", "kind": 2, "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(start + 1_500_000), "traceState": "k=v", "flags": 0x301,
                "events": [{"timeUnixNano": str(start), "name": "ev"}],
                "attributes": [{"key": "n", "value": {"intValue": "3"}},
                               {"key": "s", "value": {"stringValue": "x"}}],
                "status": {"code": 2, "message": "bad"}}]}]}]}
        self.assertEqual(self.send(json.dumps(doc), "hand", False).status, 200)
        (t1, e1), (t2, e2) = self.events("hand")
        self.assertEqual((t1, e1), (t2, e2))
        self.assertEqual(e1, {"name": "op", "traceId": tid.hex(), "spanId": sid.hex(),
                              "traceState": "k=v", "flags": 0x301,
                              "parentSpanId": par.hex(), "kind": 2,
                              "startTimeUnixNano": str(start),
                              "endTimeUnixNano": str(start + 1_500_000), "durationMs": 1.5,
                              "status": {"code": 2, "message": "bad"},
                              "attributes": {"n": 3, "s": "x"},
                              "resource": {"service.name": "svc"},
                              "scope": {"name": "lib", "version": "1"}})
        self.assertEqual(t1, start // 1_000_000)

    def test_malformed_stores_nothing(self):
        start = sh.now_ms() * 1_000_000
        good = pw.span(bytes(range(1, 17)), bytes(range(1, 9)), name="ok", start_ns=start)
        deep = None
        for _ in range(40):
            deep = [deep]
        bad = [
            pw.span(name="x", extra=pw.tag(7, 0) + pw.varint(5)),      # start: wrong wire type
            pw.span(extra=pw.ld(5, b"\xff\xfe")),                      # name not UTF-8
            pw.span(extra=pw.tag(9, 2) + pw.varint(1000) + b"ab"),     # length past the end
            pw.span(attrs={"deep": deep}),                             # AnyValue too deep
            pw.span(extra=pw.ld(15, pw.tag(3, 2) + pw.varint(0))),     # status code as bytes
            pw.span(extra=pw.vi(16, 1)),                               # flags: not fixed32
            pw.span(extra=pw.ld(3, b"k=\xff")),                        # traceState not UTF-8
            pw.span(trace_state="k=" + "v" * 16500),                   # traceState too long
        ]
        for i, b in enumerate(bad):
            r = self.send(pw.traces_request([good, b]), f"bad{i}", True)
            self.assertEqual(r.status, 400, (i, r))
            self.assertEqual(r.error_type, "SerializationException")
            with self.assertRaises(self.logs.exceptions.ResourceNotFoundException):
                self.events(f"bad{i}")
        r = self.send(pw.traces_request([good] * 10001), "toomany", True)
        self.assertEqual(r.status, 400, r)
        self.assertIn("10000", r.body.decode())
        r = self.send("{broken", "badjson", False)
        self.assertEqual(r.status, 400, r)
        doc = {"resourceSpans": [{"scopeSpans": [{"spans": [
            {"name": "ok", "startTimeUnixNano": str(start)},
            {"name": "long", "traceState": "k=" + "v" * 16500}]}]}]}
        r = self.send(json.dumps(doc), "longstate", False)
        self.assertEqual(r.status, 400, r)
        self.assertIn("traceState", r.body.decode())
        with self.assertRaises(self.logs.exceptions.ResourceNotFoundException):
            self.events("longstate")
        doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["traceState"] = "k=" + "v" * 16000
        self.assertEqual(self.send(json.dumps(doc), "okstate", False).status, 200)
        self.assertEqual(len(self.events("okstate")), 2)  # within the limit: taken


if __name__ == "__main__":
    unittest.main()
