"""skylog's metrics from Python (skylog.metrics): counters, gauges, histograms and timers,
track_operation as a context manager and a decorator (seed 003), published through the metrics
sinks of a configuration (EMF to a file here; PutMetricData to `skylog serve` in the end-to-end
case); the event time taken from record.created; configure() async without os.environ."""

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import unittest
import uuid
from unittest import mock

import skylog

try:
    import skyharness
except ImportError:
    skyharness = None


def emf_records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def totals(records, name, **dims):
    """Sum and count of the values of metric `name` in EMF records with these dimensions."""
    s = n = 0
    for r in records:
        if r.get(name) is None or any(r.get(k) != v for k, v in dims.items()):
            continue
        v = r[name]
        vals = v if isinstance(v, list) else [v]
        s += sum(vals)
        n += len(vals)
    return s, n


class Metrics(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="skylog-pym-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.emf = os.path.join(self.dir, "metrics.emf")
        self.logf = os.path.join(self.dir, "log.jsonl")
        self.pipe = skylog.Pipeline.from_yaml(json.dumps({
            "mode": "async",
            "sinks": [{"file": {"path": self.logf}},
                      {"metrics_emf": {"path": self.emf, "flush_interval_ms": "1h"}}]}))
        self.addCleanup(self.pipe.close)
        self.ns = "Py/" + uuid.uuid4().hex[:8]
        self.handler = skylog.Handler(pipeline=self.pipe)
        self.log = logging.getLogger("skylog.operation")
        self.log.setLevel(logging.INFO)
        self.log.addHandler(self.handler)
        self.addCleanup(self.log.removeHandler, self.handler)

    def published(self):
        self.assertTrue(self.pipe.flush(30000))  # the metrics sink drains at the flush
        # the registry is the process's: other suites' metrics may be published here too
        return [r for r in emf_records(self.emf)
                if r["_aws"]["CloudWatchMetrics"][0]["Namespace"] == self.ns]

    def test_counter_gauge_histogram_timer(self):
        c = skylog.counter("Hits", namespace=self.ns, dimensions={"Route": "/a"})
        self.assertIs(type(c), skylog.Counter)

        def work():
            for _ in range(10000):
                c.add()
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c.add(2.5)
        g = skylog.gauge("Queue", namespace=self.ns)
        g.set(3)
        g.set(7)
        h = skylog.histogram("Size", namespace=self.ns, unit="Bytes")
        for v in (10, 20, 20, 40):
            h.record(v)
        t = skylog.timer("Query", namespace=self.ns)
        t.record_ns(2_500_000)
        t.record_seconds(0.004)
        with t.time():
            pass

        @t.time()
        def f(x):
            return x * 2
        self.assertEqual(f(21), 42)
        recs = self.published()
        self.assertEqual(totals(recs, "Hits", Route="/a"), (40002.5, 1))  # one datum
        self.assertEqual(totals(recs, "Queue"), (7, 1))  # the last value set
        self.assertEqual(totals(recs, "Size"), (90, 4))
        s, n = totals(recs, "Query")
        self.assertEqual(n, 4)
        self.assertGreaterEqual(s, 6.5)
        unit = [m["Unit"] for r in recs for d in r["_aws"]["CloudWatchMetrics"]
                for m in d["Metrics"] if m["Name"] == "Query"]
        self.assertEqual(unit, ["Milliseconds"])
        # the same namespace, name and dimensions: the same instrument
        skylog.counter("Hits", namespace=self.ns, dimensions={"Route": "/a"}).add(5)
        c.add(5)
        self.assertEqual(totals(self.published()[len(recs):], "Hits"), (10, 1))

    def test_track_operation(self):
        with skylog.context(request_id="r-9"):
            with skylog.track_operation("DatabaseWrite", namespace=self.ns):
                pass
            with self.assertRaises(KeyError):
                with skylog.track_operation("DatabaseWrite", namespace=self.ns):
                    raise KeyError("x")

        @skylog.track_operation("Fetch", namespace=self.ns)
        def fetch(n):
            if n < 0:
                raise ValueError(n)
            return n

        self.assertEqual(fetch(3), 3)
        self.assertEqual(fetch(4), 4)
        with self.assertRaises(ValueError):
            fetch(-1)
        recs = self.published()
        self.assertEqual(totals(recs, "Success", Operation="DatabaseWrite"), (1, 1))
        self.assertEqual(totals(recs, "Failure", Operation="DatabaseWrite"), (1, 1))
        self.assertEqual(totals(recs, "Duration", Operation="DatabaseWrite")[1], 2)
        self.assertEqual(totals(recs, "Success", Operation="Fetch"), (2, 1))
        self.assertEqual(totals(recs, "Failure", Operation="Fetch"), (1, 1))
        self.assertEqual(totals(recs, "Duration", Operation="Fetch")[1], 3)
        with open(self.logf) as f:
            evs = [json.loads(line) for line in f]
        ops = [e for e in evs if e["message"] == "operation"]
        self.assertEqual([(e["operation"], e["success"], e["level"]) for e in ops],
                         [("DatabaseWrite", True, "INFO"), ("DatabaseWrite", False, "ERROR"),
                          ("Fetch", True, "INFO"), ("Fetch", True, "INFO"),
                          ("Fetch", False, "ERROR")])
        self.assertEqual([e.get("request_id") for e in ops[:2]], ["r-9", "r-9"])
        self.assertNotIn("request_id", ops[2])
        self.assertTrue(all(isinstance(e["duration_ms"], float) for e in ops))
        # the call site is the code that ran the operation, not skylog's
        self.assertTrue(all(e["module"] == "test_metrics" for e in ops), ops)

    def test_refusals(self):
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("SKYLOG_METRICS_NAMESPACE", None)
            skylog.set_namespace(None)
            with self.assertRaisesRegex(ValueError, "no metrics namespace"):
                skylog.counter("X")
            os.environ["SKYLOG_METRICS_NAMESPACE"] = self.ns
            self.assertEqual(skylog.counter("X").namespace, self.ns)
        with self.assertRaisesRegex(ValueError, "unit"):
            skylog.counter("X", namespace=self.ns, unit="Parsecs")
        with self.assertRaisesRegex(ValueError, "timer's unit"):
            skylog.timer("X", namespace=self.ns, unit="Bytes")
        with self.assertRaisesRegex(ValueError, "AWS/"):
            skylog.counter("X", namespace="AWS/EC2")
        with self.assertRaisesRegex(ValueError, "another kind"):
            skylog.gauge("Twice", namespace=self.ns)
            skylog.counter("Twice", namespace=self.ns)
        before = skylog.metrics_stats()["invalid"]
        skylog.counter("N", namespace=self.ns).add(float("nan"))
        skylog.histogram("H", namespace=self.ns).record(float("inf"))
        self.assertEqual(skylog.metrics_stats()["invalid"], before + 2)
        with self.assertRaises(TypeError):
            skylog.counter("N", namespace=self.ns).add("many")


class RecordTime(unittest.TestCase):
    """The event's time is the record's (record.created), not the handler's."""

    def test_created_is_the_event_time(self):
        d = tempfile.mkdtemp(prefix="skylog-pyt-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "out.jsonl")
        pipe = skylog.Pipeline(mode="async")
        self.addCleanup(pipe.close)
        pipe.add_file(path)
        h = skylog.Handler(pipeline=pipe)
        rec = logging.LogRecord("old", logging.WARNING, __file__, 7, "from %s", ("2020",), None)
        rec.created = 1577836800.25  # 2020-01-01T00:00:00.250Z
        h.handle(rec)
        now = logging.LogRecord("new", logging.INFO, __file__, 8, "now", (), None)
        h.handle(now)
        self.assertTrue(pipe.flush(30000))
        with open(path) as f:
            old, new = [json.loads(line) for line in f]
        self.assertEqual(old["timestamp"], "2020-01-01T00:00:00.250Z")
        self.assertEqual(old["message"], "from 2020")
        self.assertEqual(set(old) & {"created_ns", "\x1fcreated_ns"}, set())  # no trace of it
        self.assertTrue(new["timestamp"].startswith(
            time.strftime("%Y-%m-%dT", time.gmtime(now.created))))


class ConfigureMode(unittest.TestCase):
    """configure() is async unless SKYLOG_MODE says otherwise, and never writes os.environ."""

    def test_async_default_without_environ_writes(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKYLOG_")}
        env["SKYLOG_CONSOLE"] = "off"
        with mock.patch.dict(os.environ, env, clear=True):
            cls = type(os.environ)
            with mock.patch.object(cls, "__setitem__", side_effect=AssertionError("set")), \
                    mock.patch.object(cls, "__delitem__", side_effect=AssertionError("del")):
                p = skylog.configure()
            self.addCleanup(skylog.close)
            self.assertEqual(p.stats()["worker_alive"], 1)
            self.assertNotIn("SKYLOG_MODE", os.environ)
            os.environ["SKYLOG_MODE"] = "sync"
            p = skylog.configure()
            self.assertEqual(p.stats()["worker_alive"], 0)


@unittest.skipIf(skyharness is None, "tests/integration (skyharness) is not on sys.path")
class PutMetricDataEndToEnd(unittest.TestCase):
    """Python metrics -> the metrics_cloudwatch sink (PutMetricData) -> `skylog serve` -> boto3
    get_metric_statistics: exact."""

    def test_exact(self):
        skyharness.skylog_bin()
        srv = skyharness.start_server(self)
        cw = skyharness.boto3_client(self, srv, "cloudwatch")
        env = skyharness.endpoint_env(srv)
        ns = "PyE2E/" + uuid.uuid4().hex[:8]
        with mock.patch.dict(os.environ, {k: v for k, v in env.items() if k.startswith("AWS_")}):
            pipe = skylog.Pipeline.from_yaml(json.dumps({
                "sinks": [{"metrics_cloudwatch": {"endpoint": srv.url, "region": "us-east-1",
                                                  "flush_interval_ms": "1h"}}]}))
            self.addCleanup(pipe.close)
            c = skylog.counter("RequestCount", namespace=ns, dimensions={"Endpoint": "/x"})
            for _ in range(100000):
                c.add()
            t = skylog.timer("ResponseTime", namespace=ns)
            for ms in (1, 2, 3, 4):
                t.record_ns(ms * 1_000_000)
            self.assertTrue(pipe.flush(60000))
        now = time.time()
        kw = {"Namespace": ns, "StartTime": now - 3600, "EndTime": now + 3600, "Period": 7200}
        got = cw.get_metric_statistics(MetricName="RequestCount", Statistics=["Sum", "SampleCount"],
                                       Dimensions=[{"Name": "Endpoint", "Value": "/x"}], **kw)
        self.assertEqual(len(got["Datapoints"]), 1, got)
        self.assertEqual(got["Datapoints"][0]["Sum"], 100000)
        got = cw.get_metric_statistics(MetricName="ResponseTime",
                                       Statistics=["Sum", "SampleCount", "Minimum", "Maximum"],
                                       **kw)["Datapoints"][0]
        self.assertEqual((got["Sum"], got["SampleCount"], got["Minimum"], got["Maximum"]),
                         (10, 4, 1, 4))
        self.assertEqual(got["Unit"], "Milliseconds")


class DocsExample(unittest.TestCase):
    """The Python block of docs/METRICS.md runs and publishes what it says."""

    def test_metrics_md_block(self):
        import re
        import subprocess
        import sys
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "docs", "METRICS.md")) as f:
            blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
        self.assertEqual(len(blocks), 1)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SKYLOG_")}
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True,
                               text=True, timeout=120, cwd=d, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        recs = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        self.assertEqual(totals(recs, "Orders", Region="eu"), (1, 1))
        self.assertEqual(totals(recs, "QueueSize"), (12, 1))
        self.assertEqual(totals(recs, "QueryTime")[1], 1)
        self.assertEqual(totals(recs, "DatabaseQueryTime")[1], 1)
        self.assertEqual(totals(recs, "Success", Operation="DatabaseWrite"), (1, 1))
        self.assertEqual(totals(recs, "Duration", Operation="DatabaseWrite")[1], 1)
        self.assertTrue(all(r["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Shop"
                            for r in recs))


if __name__ == "__main__":
    unittest.main()
