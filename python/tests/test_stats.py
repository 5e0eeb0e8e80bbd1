"""Every public C stats struct reaches Python whole, under its members' own names.

The extension builds each stats dict from one table per struct (_skylog.c), and
_skylog._stats_fields() gives those tables. Here the headers of this source tree are parsed
and each `typedef struct sky_*stats {...}` compared with them, so a member added in C and not
in the table (or a new stats struct nobody decided about) fails this test; then the dicts a
pipeline gives are checked to hold exactly those keys, with values from what was logged.
"""

import glob
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from unittest import mock

import skylog
import support
from skylog import _skylog

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADERS = [os.path.join(ROOT, "include", "skylog.h")] + sorted(
    glob.glob(os.path.join(ROOT, "include", "skylog", "*.h")))

# Public stats structs Python cannot reach, and why (none now: the sampler's, the AWS
# clients' retry policy and trace header parsing were added). Anything else must be in the
# tables.
NOT_REACHABLE = {}

# Keys stats() had before every member was there: same names, same types (compatibility).
DROP_REASONS = ("processor", "overflow", "no_sink", "sink_error", "closed", "too_large")
OLD_KEYS = {k: int for k in ("emitted", "processed", "routed", "dropped", "worker_alive",
                             "spool_recovered", "spool_torn", "spool_ambiguous",
                             "context_block_bytes", "context_block_high_water",
                             "context_block_limit", "context_copied") + DROP_REASONS}
OLD_CW_KEYS = dict({k: int for k in ("sent_events", "requests", "retries", "truncated",
                                     "failures_in_a_row", "failing_since_mono_ms",
                                     "retry_at_mono_ms", "creds_refreshes", "creds_failures",
                                     "creds_retries", "creds_throttles")},
                   throttled=bool, last_error=str)


def header_structs(pattern=r"sky_\w*stats"):
    """{struct name: [member names]} of every public stats struct (or struct whose name matches
    `pattern`), reserved_ left out."""
    out = {}
    for path in HEADERS:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        for name, body in re.findall(r"typedef\s+struct\s+(" + pattern + r")\s*\{(.*?)\}\s*\1\s*;",
                                     text, re.S):
            members = []
            for decl in body.split(";"):
                decl = re.sub(r"\[[^\]]*\]", "", decl).strip()
                if not decl:
                    continue
                # "uint64_t a, b" / "const char *name": the type is what precedes the first name
                first, *rest = decl.split(",")
                names = [re.findall(r"\w+", first)[-1]] + [r.strip(" *") for r in rest]
                members += [n for n in names if n != "reserved_"]
            out[name] = members
    return out


class Tables(unittest.TestCase):
    def test_headers_parse(self):
        # the parser itself: structs of every shape it must read are found, with their members
        structs = header_structs()
        self.assertIn("spool_ambiguous", structs["sky_stats"])  # "uint64_t a, b, c;"
        self.assertIn("last_error", structs["sky_cwl_stats"])   # "char x[256];"
        self.assertIn("name", structs["sky_processor_stats"])   # "const char *name;"
        self.assertIn("dropped", structs["sky_cwl_stats"])      # "uint64_t x[ENUM_COUNT_];"
        self.assertNotIn("reserved_", structs["sky_stats"])

    def test_every_member_of_every_stats_struct(self):
        structs = header_structs()
        tables = _skylog._stats_fields()
        # structs a stats struct holds as a member (sky_sampler_stats.last) have tables too
        nested = {n: m for n, m in header_structs(r"sky_\w+").items() if n in tables}
        self.assertIn("sky_sample", nested)
        for name in set(nested) - set(structs):
            self.assertEqual(list(tables[name]), nested[name], name)
        for name, members in structs.items():
            if name in NOT_REACHABLE:
                self.assertNotIn(name, tables, f"{name} is reachable: drop it from NOT_REACHABLE")
                continue
            self.assertIn(name, tables, f"{name} (a public stats struct) is not reachable from "
                          "Python: add its table to _skylog.c, or say why in NOT_REACHABLE")
            self.assertEqual(list(tables[name]), members,
                             f"{name}: _skylog.c's table differs from the header (members in "
                             "the header's order; a member added in C is missing here)")
        self.assertEqual(sorted(set(tables) - set(structs) - set(nested)), [],
                         "tables of no public struct")


class Docs(unittest.TestCase):
    """docs/PYTHON.md names every key, and its example runs."""

    def setUp(self):
        with open(os.path.join(ROOT, "docs", "PYTHON.md"), encoding="utf-8") as f:
            self.doc = f.read()

    def test_every_key_documented(self):
        sections = {m.group(1): m.group(2) for m in
                    re.finditer(r"^### `(\w+)`(.*?)(?=^#|\Z)", self.doc, re.S | re.M)}
        for struct, members in _skylog._stats_fields().items():
            self.assertIn(struct, sections, f"docs/PYTHON.md has no section for {struct}")
            for m in members:
                self.assertTrue(f"`{m}`" in sections[struct],
                                f"{struct}.{m} is not in its section of docs/PYTHON.md")
        for struct in NOT_REACHABLE:
            self.assertTrue(f"`{struct}`" in self.doc, struct)
        for k in DROP_REASONS + ("truncated", "truncated_bytes", '"python"'):
            self.assertTrue(f"`{k}`" in self.doc, k)
        self.assertTrue("`handler.dropped_closed`" in self.doc)

    def test_example_runs(self):
        blocks = re.findall(r"```python\n(.*?)```", self.doc, re.S)
        self.assertTrue(blocks)
        for code in blocks:
            with tempfile.TemporaryDirectory() as d:
                env = {k: v for k, v in os.environ.items() if not k.startswith("SKYLOG_")}
                p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   timeout=120, cwd=d, env=env)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(p.stdout.split(), ["0", "0", "0"])


class Dicts(unittest.TestCase):
    """A pipeline with a sink of each kind: every dict has exactly its struct's members."""

    def setUp(self):
        self.fields = _skylog._stats_fields()
        self.dir = tempfile.mkdtemp(prefix="skylog-stats-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": os.path.join(self.dir, "none"),
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.dir, "none")}
        patch = mock.patch.dict(os.environ, env)
        patch.start()
        self.addCleanup(patch.stop)
        # PutMetricData answered with success; the http and CloudWatch Logs sinks' routes let
        # nothing through (a level no event here has), so they send nothing
        self.puts = []

        def answer(op):
            self.puts.append(op)
            return 200, {}

        url = support.aws_json_server(self, answer)
        self.pipe = skylog.Pipeline.from_yaml(f"""
mode: async
close_timeout_ms: 200
sinks:
  - file: {{path: {self.dir}/out.jsonl}}
  - metrics_emf: {{path: {self.dir}/emf.jsonl}}
  - metrics_cloudwatch: {{endpoint: "{url}", region: us-east-1}}
  - http: {{url: "{url}/logs", level: critical}}
  - otlp: {{endpoint: "{url}", level: critical}}
processors:
  - security_monitor: {{rules: "burst: * by user >= 100 in 1m"}}
  - system_metrics: {{interval_ms: 1h, log: true}}
  - metrics: {{namespace: SkylogPyStats, rules: [count dims=none]}}
""")
        self.addCleanup(self.pipe.close)
        self.pipe.add_cloudwatch(log_group="/py/stats", log_stream="s", region="us-east-1",
                                 endpoint=url, level="critical")

    def keys(self, struct):
        return set(self.fields[struct])

    def test_pipeline(self):
        log = logging.getLogger("stats." + uuid.uuid4().hex[:8])
        log.propagate = False
        log.setLevel(logging.DEBUG)
        h = skylog.Handler(pipeline=self.pipe)
        log.addHandler(h)
        self.addCleanup(log.removeHandler, h)
        for i in range(3):
            log.info("event %d", i, extra={"user": "bob"})
        self.assertTrue(self.pipe.flush(30000))
        st = self.pipe.stats()
        # sky_stats: "dropped" is the total, each reason its own key (as always)
        self.assertEqual(set(st), self.keys("sky_stats") | set(DROP_REASONS)
                         | {"cloudwatch", "sinks", "processors", "system_metrics", "python"})
        self.assertEqual(st["python"], {"truncated": 0, "truncated_bytes": 0})
        for k, t in OLD_KEYS.items():
            self.assertIs(type(st[k]), t, k)
        self.assertEqual(st["dropped"], sum(st[r] for r in DROP_REASONS))
        self.assertEqual((st["emitted"], st["routed"], st["sink_count"]), (3, 3, 6))
        self.assertEqual(st["dropped_by_level"]["INFO"], 0)
        self.assertEqual(st["processor_count"], len(st["processors"]))
        # a configuration's security monitor and metrics processor give their own counters
        own = {"security_monitor": {"security"}, "metrics": {"log_metrics"}}
        for p in st["processors"]:
            self.assertEqual(set(p), self.keys("sky_processor_stats") | own.get(p["name"], set()))
        procs = {p["name"]: p for p in st["processors"]}
        self.assertEqual(set(procs["security_monitor"]["security"]),
                         self.keys("sky_security_stats"))
        self.assertEqual(set(procs["metrics"]["log_metrics"]), self.keys("sky_log_metrics_stats"))
        self.assertEqual(procs["metrics"]["log_metrics"]["events"], 3)
        self.assertEqual(procs["metrics"]["log_metrics"]["recorded"], 3)
        sec = procs["security_monitor"]["security"]
        self.assertEqual((sec["counted"], sec["tracked"], sec["alerts"]), (3, 1, 0))
        time_proc = [p for p in st["processors"] if p["name"] == "python_time"]
        self.assertEqual(time_proc[0]["calls"], 3)
        # the system_metrics section: a sampler, no processor; its baseline sample taken at
        # start (an hour to the first published one)
        self.assertNotIn("system_metrics", procs)
        [smp] = st["system_metrics"]
        self.assertEqual(set(smp), self.keys("sky_sampler_stats"))
        self.assertEqual(set(smp["last"]), self.keys("sky_sample"))
        self.assertEqual((smp["samples"], smp["errors"]), (0, 0))
        self.assertGreater(smp["last"]["rss_bytes"], 0)
        self.assertGreaterEqual(smp["last"]["open_fds"], 3)
        self.assertIs(type(smp["last"]["cpu_seconds"]), float)

        sinks = {s["name"]: s for s in st["sinks"]}
        own = {"file": set(), "metrics_emf": {"metrics_emf"},
               "metrics_cloudwatch": {"metrics_cloudwatch", "creds", "retry"}, "http": {"http"},
               "cloudwatch_logs": {"cloudwatch", "creds", "retry"},
               "otlp": {"http", "otlp_logs", "otlp_traces"}}
        self.assertEqual(set(sinks), set(own))
        for name, extra in own.items():
            self.assertEqual(set(sinks[name]), self.keys("sky_sink_stats") | {"name"} | extra,
                             name)
        self.assertEqual(sinks["file"]["written"], 3)
        self.assertEqual(sinks["http"]["filtered"], 3)  # below its route's level
        self.assertEqual(set(sinks["metrics_emf"]["metrics_emf"]), self.keys("sky_emf_stats"))
        self.assertEqual(set(sinks["metrics_cloudwatch"]["metrics_cloudwatch"]),
                         self.keys("sky_cwm_stats"))
        self.assertEqual(set(sinks["http"]["http"]), self.keys("sky_http_sink_stats"))
        self.assertEqual(sinks["http"]["http"]["received"], 0)
        for k in ("http", "otlp_logs", "otlp_traces"):
            self.assertEqual(set(sinks["otlp"][k]), self.keys("sky_http_sink_stats"), k)
        self.assertEqual(sinks["otlp"]["filtered"], 3)
        self.assertEqual(set(sinks["http"]["http"]["dropped"]) >= {"queue_full"}, True)
        for name in ("metrics_cloudwatch", "cloudwatch_logs"):
            self.assertEqual(set(sinks[name]["creds"]), self.keys("sky_aws_creds_stats"))
            self.assertIs(type(sinks[name]["creds"]["last_error"]), str)
            retry = sinks[name]["retry"]
            self.assertEqual(set(retry), self.keys("sky_aws_retry_stats"))
            self.assertIn(retry["mode"], ("standard", "adaptive", "legacy"))
            self.assertGreaterEqual(retry["max_attempts"], 1)

        # the CloudWatch Logs sink: under "cloudwatch", and the same in its sink entry
        cw = st["cloudwatch"]
        self.assertEqual(set(cw), self.keys("sky_cwl_stats"))
        for k, t in OLD_CW_KEYS.items():
            self.assertIs(type(cw[k]), t, k)
        self.assertEqual(set(cw["rejected"]), {"too_old", "too_new", "expired", "invalid"})
        self.assertEqual(set(cw["dropped"]),
                         {"queue_full", "oversize", "undelivered", "no_resource", "empty"})
        self.assertEqual(cw["accepted"], 0)  # its route let nothing through
        self.assertEqual(sinks["cloudwatch_logs"]["cloudwatch"]["accepted"], 0)
        self.assertIs(cw["sender_alive"], True)

    def test_emf_counts_what_it_wrote(self):
        c = skylog.counter("StatsTest" + uuid.uuid4().hex[:6], namespace="SkylogPyStats")
        c.add(2)
        self.assertTrue(self.pipe.flush(30000))  # publishes the interval's metrics
        emf = [s for s in self.pipe.stats()["sinks"] if s["name"] == "metrics_emf"][0]
        with open(os.path.join(self.dir, "emf.jsonl")) as f:
            lines = [line for line in f if line.strip()]
        self.assertGreaterEqual(len(lines), 1)
        self.assertEqual(emf["metrics_emf"]["records"], len(lines))
        # the same datum went to PutMetricData, which answered with success
        cwm = [s for s in self.pipe.stats()["sinks"] if s["name"] == "metrics_cloudwatch"][0]
        self.assertGreaterEqual(cwm["metrics_cloudwatch"]["datums_sent"], 1)
        self.assertEqual(cwm["metrics_cloudwatch"]["requests"], len(self.puts))
        self.assertEqual(cwm["creds"]["refreshes"], cwm["metrics_cloudwatch"]["creds_refreshes"])
        self.assertGreaterEqual(cwm["creds"]["refreshes"], 1)  # the keys came from the env
        self.assertEqual(set(skylog.metrics_stats()), self.keys("sky_metrics_stats"))

    def test_messages_cut_are_counted(self):
        # the binding's own cut (max_message_bytes, watchtower's max_message_size) is counted
        path = os.path.join(self.dir, "cut.jsonl")
        pipe = skylog.Pipeline(mode="sync")
        self.addCleanup(pipe.close)
        pipe.add_file(path)
        pipe.max_message_bytes = 10
        pipe.emit("cut", 2, "x" * 25, ())
        pipe.emit("cut", 2, "\u00e9" * 6, ())  # 12 bytes: cut at a character's boundary
        pipe.emit("cut", 2, "short", ())
        self.assertEqual(pipe.stats()["python"], {"truncated": 2, "truncated_bytes": 15 + 2})
        with open(path) as f:
            msgs = [json.loads(line)["message"] for line in f]
        self.assertEqual(msgs, ["x" * 10 + "...[truncated 15 bytes]",
                                "\u00e9" * 5 + "...[truncated 2 bytes]", "short"])

    def test_while_logging_and_closing(self):
        # stats() collects without the GIL (the worker may hold the pipeline's lock): other
        # threads log meanwhile, and a close waits for it rather than freeing under it
        pipe = skylog.Pipeline(mode="async")
        pipe.add_file(os.path.join(self.dir, "busy.jsonl"))
        seen, errors = [], []

        def watch():
            try:
                while True:
                    seen.append(pipe.stats()["emitted"])
            except skylog.SkylogError:
                pass  # closed
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        def log():
            for i in range(2000):
                pipe.emit("busy", 2, f"m{i}", ())

        threads = [threading.Thread(target=watch), threading.Thread(target=log),
                   threading.Thread(target=log)]
        for t in threads:
            t.start()
        threads[1].join(60)
        threads[2].join(60)
        self.assertTrue(pipe.flush(30000))
        self.assertEqual(pipe.stats()["sinks"][0]["written"], 4000)
        while not seen and not errors and threads[0].is_alive():  # it has run at least once
            time.sleep(0.001)
        self.assertTrue(pipe.close())
        threads[0].join(60)
        self.assertEqual(errors, [])
        self.assertEqual(seen, sorted(seen))  # a counter never goes back
        self.assertLessEqual(seen[-1], 4000)

    def test_closed(self):
        self.pipe.close()
        with self.assertRaises(skylog.SkylogError):
            self.pipe.stats()


class Reachable(unittest.TestCase):
    """The structs once listed as not reachable, each counting what it says."""

    def setUp(self):
        self.fields = _skylog._stats_fields()
        self.dir = tempfile.mkdtemp(prefix="skylog-stats-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def test_retry_counts_a_throttled_put(self):
        """sky_aws_retry_stats of a PutMetricData sink (under its "retry"): a throttling answer
        retried once is one retry and one throttle, with the mode the environment asks for."""
        env = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_RETRY_MODE": "adaptive",
               "AWS_CONFIG_FILE": os.path.join(self.dir, "none"),
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.dir, "none")}
        patch = mock.patch.dict(os.environ, env)
        patch.start()
        self.addCleanup(patch.stop)
        answers = [(400, {"__type": "ThrottlingException", "message": "slow down"})]

        def answer(op):
            return answers.pop(0) if answers else (200, {})

        url = support.aws_json_server(self, answer)
        pipe = skylog.Pipeline.from_yaml(f"""
sinks:
  - metrics_cloudwatch: {{endpoint: "{url}", region: us-east-1, max_retries: 2,
                          retry_delay_ms: 1}}
""")
        self.addCleanup(pipe.close)
        skylog.counter("Retried" + uuid.uuid4().hex[:6], namespace="SkylogPyStats").add(1)
        self.assertTrue(pipe.flush(30000))
        [sink] = pipe.stats()["sinks"]
        retry = sink["retry"]
        self.assertEqual(set(retry), set(self.fields["sky_aws_retry_stats"]))
        self.assertEqual(answers, [])  # the throttling answer was given
        self.assertEqual((retry["mode"], retry["max_attempts"]), ("adaptive", 3))
        self.assertEqual((retry["retries"], retry["throttles"]), (1, 1))
        self.assertEqual(retry["throttles"], sink["metrics_cloudwatch"]["throttles"])
        self.assertGreaterEqual(retry["quota_available"], 0)

    def test_sampler_counts_what_it_published(self):
        """A configuration's system_metrics sampler (stats()["system_metrics"]): its samples
        are the events it logged; `last` moves on from the baseline taken at start."""
        path = os.path.join(self.dir, "sys.jsonl")
        pipe = skylog.Pipeline.from_yaml(f"""
processors:
  - system_metrics: {{interval_ms: 100, log: true}}
sinks:
  - file: {{path: {path}}}
""")
        self.addCleanup(pipe.close)
        [first] = pipe.stats()["system_metrics"]
        deadline = time.monotonic() + 120  # a wait for the sampler's thread, not a timing
        while pipe.stats()["system_metrics"][0]["samples"] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        [st] = pipe.stats()["system_metrics"]
        self.assertGreaterEqual(st["samples"], 2)
        self.assertEqual(st["errors"], 0)
        self.assertGreater(st["last"]["time_ns"], first["last"]["time_ns"])
        self.assertGreater(st["last"]["threads"], 1)  # the sampler's own thread at least
        self.assertTrue(pipe.flush(30000))
        with open(path) as f:
            events = [json.loads(line) for line in f if '"system_metrics"' in line]
        # an event is logged before its sample is counted: at least as many events
        self.assertGreaterEqual(len(events), st["samples"])
        self.assertIn(st["last"]["open_fds"], [e["open_fds"] for e in events])

    def test_trace_stats_count_header_parsing(self):
        """skylog.trace_stats() (sky_trace_stats, process-wide): what sky_trace_extract()
        found, and headers present but invalid."""
        self.assertEqual(set(skylog.trace_stats()), set(self.fields["sky_trace_stats"]))
        before = skylog.trace_stats()
        good = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        self.assertTrue(_skylog._trace_extract({"Traceparent": good}))
        self.assertFalse(_skylog._trace_extract({"traceparent": "00-zz-01"}))
        self.assertFalse(_skylog._trace_extract({}))  # nothing there: neither
        after = skylog.trace_stats()
        self.assertEqual(after["extracted"] - before["extracted"], 1)
        self.assertEqual(after["invalid"] - before["invalid"], 1)


if __name__ == "__main__":
    unittest.main()
