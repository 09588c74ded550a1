"""How `eddy serve` is configured and what it logs (issue 26, parts 3 and 4).

Run: EDDY_BIN=/path/to/eddy python3 -m unittest -v test_serve_config

  - Settings come from flags, then EDDY_<FLAG> environment variables, then --config FILE (YAML keyed
    by the flags' names), then defaults; --print-config shows each with its source, secrets as ****.
    An unknown key or a refused value is a one-line error naming it (exit 1).
  - --log-format json: one JSON object per line (time, level, component, message, fields);
    --access-log: a line per API request with its operation, status, error, latency, the caller's
    access key id and the request id the client got, never the secret or the signature.
  - --apply FILE applies a pipeline file once the server listens; /ready is 503 until it is done;
    a restart applies it again without changing anything.
"""
import json
import os
import subprocess
import tempfile
import time
import unittest
import urllib.request

import harness


def print_config(*args, env=None):
    p = subprocess.run([harness.eddy_bin(), 'serve', *args, '--print-config'], capture_output=True, text=True,
                       timeout=30, env=dict(os.environ, **(env or {})))
    return p


def settings(text):
    out = {}
    for line in text.splitlines():
        if line.startswith('#') or ': ' not in line:
            continue
        name, rest = line.split(': ', 1)
        value, _, source = rest.partition('  # ')
        out[name] = (value, source)
    return out


class PrintConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='eddy-config-')
        self.file = os.path.join(self.dir, 'eddy.yaml')

    def write(self, text):
        with open(self.file, 'w') as f:
            f.write(text)

    def test_flag_beats_environment_beats_file_beats_default(self):
        self.write('port: 5000\nhost: 0.0.0.0\nthreads: 3\nsecret-key: hunter2\naccess-key: AKFILE\n'
                   'lambda:\n  - a=python:/x.py\n  - b=exec:true\n')
        p = print_config('--config', self.file, '--threads', '5', env={'EDDY_PORT': '6000', 'EDDY_HOST': ''})
        self.assertEqual(p.returncode, 0, p.stderr)
        s = settings(p.stdout)
        self.assertEqual(s['threads'], ('5', 'flag'))
        self.assertEqual(s['port'], ('6000', 'env EDDY_PORT'))
        self.assertEqual(s['access-key'], ('AKFILE', 'config ' + self.file))
        self.assertEqual(s['secret-key'], ('****', 'config ' + self.file))
        self.assertNotIn('hunter2', p.stdout)
        self.assertEqual(s['lambda'], ('a=python:/x.py,b=exec:true', 'config ' + self.file))
        self.assertEqual(s['data-dir'], ('./eddy-data', 'default'))

    def test_environment_alone_and_secrets_from_it(self):
        p = print_config(env={'EDDY_LOG_FORMAT': 'json', 'EDDY_SECRET_KEY': 's3cr3t', 'EDDY_ACCESS_KEY': 'AK'})
        self.assertEqual(p.returncode, 0, p.stderr)
        s = settings(p.stdout)
        self.assertEqual(s['log-format'], ('json', 'env EDDY_LOG_FORMAT'))
        self.assertEqual(s['secret-key'], ('****', 'env EDDY_SECRET_KEY'))
        self.assertNotIn('s3cr3t', p.stdout)

    def test_bad_files_are_one_line_errors(self):
        for text, expected in (('prot: 1\n', "unknown setting 'prot'"),
                               ('port: abc\n', "'port'"),
                               ('threads: 500\n', 'not in range'),
                               ('- a\n- b\n', 'mapping of settings'),
                               ('port: [1, 2]\n', 'one value, not a list'),
                               ('port: : :\n', '--config')):
            self.write(text)
            p = print_config('--config', self.file)
            self.assertEqual(p.returncode, 1, (text, p.stdout))
            self.assertIn(expected, p.stderr, text)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        p = print_config('--config', os.path.join(self.dir, 'missing.yaml'))
        self.assertNotEqual(p.returncode, 0)


class LogsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='eddy-logs-')
        config = os.path.join(cls.dir, 'eddy.yaml')
        with open(config, 'w') as f:
            f.write('access-log: true\naccess-key: %s\nsecret-key: %s\n' % (harness.ACCESS_KEY, harness.SECRET_KEY))
        os.environ['EDDY_LOG_FORMAT'] = 'json'
        try:
            cls.server = harness.EddyServer(['--config', config], label='logs').start()
        finally:
            del os.environ['EDDY_LOG_FORMAT']

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def lines(self):
        with open(self.server.log_path, encoding='utf-8') as f:
            return [json.loads(l) for l in f.read().splitlines()[1:] if l.strip()]

    def test_json_lines_and_an_access_log_without_secrets(self):
        status, body, headers = self.server.json_call('DescribeStream', {'StreamName': 'no-such-stream'})
        self.assertEqual(status, 400)
        request_id = headers.get('x-amzn-requestid')
        self.assertTrue(request_id)
        status, body, _ = self.server.json_call('ListStreams', {}, secret_key='wrong-secret')
        self.assertEqual(harness.error_type(body), 'InvalidSignatureException', body)
        deadline = time.monotonic() + 10
        access = []
        while time.monotonic() < deadline:
            lines = self.lines()
            access = [l for l in lines if l.get('component') == 'access']
            if len(access) >= 2:
                break
            time.sleep(0.1)
        for l in lines:
            self.assertEqual(set(l) >= {'time', 'level', 'component', 'message'}, True, l)
        self.assertTrue(any('listening on http://127.0.0.1:' in l['message'] for l in lines))
        found = [l for l in access if l.get('request_id') == request_id]
        self.assertEqual(len(found), 1, access)
        a = found[0]
        self.assertEqual((a['operation'], a['status'], a['error'], a['access_key_id']),
                         ('DescribeStream', '400', 'ResourceNotFoundException', harness.ACCESS_KEY))
        self.assertGreaterEqual(float(a['latency_ms']), 0)
        bad = [l for l in access if l['operation'] == 'ListStreams']
        self.assertEqual(bad[0]['error'], 'InvalidSignatureException', bad)
        with open(self.server.log_path, encoding='utf-8') as f:
            text = f.read()
        self.assertNotIn(harness.SECRET_KEY, text.split('\n', 1)[1])
        self.assertNotIn('Signature=', text)


class ApplyTest(unittest.TestCase):
    def test_apply_once_ready_and_again_after_a_restart(self):
        d = tempfile.mkdtemp(prefix='eddy-apply-')
        pipeline = os.path.join(d, 'pipeline.yaml')
        with open(pipeline, 'w') as f:
            f.write('streams:\n  applied-at-start:\n    shards: 2\n')
        server = harness.EddyServer(['--apply', pipeline], label='apply').start()
        try:
            k = server.client()
            deadline = time.monotonic() + 30
            ready = None
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(server.endpoint + '/ready', timeout=5) as r:
                        ready = json.load(r)
                        if ready.get('init') == 'done':
                            break
                except urllib.error.HTTPError as e:
                    self.assertEqual(e.code, 503)  # still applying
                    self.assertEqual(json.load(e)['init'], 'running')
                time.sleep(0.1)
            self.assertEqual(ready and ready['init'], 'done', ready)
            self.assertTrue(ready['ready'])
            desc = k.describe_stream_summary(StreamName='applied-at-start')['StreamDescriptionSummary']
            self.assertEqual(desc['OpenShardCount'], 2)
            k.put_record(StreamName='applied-at-start', Data=b'kept', PartitionKey='p')
            server.restart()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with urllib.request.urlopen(server.endpoint + '/health', timeout=5) as r:
                    if json.load(r).get('init') == 'done':
                        break
                time.sleep(0.1)
            recs, _ = harness.read_shard(server.client(), 'applied-at-start', 'shardId-000000000000')
            recs += harness.read_shard(server.client(), 'applied-at-start', 'shardId-000000000001')[0]
            self.assertEqual([r['Data'] for r in recs], [b'kept'], 'the stream was not made again')
        finally:
            server.close()

    def test_a_failing_file_leaves_the_server_running(self):
        d = tempfile.mkdtemp(prefix='eddy-apply-')
        pipeline = os.path.join(d, 'bad.yaml')
        with open(pipeline, 'w') as f:
            f.write('streams:\n  - not a mapping\n')
        server = harness.EddyServer(['--apply', pipeline], label='apply-bad').start()
        try:
            deadline = time.monotonic() + 20
            state = None
            while time.monotonic() < deadline:
                with urllib.request.urlopen(server.endpoint + '/health', timeout=5) as r:
                    state = json.load(r)
                if state.get('init') == 'failed':
                    break
                time.sleep(0.1)
            self.assertEqual(state['init'], 'failed', state)
            self.assertEqual(server.client().list_streams()['StreamNames'], [])
        finally:
            server.close()


if __name__ == '__main__':
    unittest.main()
