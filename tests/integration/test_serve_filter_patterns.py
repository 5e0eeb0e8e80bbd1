"""Filter pattern term groups and JSON selectors in `skylog serve`, through the AWS CLI (a real
client) and boto3: `?term` groups with CloudWatch's own OR examples and AWS CDK's anyTermGroup
form, a seeded differential run of random term patterns against a reference written here,
selector wildcards (`[*]`, `.*`) and bracketed names (`['a.b']`) in FilterLogEvents,
TestMetricFilter and a metric filter's value. Expected results are computed by this file's
own reference functions over the messages, never read from the server."""

import json
import random
import time
import unittest
import uuid

import skyharness as sh
from test_serve_metric_filters import iso

# CloudWatch's guide, "OR pattern matching": three events and what four patterns match.
GUIDE_EVENTS = ["ERROR WARN message", "ERROR message", "WARN message"]
GUIDE_CASES = {"ERROR": [0, 1], "?ERROR ?WARN": [0, 1, 2], "ERROR WARN": [0], "ERROR -WARN": [1]}


def term_tokens(pattern):
    """(starts_group, excluded, text) for each term, read as filter_pattern.h describes."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        while i < n and pattern[i].isspace():
            i += 1
        if i == n:
            break
        group = neg = False
        if pattern[i] == "-" and i + 1 < n and not pattern[i + 1].isspace():
            neg, i = True, i + 1
        elif pattern[i] == "?" and i + 1 < n and not pattern[i + 1].isspace():
            group, i = True, i + 1
        if pattern[i] == '"':
            j = pattern.index('"', i + 1)
            text, i = pattern[i + 1:j], j + 1
        else:
            j = i
            while j < n and not pattern[j].isspace():
                j += 1
            text, i = pattern[i:j], j
        out.append((group, neg, text))
    return out


def terms_match(pattern, msg):
    """The reference: a ?term starts a group, the terms after it join it, one whole group
    (all its terms present, none of its -terms) is enough."""
    groups = []
    for group, neg, text in term_tokens(pattern):
        if group or not groups:
            groups.append([])
        groups[-1].append((neg, text))
    return any(all((text in msg) != neg for neg, text in g) for g in groups)


def select(doc, path):
    """Values a selector path selects: a list of steps, each a key, an index or "*"."""
    values = [doc]
    for step in path:
        nxt = []
        for v in values:
            if step == "*":
                nxt += list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else []
            elif isinstance(step, int):
                if isinstance(v, list) and step < len(v):
                    nxt.append(v[step])
            elif isinstance(v, dict) and step in v:
                nxt.append(v[step])
        values = nxt
    return values


DOCS = [
    {"eventType": "UpdateTrail", "arrayKey": ["value", "another value"],
     "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}], "ThisFlag": True},
    {"eventType": "CreateTrail", "arrayKey": ["value"], "objectList": [{"name": "c", "id": 3}],
     "k8s.pod": "web-1", "user": {"e-mail": "a@example.com", "id": 7}},
    {"eventType": "DeleteTrail", "arrayKey": [], "objectList": [],
     "k8s.pod": "db-0", "user": {"e-mail": "b@example.com", "id": 8}},
    {"grid": [[0, 1, 2], [4, 5, 6]], "tags": {"env": "prod", "team": "core"}},
]

# (pattern, the values it tests, the test on one value): the expected events are those where
# the test holds for one selected value (for NOT EXISTS: where none is selected).
SELECTOR_CASES = [
    ('{ $.arrayKey[*] = "another value" }', ["arrayKey", "*"], lambda v: v == "another value"),
    ("{ $.objectList[*].id = 3 }", ["objectList", "*", "id"], lambda v: v == 3),
    ("{ $.objectList[*].id >= 2 }", ["objectList", "*", "id"], lambda v: v >= 2),
    ('{ $.objectList[*].name != "a" }', ["objectList", "*", "name"], lambda v: v != "a"),
    ('{ $.* = "*Trail" }', ["*"], lambda v: isinstance(v, str) and v.endswith("Trail")),
    ("{ $.grid[*][1] = 5 }", ["grid", "*", 1], lambda v: v == 5),
    ("{ $.grid.*.* = 6 }", ["grid", "*", "*"], lambda v: v == 6),
    ('{ $.tags.* = "core" }', ["tags", "*"], lambda v: v == "core"),
    ("{ $.['k8s.pod'] = web-* }", ["k8s.pod"], lambda v: v.startswith("web-")),
    ('{ $["k8s.pod"] = %^db-% }', ["k8s.pod"], lambda v: v.startswith("db-")),
    ("{ $.user.['e-mail'] = *@example.com }", ["user", "e-mail"],
     lambda v: v.endswith("@example.com")),
    ("{ $.*.id = 8 }", ["*", "id"], lambda v: v == 8),
    ("{ $.arrayKey[*] NOT EXISTS }", ["arrayKey", "*"], None),
]


class FilterPatterns(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls)

    def setUp(self):  # boto3 for the set-up, the AWS CLI for what each test checks
        self.client = sh.boto3_client(self, self.srv, "logs")
        self.group = f"/fp/{uuid.uuid4().hex[:8]}"
        self.client.create_log_group(logGroupName=self.group)
        self.client.create_log_stream(logGroupName=self.group, logStreamName="s")

    def logs(self, *args, **kw):
        return sh.aws(self, self.srv, "logs", *args, **kw)

    def put(self, messages):
        t0 = sh.now_ms() - 60_000
        self.client.put_log_events(logGroupName=self.group, logStreamName="s",
                                   logEvents=[{"timestamp": t0 + i, "message": m}
                                              for i, m in enumerate(messages)])

    def filtered(self, pattern, cli=True):
        """The messages FilterLogEvents returns, through the AWS CLI or (faster, for the
        longer lists of cases) boto3."""
        if cli:
            out = self.logs("filter-log-events", "--log-group-name", self.group,
                            "--filter-pattern", pattern)
        else:
            out = self.client.filter_log_events(logGroupName=self.group, filterPattern=pattern)
        return [e["message"] for e in out["events"]]

    def test_the_guides_or_examples_with_the_aws_cli(self):
        self.put(GUIDE_EVENTS)
        for pattern, want in GUIDE_CASES.items():
            with self.subTest(pattern=pattern):
                self.assertEqual([terms_match(pattern, m) for m in GUIDE_EVENTS],
                                 [i in want for i in range(3)], "the reference reads the guide")
                self.assertEqual(self.filtered(pattern), [GUIDE_EVENTS[i] for i in want])

    def test_term_groups_with_the_aws_cli(self):
        events = ["ERROR in MainThread", "ERROR in worker-3", "WARN Deadlock detected",
                  "WARN slow, MainThread", "FATAL: retry later", "INFO ok"]
        self.put(events)
        # AWS CDK's anyTermGroup(["ERROR", "MainThread"], ["WARN", "Deadlock"]), as it writes it
        for pattern in ['?"ERROR" "MainThread" ?"WARN" "Deadlock"', "?ERROR -worker ?FATAL retry",
                        "INFO ?WARN slow", "?Deadlock ?FATAL -retry"]:
            with self.subTest(pattern=pattern):
                want = [m for m in events if terms_match(pattern, m)]
                self.assertEqual(self.filtered(pattern, cli=False), want)
        self.assertEqual(self.filtered('?"ERROR" "MainThread" ?"WARN" "Deadlock"'),
                         ["ERROR in MainThread", "WARN Deadlock detected"])
        out = self.logs("test-metric-filter", "--filter-pattern", "?ERROR MainThread ?FATAL",
                        "--log-event-messages", *events)
        self.assertEqual([m["eventNumber"] for m in out["matches"]], [1, 5])

    def test_random_term_patterns_agree_with_the_reference(self):
        logs = self.client
        rng = random.Random(1307)
        words = ["ERROR", "WARN", "db", "disk", "full", "retry", "x"]
        msgs = [" ".join(rng.sample(words, rng.randint(1, 4))) for _ in range(40)]
        for _ in range(150):
            terms = []
            for _ in range(rng.randint(1, 6)):
                w = rng.choice(words + ['"disk full"', '"db x"'])
                terms.append(rng.choice(["", "", "?", "-"]) + w)
            pattern = " ".join(terms)
            want = [i + 1 for i, m in enumerate(msgs) if terms_match(pattern, m)]
            got = []
            for chunk in range(0, len(msgs), 50):
                out = logs.test_metric_filter(filterPattern=pattern,
                                              logEventMessages=msgs[chunk:chunk + 50])
                got += [chunk + m["eventNumber"] for m in out["matches"]]
            self.assertEqual(got, want, pattern)

    def test_selector_wildcards_and_bracketed_names_with_the_aws_cli(self):
        messages = [json.dumps(d) for d in DOCS]
        self.put(messages)
        for n, (pattern, path, test) in enumerate(SELECTOR_CASES):
            with self.subTest(pattern=pattern):
                if test is None:
                    want = [m for m, d in zip(messages, DOCS) if not select(d, path)]
                else:
                    want = [m for m, d in zip(messages, DOCS)
                            if any(not isinstance(v, (dict, list)) and test(v)
                                   for v in select(d, path))]
                self.assertTrue(0 < len(want) < len(messages), "each case splits the events")
                self.assertEqual(self.filtered(pattern, cli=n % 4 == 0), want)

    def test_selector_refusals(self):
        for bad, why in [("{ $.['a.b = 1 }", "unterminated quoted name"),
                         ("{ $.a[x] = 1 }", "bad array index"),
                         ("{ $" + "[*]" * 65 + " = 1 }", "more than 64 steps"),
                         ("{ $." + "k" * 257 + " = 1 }", "longer than 256")]:
            with self.subTest(pattern=bad):
                r = sh.logs_call(self.srv, "FilterLogEvents",
                                 {"logGroupName": self.group, "filterPattern": bad})
                self.assertEqual(r.error_type, "InvalidParameterException")
                self.assertIn(why, r.json["message"])

    def test_metric_value_from_a_bracketed_name_and_no_wildcard_values(self):
        ns = f"FP/{uuid.uuid4().hex[:8]}"
        self.logs("put-metric-filter", "--log-group-name", self.group, "--filter-name", "w",
                  "--filter-pattern", "{ $.objectList[*].id > 0 }", "--metric-transformations",
                  json.dumps([{"metricName": "Ms", "metricNamespace": ns,
                               "metricValue": "$.objectList[*].id"}]),
                  expect_error="InvalidParameterException")  # a wildcard is not one value
        self.logs("put-metric-filter", "--log-group-name", self.group, "--filter-name", "ms",
                  "--filter-pattern", "{ $.['http.status'] >= 500 }", "--metric-transformations",
                  json.dumps([{"metricName": "Ms", "metricNamespace": ns,
                               "metricValue": "$.['latency.ms']"}]))
        docs = [{"http.status": 503, "latency.ms": 120}, {"http.status": 200, "latency.ms": 5},
                {"http.status": 500, "latency.ms": 80}]
        self.put([json.dumps(d) for d in docs])
        want = [d["latency.ms"] for d in docs if d["http.status"] >= 500]
        now = time.time()
        out = sh.aws(self, self.srv, "cloudwatch", "get-metric-statistics", "--namespace", ns,
                     "--metric-name", "Ms", "--start-time", iso(now - 3600), "--end-time",
                     iso(now + 600), "--period", "3600", "--statistics", "Sum", "SampleCount")
        self.assertEqual(sum(d["Sum"] for d in out["Datapoints"]), sum(want))
        self.assertEqual(sum(d["SampleCount"] for d in out["Datapoints"]), len(want))


if __name__ == "__main__":
    unittest.main()
