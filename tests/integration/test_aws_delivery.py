"""The AWS client path tells the truth about what was sent, against `skylog serve`.

- Under `--faults reset_after=...,reset=...` (the server closes the connection without an answer,
  after storing the batch or not), `skylog ship` stores every line, and any extra copy comes from a
  request counted as having an unknown outcome: libcurl may not resend a request behind our back.
- Errors that waiting cannot fix (a wrong secret, an unknown key, no credentials, an unknown
  host, an untrusted certificate) end `skylog ship/groups/streams/tail` at once with one clear line
  and a non-zero exit; a refused connection is never "unknown outcome".
- TLS: a self-signed `skylog serve --tls-cert` is refused as a certificate failure without the CA,
  and trusted with --ca-bundle, AWS_CA_BUNDLE, `ca_bundle` in the AWS config file,
  CURL_CA_BUNDLE or SSL_CERT_FILE, in the AWS CLI's order of precedence.
"""
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import skyharness

BATCH = 100


def shipped_summary(stderr):
    """(sent, ambiguous) from `skylog ship`'s summary."""
    m = re.search(r"(\d+) sent in (\d+) requests", stderr)
    amb = re.search(r"(\d+) requests had an unknown outcome", stderr)
    return (int(m.group(1)) if m else None), (int(amb.group(1)) if amb else 0)


def duplicate_requests_lower_bound(counts, n, batch):
    """The fewest requests that can explain the extra copies: line ids are sent in order in
    batches of at most `batch` consecutive lines, so the ids stored k+1 times form runs, and a run
    of L ids needs at least ceil(L / batch) duplicated requests."""
    need = 0
    top = max(counts.values()) if counts else 1
    for level in range(2, top + 1):
        run = 0
        for i in range(n + 1):
            if i < n and counts.get(i, 0) >= level:
                run += 1
            elif run:
                need += -(-run // batch)
                run = 0
    return need


class Duplicates(unittest.TestCase):
    def test_extra_copies_only_from_requests_counted_ambiguous(self):
        srv = skyharness.start_server(
            self, extra_args=["--faults", "reset_after=0.3,reset=0.1", "--seed", "5"])
        n = 20000
        data = "".join(f"line {i}\n" for i in range(n))
        p = skyharness.run_skylog(self, "ship", "-g", "/dup/ship", "-s", "s", "--batch-size",
                                  str(BATCH), "-", server=srv, input=data, check=False)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        sent, ambiguous = shipped_summary(p.stderr)
        self.assertEqual(sent, n, p.stderr[-2000:])
        self.assertGreater(ambiguous, 0, "the faults did not happen")

        srv.extra_args = []  # read back without faults
        srv.restart()
        out = skyharness.aws(self, srv, "logs", "filter-log-events", "--log-group-name",
                             "/dup/ship", timeout=600)
        counts = collections.Counter()
        for e in out["events"]:
            counts[int(e["message"].split()[1])] += 1
        self.assertEqual(sorted(counts), list(range(n)), "lines lost or altered")
        stored = sum(counts.values())
        # stored = sent + at most the copies of the requests counted ambiguous
        self.assertLessEqual(stored - n, ambiguous * BATCH, (stored, ambiguous))
        self.assertLessEqual(duplicate_requests_lower_bound(counts, n, BATCH), ambiguous,
                             (stored, ambiguous))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Persistent(unittest.TestCase):
    """Errors that cannot succeed by waiting: the CLI stops at once, with one clear line."""

    def setUp(self):
        self.srv = skyharness.start_server(self, auth="sigv4")

    def ship(self, env_update, *args):
        env = dict(skyharness.endpoint_env(self.srv), **env_update)
        env = {k: v for k, v in env.items() if v is not None}
        return skyharness.run_skylog(self, "ship", "-g", "/persist/g", *args, "-",
                                     input="one\ntwo\nthree\n", env=env, check=False,
                                     timeout=60)

    def assert_one_clear_line(self, p, *needles):
        self.assertNotEqual(p.returncode, 0, p.stderr)
        lines = [l for l in p.stderr.splitlines() if l.strip()]
        hits = [l for l in lines if all(n in l for n in needles)]
        self.assertTrue(hits, p.stderr)
        # reported once, not once per attempt
        self.assertLessEqual(len([l for l in lines if needles[0] in l]), 2, p.stderr)
        self.assertNotIn("retrying", p.stderr)
        self.assertNotIn("unknown outcome", p.stderr)

    def test_wrong_secret(self):
        p = self.ship({"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
        self.assert_one_clear_line(p, "InvalidSignatureException")

    def test_unknown_key(self):
        p = self.ship({"AWS_ACCESS_KEY_ID": "AKIANOBODY"})
        self.assert_one_clear_line(p, "UnrecognizedClientException")

    def test_no_credentials(self):
        home = tempfile.mkdtemp(prefix="skynocreds.")
        self.addCleanup(shutil.rmtree, home, ignore_errors=True)
        env = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None,
               "AWS_PROFILE": None, "HOME": home, "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_CONFIG_FILE": os.path.join(home, "none"),
               "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "none")}
        p = self.ship(env)
        self.assert_one_clear_line(p, "no AWS credentials found")

    def test_unknown_region(self):
        env = {"AWS_ENDPOINT_URL": None, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": None,
               "AWS_ENDPOINT_URL_CLOUDWATCH": None, "AWS_REGION": "xx-nowhere-1"}
        p = self.ship(env)
        self.assert_one_clear_line(p, "logs.xx-nowhere-1.amazonaws.com", "region")
        for cmd in (["groups"], ["streams", "-g", "/g"], ["tail", "-g", "/g"]):
            env2 = dict(skyharness.endpoint_env(self.srv), **env)
            env2 = {k: v for k, v in env2.items() if v is not None}
            q = skyharness.run_skylog(self, *cmd, env=env2, check=False, timeout=60)
            self.assertNotEqual(q.returncode, 0, cmd)
            self.assertIn("is the region 'xx-nowhere-1' right?", q.stderr, cmd)

    def test_groups_streams_tail_fail_at_once(self):
        env = dict(skyharness.endpoint_env(self.srv), AWS_SECRET_ACCESS_KEY="wrong")
        for cmd in (["groups"], ["streams", "-g", "/g"], ["tail", "-g", "/g"]):
            q = skyharness.run_skylog(self, *cmd, env=env, check=False, timeout=60)
            self.assertNotEqual(q.returncode, 0, cmd)
            self.assertIn("InvalidSignatureException", q.stderr, cmd)
        # one request each: not retried
        self.srv.stop()
        text = self.srv.stderr_text()
        self.assertEqual(text.count("InvalidSignatureException"), 3, text[-3000:])

    def test_refused_connection_is_not_unknown_outcome(self):
        env = dict(skyharness.endpoint_env(self.srv))
        for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"):
            env[k] = f"http://127.0.0.1:{free_port()}"
        p = skyharness.run_skylog(self, "ship", "-g", "/persist/g", "--give-up-after", "2", "-",
                                  input="one\n", env=env, check=False, timeout=120)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("unknown outcome", p.stderr)



class Interrupt(unittest.TestCase):
    def test_ctrl_c_ends_the_backoff_wait(self):
        # every call answers 500: `skylog tail` retries with backoff (up to 20 s a wait, 10
        # attempts). Ctrl-C after the first answer ends it: no attempt after the signal.
        srv = skyharness.start_server(self, extra_args=["--faults", "error=1", "--seed", "3"])
        env = dict(os.environ, **skyharness.endpoint_env(srv))
        env["AWS_MAX_ATTEMPTS"] = "10"
        proc = subprocess.Popen([skyharness.skylog_bin(), "tail", "-g", "/int/g"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        deadline = time.monotonic() + 60 * skyharness.timeout_scale()
        while "fault=error" not in srv.stderr_text():
            self.assertLess(time.monotonic(), deadline, "tail made no request")
            if proc.poll() is not None:
                self.fail(f"tail exited early: {proc.communicate()}")
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120 * skyharness.timeout_scale())
        seen = srv.stderr_text().count("fault=error")
        self.assertLess(seen, 10, err)  # without the cancellation every attempt is made
        self.assertIn("(interrupted)", err)


def make_cert(d, name):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


@unittest.skipIf(not shutil.which("openssl"), "openssl CLI absent: TLS tests skipped")
class Tls(unittest.TestCase):
    """`skylog serve --tls-cert` with a self-signed certificate: a private CA."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skycabundle.")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.cert, key = make_cert(self.tmp, "server")
        self.other, _ = make_cert(self.tmp, "other")  # a readable bundle that does not help
        self.srv = skyharness.Server(extra_args=["--tls-cert", self.cert, "--tls-key", key])
        self.addCleanup(self.srv.cleanup)
        try:
            self.srv.start()
        except RuntimeError as e:
            if "without TLS support" in str(e):
                self.skipTest("skylog serve built without TLS support")
            raise
        self.assertTrue(self.srv.url.startswith("https://127.0.0.1:"), self.srv.url)
        self.config = os.path.join(self.tmp, "config")

    def run_cli(self, *args, env=None, input=None):
        full = {"AWS_CA_BUNDLE": None, "CURL_CA_BUNDLE": None, "SSL_CERT_FILE": None,
                "AWS_CONFIG_FILE": os.devnull}
        full.update(env or {})
        base = dict(os.environ, **skyharness.endpoint_env(self.srv))
        for k, v in full.items():
            if v is None:
                base.pop(k, None)
            else:
                base[k] = v
        return subprocess.run([skyharness.skylog_bin(), *args], capture_output=True, text=True,
                              input=input, env=base, timeout=120 * skyharness.timeout_scale())

    def config_with(self, bundle):
        with open(self.config, "w") as f:
            f.write(f"[default]\nca_bundle = {bundle}\n")
        return self.config

    def test_untrusted_certificate_is_a_certificate_error(self):
        want = f"TLS certificate verification failed for 127.0.0.1:{self.srv.port}"
        p = self.run_cli("groups")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(want, p.stderr)
        p = self.run_cli("ship", "-g", "/tls/g", "-", input="one\ntwo\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(want, p.stderr)
        self.assertNotIn("unknown outcome", p.stderr)
        self.assertNotIn("retrying", p.stderr)
        self.assertEqual(p.stderr.count(want), 1, p.stderr)  # said once

    def test_ca_bundle_flag(self):
        self.assertEqual(self.run_cli("groups", "--ca-bundle", self.cert).returncode, 0)
        p = self.run_cli("ship", "-g", "/tls/flag", "--ca-bundle", self.cert, "-",
                         input="one\ntwo\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.run_cli("tail", "-g", "/tls/flag", "--since", "1h", "--ca-bundle", self.cert)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("two", p.stdout)

    def test_environment_and_config_file_in_the_aws_cli_order(self):
        ok = lambda env: self.run_cli("groups", env=env).returncode == 0  # noqa: E731
        good, bad = self.cert, self.other
        self.assertTrue(ok({"AWS_CA_BUNDLE": good}))
        self.assertTrue(ok({"AWS_CONFIG_FILE": self.config_with(good)}))
        self.assertTrue(ok({"CURL_CA_BUNDLE": good}))
        self.assertTrue(ok({"SSL_CERT_FILE": good}))
        # --ca-bundle > AWS_CA_BUNDLE > ca_bundle (config) > CURL_CA_BUNDLE > SSL_CERT_FILE
        self.assertEqual(self.run_cli("groups", "--ca-bundle", good,
                                      env={"AWS_CA_BUNDLE": bad}).returncode, 0)
        self.assertTrue(ok({"AWS_CA_BUNDLE": good, "AWS_CONFIG_FILE": self.config_with(bad)}))
        self.assertFalse(ok({"AWS_CA_BUNDLE": bad, "AWS_CONFIG_FILE": self.config_with(good)}))
        self.assertTrue(ok({"AWS_CONFIG_FILE": self.config_with(good), "CURL_CA_BUNDLE": bad}))
        self.assertFalse(ok({"AWS_CONFIG_FILE": self.config_with(bad), "CURL_CA_BUNDLE": good}))
        self.assertTrue(ok({"CURL_CA_BUNDLE": good, "SSL_CERT_FILE": bad}))
        self.assertFalse(ok({"CURL_CA_BUNDLE": bad, "SSL_CERT_FILE": good}))

    def test_unreadable_bundle_is_said_with_where_it_was_set(self):
        missing = os.path.join(self.tmp, "missing.pem")
        p = self.run_cli("groups", env={"AWS_CA_BUNDLE": missing})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"the CA bundle {missing} (from AWS_CA_BUNDLE) cannot be read", p.stderr)
        p = self.run_cli("ship", "-g", "/tls/g", "--ca-bundle", missing, "-", input="x\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"the CA bundle {missing}", p.stderr)


if __name__ == "__main__":
    unittest.main()
