"""The Python code in the README and examples/python/ runs and does what it says."""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    import skyharness
except ImportError:
    skyharness = None


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYLOG_")}
    env.update(extra)
    return env


class Readme(unittest.TestCase):
    def test_readme_python_blocks(self):
        with open(os.path.join(ROOT, "README.md")) as f:
            blocks = re.findall(r"```python\n(.*?)```", f.read(), re.S)
        self.assertTrue(blocks)
        for code in blocks:
            with tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "out.jsonl")
                p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                   timeout=120, cwd=d,
                                   env=clean_env(SKYLOG_FILE__PATH=out, SKYLOG_CONSOLE="off"))
                self.assertEqual(p.returncode, 0, p.stderr)
                with open(out) as f:
                    evs = [json.loads(line) for line in f]
                self.assertEqual([e["message"] for e in evs], ["paid ann", "checkout failed"])
                self.assertEqual((evs[0]["request_id"], evs[0]["amount"], evs[0]["items"]),
                                 ("r-42", 12.5, 3))
                self.assertIn("ZeroDivisionError", evs[1]["exception"])


class FlaskExample(unittest.TestCase):
    def test_requests_are_logged(self):
        try:
            import flask  # noqa: F401
        except ImportError:
            self.skipTest("Flask is not installed")
        code = ("import runpy, sys; sys.argv = ['flask_app.py']\n"
                f"m = runpy.run_path({os.path.join(ROOT, 'examples/python/flask_app.py')!r})\n"
                "r = m['app'].test_client().get('/orders/5')\n"
                "assert r.get_json() == {'order': 5}, r.data\n")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.jsonl")
            p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=120, env=clean_env(SKYLOG_FILE__PATH=out,
                                                          SKYLOG_CONSOLE="off"))
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out) as f:
                view, req = [json.loads(line) for line in f]
        self.assertEqual((view["message"], view["order_id"]), ("order looked up", 5))
        self.assertEqual((req["message"], req["path"], req["status"]), ("request", "/orders/5", 200))
        self.assertEqual(view["request_id"], req["request_id"])


@unittest.skipIf(skyharness is None, "tests/integration (skyharness) is not on sys.path")
class WatchtowerExample(unittest.TestCase):
    def test_runs_and_delivers(self):
        skyharness.skylog_bin()
        srv = skyharness.start_server(self)
        days = {time.strftime("%Y-%m-%d", time.gmtime())}  # the run may cross midnight UTC
        p = subprocess.run([sys.executable, os.path.join(ROOT, "examples/python/watchtower_app.py"),
                            "/ex/wt"], env=skyharness.endpoint_env(srv), capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        logs = skyharness.boto3_client(self, srv, "logs")
        stream, = logs.describe_log_streams(logGroupName="/ex/wt")["logStreams"]
        days.add(time.strftime("%Y-%m-%d", time.gmtime()))
        self.assertIn(stream["logStreamName"], {f"orders-{d}" for d in days})
        evs = [e["message"] for e in logs.get_log_events(
            logGroupName="/ex/wt", logStreamName=stream["logStreamName"],
            startFromHead=True)["events"]]
        # watchtower's text: the message, a dict as JSON, the traceback after its message
        self.assertEqual(evs[:4], ["order 0 placed", "order 1 placed", "order 2 placed",
                                   '{"event": "stock_low", "sku": "A-1", "left": 2}'])
        self.assertEqual(len(evs), 5)
        self.assertTrue(evs[4].startswith("lookup failed\nTraceback (most recent call last):"))
        self.assertTrue(evs[4].endswith("KeyError: 'A-2'"), evs[4])
        group, = logs.describe_log_groups(logGroupNamePrefix="/ex/wt")["logGroups"]
        self.assertEqual(group.get("retentionInDays"), 30)

if __name__ == "__main__":
    unittest.main()
