"""CloudWatch Logs Insights in `skylog serve`: StartQuery / GetQueryResults / StopQuery /
DescribeQueries / query definitions, driven by boto3, the AWS CLI and `skylog query`.

Every expected row is computed here, in Python, from the events read back with
FilterLogEvents: never by the engine under test. The seed documents' queries run over the
events example_web_service logs through the CloudWatch sink; the grammar tests (one class
per clause) run over events put with known timestamps.
"""
import datetime
import json
import os
import subprocess
import threading
import time
import unittest

import skyharness

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
FINAL = ("Complete", "Failed", "Cancelled", "Timeout")
# How long a test waits for what must happen (a program's exit, its output's end) before it
# calls that a failure: a bound against a hang, never a judge of speed, so it is generous and
# scales with the build (ASan, TSan) to hold on a loaded 2-core machine.
WAIT_S = 600 * skyharness.timeout_scale()


def fmt_ts(ms):
    d = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return d.strftime("%Y-%m-%d %H:%M:%S") + ".%03d" % (ms % 1000)


def run_query(logs, query, start_s, end_s, group="g", **kw):
    """StartQuery then GetQueryResults until a final status; the last answer."""
    args = dict(kw)
    if isinstance(group, list):
        args["logGroupNames"] = group
    else:
        args["logGroupName"] = group
    qid = logs.start_query(startTime=start_s, endTime=end_s, queryString=query, **args)["queryId"]
    deadline = time.monotonic() + WAIT_S
    while True:
        r = logs.get_query_results(queryId=qid)
        if r["status"] in FINAL or time.monotonic() > deadline:
            r["queryId"] = qid
            return r
        time.sleep(0.02)


def rows_of(answer, keep_ptr=False):
    out = []
    for row in answer["results"]:
        d = {f["field"]: f["value"] for f in row}
        if not keep_ptr:
            d.pop("@ptr", None)
        out.append(d)
    return out


def num(s):
    return float(s)


class InsightsBase(unittest.TestCase):
    def setUp(self):
        self.srv = skyharness.start_server(self)
        self.logs = skyharness.boto3_client(self, self.srv, "logs")

    def malformed(self, query, **kw):
        with self.assertRaises(Exception) as cm:
            self.logs.start_query(logGroupName="g", startTime=0, endTime=10, queryString=query, **kw)
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], "MalformedQueryException", query)
        return err


# ---- the seed documents' queries over example_web_service --------------------------------------

@unittest.skipUnless(os.path.exists(os.path.join(BUILD, "example_web_service")),
                     "examples not built (set SKYLOG_BUILD_DIR)")
class SeedQueries(InsightsBase):
    """Every Insights query printed in the seed documents (000: "CloudWatch Insights"; 003:
    "Querying Logs with CloudWatch Insights" and "Common CloudWatch Insights Queries")."""
    GROUP = "/aws/application/backend"

    def setUp(self):
        super().setUp()
        env = dict(os.environ)
        env.update(skyharness.endpoint_env(self.srv))
        out = subprocess.run([os.path.join(BUILD, "example_web_service"), self.GROUP, "400"],
                             env=env, capture_output=True, text=True, timeout=WAIT_S)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.events = []
        for page in self.logs.get_paginator("filter_log_events").paginate(logGroupName=self.GROUP):
            for e in page["events"]:
                self.events.append((e["timestamp"], e["message"], json.loads(e["message"])))
        self.assertGreater(len(self.events), 400)
        ts = [e[0] for e in self.events]
        self.start, self.end = min(ts) // 1000, max(ts) // 1000

    def q(self, query):
        r = run_query(self.logs, query, self.start, self.end, group=self.GROUP)
        self.assertEqual(r["status"], "Complete", query)
        self.assertEqual(r["statistics"]["recordsScanned"], len(self.events))
        return r

    def bins(self, ms, period=300000):
        return fmt_ts(ms - ms % period)

    def test_000_errors_by_user(self):
        r = self.q('fields @timestamp, message, user_id, error_code\n'
                   '| filter level = "ERROR"\n| filter user_id = "user123"\n'
                   '| sort @timestamp desc')
        want = [{"@timestamp": fmt_ts(t), "message": j["message"], "user_id": j["user_id"],
                 "error_code": j["error_code"]}
                for t, _, j in self.events if j["level"] == "ERROR" and j["user_id"] == "user123"]
        got = rows_of(r)
        self.assertTrue(want)
        self.assertEqual(sorted(map(json.dumps, got)), sorted(map(json.dumps, want)))
        self.assertEqual([g["@timestamp"] for g in got],
                         sorted([g["@timestamp"] for g in got], reverse=True))
        self.assertEqual(r["statistics"]["recordsMatched"], len(want))

    def test_000_response_time_by_5m(self):
        r = self.q('fields @timestamp, response_time_ms\n| filter funcName = "handle_request"\n'
                   '| stats avg(response_time_ms), max(response_time_ms), min(response_time_ms) '
                   'by bin(5m)')
        groups = {}
        for t, _, j in self.events:
            if j.get("funcName") == "handle_request" and "response_time_ms" in j:
                groups.setdefault(self.bins(t), []).append(j["response_time_ms"])
        got = {g["bin(5m)"]: g for g in rows_of(r)}
        self.assertEqual(set(got), set(groups))
        for b, vals in groups.items():
            self.assertAlmostEqual(num(got[b]["avg(response_time_ms)"]), sum(vals) / len(vals))
            self.assertEqual(num(got[b]["max(response_time_ms)"]), max(vals))
            self.assertEqual(num(got[b]["min(response_time_ms)"]), min(vals))

    def test_000_error_rate_by_endpoint(self):
        r = self.q('fields @timestamp, path, level\n| filter level = "ERROR"\n'
                   '| stats count() by path')
        want = {}
        for _, _, j in self.events:
            if j["level"] == "ERROR":
                want[j["path"]] = want.get(j["path"], 0) + 1
        self.assertEqual({g["path"]: int(g["count()"]) for g in rows_of(r)}, want)

    def test_003_errors_last_hour_with_the_seeds_own_code(self):
        # the seed's query_logs(), as printed (its loop polls while the status is Running)
        logs_client = self.logs

        def query_logs(log_group_name, query_string, start_time, end_time):
            response = logs_client.start_query(
                logGroupName=log_group_name,
                startTime=int(start_time.timestamp()),
                endTime=int(end_time.timestamp()),
                queryString=query_string
            )
            query_id = response['queryId']
            response = None
            while response is None or response['status'] == 'Running':
                response = logs_client.get_query_results(queryId=query_id)
            return response['results']

        end_time = datetime.datetime.now()
        start_time = end_time - datetime.timedelta(hours=1)
        query = """
fields @timestamp, @message
| filter @message like /ERROR/
| sort @timestamp desc
| limit 100
"""
        results = query_logs(self.GROUP, query, start_time, end_time)
        want = sorted(((t, m) for t, m, _ in self.events if "ERROR" in m), reverse=True)[:100]
        got = [{f["field"]: f["value"] for f in row} for row in results]
        self.assertEqual(len(got), len(want))
        self.assertEqual(sorted(g["@message"] for g in got), sorted(m for _, m in want))
        self.assertTrue(all("@ptr" in g for g in got))

    def test_003_error_analysis(self):
        r = self.q('fields @timestamp, @message\n| filter @message like /ERROR|Exception/\n'
                   '| stats count() by bin(5m)')
        want = {}
        for t, m, _ in self.events:
            if "ERROR" in m or "Exception" in m:
                want[self.bins(t)] = want.get(self.bins(t), 0) + 1
        self.assertEqual({g["bin(5m)"]: int(g["count()"]) for g in rows_of(r)}, want)

    def test_003_top_endpoints(self):
        r = self.q('fields @timestamp, endpoint, status_code\n'
                   '| stats count() as request_count by endpoint\n'
                   '| sort request_count desc\n| limit 10')
        counts = {}  # events without an endpoint (the errors) are a group of their own
        for _, _, j in self.events:
            counts[j.get("endpoint", "")] = counts.get(j.get("endpoint", ""), 0) + 1
        got = [(g.get("endpoint", ""), int(g["request_count"])) for g in rows_of(r)]
        self.assertEqual(sorted(got), sorted(counts.items()))
        self.assertEqual([c for _, c in got], sorted(counts.values(), reverse=True))

    def test_003_average_response_time(self):
        r = self.q('fields @timestamp, endpoint, duration_ms\n'
                   '| stats avg(duration_ms) as avg_duration by endpoint\n'
                   '| sort avg_duration desc')
        vals = {}
        for _, _, j in self.events:
            if "endpoint" in j:
                vals.setdefault(j["endpoint"], []).append(j["duration_ms"])
        want = sorted(((sum(v) / len(v), k) for k, v in vals.items()), reverse=True)
        rows = rows_of(r)
        # the errors have neither endpoint nor duration: a group without an average, last
        self.assertEqual(rows[-1], {})
        got = [(num(g["avg_duration"]), g["endpoint"]) for g in rows[:-1]]
        # ties may come in any order: compare the pairs, then that the averages descend
        self.assertEqual(sorted((round(a, 9), k) for a, k in got),
                         sorted((round(a, 9), k) for a, k in want))
        self.assertEqual([a for a, _ in got], sorted((a for a, _ in got), reverse=True))

    def test_003_high_latency(self):
        r = self.q('fields @timestamp, endpoint, duration_ms, user_id\n'
                   '| filter duration_ms > 1000\n| sort @timestamp desc')
        want = [{"@timestamp": fmt_ts(t), "endpoint": j["endpoint"],
                 "duration_ms": json.dumps(j["duration_ms"]), "user_id": j["user_id"]}
                for t, _, j in self.events if j.get("duration_ms", 0) > 1000]
        got = rows_of(r)
        self.assertTrue(want)
        self.assertEqual(sorted(map(json.dumps, got)), sorted(map(json.dumps, want)))


# ---- one class per clause, over events with known timestamps -------------------------------

T0 = None  # epoch ms of the first event, set per test run


def make_events():
    """60 events, one a minute from T0 (an hour-aligned time two hours ago)."""
    events = []
    for i in range(60):
        doc = {"level": ["INFO", "WARN", "ERROR"][i % 3], "path": "/p%d" % (i % 4),
               "ms": (i * 37) % 100 + 0.5, "n": i, "user": {"id": "u%d" % (i % 5),
                                                              "tags": ["t%d" % (i % 2), "x"]},
               "text": "Order %d shipped to zone-%d" % (i, i % 3)}
        if i % 10 == 0:
            doc["rare"] = "yes"
        if i % 7 == 0:
            doc["empty"] = ""
        events.append({"timestamp": T0 + i * 60000, "message": json.dumps(doc)})
    events.append({"timestamp": T0 + 60 * 60000, "message": "plain ERROR line user=bob ms=7"})
    return events


class Clauses(InsightsBase):
    def setUp(self):
        global T0
        super().setUp()
        now = skyharness.now_ms()
        T0 = now - now % 3600000 - 2 * 3600000
        self.logs.create_log_group(logGroupName="g")
        self.logs.create_log_stream(logGroupName="g", logStreamName="s1")
        self.events = make_events()
        self.logs.put_log_events(logGroupName="g", logStreamName="s1", logEvents=self.events)
        self.docs = []
        for e in self.events:
            try:
                self.docs.append((e["timestamp"], e["message"], json.loads(e["message"])))
            except ValueError:
                self.docs.append((e["timestamp"], e["message"], {}))

    def q(self, query, **kw):
        r = run_query(self.logs, query, T0 // 1000, T0 // 1000 + 7200, **kw)
        self.assertEqual(r["status"], "Complete", query)
        return rows_of(r)

    def col(self, query, field):
        return [row.get(field) for row in self.q(query)]

    # fields / display
    def test_fields_aliases_nested_and_builtins(self):
        rows = self.q("fields @timestamp, user.id as uid, user.tags.1, `text`, @logStream, @log "
                      "| sort @timestamp asc | limit 2")
        t, m, j = self.docs[0]
        self.assertEqual(rows[0], {"@timestamp": fmt_ts(t), "uid": j["user"]["id"],
                                   "user.tags.1": "x", "text": j["text"], "@logStream": "s1",
                                   "@log": "123456789012:g"})

    def test_default_fields_and_ptr(self):
        r = run_query(self.logs, "limit 1", T0 // 1000, T0 // 1000 + 7200)
        row = rows_of(r, keep_ptr=True)[0]
        self.assertEqual(set(row), {"@timestamp", "@message", "@logStream", "@log", "@ptr"})
        self.assertEqual(row["@message"], self.events[-1]["message"])  # newest first
        rec = self.logs.get_log_record(logRecordPointer=row["@ptr"])["logRecord"]
        self.assertEqual(rec["@message"], row["@message"])

    def test_display_replaces_fields(self):
        rows = self.q("fields n, path | filter ispresent(n) | display path | limit 3")
        self.assertEqual([set(r) for r in rows], [{"path"}] * 3)

    # filter
    def test_filter_comparisons(self):
        for op, fn in (("=", lambda v: v == 30), ("!=", lambda v: v != 30), ("<", lambda v: v < 30),
                       ("<=", lambda v: v <= 30), (">", lambda v: v > 30), (">=", lambda v: v >= 30)):
            got = sorted(int(v) for v in self.col("filter n %s 30 | fields n" % op, "n"))
            self.assertEqual(got, [j["n"] for _, _, j in self.docs if "n" in j and fn(j["n"])], op)
        got = self.col('filter level = "ERROR" and path != "/p1" | fields n', "n")
        self.assertEqual(sorted(map(int, got)), [j["n"] for _, _, j in self.docs
                                                 if j.get("level") == "ERROR" and j["path"] != "/p1"])

    def test_filter_like_regex_in_and_boolean_logic(self):
        def want(pred):
            return sorted(j["n"] for _, _, j in self.docs if "n" in j and pred(j))
        cases = [
            ('text like "zone-2"', lambda j: "zone-2" in j["text"]),
            ('text not like "zone-2"', lambda j: "zone-2" not in j["text"]),
            ("text like /Order \\d*5 /", lambda j: str(j["n"]).endswith("5")),
            ("text =~ /zone-[01]$/", lambda j: j["text"][-1] in "01"),
            ('path in ["/p0", "/p3"]', lambda j: j["path"] in ("/p0", "/p3")),
            ('path not in ["/p0", "/p3"]', lambda j: j["path"] not in ("/p0", "/p3")),
            ("n < 10 or n > 50 and level = 'ERROR'",
             lambda j: j["n"] < 10 or (j["n"] > 50 and j["level"] == "ERROR")),
            ("(n < 10 or n > 50) and not level = 'ERROR'",
             lambda j: (j["n"] < 10 or j["n"] > 50) and j["level"] != "ERROR"),
            ("ispresent(rare)", lambda j: "rare" in j),
            ("not ispresent(rare) and n < 12", lambda j: "rare" not in j and j["n"] < 12),
            ("isempty(empty) and ispresent(empty)", lambda j: j.get("empty") == ""),
            ("user.id = 'u3' and user.tags.0 = 't1'",
             lambda j: j["user"]["id"] == "u3" and j["user"]["tags"][0] == "t1"),
        ]
        for f, pred in cases:
            got = sorted(int(v) for v in self.col("filter %s | fields n" % f, "n"))
            self.assertEqual(got, want(pred), f)

    def test_filter_message_of_plain_events(self):
        rows = self.q("filter @message like /^plain/ | fields @message")
        self.assertEqual(rows, [{"@message": self.events[-1]["message"]}])

    # stats
    def test_stats_functions(self):
        rows = self.q("stats count() as c, count(*) as all, count(rare) as r, sum(ms), avg(ms), "
                      "min(ms), max(ms), pct(ms, 90), pct(ms, 50), count_distinct(user.id) "
                      "by level")
        for row in rows:
            if "level" not in row:  # the plain line has no level
                self.assertEqual(row["c"], "1")
                continue
            vals = [j for _, _, j in self.docs if j.get("level") == row["level"]]
            ms = sorted(j["ms"] for j in vals)
            self.assertEqual(int(row["c"]), len(vals))
            self.assertEqual(int(row["all"]), len(vals))
            self.assertEqual(int(row["r"]), sum(1 for j in vals if "rare" in j))
            self.assertAlmostEqual(num(row["sum(ms)"]), sum(ms))
            self.assertAlmostEqual(num(row["avg(ms)"]), sum(ms) / len(ms))
            self.assertEqual(num(row["min(ms)"]), ms[0])
            self.assertEqual(num(row["max(ms)"]), ms[-1])
            import math
            for p in (90, 50):  # nearest rank (docs/SERVE.md)
                self.assertEqual(num(row["pct(ms, %d)" % p]), ms[max(1, math.ceil(p / 100 * len(ms))) - 1])
            self.assertEqual(int(row["count_distinct(user.id)"]), len({j["user"]["id"] for j in vals}))

    def test_stats_by_bin_and_fields(self):
        rows = self.q("stats count(*) as c by bin(30m) as t, path")
        want = {}
        for t, _, j in self.docs:
            k = (fmt_ts(t - t % 1800000), j.get("path"))
            want[k] = want.get(k, 0) + 1
        self.assertEqual({(r["t"], r.get("path")): int(r["c"]) for r in rows}, want)
        rows = self.q("stats count() by bin(1h)")
        self.assertEqual({r["bin(1h)"]: int(r["count()"]) for r in rows},
                         {fmt_ts(T0): 60, fmt_ts(T0 + 3600000): 1})

    def test_stats_then_filter_sort_limit(self):
        rows = self.q("stats count() as c by path | filter c > 14 | sort path desc | limit 2")
        counts = {}
        for _, _, j in self.docs:
            if "path" in j:
                counts[j["path"]] = counts.get(j["path"], 0) + 1
        want = sorted((p for p, c in counts.items() if c > 14), reverse=True)[:2]
        self.assertEqual([r["path"] for r in rows], want)

    def test_stats_after_sort_limit_and_dedup(self):
        rows = self.q("filter ispresent(n) | sort ms desc | limit 10 | stats count() as c, "
                      "min(ms) as lo by level")
        top = sorted((j for _, _, j in self.docs if "n" in j), key=lambda j: -j["ms"])[:10]
        want = {}
        for j in top:
            c, lo = want.get(j["level"], (0, 1e9))
            want[j["level"]] = (c + 1, min(lo, j["ms"]))
        self.assertEqual({r["level"]: (int(r["c"]), num(r["lo"])) for r in rows}, want)
        rows = self.q("filter ispresent(n) | dedup path | stats count() as c")
        self.assertEqual(rows, [{"c": "4"}])

    # sort / limit / dedup
    def test_sort_keys_and_limit(self):
        rows = self.q("fields path, ms | filter ispresent(path) | sort path asc, ms desc | limit 7")
        want = sorted(((j["path"], -j["ms"]) for _, _, j in self.docs if "path" in j))[:7]
        self.assertEqual([(r["path"], -num(r["ms"])) for r in rows], want)

    def test_dedup(self):
        rows = self.q("fields path, n | filter ispresent(n) | sort n asc | dedup path")
        self.assertEqual([(r["path"], int(r["n"])) for r in rows],
                         [("/p0", 0), ("/p1", 1), ("/p2", 2), ("/p3", 3)])

    # parse
    def test_parse_glob_and_regex(self):
        rows = self.q('parse text "Order * shipped to zone-*" as order, zone '
                      '| filter zone = 2 | stats count() as c, sum(order) as s')
        sel = [j["n"] for _, _, j in self.docs if "n" in j and j["n"] % 3 == 2]
        self.assertEqual(rows, [{"c": str(len(sel)), "s": str(sum(sel))}])
        rows = self.q(r"parse @message /user=(?<who>\w+) ms=(?<took>\d+)/ "
                      "| filter ispresent(who) | fields who, took")
        self.assertEqual(rows, [{"who": "bob", "took": "7"}])

    # time range, comments, several groups
    def test_time_range_is_inclusive_in_seconds(self):
        r = run_query(self.logs, "stats count() as c", T0 // 1000 + 60, T0 // 1000 + 120)
        self.assertEqual(rows_of(r), [{"c": "2"}])  # the events at +1 min and +2 min
        self.assertEqual(r["statistics"]["recordsScanned"], 2)

    def test_comments_and_several_groups(self):
        self.logs.create_log_group(logGroupName="g2")
        self.logs.create_log_stream(logGroupName="g2", logStreamName="s")
        self.logs.put_log_events(logGroupName="g2", logStreamName="s",
                                 logEvents=[{"timestamp": T0, "message": '{"n": 1000}'}])
        rows = self.q("# how many\nstats count() as c by @log # per group\n", group=["g", "g2"])
        self.assertEqual({r["@log"]: r["c"] for r in rows},
                         {"123456789012:g": "61", "123456789012:g2": "1"})


class Malformed(InsightsBase):
    def test_positions(self):
        cases = [
            ("fields a |", "unexpected end of query at line 1 and position 10", 10),
            ("filter a = ", "unexpected end of query at line 1 and position 11", 11),
            ("fields a | sortt a", "unexpected symbol found sortt at line 1 and position 11", 11),
            ("stats count() by\n  path, | sort x",
             "unexpected symbol found | at line 2 and position 8", 25),
            ("filter a = 1 )", "unexpected symbol found ) at line 1 and position 13", 13),
            ("filter a ~ 1", "unexpected symbol found ~ at line 1 and position 9", 9),
            ("stats count() by bin(5x)", "unexpected symbol found 5x: bin() takes a period such "
             "as 5m (units ms, s, m, h, d, w) at line 1 and position 21", 21),
            ("stats median(x)", "the aggregation median() is not supported by skylog serve at "
             "line 1 and position 6", 6),
            ("fields strlen(x)", "the function strlen() is not supported by skylog serve at "
             "line 1 and position 7", 7),
            ("fields a | unnest b", "the unnest command is not supported by skylog serve at "
             "line 1 and position 11", 11),
            ("limit 0", "limit must be an integer from 1 to 100000 at line 1 and position 6", 6),
            ('parse @message "* *" as a', "the parse pattern has 2 '*' but 1 names follow 'as' "
             "at line 1 and position 15", 15),
            ("filter x like /(unclosed/", "invalid regular expression: missing closing "
             "parenthesis at line 1 and position 24", 24),
            ('filter x = "open', 'unexpected symbol found " at line 1 and position 11', 11),
            ("", "the query is empty at line 1 and position 0", 0),
        ]
        for query, message, start in cases:
            err = self.malformed(query)
            self.assertEqual(err["Error"]["Message"], message, query)
            self.assertEqual(err["queryCompileError"]["message"], message)
            self.assertEqual(err["queryCompileError"]["location"]["startCharOffset"], start, query)

    def test_bounds(self):
        self.malformed("filter " + "(" * 40 + "a = 1" + ")" * 40)
        self.malformed("filter " + "not " * 40 + "a = 1")
        self.malformed("fields " + ", ".join("f%d" % i for i in range(200)))
        # a long chain is not deep: it parses
        self.logs.create_log_group(logGroupName="g")
        r = run_query(self.logs, "filter " + " or ".join("a = %d" % i for i in range(500)), 0, 10)
        self.assertEqual(r["status"], "Complete")
        with self.assertRaises(Exception) as cm:
            self.logs.start_query(logGroupName="g", startTime=0, endTime=10,
                                  queryString="limit 1 " + " " * 10000)
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidParameterException")


class Api(InsightsBase):
    def setUp(self):
        super().setUp()
        self.logs.create_log_group(logGroupName="g")

    def error(self, op, **kw):
        with self.assertRaises(Exception) as cm:
            getattr(self.logs, op)(**kw)
        return cm.exception.response["Error"]

    def test_validation(self):
        e = self.error("start_query", logGroupName="g", logGroupNames=["g"], startTime=0,
                       endTime=1, queryString="limit 1")
        self.assertEqual(e["Code"], "InvalidParameterException")
        e = self.error("start_query", logGroupName="g", startTime=5, endTime=1,
                       queryString="limit 1")
        self.assertEqual(e["Code"], "InvalidParameterException")
        e = self.error("start_query", logGroupName="nope", startTime=0, endTime=1,
                       queryString="limit 1")
        self.assertEqual(e["Code"], "ResourceNotFoundException")
        e = self.error("start_query", logGroupName="g", startTime=0, endTime=1,
                       queryString="limit 1", limit=100001)
        self.assertEqual(e, {"Code": "InvalidParameterException", "Message":
                             "1 validation error detected: Value '100001' at 'limit' failed to "
                             "satisfy constraint: Member must have value less than or equal to "
                             "100000"})
        e = self.error("get_query_results", queryId="0000")
        self.assertEqual(e["Code"], "ResourceNotFoundException")

    def test_life_cycle_stop_and_describe(self):
        r = run_query(self.logs, "stats count()", 0, 10)
        self.assertEqual(r["status"], "Complete")
        self.assertEqual(r["statistics"], {"recordsMatched": 0.0, "recordsScanned": 0.0,
                                           "bytesScanned": 0.0, "estimatedRecordsSkipped": 0.0,
                                           "estimatedBytesSkipped": 0.0, "logGroupsScanned": 1.0})
        self.assertFalse(self.logs.stop_query(queryId=r["queryId"])["success"])
        qs = self.logs.describe_queries(logGroupName="g")["queries"]
        self.assertEqual([(q["queryId"], q["status"], q["queryString"]) for q in qs],
                         [(r["queryId"], "Complete", "stats count()")])
        self.assertEqual(self.logs.describe_queries(status="Running")["queries"], [])
        e = self.error("describe_queries", status="Done")
        self.assertEqual(e["Code"], "InvalidParameterException")

    def test_timeout(self):
        # The test hook sets the time a query may run to 0: the query checks its deadline
        # every 4,096 events scanned, so over 5,000 events it ends Timeout at its first check,
        # however fast or slow the machine is. Back to the default, the same query completes.
        srv = skyharness.start_server(self, env={"SKYLOG_SERVE_TEST_HOOKS": "1"})
        logs = skyharness.boto3_client(self, srv, "logs")
        logs.create_log_group(logGroupName="g")
        logs.create_log_stream(logGroupName="g", logStreamName="s")
        now = skyharness.now_ms()
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": now - 60000 + i, "message": '{"a": %d}' % i} for i in range(5000)])
        hook = lambda q: skyharness.raw_request(srv, "POST", "/_skylog/insights-timeout" + q)
        r = hook("?ms=0")
        self.assertEqual((r.status, r.json), (200, {"timeoutMs": 0}), r)
        r = run_query(logs, "stats count()", 0, now // 1000 + 1)
        self.assertEqual(r["status"], "Timeout")
        self.assertEqual(r["results"], [])
        self.assertGreaterEqual(r["statistics"]["recordsScanned"], 4096)
        qs = logs.describe_queries(logGroupName="g", status="Timeout")["queries"]
        self.assertEqual([q["queryId"] for q in qs], [r["queryId"]])
        self.assertEqual(hook("?ms=-1").status, 400)
        self.assertEqual(hook("?ms=3600001").status, 400)
        self.assertEqual(hook("").json, {"timeoutMs": 3600000})  # AWS's 60 minutes
        r = run_query(logs, "stats count()", 0, now // 1000 + 1)
        self.assertEqual(r["status"], "Complete")
        self.assertEqual(rows_of(r), [{"count()": "5000"}])
        # Without the variable, the hook does not exist.
        self.assertEqual(skyharness.raw_request(self.srv, "POST",
                                                "/_skylog/insights-timeout?ms=0").status, 404)

    def test_stop_a_running_query(self):
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")
        now = skyharness.now_ms()
        for k in range(5):
            self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
                {"timestamp": now - 3600000 + k * 10000 + i, "message": '{"a": %d}' % i}
                for i in range(10000)])
        qids = [self.logs.start_query(logGroupName="g", startTime=0, endTime=now // 1000 + 1,
                                      queryString="stats pct(a, 50) by bin(1ms)")["queryId"]
                for _ in range(3)]
        stopped = [self.logs.stop_query(queryId=q)["success"] for q in qids]
        statuses = []
        for q in qids:
            r = self.logs.get_query_results(queryId=q)
            while r["status"] not in FINAL:
                time.sleep(0.02)
                r = self.logs.get_query_results(queryId=q)
            statuses.append(r["status"])
        # each was stopped before it ended (Cancelled) or had ended already (not stopped)
        for ok, st in zip(stopped, statuses):
            self.assertEqual(st, "Cancelled" if ok else "Complete")

    def test_results_in_pages(self):
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")
        now = skyharness.now_ms()
        self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": now - 5000 + i, "message": '{"i": %d}' % i} for i in range(25)])
        r = run_query(self.logs, "fields i | sort i asc", now // 1000 - 60, now // 1000 + 1)
        self.assertEqual(len(r["results"]), 25)
        got, token = [], None
        while True:
            kw = {"nextToken": token} if token else {}
            page = self.logs.get_query_results(queryId=r["queryId"], maxItems=10, **kw)
            self.assertLessEqual(len(page["results"]), 10)
            got += [int(rows_of({"results": [row]})[0]["i"]) for row in page["results"]]
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual(got, list(range(25)))
        q, = [q for q in self.logs.describe_queries()["queries"] if q["queryId"] == r["queryId"]]
        self.assertGreater(q["bytesScanned"], 0)
        self.assertGreaterEqual(q["queryDuration"], 0)

    def test_top_rows_of_many(self):
        # sort + limit over more rows than the engine keeps at once: the same rows a full
        # stable sort of the newest-first events gives (ties keep the newer event first)
        self.logs.create_log_stream(logGroupName="g", logStreamName="t")
        now = skyharness.now_ms()
        events = [{"timestamp": now - 600000 + i, "message": '{"i": %d, "v": %d}' % (i, (i * 7919) % 97)}
                  for i in range(5000)]
        self.logs.put_log_events(logGroupName="g", logStreamName="t", logEvents=events)
        r = run_query(self.logs, "fields i, v | sort v desc | limit 25", now // 1000 - 700,
                      now // 1000 + 1)
        newest_first = sorted(range(5000), reverse=True)
        want = sorted(newest_first, key=lambda i: -((i * 7919) % 97))[:25]
        self.assertEqual([int(x["i"]) for x in rows_of(r)], want)
        self.assertEqual(r["statistics"]["recordsMatched"], 5000)

    def test_query_definitions(self):
        d = self.logs.put_query_definition(name="errors/by-path", queryString="stats count() by path",
                                           logGroupNames=["g"])
        qd = d["queryDefinitionId"]
        self.logs.put_query_definition(name="errors/by-path", queryDefinitionId=qd,
                                       queryString="stats count() by path, level")
        self.logs.put_query_definition(name="other", queryString="limit 1")
        got = self.logs.describe_query_definitions(queryDefinitionNamePrefix="errors/")
        self.assertEqual([(x["queryDefinitionId"], x["queryString"]) for x in got["queryDefinitions"]],
                         [(qd, "stats count() by path, level")])
        self.assertTrue(self.logs.delete_query_definition(queryDefinitionId=qd)["success"])
        self.assertEqual(self.error("delete_query_definition", queryDefinitionId=qd)["Code"],
                         "ResourceNotFoundException")
        self.assertEqual([x["name"] for x in
                          self.logs.describe_query_definitions()["queryDefinitions"]], ["other"])

    def test_aws_cli(self):
        skyharness.aws(self, self.srv, "logs", "create-log-stream", "--log-group-name", "g",
                       "--log-stream-name", "s")
        now = skyharness.now_ms()
        self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": now - 1000, "message": '{"level": "ERROR"}'},
            {"timestamp": now - 999, "message": '{"level": "INFO"}'}])
        out = skyharness.aws(self, self.srv, "logs", "start-query", "--log-group-name", "g",
                             "--start-time", str(now // 1000 - 60), "--end-time",
                             str(now // 1000 + 1), "--query-string",
                             "stats count() as n by level | sort level")
        qid = out["queryId"]
        deadline = time.monotonic() + WAIT_S
        while True:
            res = skyharness.aws(self, self.srv, "logs", "get-query-results", "--query-id", qid)
            if res["status"] in FINAL or time.monotonic() > deadline:
                break
        self.assertEqual(res["status"], "Complete")
        self.assertEqual(res["results"], [[{"field": "level", "value": "ERROR"}, {"field": "n", "value": "1"}],
                                          [{"field": "level", "value": "INFO"}, {"field": "n", "value": "1"}]])
        err = skyharness.aws(self, self.srv, "logs", "start-query", "--log-group-name", "g",
                             "--start-time", "0", "--end-time", "1", "--query-string", "fields |",
                             expect_error="MalformedQueryException")
        self.assertIn("unexpected symbol found | at line 1 and position 7", err)


class Cli(InsightsBase):
    def setUp(self):
        super().setUp()
        self.logs.create_log_group(logGroupName="g")
        self.logs.create_log_stream(logGroupName="g", logStreamName="s")
        now = skyharness.now_ms()
        self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
            {"timestamp": now - 3000 + i, "message": json.dumps({"path": "/p%d" % (i % 2), "note": 'a,"b"'})}
            for i in range(5)])

    def test_outputs(self):
        q = "stats count() as n by path | sort path"
        out = skyharness.run_skylog(self, "query", "--group", "g", "--since", "10m", q, server=self.srv)
        self.assertEqual(out.stdout.splitlines(), ["path  n", "----  -", "/p0   3", "/p1   2"])
        self.assertIn("2 rows; 5 records matched, 5 scanned", out.stderr)
        out = skyharness.run_skylog(self, "query", "-g", "g", "-o", "json", q, server=self.srv)
        self.assertEqual([json.loads(l) for l in out.stdout.splitlines()],
                         [{"path": "/p0", "n": "3"}, {"path": "/p1", "n": "2"}])
        out = skyharness.run_skylog(self, "query", "-g", "g", "-o", "csv", "--limit", "1",
                                    "fields note | limit 5", server=self.srv)
        self.assertEqual(out.stdout.splitlines(), ["note", '"a,""b"""'])

    def test_more_rows_than_one_page(self):
        now = skyharness.now_ms()
        for k in range(2):
            self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
                {"timestamp": now - 60000 + k * 10000 + i // 2, "message": '{"i": %d}' % (k * 10000 + i)}
                for i in range(6000)])
        out = skyharness.run_skylog(self, "query", "-g", "g", "-o", "json", "--limit", "12000",
                                    "fields i | filter ispresent(i)", server=self.srv)
        got = sorted(json.loads(l)["i"] for l in out.stdout.splitlines())
        self.assertEqual(got, sorted(str(k * 10000 + i) for k in range(2) for i in range(6000)))

    def test_progress_on_a_terminal(self):
        import pty
        import select
        now = skyharness.now_ms()
        for k in range(4):
            self.logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
                {"timestamp": now - 60000 + k * 10000 + i // 2, "message": '{"i": %d}' % i}
                for i in range(10000)])
        master, slave = pty.openpty()
        env = dict(os.environ)
        env.update(skyharness.endpoint_env(self.srv))
        p = subprocess.Popen([skyharness.skylog_bin(), "query", "-g", "g",
                              "stats pct(i, 50) as p by bin(1ms) | sort p desc | limit 3"],
                             stdout=subprocess.PIPE, stderr=slave, env=env, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        os.close(slave)
        tty = b""
        deadline = time.monotonic() + WAIT_S
        while True:  # until the terminal's end of file: the query has exited
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, f"skylog query did not end; its terminal: {tty!r}")
            r, _, _ = select.select([master], [], [], left)
            if not r:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            tty += chunk
        out, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
        os.close(master)
        self.assertEqual(p.returncode, 0, tty)
        self.assertEqual(len(out.splitlines()), 2 + 3)  # header, rule, 3 rows on stdout only
        text = tty.decode()
        # whatever progress was shown is erased before the summary line
        self.assertIn("\r\x1b[K3 rows; 40005 records matched, 40005 scanned", text.replace("\r\n", "\n"))
        for line in text.split("\r\x1b[K")[1:-1]:  # progress lines, if a poll saw it running
            self.assertRegex(line, r"^(Running|Scheduled): \d+ records scanned, \d+ matched, \d+ bytes$")

    def test_errors(self):
        out = skyharness.run_skylog(self, "query", "-g", "g", "stats count() by | x",
                                    server=self.srv, check=False)
        self.assertEqual(out.returncode, 2)
        self.assertIn("MalformedQueryException: unexpected symbol found | at line 1 and position 17",
                      out.stderr)
        self.assertIn("  stats count() by | x\n                   ^", out.stderr)
        out = skyharness.run_skylog(self, "query", "-g", "nope", "limit 1", server=self.srv, check=False)
        self.assertEqual(out.returncode, 1)
        self.assertIn("ResourceNotFoundException", out.stderr)
        out = skyharness.run_skylog(self, "query", "limit 1", server=self.srv, check=False)
        self.assertEqual(out.returncode, 2)



class DuringIngestion(InsightsBase):
    """Queries on the two query workers (each with its own SQLite connection) while writers
    put events: what a query counts was stored before it ended, nothing stored is lost, and
    a query that starts after another ended sees at least what that one saw."""
    WRITERS = 2
    BATCHES = 15
    PER_BATCH = 50

    def test_queries_while_writers_write(self):
        self.logs.create_log_group(logGroupName="g")
        for w in range(self.WRITERS):
            self.logs.create_log_stream(logGroupName="g", logStreamName=f"s{w}")
        now = skyharness.now_ms()
        errors = []

        def writer(w):
            try:
                logs = skyharness.boto3_client(self, self.srv, "logs")
                for b in range(self.BATCHES):
                    logs.put_log_events(logGroupName="g", logStreamName=f"s{w}", logEvents=[
                        {"timestamp": now - 60000 + b, "message": '{"w": %d, "b": %d}' % (w, b)}
                        for _ in range(self.PER_BATCH)])
            except Exception as exc:  # reported below, on the test thread
                errors.append(exc)

        def count(r):
            self.assertEqual(r["status"], "Complete", r)
            rows = rows_of(r)
            return int(rows[0]["count()"]) if rows else 0

        total = self.WRITERS * self.BATCHES * self.PER_BATCH
        start_s, end_s = now // 1000 - 120, now // 1000 + 1
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(self.WRITERS)]
        for t in threads:
            t.start()
        seen = 0  # the most any query that already ended counted
        rounds = 0
        while any(t.is_alive() for t in threads) or rounds == 0:
            # two at once: both workers busy while the writers write
            qids = [self.logs.start_query(logGroupName="g", startTime=start_s, endTime=end_s,
                                          queryString=q)["queryId"]
                    for q in ("stats count()", "filter w = 0 | stats count()")]
            got = []
            for q in qids:
                r = self.logs.get_query_results(queryId=q)
                deadline = time.monotonic() + WAIT_S
                while r["status"] not in FINAL and time.monotonic() < deadline:
                    time.sleep(0.02)
                    r = self.logs.get_query_results(queryId=q)
                got.append(count(r))
            all_n, w0_n = got
            self.assertGreaterEqual(all_n, seen)
            self.assertLessEqual(all_n, total)
            self.assertLessEqual(w0_n, total // self.WRITERS)
            # one read transaction per query: a batch is in its snapshot whole or not at all
            self.assertEqual(all_n % self.PER_BATCH, 0)
            self.assertEqual(w0_n % self.PER_BATCH, 0)
            seen = max(seen, all_n)
            rounds += 1
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        r = run_query(self.logs, "stats count()", start_s, end_s)
        self.assertEqual(count(r), total)
        r = run_query(self.logs, "filter w = 0 | stats count()", start_s, end_s)
        self.assertEqual(count(r), total // self.WRITERS)

if __name__ == "__main__":
    unittest.main()
