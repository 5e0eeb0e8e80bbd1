"""The `skylog` command line: help, usage errors and exit codes, `serve` start-up options,
signals and TLS."""

import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import skyharness as sh


def run(*args, timeout=60):
    return subprocess.run([sh.skylog_bin(), *args], capture_output=True, text=True,
                          timeout=timeout * sh.timeout_scale())


class HelpTest(unittest.TestCase):
    def test_help_forms(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("serve", p.stdout)
        self.assertIn("version", p.stdout)
        for args in [("help", "serve"), ("serve", "--help"), ("serve", "-h")]:
            p = run(*args)
            self.assertEqual(p.returncode, 0, args)
            self.assertIn("usage: skylog serve", p.stdout)
            self.assertIn("example", p.stdout)
        p = run("help")
        self.assertEqual(p.returncode, 0)
        self.assertIn("commands:", p.stdout)

    def test_version(self):
        for args in [("version",), ("--version",)]:
            p = run(*args)
            self.assertEqual(p.returncode, 0)
            self.assertRegex(p.stdout, r"^skylog \d+\.\d+\.\d+\n$")

    def test_usage_errors_exit_2(self):
        cases = [(), ("frobnicate",), ("--frobnicate",), ("help", "frobnicate"),
                 ("serve", "--frobnicate"), ("serve", "--port"), ("serve", "--port", "70000"),
                 ("serve", "--auth", "magic"), ("serve", "--tls-cert", "x"),
                 ("serve", "extra-arg"), ("version", "extra")]
        for args in cases:
            p = run(*args)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertTrue(p.stderr.strip(), args)
        self.assertIn("unknown command 'frobnicate'", run("frobnicate").stderr)
        self.assertIn("--frobnicate", run("serve", "--frobnicate").stderr)


class HarnessTest(unittest.TestCase):
    """The helpers other test suites use to run the skylog CLI and library against a server."""

    def test_run_skylog_with_endpoint_env(self):
        srv = sh.start_server(self)
        env = sh.endpoint_env(srv)
        for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
                  "AWS_ENDPOINT_URL_CLOUDWATCH"):
            self.assertEqual(env[k], srv.url)
        self.assertEqual(env["AWS_CONFIG_FILE"], os.devnull)
        p = sh.run_skylog(self, "version", server=srv)
        self.assertTrue(p.stdout.startswith("skylog "))
        p = sh.run_skylog(self, "nonsense", check=False)
        self.assertEqual(p.returncode, 2)


class ServeProcessTest(unittest.TestCase):
    def test_url_first_line_and_sigint_stops_cleanly(self):
        srv = sh.Server()
        self.addCleanup(srv.cleanup)
        srv.start()
        self.assertRegex(srv.url, r"^http://127\.0\.0\.1:\d+$")
        self.assertNotEqual(srv.port, 0)
        srv.proc.send_signal(signal.SIGINT)
        self.assertEqual(srv.proc.wait(30 * sh.timeout_scale()), 0, srv.stderr_text())
        self.assertIn("stopping", srv.stderr_text())

    def test_sigv4_default_prints_the_keys_but_never_a_chosen_secret(self):
        srv = sh.start_server(self, auth="sigv4")
        self.assertIn("secret key 'skylogtest'", srv.stderr_text())
        srv = sh.start_server(self, auth="sigv4", access_key="AK", secret_key="hunter2-secret")
        self.assertIn("access key 'AK'", srv.stderr_text())
        self.assertNotIn("hunter2-secret", srv.stderr_text())

    def test_default_data_dir_follows_xdg(self):
        home = tempfile.mkdtemp(prefix="skyxdg-")
        self.addCleanup(shutil.rmtree, home, True)
        srv = sh.Server(env={"XDG_DATA_HOME": home})
        srv.command = lambda: [sh.skylog_bin(), "serve", "--port", "0", "--auth", "none"]
        self.addCleanup(srv.cleanup)
        srv.start()
        self.assertTrue(os.path.exists(os.path.join(home, "skylog", "serve", "serve.db")))

    def test_port_in_use_fails_with_a_message(self):
        srv = sh.start_server(self)
        p = run("serve", "--port", str(srv.port), "--auth", "none", "--data",
                os.path.join(srv.data_dir, "second"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot listen", p.stderr)
        self.assertIn("--port 0 for a free one", p.stderr)  # what to do about it

    def test_tls(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl command not available to make a certificate")
        d = tempfile.mkdtemp(prefix="skytls-")
        self.addCleanup(shutil.rmtree, d, True)
        cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
                       check=True, capture_output=True)
        srv = sh.Server(extra_args=["--tls-cert", cert, "--tls-key", key])
        self.addCleanup(srv.cleanup)
        try:
            srv.start()
        except RuntimeError as e:
            # Without TLS in libmicrohttpd the server must say so clearly and refuse to start.
            self.assertIn("without TLS support", str(e))
            return
        self.assertTrue(srv.url.startswith("https://"))
        import ssl
        import http.client
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=ctx, timeout=30)
        conn.request("GET", "/health")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()


if __name__ == "__main__":
    unittest.main()
