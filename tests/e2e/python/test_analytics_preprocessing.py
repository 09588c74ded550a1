"""Lambda preprocessing of SQL application inputs (KDA's InputProcessingConfiguration,
dev/lambda-preprocessing), through boto3's kinesisanalytics (v1) and kinesisanalyticsv2.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_analytics_preprocessing   (about 2.5 min:
the timeout case waits for two 60 s invocations)

One server for the module, started with `--lambda NAME=...` for each function below; each test its
own streams and applications. Semantics checked:
  - The event: {invocationId, applicationArn, streamArn, records: [{recordId,
    kinesisStreamRecordMetadata: {sequenceNumber, partitionKey, shardId, approximateArrivalTimestamp},
    data}]}; the answer {records: [{recordId, result: Ok|Dropped|ProcessingFailed, data}]}.
  - Ok: the answer's data replaces the record; several JSON documents (or CSV rows, split by the
    input's row delimiter) become several rows. Dropped: no row. ProcessingFailed: an error_stream
    row Preprocessing_Failed with the original bytes (DATA_ROW, hex), also in GET
    /eddy/v1/applications/NAME/errors.
  - A failed invocation (non-zero exit, not JSON, a record not answered, a timeout): an EddyFault in
    the raw DescribeApplication, the batch retried with backoff (0.5 s doubling), nothing after it
    goes through; once the function works, every record comes through exactly once, in order, and
    the fault clears.
  - API: v1 and v2 CreateApplication / AddApplicationInput with a processor, Add/Delete
    ApplicationInputProcessingConfiguration, UpdateApplication's InputProcessingConfigurationUpdate,
    the descriptions and version bumps; an unknown InputId is ResourceNotFoundException, a second
    processor on one input or an unknown function InvalidArgumentException, a stale version
    ConcurrentModificationException; a refused request changes nothing.
  - KPL aggregated records reach the function whole, with their partition keys; a Python handler
    carrying its own KPL decoder de-aggregates them and the SQL sees the user records.
"""

import base64
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from botocore.exceptions import ClientError

import harness
import test_analytics as kda
import test_analytics_v2 as kv2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
V1 = 'KinesisAnalytics_20150814.'
ROLE = kda.ROLE
WAIT_S = 20.0
INVOKE_TIMEOUT_S = 60  # eddy's fixed per-attempt timeout of a preprocessing function


def fn_arn(name):
    return 'arn:aws:lambda:us-east-1:000000000000:function:' + name


def processing(name, role=True):
    p = {'ResourceARN': fn_arn(name)}
    if role:
        p['RoleARN'] = ROLE
    return {'InputLambdaProcessor': p}


# An unmodified Lambda file: upper-cases "name"; action drop -> Dropped, fail -> ProcessingFailed,
# split -> two JSON documents (the second with id + 1000). Logs each event next to itself.
SHAPE = '''import base64, json, os
LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'shape.jsonl')
def lambda_handler(event, context):
    assert context.get_remaining_time_in_millis() > 0
    with open(LOG, 'a') as f:
        f.write(json.dumps(event) + '\\n')
    out = []
    for r in event['records']:
        doc = json.loads(base64.b64decode(r['data']))
        action = doc.pop('action', None)
        if action == 'drop':
            out.append({'recordId': r['recordId'], 'result': 'Dropped'})
            continue
        if action == 'fail':
            out.append({'recordId': r['recordId'], 'result': 'ProcessingFailed', 'data': r['data']})
            continue
        doc['name'] = doc['name'].upper()
        docs = [doc] + ([dict(doc, id=doc['id'] + 1000)] if action == 'split' else [])
        data = '\\n'.join(json.dumps(d) for d in docs).encode()
        out.append({'recordId': r['recordId'], 'result': 'Ok', 'data': base64.b64encode(data).decode()})
    return {'records': out}
'''

# A command (exec:): JSON {"id", "name"} -> CSV rows "id,part" for each '+'-separated part of name.
TOCSV = '''import base64, json, sys
event = json.load(sys.stdin)
out = []
for r in event['records']:
    doc = json.loads(base64.b64decode(r['data']))
    rows = ''.join('%d,%s\\n' % (doc['id'], part) for part in doc['name'].split('+'))
    out.append({'recordId': r['recordId'], 'result': 'Ok', 'data': base64.b64encode(rows.encode()).decode()})
json.dump({'records': out}, sys.stdout)
'''

# A command (exec:) whose behaviour per application is the text of MODEDIR/<application name>.mode,
# "KIND [N]" (N: only for the first N calls of that kind, then it crashes): crash (exit 3), garbage
# (not JSON), missing (the last record not answered), timeout (sleeps past eddy's timeout); without
# the file it passes the records through. Each call is logged with what it did and how many sockets
# it holds (inherited from eddy); a timed-out call that is still alive when it wakes logs that too.
FLAKY = '''import json, os, sys, time
event = json.load(sys.stdin)
d = os.path.dirname(os.path.abspath(__file__))
app = event['applicationArn'].rsplit('/', 1)[-1]
calls = os.path.join(d, app + '.calls')
try:
    with open(os.path.join(d, app + '.mode')) as f:
        mode = f.read().split()
except FileNotFoundError:
    mode = ['ok']
kind = mode[0]
if len(mode) > 1 and os.path.exists(calls):
    with open(calls) as f:
        if sum(json.loads(line)['mode'] == kind for line in f) >= int(mode[1]):
            kind = 'crash'
def is_socket(fd):
    try:
        return os.readlink('/proc/self/fd/' + fd).startswith('socket:')
    except OSError:
        return False
sockets = sum(map(is_socket, os.listdir('/proc/self/fd')))
with open(calls, 'a') as f:
    f.write(json.dumps({'t': time.time(), 'mode': kind, 'n': len(event['records']), 'sockets': sockets}) + '\\n')
if kind == 'crash':
    sys.exit(3)
if kind == 'garbage':
    print('this is not the answer')
    sys.exit(0)
if kind == 'timeout':
    time.sleep(%d)
    with open(os.path.join(d, app + '.woke'), 'a') as f:
        f.write('alive after the timeout\\n')
records = [{'recordId': r['recordId'], 'result': 'Ok', 'data': r['data']} for r in event['records']]
json.dump({'records': records[:-1] if kind == 'missing' else records}, sys.stdout)
''' % (INVOKE_TIMEOUT_S + 3)

# De-aggregates KPL records with its own decoder (no pip packages): each user record (a JSON
# document) gets "pk", its partition key from the aggregate's key table, and "outer", the Kinesis
# record's partition key; a record that is not an aggregate passes with "outer" only.
KPL = '''import base64, hashlib, json, os
MAGIC = b'\\xf3\\x89\\x9a\\xc2'
LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'kpl.jsonl')
def varint(buf, i):
    value = shift = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7f) << shift
        if b < 0x80:
            return value, i
        shift += 7
def fields(buf):
    i = 0
    while i < len(buf):
        tag, i = varint(buf, i)
        if tag & 7 == 0:
            value, i = varint(buf, i)
        elif tag & 7 == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        else:
            raise ValueError('wire type %d' % (tag & 7))
        yield tag >> 3, value
def deaggregate(data):
    body = data[4:-16]
    if not data.startswith(MAGIC) or hashlib.md5(body).digest() != data[-16:]:
        return None
    keys, users = [], []
    for field, value in fields(body):
        if field == 1:
            keys.append(value.decode())
        elif field == 3:
            rec = dict(fields(value))
            users.append((keys[rec[1]], rec[3]))
    return users
def lambda_handler(event, context):
    with open(LOG, 'a') as f:
        f.write(json.dumps(event) + '\\n')
    out = []
    for r in event['records']:
        outer = r['kinesisStreamRecordMetadata']['partitionKey']
        data = base64.b64decode(r['data'])
        users = deaggregate(data)
        if users is None:
            docs = [dict(json.loads(data), outer=outer)]
        else:
            docs = [dict(json.loads(d), pk=pk, outer=outer) for pk, d in users]
        text = ''.join(json.dumps(d) for d in docs).encode()
        out.append({'recordId': r['recordId'], 'result': 'Ok', 'data': base64.b64encode(text).decode()})
    return {'records': out}
'''

NAME_SQL = ('CREATE OR REPLACE STREAM "DEST" ("id" INTEGER, "name" VARCHAR(16));\n'
            'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
            'SELECT STREAM "id", "name" FROM "SRC_001";\n')
NAME_SCHEMA = kda._json_schema([('id', 'INTEGER'), ('name', 'VARCHAR(16)')])
CSV_SCHEMA = {'RecordFormat': {'RecordFormatType': 'CSV', 'MappingParameters': {'CSVMappingParameters': {
    'RecordRowDelimiter': '\n', 'RecordColumnDelimiter': ','}}},
    'RecordEncoding': 'UTF-8',
    'RecordColumns': [{'Name': 'id', 'SqlType': 'INTEGER'}, {'Name': 'name', 'SqlType': 'VARCHAR(16)'}]}
KPL_SQL = ('CREATE OR REPLACE STREAM "DEST" ("id" INTEGER, "k" VARCHAR(16), "pk" VARCHAR(16), '
           '"outer" VARCHAR(16));\n'
           'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
           'SELECT STREAM "id", "k", "pk", "outer" FROM "SRC_001";\n')
KPL_SCHEMA = kda._json_schema([('id', 'INTEGER'), ('k', 'VARCHAR(16)'), ('pk', 'VARCHAR(16)'),
                               ('outer', 'VARCHAR(16)')])


class WebFunction(http.server.BaseHTTPRequestHandler):
    """A function behind HTTP: "name" becomes "web:" + name; keeps each event it was sent."""
    events = []

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        WebFunction.events.append(event)
        out = []
        for r in event['records']:
            doc = json.loads(base64.b64decode(r['data']))
            doc['name'] = 'web:' + doc['name']
            out.append({'recordId': r['recordId'], 'result': 'Ok',
                        'data': base64.b64encode(json.dumps(doc).encode()).decode()})
        body = json.dumps({'records': out}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class PreprocessingTest(kda.AnalyticsTestCase):
    label = 'kda-pre'

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='eddy-pre-fn-')
        for name, text in (('shape.py', SHAPE), ('tocsv.py', TOCSV), ('flaky.py', FLAKY), ('kpl.py', KPL)):
            with open(os.path.join(cls.dir, name), 'w') as f:
                f.write(text)
        cls.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), WebFunction)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        functions = {
            'shape': 'python:' + os.path.join(cls.dir, 'shape.py'),
            'tocsv': 'exec:python3 ' + os.path.join(cls.dir, 'tocsv.py'),
            'flaky': 'exec:python3 ' + os.path.join(cls.dir, 'flaky.py'),
            'kpl': 'python:' + os.path.join(cls.dir, 'kpl.py'),
            'web': 'http://127.0.0.1:%d/invoke' % cls.httpd.server_address[1],
        }
        args = [a for name, target in functions.items() for a in ('--lambda', name + '=' + target)]
        try:
            cls.server = harness.EddyServer(args, label=cls.label).start()
            cls.connect()
            cls.v2 = kv2.v2_client(cls.server)
        except BaseException:
            cls.httpd.shutdown()
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.httpd.shutdown()
            cls.httpd.server_close()
            shutil.rmtree(cls.dir, ignore_errors=True)

    # ------------------------------------------------------------------------------- helpers
    def logged(self, file, app):
        """The events a logging function (shape, kpl) received for application `app`."""
        try:
            with open(os.path.join(self.dir, file)) as f:
                events = [json.loads(line) for line in f]
        except FileNotFoundError:
            return []
        return [e for e in events if e.get('applicationArn') == kda.app_arn(app)]

    def put_docs(self, stream, docs, key=lambda d: 'pk-%d' % d['id']):
        resp = self.k.put_records(StreamName=stream, Records=[
            {'Data': json.dumps(d).encode(), 'PartitionKey': key(d)} for d in docs])
        self.assertEqual(resp['FailedRecordCount'], 0, resp)
        return resp['Records']

    def raw_detail(self, name):
        status, body, _ = self.server.json_call(V1 + 'DescribeApplication', {'ApplicationName': name})
        self.assertEqual(status, 200, body)
        return body['ApplicationDetail']

    def errors(self, name):
        url = '%s/eddy/v1/applications/%s/errors' % (self.server.endpoint, name)
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())

    def wait_for(self, fn, pred, what, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if pred(v):
                return v
            if time.monotonic() > deadline:
                self.fail('%s not seen within %.0f s; last: %s\n%s'
                          % (what, timeout, repr(v)[:1500], self.server.log_tail(20)))
            time.sleep(0.2)

    def settled_rows(self, stream, n, what, timeout=kda.OUTPUT_TIMEOUT_S):
        """The rows of `stream` once it holds at least n, and nothing more came in 1 s."""
        self.wait_rows(stream, lambda rows: len(rows) >= n, timeout, what)
        time.sleep(1.0)
        return self.output_rows(stream)

    def lambda_description(self, name, v2=False):
        if v2:
            d = self.v2.describe_application(ApplicationName=name)['ApplicationDetail']
            inputs = d['ApplicationConfigurationDescription']['SqlApplicationConfigurationDescription'][
                'InputDescriptions']
        else:
            inputs = self.describe(name)['InputDescriptions']
        return inputs[0].get('InputProcessingConfigurationDescription', {}).get('InputLambdaProcessorDescription')

    def v2_error(self, codes, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        self.assertIn(cm.exception.response['Error']['Code'], codes, cm.exception.response)

    # ----------------------------------------------------------------------- the functions
    def test_python_handler_upper_cases_drops_fails_and_splits(self):
        src, dst, err = self.new_stream(1, 'src'), self.new_stream(1, 'dst'), self.new_stream(1, 'err')
        name = self.uniq('shape')
        inp = dict(kda.kinesis_input('SRC', src, NAME_SCHEMA), InputProcessingConfiguration=processing('shape'))
        self.create_app(name, NAME_SQL, [inp], [kda.kinesis_output('DEST', dst),
                                                 kda.kinesis_output('error_stream', err)])
        self.assertEqual(self.lambda_description(name), {'ResourceARN': fn_arn('shape'), 'RoleARN': ROLE})
        self.start_app(name)
        actions = [None, 'drop', None, 'fail', 'split', None, 'drop', 'split', 'fail', None]
        docs = [dict({'id': i, 'name': 'n%d' % i}, **({'action': a} if a else {})) for i, a in enumerate(actions)]
        acked = self.put_docs(src, docs)

        want = []
        for d in docs:
            if d.get('action') in ('drop', 'fail'):
                continue
            want.append({'id': d['id'], 'name': d['name'].upper()})
            if d.get('action') == 'split':
                want.append({'id': d['id'] + 1000, 'name': d['name'].upper()})
        with self.subTest('the output rows'):
            self.assertEqual(self.settled_rows(dst, len(want), 'the %d rows' % len(want)), want)

        failed = [json.dumps(d).encode() for d in docs if d.get('action') == 'fail']
        with self.subTest('the error rows'):
            errs = self.settled_rows(err, len(failed), 'the error_stream rows', timeout=5)
            self.assertEqual([bytes.fromhex(e['DATA_ROW']) for e in errs], failed, errs)
            for e in errs:
                self.assertEqual((e['ERROR_NAME'], e['ERROR_LEVEL']), ('Preprocessing_Failed', 'ERROR'), e)
            listed = [e for e in self.errors(name) if e.get('ERROR_NAME') == 'Preprocessing_Failed']
            self.assertEqual([bytes.fromhex(e['DATA_ROW']) for e in listed], failed, listed)
        self.assertNotIn('EddyFault', self.raw_detail(name), 'ProcessingFailed records are not a fault')

        # The events: KDA's shape, every record once with its Kinesis metadata.
        events = self.logged('shape.jsonl', name)
        self.assertTrue(events)
        now_ms = time.time() * 1000
        seen = []
        for ev in events:
            self.assertEqual(set(ev), {'invocationId', 'applicationArn', 'streamArn', 'records'}, ev)
            self.assertEqual(ev['streamArn'], kda.stream_arn(src))
            self.assertTrue(ev['invocationId'])
            ids = [r['recordId'] for r in ev['records']]
            self.assertEqual(len(set(ids)), len(ids), 'record ids unique in an invocation')
            for r in ev['records']:
                self.assertEqual(set(r), {'recordId', 'kinesisStreamRecordMetadata', 'data'}, r)
                m = r['kinesisStreamRecordMetadata']
                self.assertLess(abs(now_ms - m['approximateArrivalTimestamp']), 120000, m)
                seen.append((base64.b64decode(r['data']), m['partitionKey'], m['sequenceNumber'], m['shardId']))
        self.assertEqual(seen, [(json.dumps(d).encode(), 'pk-%d' % d['id'], a['SequenceNumber'], a['ShardId'])
                                for d, a in zip(docs, acked)])

    def test_exec_function_emits_csv_rows(self):
        src, dst = self.new_stream(1, 'src'), self.new_stream(1, 'dst')
        name = self.uniq('csv')
        inp = dict(kda.kinesis_input('SRC', src, CSV_SCHEMA), InputProcessingConfiguration=processing('tocsv'))
        self.create_app(name, NAME_SQL, [inp], [kda.kinesis_output('DEST', dst)])
        self.start_app(name)
        self.put_docs(src, [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b+c+d'}, {'id': 3, 'name': 'e'}])
        want = [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}, {'id': 2, 'name': 'c'},
                {'id': 2, 'name': 'd'}, {'id': 3, 'name': 'e'}]
        self.assertEqual(self.settled_rows(dst, len(want), 'the CSV rows'), want)

    def test_http_function(self):
        src, dst = self.new_stream(1, 'src'), self.new_stream(1, 'dst')
        name = self.uniq('web')
        inp = dict(kda.kinesis_input('SRC', src, NAME_SCHEMA), InputProcessingConfiguration=processing('web'))
        self.create_app(name, NAME_SQL, [inp], [kda.kinesis_output('DEST', dst)])
        self.start_app(name)
        docs = [{'id': i, 'name': 'w%d' % i} for i in range(5)]
        self.put_docs(src, docs)
        self.assertEqual(self.settled_rows(dst, 5, 'the rows'), [{'id': d['id'], 'name': 'web:' + d['name']}
                                                                 for d in docs])
        events = [e for e in WebFunction.events if e['applicationArn'] == kda.app_arn(name)]
        self.assertEqual([json.loads(base64.b64decode(r['data'])) for e in events for r in e['records']], docs)
        self.assertEqual({e['streamArn'] for e in events}, {kda.stream_arn(src)})

    def test_failed_invocations_fault_retry_then_exactly_once_in_order(self):
        """One application per kind of failed invocation, all at once: a crash, an answer that is not
        JSON, one that leaves a record unanswered, a timeout (two 60 s attempts, then crashes). Each
        is an ERROR row and a fault; the batch is retried with backoff and nothing gets through,
        also not records put later; once the function works every record comes through once, in
        order, and the fault clears."""
        kinds = {'crash': 'exited with status 3', 'garbage': 'preprocessing contract',
                 'missing': 'is not answered', 'timeout': 'timed out'}
        apps = {}
        for kind in kinds:
            src, dst = self.new_stream(1, kind), self.new_stream(1, kind + '-dst')
            name = self.uniq(kind)
            with open(os.path.join(self.dir, name + '.mode'), 'w') as f:
                f.write('timeout 2' if kind == 'timeout' else kind)
            inp = dict(kda.kinesis_input('SRC', src, NAME_SCHEMA), InputProcessingConfiguration=processing('flaky'))
            self.create_app(name, NAME_SQL, [inp], [kda.kinesis_output('DEST', dst)])
            self.start_app(name)
            apps[kind] = (name, src, dst)
        docs = [{'id': i, 'name': 'r%d' % i} for i in range(30)]
        for name, src, _ in apps.values():
            self.put_docs(src, docs[:10])

        def calls(name):
            try:
                with open(os.path.join(self.dir, name + '.calls')) as f:
                    return [json.loads(line) for line in f]
            except FileNotFoundError:
                return []

        def failure_rows(kind):
            return [e for e in self.errors(apps[kind][0]) if e.get('ERROR_NAME') == 'Preprocessing_Invocation_Failed'
                    and kinds[kind] in e.get('MESSAGE', '')]

        def check_failing(kind, retries):
            """The kind's function has failed (an ERROR row says why) and been retried `retries` more
            times; the application is RUNNING with a fault; no output; every call had the first batch."""
            name, _, dst = apps[kind]
            rows = self.wait_for(lambda: failure_rows(kind), bool, 'the %s error row' % kind,
                                 timeout=2 * INVOKE_TIMEOUT_S + 20 if kind == 'timeout' else WAIT_S)
            self.assertEqual(rows[0]['ERROR_LEVEL'], 'ERROR', rows)
            n = len(calls(name))
            # A crash or a timeout is tried twice in one invocation; an answer that is not the
            # contract is one call. Invocations then back off up to 30 s.
            attempts = 2 if kind in ('crash', 'timeout') else 1
            self.wait_for(lambda: calls(name), lambda c: len(c) >= n + attempts * retries, 'a retry of %s' % kind,
                          timeout=45)
            if kind == 'timeout':
                with self.subTest('a timed-out function is killed'):
                    self.assertFalse(os.path.exists(os.path.join(self.dir, name + '.woke')),
                                     'the process of a timed-out function ran on after eddy gave up on it')
                with self.subTest("a function holds none of eddy's sockets"):
                    self.assertEqual([c['sockets'] for c in calls(name)], [0] * len(calls(name)))
                # A connection eddy closed while a function's process held it stays open, then is
                # reset: the clients start afresh (the checks above report why).
                type(self).connect()
            detail = self.raw_detail(name)
            self.assertEqual(detail['ApplicationStatus'], 'RUNNING')
            with self.subTest('an EddyFault while the function fails', kind=kind):
                self.assertTrue('EddyFault' in detail, 'no EddyFault in DescribeApplication while the %s function '
                                'keeps failing; its last error row: %s' % (kind, self.errors(name)[-1:]))
                self.assertIn('preprocessing', detail['EddyFault']['Reason'])
            self.assertEqual(self.output_rows(dst), [], '%s: nothing gets through a failing function' % kind)
            self.assertTrue(all(c['n'] == 10 and c['mode'] != 'ok' for c in calls(name)), calls(name))

        quick = ('crash', 'garbage', 'missing')
        for kind in quick:
            check_failing(kind, 1)
        for kind in kinds:
            self.put_docs(apps[kind][1], docs[10:20])  # behind the failing batch
        for kind in quick:
            check_failing(kind, 1)
        # Backoff: each invocation is two attempts back to back (one retry inside it); from the
        # second attempt of one to the first of the next 0.5 s, then 1 s, 2 s ...
        t = [c['t'] for c in calls(apps['crash'][0])]
        gaps = [round(t[i + 1] - t[i], 2) for i in range(1, len(t) - 1, 2)]
        self.assertGreater(gaps[0], 0.4, gaps)
        with self.subTest('the retry delay doubles'):
            self.assertTrue(all(y > 1.5 * x for x, y in zip(gaps, gaps[1:])), 'gaps between invocations: %s' % gaps)
        for kind in quick:
            os.remove(os.path.join(self.dir, apps[kind][0] + '.mode'))
            self.put_docs(apps[kind][1], docs[20:])

        def recovered(kind):
            name, _, dst = apps[kind]
            rows = self.settled_rows(dst, len(docs), '%s: all %d rows' % (kind, len(docs)), timeout=40)
            self.assertEqual(rows, docs, '%s: every record once, in order' % kind)
            self.wait_for(lambda: self.raw_detail(name).get('EddyFault'), lambda f: f is None,
                          'the %s fault clearing' % kind)
        for kind in quick:
            recovered(kind)
        # The timeout: two attempts of 60 s, then crashes until the test lets it work.
        check_failing('timeout', 1)
        self.assertEqual([c['mode'] for c in calls(apps['timeout'][0])][:2], ['timeout', 'timeout'])
        os.remove(os.path.join(self.dir, apps['timeout'][0] + '.mode'))
        self.put_docs(apps['timeout'][1], docs[20:])
        recovered('timeout')

    def test_kpl_records_reach_the_function_whole(self):
        if not shutil.which('node'):
            self.skipTest('node is not installed')
        if not os.path.isdir(os.path.join(ROOT, 'node_modules', 'aws-kinesis-agg')):
            self.fail('node_modules/aws-kinesis-agg is missing: run `npm install` in %s' % ROOT)
        src, dst = self.new_stream(2, 'kplsrc'), self.new_stream(1, 'kpldst')
        name = self.uniq('kpl')
        inp = dict(kda.kinesis_input('SRC', src, KPL_SCHEMA), InputProcessingConfiguration=processing('kpl'))
        self.create_app(name, KPL_SQL, [inp], [kda.kinesis_output('DEST', dst)])
        self.start_app(name)
        keys = ['alpha', 'beta', 'gamma', 'delta']
        groups = [[{'id': g * 100 + i, 'k': keys[(g + i) % 4]} for i in range(n)] for g, n in enumerate((1, 3, 7))]
        stdin = ''.join(json.dumps([{'partitionKey': u['k'], 'data': json.dumps(u)} for u in g]) + '\n'
                        for g in groups).encode()
        p = subprocess.run(['node', os.path.join(HERE, 'kpl_aggregate.mjs'), '--put', src,
                            '--endpoint', self.server.endpoint], input=stdin, capture_output=True,
                           timeout=60, cwd=ROOT)
        self.assertEqual(p.returncode, 0, 'kpl_aggregate.mjs: %s' % p.stderr.decode(errors='replace'))
        put = [json.loads(line) for line in p.stdout.decode().splitlines()]
        self.assertEqual(len(put), len(groups))
        plain = {'id': 999, 'k': 'plain'}
        plain_ack = self.put_docs(src, [plain], key=lambda d: 'plain-key')[0]

        want = [dict(u, pk=u['k'], outer=g[0]['k']) for g in groups for u in g] + [dict(plain, pk=None, outer='plain-key')]
        rows = self.settled_rows(dst, len(want), 'the %d user records' % len(want))
        self.assertEqual(kda.multiset(rows), kda.multiset(want))
        # The function got each Kinesis record whole (the aggregate's bytes), with its partition key.
        got = [(r['kinesisStreamRecordMetadata']['sequenceNumber'], r['kinesisStreamRecordMetadata']['partitionKey'],
                r['kinesisStreamRecordMetadata']['shardId'], r['data'])
               for ev in self.logged('kpl.jsonl', name) for r in ev['records']]
        sent = [(o['sequenceNumber'], o['partitionKey'], o['shardId'], o['data']) for o in put]
        sent.append((plain_ack['SequenceNumber'], 'plain-key', plain_ack['ShardId'],
                     base64.b64encode(json.dumps(plain).encode()).decode()))
        self.assertEqual(sorted(got), sorted(sent))

    # --------------------------------------------------------------------------------- the API
    def test_v1_add_update_delete_processing_configuration(self):
        src, dst = self.new_stream(1, 'src'), self.new_stream(1, 'dst')
        name = self.create_app_plain(src, dst)
        self.assertIsNone(self.lambda_description(name))
        add = self.ka.add_application_input_processing_configuration
        self.assertEqual(self.strip(add(ApplicationName=name, CurrentApplicationVersionId=1, InputId='1.1',
                                        InputProcessingConfiguration=processing('shape'))), {})
        self.assertEqual(self.version(name), 2)
        self.assertEqual(self.lambda_description(name), {'ResourceARN': fn_arn('shape'), 'RoleARN': ROLE})
        # Refused: a second processor, an unknown input, an unknown function, a stale version.
        self.assert_error('InvalidArgumentException', add, ApplicationName=name, CurrentApplicationVersionId=2,
                          InputId='1.1', InputProcessingConfiguration=processing('web'))
        self.assert_error('ResourceNotFoundException', add, ApplicationName=name, CurrentApplicationVersionId=2,
                          InputId='9.9', InputProcessingConfiguration=processing('web'))
        self.assert_error('ConcurrentModificationException', add, ApplicationName=name,
                          CurrentApplicationVersionId=1, InputId='1.1', InputProcessingConfiguration=processing('web'))
        self.assert_error('ResourceNotFoundException', self.ka.delete_application_input_processing_configuration,
                          ApplicationName=name, CurrentApplicationVersionId=2, InputId='9.9')
        self.assertEqual(self.version(name), 2)
        self.assertEqual(self.lambda_description(name)['ResourceARN'], fn_arn('shape'))

        self.start_app(name)
        self.put_docs(src, [{'id': 1, 'name': 'a'}])
        self.wait_rows(dst, lambda rows: rows == [{'id': 1, 'name': 'A'}], what='the row through shape')

        def update(version, function, **extra):
            self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=version, ApplicationUpdate={
                'InputUpdates': [{'InputId': '1.1', 'InputProcessingConfigurationUpdate': {
                    'InputLambdaProcessorUpdate': dict({'ResourceARNUpdate': fn_arn(function)}, **extra)}}]})
        self.assert_error('InvalidArgumentException', update, 2, 'missing')
        self.assertEqual(self.version(name), 2)
        update(2, 'web', RoleARNUpdate=ROLE + '2')
        self.assertEqual(self.version(name), 3)
        self.assertEqual(self.lambda_description(name), {'ResourceARN': fn_arn('web'), 'RoleARN': ROLE + '2'})
        self.wait_status(name, 'RUNNING')
        self.put_docs(src, [{'id': 2, 'name': 'b'}])
        self.wait_rows(dst, lambda rows: rows[1:] == [{'id': 2, 'name': 'web:b'}], what='the row through web')

        self.assertEqual(self.strip(self.ka.delete_application_input_processing_configuration(
            ApplicationName=name, CurrentApplicationVersionId=3, InputId='1.1')), {})
        self.assertEqual(self.version(name), 4)
        self.assertIsNone(self.lambda_description(name))
        self.assert_error('ResourceNotFoundException', self.ka.delete_application_input_processing_configuration,
                          ApplicationName=name, CurrentApplicationVersionId=4, InputId='1.1')
        self.assertEqual(self.version(name), 4)
        self.wait_status(name, 'RUNNING')
        self.put_docs(src, [{'id': 3, 'name': 'c'}])
        self.wait_rows(dst, lambda rows: rows[2:] == [{'id': 3, 'name': 'c'}], what='the row unprocessed')
        time.sleep(0.5)
        self.assertEqual(self.output_rows(dst), [{'id': 1, 'name': 'A'}, {'id': 2, 'name': 'web:b'},
                                                 {'id': 3, 'name': 'c'}])

    def create_app_plain(self, src, dst):
        name = self.uniq('api')
        self.create_app(name, NAME_SQL, [kda.kinesis_input('SRC', src, NAME_SCHEMA)], [kda.kinesis_output('DEST', dst)])
        return name

    @staticmethod
    def strip(resp):
        return {k: v for k, v in resp.items() if k != 'ResponseMetadata'}

    def test_v1_add_application_input_with_a_processor(self):
        src = self.new_stream(1, 'src')
        name = self.uniq('addin')
        self.ka.create_application(ApplicationName=name)
        bad = dict(kda.kinesis_input('SRC', src, NAME_SCHEMA), InputProcessingConfiguration=processing('missing'))
        self.assert_error('InvalidArgumentException', self.ka.add_application_input, ApplicationName=name,
                          CurrentApplicationVersionId=1, Input=bad)
        self.assertEqual(self.version(name), 1)
        self.ka.add_application_input(ApplicationName=name, CurrentApplicationVersionId=1, Input=dict(
            kda.kinesis_input('SRC', src, NAME_SCHEMA), InputProcessingConfiguration=processing('tocsv')))
        self.assertEqual(self.version(name), 2)
        self.assertEqual(self.lambda_description(name), {'ResourceARN': fn_arn('tocsv'), 'RoleARN': ROLE})
        # An unknown function at creation creates nothing.
        other = self.uniq('badfn')
        self.assert_error('InvalidArgumentException', self.ka.create_application, ApplicationName=other,
                          ApplicationCode=NAME_SQL, Inputs=[bad])
        self.assert_error('ResourceNotFoundException', self.ka.describe_application, ApplicationName=other)

    def test_v2_create_add_update_delete_and_run(self):
        src, dst = self.new_stream(1, 'src'), self.new_stream(1, 'dst')
        name = self.uniq('v2')
        inp = dict(kv2.sql_input('SRC', src, NAME_SCHEMA), InputProcessingConfiguration=processing('shape', role=False))
        d = self.v2.create_application(
            ApplicationName=name, RuntimeEnvironment='SQL-1_0', ServiceExecutionRole=ROLE,
            ApplicationConfiguration={
                'ApplicationCodeConfiguration': {'CodeContentType': 'PLAINTEXT', 'CodeContent': {'TextContent': NAME_SQL}},
                'SqlApplicationConfiguration': {'Inputs': [inp], 'Outputs': [kv2.sql_output('DEST', dst)]}})[
            'ApplicationDetail']
        desc = d['ApplicationConfigurationDescription']['SqlApplicationConfigurationDescription']['InputDescriptions'][0]
        self.assertEqual(desc['InputProcessingConfigurationDescription']['InputLambdaProcessorDescription']['ResourceARN'],
                         fn_arn('shape'))
        self.assertEqual(self.lambda_description(name, v2=True)['ResourceARN'], fn_arn('shape'))
        self.v2.start_application(ApplicationName=name, RunConfiguration={'SqlRunConfigurations': [{
            'InputId': '1.1', 'InputStartingPositionConfiguration': {'InputStartingPosition': 'TRIM_HORIZON'}}]})
        self.wait_status(name, 'RUNNING')
        self.put_docs(src, [{'id': 1, 'name': 'x', 'action': 'split'}, {'id': 2, 'name': 'y', 'action': 'drop'}])
        self.wait_rows(dst, lambda rows: rows == [{'id': 1, 'name': 'X'}, {'id': 1001, 'name': 'X'}],
                       what='the split row')

        # Delete, then add another: the v2 answers.
        gone = self.v2.delete_application_input_processing_configuration(
            ApplicationName=name, CurrentApplicationVersionId=1, InputId='1.1')
        self.assertEqual((gone['ApplicationARN'], gone['ApplicationVersionId']), (kda.app_arn(name), 2))
        self.assertIsNone(self.lambda_description(name, v2=True))
        self.v2_error(('ResourceNotFoundException',), self.v2.add_application_input_processing_configuration,
                      ApplicationName=name, CurrentApplicationVersionId=2, InputId='2.1',
                      InputProcessingConfiguration=processing('web', role=False))
        added = self.v2.add_application_input_processing_configuration(
            ApplicationName=name, CurrentApplicationVersionId=2, InputId='1.1',
            InputProcessingConfiguration=processing('web', role=False))
        self.assertEqual((added['ApplicationARN'], added['ApplicationVersionId'], added['InputId']),
                         (kda.app_arn(name), 3, '1.1'))
        self.assertEqual(added['InputProcessingConfigurationDescription']['InputLambdaProcessorDescription']['ResourceARN'],
                         fn_arn('web'))
        self.v2_error(('InvalidArgumentException',), self.v2.add_application_input_processing_configuration,
                      ApplicationName=name, CurrentApplicationVersionId=3, InputId='1.1',
                      InputProcessingConfiguration=processing('shape', role=False))
        self.wait_status(name, 'RUNNING')
        self.put_docs(src, [{'id': 3, 'name': 'z'}])
        self.wait_rows(dst, lambda rows: rows[2:] == [{'id': 3, 'name': 'web:z'}], what='the row through web')

        # UpdateApplication's InputProcessingConfigurationUpdate.
        self.v2.update_application(ApplicationName=name, CurrentApplicationVersionId=3, ApplicationConfigurationUpdate={
            'SqlApplicationConfigurationUpdate': {'InputUpdates': [{'InputId': '1.1', 'InputProcessingConfigurationUpdate': {
                'InputLambdaProcessorUpdate': {'ResourceARNUpdate': fn_arn('shape')}}}]}})
        self.assertEqual(self.v2.describe_application(ApplicationName=name)['ApplicationDetail']['ApplicationVersionId'], 4)
        self.assertEqual(self.lambda_description(name, v2=True)['ResourceARN'], fn_arn('shape'))
        self.wait_status(name, 'RUNNING')
        self.put_docs(src, [{'id': 4, 'name': 'w'}])
        self.wait_rows(dst, lambda rows: rows[3:] == [{'id': 4, 'name': 'W'}], what='the row through shape again')


if __name__ == '__main__':
    unittest.main()
