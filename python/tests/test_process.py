"""Whole processes: exit without close, fork, configure() and the environment."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import skylog


def run_py(test, code, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, env=e, timeout=timeout)
    test.assertEqual(p.returncode, 0, p.stderr)
    return p


class Processes(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="skylog-py-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "out.jsonl")

    def read(self):
        with open(self.path) as f:
            return [json.loads(line) for line in f]

    def test_exit_without_close_delivers_everything(self):
        run_py(self, f"""
            import logging, skylog
            skylog.configure(sinks=[{{"file": {{"path": {self.path!r}}}}}])
            log = logging.getLogger("app")
            log.addHandler(skylog.Handler())
            log.setLevel(logging.INFO)
            for i in range(20000):
                log.info("e%d", i)
            # no flush, no close: the interpreter exits
        """)
        self.assertEqual([e["message"] for e in self.read()], [f"e{i}" for i in range(20000)])

    def test_exit_by_uncaught_exception_delivers(self):
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            import logging, skylog
            skylog.configure(sinks=[{{"file": {{"path": {self.path!r}}}}}])
            logging.getLogger().addHandler(skylog.Handler())
            logging.getLogger().warning("before the crash")
            raise SystemExit(3)
        """)], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertEqual([e["message"] for e in self.read()], ["before the crash"])

    def test_fork_child_and_parent_both_deliver(self):
        run_py(self, f"""
            import logging, os, skylog
            skylog.configure(sinks=[{{"file": {{"path": {self.path!r}}}}}])
            log = logging.getLogger("app")
            log.addHandler(skylog.Handler())
            log.setLevel(logging.INFO)
            log.info("parent before fork")
            pid = os.fork()
            if pid == 0:
                with skylog.context(role="child"):
                    for i in range(100):
                        log.info("child %d", i)
                os._exit(0 if skylog.flush() else 1)
            _, status = os.waitpid(pid, 0)
            assert status == 0, status
            log.info("parent after fork")
        """)
        evs = self.read()
        msgs = [e["message"] for e in evs]
        self.assertEqual(msgs.count("parent before fork"), 1)  # written once, by the parent
        self.assertEqual([m for m in msgs if m.startswith("child")],
                         [f"child {i}" for i in range(100)])
        self.assertEqual(msgs[-1], "parent after fork")
        self.assertTrue(all(e["role"] == "child" for e in evs if e["message"].startswith("child")))

    def test_forked_child_exiting_normally_delivers(self):
        # a pre-fork worker that returns (gunicorn/uWSGI style): interpreter exit in the child
        run_py(self, f"""
            import logging, os, sys, skylog
            skylog.configure(sinks=[{{"file": {{"path": {self.path!r}}}}}])
            log = logging.getLogger("app")
            log.addHandler(skylog.Handler())
            log.setLevel(logging.INFO)
            pids = []
            for w in range(3):
                pid = os.fork()
                if pid == 0:
                    for i in range(200):
                        log.info("w%d %d", w, i)
                    sys.exit(0)
                pids.append(pid)
            for pid in pids:
                assert os.waitpid(pid, 0)[1] == 0
        """)
        msgs = [e["message"] for e in self.read()]
        for w in range(3):
            self.assertEqual([m for m in msgs if m.startswith(f"w{w} ")],
                             [f"w{w} {i}" for i in range(200)])

    def test_ring_spool_survives_sigkill(self):
        # events whose log call returned are in the ring's file; a process killed before its
        # worker wrote them leaves them there, and the next pipeline on the file writes them
        # first (copies only where counted ambiguous)
        spool = os.path.join(self.dir, "ring.spool")
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
            import logging, os, signal, skylog
            pipe = skylog.Pipeline(mode="async", ring_spool_path={spool!r})
            pipe.add_file({self.path!r})
            log = logging.getLogger("spooled")
            log.propagate = False
            log.addHandler(skylog.Handler(pipeline=pipe))
            log.setLevel(logging.INFO)
            for i in range(2000):
                log.info("tick", extra={{"seq": i}})
            os.kill(os.getpid(), signal.SIGKILL)
            """)], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, -9, p.stderr)
        pipe = skylog.Pipeline(mode="async", ring_spool_path=spool)
        with self.assertRaisesRegex(skylog.SkylogError, "in use by another process"):
            skylog.Pipeline(mode="async", ring_spool_path=spool)
        pipe.add_file(self.path)
        pipe.flush()
        st = pipe.stats()
        self.assertTrue(pipe.close())
        seqs = [r["seq"] for r in self.read() if r.get("message") == "tick"]
        self.assertEqual(sorted(set(seqs)), list(range(2000)))
        self.assertLessEqual(len(seqs) - 2000, st["spool_ambiguous"])

    def test_configure_from_env_and_config_file(self):
        env_out = os.path.join(self.dir, "env.jsonl")
        p = run_py(self, """
            import logging, skylog
            logging.getLogger().addHandler(skylog.Handler())
            logging.getLogger().warning("via env")
            assert skylog.default_pipeline() is skylog.default_pipeline()
        """, env={"SKYLOG_FILE__PATH": env_out, "SKYLOG_CONSOLE": "off"})
        with open(env_out) as f:
            self.assertEqual(json.loads(f.readline())["message"], "via env")
        self.assertEqual(p.stderr, "")
        cfg = os.path.join(self.dir, "skylog.yaml")
        with open(cfg, "w") as f:
            f.write(f"level: warn\nsinks:\n  - file: {{ path: {self.path} }}\n")
        run_py(self, """
            import logging, skylog
            logging.getLogger().addHandler(skylog.Handler())
            logging.getLogger().setLevel(logging.DEBUG)
            logging.getLogger().info("below the file's level")
            logging.getLogger().error("via SKYLOG_CONFIG")
        """, env={"SKYLOG_CONFIG": cfg})
        self.assertEqual([e["message"] for e in self.read()], ["via SKYLOG_CONFIG"])

    def test_configure_errors_are_clear(self):
        with self.assertRaises(skylog.SkylogError) as cm:
            skylog.configure(level="loud")
        self.assertIn("loud", str(cm.exception))
        with self.assertRaises(skylog.SkylogError) as cm:
            skylog.configure(os.path.join(self.dir, "missing.yaml"))
        self.assertIn("missing.yaml", str(cm.exception))
        with self.assertRaises(TypeError):
            skylog.configure("a.yaml", level="info")

    def test_configure_in_process_and_module_flush_close(self):
        p = skylog.configure(sinks=[{"file": {"path": self.path}}], level="debug")
        self.addCleanup(skylog.close)
        self.assertIs(skylog.default_pipeline(), p)
        h = skylog.Handler()
        h.handle(__import__("logging").LogRecord("x", 10, __file__, 1, "dbg", (), None))
        self.assertTrue(skylog.flush())
        self.assertEqual([e["message"] for e in self.read()], ["dbg"])
        self.assertTrue(skylog.close())
        self.assertTrue(p.closed)


if __name__ == "__main__":
    unittest.main()
