"""Firehose HTTP endpoint destinations on eddy: the request/response contract against a real
receiver, retries, 413, failed records in the backup bucket, gzip and common attributes."""
import base64
import gzip
import http.server
import json
import os
import threading
import time
import unittest

from botocore.exceptions import ClientError

import harness
from test_firehose import firehose_client

ROLE = 'arn:aws:iam::000000000000:role/r'


class Receiver(http.server.BaseHTTPRequestHandler):
    mode = 'ok'          # ok | fail | too_large | wrong_id
    requests = []

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        body = gzip.decompress(raw) if self.headers.get('Content-Encoding') == 'gzip' else raw
        doc = json.loads(body)
        Receiver.requests.append((dict(self.headers.items()), doc))
        if Receiver.mode == 'fail':
            status, answer = 500, {'requestId': doc['requestId'], 'timestamp': 1, 'errorMessage': 'busy'}
        elif Receiver.mode == 'too_large':
            status, answer = 413, {'requestId': doc['requestId'], 'timestamp': 1, 'errorMessage': 'too big'}
        elif Receiver.mode == 'wrong_id':
            status, answer = 200, {'requestId': 'something-else', 'timestamp': 1}
        else:
            status, answer = 200, {'requestId': doc['requestId'], 'timestamp': 1}
        out = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class HttpEndpointTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Receiver)
        threading.Thread(target=cls.httpd.serve_forever, daemon=True).start()
        cls.url = 'http://127.0.0.1:%d/ingest' % cls.httpd.server_address[1]
        cls.server = harness.EddyServer()
        cls.server.start()
        cls.fh = firehose_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.httpd.shutdown()

    def setUp(self):
        Receiver.requests.clear()
        Receiver.mode = 'ok'

    def create(self, name, retry=5, encoding='NONE', backup='FailedDataOnly'):
        self.fh.create_delivery_stream(DeliveryStreamName=name, HttpEndpointDestinationConfiguration={
            'EndpointConfiguration': {'Url': self.url, 'Name': 'receiver', 'AccessKey': 'secret-key-1'},
            'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 0},
            'RequestConfiguration': {'ContentEncoding': encoding,
                                     'CommonAttributes': [{'AttributeName': 'team', 'AttributeValue': 'sales'}]},
            'RetryOptions': {'DurationInSeconds': retry},
            'S3BackupMode': backup,
            'S3Configuration': {'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::backup-' + name,
                                'ErrorOutputPrefix': 'failed/!{firehose:error-output-type}/',
                                'Prefix': 'all/'}})

    def wait(self, cond, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline and not cond():
            time.sleep(0.1)
        return cond()

    def backup_lines(self, name, folder):
        root = os.path.join(self.server.data_dir, 'bucket', 'backup-' + name, folder)
        lines = []
        for d, _, files in os.walk(root):
            for f in files:
                with open(os.path.join(d, f)) as fp:
                    lines += fp.read().splitlines()
        return lines

    def test_contract_headers_and_records(self):
        self.create('h1')
        records = [json.dumps({'i': i}).encode() for i in range(30)]
        self.fh.put_record_batch(DeliveryStreamName='h1', Records=[{'Data': r} for r in records])
        self.assertTrue(self.wait(lambda: sum(len(d['records']) for _, d in Receiver.requests) >= 30))
        got = [base64.b64decode(r['data']) for _, d in Receiver.requests for r in d['records']]
        self.assertEqual(got, records)
        headers, doc = Receiver.requests[0]
        lower = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(lower['x-amz-firehose-protocol-version'], '1.0')
        self.assertEqual(lower['x-amz-firehose-request-id'], doc['requestId'])
        self.assertEqual(lower['x-amz-firehose-access-key'], 'secret-key-1')
        self.assertTrue(lower['x-amz-firehose-source-arn'].endswith(':deliverystream/h1'))
        self.assertEqual(json.loads(lower['x-amz-firehose-common-attributes']), {'commonAttributes': {'team': 'sales'}})
        self.assertEqual(lower['content-type'], 'application/json')
        self.assertIsInstance(doc['timestamp'], int)
        desc = self.fh.describe_delivery_stream(DeliveryStreamName='h1')['DeliveryStreamDescription']
        d = desc['Destinations'][0]['HttpEndpointDestinationDescription']
        self.assertEqual(d['EndpointConfiguration']['Url'], self.url)
        self.assertNotIn('AccessKey', d['EndpointConfiguration'])

    def test_gzip_content_encoding(self):
        self.create('h2', encoding='GZIP')
        self.fh.put_record(DeliveryStreamName='h2', Record={'Data': b'zipped'})
        self.assertTrue(self.wait(lambda: Receiver.requests))
        headers, doc = Receiver.requests[0]
        self.assertEqual({k.lower(): v for k, v in headers.items()}['content-encoding'], 'gzip')
        self.assertEqual(base64.b64decode(doc['records'][0]['data']), b'zipped')

    def test_failures_are_retried_then_backed_up(self):
        Receiver.mode = 'fail'
        self.create('h3', retry=2)
        self.fh.put_record_batch(DeliveryStreamName='h3', Records=[{'Data': b'a'}, {'Data': b'b'}])
        self.assertTrue(self.wait(lambda: len(self.backup_lines('h3', 'failed/http-endpoint-failed')) >= 2))
        self.assertGreaterEqual(len(Receiver.requests), 2)  # retried with backoff
        ids = {d['requestId'] for _, d in Receiver.requests}
        self.assertEqual(len(ids), 1, 'retries carry the same request id')
        rows = [json.loads(l) for l in self.backup_lines('h3', 'failed/http-endpoint-failed')]
        self.assertEqual(sorted(base64.b64decode(r['rawData']) for r in rows), [b'a', b'b'])
        self.assertEqual(rows[0]['errorCode'], 'HttpEndpoint.DestinationException')
        self.assertIn('busy', rows[0]['errorMessage'])

    def test_413_is_final_and_a_wrong_request_id_is_a_failure(self):
        Receiver.mode = 'too_large'
        self.create('h4', retry=60)
        self.fh.put_record(DeliveryStreamName='h4', Record={'Data': b'big'})
        self.assertTrue(self.wait(lambda: self.backup_lines('h4', 'failed/http-endpoint-failed'), timeout=10))
        self.assertEqual(len(Receiver.requests), 1, '413 is not retried')
        Receiver.requests.clear()
        Receiver.mode = 'wrong_id'
        self.create('h5', retry=1)
        self.fh.put_record(DeliveryStreamName='h5', Record={'Data': b'x'})
        self.assertTrue(self.wait(lambda: self.backup_lines('h5', 'failed/http-endpoint-failed'), timeout=15))
        row = json.loads(self.backup_lines('h5', 'failed/http-endpoint-failed')[0])
        self.assertEqual(row['errorCode'], 'HttpEndpoint.InvalidResponseFromDestination')

    def test_all_data_backup(self):
        self.create('h6', backup='AllData')
        self.fh.put_record(DeliveryStreamName='h6', Record={'Data': b'kept'})
        self.assertTrue(self.wait(lambda: self.backup_lines('h6', 'all') == ['kept'] or self.backup_lines('h6', 'all') == ['kept']))
        self.assertTrue(Receiver.requests)

    def test_update_destination_merges_http_fields(self):
        self.create('h7')
        self.fh.put_record(DeliveryStreamName='h7', Record={'Data': b'before'})
        self.assertTrue(self.wait(lambda: Receiver.requests))
        self.fh.update_destination(DeliveryStreamName='h7', CurrentDeliveryStreamVersionId='1',
                                   DestinationId='destinationId-000000000001', HttpEndpointDestinationUpdate={
                                       'EndpointConfiguration': {'Url': self.url + '/v2', 'AccessKey': 'secret-key-2'},
                                       'RequestConfiguration': {'ContentEncoding': 'GZIP'}})
        desc = self.fh.describe_delivery_stream(DeliveryStreamName='h7')['DeliveryStreamDescription']
        self.assertEqual(desc['VersionId'], '2')
        d = desc['Destinations'][0]['HttpEndpointDestinationDescription']
        self.assertEqual(d['EndpointConfiguration']['Url'], self.url + '/v2')
        self.assertEqual(d['RetryOptions']['DurationInSeconds'], 5, 'fields not in the update are kept')
        self.assertEqual(d['S3DestinationDescription']['BucketARN'], 'arn:aws:s3:::backup-h7')
        Receiver.requests.clear()
        self.fh.put_record(DeliveryStreamName='h7', Record={'Data': b'after'})
        self.assertTrue(self.wait(lambda: Receiver.requests))
        headers, doc = Receiver.requests[0]
        lower = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(lower['x-amz-firehose-access-key'], 'secret-key-2')
        self.assertEqual(lower['content-encoding'], 'gzip')
        self.assertEqual(base64.b64decode(doc['records'][0]['data']), b'after')
        with self.assertRaises(self.fh.exceptions.ConcurrentModificationException):
            self.fh.update_destination(DeliveryStreamName='h7', CurrentDeliveryStreamVersionId='1',
                                       DestinationId='destinationId-000000000001',
                                       HttpEndpointDestinationUpdate={'RetryOptions': {'DurationInSeconds': 10}})
        with self.assertRaises(ClientError) as cm:  # the model's Url pattern
            self.fh.update_destination(DeliveryStreamName='h7', CurrentDeliveryStreamVersionId='2',
                                       DestinationId='destinationId-000000000001',
                                       HttpEndpointDestinationUpdate={'EndpointConfiguration': {'Url': 'ftp://x'}})
        self.assertEqual(cm.exception.response['Error']['Code'], 'ValidationException')


if __name__ == '__main__':
    unittest.main()
