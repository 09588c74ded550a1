"""Issue 21, "Safe under hostile input": authentication covers every read, signatures are bound to
the host, service and region, secrets are never shown, and a server without keys answers only
requests meant for it.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_hostile_auth

With `--access-key K --secret-key S` (K, S = the harness's test keys):
  - GET /metrics, /, /dashboard/api/overview, /dashboard/api/streams/NAME/records without
    credentials: 401; with HTTP Basic "K:S": 200; with a wrong Basic secret: 401; SigV4-signed
    (service kinesis, the server's region): 200. GET /health: 200 without credentials, and its body
    names no stream, delivery stream or application.
  - POST Kinesis calls: signed correctly 200; signed with SignedHeaders that leave out Host,
    with the credential scope of another service (s3, firehose) or of another region (eu-west-1):
    4xx, and such a CreateStream creates nothing.
  - A Firehose HTTP endpoint destination's AccessKey is in no DescribeDeliveryStream answer, no
    dashboard JSON and not in /metrics.
Without keys:
  - GET /dashboard/api/overview with Host: evil.example:4567 -> 403; a POST with
    Origin: http://evil.example -> 403; the same requests with Host 127.0.0.1:<port> -> 200.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import unittest

import harness
from test_firehose import firehose_client

K = harness.ACCESS_KEY
S = harness.SECRET_KEY
ROLE = 'arn:aws:iam::000000000000:role/any'
STREAM = 'private-stream-q7xk'
DELIVERY = 'private-delivery-z3m'
SECRET_ACCESS_KEY_VALUE = 'endpoint-secret-9f3Kq2LmZx7'


def http_request(port, method, path, headers=None, body=b'', timeout=15):
    """(status, headers lower-cased, body). `headers` may set Host (sent as given)."""
    headers = dict(headers or {})
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if not any(k.lower() == 'host' for k in headers):
            headers['Host'] = '127.0.0.1:%d' % port
        for k, v in headers.items():
            conn.putheader(k, v)
        if body or method == 'POST':
            conn.putheader('Content-Length', str(len(body)))
        conn.endheaders()
        if body:
            conn.send(body)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def basic(user, password):
    return {'Authorization': 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()}


def _hmac(key, msg):
    return hmac.new(key, msg.encode('utf-8'), hashlib.sha256).digest()


def sign_only_date(method, path, body, access_key, secret_key, region, service):
    """A valid SigV4 Authorization whose SignedHeaders is only x-amz-date (Host not signed)."""
    amz_date = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    day = amz_date[:8]
    canonical = '\n'.join([method, path, '', 'x-amz-date:%s\n' % amz_date, 'x-amz-date',
                           hashlib.sha256(body).hexdigest()])
    scope = '%s/%s/%s/aws4_request' % (day, region, service)
    sts = '\n'.join(['AWS4-HMAC-SHA256', amz_date, scope,
                     hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(('AWS4' + secret_key).encode(), day)
    for part in (region, service, 'aws4_request'):
        k = _hmac(k, part)
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return {'X-Amz-Date': amz_date,
            'Authorization': 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=x-amz-date, '
                             'Signature=%s' % (access_key, scope, sig)}


# ========================================================================== keys required
class TestWithKeys(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(['--access-key', K, '--secret-key', S], label='auth')
        try:
            cls.server.start()
            cls.k = cls.server.client()
            harness.create_stream(cls.k, STREAM, 1)
            cls.k.put_record(StreamName=STREAM, Data=b'{"secret": "record"}', PartitionKey='k')
            cls.fh = firehose_client(cls.server)
            cls.fh.create_delivery_stream(DeliveryStreamName=DELIVERY, HttpEndpointDestinationConfiguration={
                'EndpointConfiguration': {'Url': 'http://127.0.0.1:9/ingest', 'Name': 'receiver',
                                          'AccessKey': SECRET_ACCESS_KEY_VALUE},
                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 60},
                'RetryOptions': {'DurationInSeconds': 0},
                'S3Configuration': {'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::backup'}})
        except Exception:
            cls.server.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def paths(self):
        return ['/metrics', '/', '/dashboard/api/overview', '/dashboard/api/streams/%s/records' % STREAM]

    def get(self, path, headers=None):
        return http_request(self.server.port, 'GET', path, headers)

    def signed_get_headers(self, path, region=harness.REGION, service='kinesis'):
        hdrs = {'Host': self.server.host_header}
        hdrs.update(harness.sigv4_headers('GET', path, '', hdrs, b'', K, S, region, service))
        return hdrs

    # ------------------------------------------------------------------------------- reads
    def test_reads_without_credentials_are_401(self):
        for path in self.paths():
            with self.subTest(path=path):
                st, _, body = self.get(path)
                self.assertEqual(st, 401, 'GET %s without credentials: %r' % (path, body[:200]))
                self.assertNotIn(STREAM.encode(), body)

    def test_cors_preflight_is_answered_and_calls_still_need_a_signature(self):
        # Browsers running the AWS SDK for JavaScript send an unsigned preflight first; the call
        # itself must still be signed, and its answer (even the refusal) is readable by the page.
        conn = http.client.HTTPConnection('127.0.0.1', self.server.port, timeout=10)
        try:
            conn.request('OPTIONS', '/', headers={
                'Origin': 'https://app.example', 'Access-Control-Request-Method': 'POST',
                'Access-Control-Request-Headers': 'authorization,content-type,x-amz-date,x-amz-target'})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader('Access-Control-Allow-Origin'), '*')
            self.assertIn('POST', r.getheader('Access-Control-Allow-Methods'))
            self.assertEqual(r.getheader('Access-Control-Allow-Headers'),
                             'authorization,content-type,x-amz-date,x-amz-target')
            # A header list that is not a list of names is not echoed.
            conn.request('OPTIONS', '/', headers={'Origin': 'https://app.example',
                                                  'Access-Control-Request-Headers': 'x-amz-target; <script>'})
            r = conn.getresponse()
            r.read()
            self.assertNotIn('<script>', r.getheader('Access-Control-Allow-Headers'))
        finally:
            conn.close()
        status, headers, body = harness.http_post(self.server.port, '/', b'{}', {
            'Host': '127.0.0.1', 'Origin': 'https://app.example', 'Content-Type': 'application/x-amz-json-1.1',
            'X-Amz-Target': 'Kinesis_20131202.ListStreams'})
        self.assertIn(status, (400, 403), body)
        self.assertNotIn(STREAM.encode(), body)
        self.assertEqual(headers.get('access-control-allow-origin'), '*')
        self.assertIn('x-amzn-RequestId', headers.get('access-control-expose-headers', ''))

    def test_health_is_public_and_names_nothing(self):
        st, _, body = self.get('/health')
        self.assertEqual(st, 200, body)
        for private in (STREAM, DELIVERY, 'private'):
            self.assertNotIn(private.encode(), body)

    def test_reads_with_basic_auth(self):
        for path in self.paths():
            with self.subTest('right secret', path=path):
                st, _, body = self.get(path, basic(K, S))
                self.assertEqual(st, 200, 'GET %s with Basic K:S: %r' % (path, body[:200]))
            with self.subTest('wrong secret', path=path):
                st, _, body = self.get(path, basic(K, S + 'x'))
                self.assertEqual(st, 401, 'GET %s with a wrong Basic secret: %r' % (path, body[:200]))
                self.assertNotIn(STREAM.encode(), body)
            with self.subTest('unknown key', path=path):
                st, _, body = self.get(path, basic('AKIDUNKNOWN', S))
                self.assertEqual(st, 401, 'GET %s with an unknown Basic key: %r' % (path, body[:200]))
        st, _, body = self.get('/dashboard/api/streams/%s/records' % STREAM, basic(K, S))
        self.assertIn(b'secret', body, 'the records endpoint shows the stream\'s records')

    def test_reads_with_sigv4(self):
        for path in self.paths():
            with self.subTest(path=path):
                st, _, body = self.get(path, self.signed_get_headers(path))
                self.assertEqual(st, 200, 'SigV4-signed GET %s: %r' % (path, body[:200]))

    # ------------------------------------------------------------------------------- POSTs
    def post(self, target, payload, headers):
        body = json.dumps(payload).encode()
        if '.' not in target:
            target = harness.TARGET_PREFIX + target
        hdrs = {'Content-Type': harness.JSON_CT, 'X-Amz-Target': target,
                'Host': self.server.host_header}
        hdrs.update(headers(body, hdrs))
        return harness.http_post(self.server.port, '/', body, hdrs)

    def signed(self, region=harness.REGION, service='kinesis'):
        def headers(body, hdrs):
            return harness.sigv4_headers('POST', '/', '', dict(hdrs), body, K, S, region, service)
        return headers

    def only_date(self, body, hdrs):
        return sign_only_date('POST', '/', body, K, S, harness.REGION, 'kinesis')

    def assert_refused(self, headers, what, codes=None):
        st, _, body = self.post('ListStreams', {}, headers)
        self.assertTrue(400 <= st < 500, '%s: ListStreams answered HTTP %s %r' % (what, st, body[:300]))
        if codes:
            self.assertIn(harness.error_type(json.loads(body)), codes, body[:300])
        name = 'created-by-' + what.replace(' ', '-')[:40]
        st, _, body = self.post('CreateStream', {'StreamName': name, 'ShardCount': 1}, headers)
        self.assertTrue(400 <= st < 500, '%s: CreateStream answered HTTP %s %r' % (what, st, body[:300]))
        self.assertNotIn(name, self.k.list_streams()['StreamNames'])

    def test_post_signed_correctly(self):
        st, _, body = self.post('ListStreams', {}, self.signed())
        self.assertEqual(st, 200, body)
        self.assertIn(STREAM, json.loads(body)['StreamNames'])

    def test_post_without_host_signed_is_refused(self):
        self.assert_refused(self.only_date, 'host not signed',
                            ('IncompleteSignatureException', 'InvalidSignatureException'))

    def test_post_signed_for_another_service_is_refused(self):
        for service in ('s3', 'firehose'):
            with self.subTest(service=service):
                self.assert_refused(self.signed(service=service), 'service ' + service)

    def test_post_signed_for_another_region_is_refused(self):
        self.assert_refused(self.signed(region='eu-west-1'), 'region eu-west-1')

    def test_post_signed_with_a_wrong_secret_is_refused(self):
        def headers(body, hdrs):
            return harness.sigv4_headers('POST', '/', '', dict(hdrs), body, K, S + 'x',
                                         harness.REGION, 'kinesis')
        self.assert_refused(headers, 'wrong secret', ('InvalidSignatureException',))

    # ------------------------------------------------------------------------------ secrets
    def test_http_endpoint_access_key_is_never_shown(self):
        secret = SECRET_ACCESS_KEY_VALUE.encode()
        d = self.fh.describe_delivery_stream(DeliveryStreamName=DELIVERY)
        self.assertEqual(d['DeliveryStreamDescription']['DeliveryStreamName'], DELIVERY)
        self.assertNotIn(SECRET_ACCESS_KEY_VALUE, json.dumps(d, default=str))
        st, _, body = self.post('Firehose_20150804.DescribeDeliveryStream',
                                {'DeliveryStreamName': DELIVERY}, self.signed(service='firehose'))
        self.assertEqual(st, 200, body)
        self.assertNotIn(secret, body)
        listed = self.fh.list_delivery_streams()
        self.assertNotIn(SECRET_ACCESS_KEY_VALUE, json.dumps(listed, default=str))
        for path in ('/dashboard/api/overview', '/dashboard/api/delivery-streams/' + DELIVERY, '/metrics'):
            with self.subTest(path=path):
                st, _, body = self.get(path, self.signed_get_headers(path))
                self.assertEqual(st, 200, 'GET %s: %r' % (path, body[:200]))
                if path != '/metrics':
                    self.assertIn(DELIVERY.encode(), body, 'the delivery stream is on %s' % path)
                self.assertNotIn(secret, body, 'GET %s shows the endpoint AccessKey' % path)


# ============================================================================ keys off
class TestWithoutKeys(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(label='auth-off')
        try:
            cls.server.start()
            harness.create_stream(cls.server.client(), STREAM, 1)
        except Exception:
            cls.server.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def test_foreign_host_header_is_403(self):
        st, _, body = http_request(self.server.port, 'GET', '/dashboard/api/overview',
                                   {'Host': 'evil.example:4567'})
        self.assertEqual(st, 403, body[:300])
        self.assertNotIn(STREAM.encode(), body)

    def test_foreign_origin_is_403(self):
        st, _, body = self.server.raw('ListStreams', '{}', headers={'Origin': 'http://evil.example'})
        self.assertEqual(st, 403, body[:300])
        self.assertNotIn(STREAM.encode(), body)
        name = 'created-from-evil-origin'
        st, _, body = self.server.raw('CreateStream', json.dumps({'StreamName': name, 'ShardCount': 1}),
                                      headers={'Origin': 'http://evil.example'})
        self.assertEqual(st, 403, body[:300])
        self.assertNotIn(name, self.server.client().list_streams()['StreamNames'])
        # CORS does not open the door: a foreign page's preflight fails, a local page's passes.
        for origin, want in (('http://evil.example', 403), ('http://localhost:3000', 200)):
            st, _, body = http_request(self.server.port, 'OPTIONS', '/', {
                'Host': self.server.host_header, 'Origin': origin, 'Access-Control-Request-Method': 'POST'})
            self.assertEqual(st, want, (origin, body[:300]))

    def test_local_requests_are_served(self):
        st, _, body = http_request(self.server.port, 'GET', '/dashboard/api/overview',
                                   {'Host': self.server.host_header})
        self.assertEqual(st, 200, body[:300])
        self.assertIn(STREAM, [s['name'] for s in json.loads(body)['streams']])
        st, _, body = self.server.raw('ListStreams', '{}')
        self.assertEqual(st, 200, body[:300])
        self.assertIn(STREAM, json.loads(body)['StreamNames'])


if __name__ == '__main__':
    unittest.main()
