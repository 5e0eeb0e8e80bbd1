"""Malformed input never crashes `skylog serve`: seeded random payloads (wrong types, nesting,
huge numbers, garbage bytes) for every operation and endpoint must get an answer (any 4xx or
200), and the server must still answer correctly afterwards and exit cleanly (which, under
ASan/UBSan, also means no memory error or undefined behaviour was hit)."""

import json
import random
import unittest
import urllib.parse

import skyharness as sh

LOGS_OPS = {
    "CreateLogGroup": ["logGroupName"],
    "DeleteLogGroup": ["logGroupName"],
    "DescribeLogGroups": ["logGroupNamePrefix", "logGroupNamePattern", "limit", "nextToken"],
    "CreateLogStream": ["logGroupName", "logStreamName"],
    "DeleteLogStream": ["logGroupName", "logStreamName"],
    "DescribeLogStreams": ["logGroupName", "logGroupIdentifier", "logStreamNamePrefix",
                           "orderBy", "descending", "limit", "nextToken"],
    "PutRetentionPolicy": ["logGroupName", "retentionInDays"],
    "DeleteRetentionPolicy": ["logGroupName"],
    "PutLogEvents": ["logGroupName", "logStreamName", "logEvents", "sequenceToken"],
    "GetLogEvents": ["logGroupName", "logGroupIdentifier", "logStreamName", "startTime",
                     "endTime", "nextToken", "limit", "startFromHead"],
    "FilterLogEvents": ["logGroupName", "logGroupIdentifier", "logStreamNames",
                        "logStreamNamePrefix", "startTime", "endTime", "filterPattern",
                        "nextToken", "limit", "interleaved"],
    "StartQuery": ["logGroupName", "logGroupNames", "logGroupIdentifiers", "startTime",
                   "endTime", "queryString", "limit", "queryLanguage"],
    "GetQueryResults": ["queryId", "maxItems", "nextToken"],
    "StopQuery": ["queryId"],
    "DescribeQueries": ["logGroupName", "status", "maxResults", "nextToken"],
    "GetLogRecord": ["logRecordPointer"],
    "PutQueryDefinition": ["name", "queryDefinitionId", "logGroupNames", "queryString"],
    "DescribeQueryDefinitions": ["queryDefinitionNamePrefix", "maxResults", "nextToken"],
    "DeleteQueryDefinition": ["queryDefinitionId"],
}
METRIC_OPS = {
    "PutMetricData": ["Namespace", "MetricData"],
    "ListMetrics": ["Namespace", "MetricName", "Dimensions", "NextToken"],
    "GetMetricStatistics": ["Namespace", "MetricName", "Dimensions", "StartTime", "EndTime",
                            "Period", "Statistics", "ExtendedStatistics", "Unit"],
    "GetMetricData": ["MetricDataQueries", "StartTime", "EndTime", "ScanBy", "MaxDatapoints"],
}
INNER = ["timestamp", "message", "MetricName", "Value", "Values", "Counts", "Dimensions", "Name",
         "StatisticValues", "SampleCount", "Sum", "Minimum", "Maximum", "Unit", "Timestamp",
         "StorageResolution", "Id", "MetricStat", "Metric", "Stat", "Period", "ReturnData",
         "Label", "Namespace", "Expression"]


def rand_value(rng, depth=0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**63 - 1, -2**63, 10**30, 1.5, -0.0, 3600, 1e308])
    if kind == 3:
        return rng.choice(["", "g", "a:b*", "x" * 600, "é\u0000?", "f/" + "9" * 40, "o/-1",
                           "p/" + "0" * 40, "LastEventTime", "Sum", "{ $.a = ", "[a]",
                           "2024-01-01T00:00:00Z", "Count", "arn:aws:logs:r:a:log-group:",
                           "stats count() by bin(5m)", "filter a like /(/", "fields a |"])
    if kind in (4, 5):
        return rng.randrange(-10, 100000)
    if kind in (6, 7):
        return [rand_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(INNER): rand_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def rand_payload(rng, fields):
    return {f: rand_value(rng) for f in fields if rng.random() < 0.7}


class RobustnessTest(unittest.TestCase):
    def test_random_payloads(self):
        srv = sh.start_server(self)
        rng = random.Random(20261121)
        sh.logs_call(srv, "CreateLogGroup", {"logGroupName": "g"})
        sh.logs_call(srv, "CreateLogStream", {"logGroupName": "g", "logStreamName": "s"})
        for _ in range(1500):
            op = rng.choice(list(LOGS_OPS))
            r = sh.logs_call(srv, op, rand_payload(rng, LOGS_OPS[op]))
            self.assertIn(r.status, (200, 400), (op, r))
        for _ in range(800):
            op = rng.choice(list(METRIC_OPS))
            payload = rand_payload(rng, METRIC_OPS[op])
            r = sh.raw_request(srv, "POST", "/", json.dumps(payload), {
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": f"GraniteServiceVersion20100801.{op}"})
            self.assertIn(r.status, (200, 400), (op, payload, r))
            form = {"Action": op}
            for _ in range(rng.randrange(8)):
                key = ".".join(rng.choice(INNER + ["member", "1", "2", "0", "x"])
                               for _ in range(rng.randrange(1, 5)))
                form[key] = str(rand_value(rng))
            r = sh.raw_request(srv, "POST", "/", urllib.parse.urlencode(form),
                               {"Content-Type": "application/x-www-form-urlencoded"})
            self.assertIn(r.status, (200, 400), (op, form, r))
        for _ in range(100):
            garbage = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
            for path in ("/", "/ingest/bulk", "/v1/logs"):
                r = sh.raw_request(srv, "POST", path, garbage, {
                    "Content-Type": "application/x-amz-json-1.1",
                    "X-Amz-Target": "Logs_20140328.PutLogEvents",
                    "x-aws-log-group": "g", "x-aws-log-stream": "s"})
                self.assertIn(r.status, (200, 400), (path, garbage, r))
        # Still serving correctly.
        self.assertEqual(sh.logs_call(srv, "CreateLogGroup", {"logGroupName": "after"}).status,
                         200)
        r = sh.logs_call(srv, "DescribeLogGroups", {"logGroupNamePrefix": "after"})
        self.assertEqual([g["logGroupName"] for g in r.json["logGroups"]], ["after"])
        self.assertEqual(srv.stop(), 0, srv.stderr_text()[-3000:])

    def test_random_authorization_headers(self):
        srv = sh.start_server(self, auth="sigv4")
        rng = random.Random(7)
        parts = ["AWS4-HMAC-SHA256", "Credential=", "skylogtest/20260101/us-east-1/logs/"
                 "aws4_request", "SignedHeaders=host;x-amz-date", "Signature=" + "a" * 64, ",",
                 " ", "=", "/", ";", "Bearer", "x" * 300, "\t"]
        for _ in range(500):
            authz = "".join(rng.choice(parts) for _ in range(rng.randrange(8)))
            headers = {"Content-Type": "application/x-amz-json-1.1",
                       "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                       "Authorization": authz}
            if rng.random() < 0.5:
                headers["X-Amz-Date"] = rng.choice(["20260101T000000Z", "garbage", "",
                                                    "99999999T999999Z"])
            r = sh.raw_request(srv, "POST", "/", b"{}", headers)
            self.assertEqual(r.status, 400, (authz, r))
        self.assertEqual(srv.stop(), 0, srv.stderr_text()[-3000:])


if __name__ == "__main__":
    unittest.main()
