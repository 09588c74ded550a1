"""`eddy gen sales|trades` against the real server, read back with boto3.

  - --seed: two runs put the same records (data and partition keys, so the same shards in the same
    order), event times included; the summary line's record_count and tot_sales match what was read.
  - --rate: the records' ApproximateArrivalTimestamps over a ~10 s run give the asked rate within 5 %.
    (A correctness check of the pacing; the producer catches up after a stall, so a loaded machine
    does not make it fail.)
  - bad options: one-line errors that say what to give.
  - https endpoints (as AWS's): a local TLS server with a self-signed certificate (trusted through
    AWS_CA_BUNDLE) receives SigV4-signed PutRecords, with keys from the environment or from a
    profile of the shared credentials file.
  - examples/producers/sales_producer.py (boto3) runs unchanged.
"""
import base64
import http.server
import json
import os
import ssl
import subprocess
import tempfile
import threading
import unittest

import harness

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def gen(server, *args, timeout=120):
    return subprocess.run([harness.eddy_bin(), 'gen'] + [str(a) for a in args]
                          + ['--endpoint', server.endpoint],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def read_stream(client, name):
    """{shard id: [record, ...]} from TRIM_HORIZON, every shard."""
    out = {}
    for shard in harness.all_shards(client, name):
        records, _ = harness.read_shard(client, name, shard['ShardId'])
        out[shard['ShardId']] = records
    return out


class FakeKinesis(http.server.BaseHTTPRequestHandler):
    """Answers PutRecords as Kinesis does; keeps each request's headers and records."""
    requests = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        FakeKinesis.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
        answer = json.dumps({'FailedRecordCount': 0, 'Records': [
            {'SequenceNumber': str(i), 'ShardId': 'shardId-000000000000'} for i in range(len(body['Records']))]})
        self.send_response(200)
        self.send_header('Content-Type', 'application/x-amz-json-1.1')
        self.send_header('Content-Length', str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args):
        pass


class GenTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.cert, key = os.path.join(cls.dir.name, 'cert.pem'), os.path.join(cls.dir.name, 'key.pem')
        subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cls.cert,
                        '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                       check=True, capture_output=True, timeout=60)
        cls.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), FakeKinesis)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cls.cert, key)
        cls.httpd.socket = context.wrap_socket(cls.httpd.socket, server_side=True)
        cls.thread = threading.Thread(target=cls.httpd.serve_forever, daemon=True)
        cls.thread.start()
        cls.endpoint = 'https://127.0.0.1:%d' % cls.httpd.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()
        cls.dir.cleanup()

    def run_gen(self, env):
        FakeKinesis.requests = []
        base = {k: v for k, v in os.environ.items() if not k.startswith('AWS_')}
        base.update(env, AWS_CA_BUNDLE=self.cert)
        return subprocess.run([harness.eddy_bin(), 'gen', 'trades', '--endpoint', self.endpoint, '--count', '30',
                               '--rate', '0', '--batch', '10', '--region', 'eu-west-1'],
                              capture_output=True, text=True, timeout=60, env=base)

    def test_https_with_keys_from_the_environment(self):
        p = self.run_gen({'AWS_ACCESS_KEY_ID': 'AKIDENV', 'AWS_SECRET_ACCESS_KEY': 'secret'})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)['record_count'], 30)
        self.assertEqual(len(FakeKinesis.requests), 3)
        headers, body = FakeKinesis.requests[0]
        self.assertEqual(headers['x-amz-target'], 'Kinesis_20131202.PutRecords')
        self.assertRegex(headers['authorization'],
                         r'^AWS4-HMAC-SHA256 Credential=AKIDENV/\d{8}/eu-west-1/kinesis/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$')
        self.assertEqual(body['StreamName'], 'trades')
        self.assertEqual(set(json.loads(base64.b64decode(body['Records'][0]['Data']))), {'EVENT_TIME', 'TICKER', 'PRICE'})

    def test_https_with_a_profile_of_the_shared_credentials_file(self):
        creds = os.path.join(self.dir.name, 'credentials')
        with open(creds, 'w') as f:
            f.write('[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n'
                    '[eddy]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s2\n')
        p = self.run_gen({'AWS_SHARED_CREDENTIALS_FILE': creds, 'AWS_PROFILE': 'eddy'})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('Credential=AKIDPROFILE/', FakeKinesis.requests[0][0]['authorization'])

    def test_an_untrusted_certificate_is_a_clear_error(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith('AWS_')}
        p = subprocess.run([harness.eddy_bin(), 'gen', 'sales', '--endpoint', self.endpoint, '--count', '1'],
                           capture_output=True, text=True, timeout=60, env=env)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('AWS_CA_BUNDLE', p.stderr)


class GenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label='gen').start()
        cls.kinesis = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_seed_gives_the_same_records_twice(self):
        runs = []
        for name in ('seed-a', 'seed-b'):
            harness.create_stream(self.kinesis, name, shards=2)
            p = gen(self.server, 'sales', '--stream', name, '--seed', 7, '--count', 400, '--rate', 0,
                    '--categories', 'all')
            self.assertEqual(p.returncode, 0, p.stderr)
            summary = json.loads(p.stdout.strip().splitlines()[-1])
            shards = read_stream(self.kinesis, name)
            runs.append({sid: [(r['PartitionKey'], r['Data']) for r in recs] for sid, recs in shards.items()})
            records = [json.loads(d) for recs in runs[-1].values() for _, d in recs]
            self.assertEqual(summary['record_count'], 400)
            self.assertEqual(len(records), 400)
            self.assertAlmostEqual(summary['tot_sales'], round(sum(r['sales'] for r in records), 2), places=2)
            self.assertEqual({r['store_id'] for r in records}, {'store_%d' % i for i in range(1, 6)})
            self.assertGreater(len({r['category'] for r in records}), 10)
        self.assertEqual(runs[0], runs[1])
        self.assertTrue(all(len(v) > 100 for v in runs[0].values()), 'both shards get records')
        # Event times are synthetic with a seed: from 2021-01-31T14:46:00, 1 ms apart when unpaced.
        times = sorted(json.loads(d)['evnt_time'] for recs in runs[0].values() for _, d in recs)
        self.assertEqual(times[0], '2021-01-31T14:46:00.000000')
        self.assertEqual(times[-1], '2021-01-31T14:46:00.399000')
        # A different seed gives different records.
        harness.create_stream(self.kinesis, 'seed-c', shards=2)
        p = gen(self.server, 'sales', '--stream', 'seed-c', '--seed', 8, '--count', 400, '--rate', 0)
        self.assertEqual(p.returncode, 0, p.stderr)
        other = {sid: [(r['PartitionKey'], r['Data']) for r in recs]
                 for sid, recs in read_stream(self.kinesis, 'seed-c').items()}
        self.assertNotEqual(other, runs[0])

    def test_rate_holds_within_five_percent_over_ten_seconds(self):
        harness.create_stream(self.kinesis, 'paced', shards=1)
        rate, count = 200, 2000
        p = gen(self.server, 'trades', '--stream', 'paced', '--rate', rate, '--count', count)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('records/s', p.stderr)
        self.assertEqual(json.loads(p.stdout)['record_count'], count)
        records = read_stream(self.kinesis, 'paced')['shardId-000000000000']
        self.assertEqual(len(records), count)
        arrivals = sorted(r['ApproximateArrivalTimestamp'].timestamp() for r in records)
        span = arrivals[-1] - arrivals[0]
        measured = (count - 1) / span
        self.assertLess(abs(measured - rate) / rate, 0.05,
                        'measured %.1f records/s over %.2f s, asked %d' % (measured, span, rate))
        trade = json.loads(records[0]['Data'])
        self.assertEqual(set(trade), {'EVENT_TIME', 'TICKER', 'PRICE'})
        self.assertEqual(records[0]['PartitionKey'], trade['TICKER'])

    def test_duration_stops_the_run(self):
        harness.create_stream(self.kinesis, 'timed', shards=1)
        p = gen(self.server, 'sales', '--stream', 'timed', '--rate', 50, '--duration', 1.5)
        self.assertEqual(p.returncode, 0, p.stderr)
        n = json.loads(p.stdout)['record_count']
        self.assertTrue(60 <= n <= 80, n)  # 75 at the rate, paced from an empty bucket
        self.assertEqual(len(read_stream(self.kinesis, 'timed')['shardId-000000000000']), n)

    def test_bad_options_are_one_line_errors(self):
        cases = [
            (['sales', '--categories', 'Books,,Toys'], '--categories takes'),
            (['trades', '--start-time', 'yesterday', '--count', 1], '--start-time must be'),
            (['sales', '--rate', 0], '--rate 0 (unpaced) needs --count or --duration'),
        ]
        for args, message in cases:
            with self.subTest(args=args):
                p = gen(self.server, *args)
                self.assertNotEqual(p.returncode, 0)
                lines = p.stderr.strip().splitlines()
                self.assertEqual(len(lines), 1, p.stderr)
                self.assertTrue(lines[0].startswith('eddy: '), p.stderr)
                self.assertIn(message, p.stderr)
        p = gen(self.server, 'sales', '--stream', 'no-such-stream', '--count', 5)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('ResourceNotFoundException', p.stderr)
        p = subprocess.run([harness.eddy_bin(), 'gen', 'sales', '--count', '1', '--endpoint', 'http://127.0.0.1:1'],
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('is `eddy serve` running there', p.stderr)

    def test_boto3_producer_example(self):
        harness.create_stream(self.kinesis, 'example-sales', shards=2)
        p = subprocess.run(['python3', os.path.join(ROOT, 'examples', 'producers', 'sales_producer.py'),
                            '--endpoint', self.server.endpoint, '--stream', 'example-sales',
                            '--rate', '200', '--count', '60'],
                           capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, AWS_ACCESS_KEY_ID='any', AWS_SECRET_ACCESS_KEY='any'))
        self.assertEqual(p.returncode, 0, p.stderr)
        summary = json.loads(p.stdout.strip().splitlines()[-1])
        records = [json.loads(r['Data']) for recs in read_stream(self.kinesis, 'example-sales').values()
                   for r in recs]
        self.assertEqual(summary['record_count'], 60)
        self.assertEqual(len(records), 60)
        self.assertAlmostEqual(summary['tot_sales'], round(sum(r['sales'] for r in records), 2), places=2)


if __name__ == '__main__':
    unittest.main()
