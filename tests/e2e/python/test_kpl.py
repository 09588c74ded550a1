"""KPL (Kinesis Producer Library) aggregated records end to end: a Kinesis record holding the magic
bytes F3 89 9A C2, a protobuf AggregatedRecord and the MD5 of it is unpacked into its user records
wherever eddy consumes a stream.

Producers: `eddy put --aggregate N` and the npm package aws-kinesis-agg (its `aggregate` function,
called by kpl_aggregate.mjs next to this file; `npm install` at the repository root provides it).
Consumers checked, each with exact data:
  - a SQL application (passthrough: one row per user record; a corrupt aggregate is one
    error_stream row, Record_Parse_Error, "KPL aggregated record cannot be unpacked: <reason>");
  - a delivery stream with a Kinesis source into a bucket directory, without and with a Lambda
    transform (one Lambda record per user record: unique recordIds, kinesisRecordMetadata's
    partitionKey and subsequenceNumber of the user record); a corrupt aggregate goes to the failure
    output as Kinesis.KPLDeaggregationFailed with the reason, the rest is delivered once;
  - `eddy tail` (the user records' lines; a corrupt aggregate reported on stderr);
  - the dashboard's records view (`subsequence` of each user record).
Corrupt aggregates: one with a byte of its MD5 trailer flipped, one whose protobuf is cut short (its
digest recomputed, so that it is the protobuf that fails).

The module's own decoder (kpl_unpack) is the oracle for what the producers stored.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_kpl   (about 30 s)
"""

import base64
import collections
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from test_analytics import analytics_client, kinesis_input, kinesis_output, starting
from test_firehose import ROLE, firehose_client, lines_of, s3_dest, stream_arn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
NODE_HELPER = os.path.join(HERE, 'kpl_aggregate.mjs')
KPL_MAGIC = b'\xf3\x89\x9a\xc2'
WAIT_S = 20.0
UNPACK_PREFIX = 'KPL aggregated record cannot be unpacked: '
MD5_REASON = 'the MD5 digest does not match its contents'
TRUNCATED_REASON = 'runs past the end'
DEAGG_CODE = 'Kinesis.KPLDeaggregationFailed'

# The Lambda of the delivery tests: each record becomes one JSON line with its recordId, its Kinesis
# metadata and its data; every invocation's records are logged next to the file.
LAMBDA = '''import base64, json, os
def lambda_handler(event, context):
    with open(os.path.join(os.path.dirname(__file__), 'invocations.jsonl'), 'a') as f:
        f.write(json.dumps({'source': event.get('sourceKinesisStreamArn'),
                            'records': [{'recordId': r['recordId'], 'data': r['data'],
                                         'meta': r.get('kinesisRecordMetadata')}
                                        for r in event['records']]}) + '\\n')
    out = []
    for r in event['records']:
        m = r.get('kinesisRecordMetadata') or {}
        line = json.dumps({'recordId': r['recordId'], 'pk': m.get('partitionKey'),
                           'sub': m.get('subsequenceNumber'), 'seq': m.get('sequenceNumber'),
                           'shard': m.get('shardId'), 'data': base64.b64decode(r['data']).decode()},
                          sort_keys=True) + '\\n'
        out.append({'recordId': r['recordId'], 'result': 'Ok',
                    'data': base64.b64encode(line.encode()).decode()})
    return {'records': out}
'''

# A passthrough application: one output row per input row (user record).
SQL = ('CREATE OR REPLACE STREAM "DEST" ("id" INTEGER, "k" VARCHAR(16), "src" VARCHAR(8));\n'
       'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
       'SELECT STREAM "id", "k", "src" FROM "SRC_001";\n')
SCHEMA = {
    'RecordFormat': {'RecordFormatType': 'JSON',
                     'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
    'RecordEncoding': 'UTF-8',
    'RecordColumns': [{'Name': 'id', 'Mapping': '$.id', 'SqlType': 'INTEGER'},
                      {'Name': 'k', 'Mapping': '$.k', 'SqlType': 'VARCHAR(16)'},
                      {'Name': 'src', 'Mapping': '$.src', 'SqlType': 'VARCHAR(8)'}],
}


# ------------------------------------------------------------------------- the oracle's decoder
def _varint(buf, i):
    value = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError('varint past the end')
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf):
    i = 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError('field %d past the end' % field)
            value, i = buf[i:i + n], i + n
        else:
            raise ValueError('wire type %d' % wire)
        yield field, value


def kpl_unpack(data):
    """[(partition key, data bytes)] of a KPL aggregate; None if `data` is not one (no magic);
    ValueError if it is a corrupt one."""
    if not data.startswith(KPL_MAGIC) or len(data) < len(KPL_MAGIC) + 16:
        return None
    body, digest = data[len(KPL_MAGIC):-16], data[-16:]
    if hashlib.md5(body).digest() != digest:
        raise ValueError('MD5 digest')
    keys, out = [], []
    for field, value in _fields(body):
        if field == 1:
            keys.append(value.decode())
        elif field == 3:
            rec = dict(_fields(value))
            out.append((keys[rec[1]], rec[3]))
    return out


def flip_md5(record):
    """The aggregate with a byte of its MD5 trailer flipped."""
    assert kpl_unpack(record), 'test bug: not a good aggregate'
    return record[:-5] + bytes([record[-5] ^ 0x40]) + record[-4:]


def truncate_protobuf(record):
    """The aggregate with the last 3 bytes of its protobuf cut off (its last user record then runs
    past the end) and the digest of what is left: only the protobuf is wrong."""
    body = record[len(KPL_MAGIC):-16][:-3]
    return KPL_MAGIC + body + hashlib.md5(body).digest()


def http_get(port, path, timeout=15):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class KplTest(unittest.TestCase):
    """One server (with the Lambda function `kplfn`) for the module; each test its own streams."""

    @classmethod
    def setUpClass(cls):
        if not shutil.which('node'):
            raise unittest.SkipTest('node is not installed')
        if not os.path.isdir(os.path.join(ROOT, 'node_modules', 'aws-kinesis-agg')):
            raise AssertionError('node_modules/aws-kinesis-agg is missing: run `npm install` in %s' % ROOT)
        cls.fn_dir = tempfile.mkdtemp(prefix='eddy-kpl-fn-')
        with open(os.path.join(cls.fn_dir, 'kplfn.py'), 'w') as f:
            f.write(LAMBDA)
        cls.server = harness.EddyServer(['--lambda', 'kplfn=python:' + os.path.join(cls.fn_dir, 'kplfn.py')],
                                        label='kpl').start()
        cls.k = cls.server.client()
        cls.fh = firehose_client(cls.server)
        cls.ka = analytics_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            shutil.rmtree(cls.fn_dir, ignore_errors=True)

    # ------------------------------------------------------------------------------ helpers
    def uniq(self, prefix):
        return harness.unique_name(prefix)

    def wait_for(self, fn, pred, what, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if pred(v):
                return v
            if time.monotonic() > deadline:
                self.fail('%s not seen within %.0f s; last value: %s\n%s'
                          % (what, timeout, repr(v)[:2000], self.server.log_tail(20)))
            time.sleep(0.2)

    def eddy(self, *args, stdin=b''):
        p = subprocess.run([self.server.binary] + list(args) + ['--endpoint', self.server.endpoint],
                           input=stdin, capture_output=True, timeout=60)
        return p

    def eddy_put(self, stream, users, n):
        """`eddy put --aggregate n --key-field k` of the user records (dicts with a "k")."""
        lines = b''.join(json.dumps(u).encode() + b'\n' for u in users)
        p = self.eddy('put', stream, '--key-field', 'k', '--aggregate', str(n), stdin=lines)
        self.assertEqual(p.returncode, 0, 'eddy put: %s' % p.stderr.decode(errors='replace'))
        self.assertEqual(json.loads(p.stdout), {'record_count': len(users), 'failed': 0})

    def npm_aggregate(self, groups, put=None):
        """The Kinesis records aws-kinesis-agg makes of `groups` (each a list of user-record dicts,
        their "k" the partition key): [(partition key, data bytes, put answer or None)]; with
        put=STREAM the helper also puts them (@aws-sdk/client-kinesis)."""
        stdin = ''.join(json.dumps([{'partitionKey': u['k'], 'data': json.dumps(u)} for u in g]) + '\n'
                        for g in groups).encode()
        cmd = ['node', NODE_HELPER] + (['--put', put, '--endpoint', self.server.endpoint] if put else [])
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=60, cwd=ROOT)
        self.assertEqual(p.returncode, 0, 'kpl_aggregate.mjs: %s' % p.stderr.decode(errors='replace'))
        out = [json.loads(line) for line in p.stdout.decode().splitlines()]
        self.assertEqual(len(out), len(groups))
        records = []
        for g, o in zip(groups, out):
            data = base64.b64decode(o['data'])
            self.assertEqual(kpl_unpack(data), [(u['k'], json.dumps(u).encode()) for u in g],
                             'aws-kinesis-agg made an aggregate the oracle reads otherwise')
            self.assertEqual(o['partitionKey'], g[0]['k'])
            records.append((o['partitionKey'], data, o if put else None))
        return records

    def put(self, stream, key, data):
        return self.k.put_record(StreamName=stream, PartitionKey=key, Data=data)

    def source_records(self, stream):
        """Every Kinesis record of `stream`: [(shard id, record)], shard by shard in order."""
        out = []
        for s in sorted(x['ShardId'] for x in harness.all_shards(self.k, stream)):
            recs, _ = harness.read_shard(self.k, stream, s)
            out.extend((s, r) for r in recs)
        return out

    @staticmethod
    def users(src, ids, keys):
        """User records {"id", "k", "src"}: ids from `ids`, keys cycling through `keys`."""
        return [{'id': i, 'k': keys[n % len(keys)], 'src': src} for n, i in enumerate(ids)]

    def mixed_input(self, stream):
        """Puts into `stream` (in this order): 23 records by `eddy put --aggregate 5`, 2 plain
        records, an aggregate with a flipped MD5 byte, 3 aggregates by aws-kinesis-agg (1, 2 and 9
        user records) put by the node helper, a truncated aggregate, 1 plain record, 10 records by
        `eddy put --aggregate 4`, an aggregate by aws-kinesis-agg put by boto3 with an explicit hash
        key into the last shard. Returns (good user records in put order, [(corrupt bytes, reason)])."""
        # 7 keys: the aggregates of `eddy put` (stored under their first line's key) start with
        # different keys and so spread over the shards.
        keys = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta']
        good = []
        cli1 = self.users('cli', range(0, 23), keys)
        self.eddy_put(stream, cli1, 5)
        good += cli1
        plain = self.users('plain', [100, 101, 102], ['p0', 'p1', 'p2'])
        for u in plain[:2]:
            self.put(stream, u['k'], json.dumps(u).encode())
        good += plain[:2]
        # The corrupt ones are made of aggregates aws-kinesis-agg made (not put as they are).
        spare = self.users('bad', range(900, 906), keys)
        (_, bad_md5_src, _), (_, bad_cut_src, _) = self.npm_aggregate([spare[:3], spare[3:]])
        bad_md5, bad_cut = flip_md5(bad_md5_src), truncate_protobuf(bad_cut_src)
        self.put(stream, 'bad-md5', bad_md5)
        npm = [self.users('npm', [200], keys[1:]), self.users('npm', [201, 202], keys[2:]),
               self.users('npm', range(203, 212), keys)]
        self.npm_aggregate(npm, put=stream)
        good += [u for g in npm for u in g]
        self.put(stream, 'bad-cut', bad_cut)
        self.put(stream, plain[2]['k'], json.dumps(plain[2]).encode())
        good.append(plain[2])
        cli2 = self.users('cli', range(300, 310), keys[::-1])
        self.eddy_put(stream, cli2, 4)
        good += cli2
        last = self.users('npm', range(400, 404), ['omega', 'psi'])
        ((pk, data, _),) = self.npm_aggregate([last])
        self.k.put_record(StreamName=stream, PartitionKey=pk, Data=data, ExplicitHashKey=str(2 ** 128 - 1))
        good += last
        return good, [(bad_md5, MD5_REASON), (bad_cut, TRUNCATED_REASON)]

    def expected_from_source(self, stream):
        """What a consumer of `stream` must see, from the oracle's reading of the stored records:
        (user records [(shard id, sequence number, subsequence or None, partition key, data)],
        corrupt records [(shard id, sequence number, data)])."""
        users, corrupt = [], []
        for shard, r in self.source_records(stream):
            try:
                unpacked = kpl_unpack(r['Data'])
            except ValueError:
                corrupt.append((shard, r['SequenceNumber'], r['Data']))
                continue
            if unpacked is None:
                users.append((shard, r['SequenceNumber'], None, r['PartitionKey'], r['Data']))
                continue
            for i, (pk, data) in enumerate(unpacked):
                users.append((shard, r['SequenceNumber'], i, pk, data))
        return users, corrupt

    def bucket_objects(self, bucket, folder):
        """{relative key: bytes} of the objects under <bucket>/<folder>."""
        root = os.path.join(self.server.data_dir, 'bucket', bucket)
        out = {}
        for d, _, files in os.walk(os.path.join(root, folder)):
            for f in files:
                path = os.path.join(d, f)
                try:
                    with open(path, 'rb') as fh:
                        out[os.path.relpath(path, root)] = fh.read()
                except FileNotFoundError:
                    pass
        return out

    def delivered_lines(self, bucket):
        lines = []
        for key, body in sorted(self.bucket_objects(bucket, 'out').items()):
            recs = lines_of(body)
            self.assertIsNotNone(recs, 'object %s does not end with a newline: %r' % (key, body[-80:]))
            lines.extend(recs)
        return lines

    def failed_rows(self, bucket):
        rows = []
        for key, body in sorted(self.bucket_objects(bucket, 'err').items()):
            self.assertTrue(key.startswith('err/processing-failed/'), key)
            rows.extend(json.loads(line) for line in body.decode().splitlines())
        return rows

    def assert_failures(self, rows, corrupt):
        """The failure output `rows` hold each corrupt record [(bytes, reason)] once, as
        Kinesis.KPLDeaggregationFailed with the reason."""
        self.assertEqual(sorted(base64.b64decode(r['rawData']) for r in rows), sorted(c for c, _ in corrupt))
        for data, reason in corrupt:
            (row,) = [r for r in rows if base64.b64decode(r['rawData']) == data]
            self.assertEqual(row['errorCode'], DEAGG_CODE, row)
            self.assertIn(reason, row['errorMessage'], row)

    def create_delivery(self, src, bucket, lambda_arn=None):
        name = self.uniq('kplds')
        dest = s3_dest(bucket, prefix='out/', error_prefix='err/!{firehose:error-output-type}/', interval=1)
        if lambda_arn:
            dest['ProcessingConfiguration'] = {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
                {'ParameterName': 'LambdaArn', 'ParameterValue': lambda_arn},
                {'ParameterName': 'BufferIntervalInSeconds', 'ParameterValue': '1'}]}]}
        self.fh.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': stream_arn(src), 'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration=dest)
        return name

    # -------------------------------------------------------------------------------- tests
    def test_producers_make_aggregates_the_oracle_reads(self):
        """The producers themselves: `eddy put --aggregate 7` stores ceil(n/7) Kinesis records of
        7 consecutive lines each, every line with its own key; aws-kinesis-agg's records are
        stored byte for byte."""
        stream = harness.create_stream(self.k, self.uniq('kplprod'), 2)
        users = self.users('cli', range(60), ['a', 'b', 'c', 'd', 'e', 'f'])
        self.eddy_put(stream, users, 7)
        stored = self.source_records(stream)
        self.assertEqual(len(stored), 9)
        groups = sorted((kpl_unpack(r['Data']) for _, r in stored), key=lambda g: json.loads(g[0][1])['id'])
        self.assertEqual(groups, [[(u['k'], json.dumps(u).encode()) for u in users[i:i + 7]]
                                  for i in range(0, 60, 7)])
        for _, r in stored:
            self.assertEqual(r['PartitionKey'], kpl_unpack(r['Data'])[0][0], 'the first line\'s key')
        npm_stream = harness.create_stream(self.k, self.uniq('kplnpm'), 1)
        made = self.npm_aggregate([self.users('npm', range(i, i + 3), ['x', 'y']) for i in (0, 3)], put=npm_stream)
        stored = self.source_records(npm_stream)
        self.assertEqual([r['Data'] for _, r in stored], [data for _, data, _ in made])
        self.assertEqual([r['SequenceNumber'] for _, r in stored], [o['sequenceNumber'] for _, _, o in made])

    def test_sql_application_reads_user_records_and_reports_corrupt_aggregates(self):
        src = harness.create_stream(self.k, self.uniq('kplsrc'), 2)
        out = harness.create_stream(self.k, self.uniq('kplout'), 1)
        err = harness.create_stream(self.k, self.uniq('kplerr'), 1)
        good, corrupt = self.mixed_input(src)
        app = self.uniq('kplapp')
        self.ka.create_application(
            ApplicationName=app, ApplicationCode=SQL, Inputs=[kinesis_input('SRC', src, SCHEMA)],
            Outputs=[kinesis_output('DEST', out), kinesis_output('error_stream', err)])
        self.ka.start_application(ApplicationName=app, InputConfigurations=starting('TRIM_HORIZON'))

        def rows(stream):
            return [json.loads(r['Data']) for _, r in self.source_records(stream)]
        got = self.wait_for(lambda: rows(out), lambda r: len(r) >= len(good), 'the %d output rows' % len(good))
        errors = self.wait_for(lambda: rows(err), lambda r: len(r) >= 2, 'the 2 error_stream rows')
        time.sleep(1.0)  # nothing more may arrive
        got, errors = rows(out), rows(err)
        canon = collections.Counter(json.dumps(r, sort_keys=True) for r in got)
        self.assertEqual(canon, collections.Counter(json.dumps(u, sort_keys=True) for u in good),
                         'output rows != the user records, each once')
        self.assertEqual(len(errors), 2, errors)
        by_data = {bytes.fromhex(e['DATA_ROW']): e for e in errors}
        self.assertEqual(sorted(by_data), sorted(c for c, _ in corrupt), 'DATA_ROW: the corrupt records in hex')
        for data, reason in corrupt:
            e = by_data[data]
            self.assertEqual(e['ERROR_NAME'], 'Record_Parse_Error', e)
            self.assertEqual(e['ERROR_LEVEL'], 'ERROR', e)
            self.assertTrue(e['MESSAGE'].startswith(UNPACK_PREFIX), e['MESSAGE'])
            self.assertIn(reason, e['MESSAGE'])
        # The dashboard's view of the application shows the same 2 error rows.
        status, body = http_get(self.server.port, '/dashboard/api/applications/' + app)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(len(json.loads(body)['errors']), 2)

    def test_delivery_without_lambda_delivers_user_records_once(self):
        src = harness.create_stream(self.k, self.uniq('kplsrc'), 2)
        bucket = self.uniq('kplbkt')
        self.create_delivery(src, bucket)
        good, corrupt = self.mixed_input(src)
        want = sorted(json.dumps(u).encode() for u in good)
        self.wait_for(lambda: self.delivered_lines(bucket), lambda l: set(want) <= set(l),
                      'the %d user records in the bucket' % len(want))
        self.wait_for(lambda: self.failed_rows(bucket), lambda r: len(r) >= 2, 'the 2 failed records')
        time.sleep(1.5)  # one more buffer interval: nothing more may arrive
        self.assertEqual(sorted(self.delivered_lines(bucket)), want, 'each user record exactly once')
        self.assert_failures(self.failed_rows(bucket), corrupt)

    def test_delivery_lambda_gets_one_record_per_user_record(self):
        src = harness.create_stream(self.k, self.uniq('kplsrc'), 2)
        bucket = self.uniq('kplbkt')
        self.create_delivery(src, bucket, 'arn:aws:lambda:us-east-1:000000000000:function:kplfn')
        good, corrupt = self.mixed_input(src)
        users, stored_corrupt = self.expected_from_source(src)
        self.assertEqual(sorted(d for _, _, _, _, d in users), sorted(json.dumps(u).encode() for u in good))
        self.assertEqual(sorted(d for _, _, d in stored_corrupt), sorted(c for c, _ in corrupt))
        self.wait_for(lambda: self.delivered_lines(bucket), lambda l: len(l) >= len(users),
                      'the %d transformed user records' % len(users))
        self.wait_for(lambda: self.failed_rows(bucket), lambda r: len(r) >= 2, 'the 2 failed records')
        time.sleep(1.5)
        lines = [json.loads(line) for line in self.delivered_lines(bucket)]
        ids = [x['recordId'] for x in lines]
        self.assertEqual(len(set(ids)), len(ids), 'recordIds are not unique: %s' % sorted(ids))
        # A plain record's subsequenceNumber is 0, as the Kinesis record's only one.
        want = sorted((s, seq, 0 if sub is None else sub, pk, d.decode()) for s, seq, sub, pk, d in users)
        self.assertEqual(sorted((x['shard'], x['seq'], x['sub'], x['pk'], x['data']) for x in lines), want)
        # The user records of an aggregate: subsequenceNumbers 0..n-1 under one sequence number.
        per_seq = collections.defaultdict(list)
        for x in lines:
            per_seq[x['seq']].append(x['sub'])
        self.assertEqual({len(v) for v in per_seq.values()} - {1}, {2, 3, 4, 5, 9}, 'aggregate sizes')
        for seq, subs in per_seq.items():
            self.assertEqual(sorted(subs), list(range(len(subs))), seq)
        self.assert_failures(self.failed_rows(bucket), corrupt)
        for row in self.failed_rows(bucket):
            self.assertEqual(row.get('lambdaArn'), 'arn:aws:lambda:us-east-1:000000000000:function:kplfn', row)
        # The function saw every good user record once and no corrupt aggregate.
        with open(os.path.join(self.fn_dir, 'invocations.jsonl')) as f:
            invocations = [json.loads(line) for line in f]
        seen = [r for inv in invocations if inv['source'] == stream_arn(src) for r in inv['records']]
        self.assertEqual(sorted(base64.b64decode(r['data']) for r in seen), sorted(d for _, _, _, _, d in users))
        self.assertEqual(sorted(r['recordId'] for r in seen), sorted(ids))

    def test_eddy_tail_prints_user_records(self):
        stream = harness.create_stream(self.k, self.uniq('kpltail'), 1)
        good, corrupt = self.mixed_input(stream)
        p = self.eddy('tail', stream, '--no-follow')
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors='replace'))
        # One shard: exactly the put order.
        self.assertEqual(p.stdout.decode().splitlines(), [json.dumps(u) for u in good])
        stored = {bytes(r['Data']): r['SequenceNumber'] for _, r in self.source_records(stream)}
        err = p.stderr.decode().splitlines()
        self.assertEqual(len(err), 2, err)
        for line, (data, reason) in zip(err, corrupt):
            self.assertIn(stored[data], line)
            self.assertIn('shardId-000000000000', line)
            self.assertIn(reason, line)

    def test_dashboard_records_show_subsequence(self):
        stream = harness.create_stream(self.k, self.uniq('kpldash'), 2)
        good, corrupt = self.mixed_input(stream)
        status, body = http_get(self.server.port, '/dashboard/api/streams/%s/records?limit=1000' % stream)
        self.assertEqual(status, 200, body[:300])
        rows = json.loads(body)['records']
        users, stored_corrupt = self.expected_from_source(stream)
        self.assertEqual(len(rows), len(users) + len(stored_corrupt))
        # Each Kinesis record is one (shard, offset): a good aggregate's rows are its user records in
        # order, subsequence 0..n-1; a plain record and a corrupt aggregate one row without one.
        groups = collections.OrderedDict()
        for r in rows:
            groups.setdefault((r['shard'], r['offset']), []).append(r)
        by_shard = collections.defaultdict(list)
        for (shard, offset), g in groups.items():
            by_shard[shard].append(offset)
        for shard, offsets in by_shard.items():
            self.assertEqual(offsets, sorted(offsets), 'rows of shard %d out of order' % shard)
        want_groups = collections.defaultdict(list)
        for shard, seq, sub, _, data in users:
            want_groups[(shard, seq)].append((sub, json.loads(data)))
        want = sorted(json.dumps(g, sort_keys=True) for g in want_groups.values())
        got, plain_or_corrupt = [], []
        for g in groups.values():
            if 'subsequence' in g[0]:
                got.append(json.dumps([(r.get('subsequence'), r['data']) for r in g], sort_keys=True))
                self.assertEqual([r.get('subsequence') for r in g], list(range(len(g))))
            else:
                self.assertEqual(len(g), 1, g)
                if isinstance(g[0]['data'], dict):
                    got.append(json.dumps([(None, g[0]['data'])], sort_keys=True))
                else:
                    plain_or_corrupt.append(g[0]['data'])
        self.assertEqual(sorted(got), want)
        # The corrupt aggregates, shown whole (as text): their first user records are 900 and 903.
        self.assertEqual(len(plain_or_corrupt), 2, plain_or_corrupt)
        self.assertEqual(sorted(json.loads(text[text.index('{'):text.index('}') + 1])['id'] for text in plain_or_corrupt),
                         [900, 903], plain_or_corrupt)
        # limit=N: the newest N rows, user records counted one by one.
        status, body = http_get(self.server.port, '/dashboard/api/streams/%s/records?limit=3' % stream)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(json.loads(body)['records'], rows[-3:])


if __name__ == '__main__':
    unittest.main()
