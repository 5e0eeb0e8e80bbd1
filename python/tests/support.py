"""Shared by the skylog Python suites: a pipeline writing JSON lines to a temporary file."""

import json
import logging
import os
import shutil
import tempfile
import uuid

import skylog


class FileCase:
    """Mixin: self.log (a fresh logger with a skylog.Handler), self.events() (what was written)."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="skylog-py-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.path = os.path.join(self.dir, "out.jsonl")
        self.pipe = skylog.Pipeline(mode="async")
        self.addCleanup(self.pipe.close)
        self.pipe.add_file(self.path)
        self.handler = skylog.Handler(pipeline=self.pipe)
        self.log = logging.getLogger("t." + uuid.uuid4().hex[:8])
        self.log.propagate = False
        self.log.setLevel(1)
        self.log.addHandler(self.handler)
        self.addCleanup(self.log.removeHandler, self.handler)

    def events(self):
        self.assertTrue(self.pipe.flush(30000))
        with open(self.path, "rb") as f:
            return [json.loads(line) for line in f]

    def one(self):
        evs = self.events()
        self.assertEqual(len(evs), 1, evs)
        return evs[0]
