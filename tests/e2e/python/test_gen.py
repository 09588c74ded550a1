"""`eddy gen sales|trades` against the real server, read back with boto3.

  - --seed: two runs put the same records (data and partition keys, so the same shards in the same
    order), event times included; the summary line's record_count and tot_sales match what was read.
  - --rate: the records' ApproximateArrivalTimestamps over a ~10 s run give the asked rate within 5 %.
    (A correctness check of the pacing; the producer catches up after a stall, so a loaded machine
    does not make it fail.)
  - bad options: one-line errors that say what to give.
  - examples/producers/sales_producer.py (boto3) runs unchanged.
"""
import json
import os
import subprocess
import unittest

import harness

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def gen(server, *args, timeout=120):
    return subprocess.run([harness.eddy_bin(), 'gen'] + [str(a) for a in args]
                          + ['--endpoint', server.endpoint],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def read_stream(client, name):
    """{shard id: [record, ...]} from TRIM_HORIZON, every shard."""
    out = {}
    for shard in harness.all_shards(client, name):
        records, _ = harness.read_shard(client, name, shard['ShardId'])
        out[shard['ShardId']] = records
    return out


class GenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label='gen').start()
        cls.kinesis = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_seed_gives_the_same_records_twice(self):
        runs = []
        for name in ('seed-a', 'seed-b'):
            harness.create_stream(self.kinesis, name, shards=2)
            p = gen(self.server, 'sales', '--stream', name, '--seed', 7, '--count', 400, '--rate', 0,
                    '--categories', 'all')
            self.assertEqual(p.returncode, 0, p.stderr)
            summary = json.loads(p.stdout.strip().splitlines()[-1])
            shards = read_stream(self.kinesis, name)
            runs.append({sid: [(r['PartitionKey'], r['Data']) for r in recs] for sid, recs in shards.items()})
            records = [json.loads(d) for recs in runs[-1].values() for _, d in recs]
            self.assertEqual(summary['record_count'], 400)
            self.assertEqual(len(records), 400)
            self.assertAlmostEqual(summary['tot_sales'], round(sum(r['sales'] for r in records), 2), places=2)
            self.assertEqual({r['store_id'] for r in records}, {'store_%d' % i for i in range(1, 6)})
            self.assertGreater(len({r['category'] for r in records}), 10)
        self.assertEqual(runs[0], runs[1])
        self.assertTrue(all(len(v) > 100 for v in runs[0].values()), 'both shards get records')
        # Event times are synthetic with a seed: from 2021-01-31T14:46:00, 1 ms apart when unpaced.
        times = sorted(json.loads(d)['evnt_time'] for recs in runs[0].values() for _, d in recs)
        self.assertEqual(times[0], '2021-01-31T14:46:00.000000')
        self.assertEqual(times[-1], '2021-01-31T14:46:00.399000')
        # A different seed gives different records.
        harness.create_stream(self.kinesis, 'seed-c', shards=2)
        p = gen(self.server, 'sales', '--stream', 'seed-c', '--seed', 8, '--count', 400, '--rate', 0)
        self.assertEqual(p.returncode, 0, p.stderr)
        other = {sid: [(r['PartitionKey'], r['Data']) for r in recs]
                 for sid, recs in read_stream(self.kinesis, 'seed-c').items()}
        self.assertNotEqual(other, runs[0])

    def test_rate_holds_within_five_percent_over_ten_seconds(self):
        harness.create_stream(self.kinesis, 'paced', shards=1)
        rate, count = 200, 2000
        p = gen(self.server, 'trades', '--stream', 'paced', '--rate', rate, '--count', count)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('records/s', p.stderr)
        self.assertEqual(json.loads(p.stdout)['record_count'], count)
        records = read_stream(self.kinesis, 'paced')['shardId-000000000000']
        self.assertEqual(len(records), count)
        arrivals = sorted(r['ApproximateArrivalTimestamp'].timestamp() for r in records)
        span = arrivals[-1] - arrivals[0]
        measured = (count - 1) / span
        self.assertLess(abs(measured - rate) / rate, 0.05,
                        'measured %.1f records/s over %.2f s, asked %d' % (measured, span, rate))
        trade = json.loads(records[0]['Data'])
        self.assertEqual(set(trade), {'EVENT_TIME', 'TICKER', 'PRICE'})
        self.assertEqual(records[0]['PartitionKey'], trade['TICKER'])

    def test_duration_stops_the_run(self):
        harness.create_stream(self.kinesis, 'timed', shards=1)
        p = gen(self.server, 'sales', '--stream', 'timed', '--rate', 50, '--duration', 1.5)
        self.assertEqual(p.returncode, 0, p.stderr)
        n = json.loads(p.stdout)['record_count']
        self.assertTrue(60 <= n <= 80, n)  # 75 at the rate, paced from an empty bucket
        self.assertEqual(len(read_stream(self.kinesis, 'timed')['shardId-000000000000']), n)

    def test_bad_options_are_one_line_errors(self):
        cases = [
            (['sales', '--categories', 'Books,,Toys'], '--categories takes'),
            (['trades', '--start-time', 'yesterday', '--count', 1], '--start-time must be'),
            (['sales', '--rate', 0], '--rate 0 (unpaced) needs --count or --duration'),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                p = gen(self.server, *args)
                self.assertNotEqual(p.returncode, 0)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertTrue(lines[0].startswith('eddy: '), p.stderr)
                self.assertIn(message, p.stderr)
        p = gen(self.server, 'sales', '--stream', 'no-such-stream', '--count', 5)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('ResourceNotFoundException', p.stderr)
        p = subprocess.run([harness.eddy_bin(), 'gen', 'sales', '--count', '1', '--endpoint', 'http://127.0.0.1:1'],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('is `eddy serve` running there', p.stderr)

    def test_boto3_producer_example(self):
        harness.create_stream(self.kinesis, 'example-sales', shards=2)
        p = subprocess.run(['python3', os.path.join(ROOT, 'examples', 'producers', 'sales_producer.py'),
                            '--endpoint', self.server.endpoint, '--stream', 'example-sales',
                            '--rate', '200', '--count', '60'],
                           capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, AWS_ACCESS_KEY_ID='any', AWS_SECRET_ACCESS_KEY='any'))
        self.assertEqual(p.returncode, 0, p.stderr)
        summary = json.loads(p.stdout.strip().splitlines()[-1])
        records = [json.loads(r['Data']) for recs in read_stream(self.kinesis, 'example-sales').values()
                   for r in recs]
        self.assertEqual(summary['record_count'], 60)
        self.assertEqual(len(records), 60)
        self.assertAlmostEqual(summary['tot_sales'], round(sum(r['sales'] for r in records), 2), places=2)


if __name__ == '__main__':
    unittest.main()
