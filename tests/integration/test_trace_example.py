"""Two processes, one trace: examples/trace_client.c starts a span and calls
examples/trace_server.c (libmicrohttpd) with the trace in its headers; the server continues it.
Their logs share the trace id, the server's span is a child of the client's, the server logs one
`request` event with the request's facts, echoes X-Request-Id, and publishes RequestCount and
ResponseTime by endpoint, method and status (through the EMF metrics sink)."""
import http.client
import json
import os
import subprocess
import tempfile
import unittest

import skyharness as sh

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
SERVER = os.path.join(BUILD, "example_trace_server")
CLIENT = os.path.join(BUILD, "example_trace_client")


def clean_env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("SKYLOG_")}
    e["ASAN_OPTIONS"] = "detect_leaks=0"
    e["SKYLOG_FORMAT"] = "json"
    e.update(extra)
    return e


def json_lines(text):
    return [json.loads(l) for l in text.splitlines() if l.startswith("{")]


@unittest.skipUnless(os.path.exists(SERVER) and os.path.exists(CLIENT),
                     "trace examples not built (set SKYLOG_BUILD_DIR)")
class TraceExample(unittest.TestCase):
    def start_server(self, emf):
        p = subprocess.Popen([SERVER, "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=clean_env(SKYLOG_METRICS_EMF__PATH=emf))
        self.addCleanup(lambda: p.poll() is None and p.kill())
        line = p.stdout.readline()
        self.assertTrue(line.startswith("listening on "), line)
        return p, int(line.split()[2])

    def stop_server(self, p):
        p.stdin.close()
        err = p.stderr.read()
        p.stderr.close()
        p.stdout.close()
        self.assertEqual(p.wait(timeout=60 * sh.timeout_scale()), 0, err)
        return json_lines(err)

    def test_client_and_server_share_the_trace(self):
        with tempfile.TemporaryDirectory() as d:
            emf = os.path.join(d, "emf.jsonl")
            srv, port = self.start_server(emf)
            c = subprocess.run([CLIENT, f"http://127.0.0.1:{port}/orders/17"],
                               capture_output=True, text=True, env=clean_env(),
                               timeout=60 * sh.timeout_scale())
            self.assertEqual(c.returncode, 0, c.stderr)
            # a plain request without trace headers: a new trace, and an id we choose
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/nowhere", headers={"X-Request-Id": "req-abc.1"})
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 404)
            self.assertEqual(resp.getheader("X-Request-Id"), "req-abc.1")
            conn.close()
            # a body that arrives over several callbacks: the request is left and entered
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            body = b'{"item":"book"}' * 1000
            conn.request("POST", "/orders", body=body,
                         headers={"traceparent":
                                  "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 201)
            conn.close()
            server = self.stop_server(srv)
            with open(emf) as f:
                metrics = [json.loads(l) for l in f if l.strip()]

        client = {e["message"]: e for e in json_lines(c.stderr)}
        calling = client["calling_orders"]
        self.assertRegex(calling["trace_id"], "^[0-9a-f]{32}$")
        self.assertEqual(client["span_finished"]["span"], "checkout")
        self.assertEqual(client["span_finished"]["status"], "ok")
        self.assertEqual(client["span_finished"]["span_kind"], "client")  # sky_span_set_kind
        self.assertNotIn("status_code", client["span_finished"])  # UNSET: not said
        self.assertEqual(client["orders_answered"]["status"], 200)

        loaded = [e for e in server if e["message"] == "order_loaded"]
        requests = [e for e in server if e["message"] == "request"]
        self.assertEqual(len(loaded), 1)
        self.assertEqual(len(requests), 3)
        req = requests[0]
        for e in (loaded[0], req):
            self.assertEqual(e["trace_id"], calling["trace_id"])  # one trace, two processes
            self.assertEqual(e["parent_span_id"], calling["span_id"])  # child of the client's
            self.assertNotEqual(e["span_id"], calling["span_id"])
            self.assertRegex(e["request_id"], "^[0-9a-f]{32}$")
        self.assertEqual(loaded[0]["request_id"], req["request_id"])
        self.assertEqual(req["level"], "INFO")
        self.assertEqual(req["method"], "GET")
        self.assertEqual(req["path"], "/orders/17")
        self.assertEqual(req["endpoint"], "/orders/{id}")
        self.assertEqual(req["status"], 200)
        self.assertGreater(req["bytes"], 0)
        self.assertGreaterEqual(req["duration_ms"], 0)

        other = requests[1]
        self.assertEqual(other["level"], "WARN")  # a 4xx
        self.assertEqual(other["request_id"], "req-abc.1")
        self.assertNotEqual(other["trace_id"], calling["trace_id"])
        self.assertNotIn("parent_span_id", other)

        post = requests[2]
        chunks = [e for e in server if e["message"] == "order_chunk"]
        self.assertGreaterEqual(len(chunks), 1)
        self.assertEqual(sum(e["bytes"] for e in chunks), len(body))
        for e in chunks + [post]:  # every callback's events carry the request and its trace
            self.assertEqual(e["request_id"], post["request_id"])
            self.assertEqual(e["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736")
            self.assertEqual(e["parent_span_id"], "00f067aa0ba902b7")
        self.assertEqual(post["bytes_in"], len(body))
        self.assertEqual(post["status"], 201)
        self.assertEqual(post["method"], "POST")

        # RequestCount and ResponseTime by Endpoint, Method, Status
        seen = {}
        for m in metrics:
            aws = m["_aws"]["CloudWatchMetrics"][0]
            names = [x["Name"] for x in aws["Metrics"]]
            if "RequestCount" in names:
                self.assertEqual(aws["Namespace"], "HTTP")
                self.assertEqual(sorted(aws["Dimensions"][0]), ["Endpoint", "Method", "Status"])
                seen[(m["Endpoint"], m["Method"], m["Status"])] = m["RequestCount"]
            if "ResponseTime" in names:
                self.assertIn(m["Endpoint"], ("/orders/{id}", "/nowhere", "/orders"))
        self.assertEqual(seen, {("/orders/{id}", "GET", "200"): 1, ("/nowhere", "GET", "404"): 1,
                                ("/orders", "POST", "201"): 1})


if __name__ == "__main__":
    unittest.main()
