"""The audit trail end to end: entries written through the library's audit sink
(tests/tools/sky_audit_writer.c), then tampered with in each way, and `skylog audit verify` must
name the right line and reason each time. The hash definition of docs/AUDIT.md is checked here
independently, with Python's hashlib/hmac."""
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import skyharness
from skyharness import run_skylog

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
WRITER = os.path.join(BUILD, "tests", "tools", "sky_audit_writer")
KEY = "CANARY-audit-key-5e1d"


def body_of(line):
    """docs/AUDIT.md: the bytes of the line before ,"hash":" ."""
    return line[:line.rindex(b',"hash":"')]


class AuditTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(WRITER):
            raise unittest.SkipTest(f"{WRITER} not built")
        self.tmp = tempfile.mkdtemp(prefix="skylog-audit-")
        self.path = os.path.join(self.tmp, "audit.jsonl")
        self.outputs = []

    def tearDown(self):
        for text in self.outputs:
            self.assertNotIn(KEY, text, "the HMAC key leaked into output")
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, count, first=1, key_file=None):
        args = [WRITER, self.path, str(count), str(first)] + ([key_file] if key_file else [])
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
        self.outputs.append(p.stdout + p.stderr)
        self.assertEqual(p.returncode, 0, p.stderr)

    def lines(self):
        with open(self.path, "rb") as f:
            return f.read().splitlines(keepends=True)

    def put(self, lines):
        with open(self.path, "wb") as f:
            f.write(b"".join(lines))

    def verify(self, *extra):
        p = run_skylog(self, "audit", "verify", self.path, *extra, check=False)
        self.outputs.append(p.stdout + p.stderr)
        return p

    def assertBroken(self, line, reason, *extra):
        p = self.verify(*extra)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        first = p.stdout.splitlines()[0]
        self.assertTrue(first.startswith(f"{self.path}:{line}: {reason}: "), first)
        return first

    def key_file(self, key=KEY):
        path = os.path.join(self.tmp, "key")
        with open(path, "w") as f:
            f.write(key + "\n")
        return path

    # ---- the format, checked independently ------------------------------------------------

    def test_format_and_intact_summary(self):
        self.write(10)
        prev = "0" * 64
        for i, raw in enumerate(self.lines(), 1):
            entry = json.loads(raw)
            self.assertEqual(entry["seq"], i)
            self.assertEqual(entry["prev"], prev)
            self.assertEqual(entry["hash"], hashlib.sha256(body_of(raw)).hexdigest())
            self.assertEqual(entry["message"], "user_action")
            self.assertTrue(raw.endswith(b'"}\n'))
            prev = entry["hash"]
        p = self.verify()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 1)
        self.assertIn(": intact: 10 entries (seq 1..10)", p.stdout)
        self.assertIn(prev, p.stdout)

    def test_hmac_format_and_key(self):
        kf = self.key_file()
        self.write(5, key_file=kf)
        for raw in self.lines():
            entry = json.loads(raw)
            want = hmac.new(KEY.encode(), body_of(raw), hashlib.sha256).hexdigest()
            self.assertEqual(entry["hmac"], want)
            self.assertNotIn(KEY.encode(), raw)
        p = self.verify("--key-file", kf)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("HMAC verified", p.stdout)
        self.assertBroken(1, "hmac", "--key-file", self.key_file("some-other-key"))

    def test_chain_resumes_across_restarts(self):
        self.write(3)
        self.write(3, first=4)
        self.write(3, first=7)
        p = self.verify()
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("intact: 11 entries", p.stdout)  # 9 events + 2 reopenings
        self.assertIn("2 reopening(s)", p.stdout)

    def test_torn_tail_then_restart(self):
        self.write(4)
        with open(self.path, "ab") as f:
            f.write(b'{"seq":5,"prev":"0123')
        self.assertBroken(5, "truncated")
        self.write(2, first=5)
        p = self.verify()
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("1 torn line(s) recorded", p.stdout)

    # ---- tampering ------------------------------------------------------------------------

    def test_changed_byte(self):
        self.write(10)
        lines = self.lines()
        lines[4] = lines[4].replace(b"alice", b"alicf")
        self.put(lines)
        self.assertBroken(5, "changed")

    def test_changed_and_rehashed(self):
        self.write(10)
        lines = self.lines()
        raw = lines[4].replace(b"alice", b"mallory")
        body = body_of(raw)
        lines[4] = body + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
        self.put(lines)
        self.assertBroken(5, "changed")

    def test_changed_and_rehashed_with_hmac(self):
        kf = self.key_file()
        self.write(6, key_file=kf)
        lines = self.lines()
        raw = lines[2].replace(b"alice", b"mallory")
        body = body_of(raw)
        mac = raw[raw.rindex(b'","hmac":"'):]
        lines[2] = body + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + mac
        self.put(lines)
        self.assertBroken(3, "hmac", "--key-file", kf)

    def test_deleted_line(self):
        self.write(10)
        lines = self.lines()
        del lines[4]
        self.put(lines)
        first = self.assertBroken(5, "deleted")
        self.assertIn("seq 5..5", first)

    def test_deleted_lines(self):
        self.write(10)
        lines = self.lines()
        del lines[2:5]
        self.put(lines)
        self.assertIn("seq 3..5", self.assertBroken(3, "deleted"))

    def test_inserted_copy(self):
        self.write(10)
        lines = self.lines()
        lines.insert(6, lines[2])  # an old entry replayed after line 6
        self.put(lines)
        self.assertBroken(7, "inserted")

    def test_inserted_garbage(self):
        self.write(10)
        lines = self.lines()
        lines.insert(3, b'{"note":"nothing to see"}\n')
        self.put(lines)
        self.assertBroken(4, "inserted")

    def test_inserted_forged_entry(self):
        """A self-consistent forged entry (valid hash, next seq, right prev): without an HMAC only
        the entry after it shows the break, and the verifier names the forged line."""
        self.write(10)
        lines = self.lines()
        prev = json.loads(lines[3])["hash"]
        body = ('{"seq":5,"prev":"%s","message":"user_action","user":"mallory"' % prev).encode()
        forged = body + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
        lines.insert(4, forged)
        self.put(lines)
        self.assertBroken(5, "inserted")

    def test_swapped_lines(self):
        self.write(10)
        lines = self.lines()
        lines[3], lines[4] = lines[4], lines[3]
        self.put(lines)
        self.assertBroken(4, "reordered")

    def test_moved_far(self):
        self.write(10)
        lines = self.lines()
        lines.insert(8, lines.pop(2))  # entry 3 moved after entry 9
        self.put(lines)
        self.assertBroken(3, "deleted")  # seen from line 3 alone: 3 is missing ...
        lines = self.lines()
        lines[2], lines[6] = lines[6], lines[2]  # ... but a swap at a distance is a reorder
        self.put(lines)
        self.assertBroken(3, "reordered")

    def test_truncated_mid_line(self):
        self.write(10)
        with open(self.path, "rb") as f:
            data = f.read()
        cut = sum(len(l) for l in self.lines()[:7]) + 40
        with open(self.path, "wb") as f:
            f.write(data[:cut])
        self.assertBroken(8, "truncated")

    def test_wrong_key(self):
        self.write(4, key_file=self.key_file())
        self.assertBroken(1, "hmac", "--key-file", self.key_file("wrong-key"))

    # ---- interrupted ----------------------------------------------------------------------

    def test_interrupted_while_reading_a_pipe(self):
        # FILE is a FIFO whose writer sent four entries and the start of a fifth, and holds it
        # open: verify waits in a read. SIGINT or SIGTERM ends it with 128+N and one line, and
        # no verdict (a "truncated" fifth line, or "intact: 4 entries", would describe part of
        # the input) - never death by the default action. Not timed: the test knows verify is
        # reading the pipe when its own non-blocking open of the write end succeeds (that needs
        # a reader), and it keeps that end open, so the read is still waiting for the signal.
        self.write(5)
        data = b"".join(self.lines())
        part = data[:len(data) - 20]
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(sig=sig.name):
                fifo = os.path.join(self.tmp, f"audit-{sig.name}.fifo")
                os.mkfifo(fifo)
                proc = subprocess.Popen([skyharness.skylog_bin(), "audit", "verify", fifo],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
                self.addCleanup(lambda p=proc: p.poll() is None and (p.kill(), p.wait()))
                w = skyharness.open_fifo_writer(self, proc, fifo)
                self.addCleanup(os.close, w)  # open until verify has exited
                os.write(w, part)
                proc.send_signal(sig)
                out, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
                self.assertEqual(proc.returncode, 128 + sig, err)
                self.assertEqual(out, "")
                self.assertEqual(err, f"skylog audit verify: interrupted by {sig.name}\n")

    def test_interrupted_while_reading_the_key(self):
        # --key-file is a FIFO whose writer holds it open and sends nothing: verify waits in the
        # key's read, before FILE is opened (and, with --group, before any AWS client is made).
        # A signal there ends it as anywhere else: 128+N and the one line, never the default
        # action (a key from a hung pipe must not outlast SIGTERM). Not timed: as above, the
        # write end opens only once verify has the FIFO open for reading.
        self.write(2)
        for where in (["FILE", self.path], ["--group", "--group", "g"]):
            for sig in (signal.SIGINT, signal.SIGTERM):
                with self.subTest(where=where[0], sig=sig.name):
                    fifo = os.path.join(self.tmp, f"key-{where[0]}-{sig.name}.fifo")
                    os.mkfifo(fifo)
                    proc = subprocess.Popen(
                        [skyharness.skylog_bin(), "audit", "verify", *where[1:], "--key-file",
                         fifo],
                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
                    self.addCleanup(lambda p=proc: p.poll() is None and (p.kill(), p.wait()))
                    w = skyharness.open_fifo_writer(self, proc, fifo, "the key's FIFO")
                    self.addCleanup(os.close, w)  # open until verify has exited
                    proc.send_signal(sig)
                    out, err = proc.communicate(timeout=60 * skyharness.timeout_scale())
                    self.assertEqual(proc.returncode, 128 + sig, err)
                    self.assertEqual(out, "")
                    self.assertEqual(err, f"skylog audit verify: interrupted by {sig.name}\n")

    # ---- usage ----------------------------------------------------------------------------

    def test_usage_errors(self):
        p = run_skylog(self, "audit", "verify", check=False)
        self.assertEqual(p.returncode, 2)
        p = run_skylog(self, "audit", "check", self.path, check=False)
        self.assertEqual(p.returncode, 2)
        p = run_skylog(self, "audit", "verify", os.path.join(self.tmp, "missing"), check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("cannot open", p.stderr)
        p = run_skylog(self, "audit", "--help")
        self.assertIn("skylog audit verify FILE", p.stdout)


if __name__ == "__main__":
    unittest.main()
