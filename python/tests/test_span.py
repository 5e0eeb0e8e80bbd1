"""skylog.span(): libskylog's spans from Python. Events logged inside carry the span's ids; the
span ends with libskylog's span_finished (the event the OTLP sink exports as a Span); spans nest
per thread and per asyncio task; incoming trace headers are continued, with their trace flags
and tracestate, and outgoing ones written."""

import asyncio
import collections.abc
import os
import re
import subprocess
import sys
import tempfile
import threading
import unittest

import skylog
from support import FileCase

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
SID = "00f067aa0ba902b7"


class Spans(FileCase, unittest.TestCase):
    def span(self, name, **kw):
        return skylog.span(name, logger=self.log, pipeline=self.pipe, **kw)

    def by_message(self):
        out = {}
        for e in self.events():
            out.setdefault(e["message"], []).append(e)
        return out

    def test_events_inside_carry_the_ids(self):
        self.log.info("before")
        with self.span("checkout") as sp:
            self.assertIs(skylog.current_span(), sp)
            self.log.info("inside", extra={"n": 1})
        self.assertIsNone(skylog.current_span())
        self.log.info("after")
        ev = self.by_message()
        self.assertNotIn("trace_id", ev["before"][0])
        self.assertNotIn("trace_id", ev["after"][0])
        inside = ev["inside"][0]
        self.assertRegex(sp.trace_id, "^[0-9a-f]{32}$")
        self.assertRegex(sp.span_id, "^[0-9a-f]{16}$")
        self.assertEqual((inside["trace_id"], inside["span_id"]), (sp.trace_id, sp.span_id))
        self.assertNotIn("parent_span_id", inside)  # a root
        (fin,) = ev["span_finished"]
        self.assertEqual(fin["logger"], self.log.name)
        self.assertEqual((fin["span"], fin["status"], fin["level"]), ("checkout", "ok", "INFO"))
        self.assertEqual((fin["trace_id"], fin["span_id"]), (sp.trace_id, sp.span_id))
        self.assertGreaterEqual(fin["duration_ms"], 0)
        for absent in ("status_code", "span_kind", "trace_flags", "tracestate", "module"):
            self.assertNotIn(absent, fin)  # sampled, INTERNAL, UNSET: the usual line
        self.assertIsNone(sp.parent_span_id)
        self.assertTrue(sp.sampled)

    def test_nesting_status_and_kind(self):
        with self.span("outer", kind="server") as outer:
            with self.span("inner") as inner:
                inner.set_kind("client")
                self.log.info("deep")
            with self.assertRaises(ValueError):
                with self.span("failing"):
                    raise ValueError("card declined")
            with self.assertRaises(KeyError):
                with self.span("ok_despite") as ok:
                    ok.set_status("ok")
                    raise KeyError("x")
            with self.span("marked") as m:
                m.fail("by hand")
            with self.assertRaises(ValueError):
                inner.set_kind("sideways")
            self.log.info("back")
        ev = self.by_message()
        self.assertEqual(ev["deep"][0]["parent_span_id"], outer.span_id)
        self.assertEqual(ev["deep"][0]["span_id"], inner.span_id)
        self.assertEqual(ev["back"][0]["span_id"], outer.span_id)  # the outer one again
        self.assertNotIn("parent_span_id", ev["back"][0])
        fin = {e["span"]: e for e in ev["span_finished"]}
        self.assertEqual(inner.trace_id, outer.trace_id)
        self.assertEqual(fin["inner"]["parent_span_id"], outer.span_id)
        self.assertEqual(fin["inner"]["span_kind"], "client")
        self.assertEqual(fin["outer"]["span_kind"], "server")
        failing = fin["failing"]
        self.assertEqual((failing["status"], failing["error"], failing["level"]),
                         ("error", "ValueError: card declined", "ERROR"))
        self.assertEqual((fin["ok_despite"]["status"], fin["ok_despite"]["status_code"]),
                         ("ok", "ok"))
        self.assertEqual(fin["marked"]["error"], "by hand")
        for name in ("inner", "failing", "ok_despite", "marked"):
            self.assertEqual(fin[name]["parent_span_id"], outer.span_id, name)

    def test_continues_incoming_headers(self):
        incoming = {"TraceParent": f"00-{TID}-{SID}-01", "tracestate": "congo=t61,rojo=1"}
        with self.span("handle", headers=incoming) as sp:
            self.log.info("work")
            out = sp.headers()
            both = sp.headers("xray", "plain")
        self.assertEqual((sp.trace_id, sp.parent_span_id, sp.tracestate), (TID, SID,
                                                                           "congo=t61,rojo=1"))
        self.assertEqual(out, {"traceparent": f"00-{TID}-{sp.span_id}-01",
                               "tracestate": "congo=t61,rojo=1"})
        self.assertEqual(both["X-Trace-Id"], TID)
        self.assertEqual(both["X-Span-Id"], sp.span_id)
        self.assertIn("Sampled=1", both["X-Amzn-Trace-Id"])
        ev = self.by_message()
        self.assertEqual(ev["work"][0]["parent_span_id"], SID)
        (fin,) = ev["span_finished"]
        self.assertEqual(fin["tracestate"], "congo=t61,rojo=1")
        self.assertNotIn("trace_flags", fin)  # 01
        with self.assertRaises(ValueError):
            with self.span("x") as sp:
                sp.headers("zipkin")
        # a mapping that makes its values anew on each call (werkzeug's EnvironHeaders-like)

        class Fresh(collections.abc.Mapping):
            def __getitem__(self, k):
                return {"traceparent": f"00-{TID}-{SID}-01"}[k.lower()]

            def __iter__(self):
                return iter(["traceparent"])

            def __len__(self):
                return 1

            def items(self):
                return [("Traceparent", "".join(["00-", TID, "-", SID, "-01"]))]

        with self.span("fresh_values", headers=Fresh()) as sp:
            pass
        self.assertEqual((sp.trace_id, sp.parent_span_id), (TID, SID))
        # headers without a usable trace: a new trace
        with self.span("fresh", headers={"traceparent": "garbage"}) as sp:
            pass
        self.assertNotEqual(sp.trace_id, TID)
        self.assertIsNone(sp.parent_span_id)

    def test_trace_stats(self):
        """skylog.trace_stats(): the library's header counters, tracestate trimming included."""
        before = skylog.trace_stats()
        long_state = ",".join(f"k{i:02d}={i:020d}" for i in range(32))  # 799 > 512
        with self.span("a", headers={"traceparent": f"00-{TID}-{SID}-01",
                                     "tracestate": long_state}) as sp:
            pass
        with self.span("b", headers={"traceparent": "00-zz"}):
            pass
        after = skylog.trace_stats()
        self.assertEqual(len(sp.tracestate), 499)  # 20 members kept, from the front
        self.assertTrue(sp.tracestate.startswith("k00="))
        self.assertEqual(after["tracestate_trimmed"] - before["tracestate_trimmed"], 12)
        self.assertEqual(after["extracted"] - before["extracted"], 1)
        self.assertEqual(after["invalid"] - before["invalid"], 1)

    def test_unsampled_caller(self):
        with self.span("handle", headers={"traceparent": f"00-{TID}-{SID}-00"}) as sp:
            with self.span("child") as child:
                out = child.headers()
        self.assertFalse(sp.sampled)
        self.assertEqual(child.trace_flags, 0)  # the parent's decision
        self.assertTrue(out["traceparent"].endswith("-00"))
        fins = self.by_message()["span_finished"]
        self.assertEqual([f["trace_flags"] for f in fins], ["00", "00"])  # logged all the same

    def test_asyncio_tasks_interleaving(self):
        """Two tasks on one thread, each in its own span, switching inside them: each task's
        events and child spans have its own span (a per-thread stack would mix them)."""
        got = {}

        async def task(name, other_started, started):
            with self.span(name) as sp:
                started.set()
                await other_started.wait()
                await asyncio.sleep(0)
                with self.span(name + ".child") as child:
                    await asyncio.sleep(0)
                    self.log.info("in " + name)
                got[name] = (sp, child)

        async def main():
            a, b = asyncio.Event(), asyncio.Event()
            await asyncio.gather(task("a", b, a), task("b", a, b))

        asyncio.run(main())
        ev = self.by_message()
        for name in ("a", "b"):
            sp, child = got[name]
            e = ev["in " + name][0]
            self.assertEqual((e["span_id"], e["parent_span_id"]), (child.span_id, sp.span_id))
            self.assertEqual(child.parent_span_id, sp.span_id)
        self.assertNotEqual(got["a"][0].trace_id, got["b"][0].trace_id)
        self.assertEqual(len(ev["span_finished"]), 4)

    def test_threads(self):
        ids = {}

        def work(i):
            with self.span(f"t{i}") as sp:
                self.log.info(f"ev{i}")
                ids[i] = sp.span_id

        ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ev = self.by_message()
        for i in range(4):
            self.assertEqual(ev[f"ev{i}"][0]["span_id"], ids[i])
        self.assertEqual(len(ev["span_finished"]), 4)

    def test_misuse_is_an_error_not_a_crash(self):
        sp = self.span("once")
        with self.assertRaises(RuntimeError):
            sp.trace_id  # not begun
        with sp:
            pass
        with self.assertRaises(RuntimeError):
            with sp:  # entered twice
                pass
        with self.assertRaises(ValueError):
            skylog.span("k", kind="sideways")
        with self.assertRaises(TypeError):
            skylog.span("p", parent="not a span")
        # a pipeline closed while the span runs: it ends without an event, and no crash
        pipe = skylog.Pipeline(mode="async")
        with skylog.span("late", pipeline=pipe) as sp:
            pipe.close()
        self.assertTrue(sp._span.ended)
        with self.assertRaises(skylog.SkylogError):
            with skylog.span("closed", pipeline=pipe):
                pass


class Docs(unittest.TestCase):
    def test_tracing_md_python_blocks_run(self):
        """The Python blocks of docs/TRACING.md run as written (their asserts are the check)."""
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        with open(os.path.join(root, "docs", "TRACING.md"), encoding="utf-8") as f:
            blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
        self.assertTrue(blocks)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SKYLOG_", "OTEL_"))}
        for code in blocks:
            with tempfile.TemporaryDirectory() as d:
                p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                                   text=True, timeout=120, cwd=d, env=env)
                self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main()
