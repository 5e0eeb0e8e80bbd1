"""The SDKs' retry modes (retry_mode / AWS_RETRY_MODE, max_attempts / AWS_MAX_ATTEMPTS).

Two oracles. botocore's own adaptive-mode classes (retries/adaptive.py ClientRateLimiter and
RateClocker, bucket.py TokenBucket, throttling.py CubicCalculator), driven on a fake clock,
against skylog's limiter replaying the same events (sky_aws_tool limiter): every rate, capacity
and wait must agree. And a fake endpoint for the client: which answers each mode retries, how
many attempts, where the mode is read from, what an invalid setting says, and that adaptive
mode holds sends back after throttling. Sleeps are injected (recorded, never slept).
"""
import json
import os
import random
import shutil
import subprocess
import tempfile
import unittest

from awsfakes import TOOL, FakeServer, base_env, run_tool

try:
    from botocore.exceptions import CapacityNotAvailableError
    from botocore.retries import adaptive, bucket, throttling
except ImportError:  # pragma: no cover - botocore is part of the test environment
    adaptive = None

TARGET = "Logs_20140328.PutLogEvents"
OK = (200, {"x-amzn-RequestId": "req-ok"}, '{"nextSequenceToken":"1"}')


def error(code, status=400):
    return status, {"Content-Type": "application/x-amz-json-1.1"}, \
        json.dumps({"__type": code, "message": "m"})


class FakeClock:
    def __init__(self, t):
        self.t = t

    def current_time(self):
        return self.t

    def sleep(self, amount):
        raise AssertionError("the oracle never sleeps")


class Detector:
    def is_throttling_error(self, **kwargs):
        return kwargs["throttled"]


def botocore_limiter(t0):
    clock = FakeClock(t0)
    tb = bucket.TokenBucket(max_rate=1, clock=clock)
    lim = adaptive.ClientRateLimiter(
        rate_adjustor=throttling.CubicCalculator(starting_max_rate=0, start_time=t0),
        rate_clocker=adaptive.RateClocker(clock), token_bucket=tb,
        throttling_detector=Detector(), clock=clock)
    return clock, tb, lim


def botocore_step(clock, tb, lim, t, ev):
    """One event on botocore's limiter; returns the state as sky_aws_tool limiter prints it."""
    clock.t = t
    wait = 0.0
    if ev == "acquire":
        if lim._enabled:
            try:
                tb.acquire(1, block=False)
            except CapacityNotAvailableError:
                wait = tb._sleep_amount(1)
    else:
        lim.on_receiving_response(throttled=(ev == "throttle"))
    return {"wait": wait, "fill_rate": tb._fill_rate, "max_capacity": tb._max_capacity,
            "capacity": tb._current_capacity, "measured": lim._rate_clocker.measured_rate,
            "enabled": lim._enabled}


@unittest.skipIf(not os.path.exists(TOOL), f"{TOOL} not built")
@unittest.skipIf(adaptive is None, "botocore not installed")
class AdaptiveLimiterOracle(unittest.TestCase):
    def run_both(self, events):
        clock, tb, lim = botocore_limiter(events[0][0])
        want = [botocore_step(clock, tb, lim, t, ev) for t, ev in events]
        p = subprocess.run([TOOL, "limiter"], input="".join(f"{t!r} {ev}\n" for t, ev in events),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(len(got), len(events))
        for i, (g, w) in enumerate(zip(got, want)):
            for k, v in w.items():
                if isinstance(v, bool):
                    self.assertEqual(g[k], v, (i, events[i], k))
                else:
                    self.assertAlmostEqual(g[k], v, delta=1e-9 * (1 + abs(v)),
                                           msg=(i, events[i], k, g, w))
        return want

    def simulate(self, seed, phases):
        """Events of a sender that sends as fast as the limiter lets it (waiting what botocore
        says), with a throttling probability per phase: [(duration_s, send_interval_s, p)]."""
        rng = random.Random(seed)
        t = 1700000000.25  # a wall-clock-like origin, as botocore's clock is time.time()
        clock, tb, lim = botocore_limiter(t)
        events = []
        for duration, interval, p in phases:
            end = t + duration
            while t < end:
                events.append((t, "acquire"))
                st = botocore_step(clock, tb, lim, t, "acquire")
                if st["wait"] > 0:
                    t += max(st["wait"], 1e-6)  # 1e-12 would not move a clock at 1.7e9
                    continue
                ev = "throttle" if rng.random() < p else "ok"
                t += rng.uniform(0.001, 0.05)  # the request's latency
                events.append((t, ev))
                botocore_step(clock, tb, lim, t, ev)
                t += interval * rng.uniform(0.5, 1.5)
        return events

    def test_throttling_storm_matches_botocore(self):
        events = self.simulate(1, [(5, 0.01, 0.0), (20, 0.01, 0.9), (30, 0.01, 0.0),
                                   (10, 0.02, 0.3)])
        want = self.run_both(events)
        self.assertGreater(len(events), 300)
        # the storm slowed the sender: botocore (and so skylog) made it wait
        self.assertTrue(any(w["wait"] > 0 for w in want))
        self.assertTrue(any(w["fill_rate"] == 0.5 for w in want))

    def test_random_sequences_match_botocore(self):
        for seed in range(2, 6):
            self.run_both(self.simulate(seed, [(8, 0.005, 0.5), (8, 0.05, 0.05)]))


@unittest.skipIf(not os.path.exists(TOOL), f"{TOOL} not built")
class RetryModes(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="skymodes.")
        self.env = base_env(self.tmp)
        self.env.update(AWS_ACCESS_KEY_ID="AKIAMODES", AWS_SECRET_ACCESS_KEY="s",
                        AWS_REGION="us-east-1")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def call(self, srv, *args):
        rc, objs, text = run_tool(["call", "--endpoint", srv.url, "--target", TARGET,
                                   "--random", "0.5"] + list(args), self.env)
        return rc, objs, text

    def config(self, text):
        path = os.path.join(self.tmp, "config")
        with open(path, "w") as f:
            f.write(text)
        self.env["AWS_CONFIG_FILE"] = path

    def test_standard_is_the_default(self):
        with FakeServer(lambda r: (500, {}, "{}")) as srv:
            rc, [o], _ = self.call(srv)
        self.assertEqual(o["attempts"], 3)
        self.assertEqual(o["stats"]["mode"], "standard")
        self.assertEqual(o["stats"]["retries"], 2)
        self.assertEqual(o["sleeps_ms"], [500.0, 1000.0])
        self.assertEqual(o["stats"]["quota_available"], 490)

    def test_legacy_from_the_environment(self):
        self.env["AWS_RETRY_MODE"] = "legacy"
        with FakeServer(lambda r: (500, {}, "{}")) as srv:
            rc, [o], _ = self.call(srv)
        # botocore's _retry.json: 5 attempts, rand * 2^(n-1) s, no quota
        self.assertEqual((o["attempts"], o["stats"]["mode"]), (5, "legacy"))
        self.assertEqual(o["sleeps_ms"], [500.0, 1000.0, 2000.0, 4000.0])
        self.assertEqual(o["stats"]["quota_available"], -1)
        # codes outside its list are not retried in legacy mode, and are in standard mode
        with FakeServer(lambda r: error("TooManyRequestsException")) as srv:
            rc, [o], _ = self.call(srv)
            self.assertEqual((o["attempts"], o["retryable"]), (1, False))
            self.env["AWS_RETRY_MODE"] = "standard"
            rc, [o], _ = self.call(srv)
            self.assertEqual(o["attempts"], 3)

    def test_profile_settings_and_env_precedence(self):
        self.config("[default]\nretry_mode = legacy\nmax_attempts = 2\n"
                    "[profile other]\nretry_mode = adaptive\n")
        with FakeServer(lambda r: (503, {}, "{}")) as srv:
            rc, [o], _ = self.call(srv)
            self.assertEqual((o["stats"]["mode"], o["attempts"]), ("legacy", 2))
            self.env["AWS_MAX_ATTEMPTS"] = "4"  # the environment wins, setting by setting
            rc, [o], _ = self.call(srv)
            self.assertEqual((o["stats"]["mode"], o["attempts"]), ("legacy", 4))
            self.env["AWS_PROFILE"] = "other"
            rc, [o], _ = self.call(srv)
            self.assertEqual((o["stats"]["mode"], o["attempts"]), ("adaptive", 4))
            rc, [o], _ = self.call(srv, "--max-attempts", "1")  # the program's own wins
            self.assertEqual(o["attempts"], 1)

    def test_invalid_settings_are_errors_that_name_them(self):
        with FakeServer(lambda r: OK) as srv:
            self.env["AWS_RETRY_MODE"] = "aggressive"
            rc, [o], _ = self.call(srv)
            self.assertEqual(rc, 1)
            self.assertIn("AWS_RETRY_MODE is 'aggressive'", o["error"])
            self.assertIn("standard, adaptive or legacy", o["error"])
            del self.env["AWS_RETRY_MODE"]
            self.config("[default]\nmax_attempts = none\n")
            rc, [o], _ = self.call(srv)
            self.assertIn("max_attempts of profile default is 'none'", o["error"])
            self.assertEqual(srv.requests, [])

    def test_adaptive_holds_sends_back_after_throttling(self):
        # a throttling storm, then the service recovers: after the first throttling answer each
        # attempt waits for a token of a bucket that fills at 0.5/s (nothing measured yet)
        answers = [error("ThrottlingException")] * 3 + [OK] * 3

        def h(req):
            return answers.pop(0) if answers else OK
        with FakeServer(h) as srv:
            rc, objs, _ = self.call(srv, "--retry-mode", "adaptive", "--calls", "2")
        o = objs[0]
        self.assertEqual(o["status"], "throttled")
        self.assertEqual(o["attempts"], 3)
        self.assertEqual(o["stats"]["throttles"], 3)
        self.assertGreaterEqual(o["stats"]["rate_limited"], 2)
        # each held-back attempt waited at most 1/0.5 s, besides the backoff sleeps
        self.assertGreater(o["rate_limited_ms"], 0)
        self.assertLessEqual(o["rate_limited_ms"], 2 * 2000.0)
        backoffs = [500.0, 1000.0]
        self.assertEqual([s for s in o["sleeps_ms"] if s in backoffs], backoffs)
        # the next call is held back too: its first attempt waits for a token
        self.assertEqual(objs[1]["status"], "ok")
        self.assertGreater(objs[1]["rate_limited_ms"], 0)
        # standard mode on the same storm never holds an attempt back
        answers[:] = [error("ThrottlingException")] * 3 + [OK] * 3
        with FakeServer(h) as srv:
            rc, objs, _ = self.call(srv, "--retry-mode", "standard", "--calls", "2")
        self.assertEqual([o["rate_limited_ms"] for o in objs], [0, 0])
        self.assertEqual(objs[0]["sleeps_ms"], [500.0, 1000.0])

    def test_adaptive_with_an_injected_sleeper_the_clock_does_not_see(self):
        # the limiter's wait is slept once through the sleeper and the token taken: no loop
        # waiting for a clock that the sleep did not move
        answers = [error("ThrottlingException"), OK, OK]

        def h(req):
            return answers.pop(0) if answers else OK
        with FakeServer(h) as srv:
            rc, objs, _ = self.call(srv, "--retry-mode", "adaptive", "--calls", "2",
                                    "--real-monotonic")
        self.assertEqual([o["status"] for o in objs], ["ok", "ok"])
        # call 1: backoff 500 ms, then one wait of the limiter (at most 2 s at the 0.5/s
        # floor, less the capacity the real time since the client's creation refilled)
        first = objs[0]["sleeps_ms"]
        self.assertEqual(first[0], 500.0)
        self.assertEqual(len(first), 2)
        self.assertAlmostEqual(objs[0]["rate_limited_ms"], first[1], delta=0.01)
        self.assertGreater(first[1], 0.0)
        self.assertLessEqual(first[1], 2000.0)
        # call 2 waits too, once: the token taken in debt keeps the rate
        self.assertEqual(len(objs[1]["sleeps_ms"]), 1)
        self.assertGreater(objs[1]["rate_limited_ms"], 0.0)

    def test_quota_exhaustion_stops_retrying_in_adaptive_mode_too(self):
        with FakeServer(lambda r: (500, {}, "{}")) as srv:
            rc, objs, _ = self.call(srv, "--retry-mode", "adaptive", "--quota", "10",
                                    "--calls", "3")
        self.assertEqual([o["attempts"] for o in objs], [3, 1, 1])
        self.assertEqual(objs[2]["stats"]["quota_refusals"], 2)


if __name__ == "__main__":
    unittest.main()


class AgainstServe(unittest.TestCase):
    """`skylog ship` in adaptive mode against `skylog serve --faults throttle=...`: everything is
    delivered once, the throttling is counted, and the rate limiter's wait is reported."""

    def setUp(self):
        import skyharness
        self.sh = skyharness

    def test_adaptive_ship_through_a_throttling_server(self):
        import re
        sh = self.sh
        # a seed with a few throttling answers, none long in a row: a storm is the limiter
        # oracle's to test (ship itself waits throttling out: test_ship_throttled)
        srv = sh.start_server(self, extra_args=["--faults", "throttle=0.25", "--seed", "7"])
        n = 30
        data = "".join(f"line {i}\n" for i in range(n))
        p = sh.run_skylog(self, "ship", "-g", "/modes/adaptive", "-s", "s", "--batch-size", "6",
                          "-", server=srv, input=data, check=False,
                          env={"AWS_RETRY_MODE": "adaptive", "AWS_MAX_ATTEMPTS": "3"})
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        m = re.search(r"(\d+) sent in \d+ requests \((\d+) retries, (\d+) throttled\)", p.stderr)
        self.assertIsNotNone(m, p.stderr)
        sent, retries, throttled = map(int, m.groups())
        self.assertEqual(sent, n)
        self.assertGreater(throttled, 0, "the faults did not happen")
        self.assertGreaterEqual(retries, throttled)  # every throttled request was sent again
        self.assertIn("by the adaptive retry mode's rate limiter", p.stderr)
        srv.extra_args = []  # read back without faults
        srv.restart()
        r = sh.logs_call(srv, "GetLogEvents", {"logGroupName": "/modes/adaptive",
                                               "logStreamName": "s", "startFromHead": True})
        msgs = [e["message"] for e in json.loads(r.body)["events"]]
        self.assertEqual(msgs, [f"line {i}" for i in range(n)])

    def test_invalid_mode_stops_ship_and_tail_with_a_clear_error(self):
        sh = self.sh
        srv = sh.start_server(self)
        for args in (["ship", "-g", "/modes/bad", "-"], ["tail", "-g", "/modes/bad"]):
            p = sh.run_skylog(self, *args, server=srv, input="x\n", check=False,
                              env={"AWS_RETRY_MODE": "fastest"})
            self.assertNotEqual(p.returncode, 0, p.stderr)
            self.assertIn("AWS_RETRY_MODE is 'fastest'", p.stderr)
            self.assertIn("standard, adaptive or legacy", p.stderr)
