"""watchtower's own documented usage, with only the import changed, against `skylog serve` and
moto: CloudWatch ends up holding what watchtower would have sent.

The programs are the code blocks of watchtower 3.4's README and API docs, as published; swap()
makes the one change a user makes (`import watchtower` -> `import skylog as watchtower`, and in
a logging config the class path). Each runs as a script in a child process, which exits without
flushing or closing anything (as the snippets do). While it runs, a spy on the handler's emit
computes, for every record the handler is given, what watchtower 3.4 would send for it, from
watchtower's documented behaviour written out independently below (WATCHTOWER_ORACLE): the
text (logging.Formatter's, a mapping as json.dumps with dates as isoformat() and the rest
repr(), LogRecord attributes added for add_log_record_attrs), the stream (the template
formatted with the machine, argv[0] without colons, pid, thread, logger, UTC now), the
timestamp (int(created * 1000)), the cut at max_message_size - 26 UTF-8 bytes, empty messages
not sent. The test then reads every group and stream back with boto3 and compares: exactly the
same events, streams and groups, nothing more; retention where a program set it.

The spy does not change what the handler does: it calls the real emit. Flask's blocking
app.run() is replaced, in the child only, by a run that serves two requests on a port of the
test's choosing (127.0.0.1) and returns.
"""

import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import uuid

import skylog

try:
    import skyharness
except ImportError:  # run outside make test without the harness
    skyharness = None

try:
    import boto3
except ImportError:
    boto3 = None

try:
    import flask
except ImportError:
    flask = None

try:
    import yaml
except ImportError:
    yaml = None

# ---- watchtower's documented examples, verbatim ----------------------------------------------

SYNOPSIS = '''\
import watchtower, logging
logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)
logger.addHandler(watchtower.CloudWatchLogHandler())
logger.info("Hi")
logger.info(dict(foo="bar", details={}))
'''

FLASK = '''\
import watchtower, flask, logging

logging.basicConfig(level=logging.INFO)
app = flask.Flask("loggable")
handler = watchtower.CloudWatchLogHandler(log_group_name=app.name)
app.logger.addHandler(handler)
logging.getLogger("werkzeug").addHandler(handler)

@app.route('/')
def hello_world():
    return 'Hello World!'

if __name__ == '__main__':
    app.run()
'''

DJANGO_SETTINGS = '''\
import boto3

AWS_REGION_NAME = "us-west-2"

boto3_logs_client = boto3.client("logs", region_name=AWS_REGION_NAME)

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'root': {
        'level': 'DEBUG',
        # Adding the watchtower handler here causes all loggers in the project that
        # have propagate=True (the default) to send messages to watchtower. If you
        # wish to send only from specific loggers instead, remove "watchtower" here
        # and configure individual loggers below.
        'handlers': ['watchtower', 'console'],
    },
    'handlers': {
        'console': {
            'class': 'logging.StreamHandler',
        },
        'watchtower': {
            'class': 'watchtower.CloudWatchLogHandler',
            'boto3_client': boto3_logs_client,
            'log_group_name': 'YOUR_DJANGO_PROJECT_NAME',
            # Decrease the verbosity level here to send only those logs to watchtower,
            # but still see more verbose logs in the console. See the watchtower
            # documentation for other parameters that can be set here.
            'level': 'DEBUG'
        }
    },
    'loggers': {
        # In the debug server (`manage.py runserver`), several Django system loggers cause
        # deadlocks when using threading in the logging handler, and are not supported by
        # watchtower. This limitation does not apply when running on production WSGI servers
        # (gunicorn, uwsgi, etc.), so we recommend that you set `propagate=True` below in your
        # production-specific Django settings file to receive Django system logs in CloudWatch.
        'django': {
            'level': 'DEBUG',
            'handlers': ['console'],
            'propagate': False
        }
        # Add any other logger-specific configuration here.
    }
}
'''

LOGGING_YML = '''\
# Default AWS Config
version: 1
disable_existing_loggers: False
handlers:
  console:
    class: logging.StreamHandler
    level: DEBUG
    stream: ext://sys.stdout
  logfile:
    class: logging.handlers.RotatingFileHandler
    level: DEBUG
    filename: watchtower.log
    maxBytes: 1000000
    backupCount: 3
  watchtower:
    class: watchtower.CloudWatchLogHandler
    level: DEBUG
    log_group_name: watchtower
    log_stream_name: "{logger_name}-{strftime:%y-%m-%d}"
    send_interval: 10
    create_log_group: False
root:
  level: DEBUG
  propagate: True
  handlers: [console, logfile, watchtower]
loggers:
  botocore:
    level: INFO
  urllib3:
    level: INFO
'''

DICTCONFIG_LOADER = '''\
import logging.config

import flask
import yaml

app = flask.Flask("loggable")

@app.route('/')
def hello_world():
    return 'Hello World!'

if __name__ == '__main__':
    with open('logging.yml') as log_config:
        config_yml = log_config.read()
        config_dict = yaml.safe_load(config_yml)
        logging.config.dictConfig(config_dict)
        app.run()
'''

BOTO_LOGS = '''\
import watchtower, logging
logging.basicConfig(level=logging.DEBUG)
logger = logging.getLogger()
logger.addHandler(watchtower.CloudWatchLogHandler())
'''

LOG_RECORD_ATTRS = '''\
logger = logging.getLogger(__name__)
handler = watchtower.CloudWatchLogHandler()
handler.formatter.add_log_record_attrs=["levelname", "filename", "process", "thread"]
logger.addHandler(handler)
logger.critical({"request": "hello", "metadata": {"size": 9000}})
'''


def swap(code):
    """The one change a watchtower user makes: the import (in a logging config, the class)."""
    out, n = re.subn(r"^import watchtower\b", "import skylog as watchtower", code, flags=re.M)
    out, m = re.subn(r"(['\"]?)watchtower\.CloudWatchLogHandler\1(?=,|\s*$)",
                     r"\1skylog.CloudWatchLogHandler\1", out, flags=re.M)
    assert n + m == 1, f"expected one import to change, changed {n + m}"
    return out


# ---- the child's instrumentation ---------------------------------------------------------------

WATCHTOWER_ORACLE = '''\
import atexit as _atexit, collections.abc as _abc, datetime as _dt, json as _json
import logging as _logging, os as _os, platform as _platform, sys as _sys
import threading as _threading
import skylog as _skylog

_expected = []


def _watchtower_would_send(handler, record):
    """What watchtower 3.4 sends for a record its handler emits (its documented behaviour)."""
    if record.getMessage() == "":
        return None  # "Received empty message": warned, not sent
    msg = record.msg
    attrs = getattr(handler.formatter, "add_log_record_attrs", ())
    if attrs:
        msg = dict(msg) if isinstance(msg, _abc.Mapping) else {"msg": msg}
        for a in attrs:
            if a != "msg":
                msg[a] = getattr(record, a)
    if isinstance(msg, _abc.Mapping):
        text = _json.dumps(msg, default=lambda o: o.isoformat()
                           if isinstance(o, (_dt.date, _dt.datetime)) else repr(o))
    else:
        text = _logging.Formatter().format(record)
    body = handler.max_message_size - 26
    if len(text.encode("utf-8")) + 26 > body:
        text = text.encode("utf-8")[:body].decode("utf-8", "ignore")
    stream = handler.log_stream_name.format(
        machine_name=_platform.node(), program_name=_sys.argv[0].replace(":", ""),
        process_id=_os.getpid(), thread_name=_threading.current_thread().name,
        logger_name=record.name, strftime=_dt.datetime.now(_dt.timezone.utc))
    return {"group": handler.log_group_name, "stream": stream,
            "timestamp": int(record.created * 1000), "message": text,
            "retention": handler.log_group_retention_days}


_real_emit = _skylog.CloudWatchLogHandler.emit


def _spy(self, record):
    e = _watchtower_would_send(self, record)
    if e is not None:
        _expected.append(e)
    return _real_emit(self, record)


_skylog.CloudWatchLogHandler.emit = _spy


@_atexit.register
def _dump():
    with open(_os.environ["WT_EXPECTED"], "w") as f:
        _json.dump(_expected, f)


try:
    import flask as _flask
except ImportError:
    _flask = None
if _flask is not None:
    def _serve_twice(app, *args, **kwargs):
        # app.run() would serve for ever on port 5000: two requests on a port the test picks
        import urllib.request
        from werkzeug.serving import make_server
        srv = make_server("127.0.0.1", 0, app)
        t = _threading.Thread(target=srv.serve_forever)
        t.start()
        try:
            for _ in range(2):
                urllib.request.urlopen("http://127.0.0.1:%d/" % srv.server_port).read()
        finally:
            srv.shutdown()
            t.join()
            srv.server_close()
    _flask.Flask.run = _serve_twice
'''


def read_everything(logs):
    """{group: {"retention": days or None, "streams": {stream: [(ts, message), ...]}}}"""
    out = {}
    for g in logs.get_paginator("describe_log_groups").paginate().build_full_result()[
            "logGroups"]:
        name = g["logGroupName"]
        streams = {}
        for s in logs.get_paginator("describe_log_streams").paginate(
                logGroupName=name).build_full_result()["logStreams"]:
            evs, token = [], None
            while True:
                kw = {"logGroupName": name, "logStreamName": s["logStreamName"],
                      "startFromHead": True}
                if token:
                    kw["nextToken"] = token
                r = logs.get_log_events(**kw)
                evs += [(e["timestamp"], e["message"]) for e in r["events"]]
                if not r["events"] or r["nextForwardToken"] == token:
                    break
                token = r["nextForwardToken"]
            streams[s["logStreamName"]] = evs
        out[name] = {"retention": g.get("retentionInDays"), "streams": streams}
    return out


def run_program(test, code, env, files=None):
    """Runs `code` (after the oracle) as the script app.py in a fresh directory with `env`;
    returns (what watchtower would have stored, the process's stdout+stderr)."""
    d = tempfile.mkdtemp(prefix="wt-parity-")
    test.addCleanup(shutil.rmtree, d, True)
    for name, text in (files or {}).items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    script = os.path.join(d, "app.py")
    with open(script, "w") as f:
        f.write(WATCHTOWER_ORACLE + "\n" + code)
    run_env = dict(env)
    run_env["WT_EXPECTED"] = os.path.join(d, "expected.json")
    run_env["PYTHONWARNINGS"] = "default"
    p = subprocess.run([sys.executable, script], cwd=d, env=run_env, capture_output=True,
                       text=True, timeout=300)
    test.assertEqual(p.returncode, 0, p.stdout + p.stderr)
    with open(run_env["WT_EXPECTED"]) as f:
        return json.load(f), p.stdout + p.stderr


def as_stored(expected):
    """The oracle's events as CloudWatch stores them: by group and stream, in time order."""
    out = {}
    for e in expected:
        g = out.setdefault(e["group"], {"retention": e["retention"], "streams": {}})
        g["streams"].setdefault(e["stream"], []).append((e["timestamp"], e["message"]))
    for g in out.values():
        for evs in g["streams"].values():
            evs.sort(key=lambda x: x[0])  # stable: same-ms events keep their order
    return out


@unittest.skipIf(skyharness is None, "tests/integration (skyharness) is not on sys.path")
@unittest.skipIf(boto3 is None, "boto3 is not installed")
class Snippets(unittest.TestCase):
    """Each documented example against a fresh `skylog serve`."""

    def setUp(self):
        skyharness.skylog_bin()
        self.srv = skyharness.start_server(self)
        self.env = skyharness.endpoint_env(self.srv)
        self.logs = self.client("us-east-1")

    def client(self, region):
        return boto3.session.Session(
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
            region_name=region).client("logs", endpoint_url=self.env["AWS_ENDPOINT_URL"])

    def run_program(self, code, files=None):
        return run_program(self, code, self.env, files)

    def assertStoredAsWatchtower(self, expected, logs=None):
        got = read_everything(logs or self.logs)
        self.assertEqual(got, as_stored(expected))
        self.assertTrue(expected)
        return got

    def test_synopsis(self):
        expected, _ = self.run_program(swap(SYNOPSIS))
        got = self.assertStoredAsWatchtower(expected)
        # the README's words: the "watchtower" group, "Hi" and the dict as JSON
        (stream, evs), = got["watchtower"]["streams"].items()
        self.assertEqual([m for _, m in evs], ["Hi", '{"foo": "bar", "details": {}}'])
        self.assertRegex(stream, r"^%s/.*app\.py/__main__/\d+$" % re.escape(socket.gethostname()))

    @unittest.skipIf(flask is None, "Flask is not installed")
    def test_flask(self):
        expected, _ = self.run_program(swap(FLASK))
        got = self.assertStoredAsWatchtower(expected)
        streams = got["loggable"]["streams"]
        # werkzeug's two request lines, in its own stream (default template: per logger)
        werkzeug, = [s for s in streams if "/werkzeug/" in s]
        self.assertEqual(len(streams[werkzeug]), 2)
        self.assertIn('"GET / HTTP/1.1" 200', streams[werkzeug][0][1])

    def test_django_logging_with_boto3_client(self):
        code = swap(DJANGO_SETTINGS) + textwrap.dedent('''
            import logging.config
            logging.config.dictConfig(LOGGING)
            log = logging.getLogger("shop.views")
            log.debug("cart %s", "c-1")
            log.info({"order": 7, "total": 9.5})
            logging.getLogger("django").info("console only")
            try:
                {}["missing"]
            except KeyError:
                log.exception("lookup failed")
        ''')
        expected, out = self.run_program(code)
        got = self.assertStoredAsWatchtower(expected, logs=self.client("us-west-2"))
        evs = [m for s in got["YOUR_DJANGO_PROJECT_NAME"]["streams"].values() for _, m in s]
        self.assertIn('{"order": 7, "total": 9.5}', evs)
        self.assertTrue(any(m.startswith("lookup failed\nTraceback") and "KeyError" in m
                            for m in evs), evs)
        self.assertNotIn("console only", json.dumps(got))
        self.assertIn("console only", out)

    @unittest.skipIf(flask is None or yaml is None, "Flask or PyYAML is not installed")
    def test_dictconfig_yaml(self):
        # create_log_group: False: the group is the user's, made beforehand
        self.logs.create_log_group(logGroupName="watchtower")
        # the loader has no watchtower import: the YAML's handler class is the one change
        expected, out = self.run_program(DICTCONFIG_LOADER, files={"logging.yml": swap(LOGGING_YML)})
        got = self.assertStoredAsWatchtower(expected)
        self.assertEqual([re.sub(r"\d\d-\d\d-\d\d$", "DAY", s)
                          for s in got["watchtower"]["streams"]], ["werkzeug-DAY"])

    def test_boto_logs_filtered(self):
        code = swap(BOTO_LOGS) + textwrap.dedent('''
            logging.getLogger("botocore.endpoint").debug("botocore debug: not sent")
            logging.getLogger("urllib3.connectionpool").debug("urllib3 debug: not sent")
            logging.getLogger("botocore.credentials").info("botocore info: sent")
            logging.getLogger("app").debug("app debug: sent")
        ''')
        expected, _ = self.run_program(code)
        got = self.assertStoredAsWatchtower(expected)
        msgs = sorted(m for s in got["watchtower"]["streams"].values() for _, m in s)
        self.assertEqual(msgs, ["app debug: sent", "botocore info: sent"])

    def test_add_log_record_attrs(self):
        code = "import logging\nimport watchtower\n" + LOG_RECORD_ATTRS
        expected, _ = self.run_program(swap(code))
        got = self.assertStoredAsWatchtower(expected)
        (_, evs), = got["watchtower"]["streams"].items()
        body = json.loads(evs[0][1])
        self.assertEqual((body["request"], body["metadata"], body["levelname"], body["filename"]),
                         ("hello", {"size": 9000}, "CRITICAL", "app.py"))
        self.assertEqual(list(body), ["request", "metadata", "levelname", "filename", "process",
                                      "thread"])

    def test_log_group_tags_where_there_are_none(self):
        # skylog serve has no tags: the handler is made, the warning says why, events flow
        with self.assertWarnsRegex(skylog.WatchtowerWarning,
                                   "Failed to tag log group /t.*not supported by skylog serve"):
            h = skylog.CloudWatchLogHandler(log_group_name="/t", log_stream_name="s",
                                            boto3_client=self.logs, log_group_tags={"a": "b"})
        self.addCleanup(h.close)
        log = logging.getLogger("tags." + uuid.uuid4().hex)
        log.propagate = False
        log.addHandler(h)
        log.warning("still sent")
        self.assertTrue(h.pipeline.flush(30000))
        self.assertEqual(read_everything(self.logs)["/t"]["streams"]["s"][0][1], "still sent")

    def test_every_behaviour(self):
        """The arguments and behaviours the snippets leave at their defaults."""
        self.logs.create_log_group(logGroupName="/wt/existing")
        self.logs.create_log_stream(logGroupName="/wt/existing", logStreamName="fixed")
        code = textwrap.dedent('''
            import datetime, logging, threading
            import watchtower

            class Point:
                def __repr__(self):
                    return "Point(1, 2)"

            h = watchtower.CloudWatchLogHandler(
                log_group_name="/wt/behaviour",
                log_stream_name="{logger_name}/{thread_name}/{strftime:%Y-%m-%d}",
                log_group_retention_days=7, send_interval=datetime.timedelta(seconds=1),
                max_batch_count=3, max_message_size=1000)
            log = logging.getLogger("b")
            log.setLevel(logging.DEBUG)
            log.addHandler(h)
            log.info("plain %s", "args")
            log.debug({"when": datetime.datetime(2024, 1, 2, 3, 4, 5), "p": Point(), "e": "\\u00e9"})
            try:
                1 / 0
            except ZeroDivisionError:
                log.exception("boom")
            log.info("")  # watchtower: not sent
            log.info("\\u00e9" * 2000)  # 4000 bytes: cut at 974, on a character
            log.warning("line with its newline\\n")
            t = threading.Thread(target=lambda: log.warning("from a thread"), name="worker-1")
            t.start()
            t.join()
            for i in range(7):  # three batches of at most 3
                log.info("n%d", i)

            # an existing group and stream, nothing to create: retention set all the same
            fixed = watchtower.CloudWatchLogHandler(
                log_group_name="/wt/existing", log_stream_name="fixed", create_log_group=False,
                create_log_stream=False, log_group_retention_days=14, use_queues=False)
            other = logging.getLogger("other")
            other.addHandler(fixed)
            other.warning({"custom": True}, exc_info=False)
            other.error("sync %d", 1)
            import json
            print("COUNTED", json.dumps([h.pipeline.stats()["python"], h.dropped_empty]))
        ''')
        expected, out = self.run_program(swap(code))
        got = self.assertStoredAsWatchtower(expected)
        self.assertEqual(got["/wt/behaviour"]["retention"], 7)
        self.assertEqual(got["/wt/existing"]["retention"], 14)
        streams = got["/wt/behaviour"]["streams"]
        self.assertEqual(sorted(re.sub(r"/\d{4}-\d\d-\d\d$", "/DAY", s) for s in streams),
                         ["b/MainThread/DAY", "b/worker-1/DAY"])
        # (a run across midnight UTC has two MainThread streams: the oracle's check above
        # holds, and the rest is read from them together)
        main = [m for s, evs in sorted(streams.items()) if s.startswith("b/MainThread/")
                for _, m in evs]
        self.assertEqual(main[1], '{"when": "2024-01-02T03:04:05", "p": "Point(1, 2)", '
                                  '"e": "\\u00e9"}')
        self.assertEqual(main[3], "\u00e9" * 487)
        self.assertEqual(main[4], "line with its newline\n")
        self.assertIn("Received empty message", out)  # watchtower's warning, as it gives it
        # where watchtower warns, skylog also counts: the cut (4000 - 974 bytes), the empty one
        counted = json.loads(re.search(r"^COUNTED (.*)$", out, re.M).group(1))
        self.assertEqual(counted, [{"truncated": 1, "truncated_bytes": 3026}, 1])


@unittest.skipIf(skyharness is None, "tests/integration (skyharness) is not on sys.path")
@unittest.skipIf(boto3 is None, "boto3 is not installed")
class AgainstMoto(unittest.TestCase):
    """The Django example (boto3_client) against moto's server, watchtower's usual test double."""

    def setUp(self):
        try:
            import moto  # noqa: F401
        except ImportError:
            self.skipTest("moto is not installed")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                      "-p", str(port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.addCleanup(self.stop)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                self.assertIsNone(self.proc.poll(), "moto.server exited")
                self.assertLess(time.monotonic(), deadline, "moto.server did not start")
                time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def test_django_logging_with_boto3_client(self):
        env = skyharness.aws_env(None, access_key="testing", secret_key="testing")
        env.update({"AWS_ENDPOINT_URL": self.url, "AWS_REGION": "us-west-2"})
        code = swap(DJANGO_SETTINGS) + textwrap.dedent('''
            import logging.config
            logging.config.dictConfig(LOGGING)
            logging.getLogger("shop").info("to moto %d", 1)
            logging.getLogger("shop").warning({"k": [1, 2]})
        ''')
        expected, _ = run_program(self, code, env)
        logs = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                     region_name="us-west-2").client("logs", endpoint_url=self.url)
        self.assertEqual(read_everything(logs), as_stored(expected))
        self.assertEqual(len(expected), 2)

    def test_log_group_tags(self):
        # watchtower tags the group (TagResource) when the handler is made: a new group, and
        # one that exists already, with create_log_group=False
        logs = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                     region_name="us-west-2").client("logs", endpoint_url=self.url)
        logs.create_log_group(logGroupName="/tags/existing")
        h1 = skylog.CloudWatchLogHandler(log_group_name="/tags/new", boto3_client=logs,
                                         log_group_tags={"team": "a", "env": "prod"})
        self.addCleanup(h1.close)
        h2 = skylog.CloudWatchLogHandler(log_group_name="/tags/existing", boto3_client=logs,
                                         create_log_group=False, log_group_tags={"team": "b"})
        self.addCleanup(h2.close)
        tags = {}
        for g in logs.describe_log_groups()["logGroups"]:
            arn = g["arn"].removesuffix(":*")
            tags[g["logGroupName"]] = logs.list_tags_for_resource(resourceArn=arn)["tags"]
        self.assertEqual(tags, {"/tags/new": {"team": "a", "env": "prod"},
                                "/tags/existing": {"team": "b"}})
        # no such group and none to be created: watchtower's warning, the handler made
        with self.assertWarnsRegex(skylog.WatchtowerWarning, "Failed to tag log group /tags/no"):
            h3 = skylog.CloudWatchLogHandler(log_group_name="/tags/no", boto3_client=logs,
                                             create_log_group=False, log_group_tags={"t": "1"})
        h3.close()


if __name__ == "__main__":
    unittest.main()
