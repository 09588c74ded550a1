"""Graceful shutdown: what `systemctl stop eddy` (SIGTERM; SIGKILL 30 s later, eddy.service) does.

A server runs a KDA SQL application (revenue per store per 1 s ROWTIME window, test_checkpoint's
sales pipeline) over a 2-shard stream. With the checkpoint interval at its maximum (3600 s), the
application's only checkpoints are the one a fresh start takes and, if shutdown is graceful, one
taken when it stops. Once it has read every record put, the server gets SIGTERM, and:
  - it exits 0 within 15 s;
  - after a restart on the same data directory every acknowledged record is there (same shard,
    sequence number and data) and the application is RUNNING again;
  - the application continues from where it stopped: it reads none of the records it had read
    (eddy_kinesisanalytics_input_records_total stays 0 until new records come, then counts only
    them), which only a checkpoint taken at shutdown allows;
  - its output stream, after more records and the last window closing, holds exactly the rows of
    the same application run over the same stored records without a stop: no row twice, none
    missing.
And SIGTERM while clients are writing: exit 0 within 15 s, every acknowledged record kept.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_shutdown
"""
import collections
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
import unittest
import urllib.request

from botocore.exceptions import ClientError

import harness
import test_analytics as kda
import test_checkpoint as ckpt

SHUTDOWN_TIMEOUT_S = 15.0
ROUNDS_BEFORE, ROUNDS_AFTER, PER_ROUND = 3, 2, 400


class GracefulShutdownTest(unittest.TestCase):
    def setUp(self):
        if os.environ.get('EDDY_E2E_CLUSTER'):
            self.skipTest('single-node shutdown (cluster nodes keep checkpoints in JetStream: test_cluster_apps)')
        self.server = harness.EddyServer(extra_args=['--checkpoint-interval', '3600'], label='shutdown').start()
        self.connect()
        self.rng = random.Random(20261207)
        self.acked = {}  # (shard id, sequence number) -> data

    def tearDown(self):
        self.server.close()

    def connect(self):
        self.k = self.server.client()
        self.ka = kda.analytics_client(self.server)

    # ----------------------------------------------------------------------------- helpers
    def put_round(self, stream):
        records = [ckpt.sale(self.rng) for _ in range(PER_ROUND)]
        for start in range(0, len(records), 500):
            batch = [{'Data': json.dumps(r).encode(), 'PartitionKey': r['store_id'] + str(start + i)}
                     for i, r in enumerate(records[start:start + 500])]
            resp = self.k.put_records(StreamName=stream, Records=batch)
            self.assertEqual(resp['FailedRecordCount'], 0)
            for rec, res in zip(batch, resp['Records']):
                self.acked[(res['ShardId'], res['SequenceNumber'])] = rec['Data']

    def metric(self, name, app):
        """The value of `name`{application="app"} in /metrics, None when absent."""
        with urllib.request.urlopen(self.server.endpoint + '/metrics', timeout=10) as resp:
            text = resp.read().decode()
        pattern = r'^%s\{[^}]*application="%s"[^}]*\} (\S+)$' % (re.escape(name), re.escape(app))
        m = re.search(pattern, text, re.MULTILINE)
        return float(m.group(1)) if m else None

    def input_records(self, app):
        value = self.metric('eddy_kinesisanalytics_input_records_total', app)
        self.assertIsNotNone(value, 'no eddy_kinesisanalytics_input_records_total for %s in /metrics' % app)
        return int(value)

    def wait_input_records(self, app, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.input_records(app)
            if got >= n:
                return got
            time.sleep(0.1)
        self.fail('%s read %d records of %d within %d s' % (app, self.input_records(app), n, timeout))

    def checkpoint_file(self, app):
        """<data-dir>/.../<app>/checkpoint (host/checkpoint.h), None if not found: only to say, on a
        failure, whether a checkpoint was written at shutdown."""
        for dirpath, _, files in os.walk(self.server.data_dir):
            if os.path.basename(dirpath) == app and 'checkpoint' in files:
                return os.path.join(dirpath, 'checkpoint')
        return None

    def sigterm(self):
        """SIGTERM, then the exit code; fails if the process is still there after 15 s (and kills
        it). The harness forgets the process, as its stop() does."""
        server = self.server
        proc = server.proc
        self.assertIsNotNone(proc)
        self.assertIsNone(proc.poll(), 'eddy exited before SIGTERM\n' + server.log_tail())
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = None
        elapsed = time.monotonic() - started
        server.proc, server.port = None, None
        server._join_drain()
        self.assertIsNotNone(rc, 'eddy still running %.0f s after SIGTERM (killed)\n%s'
                             % (SHUTDOWN_TIMEOUT_S, server.log_tail()))
        return rc, elapsed

    # ------------------------------------------------------------------------------- the test
    def test_sigterm_exits_0_and_the_application_resumes_from_its_checkpoint(self):
        sales = harness.create_stream(self.k, 'sales', 2)
        harness.create_stream(self.k, 'sales-out', 1)
        harness.create_stream(self.k, 'sales-ref', 1)
        self.create_app('revenue', sales, 'sales-out')

        # Several 1 s windows: each round arrives in a later second than the one before.
        for _ in range(ROUNDS_BEFORE):
            self.put_round(sales)
            time.sleep(1.1)
        before = ROUNDS_BEFORE * PER_ROUND
        self.assertEqual(self.wait_input_records('revenue', before), before)
        self.assertTrue(self.rows('sales-out'), 'no output before the stop')
        ckpt_path = self.checkpoint_file('revenue')
        ckpt_mtime = os.stat(ckpt_path).st_mtime_ns if ckpt_path else None

        rc, elapsed = self.sigterm()
        self.assertEqual(rc, 0, 'eddy exited %s on SIGTERM (after %.1f s)\n%s'
                         % (rc, elapsed, self.server.log_tail()))
        rewritten = (ckpt_path is not None and os.path.exists(ckpt_path)
                     and os.stat(ckpt_path).st_mtime_ns != ckpt_mtime)

        self.server.start()
        self.connect()
        # Every acknowledged record, where it was acknowledged, with its data.
        stored = {}
        for shard in harness.all_shards(self.k, sales):
            recs, _ = harness.read_shard(self.k, sales, shard['ShardId'], limit=10000)
            for r in recs:
                stored[(shard['ShardId'], r['SequenceNumber'])] = r['Data']
        self.assertEqual(len(self.acked), before)
        missing = [key for key, data in self.acked.items() if stored.get(key) != data]
        self.assertEqual(missing, [], '%d acknowledged records missing or changed after the restart' % len(missing))

        self.wait_running('revenue')
        # Resumed from the checkpoint of the stop: nothing read again.
        time.sleep(2.0)
        reread = self.input_records('revenue')
        self.assertEqual(reread, 0, 'after the restart the application read %d records it had read before '
                         'the SIGTERM: it did not resume from a checkpoint taken at shutdown (checkpoint file %s: %s)'
                         % (reread, ckpt_path, 'rewritten at shutdown' if rewritten else 'not rewritten at shutdown'))

        for _ in range(ROUNDS_AFTER):
            self.put_round(sales)
            time.sleep(1.1)
        after = ROUNDS_AFTER * PER_ROUND
        self.assertEqual(self.wait_input_records('revenue', after), after, 'records read twice after the restart')
        stopped_run = self.settled('sales-out')

        # The same application over the same stored records, never stopped.
        self.create_app('revenue-ref', sales, 'sales-ref')
        reference = self.settled('sales-ref')
        self.assertEqual(sum(json.loads(r)['n'] for r in reference), before + after)
        windows = collections.Counter((json.loads(r)['ts'], json.loads(r)['store_id']) for r in stopped_run)
        doubled = sorted(w for w, n in windows.items() if n > 1)
        self.assertEqual(doubled, [], 'windows whose row was written twice')
        self.assertEqual(len(stopped_run), len(reference), 'rows missing or doubled')
        self.assertEqual(stopped_run, reference)

    def test_sigterm_under_writes_exits_0_and_keeps_every_acknowledged_record(self):
        """SIGTERM while four clients are sending PutRecords: open requests and keep-alive
        connections do not hold the exit up, and what was acknowledged stays."""
        name = harness.create_stream(self.k, 'busy', 4)
        stop = threading.Event()
        acked, errors = [], []

        def writer(t):
            client = self.server.client(connect_timeout=2, read_timeout=20)
            for b in range(10000):
                if stop.is_set():
                    return
                batch = [{'Data': b't%d-b%d-%d' % (t, b, i), 'PartitionKey': 'k%d-%d' % (t, i)} for i in range(50)]
                try:
                    resp = client.put_records(StreamName=name, Records=batch)
                except ClientError as e:
                    errors.append(str(e))
                    return
                except Exception:  # the server went away: nothing more is acknowledged
                    return
                acked.extend((res['ShardId'], res['SequenceNumber'], rec['Data'])
                             for rec, res in zip(batch, resp['Records']) if 'SequenceNumber' in res)

        threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(4)]
        for th in threads:
            th.start()
        time.sleep(1.0)
        rc, elapsed = self.sigterm()
        stop.set()
        for th in threads:
            th.join(timeout=30)
            self.assertFalse(th.is_alive(), 'a writer is stuck after the server stopped')
        self.assertEqual(rc, 0, 'eddy exited %s on SIGTERM (after %.1f s)\n%s'
                         % (rc, elapsed, self.server.log_tail()))
        self.assertGreater(len(acked), 0, 'nothing was acknowledged in 1 s: %s' % errors[:3])

        self.server.start()
        self.connect()
        stored = {}
        for shard in harness.all_shards(self.k, name):
            recs, _ = harness.read_shard(self.k, name, shard['ShardId'], limit=10000, max_calls=2000)
            for r in recs:
                stored[(shard['ShardId'], r['SequenceNumber'])] = r['Data']
        missing = [(s, q) for s, q, data in acked if stored.get((s, q)) != data]
        self.assertEqual(missing, [], '%d of %d acknowledged records missing after the restart'
                         % (len(missing), len(acked)))

    # --------------------------------------------------------------------- application helpers
    def create_app(self, name, src, out):
        self.ka.create_application(
            ApplicationName=name, ApplicationCode=ckpt.SALES_SQL,
            Inputs=[kda.kinesis_input('SALES', src, ckpt.SALES_SCHEMA)],
            Outputs=[kda.kinesis_output('DEST', out)])
        self.ka.start_application(ApplicationName=name, InputConfigurations=kda.starting('TRIM_HORIZON'))
        self.wait_running(name)

    def wait_running(self, name, timeout=20):
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.ka.describe_application(ApplicationName=name)['ApplicationDetail']['ApplicationStatus']
            if status == 'RUNNING':
                return
            time.sleep(0.1)
        self.fail('application %s is %s, not RUNNING, after %d s\n%s' % (name, status, timeout, self.server.log_tail()))

    def rows(self, stream):
        out = []
        for shard in harness.all_shards(self.k, stream):
            recs, _ = harness.read_shard(self.k, stream, shard['ShardId'])
            out.extend(r['Data'].decode() for r in recs)
        return out

    def settled(self, stream, quiet_s=3.0, timeout=60):
        """The stream's rows, sorted, once no new row has come for quiet_s seconds."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            rows = self.rows(stream)
            if last is None or len(rows) != len(last):
                last, since = rows, time.monotonic()
            elif time.monotonic() - since >= quiet_s and rows:
                return sorted(rows)
            time.sleep(0.3)
        self.fail('%s did not settle within %d s (%d rows)' % (stream, timeout, len(last or [])))


if __name__ == '__main__':
    unittest.main()
