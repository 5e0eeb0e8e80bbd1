"""The service client's retry policy against a fake endpoint that throttles, fails with 5xx,
resets connections, stalls, expires tokens and reports clock skew.

Sleeps are injected (recorded by the tool, never slept) and the jitter's random number is fixed,
so attempts and backoff values are asserted exactly, not by wall-clock timing.
"""
import email.utils
import gzip
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from awsfakes import TOOL, FakeServer, base_env, botocore_signature_ok, run_tool

SECRET = "CANARY-RETRY-SECRET-0b7e"
TARGET = "Logs_20140328.PutLogEvents"


def throttle(code="ThrottlingException", status=400):
    return status, {"x-amzn-RequestId": "req-throttled", "Content-Type": "application/x-amz-json-1.1"}, \
        json.dumps({"__type": "com.amazonaws.logs#" + code, "message": "Rate exceeded"})


OK = (200, {"x-amzn-RequestId": "req-ok"}, '{"nextSequenceToken":"1"}')


def script(*answers):
    """A handler that plays answers in order, then repeats the last one."""
    seq = list(answers)

    def h(req):
        a = seq.pop(0) if len(seq) > 1 else seq[0]
        return a(req) if callable(a) else a
    return h


@unittest.skipIf(not os.path.exists(TOOL), f"{TOOL} not built: retry tests skipped")
class Retry(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skyretry.")
        self.env = base_env(self.tmp)
        self.env.update(AWS_ACCESS_KEY_ID="AKIARETRY", AWS_SECRET_ACCESS_KEY=SECRET,
                        AWS_REGION="us-east-1")
        self.outputs = []

    def tearDown(self):
        for text in self.outputs:
            self.assertNotIn(SECRET, text)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def call(self, srv, *args):
        rc, objs, text = run_tool(["call", "--endpoint", srv.url, "--target", TARGET] + list(args),
                                  self.env)
        self.outputs.append(text)
        return rc, objs

    def test_throttled_twice_then_ok(self):
        with FakeServer(script(throttle(), throttle("TooManyRequestsException"), OK)) as srv:
            rc, [o] = self.call(srv, "--random", "0.5")
            self.assertEqual(rc, 0, o)
            self.assertEqual(o["attempts"], 3)
            # standard mode: rand * min(1 s * 2^(i-1), 20 s)
            self.assertEqual(o["sleeps_ms"], [500.0, 1000.0])
            self.assertEqual(len(srv.requests), 3)
            req = srv.requests[0]
            self.assertEqual(req.headers["x-amz-target"], TARGET)
            self.assertEqual(req.headers["content-type"], "application/x-amz-json-1.1")
            self.assertIn("Credential=AKIARETRY/", req.headers["authorization"])
            self.assertIn("/us-east-1/logs/aws4_request", req.headers["authorization"])
            for r in srv.requests:  # every attempt is freshly and correctly signed
                self.assertIn(botocore_signature_ok(r, SECRET, "us-east-1", "logs"), (True, None))

    def test_5xx_gives_up_after_max_attempts_with_capped_backoff(self):
        with FakeServer(lambda r: (503, {}, "<html>busy</html>")) as srv:
            rc, [o] = self.call(srv, "--max-attempts", "5", "--max-backoff-ms", "3000",
                                "--random", "0.999")
            self.assertNotEqual(rc, 0)
            self.assertEqual(o["attempts"], 5)
            self.assertEqual(len(srv.requests), 5)
            self.assertEqual(o["http_status"], 503)
            self.assertTrue(o["retryable"])
            want = [999.0, 1998.0, 2997.0, 2997.0]
            for got, w in zip(o["sleeps_ms"], want):
                self.assertAlmostEqual(got, w, delta=0.01)
            self.assertEqual(len(o["sleeps_ms"]), 4)
            for i, s in enumerate(o["sleeps_ms"]):  # never above the bound
                self.assertLessEqual(s, min(1000 * 2 ** i, 3000))

    def test_default_max_attempts_is_3_and_env_overrides(self):
        with FakeServer(lambda r: (500, {}, "{}")) as srv:
            rc, [o] = self.call(srv)
            self.assertEqual((o["attempts"], len(srv.requests)), (3, 3))
            self.env["AWS_MAX_ATTEMPTS"] = "2"
            rc, [o] = self.call(srv)
            self.assertEqual(o["attempts"], 2)

    def test_non_retryable_error_is_parsed(self):
        body = json.dumps({"__type": "InvalidParameterException", "message": "bad group name"})
        with FakeServer(lambda r: (400, {"x-amzn-RequestId": "rid-42"}, body)) as srv:
            rc, [o] = self.call(srv)
            self.assertNotEqual(rc, 0)
            self.assertEqual(o["attempts"], 1)
            self.assertEqual(o["sleeps_ms"], [])
            self.assertEqual(o["code"], "InvalidParameterException")
            self.assertEqual(o["message"], "bad group name")
            self.assertEqual(o["request_id"], "rid-42")
            self.assertEqual(o["status"], "remote service error")
            self.assertFalse(o["retryable"])

    def test_error_type_header(self):
        hdrs = {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/"}
        with FakeServer(script((400, hdrs, "{}"), OK)) as srv:
            rc, [o] = self.call(srv)
            self.assertEqual((rc, o["attempts"]), (0, 2))

    def test_connection_reset_then_ok(self):
        with FakeServer(script("reset", OK)) as srv:
            rc, [o] = self.call(srv, "--random", "0.25")
            self.assertEqual(rc, 0, o)
            self.assertEqual(o["attempts"], 2)
            self.assertEqual(o["sleeps_ms"], [250.0])

    def test_stalled_server_times_out_and_is_retried(self):
        # a stall far longer than the timeout: "timed out" is the timeout's doing however slowly
        # this machine runs the client
        with FakeServer(lambda r: ("stall", 60)) as srv:
            rc, [o] = self.call(srv, "--timeout-ms", "200", "--max-attempts", "2")
            self.assertNotEqual(rc, 0)
            self.assertEqual(o["status"], "timed out")
            self.assertEqual(o["attempts"], 2)
            self.assertEqual(len(o["sleeps_ms"]), 1)

    def test_deadline_bounds_retries(self):
        # The retry's clock moves only by the (injected) sleeps, so where the 40 s deadline
        # falls does not depend on how fast the machine answers: the call stops before the
        # first sleep that would end past it, never sleeping past it. The sleeps are
        # 0.999 x 1 s x 2^(i-1): after 5 of them (30.969 s) the next (19.98 s, at the 20 s cap)
        # would end at 50.949 s. Each attempt still has 9 s or more of real time to get its
        # answer (the deadline also bounds the HTTP timeout).
        with FakeServer(lambda r: (500, {}, "{}")) as srv:
            rc, [o] = self.call(srv, "--deadline-ms", "40000", "--random", "0.999",
                                "--max-attempts", "10", "--sleep-clock")
            self.assertEqual(o["sleeps_ms"], [999.0, 1998.0, 3996.0, 7992.0, 15984.0])
            self.assertLessEqual(sum(o["sleeps_ms"]), 40000)
            self.assertGreater(sum(o["sleeps_ms"]) + 19980.0, 40000)
            self.assertEqual(o["attempts"], 6)
            self.assertIn("deadline reached", o["message"])
            self.assertEqual(o["http_status"], 500)  # the last attempt's answer, not a timeout
            self.assertEqual(len(srv.requests), 6)

    def test_deadline_cuts_a_stalled_attempt(self):
        # The server stalls for longer than the test runs and the HTTP timeout is as long: only
        # the 400 ms deadline can end the attempt, so the call returning at all (within
        # run_tool's bound) is what shows it cut it; no wall-clock time is measured.
        with FakeServer(lambda r: ("stall", 3600)) as srv:
            rc, [o] = self.call(srv, "--deadline-ms", "400", "--max-attempts", "5",
                                "--timeout-ms", "3600000")
            self.assertEqual(o["status"], "timed out")
            self.assertEqual(o["attempts"], 1)

    def test_retry_quota_stops_hammering(self):
        # quota 10: the first call spends it all (2 retries x 5); later calls may not retry
        with FakeServer(lambda r: (500, {}, "{}")) as srv:
            rc, objs = self.call(srv, "--quota", "10", "--calls", "3")
            self.assertEqual([o["attempts"] for o in objs], [3, 1, 1])
            self.assertIn("retry quota exhausted", objs[1]["message"])
            self.assertEqual(len(srv.requests), 5)

    def test_quota_comes_back_after_success(self):
        answers = [(500, {}, "{}"), OK, OK]  # call 1: fail, retry ok (cost 5 back)

        def h(req):
            return answers.pop(0) if answers else (500, {}, "{}")
        with FakeServer(h) as srv:
            rc, objs = self.call(srv, "--quota", "5", "--calls", "3")
            # call 1 retries once (5 taken, 5 given back on success), call 2 succeeds at once,
            # call 3 can still retry once (5 available), then the quota is empty
            self.assertEqual([o["attempts"] for o in objs], [2, 1, 2])

    def test_expired_token_refreshes_once(self):
        expired = (400, {}, json.dumps({"__type": "ExpiredTokenException",
                                        "message": "The security token included in the request is expired"}))
        with FakeServer(script(expired, OK)) as srv:
            rc, [o] = self.call(srv)
            self.assertEqual(rc, 0, o)
            self.assertEqual(len(srv.requests), 2)
            self.assertEqual(o["sleeps_ms"], [])
        with FakeServer(lambda r: expired) as srv:
            rc, [o] = self.call(srv)
            self.assertNotEqual(rc, 0)
            self.assertEqual(o["status"], "authentication failed")
            self.assertEqual(len(srv.requests), 2)  # one refresh, not a loop

    def test_clock_skew_is_corrected_from_date_header(self):
        skew = 3600

        def h(req):
            server_now = time.time() + skew
            amz = time.mktime(time.strptime(req.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")) - time.timezone
            date = email.utils.formatdate(server_now, usegmt=True)
            if abs(amz - server_now) > 300:
                return 400, {"Date": date}, json.dumps(
                    {"__type": "InvalidSignatureException",
                     "message": "Signature expired: is now earlier than ..."})
            return 200, {"Date": date}, "{}"

        with FakeServer(h) as srv:
            rc, [o] = self.call(srv)
            self.assertEqual(rc, 0, o)
            self.assertEqual(len(srv.requests), 2)
            self.assertEqual(o["sleeps_ms"], [])

    def test_aws_query_protocol_and_xml_errors(self):
        err = ("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
               "<Message>Rate exceeded</Message></Error><RequestId>q-1</RequestId></ErrorResponse>")
        ok = "<PutMetricDataResponse><ResponseMetadata><RequestId>q-2</RequestId></ResponseMetadata></PutMetricDataResponse>"
        with FakeServer(script((400, {"Content-Type": "text/xml"}, err), (200, {}, ok))) as srv:
            body = "Action=PutMetricData&Version=2010-08-01&Namespace=App"
            rc, [o] = self.call(srv, "--query", "--service", "monitoring", "--body", body)
            self.assertEqual(rc, 0, o)
            self.assertEqual(o["attempts"], 2)
            req = srv.requests[0]
            self.assertEqual(req.headers["content-type"],
                             "application/x-www-form-urlencoded; charset=utf-8")
            self.assertNotIn("x-amz-target", req.headers)
            self.assertIn("/monitoring/aws4_request", req.headers["authorization"])
            self.assertEqual(urllib.parse.parse_qs(req.body.decode())["Action"], ["PutMetricData"])
            self.assertIn(botocore_signature_ok(req, SECRET, "us-east-1", "monitoring"),
                          (True, None))
        with FakeServer(lambda r: (400, {}, err.replace("Throttling", "InvalidParameterValue"))) as srv:
            rc, [o] = self.call(srv, "--query", "--service", "monitoring", "--body", "Action=X")
            self.assertEqual((o["code"], o["message"], o["request_id"]),
                             ("InvalidParameterValue", "Rate exceeded", "q-1"))

    def test_aws_json_1_0(self):
        with FakeServer(lambda r: OK) as srv:
            target = "GraniteServiceVersion20100801.PutMetricData"
            rc, [o] = run_tool(["call", "--endpoint", srv.url, "--service", "monitoring",
                                "--target", target, "--json-version", "1.0"], self.env)[:2]
            self.assertEqual(rc, 0, o)
            req = srv.requests[0]
            self.assertEqual(req.headers["content-type"], "application/x-amz-json-1.0")
            self.assertEqual(req.headers["x-amz-target"], target)
            self.assertIn(botocore_signature_ok(req, SECRET, "us-east-1", "monitoring"),
                          (True, None))

    def test_gzip_body(self):
        seen = {}

        def h(req):
            seen["enc"] = req.headers.get("content-encoding")
            seen["body"] = gzip.decompress(req.body)
            seen["signed"] = botocore_signature_ok(req, SECRET, "us-east-1", "logs")
            return OK
        with FakeServer(h) as srv:
            rc, [o] = self.call(srv, "--gzip", "--body", '{"logGroupName":"g"}')
            self.assertEqual(rc, 0, o)
            self.assertIn(seen.pop("signed"), (True, None))  # the compressed bytes are signed
            self.assertEqual(seen, {"enc": "gzip", "body": b'{"logGroupName":"g"}'})

    def test_connection_is_reused(self):
        with FakeServer(lambda r: OK) as srv:
            rc, objs = self.call(srv, "--calls", "4")
            self.assertEqual([o["status"] for o in objs], ["ok"] * 4)
            self.assertEqual(len({r.peer for r in srv.requests}), 1)  # one keep-alive connection

    @unittest.skipIf(not shutil.which("openssl"), "openssl CLI absent: TLS test skipped")
    def test_tls_verified_by_default_and_ca_bundle(self):
        cert, key = os.path.join(self.tmp, "cert.pem"), os.path.join(self.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        with FakeServer(lambda r: OK, tls=(cert, key)) as srv:
            rc, [o] = self.call(srv)
            self.assertNotEqual(rc, 0)  # self-signed: refused without the CA
            self.assertEqual(o["status"], "network error")
            # said as what it is, not retried (waiting cannot fix it), nothing was sent
            self.assertEqual(o["code"], "TLSCertificateError")
            self.assertTrue(o["message"].startswith(
                f"TLS certificate verification failed for localhost:{srv.port}: "), o)
            self.assertEqual((o["attempts"], o["sleeps_ms"]), (1, []))
            self.assertTrue(o["persistent"])
            self.assertEqual((o["failure"], o["unknown_outcomes"]), ("cert_failed", 0))
            self.assertEqual(srv.requests, [])
            rc, [o] = self.call(srv, "--ca-bundle", cert)
            self.assertEqual(rc, 0, o)
            self.assertEqual(len(srv.requests), 1)

    # ---- what was sent: a dead connection, a refused one, errors that waiting cannot fix ----

    def test_dead_keepalive_connection_is_not_resent_behind_our_back(self):
        # call 1 leaves a keep-alive connection; call 2 reaches the server whole on it, which
        # then closes without answering (as if it had stored it). libcurl would silently send
        # it again on a fresh connection ("Connection died, retrying a fresh connect"): two
        # copies processed, one success reported. It must be a failure the caller sees.
        with FakeServer(script(OK, "reset", OK)) as srv:
            rc, objs = self.call(srv, "--calls", "2", "--max-attempts", "1")
            self.assertEqual(objs[0]["status"], "ok")
            self.assertEqual(objs[1]["status"], "network error", objs[1])
            self.assertEqual((objs[1]["failure"], objs[1]["unknown_outcomes"]), ("no_answer", 1))
            self.assertFalse(objs[1]["persistent"])
            self.assertEqual(len(srv.requests), 2)  # never a hidden third copy
            self.assertEqual(len({r.peer for r in srv.requests}), 1)  # it was the reused one

    def test_lost_answer_is_counted_even_when_the_retry_succeeds(self):
        with FakeServer(script(OK, "reset", OK)) as srv:
            rc, objs = self.call(srv, "--calls", "2", "--random", "0")
            self.assertEqual([o["status"] for o in objs], ["ok", "ok"])
            self.assertEqual([o["attempts"] for o in objs], [1, 2])  # our retry, visible
            self.assertEqual([o["unknown_outcomes"] for o in objs], [0, 1])
            self.assertEqual(len(srv.requests), 3)

    def test_refused_connection_is_retried_and_never_ambiguous(self):
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        rc, objs, text = run_tool(["call", "--endpoint", f"http://127.0.0.1:{port}",
                                   "--target", TARGET, "--random", "0"], self.env)
        self.outputs.append(text)
        [o] = objs
        self.assertEqual(o["status"], "network error")
        self.assertEqual((o["failure"], o["unknown_outcomes"]), ("not_connected", 0))
        self.assertFalse(o["persistent"])
        self.assertEqual(o["attempts"], 3)  # the endpoint may come back: retried

    def test_failed_tls_handshake_sent_nothing(self):
        # https to a plain-http server: the handshake fails before any request byte goes out
        with FakeServer(lambda r: OK) as srv:
            rc, objs, text = run_tool(["call", "--endpoint", srv.url.replace("http:", "https:"),
                                       "--target", TARGET, "--max-attempts", "1"], self.env)
            self.outputs.append(text)
            [o] = objs
            self.assertEqual(o["status"], "network error")
            self.assertEqual((o["failure"], o["unknown_outcomes"]), ("tls_failed", 0), o)
            self.assertFalse(o["persistent"])
            self.assertEqual(srv.requests, [])

    def test_unresolvable_host_is_persistent_and_names_the_region(self):
        rc, objs, text = run_tool(["call", "--region", "xx-nowhere-1", "--target", TARGET],
                                  self.env)
        self.outputs.append(text)
        [o] = objs
        self.assertNotEqual(rc, 0)
        self.assertEqual((o["code"], o["failure"], o["persistent"]),
                         ("UnknownHost", "not_resolved", True), o)
        self.assertIn("logs.xx-nowhere-1.amazonaws.com", o["message"])
        self.assertIn("is the region 'xx-nowhere-1' right?", o["message"])
        self.assertEqual((o["attempts"], o["sleeps_ms"], o["unknown_outcomes"]), (1, [], 0))

    def test_refused_identity_is_persistent_and_not_retried(self):
        for code in ("UnrecognizedClientException", "InvalidSignatureException",
                     "AccessDeniedException", "IncompleteSignatureException",
                     "MissingAuthenticationTokenException"):
            body = json.dumps({"__type": code, "message": "no"})
            with FakeServer(lambda r: (400, {}, body)) as srv:
                rc, [o] = self.call(srv)
                self.assertEqual((o["status"], o["code"]), ("authentication failed", code))
                self.assertTrue(o["persistent"], code)
                self.assertEqual((o["attempts"], o["sleeps_ms"]), (1, []), code)
                self.assertEqual(len(srv.requests), 1, code)
        # an expired token is refreshed once first; still refused: persistent
        expired = (400, {}, json.dumps({"__type": "ExpiredTokenException", "message": "expired"}))
        with FakeServer(lambda r: expired) as srv:
            rc, [o] = self.call(srv)
            self.assertTrue(o["persistent"])
            self.assertEqual(len(srv.requests), 2)
        # throttling and 5xx are not persistent
        with FakeServer(lambda r: throttle()) as srv:
            rc, [o] = self.call(srv, "--max-attempts", "1")
            self.assertFalse(o["persistent"])

    def test_missing_credentials_are_persistent(self):
        del self.env["AWS_ACCESS_KEY_ID"]
        del self.env["AWS_SECRET_ACCESS_KEY"]
        with FakeServer(lambda r: OK) as srv:
            rc, [o] = self.call(srv)
            self.assertEqual((o["code"], o["persistent"], o["attempts"]),
                             ("CredentialsError", True, 1))

    def test_cancel_ends_the_backoff(self):
        # the hook answers "stop" once the first backoff wait began: no second attempt
        with FakeServer(lambda r: (500, {}, "{}")) as srv:
            rc, [o] = self.call(srv, "--max-attempts", "5", "--cancel-after", "1")
            self.assertEqual(o["attempts"], 1)
            self.assertIn("(interrupted)", o["message"])
            self.assertEqual(len(srv.requests), 1)

    def test_trace_masks_secrets(self):
        token = "CANARY-RETRY-TOKEN-77"
        self.env["AWS_SESSION_TOKEN"] = token
        hdrs = {"x-amzn-RequestId": "r", "Set-Cookie": "session=CANARY-COOKIE"}
        with FakeServer(lambda r: (200, hdrs, "{}")) as srv:
            p = subprocess.run([os.environ.get("SKYLOG_BUILD_DIR", "") + "/tests/tools/sky_aws_tool",
                                "call", "--endpoint", srv.url + "/?X-Amz-Signature=CANARY-Q",
                                "--target", TARGET, "--trace"],
                               env=self.env, capture_output=True, timeout=60)
            text = (p.stdout + p.stderr).decode()
            self.outputs.append(text)
            self.assertEqual(p.returncode, 0, text)
            self.assertIn("trace: > POST http://127.0.0.1:", text)
            self.assertIn("Signature=****", text)
            self.assertIn("Credential=AKIARETRY/", text)  # the key id is not a secret
            self.assertIn("X-Amz-Security-Token: ****", text)
            self.assertIn("trace: < 200", text)
            sent = srv.requests[0].headers
            self.assertEqual(sent["x-amz-security-token"], token)  # masked only in the trace
            for canary in (token, "CANARY-COOKIE", "CANARY-Q", sent["authorization"][-64:]):
                self.assertNotIn(canary, text)

    def test_proxy_from_environment(self):
        # libcurl honours http_proxy: the request reaches our "proxy" in absolute form, for a
        # host that does not even resolve
        with FakeServer(lambda r: OK) as proxy:
            self.env.update(http_proxy=proxy.url, no_proxy="")
            rc, objs, text = run_tool(["call", "--endpoint", "http://logs.skylog-test.invalid",
                                       "--target", TARGET], self.env)
            self.outputs.append(text)
            self.assertEqual(rc, 0, text)
            [req] = proxy.requests
            self.assertEqual(req.path, "http://logs.skylog-test.invalid/")
            self.assertEqual(req.headers["host"], "logs.skylog-test.invalid")

    def test_missing_credentials_fail_fast(self):
        del self.env["AWS_ACCESS_KEY_ID"]
        del self.env["AWS_SECRET_ACCESS_KEY"]
        with FakeServer(lambda r: OK) as srv:
            rc, [o] = self.call(srv)
            self.assertNotEqual(rc, 0)
            self.assertEqual(o["status"], "authentication failed")
            self.assertEqual(srv.requests, [])


if __name__ == "__main__":
    unittest.main()
