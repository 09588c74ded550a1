"""Flink SQL applications on eddy serve: created with the kinesisanalytics API (boto3), the source
and sink tables naming eddy streams in their WITH options; the seed's trades query (max price per
ticker over a HOP window on event time) written to another stream equals `eddy sql run` over the
same records."""
import calendar
import json
import os
import subprocess
import tempfile
import time
import unittest

import harness
import test_analytics as kda

CODE = '''
CREATE TABLE trades (
  EVENT_TIME TIMESTAMP(3),
  TICKER     STRING,
  PRICE      DOUBLE,
  WATERMARK FOR EVENT_TIME AS EVENT_TIME - INTERVAL '30' SECOND
) WITH ('connector' = 'kinesis', 'stream' = '%(src)s', 'scan.stream.initpos' = 'TRIM_HORIZON', 'format' = 'json');
CREATE TABLE max_prices (TICKER STRING, MAX_PRICE DOUBLE, WINDOW_END TIMESTAMP(3))
  WITH ('connector' = 'kinesis', 'stream.arn' = 'arn:aws:kinesis:us-east-1:000000000000:stream/%(out)s', 'format' = 'json');
INSERT INTO max_prices
SELECT TICKER, MAX(PRICE), window_end
FROM TABLE(HOP(TABLE trades, DESCRIPTOR(EVENT_TIME), INTERVAL '10' SECOND, INTERVAL '30' SECOND))
GROUP BY window_start, window_end, TICKER;
'''

TICKERS = ['AMZN', 'GOOG', 'AZRE', 'ORCL', 'BABA']


def trade(i):
    ms = 1612085400000 + i * 250  # 2021-01-31 09:30:00 UTC, four trades a second
    t = time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(ms // 1000)) + '.%03d' % (ms % 1000)
    return {'EVENT_TIME': t, 'TICKER': TICKERS[(i * 7) % 5], 'PRICE': round(((i * 37) % 1000) / 10.0, 2)}


class FlinkApplicationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label='flink').start()
        cls.k = cls.server.client()
        cls.ka = kda.analytics_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def wait_status(self, name, status, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ka.describe_application(ApplicationName=name)['ApplicationDetail']['ApplicationStatus'] == status:
                return
            time.sleep(0.1)
        self.fail('application %s not %s within %d s' % (name, status, timeout))

    def test_trades_hop_max_equals_sql_run(self):
        src = harness.create_stream(self.k, harness.unique_name('trades'), 2)
        out = harness.create_stream(self.k, harness.unique_name('maxes'), 1)
        code = CODE % {'src': src, 'out': out}
        self.ka.create_application(ApplicationName='trades-max', ApplicationCode=code)
        self.ka.start_application(ApplicationName='trades-max', InputConfigurations=kda.starting('TRIM_HORIZON'))
        self.wait_status('trades-max', 'RUNNING')
        # 100 s of event time. The host merges the two shards by arrival, so a batch's records come
        # shard by shard: up to 25 s of event time out of order, inside the 30 s watermark delay.
        trades = [trade(i) for i in range(400)]
        for start in range(0, len(trades), 100):
            resp = self.k.put_records(StreamName=src, Records=[
                {'Data': json.dumps(t).encode(), 'PartitionKey': t['TICKER']} for t in trades[start:start + 100]])
            self.assertEqual(resp['FailedRecordCount'], 0)

        # The same code over the same records, in the order the stream holds them (shard by
        # shard, arrival order within each), through eddy sql run.
        stored = []
        for shard in harness.all_shards(self.k, src):
            recs, _ = harness.read_shard(self.k, src, shard['ShardId'])
            stored.extend(recs)
        stored.sort(key=lambda r: (r['ApproximateArrivalTimestamp'], r['SequenceNumber']))
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, 'app.sql'), 'w') as f:
                f.write(code)
            with open(os.path.join(d, 'in.ndjson'), 'wb') as f:
                f.write(b''.join(r['Data'] + b'\n' for r in stored))
            p = subprocess.run([harness.eddy_bin(), 'sql', 'run', '--sql', os.path.join(d, 'app.sql'), '--input',
                                os.path.join(d, 'in.ndjson'), '--no-flush'], capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            want = [json.loads(l) for l in p.stdout.decode().splitlines()]
        self.assertGreater(len(want), 20)

        deadline = time.monotonic() + 20
        got = []
        while time.monotonic() < deadline:
            got = [json.loads(r['Data']) for r in harness.read_shard(self.k, out, 'shardId-000000000000')[0]]
            if len(got) >= len(want):
                break
            time.sleep(0.2)
        self.assertEqual(sorted(got, key=json.dumps), sorted(want, key=json.dumps))
        # Every row is a real maximum: recompute the windows in Python.
        for row in got:
            end = row['WINDOW_END']
            end_ms = calendar.timegm(time.strptime(end[:19], '%Y-%m-%d %H:%M:%S')) * 1000 + int(end[20:])
            prices = [t['PRICE'] for i, t in enumerate(trades) if t['TICKER'] == row['TICKER']
                      and end_ms - 30000 <= 1612085400000 + i * 250 < end_ms]
            self.assertAlmostEqual(row['MAX_PRICE'], max(prices), msg=row)
        self.ka.stop_application(ApplicationName='trades-max')

    def test_flink_code_errors_are_code_validation_errors(self):
        with self.assertRaises(self.ka.exceptions.CodeValidationException) as cm:
            self.ka.create_application(ApplicationName='bad-flink', ApplicationCode=
                                       "CREATE TABLE t (k STRING, ts TIMESTAMP(3)) WITH ('connector' = 'kinesis', 'stream' = 's');"
                                       "CREATE TABLE o (n BIGINT) WITH ('connector' = 'kinesis', 'stream' = 'o');"
                                       "INSERT INTO o SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' MINUTE))"
                                       " GROUP BY window_start, window_end;")
        self.assertIn('WATERMARK', str(cm.exception))
        with self.assertRaises(self.ka.exceptions.InvalidApplicationConfigurationException):
            self.ka.create_application(ApplicationName='bad-flink2', ApplicationCode=
                                       "CREATE TABLE t (k STRING) WITH ('connector' = 'datagen');"
                                       "CREATE TABLE o (k STRING) WITH ('connector' = 'kinesis', 'stream' = 'o');"
                                       "INSERT INTO o SELECT k FROM t;")


if __name__ == '__main__':
    unittest.main()


class SlicesEqualWindowsTest(unittest.TestCase):
    """HOP and CUMULATE windows built from slices (each row aggregated once) give the windows that
    assigning each row to every window gives (an aggregate reading window_start forces that path):
    same keys, counts and maxima, sums equal up to float rounding; late rows alike."""

    def run_sql(self, d, sql, rows):
        with open(os.path.join(d, 'q.sql'), 'w') as f:
            f.write(sql)
        p = subprocess.run([harness.eddy_bin(), 'sql', 'run', '--sql', os.path.join(d, 'q.sql'), '--input',
                            os.path.join(d, 'in.ndjson'), '--errors', os.path.join(d, 'err.ndjson')],
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(d, 'err.ndjson')) as f:
            late = [json.loads(l)['input_line'] for l in f]
        out = {}
        for l in p.stdout.decode().splitlines():
            r = json.loads(l)
            r.pop('ws2', None)
            out[(r['TICKER'], r['ws'], r['we'])] = r
        return out, late

    def test_hop_and_cumulate(self):
        import random
        rng = random.Random(5)
        rows, t = [], 0
        for _ in range(3000):
            t += rng.randint(0, 400)
            ms = 1612085400000 + t - rng.randint(0, 3000)  # up to 3 s out of order; the delay is 2 s
            rows.append({'TICKER': rng.choice(TICKERS[:3]), 'PRICE': rng.randint(1, 1000) / 10,
                         'EVENT_TIME': time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(ms // 1000)) + '.%03d' % (ms % 1000)})
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, 'in.ndjson'), 'w') as f:
                f.write(''.join(json.dumps(r) + '\n' for r in rows))
            for kind in ('HOP', 'CUMULATE'):
                results = []
                for extra in ('', ', MAX(window_start)'):
                    sql = ("CREATE TABLE t (TICKER STRING, PRICE DOUBLE, EVENT_TIME TIMESTAMP(3), "
                           "WATERMARK FOR EVENT_TIME AS EVENT_TIME - INTERVAL '2' SECOND) WITH ('connector' = 'kinesis', 'stream' = 't');"
                           "CREATE TABLE o (TICKER STRING, mx DOUBLE, s DOUBLE, c BIGINT, ws TIMESTAMP(3), we TIMESTAMP(3)%s) "
                           "WITH ('connector' = 'kinesis', 'stream' = 'o');"
                           "INSERT INTO o SELECT TICKER, MAX(PRICE), SUM(PRICE), COUNT(*), window_start, window_end%s "
                           "FROM TABLE(%s(TABLE t, DESCRIPTOR(EVENT_TIME), INTERVAL '5' SECOND, INTERVAL '30' SECOND)) "
                           "GROUP BY window_start, window_end, TICKER;" % (', ws2 TIMESTAMP(3)' if extra else '', extra, kind))
                    results.append(self.run_sql(d, sql, rows))
                (slices, late1), (windows, late2) = results
                self.assertGreater(len(slices), 300, kind)
                self.assertEqual(set(slices), set(windows), kind)
                self.assertEqual(late1, late2, kind)
                self.assertTrue(late1, 'the data has late rows')
                for k, r in slices.items():
                    w = windows[k]
                    self.assertEqual((r['mx'], r['c']), (w['mx'], w['c']), (kind, k))
                    self.assertAlmostEqual(r['s'], w['s'], places=6, msg=(kind, k))
