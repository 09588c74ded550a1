"""Issue 21, "Safe under hostile input": no host access through the API.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_hostile_host

What is checked:
  - A Firehose Lambda processor whose LambdaArn is a command or a file ("exec:touch FILE",
    "python:/etc/passwd") is InvalidArgumentException at CreateDeliveryStream (and at
    UpdateDestination), and the command never runs (FILE never appears, also after records were
    put and a few seconds passed).
  - What runs is the server's decision: with `eddy serve --lambda up=python:HANDLER`, a delivery
    stream whose LambdaArn is arn:aws:lambda:us-east-1:000000000000:function:up delivers the records
    transformed by HANDLER.
  - kinesisanalytics DiscoverInputSchema with S3Configuration FileKey "/etc/passwd",
    "../../../etc/passwd" (a canary passwd file sits where that leads) or a deeper climb is
    InvalidArgumentException, and no answer contains "root:"; a FileKey inside the bucket works.
  - kinesisanalyticsv2 CreateApplication (FLINK-1_20) with S3ContentLocation FileKey naming a file
    outside the bucket ("/usr/lib/x86_64-linux-gnu/libc.so.6", "../../x.so" where a real job
    library sits, the absolute path of a real job library) is InvalidArgumentException and creates
    nothing; the same library inside the bucket is accepted.
"""

import json
import os
import shutil
import tempfile
import time
import unittest

from botocore.exceptions import ClientError

import harness
from test_analytics import analytics_client
from test_analytics_v2 import v2_client
from test_firehose import firehose_client

ROLE = 'arn:aws:iam::000000000000:role/any'
UPPER_HANDLER = '''import base64
def lambda_handler(event, context):
    return {'records': [{'recordId': r['recordId'], 'result': 'Ok',
                         'data': base64.b64encode(base64.b64decode(r['data']).upper() + b'\\n').decode()}
                        for r in event['records']]}
'''
DELIVERY_WAIT_S = 20.0
CANARY = 'root:x:0:0:canary of test_hostile_host:/root:/bin/sh\n'


def lambda_processing(arn):
    return {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
        {'ParameterName': 'LambdaArn', 'ParameterValue': arn},
        {'ParameterName': 'NumberOfRetries', 'ParameterValue': '0'}]}]}


def s3_dest(bucket, processing=None):
    d = {'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + bucket, 'Prefix': 'out/',
         'ErrorOutputPrefix': 'err/!{firehose:error-output-type}/',
         'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 1}}
    if processing:
        d['ProcessingConfiguration'] = processing
    return d


def files_under(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                with open(p, 'rb') as fh:
                    out[os.path.relpath(p, root)] = fh.read()
            except FileNotFoundError:
                pass
    return out


# ======================================================================== Lambda processors
class TestLambdaArns(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='eddy-hostile-host-')
        cls.handler = os.path.join(cls.dir, 'upper.py')
        with open(cls.handler, 'w') as f:
            f.write(UPPER_HANDLER)
        cls.server = harness.EddyServer(['--lambda', 'up=python:' + cls.handler], label='hostile-lambda')
        try:
            cls.server.start()
        except Exception:
            cls.server.cleanup()
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise
        cls.fh = firehose_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            shutil.rmtree(cls.dir, ignore_errors=True)

    def bucket(self, name):
        return os.path.join(self.server.data_dir, 'bucket', name)

    def assert_refused(self, fn, what, **kw):
        with self.assertRaises(ClientError, msg=what) as cm:
            fn(**kw)
        self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgumentException',
                         '%s: %s' % (what, cm.exception.response['Error']))

    def test_command_and_file_lambda_arns_are_refused_and_never_run(self):
        marker = os.path.join(self.dir, 'touched-by-eddy')
        marker2 = os.path.join(self.dir, 'touched-by-eddy-update')
        arns = {'exec': 'exec:touch ' + marker,
                'python': 'python:/etc/passwd',
                'exec with a shell': 'exec:sh -c "touch %s"' % marker}
        for i, (what, arn) in enumerate(arns.items()):
            name = 'cmd-%d' % i
            with self.subTest('CreateDeliveryStream', lambda_arn=arn):
                self.assert_refused(self.fh.create_delivery_stream, arn, DeliveryStreamName=name,
                                    ExtendedS3DestinationConfiguration=s3_dest(name, lambda_processing(arn)))
                with self.assertRaises(ClientError):
                    self.fh.describe_delivery_stream(DeliveryStreamName=name)
            try:  # if it was created after all, records make it run
                self.fh.put_record_batch(DeliveryStreamName=name,
                                         Records=[{'Data': b'r1'}, {'Data': b'r2'}])
            except ClientError:
                pass
        # UpdateDestination of an existing stream is the other way to set a processor.
        self.fh.create_delivery_stream(DeliveryStreamName='plain',
                                       ExtendedS3DestinationConfiguration=s3_dest('plain'))
        d = self.fh.describe_delivery_stream(DeliveryStreamName='plain')['DeliveryStreamDescription']
        with self.subTest('UpdateDestination'):
            self.assert_refused(self.fh.update_destination, 'UpdateDestination exec:',
                                DeliveryStreamName='plain', CurrentDeliveryStreamVersionId=d['VersionId'],
                                DestinationId=d['Destinations'][0]['DestinationId'],
                                ExtendedS3DestinationUpdate={
                                    'ProcessingConfiguration': lambda_processing('exec:touch ' + marker2)})
        self.fh.put_record_batch(DeliveryStreamName='plain', Records=[{'Data': b'p1'}, {'Data': b'p2'}])
        # Records delivered by 'plain' show the delivery ran; the markers must still be absent.
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while not files_under(self.bucket('plain')):
            if time.monotonic() > deadline:
                self.fail('records of "plain" not delivered\n' + self.server.log_tail(20))
            time.sleep(0.2)
        time.sleep(3)
        self.assertFalse(os.path.exists(marker), 'the exec: LambdaArn ran: %s exists' % marker)
        self.assertFalse(os.path.exists(marker2), 'the exec: LambdaArn of UpdateDestination ran')
        self.assertTrue(self.server.alive())

    def test_function_named_by_the_server_runs(self):
        arn = 'arn:aws:lambda:us-east-1:000000000000:function:up'
        self.fh.create_delivery_stream(DeliveryStreamName='upper',
                                       ExtendedS3DestinationConfiguration=s3_dest('upper', lambda_processing(arn)))
        self.fh.put_record_batch(DeliveryStreamName='upper',
                                 Records=[{'Data': b'hello'}, {'Data': b'World'}])
        deadline = time.monotonic() + DELIVERY_WAIT_S
        while True:
            objs = files_under(self.bucket('upper'))
            out = b''.join(v for k, v in sorted(objs.items()) if k.startswith('out' + os.sep))
            if out.splitlines() == [b'HELLO', b'WORLD']:
                break
            if time.monotonic() > deadline:
                self.fail('transformed records not delivered within %.0f s; bucket: %r\n%s'
                          % (DELIVERY_WAIT_S, objs, self.server.log_tail(20)))
            time.sleep(0.2)
        self.assertEqual([k for k in objs if not k.startswith('out' + os.sep)], [], 'error objects')


# ======================================================================= file keys
class FileKeyCase(unittest.TestCase):
    server_kw = {}

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label='hostile-keys', **cls.server_kw)
        try:
            cls.server.start()
        except Exception:
            cls.server.cleanup()
            raise
        cls.ka = analytics_client(cls.server, validate=False)
        cls.v2 = v2_client(cls.server, validate=False)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def bucket(self, name):
        path = os.path.join(self.server.data_dir, 'bucket', name)
        os.makedirs(path, exist_ok=True)
        return path


class TestDiscoverInputSchemaFileKeys(FileKeyCase):

    def discover(self, key):
        return self.ka.discover_input_schema(S3Configuration={
            'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::b', 'FileKey': key})

    def test_discover_input_schema_reads_a_file_in_its_bucket(self):
        with open(os.path.join(self.bucket('b'), 'ok.json'), 'w') as f:
            for i in range(5):
                f.write(json.dumps({'store_id': 'store_%d' % i, 'sales': 1.5 * i}) + '\n')
        resp = self.discover('ok.json')
        cols = sorted(c['Name'] for c in resp['InputSchema']['RecordColumns'])
        self.assertEqual(cols, ['sales', 'store_id'])

    def test_file_keys_outside_the_bucket_are_refused(self):
        self.bucket('b')
        # "../../../etc/passwd" from <data>/bucket/b/ is <root>/etc/passwd: a canary lives there.
        canary = os.path.join(self.server.root, 'etc', 'passwd')
        os.makedirs(os.path.dirname(canary), exist_ok=True)
        with open(canary, 'w') as f:
            f.write(CANARY * 3)
        keys = ['/etc/passwd', '../../../etc/passwd', '../' * 20 + 'etc/passwd', canary,
                'x/../../../../etc/passwd']
        for key in keys:
            with self.subTest(file_key=key):
                try:
                    resp = self.discover(key)
                except ClientError as e:
                    self.assertNotIn('root:', json.dumps(e.response, default=str))
                    self.assertEqual(e.response['Error']['Code'], 'InvalidArgumentException',
                                     e.response['Error'])
                    continue
                self.assertNotIn('root:', json.dumps(resp, default=str), 'the file was read')
                self.fail('FileKey %r was accepted: %s' % (key, json.dumps(resp, default=str)[:300]))
        self.assertTrue(self.server.alive())


class TestFlinkFileKeys(FileKeyCase):
    # Job libraries are loaded at all only with --allow-native-jobs: without it every FileKey would
    # be refused for that reason, and the test would not show where keys may lead.
    server_kw = {'native_jobs': True}

    def library_bytes(self):
        """The example C++ job library (built with eddy), or None."""
        here = os.path.dirname(os.path.abspath(__file__))
        candidates = [os.path.dirname(harness.eddy_bin())] + [
            os.path.join(here, '..', '..', '..', 'build', b) for b in ('release', 'dev')]
        for d in candidates:
            path = os.path.join(d, 'examples', 'trades-max', 'libtrades_max.so')
            if os.path.exists(path):
                with open(path, 'rb') as f:
                    return f.read()
        return None

    def create(self, name, key):
        return self.v2.create_application(
            ApplicationName=name, RuntimeEnvironment='FLINK-1_20', ServiceExecutionRole=ROLE,
            ApplicationConfiguration={
                'ApplicationCodeConfiguration': {'CodeContentType': 'ZIPFILE', 'CodeContent': {
                    'S3ContentLocation': {'BucketARN': 'arn:aws:s3:::jobs', 'FileKey': key}}},
                'EnvironmentProperties': {'PropertyGroups': [{
                    'PropertyGroupId': 'TradesMax',
                    'PropertyMap': {'inputStreamName': 'trades', 'outputStreamName': 'out'}}]}})

    def names(self):
        return [a['ApplicationName'] for a in self.v2.list_applications()['ApplicationSummaries']]

    def test_library_inside_the_bucket_is_accepted(self):
        lib = self.library_bytes()
        if lib is None:
            self.skipTest('the example job library is not built')
        with open(os.path.join(self.bucket('jobs'), 'ok.so'), 'wb') as f:
            f.write(lib)
        resp = self.create('inside', 'ok.so')
        self.assertEqual(resp['ApplicationDetail']['ApplicationName'], 'inside')

    def test_file_keys_outside_the_bucket_are_refused(self):
        lib = self.library_bytes() or b'\x7fELF not a real library'
        self.bucket('jobs')
        # "../../x.so" from <data>/bucket/jobs/ is <data>/x.so; a real job library sits there and
        # beside the data dir, so that reading it would succeed.
        with open(os.path.join(self.server.data_dir, 'x.so'), 'wb') as f:
            f.write(lib)
        outside = os.path.join(self.server.root, 'outside', 'libjob.so')
        os.makedirs(os.path.dirname(outside), exist_ok=True)
        with open(outside, 'wb') as f:
            f.write(lib)
        keys = ['/usr/lib/x86_64-linux-gnu/libc.so.6', '../../x.so', outside,
                'a/../../../x.so', '../' * 12 + 'usr/lib/x86_64-linux-gnu/libc.so.6']
        for i, key in enumerate(keys):
            name = 'outside-%d' % i
            with self.subTest(file_key=key):
                with self.assertRaises(ClientError) as cm:
                    self.create(name, key)
                self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgumentException',
                                 cm.exception.response['Error'])
                self.assertNotIn(name, self.names())
        self.assertTrue(self.server.alive())


if __name__ == '__main__':
    unittest.main()
