"""Issue 21, "Safe under hostile input": bounded work per input; no crash now or after a restart.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_hostile_input
Every test starts its own server (a crash in one test must not fail the next), checks that it is
alive after the hostile input, then restarts it on the same data dir and checks it again: input
that was stored (a record, an application) must not crash the server when it comes back either.

What is checked:
  - 40,000-character StreamName, DeliveryStreamName and ApplicationName: HTTP 400
    ValidationException (as AWS's models limit them to 128/64/128 characters).
  - A request body of 100,000 nested JSON arrays (and objects, and CBOR arrays): HTTP 400
    SerializationException or ValidationException.
  - A record of 100,000 nested brackets read through GET /dashboard/api/streams/NAME/records:
    HTTP 200, before and after a restart.
  - A SQL application whose pump computes a 30,000-term expression 1+1+...+1: refused (4xx) at
    CreateApplication or StartApplication, or it reports an error row; the server stays up.
  - A SQL application running REGEX_REPLACE(col, '(a*)*b', 'x') over 25,000 'a's: /health keeps
    answering, and an output row or an error row arrives within a bounded wait.
"""

import base64
import http.client
import json
import time
import unittest

from botocore.exceptions import BotoCoreError, ClientError

import harness
from test_analytics import analytics_client

ROLE = 'arn:aws:iam::000000000000:role/any'
# What a client sees when the server dies under a request (a ClientError is an answer, not this).
NO_ANSWER = (OSError, http.client.HTTPException, BotoCoreError)
HUGE = 'a' * 40000
DEPTH = 100000
APP_WAIT_S = 25.0
HEALTH_TIMEOUT_S = 5.0
FIREHOSE = 'Firehose_20150804.'
KDA_V1 = 'KinesisAnalytics_20150814.'
KDA_V2 = 'KinesisAnalytics_20180523.'


def stream_arn(name):
    return 'arn:aws:kinesis:%s:000000000000:stream/%s' % (harness.REGION, name)


def json_schema(columns):
    return {'RecordFormat': {'RecordFormatType': 'JSON',
                             'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
            'RecordEncoding': 'UTF-8',
            'RecordColumns': [{'Name': n, 'Mapping': '$.%s' % n, 'SqlType': t} for n, t in columns]}


def http_get(port, path, timeout=15):
    """(status, body) of GET path, or (None, error text) if the connection fails."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return r.status, r.read()
    except (OSError, http.client.HTTPException) as e:
        return None, repr(e)
    finally:
        conn.close()


class HostileInputCase(unittest.TestCase):

    def setUp(self):
        self.server = harness.EddyServer(label='hostile-input')
        self.addCleanup(self.close_server)
        self.server.start()
        self.connect()

    def close_server(self):
        try:
            self.server.stop()
        except harness.ServerError:
            pass  # a crash is reported by the test's own checks
        finally:
            self.server.cleanup()

    def connect(self):
        self.k = self.server.client(validate=False)
        self.ka = analytics_client(self.server, validate=False)

    # ------------------------------------------------------------------------------ helpers
    def guarded(self, what, fn, *args, **kw):
        """fn(...); a request that gets no answer (the server died under it) fails the test
        with the server's log instead of erroring with a connection traceback."""
        try:
            return fn(*args, **kw)
        except NO_ANSWER as e:
            time.sleep(0.5)
            self.fail('%s got no answer (%r); eddy %s\n%s'
                      % (what, e, 'is still running' if self.server.alive() else 'died',
                         self.server.log_tail(20)))

    def ensure_up(self):
        """Starts the server again if an earlier subtest killed it (that subtest has failed
        already), so that each case is tried on a live server."""
        if not self.server.alive():
            try:
                self.server.stop()
            except harness.ServerError:
                pass
            self.server.start()
            self.connect()

    def assert_alive(self, when):
        """The process runs, /health answers 200 within 5 s and ListStreams answers."""
        time.sleep(0.05)
        self.assertTrue(self.server.alive(), 'eddy died %s\n%s' % (when, self.server.log_tail(30)))
        status, body = http_get(self.server.port, '/health', timeout=HEALTH_TIMEOUT_S)
        self.assertEqual(status, 200, 'GET /health %s: %r' % (when, body))
        st, resp, _ = self.guarded('ListStreams ' + when, self.server.json_call, 'ListStreams', {},
                                   timeout=HEALTH_TIMEOUT_S)
        self.assertEqual(st, 200, 'ListStreams %s: %s' % (when, resp))
        return resp

    def restart(self):
        """Stops (a server that died on its own is noted, the test has failed already) and starts
        the server on the same data dir; checks it is alive, and still alive 2 s later (a stored
        input may be processed again after the start)."""
        try:
            self.server.stop()
        except harness.ServerError:
            pass
        self.server.start()
        self.connect()
        self.assert_alive('right after a restart')
        time.sleep(2)
        return self.assert_alive('2 s after a restart')

    def assert_400(self, target, payload, codes, what):
        st, hdrs, body = self.guarded(what, self.server.raw, target, json.dumps(payload))
        try:
            obj = json.loads(body)
        except ValueError:
            obj = None
        self.assertEqual(st, 400, '%s: HTTP %s %r' % (what, st, body[:300]))
        self.assertIn(harness.error_type(obj), codes, '%s: %r' % (what, body[:300]))

    def app_errors(self, name):
        """The application's error_stream rows as the dashboard shows them."""
        status, body = http_get(self.server.port, '/dashboard/api/applications/' + name)
        self.assertEqual(status, 200, 'GET /dashboard/api/applications/%s: %r' % (name, body[:300]))
        return json.loads(body).get('errors') or []

    def read_records(self, name):
        def read():
            out = []
            for shard in sorted(s['ShardId'] for s in harness.all_shards(self.k, name)):
                recs, _ = harness.read_shard(self.k, name, shard, max_calls=50)
                out.extend(r['Data'] for r in recs)
            return out
        return self.guarded('reading stream ' + name, read)


# ================================================================================ names
class TestHugeNames(HostileInputCase):

    def test_40000_character_names_are_validation_errors(self):
        harness.create_stream(self.k, 'ok', 1)
        data = base64.b64encode(b'x').decode()
        cases = [
            ('Kinesis PutRecord', 'PutRecord',
             {'StreamName': HUGE, 'Data': data, 'PartitionKey': 'k'}),
            ('Kinesis CreateStream', 'CreateStream', {'StreamName': HUGE, 'ShardCount': 1}),
            ('Kinesis DescribeStreamSummary', 'DescribeStreamSummary', {'StreamName': HUGE}),
            ('Firehose PutRecord', FIREHOSE + 'PutRecord',
             {'DeliveryStreamName': HUGE, 'Record': {'Data': data}}),
            ('Firehose CreateDeliveryStream', FIREHOSE + 'CreateDeliveryStream',
             {'DeliveryStreamName': HUGE, 'ExtendedS3DestinationConfiguration': {
                 'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::b'}}),
            ('Firehose DescribeDeliveryStream', FIREHOSE + 'DescribeDeliveryStream',
             {'DeliveryStreamName': HUGE}),
            ('KDA v1 DescribeApplication', KDA_V1 + 'DescribeApplication', {'ApplicationName': HUGE}),
            ('KDA v1 CreateApplication', KDA_V1 + 'CreateApplication', {'ApplicationName': HUGE}),
            ('KDA v2 DescribeApplication', KDA_V2 + 'DescribeApplication', {'ApplicationName': HUGE}),
            ('KDA v2 CreateApplication', KDA_V2 + 'CreateApplication',
             {'ApplicationName': HUGE, 'RuntimeEnvironment': 'SQL-1_0', 'ServiceExecutionRole': ROLE}),
        ]
        for what, target, payload in cases:
            with self.subTest(what):
                self.ensure_up()
                self.assert_400(target, payload, ('ValidationException',), what)
                self.assert_alive('after ' + what)
        with self.subTest('boto3 without parameter validation'):
            self.ensure_up()
            with self.assertRaises(ClientError) as cm:
                self.guarded('boto3 PutRecord', self.k.put_record, StreamName=HUGE, Data=b'x',
                             PartitionKey='k')
            self.assertEqual(cm.exception.response['Error']['Code'], 'ValidationException')
            self.assertEqual(cm.exception.response['ResponseMetadata']['HTTPStatusCode'], 400)
        with self.subTest('after a restart'):
            resp = self.restart()
            self.assertEqual(resp['StreamNames'], ['ok'], 'nothing was created by the huge names')


# ========================================================================= nested bodies
class TestNestedBodies(HostileInputCase):

    def test_deeply_nested_request_bodies_are_400(self):
        bodies = [
            ('JSON arrays', harness.JSON_CT, b'[' * DEPTH + b']' * DEPTH),
            ('JSON objects', harness.JSON_CT, b'{"a":' * DEPTH + b'1' + b'}' * DEPTH),
            ('JSON arrays inside a PutRecord', harness.JSON_CT,
             b'{"StreamName":"s","PartitionKey":"k","Data":' + b'[' * DEPTH + b']' * DEPTH + b'}'),
            ('CBOR arrays', harness.CBOR_CT, b'\x81' * DEPTH + b'\x80'),
        ]
        for what, ctype, body in bodies:
            for op in ('PutRecord', 'ListStreams'):
                with self.subTest(what, operation=op):
                    self.ensure_up()
                    st, _, resp = self.guarded(what, self.server.raw, op, body, content_type=ctype)
                    self.assertEqual(st, 400, '%s: HTTP %s %r' % (what, st, resp[:300]))
                    if ctype == harness.JSON_CT:
                        t = harness.error_type(json.loads(resp))
                        self.assertIn(t, ('SerializationException', 'ValidationException'), resp[:300])
                    self.assert_alive('after %s as %s' % (what, op))
        with self.subTest('after a restart'):
            self.restart()


# ==================================================================== dashboard records
class TestNestedRecordOnDashboard(HostileInputCase):

    def test_record_of_100000_nested_brackets_on_the_dashboard(self):
        harness.create_stream(self.k, 'deep', 1)
        deep = b'[' * DEPTH + b']' * DEPTH
        for data in (deep, b'{"after": 1}'):
            self.guarded('PutRecord', self.k.put_record, StreamName='deep', Data=data,
                         PartitionKey='k')
        path = '/dashboard/api/streams/deep/records'
        for query in ('', '?limit=2', '?limit=2&since_ms=1'):
            with self.subTest(query=query):
                self.ensure_up()
                status, body = http_get(self.server.port, path + query)
                self.assertEqual(status, 200, 'GET %s%s: %r' % (path, query, body[:300]))
                self.assert_alive('after GET %s%s' % (path, query))
        with self.subTest('after a restart'):
            self.restart()
            status, body = http_get(self.server.port, path)
            self.assertEqual(status, 200, 'GET %s after a restart: %r' % (path, body[:300]))
            self.assert_alive('after GET %s after a restart' % path)
            self.assertEqual(self.read_records('deep'), [deep, b'{"after": 1}'])


# ========================================================================= applications
class TestHostileSql(HostileInputCase):

    def make_app(self, name, code, columns):
        """Source and destination streams and a v1 application reading src into dst.
        Returns the ClientError of CreateApplication, or None."""
        harness.create_stream(self.k, 'src', 1)
        harness.create_stream(self.k, 'dst', 1)
        try:
            self.guarded(
                'CreateApplication', self.ka.create_application,
                ApplicationName=name, ApplicationCode=code,
                Inputs=[{'NamePrefix': 'SRC',
                         'KinesisStreamsInput': {'ResourceARN': stream_arn('src'), 'RoleARN': ROLE},
                         'InputSchema': json_schema(columns)}],
                Outputs=[{'Name': 'DEST',
                          'KinesisStreamsOutput': {'ResourceARN': stream_arn('dst'), 'RoleARN': ROLE},
                          'DestinationSchema': {'RecordFormatType': 'JSON'}}])
        except ClientError as e:
            return e
        return None

    def start_app(self, name):
        """StartApplication; returns its ClientError, or None once the application is RUNNING."""
        try:
            self.guarded('StartApplication', self.ka.start_application, ApplicationName=name,
                         InputConfigurations=[{'Id': '1.1', 'InputStartingPositionConfiguration': {
                             'InputStartingPosition': 'TRIM_HORIZON'}}])
        except ClientError as e:
            return e
        deadline = time.monotonic() + APP_WAIT_S
        while True:
            s = self.guarded('DescribeApplication', self.ka.describe_application,
                             ApplicationName=name)['ApplicationDetail']['ApplicationStatus']
            if s == 'RUNNING':
                return None
            if time.monotonic() > deadline:
                self.fail('application %s not RUNNING within %.0f s (%s)' % (name, APP_WAIT_S, s))
            time.sleep(0.1)

    def put(self, stream, data):
        self.guarded('PutRecord', self.k.put_record, StreamName=stream, Data=data, PartitionKey='k')

    def assert_4xx(self, err, what):
        st = err.response['ResponseMetadata']['HTTPStatusCode']
        self.assertTrue(400 <= st < 500, '%s answered HTTP %s: %s' % (what, st, err.response['Error']))

    def test_30000_term_expression_is_refused_or_reported(self):
        expr = '+'.join(['1'] * 30000)
        code = ('CREATE OR REPLACE STREAM "DEST" ("v" INTEGER);\n'
                'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
                'SELECT STREAM %s AS "v" FROM "SRC_001";\n' % expr)
        with self.subTest('refused or reported'):
            err = self.make_app('terms', code, [('id', 'INTEGER')])
            self.assert_alive('after CreateApplication with a 30,000-term expression')
            if err is not None:
                self.assert_4xx(err, 'CreateApplication')
            else:
                err = self.start_app('terms')
                self.assert_alive('after StartApplication with a 30,000-term expression')
                if err is not None:
                    self.assert_4xx(err, 'StartApplication')
                else:
                    self.put('src', b'{"id": 1}')
                    deadline = time.monotonic() + APP_WAIT_S
                    while not self.app_errors('terms'):
                        self.assert_alive('while the application runs the 30,000-term expression')
                        if time.monotonic() > deadline:
                            self.fail('the 30,000-term expression was neither refused '
                                      '(CreateApplication, StartApplication) nor reported as an '
                                      'error row within %.0f s; output: %r'
                                      % (APP_WAIT_S, [r[:100] for r in self.read_records('dst')]))
                        time.sleep(0.3)
        with self.subTest('after a restart'):
            self.restart()

    def test_catastrophic_regex_over_25000_characters_is_bounded(self):
        code = ('CREATE OR REPLACE STREAM "DEST" ("r" VARCHAR(30000));\n'
                'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
                'SELECT STREAM REGEX_REPLACE("s", \'(a*)*b\', \'x\') AS "r" FROM "SRC_001";\n')
        err = self.make_app('regex', code, [('s', 'VARCHAR(30000)')])
        self.assertIsNone(err, 'CreateApplication: %s' % (err and err.response['Error']))
        err = self.start_app('regex')
        self.assertIsNone(err, 'StartApplication: %s' % (err and err.response['Error']))
        with self.subTest('an output or error row, /health answering meanwhile'):
            self.put('src', json.dumps({'s': 'a' * 25000}).encode())
            deadline = time.monotonic() + APP_WAIT_S
            while True:
                self.assert_alive('while the application runs REGEX_REPLACE over 25,000 characters')
                rows = self.read_records('dst')
                errors = self.app_errors('regex')
                if rows or errors:
                    break
                if time.monotonic() > deadline:
                    self.fail('neither an output row nor an error row within %.0f s' % APP_WAIT_S)
                time.sleep(0.3)
            if rows:
                self.assertEqual([json.loads(r) for r in rows], [{'r': 'a' * 25000}],
                                 'no match: REGEX_REPLACE returns its input')
        with self.subTest('after a restart'):
            self.assertEqual(sorted(self.restart()['StreamNames']), ['dst', 'src'])

    def test_error_rows_of_large_records_keep_the_application_page_bounded(self):
        # 240 records of 45 KB that cannot be mapped: each error row carries the record (DATA_ROW),
        # 11 MB in all. The application's dashboard page keeps the newest within a few MiB.
        code = ('CREATE OR REPLACE STREAM "DEST" ("n" INTEGER);\n'
                'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
                'SELECT STREAM "n" FROM "SRC_001";\n')
        err = self.make_app('big_errors', code, [('n', 'INTEGER')])
        self.assertIsNone(err, 'CreateApplication: %s' % (err and err.response['Error']))
        err = self.start_app('big_errors')
        self.assertIsNone(err, 'StartApplication: %s' % (err and err.response['Error']))
        total = 240
        for first in range(0, total, 40):
            records = [{'Data': json.dumps({'n': '%03d' % i + 'x' * 45000}).encode(), 'PartitionKey': str(i)}
                       for i in range(first, first + 40)]
            resp = self.guarded('PutRecords', self.k.put_records, StreamName='src', Records=records)
            self.assertEqual(resp['FailedRecordCount'], 0)
        deadline = time.monotonic() + APP_WAIT_S
        while True:
            status, body = http_get(self.server.port, '/dashboard/api/applications/big_errors')
            self.assertEqual(status, 200, body[:300])
            page = json.loads(body)
            if page['metrics'].get('error_rows', 0) >= total:
                break
            if time.monotonic() > deadline:
                self.fail('%s error rows of %d within %.0f s' % (page['metrics'].get('error_rows'), total, APP_WAIT_S))
            time.sleep(0.3)
        self.assertLess(len(body), 5 << 20, 'the application page is %d bytes' % len(body))
        errors = page['errors']
        self.assertGreater(len(errors), 10)
        self.assertLess(len(errors), total)
        self.assertIn('239', json.dumps(errors[-1]), 'the newest error row is kept')
        self.assert_alive('after 240 large error rows')


if __name__ == '__main__':
    unittest.main()
