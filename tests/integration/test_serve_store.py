"""Durability and concurrency of `skylog serve`: data survives a restart, the database is in
WAL mode, and concurrent writers to one stream lose nothing."""

import os
import sqlite3
import tempfile
import shutil
import threading
import unittest

import skyharness as sh


class PersistenceTest(unittest.TestCase):
    def test_restart_keeps_everything(self):
        data = tempfile.mkdtemp(prefix="skyserve-persist-")
        self.addCleanup(shutil.rmtree, data, True)
        srv = sh.start_server(self, data_dir=data)
        logs = sh.boto3_client(self, srv, "logs")
        cw = sh.boto3_client(self, srv, "cloudwatch")
        logs.create_log_group(logGroupName="keep")
        logs.create_log_stream(logGroupName="keep", logStreamName="s")
        logs.put_retention_policy(logGroupName="keep", retentionInDays=30)
        now = sh.now_ms()
        logs.put_log_events(logGroupName="keep", logStreamName="s",
                            logEvents=[{"timestamp": now + i, "message": f"e{i}"}
                                       for i in range(100)])
        cw.put_metric_data(Namespace="Keep", MetricData=[{"MetricName": "m", "Value": 1}])
        self.assertEqual(srv.restart(), 0, srv.stderr_text())

        logs = sh.boto3_client(self, srv, "logs")
        cw = sh.boto3_client(self, srv, "cloudwatch")
        g, = logs.describe_log_groups(logGroupNamePrefix="keep")["logGroups"]
        self.assertEqual(g["retentionInDays"], 30)
        got = logs.get_log_events(logGroupName="keep", logStreamName="s", startFromHead=True)
        self.assertEqual([e["message"] for e in got["events"]], [f"e{i}" for i in range(100)])
        self.assertEqual(len(cw.list_metrics(Namespace="Keep")["Metrics"]), 1)

        db = sqlite3.connect(os.path.join(data, "serve.db"))
        self.addCleanup(db.close)
        self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")


class ConcurrencyTest(unittest.TestCase):
    WRITERS = 4
    BATCHES = 40
    PER_BATCH = 25

    def test_four_writers_one_stream_lose_nothing(self):
        srv = sh.start_server(self)
        setup = sh.boto3_client(self, srv, "logs")
        setup.create_log_group(logGroupName="race")
        setup.create_log_stream(logGroupName="race", logStreamName="s")
        now = sh.now_ms()
        errors = []

        def writer(w):
            try:
                logs = sh.boto3_client(self, srv, "logs")
                for b in range(self.BATCHES):
                    logs.put_log_events(logGroupName="race", logStreamName="s", logEvents=[
                        {"timestamp": now + b, "message": f"w{w}-b{b}-e{e}"}
                        for e in range(self.PER_BATCH)])
            except Exception as exc:  # reported below, on the test thread
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(self.WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        seen, token = [], None
        while True:
            kw = {"nextToken": token} if token else {"startFromHead": True}
            out = setup.get_log_events(logGroupName="race", logStreamName="s", **kw)
            if not out["events"]:
                break
            seen += [e["message"] for e in out["events"]]
            token = out["nextForwardToken"]
        expected = {f"w{w}-b{b}-e{e}" for w in range(self.WRITERS)
                    for b in range(self.BATCHES) for e in range(self.PER_BATCH)}
        self.assertEqual(len(seen), len(expected))
        self.assertEqual(set(seen), expected)  # nothing lost, nothing duplicated


if __name__ == "__main__":
    unittest.main()
