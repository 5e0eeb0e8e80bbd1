"""The JSON encoder checked by an independent decoder.

json_emit logs randomised hostile events (every byte value, invalid UTF-8, control characters,
U+2028) through a real pipeline. Python's json must parse every line, and every field must
decode to exactly the input with invalid UTF-8 replaced the way Python itself does it
(bytes.decode('utf-8', 'replace'): one U+FFFD per maximal ill-formed subpart).
"""
import json
import os
import subprocess
import tempfile
import unittest

BUILD = os.environ.get("SKYLOG_BUILD_DIR", "")
TOOL = os.path.join(BUILD, "tests", "oracle", "json_emit")


@unittest.skipUnless(os.path.exists(TOOL), "json_emit not built (set SKYLOG_BUILD_DIR)")
class JsonOracle(unittest.TestCase):
    def run_tool(self, seed, count):
        with tempfile.TemporaryDirectory() as d:
            inputs = os.path.join(d, "inputs.txt")
            out = subprocess.run([TOOL, str(seed), str(count), inputs], check=True,
                                 stdout=subprocess.PIPE, timeout=300).stdout
            with open(inputs) as f:
                expected = [l.split(" ") for l in f.read().splitlines()]
        return out, expected

    def test_every_line_parses_and_round_trips(self):
        for seed in (1, 2, 3):
            out, expected = self.run_tool(seed, 3000)
            lines = out.split(b"\n")
            self.assertEqual(lines[-1], b"")
            lines = lines[:-1]
            self.assertEqual(len(lines), len(expected))
            for raw, fields in zip(lines, expected):
                # The line itself must be valid UTF-8 and valid JSON, with no raw controls.
                text = raw.decode("utf-8")
                self.assertFalse(any(ord(c) < 0x20 for c in text))
                obj = json.loads(text)
                self.assertEqual(obj["message"], "oracle_event")
                hexes = fields
                self.assertEqual(len(hexes), 12)
                for i in range(6):
                    key = bytes.fromhex(hexes[2 * i]).decode("utf-8", "replace")
                    val = bytes.fromhex(hexes[2 * i + 1]).decode("utf-8", "replace")
                    self.assertIn(key, obj, f"missing key {key!r} in {text!r}")
                    self.assertEqual(obj[key], val)


if __name__ == "__main__":
    unittest.main()
