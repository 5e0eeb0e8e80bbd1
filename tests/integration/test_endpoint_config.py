"""Endpoints from the AWS shared config file (src/aws/endpoint.c), as botocore reads them.

- EndToEnd: `skylog ship` and `skylog groups` reach a `skylog serve` this test started, told of
  it only by a config file (a profile's endpoint_url; a [services NAME] section named by the
  profile AWS_PROFILE selects), with no endpoint variable and no region set.
- BotocoreOracle: for the same temporary config/credentials files and environment, botocore's
  client.meta.endpoint_url (the independent oracle) and the endpoint skylog's client resolves
  (examples/aws_call.c prints it before calling) agree, for every service skylog calls: Logs,
  CloudWatch, STS, SSO, SSO OIDC. Skipped, saying so, when botocore is not importable.
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

import skyharness as sh

# botocore client name -> skylog's service (signing name)
SERVICES = {"logs": "logs", "cloudwatch": "monitoring", "sts": "sts", "sso": "sso",
            "sso-oidc": "sso-oidc"}

ALL_SERVICES = """[default]
endpoint_url = http://127.0.0.1:1/profile
services = local
[services local]
cloudwatch_logs =
  endpoint_url = http://127.0.0.1:1/services-logs
cloudwatch =
  endpoint_url = http://127.0.0.1:1/services-cloudwatch
sts =
  endpoint_url = http://127.0.0.1:1/services-sts
sso =
  endpoint_url = http://127.0.0.1:1/services-sso
sso_oidc =
  endpoint_url = http://127.0.0.1:1/services-sso-oidc
"""

ODD = ("[default]\r\n"
       "Services=  odd  \r\n"
       "[services   odd\t]\r\n"
       "# a comment line\r\n"
       "CloudWatch_Logs\t=   \r\n"
       "\t# an indented comment inside the value\r\n"
       "\r\n"
       "     region = us-west-2\r\n"
       "  ; another comment\r\n"
       "\t endpoint_url\t=\thttp://127.0.0.1:1/odd-logs  \r\n"
       "  Endpoint_URL = http://127.0.0.1:1/case-matters\r\n"
       "sts =\n"
       "  endpoint_url = http://127.0.0.1:1/first\n"
       "  endpoint_url=http://127.0.0.1:1/last-wins\n"
       "sso_oidc =\n"
       "  endpoint_url =\n")

NAMED = """[default]
services = prod
[profile   dev]
services = local
endpoint_url = http://127.0.0.1:1/dev-profile
[services prod]
cloudwatch_logs =
  endpoint_url = https://prod.example
[services local]
cloudwatch_logs =
  endpoint_url = http://127.0.0.1:1/dev-logs
"""

# (name, config file, credentials file, environment)
CASES = [
    ("services section", ALL_SERVICES, "", {}),
    ("global variable over the file", ALL_SERVICES, "",
     {"AWS_ENDPOINT_URL": "http://127.0.0.1:1/global-env"}),
    ("service variables over the global one", ALL_SERVICES, "",
     {"AWS_ENDPOINT_URL": "http://127.0.0.1:1/global-env",
      "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": "http://127.0.0.1:1/env-logs",
      "AWS_ENDPOINT_URL_CLOUDWATCH": "http://127.0.0.1:1/env-cloudwatch",
      "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1/env-sts",
      "AWS_ENDPOINT_URL_SSO_OIDC": "http://127.0.0.1:1/env-oidc"}),
    ("an empty variable is no setting", ALL_SERVICES, "",
     {"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": ""}),
    ("ignore flag from the variable", ALL_SERVICES, "",
     {"AWS_ENDPOINT_URL": "http://127.0.0.1:1/global-env",
      "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE"}),
    ("ignore flag from the profile", "[default]\nignore_configured_endpoint_urls = true\n"
     + ALL_SERVICES.split("\n", 1)[1], "",
     {"AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1/env-sts"}),
    ("the variable false overrides the profile's true",
     "[default]\nignore_configured_endpoint_urls = true\n" + ALL_SERVICES.split("\n", 1)[1], "",
     {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"}),
    ("the variable empty overrides the profile's true",
     "[default]\nignore_configured_endpoint_urls = true\n" + ALL_SERVICES.split("\n", 1)[1], "",
     {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": ""}),
    ("no entry for a service: the profile's endpoint_url",
     "[default]\nendpoint_url = http://127.0.0.1:1/profile\nservices = s\n[services s]\n"
     "sts =\n  endpoint_url = http://127.0.0.1:1/services-sts\n", "", {}),
    ("the signing name is not the key",
     "[default]\nservices = s\n[services s]\nlogs =\n  endpoint_url = http://127.0.0.1:1/no\n"
     "monitoring =\n  endpoint_url = http://127.0.0.1:1/no\n", "", {}),
    ("odd white space and comments", ODD, "", {}),
    ("a space before the header's kind", "[default]\nservices = odd\n[ services odd ]\n"
     "cloudwatch_logs =\n  endpoint_url = http://127.0.0.1:1/a\n", "", {}),
    ("spaces around default", "[ default ]\nendpoint_url = http://127.0.0.1:1/a\n", "", {}),
    ("default profile", NAMED, "", {}),
    ("AWS_PROFILE selects the services section", NAMED, "", {"AWS_PROFILE": "dev"}),
    ("missing services section", "[profile dev]\nservices = nowhere\n"
     "endpoint_url = http://127.0.0.1:1/p\n", "", {"AWS_PROFILE": "dev"}),
    ("missing services section, variables first", "[profile dev]\nservices = nowhere\n", "",
     {"AWS_PROFILE": "dev", "AWS_ENDPOINT_URL": "http://127.0.0.1:1/global-env"}),
    ("credentials file over the config file",
     "[default]\nendpoint_url = http://127.0.0.1:1/config\n",
     "[default]\nendpoint_url = http://127.0.0.1:1/creds\n", {}),
    ("nothing configured", "[default]\nregion = us-east-1\n", "", {}),
]


def docs_example():
    """The ini block of docs/aws.md's Endpoints section: the oracle checks what it promises."""
    src = os.environ.get("SKYLOG_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "..", "..")
    with open(os.path.join(src, "docs", "aws.md")) as f:
        text = f.read()
    section = text.split("## Endpoints", 1)[1]
    return section.split("```ini\n", 1)[1].split("```", 1)[0]


CASES.append(("docs/aws.md's example", docs_example(), "", {"AWS_PROFILE": "local"}))

BOTOCORE = r"""
import json
import botocore.session
out = {}
for name in %r:
    try:
        c = botocore.session.Session().create_client(
            name, region_name="us-east-1", aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret")
        out[name] = c.meta.endpoint_url
    except Exception as e:
        out[name] = "error: %%s: %%s" %% (type(e).__name__, e)
print(json.dumps(out))
""" % (list(SERVICES),)


def have_botocore():
    try:
        import botocore  # noqa: F401
        return True
    except ImportError:
        return False


class Files:
    """A config and a credentials file in a fresh directory; env() is a clean environment
    (no AWS_ variable from the machine) naming them."""

    def __init__(self, test, config, creds=""):
        d = tempfile.TemporaryDirectory(prefix="skyendpoint")
        test.addCleanup(d.cleanup)
        self.config = os.path.join(d.name, "config")
        self.creds = os.path.join(d.name, "credentials")
        with open(self.config, "w", newline="") as f:
            f.write(config)
        with open(self.creds, "w", newline="") as f:
            f.write(creds)
        self.home = d.name

    def env(self, extra=None, server=None):
        env = sh.aws_env(server)
        env.pop("AWS_DEFAULT_REGION", None)
        env.update({"AWS_CONFIG_FILE": self.config, "AWS_SHARED_CREDENTIALS_FILE": self.creds,
                    "HOME": self.home})
        env.update(extra or {})
        return env


class EndToEnd(unittest.TestCase):
    """Only the config file says where `skylog serve` is."""

    def setUp(self):
        self.srv = sh.start_server(self)

    def ship_and_list(self, env, group):
        p = subprocess.run([sh.skylog_bin(), "ship", "--group", group], input="hello\n",
                           capture_output=True, text=True, env=env,
                           timeout=120 * sh.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        p = subprocess.run([sh.skylog_bin(), "groups"], capture_output=True, text=True, env=env,
                           timeout=120 * sh.timeout_scale())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(group, p.stdout)
        # what the server stored, asked without skylog's endpoint logic
        r = sh.logs_call(self.srv, "FilterLogEvents", {"logGroupName": group})
        self.assertEqual([e["message"] for e in r.json["events"]], ["hello"])

    def test_profile_endpoint_url_no_region(self):
        f = Files(self, f"[default]\nendpoint_url = {self.srv.url}\n")
        self.ship_and_list(f.env(server=self.srv), "/cfg/profile")

    def test_services_section_of_a_named_profile(self):
        f = Files(self, "[default]\nendpoint_url = http://127.0.0.1:1\n"
                        "[profile dev]\nregion = eu-west-1\nservices = local\n"
                        "[services local]\ncloudwatch_logs =\n"
                        f"  endpoint_url = {self.srv.url}/\n")
        self.ship_and_list(f.env({"AWS_PROFILE": "dev"}, server=self.srv), "/cfg/services")

    def test_missing_services_section_is_an_error(self):
        f = Files(self, "[default]\nservices = nowhere\n")
        p = subprocess.run([sh.skylog_bin(), "groups"], capture_output=True, text=True,
                           env=f.env(server=self.srv), timeout=60 * sh.timeout_scale())
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('names services section "nowhere"', p.stderr)


@unittest.skipUnless(have_botocore(), "botocore is not importable: the oracle is absent")
class BotocoreOracle(unittest.TestCase):
    def setUp(self):
        build = os.environ.get("SKYLOG_BUILD_DIR") or os.path.dirname(sh.skylog_bin())
        self.example = os.path.join(build, "example_aws_call")
        if not os.access(self.example, os.X_OK):
            self.skipTest(f"{self.example} is not built (the examples print the endpoint)")

    def skylog(self, service, env):
        """The endpoint skylog's client resolves, or "error: why"."""
        p = subprocess.Popen([self.example, "Op.Name", "{}", service], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stderr.readline()
        finally:
            p.kill()  # it is about to call that endpoint: it need not
            p.communicate()
        if line.startswith("calling Op.Name at "):
            return line[len("calling Op.Name at "):].rsplit(" (", 1)[0]
        return "error: " + line.strip()

    def test_same_endpoint_as_botocore(self):
        for name, config, creds, extra in CASES:
            f = Files(self, config, creds)
            env = f.env(dict(extra, AWS_REGION="us-east-1"))
            p = subprocess.run([sys.executable, "-c", BOTOCORE], env=env, capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
            boto = json.loads(p.stdout)
            for client, service in SERVICES.items():
                with self.subTest(case=name, service=client):
                    want, got = boto[client], self.skylog(service, env)
                    if want.startswith("error"):
                        self.assertTrue(got.startswith("error"), (want, got))
                    elif ".amazonaws.com" in want:
                        # nothing configured: AWS itself (the SSO clients' default hosts are
                        # the credential provider's, not the generic client's)
                        self.assertIn(".amazonaws.com", got, want)
                        if client in ("logs", "cloudwatch", "sts"):
                            self.assertEqual(got, want.rstrip("/"))
                    else:
                        self.assertEqual(got, want.rstrip("/"))

    def test_docs_example_says_what_it_does(self):
        """docs/aws.md: Logs to 4566, STS to 4567, the rest to the profile's endpoint_url."""
        f = Files(self, docs_example())
        env = f.env({"AWS_PROFILE": "local"})
        self.assertEqual(self.skylog("logs", env), "http://127.0.0.1:4566")
        self.assertEqual(self.skylog("sts", env), "http://127.0.0.1:4567")
        self.assertEqual(self.skylog("monitoring", env), "http://127.0.0.1:4566")
        self.assertEqual(self.skylog("sso", env), "http://127.0.0.1:4566")


if __name__ == "__main__":
    unittest.main()
