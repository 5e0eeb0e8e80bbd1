"""The programs in examples/ run, and print what their comments promise (cloudwatch and
aws_call against a local `skylog serve`)."""
import json
import os
import subprocess
import tempfile
import unittest

import skyharness

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")


def example(name):
    return os.path.join(BUILD, f"example_{name}")


def run(name, *args, env=None):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("SKYLOG_") and k not in ("SKYLOG_BUILD_DIR",):
            e.pop(k)
    e.update(env or {})
    return subprocess.run([example(name), *args], env=e, capture_output=True, timeout=60,
                          check=True)


@unittest.skipUnless(os.path.exists(example("basic")), "examples not built (set SKYLOG_BUILD_DIR)")
class Examples(unittest.TestCase):
    def json_lines(self, data):
        return [json.loads(l) for l in data.decode().splitlines() if l.startswith("{")]

    def test_basic(self):
        out = run("basic", env={"SKYLOG_FORMAT": "json"})
        ev = self.json_lines(out.stderr)
        self.assertEqual([e["message"] for e in ev],
                         ["service_started", "user_login", "cache_miss", "open_failed"])
        self.assertEqual(ev[1]["user"], "alice")
        self.assertEqual(ev[1]["id"], 42)
        self.assertEqual(ev[1]["ms"], 1.5)
        self.assertEqual(ev[2]["lookup"], 2.5)
        self.assertEqual(ev[3]["error"], "ENOENT: No such file or directory")
        self.assertEqual(ev[3]["level"], "ERROR")
        # with SKYLOG_LEVEL=debug the debug event shows up too
        out = run("basic", env={"SKYLOG_FORMAT": "json", "SKYLOG_LEVEL": "debug"})
        self.assertIn("not_shown_at_info", [e["message"] for e in self.json_lines(out.stderr)])

    def test_basic_logfmt_and_bad_config(self):
        out = run("basic", env={"SKYLOG_FORMAT": "logfmt"})
        self.assertIn(b"level=info logger=checkout msg=user_login user=alice id=42 ms=1.5", out.stderr)
        bad = subprocess.run([example("basic")], env={"SKYLOG_LEVEL": "loud"}, capture_output=True)
        self.assertEqual(bad.returncode, 1)
        self.assertIn(b"SKYLOG_LEVEL: unknown value 'loud'", bad.stderr)

    def test_config(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "skylog.yaml")
            with open(path, "w") as f:
                f.write("level: info\nprocessors:\n  - redact\n"
                        "sinks:\n  - console: { stream: stdout, format: json }\n"
                        "loggers:\n  app.db: debug\n")
            ev = self.json_lines(run("config", path).stdout)
            self.assertEqual([e["message"] for e in ev], ["order_placed", "query", "payment_slow"])
            self.assertEqual(ev[2]["api_key"], "***REDACTED***")
            with open(path, "w") as f:
                f.write("sinks:\n  - console: { stream: stdout, colour: never }\n")
            bad = subprocess.run([example("config"), path], capture_output=True)
            self.assertEqual(bad.returncode, 1)
            self.assertIn(b"skylog.yaml:2:32: sinks[0].console: unknown option 'colour' "
                          b"(did you mean 'color'?)", bad.stderr)

    def test_context(self):
        ev = self.json_lines(run("context").stdout)
        byname = {e["message"]: e for e in ev}
        self.assertEqual(byname["query_done"]["request_id"], "req-1")
        self.assertEqual(byname["slow_payment"]["phase"], "payment")
        self.assertNotIn("phase", byname["request_finished"])
        self.assertNotIn("request_id", byname["outside_any_request"])
        self.assertEqual(byname["job_picked"]["worker"], "w-3")
        self.assertEqual(byname["job_picked"]["shard"], 7)

    def test_processors(self):
        out = run("processors")
        ev = self.json_lines(out.stdout)
        login = ev[0]
        self.assertEqual(login["password"], "***REDACTED***")
        self.assertEqual(login["note"], "key ***REDACTED*** used")
        self.assertEqual(login["service"], "shop")
        self.assertTrue(ev[1]["slow"])
        storms = [e for e in ev if e["message"] == "db_unreachable"]
        self.assertEqual(len(storms), 3)  # burst of 3, the other 7 rate-limited
        self.assertIn(b"emitted=12 dropped_by_processors=7", out.stderr)

    def test_routing(self):
        with tempfile.TemporaryDirectory() as d:
            out = run("routing", d)
            with open(os.path.join(d, "app.jsonl")) as f:
                allv = [json.loads(l)["message"] for l in f]
            with open(os.path.join(d, "audit.jsonl")) as f:
                audit = [json.loads(l)["message"] for l in f]
        self.assertEqual(allv, ["balance_checked", "audit.transfer", "transfer_slow"])
        self.assertEqual(audit, ["audit.transfer"])
        self.assertEqual(out.stdout.decode().count("\n"), 1)
        self.assertIn("level=warn logger=bank msg=transfer_slow ms=812.5", out.stdout.decode())

    def test_cloudwatch(self):
        """Every event the example counts as sent is stored once, in the group it names."""
        srv = skyharness.start_server(self, auth="sigv4")
        out = run("cloudwatch", "/example/shop", "2000", env=skyharness.endpoint_env(srv))
        stats = dict(kv.split("=") for kv in out.stdout.decode().split())
        self.assertEqual(stats["sent"], stats["accepted"])
        self.assertEqual((stats["rejected"], stats["dropped"]), ("0", "0"))
        self.assertGreater(int(stats["sent"]), 2000)
        tail = skyharness.run_skylog(self, "tail", "--group", "/example/shop", "--since", "1h",
                                     "--output", "raw", server=srv)
        lines = tail.stdout.splitlines()
        self.assertEqual(len(lines), int(stats["sent"]))
        errors = [json.loads(l) for l in lines if '"payment_failed"' in l]
        self.assertTrue(errors)
        self.assertTrue(all(e["level"] == "ERROR" and e["request_id"].startswith("req-")
                            and e["api_key"] == "***REDACTED***" for e in errors))

    def test_aws_call(self):
        srv = skyharness.start_server(self, auth="sigv4")
        env = skyharness.endpoint_env(srv)
        run("aws_call", "Logs_20140328.CreateLogGroup", '{"logGroupName":"/ex/call"}', env=env)
        out = run("aws_call", "Logs_20140328.DescribeLogGroups", '{"limit":5}', env=env)
        self.assertEqual([g["logGroupName"] for g in json.loads(out.stdout)["logGroups"]],
                         ["/ex/call"])
        bad = subprocess.run([example("aws_call"), "Logs_20140328.DescribeLogGroups"],
                             env=dict(env, AWS_SECRET_ACCESS_KEY="wrong"), capture_output=True,
                             timeout=120)
        self.assertNotEqual(bad.returncode, 0)


if __name__ == "__main__":
    unittest.main()
