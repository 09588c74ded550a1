"""End-to-end tests of eddy's Kinesis Data Analytics for SQL (API v1, KinesisAnalytics_20150814.*)
control plane and running applications, through unmodified boto3 and the AWS CLI.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_analytics
Each class starts its own server (port 0, private data dir).

Semantics checked (kda-sql.md section 12, decisions.md):
  - ARNs: streams arn:aws:kinesis:us-east-1:000000000000:stream/<name>, applications
    arn:aws:kinesisanalytics:us-east-1:000000000000:application/<name>; RoleARN is not checked.
  - CreateApplication -> READY, version 1; bad SQL -> CodeValidationException (line:column in the
    message); duplicate -> ResourceInUseException; unknown application -> ResourceNotFoundException;
    stale CurrentApplicationVersionId -> ConcurrentModificationException; each configuration change
    adds 1 to ApplicationVersionId.
  - A RUNNING application reads its source stream; ROWTIME = the record's ApproximateArrivalTimestamp;
    every output row becomes one JSON record (keys = the output stream's column names) in the
    destination stream. ROWTIME windows close when a row of a later window arrives, and also when the
    wall clock passes the window end (by up to about 1 s).
  - The seed pipeline's output is compared with `eddy sql run` (the oracle) over the same records in
    arrival order, and independently with a float32 re-computation in Python.

The seed test takes up to ~85 s: it waits for the minute its records arrived in to end.
"""

import collections
import datetime
import http.client
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest

from botocore.exceptions import ClientError

import harness

UTC = datetime.timezone.utc
ACCOUNT = '000000000000'
ROLE = 'arn:aws:iam::000000000000:role/any'
STATUS_TIMEOUT_S = 20.0
OUTPUT_TIMEOUT_S = 20.0
STORES = ['store_%d' % i for i in range(1, 6)]
CATEGORIES = ['garden', 'grocery', 'hardware', 'toys']

SEED_PREFIX = 'STORE_REVENUE_PER_MIN'
SEED_OUTPUT = 'DEST_SQL_STREAM_BY_STORE_ID'
SEED_SQL = (
    'CREATE OR REPLACE STREAM "DEST_SQL_STREAM_BY_STORE_ID" ("store_id" VARCHAR(16), '
    '"revenue" REAL, "timestamp" TIMESTAMP);\n'
    'CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DEST_SQL_STREAM_BY_STORE_ID"\n'
    'SELECT STREAM "store_id", SUM("sales") AS "revenue", ROWTIME AS "timestamp"\n'
    'FROM "STORE_REVENUE_PER_MIN_001"\n'
    'GROUP BY STEP("STORE_REVENUE_PER_MIN_001".ROWTIME BY INTERVAL \'60\' SECOND), "store_id";\n')


def _json_schema(columns):
    return {
        'RecordFormat': {'RecordFormatType': 'JSON',
                         'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
        'RecordEncoding': 'UTF-8',
        'RecordColumns': [{'Name': n, 'Mapping': '$.%s' % n, 'SqlType': t} for n, t in columns],
    }


SEED_SCHEMA = _json_schema([('store_id', 'VARCHAR(16)'), ('category', 'VARCHAR(16)'),
                            ('evnt_time', 'TIMESTAMP'), ('sales', 'REAL')])

# A per-row application (no windows): every source record whose category is not 'skip' gives one
# output row at once. Used where the test needs output without waiting for a window to close.
ROW_PREFIX = 'SRC'
ROW_OUTPUT = 'DEST'
ROW_SQL = (
    'CREATE OR REPLACE STREAM "DEST" ("id" INTEGER, "store" VARCHAR(16), "sales" DOUBLE);\n'
    'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
    'SELECT STREAM "id", UPPER("store_id") AS "store", "sales" FROM "SRC_001"\n'
    'WHERE "category" <> \'skip\';\n')
ROW_SCHEMA = _json_schema([('id', 'INTEGER'), ('store_id', 'VARCHAR(16)'),
                           ('category', 'VARCHAR(16)'), ('evnt_time', 'TIMESTAMP'),
                           ('sales', 'DOUBLE')])
ROW_SQL_V2 = (
    'CREATE OR REPLACE STREAM "DEST" ("id" INTEGER, "store" VARCHAR(16), "sales" DOUBLE);\n'
    'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
    'SELECT STREAM "id", LOWER("store_id") AS "store", "sales" * 2 AS "sales" FROM "SRC_001";\n')
BAD_SQL = ('CREATE OR REPLACE STREAM "DEST" ("id" INTEGER, "store" VARCHAR(16));\n'
           'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
           'SELECT STREAM "id", FROM WHERE "SRC_001";\n')
LINE_COL_RE = re.compile(r'\d+:\d+')


# ------------------------------------------------------------------------------------- helpers
def stream_arn(name):
    return 'arn:aws:kinesis:%s:%s:stream/%s' % (harness.REGION, ACCOUNT, name)


def app_arn(name):
    return 'arn:aws:kinesisanalytics:%s:%s:application/%s' % (harness.REGION, ACCOUNT, name)


def analytics_client(server, validate=True, read_timeout=60):
    import boto3
    from botocore.config import Config
    cfg = Config(retries={'total_max_attempts': 1}, read_timeout=read_timeout, connect_timeout=10,
                 parameter_validation=validate)
    return boto3.client('kinesisanalytics', endpoint_url=server.endpoint, region_name=harness.REGION,
                        aws_access_key_id=harness.ACCESS_KEY,
                        aws_secret_access_key=harness.SECRET_KEY, config=cfg)


def analytics_cli(server, *args, check=True, timeout=120, service='kinesisanalytics'):
    """`aws kinesisanalytics <args>` (or another `service`) against `server`, with the same
    isolated environment as harness.EddyServer.cli (which is fixed to the kinesis service).
    Returns parsed JSON output, or the CompletedProcess with check=False."""
    cmd = ['aws', '--endpoint-url', server.endpoint, '--region', harness.REGION, '--output', 'json',
           service] + [str(a) for a in args]
    env = dict(os.environ)
    env.update({
        'AWS_ACCESS_KEY_ID': harness.ACCESS_KEY,
        'AWS_SECRET_ACCESS_KEY': harness.SECRET_KEY,
        'AWS_DEFAULT_REGION': harness.REGION,
        'AWS_PAGER': '',
        'AWS_CONFIG_FILE': os.path.join(server.root, 'no-aws-config'),
        'AWS_SHARED_CREDENTIALS_FILE': os.path.join(server.root, 'no-aws-credentials'),
        'AWS_MAX_ATTEMPTS': '1',
        'AWS_RETRY_MODE': 'standard',
    })
    env.pop('AWS_SESSION_TOKEN', None)
    env.pop('AWS_PROFILE', None)
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    if not check:
        return p
    if p.returncode != 0:
        raise AssertionError('aws %s failed rc=%d\nstdout: %s\nstderr: %s'
                             % (' '.join(cmd[7:]), p.returncode, p.stdout.decode(errors='replace'),
                                p.stderr.decode(errors='replace')))
    out = p.stdout.decode().strip()
    return json.loads(out) if out else None


def kinesis_input(prefix, stream, schema):
    return {'NamePrefix': prefix,
            'KinesisStreamsInput': {'ResourceARN': stream_arn(stream), 'RoleARN': ROLE},
            'InputSchema': schema}


def kinesis_output(name, stream, fmt='JSON'):
    return {'Name': name,
            'KinesisStreamsOutput': {'ResourceARN': stream_arn(stream), 'RoleARN': ROLE},
            'DestinationSchema': {'RecordFormatType': fmt}}


def starting(position, input_id='1.1'):
    return [{'Id': input_id,
             'InputStartingPositionConfiguration': {'InputStartingPosition': position}}]


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def ms_of(dt):
    return int(round(dt.timestamp() * 1000))


def sql_timestamp(ms):
    d = datetime.datetime.fromtimestamp(ms // 1000, UTC)
    return '%s.%03d' % (d.strftime('%Y-%m-%d %H:%M:%S'), ms % 1000)


def canon(row):
    """A row as a hashable text; numbers compared by value (25 == 25.0)."""
    return json.dumps({k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                       for k, v in row.items()}, sort_keys=True)


def multiset(rows):
    return collections.Counter(canon(r) for r in rows)


def sales_event(rng, i, store=None, **extra):
    now = datetime.datetime.now(UTC).replace(tzinfo=None)
    ev = {'category': rng.choice(CATEGORIES),
          'store_id': store or STORES[i % len(STORES)],
          'evnt_time': (now - datetime.timedelta(milliseconds=rng.randint(0, 3000)))
          .isoformat(timespec='milliseconds'),
          'sales': round(rng.uniform(1, 500), 2)}
    ev.update(extra)
    return ev


def read_stream(kinesis, name):
    """All records of every shard of `name`, ordered by shard then sequence number.
    Each item: (shard index, record)."""
    out = []
    for idx, shard in enumerate(sorted(s['ShardId'] for s in harness.all_shards(kinesis, name))):
        recs, _ = harness.read_shard(kinesis, name, shard)
        out.extend((idx, r) for r in recs)
    return out


class AnalyticsTestCase(unittest.TestCase):
    label = 'analytics'

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label=cls.label).start()
        cls.connect()

    @classmethod
    def connect(cls):
        cls.k = cls.server.client()
        cls.ka = analytics_client(cls.server)
        cls.ka_raw = analytics_client(cls.server, validate=False)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    # ------------------------------------------------------------------------------- helpers
    def uniq(self, prefix=None):
        return harness.unique_name(prefix or self._testMethodName.replace('_', '-')[:30])

    def new_stream(self, shards=1, prefix=None):
        return harness.create_stream(self.k, self.uniq(prefix), shards)

    def assert_error(self, codes, fn, *args, **kw):
        """fn(...) must fail with HTTP 400 and an error code in `codes` (str or tuple), raised as
        the modeled exception class when there is one."""
        if isinstance(codes, str):
            codes = (codes,)
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        resp = cm.exception.response
        code = resp['Error']['Code']
        self.assertIn(code, codes, 'error %r: %s' % (code, resp['Error'].get('Message')))
        self.assertEqual(resp['ResponseMetadata']['HTTPStatusCode'], 400, 'HTTP status for %s' % code)
        modeled = getattr(self.ka.exceptions, code, None)
        if modeled is not None:
            self.assertIsInstance(cm.exception, modeled)
        return cm.exception

    def assert_recent(self, ts, slack_s=300):
        self.assertIsInstance(ts, datetime.datetime)
        self.assertIsNotNone(ts.tzinfo)
        self.assertLess(abs((datetime.datetime.now(UTC) - ts).total_seconds()), slack_s, ts)

    def put_events(self, stream, events):
        """PutRecords in batches of up to 100, partition key = store_id (so each store lives in one
        shard and its rows keep their order). Returns the acknowledged entries."""
        acked = []
        for i in range(0, len(events), 100):
            batch = events[i:i + 100]
            resp = self.k.put_records(StreamName=stream, Records=[
                {'Data': json.dumps(e).encode(), 'PartitionKey': e['store_id']} for e in batch])
            self.assertEqual(resp['FailedRecordCount'], 0, resp)
            acked.extend(resp['Records'])
        return acked

    def create_app(self, name, code, inputs=(), outputs=(), **kw):
        resp = self.ka.create_application(ApplicationName=name, ApplicationCode=code,
                                          Inputs=list(inputs), Outputs=list(outputs), **kw)
        return resp['ApplicationSummary']

    def create_row_app(self, src, dst=None, name=None):
        name = name or self.uniq('app')
        outputs = [kinesis_output(ROW_OUTPUT, dst)] if dst else []
        self.create_app(name, ROW_SQL, [kinesis_input(ROW_PREFIX, src, ROW_SCHEMA)], outputs)
        return name

    def describe(self, name):
        return self.ka.describe_application(ApplicationName=name)['ApplicationDetail']

    def delete_exact(self, name):
        """DeleteApplication with CreateTimestamp exactly as DescribeApplication sent it (epoch
        seconds with milliseconds), over raw JSON. boto3 and the AWS CLI truncate the timestamp
        to whole seconds (test_create_describe_list_delete checks that path); tests whose subject
        is not DeleteApplication itself use this."""
        target = 'KinesisAnalytics_20150814.'
        st, body, _ = self.server.json_call(target + 'DescribeApplication', {'ApplicationName': name})
        self.assertEqual(st, 200, body)
        ts = body['ApplicationDetail']['CreateTimestamp']
        st, body, _ = self.server.json_call(target + 'DeleteApplication',
                                            {'ApplicationName': name, 'CreateTimestamp': ts})
        self.assertEqual(st, 200, body)

    def version(self, name):
        return self.describe(name)['ApplicationVersionId']

    def wait_status(self, name, status, timeout=STATUS_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            s = self.describe(name)['ApplicationStatus']
            if not seen or seen[-1] != s:
                seen.append(s)
            if s == status:
                return
            if time.monotonic() > deadline:
                self.fail('application %s did not reach %s within %.0f s (statuses seen: %s)\n%s'
                          % (name, status, timeout, seen, self.server.log_tail(20)))
            time.sleep(0.1)

    def start_app(self, name, position='TRIM_HORIZON'):
        self.assertIsNotNone(self.ka.start_application(ApplicationName=name,
                                                       InputConfigurations=starting(position)))
        self.wait_status(name, 'RUNNING')

    def stop_app(self, name):
        self.ka.stop_application(ApplicationName=name)
        self.wait_status(name, 'READY')

    def output_rows(self, stream):
        rows = []
        for _, r in read_stream(self.k, stream):
            try:
                rows.append(json.loads(r['Data']))
            except ValueError:
                self.fail('output record is not JSON: %r' % r['Data'])
        return rows

    def wait_rows(self, stream, pred, timeout=OUTPUT_TIMEOUT_S, what='output'):
        """Polls the destination stream until pred(rows) is true; returns the rows."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.output_rows(stream)
            if pred(rows):
                return rows
            if time.monotonic() > deadline:
                self.fail('%s not seen in %s within %.0f s; it holds %d rows: %s\n%s'
                          % (what, stream, timeout, len(rows), rows[:20], self.server.log_tail(20)))
            time.sleep(0.2)

    def wait_ids(self, stream, ids, timeout=OUTPUT_TIMEOUT_S):
        ids = set(ids)
        return self.wait_rows(stream, lambda rows: ids <= {r.get('id') for r in rows}, timeout,
                              'rows with ids %s' % sorted(ids))


# ============================================================================ 1. seed pipeline
class TestSeedPipeline(AnalyticsTestCase):
    label = 'kda-seed'

    def run_oracle(self, records, no_flush):
        """`eddy sql run` over `records` (list of (arrival ms, data bytes)) in arrival order.
        Returns the output rows as parsed JSON."""
        d = tempfile.mkdtemp(prefix='oracle-', dir=self.server.root)
        sql_path, schema_path, in_path = (os.path.join(d, n) for n in ('app.sql', 'schema.json',
                                                                         'input.ndjson'))
        with open(sql_path, 'w') as f:
            f.write(SEED_SQL)
        with open(schema_path, 'w') as f:
            json.dump(SEED_SCHEMA, f)
        with open(in_path, 'w') as f:
            for at, data in sorted(records, key=lambda x: x[0]):  # stable: shard/sequence order kept
                obj = json.loads(data)
                self.assertNotIn('at', obj)
                obj['at'] = at
                f.write(json.dumps(obj) + '\n')
        cmd = [self.server.binary, 'sql', 'run', '--sql', sql_path, '--input-schema', schema_path,
               '--input', in_path, '--arrival-time-field', 'at', '--input-prefix', SEED_PREFIX,
               '--output', SEED_OUTPUT, '--errors', os.path.join(d, 'errors.ndjson')]
        if no_flush:
            cmd.append('--no-flush')
        p = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, 'oracle failed: %s\n%s' % (' '.join(cmd), p.stderr.decode()))
        with open(os.path.join(d, 'errors.ndjson')) as f:
            errs = [line for line in f if line.strip()]
        self.assertEqual(errs, [], 'the oracle put input rows into error_stream')
        return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]

    def test_seed_revenue_per_store_matches_sql_run(self):
        t_start = time.monotonic()
        src = self.new_stream(2, 'sales')
        dst = self.new_stream(1, 'revenue')
        rng = random.Random(1234)
        # Burst 1: 180 events over ~3 s (store_1, _2, _5 hash to shard 0, store_3, _4 to shard 1).
        events = []
        for b in range(9):
            batch = [sales_event(rng, len(events) + i) for i in range(20)]
            events.extend(batch)
            self.put_events(src, batch)
            time.sleep(0.33)

        name = self.uniq('seed')
        summary = self.create_app(name, SEED_SQL, [kinesis_input(SEED_PREFIX, src, SEED_SCHEMA)],
                                  [kinesis_output(SEED_OUTPUT, dst)])
        self.assertEqual(summary['ApplicationStatus'], 'READY')
        self.start_app(name, 'TRIM_HORIZON')

        # The minute burst 1 arrived in closes at `close_ms`. Just after it burst 2 arrives in the
        # next minute: it closes burst 1's window(s) by a later row (if the wall clock has not closed
        # them already; the result is the same), and its own window stays open for the rest of the
        # test (as `--no-flush` leaves it).
        burst1 = read_stream(self.k, src)
        self.assertEqual(len(burst1), len(events))
        self.assertEqual({idx for idx, _ in burst1}, {0, 1}, 'events should land in both shards')
        close_ms = (max(ms_of(r['ApproximateArrivalTimestamp']) for _, r in burst1) // 60000 + 1) * 60000
        wait_s = close_ms / 1000.0 + 0.05 - time.time()
        self.assertLess(wait_s, 61)
        if wait_s > 0:
            time.sleep(wait_s)
        batch = [sales_event(rng, len(events) + i) for i in range(20)]
        events.extend(batch)
        self.put_events(src, batch)

        # The oracle: the source records as stored, with their arrival times, in arrival order.
        stored = read_stream(self.k, src)
        self.assertEqual(len(stored), len(events))
        self.assertEqual(sorted(json.loads(r['Data'])['sales'] for _, r in stored),
                         sorted(e['sales'] for e in events))
        records = [(ms_of(r['ApproximateArrivalTimestamp']), r['Data']) for _, r in stored]
        last_ms = max(at for at, _ in records)
        open_end_ms = (last_ms // 60000 + 1) * 60000  # end of the window still open
        strict = self.run_oracle(records, no_flush=True)
        flushed = self.run_oracle(records, no_flush=False)
        self.assertTrue(strict, 'the oracle closed no window')
        self.assertEqual(multiset(strict) - multiset(flushed), collections.Counter(),
                         'oracle: --no-flush rows are not a subset of the flushed rows')

        # Independent check of the oracle: float32 SUM per (window end, store) in arrival order.
        sums = {}
        for at, data in sorted(records, key=lambda x: x[0]):
            ev = json.loads(data)
            key = (sql_timestamp((at // 60000 + 1) * 60000), ev['store_id'])
            sums[key] = f32(sums.get(key, 0.0) + f32(ev['sales']))
        self.assertEqual(len(flushed), len(sums), 'flushed oracle rows vs (window, store) groups')
        for row in flushed:
            key = (row['timestamp'], row['store_id'])
            self.assertIn(key, sums, row)
            self.assertEqual(f32(row['revenue']), sums[key], 'revenue of %s' % (key,))
        closed = {k for k in sums if k[0] < sql_timestamp(open_end_ms)}
        self.assertEqual({(r['timestamp'], r['store_id']) for r in strict}, closed)
        # Burst 1 (every batch of 20 cycles through all stores) fills at least one closed window
        # with every store.
        self.assertTrue(any({s for w, s in closed if w == window} == set(STORES)
                            for window in {k[0] for k in closed}), closed)

        # The application's output must become exactly the strict oracle, and never hold a row the
        # oracle does not have.
        want = multiset(strict)
        everything = multiset(flushed)
        deadline = time.monotonic() + OUTPUT_TIMEOUT_S
        while True:
            rows = self.output_rows(dst)
            got = multiset(rows)
            extra = got - everything
            self.assertEqual(extra, collections.Counter(),
                             'application wrote rows the oracle does not have.\napp: %s\noracle: %s'
                             % (sorted(got.elements()), sorted(everything.elements())))
            if got == want:
                break
            if time.monotonic() > deadline or time.time() * 1000 > open_end_ms + 500:
                self.fail('application output != `eddy sql run --no-flush` after %.0f s\n'
                          'missing: %s\nextra: %s\n%s'
                          % (OUTPUT_TIMEOUT_S, sorted((want - got).elements()),
                             sorted((got - want).elements()), self.server.log_tail(20)))
            time.sleep(0.25)
        for r in rows:
            self.assertEqual(set(r), {'store_id', 'revenue', 'timestamp'})
        # Nothing more arrives while the last window is open.
        time.sleep(1.5)
        if time.time() * 1000 < open_end_ms:
            self.assertEqual(multiset(self.output_rows(dst)), want, 'rows after the output settled')
        self.assertEqual(self.describe(name)['ApplicationStatus'], 'RUNNING')
        self.assertLess(time.monotonic() - t_start, 110)


# =========================================================================== 2. control plane
class TestControlPlane(AnalyticsTestCase):
    label = 'kda-control'

    def test_create_describe_list_delete(self):
        src = self.new_stream(1, 'src')
        dst = self.new_stream(1, 'dst')
        name = self.uniq('app')
        summary = self.create_app(name, ROW_SQL, [kinesis_input(ROW_PREFIX, src, ROW_SCHEMA)],
                                  [kinesis_output(ROW_OUTPUT, dst)],
                                  ApplicationDescription='row app')
        self.assertEqual(summary, {'ApplicationName': name, 'ApplicationARN': app_arn(name),
                                   'ApplicationStatus': 'READY'})

        d = self.describe(name)
        self.assertEqual(d['ApplicationName'], name)
        self.assertEqual(d['ApplicationARN'], app_arn(name))
        self.assertEqual(d['ApplicationStatus'], 'READY')
        self.assertEqual(d['ApplicationVersionId'], 1)
        self.assertEqual(d.get('ApplicationDescription'), 'row app')
        self.assertEqual(d['ApplicationCode'], ROW_SQL)
        self.assert_recent(d['CreateTimestamp'])
        self.assertEqual(len(d['InputDescriptions']), 1, d)
        inp = d['InputDescriptions'][0]
        self.assertEqual(inp['InputId'], '1.1')
        self.assertEqual(inp['NamePrefix'], ROW_PREFIX)
        self.assertEqual(inp['InAppStreamNames'], [ROW_PREFIX + '_001'])
        self.assertEqual(inp['KinesisStreamsInputDescription']['ResourceARN'], stream_arn(src))
        self.assertEqual(inp['KinesisStreamsInputDescription']['RoleARN'], ROLE)
        self.assertEqual(inp['InputSchema']['RecordFormat']['RecordFormatType'], 'JSON')
        self.assertEqual(inp['InputSchema']['RecordColumns'], ROW_SCHEMA['RecordColumns'])
        self.assertEqual(len(d['OutputDescriptions']), 1, d)
        out = d['OutputDescriptions'][0]
        self.assertEqual(out['OutputId'], '1.1')
        self.assertEqual(out['Name'], ROW_OUTPUT)
        self.assertEqual(out['KinesisStreamsOutputDescription']['ResourceARN'], stream_arn(dst))
        self.assertEqual(out['KinesisStreamsOutputDescription']['RoleARN'], ROLE)
        self.assertEqual(out['DestinationSchema'], {'RecordFormatType': 'JSON'})

        listed = {s['ApplicationName']: s for s in self.list_all()}
        self.assertEqual(listed.get(name), summary)

        # Duplicate name: ResourceInUseException, the original untouched.
        self.assert_error('ResourceInUseException', self.ka.create_application,
                          ApplicationName=name, ApplicationCode=ROW_SQL_V2,
                          Inputs=[kinesis_input(ROW_PREFIX, src, ROW_SCHEMA)])
        self.assertEqual(self.describe(name)['ApplicationCode'], ROW_SQL)
        self.assertEqual(self.version(name), 1)

        # DeleteApplication needs the CreateTimestamp DescribeApplication gave.
        wrong = d['CreateTimestamp'] - datetime.timedelta(hours=1)
        self.assert_error(('InvalidArgumentException', 'ResourceNotFoundException',
                           'ConcurrentModificationException'),
                          self.ka.delete_application, ApplicationName=name, CreateTimestamp=wrong)
        self.assertEqual(self.describe(name)['ApplicationName'], name)
        self.assertIsNotNone(self.ka.delete_application(ApplicationName=name,
                                                        CreateTimestamp=d['CreateTimestamp']))
        self.assert_error('ResourceNotFoundException', self.ka.describe_application,
                          ApplicationName=name)
        self.assertNotIn(name, {s['ApplicationName'] for s in self.list_all()})
        # The name is free again.
        self.create_app(name, ROW_SQL, [kinesis_input(ROW_PREFIX, src, ROW_SCHEMA)])
        self.assertEqual(self.version(name), 1)

    def test_create_minimal_no_inputs_no_outputs(self):
        name = self.uniq('bare')
        resp = self.ka.create_application(ApplicationName=name)
        self.assertEqual(resp['ApplicationSummary']['ApplicationStatus'], 'READY')
        d = self.describe(name)
        self.assertEqual(d['ApplicationVersionId'], 1)
        self.assertEqual(d.get('InputDescriptions', []), [])
        self.assertEqual(d.get('OutputDescriptions', []), [])

    def list_all(self, limit=None):
        names, start, pages = [], None, 0
        while True:
            kw = {}
            if limit:
                kw['Limit'] = limit
            if start:
                kw['ExclusiveStartApplicationName'] = start
            resp = self.ka.list_applications(**kw)
            page = resp['ApplicationSummaries']
            if limit:
                self.assertLessEqual(len(page), limit)
            names.extend(page)
            pages += 1
            self.assertLess(pages, 1000)
            if not resp['HasMoreApplications']:
                return names
            self.assertTrue(page, 'HasMoreApplications with an empty page')
            start = page[-1]['ApplicationName']

    def test_list_applications_pagination(self):
        base = self.uniq('list')
        mine = ['%s-%d' % (base, i) for i in range(5)]
        for n in mine:
            self.ka.create_application(ApplicationName=n)
        everything = self.list_all()
        names = [s['ApplicationName'] for s in everything]
        self.assertEqual(len(names), len(set(names)), names)
        self.assertTrue(set(mine) <= set(names))
        for s in everything:
            self.assertEqual(set(s), {'ApplicationName', 'ApplicationARN', 'ApplicationStatus'}, s)
            self.assertEqual(s['ApplicationARN'], app_arn(s['ApplicationName']))
        for limit in (1, 2, 3):
            paged = [s['ApplicationName'] for s in self.list_all(limit)]
            self.assertEqual(paged, names, 'Limit=%d pages' % limit)
        self.assertEqual(names, sorted(names), 'ListApplications order (by name)')
        # Starting after one of ours skips it and everything before it.
        resp = self.ka.list_applications(ExclusiveStartApplicationName=mine[1], Limit=2)
        self.assertEqual([s['ApplicationName'] for s in resp['ApplicationSummaries']],
                         names[names.index(mine[1]) + 1:][:2])
        resp = self.ka.list_applications(Limit=1)
        self.assertEqual(len(resp['ApplicationSummaries']), 1)
        self.assertTrue(resp['HasMoreApplications'])

    def test_bad_sql_is_code_validation_exception(self):
        src = self.new_stream(1, 'src')
        name = self.uniq('bad')
        e = self.assert_error('CodeValidationException', self.ka.create_application,
                              ApplicationName=name, ApplicationCode=BAD_SQL,
                              Inputs=[kinesis_input(ROW_PREFIX, src, ROW_SCHEMA)])
        self.assertRegex(e.response['Error']['Message'], LINE_COL_RE)
        self.assert_error('ResourceNotFoundException', self.ka.describe_application,
                          ApplicationName=name)
        # Code reading an in-application stream that no input provides.
        e = self.assert_error('CodeValidationException', self.ka.create_application,
                              ApplicationName=name, ApplicationCode=ROW_SQL.replace('SRC_001', 'NOPE_001'),
                              Inputs=[kinesis_input(ROW_PREFIX, src, ROW_SCHEMA)])
        self.assert_error('ResourceNotFoundException', self.ka.describe_application,
                          ApplicationName=name)
        # UpdateApplication with bad code: rejected, nothing changes.
        self.create_row_app(src, name=name)
        e = self.assert_error('CodeValidationException', self.ka.update_application,
                              ApplicationName=name, CurrentApplicationVersionId=1,
                              ApplicationUpdate={'ApplicationCodeUpdate': BAD_SQL})
        self.assertRegex(e.response['Error']['Message'], LINE_COL_RE)
        d = self.describe(name)
        self.assertEqual(d['ApplicationVersionId'], 1)
        self.assertEqual(d['ApplicationCode'], ROW_SQL)

    def test_update_application_code_and_versions(self):
        src = self.new_stream(1, 'src')
        name = self.create_row_app(src)
        self.assertIsNotNone(self.ka.update_application(
            ApplicationName=name, CurrentApplicationVersionId=1,
            ApplicationUpdate={'ApplicationCodeUpdate': ROW_SQL_V2}))
        d = self.describe(name)
        self.assertEqual(d['ApplicationVersionId'], 2)
        self.assertEqual(d['ApplicationCode'], ROW_SQL_V2)
        self.assertEqual(d['ApplicationStatus'], 'READY')
        if 'LastUpdateTimestamp' in d:
            self.assertGreaterEqual(d['LastUpdateTimestamp'], d['CreateTimestamp'])
        # Stale and future versions: ConcurrentModificationException, nothing changes.
        for stale in (1, 3):
            self.assert_error('ConcurrentModificationException', self.ka.update_application,
                              ApplicationName=name, CurrentApplicationVersionId=stale,
                              ApplicationUpdate={'ApplicationCodeUpdate': ROW_SQL})
        d = self.describe(name)
        self.assertEqual(d['ApplicationVersionId'], 2)
        self.assertEqual(d['ApplicationCode'], ROW_SQL_V2)
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=2,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ROW_SQL})
        self.assertEqual(self.version(name), 3)
        self.assertEqual(self.describe(name)['ApplicationCode'], ROW_SQL)

    def test_add_and_delete_output(self):
        src = self.new_stream(1, 'src')
        dst = self.new_stream(1, 'dst')
        dst2 = self.new_stream(1, 'dst2')
        name = self.create_row_app(src, dst)
        self.assertIsNotNone(self.ka.add_application_output(
            ApplicationName=name, CurrentApplicationVersionId=1,
            Output=kinesis_output(ROW_OUTPUT, dst2)))
        d = self.describe(name)
        self.assertEqual(d['ApplicationVersionId'], 2)
        outs = d['OutputDescriptions']
        self.assertEqual(len(outs), 2, outs)
        ids = [o['OutputId'] for o in outs]
        self.assertEqual(len(set(ids)), 2, ids)
        new = [o for o in outs if o['KinesisStreamsOutputDescription']['ResourceARN'] == stream_arn(dst2)]
        self.assertEqual(len(new), 1, outs)
        self.assertEqual(new[0]['Name'], ROW_OUTPUT)
        self.assertEqual(new[0]['DestinationSchema'], {'RecordFormatType': 'JSON'})

        self.assert_error('ConcurrentModificationException', self.ka.add_application_output,
                          ApplicationName=name, CurrentApplicationVersionId=1,
                          Output=kinesis_output(ROW_OUTPUT, dst2))
        self.assert_error('ConcurrentModificationException', self.ka.delete_application_output,
                          ApplicationName=name, CurrentApplicationVersionId=1,
                          OutputId=new[0]['OutputId'])
        self.assertEqual(self.version(name), 2)
        self.assert_error(('ResourceNotFoundException', 'InvalidArgumentException'),
                          self.ka.delete_application_output, ApplicationName=name,
                          CurrentApplicationVersionId=2, OutputId='9.9')
        self.assertEqual(self.version(name), 2)

        self.assertIsNotNone(self.ka.delete_application_output(
            ApplicationName=name, CurrentApplicationVersionId=2, OutputId=new[0]['OutputId']))
        d = self.describe(name)
        self.assertEqual(d['ApplicationVersionId'], 3)
        self.assertEqual([o['KinesisStreamsOutputDescription']['ResourceARN']
                          for o in d['OutputDescriptions']], [stream_arn(dst)])
        self.assertEqual(d['OutputDescriptions'][0]['OutputId'], '1.1')

    def test_a_preprocessor_this_server_cannot_run_is_refused_not_ignored(self):
        """This server runs no Lambda functions (no --lambda): an InputProcessingConfiguration is
        refused on every path that could store it, never kept and then skipped (the functions
        themselves run in test_analytics_preprocessing)."""
        src = self.new_stream(1, 'src')
        processing = {'InputLambdaProcessor': {
            'ResourceARN': 'arn:aws:lambda:us-east-1:000000000000:function:pre',
            'RoleARN': 'arn:aws:iam::000000000000:role/r'}}
        with_processing = dict(kinesis_input(ROW_PREFIX, src, ROW_SCHEMA),
                               InputProcessingConfiguration=processing)
        self.assert_error('InvalidArgumentException', self.ka.create_application,
                          ApplicationName=self.uniq('pre-create'), ApplicationCode=ROW_SQL,
                          Inputs=[with_processing])
        bare = self.uniq('pre-add')
        self.ka.create_application(ApplicationName=bare)
        self.assert_error('InvalidArgumentException', self.ka.add_application_input,
                          ApplicationName=bare, CurrentApplicationVersionId=1, Input=with_processing)
        self.assertEqual(self.describe(bare).get('InputDescriptions', []), [])
        self.assertEqual(self.version(bare), 1)

        name = self.create_row_app(src)
        self.assert_error('InvalidArgumentException', self.ka.add_application_input_processing_configuration,
                          ApplicationName=name, CurrentApplicationVersionId=1, InputId='1.1',
                          InputProcessingConfiguration=processing)
        self.assert_error('InvalidArgumentException', self.ka.update_application,
                          ApplicationName=name, CurrentApplicationVersionId=1,
                          ApplicationUpdate={'InputUpdates': [{
                              'InputId': '1.1',
                              'InputProcessingConfigurationUpdate': {'InputLambdaProcessorUpdate': {
                                  'ResourceARNUpdate': processing['InputLambdaProcessor']['ResourceARN']}}}]})
        self.assertEqual(self.version(name), 1)
        self.assertNotIn('InputProcessingConfigurationDescription', self.describe(name)['InputDescriptions'][0])

    def test_output_limit_is_three(self):
        src = self.new_stream(1, 'src')
        name = self.create_row_app(src)
        for i in range(3):
            self.ka.add_application_output(ApplicationName=name, CurrentApplicationVersionId=1 + i,
                                           Output=kinesis_output(ROW_OUTPUT, self.new_stream(1, 'o')))
        self.assertEqual(self.version(name), 4)
        self.assert_error('LimitExceededException', self.ka.add_application_output,
                          ApplicationName=name, CurrentApplicationVersionId=4,
                          Output=kinesis_output(ROW_OUTPUT, self.new_stream(1, 'o')))
        d = self.describe(name)
        self.assertEqual(d['ApplicationVersionId'], 4)
        self.assertEqual(len(d['OutputDescriptions']), 3)

    def test_start_stop_status_and_errors(self):
        src = self.new_stream(1, 'src')
        dst = self.new_stream(1, 'dst')
        name = self.create_row_app(src, dst)
        created = self.describe(name)
        self.start_app(name, 'TRIM_HORIZON')
        d = self.describe(name)
        self.assertEqual(d['ApplicationVersionId'], 1, 'StartApplication is no configuration change')
        self.assertEqual(d['CreateTimestamp'], created['CreateTimestamp'])
        listed = [s for s in self.ka.list_applications(
            ExclusiveStartApplicationName=name[:-1])['ApplicationSummaries']
            if s['ApplicationName'] == name]
        self.assertEqual(listed and listed[0]['ApplicationStatus'], 'RUNNING')
        self.assert_error('ResourceInUseException', self.ka.start_application,
                          ApplicationName=name, InputConfigurations=starting('NOW'))
        self.stop_app(name)
        self.assertEqual(self.version(name), 1, 'StopApplication is no configuration change')
        # Unknown input id and an invalid starting position are rejected; the app stays READY.
        self.assert_error(('InvalidArgumentException', 'ResourceNotFoundException',
                           'InvalidApplicationConfigurationException'),
                          self.ka.start_application, ApplicationName=name,
                          InputConfigurations=starting('TRIM_HORIZON', '9.9'))
        self.assert_error(('InvalidArgumentException', 'ValidationException'),
                          self.ka_raw.start_application, ApplicationName=name,
                          InputConfigurations=starting('YESTERDAY'))
        time.sleep(0.3)
        self.assertEqual(self.describe(name)['ApplicationStatus'], 'READY')
        # Start again after a stop.
        self.start_app(name, 'NOW')
        self.stop_app(name)

    def test_start_without_input_is_rejected(self):
        name = self.uniq('noinput')
        self.ka.create_application(ApplicationName=name)
        self.assert_error(('InvalidArgumentException', 'InvalidApplicationConfigurationException',
                           'ResourceNotFoundException'),
                          self.ka.start_application, ApplicationName=name,
                          InputConfigurations=starting('NOW'))
        self.assertEqual(self.describe(name)['ApplicationStatus'], 'READY')

    def test_unknown_application_is_resource_not_found(self):
        name = self.uniq('ghost')
        ts = datetime.datetime.now(UTC)
        calls = [
            (self.ka.describe_application, {'ApplicationName': name}),
            (self.ka.start_application, {'ApplicationName': name,
                                         'InputConfigurations': starting('NOW')}),
            (self.ka.stop_application, {'ApplicationName': name}),
            (self.ka.update_application, {'ApplicationName': name, 'CurrentApplicationVersionId': 1,
                                          'ApplicationUpdate': {'ApplicationCodeUpdate': ROW_SQL}}),
            (self.ka.delete_application, {'ApplicationName': name, 'CreateTimestamp': ts}),
            (self.ka.add_application_output, {'ApplicationName': name,
                                              'CurrentApplicationVersionId': 1,
                                              'Output': kinesis_output(ROW_OUTPUT, 'x')}),
            (self.ka.delete_application_output, {'ApplicationName': name,
                                                 'CurrentApplicationVersionId': 1,
                                                 'OutputId': '1.1'}),
        ]
        for fn, kw in calls:
            with self.subTest(op=fn.__name__):
                self.assert_error('ResourceNotFoundException', fn, **kw)

    def test_invalid_application_name(self):
        for bad in ('bad name!', 'x' * 129, 'a/b'):
            with self.subTest(name=bad):
                self.assert_error(('InvalidArgumentException', 'ValidationException'),
                                  self.ka_raw.create_application, ApplicationName=bad,
                                  ApplicationCode=ROW_SQL)

    def test_delete_then_describe_and_update_are_not_found(self):
        src = self.new_stream(1, 'src')
        name = self.create_row_app(src)
        ts = self.describe(name)['CreateTimestamp']
        self.ka.delete_application(ApplicationName=name, CreateTimestamp=ts)
        self.assert_error('ResourceNotFoundException', self.ka.delete_application,
                          ApplicationName=name, CreateTimestamp=ts)
        self.assert_error('ResourceNotFoundException', self.ka.update_application,
                          ApplicationName=name, CurrentApplicationVersionId=1,
                          ApplicationUpdate={'ApplicationCodeUpdate': ROW_SQL})

    # --------------------------------------------------------------------- DiscoverInputSchema
    def check_discovered(self, resp, events):
        schema = resp['InputSchema']
        self.assertEqual(schema['RecordFormat']['RecordFormatType'], 'JSON', schema)
        cols = {c['Name']: c for c in schema['RecordColumns']}
        self.assertEqual(set(cols), {'store_id', 'category', 'evnt_time', 'sales'}, schema)
        for n, c in cols.items():
            self.assertEqual(c.get('Mapping'), '$.%s' % n, c)
        for n in ('store_id', 'category'):
            m = re.fullmatch(r'VARCHAR\((\d+)\)', cols[n]['SqlType'])
            self.assertTrue(m, cols[n])
            self.assertGreaterEqual(int(m.group(1)), max(len(e[n]) for e in events), cols[n])
        self.assertRegex(cols['sales']['SqlType'],
                         r'^(REAL|DOUBLE|FLOAT|DECIMAL(\(\d+(,\s*\d+)?\))?|NUMERIC(\(\d+(,\s*\d+)?\))?)$')
        self.assertEqual(cols['evnt_time']['SqlType'], 'TIMESTAMP')
        raw = resp.get('RawInputRecords')
        self.assertTrue(raw, 'RawInputRecords missing or empty')
        sent = {json.dumps(e) for e in events}
        for r in raw:
            self.assertIn(r, sent)
        return schema

    def test_discover_input_schema(self):
        src = self.new_stream(2, 'sales')
        rng = random.Random(7)
        events = [sales_event(rng, i) for i in range(40)]
        self.put_events(src, events)
        resp = self.ka.discover_input_schema(
            ResourceARN=stream_arn(src), RoleARN=ROLE,
            InputStartingPositionConfiguration={'InputStartingPosition': 'TRIM_HORIZON'})
        schema = self.check_discovered(resp, events)
        if resp.get('ParsedInputRecords'):
            for row in resp['ParsedInputRecords']:
                self.assertEqual(len(row), 4, row)

        # The discovered schema is usable as it stands.
        dst = self.new_stream(1, 'dst')
        name = self.uniq('disc')
        code = ('CREATE OR REPLACE STREAM "DEST" ("store_id" VARCHAR(16), "sales" DOUBLE);\n'
                'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST" SELECT STREAM "store_id", '
                'CAST("sales" AS DOUBLE) AS "sales" FROM "SOURCE_SQL_STREAM_001";\n')
        self.create_app(name, code, [kinesis_input('SOURCE_SQL_STREAM', src, schema)],
                        [kinesis_output('DEST', dst)])
        self.start_app(name, 'TRIM_HORIZON')
        rows = self.wait_rows(dst, lambda rows: len(rows) >= len(events), what='%d rows' % len(events))
        got = sorted((r['store_id'], r['sales']) for r in rows)
        want = sorted((e['store_id'], e['sales']) for e in events)
        self.assertEqual([g[0] for g in got], [w[0] for w in want])
        for g, w in zip(got, want):  # the discovered type may be REAL or DECIMAL
            self.assertAlmostEqual(g[1], w[1], delta=0.001, msg='%s vs %s' % (g, w))

        # The AWS CLI.
        out = analytics_cli(self.server, 'discover-input-schema', '--resource-arn', stream_arn(src),
                            '--role-arn', ROLE, '--input-starting-position-configuration',
                            'InputStartingPosition=TRIM_HORIZON')
        self.check_discovered(out, events)
        listed = analytics_cli(self.server, 'list-applications', '--limit', '50')
        self.assertIn('HasMoreApplications', listed)

    def test_discover_input_schema_empty_stream(self):
        src = self.new_stream(1, 'empty')
        self.assert_error('UnableToDetectSchemaException', self.ka.discover_input_schema,
                          ResourceARN=stream_arn(src), RoleARN=ROLE,
                          InputStartingPositionConfiguration={'InputStartingPosition': 'TRIM_HORIZON'})
        p = analytics_cli(self.server, 'discover-input-schema', '--resource-arn', stream_arn(src),
                          '--role-arn', ROLE, '--input-starting-position-configuration',
                          'InputStartingPosition=TRIM_HORIZON', check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b'UnableToDetectSchemaException', p.stderr)

    def test_discover_input_schema_unknown_stream(self):
        self.assert_error(('ResourceNotFoundException', 'InvalidArgumentException',
                           'UnableToDetectSchemaException'),
                          self.ka.discover_input_schema,
                          ResourceARN=stream_arn(self.uniq('nostream')), RoleARN=ROLE,
                          InputStartingPositionConfiguration={'InputStartingPosition': 'TRIM_HORIZON'})


# ======================================================================= running applications
class TestRunningApplication(AnalyticsTestCase):
    label = 'kda-run'

    def id_events(self, rng, ids, **extra):
        return [sales_event(rng, i, id=i, **extra) for i in ids]

    def test_row_pipeline_output_format(self):
        src = self.new_stream(2, 'src')
        dst = self.new_stream(1, 'dst')
        name = self.create_row_app(src, dst)
        self.start_app(name, 'TRIM_HORIZON')
        rng = random.Random(3)
        events = self.id_events(rng, range(30))
        for e in events[::7]:
            e['category'] = 'skip'
        self.put_events(src, events)
        kept = [e for e in events if e['category'] != 'skip']
        rows = self.wait_ids(dst, [e['id'] for e in kept])
        time.sleep(0.5)
        rows = self.output_rows(dst)
        self.assertEqual(sorted(rows, key=lambda r: r['id']),
                         [{'id': e['id'], 'store': e['store_id'].upper(), 'sales': e['sales']}
                          for e in kept])

    def test_starting_positions(self):
        src = self.new_stream(2, 'src')
        dst = self.new_stream(1, 'dst')
        rng = random.Random(11)
        a = self.id_events(rng, range(0, 10))
        self.put_events(src, a)
        name = self.create_row_app(src, dst)

        # NOW: records already in the stream are not read.
        self.start_app(name, 'NOW')
        b = self.id_events(rng, range(10, 20))
        self.put_events(src, b)
        self.wait_ids(dst, [e['id'] for e in b])
        time.sleep(0.5)
        ids = sorted(r['id'] for r in self.output_rows(dst))
        self.assertEqual(ids, list(range(10, 20)), 'NOW must skip the records put before the start')

        # LAST_STOPPED_POINT: continues where the stop left off, records put while stopped included.
        self.stop_app(name)
        c = self.id_events(rng, range(20, 30))
        self.put_events(src, c)
        time.sleep(0.5)
        self.assertEqual(sorted(r['id'] for r in self.output_rows(dst)), list(range(10, 20)),
                         'a stopped application wrote output')
        self.start_app(name, 'LAST_STOPPED_POINT')
        self.wait_ids(dst, range(10, 30))
        time.sleep(0.5)
        ids = sorted(r['id'] for r in self.output_rows(dst))
        self.assertEqual(ids, list(range(10, 30)), 'LAST_STOPPED_POINT: each record exactly once')

        # TRIM_HORIZON: everything again.
        self.stop_app(name)
        self.start_app(name, 'TRIM_HORIZON')
        want = collections.Counter(list(range(0, 30)) + list(range(10, 30)))
        self.wait_rows(dst, lambda rows: collections.Counter(r['id'] for r in rows) == want,
                       what='ids 0..29 once more')

    def test_update_code_of_running_application(self):
        src = self.new_stream(1, 'src')
        dst = self.new_stream(1, 'dst')
        name = self.create_row_app(src, dst)
        self.start_app(name, 'TRIM_HORIZON')
        rng = random.Random(5)
        self.put_events(src, self.id_events(rng, range(5)))
        self.wait_ids(dst, range(5))
        self.ka.update_application(ApplicationName=name, CurrentApplicationVersionId=1,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ROW_SQL_V2})
        self.wait_status(name, 'RUNNING')
        self.assertEqual(self.version(name), 2)
        events = self.id_events(rng, range(100, 105))
        self.put_events(src, events)
        rows = self.wait_ids(dst, range(100, 105))
        for e in events:
            got = [r for r in rows if r['id'] == e['id']]
            self.assertEqual(got[-1], {'id': e['id'], 'store': e['store_id'].lower(),
                                       'sales': e['sales'] * 2}, 'row of the new code')

    def test_an_output_that_cannot_be_written_is_reported_and_resumed(self):
        """The destination stream deleted under a running application: DescribeApplication's
        EddyFault and /metrics say why it cannot make progress; once the stream is back, the rows
        held meanwhile are written, each once, and the fault clears."""
        src = self.new_stream(1, 'src')
        dst = self.new_stream(1, 'dst')
        name = self.create_row_app(src, dst)
        self.start_app(name, 'TRIM_HORIZON')
        rng = random.Random(21)
        self.put_events(src, self.id_events(rng, range(5)))
        self.wait_ids(dst, range(5))

        def detail():
            status, body, _ = self.server.json_call('KinesisAnalytics_20150814.DescribeApplication',
                                                    {'ApplicationName': name})
            self.assertEqual(status, 200, body)
            return body['ApplicationDetail']

        def failing_metric():
            conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=15)
            try:
                conn.request('GET', '/metrics')
                text = conn.getresponse().read().decode()
            finally:
                conn.close()
            for line in text.splitlines():
                if line.startswith('eddy_kinesisanalytics_failing{application="%s"}' % name):
                    return float(line.split()[-1])
            return None

        self.k.delete_stream(StreamName=dst)
        harness.wait_not_exists(self.k, dst)
        self.put_events(src, self.id_events(rng, range(5, 10)))
        deadline = time.monotonic() + OUTPUT_TIMEOUT_S
        while 'EddyFault' not in detail():  # bounded: the runner retries every second
            self.assertLess(time.monotonic(), deadline, 'no fault reported for a deleted destination')
            time.sleep(0.1)
        fault = detail()['EddyFault']
        self.assertIn(dst, fault['Reason'])
        self.assertEqual(detail()['ApplicationStatus'], 'RUNNING')
        self.assertEqual(failing_metric(), 1.0)

        harness.create_stream(self.k, dst, 1)
        self.wait_ids(dst, range(5, 10))
        deadline = time.monotonic() + OUTPUT_TIMEOUT_S
        while 'EddyFault' in detail():
            self.assertLess(time.monotonic(), deadline, 'the fault did not clear')
            time.sleep(0.1)
        self.assertEqual(failing_metric(), 0.0)
        time.sleep(0.5)
        self.assertEqual(sorted(r['id'] for r in self.output_rows(dst)), list(range(5, 10)))

    def test_delete_running_application(self):
        src = self.new_stream(1, 'src')
        dst = self.new_stream(1, 'dst')
        name = self.create_row_app(src, dst)
        self.start_app(name, 'TRIM_HORIZON')
        self.delete_exact(name)
        deadline = time.monotonic() + STATUS_TIMEOUT_S
        while True:
            try:
                self.describe(name)
            except ClientError as e:
                self.assertEqual(e.response['Error']['Code'], 'ResourceNotFoundException')
                break
            self.assertLess(time.monotonic(), deadline, 'application still described after delete')
            time.sleep(0.1)
        rng = random.Random(9)
        self.put_events(src, self.id_events(rng, range(5)))
        time.sleep(1.0)
        self.assertEqual(self.output_rows(dst), [], 'a deleted application wrote output')


# ================================================================== 3. restart persistence
class TestRestartPersistence(AnalyticsTestCase):
    label = 'kda-restart'

    def test_running_application_survives_restart(self):
        src = self.new_stream(2, 'src')
        dst = self.new_stream(1, 'dst')
        running = self.create_row_app(src, dst, name=self.uniq('running'))
        ready = self.create_row_app(src, name=self.uniq('ready'))
        self.ka.update_application(ApplicationName=ready, CurrentApplicationVersionId=1,
                                   ApplicationUpdate={'ApplicationCodeUpdate': ROW_SQL_V2})
        gone = self.create_row_app(src, name=self.uniq('gone'))
        self.delete_exact(gone)
        self.start_app(running, 'TRIM_HORIZON')
        rng = random.Random(21)
        self.put_events(src, [sales_event(rng, i, id=i) for i in range(20)])
        self.wait_ids(dst, range(20))
        before = {n: self.describe(n) for n in (running, ready)}

        rc = self.server.stop()  # SIGTERM
        self.assertIn(rc, (0, -signal.SIGTERM), 'eddy exit status after SIGTERM\n%s'
                      % self.server.log_tail())
        self.server.start()
        type(self).connect()

        d = self.describe(running)
        self.assertIn(d['ApplicationStatus'], ('STARTING', 'RUNNING'))
        self.wait_status(running, 'RUNNING')
        d = self.describe(running)
        for key in ('ApplicationARN', 'ApplicationVersionId', 'CreateTimestamp', 'ApplicationCode',
                    'OutputDescriptions'):
            self.assertEqual(d.get(key), before[running].get(key), key)

        def inputs(detail):  # the starting position may read LAST_STOPPED_POINT after a resume
            return [{k: v for k, v in i.items() if k != 'InputStartingPositionConfiguration'}
                    for i in detail['InputDescriptions']]
        self.assertEqual(inputs(d), inputs(before[running]))
        r = self.describe(ready)
        self.assertEqual(r['ApplicationStatus'], 'READY')
        self.assertEqual(r['ApplicationVersionId'], 2)
        self.assertEqual(r['ApplicationCode'], ROW_SQL_V2)
        self.assertEqual(r['CreateTimestamp'], before[ready]['CreateTimestamp'])
        self.assert_error('ResourceNotFoundException', self.ka.describe_application,
                          ApplicationName=gone)
        names = {s['ApplicationName'] for s in self.ka.list_applications(Limit=50)['ApplicationSummaries']}
        self.assertTrue({running, ready} <= names, names)
        self.assertNotIn(gone, names)

        # It keeps producing output for new records.
        self.put_events(src, [sales_event(rng, i, id=i) for i in range(100, 120)])
        rows = self.wait_ids(dst, list(range(20)) + list(range(100, 120)))
        time.sleep(0.5)
        counts = collections.Counter(r['id'] for r in self.output_rows(dst))
        self.assertEqual(set(counts), set(range(20)) | set(range(100, 120)))
        dup = sorted(i for i, n in counts.items() if n > 1)
        if rc == 0:
            # eddy handled SIGTERM and exited cleanly: it had the chance to save its read positions.
            self.assertEqual(dup, [], 'records processed twice across a clean restart (SIGTERM, rc 0)')
        elif dup:
            sys.stderr.write('note: eddy died of SIGTERM (no handler); %d records were processed '
                             'again after the restart (at-least-once): %s\n' % (len(dup), dup))

        # And it can still be stopped, and the stop survives a second restart.
        self.stop_app(running)
        self.server.restart()
        type(self).connect()
        self.assertEqual(self.describe(running)['ApplicationStatus'], 'READY')
        self.start_app(running, 'LAST_STOPPED_POINT')
        self.put_events(src, [sales_event(rng, i, id=i) for i in range(200, 205)])
        self.wait_ids(dst, range(200, 205))


if __name__ == '__main__':
    unittest.main()
