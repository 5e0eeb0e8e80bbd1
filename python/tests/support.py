"""Shared by the skylog Python suites: a pipeline writing JSON lines to a temporary file."""

import http.server
import json
import logging
import os
import shutil
import tempfile
import threading
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


def aws_json_server(test, answer):
    """A local AWS JSON endpoint for one test (stopped at its cleanup): each POST is answered
    answer(operation) -> (status, body dict), the operation being X-Amz-Target's last part.
    Returns its URL."""

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, doc = answer((self.headers.get("X-Amz-Target") or "").rpartition(".")[2])
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    test.addCleanup(t.join, 10)
    test.addCleanup(srv.server_close)
    test.addCleanup(srv.shutdown)
    return f"http://127.0.0.1:{srv.server_address[1]}"
