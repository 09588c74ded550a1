"""Checkpoints and exactly-once outputs: the sales pipeline (KDA SQL, revenue per store per ROWTIME
window) and the trades pipeline (Flink SQL, max price per ticker over a HOP window on event time)
run while the server is killed with SIGKILL at random moments, ten times, and restarted; their
output streams must then equal — row for row, nothing missing, nothing twice — those of the same
applications run over the same stored records without a crash. The crashed run restarts at
--parallelism 4 and 2 in turn (keyed state moves between threads through the checkpoints), the
crash-free one runs at --parallelism 1: the results must not depend on it. Also: StopApplication /
StartApplication(LAST_STOPPED_POINT) keeps window state, and UpdateApplication with new code says
which state it could not keep."""
import json
import os
import random
import time
import unittest
import urllib.request

import harness
import test_analytics as kda
import test_firehose as fh

SALES_SQL = (
    'CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "revenue" REAL, "n" BIGINT, "ts" TIMESTAMP);\n'
    'CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DEST"\n'
    'SELECT STREAM "store_id", SUM("sales"), COUNT(*), STEP("SALES_001".ROWTIME BY INTERVAL \'1\' SECOND)\n'
    'FROM "SALES_001"\n'
    'GROUP BY STEP("SALES_001".ROWTIME BY INTERVAL \'1\' SECOND), "store_id";\n')
SALES_SCHEMA = kda._json_schema([('store_id', 'VARCHAR(16)'), ('category', 'VARCHAR(16)'), ('sales', 'REAL')])

TRADES_SQL = '''
CREATE TABLE trades (
  EVENT_TIME TIMESTAMP(3),
  TICKER     STRING,
  PRICE      DOUBLE,
  WATERMARK FOR EVENT_TIME AS EVENT_TIME
) WITH ('connector' = 'kinesis', 'stream' = '%(src)s', 'format' = 'json');
CREATE TABLE max_prices (TICKER STRING, MAX_PRICE DOUBLE, WINDOW_END TIMESTAMP(3))
  WITH ('connector' = 'kinesis', 'stream' = '%(out)s', 'format' = 'json');
INSERT INTO max_prices
SELECT TICKER, MAX(PRICE), window_end
FROM TABLE(HOP(TABLE trades, DESCRIPTOR(EVENT_TIME), INTERVAL '60' SECOND, INTERVAL '90' SECOND))
GROUP BY window_start, window_end, TICKER;
'''

TICKERS = ['AMZN', 'GOOG', 'AZRE', 'ORCL', 'BABA']
STORES = ['store_%d' % i for i in range(1, 6)]
ROUNDS = 10
PER_ROUND = 1500


def trade(rng, i):
    ms = 1612085400000 + i * 100  # ten trades a second of event time
    t = time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(ms // 1000)) + '.%03d' % (ms % 1000)
    return {'EVENT_TIME': t, 'TICKER': rng.choice(TICKERS), 'PRICE': round(rng.random() * 100, 2)}


def sale(rng):
    return {'store_id': rng.choice(STORES), 'category': rng.choice(['Books', 'Electronics']),
            'sales': round(rng.random() * 100, 2)}


def split_json(text):
    """Firehose concatenates records as they are (no newline): the JSON objects of an object."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        obj, end = decoder.raw_decode(text, i)
        out.append(text[i:end])
        i = end
    return out


class PipelineCase:
    """A server with a short checkpoint interval, and the sales/trades pipelines' helpers."""

    def setUp(self):
        self.server = harness.EddyServer(extra_args=['--checkpoint-interval', '0.5', '--parallelism', '4'],
                                         label='checkpoint').start()
        self.connect()

    def tearDown(self):
        self.server.close()

    def connect(self):
        self.k = self.server.client()
        self.ka = kda.analytics_client(self.server)

    def put(self, stream, records, key):
        for start in range(0, len(records), 500):
            batch = records[start:start + 500]
            resp = self.k.put_records(StreamName=stream, Records=[
                {'Data': json.dumps(r).encode(), 'PartitionKey': r[key]} for r in batch])
            self.assertEqual(resp['FailedRecordCount'], 0)

    def rows(self, stream):
        out = []
        for shard in harness.all_shards(self.k, stream):
            recs, _ = harness.read_shard(self.k, stream, shard['ShardId'])
            out.extend(r['Data'].decode() for r in recs)
        return out

    def settled(self, stream, quiet_s=3.0, timeout=90):
        """The stream's rows once no new row has come for quiet_s seconds."""
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

    def wait_running(self, name, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ka.describe_application(ApplicationName=name)['ApplicationDetail']['ApplicationStatus'] == 'RUNNING':
                return
            time.sleep(0.1)
        self.fail('application %s not RUNNING within %d s' % (name, timeout))

    def create_sales(self, name, src, out):
        self.ka.create_application(
            ApplicationName=name, ApplicationCode=SALES_SQL,
            Inputs=[kda.kinesis_input('SALES', src, SALES_SCHEMA)],
            Outputs=[kda.kinesis_output('DEST', out)])
        self.ka.start_application(ApplicationName=name, InputConfigurations=kda.starting('TRIM_HORIZON'))
        self.wait_running(name)

    def set_parallelism(self, n):
        """--parallelism of the server's next start. (By position: the harness appends
        --allow-native-jobs after the extra arguments, so they do not end with the number.)"""
        args = self.server.extra_args
        args[args.index('--parallelism') + 1] = n

    def create_trades(self, name, src, out):
        self.ka.create_application(ApplicationName=name, ApplicationCode=TRADES_SQL % {'src': src, 'out': out})
        self.ka.start_application(ApplicationName=name, InputConfigurations=kda.starting('TRIM_HORIZON'))
        self.wait_running(name)



class CheckpointTest(PipelineCase, unittest.TestCase):
    def test_outputs_after_ten_kill9_equal_a_crash_free_run(self):
        rng = random.Random(20261122)
        sales = harness.create_stream(self.k, 'sales', 2)
        trades = harness.create_stream(self.k, 'trades', 2)
        for name in ('sales-out', 'trades-out', 'sales-ref', 'trades-ref'):
            harness.create_stream(self.k, name, 2)
        self.create_sales('sales-revenue', sales, 'sales-out')
        self.create_trades('trades-max', trades, 'trades-out')

        next_trade = 0
        for round_ in range(ROUNDS):
            self.put(sales, [sale(rng) for _ in range(PER_ROUND)], 'store_id')
            batch = [trade(rng, next_trade + i) for i in range(PER_ROUND)]
            next_trade += PER_ROUND
            self.put(trades, batch, 'TICKER')
            # Somewhere while the applications read, aggregate, write and checkpoint.
            time.sleep(rng.uniform(0.0, 1.2))
            self.server.kill9()
            self.set_parallelism('2' if round_ % 2 == 0 else '4')
            self.server.start()
            self.connect()

        crashed_sales = self.settled('sales-out')
        crashed_trades = self.settled('trades-out')

        # The same code over the same stored records, never interrupted, on one thread.
        self.server.kill9()
        self.set_parallelism('1')
        self.server.start()
        self.connect()
        self.create_sales('sales-ref', sales, 'sales-ref')
        self.create_trades('trades-ref', trades, 'trades-ref')
        ref_sales = self.settled('sales-ref')
        ref_trades = self.settled('trades-ref')

        # Enough results that a lost or doubled row would show: every store in each 1 s window of
        # the run, and the HOP windows of 25 min of event time.
        self.assertGreater(len(ref_sales), 15)
        self.assertGreater(len(ref_trades), 50)
        self.assertEqual(sum(json.loads(r)['n'] for r in ref_sales), ROUNDS * PER_ROUND)
        self.assertEqual(len(crashed_sales), len(ref_sales), 'sales rows missing or doubled')
        self.assertEqual(crashed_sales, ref_sales)
        self.assertEqual(len(crashed_trades), len(ref_trades), 'trades rows missing or doubled')
        self.assertEqual(crashed_trades, ref_trades)

    def create_delivery(self, name, prefix):
        fh.firehose_client(self.server).create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType='DirectPut',
            ExtendedS3DestinationConfiguration={
                'RoleARN': kda.ROLE, 'BucketARN': 'arn:aws:s3:::results', 'Prefix': prefix,
                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 1}})

    def create_sales_to_delivery(self, name, src, delivery):
        arn = 'arn:aws:firehose:%s:%s:deliverystream/%s' % (harness.REGION, kda.ACCOUNT, delivery)
        self.ka.create_application(
            ApplicationName=name, ApplicationCode=SALES_SQL,
            Inputs=[kda.kinesis_input('SALES', src, SALES_SCHEMA)],
            Outputs=[{'Name': 'DEST', 'KinesisFirehoseOutput': {'ResourceARN': arn, 'RoleARN': kda.ROLE},
                      'DestinationSchema': {'RecordFormatType': 'JSON'}}])
        self.ka.start_application(ApplicationName=name, InputConfigurations=kda.starting('TRIM_HORIZON'))
        self.wait_running(name)

    def delivered(self, prefix, quiet_s=3.0, timeout=90):
        """The rows of every object under results/<prefix> once no new row has come for quiet_s."""
        root = os.path.join(self.server.data_dir, 'bucket', 'results', prefix)
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            rows = []
            for dirpath, _, files in os.walk(root):
                for f in files:
                    with open(os.path.join(dirpath, f)) as fp:
                        rows.extend(split_json(fp.read()))
            if last is None or len(rows) != len(last):
                last, since = rows, time.monotonic()
            elif time.monotonic() - since >= quiet_s and rows:
                return sorted(rows)
            time.sleep(0.3)
        self.fail('%s did not settle within %d s (%d rows)' % (root, timeout, len(last or [])))

    def test_delivery_output_after_kill9_equals_a_crash_free_run(self):
        rng = random.Random(99)
        sales = harness.create_stream(self.k, 'sales', 2)
        self.create_delivery('revenue', 'crashed/')
        self.create_sales_to_delivery('sales-revenue', sales, 'revenue')
        for _ in range(4):
            self.put(sales, [sale(rng) for _ in range(PER_ROUND)], 'store_id')
            time.sleep(rng.uniform(0.0, 1.0))
            self.server.kill9()
            self.server.start()
            self.connect()
        crashed = self.delivered('crashed/')
        self.create_delivery('revenue-ref', 'reference/')
        self.create_sales_to_delivery('sales-ref', sales, 'revenue-ref')
        reference = self.delivered('reference/')
        self.assertEqual(sum(json.loads(r)['n'] for r in reference), 4 * PER_ROUND)
        self.assertEqual(len(crashed), len(reference), 'rows missing or delivered twice')
        self.assertEqual(crashed, reference)

    def test_stop_and_start_keeps_the_open_window(self):
        src = harness.create_stream(self.k, 'trades', 1)
        out = harness.create_stream(self.k, 'maxes', 1)
        self.create_trades('trades-max', src, out)
        rng = random.Random(7)
        first = [trade(rng, i) for i in range(300)]    # 30 s of event time: no window closed yet
        second = [trade(rng, 300 + i) for i in range(900)]
        self.put(src, first, 'TICKER')
        time.sleep(1.0)
        self.ka.stop_application(ApplicationName='trades-max')
        self.ka.start_application(ApplicationName='trades-max', InputConfigurations=kda.starting('LAST_STOPPED_POINT'))
        self.wait_running('trades-max')
        self.put(src, second, 'TICKER')
        rows = [json.loads(r) for r in self.settled(out)]
        # HOP windows start on the slide: [09:29:00, 09:30:30) holds only rows put before the stop
        # and fires after the start; [09:30:00, 09:31:30) holds rows from both sides of it.
        for end, held in (('2021-01-31 09:30:30.000', first), ('2021-01-31 09:31:30.000', first + second[:600])):
            expected = {}
            for t in held:
                expected[t['TICKER']] = max(expected.get(t['TICKER'], -1), t['PRICE'])
            got = {r['TICKER']: r['MAX_PRICE'] for r in rows if r['WINDOW_END'] == end}
            self.assertEqual(got, expected, end)

    def test_update_with_another_state_shape_says_so(self):
        src = harness.create_stream(self.k, 'sales', 1)
        out = harness.create_stream(self.k, 'sales-out', 1)
        self.create_sales('sales-revenue', src, out)
        self.put(src, [sale(random.Random(1)) for _ in range(50)], 'store_id')
        time.sleep(1.0)
        detail = self.ka.describe_application(ApplicationName='sales-revenue')['ApplicationDetail']
        code = SALES_SQL.replace('GROUP BY STEP', 'GROUP BY "category", STEP')
        code = code.replace('SELECT STREAM "store_id",', 'SELECT STREAM "category",')
        self.ka.update_application(ApplicationName='sales-revenue',
                                   CurrentApplicationVersionId=detail['ApplicationVersionId'],
                                   ApplicationUpdate={'ApplicationCodeUpdate': code})
        self.wait_running('sales-revenue')
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            errors = self.errors('sales-revenue')
            if any(e.get('ERROR_NAME') == 'State_Not_Restored' and 'STREAM_PUMP changed shape' in e.get('MESSAGE', '')
                   for e in errors):
                return
            time.sleep(0.2)
        self.fail('no State_Not_Restored row for the changed pump: %s' % errors)

    def errors(self, name):
        url = '%s/eddy/v1/applications/%s/errors' % (self.server.endpoint, name)
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())


if __name__ == '__main__':
    unittest.main()
