"""`skylog serve` when its SQLite store fails (server/logs_api.c, server/metrics_api.c).

A failing store is the server's fault, not the request's: the reply is a 500 with the type AWS
uses when it cannot complete a request (ServiceUnavailableException for CloudWatch Logs,
InternalServiceError for CloudWatch metrics), so that clients retry, and the message says what
SQLite said. In particular a lookup that cannot run is not "does not exist", and a failure
inside a transaction is reported with its own message, not the "not an error" SQLite says
after the rollback.

The failures are real: another connection drops one of the store's tables while the server
runs, so the server's next statement on it fails with "no such table".
"""

import os
import sqlite3
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


if __name__ == "__main__":
    unittest.main()
