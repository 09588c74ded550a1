"""Firehose Lambda transforms on eddy: an unmodified Python Lambda file (run by eddy's runner),
any command (exec:) and a function behind HTTP, with Ok / Dropped / ProcessingFailed results,
crashes, timeouts and garbage.

A LambdaArn given through the API is only ever a function ARN
(arn:aws:lambda:REGION:ACCOUNT:function:NAME[:alias]); where NAME runs is the server's decision,
`eddy serve --lambda NAME=python:/path.py | NAME=exec:<command> | NAME=http://host:port/path`.
python:/exec:/http:// given as the LambdaArn, or an unknown NAME, is InvalidArgumentException."""
import base64
import http.server
import json
import os
import tempfile
import threading
import time
import unittest

from botocore.exceptions import ClientError

import harness
from test_firehose import firehose_client

ROLE = 'arn:aws:iam::000000000000:role/r'


def function_arn(name):
    return 'arn:aws:lambda:us-east-1:000000000000:function:' + name


HANDLER = '''import base64
def lambda_handler(event, context):
    assert context.get_remaining_time_in_millis() > 0 and context.aws_request_id
    out = []
    for r in event['records']:
        data = base64.b64decode(r['data'])
        if data == b'drop':
            out.append({'recordId': r['recordId'], 'result': 'Dropped', 'data': r['data']})
        elif data == b'fail':
            out.append({'recordId': r['recordId'], 'result': 'ProcessingFailed', 'data': r['data']})
        else:
            out.append({'recordId': r['recordId'], 'result': 'Ok',
                        'data': base64.b64encode(data + b'\\n').decode()})
    return {'records': out}
'''

# Logs each invocation (record count, the Kinesis source and record metadata) next to itself.
LOGGING_HANDLER = '''import json, os
def lambda_handler(event, context):
    with open(os.path.join(os.path.dirname(__file__), 'invocations.jsonl'), 'a') as f:
        f.write(json.dumps({'n': len(event['records']), 'source': event.get('sourceKinesisStreamArn'),
                            'meta': [r.get('kinesisRecordMetadata') for r in event['records']]}) + '\\n')
    return {'records': [{'recordId': r['recordId'], 'result': 'Ok', 'data': r['data']} for r in event['records']]}
'''

# Returns every record unchanged; its handler is not lambda_handler (--lambda keep=python:FILE#keep).
KEEP_HANDLER = '''def keep(event, context):
    return {'records': [{'recordId': r['recordId'], 'result': 'Ok', 'data': r['data']} for r in event['records']]}
'''


class LambdaServerCase(unittest.TestCase):
    """A server started with `--lambda NAME=TARGET` for each of functions() ({NAME: TARGET})."""

    @classmethod
    def functions(cls):
        return {}

    @classmethod
    def setUpClass(cls):
        args = []
        for name, target in cls.functions().items():
            args += ['--lambda', name + '=' + target]
        cls.server = harness.EddyServer(args, label='lambda')
        cls.server.start()
        cls.fh = firehose_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def create(self, name, arn):
        self.fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration={
            'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + name, 'Prefix': 'out/',
            'ErrorOutputPrefix': 'err/!{firehose:error-output-type}/',
            'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 0},
            'ProcessingConfiguration': {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
                {'ParameterName': 'LambdaArn', 'ParameterValue': arn},
                {'ParameterName': 'NumberOfRetries', 'ParameterValue': '1'}]}]}})

    def objects(self, bucket, folder, want, timeout=20):
        root = os.path.join(self.server.data_dir, 'bucket', bucket, folder)
        deadline = time.time() + timeout
        found = {}
        while time.time() < deadline:
            found = {}
            for d, _, files in os.walk(root):
                for f in files:
                    with open(os.path.join(d, f)) as fp:
                        found[os.path.join(d, f)] = fp.read()
            if len(found) >= want:
                break
            time.sleep(0.1)
        return found

    def assert_refused(self, name, arn):
        """Creating `name` with LambdaArn `arn` is InvalidArgumentException and creates nothing."""
        with self.assertRaises(ClientError) as cm:
            self.create(name, arn)
        self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgumentException', arn)
        with self.assertRaises(ClientError) as cm2:
            self.fh.describe_delivery_stream(DeliveryStreamName=name)
        self.assertEqual(cm2.exception.response['Error']['Code'], 'ResourceNotFoundException', arn)
        return cm.exception.response['Error']['Message']


class LambdaTransformTest(LambdaServerCase):
    @classmethod
    def functions(cls):
        cls.dir = tempfile.mkdtemp(prefix='eddy-lambda-')
        cls.handler = os.path.join(cls.dir, 'newline.py')
        with open(cls.handler, 'w') as f:
            f.write(HANDLER)
        with open(os.path.join(cls.dir, 'keep.py'), 'w') as f:
            f.write(KEEP_HANDLER)
        # One logging function per test that reads its invocations (each logs next to its file).
        cls.log_dirs = {}
        for name in ('logbuf', 'logks'):
            d = cls.log_dirs[name] = tempfile.mkdtemp(prefix='eddy-fnlog-')
            with open(os.path.join(d, 'logging.py'), 'w') as f:
                f.write(LOGGING_HANDLER)
        return {
            'newline': 'python:' + cls.handler,
            'crash': 'exec:exit 3',
            'garbage': 'exec:echo not-json',
            'slowcat': 'exec:cat >/dev/null; echo \'{"records": []}\'',
            'keep': 'python:' + os.path.join(cls.dir, 'keep.py') + '#keep',
            'logbuf': 'python:' + os.path.join(cls.log_dirs['logbuf'], 'logging.py'),
            'logks': 'python:' + os.path.join(cls.log_dirs['logks'], 'logging.py'),
        }

    def test_python_lambda_file_ok_dropped_failed(self):
        self.create('py1', 'arn:aws:lambda:us-east-1:000000000000:function:newline')
        self.fh.put_record_batch(DeliveryStreamName='py1', Records=[
            {'Data': b'a'}, {'Data': b'drop'}, {'Data': b'fail'}, {'Data': b'b'}])
        out = self.objects('py1', 'out', 1)
        self.assertEqual(list(out.values()), ['a\nb\n'])
        errors = self.objects('py1', 'err/processing-failed', 1)
        self.assertEqual(len(errors), 1)
        rows = [json.loads(l) for l in list(errors.values())[0].splitlines()]
        self.assertEqual(len(rows), 1)
        self.assertEqual(base64.b64decode(rows[0]['rawData']), b'fail')
        self.assertEqual(rows[0]['errorCode'], 'Lambda.ProcessingFailedStatus')
        self.assertIn('lambdaArn', rows[0])

    def test_direct_targets_are_refused_only_function_arns_run(self):
        """A caller cannot say what runs: python:, exec: and http(s):// as the LambdaArn are refused
        (even for the very file the server runs as `newline`); the ARN of a --lambda NAME works."""
        marker = os.path.join(self.dir, 'exec-ran')
        for i, arn in enumerate(['python:' + self.handler,
                                 'python:' + self.handler + '#lambda_handler',
                                 'exec:cat',
                                 'exec:touch ' + marker,
                                 'http://127.0.0.1:9/invoke',
                                 'https://127.0.0.1:9/invoke',
                                 'newline']):
            with self.subTest(arn=arn):
                message = self.assert_refused('direct%d' % i, arn)
                self.assertIn('--lambda', message)
        self.assertFalse(os.path.exists(marker), 'a refused exec: LambdaArn must never run')
        # The same file through its function ARN (an alias too) transforms records.
        self.create('py2', function_arn('newline'))
        self.create('py3', function_arn('newline') + ':live')
        for name in ('py2', 'py3'):
            self.fh.put_record(DeliveryStreamName=name, Record={'Data': b'x'})
            self.assertEqual(list(self.objects(name, 'out', 1).values()), ['x\n'], name)

    def test_update_destination_takes_only_known_function_arns(self):
        self.create('upd', function_arn('newline'))
        d = self.fh.describe_delivery_stream(DeliveryStreamName='upd')['DeliveryStreamDescription']
        dest_id = d['Destinations'][0]['DestinationId']

        def update(version, arn):
            self.fh.update_destination(
                DeliveryStreamName='upd', CurrentDeliveryStreamVersionId=version, DestinationId=dest_id,
                ExtendedS3DestinationUpdate={'ProcessingConfiguration': {'Enabled': True, 'Processors': [
                    {'Type': 'Lambda', 'Parameters': [{'ParameterName': 'LambdaArn', 'ParameterValue': arn}]}]}})
        for arn in ('exec:cat', 'python:' + self.handler, 'http://127.0.0.1:9/invoke', function_arn('missing')):
            with self.subTest(arn=arn):
                with self.assertRaises(ClientError) as cm:
                    update(d['VersionId'], arn)
                self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgumentException')
        after = self.fh.describe_delivery_stream(DeliveryStreamName='upd')['DeliveryStreamDescription']
        self.assertEqual(after['VersionId'], d['VersionId'], 'a refused update changes nothing')
        # A known function: accepted, and it is what runs (keep: records unchanged, no newline).
        update(d['VersionId'], function_arn('keep'))
        self.fh.put_record(DeliveryStreamName='upd', Record={'Data': b'y'})
        self.assertEqual(list(self.objects('upd', 'out', 1).values()), ['y'])

    def test_crashing_and_garbage_functions_send_records_to_the_error_prefix(self):
        self.create('crash', function_arn('crash'))
        self.create('garbage', function_arn('garbage'))
        self.create('slowcat', function_arn('slowcat'))
        for name in ('crash', 'garbage', 'slowcat'):
            self.fh.put_record_batch(DeliveryStreamName=name, Records=[{'Data': b'r1'}, {'Data': b'r2'}])
        for name, code in (('crash', 'Lambda.FunctionError'), ('garbage', 'Lambda.FunctionError'),
                           ('slowcat', 'Lambda.MissingRecordId')):
            errors = self.objects(name, 'err/processing-failed', 1)
            rows = [json.loads(l) for v in errors.values() for l in v.splitlines()]
            self.assertEqual(sorted(base64.b64decode(r['rawData']) for r in rows), [b'r1', b'r2'], name)
            self.assertTrue(all(r['errorCode'] == code for r in rows), (name, rows))
            self.assertEqual(self.objects(name, 'out', 0, timeout=0.2), {}, name)
        # The server stays up.
        self.fh.list_delivery_streams()

    def test_dynamic_partitioning_by_query(self):
        self.fh.create_delivery_stream(DeliveryStreamName='dp', ExtendedS3DestinationConfiguration={
            'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::dp', 'Prefix': 'store=!{partitionKeyFromQuery:store}/',
            'ErrorOutputPrefix': 'err/!{firehose:error-output-type}/',
            'BufferingHints': {'SizeInMBs': 64, 'IntervalInSeconds': 60},
            'DynamicPartitioningConfiguration': {'Enabled': True},
            'ProcessingConfiguration': {'Enabled': True, 'Processors': [
                {'Type': 'MetadataExtraction', 'Parameters': [
                    {'ParameterName': 'MetadataExtractionQuery', 'ParameterValue': '{store: .store_id}'},
                    {'ParameterName': 'JsonParsingEngine', 'ParameterValue': 'JQ-1.6'}]},
                {'Type': 'AppendDelimiterToRecord'}]}})
        records = [json.dumps({'store_id': 'store_%d' % (i % 3), 'i': i}) for i in range(30)] + ['not json']
        self.fh.put_record_batch(DeliveryStreamName='dp', Records=[{'Data': r.encode()} for r in records])
        # The 60 s interval counts from the records' arrival: wait for it (bounded).
        objs = self.objects('dp', '', 4, timeout=75)
        by_store = {}
        for path, body in objs.items():
            rel = os.path.relpath(path, os.path.join(self.server.data_dir, 'bucket', 'dp'))
            if rel.startswith('err/'):
                self.assertIn('processing-failed', rel)
                self.assertEqual([base64.b64decode(json.loads(l)['rawData']) for l in body.splitlines()], [b'not json'])
                continue
            store = rel.split('/')[0]
            by_store[store] = [json.loads(l)['store_id'] for l in body.splitlines()]
        self.assertEqual(sorted(by_store), ['store=store_0', 'store=store_1', 'store=store_2'])
        for store, ids in by_store.items():
            self.assertEqual(len(ids), 10)
            self.assertTrue(all('store=' + x == store for x in ids))

    def test_dynamic_partitioning_needs_its_configuration(self):
        with self.assertRaises(ClientError) as cm:
            self.fh.create_delivery_stream(DeliveryStreamName='dpbad', ExtendedS3DestinationConfiguration={
                'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::dpbad', 'Prefix': 'k=!{partitionKeyFromQuery:k}/',
                'ErrorOutputPrefix': 'err/!{firehose:error-output-type}/'})
        self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgumentException')

    def test_unknown_function_is_refused(self):
        for i, arn in enumerate([function_arn('missing'), function_arn('missing') + ':live']):
            with self.subTest(arn=arn):
                message = self.assert_refused('nofn%d' % i, arn)
                self.assertIn('Lambda function missing is not known to this server', message)
                self.assertIn('--lambda missing=', message)
                # The way out is the server's flag, no longer a python:/exec: LambdaArn.
                self.assertNotIn('directly', message)

    def logging_function(self, name):
        """The ARN of the logging function `name` (a --lambda of this server) and its invocations."""
        def invocations():
            try:
                with open(os.path.join(self.log_dirs[name], 'invocations.jsonl')) as f:
                    return [json.loads(l) for l in f]
            except FileNotFoundError:
                return []
        return function_arn(name), invocations

    def test_buffer_size_sizes_each_invocation(self):
        arn, invocations = self.logging_function('logbuf')
        self.fh.create_delivery_stream(DeliveryStreamName='bufsize', ExtendedS3DestinationConfiguration={
            'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::bufsize', 'Prefix': 'out/',
            'BufferingHints': {'SizeInMBs': 5, 'IntervalInSeconds': 1},
            'ProcessingConfiguration': {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
                {'ParameterName': 'LambdaArn', 'ParameterValue': arn},
                {'ParameterName': 'BufferSizeInMBs', 'ParameterValue': '0.2'},
                {'ParameterName': 'BufferIntervalInSeconds', 'ParameterValue': '60'}]}]}})
        records = [bytes([97 + i]) * 60000 for i in range(10)]  # 0.2 MB = 209715 bytes: 3 per invocation
        self.fh.put_record_batch(DeliveryStreamName='bufsize', Records=[{'Data': r} for r in records])
        out = self.objects('bufsize', 'out', 1)
        self.assertEqual(sorted(out.values()), [b''.join(records).decode()])
        self.assertEqual([i['n'] for i in invocations()], [3, 3, 3, 1])
        self.assertEqual({i['source'] for i in invocations()}, {None}, 'direct put has no Kinesis source')

    def test_kinesis_source_event_carries_record_metadata(self):
        arn, invocations = self.logging_function('logks')
        k = self.server.client()
        src = harness.create_stream(k, harness.unique_name('fnsrc'), 1)
        self.fh.create_delivery_stream(
            DeliveryStreamName='ksfn', DeliveryStreamType='KinesisStreamAsSource',
            KinesisStreamSourceConfiguration={'KinesisStreamARN': 'arn:aws:kinesis:us-east-1:000000000000:stream/' + src,
                                              'RoleARN': ROLE},
            ExtendedS3DestinationConfiguration={
                'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::ksfn', 'Prefix': 'out/',
                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 1},
                'ProcessingConfiguration': {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
                    {'ParameterName': 'LambdaArn', 'ParameterValue': arn}]}]}})
        put = k.put_records(StreamName=src, Records=[{'Data': b'x%d' % i, 'PartitionKey': 'pk-%d' % i} for i in range(3)])
        self.assertEqual(list(self.objects('ksfn', 'out', 1).values()), ['x0x1x2'])
        inv = invocations()
        self.assertEqual(inv[0]['source'], 'arn:aws:kinesis:us-east-1:000000000000:stream/' + src)
        meta = [m for i in inv for m in i['meta']]
        self.assertEqual([m['partitionKey'] for m in meta], ['pk-0', 'pk-1', 'pk-2'])
        self.assertEqual([m['sequenceNumber'] for m in meta], [r['SequenceNumber'] for r in put['Records']])
        self.assertEqual({m['shardId'] for m in meta}, {'shardId-000000000000'})

    def test_lambda_parameters_are_checked(self):
        for params in ([{'ParameterName': 'BufferSizeInMBs', 'ParameterValue': '5'}],
                       [{'ParameterName': 'BufferIntervalInSeconds', 'ParameterValue': '901'}],
                       [{'ParameterName': 'NumberOfRetries', 'ParameterValue': 'many'}],
                       [{'ParameterName': 'MetadataExtractionQuery', 'ParameterValue': '{a: .a}'}]):
            with self.assertRaises(ClientError) as cm:
                self.fh.create_delivery_stream(DeliveryStreamName='badparam', ExtendedS3DestinationConfiguration={
                    'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::badparam',
                    'ProcessingConfiguration': {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
                        {'ParameterName': 'LambdaArn', 'ParameterValue': function_arn('keep')}] + params}]}})
            self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgumentException', params)


class UpperCase(http.server.BaseHTTPRequestHandler):
    """A Lambda function behind HTTP: upper-cases every record; counts the requests it answers."""
    requests = 0

    def do_POST(self):
        UpperCase.requests += 1
        event = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        out = json.dumps({'records': [{'recordId': r['recordId'], 'result': 'Ok',
                                       'data': base64.b64encode(base64.b64decode(r['data']).upper()).decode()}
                                      for r in event['records']]}).encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


class LambdaBehindHttpTest(LambdaServerCase):
    """The function's HTTP server starts first: its port goes into `--lambda web=http://...`."""

    @classmethod
    def setUpClass(cls):
        cls.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), UpperCase)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.url = 'http://127.0.0.1:%d/invoke' % cls.httpd.server_address[1]
        try:
            super().setUpClass()
        except BaseException:
            cls.httpd.shutdown()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.httpd.shutdown()
            cls.httpd.server_close()

    @classmethod
    def functions(cls):
        return {'web': cls.url}

    def test_function_behind_http(self):
        self.create('web', function_arn('web'))
        self.fh.put_record_batch(DeliveryStreamName='web', Records=[{'Data': b'ab'}, {'Data': b'cd'}])
        self.assertEqual(list(self.objects('web', 'out', 1).values()), ['ABCD'])

    def test_its_url_as_the_lambda_arn_is_refused(self):
        before = UpperCase.requests
        message = self.assert_refused('webdirect', self.url)
        self.assertIn('--lambda', message)
        self.assertEqual(UpperCase.requests, before, 'a refused URL is never called')


if __name__ == '__main__':
    unittest.main()
