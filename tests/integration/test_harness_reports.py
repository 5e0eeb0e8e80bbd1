"""The harness's own test: a sanitizer report in a process a test started fails that test.

ASan/UBSan make the process exit non-zero, which Server.cleanup and run_skylog's check see.
TSan reports go to files (skyharness: log_path in TSAN_OPTIONS), and this test proves the
harness reads them (a server's, a command's, and one no helper started, after each test):
tests/tools/sky_tsan_race has one deliberate data race. Under TSan only
(elsewhere it makes no report, so there is nothing to prove)."""

import os
import subprocess
import unittest

import skyharness as sh

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
RACE = os.path.join(BUILD, "tests", "tools", "sky_tsan_race")


class RacyServer(sh.Server):
    def command(self):
        return [RACE, "serve"]


@unittest.skipUnless(sh.sanitizer() == "thread", "TSan build only (SKYLOG_SANITIZE=thread)")
@unittest.skipUnless(os.access(RACE, os.X_OK), "sky_tsan_race not built (set SKYLOG_BUILD_DIR)")
class TsanReports(unittest.TestCase):
    def test_a_server_with_a_report_fails_its_cleanup(self):
        srv = RacyServer().start()
        with self.assertRaises(AssertionError) as cm:
            srv.cleanup()
        self.assertIn("ThreadSanitizer reports", str(cm.exception))
        self.assertIn("data race", str(cm.exception))
        self.assertIn("bump", str(cm.exception))  # the racing function, symbolised

    def test_a_command_with_a_report_is_found_by_pid(self):
        p = subprocess.Popen([RACE])
        p.wait(60 * sh.timeout_scale())
        self.assertIn("data race", sh.take_sanitizer_reports(p.pid))
        self.assertEqual(sh.take_sanitizer_reports(p.pid), "")  # each report is taken once

    def test_a_report_no_one_took_fails_the_test_that_ran(self):
        # a process a test started itself (no Server, no run_skylog): the test fails
        class Inner(unittest.TestCase):
            def test_racy(self):
                subprocess.run([RACE], timeout=60 * sh.timeout_scale())

        result = unittest.TestResult()
        Inner("test_racy").run(result)
        self.assertEqual(len(result.failures), 1, result.errors)
        self.assertIn("data race", result.failures[0][1])


if __name__ == "__main__":
    unittest.main()
