"""skylog.CloudWatchLogHandler takes watchtower's constructor arguments: how each one maps, and
docs/PYTHON.md's table of them kept honest against the handler's signature. (What arrives in
CloudWatch: test_watchtower_parity.py.)"""

import ast
import datetime
import inspect
import json
import logging
import os
import platform
import re
import sys
import tempfile
import threading
import unittest
import warnings

import skylog

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# No test here sends anything: the sink contacts AWS only to send, and nothing is logged.
BASE = {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"}


def make(test, **kw):
    args = dict(BASE)
    args.update(kw)
    h = skylog.CloudWatchLogHandler(**args)
    test.addCleanup(h.close)
    return h


def record(name="app", msg="m", args=(), level=logging.INFO, exc_info=None):
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


class Mapping(unittest.TestCase):
    def test_defaults_as_watchtower(self):
        h = make(self)
        o = h.mapped_options
        self.assertEqual(o["log_group"], "watchtower")
        # text events (the formatter's), the stream named per record and given as the logger
        self.assertEqual((o["log_stream"], o["message_only"]), ("{logger}", True))
        self.assertEqual(o["flush_interval_ms"], 60000)
        self.assertEqual(o["max_batch_bytes"], 1048576)
        self.assertEqual(o["batch_size"], 10000)
        self.assertEqual(o["max_event_bytes"], 256 * 1024)
        self.assertFalse(o["no_create_group"])
        self.assertFalse(o["no_create_stream"])
        self.assertFalse(o["sync_upload"])
        self.assertEqual(o["retention_days"], 0)
        # watchtower cuts at max_message_size - 26 bytes, without a marker
        self.assertEqual(h.pipeline.max_message_bytes, 256 * 1024 - 26)
        self.assertIs(h.pipeline.truncation_marker, False)
        self.assertIsInstance(h, logging.Handler)
        self.assertIsInstance(h.formatter, skylog.CloudWatchLogFormatter)
        self.assertIsNone(h.cwl_client)
        self.assertEqual(repr(h), "CloudWatchLogHandler(log_group_name='watchtower', "
                                  f"log_stream_name='{skylog.DEFAULT_LOG_STREAM_NAME}')")
        self.assertEqual(h._stream_name(record("a.b")),
                         f"{platform.node()}/{sys.argv[0].replace(':', '')}/a.b/{os.getpid()}")

    def test_every_argument(self):
        h = make(self, log_group_name="/app/prod", log_stream_name="{machine_name}-{strftime:%Y}",
                 use_queues=False, send_interval=datetime.timedelta(seconds=2.5),
                 max_batch_size=65536, max_batch_count=50, boto3_profile_name="p1",
                 create_log_group=False, create_log_stream=False, log_group_retention_days=7,
                 max_message_size=1000, level=logging.WARNING)
        o = h.mapped_options
        self.assertEqual(o["log_group"], "/app/prod")
        years = {f"{datetime.datetime.now(datetime.timezone.utc):%Y}"}
        name = h._stream_name(record())
        years.add(f"{datetime.datetime.now(datetime.timezone.utc):%Y}")  # new year's eve
        self.assertIn(name, {f"{platform.node()}-{y}" for y in years})
        self.assertTrue(o["sync_upload"])
        self.assertEqual(o["flush_interval_ms"], 2500)
        self.assertEqual((o["max_batch_bytes"], o["batch_size"]), (65536, 50))
        self.assertEqual(o["profile"], "p1")
        self.assertTrue(o["no_create_group"])
        self.assertTrue(o["no_create_stream"])
        self.assertEqual(o["retention_days"], 7)
        self.assertEqual((o["max_event_bytes"], h.pipeline.max_message_bytes), (1000, 974))
        self.assertEqual(h.level, logging.WARNING)
        # watchtower's attributes read back as given
        self.assertEqual((h.log_group_name, h.log_stream_name, h.use_queues, h.send_interval,
                          h.max_batch_size, h.max_batch_count, h.max_message_size,
                          h.create_log_group, h.create_log_stream, h.log_group_retention_days),
                         ("/app/prod", "{machine_name}-{strftime:%Y}", False,
                          datetime.timedelta(seconds=2.5), 65536, 50, 1000, False, False, 7))
        # where watchtower warns, the handler's pipeline counts (nothing was logged here)
        st = h.pipeline.stats()
        self.assertEqual(st["python"], {"truncated": 0, "truncated_bytes": 0})
        self.assertEqual((st["cloudwatch"]["failures_in_a_row"], st["cloudwatch"]["last_error"]),
                         (0, ""))

    def test_stream_per_record(self):
        h = make(self, log_stream_name="{logger_name}/{thread_name}/{strftime:%Y-%m-%d}/"
                                       "{process_id:06d}")
        def today():
            return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        days = {today()}  # the test may cross midnight UTC
        names = []
        t = threading.Thread(target=lambda: names.append(h._stream_name(record("w"))),
                             name="worker-7")
        t.start()
        t.join()
        names.append(h._stream_name(record("x.y")))
        days.add(today())
        pid = f"{os.getpid():06d}"
        self.assertIn(names[0], {f"w/worker-7/{d}/{pid}" for d in days})
        self.assertIn(names[1], {f"x.y/MainThread/{d}/{pid}" for d in days})

    def test_forked_child_names_its_own_stream(self):
        h = make(self, log_stream_name="{machine_name}-{process_id}")
        self.assertEqual(h._stream_name(record()), f"{platform.node()}-{os.getpid()}")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                os.write(w, h._stream_name(record()).encode())
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            child = f.read().decode()
        os.waitpid(pid, 0)
        self.assertEqual(child, f"{platform.node()}-{pid}")

    def test_formatter(self):
        h = make(self)
        f = h.formatter
        self.assertEqual(f.format(record(msg="a %s", args=("b",))), "a b")
        when = datetime.datetime(2024, 5, 6, 7, 8, 9)
        self.assertEqual(f.format(record(msg={"t": when, "d": when.date(), "s": {1}, "e": "\u00e9"})),
                         '{"t": "2024-05-06T07:08:09", "d": "2024-05-06", "s": "{1}", '
                         '"e": "\\u00e9"}')
        try:
            1 / 0
        except ZeroDivisionError:
            text = f.format(record(msg="boom", exc_info=sys.exc_info()))
        self.assertTrue(text.startswith("boom\nTraceback (most recent call last):"), text)
        self.assertTrue(text.endswith("ZeroDivisionError: division by zero"), text)
        # add_log_record_attrs: the record and the caller's dict are left as they were
        f.add_log_record_attrs = ["levelname", "msg", "lineno"]
        d = {"k": 1}
        rec = record(msg=d)
        self.assertEqual(json.loads(f.format(rec)), {"k": 1, "levelname": "INFO", "lineno": 1})
        self.assertEqual((d, rec.msg), ({"k": 1}, {"k": 1}))
        self.assertEqual(json.loads(f.format(record(msg="plain %d", args=(3,)))),
                         {"msg": "plain %d", "levelname": "INFO", "lineno": 1})
        # json_serialize_default
        g = make(self, json_serialize_default=lambda o: "custom").formatter
        self.assertEqual(g.format(record(msg={"x": object()})), '{"x": "custom"}')

    def test_boto_filters(self):
        h = make(self)
        self.assertFalse(h.filter(record("botocore.endpoint", level=logging.DEBUG)))
        self.assertFalse(h.filter(record("urllib3.connectionpool", level=logging.DEBUG)))
        self.assertTrue(h.filter(record("botocore.credentials", level=logging.INFO)))
        self.assertTrue(h.filter(record("app", level=logging.DEBUG)))
        h.flush()  # watchtower: from here on, none of theirs
        self.assertFalse(h.filter(record("botocore.credentials", level=logging.INFO)))
        self.assertTrue(h.filter(record("app", level=logging.DEBUG)))

    def test_empty_and_after_close(self):
        # watchtower warns (WatchtowerWarning) and drops both; skylog warns alike and counts
        h = make(self)
        seen = []
        h.handleError = lambda rec: seen.append(rec)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            h.handle(record(msg=""))
            self.assertEqual(h.dropped_empty, 1)
            h.close()
            h.handle(record(msg="late"))
            h.handle(record(msg="later"))
        self.assertEqual(h.dropped_closed, 2)
        self.assertEqual([(x.category, str(x.message)) for x in w],
                         [(skylog.WatchtowerWarning, "Received empty message. Empty messages "
                           "cannot be sent to CloudWatch Logs"),
                          (skylog.WatchtowerWarning,
                           "Received message after logging system shutdown"),
                          (skylog.WatchtowerWarning,
                           "Received message after logging system shutdown")])
        self.assertEqual(seen, [])
        self.assertIs(skylog.WatchtowerWarning, skylog.SkylogWarning)

    def test_deprecated_names(self):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            h = make(self, log_group="g1", stream_name="s1")
        self.assertEqual((h.log_group_name, h.log_stream_name, h.mapped_options["log_group"]),
                         ("g1", "s1", "g1"))
        self.assertEqual(h._stream_name(record()), "s1")
        self.assertEqual([x.category for x in w], [DeprecationWarning, DeprecationWarning])
        # both a name and its deprecated alias, or a client and a profile: watchtower refuses
        for kw in ({"log_group": "a", "log_group_name": "b"},
                   {"stream_name": "a", "log_stream_name": "b"},
                   {"boto3_client": object(), "boto3_profile_name": "p"}):
            with self.assertRaises(skylog.WatchtowerError), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                make(self, **kw)

    def test_unmappable_arguments(self):
        with self.assertRaisesRegex(ValueError, "unknown placeholder 'nope'"):
            make(self, log_stream_name="a-{nope}")
        with self.assertRaisesRegex(ValueError, "thread_name"):
            make(self, log_stream_name="{thread_name}", structured=True)
        with self.assertRaisesRegex(ValueError, "max_batch_size"):
            make(self, max_batch_size=2 * 1048576)
        with self.assertRaisesRegex(ValueError, "max_batch_count"):
            make(self, max_batch_count=10001)
        with self.assertRaisesRegex(ValueError, "max_message_size"):
            make(self, max_message_size=26)
        with self.assertRaisesRegex(ValueError, "send_interval"):
            make(self, send_interval="soon")
        with self.assertRaises(TypeError):
            make(self, no_such_argument=1)
        make(self, log_group_tags={})  # watchtower's default: nothing to tag (and no call)
        with self.assertRaisesRegex(skylog.SkylogError, "log group|log_group"):
            make(self, log_group_name="bad group name!")
        # watchtower hands *args to logging.Handler: one more positional argument is the level
        defaults = [p.default for p in inspect.signature(
            skylog.CloudWatchLogHandler).parameters.values()][:16]
        h = skylog.CloudWatchLogHandler(*defaults, logging.ERROR, **BASE)
        self.addCleanup(h.close)
        self.assertEqual(h.level, logging.ERROR)

    def test_structured(self):
        h = make(self, structured=True, log_stream_name="{machine_name}-{strftime:%Y}-x")
        o = h.mapped_options
        self.assertEqual((o["log_stream"], o["message_only"]), ("{hostname}-{strftime:%Y}-x",
                                                                False))
        self.assertIsNone(h.formatter)
        self.assertEqual((h.pipeline.max_message_bytes, h.pipeline.truncation_marker),
                         (256 * 1024, True))

    def test_boto3_client_maps_region_endpoint_and_keys(self):
        try:
            import boto3
        except ImportError:
            self.skipTest("boto3 is not installed")
        client = boto3.session.Session(aws_access_key_id="AKIDEXAMPLE",
                                       aws_secret_access_key="secret", aws_session_token="tok",
                                       region_name="eu-west-3").client(
            "logs", endpoint_url="http://127.0.0.1:9")
        h = skylog.CloudWatchLogHandler(boto3_client=client)
        self.addCleanup(h.close)
        o = h.mapped_options
        self.assertEqual((o["region"], o["endpoint"]), ("eu-west-3", "http://127.0.0.1:9"))
        self.assertEqual((o["access_key_id"], o["secret_access_key"], o["session_token"]),
                         ("AKIDEXAMPLE", "secret", "tok"))
        self.assertIs(h.cwl_client, client)
        with self.assertRaisesRegex(ValueError, "'logs' client"):
            skylog.CloudWatchLogHandler(boto3_client=boto3.session.Session(
                region_name="us-east-1").client("s3"))

    def test_boto3_client_of_a_named_profile(self):
        # a session of another profile than the default: its keys, not the default chain's
        try:
            import boto3
        except ImportError:
            self.skipTest("boto3 is not installed")
        with tempfile.TemporaryDirectory() as d:
            creds = os.path.join(d, "credentials")
            with open(creds, "w") as f:
                f.write("[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n"
                        "[logger]\naws_access_key_id = AKIDLOGGER\naws_secret_access_key = l\n")
            saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("AWS_")}
            self.addCleanup(os.environ.update, saved)
            os.environ["AWS_SHARED_CREDENTIALS_FILE"] = creds
            os.environ["AWS_CONFIG_FILE"] = os.devnull
            self.addCleanup(os.environ.pop, "AWS_SHARED_CREDENTIALS_FILE")
            self.addCleanup(os.environ.pop, "AWS_CONFIG_FILE")
            client = boto3.session.Session(profile_name="logger", region_name="us-east-1") \
                .client("logs", endpoint_url="http://127.0.0.1:9")
            h = skylog.CloudWatchLogHandler(boto3_client=client)
            self.addCleanup(h.close)
        self.assertEqual((h.mapped_options["access_key_id"],
                          h.mapped_options["secret_access_key"]), ("AKIDLOGGER", "l"))

    def test_boto3_client_refreshable_credentials_left_to_the_chain(self):
        try:
            import boto3
            from botocore.credentials import RefreshableCredentials
        except ImportError:
            self.skipTest("boto3 is not installed")
        client = boto3.session.Session(aws_access_key_id="A", aws_secret_access_key="B",
                                       region_name="us-east-1").client(
            "logs", endpoint_url="http://127.0.0.1:9")
        expiry = (datetime.datetime.now(datetime.timezone.utc) +
                  datetime.timedelta(hours=1)).isoformat()
        client._request_signer._credentials = RefreshableCredentials.create_from_metadata(
            {"access_key": "ROLE", "secret_key": "S", "token": "T", "expiry_time": expiry},
            refresh_using=lambda: None, method="assume-role")
        h = skylog.CloudWatchLogHandler(boto3_client=client)
        self.addCleanup(h.close)
        self.assertNotIn("access_key_id", h.mapped_options)


class ParityTable(unittest.TestCase):
    """docs/PYTHON.md's table of watchtower's parameters: each is a parameter of the handler,
    with watchtower's default; and every parameter of the handler is in one of its tables."""

    def setUp(self):
        with open(os.path.join(ROOT, "docs", "PYTHON.md"), encoding="utf-8") as f:
            doc = f.read()
        section = doc[doc.index("## watchtower: `skylog.CloudWatchLogHandler`"):]
        self.watchtower = self.rows(section, "| watchtower parameter | default |")
        self.additions = self.rows(section, "| skylog parameter | default |")
        self.params = inspect.signature(skylog.CloudWatchLogHandler).parameters

    @staticmethod
    def rows(section, header):
        table = section[section.index(header):].split("\n\n", 1)[0].splitlines()[2:]
        out = {}
        for line in table:
            m = re.match(r"\| `(\w+)` \| `([^`]*)` \|", line)
            assert m, f"a row of {header!r} that is not | `name` | `default` |: {line}"
            out[m.group(1)] = m.group(2)
        return out

    def test_watchtower_parameters_accepted_with_their_defaults(self):
        # watchtower 3.4's CloudWatchLogHandler.__init__, in its order
        self.assertEqual(list(self.watchtower), [
            "log_group_name", "log_stream_name", "use_queues", "send_interval",
            "max_batch_size", "max_batch_count", "boto3_client", "boto3_profile_name",
            "create_log_group", "log_group_tags", "json_serialize_default",
            "log_group_retention_days", "create_log_stream", "max_message_size", "log_group",
            "stream_name"])
        positional = [n for n, p in self.params.items()
                      if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        self.assertEqual(positional, list(self.watchtower),
                         "watchtower's parameters, in its order (they may be given by position)")
        for name, default in self.watchtower.items():
            self.assertEqual(self.params[name].default, ast.literal_eval(default), name)
        self.assertEqual(skylog.DEFAULT_LOG_STREAM_NAME,
                         ast.literal_eval(self.watchtower["log_stream_name"]))

    def test_every_parameter_documented(self):
        for name, p in self.params.items():
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                continue
            self.assertTrue(name in self.watchtower or name in self.additions,
                            f"{name} is in no table of docs/PYTHON.md")
        for name, default in self.additions.items():
            self.assertIs(self.params[name].kind, inspect.Parameter.KEYWORD_ONLY, name)
            want = logging.NOTSET if default == "logging.NOTSET" else ast.literal_eval(default)
            self.assertEqual(self.params[name].default, want, name)


if __name__ == "__main__":
    unittest.main()
