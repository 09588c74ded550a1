"""Issue 21, "Safe under hostile input": names are data, never paths.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_hostile_names
Every test starts its own server (port 0, private data dir under a private temp root), so the
fixed hostile names never meet across tests.

What is checked:
  - Kinesis streams named ".", "..", ".hidden", "a..b" (all valid under AWS's [a-zA-Z0-9_.-]+) are
    streams like any other: created, put to, read back, described, listed, still there with their
    records after a restart; deleting one removes only it (a sibling stream keeps its records,
    also after a restart).
  - Delivery streams named ".." and "." are created, described and deleted without touching any
    other stream's data (checked again after a restart).
  - A Kinesis Analytics application named ".." is created and deleted without touching the other
    streams or another application (checked again after a restart).
  - BucketARN arn:aws:s3:::.. / . / .hidden, and a Prefix or ErrorOutputPrefix that climbs out of
    the bucket ("../escape/", "a/../../b/", "/abs/", ...) are InvalidArgumentException, and nothing
    appears outside the data directory or beside the buckets.
  - Dynamic partitioning with hostile partition key values ("..", ".", 300 characters, "a/../b"):
    the good records land under p/<key>/, the bad ones become error lines under err/, nothing is
    written outside the bucket directory, and the stream keeps delivering afterwards.
"""

import base64
import json
import os
import time
import unittest

from botocore.exceptions import ClientError

import harness
from test_analytics import analytics_client
from test_firehose import firehose_client

ROLE = 'arn:aws:iam::000000000000:role/any'
HOSTILE = ['.', '..', '.hidden', 'a..b']
WAIT_S = 20.0
DELIVERY_WAIT_S = 25.0
SIMPLE_SQL = ('CREATE OR REPLACE STREAM "DEST" ("id" INTEGER);\n'
              'CREATE OR REPLACE PUMP "P" AS INSERT INTO "DEST"\n'
              'SELECT STREAM "id" FROM "SRC_001";\n')
SIMPLE_SCHEMA = {
    'RecordFormat': {'RecordFormatType': 'JSON',
                     'MappingParameters': {'JSONMappingParameters': {'RecordRowPath': '$'}}},
    'RecordEncoding': 'UTF-8',
    'RecordColumns': [{'Name': 'id', 'Mapping': '$.id', 'SqlType': 'INTEGER'}],
}


def stream_arn(name):
    return 'arn:aws:kinesis:%s:000000000000:stream/%s' % (harness.REGION, name)


def payloads(name, n=3):
    """Records that say which stream they were put into (so records moved between streams show)."""
    return [('rec %d of stream %r' % (i, name)).encode() for i in range(n)]


def s3_dest(bucket, prefix=None, error_prefix=None, interval=60, size=1, **extra):
    d = {'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + bucket,
         'BufferingHints': {'IntervalInSeconds': interval, 'SizeInMBs': size}}
    if prefix is not None:
        d['Prefix'] = prefix
    if error_prefix is not None:
        d['ErrorOutputPrefix'] = error_prefix
    d.update(extra)
    return d


def entries(path):
    try:
        return set(os.listdir(path))
    except FileNotFoundError:
        return set()


def files_under(root):
    """{relative path with '/': bytes} of every file under root."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                with open(p, 'rb') as fh:
                    out[os.path.relpath(p, root).replace(os.sep, '/')] = fh.read()
            except (FileNotFoundError, IsADirectoryError):
                pass
    return out


class HostileNamesCase(unittest.TestCase):
    """One server per test: the hostile names are fixed, and a test that breaks the data directory
    must not break the next test."""

    def setUp(self):
        self.server = harness.EddyServer(label='names')
        self.addCleanup(self.server.close)
        self.server.start()
        self.connect()

    def connect(self):
        self.k = self.server.client(validate=False)
        self.fh = firehose_client(self.server, validate=False)
        self.ka = analytics_client(self.server, validate=False)

    def restart(self):
        """stop + start on the same data dir (fails with the log if the server died on its own)."""
        self.server.restart()
        self.connect()

    # ------------------------------------------------------------------------------ streams
    def create_stream(self, name):
        self.k.create_stream(StreamName=name, ShardCount=1)
        harness.wait_exists(self.k, name, attempts=100)

    def put(self, name, datas):
        for d in datas:
            self.k.put_record(StreamName=name, Data=d, PartitionKey='pk')

    def read_all(self, name):
        out = []
        for shard in sorted(s['ShardId'] for s in harness.all_shards(self.k, name)):
            recs, _ = harness.read_shard(self.k, name, shard, max_calls=50)
            out.extend(r['Data'] for r in recs)
        return out

    def listed(self):
        names, kw = [], {}
        for _ in range(50):
            resp = self.k.list_streams(**kw)
            names.extend(resp['StreamNames'])
            if not resp.get('HasMoreStreams'):
                return names
            kw = {'ExclusiveStartStreamName': names[-1]}
        self.fail('ListStreams never stopped saying HasMoreStreams')

    def assert_stream_holds(self, name, want):
        summary = self.k.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']
        self.assertEqual(summary['StreamName'], name)
        self.assertEqual(summary['StreamARN'], stream_arn(name))
        self.assertEqual(summary['StreamStatus'], 'ACTIVE')
        self.assertEqual(self.read_all(name), want, 'records of stream %r' % name)

    def make_streams(self, names):
        """Creates each stream and puts its own records; returns {name: records}."""
        want = {}
        for name in names:
            self.create_stream(name)
            want[name] = payloads(name)
            self.put(name, want[name])
        return want

    # ------------------------------------------------------------------------ delivery streams
    def wait_deleted(self, describe, what):
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                describe()
            except ClientError as e:
                self.assertEqual(e.response['Error']['Code'], 'ResourceNotFoundException', what)
                return
            if time.monotonic() > deadline:
                self.fail('%s still described %.0f s after its deletion' % (what, WAIT_S))
            time.sleep(0.2)

    def wait_active(self, name):
        deadline = time.monotonic() + WAIT_S
        while True:
            d = self.fh.describe_delivery_stream(DeliveryStreamName=name)['DeliveryStreamDescription']
            if d['DeliveryStreamStatus'] == 'ACTIVE':
                return d
            if time.monotonic() > deadline:
                self.fail('delivery stream %r not ACTIVE within %.0f s: %s' % (name, WAIT_S, d))
            time.sleep(0.1)

    def bucket_dir(self, bucket=None):
        root = os.path.join(self.server.data_dir, 'bucket')
        return os.path.join(root, bucket) if bucket else root


# ================================================================================ Kinesis
class TestDotStreamNames(HostileNamesCase):

    def test_dot_named_streams_are_ordinary_streams_across_a_restart(self):
        want = self.make_streams(['sibling'])
        for name in HOSTILE:
            with self.subTest('create, put, read', stream=name):
                want.update(self.make_streams([name]))
                self.assert_stream_holds(name, want[name])
        with self.subTest('listed'):
            self.assertEqual(sorted(self.listed()), sorted(want))
        for name, recs in want.items():
            with self.subTest('after all were created', stream=name):
                self.assert_stream_holds(name, recs)

        self.restart()
        with self.subTest('listed after a restart'):
            self.assertEqual(sorted(self.listed()), sorted(want))
        for name, recs in want.items():
            with self.subTest('after a restart', stream=name):
                self.assert_stream_holds(name, recs)
        # Still writable after the restart, each into its own stream.
        for name in want:
            with self.subTest('put after a restart', stream=name):
                more = [b'after restart: ' + name.encode()]
                self.put(name, more)
                want[name] = want[name] + more
        for name, recs in want.items():
            with self.subTest('read after a restart and a put', stream=name):
                self.assert_stream_holds(name, recs)

    def test_deleting_a_dot_named_stream_removes_only_it(self):
        want = self.make_streams(['sibling'] + HOSTILE)
        for name in HOSTILE:
            self.k.delete_stream(StreamName=name)
            harness.wait_not_exists(self.k, name, attempts=100)
            del want[name]
            with self.subTest('the others after deleting', deleted=name):
                self.assertEqual(sorted(self.listed()), sorted(want))
                for other, recs in want.items():
                    self.assert_stream_holds(other, recs)
        self.restart()
        self.assertEqual(self.listed(), ['sibling'])
        self.assert_stream_holds('sibling', want['sibling'])
        for name in HOSTILE:
            with self.subTest('deleted stays deleted after a restart', stream=name):
                with self.assertRaises(ClientError) as cm:
                    self.k.describe_stream_summary(StreamName=name)
                self.assertEqual(cm.exception.response['Error']['Code'], 'ResourceNotFoundException')
        # A deleted name can be used again, empty.
        self.make_streams(['..'])
        self.assert_stream_holds('..', payloads('..'))
        self.assert_stream_holds('sibling', want['sibling'])


# ====================================================================== delivery streams
class TestDotDeliveryStreamNames(HostileNamesCase):

    def test_dot_named_delivery_streams_leave_other_data_alone(self):
        want = self.make_streams(['keep'])
        # A control delivery stream with one delivered object.
        self.fh.create_delivery_stream(DeliveryStreamName='control', DeliveryStreamType='DirectPut',
                                       ExtendedS3DestinationConfiguration=s3_dest('control-bucket',
                                                                                  prefix='c/', interval=1))
        self.wait_active('control')
        self.fh.put_record(DeliveryStreamName='control', Record={'Data': b'control record'})
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while b'control record' not in b''.join(files_under(self.bucket_dir('control-bucket')).values()):
            if time.monotonic() > deadline:
                self.fail('the control record was not delivered within %.0f s\n%s'
                          % (DELIVERY_WAIT_S, self.server.log_tail(20)))
            time.sleep(0.2)
        control_objects = files_under(self.bucket_dir('control-bucket'))

        def others_intact(when):
            with self.subTest('Kinesis stream intact', when=when):
                self.assertIn('keep', self.listed())
                self.assert_stream_holds('keep', want['keep'])
            with self.subTest('control delivery stream intact', when=when):
                d = self.fh.describe_delivery_stream(DeliveryStreamName='control')
                self.assertEqual(d['DeliveryStreamDescription']['DeliveryStreamName'], 'control')
                self.assertEqual(files_under(self.bucket_dir('control-bucket')), control_objects)

        for name in ['..', '.']:
            with self.subTest('create and describe', delivery_stream=name):
                resp = self.fh.create_delivery_stream(
                    DeliveryStreamName=name, DeliveryStreamType='DirectPut',
                    ExtendedS3DestinationConfiguration=s3_dest('some-bucket'))
                self.assertEqual(resp['DeliveryStreamARN'],
                                 'arn:aws:firehose:us-east-1:000000000000:deliverystream/' + name)
                d = self.wait_active(name)
                self.assertEqual(d['DeliveryStreamName'], name)
                self.assertIn(name, self.fh.list_delivery_streams(Limit=100)['DeliveryStreamNames'])
            others_intact('after creating %r' % name)
            with self.subTest('delete', delivery_stream=name):
                self.fh.delete_delivery_stream(DeliveryStreamName=name)
                self.wait_deleted(lambda: self.fh.describe_delivery_stream(DeliveryStreamName=name),
                                  'delivery stream %r' % name)
                self.assertNotIn(name, self.fh.list_delivery_streams(Limit=100)['DeliveryStreamNames'])
            others_intact('after deleting %r' % name)

        self.restart()
        others_intact('after a restart')
        self.assertEqual(self.fh.list_delivery_streams(Limit=100)['DeliveryStreamNames'], ['control'])


# ========================================================================= applications
class TestDotApplicationName(HostileNamesCase):

    def delete_app(self, name):
        """DeleteApplication with CreateTimestamp exactly as described (raw JSON; boto3 truncates)."""
        target = 'KinesisAnalytics_20150814.'
        st, body, _ = self.server.json_call(target + 'DescribeApplication', {'ApplicationName': name})
        self.assertEqual(st, 200, body)
        st, body, _ = self.server.json_call(target + 'DeleteApplication', {
            'ApplicationName': name, 'CreateTimestamp': body['ApplicationDetail']['CreateTimestamp']})
        self.assertEqual(st, 200, body)

    def app_names(self):
        return sorted(a['ApplicationName']
                      for a in self.ka.list_applications(Limit=50)['ApplicationSummaries'])

    def test_dot_dot_application_leaves_other_data_alone(self):
        want = self.make_streams(['src', 'dst'])
        inputs = [{'NamePrefix': 'SRC',
                   'KinesisStreamsInput': {'ResourceARN': stream_arn('src'), 'RoleARN': ROLE},
                   'InputSchema': SIMPLE_SCHEMA}]
        self.ka.create_application(ApplicationName='other', ApplicationCode=SIMPLE_SQL, Inputs=inputs)

        def others_intact(when):
            with self.subTest('streams intact', when=when):
                self.assertEqual(sorted(self.listed()), ['dst', 'src'])
                for name, recs in want.items():
                    self.assert_stream_holds(name, recs)
            with self.subTest('other application intact', when=when):
                d = self.ka.describe_application(ApplicationName='other')['ApplicationDetail']
                self.assertEqual(d['ApplicationName'], 'other')
                self.assertEqual(d['ApplicationCode'], SIMPLE_SQL)

        resp = self.ka.create_application(ApplicationName='..', ApplicationCode=SIMPLE_SQL,
                                          Inputs=inputs)
        self.assertEqual(resp['ApplicationSummary']['ApplicationName'], '..')
        d = self.ka.describe_application(ApplicationName='..')['ApplicationDetail']
        self.assertEqual(d['ApplicationName'], '..')
        self.assertEqual(self.app_names(), ['..', 'other'])
        others_intact('after creating ..')

        self.delete_app('..')
        self.wait_deleted(lambda: self.ka.describe_application(ApplicationName='..'), 'application ..')
        self.assertEqual(self.app_names(), ['other'])
        others_intact('after deleting ..')

        self.restart()
        self.assertEqual(self.app_names(), ['other'])
        others_intact('after a restart')


# ============================================================== bucket ARNs and prefixes
class TestBucketAndPrefixTraversal(HostileNamesCase):

    def snapshot(self):
        """Entries of the temp root (the data dir's parent, minus the server's logs), of the data
        dir and of the bucket directory."""
        root = {e for e in entries(self.server.root) if not e.endswith('.log')}
        return root, entries(self.server.data_dir), entries(self.bucket_dir())

    def test_bucket_arns_and_prefixes_that_leave_the_bucket_are_refused(self):
        # A control delivery so that the server's own folders exist before the snapshot.
        self.fh.create_delivery_stream(DeliveryStreamName='control',
                                       ExtendedS3DestinationConfiguration=s3_dest('ctl', interval=1))
        self.wait_active('control')
        self.fh.put_record(DeliveryStreamName='control', Record={'Data': b'c'})
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while not files_under(self.bucket_dir('ctl')):
            if time.monotonic() > deadline:
                self.fail('control record not delivered\n' + self.server.log_tail(20))
            time.sleep(0.2)
        root0, data0, bucket0 = self.snapshot()

        cases = [
            ('BucketARN ..', s3_dest('..', interval=1)),
            ('BucketARN .', s3_dest('.', interval=1)),
            ('BucketARN .hidden', s3_dest('.hidden', interval=1)),
            ('Prefix ../escape/', s3_dest('some-bucket', prefix='../escape/', interval=1)),
            ('Prefix a/../../b/', s3_dest('some-bucket', prefix='a/../../b/', interval=1)),
            ('Prefix /abs/', s3_dest('some-bucket', prefix='/abs/', interval=1)),
            ('Prefix ../../../escape/ (out of the data dir)',
             s3_dest('some-bucket', prefix='../../../escape/', interval=1)),
            ('Prefix ../ with expressions',
             s3_dest('some-bucket', prefix='../escape/!{timestamp:yyyy}/',
                     error_prefix='err/!{firehose:error-output-type}/', interval=1)),
            ('ErrorOutputPrefix ../',
             s3_dest('some-bucket', prefix='ok/!{timestamp:yyyy}/',
                     error_prefix='../err/!{firehose:error-output-type}/', interval=1)),
        ]
        accepted = []
        for i, (what, dest) in enumerate(cases):
            name = 'bad-%d' % i
            with self.subTest(what):
                try:
                    self.fh.create_delivery_stream(DeliveryStreamName=name,
                                                   ExtendedS3DestinationConfiguration=dest)
                except ClientError as e:
                    self.assertEqual(e.response['Error']['Code'], 'InvalidArgumentException',
                                     e.response['Error'].get('Message'))
                    self.assertEqual(e.response['ResponseMetadata']['HTTPStatusCode'], 400)
                    with self.assertRaises(ClientError):
                        self.fh.describe_delivery_stream(DeliveryStreamName=name)
                    continue
                accepted.append(name)
                self.fail('%s was accepted (delivery stream %s created)' % (what, name))
        # Whatever was accepted gets a record, so that a path it builds would be written.
        for name in accepted:
            try:
                self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'escape attempt'})
            except ClientError:
                pass
        if accepted:
            time.sleep(4)
        root1, data1, bucket1 = self.snapshot()
        self.assertEqual(root1, root0, 'entries appeared beside the data directory')
        self.assertEqual(data1 - data0, set(), 'entries appeared in the data directory')
        self.assertLessEqual(bucket1 - bucket0, {'some-bucket', '.eddy-staging'},
                             'entries appeared beside the buckets')
        self.assertTrue(self.server.alive())


# ================================================================== dynamic partitioning
class TestHostilePartitionKeys(HostileNamesCase):

    def test_hostile_partition_keys_become_error_records(self):
        bucket = 'dp-bucket'
        self.fh.create_delivery_stream(DeliveryStreamName='dp', ExtendedS3DestinationConfiguration={
            'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + bucket,
            'Prefix': 'p/!{partitionKeyFromQuery:k}/',
            'ErrorOutputPrefix': 'err/!{firehose:error-output-type}/',
            'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 1},
            'DynamicPartitioningConfiguration': {'Enabled': True},
            'ProcessingConfiguration': {'Enabled': True, 'Processors': [
                {'Type': 'MetadataExtraction', 'Parameters': [
                    {'ParameterName': 'MetadataExtractionQuery', 'ParameterValue': '{k: .k}'},
                    {'ParameterName': 'JsonParsingEngine', 'ParameterValue': 'JQ-1.6'}]},
                {'Type': 'AppendDelimiterToRecord'}]}})
        self.wait_active('dp')
        os.makedirs(self.bucket_dir(), exist_ok=True)
        root0 = {e for e in entries(self.server.root) if not e.endswith('.log')}
        data0 = entries(self.server.data_dir)
        bucket0 = entries(self.bucket_dir())

        def rec(k):
            return json.dumps({'k': k, 'len': len(k)}).encode()

        good = {'ok1': rec('ok1'), 'ok2': rec('ok2')}
        bad = [rec(k) for k in ('..', '.', 'x' * 300, 'a/../b')]
        self.fh.put_record(DeliveryStreamName='dp', Record={'Data': good['ok1']})
        for b in bad:
            self.fh.put_record(DeliveryStreamName='dp', Record={'Data': b})
        self.fh.put_record(DeliveryStreamName='dp', Record={'Data': good['ok2']})

        def split():
            """(records under p/<k>/ by k, error lines, other files). The Prefix has no
            timestamp expression, so keys are p/<k>/yyyy/MM/dd/HH/<object>."""
            by_key, errors, other = {}, [], []
            for key, body in files_under(self.bucket_dir(bucket)).items():
                parts = key.split('/')
                if parts[0] == 'p' and len(parts) == 7:
                    by_key.setdefault(parts[1], []).extend(body.splitlines())
                elif parts[0] == 'err':
                    for line in body.splitlines():
                        try:
                            errors.append(json.loads(line))
                        except ValueError:
                            other.append((key, line[:200]))
                else:
                    other.append((key, body[:200]))
            return by_key, errors, other

        def error_data(errors):
            out = []
            for e in errors:
                try:
                    out.append(base64.b64decode(e.get('rawData', '')))
                except (ValueError, TypeError):
                    out.append(None)
            return out

        def complete(v):
            by_key, errors, _ = v
            return (good['ok1'] in by_key.get('ok1', []) and good['ok2'] in by_key.get('ok2', [])
                    and set(bad) <= set(error_data(errors)))

        deadline = time.monotonic() + DELIVERY_WAIT_S
        v = split()
        while not complete(v):
            if time.monotonic() > deadline or not self.server.alive():
                self.fail('within %.0f s expected p/ok1/, p/ok2/ objects and 4 error lines; bucket '
                          'holds %s\n%s' % (DELIVERY_WAIT_S,
                                            sorted(files_under(self.bucket_dir(bucket)))[:20],
                                            self.server.log_tail(20)))
            time.sleep(0.2)
            v = split()

        # The stream keeps delivering after the bad records.
        ok3 = rec('ok3')
        self.fh.put_record(DeliveryStreamName='dp', Record={'Data': ok3})
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while ok3 not in split()[0].get('ok3', []):
            if time.monotonic() > deadline or not self.server.alive():
                self.fail('a record put after the hostile ones was not delivered within %.0f s\n%s'
                          % (DELIVERY_WAIT_S, self.server.log_tail(20)))
            time.sleep(0.2)

        by_key, errors, other = split()
        self.assertEqual(other, [], 'files outside p/<key>/ and err/')
        self.assertEqual(sorted(by_key), ['ok1', 'ok2', 'ok3'])
        self.assertEqual(by_key, {'ok1': [good['ok1']], 'ok2': [good['ok2']], 'ok3': [ok3]})
        self.assertEqual(sorted(error_data(errors)), sorted(bad), 'each bad record once as an error')
        for e in errors:
            self.assertIsInstance(e.get('errorCode'), str, e)
            self.assertTrue(e['errorCode'], e)
            self.assertIsInstance(e.get('errorMessage'), str, e)
        # Nothing outside the bucket directory.
        self.assertEqual({e for e in entries(self.server.root) if not e.endswith('.log')}, root0)
        self.assertEqual(entries(self.server.data_dir) - data0, set())
        self.assertLessEqual(entries(self.bucket_dir()) - bucket0, {bucket, '.eddy-staging'})
        self.assertEqual(self.fh.describe_delivery_stream(DeliveryStreamName='dp')
                         ['DeliveryStreamDescription']['DeliveryStreamStatus'], 'ACTIVE')


if __name__ == '__main__':
    unittest.main()
