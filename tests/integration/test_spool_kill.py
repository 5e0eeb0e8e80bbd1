"""The CloudWatch sink's crash-safe spool end to end (docs/DURABILITY.md), against `skylog serve`:

- Kill test: a producer (tests/tools/sky_spool_producer.c) logs sequence-numbered events through
  a synchronous pipeline to the CloudWatch sink with a spool and records each event the sink
  accepted; it is SIGKILLed at random points 20 times and started again on the same spool; a
  last run closes cleanly. Then every sequence number ever accepted is in the log stream, and
  the copies beyond the first are no more than the events the spool counted as possibly stored
  twice (spool_ambiguous_total, cumulative over all the runs); nothing is stored that was not
  produced.
- Outage test: the endpoint disappears and comes back (same port, same data); memory stays
  within the configured bounds while the producer offers far more than the spool holds;
  everything accepted is delivered once, in order, and what was refused is counted, and said
  in-band by one skylog.gap line with the same count.

No assertion depends on timing: kills land wherever they land (the random delays only spread
them), and each wait is for a state (lines in a file, a server answer), bounded by a timeout.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import skyharness

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
PRODUCER = os.path.join(BUILD, "tests", "tools", "sky_spool_producer")
GROUP, STREAM = "/skylog/spool", "spool-test"


def stored_messages(srv):
    """Every message of the test stream, oldest first ([] when it does not exist)."""
    msgs, token = [], None
    while True:
        req = {"logGroupName": GROUP, "logStreamName": STREAM, "startFromHead": True}
        if token:
            req["nextToken"] = token
        r = skyharness.logs_call(srv, "GetLogEvents", req)
        if r.status == 400 and "ResourceNotFound" in r.error_type:
            return []
        if r.status != 200:
            raise AssertionError(f"GetLogEvents: {r}")
        body = r.json
        msgs += [e["message"] for e in body["events"]]
        if not body["events"] or body.get("nextForwardToken") == token:
            return msgs
        token = body["nextForwardToken"]


def seqs_of(msgs):
    out = []
    for m in msgs:
        j = json.loads(m)
        if j.get("message") == "tick":
            out.append(j["seq"])
    return out


def accepted_seqs(path):
    """The sequence numbers recorded as accepted (a line cut short by a kill is ignored)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    lines = text.split("\n")
    return [int(x) for x in lines[:-1] if x]  # the last piece has no newline: cut or empty


def flush_ms():
    """The bound the producer's flush and quit get: only a hang reaches it (how long delivering
    what 20 killed runs left takes is the machine's business, under TSan on a loaded one too)."""
    return int(120 * 1000 * skyharness.timeout_scale())


def quit_producer(test, p):
    """quit: the producer flushes (bounded by flush_ms()), prints its last stats and exits 0;
    returns those stats."""
    p.stdin.write(f"quit {flush_ms()}\n")
    p.stdin.flush()
    out, err = p.communicate(timeout=2 * flush_ms() / 1000)
    test.assertEqual(p.returncode, 0, err[-3000:])
    return json.loads(out.strip().splitlines()[-1])


def wait_for(pred, what, timeout=120):
    deadline = time.monotonic() + timeout * skyharness.timeout_scale()
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def kill_producers(test, srv, rng, runs):
    """Starts test.producer(srv.url, run) for runs 1..runs, lets it log (or not: a quarter of
    the kills come before its first event), SIGKILLs it at a random point; returns the kills."""
    kills = 0
    for run in range(1, runs + 1):
        before = len(accepted_seqs(test.accepted))
        p = test.producer(srv.url, run)
        p.stdin.write("run 3000\n")
        p.stdin.flush()
        if rng.random() < 0.75:
            want = before + rng.randint(1, 2500)
            wait_for(lambda: len(accepted_seqs(test.accepted)) >= want or
                     p.poll() is not None, "the producer's progress")
        time.sleep(rng.uniform(0, 0.02))
        if p.poll() is not None:
            test.fail(f"producer exited early: {p.stderr.read()[-3000:]}")
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdin.close()
        p.stdout.close()
        p.stderr.close()
        kills += 1
    return kills


class FixedPortServer(skyharness.Server):
    """`skylog serve` that comes back on the port it had (an endpoint that goes away and
    returns at the same address)."""

    def __init__(self, port, **kw):
        super().__init__(**kw)
        self.fixed_port = port

    def command(self):
        cmd = super().command()
        cmd[cmd.index("--port") + 1] = str(self.fixed_port)
        return cmd


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SpoolTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(PRODUCER):
            raise unittest.SkipTest(f"{PRODUCER} not built")
        self.tmp = tempfile.mkdtemp(prefix="skylog-spool-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.spool = os.path.join(self.tmp, "cw.spool")
        self.accepted = os.path.join(self.tmp, "accepted.txt")

    def producer(self, srv_url, run, spool_bytes=0, pad=16):
        p = subprocess.Popen([PRODUCER, srv_url, self.spool, self.accepted, str(run),
                              str(spool_bytes), str(pad)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and p.kill())
        return p

    def command(self, p, cmd):
        p.stdin.write(cmd + "\n")
        p.stdin.flush()
        line = p.stdout.readline()
        if not line:
            self.fail(f"producer died on {cmd!r}: {p.stderr.read()[-3000:]}")
        return line.strip()

    def stats(self, p):
        return json.loads(self.command(p, "stats"))

    def quit(self, p):
        return quit_producer(self, p)

    def test_kill_20_times_every_accepted_event_stored_once(self):
        srv = skyharness.start_server(self, verbose=False)
        rng = random.Random(int(os.environ.get("SKYLOG_TEST_SEED", "16")))
        kills = kill_producers(self, srv, rng, 20)
        self.assertEqual(kills, 20)
        # the last run delivers what the spool still holds, and closes cleanly
        p = self.producer(srv.url, 99)
        self.assertIn("accepted=100 ", self.command(p, "put 100"))
        final = self.quit(p)
        self.assertEqual(final["queued_events"], 0, final)
        self.assertEqual(final["spool_used_bytes"], 0, final)
        self.assertEqual(final["undelivered"], 0, final)

        accepted = accepted_seqs(self.accepted)
        stored = seqs_of(stored_messages(srv))
        counts = {}
        for s in stored:
            counts[s] = counts.get(s, 0) + 1
        missing = [s for s in accepted if s not in counts]
        self.assertEqual(missing, [], f"{len(missing)} accepted events were never stored")
        self.assertEqual(len(set(accepted)), len(accepted), "a sequence number was reused")
        dups = sum(c - 1 for c in counts.values())
        print(f"\nkill test: {len(accepted)} accepted, {len(stored)} stored, {dups} stored "
              f"twice, {final['spool_ambiguous_total']} counted ambiguous, "
              f"{final['spool_torn_total']} torn records skipped", file=sys.stderr)
        self.assertLessEqual(dups, final["spool_ambiguous_total"],
                             f"{dups} copies stored twice, only "
                             f"{final['spool_ambiguous_total']} counted ambiguous")
        # nothing stored that was not produced: beyond what was recorded, at most the one
        # event per run whose sky_info was accepted when the kill came before its record
        acc = set(accepted)
        extra = sorted(set(counts) - acc)
        last = {}
        for s in accepted:
            last[s // 1000000] = max(last.get(s // 1000000, -1), s % 1000000)
        for s in extra:
            run, i = divmod(s, 1000000)
            self.assertEqual(i, last.get(run, -1) + 1, f"stored {s}, never produced")
        self.assertGreater(len(accepted), 100)

    def test_outage_bounded_memory_delivered_within_capacity_rest_counted(self):
        port = free_port()
        srv = FixedPortServer(port, verbose=False)
        self.addCleanup(srv.cleanup)
        srv.start()
        spool_bytes, pad = 256 << 10, 900  # about 1 KiB a record: 256 fit
        p = self.producer(srv.url, 1, spool_bytes, pad)
        self.assertEqual(self.command(p, "put 50"), "put accepted=50 refused=0")
        self.assertEqual(self.command(p, f"flush {flush_ms()}"), "flush ok")
        base = self.stats(p)

        srv.stop()  # the endpoint goes away
        offered = 20000  # ~20 MiB offered to a 256 KiB spool
        put = self.command(p, f"put {offered}")
        acc = int(put.split("accepted=")[1].split()[0])
        ref = int(put.split("refused=")[1])
        self.assertEqual(acc + ref, offered)
        self.assertGreater(acc, 150)  # what fits (the queue is bounded by the same size)
        self.assertLess(acc, 260)
        during = self.stats(p)
        self.assertEqual(during["queue_full"], ref)
        self.assertEqual(during["spool_dropped_total"], ref)
        self.assertLessEqual(during["queued_bytes"], spool_bytes)
        self.assertLessEqual(during["spool_used_bytes"], during["spool_bytes"])
        # memory bounded: 20 MiB offered, the peak grew by less than half of that
        grew = during["vm_hwm_kib"] - base["vm_hwm_kib"]
        print(f"\noutage test: {acc} accepted, {ref} refused, peak RSS +{grew} KiB", file=sys.stderr)
        self.assertLess(grew, 10 * 1024, f"peak RSS grew {grew} KiB while the endpoint was down")

        srv.start()  # back, same port, same data
        self.assertEqual(self.command(p, f"flush {flush_ms()}"), "flush ok")
        self.assertEqual(self.command(p, "put 1"), "put accepted=1 refused=0")
        final = self.quit(p)
        self.assertEqual(final["queued_events"], 0)

        msgs = stored_messages(srv)
        seqs = seqs_of(msgs)
        accepted = accepted_seqs(self.accepted)
        self.assertEqual(seqs, accepted, "delivered exactly what was accepted, once, in order")
        self.assertEqual(len(accepted), 50 + acc + 1)
        gaps = [json.loads(m) for m in msgs if json.loads(m).get("message") == "skylog.gap"]
        self.assertEqual(len(gaps), 1, gaps)
        self.assertEqual(gaps[0]["dropped"], ref)
        self.assertEqual(gaps[0]["reason"], "queue_full")
        # the gap line sits where the loss was: after the events accepted before it
        gap_at = next(i for i, m in enumerate(msgs) if "skylog.gap" in m)
        self.assertEqual(gap_at, 50 + acc)

    def test_second_process_gets_a_clear_error(self):
        srv = skyharness.start_server(self, verbose=False)
        p = self.producer(srv.url, 1)
        self.assertEqual(self.command(p, "put 1"), "put accepted=1 refused=0")
        q = subprocess.run([PRODUCER, srv.url, self.spool, self.accepted, "2"], input="quit\n",
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(q.returncode, 1, q.stdout + q.stderr[-2000:])
        self.assertIn(f"spool {self.spool} is in use by another process (pid {p.pid})", q.stderr)
        self.quit(p)


if __name__ == "__main__":
    unittest.main()
