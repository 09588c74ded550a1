"""End-to-end tests of eddy's Kinesis Data Firehose slice (Firehose_20150804.*, same endpoint as
Kinesis) through unmodified boto3: delivery streams into bucket directories.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_firehose
Each class starts its own server (port 0, private data dir). The module takes about 2-3 minutes.
Seed for the crash rounds: EDDY_CRASH_SEED=<int>.

What is checked (firehose.md, the spec for this slice):
  - BucketARN arn:aws:s3:::B -> objects are files under <data-dir>/bucket/B/<key>;
    key = evaluated Prefix + <stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>[.gz], the time being
    the arrival of the object's oldest record (UTC); a Prefix without a timestamp expression gets
    yyyy/MM/dd/HH/ appended (section 3 rules 1-5).
  - AppendDelimiterToRecord: one record per line; without it records are concatenated byte for
    byte. GZIP: whole object gzip, .gz keys. Buffering: size or interval, whichever first.
  - Control plane (Describe/List/Delete/UpdateDestination), PutRecord/PutRecordBatch limits,
    unsupported features -> InvalidArgumentException (not silently accepted).
  - KinesisStreamAsSource reads from LATEST and follows resharding.
  - Kinesis Analytics output -> delivery stream (the seed pipeline, with a 2 s STEP).
  - Exactly-once after kill -9 (direct put journal and Kinesis source).
"""

import collections
import datetime
import gzip
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import unittest

from botocore.exceptions import ClientError

import harness
import test_analytics as kda  # helpers and seed constants only (no TestCase is imported by name)

UTC = datetime.timezone.utc
ACCOUNT = '000000000000'
ROLE = 'arn:aws:iam::000000000000:role/firehose_delivery_role'
DELIVERY_TIMEOUT_S = 15.0
UUID_RE = r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
MAX_RECORD = 1024000
NOT_PERMITTED = 'This operation is not permitted on KinesisStreamAsSource delivery stream type.'


# ------------------------------------------------------------------------------------- helpers
def firehose_client(server, validate=None, read_timeout=60, connect_timeout=10):
    """A boto3 Firehose client of `server`. validate: botocore's client-side parameter validation;
    None (the default) = on, unless this botocore's model is older than the buffering the tests
    use: before botocore 1.34.1 (Debian 12 has 1.29.27) BufferingHints.IntervalInSeconds had a
    minimum of 60 (AWS allows 0 now), and the tests use 0 and 1 s. eddy validates every request
    itself against AWS's current model; its ValidationException is tested with validate=False."""
    import boto3
    from botocore.config import Config

    def make(validate):
        cfg = Config(retries={'total_max_attempts': 1}, read_timeout=read_timeout,
                     connect_timeout=connect_timeout, parameter_validation=validate)
        return boto3.client('firehose', endpoint_url=server.endpoint, region_name=harness.REGION,
                            aws_access_key_id=harness.ACCESS_KEY,
                            aws_secret_access_key=harness.SECRET_KEY, config=cfg)
    client = make(True if validate is None else validate)
    interval = client.meta.service_model.shape_for('IntervalInSeconds')
    if validate is None and interval.metadata.get('min', 0) > 0:
        client = make(False)
    return client


def stream_arn(name):
    return 'arn:aws:kinesis:%s:%s:stream/%s' % (harness.REGION, ACCOUNT, name)


def delivery_arn(name):
    return 'arn:aws:firehose:%s:%s:deliverystream/%s' % (harness.REGION, ACCOUNT, name)


def s3_dest(bucket, prefix=None, error_prefix=None, interval=1, size=1, compression=None,
            delimiter=True, **extra):
    d = {'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::%s' % bucket}
    if interval is not None or size is not None:
        d['BufferingHints'] = {'SizeInMBs': size if size is not None else 5,
                               'IntervalInSeconds': interval if interval is not None else 300}
    if prefix is not None:
        d['Prefix'] = prefix
    if error_prefix is not None:
        d['ErrorOutputPrefix'] = error_prefix
    if compression is not None:
        d['CompressionFormat'] = compression
    if delimiter:
        d['ProcessingConfiguration'] = {'Enabled': True,
                                        'Processors': [{'Type': 'AppendDelimiterToRecord'}]}
    d.update(extra)
    return d


def key_re(name, version=1, ext=''):
    """Groups: prefix, time (yyyy-MM-dd-HH-mm-ss)."""
    return re.compile(r'^(?P<prefix>.*?)%s-%d-(?P<time>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)-%s%s$'
                      % (re.escape(name), version, UUID_RE, re.escape(ext)))


def key_time(m):
    return datetime.datetime.strptime(m.group('time'), '%Y-%m-%d-%H-%M-%S').replace(tzinfo=UTC)


def now_utc():
    return datetime.datetime.now(UTC)


def lines_of(body):
    """Records of a delimited object; None if the object does not end with a newline."""
    if not body.endswith(b'\n'):
        return None
    return body[:-1].split(b'\n')


class FirehoseTestCase(unittest.TestCase):
    label = 'firehose'
    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(cls.extra_args, label=cls.label).start()
        cls.connect()

    @classmethod
    def connect(cls):
        cls.k = cls.server.client()
        cls.fh = firehose_client(cls.server)
        cls.fh_raw = firehose_client(cls.server, validate=False)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    # ------------------------------------------------------------------------------- helpers
    def uniq(self, prefix=None):
        return harness.unique_name(prefix or self._testMethodName.replace('_', '-')[:30])

    def bucket_dir(self, bucket):
        return os.path.join(self.server.data_dir, 'bucket', bucket)

    def objects(self, bucket):
        """{key: bytes} of every file in the bucket directory (keys with '/' separators). Every
        file is an object: eddy stages objects outside the bucket and renames them in whole."""
        root = self.bucket_dir(bucket)
        out = {}
        for d, _, files in os.walk(root):
            for f in files:
                path = os.path.join(d, f)
                try:
                    with open(path, 'rb') as fh:
                        out[os.path.relpath(path, root).replace(os.sep, '/')] = fh.read()
                except FileNotFoundError:
                    pass
        return out

    def lines(self, bucket, gz=False):
        """[(key, [record bytes])] of a delimited bucket; fails on an object that is not."""
        out = []
        for key, body in sorted(self.objects(bucket).items()):
            if gz:
                self.assertTrue(key.endswith('.gz'), key)
                self.assertEqual(body[:2], b'\x1f\x8b', 'object %s is not gzip' % key)
                body = gzip.decompress(body)
            recs = lines_of(body)
            self.assertIsNotNone(recs, 'object %s does not end with a newline: %r...'
                                 % (key, body[-80:]))
            out.append((key, recs))
        return out

    def wait_for(self, fn, pred, timeout=DELIVERY_TIMEOUT_S, what='delivery', interval=0.1):
        """Polls fn() until pred(value); returns the value. Bounded."""
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if pred(v):
                return v
            if time.monotonic() > deadline:
                self.fail('%s not seen within %.0f s; last value: %s\n%s'
                          % (what, timeout, repr(v)[:1500], self.server.log_tail(20)))
            time.sleep(interval)

    def wait_records(self, bucket, want, gz=False, timeout=DELIVERY_TIMEOUT_S):
        """Waits until every record in `want` (bytes) is in some object of the bucket."""
        want = set(want)
        self.wait_for(lambda: self.lines(bucket, gz),
                      lambda objs: want <= {r for _, recs in objs for r in recs},
                      timeout, '%d records in bucket %s' % (len(want), bucket))
        return self.lines(bucket, gz)

    def create(self, dest, name=None, **kw):
        name = name or self.uniq('ds')
        resp = self.fh.create_delivery_stream(DeliveryStreamName=name,
                                              ExtendedS3DestinationConfiguration=dest, **kw)
        self.assertEqual(resp['DeliveryStreamARN'], delivery_arn(name))
        return name

    def describe(self, name):
        return self.fh.describe_delivery_stream(DeliveryStreamName=name)['DeliveryStreamDescription']

    def put_batches(self, name, records, batch=100):
        ids = []
        for i in range(0, len(records), batch):
            chunk = records[i:i + batch]
            resp = self.fh.put_record_batch(DeliveryStreamName=name,
                                            Records=[{'Data': r} for r in chunk])
            self.assertEqual(resp['FailedPutCount'], 0, resp)
            self.assertEqual(len(resp['RequestResponses']), len(chunk))
            for rr in resp['RequestResponses']:
                self.assertNotIn('ErrorCode', rr)
                self.assertIsInstance(rr['RecordId'], str)
                self.assertTrue(rr['RecordId'])
                ids.append(rr['RecordId'])
        return ids

    def assert_error(self, codes, fn, *args, **kw):
        """fn(...) must fail with HTTP 400 and an error code in `codes` (str or tuple), raised as the
        modeled exception class when there is one. Returns the exception."""
        if isinstance(codes, str):
            codes = (codes,)
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        resp = cm.exception.response
        code = resp['Error']['Code']
        self.assertIn(code, codes, 'error %r: %s' % (code, resp['Error'].get('Message')))
        self.assertEqual(resp['ResponseMetadata']['HTTPStatusCode'], 400, 'HTTP status for %s' % code)
        modeled = getattr(self.fh.exceptions, code, None)
        if modeled is not None:
            self.assertIsInstance(cm.exception, modeled)
        self.assertTrue(resp['Error'].get('Message'), 'error %s without a message' % code)
        return cm.exception

    def assert_not_exists(self, name):
        self.assert_error('ResourceNotFoundException', self.fh.describe_delivery_stream,
                          DeliveryStreamName=name)

    def assert_in_order_once(self, objs, sent):
        """Delimited objects [(key, [recs])] together hold `sent` exactly once each, every object
        holding a contiguous run of `sent` (so the objects, ordered by their first record,
        concatenate to `sent`)."""
        index = {r: i for i, r in enumerate(sent)}
        self.assertEqual(len(index), len(sent), 'test bug: records not unique')
        all_recs = [r for _, recs in objs for r in recs]
        counts = collections.Counter(all_recs)
        dups = [r for r, n in counts.items() if n > 1]
        self.assertEqual(dups[:10], [], 'records delivered more than once')
        self.assertEqual(set(all_recs), set(sent), 'delivered records != sent records')
        for key, recs in objs:
            pos = [index[r] for r in recs]
            self.assertEqual(pos, list(range(pos[0], pos[0] + len(pos))),
                             'object %s: records out of order or not contiguous' % key)
        self.assertEqual(sorted(all_recs, key=index.get),
                         [r for _, recs in sorted(objs, key=lambda o: index[o[1][0]]) for r in recs])

    def assert_key(self, key, name, prefix_re, t0, t1, version=1, ext=''):
        """`key` = <prefix matching prefix_re(time)><name>-<version>-<time>-<uuid><ext>, time within
        [t0 - 1 s, t1 + 1 s]. prefix_re: a function of the key's time giving a regex (full match)."""
        m = key_re(name, version, ext).match(key)
        self.assertIsNotNone(m, 'key %r does not look like <prefix>%s-%d-yyyy-MM-dd-HH-mm-ss-<uuid>%s'
                             % (key, name, version, ext))
        t = key_time(m)
        self.assertGreaterEqual(t, t0.replace(microsecond=0) - datetime.timedelta(seconds=1), key)
        self.assertLessEqual(t, t1 + datetime.timedelta(seconds=1), key)
        self.assertRegex(m.group('prefix'), '^%s$' % prefix_re(t), 'prefix of key %s' % key)
        return t


def default_time_prefix(t):
    return re.escape(t.strftime('%Y/%m/%d/%H/'))


# ===================================================================== 1. direct put delivery
class TestDirectPut(FirehoseTestCase):
    label = 'fh-direct'

    def test_delimited_interval_1_in_order_once(self):
        name, bucket = self.uniq('dp'), self.uniq('bkt')
        self.create(s3_dest(bucket, interval=1), name)
        sent = [('{"id":%d,"v":"%s"}' % (i, 'x' * (i % 17))).encode() for i in range(600)]
        t0 = now_utc()
        ids = self.put_batches(name, sent[:250])
        for r in sent[250:260]:  # PutRecord too
            resp = self.fh.put_record(DeliveryStreamName=name, Record={'Data': r})
            self.assertTrue(resp['RecordId'])
            self.assertIs(resp['Encrypted'], False)
            ids.append(resp['RecordId'])
        ids += self.put_batches(name, sent[260:], batch=170)
        t1 = now_utc()
        self.assertEqual(len(set(ids)), len(sent), 'RecordIds are not unique')
        objs = self.wait_records(bucket, sent)
        time.sleep(1.5)  # nothing more may arrive
        objs = self.lines(bucket)
        self.assert_in_order_once(objs, sent)
        for key, _ in objs:
            self.assert_key(key, name, default_time_prefix, t0, now_utc())
        self.assertEqual([k for k in self.objects(bucket) if k.endswith('.tmp')], [])
        self.assertLess((t1 - t0).total_seconds(), 10)

    def test_gzip_interval_0(self):
        name, bucket = self.uniq('gz'), self.uniq('bkt')
        self.create(s3_dest(bucket, interval=0, compression='GZIP'), name)
        d = self.describe(name)['Destinations'][0]['ExtendedS3DestinationDescription']
        self.assertEqual(d['CompressionFormat'], 'GZIP')
        self.assertEqual(d['BufferingHints'], {'SizeInMBs': 1, 'IntervalInSeconds': 0})
        sent = [('gz-record-%05d ' % i).encode() + b'abc' * (i % 50) for i in range(400)]
        t0 = now_utc()
        self.put_batches(name, sent[:200])
        # Zero buffering: the first records are delivered within a few seconds.
        self.wait_records(bucket, sent[:200], gz=True, timeout=5)
        self.put_batches(name, sent[200:])
        self.wait_records(bucket, sent, gz=True)
        time.sleep(1.0)
        objs = self.lines(bucket, gz=True)
        self.assert_in_order_once(objs, sent)
        for key, _ in objs:
            self.assert_key(key, name, default_time_prefix, t0, now_utc(), ext='.gz')
        for key, body in self.objects(bucket).items():
            self.assertEqual(gzip.decompress(body), b''.join(r + b'\n' for r in
                                                              dict(objs)[key]), key)

    def test_without_delimiter_records_are_concatenated(self):
        name, bucket = self.uniq('cat'), self.uniq('bkt')
        self.create(s3_dest(bucket, interval=1, delimiter=False), name)
        sent = [b'<%03d>' % i for i in range(50)]
        self.put_batches(name, sent)
        want = b''.join(sent)

        def content():
            return b''.join(v for _, v in sorted(self.objects(bucket).items(),
                                                 key=lambda kv: kv[1][:5]))
        self.wait_for(content, lambda c: len(c) >= len(want), what='50 concatenated records')
        time.sleep(1.2)
        self.assertEqual(content(), want, 'records must be concatenated byte for byte, once')

    def test_s3_destination_configuration_is_accepted(self):
        name, bucket = self.uniq('s3'), self.uniq('bkt')
        dest = s3_dest(bucket, interval=1, delimiter=False, prefix='plain/')
        self.fh.create_delivery_stream(DeliveryStreamName=name, S3DestinationConfiguration=dest)
        d = self.describe(name)
        self.assertEqual(d['DeliveryStreamStatus'], 'ACTIVE')
        self.assertEqual(d['Destinations'][0]['ExtendedS3DestinationDescription']['BucketARN'],
                         'arn:aws:s3:::%s' % bucket)
        t0 = now_utc()
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'one\n'})
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'two\n'})
        objs = self.wait_records(bucket, [b'one', b'two'])
        for key, _ in objs:
            self.assert_key(key, name, lambda t: 'plain/' + default_time_prefix(t), t0, now_utc())

    def test_empty_and_max_size_records(self):
        name, bucket = self.uniq('edge'), self.uniq('bkt')
        self.create(s3_dest(bucket, interval=1, size=5), name)
        big = b'B' * MAX_RECORD
        r = self.fh_raw.put_record_batch(DeliveryStreamName=name, Records=[
            {'Data': b'first'}, {'Data': b''}, {'Data': big}, {'Data': b'last'}])
        self.assertEqual(r['FailedPutCount'], 0)
        self.assertEqual(len(r['RequestResponses']), 4)
        self.wait_records(bucket, [b'first', b'last', big])
        time.sleep(1.2)
        objs = self.lines(bucket)
        self.assertEqual(len(objs), 1, 'SizeInMBs 5: one object')
        self.assertEqual(objs[0][1], [b'first', b'', big, b'last'])

    def test_size_trigger_before_interval(self):
        """SizeInMBs 1, IntervalInSeconds 900: 1.5 MiB of records give one object of >= 1 MiB at
        once; the rest (< 1 MiB) waits for the interval."""
        name, bucket = self.uniq('size'), self.uniq('bkt')
        self.create(s3_dest(bucket, interval=900, size=1), name)
        rec_len = 1000
        sent = [(b'%06d' % i).ljust(rec_len - 1, b'.') for i in range(1500)]  # 1000 B with '\n'
        t0 = time.monotonic()
        self.put_batches(name, sent, batch=100)
        objs = self.wait_for(lambda: self.lines(bucket), lambda o: len(o) >= 1, timeout=20,
                             what='an object triggered by size')
        took = time.monotonic() - t0
        self.assertLess(took, 30, 'size trigger took %.1f s' % took)
        time.sleep(2)
        objs = self.lines(bucket)
        delivered = [r for _, recs in objs for r in recs]
        for key, recs in objs:
            size = sum(len(r) + 1 for r in recs)
            self.assertGreaterEqual(size, 1 << 20, 'object %s of %d bytes (< 1 MiB) delivered '
                                                   'before the 900 s interval' % (key, size))
        self.assertLess(len(delivered), len(sent), 'the last < 1 MiB must wait for the interval')
        self.assertEqual(len(set(delivered)), len(delivered))
        self.assertEqual(delivered, sorted(delivered))
        self.assertEqual(delivered, sent[:len(delivered)], 'objects must hold the oldest records')


# ========================================================================== 2. S3 prefixes
class TestPrefixes(FirehoseTestCase):
    label = 'fh-prefix'

    def deliver_one(self, dest_kw, data=b'p'):
        name, bucket = self.uniq('pfx'), self.uniq('bkt')
        self.create(s3_dest(bucket, **dest_kw), name)
        t0 = now_utc()
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': data})
        objs = self.wait_records(bucket, [data])
        self.assertEqual(len(objs), 1, [k for k, _ in objs])
        return name, bucket, objs[0][0], t0

    def test_custom_prefix_gets_default_time_folders(self):
        name, _, key, t0 = self.deliver_one({'prefix': 'sales_revenue/'})
        self.assert_key(key, name, lambda t: 'sales_revenue/' + default_time_prefix(t),
                        t0, now_utc())

    def test_prefix_without_trailing_slash_is_literal(self):
        name, _, key, t0 = self.deliver_one({'prefix': 'myFirehosePrefix'})
        self.assert_key(key, name, lambda t: 'myFirehosePrefix' + default_time_prefix(t),
                        t0, now_utc())

    def test_timestamp_expression_with_quoted_literals(self):
        name, _, key, t0 = self.deliver_one({
            'prefix': "!{timestamp:'year='yyyy'/month='MM}/",
            'error_prefix': 'errors/!{firehose:error-output-type}/'})
        # A timestamp expression means no default yyyy/MM/dd/HH/ is appended.
        self.assert_key(key, name, lambda t: re.escape(t.strftime('year=%Y/month=%m/')),
                        t0, now_utc())

    def test_several_timestamp_expressions_and_random_string(self):
        name, _, key, t0 = self.deliver_one({
            'prefix': 'p/y=!{timestamp:yyyy}/m=!{timestamp:MM}/d=!{timestamp:dd}/h=!{timestamp:HH}/'
                      'r=!{firehose:random-string}/',
            'error_prefix': 'e/!{firehose:error-output-type}/!{timestamp:yyyy}/'})
        self.assert_key(key, name,
                        lambda t: re.escape(t.strftime('p/y=%Y/m=%m/d=%d/h=%H/r=')) +
                        r'[0-9A-Za-z-]{11}/', t0, now_utc())

    def test_random_string_only_gets_default_time(self):
        name, _, key, t0 = self.deliver_one({
            'prefix': 'rand=!{firehose:random-string}/',
            'error_prefix': 'err/!{firehose:error-output-type}/'})
        self.assert_key(key, name, lambda t: r'rand=[0-9A-Za-z-]{11}/' + default_time_prefix(t),
                        t0, now_utc())

    def test_bad_prefixes_are_rejected(self):
        cases = [
            # rule 3: expressions in Prefix need an ErrorOutputPrefix
            ('expressions without ErrorOutputPrefix', '!{timestamp:yyyy/MM/dd}', None,
             "ErrorOutputPrefix can't be null when Prefix contains expressions"),
            ('expressions with empty ErrorOutputPrefix', 'a/!{timestamp:yyyy}/', '',
             "ErrorOutputPrefix can't be null when Prefix contains expressions"),
            ('random-string without ErrorOutputPrefix', 'r/!{firehose:random-string}/', None,
             "ErrorOutputPrefix can't be null when Prefix contains expressions"),
            # rule 2: '!{' only as the start of an expression
            ('unterminated !{', 'data/!{timestamp:yyyy', 'e/!{firehose:error-output-type}/', None),
            ('!{ without namespace', 'data/!{}/', 'e/!{firehose:error-output-type}/', None),
            ('!{ not an expression', 'data!{abc/', 'e/', None),
            ('!{ in ErrorOutputPrefix', 'data/', 'err!{/', None),
            ('unknown namespace', 'data/!{nosuch:thing}/', 'e/!{firehose:error-output-type}/', None),
            # rule 4: ErrorOutputPrefix expressions must include error-output-type
            ('ErrorOutputPrefix without error-output-type', 'data/!{timestamp:yyyy}/',
             'err/!{timestamp:yyyy}/', None),
            # rule 5: error-output-type only in ErrorOutputPrefix
            ('error-output-type in Prefix', 'data/!{firehose:error-output-type}/',
             'err/!{firehose:error-output-type}/', None),
            ('error-output-type in Prefix, no ErrorOutputPrefix',
             'data/!{firehose:error-output-type}/', None, None),
        ]
        for what, prefix, error_prefix, message in cases:
            with self.subTest(what, prefix=prefix, error_prefix=error_prefix):
                name, bucket = self.uniq('bad'), self.uniq('bkt')
                e = self.assert_error('InvalidArgumentException',
                                      self.fh_raw.create_delivery_stream, DeliveryStreamName=name,
                                      ExtendedS3DestinationConfiguration=s3_dest(
                                          bucket, prefix=prefix, error_prefix=error_prefix))
                if message:
                    self.assertIn(message, e.response['Error']['Message'])
                self.assert_not_exists(name)
        with self.subTest('Prefix longer than 1024 characters'):
            name = self.uniq('long')
            self.assert_error(('InvalidArgumentException', 'ValidationException'),
                              self.fh_raw.create_delivery_stream, DeliveryStreamName=name,
                              ExtendedS3DestinationConfiguration=s3_dest('b', prefix='a' * 1025))
            self.assert_not_exists(name)

    def test_update_destination_prefix_applies_to_later_objects(self):
        name, bucket = self.uniq('upd'), self.uniq('bkt')
        self.create(s3_dest(bucket, prefix='before/'), name)
        t0 = now_utc()
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'v1'})
        self.wait_records(bucket, [b'v1'])
        d = self.describe(name)
        self.assertEqual(d['VersionId'], '1')
        # Bad prefix: rejected, nothing changes.
        self.assert_error('InvalidArgumentException', self.fh.update_destination,
                          DeliveryStreamName=name, CurrentDeliveryStreamVersionId='1',
                          DestinationId='destinationId-000000000001',
                          ExtendedS3DestinationUpdate={'Prefix': 'x/!{timestamp:yyyy}/'})
        self.assertEqual(self.describe(name)['VersionId'], '1')
        self.fh.update_destination(DeliveryStreamName=name, CurrentDeliveryStreamVersionId='1',
                                   DestinationId='destinationId-000000000001',
                                   ExtendedS3DestinationUpdate={'Prefix': 'after/'})
        d = self.describe(name)
        self.assertEqual(d['VersionId'], '2')
        dd = d['Destinations'][0]['ExtendedS3DestinationDescription']
        self.assertEqual(dd['Prefix'], 'after/')
        # Merge: fields not in the update are kept.
        self.assertEqual(dd['BucketARN'], 'arn:aws:s3:::%s' % bucket)
        self.assertEqual(dd['BufferingHints'], {'SizeInMBs': 1, 'IntervalInSeconds': 1})
        self.assertEqual(dd['ProcessingConfiguration']['Processors'],
                         [{'Type': 'AppendDelimiterToRecord'}])
        self.assertGreaterEqual(d['LastUpdateTimestamp'], d['CreateTimestamp'])
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'v2'})
        objs = self.wait_records(bucket, [b'v1', b'v2'])
        self.assertEqual(len(objs), 2, objs)
        by_rec = {recs[0]: key for key, recs in objs}
        self.assertEqual(sorted(r for _, recs in objs for r in recs), [b'v1', b'v2'])
        self.assert_key(by_rec[b'v1'], name, lambda t: 'before/' + default_time_prefix(t),
                        t0, now_utc(), version=1)
        self.assert_key(by_rec[b'v2'], name, lambda t: 'after/' + default_time_prefix(t),
                        t0, now_utc(), version=2)


# ===================================================================== 3. control plane
class TestControlPlane(FirehoseTestCase):
    label = 'fh-control'

    def test_describe(self):
        name, bucket = self.uniq('desc'), self.uniq('bkt')
        before = now_utc()
        resp = self.fh.create_delivery_stream(
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + bucket})
        self.assertEqual(resp['DeliveryStreamARN'], delivery_arn(name))
        d = self.describe(name)
        self.assertEqual(d['DeliveryStreamName'], name)
        self.assertEqual(d['DeliveryStreamARN'], delivery_arn(name))
        self.assertEqual(d['DeliveryStreamStatus'], 'ACTIVE')
        self.assertEqual(d['DeliveryStreamType'], 'DirectPut')
        self.assertEqual(d['VersionId'], '1')
        self.assertIs(d['HasMoreDestinations'], False)
        self.assertLess(abs((d['CreateTimestamp'] - before).total_seconds()), 60)
        self.assertEqual(len(d['Destinations']), 1)
        dest = d['Destinations'][0]
        self.assertEqual(dest['DestinationId'], 'destinationId-000000000001')
        e = dest['ExtendedS3DestinationDescription']
        self.assertEqual(e['BucketARN'], 'arn:aws:s3:::' + bucket)
        self.assertEqual(e['RoleARN'], ROLE)
        self.assertEqual(e['BufferingHints'], {'SizeInMBs': 5, 'IntervalInSeconds': 300})
        self.assertEqual(e['CompressionFormat'], 'UNCOMPRESSED')
        self.assertNotIn('Source', d)

        # Duplicate name.
        self.assert_error('ResourceInUseException', self.fh.create_delivery_stream,
                          DeliveryStreamName=name,
                          ExtendedS3DestinationConfiguration=s3_dest('other'))

    def test_describe_kinesis_source(self):
        src = harness.create_stream(self.k, self.uniq('src'), 1)
        name = self.uniq('ksrc')
        self.fh.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': stream_arn(src), 'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration=s3_dest(self.uniq('bkt'), compression='GZIP'))
        d = self.describe(name)
        self.assertEqual(d['DeliveryStreamType'], 'KinesisStreamAsSource')
        self.assertEqual(d['DeliveryStreamStatus'], 'ACTIVE')
        self.assertEqual(d['Source']['KinesisStreamSourceDescription']['KinesisStreamARN'],
                         stream_arn(src))
        e = d['Destinations'][0]['ExtendedS3DestinationDescription']
        self.assertEqual(e['CompressionFormat'], 'GZIP')
        self.assertEqual(e['BufferingHints'], {'SizeInMBs': 1, 'IntervalInSeconds': 1})

    def list_all(self, limit=None, type_=None):
        names, start, pages = [], None, 0
        for _ in range(1000):
            kw = {}
            if limit:
                kw['Limit'] = limit
            if type_:
                kw['DeliveryStreamType'] = type_
            if start:
                kw['ExclusiveStartDeliveryStreamName'] = start
            resp = self.fh.list_delivery_streams(**kw)
            pages += 1
            if limit:
                self.assertLessEqual(len(resp['DeliveryStreamNames']), limit)
            names.extend(resp['DeliveryStreamNames'])
            if not resp['HasMoreDeliveryStreams']:
                return names, pages
            self.assertTrue(resp['DeliveryStreamNames'], 'HasMore with an empty page')
            start = resp['DeliveryStreamNames'][-1]
        self.fail('ListDeliveryStreams never ended')

    def test_list_pagination_and_type_filter(self):
        tag = harness.unique_name('lst')
        direct = ['%s-d%d' % (tag, i) for i in (3, 0, 4, 1, 2)]
        for n in direct:
            self.create(s3_dest('b-' + n), n)
        src = harness.create_stream(self.k, self.uniq('src'), 1)
        ksrc = ['%s-k%d' % (tag, i) for i in range(2)]
        for n in ksrc:
            self.fh.create_delivery_stream(
                DeliveryStreamName=n, DeliveryStreamType='KinesisStreamAsSource',
                KinesisStreamSourceConfiguration={'KinesisStreamARN': stream_arn(src),
                                                  'RoleARN': ROLE},
                ExtendedS3DestinationConfiguration=s3_dest('b-' + n))
        everything, _ = self.list_all()
        self.assertEqual(everything, sorted(everything), 'not alphabetical')
        mine = [n for n in everything if n.startswith(tag)]
        self.assertEqual(mine, sorted(direct + ksrc))
        paged, pages = self.list_all(limit=2)
        self.assertEqual(paged, everything)
        self.assertGreaterEqual(pages, 4)
        # Default limit 10 and exclusive start.
        resp = self.fh.list_delivery_streams(ExclusiveStartDeliveryStreamName=sorted(direct)[1])
        self.assertEqual(resp['DeliveryStreamNames'][:3], sorted(direct)[2:] + [])
        self.assertLessEqual(len(resp['DeliveryStreamNames']), 10)
        resp = self.fh.list_delivery_streams(Limit=1,
                                             ExclusiveStartDeliveryStreamName=sorted(direct)[0])
        self.assertEqual(resp['DeliveryStreamNames'], [sorted(direct)[1]])
        self.assertIs(resp['HasMoreDeliveryStreams'], True)
        k_only, _ = self.list_all(type_='KinesisStreamAsSource')
        self.assertEqual([n for n in k_only if n.startswith(tag)], sorted(ksrc))
        for n in k_only:
            self.assertEqual(self.describe(n)['DeliveryStreamType'], 'KinesisStreamAsSource')
        d_only, _ = self.list_all(limit=3, type_='DirectPut')
        self.assertEqual([n for n in d_only if n.startswith(tag)], sorted(direct))
        self.assertFalse(set(d_only) & set(k_only))

    def test_delete(self):
        name, bucket = self.uniq('del'), self.uniq('bkt')
        self.create(s3_dest(bucket, interval=900), name)
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'old'})
        self.assertIsNotNone(self.fh.delete_delivery_stream(DeliveryStreamName=name))
        self.assert_not_exists(name)
        self.assertNotIn(name, self.list_all()[0])
        self.assert_error('ResourceNotFoundException', self.fh.delete_delivery_stream,
                          DeliveryStreamName=name)
        self.assert_error('ResourceNotFoundException', self.fh.put_record,
                          DeliveryStreamName=name, Record={'Data': b'x'})
        self.assert_error('ResourceNotFoundException', self.fh.put_record_batch,
                          DeliveryStreamName=name, Records=[{'Data': b'x'}])
        self.assert_error('ResourceNotFoundException', self.fh.update_destination,
                          DeliveryStreamName=name, CurrentDeliveryStreamVersionId='1',
                          DestinationId='destinationId-000000000001',
                          ExtendedS3DestinationUpdate={'Prefix': 'x/'})
        # A new stream of the same name starts empty: the old record is never delivered.
        self.create(s3_dest(bucket, interval=1), name)
        self.assertEqual(self.describe(name)['VersionId'], '1')
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'new'})
        self.wait_records(bucket, [b'new'])
        time.sleep(1.2)
        self.assertEqual([r for _, recs in self.lines(bucket) for r in recs], [b'new'])

    def test_update_destination_versions(self):
        name, bucket = self.uniq('ver'), self.uniq('bkt')
        self.create(s3_dest(bucket, interval=900, size=5), name)
        kw = dict(DeliveryStreamName=name, DestinationId='destinationId-000000000001')
        self.assert_error('ConcurrentModificationException', self.fh.update_destination,
                          CurrentDeliveryStreamVersionId='2',
                          ExtendedS3DestinationUpdate={'Prefix': 'x/'}, **kw)
        self.assertEqual(self.describe(name)['VersionId'], '1')
        self.fh.update_destination(CurrentDeliveryStreamVersionId='1',
                                   ExtendedS3DestinationUpdate={
                                       'BufferingHints': {'SizeInMBs': 2, 'IntervalInSeconds': 1},
                                       'CompressionFormat': 'GZIP'}, **kw)
        d = self.describe(name)
        self.assertEqual(d['VersionId'], '2')
        dd = d['Destinations'][0]['ExtendedS3DestinationDescription']
        self.assertEqual(dd['BufferingHints'], {'SizeInMBs': 2, 'IntervalInSeconds': 1})
        self.assertEqual(dd['CompressionFormat'], 'GZIP')
        self.assert_error('ConcurrentModificationException', self.fh.update_destination,
                          CurrentDeliveryStreamVersionId='1',
                          ExtendedS3DestinationUpdate={'Prefix': 'x/'}, **kw)
        # The new interval and compression apply: delivered within seconds, gzip, version 2.
        t0 = now_utc()
        self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'after-update'})
        objs = self.wait_records(bucket, [b'after-update'], gz=True)
        self.assert_key(objs[0][0], name, default_time_prefix, t0, now_utc(), version=2, ext='.gz')
        # Unsupported update / unsupported values in the update.
        self.assert_error('InvalidArgumentException', self.fh.update_destination,
                          CurrentDeliveryStreamVersionId='2',
                          ExtendedS3DestinationUpdate={'CompressionFormat': 'Snappy'}, **kw)
        self.assert_error('InvalidArgumentException', self.fh.update_destination,
                          CurrentDeliveryStreamVersionId='2',
                          HttpEndpointDestinationUpdate={
                              'EndpointConfiguration': {'Url': 'https://example.com'}}, **kw)
        self.assertEqual(self.describe(name)['VersionId'], '2')
        self.fh.update_destination(CurrentDeliveryStreamVersionId='2',
                                   ExtendedS3DestinationUpdate={'Prefix': 'v3/'}, **kw)
        self.assertEqual(self.describe(name)['VersionId'], '3')

    def test_unknown_stream_is_resource_not_found(self):
        name = self.uniq('none')
        for fn, kw in [(self.fh.describe_delivery_stream, {}),
                       (self.fh.delete_delivery_stream, {}),
                       (self.fh.put_record, {'Record': {'Data': b'x'}}),
                       (self.fh.put_record_batch, {'Records': [{'Data': b'x'}]}),
                       (self.fh.update_destination, {
                           'CurrentDeliveryStreamVersionId': '1',
                           'DestinationId': 'destinationId-000000000001',
                           'ExtendedS3DestinationUpdate': {'Prefix': 'p/'}})]:
            with self.subTest(fn.__name__):
                self.assert_error('ResourceNotFoundException', fn, DeliveryStreamName=name, **kw)

    def check_rejected(self, what, name, **request):
        with self.subTest(what):
            # harness.call: as raw JSON where this botocore's model lacks a member (CustomTimeZone
            # before botocore 1.34.44).
            self.assert_error('InvalidArgumentException', harness.call, self.server, self.fh_raw,
                              'CreateDeliveryStream', DeliveryStreamName=name, **request)
            self.assert_not_exists(name)

    def test_unsupported_configurations_are_rejected(self):
        b = self.uniq('bkt')
        src = harness.create_stream(self.k, self.uniq('src'), 1)

        def lam(arn):
            return {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
                {'ParameterName': 'LambdaArn', 'ParameterValue': arn}]}]}
        cases = [
            # This server was started without --lambda: no function is known to it.
            ('Lambda processor of a function the server does not know', {
                'ExtendedS3DestinationConfiguration': s3_dest(b, ProcessingConfiguration=lam(
                    'arn:aws:lambda:us-east-1:000000000000:function:f'))}),
            # Where a function runs is the server's flag, never the caller's LambdaArn.
            ('Lambda processor with an exec: LambdaArn', {'ExtendedS3DestinationConfiguration':
                                                          s3_dest(b, ProcessingConfiguration=lam('exec:true'))}),
            ('Lambda processor with a python: LambdaArn', {'ExtendedS3DestinationConfiguration': s3_dest(
                b, ProcessingConfiguration=lam('python:' + os.path.abspath(__file__)))}),
            ('Lambda processor with an http:// LambdaArn', {'ExtendedS3DestinationConfiguration': s3_dest(
                b, ProcessingConfiguration=lam('http://127.0.0.1:9/invoke'))}),
            ('MetadataExtraction processor without dynamic partitioning', {'ExtendedS3DestinationConfiguration': s3_dest(
                b, ProcessingConfiguration={'Enabled': True, 'Processors': [
                    {'Type': 'MetadataExtraction', 'Parameters': [
                        {'ParameterName': 'MetadataExtractionQuery', 'ParameterValue': '{k:.k}'},
                        {'ParameterName': 'JsonParsingEngine', 'ParameterValue': 'JQ-1.6'}]}]})}),
            ('dynamic partitioning', {'ExtendedS3DestinationConfiguration': s3_dest(
                b, prefix='k=!{partitionKeyFromQuery:k}/',
                error_prefix='e/!{firehose:error-output-type}/',
                DynamicPartitioningConfiguration={'Enabled': True})}),
            ('ZIP', {'ExtendedS3DestinationConfiguration': s3_dest(b, compression='ZIP')}),
            ('Snappy', {'ExtendedS3DestinationConfiguration': s3_dest(b, compression='Snappy')}),
            ('HADOOP_SNAPPY', {'ExtendedS3DestinationConfiguration':
                               s3_dest(b, compression='HADOOP_SNAPPY')}),
            ('HTTP endpoint and S3 destinations together', {
                'ExtendedS3DestinationConfiguration': s3_dest(b),
                'HttpEndpointDestinationConfiguration': {
                    'EndpointConfiguration': {'Url': 'https://example.com/ingest'},
                    'S3Configuration': {'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + b}}}),
            ('no destination', {}),
            ('MSKAsSource', {'DeliveryStreamType': 'MSKAsSource',
                             'ExtendedS3DestinationConfiguration': s3_dest(b)}),
            ('KinesisStreamAsSource without source configuration', {
                'DeliveryStreamType': 'KinesisStreamAsSource',
                'ExtendedS3DestinationConfiguration': s3_dest(b)}),
            ('KinesisStreamAsSource of a missing stream', {
                'DeliveryStreamType': 'KinesisStreamAsSource',
                'KinesisStreamSourceConfiguration': {
                    'KinesisStreamARN': stream_arn(self.uniq('missing')), 'RoleARN': ROLE},
                'ExtendedS3DestinationConfiguration': s3_dest(b)}),
            ('DirectPut with a Kinesis source configuration', {
                'DeliveryStreamType': 'DirectPut',
                'KinesisStreamSourceConfiguration': {'KinesisStreamARN': stream_arn(src),
                                                     'RoleARN': ROLE},
                'ExtendedS3DestinationConfiguration': s3_dest(b)}),
        ]
        for what, request in cases:
            self.check_rejected(what, self.uniq('uns'), **request)
        # Not a bucket ARN: the model's pattern (arn:.*:s3:::[\w\.\-]{1,255}) or eddy rejects it.
        for what, arn in [('bad BucketARN', 'arn:aws:s3:::bucket/with/key'),
                          ('not an S3 BucketARN', 'arn:aws:sqs:us-east-1:000000000000:q')]:
            with self.subTest(what):
                name = self.uniq('arn')
                self.assert_error(('InvalidArgumentException', 'ValidationException'),
                                  self.fh_raw.create_delivery_stream, DeliveryStreamName=name,
                                  ExtendedS3DestinationConfiguration={'RoleARN': ROLE,
                                                                      'BucketARN': arn})
                self.assert_not_exists(name)

    def test_create_with_tags(self):
        """Tags (TagKey pattern ^(?!aws:)[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$) are valid input: the
        stream is created, or tags are refused as unsupported; never a pattern error for 'env'."""
        name = self.uniq('tags')
        try:
            self.fh.create_delivery_stream(DeliveryStreamName=name,
                                           ExtendedS3DestinationConfiguration=s3_dest('b'),
                                           Tags=[{'Key': 'env', 'Value': 'test-1'}])
        except ClientError as e:
            self.assertEqual(e.response['Error']['Code'], 'InvalidArgumentException',
                             'valid Tags refused: %s' % e.response['Error'])
            self.assert_not_exists(name)
            return
        self.assertEqual(self.describe(name)['DeliveryStreamStatus'], 'ACTIVE')

    def test_unimplemented_options_are_not_silently_accepted(self):
        """Options that would change what is written (and that eddy does not implement) must be
        rejected rather than ignored."""
        b = self.uniq('bkt')
        cases = [
            ('S3 backup enabled', s3_dest(b, S3BackupMode='Enabled', S3BackupConfiguration={
                'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + b + '-backup'})),
            ('data format conversion', s3_dest(b, size=64, DataFormatConversionConfiguration={
                'Enabled': True,
                'SchemaConfiguration': {'RoleARN': ROLE, 'DatabaseName': 'db', 'TableName': 't'},
                'InputFormatConfiguration': {'Deserializer': {'OpenXJsonSerDe': {}}},
                'OutputFormatConfiguration': {'Serializer': {'ParquetSerDe': {}}}})),
            ('custom time zone', s3_dest(b, CustomTimeZone='America/New_York')),
        ]
        for what, dest in cases:
            self.check_rejected(what, self.uniq('opt'), ExtendedS3DestinationConfiguration=dest)

    def test_list_tags_gives_the_tags_of_create(self):
        name = self.uniq('tags')
        self.fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration=s3_dest(self.uniq('bkt')),
                                       Tags=[{'Key': 'eddy:pipeline', 'Value': 'p'}])
        r = self.fh.list_tags_for_delivery_stream(DeliveryStreamName=name)
        self.assertEqual(r['Tags'], [{'Key': 'eddy:pipeline', 'Value': 'p'}])
        self.assertFalse(r['HasMoreTags'])
        self.assertEqual(self.fh.list_tags_for_delivery_stream(DeliveryStreamName=self.create(s3_dest(self.uniq('bkt'))))['Tags'], [])
        self.assert_error('ResourceNotFoundException', self.fh.list_tags_for_delivery_stream, DeliveryStreamName=self.uniq('none'))

    def test_unsupported_operations(self):
        name = self.create(s3_dest(self.uniq('bkt')))
        for fn, kw in [(self.fh.tag_delivery_stream, {'Tags': [{'Key': 'env', 'Value': 'test'}]}),
                       (self.fh.start_delivery_stream_encryption, {})]:
            with self.subTest(fn.__name__):
                e = self.assert_error('InvalidArgumentException', fn, DeliveryStreamName=name, **kw)
                self.assertIn('not supported', e.response['Error']['Message'])


# ================================================================ 4. PutRecord(Batch) input
class TestPutValidation(FirehoseTestCase):
    label = 'fh-put'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.name = harness.unique_name('val')
        cls.bucket = harness.unique_name('valbkt')
        cls.fh.create_delivery_stream(DeliveryStreamName=cls.name,
                                      ExtendedS3DestinationConfiguration=s3_dest(cls.bucket,
                                                                                 interval=900,
                                                                                 size=128))

    def test_batch_of_501_records(self):
        e = self.assert_error('ValidationException', self.fh_raw.put_record_batch,
                              DeliveryStreamName=self.name, Records=[{'Data': b'x'}] * 501)
        self.assertIn('less than or equal to 500', e.response['Error']['Message'])
        r = self.fh_raw.put_record_batch(DeliveryStreamName=self.name, Records=[{'Data': b'x'}] * 500)
        self.assertEqual(r['FailedPutCount'], 0)
        self.assertEqual(len(r['RequestResponses']), 500)
        self.assertEqual(len({x['RecordId'] for x in r['RequestResponses']}), 500)

    def test_empty_batch(self):
        self.assert_error(('ValidationException', 'InvalidArgumentException'),
                          self.fh_raw.put_record_batch, DeliveryStreamName=self.name, Records=[])

    def test_record_too_large(self):
        msg = 'Member must have length less than or equal to 1024000'
        e = self.assert_error('ValidationException', self.fh_raw.put_record,
                              DeliveryStreamName=self.name, Record={'Data': b'x' * (MAX_RECORD + 1)})
        self.assertIn(msg, e.response['Error']['Message'])
        e = self.assert_error('ValidationException', self.fh_raw.put_record_batch,
                              DeliveryStreamName=self.name,
                              Records=[{'Data': b'a'}, {'Data': b'x' * (MAX_RECORD + 1)}])
        self.assertIn(msg, e.response['Error']['Message'])
        r = self.fh_raw.put_record(DeliveryStreamName=self.name, Record={'Data': b'x' * MAX_RECORD})
        self.assertTrue(r['RecordId'])

    def test_batch_over_4_mib(self):
        e = self.assert_error('InvalidArgumentException', self.fh_raw.put_record_batch,
                              DeliveryStreamName=self.name,
                              Records=[{'Data': b'y' * 1000000}] * 5)
        self.assertIn('4 MiB', e.response['Error']['Message'])
        # 4 x 1,024,000 = 4,096,000 bytes <= 4 MiB is fine.
        r = self.fh_raw.put_record_batch(DeliveryStreamName=self.name,
                                         Records=[{'Data': b'z' * MAX_RECORD}] * 4)
        self.assertEqual(r['FailedPutCount'], 0)

    def test_bad_stream_name(self):
        for bad in ('bad name', 'x' * 65, 'slash/name'):
            with self.subTest(bad=bad):
                self.assert_error(('ValidationException', 'InvalidArgumentException'),
                                  self.fh_raw.create_delivery_stream, DeliveryStreamName=bad,
                                  ExtendedS3DestinationConfiguration=s3_dest('b'))

    def test_missing_record(self):
        self.assert_error(('ValidationException', 'SerializationException',
                           'InvalidArgumentException'),
                          self.fh_raw.put_record, DeliveryStreamName=self.name)


# ======================================================================= 5. Kinesis source
class TestKinesisSource(FirehoseTestCase):
    label = 'fh-ksrc'

    def create_from(self, src, bucket, name=None, **dest_kw):
        name = name or self.uniq('ksrc')
        self.fh.create_delivery_stream(
            DeliveryStreamName=name, DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': stream_arn(src), 'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration=s3_dest(bucket, **dest_kw))
        return name

    def put_kinesis(self, stream, records):
        for i in range(0, len(records), 100):
            chunk = records[i:i + 100]
            resp = self.k.put_records(StreamName=stream, Records=[
                {'Data': r, 'PartitionKey': r.decode()} for r in chunk])
            self.assertEqual(resp['FailedRecordCount'], 0)

    def test_reads_from_latest_and_follows_resharding(self):
        src = harness.create_stream(self.k, self.uniq('src'), 1)
        bucket = self.uniq('bkt')
        before = [b'before-%03d' % i for i in range(30)]
        self.put_kinesis(src, before)
        name = self.create_from(src, bucket)
        self.assertEqual(self.describe(name)['DeliveryStreamStatus'], 'ACTIVE')
        after = [b'after-%03d' % i for i in range(60)]
        t0 = now_utc()
        self.put_kinesis(src, after)
        objs = self.wait_records(bucket, after)
        for key, _ in objs:
            self.assert_key(key, name, default_time_prefix, t0, now_utc())

        # Resharding: 1 -> 2 -> 1 shards; records in parents and children all get delivered.
        self.k.update_shard_count(StreamName=src, TargetShardCount=2, ScalingType='UNIFORM_SCALING')
        harness.wait_exists(self.k, src)
        split = [b'split-%03d' % i for i in range(60)]
        self.put_kinesis(src, split)
        self.k.update_shard_count(StreamName=src, TargetShardCount=1, ScalingType='UNIFORM_SCALING')
        harness.wait_exists(self.k, src)
        merged = [b'merged-%03d' % i for i in range(40)]
        self.put_kinesis(src, merged)
        self.wait_records(bucket, after + split + merged)
        time.sleep(1.5)
        recs = [r for _, rs in self.lines(bucket) for r in rs]
        self.assertEqual(collections.Counter(recs), collections.Counter(after + split + merged),
                         'records before creation must not be delivered; the others exactly once')
        # A partition key maps to one shard; records of one lineage keep their order.
        pos = {r: i for i, r in enumerate(recs)}
        self.assertEqual([r for r in recs if r.startswith(b'after-')], after)
        self.assertLess(max(pos[r] for r in after), min(pos[r] for r in merged))

    def test_stream_resharded_before_creation(self):
        """Records in shards closed before CreateDeliveryStream were put before it: not delivered."""
        src = harness.create_stream(self.k, self.uniq('src'), 1)
        bucket = self.uniq('bkt')
        old1 = [b'old1-%03d' % i for i in range(20)]
        self.put_kinesis(src, old1)
        self.k.update_shard_count(StreamName=src, TargetShardCount=2, ScalingType='UNIFORM_SCALING')
        harness.wait_exists(self.k, src)
        old2 = [b'old2-%03d' % i for i in range(20)]
        self.put_kinesis(src, old2)
        self.create_from(src, bucket)
        new = [b'new-%03d' % i for i in range(40)]
        self.put_kinesis(src, new)
        self.wait_records(bucket, new)
        time.sleep(1.5)
        recs = [r for _, rs in self.lines(bucket) for r in rs]
        self.assertEqual(sorted(recs), sorted(new),
                         'only records put after CreateDeliveryStream may be delivered')

    def test_put_is_not_permitted(self):
        src = harness.create_stream(self.k, self.uniq('src'), 1)
        name = self.create_from(src, self.uniq('bkt'))
        e = self.assert_error('InvalidArgumentException', self.fh.put_record,
                              DeliveryStreamName=name, Record={'Data': b'x'})
        self.assertEqual(e.response['Error']['Message'], NOT_PERMITTED)
        e = self.assert_error('InvalidArgumentException', self.fh.put_record_batch,
                              DeliveryStreamName=name, Records=[{'Data': b'x'}])
        self.assertEqual(e.response['Error']['Message'], NOT_PERMITTED)

    def test_gzip_and_prefix_from_stream(self):
        src = harness.create_stream(self.k, self.uniq('src'), 2)
        bucket = self.uniq('bkt')
        name = self.create_from(src, bucket, compression='GZIP', prefix='from-stream/', interval=0)
        sent = [b'gz-%04d' % i for i in range(200)]
        t0 = now_utc()
        self.put_kinesis(src, sent)
        self.wait_records(bucket, sent, gz=True)
        time.sleep(1.0)
        objs = self.lines(bucket, gz=True)
        self.assertEqual(collections.Counter(r for _, rs in objs for r in rs),
                         collections.Counter(sent))
        for key, _ in objs:
            self.assert_key(key, name, lambda t: 'from-stream/' + default_time_prefix(t), t0,
                            now_utc(), ext='.gz')


# ================================================================ 6. seed pipeline (KDA)
NEWLINE_LAMBDA = """import base64
def lambda_handler(event, context):
    return {'records': [{'recordId': r['recordId'], 'result': 'Ok',
                         'data': base64.b64encode(base64.b64decode(r['data']) + b'\\n').decode()}
                        for r in event['records']]}
"""


NEWLINE_FUNCTION = 'newline'


def newline_lambda_args(directory):
    """`eddy serve` arguments that make the Lambda function NEWLINE_FUNCTION a Python file written
    for AWS Lambda (decodes each record, appends a newline, re-encodes it), written into `directory`
    (which must outlive the server) and run unmodified by eddy's runner."""
    path = os.path.join(directory, 'newline_lambda.py')
    with open(path, 'w') as f:
        f.write(NEWLINE_LAMBDA)
    return ['--lambda', '%s=python:%s' % (NEWLINE_FUNCTION, path)]


def newline_lambda_processing(directory=None):
    """A ProcessingConfiguration whose Lambda is NEWLINE_FUNCTION, by its ARN: the server must have
    been started with newline_lambda_args(...). (`directory` is accepted for older callers and
    unused: a LambdaArn can no longer name a file.)"""
    del directory
    return {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
        {'ParameterName': 'LambdaArn',
         'ParameterValue': 'arn:aws:lambda:%s:%s:function:%s' % (harness.REGION, ACCOUNT, NEWLINE_FUNCTION)}]}]}


def run_seed_pipeline(tc, server, k, fh, destination, lines, uniq):
    """The seed pipeline end to end: a sales stream -> the seed application (STEP 2 s instead of
    60 s) -> a delivery stream with `destination` (an ExtendedS3DestinationConfiguration) ->
    objects. `lines()` returns [(key, [line bytes])] of the destination. Checks every revenue row
    against float32 sums computed from the stored arrival times, and the total against the input's.
    Returns (delivery stream name, objects as lines, time before the first put)."""
    step_sql = kda.SEED_SQL.replace("INTERVAL '60' SECOND", "INTERVAL '2' SECOND")
    tc.assertNotEqual(step_sql, kda.SEED_SQL, 'test bug: the seed SQL changed shape')
    step_ms = 2000
    ka = kda.analytics_client(server)
    src = harness.create_stream(k, uniq('sales'), 2)
    ds = uniq('revenue')
    fh.create_delivery_stream(DeliveryStreamName=ds, ExtendedS3DestinationConfiguration=destination)
    app = uniq('seed')
    ka.create_application(
        ApplicationName=app, ApplicationCode=step_sql,
        Inputs=[kda.kinesis_input(kda.SEED_PREFIX, src, kda.SEED_SCHEMA)],
        Outputs=[{'Name': kda.SEED_OUTPUT,
                  'KinesisFirehoseOutput': {'ResourceARN': delivery_arn(ds), 'RoleARN': ROLE},
                  'DestinationSchema': {'RecordFormatType': 'JSON'}}])
    out = ka.describe_application(ApplicationName=app)['ApplicationDetail']['OutputDescriptions']
    tc.assertEqual(out[0]['KinesisFirehoseOutputDescription']['ResourceARN'], delivery_arn(ds))
    ka.start_application(ApplicationName=app, InputConfigurations=kda.starting('TRIM_HORIZON'))
    deadline = time.monotonic() + 20
    while ka.describe_application(ApplicationName=app)['ApplicationDetail']['ApplicationStatus'] != 'RUNNING':
        tc.assertLess(time.monotonic(), deadline, 'application not RUNNING within 20 s')
        time.sleep(0.1)

    rng = random.Random(4321)
    events = []
    t0 = now_utc()
    for b in range(10):
        batch = [kda.sales_event(rng, len(events) + i) for i in range(15)]
        events.extend(batch)
        resp = k.put_records(StreamName=src, Records=[
            {'Data': json.dumps(e).encode(), 'PartitionKey': e['store_id']} for e in batch])
        tc.assertEqual(resp['FailedRecordCount'], 0)
        time.sleep(0.35)

    # Expected rows: float32 SUM per (2 s window end, store), in arrival order per store.
    stored = []
    for shard in sorted(s['ShardId'] for s in harness.all_shards(k, src)):
        recs, _ = harness.read_shard(k, src, shard)
        stored.extend(recs)
    tc.assertEqual(len(stored), len(events))
    sums = {}
    for r in sorted(stored, key=lambda r: kda.ms_of(r['ApproximateArrivalTimestamp'])):
        at = kda.ms_of(r['ApproximateArrivalTimestamp'])
        ev = json.loads(r['Data'])
        key = (kda.sql_timestamp((at // step_ms + 1) * step_ms), ev['store_id'])
        sums[key] = kda.f32(sums.get(key, 0.0) + kda.f32(ev['sales']))
    last_end = max((kda.ms_of(r['ApproximateArrivalTimestamp']) // step_ms + 1) * step_ms for r in stored)
    deadline = time.monotonic() + max(0.0, last_end / 1000.0 - time.time()) + 12

    def rows():
        out = []
        for _, recs in lines():
            for line in recs:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    tc.fail('object line is not JSON: %r' % line)
        return out
    while len(rows()) < len(sums):
        tc.assertLess(time.monotonic(), deadline, '%d revenue rows not delivered in time; got %d\n%s'
                      % (len(sums), len(rows()), server.log_tail(20)))
        time.sleep(0.25)
    time.sleep(1.5)  # anything late must not be a duplicate
    got = rows()
    for row in got:
        tc.assertEqual(set(row), {'store_id', 'revenue', 'timestamp'}, row)
        tc.assertIn(row['store_id'], kda.STORES)
    keys = collections.Counter((r['timestamp'], r['store_id']) for r in got)
    tc.assertEqual([k for k, n in keys.items() if n > 1], [], 'rows delivered twice')
    tc.assertEqual(set(keys), set(sums), 'windows x stores delivered')
    for row in got:
        want = sums[(row['timestamp'], row['store_id'])]
        tc.assertAlmostEqual(row['revenue'], want, delta=max(1e-3, abs(want) * 1e-6), msg=row)
    total_sales = sum(e['sales'] for e in events)
    total_revenue = sum(r['revenue'] for r in got)
    tc.assertAlmostEqual(total_revenue, total_sales, delta=max(0.05, total_sales * 1e-5))
    ka.stop_application(ApplicationName=app)
    return ds, lines(), t0


class TestSeedPipeline(FirehoseTestCase):
    label = 'fh-seed'

    @classmethod
    def setUpClass(cls):
        # The newline function is the server's: --lambda newline=python:<file in lambda_dir>.
        cls.lambda_dir = tempfile.mkdtemp(prefix='eddy-seed-lambda-')
        cls.extra_args = tuple(newline_lambda_args(cls.lambda_dir))
        try:
            super().setUpClass()
        except BaseException:
            shutil.rmtree(cls.lambda_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.lambda_dir, ignore_errors=True)

    def check_keys(self, ds, objs, t0):
        self.assertTrue(objs)
        for key, _ in objs:
            self.assert_key(key, ds, lambda t: 'sales_revenue/' + default_time_prefix(t), t0, now_utc())

    def test_sales_to_application_to_delivery_stream(self):
        bucket = self.uniq('bkt')
        ds, objs, t0 = run_seed_pipeline(self, self.server, self.k, self.fh,
                                         s3_dest(bucket, prefix='sales_revenue/', interval=1),
                                         lambda: self.lines(bucket), self.uniq)
        self.check_keys(ds, objs, t0)

    def test_seed_pipeline_with_the_python_lambda_newline_transform(self):
        bucket = self.uniq('bkt')
        dest = s3_dest(bucket, prefix='sales_revenue/', interval=1, delimiter=False,
                       ProcessingConfiguration=newline_lambda_processing())
        ds, objs, t0 = run_seed_pipeline(self, self.server, self.k, self.fh, dest,
                                         lambda: self.lines(bucket), self.uniq)
        self.check_keys(ds, objs, t0)


# ============================================================================ 7. crashes
THREADS = 4
BATCH = 50
ROUNDS = 5
SETTLE_S = 1.5


class CrashBase(FirehoseTestCase):
    extra_args = ('--fsync', 'always')

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.seed = int(os.environ.get('EDDY_CRASH_SEED', str(int(time.time() * 1000) % 1000000)))
        cls.ctx = 'seed=%d (EDDY_CRASH_SEED to reproduce)' % cls.seed

    def put_one_batch(self, client, records):
        """Returns True if acknowledged; False if the server went away; raises on anomalies."""
        raise NotImplementedError

    def writer(self, rnd, t, client, acked, sent, anomalies, stop):
        rng = random.Random((self.seed << 12) | (rnd << 4) | t)
        for b in range(100000):
            if stop.is_set():
                return
            batch = [('r%d-t%d-b%d-%d|' % (rnd, t, b, i)).encode() +
                     rng.randbytes(rng.randint(4, 40)).hex().encode() for i in range(BATCH)]
            sent.extend(batch)
            try:
                ok = self.put_one_batch(client, batch)
            except ClientError as e:
                anomalies.append('put failed with an HTTP answer: %s' % e)
                return
            except Exception:  # killed mid-request: this batch is not acknowledged
                return
            if ok is not True:
                anomalies.append('unexpected answer: %r' % (ok,))
                return
            acked.extend(batch)

    def watch_delivery(self, bucket, deadline, target):
        """Polls (about every half millisecond) until `target` is seen: 'intent' (the delivery
        stream's intent file exists; a delivery is under way) or 'object' (a new finished file
        in the bucket directory). Returns the target, or 'time' at the deadline."""
        root = self.bucket_dir(bucket)
        intent = os.path.join(self.server.data_dir, 'deliveries', self.ds_name, 'intent.json')

        def files():
            return {os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs}
        known = files()
        old_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.0005)
        try:
            while time.monotonic() < deadline:
                if target == 'intent' and os.path.exists(intent):
                    return 'intent'
                if target == 'object' and files() - known:
                    return 'object'
                time.sleep(0.0005)
        finally:
            sys.setswitchinterval(old_interval)
        return 'time'

    def crash_rounds(self, bucket, clients_factory):
        rng = random.Random(self.seed)
        started = time.monotonic()
        acked_all, sent_all = [], set()
        history = []
        for rnd in range(ROUNDS):
            self.assertLess(time.monotonic() - started, 90, 'time budget; %s' % self.ctx)
            stop = threading.Event()
            acked = [[] for _ in range(THREADS)]
            sent = [[] for _ in range(THREADS)]
            anomalies = []
            clients = [clients_factory() for _ in range(THREADS)]
            threads = [threading.Thread(target=self.writer, daemon=True,
                                        args=(rnd, t, clients[t], acked[t], sent[t], anomalies,
                                              stop)) for t in range(THREADS)]
            t_start = time.monotonic()
            for th in threads:
                th.start()
            delay = rng.uniform(0.4, 2.0)
            trigger = 'time'
            if rnd % 2:
                # Kill during a delivery: rounds 1, 5, ... as soon as the intent file exists (the
                # object's key and source ranges are fixed), rounds 3, 7, ... as soon as a new
                # object appears (before the delivery's position is saved). With interval 1 s a
                # delivery starts within the 2.5 s watch; else the kill is at its end.
                time.sleep(0.3)
                trigger = self.watch_delivery(bucket, time.monotonic() + 2.5,
                                              'intent' if rnd % 4 == 1 else 'object')
                delay = time.monotonic() - t_start
            else:
                time.sleep(delay)
            self.server.kill9()
            stop.set()
            for th in threads:
                th.join(timeout=30)
                self.assertFalse(th.is_alive(), 'writer stuck after kill -9')
            self.assertEqual(anomalies, [], self.ctx)
            for a in acked:
                acked_all.extend(a)
            for s in sent:
                sent_all.update(s)
            n_round = sum(len(a) for a in acked)

            self.server.start()
            self.connect()
            want = set(acked_all)
            deadline = time.monotonic() + 20
            while True:
                objs = self.lines(bucket)
                have = collections.Counter(r for _, recs in objs for r in recs)
                dups = [r for r, n in have.items() if n > 1]
                self.assertEqual(dups[:10], [], 'round %d (kill after %.2f s): %d records in '
                                 'more than one place; %s' % (rnd, delay, len(dups), self.ctx))
                if want <= set(have):
                    break
                if time.monotonic() > deadline:
                    missing = want - set(have)
                    self.fail('round %d (kill after %.2f s): %d of %d acknowledged records not '
                              'delivered within 20 s after restart, e.g. %s; %s\n%s'
                              % (rnd, delay, len(missing), len(want), sorted(missing)[:5],
                                 self.ctx, self.server.log_tail(20)))
                time.sleep(0.2)
            time.sleep(SETTLE_S)  # anything delivered late must not be a duplicate either
            objs = self.lines(bucket)
            have = collections.Counter(r for _, recs in objs for r in recs)
            dups = [r for r, n in have.items() if n > 1]
            self.assertEqual(dups[:10], [], 'round %d (kill after %.2f s): records delivered '
                             'twice; %s' % (rnd, delay, self.ctx))
            strangers = set(have) - sent_all
            self.assertEqual(sorted(strangers)[:5], [], 'records never sent; %s' % self.ctx)
            staging = os.path.join(self.server.data_dir, 'bucket', '.eddy-staging')
            staged = os.listdir(staging) if os.path.isdir(staging) else []
            self.assertEqual(staged, [], 'partial objects left staged after the restart; %s' % self.ctx)
            history.append((trigger, round(delay, 2), n_round, len(objs)))
        self.assertGreater(len(acked_all), 0)
        print('\n%s %s: rounds (kill trigger, kill delay s, acked, objects) %s; acked %d, %.1f s'
              % (type(self).__name__, self.ctx, history, len(acked_all),
                 time.monotonic() - started))


class TestCrashDirectPut(CrashBase):
    label = 'fh-crash-dp'

    def put_one_batch(self, client, records):
        resp = client.put_record_batch(DeliveryStreamName=self.name,
                                       Records=[{'Data': r} for r in records])
        return (resp['FailedPutCount'] == 0 and len(resp['RequestResponses']) == len(records)
                and all('RecordId' in x for x in resp['RequestResponses'])) or resp

    def test_kill9_every_acknowledged_record_exactly_once(self):
        self.name, bucket = self.uniq('crash'), self.uniq('bkt')
        self.ds_name = self.name
        self.create(s3_dest(bucket, interval=1), self.name)
        self.crash_rounds(bucket, lambda: firehose_client(self.server, connect_timeout=2,
                                                          read_timeout=20))


class TestCrashKinesisSource(CrashBase):
    label = 'fh-crash-ks'

    def put_one_batch(self, client, records):
        resp = client.put_records(StreamName=self.src, Records=[
            {'Data': r, 'PartitionKey': r[:24].decode()} for r in records])
        return (resp['FailedRecordCount'] == 0 and
                all('SequenceNumber' in x for x in resp['Records'])) or resp

    def test_kill9_every_record_put_after_creation_exactly_once(self):
        self.src = harness.create_stream(self.k, self.uniq('src'), 2)
        bucket = self.uniq('bkt')
        self.ds_name = self.uniq('ksrc')
        self.fh.create_delivery_stream(
            DeliveryStreamName=self.ds_name, DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': stream_arn(self.src),
                                              'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration=s3_dest(bucket, interval=1))
        self.crash_rounds(bucket, lambda: self.server.client(connect_timeout=2, read_timeout=20))


if __name__ == '__main__':
    unittest.main()
