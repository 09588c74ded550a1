"""End-to-end tests of encryption at rest: StartStreamEncryption / StopStreamEncryption and
`eddy serve --encryption-key-file FILE`, through unmodified boto3.

What is checked:
  - The key file: 64 hex digits (openssl rand -hex 32); a bad one -> exit 1 with one line
    "eddy: ..." naming `openssl rand -hex 32`; a missing one -> a non-zero exit (CLI11).
  - StartStreamEncryption(StreamName or StreamARN, EncryptionType KMS, any KeyId): from then on
    records are sealed at rest (not findable as plaintext in any file of the server's directory;
    records written before stay clear and ARE findable, the check's control), Describe and
    DescribeStreamSummary show EncryptionType KMS and the KeyId as given, PutRecord/PutRecords
    answer EncryptionType KMS (NONE before). Every reader gets the plaintext, byte for byte:
    GetRecords at every iterator type, SubscribeToShard, a delivery stream (Kinesis source ->
    bucket directory), a SQL application, `eddy tail`.
  - StopStreamEncryption: EncryptionType NONE, new records clear, sealed ones still readable.
  - EncryptionType other than KMS -> InvalidArgumentException (a value outside the model's enum ->
    ValidationException); a missing stream -> ResourceNotFoundException.
  - Without a key file: StartStreamEncryption -> KMSNotFoundException saying to start eddy serve
    with --encryption-key-file.
  - Restarts (same data directory): the setting survives; without the key file a stream with
    encryption on refuses GetRecords and PutRecord(s) with KMSNotFoundException and stores nothing
    in clear; with the key again everything reads back; with ANOTHER key the records sealed with
    the first one answer KMSNotFoundException.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_kinesis_encryption
Each class starts its own servers (port 0, private data dirs), so classes can run in parallel.
"""

import datetime
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

from botocore.exceptions import ClientError

import harness
import test_analytics as kda
from harness import shard_id
from test_firehose import ROLE, firehose_client, lines_of, s3_dest, stream_arn

S0, S1, S2 = (shard_id(i) for i in range(3))
KMS_KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'
WAIT_S = 15.0
NO_KEY_HINT = '--encryption-key-file'


def write_key(directory, name='key', text=None):
    path = os.path.join(directory, name)
    with open(path, 'w') as f:
        f.write(text if text is not None else os.urandom(32).hex() + '\n')
    return path


def marker(what):
    """A byte string found nowhere else: a record's payload whose presence on disk is looked for."""
    return ('%s-%s' % (what, uuid.uuid4().hex)).encode()


def files_at_rest(server):
    """{path: bytes} of every file the server keeps: its directory (data and, in cluster mode, the
    nats-servers' JetStream stores) without the bucket directories (delivery output is plaintext by
    design) and the servers' own log files (directly in the directory)."""
    out = {}
    for d, dirs, files in os.walk(server.root):
        dirs[:] = [x for x in dirs if x != 'bucket']
        for f in files:
            if d == server.root and f.endswith('.log'):
                continue
            path = os.path.join(d, f)
            try:
                with open(path, 'rb') as fh:
                    out[path] = fh.read()
            except (FileNotFoundError, IsADirectoryError):
                pass
    return out


def where(files, needle):
    return sorted(p for p, body in files.items() if needle in body)


class Helpers:
    """Helpers of the test classes below, on self.server with the client self.c."""

    def uniq(self, prefix=None):
        return harness.unique_name(prefix or self._testMethodName.replace('_', '-')[:30])

    def new_stream(self, shards=1):
        return harness.create_stream(self.c, self.uniq(), shards)

    def arn(self, name):
        return self.summary(name)['StreamARN']

    def summary(self, name, client=None):
        return (client or self.c).describe_stream_summary(StreamName=name)['StreamDescriptionSummary']

    def assert_encryption(self, name, etype, key_id=None, client=None):
        """DescribeStream and DescribeStreamSummary both show `etype` and `key_id` (None: no KeyId)."""
        c = client or self.c
        for what, d in (('DescribeStream', c.describe_stream(StreamName=name)['StreamDescription']),
                        ('DescribeStreamSummary', self.summary(name, c))):
            self.assertEqual(d.get('EncryptionType'), etype, what)
            self.assertEqual(d.get('KeyId'), key_id, what)

    def start(self, name, key_id='alias/aws/kinesis', client=None, **kw):
        ident = kw or {'StreamName': name}
        (client or self.c).start_stream_encryption(EncryptionType='KMS', KeyId=key_id, **ident)

    def put(self, name, datas, client=None, key='pk', expect=None):
        """PutRecords of `datas` (one request); returns [(Data, PartitionKey, SequenceNumber)]."""
        c = client or self.c
        entries = [{'Data': d, 'PartitionKey': '%s-%d' % (key, i)} for i, d in enumerate(datas)]
        r = c.put_records(StreamName=name, Records=entries)
        self.assertEqual(r['FailedRecordCount'], 0, r)
        if expect is not None:
            self.assertEqual(r.get('EncryptionType'), expect, 'PutRecords EncryptionType')
        return [(e['Data'], e['PartitionKey'], res['SequenceNumber']) for e, res in zip(entries, r['Records'])]

    def put_one(self, name, data, client=None, key='one', expect=None, **kw):
        r = (client or self.c).put_record(StreamName=name, Data=data, PartitionKey=key, **kw)
        if expect is not None:
            self.assertEqual(r.get('EncryptionType'), expect, 'PutRecord EncryptionType')
        return (data, key, r['SequenceNumber'])

    def read(self, name, shard=S0, iterator_type='TRIM_HORIZON', client=None, **kw):
        recs, _ = harness.read_shard(client or self.c, name, shard, iterator_type, **kw)
        return [(r['Data'], r['PartitionKey'], r['SequenceNumber']) for r in recs]

    def assert_sealed_at_rest(self, sealed, clear=()):
        """Each payload of `sealed` is in no file; each of `clear` (the control) is in one."""
        files = files_at_rest(self.server)
        for data in sealed:
            self.assertEqual(where(files, data), [], 'plaintext of a sealed record %r found on disk' % data[:60])
        for data in clear:
            self.assertNotEqual(where(files, data), [], 'clear record %r not found on disk: the '
                                'search would not find plaintext at all' % data[:60])

    def assert_error(self, code, fn, *args, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        err = cm.exception.response['Error']
        self.assertEqual(err['Code'], code, err.get('Message'))
        self.assertEqual(cm.exception.response['ResponseMetadata']['HTTPStatusCode'], 400)
        return err

    def wait_for(self, fn, pred, what, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if pred(v):
                return v
            if time.monotonic() > deadline:
                self.fail('%s not seen within %.0f s; last: %r\n%s'
                          % (what, timeout, repr(v)[:1500], self.server.log_tail(20)))
            time.sleep(0.1)


class EncryptionTestCase(Helpers, unittest.TestCase):
    label = 'enc'
    with_key = True

    @classmethod
    def setUpClass(cls):
        cls.key_dir = tempfile.mkdtemp(prefix='eddy-enc-key-')
        cls.key = write_key(cls.key_dir)
        args = ['--encryption-key-file', cls.key] if cls.with_key else []
        cls.server = harness.EddyServer(args, label=cls.label).start()
        cls.c = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            shutil.rmtree(cls.key_dir, ignore_errors=True)


# ================================================================================== key file
class KeyFileTest(unittest.TestCase):
    """eddy serve --encryption-key-file: what it accepts and how it refuses."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='eddy-enc-keyfile-')

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve(self, key_path):
        cmd = [harness.eddy_bin(), 'serve', '--host', '127.0.0.1', '--port', '0',
               '--data-dir', os.path.join(self.dir, 'data'), '--encryption-key-file', key_path]
        try:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        except subprocess.TimeoutExpired:  # it started serving (subprocess.run killed it)
            self.fail('eddy serve started with the key file %s' % key_path)

    def test_bad_key_files_are_refused_with_one_line(self):
        for label, text in [('empty', ''), ('short', 'abc\n'), ('63 digits', '0' * 63),
                            ('65 digits', '0' * 65), ('not hex', 'zz' * 32), ('inner space', '0' * 31 + ' ' + '0' * 32),
                            ('32 raw bytes', 'k' * 32), ('two keys', ('ab' * 32 + '\n') * 2)]:
            with self.subTest(key=label):
                path = write_key(self.dir, 'bad-key', text)
                p = self.serve(path)
                err = p.stderr.decode('utf-8', 'replace')
                self.assertEqual(p.returncode, 1, err)
                lines = err.strip().splitlines()
                self.assertEqual(len(lines), 1, err)
                self.assertTrue(lines[0].startswith('eddy: '), err)
                self.assertIn('openssl rand -hex 32', lines[0])
                self.assertIn(path, lines[0])
                self.assertNotIn('listening on', err)

    def test_missing_key_file_is_refused(self):
        path = os.path.join(self.dir, 'no-such-key')
        p = self.serve(path)
        err = p.stderr.decode('utf-8', 'replace')
        self.assertNotEqual(p.returncode, 0, err)
        self.assertIn('--encryption-key-file', err)
        self.assertIn(path, err)
        self.assertNotIn('listening on', err)

    def test_key_file_forms_accepted(self):
        # Upper-case digits without a newline, and what `openssl rand -hex 32 > FILE` writes.
        for label, text in [('upper case, no newline', os.urandom(32).hex().upper()),
                            ('openssl style', os.urandom(32).hex() + '\n'), ('CRLF', os.urandom(32).hex() + '\r\n')]:
            with self.subTest(key=label):
                key = write_key(self.dir, 'key-%d' % len(text), text)
                server = harness.EddyServer(['--encryption-key-file', key], label='enc-keyform', native_jobs=False)
                try:
                    server.start()
                    c = server.client()
                    name = harness.create_stream(c, 'kf', 1)
                    c.start_stream_encryption(StreamName=name, EncryptionType='KMS', KeyId='alias/aws/kinesis')
                    data = marker('keyform')
                    self.assertEqual(c.put_record(StreamName=name, Data=data, PartitionKey='k')['EncryptionType'], 'KMS')
                    self.assertEqual([r['Data'] for r in harness.read_shard(c, name, S0)[0]], [data])
                    self.assertEqual(where(files_at_rest(server), data), [])
                finally:
                    server.close()


# ====================================================================== a server with a key
class EncryptionTest(EncryptionTestCase):
    label = 'enc'

    def test_start_seals_new_records_and_describe_shows_it(self):
        name = self.new_stream(1)
        self.assert_encryption(name, 'NONE')
        clear = [self.put_one(name, marker('clear-one'), expect='NONE')]
        clear += self.put(name, [marker('clear-%d' % i) for i in range(3)], expect='NONE')
        self.start(name)
        self.assert_encryption(name, 'KMS', 'alias/aws/kinesis')
        sealed = [self.put_one(name, marker('sealed-one'), expect='KMS')]
        sealed += self.put(name, [marker('sealed-%d' % i) for i in range(3)], expect='KMS')
        self.assertEqual(self.read(name), clear + sealed)
        self.assert_sealed_at_rest([d for d, _, _ in sealed], [d for d, _, _ in clear])
        # Each payload sealed on its own: not in the files as one run of bytes either way.
        self.assert_sealed_at_rest([b''.join(d for d, _, _ in sealed)])

    def test_stream_arn_and_any_key_id(self):
        name = self.new_stream(1)
        arn = self.arn(name)
        self.start(name, KMS_KEY_ARN, StreamARN=arn)
        self.assert_encryption(name, 'KMS', KMS_KEY_ARN)
        first = self.put(name, [marker('arn-a')], expect='KMS')
        # Starting again with another key id: the id shown changes, the records stay readable.
        self.start(name, 'alias/MyAliasName', StreamName=name, StreamARN=arn)
        self.assert_encryption(name, 'KMS', 'alias/MyAliasName')
        second = self.put(name, [marker('arn-b')], expect='KMS')
        self.assertEqual(self.read(name), first + second)
        self.assert_sealed_at_rest([d for d, _, _ in first + second])
        # A KeyId as long as the model allows (2048) is kept whole.
        long_id = 'alias/' + 'k' * 2042
        self.start(name, long_id)
        self.assert_encryption(name, 'KMS', long_id)

    def test_stop_encryption(self):
        name = self.new_stream(1)
        self.start(name)
        sealed = self.put(name, [marker('before-stop-%d' % i) for i in range(3)], expect='KMS')
        self.c.stop_stream_encryption(StreamName=name, EncryptionType='KMS', KeyId='alias/aws/kinesis')
        self.assert_encryption(name, 'NONE')
        clear = [self.put_one(name, marker('after-stop'), expect='NONE')]
        clear += self.put(name, [marker('after-stop-%d' % i) for i in range(2)], expect='NONE')
        self.assertEqual(self.read(name), sealed + clear)
        self.assert_sealed_at_rest([d for d, _, _ in sealed], [d for d, _, _ in clear])
        # Stopping through the ARN, and starting again.
        self.start(name)
        again = self.put(name, [marker('again')], expect='KMS')
        self.c.stop_stream_encryption(StreamARN=self.arn(name), EncryptionType='KMS', KeyId='alias/aws/kinesis')
        self.assert_encryption(name, 'NONE')
        self.assertEqual(self.read(name), sealed + clear + again)
        self.assert_sealed_at_rest([d for d, _, _ in again])

    def test_encryption_type_other_than_kms(self):
        name = self.new_stream(1)
        for fn in (self.c.start_stream_encryption, self.c.stop_stream_encryption):
            with self.subTest(operation=fn.__name__):
                self.assert_error('InvalidArgumentException', fn, StreamName=name, EncryptionType='NONE',
                                  KeyId='alias/aws/kinesis')
                self.assert_encryption(name, 'NONE')
        # Outside the model's enum (NONE | KMS): sent raw, botocore would refuse it.
        for op in ('StartStreamEncryption', 'StopStreamEncryption'):
            with self.subTest(operation=op, raw=True):
                status, _, body = self.server.raw(op, json.dumps(
                    {'StreamName': name, 'EncryptionType': 'AES256', 'KeyId': 'alias/aws/kinesis'}))
                self.assertEqual((status, harness.error_type(json.loads(body))), (400, 'ValidationException'), body)
        self.assert_encryption(name, 'NONE')
        # Refused requests change nothing once encryption is on either.
        self.start(name)
        self.assert_error('InvalidArgumentException', self.c.stop_stream_encryption, StreamName=name,
                          EncryptionType='NONE', KeyId='alias/aws/kinesis')
        self.assert_encryption(name, 'KMS', 'alias/aws/kinesis')

    def test_missing_stream(self):
        gone = self.uniq('gone')
        for fn in (self.c.start_stream_encryption, self.c.stop_stream_encryption):
            with self.subTest(operation=fn.__name__):
                err = self.assert_error('ResourceNotFoundException', fn, StreamName=gone, EncryptionType='KMS',
                                        KeyId='alias/aws/kinesis')
                self.assertIn(gone, err['Message'])

    def test_get_records_every_iterator_type_and_binary_payloads(self):
        name = self.new_stream(2)
        before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        clear = [self.put_one(name, marker('it-clear'), key='c', ExplicitHashKey='0', expect='NONE')]
        self.start(name)
        payloads = [b'', b'\x00', bytes(range(256)), b'\xff' * 1000, os.urandom(64 * 1024),
                    b'x' * (1024 * 1024 - 7)]  # with its 7-byte partition key: exactly 1 MiB
        sealed = []
        for i, p in enumerate(payloads):
            r = self.c.put_record(StreamName=name, Data=p, PartitionKey='pk-%04d' % i, ExplicitHashKey='0')
            self.assertEqual((r['ShardId'], r['EncryptionType']), (S0, 'KMS'))
            sealed.append((p, 'pk-%04d' % i, r['SequenceNumber']))
        everything = clear + sealed
        self.assertEqual(self.read(name, S0), everything)
        self.assertEqual(self.read(name, S0, limit=1), everything, 'one record per GetRecords call')
        self.assertEqual(self.read(name, S0, 'AT_SEQUENCE_NUMBER', StartingSequenceNumber=sealed[2][2]), sealed[2:])
        self.assertEqual(self.read(name, S0, 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber=sealed[2][2]), sealed[3:])
        self.assertEqual(self.read(name, S0, 'AT_TIMESTAMP', Timestamp=before), everything)
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0, ShardIteratorType='LATEST')['ShardIterator']
        late = self.put_one(name, marker('late'), key='late', ExplicitHashKey='1', expect='KMS')
        got = self.c.get_records(ShardIterator=it)['Records']
        self.assertEqual([(r['Data'], r['PartitionKey'], r['SequenceNumber']) for r in got], [late])
        # Both shards of a 2-shard stream: the records of the other one too.
        other = self.put(name, [marker('s1-%d' % i) for i in range(3)], key='s1')
        by_shard = {S0: self.read(name, S0), S1: self.read(name, S1)}
        self.assertEqual(sorted(x for recs in by_shard.values() for x in recs),
                         sorted(clear + sealed + [late] + other))
        self.assert_sealed_at_rest([p for p in payloads if len(p) >= 16] + [late[0]] + [d for d, _, _ in other],
                                   [d for d, _, _ in clear])

    def test_get_records_marks_sealed_records_kms(self):
        # AWS's Record has EncryptionType: KMS for a record encrypted at rest (API_Record.html).
        name = self.new_stream(1)
        self.put(name, [b'clear'])
        self.start(name)
        self.put(name, [b'sealed'])
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0, ShardIteratorType='TRIM_HORIZON')['ShardIterator']
        recs = self.c.get_records(ShardIterator=it)['Records']
        self.assertEqual([r['Data'] for r in recs], [b'clear', b'sealed'])
        self.assertIn(recs[0].get('EncryptionType', 'NONE'), ('NONE',))
        self.assertEqual(recs[1].get('EncryptionType'), 'KMS', recs[1])

    def test_resharding_keeps_sealing(self):
        name = self.new_stream(1)
        self.start(name)
        parent = self.put(name, [marker('parent-%d' % i) for i in range(4)], expect='KMS')
        self.c.update_shard_count(StreamName=name, TargetShardCount=2, ScalingType='UNIFORM_SCALING')
        harness.wait_exists(self.c, name)
        children = {S1: [], S2: []}
        for i in range(20):
            r = self.c.put_record(StreamName=name, Data=marker('child-%d' % i), PartitionKey='c%d' % i)
            self.assertEqual(r['EncryptionType'], 'KMS')
            children[r['ShardId']].append(r['SequenceNumber'])
        self.assertEqual(set(children), {S1, S2})
        self.assertTrue(children[S1] and children[S2], children)
        self.assertEqual(self.read(name, S0), parent)
        got = self.read(name, S1) + self.read(name, S2)
        self.assertEqual(sorted(s for _, _, s in got), sorted(children[S1] + children[S2]))
        self.assert_sealed_at_rest([d for d, _, _ in parent + got])
        self.assert_encryption(name, 'KMS', 'alias/aws/kinesis')

    def test_subscribe_to_shard_gets_plaintext(self):
        name = self.new_stream(1)
        clear = self.put(name, [marker('sub-clear-%d' % i) for i in range(2)])
        self.start(name)
        sealed = self.put(name, [marker('sub-sealed-%d' % i) for i in range(5)], expect='KMS')
        consumer = self.c.register_stream_consumer(StreamARN=self.arn(name), ConsumerName='enc')['Consumer']
        self.wait_for(lambda: self.c.describe_stream_consumer(ConsumerARN=consumer['ConsumerARN'])[
            'ConsumerDescription']['ConsumerStatus'], lambda s: s == 'ACTIVE', 'consumer ACTIVE')
        got = self.subscribe(consumer['ConsumerARN'], S0, len(clear) + len(sealed))
        self.assertEqual([(r['Data'], r['PartitionKey'], r['SequenceNumber']) for r in got], clear + sealed)

    def subscribe(self, consumer_arn, shard, want):
        """The first `want` records of a SubscribeToShard from TRIM_HORIZON (bounded wait)."""
        resp = self.c.subscribe_to_shard(ConsumerARN=consumer_arn, ShardId=shard,
                                         StartingPosition={'Type': 'TRIM_HORIZON'})
        events = resp['EventStream']
        q = queue.Queue()

        def pump():
            try:
                for ev in events:
                    q.put(('event', ev))
            except Exception as e:  # noqa: BLE001 - handed to the test
                q.put(('error', e))
            q.put(('end', None))

        threading.Thread(target=pump, name='enc-subscription', daemon=True).start()
        records, deadline = [], time.monotonic() + WAIT_S
        try:
            while len(records) < want:
                try:
                    kind, value = q.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    self.fail('SubscribeToShard: %d of %d records within %.0f s' % (len(records), want, WAIT_S))
                if kind != 'event':
                    self.fail('SubscribeToShard ended (%s: %r) after %d of %d records' % (kind, value, len(records), want))
                records.extend(value['SubscribeToShardEvent']['Records'])
        finally:
            events.close()
        self.assertEqual(len(records), want)
        return records

    def test_eddy_tail_prints_plaintext(self):
        name = self.new_stream(1)
        clear = [marker('tail-clear-%d' % i) for i in range(2)]
        sealed = [marker('tail-sealed-%d' % i) for i in range(3)]
        self.put(name, clear)
        self.start(name)
        self.put(name, sealed, expect='KMS')
        env = {k: v for k, v in os.environ.items() if not k.startswith(('AWS_', 'EDDY_ENDPOINT'))}
        p = subprocess.run([self.server.binary, 'tail', '--no-follow', '--endpoint', self.server.endpoint, name],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30, env=env)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors='replace'))
        self.assertEqual(p.stdout.splitlines(), clear + sealed)

    def test_delivery_stream_from_an_encrypted_stream(self):
        fh = firehose_client(self.server)
        src = self.new_stream(1)
        self.start(src)
        bucket = self.uniq('bkt')
        ds = self.uniq('ds')
        fh.create_delivery_stream(
            DeliveryStreamName=ds, DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': stream_arn(src), 'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration=s3_dest(bucket, prefix='out/', interval=1))
        sent = [marker('ds-%03d' % i) for i in range(40)]
        self.put(src, sent[:25], expect='KMS')
        self.put(src, sent[25:], expect='KMS')
        root = os.path.join(self.server.data_dir, 'bucket', bucket)

        def objects():
            out = []
            for d, _, files in os.walk(root):
                for f in files:
                    with open(os.path.join(d, f), 'rb') as fh_:
                        body = fh_.read()
                    recs = lines_of(body)
                    self.assertIsNotNone(recs, 'object %s does not end with a newline' % f)
                    out.append(recs)
            return out
        self.wait_for(lambda: sum(len(o) for o in objects()), lambda n: n >= len(sent),
                      'the %d records in the bucket' % len(sent))
        time.sleep(1.5)  # nothing more comes
        objs = objects()
        self.assertEqual(sorted(r for o in objs for r in o), sorted(sent), 'each record once, as plaintext')
        index = {d: i for i, d in enumerate(sent)}
        for o in objs:  # one shard: each object holds a run of the records in order
            self.assertEqual([index[r] for r in o], list(range(index[o[0]], index[o[0]] + len(o))))
        self.assert_sealed_at_rest(sent)

    def test_sql_application_reads_and_writes_encrypted_streams(self):
        src, dst = self.new_stream(2), self.new_stream(1)
        self.start(src)
        self.start(dst, 'alias/output')
        tag = uuid.uuid4().hex[:8]
        events = [{'id': i, 'store_id': 's%s-%02d' % (tag, i), 'category': 'skip' if i % 5 == 4 else 'toys',
                   'evnt_time': '2024-05-01T10:00:%02d.000' % i, 'sales': i * 1.25} for i in range(20)]
        r = self.c.put_records(StreamName=src, Records=[
            {'Data': json.dumps(e).encode(), 'PartitionKey': 'p-%02d' % e['id']} for e in events])
        self.assertEqual((r['FailedRecordCount'], r['EncryptionType']), (0, 'KMS'))
        ka = kda.analytics_client(self.server)
        app = self.uniq('app')
        ka.create_application(ApplicationName=app, ApplicationCode=kda.ROW_SQL,
                              Inputs=[kda.kinesis_input(kda.ROW_PREFIX, src, kda.ROW_SCHEMA)],
                              Outputs=[kda.kinesis_output(kda.ROW_OUTPUT, dst)])
        ka.start_application(ApplicationName=app, InputConfigurations=kda.starting('TRIM_HORIZON'))
        want = sorted(((e['id'], e['store_id'].upper(), e['sales']) for e in events if e['category'] != 'skip'))

        def rows():
            return sorted((row['id'], row['store'], row['sales'])
                          for row in (json.loads(d) for d, _, _ in self.read(dst, S0)))
        got = self.wait_for(rows, lambda r: len(r) >= len(want), 'the %d output rows' % len(want))
        time.sleep(1.0)
        got = rows()
        self.assertEqual(got, want)
        ka.stop_application(ApplicationName=app)
        # Input and output rows are sealed at rest: neither the store ids nor their upper-case forms
        # (only in the payloads: eddy keeps partition keys in clear, so none is a store id here).
        self.assert_sealed_at_rest([e['store_id'].encode() for e in events] +
                                   [e['store_id'].upper().encode() for e in events])
        self.assert_encryption(dst, 'KMS', 'alias/output')


# =================================================================== a server without a key
class NoKeyTest(EncryptionTestCase):
    label = 'enc-nokey'
    with_key = False

    def test_start_encryption_needs_the_key_file(self):
        name = self.new_stream(1)
        for ident in ({'StreamName': name}, {'StreamARN': self.arn(name)}):
            with self.subTest(**ident):
                err = self.assert_error('KMSNotFoundException', self.c.start_stream_encryption, EncryptionType='KMS',
                                        KeyId='alias/aws/kinesis', **ident)
                self.assertIn('eddy serve', err['Message'])
                self.assertIn(NO_KEY_HINT, err['Message'])
        self.assert_encryption(name, 'NONE')
        data = marker('nokey-clear')
        self.put(name, [data], expect='NONE')
        self.assertEqual([d for d, _, _ in self.read(name)], [data])

    def test_start_encryption_of_a_missing_stream(self):
        # The stream's existence is checked before the key (a KMS key is used on an existing stream).
        self.assert_error('ResourceNotFoundException', self.c.start_stream_encryption, StreamName=self.uniq('gone'),
                          EncryptionType='KMS', KeyId='alias/aws/kinesis')

    def test_encryption_type_checked_before_the_key(self):
        name = self.new_stream(1)
        self.assert_error('InvalidArgumentException', self.c.start_stream_encryption, StreamName=name,
                          EncryptionType='NONE', KeyId='alias/aws/kinesis')


# ====================================================================== restarts and keys
class RestartTest(Helpers, unittest.TestCase):
    """Each test has its own server, restarted with the key, without it, and with another one."""

    def setUp(self):
        self.key_dir = tempfile.mkdtemp(prefix='eddy-enc-keys-')
        self.key_a = write_key(self.key_dir, 'a')
        self.key_b = write_key(self.key_dir, 'b')
        self.server = harness.EddyServer(label='enc-restart', native_jobs=False)
        self.addCleanup(shutil.rmtree, self.key_dir, True)
        self.addCleanup(self.server.close)
        self.run_with(self.key_a)

    def run_with(self, key):
        """(Re)starts the server, with `key` as its key file or without one."""
        if self.server.proc is not None:
            self.server.stop()
        self.server.extra_args = ['--encryption-key-file', key] if key else []
        self.server.start()
        self.c = self.server.client()

    def setup_stream(self, key_id=KMS_KEY_ARN):
        """A 1-shard stream with one clear record, then encryption on, then two sealed records."""
        name = harness.create_stream(self.c, harness.unique_name('rst'), 1)
        clear = self.put(name, [marker('rst-clear')], expect='NONE')
        self.start(name, key_id)
        sealed = self.put(name, [marker('rst-sealed-%d' % i) for i in range(2)], expect='KMS')
        return name, clear, sealed

    def get_records(self, name, it_type='TRIM_HORIZON', limit=None, **kw):
        it = self.c.get_shard_iterator(StreamName=name, ShardId=S0, ShardIteratorType=it_type, **kw)['ShardIterator']
        args = {'ShardIterator': it}
        if limit:
            args['Limit'] = limit
        r = self.c.get_records(**args)
        return [(x['Data'], x['PartitionKey'], x['SequenceNumber']) for x in r['Records']]

    def assert_kms_not_found(self, fn, *args, **kw):
        err = self.assert_error('KMSNotFoundException', fn, *args, **kw)
        self.assertTrue(err.get('Message'))
        return err

    def test_setting_survives_a_restart(self):
        name, clear, sealed = self.setup_stream()
        self.run_with(self.key_a)
        self.assert_encryption(name, 'KMS', KMS_KEY_ARN)
        self.assertEqual(self.read(name), clear + sealed)
        more = self.put(name, [marker('rst-more')], expect='KMS')
        self.assertEqual(self.read(name), clear + sealed + more)
        self.assert_sealed_at_rest([d for d, _, _ in sealed + more], [d for d, _, _ in clear])
        # Stopped, it stays stopped across a restart.
        self.c.stop_stream_encryption(StreamName=name, EncryptionType='KMS', KeyId=KMS_KEY_ARN)
        self.run_with(self.key_a)
        self.assert_encryption(name, 'NONE')
        last = self.put(name, [marker('rst-last')], expect='NONE')
        self.assertEqual(self.read(name), clear + sealed + more + last)
        self.assert_sealed_at_rest([d for d, _, _ in sealed + more], [d for d, _, _ in last])

    def test_without_the_key_nothing_is_read_or_stored_in_clear(self):
        name, clear, sealed = self.setup_stream()
        self.run_with(None)
        self.assert_encryption(name, 'KMS', KMS_KEY_ARN)
        # Reads that reach a sealed record.
        err = self.assert_kms_not_found(self.get_records, name)
        self.assertIn(NO_KEY_HINT, err['Message'])
        self.assert_kms_not_found(self.get_records, name, 'AT_SEQUENCE_NUMBER', StartingSequenceNumber=sealed[0][2])
        self.assert_kms_not_found(self.get_records, name, 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber=clear[0][2])
        # The record written before encryption was started is clear: it still reads.
        self.assertEqual(self.get_records(name, limit=1), clear)
        # Writes: refused whole, nothing stored.
        refused = [marker('rst-refused-%d' % i) for i in range(3)]
        err = self.assert_kms_not_found(self.c.put_record, StreamName=name, Data=refused[0], PartitionKey='k')
        self.assertIn(NO_KEY_HINT, err['Message'])
        self.assert_kms_not_found(self.c.put_records, StreamName=name, Records=[
            {'Data': d, 'PartitionKey': 'k'} for d in refused[1:]])
        # StartStreamEncryption on another stream: no key to encrypt with.
        other = harness.create_stream(self.c, harness.unique_name('rst-other'), 1)
        err = self.assert_error('KMSNotFoundException', self.c.start_stream_encryption, StreamName=other,
                                  EncryptionType='KMS', KeyId='alias/aws/kinesis')
        self.assertIn(NO_KEY_HINT, err['Message'])
        files = files_at_rest(self.server)
        for d in refused:
            self.assertEqual(where(files, d), [], 'a refused record was stored')
        # With the key again: everything reads back, nothing of the refused writes.
        self.run_with(self.key_a)
        self.assertEqual(self.read(name), clear + sealed)
        more = self.put(name, [marker('rst-after')], expect='KMS')
        self.assertEqual(self.read(name), clear + sealed + more)
        self.assert_encryption(other, 'NONE')

    def test_another_key_cannot_open_the_records(self):
        name, clear, sealed = self.setup_stream()
        self.run_with(self.key_b)
        self.assert_encryption(name, 'KMS', KMS_KEY_ARN)
        self.assert_kms_not_found(self.get_records, name)
        self.assert_kms_not_found(self.get_records, name, 'AT_SEQUENCE_NUMBER', StartingSequenceNumber=sealed[1][2])
        self.assertEqual(self.get_records(name, limit=1), clear)
        # New records are sealed with the key the server has now, and read back with it.
        new = self.put(name, [marker('rst-key-b')], expect='KMS')
        self.assertEqual(self.get_records(name, 'AT_SEQUENCE_NUMBER', StartingSequenceNumber=new[0][2]), new)
        self.assert_sealed_at_rest([d for d, _, _ in sealed + new])
        # Back to the first key: its records read again, the other key's do not.
        self.run_with(self.key_a)
        self.assertEqual(self.get_records(name, limit=3), clear + sealed)
        self.assert_kms_not_found(self.get_records, name, 'AT_SEQUENCE_NUMBER', StartingSequenceNumber=new[0][2])


if __name__ == '__main__':
    unittest.main()
