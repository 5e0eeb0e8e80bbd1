"""Small fakes for the AWS-layer integration tests: HTTP servers on 127.0.0.1 (port 0, picked by
the OS) written with http.server, and a runner for tests/tools/sky_aws_tool.

Every server records the requests it saw and is stopped by the test that started it
(use it as a context manager)."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
# the server's own stall: a test that patches time.sleep (to skip a client's backoff) must not
# turn a stall into an immediate close
_real_sleep = time.sleep
TOOL = os.path.join(BUILD, "tests", "tools", "sky_aws_tool")


class Request:
    def __init__(self, method, path, headers, body, peer=None):
        self.peer = peer  # (host, port) of the client connection
        self.method = method
        self.path = path
        self.headers = headers  # dict with lower-case names
        self.body = body


class FakeServer:
    """handler(req) -> (status, headers_dict, body_bytes) or the string "reset" (close the
    connection without answering) or ("stall", seconds)."""

    def __init__(self, handler, tls=None):
        """tls: optional (certfile, keyfile) to serve https."""
        self.handler = handler
        self.requests = []
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = Request(self.command, self.path,
                              {k.lower(): v for k, v in self.headers.items()}, body,
                              self.client_address)
                fake.requests.append(req)
                ans = fake.handler(req)
                if ans == "reset":
                    # SO_LINGER 0: the client sees a connection reset, not a clean close
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    return
                if isinstance(ans, tuple) and ans[0] == "stall":
                    _real_sleep(ans[1])
                    self.close_connection = True
                    return
                status, headers, payload = ans
                if isinstance(payload, str):
                    payload = payload.encode()
                self.send_response_only(status)
                if not any(k.lower() == "date" for k in headers):
                    self.send_header("Date", self.date_time_string())
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = _any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.url = f"https://localhost:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def base_env(home):
    """A clean environment: no AWS variables from the machine, IMDS off unless a test turns it on."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home,
           "AWS_EC2_METADATA_DISABLED": "true", "no_proxy": "*"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "TSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


def fake_aws_setup(test, prefix):
    """For a test of the skylog command against a FakeServer: a temporary directory (removed
    at cleanup) as test.tmp, and as test.env base_env() of it with static keys, a region and no
    config file."""
    test.tmp = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, test.tmp, ignore_errors=True)
    test.env = base_env(test.tmp)
    test.env.update(AWS_ACCESS_KEY_ID="AKIAFAKE", AWS_SECRET_ACCESS_KEY="s",
                    AWS_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull)


def run_tool(args, env, timeout=60):
    """Runs sky_aws_tool; returns (returncode, [json objects], all output text)."""
    p = subprocess.run([TOOL] + args, env=env, capture_output=True, timeout=timeout)
    out = p.stdout.decode(errors="replace")
    err = p.stderr.decode(errors="replace")
    objs = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return p.returncode, objs, out + err


def sha256(s):
    import hashlib
    return hashlib.sha256(s.encode()).hexdigest()


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def botocore_signature_ok(req, secret, region, service):
    """Re-signs a received request with botocore (same time, same signed headers, same body) and
    says whether its Authorization matches: the wire-level proof that what curl sent is what
    skylog signed. Returns None when botocore is not installed."""
    try:
        import datetime
        from unittest import mock
        import botocore.auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
    except ImportError:
        return None
    auth = req.headers["authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    akid = auth.split("Credential=")[1].split("/")[0]
    url = "http://" + req.headers["host"] + req.path
    headers = {k: v for k, v in req.headers.items()
               if k in signed and k not in ("host", "x-amz-date", "x-amz-security-token")}
    r = AWSRequest(method=req.method, url=url, data=req.body, headers=headers)
    token = req.headers.get("x-amz-security-token")
    signer = botocore.auth.SigV4Auth(Credentials(akid, secret, token), service, region)
    when = datetime.datetime.strptime(req.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(r)
    return r.headers["Authorization"] == auth
