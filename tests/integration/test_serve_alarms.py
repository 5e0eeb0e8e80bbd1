"""Alarms in `skylog serve` (issue 15), driven by the AWS CLI and boto3: a metric alarm going
OK -> ALARM -> OK as datapoints cross its threshold, with its history and recorded actions;
TreatMissingData variants; percentiles; composite alarms following their rule; Describe*
filters, SetAlarmState, Delete, Enable/DisableAlarmActions; the awsQuery form.

Nothing here depends on timing: the server runs with --alarm-interval 0 (no timer) and the
test evaluates through the test hook (POST /_skylog/evaluate-alarms?at=MS, enabled by
SKYLOG_SERVE_TEST_HOOKS=1) at times it chooses, with datapoints at times it chooses. Expected
states are worked out here from the datapoints, not read from the server."""

import json
import threading
import time
import unittest
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import skyharness as sh

NS_XML = "{http://monitoring.amazonaws.com/doc/2010-08-01/}"


class AlarmsBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls, extra_args=["--alarm-interval", "0"],
                                         env={"SKYLOG_SERVE_TEST_HOOKS": "1"})

    def setUp(self):
        self.cw = sh.boto3_client(self, self.srv, "cloudwatch")
        self.ns = f"Alarm/{uuid.uuid4().hex[:8]}"
        self.p = f"{uuid.uuid4().hex[:6]}-"          # alarm name prefix of this test
        # A whole minute, 30 minutes ago: every period below is complete and within the
        # 2 weeks PutMetricData accepts.
        self.t0 = (int(time.time()) // 60 - 30) * 60

    def cli(self, *args, **kw):
        return sh.aws(self, self.srv, "cloudwatch", *args, **kw)

    def evaluate(self, at_s):
        r = sh.raw_request(self.srv, "POST", f"/_skylog/evaluate-alarms?at={int(at_s * 1000)}")
        self.assertEqual(r.status, 200, r)
        return r.json["transitions"]

    def put(self, metric, ts, value, **kw):
        self.cw.put_metric_data(Namespace=self.ns, MetricData=[
            {"MetricName": metric, "Timestamp": ts, "Value": value, **kw}])

    def alarm(self, name, metric="m", stat="Maximum", period=60, n=1, m=None, threshold=50,
              op="GreaterThanThreshold", **kw):
        args = dict(AlarmName=self.p + name, Namespace=self.ns, MetricName=metric,
                    Period=period, EvaluationPeriods=n, Threshold=threshold,
                    ComparisonOperator=op, **kw)
        if stat.startswith("p"):
            args["ExtendedStatistic"] = stat
        else:
            args["Statistic"] = stat
        if m:
            args["DatapointsToAlarm"] = m
        self.cw.put_metric_alarm(**args)

    def state(self, name):
        out = self.cw.describe_alarms(AlarmNames=[self.p + name],
                                      AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        a, = out["MetricAlarms"] + out["CompositeAlarms"]
        return a["StateValue"]


class MetricAlarmTest(AlarmsBase):
    def test_ok_alarm_ok_with_history_and_actions(self):
        t0 = self.t0
        name = self.p + "HighLatency"
        self.cli("put-metric-alarm", "--alarm-name", name, "--namespace", self.ns,
                 "--metric-name", "Latency", "--statistic", "Maximum", "--period", "60",
                 "--evaluation-periods", "2", "--datapoints-to-alarm", "2", "--threshold", "50",
                 "--comparison-operator", "GreaterThanThreshold", "--alarm-actions",
                 "arn:aws:sns:us-east-1:123456789012:page", "--ok-actions",
                 "arn:aws:sns:us-east-1:123456789012:relax", "--alarm-description", "p50 high")
        out = self.cli("describe-alarms", "--alarm-names", name)
        a, = out["MetricAlarms"]
        self.assertEqual((a["StateValue"], a["StateReason"]),
                         ("INSUFFICIENT_DATA", "Unchecked: Initial alarm creation"))
        self.assertEqual((a["Threshold"], a["EvaluationPeriods"], a["DatapointsToAlarm"],
                          a["AlarmDescription"], a["Statistic"], a["ActionsEnabled"]),
                         (50.0, 2, 2, "p50 high", "Maximum", True))
        self.assertEqual(a["AlarmArn"], f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}")

        # (minute offset, value): the expected state after each evaluation is worked out from
        # the two complete minutes before `at`, both breaching (> 50) for ALARM.
        data = {0: 10, 1: 20, 2: 80, 3: 90, 4: 5}
        def expected(at_min):
            window = [data.get(k) for k in (at_min - 2, at_min - 1)]
            present = [v for v in window if v is not None]
            if not present:
                return "INSUFFICIENT_DATA"
            return "ALARM" if sum(v > 50 for v in present) >= min(2, len(present)) else "OK"

        self.evaluate(t0 + 120)              # nothing stored yet
        self.assertEqual(self.state("HighLatency"), "INSUFFICIENT_DATA")
        seen = []
        for upto, at_min in ((1, 2), (3, 4), (4, 5)):
            for k in range(upto + 1):
                if k not in [s for s, _ in seen]:
                    self.cli("put-metric-data", "--namespace", self.ns, "--metric-name",
                             "Latency", "--value", str(data[k]), "--timestamp",
                             str(t0 + 60 * k + 5))
                    seen.append((k, data[k]))
            self.evaluate(t0 + 60 * at_min)
            self.assertEqual(self.state("HighLatency"), expected(at_min), at_min)
        self.assertEqual([expected(m) for m in (2, 4, 5)], ["OK", "ALARM", "OK"])

        out = self.cli("describe-alarm-history", "--alarm-name", name, "--scan-by",
                       "TimestampAscending")
        items = [(i["HistoryItemType"], i["HistorySummary"]) for i in out["AlarmHistoryItems"]]
        self.assertEqual([t for t, _ in items], ["ConfigurationUpdate", "StateUpdate",
                                                 "Action", "StateUpdate", "Action",
                                                 "StateUpdate", "Action"])
        self.assertEqual([s for t, s in items if t == "StateUpdate"], [
            "Alarm updated from INSUFFICIENT_DATA to OK", "Alarm updated from OK to ALARM",
            "Alarm updated from ALARM to OK"])
        actions = [json.loads(i["HistoryData"])["notificationResource"]
                   for i in out["AlarmHistoryItems"] if i["HistoryItemType"] == "Action"]
        self.assertEqual(actions, ["arn:aws:sns:us-east-1:123456789012:relax",
                                   "arn:aws:sns:us-east-1:123456789012:page",
                                   "arn:aws:sns:us-east-1:123456789012:relax"])
        alarm_update = [json.loads(i["HistoryData"]) for i in out["AlarmHistoryItems"]
                        if i["HistorySummary"] == "Alarm updated from OK to ALARM"][0]
        self.assertEqual(alarm_update["newState"]["stateReasonData"]["recentDatapoints"],
                         [90.0, 80.0])
        self.assertIn("2 out of the last 2 datapoints", alarm_update["newState"]["stateReason"])
        out = self.cli("describe-alarm-history", "--alarm-name", name, "--history-item-type",
                       "StateUpdate", "--max-records", "1")
        self.assertEqual(len(out["AlarmHistoryItems"]), 1)
        self.assertEqual(out["AlarmHistoryItems"][0]["HistorySummary"],
                         "Alarm updated from ALARM to OK")   # newest first by default
        self.assertIn("NextToken", out)

        # Disabled actions: transitions are recorded, actions are not.
        self.cli("disable-alarm-actions", "--alarm-names", name)
        self.put("Latency", t0 + 60 * 5 + 5, 99)
        self.put("Latency", t0 + 60 * 6 + 5, 99)
        self.evaluate(t0 + 60 * 7)
        self.assertEqual(self.state("HighLatency"), "ALARM")
        out = self.cw.describe_alarm_history(AlarmName=name, HistoryItemType="Action")
        self.assertEqual(len(out["AlarmHistoryItems"]), 3)
        self.assertFalse(self.cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0][
            "ActionsEnabled"])
        self.cli("enable-alarm-actions", "--alarm-names", name)
        self.assertTrue(self.cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0][
            "ActionsEnabled"])

    def test_treat_missing_data(self):
        t0 = self.t0
        modes = ["missing", "ignore", "breaching", "notBreaching"]
        for mode in modes:
            self.alarm(mode, n=3, m=2, TreatMissingData=mode)
        self.alarm("default", n=3, m=2)
        self.put("m", t0 + 5, 80)             # minute 0 breaches; minutes 1 and 2 are missing
        self.evaluate(t0 + 180)
        # p = 1 present, b = 1 breaching of N = 3, M = 2 (rules in docs/SERVE.md):
        self.assertEqual({m: self.state(m) for m in modes + ["default"]},
                         {"missing": "ALARM",             # b >= min(M, p)
                          "ignore": "INSUFFICIENT_DATA",  # ALARM on fewer than M: kept
                          "breaching": "ALARM",           # b + missing = 3 >= 2
                          "notBreaching": "OK",           # b = 1 < 2
                          "default": "ALARM"})
        self.evaluate(t0 + 600)               # nothing in minutes 7..9
        self.assertEqual({m: self.state(m) for m in modes},
                         {"missing": "INSUFFICIENT_DATA", "ignore": "INSUFFICIENT_DATA",
                          "breaching": "ALARM", "notBreaching": "OK"})
        self.cw.set_alarm_state(AlarmName=self.p + "ignore", StateValue="OK",
                                StateReason="by hand")
        self.evaluate(t0 + 600)
        self.assertEqual(self.state("ignore"), "OK")   # no data: ignore keeps what it has

    def test_statistics_percentiles_and_operators(self):
        t0 = self.t0
        values = list(range(1, 101))             # p90 = 90 (nearest rank), average 50.5
        self.cw.put_metric_data(Namespace=self.ns, MetricData=[
            {"MetricName": "lat", "Timestamp": t0 + 5, "Values": values}])
        self.alarm("p90-over-89", metric="lat", stat="p90", threshold=89)
        self.alarm("p90-over-90", metric="lat", stat="p90", threshold=90)
        self.alarm("avg-ge", metric="lat", stat="Average", threshold=50.5,
                   op="GreaterThanOrEqualToThreshold")
        self.alarm("min-lt", metric="lat", stat="Minimum", threshold=1, op="LessThanThreshold")
        self.alarm("count-le", metric="lat", stat="SampleCount", threshold=100,
                   op="LessThanOrEqualToThreshold")
        self.evaluate(t0 + 60)
        self.assertEqual([self.state(n) for n in
                          ("p90-over-89", "p90-over-90", "avg-ge", "min-lt", "count-le")],
                         ["ALARM", "OK", "ALARM", "OK", "ALARM"])
        out = self.cw.get_metric_statistics(Namespace=self.ns, MetricName="lat",
                                            StartTime=t0, EndTime=t0 + 60, Period=60,
                                            ExtendedStatistics=["p90", "p50"])
        dp, = out["Datapoints"]
        self.assertEqual(dp["ExtendedStatistics"], {"p90": 90.0, "p50": 50.0})

    def test_describe_filters_for_metric_delete_and_set_state(self):
        self.alarm("a1", metric="x", Dimensions=[{"Name": "Host", "Value": "h1"}])
        self.alarm("a2", metric="x", stat="Sum", period=300)
        self.alarm("b1", metric="y", AlarmActions=["arn:aws:sns:us-east-1:1:ops"])
        names = lambda out: sorted(a["AlarmName"][len(self.p):] for a in out["MetricAlarms"])
        self.assertEqual(names(self.cli("describe-alarms", "--alarm-name-prefix", self.p + "a")),
                         ["a1", "a2"])
        self.assertEqual(names(self.cli("describe-alarms", "--alarm-name-prefix", self.p,
                                        "--action-prefix", "arn:aws:sns:us-east-1:1:")), ["b1"])
        self.cli("set-alarm-state", "--alarm-name", self.p + "a2", "--state-value", "ALARM",
                 "--state-reason", "testing", "--state-reason-data", '{"why": "test"}')
        out = self.cli("describe-alarms", "--alarm-name-prefix", self.p, "--state-value", "ALARM")
        self.assertEqual(names(out), ["a2"])
        self.assertEqual(out["MetricAlarms"][0]["StateReason"], "testing")
        self.assertEqual(json.loads(out["MetricAlarms"][0]["StateReasonData"]), {"why": "test"})
        out = self.cli("describe-alarms-for-metric", "--namespace", self.ns, "--metric-name",
                       "x", "--dimensions", "Name=Host,Value=h1")
        self.assertEqual(names(out), ["a1"])
        out = self.cli("describe-alarms-for-metric", "--namespace", self.ns, "--metric-name",
                       "x", "--statistic", "Sum")
        self.assertEqual(names(out), ["a2"])
        page = self.cw.describe_alarms(AlarmNamePrefix=self.p, MaxRecords=2)
        rest = self.cw.describe_alarms(AlarmNamePrefix=self.p, MaxRecords=2,
                                       NextToken=page["NextToken"])
        self.assertEqual(names(page) + names(rest), ["a1", "a2", "b1"])
        self.assertNotIn("NextToken", rest)
        self.cli("set-alarm-state", "--alarm-name", self.p + "nope", "--state-value", "OK",
                 "--state-reason", "x", expect_error="ResourceNotFound")
        self.cli("set-alarm-state", "--alarm-name", self.p + "a1", "--state-value", "OK",
                 "--state-reason", "x", "--state-reason-data", "{not json",
                 expect_error="InvalidFormat")
        # An unknown name is ignored: the alarms named correctly are still deleted, as the
        # current API reference says (older ones said nothing would be).
        self.cli("delete-alarms", "--alarm-names", self.p + "a1", self.p + "nope")
        self.assertEqual(names(self.cw.describe_alarms(AlarmNamePrefix=self.p)), ["a2", "b1"])
        self.cli("delete-alarms", "--alarm-names", self.p + "nope")
        self.cli("delete-alarms", "--alarm-names", self.p + "a1", self.p + "a2")
        self.assertEqual(names(self.cw.describe_alarms(AlarmNamePrefix=self.p)), ["b1"])
        # History outlives the alarm.
        out = self.cw.describe_alarm_history(AlarmName=self.p + "a2")
        self.assertTrue(out["AlarmHistoryItems"])

    def test_validation(self):
        base = ["--alarm-name", self.p + "v", "--namespace", self.ns, "--metric-name", "m",
                "--period", "60", "--evaluation-periods", "1", "--threshold", "1",
                "--comparison-operator", "GreaterThanThreshold"]
        self.cli("put-metric-alarm", *base, expect_error="InvalidParameterCombination")
        self.cli("put-metric-alarm", *base, "--statistic", "Sum", "--extended-statistic", "p9",
                 expect_error="InvalidParameterCombination")
        bad_period = [a if a != "60" else "45" for a in base]
        self.cli("put-metric-alarm", *bad_period, "--statistic", "Sum",
                 expect_error="InvalidParameterValue")
        self.cli("put-metric-alarm", *base, "--statistic", "Sum", "--datapoints-to-alarm", "2",
                 expect_error="InvalidParameterValue")
        self.cli("put-metric-alarm", *base, "--statistic", "Sum", "--treat-missing-data",
                 "sometimes", expect_error="InvalidParameterValue")
        self.cli("put-metric-alarm", *base, "--statistic", "Sum", "--alarm-actions",
                 "not-an-arn", expect_error="InvalidParameterValue")
        bad_op = [a if a != "GreaterThanThreshold" else "GreaterThanUpperThreshold"
                  for a in base]
        self.cli("put-metric-alarm", *bad_op, "--statistic", "Sum",
                 expect_error="InvalidParameterValue")


class CompositeAlarmTest(AlarmsBase):
    def test_composite_follows_its_rule(self):
        t0 = self.t0
        self.alarm("a", metric="A")
        self.alarm("b", metric="B")
        p = self.p
        self.cli("put-composite-alarm", "--alarm-name", p + "SystemUnhealthy", "--alarm-rule",
                 f"ALARM({p}a) AND ALARM({p}b)", "--alarm-actions",
                 "arn:aws:sns:us-east-1:123456789012:oncall")
        self.cw.put_composite_alarm(AlarmName=p + "either",
                                    AlarmRule=f'ALARM("{p}a") OR (ALARM({p}b) AND NOT OK({p}a))')
        self.cw.put_composite_alarm(AlarmName=p + "outer",
                                    AlarmRule=f"NOT ALARM({p}SystemUnhealthy)")
        rule = lambda a, b: {"SystemUnhealthy": a and b, "either": a or (b and a),
                             "outer": not (a and b)}
        # minute k: (A, B) values; > 50 breaches.
        steps = [(10, 10), (80, 10), (80, 90), (10, 90)]
        for k, (va, vb) in enumerate(steps):
            self.put("A", t0 + 60 * k + 1, va)
            self.put("B", t0 + 60 * k + 1, vb)
            self.evaluate(t0 + 60 * (k + 1))
            want = rule(va > 50, vb > 50)
            got = {n: self.state(n) for n in want}
            self.assertEqual(got, {n: "ALARM" if v else "OK" for n, v in want.items()}, k)
        out = self.cli("describe-alarms", "--alarm-types", "CompositeAlarm",
                       "--alarm-name-prefix", p)
        self.assertEqual(sorted(a["AlarmName"] for a in out["CompositeAlarms"]),
                         [p + "SystemUnhealthy", p + "either", p + "outer"])
        self.assertEqual(out["MetricAlarms"], [])
        c = [a for a in out["CompositeAlarms"] if a["AlarmName"] == p + "SystemUnhealthy"][0]
        self.assertEqual(c["AlarmRule"], f"ALARM({p}a) AND ALARM({p}b)")
        # Without AlarmTypes, only metric alarms (as the API reference says).
        out = self.cw.describe_alarms(AlarmNamePrefix=p)
        self.assertEqual(out["CompositeAlarms"], [])
        out = self.cw.describe_alarms(ParentsOfAlarmName=p + "a")
        self.assertEqual(sorted(a["AlarmName"] for a in out["CompositeAlarms"]),
                         [p + "SystemUnhealthy", p + "either"])
        out = self.cw.describe_alarms(ChildrenOfAlarmName=p + "SystemUnhealthy")
        self.assertEqual(sorted(a["AlarmName"] for a in out["MetricAlarms"]), [p + "a", p + "b"])
        hist = self.cw.describe_alarm_history(AlarmName=p + "SystemUnhealthy",
                                              ScanBy="TimestampAscending")["AlarmHistoryItems"]
        self.assertEqual([h["HistorySummary"] for h in hist if h["HistoryItemType"] ==
                          "StateUpdate"],
                         ["Alarm updated from INSUFFICIENT_DATA to OK",
                          "Alarm updated from OK to ALARM", "Alarm updated from ALARM to OK"])
        self.assertEqual(sum(h["HistoryItemType"] == "Action" for h in hist), 1)
        self.assertEqual(hist[0]["AlarmType"], "CompositeAlarm")

    def test_rule_errors(self):
        p = self.p
        self.alarm("a")
        put = lambda rule, **kw: self.cli("put-composite-alarm", "--alarm-name", p + "c",
                                          "--alarm-rule", rule, **kw)
        err = put(f"ALARM({p}a) AND", expect_error="InvalidParameterValue")
        self.assertIn("position", err)
        put(f"ALARM({p}a) AND ALARM({p}missing)", expect_error="ValidationError")
        put("(" * 40 + f"ALARM({p}a)" + ")" * 40, expect_error="InvalidParameterValue")
        put(f"ALARM({p}c)", expect_error="ValidationError")                  # itself
        put(f"ALARM({p}a)")
        self.cw.put_composite_alarm(AlarmName=p + "d", AlarmRule=f"ALARM({p}c)")
        put(f"ALARM({p}d)", expect_error="ValidationError")                  # a cycle


class EvaluationRangeTest(AlarmsBase):
    """CloudWatch's documented examples of evaluating with missing data ("Configuring how
    CloudWatch alarms treat missing data", both tables): 3 evaluation periods, 5 periods
    retrieved, each row's datapoints oldest first (0: not breaching, X: breaching, -: none)."""

    ROWS = [  # (DatapointsToAlarm, datapoints, missing, ignore, breaching, notBreaching)
        (3, "0-X-X", "OK", "OK", "OK", "OK"),
        (3, "0----", "OK", "OK", "OK", "OK"),
        (3, "-----", "INSUFFICIENT_DATA", "retain", "ALARM", "OK"),
        (3, "0XX-X", "ALARM", "ALARM", "ALARM", "ALARM"),
        (3, "----X", "INSUFFICIENT_DATA", "retain", "ALARM", "OK"),
        (3, "X----", "ALARM", "retain", "ALARM", "OK"),
        (2, "0-X-X", "ALARM", "ALARM", "ALARM", "ALARM"),
        (2, "00X0X", "ALARM", "ALARM", "ALARM", "ALARM"),
        (2, "0-X--", "OK", "OK", "ALARM", "OK"),
        (2, "----0", "OK", "OK", "ALARM", "OK"),
        (2, "----X", "INSUFFICIENT_DATA", "retain", "ALARM", "OK"),
        # a breaching datapoint just before the range is not seen: as no data at all
        (3, "X|-----", "INSUFFICIENT_DATA", "retain", "ALARM", "OK"),
    ]
    MODES = ["missing", "ignore", "breaching", "notBreaching"]

    def test_documented_missing_data_cases(self):
        t0 = self.t0
        for k, (m, points, *_) in enumerate(self.ROWS):
            points = points.replace("|", "")
            first = t0 + 60 * (5 - len(points))   # the last point is always minute 4
            for i, c in enumerate(points):
                if c != "-":
                    self.put(f"r{k}", first + 60 * i + 5, 80 if c == "X" else 10)
            for mode in self.MODES:
                self.alarm(f"r{k}-{mode}", metric=f"r{k}", n=3, m=m, TreatMissingData=mode)
        # Evaluated twice, each alarm first set by hand to OK, then to ALARM: a state kept
        # ("retain") is the one set, every other is the same both times.
        for preset in ("OK", "ALARM"):
            for k in range(len(self.ROWS)):
                for mode in self.MODES:
                    self.cw.set_alarm_state(AlarmName=f"{self.p}r{k}-{mode}",
                                            StateValue=preset, StateReason="preset")
            self.evaluate(t0 + 300)
            for k, (m, points, *want) in enumerate(self.ROWS):
                got = [self.state(f"r{k}-{mode}") for mode in self.MODES]
                self.assertEqual(got, [preset if w == "retain" else w for w in want],
                                 f"M={m} {points} (preset {preset})")

    def test_evaluate_low_sample_count_percentile(self):
        # p90's bound is 10 / (1 - 0.9) = 100 samples: 99 values are too few to evaluate
        # for "ignore" (the state stays), the 100th lets it evaluate.
        t0 = self.t0
        self.cw.put_metric_data(Namespace=self.ns, MetricData=[
            {"MetricName": "lat", "Timestamp": t0 + 5, "Values": list(range(1, 100))}])
        self.alarm("eval", metric="lat", stat="p90", threshold=50,
                   EvaluateLowSampleCountPercentile="evaluate")
        self.alarm("ign", metric="lat", stat="p90", threshold=50,
                   EvaluateLowSampleCountPercentile="ignore")
        self.alarm("dflt", metric="lat", stat="p90", threshold=50)
        self.evaluate(t0 + 60)
        self.assertEqual([self.state(n) for n in ("eval", "ign", "dflt")],
                         ["ALARM", "INSUFFICIENT_DATA", "ALARM"])
        self.cw.put_metric_data(Namespace=self.ns, MetricData=[
            {"MetricName": "lat", "Timestamp": t0 + 6, "Value": 100}])
        self.evaluate(t0 + 60)
        self.assertEqual(self.state("ign"), "ALARM")


class CompositeConsistencyTest(AlarmsBase):
    def test_an_alarm_a_composite_names_is_not_deleted(self):
        p = self.p
        self.alarm("a")
        self.alarm("b")
        self.cw.put_composite_alarm(AlarmName=p + "c", AlarmRule=f"ALARM({p}a) OR ALARM({p}b)")
        err = self.cli("delete-alarms", "--alarm-names", p + "b", expect_error="ValidationError")
        self.assertIn(f"Cannot delete {p}b as there are composite alarm(s) depending on it.", err)
        self.assertEqual(self.state("b"), "INSUFFICIENT_DATA")   # nothing deleted
        # with an unknown name and another alarm: still nothing deleted, every child named
        self.alarm("d")
        err = self.cli("delete-alarms", "--alarm-names", p + "d", p + "a", p + "nope", p + "b",
                       expect_error="ValidationError")
        self.assertIn(f"Cannot delete {p}a,{p}b as there are composite alarm(s) depending on "
                      "them.", err)
        self.assertEqual(self.state("d"), "INSUFFICIENT_DATA")
        # one composite alarm per call at most, as the API reference says
        self.cw.put_composite_alarm(AlarmName=p + "e", AlarmRule=f"ALARM({p}d)")
        err = self.cli("delete-alarms", "--alarm-names", p + "c", p + "e",
                       expect_error="ValidationError")
        self.assertIn("at most one composite alarm", err)
        self.assertEqual(self.state("e"), "INSUFFICIENT_DATA")
        self.cli("delete-alarms", "--alarm-names", p + "e", p + "d")
        self.cli("delete-alarms", "--alarm-names", p + "c", p + "a", p + "b")   # together: fine
        out = self.cw.describe_alarms(AlarmNamePrefix=p,
                                      AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        self.assertEqual(out["MetricAlarms"] + out["CompositeAlarms"], [])

    def test_put_composite_racing_delete_of_its_child(self):
        # A PutCompositeAlarm naming x and a DeleteAlarms of x, sent at once, 40 times: in
        # whichever order the server takes them, exactly one succeeds, and no composite is
        # left naming an alarm that does not exist.
        p, n = self.p, 40
        for i in range(n):
            self.alarm(f"x{i}")
        put_cw = sh.boto3_client(self, self.srv, "cloudwatch")
        del_cw = sh.boto3_client(self, self.srv, "cloudwatch")
        results = {}

        def put(i):
            try:
                put_cw.put_composite_alarm(AlarmName=f"{p}c{i}", AlarmRule=f"ALARM({p}x{i})")
                return True
            except put_cw.exceptions.ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ValidationError")
                return False

        def delete(i):
            try:
                del_cw.delete_alarms(AlarmNames=[f"{p}x{i}"])
                return True
            except del_cw.exceptions.ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ValidationError")
                return False

        for i in range(n):
            ts = [threading.Thread(target=lambda f=f, i=i: results.__setitem__((f.__name__, i),
                                                                               f(i)))
                  for f in (put, delete)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        metric, composite = set(), {}
        for out in self.cw.get_paginator("describe_alarms").paginate(
                AlarmNamePrefix=p, AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
            metric |= {a["AlarmName"] for a in out["MetricAlarms"]}
            composite.update({a["AlarmName"]: a["AlarmRule"] for a in out["CompositeAlarms"]})
        for i in range(n):
            self.assertNotEqual(results[("put", i)], results[("delete", i)], i)
            self.assertEqual(f"{p}c{i}" in composite, results[("put", i)], i)
            self.assertEqual(f"{p}x{i}" in metric, not results[("delete", i)], i)
        for name, rule in composite.items():
            self.assertIn(rule[len("ALARM("):-1], metric, name)


class QueryProtocolTest(AlarmsBase):
    def query(self, params):
        body = urllib.parse.urlencode({"Version": "2010-08-01", **params}).encode()
        return sh.raw_request(self.srv, "POST", "/", body, {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})

    def test_alarms_in_the_query_form(self):
        r = self.query({"Action": "PutMetricAlarm", "AlarmName": self.p + "q",
                        "Namespace": self.ns, "MetricName": "m", "Statistic": "Sum",
                        "Period": "60", "EvaluationPeriods": "1", "Threshold": "1.5",
                        "ComparisonOperator": "GreaterThanThreshold", "ActionsEnabled": "false",
                        "AlarmActions": "", "Dimensions": ""})
        self.assertEqual(r.status, 200, r)
        r = self.query({"Action": "DescribeAlarms", "AlarmNames.member.1": self.p + "q"})
        self.assertEqual(r.status, 200, r)
        a = ET.fromstring(r.body).find(
            f"{NS_XML}DescribeAlarmsResult/{NS_XML}MetricAlarms/{NS_XML}member")
        self.assertEqual(a.find(NS_XML + "Threshold").text, "1.5")
        self.assertEqual(a.find(NS_XML + "ActionsEnabled").text, "false")
        self.assertRegex(a.find(NS_XML + "StateUpdatedTimestamp").text,
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        r = self.query({"Action": "SetAlarmState", "AlarmName": self.p + "zzz",
                        "StateValue": "OK", "StateReason": "x"})
        self.assertEqual(r.status, 404)   # ResourceNotFound's status in CloudWatch's model
        err = ET.fromstring(r.body).find(f"{NS_XML}Error/{NS_XML}Code").text
        self.assertEqual(err, "ResourceNotFound")


if __name__ == "__main__":
    unittest.main()


class TimerTest(unittest.TestCase):
    """The evaluation timer of a normal server (no test hooks): an alarm reaches ALARM by
    itself. Polls with a generous bound; asserts the state, never how fast it came. Then the
    timer with the test hook on, both evaluating at once."""

    def test_the_timer_evaluates(self):
        srv = sh.start_server(self, extra_args=["--alarm-interval", "1"])
        cw = sh.boto3_client(self, srv, "cloudwatch")
        # Two minutes ago lies within the last five complete minutes whenever this runs.
        cw.put_metric_data(Namespace="Timer", MetricData=[
            {"MetricName": "m", "Value": 100, "Timestamp": time.time() - 120}])
        cw.put_metric_alarm(AlarmName="t", Namespace="Timer", MetricName="m",
                            Statistic="Maximum", Period=60, EvaluationPeriods=5,
                            DatapointsToAlarm=1, Threshold=50,
                            ComparisonOperator="GreaterThanThreshold")
        deadline = time.monotonic() + 120 * sh.timeout_scale()
        state = None
        while time.monotonic() < deadline:
            state = cw.describe_alarms(AlarmNames=["t"])["MetricAlarms"][0]["StateValue"]
            if state != "INSUFFICIENT_DATA":
                break
            time.sleep(0.2)
        self.assertEqual(state, "ALARM")
        r = sh.raw_request(srv, "POST", "/_skylog/evaluate-alarms")
        self.assertEqual(r.status, 404)   # the test hook is off without SKYLOG_SERVE_TEST_HOOKS

    def test_timer_and_requests_evaluate_together(self):
        # The timer thread and connection threads (the test hook, evaluating "now" as the
        # timer does) evaluate at once: the one transition is made and recorded once.
        srv = sh.start_server(self, extra_args=["--alarm-interval", "1"],
                              env={"SKYLOG_SERVE_TEST_HOOKS": "1"})
        cw = sh.boto3_client(self, srv, "cloudwatch")
        now = time.time()
        # a datapoint in each of the last four minutes: the alarm stays in ALARM for minutes
        # whenever an evaluation comes, however slow the build
        cw.put_metric_data(Namespace="Timer", MetricData=[
            {"MetricName": "m", "Value": 100, "Timestamp": now - 60 * k} for k in range(1, 5)])
        cw.put_metric_alarm(AlarmName="t", Namespace="Timer", MetricName="m",
                            Statistic="Maximum", Period=60, EvaluationPeriods=5,
                            DatapointsToAlarm=1, Threshold=50,
                            ComparisonOperator="GreaterThanThreshold")
        statuses = []

        def evaluate():
            for _ in range(10):
                statuses.append(sh.raw_request(srv, "POST", "/_skylog/evaluate-alarms").status)

        threads = [threading.Thread(target=evaluate) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(statuses, [200] * 20)
        self.assertEqual(cw.describe_alarms(AlarmNames=["t"])["MetricAlarms"][0]["StateValue"],
                         "ALARM")
        hist = cw.describe_alarm_history(AlarmName="t", HistoryItemType="StateUpdate")
        self.assertEqual([i["HistorySummary"] for i in hist["AlarmHistoryItems"]],
                         ["Alarm updated from INSUFFICIENT_DATA to ALARM"])
