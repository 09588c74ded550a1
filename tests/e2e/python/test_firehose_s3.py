"""Delivery into an S3-compatible store: s3rver (npm) as the store, and a recording fake S3 whose
requests are checked with botocore's own SigV4 signer (s3rver does not check signatures)."""
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from urllib.parse import urlsplit

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials

import harness
from test_firehose import firehose_client, newline_lambda_args, newline_lambda_processing, run_seed_pipeline, s3_dest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ROLE = 'arn:aws:iam::000000000000:role/r'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def create(fh, name, bucket, prefix):
    fh.create_delivery_stream(DeliveryStreamName=name, ExtendedS3DestinationConfiguration={
        'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::' + bucket, 'Prefix': prefix,
        'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 0},
        'ProcessingConfiguration': {'Enabled': True, 'Processors': [{'Type': 'AppendDelimiterToRecord'}]}})


class S3rverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s3dir = tempfile.mkdtemp(prefix='eddy-s3rver-')
        cls.port = free_port()
        env = dict(os.environ, NODE_OPTIONS='--openssl-legacy-provider')
        cls.s3rver = subprocess.Popen(
            [os.path.join(ROOT, 'node_modules', '.bin', 's3rver'), '-d', cls.s3dir, '-p', str(cls.port),
             '-a', '127.0.0.1', '--configure-bucket', 'lake', '--silent'],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.s3 = boto3.client('s3', endpoint_url='http://127.0.0.1:%d' % cls.port, region_name='us-east-1',
                              aws_access_key_id='S3RVER', aws_secret_access_key='S3RVER')
        for _ in range(100):
            try:
                cls.s3.list_buckets()
                break
            except Exception:
                time.sleep(0.1)
        cls.server = harness.EddyServer(['--s3-endpoint', 'http://127.0.0.1:%d' % cls.port,
                                         '--s3-access-key', 'S3RVER', '--s3-secret-key', 'S3RVER',
                                         '--s3-multipart-mb', '1'] +
                                        newline_lambda_args(tempfile.mkdtemp(prefix='eddy-fn-')))
        cls.server.start()
        cls.fh = firehose_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()
        cls.s3rver.kill()
        cls.s3rver.wait()

    def objects(self, prefix, want_bytes, timeout=20):
        deadline = time.time() + timeout
        out = {}
        while time.time() < deadline:
            out = {}
            for o in self.s3.list_objects_v2(Bucket='lake', Prefix=prefix).get('Contents', []):
                out[o['Key']] = self.s3.get_object(Bucket='lake', Key=o['Key'])['Body'].read()
            if sum(len(v) for v in out.values()) >= want_bytes:
                break
            time.sleep(0.2)
        return out

    def test_small_objects_with_awkward_keys(self):
        create(self.fh, 'small', 'lake', 'customer_id=42/my stream (x)/')
        records = [json.dumps({'i': i}).encode() for i in range(200)]
        self.fh.put_record_batch(DeliveryStreamName='small', Records=[{'Data': r} for r in records])
        objs = self.objects('customer_id=42/my stream (x)/', sum(len(r) + 1 for r in records))
        self.assertTrue(objs)
        for key in objs:
            self.assertRegex(key, r'^customer_id=42/my stream \(x\)/\d{4}/\d{2}/\d{2}/\d{2}/small-1-')
        lines = [l for v in objs.values() for l in v.decode().splitlines()]
        self.assertEqual(sorted(lines), sorted(r.decode() for r in records))

    def test_multipart_upload_above_threshold(self):
        create(self.fh, 'big', 'lake', 'big/')
        records = [bytes([65 + i]) * 900_000 for i in range(8)]  # 7.2 MB: parts of 5 MiB
        for i in range(0, 8, 4):
            self.fh.put_record_batch(DeliveryStreamName='big', Records=[{'Data': r} for r in records[i:i + 4]])
        objs = self.objects('big/', sum(len(r) + 1 for r in records), timeout=30)
        body = b''.join(objs[k] for k in sorted(objs))
        self.assertEqual(sorted(body.split(b'\n')[:-1]), sorted(records))

    def test_seed_pipeline_into_s3rver_through_the_python_lambda(self):
        k = self.server.client()
        dest = s3_dest('lake', prefix='sales_revenue/', interval=1, delimiter=False,
                       ProcessingConfiguration=newline_lambda_processing())

        def lines():
            out = []
            for o in self.s3.list_objects_v2(Bucket='lake', Prefix='sales_revenue/').get('Contents', []):
                body = self.s3.get_object(Bucket='lake', Key=o['Key'])['Body'].read()
                self.assertTrue(body.endswith(b'\n'), o['Key'])
                out.append((o['Key'], body.splitlines()))
            return out
        ds, objs, _ = run_seed_pipeline(self, self.server, k, self.fh, dest, lines, harness.unique_name)
        for key, _ in objs:
            self.assertRegex(key, r'^sales_revenue/\d{4}/\d{2}/\d{2}/\d{2}/%s-1-' % ds)


class RecordingS3(http.server.BaseHTTPRequestHandler):
    requests = []

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        RecordingS3.requests.append((self.command, self.path, dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header('ETag', '"abc"')
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


class SignatureTest(unittest.TestCase):
    """Every request eddy sends is signed exactly as botocore would sign it."""

    def test_botocore_agrees_with_eddys_signatures(self):
        httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), RecordingS3)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        port = httpd.server_address[1]
        server = harness.EddyServer(['--s3-endpoint', 'http://127.0.0.1:%d' % port, '--s3-access-key', 'AKIDEXAMPLE',
                                     '--s3-secret-key', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'])
        server.start()
        try:
            fh = firehose_client(server)
            create(fh, 'signed', 'sigbucket', 'dt=2024-05-06/with space+plus/')
            fh.put_record_batch(DeliveryStreamName='signed', Records=[{'Data': b'hello'}, {'Data': b'world'}])
            deadline = time.time() + 20
            while not RecordingS3.requests and time.time() < deadline:
                time.sleep(0.1)
            self.assertTrue(RecordingS3.requests, 'eddy sent no request to the fake S3')
            creds = botocore.credentials.Credentials('AKIDEXAMPLE', 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY')
            for method, path, headers, body in RecordingS3.requests:
                lower = {k.lower(): v for k, v in headers.items()}
                auth = lower['authorization']
                signed = auth.split('SignedHeaders=')[1].split(',')[0].split(';')
                self.assertIn('host', signed)
                self.assertIn('x-amz-content-sha256', signed)
                req = botocore.awsrequest.AWSRequest(method=method, url='http://127.0.0.1:%d%s' % (port, path),
                                                     data=body, headers={h: lower[h] for h in signed if h != 'host'})
                req.context['timestamp'] = lower['x-amz-date']
                signer = botocore.auth.S3SigV4Auth(creds, 's3', 'us-east-1')
                canonical = signer.canonical_request(req)
                expected = signer.signature(signer.string_to_sign(req, canonical), req)
                self.assertEqual(auth.split('Signature=')[1], expected, canonical)
                self.assertEqual(b'hello\nworld\n', body)
                self.assertIn('dt%3D2024-05-06/with%20space%2Bplus/', urlsplit(path).path)
        finally:
            server.stop()
            server.cleanup()
            httpd.shutdown()


if __name__ == '__main__':
    unittest.main()
