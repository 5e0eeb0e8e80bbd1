"""`skylog serve` when its SQLite store fails (server/logs_api.c, server/metrics_api.c).

A failing store is the server's fault, not the request's: the reply is a 500 with the type AWS
uses when it cannot complete a request (ServiceUnavailableException for CloudWatch Logs,
InternalServiceError for CloudWatch metrics), so that clients retry, and the message says what
SQLite said. In particular a lookup that cannot run is not "does not exist", and a failure
inside a transaction is reported with its own message, not the "not an error" SQLite says
after the rollback.

The failures are real: another connection drops one of the store's tables while the server
runs, so the server's next statement on it fails with "no such table"; and a full disk is a
small tmpfs mounted in a private mount namespace (`unshare -rm`, skipped where not allowed).
"""

import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

import skyharness as sh


def drop_table(server, table):
    con = sqlite3.connect(os.path.join(server.data_dir, "serve.db"), timeout=30)
    try:
        con.execute(f"DROP TABLE {table}")
        con.commit()
    finally:
        con.close()


class StoreErrors(unittest.TestCase):
    def start(self):
        srv = sh.start_server(self)
        for op, payload in [("CreateLogGroup", {"logGroupName": "g"}),
                            ("CreateLogStream", {"logGroupName": "g", "logStreamName": "s"}),
                            ("PutLogEvents", {"logGroupName": "g", "logStreamName": "s",
                                              "logEvents": [{"timestamp": sh.now_ms(),
                                                             "message": "m"}]})]:
            resp = sh.logs_call(srv, op, payload)
            self.assertEqual(resp.status, 200, resp)
        return srv

    def assertStoreError(self, resp, table):
        self.assertEqual(resp.status, 500, resp)
        self.assertEqual(resp.error_type, "ServiceUnavailableException", resp)
        self.assertEqual(resp.json["message"], f"store error: no such table: {table}", resp)

    def test_lookups_that_cannot_run_are_not_missing_resources(self):
        srv = self.start()
        drop_table(srv, "log_streams")
        put = {"logGroupName": "g", "logStreamName": "s",
               "logEvents": [{"timestamp": sh.now_ms(), "message": "m"}]}
        for op, payload in [
                ("PutLogEvents", put),  # the stream lookup (was: ResourceNotFoundException)
                ("GetLogEvents", {"logGroupName": "g", "logStreamName": "s"}),
                ("CreateLogStream", {"logGroupName": "g", "logStreamName": "s2"}),
                ("DeleteLogStream", {"logGroupName": "g", "logStreamName": "s"})]:
            with self.subTest(op=op):
                self.assertStoreError(sh.logs_call(srv, op, payload), "log_streams")
        drop_table(srv, "log_groups")
        for op, payload in [("CreateLogGroup", {"logGroupName": "h"}),
                            ("DescribeLogStreams", {"logGroupName": "g"}),
                            ("PutRetentionPolicy", {"logGroupName": "g", "retentionInDays": 7})]:
            with self.subTest(op=op):
                self.assertStoreError(sh.logs_call(srv, op, payload), "log_groups")

    def test_a_failed_transaction_reports_its_own_error(self):
        srv = self.start()
        drop_table(srv, "events")
        # DeleteLogStream updates the group's size from the stream's events, inside a
        # transaction that it then rolls back
        resp = sh.logs_call(srv, "DeleteLogStream", {"logGroupName": "g", "logStreamName": "s"})
        self.assertStoreError(resp, "events")
        resp = sh.logs_call(srv, "PutLogEvents",
                            {"logGroupName": "g", "logStreamName": "s",
                             "logEvents": [{"timestamp": sh.now_ms(), "message": "m"}]})
        self.assertStoreError(resp, "events")
        # the failures kept no lock: the group still answers
        resp = sh.logs_call(srv, "DescribeLogStreams", {"logGroupName": "g"})
        self.assertEqual(resp.status, 200, resp)

    def test_metrics_store_errors(self):
        srv = sh.start_server(self)
        cw = sh.boto3_client(self, srv, "cloudwatch")
        cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m", "Value": 1.0}])
        drop_table(srv, "datapoints")
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m", "Value": 2.0}])
        err = cm.exception.response
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 500, err)
        self.assertEqual(err["Error"]["Code"], "InternalServiceError", err)
        self.assertEqual(err["Error"]["Message"], "store error: no such table: datapoints", err)


def can_mount_tmpfs():
    if not shutil.which("unshare"):
        return False
    d = tempfile.mkdtemp(prefix="skytmpfs-")
    try:
        return subprocess.run(["unshare", "-rm", "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                               d], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        os.rmdir(d)


class SmallDiskServer(sh.Server):
    """skylog serve whose data directory is a tmpfs of `size` in its own mount namespace."""

    def __init__(self, size, **kw):
        super().__init__(**kw)
        self.size = size

    def command(self):
        os.makedirs(self.data_dir, exist_ok=True)
        return ["unshare", "-rm", "sh", "-c",
                f'mount -t tmpfs -o size={self.size} tmpfs "$0" && exec "$@"',
                self.data_dir] + super().command()


@unittest.skipUnless(can_mount_tmpfs(), "cannot mount a tmpfs in a user namespace here")
class FullDisk(unittest.TestCase):
    def put(self, srv, group):
        return sh.logs_call(srv, "PutLogEvents", {
            "logGroupName": group, "logStreamName": "s",
            "logEvents": [{"timestamp": sh.now_ms(), "message": "x" * 1000}] * 500})

    def full_server(self):
        """A server whose 32 MiB disk has been filled with the events of groups a and b."""
        srv = SmallDiskServer("32m", verbose=False)
        self.addCleanup(srv.cleanup)
        srv.start()
        for g in ("a", "b"):
            self.assertEqual(sh.logs_call(srv, "CreateLogGroup", {"logGroupName": g}).status, 200)
            sh.logs_call(srv, "CreateLogStream", {"logGroupName": g, "logStreamName": "s"})
        for i in range(200):  # 500 KB a call: 32 MiB is full long before
            resp = self.put(srv, "ab"[i % 2])
            if resp.status != 200:
                break
        self.assertEqual(resp.status, 500, resp)
        self.assertEqual(resp.json["message"], "store error: database or disk is full", resp)
        return srv

    # Deleting is how a user frees space, and it needs space itself (WAL pages): it used to
    # fail with "database or disk is full" like everything else.
    def test_deleting_a_group_works_on_a_full_disk(self):
        srv = self.full_server()
        resp = sh.logs_call(srv, "DeleteLogGroup", {"logGroupName": "a"})
        self.assertEqual(resp.status, 200, resp)
        groups = sh.logs_call(srv, "DescribeLogGroups", {}).json["logGroups"]
        self.assertEqual([g["logGroupName"] for g in groups], ["b"])
        self.assertEqual(self.put(srv, "b").status, 200)  # the space is usable again
        self.assertEqual(srv.stop(), 0, srv.stderr_text())

    def test_deleting_a_stream_works_on_a_full_disk(self):
        srv = self.full_server()
        before = sh.logs_call(srv, "DescribeLogGroups", {}).json["logGroups"]
        resp = sh.logs_call(srv, "DeleteLogStream", {"logGroupName": "b", "logStreamName": "s"})
        self.assertEqual(resp.status, 200, resp)
        after = sh.logs_call(srv, "DescribeLogGroups", {}).json["logGroups"]
        self.assertEqual([g["storedBytes"] for g in after], [before[0]["storedBytes"], 0])
        resp = sh.logs_call(srv, "DescribeLogStreams", {"logGroupName": "b"})
        self.assertEqual(resp.json["logStreams"], [])
        self.assertEqual(self.put(srv, "a").status, 200)
        self.assertEqual(srv.stop(), 0, srv.stderr_text())


if __name__ == "__main__":
    unittest.main()
