"""Retries of the credential providers, against botocore as the oracle.

Each test scripts a fault-injecting fake server (a list of answers, one per request), runs
skylog's provider (tests/tools/sky_aws_tool creds) against it, then botocore's own client or
fetcher against a fresh copy of the same script, and compares what the two asked of the server:
how many requests, which ones, and whether credentials came out. Sleeps are injected on both
sides (the tool records them; botocore's time.sleep is patched), so nothing waits and nothing
depends on the machine's speed. The provider's counters (sky_aws_creds_stats_get()) must count
every retry.
"""
import datetime
import json
import os
import shutil
import tempfile
import time
import unittest
from unittest import mock

import skyharness
from awsfakes import TOOL, FakeServer, base_env, iso, run_tool

try:
    import botocore.credentials
    import botocore.session
    import botocore.utils
    from botocore.config import Config
except ImportError:  # pragma: no cover - botocore is installed by scripts/deps.sh
    botocore = None

T0 = 1_800_000_000


def sts_xml(action, akid):
    return (f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<{action}Result><Credentials><AccessKeyId>{akid}</AccessKeyId>"
            f"<SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>"
            f"<Expiration>{iso(T0 + 3600)}</Expiration></Credentials></{action}Result>"
            f"</{action}Response>")


def sts_error(code, status=400):
    return (status, {"Content-Type": "text/xml"},
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>")


class Script:
    """Answers requests from a list (the last one repeats), keyed by path when given a dict."""

    def __init__(self, answers):
        self.answers = {k: list(v) for k, v in answers.items()} if isinstance(answers, dict) \
            else {None: list(answers)}

    def __call__(self, req):
        key = req.path if None not in self.answers else None
        if key not in self.answers:
            return 404, {}, ""
        q = self.answers[key]
        return q.pop(0) if len(q) > 1 else q[0]


@unittest.skipIf(not os.path.exists(TOOL), f"{TOOL} not built")
@unittest.skipIf(botocore is None, "botocore not installed")
class CredsRetryVsBotocore(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skycredsretry.")
        self.env = base_env(self.tmp)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def ours(self, answers, *args, env=None):
        with FakeServer(Script(answers)) as srv:
            e = dict(self.env)
            e.update({k: v.replace("{url}", srv.url) for k, v in (env or {}).items()})
            rc, objs, text = run_tool(["creds"] + [a.replace("{url}", srv.url) for a in args], e)
            self.assertEqual(len(objs), 1, text)
            return objs[0], [(r.method, r.path) for r in srv.requests]

    def botocore_run(self, answers, fn):
        """fn(url) runs botocore's code; returns (succeeded, requests)."""
        with FakeServer(Script(answers)) as srv, mock.patch("time.sleep"):
            try:
                ok = bool(fn(srv.url))
            except Exception:  # botocore's failure: what matters is what it asked
                ok = False
            return ok, [(r.method, r.path) for r in srv.requests]

    # ---- STS -----------------------------------------------------------------------------

    def web_identity(self, answers, mode="standard", max_attempts=None):
        token = self.write("jwt", "eyJ.payload.sig\n")
        env = {"AWS_WEB_IDENTITY_TOKEN_FILE": token, "AWS_ROLE_ARN": "arn:aws:iam::1:role/W",
               "AWS_ROLE_SESSION_NAME": "sess", "AWS_ENDPOINT_URL_STS": "{url}",
               "AWS_RETRY_MODE": mode}
        if max_attempts:
            env["AWS_MAX_ATTEMPTS"] = str(max_attempts)
        o, reqs = self.ours(answers, "--at", str(T0), env=env)

        def boto(url):
            retries = {"mode": mode}
            if max_attempts:
                retries["total_max_attempts"] = max_attempts  # as AWS_MAX_ATTEMPTS
            c = botocore.session.get_session().create_client(
                "sts", region_name="us-east-1", endpoint_url=url,
                aws_access_key_id="AKIAX", aws_secret_access_key="x",
                config=Config(retries=retries))
            return c.assume_role_with_web_identity(RoleArn="arn:aws:iam::1:role/W",
                                                   RoleSessionName="sess",
                                                   WebIdentityToken="eyJ.payload.sig")

        ok, breqs = self.botocore_run(answers, boto)
        self.assertEqual(o["status"] == "ok", ok, o)
        self.assertEqual(len(reqs), len(breqs), (o, reqs, breqs))
        return o, reqs

    def test_sts_transient_errors_retried_as_botocore(self):
        ok = (200, {}, sts_xml("AssumeRoleWithWebIdentity", "ASIAWEB"))
        o, reqs = self.web_identity([sts_error("IDPCommunicationError"), (503, {}, ""), ok])
        self.assertEqual((o["status"], o["akid"], len(reqs)), ("ok", "ASIAWEB", 3))
        self.assertEqual(o["creds_stats"]["retries"], 2)
        self.assertEqual(o["creds_stats"]["refreshes"], 1)
        self.assertEqual(len(o["sleeps_ms"]), 2)  # backoff with jitter, injected

    def test_sts_throttling_counted_and_attempts_bounded(self):
        o, reqs = self.web_identity([sts_error("Throttling")], max_attempts=2)
        self.assertNotEqual(o["status"], "ok")
        self.assertEqual(len(reqs), 2)
        st = o["creds_stats"]
        self.assertEqual((st["retries"], st["throttles"], st["failures"]), (1, 2, 1))
        self.assertIn("Throttling", st["last_error"])

    def test_sts_client_errors_not_retried(self):
        o, reqs = self.web_identity([sts_error("InvalidIdentityToken")])
        self.assertEqual((len(reqs), o["creds_stats"]["retries"]), (1, 0))

    def test_sts_legacy_mode(self):
        # legacy: 5 attempts, IDPCommunicationError only with HTTP 400 (_retry.json "sts")
        o, reqs = self.web_identity([(500, {}, "")], mode="legacy")
        self.assertEqual(len(reqs), 5)
        o, reqs = self.web_identity([sts_error("IDPCommunicationError"),
                                     (200, {}, sts_xml("AssumeRoleWithWebIdentity", "A"))],
                                    mode="legacy")
        self.assertEqual((o["status"], len(reqs)), ("ok", 2))

    # ---- container -----------------------------------------------------------------------

    def container(self, answers):
        o, reqs = self.ours(answers, "--no-files", env={
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": "{url}/creds"})

        def boto(url):
            f = botocore.utils.ContainerMetadataFetcher(sleep=lambda s: None)
            return f.retrieve_full_uri(url + "/creds")

        ok, breqs = self.botocore_run(answers, boto)
        self.assertEqual(o["status"] == "ok", ok, o)
        self.assertEqual(reqs, breqs)
        return o, reqs

    def test_container_retries_any_failure_three_times(self):
        good = (200, {}, '{"AccessKeyId":"ASIAECS","SecretAccessKey":"s","Token":"t",'
                         '"Expiration":"%s"}' % iso(T0 + 3600))
        o, reqs = self.container([(404, {}, "{}"), (200, {}, "not json"), good])
        self.assertEqual((o["status"], o["akid"]), ("ok", "ASIAECS"))
        self.assertEqual(o["sleeps_ms"], [1000.0, 1000.0])
        self.assertEqual(o["creds_stats"]["retries"], 2)
        o, reqs = self.container([(401, {}, "{}")])
        self.assertEqual(len(reqs), 3)
        self.assertEqual(o["creds_stats"]["retries"], 2)
        self.assertIn("HTTP 401", o["error"])
        # botocore sleeps once more after the last failure, which retries nothing: skylog
        # reports the failure at once (a deliberate difference, skylog/aws.h fetch_retry)
        self.assertEqual(o["sleeps_ms"], [1000.0, 1000.0])
        slept = []
        with FakeServer(Script([(401, {}, "{}")])) as srv:
            f = botocore.utils.ContainerMetadataFetcher(sleep=slept.append)
            with self.assertRaises(Exception):
                f.retrieve_full_uri(srv.url + "/creds")
        self.assertEqual(slept, [1, 1, 1])

    # ---- expiry of what a source answers ---------------------------------------------------

    def test_expired_credentials_refused_as_botocore(self):
        """A source answering credentials that have already expired: botocore's
        _protected_refresh raises "the refreshed credentials are still expired"; skylog refuses
        them too, naming the source, counted as a failure (not handed out to be answered
        ExpiredToken by AWS). The container endpoint and STS (web identity) here."""
        def creds(exp):
            return (200, {}, '{"AccessKeyId":"ASIAOLD","SecretAccessKey":"s","Token":"t",'
                             '"Expiration":"%s"}' % iso(exp))

        o, reqs = self.ours([creds(T0 - 60)], "--no-files", "--at", str(T0),
                            env={"AWS_CONTAINER_CREDENTIALS_FULL_URI": "{url}/creds"})
        self.assertEqual(o["status"], "authentication failed", o)
        self.assertNotIn("akid", o)
        self.assertIn("credentials from container expired 60 s ago", o["error"])
        self.assertEqual(o["creds_stats"]["failures"], 1)
        self.assertEqual(o["creds_stats"]["last_error"], o["error"])

        token = self.write("jwt", "eyJ.payload.sig\n")
        old = (200, {}, sts_xml("AssumeRoleWithWebIdentity", "A").replace(
            iso(T0 + 3600), iso(T0 - 1)))
        o, reqs = self.ours([old], "--at", str(T0), env={
            "AWS_WEB_IDENTITY_TOKEN_FILE": token, "AWS_ROLE_ARN": "arn:aws:iam::1:role/W",
            "AWS_ENDPOINT_URL_STS": "{url}"})
        self.assertEqual(o["status"], "authentication failed", o)
        self.assertIn("credentials from web-identity expired 1 s ago", o["error"])
        self.assertEqual(len(reqs), 1)

        # botocore (on the real clock): the same refusal
        now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
        with FakeServer(Script([creds(now - 60)])) as srv:
            p = botocore.credentials.ContainerProvider(
                environ={"AWS_CONTAINER_CREDENTIALS_FULL_URI": srv.url + "/creds"},
                fetcher=botocore.utils.ContainerMetadataFetcher(sleep=lambda s: None))
            with self.assertRaisesRegex(RuntimeError, "still expired"):
                p.load().get_frozen_credentials()

    def test_near_expiry_credentials_used_not_fetched_on_every_call(self):
        """Credentials that expire within the refresh margin (5 min) when fetched are used,
        and asked for again after half their time left (at most 1 min), not on every get
        (botocore asks on every call in its mandatory window: a deliberate difference)."""
        good = (200, {}, '{"AccessKeyId":"ASIASOON","SecretAccessKey":"s","Token":"t",'
                         '"Expiration":"%s"}' % iso(T0 + 120))
        with FakeServer(Script([good])) as srv:
            e = dict(self.env, AWS_CONTAINER_CREDENTIALS_FULL_URI=srv.url + "/creds")
            rc, objs, text = run_tool(["creds", "--no-files", "--at", str(T0),
                                       "--at", str(T0 + 30), "--at", str(T0 + 61)], e)
            nreq = len(srv.requests)
        self.assertEqual([o["status"] for o in objs], ["ok"] * 3, text)
        self.assertEqual(nreq, 2)  # at T0 and T0 + 61: T0 + 30 is answered from the cache
        self.assertEqual(objs[-1]["creds_stats"]["failures"], 0)
        self.assertEqual(objs[-1]["creds_stats"]["near_expiry"], 2)  # 59 s left at T0 + 61

    # ---- IMDS ----------------------------------------------------------------------------

    ROLE = "/latest/meta-data/iam/security-credentials/"
    CREDS = '{"Code":"Success","AccessKeyId":"ASIAIMDS","SecretAccessKey":"s","Token":"t",' \
            '"Expiration":"%s"}' % iso(T0 + 7200)

    def imds(self, answers, attempts, timeout_s=2):
        env = {"AWS_METADATA_SERVICE_NUM_ATTEMPTS": str(attempts)}
        self.env.pop("AWS_EC2_METADATA_DISABLED", None)
        o, reqs = self.ours(answers, "--imds", "{url}", "--at", str(T0),
                            "--timeout-ms", str(timeout_s * 1000), env=env)

        def boto(url):
            f = botocore.utils.InstanceMetadataFetcher(num_attempts=attempts, base_url=url,
                                                       timeout=timeout_s, env={})
            return f.retrieve_iam_role_credentials()

        ok, breqs = self.botocore_run(answers, boto)
        self.assertEqual(o["status"] == "ok", ok, o)
        self.assertEqual(reqs, breqs)
        return o, reqs

    def test_imds_retries_each_request_as_botocore(self):
        o, reqs = self.imds({"/latest/api/token": [(500, {}, ""), (200, {}, "tok")],
                             self.ROLE: [(404, {}, ""), (200, {}, ""), (200, {}, "r1")],
                             self.ROLE + "r1": [(200, {}, "{not json"), (200, {}, self.CREDS)]},
                            attempts=3)
        self.assertEqual((o["status"], o["akid"]), ("ok", "ASIAIMDS"))
        self.assertEqual(len(reqs), 7)
        self.assertEqual(o["creds_stats"]["retries"], 4)
        self.assertEqual(o["sleeps_ms"], [])  # IMDS retries without a pause

    def test_imds_token_answers_that_end_at_once(self):
        # 403/404/405: no IMDSv2, IMDSv1 at once (no retry of the token request)
        for status in (403, 404, 405):
            o, reqs = self.imds({"/latest/api/token": [(status, {}, "")],
                                 self.ROLE: [(200, {}, "r1")],
                                 self.ROLE + "r1": [(200, {}, self.CREDS)]}, attempts=3)
            self.assertEqual((o["status"], len(reqs)), ("ok", 3))
        # attempts exhausted on 5xx: IMDSv1 too
        o, reqs = self.imds({"/latest/api/token": [(503, {}, "")],
                             self.ROLE: [(200, {}, "r1")],
                             self.ROLE + "r1": [(200, {}, self.CREDS)]}, attempts=2)
        self.assertEqual((o["status"], len(reqs)), ("ok", 4))

    def test_imds_token_read_timeout_means_v1_at_once(self):
        """A token request that gets no answer in time is not retried: IMDSv1 at once. (The
        server stalls 4 s past a 1 s timeout; only the requests are compared, never times.)"""
        o, reqs = self.imds({"/latest/api/token": [("stall", 4)],
                             self.ROLE: [(200, {}, "r1")],
                             self.ROLE + "r1": [(200, {}, self.CREDS)]}, attempts=3, timeout_s=1)
        self.assertEqual((o["status"], len(reqs)), ("ok", 3))
        self.assertEqual(o["creds_stats"]["retries"], 0)

    def test_imds_expiration_extension_as_botocore(self):
        """IMDS answering credentials that expired (or expire within 10 min + 2-10 min of
        jitter): botocore's _evaluate_expiration uses them until now + that window, and so does
        skylog, with the same jitter drawn (random fixed on both sides: 0.5 -> randint's 360 s);
        later gets within it take the cache (no request), and none is a failure."""
        jitter = 360
        for exp, extended in ((T0 - 3600, True), (T0 + 900, True), (T0 + 7200, False)):
            with self.subTest(expires_in=exp - T0):
                creds = ('{"Code":"Success","AccessKeyId":"ASIAOLD","SecretAccessKey":"s",'
                         '"Token":"t","Expiration":"%s"}' % iso(exp))
                answers = {"/latest/api/token": [(200, {}, "tok")], self.ROLE: [(200, {}, "r1")],
                           self.ROLE + "r1": [(200, {}, creds)]}
                self.env.pop("AWS_EC2_METADATA_DISABLED", None)
                with FakeServer(Script(answers)) as srv:
                    rc, objs, text = run_tool(["creds", "--imds", srv.url, "--random", "0.5",
                                               "--at", str(T0), "--at", str(T0 + 60)], self.env)
                    nreq = len(srv.requests)
                self.assertEqual([o["status"] for o in objs], ["ok", "ok"], text)
                want = T0 + 600 + jitter if extended else exp
                self.assertEqual([o["expiration"] for o in objs], [want, want])
                self.assertEqual(nreq, 3)  # the second get is answered from the cache
                self.assertEqual(objs[-1]["creds_stats"]["expiry_extensions"], int(extended))
                self.assertEqual(objs[-1]["creds_stats"]["failures"], 0)

                def boto(url):
                    f = botocore.utils.InstanceMetadataFetcher(base_url=url, timeout=2, env={})
                    with mock.patch("random.randint", return_value=jitter), \
                            mock.patch("botocore.utils.get_current_datetime",
                                       return_value=datetime.datetime.utcfromtimestamp(T0)):
                        return f.retrieve_iam_role_credentials()["expiry_time"]

                with FakeServer(Script(answers)) as srv:
                    got = boto(srv.url)
                self.assertEqual(got, iso(want))

    def test_imds_role_never_found(self):
        o, reqs = self.imds({"/latest/api/token": [(200, {}, "tok")],
                             self.ROLE: [(404, {}, "")]}, attempts=2)
        self.assertNotEqual(o["status"], "ok")
        self.assertEqual(len(reqs), 3)
        self.assertEqual(o["creds_stats"]["retries"], 1)
        self.assertEqual(o["creds_stats"]["failures"], 1)


class ShipReportsCredentialRetries(unittest.TestCase):
    """The sink's provider counters reach `skylog ship`'s summary: web identity credentials
    whose STS answers 503 twice before it answers."""

    def test_summary_counts_sts_retries(self):
        srv = skyharness.start_server(self)
        tmp = tempfile.mkdtemp(prefix="skyshipcreds.")
        self.addCleanup(shutil.rmtree, tmp, True)
        jwt = os.path.join(tmp, "jwt")
        with open(jwt, "w") as f:
            f.write("eyJ.payload.sig\n")
        answers = [(503, {}, ""), (503, {}, ""),
                   (200, {}, sts_xml("AssumeRoleWithWebIdentity", "ASIASHIP"))]
        with FakeServer(Script(answers)) as sts:
            env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                   "AWS_WEB_IDENTITY_TOKEN_FILE": jwt, "AWS_ROLE_ARN": "arn:aws:iam::1:role/W",
                   "AWS_ENDPOINT_URL_STS": sts.url, "AWS_MAX_ATTEMPTS": "3", "HOME": tmp}
            p = skyharness.run_skylog(self, "ship", "-g", "/creds/ship", "-", server=srv,
                                      input="one\ntwo\n", env=env)
            self.assertEqual(len(sts.requests), 3)
        self.assertIn("2 sent", p.stderr)
        self.assertIn("credentials: 1 refreshes, 0 failed, 2 retries (0 throttled)", p.stderr)

    def test_summary_counts_credentials_near_expiry(self):
        srv = skyharness.start_server(self)
        tmp = tempfile.mkdtemp(prefix="skyshipcreds.")
        self.addCleanup(shutil.rmtree, tmp, True)
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
        good = (200, {}, '{"AccessKeyId":"ASIASOON","SecretAccessKey":"s","Token":"t",'
                         '"Expiration":"%s"}' % soon)
        with FakeServer(Script([good])) as creds:
            env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "HOME": tmp,
                   "AWS_CONTAINER_CREDENTIALS_FULL_URI": creds.url + "/creds"}
            p = skyharness.run_skylog(self, "ship", "-g", "/creds/soon", "-", server=srv,
                                      input="one\ntwo\n", env=env)
        self.assertIn("2 sent", p.stderr)
        self.assertIn("credentials: 1 fetched near expiry, 0 failed refreshes answered with "
                      "cached ones", p.stderr)


if __name__ == "__main__":
    unittest.main()
