"""The native HTTP transport (src/aws/http1.c) against `skylog serve`:

- Every command uses it by default (http_transport auto, no proxy): `skylog ship` ships over
  HTTPS (certificate and IP-address verification against the CA bundle the options resolve)
  and never maps libcurl (read from /proc/PID/maps of a running `ship --follow`); `tail` reads
  everything back with it.
- An untrusted certificate, or a certificate for another name, is one certificate error, not
  retried; a refused connection is not an unknown outcome.
- Under `--faults reset_after=...,reset=...,throttle=...`, over TLS, every line is stored, and
  the extra copies come only from requests counted as having an unknown outcome.
- SKYLOG_HTTP_TRANSPORT=curl forces libcurl, and so does a proxy variable that applies to the
  endpoint (the native transport has no proxy support): then the running shipper maps libcurl.
  One that NO_PROXY excludes does not apply, as libcurl reads it: native. SKYLOG_HTTP_TRANSPORT
  =native with a proxy for the endpoint is refused before anything is sent (a proxy the user
  set is never bypassed).
"""
import collections
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import skyharness
from test_aws_delivery import duplicate_requests_lower_bound, make_cert, shipped_summary



@unittest.skipIf(not shutil.which("openssl"), "openssl CLI absent: TLS tests skipped")
class NativeTls(unittest.TestCase):
    def start(self, extra=()):
        srv = skyharness.Server(extra_args=["--tls-cert", self.cert, "--tls-key", self.key,
                                            *extra])
        self.addCleanup(srv.cleanup)
        try:
            srv.start()
        except RuntimeError as e:
            if "without TLS support" in str(e):
                self.skipTest("skylog serve built without TLS support")
            raise
        return srv

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skynative.")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.cert, self.key = make_cert(self.tmp, "server")
        self.srv = self.start()

    def env(self, env=None, srv=None):
        base = dict(os.environ, **skyharness.endpoint_env(srv or self.srv))
        for k in ("AWS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SKYLOG_HTTP_TRANSPORT",
                  "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy",
                  "ALL_PROXY"):
            base.pop(k, None)
        base.update({"AWS_CONFIG_FILE": os.devnull})
        base.update(env or {})
        return base

    def run_cli(self, *args, env=None, input=None, srv=None):
        return subprocess.run([skyharness.skylog_bin(), *args], capture_output=True, text=True,
                              input=input, env=self.env(env, srv),
                              timeout=300 * skyharness.timeout_scale())

    def maps_of_following_ship(self, env=None):
        """/proc/PID/maps of `skylog ship --follow` once it has loaded its HTTP library and
        shipped the file's first line (or given up waiting for that)."""
        path = os.path.join(self.tmp, "in.log")
        with open(path, "w") as f:
            f.write("first\n")

        def puts():
            return self.srv.stderr_text().count("PutLogEvents -> 200")
        before = puts()
        proc = subprocess.Popen([skyharness.skylog_bin(), "ship", "-g", "/n/maps", "-s", "s",
                                 "--ca-bundle", self.cert, "--follow", path],
                                env=self.env(env), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        # until libcurl is mapped, or the line is stored (the server logged this ship's
        # PutLogEvents: whatever the transport loads, it has loaded by then); the bound is
        # only against a hang
        deadline = time.monotonic() + 60 * skyharness.timeout_scale()
        maps = ""
        while time.monotonic() < deadline and proc.poll() is None:
            with open(f"/proc/{proc.pid}/maps") as f:
                maps = f.read()
            if "libcurl" in maps or puts() > before:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120 * skyharness.timeout_scale())
        return maps

    def test_ship_never_maps_libcurl(self):
        maps = self.maps_of_following_ship()
        self.assertIn("libssl", maps)
        self.assertNotIn("libcurl", maps)

    def test_ship_and_tail_over_https_without_libcurl(self):
        lines = "".join(f"line {i} caf\u00e9 \"q\"\n" for i in range(3000))
        p = self.run_cli("ship", "-g", "/n/g", "-s", "s", "--ca-bundle", self.cert, "-",
                         input=lines)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(shipped_summary(p.stderr)[0], 3000, p.stderr)
        p = self.run_cli("tail", "-g", "/n/g", "--since", "1h", env={"AWS_CA_BUNDLE": self.cert})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.count("line "), 3000)
        self.assertIn('line 2999 caf\u00e9 "q"', p.stdout)

    def test_untrusted_and_wrong_name_are_certificate_errors(self):
        want = f"TLS certificate verification failed for 127.0.0.1:{self.srv.port}"
        p = self.run_cli("ship", "-g", "/n/g", "-", input="one\n")
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(p.stderr.count(want), 1, p.stderr)
        self.assertNotIn("unknown outcome", p.stderr)
        self.assertNotIn("retrying", p.stderr)
        # trusted, but issued for 127.0.0.1 only: "localhost" does not match it
        url = f"https://localhost:{self.srv.port}"
        p = self.run_cli("ship", "-g", "/n/g", "--ca-bundle", self.cert, "-", input="one\n",
                         env={"AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": url})
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"TLS certificate verification failed for localhost:{self.srv.port}",
                      p.stderr)
        self.assertNotIn("unknown outcome", p.stderr)

    def test_faults_over_tls_are_exact_or_counted(self):
        self.ship_with_faults("reset_after=0.3,reset=0.1,throttle=0.1", 6000, 100,
                              lambda i: f"line {i}")

    def test_full_size_bodies_over_tls_are_exact_or_counted(self):
        # bodies of ~1 MiB (64 TLS records each, the lines full of quotes and UTF-8), and
        # connection resets while they go out: every line stored, once unless its request is
        # counted as an unknown outcome
        pad = "x\u00e9\"" * 700
        self.ship_with_faults("reset_after=0.2,reset=0.2,throttle=0.1", 3000, 10000,
                              lambda i: f"{pad} line {i}")

    def ship_with_faults(self, faults, n, batch, line):
        srv = self.start(["--faults", faults, "--seed", "5"])
        data = "".join(line(i) + "\n" for i in range(n))
        p = self.run_cli("ship", "-g", "/n/f", "-s", "s", "--batch-size", str(batch),
                         "--ca-bundle", self.cert, "-", input=data, srv=srv)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        sent, ambiguous = shipped_summary(p.stderr)
        self.assertEqual(sent, n, p.stderr[-2000:])
        self.assertGreater(ambiguous, 0, "the faults did not happen")
        srv.extra_args = ["--tls-cert", self.cert, "--tls-key", self.key]
        srv.restart()
        q = self.run_cli("tail", "-g", "/n/f", "--since", "1h", srv=srv,
                         env={"AWS_CA_BUNDLE": self.cert, "SKYLOG_HTTP_TRANSPORT": "native"})
        self.assertEqual(q.returncode, 0, q.stderr)
        counts = collections.Counter(int(l.split()[-1]) for l in q.stdout.splitlines()
                                     if "line " in l)
        self.assertEqual(sorted(counts), list(range(n)), "lines lost or altered")
        for l in q.stdout.splitlines():
            if "line " in l:
                self.assertIn(line(int(l.split()[-1])), l, "a line altered")
        self.assertLessEqual(sum(counts.values()) - n, ambiguous * batch)
        self.assertLessEqual(duplicate_requests_lower_bound(counts, n, batch), ambiguous)

    def test_curl_forced_by_variable_or_proxy(self):
        for env in ({"SKYLOG_HTTP_TRANSPORT": "curl"}, {"HTTPS_PROXY": "http://127.0.0.1:9"}):
            self.assertIn("libcurl", self.maps_of_following_ship(env), env)

    def test_proxy_that_no_proxy_excludes_does_not_apply(self):
        maps = self.maps_of_following_ship({"HTTPS_PROXY": "http://127.0.0.1:9",
                                            "NO_PROXY": "example.com,127.0.0.0/8"})
        self.assertIn("libssl", maps)
        self.assertNotIn("libcurl", maps)

    def test_native_forced_with_a_proxy_is_refused_before_sending(self):
        env = {"SKYLOG_HTTP_TRANSPORT": "native", "HTTPS_PROXY": "http://127.0.0.1:9"}
        want = ("the HTTP transport is native, which has no proxy support, and HTTPS_PROXY "
                "applies to 127.0.0.1")
        p = self.run_cli("ship", "-g", "/n/proxied", "--ca-bundle", self.cert, "-",
                         input="one\n", env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(want, p.stderr)
        self.assertNotIn("retrying", p.stderr)
        p = self.run_cli("groups", "--ca-bundle", self.cert, env=env)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(want, p.stderr)
        p = self.run_cli("groups", "--ca-bundle", self.cert)  # the server saw nothing of it
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("/n/proxied", p.stdout)


class NativePlain(unittest.TestCase):
    def test_a_transport_that_does_not_exist_is_refused(self):
        # a typo must not quietly pick the other transport
        env = dict(os.environ, SKYLOG_HTTP_TRANSPORT="nativ")
        p = subprocess.run([skyharness.skylog_bin(), "ship", "-g", "/g", "-"], input="one\n",
                           capture_output=True, text=True, env=env,
                           timeout=120 * skyharness.timeout_scale())
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("SKYLOG_HTTP_TRANSPORT=nativ: not a transport (auto, native or curl)",
                      p.stderr)

    def test_refused_connection_is_not_unknown_outcome(self):
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE",
                   AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1",
                   AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_CONFIG_FILE=os.devnull)
        env.pop("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", None)
        p = subprocess.run([skyharness.skylog_bin(), "ship", "-g", "/g", "-"], input="one\n",
                           capture_output=True, text=True, env=env,
                           timeout=120 * skyharness.timeout_scale())
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("unknown outcome", p.stderr)


if __name__ == "__main__":
    unittest.main()
