"""CloudWatch metrics API of `skylog serve`: the AWS CLI (awsJson1.0, what botocore picks for
`cloudwatch`), the awsQuery form with XML answers, gzip bodies, limits, and EMF log events."""

import datetime
import gzip
import json
import time
import unittest
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import skyharness as sh

NS_XML = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class MetricsBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls)

    def setUp(self):
        self.cw = sh.boto3_client(self, self.srv, "cloudwatch")
        self.ns = f"Test/{uuid.uuid4().hex[:8]}"

    def query(self, params, gz=False):
        body = urllib.parse.urlencode({"Version": "2010-08-01", **params}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        if gz:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return sh.raw_request(self.srv, "POST", "/", body, headers)

    def json10(self, op, payload, gz=False):
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/x-amz-json-1.0",
                   "X-Amz-Target": f"GraniteServiceVersion20100801.{op}"}
        if gz:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return sh.raw_request(self.srv, "POST", "/", body, headers)

    def stats(self, name, dims=(), period=3600, stats=("SampleCount", "Sum", "Average",
                                                       "Minimum", "Maximum")):
        now = time.time()
        out = self.cw.get_metric_statistics(
            Namespace=self.ns, MetricName=name, Dimensions=list(dims), StartTime=now - 1800,
            EndTime=now + 1800, Period=period, Statistics=list(stats))
        return out["Datapoints"]


class CliTest(MetricsBase):
    def test_put_list_get_through_the_aws_cli(self):
        aws = lambda *a, **kw: sh.aws(self, self.srv, "cloudwatch", *a, **kw)
        aws("put-metric-data", "--namespace", self.ns, "--metric-name", "Latency", "--value",
            "12", "--unit", "Milliseconds", "--dimensions", "Host=a,Env=prod")
        aws("put-metric-data", "--namespace", self.ns, "--metric-name", "Latency",
            "--statistic-values", "SampleCount=3,Sum=90,Minimum=10,Maximum=50", "--unit",
            "Milliseconds", "--dimensions", "Host=a,Env=prod")
        aws("put-metric-data", "--namespace", self.ns, "--metric-data", json.dumps([
            {"MetricName": "Latency", "Dimensions": [{"Name": "Host", "Value": "b"}],
             "Values": [1, 2, 3], "Counts": [1, 1, 2], "Unit": "Milliseconds",
             "StorageResolution": 1}]))
        out = aws("list-metrics", "--namespace", self.ns)
        self.assertEqual(len(out["Metrics"]), 2)
        out = aws("list-metrics", "--namespace", self.ns, "--dimensions", "Name=Host,Value=b")
        self.assertEqual([m["Dimensions"] for m in out["Metrics"]],
                         [[{"Name": "Host", "Value": "b"}]])
        out = aws("list-metrics", "--namespace", self.ns, "--metric-name", "Nope")
        self.assertEqual(out["Metrics"], [])

        now = time.time()
        out = aws("get-metric-statistics", "--namespace", self.ns, "--metric-name", "Latency",
                  "--dimensions", "Name=Env,Value=prod", "Name=Host,Value=a",
                  "--start-time", iso(now - 1800), "--end-time", iso(now + 1800),
                  "--period", "3600", "--statistics", "SampleCount", "Sum", "Average",
                  "Minimum", "Maximum")
        dp, = out["Datapoints"]
        self.assertEqual((dp["SampleCount"], dp["Sum"], dp["Minimum"], dp["Maximum"]),
                         (4.0, 102.0, 10.0, 50.0))
        self.assertAlmostEqual(dp["Average"], 25.5)
        self.assertEqual(dp["Unit"], "Milliseconds")

        q = [{"Id": "b", "MetricStat": {"Metric": {"Namespace": self.ns, "MetricName": "Latency",
                                                   "Dimensions": [{"Name": "Host",
                                                                   "Value": "b"}]},
                                        "Period": 60, "Stat": "Sum"}}]
        out = aws("get-metric-data", "--metric-data-queries", json.dumps(q), "--start-time",
                  iso(now - 600), "--end-time", iso(now + 600))
        res, = out["MetricDataResults"]
        self.assertEqual((res["Id"], res["StatusCode"], res["Values"]), ("b", "Complete", [9.0]))

        aws("put-metric-data", "--namespace", self.ns, "--metric-name", "X", "--value", "1",
            "--unit", "Furlongs", expect_error="InvalidParameterValue")
        aws("put-metric-data", "--namespace", "AWS/EC2", "--metric-name", "X", "--value", "1",
            expect_error="InvalidParameterValue")


class PutMetricDataRulesTest(MetricsBase):
    def put(self, datums, ns=None):
        return self.json10("PutMetricData", {"Namespace": ns or self.ns, "MetricData": datums})

    def assertQueryError(self, r, code, status=400):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers.get("x-amzn-query-error", "").split(";")[0], code, r)

    def test_limits(self):
        one = {"MetricName": "m", "Value": 1}
        self.assertEqual(self.put([one] * 1000).status, 200)
        self.assertQueryError(self.put([one] * 1001), "InvalidParameterValue")
        dims = [{"Name": f"d{i}", "Value": "v"} for i in range(31)]
        self.assertQueryError(self.put([{**one, "Dimensions": dims}]), "InvalidParameterValue")
        self.assertEqual(self.put([{**one, "Dimensions": dims[:30]}]).status, 200)
        self.assertQueryError(self.put([{"MetricName": "m", "Values": [1] * 151}]),
                              "InvalidParameterValue")
        self.assertEqual(self.put([{"MetricName": "m", "Values": [1] * 150}]).status, 200)
        self.assertQueryError(self.put([{"MetricName": "m", "Values": [1, 2], "Counts": [1]}]),
                              "InvalidParameterValue")
        self.assertQueryError(self.put([{**one, "StorageResolution": 5}]),
                              "InvalidParameterValue")
        self.assertEqual(self.put([{**one, "StorageResolution": 60}]).status, 200)
        self.assertQueryError(self.put([{**one, "Unit": "Parsecs"}]), "InvalidParameterValue")
        self.assertQueryError(self.put([{**one, "StatisticValues": {
            "SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}]),
            "InvalidParameterCombination")
        self.assertQueryError(self.put([{"MetricName": "m"}]), "MissingParameter")
        self.assertQueryError(self.put([{"Value": 1}]), "MissingParameter")
        self.assertQueryError(self.put([{**one, "Timestamp": time.time() - 15 * 86400}]),
                              "InvalidParameterValue")
        self.assertQueryError(self.put([{**one, "Timestamp": time.time() + 3 * 3600}]),
                              "InvalidParameterValue")
        self.assertQueryError(self.json10("PutMetricData", {"MetricData": [one]}),
                              "MissingParameter")
        big = [{"MetricName": "m" * 200, "Value": 1,
                "Dimensions": [{"Name": f"d{i}", "Value": "v" * 150} for i in range(30)]}] * 250
        self.assertQueryError(self.put(big), "RequestEntityTooLarge", status=413)
        # Nothing from the rejected calls was stored: only the accepted ones count.
        total = sum(dp["SampleCount"] for dp in self.stats("m", stats=["SampleCount"]))
        self.assertEqual(total, 1000 + 150 + 1)

    def test_errors_through_boto3(self):
        with self.assertRaises(self.cw.exceptions.InvalidParameterValueException):
            self.cw.put_metric_data(Namespace=self.ns, MetricData=[
                {"MetricName": "m", "Value": 1, "Unit": "Bogus"}])
        with self.assertRaises(self.cw.exceptions.InvalidParameterCombinationException):
            self.cw.put_metric_data(Namespace=self.ns, MetricData=[
                {"MetricName": "m", "Value": 1, "Values": [1.0]}])

    def test_gzip_bodies(self):
        r = self.json10("PutMetricData", {"Namespace": self.ns, "MetricData": [
            {"MetricName": "gz", "Value": 5}]}, gz=True)
        self.assertEqual(r.status, 200, r)
        r = self.query({"Action": "PutMetricData", "Namespace": self.ns,
                        "MetricData.member.1.MetricName": "gz",
                        "MetricData.member.1.Value": "7"}, gz=True)
        self.assertEqual(r.status, 200, r)
        # botocore compresses PutMetricData bodies over 10 KiB by itself.
        self.cw.put_metric_data(Namespace=self.ns, MetricData=[
            {"MetricName": "gz", "Value": 1, "Dimensions": [{"Name": "pad", "Value": "x" * 200}]}
        ] * 100)
        self.assertEqual(self.stats("gz")[0]["Sum"], 12)
        r = sh.raw_request(self.srv, "POST", "/", b"not gzip", {
            "Content-Type": "application/x-amz-json-1.0", "Content-Encoding": "gzip",
            "X-Amz-Target": "GraniteServiceVersion20100801.PutMetricData"})
        self.assertEqual(r.status, 400)


class QueryProtocolTest(MetricsBase):
    def test_put_list_and_statistics_in_the_query_form(self):
        r = self.query({"Action": "PutMetricData", "Namespace": self.ns,
                        "MetricData.member.1.MetricName": "Hits",
                        "MetricData.member.1.Value": "3", "MetricData.member.1.Unit": "Count",
                        "MetricData.member.1.Dimensions.member.1.Name": "Page",
                        "MetricData.member.1.Dimensions.member.1.Value": "/home",
                        "MetricData.member.2.MetricName": "Hits",
                        "MetricData.member.2.Values.member.1": "1",
                        "MetricData.member.2.Values.member.2": "4",
                        "MetricData.member.2.Counts.member.1": "2",
                        "MetricData.member.2.Counts.member.2": "1",
                        "MetricData.member.2.Unit": "Count",
                        "MetricData.member.2.Dimensions.member.1.Name": "Page",
                        "MetricData.member.2.Dimensions.member.1.Value": "/home",
                        "MetricData.member.2.Timestamp": iso(time.time() - 60)})
        self.assertEqual(r.status, 200, r)
        root = ET.fromstring(r.body)
        self.assertEqual(root.tag, NS_XML + "PutMetricDataResponse")
        self.assertIsNotNone(root.find(f"{NS_XML}ResponseMetadata/{NS_XML}RequestId"))

        r = self.query({"Action": "ListMetrics", "Namespace": self.ns,
                        "Dimensions.member.1.Name": "Page"})
        self.assertEqual(r.status, 200, r)
        root = ET.fromstring(r.body)
        members = root.findall(f"{NS_XML}ListMetricsResult/{NS_XML}Metrics/{NS_XML}member")
        self.assertEqual(len(members), 1)
        self.assertEqual(members[0].find(NS_XML + "MetricName").text, "Hits")

        now = time.time()
        r = self.query({"Action": "GetMetricStatistics", "Namespace": self.ns,
                        "MetricName": "Hits", "Dimensions.member.1.Name": "Page",
                        "Dimensions.member.1.Value": "/home", "StartTime": iso(now - 1800),
                        "EndTime": iso(now + 1800), "Period": "3600",
                        "Statistics.member.1": "Sum", "Statistics.member.2": "SampleCount"})
        self.assertEqual(r.status, 200, r)
        dp = ET.fromstring(r.body).find(
            f"{NS_XML}GetMetricStatisticsResult/{NS_XML}Datapoints/{NS_XML}member")
        self.assertEqual(float(dp.find(NS_XML + "Sum").text), 9.0)
        self.assertEqual(float(dp.find(NS_XML + "SampleCount").text), 4.0)
        self.assertRegex(dp.find(NS_XML + "Timestamp").text, r"^\d{4}-\d\d-\d\dT.*Z$")

    def test_cbor_protocol_is_refused_clearly(self):
        r = sh.raw_request(self.srv, "POST",
                           "/service/GraniteServiceVersion20100801/operation/PutMetricData",
                           b"\xa0", {"Content-Type": "application/cbor",
                                     "smithy-protocol": "rpc-v2-cbor"})
        self.assertEqual(r.status, 415)
        self.assertIn("cbor", r.json["message"])

    def test_query_errors_are_xml(self):
        r = self.query({"Action": "PutMetricData", "Namespace": self.ns,
                        "MetricData.member.1.MetricName": "x",
                        "MetricData.member.1.Value": "1",
                        "MetricData.member.1.Unit": "Bogus"})
        self.assertEqual(r.status, 400)
        err = ET.fromstring(r.body).find(f"{NS_XML}Error")
        self.assertEqual(err.find(NS_XML + "Code").text, "InvalidParameterValue")
        self.assertEqual(err.find(NS_XML + "Type").text, "Sender")
        r = self.query({"Action": "DeleteEverything"})
        self.assertEqual(ET.fromstring(r.body).find(f"{NS_XML}Error/{NS_XML}Code").text,
                         "InvalidAction")


class StatisticsTest(MetricsBase):
    def test_periods_and_get_metric_data_order(self):
        base = int(time.time()) // 60 * 60 - 600
        self.cw.put_metric_data(Namespace=self.ns, MetricData=[
            {"MetricName": "q", "Value": v, "Timestamp": base + off}
            for off, v in [(0, 1), (10, 3), (60, 10), (130, 100)]])
        out = self.cw.get_metric_statistics(Namespace=self.ns, MetricName="q",
                                            StartTime=base, EndTime=base + 180, Period=60,
                                            Statistics=["Sum", "Maximum"])
        got = sorted((dp["Timestamp"].timestamp(), dp["Sum"], dp["Maximum"])
                     for dp in out["Datapoints"])
        self.assertEqual(got, [(base, 4, 3), (base + 60, 10, 10), (base + 120, 100, 100)])
        out = self.cw.get_metric_data(
            MetricDataQueries=[{"Id": "a", "MetricStat": {
                "Metric": {"Namespace": self.ns, "MetricName": "q"}, "Period": 60,
                "Stat": "Average"}, "Label": "avg"}],
            StartTime=base, EndTime=base + 180, ScanBy="TimestampAscending")
        res = out["MetricDataResults"][0]
        self.assertEqual(res["Label"], "avg")
        self.assertEqual(res["Values"], [2, 10, 100])
        self.assertEqual([t.timestamp() for t in res["Timestamps"]],
                         [base, base + 60, base + 120])
        with self.assertRaises(self.cw.exceptions.InvalidParameterCombinationException):
            self.cw.get_metric_statistics(Namespace=self.ns, MetricName="q", StartTime=base,
                                          EndTime=base + 86400, Period=1,
                                          Statistics=["Sum"])


class EmfTest(MetricsBase):
    def test_emf_log_events_become_metrics(self):
        logs = sh.boto3_client(self, self.srv, "logs")
        g = f"emf-{uuid.uuid4().hex[:8]}"
        logs.create_log_group(logGroupName=g)
        logs.create_log_stream(logGroupName=g, logStreamName="s")
        now = sh.now_ms()
        emf = lambda ms, ts: json.dumps({
            "_aws": {"Timestamp": ts, "CloudWatchMetrics": [{
                "Namespace": self.ns, "Dimensions": [["Service"], ["Service", "Op"]],
                "Metrics": [{"Name": "Duration", "Unit": "Milliseconds"},
                            {"Name": "Sizes", "Unit": "Bytes"}]}]},
            "Service": "api", "Op": "get", "Duration": ms, "Sizes": [10, 30]})
        logs.put_log_events(logGroupName=g, logStreamName="s", logEvents=[
            {"timestamp": now, "message": emf(100, now)},
            {"timestamp": now, "message": emf(300, now)},
            {"timestamp": now, "message": "not json at all, CloudWatchMetrics"},
            {"timestamp": now, "message": '{"_aws": {"CloudWatchMetrics": "broken"}}'}])
        got = logs.get_log_events(logGroupName=g, logStreamName="s")["events"]
        self.assertEqual(len(got), 4)  # EMF events are still log events
        metrics = self.cw.list_metrics(Namespace=self.ns)["Metrics"]
        self.assertEqual(len(metrics), 4)  # 2 metrics x 2 dimension sets
        dp, = self.stats("Duration", dims=[{"Name": "Service", "Value": "api"}])
        self.assertEqual((dp["SampleCount"], dp["Average"], dp["Unit"]),
                         (2, 200, "Milliseconds"))
        dp, = self.stats("Sizes", dims=[{"Name": "Service", "Value": "api"},
                                        {"Name": "Op", "Value": "get"}])
        self.assertEqual((dp["SampleCount"], dp["Sum"], dp["Maximum"]), (4, 80, 30))

    def test_emf_value_arrays_have_exact_percentiles(self):
        # Two events' arrays in one period, plus a single value: percentiles by nearest rank
        # over all 151 samples, computed here.
        logs = sh.boto3_client(self, self.srv, "logs")
        g = f"emf-{uuid.uuid4().hex[:8]}"
        logs.create_log_group(logGroupName=g)
        logs.create_log_stream(logGroupName=g, logStreamName="s")
        t = (int(time.time()) // 60 - 3) * 60
        arrays = [[(i * 37) % 101 for i in range(100)], [500 + i for i in range(50)], 7]
        emf = lambda v: json.dumps({
            "_aws": {"Timestamp": t * 1000 + 1000, "CloudWatchMetrics": [{
                "Namespace": self.ns, "Dimensions": [["Service"]],
                "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}]}]},
            "Service": "api", "Latency": v})
        logs.put_log_events(logGroupName=g, logStreamName="s", logEvents=[
            {"timestamp": t * 1000 + 1000, "message": emf(v)} for v in arrays])
        samples = sorted(arrays[0] + arrays[1] + [arrays[2]])
        rank = lambda p: samples[max(1, -(-len(samples) * p // 100)) - 1]
        dims = [{"Name": "Service", "Value": "api"}]
        out = self.cw.get_metric_statistics(Namespace=self.ns, MetricName="Latency",
                                            Dimensions=dims, StartTime=t, EndTime=t + 60,
                                            Period=60, ExtendedStatistics=["p50", "p90", "p99"])
        dp, = out["Datapoints"]
        self.assertEqual(dp["ExtendedStatistics"],
                         {"p50": rank(50), "p90": rank(90), "p99": rank(99)})
        out = self.cw.get_metric_data(MetricDataQueries=[{"Id": "q", "MetricStat": {
            "Metric": {"Namespace": self.ns, "MetricName": "Latency", "Dimensions": dims},
            "Period": 60, "Stat": "p75"}}], StartTime=t, EndTime=t + 60)
        self.assertEqual(out["MetricDataResults"][0]["Values"], [rank(75)])


if __name__ == "__main__":
    unittest.main()


class FidelityTest(MetricsBase):
    """Answers compared with real AWS recordings (issue 14), each as the API reference says."""

    def test_several_queries_on_one_metric_are_labelled_with_their_statistic(self):
        now = time.time()
        self.cw.put_metric_data(Namespace=self.ns, MetricData=[
            {"MetricName": "lat", "Value": 5}, {"MetricName": "other", "Value": 1}])
        metric = {"Namespace": self.ns, "MetricName": "lat"}
        q = [{"Id": "a", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Average"}},
             {"Id": "b", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Maximum"}},
             {"Id": "c", "MetricStat": {"Metric": metric, "Period": 60, "Stat": "Sum"},
              "Label": "mine"},
             {"Id": "d", "MetricStat": {"Metric": {**metric, "MetricName": "other"},
                                        "Period": 60, "Stat": "Sum"}}]
        out = self.cw.get_metric_data(MetricDataQueries=q, StartTime=now - 600,
                                      EndTime=now + 600)
        labels = {r["Id"]: r["Label"] for r in out["MetricDataResults"]}
        self.assertEqual(labels, {"a": "lat Average", "b": "lat Maximum", "c": "mine",
                                  "d": "other"})

    def test_mixed_units_give_one_datapoint_per_unit(self):
        now = time.time()
        self.cw.put_metric_data(Namespace=self.ns, MetricData=[
            {"MetricName": "size", "Value": 1, "Unit": "Bytes"},
            {"MetricName": "size", "Value": 3, "Unit": "Bytes"},
            {"MetricName": "size", "Value": 2, "Unit": "Kilobytes"}])
        got = sorted((dp["Unit"], dp["Sum"], dp["SampleCount"]) for dp in self.stats("size"))
        self.assertEqual(got, [("Bytes", 4.0, 2.0), ("Kilobytes", 2.0, 1.0)])
        # With a Unit, only that unit's data.
        out = self.cw.get_metric_statistics(
            Namespace=self.ns, MetricName="size", StartTime=now - 1800, EndTime=now + 1800,
            Period=3600, Statistics=["Sum"], Unit="Kilobytes")
        self.assertEqual([(d["Unit"], d["Sum"]) for d in out["Datapoints"]],
                         [("Kilobytes", 2.0)])

    def test_an_empty_dimensions_list_in_the_query_form_is_valid(self):
        now = time.time()
        # botocore serialises an empty list as "Dimensions=" (no members).
        from botocore.serialize import create_serializer
        model = self.cw.meta.service_model.operation_model("GetMetricStatistics")
        ser = create_serializer("query").serialize_to_request(
            {"Namespace": self.ns, "MetricName": "m", "Dimensions": [],
             "StartTime": iso(now - 1800), "EndTime": iso(now + 1800), "Period": 3600,
             "Statistics": ["Sum"]}, model)
        self.assertIn("Dimensions", ser["body"])
        self.assertEqual(ser["body"]["Dimensions"], "")
        r = self.query({"Action": "PutMetricData", "Namespace": self.ns,
                        "MetricData.member.1.MetricName": "m", "MetricData.member.1.Value": "7",
                        "MetricData.member.1.Dimensions": ""})
        self.assertEqual(r.status, 200, r)
        r = self.query({k: v for k, v in ser["body"].items() if k != "Version"})
        self.assertEqual(r.status, 200, r)
        dp = ET.fromstring(r.body).find(
            f"{NS_XML}GetMetricStatisticsResult/{NS_XML}Datapoints/{NS_XML}member")
        self.assertEqual(float(dp.find(NS_XML + "Sum").text), 7.0)
        r = self.query({"Action": "ListMetrics", "Namespace": self.ns, "Dimensions": ""})
        self.assertEqual(r.status, 200, r)

    def test_values_with_statistic_values_are_accepted(self):
        r = self.json10("PutMetricData", {"Namespace": self.ns, "MetricData": [
            {"MetricName": "h", "StatisticValues": {"SampleCount": 4, "Sum": 10, "Minimum": 1,
                                                    "Maximum": 4},
             "Values": [1, 2, 3, 4]}]})
        self.assertEqual(r.status, 200, r)
        dp, = self.stats("h")
        self.assertEqual((dp["SampleCount"], dp["Sum"], dp["Minimum"], dp["Maximum"]),
                         (4.0, 10.0, 1.0, 4.0))
        now = time.time()
        out = self.cw.get_metric_statistics(Namespace=self.ns, MetricName="h",
                                            StartTime=now - 1800, EndTime=now + 1800,
                                            Period=3600, ExtendedStatistics=["p50", "p75"])
        self.assertEqual(out["Datapoints"][0]["ExtendedStatistics"], {"p50": 2.0, "p75": 3.0})
        # A StatisticValues datum alone hides its distribution: no percentiles for its period.
        self.json10("PutMetricData", {"Namespace": self.ns, "MetricData": [
            {"MetricName": "s", "StatisticValues": {"SampleCount": 2, "Sum": 3, "Minimum": 1,
                                                    "Maximum": 2}}]})
        out = self.cw.get_metric_statistics(Namespace=self.ns, MetricName="s",
                                            StartTime=now - 1800, EndTime=now + 1800,
                                            Period=3600, ExtendedStatistics=["p50"])
        self.assertEqual(out["Datapoints"][0]["ExtendedStatistics"], {})
        # Value stays exclusive with both.
        r = self.json10("PutMetricData", {"Namespace": self.ns, "MetricData": [
            {"MetricName": "h", "Value": 1, "Values": [1]}]})
        self.assertEqual(r.headers.get("x-amzn-query-error", "").split(";")[0],
                         "InvalidParameterCombination")
        # Values beyond +-2^360 are refused, as the PutMetricData reference says.
        r = self.json10("PutMetricData", {"Namespace": self.ns, "MetricData": [
            {"MetricName": "h", "Value": 2.0 ** 361}]})
        self.assertEqual(r.status, 400, r)

    def test_query_error_bodies_carry_the_header_request_id(self):
        r = self.query({"Action": "PutMetricData", "Namespace": self.ns,
                        "MetricData.member.1.MetricName": "x",
                        "MetricData.member.1.Value": "1",
                        "MetricData.member.1.Unit": "Bogus"})
        self.assertEqual(r.status, 400)
        rid = ET.fromstring(r.body).find(f"{NS_XML}RequestId").text
        self.assertEqual(rid, r.headers["x-amzn-requestid"])
        r = self.query({"Action": "NoSuchThing"})
        self.assertEqual(ET.fromstring(r.body).find(f"{NS_XML}RequestId").text,
                         r.headers["x-amzn-requestid"])
