"""skylog.Handler: a LogRecord becomes a skylog event, field by field."""

import asyncio
import inspect
import logging
import math
import threading
import unittest

import skylog
from support import FileCase

STANDARD = {"timestamp", "level", "logger", "message", "module", "func", "line"}


class Mapping(FileCase, unittest.TestCase):
    def test_record_fields(self):
        line = inspect.currentframe().f_lineno + 1
        self.log.info("paid %s of %d", "ann", 42)
        ev = self.one()
        self.assertEqual(ev["message"], "paid ann of 42")
        self.assertEqual(ev["logger"], self.log.name)
        self.assertEqual(ev["level"], "INFO")
        self.assertEqual(ev["module"], "test_handler")
        self.assertEqual(ev["func"], "test_record_fields")
        self.assertEqual(ev["line"], line)
        self.assertEqual(set(ev), STANDARD)
        self.assertRegex(ev["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_levels(self):
        for lv in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL,
                   5, 25, 45, 100):
            self.log.log(lv, "at %d", lv)
        got = [(e["message"], e["level"]) for e in self.events()]
        self.assertEqual(got, [("at 10", "DEBUG"), ("at 20", "INFO"), ("at 30", "WARN"),
                               ("at 40", "ERROR"), ("at 50", "CRITICAL"), ("at 5", "TRACE"),
                               ("at 25", "INFO"), ("at 45", "ERROR"), ("at 100", "CRITICAL")])

    def test_root_logger_name(self):
        rec = logging.LogRecord("root", logging.INFO, __file__, 1, "r", (), None)
        self.handler.handle(rec)
        self.assertEqual(self.one()["logger"], "root")  # skylog's root logger, named so too

    def test_handler_level_filters(self):
        self.handler.setLevel(logging.WARNING)
        self.log.info("no")
        self.log.warning("yes")
        self.assertEqual([e["message"] for e in self.events()], ["yes"])

    def test_args_applied_lazily(self):
        class Costly:
            calls = 0

            def __str__(self):
                Costly.calls += 1
                return "costly"
        self.log.setLevel(logging.INFO)
        self.log.debug("%s", Costly())
        self.assertEqual(Costly.calls, 0)
        self.log.info("%s", Costly())
        self.assertEqual(Costly.calls, 1)
        self.assertEqual(self.one()["message"], "costly")

    def test_formatter_sets_the_message(self):
        self.handler.setFormatter(logging.Formatter("%(levelname)s|%(message)s"))
        self.log.error("m %d", 1)
        self.assertEqual(self.one()["message"], "ERROR|m 1")

    def test_dict_message(self):
        self.log.info({"a": 1, "b": "x"})
        self.assertEqual(self.one()["message"], '{"a": 1, "b": "x"}')

    def test_extra_every_type(self):
        class Thing:
            def __repr__(self):
                return "<Thing 7>"
        self.log.info("e", extra={
            "s": "text", "i": -5, "big": 2**64 - 1, "huge": 2**80, "f": 1.5, "nan": math.nan,
            "inf": math.inf, "t": True, "fa": False, "n": None, "d": {"k": [1, "2", None]},
            "l": [1, 2.5], "tu": (1, "a"), "obj": Thing(), "b": b"\xff\x00", "u": "h\u00e9\u20ac",
            "nested_bad": {"x": Thing()}, "level": "shadow",
        })
        ev = self.one()
        self.assertEqual(ev["s"], "text")
        self.assertEqual(ev["i"], -5)
        self.assertEqual(ev["big"], 2**64 - 1)
        self.assertEqual(ev["huge"], str(2**80))
        self.assertEqual(ev["f"], 1.5)
        self.assertEqual(ev["nan"], "NaN")
        self.assertEqual(ev["inf"], "Infinity")
        self.assertIs(ev["t"], True)
        self.assertIs(ev["fa"], False)
        self.assertIsNone(ev["n"])
        self.assertEqual(ev["d"], {"k": [1, "2", None]})
        self.assertEqual(ev["l"], [1, 2.5])
        self.assertEqual(ev["tu"], [1, "a"])
        self.assertEqual(ev["obj"], "<Thing 7>")
        self.assertEqual(ev["b"], repr(b"\xff\x00"))
        self.assertEqual(ev["u"], "h\u00e9\u20ac")
        self.assertEqual(ev["nested_bad"], repr({"x": Thing()}))
        self.assertEqual(ev["_level"], "shadow")  # a standard key is never overwritten
        self.assertEqual(ev["level"], "INFO")

    def test_json_default(self):
        self.handler._json_default = lambda o: {"thing": str(o)}
        self.log.info("e", extra={"o": 3 + 4j})
        self.assertEqual(self.one()["o"], {"thing": "(3+4j)"})

    def test_exception(self):
        try:
            raise ValueError("bad \u00e9")
        except ValueError:
            self.log.exception("failed %s", "op")
        ev = self.one()
        self.assertEqual(ev["message"], "failed op")
        self.assertEqual(ev["level"], "ERROR")
        self.assertTrue(ev["exception"].startswith("Traceback (most recent call last):\n"))
        self.assertIn(r'raise ValueError("bad \u00e9")', ev["exception"])
        self.assertTrue(ev["exception"].endswith("ValueError: bad \u00e9"))

    def test_exc_info_tuple_and_stack_info(self):
        try:
            {}["k"]
        except KeyError as e:
            self.log.warning("w", exc_info=e, stack_info=True)
        ev = self.one()
        self.assertIn("KeyError: 'k'", ev["exception"])
        self.assertTrue(ev["stack"].startswith("Stack (most recent call last):"))

    def test_non_utf8(self):
        raw = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")
        self.log.info("m %s", raw, extra={"v": raw, "nul": "a\x00b"})
        self.log.info("nul\x00inside")
        a, b = self.events()
        self.assertEqual(a["message"], "m caf\\udce9 \\udcff")
        self.assertEqual(a["v"], "caf\\udce9 \\udcff")
        self.assertEqual(a["nul"], "a\x00b")
        self.assertEqual(b["message"], "nul\\0inside")

    def test_huge_message_truncated_at_utf8_boundary(self):
        self.pipe.max_message_bytes = 1000
        msg = "\u20ac" * 1000  # 3000 bytes
        self.log.info(msg)
        self.log.info("after")
        a, b = self.events()
        self.assertEqual(a["message"], "\u20ac" * 333 + "...[truncated 2001 bytes]")
        self.assertEqual(b["message"], "after")

    def test_huge_message_default_limit(self):
        msg = "x" * (3 << 20)
        self.log.info(msg)
        ev = self.one()
        self.assertEqual(ev["message"], "x" * 1048576 + f"...[truncated {(3 << 20) - 1048576} bytes]")

    def test_many_fields_and_bad_field(self):
        extra = {f"k{i}": i for i in range(200)}
        self.log.info("many", extra=extra)
        ev = self.one()
        self.assertEqual({k: ev[k] for k in extra}, extra)
        with self.assertRaises(TypeError):
            self.pipe.emit("x", 2, "m", [("only-key",)])
        with self.assertRaises(ValueError):
            self.pipe.emit("x", 9, "m", [])

    def test_errors_go_to_handle_error(self):
        self.pipe.close()
        seen = []
        self.handler.handleError = lambda record: seen.append(record.getMessage())
        self.log.info("after close")
        self.assertEqual(seen, ["after close"])
        self.assertEqual(self.handler.dropped_closed, 1)  # and counted as a drop
        # another error in emit (a bad format) is not counted as one
        open_pipe = skylog.Pipeline(mode="sync")
        self.addCleanup(open_pipe.close)
        other = skylog.Handler(pipeline=open_pipe)
        other.handleError = lambda record: seen.append("other")
        other.emit(logging.LogRecord("x", logging.INFO, "p", 1, "%d", ("not a number",), None))
        self.assertEqual((seen[-1], other.dropped_closed), ("other", 0))

    def test_order_across_many_events(self):
        for i in range(5000):
            self.log.info("n%d", i)
        self.assertEqual([e["message"] for e in self.events()], [f"n{i}" for i in range(5000)])


class Stats(unittest.TestCase):
    def test_context_block_counters(self):
        # async: the scopes' copies are bounded by a quarter of the ring (sky_stats)
        for ring in (4 << 20, 16 << 20):
            pipe = skylog.Pipeline(mode="async", ring_bytes=ring)
            self.addCleanup(pipe.close)
            log = logging.getLogger(f"stats.{ring}")
            log.propagate = False
            h = skylog.Handler(pipeline=pipe)
            log.addHandler(h)
            self.addCleanup(log.removeHandler, h)
            with skylog.context(request_id="r1"):
                for i in range(100):
                    log.info("n%d", i)
            self.assertTrue(pipe.flush(30000))
            st = pipe.stats()
            self.assertEqual(st["context_block_limit"], ring // 4)
            # skylog.context() fields go with each event: no C scope is pushed, none copied
            self.assertEqual((st["context_block_bytes"], st["context_block_high_water"],
                              st["context_copied"]), (0, 0, 0))
        # sync: no ring, nothing to bound
        pipe = skylog.Pipeline(mode="sync")
        self.addCleanup(pipe.close)
        st = pipe.stats()
        self.assertEqual([st[k] for k in ("context_block_bytes", "context_block_high_water",
                                          "context_block_limit", "context_copied")], [0] * 4)


class Context(FileCase, unittest.TestCase):
    def test_nesting_and_extra_wins(self):
        with skylog.context(request_id="r1", user="ann"):
            with skylog.context(user="bob", n=3):
                self.log.info("inner", extra={"n": 4})
                self.assertEqual(skylog.get_context(), {"request_id": "r1", "user": "bob", "n": 3})
            self.log.info("outer")
        self.log.info("none")
        a, b, c = self.events()
        self.assertEqual((a["request_id"], a["user"], a["n"]), ("r1", "bob", 4))
        self.assertEqual((b["request_id"], b["user"]), ("r1", "ann"))
        self.assertNotIn("n", b)
        self.assertEqual(set(c), STANDARD)

    def test_decorator(self):
        @skylog.context(job="j")
        def work():
            self.log.info("w")
        work()
        self.assertEqual(self.one()["job"], "j")

    def test_threads_keep_their_own(self):
        barrier = threading.Barrier(4)

        def run(i):
            with skylog.context(worker=i):
                barrier.wait()
                for k in range(50):
                    self.log.info("t%d-%d", i, k)
                    barrier.wait() if k == 25 else None
        ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        evs = self.events()
        self.assertEqual(len(evs), 200)
        for e in evs:
            self.assertEqual(e["message"].split("-")[0], f"t{e['worker']}")
        for i in range(4):  # each thread's events in its order
            mine = [e["message"] for e in evs if e["worker"] == i]
            self.assertEqual(mine, [f"t{i}-{k}" for k in range(50)])

    def test_asyncio_tasks_keep_their_own(self):
        async def task(i):
            with skylog.context(task=i):
                for k in range(3):
                    await asyncio.sleep(0)  # interleave the tasks
                    self.log.info("a%d", i)

        async def main():
            with skylog.context(parent="p"):
                await asyncio.gather(*(task(i) for i in range(5)))
        asyncio.run(main())
        evs = self.events()
        self.assertEqual(len(evs), 15)
        for e in evs:
            self.assertEqual(e["message"], f"a{e['task']}")
            self.assertEqual(e["parent"], "p")
        self.assertNotEqual([e["task"] for e in evs[:5]], [0] * 5)  # they did interleave


if __name__ == "__main__":
    unittest.main()
