"""libskylog loads libcurl and libcrypto lazily: a program linked with the shared library that
only logs to a file maps neither libcurl (nor its TLS/Kerberos/LDAP/... dependencies) nor
libcrypto; creating an HTTP client maps libcurl, signing a request maps libcrypto (and not
libcurl). Checked from inside the process, through /proc/self/maps
(tests/tools/sky_lazycurl_probe.c)."""
import json
import os
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
PROBE = os.path.join(BUILD, "tests", "tools", "sky_lazycurl_probe")


@unittest.skipUnless(os.path.exists("/proc/self/maps"), "needs /proc")
@unittest.skipUnless(BUILD and os.path.exists(PROBE), "probe not built (set SKYLOG_BUILD_DIR)")
class LazyCurl(unittest.TestCase):
    def probe(self, *args, env=None):
        with tempfile.TemporaryDirectory(prefix="skylog-lazycurl-") as tmp:
            log = os.path.join(tmp, "app.log")
            e = {k: v for k, v in os.environ.items() if not k.startswith("SKYLOG_")}
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

    def test_http_client_maps_libcurl(self):
        before, after = self.probe("--http")
        self.assertFalse(before["curl_mapped"])
        self.assertFalse(before["crypto_mapped"])
        self.assertEqual(after, {"http": "ok", "curl_mapped": True})

    def test_skylog_libcurl_tried_first_then_the_default(self):
        before, after = self.probe("--http", env={"SKYLOG_LIBCURL": "/nonexistent/libcurl.so"})
        self.assertFalse(before["curl_mapped"])
        self.assertEqual(after, {"http": "ok", "curl_mapped": True})


if __name__ == "__main__":
    unittest.main()
