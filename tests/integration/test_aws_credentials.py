"""Credential providers against fake servers on 127.0.0.1 and temporary config files.

Each provider gets a canary secret; no output of the tool (stdout, stderr, error texts) may ever
contain it, on success or failure. The tool prints only SHA-256 digests of secrets.
Expiry and refresh use the tool's fake clock (--at EPOCH_S).
"""
import os
import shutil
import stat
import tempfile
import unittest
import urllib.parse

from awsfakes import TOOL, FakeServer, base_env, iso, run_tool, sha256

T0 = 1_800_000_000  # fake "now" for expiry tests


def sts_xml(action, akid, secret, token, exp):
    return (f'<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<{action}Result><Credentials><AccessKeyId>{akid}</AccessKeyId>"
            f"<SecretAccessKey>{secret}</SecretAccessKey><SessionToken>{token}</SessionToken>"
            f"<Expiration>{iso(exp)}</Expiration></Credentials></{action}Result>"
            f"<ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata>"
            f"</{action}Response>")


@unittest.skipIf(not os.path.exists(TOOL), f"{TOOL} not built: credential tests skipped")
class Credentials(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skyaws.")
        self.env = base_env(self.tmp)
        self.outputs = []
        self.canaries = []

    def tearDown(self):
        for text in self.outputs:
            for c in self.canaries:
                self.assertNotIn(c, text, "a secret leaked into the tool's output")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def tool(self, *args, env=None):
        rc, objs, text = run_tool(["creds"] + list(args), env or self.env)
        self.outputs.append(text)
        return rc, objs

    def write(self, name, text, mode=0o600):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    # ---- env and explicit ---------------------------------------------------------------

    def test_env(self):
        secret = "CANARY-ENV-SECRET-7f3a"
        token = "CANARY-ENV-TOKEN-19bd"
        self.canaries += [secret, token]
        self.env.update(AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY=secret,
                        AWS_SESSION_TOKEN=token)
        rc, [o] = self.tool()
        self.assertEqual(rc, 0, o)
        self.assertEqual(o["source"], "env")
        self.assertEqual(o["akid"], "AKIAENV")
        self.assertEqual(o["secret_sha256"], sha256(secret))
        self.assertEqual(o["token_sha256"], sha256(token))
        self.assertEqual(o["expiration"], 0)

    def test_env_half_set_is_an_error(self):
        self.env.update(AWS_ACCESS_KEY_ID="AKIAENV")
        rc, [o] = self.tool()
        self.assertNotEqual(rc, 0)
        self.assertIn("AWS_SECRET_ACCESS_KEY", o["error"])

    def test_explicit_beats_env(self):
        self.canaries.append("CANARY-EXPLICIT-1")
        self.env.update(AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="x")
        rc, [o] = self.tool("--akid", "AKIAEXPL", "--secret", "CANARY-EXPLICIT-1")
        self.assertEqual((rc, o["source"], o["akid"]), (0, "explicit", "AKIAEXPL"))

    def test_nothing_configured(self):
        rc, [o] = self.tool()
        self.assertNotEqual(rc, 0)
        self.assertEqual(o["status"], "authentication failed")
        self.assertIn("no AWS credentials", o["error"])

    # ---- shared files -------------------------------------------------------------------

    def test_profiles_credentials_vs_config_sections(self):
        s_dev, s_def = "CANARY-PROFILE-DEV-2c", "CANARY-PROFILE-DEFAULT-9e"
        self.canaries += [s_dev, s_def]
        creds = self.write("credentials", f"""
# comment
[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = {s_def}

[dev]
aws_access_key_id=AKIADEV
aws_secret_access_key={s_dev}
aws_session_token = tok-dev
""")
        config = self.write("config", """
[dev]
region = should-not-be-read
[profile dev]
region = eu-west-1
""")
        self.env.update(AWS_SHARED_CREDENTIALS_FILE=creds, AWS_CONFIG_FILE=config)
        rc, [o] = self.tool()
        self.assertEqual((rc, o["source"], o["akid"]), (0, "profile", "AKIADEFAULT"))
        self.assertEqual(o["secret_sha256"], sha256(s_def))
        self.env["AWS_PROFILE"] = "dev"
        rc, [o] = self.tool()
        self.assertEqual((rc, o["akid"], o["token_sha256"]), (0, "AKIADEV", sha256("tok-dev")))
        # env keys win over the files
        self.env.update(AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="e")
        rc, [o] = self.tool()
        self.assertEqual(o["source"], "env")

    def test_keys_in_config_file_profile_section(self):
        secret = "CANARY-CONFIG-KEYS-41"
        self.canaries.append(secret)
        config = self.write("config", f"""[profile ops]
aws_access_key_id = AKIAOPS
aws_secret_access_key = {secret}
[ops]
aws_access_key_id = WRONG
aws_secret_access_key = WRONG
""")
        self.env.update(AWS_CONFIG_FILE=config, AWS_PROFILE="ops",
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.tmp, "none"))
        rc, [o] = self.tool()
        self.assertEqual((rc, o["akid"], o["secret_sha256"]), (0, "AKIAOPS", sha256(secret)))

    def test_missing_named_profile_is_an_error(self):
        self.env.update(AWS_PROFILE="ghost", AWS_CONFIG_FILE=self.write("config", "[default]\n"))
        rc, [o] = self.tool()
        self.assertNotEqual(rc, 0)
        self.assertIn("ghost", o["error"])

    def test_credential_process_and_refresh_with_fake_clock(self):
        secret = "CANARY-PROCESS-SECRET-5d"
        self.canaries.append(secret)
        counter = os.path.join(self.tmp, "count")
        script = self.write("proc.sh", f"""#!/bin/sh
[ "$1" = "two words" ] && [ "$2" = '$HOME' ] || exit 9
n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}
cat <<EOF
{{"Version": 1, "AccessKeyId": "AKIAPROC$n", "SecretAccessKey": "{secret}$n",
  "SessionToken": "tok$n", "Expiration": "$(date -u -d @$(({T0} + 3600 * n)) +%Y-%m-%dT%H:%M:%SZ)"}}
EOF
""", 0o700)
        # run without a shell, split like shlex: the quoted argument arrives as one word
        config = self.write("config", f"[profile p]\ncredential_process = {script} 'two words' $HOME\n")
        self.env.update(AWS_CONFIG_FILE=config, AWS_PROFILE="p",
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.tmp, "none"))
        rc, objs = self.tool("--at", str(T0), "--at", str(T0 + 3600 - 301),
                             "--at", str(T0 + 3600 - 299), "--at", str(T0 + 3600 - 100))
        self.assertEqual(rc, 0, objs)
        self.assertEqual([o["akid"] for o in objs],
                         ["AKIAPROC1", "AKIAPROC1", "AKIAPROC2", "AKIAPROC2"])
        self.assertEqual(objs[0]["source"], "process")
        self.assertEqual(objs[0]["secret_sha256"], sha256(secret + "1"))
        self.assertEqual(objs[0]["expiration"], T0 + 3600)
        with open(counter) as f:
            self.assertEqual(f.read().strip(), "2")

    def test_credential_process_failures(self):
        secret = "CANARY-PROCESS-FAIL-88"
        self.canaries.append(secret)
        bad = self.write("bad.sh", f"#!/bin/sh\necho '{{\"Version\":1,\"AccessKeyId\":\"A\"," 
                                   f"\"SecretAccessKey\":\"{secret}\"}}'\nexit 3\n", 0o700)
        v2 = self.write("v2.sh", f"#!/bin/sh\necho '{{\"Version\":2,\"AccessKeyId\":\"A\","
                                 f"\"SecretAccessKey\":\"{secret}\"}}'\n", 0o700)
        for script, want in ((bad, "exit status 3"), (v2, "Version"),
                             ("/nonexistent/helper", "could not be started"),
                             ("'unbalanced", "unbalanced quotes")):
            config = self.write("config", f"[default]\ncredential_process = {script}\n")
            self.env.update(AWS_CONFIG_FILE=config)
            rc, [o] = self.tool()
            self.assertNotEqual(rc, 0)
            self.assertIn(want, o["error"])

    # ---- expiry of what credential_process and SSO answer ---------------------------------
    # The check is shared by every source (credentials.c's judge_expiry); these pin it to the
    # paths of these two, each its own parser and its own way of giving the expiration.

    def expiring_process(self, expirations):
        """A credential_process whose n-th run answers AKIAPROC<n> expiring at the n-th of
        `expirations` (the last repeats). Returns the file that counts its runs."""
        secret = "CANARY-PROCESS-EXPIRY-SECRET"
        self.canaries.append(secret)
        counter = os.path.join(self.tmp, "runs")
        times = self.write("expirations", "".join(iso(t) + "\n" for t in expirations))
        script = self.write("proc.sh", f"""#!/bin/sh
n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}
exp=$(sed -n "${{n}}p" {times}); [ -n "$exp" ] || exp=$(tail -n 1 {times})
printf '{{"Version": 1, "AccessKeyId": "AKIAPROC%d", "SecretAccessKey": "{secret}", "Expiration": "%s"}}' $n "$exp"
""", 0o700)
        self.env.update(AWS_CONFIG_FILE=self.write("config", f"[default]\ncredential_process = {script}\n"),
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.tmp, "none"))
        return counter

    def runs(self, counter):
        with open(counter) as f:
            return int(f.read())

    def test_credential_process_expired_credentials_refused_naming_it(self):
        """A credential_process answering credentials already expired: refused, the source
        named, counted as a failure (botocore: "the refreshed credentials are still expired"),
        never handed out to be answered ExpiredToken."""
        counter = self.expiring_process([T0 - 30])
        rc, [o] = self.tool("--at", str(T0))
        self.assertNotEqual(rc, 0)
        self.assertEqual(o["status"], "authentication failed", o)
        self.assertNotIn("akid", o)
        self.assertIn("credentials from process expired 30 s ago", o["error"])
        self.assertIn("renew them there", o["error"])
        st = o["creds_stats"]
        self.assertEqual((st["failures"], st["refreshes"], st["near_expiry"]), (1, 0, 0))
        self.assertEqual(st["last_error"], o["error"])
        self.assertEqual(self.runs(counter), 1)

    def test_credential_process_near_expiry_used_and_asked_again(self):
        """2 min left, inside the 5 min refresh margin: used (AWS still takes them), said at
        WARN, counted (near_expiry); the process runs again after half the time left (T0 + 60),
        not on every get: T0 + 30 and T0 + 59 are answered from the cache."""
        counter = self.expiring_process([T0 + 120, T0 + 3600])
        rc, objs = self.tool("--at", str(T0), "--at", str(T0 + 30), "--at", str(T0 + 59),
                             "--at", str(T0 + 61), "--at", str(T0 + 62))
        self.assertEqual(rc, 0, objs)
        self.assertEqual([o["akid"] for o in objs],
                         ["AKIAPROC1"] * 3 + ["AKIAPROC2"] * 2)
        self.assertEqual([o["expiration"] for o in objs], [T0 + 120] * 3 + [T0 + 3600] * 2)
        self.assertEqual(self.runs(counter), 2)
        self.assertEqual([o["creds_stats"]["near_expiry"] for o in objs], [1] * 5)
        st = objs[-1]["creds_stats"]
        self.assertEqual((st["refreshes"], st["failures"], st["stale_used"]), (2, 0, 0))
        self.assertIn("credentials from process expire in 120 s, within the refresh margin; "
                      "using them, asking again in 60 s", self.outputs[-1])

    def expiring_sso(self, expirations):
        """The SSO portal answering role credentials ASIASSO<n> that expire at the n-th of
        `expirations` (the last repeats), with a cached token good until T0 + 2 h. Returns the
        server (its requests)."""
        token, secret = "CANARY-SSO-EXPIRY-TOKEN", "CANARY-SSO-EXPIRY-SECRET"
        self.canaries += [token, secret, "CANARY-SSO-REFRESH"]
        self.sso_cache("my-sso", token, T0 + 7200)
        answered = []

        def portal(req):
            if req.headers.get("x-amz-sso_bearer_token") != token:
                return 401, {}, '{"message":"Session token not found or invalid"}'
            answered.append(req)
            exp = expirations[min(len(answered), len(expirations)) - 1]
            return 200, {}, ('{"roleCredentials":{"accessKeyId":"ASIASSO%d","secretAccessKey":'
                             '"%s","sessionToken":"t","expiration":%d}}'
                             % (len(answered), secret, exp * 1000))
        srv = FakeServer(portal)
        srv.__enter__()
        self.addCleanup(srv.__exit__, None, None, None)
        self.env.update(AWS_CONFIG_FILE=self.write("config", self.SSO_CONFIG),
                        AWS_ENDPOINT_URL_SSO=srv.url, AWS_PROFILE="dev")
        return srv

    def test_sso_expired_role_credentials_refused_naming_it(self):
        """GetRoleCredentials answering credentials already expired (the SSO token itself
        still good): refused with the source named, counted, not handed out."""
        srv = self.expiring_sso([T0 - 5])
        rc, [o] = self.tool("--at", str(T0))
        self.assertNotEqual(rc, 0)
        self.assertEqual(o["status"], "authentication failed", o)
        self.assertNotIn("akid", o)
        self.assertIn("credentials from sso expired 5 s ago", o["error"])
        self.assertNotIn("aws sso login", o["error"])  # the token was fine: not a login matter
        st = o["creds_stats"]
        self.assertEqual((st["failures"], st["refreshes"], st["near_expiry"]), (1, 0, 0))
        self.assertEqual(len(srv.requests), 1)

    def test_sso_near_expiry_role_credentials_used_and_asked_again(self):
        srv = self.expiring_sso([T0 + 120, T0 + 3600])
        rc, objs = self.tool("--at", str(T0), "--at", str(T0 + 59), "--at", str(T0 + 61),
                             "--at", str(T0 + 62))
        self.assertEqual(rc, 0, objs)
        self.assertEqual([(o["source"], o["akid"]) for o in objs],
                         [("sso", "ASIASSO1")] * 2 + [("sso", "ASIASSO2")] * 2)
        self.assertEqual([o["expiration"] for o in objs], [T0 + 120] * 2 + [T0 + 3600] * 2)
        self.assertEqual(len(srv.requests), 2)  # at T0 and T0 + 61 only
        st = objs[-1]["creds_stats"]
        self.assertEqual((st["near_expiry"], st["refreshes"], st["failures"]), (1, 2, 0))
        self.assertIn("credentials from sso expire in 120 s, within the refresh margin",
                      self.outputs[-1])

    # ---- STS ----------------------------------------------------------------------------

    def test_assume_role_with_source_profile(self):
        base_secret, role_secret = "CANARY-BASE-SECRET-aa", "CANARY-ROLE-SECRET-bb"
        self.canaries += [base_secret, role_secret]

        def sts(req):
            form = urllib.parse.parse_qs(req.body.decode())
            if form.get("Action") != ["AssumeRole"]:
                return 400, {}, "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>"
            return 200, {"Content-Type": "text/xml"}, sts_xml(
                "AssumeRole", "ASIAROLE", role_secret, "role-token", T0 + 3600)

        with FakeServer(sts) as srv:
            self.env.update(
                AWS_SHARED_CREDENTIALS_FILE=self.write(
                    "credentials", f"[base]\naws_access_key_id=AKIABASE\n"
                                   f"aws_secret_access_key={base_secret}\n"),
                AWS_CONFIG_FILE=self.write(
                    "config", "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/Admin\n"
                              "source_profile = base\nrole_session_name = sess-1\n"
                              "external_id = ext-9\nregion = eu-central-1\n"),
                AWS_PROFILE="admin", AWS_ENDPOINT_URL_STS=srv.url)
            rc, objs = self.tool("--at", str(T0))
            self.assertEqual(rc, 0, objs)
            o = objs[0]
            self.assertEqual((o["source"], o["akid"]), ("assume-role", "ASIAROLE"))
            self.assertEqual(o["secret_sha256"], sha256(role_secret))
            self.assertEqual(o["token_sha256"], sha256("role-token"))
            self.assertEqual(o["expiration"], T0 + 3600)
            [req] = srv.requests
            form = urllib.parse.parse_qs(req.body.decode())
            self.assertEqual(form["RoleArn"], ["arn:aws:iam::123456789012:role/Admin"])
            self.assertEqual(form["RoleSessionName"], ["sess-1"])
            self.assertEqual(form["ExternalId"], ["ext-9"])
            self.assertEqual(form["Version"], ["2011-06-15"])
            auth = req.headers["authorization"]
            self.assertIn("Credential=AKIABASE/", auth)
            self.assertIn("/eu-central-1/sts/aws4_request", auth)
            self.assertTrue(req.headers["x-amz-date"].startswith(iso(T0)[:10].replace("-", "")))
            self.assertNotIn(base_secret, repr(req.headers))

    def test_assume_role_sts_endpoint_from_the_config_file(self):
        """docs/aws.md#endpoints: the STS call goes where the session profile's services
        section says (its sts entry), not to AWS, with no AWS_ENDPOINT_URL_STS set; the
        role's source profile does not decide."""
        base_secret, role_secret = "CANARY-BASE-SECRET-cc", "CANARY-ROLE-SECRET-dd"
        self.canaries += [base_secret, role_secret]

        def sts(req):
            return 200, {"Content-Type": "text/xml"}, sts_xml(
                "AssumeRole", "ASIACFG", role_secret, "role-token", T0 + 3600)

        with FakeServer(sts) as srv:
            self.env.update(
                AWS_SHARED_CREDENTIALS_FILE=self.write(
                    "credentials", f"[base]\naws_access_key_id=AKIABASE\n"
                                   f"aws_secret_access_key={base_secret}\n"),
                AWS_CONFIG_FILE=self.write(
                    "config", "[profile admin]\nrole_arn = arn:aws:iam::123456789012:role/A\n"
                              "source_profile = base\nregion = eu-central-1\n"
                              "services = local\n"
                              "[profile base]\nendpoint_url = http://127.0.0.1:1\n"
                              f"[services local]\nsts =\n  endpoint_url = {srv.url}\n"),
                AWS_PROFILE="admin")
            for k in [k for k in self.env if k.startswith("AWS_ENDPOINT_URL")]:
                del self.env[k]
            rc, objs = self.tool("--at", str(T0))
            self.assertEqual(rc, 0, objs)
            self.assertEqual((objs[0]["source"], objs[0]["akid"]), ("assume-role", "ASIACFG"))
            self.assertEqual(len(srv.requests), 1)

    def test_assume_role_error_is_reported_without_secrets(self):
        base_secret = "CANARY-BASE-SECRET-err"
        self.canaries.append(base_secret)
        err = ("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
               "<Message>User is not authorized to perform sts:AssumeRole</Message></Error>"
               "<RequestId>rid-9</RequestId></ErrorResponse>")
        with FakeServer(lambda req: (403, {"Content-Type": "text/xml"}, err)) as srv:
            self.env.update(
                AWS_SHARED_CREDENTIALS_FILE=self.write(
                    "credentials", f"[base]\naws_access_key_id=AKIABASE\n"
                                   f"aws_secret_access_key={base_secret}\n"),
                AWS_CONFIG_FILE=self.write(
                    "config", "[default]\nrole_arn = arn:aws:iam::1:role/R\nsource_profile = base\n"),
                AWS_ENDPOINT_URL_STS=srv.url)
            rc, [o] = self.tool()
            self.assertNotEqual(rc, 0)
            self.assertIn("AccessDenied", o["error"])
            self.assertIn("not authorized", o["error"])
            self.assertEqual(len(srv.requests), 1)  # not retryable

    def test_sts_throttling_is_retried(self):
        throttled = ("<ErrorResponse><Error><Code>Throttling</Code><Message>Rate exceeded"
                     "</Message></Error></ErrorResponse>")
        answers = [(400, {}, throttled), (503, {}, ""),
                   (200, {}, sts_xml("AssumeRole", "ASIARETRY", "s", "t", T0 + 3600))]
        with FakeServer(lambda r: answers.pop(0)) as srv:
            self.env.update(
                AWS_SHARED_CREDENTIALS_FILE=self.write(
                    "credentials", "[base]\naws_access_key_id=AKIABASE\naws_secret_access_key=b\n"),
                AWS_CONFIG_FILE=self.write(
                    "config", "[default]\nrole_arn = arn:aws:iam::1:role/R\nsource_profile = base\n"),
                AWS_ENDPOINT_URL_STS=srv.url)
            rc, [o] = self.tool()
            self.assertEqual((rc, o["akid"]), (0, "ASIARETRY"))
            self.assertEqual(len(srv.requests), 3)
            self.assertEqual(o["sleeps_ms"], [500.0, 1000.0])

    def test_web_identity_env(self):
        jwt = "CANARY-JWT-eyJhbGciOi.payload.sig"
        role_secret = "CANARY-WEBID-SECRET-cc"
        self.canaries += [jwt, role_secret]
        token_file = self.write("token", jwt + "\n")

        def sts(req):
            form = urllib.parse.parse_qs(req.body.decode())
            if form.get("Action") != ["AssumeRoleWithWebIdentity"]:
                return 400, {}, "bad"
            return 200, {}, sts_xml("AssumeRoleWithWebIdentity", "ASIAWEB", role_secret,
                                    "web-token", T0 + 900)

        with FakeServer(sts) as srv:
            self.env.update(AWS_WEB_IDENTITY_TOKEN_FILE=token_file,
                            AWS_ROLE_ARN="arn:aws:iam::1:role/Web", AWS_ROLE_SESSION_NAME="pod-1",
                            AWS_ENDPOINT_URL=srv.url)
            rc, objs = self.tool("--at", str(T0))
            self.assertEqual(rc, 0, objs)
            self.assertEqual((objs[0]["source"], objs[0]["akid"]), ("web-identity", "ASIAWEB"))
            self.assertEqual(objs[0]["secret_sha256"], sha256(role_secret))
            [req] = srv.requests
            form = urllib.parse.parse_qs(req.body.decode())
            self.assertEqual(form["WebIdentityToken"], [jwt])
            self.assertEqual(form["RoleArn"], ["arn:aws:iam::1:role/Web"])
            self.assertEqual(form["RoleSessionName"], ["pod-1"])
            self.assertNotIn("authorization", req.headers)  # the call is unsigned

    def test_role_chain_and_credential_source(self):
        """admin -> (role via) middle -> (role via) base keys; each hop is signed by the last."""
        secrets = {"AKIABASE": "CANARY-CHAIN-BASE-1", "ASIAMID": "CANARY-CHAIN-MID-2",
                   "ASIAADMIN": "CANARY-CHAIN-ADMIN-3"}
        self.canaries += list(secrets.values())
        next_of = {"AKIABASE": "ASIAMID", "ASIAMID": "ASIAADMIN", "AKIAENV": "ASIAFROMENV"}

        def sts(req):
            auth = req.headers.get("authorization", "")
            akid = auth.split("Credential=")[1].split("/")[0]
            new = next_of[akid]
            return 200, {}, sts_xml("AssumeRole", new, secrets.get(new, "x"), "tok-" + new,
                                    T0 + 3600)

        with FakeServer(sts) as srv:
            self.env.update(
                AWS_SHARED_CREDENTIALS_FILE=self.write(
                    "credentials", f"[base]\naws_access_key_id=AKIABASE\n"
                                   f"aws_secret_access_key={secrets['AKIABASE']}\n"),
                AWS_CONFIG_FILE=self.write("config", """
[profile admin]
role_arn = arn:aws:iam::1:role/Admin
source_profile = middle
[profile middle]
role_arn = arn:aws:iam::1:role/Middle
source_profile = base
[profile loop1]
role_arn = arn:aws:iam::1:role/L1
source_profile = loop2
[profile loop2]
role_arn = arn:aws:iam::1:role/L2
source_profile = loop1
[profile fromenv]
role_arn = arn:aws:iam::1:role/E
credential_source = Environment
"""),
                AWS_PROFILE="admin", AWS_ENDPOINT_URL_STS=srv.url, AWS_REGION="us-west-2")
            rc, objs = self.tool("--at", str(T0))
            self.assertEqual(rc, 0, objs)
            self.assertEqual((objs[0]["source"], objs[0]["akid"]), ("assume-role", "ASIAADMIN"))
            self.assertEqual(len(srv.requests), 2)
            second = srv.requests[1]
            self.assertIn("Credential=ASIAMID/", second.headers["authorization"])
            self.assertEqual(second.headers["x-amz-security-token"], "tok-ASIAMID")
            self.assertEqual(urllib.parse.parse_qs(second.body.decode())["RoleArn"],
                             ["arn:aws:iam::1:role/Admin"])
            # a source_profile loop is an error, not a hang
            self.env["AWS_PROFILE"] = "loop1"
            rc, [o] = self.tool()
            self.assertNotEqual(rc, 0)
            self.assertIn("too long", o["error"])
            # credential_source = Environment (env step disabled so the role is used)
            self.env.update(AWS_PROFILE="fromenv", AWS_ACCESS_KEY_ID="AKIAENV",
                            AWS_SECRET_ACCESS_KEY="CANARY-CHAIN-ENV-4")
            self.canaries.append("CANARY-CHAIN-ENV-4")
            rc, [o] = self.tool("--no-env")
            self.assertEqual((rc, o["akid"]), (0, "ASIAFROMENV"))

    def test_web_identity_from_profile(self):
        jwt = "CANARY-PROFILE-JWT-5"
        self.canaries.append(jwt)
        with FakeServer(lambda r: (200, {}, sts_xml("AssumeRoleWithWebIdentity", "ASIAPWEB",
                                                     "s", "t", T0 + 60))) as srv:
            self.env.update(AWS_CONFIG_FILE=self.write(
                "config", f"[default]\nrole_arn = arn:aws:iam::1:role/W\n"
                          f"web_identity_token_file = {self.write('jwt', jwt)}\n"),
                AWS_ENDPOINT_URL_STS=srv.url)
            rc, [o] = self.tool()
            self.assertEqual((rc, o["source"], o["akid"]), (0, "web-identity", "ASIAPWEB"))
            form = urllib.parse.parse_qs(srv.requests[0].body.decode())
            self.assertEqual(form["WebIdentityToken"], [jwt])

    # ---- IAM Identity Center (SSO) -------------------------------------------------------

    def sso_cache(self, key_source, token, expires):
        import hashlib
        d = os.path.join(self.tmp, ".aws", "sso", "cache")
        os.makedirs(d, exist_ok=True)
        name = hashlib.sha1(key_source.encode()).hexdigest() + ".json"
        with open(os.path.join(d, name), "w") as f:
            f.write('{"startUrl": "https://d-123.awsapps.com/start", "region": "eu-west-1", '
                    f'"accessToken": "{token}", "expiresAt": "{iso(expires)}", '
                    '"refreshToken": "CANARY-SSO-REFRESH"}')

    def test_sso_session_and_legacy_profiles(self):
        token, secret = "CANARY-SSO-ACCESS-TOKEN", "CANARY-SSO-SECRET"
        self.canaries += [token, secret, "CANARY-SSO-REFRESH"]

        def portal(req):
            if req.headers.get("x-amz-sso_bearer_token") != token:
                return 401, {}, '{"message":"Session token not found or invalid"}'
            q = urllib.parse.urlsplit(req.path)
            args = urllib.parse.parse_qs(q.query)
            if q.path != "/federation/credentials" or args != {"account_id": ["111122223333"],
                                                               "role_name": ["Dev Role"]}:
                return 400, {}, "{}"
            return 200, {}, ('{"roleCredentials":{"accessKeyId":"ASIASSO","secretAccessKey":"%s",'
                             '"sessionToken":"sso-tok","expiration":%d}}' % (secret, (T0 + 3600) * 1000))

        self.sso_cache("my-sso", token, T0 + 7200)
        self.sso_cache("https://d-123.awsapps.com/start", token, T0 + 7200)
        with FakeServer(portal) as srv:
            self.env.update(AWS_CONFIG_FILE=self.write("config", """
[profile dev]
sso_session = my-sso
sso_account_id = 111122223333
sso_role_name = Dev Role
[sso-session my-sso]
sso_start_url = https://d-123.awsapps.com/start
sso_region = eu-west-1
[profile legacy]
sso_start_url = https://d-123.awsapps.com/start
sso_region = eu-west-1
sso_account_id = 111122223333
sso_role_name = Dev Role
"""), AWS_ENDPOINT_URL_SSO=srv.url)
            for profile in ("dev", "legacy"):
                self.env["AWS_PROFILE"] = profile
                rc, objs = self.tool("--at", str(T0))
                self.assertEqual(rc, 0, objs)
                o = objs[0]
                self.assertEqual((o["source"], o["akid"], o["expiration"]),
                                 ("sso", "ASIASSO", T0 + 3600))
                self.assertEqual(o["secret_sha256"], sha256(secret))
            # an expired cached token is refused before any call
            n = len(srv.requests)
            rc, [o] = self.tool("--at", str(T0 + 7201))
            self.assertNotEqual(rc, 0)
            self.assertIn("aws sso login", o["error"])
            self.assertEqual(len(srv.requests), n)

    # ---- SSO token refresh (SSO OIDC CreateToken) ----------------------------------------

    SSO_CONFIG = """
[profile dev]
sso_session = my-sso
sso_account_id = 111122223333
sso_role_name = Dev
[sso-session my-sso]
sso_start_url = https://d-123.awsapps.com/start
sso_region = eu-west-1
[profile legacy]
sso_start_url = https://d-123.awsapps.com/start
sso_region = eu-west-1
sso_account_id = 111122223333
sso_role_name = Dev
"""
    OLD, NEW = "CANARY-SSO-OLD-ACCESS", "CANARY-SSO-NEW-ACCESS"
    R1, R2, CSECRET = "CANARY-SSO-REFRESH-1", "CANARY-SSO-REFRESH-2", "CANARY-SSO-CLIENT-SECRET"

    def refreshable_cache(self, expires, registration_expires, key="my-sso"):
        import hashlib
        import json
        d = os.path.join(self.tmp, ".aws", "sso", "cache")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, hashlib.sha1(key.encode()).hexdigest() + ".json")
        with open(path, "w") as f:
            json.dump({"startUrl": "https://d-123.awsapps.com/start", "region": "eu-west-1",
                       "accessToken": self.OLD, "expiresAt": iso(expires),
                       "refreshToken": self.R1, "clientId": "client-1",
                       "clientSecret": self.CSECRET,
                       "registrationExpiresAt": iso(registration_expires)}, f)
        return path

    def sso_servers(self, oidc_answer):
        """One fake for both: the OIDC /token endpoint and the portal, which takes NEW (and OLD
        when self.old_ok)."""
        self.canaries += [self.OLD, self.NEW, self.R1, self.R2, self.CSECRET, "CANARY-SSO-ROLE"]
        self.old_ok = False

        def h(req):
            if req.path == "/token":
                return oidc_answer(req)
            tok = req.headers.get("x-amz-sso_bearer_token")
            if tok != self.NEW and not (self.old_ok and tok == self.OLD):
                return 401, {}, '{"message":"Session token not found or invalid"}'
            return 200, {}, ('{"roleCredentials":{"accessKeyId":"ASIASSO","secretAccessKey":'
                             '"CANARY-SSO-ROLE","sessionToken":"t","expiration":%d}}'
                             % ((T0 + 3600) * 1000))
        srv = FakeServer(h)
        srv.__enter__()
        self.addCleanup(srv.__exit__, None, None, None)
        self.env.update(AWS_CONFIG_FILE=self.write("config", self.SSO_CONFIG),
                        AWS_ENDPOINT_URL_SSO=srv.url, AWS_ENDPOINT_URL_SSO_OIDC=srv.url,
                        AWS_PROFILE="dev")
        return srv

    def oidc_ok(self, req):
        import json
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"accessToken": self.NEW, "tokenType": "Bearer", "expiresIn": 28800,
             "refreshToken": self.R2, "idToken": "CANARY-SSO-ID-TOKEN"})

    def test_sso_endpoints_from_the_config_file(self):
        """docs/aws.md#endpoints: the OIDC refresh and the portal call go where the profile's
        services section says (sso_oidc and sso entries), with no endpoint variable set."""
        self.refreshable_cache(T0 + 600, T0 + 86400)
        srv = self.sso_servers(self.oidc_ok)
        self.canaries.append("CANARY-SSO-ID-TOKEN")
        del self.env["AWS_ENDPOINT_URL_SSO"], self.env["AWS_ENDPOINT_URL_SSO_OIDC"]
        self.env["AWS_CONFIG_FILE"] = self.write(
            "config", self.SSO_CONFIG.replace("[profile dev]\n", "[profile dev]\nservices = l\n")
            + f"[services l]\nsso =\n  endpoint_url = {srv.url}\n"
            f"sso_oidc =\n  endpoint_url = {srv.url}/\n")
        rc, [o] = self.tool("--at", str(T0))
        self.assertEqual((rc, o["source"], o["akid"]), (0, "sso", "ASIASSO"), o)
        self.assertEqual(sorted(r.path.split("?")[0] for r in srv.requests),
                         ["/federation/credentials", "/token"])

    def test_sso_token_expiring_soon_is_refreshed_and_cached(self):
        import json
        path = self.refreshable_cache(T0 + 600, T0 + 86400)  # 10 min left: within 15 min
        srv = self.sso_servers(self.oidc_ok)
        self.canaries.append("CANARY-SSO-ID-TOKEN")
        rc, [o] = self.tool("--at", str(T0))
        self.assertEqual((rc, o["source"], o["akid"]), (0, "sso", "ASIASSO"), o)
        token_reqs = [r for r in srv.requests if r.path == "/token"]
        self.assertEqual(len(token_reqs), 1)
        r = token_reqs[0]
        self.assertEqual(r.method, "POST")
        self.assertIn("application/json", r.headers["content-type"])
        self.assertNotIn("authorization", r.headers)  # unsigned, as botocore's UNSIGNED client
        self.assertEqual(json.loads(r.body), {"grantType": "refresh_token",
                                              "clientId": "client-1",
                                              "clientSecret": self.CSECRET,
                                              "refreshToken": self.R1})
        # the cache now holds what botocore writes
        with open(path) as f:
            cached = json.load(f)
        self.assertEqual(cached, {"startUrl": "https://d-123.awsapps.com/start",
                                  "region": "eu-west-1", "accessToken": self.NEW,
                                  "expiresAt": iso(T0 + 28800), "clientId": "client-1",
                                  "clientSecret": self.CSECRET,
                                  "registrationExpiresAt": iso(T0 + 86400),
                                  "refreshToken": self.R2})
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(os.listdir(os.path.dirname(path)), [os.path.basename(path)])
        # a later resolution (new process) uses the cached new token: no second refresh
        rc, [o] = self.tool("--at", str(T0 + 60))
        self.assertEqual(rc, 0, o)
        self.assertEqual(len([r for r in srv.requests if r.path == "/token"]), 1)

    def test_expired_sso_token_is_refreshed(self):
        self.refreshable_cache(T0 - 60, T0 + 86400)
        srv = self.sso_servers(self.oidc_ok)
        rc, [o] = self.tool("--at", str(T0))
        self.assertEqual((rc, o["source"]), (0, "sso"), o)
        self.assertEqual([r.path for r in srv.requests][0], "/token")

    def test_expired_sso_token_refresh_refused_says_login(self):
        path = self.refreshable_cache(T0 - 60, T0 + 86400)
        with open(path) as f:
            before = f.read()
        srv = self.sso_servers(lambda req: (400, {"Content-Type": "application/json"},
                                            '{"error":"invalid_grant","error_description":"x"}'))
        rc, [o] = self.tool("--at", str(T0))
        self.assertNotEqual(rc, 0)
        self.assertIn("SSO session expired: run `aws sso login`", o["error"])
        self.assertIn("CreateToken answered HTTP 400", o["error"])
        self.assertEqual(len(srv.requests), 1)  # no portal call with a dead token
        with open(path) as f:
            self.assertEqual(f.read(), before)

    def test_failed_refresh_keeps_a_token_still_valid(self):
        self.refreshable_cache(T0 + 300, T0 + 86400)
        srv = self.sso_servers(lambda req: (500, {}, "{}"))
        self.old_ok = True
        rc, [o] = self.tool("--at", str(T0))
        self.assertEqual((rc, o["source"]), (0, "sso"), o)
        self.assertEqual([r.path for r in srv.requests][0], "/token")

    def test_sso_calls_retry_transient_failures(self):
        """CreateToken and GetRoleCredentials retry like botocore's clients (standard mode:
        5xx and throttling, 3 attempts, jittered backoff); a 4xx is final. Counted."""
        self.refreshable_cache(T0 - 60, T0 + 86400)
        oidc = [(500, {}, "{}"), (429, {"x-amzn-ErrorType": "TooManyRequestsException"}, "{}")]
        srv = self.sso_servers(lambda req: oidc.pop(0) if oidc else self.oidc_ok(req))
        portal_fail = ["reset"]
        inner = srv.handler
        srv.handler = lambda req: (portal_fail.pop(0) if portal_fail and req.path != "/token"
                                   else inner(req))
        rc, [o] = self.tool("--at", str(T0))
        self.assertEqual((rc, o["source"]), (0, "sso"), o)
        self.assertEqual([r.path.split("?")[0] for r in srv.requests],
                         ["/token"] * 3 + ["/federation/credentials"] * 2)
        self.assertEqual(len(o["sleeps_ms"]), 3)
        self.assertEqual((o["creds_stats"]["retries"], o["creds_stats"]["throttles"]), (3, 1))
        # botocore's own clients (standard mode, sleeps patched out) ask the same of the same
        # failures
        try:
            import botocore.session
            from botocore import UNSIGNED
            from botocore.config import Config
            from unittest import mock
        except ImportError:
            return
        oidc = [(500, {}, "{}"), (429, {"x-amzn-ErrorType": "TooManyRequestsException"}, "{}")]
        portal_fail = ["reset"]
        self.old_ok = True
        boto = FakeServer(lambda req: oidc.pop(0) if req.path == "/token" and oidc
                          else portal_fail.pop(0) if req.path != "/token" and portal_fail
                          else inner(req))
        with boto, mock.patch("time.sleep"):
            cfg = Config(signature_version=UNSIGNED, retries={"mode": "standard"})
            sess = botocore.session.get_session()
            sess.create_client("sso-oidc", region_name="eu-west-1", endpoint_url=boto.url,
                               config=cfg).create_token(
                grantType="refresh_token", clientId="client-1", clientSecret=self.CSECRET,
                refreshToken=self.R1)
            sess.create_client("sso", region_name="eu-west-1", endpoint_url=boto.url,
                               config=cfg).get_role_credentials(
                roleName="R", accountId="123456789012", accessToken=self.NEW)
        self.assertEqual([r.path.split("?")[0] for r in boto.requests],
                         ["/token"] * 3 + ["/federation/credentials"] * 2)

    def test_sso_refresh_impossible_without_registration_or_session(self):
        # the client registration expired: no CreateToken, the error says why
        path = self.refreshable_cache(T0 - 60, T0 - 1)
        srv = self.sso_servers(self.oidc_ok)
        rc, [o] = self.tool("--at", str(T0))
        self.assertNotEqual(rc, 0)
        self.assertIn("SSO session expired: run `aws sso login`", o["error"])
        self.assertIn("client registration expired", o["error"])
        self.assertEqual(srv.requests, [])
        os.unlink(path)
        # a legacy profile (sso_start_url, no sso_session) never refreshes, as botocore
        self.refreshable_cache(T0 - 60, T0 + 86400, key="https://d-123.awsapps.com/start")
        self.env["AWS_PROFILE"] = "legacy"
        rc, [o] = self.tool("--at", str(T0))
        self.assertNotEqual(rc, 0)
        self.assertIn("without sso_session", o["error"])
        self.assertEqual(srv.requests, [])

    def test_sso_refresh_writes_what_botocore_writes(self):
        """botocore's own SSOTokenProvider refreshes the same cache against the same fake: the
        files it and skylog write must be equal."""
        import datetime
        import json
        from botocore import tokens
        import botocore.session
        path = self.refreshable_cache(T0 + 60, T0 + 86400)
        with open(path) as f:
            original = f.read()
        srv = self.sso_servers(self.oidc_ok)
        rc, [o] = self.tool("--at", str(T0))
        self.assertEqual(rc, 0, o)
        with open(path) as f:
            ours = json.load(f)
        with open(path, "w") as f:
            f.write(original)
        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(self.env)
            sess = botocore.session.Session(profile="dev")
            cache = tokens.JSONFileCache(os.path.dirname(path), dumps_func=tokens._sso_json_dumps)
            now = datetime.datetime.fromtimestamp(T0, tz=datetime.timezone.utc)
            prov = tokens.SSOTokenProvider(sess, cache=cache, time_fetcher=lambda: now)
            tok = prov.load_token().get_frozen_token()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.assertEqual(tok.token, self.NEW)
        with open(path) as f:
            theirs = json.load(f)
        self.assertEqual(ours, theirs)
        self.assertEqual(len([r for r in srv.requests if r.path == "/token"]), 2)

    # ---- container ----------------------------------------------------------------------

    def test_container_relative_uri_with_token_file(self):
        secret, auth = "CANARY-ECS-SECRET-dd", "CANARY-ECS-AUTH-ee"
        self.canaries += [secret, auth]

        def ecs(req):
            if req.path != "/v2/credentials/abc" or req.headers.get("authorization") != auth:
                return 401, {}, "{}"
            return 200, {}, ('{"AccessKeyId":"ASIAECS","SecretAccessKey":"%s","Token":"ecs-tok",'
                             '"Expiration":"%s","RoleArn":"arn:x"}' % (secret, iso(T0 + 1800)))

        with FakeServer(ecs) as srv:
            self.env.update(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/v2/credentials/abc",
                            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=self.write("ecs", auth + "\n"))
            rc, objs = self.tool("--container", srv.url, "--at", str(T0))
            self.assertEqual(rc, 0, objs)
            o = objs[0]
            self.assertEqual((o["source"], o["akid"], o["expiration"]),
                             ("container", "ASIAECS", T0 + 1800))
            self.assertEqual(o["secret_sha256"], sha256(secret))

    def test_container_full_uri_token_env_and_errors(self):
        auth = "CANARY-EKS-AUTH-ff"
        self.canaries.append(auth)
        calls = []

        def eks(req):
            calls.append(req.headers.get("authorization"))
            if len(calls) == 1:
                return 200, {}, '{"AccessKeyId":"ASIAEKS","SecretAccessKey":"s","Token":"t"}'
            return 500, {}, "boom"

        with FakeServer(eks) as srv:
            self.env.update(AWS_CONTAINER_CREDENTIALS_FULL_URI=srv.url + "/get-credentials",
                            AWS_CONTAINER_AUTHORIZATION_TOKEN=auth)
            rc, [o] = self.tool()
            self.assertEqual((rc, o["akid"]), (0, "ASIAEKS"))
            rc, [o] = self.tool()
            self.assertNotEqual(rc, 0)
            self.assertIn("HTTP 500", o["error"])
            self.assertEqual(calls, [auth] * 4)  # 1 + 3 attempts (botocore's fetcher)
            self.assertEqual(o["sleeps_ms"], [1000.0, 1000.0])
        # a plain-http full URI on a non-loopback host is refused
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://example.com/creds"
        rc, [o] = self.tool()
        self.assertNotEqual(rc, 0)
        self.assertIn("FULL_URI", o["error"])

    # ---- EC2 instance metadata -----------------------------------------------------------

    def imds(self, secret, v1_only=False, exp=T0 + 3600):
        state = {"tokens": 0, "creds": 0}
        token = "imds-session-token-1"

        def handler(req):
            if req.method == "PUT" and req.path == "/latest/api/token":
                if v1_only:
                    return 403, {}, ""
                if req.headers.get("x-aws-ec2-metadata-token-ttl-seconds") != "21600":
                    return 400, {}, ""
                state["tokens"] += 1
                return 200, {}, token
            if not v1_only and req.headers.get("x-aws-ec2-metadata-token") != token:
                return 401, {}, ""
            if req.path == "/latest/meta-data/iam/security-credentials/":
                return 200, {}, "my-role\n"
            if req.path == "/latest/meta-data/iam/security-credentials/my-role":
                state["creds"] += 1
                return 200, {}, ('{"Code":"Success","LastUpdated":"%s","Type":"AWS-HMAC",'
                                 '"AccessKeyId":"ASIAIMDS%d","SecretAccessKey":"%s",'
                                 '"Token":"imds-tok","Expiration":"%s"}'
                                 % (iso(T0), state["creds"], secret, iso(exp)))
            return 404, {}, ""

        return handler, state

    def test_imdsv2_and_refresh_before_expiry(self):
        secret = "CANARY-IMDS-SECRET-11"
        self.canaries.append(secret)
        handler, state = self.imds(secret)
        with FakeServer(handler) as srv:
            del self.env["AWS_EC2_METADATA_DISABLED"]
            self.env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = srv.url
            rc, objs = self.tool("--at", str(T0), "--at", str(T0 + 3600 - 301),
                                 "--at", str(T0 + 3600 - 299))
            self.assertEqual(rc, 0, objs)
            self.assertEqual([o["akid"] for o in objs], ["ASIAIMDS1", "ASIAIMDS1", "ASIAIMDS2"])
            self.assertEqual(objs[0]["source"], "imds")
            self.assertEqual(objs[0]["secret_sha256"], sha256(secret))
            self.assertEqual(state, {"tokens": 2, "creds": 2})
            methods = [(r.method, r.path) for r in srv.requests[:3]]
            self.assertEqual(methods, [("PUT", "/latest/api/token"),
                                       ("GET", "/latest/meta-data/iam/security-credentials/"),
                                       ("GET", "/latest/meta-data/iam/security-credentials/my-role")])

    def test_imds_v1_fallback_and_v1_disabled(self):
        secret = "CANARY-IMDS-V1-22"
        self.canaries.append(secret)
        handler, state = self.imds(secret, v1_only=True)
        with FakeServer(handler) as srv:
            del self.env["AWS_EC2_METADATA_DISABLED"]
            rc, [o] = self.tool("--imds", srv.url)
            self.assertEqual((rc, o["akid"]), (0, "ASIAIMDS1"))
            self.assertTrue(all("x-aws-ec2-metadata-token" not in r.headers
                                for r in srv.requests if r.method == "GET"))
            self.env["AWS_EC2_METADATA_V1_DISABLED"] = "true"
            rc, [o] = self.tool("--imds", srv.url)
            self.assertNotEqual(rc, 0)
            self.env["AWS_EC2_METADATA_DISABLED"] = "true"
            del self.env["AWS_EC2_METADATA_V1_DISABLED"]
            n = len(srv.requests)
            rc, [o] = self.tool("--imds", srv.url)
            self.assertNotEqual(rc, 0)
            self.assertEqual(len(srv.requests), n)  # disabled: not even asked

    def test_imds_server_error_means_no_credentials(self):
        """A metadata service that answers 500 gives no credentials (the stale-but-valid rule is
        covered by tests/unit/test_aws_creds.c with a fake clock)."""
        handler, state = self.imds("CANARY-IMDS-ERR-33")
        self.canaries.append("CANARY-IMDS-ERR-33")
        with FakeServer(lambda req: (500, {}, "")) as srv:
            del self.env["AWS_EC2_METADATA_DISABLED"]
            rc, [o] = self.tool("--imds", srv.url)
            self.assertNotEqual(rc, 0)
            self.assertEqual(o["source"], "none")

    def test_imds_num_attempts_env(self):
        handler, state = self.imds("CANARY-IMDS-RETRY-44")
        self.canaries.append("CANARY-IMDS-RETRY-44")
        failures = {"left": 1}

        def flaky(req):
            if req.method == "GET" and failures["left"]:
                failures["left"] -= 1
                return 503, {}, ""
            return handler(req)

        with FakeServer(flaky) as srv:
            del self.env["AWS_EC2_METADATA_DISABLED"]
            rc, [o] = self.tool("--imds", srv.url)
            self.assertNotEqual(rc, 0)  # one attempt by default
            failures["left"] = 1
            self.env["AWS_METADATA_SERVICE_NUM_ATTEMPTS"] = "2"
            rc, [o] = self.tool("--imds", srv.url)
            self.assertEqual((rc, o["source"]), (0, "imds"))

    def test_chain_order_profile_before_container(self):
        with FakeServer(lambda r: (200, {}, '{"AccessKeyId":"ASIAECS","SecretAccessKey":"s"}')) as srv:
            self.env.update(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI="/c",
                            AWS_SHARED_CREDENTIALS_FILE=self.write(
                                "credentials", "[default]\naws_access_key_id=AKIAFILE\n"
                                               "aws_secret_access_key=f\n"))
            rc, [o] = self.tool("--container", srv.url)
            self.assertEqual((o["source"], o["akid"]), ("profile", "AKIAFILE"))
            rc, [o] = self.tool("--container", srv.url, "--no-files")
            self.assertEqual((o["source"], o["akid"]), ("container", "ASIAECS"))


if __name__ == "__main__":
    unittest.main()
