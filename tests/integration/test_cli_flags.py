"""Every numeric flag of every command (docs/CLI.md, the table of numeric flags): a value that
is not a number within the flag's bounds - 0 where 0 means nothing, a negative, an overflow,
trailing junk, a fraction where a count is meant, nan - is a usage error (2) whose message names
the flag, before anything is sent (the endpoint is a closed port: a request would fail
otherwise, with exit 1 and another message). The values the docs give a meaning are taken.
The parser itself is unit-tested (tests/unit/test_cli_common.c); this checks each flag goes
through it.
"""

import os
import subprocess
import tempfile
import unittest

import skyharness as sh

DEAD = "http://127.0.0.1:9"

# (the command's arguments before the flag, the flag, bad values)
FLAGS = [
    (["tail", "/g"], "--limit", ["0", "-1", "99999999999999999999", "5x", "1.5"]),
    (["query", "-g", "/g", "fields @message"], "--limit", ["0", "100001", "-5", "1e3"]),
    (["query", "-g", "/g", "fields @message"], "--timeout", ["0", "-1", "nan", "inf", "5s",
                                                               "86401", "0x10"]),
    (["metrics", "put", "-n", "N", "-m", "M"], "--value", ["nan", "inf", "1e400", "1x", ""]),
    (["metrics", "put", "-n", "N", "-m", "M", "--value", "1"], "--count", ["-1", "nan"]),
    (["metrics", "get", "-n", "N", "-m", "M"], "--period", ["0", "-60", "7", "60.5",
                                                             "99999999999999999999"]),
    (["alarm", "put", "A", "-n", "N", "-m", "M", "-s", "Sum", "-t", "1", "-c", ">"], "--period",
     ["0", "-60", "45", "604860", "99999999999999999999"]),
    (["alarm", "put", "A", "-n", "N", "-m", "M", "-s", "Sum", "-p", "60", "-t", "1", "-c", ">"],
     "--evaluation-periods", ["0", "-1", "100001", "2x"]),
    (["alarm", "put", "A", "-n", "N", "-m", "M", "-s", "Sum", "-p", "60", "-c", ">"],
     "--threshold", ["nan", "inf", "1e400", "0x10"]),
    (["alarm", "history"], "--limit", ["0", "-1", "1000001", "9x"]),
    (["ship", "-g", "/g"], "--batch-size", ["0", "-1", "10001", "5x", "1.5"]),
    (["ship", "-g", "/g"], "--flush-interval", ["0", "-5", "2h", "1.5", "5 s", "99999999999999999999"]),
    (["ship", "-g", "/g"], "--max-event-bytes", ["0", "-1", "2M", "100"]),
    (["ship", "-g", "/g"], "--retention-days", ["0", "-1", "2", "3654"]),
    (["ship", "-g", "/g"], "--start-offset", ["-1", "x", "99999999999999999999"]),
    (["ship", "-g", "/g"], "--give-up-after", ["0", "-1", "1001", "2.5"]),
    (["serve", "--data", "/nonexistent/skylog"], "--port", ["-1", "65536", " 5", "+5"]),
    (["serve", "--data", "/nonexistent/skylog"], "--max-event-bytes", ["0", "67108865"]),
    (["serve", "--data", "/nonexistent/skylog"], "--alarm-interval", ["-1", "86401", "1.5"]),
    (["serve", "--data", "/nonexistent/skylog"], "--seed", ["-1", "x"]),
]


class NumericFlags(unittest.TestCase):
    def run_cli(self, args, stdin=""):
        env = sh.aws_env()
        env["AWS_ENDPOINT_URL"] = DEAD
        return subprocess.run([sh.skylog_bin(), *args], input=stdin, capture_output=True,
                              text=True, env=env, timeout=60 * sh.timeout_scale())

    def test_bad_values_are_usage_errors_naming_the_flag(self):
        for before, flag, values in FLAGS:
            for value in values:
                with self.subTest(cmd=before[0], flag=flag, value=value):
                    p = self.run_cli([*before, flag, value])
                    self.assertEqual(p.returncode, 2, p.stderr)
                    self.assertIn(flag, p.stderr)
                    self.assertNotIn("NetworkError", p.stderr)  # nothing was sent

    def test_documented_values_are_taken(self):
        # ship's sink flags take the config file's units; 0 is the start for --start-offset;
        # nothing to ship, so the closed endpoint is never called
        with tempfile.TemporaryDirectory() as d:
            empty = os.path.join(d, "empty.log")
            open(empty, "w").close()
            p = self.run_cli(["ship", "-g", "/g", "-s", "s", "--flush-interval", "250ms",
                              "--max-event-bytes", "64k", "--batch-size", "10000",
                              "--retention-days", "7", "--start-offset", "0",
                              "--give-up-after", "2", "--no-create", empty])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("0 events read", p.stderr)


if __name__ == "__main__":
    unittest.main()
