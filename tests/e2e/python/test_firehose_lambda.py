"""Firehose Lambda transforms on eddy: an unmodified Python Lambda file (run by eddy's runner) and
any command (exec:), with Ok / Dropped / ProcessingFailed results, crashes, timeouts and garbage."""
import base64
import json
import os
import tempfile
import time
import unittest

from botocore.exceptions import ClientError

import harness
from test_firehose import firehose_client

ROLE = 'arn:aws:iam::000000000000:role/r'

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


class LambdaTransformTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='eddy-lambda-')
        cls.handler = os.path.join(cls.dir, 'newline.py')
        with open(cls.handler, 'w') as f:
            f.write(HANDLER)
        cls.server = harness.EddyServer(['--lambda', 'newline=python:' + cls.handler])
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

    def test_python_file_named_directly(self):
        self.create('py2', 'python:' + self.handler)
        self.fh.put_record(DeliveryStreamName='py2', Record={'Data': b'x'})
        self.assertEqual(list(self.objects('py2', 'out', 1).values()), ['x\n'])

    def test_crashing_and_garbage_functions_send_records_to_the_error_prefix(self):
        self.create('crash', 'exec:exit 3')
        self.create('garbage', 'exec:echo not-json')
        self.create('slowcat', 'exec:cat >/dev/null; echo \'{"records": []}\'')
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

    def test_function_behind_http(self):
        import http.server, threading

        class Fn(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
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

        httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Fn)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            self.create('web', 'http://127.0.0.1:%d/invoke' % httpd.server_address[1])
            self.fh.put_record_batch(DeliveryStreamName='web', Records=[{'Data': b'ab'}, {'Data': b'cd'}])
            self.assertEqual(list(self.objects('web', 'out', 1).values()), ['ABCD'])
        finally:
            httpd.shutdown()

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
        with self.assertRaises(ClientError) as cm:
            self.create('nofn', 'arn:aws:lambda:us-east-1:000000000000:function:missing')
        self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgumentException')
        self.assertIn('--lambda missing=', cm.exception.response['Error']['Message'])

    def logging_function(self):
        d = tempfile.mkdtemp(prefix='eddy-fnlog-')
        path = os.path.join(d, 'logging.py')
        with open(path, 'w') as f:
            f.write(LOGGING_HANDLER)

        def invocations():
            try:
                with open(os.path.join(d, 'invocations.jsonl')) as f:
                    return [json.loads(l) for l in f]
            except FileNotFoundError:
                return []
        return 'python:' + path, invocations

    def test_buffer_size_sizes_each_invocation(self):
        arn, invocations = self.logging_function()
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
        arn, invocations = self.logging_function()
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
                        {'ParameterName': 'LambdaArn', 'ParameterValue': 'exec:cat'}] + params}]}})
            self.assertEqual(cm.exception.response['Error']['Code'], 'InvalidArgumentException', params)


if __name__ == '__main__':
    unittest.main()
