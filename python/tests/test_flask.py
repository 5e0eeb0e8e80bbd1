"""skylog.flask: one event per request through Flask's test client."""

import logging
import unittest

import skylog
from support import FileCase

try:
    import flask
except ImportError:
    flask = None


@unittest.skipIf(flask is None, "Flask is not installed")
class FlaskRequests(FileCase, unittest.TestCase):
    def setUp(self):
        super().setUp()
        import skylog.flask
        app = flask.Flask("t")
        app.logger.disabled = True  # Flask's own "Exception on ..." line goes to stderr
        view_log = self.log

        @app.route("/ok/<int:n>")
        def ok(n):
            view_log.info("in view", extra={"n": n})
            return "ok"

        @app.route("/fail")
        def fail():
            raise RuntimeError("broken view")

        skylog.flask.init_app(app, logger=self.log)
        self.client = app.test_client()

    def test_request_fields_and_context(self):
        r = self.client.get("/ok/7")
        self.assertEqual(r.status_code, 200)
        rid = r.headers["X-Request-ID"]
        self.assertRegex(rid, r"^[0-9a-f]{32}$")
        view, req = self.events()
        self.assertEqual((view["message"], view["n"], view["request_id"]), ("in view", 7, rid))
        self.assertEqual(req["message"], "request")
        self.assertEqual((req["method"], req["path"], req["status"], req["level"]),
                         ("GET", "/ok/7", 200, "INFO"))
        self.assertEqual(req["request_id"], rid)
        self.assertIsInstance(req["duration_ms"], float)
        self.assertGreaterEqual(req["duration_ms"], 0.0)
        self.assertEqual(skylog.get_context(), {})  # nothing leaks past the request

    def test_incoming_request_id_and_status_levels(self):
        self.client.post("/ok/1", headers={"X-Request-ID": "abc-123"})  # 405
        self.client.get("/missing")
        self.client.get("/ok/2", headers={"X-Request-ID": "bad id <script>"})
        self.client.get("/fail")
        evs = [e for e in self.events() if e["message"] == "request"]
        self.assertEqual([(e["method"], e["path"], e["status"], e["level"]) for e in evs],
                         [("POST", "/ok/1", 405, "WARN"), ("GET", "/missing", 404, "WARN"),
                          ("GET", "/ok/2", 200, "INFO"), ("GET", "/fail", 500, "ERROR")])
        self.assertEqual(evs[0]["request_id"], "abc-123")
        self.assertRegex(evs[2]["request_id"], r"^[0-9a-f]{32}$")  # a bad header is replaced
        self.assertEqual(len({e["request_id"] for e in evs}), 4)


@unittest.skipIf(flask is None, "Flask is not installed")
class FlaskMetrics(unittest.TestCase):
    """RequestCount and ResponseTime, as seed 003's middleware, by URL rule (not raw path)."""

    def test_request_metrics(self):
        import json
        import os
        import shutil
        import tempfile
        import uuid
        import skylog.flask
        d = tempfile.mkdtemp(prefix="skylog-pyf-")
        self.addCleanup(shutil.rmtree, d, True)
        emf = os.path.join(d, "m.emf")
        pipe = skylog.Pipeline.from_yaml(json.dumps({"sinks": [
            {"metrics_emf": {"path": emf, "flush_interval_ms": "1h"}}]}))
        self.addCleanup(pipe.close)
        app = flask.Flask("shop")
        app.logger.disabled = True

        @app.route("/users/<int:uid>")
        def user(uid):
            return "ok"

        ns = "Flask/" + uuid.uuid4().hex[:8]
        quiet = logging.getLogger("t.quiet." + uuid.uuid4().hex[:8])
        quiet.propagate = False
        skylog.flask.init_app(app, logger=quiet, namespace=ns)
        client = app.test_client()
        for uid in (1, 2, 3):
            self.assertEqual(client.get(f"/users/{uid}").status_code, 200)
        client.post("/users/1")  # 405
        client.get("/nowhere")   # 404
        for i in range(50):  # methods a client makes up: one series, never fifty
            self.assertEqual(client.open("/users/1", method=f"X{i}").status_code, 405)
        self.assertTrue(pipe.flush(30000))
        with open(emf) as f:  # the registry is the process's: only this namespace's
            recs = [r for r in map(json.loads, f)
                    if r["_aws"]["CloudWatchMetrics"][0]["Namespace"] == ns]

        def count(**dims):
            return sum(r["RequestCount"] for r in recs if "RequestCount" in r and
                       all(r.get(k) == v for k, v in dims.items()))
        self.assertEqual(count(Method="GET", Endpoint="/users/<int:uid>", StatusCode="200"), 3)
        self.assertEqual(count(Method="POST", Endpoint="unmatched", StatusCode="405"), 1)
        self.assertEqual(count(Method="GET", Endpoint="unmatched", StatusCode="404"), 1)
        self.assertEqual(count(Method="_OTHER", Endpoint="unmatched", StatusCode="405"), 50)
        self.assertFalse([r for r in recs if r.get("Method", "").startswith("X")])
        times = [r for r in recs if "ResponseTime" in r and r["Endpoint"] == "/users/<int:uid>"]
        n = sum(len(r["ResponseTime"]) if isinstance(r["ResponseTime"], list) else 1
                for r in times)
        self.assertEqual(n, 3)


if __name__ == "__main__":
    unittest.main()
