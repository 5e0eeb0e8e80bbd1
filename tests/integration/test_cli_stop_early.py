"""Every command that talks to AWS takes SIGINT and SIGTERM from its start, as `skylog ship`
does: a signal that comes while the AWS client is being made (here: the shared config file is a
pipe whose writer says nothing yet, as `AWS_CONFIG_FILE=<(...)` is) ends the command through its
own handler - tail --follow as Ctrl-C while following does (0), the others with 128+N and one
line saying so, nothing sent - never by the default action. Nothing here is timed: the test knows the command is reading the pipe when its own
non-blocking open of the write end succeeds (that needs a reader), and it holds the write end
open, so the read is still waiting when the signal is sent.
"""

import os
import signal
import subprocess
import tempfile
import unittest

import skyharness


class StopEarly(unittest.TestCase):
    def run_blocked_on_config(self, args, sig):
        with tempfile.TemporaryDirectory() as d:
            fifo = os.path.join(d, "config")
            os.mkfifo(fifo)
            env = skyharness.aws_env()
            env.pop("AWS_DEFAULT_REGION")  # so the region is looked up in the config file
            env["AWS_CONFIG_FILE"] = fifo
            proc = subprocess.Popen([skyharness.skylog_bin(), *args,
                                     "--endpoint", "http://127.0.0.1:9"],
                                    env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            w = None
            try:
                w = skyharness.open_fifo_writer(self, proc, fifo, "the config file")
                proc.send_signal(sig)
                # the config is opened again (profile, CA bundle): from now on an empty file
                empty = os.path.join(d, "empty")
                open(empty, "w").close()
                os.replace(empty, fifo)
                os.close(w)
                w = None
                out, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
            finally:
                if w is not None:
                    os.close(w)
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            return proc.returncode, out, err

    def test_tail_stops_through_its_handler(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig.name):
                rc, out, err = self.run_blocked_on_config(["tail", "/stop/early", "--follow"], sig)
                self.assertEqual(rc, 0, err)  # not -sig: the default action did not run
                self.assertEqual(out, "")

    def test_every_aws_command_exits_128_plus_n_and_sends_nothing(self):
        commands = {"tail": ["tail", "/stop/early"],  # not following: it did not print all
                    "groups": ["groups"],
                    "streams": ["streams", "/stop/early"],
                    "metrics": ["metrics", "list", "--namespace", "Stop"],
                    "alarm": ["alarm", "describe"],
                    "audit verify": ["audit", "verify", "--group", "/stop/early"],
                    # before StartQuery: there is no query to stop on the service
                    "query": ["query", "--group", "/stop/early", "fields @message"]}
        for name, args in commands.items():
            for sig in (signal.SIGINT, signal.SIGTERM):
                with self.subTest(cmd=name, sig=sig.name):
                    rc, out, err = self.run_blocked_on_config(args, sig)
                    self.assertEqual(rc, 128 + sig, err)
                    self.assertEqual(out, "")
                    # one line, and no call was tried (the endpoint, a closed port, would fail)
                    self.assertEqual(err, f"skylog {name}: interrupted by {sig.name}\n")


if __name__ == "__main__":
    unittest.main()
