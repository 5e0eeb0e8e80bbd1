"""skylog.CloudWatchLogHandler takes watchtower's constructor arguments: how each one maps."""

import datetime
import logging
import os
import socket
import sys
import unittest
import warnings

import skylog

# No test here sends anything: the sink contacts AWS only to send, and nothing is logged.
BASE = {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"}


def make(test, **kw):
    args = dict(BASE)
    args.update(kw)
    h = skylog.CloudWatchLogHandler(**args)
    test.addCleanup(h.close)
    return h


class Mapping(unittest.TestCase):
    def test_defaults_as_watchtower(self):
        h = make(self)
        o = h.mapped_options
        prog = os.path.basename(sys.argv[0])
        self.assertEqual(o["log_group"], "watchtower")
        self.assertEqual(o["log_stream"], "{hostname}/" + prog + "/{logger}/{pid}")
        self.assertEqual(o["flush_interval_ms"], 60000)
        self.assertEqual(o["max_batch_bytes"], 1048576)
        self.assertEqual(o["batch_size"], 10000)
        self.assertEqual(o["max_event_bytes"], 256 * 1024 + 26)
        self.assertFalse(o["no_create_group"])
        self.assertFalse(o["no_create_stream"])
        self.assertFalse(o["sync_upload"])
        self.assertEqual(o["retention_days"], 0)
        self.assertEqual(h.pipeline.max_message_bytes, 256 * 1024)
        self.assertIsInstance(h, logging.Handler)

    def test_every_argument(self):
        h = make(self, log_group_name="/app/prod", log_stream_name="{machine_name}-{strftime:%Y}",
                 use_queues=False, send_interval=datetime.timedelta(seconds=2.5),
                 max_batch_size=65536, max_batch_count=50, boto3_profile_name="p1",
                 create_log_group=False, create_log_stream=False, log_group_retention_days=7,
                 max_message_size=1000, level=logging.WARNING)
        o = h.mapped_options
        self.assertEqual(o["log_group"], "/app/prod")
        self.assertEqual(o["log_stream"], "{hostname}-{strftime:%Y}")
        self.assertTrue(o["sync_upload"])
        self.assertEqual(o["flush_interval_ms"], 2500)
        self.assertEqual((o["max_batch_bytes"], o["batch_size"]), (65536, 50))
        self.assertEqual(o["profile"], "p1")
        self.assertTrue(o["no_create_group"])
        self.assertTrue(o["no_create_stream"])
        self.assertEqual(o["retention_days"], 7)
        self.assertEqual(o["max_event_bytes"], 1026)
        self.assertEqual(h.level, logging.WARNING)
        # watchtower's attributes read back as given
        self.assertEqual((h.log_group_name, h.log_stream_name, h.use_queues, h.send_interval,
                          h.max_batch_size, h.max_batch_count, h.max_message_size,
                          h.create_log_group, h.create_log_stream, h.log_group_retention_days,
                          h.json_serialize_default),
                         ("/app/prod", "{machine_name}-{strftime:%Y}", False,
                          datetime.timedelta(seconds=2.5), 65536, 50, 1000, False, False, 7, None))
        # where watchtower warns, the handler's pipeline counts (nothing was logged here)
        st = h.pipeline.stats()
        self.assertEqual(st["python"], {"truncated": 0, "truncated_bytes": 0})
        self.assertEqual((st["cloudwatch"]["failures_in_a_row"], st["cloudwatch"]["last_error"]),
                         (0, ""))

    def test_logged_after_close_is_counted(self):
        # watchtower warns "Received message after logging system shutdown" and drops it
        h = make(self)
        log = logging.getLogger("closed." + str(id(h)))
        log.propagate = False
        log.addHandler(h)
        self.addCleanup(log.removeHandler, h)
        h.close()
        seen = []
        h.handleError = lambda record: seen.append(record.getMessage())
        log.warning("late")
        log.warning("later")
        self.assertEqual(h.dropped_closed, 2)
        h.handle(logging.LogRecord("x", logging.INFO, "p", 1, "m", (), None))
        self.assertEqual(h.dropped_closed, 3)
        self.assertEqual(seen, ["late", "later", "m"])  # reported as errors in emit, as before

    def test_deprecated_names(self):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            h = make(self, log_group="g1", stream_name="s1")
        self.assertEqual((h.mapped_options["log_group"], h.mapped_options["log_stream"]),
                         ("g1", "s1"))
        self.assertEqual([x.category for x in w], [DeprecationWarning, DeprecationWarning])

    def test_unmappable_arguments(self):
        with self.assertRaisesRegex(ValueError, "thread_name"):
            make(self, log_stream_name="{thread_name}")
        with self.assertRaisesRegex(ValueError, "unknown placeholder {nope}"):
            make(self, log_stream_name="a-{nope}")
        with self.assertRaisesRegex(ValueError, "max_batch_size"):
            make(self, max_batch_size=2 * 1048576)
        with self.assertRaisesRegex(ValueError, "max_batch_count"):
            make(self, max_batch_count=10001)
        with self.assertRaisesRegex(ValueError, "send_interval"):
            make(self, send_interval="soon")
        with self.assertRaises(TypeError):
            make(self, no_such_argument=1)
        with self.assertWarns(skylog.SkylogWarning):
            make(self, log_group_tags={"team": "a"})
        with self.assertRaisesRegex(skylog.SkylogError, "log group|log_group"):
            make(self, log_group_name="bad group name!")

    def test_boto3_client_maps_region_endpoint_and_explicit_keys(self):
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
        with self.assertRaisesRegex(ValueError, "'logs' client"):
            skylog.CloudWatchLogHandler(boto3_client=boto3.session.Session(
                region_name="us-east-1").client("s3"))

    def test_machine_name_is_the_hostname(self):
        # skylog's {hostname} is gethostname(), as watchtower's {machine_name} (platform.node())
        self.assertEqual(socket.gethostname(), __import__("platform").node())


if __name__ == "__main__":
    unittest.main()
