"""libskylog loads libcurl and libcrypto lazily: a program linked with the shared library that
only logs to a file maps neither libcurl (nor its TLS/Kerberos/LDAP/... dependencies) nor
libcrypto; an HTTP client maps libcurl only when it needs it (transport curl, or a request a
proxy applies to: the default `auto` sends everything else with skylog's own client), signing a
request maps libcrypto (and not libcurl). A CloudWatch Logs sink this program opens from the
environment delivers without libcurl, maps it when asked for curl, and refuses `native` when a
proxy applies to its endpoint. Checked from inside the process, through /proc/self/maps
(tests/tools/sky_lazycurl_probe.c)."""
import json
import os
import subprocess
import tempfile
import unittest

import skyharness

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
PROBE = os.path.join(BUILD, "tests", "tools", "sky_lazycurl_probe")


@unittest.skipUnless(os.path.exists("/proc/self/maps"), "needs /proc")
@unittest.skipUnless(BUILD and os.path.exists(PROBE), "probe not built (set SKYLOG_BUILD_DIR)")
class LazyCurl(unittest.TestCase):
    def probe(self, *args, env=None):
        with tempfile.TemporaryDirectory(prefix="skylog-lazycurl-") as tmp:
            log = os.path.join(tmp, "app.log")
            e = {k: v for k, v in os.environ.items()
                 if not k.startswith("SKYLOG_") and not k.lower().endswith("_proxy")}
            e.update(env or {})
            p = subprocess.run([PROBE, log, *args], capture_output=True, text=True, env=e,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(log) as f:
                self.assertEqual(len(f.read().splitlines()), 100)  # it did log, to the file
        return [json.loads(l) for l in p.stdout.splitlines()]

    def test_file_only_never_maps_libcurl_nor_libcrypto(self):
        (only,) = self.probe()
        self.assertFalse(only["curl_mapped"])
        self.assertFalse(only["crypto_mapped"])

    def test_signing_maps_libcrypto_only(self):
        before, after = self.probe("--sign")
        self.assertFalse(before["crypto_mapped"])
        self.assertEqual(after, {"sign": "ok", "curl_mapped": False, "crypto_mapped": True})

    def test_skylog_libcrypto_tried_first_then_the_default(self):
        _, after = self.probe("--sign", env={"SKYLOG_LIBCRYPTO": "/nonexistent/libcrypto.so"})
        self.assertEqual(after, {"sign": "ok", "curl_mapped": False, "crypto_mapped": True})

    def test_http_client_maps_libcurl_only_when_it_needs_it(self):
        before, after = self.probe("--http")
        self.assertFalse(before["curl_mapped"])
        self.assertFalse(before["crypto_mapped"])
        self.assertEqual(after, {"http": "ok", "curl_mapped": False})  # auto, no proxy
        _, after = self.probe("--http", env={"SKYLOG_HTTP_TRANSPORT": "curl"})
        self.assertEqual(after, {"http": "ok", "curl_mapped": True})
        # a request (to a port nobody listens on) goes through libcurl when a proxy applies to
        # it, as libcurl reads the variables: HTTP_PROXY never (httpoxy), NO_PROXY first
        proxy = "http://127.0.0.1:9"
        for url, env, curl in (
                ("http://127.0.0.1:9/", {}, False),
                ("http://127.0.0.1:9/", {"HTTP_PROXY": proxy}, False),
                ("http://127.0.0.1:9/", {"http_proxy": proxy}, True),
                ("https://127.0.0.1:9/", {"http_proxy": proxy}, False),
                ("https://127.0.0.1:9/", {"HTTPS_PROXY": proxy}, True),
                ("https://127.0.0.1:9/", {"ALL_PROXY": "socks5://127.0.0.1:9"}, True),
                ("https://127.0.0.1:9/", {"HTTPS_PROXY": proxy, "NO_PROXY": "127.0.0.0/8"},
                 False)):
            _, after = self.probe("--http", url, env=env)
            self.assertEqual(after, {"http": "ok", "curl_mapped": curl}, (url, env))

    def test_skylog_libcurl_tried_first_then_the_default(self):
        before, after = self.probe("--http", env={"SKYLOG_LIBCURL": "/nonexistent/libcurl.so",
                                                  "SKYLOG_HTTP_TRANSPORT": "curl"})
        self.assertFalse(before["curl_mapped"])
        self.assertEqual(after, {"http": "ok", "curl_mapped": True})

    def test_cloudwatch_sink_of_a_program_chooses_like_ship(self):
        srv = skyharness.start_server(self)
        base = dict(skyharness.endpoint_env(srv), SKYLOG_CONSOLE="off",
                    SKYLOG_CLOUDWATCH_STREAM="s")
        for group, extra, curl in (("/probe/auto", {}, False),
                                   ("/probe/curl",
                                    {"SKYLOG_CLOUDWATCH_LOGS__HTTP_TRANSPORT": "curl"}, True)):
            _, after = self.probe("--env", env=dict(base, SKYLOG_CLOUDWATCH_GROUP=group, **extra))
            self.assertEqual(after, {"env": "ok", "curl_mapped": curl}, group)
            r = skyharness.logs_call(srv, "GetLogEvents", {"logGroupName": group,
                                                           "logStreamName": "s"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual([json.loads(e["message"])["i"] for e in r.json["events"]],
                             [0, 1, 2], group)
        # native never bypasses a proxy that applies to the endpoint: the sink is refused
        _, after = self.probe("--env", env=dict(
            base, SKYLOG_CLOUDWATCH_GROUP="/probe/native",
            SKYLOG_CLOUDWATCH_LOGS__HTTP_TRANSPORT="native", http_proxy="http://127.0.0.1:9"))
        self.assertFalse(after["curl_mapped"])
        self.assertIn("cloudwatch: the HTTP transport is native, which has no proxy support, "
                      "and http_proxy applies to 127.0.0.1", after["env"])


if __name__ == "__main__":
    unittest.main()
