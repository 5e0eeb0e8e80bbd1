"""skyharness - start `skylog serve` for a test and talk to it.

Shared by every integration test that needs a CloudWatch-compatible endpoint (the serve tests,
the CLI tests, the library end-to-end tests). Everything a test starts is stopped by the
test's cleanups, also when the test fails, and servers only ever bind 127.0.0.1 on a port the
kernel picks (--port 0).

Typical use::

    import unittest, skyharness

    class MyTest(unittest.TestCase):
        def test_put(self):
            srv = skyharness.start_server(self)              # --auth none, fresh data dir
            logs = skyharness.boto3_client(self, srv, "logs")  # skips the test without boto3
            logs.create_log_group(logGroupName="g")
            out = skyharness.aws(self, srv, "logs", "describe-log-groups")  # the AWS CLI
            self.assertEqual(out["logGroups"][0]["logGroupName"], "g")

Environment (set by ctest, see tests/CMakeLists.txt):
    SKYLOG_BIN        path of the `skylog` binary (else build/asan, build/debug, ... are tried;
                      build/tsan when SKYLOG_SANITIZE=thread)
    SKYLOG_BUILD_DIR  the build tree, SKYLOG_SOURCE_DIR the source tree
    SKYLOG_SANITIZE   "address" (ASan+UBSan) or "thread" (TSan) when the binaries are a
                      sanitizer build: timeouts are relaxed; under TSan reports go to files
                      the harness checks (see "sanitizer reports" below)

API summary:
    skylog_bin()                      -> path of the binary (raises unittest.SkipTest if none)
    start_server(test, **kw)          -> Server, started, stopped by test.addCleanup; the
                                         cleanup fails the test if the server exited non-zero
                                         (crash, ASan/UBSan report) or wrote a TSan report
    start_class_server(cls, **kw)     -> the same for a whole TestCase class (call it from
                                         setUpClass; stopped by cls.addClassCleanup)
    Server(auth="none"|"sigv4", data_dir=None, extra_args=(), access_key=, secret_key=,
           bearer_token=None, env=None, verbose=True)
                                      .start() .stop() -> exit code  .restart() .cleanup()
                                      .url .port .data_dir .stderr_text() .access_key
                                      .secret_key
    aws_env(server)                   -> env dict for the AWS CLI/boto3: the server's key pair,
                                         us-east-1, no user config files, one attempt
    endpoint_env(server)              -> aws_env plus AWS_ENDPOINT_URL(_CLOUDWATCH_LOGS,
                                         _CLOUDWATCH) and AWS_REGION: for programs using the
                                         skylog library or the skylog CLI
    run_skylog(test, *args, server=None, input=None, check=True, env=None)
                                      -> CompletedProcess of the `skylog` binary (text mode),
                                         with endpoint_env(server) when a server is given
    aws(test, server, service, *args, expect_error=None, env=None)
                                      -> parsed JSON output of `aws --endpoint-url ...`;
                                         with expect_error="Code", asserts the CLI failed with
                                         that error code and returns stderr
    boto3_client(test, server, service, **config) -> a boto3 client aimed at the server
    raw_request(server, method, path, body, headers, sign=None, clock_skew_s=0)
                                      -> Response(status, headers, body, .json, .error_type);
                                         sign="logs" or "monitoring" signs it with botocore's
                                         SigV4Auth (the reference), optionally with a skewed
                                         clock; connection drops raise ConnectionError
    logs_call(server, op, payload, sign=True) -> Response for an awsJson1.1 Logs call
    now_ms()                          -> current time in epoch milliseconds
    signal_taken(proc, sig)           -> True once sig, sent to proc, is no longer pending
                                         (its handler took it), or proc is gone
    open_fifo_writer(test, proc, fifo)  -> the FIFO's write end, once proc reads it
    wait_for(pred, what)              -> returns once pred() is true (scaled deadline)
    sanitizer(), sanitized(), timeout_scale() -> the build's sanitizer, what deadlines scale by
    take_sanitizer_reports(pid=None)  -> TSan report text of one process (or all), removed
"""

import atexit
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

DEFAULT_ACCESS_KEY = "skylogtest"
DEFAULT_SECRET_KEY = "skylogtest"
REGION = "us-east-1"


def sanitizer():
    """The sanitizer the binaries under test are built with: "address" (ASan+UBSan), "thread"
    (TSan) or "" (none)."""
    s = os.environ.get("SKYLOG_SANITIZE", "")
    return "" if s == "OFF" else s


def sanitized():
    """True when the binary under test is built with a sanitizer (slower start, more memory)."""
    return sanitizer() != ""


def timeout_scale():
    """What deadlines are multiplied by: a sanitized build is slower, TSan (5-15x, more on a
    loaded machine) much slower than ASan. Deadlines only bound a wait for what must happen,
    so a generous one costs nothing when the test passes."""
    return {"": 1.0, "thread": 10.0}.get(sanitizer(), 3.0)


# -- sanitizer reports ------------------------------------------------------------------------
# ASan and UBSan reports make a process exit non-zero, which the tests check. A TSan report is
# written where the process was (stderr a test may not read, or a process the test SIGKILLs
# on purpose), so under TSan every process writes its reports to files instead: TSAN_OPTIONS
# gets log_path=<dir>/report (TSan appends ".<pid>"), set here before any test starts a
# process, and inherited by every process the tests start (environments are built from
# os.environ). The files are checked by the Server that started the process, by run_skylog,
# and, for every other process (a ship the test ran itself, a library tool), after each test:
# importing skyharness under TSan makes every test's last cleanup a check, so a report written
# while a test ran (its other cleanups included) fails that test, with the report's text.
_REPORT_DIR = None


def _tsan_setup():
    global _REPORT_DIR
    if sanitizer() != "thread" or _REPORT_DIR:
        return
    _REPORT_DIR = tempfile.mkdtemp(prefix="skytsan-")
    atexit.register(shutil.rmtree, _REPORT_DIR, True)
    src = os.environ.get("SKYLOG_SOURCE_DIR") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))
    opts = [os.environ.get("TSAN_OPTIONS", ""), f"log_path={_REPORT_DIR}/report"]
    supp = os.path.join(src, "tests", "tsan.supp")
    if os.path.exists(supp):
        opts.append(f"suppressions={supp}")
    os.environ["TSAN_OPTIONS"] = " ".join(filter(None, opts))

    run = unittest.TestCase.run

    def check():
        text = take_sanitizer_reports()
        if text:
            raise AssertionError(f"ThreadSanitizer reports from a process this test "
                                 f"started:\n{text[:20000]}")

    def run_and_check(self, result=None):
        self.addCleanup(check)  # the first cleanup runs last: after the test's own cleanups
        return run(self, result)

    unittest.TestCase.run = run_and_check
    unittest.addModuleCleanup(_module_reports)  # what a class or module fixture left


def take_sanitizer_reports(pid=None):
    """Text of the TSan reports written so far by process `pid` (by any process if None), and
    removes them (each is reported once). "" when there are none or the build is not TSan."""
    if not _REPORT_DIR:
        return ""
    out = []
    for name in sorted(os.listdir(_REPORT_DIR)):
        if pid is not None and name != f"report.{pid}":
            continue
        path = os.path.join(_REPORT_DIR, name)
        with open(path, "rb") as f:
            out.append(f"--- {name} ---\n" + f.read().decode(errors="replace"))
        os.unlink(path)
    return "\n".join(out)


def _module_reports():
    text = take_sanitizer_reports()
    if text:
        raise AssertionError(f"ThreadSanitizer reports from a process these tests started:\n"
                             f"{text[:20000]}")


_tsan_setup()


def skylog_bin():
    """The skylog binary: $SKYLOG_BIN, else the first build tree that has one."""
    path = os.environ.get("SKYLOG_BIN")
    if path:
        if not os.access(path, os.X_OK):
            raise unittest.SkipTest(f"SKYLOG_BIN={path} is not an executable")
        return path
    src = os.environ.get("SKYLOG_SOURCE_DIR") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))
    # the build the sanitizer setting names first: TSan runs must not test an ASan binary
    for preset in ("tsan",) if sanitizer() == "thread" else ("asan", "debug", "release"):
        cand = os.path.join(src, "build", preset, "skylog")
        if os.access(cand, os.X_OK):
            return cand
    raise unittest.SkipTest("no skylog binary: build it (cmake --preset asan && "
                            "cmake --build build/asan) or set SKYLOG_BIN")


def now_ms():
    return int(time.time() * 1000)


def signal_taken(proc, sig):
    """True once `sig`, sent to proc, is no longer pending: a thread of proc took it (its
    handler ran, or its default action) - a second one sent now is a second delivery, not
    merged into the first. True as well when proc is gone."""
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            status = f.read()
    except FileNotFoundError:
        return True
    pending = 0
    for line in status.splitlines():
        if line.startswith(("SigPnd:", "ShdPnd:")):
            pending |= int(line.split()[1], 16)
    return not pending & (1 << (sig - 1))


def wait_for(pred, what):
    """Waits until pred() is true; AssertionError naming `what` if it is not within the
    deadline (which only bounds a wait for what must happen: it scales with timeout_scale())."""
    deadline = time.monotonic() + 60 * timeout_scale()
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def open_fifo_writer(test, proc, fifo, what="the FIFO"):
    """Opens the write end of `fifo` (non-blocking) once `proc` has it open for reading - the
    open succeeds only then (ENXIO before) - and returns the descriptor (the caller closes it).
    Holding it open keeps proc's read of the FIFO waiting: a test knows, without timing, that
    proc has reached that read. Fails the test if proc exits first."""
    deadline = time.monotonic() + 60 * timeout_scale()
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            if proc.poll() is not None:
                test.fail(f"exited before opening {what}: {proc.communicate()}")
            if time.monotonic() > deadline:
                test.fail(f"{what} was never opened")
            time.sleep(0.02)


class Server:
    """One `skylog serve` process.

    auth: "none" (default) or "sigv4". data_dir: reused when given (persistence tests), else a
    fresh temporary directory removed at cleanup(). extra_args: more command-line options
    (["--faults", "throttle=0.5", "--seed", "7"]). verbose: run with -v, so stderr_text() has
    one line per request (handy in failure messages). env: extra environment variables.
    """

    def __init__(self, auth="none", data_dir=None, extra_args=(), access_key=DEFAULT_ACCESS_KEY,
                 secret_key=DEFAULT_SECRET_KEY, bearer_token=None, env=None, verbose=True):
        self.auth = auth
        self.access_key = access_key
        self.secret_key = secret_key
        self.bearer_token = bearer_token
        self.extra_args = list(extra_args)
        self._own_dir = data_dir is None
        self._tmp = tempfile.mkdtemp(prefix="skyserve-")
        self.data_dir = data_dir or os.path.join(self._tmp, "data")
        self.env = env
        self.verbose = verbose
        self.proc = None
        self.pids = []  # of every process start() started (restart() starts another)
        self.url = None
        self.port = None
        self._stderr_path = os.path.join(self._tmp, "stderr.log")
        self._stderr = None

    # -- lifecycle --------------------------------------------------------------------------
    def command(self):
        cmd = [skylog_bin(), "serve", "--host", "127.0.0.1", "--port", "0",
               "--data", self.data_dir, "--auth", self.auth]
        if self.auth == "sigv4":
            cmd += ["--access-key", self.access_key, "--secret-key", self.secret_key]
        if self.bearer_token:
            cmd += ["--bearer-token", self.bearer_token]
        if self.verbose:
            cmd.append("--verbose")
        return cmd + self.extra_args

    def start(self, timeout=None):
        """Starts the server and waits for the URL line. Raises RuntimeError if it does not
        come (the server's stderr is in the message)."""
        timeout = timeout or 20 * timeout_scale()
        env = dict(os.environ)
        env.update(self.env or {})
        self._stderr = open(self._stderr_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.PIPE,
                                     stderr=self._stderr, stdin=subprocess.DEVNULL, env=env)
        self.pids.append(self.proc.pid)
        deadline = time.monotonic() + timeout
        line = b""
        # The first stdout line is the URL, flushed by the server; readline() blocks, so watch
        # for an early exit with a poll loop on a non-blocking read.
        os.set_blocking(self.proc.stdout.fileno(), False)
        while not line.endswith(b"\n"):
            if self.proc.poll() is not None:
                raise RuntimeError(f"skylog serve exited with {self.proc.returncode}: "
                                   f"{self.stderr_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"skylog serve printed no URL in {timeout}s: "
                                   f"{self.stderr_text()}")
            chunk = self.proc.stdout.read(4096)
            if chunk:
                line += chunk
            else:
                time.sleep(0.01)
        self.url = line.decode().splitlines()[0].strip()
        self.port = urllib.parse.urlsplit(self.url).port
        return self

    def stop(self, timeout=None):
        """SIGTERM, wait, SIGKILL as a last resort. Returns the exit code (None if it was not
        running). Safe to call twice."""
        timeout = timeout or 20 * timeout_scale()
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
        elif self.proc:
            rc = self.proc.returncode
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if self._stderr:
            self._stderr.close()
            self._stderr = None
        self.proc = None
        return rc

    def restart(self):
        """Stops and starts again on the same data directory (the port may change)."""
        rc = self.stop()
        self.start()
        return rc

    def cleanup(self):
        """Stops the server and removes its temporary files. Raises AssertionError when the
        server did not exit cleanly (a crash, or a sanitizer report: ASan/UBSan make the exit
        code non-zero; a TSan report is read from its file, see take_sanitizer_reports), with
        the end of its stderr, so such bugs fail the test that found them."""
        rc = self.stop()
        err = self.stderr_text()
        shutil.rmtree(self._tmp, ignore_errors=True)
        reports = "".join(take_sanitizer_reports(pid) for pid in self.pids)
        if reports:
            raise AssertionError(f"skylog serve (exit {rc}) has ThreadSanitizer reports:\n"
                                 f"{reports[:20000]}\nits stderr:\n{err[-2000:]}")
        if rc not in (0, None):
            raise AssertionError(f"skylog serve exited with {rc}:\n{err[-4000:]}")

    def stderr_text(self):
        try:
            with open(self._stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


def start_server(test, **kw):
    """Starts a Server for `test` and registers its cleanup (runs even if the test fails).
    Keyword arguments are Server's."""
    srv = Server(**kw)
    test.addCleanup(srv.cleanup)
    srv.start()
    return srv


def start_class_server(cls, **kw):
    """As start_server, for one server shared by every test of a TestCase class: call it from
    setUpClass; the class cleanup stops it after the class's last test."""
    srv = Server(**kw)
    cls.addClassCleanup(srv.cleanup)
    srv.start()
    return srv


# -- AWS CLI ----------------------------------------------------------------------------------

def aws_env(server=None, access_key=None, secret_key=None):
    """Environment for the AWS CLI / boto3: the server's key pair (or dummies), us-east-1, no
    user config, credentials or profile leaking in from the machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": access_key or (server.access_key if server else DEFAULT_ACCESS_KEY),
        "AWS_SECRET_ACCESS_KEY": secret_key or (server.secret_key if server
                                                else DEFAULT_SECRET_KEY),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
    })
    return env


def endpoint_env(server):
    """Environment for programs that use the skylog library or CLI against the server: the AWS
    variables of aws_env() plus the endpoint overrides the AWS layer reads."""
    env = aws_env(server)
    env.update({
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": server.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH": server.url,
        "AWS_REGION": REGION,
    })
    return env


def run_skylog(test, *args, server=None, input=None, check=True, env=None, timeout=120):
    """Runs the `skylog` binary with args (text mode, output captured). With a server, the
    environment points the AWS layer at it (endpoint_env). check=True asserts exit code 0 and
    puts stderr in the failure message. Under TSan a report from the process fails the test
    whatever check says (an expected failure exit must not hide a data race)."""
    full_env = endpoint_env(server) if server else dict(os.environ)
    full_env.update(env or {})
    cmd = [skylog_bin(), *map(str, args)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE if input is not None else None,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=full_env) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout * timeout_scale())
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        p = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    reports = take_sanitizer_reports(proc.pid)
    if reports:
        test.fail(f"skylog {' '.join(map(str, args))} (exit {p.returncode}) has "
                  f"ThreadSanitizer reports:\n{reports[:20000]}")
    if check:
        test.assertEqual(p.returncode, 0, f"skylog {' '.join(map(str, args))} failed "
                         f"({p.returncode}): {p.stderr}")
    return p


def have_aws_cli():
    return shutil.which("aws") is not None


def aws(test, server, service, *args, expect_error=None, access_key=None, secret_key=None,
        timeout=120, env=None):
    """Runs `aws --endpoint-url <server> <service> <args...> --output json`.

    Returns the parsed JSON (None for empty output). With expect_error="SomeCode" the call must
    fail and stderr must name that code; stderr is returned. env: extra variables on top of
    aws_env() (e.g. {"AWS_MAX_ATTEMPTS": "5"} against a server injecting faults; the default
    is a single attempt so tests see every error). Skips the test if the AWS CLI is not
    installed.
    """
    if not have_aws_cli():
        raise unittest.SkipTest("the AWS CLI (aws) is not installed")
    cmd = ["aws", "--endpoint-url", server.url, "--output", "json", service, *map(str, args)]
    full_env = aws_env(server, access_key, secret_key)
    full_env.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
    if expect_error:
        test.assertNotEqual(p.returncode, 0, f"{cmd} should fail with {expect_error}: {p.stdout}")
        test.assertIn(f"({expect_error})", p.stderr, f"{cmd}: {p.stderr}")
        return p.stderr
    test.assertEqual(p.returncode, 0, f"{cmd} failed: {p.stderr}\nserver: "
                     f"{server.stderr_text()[-2000:]}")
    return json.loads(p.stdout) if p.stdout.strip() else None


# -- boto3 ------------------------------------------------------------------------------------

def boto3_client(test, server, service, access_key=None, secret_key=None, **config):
    """A boto3 client for `service` ("logs", "cloudwatch") aimed at the server, no retries
    (tests want to see every error). Extra keyword arguments go to botocore's Config.
    Skips the test if boto3 is not installed."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise unittest.SkipTest("boto3 is not installed")
    cfg = {"retries": {"max_attempts": 1, "mode": "standard"}, "connect_timeout": 10,
           "read_timeout": 60 * timeout_scale()}
    cfg.update(config)
    return boto3.session.Session(
        aws_access_key_id=access_key or server.access_key,
        aws_secret_access_key=secret_key or server.secret_key,
        region_name=REGION,
    ).client(service, endpoint_url=server.url, config=Config(**cfg))


# -- raw HTTP ---------------------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body        # bytes

    @property
    def json(self):
        return json.loads(self.body) if self.body else None

    @property
    def error_type(self):
        """__type of an AWS JSON error (namespace stripped), or the x-amzn-ErrorType header."""
        try:
            t = (self.json or {}).get("__type")
        except ValueError:
            t = None
        t = t or self.headers.get("x-amzn-errortype", "")
        return t.split("#")[-1].split(":")[0]

    def __repr__(self):
        return f"Response({self.status}, {self.body[:300]!r})"


def raw_request(server, method, path, body=b"", headers=None, sign=None, access_key=None,
                secret_key=None, timeout=60, clock_skew_s=0):
    """Sends one HTTP request. sign="logs"/"monitoring" signs it with botocore's SigV4Auth
    (the reference implementation) using the server's key pair unless others are given;
    clock_skew_s signs as if the client's clock were that many seconds off.
    Raises ConnectionError-family exceptions when the server drops the connection."""
    if isinstance(body, str):
        body = body.encode()
    headers = dict(headers or {})
    u = urllib.parse.urlsplit(server.url)
    if sign:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        req = AWSRequest(method=method, url=server.url + path, data=body, headers=headers)
        from unittest import mock
        import botocore.auth
        import datetime
        signer = SigV4Auth(Credentials(access_key or server.access_key,
                                       secret_key or server.secret_key), sign, REGION)
        when = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
                + datetime.timedelta(seconds=clock_skew_s))
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
            signer.add_auth(req)
        headers = dict(req.headers.items())
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout * timeout_scale())
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def logs_call(server, op, payload, sign=True, **kw):
    """One awsJson1.1 CloudWatch Logs call (X-Amz-Target: Logs_20140328.<op>). Signed when the
    server requires SigV4 and sign is true."""
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return raw_request(server, "POST", "/", body,
                       {"Content-Type": "application/x-amz-json-1.1",
                        "X-Amz-Target": f"Logs_20140328.{op}"},
                       sign="logs" if (sign and server.auth == "sigv4") else None, **kw)


if __name__ == "__main__":
    # `python3 skyharness.py` starts a server in the foreground, handy when poking by hand.
    with Server(auth=sys.argv[1] if len(sys.argv) > 1 else "none") as s:
        print(s.url, flush=True)
        try:
            while s.proc and s.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
