"""`skylog ship` takes a JSON line's time from its "timestamp", "time" or "ts" field; the lines
come from files anyone may write. A number that is no time (1e300, -1e300, NaN, Infinity: not
finite, or beyond +-10^18 ms once scaled) must leave the line stamped with the time it was
read, like text that is no time, never become a timestamp through an undefined conversion
(it became INT64_MIN, which the sink then refused as too old: the line was lost and ship
exited 1). Real times, in seconds, milliseconds and ISO-8601, are still taken.
"""

import json
import unittest

import skyharness as sh


class ShipTimestampTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = sh.start_class_server(cls)

    def stored(self, group, stream):
        r = sh.logs_call(self.srv, "GetLogEvents", {"logGroupName": group, "logStreamName": stream,
                                                    "startFromHead": True})
        self.assertEqual(r.status, 200, r.body)
        return r.json["events"]

    def test_numbers_that_are_no_time_are_stamped_when_read(self):
        now = sh.now_ms()
        own = [json.dumps({"ts": now - 5000, "i": "ms"}),
               json.dumps({"ts": now // 1000 - 4, "i": "seconds"})]
        no_time = ['{"ts": 1e300, "i": 1}', '{"ts": -1e300, "i": 2}', '{"ts": NaN, "i": 3}',
                   '{"time": Infinity, "i": 4}', '{"ts": -Infinity, "i": 5}',
                   '{"ts": 1e19, "i": 6}']
        lines = own + no_time
        before = sh.now_ms()
        p = sh.run_skylog(self, "ship", "--group", "/ship/ts", "--stream", "s", "-",
                          server=self.srv, input="\n".join(lines) + "\n")
        after = sh.now_ms()
        self.assertIn(f"{len(lines)} events read, {len(lines)} sent", p.stderr)
        events = {e["message"]: e["timestamp"] for e in self.stored("/ship/ts", "s")}
        self.assertEqual(set(events), set(lines))
        self.assertEqual(events[own[0]], now - 5000)
        self.assertEqual(events[own[1]], (now // 1000 - 4) * 1000)
        for line in no_time:
            self.assertTrue(before - 1000 <= events[line] <= after + 1000, (line, events[line]))


if __name__ == "__main__":
    unittest.main()
