"""Flink SQL applications on eddy serve that join their source with a filesystem table and run OVER
aggregation on event time (kinesisanalytics API, boto3).

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_flink_tables

  - A table WITH ('connector' = 'filesystem', 'path' = 's3://BUCKET/KEY', 'format' = 'csv'|'json') is
    the object KEY of bucket BUCKET (the file <data-dir>/bucket/BUCKET/KEY here), loaded when the
    application starts, as KDA's reference data is; EddyReferenceData in DescribeApplication says
    what was loaded. A path that is not s3://bucket/key (a file of the server, '..') is refused with
    InvalidApplicationConfigurationException: the server reads buckets, never its own files.
  - OVER (PARTITION BY k ORDER BY ts ROWS|RANGE BETWEEN ... PRECEDING AND CURRENT ROW): one row per
    record, emitted once the watermark (the least over the source's shards) passes it.
"""
import json
import os
import time
import unittest

import harness
import test_analytics as kda

JOIN_CODE = '''
CREATE TABLE trades (TICKER STRING, PRICE DOUBLE)
  WITH ('connector' = 'kinesis', 'stream' = '%(src)s', 'format' = 'json');
CREATE TABLE companies (TICKER STRING, COMPANY STRING)
  WITH ('connector' = 'filesystem', 'path' = 's3://refs/%(key)s', 'format' = 'csv');
CREATE TABLE enriched (TICKER STRING, COMPANY STRING, PRICE DOUBLE)
  WITH ('connector' = 'kinesis', 'stream' = '%(out)s', 'format' = 'json');
INSERT INTO enriched
SELECT t.TICKER, c.COMPANY, t.PRICE FROM trades AS t LEFT JOIN companies AS c ON t.TICKER = c.TICKER;
'''

OVER_CODE = '''
CREATE TABLE trades (EVENT_TIME TIMESTAMP(3), TICKER STRING, PRICE DOUBLE,
  WATERMARK FOR EVENT_TIME AS EVENT_TIME - INTERVAL '1' SECOND)
  WITH ('connector' = 'kinesis', 'stream' = '%(src)s', 'format' = 'json');
CREATE TABLE maxes (TICKER STRING, PRICE DOUBLE, MAX_PRICE DOUBLE, EVENT_TIME TIMESTAMP(3))
  WITH ('connector' = 'kinesis', 'stream' = '%(out)s', 'format' = 'json');
INSERT INTO maxes
SELECT TICKER, PRICE, MAX(PRICE) OVER (PARTITION BY TICKER ORDER BY EVENT_TIME
                                       RANGE BETWEEN INTERVAL '90' SECOND PRECEDING AND CURRENT ROW), EVENT_TIME
FROM trades;
'''


def at(seconds):
    return time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(1612085400 + seconds)) + '.000'


class FlinkTablesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label='flink-tables').start()
        cls.k = cls.server.client()
        cls.ka = kda.analytics_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def put_object(self, key, data):
        path = os.path.join(self.server.data_dir, 'bucket', 'refs', key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)

    def start(self, name, code):
        self.ka.create_application(ApplicationName=name, ApplicationCode=code)
        self.ka.start_application(ApplicationName=name, InputConfigurations=kda.starting('TRIM_HORIZON'))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ka.describe_application(ApplicationName=name)['ApplicationDetail']['ApplicationStatus'] == 'RUNNING':
                return
            time.sleep(0.1)
        self.fail('%s not RUNNING' % name)

    def read_rows(self, stream, want, timeout=20):
        deadline = time.monotonic() + timeout
        rows = []
        while time.monotonic() < deadline:
            rows = [json.loads(r['Data']) for r in harness.read_shard(self.k, stream, 'shardId-000000000000')[0]]
            if len(rows) >= want:
                break
            time.sleep(0.2)
        return rows

    def test_join_with_a_csv_object_in_a_bucket(self):
        src = harness.create_stream(self.k, harness.unique_name('trades'), 1)
        out = harness.create_stream(self.k, harness.unique_name('enriched'), 1)
        self.put_object('companies.csv', b'AMZN,Amazon.com Inc.\nGOOG,Alphabet Inc.\n')
        self.start('flink-join', JOIN_CODE % {'src': src, 'out': out, 'key': 'companies.csv'})
        trades = [{'TICKER': t, 'PRICE': p} for t, p in (('AMZN', 10.5), ('MSFT', 20.0), ('GOOG', 30.25))]
        self.k.put_records(StreamName=src, Records=[{'Data': json.dumps(t).encode(), 'PartitionKey': 'k'}
                                                    for t in trades])
        rows = self.read_rows(out, 3)
        self.assertEqual(rows, [{'TICKER': 'AMZN', 'COMPANY': 'Amazon.com Inc.', 'PRICE': 10.5},
                                {'TICKER': 'MSFT', 'COMPANY': None, 'PRICE': 20.0},
                                {'TICKER': 'GOOG', 'COMPANY': 'Alphabet Inc.', 'PRICE': 30.25}])
        st, raw, _ = self.server.json_call('KinesisAnalytics_20150814.DescribeApplication',
                                           {'ApplicationName': 'flink-join'})
        self.assertEqual(st, 200, raw)
        loaded = raw['ApplicationDetail'].get('EddyReferenceData', [])
        self.assertEqual([(l['TableName'], l['Rows']) for l in loaded], [('companies', 2)], raw)
        self.ka.stop_application(ApplicationName='flink-join')

    def test_paths_that_are_not_objects_are_refused(self):
        for path in ('/etc/passwd', 'file:///etc/passwd', 's3://refs/../../etc/passwd', 's3://refs/', 'companies.csv'):
            code = JOIN_CODE.replace("'s3://refs/%(key)s'", "'%s'" % path) % {'src': 's', 'out': 'o'}
            with self.assertRaises(self.ka.exceptions.InvalidApplicationConfigurationException, msg=path) as cm:
                self.ka.create_application(ApplicationName='bad-path', ApplicationCode=code)
            self.assertIn('table companies', str(cm.exception))

    def test_over_aggregation_on_event_time_across_two_shards(self):
        src = harness.create_stream(self.k, harness.unique_name('trades'), 2)
        out = harness.create_stream(self.k, harness.unique_name('maxes'), 1)
        self.start('flink-over', OVER_CODE % {'src': src, 'out': out})
        prices = {'AMZN': [10, 14, 12, 9, 11, 8], 'GOOG': [30, 20, 25, 40, 35, 10]}
        records = []
        for i in range(6):
            for ticker in ('AMZN', 'GOOG'):
                records.append({'EVENT_TIME': at(i * 40), 'TICKER': ticker, 'PRICE': prices[ticker][i]})
        # AMZN on the first shard, GOOG on the second (explicit hash keys), then a record on each
        # shard far ahead, so that the watermark (the least over the shards) passes every one above.
        hash_key = {'AMZN': '0', 'GOOG': str(2 ** 127)}
        for r in records:
            self.k.put_record(StreamName=src, Data=json.dumps(r).encode(), PartitionKey=r['TICKER'],
                              ExplicitHashKey=hash_key[r['TICKER']])
        for ticker in ('AMZN', 'GOOG'):
            self.k.put_record(StreamName=src, PartitionKey=ticker, ExplicitHashKey=hash_key[ticker],
                              Data=json.dumps({'EVENT_TIME': at(3600), 'TICKER': 'ZZZZ', 'PRICE': 0}).encode())
        rows = self.read_rows(out, len(records))
        got = [r for r in rows if r['TICKER'] != 'ZZZZ']
        self.assertEqual(len(got), len(records), rows)
        times = [r['EVENT_TIME'] for r in got]
        self.assertEqual(times, sorted(times), 'rows go out in event-time order')
        for r in got:
            i = [at(j * 40) for j in range(6)].index(r['EVENT_TIME'])
            window = [prices[r['TICKER']][j] for j in range(6) if i * 40 - 90 <= j * 40 <= i * 40]
            self.assertEqual(r['MAX_PRICE'], max(window), r)
        self.ka.stop_application(ApplicationName='flink-over')


if __name__ == '__main__':
    unittest.main()
