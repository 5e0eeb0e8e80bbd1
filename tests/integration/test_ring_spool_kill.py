"""The async ring's crash-safe spool end to end (ring_spool_path, docs/DURABILITY.md "The async
ring's spool"), against `skylog serve`:

- Kill test: a producer (tests/tools/sky_spool_producer.c with a RING_SPOOL argument) logs
  sequence-numbered events through an ASYNC pipeline whose ring is kept in a file, to the
  CloudWatch sink with its own spool, and records each event once sky_info() returned; it is
  SIGKILLed at random points 20 times and started again on the same two files; a last run
  closes cleanly. Then every sequence number ever accepted is in the log stream, and the copies
  beyond the first are no more than the events the two spools counted as possibly written
  twice (the sink's spool_ambiguous_total plus the ring's ambiguous total, each cumulative over
  every run); nothing is stored that was not produced.
- A second process on the same ring spool gets a clear error.

No assertion depends on timing: kills land wherever they land, and each wait is for a state,
bounded by a timeout.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

import skyharness
import test_spool_kill as base

PRODUCER = base.PRODUCER


class RingSpoolTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(PRODUCER):
            raise unittest.SkipTest(f"{PRODUCER} not built")
        self.tmp = tempfile.mkdtemp(prefix="skylog-ringspool-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.spool = os.path.join(self.tmp, "cw.spool")
        self.ring = os.path.join(self.tmp, "ring.spool")
        self.accepted = os.path.join(self.tmp, "accepted.txt")

    def producer(self, srv_url, run):
        p = subprocess.Popen([PRODUCER, srv_url, self.spool, self.accepted, str(run), "0", "16",
                              self.ring],
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

    def quit(self, p):
        return base.quit_producer(self, p)

    def test_async_kill_20_times_every_accepted_event_stored_once(self):
        srv = skyharness.start_server(self, verbose=False)
        rng = random.Random(int(os.environ.get("SKYLOG_TEST_SEED", "16")))
        kills = base.kill_producers(self, srv, rng, 20)
        self.assertEqual(kills, 20)
        p = self.producer(srv.url, 99)
        self.assertIn("accepted=100 ", self.command(p, "put 100"))
        final = self.quit(p)
        self.assertEqual(final["pipeline_dropped"], 0, final)
        self.assertEqual(final["queued_events"], 0, final)
        self.assertEqual(final["spool_used_bytes"], 0, final)
        self.assertEqual(final["undelivered"], 0, final)

        accepted = base.accepted_seqs(self.accepted)
        stored = base.seqs_of(base.stored_messages(srv))
        counts = {}
        for s in stored:
            counts[s] = counts.get(s, 0) + 1
        missing = [s for s in accepted if s not in counts]
        self.assertEqual(missing, [], f"{len(missing)} accepted events were never stored")
        self.assertEqual(len(set(accepted)), len(accepted), "a sequence number was reused")
        dups = sum(c - 1 for c in counts.values())
        ambiguous = final["spool_ambiguous_total"] + final["ring_ambiguous_total"]
        print(f"\nring spool kill test: {len(accepted)} accepted, {len(stored)} stored, {dups} "
              f"stored twice, {ambiguous} counted ambiguous "
              f"({final['ring_ambiguous_total']} by the ring), "
              f"{final['ring_recovered_total']} recovered from the ring, "
              f"{final['ring_torn_total']} torn ring records", file=sys.stderr)
        self.assertLessEqual(dups, ambiguous,
                             f"{dups} copies stored twice, only {ambiguous} counted ambiguous")
        # nothing stored that was not produced: beyond what was recorded, at most the one event
        # per run whose sky_info returned when the kill came before its record
        acc = set(accepted)
        last = {}
        for s in accepted:
            last[s // 1000000] = max(last.get(s // 1000000, -1), s % 1000000)
        for s in sorted(set(counts) - acc):
            run, i = divmod(s, 1000000)
            self.assertEqual(i, last.get(run, -1) + 1, f"stored {s}, never produced")
        self.assertGreater(len(accepted), 100)

    def test_second_process_gets_a_clear_error(self):
        srv = skyharness.start_server(self, verbose=False)
        p = self.producer(srv.url, 1)
        self.assertEqual(self.command(p, "put 1"), "put accepted=1 refused=0")
        other = os.path.join(self.tmp, "other-cw.spool")
        q = subprocess.run([PRODUCER, srv.url, other, self.accepted, "2", "0", "16", self.ring],
                           input="quit\n", capture_output=True, text=True, timeout=120)
        self.assertEqual(q.returncode, 1, q.stdout + q.stderr[-2000:])
        self.assertIn(f"ring spool {self.ring} is in use by another process (pid {p.pid})",
                      q.stderr)
        self.quit(p)


if __name__ == "__main__":
    unittest.main()
