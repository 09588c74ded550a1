"""/metrics and the dashboard's endpoints on `eddy serve`, after real traffic (boto3).

  - /metrics: Prometheus text; IncomingRecords/IncomingBytes equal what was put, GetRecords figures
    count what was read, an application's input/output/error rows, a delivery stream's records.
  - /dashboard/api/overview, /applications/NAME(/rows), /streams/NAME/records,
    /delivery-streams/NAME answer JSON with the same figures and rows.
  - /dashboard/api/events streams Server-Sent Events (`overview`, and `rows` for an application).
  - /, the scripts and uPlot are served from the binary.
  - Unknown names answer 404, bad parameters 400, never a crash (the server keeps answering).
"""
import http.client
import json
import time
import unittest

import harness
from test_firehose import firehose_client

ROLE = 'arn:aws:iam::000000000000:role/any'
ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/'
# A Lambda function that crashes; where it runs is the server's flag (--lambda crash=exec:exit 3).
CRASH_FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:crash'


def get(server, path, timeout=15):
    conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=timeout)
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return r.status, r.getheader('Content-Type'), r.read()
    finally:
        conn.close()


def get_json(server, path):
    status, ctype, body = get(server, path)
    return status, json.loads(body)


def metrics(server):
    status, ctype, body = get(server, '/metrics')
    assert status == 200, status
    assert ctype.startswith('text/plain; version=0.0.4'), ctype
    out = {}
    for line in body.decode().splitlines():
        if line.startswith('#') or not line:
            continue
        name, value = line.rsplit(' ', 1)
        out[name] = float(value)
    return out


def until(what, fn, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError('timed out waiting for ' + what)


class DashboardApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(['--lambda', 'crash=exec:exit 3'], label='dashboard').start()
        cls.kinesis = cls.server.client()
        import boto3
        cls.analytics = boto3.client('kinesisanalytics', endpoint_url=cls.server.endpoint, region_name='us-east-1',
                                     aws_access_key_id='x', aws_secret_access_key='y')
        # Without client-side validation where this botocore's model predates IntervalInSeconds 0.
        cls.firehose = firehose_client(cls.server)
        # Traffic: 50 records into `src`, an application copying the ones with n > 0 to `dst`
        # (n = 0 divides by zero: an error row), a direct-put delivery stream with 3 records.
        for name in ('src', 'dst'):
            harness.create_stream(cls.kinesis, name, shards=2)
        cls.records = [json.dumps({'n': i % 10, 'store_id': 'store_%d' % (i % 5 + 1)}) for i in range(50)]
        cls.kinesis.put_records(StreamName='src', Records=[
            {'Data': r.encode(), 'PartitionKey': str(i)} for i, r in enumerate(cls.records)])
        cls.analytics.create_application(
            ApplicationName='copy',
            ApplicationCode='CREATE OR REPLACE STREAM "OUT" ("n" INTEGER, "q" INTEGER, "store_id" VARCHAR(8));'
                            'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" '
                            'SELECT STREAM "n", 10 / "n", "store_id" FROM "SRC_001";',
            Inputs=[{'NamePrefix': 'SRC', 'KinesisStreamsInput': {'ResourceARN': ARN + 'src', 'RoleARN': ROLE},
                     'InputSchema': {'RecordFormat': {'RecordFormatType': 'JSON'},
                                     'RecordColumns': [{'Name': 'n', 'Mapping': '$.n', 'SqlType': 'INTEGER'},
                                                       {'Name': 'store_id', 'Mapping': '$.store_id',
                                                        'SqlType': 'VARCHAR(8)'}]}}],
            Outputs=[{'Name': 'OUT', 'KinesisStreamsOutput': {'ResourceARN': ARN + 'dst', 'RoleARN': ROLE},
                      'DestinationSchema': {'RecordFormatType': 'JSON'}}])
        detail = cls.analytics.describe_application(ApplicationName='copy')['ApplicationDetail']
        cls.analytics.start_application(ApplicationName='copy', InputConfigurations=[
            {'Id': detail['InputDescriptions'][0]['InputId'],
             'InputStartingPositionConfiguration': {'InputStartingPosition': 'TRIM_HORIZON'}}])
        cls.firehose.create_delivery_stream(
            DeliveryStreamName='fh', DeliveryStreamType='DirectPut',
            ExtendedS3DestinationConfiguration={'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::b',
                                                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 900}})
        cls.firehose.put_record_batch(DeliveryStreamName='fh', Records=[{'Data': b'x\n'}] * 3)
        # The same application writing to a delivery stream: the dashboard reads its journal.
        cls.firehose.create_delivery_stream(
            DeliveryStreamName='fh-rows', DeliveryStreamType='DirectPut',
            ExtendedS3DestinationConfiguration={'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::b',
                                                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 900}})
        code = cls.analytics.describe_application(ApplicationName='copy')['ApplicationDetail']
        cls.analytics.create_application(
            ApplicationName='copy-to-firehose', ApplicationCode=code['ApplicationCode'],
            Inputs=[{'NamePrefix': 'SRC', 'KinesisStreamsInput': {'ResourceARN': ARN + 'src', 'RoleARN': ROLE},
                     'InputSchema': {'RecordFormat': {'RecordFormatType': 'JSON'},
                                     'RecordColumns': [{'Name': 'n', 'Mapping': '$.n', 'SqlType': 'INTEGER'},
                                                       {'Name': 'store_id', 'Mapping': '$.store_id',
                                                        'SqlType': 'VARCHAR(8)'}]}}],
            Outputs=[{'Name': 'OUT', 'KinesisFirehoseOutput': {
                'ResourceARN': 'arn:aws:firehose:us-east-1:000000000000:deliverystream/fh-rows', 'RoleARN': ROLE},
                      'DestinationSchema': {'RecordFormatType': 'JSON'}}])
        detail = cls.analytics.describe_application(ApplicationName='copy-to-firehose')['ApplicationDetail']
        cls.analytics.start_application(ApplicationName='copy-to-firehose', InputConfigurations=[
            {'Id': detail['InputDescriptions'][0]['InputId'],
             'InputStartingPositionConfiguration': {'InputStartingPosition': 'TRIM_HORIZON'}}])

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_metrics_after_traffic(self):
        name = 'eddy_kinesis_%s{stream="src"}'
        m = until('the application to read every record',
                  lambda: (lambda m: m if m.get('eddy_kinesisanalytics_input_records_total{application="copy"}') == 50
                           else None)(metrics(self.server)))
        self.assertEqual(m[name % 'incoming_records_total'], 50)
        self.assertEqual(m[name % 'incoming_bytes_total'], sum(len(r) for r in self.records))
        self.assertEqual(m[name % 'open_shards'], 2)
        self.assertEqual(m['eddy_kinesisanalytics_running{application="copy"}'], 1)
        # A fresh start checkpoints at once.
        self.assertGreater(m['eddy_kinesisanalytics_last_checkpoint_timestamp_seconds{application="copy"}'], 1e9)
        self.assertEqual(m['eddy_kinesisanalytics_error_rows_total{application="copy"}'], 5)   # n = 0
        self.assertEqual(m['eddy_kinesisanalytics_output_records_total{application="copy"}'], 45)
        self.assertEqual(m['eddy_firehose_incoming_records_total{delivery_stream="fh"}'], 3)
        self.assertEqual(m['eddy_firehose_backlog_records{delivery_stream="fh"}'], 3)  # buffered for 900 s
        # Held in memory by the worker for the next object (3 x b'x\n'), once it has read them.
        m = until('fh to buffer its records', lambda: (lambda m: m if m.get(
            'eddy_firehose_buffered_bytes{delivery_stream="fh"}') == 6 else None)(metrics(self.server)))
        # The copy application has no windows: its watermark is the ROWTIME reached, which the
        # wall clock moves while it is idle.
        self.assertLess(m['eddy_kinesisanalytics_watermark_lag_seconds{application="copy"}'], 60)
        # The application's 45 rows arrive in `dst`: IncomingRecords of dst once written.
        m = until('dst to receive the rows',
                  lambda: (lambda m: m if m.get('eddy_kinesis_incoming_records_total{stream="dst"}') == 45
                           else None)(metrics(self.server)))
        # GetRecords figures: reading src's shards returns 50 records, their age is measured.
        before = m.get(name % 'get_records_records_total', 0)
        total = 0
        for shard in harness.all_shards(self.kinesis, 'src'):
            recs, _ = harness.read_shard(self.kinesis, 'src', shard['ShardId'], limit=10)
            total += len(recs)
        self.assertEqual(total, 50)
        # In cluster mode (EDDY_E2E_NODES) the figures are the sum of what each node published
        # within the last second.
        m = until('GetRecords to be counted', lambda: (lambda m: m if m.get(
            name % 'get_records_records_total', 0) - before == 50 else None)(metrics(self.server)))
        self.assertGreaterEqual(m[name % 'get_records_success_total'], 2)
        self.assertIn(name % 'get_records_iterator_age_seconds', m)
        self.assertEqual(m[name % 'behind_latest_seconds'], 0)  # read to the end

    def test_overview_and_application_endpoints(self):
        until('the rows to reach dst', lambda: len(get_json(self.server, '/dashboard/api/applications/copy/rows')[1]
                                                   .get('rows', [])) == 45)
        status, o = get_json(self.server, '/dashboard/api/overview')
        self.assertEqual(status, 200)
        self.assertEqual({s['name'] for s in o['streams']}, {'src', 'dst'})
        app = [a for a in o['applications'] if a['name'] == 'copy'][0]
        self.assertEqual(app['status'], 'RUNNING')
        self.assertEqual(app['source'], 'src')
        self.assertEqual(app['outputs'], [{'in_app_stream': 'OUT', 'target': 'dst', 'kind': 'stream'}])
        self.assertGreater(app['last_checkpoint_ms'], 0)
        self.assertIn('fh', [d['name'] for d in o['delivery_streams']])
        status, d = get_json(self.server, '/dashboard/api/applications/copy')
        self.assertEqual(status, 200)
        self.assertIn('10 / "n"', d['code'])
        self.assertEqual(len(d['errors']), 5)
        self.assertEqual({e['ERROR_NAME'] for e in d['errors']}, {'Division_By_Zero'})
        status, r = get_json(self.server, '/dashboard/api/applications/copy/rows?output=OUT&limit=10')
        self.assertEqual(status, 200)
        self.assertEqual(len(r['rows']), 10)
        self.assertTrue(all(row['data']['q'] == 10 // row['data']['n'] for row in r['rows']))
        arrivals = [row['arrival_ms'] for row in r['rows']]
        self.assertEqual(arrivals, sorted(arrivals))
        status, r = get_json(self.server, '/dashboard/api/streams/src/records?limit=50000')
        self.assertEqual(status, 200)
        self.assertEqual(sorted(json.dumps(x['data'], separators=(', ', ': ')) for x in r['records']),
                         sorted(json.dumps(json.loads(x), separators=(', ', ': ')) for x in self.records))
        status, r = get_json(self.server, '/dashboard/api/streams/src/records?since_ms=%d' % (time.time() * 1000 + 60000))
        self.assertEqual((status, r['records']), (200, []))
        status, r = get_json(self.server, '/dashboard/api/delivery-streams/fh')
        self.assertEqual(status, 200)
        self.assertEqual(r['metrics']['incoming_records'], 3)
        until('fh to buffer its 3 records (6 bytes)', lambda: get_json(
            self.server, '/dashboard/api/delivery-streams/fh')[1]['metrics']['buffered_bytes'] == 6)
        self.assertEqual(get_json(self.server, '/dashboard/api/delivery-streams/fh')[1]['metrics']['buffered_records'], 3)
        self.assertIsInstance(app['watermark_lag_ms'], int)
        self.assertGreater(app['watermark_ms'], 1e12)

    def test_rows_of_an_output_to_a_delivery_stream(self):
        rows = until('the rows in the delivery stream\'s journal', lambda: (lambda r: r if len(r) == 45 else None)(
            get_json(self.server, '/dashboard/api/applications/copy-to-firehose/rows?output=OUT')[1].get('rows', [])))
        self.assertEqual(sorted(r['data']['n'] for r in rows), sorted(json.loads(x)['n'] for x in self.records
                                                                      if json.loads(x)['n']))
        status, o = get_json(self.server, '/dashboard/api/overview')
        app = [a for a in o['applications'] if a['name'] == 'copy-to-firehose'][0]
        self.assertEqual(app['outputs'], [{'in_app_stream': 'OUT', 'target': 'fh-rows', 'kind': 'delivery_stream'}])

    def test_failed_records_of_a_delivery_stream(self):
        # A transform that crashes: every record goes to the error prefix.
        self.firehose.create_delivery_stream(
            DeliveryStreamName='fh-fail', DeliveryStreamType='DirectPut',
            ExtendedS3DestinationConfiguration={
                'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::b', 'ErrorOutputPrefix': 'err/',
                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 0},
                'ProcessingConfiguration': {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
                    {'ParameterName': 'LambdaArn', 'ParameterValue': CRASH_FUNCTION},
                    {'ParameterName': 'NumberOfRetries', 'ParameterValue': '0'}]}]}})
        self.firehose.put_record_batch(DeliveryStreamName='fh-fail', Records=[{'Data': b'r'}] * 4)
        until('4 failed records', lambda: metrics(self.server).get(
            'eddy_firehose_failed_records_total{delivery_stream="fh-fail"}') == 4)
        status, o = get_json(self.server, '/dashboard/api/overview')
        d = [x for x in o['delivery_streams'] if x['name'] == 'fh-fail'][0]
        self.assertEqual((d['failed_records'], d['backlog_records']), (4, 0))

    def test_events_stream_overview_and_rows(self):
        until('the rows to reach dst', lambda: len(get_json(self.server, '/dashboard/api/applications/copy/rows')[1]
                                                   .get('rows', [])) == 45)
        conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=10)
        try:
            conn.request('GET', '/dashboard/api/events?application=copy&output=OUT&since_ms=0')
            r = conn.getresponse()
            self.assertEqual(r.status, 200, r.read(500) if r.status != 200 else '')
            self.assertEqual(r.getheader('Content-Type'), 'text/event-stream')
            events = {}
            for _ in range(200):  # lines; the first tick carries both events
                line = r.fp.readline().decode()
                if line.startswith('event: '):
                    kind = line[7:].strip()
                elif line.startswith('data: '):
                    events[kind] = json.loads(line[6:])
                    if len(events) == 2:
                        break
            self.assertIn('copy', [a['name'] for a in events['overview']['applications']])
            self.assertGreater(len(events['rows']['rows']), 0)
            # A second overview follows about a second later (live updates).
            start = time.monotonic()
            while r.fp.readline().decode() != 'event: overview\n':
                pass
            self.assertLess(time.monotonic() - start, 5)
        finally:
            conn.close()

    def test_assets_are_served_from_the_binary(self):
        status, ctype, body = get(self.server, '/')
        self.assertEqual((status, ctype), (200, 'text/html; charset=utf-8'))
        self.assertIn(b'/dashboard/vendor/uPlot.iife.min.js', body)
        for path in ('/dashboard/app.js', '/dashboard/charts.js', '/dashboard/style.css',
                     '/dashboard/vendor/uPlot.iife.min.js', '/dashboard/vendor/uPlot.min.css'):
            status, ctype, body = get(self.server, path)
            self.assertEqual(status, 200, path)
            self.assertGreater(len(body), 500, path)
        self.assertIn(b'uPlot', get(self.server, '/dashboard/vendor/uPlot.iife.min.js')[2])

    def test_unknown_names_404_bad_parameters_400(self):
        cases = [
            ('/dashboard/api/applications/nosuch', 404),
            ('/dashboard/api/applications/nosuch/rows', 404),
            ('/dashboard/api/applications/copy/rows?output=NOPE', 404),
            ('/dashboard/api/applications/copy/rows?limit=0', 400),
            ('/dashboard/api/applications/copy/rows?limit=abc', 400),
            ('/dashboard/api/applications/copy/rows?limit=99999999999999999999999', 400),
            ('/dashboard/api/applications/copy/rows?since_ms=-5', 400),
            ('/dashboard/api/applications/copy/rows?output=%zz', 400),
            ('/dashboard/api/applications/copy/whatever', 404),
            ('/dashboard/api/streams/nosuch/records', 404),
            ('/dashboard/api/streams/src/records?limit=50001', 400),
            ('/dashboard/api/streams/src', 404),
            ('/dashboard/api/delivery-streams/nosuch', 404),
            ('/dashboard/api/events?application=nosuch', 404),
            ('/dashboard/api/events?application=copy&since_ms=x', 400),
            ('/dashboard/api/nothing', 404),
            ('/dashboard/api/applications/%ff%fe/rows', 404),
            ('/dashboard/vendor/missing.js', 404),
        ]
        for path, want in cases:
            with self.subTest(path=path):
                status, ctype, body = get(self.server, path)
                self.assertEqual(status, want, body)
                if path.startswith('/dashboard/api/'):
                    self.assertIn('message', json.loads(body))
        self.assertTrue(self.server.alive())
        self.assertEqual(get(self.server, '/health')[0], 200)


if __name__ == '__main__':
    unittest.main()
