"""End-to-end tests of eddy serving HTTPS (`eddy serve --tls-self-signed`, `--tls-cert/--tls-key`).

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_tls
Clients: boto3 (verify=<cert>), boto3's SubscribeToShard event stream, the AWS CLI (--ca-bundle),
curl (--http2 / --http1.1 with ALPN), Python's ssl module (ALPN, the served certificate), raw
sockets (plain HTTP to the TLS port) and eddy's own client commands (--ca-bundle, endpoints from the
environment). Certificates the tests need are made with the openssl CLI in temporary directories.
Each class starts its own servers (port 0, private data directories), so classes and files can run
in parallel. Every wait is bounded.
Longer than the usual 800 lines: every class shares the certificate helpers and the server setups
above them, and the suite reads as one.
"""

import base64
import json
import os
import queue
import re
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
import unittest
from unittest import mock

import botocore.exceptions

import harness
from harness import SEQ_RE, shard_id

S0, S1 = shard_id(0), shard_id(1)
CMD_TIMEOUT_S = 30  # any one subprocess (eddy client command, aws, curl, openssl)
EXIT_TIMEOUT_S = 15  # eddy serve with bad flags must exit by then
WAIT_S = 10.0  # the longest wait for an event that should come at once
READ_TIMEOUT_S = 20  # boto3's socket timeout: a reader thread never hangs for ever


# ==================================================================================== helpers
def run(cmd, env=None, input=None, timeout=CMD_TIMEOUT_S, cwd=None):
    return subprocess.run([str(a) for a in cmd], env=env, input=input, capture_output=True,
                          timeout=timeout, cwd=cwd, stdin=None if input is not None else subprocess.DEVNULL)


def clean_env(**extra):
    """os.environ without anything that would point a client at an endpoint, a CA or credentials."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('AWS_', 'EDDY_')) and k not in ('REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE',
                                                                   'SSL_CERT_DIR', 'CURL_CA_BUNDLE')}
    env.update(extra)
    return env


def openssl(*args, cwd=None):
    p = run(['openssl'] + list(args), cwd=cwd, timeout=60)
    if p.returncode != 0:
        raise AssertionError('openssl %s failed rc=%d: %s' % (' '.join(args), p.returncode,
                                                              p.stderr.decode(errors='replace')))
    return p.stdout.decode()


def make_ec_cert(directory, stem, cn='localhost', san='DNS:localhost,IP:127.0.0.1'):
    """A self-signed P-256 certificate and its key (PEM) as the README tells users to make one.
    Returns (cert path, key path)."""
    cert, key = os.path.join(directory, stem + '.pem'), os.path.join(directory, stem + '.key')
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
            '-subj', '/CN=' + cn, '-addext', 'subjectAltName=' + san, '-days', '2',
            '-keyout', key, '-out', cert)
    return cert, key


def first_pem_der(path):
    """The DER bytes of the first certificate in a PEM file."""
    with open(path) as f:
        text = f.read()
    m = re.search(r'-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?', text, re.S)
    assert m, 'no certificate in %s' % path
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def free_port():
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tls_connect(port, cafile, alpn=None, server_hostname='localhost', host='127.0.0.1'):
    ctx = ssl.create_default_context(cafile=cafile)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    sock = socket.create_connection((host, port), timeout=WAIT_S)
    try:
        return ctx.wrap_socket(sock, server_hostname=server_hostname)
    except BaseException:
        sock.close()
        raise


def read_until_closed(sock, timeout=WAIT_S):
    """Everything the peer sends until it closes the connection. Fails if it stays open past
    `timeout`. A reset counts as closed."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    data = b''
    while True:
        if time.monotonic() > deadline:
            raise AssertionError('the server kept the connection open for %.0f s; got %r' % (timeout, data[:200]))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except socket.timeout:
            raise AssertionError('the server kept the connection open for %.0f s; got %r'
                                 % (timeout, data[:200])) from None
        if not chunk:
            return data
        data += chunk


def listening_port(server):
    """The port eddy announced: the first node's behind EDDY_E2E_NODES' balancer, else server.port."""
    proxy = getattr(server, '_proxy', None)
    return proxy.backends[0] if proxy is not None else server.port


def triple(record):
    return (record['SequenceNumber'], bytes(record['Data']), record['PartitionKey'])


# ==================================================================================== base class
class TlsCase(unittest.TestCase):
    """One eddy server with `extra_args` (TLS flags) per class, a boto3 client trusting its
    certificate as self.c."""
    extra_args = ('--tls-self-signed',)
    label = 'tls'

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='eddy-e2e-tls-certs-')
        cls.make_certs()
        cls.server = harness.EddyServer(cls.server_args(), label=cls.label, native_jobs=False)
        try:
            cls.server.start()
            cls.c = cls.server.client(read_timeout=READ_TIMEOUT_S)
        except BaseException:
            cls.server.close()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def make_certs(cls):
        pass

    @classmethod
    def server_args(cls):
        return list(cls.extra_args)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.close()
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.assertTrue(self.server.alive(), 'the server died earlier\n' + self.server.log_tail())

    def tearDown(self):
        self.assertTrue(self.server.alive(), 'the server died in this test\n' + self.server.log_tail())

    # ------------------------------------------------------------------------ helpers
    @property
    def cert(self):
        return self.server.ca_bundle

    def new_stream(self, shards=1):
        name = harness.unique_name(self._testMethodName.replace('_', '-')[:30])
        harness.create_stream(self.c, name, shards)
        return name

    def read_all(self, name, shard=S0, client=None):
        records, _ = harness.read_shard(client or self.c, name, shard)
        return [triple(r) for r in records]

    def put_get_exact(self, client):
        """PutRecords (one record to each of 2 shards and more) and PutRecord through `client`, then
        GetRecords gives back exactly those records, per shard in put order."""
        name = harness.unique_name('tls-putget')
        harness.create_stream(client, name, 2)
        records = [{'Data': bytes(range(256)), 'PartitionKey': 'binary'},
                   {'Data': 'h\u00e9llo \u2603 tls'.encode('utf-8'), 'PartitionKey': 'unicode-\u00e9'},
                   {'Data': b'x' * 40000, 'PartitionKey': 'forty-k', 'ExplicitHashKey': str(2 ** 127)},
                   {'Data': b'{"n": 1}', 'PartitionKey': 'json', 'ExplicitHashKey': '0'}]
        records += [{'Data': ('rec-%03d' % i).encode(), 'PartitionKey': 'pk-%d' % i} for i in range(40)]
        resp = client.put_records(StreamName=name, Records=records)
        self.assertEqual(resp['FailedRecordCount'], 0, resp)
        self.assertEqual(len(resp['Records']), len(records))
        expected = {S0: [], S1: []}
        for rec, out in zip(records, resp['Records']):
            self.assertRegex(out['SequenceNumber'], SEQ_RE)
            hk = int(rec['ExplicitHashKey']) if 'ExplicitHashKey' in rec else harness.md5_hash_key(rec['PartitionKey'])
            shard = S0 if hk < 2 ** 127 else S1
            self.assertEqual(out['ShardId'], shard, rec['PartitionKey'])
            expected[shard].append((out['SequenceNumber'], rec['Data'], rec['PartitionKey']))
        one = client.put_record(StreamName=name, PartitionKey='single', Data=b'\x00single\xff',
                                ExplicitHashKey=str(2 ** 128 - 1))
        self.assertEqual(one['ShardId'], S1)
        expected[S1].append((one['SequenceNumber'], b'\x00single\xff', 'single'))
        self.assertTrue(expected[S0] and expected[S1])
        for shard in (S0, S1):
            self.assertEqual(self.read_all(name, shard, client), expected[shard], shard)
        return name

    def eddy(self, *args, env=None, input=None):
        return run([harness.eddy_bin()] + list(args), env=clean_env() if env is None else env, input=input)

    def assert_ok(self, p, what):
        self.assertEqual(p.returncode, 0, '%s: rc=%d\nstdout: %s\nstderr: %s'
                         % (what, p.returncode, p.stdout.decode(errors='replace'),
                            p.stderr.decode(errors='replace')))
        return p.stdout.decode()


# ==================================================================================== self-signed
class SelfSignedTest(TlsCase):
    """eddy serve --tls-self-signed: the certificate it makes and every client over it."""

    @classmethod
    def make_certs(cls):
        # A certificate unrelated to the server's: trusting it must not make the server trusted.
        cls.other_cert, _ = make_ec_cert(cls.tmp, 'other')

    def test_announces_https_and_the_certificate(self):
        self.assertTrue(self.server.tls)
        self.assertTrue(self.server.endpoint.startswith('https://127.0.0.1:'), self.server.endpoint)
        cert = os.path.join(self.server.data_dir, 'tls', 'cert.pem')
        self.assertEqual(self.cert, cert)
        with open(self.server.log_path, encoding='utf-8', errors='replace') as f:
            lines = f.read().splitlines()
        announced = ('serve: TLS with the self-signed certificate %s (clients trust it with --ca-bundle or '
                     'AWS_CA_BUNDLE=%s)' % (cert, cert))
        self.assertTrue(any(line.endswith(announced) for line in lines), lines)
        listening = [line for line in lines if 'listening on' in line]
        self.assertEqual(len(listening), 1, lines)
        self.assertRegex(listening[0], r' info serve: eddy listening on https://127\.0\.0\.1:%d ' % listening_port(self.server))

    def test_certificate_files(self):
        tls_dir = os.path.join(self.server.data_dir, 'tls')
        cert, key = os.path.join(tls_dir, 'cert.pem'), os.path.join(tls_dir, 'key.pem')
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600, 'key.pem mode')
        text = openssl('x509', '-in', cert, '-noout', '-text')
        self.assertIn('id-ecPublicKey', text)
        san = openssl('x509', '-in', cert, '-noout', '-ext', 'subjectAltName')
        names = sorted(n.strip() for n in san.splitlines()[1].split(','))
        self.assertEqual(names, ['DNS:localhost', 'IP Address:0:0:0:0:0:0:0:1', 'IP Address:127.0.0.1'])
        # The key is the certificate's.
        self.assertEqual(openssl('pkey', '-in', key, '-pubout'), openssl('x509', '-in', cert, '-noout', '-pubkey'))
        # The server presents exactly that certificate, to a client asking for localhost or 127.0.0.1.
        for hostname in ('localhost', '127.0.0.1'):
            with tls_connect(self.server.port, cert, server_hostname=hostname) as s:
                self.assertEqual(s.getpeercert(binary_form=True), first_pem_der(cert), hostname)

    def test_boto3_put_and_get_records(self):
        self.put_get_exact(self.c)

    def test_boto3_one_mib_record(self):
        # Bodies far larger than a TLS record (16 KiB) both ways.
        name = self.new_stream()
        data = os.urandom(1024 * 1024 - len('big'))
        out = self.c.put_record(StreamName=name, PartitionKey='big', Data=data)
        self.assertEqual(self.read_all(name), [(out['SequenceNumber'], data, 'big')])

    def test_boto3_concurrent_connections(self):
        name = self.new_stream()
        errors, puts, lock = [], [], threading.Lock()

        def producer(k):
            try:
                client = self.server.client(read_timeout=READ_TIMEOUT_S)
                for i in range(10):
                    data = ('producer-%d-%d' % (k, i)).encode()
                    out = client.put_record(StreamName=name, PartitionKey='p%d' % k, Data=data)
                    with lock:
                        puts.append((out['SequenceNumber'], data, 'p%d' % k))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=producer, args=(k,), daemon=True) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
            self.assertFalse(t.is_alive(), 'a producer hung')
        self.assertEqual(errors, [])
        self.assertEqual(len(puts), 80)
        self.assertEqual(self.read_all(name), sorted(puts, key=lambda t: int(t[0])))

    def test_boto3_subscribe_to_shard(self):
        name = self.new_stream()
        arn = self.c.describe_stream_summary(StreamName=name)['StreamDescriptionSummary']['StreamARN']
        consumer = self.c.register_stream_consumer(StreamARN=arn, ConsumerName='tls-efo')['Consumer']
        deadline = time.monotonic() + WAIT_S
        while self.c.describe_stream_consumer(ConsumerARN=consumer['ConsumerARN'])[
                'ConsumerDescription']['ConsumerStatus'] != 'ACTIVE':
            self.assertLess(time.monotonic(), deadline, 'the consumer did not become ACTIVE')
            time.sleep(0.1)
        expected = []

        def put(i):
            data = b'efo-%d-' % i + bytes(range(256)) * (1 + i)
            out = self.c.put_record(StreamName=name, PartitionKey='k%d' % i, Data=data)
            expected.append((out['SequenceNumber'], data, 'k%d' % i))
        for i in range(5):
            put(i)
        resp = self.c.subscribe_to_shard(ConsumerARN=consumer['ConsumerARN'], ShardId=S0,
                                         StartingPosition={'Type': 'TRIM_HORIZON'})
        self.assertEqual(resp['ResponseMetadata']['HTTPStatusCode'], 200)
        # botocore has already read the initial-response event (it raises ResponseParserError
        # without one): the stream yields the SubscribeToShardEvents.
        stream = resp['EventStream']
        events = queue.Queue()

        def reader():
            try:
                for event in stream:
                    events.put(('event', event))
            except Exception as e:  # noqa: BLE001 - handed to the test
                events.put(('error', e))
            else:
                events.put(('end', None))
        threading.Thread(target=reader, name='tls-subscription', daemon=True).start()
        got = []

        def collect(n):
            deadline = time.monotonic() + WAIT_S
            while len(got) < n:
                try:
                    kind, value = events.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    self.fail('%d of %d records after %.0f s: %r' % (len(got), n, WAIT_S, got))
                self.assertEqual(kind, 'event', value)
                e = value['SubscribeToShardEvent']
                got.extend(triple(r) for r in e['Records'])
                if e['Records']:
                    self.assertEqual(e['ContinuationSequenceNumber'], e['Records'][-1]['SequenceNumber'])
        try:
            collect(5)
            self.assertEqual(got, expected)
            for i in range(5, 9):  # while subscribed
                put(i)
            collect(9)
            self.assertEqual(got, expected)
        finally:
            stream.close()

    def test_boto3_untrusted_fails(self):
        with mock.patch.dict(os.environ, {}, clear=False):
            for var in ('AWS_CA_BUNDLE', 'REQUESTS_CA_BUNDLE'):
                os.environ.pop(var, None)
            for verify, what in ((True, 'the default CAs'), (self.other_cert, 'another certificate')):
                client = self.server.client(verify=verify)
                with self.assertRaises(botocore.exceptions.SSLError, msg=what) as cm:
                    client.list_streams()
                self.assertIn('CERTIFICATE_VERIFY_FAILED', str(cm.exception), what)

    def test_raw_json_over_https(self):
        # harness.raw() speaks HTTPS to a TLS server.
        name = self.new_stream()
        status, body, _ = self.server.json_call('DescribeStreamSummary', {'StreamName': name})
        self.assertEqual(status, 200, body)
        self.assertEqual(body['StreamDescriptionSummary']['StreamName'], name)

    def test_alpn(self):
        for offer, chosen in ((['h2', 'http/1.1'], 'h2'), (['http/1.1', 'h2'], 'h2'), (['h2'], 'h2'),
                              (['http/1.1'], 'http/1.1')):
            with tls_connect(self.server.port, self.cert, alpn=offer) as s:
                self.assertEqual(s.selected_alpn_protocol(), chosen, offer)

    def test_http11_without_alpn(self):
        body = b'{}'
        request = (b'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.1\r\n'
                   b'X-Amz-Target: Kinesis_20131202.ListStreams\r\nConnection: close\r\n'
                   b'Content-Length: 2\r\n\r\n' + body)
        with tls_connect(self.server.port, self.cert) as s:
            self.assertIsNone(s.selected_alpn_protocol())
            s.sendall(request)
            data = read_until_closed(s)
        head, _, payload = data.partition(b'\r\n\r\n')
        self.assertTrue(head.startswith(b'HTTP/1.1 200'), data[:300])
        self.assertIn('StreamNames', json.loads(payload))

    def curl(self, *args):
        return run(['curl', '-sS', '--max-time', '20'] + list(args))

    def test_curl_http2_and_http11(self):
        name = self.new_stream()
        expected = []
        for flag, version, size in (('--http2', '2', 600000), ('--http1.1', '1.1', 1000)):
            data = os.urandom(size)  # 600 kB: the request body outgrows HTTP/2's initial 64 KiB window
            body = os.path.join(self.tmp, 'body-%s.json' % version)
            out = os.path.join(self.tmp, 'out-%s.json' % version)
            with open(body, 'w') as f:
                json.dump({'StreamName': name, 'PartitionKey': 'curl-' + version,
                           'Data': base64.b64encode(data).decode()}, f)
            p = self.curl(flag, '--cacert', self.cert, '-o', out, '-w', '%{http_version} %{http_code}',
                          '-H', 'Content-Type: application/x-amz-json-1.1',
                          '-H', 'X-Amz-Target: Kinesis_20131202.PutRecord', '--data-binary', '@' + body,
                          'https://localhost:%d/' % self.server.port)
            self.assertEqual(self.assert_ok(p, 'curl ' + flag), '%s 200' % version)
            with open(out) as f:
                resp = json.load(f)
            self.assertEqual(resp['ShardId'], S0, resp)
            expected.append((resp['SequenceNumber'], data, 'curl-' + version))
            # A GET of the metrics page over the same protocol.
            p = self.curl(flag, '--cacert', self.cert, '-o', os.devnull, '-w', '%{http_version} %{http_code}',
                          'https://127.0.0.1:%d/metrics' % self.server.port)
            self.assertEqual(self.assert_ok(p, 'curl %s /metrics' % flag), '%s 200' % version)
        self.assertEqual(self.read_all(name), expected)

    def test_curl_untrusted_fails(self):
        p = self.curl('--http2', '-o', os.devnull, 'https://localhost:%d/' % self.server.port)
        self.assertEqual(p.returncode, 60, p.stderr)  # CURLE_PEER_FAILED_VERIFICATION
        p = self.curl('--http2', '--cacert', self.other_cert, '-o', os.devnull,
                      'https://localhost:%d/' % self.server.port)
        self.assertEqual(p.returncode, 60, p.stderr)

    # ------------------------------------------------------------------------ the AWS CLI
    def aws(self, *args, ca_bundle=None):
        cmd = ['aws', '--endpoint-url', 'https://localhost:%d' % self.server.port, '--region', harness.REGION,
               '--output', 'json']
        if ca_bundle:
            cmd += ['--ca-bundle', ca_bundle]
        env = clean_env(AWS_ACCESS_KEY_ID=harness.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=harness.SECRET_KEY,
                        AWS_DEFAULT_REGION=harness.REGION, AWS_PAGER='', AWS_MAX_ATTEMPTS='1',
                        AWS_CONFIG_FILE=os.path.join(self.tmp, 'no-aws-config'),
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.tmp, 'no-aws-credentials'))
        return run(cmd + ['kinesis'] + list(args), env=env, timeout=60)

    def aws_json(self, *args):
        out = self.assert_ok(self.aws(*args, ca_bundle=self.cert), 'aws ' + ' '.join(args))
        return json.loads(out) if out.strip() else None

    def test_aws_cli(self):
        name = self.new_stream()
        self.assertIn(name, self.aws_json('list-streams')['StreamNames'])
        put = self.aws_json('put-record', '--stream-name', name, '--partition-key', 'cli-pk',
                            '--data', 'hello over tls')
        self.assertEqual(put['ShardId'], S0)
        it = self.aws_json('get-shard-iterator', '--stream-name', name, '--shard-id', S0,
                           '--shard-iterator-type', 'TRIM_HORIZON')['ShardIterator']
        recs = self.aws_json('get-records', '--shard-iterator', it)['Records']
        self.assertEqual([(r['SequenceNumber'], base64.b64decode(r['Data']), r['PartitionKey']) for r in recs],
                         [(put['SequenceNumber'], b'hello over tls', 'cli-pk')])
        # Without the CA bundle the CLI refuses the certificate.
        p = self.aws('list-streams')
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn('SSL validation failed', p.stderr.decode(errors='replace'))
        self.assertIn('CERTIFICATE_VERIFY_FAILED', p.stderr.decode(errors='replace'))

    # ------------------------------------------------------------------------ eddy's client commands
    def stream_list(self, p, what):
        return self.assert_ok(p, what).splitlines()

    def test_eddy_client_ca_bundle_before_and_after_subcommand(self):
        ep = self.server.endpoint
        name = harness.unique_name('tls-cli')
        p = self.eddy('--ca-bundle', self.cert, 'streams', 'create', name, '--shards', '2', '--endpoint', ep)
        self.assertEqual(self.assert_ok(p, 'streams create').strip(), 'created stream %s with 2 shard(s)' % name)
        self.assertEqual(len(harness.all_shards(self.c, name)), 2)
        row = '%s\tACTIVE\tPROVISIONED' % name
        self.assertIn(row, self.stream_list(
            self.eddy('streams', 'list', '--ca-bundle', self.cert, '--endpoint', ep), 'list, --ca-bundle after'))
        self.assertIn(row, self.stream_list(
            self.eddy('streams', '--ca-bundle', self.cert, 'list', '--endpoint', ep), 'list, --ca-bundle between'))
        lines = [json.dumps({'i': i, 'k': 'key-%d' % i, 'text': 'tr\u00e8s s\u00fbr'}) for i in range(30)]
        p = self.eddy('put', name, '--key-field', 'k', '--ca-bundle', self.cert, '--endpoint', ep,
                      input=('\n'.join(lines) + '\n').encode())
        self.assertEqual(json.loads(self.assert_ok(p, 'put')), {'failed': 0, 'record_count': 30})
        got = []
        for shard in (S0, S1):
            got += [(data.decode(), pk) for _, data, pk in self.read_all(name, shard)]
        self.assertEqual(sorted(got), sorted((line, json.loads(line)['k']) for line in lines))
        p = self.eddy('--ca-bundle', self.cert, 'tail', name, '--no-follow', '--endpoint', ep)
        self.assertEqual(sorted(self.assert_ok(p, 'tail').splitlines()), sorted(lines))

    def test_eddy_client_endpoint_from_environment(self):
        ep = self.server.endpoint
        dead = 'https://127.0.0.1:%d' % free_port()
        name = self.new_stream()
        row = '%s\tACTIVE\tPROVISIONED' % name
        cases = [
            ('--endpoint over EDDY_ENDPOINT', ['--endpoint', ep], {'EDDY_ENDPOINT': dead}),
            ('EDDY_ENDPOINT', [], {'EDDY_ENDPOINT': ep, 'AWS_ENDPOINT_URL_KINESIS': dead, 'AWS_ENDPOINT_URL': dead}),
            ('AWS_ENDPOINT_URL_KINESIS', [], {'AWS_ENDPOINT_URL_KINESIS': ep, 'AWS_ENDPOINT_URL': dead}),
            ('AWS_ENDPOINT_URL', [], {'AWS_ENDPOINT_URL': ep}),
        ]
        for what, args, env in cases:
            with self.subTest(what):
                p = self.eddy('streams', 'list', '--ca-bundle', self.cert, *args, env=clean_env(**env))
                self.assertIn(row, self.stream_list(p, what))
        # AWS_CA_BUNDLE instead of --ca-bundle.
        p = self.eddy('streams', 'list', env=clean_env(AWS_ENDPOINT_URL=ep, AWS_CA_BUNDLE=self.cert))
        self.assertIn(row, self.stream_list(p, 'AWS_CA_BUNDLE'))
        # The endpoints really are read in that order: the first one set wins, even if it is dead.
        for var in ('EDDY_ENDPOINT', 'AWS_ENDPOINT_URL_KINESIS', 'AWS_ENDPOINT_URL'):
            with self.subTest('dead ' + var):
                env = {'EDDY_ENDPOINT': ep, 'AWS_ENDPOINT_URL_KINESIS': ep, 'AWS_ENDPOINT_URL': ep}
                for v in ('EDDY_ENDPOINT', 'AWS_ENDPOINT_URL_KINESIS', 'AWS_ENDPOINT_URL'):
                    if v == var:
                        break
                    del env[v]
                env[var] = dead
                p = self.eddy('streams', 'list', '--ca-bundle', self.cert, env=clean_env(**env))
                self.assertEqual(p.returncode, 1, p.stdout)
                self.assertIn(dead, p.stderr.decode(errors='replace'))

    def test_eddy_client_without_trusted_ca_fails(self):
        ep = self.server.endpoint
        name = self.new_stream()
        cases = [('streams list', ['streams', 'list', '--endpoint', ep], None),
                 ('put', ['put', name, '--endpoint', ep], b'{"a": 1}\n'),
                 ('tail', ['tail', name, '--no-follow', '--endpoint', ep], None),
                 ('another CA', ['--ca-bundle', self.other_cert, 'streams', 'list', '--endpoint', ep], None),
                 ('AWS_ENDPOINT_URL', ['streams', 'list'], None)]
        for what, args, stdin in cases:
            with self.subTest(what):
                p = self.eddy(*args, input=stdin, env=clean_env(AWS_ENDPOINT_URL=ep))
                err = p.stderr.decode(errors='replace')
                self.assertEqual(p.returncode, 1, 'stdout: %s\nstderr: %s' % (p.stdout, err))
                self.assertEqual(p.stdout, b'')
                self.assertTrue(err.startswith('eddy: '), err)
                self.assertIn('--ca-bundle', err)
        # Nothing was put.
        self.assertEqual(self.read_all(name), [])

    # ------------------------------------------------------------------------ plain HTTP to the TLS port
    def test_plain_http_to_tls_port_is_dropped(self):
        port = self.server.port
        payloads = [
            b'POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n'
            b'X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 2\r\n\r\n{}',
            b'GET / HTTP/1.0\r\n\r\n',
            b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00',  # h2c prior knowledge
            b'\x00' * 4096,
            b'\x16\x03\x01\x00\x05hello',  # a TLS handshake record that is not a ClientHello
        ]
        for payload in payloads:
            with self.subTest(payload[:20]):
                with socket.create_connection(('127.0.0.1', port), timeout=WAIT_S) as s:
                    s.sendall(payload)
                    data = read_until_closed(s)
                # Dropped, at most with a TLS alert record: never an HTTP answer in the clear.
                self.assertTrue(data == b'' or re.fullmatch(rb'\x15\x03[\x01-\x04]\x00\x02[\x01\x02].', data, re.S),
                                data[:200])
        # http.client in the clear, through the harness.
        with self.assertRaises((ConnectionError, OSError)):
            harness.http_post(port, '/', b'{}', {'Host': '127.0.0.1', 'Content-Type': harness.JSON_CT,
                                                 'X-Amz-Target': 'Kinesis_20131202.ListStreams'}, timeout=WAIT_S)
        # A connection that never says anything does not hold the server up.
        idle = [socket.create_connection(('127.0.0.1', port), timeout=WAIT_S) for _ in range(6)]
        try:
            name = self.new_stream()
            out = self.c.put_record(StreamName=name, PartitionKey='after', Data=b'still serving')
            self.assertEqual(self.read_all(name), [(out['SequenceNumber'], b'still serving', 'after')])
        finally:
            for s in idle:
                s.close()
        self.assertTrue(self.server.alive())
        p = run(['curl', '-sS', '--max-time', '20', '--http2', '--cacert', self.cert, '-o', os.devnull,
                 '-w', '%{http_version} %{http_code}', 'https://localhost:%d/' % port])
        self.assertEqual(self.assert_ok(p, 'curl after plain HTTP'), '2 200')


# ==================================================================================== restart
class SelfSignedRestartTest(TlsCase):
    label = 'tls-restart'

    def test_certificate_reused_after_restart(self):
        tls_dir = os.path.join(self.server.data_dir, 'tls')
        cert, key = os.path.join(tls_dir, 'cert.pem'), os.path.join(tls_dir, 'key.pem')
        with open(cert, 'rb') as f:
            cert_bytes = f.read()
        with open(key, 'rb') as f:
            key_bytes = f.read()
        saved = os.path.join(self.tmp, 'first-cert.pem')
        shutil.copyfile(cert, saved)
        name = self.new_stream()
        out = self.c.put_record(StreamName=name, PartitionKey='before', Data=b'before restart')
        self.server.restart()
        self.assertTrue(self.server.tls)
        for path, before in ((cert, cert_bytes), (key, key_bytes)):
            with open(path, 'rb') as f:
                self.assertEqual(f.read(), before, path)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        with open(self.server.log_path, encoding='utf-8', errors='replace') as f:
            self.assertIn('serve: TLS with the self-signed certificate %s (' % cert, f.read())
        # A client that trusts the certificate saved before the restart still does.
        client = self.server.client(verify=saved, read_timeout=READ_TIMEOUT_S)
        self.assertEqual(self.read_all(name, client=client), [(out['SequenceNumber'], b'before restart', 'before')])
        with tls_connect(self.server.port, saved) as s:
            self.assertEqual(s.getpeercert(binary_form=True), first_pem_der(saved))


class SelfSignedOtherHostTest(unittest.TestCase):
    """--host an address other than the defaults: the certificate names it too."""

    def test_san_names_the_host(self):
        host = '127.0.0.2'
        try:
            with socket.socket() as s:
                s.bind((host, 0))
        except OSError as e:
            self.skipTest('cannot bind %s here: %s' % (host, e))
        root = tempfile.mkdtemp(prefix='eddy-e2e-tls-host-')
        self.addCleanup(shutil.rmtree, root, True)
        data = os.path.join(root, 'data')
        proc = subprocess.Popen([harness.eddy_bin(), 'serve', '--host', host, '--port', '0', '--data-dir', data,
                                 '--tls-self-signed'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        lines = queue.Queue()

        def drain():
            for line in iter(proc.stderr.readline, b''):
                lines.put(line)
        drainer = threading.Thread(target=drain, daemon=True)
        drainer.start()

        def stop():
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            drainer.join(timeout=5)
            proc.stderr.close()
        self.addCleanup(stop)
        deadline, port, seen = time.monotonic() + harness.STARTUP_TIMEOUT_S, None, []
        while port is None:
            try:
                line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.fail('no listening line within %.0f s: %r' % (harness.STARTUP_TIMEOUT_S, seen))
            seen.append(line)
            m = re.search(rb'listening on https://127\.0\.0\.2:(\d+)', line)
            port = int(m.group(1)) if m else None
        cert = os.path.join(data, 'tls', 'cert.pem')
        san = openssl('x509', '-in', cert, '-noout', '-ext', 'subjectAltName')
        names = sorted(n.strip() for n in san.splitlines()[1].split(','))
        self.assertEqual(names, ['DNS:localhost', 'IP Address:0:0:0:0:0:0:0:1', 'IP Address:127.0.0.1',
                                 'IP Address:127.0.0.2'])
        with tls_connect(port, cert, server_hostname=host, host=host, alpn=['h2', 'http/1.1']) as s:
            self.assertEqual(s.selected_alpn_protocol(), 'h2')


# ==================================================================================== --tls-cert/--tls-key
class ExplicitCertTest(TlsCase):
    """--tls-cert/--tls-key with a P-256 certificate made by the openssl CLI."""
    label = 'tls-cert'

    @classmethod
    def make_certs(cls):
        cls.cert_file, cls.key_file = make_ec_cert(cls.tmp, 'server')

    @classmethod
    def server_args(cls):
        return ['--tls-cert', cls.cert_file, '--tls-key', cls.key_file]

    def test_serves_the_given_certificate(self):
        self.assertTrue(self.server.tls)
        self.assertEqual(self.cert, self.cert_file)
        for hostname in ('localhost', '127.0.0.1'):
            with tls_connect(self.server.port, self.cert_file, server_hostname=hostname,
                             alpn=['h2', 'http/1.1']) as s:
                self.assertEqual(s.getpeercert(binary_form=True), first_pem_der(self.cert_file))
                self.assertEqual(s.selected_alpn_protocol(), 'h2')
        # No self-signed certificate is made, nor announced.
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, 'tls')))
        with open(self.server.log_path, encoding='utf-8', errors='replace') as f:
            log = f.read()
        self.assertNotIn('self-signed', log)
        self.assertRegex(log, r'(?m) info serve: eddy listening on https://127\.0\.0\.1:%d ' % listening_port(self.server))

    def test_boto3_put_and_get_records(self):
        self.put_get_exact(self.c)

    def test_aws_cli_and_eddy_client(self):
        name = self.new_stream()
        p = self.eddy('put', name, '--ca-bundle', self.cert_file, input=b'{"v": "cert"}\n',
                      env=clean_env(AWS_ENDPOINT_URL_KINESIS='https://localhost:%d' % self.server.port))
        self.assertEqual(json.loads(self.assert_ok(p, 'put')), {'failed': 0, 'record_count': 1})
        out = self.server.cli('describe-stream-summary', '--stream-name', name)  # harness: --ca-bundle
        self.assertEqual(out['StreamDescriptionSummary']['StreamName'], name)
        self.assertEqual([d for _, d, _ in self.read_all(name)], [b'{"v": "cert"}'])


class ChainCertTest(TlsCase):
    """--tls-cert with a chain (leaf, intermediate) whose root only the client knows: the server
    must send the intermediate. An RSA leaf, for a key type other than the self-signed one's."""
    label = 'tls-chain'

    @classmethod
    def make_certs(cls):
        d = cls.tmp
        cls.root = os.path.join(d, 'root.pem')
        openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                '-subj', '/CN=eddy e2e test root', '-days', '2', '-keyout', os.path.join(d, 'root.key'),
                '-out', cls.root)
        with open(os.path.join(d, 'int.ext'), 'w') as f:
            f.write('basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n')
        with open(os.path.join(d, 'leaf.ext'), 'w') as f:
            f.write('basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
                    'extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n')
        openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                '-subj', '/CN=eddy e2e test intermediate', '-keyout', 'int.key', '-out', 'int.csr', cwd=d)
        openssl('x509', '-req', '-in', 'int.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '2',
                '-days', '2', '-extfile', 'int.ext', '-out', 'int.pem', cwd=d)
        openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost',
                '-keyout', 'leaf.key', '-out', 'leaf.csr', cwd=d)
        openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'int.pem', '-CAkey', 'int.key', '-set_serial', '3',
                '-days', '2', '-extfile', 'leaf.ext', '-out', 'leaf.pem', cwd=d)
        cls.chain = os.path.join(d, 'chain.pem')
        with open(cls.chain, 'w') as out:
            for part in ('leaf.pem', 'int.pem'):
                with open(os.path.join(d, part)) as f:
                    out.write(f.read())
        cls.leaf_key = os.path.join(d, 'leaf.key')
        # The chain is sound: openssl verifies the leaf against the root through the intermediate.
        openssl('verify', '-CAfile', cls.root, '-untrusted', os.path.join(d, 'int.pem'), os.path.join(d, 'leaf.pem'))

    @classmethod
    def server_args(cls):
        return ['--tls-cert', cls.chain, '--tls-key', cls.leaf_key]

    def test_client_trusting_only_the_root(self):
        client = self.server.client(verify=self.root, read_timeout=READ_TIMEOUT_S)
        self.put_get_exact(client)
        with tls_connect(self.server.port, self.root) as s:
            self.assertEqual(s.getpeercert(binary_form=True), first_pem_der(os.path.join(self.tmp, 'leaf.pem')))
        p = run(['curl', '-sS', '--max-time', '20', '--http2', '--cacert', self.root, '-o', os.devnull,
                 '-w', '%{http_version} %{http_code}', 'https://localhost:%d/' % self.server.port])
        self.assertEqual(self.assert_ok(p, 'curl'), '2 200')


# ==================================================================================== flag errors
class FlagErrorsTest(unittest.TestCase):
    """eddy serve refuses bad TLS flags at once: exit 1 and one line `eddy: ...` naming the flag."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix='eddy-e2e-tls-flags-')
        cls.cert, cls.key = make_ec_cert(cls.tmp, 'a')
        cls.other_cert, cls.other_key = make_ec_cert(cls.tmp, 'b')
        cls.garbage = os.path.join(cls.tmp, 'garbage.pem')
        with open(cls.garbage, 'w') as f:
            f.write('this is not PEM\n')
        cls.empty = os.path.join(cls.tmp, 'empty.pem')
        open(cls.empty, 'w').close()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def serve(self, *args):
        data = tempfile.mkdtemp(prefix='data-', dir=self.tmp)
        cmd = [harness.eddy_bin(), 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', data] + list(args)
        try:
            return run(cmd, timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            self.fail('eddy serve %s did not exit within %d s; stderr: %r' % (' '.join(args), EXIT_TIMEOUT_S, e.stderr))

    def assert_refused(self, args, flag, rc=1, *fragments):
        p = self.serve(*args)
        err = p.stderr.decode(errors='replace')
        self.assertEqual(p.returncode, rc, 'args %s\nstderr: %s' % (args, err))
        self.assertNotIn('listening on', err)
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, 'one line expected: %r' % err)
        self.assertTrue(lines[0].startswith('eddy: '), lines[0])
        self.assertIn(flag, lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        return lines[0]

    def test_cert_without_key(self):
        self.assert_refused(['--tls-cert', self.cert], '--tls-key')

    def test_key_without_cert(self):
        self.assert_refused(['--tls-key', self.key], '--tls-cert')

    def test_self_signed_with_cert_and_key(self):
        self.assert_refused(['--tls-self-signed', '--tls-cert', self.cert, '--tls-key', self.key],
                            '--tls-self-signed')

    def test_self_signed_with_cert(self):
        self.assert_refused(['--tls-self-signed', '--tls-cert', self.cert], '--tls-cert')

    def test_invalid_certificate(self):
        for bad in (self.garbage, self.empty, self.key):  # the key is no certificate
            with self.subTest(bad):
                self.assert_refused(['--tls-cert', bad, '--tls-key', self.key], '--tls-cert', 1, bad)

    def test_invalid_key(self):
        for bad in (self.garbage, self.empty, self.cert):  # the certificate is no key
            with self.subTest(bad):
                self.assert_refused(['--tls-cert', self.cert, '--tls-key', bad], '--tls-key', 1, bad)

    def test_key_of_another_certificate(self):
        self.assert_refused(['--tls-cert', self.cert, '--tls-key', self.other_key], '--tls-key', 1, self.other_key)

    def test_missing_files(self):
        # Missing files are refused by the argument parser (CLI11's ExistingFile check), which names
        # the flag and the path.
        missing = os.path.join(self.tmp, 'no-such.pem')
        for args, flag in ((['--tls-cert', missing, '--tls-key', self.key], '--tls-cert'),
                           (['--tls-cert', self.cert, '--tls-key', missing], '--tls-key')):
            with self.subTest(flag):
                p = self.serve(*args)
                err = p.stderr.decode(errors='replace')
                self.assertNotEqual(p.returncode, 0, err)
                self.assertGreater(p.returncode, 0, 'killed by a signal? %s' % err)
                self.assertNotIn('listening on', err)
                self.assertIn(flag, err)
                self.assertIn(missing, err)


if __name__ == '__main__':
    unittest.main()
