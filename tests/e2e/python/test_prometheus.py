"""eddy under Prometheus: /metrics, the rule file and dashboard in docs/monitoring/, a real
Prometheus server scraping eddy, and the /health and /ready probes.

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_prometheus
The classes that need Debian's `prometheus` package (promtool, the server) skip without it.

  - /metrics after traffic (a stream, a KDA SQL application, a delivery stream, a failed call) passes
    `promtool check metrics` without a lint remark, and carries eddy_api_requests_total,
    eddy_api_errors_total{error="ResourceNotFoundException"}, the latency histogram, eddy_build_info,
    the process_* figures and the data directory's filesystem, with sane values.
  - docs/monitoring/alerts.yml passes `promtool check rules`, alerts_test.yml `promtool test rules`;
    the dashboard JSON has its datasource input, variables and panels.
  - A Prometheus server scraping eddy every second (job "eddy", and a job with basic_auth against a
    server with keys) loads the rules, stores eddy's series, evaluates every rule without error,
    accepts every PromQL expression of the dashboard, and fires EddyDeliveryStreamFailing when a
    delivery stream sends records to its error prefix.
  - /health and /ready answer JSON without credentials, also on a server with keys, where /metrics
    answers 401 unless the GET carries HTTP Basic (key id, secret) or a SigV4 signature.
"""
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import harness
from test_firehose import firehose_client

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
MONITORING = os.path.join(ROOT, 'docs', 'monitoring')
ALERTS = os.path.join(MONITORING, 'alerts.yml')
ALERTS_TEST = os.path.join(MONITORING, 'alerts_test.yml')
DASHBOARD = os.path.join(MONITORING, 'grafana-dashboard.json')
PROMTOOL = shutil.which('promtool')
PROMETHEUS = shutil.which('prometheus')
NO_PROMTOOL = 'promtool is not installed (Debian package prometheus)'
NO_PROMETHEUS = 'promtool and prometheus are not installed (Debian package prometheus)'

ROLE = 'arn:aws:iam::000000000000:role/any'
ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/'
FIREHOSE_ARN = 'arn:aws:firehose:us-east-1:000000000000:deliverystream/'
# A Lambda function that crashes; where it runs is the server's flag (--lambda crash=exec:exit 3).
CRASH_FUNCTION = 'arn:aws:lambda:us-east-1:000000000000:function:crash'
SERVER_ARGS = ['--lambda', 'crash=exec:exit 3']
RECORDS = 20
KEY_ID, SECRET = 'AKIDPROMTEST', 'prometheus-test-secret'

LINE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


# ------------------------------------------------------------------------------------- helpers
def get(port, path, headers=None, timeout=15):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheader('Content-Type') or '', r.read()
    finally:
        conn.close()


def parse_metrics(text):
    """{name: [(labels dict, value)]} of the Prometheus text format's samples."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = LINE_RE.match(line)
        assert m, 'not a sample line: %r' % line
        labels = dict(LABEL_RE.findall(m.group(2) or ''))
        out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
    return out


def sample(metrics, name, **labels):
    """The value of the one sample of `name` whose labels include `labels`."""
    found = [v for l, v in metrics.get(name, []) if all(l.get(k) == w for k, w in labels.items())]
    if len(found) != 1:
        raise AssertionError('%d samples of %s%s (want 1); have %s'
                             % (len(found), name, labels, metrics.get(name, [])[:20]))
    return found[0]


def until(what, fn, timeout=30, interval=0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError('timed out after %.0f s waiting for %s (last: %r)' % (timeout, what, last))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def make_traffic(server):
    """A stream `src` with RECORDS records, a stream `dst`, a KDA SQL application `copy` from src to
    dst (started), a direct-put delivery stream `fh` with 3 buffered records, and a DescribeStream
    of a missing stream (ResourceNotFoundException). Returns (kinesis, analytics, firehose)."""
    import boto3
    from botocore.exceptions import ClientError
    kinesis = server.client()
    analytics = boto3.client('kinesisanalytics', endpoint_url=server.endpoint, region_name=harness.REGION,
                             aws_access_key_id=harness.ACCESS_KEY, aws_secret_access_key=harness.SECRET_KEY)
    firehose = firehose_client(server)
    for name in ('src', 'dst'):
        harness.create_stream(kinesis, name, shards=2)
    kinesis.put_records(StreamName='src', Records=[
        {'Data': json.dumps({'n': i, 'store_id': 'store_%d' % (i % 3)}).encode(), 'PartitionKey': str(i)}
        for i in range(RECORDS)])
    analytics.create_application(
        ApplicationName='copy',
        ApplicationCode='CREATE OR REPLACE STREAM "OUT" ("n" INTEGER, "store_id" VARCHAR(8));'
                        'CREATE OR REPLACE PUMP "P" AS INSERT INTO "OUT" '
                        'SELECT STREAM "n", "store_id" FROM "SRC_001";',
        Inputs=[{'NamePrefix': 'SRC', 'KinesisStreamsInput': {'ResourceARN': ARN + 'src', 'RoleARN': ROLE},
                 'InputSchema': {'RecordFormat': {'RecordFormatType': 'JSON'},
                                 'RecordColumns': [{'Name': 'n', 'Mapping': '$.n', 'SqlType': 'INTEGER'},
                                                   {'Name': 'store_id', 'Mapping': '$.store_id',
                                                    'SqlType': 'VARCHAR(8)'}]}}],
        Outputs=[{'Name': 'OUT', 'KinesisStreamsOutput': {'ResourceARN': ARN + 'dst', 'RoleARN': ROLE},
                  'DestinationSchema': {'RecordFormatType': 'JSON'}}])
    detail = analytics.describe_application(ApplicationName='copy')['ApplicationDetail']
    analytics.start_application(ApplicationName='copy', InputConfigurations=[
        {'Id': detail['InputDescriptions'][0]['InputId'],
         'InputStartingPositionConfiguration': {'InputStartingPosition': 'TRIM_HORIZON'}}])
    firehose.create_delivery_stream(
        DeliveryStreamName='fh', DeliveryStreamType='DirectPut',
        ExtendedS3DestinationConfiguration={'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::b',
                                            'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 900}})
    firehose.put_record_batch(DeliveryStreamName='fh', Records=[{'Data': b'x\n'}] * 3)
    try:
        kinesis.describe_stream(StreamName='no-such-stream')
        raise AssertionError('DescribeStream of a missing stream succeeded')
    except ClientError as e:
        assert e.response['Error']['Code'] == 'ResourceNotFoundException', e.response
    return kinesis, analytics, firehose


def fetch_metrics(port, headers=None):
    status, ctype, body = get(port, '/metrics', headers=headers)
    assert status == 200, (status, body[:300])
    assert ctype.startswith('text/plain; version=0.0.4'), ctype
    return body


def settled_metrics(server):
    """/metrics once the application has read and written every record."""
    def ready():
        m = parse_metrics(fetch_metrics(server.port).decode())
        try:
            done = (sample(m, 'eddy_kinesisanalytics_input_records_total', application='copy') == RECORDS and
                    sample(m, 'eddy_kinesis_incoming_records_total', stream='dst') == RECORDS)
        except AssertionError:
            return None
        return m if done else None
    return until('the application to copy every record', ready)


def dashboard_exprs(dashboard):
    """Every target expression of the dashboard's panels (rows' nested panels included)."""
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get('targets', []):
                if t.get('expr'):
                    out.append((p['title'], t['expr']))
            walk(p.get('panels', []))
    walk(dashboard['panels'])
    return out


def concrete(expr):
    """A dashboard expression as Prometheus takes it: $__rate_interval -> 1m, $var / ${var} -> .*
    (the variables are used in =~ matchers, and .* is what "All" sends)."""
    expr = expr.replace('$__rate_interval', '1m').replace('${__rate_interval}', '1m')
    expr = re.sub(r'\$\{[A-Za-z_][A-Za-z0-9_]*\}', '.*', expr)
    return re.sub(r'\$[A-Za-z_][A-Za-z0-9_]*', '.*', expr)


def alert_names():
    names = []
    with open(ALERTS) as f:
        for line in f:
            m = re.match(r'^\s*- alert: (\S+)\s*$', line)
            if m:
                names.append(m.group(1))
    return names


def in_cluster_mode():
    return os.environ.get('EDDY_E2E_CLUSTER', '') in ('1', '3')


# ------------------------------------------------------------------------------------- /metrics
class MetricsTest(unittest.TestCase):
    """/metrics after traffic on a server without keys, and the probes."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(SERVER_ARGS, label='prom-metrics', native_jobs=False)
        cls.addClassCleanup(cls.server.close)
        cls.server.start()
        make_traffic(cls.server)
        cls.metrics = settled_metrics(cls.server)

    @unittest.skipUnless(PROMTOOL, NO_PROMTOOL)
    def test_promtool_check_metrics_has_no_remark(self):
        body = fetch_metrics(self.server.port)
        p = subprocess.run([PROMTOOL, 'check', 'metrics'], input=body, capture_output=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout.decode(), p.stderr.decode()), (0, '', ''),
                         'promtool check metrics complains about eddy\'s /metrics')

    def test_api_requests_errors_and_latency(self):
        m = self.metrics
        self.assertGreaterEqual(sample(m, 'eddy_api_requests_total', service='kinesis', operation='PutRecords'), 1)
        self.assertEqual(sample(m, 'eddy_api_requests_total', service='kinesis', operation='CreateStream'), 2)
        self.assertGreaterEqual(sample(m, 'eddy_api_requests_total', service='kinesisanalytics',
                                       operation='StartApplication'), 1)
        self.assertGreaterEqual(sample(m, 'eddy_api_requests_total', service='firehose',
                                       operation='PutRecordBatch'), 1)
        # The failed call is counted as a request and as an error of its AWS type.
        self.assertGreaterEqual(sample(m, 'eddy_api_requests_total', service='kinesis', operation='DescribeStream'), 1)
        self.assertEqual(sample(m, 'eddy_api_errors_total', service='kinesis', operation='DescribeStream',
                                error='ResourceNotFoundException'), 1)
        services = {l['service'] for l, _ in m['eddy_api_requests_total']}
        self.assertLessEqual(services, {'kinesis', 'kinesisanalytics', 'kinesisanalyticsv2', 'firehose'})
        # No error of any other kind: every call but the DescribeStream succeeded.
        self.assertEqual([(l, v) for l, v in m['eddy_api_errors_total']
                          if v and l['operation'] != 'DescribeStream'], [])
        # The histogram: one count per request, cumulative buckets ending in +Inf = count.
        for labels, requests in m['eddy_api_requests_total']:
            op = {'service': labels['service'], 'operation': labels['operation']}
            with self.subTest(**op):
                count = sample(m, 'eddy_api_request_duration_seconds_count', **op)
                self.assertEqual(count, requests)
                total = sample(m, 'eddy_api_request_duration_seconds_sum', **op)
                self.assertGreater(total, 0)
                self.assertLess(total, 60 * count)
                buckets = sorted(((float(l['le']), v) for l, v in m['eddy_api_request_duration_seconds_bucket']
                                  if l['service'] == op['service'] and l['operation'] == op['operation']))
                self.assertEqual(buckets[-1], (float('inf'), count))
                values = [v for _, v in buckets]
                self.assertEqual(values, sorted(values))

    def test_build_process_and_disk(self):
        m = self.metrics
        (labels, value), = m['eddy_build_info']
        self.assertEqual(value, 1)
        version = subprocess.run([self.server.binary, '--version'], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
        self.assertIn(labels['version'], version)
        self.assertRegex(labels['commit'], r'^\S+$')
        fds, max_fds = sample(m, 'process_open_fds'), sample(m, 'process_max_fds')
        self.assertGreater(fds, 3)
        self.assertLess(fds, max_fds)
        self.assertGreater(sample(m, 'process_resident_memory_bytes'), 1 << 20)
        self.assertGreater(sample(m, 'process_cpu_seconds_total'), 0)
        start = sample(m, 'process_start_time_seconds')
        self.assertLess(abs(start - time.time()), 3600)
        self.assertLessEqual(start, time.time())
        avail = sample(m, 'eddy_data_dir_filesystem_avail_bytes')
        size = sample(m, 'eddy_data_dir_filesystem_size_bytes')
        self.assertGreater(avail, 0)
        self.assertLessEqual(avail, size)
        fs = os.statvfs(self.server.data_dir)
        self.assertEqual(size, fs.f_blocks * fs.f_frsize)
        # Other processes write to the same filesystem meanwhile: close, not equal.
        self.assertLess(abs(avail - fs.f_bavail * fs.f_frsize), max(0.02 * size, 256 << 20))

    def test_stream_application_and_delivery_series(self):
        m = self.metrics
        self.assertEqual(sample(m, 'eddy_kinesis_incoming_records_total', stream='src'), RECORDS)
        self.assertIn('eddy_kinesis_get_records_iterator_age_seconds', m)
        self.assertIn('eddy_kinesis_behind_latest_seconds', m)
        self.assertEqual(sample(m, 'eddy_kinesisanalytics_running', application='copy'), 1)
        self.assertEqual(sample(m, 'eddy_kinesisanalytics_failing', application='copy'), 0)
        self.assertEqual(sample(m, 'eddy_kinesisanalytics_output_records_total', application='copy'), RECORDS)
        self.assertEqual(sample(m, 'eddy_kinesisanalytics_behind_latest_seconds', application='copy'), 0)
        self.assertGreater(sample(m, 'eddy_kinesisanalytics_last_checkpoint_timestamp_seconds', application='copy'),
                           time.time() - 600)
        self.assertEqual(sample(m, 'eddy_firehose_incoming_records_total', delivery_stream='fh'), 3)
        self.assertEqual(sample(m, 'eddy_firehose_backlog_records', delivery_stream='fh'), 3)
        self.assertEqual(sample(m, 'eddy_firehose_last_delivery_timestamp_seconds', delivery_stream='fh'), 0)

    def test_health_and_ready(self):
        for path in ('/health', '/ready'):
            with self.subTest(path=path):
                status, ctype, body = get(self.server.port, path)
                self.assertEqual(status, 200, body)
                self.assertTrue(ctype.startswith('application/json'), ctype)
                state = json.loads(body)
                self.assertIs(state['ready'], True)
                self.assertEqual(state['status'], 'ok')
                services = state['services']
                self.assertEqual(set(services), {'streams', 'applications', 'delivery_streams', 'cluster'})
                self.assertEqual(services['streams'], 'running')
                self.assertEqual(services['applications'], 'running')
                self.assertEqual(services['delivery_streams'], 'running')
                self.assertEqual(services['cluster'], 'running' if in_cluster_mode() else 'disabled')
                # Probes name no stream, application or delivery stream.
                for name in ('src', 'dst', 'copy', 'fh'):
                    self.assertNotIn('"%s"' % name, body.decode())


class ProbesWithKeysTest(unittest.TestCase):
    """A server with --access-key/--secret-key: the probes stay open, /metrics does not."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(['--access-key', KEY_ID, '--secret-key', SECRET], label='prom-keys',
                                        native_jobs=False)
        cls.addClassCleanup(cls.server.close)
        cls.server.start()

    def test_health_and_ready_need_no_credentials(self):
        for path in ('/health', '/ready'):
            with self.subTest(path=path):
                status, ctype, body = get(self.server.port, path)
                self.assertEqual(status, 200, body)
                self.assertIs(json.loads(body)['ready'], True)

    def test_metrics_needs_basic_auth_or_a_signature(self):
        status, _, body = get(self.server.port, '/metrics')
        self.assertEqual(status, 401, body)
        basic = lambda user, password: {'Authorization': 'Basic ' + base64.b64encode(
            ('%s:%s' % (user, password)).encode()).decode()}
        self.assertEqual(get(self.server.port, '/metrics', basic(KEY_ID, 'wrong'))[0], 401)
        self.assertEqual(get(self.server.port, '/metrics', basic('AKIDOTHER', SECRET))[0], 401)
        status, _, body = get(self.server.port, '/metrics', basic(KEY_ID, SECRET))
        self.assertEqual(status, 200, body[:300])
        self.assertIn(b'eddy_build_info{', body)
        # A SigV4-signed GET, as an AWS SDK would sign it.
        headers = {'Host': self.server.host_header}
        headers.update(harness.sigv4_headers('GET', '/metrics', '', headers, b'', KEY_ID, SECRET,
                                             harness.REGION, 'kinesis'))
        status, _, body = get(self.server.port, '/metrics', headers)
        self.assertEqual(status, 200, body[:300])


# ------------------------------------------------------------------------------------- files
@unittest.skipUnless(PROMTOOL, NO_PROMTOOL)
class RuleFilesTest(unittest.TestCase):
    def promtool(self, *args):
        p = subprocess.run([PROMTOOL] + list(args), capture_output=True, text=True, timeout=120, cwd=ROOT)
        self.assertEqual(p.returncode, 0, 'promtool %s\n%s%s' % (' '.join(args), p.stdout, p.stderr))
        return p.stdout

    def test_check_rules(self):
        out = self.promtool('check', 'rules', ALERTS)
        self.assertIn('SUCCESS: %d rules found' % len(alert_names()), out)

    def test_unit_tests_of_the_rules(self):
        self.promtool('test', 'rules', ALERTS_TEST)

    def test_every_alert_has_a_firing_and_a_quiet_case(self):
        with open(ALERTS_TEST) as f:
            text = f.read()
        for name in alert_names():
            with self.subTest(alert=name):
                cases = re.findall(r'alertname: %s\n        exp_alerts:( \[\])?' % re.escape(name), text)
                self.assertIn('', cases, 'no case where %s fires' % name)
                self.assertIn(' []', cases, 'no case where %s stays quiet' % name)

    def test_every_alert_has_severity_summary_and_description(self):
        with open(ALERTS) as f:
            rules = re.split(r'\n      - alert: ', f.read())[1:]
        self.assertEqual(len(rules), len(alert_names()))
        for rule in rules:
            with self.subTest(alert=rule.split('\n', 1)[0]):
                self.assertRegex(rule, r'\n          severity: (critical|warning)\n')
                self.assertIn('\n          summary: ', rule)
                self.assertIn('\n          description: ', rule)


class DashboardFileTest(unittest.TestCase):
    def test_dashboard_shape(self):
        with open(DASHBOARD) as f:
            d = json.load(f)
        self.assertGreaterEqual(d['schemaVersion'], 36)
        self.assertEqual([(i['name'], i['type'], i['pluginId']) for i in d['__inputs']],
                         [('DS_PROMETHEUS', 'datasource', 'prometheus')])
        variables = {v['name']: v for v in d['templating']['list']}
        self.assertEqual(variables['DS_PROMETHEUS']['type'], 'datasource')
        for name in ('stream', 'application', 'delivery_stream'):
            self.assertEqual(variables[name]['type'], 'query', name)
        ids = set()
        for p in d['panels']:
            self.assertNotIn(p['id'], ids)
            ids.add(p['id'])
            if p['type'] != 'row':
                self.assertEqual(p['datasource'], {'type': 'prometheus', 'uid': '${DS_PROMETHEUS}'}, p['title'])
        exprs = ' '.join(e for _, e in dashboard_exprs(d))
        for needed in ('eddy_kinesis_incoming_records_total', 'eddy_api_requests_total', 'eddy_api_errors_total',
                       'histogram_quantile(0.5, ', 'histogram_quantile(0.99, ',
                       'eddy_api_request_duration_seconds_bucket', 'eddy_kinesisanalytics_behind_latest_seconds',
                       'eddy_kinesisanalytics_watermark_lag_seconds', 'eddy_kinesisanalytics_input_records_total',
                       'eddy_kinesisanalytics_output_records_total', 'eddy_firehose_backlog_records',
                       'eddy_firehose_failed_records_total', 'eddy_data_dir_filesystem_avail_bytes',
                       'process_resident_memory_bytes', 'process_cpu_seconds_total', 'process_open_fds',
                       '$stream', '$application', '$delivery_stream'):
            self.assertIn(needed, exprs)


# ------------------------------------------------------------------------------------- Prometheus
@unittest.skipUnless(PROMTOOL and PROMETHEUS, NO_PROMETHEUS)
class PrometheusServerTest(unittest.TestCase):
    """A real Prometheus scraping eddy every second with docs/monitoring/alerts.yml loaded."""

    STARTUP_TIMEOUT_S = 30

    @classmethod
    def setUpClass(cls):
        cls.server = harness.EddyServer(SERVER_ARGS, label='prom-scraped', native_jobs=False)
        cls.addClassCleanup(cls.server.close)
        cls.server.start()
        cls.kinesis, cls.analytics, cls.firehose = make_traffic(cls.server)
        settled_metrics(cls.server)
        cls.keyed = harness.EddyServer(['--access-key', KEY_ID, '--secret-key', SECRET], label='prom-scraped-keys',
                                       native_jobs=False)
        cls.addClassCleanup(cls.keyed.close)
        cls.keyed.start()
        # A delivery stream whose transform crashes: its records go to the error prefix. Created
        # before Prometheus starts, so that its failed-records counter is first scraped at 0.
        cls.firehose.create_delivery_stream(
            DeliveryStreamName='fh-fail', DeliveryStreamType='DirectPut',
            ExtendedS3DestinationConfiguration={
                'RoleARN': ROLE, 'BucketARN': 'arn:aws:s3:::b', 'ErrorOutputPrefix': 'err/',
                'BufferingHints': {'SizeInMBs': 1, 'IntervalInSeconds': 0},
                'ProcessingConfiguration': {'Enabled': True, 'Processors': [{'Type': 'Lambda', 'Parameters': [
                    {'ParameterName': 'LambdaArn', 'ParameterValue': CRASH_FUNCTION},
                    {'ParameterName': 'NumberOfRetries', 'ParameterValue': '0'}]}]}})
        cls.root = tempfile.mkdtemp(prefix='eddy-e2e-prometheus-')
        cls.addClassCleanup(shutil.rmtree, cls.root, True)
        cls.prometheus = None
        cls.addClassCleanup(cls.stop_prometheus)
        cls.start_prometheus()

    @classmethod
    def start_prometheus(cls):
        config = os.path.join(cls.root, 'prometheus.yml')
        with open(config, 'w') as f:
            f.write('global:\n'
                    '  scrape_interval: 1s\n'
                    '  scrape_timeout: 1s\n'
                    '  evaluation_interval: 1s\n'
                    'rule_files:\n'
                    '  - %s\n'
                    'scrape_configs:\n'
                    '  - job_name: eddy\n'
                    '    static_configs:\n'
                    '      - targets: [\'127.0.0.1:%d\']\n'
                    '  - job_name: eddy-with-keys\n'
                    '    basic_auth:\n'
                    '      username: %s\n'
                    '      password: %s\n'
                    '    static_configs:\n'
                    '      - targets: [\'127.0.0.1:%d\']\n'
                    % (json.dumps(ALERTS), cls.server.port, KEY_ID, SECRET, cls.keyed.port))
        cls.log_path = os.path.join(cls.root, 'prometheus.log')
        for attempt in range(3):  # the free port may be taken between the probe and the bind
            cls.port = free_port()
            with open(cls.log_path, 'ab') as log:
                cls.prometheus = subprocess.Popen(
                    [PROMETHEUS, '--config.file=' + config,
                     '--storage.tsdb.path=' + os.path.join(cls.root, 'data'),
                     '--web.listen-address=127.0.0.1:%d' % cls.port],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            deadline = time.monotonic() + cls.STARTUP_TIMEOUT_S
            while time.monotonic() < deadline and cls.prometheus.poll() is None:
                try:
                    if get(cls.port, '/-/ready', timeout=2)[0] == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.2)
            cls.stop_prometheus()
        raise AssertionError('prometheus did not become ready\n' + cls.log_tail())

    @classmethod
    def stop_prometheus(cls):
        p, cls.prometheus = cls.prometheus, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=15)

    @classmethod
    def log_tail(cls, n=30):
        try:
            with open(cls.log_path, 'rb') as f:
                return '\n'.join(f.read().decode('utf-8', 'replace').splitlines()[-n:])
        except OSError:
            return '(no prometheus log)'

    def api(self, path, **params):
        """GET /api/v1/<path> of the Prometheus server: (HTTP status, decoded JSON)."""
        url = 'http://127.0.0.1:%d/api/v1/%s' % (self.port, path)
        if params:
            url += '?' + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=15) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b'{}')

    def query(self, promql):
        status, body = self.api('query', query=promql)
        self.assertEqual((status, body.get('status')), (200, 'success'), '%s: %s' % (promql, body))
        return body['data']['result']

    def wait_query(self, what, promql, timeout=30):
        return until(what + ' (' + promql + ')', lambda: self.query(promql), timeout=timeout)

    def setUp(self):
        self.assertIsNotNone(self.prometheus)
        self.assertIsNone(self.prometheus.poll(), 'prometheus exited\n' + self.log_tail())
        self.wait_query('Prometheus to store a scrape of eddy', 'eddy_build_info{job="eddy"}')

    def test_series_of_eddy_are_scraped(self):
        (r,) = self.query('eddy_build_info{job="eddy"}')
        self.assertEqual(r['metric']['instance'], '127.0.0.1:%d' % self.server.port)
        self.assertEqual(r['value'][1], '1')
        (r,) = self.query('up{job="eddy"} == 1')
        (r,) = self.query('eddy_kinesis_incoming_records_total{job="eddy", stream="src"}')
        self.assertEqual(float(r['value'][1]), RECORDS)
        (r,) = self.query('eddy_api_errors_total{job="eddy", error="ResourceNotFoundException"}')
        self.assertEqual(r['metric']['operation'], 'DescribeStream')
        self.assertTrue(self.query('eddy_api_request_duration_seconds_count{job="eddy", operation="PutRecords"}'))
        self.assertTrue(self.query('eddy_kinesisanalytics_running{job="eddy", application="copy"} == 1'))
        self.assertTrue(self.query('eddy_firehose_backlog_records{job="eddy", delivery_stream="fh"} == 3'))
        self.assertTrue(self.query('process_open_fds{job="eddy"} > 0'))
        self.assertTrue(self.query('eddy_data_dir_filesystem_avail_bytes{job="eddy"} > 0'))

    def test_scrape_with_basic_auth(self):
        # The README's scrape configuration for a server with keys.
        self.wait_query('the scrape with basic_auth', 'up{job="eddy-with-keys"} == 1')
        self.wait_query('eddy_build_info of the server with keys', 'eddy_build_info{job="eddy-with-keys"}')
        (r,) = self.query('up{job="eddy-with-keys"}')
        self.assertEqual(r['value'][1], '1')

    def test_every_dashboard_expression_is_accepted(self):
        with open(DASHBOARD) as f:
            d = json.load(f)
        exprs = dashboard_exprs(d)
        self.assertGreater(len(exprs), 15)
        for title, expr in exprs:
            with self.subTest(panel=title, expr=expr):
                self.assertNotIn('$', concrete(expr))
                self.query(concrete(expr))
        # The variables' label_values() find the stream, application and delivery stream.
        want = {'job': 'eddy', 'instance': '127.0.0.1:%d' % self.server.port, 'stream': 'src',
                'application': 'copy', 'delivery_stream': 'fh'}
        for v in d['templating']['list']:
            if v['type'] != 'query':
                continue
            with self.subTest(variable=v['name']):
                m = re.match(r'^label_values\((.+), (\w+)\)$', v['definition'])
                self.assertTrue(m, v['definition'])
                self.assertEqual(m.group(2), v['name'])
                values = {r['metric'].get(m.group(2)) for r in self.wait_query(
                    'values of $' + v['name'], 'count by (%s) (%s)' % (m.group(2), concrete(m.group(1))))}
                self.assertIn(want[v['name']], values)
        # Panels with data now: ingest, application and delivery figures, the process.
        for promql in ('eddy_kinesisanalytics_watermark_lag_seconds{job="eddy"}',
                       'histogram_quantile(0.99, sum by (le, operation) '
                       '(rate(eddy_api_request_duration_seconds_bucket{job="eddy"}[1m])))',
                       'rate(process_cpu_seconds_total{job="eddy"}[1m])'):
            with self.subTest(promql=promql):
                self.wait_query('a value', promql)

    def test_rules_are_loaded_and_evaluate(self):
        names = alert_names()

        def evaluated():
            status, body = self.api('rules')
            self.assertEqual((status, body.get('status')), (200, 'success'), body)
            groups = {g['name']: g for g in body['data']['groups']}
            self.assertIn('eddy', groups)
            self.assertTrue(groups['eddy']['file'].endswith('alerts.yml'), groups['eddy']['file'])
            rules = {r['name']: r for r in groups['eddy']['rules']}
            self.assertEqual(sorted(rules), sorted(names))
            self.assertTrue(all(r['type'] == 'alerting' for r in rules.values()))
            bad = {n: r.get('lastError') for n, r in rules.items() if r['health'] == 'err'}
            self.assertEqual(bad, {})
            return all(r['health'] == 'ok' for r in rules.values())
        until('every rule to be evaluated', evaluated)
        status, body = self.api('alerts')
        self.assertEqual(status, 200)
        active = {(a['labels']['alertname'], a['labels'].get('instance')) for a in body['data']['alerts']}
        for name in ('EddyDown', 'EddyApplicationFailing', 'EddyApplicationBehindSource',
                     'EddyApplicationCheckpointStale', 'EddyApiServerErrors', 'EddyDeliveryStalled'):
            self.assertNotIn(name, {n for n, _ in active}, body)

    def test_failed_deliveries_fire_an_alert(self):
        # The counter at 0 is in Prometheus first; then 4 records fail.
        self.wait_query('the failed-records counter at 0',
                        'eddy_firehose_failed_records_total{job="eddy", delivery_stream="fh-fail"} == 0')
        self.firehose.put_record_batch(DeliveryStreamName='fh-fail', Records=[{'Data': b'r'}] * 4)
        self.wait_query('4 failed records',
                        'eddy_firehose_failed_records_total{job="eddy", delivery_stream="fh-fail"} == 4')

        def firing():
            status, body = self.api('alerts')
            return [a for a in body['data']['alerts'] if a['labels']['alertname'] == 'EddyDeliveryStreamFailing'
                    and a['state'] == 'firing']
        (alert,) = until('EddyDeliveryStreamFailing to fire', firing)
        self.assertEqual(alert['labels']['delivery_stream'], 'fh-fail')
        self.assertEqual(alert['labels']['severity'], 'warning')
        self.assertEqual(alert['labels']['job'], 'eddy')
        self.assertIn('fh-fail', alert['annotations']['summary'])
        self.assertIn('error output prefix', alert['annotations']['description'])


if __name__ == '__main__':
    unittest.main()
